"""Tables: the rows of analysis.py written as Markdown and CSV, and the sentences around them.

summary.md / summary.csv   final accuracies and the verdict against dlr of every cell
stages.md / stages.csv     the difference from dlr at the end of every stage
batches_chosen.md / .csv   the batch each stage of an adaptive schedule chose, and the B_simple it came from
comparison.md / .csv       results minus a baseline pickle, paired by seed, with TOST verdicts
calibration.md / .csv      the trajectory margin δ chosen by its rule, and what the test resolves with it
floor.md / .csv            the smallest margins dlr against itself (dlr_ulp) could pass
margins.md / .csv          δ per optimizer, by SGD's rule with the learning rate as the knob

The sentences here (the equivalence rule, who trained the runs, the tallies
the command line prints) are the project's own words for its numbers; the
figures say the same things and take them from here.
"""
import csv
import math
from fractions import Fraction
from pathlib import Path

from batchgrow.reporting.analysis import (BASELINE_AGREEMENT_STDS, CHOSEN_BATCH_COLUMNS, COMPARISON_COLUMNS,
                                          COMPARISON_VALUE_KEYS, POWER, POWER_SEEDS, STAGE_COLUMNS, STAGE_RANGE_COLUMNS,
                                          SUMMARY_COLUMNS, SUMMARY_RANGE_COLUMNS, baseline_agreement, comparison_cell,
                                          config_differences, varies_by_seed, verdicts_kept)
from batchgrow.optimizers import MOMENTUM_OPTIMIZERS, optimizer_display_name
from batchgrow.provenance import describe_machines, describe_versions, machine_counts, runs_text
from batchgrow.schedules import (ALL_SCHEDULES, CALIBRATION_STAGE, LEARNING_RATE_READINGS, NOISE_MATCHED_SCHEDULES,
                                 REFERENCE_SCHEDULE, schedule_display_name)
from batchgrow.study import (ARCHITECTURE_NAMES, DEFAULT_DATA_NAME, EQUIVALENCE_ALPHA, EQUIVALENCE_MARGIN_PP,
                             NOT_RECORDED, Settings, VERDICTS)
from batchgrow.reporting.trajectory import TRAJECTORY_COLUMNS, reading_column



# ---------------------------------------------------------------------------
# Sentences
# ---------------------------------------------------------------------------


def data_name(config):
    """The name of the study's data: MNIST unless the config records another."""
    return config.get("data_name", DEFAULT_DATA_NAME)


def settings_suffix(config):
    """Names the settings that depart from the study's own, so a figure says what it shows."""
    departures = []
    base_batch_size = config["base_batch_size"]
    if base_batch_size != Settings.base_batch_size:
        departures.append(f"base batch {base_batch_size}")
    if config["original_optimizer_reset"]:
        departures.append("original optimizer reset")
    if config.get("noise_scale", Settings.noise_scale) == "exact":
        departures.append("exact noise scale")
    momentum = config.get("momentum_coefficient", Settings.momentum_coefficient)
    if momentum != Settings.momentum_coefficient and set(config.get("optimizers", [])) & set(MOMENTUM_OPTIMIZERS):
        departures.append(f"momentum {momentum:g}")
    if config.get("backward", Settings.backward) != Settings.backward:
        departures.append(f"{config['backward']} backward pass")
    if config.get("beta_scaling", Settings.beta_scaling) == "samples":
        departures.append("betas scaled to the batch")
    elif config.get("beta_scaling", Settings.beta_scaling) == "schedule":
        departures.append("betas' half-lives as each schedule holds them")
    return f" ({', '.join(departures)})" if departures else ""


def noise_scale_sentence(config):
    """What the schedules matched, for a study on the exact noise scale; "" for the approximation.

    A study on the approximation, the default, says nothing, as every
    committed study before the exact form did.
    """
    if config.get("noise_scale", Settings.noise_scale) != "exact":
        return ""
    matched = [name for name in NOISE_MATCHED_SCHEDULES if name in config.get("schedules", [])] \
        or list(NOISE_MATCHED_SCHEDULES)
    names = ", ".join(matched[:-1]) + (" and " if len(matched) > 1 else "") + matched[-1]
    return ("The schedules match the exact noise scale g = lr (N/B − 1) / (1 − m) (Smith and Le 2017), "
            "not the approximation g = lr N / (B (1 − m)): dlr sets each stage's g from its own learning "
            f"rate lr, batch B and momentum m, and {names} keep their own lr and m and take the batch "
            "B = N / (1 + g (1 − m) / lr), rounded to a whole number in [1, N]. For Adam, m is β₁ and "
            "g is formal.")


def equivalence_rule_sentence(reference=REFERENCE_SCHEDULE, compared="A schedule"):
    """The sentence that states the equivalence margin and the rule behind each verdict.

    reference is what the verdicts are against, compared what is judged.
    """
    margin = f"{EQUIVALENCE_MARGIN_PP:g}"
    confidence = f"{100 * (1 - 2 * EQUIVALENCE_ALPHA):g}%"
    return (f"Verdict against {reference}: two one-sided paired t-tests (TOST, α = "
            f"{EQUIVALENCE_ALPHA:g} each) with an equivalence margin of ±{margin} percentage "
            f"points of final test accuracy. {compared} is equivalent to {reference} when the "
            f"{confidence} Student-t interval of the paired difference lies inside (-{margin}, "
            f"+{margin}), not equivalent when it lies wholly outside [-{margin}, +{margin}] "
            f"(the difference exceeds the margin at α = {EQUIVALENCE_ALPHA:g}, one-sided), and "
            f"undecided otherwise; n is the number of paired seeds, and fewer than 2 give no "
            "verdict.")


