"""Analysis: a results pickle read and checked, and every row that tables and figures show.

load_results reads main.py's pickle with the restricted unpickler, brings an
older file up to today's schema (study.migrate_results) and checks its shape.
The row builders turn it into data, never text: the summary rows with their
verdicts against dlr, the stage-by-stage differences, the comparison with a
baseline pickle, the cost of each cut in updates, the schedules' learning
rates, batch sizes, momenta and noise scales. tables.py writes the rows,
figures.py draws them; breakdown.py sets every study of a folder side by side.
"""
from pathlib import Path

import numpy as np

from batchgrow import safe_pickle
from batchgrow.reporting.equivalence import (equivalence_test, mean_with_confidence_interval, probability_equivalent,
                                             smallest_detectable_difference)
from batchgrow.optimizers import ALL_OPTIMIZERS, is_known, noise_scale, optimizer_record
from batchgrow.schedules import ALL_SCHEDULES, REFERENCE_SCHEDULE, schedule_runs_with
from batchgrow.study import (ADAPTIVE_METRICS, ARCHITECTURE_NAMES, EQUIVALENCE_MARGIN_PP, MEASUREMENT_SETTINGS,
                             NOISE_METRICS, PRECONDITIONED_NOISE_METRICS, RUN_METRICS, VERDICTS, format_problem,
                             migrate_results)

SUMMARY_COLUMNS = (
    "architecture", "optimizer", "schedule", "seeds",
    "final_test_accuracy_mean", "final_test_accuracy_std", "best_epoch_test_accuracy_mean",
    "parameter_updates", "wall_seconds_mean",
    "paired_seeds_with_dlr", "diff_vs_dlr_pp_mean", "diff_vs_dlr_pp_ci95_low",
    "diff_vs_dlr_pp_ci95_high", "diff_vs_dlr_pp_ci90_low", "diff_vs_dlr_pp_ci90_high",
    "tost_p_value", "equivalence_margin_pp", "verdict",
)

# Where a cell's seeds take different numbers of updates (an adaptive schedule decides its batches during
# the run), the summary's parameter_updates is their mean and these columns give the range; a study whose
# every cell takes the same updates on every seed leaves them out of its CSV (tables.py).
SUMMARY_RANGE_COLUMNS = ("parameter_updates_min", "parameter_updates_max")

# The power of each comparison with dlr, at its own number of seeds and at the
# study's two sizes, 5 and 20 seeds: the smallest true difference called "not
# equivalent" with probability POWER, and the probability of "equivalent"
# when the true difference is 0.
POWER = 0.8
POWER_SEEDS = (5, 20)
POWER_COLUMNS = (
    "architecture", "optimizer", "schedule", "paired_seeds", "diff_vs_dlr_pp_mean", "diff_vs_dlr_pp_sd",
    "detectable_pp", "detectable_pp_at_5", "detectable_pp_at_20",
    "p_equivalent_at_0", "p_equivalent_at_0_at_5", "p_equivalent_at_0_at_20",
)

STAGE_COLUMNS = (
    "architecture", "optimizer", "schedule", "stage", "epoch", "batch_size", "batch_fraction_of_train_size",
    "paired_seeds", "diff_vs_dlr_pp_mean", "diff_vs_dlr_pp_ci90_low", "diff_vs_dlr_pp_ci90_high", "verdict",
)
# As SUMMARY_RANGE_COLUMNS: batch_size is the seeds' mean where they differ, and these give the range.
STAGE_RANGE_COLUMNS = ("batch_size_min", "batch_size_max")

# The batches an adaptive schedule chose, one row per (network, optimizer, schedule, stage): the seeds'
# mean, smallest and largest batch, the same of the B_simple each was chosen from (None for the first
# stage, which chooses nothing), the seeds whose B_simple was not resolved (NaN, so the batch was kept),
# and the mean updates the stage took.
CHOSEN_BATCH_COLUMNS = (
    "architecture", "optimizer", "schedule", "stage", "seeds", "batch_size_mean", "batch_size_min",
    "batch_size_max", "b_simple_chosen_from_mean", "b_simple_chosen_from_min", "b_simple_chosen_from_max",
    "b_simple_unresolved", "stage_updates_mean",
)

