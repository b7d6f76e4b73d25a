"""Every number and fact README.md and REPORT.md quote, computed from the committed pickles.

NUMBERS maps a number's key, the name its anchor gives it in a document
(<!--n:KEY-->), to a function that computes it and formats it as the
documents write it; FACTS maps a fact's name (<!--f:NAME-->) to a predicate
on the pickles. The keys name what a number is (study, network, optimizer,
schedule, quantity), so that the anchor, not the sentence around it, says
what the number means. Only what a document anchors is computed here (a
test fails on a key or fact no document quotes); a study's full tables are
its committed summary.md and stages.md, which the documents link to. Numbers
read off the original study's figures are inputs (ORIGINAL), not checked.
"""

import math

import numpy as np

from document_numbers import (ARCHITECTURES, FACTS, ORIGINAL_ORDER, batch_32_gaps_of_dlr_and_hyb,
                              earlier_cpu_study, fact, fmt, hyb_noise_gap, interval, intervals_excluding_zero,
                              largest_absolute_difference, lowest_and_highest, lowest_and_highest_signed,
                              mean_difference, mean_pct, momentum_cut_costs, moves, original_gaps, paired_differences,
                              reset_gap_share, seed_runs, seed_stds, signed, spread_of_means,
                              std_distance_from_original, std_pct, study, train_60000_verdicts, two_run_std,
                              update_ratio, updates, verdict, verdict_tally, verdict_text, versus_dlr, versus_study,
                              wall_ratios)
from replication_numbers import NUMBER_TEXTS as REPLICATION_NUMBER_TEXTS
from trajectory_numbers import NUMBER_TEXTS as TRAJECTORY_NUMBER_TEXTS

MOMENTUM_CELLS = [(arch, optimizer) for arch in ARCHITECTURES for optimizer in ("momentum", "nesterov")]
CONTROLS, CONTROL_OPTIMIZERS = ("const", "ibs_slow", "ibs_fast"), ("sgd", "momentum")
# Every cell of the two annealing-helps studies: (study, arch, optimizer), the MLPs' first.
ANNEALING_CELLS = [("annealing_helps_mlp", arch, optimizer) for arch in ("mlp300", "mlp500_150")
                   for optimizer in CONTROL_OPTIMIZERS] + [("annealing_helps_lenet5", "lenet5", optimizer)
                                                           for optimizer in CONTROL_OPTIMIZERS]
# The adaptive schedules' studies, by kappa; their cells, like the controls', are SGD_MOMENTUM_CELLS.
KAPPA_STUDIES = {"0.01": "ibs_auto_kappa_0_01", "0.03": "ibs_auto_kappa_0_03", "0.1": "ibs_auto_kappa_0_1",
                 "0.3": "ibs_auto_kappa_0_3", "1": "ibs_auto"}
SGD_MOMENTUM_CELLS = [(arch, optimizer) for arch in ARCHITECTURES for optimizer in CONTROL_OPTIMIZERS]
# momentum_098 was trained on the CPU type that first trained results/momentum, and is compared with those runs.
MOMENTUM_SAME_CPU = earlier_cpu_study("momentum")


def verdict_of(name, arch, optimizer, schedule, **reference):
    return verdict(paired_differences(name, arch, optimizer, schedule, **reference))


def verdicts_of(name, schedule, cells=SGD_MOMENTUM_CELLS):
    return [verdict_of(name, *cell, schedule) for cell in cells]


def count(verdicts, wanted):
    return sum(found == wanted for found in verdicts)


def costs(cells, schedule):
    """What a schedule costs against dlr (points, mean) in each (study, arch, optimizer) cell."""
    return [-mean_difference(*cell, schedule) for cell in cells]


def whole_range(values):
    return f"{min(values):,.0f} to {max(values):,.0f}"


def paired_spreads(name):
    """The SD (ddof=1) of every comparison's paired differences from dlr, in points, recomputed here."""
    return [float(np.std(paired_differences(name, *cell), ddof=1))
            for cell in {key[:3] for key in study(name)["runs"]} if cell[2] != "dlr"]


def m098_differences(schedule, reference_schedule):
    return [paired_differences("momentum_098", *cell, schedule, reference_schedule=reference_schedule,
                               reference_study=MOMENTUM_SAME_CPU) for cell in MOMENTUM_CELLS]


