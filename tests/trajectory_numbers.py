"""The numbers and facts the documents quote about the second endpoint, the model's training loss.

Computed here from the committed pickles with numpy and scipy, not with
trajectory.py: per seed the log ratio ln(L / L_dlr) of `full_train_loss` at a
stage's end, its paired 90 % Student-t interval, the verdict against the
margin that the calibration rule gives (recomputed here too), and the
verdict over the stages a schedule does not share with dlr. quoted_numbers.py
adds QUOTES to the documents' numbers; the facts register in document_numbers.FACTS.
"""

import math

import numpy as np
from scipy import optimize, stats

from document_numbers import ARCHITECTURES, Quote, fact, paired_differences, study, verdict
import study as study_module

CALIBRATION = "trajectory_calibration"
GRADED = ("ibs_last_1_5x", "ibs_last_2x", "ibs_last_4x", "ibs_last_8x")
MLPS = ("mlp300", "mlp500_150")
PLAN = ("learning_rate", "batch_size", "momentum")


def stage_end_epochs(name):
    config = study(name)["config"]
    return list(range(config["epochs_per_stage"] - 1, config["epochs"], config["epochs_per_stage"]))


def seed_pairs(name, arch, optimizer, schedule):
    """[(run, dlr's run)] of every seed both have."""
    runs = study(name)["runs"]
    return [(run, runs[(arch, optimizer, "dlr", seed)]) for (a, o, s, seed), run in sorted(runs.items())
            if (a, o, s) == (arch, optimizer, schedule) and (arch, optimizer, "dlr", seed) in runs]


def log_ratios(name, arch, optimizer, schedule, stage):
    """Per seed, ln(L / L_dlr) of the model's training loss at the end of stage (from 1)."""
    epoch = stage_end_epochs(name)[stage - 1]
    return np.array([math.log(run["full_train_loss"][epoch] / dlr["full_train_loss"][epoch])
                     for run, dlr in seed_pairs(name, arch, optimizer, schedule)])


def compared_stages(name, arch, optimizer, schedule):
    """The stages (from 1) at whose end the schedule's plan so far is not dlr's, in some seed."""
    pairs = seed_pairs(name, arch, optimizer, schedule)
    return [stage for stage, epoch in enumerate(stage_end_epochs(name), start=1)
            if any(list(run[metric][:epoch + 1]) != list(dlr[metric][:epoch + 1])
                   for run, dlr in pairs for metric in PLAN)]


def geometric_ratio(name, arch, optimizer, schedule, stage):
    return math.exp(float(np.mean(log_ratios(name, arch, optimizer, schedule, stage))))


def calibrated_margin():
    """The rule: the smallest |mean log ratio| of plain SGD's ibs_fast and ibs_slow at stage 2, two figures down."""
    smallest = min(abs(float(np.mean(log_ratios(CALIBRATION, arch, "sgd", schedule, 2))))
                   for arch in ARCHITECTURES for schedule in ("ibs_fast", "ibs_slow"))
    decimals = 1 - math.floor(math.log10(smallest))
    return smallest, math.floor(smallest * 10 ** decimals) / 10 ** decimals


def stage_verdict(values, margin):
    half = stats.t.ppf(0.95, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values))
    low, high = np.mean(values) - half, np.mean(values) + half
    if -margin < low and high < margin:
        return "equivalent"
    return "not equivalent" if low > margin or high < -margin else "undecided"


def trajectory_verdict(name, arch, optimizer, schedule):
    margin = calibrated_margin()[1]
    verdicts = [stage_verdict(log_ratios(name, arch, optimizer, schedule, stage), margin)
                for stage in compared_stages(name, arch, optimizer, schedule)]
    if all(found == "equivalent" for found in verdicts):
        return "equivalent"
    return "not equivalent" if "not equivalent" in verdicts else "undecided"


