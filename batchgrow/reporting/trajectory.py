"""The second endpoint: does a schedule train like dlr, not only end at its accuracy?

The final test accuracy on MNIST cannot tell apart schedules that train
differently. This module compares the model's own training loss
(study.TRAJECTORY_METRICS: the cross-entropy on a fixed random subset of the
training images, the same for every schedule of a seed, in inference mode, at
the end of every stage) with dlr's:

- per seed, the log ratio ln(L / L_dlr) at the end of every stage that the
  schedule does not share with dlr (a stage is shared while every epoch up
  to its end has dlr's learning rate, batch and momentum; ibs shares the
  first, ibs_lr and ibs_mom none);
- per stage, the paired 90 % Student-t interval of that log ratio, tested
  against the margin ±delta (study.TRAJECTORY_MARGIN) by two one-sided
  t-tests at study.EQUIVALENCE_ALPHA each (equivalence.equivalence_test);
- over the stages, an intersection-union test: "equivalent" when every
  stage's interval lies inside ±delta, "not equivalent" when any stage's lies
  wholly outside it, "undecided" otherwise. The verdict "equivalent" needs
  every stage to pass at level alpha, so its error rate is at most alpha
  without a correction for the number of stages (Berger 1982); a correction
  would only make the test more conservative.

The test loss at the same epochs stands beside the training loss, because
the two can point in opposite directions (Adam). A study recorded before the
metric existed has no trajectory rows. Plain numpy: no TensorFlow.
"""
import dataclasses
import math
from typing import Optional

import numpy as np

from batchgrow.optimizers import ALL_OPTIMIZERS
from batchgrow.reporting.analysis import POWER, group_runs, ordered, run_sort_key
from batchgrow.reporting.equivalence import (equivalence_test, mean_with_confidence_interval,
                                             probability_not_equivalent, smallest_detectable_difference, t_quantile)
from batchgrow.schedules import (ALL_SCHEDULES, CALIBRATION_STAGE, FLOOR_SCHEDULE, LEARNING_RATE_READINGS,
                                 NOISE_SCALE_CALIBRATED, NOISE_SCALE_CONTROLS, REFERENCE_SCHEDULE, schedule_record)
from batchgrow.study import (CALIBRATED_DATA_FINGERPRINT, CALIBRATION_FOLDER, EQUIVALENCE_ALPHA, OWN_MARGINS,
                             SETTING_NAMES, TRAJECTORY_MARGIN, TRAJECTORY_METRICS)

METRIC = TRAJECTORY_METRICS[0]
TRAJECTORY_COLUMNS = (
    "architecture", "optimizer", "schedule", "stage", "epoch", "paired_seeds",
    "train_loss_ratio", "train_loss_ratio_ci90_low", "train_loss_ratio_ci90_high",
    "log_ratio_mean", "log_ratio_ci90_low", "log_ratio_ci90_high", "stage_verdict",
    "test_loss_ratio", "trajectory_verdict",
)
# The per-epoch lists that make an epoch's plan.
PLAN_METRICS = ("learning_rate", "batch_size", "momentum")


def has_trajectory(results):
    """Whether every run of the study recorded the model's training loss."""
    return bool(results["runs"]) and all(METRIC in run for run in results["runs"].values())


def stage_end_epochs(config):
    """The epoch indices (from 0) that end a stage."""
    per_stage = config["epochs_per_stage"]
    return [epoch for epoch in range(per_stage - 1, config["epochs"], per_stage)]


def shared_stages(run, dlr_run, stage_ends):
    """How many leading stages the run shares with dlr's run of its seed: every epoch's plan dlr's."""
    shared = 0
    for end in stage_ends:
        if any(list(run[metric][:end + 1]) != list(dlr_run[metric][:end + 1]) for metric in PLAN_METRICS):
            break
        shared += 1
    return shared


