"""The optimizers: one record each, and the noise scale they are matched on.

An optimizer is an Optimizer record: its code and display name, the settings
of its base learning rate and of the momentum coefficient m that enters the
noise scale, the state it keeps per weight, how it preconditions its
gradients (for the noise measurement), its update, its cost per step, and its
marker in figures. Code that needs to know something of an optimizer asks its
record (optimizer_record(code)); no other module compares an optimizer's code with a
string.

The noise scale g = lr * N / (B * (1 - m)) (or its exact form) is one
function here, noise_scale, which the schedules match, the analysis draws and
the figure text spells out (noise_scale_formula). The argument behind it is
about SGD: for an optimizer whose record says noise_scale_applies is False
(Adam, RMSprop), figures show g as lr * N / B, for comparison only.

An optimizer owns its state: its record builds an OptimizerState (build),
which allocates the slots, the learning rate and momentum variables, the
constants a study scales with the batch (scaled_in decides which, in one
place) and Adam's bias correction, and applies the record's update, a
function (tf, state, gradients) that steps every weight with one fused
TensorFlow op each. training.py asks the state to start an epoch, apply a
step, reset or list its variables, and never reaches into it. This module
never imports TensorFlow, which training.py passes in. A new optimizer is one
record here plus the settings of its constants in study.Settings (docs/adding.md,
"Adding an optimizer").
"""
import dataclasses
import math
from typing import Callable, Optional