def chance(mean, spread, seeds, margin):
    """The chance of "not equivalent" at the margin for normal log ratios of this mean and SD."""
    critical, scale = stats.t.ppf(0.95, seeds - 1), math.sqrt(seeds) / spread
    return float(stats.nct.sf(critical, seeds - 1, (mean - margin) * scale)
                 + stats.nct.sf(critical, seeds - 1, -(mean + margin) * scale))


def chance_not_equivalent(arch, schedule, seeds, stage=4):
    """chance() with a calibration cell's own mean and SD at the stage's end."""
    values = log_ratios(CALIBRATION, arch, "sgd", schedule, stage)
    return chance(float(np.mean(values)), float(np.std(values, ddof=1)), seeds, calibrated_margin()[1])


def detectable_ratio(arch, schedule, seeds=5):
    """The last-stage loss ratio (above 1) found "not equivalent" with chance 0.8, at this cell's SD."""
    spread, margin = float(np.std(log_ratios(CALIBRATION, arch, "sgd", schedule, 4), ddof=1)), calibrated_margin()[1]
    return math.exp(optimize.brentq(lambda mean: chance(mean, spread, seeds, margin) - 0.8, margin, margin + 1))


def dlr_last_stage_fall():
    """dlr's own loss at the end of the last stage over its loss at the end of the one before, per network."""
    runs = study(CALIBRATION)["runs"]
    third, last = stage_end_epochs(CALIBRATION)[-2:]
    return [math.exp(float(np.mean([math.log(run["full_train_loss"][last] / run["full_train_loss"][third])
                                    for key, run in runs.items() if key[:3] == (arch, "sgd", "dlr")])))
            for arch in ARCHITECTURES]


# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------


@fact
def declared_margin_is_the_calibrated_one():
    """study.TRAJECTORY_MARGIN is what the calibration rule gives on the committed calibration runs."""
    return study_module.TRAJECTORY_MARGIN == calibrated_margin()[1]


@fact
def sgd_ibs_trains_like_dlr_on_every_network():
    """Plain SGD's ibs is equivalent to dlr on both endpoints on every network of the calibration."""
    return all(trajectory_verdict(CALIBRATION, arch, "sgd", "ibs") == "equivalent"
               and verdict(paired_differences(CALIBRATION, arch, "sgd", "ibs")) == "equivalent"
               for arch in ARCHITECTURES)


@fact
def lenet5_ibs_fast_and_slow_undecided_on_accuracy_but_not_equivalent_in_training():
    return all(verdict(paired_differences(CALIBRATION, "lenet5", "sgd", schedule)) == "undecided"
               and trajectory_verdict(CALIBRATION, "lenet5", "sgd", schedule) == "not equivalent"
               for schedule in ("ibs_fast", "ibs_slow"))


@fact
def graded_series_resolved_on_no_mlp():
    """On both MLPs no k of the graded series reaches a chance of 0.8 at 5 or 20 seeds; on LeNet-5 8 does."""
    return (all(chance_not_equivalent(arch, schedule, seeds) < 0.8
                for arch in MLPS for schedule in GRADED for seeds in (5, 20))
            and all(chance_not_equivalent("lenet5", "ibs_last_8x", seeds) >= 0.8 for seeds in (5, 20)))


@fact
def mlp300_ibs_last_8x_differs_in_accuracy_not_in_training():
    return (verdict(paired_differences(CALIBRATION, "mlp300", "sgd", "ibs_last_8x")) == "not equivalent"
            and trajectory_verdict(CALIBRATION, "mlp300", "sgd", "ibs_last_8x") == "equivalent")


# ---------------------------------------------------------------------------
# Numbers
# ---------------------------------------------------------------------------

def _ratio_range(values, digits=3, prefix=""):
    return f"{prefix}{min(values):.{digits}f} to {prefix}{max(values):.{digits}f}"


