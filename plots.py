"""Figures and summary tables for the "increase the batch size" MNIST replication.

Reads the results pickle that main.py writes and draws, into one folder:

- accuracy_epoch_{arch}_{optimizer}.png    test accuracy against epoch
- accuracy_updates_{arch}_{optimizer}.png  test accuracy against parameter updates
- accuracy_seconds_{arch}_{optimizer}.png  test accuracy against wall seconds
- train_loss_{arch}_{optimizer}.png        training loss against epoch
- schedules.png                            learning rate, batch size and, when runs
                                           have momentum, its coefficient per epoch
- noise_scale.png                          noise scale g = lr * N / (B * (1 - m)) per epoch
                                           (lr * N / B for Adam, for comparison)
- overview.png                             all architecture x optimizer panels
- cost_of_fewer_updates_{optimizer}.png    final accuracy minus dlr against parameter
                                           updates, per architecture, with the
                                           equivalence margin
- summary.csv and summary.md               final accuracies, paired differences from
                                           dlr and an equivalence verdict for each
- stages.csv and stages.md                 the difference from dlr at the end of every
                                           stage, beside that stage's batch size as a
                                           fraction of the training set
- comparison.csv and comparison.md         only with --baseline: results minus baseline

Usage:

    python plots.py                                   # reads results/results.pickle
    python plots.py --results other.pickle --out figures/
    python plots.py --results new/results.pickle --baseline results/results.pickle

With --baseline PATH (a second results pickle), comparison.csv and
comparison.md hold, for every (architecture, optimizer, schedule) cell that
both pickles have, the final test accuracy of results minus that of the
baseline, paired by seed (seeds present in both), in percentage points, with a
95% Student-t confidence interval, and that difference in units of the
baseline's seed-to-seed standard deviation; comparison.md and the command line
say how many cells differ by at most two of them.

A partial pickle (some runs still missing) is drawn as far as it goes, and the
missing runs are listed. This module uses only numpy, scipy, matplotlib, the
standard library and safe_pickle.py: it never imports TensorFlow, Keras or
main.py.
"""

import argparse
import csv
import math
import sys
import textwrap
from fractions import Fraction
from pathlib import Path

import matplotlib

# Agg draws straight to PNG files and works without a display.
matplotlib.use("Agg")
import matplotlib.font_manager  # noqa: E402  (the backend must be chosen first)
import matplotlib.patches  # noqa: E402
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from scipy import stats  # noqa: E402

import safe_pickle  # noqa: E402  (reads pickles without running their code)

DEFAULT_RESULTS = Path("results/results.pickle")
DPI = 130

# Human names, in the order figures and tables list them.
ARCHITECTURE_NAMES = {"mlp300": "300-unit MLP", "mlp500_150": "500-150 MLP", "lenet5": "LeNet-5"}
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov",
                   "adam": "Adam"}
SCHEDULE_NAMES = {
    "dlr": "decaying learning rate (dlr)",
    "ibs": "increasing batch size (ibs)",
    "hyb": "hybrid (hyb)",
    "ibs_lr": "increased learning rate (ibs_lr)",
    "ibs_mom": "increased momentum (ibs_mom)",
}
# The optimizers whose noise scale the paper's argument covers; for them the
# momentum coefficient m enters as g = lr * N / (B * (1 - m)).
SGD_FAMILY = ("sgd", "momentum", "nesterov")
# ibs_mom raises the momentum coefficient, so main.py runs it only with the
# optimizers that have one; other pairs are never asked for.
SCHEDULE_OPTIMIZERS = {"ibs_mom": ("momentum", "nesterov")}

# One fixed look per schedule in every figure (colour-blind-safe colours).
# dlr is drawn wide with open markers and ibs narrow and dashed on top of it,
# so that the two stay visible where they coincide, as their noise scales do.
SCHEDULE_STYLES = {
    "dlr": dict(color="#0072B2", linestyle="-", linewidth=2.8, marker="o", markersize=8,
                markerfacecolor="none", markeredgewidth=1.5),
    "ibs": dict(color="#D55E00", linestyle="--", linewidth=1.6, marker="s", markersize=4),
    "hyb": dict(color="#009E73", linestyle="-.", linewidth=1.6, marker="^", markersize=5),
    # ibs_lr and ibs_mom share their batch sizes and ibs_mom shares ibs's
    # learning rate, so each has its own dash pattern and marker shape besides
    # its colour, and the lines stay apart where they coincide.
    "ibs_lr": dict(color="#CC79A7", linestyle=(0, (1, 1.5)), linewidth=2.0, marker="D",
                   markersize=5),
    "ibs_mom": dict(color="#E69F00", linestyle=(0, (6, 2, 1, 2, 1, 2)), linewidth=1.6,
                    marker="v", markersize=6),
}

RUN_METRICS = ("test_accuracy", "test_loss", "train_loss", "learning_rate", "batch_size",
               "updates", "seconds")
# Per-epoch lists that newer runs carry and older ones lack.
OPTIONAL_RUN_METRICS = ("momentum",)

# Two schedules count as equivalent when their final test accuracies differ by
# less than this many percentage points (README.md, "Findings", says why this
# margin), shown by two one-sided paired t-tests at EQUIVALENCE_ALPHA each.
EQUIVALENCE_MARGIN_PP = 0.1
EQUIVALENCE_ALPHA = 0.05
# The verdicts of that test, in the order tables and tallies list them.
VERDICTS = ("equivalent", "undecided", "not equivalent")

SUMMARY_COLUMNS = (
    "architecture", "optimizer", "schedule", "seeds",
    "final_test_accuracy_mean", "final_test_accuracy_std", "best_epoch_test_accuracy_mean",
    "parameter_updates", "wall_seconds_mean",
    "paired_seeds_with_dlr", "diff_vs_dlr_pp_mean", "diff_vs_dlr_pp_ci95_low",
    "diff_vs_dlr_pp_ci95_high", "diff_vs_dlr_pp_ci90_low", "diff_vs_dlr_pp_ci90_high",
    "tost_p_value", "equivalence_margin_pp", "verdict",
)

COMPARISON_COLUMNS = (
    "architecture", "optimizer", "schedule", "paired_seeds",
    "diff_pp_mean", "diff_pp_ci95_low", "diff_pp_ci95_high",
    "results_final_test_accuracy_percent_mean", "results_final_test_accuracy_percent_std",
    "baseline_final_test_accuracy_percent_mean", "baseline_final_test_accuracy_percent_std",
    "baseline_all_seeds", "baseline_all_seeds_std_pp", "diff_in_baseline_stds",
    "within_two_baseline_stds",
)
# A cell agrees with the baseline when its mean difference is at most this
# many of the baseline's seed-to-seed standard deviations.
BASELINE_AGREEMENT_STDS = 2

# Config keys that may differ between compared pickles without being listed as
# "other differences": provenance (command, versions, machine), the selection of
# runs (the rows show which cells and seeds are shared), and the keys below.
COMPARISON_UNLISTED_KEYS = {
    "command", "versions", "machine", "original_optimizer_reset", "archs", "optimizers",
    "schedules", "seeds", "data_fingerprint", "train_size", "base_batch_size",
}
# Config keys whose two values are always shown when they differ.
COMPARISON_VALUE_KEYS = ("original_optimizer_reset", "train_size", "base_batch_size", "data_fingerprint")


class ResultsError(Exception):
    """The results file is missing, unreadable or not shaped like main.py's output."""


# ---------------------------------------------------------------------------
# Reading and checking the results
# ---------------------------------------------------------------------------

def load_results(path, option="--results"):
    """Return the results dict stored at path, after checking its shape.

    Raises ResultsError with a one-line reason when the file is missing,
    is not a pickle, or does not hold what main.py writes. The option is the
    command-line flag the path came from, named in the hint of the message.
    """
    path = Path(path)
    if not path.exists():
        raise ResultsError(f"{path} does not exist; run python main.py first "
                           f"(or pass {option} PATH)")
    try:
        results = safe_pickle.load(path)
    except safe_pickle.RefusedPickle as error:
        raise ResultsError(f"{path} was refused because it names something other than plain "
                           f"data, and none of its code was run ({error}); run python main.py "
                           "to write it") from None
    # Unpickling arbitrary bytes can fail with almost any exception type.
    except Exception as error:  # noqa: BLE001
        reason = str(error) or type(error).__name__
        raise ResultsError(f"cannot read {path} as a results pickle ({reason}); "
                           "run python main.py to write it") from None
    problem = _shape_problem(results)
    if problem:
        raise ResultsError(f"{path} is not a results pickle from main.py: {problem}; "
                           "run python main.py to write it again")
    return results


def _shape_problem(results):
    """Describe the first way results differs from main.py's schema, or return None."""
    if not isinstance(results, dict):
        return f"it holds a {type(results).__name__}, not a dict"
    if not isinstance(results.get("config"), dict):
        return "it has no 'config' dict"
    train_size = results["config"].get("train_size")
    if not isinstance(train_size, (int, np.integer)) or train_size <= 0:
        return "config has no positive integer 'train_size'"
    if not isinstance(results.get("runs"), dict):
        return "it has no 'runs' dict"
    for key, run in results["runs"].items():
        if not (isinstance(key, tuple) and len(key) == 4):
            return f"run key {key!r} is not an (arch, optimizer, schedule, seed) tuple"
        if not isinstance(run, dict):
            return f"run {key!r} is not a dict of per-epoch lists"
        lengths = set()
        for metric in RUN_METRICS + OPTIONAL_RUN_METRICS:
            if metric not in run:
                if metric in OPTIONAL_RUN_METRICS:
                    continue
                return f"run {key!r} has no '{metric}' list"
            try:
                values = np.asarray(run[metric], dtype=float)
            except (TypeError, ValueError):
                return f"run {key!r} has a '{metric}' that is not a list of numbers"
            if values.ndim != 1 or len(values) == 0:
                return f"run {key!r} has a '{metric}' that is not a non-empty list"
            lengths.add(len(values))
        if len(lengths) > 1:
            return f"run {key!r} has per-epoch lists of different lengths"
    missing = results.get("missing", [])
    if not isinstance(missing, (list, tuple)) or not all(
            isinstance(key, (list, tuple)) and len(key) == 4 for key in missing):
        return "'missing' is not a list of (arch, optimizer, schedule, seed) tuples"
    return None


def _rank(code, names):
    """Sort key that puts codes in the order of the names dict, unknown codes last."""
    known = list(names)
    return (known.index(code) if code in known else len(known), str(code))


def ordered(codes, names):
    """Return the distinct codes in the order of the names dict, unknown codes last."""
    return sorted(set(codes), key=lambda code: _rank(code, names))