def ibs_lr_study(arch, optimizer):
    """The study of ibs_lr's last look at a cell: 20 seeds where a second look was taken, else 5."""
    if optimizer in ("momentum", "nesterov"):
        return "momentum_20"
    return "ibs_lr_20" if arch == "lenet5" else "ibs_lr"


def b_simple(name, arch, optimizer, schedule, epoch):
    """A cell's measured B_simple at an epoch: the seeds' mean tr(Sigma) over their mean |G|^2."""
    runs = seed_runs(name, arch, optimizer, schedule).values()
    return (np.mean([run["gradient_variance"][epoch] for run in runs])
            / np.mean([run["gradient_norm_sq"][epoch] for run in runs]))


def batch_over_b_simple(name, arch, schedule, epoch):
    return seed_runs(name, arch, "momentum", schedule)[0]["batch_size"][epoch] / b_simple(
        name, arch, "momentum", schedule, epoch)


def auto_updates(name, schedule="ibs_auto"):
    """Each cell's mean over seeds of the updates a run took."""
    return [float(np.mean([run["updates"][-1] for run in seed_runs(name, *cell, schedule).values()]))
            for cell in SGD_MOMENTUM_CELLS]


def auto_differences(kappa, schedule="ibs_auto"):
    return [mean_difference(KAPPA_STUDIES[kappa], *cell, schedule) for cell in SGD_MOMENTUM_CELLS]


def cells_not_shown_equivalent(name, schedule):
    """{cell: verdict} of the cells whose verdict against dlr is not "equivalent"."""
    return {cell: found for cell, found in zip(SGD_MOMENTUM_CELLS, verdicts_of(name, schedule))
            if found != "equivalent"}


def broken_runs(name):
    """ibs_auto_lr's runs whose training loss rose above their first epoch's."""
    return [key for key, run in study(name)["runs"].items()
            if key[2] == "ibs_auto_lr" and max(run["train_loss"][1:]) > run["train_loss"][0]]


