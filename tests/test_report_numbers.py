"""The numbers README.md and REPORT.md quote from the committed studies, recomputed.

Every result the two documents take from a committed results pickle (final
accuracies and their standard deviations, paired differences and their
intervals, equivalence verdicts, distances in standard deviations, counts) is
recomputed here from that pickle and must appear, formatted as the documents
write it, in the document that quotes it. A study rerun or a sentence edited
without the other fails here instead of drifting apart unnoticed.

Numbers read off the original study's figures are inputs here (ORIGINAL), not
checked; benchmark timings are not checked either (benchmarks/README.md).

The checks are tables: adding a study's summary table to a document is one
line in SUMMARY_TABLES, and a number quoted in prose is one line in PROSE.
"""

import io
import math
import re
import subprocess
import sys
from functools import lru_cache
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

import safe_pickle  # noqa: E402

README = "README.md"
REPORT = "REPORT.md"

# The committed studies, by name: the pickle that holds each.
STUDIES = {
    "results": "results/results.pickle",
    "original_reset": "results/original_reset/results.pickle",
    "base_batch_32": "results/base_batch_32/results.pickle",
    "base_batch_32_original_reset": "results/base_batch_32_original_reset/results.pickle",
    "train_60000": "results/train_60000/results.pickle",
    "momentum": "results/momentum/results.pickle",
    "ibs_lr": "results/ibs_lr/results.pickle",
    "seeds_20": "results/seeds_20/results.pickle",
    "large_batch": "results/large_batch/results.pickle",
}
# Studies quoted from the project's history: (commit, pickle path in it).
HISTORICAL_STUDIES = {
    # The 5-seed study before the written-out backward pass (commit 0691857).
    "previous": ("f9cecab", "results/results.pickle"),
}

# The equivalence margin the README declares, in percentage points, and the
# one-sided level of each of the two tests.
MARGIN_PP = 0.1
ALPHA = 0.05

ARCHITECTURES = ("mlp300", "mlp500_150", "lenet5")
OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
SCHEDULES = ("dlr", "ibs", "hyb", "ibs_lr", "ibs_mom")
ARCHITECTURE_NAMES = {"mlp300": "300-unit MLP", "mlp500_150": "500-150 MLP", "lenet5": "LeNet-5"}
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov",
                   "adam": "Adam"}
SCHEDULE_NAMES = {"dlr": "decaying learning rate (dlr)", "ibs": "increasing batch size (ibs)",
                  "hyb": "hybrid (hyb)", "ibs_lr": "increased learning rate (ibs_lr)",
                  "ibs_mom": "increased momentum (ibs_mom)"}

# The original study's test accuracy at epoch 12, read off its figures by eye
# (about ±0.3), in percent: (dlr, hyb, ibs). Inputs, not checked.
ORIGINAL = {
    ("mlp300", "sgd"): (91.0, 91.1, 90.9),
    ("mlp300", "adam"): (97.3, 97.2, 97.2),
    ("mlp500_150", "sgd"): (92.3, 92.5, 92.3),
    ("mlp500_150", "adam"): (97.6, 97.7, 97.6),
    ("lenet5", "sgd"): (93.8, 93.9, 94.7),
    ("lenet5", "adam"): (98.4, 98.6, 97.7),
}
ORIGINAL_ORDER = ("dlr", "hyb", "ibs")


# ---------------------------------------------------------------------------
# Reading the studies and the documents
# ---------------------------------------------------------------------------

@lru_cache(maxsize=None)
def study(name):
    """The results dict of a committed or historical study."""
    if name in STUDIES:
        return safe_pickle.load(PROJECT_DIR / STUDIES[name])
    commit, path = HISTORICAL_STUDIES[name]
    try:
        data = subprocess.run(["git", "show", f"{commit}:{path}"], cwd=PROJECT_DIR,
                              capture_output=True, check=True, timeout=60).stdout
    except (OSError, subprocess.SubprocessError) as error:
        pytest.skip(f"the {name} study is read from git history ({commit}:{path}), "
                    f"which this checkout does not have: {error}")
    return safe_pickle.PlainDataUnpickler(io.BytesIO(data)).load()


@lru_cache(maxsize=None)
def document(name):
    """The document's text with typographic minus signs as '-' and all whitespace as one space.

    The documents may break a sentence across lines and write −0.03 with a
    minus sign; the expected texts are written plainly.
    """
    text = (PROJECT_DIR / name).read_text(encoding="utf-8").replace("\u2212", "-")
    return re.sub(r"\s+", " ", text)


def cells(name):
    """The (arch, optimizer, schedule) cells of a study, in display order."""
    keys = {key[:3] for key in study(name)["runs"]}
    return sorted(keys, key=lambda cell: (ARCHITECTURES.index(cell[0]),
                                          OPTIMIZERS.index(cell[1]), SCHEDULES.index(cell[2])))


def seed_runs(name, arch, optimizer, schedule):
    """{seed: run} of one cell."""
    runs = {key[3]: run for key, run in study(name)["runs"].items()
            if key[:3] == (arch, optimizer, schedule)}
    assert runs, f"{name} has no runs of {arch} {optimizer} {schedule}"
    return runs


def finals(name, arch, optimizer, schedule, seeds=None):
    """Final test accuracies (fractions) of a cell, by sorted seed."""
    runs = seed_runs(name, arch, optimizer, schedule)
    seeds = sorted(runs) if seeds is None else seeds
    return np.array([runs[seed]["test_accuracy"][-1] for seed in seeds], dtype=float)


# ---------------------------------------------------------------------------
# Statistics, as plots.py computes them (accuracies as fractions until shown)
# ---------------------------------------------------------------------------

def mean_pct(name, arch, optimizer, schedule):
    return 100 * float(finals(name, arch, optimizer, schedule).mean())


def std_pct(name, arch, optimizer, schedule):
    return 100 * float(finals(name, arch, optimizer, schedule).std(ddof=1))


