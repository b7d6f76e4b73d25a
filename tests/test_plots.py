"""Tests for plots.py on small synthetic results pickles shaped like main.py's output."""

import csv
import math
import pickle
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import analysis  # noqa: E402
import breakdown  # noqa: E402
import equivalence  # noqa: E402
import figures  # noqa: E402
import provenance as provenance_records  # noqa: E402
import figure_style  # noqa: E402
import optimizers  # noqa: E402
import schedules  # noqa: E402
import study  # noqa: E402
import tables  # noqa: E402
import plots  # noqa: E402
import matplotlib.collections  # noqa: E402  (after plots, which chooses the backend)
import matplotlib.text  # noqa: E402

ARCHITECTURES = study.ARCHITECTURES
OPTIMIZERS = optimizers.OPTIMIZERS
SCHEDULES = schedules.SCHEDULES
TRAIN_SIZE = 20000
# Each optimizer's base learning rate, from its record.
BASE_LEARNING_RATES = {code: optimizers.optimizer_record(code).base_learning_rate(study.Settings())
                       for code in optimizers.ALL_OPTIMIZERS}
# t_{0.975, 2} in closed form: with two degrees of freedom the t distribution
# function is 1/2 + t / (2 sqrt(2 + t^2)), which is 0.975 at this t.
T_975_TWO_DEGREES = math.sqrt(2 * 0.95 ** 2 / (1 - 0.95 ** 2))
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def make_config(archs=ARCHITECTURES, optimizers=OPTIMIZERS, schedules=SCHEDULES, seeds=(0, 1)):
    return {
        "train_size": TRAIN_SIZE, "test_size": 10000, "epochs_per_stage": 3, "num_stages": 4,
        "stage_factor": 5, "base_batch_size": 4, "learning_rates": dict(BASE_LEARNING_RATES),
        "original_optimizer_reset": False, "archs": list(archs),
        "optimizers": list(optimizers), "schedules": list(schedules), "seeds": list(seeds),
        "command": "python main.py", "versions": {"python": "3.11"}, "machine": "test machine",
    }


def make_run(optimizer, schedule, final_accuracy, epochs_per_stage=3, stages=4,
             with_momentum=False):
    """One run whose schedule lists follow SPEC.md and whose accuracy ends at final_accuracy.

    with_momentum adds the per-epoch "momentum" list that newer runs carry.
    """
    run = {metric: [] for metric in study.RUN_METRICS}
    momenta = []
    updates = seconds = 0.0
    epochs = epochs_per_stage * stages
    settings = study.Settings(train_size=TRAIN_SIZE, epochs_per_stage=epochs_per_stage, num_stages=stages)
    for epoch, plan in enumerate(schedules.epoch_plans(schedule, optimizer, settings)):
        batch, rate, momentum = plan.batch_size, plan.learning_rate, plan.momentum
        updates += math.ceil(TRAIN_SIZE / batch)
        seconds += 0.001 * math.ceil(TRAIN_SIZE / batch) + 0.5
        # Accuracy climbs towards final_accuracy and reaches it at the last epoch.
        accuracy = final_accuracy - 0.04 * 0.5 ** epoch + 0.04 * 0.5 ** (epochs - 1)
        run["test_accuracy"].append(accuracy)
        run["test_loss"].append(1.0 - accuracy)
        run["train_loss"].append(0.5 * 0.6 ** epoch)
        run["learning_rate"].append(rate)
        run["batch_size"].append(batch)
        run["updates"].append(int(updates))
        run["seconds"].append(seconds)
        momenta.append(momentum)
    if with_momentum:
        run["momentum"] = momenta
    else:
        # A run from before the momentum was recorded: the migration fills it in.
        del run["momentum"]
    return run


def make_results(final_accuracies, config, missing=(), with_momentum=False):
    """Results dict from {(arch, optimizer, schedule, seed): final accuracy}, as plots.py reads it.

    Every run gets a provenance record naming the config's machine; the dict
    goes through the load-time migration, as a pickle read from disk does.
    """
    runs = {key: make_run(key[1], key[2], accuracy, with_momentum=with_momentum)
            for key, accuracy in final_accuracies.items()}
    provenance = make_provenance(runs, lambda key: config.get("machine"))
    return study.migrate_results({"config": config, "runs": runs, "accuracy": {},
                                  "missing": list(missing), "provenance": provenance})


NEW_OPTIMIZERS = optimizers.ALL_OPTIMIZERS
# The paper's schedules; the controls and the adaptive schedule have tests of their own.
NEW_SCHEDULES = tuple(name for name in schedules.ALL_SCHEDULES
                      if name not in schedules.CONTROL_SCHEDULES + schedules.ADAPTIVE_SCHEDULES)


def make_new_config(archs=ARCHITECTURES, optimizers=NEW_OPTIMIZERS, schedules=NEW_SCHEDULES,
                    seeds=(0, 1), machines=("machine A",)):
    """A config as main.py now writes it, with the training machines and momentum settings."""
    config = make_config(archs, optimizers, schedules, seeds)
    config.update(momentum_coefficient=0.9, adam_beta_1=0.9, machines=list(machines),
                  machine="; ".join(machines),
                  versions={"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1",
                            "numpy": "2.4.6"},
                  learning_rates={name: BASE_LEARNING_RATES[name] for name in optimizers})
    return config


def new_grid_accuracies(archs=ARCHITECTURES, optimizers=NEW_OPTIMIZERS, seeds=(0, 1)):
    """Final accuracies of every run main.py makes now (ibs_mom with momentum optimizers only)."""
    finals = {}
    for arch in archs:
        for optimizer in optimizers:
            for index, schedule in enumerate(NEW_SCHEDULES):
                if not schedules.schedule_runs_with(schedule, optimizer):
                    continue
                for seed in seeds:
                    finals[(arch, optimizer, schedule, seed)] = (
                        0.97 + 0.0004 * index + 0.001 * seed - 0.0005 * index * (seed % 2))
    return finals


def make_provenance(runs, machine_of_key):
    """A provenance dict as main.py writes it, with the machine machine_of_key(key) gives."""
    provenance = {}
    for key in runs:
        machine = machine_of_key(key)
        provenance[key] = None if machine is None else {
            "machine": machine,
            "versions": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1",
                         "numpy": "2.4.6"},
            "command": "python main.py", "date": "2026-11-29T03:00:00+00:00",
            "wall_seconds": 10.0}
    return provenance


def write_pickle(path, results):
    path.write_bytes(pickle.dumps(results))
    return path


def full_grid_accuracies(seeds=(0, 1)):
    return {(arch, optimizer, schedule, seed): 0.97 + 0.002 * index + 0.001 * seed
            for arch in ARCHITECTURES for optimizer in OPTIMIZERS
            for index, schedule in enumerate(SCHEDULES) for seed in seeds}


def assert_png(path):
    assert path.is_file(), f"{path.name} was not written"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, f"{path.name} is not a real PNG"


@pytest.fixture(scope="module")
def full_grid_output(tmp_path_factory):
    """Run plots.main once on a full two-seed grid; return (out folder, stdout)."""
    folder = tmp_path_factory.mktemp("full")
    results_path = write_pickle(folder / "results.pickle",
                                make_results(full_grid_accuracies(), make_config()))
    capture = _run_main_capturing(["--results", str(results_path)])
    return folder, capture


def _run_main_capturing(argv):
    """Run plots.main in this process; return (exit status, stdout, stderr)."""
    stdout, stderr = StringIO(), StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        status = plots.main(argv)
    return status, stdout.getvalue(), stderr.getvalue()


