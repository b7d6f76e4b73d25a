"""The grid of runs: which runs, in which worker processes, and the study they assemble into.

A study is a Selection (networks x optimizers x schedules x seeds) under one
Settings. run_study finds what OUT/runs/ lacks, plans it as groups (the
schedules of one network, optimizer and seed, trained together because they
share their first epochs), trains the groups longest first in spawned worker
processes, and assembles every finished run into OUT/results.pickle. Under
--stack-seeds a group of a network that stacks is a StackedGroup, the
schedules of one network and optimizer for several seeds, trained as one
stacked model (stacked.py); stacked_architectures says which networks stack
and stacking_note says in one line which runs do not, and why. The cost
model (costs.py) only orders the work and drives the progress bar's estimate. A
user's --networks file (NetworkFile) is imported again in every worker, and
its path and sha256 go into the provenance of every run trained there.
"""
import collections
import contextlib
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

from batchgrow import provenance as provenance_records
from batchgrow.training.runfiles import (StudyError, claim, claim_path, load_finished_runs, prepare_out_dir, run_path,
                                         save_atomically)
from batchgrow.training.costs import epoch_cost, group_cost, stacked_seeds_cost
from batchgrow.optimizers import OPTIMIZERS, optimizer_record
from batchgrow.schedules import ADAPTIVE_SCHEDULES, SCHEDULES, check_schedule_fits_optimizer, scaled_constants_problem
from batchgrow.study import ARCHITECTURE_NAMES, ARCHITECTURES, STACKED_ARCHITECTURES, settings_record
from batchgrow.training.runtime import onednn_turned_off


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
    # ((optimizer, schedules), ...): for the optimizers named, their own schedules instead of `schedules`
    # (a calibration runs each optimizer's own controls, main.py --calibrate).
    per_optimizer: tuple = ()

    def schedules_for(self, optimizer):
        return dict(self.per_optimizer).get(optimizer, self.schedules)

    def run_keys(self):
        return [(arch, optimizer, schedule, seed) for arch in self.archs for optimizer in self.optimizers
                for schedule in self.schedules_for(optimizer) for seed in self.seeds]

    def check(self, settings=None):
        """Raises ValueError, in one line, for a schedule that an asked-for optimizer cannot run, or (given
        the settings) whose plans set a constant the optimizer does not hold as a variable."""
        for optimizer in self.optimizers:
            for schedule in self.schedules_for(optimizer):
                check_schedule_fits_optimizer(schedule, optimizer)
                problem = settings and scaled_constants_problem(schedule, optimizer, settings)
                if problem:
                    raise ValueError(problem)


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

    @property
    def seeds(self):
        return (self.seed,)

    stacked = False


class StackedGroup(typing.NamedTuple):
    """The schedules of one (network, optimizer) still to train for several seeds, trained stacked: one worker
    task. Each seed's runs are its own and saved as its own; the seeds are in the order of the stack."""
    arch: str
    optimizer: str
    seeds: tuple
    schedules: tuple

    stacked = True


def group_run_keys(group):
    """The keys of every run a Group or StackedGroup trains."""
    return [(group.arch, group.optimizer, schedule, seed) for seed in group.seeds for schedule in group.schedules]


def unfinished_part(group, finished):
    """What is left of a group once the runs whose keys are in finished are done, or None for nothing.

    A StackedGroup keeps the seeds with a run left and the schedules any of
    them lacks, in their order: the schedules' runs of a stacked group finish
    for all its seeds at once, so that is what is left after an interruption.
    """
    seeds = tuple(seed for seed in group.seeds
                  if any((group.arch, group.optimizer, schedule, seed) not in finished for schedule in group.schedules))
    schedules = tuple(schedule for schedule in group.schedules
                      if any((group.arch, group.optimizer, schedule, seed) not in finished for seed in seeds))
    if not schedules:
        return None
    if isinstance(group, StackedGroup):
        return group._replace(seeds=seeds, schedules=schedules)
    return group._replace(schedules=schedules)