def paired_differences(name, arch, optimizer, schedule, reference_schedule="dlr",
                       reference_study=None):
    """Per-seed final accuracy minus the reference's, in percentage points.

    The reference is another schedule of the same study (dlr by default) or,
    with reference_study, the same cell of another study; only shared seeds pair.
    """
    runs = seed_runs(name, arch, optimizer, schedule)
    reference = seed_runs(reference_study or name, arch, optimizer,
                          schedule if reference_study else reference_schedule)
    seeds = sorted(set(runs) & set(reference))
    return np.array([100.0 * (runs[seed]["test_accuracy"][-1]
                              - reference[seed]["test_accuracy"][-1]) for seed in seeds])


def interval(differences, confidence=0.95):
    """(mean, low, high) of the Student-t interval of the mean."""
    differences = np.asarray(differences, dtype=float)
    mean = float(differences.mean())
    half = (float(stats.t.ppf(0.5 + confidence / 2, len(differences) - 1))
            * float(differences.std(ddof=1)) / math.sqrt(len(differences)))
    return mean, mean - half, mean + half


def verdict(differences):
    """The TOST verdict at the margin: the paired (1 - 2 alpha) interval against ±margin."""
    _, low, high = interval(differences, 1 - 2 * ALPHA)
    if -MARGIN_PP < low and high < MARGIN_PP:
        return "equivalent"
    if low > MARGIN_PP or high < -MARGIN_PP:
        return "not equivalent"
    return "undecided"


# ---------------------------------------------------------------------------
# Formatting, as the documents write numbers
# ---------------------------------------------------------------------------

def signed(value, digits=2):
    """'+0.04', '-0.00': Python's signed format, as plots.py writes differences."""
    return f"{value:+.{digits}f}"


def accuracy_text(name, arch, optimizer, schedule):
    """'97.75 ± 0.05': mean ± standard deviation in percent."""
    return (f"{mean_pct(name, arch, optimizer, schedule):.2f} ± "
            f"{std_pct(name, arch, optimizer, schedule):.2f}")


def difference_text(differences, digits=2, confidence=0.95):
    """'+0.04 [+0.00, +0.07]': mean [interval]."""
    mean, low, high = interval(differences, confidence)
    return f"{signed(mean, digits)} [{signed(low, digits)}, {signed(high, digits)}]"


def versus_dlr(name, arch, optimizer, schedule, digits=2):
    return difference_text(paired_differences(name, arch, optimizer, schedule), digits)


def versus_study(name, reference_study, arch, optimizer, schedule, digits=2):
    return difference_text(paired_differences(name, arch, optimizer, schedule,
                                              reference_study=reference_study), digits)


def verdict_text(name, arch, optimizer, schedule):
    """'equivalent (n = 5, 90% [-0.01, +0.01])', as summary.md writes a verdict."""
    differences = paired_differences(name, arch, optimizer, schedule)
    _, low, high = interval(differences, 1 - 2 * ALPHA)
    return (f"{verdict(differences)} (n = {len(differences)}, "
            f"{100 * (1 - 2 * ALPHA):g}% [{signed(low)}, {signed(high)}])")


def summary_row(name, arch, optimizer, schedule):
    """The row of summary.md (and of the documents' copies of it) for one cell."""
    runs = seed_runs(name, arch, optimizer, schedule)
    seeds = sorted(runs)
    best = 100 * float(np.mean([max(runs[seed]["test_accuracy"]) for seed in seeds]))
    seconds = float(np.mean([runs[seed]["seconds"][-1] for seed in seeds]))
    updates = int(runs[seeds[0]]["updates"][-1])
    if schedule == "dlr":
        difference = verdict_cell = "(reference)"
    else:
        difference = versus_dlr(name, arch, optimizer, schedule)
        verdict_cell = verdict_text(name, arch, optimizer, schedule)
    return (f"| {ARCHITECTURE_NAMES[arch]} | {OPTIMIZER_NAMES[optimizer]} | "
            f"{SCHEDULE_NAMES[schedule]} | {len(seeds)} | "
            f"{accuracy_text(name, arch, optimizer, schedule)} | {best:.2f} | {updates:,} | "
            f"{seconds:.1f} | {difference} | {verdict_cell} |")


def headline_row(name, arch, optimizer):
    """The README's headline row: dlr's final accuracy, then ibs and hyb against it (90 %)."""
    parts = [f"| {ARCHITECTURE_NAMES[arch]} | {OPTIMIZER_NAMES[optimizer]} | "
             f"{accuracy_text(name, arch, optimizer, 'dlr')} |"]
    for schedule in ("ibs", "hyb"):
        differences = paired_differences(name, arch, optimizer, schedule)
        parts.append(f" {difference_text(differences, confidence=1 - 2 * ALPHA)} "
                     f"{verdict(differences)} |")
    return "".join(parts)


def cut_row(arch, optimizer):
    """REPORT's row of what each cut in updates costs: final accuracy minus dlr, 95 %, and verdict.

    SGD and Adam come from the ibs_lr study, momentum and Nesterov from the
    momentum study; ibs_mom exists only for the last two.
    """
    name = "momentum" if optimizer in ("momentum", "nesterov") else "ibs_lr"
    parts = [f"| {ARCHITECTURE_NAMES[arch]} | {OPTIMIZER_NAMES[optimizer]} | "
             f"{accuracy_text(name, arch, optimizer, 'dlr')} |"]
    for schedule in ("ibs", "ibs_lr", "ibs_mom"):
        if (arch, optimizer, schedule) not in cells(name):
            parts.append(" - |")
            continue
        differences = paired_differences(name, arch, optimizer, schedule)
        parts.append(f" {difference_text(differences)} {verdict(differences)} |")
    return "".join(parts)


def cut_mean(arch, optimizer, schedule):
    """The mean paired difference from dlr of a schedule in the study cut_row reads it from."""
    name = "momentum" if optimizer in ("momentum", "nesterov") else "ibs_lr"
    return interval(paired_differences(name, arch, optimizer, schedule))[0]