def test_full_grid_writes_every_figure_and_summary_next_to_the_results(full_grid_output):
    folder, (status, stdout, stderr) = full_grid_output
    assert status == 0 and stderr == ""
    for arch in ARCHITECTURES:
        for optimizer in OPTIMIZERS:
            for prefix in ("accuracy_epoch", "accuracy_updates", "accuracy_seconds",
                           "train_loss"):
                assert_png(folder / f"{prefix}_{arch}_{optimizer}.png")
    for name in ("schedules.png", "noise_scale.png", "overview.png"):
        assert_png(folder / name)
    assert "overview.png" in stdout and "summary.md" in stdout
    assert "verdicts against dlr (TOST, margin ±0.1 pp, alpha 0.05): " in stdout
    assert "missing" not in stdout
    with (folder / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 18
    assert rows[0]["architecture"] == "mlp300" and rows[0]["schedule"] == "dlr"
    updates = {row["schedule"]: int(row["parameter_updates"]) for row in rows}
    assert updates == {"dlr": 60000, "ibs": 18720, "hyb": 26004}  # SPEC.md's counts


def test_summary_markdown_uses_human_names_and_says_what_the_numbers_mean(full_grid_output):
    folder, _ = full_grid_output
    text = (folder / "summary.md").read_text()
    assert "LeNet-5" in text and "500-150 MLP" in text and "increasing batch size (ibs)" in text
    assert "2 seeds" in text and "95% Student-t" in text
    assert text.count("\n| ") == 19  # header plus 18 rows


def test_summary_numbers_match_a_hand_computed_example():
    finals = {("lenet5", "sgd", "dlr", 0): 0.9800, ("lenet5", "sgd", "dlr", 1): 0.9810,
              ("lenet5", "sgd", "dlr", 2): 0.9790,
              ("lenet5", "sgd", "ibs", 0): 0.9830, ("lenet5", "sgd", "ibs", 1): 0.9825,
              ("lenet5", "sgd", "ibs", 2): 0.9835,
              ("lenet5", "sgd", "hyb", 2): 0.9770}
    results = make_results(finals, make_config(archs=["lenet5"], optimizers=["sgd"],
                                               seeds=[0, 1, 2]))
    rows = {row["schedule"]: row for row in analysis.summarize(results)}
    assert list(rows) == ["dlr", "ibs", "hyb"]

    dlr, ibs, hyb = rows["dlr"], rows["ibs"], rows["hyb"]
    assert dlr["seeds"] == 3
    assert dlr["final_test_accuracy_mean"] == pytest.approx(0.9800)
    assert dlr["final_test_accuracy_std"] == pytest.approx(0.0010)
    assert dlr["diff_vs_dlr_pp_mean"] is None
    # make_run's accuracy rises every epoch, so the best epoch is the last one.
    assert ibs["best_epoch_test_accuracy_mean"] == pytest.approx(0.9830)
    assert ibs["parameter_updates"] == 18720
    # Paired differences are 0.30, 0.15 and 0.45 pp: mean 0.30, std 0.15, and the
    # half-width of the interval is t(0.975, 2) * 0.15 / sqrt(3) = 4.3027 * 0.0866.
    half_width = T_975_TWO_DEGREES * 0.15 / math.sqrt(3)
    assert ibs["paired_seeds_with_dlr"] == 3
    assert ibs["diff_vs_dlr_pp_mean"] == pytest.approx(0.30)
    assert ibs["diff_vs_dlr_pp_ci95_low"] == pytest.approx(0.30 - half_width)
    assert ibs["diff_vs_dlr_pp_ci95_high"] == pytest.approx(0.30 + half_width)
    # One seed: no standard deviation and no interval, but still the paired difference.
    assert hyb["seeds"] == 1 and hyb["final_test_accuracy_std"] is None
    assert hyb["diff_vs_dlr_pp_mean"] == pytest.approx(-0.20)
    assert hyb["diff_vs_dlr_pp_ci95_low"] is None
    # The 90% interval, t(0.95, 2) = 2.91999, is [0.047, 0.553]: it reaches past
    # the 0.1 margin but not wholly, so equivalence is undecided.
    half_width_90 = 2.919986 * 0.15 / math.sqrt(3)
    assert ibs["diff_vs_dlr_pp_ci90_low"] == pytest.approx(0.30 - half_width_90, abs=1e-6)
    assert ibs["diff_vs_dlr_pp_ci90_high"] == pytest.approx(0.30 + half_width_90, abs=1e-6)
    assert ibs["equivalence_margin_pp"] == study.EQUIVALENCE_MARGIN_PP == 0.1
    assert ibs["verdict"] == "undecided"
    assert ibs["tost_p_value"] == pytest.approx(
        stats.ttest_1samp([0.30, 0.15, 0.45], 0.1, alternative="less").pvalue)
    # dlr is the reference and one pair has no spread: neither has a verdict.
    for row in (dlr, hyb):
        assert row["verdict"] is None and row["tost_p_value"] is None
        assert row["diff_vs_dlr_pp_ci90_low"] is None and row["equivalence_margin_pp"] is None


def test_summary_files_format_the_hand_computed_example(tmp_path):
    finals = {("mlp300", "adam", "dlr", 0): 0.9800, ("mlp300", "adam", "dlr", 1): 0.9810,
              ("mlp300", "adam", "dlr", 2): 0.9790,
              ("mlp300", "adam", "ibs", 0): 0.9830, ("mlp300", "adam", "ibs", 1): 0.9825,
              ("mlp300", "adam", "ibs", 2): 0.9835}
    config = make_config(archs=["mlp300"], optimizers=["adam"], schedules=["dlr", "ibs"],
                         seeds=[0, 1, 2])
    results = make_results(finals, config)
    rows = analysis.summarize(results)
    markdown = tables.write_summary_markdown(rows, tmp_path / "summary.md", results["config"],
                                             results["provenance"]).read_text()
    assert "| 300-unit MLP | Adam | decaying learning rate (dlr) | 3 | 98.00 ± 0.10 |" in markdown
    assert "+0.30 [-0.07, +0.67] | undecided (n = 3, 90% [+0.05, +0.55]) |" in markdown
    assert "| (reference) | (reference) |" in markdown
    assert ("equivalence margin of ±0.1 percentage points of final test accuracy" in markdown
            and "TOST" in markdown)
    assert "lies inside (-0.1, +0.1)" in markdown
    assert "wholly outside [-0.1, +0.1]" in markdown
    with tables.write_summary_csv(rows, tmp_path / "summary.csv").open() as handle:
        dlr_row, ibs_row = csv.DictReader(handle)
    assert float(dlr_row["final_test_accuracy_mean"]) == pytest.approx(0.98)
    assert dlr_row["diff_vs_dlr_pp_mean"] == ""
    assert float(ibs_row["diff_vs_dlr_pp_mean"]) == pytest.approx(0.30)
    assert float(ibs_row["diff_vs_dlr_pp_ci95_low"]) == pytest.approx(0.30 - 0.3726, abs=1e-3)
    assert float(ibs_row["diff_vs_dlr_pp_ci90_low"]) == pytest.approx(0.047, abs=1e-3)
    assert ibs_row["verdict"] == "undecided" and float(ibs_row["equivalence_margin_pp"]) == 0.1
    assert 0.05 < float(ibs_row["tost_p_value"]) < 1
    assert dlr_row["verdict"] == "" and dlr_row["tost_p_value"] == ""


def test_summary_markdown_flags_the_original_optimizer_reset(tmp_path):
    config = make_config(archs=["lenet5"], optimizers=["adam"], schedules=["dlr"], seeds=[0])
    config["original_optimizer_reset"] = True
    results = make_results({("lenet5", "adam", "dlr", 0): 0.98}, config)
    rows = analysis.summarize(results)
    markdown = tables.write_summary_markdown(rows, tmp_path / "summary.md", results["config"],
                                             results["provenance"]).read_text()
    assert markdown.startswith("# Summary (original optimizer reset)")
    # One seed: the accuracy has no "±" and the dlr row is the reference.
    assert "| 98.00 | 98.00 | 60,000 |" in markdown and "(reference)" in markdown


def t_quantile_975(degrees_of_freedom):
    """Two-sided 95% Student t quantile, t_{0.975, df}, through the project's t_quantile."""
    return equivalence.t_quantile(0.95, degrees_of_freedom)


def test_t_quantiles_come_from_the_student_t_distribution_for_any_degrees_of_freedom():
    # Closed forms: one degree of freedom is the Cauchy distribution.
    assert t_quantile_975(1) == pytest.approx(math.tan(math.pi * 0.475), rel=1e-9)
    assert t_quantile_975(2) == pytest.approx(T_975_TWO_DEGREES, rel=1e-9)
    for degrees in (1, 2, 3, 4, 10, 29, 30, 31, 49, 100, 1000):
        assert t_quantile_975(degrees) == pytest.approx(stats.t.ppf(0.975, degrees),
                                                              rel=1e-12), degrees
        assert equivalence.t_quantile(0.90, degrees) == pytest.approx(stats.t.ppf(0.95, degrees),
                                                                rel=1e-12), degrees
    # 49 degrees of freedom (50 seeds) is well above the normal quantile 1.96.
    assert t_quantile_975(49) == pytest.approx(2.009575, abs=1e-6)
    with pytest.raises(ValueError):
        t_quantile_975(0)


def test_confidence_intervals_default_to_95_percent_and_take_other_levels():
    values = [0.30, 0.15, 0.45]
    half_width_95 = T_975_TWO_DEGREES * 0.15 / math.sqrt(3)
    assert equivalence.mean_with_confidence_interval(values) == pytest.approx(
        (0.30, 0.30 - half_width_95, 0.30 + half_width_95))
    half_width_90 = stats.t.ppf(0.95, 2) * 0.15 / math.sqrt(3)
    assert equivalence.mean_with_confidence_interval(values, confidence=0.90) == pytest.approx(
        (0.30, 0.30 - half_width_90, 0.30 + half_width_90))
    assert equivalence.mean_with_confidence_interval([0.2]) == (0.2, None, None)


def test_equivalence_test_matches_a_hand_computed_example_and_scipy():
    # Differences 0.02, -0.03, 0.05 and 0.00 pp: mean 0.01, deviations 0.01,
    # -0.04, 0.04, -0.01, so the std is sqrt(0.0034 / 3) = 0.033665 and the
    # standard error 0.016833. t(0.95, 3) = 2.353363 gives the 90% interval
    # 0.01 ± 0.039614 = [-0.0296, +0.0496], inside (-0.1, +0.1).
    differences = [0.02, -0.03, 0.05, 0.00]
    outcome = equivalence.equivalence_test(differences)
    standard_error = math.sqrt(0.0034 / 3) / 2
    assert outcome["mean"] == pytest.approx(0.01)
    assert outcome["low"] == pytest.approx(0.01 - 2.353363 * standard_error, abs=1e-6)
    assert outcome["high"] == pytest.approx(0.01 + 2.353363 * standard_error, abs=1e-6)
    assert outcome["verdict"] == "equivalent"
    # The upper test, t = (0.01 - 0.1) / 0.016833 = -5.35, is the weaker one.
    p_above_lower = stats.ttest_1samp(differences, -0.1, alternative="greater").pvalue
    p_below_upper = stats.ttest_1samp(differences, 0.1, alternative="less").pvalue
    assert p_below_upper > p_above_lower
    assert outcome["p_value"] == pytest.approx(p_below_upper, rel=1e-9)
    assert outcome["p_value"] == pytest.approx(stats.t.cdf(-0.09 / standard_error, 3), rel=1e-9)
    assert outcome["p_value"] < study.EQUIVALENCE_ALPHA


@pytest.mark.parametrize("differences, verdict", [
    # 90% interval [0.06, 0.19]: past the margin, but not wholly.
    ([0.05, 0.15, 0.10, 0.20], "undecided"),
    # 90% interval [0.46, 0.64]: wholly above +0.1.
    ([0.50, 0.60, 0.55, 0.45], "not equivalent"),
    ([-0.50, -0.60, -0.55, -0.45], "not equivalent"),
    # Two seeds with a wide spread: the interval is too wide to decide.
    ([0.0, 0.08], "undecided"),
])
def test_equivalence_verdicts_follow_the_90_percent_interval(differences, verdict):
    outcome = equivalence.equivalence_test(differences)
    assert outcome["verdict"] == verdict
    p_value = max(stats.ttest_1samp(differences, -0.1, alternative="greater").pvalue,
                  stats.ttest_1samp(differences, 0.1, alternative="less").pvalue)
    assert outcome["p_value"] == pytest.approx(p_value, rel=1e-9)
    # The verdict "equivalent" and a p-value below alpha are the same statement.
    assert outcome["p_value"] >= study.EQUIVALENCE_ALPHA


def test_equivalence_test_without_spread_or_with_one_pair():
    assert equivalence.equivalence_test([0.3]) == dict(mean=0.3, low=None, high=None, p_value=None,
                                                 verdict=None)
    # Identical differences make a zero-width interval, decided by where it lies.
    inside = equivalence.equivalence_test([0.02, 0.02, 0.02])
    assert inside["verdict"] == "equivalent" and inside["p_value"] == 0.0
    outside = equivalence.equivalence_test([0.3, 0.3])
    assert outside["verdict"] == "not equivalent" and outside["p_value"] == 1.0


def test_verdict_counts_tally_a_study_and_name_what_is_not_shown_equivalent():
    finals = {}
    for seed in range(4):
        finals[("mlp300", "sgd", "dlr", seed)] = 0.9700 + 0.001 * seed
        # Paired differences 0.02, -0.03, 0.05, 0.00 pp: equivalent.
        finals[("mlp300", "sgd", "ibs", seed)] = (0.9700 + 0.001 * seed
                                                  + (0.0002, -0.0003, 0.0005, 0.0)[seed])
        # Paired differences 0.50, 0.60, 0.55, 0.45 pp: not equivalent.
        finals[("mlp300", "sgd", "hyb", seed)] = (0.9700 + 0.001 * seed
                                                  + (0.0050, 0.0060, 0.0055, 0.0045)[seed])
        # Paired differences 0.05, 0.15, 0.10, 0.20 pp: undecided.
        finals[("lenet5", "sgd", "dlr", seed)] = 0.9800
        finals[("lenet5", "sgd", "ibs", seed)] = 0.9800 + (0.0005, 0.0015, 0.0010, 0.0020)[seed]
    # One pair only: no verdict.
    finals[("lenet5", "sgd", "hyb", 0)] = 0.9800
    # No dlr to pair with: no comparison at all.
    finals[("mlp300", "adam", "ibs", 0)] = 0.9800
    results = make_results(finals, make_config(archs=["mlp300", "lenet5"], seeds=range(4)))
    rows = analysis.summarize(results)
    counts, not_shown_equivalent = analysis.verdict_counts(rows)
    assert counts == {"equivalent": 1, "undecided": 1, "not equivalent": 1, "no verdict": 1}
    assert not_shown_equivalent == [("mlp300", "sgd", "hyb", "not equivalent"),
                                    ("lenet5", "sgd", "ibs", "undecided")]
    verdict_cells = {(row["architecture"], row["optimizer"], row["schedule"]):
                     tables._markdown_verdict(row) for row in rows}
    assert verdict_cells[("lenet5", "sgd", "hyb")] == "- (needs 2 paired seeds)"
    assert verdict_cells[("mlp300", "adam", "ibs")] == "- (no dlr run to pair with)"
    assert verdict_cells[("mlp300", "sgd", "hyb")].startswith("not equivalent (n = 4, 90% [+0.")
    line = tables.describe_verdict_counts(counts, not_shown_equivalent)
    assert line == ("verdicts against dlr (TOST, margin ±0.1 pp, alpha 0.05): 1 equivalent, "
                    "1 undecided, 1 not equivalent, 1 without a verdict (fewer than 2 paired "
                    "seeds); not shown equivalent: mlp300 sgd hyb (not equivalent), "
                    "lenet5 sgd ibs (undecided)")


def test_noise_scale_is_equal_for_dlr_and_ibs_and_close_for_hyb():
    results = make_results(full_grid_accuracies(seeds=(0,)), make_config(seeds=[0]))
    scales = analysis.noise_scales(results)
    dlr, ibs, hyb = (scales[("sgd", schedule)] for schedule in SCHEDULES)
    assert dlr[0] == pytest.approx(0.01 * TRAIN_SIZE / 4)
    assert ibs == pytest.approx(dlr)
    assert hyb == pytest.approx(dlr, rel=0.01)


def test_partial_results_draw_what_is_there_and_report_missing_runs(tmp_path):
    finals = {("lenet5", "adam", schedule, seed): 0.98
              for schedule in ("dlr", "ibs") for seed in (0, 1)}
    finals[("mlp300", "sgd", "dlr", 0)] = 0.96
    listed_missing = [("lenet5", "adam", "hyb", 0)]
    results = make_results(finals, make_config(archs=["mlp300", "lenet5"], seeds=[0, 1]),
                           missing=listed_missing)
    results_path = write_pickle(tmp_path / "partial.pickle", results)
    out_dir = tmp_path / "figures"

    status, stdout, stderr = _run_main_capturing(["--results", str(results_path),
                                                  "--out", str(out_dir)])

    assert status == 0 and stderr == ""
    for name in ("accuracy_epoch_lenet5_adam.png", "accuracy_updates_mlp300_sgd.png",
                 "train_loss_lenet5_adam.png", "overview.png", "noise_scale.png",
                 "schedules.png"):
        assert_png(out_dir / name)
    assert not (out_dir / "accuracy_epoch_lenet5_sgd.png").exists()
    assert not (out_dir / "accuracy_epoch_mlp300_adam.png").exists()
    assert "skipped lenet5 sgd" in stdout
    # Runs asked for by the config (2 archs x 2 optimizers x 3 schedules x 2 seeds)
    # less the 5 finished ones.
    missing_line = next(line for line in stdout.splitlines() if line.startswith("missing"))
    assert missing_line.startswith("missing 19 runs")
    assert "(lenet5, adam, hyb, 0)" in missing_line and "(mlp300, sgd, dlr, 1)" in missing_line
    assert "(lenet5, adam, dlr, 0)" not in missing_line
    with (out_dir / "summary.csv").open() as handle:
        cells = [(row["architecture"], row["optimizer"], row["schedule"])
                 for row in csv.DictReader(handle)]
    assert cells == [("mlp300", "sgd", "dlr"), ("lenet5", "adam", "dlr"),
                     ("lenet5", "adam", "ibs")]


def test_missing_runs_include_the_listed_ones_outside_the_selection():
    results = make_results({("lenet5", "sgd", "dlr", 0): 0.98},
                           make_config(archs=["lenet5"], optimizers=["sgd"],
                                       schedules=["dlr"], seeds=[0]),
                           missing=[["mlp300", "adam", "ibs", 3]])
    assert analysis.missing_runs(results) == [("mlp300", "adam", "ibs", 3)]


def test_missing_results_file_exits_2_with_one_line_and_no_traceback(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "plots.py"), "--results",
         str(tmp_path / "nowhere.pickle")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1
    assert "nowhere.pickle" in completed.stderr and "python main.py" in completed.stderr
    assert "Traceback" not in completed.stderr and completed.stdout == ""


@pytest.mark.parametrize("content, reason", [
    (b"this is not a pickle\n", "cannot read"),
    (b"", "cannot read"),
    (pickle.dumps([1, 2, 3]), "not a dict"),
    (pickle.dumps({"config": {"train_size": 20000}}), "no 'runs'"),
    (pickle.dumps({"runs": {}}), "no 'config'"),
    (pickle.dumps({"config": {"train_size": 20000}, "runs": {("lenet5", "sgd"): {}}}),
     "not an (arch, optimizer, schedule, seed) tuple"),
    (pickle.dumps({"config": {"train_size": 20000},
                   "runs": {("lenet5", "sgd", "dlr", 0): {"test_accuracy": [0.9]}}}),
     "has no 'test_loss'"),
    (pickle.dumps({"config": {"train_size": 20000}, "runs": {}}), "no finished runs"),
    # A pickle naming a class outside plain Python and numpy is refused, not imported.
    (pickle.dumps(Path("results.pickle")), "only plain Python and numpy"),
])
def test_unusable_results_exit_2_with_one_line(tmp_path, content, reason):
    results_path = tmp_path / "results.pickle"
    results_path.write_bytes(content)
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert reason in stderr and str(results_path) in stderr


class _CreatesFileWhenLoaded:
    """Pickles as a call of open(path, "w"), which a plain pickle.load would make."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    # A plain unpickler runs the call, which shows the payload is live.
    control_marker = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(_CreatesFileWhenLoaded(control_marker))).close()
    assert control_marker.exists()

    marker = tmp_path / "marker"
    results_path = tmp_path / "results.pickle"
    results_path.write_bytes(pickle.dumps(
        {"config": {"train_size": 20000}, "runs": {}, "payload": _CreatesFileWhenLoaded(marker)}))
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert "refused" in stderr and "something other than plain data" in stderr
    assert "none of its code was run" in stderr and str(results_path) in stderr
    assert not marker.exists()


def hand_computed_comparison_pickles(folder):
    """Write results and baseline pickles for lenet5 sgd, seeds 0 to 2; return their paths.

    dlr differs by 0.30, 0.15 and 0.45 pp per seed; ibs is equal in both pickles.
    """
    results_finals = {("lenet5", "sgd", "dlr", 0): 0.9800, ("lenet5", "sgd", "dlr", 1): 0.9810,
                      ("lenet5", "sgd", "dlr", 2): 0.9790}
    baseline_finals = {("lenet5", "sgd", "dlr", 0): 0.9770, ("lenet5", "sgd", "dlr", 1): 0.9795,
                       ("lenet5", "sgd", "dlr", 2): 0.9745}
    for seed in (0, 1, 2):
        results_finals[("lenet5", "sgd", "ibs", seed)] = 0.9820 + 0.001 * seed
        baseline_finals[("lenet5", "sgd", "ibs", seed)] = 0.9820 + 0.001 * seed
    selection = dict(archs=["lenet5"], optimizers=["sgd"], schedules=["dlr", "ibs"],
                     seeds=[0, 1, 2])
    results_config = make_config(**selection)
    results_config.update(command="python main.py --original-optimizer-reset",
                          original_optimizer_reset=True, stage_factor=4,
                          machine="another machine")
    results_path = write_pickle(folder / "results.pickle",
                                make_results(results_finals, results_config))
    baseline_path = write_pickle(folder / "baseline.pickle",
                                 make_results(baseline_finals, make_config(**selection)))
    return results_path, baseline_path


def plotted_comparison(tmp_path):
    """plots.py --baseline on the hand-computed pickles, which must succeed quietly.

    Returns (results path, baseline path, out folder, stdout).
    """
    results_path, baseline_path = hand_computed_comparison_pickles(tmp_path)
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                  str(baseline_path), "--out", str(out_dir)])
    assert status == 0 and stderr == ""
    return results_path, baseline_path, out_dir, stdout


def test_comparison_numbers_match_a_hand_computed_example(tmp_path):
    results_path, baseline_path = hand_computed_comparison_pickles(tmp_path)
    rows = analysis.compare_results(analysis.load_results(results_path),
                                 analysis.load_results(baseline_path))
    assert [row["schedule"] for row in rows] == ["dlr", "ibs"]
    dlr, ibs = rows
    # Paired differences are 0.30, 0.15 and 0.45 pp: mean 0.30, std 0.15, and the
    # half-width of the interval is t(0.975, 2) * 0.15 / sqrt(3).
    half_width = T_975_TWO_DEGREES * 0.15 / math.sqrt(3)
    assert dlr["paired_seeds"] == 3
    assert dlr["diff_pp_mean"] == pytest.approx(0.30)
    assert dlr["diff_pp_ci95_low"] == pytest.approx(0.30 - half_width)
    assert dlr["diff_pp_ci95_high"] == pytest.approx(0.30 + half_width)
    assert dlr["results_final_test_accuracy_percent_mean"] == pytest.approx(98.00)
    assert dlr["results_final_test_accuracy_percent_std"] == pytest.approx(0.10)
    assert dlr["baseline_final_test_accuracy_percent_mean"] == pytest.approx(97.70)
    assert dlr["baseline_final_test_accuracy_percent_std"] == pytest.approx(0.25)
    # Equal runs on both sides give a difference of zero with a zero-width interval.
    assert ibs["diff_pp_mean"] == pytest.approx(0.0, abs=1e-9)
    assert ibs["diff_pp_ci95_high"] - ibs["diff_pp_ci95_low"] == pytest.approx(0.0, abs=1e-9)


def test_comparison_pairs_only_the_seeds_both_pickles_have():
    # Seed 0 is only in the results and seed 3 only in the baseline; both are far
    # off, so using either would show in the numbers.
    results = make_results({("mlp300", "adam", "dlr", 0): 0.50,
                            ("mlp300", "adam", "dlr", 1): 0.990,
                            ("mlp300", "adam", "dlr", 2): 0.950,
                            ("mlp300", "adam", "ibs", 1): 0.970,
                            ("lenet5", "adam", "dlr", 0): 0.99},
                           make_config(archs=["mlp300", "lenet5"], optimizers=["adam"],
                                       seeds=[0, 1, 2]))
    baseline = make_results({("mlp300", "adam", "dlr", 1): 0.985,
                             ("mlp300", "adam", "dlr", 2): 0.945,
                             ("mlp300", "adam", "dlr", 3): 0.10,
                             ("mlp300", "adam", "ibs", 1): 0.975,
                             ("mlp300", "adam", "hyb", 1): 0.98},
                            make_config(archs=["mlp300"], optimizers=["adam"], seeds=[1, 2, 3]))
    rows = analysis.compare_results(results, baseline)
    # Only the cells both pickles have: lenet5 and hyb are on one side only.
    assert [(row["architecture"], row["schedule"]) for row in rows] == [
        ("mlp300", "dlr"), ("mlp300", "ibs")]
    dlr, ibs = rows
    assert dlr["paired_seeds"] == 2
    assert dlr["results_only_seeds"] == [0] and dlr["baseline_only_seeds"] == [3]
    # Seeds 1 and 2 both differ by +0.5 pp.
    assert dlr["diff_pp_mean"] == pytest.approx(0.5)
    assert dlr["diff_pp_ci95_low"] == pytest.approx(0.5)
    assert dlr["diff_pp_ci95_high"] == pytest.approx(0.5)
    assert dlr["results_final_test_accuracy_percent_mean"] == pytest.approx(97.0)
    assert dlr["baseline_final_test_accuracy_percent_mean"] == pytest.approx(96.5)
    # One pair: a difference, but no standard deviation and no interval.
    assert ibs["paired_seeds"] == 1 and ibs["diff_pp_mean"] == pytest.approx(-0.5)
    assert ibs["diff_pp_ci95_low"] is None
    assert ibs["results_final_test_accuracy_percent_std"] is None


def test_config_differences_show_values_of_chosen_keys_and_name_the_others():
    config = make_config()
    baseline_config = make_config(seeds=(0, 1, 2, 3))
    config.update(original_optimizer_reset=True, train_size=10000, stage_factor=4,
                  command="python main.py --train-size 10000", data_fingerprint="a")
    baseline_config.update(data_fingerprint="b", epochs=12)
    shown_values, other_keys = analysis.config_differences(config, baseline_config)
    assert shown_values == [("original_optimizer_reset", True, False),
                            ("train_size", 10000, TRAIN_SIZE), ("data_fingerprint", "a", "b")]
    # epochs is in the baseline only; seeds and command are not listed.
    assert other_keys == ["epochs", "stage_factor"]
    assert analysis.config_differences(config, config) == ([], [])


def test_baseline_flag_writes_comparison_files_that_say_what_is_compared(tmp_path):
    results_path, baseline_path, out_dir, stdout = plotted_comparison(tmp_path)
    assert "comparison.md" in stdout and "comparison.csv" in stdout
    assert (out_dir / "summary.md").is_file() and (out_dir / "overview.png").is_file()
    markdown = (out_dir / "comparison.md").read_text()
    assert (f"results: `{results_path}` (`python main.py --original-optimizer-reset`), "
            f"baseline: `{baseline_path}` (`python main.py`)") in markdown
    assert "results minus baseline" in markdown and "paired by seed" in markdown
    assert "percentage points" in markdown and "95% Student-t" in markdown
    assert "original_optimizer_reset: True vs False" in markdown
    # stage_factor differs and is named; machine differs too but is not.
    assert "Other config keys that differ: stage_factor." in markdown
    assert ("| LeNet-5 | SGD | decaying learning rate (dlr) | 3 | 98.00 ± 0.10 | 97.70 ± 0.25 "
            "| +0.30 [-0.07, +0.67] |") in markdown
    assert "| +0.00 [+0.00, +0.00] |" in markdown
    assert "partner" not in markdown
    with (out_dir / "comparison.csv").open() as handle:
        dlr_row, ibs_row = csv.DictReader(handle)
    assert dlr_row["paired_seeds"] == "3"
    assert float(dlr_row["diff_pp_mean"]) == pytest.approx(0.30)
    assert float(dlr_row["diff_pp_ci95_low"]) == pytest.approx(0.30 - 0.3726, abs=1e-3)
    assert float(dlr_row["baseline_final_test_accuracy_percent_mean"]) == pytest.approx(97.70)
    assert float(ibs_row["diff_pp_mean"]) == 0.0


def test_comparison_markdown_names_the_seeds_left_unpaired(tmp_path):
    config = make_config(archs=["lenet5"], optimizers=["adam"], schedules=["dlr"], seeds=[0, 1])
    results = make_results({("lenet5", "adam", "dlr", 0): 0.98,
                            ("lenet5", "adam", "dlr", 1): 0.98}, config)
    baseline = make_results({("lenet5", "adam", "dlr", 1): 0.97}, config)
    rows = analysis.compare_results(results, baseline)
    markdown = tables.write_comparison_markdown(
        rows, tmp_path / "comparison.md", "new.pickle", "old.pickle", config,
        config).read_text()
    assert ("Left out for want of a partner seed: lenet5 adam dlr seed 0 (results only)."
            in markdown)
    assert "+1.00 (one paired seed)" in markdown
    assert ("The configs agree on original_optimizer_reset, train_size, base_batch_size, data_fingerprint, "
            "noise_scale, momentum_coefficient.") in markdown


def test_comparison_gives_a_tost_verdict_for_every_cell(tmp_path):
    results_path, baseline_path, out_dir, stdout = plotted_comparison(tmp_path)
    rows = analysis.compare_results(analysis.load_results(results_path),
                                    analysis.load_results(baseline_path))
    dlr, ibs = rows
    # dlr: paired differences 0.30, 0.15, 0.45 pp; the 90% interval is 0.30 ± t(0.95, 2) * 0.15 / sqrt(3),
    # [+0.05, +0.55]: inside neither (-0.1, +0.1) nor wholly outside it.
    half_width = stats.t.ppf(0.95, 2) * 0.15 / math.sqrt(3)
    assert dlr["diff_pp_ci90_low"] == pytest.approx(0.30 - half_width)
    assert dlr["diff_pp_ci90_high"] == pytest.approx(0.30 + half_width)
    assert dlr["verdict"] == "undecided" and dlr["equivalence_margin_pp"] == 0.1
    standard_error = 0.15 / math.sqrt(3)
    assert dlr["tost_p_value"] == pytest.approx(stats.t.cdf((0.30 - 0.1) / standard_error, 2))
    # ibs: the same runs on both sides.
    assert ibs["verdict"] == "equivalent" and ibs["baseline_schedule"] == "ibs"
    markdown = (out_dir / "comparison.md").read_text()
    assert "| Verdict against the baseline |" in markdown
    assert "| +0.30 [-0.07, +0.67] | +1.2 (of 0.25 pp over 3 seeds) | undecided (n = 3, 90% [+0.05, +0.55]) |" \
        in markdown
    assert "| equivalent (n = 3, 90% [+0.00, +0.00]) |" in markdown
    assert tables.equivalence_rule_sentence("the baseline", "A cell") in markdown
    # Every cell is compared with itself, so no row needs the sentence on pairs.
    assert "X against Y" not in markdown
    with (out_dir / "comparison.csv").open() as handle:
        dlr_row, ibs_row = csv.DictReader(handle)
    assert list(dlr_row)[-6:] == ["baseline_schedule", "diff_pp_ci90_low", "diff_pp_ci90_high",
                                  "tost_p_value", "equivalence_margin_pp", "verdict"]
    assert dlr_row["verdict"] == "undecided" and ibs_row["verdict"] == "equivalent"
    assert dlr_row["baseline_schedule"] == "dlr"
    assert ("verdicts against the baseline (TOST, margin ±0.1 pp, alpha 0.05): 1 equivalent, 1 undecided, "
            "0 not equivalent; not shown equivalent: lenet5 sgd dlr (undecided)") in stdout.splitlines()


def pair_pickles(folder):
    """A study with ibs_mom (momentum, seeds 0 to 2) and one with dlr and ibs at a higher momentum."""
    raised, other = {}, {}
    for seed in (0, 1, 2):
        raised[("lenet5", "momentum", "dlr", seed)] = 0.980 + 0.001 * seed
        raised[("lenet5", "momentum", "ibs_mom", seed)] = 0.975 + 0.001 * seed + 0.0001 * (seed == 1)
        other[("lenet5", "momentum", "dlr", seed)] = 0.981 + 0.001 * seed
        other[("lenet5", "momentum", "ibs", seed)] = 0.979 + 0.001 * seed
    selection = dict(archs=["lenet5"], optimizers=["momentum"], seeds=[0, 1, 2])
    first = make_new_config(schedules=["dlr", "ibs_mom"], **selection)
    second = make_new_config(schedules=["dlr", "ibs"], **selection)
    second.update(momentum_coefficient=0.98, momentum_learning_rate=0.0002)
    return (write_pickle(folder / "first.pickle", make_results(raised, first, with_momentum=True)),
            write_pickle(folder / "second.pickle", make_results(other, second, with_momentum=True)))


def test_pair_compares_one_schedule_of_the_results_with_another_of_the_baseline(tmp_path):
    first, second = pair_pickles(tmp_path)
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(first), "--baseline", str(second),
                                                  "--pair", "ibs_mom:ibs", "--pair", "dlr",
                                                  "--out", str(out_dir)])
    assert status == 0 and stderr == ""
    rows = analysis.compare_results(analysis.load_results(first), analysis.load_results(second),
                                    [("ibs_mom", "ibs"), ("dlr", "dlr")])
    assert [(row["schedule"], row["baseline_schedule"]) for row in rows] == [("dlr", "dlr"), ("ibs_mom", "ibs")]
    dlr, ibs_mom = rows
    assert dlr["diff_pp_mean"] == pytest.approx(-0.1) and dlr["paired_seeds"] == 3
    assert ibs_mom["diff_pp_mean"] == pytest.approx(-0.4 + 0.01 / 3)
    assert ibs_mom["verdict"] == "not equivalent"
    markdown = (out_dir / "comparison.md").read_text()
    assert ("| LeNet-5 | SGD + momentum | increased momentum (ibs_mom) against increasing batch size (ibs) "
            "| 3 |") in markdown
    assert "A row \"X against Y\" compares the results' schedule X with the baseline's schedule Y" in markdown
    assert "momentum_coefficient: 0.9 vs 0.98" in markdown
    assert "lenet5 momentum ibs_mom against ibs (not equivalent)" in stdout
    with (out_dir / "comparison.csv").open() as handle:
        csv_rows = list(csv.DictReader(handle))
    assert [(row["schedule"], row["baseline_schedule"]) for row in csv_rows] == [("dlr", "dlr"), ("ibs_mom", "ibs")]
    # One study against itself: the pair ibs_mom:dlr is the summary's difference from dlr, verdict and all.
    results = analysis.load_results(first)
    within, = analysis.compare_results(results, results, [("ibs_mom", "dlr")])
    summary_row, = [row for row in analysis.summarize(results) if row["schedule"] == "ibs_mom"]
    for comparison_key, summary_key in (("diff_pp_mean", "diff_vs_dlr_pp_mean"),
                                        ("diff_pp_ci90_low", "diff_vs_dlr_pp_ci90_low"),
                                        ("diff_pp_ci90_high", "diff_vs_dlr_pp_ci90_high"),
                                        ("tost_p_value", "tost_p_value"), ("verdict", "verdict")):
        assert within[comparison_key] == pytest.approx(summary_row[summary_key]), comparison_key


@pytest.mark.parametrize("arguments, message", [
    (["--pair", "ibs_mom:ibs"], "pass --baseline PATH too"),
    (["--baseline", "BASELINE", "--pair", "a:b:c"], "is not S or S:T"),
    (["--baseline", "BASELINE", "--pair", "ibs:"], "is not S or S:T"),
])
def test_bad_pairs_exit_2(tmp_path, arguments, message):
    first, second = pair_pickles(tmp_path)
    arguments = [str(second) if argument == "BASELINE" else argument for argument in arguments]
    stderr = StringIO()
    with redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        plots.main(["--results", str(first)] + arguments)
    assert exit_info.value.code == 2 and message in stderr.getvalue()


def test_a_pair_that_matches_nothing_exits_2_with_one_line(tmp_path):
    first, second = pair_pickles(tmp_path)
    status, stdout, stderr = _run_main_capturing(["--results", str(first), "--baseline", str(second),
                                                  "--pair", "hyb:ibs", "--out", str(tmp_path / "out")])
    assert status == 2 and stdout == "" and len(stderr.splitlines()) == 1
    assert "in which to compare hyb with ibs (--pair)" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, reason", [
    (None, "does not exist"),
    (b"this is not a pickle\n", "cannot read"),
    (pickle.dumps([1, 2, 3]), "not a dict"),
    (pickle.dumps({"runs": {}}), "no 'config'"),
])
def test_unusable_baseline_exits_2_with_one_line_and_writes_nothing(tmp_path, content, reason):
    results_path = write_pickle(tmp_path / "results.pickle",
                                make_results({("lenet5", "adam", "dlr", 0): 0.98},
                                             make_config(archs=["lenet5"], optimizers=["adam"],
                                                         schedules=["dlr"], seeds=[0])))
    baseline_path = tmp_path / "baseline.pickle"
    if content is not None:
        baseline_path.write_bytes(content)
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                  str(baseline_path), "--out", str(out_dir)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert reason in stderr and str(baseline_path) in stderr
    assert not out_dir.exists()


def test_missing_baseline_hint_names_the_baseline_flag(tmp_path):
    completed = subprocess.run(
        [sys.executable, str(PROJECT_DIR / "plots.py"), "--results",
         str(write_pickle(tmp_path / "results.pickle",
                          make_results({("lenet5", "adam", "dlr", 0): 0.98}, make_config()))),
         "--baseline", str(tmp_path / "nowhere.pickle")],
        capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert completed.returncode == 2 and completed.stdout == ""
    assert len(completed.stderr.splitlines()) == 1
    assert "nowhere.pickle" in completed.stderr and "--baseline PATH" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("baseline_finals, reason", [
    ({("mlp300", "sgd", "dlr", 0): 0.97}, "no (architecture, optimizer, schedule) cell in common"),
    ({("lenet5", "adam", "dlr", 5): 0.97}, "no seed in common"),
])
def test_baseline_without_anything_to_pair_exits_2_with_one_line(tmp_path, baseline_finals,
                                                                reason):
    results_path = write_pickle(tmp_path / "results.pickle",
                                make_results({("lenet5", "adam", "dlr", 0): 0.98}, make_config()))
    baseline_path = write_pickle(tmp_path / "baseline.pickle",
                                 make_results(baseline_finals, make_config()))
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                  str(baseline_path), "--out", str(out_dir)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1 and reason in stderr
    assert not out_dir.exists()


def test_bad_flag_exits_2():
    with pytest.raises(SystemExit) as exit_info:
        plots.parse_arguments(["--no-such-flag"])
    assert exit_info.value.code == 2


def test_reading_and_drawing_never_imports_tensorflow(tmp_path):
    results = make_results({("lenet5", "adam", "ibs", 0): 0.98},
                           make_config(archs=["lenet5"], optimizers=["adam"],
                                       schedules=["ibs"], seeds=[0]))
    results_path = write_pickle(tmp_path / "results.pickle", results)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import plots; "
        "status = plots.main(['--results', sys.argv[2]]); "
        "print(status, sorted(name for name in sys.modules "
        "if name.split('.')[0] in ('tensorflow', 'keras', 'main')))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(PROJECT_DIR), str(results_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "0 []"


def test_titles_name_settings_that_depart_from_the_study():
    assert tables.settings_suffix({"base_batch_size": 4, "original_optimizer_reset": False}) == ""
    assert tables.settings_suffix({"base_batch_size": 32, "original_optimizer_reset": True}) == \
        " (base batch 32, original optimizer reset)"
    # The exact noise scale, and a momentum coefficient of their own where a momentum optimizer ran.
    assert tables.settings_suffix({"base_batch_size": 4, "original_optimizer_reset": False,
                                   "noise_scale": "exact", "momentum_coefficient": 0.98,
                                   "optimizers": ["momentum"]}) == " (exact noise scale, momentum 0.98)"
    assert tables.settings_suffix({"base_batch_size": 4, "original_optimizer_reset": False,
                                   "noise_scale": "approx", "momentum_coefficient": 0.98,
                                   "optimizers": ["sgd"]}) == ""


def exact_study(archs=("lenet5",), optimizers=NEW_OPTIMIZERS, seeds=(0, 1)):
    """A study matched on the exact noise scale: main.py's batch sizes for it, at base batch 32."""
    config = make_new_config(archs=archs, optimizers=optimizers, seeds=seeds)
    config.update(noise_scale="exact", base_batch_size=32)
    results = make_results(new_grid_accuracies(archs=archs, optimizers=optimizers, seeds=seeds), config,
                           with_momentum=True)
    settings = study.Settings(train_size=TRAIN_SIZE, base_batch_size=32, noise_scale="exact")
    for (arch, optimizer, schedule, seed), run in results["runs"].items():
        plans = schedules.epoch_plans(schedule, optimizer, settings)
        run["batch_size"] = [plan.batch_size for plan in plans]
        run["learning_rate"] = [plan.learning_rate for plan in plans]
    return results


def test_a_study_on_the_exact_noise_scale_says_so_in_its_summary_and_figure(tmp_path, kept_figures):
    results = exact_study()
    scales = analysis.noise_scales(results)
    dlr = scales[("sgd", "dlr")]
    assert dlr[0] == pytest.approx(0.01 * (TRAIN_SIZE / 32 - 1))
    assert dlr[-1] == pytest.approx(0.01 / 125 * (TRAIN_SIZE / 32 - 1))
    for optimizer in ("sgd", "momentum"):
        for schedule in ("ibs", "hyb", "ibs_lr"):
            # Only the batch's rounding to a whole number separates them.
            assert scales[(optimizer, schedule)] == pytest.approx(scales[(optimizer, "dlr")], rel=1e-2)
    figures.plot_noise_scale(results, "noise_scale.png")
    titles = [axes.get_title() for axes in kept_figures[0].axes if axes.get_visible()]
    assert titles[0].startswith("SGD: exact g = lr × (N / B − 1) (m = 0)")
    assert titles[1].startswith("SGD + momentum: exact g = lr × (N / B − 1) / (1 − m)")
    assert titles[3].startswith("Adam: exact g = lr × (N / B − 1)")
    assert "ibs_lr 0.1% (batch size rounded)" in titles[0] and "capped" not in titles[0]
    assert "exact noise scale" in kept_figures[0]._suptitle.get_text()
    rows = analysis.summarize(results)
    summary = tables.write_summary_markdown(rows, tmp_path / "summary.md", results["config"],
                                            results["provenance"]).read_text()
    assert summary.startswith("# Summary (base batch 32, exact noise scale)\n")
    assert ("The schedules match the exact noise scale g = lr (N/B − 1) / (1 − m) (Smith and Le 2017), "
            "not the approximation g = lr N / (B (1 − m)): dlr sets each stage's g from its own learning "
            "rate lr, batch B and momentum m, and ibs, hyb, ibs_lr and ibs_mom keep their own lr and m and "
            "take the batch B = N / (1 + g (1 − m) / lr)") in summary
    # A study on the approximation, the default, says nothing of it.
    approximate = make_results(full_grid_accuracies(), make_config())
    assert approximate["config"]["noise_scale"] == "approx"
    assert tables.noise_scale_sentence(approximate["config"]) == ""


# ---------------------------------------------------------------------------
# Momentum, Nesterov and the ibs_lr / ibs_mom schedules
# ---------------------------------------------------------------------------

@pytest.fixture
def kept_figures(monkeypatch):
    """Keep the figures plots.py would save, so that tests can read their text."""
    kept = []

    def keep(figure, path):
        kept.append(figure)
        return Path(path)

    monkeypatch.setattr(figures, "save", keep)
    yield kept
    for figure in kept:
        figures.plt.close(figure)


def test_every_schedule_has_a_name_and_a_distinct_style():
    assert schedules.schedule_display_name("ibs_lr") == "increased learning rate (ibs_lr)"
    assert schedules.schedule_display_name("ibs_mom") == "increased momentum (ibs_mom)"
    # Every record has a hand-picked style today; a schedule without one gets a default (tested apart).
    assert set(figure_style.SCHEDULE_STYLES) == set(schedules.ALL_SCHEDULES)
    styles = list(figure_style.SCHEDULE_STYLES.values())
    # Okabe and Ito's colour-blind-safe palette, one colour, marker and dash each.
    # The controls take greys and black besides, so that they stand apart.
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert {style["color"] for name, style in figure_style.SCHEDULE_STYLES.items()
            if name not in schedules.CONTROL_SCHEDULES + schedules.ADAPTIVE_SCHEDULES} <= okabe_ito
    # The adaptive schedules take Paul Tol's wine and olive: the palette's yellow is barely seen on white.
    assert [figure_style.SCHEDULE_STYLES[name]["color"] for name in schedules.ADAPTIVE_SCHEDULES] == ["#882255", "#999933"]
    greys = {"#000000", "#333333", "#666666", "#777777", "#999999", "#BBBBBB"}
    assert {style["color"] for name, style in figure_style.SCHEDULE_STYLES.items()
            if name in schedules.CONTROL_SCHEDULES} <= okabe_ito | greys
    for key in ("color", "marker"):
        assert len({style[key] for style in styles}) == len(styles), key
    assert len({str(style["linestyle"]) for style in styles}) == len(styles)


def test_runs_with_a_momentum_list_load_and_a_bad_one_is_refused(tmp_path):
    results = make_results({("lenet5", "nesterov", "ibs_mom", 0): 0.98},
                           make_new_config(archs=["lenet5"], optimizers=["nesterov"],
                                           schedules=["ibs_mom"], seeds=[0]),
                           with_momentum=True)
    loaded = analysis.load_results(write_pickle(tmp_path / "good.pickle", results))
    assert loaded["runs"][("lenet5", "nesterov", "ibs_mom", 0)]["momentum"][0] == 0.98
    run = results["runs"][("lenet5", "nesterov", "ibs_mom", 0)]
    for bad_momentum, reason in ((run["momentum"][:-1], "different lengths"),
                                 (["high"] * 12, "'momentum' that is not a list of numbers")):
        run["momentum"] = bad_momentum
        with pytest.raises(analysis.ResultsError, match=reason):
            analysis.load_results(write_pickle(tmp_path / "bad.pickle", results))


def test_missing_runs_leave_out_ibs_mom_for_optimizers_without_momentum():
    config = make_new_config(archs=["lenet5"], optimizers=["sgd", "momentum"],
                             schedules=["dlr", "ibs_mom"], seeds=[0])
    results = make_results({("lenet5", "sgd", "dlr", 0): 0.98}, config)
    assert analysis.missing_runs(results) == [("lenet5", "momentum", "dlr", 0),
                                           ("lenet5", "momentum", "ibs_mom", 0)]


def test_noise_scale_divides_by_one_minus_momentum_for_sgd_but_not_for_adam():
    results = make_results(new_grid_accuracies(archs=["lenet5"], seeds=(0,)),
                           make_new_config(archs=["lenet5"], seeds=[0]), with_momentum=True)
    scales = analysis.noise_scales(results)
    # Plain SGD at lr 0.01 and batch 4; momentum and Nesterov at lr 0.001 and
    # m = 0.9 have the same g = 0.001 N / (4 * 0.1).
    first_stage = 0.01 * TRAIN_SIZE / 4
    for optimizer in ("sgd", "momentum", "nesterov"):
        dlr = scales[(optimizer, "dlr")]
        assert dlr[0] == pytest.approx(first_stage), optimizer
        assert dlr[-1] == pytest.approx(first_stage / 125), optimizer
        assert scales[(optimizer, "ibs")] == pytest.approx(dlr)
        # ibs_lr: 5 times the rate at 5 times the batch.
        assert scales[(optimizer, "ibs_lr")] == pytest.approx(dlr)
    for optimizer in ("momentum", "nesterov"):
        # ibs_mom: 5 times the batch and 1 - m = 0.02, 5 times smaller.
        assert scales[(optimizer, "ibs_mom")] == pytest.approx(scales[(optimizer, "dlr")])
        assert scales[(optimizer, "ibs_mom")][0] == pytest.approx(0.001 * TRAIN_SIZE
                                                                  / (20 * 0.02))
    # Adam's beta_1 is recorded as its momentum but stays out of lr * N / B.
    assert scales[("adam", "dlr")][0] == pytest.approx(0.001 * TRAIN_SIZE / 4)
    gaps = figures._noise_gaps_to_dlr(scales, "momentum",
                                    ["dlr", "ibs", "hyb", "ibs_lr", "ibs_mom"])
    assert gaps == ["ibs 0.0%", "hyb 0.6% (batch size rounded)", "ibs_lr 0.0%", "ibs_mom 0.0%"]


def test_runs_without_a_momentum_list_are_migrated_from_the_settings():
    config = make_new_config(archs=["lenet5"], optimizers=["sgd", "momentum", "adam"],
                             schedules=["dlr"], seeds=[0])
    results = make_results({("lenet5", optimizer, "dlr", 0): 0.98
                            for optimizer in ("sgd", "momentum", "adam")}, config)
    runs = results["runs"]
    assert runs[("lenet5", "sgd", "dlr", 0)]["momentum"] == [0.0] * 12
    assert runs[("lenet5", "momentum", "dlr", 0)]["momentum"] == [0.9] * 12
    assert runs[("lenet5", "adam", "dlr", 0)]["momentum"] == [0.9] * 12
    assert analysis.noise_scales(results)[("momentum", "dlr")][0] == pytest.approx(
        0.001 * TRAIN_SIZE / (4 * 0.1))
    # A coefficient the pickle's config sets is the one the old runs had.
    config["momentum_coefficient"] = 0.5
    results = make_results({("lenet5", "momentum", "dlr", 0): 0.98}, config)
    assert results["runs"][("lenet5", "momentum", "dlr", 0)]["momentum"] == [0.5] * 12


def test_noise_scale_figure_names_its_formulas_and_says_adam_is_not_predicted(kept_figures):
    results = make_results(new_grid_accuracies(archs=["lenet5"], seeds=(0,)),
                           make_new_config(archs=["lenet5"], seeds=[0]), with_momentum=True)
    figures.plot_noise_scale(results, "noise_scale.png")
    titles = [axes.get_title() for axes in kept_figures[0].axes if axes.get_visible()]
    assert len(titles) == 5
    assert titles[0].startswith("SGD: g = lr × N / B (no momentum, m = 0)")
    assert titles[1].startswith("SGD + momentum: g = lr × N / (B × (1 − m))")
    assert titles[2].startswith("Nesterov: g = lr × N / (B × (1 − m))")
    assert titles[3].startswith("Adam: g = lr × N / B")
    assert "noise-scale argument is about SGD" in titles[3]
    assert "does not predict Adam" in titles[3]
    assert titles[4].startswith("RMSprop: g = lr × N / B") and "does not predict RMSprop" in titles[4]
    assert "ibs_mom 0.0%" in titles[1] and "ibs_lr 0.0%" in titles[0]
    assert "m momentum coefficient" in kept_figures[0]._suptitle.get_text()


def test_schedules_figure_adds_a_momentum_panel_only_when_a_run_has_momentum(kept_figures):
    new_study = make_results(new_grid_accuracies(archs=["lenet5"], seeds=(0,)),
                             make_new_config(archs=["lenet5"], seeds=[0]), with_momentum=True)
    momenta = analysis.schedule_momenta(new_study)
    assert momenta["dlr"][0] == 0.9 and momenta["ibs_mom"][0] == 0.98
    figures.plot_schedules(new_study, "schedules.png")
    panels = kept_figures[-1].axes
    assert len(panels) == 3 and panels[2].get_title().startswith("momentum coefficient m")
    # ibs_lr's learning rate is 5 times the base.
    rate_labels = [label.get_text() for label in panels[0].get_yticklabels()]
    assert rate_labels[-2:] == ["1", "5"] and rate_labels[0] == "1/125"
    # Plain SGD (m = 0) and Adam (a constant beta_1) need no momentum panel,
    # with or without the momentum list.
    for with_momentum in (False, True):
        old_study = make_results(full_grid_accuracies(seeds=(0,)), make_config(seeds=[0]),
                                 with_momentum=with_momentum)
        assert analysis.schedule_momenta(old_study) == {}
        figures.plot_schedules(old_study, "schedules.png")
        assert len(kept_figures[-1].axes) == 2


def test_accuracy_figures_show_all_five_schedules(kept_figures):
    results = make_results(new_grid_accuracies(archs=["lenet5"], optimizers=["nesterov"]),
                           make_new_config(archs=["lenet5"], optimizers=["nesterov"]),
                           with_momentum=True)
    schedule_runs = {key[2]: seed_runs for key, seed_runs in analysis.group_runs(results).items()}
    figures.plot_accuracy_by_updates(schedule_runs, "lenet5", "nesterov", results["config"],
                                   "accuracy_updates.png")
    figure = kept_figures[0]
    # Five schedules leave no corner free: their legend is below the axes.
    assert figure.axes[0].get_legend() is None
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == [schedules.schedule_display_name(schedule) for schedule in NEW_SCHEDULES]


def test_cost_of_fewer_updates_pairs_each_schedule_with_dlr_by_seed():
    finals = {("lenet5", "sgd", "dlr", 0): 0.9800, ("lenet5", "sgd", "dlr", 1): 0.9810,
              ("lenet5", "sgd", "dlr", 2): 0.9790,
              ("lenet5", "sgd", "ibs", 0): 0.9830, ("lenet5", "sgd", "ibs", 1): 0.9825,
              ("lenet5", "sgd", "ibs", 2): 0.9835,
              # Seed 3 has no dlr partner and must not count.
              ("lenet5", "sgd", "ibs_lr", 0): 0.9780, ("lenet5", "sgd", "ibs_lr", 3): 0.5,
              # An architecture with dlr only and one without dlr have no points.
              ("mlp300", "sgd", "dlr", 0): 0.97, ("mlp500_150", "sgd", "ibs", 0): 0.97}
    results = make_results(finals, make_new_config(optimizers=["sgd"], seeds=range(4)))
    points = analysis.cost_of_fewer_updates(results, "sgd")
    assert list(points) == ["lenet5"]
    dlr, ibs, ibs_lr = points["lenet5"]
    assert (dlr["schedule"], dlr["updates"], dlr["paired_seeds"]) == ("dlr", 60000, 3)
    assert dlr["mean"] == 0.0
    # Paired differences 0.30, 0.15, 0.45 pp, as in the summary example.
    half_width = T_975_TWO_DEGREES * 0.15 / math.sqrt(3)
    assert (ibs["schedule"], ibs["updates"], ibs["paired_seeds"]) == ("ibs", 18720, 3)
    assert (ibs["mean"], ibs["low"], ibs["high"]) == pytest.approx(
        (0.30, 0.30 - half_width, 0.30 + half_width))
    # ibs_lr: batch 20, 100, 500, 2500, so 3 * (1000 + 200 + 40 + 8) updates.
    assert (ibs_lr["updates"], ibs_lr["paired_seeds"]) == (3744, 1)
    assert ibs_lr["mean"] == pytest.approx(-0.20) and ibs_lr["low"] is None
    assert analysis.cost_of_fewer_updates(results, "adam") == {}


def test_cost_figure_has_a_panel_per_architecture_with_the_margin_band(kept_figures):
    results = make_results(new_grid_accuracies(archs=["mlp300", "lenet5"],
                                               optimizers=["momentum"]),
                           make_new_config(archs=["mlp300", "lenet5"], optimizers=["momentum"]),
                           with_momentum=True)
    points = analysis.cost_of_fewer_updates(results, "momentum")
    figures.plot_cost_of_fewer_updates(points, "momentum", results["config"], "cost.png")
    figure = kept_figures[0]
    assert [axes.get_title() for axes in figure.axes] == ["300-unit MLP (2 paired seeds)",
                                                          "LeNet-5 (2 paired seeds)"]
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    assert "parameter updates per run" in axes.get_xlabel()
    assert "final test accuracy minus dlr" in axes.get_ylabel()
    band = axes.patches[0]
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((-0.1, 0.1))
    # Each schedule is named beside its marker and in the legend.
    assert [text.get_text() for text in axes.texts] == list(NEW_SCHEDULES)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == [schedules.schedule_display_name(schedule) for schedule in NEW_SCHEDULES] + [
        "±0.1 pp equivalence margin"]
    assert [label.get_text() for label in axes.get_xticklabels()] == [
        "3,744", "18,720", "26,004", "60,000"]


def test_cost_figures_are_drawn_for_optimizers_with_dlr_and_another_schedule(tmp_path):
    finals = new_grid_accuracies(archs=["lenet5"], optimizers=["sgd", "momentum"])
    finals.update({("lenet5", "adam", "ibs", seed): 0.98 for seed in (0, 1)})
    results_path = write_pickle(tmp_path / "results.pickle", make_results(
        finals, make_new_config(archs=["lenet5"], optimizers=["sgd", "momentum", "adam"]),
        with_momentum=True))
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path)])
    assert status == 0 and stderr == ""
    assert_png(tmp_path / "cost_of_fewer_updates_sgd.png")
    assert_png(tmp_path / "cost_of_fewer_updates_momentum.png")
    assert not (tmp_path / "cost_of_fewer_updates_adam.png").exists()
    assert ("skipped cost_of_fewer_updates_adam.png: adam has no dlr run paired by seed "
            "with another schedule") in stdout


