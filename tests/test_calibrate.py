"""Tests of a study's own calibration: main.py --calibrate trains the declared controls on seeds of their own,
and plots.py judges the study's training loss by the margins they give, on data that is not MNIST too."""
import pickle

import pytest
from conftest import PROJECT_DIR, inverted_digits, run_main, run_plots

import main
from batchgrow import safe_pickle
from batchgrow import schedules
from batchgrow import study
from batchgrow.reporting import analysis
from batchgrow.reporting import trajectory

# Two optimizers, one with SGD's rule and one with the adaptive optimizers', on a tiny training set.
TINY = ["--archs", "mlp300", "--optimizers", "sgd,adam", "--schedules", "dlr,ibs", "--seeds", "2", "--train-size",
        "300", "--test-size", "200", "--epochs-per-stage", "1", "--jobs", "1"]


def test_the_committed_own_margins_are_what_the_declared_rule_gives_from_their_calibration():
    calibration = analysis.load_results(PROJECT_DIR / "results" / "calibration_adaptive" / "results.pickle")
    assert trajectory.optimizer_margins(calibration)[1] == study.OWN_MARGINS
    assert calibration["config"]["data_fingerprint"] == study.CALIBRATED_DATA_FINGERPRINT


def test_each_optimizers_calibration_runs_its_own_controls_on_seeds_of_their_own():
    selection = main.calibration_selection(main.Selection(("mlp300",), ("sgd", "momentum", "adam"), ("dlr", "ibs"),
                                                          (0, 1, 2)))
    keys = selection.run_keys()
    assert {seed for *_, seed in keys} == {10_000, 10_001, 10_002}
    by_optimizer = {}
    for _, optimizer, schedule, _ in keys:
        by_optimizer.setdefault(optimizer, set()).add(schedule)
    # Momentum has no calibration rule; SGD runs its noise-scale controls, Adam its learning-rate ones.
    assert by_optimizer == {"sgd": {"dlr", "ibs_fast", "ibs_slow"},
                            "adam": {"dlr", "dlr_s2_x2", "dlr_s2_d2", "dlr_s2_xr2", "dlr_s2_dr2"}}


@pytest.mark.parametrize("argv, message", [
    (["--optimizers", "momentum", "--calibrate"], "--calibrate has no rule for momentum"),
    (["--seeds", "9999-10000", "--calibrate"], "the study's --seeds must stay below it"),
    (["--seeds", "1", "--calibrate"], "--calibrate needs 2 seeds or more"),
])
def test_a_calibration_that_cannot_work_is_refused_in_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        main.parse_args(argv)
    assert stop.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert message in error


def test_a_calibration_of_other_settings_or_the_same_seeds_is_refused():
    config = {**study.settings_record(study.Settings(data_fingerprint="0123456789abcdef")), "seeds": [0, 1]}
    other = {**config, "train_size": 500, "seeds": [10_000, 10_001]}
    with pytest.raises(ValueError, match="other settings \\(train_size 500, not 20000\\)"):
        trajectory.study_margins(config, {"config": other, "runs": {}})
    with pytest.raises(ValueError, match="shares seeds with the study"):
        trajectory.study_margins(config, {"config": {**config, "seeds": [1, 2]}, "runs": {}})


@pytest.mark.slow
def test_a_study_on_other_data_gets_a_same_training_verdict_only_with_its_own_calibration(tmp_path):
    # MNIST with its pixels inverted: data in MNIST's layout that is not MNIST, made here.
    data = inverted_digits(tmp_path)
    out = tmp_path / "study"
    made = run_main(*TINY, "--data", str(data), "--out", str(out))
    assert made.returncode == 0, made.stderr
    drawn = run_plots("--results", str(out / "results.pickle"))
    assert drawn.returncode == 0, drawn.stderr
    assert "without verdicts" in (out / "trajectory.md").read_text()
    assert 'no "same training" verdict' in drawn.stdout and not (out / "yardsticks.md").exists()

    # The same command with --calibrate reuses the study's runs and trains the controls beside them.
    calibrated = run_main(*TINY, "--data", str(data), "--out", str(out), "--calibrate")
    assert calibrated.returncode == 0, calibrated.stderr
    assert "Its calibration: 16 runs" in calibrated.stdout
    study_results = safe_pickle.load(out / "results.pickle")
    calibration = analysis.load_results(out / study.CALIBRATION_FOLDER / "results.pickle")
    assert len(study_results["runs"]) == 8 and calibration["config"]["seeds"] == [10_000, 10_001]
    assert {schedule for _, optimizer, schedule, _ in calibration["runs"] if optimizer == "sgd"} == {
        "dlr", *schedules.NOISE_SCALE_CONTROLS}

    # The margins are the declared rules' on this data, and the verdicts follow them.
    margins = trajectory.study_margins(study_results["config"], calibration)
    assert margins.sgd == trajectory.calibration_rows(calibration)[1]
    assert margins.own == trajectory.optimizer_margins(calibration)[1]
    assert margins.sgd != study.TRAJECTORY_MARGIN or margins.own != study.OWN_MARGINS
    drawn = run_plots("--results", str(out / "results.pickle"))
    assert drawn.returncode == 0, drawn.stderr
    assert 'no "same training" verdict' not in drawn.stdout
    trajectory_text = (out / "trajectory.md").read_text()
    assert f"at the margin ±{margins.sgd:.4g}" in trajectory_text and "without verdicts" not in trajectory_text
    _, verdicts = trajectory.trajectory_rows(study_results, margins.sgd)
    assert verdicts and set(verdicts.values()) <= set(study.VERDICTS)
    if margins.own:
        yardsticks = (out / "yardsticks.md").read_text()
        assert "calibrated on this study's data by its own controls (calibration/, seeds 10000 to 10001)" in yardsticks
        assert "| 300-unit MLP | Adam | increasing batch size (ibs) | 2 |" in yardsticks

    # A calibration trained with other settings cannot judge the study: one line, nothing drawn from it.
    altered = dict(calibration, config={**calibration["config"], "adam_learning_rate": 0.01})
    with open(out / study.CALIBRATION_FOLDER / "results.pickle", "wb") as handle:
        pickle.dump(altered, handle)
    refused = run_plots("--results", str(out / "results.pickle"))
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "cannot be judged: its calibration (calibration/) was trained with other settings" in refused.stderr


def test_margins_name_a_reading_and_keep_sgds_apart():
    margins = trajectory.Margins(0.05, {("adam", "linear"): 0.2, ("adam", "square-root"): 0.01,
                                        ("rmsprop", "linear"): 0.03}, "test")
    assert margins.of("linear") == {"adam": 0.2, "rmsprop": 0.03} and margins.of("square-root") == {"adam": 0.01}