def comparison_row(name, baseline, arch, optimizer, schedule):
    """The row of a comparison.md-style table: results and baseline over paired seeds."""
    runs, reference = (seed_runs(name, arch, optimizer, schedule),
                       seed_runs(baseline, arch, optimizer, schedule))
    seeds = sorted(set(runs) & set(reference))
    result_finals = 100 * finals(name, arch, optimizer, schedule, seeds)
    baseline_finals = 100 * finals(baseline, arch, optimizer, schedule, seeds)
    return (f"| {ARCHITECTURE_NAMES[arch]} | {OPTIMIZER_NAMES[optimizer]} | "
            f"{SCHEDULE_NAMES[schedule]} | {len(seeds)} | "
            f"{result_finals.mean():.2f} ± {result_finals.std(ddof=1):.2f} | "
            f"{baseline_finals.mean():.2f} ± {baseline_finals.std(ddof=1):.2f} | "
            f"{versus_study(name, baseline, arch, optimizer, schedule)} |")


def original_cell(name, arch, optimizer):
    """'dlr / hyb / ibs (±largest std)', a cell of the table against the original's figures."""
    means = " / ".join(f"{mean_pct(name, arch, optimizer, schedule):.2f}"
                       for schedule in ORIGINAL_ORDER)
    largest = max(std_pct(name, arch, optimizer, schedule) for schedule in ORIGINAL_ORDER)
    return f"{means} (±{largest:.2f})"


# ---------------------------------------------------------------------------
# Derived numbers quoted in prose
# ---------------------------------------------------------------------------

def grid_cells(optimizers=("sgd", "adam"), schedules=("ibs", "hyb")):
    """The comparisons with dlr of the original grid: (arch, optimizer, schedule)."""
    return [(arch, optimizer, schedule) for arch in ARCHITECTURES for optimizer in optimizers
            for schedule in schedules]


def differences_range(name, optimizers=("sgd", "adam")):
    """(lowest mean, highest mean, lowest interval end, highest interval end) against dlr."""
    intervals = [interval(paired_differences(name, *cell)) for cell in grid_cells(optimizers)]
    return (min(i[0] for i in intervals), max(i[0] for i in intervals),
            min(i[1] for i in intervals), max(i[2] for i in intervals))


def largest_absolute_difference(name, optimizers):
    return max(abs(interval(paired_differences(name, *cell))[0])
               for cell in grid_cells(optimizers))


def intervals_excluding_zero(name):
    """The cells of the original grid whose 95 % interval against dlr excludes zero."""
    found = []
    for cell in grid_cells():
        _, low, high = interval(paired_differences(name, *cell))
        if low > 0 or high < 0:
            found.append(cell)
    return found


def verdict_tally(name):
    """{verdict: count} of the original grid's 12 comparisons with dlr."""
    tally = {}
    for cell in grid_cells():
        outcome = verdict(paired_differences(name, *cell))
        tally[outcome] = tally.get(outcome, 0) + 1
    return tally


def seed_stds(name):
    return [std_pct(name, *cell) for cell in cells(name)]


def moves(name, previous):
    """Per cell: (cell, |change of mean|, that over the new std, over the larger std)."""
    found = []
    for cell in cells(name):
        move = abs(mean_pct(name, *cell) - mean_pct(previous, *cell))
        new, old = std_pct(name, *cell), std_pct(previous, *cell)
        found.append((cell, move, move / new, move / max(new, old)))
    return found


def original_gaps(name, optimizers, schedules=ORIGINAL_ORDER):
    """Per cell: (ours minus the original's, that over our cell's std)."""
    gaps = []
    for arch in ARCHITECTURES:
        for optimizer in optimizers:
            for schedule in schedules:
                if (arch, optimizer) not in ORIGINAL:
                    continue
                gap = (mean_pct(name, arch, optimizer, schedule)
                       - ORIGINAL[arch, optimizer][ORIGINAL_ORDER.index(schedule)])
                gaps.append((gap, gap / std_pct(name, arch, optimizer, schedule)))
    return gaps


def std_distance_from_original(name, arch, optimizer, schedule):
    """|original - ours| in our cell's standard deviations."""
    original = ORIGINAL[arch, optimizer][ORIGINAL_ORDER.index(schedule)]
    return abs(original - mean_pct(name, arch, optimizer, schedule)) / std_pct(
        name, arch, optimizer, schedule)


def seed_range(name, arch, optimizer, schedule):
    values = 100 * finals(name, arch, optimizer, schedule)
    return f"{values.min():.2f} to {values.max():.2f}"


def wall_ratios(name):
    """dlr's mean wall seconds over ibs's and hyb's, every (network, optimizer)."""
    ratios = []
    for arch in ARCHITECTURES:
        for optimizer in ("sgd", "adam"):
            seconds = {schedule: np.mean([run["seconds"][-1] for run in
                                          seed_runs(name, arch, optimizer, schedule).values()])
                       for schedule in ("dlr", "ibs", "hyb")}
            ratios += [seconds["dlr"] / seconds["ibs"], seconds["dlr"] / seconds["hyb"]]
    return ratios


def mean_seconds(name, arch, optimizer, schedule):
    return float(np.mean([run["seconds"][-1] for run in
                          seed_runs(name, arch, optimizer, schedule).values()]))


def updates(name, arch, optimizer, schedule):
    return int(next(iter(seed_runs(name, arch, optimizer, schedule).values()))["updates"][-1])


def hyb_noise_gap(name):
    """The largest relative gap between hyb's and dlr's noise scale lr N / B, any epoch."""
    run = seed_runs(name, "mlp300", "sgd", "hyb")[0]
    reference = seed_runs(name, "mlp300", "sgd", "dlr")[0]
    return max(abs((rate / batch) / (reference_rate / reference_batch) - 1)
               for rate, batch, reference_rate, reference_batch in zip(
                   run["learning_rate"], run["batch_size"],
                   reference["learning_rate"], reference["batch_size"]))


def reset_gap_share():
    """The reset's LeNet-5/Adam ibs - dlr at batch 32, against the original's gap."""
    original_gap = ORIGINAL["lenet5", "adam"][2] - ORIGINAL["lenet5", "adam"][0]
    ours = interval(paired_differences("base_batch_32_original_reset", "lenet5", "adam", "ibs"))[0]
    return ours / original_gap, original_gap - ours