@dataclasses.dataclass(frozen=True)
class Optimizer:
    code: str
    display_name: str
    # The Settings field of its base learning rate.
    learning_rate_setting: str
    # The Settings field of its momentum coefficient m (None: m = 0), which the
    # runs record per epoch and which a schedule may change.
    momentum_setting: Optional[str]
    # Whether m is SGD's momentum, held in a variable that schedules set, and
    # whether the paper's noise scale describes the optimizer at all.
    momentum_variable: bool
    noise_scale_applies: bool
    # The per-weight state, in the order a branch copies it.
    slots: tuple
    # Its other constants: (name in the update, Settings field).
    constant_settings: tuple
    # (tf, slots, constant) -> one preconditioner tensor per weight, as the update applies it, where
    # constant(name) is the state's value of a constant; None for an optimizer that does not precondition.
    preconditioner: Optional[Callable]
    # (tf, state, gradients) -> None: one step of every weight, reading the state (OptimizerState).
    update: Callable
    # Where its step costs lie between plain SGD's (0) and Adam's (1).
    step_cost: float
    marker: str
    # (keras, settings) -> the keras.optimizers optimizer with the same formula and settings, which the
    # tests check the update against.
    keras_equivalent: Callable
    nesterov: bool = False
    # The constants whose half-life --beta-scaling samples holds fixed in examples: each epoch's value is
    # the base value to the power B / B0 (Marek et al. 2025). Adam's beta_1 is also its recorded momentum.
    scaled_constants: tuple = ()
    # Whether its update divides by powers of its betas (Adam's bias correction), which --beta-scaling
    # samples keeps as running products.
    bias_correction: bool = False

    def __post_init__(self):
        # A record that scales a constant it does not have, or corrects by powers of constants it never
        # scales, is refused when it is made, that is when the study starts, not at its first step.
        names = [name for name, _ in self.constant_settings]
        unknown = [name for name in self.scaled_constants if name not in names]
        if unknown:
            raise ValueError(f"optimizer {self.code} scales {', '.join(unknown)}, which it does not have; "
                             f"its constants are {', '.join(names) or 'none'}")
        if self.bias_correction and not self.scaled_constants:
            raise ValueError(f"optimizer {self.code} keeps a bias correction of scaled constants but scales none")

    def base_learning_rate(self, settings):
        return getattr(settings, self.learning_rate_setting)

    def base_momentum(self, settings):
        """The momentum coefficient m: 0 for plain SGD and RMSprop, beta_1 for Adam."""
        return 0.0 if self.momentum_setting is None else getattr(settings, self.momentum_setting)

    def constants(self, settings):
        return {name: getattr(settings, field) for name, field in self.constant_settings}

    def momentum_constant(self):
        """The name of the constant that is the momentum coefficient (Adam's beta_1), or None."""
        return next((name for name, field in self.constant_settings if field == self.momentum_setting), None)

    def momentum_in_figures(self, momentum):
        """The m that figures and the analysis put into the noise scale: the run's for the SGD family, for
        which the paper's argument holds; 0 for the others, whose g is shown as lr N / B, for comparison."""
        return momentum if self.noise_scale_applies else 0.0

    @property
    def preconditioned(self):
        return self.preconditioner is not None

    # ------------------------------------------------------------------------
    # Constants scaled with the batch: decided here and nowhere else
    # ------------------------------------------------------------------------
    def scaled_in(self, settings):
        """The constants a study with these settings holds as variables, set by every epoch's plan: under
        --beta-scaling samples or schedule, the record's scaled_constants; under none, none."""
        return self.scaled_constants if settings.beta_scaling != "none" else ()

    def scaled_values(self, settings, batch_size, half_lives=False):
        """(name, value) of each constant the study holds as a variable, at an epoch's batch: base ** (B / B0)
        where its half-life is held in examples (every schedule under samples, a schedule with half-lives
        under schedule), else the base value."""
        held = settings.beta_scaling == "samples" or half_lives
        exponent = batch_size / min(settings.base_batch_size, settings.train_size) if held else 1.0
        base = self.constants(settings)
        return tuple((name, float(base[name] ** exponent)) for name in self.scaled_in(settings))

    def scaled_problem(self, scaled, settings):
        """One line if a plan's scaled constants ((name, value) pairs) are not the ones this study's state
        holds as variables, else None: a plan that asks for a constant the optimizer lacks, or one the
        study does not scale, would otherwise be dropped or fail mid-run."""
        held = self.scaled_in(settings)
        stray = [name for name, _ in scaled if name not in held]
        if not stray:
            return None
        names = [name for name, _ in self.constant_settings]
        if any(name not in names for name in stray):
            return (f"a plan sets {', '.join(stray)} of {self.code}, which has no such constant; "
                    f"its constants are {', '.join(names) or 'none'}")
        return (f"a plan sets {', '.join(stray)} of {self.code}, which this study keeps constant; "
                "scaling it needs --beta-scaling samples or schedule")

    def recorded_constants(self, scaled):
        """The scaled constants a run records besides its momentum (Adam's beta_2, RMSprop's rho)."""
        return {name: value for name, value in scaled if name != self.momentum_constant()}

    def build(self, tf, weights, settings):
        """The optimizer's state for these weights under these settings (OptimizerState)."""
        return OptimizerState(tf, self, weights, settings)


