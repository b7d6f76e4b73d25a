"""The study's vocabulary: its names, its settings, its schedules and its margin.

Everything here is plain Python and numpy, so that main.py's bookkeeping,
plots.py and the tests read one definition without importing TensorFlow or
matplotlib:

- the codes of the networks, optimizers and schedules, and their display names;
- the equivalence margin and the level of its tests (the margin is argued in
  README.md, "Findings");
- Settings, the one frozen record of everything that can change a number,
  and of what is measured besides (the gradient noise scale's estimator);
- the stage schedule: the learning rate, batch size and momentum of every
  stage and epoch of a run, and the updates it takes, with the noise scale
  matched in its approximate or its exact form; and ibs_auto's rule, which
  grows the batch to kappa times the measured B_simple during the run;
- the one load-time migration step that brings run files and results pickles
  written by older versions of the code up to today's schema.

A new schedule is a branch of stage_schedule and a line in SCHEDULE_NAMES (and
in NOISE_MATCHED_SCHEDULES if it takes dlr's noise scale, so that the exact
form solves its batch sizes). ibs_auto, whose batch is decided during the run
from the measured noise scale, and ibs_auto_lr, which raises its learning rate
with the batch, are the adaptive schedules (ADAPTIVE_SCHEDULES,
adaptive_epoch_plan); a new built-in network is a line in
ARCHITECTURE_NAMES and an entry of networks.NETWORKS (REPORT.md, "Adding a
network"). A user's own network, from main.py --networks FILE, has no display
name: figures and tables show its code.
"""
import dataclasses
import math

# ----------------------------------------------------------------------------
# Names
# ----------------------------------------------------------------------------
# Display names, in the order that figures and tables list them.
ARCHITECTURE_NAMES = {"mlp300": "300-unit MLP", "mlp500_150": "500-150 MLP", "lenet5": "LeNet-5"}
OPTIMIZER_NAMES = {"sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov", "adam": "Adam"}
SCHEDULE_NAMES = {
    "dlr": "decaying learning rate (dlr)",
    "ibs": "increasing batch size (ibs)",
    "hyb": "hybrid (hyb)",
    "ibs_lr": "increased learning rate (ibs_lr)",
    "ibs_mom": "increased momentum (ibs_mom)",
    # Grow the batch to kappa times the noise scale B_simple measured during the run; the second raises
    # the learning rate with it, so that every stage keeps dlr's noise scale.
    "ibs_auto": "batch grown to the measured noise scale (ibs_auto)",
    "ibs_auto_lr": "ibs_auto, learning rate raised to keep dlr's g (ibs_auto_lr)",
    # Controls: schedules whose noise scale departs from dlr's on purpose, to
    # show that the equivalence test can tell a wrong schedule apart.
    "const": "constant, no annealing (const, control)",
    "ibs_slow": "batch grown too slowly (ibs_slow, control)",
    "ibs_fast": "batch grown too fast (ibs_fast, control)",
    # A graded series: ibs, but with the last stage's batch divided by k, so
    # that its g is k times dlr's. The smallest k the test tells apart is how
    # large a mismatch it can see.
    "ibs_last_1_5x": "ibs, last stage's g x1.5 (ibs_last_1_5x, control)",
    "ibs_last_2x": "ibs, last stage's g x2 (ibs_last_2x, control)",
    "ibs_last_4x": "ibs, last stage's g x4 (ibs_last_4x, control)",
    "ibs_last_8x": "ibs, last stage's g x8 (ibs_last_8x, control)",
}