def two_run_std(name, arch, optimizer, schedules=ORIGINAL_ORDER):
    """√2 × the largest seed std of the schedules: the std of two independent runs' difference."""
    return math.sqrt(2) * max(std_pct(name, arch, optimizer, schedule) for schedule in schedules)


def lowest_and_highest(values, digits=2):
    return f"{min(values):.{digits}f} to {max(values):.{digits}f}"


def adam_gaps_but_lenet_ibs():
    """Our Adam cells at batch 4 minus the original's, LeNet-5's ibs left out."""
    return [mean_pct("results", arch, "adam", schedule)
            - ORIGINAL[arch, "adam"][ORIGINAL_ORDER.index(schedule)]
            for arch in ARCHITECTURES for schedule in ORIGINAL_ORDER
            if (arch, schedule) != ("lenet5", "ibs")]


def largest_move():
    """The cell whose mean moved most, in units of its new std, between the two studies."""
    return max(moves("results", "previous"), key=lambda move: move[2])


def spread_of_means(name, arch, optimizer, schedules=("dlr", "ibs", "hyb")):
    means = [mean_pct(name, arch, optimizer, schedule) for schedule in schedules]
    return max(means) - min(means)


def fmt(value, digits=2):
    return f"{value:.{digits}f}"


def mean_difference(name, arch, optimizer, schedule, **reference):
    return interval(paired_differences(name, arch, optimizer, schedule, **reference))[0]


# ---------------------------------------------------------------------------
# The checks
# ---------------------------------------------------------------------------

# (document, study): the document holds summary_row() of every cell of the study.
SUMMARY_TABLES = [
    (REPORT, "results"),
    (REPORT, "original_reset"),
    (REPORT, "base_batch_32"),
    (REPORT, "base_batch_32_original_reset"),
    (REPORT, "train_60000"),
    (REPORT, "momentum"),
    (REPORT, "ibs_lr"),
    (REPORT, "seeds_20"),
    (REPORT, "large_batch"),
]

# (document, study, optimizers): the document holds headline_row() of every (network, optimizer).
HEADLINE_TABLES = [
    (README, "seeds_20", ("sgd", "adam")),
    (REPORT, "seeds_20", ("sgd", "adam")),
    (REPORT, "momentum", ("momentum", "nesterov")),
]

# (document, optimizer): the document holds cut_row() of every network for that optimizer.
CUT_TABLES = [(REPORT, optimizer) for optimizer in ("sgd", "momentum", "nesterov", "adam")]

# (document, study): the document's rows with per-stage differences ("B = ...") are rows of the
# study's stages.md, and that file is what plots.py writes from the study's pickle.
STAGE_TABLES = [
    (REPORT, "ibs_lr"),
    (REPORT, "momentum"),
    (REPORT, "large_batch"),
]

# (document, study, baseline): the document holds comparison_row() of every shared cell.
COMPARISON_TABLES = [
    (REPORT, "original_reset", "results"),
    (REPORT, "base_batch_32_original_reset", "base_batch_32"),
]

# (document, study, column): the table against the original's figures holds
# original_cell() of the study in the row of every (network, optimizer) it has.
ORIGINAL_TABLE_COLUMNS = [
    (REPORT, "results"),
    (REPORT, "base_batch_32"),
    (REPORT, "base_batch_32_original_reset"),
]