QUOTES = [
    Quote(("trajectory_calibration.runs",), lambda: [len(study(CALIBRATION)["runs"])]),
    Quote(("trajectory_calibration.smallest_effect", "trajectory_calibration.delta",
           "trajectory_calibration.delta_ratio_range"),
          lambda: [f"{calibrated_margin()[0]:.4f}", f"{calibrated_margin()[1]:g}",
                   _ratio_range([math.exp(-calibrated_margin()[1]), math.exp(calibrated_margin()[1])])]),
    Quote(("trajectory_calibration.sgd_ibs_largest_stage_gap_pct",),
          lambda: [f"{100 * max(abs(geometric_ratio(CALIBRATION, arch, 'sgd', 'ibs', stage) - 1) for arch in ARCHITECTURES for stage in compared_stages(CALIBRATION, arch, 'sgd', 'ibs')):.1f}"]),
    Quote(("trajectory_calibration.graded_last_stage_ratio_range",),
          lambda: [_ratio_range([geometric_ratio(CALIBRATION, arch, "sgd", schedule, 4)
                                 for arch in ARCHITECTURES for schedule in GRADED])]),
    Quote(("trajectory_calibration.lenet5_ibs_last_8x_chance_at_5",),
          lambda: [f"{chance_not_equivalent('lenet5', 'ibs_last_8x', 5):.2f}"]),
    Quote(("trajectory_calibration.detectable_at_5_range", "trajectory_calibration.detectable_below_at_5_range"),
          lambda: [_ratio_range([detectable_ratio(arch, schedule) for arch in ARCHITECTURES
                                 for schedule in ("ibs",) + GRADED], prefix="×"),
                   _ratio_range([1 / detectable_ratio(arch, schedule) for arch in ARCHITECTURES
                                 for schedule in ("ibs",) + GRADED], prefix="×")]),
    Quote(("trajectory_calibration.dlr_last_stage_fall_pct",),
          lambda: [_ratio_range([100 * (1 - ratio) for ratio in dlr_last_stage_fall()], digits=1)]),
]


# ---------------------------------------------------------------------------
# Adam's own rule: the forecast declared before results/adam_rule and results/adam_rule_betas
# ---------------------------------------------------------------------------
RULE, RULE_BETAS = "adam_rule", "adam_rule_betas"
ADAPTIVE = ("adam", "rmsprop")


def last_stage_distance(name, arch, optimizer, schedule):
    """|mean ln(L / L_dlr)| at the end of the last stage."""
    return abs(float(np.mean(log_ratios(name, arch, optimizer, schedule, len(stage_end_epochs(name))))))


@fact
def adam_rule_forecast_1_held():
    """SGD: ibs and hyb equivalent in training on every network, seesaw and dlr_sqrt not equivalent."""
    return all(trajectory_verdict(RULE, arch, "sgd", schedule) == "equivalent"
               for arch in ARCHITECTURES for schedule in ("ibs", "hyb")) and all(
        trajectory_verdict(RULE, arch, "sgd", schedule) == "not equivalent"
        for arch in ARCHITECTURES for schedule in ("seesaw", "dlr_sqrt"))


def forecast_2_betas_held(optimizer):
    return (sum(trajectory_verdict(RULE, arch, optimizer, "ibs") == "not equivalent" for arch in ARCHITECTURES) >= 2
            and all(trajectory_verdict(RULE, arch, optimizer, "seesaw") == "not equivalent"
                    and last_stage_distance(RULE, arch, optimizer, "seesaw")
                    > last_stage_distance(RULE, arch, optimizer, "ibs") for arch in ARCHITECTURES))


def last_ln_ratio(name, arch, optimizer, schedule):
    return float(np.mean(log_ratios(name, arch, optimizer, schedule, len(stage_end_epochs(name)))))