# ---------------------------------------------------------------------------
# Provenance
# ---------------------------------------------------------------------------

MACHINE_A = "AMD EPYC 7B13, 2 cores, Linux 6.1"
MACHINE_B = "Intel Xeon 8375C, 4 cores, Linux 6.8"


def test_training_machines_count_runs_per_machine_from_the_provenance():
    results = make_results(new_grid_accuracies(archs=["lenet5"], optimizers=["sgd"],
                                               seeds=(0, 1, 2)),
                           make_new_config(archs=["lenet5"], optimizers=["sgd"],
                                           seeds=range(3)))
    # 4 schedules x 3 seeds: seeds 0 and 1 on A, seed 2 on B except one run
    # whose file predates provenance.
    results["provenance"] = make_provenance(
        results["runs"], lambda key: None if key[2:] == ("dlr", 2) else
        MACHINE_A if key[3] < 2 else MACHINE_B)
    provenance = results["provenance"]
    assert provenance_records.machine_counts(provenance) == [
        (MACHINE_A, 8), (MACHINE_B, 3), ("not recorded", 1)]
    assert provenance_records.describe_machines(provenance_records.machine_counts(provenance)) == (
        f"mixed: {MACHINE_A} (8 runs); {MACHINE_B} (3 runs); not recorded (1 run)")
    ibs_keys = [("lenet5", "sgd", "ibs", seed) for seed in (0, 1)]
    assert provenance_records.machine_counts(provenance, ibs_keys) == [(MACHINE_A, 2)]
    assert provenance_records.describe_machines([(MACHINE_A, 2)]) == MACHINE_A
    assert provenance_records.describe_machines([]) == ""
    # The config main.py assembles names the same machines, in sorted order.
    assembled = provenance_records.assembled_provenance(provenance)
    assert assembled["machines"] == sorted([MACHINE_A, MACHINE_B, "not recorded"])
    assert assembled["machine"] == "; ".join(assembled["machines"])


