"""The cluster recipe on a real Slurm: cluster/study.sbatch and cluster/assemble.sh.

These tests carry the marker `cluster` and run only when asked for:

    bash cluster/local-slurm.sh start && python -m pytest -q -m cluster

They use the cluster that SLURM_CONF names, or else the one that
cluster/local-slurm.sh runs. They are skipped, with the reason, where sbatch
is missing or no cluster answers; where SLURM_CONF is set, that cluster must
answer, and they fail instead.

A tiny grid, 12 runs in 4 (network, optimizer, seed) groups, is run as the
array, in 4 shards with 2 a task and one CPU a task, and as a shared folder;
each assembled pickle must equal that of the same study run here in one
process, every metric but the wall seconds and every setting but the command
and the machines. A task cancelled once it has saved a run must leave every
finished run in place, and submitting the array again must complete the study.
"""
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from batchgrow import safe_pickle

ROOT = Path(__file__).resolve().parent.parent
LOCAL_CONF = Path(os.environ.get("LOCAL_SLURM_DIR", "/tmp/local-slurm")) / "slurm.conf"
STUDY_ARGS = ["--archs", "mlp300", "--optimizers", "sgd,adam", "--seeds", "2", "--train-size", "1000",
              "--test-size", "200", "--epochs-per-stage", "1"]
SHARDS, SHARDS_PER_TASK, TASKS, RUNS = 4, 2, 2, 12
# Long enough for TensorFlow to start in every task of a loaded machine, short enough to end a hung test.
DEADLINE = 600

pytestmark = pytest.mark.cluster