def group_runs(results):
    """Return {(arch, optimizer, schedule): {seed: run}} for every finished run."""
    cells = {}
    for (arch, optimizer, schedule, seed), run in results["runs"].items():
        cells.setdefault((arch, optimizer, schedule), {})[seed] = run
    return cells


def selected_architectures_and_optimizers(results):
    """Architectures and optimizers that were asked for or have runs, in display order."""
    config = results["config"]
    keys = list(results["runs"])
    architectures = ordered(list(config.get("archs", [])) + [key[0] for key in keys],
                            ARCHITECTURE_NAMES)
    optimizers = ordered(list(config.get("optimizers", [])) + [key[1] for key in keys],
                         OPTIMIZER_NAMES)
    return architectures, optimizers


def missing_runs(results):
    """Return the sorted (arch, optimizer, schedule, seed) runs asked for but not finished.

    These are the runs listed under "missing" plus every run of the config's
    selection (archs x optimizers x schedules x seeds) that has no entry in
    "runs", leaving out the pairs of schedule and optimizer that main.py
    cannot run (SCHEDULE_OPTIMIZERS).
    """
    config = results["config"]
    finished = set(results["runs"])
    missing = {tuple(key) for key in results.get("missing", [])}
    for arch in config.get("archs", []):
        for optimizer in config.get("optimizers", []):
            for schedule in config.get("schedules", []):
                if optimizer not in SCHEDULE_OPTIMIZERS.get(schedule, (optimizer,)):
                    continue
                for seed in config.get("seeds", []):
                    missing.add((arch, optimizer, schedule, seed))
    return sorted(missing - finished, key=_run_sort_key)


def _run_sort_key(key):
    arch, optimizer, schedule, seed = key
    seed_rank = (0, seed, "") if isinstance(seed, (int, np.integer)) else (1, 0, str(seed))
    return (_rank(arch, ARCHITECTURE_NAMES), _rank(optimizer, OPTIMIZER_NAMES),
            _rank(schedule, SCHEDULE_NAMES), seed_rank)


# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------

def cell_statistics(seed_runs, metric):
    """Per-epoch mean, standard deviation (ddof=1; None for one seed) and seed count.

    Runs of one cell normally have equal length; if not, all are cut to the
    shortest so that every epoch averages the same seeds.
    """
    length = min(len(run[metric]) for run in seed_runs.values())
    values = np.array([np.asarray(run[metric], dtype=float)[:length]
                       for run in seed_runs.values()])
    standard_deviation = values.std(axis=0, ddof=1) if len(values) > 1 else None
    return values.mean(axis=0), standard_deviation, len(values)


def t_quantile(confidence, degrees_of_freedom):
    """Two-sided Student t quantile: the t with probability confidence between -t and t."""
    if degrees_of_freedom < 1:
        raise ValueError("a t quantile needs at least one degree of freedom")
    return float(stats.t.ppf(0.5 + confidence / 2, degrees_of_freedom))


def t_quantile_975(degrees_of_freedom):
    """Two-sided 95% Student t quantile, t_{0.975, df}."""
    return t_quantile(0.95, degrees_of_freedom)


