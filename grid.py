"""The grid of runs: which runs, in which worker processes, and the study they assemble into.

A study is a Selection (networks x optimizers x schedules x seeds) under one
Settings. run_study finds what OUT/runs/ lacks, plans it as groups (the
schedules of one network, optimizer and seed, trained together because they
share their first epochs), trains the groups longest first in spawned worker
processes, and assembles every finished run into OUT/results.pickle. The cost
model below only orders the work and drives the progress bar's estimate. A
user's --networks file (NetworkFile) is imported again in every worker, and
its path and sha256 go into the provenance of every run trained there.
"""
import dataclasses
import datetime
import gc
import multiprocessing
import os
import queue
import typing

import numpy as np

import provenance as provenance_records
from runfiles import (StudyError, claim, claim_path, load_finished_runs, prepare_out_dir, run_path,
                      save_atomically)
from study import (ARCHITECTURES, MOMENTUM_OPTIMIZERS, OPTIMIZERS, SCHEDULES,
                   check_schedule_fits_optimizer, epoch_plans, settings_record, updates_per_epoch)


# ----------------------------------------------------------------------------
# Which runs
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Selection:
    """Which runs to do. Not a setting: results for any selection can mix."""
    archs: tuple = ARCHITECTURES
    optimizers: tuple = OPTIMIZERS
    schedules: tuple = SCHEDULES
    seeds: tuple = (0, 1, 2, 3, 4)

    def run_keys(self):
        return [(arch, optimizer, schedule, seed) for arch in self.archs for optimizer in self.optimizers
                for schedule in self.schedules for seed in self.seeds]

    def check(self):
        """Raises ValueError for a schedule that an asked-for optimizer cannot run."""
        for optimizer in self.optimizers:
            for schedule in self.schedules:
                check_schedule_fits_optimizer(schedule, optimizer)


class NetworkFile(typing.NamedTuple):
    """A user's --networks file, as main.py checked it: path, sha256 and each network's parameter count."""
    path: str
    sha256: str
    parameter_counts: dict


class Group(typing.NamedTuple):
    """The schedules of one (network, optimizer, seed) still to train: one worker task."""
    arch: str
    optimizer: str
    seed: int
    schedules: tuple


