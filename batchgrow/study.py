"""The study's vocabulary: its settings, its networks' names, its margin and its metrics.

Everything here is plain Python, so that main.py's bookkeeping, plots.py and
the tests read one definition without importing TensorFlow or matplotlib.
The vocabulary is three modules: optimizers.py (an optimizer as a record, and
the noise scale), schedules.py (a schedule as a record, and every epoch's
plan) and this one:

- the codes of the networks and their display names;
- the equivalence margin and the level of its tests (the margin is argued in
  README.md, "Findings");
- Settings, the one frozen record of everything that can change a number,
  and of what is measured besides (the gradient noise scale's estimator);
- the one load-time migration step that brings run files and results pickles
  written by older versions of the code up to today's schema.

A new built-in network is a line in ARCHITECTURE_NAMES and an entry of
networks.NETWORKS (docs/adding.md, "Adding a network"). A user's own network, from
main.py --networks FILE, has no display name: figures and tables show its
code.
"""
import dataclasses

from batchgrow.optimizers import NOISE_SCALE_FORMS, is_known, optimizer_record

# ----------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------
# Display names of the networks, in the order that figures and tables list
# them. The optimizers' and the schedules' are in their records
# (optimizers.py, schedules.py).
ARCHITECTURE_NAMES = {"mlp300": "300-unit MLP", "mlp500_150": "500-150 MLP", "lenet5": "LeNet-5"}
ARCHITECTURES = tuple(ARCHITECTURE_NAMES)
# The networks whose seeds --stack-seeds trains as one stacked model (networks.stacked_loss_and_gradients).
# Issue 42's pilot found LeNet-5 1.86 times as fast per seed at 5 seeds and 2.75 at 20, and the MLPs no
# faster at all (benchmarks/README.md, "Stacking a cell's seeds"): their steps are a few large matmuls,
# with little per-op overhead to share.
STACKED_ARCHITECTURES = ("lenet5",)
# The data a study names in its tables and titles when --data is not given.
DEFAULT_DATA_NAME = "MNIST"

# The per-epoch lists every run records.
RUN_METRICS = ("test_accuracy", "test_loss", "train_loss", "learning_rate", "batch_size", "momentum",
               "updates", "seconds")
# The training loss of the model itself: the mean cross-entropy in inference mode on a fixed random subset
# of Settings.train_loss_images training images (all N if fewer), the same for every schedule of a seed,
# measured at the end of every stage (None at the other epochs) outside the timed seconds. Every run
# records it; a run file without it is trained again (runfiles.load_finished_runs).
TRAJECTORY_METRICS = ("full_train_loss",)
# The per-epoch lists a run measured with --measure-noise adds (gradient_noise.py): B_simple, |G|^2
# and tr(Sigma); a run of an optimizer that preconditions its gradients (Adam, RMSprop) adds them under its
# preconditioner too (Optimizer.preconditioner).
NOISE_METRICS = ("b_simple", "gradient_norm_sq", "gradient_variance")
PRECONDITIONED_NOISE_METRICS = ("b_simple_preconditioned", "gradient_norm_sq_preconditioned",
                                "gradient_variance_preconditioned")
# The per-epoch list a run of an adaptive schedule adds: the B_simple its stage's batch was chosen from
# (NaN in the first stage, which chooses nothing).
ADAPTIVE_METRICS = ("b_simple_chosen_from",)

# ----------------------------------------------------------------------------
# The equivalence margin
# ----------------------------------------------------------------------------
# Two schedules count as equivalent when their final test accuracies differ by
# less than this many percentage points, shown by two one-sided paired t-tests
# at EQUIVALENCE_ALPHA each (README.md, "Findings", says why this margin).
EQUIVALENCE_MARGIN_PP = 0.1
EQUIVALENCE_ALPHA = 0.05
# The second endpoint's margin delta on ln(L / L_dlr), the log ratio of the model's training loss to
# dlr's at every stage end (trajectory.py): a ratio from 0.942 to 1.062. Chosen by the rule REPORT.md
# states ("The margin δ"), from plain SGD's controls in results/trajectory_calibration: the smallest
# loss ratio that a two-fold error in one stage's noise scale gave, rounded down.
TRAJECTORY_MARGIN = 0.06
# The data that margin was calibrated on, by its digest (mnist.data_fingerprint): the vendored MNIST. How
# low the loss goes depends on the data, so the same two-fold error gives another log ratio elsewhere;
# on other data the margin is not declared, and no "same training" verdict is given (trajectory.study_margins).
CALIBRATED_DATA_FINGERPRINT = "06b0d1f124c4e5fa"
# The adaptive optimizers' own margins on that data, by SGD's rule transposed to the learning rate under
# each reading of "a two-fold error" (docs/predictions/calibration_adaptive.md, declared before its runs):
# what trajectory.optimizer_margins gives from results/calibration_adaptive, a test checks.
OWN_MARGINS = {("adam", "linear"): 0.15, ("adam", "square-root"): 0.0031,
               ("rmsprop", "linear"): 0.021, ("rmsprop", "square-root"): 0.026}