def combine_stage_verdicts(verdicts):
    """The intersection-union verdict over stages: equivalent if all are, not equivalent if any is."""
    if not verdicts or any(verdict is None for verdict in verdicts):
        return None
    if all(verdict == "equivalent" for verdict in verdicts):
        return "equivalent"
    if any(verdict == "not equivalent" for verdict in verdicts):
        return "not equivalent"
    return "undecided"


def _paired_seeds(seed_runs, dlr_runs):
    """The seeds that both the schedule and dlr ran, in order."""
    return sorted(set(seed_runs) & set(dlr_runs))


def _log_ratios(seed_runs, dlr_runs, metric, epoch):
    """Per paired seed, ln(value / dlr's value) at the epoch; NaN where either is not a positive number."""
    pairs = [(seed_runs[seed][metric][epoch], dlr_runs[seed][metric][epoch])
             for seed in _paired_seeds(seed_runs, dlr_runs)]
    return np.array([math.log(value / reference) if value > 0 and reference > 0 else math.nan
                     for value, reference in pairs])


def stage_test(log_ratios, margin, alpha=EQUIVALENCE_ALPHA):
    """TOST of one stage's paired log ratios at ±margin; no interval where a loss was not finite.

    With no margin declared (None) only the mean and interval are given.
    """
    if not np.all(np.isfinite(log_ratios)):
        # A diverged run: its stage has no interval, and the verdict over the stages stays open.
        return dict(mean=None, low=None, high=None, verdict="undecided")
    if margin is None:
        mean, low, high = mean_with_confidence_interval(log_ratios, 1 - 2 * alpha)
        return dict(mean=mean, low=low, high=high, verdict=None)
    return equivalence_test(log_ratios, margin, alpha)


# ----------------------------------------------------------------------------
# The margins a study is judged at, and where they come from
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Margins:
    """The margins δ on ln(L / L_dlr) that a study's "same training" verdicts use.

    sgd is SGD's δ, the yardstick trajectory.md holds every optimizer to;
    own the adaptive optimizers' own, {(optimizer, reading): δ}, one per
    reading of "a two-fold error" (schedules.LEARNING_RATE_READINGS); source
    says where they were calibrated; note, where SGD's δ is missing, the one
    line that says why.
    """
    sgd: Optional[float]
    own: dict
    source: str
    note: Optional[str] = None

    def of(self, reading):
        """{optimizer: δ} under one reading of the adaptive optimizers' rule."""
        return {optimizer: margin for (optimizer, name), margin in self.own.items() if name == reading}


MNIST_SOURCE = "calibrated on MNIST (results/trajectory_calibration, results/calibration_adaptive)"


def calibration_problem(config, calibration_config):
    """Why a calibration cannot judge a study, in one line, or None: it must have the study's data and settings."""
    differing = [name for name in SETTING_NAMES if config.get(name) != calibration_config.get(name)]
    if differing:
        return (f"its calibration ({CALIBRATION_FOLDER}/) was trained with other settings ("
                + ", ".join(f"{name} {calibration_config.get(name)!r}, not {config.get(name)!r}"
                            for name in differing[:3]) + "); train it with the study's command and --calibrate")
    if set(calibration_config.get("seeds") or ()) & set(config.get("seeds") or ()):
        return f"its calibration ({CALIBRATION_FOLDER}/) shares seeds with the study; its controls need seeds of their own"
    return None