# ----------------------------------------------------------------------------
# Which runs train with their seeds stacked (--stack-seeds)
# ----------------------------------------------------------------------------
def stacking_problem(schedules, settings):
    """One line if no run of a study with these schedules and settings can train stacked, else None.

    The stacked path trains fixed plans with the written-out backward pass
    and measures nothing besides: an adaptive schedule decides each seed's
    batches from that seed's own measurements, so its seeds' plans part.
    """
    adaptive = [schedule for schedule in schedules if schedule in ADAPTIVE_SCHEDULES]
    if adaptive:
        return f"{', '.join(adaptive)} decide{'s' if len(adaptive) == 1 else ''} each seed's batches from its own " \
               "measured noise scale"
    if settings.measure_noise:
        return "the stacked path does not measure the gradient noise scale (--measure-noise)"
    if settings.backward != "written":
        return "the stacked path writes its backward pass out, and --backward tape asks for the tape"
    return None


def stacked_architectures(selection, settings):
    """The networks of the selection whose seeds train stacked: those of study.STACKED_ARCHITECTURES under
    --stack-seeds, unless stacking_problem finds none can. The answer depends on the settings and the
    selection alone, never on the machine, so that every shard of a study plans the same groups."""
    if not settings.stack_seeds or stacking_problem(selection.schedules, settings):
        return ()
    return tuple(arch for arch in selection.archs if arch in STACKED_ARCHITECTURES)


def stacking_note(selection, settings):
    """The one line main.py says of a --stack-seeds study whose runs do not all stack: which train seed by
    seed, and why; None if every run stacks, or the study does not stack."""
    if not settings.stack_seeds:
        return None
    prefix = "main.py: note: --stack-seeds"
    if onednn_turned_off():
        return (f"{prefix}: TF_ENABLE_ONEDNN_OPTS=0 turns off oneDNN, whose kernels alone run the stacked "
                "LeNet-5's grouped convolutions on a CPU, so every run trains seed by seed, as without the flag")
    problem = stacking_problem(selection.schedules, settings)
    if problem:
        return f"{prefix}: every run trains seed by seed, as without the flag: {problem}"
    unstacked = [arch for arch in selection.archs if arch not in STACKED_ARCHITECTURES]
    if not unstacked:
        return None
    names = ", ".join(ARCHITECTURE_NAMES.get(arch, arch) for arch in unstacked)
    stacked = ", ".join(ARCHITECTURE_NAMES[arch] for arch in STACKED_ARCHITECTURES)
    return (f"{prefix} stacks the seeds of {stacked} only; {names} train{'s' if len(unstacked) == 1 else ''} "
            "seed by seed, as without the flag (stacking gave the MLPs no speed: benchmarks/README.md)")