ARCHITECTURES = tuple(ARCHITECTURE_NAMES)
ALL_OPTIMIZERS = tuple(OPTIMIZER_NAMES)
ALL_SCHEDULES = tuple(SCHEDULE_NAMES)
# The original study's optimizers and schedules are the default grid; the
# others test the paper's further claims and run only when asked for.
OPTIMIZERS = ("sgd", "adam")
SCHEDULES = ("dlr", "ibs", "hyb")
# SGD with momentum and with Nesterov momentum have a momentum coefficient m
# that enters the noise scale as g = lr * N / (B * (1 - m)).
MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")
# The two forms of the noise scale a study can match its schedules on
# (--noise-scale): the paper's approximation g = lr * N / (B * (1 - m)), the
# default, and the exact form g = lr * (N / B - 1) / (1 - m) of Smith and Le
# (2017), which is 0 at B = N.
NOISE_SCALE_FORMS = ("approx", "exact")
# The schedules that take dlr's noise scale at every stage. Under the exact
# form each keeps its own learning rate and momentum and solves its batch
# size for dlr's g; any other schedule is defined by its batch sizes and is
# the same under either form.
NOISE_MATCHED_SCHEDULES = ("ibs", "hyb", "ibs_lr", "ibs_mom")
# ibs_mom raises the momentum coefficient, so it runs only with the optimizers
# that have one; every other schedule runs with every optimizer.
SCHEDULE_OPTIMIZERS = {"ibs_mom": MOMENTUM_OPTIMIZERS}
# The schedules whose batch is decided during the run, from the noise scale the run measures: their
# batches and updates differ from seed to seed (adaptive_epoch_plan says how).
ADAPTIVE_SCHEDULES = ("ibs_auto", "ibs_auto_lr")
# The one of them that keeps dlr's noise scale (in the approximate form); ibs_auto's falls faster.
NOISE_MATCHED_ADAPTIVE_SCHEDULES = ("ibs_auto_lr",)
# The controls, which the paper's argument says should not match dlr.
# The graded series' factor k on the last stage's noise scale.
LAST_STAGE_MISMATCH = {"ibs_last_1_5x": 1.5, "ibs_last_2x": 2.0, "ibs_last_4x": 4.0, "ibs_last_8x": 8.0}
CONTROL_SCHEDULES = ("const", "ibs_slow", "ibs_fast") + tuple(LAST_STAGE_MISMATCH)

# The per-epoch lists every run records.
RUN_METRICS = ("test_accuracy", "test_loss", "train_loss", "learning_rate", "batch_size", "momentum",
               "updates", "seconds")
# The per-epoch lists a run measured with --measure-noise adds (gradient_noise.py): B_simple, |G|^2
# and tr(Sigma); an Adam run adds them preconditioned by Adam's 1 / (sqrt(v) + epsilon) too.
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
    # A study on the default leaves it out of its files (settings_record).
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
    # are recorded only when measure_noise is on (settings_record).
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
    # finite kappa is valid (AUTO_KAPPA_RULE); recorded only when not 1 (settings_record).
    auto_kappa: float = 1.0

    @property
    def epochs(self):
        return self.epochs_per_stage * self.num_stages

    def base_learning_rate(self, optimizer_name):
        return {"sgd": self.sgd_learning_rate, "momentum": self.momentum_learning_rate,
                "nesterov": self.momentum_learning_rate, "adam": self.adam_learning_rate}[optimizer_name]

    def base_momentum(self, optimizer_name):
        """The momentum coefficient m of the noise scale: 0 for plain SGD, Adam's beta_1 for Adam."""
        return {"sgd": 0.0, "momentum": self.momentum_coefficient, "nesterov": self.momentum_coefficient,
                "adam": self.adam_beta_1}[optimizer_name]


SETTING_NAMES = tuple(field.name for field in dataclasses.fields(Settings))
BACKWARD_PASSES = ("written", "tape")
# Settings added after the committed studies were made, which run files and
# pickles record only where they depart from their default: so the committed
# studies reassemble to the same bytes, and migrate_settings reads a missing
# one as its default, the behaviour of the code that wrote the file.
RECORDED_WHEN_SET = ("noise_scale", "backward", "measure_noise", "auto_kappa")
# Settings of what is measured, never of how a run trains: a study with the
# measurement trains the same runs as one without it. The estimator's own
# settings are recorded only with measure_noise on, where they mean something.
MEASUREMENT_SETTINGS = ("measure_noise", "noise_population", "noise_small_batch", "noise_big_batch", "noise_draws")
NOISE_ESTIMATOR_SETTINGS = MEASUREMENT_SETTINGS[1:]