def parse_shard(text):
    """'K/N' -> (K, N) with 1 <= K <= N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N, for example 2/3; got {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard K/N needs 1 <= K <= N; got {text!r}")
    return index, count


def plan_groups(selection, finished, shard=None):
    """The unfinished work as Groups.

    A shard K/N takes every N-th (arch, optimizer, seed) of the whole selection,
    counted before finished runs are removed, so that the slices stay the same
    however far each shard has got.
    """
    groups = []
    cells = [(arch, optimizer, seed) for arch in selection.archs for optimizer in selection.optimizers
             for seed in selection.seeds]
    for index, (arch, optimizer, seed) in enumerate(cells):
        if shard and index % shard[1] != shard[0] - 1:
            continue
        todo = tuple(s for s in selection.schedules if (arch, optimizer, s, seed) not in finished)
        if todo:
            groups.append(Group(arch, optimizer, seed, todo))
    return groups


# ----------------------------------------------------------------------------
# The cost model: orders the work, longest first, and drives the progress bar
# ----------------------------------------------------------------------------
# Rough single-thread costs on this project's 2-core x86 machines (seconds per
# step at a tiny batch, per training example, per test example).
STEP_SECONDS = {("mlp300", "sgd"): 1.2e-4, ("mlp300", "adam"): 2.2e-4, ("mlp500_150", "sgd"): 2.1e-4,
                ("mlp500_150", "adam"): 4.1e-4, ("lenet5", "sgd"): 2.9e-4, ("lenet5", "adam"): 3.2e-4}
# Momentum adds one velocity update per variable: between SGD and Adam.
STEP_SECONDS.update({(arch, name): (STEP_SECONDS[arch, "sgd"] + STEP_SECONDS[arch, "adam"]) / 2
                     for arch in ARCHITECTURES for name in MOMENTUM_OPTIMIZERS})
EXAMPLE_SECONDS = {"mlp300": 4e-6, "mlp500_150": 8e-6, "lenet5": 4.6e-5}


def estimated_costs(parameter_count):
    """({optimizer: seconds per step}, seconds per example) of a network the tables above lack.

    From its parameter count alone, on the line through the two MLPs' costs:
    rough for a convolutional network, whose arithmetic per parameter is
    larger. A GradientTape step, the path of such a network, costs what a
    written-out one does (benchmarks/README.md), so nothing is added for it.
    """
    sgd = 3e-5 + 3.9e-10 * parameter_count
    adam = 3e-5 + 8.2e-10 * parameter_count
    steps = {"sgd": sgd, "adam": adam, **{name: (sgd + adam) / 2 for name in MOMENTUM_OPTIMIZERS}}
    return steps, 1e-6 + 1.7e-11 * parameter_count


def unmeasured(archs):
    """The networks of archs that the cost tables lack, whose costs are estimated."""
    return [arch for arch in archs if arch not in EXAMPLE_SECONDS]


def epoch_cost(arch, optimizer_name, plan, settings, parameter_counts=None):
    """Estimated seconds of one epoch; parameter_counts gives those of networks the cost tables lack."""
    if arch in EXAMPLE_SECONDS:
        step_seconds, example_seconds = STEP_SECONDS[arch, optimizer_name], EXAMPLE_SECONDS[arch]
    else:
        by_optimizer, example_seconds = estimated_costs(parameter_counts[arch])
        step_seconds = by_optimizer[optimizer_name]
    steps = updates_per_epoch(settings.train_size, plan.batch_size)
    examples = settings.train_size + settings.test_size / 3
    return steps * step_seconds + examples * example_seconds


def trained_epochs(optimizer_name, schedules, settings):
    """The plans of the epochs train_runs really trains: an epoch shared by schedules counts once."""
    prefixes = set()
    for schedule in schedules:
        plans = epoch_plans(schedule, optimizer_name, settings)
        prefixes.update(tuple(plans[:epoch + 1]) for epoch in range(len(plans)))
    return [prefix[-1] for prefix in prefixes]


def group_cost(group, settings, parameter_counts=None):
    """Estimated cost of train_runs for one group."""
    return sum(epoch_cost(group.arch, group.optimizer, plan, settings, parameter_counts)
               for plan in trained_epochs(group.optimizer, group.schedules, settings))


# ----------------------------------------------------------------------------
# Worker processes
# ----------------------------------------------------------------------------
# What init_worker gives each worker process for all its tasks.
_worker = {}


def init_worker(settings, data, out_dir, command, events, network_file=None):
    """Prepares one worker process: one thread, deterministic ops, the data, its provenance.

    A --networks file is imported by the first task (use_network_file), so
    that anything it raises reaches main.py instead of killing the worker.
    """
    import runtime
    runtime.configure_worker()
    tf, _ = runtime.load_tensorflow()
    tensors = {name: tf.constant(array) for name, array in data.items()}
    provenance = {"machine": provenance_records.machine_description(),
                  "versions": provenance_records.library_versions(), "command": command}
    if network_file is not None:
        provenance["networks_file"] = {"path": network_file.path, "sha256": network_file.sha256}
    _worker.update(settings=settings, data=tensors, out_dir=out_dir, events=events, provenance=provenance,
                   network_file=network_file)


def use_network_file(network_file):
    """Registers the --networks file's networks in this worker, refusing a file changed since main.py checked it."""
    import networks
    if network_file is None:
        return
    try:
        changed = networks.file_sha256(network_file.path) != network_file.sha256
    except OSError as error:
        raise StudyError(f"--networks {network_file.path} cannot be read any more ({error.strerror or error})") \
            from None
    if changed:
        raise StudyError(f"--networks {network_file.path} changed while the study ran; "
                         "run the same command again to train the rest with the new file")
    networks.use_network_file(network_file.path)


