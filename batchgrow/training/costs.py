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
from batchgrow.schedules import ADAPTIVE_SCHEDULES, estimated_epoch_plans, updates_per_epoch

# Rough single-thread costs on this project's 2-core x86 machines: seconds per
# step at a tiny batch under (plain SGD, Adam), and seconds per example.
STEP_SECONDS = {"mlp300": (1.2e-4, 2.2e-4), "mlp500_150": (2.1e-4, 4.1e-4), "lenet5": (2.9e-4, 3.2e-4)}
EXAMPLE_SECONDS = {"mlp300": 4e-6, "mlp500_150": 8e-6, "lenet5": 4.6e-5}


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


def group_cost(group, settings, parameter_counts=None):
    """Estimated cost of training one group: of train_runs, times its seeds for a stacked group (counted as if
    trained seed by seed, which orders the work well enough and keeps one unit for the progress bar)."""
    return len(group.seeds) * sum(epoch_cost(group.arch, group.optimizer, plan, settings, parameter_counts)
                                  for plan in trained_epochs(group.optimizer, group.schedules, settings))