def mean_with_confidence_interval(values, confidence=0.95):
    """Return (mean, low, high) of a Student t interval; low and high are None for one value."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, None, None
    half_width = (t_quantile(confidence, len(values) - 1) * values.std(ddof=1)
                  / math.sqrt(len(values)))
    return mean, mean - half_width, mean + half_width


def equivalence_test(differences, margin=EQUIVALENCE_MARGIN_PP, alpha=EQUIVALENCE_ALPHA):
    """Two one-sided t-tests (TOST) of paired differences against the margin ±margin.

    Returns a dict with the mean, the (1 - 2 alpha) interval (low, high), the
    TOST p-value (the larger of the p-values of "mean > -margin" and "mean <
    margin") and the verdict: "equivalent" when the interval lies inside
    (-margin, +margin), which is the same as a p-value below alpha; "not
    equivalent" when it lies wholly outside [-margin, +margin], so that the
    difference exceeds the margin at alpha, one-sided; otherwise "undecided".
    With fewer than two differences there is no spread to test with, and
    everything but the mean is None.
    """
    differences = np.asarray(differences, dtype=float)
    mean, low, high = mean_with_confidence_interval(differences, 1 - 2 * alpha)
    outcome = dict(mean=mean, low=low, high=high, p_value=None, verdict=None)
    if low is None:
        return outcome
    degrees_of_freedom = len(differences) - 1
    standard_error = float(differences.std(ddof=1)) / math.sqrt(len(differences))
    p_above_lower = float(stats.t.sf(_t_statistic(mean + margin, standard_error),
                                     degrees_of_freedom))
    p_below_upper = float(stats.t.cdf(_t_statistic(mean - margin, standard_error),
                                      degrees_of_freedom))
    if -margin < low and high < margin:
        verdict = "equivalent"
    elif low > margin or high < -margin:
        verdict = "not equivalent"
    else:
        verdict = "undecided"
    outcome.update(p_value=max(p_above_lower, p_below_upper), verdict=verdict)
    return outcome


def _t_statistic(distance, standard_error):
    """distance / standard_error, which for identical differences is infinite or zero."""
    if standard_error > 0:
        return distance / standard_error
    return math.copysign(math.inf, distance) if distance != 0 else 0.0


def paired_differences_from_dlr(cells, arch, optimizer, schedule, epoch=-1):
    """(seeds, differences): a schedule's test accuracy minus dlr's at one epoch, paired by seed.

    Differences are in percentage points, over the seeds both cells have,
    in the order of their text; with no dlr cell both lists are empty.
    """
    seed_runs = cells[(arch, optimizer, schedule)]
    reference = cells.get((arch, optimizer, "dlr"), {})
    seeds = sorted((seed for seed in seed_runs if seed in reference), key=str)
    return seeds, [100.0 * (float(seed_runs[seed]["test_accuracy"][epoch])
                            - float(reference[seed]["test_accuracy"][epoch])) for seed in seeds]


def summarize(results):
    """Return one row dict per (arch, optimizer, schedule) with runs, keyed by SUMMARY_COLUMNS.

    Accuracies are fractions; differences from dlr are in percentage points,
    paired by seed. Missing values (a std of one seed, an interval of one
    pair, the difference of dlr from itself) are None.
    """
    cells = group_runs(results)
    architectures, optimizers = selected_architectures_and_optimizers(results)
    rows = []
    for arch in architectures:
        for optimizer in optimizers:
            schedules = ordered([key[2] for key in cells if key[:2] == (arch, optimizer)],
                                SCHEDULE_NAMES)
            for schedule in schedules:
                rows.append(_summary_row(cells, arch, optimizer, schedule))
    return rows


STAGE_COLUMNS = (
    "architecture", "optimizer", "schedule", "stage", "epoch", "batch_size", "batch_fraction_of_train_size",
    "paired_seeds", "diff_vs_dlr_pp_mean", "diff_vs_dlr_pp_ci90_low", "diff_vs_dlr_pp_ci90_high", "verdict",
)


def stage_differences(results):
    """Return one row per (arch, optimizer, schedule other than dlr, stage), keyed by STAGE_COLUMNS.

    Each row holds the paired difference from dlr in test accuracy at the
    last epoch of the stage (percentage points), its 90% interval and the
    equivalence verdict there, beside the stage's batch size and that batch
    as a fraction of the training set. Read down a schedule's rows, they
    show at which batch size a gap to dlr opens, if one does.
    """
    config = results["config"]
    epochs_per_stage = config.get("epochs_per_stage", 3)
    train_size = config["train_size"]
    cells = group_runs(results)
    rows = []
    for arch, optimizer, schedule in sorted(cells, key=lambda cell: _run_sort_key(cell + (0,))):
        seed_runs = cells[(arch, optimizer, schedule)]
        seeds, _ = paired_differences_from_dlr(cells, arch, optimizer, schedule)
        if schedule == "dlr" or not seeds:
            continue
        reference = cells[(arch, optimizer, "dlr")]
        epochs = min(len(run["test_accuracy"]) for run in list(seed_runs.values()) + list(reference.values()))
        for stage, epoch in enumerate(range(epochs_per_stage - 1, epochs, epochs_per_stage)):
            _, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule, epoch)
            outcome = equivalence_test(differences)
            batch_size = int(seed_runs[seeds[0]]["batch_size"][epoch])
            rows.append(dict(
                architecture=arch, optimizer=optimizer, schedule=schedule, stage=stage + 1, epoch=epoch + 1,
                batch_size=batch_size, batch_fraction_of_train_size=batch_size / train_size,
                paired_seeds=len(seeds), diff_vs_dlr_pp_mean=outcome["mean"],
                diff_vs_dlr_pp_ci90_low=outcome["low"], diff_vs_dlr_pp_ci90_high=outcome["high"],
                verdict=outcome["verdict"]))
    return rows


def write_stages_markdown(rows, path, config):
    """Write stage_differences rows as a Markdown table, one line per schedule, one column per stage."""
    lines = [
        f"# Where the schedules part from dlr{_reset_suffix(config)}",
        "",
        f"MNIST, N = {config['train_size']:,} training images. Each cell is the difference from dlr in test "
        "accuracy at the end of a stage, paired by seed, in percentage points: mean [90% Student-t interval], "
        "with the equivalence verdict at the margin of "
        f"±{EQUIVALENCE_MARGIN_PP:g} pp (E equivalent, U undecided, N not equivalent), under the schedule's "
        "batch size in that stage as a fraction of N. Read along a row to see at which batch size a gap "
        "opens, if one does.",
        "",
    ]
    by_schedule = {}
    for row in rows:
        by_schedule.setdefault((row["architecture"], row["optimizer"], row["schedule"]), []).append(row)
    stages = max((len(stage_rows) for stage_rows in by_schedule.values()), default=0)
    lines += ["| Architecture | Optimizer | Schedule | Seeds | "
              + " | ".join(f"Stage {stage}" for stage in range(1, stages + 1)) + " |",
              "|---|---|---|---:|" + "---:|" * stages]
    letters = {"equivalent": "E", "undecided": "U", "not equivalent": "N", None: "-"}
    for (arch, optimizer, schedule), stage_rows in by_schedule.items():
        cells = []
        for row in stage_rows:
            fraction = Fraction(row["batch_size"], config["train_size"])
            text = f"B = {row['batch_size']:,} (N/{fraction.denominator:,})" if fraction.numerator == 1 else \
                f"B = {row['batch_size']:,} ({float(fraction):.3g} N)"
            if row["diff_vs_dlr_pp_ci90_low"] is None:
                text += f": {row['diff_vs_dlr_pp_mean']:+.2f}"
            else:
                text += (f": {row['diff_vs_dlr_pp_mean']:+.2f} [{row['diff_vs_dlr_pp_ci90_low']:+.2f}, "
                         f"{row['diff_vs_dlr_pp_ci90_high']:+.2f}] {letters[row['verdict']]}")
            cells.append(text)
        lines.append("| " + " | ".join([ARCHITECTURE_NAMES.get(arch, str(arch)),
                                         OPTIMIZER_NAMES.get(optimizer, str(optimizer)),
                                         SCHEDULE_NAMES.get(schedule, str(schedule)),
                                         str(stage_rows[0]["paired_seeds"])] + cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _summary_row(cells, arch, optimizer, schedule):
    seed_runs = cells[(arch, optimizer, schedule)]
    seeds = sorted(seed_runs, key=str)
    final_accuracies = np.array([seed_runs[seed]["test_accuracy"][-1] for seed in seeds],
                                dtype=float)
    best_accuracies = [max(seed_runs[seed]["test_accuracy"]) for seed in seeds]
    row = dict.fromkeys(SUMMARY_COLUMNS)
    row.update(
        architecture=arch,
        optimizer=optimizer,
        schedule=schedule,
        seeds=len(seeds),
        final_test_accuracy_mean=float(final_accuracies.mean()),
        final_test_accuracy_std=(float(final_accuracies.std(ddof=1))
                                 if len(seeds) > 1 else None),
        best_epoch_test_accuracy_mean=float(np.mean(best_accuracies)),
        # Every seed of a cell takes the same number of steps, so one run tells it.
        parameter_updates=int(seed_runs[seeds[0]]["updates"][-1]),
        wall_seconds_mean=float(np.mean([seed_runs[seed]["seconds"][-1] for seed in seeds])),
    )
    paired_seeds, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule)
    if schedule != "dlr" and paired_seeds:
        mean, low, high = mean_with_confidence_interval(differences)
        row.update(paired_seeds_with_dlr=len(paired_seeds), diff_vs_dlr_pp_mean=mean,
                   diff_vs_dlr_pp_ci95_low=low, diff_vs_dlr_pp_ci95_high=high)
        equivalence = equivalence_test(differences)
        if equivalence["verdict"] is not None:
            row.update(diff_vs_dlr_pp_ci90_low=equivalence["low"],
                       diff_vs_dlr_pp_ci90_high=equivalence["high"],
                       tost_p_value=equivalence["p_value"],
                       equivalence_margin_pp=EQUIVALENCE_MARGIN_PP,
                       verdict=equivalence["verdict"])
    return row


def verdict_counts(rows):
    """Tally the equivalence verdicts of summary rows against dlr.

    Returns (counts, not_shown_equivalent): counts maps each of VERDICTS, and
    "no verdict" (a comparison with fewer than two paired seeds), to its
    number of comparisons; not_shown_equivalent lists (architecture,
    optimizer, schedule, verdict) for every comparison whose verdict is
    "undecided" or "not equivalent", in display order. dlr rows are no
    comparison and count nowhere.
    """
    counts = dict.fromkeys(VERDICTS + ("no verdict",), 0)
    not_shown_equivalent = []
    for row in rows:
        if row["schedule"] == "dlr" or row["paired_seeds_with_dlr"] is None:
            continue
        verdict = row["verdict"] or "no verdict"
        counts[verdict] += 1
        if verdict in ("undecided", "not equivalent"):
            not_shown_equivalent.append(
                (row["architecture"], row["optimizer"], row["schedule"], verdict))
    return counts, not_shown_equivalent


def describe_verdict_counts(counts, not_shown_equivalent):
    """One line that tallies the verdicts and names the comparisons not shown equivalent."""
    tally = ", ".join(f"{counts[verdict]} {verdict}" for verdict in VERDICTS)
    if counts["no verdict"]:
        tally += f", {counts['no verdict']} without a verdict (fewer than 2 paired seeds)"
    line = (f"verdicts against dlr (TOST, margin ±{EQUIVALENCE_MARGIN_PP:g} pp, "
            f"alpha {EQUIVALENCE_ALPHA:g}): {tally}")
    if not_shown_equivalent:
        line += "; not shown equivalent: " + ", ".join(
            f"{arch} {optimizer} {schedule} ({verdict})"
            for arch, optimizer, schedule, verdict in not_shown_equivalent)
    return line


# ---------------------------------------------------------------------------
# Provenance: the machines and library versions that trained the runs
# ---------------------------------------------------------------------------

NOT_RECORDED = "not recorded"


def training_machines(config, provenance, keys=None):
    """Return [(machine, runs)] for the machines that trained the runs, most runs first.

    provenance is results["provenance"] ({run key: record or None}); keys
    limits the count to those runs (default: every run it lists). A run
    without a record (its file predates provenance) counts as "not recorded".
    Without provenance the config's "machines" list, else its "machine", is
    used and the run counts are None (not known); [] when neither exists.
    This is never the machine that runs plots.py.
    """
    if provenance is not None:
        keys = list(provenance) if keys is None else keys
        counts = {}
        for key in keys:
            record = provenance.get(key)
            machine = record.get("machine") if isinstance(record, dict) else None
            machine = machine or NOT_RECORDED
            counts[machine] = counts.get(machine, 0) + 1
        return sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    machines = config.get("machines")
    if not machines and config.get("machine"):
        machines = [config["machine"]]
    return [(str(machine), None) for machine in machines or []]


def describe_machines(machine_counts):
    """"A" for one machine, "mixed: A (n runs); B (m runs)" for several, "" for none.

    Machines are separated by semicolons, as main.py joins them, because a
    machine's own description holds commas.
    """
    if not machine_counts:
        return ""
    if len(machine_counts) == 1:
        return machine_counts[0][0]
    return "mixed: " + "; ".join(machine + (f" ({_runs_text(runs)})" if runs is not None else "")
                                 for machine, runs in machine_counts)


def _runs_text(count):
    return f"{count} run{'s' if count != 1 else ''}"


def training_versions(config, provenance, keys=None):
    """Return {package: text} of the library versions that trained the runs.

    From provenance, each package's versions with their run counts where
    they differ ("2.20.0 (30 runs) / 2.21.0 (60 runs)"); runs without a
    record are left out. Without provenance, or with no record in it, the
    config's "versions" (which main.py already joins with " / ").
    """
    if provenance is not None:
        keys = list(provenance) if keys is None else keys
        found = {}
        for key in keys:
            record = provenance.get(key)
            versions = record.get("versions", {}) if isinstance(record, dict) else {}
            for package, version in versions.items():
                by_version = found.setdefault(package, {})
                by_version[str(version)] = by_version.get(str(version), 0) + 1
        if found:
            return {package: (next(iter(by_version)) if len(by_version) == 1 else " / ".join(
                        f"{version} ({_runs_text(count)})"
                        for version, count in sorted(by_version.items())))
                    for package, by_version in found.items()}
    return {str(package): str(version) for package, version in
            (config.get("versions") or {}).items()}


def provenance_sentence(config, provenance):
    """The summary's sentence naming the machines and library versions that trained the runs."""
    machine_counts = training_machines(config, provenance)
    versions = training_versions(config, provenance)
    if not machine_counts or (len(machine_counts) == 1
                              and machine_counts[0][0] == NOT_RECORDED):
        machines_text = "The machine that trained the runs is not recorded"
    elif len(machine_counts) == 1:
        machine, runs = machine_counts[0]
        machines_text = f"The runs were trained on {machine}" + (
            f" (all {_runs_text(runs)})" if runs is not None else "")
    else:
        machines_text = ("The runs were trained on several machines: "
                         + describe_machines(machine_counts).removeprefix("mixed: "))
    if versions:
        versions_text = "Library versions: " + ", ".join(
            f"{package} {version}" for package, version in versions.items())
    else:
        versions_text = "The library versions are not recorded"
    return f"{machines_text}. {versions_text}."


# ---------------------------------------------------------------------------
# Summary files
# ---------------------------------------------------------------------------

def write_csv(rows, path, columns):
    """Write rows as CSV with plain numbers, one column per name in columns."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: _csv_value(row[column]) for column in columns})
    return Path(path)


def write_summary_csv(rows, path):
    """Write summary rows as CSV (accuracy as fractions, differences in pp)."""
    return write_csv(rows, path, SUMMARY_COLUMNS)


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return value


def write_summary_markdown(rows, path, config, provenance=None):
    """Write rows as a Markdown table in percent, with a header saying what the numbers mean.

    provenance is results["provenance"], from which the header names the
    machines and library versions that trained the runs (else the config's).
    """
    seed_counts = sorted({row["seeds"] for row in rows})
    seeds_text = (f"{seed_counts[0]} seed{'s' if seed_counts[0] != 1 else ''}"
                  if len(seed_counts) == 1 else
                  f"{seed_counts[0]} to {seed_counts[-1]} seeds per row")
    reset_text = (" Runs reproduce the original code's optimizer reset every epoch for "
                  "dlr and hyb." if config.get("original_optimizer_reset") else "")
    lines = [
        f"# Summary{_reset_suffix(config)}",
        "",
        f"MNIST, {config['train_size']:,} training images, "
        f"{config.get('epochs', config.get('num_stages', 4) * config.get('epochs_per_stage', 3))}"
        " epochs, "
        f"{seeds_text}.{reset_text} Accuracies are test accuracy in percent, mean ± standard "
        "deviation across seeds (ddof=1). Final: after the last epoch; best-epoch: mean over "
        "seeds of each run's highest test accuracy. Parameter updates are those of one run; "
        "wall seconds are the seeds' mean training time. The difference from dlr is paired "
        "by seed, in percentage points: mean [95% Student-t confidence interval of the mean].",
        "",
        provenance_sentence(config, provenance),
        "",
        equivalence_rule_sentence(),
        "",
        "| Architecture | Optimizer | Schedule | Seeds | Final accuracy (%) | "
        "Best-epoch accuracy (%) | Parameter updates | Wall seconds | Difference from dlr (pp) "
        "| Verdict against dlr |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    for row in rows:
        final = f"{100 * row['final_test_accuracy_mean']:.2f}"
        if row["final_test_accuracy_std"] is not None:
            final += f" ± {100 * row['final_test_accuracy_std']:.2f}"
        cells = [
            ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
            OPTIMIZER_NAMES.get(row["optimizer"], str(row["optimizer"])),
            SCHEDULE_NAMES.get(row["schedule"], str(row["schedule"])),
            str(row["seeds"]),
            final,
            f"{100 * row['best_epoch_test_accuracy_mean']:.2f}",
            f"{row['parameter_updates']:,}",
            f"{row['wall_seconds_mean']:.1f}",
            _markdown_difference(row),
            _markdown_verdict(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def equivalence_rule_sentence():
    """The sentence that states the equivalence margin and the rule behind each verdict."""
    margin = f"{EQUIVALENCE_MARGIN_PP:g}"
    confidence = f"{100 * (1 - 2 * EQUIVALENCE_ALPHA):g}%"
    return (f"Verdict against dlr: two one-sided paired t-tests (TOST, α = "
            f"{EQUIVALENCE_ALPHA:g} each) with an equivalence margin of ±{margin} percentage "
            f"points of final test accuracy. A schedule is equivalent to dlr when the "
            f"{confidence} Student-t interval of the paired difference lies inside (-{margin}, "
            f"+{margin}), not equivalent when it lies wholly outside [-{margin}, +{margin}] "
            f"(the difference exceeds the margin at α = {EQUIVALENCE_ALPHA:g}, one-sided), and "
            f"undecided otherwise; n is the number of paired seeds, and fewer than 2 give no "
            "verdict.")


def _markdown_verdict(row):
    if row["schedule"] == "dlr":
        return "(reference)"
    if row["paired_seeds_with_dlr"] is None:
        return "- (no dlr run to pair with)"
    if row["verdict"] is None:
        return "- (needs 2 paired seeds)"
    confidence = f"{100 * (1 - 2 * EQUIVALENCE_ALPHA):g}%"
    return (f"{row['verdict']} (n = {row['paired_seeds_with_dlr']}, {confidence} "
            f"[{row['diff_vs_dlr_pp_ci90_low']:+.2f}, {row['diff_vs_dlr_pp_ci90_high']:+.2f}])")


def _markdown_difference(row):
    if row["schedule"] == "dlr":
        return "(reference)"
    if row["diff_vs_dlr_pp_mean"] is None:
        return "- (no dlr run to pair with)"
    text = f"{row['diff_vs_dlr_pp_mean']:+.2f}"
    if row["diff_vs_dlr_pp_ci95_low"] is None:
        return text + " (one paired seed)"
    return (text + f" [{row['diff_vs_dlr_pp_ci95_low']:+.2f}, "
            f"{row['diff_vs_dlr_pp_ci95_high']:+.2f}]")

# ---------------------------------------------------------------------------
# Comparison with a baseline pickle
# ---------------------------------------------------------------------------

def compare_results(results, baseline):
    """Return one row dict per (arch, optimizer, schedule) cell that both pickles have.

    Rows are keyed by COMPARISON_COLUMNS and come in display order. The
    difference is results minus baseline in final test accuracy, in percentage
    points, paired by seed over the seeds both pickles have; the accuracies of
    both sides are in percent over the same paired seeds. Missing values (a
    std of one seed, an interval of one pair, anything of a cell without a
    shared seed) are None. Each row also has "results_only_seeds" and
    "baseline_only_seeds", the sorted seeds left out for want of a partner.

    The baseline's seed-to-seed standard deviation (ddof=1, in percentage
    points) is over all its seeds of the cell, paired or not, as the best
    estimate of how far two runs of that cell differ by chance; the mean
    difference is also given in units of it, and whether it is at most
    BASELINE_AGREEMENT_STDS of them.
    """
    result_cells, baseline_cells = group_runs(results), group_runs(baseline)
    common_cells = sorted(set(result_cells) & set(baseline_cells),
                          key=lambda cell: _run_sort_key(cell + (0,)))
    return [_comparison_row(result_cells[cell], baseline_cells[cell], cell)
            for cell in common_cells]


def _comparison_row(result_seed_runs, baseline_seed_runs, cell):
    paired_seeds = sorted(set(result_seed_runs) & set(baseline_seed_runs), key=str)
    row = dict.fromkeys(COMPARISON_COLUMNS)
    row.update(
        architecture=cell[0],
        optimizer=cell[1],
        schedule=cell[2],
        paired_seeds=len(paired_seeds),
        results_only_seeds=sorted(set(result_seed_runs) - set(paired_seeds), key=str),
        baseline_only_seeds=sorted(set(baseline_seed_runs) - set(paired_seeds), key=str),
    )
    baseline_all_finals = _final_accuracies_percent(baseline_seed_runs,
                                                    sorted(baseline_seed_runs, key=str))
    baseline_std = _sample_std(baseline_all_finals)
    row.update(baseline_all_seeds=len(baseline_all_finals), baseline_all_seeds_std_pp=baseline_std)
    if not paired_seeds:
        return row
    result_finals = _final_accuracies_percent(result_seed_runs, paired_seeds)
    baseline_finals = _final_accuracies_percent(baseline_seed_runs, paired_seeds)
    mean, low, high = mean_with_confidence_interval(result_finals - baseline_finals)
    row.update(
        diff_pp_mean=mean, diff_pp_ci95_low=low, diff_pp_ci95_high=high,
        results_final_test_accuracy_percent_mean=float(result_finals.mean()),
        results_final_test_accuracy_percent_std=_sample_std(result_finals),
        baseline_final_test_accuracy_percent_mean=float(baseline_finals.mean()),
        baseline_final_test_accuracy_percent_std=_sample_std(baseline_finals),
    )
    if baseline_std is not None:
        row.update(
            diff_in_baseline_stds=mean / baseline_std if baseline_std > 0 else None,
            within_two_baseline_stds=bool(abs(mean) <= BASELINE_AGREEMENT_STDS * baseline_std))
    return row


def baseline_agreement(rows):
    """Sort comparison rows by whether they differ from the baseline by at most two of its stds.

    Returns a dict: "within", the cells (architecture, optimizer, schedule)
    whose mean difference is at most BASELINE_AGREEMENT_STDS of the
    baseline's seed-to-seed standard deviations; "beyond", (cell, difference
    in those standard deviations) for the others; and "unjudged", the cells
    without a paired seed or with fewer than two baseline seeds.
    """
    agreement = {"within": [], "beyond": [], "unjudged": []}
    for row in rows:
        cell = (row["architecture"], row["optimizer"], row["schedule"])
        if row["within_two_baseline_stds"] is None:
            agreement["unjudged"].append(cell)
        elif row["within_two_baseline_stds"]:
            agreement["within"].append(cell)
        else:
            agreement["beyond"].append((cell, row["diff_in_baseline_stds"]))
    return agreement


def describe_baseline_agreement(agreement):
    """Say how many cells stay within two baseline standard deviations, and name the rest."""
    judged = len(agreement["within"]) + len(agreement["beyond"])
    sentence = (f"{len(agreement['within'])} of {judged} cells differ from the baseline by at "
                f"most {_number_word(BASELINE_AGREEMENT_STDS)} of its seed-to-seed standard "
                "deviations")
    if agreement["beyond"]:
        names = ", ".join(" ".join(map(str, cell))
                          + (f" ({ratio:+.1f} standard deviations)" if ratio is not None else "")
                          for cell, ratio in agreement["beyond"])
        sentence += f"; {'this one does' if len(agreement['beyond']) == 1 else 'these do'} " \
                    f"not: {names}"
    if agreement["unjudged"]:
        count = len(agreement["unjudged"])
        sentence += (f"; {count} cell{'s' if count != 1 else ''} cannot be judged (no paired "
                     "seed, or fewer than 2 baseline seeds): "
                     + ", ".join(" ".join(map(str, cell)) for cell in agreement["unjudged"]))
    return sentence + "."


def _number_word(number):
    return {1: "one", 2: "two", 3: "three"}.get(number, str(number))


def _final_accuracies_percent(seed_runs, seeds):
    return np.array([100.0 * float(seed_runs[seed]["test_accuracy"][-1]) for seed in seeds])


def _sample_std(values):
    return float(values.std(ddof=1)) if len(values) > 1 else None


def config_differences(config, baseline_config):
    """Say how two configs differ, ignoring provenance and the selection of runs.

    Returns (shown values, other keys): shown values is a list of
    (key, results value, baseline value) for the COMPARISON_VALUE_KEYS that
    differ; other keys is the sorted list of keys outside
    COMPARISON_UNLISTED_KEYS whose values differ or that only one config has.
    A key one config lacks has the value None there.
    """
    shown_values = [(key, config.get(key), baseline_config.get(key))
                    for key in COMPARISON_VALUE_KEYS
                    if _values_differ(config.get(key), baseline_config.get(key))
                    or (key in config) != (key in baseline_config)]
    other_keys = sorted(
        str(key) for key in set(config) | set(baseline_config)
        if key not in COMPARISON_UNLISTED_KEYS
        and (key not in config or key not in baseline_config
             or _values_differ(config[key], baseline_config[key])))
    return shown_values, other_keys


def _values_differ(first, second):
    # numpy arrays compare element by element; their text then decides.
    try:
        return bool(first != second)
    except (TypeError, ValueError):
        return repr(first) != repr(second)


def write_comparison_csv(rows, path):
    """Write comparison rows as CSV (differences in pp, accuracies in percent)."""
    return write_csv(rows, path, COMPARISON_COLUMNS)


def write_comparison_markdown(rows, path, results_path, baseline_path, config, baseline_config):
    """Write comparison rows as a Markdown table, with a header saying what is compared."""
    shown_values, other_keys = config_differences(config, baseline_config)
    if shown_values:
        values_text = "Config values that differ (results vs baseline): " + "; ".join(
            f"{key}: {result_value} vs {baseline_value}"
            for key, result_value, baseline_value in shown_values) + "."
    else:
        values_text = ("The configs agree on " + ", ".join(COMPARISON_VALUE_KEYS) + ".")
    if other_keys:
        others_text = ("Other config keys that differ: " + ", ".join(other_keys) + ".")
    else:
        others_text = ("No other config key differs (command, versions, machine "
                       "and the selection of runs are not compared).")
    lines = [
        "# Comparison with a baseline",
        "",
        f"results: `{results_path}` (`{_command(config)}`), "
        f"baseline: `{baseline_path}` (`{_command(baseline_config)}`).",
        "",
        f"{values_text} {others_text}",
        "",
        "Differences are results minus baseline in final test accuracy (after the last "
        "epoch), paired by seed (only seeds present in both), in percentage points: mean "
        "[95% Student-t confidence interval of the mean]. Final accuracies are test "
        "accuracy in percent, mean ± standard deviation (ddof=1) over the paired seeds. The "
        "last column gives the mean difference in units of the baseline's seed-to-seed "
        "standard deviation (ddof=1) over all the baseline's seeds of the cell, paired or not.",
        "",
        describe_baseline_agreement(baseline_agreement(rows)),
    ]
    unpaired = _unpaired_description(rows)
    if unpaired:
        lines += ["", "Left out for want of a partner seed: " + unpaired + "."]
    lines += [
        "",
        "| Architecture | Optimizer | Schedule | Paired seeds | Results final accuracy (%) | "
        "Baseline final accuracy (%) | Results minus baseline (pp) | "
        "In baseline seed standard deviations |",
        "|---|---|---|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        cells = [
            ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
            OPTIMIZER_NAMES.get(row["optimizer"], str(row["optimizer"])),
            SCHEDULE_NAMES.get(row["schedule"], str(row["schedule"])),
            str(row["paired_seeds"]),
            _mean_and_std_text(row["results_final_test_accuracy_percent_mean"],
                               row["results_final_test_accuracy_percent_std"]),
            _mean_and_std_text(row["baseline_final_test_accuracy_percent_mean"],
                               row["baseline_final_test_accuracy_percent_std"]),
            _difference_text(row["diff_pp_mean"], row["diff_pp_ci95_low"],
                             row["diff_pp_ci95_high"]),
            _baseline_stds_text(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _command(config):
    return config.get("command") or "command not recorded"


def _unpaired_description(rows):
    """Name the seeds of each cell that only one side has ("" when every seed is paired)."""
    parts = []
    for row in rows:
        for side, seeds in (("results", row["results_only_seeds"]),
                            ("baseline", row["baseline_only_seeds"])):
            if seeds:
                parts.append(f"{row['architecture']} {row['optimizer']} {row['schedule']} "
                             f"seed{'s' if len(seeds) > 1 else ''} "
                             f"{', '.join(str(seed) for seed in seeds)} ({side} only)")
    return "; ".join(parts)


def _mean_and_std_text(mean, std):
    if mean is None:
        return "-"
    return f"{mean:.2f}" + (f" ± {std:.2f}" if std is not None else "")


def _baseline_stds_text(row):
    std, seeds = row["baseline_all_seeds_std_pp"], row["baseline_all_seeds"]
    if std is None:
        return f"- ({seeds} baseline seed{'s' if seeds != 1 else ''})"
    ratio = row["diff_in_baseline_stds"]
    if row["diff_pp_mean"] is None:
        ratio_text = "-"
    elif ratio is None:
        ratio_text = "0" if row["diff_pp_mean"] == 0 else "- (no spread)"
    else:
        ratio_text = f"{ratio:+.1f}"
    return f"{ratio_text} (of {std:.2f} pp over {seeds} seeds)"


def _difference_text(mean, low, high):
    if mean is None:
        return "- (no seed in common)"
    if low is None:
        return f"{mean:+.2f} (one paired seed)"
    return f"{mean:+.2f} [{low:+.2f}, {high:+.2f}]"


# ---------------------------------------------------------------------------
# Figure helpers
# ---------------------------------------------------------------------------

def _reset_suffix(config):
    """Names the settings that depart from the study's own, so a figure says what it shows."""
    departures = []
    base_batch_size = config.get("base_batch_size", 4)
    if base_batch_size != 4:
        departures.append(f"base batch {base_batch_size}")
    if config.get("original_optimizer_reset"):
        departures.append("original optimizer reset")
    return f" ({', '.join(departures)})" if departures else ""


