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
import collections
import dataclasses
import datetime
import gc
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import typing

import numpy as np

import provenance as provenance_records
from runfiles import (StudyError, claim, claim_path, load_finished_runs, prepare_out_dir, run_path,
                      save_atomically)
from study import (ADAPTIVE_SCHEDULES, ARCHITECTURES, MOMENTUM_OPTIMIZERS, OPTIMIZERS, SCHEDULES,
                   check_schedule_fits_optimizer, estimated_epoch_plans, settings_record, updates_per_epoch)


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
    """The plans of the epochs train_runs really trains: an epoch shared by schedules counts once.

    An adaptive schedule's epochs after its first stage are estimated
    (study.estimated_epoch_plans) and counted as its own, whatever the
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
    """Estimated cost of train_runs for one group."""
    return sum(epoch_cost(group.arch, group.optimizer, plan, settings, parameter_counts)
               for plan in trained_epochs(group.optimizer, group.schedules, settings))


# ----------------------------------------------------------------------------
# Worker processes
# ----------------------------------------------------------------------------
# The parent starts and watches the worker processes itself, rather than
# handing the groups to a pool:
# - multiprocessing.Pool replaces a worker killed by a signal (the kernel's
#   out-of-memory killer, a scheduler's memory limit) but silently drops its
#   task, so a study waited forever for a result that never came;
# - concurrent.futures.ProcessPoolExecutor notices the death, but one death
#   breaks the whole pool: every group in flight fails with it, unnamed, and
#   all would have to be requeued and their workers started again.
# Here each worker has its own pipe to the parent and gets one group at a
# time, so the parent always knows which group each worker holds, and the
# process's sentinel tells it the moment that worker ends. A death costs only
# that worker's group: the other workers go on undisturbed, and the pipe that
# a worker killed mid-message may leave half-written dies with it (a queue
# shared by all workers could be left corrupt or locked). A worker that hangs
# while alive is not detected.
class WorkerFailure(Exception):
    """A worker died or raised and the study stopped; the message is one line, exit_status main.py's status."""

    def __init__(self, message, exit_status):
        super().__init__(message)
        self.exit_status = exit_status


# What init_worker gives each worker process for all its tasks.
_worker = {}


def init_worker(settings, data, out_dir, command, events, network_file=None):
    """Prepares one worker process: one thread, deterministic ops, the data, its provenance.

    events.put(event) sends an event to the parent. A --networks file is
    imported by the first task (use_network_file), so that anything it raises
    reaches main.py as one line instead of killing the worker.
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

    def on_replan(before, after):
        events.put(("replanned", (group.arch, group.optimizer, before, after)))

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
            train_runs(group.arch, group.optimizer, group.seed, todo, settings, _worker["data"], on_epoch, on_run,
                       on_replan)
            # A worker trains many groups: free each one's model and graphs,
            # or memory grows by about 100 MB a group.
            keras.backend.clear_session()
            gc.collect()
    return True


class _Pipe:
    """The worker's end of its pipe, with the put() of the events run_group sends."""

    def __init__(self, connection):
        self.connection = connection

    def put(self, event):
        self.connection.send(event)


def worker_main(connection, task, settings, out_dir, command, network_file=None):
    """A worker process: receives the data, then one group at a time until it receives None.

    Sends the parent run_group's events, then ("done", task's result) for each
    group. An exception is not raised but sent as ("failed", kind, cause,
    started), and the worker ends: kind is "memory", "save" (a StudyError) or
    "internal", started False if it raised before its first group.
    """
    started = False
    try:
        data = connection.recv()
        try:
            init_worker(settings, data, out_dir, command, _Pipe(connection), network_file)
            del data
            started = True
            while (group := connection.recv()) is not None:
                connection.send(("done", task(group)))
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise
        except Exception as error:  # Said to the parent in one line, never as a traceback.
            connection.send(("failed", *failure_of(error), started))
    except (EOFError, BrokenPipeError, ConnectionResetError, KeyboardInterrupt):
        pass  # The parent has gone, or the study was interrupted: nothing to tell.
    # Every run is saved and every event sent by now. Tearing down an
    # interpreter with TensorFlow loaded takes about a second of CPU, which a
    # worker still training would feel; ending here skips it, as the pool's
    # terminate() did.
    os._exit(0)


def failure_of(error):
    """(kind, cause) for an exception raised in a worker: the cause on one line."""
    if isinstance(error, StudyError):
        return "save", str(error)
    if isinstance(error, MemoryError) or type(error).__name__ == "ResourceExhaustedError":  # TensorFlow's own
        return "memory", type(error).__name__
    lines = str(error).strip().splitlines()
    cause = type(error).__name__ + (f": {lines[0][:300]}" if lines else "")
    return "internal", cause