COMPARISON_COLUMNS = (
    "architecture", "optimizer", "schedule", "paired_seeds",
    "diff_pp_mean", "diff_pp_ci95_low", "diff_pp_ci95_high",
    "results_final_test_accuracy_percent_mean", "results_final_test_accuracy_percent_std",
    "baseline_final_test_accuracy_percent_mean", "baseline_final_test_accuracy_percent_std",
    "baseline_all_seeds", "baseline_all_seeds_std_pp", "diff_in_baseline_stds",
    "within_two_baseline_stds",
    # Added with comparisons across schedules and their TOST verdicts; at the
    # end, so that the columns before them read as they did.
    "baseline_schedule", "diff_pp_ci90_low", "diff_pp_ci90_high", "tost_p_value",
    "equivalence_margin_pp", "verdict",
    # Added for replications (the same study trained again, on another CPU type, say): the paired
    # difference of largest size, and each side's verdict against dlr, so that they can be set side by side.
    "largest_run_diff_pp", "results_verdict_against_reference", "baseline_verdict_against_reference",
)

# A cell agrees with the baseline when its mean difference is at most this
# many of the baseline's seed-to-seed standard deviations.
BASELINE_AGREEMENT_STDS = 2

# Config keys that may differ between compared pickles without being listed as
# "other differences": provenance (command, versions, machine), the selection of
# runs (the rows show which cells and seeds are shared), and the keys below.
COMPARISON_UNLISTED_KEYS = {
    "command", "versions", "machine", "original_optimizer_reset", "archs", "optimizers",
    "schedules", "seeds", "data_fingerprint", "train_size", "base_batch_size", "noise_scale",
    "momentum_coefficient",
    # What is measured besides, never how the runs train.
    *MEASUREMENT_SETTINGS,
}

# Config keys whose two values are always shown when they differ.
COMPARISON_VALUE_KEYS = ("original_optimizer_reset", "train_size", "base_batch_size", "data_fingerprint",
                         "noise_scale", "momentum_coefficient")


class ResultsError(Exception):
    """The results file is missing, unreadable or not shaped like main.py's output."""


# ---------------------------------------------------------------------------
# Reading and checking the results
# ---------------------------------------------------------------------------