# (document, text with {} for each value, values): the text, filled in, is in
# the document. Values are computed when the check runs.
PROSE = [
    (README, "ibs_lr reaches B = N and leaves the margin there on LeNet-5 ({} points)",
     lambda: [signed(interval(paired_differences("large_batch", "lenet5", "momentum", "ibs_lr"))[0])
              if verdict(paired_differences("large_batch", "lenet5", "momentum", "ibs_lr")) == "not equivalent"
              else None]),
    # Where the batch approaches the training set.
    (REPORT, "in 12 epochs dlr reaches only {}, {} and {} % on the three networks",
     lambda: [fmt(mean_pct("large_batch", arch, "momentum", "dlr")) for arch in ARCHITECTURES]),
    (REPORT, "its last stage, at B = N, is not equivalent ({})",
     lambda: [verdict_text("large_batch", "lenet5", "momentum", "ibs_lr")]),
    (REPORT, "network, {} points below dlr at the end",
     lambda: [lowest_and_highest([-interval(paired_differences("large_batch", arch, "momentum", "ibs_mom"))[0]
                                  for arch in ARCHITECTURES])]),
    # Momentum, Nesterov and the cost of each cut in updates.
    (README, "all {} comparisons of ibs and hyb with dlr are equivalent at 5 seeds, and dlr's accuracy stays "
             "within {} points of plain SGD's",
     lambda: [sum(verdict(paired_differences("momentum", arch, optimizer, schedule)) == "equivalent"
                  for arch in ARCHITECTURES for optimizer in ("momentum", "nesterov") for schedule in ("ibs", "hyb")),
              fmt(max(abs(mean_pct("momentum", arch, optimizer, "dlr") - mean_pct("results", arch, "sgd", "dlr"))
                      for arch in ARCHITECTURES for optimizer in ("momentum", "nesterov")))]),
    (README, "ibs_lr ({} updates, {} times fewer than dlr) costs at most {} points with plain SGD and {} with "
             "momentum or Nesterov; ibs_mom costs {} to {} points",
     lambda: [f"{updates('ibs_lr', 'mlp300', 'sgd', 'ibs_lr'):,}",
              round(updates("ibs_lr", "mlp300", "sgd", "dlr") / updates("ibs_lr", "mlp300", "sgd", "ibs_lr")),
              fmt(max(abs(cut_mean(arch, "sgd", "ibs_lr")) for arch in ARCHITECTURES)),
              fmt(max(abs(cut_mean(arch, optimizer, "ibs_lr")) for arch in ARCHITECTURES
                      for optimizer in ("momentum", "nesterov"))),
              *lowest_and_highest([-cut_mean(arch, optimizer, "ibs_mom") for arch in ARCHITECTURES
                                   for optimizer in ("momentum", "nesterov")]).split(" to ")]),
    (README, "Adam with ibs_lr loses {} points on the MLPs (not equivalent)",
     lambda: [fmt(-cut_mean("mlp300", "adam", "ibs_lr"))
              if all(verdict(paired_differences("ibs_lr", arch, "adam", "ibs_lr")) == "not equivalent"
                     for arch in ("mlp300", "mlp500_150")) else None]),
    (REPORT, "With momentum and Nesterov its mean cost is {} to {} points",
     lambda: lowest_and_highest([-cut_mean(arch, optimizer, "ibs_lr") for arch in ARCHITECTURES
                                 for optimizer in ("momentum", "nesterov")]).split(" to ")),
    (REPORT, "costs more: {} to {} points below dlr, the 95 % interval below zero in {} of the 6 cells",
     lambda: [*lowest_and_highest([-cut_mean(arch, optimizer, "ibs_mom") for arch in ARCHITECTURES
                                   for optimizer in ("momentum", "nesterov")]).split(" to "),
              sum(interval(paired_differences("momentum", arch, optimizer, "ibs_mom"))[2] < 0
                  for arch in ARCHITECTURES for optimizer in ("momentum", "nesterov"))]),
    (REPORT, "**Adam** with ibs_lr loses {} and {} points on the MLPs",
     lambda: [fmt(-cut_mean("mlp300", "adam", "ibs_lr")), fmt(-cut_mean("mlp500_150", "adam", "ibs_lr"))]),
    (REPORT, "dlr reaches {} % with momentum and {} % with Nesterov, against plain SGD's {} %",
     lambda: [", ".join(f"{mean_pct(name, arch, optimizer, 'dlr'):.2f}" for arch in ARCHITECTURES[:2])
              + f" and {mean_pct(name, 'lenet5', optimizer, 'dlr'):.2f}"
              for name, optimizer in (("momentum", "momentum"), ("momentum", "nesterov"), ("results", "sgd"))]),
    # The 20-seed headline.
    (README, "At 20 seeds all {} comparisons are shown equivalent",
     lambda: [verdict_tally("seeds_20").get("equivalent")]),
    (README, "every mean difference between {} and {} points. Two 95 % intervals exclude zero "
             "(500-150 MLP/Adam ibs {}, 300-unit MLP/Adam hyb {})",
     lambda: [signed(differences_range("seeds_20")[0]), signed(differences_range("seeds_20")[1]),
              signed(interval(paired_differences("seeds_20", "mlp500_150", "adam", "ibs"))[0]),
              signed(interval(paired_differences("seeds_20", "mlp300", "adam", "hyb"))[0])]
     if intervals_excluding_zero("seeds_20") == [("mlp300", "adam", "hyb"), ("mlp500_150", "adam", "ibs")]
     else [None]),
    (REPORT, "All {} comparisons are shown equivalent at 20 seeds",
     lambda: [verdict_tally("seeds_20").get("equivalent")]),
    (REPORT, "LeNet-5 with Adam, ibs, undecided at 5 seeds, is decided: {}.",
     lambda: [verdict_text("seeds_20", "lenet5", "adam", "ibs")]),
    (REPORT, "Two 95 % intervals exclude zero: the 500-150 MLP with Adam, ibs {}, and the 300-unit MLP "
             "with Adam, hyb {}.",
     lambda: [versus_dlr("seeds_20", "mlp500_150", "adam", "ibs"), versus_dlr("seeds_20", "mlp300", "adam", "hyb")]
     if len(intervals_excluding_zero("seeds_20")) == 2 else [None]),
    (REPORT, "With plain SGD every 90 % interval lies within ±{} point.",
     lambda: [fmt(max(max(abs(value) for value in interval(paired_differences("seeds_20", *cell), 0.9)[1:])
                      for cell in grid_cells(("sgd",))))]),
    (REPORT, "At 20 seeds the committed code gives {}: a small loss",
     lambda: [versus_dlr("seeds_20", "mlp500_150", "adam", "ibs")]),
    # The margin and its justification.
    (README, "deviation runs from {} points (median {})",
     lambda: [lowest_and_highest(seed_stds("results")), fmt(np.median(seed_stds("results")))]),
    (REPORT, "runs from {} points, median {}",
     lambda: [lowest_and_highest(seed_stds("results")), fmt(np.median(seed_stds("results")))]),
    # Headline and equivalence.
    (README, "At 5 seeds, {} of the 12 comparisons are equivalent; LeNet-5 with Adam, ibs, is {}",
     lambda: [verdict_tally("results")["equivalent"],
              verdict(paired_differences("results", "lenet5", "adam", "ibs"))]),
    (REPORT, "At 5 seeds, {} of the 12 comparisons with dlr in the original grid are shown "
             "equivalent within ±0.1 point; the twelfth, LeNet-5 with Adam, ibs, is {}. "
             "None is shown not equivalent.",
     lambda: [verdict_tally("results")["equivalent"], verdict_text("results", "lenet5", "adam", "ibs")]),
    (REPORT, "lies between {} and {} points in all 12 comparisons, and every 95 % interval lies "
             "within [{}, {}] points",
     lambda: [signed(value) for value in differences_range("results")]),
    (REPORT, "every difference is at most {} points, every interval within [{}, {}]",
     lambda: [fmt(largest_absolute_difference("results", ("sgd",))),
              signed(differences_range("results", ("sgd",))[2]),
              signed(differences_range("results", ("sgd",))[3])]),
    (REPORT, "One 95 % interval of the 12 excludes zero, the 300-unit MLP with Adam, hyb {},",
     lambda: [len(intervals_excluding_zero("results")) == 1
              and versus_dlr("results", "mlp300", "adam", "hyb", 3)]),
    (REPORT, "the committed study has {}. At 5 seeds",
     lambda: [versus_dlr("results", "mlp500_150", "adam", "ibs")]),
    # A rounding change.
    (REPORT, "ibs - dlr from {}, the one gap the previous version of this study reported, to {}.",
     lambda: [versus_dlr("previous", "lenet5", "adam", "ibs"),
              versus_dlr("results", "lenet5", "adam", "ibs")]),
    (REPORT, "{} of its 12 did, the 300-unit MLP with Adam, hyb {}, LeNet-5 with Adam, ibs {}, "
             "and LeNet-5 with Adam, hyb {}.",
     lambda: [len(intervals_excluding_zero("previous"))
              if intervals_excluding_zero("previous") == [("mlp300", "adam", "hyb"),
                                                          ("lenet5", "adam", "ibs"),
                                                          ("lenet5", "adam", "hyb")] else None,
              versus_dlr("previous", "mlp300", "adam", "hyb"),
              versus_dlr("previous", "lenet5", "adam", "ibs"),
              versus_dlr("previous", "lenet5", "adam", "hyb")]),
    (REPORT, "In the rerun, one of the three excludes zero again (the 300-unit MLP's, {}) and the "
             "two LeNet-5 ones do not. Yet by the margin all {} of the previous study's",
     lambda: [versus_dlr("results", "mlp300", "adam", "hyb")
              if set(intervals_excluding_zero("results")) & set(intervals_excluding_zero("previous"))
              == {("mlp300", "adam", "hyb")} else None,
              verdict_tally("previous")["equivalent"]]),
    (REPORT, "differ in each cell's mean final accuracy by at most {} points. That is at most {} "
             "of the larger of the cell's old and new seed-to-seed standard deviations; against "
             "the new standard deviation alone the largest move is {} of it (the 300-unit MLP "
             "with Adam: dlr moved from {} to {}).",
     lambda: [fmt(max(move[1] for move in moves("results", "previous"))),
              fmt(max(move[3] for move in moves("results", "previous"))),
              fmt(largest_move()[2]) if largest_move()[0] == ("mlp300", "adam", "dlr") else None,
              fmt(mean_pct("previous", "mlp300", "adam", "dlr")),
              fmt(mean_pct("results", "mlp300", "adam", "dlr"))]),
    # Updates and wall time.
    (README, "ibs takes {} instead of {} ({} times fewer), hyb {}; {} times less wall time per run",
     lambda: [f"{updates('results', 'lenet5', 'adam', 'ibs'):,}",
              f"{updates('results', 'lenet5', 'adam', 'dlr'):,}",
              fmt(updates("results", "lenet5", "adam", "dlr")
                  / updates("results", "lenet5", "adam", "ibs"), 1),
              f"{updates('results', 'lenet5', 'adam', 'hyb'):,}",
              lowest_and_highest(wall_ratios("results"), 1)]),
    (REPORT, "ibs reaches the same accuracy in {} updates instead of {} ({} times fewer), hyb in {} "
             "({} times fewer)",
     lambda: [f"{updates('results', 'lenet5', 'adam', 'ibs'):,}",
              f"{updates('results', 'lenet5', 'adam', 'dlr'):,}",
              fmt(updates("results", "lenet5", "adam", "dlr")
                  / updates("results", "lenet5", "adam", "ibs"), 1),
              f"{updates('results', 'lenet5', 'adam', 'hyb'):,}",
              fmt(updates("results", "lenet5", "adam", "dlr")
                  / updates("results", "lenet5", "adam", "hyb"), 1)]),
    (REPORT, "that is {} times less wall time per run (LeNet-5 with Adam: {} s for dlr, {} s for ibs)",
     lambda: [lowest_and_highest(wall_ratios("results"), 1),
              fmt(mean_seconds("results", "lenet5", "adam", "dlr"), 1),
              fmt(mean_seconds("results", "lenet5", "adam", "ibs"), 1)]),
    (REPORT, "to within {} % for hyb, whose batch size is rounded",
     lambda: [fmt(100 * hyb_noise_gap("results"), 1)]),
    # Against the original's figures.
    (README, "at batch 4 our SGD accuracies are {} points above the original's; batch 32 "
             "reproduces every dlr and hyb cell within {} points",
     lambda: [lowest_and_highest([gap for gap, _ in original_gaps("results", ("sgd",))], 1),
              fmt(max(abs(gap) for gap, _ in
                      original_gaps("base_batch_32", ("sgd", "adam"), ("dlr", "hyb"))))]),
    (REPORT, "our SGD accuracies are {} points above the original's, {} times our spread, and our "
             "Adam accuracies up to {} points above (LeNet-5's ibs {})",
     lambda: [lowest_and_highest([gap for gap, _ in original_gaps("results", ("sgd",))], 1),
              lowest_and_highest([ratio for _, ratio in original_gaps("results", ("sgd",))], 0),
              fmt(max(adam_gaps_but_lenet_ibs())),
              fmt(mean_pct("results", "lenet5", "adam", "ibs") - ORIGINAL["lenet5", "adam"][2], 1)]),
    (REPORT, "to within {} points for every dlr and hyb cell, {} of the 12 within 0.2",
     lambda: [fmt(max(abs(gap) for gap, _ in
                      original_gaps("base_batch_32", ("sgd", "adam"), ("dlr", "hyb")))),
              sum(abs(gap) <= 0.2 for gap, _ in
                  original_gaps("base_batch_32", ("sgd", "adam"), ("dlr", "hyb")))]),
    (REPORT, "come closer still (dlr {} and {} against 97.3 and 98.4)",
     lambda: [fmt(mean_pct("base_batch_32_original_reset", "mlp300", "adam", "dlr")),
              fmt(mean_pct("base_batch_32_original_reset", "lenet5", "adam", "dlr"))]),
    (REPORT, "The original's 97.7 is {} points and {} of our standard deviations below our {} at "
             "batch 32, and below all five of our seeds ({}).",
     lambda: [fmt(mean_pct("base_batch_32", "lenet5", "adam", "ibs") - 97.7),
              fmt(std_distance_from_original("base_batch_32", "lenet5", "adam", "ibs"), 1),
              accuracy_text("base_batch_32", "lenet5", "adam", "ibs"),
              seed_range("base_batch_32", "lenet5", "adam", "ibs")]),
    (REPORT, "The original's 94.7 is {} points but only {} of our standard deviations above our {}",
     lambda: [fmt(94.7 - mean_pct("base_batch_32", "lenet5", "sgd", "ibs")),
              fmt(std_distance_from_original("base_batch_32", "lenet5", "sgd", "ibs"), 1),
              accuracy_text("base_batch_32", "lenet5", "sgd", "ibs")]),
    (REPORT, "LeNet-5 with SGD at batch 32 varies most from seed to seed of all cells, and our "
             "five seeds span {}.",
     lambda: [seed_range("base_batch_32", "lenet5", "sgd", "ibs")
              if max(seed_stds("base_batch_32")) == max(
                  std_pct("base_batch_32", "lenet5", "sgd", schedule)
                  for schedule in ("dlr", "ibs", "hyb")) else None]),
    (REPORT, "batch 32 reproduces every dlr and hyb cell of the original to within {} points",
     lambda: [fmt(max(abs(gap) for gap, _ in
                      original_gaps("base_batch_32", ("sgd", "adam"), ("dlr", "hyb"))))]),
    # The optimizer reset.
    (README, "At batch 32 it gives the direction of the LeNet-5/Adam gap (ibs - dlr {}) and about "
             "a sixth of its size",
     lambda: [versus_dlr("base_batch_32_original_reset", "lenet5", "adam", "ibs")
              if round(6 * reset_gap_share()[0]) == 1 else None]),
    (REPORT, "LeNet-5 with Adam gives ibs - dlr {}, where the original saw ibs 0.7 points behind.",
     lambda: [versus_dlr("results", "lenet5", "adam", "ibs")]),
    (REPORT, "does not reproduce either: {}.", lambda: [versus_dlr("results", "lenet5", "sgd", "ibs")]),
    (REPORT, "(dlr {}, hyb {}; `results/original_reset/comparison.md`), and LeNet-5's ibs - dlr "
             "becomes {}.",
     lambda: [versus_study("original_reset", "results", "lenet5", "adam", "dlr"),
              versus_study("original_reset", "results", "lenet5", "adam", "hyb"),
              versus_dlr("original_reset", "lenet5", "adam", "ibs")]),
    (REPORT, "It does cost the 300-unit MLP {} points with dlr and {} with hyb, both intervals "
             "excluding zero.",
     lambda: [fmt(-mean_difference("original_reset", "mlp300", "adam", schedule,
                                   reference_study="results"))
              if interval(paired_differences("original_reset", "mlp300", "adam", schedule,
                                             reference_study="results"))[2] < 0 else None
              for schedule in ("dlr", "hyb")]),
    (REPORT, "It raises dlr by {} and hyb by {} points on LeNet-5, and leaves ibs, which never "
             "resets, untouched",
     lambda: [versus_study("base_batch_32_original_reset", "base_batch_32", "lenet5", "adam", "dlr"),
              versus_study("base_batch_32_original_reset", "base_batch_32", "lenet5", "adam", "hyb")]
     if not paired_differences("base_batch_32_original_reset", "lenet5", "adam", "ibs",
                               reference_study="base_batch_32").any() else [None, None]),
    (REPORT, "That reproduces the original's order, hyb {} > dlr {} > ibs {} (original 98.6 > 98.4 "
             "> 97.7), and opens an ibs - dlr gap of {} where the fair runs show {}.",
     lambda: [fmt(mean_pct("base_batch_32_original_reset", "lenet5", "adam", schedule))
              for schedule in ("hyb", "dlr", "ibs")]
     + [versus_dlr("base_batch_32_original_reset", "lenet5", "adam", "ibs"),
        versus_dlr("base_batch_32", "lenet5", "adam", "ibs")]),
    (REPORT, "about a sixth of its size ({} of 0.7 points). The rest, about {} points,",
     lambda: [fmt(abs(mean_difference("base_batch_32_original_reset", "lenet5", "adam", "ibs")))
              if round(6 * reset_gap_share()[0]) == 1 else None,
              fmt(abs(reset_gap_share()[1]), 1)]),
    (REPORT, "with a seed-to-seed standard deviation of {} points, two independent runs differ by "
             "{} points (one standard deviation of their difference), so {} is more than two "
             "standard deviations.",
     lambda: [lowest_and_highest([std_pct("base_batch_32_original_reset", "lenet5", "adam", s)
                                  for s in ORIGINAL_ORDER]),
              lowest_and_highest([math.sqrt(2) * std_pct("base_batch_32_original_reset",
                                                         "lenet5", "adam", s)
                                  for s in ORIGINAL_ORDER]),
              fmt(abs(reset_gap_share()[1]), 1)
              if abs(reset_gap_share()[1]) > 2 * two_run_std("base_batch_32_original_reset",
                                                             "lenet5", "adam") else None]),
    (REPORT, "not appear at batch 32 either: ibs - dlr {}, in the other direction and about {} "
             "times smaller.",
     lambda: [versus_dlr("base_batch_32", "lenet5", "sgd", "ibs"),
              round(0.9 / abs(mean_difference("base_batch_32", "lenet5", "sgd", "ibs")), -1)
              .__format__(".0f")]),
    (REPORT, "two independent LeNet-5/SGD runs differ by about {} points (one standard deviation "
             "of their difference), so the original's 0.8 to 0.9 is about two of them.",
     lambda: [fmt(two_run_std("base_batch_32", "lenet5", "sgd"))
              if round(0.85 / two_run_std("base_batch_32", "lenet5", "sgd")) == 2 else None]),
    # All 60,000 training images.
    (README, "No difference: all four LeNet-5 comparisons {}",
     lambda: ["equivalent" if all(verdict(paired_differences("train_60000", "lenet5", optimizer,
                                                             schedule)) == "equivalent"
                                  for optimizer in ("sgd", "adam") for schedule in ("ibs", "hyb"))
              else None]),
    (REPORT, "accuracies stay within {} points of each other: with Adam, ibs - dlr is {} and hyb - "
             "dlr {}; with SGD, {} and {}",
     lambda: [fmt(max(spread_of_means("train_60000", "lenet5", optimizer)
                      for optimizer in ("sgd", "adam"))),
              versus_dlr("train_60000", "lenet5", "adam", "ibs"),
              versus_dlr("train_60000", "lenet5", "adam", "hyb"),
              versus_dlr("train_60000", "lenet5", "sgd", "ibs"),
              versus_dlr("train_60000", "lenet5", "sgd", "hyb")]),
    (REPORT, "All {} comparisons are equivalent at the ±0.1 margin.",
     lambda: ["four" if [verdict(paired_differences("train_60000", "lenet5", optimizer, schedule))
                         for optimizer in ("sgd", "adam") for schedule in ("ibs", "hyb")]
              == ["equivalent"] * 4 else None]),
    # Settings that the pickles record.
    (REPORT, "so ibs grows it to {} and hyb to {}.",
     lambda: [", ".join(f"{batch:,}" for batch in dict.fromkeys(
                 seed_runs("base_batch_32", "mlp300", "sgd", schedule)[0]["batch_size"]))
              for schedule in ("ibs", "hyb")]),
    (README, "| Updates per run | ceil(N / B) per epoch: {} (dlr), {} (ibs), {} (hyb),",
     lambda: [f"{updates('results', 'mlp300', 'sgd', schedule):,}"
              for schedule in ("dlr", "ibs", "hyb")]),
    # Reproducibility: the committed run that an Intel Xeon retrained.
    (REPORT, "final accuracy 0.9895 against the committed {}.",
     lambda: [f"{seed_runs('results', 'lenet5', 'adam', 'ibs')[0]['test_accuracy'][-1]:.4f}"]),
]


