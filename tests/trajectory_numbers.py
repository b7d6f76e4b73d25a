"""The numbers and facts the documents quote about the second endpoint, the model's training loss.

Computed here from the committed pickles with numpy and scipy, not with
trajectory.py: per seed the log ratio ln(L / L_dlr) of `full_train_loss` at a
stage's end, its paired 90 % Student-t interval, the verdict against the
margin that the calibration rule gives (recomputed here too), and the
verdict over the stages a schedule does not share with dlr. quoted_numbers.py
merges QUOTES and FACTS into the documents' lists.
"""

import csv
import math
from pathlib import Path

import numpy as np
from scipy import stats

from document_numbers import (ARCHITECTURES, PROJECT_DIR, STUDIES, Quote, paired_differences, study,
                              verdict)
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
    """The stages (from 1) at whose end the schedule's plan so far is not dlr's, in every seed."""
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


def chance_not_equivalent(arch, schedule, seeds, stage=4):
    """The chance of "not equivalent" at the margin for normal log ratios with this cell's mean and SD."""
    values = log_ratios(CALIBRATION, arch, "sgd", schedule, stage)
    margin, spread, mean = calibrated_margin()[1], float(np.std(values, ddof=1)), float(np.mean(values))
    critical, scale = stats.t.ppf(0.95, seeds - 1), math.sqrt(seeds) / spread
    return float(stats.nct.sf(critical, seeds - 1, (mean - margin) * scale)
                 + stats.nct.sf(critical, seeds - 1, -(mean + margin) * scale))


def committed_trajectory_power(name, schedules):
    """The committed trajectory_power.csv's detectable ratios at 5 seeds of these schedules."""
    with open(PROJECT_DIR / Path(STUDIES[name]).parent / "trajectory_power.csv", newline="") as handle:
        return [float(row["detectable_ratio_at_5"]) for row in csv.DictReader(handle) if row["schedule"] in schedules]


# ---------------------------------------------------------------------------
# Facts
# ---------------------------------------------------------------------------
FACTS = {}


def fact(predicate):
    FACTS[predicate.__name__] = predicate
    return predicate


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
    Quote(("trajectory_calibration.detectable_at_5_range",),
          lambda: [_ratio_range(committed_trajectory_power(CALIBRATION, ("ibs",) + GRADED), prefix="×")]),
]