def load_results(path, option="--results"):
    """Return the results dict stored at path, after checking its shape.

    Raises ResultsError with a one-line reason when the file is missing,
    is not a pickle, or does not hold what main.py writes. A pickle written
    by an older version of main.py is read as today's (study.migrate_results). The option is the
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
    config = results.get("config") if isinstance(results, dict) else None
    problem = format_problem(config) if isinstance(config, dict) else None
    if problem:
        raise ResultsError(f"{path}: {problem}")
    results = migrate_results(results)
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
        # The measured noise scale's lists are checked where a run has them.
        for metric in RUN_METRICS + tuple(name for name in NOISE_METRICS + PRECONDITIONED_NOISE_METRICS
                                          if name in run):
            if metric not in run:
                return f"run {key!r} has no '{metric}' list"
            try:
                values = np.asarray(run[metric], dtype=float)
            except (TypeError, ValueError):
                return f"run {key!r} has a '{metric}' that is not a list of numbers"
            if values.ndim != 1 or len(values) == 0:
                return f"run {key!r} has a '{metric}' that is not a non-empty list"
            # A diverged run's loss may be NaN, but an accuracy is a share of
            # test images, always finite: a NaN or infinite one is damage, and
            # the figures' axis limits could not be set from it.
            if metric == "test_accuracy" and not np.all(np.isfinite(values)):
                return f"run {key!r} has a test accuracy that is NaN or infinite"
            lengths.add(len(values))
        if len(lengths) > 1:
            return f"run {key!r} has per-epoch lists of different lengths"
    missing = results.get("missing", [])
    if not isinstance(missing, (list, tuple)) or not all(
            isinstance(key, (list, tuple)) and len(key) == 4 for key in missing):
        return "'missing' is not a list of (arch, optimizer, schedule, seed) tuples"
    return None


def rank(code, names):
    """Sort key that puts codes in the order of the names dict, unknown codes last."""
    known = list(names)
    return (known.index(code) if code in known else len(known), str(code))


def ordered(codes, names):
    """Return the distinct codes in the order of the names dict, unknown codes last."""
    return sorted(set(codes), key=lambda code: rank(code, names))


def run_sort_key(key):
    arch, optimizer, schedule, seed = key
    seed_rank = (0, seed, "") if isinstance(seed, (int, np.integer)) else (1, 0, str(seed))
    return (rank(arch, ARCHITECTURE_NAMES), rank(optimizer, ALL_OPTIMIZERS),
            rank(schedule, ALL_SCHEDULES), seed_rank)


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
                         ALL_OPTIMIZERS)
    return architectures, optimizers


def missing_runs(results):
    """Return the sorted (arch, optimizer, schedule, seed) runs asked for but not finished.

    These are the runs listed under "missing" plus every run of the config's
    selection (archs x optimizers x schedules x seeds) that has no entry in
    "runs", leaving out the pairs of schedule and optimizer that main.py
    cannot run (a schedule record's optimizers).
    """
    config = results["config"]
    finished = set(results["runs"])
    missing = {tuple(key) for key in results.get("missing", [])}
    for arch in config.get("archs", []):
        for optimizer in config.get("optimizers", []):
            for schedule in config.get("schedules", []):
                if not schedule_runs_with(schedule, optimizer):
                    continue
                for seed in config.get("seeds", []):
                    missing.add((arch, optimizer, schedule, seed))
    return sorted(missing - finished, key=run_sort_key)


# ---------------------------------------------------------------------------
# Against dlr: the summary rows, their verdicts, and the stage-by-stage differences
# ---------------------------------------------------------------------------


def diverged_runs(results):
    """Sorted keys of the runs whose training or test loss is not finite somewhere: diverged runs.

    A user's own settings or network can make a run diverge. Its accuracy is
    still a number (chance, or whatever it reached), so a diverged run stays
    in every statistic: dropping it would bias the verdicts toward
    equivalence. The tables and the command line name it instead.
    """
    return sorted((key for key, run in results["runs"].items()
                   if not all(np.all(np.isfinite(np.asarray(run[metric], dtype=float)))
                              for metric in ("train_loss", "test_loss"))), key=run_sort_key)


def cell_statistics(seed_runs, metric):
    """Per-epoch mean, standard deviation (ddof=1; None for one seed) and seed count.

    Runs of one cell normally have equal length; if not, all are cut to the
    shortest so that every epoch averages the same seeds.
    """
    length = min(len(run[metric]) for run in seed_runs.values())
    values = np.array([np.asarray(run[metric], dtype=float)[:length]
                       for run in seed_runs.values()])
    # A diverged run's infinite loss makes the spread undefined there, which is what it is.
    with np.errstate(invalid="ignore"):
        standard_deviation = values.std(axis=0, ddof=1) if len(values) > 1 else None
    return values.mean(axis=0), standard_deviation, len(values)


def paired_differences_from_dlr(cells, arch, optimizer, schedule, epoch=-1):
    """(seeds, differences): a schedule's test accuracy minus dlr's at one epoch, paired by seed.

    Differences are in percentage points, over the seeds both cells have,
    in the order of their text; with no dlr cell both lists are empty.
    """
    seed_runs = cells[(arch, optimizer, schedule)]
    reference = cells.get((arch, optimizer, REFERENCE_SCHEDULE), {})
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
                                ALL_SCHEDULES)
            for schedule in schedules:
                rows.append(_summary_row(cells, arch, optimizer, schedule))
    return rows


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
        wall_seconds_mean=float(np.mean([seed_runs[seed]["seconds"][-1] for seed in seeds])),
    )
    row.update(zip(("parameter_updates",) + SUMMARY_RANGE_COLUMNS,
                   seed_range([seed_runs[seed]["updates"][-1] for seed in seeds])))
    # Not a CSV column: only summary.md marks a cell's diverged runs (diverged_runs says why).
    row["diverged_seeds"] = sum(not all(np.all(np.isfinite(np.asarray(seed_runs[seed][metric], dtype=float)))
                                        for metric in ("train_loss", "test_loss")) for seed in seeds)
    paired_seeds, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule)
    if schedule != REFERENCE_SCHEDULE and paired_seeds:
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


def seed_range(values):
    """(mean, smallest, largest) of whole numbers that differ from seed to seed; the number itself thrice if not.

    A fixed schedule takes the same batches and updates on every seed, so
    its tables keep the whole number; an adaptive one's get the mean and range.
    """
    values = [int(value) for value in values]
    if min(values) == max(values):
        return values[0], values[0], values[0]
    return float(np.mean(values)), min(values), max(values)


def varies_by_seed(rows, columns):
    """Whether any row's range columns (smallest, largest) differ: whether a table needs them."""
    low, high = columns
    return any(row[low] != row[high] for row in rows)


def verdict_counts(rows):
    """Tally the equivalence verdicts of summary rows against dlr.

    Returns (counts, not_shown_equivalent): counts maps each of VERDICTS, and
    "no verdict" (a comparison with fewer than two paired seeds), to its
    number of comparisons; not_shown_equivalent lists (architecture,
    optimizer, schedule, verdict) for every comparison whose verdict is
    "undecided" or "not equivalent", in display order. dlr rows are no
    comparison and count nowhere.
    """
    return tally_verdicts(((row["architecture"], row["optimizer"], row["schedule"]), row["verdict"]) for row in rows
                          if row["schedule"] != REFERENCE_SCHEDULE and row["paired_seeds_with_dlr"] is not None)


def comparison_verdict_counts(rows):
    """(counts, not shown equivalent) of comparison rows, as verdict_counts gives them for the summary:
    every row with a paired seed counts."""
    return tally_verdicts((comparison_cell(row), row["verdict"]) for row in rows if row["paired_seeds"])


def tally_verdicts(judged):
    """(counts, not_shown_equivalent) of (cell, verdict or None) pairs: how many of each verdict ("no verdict"
    for None), and (*cell, verdict) of every "undecided" or "not equivalent", in the order given."""
    counts = dict.fromkeys(VERDICTS + ("no verdict",), 0)
    not_shown_equivalent = []
    for cell, verdict in judged:
        verdict = verdict or "no verdict"
        counts[verdict] += 1
        if verdict in ("undecided", "not equivalent"):
            not_shown_equivalent.append(tuple(cell) + (verdict,))
    return counts, not_shown_equivalent


def power_rows(results):
    """One row per comparison with dlr that has 2 or more paired seeds, keyed by POWER_COLUMNS.

    The spread is the standard deviation (ddof=1) of the paired differences
    in final test accuracy, in percentage points: what the paired test sees,
    smaller than a cell's own seed-to-seed spread when the paired runs move
    together. A spread of 0 (identical runs) has no power to compute.
    """
    cells = group_runs(results)
    rows = []
    for arch, optimizer, schedule in sorted(cells, key=lambda cell: run_sort_key(cell + (0,))):
        seeds, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule)
        if schedule == REFERENCE_SCHEDULE or len(seeds) < 2:
            continue
        spread = float(np.std(differences, ddof=1))
        row = dict.fromkeys(POWER_COLUMNS)
        row.update(architecture=arch, optimizer=optimizer, schedule=schedule, paired_seeds=len(seeds),
                   diff_vs_dlr_pp_mean=float(np.mean(differences)), diff_vs_dlr_pp_sd=spread)
        if spread > 0:
            for suffix, count in (("", len(seeds)),) + tuple((f"_at_{n}", n) for n in POWER_SEEDS):
                row["detectable_pp" + suffix] = smallest_detectable_difference(spread, count, POWER)
                row["p_equivalent_at_0" + suffix] = probability_equivalent(0.0, spread, count)
        rows.append(row)
    return rows


