"""Tests of main.py: the study's numbers, the pipeline end to end, and its errors."""
import dataclasses
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

import main
from batchgrow.training import mnist
from batchgrow import safe_pickle
from batchgrow import optimizers
from batchgrow import schedules
from batchgrow import study
from batchgrow.training import training
from conftest import PNG_SIGNATURE, PROJECT_DIR, run_main, run_plots, start_main, without_seconds

# A small slice of MNIST keeps each run to a fraction of a second.
SMALL = ["--train-size", "600", "--test-size", "500", "--epochs-per-stage", "1", "--seeds", "1"]


def load_pickle(path):
    return safe_pickle.load(path)


def test_momentum_flag_sets_the_coefficient_and_keeps_plain_sgds_noise_scale():
    assert study.momentum_settings(0.9) == {"momentum_coefficient": 0.9, "momentum_learning_rate": 0.001}
    assert study.momentum_settings(0.98) == {"momentum_coefficient": 0.98, "momentum_learning_rate": 0.0002}
    assert study.momentum_settings(0) == {"momentum_coefficient": 0.0, "momentum_learning_rate": 0.01}
    for bad in (1.0, -0.01, float("nan"), float("inf")):
        with pytest.raises(ValueError, match="at least 0 and below 1"):
            study.momentum_settings(bad)
    args = main.parse_args(["--optimizers", "momentum,nesterov", "--momentum", "0.98", "--noise-scale", "exact"])
    arrays = [np.zeros((400, 28, 28), np.uint8), np.zeros(400, np.uint8)] * 2
    settings = main.settings_from_arguments(
        main.parse_args(["--optimizers", "momentum,nesterov", "--momentum", "0.98", "--noise-scale", "exact",
                         "--train-size", "300", "--test-size", "200"]), arrays)
    assert args.momentum == 0.98 and args.noise_scale == "exact"
    assert settings.momentum_coefficient == 0.98 and settings.momentum_learning_rate == 0.0002
    assert settings.noise_scale == "exact"
    for optimizer in optimizers.MOMENTUM_OPTIMIZERS:
        dlr, ibs_mom = (schedules.epoch_plans(schedule, optimizer, settings)[0] for schedule in ("dlr", "ibs_mom"))
        assert dlr.learning_rate / (1 - dlr.momentum) == pytest.approx(0.01)
        assert ibs_mom.momentum == pytest.approx(1 - 0.02 / 5)
    # Without the flag, and with --momentum 0.9, the settings are the defaults: committed runs are reused.
    defaults = main.settings_from_arguments(main.parse_args(["--train-size", "300", "--test-size", "200"]), arrays)
    again = main.settings_from_arguments(main.parse_args(["--optimizers", "momentum", "--momentum", "0.9",
                                                          "--train-size", "300", "--test-size", "200"]), arrays)
    assert defaults == again and defaults.noise_scale == "approx" and defaults.momentum_coefficient == 0.9


@pytest.mark.slow
def test_a_tiny_exact_study_records_its_form_and_momentum_and_keeps_its_folder_to_itself(tmp_path):
    tiny = ["--archs", "mlp300", "--optimizers", "momentum", "--schedules", "dlr,ibs", "--train-size", "300",
            "--test-size", "200", "--epochs-per-stage", "1", "--seeds", "2", "--jobs", "1",
            "--base-batch-size", "32", "--out", str(tmp_path)]
    made = run_main(*tiny, "--noise-scale", "exact", "--momentum", "0.98")
    assert made.returncode == 0, made.stderr
    results = load_pickle(tmp_path / "results.pickle")
    assert results["config"]["noise_scale"] == "exact" and results["config"]["momentum_coefficient"] == 0.98
    record = load_pickle(tmp_path / "runs" / "mlp300_momentum_ibs_seed0.pickle")
    assert record["settings"]["noise_scale"] == "exact"
    # N = 300, B = 32, lr 0.0002, m 0.98: g = 0.0002 / 5^s * (300 / 32 - 1) / 0.02, B = 300 / (1 + g * 0.02 / 0.0002).
    expected = [round(300 / (1 + (300 / 32 - 1) / 5 ** stage)) for stage in range(4)]
    assert results["runs"]["mlp300", "momentum", "ibs", 0]["batch_size"] == expected == [32, 112, 225, 281]
    assert results["runs"]["mlp300", "momentum", "ibs", 1]["momentum"] == [0.98] * 4
    # Runs of one form never mix with the other's.
    refused = run_main(*tiny, "--momentum", "0.98")
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "noise_scale 'exact' there, 'approx' here" in refused.stderr
    plotted = run_plots("--results", tmp_path / "results.pickle")
    assert plotted.returncode == 0, plotted.stderr
    summary = (tmp_path / "summary.md").read_text()
    assert "exact noise scale g = lr (N/B − 1) / (1 − m)" in summary
    assert summary.startswith("# Summary (base batch 32, exact noise scale, momentum 0.98)")