def study_margins(config, calibration=None):
    """The Margins of a study with this config; with its own calibration (the results of main.py --calibrate)
    those derived from it by the declared rules, else MNIST's where the data is the vendored MNIST, else none.

    ValueError, in one line, for a calibration of other data or settings, or one with nothing to calibrate.
    """
    if calibration is not None:
        problem = calibration_problem(config, calibration["config"])
        if problem:
            raise ValueError(problem)
        seeds = calibration["config"].get("seeds") or []
        source = (f"calibrated on this study's data by its own controls ({CALIBRATION_FOLDER}/, seeds "
                  f"{min(seeds)} to {max(seeds)})" if seeds else f"calibrated by {CALIBRATION_FOLDER}/")
        sgd = calibration_rows(calibration)[1] if can_calibrate(calibration) else None
        own = optimizer_margins(calibration)[1]
        if sgd is None and not own:
            raise ValueError(f"its calibration ({CALIBRATION_FOLDER}/) gives no margin: no optimizer has dlr and "
                             "every control of its rule with a finite training loss on every network")
        note = None if sgd is not None else (
            f"no verdict at SGD's δ: the calibration has no plain-SGD controls ({', '.join(NOISE_SCALE_CONTROLS)})")
        return Margins(sgd, own, source, note)
    if config.get("data_fingerprint") == CALIBRATED_DATA_FINGERPRINT:
        return Margins(TRAJECTORY_MARGIN, dict(OWN_MARGINS), MNIST_SOURCE)
    name = config.get("data_name") or "this data"
    return Margins(None, {}, "not calibrated", (
        f"no \"same training\" verdict: δ = {TRAJECTORY_MARGIN:g} was calibrated on MNIST, not on {name}; the "
        "intervals are shown, and a verdict needs a calibration on the same data (main.py --calibrate)"))


def trajectory_rows(results, margin):
    """(rows keyed by TRAJECTORY_COLUMNS, {(arch, optimizer, schedule): verdict over its stages}).

    margin is one δ for every optimizer, None for none, or {optimizer: δ},
    which judges those optimizers alone (the others' rows are left out).
    One row per (network, optimizer, schedule) with a dlr to pair with and
    per stage it does not share with dlr; ratios are exp of the mean log
    ratio and of its interval's ends (geometric means over seeds).
    """
    cells = group_runs(results)
    stage_ends = stage_end_epochs(results["config"])
    rows, verdicts = [], {}
    for arch, optimizer, schedule in sorted(cells, key=lambda cell: run_sort_key(cell + (0,))):
        dlr_runs = cells.get((arch, optimizer, REFERENCE_SCHEDULE))
        if schedule == REFERENCE_SCHEDULE or not dlr_runs or (isinstance(margin, dict) and optimizer not in margin):
            continue
        seed_runs = cells[(arch, optimizer, schedule)]
        seeds = _paired_seeds(seed_runs, dlr_runs)
        if not seeds:
            continue
        cell_margin = margin[optimizer] if isinstance(margin, dict) else margin
        # The floor follows dlr's plan from other weights: it shares no stage with dlr.
        shared = 0 if schedule == FLOOR_SCHEDULE else min(
            shared_stages(seed_runs[seed], dlr_runs[seed], stage_ends) for seed in seeds)
        cell_rows = []
        for stage, epoch in enumerate(stage_ends[shared:], start=shared + 1):
            outcome = stage_test(_log_ratios(seed_runs, dlr_runs, METRIC, epoch), cell_margin)
            test_ratios = _log_ratios(seed_runs, dlr_runs, "test_loss", epoch)
            cell_rows.append(dict(
                architecture=arch, optimizer=optimizer, schedule=schedule, stage=stage, epoch=epoch + 1,
                paired_seeds=len(seeds),
                train_loss_ratio=_exp(outcome["mean"]), train_loss_ratio_ci90_low=_exp(outcome["low"]),
                train_loss_ratio_ci90_high=_exp(outcome["high"]), log_ratio_mean=outcome["mean"],
                log_ratio_ci90_low=outcome["low"], log_ratio_ci90_high=outcome["high"],
                stage_verdict=outcome["verdict"],
                test_loss_ratio=_exp(float(np.mean(test_ratios))) if np.all(np.isfinite(test_ratios)) else None))
        verdict = combine_stage_verdicts([row["stage_verdict"] for row in cell_rows])
        for row in cell_rows:
            row["trajectory_verdict"] = verdict
        verdicts[(arch, optimizer, schedule)] = verdict
        rows += cell_rows
    return rows, verdicts


