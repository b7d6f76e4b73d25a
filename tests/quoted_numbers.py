"""Every number and fact README.md and REPORT.md quote, computed from the committed pickles.

NUMBERS maps a number's key, the name its anchor gives it in a document
(<!--n:KEY-->), to a function that computes it and formats it as the
documents write it; FACTS maps a fact's name (<!--f:NAME-->) to a predicate
on the pickles. The keys name what a number is (study, network, optimizer,
schedule, quantity), so that the anchor, not the sentence around it, says
what the number means. Numbers read off the original study's figures are
inputs (ORIGINAL), not checked; benchmark timings are not checked either.
"""

import math

import numpy as np

from document_numbers import *  # noqa: F401,F403  (the statistics and formatting the numbers use)
from document_numbers import (ALPHA, ARCHITECTURES, FACTS, ORIGINAL, ORIGINAL_ORDER, PROJECT_DIR, Quote, STUDIES,
                              accuracy_text, cells, difference_text, fact, finals, fmt, interval, lowest_and_highest,
                              lowest_and_highest_signed, mean_difference, mean_pct, paired_differences, seed_range,
                              seed_runs, signed, std_pct, study, verdict, verdict_text, versus_dlr, versus_study)
from pathlib import Path

from replication_numbers import QUOTES as REPLICATION_QUOTES
from trajectory_numbers import QUOTES as TRAJECTORY_QUOTES



# ---------------------------------------------------------------------------
# Facts about the results that sentences state besides their numbers
# ---------------------------------------------------------------------------

@fact
def lenet5_ibs_lr_leaves_the_margin_at_b_equals_n():
    """large_batch: LeNet-5 with momentum, ibs_lr (last stage B = N) is not equivalent to dlr."""
    return verdict(paired_differences("large_batch", "lenet5", "momentum", "ibs_lr")) == "not equivalent"


@fact
def adam_ibs_lr_is_not_equivalent_on_both_mlps():
    """ibs_lr: Adam's ibs_lr is not equivalent to dlr on the 300-unit and the 500-150 MLP."""
    return all(verdict(paired_differences("ibs_lr", arch, "adam", "ibs_lr")) == "not equivalent"
               for arch in ("mlp300", "mlp500_150"))


@fact
def seeds_20_intervals_excluding_zero_are_mlp500_adam_ibs_and_mlp300_adam_hyb():
    """seeds_20: exactly two 95 % intervals exclude zero, 300-unit MLP/Adam/hyb and 500-150 MLP/Adam/ibs."""
    return intervals_excluding_zero("seeds_20") == [("mlp300", "adam", "hyb"), ("mlp500_150", "adam", "ibs")]


@fact
def results_interval_excluding_zero_is_mlp300_adam_hyb_only():
    """results: one 95 % interval of the 12 excludes zero, the 300-unit MLP with Adam, hyb."""
    return intervals_excluding_zero("results") == [("mlp300", "adam", "hyb")]


@fact
def previous_intervals_excluding_zero_are_mlp300_adam_hyb_and_lenet5_adam_ibs_and_hyb():
    """previous: exactly three intervals exclude zero, 300-unit MLP/Adam/hyb, LeNet-5/Adam/ibs and hyb."""
    return intervals_excluding_zero("previous") == [("mlp300", "adam", "hyb"), ("lenet5", "adam", "ibs"),
                                                    ("lenet5", "adam", "hyb")]


@fact
def only_mlp300_adam_hyb_excludes_zero_again_in_the_rerun():
    """Of the previous study's intervals excluding zero, only the 300-unit MLP/Adam/hyb one does in results."""
    return (set(intervals_excluding_zero("results")) & set(intervals_excluding_zero("previous"))
            == {("mlp300", "adam", "hyb")})


@fact
def largest_move_in_new_stds_is_mlp300_adam_dlr():
    """Against the new std alone, the 300-unit MLP/Adam/dlr moved most between previous and results."""
    return largest_move()[0] == ("mlp300", "adam", "dlr")


@fact
def lenet5_sgd_varies_most_at_batch_32():
    """base_batch_32: LeNet-5 with SGD has the largest seed-to-seed std of all cells."""
    return max(seed_stds("base_batch_32")) == max(std_pct("base_batch_32", "lenet5", "sgd", schedule)
                                                  for schedule in ORIGINAL_ORDER)


@fact
def reset_gives_about_a_sixth_of_the_original_gap():
    """base_batch_32_original_reset: LeNet-5/Adam's ibs - dlr rounds to a sixth of the original's gap."""
    return round(6 * reset_gap_share()[0]) == 1


@fact
def reset_costs_mlp300_with_dlr_and_hyb():
    """original_reset against results: the 300-unit MLP/Adam's dlr and hyb 95 % intervals lie below zero."""
    return all(interval(paired_differences("original_reset", "mlp300", "adam", schedule,
                                           reference_study="results"))[2] < 0
               for schedule in ("dlr", "hyb"))


@fact
def reset_leaves_ibs_untouched_at_batch_32():
    """base_batch_32_original_reset against base_batch_32: LeNet-5/Adam/ibs is identical, seed by seed."""
    return not paired_differences("base_batch_32_original_reset", "lenet5", "adam", "ibs",
                                  reference_study="base_batch_32").any()


@fact
def rest_of_the_gap_exceeds_two_run_stds():
    """The original's LeNet-5/Adam gap left over by the reset exceeds two stds of two runs' difference."""
    return abs(reset_gap_share()[1]) > 2 * two_run_std("base_batch_32_original_reset", "lenet5", "adam")


@fact
def original_sgd_gap_is_about_two_run_stds():
    """The original's 0.85-point LeNet-5/SGD gap rounds to two stds of two batch-32 runs' difference."""
    return round(0.85 / two_run_std("base_batch_32", "lenet5", "sgd")) == 2


@fact
def train_60000_comparisons_are_all_equivalent():
    """train_60000: all four LeNet-5 comparisons with dlr are equivalent."""
    return train_60000_verdicts() == ["equivalent"] * 4




def power_range(name, column, digits=2, scale=1.0):
    """'low to high' of a column of a study's committed power.csv (plots.py's output, checked elsewhere)."""
    import csv
    with open(PROJECT_DIR / Path(STUDIES[name]).parent / "power.csv", newline="") as handle:
        values = [scale * float(row[column]) for row in csv.DictReader(handle)]
    low, high = f"{min(values):.{digits}f}", f"{max(values):.{digits}f}"
    return low if low == high else f"{low} to {high}"


def paired_spreads(name):
    """The SD (ddof=1) of every comparison's paired differences from dlr, in points, recomputed here."""
    return [float(np.std(paired_differences(name, *cell), ddof=1)) for cell in cells(name) if cell[2] != "dlr"]