def test_training_versions_name_every_version_where_runs_differ():
    runs = {("lenet5", "sgd", "dlr", seed): None for seed in range(3)}
    provenance = make_provenance(runs, lambda key: MACHINE_A)
    provenance[("lenet5", "sgd", "dlr", 2)]["versions"]["tensorflow"] = "2.20.0"
    versions = provenance_records.describe_versions(provenance)
    assert versions["tensorflow"] == "2.20.0 (1 run) / 2.21.0 (2 runs)"
    assert versions["numpy"] == "2.4.6"
    assert provenance_records.assembled_provenance(provenance)["versions"]["tensorflow"] == "2.20.0 / 2.21.0"
    assert provenance_records.describe_versions({("lenet5", "sgd", "dlr", 0): None}) == {}


def test_summary_names_the_training_machines_and_versions(tmp_path):
    config = make_new_config(archs=["lenet5"], optimizers=["adam"], schedules=["dlr"],
                             seeds=[0, 1], machines=[MACHINE_A, MACHINE_B])
    results = make_results({("lenet5", "adam", "dlr", seed): 0.98 for seed in (0, 1)}, config)
    rows = analysis.summarize(results)
    provenance = make_provenance(results["runs"], lambda key: [MACHINE_A, MACHINE_B][key[3]])
    markdown = tables.write_summary_markdown(rows, tmp_path / "mixed.md", results["config"],
                                             provenance).read_text()
    assert (f"The runs were trained on several machines: {MACHINE_A} (1 run); {MACHINE_B} (1 run). "
            "Library versions: python 3.11.7, tensorflow 2.21.0, keras 3.15.1, numpy 2.4.6."
            in markdown)
    provenance = make_provenance(results["runs"], lambda key: MACHINE_B)
    markdown = tables.write_summary_markdown(rows, tmp_path / "new.md", results["config"],
                                            provenance).read_text()
    assert f"The runs were trained on {MACHINE_B} (all 2 runs)." in markdown
    provenance = make_provenance(results["runs"], lambda key: None)
    markdown = tables.write_summary_markdown(rows, tmp_path / "none.md", results["config"],
                                            provenance).read_text()
    assert "The machine that trained the runs is not recorded." in markdown