# A study's own calibration (main.py --calibrate): its controls train on seeds of their own, from this one
# on, so that no calibration run shares a seed with the runs it judges, in this folder inside the study's.
CALIBRATION_FIRST_SEED = 10_000
CALIBRATION_FOLDER = "calibration"
# The verdicts of that test, in the order tables and tallies list them.
VERDICTS = ("equivalent", "undecided", "not equivalent")

# What a run file or a pickle says of a machine or version it does not record.
NOT_RECORDED = "not recorded"


# ----------------------------------------------------------------------------
# Settings: everything that can change a number in the results
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Settings:
    # The original study used the first 20,000 training images, so that a run
    # at batch size 4 stays short; all 10,000 test images score every epoch.
    train_size: int = 20_000
    test_size: int = 10_000
    # 12 epochs in 4 stages of 3: the noise scale drops by stage_factor at
    # each stage boundary, as the learning rate would in a step decay.
    epochs_per_stage: int = 3
    num_stages: int = 4
    stage_factor: float = 5.0
    # Batch size 4 makes the first stage noisy enough for the later batch
    # growth (up to 500) to matter on a data set this small.
    base_batch_size: int = 4
    # The original's base learning rates; Adam's other settings are Keras's.
    sgd_learning_rate: float = 0.01
    adam_learning_rate: float = 0.001
    adam_beta_1: float = 0.9
    adam_beta_2: float = 0.999
    adam_epsilon: float = 1e-7
    # SGD with (Nesterov) momentum m = 0.9 at lr 0.001: lr / (1 - m) = 0.01,
    # plain SGD's rate, so every stage has plain SGD's noise scale and the
    # plain-SGD runs are their yardstick. --momentum M sets m = M at
    # lr 0.01 * (1 - M), which keeps that (momentum_settings).
    momentum_learning_rate: float = 0.001
    momentum_coefficient: float = 0.9
    # ibs_lr and ibs_mom start at a batch this many times the base and keep
    # the noise scale by raising lr, or dividing 1 - m, by the same factor.
    fewer_updates_factor: float = 5.0
    # The form of the noise scale that the schedules match (NOISE_SCALE_FORMS).
    noise_scale: str = "approx"
    # True reproduces the original code's flaw: a fresh optimizer at every
    # epoch for dlr and hyb, which throws away Adam's moments and step count.
    original_optimizer_reset: bool = False
    # Digest of the four data arrays, so runs on other data never mix.
    data_fingerprint: str = ""
    # How gradients are taken: "written" uses a network's written-out backward
    # pass where it has one (the built-in networks) and tf.GradientTape
    # otherwise; "tape" uses the tape for every network. The two differ by
    # float rounding only, but that is a difference in the numbers.
    backward: str = "written"
    # The gradient noise scale B_simple = tr(Σ) / |G|² (McCandlish et al. 2018), measured at the end of
    # every epoch when measure_noise is True (gradient_noise.py): from squared norms of mean gradients
    # at noise_small_batch and noise_big_batch examples (rounded down to a multiple of the small one),
    # noise_draws big batches drawn without replacement from a fixed random population of
    # noise_population training examples per seed. Measuring never changes training; these settings
    # are recorded as None when measure_noise is off (settings_record).
    measure_noise: bool = False
    noise_population: int = 4096
    noise_small_batch: int = 32
    noise_big_batch: int = 1024
    noise_draws: int = 1
    # The adaptive schedules' kappa: at each stage boundary the batch becomes kappa times the B_simple
    # just measured (the plain one, for Adam too: the rule follows SGD's noise scale).
    # McCandlish et al. (2018) find the critical batch B_crit, beyond which a larger batch stops
    # cutting the steps in proportion, close to B_simple; at B = B_crit training takes about twice
    # the fewest steps and twice the fewest examples. kappa = 1 aims at that balance. Any positive
    # finite kappa is valid (AUTO_KAPPA_RULE).
    auto_kappa: float = 1.0

    # RMSprop (opt-in) at Keras's defaults, without momentum.
    rmsprop_learning_rate: float = 0.001
    rmsprop_rho: float = 0.9
    rmsprop_epsilon: float = 1e-7
    # The images full_train_loss is measured on: a fixed random subset of this many training images per
    # seed (all of them if the training set is smaller). All 20,000 cost 12 % of `python main.py --seeds 1`
    # in CPU time, measured at the stage ends only; 5,000 cost about a quarter of that. The subset is the
    # same for every schedule of a seed, so the paired ratio to dlr compares one set of images.
    train_loss_images: int = 5_000
    # "samples" holds the half-lives of Adam's beta_1 and beta_2 and RMSprop's rho fixed in examples in
    # every schedule: each epoch's value is the base value to the power B / B0, its batch over the base
    # batch (Marek et al. 2025). "schedule" leaves it to each schedule: those with half-lives in their rule
    # (seesaw_hl, ibs_hl, the hl_a family) hold them, the others keep the constants; both keep Adam's bias
    # correction as running products in every run, so that every schedule of a study, dlr too, shares one
    # arithmetic and one dlr. "none" keeps the constants, with Keras's beta ** t.
    beta_scaling: str = "none"
    # The data's name in tables and titles: MNIST for the vendored file, else the file's name or
    # --data-name.
    data_name: str = DEFAULT_DATA_NAME
    # Whether the seeds of a cell train as one model with a leading seed dimension (--stack-seeds), each
    # seed on its own initial weights, example order and optimizer state, paying each kernel call's
    # overhead once for all of them (benchmarks/README.md, "Stacking a cell's seeds"). Only the networks
    # of STACKED_ARCHITECTURES stack; the other runs of such a study train seed by seed. A stacked seed
    # computes its own run in another order of additions, so its numbers differ from the unstacked
    # run's by rounding: a setting, so that a stacked study never reuses an unstacked one's runs.
    stack_seeds: bool = False

    @property
    def epochs(self):
        return self.epochs_per_stage * self.num_stages


