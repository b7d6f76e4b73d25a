"""What README.md and REPORT.md quote from the committed studies, and how a quote is found.

A number in a document is tied to its meaning by an anchor, an HTML comment
right before it that names what it is: <!--n:KEY-->0.41 says that 0.41 is the
number KEY. quoted_numbers.py computes every KEY from the committed pickles
(with scipy, independently of plots.py's statistics) and formats it as the
documents write it; a document's anchored number must be that text. A fact a
sentence states besides its numbers (that a verdict is "not equivalent", that
"all" cells are) is anchored the same way, <!--f:NAME-->, and NAME must be a
predicate of quoted_numbers.py that holds. The words around an anchor are
free: rewording a sentence and keeping its anchored numbers needs no test edit.

A table whose rows the tests compute (the headline table, ...) is tied by
an anchor on the line before it, <!--rows:KIND:STUDY-->, each row found by
its label. A copy of a committed table (<!--table:STUDY/FILE-->) is what the
documents no longer hold: they link to the study's own file, and a test
refuses one.

The committed studies are the folders under results/ that hold a study.toml
(results/ itself included): the list of them is read from the folders, as
plots.py --commands reads it.
"""

import io
import math
import re
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Callable, NamedTuple

import numpy as np
import pytest
from scipy import stats

from conftest import PROJECT_DIR

from batchgrow.optimizers import ALL_OPTIMIZERS, optimizer_display_name  # noqa: E402
from batchgrow.schedules import ALL_SCHEDULES  # noqa: E402
from batchgrow.study import ARCHITECTURE_NAMES, EQUIVALENCE_ALPHA, EQUIVALENCE_MARGIN_PP  # noqa: E402
from batchgrow import safe_pickle  # noqa: E402
from batchgrow.reporting.study_page import RESULTS_FILE, STUDY_FILE, study_folders  # noqa: E402

README = "README.md"
REPORT = "REPORT.md"

# The committed studies, by name ("results" and each folder under it), read
# from the folders: every study folder of results/ has a study.toml, whose
# draw command reads the folder's results.pickle (tests/test_study_pages.py).


def reproduced_studies():
    """{study name: pickle path} of every study folder of results/ with a study.toml; results/ is "results"."""
    return {folder.name: (folder / RESULTS_FILE).relative_to(PROJECT_DIR).as_posix()
            for folder in study_folders(PROJECT_DIR / "results") if (folder / STUDY_FILE).is_file()}


STUDIES = reproduced_studies()

# Studies quoted from the project's history: (commit, pickle path in it).
HISTORICAL_STUDIES = {
    # The 5-seed study before the written-out backward pass (commit 0691857).
    "previous": ("f9cecab", "results/results.pickle"),
}

# Studies as first trained on another CPU type, kept beside the studies trained again (earlier_cpu_study).
EARLIER_CPU = "amd_epyc_family_26"
EARLIER_CPU_STUDIES = {f"{name}@{EARLIER_CPU}": f"results/{name}/{EARLIER_CPU}.pickle"
                       for name in ("seeds_20", "momentum")}


def earlier_cpu_study(name):
    """The name under which a study's first training, on the earlier CPU type, is read."""
    return f"{name}@{EARLIER_CPU}"

# The equivalence margin the README declares, in percentage points, and the
# one-sided level of each of the two tests. Literals, so that the check stays
# independent of plots.py; test_plots_uses_the_margin_and_level_checked_here
# checks that plots.py uses the same.
MARGIN_PP = 0.1
ALPHA = 0.05

# plots.py's codes, in the order its tables list them.
ARCHITECTURES = list(ARCHITECTURE_NAMES)
OPTIMIZERS = list(ALL_OPTIMIZERS)
SCHEDULES = list(ALL_SCHEDULES)

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

# The facts the documents state besides their numbers, by name: predicates on the pickles
# (quoted_numbers.py, trajectory_numbers.py).
FACTS = {}


def fact(predicate):
    """Register a predicate as a fact a document may anchor (<!--f:NAME-->)."""
    FACTS[predicate.__name__] = predicate
    return predicate


@lru_cache(maxsize=None)
def study(name):
    """The results dict of a committed or historical study, or of a study as first trained on another CPU type."""
    if name in STUDIES:
        return safe_pickle.load(PROJECT_DIR / STUDIES[name])
    if name in EARLIER_CPU_STUDIES:
        return safe_pickle.load(PROJECT_DIR / EARLIER_CPU_STUDIES[name])
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


@lru_cache(maxsize=None)
def document_lines(name):
    """The document's lines, as written (tables are compared line by line)."""
    return tuple(line.rstrip() for line in (PROJECT_DIR / name).read_text(encoding="utf-8")
                 .splitlines())


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