def _cell_title(arch, optimizer):
    return (f"{ARCHITECTURE_NAMES.get(arch, arch)}, "
            f"{OPTIMIZER_NAMES.get(optimizer, optimizer)}")


def _band_description(seed_counts):
    """Say how many seeds each line averages and what the shaded band is."""
    counts = sorted(set(seed_counts))
    if counts == [1]:
        return "one seed per schedule (no spread to show)"
    seeds = (f"{counts[0]} seeds" if len(counts) == 1
             else f"{counts[0]} to {counts[-1]} seeds")
    where = " where there are two or more" if counts[0] == 1 else ""
    return f"line: mean of {seeds}; band: ± 1 standard deviation across seeds{where}"


def draw_schedule_curves(axes, schedule_runs, y_metric, x_metric=None, scale=1.0):
    """Draw one mean line with a ±1 std band per schedule.

    schedule_runs maps schedule -> {seed: run}. The x axis is the epoch number
    when x_metric is None, else the seed mean of that per-epoch metric.
    Returns [(mean, std, seed count)] of the drawn y values, already scaled.
    """
    drawn = []
    for schedule in ordered(schedule_runs, SCHEDULE_NAMES):
        seed_runs = schedule_runs[schedule]
        mean, std, count = cell_statistics(seed_runs, y_metric)
        if x_metric is None:
            x_values = np.arange(1, len(mean) + 1)
        else:
            x_values = cell_statistics(seed_runs, x_metric)[0][:len(mean)]
        style = SCHEDULE_STYLES.get(schedule, {})
        axes.plot(x_values, scale * mean, label=SCHEDULE_NAMES.get(schedule, schedule),
                  **style)
        if std is not None:
            axes.fill_between(x_values, scale * (mean - std), scale * (mean + std),
                              color=style.get("color"), alpha=0.18, linewidth=0)
        drawn.append((scale * mean, None if std is None else scale * std, count))
    return drawn


