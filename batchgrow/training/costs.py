"""The cost model: how long an epoch takes, roughly, so that the grid orders its work and shows the time left.

The model never changes a number in the results: it orders the groups
longest first and drives the progress bar's estimate. An epoch costs its
steps times a step's seconds, plus its training and test examples times an
example's seconds. A step's seconds are measured for the built-in networks
under plain SGD and under Adam; an optimizer's record places its step between
the two (Optimizer.step_cost). A network the tables lack (a user's own) is
estimated from its parameter count.
"""
from batchgrow.optimizers import optimizer_record
from batchgrow.training.runtime import onednn_turned_off
from batchgrow.schedules import ADAPTIVE_SCHEDULES, estimated_epoch_plans, updates_per_epoch

# Rough single-thread costs on this project's 2-core x86 machines: seconds per
# step at a tiny batch under (plain SGD, Adam), and seconds per example.
STEP_SECONDS = {"mlp300": (1.2e-4, 2.2e-4), "mlp500_150": (2.1e-4, 4.1e-4), "lenet5": (2.9e-4, 3.2e-4)}
EXAMPLE_SECONDS = {"mlp300": 4e-6, "mlp500_150": 8e-6, "lenet5": 4.6e-5}
# Seeds trained as one stacked model cost about this share of what they cost
# one by one: LeNet-5's 30 runs at 5 seeds took 174.3 s stacked against
# 287.7 s (0.61) on an Intel Xeon, and the pilot's stacked step took 0.36 to
# 0.66 of the separate steps' CPU from 5 seeds up (benchmarks/README.md).
STACKED_SEED_SHARE = 0.6


def estimated_costs(parameter_count):
    """((seconds per step under plain SGD, under Adam), seconds per example) of a network the tables lack.

    From its parameter count alone, on the line through the two MLPs' costs:
    rough for a convolutional network, whose arithmetic per parameter is
    larger. A GradientTape step, the path of such a network, costs what a
    written-out one does (benchmarks/README.md), so nothing is added for it.
    """
    return (3e-5 + 3.9e-10 * parameter_count, 3e-5 + 8.2e-10 * parameter_count), 1e-6 + 1.7e-11 * parameter_count


def unmeasured(archs):
    """The networks of archs that the cost tables lack, whose costs are estimated."""
    return [arch for arch in archs if arch not in EXAMPLE_SECONDS]


def epoch_cost(arch, optimizer_name, plan, settings, parameter_counts=None):
    """Estimated seconds of one epoch; parameter_counts gives those of networks the cost tables lack."""
    if arch in EXAMPLE_SECONDS:
        (sgd, adam), example_seconds = STEP_SECONDS[arch], EXAMPLE_SECONDS[arch]
    else:
        (sgd, adam), example_seconds = estimated_costs(parameter_counts[arch])
    step_seconds = sgd + optimizer_record(optimizer_name).step_cost * (adam - sgd)
    steps = updates_per_epoch(settings.train_size, plan.batch_size)
    # Training, then scoring the test set and, at the end of every stage, the training set (about a
    # third of a training example each).
    examples = settings.train_size + (settings.test_size + settings.train_size / settings.epochs_per_stage) / 3
    return steps * step_seconds + examples * example_seconds


def trained_epochs(optimizer_name, schedules, settings):
    """The plans of the epochs train_runs really trains: an epoch shared by schedules counts once.

    An adaptive schedule's epochs after its first stage are estimated
    (schedules.estimated_epoch_plans) and counted as its own, whatever the
    estimate says: decided during the run, they are shared only where a
    decision happens to equal another schedule's plan, and train_runs then
    takes the extra count back (on_replan).
    """
    prefixes = set()
    for schedule in schedules:
        plans = estimated_epoch_plans(schedule, optimizer_name, settings)
        for epoch in range(len(plans)):
            owner = schedule if schedule in ADAPTIVE_SCHEDULES and epoch >= settings.epochs_per_stage else None
            prefixes.add((owner,) + tuple(plans[:epoch + 1]))
    return [prefix[-1] for prefix in prefixes]


def stacked_seeds_cost(seeds):
    """What seeds trained at once, as one stacked model, cost in seeds trained one by one."""
    return float(seeds) if seeds == 1 else STACKED_SEED_SHARE * seeds


def group_cost(group, settings, parameter_counts=None, stacked=None):
    """Estimated cost of training one group: of train_runs, times its seeds, at their stacked share for a
    stacked group, unless oneDNN is off, when it trains seed by seed (stacked=False prices it so)."""
    stacked = group.stacked and not onednn_turned_off() if stacked is None else stacked
    seeds = stacked_seeds_cost(len(group.seeds)) if stacked else len(group.seeds)
    return seeds * sum(epoch_cost(group.arch, group.optimizer, plan, settings, parameter_counts)
                       for plan in trained_epochs(group.optimizer, group.schedules, settings))
