"""Synthetic results pickles shaped like main.py's output, for the tests of plots.py and the modules behind it.

Every run follows its schedule's plan (schedules.epoch_plans) on a training
set of TRAIN_SIZE images, and its test accuracy climbs to a final accuracy
the test chooses, so that every difference and verdict can be worked out by
hand. The results go through the load-time migration (study.migrate_results),
as a pickle read from disk does.
"""
import math
import pickle

from batchgrow import optimizers
from batchgrow import schedules
from batchgrow import study


# The training set of every synthetic study, N in the noise scale.
TRAIN_SIZE = 20000

# Each optimizer's base learning rate, from its record.
BASE_LEARNING_RATES = {code: optimizers.optimizer_record(code).base_learning_rate(study.Settings())
                       for code in optimizers.ALL_OPTIMIZERS}

# The paper's schedules: dlr and the fixed schedules matched to its noise scale. The
# controls, the floor, the half-life rules and the adaptive schedules have tests of their own.
PAPER_SCHEDULES = tuple(name for name in schedules.ALL_SCHEDULES
                        if name not in schedules.CONTROL_SCHEDULES + schedules.ADAPTIVE_SCHEDULES
                        and name != schedules.FLOOR_SCHEDULE and not schedules.schedule_record(name).half_lives)

# Two machines that trained runs, as provenance names them.
MACHINE_A = "AMD EPYC 7B13, 2 cores, Linux 6.1"
MACHINE_B = "Intel Xeon 8375C, 4 cores, Linux 6.8"


def make_config(archs=study.ARCHITECTURES, optimizers=optimizers.OPTIMIZERS, schedules=schedules.SCHEDULES,
                seeds=(0, 1)):
    """A config with the study's settings and selection but no momentum settings or training machines.

    The load-time migration fills in what it lacks from the settings'
    defaults, as it does for a pickle written before those were recorded.
    """
    return {
        "train_size": TRAIN_SIZE, "test_size": 10000, "epochs_per_stage": 3, "num_stages": 4,
        "stage_factor": 5, "base_batch_size": 4, "learning_rates": dict(BASE_LEARNING_RATES),
        "original_optimizer_reset": False, "archs": list(archs),
        "optimizers": list(optimizers), "schedules": list(schedules), "seeds": list(seeds),
        "command": "python main.py", "versions": {"python": "3.11"}, "machine": "test machine",
    }


def make_run(optimizer, schedule, final_accuracy, epochs_per_stage=3, stages=4,
             with_momentum=False):
    """One run whose schedule lists are its schedule's plan and whose accuracy ends at final_accuracy.

    with_momentum adds the per-epoch "momentum" list that main.py records;
    without it, the run is one the migration completes from the settings.
    """
    run = {metric: [] for metric in study.RUN_METRICS}
    momenta = []
    updates = seconds = 0.0
    epochs = epochs_per_stage * stages
    settings = study.Settings(train_size=TRAIN_SIZE, epochs_per_stage=epochs_per_stage, num_stages=stages)
    for epoch, plan in enumerate(schedules.epoch_plans(schedule, optimizer, settings)):
        batch, rate, momentum = plan.batch_size, plan.learning_rate, plan.momentum
        updates += math.ceil(TRAIN_SIZE / batch)
        seconds += 0.001 * math.ceil(TRAIN_SIZE / batch) + 0.5
        # Accuracy climbs towards final_accuracy and reaches it at the last epoch.
        accuracy = final_accuracy - 0.04 * 0.5 ** epoch + 0.04 * 0.5 ** (epochs - 1)
        run["test_accuracy"].append(accuracy)
        run["test_loss"].append(1.0 - accuracy)
        run["train_loss"].append(0.5 * 0.6 ** epoch)
        run["learning_rate"].append(rate)
        run["batch_size"].append(batch)
        run["updates"].append(int(updates))
        run["seconds"].append(seconds)
        momenta.append(momentum)
    if with_momentum:
        run["momentum"] = momenta
    else:
        # A run without its momentum list, as files written before it was recorded are: the migration fills it in.
        del run["momentum"]
    return run