def _summary_cases():
    return [(document, name, cell) for document, name in SUMMARY_TABLES for cell in cells(name)]


def _comparison_cases():
    return [(document, name, baseline, cell) for document, name, baseline in COMPARISON_TABLES
            for cell in cells(name)]


@pytest.mark.parametrize("document,name,cell", _summary_cases(),
                         ids=[f"{d}:{n}:{'/'.join(c)}" for d, n, c in _summary_cases()])
def test_summary_table_row(document, name, cell):
    row = summary_row(name, *cell)
    assert row in document_lines(document), f"{document} lacks, or has another, row:\n{row}"


@pytest.mark.parametrize("document,name,optimizers", HEADLINE_TABLES)
def test_headline_table(document, name, optimizers):
    for arch in ARCHITECTURES:
        for optimizer in optimizers:
            row = headline_row(name, arch, optimizer)
            assert row in document_lines(document), f"{document} lacks, or has another, row:\n{row}"


@pytest.mark.parametrize("document,optimizer", CUT_TABLES)
def test_cost_of_each_cut_table(document, optimizer):
    for arch in ARCHITECTURES:
        row = cut_row(arch, optimizer)
        assert row in document_lines(document), f"{document} lacks, or has another, row:\n{row}"


def written_stages(name, folder):
    """The stages.md plots.py writes from the study's pickle, as text."""
    import plots
    results = study(name)
    return plots.write_stages_markdown(plots.stage_differences(results), folder / f"{name}_stages.md",
                                       results["config"]).read_text(encoding="utf-8")