def zoom_accuracy_axis(axes, drawn):
    """Limit the y axis to where the curves are once the first epoch is over.

    The first epoch is far below the rest and would squash the differences
    that matter, so the range starts a little below the lowest later mean.
    Returns a note saying where epoch 1 lies if it fell below the range, else "".
    """
    lowest = min(float(np.min(mean[1:] if len(mean) > 1 else mean)) for mean, _, _ in drawn)
    highest = max(float(np.max(mean if std is None else mean + std)) for mean, std, _ in drawn)
    span = max(highest - lowest, 0.5)
    bottom = lowest - 0.15 * span
    axes.set_ylim(bottom, min(100.0, highest + 0.1 * span))
    first_epoch = [float(mean[0]) for mean, _, _ in drawn]
    if min(first_epoch) >= bottom:
        return ""
    low, high = f"{min(first_epoch):.1f}%", f"{max(first_epoch):.1f}%"
    return f"epoch 1 ({low if low == high else f'{low} to {high}'}) is below the y range"


def mark_stage_boundaries(axes, epochs, epochs_per_stage):
    """Dotted vertical lines between stages, where the schedules change step."""
    for boundary in range(epochs_per_stage, epochs, epochs_per_stage):
        axes.axvline(boundary + 0.5, color="0.6", linestyle=":", linewidth=1)


def _epoch_axis(axes, epochs, config):
    mark_stage_boundaries(axes, epochs, config.get("epochs_per_stage", 3))
    axes.set_xticks(range(1, epochs + 1))
    axes.set_xlabel("epoch (dotted lines: stage boundaries)")


# Figures whose width grows with their panels are at least as wide as the
# figures of one cell, so that the title and the legend below the panels need
# not be squeezed into the width of a single narrow panel.
MIN_FIGURE_WIDTH = 7.0
# Text centred on the figure (its title, the legend below the panels) is kept
# this much narrower than the figure, so that rounding cannot push it off.
FIGURE_TEXT_MARGIN = 0.1
# A title centred on the axes of a one-panel figure sits right of the figure's
# centre by half the room the y axis's labels take at the left, so it is kept
# narrower than the figure by about twice that room.
AXES_TITLE_MARGIN = 1.6


def _text_width(figure, text, fontsize):
    """Width in inches of the widest line of text at fontsize, as the figure would draw it."""
    renderer = figure.canvas.get_renderer()
    font = matplotlib.font_manager.FontProperties(size=fontsize)
    return max(renderer.get_text_width_height_descent(line, font, ismath=False)[0]
               for line in text.split("\n")) / figure.dpi


def _fill_to_figure(figure, text, fontsize, width=None, margin=FIGURE_TEXT_MARGIN):
    """text filled to lines of width characters (None: left as it is), and wrapped narrower
    where a line would still be wider than the figure less margin inches."""
    available = figure.get_figwidth() - margin
    filled = text if width is None else textwrap.fill(text, width)
    width = width or len(text)
    while _text_width(figure, filled, fontsize) > available and width > 20:
        width -= 1
        filled = textwrap.fill(text, width)
    return filled


def _suptitle(figure, title, fontsize, width=None):
    """The figure's title, filled to width characters (None: one line) and to the figure."""
    figure.suptitle(_fill_to_figure(figure, title, fontsize, width), fontsize=fontsize)


def _legend_below(figure, handles, ncol, **options):
    """A legend centred below the panels in ncol columns, or fewer if it would be wider than
    the figure; a title wider than the figure is wrapped.

    options are figure.legend's (fontsize, frameon, title, title_fontsize).
    """
    title = options.get("title")
    if title:
        options["title"] = _fill_to_figure(
            figure, title, options.get("title_fontsize") or matplotlib.rcParams["font.size"])
    available = figure.get_figwidth() - FIGURE_TEXT_MARGIN
    while True:
        legend = figure.legend(handles=handles, loc="outside lower center", ncol=ncol,
                               **options)
        width = legend.get_window_extent(figure.canvas.get_renderer()).width / figure.dpi
        if width <= available or ncol == 1:
            return legend
        legend.remove()
        ncol -= 1


def _new_figure(title, size=(7, 4.8)):
    # Constrained layout keeps the title, the subtitle and the axes apart.
    figure, axes = plt.subplots(figsize=size, layout="constrained")
    # A title naming departed settings is too wide for one line at this size.
    _suptitle(figure, title, 12, 72)
    axes.grid(True, which="major", alpha=0.3)
    return figure, axes


def _subtitle(axes, first_line, *notes):
    """Small grey text above the axes: first_line, then any non-empty notes on a second line.

    Either is wrapped where it would reach past the figure's edge.
    """
    notes = "; ".join(note for note in notes if note)
    lines = [_fill_to_figure(axes.figure, line, 9, margin=AXES_TITLE_MARGIN)
             for line in (first_line, notes) if line]
    axes.set_title("\n".join(lines), fontsize=9, color="0.3")


# PNG text chunks would otherwise name the matplotlib version, so that the same
# pickle drawn after an upgrade would give different bytes for the same picture.
PNG_METADATA = {"Software": None}


def _save(figure, path):
    figure.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    plt.close(figure)
    return Path(path)


# Up to this many schedules fit in a legend inside the axes; more go below them.
LEGEND_INSIDE_AT_MOST = 3


def _cell_figure_size(schedule_runs):
    """A taller figure when the legend goes below the axes, so the axes keep their height."""
    return (7, 4.8) if len(schedule_runs) <= LEGEND_INSIDE_AT_MOST else (7, 5.6)


