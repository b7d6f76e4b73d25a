"""Don't decay the learning rate, increase the batch size: the study on MNIST.

Trains three small networks (a 300-unit MLP, a 500-150 MLP and LeNet-5) with
plain SGD and with Adam under three schedules that shrink the SGD noise scale
g = lr * N / (B * (1 - m)) by the same factor at every stage:

    dlr  decaying learning rate   lr / 5^s,        batch 4
    ibs  increasing batch size    lr,              batch 4 * 5^s
    hyb  hybrid                   lr / sqrt(5)^s,  batch round(4 * sqrt(5)^s)

for 12 epochs in 4 stages of 3, and records test accuracy after every epoch.
That is the original study and the default. The paper's further claims are
opt-in: SGD with momentum and with Nesterov momentum, and RMSprop
(--optimizers), and two
schedules that take even fewer updates at the same noise scale (--schedules).
The schedules of one (network, optimizer, seed) start from the same weights
and see the same example order, so their curves can be compared pair by pair.
--noise-scale exact matches the schedules on the exact noise scale
g = lr * (N / B - 1) / (1 - m) instead, and --momentum M sets the momentum
coefficient of momentum and nesterov (study.py says how). --measure-noise
records the gradient noise scale B_simple after every epoch
(gradient_noise.py), without changing training; --schedules ibs_auto grows
the batch at each stage to --auto-kappa times the B_simple just measured
(ibs_auto_lr also raises the learning rate with it).
Any Keras model can join the three networks: --networks FILE names a Python
file that defines NETWORKS, imported and run as the user's own code.

This file is the command line. Behind it, in batchgrow/ (the vocabulary that
plots.py shares) and batchgrow/training/:

    batchgrow/study.py           Settings, the networks' names, the margin and the metrics
    batchgrow/optimizers.py      an optimizer as a record, and the noise scale
    batchgrow/schedules.py       a schedule as a record, and every epoch's plan
    batchgrow/gradient_noise.py  the gradient noise scale's estimator (--measure-noise)
    batchgrow/provenance.py      the machines and versions that trained the runs
    batchgrow/training/mnist.py      MNIST, read and checked
    batchgrow/training/networks.py   the networks: Keras models, the built-in ones with their
                                     backward passes written out; a --networks file read and checked
    batchgrow/training/training.py   the optimizer and the training of one seed's runs
    batchgrow/training/grid.py       which runs, in which worker processes, assembled into a study
    batchgrow/training/costs.py      the cost model that orders the work and estimates the time left
    batchgrow/training/runfiles.py   the run files and the claims that let processes share a folder

usage: python main.py [--seeds N] [--archs ...] [--jobs J] [--out DIR] ...
       python main.py --help
"""
import argparse
import dataclasses
import os
import signal
import sys
import time

from batchgrow.training.mnist import DEFAULT_DATA, DataError, check_sizes, data_fingerprint, load_mnist, prepare_data
from batchgrow.training.costs import unmeasured
from batchgrow.training.grid import NetworkFile, Selection, WorkerFailure, parse_shard, run_study, stacking_note
from batchgrow.optimizers import ALL_OPTIMIZERS, MOMENTUM_OPTIMIZERS, NOISE_SCALE_FORMS, OPTIMIZERS, optimizer_record
from batchgrow.training.runfiles import StudyError
from batchgrow.schedules import (ADAPTIVE_SCHEDULES, ALL_SCHEDULES, AUTO_KAPPA_RULE, NOISE_MATCHED_SCHEDULES,
                                 REFERENCE_SCHEDULE, SCHEDULES, calibration_controls, check_auto_kappa,
                                 noise_scale_form_problem, schedule_record)
from batchgrow.study import (ARCHITECTURES, BACKWARD_PASSES, BETA_SCALINGS, CALIBRATION_FIRST_SEED, CALIBRATION_FOLDER,
                             DEFAULT_DATA_NAME, USER_SETTINGS, Settings, momentum_settings, parse_setting)