def provenance_sentence(provenance):
    """The summary's sentence naming the machines and library versions that trained the runs."""
    counts = machine_counts(provenance)
    versions = describe_versions(provenance)
    if not counts or (len(counts) == 1 and counts[0][0] == NOT_RECORDED):
        machines_text = "The machine that trained the runs is not recorded"
    elif len(counts) == 1:
        machine, runs = counts[0]
        machines_text = f"The runs were trained on {machine} (all {runs_text(runs)})"
    else:
        machines_text = ("The runs were trained on several machines: "
                         + describe_machines(counts).removeprefix("mixed: "))
    if versions:
        versions_text = "Library versions: " + ", ".join(
            f"{package} {version}" for package, version in versions.items())
    else:
        versions_text = "The library versions are not recorded"
    return f"{machines_text}. {versions_text}."


def stacked_sentence(provenance):
    """The summary's sentence on the runs trained with their seeds stacked (--stack-seeds); "" if none was."""
    # A stack of one seed (a resumed or a one-seed study) trained that seed alone.
    stacked = [key for key, record in provenance.items()
               if isinstance(record, dict) and len(record.get("stacked_seeds") or ()) > 1]
    if not stacked:
        return ""
    names = ", ".join(ARCHITECTURE_NAMES.get(arch, arch) for arch in dict.fromkeys(key[0] for key in stacked))
    return (f"{len(stacked)} of the {runs_text(len(provenance))} ({names}) were trained with other seeds of their "
            "cell, stacked as one model (--stack-seeds): each seed from its own initial weights, example order and "
            "optimizer state, the run it would be alone up to rounding; their wall seconds are each seed's share "
            "of the stack's.")


def describe_verdict_counts(counts, not_shown_equivalent, reference=REFERENCE_SCHEDULE):
    """One line that tallies the verdicts and names the comparisons not shown equivalent."""
    tally = ", ".join(f"{counts[verdict]} {verdict}" for verdict in VERDICTS)
    if counts["no verdict"]:
        tally += f", {counts['no verdict']} without a verdict (fewer than 2 paired seeds)"
    line = (f"verdicts against {reference} (TOST, margin ±{EQUIVALENCE_MARGIN_PP:g} pp, "
            f"alpha {EQUIVALENCE_ALPHA:g}): {tally}")
    if not_shown_equivalent:
        line += "; not shown equivalent: " + ", ".join(
            f"{arch} {optimizer} {schedule} ({verdict})"
            for arch, optimizer, schedule, verdict in not_shown_equivalent)
    return line


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


# ---------------------------------------------------------------------------
# CSV
# ---------------------------------------------------------------------------


def write_csv(rows, path, columns):
    """Write rows as CSV with plain numbers, one column per name in columns."""
    with Path(path).open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        for row in rows:
            writer.writerow({column: _csv_value(row[column]) for column in columns})
    return Path(path)


def _csv_value(value):
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.6f}"
    return value


def write_summary_csv(rows, path):
    """Write summary rows as CSV (accuracy as fractions, differences in pp), with the updates' range if it varies,
    and the verdict on the training loss (trajectory_verdict) where the study recorded it."""
    ranges = SUMMARY_RANGE_COLUMNS if varies_by_seed(rows, SUMMARY_RANGE_COLUMNS) else ()
    trajectory = ("trajectory_verdict",) if any("trajectory_verdict" in row for row in rows) else ()
    return write_csv(rows, path, SUMMARY_COLUMNS + trajectory + ranges)


def write_stages_csv(rows, path):
    """Write stage_differences rows as CSV, with the batch's range where it varies by seed."""
    ranges = STAGE_RANGE_COLUMNS if varies_by_seed(rows, STAGE_RANGE_COLUMNS) else ()
    return write_csv(rows, path, STAGE_COLUMNS + ranges)


def write_trajectory_csv(rows, path):
    """Write trajectory rows as CSV: every compared stage's training-loss ratio to dlr, its test-loss ratio."""
    return write_csv(rows, path, TRAJECTORY_COLUMNS)


def write_chosen_batches_csv(rows, path):
    """Write chosen_batches rows as CSV."""
    return write_csv(rows, path, CHOSEN_BATCH_COLUMNS)


def _whole_number_range(mean, smallest, largest):
    """'18,720', or '15,090 (15,062 to 15,112)' for a mean whose seeds differ."""
    if smallest == largest:
        return f"{smallest:,}"
    return f"{mean:,.0f} ({smallest:,} to {largest:,})"


def write_comparison_csv(rows, path):
    """Write comparison rows as CSV (differences in pp, accuracies in percent)."""
    return write_csv(rows, path, COMPARISON_COLUMNS)


# ---------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------