SETTING_NAMES = tuple(field.name for field in dataclasses.fields(Settings))
BACKWARD_PASSES = ("written", "tape")
BETA_SCALINGS = ("none", "samples", "schedule")
# Settings of what is measured, never of how a run trains: a study with the
# measurement trains the same runs as one without it. The estimator's own
# settings are recorded only with measure_noise on, where they mean something.
MEASUREMENT_SETTINGS = ("measure_noise", "noise_population", "noise_small_batch", "noise_big_batch", "noise_draws")
NOISE_ESTIMATOR_SETTINGS = MEASUREMENT_SETTINGS[1:]

# ----------------------------------------------------------------------------
# Settings from the command line: --set NAME=VALUE
# ----------------------------------------------------------------------------
# Every setting a user may give with --set: all but the data's digest, which main.py computes from the data.
USER_SETTINGS = tuple(name for name in SETTING_NAMES if name != "data_fingerprint")
# The settings whose values are a fraction of 1: momentum and decay coefficients, in [0, 1).
FRACTION_SETTINGS = ("adam_beta_1", "adam_beta_2", "momentum_coefficient", "rmsprop_rho")
# The settings that take one of a few words, and those words.
WORD_SETTINGS = {"noise_scale": NOISE_SCALE_FORMS, "backward": BACKWARD_PASSES, "beta_scaling": BETA_SCALINGS}