def finals(name, arch, optimizer, schedule):
    """Final test accuracies (fractions) of a cell, by sorted seed."""
    runs = seed_runs(name, arch, optimizer, schedule)
    return np.array([runs[seed]["test_accuracy"][-1] for seed in sorted(runs)], dtype=float)


# ---------------------------------------------------------------------------
# Statistics, computed here (accuracies as fractions until shown)
# ---------------------------------------------------------------------------

def mean_pct(name, arch, optimizer, schedule):
    return 100 * float(finals(name, arch, optimizer, schedule).mean())


def std_pct(name, arch, optimizer, schedule):
    return 100 * float(finals(name, arch, optimizer, schedule).std(ddof=1))


def paired_differences(name, arch, optimizer, schedule, reference_schedule=None,
                       reference_study=None):
    """Per-seed final accuracy minus the reference's, in percentage points.

    The reference is another schedule of the same study (dlr by default) or,
    with reference_study, a cell of another study (the same schedule by
    default); only shared seeds pair.
    """
    if reference_schedule is None:
        reference_schedule = schedule if reference_study else "dlr"
    runs = seed_runs(name, arch, optimizer, schedule)
    reference = seed_runs(reference_study or name, arch, optimizer, reference_schedule)
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


def mean_difference(name, arch, optimizer, schedule, **reference):
    return interval(paired_differences(name, arch, optimizer, schedule, **reference))[0]


# ---------------------------------------------------------------------------
# Formatting, as the documents write numbers
# ---------------------------------------------------------------------------

def fmt(value, digits=2):
    return f"{value:.{digits}f}"


def signed(value, digits=2):
    """'+0.04', '-0.00': Python's signed format, as plots.py writes differences."""
    return f"{value:+.{digits}f}"


def lowest_and_highest_signed(values, digits=2):
    return f"{min(values):+.{digits}f} to {max(values):+.{digits}f}"


def lowest_and_highest(values, digits=2):
    return f"{min(values):.{digits}f} to {max(values):.{digits}f}"


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
    """'equivalent (n = 5, 90% [-0.01, +0.01])', as the documents write a verdict."""
    differences = paired_differences(name, arch, optimizer, schedule)
    _, low, high = interval(differences, 1 - 2 * ALPHA)
    return (f"{verdict(differences)} (n = {len(differences)}, "
            f"{100 * (1 - 2 * ALPHA):g}% [{signed(low)}, {signed(high)}])")


# ---------------------------------------------------------------------------
# Tables whose layout no committed file has
# ---------------------------------------------------------------------------

def headline_row(name, arch, optimizer):
    """The headline row: dlr's final accuracy, then ibs and hyb against it (90 %) with the verdict."""
    parts = [f"| {ARCHITECTURE_NAMES[arch]} | {optimizer_display_name(optimizer)} | "
             f"{accuracy_text(name, arch, optimizer, 'dlr')} |"]
    for schedule in ("ibs", "hyb"):
        differences = paired_differences(name, arch, optimizer, schedule)
        parts.append(f" {difference_text(differences, confidence=1 - 2 * ALPHA)} "
                     f"{verdict(differences)} |")
    return "".join(parts)


def cut_study(optimizer):
    """The study REPORT's cost-of-each-cut table reads an optimizer from."""
    return "momentum" if optimizer in ("momentum", "nesterov") else "ibs_lr"


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


def batch_32_gaps_of_dlr_and_hyb():
    """|ours at batch 32 minus the original's| of every dlr and hyb cell, in points."""
    return [abs(gap) for gap, _ in original_gaps("base_batch_32", ("sgd", "adam"), ("dlr", "hyb"))]


def std_distance_from_original(name, arch, optimizer, schedule):
    """|original - ours| in our cell's standard deviations."""
    original = ORIGINAL[arch, optimizer][ORIGINAL_ORDER.index(schedule)]
    return abs(original - mean_pct(name, arch, optimizer, schedule)) / std_pct(
        name, arch, optimizer, schedule)


def mean_seconds(name, arch, optimizer, schedule):
    return float(np.mean([run["seconds"][-1] for run in
                          seed_runs(name, arch, optimizer, schedule).values()]))


def wall_ratios(name):
    """dlr's mean wall seconds over ibs's and hyb's, every (network, optimizer)."""
    return [mean_seconds(name, arch, optimizer, "dlr") / mean_seconds(name, arch, optimizer, schedule)
            for arch in ARCHITECTURES for optimizer in ("sgd", "adam") for schedule in ("ibs", "hyb")]