# ----------------------------------------------------------------------------
# The state: what one run's optimizer holds, allocated and stepped here
# ----------------------------------------------------------------------------
class OptimizerState:
    """One run's optimizer: its record's update applied with one fused TensorFlow op per variable.

    Keras's own Adam runs about ten small ops per variable per step; at batch
    size 4 that overhead, not arithmetic, dominates. ResourceApplyAdam,
    ResourceApplyKerasMomentum, ResourceApplyRMSProp and
    ResourceApplyGradientDescent compute the same formulas in one op each (the
    tests check them against keras.optimizers). The learning rate, the
    momentum coefficient and every constant the study scales are variables,
    so that a schedule changes them in place and all other state carries
    over. An update reads a constant through constant(name), which is the
    scaled variable wherever the study scales it: no update can ignore it.
    """

    def __init__(self, tf, record, weights, settings):
        self.tf = tf
        self.record = record
        self.model_variables = list(weights)
        self.learning_rate = tf.Variable(record.base_learning_rate(settings), dtype=tf.float32, trainable=False)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.momentum = None
        if record.momentum_variable:
            self.momentum = tf.Variable(record.base_momentum(settings), dtype=tf.float32, trainable=False)
        self.slots = {name: [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.model_variables]
                      for name in record.slots}
        self._settings = settings
        self._fixed = record.constants(settings)
        # The constants the study scales change every epoch, so they are variables, and Adam's bias
        # correction keeps running products of its betas (powers) instead of beta ** t.
        self.scaled = {name: tf.Variable(self._fixed[name], dtype=tf.float32, trainable=False)
                       for name in record.scaled_in(settings)}
        self.powers = {}
        if record.bias_correction:
            self.powers = {name: tf.Variable(1.0, dtype=tf.float32, trainable=False) for name in self.scaled}

    def constant(self, name):
        """A constant of the update: its variable where the study scales it, else its fixed value."""
        return self.scaled.get(name, self._fixed[name])

    @property
    def variables(self):
        """Every variable of the state, in the order a branch copies them."""
        scalars = [self.learning_rate, self.iterations] + ([self.momentum] if self.momentum is not None else [])
        scalars += list(self.scaled.values()) + list(self.powers.values())
        return scalars + [slot for name in self.record.slots for slot in self.slots[name]]

    def start_epoch(self, plan):
        """Takes an epoch's plan (schedules.EpochPlan): a fresh state if it resets, then its learning
        rate, its momentum (for an optimizer with a momentum variable) and its scaled constants, in place."""
        problem = self.record.scaled_problem(plan.scaled, self._settings)
        if problem:
            raise ValueError(problem)
        if plan.reset_optimizer:
            self.reset()
        self.learning_rate.assign(plan.learning_rate)
        if self.momentum is not None:
            self.momentum.assign(plan.momentum)
        for name, value in plan.scaled:
            self.scaled[name].assign(value)

    def apply(self, gradients):
        self.record.update(self.tf, self, gradients)
        self.iterations.assign_add(1)

    def preconditioner(self):
        """One tensor per weight that the update multiplies the gradient by (Adam's 1 / (sqrt(v) + epsilon)),
        or None for an optimizer that does not precondition."""
        if not self.record.preconditioned:
            return None
        return self.record.preconditioner(self.tf, self.slots, self.constant)

    def reset(self):
        """What building a new optimizer does: every slot and the step count back to zero."""
        self.iterations.assign(0)
        for power in self.powers.values():
            power.assign(1.0)
        for slots in self.slots.values():
            for slot in slots:
                slot.assign(self.tf.zeros_like(slot))


# ----------------------------------------------------------------------------
# The updates: Keras's formulas, one fused op per weight
# ----------------------------------------------------------------------------
def _sgd_update(tf, state, gradients):
    for variable, gradient in zip(state.model_variables, gradients):
        tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=state.learning_rate, delta=gradient)


def _momentum_update(tf, state, gradients):
    # Keras's SGD: v = m v - lr g, then w += v, or w += m v - lr g with Nesterov.
    for variable, gradient, velocity in zip(state.model_variables, gradients, state.slots["velocity"]):
        tf.raw_ops.ResourceApplyKerasMomentum(
            var=variable.handle, accum=velocity.handle, lr=state.learning_rate, grad=gradient,
            momentum=state.momentum, use_nesterov=state.record.nesterov)


def _adam_update(tf, state, gradients):
    beta_1, beta_2 = state.constant("beta_1"), state.constant("beta_2")
    if state.powers:
        # betas that change from epoch to epoch: the bias correction divides by the product of the betas
        # used so far, kept as running products, which is beta^t while they do not change.
        beta_1_power = state.powers["beta_1"].assign(state.powers["beta_1"] * beta_1)
        beta_2_power = state.powers["beta_2"].assign(state.powers["beta_2"] * beta_2)
    else:
        # Keras's Adam uses step t = iterations + 1 in its bias correction.
        step = tf.cast(state.iterations + 1, tf.float32)
        beta_1_power, beta_2_power = tf.pow(beta_1, step), tf.pow(beta_2, step)
    for variable, gradient, first, second in zip(
            state.model_variables, gradients, state.slots["first_moment"], state.slots["second_moment"]):
        tf.raw_ops.ResourceApplyAdam(
            var=variable.handle, m=first.handle, v=second.handle, beta1_power=beta_1_power,
            beta2_power=beta_2_power, lr=state.learning_rate, beta1=beta_1, beta2=beta_2,
            epsilon=state.constant("epsilon"), grad=gradient)