def test_ibs_mom_is_refused_without_momentum(tmp_path):
    without_momentum = [code for code in optimizers.ALL_OPTIMIZERS if code not in optimizers.MOMENTUM_OPTIMIZERS]
    for optimizer in without_momentum:
        with pytest.raises(ValueError, match="ibs_mom raises the momentum coefficient"):
            schedules.epoch_plans("ibs_mom", optimizer, study.Settings())
    # On the command line: one line and status 2, before any data is read or run trained.
    result = run_main("--optimizers", "momentum,adam", "--schedules", "dlr,ibs_mom", "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "ibs_mom" in result.stderr and "adam" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_optimizers_and_schedules_combine_freely():
    args = main.parse_args(["--optimizers", "nesterov,sgd,momentum,adam", "--schedules", "ibs_lr,dlr"])
    assert args.optimizers == ("nesterov", "sgd", "momentum", "adam") and args.schedules == ("ibs_lr", "dlr")
    defaults = main.parse_args([])
    assert defaults.optimizers == ("sgd", "adam") and defaults.schedules == ("dlr", "ibs", "hyb")
    assert defaults.seeds == (0, 1, 2, 3, 4) and defaults.out == "results"


def test_seeds_are_a_count_from_zero_or_a_range_held_out_from_another_study():
    assert main.parse_args(["--seeds", "20"]).seeds == tuple(range(20))
    assert main.parse_args(["--seeds", "5-19"]).seeds == tuple(range(5, 20))
    assert main.parse_args(["--seeds", "7-7"]).seeds == (7,)
    for bad in ("0", "5-3", "a-b", "-2", "x"):
        refused = run_main("--seeds", bad)
        assert refused.returncode == 2 and refused.stderr.count("\n") <= 2 and "--seeds" in refused.stderr, bad


# ---------------------------------------------------------------- training
@pytest.fixture(scope="module")
def small_data():
    return mnist.prepare_data(mnist.load_mnist(), 400, 300)


def test_branched_runs_equal_separate_runs(small_data):
    settings = study.Settings(train_size=400, test_size=300, epochs_per_stage=1)
    together = training.train_runs("mlp300", "adam", 3, schedules.SCHEDULES, settings, small_data)
    for schedule in schedules.SCHEDULES:
        alone = training.train_runs("mlp300", "adam", 3, (schedule,), settings, small_data)
        assert without_seconds(alone)[schedule] == without_seconds(together)[schedule]
    # The schedules really differ after the shared first stage.
    assert together["dlr"]["test_loss"][0] == together["ibs"]["test_loss"][0]
    assert together["dlr"]["test_loss"][-1] != together["ibs"]["test_loss"][-1]
    assert together["ibs"]["updates"] == [100, 120, 124, 125]


def test_branched_runs_equal_separate_runs_with_momentum(small_data):
    # ibs_lr and ibs_mom share no epoch with the rest: they branch from the initial weights.
    settings = study.Settings(train_size=400, test_size=300, epochs_per_stage=1)
    together = training.train_runs("mlp300", "nesterov", 2, ("dlr",) + schedules.NOISE_MATCHED_SCHEDULES, settings,
                                   small_data)
    for schedule in ("ibs", "ibs_lr", "ibs_mom"):
        alone = training.train_runs("mlp300", "nesterov", 2, (schedule,), settings, small_data)
        assert without_seconds(alone)[schedule] == without_seconds(together)[schedule]
    assert together["ibs_mom"]["momentum"] == [pytest.approx(0.98)] * 4
    assert together["ibs_lr"]["batch_size"] == [20, 100, 400, 400]
    assert together["ibs_lr"]["test_loss"][0] != together["ibs_mom"]["test_loss"][0]


def test_original_reset_changes_adam_but_not_plain_sgd(small_data):
    fixed = study.Settings(train_size=400, test_size=300, epochs_per_stage=1)
    reset = study.Settings(train_size=400, test_size=300, epochs_per_stage=1, original_optimizer_reset=True)
    for optimizer, should_differ in (("adam", True), ("sgd", False), ("momentum", True), ("nesterov", True)):
        a = training.train_runs("mlp300", optimizer, 0, ("dlr",), fixed, small_data)["dlr"]
        b = training.train_runs("mlp300", optimizer, 0, ("dlr",), reset, small_data)["dlr"]
        assert (a["test_loss"] != b["test_loss"]) == should_differ
        assert a["test_loss"][0] == b["test_loss"][0]  # The first epoch starts fresh either way.


# ---------------------------------------------------------------- the pipeline
@pytest.fixture(scope="module")
def smoke_study(tmp_path_factory):
    """The whole 18-run grid on a small subset, with two worker processes."""
    out = tmp_path_factory.mktemp("smoke")
    result = run_main(*SMALL, "--jobs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_smoke_grid_schema_and_figures(smoke_study):
    results = load_pickle(smoke_study / "results.pickle")
    assert set(results) >= {"config", "runs", "accuracy", "missing"}
    assert results["missing"] == []
    assert len(results["runs"]) == 18
    config = results["config"]
    assert config["train_size"] == 600 and config["epochs_per_stage"] == 1 and config["seeds"] == [0]
    assert config["versions"]["tensorflow"] and config["command"].startswith("python main.py")
    for (arch, optimizer, schedule, seed), metrics in results["runs"].items():
        assert set(metrics) == set(study.RUN_METRICS + study.TRAJECTORY_METRICS)
        assert set(study.RUN_METRICS) == {"test_accuracy", "test_loss", "train_loss", "learning_rate", "batch_size",
                                          "momentum", "updates", "seconds"}
        assert metrics["momentum"] == [0.0 if optimizer == "sgd" else 0.9] * 4  # Adam records its beta_1.
        assert all(len(values) == 4 for values in metrics.values())
        assert metrics["test_accuracy"][-1] > 0.25  # Well above chance (0.1), even on 600 images.
        assert np.all(np.diff(metrics["seconds"]) > 0)
        assert results["accuracy"][arch][optimizer][schedule] == metrics["test_accuracy"]
    assert results["runs"]["lenet5", "sgd", "hyb", 0]["batch_size"] == [4, 9, 20, 45]
    assert results["runs"]["lenet5", "sgd", "hyb", 0]["updates"] == [150, 217, 247, 261]

    plotted = run_plots("--results", smoke_study / "results.pickle")
    assert plotted.returncode == 0, plotted.stderr
    for arch in study.ARCHITECTURES:
        for optimizer in optimizers.OPTIMIZERS:
            figure = smoke_study / f"accuracy_epoch_{arch}_{optimizer}.png"
            assert figure.read_bytes()[:8] == PNG_SIGNATURE
    assert (smoke_study / "overview.png").stat().st_size > 10_000
    assert (smoke_study / "summary.md").exists()


@pytest.mark.slow
def test_same_seed_same_numbers_for_any_number_of_jobs(smoke_study, tmp_path):
    result = run_main(*SMALL, "--jobs", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    one_job = load_pickle(tmp_path / "results.pickle")["runs"]
    two_jobs = load_pickle(smoke_study / "results.pickle")["runs"]
    assert without_seconds(one_job) == without_seconds(two_jobs)


@pytest.mark.slow
def test_three_shards_assemble_the_unsharded_pickle(smoke_study, tmp_path):
    combined = tmp_path / "combined"
    (combined / "runs").mkdir(parents=True)
    for index in (1, 2, 3):
        shard_out = tmp_path / f"shard{index}"
        result = run_main(*SMALL, "--jobs", "1", "--shard", f"{index}/3", "--out", str(shard_out))
        assert result.returncode == 0, result.stderr
        shard = load_pickle(shard_out / "results.pickle")
        assert len(shard["runs"]) == 6 and len(shard["missing"]) == 12
        for run_file in (shard_out / "runs").iterdir():
            shutil.copy(run_file, combined / "runs")
    result = run_main(*SMALL, "--jobs", "2", "--out", str(combined))
    assert result.returncode == 0, result.stderr
    assembled, whole = load_pickle(combined / "results.pickle"), load_pickle(smoke_study / "results.pickle")
    assert without_seconds(assembled["runs"]) == without_seconds(whole["runs"])
    assert assembled["accuracy"] == whole["accuracy"] and assembled["missing"] == whole["missing"] == []
    assert {k: v for k, v in assembled["config"].items() if k != "command"} == \
        {k: v for k, v in whole["config"].items() if k != "command"}


@pytest.mark.slow
def test_an_interrupted_study_keeps_finished_runs_and_resumes(tmp_path):
    args = [sys.executable, str(PROJECT_DIR / "main.py"), "--archs", "mlp300", "--optimizers", "sgd",
            "--seeds", "4", "--train-size", "3000", "--test-size", "500", "--jobs", "1", "--out", str(tmp_path)]
    # Ctrl-C's signal, even where this test runs as a background job, which starts with SIGINT ignored.
    process = subprocess.Popen(args, cwd=PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                             preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    runs_dir = tmp_path / "runs"
    deadline = time.monotonic() + 120
    while not (runs_dir.exists() and any(runs_dir.glob("*.pickle"))) and time.monotonic() < deadline:
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "Run the same command again to resume" in stderr and "Traceback" not in stderr
    kept = {path.name: path.stat().st_mtime_ns for path in runs_dir.glob("*.pickle")}
    assert 1 <= len(kept) < 12

    resumed = subprocess.run(args, cwd=PROJECT_DIR, capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stderr
    assert {name: (runs_dir / name).stat().st_mtime_ns for name in kept} == kept  # Not trained again.
    assert len(load_pickle(tmp_path / "results.pickle")["runs"]) == 12

    # Other settings never mix with these runs.
    refused = run_main("--archs", "mlp300", "--optimizers", "sgd", "--seeds", "1", "--train-size", "2000",
                       "--test-size", "500", "--out", str(tmp_path))
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "other settings" in refused.stderr and "train_size" in refused.stderr


# ---------------------------------------------------------------- bad input
@pytest.mark.parametrize("args, message", [
    (["--archs", "resnet"], "--archs"),
    (["--seeds", "0"], "at least 1"),
    (["--train-size", "70000"], "at most 60,000"),
    (["--jobs", "two"], "not a whole number"),
    (["--shard", "4/3"], "1 <= K <= N"),
    (["--optimizers", "momentum", "--momentum", "1"], "at least 0 and below 1"),
    (["--optimizers", "momentum", "--momentum", "-0.5"], "at least 0 and below 1"),
    (["--optimizers", "nesterov", "--momentum", "ninety"], "not a number"),
    (["--momentum", "0.98"], "add one of them to --optimizers"),
    (["--noise-scale", "exactly"], "invalid choice"),
    (["--frobnicate"], "unrecognized"),
    (["--set", "no_such=1"], "no setting 'no_such'"),
    (["--set", "adam_epsilon=-1e-8"], "adam_epsilon is a finite positive number"),
    (["--set", "adam_beta_2=1"], "adam_beta_2 is at least 0 and below 1"),
    (["--set", "train_size=many"], "train_size takes a whole number"),
    (["--set", "beta_scaling=always"], "beta_scaling is one of none, samples"),
    (["--set", "adam_learning_rate"], "is not NAME=VALUE"),
    # A --set of a setting with its own flag meets that flag's checks.
    (["--optimizers", "sgd", "--set", "beta_scaling=samples"], "add one to --optimizers"),
    # The library's refusals, said by main.py in the library's words before any training.
    (["--schedules", "dlr,ibs_auto_lr", "--noise-scale", "exact"], "no exact form at B = N"),
    (["--optimizers", "adam", "--schedules", "dlr,seesaw", "--noise-scale", "exact"], "rule set per optimizer"),
])
def test_bad_flags_give_one_line_and_status_2(args, message):
    result = run_main(*args)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr


def test_bad_data_files_give_one_line_and_status_2(tmp_path):
    garbage = tmp_path / "garbage.npz"
    garbage.write_bytes(b"this is not an npz file")
    wrong_dtype = tmp_path / "float.npz"
    np.savez(wrong_dtype, x_train=np.zeros((5, 28, 28), np.float32), y_train=np.zeros(5, np.uint8),
             x_test=np.zeros((5, 28, 28), np.uint8), y_test=np.zeros(5, np.uint8))
    for path, message in ((tmp_path / "absent.npz", "no such file"), (garbage, "not a readable .npz"),
                          (wrong_dtype, "expected uint8")):
        result = run_main("--data", str(path), "--out", str(tmp_path / "out"))
        assert result.returncode == 2
        assert result.stderr.count("\n") == 1 and str(path) in result.stderr and message in result.stderr


def test_a_train_size_beyond_the_data_is_refused(tmp_path):
    small = tmp_path / "small.npz"
    np.savez(small, x_train=np.zeros((50, 28, 28), np.uint8), y_train=np.zeros(50, np.uint8),
             x_test=np.zeros((20, 28, 28), np.uint8), y_test=np.zeros(20, np.uint8))
    result = run_main("--data", str(small), "--out", str(tmp_path / "out"))
    assert result.returncode == 2 and "more than the 50 train images" in result.stderr


def test_set_gives_any_setting_and_records_it_so_that_other_settings_are_refused(tmp_path):
    tiny = ["--archs", "mlp300", "--optimizers", "adam", "--schedules", "dlr", "--seeds", "1", "--train-size", "300",
            "--test-size", "200", "--epochs-per-stage", "1", "--jobs", "1", "--out", str(tmp_path)]
    made = run_main(*tiny, "--set", "adam_learning_rate=0.003", "--set", "adam_epsilon=1e-8", "--set", "train_size=200")
    assert made.returncode == 0, made.stderr
    run = load_pickle(tmp_path / "runs" / "mlp300_adam_dlr_seed0.pickle")
    assert (run["settings"]["adam_learning_rate"], run["settings"]["adam_epsilon"]) == (0.003, 1e-8)
    # The last --set wins over the flag it stands for, and the run trains as set.
    assert run["settings"]["train_size"] == 200 and run["metrics"]["learning_rate"][0] == 0.003
    assert load_pickle(tmp_path / "results.pickle")["config"]["adam_learning_rate"] == 0.003
    refused = run_main(*tiny, "--set", "adam_epsilon=1e-8", "--set", "train_size=200")
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "adam_learning_rate 0.003 there, 0.001 here" in refused.stderr


# ---------------------------------------------------------------- results folders people share
TINY = ["--archs", "mlp300", "--optimizers", "sgd", "--schedules", "dlr,ibs", "--train-size", "300",
        "--test-size", "200", "--epochs-per-stage", "1", "--jobs", "1"]


@pytest.mark.slow
def test_the_readme_commands_leave_a_finished_study_byte_for_byte_unchanged(tmp_path):
    # A study made in one folder, then "cloned" into another and the same two commands run there.
    first, clone = tmp_path / "first", tmp_path / "clone"
    first.mkdir()
    made = run_main(*TINY, "--seeds", "2", "--out", "study", cwd=first)
    assert made.returncode == 0, made.stderr
    assert "trained 4 and reused 0 runs" in made.stdout
    plotted = run_plots("--results", "study/results.pickle", cwd=first)
    assert plotted.returncode == 0, plotted.stderr
    shutil.copytree(first, clone)
    before = {path.relative_to(clone): path.read_bytes() for path in clone.rglob("*") if path.is_file()}
    again = run_main(*TINY, "--seeds", "2", "--out", "study", cwd=clone)
    assert again.returncode == 0, again.stderr
    assert "trained 0 and reused 4 runs from study/runs (trained on " in again.stdout
    assert "To retrain from scratch, pass a fresh --out folder" in again.stdout
    replotted = run_plots("--results", "study/results.pickle", cwd=clone)
    assert replotted.returncode == 0, replotted.stderr
    after = {path.relative_to(clone): path.read_bytes() for path in clone.rglob("*") if path.is_file()}
    assert sorted(after) == sorted(before)
    assert [name for name in before if after[name] != before[name]] == []


@pytest.mark.slow
def test_provenance_is_that_of_the_machines_that_trained_the_runs(tmp_path):
    made = run_main(*TINY, "--seeds", "2", "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    runs = sorted((tmp_path / "runs").glob("*.pickle"))
    for run_file in runs:
        record = load_pickle(run_file)
        provenance = record["provenance"]
        assert set(provenance) == {"machine", "versions", "command", "date", "wall_seconds"}
        assert provenance["command"].startswith("python main.py --archs mlp300")
        assert provenance["versions"]["tensorflow"] and provenance["wall_seconds"] > 0
        assert time.strptime(provenance["date"], "%Y-%m-%dT%H:%M:%SZ")
    # Runs trained elsewhere keep their machines when assembled here: all of them, where mixed.
    for index, run_file in enumerate(runs):
        record = load_pickle(run_file)
        record["provenance"]["machine"] = f"Other CPU {index % 2}"
        with open(run_file, "wb") as stream:
            pickle.dump(record, stream)
    again = run_main(*TINY, "--seeds", "2", "--out", str(tmp_path))
    assert again.returncode == 0 and "trained 0 and reused 4" in again.stdout
    config = load_pickle(tmp_path / "results.pickle")["config"]
    assert config["machines"] == ["Other CPU 0", "Other CPU 1"]
    assert config["machine"] == "Other CPU 0; Other CPU 1"
    assert load_pickle(tmp_path / "results.pickle")["provenance"]["mlp300", "sgd", "dlr", 0]["machine"] == \
        "Other CPU 0"


class RunsCode:
    """A pickle that would run a shell command when loaded with plain pickle.load."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.mark.slow
def test_untrusted_and_damaged_run_files_are_never_run_but_named_set_aside_and_trained_again(tmp_path):
    made = run_main(*TINY, "--seeds", "1", "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    runs_dir = tmp_path / "runs"
    good = load_pickle(runs_dir / "mlp300_sgd_ibs_seed0.pickle")
    marker = tmp_path / "code_ran"
    crafted, truncated = runs_dir / "mlp300_sgd_dlr_seed0.pickle", runs_dir / "mlp300_sgd_ibs_seed0.pickle"
    crafted_bytes = pickle.dumps({"key": ("mlp300", "sgd", "dlr", 0), "settings": RunsCode(marker)})
    crafted.write_bytes(crafted_bytes)
    truncated_bytes = truncated.read_bytes()[:200]
    truncated.write_bytes(truncated_bytes)
    again = run_main(*TINY, "--seeds", "1", "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert not marker.exists()
    assert "Traceback" not in again.stderr
    warnings = again.stderr.strip().splitlines()[-2:]
    assert any(str(crafted) in line and "only plain Python and numpy data" in line for line in warnings)
    assert any(str(truncated) in line and "trained again" in line for line in warnings)
    assert "trained 2 and reused 0" in again.stdout
    # The bad files are kept aside, and their runs are back, the same as before.
    assert sorted(path.name for path in runs_dir.glob("*.rejected")) == [
        "mlp300_sgd_dlr_seed0.pickle.rejected", "mlp300_sgd_ibs_seed0.pickle.rejected"]
    assert (runs_dir / "mlp300_sgd_dlr_seed0.pickle.rejected").read_bytes() == crafted_bytes
    assert (runs_dir / "mlp300_sgd_ibs_seed0.pickle.rejected").read_bytes() == truncated_bytes
    retrained = load_pickle(truncated)
    assert without_seconds({0: retrained["metrics"]}) == without_seconds({0: good["metrics"]})


@pytest.mark.slow
def test_two_processes_on_one_folder_share_the_work(smoke_study, tmp_path):
    # Two seeds of one architecture and both optimizers: 4 groups, 12 runs, one folder.
    grid_arguments = ["--archs", "mlp300", "--seeds", "2", "--train-size", "600", "--test-size", "500",
            "--epochs-per-stage", "1", "--jobs", "1", "--out", str(tmp_path)]
    processes = [start_main(*grid_arguments) for _ in range(2)]
    outputs = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], outputs
    trained = [int(stdout.split("trained ")[1].split()[0]) for stdout, _ in outputs]
    assert sum(trained) == 12, outputs
    shared = load_pickle(tmp_path / "results.pickle")
    assert len(shared["runs"]) == 12 and shared["missing"] == []
    one_process = run_main(*grid_arguments[:-1], str(tmp_path / "alone"))
    assert one_process.returncode == 0
    alone = load_pickle(tmp_path / "alone" / "results.pickle")
    assert without_seconds(shared["runs"]) == without_seconds(alone["runs"])
    assert shared["accuracy"] == alone["accuracy"]
    # The seed-0 runs are those of the whole grid in the smoke study.
    whole = load_pickle(smoke_study / "results.pickle")["runs"]
    assert all(without_seconds({0: shared["runs"][key]}) == without_seconds({0: whole[key]})
               for key in shared["runs"] if key[3] == 0)


@pytest.mark.parametrize("make_out, message", [
    (lambda folder: folder / "a_file", "is a file, not a folder"),
    (lambda folder: folder / "a_file" / "study", "cannot write to --out"),
    (lambda folder: "/sys/kernel", "cannot write to --out"),  # Not writable, not even by root.
])
def test_a_bad_out_gives_one_line_and_status_2(tmp_path, make_out, message):
    (tmp_path / "a_file").write_text("not a folder")
    result = run_main(*TINY, "--seeds", "1", "--out", str(make_out(tmp_path)))
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and message in result.stderr and "Traceback" not in result.stderr


# ---------------------------------------------------------------- files from older versions of the code
def test_old_results_pickles_are_migrated():
    old = {"config": {"train_size": 300, "optimizers": ["sgd"]},
           "runs": {("mlp300", "sgd", "dlr", 0): {name: [0.5] * 4 for name in study.RUN_METRICS
                                                  if name != "momentum"}}}
    migrated = study.migrate_results(old)
    assert migrated["config"]["epochs_per_stage"] == study.Settings().epochs_per_stage
    assert migrated["config"]["learning_rates"] == {"sgd": study.Settings().sgd_learning_rate}
    assert migrated["runs"][("mlp300", "sgd", "dlr", 0)]["momentum"] == [0.0] * 4
    assert migrated["provenance"] == {("mlp300", "sgd", "dlr", 0): None} and migrated["missing"] == []
    assert "momentum" not in old["runs"][("mlp300", "sgd", "dlr", 0)]  # The input is left as it was.
    # What cannot be migrated is returned as it is, for the shape check to name.
    assert study.migrate_results([1, 2]) == [1, 2]


# ---------------------------------------------------------------- the learning rate flag
def test_learning_rate_sets_plain_sgds_rate_and_momentums_keeps_lr_over_one_minus_m():
    arrays = mnist.load_mnist()
    settings = main.settings_from_arguments(main.parse_args(["--learning-rate", "0.1"]), arrays)
    assert settings.sgd_learning_rate == 0.1 and settings.momentum_learning_rate == pytest.approx(0.01)
    assert settings.adam_learning_rate == study.Settings().adam_learning_rate
    both = main.settings_from_arguments(main.parse_args(["--learning-rate", "0.05", "--momentum", "0.98",
                                                         "--optimizers", "momentum"]), arrays)
    assert both.momentum_learning_rate == pytest.approx(0.05 * 0.02) and both.momentum_coefficient == 0.98
    # Without the flag the settings are the study's, so that committed folders are reused.
    assert main.settings_from_arguments(main.parse_args([]), arrays) == dataclasses.replace(
        study.Settings(), data_fingerprint=mnist.data_fingerprint(arrays))
    for bad in ("0", "-0.1", "nan", "inf", "fast"):
        result = run_main("--learning-rate", bad, "--out", "/nonexistent/never")
        assert result.returncode == 2 and result.stderr.count("\n") == 1 and "learning rate" in result.stderr


def test_a_set_with_its_own_flag_stands_for_the_flag_and_meets_what_the_flag_meets():
    args = main.parse_args(["--optimizers", "sgd", "--schedules", "dlr,ibs_auto", "--set", "measure_noise=false",
                            "--set", "adam_epsilon=1e-8", "--set", "train_size=500"])
    # An adaptive schedule turns the measurement on, whatever --set said; the flagged setting went to its flag.
    assert args.measure_noise is True and args.train_size == 500
    # Only the settings without a flag are left for the settings themselves.
    assert args.set == [("adam_epsilon", 1e-8)]