TRAJECTORY_POWER_COLUMNS = (
    "architecture", "optimizer", "schedule", "stage", "paired_seeds", "log_ratio_mean", "log_ratio_sd",
    "detectable_ratio", "detectable_ratio_at_5", "detectable_ratio_at_20",
)


def trajectory_power_rows(results, margin):
    """What the trajectory test can find at the last stage: one row per comparison with dlr, 2 or more seeds.

    The spread is the standard deviation (ddof=1) of the paired log ratios
    at the last stage's end; with it, taking them as normal, the smallest
    true ratio to dlr's loss (above 1) that the stage's test calls "not
    equivalent" with probability 0.8 at the margin, at the study's own number
    of seeds and at 5 and 20.
    """
    cells = group_runs(results)
    last = stage_end_epochs(results["config"])[-1]
    rows = []
    for arch, optimizer, schedule in sorted(cells, key=lambda cell: run_sort_key(cell + (0,))):
        dlr_runs = cells.get((arch, optimizer, REFERENCE_SCHEDULE))
        if schedule == REFERENCE_SCHEDULE or not dlr_runs:
            continue
        log_ratios = _log_ratios(cells[(arch, optimizer, schedule)], dlr_runs, METRIC, last)
        if len(log_ratios) < 2 or not np.all(np.isfinite(log_ratios)):
            continue
        spread = float(np.std(log_ratios, ddof=1))
        row = dict.fromkeys(TRAJECTORY_POWER_COLUMNS)
        row.update(architecture=arch, optimizer=optimizer, schedule=schedule,
                   stage=len(stage_end_epochs(results["config"])), paired_seeds=len(log_ratios),
                   log_ratio_mean=float(np.mean(log_ratios)), log_ratio_sd=spread)
        if spread > 0:
            for suffix, count in (("", len(log_ratios)), ("_at_5", 5), ("_at_20", 20)):
                row["detectable_ratio" + suffix] = math.exp(smallest_detectable_difference(
                    spread, count, POWER, margin=margin))
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------
# The floor: dlr against itself moved by one rounding step
# ----------------------------------------------------------------------------
def reading_column(reading):
    """The column-name form of a reading of the adaptive optimizers' rule ("square-root" -> "square_root")."""
    return reading.replace("-", "_")


FLOOR_COLUMNS = (
    "architecture", "optimizer", "paired_seeds", "accuracy_difference_sd_pp", "smallest_accuracy_margin_pp",
    "widest_stage", "log_ratio_mean", "log_ratio_sd", "smallest_margin", "sgd_margin", "seeds_for_sgd_margin",
    *(f"{kind}_{reading_column(reading)}" for reading in LEARNING_RATE_READINGS
      for kind in ("own_margin", "seeds_for_own_margin")),
)
# The largest number of seeds seeds_needed looks through.
MOST_SEEDS = 10_000


def seeds_needed(stage_statistics, margin, alpha=EQUIVALENCE_ALPHA):
    """The fewest paired seeds n at which every stage's expected interval, |mean| + t(1 - alpha, n - 1) SD / sqrt(n),
    lies inside ±margin, from each stage's (mean, SD); None if no n up to MOST_SEEDS does (a mean at or beyond
    the margin)."""
    if any(abs(mean) >= margin for mean, _ in stage_statistics):
        return None
    for seeds in range(2, MOST_SEEDS + 1):
        factor = t_quantile(1 - 2 * alpha, seeds - 1) / math.sqrt(seeds)
        if all(abs(mean) + factor * spread < margin for mean, spread in stage_statistics):
            return seeds
    return None