def _schedule_legend(figure, axes, inside_location):
    """The legend of the schedules drawn on axes: inside at inside_location if few, else below."""
    handles, _ = axes.get_legend_handles_labels()
    if len(handles) <= LEGEND_INSIDE_AT_MOST:
        axes.legend(loc=inside_location, fontsize=9)
    else:
        # Five curves leave no corner free, so the legend sits under the axes.
        _legend_below(figure, handles, 2, fontsize=9, frameon=False)


def _seed_counts(schedule_runs):
    return [len(seed_runs) for seed_runs in schedule_runs.values()]


# ---------------------------------------------------------------------------
# Figures
# ---------------------------------------------------------------------------

def _plot_accuracy(schedule_runs, arch, optimizer, config, x_metric, what, note=""):
    """Test accuracy (mean and band over seeds) against epoch or another per-epoch metric."""
    figure, axes = _new_figure(
        f"{_cell_title(arch, optimizer)}: test accuracy by {what}{_reset_suffix(config)}",
        _cell_figure_size(schedule_runs))
    drawn = draw_schedule_curves(axes, schedule_runs, "test_accuracy", x_metric, scale=100)
    clipped_note = zoom_accuracy_axis(axes, drawn)
    if x_metric is None:
        _epoch_axis(axes, max(len(mean) for mean, _, _ in drawn), config)
    _subtitle(axes, _band_description(_seed_counts(schedule_runs)), note, clipped_note)
    axes.set_ylabel("test accuracy (%)")
    _schedule_legend(figure, axes, "lower right")
    return figure, axes


def plot_accuracy_by_epoch(schedule_runs, arch, optimizer, config, path):
    """Test accuracy against epoch for one architecture and optimizer."""
    figure, _ = _plot_accuracy(schedule_runs, arch, optimizer, config, None, "epoch")
    return _save(figure, path)


def plot_accuracy_by_updates(schedule_runs, arch, optimizer, config, path):
    """Test accuracy against cumulative parameter updates (log scale)."""
    figure, axes = _plot_accuracy(schedule_runs, arch, optimizer, config, "updates",
                                  "parameter updates", "one marker per epoch")
    axes.set_xscale("log")
    # Ticks at 1, 2 and 5 times each power of ten, written out in full: the
    # default minor labels (3 x 10^2, 4 x 10^2, ...) run into one another.
    axes.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlabel("cumulative parameter updates (log scale)")
    return _save(figure, path)


def plot_accuracy_by_seconds(schedule_runs, arch, optimizer, config, path, machines=None):
    """Test accuracy against cumulative wall-clock seconds of training.

    machines describes the machines that trained these runs (describe_machines);
    without it the config's record of the training machines is named.
    """
    if machines is None:
        machines = describe_machines(training_machines(config, None))
    figure, axes = _plot_accuracy(schedule_runs, arch, optimizer, config, "seconds",
                                  "training time", "seconds: mean over seeds")
    axes.set_xlim(left=0)
    if machines.startswith("mixed: "):
        where = f" ({machines})"
    else:
        where = f" on {machines}" if machines else ""
    axes.set_xlabel(textwrap.fill("cumulative wall-clock seconds" + where, 80))
    return _save(figure, path)


def plot_train_loss(schedule_runs, arch, optimizer, config, path):
    """Training loss against epoch (log scale)."""
    figure, axes = _new_figure(
        f"{_cell_title(arch, optimizer)}: training loss by epoch{_reset_suffix(config)}",
        _cell_figure_size(schedule_runs))
    drawn = draw_schedule_curves(axes, schedule_runs, "train_loss")
    axes.set_yscale("log")
    _epoch_axis(axes, max(len(mean) for mean, _, _ in drawn), config)
    _subtitle(axes, _band_description(_seed_counts(schedule_runs)))
    axes.set_ylabel("training loss (cross-entropy, log scale)")
    _schedule_legend(figure, axes, "upper right")
    return _save(figure, path)


def representative_runs(results):
    """Return {(optimizer, schedule): run}, one run each, to read schedules from.

    Learning rate and batch size depend only on optimizer and schedule, so the
    first run in display order stands for all architectures and seeds.
    """
    representatives = {}
    for key in sorted(results["runs"], key=_run_sort_key):
        representatives.setdefault((key[1], key[2]), results["runs"][key])
    return representatives


def run_momentum(run, optimizer, config):
    """Per-epoch momentum coefficient of a run, as an array.

    Runs saved before the momentum was recorded lack the list. Plain SGD then
    has 0, SGD with (Nesterov) momentum the config's momentum_coefficient and
    Adam the config's adam_beta_1, each 0 when the config lacks it too.
    """
    if "momentum" in run:
        return np.asarray(run["momentum"], dtype=float)
    fallback_keys = {"momentum": "momentum_coefficient", "nesterov": "momentum_coefficient",
                     "adam": "adam_beta_1"}
    value = config.get(fallback_keys.get(optimizer), 0.0) if optimizer != "sgd" else 0.0
    return np.full(len(run["learning_rate"]), float(value or 0.0))


def base_learning_rate(results, optimizer):
    """The optimizer's base learning rate: from the config, else dlr's first epoch."""
    base_rates = results["config"].get("learning_rates", {})
    if optimizer in base_rates:
        return float(base_rates[optimizer])
    # dlr starts at the base rate; ibs_lr, for one, does not.
    representatives = representative_runs(results)
    run = representatives.get((optimizer, "dlr")) or next(
        run for (name, _), run in representatives.items() if name == optimizer)
    return float(run["learning_rate"][0])


def schedule_momenta(results):
    """Return {schedule: per-epoch momentum coefficient}, or {} when no schedule changes it.

    The momentum coefficient is worth a panel of its own when a run of SGD,
    SGD with momentum or Nesterov has one that is not zero or not constant,
    or an Adam run a beta_1 that is not constant. Each schedule is then shown
    by its first run in display order of an SGD optimizer with momentum (plain
    SGD's 0 when it has none); Adam's constant beta_1 is not SGD's momentum.
    """
    config = results["config"]
    representatives = representative_runs(results)
    momenta = {key: run_momentum(run, key[0], config) for key, run in representatives.items()}
    if not any((optimizer != "adam" and np.any(momentum != 0)) or np.ptp(momentum) > 0
               for (optimizer, _), momentum in momenta.items()):
        return {}
    by_schedule = {}
    for optimizer, schedule in sorted(momenta, key=lambda key: (
            _rank(key[0], OPTIMIZER_NAMES), _rank(key[1], SCHEDULE_NAMES))):
        momentum = momenta[(optimizer, schedule)]
        if optimizer == "adam":
            continue
        if schedule not in by_schedule or (np.all(by_schedule[schedule] == 0)
                                           and np.any(momentum != 0)):
            by_schedule[schedule] = momentum
    return by_schedule


def plot_schedules(results, path):
    """Learning rate (relative to its base), batch size and, if it changes, momentum per epoch."""
    config = results["config"]
    by_schedule = {}
    for (optimizer, schedule), run in representative_runs(results).items():
        by_schedule.setdefault(schedule, (optimizer, run))
    momenta = schedule_momenta(results)
    panel_count = 3 if momenta else 2
    figure, panels = plt.subplots(1, panel_count, figsize=(5.5 * panel_count, 5.2),
                                  layout="constrained")
    rate_axes, batch_axes = panels[:2]
    what = "learning rate, batch size and momentum" if momenta else "learning rate and batch size"
    _suptitle(figure, f"Schedules: {what} per epoch{_reset_suffix(config)}", 12)
    rate_values, batch_values = set(), set()
    for schedule in ordered(by_schedule, SCHEDULE_NAMES):
        optimizer, run = by_schedule[schedule]
        rates = np.asarray(run["learning_rate"], dtype=float)
        relative_rates = np.round(rates / base_learning_rate(results, optimizer), 6)
        batches = np.asarray(run["batch_size"], dtype=float)
        epochs = np.arange(1, len(rates) + 1)
        style = SCHEDULE_STYLES.get(schedule, {})
        label = SCHEDULE_NAMES.get(schedule, schedule)
        rate_axes.plot(epochs, relative_rates, label=label, **style)
        batch_axes.plot(epochs, batches, label=label, **style)
        rate_values.update(relative_rates)
        batch_values.update(batches)
    base_rates = config.get("learning_rates", {})
    base_text = ", ".join(f"{OPTIMIZER_NAMES.get(name, name)} {rate:g}"
                          for name, rate in base_rates.items())
    rate_axes.set_title("learning rate / base learning rate"
                        + (f"\n(base: {base_text})" if base_text else ""), fontsize=10)
    batch_axes.set_title("batch size (examples per parameter update)", fontsize=10)
    # Ticks at the values the schedules take are easier to read than powers of ten.
    rate_ticks = sorted(rate_values)
    rate_axes.set_yscale("log")
    rate_axes.minorticks_off()
    rate_axes.set_yticks(rate_ticks, [f"{value:g}" if value >= 1 else f"1/{1 / value:.3g}"
                                      for value in rate_ticks])
    rate_axes.set_ylabel("relative learning rate (log scale)")
    batch_ticks = sorted(batch_values)
    batch_axes.set_yscale("log")
    batch_axes.minorticks_off()
    batch_axes.set_yticks(batch_ticks, [f"{value:g}" for value in batch_ticks])
    batch_axes.set_ylabel("batch size (log scale)")
    if momenta:
        _draw_momentum_panel(panels[2], momenta, results)
    epochs = max(len(run["learning_rate"]) for _, run in by_schedule.values())
    for axes in panels:
        mark_stage_boundaries(axes, epochs, config.get("epochs_per_stage", 3))
        axes.set_xticks(range(1, epochs + 1))
        axes.set_xlabel("epoch (dotted lines: stage boundaries)")
        axes.grid(True, alpha=0.3)
    # Below the panels the legend hides no line, however many schedules there are.
    handles, _ = batch_axes.get_legend_handles_labels()
    _legend_below(figure, handles, min(len(handles), 5), fontsize=9, frameon=False)
    return _save(figure, path)