CONTROLS = ("const", "ibs_slow", "ibs_fast")
OPTIMIZERS_OF_CONTROLS = ("sgd", "momentum")


@fact
def controls_fail_on_the_mlps_but_one():
    """Every control is not equivalent on both MLPs, but the 500-150 MLP's ibs_fast with momentum (undecided)."""
    return all(verdict(paired_differences("controls", arch, optimizer, schedule))
               == ("undecided" if (arch, optimizer, schedule) == ("mlp500_150", "momentum", "ibs_fast")
                   else "not equivalent")
               for arch in ("mlp300", "mlp500_150") for optimizer in OPTIMIZERS_OF_CONTROLS for schedule in CONTROLS)


@fact
def controls_undecided_on_lenet5():
    """Every control on LeNet-5 is undecided."""
    return all(verdict(paired_differences("controls", "lenet5", optimizer, schedule)) == "undecided"
               for optimizer in OPTIMIZERS_OF_CONTROLS for schedule in CONTROLS)


@fact
def graded_series_verdicts_as_said():
    """k = 1.5, 2, 4 equivalent in all 18 cells; k = 8 undecided for the 300-unit MLP, the 500-150 MLP with momentum
    and LeNet-5 with SGD, equivalent in the other two cells."""
    small = all(verdict(paired_differences("controls", arch, optimizer, f"ibs_last_{k}x")) == "equivalent"
                for arch in ARCHITECTURES for optimizer in OPTIMIZERS_OF_CONTROLS for k in ("1_5", "2", "4"))
    undecided = {(arch, optimizer) for arch in ARCHITECTURES for optimizer in OPTIMIZERS_OF_CONTROLS
                 if verdict(paired_differences("controls", arch, optimizer, "ibs_last_8x")) == "undecided"}
    equivalent = {(arch, optimizer) for arch in ARCHITECTURES for optimizer in OPTIMIZERS_OF_CONTROLS
                  if verdict(paired_differences("controls", arch, optimizer, "ibs_last_8x")) == "equivalent"}
    return small and undecided == {("mlp300", "sgd"), ("mlp300", "momentum"), ("mlp500_150", "momentum"),
                                   ("lenet5", "sgd")} and len(equivalent) == 2


def ibs_lr_verdict_at_its_last_look(arch, optimizer):
    """ibs_lr's verdict against dlr at 20 seeds where a 20-seed study has the cell, else at 5."""
    name = {"sgd": "ibs_lr_20", "adam": "ibs_lr_20"}.get(optimizer, "momentum_20") if (
        optimizer in ("momentum", "nesterov") or arch == "lenet5") else "ibs_lr"
    return verdict(paired_differences(name, arch, optimizer, "ibs_lr"))


def ibs_lr_cells_undecided_at_5_seeds():
    """The SGD-family ibs_lr cells undecided at 5 seeds."""
    return [(arch, optimizer) for arch in ARCHITECTURES for optimizer in ("sgd", "momentum", "nesterov")
            if verdict(paired_differences("ibs_lr" if optimizer == "sgd" else "momentum", arch, optimizer, "ibs_lr"))
            == "undecided"]


@fact
def ibs_lr_equivalent_in_every_sgd_family_cell():
    """ibs_lr is equivalent to dlr in all 9 SGD-family cells at their last look."""
    return all(ibs_lr_verdict_at_its_last_look(arch, optimizer) == "equivalent"
               for arch in ARCHITECTURES for optimizer in ("sgd", "momentum", "nesterov"))


@fact
def five_ibs_mom_cells_stay_undecided_between_8_and_13_hundredths():
    """At 20 seeds every ibs_mom cell but LeNet-5 with Nesterov is undecided, 0.08 to 0.13 points below dlr."""
    cells = [(arch, optimizer) for arch in ARCHITECTURES for optimizer in ("momentum", "nesterov")
             if (arch, optimizer) != ("lenet5", "nesterov")]
    return (verdict(paired_differences("momentum_20", "lenet5", "nesterov", "ibs_mom")) == "equivalent"
            and all(verdict(paired_differences("momentum_20", *cell, "ibs_mom")) == "undecided" for cell in cells)
            and lowest_and_highest([-mean_difference("momentum_20", *cell, "ibs_mom") for cell in cells])
            == "0.08 to 0.13")


ANNEALING_MLP_CELLS = [(arch, optimizer) for arch in ("mlp300", "mlp500_150") for optimizer in ("sgd", "momentum")]
# Every cell of the two annealing-helps studies: (study, arch, optimizer).
ANNEALING_CELLS = [("annealing_helps_mlp", *cell) for cell in ANNEALING_MLP_CELLS] + [
    ("annealing_helps_lenet5", "lenet5", optimizer) for optimizer in ("sgd", "momentum")]


@fact
def const_not_equivalent_where_annealing_helps():
    """const is not equivalent to dlr in every cell of both annealing-helps studies."""
    return all(verdict(paired_differences(name, arch, optimizer, "const")) == "not equivalent"
               for name, arch, optimizer in ANNEALING_CELLS)


def annealing_equivalences():
    return sum(verdict(paired_differences(name, arch, optimizer, schedule)) == "equivalent"
               for name, arch, optimizer in ANNEALING_CELLS for schedule in ("ibs", "hyb"))


def annealing_const_costs(cells):
    return lowest_and_highest([-mean_difference(name, arch, optimizer, "const") for name, arch, optimizer in cells])


@fact
def exact_matching_lifts_lenet5_ibs_lr_out_of_not_equivalent():
    """LeNet-5's ibs_lr at large batch: not equivalent under the approximation, undecided under exact matching,
    and ibs_mom not equivalent on every network under exact matching."""
    return (verdict(paired_differences("large_batch", "lenet5", "momentum", "ibs_lr")) == "not equivalent"
            and verdict(paired_differences("large_batch_exact", "lenet5", "momentum", "ibs_lr")) == "undecided"
            and all(verdict(paired_differences("large_batch_exact", arch, "momentum", "ibs_mom")) == "not equivalent"
                    for arch in ARCHITECTURES))


MOMENTUM_CELLS = [(arch, optimizer) for arch in ARCHITECTURES for optimizer in ("momentum", "nesterov")]


# momentum_098 was trained on the CPU type that first trained results/momentum, and is compared with those runs.
MOMENTUM_SAME_CPU = earlier_cpu_study("momentum")


def m098_dlr_differences():
    return [paired_differences("momentum_098", arch, optimizer, "dlr", reference_study=MOMENTUM_SAME_CPU)
            for arch, optimizer in MOMENTUM_CELLS]


def m098_ibs_against_ibs_mom():
    return [paired_differences("momentum_098", arch, optimizer, "ibs", reference_schedule="ibs_mom",
                               reference_study=MOMENTUM_SAME_CPU) for arch, optimizer in MOMENTUM_CELLS]