@pytest.mark.parametrize("document,name", STAGE_TABLES)
def test_committed_stages_are_what_plots_writes(document, name, tmp_path):
    committed = (PROJECT_DIR / STUDIES[name]).parent / "stages.md"
    assert committed.read_text(encoding="utf-8") == written_stages(name, tmp_path), (
        f"{committed} is not what plots.py writes")


def test_every_quoted_stage_row_is_a_row_of_a_stages_file(tmp_path):
    for document_name in sorted({document for document, _ in STAGE_TABLES}):
        written = {name: written_stages(name, tmp_path).splitlines()
                   for document, name in STAGE_TABLES if document == document_name}
        quoted = [line for line in document_lines(document_name) if line.startswith("| ") and "B = " in line]
        for line in quoted:
            assert any(line in lines for lines in written.values()), (
                f"{document_name} has a stage row that no stages.md has:\n{line}")
        for name, lines in written.items():
            assert set(quoted) & set(lines), f"{document_name} quotes no stage row of {name}"


@pytest.mark.parametrize("document,name,baseline,cell", _comparison_cases(),
                         ids=[f"{d}:{n}-{b}:{'/'.join(c)}" for d, n, b, c in _comparison_cases()])
def test_comparison_table_row(document, name, baseline, cell):
    row = comparison_row(name, baseline, *cell)
    assert row in document_lines(document), f"{document} lacks, or has another, row:\n{row}"