def stage_differences(results):
    """Return one row per (arch, optimizer, schedule other than dlr, stage), keyed by STAGE_COLUMNS.

    Each row holds the paired difference from dlr in test accuracy at the
    last epoch of the stage (percentage points), its 90% interval and the
    equivalence verdict there, beside the stage's batch size and that batch
    as a fraction of the training set. Read down a schedule's rows, they
    show at which batch size a gap to dlr opens, if one does.
    """
    config = results["config"]
    epochs_per_stage = config["epochs_per_stage"]
    train_size = config["train_size"]
    cells = group_runs(results)
    rows = []
    for arch, optimizer, schedule in sorted(cells, key=lambda cell: run_sort_key(cell + (0,))):
        seed_runs = cells[(arch, optimizer, schedule)]
        seeds, _ = paired_differences_from_dlr(cells, arch, optimizer, schedule)
        if schedule == REFERENCE_SCHEDULE or not seeds:
            continue
        reference = cells[(arch, optimizer, REFERENCE_SCHEDULE)]
        epochs = min(len(run["test_accuracy"]) for run in list(seed_runs.values()) + list(reference.values()))
        for stage, epoch in enumerate(range(epochs_per_stage - 1, epochs, epochs_per_stage)):
            _, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule, epoch)
            outcome = equivalence_test(differences)
            batch_size, smallest, largest = seed_range([seed_runs[seed]["batch_size"][epoch] for seed in seeds])
            rows.append(dict(
                architecture=arch, optimizer=optimizer, schedule=schedule, stage=stage + 1, epoch=epoch + 1,
                batch_size=batch_size, batch_fraction_of_train_size=batch_size / train_size,
                batch_size_min=smallest, batch_size_max=largest, paired_seeds=len(seeds),
                diff_vs_dlr_pp_mean=outcome["mean"], diff_vs_dlr_pp_ci90_low=outcome["low"],
                diff_vs_dlr_pp_ci90_high=outcome["high"],
                verdict=outcome["verdict"]))
    return rows