def floor_rows(results, margins):
    """One row per (network, optimizer) with dlr and the floor control: the smallest margins its seeds could
    show as equivalent, keyed by FLOOR_COLUMNS.

    On accuracy: the SD of the paired final differences (points) and the
    largest |end| of their 90 % interval. On the training loss: over the
    stage ends, the largest |end| of the 90 % interval of ln(L / L_dlr), the
    smallest δ that these seeds could show as equivalent, at the stage where
    it is reached (its mean and SD given); and, for SGD's δ and the
    optimizer's own under each reading (margins, a Margins), the seeds that
    margin needs (seeds_needed) at every stage.
    """
    cells = group_runs(results)
    stage_ends = stage_end_epochs(results["config"]) if has_trajectory(results) else []
    rows = []
    for arch, optimizer, schedule in sorted(cells, key=lambda cell: run_sort_key(cell + (0,))):
        dlr_runs = cells.get((arch, optimizer, REFERENCE_SCHEDULE))
        if schedule != FLOOR_SCHEDULE or not dlr_runs:
            continue
        floor_runs = cells[(arch, optimizer, schedule)]
        seeds = _paired_seeds(floor_runs, dlr_runs)
        if len(seeds) < 2:
            continue
        accuracy = np.array([100.0 * (floor_runs[seed]["test_accuracy"][-1] - dlr_runs[seed]["test_accuracy"][-1])
                             for seed in seeds])
        _, low, high = mean_with_confidence_interval(accuracy, 1 - 2 * EQUIVALENCE_ALPHA)
        row = dict(architecture=arch, optimizer=optimizer, paired_seeds=len(seeds),
                   accuracy_difference_sd_pp=float(np.std(accuracy, ddof=1)),
                   smallest_accuracy_margin_pp=max(abs(low), abs(high)))
        stages = []
        for stage, epoch in enumerate(stage_ends, start=1):
            log_ratios = _log_ratios(floor_runs, dlr_runs, METRIC, epoch)
            if np.all(np.isfinite(log_ratios)):
                mean, low, high = mean_with_confidence_interval(log_ratios, 1 - 2 * EQUIVALENCE_ALPHA)
                stages.append((max(abs(low), abs(high)), stage, mean, float(np.std(log_ratios, ddof=1))))
        if stages and len(stages) == len(stage_ends):
            widest, stage, mean, spread = max(stages)
            statistics = [(mean, spread) for _, _, mean, spread in stages]
            row.update(widest_stage=stage, log_ratio_mean=mean, log_ratio_sd=spread, smallest_margin=widest,
                       sgd_margin=margins.sgd)
            if margins.sgd is not None:
                row["seeds_for_sgd_margin"] = seeds_needed(statistics, margins.sgd)
            for reading in LEARNING_RATE_READINGS:
                own = margins.own.get((optimizer, reading))
                if own is not None:
                    row[f"own_margin_{reading_column(reading)}"] = own
                    row[f"seeds_for_own_margin_{reading_column(reading)}"] = seeds_needed(statistics, own)
        rows.append({name: row.get(name) for name in FLOOR_COLUMNS})
    return rows


# ----------------------------------------------------------------------------
# The margin's calibration (REPORT.md, "The margin δ")
# ----------------------------------------------------------------------------
SEED_COUNTS = (5, 20)
CALIBRATION_COLUMNS = (
    "architecture", "schedule", "stage", "noise_scale_factor", "paired_seeds", "log_ratio_mean", "log_ratio_sd",
    "probability_not_equivalent_at_5", "probability_not_equivalent_at_20",
)


def can_calibrate(results):
    """Whether the study has plain SGD's dlr and calibration controls, with the model's training loss."""
    cells = group_runs(results)
    return has_trajectory(results) and any(
        (arch, NOISE_SCALE_CALIBRATED, schedule) in cells and (arch, NOISE_SCALE_CALIBRATED, REFERENCE_SCHEDULE) in cells
        for arch, _, _ in cells for schedule in NOISE_SCALE_CONTROLS)