# ----------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------
class ProgressBar:
    """A one-line bar with an estimate of the time left, on stderr."""

    def __init__(self, stream=None):
        stream = stream or sys.stderr  # The sys.stderr of the moment, should it have been replaced.
        self.stream, self.start, self.last_decile = stream, time.perf_counter(), -1
        self.interactive = stream.isatty()
        self.mid_line = False  # A terminal's bar is redrawn in place, without a newline.

    def __call__(self, done_cost, total_cost, runs_done, runs_total):
        fraction = min(done_cost / total_cost, 1.0) if total_cost else 1.0
        elapsed = time.perf_counter() - self.start
        remaining = elapsed * (1 - fraction) / fraction if fraction > 0 else float("nan")
        width = 30
        bar = "#" * int(width * fraction) + "-" * (width - int(width * fraction))
        line = (f"[{bar}] {100 * fraction:3.0f}%  {runs_done}/{runs_total} runs  "
                f"{format_duration(elapsed)} elapsed, about {format_duration(remaining)} left")
        if self.interactive:
            self.stream.write("\r" + line + ("\n" if runs_done == runs_total else ""))
            self.mid_line = runs_done != runs_total
        elif int(10 * fraction) > self.last_decile or runs_done == runs_total:
            # A log file gets a line every tenth of the way, not a flood.
            self.last_decile = int(10 * fraction)
            self.stream.write(line + "\n")
        self.stream.flush()

    def say(self, line):
        """Writes a line of its own, below the bar, which is redrawn with the next progress."""
        self.stream.write(("\n" if self.mid_line else "") + line + "\n")
        self.stream.flush()
        self.mid_line = False

    def warn(self, text):
        self.say(f"main.py: warning: {text}")


def format_duration(seconds):
    if seconds != seconds:  # Not a number: nothing measured yet.
        return "?:??"
    minutes, seconds = divmod(int(round(seconds)), 60)
    return f"{minutes}:{seconds:02d}"