def _rmsprop_update(tf, state, gradients):
    # Keras's RMSprop without momentum: ms = rho ms + (1 - rho) g^2, w -= lr g / sqrt(ms + epsilon), with
    # epsilon inside the root as in the fused op. The op always keeps a momentum accumulator; at
    # momentum 0 it holds the last step, state that a branch copies all the same.
    for variable, gradient, mean_square, accumulator in zip(
            state.model_variables, gradients, state.slots["mean_square"], state.slots["momentum"]):
        tf.raw_ops.ResourceApplyRMSProp(
            var=variable.handle, ms=mean_square.handle, mom=accumulator.handle, lr=state.learning_rate,
            rho=state.constant("rho"), momentum=0.0, epsilon=state.constant("epsilon"), grad=gradient)


def _adam_preconditioner(tf, slots, constant):
    return [1.0 / (tf.sqrt(moment) + constant("epsilon")) for moment in slots["second_moment"]]


def _rmsprop_preconditioner(tf, slots, constant):
    return [1.0 / tf.sqrt(mean_square + constant("epsilon")) for mean_square in slots["mean_square"]]


# ----------------------------------------------------------------------------
# The records, in the order that figures and tables list them
# ----------------------------------------------------------------------------
_SGD_FAMILY = dict(noise_scale_applies=True, constant_settings=(), preconditioner=None)
_MOMENTUM = dict(_SGD_FAMILY, learning_rate_setting="momentum_learning_rate",
                 momentum_setting="momentum_coefficient", momentum_variable=True, slots=("velocity",),
                 update=_momentum_update, step_cost=0.5)


def _keras_sgd(nesterov):
    return lambda keras, settings: keras.optimizers.SGD(settings.momentum_learning_rate,
                                                        momentum=settings.momentum_coefficient, nesterov=nesterov)

OPTIMIZER_RECORDS = (
    Optimizer("sgd", "SGD", learning_rate_setting="sgd_learning_rate", momentum_setting=None,
              momentum_variable=False, slots=(), update=_sgd_update, step_cost=0.0, marker="o",
              keras_equivalent=lambda keras, settings: keras.optimizers.SGD(settings.sgd_learning_rate),
              **_SGD_FAMILY),
    Optimizer("momentum", "SGD + momentum", marker="s", keras_equivalent=_keras_sgd(False), **_MOMENTUM),
    Optimizer("nesterov", "Nesterov", marker="^", nesterov=True, keras_equivalent=_keras_sgd(True), **_MOMENTUM),
    Optimizer("adam", "Adam", learning_rate_setting="adam_learning_rate", momentum_setting="adam_beta_1",
              momentum_variable=False, noise_scale_applies=False, slots=("first_moment", "second_moment"),
              constant_settings=(("beta_1", "adam_beta_1"), ("beta_2", "adam_beta_2"), ("epsilon", "adam_epsilon")),
              preconditioner=_adam_preconditioner, update=_adam_update, step_cost=1.0, marker="D",
              keras_equivalent=lambda keras, settings: keras.optimizers.Adam(
                  settings.adam_learning_rate, beta_1=settings.adam_beta_1, beta_2=settings.adam_beta_2,
                  epsilon=settings.adam_epsilon),
              scaled_constants=("beta_1", "beta_2"), bias_correction=True),
    Optimizer("rmsprop", "RMSprop", learning_rate_setting="rmsprop_learning_rate", momentum_setting=None,
              momentum_variable=False, noise_scale_applies=False, slots=("mean_square", "momentum"),
              constant_settings=(("rho", "rmsprop_rho"), ("epsilon", "rmsprop_epsilon")),
              preconditioner=_rmsprop_preconditioner, update=_rmsprop_update, step_cost=1.0, marker="v",
              keras_equivalent=lambda keras, settings: keras.optimizers.RMSprop(
                  settings.rmsprop_learning_rate, rho=settings.rmsprop_rho, epsilon=settings.rmsprop_epsilon),
              scaled_constants=("rho",)),
)
_BY_CODE = {record.code: record for record in OPTIMIZER_RECORDS}
ALL_OPTIMIZERS = tuple(_BY_CODE)
# The original study's optimizers, the default grid; the others run only when asked for.
OPTIMIZERS = ("sgd", "adam")
# The optimizers whose momentum coefficient a schedule can raise (ibs_mom) and --momentum sets.
MOMENTUM_OPTIMIZERS = tuple(record.code for record in OPTIMIZER_RECORDS if record.momentum_variable)


