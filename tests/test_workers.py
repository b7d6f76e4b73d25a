"""Tests of worker processes that die or raise: the study always ends, in one line and a known status.

The workers are found as they really run: as children of the main.py process
in /proc, and the group each trains by the claim it holds in /proc/locks.
They are killed with SIGKILL, as the kernel's out-of-memory killer would.
Linux only, like the claims themselves (flock).
"""
import os
import shutil
import signal
import time

import pytest

from batchgrow.training import grid
import main
from batchgrow.training import mnist
from batchgrow.training import runfiles
from batchgrow import safe_pickle
from batchgrow import study
from conftest import run_main, start_main, without_seconds

# One network, one optimizer, the three schedules on a few hundred images: about a second a group.
TINY = ["--archs", "mlp300", "--optimizers", "sgd", "--train-size", "300", "--test-size", "200",
        "--epochs-per-stage", "1"]
# Long enough for TensorFlow to start in a loaded machine's workers, short enough to end a hung test.
DEADLINE = 120

pytestmark = pytest.mark.skipif(not os.path.exists("/proc/locks"), reason="needs Linux's /proc")


def workers_of(pid):
    """The worker processes of a main.py: its spawned children, not multiprocessing's resource tracker."""
    workers = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stream:
                parent = int(stream.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/cmdline", "rb") as stream:
                command = stream.read()
        except (OSError, IndexError, ValueError):  # Ended meanwhile.
            continue
        if parent == pid and b"spawn_main" in command:
            workers.append(int(entry))
    return workers


def claim_holders(out):
    """{pid: lock file name} of the processes holding a claim in out/claims, from /proc/locks."""
    inodes = {}
    for path in (out / "claims").glob("*.lock") if (out / "claims").is_dir() else ():
        try:
            inodes[path.stat().st_ino] = path.name
        except OSError:
            continue
    holders = {}
    with open("/proc/locks") as stream:
        for line in stream:  # "1: FLOCK  ADVISORY  WRITE 11279 fe:00:2147560 0 EOF"; waiters have "->".
            fields = line.split()
            if len(fields) > 5 and fields[1] == "FLOCK" and int(fields[5].rsplit(":", 1)[1]) in inodes:
                holders[int(fields[4])] = inodes[int(fields[5].rsplit(":", 1)[1])]
    return holders


def wait_for(condition, process):
    """Polls condition() until it returns something true; fails if the process ends or time runs out first."""
    deadline = time.monotonic() + DEADLINE
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        assert process.poll() is None, process.communicate()
        time.sleep(0.02)
    process.kill()
    pytest.fail(f"timed out: {process.communicate()}")


def training_worker(process, out, lock_name=None, other_than=()):
    """The pid of a worker of process that holds a claim (lock_name's, if given) in out."""
    def find():
        workers = set(workers_of(process.pid)) - set(other_than)
        return next((pid for pid, name in claim_holders(out).items()
                     if pid in workers and lock_name in (None, name)), None)
    return wait_for(find, process)


def error_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("main.py: error:")]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    """The runs of 4 seeds trained without trouble, one worker."""
    out = tmp_path_factory.mktemp("uninterrupted")
    result = run_main(*TINY, "--seeds", "4", "--jobs", "1", "--out", str(out), timeout=DEADLINE)
    assert result.returncode == 0, result.stderr
    return safe_pickle.load(out / "results.pickle")["runs"]


@pytest.mark.slow
def test_a_killed_worker_is_named_its_group_retried_and_the_study_completes(tmp_path, uninterrupted):
    args = [*TINY, "--seeds", "4", "--jobs", "2", "--out", str(tmp_path)]
    process = start_main(*args)
    runs_dir = tmp_path / "runs"
    wait_for(lambda: any(runs_dir.glob("*.pickle")), process)
    victim = training_worker(process, tmp_path)
    kept = {path.name: path.stat().st_mtime_ns for path in runs_dir.glob("*.pickle")}
    os.kill(victim, signal.SIGKILL)
    _, stderr = process.communicate(timeout=DEADLINE)  # Ends by itself.

    assert process.returncode == 0, stderr
    warnings = [line for line in stderr.splitlines() if line.startswith("main.py: warning:")]
    assert len(warnings) == 1 and "Traceback" not in stderr, stderr
    assert "the worker training mlp300 sgd seed " in warnings[0]
    assert f"(pid {victim}) was killed by signal 9 (SIGKILL)" in warnings[0]
    assert "lack of memory" in warnings[0] and "retried in a fresh worker" in warnings[0]
    assert {name: (runs_dir / name).stat().st_mtime_ns for name in kept} == kept  # Not trained again.
    runs = safe_pickle.load(tmp_path / "results.pickle")["runs"]
    assert without_seconds(runs) == without_seconds(uninterrupted)

    rerun = run_main(*args, timeout=DEADLINE)
    assert rerun.returncode == 0 and "trained 0 and reused 12 runs" in rerun.stdout, rerun.stderr