def round_down(value, significant=2):
    """value > 0 rounded down to its first `significant` significant figures (0.04879 -> 0.048)."""
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"only a positive finite number can be rounded down to significant figures, not {value}")
    exponent = math.floor(math.log10(value)) - significant + 1
    return round(math.floor(round(value / 10.0 ** exponent, 9)) * 10.0 ** exponent, max(0, -exponent))


def calibration_rows(results):
    """(rows keyed by CALIBRATION_COLUMNS, delta): the calibration controls and the graded series under SGD.

    delta is the smallest |mean log ratio| of the calibration controls at
    the calibration stage, rounded down to two significant figures. Each
    graded control (ibs_last_{k}x, the last stage's g times k) gets its
    last-stage mean and spread and, taking its log ratios as normal with
    those, the chance that the test at ±delta calls it "not equivalent" at
    5 and at 20 seeds. ValueError when the study has nothing to calibrate from.
    """
    if not can_calibrate(results):
        raise ValueError("the study has no plain-SGD runs of dlr and of ibs_fast or ibs_slow with the model's "
                         "training loss to calibrate from")
    rows, _ = trajectory_rows(results, None)
    last_stage = len(stage_end_epochs(results["config"]))
    margin_rows, graded_rows = [], []
    for row in rows:
        if row["optimizer"] != NOISE_SCALE_CALIBRATED or row["log_ratio_mean"] is None:
            continue
        factor = schedule_record(row["schedule"]).last_stage_mismatch
        if row["schedule"] in NOISE_SCALE_CONTROLS and row["stage"] == CALIBRATION_STAGE:
            margin_rows.append((row, NOISE_SCALE_CONTROLS[row["schedule"]]))
        elif factor is not None and row["stage"] == last_stage:
            graded_rows.append((row, factor))
    # The rule takes both controls on every network that has them; one without a finite mean (a diverged
    # run) would leave the margin resting on fewer, so the study cannot calibrate.
    found = {(row["architecture"], row["schedule"]) for row, _ in margin_rows}
    cells = group_runs(results)
    wanted = {(arch, schedule) for arch, optimizer, schedule in cells
              if optimizer == NOISE_SCALE_CALIBRATED and schedule in NOISE_SCALE_CONTROLS}
    if wanted - found or not found:
        raise ValueError("the calibration needs a finite stage-2 mean of " + ", ".join(
            f"{arch}/{schedule}" for arch, schedule in sorted(wanted - found)) + " with the model's training loss")
    margin = round_down(min(abs(row["log_ratio_mean"]) for row, _ in margin_rows))
    calibration = []
    for row, factor in margin_rows + graded_rows:
        log_ratios = _log_ratios(cells[(row["architecture"], NOISE_SCALE_CALIBRATED, row["schedule"])],
                                 cells[(row["architecture"], NOISE_SCALE_CALIBRATED, REFERENCE_SCHEDULE)], METRIC,
                                 row["epoch"] - 1)
        spread = float(np.std(log_ratios, ddof=1)) if len(log_ratios) > 1 else None
        entry = dict(architecture=row["architecture"], schedule=row["schedule"], stage=row["stage"],
                     noise_scale_factor=factor, paired_seeds=row["paired_seeds"],
                     log_ratio_mean=row["log_ratio_mean"], log_ratio_sd=spread)
        for count in SEED_COUNTS:
            entry[f"probability_not_equivalent_at_{count}"] = _chance_not_equivalent(
                row["log_ratio_mean"], spread, count, margin)
        calibration.append(entry)
    return calibration, margin


# The margin per optimizer: SGD's rule with the learning rate as the knob (docs/predictions/
# calibration_adaptive.md), by each reading of "a two-fold error in one stage's noise"
# (schedules.LEARNING_RATE_READINGS).
MARGIN_COLUMNS = (
    "optimizer", "reading", "architecture", "schedule", "learning_rate_factor", "paired_seeds", "log_ratio_mean",
    "log_ratio_ci90_low", "log_ratio_ci90_high", "log_ratio_sd",
)