def test_seconds_figure_names_the_machines_that_trained_its_runs(tmp_path, kept_figures):
    finals = {("lenet5", "sgd", schedule, seed): 0.98
              for schedule in ("dlr", "ibs") for seed in (0, 1, 2)}
    finals.update({("mlp300", "sgd", "dlr", seed): 0.97 for seed in (0, 1, 2)})
    config = make_new_config(archs=["mlp300", "lenet5"], optimizers=["sgd"],
                             schedules=["dlr", "ibs"], seeds=[0, 1, 2],
                             machines=["the machine that assembled"])
    results = make_results(finals, config)
    results["provenance"] = make_provenance(
        results["runs"], lambda key: MACHINE_B if key[0] == "lenet5" and key[3] == 2
        else MACHINE_A)
    figures.draw_all_figures(results, tmp_path)
    labels = {figure._suptitle.get_text(): figure.axes[0].get_xlabel()
              for figure in kept_figures if "training time" in figure._suptitle.get_text()}
    assert labels["300-unit MLP, SGD: test accuracy by training time"] == (
        f"cumulative wall-clock seconds on {MACHINE_A}")
    assert " ".join(labels["LeNet-5, SGD: test accuracy by training time"].split()) == (
        f"cumulative wall-clock seconds (mixed: {MACHINE_A} (4 runs); {MACHINE_B} (2 runs))")


