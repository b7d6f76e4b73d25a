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

from document_numbers import ARCHITECTURES, Quote, fact, headline_row, paired_differences, study, verdict, versus_dlr
from batchgrow import study as study_module

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


def stage_interval(values):
    """The 90 % Student-t interval of the mean of per-seed log ratios."""
    half = stats.t.ppf(0.95, len(values) - 1) * np.std(values, ddof=1) / math.sqrt(len(values))
    return np.mean(values) - half, np.mean(values) + half


def stage_verdict(values, margin):
    low, high = stage_interval(values)
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


def runs_of(name, arch, optimizer, schedule="dlr"):
    """Every seed's run of one cell of a study."""
    return [run for key, run in sorted(study(name)["runs"].items()) if key[:3] == (arch, optimizer, schedule)]


def geometric_mean(values):
    return math.exp(float(np.mean(np.log(values))))


def dlr_last_stage_fall():
    """dlr's own loss at the end of the last stage over its loss at the end of the one before, per network."""
    third, last = stage_end_epochs(CALIBRATION)[-2:]
    return [geometric_mean([run["full_train_loss"][last] / run["full_train_loss"][third]
                            for run in runs_of(CALIBRATION, arch, "sgd")]) for arch in ARCHITECTURES]


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


def last_ln_ratio(name, arch, optimizer, schedule):
    """The mean ln(L / L_dlr) at the end of the last stage."""
    return float(np.mean(log_ratios(name, arch, optimizer, schedule, len(stage_end_epochs(name)))))


def last_stage_distance(name, arch, optimizer, schedule):
    """|mean ln(L / L_dlr)| at the end of the last stage."""
    return abs(last_ln_ratio(name, arch, optimizer, schedule))


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


# ---------------------------------------------------------------------------
# Adam's own rule, part 2: the deciding comparisons at 20 seeds
# ---------------------------------------------------------------------------
RULE_20, RULE_20_BETAS = "adam_rule_20", "adam_rule_20_betas"
SEEDS_20 = "seeds_20"
HALF_LIVES = "seesaw, β half-lives"


def optimizers_in(name):
    return sorted({key[1] for key in study(name)["runs"]})


def deciding_comparisons(optimizer):
    """[(study, schedule, label)] of the 20-seed comparisons part 1 named for an optimizer."""
    comparisons = [(RULE_20, "ibs", "ibs"), (RULE_20, "seesaw", "seesaw")]
    if optimizer in optimizers_in(RULE_20_BETAS):
        comparisons.append((RULE_20_BETAS, "seesaw", HALF_LIVES))
    return comparisons


def loss_ratio_text(name, arch, optimizer, schedule):
    """'×1.000 [1.000, 1.000] equivalent': the last stage's ratio to dlr's loss (90 %), then the verdict
    over every compared stage."""
    low, high = stage_interval(log_ratios(name, arch, optimizer, schedule, len(stage_end_epochs(name))))
    return (f"×{math.exp(last_ln_ratio(name, arch, optimizer, schedule)):.3f} [{math.exp(low):.3f}, "
            f"{math.exp(high):.3f}] {trajectory_verdict(name, arch, optimizer, schedule)}")


def headline_training_row(arch, optimizer):
    """README's headline row: the 20-seed study's accuracy verdicts for ibs and hyb, then its training-loss ones."""
    return headline_row(SEEDS_20, arch, optimizer) + "".join(
        f" {loss_ratio_text(SEEDS_20, arch, optimizer, schedule)} |" for schedule in ("ibs", "hyb"))


def rule_20_verdicts(optimizer):
    """{(arch, label): (training verdict, accuracy verdict)} of an optimizer's deciding comparisons."""
    return {(arch, label): (trajectory_verdict(name, arch, optimizer, schedule),
                            verdict(paired_differences(name, arch, optimizer, schedule)))
            for arch in ARCHITECTURES for name, schedule, label in deciding_comparisons(optimizer)}


@fact
def adam_rule_20_sgd_separates_the_rules():
    """At 20 seeds SGD's ibs is equivalent on both endpoints on every network; seesaw not equivalent in training."""
    return all(trajectory_verdict(RULE_20, arch, "sgd", "ibs") == "equivalent"
               and verdict(paired_differences(RULE_20, arch, "sgd", "ibs")) == "equivalent"
               and trajectory_verdict(RULE_20, arch, "sgd", "seesaw") == "not equivalent"
               for arch in ARCHITECTURES)