def optimizer_margins(results):
    """(rows keyed by MARGIN_COLUMNS, {(optimizer, reading): delta}): δ per optimizer and reading of the rule.

    For every optimizer with dlr and a reading's controls on every network that has dlr, δ is the smallest
    |mean ln(L / L_dlr)| at the calibration stage's end over the networks and the reading's controls, rounded
    down to two significant figures; a reading missing a control on a network, or with a loss that is not
    finite, gives no δ. Each row is one control's stage: its mean, 90 % interval and SD.
    """
    cells = group_runs(results)
    epoch = stage_end_epochs(results["config"])[CALIBRATION_STAGE - 1] if has_trajectory(results) else None
    rows, margins = [], {}
    optimizers = ordered([optimizer for _, optimizer, _ in cells], ALL_OPTIMIZERS)
    for optimizer in optimizers:
        networks = [arch for arch, code, schedule in cells if code == optimizer and schedule == REFERENCE_SCHEDULE]
        for reading, controls in LEARNING_RATE_READINGS.items():
            means = []
            for arch in sorted(networks, key=lambda name: run_sort_key((name, optimizer, REFERENCE_SCHEDULE, 0))):
                for schedule, factor in controls.items():
                    if epoch is None or (arch, optimizer, schedule) not in cells:
                        continue
                    log_ratios = _log_ratios(cells[(arch, optimizer, schedule)],
                                             cells[(arch, optimizer, REFERENCE_SCHEDULE)], METRIC, epoch)
                    if len(log_ratios) < 2 or not np.all(np.isfinite(log_ratios)):
                        means.append(None)
                        continue
                    mean, low, high = mean_with_confidence_interval(log_ratios, 1 - 2 * EQUIVALENCE_ALPHA)
                    means.append(mean)
                    rows.append(dict(optimizer=optimizer, reading=reading, architecture=arch, schedule=schedule,
                                     learning_rate_factor=factor, paired_seeds=len(log_ratios),
                                     log_ratio_mean=mean, log_ratio_ci90_low=low, log_ratio_ci90_high=high,
                                     log_ratio_sd=float(np.std(log_ratios, ddof=1))))
            if means and len(means) == len(networks) * len(controls) and None not in means:
                margins[(optimizer, reading)] = round_down(min(abs(mean) for mean in means))
    return rows, margins


# ----------------------------------------------------------------------------
# Three yardsticks: accuracy, SGD's δ and the optimizer's own
# ----------------------------------------------------------------------------
YARDSTICK_COLUMNS = (
    "architecture", "optimizer", "schedule", "paired_seeds", "accuracy_verdict", "last_stage_ratio",
    "last_stage_ratio_ci90_low", "last_stage_ratio_ci90_high", "sgd_margin", "sgd_margin_verdict",
    *(f"{kind}_{reading_column(reading)}" for reading in LEARNING_RATE_READINGS
      for kind in ("own_margin", "own_margin_verdict")),
)


def own_margin_rows(results, margins):
    """{reading: trajectory_rows's rows at each optimizer's own δ under that reading}, for the optimizers that
    have one; {} where none does."""
    return {reading: trajectory_rows(results, margins.of(reading))[0]
            for reading in LEARNING_RATE_READINGS if margins.of(reading)}