def describe_group(group):
    return f"{group.arch} {group.optimizer} seed {group.seed}"


def describe_end(exitcode):
    """How a worker process ended, from its exit code: 'was killed by signal 9 (SIGKILL)'."""
    if exitcode is not None and exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "unknown signal"
        return f"was killed by signal {-exitcode} ({name})"
    return f"exited with status {exitcode} before finishing"


def likely_cause(exitcode):
    if exitcode == -signal.SIGKILL:
        return ("most likely for lack of memory (the kernel's out-of-memory killer or a job's memory limit): "
                "try fewer --jobs")
    if exitcode in (-signal.SIGSEGV, -signal.SIGBUS, -signal.SIGILL, -signal.SIGABRT):
        return "a crash in TensorFlow or the Python runtime"
    if exitcode in (-signal.SIGTERM, -signal.SIGINT, -signal.SIGHUP):
        return "stopped from outside, by a user or a scheduler"
    return "cause unknown"


class _Worker:
    """The parent's view of one worker process: its pipe and the group it holds (None once told to stop)."""

    def __init__(self, process, connection, group):
        self.process, self.connection, self.group = process, connection, group


def train_groups(groups, settings, data, out_dir, jobs, command, progress, trained, warn=None, task=run_group,
                 network_file=None):
    """Trains groups in worker processes; returns the groups another process had claimed.

    trained, a list, gets the key of every run this process saves. A worker
    that dies is named through warn(line) and its group is retried once in a
    fresh worker. If that worker dies too, or a worker raises, no further
    group is started: the groups in flight finish, then WorkerFailure is
    raised (StudyError for a failed save). task is what a worker does with
    each group (run_group; tests pass others). network_file, a NetworkFile,
    is a --networks file for the workers to import.
    """
    warn = warn or (lambda line: print(line, file=sys.stderr, flush=True))
    runs_dir = os.path.join(out_dir, "runs")
    parameter_counts = network_file.parameter_counts if network_file else {}
    total_cost = sum(group_cost(group, settings, parameter_counts) for group in groups)
    runs_total = sum(len(group.schedules) for group in groups)
    done_cost = 0.0
    # What each group's worker has added to the cost done and to the total, taken back if it dies.
    added = collections.defaultdict(lambda: [0.0, 0.0])
    # Spawned, not forked: TensorFlow's runtime does not survive a fork.
    context = multiprocessing.get_context("spawn")
    todo = collections.deque(sorted(groups, key=lambda group: group_cost(group, settings, parameter_counts),
                                    reverse=True))
    workers, held_elsewhere, deaths = [], [], collections.Counter()
    stop = None  # The exception to raise once the groups in flight have finished.

    def start(first_groups):
        started = []
        for group in first_groups:
            connection, child_end = context.Pipe()
            process = context.Process(target=worker_main,
                                      args=(child_end, task, settings, out_dir, command, network_file), daemon=True)
            process.start()
            child_end.close()
            started.append(_Worker(process, connection, group))
            workers.append(started[-1])
        # Each worker starts up while the data is sent to the others.
        for worker in started:
            send(worker, data)
            send(worker, worker.group)

    def send(worker, message):
        try:
            worker.connection.send(message)
        except OSError:  # Dead already: its sentinel says so.
            pass

    def hand_out(worker):
        worker.group = todo.popleft() if todo and stop is None else None
        send(worker, worker.group)

    def receive(worker):
        nonlocal done_cost, total_cost, stop
        while worker.connection is not None and worker.connection.poll():
            try:
                event = worker.connection.recv()
            except (EOFError, OSError):  # The worker has ended; a message cut short by its death is dropped.
                worker.connection.close()
                worker.connection = None
                return
            kind = event[0]
            if kind == "epoch":
                # The parent prices the epoch: only it knows a --networks file's parameter counts.
                cost = epoch_cost(*event[1], settings, parameter_counts)
                done_cost += cost
                added[worker.group][0] += cost
            elif kind == "replanned":
                # An adaptive schedule decided a stage: the estimate of its epochs to come changes.
                arch, optimizer, before, after = event[1]
                change = sum(epoch_cost(arch, optimizer, plan, settings, parameter_counts)
                             for plan in after) - sum(epoch_cost(arch, optimizer, plan, settings,
                                                                 parameter_counts) for plan in before)
                total_cost += change
                added[worker.group][1] += change
            elif kind == "run":
                trained.append(event[1])
            elif kind == "done":
                if not event[1]:
                    held_elsewhere.append(worker.group)
                hand_out(worker)
                continue
            elif kind == "failed":
                stop = stop or failure_exception(worker.group, *event[1:])
                worker.group = None
                continue
            if progress:
                progress(done_cost, total_cost, len(trained), runs_total)

    def failure_exception(group, kind, cause, started):
        where = (f"training {describe_group(group)} (schedules {', '.join(group.schedules)})" if started
                 else "starting up")
        saved = f"finished runs are saved in {runs_dir}"
        if kind == "save":
            return StudyError(cause)
        if kind == "memory":
            return WorkerFailure(f"a worker ran out of memory {where} ({cause}); {saved}: "
                                 "run the same command again to resume, with fewer --jobs", 3)
        return WorkerFailure(f"a worker failed {where}: {cause}; {saved}: run the same command again to resume, "
                             "and report the failure if it comes back", 1)

    def forget_progress(group):
        # The fresh worker trains the group's unfinished runs from the start: what the dead one added is
        # taken back, and the group's estimate becomes that of those runs alone.
        nonlocal done_cost, total_cost
        done, change = added.pop(group, (0.0, 0.0))
        finished = set(trained)
        remaining = group._replace(schedules=tuple(schedule for schedule in group.schedules if
                                                   (group.arch, group.optimizer, schedule, group.seed) not in finished))
        done_cost -= done
        total_cost += group_cost(remaining, settings, parameter_counts) - group_cost(group, settings,
                                                                                   parameter_counts) - change

    def bury(worker):
        nonlocal stop
        receive(worker)  # What it sent before it ended.
        worker.process.join()
        workers.remove(worker)
        if worker.connection is not None:
            worker.connection.close()
        group, exitcode = worker.group, worker.process.exitcode
        if group is None:
            return
        deaths[group] += 1
        what = f"the worker training {describe_group(group)} (pid {worker.process.pid}) {describe_end(exitcode)}"
        if deaths[group] == 1 and stop is None:
            warn(f"{what}, {likely_cause(exitcode)}; finished runs are kept and the group is retried in a "
                 "fresh worker")
            forget_progress(group)
            start([group])
        elif deaths[group] == 1:
            warn(f"{what}, {likely_cause(exitcode)}; finished runs are kept, and the group is left for the next run")
        else:
            stop = stop or WorkerFailure(
                f"{what}, the second worker to die on that group, {likely_cause(exitcode)}. The study stopped "
                f"once the other groups in flight were done; finished runs are saved in {runs_dir}: run the "
                "same command again to resume", 3)

    try:
        start([todo.popleft() for _ in range(min(jobs, len(todo)))])
        while workers:
            waiting = {worker.process.sentinel: worker for worker in workers}
            waiting.update({worker.connection: worker for worker in workers if worker.connection is not None})
            ready = multiprocessing.connection.wait(list(waiting))
            for handle in ready:
                if handle in waiting and not isinstance(handle, int):
                    receive(waiting[handle])
            for handle in ready:
                if isinstance(handle, int) and waiting[handle] in workers:
                    bury(waiting[handle])
    finally:
        for worker in workers:  # Interrupted: the workers stop with the study.
            worker.process.terminate()
        for worker in workers:
            worker.process.join()
            if worker.connection is not None:
                worker.connection.close()
    if stop is not None:
        raise stop
    return held_elsewhere


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