def b_simple(name, arch, optimizer, schedule, epoch):
    """A cell's measured B_simple at an epoch: the seeds' mean tr(Sigma) over their mean |G|^2."""
    runs = seed_runs(name, arch, optimizer, schedule).values()
    return (np.mean([run["gradient_variance"][epoch] for run in runs])
            / np.mean([run["gradient_norm_sq"][epoch] for run in runs]))


def batch_over_b_simple(name, arch, optimizer, schedule, epoch):
    batch = seed_runs(name, arch, optimizer, schedule)[0]["batch_size"][epoch]
    return batch / b_simple(name, arch, optimizer, schedule, epoch)


DLR_CELLS = [(arch, optimizer) for arch in ARCHITECTURES for optimizer in ("sgd", "adam")]

# The studies of the adaptive schedules, by kappa, and their cells.
KAPPA_STUDIES = {"0.01": "ibs_auto_kappa_0_01", "0.03": "ibs_auto_kappa_0_03", "0.1": "ibs_auto_kappa_0_1",
                 "0.3": "ibs_auto_kappa_0_3", "1": "ibs_auto"}
AUTO_CELLS = [(arch, optimizer) for arch in ARCHITECTURES for optimizer in ("sgd", "momentum")]


def mean_difference_at(name, arch, optimizer, schedule, epoch):
    """The mean paired difference from dlr at one epoch, in points."""
    runs, reference = seed_runs(name, arch, optimizer, schedule), seed_runs(name, arch, optimizer, "dlr")
    return float(np.mean([100 * (runs[seed]["test_accuracy"][epoch] - reference[seed]["test_accuracy"][epoch])
                          for seed in sorted(runs) if seed in reference]))


def auto_verdicts(name, schedule):
    return [verdict(paired_differences(name, *cell, schedule)) for cell in AUTO_CELLS]


def auto_updates(name, schedule):
    """Each cell's mean over seeds of the updates a run took."""
    return [float(np.mean([run["updates"][-1] for run in seed_runs(name, *cell, schedule).values()]))
            for cell in AUTO_CELLS]


def auto_updates_after_the_first_stage(name, schedule):
    """Each cell's mean over seeds of the updates a run took after the first stage."""
    last = study(name)["config"]["epochs_per_stage"] - 1
    return [float(np.mean([run["updates"][-1] - run["updates"][last]
                           for run in seed_runs(name, *cell, schedule).values()])) for cell in AUTO_CELLS]


def auto_second_stage_batches(name, schedule):
    """Each cell's mean over seeds of the batch its second stage chose."""
    epoch = study(name)["config"]["epochs_per_stage"]
    return [float(np.mean([run["batch_size"][epoch] for run in seed_runs(name, *cell, schedule).values()]))
            for cell in AUTO_CELLS]


def whole_range(values):
    return f"{min(values):,.0f} to {max(values):,.0f}"


def kappa_table_line(kappa, schedule):
    """One line of REPORT's table of the adaptive schedules against dlr, recomputed from the pickles."""
    name = KAPPA_STUDIES[kappa]
    verdicts = auto_verdicts(name, schedule)
    counts = ", ".join(f"{verdicts.count(v)} {v}" for v in ("equivalent", "undecided", "not equivalent")
                       if verdicts.count(v))
    differences = [mean_difference(name, *cell, schedule) for cell in AUTO_CELLS]
    return (f"| {kappa} | {schedule} | {lowest_and_highest_signed(differences)} | {counts} | "
            f"{whole_range(auto_updates(name, schedule))} | {whole_range(auto_second_stage_batches(name, schedule))} |")


KAPPA_TABLE_ROWS = [(kappa, "ibs_auto") for kappa in KAPPA_STUDIES] + [("0.1", "ibs_auto_lr"), ("1", "ibs_auto_lr")]


def run_broke(run):
    """A training loss above the run's first epoch's, somewhere after it."""
    return max(run["train_loss"][1:]) > run["train_loss"][0]


def broken_runs(name, schedule):
    return [key for key, run in study(name)["runs"].items() if key[2] == schedule and run_broke(run)]


@fact
def auto_lr_breaks_once_at_kappa_1():
    """ibs_auto_lr: one run of 30 broke at kappa 1 (the 500-150 MLP with SGD, seed 2), none at kappa 0.1."""
    return (broken_runs("ibs_auto", "ibs_auto_lr") == [("mlp500_150", "sgd", "ibs_auto_lr", 2)]
            and len([key for key in study("ibs_auto")["runs"] if key[2] == "ibs_auto_lr"]) == 30
            and broken_runs("ibs_auto_kappa_0_1", "ibs_auto_lr") == [])


def largest_learning_rate(name, schedule):
    return max(max(run["learning_rate"]) for key, run in study(name)["runs"].items() if key[2] == schedule)


def the_broken_run():
    return study("ibs_auto")["runs"][("mlp500_150", "sgd", "ibs_auto_lr", 2)]


@fact
def held_kappas_lose_from_0_1():
    """ibs_auto at kappa 0.1, 0.3 and 1 ends below dlr in every cell, with fewer updates than ibs's 18,720."""
    return all(mean_difference(KAPPA_STUDIES[kappa], *cell, "ibs_auto") < 0 for kappa in ("0.1", "0.3", "1")
               for cell in AUTO_CELLS) and all(max(auto_updates(KAPPA_STUDIES[kappa], "ibs_auto")) < 18_720
                                               for kappa in ("0.1", "0.3", "1"))


@fact
def ibs_auto_at_kappa_1_never_equivalent_and_ibs_always():
    """At kappa 1, ibs_auto is not equivalent to dlr in all 6 cells and ibs equivalent in all 6."""
    return (auto_verdicts("ibs_auto", "ibs_auto") == ["not equivalent"] * 6
            and auto_verdicts("ibs_auto", "ibs") == ["equivalent"] * 6)


@fact
def ibs_auto_lr_undecided_cells():
    """The cells where ibs_auto_lr is not equivalent: LeNet-5 with SGD at both kappas, the 500-150 MLP with SGD
    at kappa 1, each undecided."""
    return ([cell for cell in AUTO_CELLS if verdict(paired_differences("ibs_auto", *cell, "ibs_auto_lr"))
             != "equivalent"] == [("mlp500_150", "sgd"), ("lenet5", "sgd")]
            and [cell for cell in AUTO_CELLS if verdict(paired_differences("ibs_auto_kappa_0_1", *cell,
                                                                           "ibs_auto_lr")) != "equivalent"]
            == [("lenet5", "sgd")]
            and all(verdict(paired_differences(name, "lenet5", "sgd", "ibs_auto_lr")) == "undecided"
                    for name in ("ibs_auto", "ibs_auto_kappa_0_1"))
            and verdict(paired_differences("ibs_auto", "mlp500_150", "sgd", "ibs_auto_lr")) == "undecided")