# The facts, by name: what a sentence says besides its numbers, each a predicate on the pickles.
LENET5_IBS_LR_AT_B_EQUALS_N = ("large_batch", "lenet5", "momentum", "ibs_lr")
FACT_CHECKS = {
    # The original grid, and the original's figures and its optimizer reset.
    "results_interval_excluding_zero_is_mlp300_adam_hyb_only":
        lambda: intervals_excluding_zero("results") == [("mlp300", "adam", "hyb")],
    "seeds_20_intervals_excluding_zero_are_mlp500_adam_ibs_and_mlp300_adam_hyb":
        lambda: intervals_excluding_zero("seeds_20") == [("mlp300", "adam", "hyb"), ("mlp500_150", "adam", "ibs")],
    # base_batch_32: LeNet-5 with SGD has the largest seed-to-seed std of all cells.
    "lenet5_sgd_varies_most_at_batch_32": lambda: max(seed_stds("base_batch_32")) == max(
        std_pct("base_batch_32", "lenet5", "sgd", schedule) for schedule in ORIGINAL_ORDER),
    "reset_gives_about_a_sixth_of_the_original_gap": lambda: round(6 * reset_gap_share()[0]) == 1,
    # LeNet-5/Adam/ibs is identical, seed by seed, with and without the reset at batch 32.
    "reset_leaves_ibs_untouched_at_batch_32": lambda: not paired_differences(
        "base_batch_32_original_reset", "lenet5", "adam", "ibs", reference_study="base_batch_32").any(),
    "rest_of_the_gap_exceeds_two_run_stds": lambda: abs(reset_gap_share()[1]) > 2 * two_run_std(
        "base_batch_32_original_reset", "lenet5", "adam"),
    # The original's 0.85-point LeNet-5/SGD gap rounds to two stds of two batch-32 runs' difference.
    "original_sgd_gap_is_about_two_run_stds": lambda: round(0.85 / two_run_std("base_batch_32", "lenet5", "sgd")) == 2,
    "train_60000_comparisons_are_all_equivalent": lambda: train_60000_verdicts() == ["equivalent"] * 4,
    # Controls: every one not equivalent on both MLPs but the 500-150 MLP's ibs_fast with momentum (undecided).
    "controls_fail_on_the_mlps_but_one": lambda: all(
        verdict_of("controls", arch, optimizer, schedule)
        == ("undecided" if (arch, optimizer, schedule) == ("mlp500_150", "momentum", "ibs_fast") else "not equivalent")
        for arch in ("mlp300", "mlp500_150") for optimizer in CONTROL_OPTIMIZERS for schedule in CONTROLS),
    "controls_undecided_on_lenet5": lambda: {verdict_of("controls", "lenet5", optimizer, schedule)
                                             for optimizer in CONTROL_OPTIMIZERS for schedule in CONTROLS}
    == {"undecided"},
    # k = 1.5, 2, 4 equivalent in all 18 cells; k = 8 undecided for the 300-unit MLP, the 500-150 MLP with
    # momentum and LeNet-5 with SGD, equivalent in the other two.
    "graded_series_verdicts_as_said": lambda: (
        {verdict_of("controls", *cell, f"ibs_last_{k}x") for cell in SGD_MOMENTUM_CELLS for k in ("1_5", "2", "4")}
        == {"equivalent"} and cells_not_shown_equivalent("controls", "ibs_last_8x") == {
            cell: "undecided" for cell in (("mlp300", "sgd"), ("mlp300", "momentum"), ("mlp500_150", "momentum"),
                                           ("lenet5", "sgd"))}),
    "const_not_equivalent_where_annealing_helps": lambda: all(verdict_of(*cell, "const") == "not equivalent"
                                                              for cell in ANNEALING_CELLS),
    # The further cuts and large batches.
    "ibs_lr_equivalent_in_every_sgd_family_cell": lambda: all(
        verdict_of(ibs_lr_study(arch, optimizer), arch, optimizer, "ibs_lr") == "equivalent"
        for arch in ARCHITECTURES for optimizer in ("sgd", "momentum", "nesterov")),
    # At 20 seeds every ibs_mom cell but LeNet-5 with Nesterov is undecided, 0.08 to 0.13 points below dlr.
    "five_ibs_mom_cells_stay_undecided_between_8_and_13_hundredths": lambda: (
        verdict_of("momentum_20", "lenet5", "nesterov", "ibs_mom") == "equivalent"
        and set(verdicts_of("momentum_20", "ibs_mom", MOMENTUM_CELLS[:-1])) == {"undecided"}
        and lowest_and_highest([-mean_difference("momentum_20", *cell, "ibs_mom") for cell in MOMENTUM_CELLS[:-1]])
        == "0.08 to 0.13"),
    "adam_ibs_lr_is_not_equivalent_on_both_mlps": lambda: verdicts_of(
        "ibs_lr", "ibs_lr", [("mlp300", "adam"), ("mlp500_150", "adam")]) == ["not equivalent"] * 2,
    "lenet5_ibs_lr_leaves_the_margin_at_b_equals_n": lambda: verdict_of(*LENET5_IBS_LR_AT_B_EQUALS_N)
    == "not equivalent",
    # LeNet-5's ibs_lr undecided under exact matching (not equivalent under the approximation), and ibs_mom not
    # equivalent on every network under exact matching.
    "exact_matching_lifts_lenet5_ibs_lr_out_of_not_equivalent": lambda: (
        verdict_of(*LENET5_IBS_LR_AT_B_EQUALS_N) == "not equivalent"
        and verdict_of("large_batch_exact", "lenet5", "momentum", "ibs_lr") == "undecided"
        and set(verdicts_of("large_batch_exact", "ibs_mom", [(arch, "momentum") for arch in ARCHITECTURES]))
        == {"not equivalent"}),
    "large_batch_60000_ibs_lr_is_equivalent": lambda: verdict_of("large_batch_60000", "lenet5", "momentum", "ibs_lr")
    == "equivalent",
    "large_batch_15_epochs_ibs_lr_is_equivalent": lambda: verdict_of("large_batch_15_epochs", "lenet5", "momentum",
                                                                     "ibs_lr") == "equivalent",
    "large_batch_measured_mlp300_ibs_lr_is_equivalent": lambda: verdict_of("large_batch_measured", "mlp300",
                                                                           "momentum", "ibs_lr") == "equivalent",
    # m = 0.98's dlr against m = 0.9's equivalent or undecided, its ibs against ibs_mom undecided, and its ibs
    # equivalent to its dlr, in every cell.
    "momentum_098_verdicts_as_said": lambda: (
        {verdict(d) for d in m098_differences("dlr", "dlr")} <= {"equivalent", "undecided"}
        and {verdict(d) for d in m098_differences("ibs", "ibs_mom")} == {"undecided"}
        and set(verdicts_of("momentum_098", "ibs", MOMENTUM_CELLS)) == {"equivalent"}),
    # The batch grown by the measured noise scale.
    "ibs_auto_at_kappa_1_never_equivalent_and_ibs_always": lambda: (
        verdicts_of("ibs_auto", "ibs_auto") == ["not equivalent"] * 6
        and verdicts_of("ibs_auto", "ibs") == ["equivalent"] * 6),
    # ibs_auto at kappa 0.1, 0.3 and 1 ends below dlr in every cell, with fewer updates than ibs's 18,720.
    "held_kappas_lose_from_0_1": lambda: all(
        max(auto_differences(kappa)) < 0 and max(auto_updates(KAPPA_STUDIES[kappa])) < 18_720
        for kappa in ("0.1", "0.3", "1")),
    "kappa_0_03_undecided_everywhere_around_ibs_updates": lambda: (
        verdicts_of("ibs_auto_kappa_0_03", "ibs_auto") == ["undecided"] * 6
        and min(auto_updates("ibs_auto_kappa_0_03")) < 18_720 < max(auto_updates("ibs_auto_kappa_0_03"))),
    "kappa_0_01_above_dlr_and_not_equivalent_everywhere": lambda: (
        verdicts_of("ibs_auto_kappa_0_01", "ibs_auto") == ["not equivalent"] * 6
        and min(auto_differences("0.01")) > 0),
    # ibs_auto_lr is undecided where not equivalent: LeNet-5 with SGD at both kappas, the 500-150 MLP with SGD at 1.
    "ibs_auto_lr_undecided_cells": lambda: (
        cells_not_shown_equivalent("ibs_auto", "ibs_auto_lr") == {("mlp500_150", "sgd"): "undecided",
                                                            ("lenet5", "sgd"): "undecided"}
        and cells_not_shown_equivalent("ibs_auto_kappa_0_1", "ibs_auto_lr") == {("lenet5", "sgd"): "undecided"}),
    # ibs_auto_lr: one run of 30 broke at kappa 1 (the 500-150 MLP with SGD, seed 2), none at kappa 0.1.
    "auto_lr_breaks_once_at_kappa_1": lambda: (
        broken_runs("ibs_auto") == [("mlp500_150", "sgd", "ibs_auto_lr", 2)] and broken_runs("ibs_auto_kappa_0_1") == []
        and len([key for key in study("ibs_auto")["runs"] if key[2] == "ibs_auto_lr"]) == 30),
}
for name, check in FACT_CHECKS.items():
    check.__name__ = name
    fact(check)