def make_results(final_accuracies, config, missing=(), with_momentum=False):
    """Results dict from {(arch, optimizer, schedule, seed): final accuracy}, as plots.py reads it.

    Every run gets a provenance record naming the config's machine; the dict
    goes through the load-time migration, as a pickle read from disk does.
    """
    runs = {key: make_run(key[1], key[2], accuracy, with_momentum=with_momentum)
            for key, accuracy in final_accuracies.items()}
    provenance = make_provenance(runs, lambda key: config.get("machine"))
    return study.migrate_results({"config": config, "runs": runs, "accuracy": {},
                                  "missing": list(missing), "provenance": provenance})


def make_complete_config(archs=study.ARCHITECTURES, optimizers=optimizers.ALL_OPTIMIZERS, schedules=PAPER_SCHEDULES,
                         seeds=(0, 1), machines=("machine A",)):
    """A config with every key main.py writes: the training machines, the momentum settings and the versions."""
    config = make_config(archs, optimizers, schedules, seeds)
    config.update(momentum_coefficient=0.9, adam_beta_1=0.9, machines=list(machines),
                  machine="; ".join(machines),
                  versions={"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1",
                            "numpy": "2.4.6"},
                  learning_rates={name: BASE_LEARNING_RATES[name] for name in optimizers})
    return config


def paper_grid_accuracies(archs=study.ARCHITECTURES, optimizers=optimizers.ALL_OPTIMIZERS, seeds=(0, 1)):
    """Final accuracies of every run of the paper's schedules (ibs_mom with momentum optimizers only)."""
    finals = {}
    for arch in archs:
        for optimizer in optimizers:
            for index, schedule in enumerate(PAPER_SCHEDULES):
                if not schedules.schedule_runs_with(schedule, optimizer):
                    continue
                for seed in seeds:
                    finals[(arch, optimizer, schedule, seed)] = (
                        0.97 + 0.0004 * index + 0.001 * seed - 0.0005 * index * (seed % 2))
    return finals


def make_provenance(runs, machine_of_key):
    """A provenance dict as main.py writes it, with the machine machine_of_key(key) gives."""
    provenance = {}
    for key in runs:
        machine = machine_of_key(key)
        provenance[key] = None if machine is None else {
            "machine": machine,
            "versions": {"python": "3.11.7", "tensorflow": "2.21.0", "keras": "3.15.1",
                         "numpy": "2.4.6"},
            "command": "python main.py", "date": "2026-11-29T03:00:00+00:00",
            "wall_seconds": 10.0}
    return provenance


def write_pickle(path, results):
    """results pickled to path, as main.py writes them; the path."""
    path.write_bytes(pickle.dumps(results))
    return path


def full_grid_accuracies(seeds=(0, 1)):
    """Final accuracies of every run of the default grid: every network, optimizers.OPTIMIZERS, schedules.SCHEDULES."""
    return {(arch, optimizer, schedule, seed): 0.97 + 0.002 * index + 0.001 * seed
            for arch in study.ARCHITECTURES for optimizer in optimizers.OPTIMIZERS
            for index, schedule in enumerate(schedules.SCHEDULES) for seed in seeds}


