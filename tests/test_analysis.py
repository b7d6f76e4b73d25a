"""Tests of analysis.py and equivalence.py: the rows every table and figure shows, and the statistics of a verdict.

The results are synthetic.py's, whose numbers are worked out by hand in the
comments; scipy's Student t distribution is the reference for the intervals.
"""
import csv
import math

import numpy as np
import pytest
from scipy import stats

from batchgrow.reporting import analysis
from batchgrow.reporting import breakdown
from batchgrow.reporting import equivalence
from batchgrow.reporting import figures
from batchgrow import optimizers
from batchgrow import schedules
from batchgrow import study
from batchgrow.reporting import tables
from synthetic import (PAPER_SCHEDULES, TRAIN_SIZE, full_grid_accuracies, hand_computed_comparison_pickles,
                       make_complete_config, make_config, make_results, paper_grid_accuracies, with_measured_noise,
                       write_pickle)


# t_{0.975, 2} in closed form: with two degrees of freedom the t distribution
# function is 1/2 + t / (2 sqrt(2 + t^2)), which is 0.975 at this t.
T_975_TWO_DEGREES = math.sqrt(2 * 0.95 ** 2 / (1 - 0.95 ** 2))


def t_quantile_975(degrees_of_freedom):
    """Two-sided 95% Student t quantile, t_{0.975, df}, through the project's t_quantile."""
    return equivalence.t_quantile(0.95, degrees_of_freedom)


def equivalence_verdict_of(differences):
    return equivalence.equivalence_test(differences)["verdict"]


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
    dlr, ibs, hyb = (scales[("sgd", schedule)] for schedule in schedules.SCHEDULES)
    assert dlr[0] == pytest.approx(0.01 * TRAIN_SIZE / 4)
    assert ibs == pytest.approx(dlr)
    assert hyb == pytest.approx(dlr, rel=0.01)


def test_noise_scale_divides_by_one_minus_momentum_for_sgd_but_not_for_adam():
    results = make_results(paper_grid_accuracies(archs=["lenet5"], seeds=(0,)),
                           make_complete_config(archs=["lenet5"], seeds=[0]), with_momentum=True)
    scales = analysis.noise_scales(results)
    # Plain SGD at lr 0.01 and batch 4; momentum and Nesterov at lr 0.001 and
    # m = 0.9 have the same g = 0.001 N / (4 * 0.1).
    first_stage = 0.01 * TRAIN_SIZE / 4
    matched = [code for code in optimizers.ALL_OPTIMIZERS if optimizers.optimizer_record(code).noise_scale_applies]
    assert matched == ["sgd", "momentum", "nesterov"]
    for optimizer in matched:
        dlr = scales[(optimizer, "dlr")]
        assert dlr[0] == pytest.approx(first_stage), optimizer
        assert dlr[-1] == pytest.approx(first_stage / 125), optimizer
        assert scales[(optimizer, "ibs")] == pytest.approx(dlr)
        # ibs_lr: 5 times the rate at 5 times the batch.
        assert scales[(optimizer, "ibs_lr")] == pytest.approx(dlr)
    for optimizer in optimizers.MOMENTUM_OPTIMIZERS:
        # ibs_mom: 5 times the batch and 1 - m = 0.02, 5 times smaller.
        assert scales[(optimizer, "ibs_mom")] == pytest.approx(scales[(optimizer, "dlr")])
        assert scales[(optimizer, "ibs_mom")][0] == pytest.approx(0.001 * TRAIN_SIZE
                                                                  / (20 * 0.02))
    # Adam's beta_1 is recorded as its momentum but stays out of lr * N / B.
    assert scales[("adam", "dlr")][0] == pytest.approx(0.001 * TRAIN_SIZE / 4)
    gaps = figures._noise_gaps_to_dlr(scales, "momentum", list(PAPER_SCHEDULES))
    assert gaps == ["ibs 0.0%", "hyb 0.6% (batch size rounded)", "ibs_lr 0.0%", "ibs_mom 0.0%"]


def test_missing_runs_include_the_listed_ones_outside_the_selection():
    results = make_results({("lenet5", "sgd", "dlr", 0): 0.98},
                           make_config(archs=["lenet5"], optimizers=["sgd"],
                                       schedules=["dlr"], seeds=[0]),
                           missing=[["mlp300", "adam", "ibs", 3]])
    assert analysis.missing_runs(results) == [("mlp300", "adam", "ibs", 3)]


def test_missing_runs_leave_out_ibs_mom_for_optimizers_without_momentum():
    config = make_complete_config(archs=["lenet5"], optimizers=["sgd", "momentum"],
                                  schedules=["dlr", "ibs_mom"], seeds=[0])
    results = make_results({("lenet5", "sgd", "dlr", 0): 0.98}, config)
    assert analysis.missing_runs(results) == [("lenet5", "momentum", "dlr", 0),
                                              ("lenet5", "momentum", "ibs_mom", 0)]