def write_summary_markdown(rows, path, config, provenance):
    """Write rows as a Markdown table in percent, with a header saying what the numbers mean.

    provenance is results["provenance"], from which the header names the
    machines and library versions that trained the runs.
    """
    seed_counts = sorted({row["seeds"] for row in rows})
    seeds_text = (f"{seed_counts[0]} seed{'s' if seed_counts[0] != 1 else ''}"
                  if len(seed_counts) == 1 else
                  f"{seed_counts[0]} to {seed_counts[-1]} seeds per row")
    reset_text = (" Runs reproduce the original code's optimizer reset every epoch for "
                  "dlr and hyb." if config["original_optimizer_reset"] else "")
    lines = [
        f"# Summary{settings_suffix(config)}",
        "",
        f"{data_name(config)}, {config['train_size']:,} training images, "
        f"{config['epochs']}"
        " epochs, "
        f"{seeds_text}.{reset_text} Accuracies are test accuracy in percent, mean ± standard "
        "deviation across seeds (ddof=1). Final: after the last epoch; best-epoch: mean over "
        "seeds of each run's highest test accuracy. Parameter updates are those of one run"
        + ("" if not varies_by_seed(rows, SUMMARY_RANGE_COLUMNS) else
           ", or the seeds' mean (smallest to largest) where the batch was chosen during the run")
        + "; wall seconds are the seeds' mean training time. The difference from dlr is paired "
        "by seed, in percentage points: mean [95% Student-t confidence interval of the mean].",
        "",
    ]
    if noise_scale_sentence(config):
        lines += [noise_scale_sentence(config), ""]
    lines += [provenance_sentence(provenance), ""]
    stacked = stacked_sentence(provenance)
    if stacked:
        lines += [stacked, ""]
    lines += [
        equivalence_rule_sentence(),
        "",
    ]
    diverged = sum(row.get("diverged_seeds", 0) for row in rows)
    if diverged:
        lines += [f"{diverged} run{'s' if diverged != 1 else ''} diverged (a training or test loss that is not "
                  "finite), marked in the Seeds column. They stay in every mean, interval and verdict: "
                  "dropping them would bias the verdicts toward equivalence.", ""]
    trajectory = any("trajectory_verdict" in row for row in rows)
    if trajectory:
        lines += ["Same training: the verdict on the model's training loss against dlr's at every stage end "
                  "that the schedule does not share with dlr (trajectory.md gives each stage).", ""]
    lines += [
        "| Architecture | Optimizer | Schedule | Seeds | Final accuracy (%) | "
        "Best-epoch accuracy (%) | Parameter updates | Wall seconds | Difference from dlr (pp) "
        "| Verdict against dlr |" + (" Same training |" if trajectory else ""),
        "|---|---|---|---:|---:|---:|---:|---:|---:|---|" + ("---|" if trajectory else ""),
    ]
    for row in rows:
        final = f"{100 * row['final_test_accuracy_mean']:.2f}"
        if row["final_test_accuracy_std"] is not None:
            final += f" ± {100 * row['final_test_accuracy_std']:.2f}"
        cells = [
            ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
            optimizer_display_name(row["optimizer"]),
            schedule_display_name(row["schedule"]),
            str(row["seeds"]) + (f" ({row['diverged_seeds']} diverged)" if row.get("diverged_seeds") else ""),
            final,
            f"{100 * row['best_epoch_test_accuracy_mean']:.2f}",
            _whole_number_range(row["parameter_updates"], *(row[column] for column in SUMMARY_RANGE_COLUMNS)),
            f"{row['wall_seconds_mean']:.1f}",
            _markdown_difference(row),
            _markdown_verdict(row),
        ]
        if trajectory:
            reference = row["schedule"] == REFERENCE_SCHEDULE
            cells.append("(reference)" if reference else row.get("trajectory_verdict") or "-")
        lines.append("| " + " | ".join(cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _markdown_verdict(row):
    if row["schedule"] == REFERENCE_SCHEDULE:
        return "(reference)"
    if row["paired_seeds_with_dlr"] is None:
        return "- (no dlr run to pair with)"
    return _verdict_text(row["verdict"], row["paired_seeds_with_dlr"], row["diff_vs_dlr_pp_ci90_low"],
                         row["diff_vs_dlr_pp_ci90_high"])


def _verdict_text(verdict, paired_seeds, low, high):
    """'equivalent (n = 5, 90% [-0.01, +0.02])', or why there is no verdict."""
    if verdict is None:
        return "- (needs 2 paired seeds)"
    confidence = f"{100 * (1 - 2 * EQUIVALENCE_ALPHA):g}%"
    return f"{verdict} (n = {paired_seeds}, {confidence} [{low:+.2f}, {high:+.2f}])"


def _markdown_difference(row):
    if row["schedule"] == REFERENCE_SCHEDULE:
        return "(reference)"
    if row["diff_vs_dlr_pp_mean"] is None:
        return "- (no dlr run to pair with)"
    text = f"{row['diff_vs_dlr_pp_mean']:+.2f}"
    if row["diff_vs_dlr_pp_ci95_low"] is None:
        return text + " (one paired seed)"
    return (text + f" [{row['diff_vs_dlr_pp_ci95_low']:+.2f}, "
            f"{row['diff_vs_dlr_pp_ci95_high']:+.2f}]")


def write_stages_markdown(rows, path, config):
    """Write stage_differences rows as a Markdown table, one line per schedule, one column per stage."""
    lines = [
        f"# Where the schedules part from dlr{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. Each cell is the difference from dlr in test "
        "accuracy at the end of a stage, paired by seed, in percentage points: mean [90% Student-t interval], "
        "with the equivalence verdict at the margin of "
        f"±{EQUIVALENCE_MARGIN_PP:g} pp (E equivalent, U undecided, N not equivalent), under the schedule's "
        "batch size in that stage as a fraction of N. Read along a row to see at which batch size a gap "
        "opens, if one does."
        + (" A batch chosen during the run is the seeds' mean (smallest to largest)."
           if varies_by_seed(rows, STAGE_RANGE_COLUMNS) else ""),
        "",
    ]
    letters = {"equivalent": "E", "undecided": "U", "not equivalent": "N", None: "-"}

    def cell(row):
        if row["batch_size_min"] != row["batch_size_max"]:  # Chosen during the run: the seeds' mean.
            text = (f"B = {row['batch_size']:,.0f} ({row['batch_size_min']:,} to {row['batch_size_max']:,}; "
                    f"{row['batch_fraction_of_train_size']:.3g} N)")
        else:
            fraction = Fraction(row["batch_size"], config["train_size"])
            text = f"B = {row['batch_size']:,} (N/{fraction.denominator:,})" if fraction.numerator == 1 else \
                f"B = {row['batch_size']:,} ({float(fraction):.3g} N)"
        if row["diff_vs_dlr_pp_ci90_low"] is None:
            return text + f": {row['diff_vs_dlr_pp_mean']:+.2f}"
        return text + (f": {row['diff_vs_dlr_pp_mean']:+.2f} [{row['diff_vs_dlr_pp_ci90_low']:+.2f}, "
                       f"{row['diff_vs_dlr_pp_ci90_high']:+.2f}] {letters[row['verdict']]}")

    Path(path).write_text("\n".join(lines + _stage_table(rows, "paired_seeds", cell)) + "\n")
    return Path(path)


def _loss_images(config):
    """Which training images the model's training loss was measured on, in words."""
    size = config.get("train_loss_images", Settings.train_loss_images)
    if size >= config["train_size"]:
        return "all N training images"
    return f"a fixed random {size:,} of the N training images, the same for every schedule of a seed"


def write_trajectory_markdown(rows, path, config, margin):
    """Write trajectory rows as a Markdown table: one line per schedule, one column per stage, and the verdict."""
    letters = {"equivalent": "E", "undecided": "U", "not equivalent": "N", None: "-"}
    stages = config["epochs"] // config["epochs_per_stage"]
    confidence = f"{100 * (1 - 2 * EQUIVALENCE_ALPHA):g}%"
    lines = [
        f"# Same training? The model's training loss against dlr's{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. Each cell is the model's training "
        f"loss (the cross-entropy on {_loss_images(config)}, in inference mode) at the end of a stage as a ratio "
        f"to dlr's, paired by seed: the geometric mean over seeds [its {confidence} Student-t interval], "
        + (f"with the verdict of two one-sided t-tests on ln(L / L_dlr) at the margin ±{margin:.4g} (a ratio from "
           f"{math.exp(-margin):.4f} to {math.exp(margin):.4f}; E equivalent, U undecided, N not equivalent), "
           if margin is not None else "without verdicts (no margin is declared), ")
        + "and the test loss's ratio to dlr's at the same epoch beside it. A stage the schedule shares with dlr (the "
        "same learning rate, batch and momentum up to its end) is not compared. The verdict over the stages "
        "is equivalent when every compared stage is, not equivalent when any stage is.",
        "",
        "| Architecture | Optimizer | Schedule | Seeds | "
        + " | ".join(f"Stage {stage}" for stage in range(1, stages + 1)) + " | Same training |",
        "|---|---|---|---:|" + "---:|" * stages + "---|",
    ]
    by_schedule = {}
    for row in rows:
        by_schedule.setdefault((row["architecture"], row["optimizer"], row["schedule"]), []).append(row)

    def cell(row):
        if row is None:
            return "shared with dlr"
        test = f"; test ×{row['test_loss_ratio']:.3f}" if row["test_loss_ratio"] is not None else ""
        if row["train_loss_ratio_ci90_low"] is None:
            ratio = "no interval" if row["train_loss_ratio"] is None else f"×{row['train_loss_ratio']:.3f}"
            return f"{ratio} {letters[row['stage_verdict']]}{test}"
        return (f"×{row['train_loss_ratio']:.3f} [{row['train_loss_ratio_ci90_low']:.3f}, "
                f"{row['train_loss_ratio_ci90_high']:.3f}] {letters[row['stage_verdict']]}{test}")

    for (arch, optimizer, schedule), stage_rows in by_schedule.items():
        by_stage = {row["stage"]: row for row in stage_rows}
        lines.append("| " + " | ".join(
            [ARCHITECTURE_NAMES.get(arch, str(arch)), optimizer_display_name(optimizer),
             schedule_display_name(schedule), str(stage_rows[0]["paired_seeds"])]
            + [cell(by_stage.get(stage)) for stage in range(1, stages + 1)]
            + [stage_rows[0]["trajectory_verdict"]
               or ("- (no margin declared)" if margin is None else "- (needs 2 paired seeds)")]) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_trajectory_power_markdown(rows, path, config, margin):
    """Write trajectory_power_rows as a Markdown table: what the trajectory test can find at the last stage."""
    lines = [
        f"# What the trajectory test can find{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. For each comparison with dlr, at the "
        "end of the last stage: the paired log ratio ln(L / L_dlr) of the model's training loss, its mean and "
        "standard deviation (SD, ddof=1) over seeds, and with that SD, taking the log ratios as normal, the "
        f"smallest ratio to dlr's loss that the stage's test (TOST at ±{margin:.4g}, α = "
        f"{EQUIVALENCE_ALPHA:g} each side) calls not equivalent with probability 0.8: at the study's own number "
        "of paired seeds n and at 5 and 20 seeds. A ratio below 1 is found as surely at its reciprocal.",
        "",
        "| Architecture | Optimizer | Schedule | n | Mean ratio | SD of ln ratio | Detectable at n | "
        "Detectable at 5 | Detectable at 20 |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        detectable = [f"×{row[column]:.3f}" if row[column] is not None else "-"
                      for column in ("detectable_ratio", "detectable_ratio_at_5", "detectable_ratio_at_20")]
        lines.append("| " + " | ".join(
            [ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
             optimizer_display_name(row["optimizer"]), schedule_display_name(row["schedule"]),
             str(row["paired_seeds"]), f"×{math.exp(row['log_ratio_mean']):.3f}", f"{row['log_ratio_sd']:.4f}"]
            + detectable) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _seeds_text(row, margin_key, seeds_key):
    """The seeds a margin needs, as the floor's table writes them: "-" without the margin, "never" past it."""
    if row[margin_key] is None:
        return "-"
    return "never" if row[seeds_key] is None else f"{row[seeds_key]:,}"


def write_floor_markdown(rows, path, config, margins):
    """Write trajectory.floor_rows as Markdown: the smallest margins that dlr against itself could pass, and
    the seeds that SGD's δ and each optimizer's own (margins, a trajectory.Margins) would need."""
    own = [(reading, reading_column(reading)) for reading in LEARNING_RATE_READINGS
           if any(row[f"own_margin_{reading_column(reading)}"] is not None for row in rows)]
    lines = [
        f"# The floor: dlr against itself, one rounding step apart{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. dlr_ulp is dlr from the seed's "
        "initial weights each moved up by one float32 step, so whatever separates it from dlr is rounding "
        "alone. Per network and optimizer, paired by seed: on the final test accuracy, the SD of the "
        "differences and the smallest margin their 90 % interval lies inside (points); on the model's training "
        "loss at the stage ends, the smallest δ on ln(L / L_dlr) that every stage's 90 % interval lies inside, "
        "and the stage that sets it with its mean and SD. Then the fewest seeds at which every stage's "
        "expected interval would lie inside a margin (\"never\" where a stage's mean is beyond it): "
        + (f"SGD's δ = {margins.sgd:g}" if margins.sgd is not None else "no SGD's δ is declared for this data")
        + ("; and the optimizer's own δ, by SGD's rule transposed to the learning rate, under the "
           + " and ".join(f"{reading} reading" for reading, _ in own) if own else "")
        + f" ({margins.source}). A margin below the floor cannot call even dlr equivalent to itself.",
        "",
        "| Architecture | Optimizer | n | Accuracy SD (pp) | Smallest accuracy margin (pp) | Widest stage | "
        "Mean ln ratio | SD of ln ratio | Smallest δ | Seeds for SGD's δ |"
        + "".join(f" Own δ, {reading} | Seeds for it |" for reading, _ in own),
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|" + "---:|---:|" * len(own),
    ]
    for row in rows:
        loss = ["-"] * (5 + 2 * len(own))
        if row["smallest_margin"] is not None:
            loss = [str(row["widest_stage"]), f"{row['log_ratio_mean']:+.4f}", f"{row['log_ratio_sd']:.4f}",
                    f"{row['smallest_margin']:.4f}", _seeds_text(row, "sgd_margin", "seeds_for_sgd_margin")]
            for _, column in own:
                margin = row[f"own_margin_{column}"]
                loss += ["-" if margin is None else f"{margin:g}",
                         _seeds_text(row, f"own_margin_{column}", f"seeds_for_own_margin_{column}")]
        lines.append("| " + " | ".join(
            [ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
             optimizer_display_name(row["optimizer"]), str(row["paired_seeds"]),
             f"{row['accuracy_difference_sd_pp']:.3f}", f"{row['smallest_accuracy_margin_pp']:.3f}"] + loss) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_yardsticks_markdown(rows, path, config, margins):
    """Write trajectory.yardstick_rows as Markdown: each adaptive optimizer's schedule judged on the final
    accuracy, at SGD's δ and at the optimizer's own δ under each reading (margins, a trajectory.Margins)."""
    readings = [(reading, reading_column(reading)) for reading in LEARNING_RATE_READINGS]
    own = "; ".join(f"{optimizer_display_name(optimizer)} {reading} {margin:g}"
                    for (optimizer, reading), margin in margins.own.items()
                    if any(row["optimizer"] == optimizer for row in rows))
    lines = [
        f"# Three yardsticks: accuracy, SGD's δ and the optimizer's own{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. Each schedule of an adaptive "
        f"optimizer against dlr, paired by seed: the verdict on the final test accuracy (±{EQUIVALENCE_MARGIN_PP:g} "
        "point), the last stage's training-loss ratio to dlr's (geometric mean [90 % interval]), and the verdict "
        "over every stage end on ln(L / L_dlr) at "
        + (f"SGD's δ = {margins.sgd:g}" if margins.sgd is not None else "SGD's δ (none for this data)")
        + " and at the optimizer's own δ, by SGD's rule transposed to the learning rate under each reading of "
        f"\"a two-fold error\" ({own}; {margins.source}). An own δ below the optimizer's floor (dlr against "
        "itself one rounding step apart, results/floor) cannot call even dlr equivalent to itself at 20 seeds.",
        "",
        "| Architecture | Optimizer | Schedule | n | Accuracy | Last stage's loss ÷ dlr's | At SGD's δ |"
        + "".join(f" At own δ, {reading} |" for reading, _ in readings),
        "|---|---|---|---:|---|---:|---|" + "---|" * len(readings),
    ]
    for row in rows:
        ratio = "-" if row["last_stage_ratio"] is None else f"×{row['last_stage_ratio']:.3f}" + (
            "" if row["last_stage_ratio_ci90_low"] is None else
            f" [{row['last_stage_ratio_ci90_low']:.3f}, {row['last_stage_ratio_ci90_high']:.3f}]")
        own_cells = [f"{row[f'own_margin_verdict_{column}']} (δ {row[f'own_margin_{column}']:g})"
                     if row[f"own_margin_{column}"] is not None and row[f"own_margin_verdict_{column}"] else "-"
                     for _, column in readings]
        lines.append("| " + " | ".join(
            [ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
             optimizer_display_name(row["optimizer"]), schedule_display_name(row["schedule"]),
             str(row["paired_seeds"]), row["accuracy_verdict"] or "-", ratio, row["sgd_margin_verdict"] or "-"]
            + own_cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_margins_markdown(rows, margins, path, config):
    """Write trajectory.optimizer_margins as Markdown: δ per optimizer and reading, then every control's stage."""
    stage = CALIBRATION_STAGE
    found = [f"{optimizer_display_name(optimizer)}, {reading} reading: **δ = {margin:g}**"
             for (optimizer, reading), margin in margins.items()]
    lines = [
        f"# The margin δ per optimizer, by SGD's rule transposed{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. SGD's δ is the smallest "
        f"|mean ln(L / L_dlr)| at the end of stage {stage} that a two-fold error in that stage's noise scale "
        "makes. Here the learning rate is the knob: every control is dlr but for stage "
        f"{stage}'s learning rate, times and over 2 (the linear rule's reading of a two-fold error) or times "
        "and over √2 (the square-root rule's). For each optimizer and reading, δ is the smallest |mean| over "
        "the networks and the reading's two controls, rounded down to two significant figures "
        "(docs/predictions/calibration_adaptive.md).",
        "",
        "; ".join(found) + "." if found else "No optimizer has every control of a reading on every network.",
        "",
        "| Optimizer | Reading | Architecture | Schedule | lr factor | n | Mean ratio | 90 % interval | "
        "SD of ln ratio |",
        "|---|---|---|---|---:|---:|---:|---|---:|",
    ]
    for row in rows:
        lines.append("| " + " | ".join([
            optimizer_display_name(row["optimizer"]), row["reading"],
            ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
            schedule_display_name(row["schedule"]), f"{row['learning_rate_factor']:.4g}", str(row["paired_seeds"]),
            f"×{math.exp(row['log_ratio_mean']):.4f}",
            f"[{math.exp(row['log_ratio_ci90_low']):.4f}, {math.exp(row['log_ratio_ci90_high']):.4f}]",
            f"{row['log_ratio_sd']:.4f}"]) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def write_calibration_markdown(rows, path, config, margin, resolution, resolution_by_network):
    """Write trajectory.calibration_rows as Markdown: how δ follows from its rule, and the resolution.

    resolution is trajectory.noise_scale_resolution on every network at once,
    resolution_by_network {arch: the same on that network alone}.
    """
    def chance(value):
        return "-" if value is None else f"{value:.2f}"

    def seeds_text(found):
        return ", ".join(f"at {count} seeds {'g × ' + format(factor, 'g') if factor is not None else 'none'}"
                         for count, factor in found.items())

    resolution_text = seeds_text(resolution) + "; on each network alone: " + "; ".join(
        f"{ARCHITECTURE_NAMES.get(arch, str(arch))} {seeds_text(found)}" for arch, found in resolution_by_network.items())
    lines = [
        f"# The trajectory margin δ, calibrated{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images, plain SGD. The rule (REPORT.md, "
        "\"The margin δ\"): a schedule trains differently from dlr when, at some stage's end, its training loss "
        "is as far from dlr's as a two-fold error in one stage's noise scale puts it. ibs_fast and ibs_slow "
        "miss dlr's g by exactly that (half, twice) in stage 2, so δ is the smallest of their |mean ln(L / "
        "L_dlr)| there, rounded down to two significant figures: "
        f"**δ = {margin:g}** (a ratio from {math.exp(-margin):.4f} to {math.exp(margin):.4f}).",
        "",
        "The graded series misses only the last stage's g, by k. With each row's own mean and spread of the "
        "paired log ratios (SD, ddof=1), taken as normal, the chance that the test at ±δ calls it not "
        "equivalent at 5 and at 20 seeds. The resolution, the smallest k of the series with a chance of "
        f"{POWER:g} or more on every network (none: no k of the series): {resolution_text}.",
        "",
        "| Architecture | Schedule | Stage | g / dlr's g | n | Mean ratio | SD of ln ratio | "
        "P(not equivalent) at 5 | at 20 |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in rows:
        lines.append("| " + " | ".join(
            [ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
             schedule_display_name(row["schedule"]), str(row["stage"]), f"{row['noise_scale_factor']:g}",
             str(row["paired_seeds"]), f"×{math.exp(row['log_ratio_mean']):.4f}",
             "-" if row["log_ratio_sd"] is None else f"{row['log_ratio_sd']:.4f}",
             chance(row["probability_not_equivalent_at_5"]), chance(row["probability_not_equivalent_at_20"])])
            + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _stage_table(rows, seeds_column, cell):
    """A Markdown table of per-stage rows: one line per (network, optimizer, schedule), one column per stage.

    cell(row) is the text of one stage; seeds_column names the rows' seed count.
    """
    by_schedule = {}
    for row in rows:
        by_schedule.setdefault((row["architecture"], row["optimizer"], row["schedule"]), []).append(row)
    stages = max((len(stage_rows) for stage_rows in by_schedule.values()), default=0)
    lines = ["| Architecture | Optimizer | Schedule | Seeds | "
             + " | ".join(f"Stage {stage}" for stage in range(1, stages + 1)) + " |",
             "|---|---|---|---:|" + "---:|" * stages]
    for (arch, optimizer, schedule), stage_rows in by_schedule.items():
        lines.append("| " + " | ".join([ARCHITECTURE_NAMES.get(arch, str(arch)),
                                         optimizer_display_name(optimizer),
                                         schedule_display_name(schedule),
                                         str(stage_rows[0][seeds_column])] + [cell(row) for row in stage_rows])
                     + " |")
    return lines


# What each adaptive schedule does with the learning rate, as batches_chosen.md says it.
ADAPTIVE_RULES = {
    "ibs_auto": "ibs_auto holds the first stage's learning rate and momentum",
    "ibs_auto_lr": "ibs_auto_lr takes dlr's learning rate times B / B_dlr, its batch over dlr's, to keep dlr's "
                   "noise scale",
}


def write_chosen_batches_markdown(rows, path, config):
    """Write chosen_batches rows as a Markdown table, one line per adaptive schedule, one column per stage."""
    kappa = config.get("auto_kappa", Settings.auto_kappa)
    schedules = [schedule for schedule in ALL_SCHEDULES if schedule in {row["schedule"] for row in rows}]
    lines = [
        f"# Batches chosen during the run{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. {' and '.join(schedules)} "
        f"train{'s' if len(schedules) == 1 else ''} the first stage as ibs does (and dlr, unless it reproduces "
        "the original's optimizer reset); at the first epoch of every "
        "later stage the batch becomes round(κ B_simple), "
        f"κ = {kappa:g}, from the gradient noise scale B_simple measured after the epoch before, never below "
        "the batch before and at most N. "
        + "; ".join(ADAPTIVE_RULES[schedule] for schedule in schedules if schedule in ADAPTIVE_RULES)
        + ". Each cell gives the "
        "batch over the seeds, mean (smallest to largest), the B_simple it was chosen from, the same way, "
        "and the parameter updates the stage took (the seeds' mean). Each B_simple comes from "
        f"{config['noise_draws']} draw{'s' if config['noise_draws'] != 1 else ''} of "
        f"{config['noise_big_batch']:,} images from a population of "
        f"{min(config['noise_population'], config['train_size']):,} per seed; one far above that population "
        "is a noisy estimate of a large noise scale, not a measurement of it.",
        "",
    ]
    def cell(row):
        text = f"B = {_whole_number_range(row['batch_size_mean'], row['batch_size_min'], row['batch_size_max'])}"
        if row["b_simple_chosen_from_mean"] is not None:
            text += (f" from B_simple {row['b_simple_chosen_from_mean']:,.0f} "
                     f"({row['b_simple_chosen_from_min']:,.0f} to {row['b_simple_chosen_from_max']:,.0f})")
        if row["b_simple_unresolved"]:
            text += f", {row['b_simple_unresolved']} of {row['seeds']} not resolved (NaN: the batch kept)"
        return text + f"; {row['stage_updates_mean']:,.0f} updates"

    Path(path).write_text("\n".join(lines + _stage_table(rows, "seeds", cell)) + "\n")
    return Path(path)


def write_power_markdown(rows, path, config):
    """Write power_rows as a Markdown table: what the test could find, cell by cell."""
    margin = f"{EQUIVALENCE_MARGIN_PP:g}"
    lines = [
        f"# What the equivalence test can find{settings_suffix(config)}",
        "",
        f"{data_name(config)}, N = {config['train_size']:,} training images. For each comparison with dlr: the "
        "standard deviation (SD, ddof=1) of the paired differences in final test accuracy, in "
        "percentage points, and with it, taking the differences as normal, the power of the "
        f"verdicts at the margin of ±{margin} pp (TOST, α = {EQUIVALENCE_ALPHA:g} each side): the "
        f"smallest true difference that is called not equivalent with probability {POWER:g} "
        "(noncentral t), and the probability of the verdict equivalent when the true difference "
        f"is 0; at the study's own number of paired seeds n and at {' and '.join(map(str, POWER_SEEDS))} seeds.",
        "",
        "| Architecture | Optimizer | Schedule | n | Mean difference (pp) | SD of differences (pp) | "
        "Detectable at n (pp) | " + " | ".join(f"Detectable at {n} (pp)" for n in POWER_SEEDS)
        + " | P(equivalent \\| 0) at n | " + " | ".join(f"P(equivalent \\| 0) at {n}" for n in POWER_SEEDS) + " |",
        "|---|---|---|---:|---:|---:|---:|" + "---:|" * (2 * len(POWER_SEEDS) + 1),
    ]
    for row in rows:
        numbers = [row["detectable_pp"]] + [row[f"detectable_pp_at_{n}"] for n in POWER_SEEDS]
        chances = [row["p_equivalent_at_0"]] + [row[f"p_equivalent_at_0_at_{n}"] for n in POWER_SEEDS]
        cells = [ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
                 optimizer_display_name(row["optimizer"]),
                 schedule_display_name(row["schedule"]),
                 str(row["paired_seeds"]), f"{row['diff_vs_dlr_pp_mean']:+.2f}", f"{row['diff_vs_dlr_pp_sd']:.3f}"]
        cells += [f"{value:.2f}" if value is not None else "- (no spread)" for value in numbers]
        cells += [f"{value:.2f}" if value is not None else "-" for value in chances]
        lines.append("| " + " | ".join(cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


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
    ]
    if any(row["baseline_schedule"] != row["schedule"] for row in rows):
        lines += ["A row \"X against Y\" compares the results' schedule X with the baseline's "
                  "schedule Y of the same network and optimizer, paired by seed.", ""]
    lines += [
        describe_baseline_agreement(baseline_agreement(rows)),
        "",
        describe_verdicts_kept(rows),
        "",
        equivalence_rule_sentence("the baseline", "A cell"),
        "",
        "The largest run difference is the paired seed's difference of largest size.",
    ]
    unpaired = _unpaired_description(rows)
    if unpaired:
        lines += ["", "Left out for want of a partner seed: " + unpaired + "."]
    lines += [
        "",
        "| Architecture | Optimizer | Schedule | Paired seeds | Results final accuracy (%) | "
        "Baseline final accuracy (%) | Results minus baseline (pp) | "
        "In baseline seed standard deviations | Verdict against the baseline | Largest run difference (pp) | "
        "Verdict against dlr: results / baseline |",
        "|---|---|---|---:|---:|---:|---:|---:|---|---:|---|",
    ]
    for row in rows:
        schedule = schedule_display_name(row["schedule"])
        if row["baseline_schedule"] != row["schedule"]:
            schedule += " against " + schedule_display_name(row["baseline_schedule"])
        cells = [
            ARCHITECTURE_NAMES.get(row["architecture"], str(row["architecture"])),
            optimizer_display_name(row["optimizer"]),
            schedule,
            str(row["paired_seeds"]),
            _mean_and_std_text(row["results_final_test_accuracy_percent_mean"],
                               row["results_final_test_accuracy_percent_std"]),
            _mean_and_std_text(row["baseline_final_test_accuracy_percent_mean"],
                               row["baseline_final_test_accuracy_percent_std"]),
            _difference_text(row["diff_pp_mean"], row["diff_pp_ci95_low"],
                             row["diff_pp_ci95_high"]),
            _baseline_stds_text(row),
            _comparison_verdict_text(row),
            "-" if row["largest_run_diff_pp"] is None else f"{row['largest_run_diff_pp']:+.2f}",
            _verdicts_against_reference_text(row),
        ]
        lines.append("| " + " | ".join(cells) + " |")
    Path(path).write_text("\n".join(lines) + "\n")
    return Path(path)


def _verdicts_against_reference_text(row):
    results, baseline = row["results_verdict_against_reference"], row["baseline_verdict_against_reference"]
    twins = row["schedule"] == row["baseline_schedule"]
    if results is None and baseline is None:
        return "(reference)" if twins else "-"
    return f"{results or '-'} / {baseline or '-'}" + (" (changed)" if twins and results != baseline else "")


def describe_verdicts_kept(rows):
    """Say in how many cells each side's verdict against dlr (final accuracy) is the same, and name the rest."""
    same, changed = verdicts_kept(rows)
    if not same and not changed:
        return "No cell compares a schedule with itself, so no verdict against dlr is set beside its twin."
    sentence = (f"Verdicts against dlr on the final accuracy, each side in its own summary: {len(same)} of "
                f"{len(same) + len(changed)} cells the same in both")
    if changed:
        sentence += "; changed: " + ", ".join(f"{' '.join(map(str, cell))} ({results or 'none'} in the results, "
                                               f"{baseline or 'none'} in the baseline)"
                                               for cell, results, baseline in changed)
    return sentence + "."


def _comparison_verdict_text(row):
    if row["diff_pp_mean"] is None:
        return "- (no seed in common)"
    return _verdict_text(row["verdict"], row["paired_seeds"], row["diff_pp_ci90_low"], row["diff_pp_ci90_high"])


def _command(config):
    return config.get("command") or "command not recorded"


def _unpaired_description(rows):
    """Name the seeds of each cell that only one side has ("" when every seed is paired)."""
    parts = []
    for row in rows:
        for side, seeds in (("results", row["results_only_seeds"]),
                            ("baseline", row["baseline_only_seeds"])):
            if seeds:
                parts.append(f"{' '.join(comparison_cell(row))} "
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