@pytest.mark.slow
def test_a_group_whose_worker_dies_twice_ends_the_study_with_one_line_and_status_3(tmp_path):
    args = [*TINY, "--seeds", "2", "--jobs", "2", "--out", str(tmp_path)]
    process = start_main(*args)
    first = training_worker(process, tmp_path, "mlp300_sgd_seed0.lock")
    os.kill(first, signal.SIGKILL)
    second = training_worker(process, tmp_path, "mlp300_sgd_seed0.lock", other_than=[first])
    os.kill(second, signal.SIGKILL)
    _, stderr = process.communicate(timeout=DEADLINE)

    assert process.returncode == 3, stderr
    assert "Traceback" not in stderr
    errors = error_lines(stderr)
    assert len(errors) == 1 and stderr.splitlines()[-1] == errors[0], stderr
    assert f"the worker training mlp300 sgd seed 0 (pid {second}) was killed by signal 9 (SIGKILL)" in errors[0]
    assert "second worker to die on that group" in errors[0] and "lack of memory" in errors[0]
    assert "run the same command again to resume" in errors[0]
    # The other group, in flight, was finished before the study stopped.
    assert len(list((tmp_path / "runs").glob("mlp300_sgd_*_seed1.pickle"))) == 3
    assert not (tmp_path / "results.pickle").exists()

    # The killed worker's claim ended with it: its lock file is left, not its lock.
    lock = tmp_path / "claims" / "mlp300_sgd_seed0.lock"
    assert lock.exists()
    with runfiles.claim(str(lock)) as held:
        assert held is True

    resumed = run_main(*args, timeout=DEADLINE)
    assert resumed.returncode == 0, resumed.stderr
    assert "trained 3 and reused 3 runs" in resumed.stdout


def test_a_worker_whose_save_fails_gives_one_line_and_status_2(tmp_path):
    process = start_main(*TINY, "--seeds", "1", "--jobs", "1", "--out", str(tmp_path))
    wait_for(lambda: workers_of(process.pid), process)  # Started, so the folder was checked.
    shutil.rmtree(tmp_path / "runs")
    (tmp_path / "runs").write_text("no longer a folder")
    _, stderr = process.communicate(timeout=DEADLINE)

    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr
    errors = error_lines(stderr)
    assert len(errors) == 1 and stderr.splitlines()[-1] == errors[0], stderr
    assert f"cannot save {tmp_path / 'runs' / 'mlp300_sgd_'}" in errors[0] and "Not a directory" in errors[0]


# Worker tasks that raise, for train_groups; run in a spawned worker, so defined at module level.
def run_out_of_memory(group):
    raise MemoryError


def fail_with_a_bug(group):
    raise KeyError("no such layer\nand a second line of detail")


def die_at_the_second_save(group):
    """run_group, but the first worker to try it is killed as it saves its second run."""
    marker = os.path.join(grid._worker["out_dir"], "killed once")
    if os.path.exists(marker):
        return grid.run_group(group)
    open(marker, "w").close()
    save, saves = grid.save_atomically, []

    def save_or_die(payload, path):
        saves.append(path)
        if len(saves) == 2:
            os.kill(os.getpid(), signal.SIGKILL)
        save(payload, path)
    grid.save_atomically = save_or_die
    return grid.run_group(group)


@pytest.mark.slow
def test_a_retried_group_is_counted_once_in_the_progress(tmp_path):
    # The fresh worker trains the unfinished runs again from the start: what the dead one had done
    # is taken back, and the bar ends at its total, not beyond it.
    settings = study.Settings(train_size=300, test_size=200, epochs_per_stage=1, measure_noise=True)
    data = mnist.prepare_data(mnist.load_mnist(), 300, 200)
    runfiles.prepare_out_dir(str(tmp_path))
    groups = [grid.Group("mlp300", "sgd", 0, ("dlr", "ibs", "ibs_auto"))]
    calls, trained, warnings = [], [], []
    grid.train_groups(groups, settings, data, str(tmp_path), 1, "python main.py", lambda *call: calls.append(call),
                      trained, warn=warnings.append, task=die_at_the_second_save)
    assert len(warnings) == 1 and "retried in a fresh worker" in warnings[0]
    assert len(trained) == 3 and len(list((tmp_path / "runs").glob("*.pickle"))) == 3
    done, total = calls[-1][:2]
    assert done == pytest.approx(total, rel=1e-9)
    assert all(call[0] <= call[1] * (1 + 1e-9) for call in calls)


@pytest.mark.parametrize("task, status, message", [
    (run_out_of_memory, 3, "a worker ran out of memory training mlp300 sgd seed 0 (schedules dlr, ibs) "
                           "(MemoryError)"),
    (fail_with_a_bug, 1, "a worker failed training mlp300 sgd seed 0 (schedules dlr, ibs): "
                         "KeyError: 'no such layer"),
])
def test_a_worker_that_raises_stops_the_study_with_one_line(tmp_path, task, status, message):
    settings = study.Settings(train_size=300, test_size=200, epochs_per_stage=1)
    data = mnist.prepare_data(mnist.load_mnist(), 300, 200)
    runfiles.prepare_out_dir(str(tmp_path))
    groups = [grid.Group("mlp300", "sgd", 0, ("dlr", "ibs"))]
    with pytest.raises(grid.WorkerFailure) as failure:
        grid.train_groups(groups, settings, data, str(tmp_path), 1, "python main.py", None, [], task=task)
    assert failure.value.exit_status == status
    assert str(failure.value).startswith(message) and "\n" not in str(failure.value)
    assert "run the same command again" in str(failure.value)


@pytest.mark.parametrize("failure, status", [
    (grid.WorkerFailure("a worker failed training mlp300 sgd seed 0 (schedules dlr): KeyError: 'x'", 1), 1),
    (grid.WorkerFailure("the worker training mlp300 sgd seed 0 (pid 7) was killed by signal 9 (SIGKILL)", 3), 3),
    (runfiles.StudyError("cannot save runs/x.pickle (No space left on device)"), 2),
    (MemoryError(), 3),
])
def test_each_way_a_study_stops_has_its_exit_status_and_one_line(tmp_path, monkeypatch, capsys, failure, status):
    def stopped(*args, **kwargs):
        raise failure
    monkeypatch.setattr(main, "run_study", stopped)
    assert main.main([*TINY, "--seeds", "1", "--out", str(tmp_path)]) == status
    stderr = capsys.readouterr().err
    assert stderr.count("\n") == 1 and stderr.startswith("main.py: error: "), stderr