def updates(name, arch, optimizer, schedule):
    return int(next(iter(seed_runs(name, arch, optimizer, schedule).values()))["updates"][-1])


def update_ratio(name, arch, optimizer, schedule):
    """How many times fewer updates than dlr a schedule takes."""
    return updates(name, arch, optimizer, "dlr") / updates(name, arch, optimizer, schedule)


def hyb_noise_gap(name):
    """The largest relative gap between hyb's and dlr's noise scale lr N / B, any epoch."""
    run = seed_runs(name, "mlp300", "sgd", "hyb")[0]
    reference = seed_runs(name, "mlp300", "sgd", "dlr")[0]
    return max(abs((rate / batch) / (reference_rate / reference_batch) - 1)
               for rate, batch, reference_rate, reference_batch in zip(
                   run["learning_rate"], run["batch_size"],
                   reference["learning_rate"], reference["batch_size"]))


def reset_gap_share():
    """The reset's LeNet-5/Adam ibs - dlr at batch 32, against the original's gap.

    Returns (our gap as a share of the original's, the rest of the original's gap).
    """
    original_gap = ORIGINAL["lenet5", "adam"][2] - ORIGINAL["lenet5", "adam"][0]
    ours = mean_difference("base_batch_32_original_reset", "lenet5", "adam", "ibs")
    return ours / original_gap, original_gap - ours


def two_run_std(name, arch, optimizer, schedules=ORIGINAL_ORDER):
    """√2 × the largest seed std of the schedules: the std of two independent runs' difference."""
    return math.sqrt(2) * max(std_pct(name, arch, optimizer, schedule) for schedule in schedules)


def spread_of_means(name, arch, optimizer, schedules=("dlr", "ibs", "hyb")):
    means = [mean_pct(name, arch, optimizer, schedule) for schedule in schedules]
    return max(means) - min(means)


def cut_mean(arch, optimizer, schedule):
    """The mean paired difference from dlr of a schedule in the study REPORT's cost of each cut reads it from."""
    return mean_difference(cut_study(optimizer), arch, optimizer, schedule)


def momentum_cut_costs(schedule):
    """What a schedule costs against dlr (points, mean) with momentum and Nesterov, every network."""
    return [-cut_mean(arch, optimizer, schedule) for arch in ARCHITECTURES
            for optimizer in ("momentum", "nesterov")]


def train_60000_verdicts():
    """The verdicts of LeNet-5's four comparisons with dlr on all 60,000 training images."""
    return [verdict(paired_differences("train_60000", "lenet5", optimizer, schedule))
            for optimizer in ("sgd", "adam") for schedule in ("ibs", "hyb")]


# ---------------------------------------------------------------------------
# Anchors: what a document says a number or a table is
# ---------------------------------------------------------------------------

NUMBER_ANCHOR = re.compile(r"<!--n:([\w.-]+)-->")
FACT_ANCHOR = re.compile(r"<!--f:(\w+)-->")
TABLE_ANCHOR = re.compile(r"^<!--(table|rows):([\w./:,-]+)-->$")
# What may not follow a quoted number's text if the number is to end there: a
# further digit, or a decimal point or thousands comma followed by one.
NUMBER_GOES_ON = re.compile(r"\d|[.,]\d")


def normalized(text):
    """Whitespace as one space and typographic minus signs as '-', as numbers are compared."""
    return re.sub(r"\s+", " ", text.replace("\u2212", "-"))


def anchored_numbers(text):
    """(key, the text after the anchor) of every number anchor of a document, in order."""
    text = normalized(text)
    return [(match.group(1), text[match.end():]) for match in NUMBER_ANCHOR.finditer(text)]


def anchored_facts(text):
    return FACT_ANCHOR.findall(text)


def number_problems(text, expected_of):
    """One line for every anchored number of text that is not what expected_of(key) says it is."""
    problems = []
    for key, after in anchored_numbers(text):
        expected = expected_of(key)
        if expected is None:
            problems.append(f"{key}: no such number is computed")
        elif not after.startswith(expected) or NUMBER_GOES_ON.match(after[len(expected):]):
            problems.append(f"{key}: the document says {after[:len(expected) + 8]!r}, the pickles give {expected!r}")
    return problems


def anchored_tables(name):
    """(kind, what, lines) of every table of a document whose line before is a table anchor."""
    lines = document_lines(name)
    tables = []
    for index, line in enumerate(lines):
        match = TABLE_ANCHOR.match(line.strip())
        if not match:
            continue
        table = []
        for following in lines[index + 1:]:
            if not following.startswith("|"):
                break
            table.append(following)
        assert table, f"{name}: the anchor {line} is not followed by a table"
        tables.append((match.group(1), match.group(2), table))
    return tables