def largest_spread_of_a_stage(name):
    """Over every later stage of every cell of ibs_auto, the largest batch over the smallest, lowest and highest."""
    per_stage = study(name)["config"]["epochs_per_stage"]
    ratios = []
    for cell in AUTO_CELLS:
        runs = seed_runs(name, *cell, "ibs_auto").values()
        for epoch in range(per_stage, len(next(iter(runs))["batch_size"]), per_stage):
            batches = [run["batch_size"][epoch] for run in runs]
            ratios.append(max(batches) / min(batches))
    return ratios


@fact
def kappa_0_03_undecided_everywhere_around_ibs_updates():
    return (auto_verdicts("ibs_auto_kappa_0_03", "ibs_auto") == ["undecided"] * 6
                    and min(auto_updates("ibs_auto_kappa_0_03", "ibs_auto")) < 18_720
                    < max(auto_updates("ibs_auto_kappa_0_03", "ibs_auto")))


@fact
def kappa_0_01_above_dlr_and_not_equivalent_everywhere():
    return (auto_verdicts("ibs_auto_kappa_0_01", "ibs_auto") == ["not equivalent"] * 6
                    and min(mean_difference("ibs_auto_kappa_0_01", *cell, "ibs_auto") for cell in AUTO_CELLS) > 0)


@fact
def kappa_0_1_ibs_auto_never_equivalent():
    return (auto_verdicts("ibs_auto_kappa_0_1", "ibs_auto").count("equivalent") == 0)


@fact
def ibs_takes_the_same_updates_after_stage_1_in_every_cell():
    return (len(set(auto_updates_after_the_first_stage("ibs_auto", "ibs"))) == 1)


@fact
def large_batch_measured_mlp300_ibs_lr_is_equivalent():
    return (verdict(paired_differences("large_batch_measured", "mlp300", "momentum", "ibs_lr"))
                    == "equivalent")


@fact
def large_batch_15_epochs_ibs_lr_is_equivalent():
    return (verdict(paired_differences("large_batch_15_epochs", "lenet5", "momentum", "ibs_lr"))
                    == "equivalent")


@fact
def momentum_098_verdicts_as_said():
    return (all(verdict(d) in ("equivalent", "undecided") for d in m098_dlr_differences())
                    and all(verdict(d) == "undecided" for d in m098_ibs_against_ibs_mom())
                    and all(verdict(paired_differences("momentum_098", *cell, "ibs")) == "equivalent"
                            for cell in MOMENTUM_CELLS))


@fact
def large_batch_60000_ibs_lr_is_equivalent():
    return (verdict(paired_differences("large_batch_60000", "lenet5", "momentum", "ibs_lr"))
                    == "equivalent")