def chosen_batches(results):
    """Rows keyed by CHOSEN_BATCH_COLUMNS: the batch each stage of an adaptive schedule chose, over its seeds.

    Only runs that record what their batches were chosen from (ADAPTIVE_METRICS)
    count; cells come in display order, stages from 1. The B_simple of the first
    stage, which is dlr's and chooses nothing, is None.
    """
    cells = group_runs(results)
    epochs_per_stage = results["config"]["epochs_per_stage"]
    rows = []
    for arch, optimizer, schedule in sorted(cells, key=lambda cell: run_sort_key(cell + (0,))):
        seed_runs = cells[(arch, optimizer, schedule)]
        if not all(ADAPTIVE_METRICS[0] in run for run in seed_runs.values()):
            continue
        epochs = min(len(run["batch_size"]) for run in seed_runs.values())
        for stage, first in enumerate(range(0, epochs, epochs_per_stage)):
            last = min(first + epochs_per_stage, epochs) - 1
            batches = [int(run["batch_size"][first]) for run in seed_runs.values()]
            chosen_from = np.array([run[ADAPTIVE_METRICS[0]][first] for run in seed_runs.values()], dtype=float)
            updates = [run["updates"][last] - (run["updates"][first - 1] if first else 0)
                       for run in seed_runs.values()]
            row = dict(architecture=arch, optimizer=optimizer, schedule=schedule, stage=stage + 1,
                       seeds=len(seed_runs), batch_size_mean=float(np.mean(batches)), batch_size_min=min(batches),
                       batch_size_max=max(batches), stage_updates_mean=float(np.mean(updates)))
            # A NaN (an unresolved B_simple, which kept the batch) is counted, not averaged; the first stage
            # chose nothing.
            resolved = chosen_from[np.isfinite(chosen_from)]
            row.update(zip(("b_simple_chosen_from_mean", "b_simple_chosen_from_min", "b_simple_chosen_from_max"),
                           (float(resolved.mean()), float(resolved.min()), float(resolved.max()))
                           if stage and len(resolved) else (None, None, None)))
            row["b_simple_unresolved"] = int(len(chosen_from) - len(resolved)) if stage else 0
            rows.append(row)
    return rows