def optimizer_record(code):
    """The record of an optimizer code; ValueError for an unknown one."""
    try:
        return _BY_CODE[code]
    except (KeyError, TypeError):
        raise ValueError(f"unknown optimizer {code!r}; choose from {', '.join(ALL_OPTIMIZERS)}") from None


def optimizer_display_name(code):
    """An optimizer's display name, or the code itself for one this version does not know."""
    record = _BY_CODE.get(code)
    return record.display_name if record else str(code)


def is_known(code):
    return code in _BY_CODE


# ----------------------------------------------------------------------------
# The noise scale
# ----------------------------------------------------------------------------
# The two forms of the noise scale a study can match its schedules on
# (--noise-scale): the paper's approximation g = lr * N / (B * (1 - m)), the
# default, and the exact form g = lr * (N / B - 1) / (1 - m) of Smith and Le
# (2017), which is 0 at B = N.
NOISE_SCALE_FORMS = ("approx", "exact")


def noise_scale(learning_rate, batch_size, momentum, train_size, form="approx"):
    """The noise scale g = lr * N / (B * (1 - m)), or lr * (N / B - 1) / (1 - m) in the exact form.

    Numbers or numpy arrays. The schedules match it with the optimizer's own
    m (for Adam, beta_1, which cancels wherever lr and m are held); a figure
    of it takes m from Optimizer.momentum_in_figures.
    """
    examples_per_batch = train_size / batch_size
    noise = learning_rate * (examples_per_batch - 1 if form == "exact" else examples_per_batch)
    return noise / (1 - momentum)


def batch_for_noise_scale(target, learning_rate, momentum, train_size):
    """The batch size B = N / (1 + g * (1 - m) / lr) whose exact noise scale is g at lr and m.

    Rounded to the nearest whole number (halves up) and kept in [1, N].
    """
    batch_size = train_size / (1 + target * (1 - momentum) / learning_rate)
    return min(max(math.floor(batch_size + 0.5), 1), train_size)


def noise_scale_formula(record, form="approx"):
    """The noise-scale formula of an optimizer, in the study's form, as figure text."""
    core = "lr × (N / B − 1)" if form == "exact" else "lr × N / B"
    prefix = "exact g = " if form == "exact" else "g = "
    if not record.noise_scale_applies:
        return prefix + core
    if record.momentum_setting is None:
        return prefix + core + (" (m = 0)" if form == "exact" else " (no momentum, m = 0)")
    return prefix + ("lr × (N / B − 1) / (1 − m)" if form == "exact" else "lr × N / (B × (1 − m))")


def noise_scale_note(record):
    """The lines a noise-scale figure adds under an optimizer the paper's argument does not describe."""
    if record.noise_scale_applies:
        return []
    return ["for comparison only: the noise-scale argument is about SGD",
            f"and does not predict {record.display_name}"]