QUOTES = [
    Quote(('ibs_auto.k1.ibs_auto.diff_range', 'ibs_auto.k1.ibs_auto.updates'),
          lambda: [lowest_and_highest_signed([mean_difference("ibs_auto", *cell, "ibs_auto") for cell in AUTO_CELLS]),
                   whole_range(auto_updates("ibs_auto", "ibs_auto"))]),
    Quote(('ibs_auto.k1.ibs_auto.second_batch', 'ibs_auto.k1.ibs_auto.g_fall'),
          lambda: [whole_range(auto_second_stage_batches("ibs_auto", "ibs_auto")),
                   whole_range([batch / 4 for batch in auto_second_stage_batches("ibs_auto", "ibs_auto")])]),
    Quote(('ibs_auto.k1.ibs_auto.stage2_diff_range',),
          lambda: [lowest_and_highest_signed([mean_difference_at("ibs_auto", *cell, "ibs_auto", 5)
                                              for cell in AUTO_CELLS])]),
    Quote(('ibs_auto.k1.stage_batch_spread_low', 'ibs_auto.k1.stage_batch_spread_high'),
          lambda: [f"{min(largest_spread_of_a_stage('ibs_auto')):.1f}",
                   f"{max(largest_spread_of_a_stage('ibs_auto')):.1f}"]),
    Quote(('kappa.held_not_equivalent_count', 'kappa_0_03.diff_range', 'kappa_0_03.updates', 'kappa_0_01.diff_range'),
          lambda: [sum(auto_verdicts(KAPPA_STUDIES[kappa], "ibs_auto").count("not equivalent")
                       for kappa in ("0.1", "0.3", "1")),
                   lowest_and_highest_signed([mean_difference("ibs_auto_kappa_0_03", *cell, "ibs_auto")
                                              for cell in AUTO_CELLS]),
                   whole_range(auto_updates("ibs_auto_kappa_0_03", "ibs_auto")),
                   lowest_and_highest_signed([mean_difference("ibs_auto_kappa_0_01", *cell, "ibs_auto")
                                              for cell in AUTO_CELLS])]),
    Quote(('ibs_auto.k1.ibs_auto_lr.updates', 'ibs_auto.k1.ibs_auto.updates', 'ibs_auto.k1.ibs_auto_lr.equivalent_count', 'kappa_0_1.ibs_auto_lr.equivalent_count', 'kappa_0_1.ibs_auto_lr.updates'),
          lambda: [whole_range(auto_updates("ibs_auto", "ibs_auto_lr")),
                   whole_range(auto_updates("ibs_auto", "ibs_auto")),
                   auto_verdicts("ibs_auto", "ibs_auto_lr").count("equivalent"),
                   auto_verdicts("ibs_auto_kappa_0_1", "ibs_auto_lr").count("equivalent"),
                   whole_range(auto_updates("ibs_auto_kappa_0_1", "ibs_auto_lr"))]),
    Quote(('ibs_auto.k1.ibs_auto_lr.updates_after_stage_1', 'ibs_auto.k1.ibs_auto.updates_after_stage_1', 'ibs_auto.k1.ibs.updates_after_stage_1'),
          lambda: [whole_range(auto_updates_after_the_first_stage("ibs_auto", schedule))
                   for schedule in ("ibs_auto_lr", "ibs_auto")]
          + [f"{auto_updates_after_the_first_stage('ibs_auto', 'ibs')[0]:,.0f}"]),
    Quote(('broken_run.second_batch', 'broken_run.largest_rate', 'broken_run.largest_train_loss', 'broken_run.final_accuracy'),
          lambda: [f"{the_broken_run()['batch_size'][3]:,}", f"{max(the_broken_run()['learning_rate']):.2f}",
                   f"{max(the_broken_run()['train_loss']):.1f}", f"{100 * the_broken_run()['test_accuracy'][-1]:.2f}"]),
    Quote(('kappa_0_1.ibs_auto_lr.largest_rate',),
          lambda: [f"{largest_learning_rate('ibs_auto_kappa_0_1', 'ibs_auto_lr'):.2f}"]),
    Quote(('measured.dlr.b_simple_first_epoch', 'measured.dlr.b_simple_last_epoch'),
          lambda: [f"{min(values):,.0f} to {max(values):,.0f}" for values in (
              [b_simple("measured", *cell, "dlr", epoch) for cell in DLR_CELLS] for epoch in (0, -1))]),
    Quote(('large_batch_measured.lenet5.dlr.b_simple_stage_1', 'large_batch_measured.lenet5.dlr.b_simple_end', 'large_batch_measured.mlp300.dlr.b_simple_stage_1', 'large_batch_measured.mlp300.dlr.b_simple_end'),
          lambda: [f"{b_simple('large_batch_measured', arch, 'momentum', 'dlr', epoch):,.0f}"
                   for arch in ("lenet5", "mlp300") for epoch in (2, 11)]),
    Quote(('large_batch_measured.lenet5.ibs_lr.last_batch_over_b_simple', 'large_batch_measured.mlp300.ibs_lr.last_batch_over_b_simple'),
          lambda: [f"{batch_over_b_simple('large_batch_measured', arch, 'momentum', 'ibs_lr', 11):.1f}"
                   for arch in ("lenet5", "mlp300")]),
    Quote(('large_batch_measured.ibs_mom.stage_1_batch_over_b_simple_low', 'large_batch_measured.ibs_mom.stage_1_batch_over_b_simple_high'),
          lambda: [f"{value:.2f}" for value in (
              min(batch_over_b_simple("large_batch_measured", arch, "momentum", "ibs_mom", 2) for arch in ARCHITECTURES),
              max(batch_over_b_simple("large_batch_measured", arch, "momentum", "ibs_mom", 2)
                  for arch in ARCHITECTURES))]),
    Quote(('large_batch_15_epochs.lenet5.ibs_lr.diff',),
          lambda: [versus_dlr("large_batch_15_epochs", "lenet5", "momentum", "ibs_lr")]),
    Quote(('momentum_098.dlr_vs_m09.diff_range', 'momentum_098.dlr_vs_m09.equivalent_count', 'momentum_098.ibs_vs_ibs_mom.diff_range'),
          lambda: [lowest_and_highest_signed([interval(d)[0] for d in m098_dlr_differences()]),
                   sum(verdict(d) == "equivalent" for d in m098_dlr_differences()),
                   lowest_and_highest_signed([interval(d)[0] for d in m098_ibs_against_ibs_mom()])]),
    Quote(('large_batch_60000.lenet5.ibs_lr.diff', 'large_batch_60000.lenet5.dlr.accuracy', 'large_batch.lenet5.dlr.accuracy'),
          lambda: [versus_dlr("large_batch_60000", "lenet5", "momentum", "ibs_lr"),
                   fmt(mean_pct("large_batch_60000", "lenet5", "momentum", "dlr")),
                   fmt(mean_pct("large_batch", "lenet5", "momentum", "dlr"))]),
    Quote(('large_batch_exact.lenet5.ibs_lr.diff', 'large_batch.lenet5.ibs_lr.diff'),
          lambda: [versus_dlr("large_batch_exact", "lenet5", "momentum", "ibs_lr"),
                   versus_dlr("large_batch", "lenet5", "momentum", "ibs_lr")]),
    Quote(('annealing.mlp.const.cost_range', 'annealing.lenet5.const.cost_range'),
          lambda: [annealing_const_costs(ANNEALING_CELLS[:4]), annealing_const_costs(ANNEALING_CELLS[4:])]),
    Quote(('annealing.ibs_hyb.equivalent_count', 'annealing.ibs_hyb.largest_abs_diff'),
          lambda: [annealing_equivalences(),
                   fmt(max(abs(mean_difference(name, arch, optimizer, schedule))
                           for name, arch, optimizer in ANNEALING_CELLS for schedule in ("ibs", "hyb")))]),
    Quote(('controls.mlp500_150.momentum.ibs_fast.diff',),
          lambda: [versus_dlr("controls", "mlp500_150", "momentum", "ibs_fast")]),
    Quote(('controls.mlp300.sgd.const.diff_mean', 'controls.mlp300.sgd.ibs_slow.diff_mean'),
          lambda: [fmt(mean_difference("controls", "mlp300", "sgd", "const")),
                   fmt(mean_difference("controls", "mlp300", "sgd", "ibs_slow"))]),
    Quote(('controls.mlp300.sgd.ibs_fast.cost',),
          lambda: [fmt(-mean_difference("controls", "mlp300", "sgd", "ibs_fast"))]),
    Quote(('controls.mlp300.sgd.ibs_last_8x.diff', 'controls.mlp300.momentum.ibs_last_8x.diff'),
          lambda: [versus_dlr("controls", "mlp300", "sgd", "ibs_last_8x"),
                   versus_dlr("controls", "mlp300", "momentum", "ibs_last_8x")]),
    Quote(('seeds_20.paired_sd_low', 'seeds_20.paired_sd_high'),
          lambda: [f"{min(paired_spreads('seeds_20')):.3f}", f"{max(paired_spreads('seeds_20')):.3f}"]),
    Quote(('seeds_20.power.detectable_at_20', 'seeds_20.power.p_equivalent_at_0_at_20'),
          lambda: [power_range("seeds_20", "detectable_pp_at_20"), power_range("seeds_20", "p_equivalent_at_0_at_20")]),
    Quote(('seeds_20.power.detectable_at_5', 'seeds_20.power.p_equivalent_at_0_at_5'),
          lambda: [power_range("seeds_20", "detectable_pp_at_5"), power_range("seeds_20", "p_equivalent_at_0_at_5")]),
    Quote(('large_batch.mlp300.dlr.accuracy', 'large_batch.mlp500_150.dlr.accuracy', 'large_batch.lenet5.dlr.accuracy'),
          lambda: [fmt(mean_pct("large_batch", arch, "momentum", "dlr")) for arch in ARCHITECTURES]),
    Quote(('large_batch.lenet5.ibs_lr.tost',),
          lambda: [verdict_text("large_batch", "lenet5", "momentum", "ibs_lr")]),
    Quote(('large_batch.ibs_mom.cost_range',),
          lambda: [lowest_and_highest([-mean_difference("large_batch", arch, "momentum", "ibs_mom")
                                       for arch in ARCHITECTURES])]),
    Quote(('cuts.ibs_lr.momentum_cost_range',),
          lambda: [lowest_and_highest(momentum_cut_costs("ibs_lr"))]),
    Quote(('cuts.ibs_mom.momentum_cost_range', 'cuts.ibs_mom.intervals_below_zero'),
          lambda: [lowest_and_highest(momentum_cut_costs("ibs_mom")),
                   sum(interval(paired_differences("momentum", arch, optimizer, "ibs_mom"))[2] < 0
                       for arch in ARCHITECTURES for optimizer in ("momentum", "nesterov"))]),
    Quote(('ibs_lr.mlp300.adam.ibs_lr.cost', 'ibs_lr.mlp500_150.adam.ibs_lr.cost'),
          lambda: [fmt(-cut_mean("mlp300", "adam", "ibs_lr")), fmt(-cut_mean("mlp500_150", "adam", "ibs_lr"))]),
    Quote(('momentum.momentum.dlr.accuracies', 'momentum.nesterov.dlr.accuracies', 'results.sgd.dlr.accuracies'),
          lambda: [", ".join(f"{mean_pct(name, arch, optimizer, 'dlr'):.2f}" for arch in ARCHITECTURES[:2])
                   + f" and {mean_pct(name, 'lenet5', optimizer, 'dlr'):.2f}"
                   for name, optimizer in (("momentum", "momentum"), ("momentum", "nesterov"),
                                           ("results", "sgd"))]),
    Quote(('seeds_20.equivalent_count',),
          lambda: [verdict_tally("seeds_20").get("equivalent")]),
    Quote(('seeds_20.lenet5.adam.ibs.tost',),
          lambda: [verdict_text("seeds_20", "lenet5", "adam", "ibs")]),
    Quote(('seeds_20.mlp500_150.adam.ibs.diff', 'seeds_20.mlp300.adam.hyb.diff'),
          lambda: [versus_dlr("seeds_20", "mlp500_150", "adam", "ibs"),
                   versus_dlr("seeds_20", "mlp300", "adam", "hyb")]),
    Quote(('seeds_20.sgd.largest_90_interval_end',),
          lambda: [fmt(max(max(abs(value) for value in interval(paired_differences("seeds_20", *cell), 0.9)[1:])
                           for cell in grid_cells(("sgd",))))]),
    Quote(('seeds_20.mlp500_150.adam.ibs.diff',),
          lambda: [versus_dlr("seeds_20", "mlp500_150", "adam", "ibs")]),
    Quote(('results.seed_sd_range', 'results.seed_sd_median'),
          lambda: [lowest_and_highest(seed_stds("results")), fmt(np.median(seed_stds("results")))]),
    Quote(('results.equivalent_count', 'results.lenet5.adam.ibs.tost'),
          lambda: [verdict_tally("results")["equivalent"], verdict_text("results", "lenet5", "adam", "ibs")]),
    Quote(('results.diff_mean_low', 'results.diff_mean_high', 'results.diff_interval_low', 'results.diff_interval_high'),
          lambda: [signed(value) for value in differences_range("results")]),
    Quote(('results.sgd.largest_abs_diff', 'results.sgd.diff_interval_low', 'results.sgd.diff_interval_high'),
          lambda: [fmt(largest_absolute_difference("results", ("sgd",))),
                   signed(differences_range("results", ("sgd",))[2]),
                   signed(differences_range("results", ("sgd",))[3])]),
    Quote(('results.mlp300.adam.hyb.diff_3_digits',),
          lambda: [versus_dlr("results", "mlp300", "adam", "hyb", 3)]),
    Quote(('results.mlp500_150.adam.ibs.diff',),
          lambda: [versus_dlr("results", "mlp500_150", "adam", "ibs")]),
    Quote(('previous.lenet5.adam.ibs.diff', 'results.lenet5.adam.ibs.diff'),
          lambda: [versus_dlr("previous", "lenet5", "adam", "ibs"),
                   versus_dlr("results", "lenet5", "adam", "ibs")]),
    Quote(('previous.intervals_excluding_zero', 'previous.mlp300.adam.hyb.diff', 'previous.lenet5.adam.ibs.diff', 'previous.lenet5.adam.hyb.diff'),
          lambda: [len(intervals_excluding_zero("previous")),
                   versus_dlr("previous", "mlp300", "adam", "hyb"),
                   versus_dlr("previous", "lenet5", "adam", "ibs"),
                   versus_dlr("previous", "lenet5", "adam", "hyb")]),
    Quote(('results.mlp300.adam.hyb.diff', 'previous.equivalent_count'),
          lambda: [versus_dlr("results", "mlp300", "adam", "hyb"), verdict_tally("previous")["equivalent"]]),
    Quote(('rerun.largest_move', 'rerun.largest_move_in_larger_sds', 'rerun.largest_move_in_new_sds', 'previous.mlp300.adam.dlr.accuracy', 'results.mlp300.adam.dlr.accuracy'),
          lambda: [fmt(max(move[1] for move in moves("results", "previous"))),
                   fmt(max(move[3] for move in moves("results", "previous"))),
                   fmt(largest_move()[2]),
                   fmt(mean_pct("previous", "mlp300", "adam", "dlr")),
                   fmt(mean_pct("results", "mlp300", "adam", "dlr"))]),
    Quote(('results.ibs.updates', 'results.dlr.updates', 'results.ibs.update_ratio', 'results.hyb.updates', 'results.hyb.update_ratio'),
          lambda: [f"{updates('results', 'lenet5', 'adam', 'ibs'):,}",
                   f"{updates('results', 'lenet5', 'adam', 'dlr'):,}",
                   fmt(update_ratio("results", "lenet5", "adam", "ibs"), 1),
                   f"{updates('results', 'lenet5', 'adam', 'hyb'):,}",
                   fmt(update_ratio("results", "lenet5", "adam", "hyb"), 1)]),
    Quote(('results.wall_ratio_range', 'results.lenet5.adam.dlr.seconds', 'results.lenet5.adam.ibs.seconds'),
          lambda: [lowest_and_highest(wall_ratios("results"), 1),
                   fmt(mean_seconds("results", "lenet5", "adam", "dlr"), 1),
                   fmt(mean_seconds("results", "lenet5", "adam", "ibs"), 1)]),
    Quote(('results.hyb.noise_scale_gap_pct',),
          lambda: [fmt(100 * hyb_noise_gap("results"), 1)]),
    Quote(('original.sgd_gap_range', 'original.sgd_gap_in_sds', 'original.adam_largest_gap', 'original.lenet5.adam.ibs.gap'),
          lambda: [lowest_and_highest(sgd_gaps_at_batch_4(), 1),
                   lowest_and_highest([ratio for _, ratio in original_gaps("results", ("sgd",))], 0),
                   fmt(max(adam_gaps_but_lenet_ibs())),
                   fmt(mean_pct("results", "lenet5", "adam", "ibs") - ORIGINAL["lenet5", "adam"][2], 1)]),
    Quote(('base_batch_32.original.largest_gap', 'base_batch_32.original.within_0_2_count'),
          lambda: [fmt(max(batch_32_gaps_of_dlr_and_hyb())),
                   sum(gap <= 0.2 for gap in batch_32_gaps_of_dlr_and_hyb())]),
    Quote(('base_batch_32_original_reset.mlp300.adam.dlr.accuracy', 'base_batch_32_original_reset.lenet5.adam.dlr.accuracy'),
          lambda: [fmt(mean_pct("base_batch_32_original_reset", "mlp300", "adam", "dlr")),
                   fmt(mean_pct("base_batch_32_original_reset", "lenet5", "adam", "dlr"))]),
    Quote(('base_batch_32.lenet5.adam.ibs.original_gap', 'base_batch_32.lenet5.adam.ibs.original_gap_in_sds', 'base_batch_32.lenet5.adam.ibs.accuracy_sd', 'base_batch_32.lenet5.adam.ibs.seed_range'),
          lambda: [fmt(mean_pct("base_batch_32", "lenet5", "adam", "ibs") - 97.7),
                   fmt(std_distance_from_original("base_batch_32", "lenet5", "adam", "ibs"), 1),
                   accuracy_text("base_batch_32", "lenet5", "adam", "ibs"),
                   seed_range("base_batch_32", "lenet5", "adam", "ibs")]),
    Quote(('base_batch_32.lenet5.sgd.ibs.original_gap', 'base_batch_32.lenet5.sgd.ibs.original_gap_in_sds', 'base_batch_32.lenet5.sgd.ibs.accuracy_sd'),
          lambda: [fmt(94.7 - mean_pct("base_batch_32", "lenet5", "sgd", "ibs")),
                   fmt(std_distance_from_original("base_batch_32", "lenet5", "sgd", "ibs"), 1),
                   accuracy_text("base_batch_32", "lenet5", "sgd", "ibs")]),
    Quote(('base_batch_32.lenet5.sgd.ibs.seed_range',),
          lambda: [seed_range("base_batch_32", "lenet5", "sgd", "ibs")]),
    Quote(('base_batch_32.original.largest_gap',),
          lambda: [fmt(max(batch_32_gaps_of_dlr_and_hyb()))]),
    Quote(('results.lenet5.adam.ibs.diff',),
          lambda: [versus_dlr("results", "lenet5", "adam", "ibs")]),
    Quote(('results.lenet5.sgd.ibs.diff',),
          lambda: [versus_dlr("results", "lenet5", "sgd", "ibs")]),
    Quote(('original_reset.vs_results.lenet5.adam.dlr.diff', 'original_reset.vs_results.lenet5.adam.hyb.diff', 'original_reset.lenet5.adam.ibs.diff'),
          lambda: [versus_study("original_reset", "results", "lenet5", "adam", "dlr"),
                   versus_study("original_reset", "results", "lenet5", "adam", "hyb"),
                   versus_dlr("original_reset", "lenet5", "adam", "ibs")]),
    Quote(('original_reset.vs_results.mlp300.adam.dlr.cost', 'original_reset.vs_results.mlp300.adam.hyb.cost'),
          lambda: [fmt(-mean_difference("original_reset", "mlp300", "adam", schedule, reference_study="results"))
                   for schedule in ("dlr", "hyb")]),
    Quote(('base_batch_32_original_reset.vs_base_batch_32.lenet5.adam.dlr.diff', 'base_batch_32_original_reset.vs_base_batch_32.lenet5.adam.hyb.diff'),
          lambda: [versus_study("base_batch_32_original_reset", "base_batch_32", "lenet5", "adam", schedule)
                   for schedule in ("dlr", "hyb")]),
    Quote(('base_batch_32_original_reset.lenet5.adam.hyb.accuracy', 'base_batch_32_original_reset.lenet5.adam.dlr.accuracy', 'base_batch_32_original_reset.lenet5.adam.ibs.accuracy', 'base_batch_32_original_reset.lenet5.adam.ibs.diff', 'base_batch_32.lenet5.adam.ibs.diff'),
          lambda: [fmt(mean_pct("base_batch_32_original_reset", "lenet5", "adam", schedule))
                   for schedule in ("hyb", "dlr", "ibs")]
          + [versus_dlr("base_batch_32_original_reset", "lenet5", "adam", "ibs"),
             versus_dlr("base_batch_32", "lenet5", "adam", "ibs")]),
    Quote(('base_batch_32_original_reset.lenet5.adam.ibs.abs_diff', 'reset.rest_of_original_gap'),
          lambda: [fmt(abs(mean_difference("base_batch_32_original_reset", "lenet5", "adam", "ibs"))),
                   fmt(abs(reset_gap_share()[1]), 1)]),
    Quote(('base_batch_32_original_reset.lenet5.adam.sd_range', 'base_batch_32_original_reset.lenet5.adam.two_run_sd_range', 'reset.rest_of_original_gap'),
          lambda: [lowest_and_highest([std_pct("base_batch_32_original_reset", "lenet5", "adam", schedule)
                                       for schedule in ORIGINAL_ORDER]),
                   lowest_and_highest([math.sqrt(2) * std_pct("base_batch_32_original_reset",
                                                              "lenet5", "adam", schedule)
                                       for schedule in ORIGINAL_ORDER]),
                   fmt(abs(reset_gap_share()[1]), 1)]),
    Quote(('base_batch_32.lenet5.sgd.ibs.diff', 'base_batch_32.lenet5.sgd.original_gap_over_ours'),
          lambda: [versus_dlr("base_batch_32", "lenet5", "sgd", "ibs"),
                   fmt(round(0.9 / abs(mean_difference("base_batch_32", "lenet5", "sgd", "ibs")), -1), 0)]),
    Quote(('base_batch_32.lenet5.sgd.two_run_sd',),
          lambda: [fmt(two_run_std("base_batch_32", "lenet5", "sgd"))]),
    Quote(('train_60000.lenet5.largest_spread_of_means', 'train_60000.lenet5.adam.ibs.diff', 'train_60000.lenet5.adam.hyb.diff', 'train_60000.lenet5.sgd.ibs.diff', 'train_60000.lenet5.sgd.hyb.diff'),
          lambda: [fmt(max(spread_of_means("train_60000", "lenet5", optimizer) for optimizer in ("sgd", "adam"))),
                   versus_dlr("train_60000", "lenet5", "adam", "ibs"),
                   versus_dlr("train_60000", "lenet5", "adam", "hyb"),
                   versus_dlr("train_60000", "lenet5", "sgd", "ibs"),
                   versus_dlr("train_60000", "lenet5", "sgd", "hyb")]),
    Quote(('base_batch_32.ibs.batches', 'base_batch_32.hyb.batches'),
          lambda: [", ".join(f"{batch:,}" for batch in dict.fromkeys(
                      seed_runs("base_batch_32", "mlp300", "sgd", schedule)[0]["batch_size"]))
                   for schedule in ("ibs", "hyb")]),
]