# The numbers, by key: each computes its number and formats it as the documents write it.
# Differences from dlr quoted as 'mean [95 % interval]', each key naming its cell: study.arch.optimizer.schedule.
DIFFERENCES = ["results.mlp500_150.adam.ibs", "results.lenet5.adam.ibs", "previous.lenet5.adam.ibs",
               "seeds_20.mlp500_150.adam.ibs", "seeds_20.mlp300.adam.hyb", "base_batch_32.lenet5.adam.ibs",
               "base_batch_32.lenet5.sgd.ibs", "original_reset.lenet5.adam.ibs",
               "base_batch_32_original_reset.lenet5.adam.ibs", "controls.mlp500_150.momentum.ibs_fast",
               "controls.mlp300.sgd.ibs_last_8x", "controls.mlp300.momentum.ibs_last_8x"]
# LeNet-5's ibs_lr with momentum in the large-batch study and its follow-ups, the same way (key: study.lenet5.ibs_lr).
LARGE_BATCH_STUDIES = ["large_batch", "large_batch_exact", "large_batch_60000", "large_batch_15_epochs"]

NUMBER_TEXTS = {
    **{f"{cell}.diff": (lambda cell=cell: versus_dlr(*cell.split("."))) for cell in DIFFERENCES},
    **{f"{name}.lenet5.ibs_lr.diff": (lambda name=name: versus_dlr(name, "lenet5", "momentum", "ibs_lr"))
       for name in LARGE_BATCH_STUDIES},
    # The original grid at 5 seeds, its rerun (previous: before the written-out backward pass) and 20 seeds.
    "results.seed_sd_range": lambda: lowest_and_highest(seed_stds("results")),
    "results.seed_sd_median": lambda: fmt(np.median(seed_stds("results"))),
    "results.equivalent_count": lambda: verdict_tally("results")["equivalent"],
    "results.lenet5.adam.ibs.tost": lambda: verdict_text("results", "lenet5", "adam", "ibs"),
    "results.sgd.largest_abs_diff": lambda: fmt(largest_absolute_difference("results", ("sgd",))),
    "results.mlp300.adam.hyb.diff_3_digits": lambda: versus_dlr("results", "mlp300", "adam", "hyb", 3),
    "results.hyb.noise_scale_gap_pct": lambda: fmt(100 * hyb_noise_gap("results"), 1),
    "results.ibs.updates": lambda: f"{updates('results', 'lenet5', 'adam', 'ibs'):,}",
    "results.dlr.updates": lambda: f"{updates('results', 'lenet5', 'adam', 'dlr'):,}",
    "results.hyb.updates": lambda: f"{updates('results', 'lenet5', 'adam', 'hyb'):,}",
    "results.ibs.update_ratio": lambda: fmt(update_ratio("results", "lenet5", "adam", "ibs"), 1),
    "results.hyb.update_ratio": lambda: fmt(update_ratio("results", "lenet5", "adam", "hyb"), 1),
    "results.wall_ratio_range": lambda: lowest_and_highest(wall_ratios("results"), 1),
    "previous.equivalent_count": lambda: verdict_tally("previous")["equivalent"],
    "rerun.largest_move": lambda: fmt(max(move[1] for move in moves("results", "previous"))),
    "rerun.largest_move_in_larger_sds": lambda: fmt(max(move[3] for move in moves("results", "previous"))),
    "seeds_20.equivalent_count": lambda: verdict_tally("seeds_20")["equivalent"],
    "seeds_20.lenet5.adam.ibs.tost": lambda: verdict_text("seeds_20", "lenet5", "adam", "ibs"),
    "seeds_20.paired_sd_low": lambda: f"{min(paired_spreads('seeds_20')):.3f}",
    "seeds_20.paired_sd_high": lambda: f"{max(paired_spreads('seeds_20')):.3f}",
    # Against the original's figures, and its optimizer reset.
    "original.sgd_gap_range": lambda: lowest_and_highest([gap for gap, _ in original_gaps("results", ("sgd",))], 1),
    "original.sgd_gap_in_sds": lambda: lowest_and_highest([ratio for _, ratio in original_gaps("results", ("sgd",))],
                                                          0),
    "base_batch_32.original.largest_gap": lambda: fmt(max(batch_32_gaps_of_dlr_and_hyb())),
    "base_batch_32.original.within_0_2_count": lambda: sum(gap <= 0.2 for gap in batch_32_gaps_of_dlr_and_hyb()),
    "base_batch_32.lenet5.adam.ibs.original_gap_in_sds":
        lambda: fmt(std_distance_from_original("base_batch_32", "lenet5", "adam", "ibs"), 1),
    "base_batch_32.lenet5.sgd.ibs.original_gap_in_sds":
        lambda: fmt(std_distance_from_original("base_batch_32", "lenet5", "sgd", "ibs"), 1),
    "base_batch_32.lenet5.sgd.two_run_sd": lambda: fmt(two_run_std("base_batch_32", "lenet5", "sgd")),
    "base_batch_32_original_reset.vs_base_batch_32.lenet5.adam.dlr.diff":
        lambda: versus_study("base_batch_32_original_reset", "base_batch_32", "lenet5", "adam", "dlr"),
    "base_batch_32_original_reset.vs_base_batch_32.lenet5.adam.hyb.diff":
        lambda: versus_study("base_batch_32_original_reset", "base_batch_32", "lenet5", "adam", "hyb"),
    **{f"base_batch_32_original_reset.lenet5.adam.{schedule}.accuracy":
       (lambda schedule=schedule: fmt(mean_pct("base_batch_32_original_reset", "lenet5", "adam", schedule)))
       for schedule in ORIGINAL_ORDER},
    "base_batch_32_original_reset.lenet5.adam.ibs.abs_diff":
        lambda: fmt(abs(mean_difference("base_batch_32_original_reset", "lenet5", "adam", "ibs"))),
    "reset.rest_of_original_gap": lambda: fmt(abs(reset_gap_share()[1]), 1),
    "base_batch_32_original_reset.lenet5.adam.two_run_sd_range": lambda: lowest_and_highest(
        [math.sqrt(2) * std_pct("base_batch_32_original_reset", "lenet5", "adam", schedule)
         for schedule in ORIGINAL_ORDER]),
    "train_60000.lenet5.largest_spread_of_means": lambda: fmt(max(spread_of_means("train_60000", "lenet5", optimizer)
                                                                  for optimizer in ("sgd", "adam"))),
    # Controls and annealing.
    "controls.mlp.not_equivalent_count": lambda: sum(
        verdict_of("controls", arch, optimizer, schedule) == "not equivalent" for arch in ("mlp300", "mlp500_150")
        for optimizer in CONTROL_OPTIMIZERS for schedule in CONTROLS),
    "controls.mlp300.sgd.const.diff_mean": lambda: fmt(mean_difference("controls", "mlp300", "sgd", "const")),
    "controls.mlp300.sgd.ibs_slow.diff_mean": lambda: fmt(mean_difference("controls", "mlp300", "sgd", "ibs_slow")),
    "controls.mlp300.sgd.ibs_fast.cost": lambda: fmt(-mean_difference("controls", "mlp300", "sgd", "ibs_fast")),
    "controls.ibs_last_4x.equivalent_count": lambda: count(verdicts_of("controls", "ibs_last_4x"), "equivalent"),
    "annealing.mlp.const.cost_range": lambda: lowest_and_highest(costs(ANNEALING_CELLS[:4], "const")),
    "annealing.lenet5.const.cost_range": lambda: lowest_and_highest(costs(ANNEALING_CELLS[4:], "const")),
    "annealing.const.cost_range": lambda: lowest_and_highest(costs(ANNEALING_CELLS, "const")),
    "annealing.ibs_hyb.equivalent_count": lambda: sum(verdict_of(*cell, schedule) == "equivalent"
                                                      for cell in ANNEALING_CELLS for schedule in ("ibs", "hyb")),
    "annealing.ibs_hyb.largest_abs_diff": lambda: fmt(max(abs(mean_difference(*cell, schedule))
                                                          for cell in ANNEALING_CELLS for schedule in ("ibs", "hyb"))),
    # Momentum, the further cuts and large batches.
    "momentum.ibs_hyb.equivalent_count": lambda: sum(verdict_of("momentum", *cell, schedule) == "equivalent"
                                                     for cell in MOMENTUM_CELLS for schedule in ("ibs", "hyb")),
    "ibs_lr.ibs_lr.updates": lambda: f"{updates('ibs_lr', 'mlp300', 'sgd', 'ibs_lr'):,}",
    "ibs_lr.ibs_lr.update_ratio": lambda: round(update_ratio("ibs_lr", "mlp300", "sgd", "ibs_lr")),
    "cuts.ibs_lr.momentum_cost_range": lambda: lowest_and_highest(momentum_cut_costs("ibs_lr")),
    "momentum_20.ibs_mom.cost_range": lambda: lowest_and_highest(
        costs([("momentum_20", *cell) for cell in MOMENTUM_CELLS], "ibs_mom")),
    "momentum_20.ibs_mom.undecided_count": lambda: count(verdicts_of("momentum_20", "ibs_mom", MOMENTUM_CELLS),
                                                         "undecided"),
    "ibs_lr.mlp300.adam.ibs_lr.cost": lambda: fmt(-mean_difference("ibs_lr", "mlp300", "adam", "ibs_lr")),
    "ibs_lr.mlp500_150.adam.ibs_lr.cost": lambda: fmt(-mean_difference("ibs_lr", "mlp500_150", "adam", "ibs_lr")),
    **{f"large_batch.{arch}.dlr.accuracy": (lambda arch=arch: fmt(mean_pct("large_batch", arch, "momentum", "dlr")))
       for arch in ARCHITECTURES},
    "large_batch.lenet5.ibs_lr.tost": lambda: verdict_text("large_batch", "lenet5", "momentum", "ibs_lr"),
    "large_batch.lenet5.ibs_lr.diff_mean": lambda: signed(mean_difference("large_batch", "lenet5", "momentum",
                                                                          "ibs_lr")),
    "large_batch.ibs_mom.cost_range": lambda: lowest_and_highest(
        costs([("large_batch", arch, "momentum") for arch in ARCHITECTURES], "ibs_mom")),
    "momentum_098.dlr_vs_m09.diff_range": lambda: lowest_and_highest_signed(
        [interval(d)[0] for d in m098_differences("dlr", "dlr")]),
    "momentum_098.ibs_vs_ibs_mom.diff_range": lambda: lowest_and_highest_signed(
        [interval(d)[0] for d in m098_differences("ibs", "ibs_mom")]),
    # The measured noise scale.
    **{f"measured.dlr.b_simple_{which}_epoch": (lambda epoch=epoch: whole_range(
        [b_simple("measured", arch, optimizer, "dlr", epoch) for arch in ARCHITECTURES
         for optimizer in ("sgd", "adam")])) for which, epoch in (("first", 0), ("last", -1))},
    "large_batch_measured.lenet5.ibs_lr.last_batch_over_b_simple":
        lambda: fmt(batch_over_b_simple("large_batch_measured", "lenet5", "ibs_lr", 11), 1),
    "large_batch_measured.mlp300.ibs_lr.last_batch_over_b_simple":
        lambda: fmt(batch_over_b_simple("large_batch_measured", "mlp300", "ibs_lr", 11), 1),
    "large_batch_measured.ibs_mom.stage_1_batch_over_b_simple_low":
        lambda: fmt(min(batch_over_b_simple("large_batch_measured", arch, "ibs_mom", 2) for arch in ARCHITECTURES)),
    "large_batch_measured.ibs_mom.stage_1_batch_over_b_simple_high":
        lambda: fmt(max(batch_over_b_simple("large_batch_measured", arch, "ibs_mom", 2) for arch in ARCHITECTURES)),
    # The batch grown by it.
    "ibs_auto.k1.ibs_auto.diff_range": lambda: lowest_and_highest_signed(auto_differences("1")),
    "ibs_auto.k1.ibs_auto.updates": lambda: whole_range(auto_updates("ibs_auto", "ibs_auto")),
    "kappa.held_not_equivalent_count": lambda: sum(count(verdicts_of(KAPPA_STUDIES[kappa], "ibs_auto"),
                                                         "not equivalent") for kappa in ("0.1", "0.3", "1")),
    "kappa_0_03.diff_range": lambda: lowest_and_highest_signed(auto_differences("0.03")),
    "kappa_0_01.diff_range": lambda: lowest_and_highest_signed(auto_differences("0.01")),
    "ibs_auto.k1.ibs_auto_lr.equivalent_count": lambda: count(verdicts_of("ibs_auto", "ibs_auto_lr"), "equivalent"),
    "kappa_0_1.ibs_auto_lr.equivalent_count": lambda: count(verdicts_of("ibs_auto_kappa_0_1", "ibs_auto_lr"),
                                                            "equivalent"),
}

# With the second endpoint's numbers (tests/trajectory_numbers.py) and those of the core studies on two CPU
# types (tests/replication_numbers.py), whose facts register in the same FACTS; no key is computed twice.
ALL_NUMBER_TEXTS = (NUMBER_TEXTS, TRAJECTORY_NUMBER_TEXTS, REPLICATION_NUMBER_TEXTS)
NUMBERS = {key: (lambda text=text: str(text())) for texts in ALL_NUMBER_TEXTS for key, text in texts.items()}
assert len(NUMBERS) == sum(len(texts) for texts in ALL_NUMBER_TEXTS), "a number key is computed twice"