class ArgumentParser(argparse.ArgumentParser):
    """argparse, but a usage error is one line: the message and where to look."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def name_list(choices):
    """A comma list of names from choices, or of any names with choices None (checked later)."""
    def parse(text):
        names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
        unknown = [name for name in names if choices is not None and name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of {', '.join(choices or ('names',))}")
        return names
    return parse


def count(minimum, maximum=None):
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum or (maximum is not None and value > maximum):
            upper = f" and at most {maximum:,}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"{value} is out of range: it must be at least {minimum}{upper}")
        return value
    return parse


def seed_range(text):
    """--seeds N (seeds 0 to N-1) or A-B (seeds A to B, both included): the seeds, as a tuple."""
    first, dash, last = text.partition("-")
    if not dash:
        return tuple(range(count(1)(text)))
    try:
        first, last = int(first), int(last)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not N or A-B with whole numbers A <= B") from None
    if not 0 <= first <= last:
        raise argparse.ArgumentTypeError(f"{text!r} is not A-B with 0 <= A <= B")
    return tuple(range(first, last + 1))


def as_float(text):
    """The number text names, or nan when it names none (every check below refuses nan)."""
    try:
        return float(text)
    except ValueError:
        return float("nan")


def learning_rate(text):
    value = as_float(text)
    if not 0 < value < float("inf"):  # Also refuses nan.
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive learning rate")
    return value


def momentum_coefficient(text):
    value = as_float(text)
    if value != value:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number")
    try:
        momentum_settings(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text} is out of range: a momentum coefficient is at least 0 "
                                         "and below 1") from None
    return value


def auto_kappa(text):
    value = as_float(text)
    try:
        check_auto_kappa(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not valid: {AUTO_KAPPA_RULE}") from None
    return value


def user_setting(text):
    try:
        return parse_setting(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def shard_argument(text):
    try:
        return parse_shard(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def parse_args(argv=None):
    defaults = Settings()
    parser = ArgumentParser(
        prog="main.py",
        description="Train every (architecture, optimizer, schedule, seed) of the study and pickle the results. "
                    "Finished runs in --out are kept and reused: rerun the same command to resume.",
        epilog="exit status: 0 done; 2 bad flags, data, --networks file or --out; 3 a group whose worker died "
               "twice, or out of memory; 1 any other failure; 130 interrupted")
    parser.add_argument("--archs", type=name_list(None), default=None,
                        help=f"comma list of networks: {', '.join(ARCHITECTURES)} and those of --networks "
                             "(default: all of them)")
    parser.add_argument("--networks", metavar="FILE", default=None,
                        help="a Python file that defines NETWORKS = {name: function returning an uncompiled Keras "
                             "model from (batch, 28, 28) images to a 10-way softmax}; it is imported, in every "
                             "worker, as your own code, and its path and sha256 go into every run's provenance")
    parser.add_argument("--backward", choices=BACKWARD_PASSES, default=defaults.backward,
                        help="written: the built-in networks' written-out backward passes (the others take the "
                             "tape); tape: tf.GradientTape for every network, to compare the two "
                             "(a setting: use a separate --out) (default: %(default)s)")
    parser.add_argument("--optimizers", type=name_list(ALL_OPTIMIZERS), default=",".join(OPTIMIZERS),
                        help=f"comma list of {', '.join(ALL_OPTIMIZERS)}: momentum and nesterov are SGD with "
                             "(Nesterov) momentum 0.9 at learning rate 0.001, or as --momentum sets; rmsprop is "
                             "Keras's RMSprop at its defaults (default: %(default)s)")
    parser.add_argument("--schedules", type=name_list(ALL_SCHEDULES), default=",".join(SCHEDULES),
                        help=f"comma list of {', '.join(ALL_SCHEDULES)}: ibs_lr raises the learning rate and "
                             "ibs_mom the momentum coefficient (momentum and nesterov only) instead of starting "
                             "at batch 4; ibs_auto grows the batch to --auto-kappa times the measured noise scale "
                             "B_simple at each stage (and turns on --measure-noise), and ibs_auto_lr raises the "
                             "learning rate with it to keep dlr's noise scale; seesaw (lr / sqrt(5), batch x 5 a "
                             "stage) and dlr_sqrt (lr / sqrt(5), batch held) are the square-root rule's matches "
                             "for Adam and RMSprop and controls for SGD; const, ibs_slow and ibs_fast "
                             "are controls whose noise scale departs from dlr's on purpose; ibs_hl, seesaw_hl and "
                             "hl_a125 to hl_a375 (lr / 5^a, batch x 5) hold Adam's and RMSprop's half-lives in "
                             "examples (setting --beta-scaling schedule); dlr_ulp is the floor, dlr from weights one "
                             "float32 step away; dlr_s2_x2, _d2, _xr2, _dr2 are dlr with stage 2's lr x 2, / 2, "
                             "x sqrt 2, / sqrt 2, the adaptive optimizers' calibration (default: %(default)s)")
    parser.add_argument("--seeds", type=seed_range, default=tuple(range(5)), metavar="N|A-B",
                        help="the seeds: N runs seeds 0 to N-1, A-B seeds A to B, for example 5-19 to confirm "
                             "on seeds that a rule was not fitted on (default: 5)")
    parser.add_argument("--calibrate", action="store_true",
                        help="also train the controls that calibrate the margin δ of the training-loss verdicts "
                             "on this study's data and settings, on seeds of their own (from "
                             f"{CALIBRATION_FIRST_SEED}), into OUT/{CALIBRATION_FOLDER}: for sgd ibs_fast and "
                             "ibs_slow, for adam and rmsprop dlr_s2_x2, _d2, _xr2 and _dr2, each with dlr; "
                             "plots.py then judges the study by them (needed for a verdict on data other than "
                             "MNIST)")
    parser.add_argument("--epochs-per-stage", type=count(1), default=defaults.epochs_per_stage,
                        help="epochs in each of the 4 stages (default: %(default)s)")
    parser.add_argument("--train-size", type=count(1, 60_000), default=defaults.train_size,
                        help="use the first N training images (default: %(default)s)")
    parser.add_argument("--test-size", type=count(1, 10_000), default=defaults.test_size,
                        help="use the first N test images (default: %(default)s)")
    parser.add_argument("--base-batch-size", type=count(1), default=defaults.base_batch_size,
                        help="batch size of the first stage, which ibs and hyb grow (default: %(default)s)")
    parser.add_argument("--jobs", type=count(1), default=None,
                        help="worker processes, each on one thread (default: the number of CPU cores)")
    parser.add_argument("--out", default="results",
                        help="folder for results.pickle and runs/; finished runs there are reused, and several "
                             "processes may share it (default: %(default)s, which holds the committed study)")
    parser.add_argument("--data", default=None,
                        help="an MNIST-layout .npz (x_train, y_train, x_test, y_test); "
                             "default: data/mnist.npz, checked against its checksum")
    parser.add_argument("--data-name", default=None, metavar="NAME",
                        help="the data's name in tables and titles (default: MNIST for the vendored file, "
                             "else the --data file's name without .npz)")
    parser.add_argument("--shard", type=shard_argument, default=None, metavar="K/N",
                        help="run only the K-th of N slices of the grid (K from 1 to N), for job arrays (default: all)")
    parser.add_argument("--noise-scale", choices=NOISE_SCALE_FORMS, default=defaults.noise_scale,
                        help="the form of the noise scale that the schedules match: approx, the paper's "
                             "g = lr N / (B (1 - m)), or exact, g = lr (N/B - 1) / (1 - m), for which "
                             f"{', '.join(NOISE_MATCHED_SCHEDULES)} keep their learning rate and momentum "
                             "and solve their batch size for dlr's g (default: %(default)s)")
    parser.add_argument("--learning-rate", type=learning_rate, default=None, metavar="LR",
                        help="plain SGD's base learning rate; momentum and nesterov take LR (1 - m), so that "
                             "lr / (1 - m) stays plain SGD's; Adam keeps its own "
                             f"(default: {defaults.sgd_learning_rate:g})")
    parser.add_argument("--momentum", type=momentum_coefficient, default=None, metavar="M",
                        help="base momentum coefficient of momentum and nesterov, at learning rate "
                             "0.01 (1 - M), or LR (1 - M) with --learning-rate, so that lr / (1 - m) stays "
                             "plain SGD's (default: "
                             f"{defaults.momentum_coefficient:g} at {defaults.momentum_learning_rate:g})")
    parser.add_argument("--measure-noise", action="store_true",
                        help="measure the gradient noise scale B_simple = tr(Sigma) / |G|^2 (McCandlish et al. "
                             f"2018) after every epoch: {defaults.noise_draws} draws of batches of "
                             f"{defaults.noise_small_batch} and {defaults.noise_big_batch} from "
                             f"{defaults.noise_population:,} training examples per seed; training is unchanged "
                             "(a setting: use a separate --out)")
    parser.add_argument("--auto-kappa", type=auto_kappa, default=None, metavar="K",
                        help="ibs_auto's and ibs_auto_lr's batch at each stage boundary: K times the B_simple "
                             "just measured, rounded, never smaller than before and at most the training set; K > 0 "
                             f"(default: {defaults.auto_kappa:g}, aiming at McCandlish et al.'s critical batch "
                             "B_crit ~ B_simple; a setting: use a separate --out)")
    parser.add_argument("--beta-scaling", choices=BETA_SCALINGS, default=defaults.beta_scaling,
                        help="samples: each epoch's beta_1 and beta_2 of Adam and rho of RMSprop are the base value "
                             "to the power B / B0 (batch over base batch), so that their half-lives stay fixed in "
                             "examples (Marek et al. 2025), in every schedule; schedule: only in the schedules "
                             "whose rule holds them (seesaw_hl, ibs_hl, hl_a125, ...; asking for one sets it), "
                             "with one bias-correction arithmetic for every run, dlr too; the SGD family has none "
                             "and trains as without it (a setting: use a separate --out) (default: %(default)s)")
    parser.add_argument("--stack-seeds", action="store_true",
                        help="train the seeds of each LeNet-5 cell as one model with a leading seed dimension, "
                             "each seed on its own initial weights, example order and optimizer state: the same "
                             "runs up to rounding, in less time (benchmarks/README.md); the MLPs, --measure-noise "
                             "and the adaptive schedules, --backward tape and TF_ENABLE_ONEDNN_OPTS=0 train seed "
                             "by seed, as main.py says once (a setting: use a separate --out)")
    parser.add_argument("--original-optimizer-reset", action="store_true",
                        help="reproduce the original code's flaw: a fresh optimizer at every epoch for dlr and hyb, "
                             "which resets Adam's moments and step count (use a separate --out)")
    parser.add_argument("--set", type=user_setting, action="append", default=[], metavar="NAME=VALUE",
                        help="set any setting, repeatable, e.g. --set adam_learning_rate=0.003 --set adam_epsilon=1e-8; "
                             f"NAME is one of {', '.join(USER_SETTINGS)}; applied after the flags above, and "
                             "recorded with the runs like them (use a separate --out)")
    args = parser.parse_args(argv)
    # A --set of a setting that has its own flag stands for that flag, so that the checks below see it;
    # the others are applied to the settings last (settings_from_arguments).
    flagged = {name for name in vars(args) if name != "set"}
    for name, value in args.set:
        if name in flagged:
            setattr(args, name, value)
    args.set = [(name, value) for name, value in args.set if name not in flagged]
    try:
        Selection(optimizers=args.optimizers, schedules=args.schedules).check()
    except ValueError as error:
        parser.error(str(error))
    if args.momentum is not None and not set(args.optimizers) & set(MOMENTUM_OPTIMIZERS):
        parser.error(f"--momentum sets the momentum coefficient of {' and '.join(MOMENTUM_OPTIMIZERS)}; "
                     "add one of them to --optimizers")
    if args.calibrate:
        check_calibration(args, parser)
    adaptive = [schedule for schedule in args.schedules if schedule in ADAPTIVE_SCHEDULES]
    if args.auto_kappa is not None and not adaptive:
        parser.error(f"--auto-kappa sets the batch rule of {' and '.join(ADAPTIVE_SCHEDULES)}; "
                     "add one to --schedules")
    problems = [noise_scale_form_problem(name, args.noise_scale) for name in args.schedules]
    if any(problems):
        parser.error(next(problem for problem in problems if problem))
    scaling = [name for name in ALL_OPTIMIZERS if optimizer_record(name).scaled_constants]
    if args.beta_scaling != "none" and not set(args.optimizers) & set(scaling):
        parser.error(f"--beta-scaling scales the betas of {' and '.join(scaling)}; add one to --optimizers")
    if args.data_name is not None and (not args.data_name.strip() or not args.data_name.isprintable()):
        parser.error(f"--data-name takes a name of printable characters on one line; got {args.data_name!r}")
    args.data_name = data_name(args.data, args.data_name)
    # An adaptive schedule decides its batches from the measured noise scale.
    args.measure_noise = args.measure_noise or bool(adaptive)
    # A schedule with half-lives in its rule needs the study to hold the constants as variables, with one
    # bias-correction arithmetic for every schedule; "samples" already holds every schedule's.
    if args.beta_scaling == "none" and any(schedule_record(name).half_lives for name in args.schedules) \
            and set(args.optimizers) & set(scaling):
        args.beta_scaling = "schedule"
    user_networks = read_user_networks(args.networks, parser) if args.networks is not None else {}
    known = ARCHITECTURES + tuple(user_networks)
    if any(name not in known for name in args.archs or ()):
        parser.error(f"argument --archs: {','.join(args.archs)!r} is not a comma list of {', '.join(known)}")
    args.archs = args.archs or known
    args.network_file = None
    if args.networks is not None:
        args.network_file = check_user_networks(
            args.networks, {name: user_networks[name] for name in args.archs if name in user_networks}, parser)
    return args


def check_calibration(args, parser):
    """Refuse a --calibrate that could calibrate nothing, or whose seeds would meet the study's."""
    if not any(calibration_controls(optimizer) for optimizer in args.optimizers):
        parser.error(f"--calibrate has no rule for {', '.join(args.optimizers)}; it calibrates "
                     + ", ".join(name for name in ALL_OPTIMIZERS if calibration_controls(name)))
    if len(args.seeds) < 2:
        parser.error("--calibrate needs 2 seeds or more: a margin is read from the spread of paired seeds")
    if max(args.seeds) >= CALIBRATION_FIRST_SEED:
        parser.error(f"--calibrate trains its controls on seeds from {CALIBRATION_FIRST_SEED}; "
                     f"the study's --seeds must stay below it")