# ---------------------------------------------------------------------------
# What the runs do and do not separate: the numbers that bound the claims
# ---------------------------------------------------------------------------

def extra_updates_pct(name, schedule, reference, after_the_first_stage=False):
    """Each cell's mean updates of schedule over reference's, minus 1, in percent."""
    count = auto_updates_after_the_first_stage if after_the_first_stage else auto_updates
    return [100 * (mine / theirs - 1) for mine, theirs in zip(count(name, schedule), count(name, reference))]


def kappa_0_03_over_ibs_pct():
    """The percent more updates than ibs's 18,720 of the kappa-0.03 cells that take more than 1 % more.

    The report counts a cell within 1 % of ibs's updates as taking about as many.
    """
    return [100 * (updates / 18_720 - 1) for updates in auto_updates("ibs_auto_kappa_0_03", "ibs_auto")
            if updates > 1.01 * 18_720]


def population_ceiling(name):
    """1 / (1/M - 1/N): the most a population of M images' expected B_simple can be when N is the training set.

    E |G_M|^2 = |G_N|^2 + tr(Sigma) (1/M - 1/N), so the population's
    tr(Sigma) / |G_M|^2 stays below tr(Sigma) / (tr(Sigma) (1/M - 1/N)).
    """
    config = study(name)["config"]
    population = min(config.get("noise_population", 4096), config["train_size"])
    return 1 / (1 / population - 1 / config["train_size"])