def cost_of_fewer_updates(results, optimizer):
    """Return {arch: [point]} of what each schedule's cut in updates costs in accuracy.

    A point is a dict with the schedule, its parameter updates per run (the
    paired seeds' mean, with updates_low and updates_high their range), the
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
        if not cells.get((arch, optimizer, REFERENCE_SCHEDULE)):
            continue
        schedules = ordered([key[2] for key in cells if key[:2] == (arch, optimizer)],
                            ALL_SCHEDULES)
        arch_points = []
        for schedule in schedules:
            paired_seeds, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule)
            if not paired_seeds:
                continue
            mean, low, high = mean_with_confidence_interval(differences)
            updates, updates_low, updates_high = seed_range(
                [cells[(arch, optimizer, schedule)][seed]["updates"][-1] for seed in paired_seeds])
            arch_points.append(dict(schedule=schedule, updates=updates, updates_low=updates_low,
                                    updates_high=updates_high,
                                    paired_seeds=len(paired_seeds), mean=mean, low=low,
                                    high=high))
        if len(arch_points) > 1:
            points[arch] = arch_points
    return points


# ---------------------------------------------------------------------------
# Against a baseline pickle
# ---------------------------------------------------------------------------


def compare_results(results, baseline, pairs=None):
    """Return one row dict per (arch, optimizer, schedule) cell compared with the baseline.

    Without pairs, every cell that both pickles have is compared with itself.
    pairs, a list of (results schedule, baseline schedule), compares instead
    each results cell of the first with the baseline cell of the second of
    the same architecture and optimizer, where both pickles have them: ibs_mom
    of one study against ibs of another, say, or against the same study's
    dlr. Each row's "schedule" is the results' and "baseline_schedule" the
    baseline's.

    Rows are keyed by COMPARISON_COLUMNS and come in display order. The
    difference is results minus baseline in final test accuracy, in percentage
    points, paired by seed over the seeds both pickles have; the accuracies of
    both sides are in percent over the same paired seeds. The difference has
    a 95% interval, and the TOST verdict at the equivalence margin with its
    90% interval and p-value (equivalence.equivalence_test), as the summary's
    differences from dlr have. Missing values (a std of one seed, an interval
    or verdict of one pair, anything of a cell without a shared seed) are
    None. Each row also has "results_only_seeds" and "baseline_only_seeds",
    the sorted seeds left out for want of a partner, "largest_run_diff_pp",
    the paired difference of largest size, and each side's verdict against
    its reference schedule in its own summary (None for the reference), so
    that a study trained again shows whether its verdicts held.

    The baseline's seed-to-seed standard deviation (ddof=1, in percentage
    points) is over all its seeds of the cell, paired or not, as the best
    estimate of how far two runs of that cell differ by chance; the mean
    difference is also given in units of it, and whether it is at most
    BASELINE_AGREEMENT_STDS of them.
    """
    result_cells, baseline_cells = group_runs(results), group_runs(baseline)
    verdicts = [{(row["architecture"], row["optimizer"], row["schedule"]): row["verdict"] for row in summarize(side)}
                for side in (results, baseline)]
    if pairs is None:
        pairs = sorted({(cell[2], cell[2]) for cell in set(result_cells) & set(baseline_cells)})
    compared = [(cell, (cell[0], cell[1], baseline_schedule))
                for cell in result_cells for schedule, baseline_schedule in dict.fromkeys(pairs)
                if cell[2] == schedule and (cell[0], cell[1], baseline_schedule) in baseline_cells]
    compared.sort(key=lambda both: (run_sort_key(both[0] + (0,)), rank(both[1][2], ALL_SCHEDULES)))
    rows = [_comparison_row(result_cells[cell], baseline_cells[baseline_cell], cell, baseline_cell[2])
            for cell, baseline_cell in compared]
    for row, (cell, baseline_cell) in zip(rows, compared):
        row.update(results_verdict_against_reference=verdicts[0].get(cell),
                   baseline_verdict_against_reference=verdicts[1].get(baseline_cell))
    return rows


def comparison_cell(row):
    """(architecture, optimizer, schedule) that names a comparison row; the schedule reads
    "ibs against ibs_mom" where the baseline's schedule is another."""
    schedule = row["schedule"]
    if row["baseline_schedule"] != schedule:
        schedule = f"{schedule} against {row['baseline_schedule']}"
    return (row["architecture"], row["optimizer"], schedule)