@fact
def adam_rule_20_no_adaptive_schedule_trains_like_dlr():
    """Every deciding comparison of Adam and RMSprop is not equivalent in training at 20 seeds."""
    return all(found[0] == "not equivalent" for optimizer in ADAPTIVE
               for found in rule_20_verdicts(optimizer).values())


@fact
def adam_rule_20_adam_ibs_equivalent_on_accuracy_everywhere():
    return all(verdict(paired_differences(RULE_20, arch, "adam", "ibs")) == "equivalent" for arch in ARCHITECTURES)


@fact
def adam_rule_20_adam_seesaw_not_equivalent_on_accuracy_on_mlp500_150_alone():
    return [arch for arch in ARCHITECTURES
            if verdict(paired_differences(RULE_20, arch, "adam", "seesaw")) != "equivalent"] == ["mlp500_150"] \
        and verdict(paired_differences(RULE_20, "mlp500_150", "adam", "seesaw")) == "not equivalent"


@fact
def adam_rule_20_rmsprop_every_schedule_ends_below_dlr():
    return max(last_stage_ratios(RULE_20, ("rmsprop",), ("ibs", "seesaw"))) < 1


QUOTES += [
    Quote(("adam_rule_20.runs",), lambda: [len(study(RULE_20)["runs"])]),
    Quote(("adam_rule_20.sgd_seesaw_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE_20, ("sgd",), ("seesaw",)))]),
    Quote(("adam_rule_20.adam_ibs_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE_20, ("adam",), ("ibs",)))]),
    Quote(("adam_rule_20.adam_seesaw_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE_20, ("adam",), ("seesaw",)))]),
    Quote(("adam_rule_20.rmsprop_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE_20, ("rmsprop",), ("ibs", "seesaw")))]),
    Quote(("adam_rule_20.mlp500_150.adam.seesaw.diff", "adam_rule_20.mlp300.rmsprop.ibs.diff"),
          lambda: [versus_dlr(RULE_20, "mlp500_150", "adam", "seesaw"),
                   versus_dlr(RULE_20, "mlp300", "rmsprop", "ibs")]),
]


# ---------------------------------------------------------------------------
# Adam's own rule at 10-epoch stages: forecasts 4 to 7, declared before the runs
# ---------------------------------------------------------------------------
LONG, LONG_BETAS = "adam_rule_long", "adam_rule_long_betas"
LONG_ARCH = "mlp300"
SETTLING_EPOCHS = 3
SETTLED_ABOVE = 0.95


def dlr_settling(name, arch, optimizer, stage):
    """dlr's training loss at a stage's end over its loss SETTLING_EPOCHS epochs before, geometric mean over seeds.

    The model's training loss (full_train_loss) is recorded at stage ends only, so this reads the one
    training loss recorded every epoch: the mean of the epoch's batch losses (train_loss).
    """
    if study(name)["config"]["epochs_per_stage"] <= SETTLING_EPOCHS:
        raise ValueError(f"{name}'s stages are not longer than {SETTLING_EPOCHS} epochs")
    end = stage_end_epochs(name)[stage - 1]
    return geometric_mean([run["train_loss"][end] / run["train_loss"][end - SETTLING_EPOCHS]
                           for run in runs_of(name, arch, optimizer)])


def loss_at_stage_end(name, arch, optimizer, stage, schedule="dlr"):
    """A schedule's model training loss at a stage's end, geometric mean over seeds."""
    return geometric_mean([run["full_train_loss"][stage_end_epochs(name)[stage - 1]]
                           for run in runs_of(name, arch, optimizer, schedule)])


def loss_of_a_certain_prediction():
    """The smallest non-zero loss float32 gives one image: ln(1 + eps), eps the gap above 1.

    An image's cross-entropy from logits is ln(sum_j exp(z_j - z_right)), a sum of 1 and the other
    classes' terms; in float32 that sum is 1 (loss exactly 0) or at least 1 + eps. So every image's
    loss is 0 or at least this step, and rounding the sum moves it by at most half the step.
    """
    one, eps = np.float32(1), np.finfo(np.float32).eps
    return float(np.log(one + eps, dtype=np.float32))


def adam_last_stage_distances(long):
    """Adam's four runs on the long study's network (ibs and seesaw, β held and half-lives), by distance."""
    held, betas = (LONG, LONG_BETAS) if long else (RULE, RULE_BETAS)
    return {(name, schedule): last_stage_distance(name, LONG_ARCH, "adam", schedule)
            for name in (held, betas) for schedule in ("ibs", "seesaw")}


@fact
def adam_rule_long_forecast_4_held():
    """SGD at 10-epoch stages: ibs equivalent in training, seesaw not."""
    return (trajectory_verdict(LONG, LONG_ARCH, "sgd", "ibs") == "equivalent"
            and trajectory_verdict(LONG, LONG_ARCH, "sgd", "seesaw") == "not equivalent")


def forecast_5_held():
    return (all(trajectory_verdict(LONG, LONG_ARCH, "adam", schedule) == "not equivalent"
                for schedule in ("ibs", "seesaw"))
            and last_stage_distance(LONG, LONG_ARCH, "adam", "seesaw")
            < last_stage_distance(RULE, LONG_ARCH, "adam", "seesaw"))


def forecast_6_held():
    distances = adam_last_stage_distances(long=True)
    return (min(distances, key=distances.get) == (LONG_BETAS, "seesaw")
            and distances[(LONG_BETAS, "seesaw")] < last_stage_distance(RULE_BETAS, LONG_ARCH, "adam", "seesaw")
            and trajectory_verdict(LONG_BETAS, LONG_ARCH, "adam", "seesaw") == "not equivalent")


def forecast_7_held():
    return (dlr_settling(LONG, LONG_ARCH, "adam", 4) > SETTLED_ABOVE
            and dlr_settling(LONG, LONG_ARCH, "adam", 1) <= SETTLED_ABOVE)


def same_order_at_both_stage_lengths():
    """Adam's four runs rank the same by last-stage distance from dlr at 3- and at 10-epoch stages."""
    short, long = adam_last_stage_distances(long=False), adam_last_stage_distances(long=True)
    as_long = {(LONG if name == RULE else LONG_BETAS, schedule): value for (name, schedule), value in short.items()}
    return sorted(as_long, key=as_long.get) == sorted(long, key=long.get)


def rule_changes_with_stage_length():
    """The declared criterion: seesaw with half-lives equivalent at 10-epoch stages, or the order changed."""
    return (trajectory_verdict(LONG_BETAS, LONG_ARCH, "adam", "seesaw") == "equivalent"
            or not same_order_at_both_stage_lengths())


@fact
def adam_rule_long_forecast_5_failed():
    """Adam with β held: ibs and seesaw not equivalent, as forecast, but seesaw ends further from dlr than at 3 epochs."""
    return (not forecast_5_held()
            and all(trajectory_verdict(LONG, LONG_ARCH, "adam", schedule) == "not equivalent"
                    for schedule in ("ibs", "seesaw"))
            and last_stage_distance(LONG, LONG_ARCH, "adam", "seesaw")
            > last_stage_distance(RULE, LONG_ARCH, "adam", "seesaw"))


@fact
def adam_rule_long_forecast_7_failed():
    """Adam's dlr settles in no stage (stage 4 just misses), SGD's in stages 3 and 4."""
    return (not forecast_7_held()
            and all(dlr_settling(LONG, LONG_ARCH, "adam", stage) <= SETTLED_ABOVE for stage in (1, 2, 3, 4))
            and [stage for stage in (1, 2, 3, 4) if dlr_settling(LONG, LONG_ARCH, "sgd", stage) > SETTLED_ABOVE] == [3, 4])


@fact
def adam_rule_long_adam_dlr_below_a_certain_prediction_from_stage_3():
    """Adam's dlr ends stages 3 and 4 with a mean loss below what one certain, right prediction costs."""
    return all(loss_at_stage_end(LONG, LONG_ARCH, "adam", stage) < loss_of_a_certain_prediction()
               for stage in (3, 4)) and loss_at_stage_end(LONG, LONG_ARCH, "adam", 2) > loss_of_a_certain_prediction()


def _last_ratio(name, optimizer, schedule):
    return f"{math.exp(last_ln_ratio(name, LONG_ARCH, optimizer, schedule)):.3f}"


def _settling(optimizer, stage):
    return f"{dlr_settling(LONG, LONG_ARCH, optimizer, stage):.3f}"


QUOTES += [
    Quote(("adam_rule_long.runs", "adam_rule_long_betas.runs"),
          lambda: [len(study(LONG)["runs"]), len(study(LONG_BETAS)["runs"])]),
    Quote(("adam_rule_long.sgd_seesaw_last_stage", "adam_rule_long.adam_ibs_last_stage",
           "adam_rule_long.adam_seesaw_last_stage", "adam_rule.mlp300.adam_ibs_last_stage",
           "adam_rule.mlp300.adam_seesaw_last_stage"),
          lambda: [_last_ratio(LONG, "sgd", "seesaw"), _last_ratio(LONG, "adam", "ibs"),
                   _last_ratio(LONG, "adam", "seesaw"), _last_ratio(RULE, "adam", "ibs"),
                   _last_ratio(RULE, "adam", "seesaw")]),
    Quote(("adam_rule_long.adam_dlr_settling_stage_1", "adam_rule_long.adam_dlr_settling_stage_2",
           "adam_rule_long.adam_dlr_settling_stage_4", "adam_rule_long.sgd_dlr_settling_stage_3",
           "adam_rule_long.sgd_dlr_settling_stage_4"),
          lambda: [_settling("adam", 1), _settling("adam", 2), _settling("adam", 4), _settling("sgd", 3),
                   _settling("sgd", 4)]),
    Quote(("adam_rule_long.adam_dlr_last_stage_loss", "adam_rule_long.certain_prediction_loss",
           "adam_rule_long.adam_ibs_last_stage_loss", "adam_rule_long.adam_seesaw_last_stage_loss"),
          lambda: [f"{loss_at_stage_end(LONG, LONG_ARCH, 'adam', 4):.1e}", f"{loss_of_a_certain_prediction():.1e}",
                   f"{loss_at_stage_end(LONG, LONG_ARCH, 'adam', 4, 'ibs'):.1e}",
                   f"{loss_at_stage_end(LONG, LONG_ARCH, 'adam', 4, 'seesaw'):.1e}"]),
]


@fact
def adam_rule_long_forecast_6_failed():
    """Seesaw with half-lives is not the nearest of Adam's four runs at 10-epoch stages: ibs with half-lives is."""
    distances = adam_last_stage_distances(long=True)
    return not forecast_6_held() and min(distances, key=distances.get) == (LONG_BETAS, "ibs")


def last_stage_distance_interval(name, arch, optimizer, schedule):
    """The 90 % interval of |ln(L / L_dlr)| at the last stage's end, for an interval that does not straddle 0."""
    low, high = stage_interval(log_ratios(name, arch, optimizer, schedule, len(stage_end_epochs(name))))
    assert low > 0 or high < 0, f"{name} {schedule}'s last-stage interval straddles dlr's loss"
    return tuple(sorted((abs(low), abs(high))))


@fact
def adam_rule_long_order_changed_and_resolved():
    """By the declared criterion the rule changes (the order differs), and the float64 loss resolves the lead
    of ibs with half-lives over seesaw with half-lives: their last-stage distance intervals do not overlap."""
    return (rule_changes_with_stage_length() and not same_order_at_both_stage_lengths()
            and last_stage_distance_interval(LONG_BETAS, LONG_ARCH, "adam", "ibs")[1]
            < last_stage_distance_interval(LONG_BETAS, LONG_ARCH, "adam", "seesaw")[0])


QUOTES += [
    Quote(("adam_rule_long_betas.adam_ibs_last_stage", "adam_rule_long_betas.adam_seesaw_last_stage",
           "adam_rule_betas.mlp300.adam_ibs_last_stage", "adam_rule_betas.mlp300.adam_seesaw_last_stage"),
          lambda: [_last_ratio(LONG_BETAS, "adam", "ibs"), _last_ratio(LONG_BETAS, "adam", "seesaw"),
                   _last_ratio(RULE_BETAS, "adam", "ibs"), _last_ratio(RULE_BETAS, "adam", "seesaw")]),
]


def last_test_ratio(name, arch, optimizer, schedule):
    """The geometric mean over seeds of the test loss's ratio to dlr's after the last epoch."""
    return geometric_mean([run["test_loss"][-1] / dlr["test_loss"][-1] for run, dlr in seed_pairs(name, arch, optimizer, schedule)])


@fact
def adam_rule_long_held_ends_below_dlr_on_test_loss():
    """At 10-epoch stages with β held, Adam's ibs and seesaw end with a lower test loss than dlr's."""
    return all(last_test_ratio(LONG, LONG_ARCH, "adam", schedule) < 1 for schedule in ("ibs", "seesaw"))


@fact
def adam_rule_20_adam_seesaw_below_dlr_on_test_loss():
    """At 20 seeds Adam's seesaw ends with a lower test loss and a higher training loss than dlr's on every network."""
    return all(last_test_ratio(RULE_20, arch, "adam", "seesaw") < 1 < math.exp(last_ln_ratio(RULE_20, arch, "adam", "seesaw"))
               for arch in ARCHITECTURES)


@fact
def adam_rule_20_rmsprop_neither_schedule_equivalent_on_accuracy_everywhere():
    return all(any(verdict(paired_differences(RULE_20, arch, "rmsprop", schedule)) == "not equivalent"
                   for arch in ARCHITECTURES) for schedule in ("ibs", "seesaw"))


QUOTES += [
    Quote(("adam_rule_betas.rmsprop_seesaw_highest_upper",),
          lambda: [f"{math.exp(max(stage_interval(log_ratios(RULE_BETAS, arch, 'rmsprop', 'seesaw', 4))[1] for arch in ARCHITECTURES)):.3f}"]),
]


@fact
def adam_rule_20_betas_seesaw_nearest_of_the_deciding_comparisons():
    """At 20 seeds Adam's seesaw with half-lives ends nearest dlr of the three deciding comparisons on every network."""
    return all(min(deciding_comparisons("adam"), key=lambda item: last_stage_distance(item[0], arch, "adam", item[1]))
               == (RULE_20_BETAS, "seesaw", HALF_LIVES) for arch in ARCHITECTURES)


@fact
def adam_rule_20_betas_seesaw_equivalent_on_accuracy_everywhere():
    return all(verdict(paired_differences(RULE_20_BETAS, arch, "adam", "seesaw")) == "equivalent"
               for arch in ARCHITECTURES)


QUOTES += [
    Quote(("adam_rule_20_betas.runs",), lambda: [len(study(RULE_20_BETAS)["runs"])]),
    Quote(("adam_rule_20_betas.adam_seesaw_last_stage_range",),
          lambda: [_ratio_range(last_stage_ratios(RULE_20_BETAS, ("adam",), ("seesaw",)))]),
]


QUOTES += [
    Quote(("adam_rule_long_betas.adam_seesaw_last_stage_loss",),
          lambda: [f"{loss_at_stage_end(LONG_BETAS, LONG_ARCH, 'adam', 4, 'seesaw'):.1e}"]),
]


# ---------------------------------------------------------------------------
# Adam's dlr with and without --beta-scaling samples: the same schedule, another bias-correction arithmetic
# ---------------------------------------------------------------------------
def dlr_shift_under_beta_scaling(held, betas, arch):
    """Per seed, ln(L_dlr with half-lives / L_dlr with β held) of Adam's model training loss at the last stage."""
    end = stage_end_epochs(held)[-1]
    runs = [{key[3]: run for key, run in study(name)["runs"].items() if key[:3] == (arch, "adam", "dlr")}
            for name in (held, betas)]
    return np.array([math.log(runs[1][seed]["full_train_loss"][end] / runs[0][seed]["full_train_loss"][end])
                     for seed in sorted(set(runs[0]) & set(runs[1]))])


def _shift_text(held, betas, arch):
    values = dlr_shift_under_beta_scaling(held, betas, arch)
    low, high = stage_interval(values)
    return f"{math.exp(float(np.mean(values))):.3f} [{math.exp(low):.3f}, {math.exp(high):.3f}]"


QUOTES += [
    Quote(("adam_rule_20_betas.dlr_shift_range", "adam_rule_20_betas.dlr_shift_sd_range",
           "adam_rule_betas.lenet5.dlr_shift"),
          lambda: [_ratio_range([math.exp(float(np.mean(dlr_shift_under_beta_scaling(RULE_20, RULE_20_BETAS, arch))))
                                 for arch in ARCHITECTURES]),
                   _ratio_range([float(np.std(dlr_shift_under_beta_scaling(RULE_20, RULE_20_BETAS, arch), ddof=1))
                                 for arch in ARCHITECTURES]),
                   _shift_text(RULE, RULE_BETAS, "lenet5")]),
]


@fact
def adam_dlr_not_shown_equivalent_to_itself_under_beta_scaling():
    """The largest paired SD of ln(L_dlr half-lives / L_dlr held) at 20 seeds gives a 90 % half-width wider than δ."""
    spread = max(float(np.std(dlr_shift_under_beta_scaling(RULE_20, RULE_20_BETAS, arch), ddof=1))
                 for arch in ARCHITECTURES)
    seeds = len(dlr_shift_under_beta_scaling(RULE_20, RULE_20_BETAS, "mlp500_150"))
    return stats.t.ppf(0.95, seeds - 1) * spread / math.sqrt(seeds) > calibrated_margin()[1]