def run_group(group):
    """Worker task: claims one group, trains what is still missing of it, saves each run when done.

    Returns True if this process held the group's claim, False if another
    process on the same folder holds it (and trains it).
    """
    from training import keras, train_runs
    settings, events, out_dir = _worker["settings"], _worker["events"], _worker["out_dir"]
    runs_dir = os.path.join(out_dir, "runs")
    use_network_file(_worker["network_file"])

    def on_epoch(plan):
        events.put(("epoch", (group.arch, group.optimizer, plan)))

    def on_run(schedule, metrics):
        key = (group.arch, group.optimizer, schedule, group.seed)
        provenance = dict(_worker["provenance"], wall_seconds=metrics["seconds"][-1],
                          date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        record = {"key": key, "settings": settings_record(settings), "metrics": metrics,
                  "provenance": provenance}
        save_atomically(record, run_path(runs_dir, key))
        events.put(("run", key))

    with claim(claim_path(out_dir, group.arch, group.optimizer, group.seed)) as held:
        if not held:
            return False
        # Another process may have finished some of these since they were planned.
        todo = tuple(schedule for schedule in group.schedules
                     if not os.path.exists(run_path(runs_dir, (group.arch, group.optimizer, schedule, group.seed))))
        if todo:
            train_runs(group.arch, group.optimizer, group.seed, todo, settings, _worker["data"], on_epoch, on_run)
            # A worker trains many groups: free each one's model and graphs,
            # or memory grows by about 100 MB a group.
            keras.backend.clear_session()
            gc.collect()
    return True


def train_groups(groups, settings, data, out_dir, jobs, command, progress, trained, network_file=None):
    """Trains groups in worker processes; returns the groups another process had claimed.

    trained, a list, gets the key of every run this process saves.
    """
    parameter_counts = network_file.parameter_counts if network_file else {}
    total_cost = sum(group_cost(group, settings, parameter_counts) for group in groups)
    runs_total = sum(len(group.schedules) for group in groups)
    done_cost = 0.0
    # Spawned, not forked: TensorFlow's runtime does not survive a fork.
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    with context.Pool(min(jobs, len(groups)), init_worker,
                      (settings, data, out_dir, command, events, network_file)) as pool:
        longest_first = sorted(groups, key=lambda group: group_cost(group, settings, parameter_counts), reverse=True)
        pending = pool.map_async(run_group, longest_first, chunksize=1)
        while True:
            try:
                kind, value = events.get(timeout=0.25)
            except queue.Empty:
                if pending.ready():
                    break
                continue
            if kind == "epoch":
                done_cost += epoch_cost(*value, settings, parameter_counts)
            else:
                trained.append(value)
            if progress:
                progress(done_cost, total_cost, len(trained), runs_total)
        held = pending.get()  # Raises here whatever a worker raised.
    return [group for group, was_held in zip(longest_first, held) if not was_held]


# ----------------------------------------------------------------------------
# The study
# ----------------------------------------------------------------------------
def assemble_results(settings, selection, finished, command="", provenance=None):
    """The results dict of the selection, from the finished runs.

    Nothing in it describes the process that assembles it but the command:
    the machines and versions are those that trained the runs, so the same
    runs assemble to the same bytes on any machine.
    """
    provenance = provenance or {}
    runs = {key: finished[key] for key in selection.run_keys() if key in finished}
    run_provenance = {key: provenance.get(key) for key in runs}
    accuracy = {}
    for (arch, optimizer, schedule, _), metrics in runs.items():
        accuracy.setdefault(arch, {}).setdefault(optimizer, {}).setdefault(schedule, []).append(
            metrics["test_accuracy"])
    for by_optimizer in accuracy.values():
        for by_schedule in by_optimizer.values():
            for schedule, curves in by_schedule.items():
                by_schedule[schedule] = np.mean(curves, axis=0).tolist()
    config = settings_record(settings)
    config.update(
        learning_rates={name: settings.base_learning_rate(name) for name in selection.optimizers},
        epochs=settings.epochs,
        archs=list(selection.archs), optimizers=list(selection.optimizers),
        schedules=list(selection.schedules), seeds=list(selection.seeds),
        command=command, **provenance_records.assembled_provenance(run_provenance))
    return {"config": config, "runs": runs, "accuracy": accuracy, "provenance": run_provenance,
            "missing": [key for key in selection.run_keys() if key not in finished]}


def run_study(settings, selection, data, out_dir, jobs=1, shard=None, command="", progress=None, network_file=None):
    """Trains what out_dir lacks of the selection, then writes and returns the results.

    Each run is saved to out_dir/runs/ as it finishes, so an interrupted study
    loses only the runs in flight and the same call resumes it. Processes
    sharing out_dir split the work: each group is claimed before it is
    trained, and a group another process holds is waited for, then trained
    here only if that process died before finishing it. progress, if given, is
    called as progress(done_cost, total_cost, runs_done, runs_total).
    network_file, a NetworkFile, names the file of the selection's user networks.

    Returns (results, report): report holds "trained" (keys of the runs this
    call trained), "reused" (keys of the selection's runs it found finished)
    and "rejected" ((file, reason, moved to) of run files it could not use).
    """
    runs_dir = prepare_out_dir(out_dir)
    trained, rejected = [], []
    while True:
        finished, provenance, newly_rejected = load_finished_runs(runs_dir, settings)
        rejected += newly_rejected
        groups = plan_groups(selection, finished, shard)
        if not groups:
            break
        for group in train_groups(groups, settings, data, out_dir, jobs, command, progress, trained, network_file):
            # Wait for the other process to finish or die, then look again.
            with claim(claim_path(out_dir, group.arch, group.optimizer, group.seed), wait=True):
                pass
    results = assemble_results(settings, selection, finished, command, provenance)
    save_atomically(results, os.path.join(out_dir, "results.pickle"))
    trained_here = set(trained)
    report = {"trained": trained, "reused": [key for key in results["runs"] if key not in trained_here],
              "rejected": rejected}
    return results, report