def parse_shard(text):
    """'K/N' -> (K, N) with 1 <= K <= N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N, for example 2/3; got {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard K/N needs 1 <= K <= N; got {text!r}")
    return index, count


def plan_groups(selection, finished, shard=None, stacked_archs=()):
    """The unfinished work as Groups, and as StackedGroups for the networks of stacked_archs.

    A shard K/N takes every N-th (arch, optimizer, seed) of the whole selection,
    counted before finished runs are removed, so that the slices stay the same
    however far each shard has got. A network that stacks counts as one
    (arch, optimizer, all seeds) per optimizer, so that a shard takes a cell's
    seeds whole: a stacked seed's numbers depend, by rounding, on where it
    sits in its stack, and a sharded study then stacks every seed as the
    unsharded one does. The seeds of a cell whose unfinished schedules are
    the same are stacked together, in the selection's order.
    """
    groups, cells = [], []
    for arch in selection.archs:
        for optimizer in selection.optimizers:
            if arch in stacked_archs:
                cells.append((arch, optimizer, selection.seeds))
            else:
                cells.extend((arch, optimizer, (seed,)) for seed in selection.seeds)
    for index, (arch, optimizer, seeds) in enumerate(cells):
        if shard and index % shard[1] != shard[0] - 1:
            continue
        stacks = {}
        for seed in seeds:
            todo = tuple(s for s in selection.schedules_for(optimizer)
                         if (arch, optimizer, s, seed) not in finished)
            if todo:
                stacks.setdefault(todo, []).append(seed)
        for todo, stack in stacks.items():
            if arch in stacked_archs:
                groups.append(StackedGroup(arch, optimizer, tuple(stack), todo))
            else:
                groups.extend(Group(arch, optimizer, seed, todo) for seed in stack)
    return groups


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
    from batchgrow.training import runtime
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
    from batchgrow.training import networks
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


# What a worker tells the parent, one record an event.
class EpochTrained(typing.NamedTuple):
    """An epoch of the group's network and optimizer was trained to this plan, for runs seeds at once (the
    parent prices it)."""
    arch: str
    optimizer: str
    plan: object
    runs: int = 1


class Replanned(typing.NamedTuple):
    """An adaptive schedule decided a stage: its estimated epochs to come changed from before to after."""
    arch: str
    optimizer: str
    before: list
    after: list


class RunSaved(typing.NamedTuple):
    key: tuple


class TrainedSeedBySeed(typing.NamedTuple):
    """A stacked group's todo, what is left of it, trains seed by seed, for the reason given: the parent
    prices it so and says the reason once."""
    reason: str
    todo: object


class GroupDone(typing.NamedTuple):
    """The task ended; held is False if another process on the folder held the group's claim."""
    held: bool


class WorkerFailed(typing.NamedTuple):
    """The worker raised and ends: kind is "memory", "save" or "internal", started False before its first group."""
    kind: str
    cause: str
    started: bool


def run_group(group):
    """Worker task: claims one group, trains what is still missing of it, saves each run when done.

    Returns True if this process held the group's claim, False if another
    process on the same folder holds it (and trains it).
    """
    from batchgrow.training.training import keras, train_runs
    if isinstance(group, StackedGroup):
        return run_stacked_group(group)
    settings, events, out_dir = _worker["settings"], _worker["events"], _worker["out_dir"]
    runs_dir = os.path.join(out_dir, "runs")
    use_network_file(_worker["network_file"])

    def on_epoch(plan):
        events.put(EpochTrained(group.arch, group.optimizer, plan))

    def on_replan(before, after):
        events.put(Replanned(group.arch, group.optimizer, before, after))

    def on_run(schedule, metrics):
        save_run((group.arch, group.optimizer, schedule, group.seed), metrics)

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