def settings_record(settings):
    """The settings as run files and pickles store them: every field, RECORDED_WHEN_SET ones only when set.

    The noise estimator's settings are left out of an unmeasured study's record.
    """
    record = dataclasses.asdict(settings)
    defaults = Settings()
    for name in RECORDED_WHEN_SET:
        if record[name] == getattr(defaults, name):
            del record[name]
    if not settings.measure_noise:
        for name in NOISE_ESTIMATOR_SETTINGS:
            del record[name]
    return record


AUTO_KAPPA_RULE = "kappa is a positive finite number"


def check_auto_kappa(kappa):
    """Raises ValueError for a kappa that is not a positive finite number (nan too)."""
    if not 0 < kappa < math.inf:
        raise ValueError(f"{AUTO_KAPPA_RULE}; got {kappa}")


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
# Schedules
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class EpochPlan:
    learning_rate: float
    batch_size: int
    # The momentum coefficient m (recorded only, for plain SGD and Adam).
    momentum: float
    # Whether the epoch starts with a fresh optimizer (the original's flaw).
    reset_optimizer: bool


def approximate_noise_scale(learning_rate, batch_size, momentum, train_size):
    """The paper's noise scale g = lr * N / (B * (1 - m))."""
    return learning_rate * train_size / (batch_size * (1 - momentum))


def exact_noise_scale(learning_rate, batch_size, momentum, train_size):
    """The exact noise scale g = lr * (N / B - 1) / (1 - m) (Smith and Le 2017); 0 at B = N."""
    return learning_rate * (train_size / batch_size - 1) / (1 - momentum)


def batch_for_exact_noise_scale(noise_scale, learning_rate, momentum, train_size):
    """The batch size B = N / (1 + g * (1 - m) / lr) that has exact noise scale g at lr and m.

    Rounded to the nearest whole number (halves up) and kept in [1, N].
    """
    batch_size = train_size / (1 + noise_scale * (1 - momentum) / learning_rate)
    return min(max(math.floor(batch_size + 0.5), 1), train_size)


def stage_schedule(schedule, stage, base_learning_rate, base_batch_size=4, factor=5.0, base_momentum=0.0,
                   fewer_updates_factor=5.0, num_stages=4):
    """(learning rate, batch size, momentum) of one stage.

    Every schedule divides the noise scale g = lr * N / (B * (1 - m)) by
    factor per stage:

        dlr      decaying learning rate   lr / 5^s,        batch 4
        ibs      increasing batch size    lr,              batch 4 * 5^s
        hyb      hybrid                   lr / sqrt(5)^s,  batch round(4 * sqrt(5)^s)
        ibs_lr   increased learning rate  5 * lr,          batch 20 * 5^s
        ibs_mom  increased momentum       lr,              batch 20 * 5^s,  1 - m divided by 5

    ibs_lr and ibs_mom start at fewer_updates_factor times the batch, and keep
    g by raising lr, or dividing 1 - m, by as much. The controls depart from
    that on purpose; at the last stage their g is, against dlr's:

        const     no annealing            lr,              batch 4              125 times
        ibs_slow  batch grown too slowly  lr,              batch 4 * 2.5^s      8 times (62 for 62.5)
        ibs_fast  batch grown too fast    lr,              batch 4 * 10^s       1/8

    (2.5 and 10 are factor / 2 and factor * 2.) The graded series
    ibs_last_{k}x is ibs with the last stage's batch divided by k (rounded),
    so that only the last stage's g is k times dlr's.
    """
    boost = fewer_updates_factor
    if schedule == "dlr":
        return base_learning_rate / factor**stage, base_batch_size, base_momentum
    if schedule == "ibs":
        return base_learning_rate, int(round(base_batch_size * factor**stage)), base_momentum
    if schedule == "hyb":
        root = math.sqrt(factor)
        return base_learning_rate / root**stage, int(round(base_batch_size * root**stage)), base_momentum
    if schedule == "ibs_lr":
        return base_learning_rate * boost, int(round(base_batch_size * boost * factor**stage)), base_momentum
    if schedule == "ibs_mom":
        return (base_learning_rate, int(round(base_batch_size * boost * factor**stage)),
                1 - (1 - base_momentum) / boost)
    if schedule in LAST_STAGE_MISMATCH:
        learning_rate, batch_size, momentum = stage_schedule("ibs", stage, base_learning_rate, base_batch_size,
                                                             factor, base_momentum)
        if stage == num_stages - 1:
            batch_size = max(1, int(round(batch_size / LAST_STAGE_MISMATCH[schedule])))
        return learning_rate, batch_size, momentum
    if schedule == "const":
        return base_learning_rate, base_batch_size, base_momentum
    if schedule == "ibs_slow":
        return base_learning_rate, int(round(base_batch_size * (factor / 2)**stage)), base_momentum
    if schedule == "ibs_fast":
        return base_learning_rate, int(round(base_batch_size * (factor * 2)**stage)), base_momentum
    raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(ALL_SCHEDULES)}")