def calibration_selection(selection):
    """The runs of a study's calibration: each calibrated optimizer's dlr and controls on every network, on as
    many seeds as the study has, from study.CALIBRATION_FIRST_SEED."""
    optimizers = tuple(optimizer for optimizer in selection.optimizers if calibration_controls(optimizer))
    per_optimizer = tuple((optimizer, (REFERENCE_SCHEDULE,) + calibration_controls(optimizer))
                          for optimizer in optimizers)
    schedules = tuple(dict.fromkeys(schedule for _, schedules in per_optimizer for schedule in schedules))
    seeds = tuple(range(CALIBRATION_FIRST_SEED, CALIBRATION_FIRST_SEED + len(selection.seeds)))
    return Selection(selection.archs, optimizers, schedules, seeds, per_optimizer)


def read_user_networks(path, parser):
    """{name: function} of a --networks file; one line and status 2 if it cannot be used. Imports TensorFlow."""
    if not os.path.isfile(path):  # Said before TensorFlow is imported to read the file.
        parser.exit(2, f"main.py: error: --networks {path}: no such file; pass a Python file that defines "
                       "NETWORKS\n")
    from batchgrow.training import networks
    try:
        return networks.read_network_file(path)
    except networks.NetworkFileError as error:
        parser.exit(2, f"main.py: error: {error}\n")