def _comparison_row(result_seed_runs, baseline_seed_runs, cell, baseline_schedule):
    paired_seeds = sorted(set(result_seed_runs) & set(baseline_seed_runs), key=str)
    row = dict.fromkeys(COMPARISON_COLUMNS)
    row.update(
        architecture=cell[0],
        optimizer=cell[1],
        schedule=cell[2],
        baseline_schedule=baseline_schedule,
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
    differences = result_finals - baseline_finals
    mean, low, high = mean_with_confidence_interval(differences)
    row.update(
        diff_pp_mean=mean, diff_pp_ci95_low=low, diff_pp_ci95_high=high,
        largest_run_diff_pp=float(differences[np.argmax(np.abs(differences))]),
        results_final_test_accuracy_percent_mean=float(result_finals.mean()),
        results_final_test_accuracy_percent_std=_sample_std(result_finals),
        baseline_final_test_accuracy_percent_mean=float(baseline_finals.mean()),
        baseline_final_test_accuracy_percent_std=_sample_std(baseline_finals),
    )
    equivalence = equivalence_test(result_finals - baseline_finals)
    if equivalence["verdict"] is not None:
        row.update(diff_pp_ci90_low=equivalence["low"], diff_pp_ci90_high=equivalence["high"],
                   tost_p_value=equivalence["p_value"], equivalence_margin_pp=EQUIVALENCE_MARGIN_PP,
                   verdict=equivalence["verdict"])
    if baseline_std is not None:
        row.update(
            diff_in_baseline_stds=mean / baseline_std if baseline_std > 0 else None,
            within_two_baseline_stds=bool(abs(mean) <= BASELINE_AGREEMENT_STDS * baseline_std))
    return row


def baseline_agreement(rows):
    """Sort comparison rows by whether they differ from the baseline by at most two of its stds.

    Returns a dict: "within", the cells (comparison_cell: architecture,
    optimizer, schedule) whose mean difference is at most BASELINE_AGREEMENT_STDS of the
    baseline's seed-to-seed standard deviations; "beyond", (cell, difference
    in those standard deviations) for the others; and "unjudged", the cells
    without a paired seed or with fewer than two baseline seeds.
    """
    agreement = {"within": [], "beyond": [], "unjudged": []}
    for row in rows:
        cell = comparison_cell(row)
        if row["within_two_baseline_stds"] is None:
            agreement["unjudged"].append(cell)
        elif row["within_two_baseline_stds"]:
            agreement["within"].append(cell)
        else:
            agreement["beyond"].append((cell, row["diff_in_baseline_stds"]))
    return agreement


def verdicts_kept(rows):
    """(cells whose verdict against the reference is the same on both sides, cells where it changed:
    (cell, results' verdict, baseline's)), over the rows that compare a schedule with itself and
    where either side has a verdict."""
    same, changed = [], []
    for row in rows:
        results, baseline = row["results_verdict_against_reference"], row["baseline_verdict_against_reference"]
        if (results is None and baseline is None) or row["schedule"] != row["baseline_schedule"]:
            continue
        if results == baseline:
            same.append(comparison_cell(row))
        else:
            changed.append((comparison_cell(row), results, baseline))
    return same, changed


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


# ---------------------------------------------------------------------------
# The schedules as run: learning rates, batch sizes, momenta and noise scales
# ---------------------------------------------------------------------------


def representative_runs(results):
    """Return {(optimizer, schedule): run}, one run each, to read schedules from.

    A fixed schedule's learning rate and batch size depend only on optimizer
    and schedule, so the first run in display order stands for all
    architectures and seeds. An adaptive schedule's batches (and ibs_auto_lr's
    learning rates) differ by network and seed: its representative is that
    first run with batch_size and learning_rate replaced by their per-epoch
    medians over them all, and batch_size_low and batch_size_high added, the
    smallest and largest batch. (ibs_auto_lr's rate is proportional to its
    batch, so the two medians keep its noise scale.)
    """
    by_schedule = {}
    for key in sorted(results["runs"], key=run_sort_key):
        by_schedule.setdefault((key[1], key[2]), []).append(results["runs"][key])
    representatives = {}
    for (optimizer, schedule), runs in by_schedule.items():
        representative = runs[0]
        if any(ADAPTIVE_METRICS[0] in run for run in runs):
            epochs = min(len(run["batch_size"]) for run in runs)
            batches = np.array([run["batch_size"][:epochs] for run in runs], dtype=float)
            rates = np.array([run["learning_rate"][:epochs] for run in runs], dtype=float)
            representative = dict(representative, batch_size=np.median(batches, axis=0).tolist(),
                                  learning_rate=np.median(rates, axis=0).tolist(),
                                  batch_size_low=batches.min(axis=0).tolist(),
                                  batch_size_high=batches.max(axis=0).tolist())
        representatives[(optimizer, schedule)] = representative
    return representatives


def base_learning_rate(results, optimizer):
    """The optimizer's base learning rate, as the config records it."""
    return float(results["config"]["learning_rates"][optimizer])


def schedule_momenta(results):
    """Return {schedule: per-epoch momentum coefficient}, or {} when no schedule changes it.

    The momentum coefficient is worth a panel of its own when a run of SGD,
    SGD with momentum or Nesterov has one that is not zero or not constant,
    or an Adam run a beta_1 that is not constant. Each schedule is then shown
    by its first run in display order of an SGD optimizer with momentum (plain
    SGD's 0 when it has none); Adam's constant beta_1 is not SGD's momentum.
    """
    representatives = representative_runs(results)
    momenta = {key: np.asarray(run["momentum"], dtype=float) for key, run in representatives.items()}
    # Only the SGD family's m is SGD's momentum; an optimizer of another kind (Adam's beta_1) counts only
    # where it changes.
    sgd_family = {optimizer: is_known(optimizer) and optimizer_record(optimizer).noise_scale_applies
                  for optimizer, _ in momenta}
    if not any((sgd_family[optimizer] and np.any(momentum != 0)) or np.ptp(momentum) > 0
               for (optimizer, _), momentum in momenta.items()):
        return {}
    by_schedule = {}
    for optimizer, schedule in sorted(momenta, key=lambda key: (
            rank(key[0], ALL_OPTIMIZERS), rank(key[1], ALL_SCHEDULES))):
        momentum = momenta[(optimizer, schedule)]
        if not sgd_family[optimizer]:
            continue
        if schedule not in by_schedule or (np.all(by_schedule[schedule] == 0)
                                           and np.any(momentum != 0)):
            by_schedule[schedule] = momentum
    return by_schedule


def noise_scales(results):
    """Return {(optimizer, schedule): per-epoch noise scale g}, in the form the study matched.

    optimizers.noise_scale of each run's learning rate, batch size and
    momentum coefficient, which enters only for an optimizer of the SGD
    family, the one the noise-scale argument is about; Adam's g is
    lr * N / B (or lr * (N / B - 1)), the same number for comparison
    (Optimizer.momentum_in_figures).
    """
    config = results["config"]
    form = "exact" if config.get("noise_scale") == "exact" else "approx"
    scales = {}
    for (optimizer, schedule), run in representative_runs(results).items():
        momentum = np.asarray(run["momentum"], dtype=float)
        shown = optimizer_record(optimizer).momentum_in_figures(momentum) if is_known(optimizer) else momentum
        scales[(optimizer, schedule)] = noise_scale(np.asarray(run["learning_rate"], dtype=float),
                                                    np.asarray(run["batch_size"], dtype=float), shown,
                                                    config["train_size"], form)
    return scales


def measured_noise_scales(results):
    """{(arch, optimizer): {schedule: (per-epoch B_simple, per-epoch batch size, seeds)}} of the measured cells.

    A cell counts when every run of it carries the measured noise scale
    (main.py --measure-noise); cells and schedules come in display order. A
    schedule's B_simple is the ratio of its seeds' mean tr(Σ) and mean |G|²
    estimates, as the estimator averages each over its draws before dividing;
    NaN where that mean |G|² is not positive.
    """
    cells = group_runs(results)
    architectures, optimizers = selected_architectures_and_optimizers(results)
    measured = {}
    for arch in architectures:
        for optimizer in optimizers:
            schedules = ordered([key[2] for key in cells if key[:2] == (arch, optimizer)], ALL_SCHEDULES)
            if not schedules or not all("b_simple" in run for schedule in schedules
                                        for run in cells[(arch, optimizer, schedule)].values()):
                continue
            by_schedule = {}
            for schedule in schedules:
                seed_runs = cells[(arch, optimizer, schedule)]
                trace, _, count = cell_statistics(seed_runs, "gradient_variance")
                norm_squared = cell_statistics(seed_runs, "gradient_norm_sq")[0]
                with np.errstate(divide="ignore", invalid="ignore"):
                    b_simple = np.where(norm_squared > 0, trace / norm_squared, np.nan)
                by_schedule[schedule] = (b_simple, cell_statistics(seed_runs, "batch_size")[0][:len(b_simple)], count)
            measured[(arch, optimizer)] = by_schedule
    return measured