@pytest.mark.parametrize("document,name", ORIGINAL_TABLE_COLUMNS)
def test_table_against_the_original(document, name):
    optimizers = sorted({cell[1] for cell in cells(name)})
    for arch, optimizer in ORIGINAL:
        if optimizer not in optimizers:
            continue
        label = f"| {ARCHITECTURE_NAMES[arch]}, {OPTIMIZER_NAMES[optimizer]} |"
        rows = [line for line in document_lines(document) if line.startswith(label)]
        assert len(rows) == 1, f"{document} has {len(rows)} rows starting {label}"
        original = " / ".join(f"{value:.1f}" for value in ORIGINAL[arch, optimizer])
        assert f"{label} {original} |" in rows[0]
        assert f"| {original_cell(name, arch, optimizer)} |" in rows[0], (
            f"{document}: the {name} cell of {label} is not {original_cell(name, arch, optimizer)}")


@pytest.mark.parametrize("name,text,values", PROSE, ids=[text[:60] for _, text, _ in PROSE])
def test_prose_number(name, text, values):
    computed = values()
    assert None not in computed, (
        f"a condition the sentence states no longer holds in the pickles: {text!r}")
    expected = text.format(*computed)
    assert expected in document(name), f"{name} does not say: {expected}"


@lru_cache(maxsize=None)
def document_lines(name):
    """The document's lines, as written (tables are compared line by line)."""
    return tuple(line.rstrip() for line in (PROJECT_DIR / name).read_text(encoding="utf-8")
                 .splitlines())


def test_every_study_is_checked():
    # A committed study that no table checks would let its numbers drift.
    checked = {name for _, name in SUMMARY_TABLES}
    assert checked == set(STUDIES), f"no summary table checks {set(STUDIES) - checked}"