def exact_stage_schedule(schedule, stage, base_learning_rate, base_batch_size, factor, base_momentum,
                         fewer_updates_factor, train_size, num_stages=4):
    """(learning rate, batch size, momentum) of one stage, matched on the exact noise scale.

    dlr's stage (stage_schedule) sets the exact g = lr * (N / B - 1) / (1 - m)
    from its own lr, B (at most N = train_size) and m. Each of
    NOISE_MATCHED_SCHEDULES keeps its lr and m from stage_schedule and takes
    the batch B = N / (1 + g * (1 - m) / lr) that matches it, rounded to the
    nearest whole number and kept in [1, N]. dlr, and any schedule outside
    NOISE_MATCHED_SCHEDULES (one defined by its batches), is stage_schedule's.
    """
    arguments = (base_learning_rate, base_batch_size, factor, base_momentum, fewer_updates_factor, num_stages)
    learning_rate, batch_size, momentum = stage_schedule(schedule, stage, *arguments)
    if schedule not in NOISE_MATCHED_SCHEDULES:
        return learning_rate, batch_size, momentum
    dlr_rate, dlr_batch, dlr_momentum = stage_schedule("dlr", stage, *arguments)
    target = exact_noise_scale(dlr_rate, min(dlr_batch, train_size), dlr_momentum, train_size)
    return learning_rate, batch_for_exact_noise_scale(target, learning_rate, momentum, train_size), momentum


def check_schedule_fits_optimizer(schedule, optimizer_name):
    """Raises ValueError for a schedule that the optimizer cannot run (ibs_mom needs a momentum)."""
    allowed = SCHEDULE_OPTIMIZERS.get(schedule)
    if allowed is not None and optimizer_name not in allowed:
        raise ValueError(f"the schedule {schedule} raises the momentum coefficient, which {optimizer_name} does "
                         f"not have; use it with --optimizers {','.join(allowed)}")


def epoch_plans(schedule, optimizer_name, settings):
    """The plan of every epoch of one run, matched on the noise scale in the settings' form.

    A batch larger than the training set is the training set: one step an
    epoch, and that is the batch size recorded.
    """
    check_schedule_fits_optimizer(schedule, optimizer_name)
    if schedule in ADAPTIVE_SCHEDULES:
        raise ValueError(f"{schedule} decides its batches during the run: see adaptive_epoch_plan")
    if settings.noise_scale not in NOISE_SCALE_FORMS:
        raise ValueError(f"unknown noise scale form {settings.noise_scale!r}; "
                         f"choose from {', '.join(NOISE_SCALE_FORMS)}")
    plans = []
    for stage in range(settings.num_stages):
        arguments = (schedule, stage, settings.base_learning_rate(optimizer_name), settings.base_batch_size,
                     settings.stage_factor, settings.base_momentum(optimizer_name), settings.fewer_updates_factor)
        if settings.noise_scale == "exact":
            learning_rate, batch_size, momentum = exact_stage_schedule(*arguments, settings.train_size,
                                                                       settings.num_stages)
        else:
            learning_rate, batch_size, momentum = stage_schedule(*arguments, settings.num_stages)
        reset = settings.original_optimizer_reset and schedule in ("dlr", "hyb")
        plan = EpochPlan(learning_rate, min(batch_size, settings.train_size), momentum, reset)
        plans += [plan] * settings.epochs_per_stage
    return plans