def parse_setting(assignment):
    """(name, value) of a NAME=VALUE assignment of a user setting; ValueError, in one line, if it is not one.

    Whole numbers are at least 1; other numbers finite and positive, or in
    [0, 1) for FRACTION_SETTINGS; a flag true or false; a word one of
    WORD_SETTINGS' or, for data_name, any printable name.
    """
    name, equals, text = assignment.partition("=")
    name = name.strip()
    if not equals:
        raise ValueError(f"{assignment!r} is not NAME=VALUE")
    if name not in USER_SETTINGS:
        raise ValueError(f"no setting {name!r}; choose from {', '.join(USER_SETTINGS)}")
    kind = type(getattr(Settings(), name))
    if kind is bool:
        if text.lower() not in ("true", "false"):
            raise ValueError(f"{name} is true or false, not {text!r}")
        return name, text.lower() == "true"
    if kind is str:
        choices = WORD_SETTINGS.get(name)
        if choices is not None and text not in choices:
            raise ValueError(f"{name} is one of {', '.join(choices)}, not {text!r}")
        if not text.strip() or not text.isprintable():
            raise ValueError(f"{name} takes printable characters on one line, not {text!r}")
        return name, text
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"{name} takes {'a whole number' if kind is int else 'a number'}, not {text!r}") from None
    if kind is int and value < 1:
        raise ValueError(f"{name} is at least 1, not {value}")
    if name in FRACTION_SETTINGS and not 0 <= value < 1:
        raise ValueError(f"{name} is at least 0 and below 1, not {text}")
    if name not in FRACTION_SETTINGS and not 0 < value < float("inf"):  # Also refuses nan.
        raise ValueError(f"{name} is a finite positive number, not {text}")
    return name, value


def settings_record(settings):
    """The settings as run files and pickles store them: every field, and the format they are written in.

    The noise estimator's settings mean nothing in a study that does not
    measure, so there they are None: "not applicable", never a value that
    would keep such runs from being reused under other estimator settings.
    """
    record = {FORMAT_KEY: FORMAT_VERSION, **dataclasses.asdict(settings)}
    if not settings.measure_noise:
        record.update(dict.fromkeys(NOISE_ESTIMATOR_SETTINGS))
    return record


def momentum_settings(coefficient, sgd_learning_rate=Settings.sgd_learning_rate):
    """The settings of --momentum M: coefficient M at learning rate sgd_learning_rate * (1 - M).

    lr / (1 - m) then stays plain SGD's learning rate, and with it every
    stage's noise scale. The rate is rounded to 12 significant digits, so that
    M = 0.9 gives exactly the default 0.001 and not 0.0009999999999999998.
    Raises ValueError for an M outside [0, 1).
    """
    if not 0 <= coefficient < 1:  # Also refuses nan.
        raise ValueError(f"a momentum coefficient must be at least 0 and below 1; got {coefficient}")
    return {"momentum_coefficient": float(coefficient),
            "momentum_learning_rate": float(f"{sgd_learning_rate * (1 - coefficient):.12g}")}


# ----------------------------------------------------------------------------
# The format of run files and pickles, and files written by older versions of the code
# ----------------------------------------------------------------------------
# A file's settings say which format wrote them (FORMAT_KEY). Formats 2 and 3
# write every setting; format 3 added stack_seeds. Format 1, every file from before format 2 (they carry no
# version), left out the settings added after the first studies were
# committed whenever they were at their default, and any setting that did
# not exist yet. A left-out setting meant the value that the code of that
# format gave it, frozen below; reading an older file takes it from there,
# never from today's Settings, so that changing a default never relabels a
# committed run. A setting added later goes into Settings with its old
# behaviour as its default, FORMAT_VERSION goes up by one, and its value
# before it existed goes into OMITTED_SETTINGS under every earlier version.
#
# The history of per-run additions, which migrate_run_record fills in:
#   momentum (per-epoch metric)  added with SGD with (Nesterov) momentum; before
#                                it, plain SGD ran with m = 0 and Adam with its
#                                beta_1, the only optimizers there were.
#   provenance (per run)         added with run provenance; older runs have
#                                None, which reads as "not recorded".
# The noise estimator's settings are None wherever measure_noise is off, in
# every format (settings_record), so an unmeasured file is never reused for
# a study that measures.
FORMAT_KEY = "format_version"
FORMAT_VERSION = 3
OMITTED_SETTINGS = {
    1: {"train_size": 20_000, "test_size": 10_000, "epochs_per_stage": 3, "num_stages": 4, "stage_factor": 5.0,
        "base_batch_size": 4, "sgd_learning_rate": 0.01, "adam_learning_rate": 0.001, "adam_beta_1": 0.9,
        "adam_beta_2": 0.999, "adam_epsilon": 1e-7, "momentum_learning_rate": 0.001, "momentum_coefficient": 0.9,
        "fewer_updates_factor": 5.0, "noise_scale": "approx", "original_optimizer_reset": False,
        "data_fingerprint": "", "backward": "written", "measure_noise": False, "noise_population": 4096,
        "noise_small_batch": 32, "noise_big_batch": 1024, "noise_draws": 1, "auto_kappa": 1.0,
        "rmsprop_learning_rate": 0.001, "rmsprop_rho": 0.9, "rmsprop_epsilon": 1e-7, "train_loss_images": 5_000,
        "beta_scaling": "none", "data_name": DEFAULT_DATA_NAME, "stack_seeds": False},
    # Format 3 added stack_seeds: every run before it trained seed by seed.
    2: {"stack_seeds": False},
    3: {},
}