def run_study(settings, selection, data, out_dir, jobs=1, shard=None, command="", progress=None, warn=None,
              network_file=None):
    """Trains what out_dir lacks of the selection, then writes and returns the results.

    Each run is saved to out_dir/runs/ as it finishes, so an interrupted study
    loses only the runs in flight and the same call resumes it. Processes
    sharing out_dir split the work: each group is claimed before it is
    trained, and a group another process holds is waited for, then trained
    here only if that process died before finishing it. progress, if given, is
    called as progress(done_cost, total_cost, runs_done, runs_total); warn(line)
    names a worker that died and whose group is retried (train_groups). A
    study stopped by its workers raises WorkerFailure, or StudyError for a
    failed save, once the groups in flight have finished. network_file, a
    NetworkFile, names the file of the selection's user networks.

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
        for group in train_groups(groups, settings, data, out_dir, jobs, command, progress, trained, warn,
                                  network_file=network_file):
            # Wait for the other process to finish or die, then look again.
            with claim(claim_path(out_dir, group.arch, group.optimizer, group.seed), wait=True):
                pass
    results = assemble_results(settings, selection, finished, command, provenance)
    save_atomically(results, os.path.join(out_dir, "results.pickle"))
    trained_here = set(trained)
    report = {"trained": trained, "reused": [key for key in results["runs"] if key not in trained_here],
              "rejected": rejected}
    return results, report