def save_run(key, metrics, **provenance):
    """Worker: saves one finished run as its run file, with the worker's provenance and any given, and says so."""
    provenance = dict(_worker["provenance"], **provenance, wall_seconds=metrics["seconds"][-1],
                      date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    record = {"key": key, "settings": settings_record(_worker["settings"]), "metrics": metrics,
              "provenance": provenance}
    save_atomically(record, run_path(os.path.join(_worker["out_dir"], "runs"), key))
    _worker["events"].put(RunSaved(key))


def run_stacked_group(group):
    """Worker task for a StackedGroup: claims each of its seeds, trains what is still missing, saves each run.

    Returns True if this process held every seed's claim. A seed another
    process holds is left to it; the others train stacked, or seed by seed
    where this process's TensorFlow cannot run the stacked network's grouped
    convolutions (networks.grouped_convolutions_run), which the parent is told
    once (TrainedSeedBySeed). A stacked run's provenance names the seeds it
    was stacked with, in the order of the stack.
    """
    from batchgrow.training import networks
    from batchgrow.training.stacked import train_stacked_runs
    from batchgrow.training.training import keras, train_runs
    settings, events, out_dir = _worker["settings"], _worker["events"], _worker["out_dir"]
    runs_dir = os.path.join(out_dir, "runs")
    with contextlib.ExitStack() as claims:
        held = [seed for seed in group.seeds
                if claims.enter_context(claim(claim_path(out_dir, group.arch, group.optimizer, seed)))]
        # Another process may have finished some of these since they were planned.
        saved = {key for key in group_run_keys(group._replace(seeds=tuple(held)))
                 if os.path.exists(run_path(runs_dir, key))}
        todo = unfinished_part(group._replace(seeds=tuple(held)), saved)
        if todo is None:
            return len(held) == len(group.seeds)
        # Without oneDNN, as main.py has said (stacking_note), or where this TensorFlow lacks its grouped
        # convolutions, which the parent says once: seed by seed, today's path.
        if not onednn_turned_off() and networks.grouped_convolutions_run():
            def on_epoch(plan):
                events.put(EpochTrained(group.arch, group.optimizer, plan, len(todo.seeds)))

            def on_run(schedule, seed, metrics):
                key = (group.arch, group.optimizer, schedule, seed)
                if key not in saved:
                    save_run(key, metrics, stacked_seeds=list(todo.seeds))

            train_stacked_runs(group.arch, group.optimizer, todo.seeds, todo.schedules, settings, _worker["data"],
                               on_epoch, on_run)
        else:
            if not onednn_turned_off():  # Which main.py has said, and the cost model knows.
                events.put(TrainedSeedBySeed(
                    "this TensorFlow cannot run the stacked network's grouped convolutions on the CPU (oneDNN's "
                    "kernels alone do), so stacked groups train seed by seed", todo))
            for seed in todo.seeds:
                def on_epoch(plan):
                    events.put(EpochTrained(group.arch, group.optimizer, plan))

                def on_run(schedule, metrics, seed=seed):
                    key = (group.arch, group.optimizer, schedule, seed)
                    if key not in saved:
                        save_run(key, metrics)

                train_runs(group.arch, group.optimizer, seed, todo.schedules, settings, _worker["data"], on_epoch,
                           on_run)
        keras.backend.clear_session()
        gc.collect()
        return len(held) == len(group.seeds)


class _Pipe:
    """The worker's end of its pipe, with the put() of the events run_group sends."""

    def __init__(self, connection):
        self.connection = connection

    def put(self, event):
        self.connection.send(event)


def worker_main(connection, task, settings, out_dir, command, network_file=None):
    """A worker process: receives the data, then one group at a time until it receives None.

    Sends the parent run_group's events, then GroupDone(task's result) for
    each group. An exception is not raised but sent as WorkerFailed, and the
    worker ends.
    """
    started = False
    try:
        data = connection.recv()
        try:
            init_worker(settings, data, out_dir, command, _Pipe(connection), network_file)
            del data
            started = True
            while (group := connection.recv()) is not None:
                connection.send(GroupDone(task(group)))
        except (EOFError, BrokenPipeError, ConnectionResetError):
            raise
        except Exception as error:  # Said to the parent in one line, never as a traceback.
            connection.send(WorkerFailed(*failure_of(error), started))
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
    if isinstance(group, StackedGroup):
        return f"{group.arch} {group.optimizer} seeds {', '.join(map(str, group.seeds))} stacked"
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


class _Progress:
    """The cost done and the total, in the cost model's seconds, and what each group's worker added to them.

    What a worker that dies had added is taken back when its group is
    retried, so that done meets the total at the end, never crossing it.
    """

    def __init__(self, groups, settings, parameter_counts, report):
        self.settings, self.parameter_counts, self.report = settings, parameter_counts, report
        self.total = sum(group_cost(group, settings, parameter_counts) for group in groups)
        self.runs_total = sum(len(group_run_keys(group)) for group in groups)
        self.done = 0.0
        self.added = collections.defaultdict(lambda: [0.0, 0.0])

    def cost(self, arch, optimizer, plans):
        return sum(epoch_cost(arch, optimizer, plan, self.settings, self.parameter_counts) for plan in plans)

    def epoch_trained(self, group, event):
        # The parent prices the epoch: only it knows a --networks file's parameter counts.
        cost = stacked_seeds_cost(event.runs) * self.cost(event.arch, event.optimizer, [event.plan])
        self.done += cost
        self.added[group][0] += cost

    def replanned(self, group, event):
        change = self.cost(event.arch, event.optimizer, event.after) - self.cost(event.arch, event.optimizer,
                                                                                   event.before)
        self.total += change
        self.added[group][1] += change

    def trained_seed_by_seed(self, group, todo):
        """A stacked group's worker trains todo, what is left of it, seed by seed: todo's estimate becomes that
        of its seeds trained one by one."""
        change = group_cost(todo, self.settings, self.parameter_counts, stacked=False) - group_cost(
            todo, self.settings, self.parameter_counts)
        self.total += change
        self.added[group][1] += change

    def forget(self, group, trained):
        """The fresh worker trains the group's unfinished runs from the start: what the dead one added is
        taken back, and the group's estimate becomes that of those runs alone."""
        done, change = self.added.pop(group, (0.0, 0.0))
        remaining = unfinished_part(group, set(trained))
        remaining_cost = group_cost(remaining, self.settings, self.parameter_counts) if remaining else 0.0
        self.done -= done
        self.total += remaining_cost - group_cost(group, self.settings, self.parameter_counts) - change

    def show(self, runs_done):
        if self.report:
            self.report(self.done, self.total, runs_done, self.runs_total)


class _GroupTraining:
    """train_groups' state and steps: start workers, hand out groups, receive events, bury the dead."""

    def __init__(self, groups, settings, data, out_dir, jobs, command, progress, trained, warn, task, network_file):
        self.settings, self.data, self.out_dir, self.jobs, self.command = settings, data, out_dir, jobs, command
        self.trained, self.warn, self.task, self.network_file = trained, warn, task, network_file
        self.runs_dir = os.path.join(out_dir, "runs")
        parameter_counts = network_file.parameter_counts if network_file else {}
        self.progress = _Progress(groups, settings, parameter_counts, progress)
        # Spawned, not forked: TensorFlow's runtime does not survive a fork.
        self.context = multiprocessing.get_context("spawn")
        self.todo = collections.deque(sorted(groups, key=lambda group: group_cost(group, settings, parameter_counts),
                                             reverse=True))
        self.workers, self.held_elsewhere, self.deaths = [], [], collections.Counter()
        self.said = set()  # What workers asked to be said once (TrainedSeedBySeed).
        self.stop = None  # The exception to raise once the groups in flight have finished.

    def start(self, first_groups):
        started = []
        for group in first_groups:
            connection, child_end = self.context.Pipe()
            process = self.context.Process(target=worker_main, daemon=True, args=(
                child_end, self.task, self.settings, self.out_dir, self.command, self.network_file))
            process.start()
            child_end.close()
            started.append(_Worker(process, connection, group))
            self.workers.append(started[-1])
        # Each worker starts up while the data is sent to the others.
        for worker in started:
            self.send(worker, self.data)
            self.send(worker, worker.group)

    @staticmethod
    def send(worker, message):
        try:
            worker.connection.send(message)
        except OSError:  # Dead already: its sentinel says so.
            pass

    def hand_out(self, worker):
        worker.group = self.todo.popleft() if self.todo and self.stop is None else None
        self.send(worker, worker.group)

    def receive(self, worker):
        """Handles every event the worker has sent so far."""
        while worker.connection is not None and worker.connection.poll():
            try:
                event = worker.connection.recv()
            except (EOFError, OSError):  # The worker has ended; a message cut short by its death is dropped.
                worker.connection.close()
                worker.connection = None
                return
            if isinstance(event, EpochTrained):
                self.progress.epoch_trained(worker.group, event)
            elif isinstance(event, Replanned):
                self.progress.replanned(worker.group, event)
            elif isinstance(event, RunSaved):
                self.trained.append(event.key)
            elif isinstance(event, TrainedSeedBySeed):
                self.progress.trained_seed_by_seed(worker.group, event.todo)
                if event.reason not in self.said:
                    self.said.add(event.reason)
                    self.warn(event.reason)
                continue
            elif isinstance(event, GroupDone):
                if not event.held:
                    self.held_elsewhere.append(worker.group)
                self.hand_out(worker)
                continue
            elif isinstance(event, WorkerFailed):
                self.stop = self.stop or self.failure_exception(worker.group, event)
                worker.group = None
                continue
            self.progress.show(len(self.trained))

    def failure_exception(self, group, failure):
        where = (f"training {describe_group(group)} (schedules {', '.join(group.schedules)})" if failure.started
                 else "starting up")
        saved = f"finished runs are saved in {self.runs_dir}"
        if failure.kind == "save":
            return StudyError(failure.cause)
        if failure.kind == "memory":
            return WorkerFailure(f"a worker ran out of memory {where} ({failure.cause}); {saved}: "
                                 "run the same command again to resume, with fewer --jobs", 3)
        return WorkerFailure(f"a worker failed {where}: {failure.cause}; {saved}: run the same command again to "
                             "resume, and report the failure if it comes back", 1)

    def bury(self, worker):
        """A worker has ended: its group is retried once in a fresh worker, or the study stops."""
        self.receive(worker)  # What it sent before it ended.
        worker.process.join()
        self.workers.remove(worker)
        if worker.connection is not None:
            worker.connection.close()
        group, exitcode = worker.group, worker.process.exitcode
        if group is None:
            return
        self.deaths[group] += 1
        what = f"the worker training {describe_group(group)} (pid {worker.process.pid}) {describe_end(exitcode)}"
        if self.deaths[group] == 1 and self.stop is None:
            self.warn(f"{what}, {likely_cause(exitcode)}; finished runs are kept and the group is retried in a "
                      "fresh worker")
            self.progress.forget(group, self.trained)
            self.start([group])
        elif self.deaths[group] == 1:
            self.warn(f"{what}, {likely_cause(exitcode)}; finished runs are kept, and the group is left for the "
                      "next run")
        else:
            self.stop = self.stop or WorkerFailure(
                f"{what}, the second worker to die on that group, {likely_cause(exitcode)}. The study stopped "
                f"once the other groups in flight were done; finished runs are saved in {self.runs_dir}: run the "
                "same command again to resume", 3)

    def run(self):
        try:
            self.start([self.todo.popleft() for _ in range(min(self.jobs, len(self.todo)))])
            while self.workers:
                waiting = {worker.process.sentinel: worker for worker in self.workers}
                waiting.update({worker.connection: worker for worker in self.workers
                                if worker.connection is not None})
                ready = multiprocessing.connection.wait(list(waiting))
                for handle in ready:
                    if handle in waiting and not isinstance(handle, int):
                        self.receive(waiting[handle])
                for handle in ready:
                    if isinstance(handle, int) and waiting[handle] in self.workers:
                        self.bury(waiting[handle])
        finally:
            for worker in self.workers:  # Interrupted: the workers stop with the study.
                worker.process.terminate()
            for worker in self.workers:
                worker.process.join()
                if worker.connection is not None:
                    worker.connection.close()
        if self.stop is not None:
            raise self.stop
        return self.held_elsewhere


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
    return _GroupTraining(groups, settings, data, out_dir, jobs, command, progress, trained, warn, task,
                          network_file).run()


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
        learning_rates={name: optimizer_record(name).base_learning_rate(settings) for name in selection.optimizers},
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
    stacked_archs = stacked_architectures(selection, settings)
    while True:
        finished, provenance, newly_rejected = load_finished_runs(runs_dir, settings)
        rejected += newly_rejected
        groups = plan_groups(selection, finished, shard, stacked_archs)
        if not groups:
            break
        for group in train_groups(groups, settings, data, out_dir, jobs, command, progress, trained, warn,
                                  network_file=network_file):
            # Wait for the other process to finish or die, then look again.
            for seed in group.seeds:
                with claim(claim_path(out_dir, group.arch, group.optimizer, seed), wait=True):
                    pass
    results = assemble_results(settings, selection, finished, command, provenance)
    save_atomically(results, os.path.join(out_dir, "results.pickle"))
    trained_here = set(trained)
    report = {"trained": trained, "reused": [key for key in results["runs"] if key not in trained_here],
              "rejected": rejected}
    return results, report