class Slurm:
    """Submits cluster/study.sbatch to one cluster; remembers every job, to cancel what is left."""

    def __init__(self, environment):
        self.environment, self.jobs = environment, []

    def command(self, *args, timeout=60):
        return subprocess.run(list(args), env=self.environment, capture_output=True, text=True, timeout=timeout)

    def submit(self, folder, wait=True, **variables):
        """Submits the array in folder with the study's variables; returns (job id, sbatch's result)."""
        environment = dict(self.environment, STUDY_ARGS=" ".join(STUDY_ARGS), SHARDS=str(SHARDS),
                           SHARDS_PER_TASK=str(SHARDS_PER_TASK), PROJECT_DIR=str(ROOT), PYTHON=sys.executable,
                           **variables)
        args = ["sbatch", "--parsable", f"--array=1-{TASKS}", "--cpus-per-task=1", f"--chdir={folder}",
                f"--output={folder}/slurm-%A_%a.out", *(["--wait"] if wait else []),
                str(ROOT / "cluster" / "study.sbatch")]
        process = subprocess.Popen(args, env=environment, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        job = process.stdout.readline().strip().split(";")[0]  # Printed at once, before --wait waits.
        assert job.isdigit(), process.communicate()
        self.jobs.append(job)
        stdout, stderr = process.communicate(timeout=DEADLINE)
        return job, subprocess.CompletedProcess(args, process.returncode, stdout, stderr)

    def wait_until_ended(self, job):
        deadline = time.monotonic() + DEADLINE
        while self.command("squeue", "-h", "-j", job, "-o", "%i").stdout.strip():
            assert time.monotonic() < deadline, f"job {job} still queued or running after {DEADLINE} s"
            time.sleep(0.5)

    def state(self, task):
        """A task's state, such as RUNNING or CANCELLED; None while scontrol does not show it on its own."""
        shown = re.search(r"JobState=(\S+)", self.command("scontrol", "show", "job", "-o", task).stdout)
        return shown and shown.group(1)


@pytest.fixture(scope="module")
def slurm():
    environment = dict(os.environ)
    named = "SLURM_CONF" in environment
    if not named and LOCAL_CONF.exists():
        environment["SLURM_CONF"] = str(LOCAL_CONF)
    give_up = pytest.fail if named else pytest.skip
    if shutil.which("sbatch") is None:
        give_up("sbatch is missing: install Slurm, or run `bash cluster/local-slurm.sh start`")
    try:
        nodes = subprocess.run(["sinfo", "-h", "-o", "%T"], env=environment, capture_output=True, text=True,
                               timeout=30)
        up = nodes.returncode == 0 and {"idle", "mixed", "allocated"} & set(nodes.stdout.split())
        why = (nodes.stderr.strip() or f"nodes {nodes.stdout.split()}").splitlines()[0] if not up else ""
    except subprocess.TimeoutExpired:
        up, why = False, "sinfo had no answer in 30 s"
    if not up:
        give_up(f"no Slurm cluster with a node up ({why}): run `bash cluster/local-slurm.sh start`")
    cluster = Slurm(environment)
    yield cluster
    if cluster.jobs:  # A failed test leaves nothing running.
        cluster.command("scancel", *cluster.jobs)


@pytest.fixture(scope="module")
def local_study(tmp_path_factory):
    """The tiny study run here, in one process, without Slurm."""
    out = tmp_path_factory.mktemp("local")
    result = subprocess.run([sys.executable, str(ROOT / "main.py"), *STUDY_ARGS, "--jobs", "2", "--out", str(out)],
                            capture_output=True, text=True, timeout=DEADLINE, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    return safe_pickle.load(out / "results.pickle")


def comparable(results):
    """What must not depend on where a study ran: all but the wall seconds, the command and the machines."""
    runs = {key: {name: values for name, values in metrics.items() if name != "seconds"}
            for key, metrics in results["runs"].items()}
    config = {name: value for name, value in results["config"].items()
              if name not in ("command", "machines", "machine")}
    return {"runs": runs, "config": config, "accuracy": results["accuracy"], "missing": results["missing"]}


def assemble(slurm, folder):
    environment = dict(slurm.environment, STUDY_ARGS=" ".join(STUDY_ARGS), SHARDS=str(SHARDS), PYTHON=sys.executable)
    return subprocess.run(["bash", str(ROOT / "cluster" / "assemble.sh")], env=environment, cwd=folder,
                          capture_output=True, text=True, timeout=DEADLINE)


def log(folder, job, task):
    return (folder / f"slurm-{job}_{task}.out").read_text()


def run_files(folder):
    return {path.relative_to(folder): path.read_bytes() for path in sorted(folder.glob("shards/*/runs/*.pickle"))}


def test_the_array_runs_its_shards_and_assembles_the_local_study(slurm, local_study, tmp_path):
    job, submitted = slurm.submit(tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    # Each task ran its two shards in turn, each into its own folder.
    for task, shards in ((1, (1, 2)), (2, (3, 4))):
        assert re.findall(r"^task \d+: shard (\d)/4", log(tmp_path, job, task), re.MULTILINE) == \
            [str(shard) for shard in shards], log(tmp_path, job, task)
    slices = [set(safe_pickle.load(tmp_path / "shards" / str(shard) / "results.pickle")["runs"])
              for shard in range(1, SHARDS + 1)]
    assert [len(runs) for runs in slices] == [3] * SHARDS and len(set().union(*slices)) == RUNS
    assembled = assemble(slurm, tmp_path)
    assert assembled.returncode == 0, assembled.stderr
    assert f"trained 0 and reused {RUNS} runs" in assembled.stdout
    assert comparable(safe_pickle.load(tmp_path / "all" / "results.pickle")) == comparable(local_study)


def test_tasks_sharing_one_folder_split_the_study_and_each_ends_with_it(slurm, local_study, tmp_path):
    job, submitted = slurm.submit(tmp_path, SHARED_OUT=str(tmp_path / "shared"))
    assert submitted.returncode == 0, submitted.stderr
    trained = []
    for task in range(1, TASKS + 1):
        closing = re.search(r"^(\d+) runs in .*: trained (\d+) and reused", log(tmp_path, job, task), re.MULTILINE)
        assert closing and int(closing.group(1)) == RUNS, log(tmp_path, job, task)
        trained.append(int(closing.group(2)))
    assert sum(trained) == RUNS  # The claims gave every run to one task only.
    assert comparable(safe_pickle.load(tmp_path / "shared" / "results.pickle")) == comparable(local_study)


def test_a_cancelled_task_keeps_its_runs_and_submitting_again_completes_the_study(slurm, local_study, tmp_path):
    job, _ = slurm.submit(tmp_path, wait=False)
    deadline = time.monotonic() + DEADLINE
    # Task 1 runs shards 1 and 2; it is cancelled as soon as it has saved its first run.
    while not list((tmp_path / "shards" / "1" / "runs").glob("*.pickle")):
        assert time.monotonic() < deadline, "task 1 saved no run in time"
        assert slurm.state(f"{job}_1") in (None, "PENDING", "RUNNING"), "task 1 ended before it was cancelled"
        time.sleep(0.05)
    assert slurm.command("scancel", f"{job}_1").returncode == 0
    slurm.wait_until_ended(job)
    assert (slurm.state(f"{job}_1"), slurm.state(f"{job}_2")) == ("CANCELLED", "COMPLETED")
    # Task 1 stopped before its second shard was done; task 2 finished both of its own.
    assert not (tmp_path / "shards" / "2" / "results.pickle").exists()
    for shard in (3, 4):
        assert len(safe_pickle.load(tmp_path / "shards" / str(shard) / "results.pickle")["runs"]) == 3
    kept = run_files(tmp_path)
    assert any(name.parts[1] == "1" for name in kept) and sum(name.parts[1] in ("3", "4") for name in kept) == 6
    # Assembling now would train the missing runs here: it refuses and names the unfinished shard.
    refused = assemble(slurm, tmp_path)
    assert refused.returncode == 1 and "have not finished" in refused.stderr
    assert re.search(r"shards [\d ]*\b2 of 4", refused.stderr), refused.stderr
    assert not (tmp_path / "all").exists()

    again, submitted = slurm.submit(tmp_path)
    assert submitted.returncode == 0, submitted.stderr
    assert log(tmp_path, again, 2).count("trained 0 and reused 3 runs") == 2, log(tmp_path, again, 2)
    # Every run saved before the cancel was reused as it was, not trained again.
    finished = run_files(tmp_path)
    assert len(finished) == RUNS and all(finished[name] == data for name, data in kept.items())
    assembled = assemble(slurm, tmp_path)
    assert assembled.returncode == 0, assembled.stderr
    assert comparable(safe_pickle.load(tmp_path / "all" / "results.pickle")) == comparable(local_study)