def check_user_networks(path, builders, parser):
    """The selected networks of a --networks file, each built and tried before any training, as a NetworkFile."""
    from batchgrow.training import networks
    counts = {}
    try:
        for name, build in builders.items():
            counts[name] = networks.check_network(name, build, path)
    except networks.NetworkFileError as error:
        parser.exit(2, f"main.py: error: {error}\n")
    networks.keras.backend.clear_session()
    return NetworkFile(path, networks.file_sha256(path), counts)


def describe_reuse(report, provenance, runs_dir):
    """The closing line's account of the work: runs trained here, runs reused and who trained them."""
    text = f"trained {len(report['trained'])} and reused {len(report['reused'])} runs"
    if report["reused"]:
        records = [provenance.get(key) for key in report["reused"]]
        machines = sorted({record["machine"].split(",")[0] if record else "a machine not recorded (older run files)"
                           for record in records})
        dates = sorted(record["date"][:10] for record in records if record)
        when = f", {dates[0]}" + (f" to {dates[-1]}" if dates[-1] != dates[0] else "") if dates else ""
        text += f" from {runs_dir} (trained on {' and '.join(machines)}{when})"
    return text


def data_name(path, name=None):
    """The data's name: name if given, else MNIST for the vendored file, else the file's name without .npz."""
    if name is not None:
        return name.strip()
    if path is None or os.path.realpath(path) == os.path.realpath(DEFAULT_DATA):
        return DEFAULT_DATA_NAME
    base = os.path.basename(path)
    return base[:-len(".npz")] if base.endswith(".npz") and len(base) > len(".npz") else base