def _draw_momentum_panel(axes, momenta, results):
    """Momentum coefficient per epoch and schedule, with ticks at the values taken."""
    values = set()
    for schedule in ordered(momenta, SCHEDULE_NAMES):
        momentum = np.round(momenta[schedule], 6)
        axes.plot(np.arange(1, len(momentum) + 1), momentum,
                  label=SCHEDULE_NAMES.get(schedule, schedule),
                  **SCHEDULE_STYLES.get(schedule, {}))
        values.update(momentum)
    optimizers = {key[1] for key in results["runs"]}
    drawn = [OPTIMIZER_NAMES[name] for name in ("momentum", "nesterov") if name in optimizers]
    notes = (["plain SGD: 0"] if "sgd" in optimizers else []) + (
        ["Adam's β₁ is not drawn"] if "adam" in optimizers else [])
    axes.set_title("momentum coefficient m"
                   + (f" ({', '.join(drawn)})" if drawn else "")
                   + (f"\n{'; '.join(notes)}" if notes else ""), fontsize=10)
    ticks = sorted(values)
    axes.set_yticks(ticks, [f"{value:g}" for value in ticks])
    low, high = min(ticks), max(ticks)
    margin = max(0.1 * (high - low), 0.02)
    axes.set_ylim(low - margin, high + margin)
    axes.set_ylabel("momentum coefficient m")


def noise_scales(results):
    """Return {(optimizer, schedule): per-epoch noise scale g}.

    For SGD, with or without (Nesterov) momentum, g = lr * N / (B * (1 - m))
    with the run's momentum coefficient m (0 for plain SGD). For Adam it is
    lr * N / B, the same number for comparison: the noise-scale argument is
    about SGD and makes no prediction for Adam.
    """
    config = results["config"]
    train_size = config["train_size"]
    scales = {}
    for (optimizer, schedule), run in representative_runs(results).items():
        noise = (np.asarray(run["learning_rate"], dtype=float) * train_size
                 / np.asarray(run["batch_size"], dtype=float))
        if optimizer != "adam":
            noise = noise / (1 - run_momentum(run, optimizer, config))
        scales[(optimizer, schedule)] = noise
    return scales


def noise_scale_formula(optimizer):
    """The noise-scale formula used for the optimizer, as figure text."""
    if optimizer == "adam":
        return "g = lr × N / B"
    if optimizer == "sgd":
        return "g = lr × N / B (no momentum, m = 0)"
    return "g = lr × N / (B × (1 − m))"


def plot_noise_scale(results, path):
    """Noise scale per epoch, one panel per optimizer, to show the schedules match it."""
    config = results["config"]
    scales = noise_scales(results)
    representatives = representative_runs(results)
    optimizers = ordered([optimizer for optimizer, _ in scales], OPTIMIZER_NAMES)
    columns = len(optimizers) if len(optimizers) <= 2 else 2
    rows = math.ceil(len(optimizers) / columns)
    figure, panels = plt.subplots(rows, columns, figsize=(6.2 * columns, 4.4 * rows + 1.0),
                                  squeeze=False, layout="constrained")
    _suptitle(figure,
              f"Noise scale g per epoch (lr learning rate, N = {config['train_size']:,} training "
              "images, B batch size" + (", m momentum coefficient" if any(
                  optimizer in ("momentum", "nesterov") for optimizer in optimizers) else "")
              + ")" + _reset_suffix(config), 12, 110)
    all_schedules = set()
    for axes, optimizer in zip(panels.flat, optimizers):
        schedules = ordered([schedule for name, schedule in scales if name == optimizer],
                            SCHEDULE_NAMES)
        all_schedules.update(schedules)
        for schedule in schedules:
            noise = scales[(optimizer, schedule)]
            axes.plot(np.arange(1, len(noise) + 1), noise,
                      label=SCHEDULE_NAMES.get(schedule, schedule),
                      **SCHEDULE_STYLES.get(schedule, {}))
        capped = [schedule for schedule in schedules
                  if max(representatives[(optimizer, schedule)]["batch_size"])
                  >= config["train_size"]]
        gaps = _noise_gaps_to_dlr(scales, optimizer, schedules, capped)
        lines = [f"{OPTIMIZER_NAMES.get(optimizer, optimizer)}: {noise_scale_formula(optimizer)}"]
        if optimizer == "adam":
            lines += ["for comparison only: the noise-scale argument is about SGD",
                      "and does not predict Adam"]
        if gaps:
            lines += _pack_lines(["largest gap to dlr:"] + gaps, 64)
        axes.set_title("\n".join(lines), fontsize=10)
        axes.set_yscale("log")
        # Ticks at the values dlr takes are easier to read than powers of ten;
        # the other schedules' values are within a percent of them or the gaps say how far.
        tick_schedules = ["dlr"] if "dlr" in schedules else schedules
        ticks = sorted({float(f"{value:.3g}") for schedule in tick_schedules
                        for value in scales[(optimizer, schedule)]})
        if len(ticks) <= 8:
            axes.minorticks_off()
            axes.set_yticks(ticks, [f"{value:g}" for value in ticks])
        epochs = max(len(scales[(optimizer, schedule)]) for schedule in schedules)
        _epoch_axis(axes, epochs, config)
        axes.set_ylabel("noise scale g (log scale)")
        axes.grid(True, alpha=0.3)
    for axes in panels.flat[len(optimizers):]:
        axes.set_visible(False)
    handles = [plt.Line2D([], [], label=SCHEDULE_NAMES.get(schedule, schedule),
                          **SCHEDULE_STYLES.get(schedule, {}))
               for schedule in ordered(all_schedules, SCHEDULE_NAMES)]
    _legend_below(figure, handles, min(len(handles), 3), fontsize=10, frameon=False)
    return _save(figure, path)


def _noise_gaps_to_dlr(scales, optimizer, schedules, capped_schedules=()):
    """Return, per schedule, a text saying how far its noise scale strays from dlr's at most.

    The list is empty when the optimizer has no dlr run to compare with.

    capped_schedules are those whose batch grew to the whole training set,
    which caps it and keeps their noise scale above dlr's.
    """
    if "dlr" not in schedules:
        return []
    reference = scales[(optimizer, "dlr")]
    gaps = []
    for schedule in schedules:
        if schedule == "dlr":
            continue
        noise = scales[(optimizer, schedule)]
        length = min(len(noise), len(reference))
        gap = float(np.max(np.abs(noise[:length] / reference[:length] - 1)))
        note = ""
        # Float rounding alone leaves gaps near 1e-16, which need no explanation.
        if schedule in capped_schedules and gap > 1e-9:
            note = " (batch capped at the training set)"
        # The hybrid batch size is rounded to a whole number, the only other source of a gap.
        elif schedule == "hyb" and gap > 1e-9:
            note = " (batch size rounded)"
        gaps.append(f"{schedule} {100 * gap:.1f}%{note}")
    return gaps


def _pack_lines(items, width):
    """Join items with ", " into lines of at most about width characters, never splitting one."""
    lines = []
    for item in items:
        if lines and len(lines[-1]) + len(item) + 2 <= width:
            separator = " " if lines[-1].endswith(":") else ", "
            lines[-1] += separator + item
        else:
            if lines and not lines[-1].endswith(":"):
                lines[-1] += ","
            lines.append(item)
    return lines


def plot_overview(results, path):
    """All architecture x optimizer panels of test accuracy by epoch, one shared legend."""
    config = results["config"]
    cells = group_runs(results)
    architectures, optimizers = selected_architectures_and_optimizers(results)
    epochs_per_stage = config.get("epochs_per_stage", 3)
    figure, panels = plt.subplots(len(optimizers), len(architectures),
                                  figsize=(max(4.6 * len(architectures), MIN_FIGURE_WIDTH),
                                           3.4 * len(optimizers) + 1.2),
                                  squeeze=False, layout="constrained")
    _suptitle(figure, f"Test accuracy on MNIST ({config['train_size']:,} training images): "
              f"decaying learning rate vs increasing batch size{_reset_suffix(config)}", 14)
    clipped_notes = []
    for row, optimizer in enumerate(optimizers):
        for column, arch in enumerate(architectures):
            axes = panels[row][column]
            axes.set_title(_cell_title(arch, optimizer), fontsize=11)
            axes.grid(True, alpha=0.3)
            schedule_runs = {key[2]: seed_runs for key, seed_runs in cells.items()
                             if key[:2] == (arch, optimizer)}
            if not schedule_runs:
                axes.text(0.5, 0.5, "no finished runs", ha="center", va="center",
                          transform=axes.transAxes, color="0.4")
                axes.set_xticks([])
                axes.set_yticks([])
                continue
            drawn = draw_schedule_curves(axes, schedule_runs, "test_accuracy", scale=100)
            clipped_notes.append(zoom_accuracy_axis(axes, drawn))
            epochs = max(len(mean) for mean, _, _ in drawn)
            mark_stage_boundaries(axes, epochs, epochs_per_stage)
            # Ticks at the first epoch of each stage.
            axes.set_xticks(range(1, epochs + 1, max(1, epochs_per_stage)))
            if column == 0:
                axes.set_ylabel("test accuracy (%)")
            if row == len(optimizers) - 1:
                axes.set_xlabel("epoch")
    handles = [plt.Line2D([], [], label=SCHEDULE_NAMES.get(schedule, schedule),
                          **SCHEDULE_STYLES.get(schedule, {}))
               for schedule in ordered([key[2] for key in cells], SCHEDULE_NAMES)]
    explanation = "; ".join(filter(None, [
        _band_description([len(seed_runs) for seed_runs in cells.values()]),
        "dotted lines: stage boundaries",
        "epoch 1 is below the y range" if any(clipped_notes) else ""]))
    # Three schedules fit in one row; five long names would run off the figure.
    _legend_below(figure, handles, len(handles) if len(handles) <= 3 else 3, fontsize=11,
                  frameon=False, title=explanation, title_fontsize=10)
    return _save(figure, path)


def cost_of_fewer_updates(results, optimizer):
    """Return {arch: [point]} of what each schedule's cut in updates costs in accuracy.

    A point is a dict with the schedule, its parameter updates per run, the
    number of seeds paired with dlr, and the mean paired difference of final
    test accuracy from dlr in percentage points with its 95% interval (low
    and high None for one pair). dlr itself is the point at 0. Only
    architectures with a dlr run and at least one other schedule that shares
    a seed with it have points, in display order.
    """
    cells = group_runs(results)
    architectures, _ = selected_architectures_and_optimizers(results)
    points = {}
    for arch in architectures:
        if not cells.get((arch, optimizer, "dlr")):
            continue
        schedules = ordered([key[2] for key in cells if key[:2] == (arch, optimizer)],
                            SCHEDULE_NAMES)
        arch_points = []
        for schedule in schedules:
            paired_seeds, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule)
            if not paired_seeds:
                continue
            mean, low, high = mean_with_confidence_interval(differences)
            # Every seed of a cell takes the same number of steps, so one run tells it.
            updates = int(cells[(arch, optimizer, schedule)][paired_seeds[0]]["updates"][-1])
            arch_points.append(dict(schedule=schedule, updates=updates,
                                    paired_seeds=len(paired_seeds), mean=mean, low=low,
                                    high=high))
        if len(arch_points) > 1:
            points[arch] = arch_points
    return points