def _momentum_from_settings(optimizer_name, settings, epochs):
    """The momentum list of a run saved before the momentum was recorded."""
    return [float(optimizer_record(optimizer_name).base_momentum(settings))] * epochs


def format_problem(saved):
    """One line if a file's settings are of a format this code cannot read (a newer one), else None."""
    version = saved.get(FORMAT_KEY, 1)
    if version not in OMITTED_SETTINGS:
        return (f"its settings are in format {version!r}, which this version of the code does not know "
                f"(it reads {', '.join(map(str, OMITTED_SETTINGS))}); update the code")
    return None


def migrate_settings(saved):
    """A saved settings dict as today's format writes it: every setting, a left-out one at the value of the
    format that wrote the file (OMITTED_SETTINGS), never today's default. Raises ValueError for a format
    this code does not know."""
    problem = format_problem(saved)
    if problem:
        raise ValueError(problem)
    omitted = OMITTED_SETTINGS[saved.get(FORMAT_KEY, 1)]
    settings = {**{name: omitted[name] for name in SETTING_NAMES if name not in saved}, **saved,
                FORMAT_KEY: FORMAT_VERSION}
    if not settings["measure_noise"]:
        settings.update(dict.fromkeys(NOISE_ESTIMATOR_SETTINGS))
    return settings


def migrate_run_record(record):
    """A run file's record (key, settings, metrics[, provenance]) in today's schema.

    Returns a new dict; the record is not changed. The record must already
    have the shape of one (runfiles.run_record_problem checks that).
    """
    settings = migrate_settings(record["settings"])
    metrics = dict(record["metrics"])
    epochs = len(next(iter(metrics.values())))
    if "momentum" not in metrics:
        known = {name: settings[name] for name in SETTING_NAMES}
        metrics["momentum"] = _momentum_from_settings(record["key"][1], Settings(**known), epochs)
    return {**record, "settings": settings, "metrics": metrics, "provenance": record.get("provenance")}


def migrate_results(results):
    """A results pickle's dict in today's schema: every setting, per-run provenance, momentum lists.

    Returns a new dict, or the input unchanged when it is not shaped enough
    to migrate (the shape check that follows names what is wrong).
    """
    if not isinstance(results, dict) or not isinstance(results.get("config"), dict) \
            or not isinstance(results.get("runs"), dict):
        return results
    config = migrate_settings(results["config"])
    known = {name: config[name] for name in SETTING_NAMES}
    try:
        settings = Settings(**known)
    except TypeError:  # A field of the wrong type is for the shape check to name.
        return results
    config.setdefault("epochs", settings.epochs)
    optimizers = list(config.get("optimizers") or sorted({key[1] for key in results["runs"]
                                                          if isinstance(key, tuple) and len(key) == 4}))
    config.setdefault("learning_rates", {name: optimizer_record(name).base_learning_rate(settings) for name in optimizers
                                         if is_known(name)})
    runs = {}
    for key, run in results["runs"].items():
        if isinstance(run, dict) and "momentum" not in run and isinstance(key, tuple) and len(key) == 4 \
                and is_known(key[1]) and isinstance(run.get("learning_rate"), list):
            run = {**run, "momentum": _momentum_from_settings(key[1], settings, len(run["learning_rate"]))}
        runs[key] = run
    provenance = results.get("provenance")
    if not isinstance(provenance, dict):
        provenance = {key: None for key in runs}
    return {**results, "config": config, "runs": runs, "provenance": provenance,
            "missing": results.get("missing", [])}