def forecast_3_half_lives(optimizer):
    """Seesaw with half-lives nearer dlr than seesaw with β held and than ibs with half-lives; ibs with
    half-lives below dlr, and "towards dlr_sqrt": nearer dlr_sqrt's last-stage ratio than ibs with β held."""
    return all(last_stage_distance(RULE_BETAS, arch, optimizer, "seesaw")
               < min(last_stage_distance(RULE, arch, optimizer, "seesaw"),
                     last_stage_distance(RULE_BETAS, arch, optimizer, "ibs"))
               and last_ln_ratio(RULE_BETAS, arch, optimizer, "ibs") < 0
               and abs(last_ln_ratio(RULE_BETAS, arch, optimizer, "ibs")
                       - last_ln_ratio(RULE_BETAS, arch, optimizer, "dlr_sqrt"))
               < abs(last_ln_ratio(RULE, arch, optimizer, "ibs") - last_ln_ratio(RULE, arch, optimizer, "dlr_sqrt"))
               for arch in ARCHITECTURES)


def last_stage_ratios(name, optimizers, schedules):
    return [math.exp(last_ln_ratio(name, arch, optimizer, schedule))
            for arch in ARCHITECTURES for optimizer in optimizers for schedule in schedules]


@fact
def adam_rule_no_adaptive_schedule_trains_like_dlr():
    return all(trajectory_verdict(RULE, arch, optimizer, schedule) == "not equivalent" for arch in ARCHITECTURES
               for optimizer in ADAPTIVE for schedule in ("ibs", "hyb", "seesaw", "dlr_sqrt"))


@fact
def adam_rule_forecast_2_held_for_adam():
    return forecast_2_betas_held("adam")


@fact
def adam_rule_rmsprop_every_schedule_ends_below_dlr():
    return max(last_stage_ratios(RULE, ("rmsprop",), ("ibs", "hyb", "seesaw", "dlr_sqrt"))) < 1


@fact
def adam_rule_forecast_2_failed_for_rmsprop():
    """Not forecast 2 for RMSprop, and why: seesaw ends nearer dlr than ibs on every network."""
    return not forecast_2_betas_held("rmsprop") and all(
        last_stage_distance(RULE, arch, "rmsprop", "seesaw") < last_stage_distance(RULE, arch, "rmsprop", "ibs")
        for arch in ARCHITECTURES)


QUOTES += [
    Quote(("adam_rule.runs",), lambda: [len(study(RULE)["runs"])]),
    Quote(("adam_rule.sgd_seesaw_dlr_sqrt_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE, ("sgd",), ("seesaw", "dlr_sqrt")))]),
    Quote(("adam_rule.adam_ibs_last_stage_range",), lambda: [_ratio_range(last_stage_ratios(RULE, ("adam",), ("ibs",)))]),
    Quote(("adam_rule.adam_seesaw_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE, ("adam",), ("seesaw",)))]),
    Quote(("adam_rule.rmsprop_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE, ("rmsprop",), ("ibs", "hyb", "seesaw", "dlr_sqrt")))]),
]


@fact
def adam_rule_betas_no_schedule_trains_like_dlr():
    return all(trajectory_verdict(RULE_BETAS, arch, optimizer, schedule) == "not equivalent"
               for arch in ARCHITECTURES for optimizer in ADAPTIVE for schedule in ("ibs", "hyb", "seesaw", "dlr_sqrt"))


QUOTES += [
    Quote(("adam_rule_betas.runs",), lambda: [len(study(RULE_BETAS)["runs"])]),
    Quote(("adam_rule_betas.adam_seesaw_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE_BETAS, ("adam",), ("seesaw",)))]),
    Quote(("adam_rule_betas.rmsprop_seesaw_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE_BETAS, ("rmsprop",), ("seesaw",)))]),
]


@fact
def adam_rule_betas_forecast_3_held_for_adam_and_rmsprop():
    return all(forecast_3_half_lives(optimizer) for optimizer in ADAPTIVE)


@fact
def adam_rule_betas_seesaw_equivalent_on_accuracy_everywhere():
    return all(verdict(paired_differences(RULE_BETAS, arch, optimizer, "seesaw")) == "equivalent"
               for arch in ARCHITECTURES for optimizer in ADAPTIVE)


QUOTES += [
    Quote(("adam_rule.rmsprop_seesaw_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE, ("rmsprop",), ("seesaw",)))]),
]