def updates_per_epoch(train_size, batch_size):
    """Parameter updates in one epoch: a last partial batch is still a step."""
    return math.ceil(train_size / batch_size)


# ----------------------------------------------------------------------------
# The adaptive schedule: a batch decided during the run
# ----------------------------------------------------------------------------
def auto_batch_size(b_simple, kappa, batch_size, train_size):
    """ibs_auto's batch for the next stage: kappa * B_simple rounded (halves up), kept in [batch_size, N].

    The batch never shrinks and never exceeds the training set. A B_simple
    that is not a positive finite number (NaN where the estimator did not
    resolve the gradient above its noise) gives no reason to grow: the batch
    stays.
    """
    if not 0 < b_simple < math.inf:
        return batch_size
    # Capped before rounding, so that a huge kappa * B_simple never overflows.
    return min(max(math.floor(min(kappa * b_simple, train_size) + 0.5), batch_size), train_size)


def adaptive_epoch_plan(schedule, optimizer_name, settings, history):
    """The plan of the epoch that follows history, a run's per-epoch records so far (batch_size, b_simple).

    ibs_auto's first stage is the first stage that dlr, ibs and hyb share:
    the base learning rate, batch and momentum. At the first epoch of every
    later stage its batch becomes auto_batch_size of the B_simple measured
    after the epoch before; within a stage it stays. The learning rate and
    momentum are held, as in ibs. ibs_auto_lr chooses its batch the same way
    and raises the learning rate with it (adaptive_plan).
    """
    if schedule not in ADAPTIVE_SCHEDULES:
        raise ValueError(f"{schedule!r} is not an adaptive schedule ({', '.join(ADAPTIVE_SCHEDULES)})")
    epoch = len(history)
    if epoch < settings.epochs_per_stage:  # A base batch above the training set is the training set.
        return adaptive_plan(schedule, optimizer_name, settings, epoch,
                             min(settings.base_batch_size, settings.train_size))
    batch_size = int(history[-1]["batch_size"])
    if epoch % settings.epochs_per_stage == 0:
        batch_size = auto_batch_size(float(history[-1]["b_simple"]), settings.auto_kappa, batch_size,
                                     settings.train_size)
    return adaptive_plan(schedule, optimizer_name, settings, epoch, batch_size)


def b_simple_chosen_from(history, settings):
    """Per epoch of an adaptive run's records, the B_simple its batch was chosen from (ADAPTIVE_METRICS).

    As adaptive_epoch_plan chooses: a later stage's batch from the B_simple
    measured after the epoch before the stage began; the first stage chooses
    nothing (NaN).
    """
    per_stage = settings.epochs_per_stage
    return [float("nan") if epoch < per_stage else float(history[epoch - epoch % per_stage - 1]["b_simple"])
            for epoch in range(len(history))]


def adaptive_plan(schedule, optimizer_name, settings, epoch, batch_size):
    """An adaptive schedule's plan of one epoch at a batch size decided for it.

    ibs_auto keeps the first stage's learning rate and momentum, as ibs
    does. ibs_auto_lr multiplies dlr's learning rate of the epoch by
    B / B_dlr, its batch over dlr's, at the same momentum, so that its noise
    scale lr N / (B (1 - m)) is dlr's at every stage: it takes the batches the
    measurement chooses and the noise scale the paper's argument asks for.
    That is the approximate form; the exact one's g is 0 at B = N, which no
    learning rate matches, so main.py refuses ibs_auto_lr with it.
    """
    if schedule == "ibs_auto_lr" and settings.noise_scale != "approx":
        raise ValueError("ibs_auto_lr keeps dlr's approximate noise scale; it has no exact form")
    base = EpochPlan(settings.base_learning_rate(optimizer_name), batch_size,
                     settings.base_momentum(optimizer_name), False)
    if schedule != "ibs_auto_lr":
        return base
    dlr = epoch_plans("dlr", optimizer_name, settings)[epoch]
    return dataclasses.replace(base, learning_rate=float(f"{dlr.learning_rate * batch_size / dlr.batch_size:.12g}"))