def test_runs_with_a_momentum_list_load_and_a_bad_one_is_refused(tmp_path):
    results = make_results({("lenet5", "nesterov", "ibs_mom", 0): 0.98},
                           make_complete_config(archs=["lenet5"], optimizers=["nesterov"],
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


def test_runs_without_a_momentum_list_are_migrated_from_the_settings():
    config = make_complete_config(archs=["lenet5"], optimizers=["sgd", "momentum", "adam"],
                                  schedules=["dlr"], seeds=[0])
    results = make_results({("lenet5", optimizer, "dlr", 0): 0.98
                            for optimizer in ("sgd", "momentum", "adam")}, config)
    runs = results["runs"]
    assert runs[("lenet5", "sgd", "dlr", 0)]["momentum"] == [0.0] * 12
    assert runs[("lenet5", "momentum", "dlr", 0)]["momentum"] == [0.9] * 12
    assert runs[("lenet5", "adam", "dlr", 0)]["momentum"] == [0.9] * 12
    assert analysis.noise_scales(results)[("momentum", "dlr")][0] == pytest.approx(
        0.001 * TRAIN_SIZE / (4 * 0.1))
    # A coefficient the pickle's config sets is the one its runs without a momentum list had.
    config["momentum_coefficient"] = 0.5
    results = make_results({("lenet5", "momentum", "dlr", 0): 0.98}, config)
    assert results["runs"][("lenet5", "momentum", "dlr", 0)]["momentum"] == [0.5] * 12


def test_a_run_with_a_measured_list_of_the_wrong_length_is_refused(tmp_path):
    results = with_measured_noise(make_results(full_grid_accuracies(), make_config()))
    results["runs"][("mlp300", "sgd", "dlr", 0)]["b_simple"] = [1.0] * 5
    path = write_pickle(tmp_path / "results.pickle", results)
    with pytest.raises(analysis.ResultsError, match="different lengths"):
        analysis.load_results(path)


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
    markdown = tables.write_comparison_markdown(rows, tmp_path / "comparison.md", "results.pickle",
                                                "baseline.pickle", config, config).read_text()
    assert sentence in markdown
    assert "| +0.80 (one paired seed) | +3.1 (of 0.26 pp over 4 seeds) |" in markdown
    assert "| - (1 baseline seed) |" in markdown
    with tables.write_comparison_csv(rows, tmp_path / "comparison.csv").open() as handle:
        dlr_row = next(csv.DictReader(handle))
    assert float(dlr_row["baseline_all_seeds_std_pp"]) == pytest.approx(std, abs=1e-6)
    assert float(dlr_row["diff_in_baseline_stds"]) == pytest.approx(0.8 / std, abs=1e-5)
    assert dlr_row["within_two_baseline_stds"] == "False"


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


def test_cost_of_fewer_updates_pairs_each_schedule_with_dlr_by_seed():
    finals = {("lenet5", "sgd", "dlr", 0): 0.9800, ("lenet5", "sgd", "dlr", 1): 0.9810,
              ("lenet5", "sgd", "dlr", 2): 0.9790,
              ("lenet5", "sgd", "ibs", 0): 0.9830, ("lenet5", "sgd", "ibs", 1): 0.9825,
              ("lenet5", "sgd", "ibs", 2): 0.9835,
              # Seed 3 has no dlr partner and must not count.
              ("lenet5", "sgd", "ibs_lr", 0): 0.9780, ("lenet5", "sgd", "ibs_lr", 3): 0.5,
              # An architecture with dlr only and one without dlr have no points.
              ("mlp300", "sgd", "dlr", 0): 0.97, ("mlp500_150", "sgd", "ibs", 0): 0.97}
    results = make_results(finals, make_complete_config(optimizers=["sgd"], seeds=range(4)))
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


def test_verdicts_kept_sets_each_sides_verdict_beside_its_twin():
    def row(schedule, results, baseline, baseline_schedule=None):
        return dict(dict.fromkeys(analysis.COMPARISON_COLUMNS), architecture="mlp300", optimizer="sgd",
                    schedule=schedule, baseline_schedule=baseline_schedule or schedule,
                    results_verdict_against_reference=results, baseline_verdict_against_reference=baseline)
    rows = [row("dlr", None, None), row("ibs", "equivalent", "equivalent"), row("hyb", "undecided", "equivalent"),
            # A schedule set against another is no twin: its verdicts are not compared.
            row("ibs", "equivalent", "undecided", baseline_schedule="ibs_mom")]
    same, changed = analysis.verdicts_kept(rows)
    assert same == [("mlp300", "sgd", "ibs")]
    assert changed == [(("mlp300", "sgd", "hyb"), "undecided", "equivalent")]