def hand_computed_comparison_pickles(folder):
    """Write results and baseline pickles for lenet5 sgd, seeds 0 to 2; return their paths.

    dlr differs by 0.30, 0.15 and 0.45 pp per seed; ibs is equal in both pickles.
    """
    results_finals = {("lenet5", "sgd", "dlr", 0): 0.9800, ("lenet5", "sgd", "dlr", 1): 0.9810,
                      ("lenet5", "sgd", "dlr", 2): 0.9790}
    baseline_finals = {("lenet5", "sgd", "dlr", 0): 0.9770, ("lenet5", "sgd", "dlr", 1): 0.9795,
                       ("lenet5", "sgd", "dlr", 2): 0.9745}
    for seed in (0, 1, 2):
        results_finals[("lenet5", "sgd", "ibs", seed)] = 0.9820 + 0.001 * seed
        baseline_finals[("lenet5", "sgd", "ibs", seed)] = 0.9820 + 0.001 * seed
    selection = dict(archs=["lenet5"], optimizers=["sgd"], schedules=["dlr", "ibs"],
                     seeds=[0, 1, 2])
    results_config = make_config(**selection)
    results_config.update(command="python main.py --original-optimizer-reset",
                          original_optimizer_reset=True, stage_factor=4,
                          machine="another machine")
    results_path = write_pickle(folder / "results.pickle",
                                make_results(results_finals, results_config))
    baseline_path = write_pickle(folder / "baseline.pickle",
                                 make_results(baseline_finals, make_config(**selection)))
    return results_path, baseline_path


def with_measured_noise(results, unresolved=None, leave_out=()):
    """results with the noise metrics main.py --measure-noise records in every run (but the cells in
    leave_out): tr(Sigma) and |G|^2 shrinking per epoch, B_simple their ratio; the run unresolved gets
    a |G|^2 estimate below 0 (B_simple NaN) at its last epoch."""
    results["config"].update(measure_noise=True, noise_population=4096, noise_small_batch=32,
                             noise_big_batch=1024, noise_draws=2)
    for key, run in results["runs"].items():
        if key[:2] in leave_out:
            continue
        epochs = len(run["test_accuracy"])
        trace = [50.0 * 0.9 ** epoch * (1 + 0.1 * key[3]) for epoch in range(epochs)]
        norm = [0.5 * 0.6 ** epoch for epoch in range(epochs)]
        if key == unresolved:
            norm[-1] = -0.01
        run.update(gradient_variance=trace, gradient_norm_sq=norm,
                   b_simple=[t / n if n > 0 else float("nan") for t, n in zip(trace, norm)])
        # An optimizer that preconditions its steps (Adam, RMSprop) has the preconditioned metrics too.
        if optimizers.optimizer_record(key[1]).preconditioned:
            run.update(b_simple_preconditioned=list(run["b_simple"]), gradient_norm_sq_preconditioned=norm,
                       gradient_variance_preconditioned=trace)
    return results


def breakdown_folder(root):
    """A folder of studies on lenet5 with SGD: the default schedules (2 seeds) at its root, the same settings
    again with 3 seeds, an exact-noise-scale study with ibs_lr, one with a control schedule, and one with the
    reset."""
    def study_at(folder, finals, config):
        folder.mkdir(parents=True, exist_ok=True)
        write_pickle(folder / "results.pickle", make_results(finals, config))

    def finals(schedules, seeds, offsets):
        return {("lenet5", "sgd", schedule, seed): 0.98 + offsets.get(schedule, 0.0) + 0.001 * seed
                + (0.0002 * seed if schedule != "dlr" else 0.0)
                for schedule in schedules for seed in seeds}

    grid = dict(archs=["lenet5"], optimizers=["sgd"])
    study_at(root, finals(schedules.SCHEDULES, (0, 1), {}), make_config(seeds=[0, 1], **grid))
    study_at(root / "more_seeds", finals(schedules.SCHEDULES, (0, 1, 2), {"ibs": -0.001}),
             make_config(seeds=[0, 1, 2], **grid))
    exact = make_config(schedules=["dlr", "ibs_lr"], seeds=[0, 1], **grid)
    exact["noise_scale"] = "exact"
    study_at(root / "nested" / "exact", finals(("dlr", "ibs_lr"), (0, 1), {"ibs_lr": -0.003}), exact)
    study_at(root / "control", finals(("dlr", "const"), (0, 1), {"const": -0.01}),
             make_config(schedules=["dlr", "const"], seeds=[0, 1], **grid))
    reset = make_config(schedules=["dlr", "ibs"], seeds=[0, 1], **grid)
    reset["original_optimizer_reset"] = True
    study_at(root / "reset", finals(("dlr", "ibs"), (0, 1), {"ibs": -0.005}), reset)
    return root