# ---------------------------------------------------------------------------
# Agreement with a baseline in its own seed-to-seed standard deviations
# ---------------------------------------------------------------------------

def test_comparison_measures_the_difference_in_the_baselines_seed_std(tmp_path):
    results_path, baseline_path = hand_computed_comparison_pickles(tmp_path)
    rows = analysis.compare_results(analysis.load_results(results_path),
                                 analysis.load_results(baseline_path))
    dlr, ibs = rows
    # Baseline dlr finals 97.70, 97.95, 97.45: std 0.25 pp; the mean
    # difference of 0.30 pp is 1.2 of them.
    assert dlr["baseline_all_seeds"] == 3
    assert dlr["baseline_all_seeds_std_pp"] == pytest.approx(0.25)
    assert dlr["diff_in_baseline_stds"] == pytest.approx(1.2)
    assert dlr["within_two_baseline_stds"] is True
    # ibs: finals 98.20, 98.30, 98.40 (std 0.10) on both sides.
    assert ibs["baseline_all_seeds_std_pp"] == pytest.approx(0.10)
    assert ibs["diff_in_baseline_stds"] == pytest.approx(0.0, abs=1e-9)
    agreement = analysis.baseline_agreement(rows)
    assert agreement == {"within": [("lenet5", "sgd", "dlr"), ("lenet5", "sgd", "ibs")],
                         "beyond": [], "unjudged": []}
    assert tables.describe_baseline_agreement(agreement) == (
        "2 of 2 cells differ from the baseline by at most two of its seed-to-seed standard "
        "deviations.")


def test_baseline_std_is_over_all_its_seeds_and_cells_beyond_two_are_named(tmp_path):
    config = make_config(archs=["lenet5"], optimizers=["adam"], schedules=["dlr", "ibs", "hyb"],
                         seeds=[0, 1, 2, 3])
    # dlr: only seed 0 is paired, but all four baseline seeds (97.0, 97.2,
    # 97.4, 97.6: std 0.2582 pp) give the standard deviation; the difference
    # +0.8 pp is 3.1 of them.
    results = make_results({("lenet5", "adam", "dlr", 0): 0.978,
                            ("lenet5", "adam", "ibs", 0): 0.980,
                            ("lenet5", "adam", "ibs", 1): 0.981,
                            ("lenet5", "adam", "hyb", 0): 0.98}, config)
    baseline = make_results({("lenet5", "adam", "dlr", 0): 0.970,
                             ("lenet5", "adam", "dlr", 1): 0.972,
                             ("lenet5", "adam", "dlr", 2): 0.974,
                             ("lenet5", "adam", "dlr", 3): 0.976,
                             # ibs: -0.1 and -0.1 pp against a std of 0.1 pp.
                             ("lenet5", "adam", "ibs", 0): 0.981,
                             ("lenet5", "adam", "ibs", 1): 0.982,
                             # hyb: one baseline seed, no standard deviation.
                             ("lenet5", "adam", "hyb", 0): 0.98}, config)
    rows = analysis.compare_results(results, baseline)
    dlr, ibs, hyb = rows
    std = math.sqrt(sum((value - 97.3) ** 2 for value in (97.0, 97.2, 97.4, 97.6)) / 3)
    assert dlr["paired_seeds"] == 1 and dlr["baseline_all_seeds"] == 4
    assert dlr["baseline_all_seeds_std_pp"] == pytest.approx(std)
    assert dlr["diff_in_baseline_stds"] == pytest.approx(0.8 / std)
    assert dlr["within_two_baseline_stds"] is False
    assert ibs["diff_in_baseline_stds"] == pytest.approx(-0.1 / math.sqrt(0.005))
    assert ibs["within_two_baseline_stds"] is True
    assert hyb["baseline_all_seeds_std_pp"] is None and hyb["within_two_baseline_stds"] is None
    sentence = tables.describe_baseline_agreement(analysis.baseline_agreement(rows))
    assert sentence == (
        "1 of 2 cells differ from the baseline by at most two of its seed-to-seed standard "
        "deviations; this one does not: lenet5 adam dlr (+3.1 standard deviations); 1 cell "
        "cannot be judged (no paired seed, or fewer than 2 baseline seeds): lenet5 adam hyb.")
    markdown = tables.write_comparison_markdown(rows, tmp_path / "comparison.md", "new.pickle",
                                               "old.pickle", config, config).read_text()
    assert sentence in markdown
    assert "| +0.80 (one paired seed) | +3.1 (of 0.26 pp over 4 seeds) |" in markdown
    assert "| - (1 baseline seed) |" in markdown
    with tables.write_comparison_csv(rows, tmp_path / "comparison.csv").open() as handle:
        dlr_row = next(csv.DictReader(handle))
    assert float(dlr_row["baseline_all_seeds_std_pp"]) == pytest.approx(std, abs=1e-6)
    assert float(dlr_row["diff_in_baseline_stds"]) == pytest.approx(0.8 / std, abs=1e-5)
    assert dlr_row["within_two_baseline_stds"] == "False"


def test_baseline_run_prints_the_agreement_line(tmp_path):
    _, _, _, stdout = plotted_comparison(tmp_path)
    assert ("against the baseline: 2 of 2 cells differ from the baseline by at most two of its "
            "seed-to-seed standard deviations.") in stdout.splitlines()
    assert "2 of 2 cells differ" in (tmp_path / "out" / "comparison.md").read_text()