def last_stage_single_values(name, schedule="dlr"):
    """Every seed's B_simple in every epoch of the last stage of schedule, NaN included."""
    per_stage = study(name)["config"]["epochs_per_stage"]
    return [value for key, run in study(name)["runs"].items() if key[2] == schedule
            for value in run["b_simple"][-per_stage:]]


@fact
def kappa_0_03_lenet5_lies_above_dlr():
    """At kappa 0.03 LeNet-5's 95 % interval with SGD and 90 % interval with momentum lie above zero."""
    return (interval(paired_differences("ibs_auto_kappa_0_03", "lenet5", "sgd", "ibs_auto"))[1] > 0
            and interval(paired_differences("ibs_auto_kappa_0_03", "lenet5", "momentum", "ibs_auto"), 0.9)[1] > 0)


QUOTES += [
    Quote(("ibs_auto.k1.ibs_auto_lr.extra_updates_after_stage_1_pct",),
          lambda: [lowest_and_highest(extra_updates_pct("ibs_auto", "ibs_auto_lr", "ibs_auto", True), 0)]),
    Quote(("kappa_0_03.cells_above_ibs_updates", "kappa_0_03.extra_updates_over_ibs_pct"),
          lambda: [len(kappa_0_03_over_ibs_pct()), lowest_and_highest(kappa_0_03_over_ibs_pct(), 0)]),
    Quote(("kappa_0_03.lenet5.sgd.ibs_auto.diff", "kappa_0_03.lenet5.momentum.ibs_auto.diff90"),
          lambda: [versus_dlr("ibs_auto_kappa_0_03", "lenet5", "sgd", "ibs_auto"),
                   difference_text(paired_differences("ibs_auto_kappa_0_03", "lenet5", "momentum", "ibs_auto"),
                                   confidence=0.9)]),
    Quote(("controls.ibs_last_4x.equivalent_count",),
          lambda: [sum(verdict(paired_differences("controls", arch, optimizer, "ibs_last_4x")) == "equivalent"
                       for arch in ARCHITECTURES for optimizer in OPTIMIZERS_OF_CONTROLS)]),
    Quote(("measured.population_ceiling", "measured.dlr.last_stage_single_values",
           "measured.dlr.last_stage_values_above_ceiling", "measured.dlr.last_stage_unresolved",
           "measured.dlr.largest_single_value"),
          lambda: [f"{population_ceiling('measured'):,.0f}", len(last_stage_single_values("measured")),
                   sum(value > population_ceiling("measured") for value in last_stage_single_values("measured")),
                   sum(math.isnan(value) for value in last_stage_single_values("measured")),
                   f"{np.nanmax([value for key, run in study('measured')['runs'].items() if key[2] == 'dlr' for value in run['b_simple']]):,.0f}"]),
]


