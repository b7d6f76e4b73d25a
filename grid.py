"""The grid of runs: which runs, in which worker processes, and the study they assemble into.

A study is a Selection (networks x optimizers x schedules x seeds) under one
Settings. run_study finds what OUT/runs/ lacks, plans it as groups (the
schedules of one network, optimizer and seed, trained together because they
share their first epochs), trains the groups longest first in spawned worker
processes, and assembles every finished run into OUT/results.pickle. The cost
model below only orders the work and drives the progress bar's estimate.
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
from runfiles import (claim, claim_path, load_finished_runs, prepare_out_dir, run_path,
                      save_atomically)
from study import (ARCHITECTURES, MOMENTUM_OPTIMIZERS, OPTIMIZERS, SCHEDULES, check_schedule_fits_optimizer,
                   epoch_plans, settings_record, updates_per_epoch)


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


def epoch_cost(arch, optimizer_name, plan, settings):
    steps = updates_per_epoch(settings.train_size, plan.batch_size)
    examples = settings.train_size + settings.test_size / 3
    return steps * STEP_SECONDS[arch, optimizer_name] + examples * EXAMPLE_SECONDS[arch]


def trained_epochs(optimizer_name, schedules, settings):
    """The plans of the epochs train_runs really trains: an epoch shared by schedules counts once."""
    prefixes = set()
    for schedule in schedules:
        plans = epoch_plans(schedule, optimizer_name, settings)
        prefixes.update(tuple(plans[:epoch + 1]) for epoch in range(len(plans)))
    return [prefix[-1] for prefix in prefixes]


def group_cost(group, settings):
    """Estimated cost of train_runs for one group."""
    return sum(epoch_cost(group.arch, group.optimizer, plan, settings)
               for plan in trained_epochs(group.optimizer, group.schedules, settings))


# ----------------------------------------------------------------------------
# Worker processes
# ----------------------------------------------------------------------------
# What init_worker gives each worker process for all its tasks.
_worker = {}


def init_worker(settings, data, out_dir, command, events):
    """Prepares one worker process: one thread, deterministic ops, the data, its provenance."""
    import runtime
    runtime.configure_worker()
    tf, _ = runtime.load_tensorflow()
    tensors = {name: tf.constant(array) for name, array in data.items()}
    _worker.update(settings=settings, data=tensors, out_dir=out_dir, events=events,
                   provenance={"machine": provenance_records.machine_description(),
                               "versions": provenance_records.library_versions(), "command": command})


def run_group(group):
    """Worker task: claims one group, trains what is still missing of it, saves each run when done.

    Returns True if this process held the group's claim, False if another
    process on the same folder holds it (and trains it).
    """
    from training import keras, train_runs
    settings, events, out_dir = _worker["settings"], _worker["events"], _worker["out_dir"]
    runs_dir = os.path.join(out_dir, "runs")

    def on_epoch(plan):
        events.put(("epoch", epoch_cost(group.arch, group.optimizer, plan, settings)))

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


def train_groups(groups, settings, data, out_dir, jobs, command, progress, trained):
    """Trains groups in worker processes; returns the groups another process had claimed.

    trained, a list, gets the key of every run this process saves.
    """
    total_cost = sum(group_cost(group, settings) for group in groups)
    runs_total = sum(len(group.schedules) for group in groups)
    done_cost = 0.0
    # Spawned, not forked: TensorFlow's runtime does not survive a fork.
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    with context.Pool(min(jobs, len(groups)), init_worker, (settings, data, out_dir, command, events)) as pool:
        longest_first = sorted(groups, key=lambda group: group_cost(group, settings), reverse=True)
        pending = pool.map_async(run_group, longest_first, chunksize=1)
        while True:
            try:
                kind, value = events.get(timeout=0.25)
            except queue.Empty:
                if pending.ready():
                    break
                continue
            if kind == "epoch":
                done_cost += value
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


def run_study(settings, selection, data, out_dir, jobs=1, shard=None, command="", progress=None):
    """Trains what out_dir lacks of the selection, then writes and returns the results.

    Each run is saved to out_dir/runs/ as it finishes, so an interrupted study
    loses only the runs in flight and the same call resumes it. Processes
    sharing out_dir split the work: each group is claimed before it is
    trained, and a group another process holds is waited for, then trained
    here only if that process died before finishing it. progress, if given, is
    called as progress(done_cost, total_cost, runs_done, runs_total).

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
        for group in train_groups(groups, settings, data, out_dir, jobs, command, progress, trained):
            # Wait for the other process to finish or die, then look again.
            with claim(claim_path(out_dir, group.arch, group.optimizer, group.seed), wait=True):
                pass
    results = assemble_results(settings, selection, finished, command, provenance)
    save_atomically(results, os.path.join(out_dir, "results.pickle"))
    trained_here = set(trained)
    report = {"trained": trained, "reused": [key for key in results["runs"] if key not in trained_here],
              "rejected": rejected}
    return results, report