def test_drawing_the_same_pickle_twice_writes_identical_bytes(tmp_path):
    results = make_results(new_grid_accuracies(archs=["lenet5"], optimizers=["sgd", "momentum"]),
                           make_new_config(archs=["lenet5"], optimizers=["sgd", "momentum"]),
                           with_momentum=True)
    results["provenance"] = make_provenance(results["runs"], lambda key: MACHINE_A)
    results_path = write_pickle(tmp_path / "results.pickle", results)
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        status, _, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                 str(results_path), "--out", str(folder)])
        assert status == 0 and stderr == ""
    names = sorted(path.name for path in folders[0].iterdir())
    assert names == sorted(path.name for path in folders[1].iterdir())
    assert "cost_of_fewer_updates_momentum.png" in names and "comparison.md" in names
    for name in names:
        first, second = ((folder / name).read_bytes() for folder in folders)
        assert first == second, f"{name} differs between two drawings"
        # No matplotlib version (nor date) is written into the figures.
        if name.endswith(".png"):
            assert b"Matplotlib" not in first and b"Software" not in first, name


def test_stage_differences_pair_seeds_at_every_stage_end_and_name_the_batch(tmp_path):
    # The made-up curves keep their final offset at every epoch, so every stage
    # end shows the final differences: 0.1, 0.2 and 0.3 pp for seeds 0, 1, 2.
    finals = {}
    for seed, dlr_accuracy in enumerate((0.97, 0.98, 0.99)):
        finals["mlp300", "sgd", "dlr", seed] = dlr_accuracy
        finals["mlp300", "sgd", "ibs_lr", seed] = dlr_accuracy + 0.001 * (seed + 1)
    results = make_results(finals, make_config(archs=("mlp300",), optimizers=("sgd",),
                                               schedules=("dlr", "ibs_lr"), seeds=(0, 1, 2)))
    rows = analysis.stage_differences(results)
    assert [row["batch_size"] for row in rows] == [20, 100, 500, 2500]
    assert [row["epoch"] for row in rows] == [3, 6, 9, 12]
    assert rows[-1]["batch_fraction_of_train_size"] == pytest.approx(2500 / TRAIN_SIZE)
    half_width = stats.t.ppf(0.95, 2) * 0.1 / math.sqrt(3)
    for row in rows:
        assert row["paired_seeds"] == 3 and row["schedule"] == "ibs_lr"
        assert row["diff_vs_dlr_pp_mean"] == pytest.approx(0.2)
        assert row["diff_vs_dlr_pp_ci90_low"] == pytest.approx(0.2 - half_width)
        assert row["diff_vs_dlr_pp_ci90_high"] == pytest.approx(0.2 + half_width)
        assert row["verdict"] == "undecided"  # The interval reaches past +0.1 but not wholly.
    path = tables.write_stages_markdown(rows, tmp_path / "stages.md", results["config"])
    table_row = [line for line in path.read_text().splitlines() if "(ibs_lr)" in line]
    assert len(table_row) == 1
    assert "B = 2,500 (N/8): +0.20 [" in table_row[0] and table_row[0].rstrip(" |").endswith("U")


# ---------------------------------------------------------------------------
# Every text inside the canvas
# ---------------------------------------------------------------------------

def one_optimizer_study():
    """One optimizer on one architecture with every schedule it runs, as in results/large_batch
    and results/original_reset, with the settings that lengthen the titles; ibs has one seed
    fewer, which lengthens the notes on the seeds."""
    archs, optimizers = ["lenet5"], ["momentum"]
    config = make_new_config(archs=archs, optimizers=optimizers, machines=(MACHINE_A,))
    config.update(base_batch_size=32, original_optimizer_reset=True)
    finals = new_grid_accuracies(archs=archs, optimizers=optimizers)
    del finals[("lenet5", "momentum", "ibs", 1)]
    return make_results(finals, config, with_momentum=True)


def four_optimizer_study():
    """SGD, momentum, Nesterov and Adam on two architectures, with ibs_lr and (for momentum
    and Nesterov) ibs_mom."""
    archs = ["mlp300", "lenet5"]
    return make_results(new_grid_accuracies(archs=archs),
                        make_new_config(archs=archs, machines=(MACHINE_A, MACHINE_B)),
                        with_momentum=True)


def texts_outside_the_canvas(figure, drawn, name):
    """Draw figure, and describe every text it drew (drawn collects them) that reaches past its edges."""
    drawn.clear()
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    canvas = figure.bbox
    offenders = []
    for text in drawn:
        if not text.get_visible() or not text.get_text().strip():
            continue
        extent = text.get_window_extent(renderer)
        # One pixel of tolerance for rounding.
        if (extent.x0 < canvas.x0 - 1 or extent.x1 > canvas.x1 + 1
                or extent.y0 < canvas.y0 - 1 or extent.y1 > canvas.y1 + 1):
            offenders.append(
                f"{name}: {text.get_text()!r} spans x {extent.x0:.0f} to "
                f"{extent.x1:.0f}, y {extent.y0:.0f} to {extent.y1:.0f} of a "
                f"{canvas.width:.0f} x {canvas.height:.0f} canvas")
    return offenders


def exact_momentum_study():
    """Four optimizers matched on the exact noise scale at momentum 0.98, base batch 32: the longest
    titles a study without the reset has."""
    results = exact_study()
    results["config"].update(momentum_coefficient=0.98, momentum_learning_rate=0.0002)
    return results


def measured_study():
    """The exact study at momentum 0.98 with the gradient noise scale measured, one |G|^2 unresolved:
    its noise figure with the longest title and legend."""
    return with_measured_noise(exact_momentum_study(), unresolved=("lenet5", "adam", "ibs", 0))


@pytest.mark.parametrize("make_study", [one_optimizer_study, four_optimizer_study, exact_momentum_study,
                                        measured_study],
                         ids=["one optimizer", "four optimizers", "exact at momentum 0.98", "measured noise"])
def test_every_figure_keeps_all_its_text_inside_the_canvas(make_study, monkeypatch, tmp_path):
    # Only the texts a figure draws count: tick labels outside the axis range
    # are visible artists that are never drawn. They are caught by recording
    # every Text (titles, legend texts and titles, labels, tick labels,
    # annotations) that draws itself.
    drawn = []
    draw_text = matplotlib.text.Text.draw

    def record(text, renderer):
        drawn.append(text)
        return draw_text(text, renderer)

    offenders, checked = [], []

    def check_then_close(figure, path):
        offenders.extend(texts_outside_the_canvas(figure, drawn, Path(path).name))
        checked.append(Path(path).name)
        figures.plt.close(figure)
        return Path(path)

    monkeypatch.setattr(matplotlib.text.Text, "draw", record)
    monkeypatch.setattr(figures, "save", check_then_close)
    written, skipped = figures.draw_all_figures(make_study(), tmp_path)
    assert skipped == [] and sorted(checked) == sorted(path.name for path in written)
    assert {"overview.png", "noise_scale.png", "schedules.png"} <= set(checked)
    assert ("noise_scale_measured.png" in checked) == (make_study is measured_study)
    assert any(name.startswith("cost_of_fewer_updates_") for name in checked)
    assert offenders == [], "text outside the canvas:\n" + "\n".join(offenders)


# ---------------------------------------------------------------------------
# The measured gradient noise scale
# ---------------------------------------------------------------------------

def with_measured_noise(results, unresolved=None, leave_out=()):
    """results with the noise metrics main.py --measure-noise records in every run (but the cells in
    leave_out): tr(Sigma) and |G|^2 shrinking per epoch, B_simple their ratio; the run unresolved gets
    a |G|^2 estimate below 0 (B_simple NaN) at its last epoch."""
    results["config"].update(measure_noise=True, noise_population=4096, noise_small_batch=32,
                             noise_big_batch=1024, noise_draws=2)
    for key, run in results["runs"].items():
        if key[:2] in leave_out:
            continue
        epochs = len(run["test_accuracy"])
        trace = [50.0 * 0.9 ** epoch * (1 + 0.1 * key[3]) for epoch in range(epochs)]
        norm = [0.5 * 0.6 ** epoch for epoch in range(epochs)]
        if key == unresolved:
            norm[-1] = -0.01
        run.update(gradient_variance=trace, gradient_norm_sq=norm,
                   b_simple=[t / n if n > 0 else float("nan") for t, n in zip(trace, norm)])
        if key[1] == "adam":
            run.update(b_simple_preconditioned=list(run["b_simple"]), gradient_norm_sq_preconditioned=norm,
                       gradient_variance_preconditioned=trace)
    return results


def test_the_measured_noise_figure_is_drawn_only_for_measured_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "save", lambda figure, path: figures.plt.close(figure) or Path(path))
    config = make_config(seeds=(0, 1))
    plain = make_results(full_grid_accuracies(), dict(config))
    written, _ = figures.draw_all_figures(plain, tmp_path)
    assert "noise_scale_measured.png" not in {path.name for path in written}
    assert analysis.measured_noise_scales(plain) == {}
    measured = with_measured_noise(make_results(full_grid_accuracies(), dict(config)))
    written_measured, _ = figures.draw_all_figures(measured, tmp_path)
    assert sorted(path.name for path in written_measured) == sorted(
        [path.name for path in written] + ["noise_scale_measured.png"])


def test_the_measured_noise_scale_is_the_ratio_of_the_seeds_means(kept_figures):
    results = with_measured_noise(make_results(full_grid_accuracies(), make_config()),
                                  unresolved=("mlp300", "sgd", "ibs", 0), leave_out=[("lenet5", "adam")])
    measured = analysis.measured_noise_scales(results)
    assert list(measured) == [(arch, optimizer) for arch in ARCHITECTURES for optimizer in OPTIMIZERS
                              if (arch, optimizer) != ("lenet5", "adam")]
    b_simple, batch_size, seeds = measured[("mlp300", "sgd", )]["dlr"]
    # Seeds 0 and 1: tr(Sigma) 1.0 and 1.1 times 50 * 0.9^epoch, |G|^2 0.5 * 0.6^epoch in both.
    expected = [1.05 * 50 * 0.9 ** epoch / (0.5 * 0.6 ** epoch) for epoch in range(12)]
    np.testing.assert_allclose(b_simple, expected)
    assert seeds == 2 and list(batch_size) == [4] * 12
    # Seed 0's |G|^2 below 0 at the last epoch: the mean of -0.01 and 0.5 * 0.6^11 is not positive.
    ibs = measured[("mlp300", "sgd")]["ibs"][0]
    assert np.isnan(ibs[-1]) and np.all(np.isfinite(ibs[:-1]))
    assert list(measured[("mlp300", "sgd")]["ibs"][1]) == [4, 4, 4, 20, 20, 20, 100, 100, 100, 500, 500, 500]
    figures.plot_noise_scale_measured(results, "noise_scale_measured.png")
    figure = kept_figures[0]
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert len(panels) == 6
    lenet_adam = next(axes for axes in panels if axes.get_title() == "LeNet-5, Adam")
    assert [text.get_text() for text in lenet_adam.texts] == ["not measured"]
    mlp_sgd = next(axes for axes in panels if axes.get_title() == "300-unit MLP, SGD")
    assert mlp_sgd.get_yscale() == "log" and len(mlp_sgd.lines) >= 6  # B_simple and B for each of 3 schedules.
    np.testing.assert_allclose(mlp_sgd.lines[0].get_ydata(), expected)
    explanation = " ".join(figure.legends[0].get_title().get_text().split())
    assert "a gap: |G|² not resolved above the noise" in explanation
    assert "each from 2 batches of 1,024 images split into batches of 32" in explanation
    assert "drawn without replacement from 4,096 training images per seed" in explanation
    assert "B_simple = tr(Σ) / |G|²" in figure._suptitle.get_text()


def test_a_run_with_a_measured_list_of_the_wrong_length_is_refused(tmp_path):
    results = with_measured_noise(make_results(full_grid_accuracies(), make_config()))
    results["runs"][("mlp300", "sgd", "dlr", 0)]["b_simple"] = [1.0] * 5
    path = write_pickle(tmp_path / "results.pickle", results)
    with pytest.raises(analysis.ResultsError, match="different lengths"):
        analysis.load_results(path)


def test_measuring_is_no_difference_to_comparisons_and_the_breakdown(tmp_path):
    config = make_config(archs=["lenet5"], optimizers=["sgd"])
    finals = {key: value for key, value in full_grid_accuracies().items() if key[:2] == ("lenet5", "sgd")}
    plain = make_results(finals, dict(config))
    measured = with_measured_noise(make_results(finals, dict(config)))
    # The measurement's settings are neither shown nor listed as other differences.
    assert analysis.config_differences(measured["config"], plain["config"]) == ([], [])
    # The same cell trained with and without the measurement is the same experiment: drawn once.
    points, _ = breakdown.breakdown_points([("measured", measured), ("plain", plain)])
    assert sorted(point["schedule"] for point in points["lenet5"]) == ["hyb", "ibs"]


# ---------------------------------------------------------------------------
# Power
# ---------------------------------------------------------------------------