def plot_cost_of_fewer_updates(points, optimizer, config, path):
    """Final accuracy minus dlr against parameter updates, one panel per architecture.

    points is what cost_of_fewer_updates returns. The shaded band is the
    equivalence margin, so a marker and its 95% bar inside it cost nothing
    that counts; the x distance from dlr is the cut in updates that bought it.
    """
    architectures = list(points)
    figure, panels = plt.subplots(1, len(architectures),
                                  figsize=(max(4.6 * len(architectures) + 0.6, MIN_FIGURE_WIDTH),
                                           5.0),
                                  squeeze=False, sharey=True, layout="constrained")
    _suptitle(figure, f"{OPTIMIZER_NAMES.get(optimizer, optimizer)}: what each cut in parameter "
              f"updates costs in final test accuracy{_reset_suffix(config)}", 12, 100)
    schedules, spread = [], False
    for axes, arch in zip(panels[0], architectures):
        axes.axhspan(-EQUIVALENCE_MARGIN_PP, EQUIVALENCE_MARGIN_PP, color="0.85", linewidth=0,
                     zorder=0)
        axes.axhline(0, color="0.4", linewidth=0.8, zorder=1)
        offsets = _sideways_offsets([point["updates"] for point in points[arch]])
        spread = spread or any(offset != 1 for offset in offsets)
        for point, offset in zip(points[arch], offsets):
            schedule = point["schedule"]
            if schedule not in schedules:
                schedules.append(schedule)
            style = SCHEDULE_STYLES.get(schedule, {})
            error = None
            if point["low"] is not None:
                error = [[point["mean"] - point["low"]], [point["high"] - point["mean"]]]
            axes.errorbar([point["updates"] * offset], [point["mean"]], yerr=error,
                          color=style.get("color"), marker=style.get("marker", "o"),
                          markersize=8, markerfacecolor=style.get("markerfacecolor"),
                          markeredgewidth=style.get("markeredgewidth", 1.0), linestyle="none",
                          capsize=4, elinewidth=1.5, zorder=3)
            # The schedule's code beside its marker spares a look at the legend;
            # of two markers set apart, the left one is named on its left.
            left = offset < 1
            axes.annotate(schedule, (point["updates"] * offset, point["mean"]),
                          xytext=(-7 if left else 7, 0), textcoords="offset points",
                          ha="right" if left else "left", va="center", fontsize=8,
                          color=style.get("color"))
        seed_counts = sorted({point["paired_seeds"] for point in points[arch]})
        seeds_text = (f"{seed_counts[0]}" if len(seed_counts) == 1
                      else f"{seed_counts[0]} to {seed_counts[-1]}")
        axes.set_title(f"{ARCHITECTURE_NAMES.get(arch, arch)} ({seeds_text} paired seeds)",
                       fontsize=10)
        axes.set_xscale("log")
        # Ticks at the schedules' update counts say how many updates each takes.
        ticks = sorted({point["updates"] for point in points[arch]})
        axes.minorticks_off()
        axes.set_xticks(ticks, [f"{tick:,}" for tick in ticks], rotation=35, fontsize=8)
        axes.set_xlim(min(ticks) / 1.6, max(ticks) * 1.6)
        axes.set_xlabel("parameter updates per run (log scale)")
        axes.grid(True, alpha=0.3)
    panels[0][0].set_ylabel("final test accuracy minus dlr (percentage points)")
    handles = [plt.Line2D([], [], color=SCHEDULE_STYLES.get(schedule, {}).get("color"),
                          marker=SCHEDULE_STYLES.get(schedule, {}).get("marker", "o"),
                          markerfacecolor=SCHEDULE_STYLES.get(schedule, {}).get(
                              "markerfacecolor"),
                          markersize=8, linestyle="none",
                          label=SCHEDULE_NAMES.get(schedule, schedule))
               for schedule in ordered(schedules, SCHEDULE_NAMES)]
    handles.append(matplotlib.patches.Patch(
        color="0.85", label=f"±{EQUIVALENCE_MARGIN_PP:g} pp equivalence margin"))
    explanation = "; ".join(filter(None, [
        "paired by seed", "bars: 95% Student-t interval of the mean difference",
        "markers with equal updates are set slightly apart" if spread else ""]))
    _legend_below(figure, handles, len(handles) if len(handles) <= 4 else 3, fontsize=9,
                  frameon=False, title=explanation, title_fontsize=9)
    return _save(figure, path)


def _sideways_offsets(updates):
    """Factors that set markers with equal update counts slightly apart on a log axis."""
    offsets = []
    for index, count in enumerate(updates):
        same = [other for other in updates if other == count]
        position = updates[:index].count(count)
        # Spread symmetrically around the true count, 8% apart, which on a
        # log axis of one or two decades keeps their bars apart.
        offsets.append(1.08 ** (position - (len(same) - 1) / 2))
    return offsets


def draw_all_figures(results, out_dir):
    """Draw every figure there is data for into out_dir.

    Returns (paths written, descriptions of skipped figures).
    """
    out_dir = Path(out_dir)
    config = results["config"]
    cells = group_runs(results)
    architectures, optimizers = selected_architectures_and_optimizers(results)
    written, skipped = [], []
    per_cell_figures = (("accuracy_epoch", plot_accuracy_by_epoch),
                        ("accuracy_updates", plot_accuracy_by_updates),
                        ("accuracy_seconds", plot_accuracy_by_seconds),
                        ("train_loss", plot_train_loss))
    for arch in architectures:
        for optimizer in optimizers:
            schedule_runs = {key[2]: seed_runs for key, seed_runs in cells.items()
                             if key[:2] == (arch, optimizer)}
            if not schedule_runs:
                skipped.append(f"{arch} {optimizer}: no finished runs, its "
                               f"{len(per_cell_figures)} figures are not drawn")
                continue
            # The seconds figure names the machines that trained this cell's runs.
            cell_keys = [(arch, optimizer, schedule, seed)
                         for schedule, seed_runs in schedule_runs.items() for seed in seed_runs]
            machines = describe_machines(training_machines(config, results.get("provenance"),
                                                           cell_keys))
            for prefix, plot in per_cell_figures:
                path = out_dir / f"{prefix}_{arch}_{optimizer}.png"
                if plot is plot_accuracy_by_seconds:
                    written.append(plot(schedule_runs, arch, optimizer, config, path, machines))
                else:
                    written.append(plot(schedule_runs, arch, optimizer, config, path))
    for optimizer in optimizers:
        points = cost_of_fewer_updates(results, optimizer)
        name = f"cost_of_fewer_updates_{optimizer}.png"
        if points:
            written.append(plot_cost_of_fewer_updates(points, optimizer, config,
                                                      out_dir / name))
        elif any(key[1] == optimizer for key in cells):
            skipped.append(f"{name}: {optimizer} has no dlr run paired by seed with "
                           "another schedule")
    written.append(plot_schedules(results, out_dir / "schedules.png"))
    written.append(plot_noise_scale(results, out_dir / "noise_scale.png"))
    written.append(plot_overview(results, out_dir / "overview.png"))
    return written, skipped


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def parse_arguments(argv=None):
    parser = argparse.ArgumentParser(
        prog="plots.py",
        description="Draw the figures and summary tables from main.py's results pickle.")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, metavar="PATH",
                        help="results pickle written by main.py (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for the PNG and summary files "
                             "(default: the folder the results file is in)")
    parser.add_argument("--baseline", type=Path, default=None, metavar="PATH",
                        help="a second results pickle; also write comparison.md and "
                             "comparison.csv with results minus baseline, paired by seed")
    return parser.parse_args(argv)


def main(argv=None):
    """Draw figures and summaries; return 0 on success and 2 for unusable input."""
    arguments = parse_arguments(argv)
    try:
        results = load_results(arguments.results)
        baseline = (load_results(arguments.baseline, option="--baseline")
                    if arguments.baseline is not None else None)
    except ResultsError as error:
        return _fail(str(error))
    missing = missing_runs(results)
    if not results["runs"]:
        return _fail(f"{arguments.results} holds no finished runs yet ({len(missing)} missing); "
                     "run python main.py to finish them")
    # The comparison is checked before anything is written, so that unusable
    # input leaves the out folder as it was.
    comparison_rows = None
    if baseline is not None:
        comparison_rows = compare_results(results, baseline)
        if not comparison_rows:
            return _fail(f"{arguments.results} and {arguments.baseline} have no "
                         "(architecture, optimizer, schedule) cell in common, so there is "
                         "nothing to compare")
        if not any(row["paired_seeds"] for row in comparison_rows):
            return _fail(f"{arguments.results} and {arguments.baseline} have no seed in common "
                         "in any shared cell, so no difference can be paired by seed")
    out_dir = arguments.out if arguments.out is not None else arguments.results.parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written, skipped = draw_all_figures(results, out_dir)
        rows = summarize(results)
        written.append(write_summary_csv(rows, out_dir / "summary.csv"))
        written.append(write_summary_markdown(rows, out_dir / "summary.md", results["config"],
                                              results.get("provenance")))
        stage_rows = stage_differences(results)
        if stage_rows:
            written.append(write_csv(stage_rows, out_dir / "stages.csv", STAGE_COLUMNS))
            written.append(write_stages_markdown(stage_rows, out_dir / "stages.md", results["config"]))
        if comparison_rows is not None:
            written.append(write_comparison_csv(comparison_rows, out_dir / "comparison.csv"))
            written.append(write_comparison_markdown(
                comparison_rows, out_dir / "comparison.md", arguments.results,
                arguments.baseline, results["config"], baseline["config"]))
    except OSError as error:
        return _fail(f"cannot write to {out_dir} ({error.strerror or error}); "
                     "pass a writable folder with --out DIR")
    print(f"wrote {len(written)} files to {out_dir}: "
          + ", ".join(path.name for path in written))
    for description in skipped:
        print(f"skipped {description}")
    counts, not_shown_equivalent = verdict_counts(rows)
    if sum(counts.values()):
        print(describe_verdict_counts(counts, not_shown_equivalent))
    if comparison_rows is not None:
        print("against the baseline: "
              + describe_baseline_agreement(baseline_agreement(comparison_rows)))
    if missing:
        print(f"missing {len(missing)} runs (arch, optimizer, schedule, seed): "
              + ", ".join(f"({arch}, {optimizer}, {schedule}, {seed})"
                          for arch, optimizer, schedule, seed in missing))
    return 0


def _fail(message):
    """Print a one-line error on stderr and return the exit status for bad input."""
    print("plots.py: error: " + " ".join(message.split()), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