def yardstick_rows(summary_rows, sgd_rows, own_rows, margins):
    """One row per (network, optimizer, schedule) compared with dlr, for the optimizers with their own δ:
    the verdict on the final accuracy (summary_rows, analysis.summarize's), the last stage's loss ratio to
    dlr's [90 % interval], and the verdict over the stages at SGD's δ (sgd_rows, trajectory_rows's at
    margins.sgd) and at the optimizer's own under each reading (own_rows, own_margin_rows's); keyed by
    YARDSTICK_COLUMNS."""
    optimizers = {optimizer for optimizer, _ in margins.own}

    def last_rows(rows):
        """{cell: its last stage's row}: rows come stage by stage within a cell."""
        return {(row["architecture"], row["optimizer"], row["schedule"]): row for row in rows
                if row["optimizer"] in optimizers}

    accuracy = {(row["architecture"], row["optimizer"], row["schedule"]): row["verdict"] for row in summary_rows}
    own = {reading: last_rows(rows) for reading, rows in own_rows.items()}
    table = []
    for cell, row in last_rows(sgd_rows).items():
        entry = dict(architecture=cell[0], optimizer=cell[1], schedule=cell[2], paired_seeds=row["paired_seeds"],
                     accuracy_verdict=accuracy.get(cell), last_stage_ratio=row["train_loss_ratio"],
                     last_stage_ratio_ci90_low=row["train_loss_ratio_ci90_low"],
                     last_stage_ratio_ci90_high=row["train_loss_ratio_ci90_high"], sgd_margin=margins.sgd,
                     sgd_margin_verdict=row["trajectory_verdict"])
        for reading in LEARNING_RATE_READINGS:
            judged = own.get(reading, {}).get(cell)
            entry[f"own_margin_{reading_column(reading)}"] = margins.own.get((cell[1], reading))
            entry[f"own_margin_verdict_{reading_column(reading)}"] = judged and judged["trajectory_verdict"]
        table.append({name: entry.get(name) for name in YARDSTICK_COLUMNS})
    return table


def _chance_not_equivalent(mean, spread, seeds, margin):
    """The chance of "not equivalent"; without a spread it is certain beyond the margin and nil within."""
    if spread is None:
        return None
    if spread == 0:
        return 1.0 if abs(mean) > margin else 0.0
    return probability_not_equivalent(mean, spread, seeds, margin)


def noise_scale_resolution(rows, architecture=None):
    """{seeds: the smallest k of the graded series called "not equivalent" with chance 0.8 on every network}.

    With an architecture, on that network alone. None for a seed count at
    which no k of the series reaches it.
    """
    graded = [row for row in rows if row["schedule"] not in NOISE_SCALE_CONTROLS
              and architecture in (None, row["architecture"])]
    # A factor counts only where every network has its row: one left out (a diverged run) is not passed.
    networks = {row["architecture"] for row in rows if architecture in (None, row["architecture"])}
    resolution = {}
    for count in SEED_COUNTS:
        found = [factor for factor in sorted({row["noise_scale_factor"] for row in graded})
                 if {row["architecture"] for row in graded if row["noise_scale_factor"] == factor} == networks
                 and all((row[f"probability_not_equivalent_at_{count}"] or 0) >= POWER
                         for row in graded if row["noise_scale_factor"] == factor)]
        resolution[count] = found[0] if found else None
    return resolution


def _exp(value):
    return None if value is None else math.exp(value)


def loss_curves(results):
    """{(arch, optimizer): {schedule: (stage-end epochs from 1, geometric mean loss, seeds)}} of each cell."""
    cells = group_runs(results)
    stage_ends = stage_end_epochs(results["config"])
    curves = {}
    for arch, optimizer, schedule in cells:
        seed_runs = cells[(arch, optimizer, schedule)]
        losses = np.array([[run[METRIC][epoch] for epoch in stage_ends] for run in seed_runs.values()], dtype=float)
        with np.errstate(divide="ignore", invalid="ignore"):
            mean = np.exp(np.mean(np.log(losses), axis=0))
        curves.setdefault((arch, optimizer), {})[schedule] = (np.array(stage_ends) + 1, mean, len(seed_runs))
    return {cell: {schedule: by_schedule[schedule] for schedule in ordered(by_schedule, ALL_SCHEDULES)}
            for cell, by_schedule in curves.items()}