def settings_from_arguments(args, arrays):
    """The study's Settings from the command line and the data; DataError if the data is too small."""
    check_sizes(arrays, args.train_size, args.test_size)
    sgd_learning_rate = Settings.sgd_learning_rate if args.learning_rate is None else args.learning_rate
    momentum = {}
    if args.momentum is not None or args.learning_rate is not None:
        coefficient = Settings.momentum_coefficient if args.momentum is None else args.momentum
        momentum = momentum_settings(coefficient, sgd_learning_rate)
    settings = Settings(train_size=args.train_size, test_size=args.test_size,
                        epochs_per_stage=args.epochs_per_stage, base_batch_size=args.base_batch_size,
                        original_optimizer_reset=args.original_optimizer_reset, noise_scale=args.noise_scale,
                        data_fingerprint=data_fingerprint(arrays), backward=args.backward,
                        sgd_learning_rate=sgd_learning_rate, measure_noise=args.measure_noise,
                        auto_kappa=Settings.auto_kappa if args.auto_kappa is None else args.auto_kappa,
                        data_name=args.data_name, beta_scaling=args.beta_scaling, stack_seeds=args.stack_seeds,
                        **momentum)
    # The settings --set gives that no flag has: the last word on them.
    return dataclasses.replace(settings, **dict(args.set))


def estimate_note(network_file):
    """The one line that says which networks' costs are estimated, or None."""
    estimated = unmeasured(network_file.parameter_counts) if network_file else []
    if not estimated:
        return None
    counts = ", ".join(f"{name} ({network_file.parameter_counts[name]:,} parameters)" for name in estimated)
    return (f"main.py: note: the cost model, which orders the work and estimates the time left, has no timings "
            f"of {counts}; it estimates them from the parameter count")


def changed_network_warnings(results, report, network_file):
    """Warnings for reused runs of a --networks network that a file with another sha256 trained."""
    warnings = []
    for name in (network_file.parameter_counts if network_file else {}):
        others = [key for key in report["reused"] if key[0] == name
                  and ((results["provenance"].get(key) or {}).get("networks_file") or {}).get("sha256")
                  != network_file.sha256]
        if others:
            warnings.append(f"main.py: warning: {len(others)} reused runs of {name} were trained with another "
                            f"version of its --networks file (or none recorded); pass a fresh --out to retrain")
    return warnings