def estimated_epoch_plans(schedule, optimizer_name, settings, history=()):
    """Every epoch's plan as far as it is known after history: for the cost model and the time left.

    A fixed schedule's plans are known from the start (epoch_plans). An
    adaptive one's are known up to the epoch after history; every later
    stage is estimated at the larger of the last batch and ibs's batch there,
    a guess that the run corrects as it decides.
    """
    if schedule not in ADAPTIVE_SCHEDULES:
        return epoch_plans(schedule, optimizer_name, settings)
    plans = [adaptive_epoch_plan(schedule, optimizer_name, settings, history[:epoch])
             for epoch in range(min(len(history) + 1, settings.epochs))]
    ibs = epoch_plans("ibs", optimizer_name, settings)
    for epoch in range(len(plans), settings.epochs):
        same_stage = epoch % settings.epochs_per_stage != 0
        batch_size = plans[-1].batch_size if same_stage else max(plans[-1].batch_size, ibs[epoch].batch_size)
        plans.append(adaptive_plan(schedule, optimizer_name, settings, epoch, batch_size))
    return plans


# ----------------------------------------------------------------------------
# Migration: files written by older versions of the code, read as today's
# ----------------------------------------------------------------------------
# Every setting or per-epoch metric added after files were first committed
# has a default that keeps the old behaviour, and migrate_* fill it in when a
# file is read. So adding such a setting never invalidates a committed runs
# folder, and never changes a committed table. The history:
#
#   momentum (per-epoch metric)  added with SGD with (Nesterov) momentum; before
#                                it, plain SGD ran with m = 0 and Adam with its
#                                beta_1, the only optimizers there were.
#   provenance (per run)         added with run provenance; older runs have
#                                None, which reads as "not recorded".
#   noise_scale (setting)        added with the exact noise scale; every earlier
#                                study matched the approximation, its default,
#                                and a file leaves it out at that default
#                                (RECORDED_WHEN_SET).
#   backward (setting)           added with the tape path for any Keras model;
#                                recorded only when "tape" (RECORDED_WHEN_SET).
#   measure_noise and noise_*    added with the measured gradient noise scale;
#   (settings)                   recorded only when measured, so an older file
#                                reads as "not measured" and is never reused
#                                for a study that measures. Its runs lack the
#                                NOISE_METRICS lists, which are not filled in.
#
# A setting added later goes into Settings with its old behaviour as its
# default, and needs nothing here: missing settings take Settings' defaults.

def _old_momentum(optimizer_name, settings, epochs):
    """The momentum list of a run saved before the momentum was recorded."""
    return [float(settings.base_momentum(optimizer_name))] * epochs


def migrate_settings(saved):
    """A saved settings dict with every setting it lacks at its default, as a dict."""
    defaults = dataclasses.asdict(Settings())
    return {**{name: defaults[name] for name in SETTING_NAMES if name not in saved}, **saved}


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
        metrics["momentum"] = _old_momentum(record["key"][1], Settings(**known), epochs)
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
    config.setdefault("learning_rates", {name: settings.base_learning_rate(name) for name in optimizers
                                         if name in OPTIMIZER_NAMES})
    runs = {}
    for key, run in results["runs"].items():
        if isinstance(run, dict) and "momentum" not in run and isinstance(key, tuple) and len(key) == 4 \
                and key[1] in OPTIMIZER_NAMES and isinstance(run.get("learning_rate"), list):
            run = {**run, "momentum": _old_momentum(key[1], settings, len(run["learning_rate"]))}
        runs[key] = run
    provenance = results.get("provenance")
    if not isinstance(provenance, dict):
        provenance = {key: None for key in runs}
    return {**results, "config": config, "runs": runs, "provenance": provenance,
            "missing": results.get("missing", [])}