# The README's findings, each a number of one of the studies above.
QUOTES += [
    Quote(("controls.mlp.not_equivalent_count",),
          lambda: [sum(verdict(paired_differences("controls", arch, optimizer, schedule)) == "not equivalent"
                       for arch in ("mlp300", "mlp500_150") for optimizer in OPTIMIZERS_OF_CONTROLS
                       for schedule in CONTROLS)]),
    Quote(("annealing.const.cost_range",), lambda: [annealing_const_costs(ANNEALING_CELLS)]),
    Quote(("momentum.ibs_hyb.equivalent_count",),
          lambda: [sum(verdict(paired_differences("momentum", arch, optimizer, schedule)) == "equivalent"
                       for arch, optimizer in MOMENTUM_CELLS for schedule in ("ibs", "hyb"))]),
    Quote(("ibs_lr.ibs_lr.updates", "ibs_lr.ibs_lr.update_ratio"),
          lambda: [f"{updates('ibs_lr', 'mlp300', 'sgd', 'ibs_lr'):,}",
                   round(update_ratio("ibs_lr", "mlp300", "sgd", "ibs_lr"))]),
    Quote(("momentum_20.ibs_mom.cost_range", "momentum_20.ibs_mom.undecided_count"),
          lambda: [lowest_and_highest([-mean_difference("momentum_20", *cell, "ibs_mom") for cell in MOMENTUM_CELLS]),
                   sum(verdict(paired_differences("momentum_20", *cell, "ibs_mom")) == "undecided"
                       for cell in MOMENTUM_CELLS)]),
    Quote(("large_batch.lenet5.ibs_lr.diff_mean",),
          lambda: [signed(mean_difference("large_batch", "lenet5", "momentum", "ibs_lr"))]),
    Quote(("kappa_0_01.updates",), lambda: [whole_range(auto_updates("ibs_auto_kappa_0_01", "ibs_auto"))]),
]


# The second endpoint's numbers (tests/trajectory_numbers.py; its facts register in the same FACTS).
QUOTES += TRAJECTORY_QUOTES
# The core studies on two CPU types (tests/replication_numbers.py).
QUOTES += REPLICATION_QUOTES


def numbers():
    """{key: a function giving the number's text}, from QUOTES; a key quoted by two groups must agree."""
    found = {}
    for index, quote in enumerate(QUOTES):
        for position, key in enumerate(quote.keys):
            found.setdefault(key, []).append((index, position))
    return {key: (lambda places=places: _agreed([str(QUOTES[i].values()[p]) for i, p in places]))
            for key, places in found.items()}


def _agreed(texts):
    assert len(set(texts)) == 1, f"two computations of one number disagree: {texts}"
    return texts[0]


NUMBERS = numbers()