def report_lines(results, report, out_dir, seconds, network_file=None):
    """What main.py says when a study is done: warnings first (for stderr), then the account (stdout)."""
    warnings = [f"main.py: warning: {rejected_file} was not used ({reason}); "
                f"{'moved to ' + moved_to if moved_to else 'set aside'} and its run trained again"
                for rejected_file, reason, moved_to in report["rejected"]]
    warnings += changed_network_warnings(results, report, network_file)
    path = os.path.join(out_dir, "results.pickle")
    runs_dir = os.path.join(out_dir, "runs")
    lines = [f"{len(results['runs'])} runs in {path}: {describe_reuse(report, results['provenance'], runs_dir)} "
             f"({seconds:.0f} s)."]
    if report["reused"] and not report["trained"]:
        lines.append(f"Nothing was trained: every run was already in {runs_dir}. To retrain from scratch, "
                     "pass a fresh --out folder.")
    if results["missing"]:
        lines.append(f"{len(results['missing'])} runs of the selection are not in {out_dir} yet "
                     "(other shards?); copy their runs/ files here and rerun to complete the pickle.")
    lines.append(f"Draw the figures with: python plots.py --results {path}")
    return warnings, lines


def main(argv=None):
    args = parse_args(argv)
    command = " ".join(["python main.py"] + list(sys.argv[1:] if argv is None else argv))
    progress = None

    def error(text):  # On a line of its own, below a progress bar drawn in place.
        if progress is not None:
            progress.say(f"main.py: error: {text}")
        else:
            print(f"main.py: error: {text}", file=sys.stderr)

    try:
        arrays = load_mnist(args.data)
        settings = settings_from_arguments(args, arrays)
        jobs = args.jobs or os.cpu_count() or 1
        selection = Selection(args.archs, args.optimizers, args.schedules, args.seeds)
        try:
            selection.check(settings)
        except ValueError as problem:  # A plan the optimizer cannot follow, refused before any training.
            raise StudyError(str(problem)) from None
        data = prepare_data(arrays, settings.train_size, settings.test_size)
        for note in (estimate_note(args.network_file), stacking_note(selection, settings)):
            if note:
                print(note, file=sys.stderr)
        start = time.perf_counter()
        progress = ProgressBar()
        results, report = run_study(settings, selection, data, args.out, jobs, args.shard, command, progress,
                                    progress.warn, args.network_file)
        calibration = None
        if args.calibrate:
            uncalibrated = [optimizer for optimizer in args.optimizers if not calibration_controls(optimizer)]
            if uncalibrated:
                print(f"main.py: note: no rule calibrates the own δ of {', '.join(uncalibrated)}; "
                      "their training loss is judged at SGD's δ alone", file=sys.stderr)
            calibration_out = os.path.join(args.out, CALIBRATION_FOLDER)
            progress = ProgressBar()
            calibration = (calibration_out, *run_study(
                settings, calibration_selection(selection), data, calibration_out, jobs, args.shard, command,
                progress, progress.warn, args.network_file))
    # Exit statuses: 2 the user's input (flags, data, --networks, --out), 3 a group
    # whose worker died twice or memory ran out, 1 any other failure, 130 interrupted.
    except (DataError, StudyError) as failure:
        error(failure)
        return 2
    except WorkerFailure as failure:
        error(failure)
        return failure.exit_status
    except MemoryError:
        error(f"out of memory; finished runs are saved in {os.path.join(args.out, 'runs')}. "
              "Run the same command again to resume, with fewer --jobs.")
        return 3
    except KeyboardInterrupt:
        print(f"\nmain.py: interrupted; finished runs are saved in {os.path.join(args.out, 'runs')}. "
              "Run the same command again to resume.", file=sys.stderr)
        return 130
    warnings, lines = report_lines(results, report, args.out, time.perf_counter() - start, args.network_file)
    if calibration is not None:
        more_warnings, more_lines = report_lines(calibration[1], calibration[2], calibration[0],
                                                 time.perf_counter() - start, args.network_file)
        warnings += more_warnings
        lines = lines[:-1] + ["Its calibration: " + more_lines[0]] + more_lines[1:-1] + lines[-1:]
    for line in warnings:
        print(line, file=sys.stderr)
    for line in lines:
        print(line)
    return 0


def interrupt_on_sigterm(signal_number, frame):
    """A kill unwinds like Ctrl-C, so that the worker processes stop too and finished runs stay."""
    raise KeyboardInterrupt


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, interrupt_on_sigterm)
    sys.exit(main())