def test_power_of_the_verdicts_matches_its_definition_and_a_simulation():
    import numpy as np
    # At a true difference equal to the margin, "not equivalent" is the one-sided test's level.
    assert equivalence.probability_not_equivalent(0.1, 0.07, 5) == pytest.approx(0.05, abs=1e-4)
    # The smallest detectable difference is where the probability reaches 0.8, above the margin.
    for seeds in (5, 20):
        detectable = equivalence.smallest_detectable_difference(0.07, seeds)
        assert detectable > 0.1
        assert equivalence.probability_not_equivalent(detectable, 0.07, seeds) == pytest.approx(0.8, abs=1e-6)
    assert equivalence.smallest_detectable_difference(0.07, 20) < equivalence.smallest_detectable_difference(0.07, 5)
    # Both against a simulation of the verdicts themselves.
    generator = np.random.default_rng(0)
    for seeds, spread, difference in ((5, 0.1, 0.0), (5, 0.07, 0.2), (20, 0.14, 0.0), (20, 0.1, 0.15)):
        draws = generator.normal(difference, spread, (100_000, seeds))
        verdicts = [equivalence_verdict_of(row) for row in draws[:2000]]
        mean, sd = draws.mean(axis=1), draws.std(axis=1, ddof=1)
        half = stats.t.ppf(0.95, seeds - 1) * sd / math.sqrt(seeds)
        equivalent = np.mean((mean - half > -0.1) & (mean + half < 0.1))
        not_equivalent = np.mean((mean - half > 0.1) | (mean + half < -0.1))
        # The simulated rule is the project's own verdict.
        assert verdicts == ["equivalent" if (m - h > -0.1) and (m + h < 0.1) else "not equivalent"
                            if (m - h > 0.1) or (m + h < -0.1) else "undecided"
                            for m, h in zip(mean[:2000], half[:2000])]
        assert equivalence.probability_equivalent(difference, spread, seeds) == pytest.approx(equivalent, abs=0.005)
        assert equivalence.probability_not_equivalent(difference, spread, seeds) == pytest.approx(
            not_equivalent, abs=0.005)


def equivalence_verdict_of(differences):
    return equivalence.equivalence_test(differences)["verdict"]


def test_power_table_gives_every_comparison_with_its_paired_spread(tmp_path):
    config = make_config(archs=["mlp300"], optimizers=["sgd"], schedules=["dlr", "ibs"], seeds=[0, 1, 2])
    finals = {("mlp300", "sgd", "dlr", seed): 0.97 for seed in range(3)}
    finals.update({("mlp300", "sgd", "ibs", 0): 0.9701, ("mlp300", "sgd", "ibs", 1): 0.9703,
                   ("mlp300", "sgd", "ibs", 2): 0.9699})
    results = make_results(finals, config)
    (row,) = analysis.power_rows(results)
    assert row["paired_seeds"] == 3
    assert row["diff_vs_dlr_pp_sd"] == pytest.approx(0.02, abs=1e-9)
    assert row["detectable_pp_at_5"] == pytest.approx(equivalence.smallest_detectable_difference(0.02, 5))
    assert row["p_equivalent_at_0_at_20"] == pytest.approx(equivalence.probability_equivalent(0, 0.02, 20))
    text = tables.write_power_markdown([row], tmp_path / "power.md", results["config"]).read_text()
    assert "| 300-unit MLP | SGD | increasing batch size (ibs) | 3 | +0.01 | 0.020 |" in text


# ---------------------------------------------------------------------------
# breakdown.png: every study of a folder at once
# ---------------------------------------------------------------------------

def breakdown_folder(root):
    """A folder of studies: the grid (2 seeds) at its root, the same settings again with 3 seeds,
    an exact-noise-scale study with ibs_lr, one with a control schedule, and one with the reset."""
    def study_at(folder, finals, config):
        folder.mkdir(parents=True, exist_ok=True)
        write_pickle(folder / "results.pickle", make_results(finals, config))

    def finals(schedules, seeds, offsets):
        return {("lenet5", "sgd", schedule, seed): 0.98 + offsets.get(schedule, 0.0) + 0.001 * seed
                + (0.0002 * seed if schedule != "dlr" else 0.0)
                for schedule in schedules for seed in seeds}

    grid = dict(archs=["lenet5"], optimizers=["sgd"])
    study_at(root, finals(("dlr", "ibs", "hyb"), (0, 1), {}),
             make_config(schedules=["dlr", "ibs", "hyb"], seeds=[0, 1], **grid))
    study_at(root / "more_seeds", finals(("dlr", "ibs", "hyb"), (0, 1, 2), {"ibs": -0.001}),
             make_config(schedules=["dlr", "ibs", "hyb"], seeds=[0, 1, 2], **grid))
    exact = make_config(schedules=["dlr", "ibs_lr"], seeds=[0, 1], **grid)
    exact["noise_scale"] = "exact"
    study_at(root / "nested" / "exact", finals(("dlr", "ibs_lr"), (0, 1), {"ibs_lr": -0.003}), exact)
    study_at(root / "control", finals(("dlr", "const"), (0, 1), {"const": -0.01}),
             make_config(schedules=["dlr", "const"], seeds=[0, 1], **grid))
    reset = make_config(schedules=["dlr", "ibs"], seeds=[0, 1], **grid)
    reset["original_optimizer_reset"] = True
    study_at(root / "reset", finals(("dlr", "ibs"), (0, 1), {"ibs": -0.005}), reset)
    return root


def test_breakdown_points_take_every_study_once_with_its_largest_batch(tmp_path):
    studies = breakdown.load_studies(breakdown_folder(tmp_path / "studies"))
    assert [name for name, _ in studies] == [".", "control", "more_seeds", "nested/exact", "reset"]
    points, left_out = breakdown.breakdown_points(studies)
    assert left_out == ["reset"]
    drawn = {(point["study"], point["schedule"]): point for point in points["lenet5"]}
    # The root's cells have the settings of more_seeds, which has more seeds: drawn from there, once.
    assert sorted(drawn) == [("control", "const"), ("more_seeds", "hyb"), ("more_seeds", "ibs"),
                             ("nested/exact", "ibs_lr")]
    ibs = drawn[("more_seeds", "ibs")]
    assert ibs["paired_seeds"] == 3 and ibs["batch_fraction"] == pytest.approx(500 / TRAIN_SIZE)
    outcome = equivalence.equivalence_test([-0.1, -0.08, -0.06])
    for key in ("mean", "low", "high", "verdict"):
        assert ibs[key] == pytest.approx(outcome[key]), key
    assert drawn[("more_seeds", "hyb")]["batch_fraction"] == pytest.approx(45 / TRAIN_SIZE)
    assert [(point["form"], point["control"]) for point in (ibs, drawn[("nested/exact", "ibs_lr")],
                                                            drawn[("control", "const")])] == [
        ("approx", False), ("exact", False), ("approx", True)]
    assert drawn[("nested/exact", "ibs_lr")]["batch_fraction"] == pytest.approx(2500 / TRAIN_SIZE)


def test_breakdown_flag_draws_one_figure_from_every_study(tmp_path):
    root = breakdown_folder(tmp_path / "studies")
    out = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--breakdown", str(root), "--out", str(out)])
    assert status == 0 and stderr == ""
    assert sorted(path.name for path in out.iterdir()) == ["breakdown.png"]
    assert_png(out / "breakdown.png")
    assert stdout == (f"wrote {out / 'breakdown.png'} from 4 of the 5 studies under {root}: 4 schedules "
                      "against dlr; left out (the original's optimizer reset): reset\n")
    # Without --out it goes into the folder of studies, and nothing else is written there.
    before = sorted(path.name for path in root.iterdir())
    assert _run_main_capturing(["--breakdown", str(root)])[0] == 0
    assert sorted(path.name for path in root.iterdir()) == sorted(before + ["breakdown.png"])


def test_breakdown_figure_marks_forms_and_controls_and_keeps_its_text_inside(tmp_path, monkeypatch):
    drawn = []
    draw_text = matplotlib.text.Text.draw

    def record(text, renderer):
        drawn.append(text)
        return draw_text(text, renderer)

    kept = []
    monkeypatch.setattr(matplotlib.text.Text, "draw", record)
    monkeypatch.setattr(breakdown, "save", lambda figure, path: kept.append(figure) or Path(path))
    studies = breakdown.load_studies(breakdown_folder(tmp_path / "studies"))
    points, left_out = breakdown.breakdown_points(studies)
    # Three networks, as the committed studies have, widen the figure and crowd its legend.
    points = {arch: [dict(point, architecture=arch) for point in points["lenet5"]] for arch in ARCHITECTURES}
    breakdown.plot_breakdown(points, tmp_path / "breakdown.png", [name for name, _ in studies], left_out)
    figure, = kept
    try:
        assert texts_outside_the_canvas(figure, drawn, "breakdown.png") == []
        panels = [axes for axes in figure.axes if axes.get_visible()]
        assert [axes.get_title() for axes in panels] == [
            f"{study.ARCHITECTURE_NAMES[arch]} (2 to 3 paired seeds)" for arch in ARCHITECTURES]
        assert panels[0].get_xscale() == "log"
        labels = [text.get_text() for text in figure.legends[0].get_texts()]
        assert schedules.schedule_display_name("const") in labels and "control" in schedules.schedule_display_name("const")
        assert "SGD" in labels
        assert "filled: approximate g = lr N / (B (1 − m))" in labels
        assert "hollow: exact g = lr (N/B − 1) / (1 − m)" in labels
        assert "±0.1 pp equivalence margin" in labels
        title = figure.legends[0].get_title().get_text()
        assert "90% Student-t interval" in title and "reset" in title
        # The exact study's marker is hollow, the others filled; the control's bars are dashed.
        lines = [line for line in panels[0].get_lines() if line.get_marker() not in (None, "None", "")]
        faces = {line.get_markerfacecolor() for line in lines}
        assert "white" in faces and len(faces) > 1
        bar_styles = [collection.get_linestyle() for collection in panels[0].collections
                      if isinstance(collection, matplotlib.collections.LineCollection)]
        assert any(dashes for styles in bar_styles for _, dashes in styles)
        assert any(not dashes for styles in bar_styles for _, dashes in styles)
    finally:
        figures.plt.close(figure)


@pytest.mark.parametrize("arguments, message", [
    (["--breakdown", "EMPTY"], "holds no results.pickle"),
    (["--breakdown", "NOWHERE"], "is not a folder"),
])
def test_unusable_breakdown_folders_exit_2_with_one_line(tmp_path, arguments, message):
    (tmp_path / "empty").mkdir()
    arguments = [{"EMPTY": str(tmp_path / "empty"), "NOWHERE": str(tmp_path / "nowhere")}.get(argument, argument)
                 for argument in arguments]
    status, stdout, stderr = _run_main_capturing(arguments)
    assert status == 2 and stdout == "" and len(stderr.splitlines()) == 1 and message in stderr


def test_breakdown_takes_no_baseline(tmp_path):
    stderr = StringIO()
    with redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        plots.parse_arguments(["--breakdown", str(tmp_path), "--baseline", "b.pickle"])
    assert exit_info.value.code == 2 and "takes no --baseline" in stderr.getvalue()


# ---------------------------------------------------------------------------
# Diverged runs
# ---------------------------------------------------------------------------

def test_diverged_runs_are_drawn_named_and_kept_in_the_statistics(tmp_path):
    config = make_config(archs=["mlp300"], optimizers=["sgd"], schedules=["dlr", "ibs"], seeds=[0, 1, 2])
    finals = {("mlp300", "sgd", schedule, seed): 0.97 + 0.001 * seed
              for schedule in ("dlr", "ibs") for seed in range(3)}
    finals[("mlp300", "sgd", "ibs", 2)] = 0.098  # Chance: what a diverged run scores.
    results = make_results(finals, config)
    # One run's training loss overflows, another's test loss is undefined from epoch 5 on.
    results["runs"][("mlp300", "sgd", "ibs", 2)]["train_loss"][4:] = [math.inf] * 8
    results["runs"][("mlp300", "sgd", "ibs", 2)]["test_loss"][4:] = [math.nan] * 8
    results["runs"][("mlp300", "sgd", "dlr", 1)]["train_loss"][-1] = math.nan
    path = write_pickle(tmp_path / "results.pickle", results)
    stdout, stderr = StringIO(), StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        status = plots.main(["--results", str(path)])
    assert status == 0, stderr.getvalue()
    warnings = stderr.getvalue().splitlines()
    assert len(warnings) == 1 and "2 runs diverged" in warnings[0]
    assert "(mlp300, sgd, dlr, 1), (mlp300, sgd, ibs, 2)" in warnings[0]
    for name in ("train_loss_mlp300_sgd.png", "accuracy_epoch_mlp300_sgd.png", "overview.png"):
        assert_png(tmp_path / name)
    summary = (tmp_path / "summary.md").read_text()
    assert "2 runs diverged" in summary
    assert "| 300-unit MLP | SGD | increasing batch size (ibs) | 3 (1 diverged) |" in summary
    # The diverged run stays in the paired statistics: its chance accuracy drags ibs far below dlr.
    ibs_row = next(row for row in analysis.summarize(results) if row["schedule"] == "ibs")
    assert ibs_row["paired_seeds_with_dlr"] == 3 and ibs_row["diff_vs_dlr_pp_mean"] < -25
    assert ibs_row["verdict"] != "equivalent"
