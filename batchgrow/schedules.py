"""The schedules: one record each, and the plan of every epoch of a run.

A schedule is a Schedule record: its code and display name, the optimizers it
runs with, a stage function that gives a stage's EpochPlan from where the run
starts (StageStart), and its kind against dlr's noise scale, which may depend
on the optimizer. Every fixed schedule divides the noise scale
g = lr * N / (B * (1 - m)) (optimizers.noise_scale) by the stage factor at
each stage boundary, or departs from that on purpose:

    dlr      decaying learning rate   lr / 5^s,        batch 4
    ibs      increasing batch size    lr,              batch 4 * 5^s
    hyb      hybrid                   lr / sqrt(5)^s,  batch round(4 * sqrt(5)^s)
    ibs_lr   increased learning rate  5 * lr,          batch 20 * 5^s
    ibs_mom  increased momentum       lr,              batch 20 * 5^s,  1 - m divided by 5

ibs_lr and ibs_mom start at fewer_updates_factor times the batch, and keep g
by raising lr, or dividing 1 - m, by as much. The controls' g at the last
stage, against dlr's:

    const     no annealing            lr,              batch 4              125 times
    ibs_slow  batch grown too slowly  lr,              batch 4 * 2.5^s      8 times (62 for 62.5)
    ibs_fast  batch grown too fast    lr,              batch 4 * 10^s       1/8

(2.5 and 10 are factor / 2 and factor * 2.) The graded series ibs_last_{k}x
is ibs with the last stage's batch divided by k (rounded), so that only the
last stage's g is k times dlr's.

The floor control, dlr_ulp, is dlr from initial weights moved by one float32
step: the same plan, so whatever separates it from dlr is rounding alone.

The adaptive schedules, ibs_auto and ibs_auto_lr, decide their batches during
the run from the measured noise scale (adaptive_epoch_plan). A new fixed
schedule is one record in SCHEDULE_RECORDS (docs/adding.md, "Adding a schedule").
This module is plain Python: no TensorFlow, no matplotlib.
"""
import dataclasses
import math
from typing import Callable, Optional, Union

from batchgrow.optimizers import (MOMENTUM_OPTIMIZERS, NOISE_SCALE_FORMS, batch_for_noise_scale, noise_scale,
                                  optimizer_record)

# The kinds of schedule, against dlr's noise scale. dlr is the reference;
# a noise-matched schedule takes dlr's g at every stage (under the exact form
# it keeps its own lr and m and solves its batch for dlr's g); a control
# departs from it on purpose, to show that the equivalence test can tell a
# wrong schedule apart; an unmatched schedule departs from it without being
# a control (ibs_auto, whose g falls with the batch it measures).
# A schedule matched by the square-root rule (Malladi et al. 2022) is one that
# rule calls dlr's match for an adaptive optimizer (Adam, RMSprop); with SGD
# the same schedule is a control of the linear rule.
SCHEDULE_KINDS = ("reference", "noise-matched", "sqrt-matched", "control", "unmatched")


@dataclasses.dataclass(frozen=True)
class EpochPlan:
    learning_rate: float
    batch_size: int
    # The momentum coefficient m (recorded only, for an optimizer without a momentum variable).
    momentum: float
    # Whether the epoch starts with a fresh optimizer (the original's flaw).
    reset_optimizer: bool = False
    # Under --beta-scaling samples, (name, value) of each of the optimizer's scaled constants this epoch
    # (the momentum among them, beta_1, is also the momentum above).
    scaled: tuple = ()
    # Whether the run starts from its seed's initial weights each moved up by one float32 step (the
    # floor control, dlr_ulp): a difference of rounding alone, applied before the first epoch.
    moved_weights: bool = False


@dataclasses.dataclass(frozen=True)
class StageStart:
    """What a stage function plans from: the stage, and the run's base learning rate, batch and momentum."""
    stage: int
    num_stages: int
    learning_rate: float
    batch_size: int
    momentum: float
    # The noise scale falls by factor per stage; ibs_lr and ibs_mom start at boost times the batch.
    factor: float
    boost: float


@dataclasses.dataclass(frozen=True)
class Schedule:
    code: str
    display_name: str
    # (StageStart) -> the stage's EpochPlan, before the batch is capped at N. An adaptive schedule's
    # is its first stage's, the only one fixed before the run.
    stage: Callable
    # One of SCHEDULE_KINDS, or a function of the optimizer's record that returns one.
    kind: Union[str, Callable]
    # The optimizers it runs with (None: every one).
    optimizers: Optional[tuple] = None
    # Whether --original-optimizer-reset gives it a fresh optimizer every epoch, as the original's code did.
    original_reset: bool = False
    # Whether its batches are decided during the run (adaptive_epoch_plan), and whether its learning
    # rate then rises with its batch to keep dlr's noise scale.
    adaptive: bool = False
    learning_rate_follows_batch: bool = False
    # A graded control's factor k on the last stage's noise scale (None for the others).
    last_stage_mismatch: Optional[float] = None
    # Whether it is the floor: dlr again, apart by rounding alone, whose spread about dlr bounds every verdict.
    floor: bool = False
    # Whether its rule holds the half-lives of Adam's betas and RMSprop's rho fixed in examples (each
    # epoch's value base ** (B / B0)); it needs --beta-scaling schedule, which main.py then sets.
    half_lives: bool = False

    def kind_for(self, optimizer_code):
        return self.kind(optimizer_record(optimizer_code)) if callable(self.kind) else self.kind

    def runs_with(self, optimizer_code):
        return self.optimizers is None or optimizer_code in self.optimizers


# ----------------------------------------------------------------------------
# The stage functions
# ----------------------------------------------------------------------------
def _dlr(at):
    return EpochPlan(at.learning_rate / at.factor**at.stage, at.batch_size, at.momentum)


def _ibs(at):
    return EpochPlan(at.learning_rate, int(round(at.batch_size * at.factor**at.stage)), at.momentum)


def _hyb(at):
    root = math.sqrt(at.factor)
    return EpochPlan(at.learning_rate / root**at.stage, int(round(at.batch_size * root**at.stage)), at.momentum)


def _ibs_lr(at):
    return EpochPlan(at.learning_rate * at.boost, int(round(at.batch_size * at.boost * at.factor**at.stage)),
                     at.momentum)


def _ibs_mom(at):
    return EpochPlan(at.learning_rate, int(round(at.batch_size * at.boost * at.factor**at.stage)),
                     1 - (1 - at.momentum) / at.boost)


def _seesaw(at):
    # Where dlr divides lr by k, divide it by sqrt(k) and multiply the batch by k (Meterez et al. 2025).
    root = math.sqrt(at.factor)
    return EpochPlan(at.learning_rate / root**at.stage, int(round(at.batch_size * at.factor**at.stage)), at.momentum)


def _dlr_sqrt(at):
    # The square-root rule's match of ibs (B x k at lr held): lr / sqrt(k) at the batch held.
    return EpochPlan(at.learning_rate / math.sqrt(at.factor)**at.stage, at.batch_size, at.momentum)


def _dlr_moved(at):
    # dlr's plan from weights one rounding step away: whatever separates it from dlr is rounding's echo.
    return dataclasses.replace(_dlr(at), moved_weights=True)


def _power_rule(power):
    """lr / k**power where dlr divides it by k, and the batch times k (power 0: ibs, 1/2: seesaw)."""
    return lambda at: EpochPlan(at.learning_rate / (at.factor ** power) ** at.stage,
                                int(round(at.batch_size * at.factor ** at.stage)), at.momentum)


# The family of rules between ibs (a = 0) and seesaw (a = 1/2) with half-lives held, in steps of an eighth:
# lr / k**a, B x k. The ends are ibs_hl and seesaw_hl; the codes between name a in thousandths.
HALF_LIFE_POWERS = (0.125, 0.25, 0.375)


def _half_life_rule(power):
    return Schedule(f"hl_a{round(power * 1000):03d}", f"lr / k^{power:g}, batch x k, half-lives held "
                    f"(hl_a{round(power * 1000):03d})", _power_rule(power), "unmatched", half_lives=True)


# The stage (counted from 1) whose noise a calibration control gets wrong by a known factor, and the
# factors by which the adaptive optimizers' controls multiply dlr's learning rate there: a two-fold error
# read by the linear rule (lr x 2 or / 2) and by the square-root rule (lr x or / sqrt 2).
CALIBRATION_STAGE = 2
STAGE_LEARNING_RATE_FACTORS = {"x2": 2.0, "d2": 0.5, "xr2": math.sqrt(2.0), "dr2": 1 / math.sqrt(2.0)}


def _dlr_stage_learning_rate_times(factor):
    """dlr with the calibration stage's learning rate times factor, every other stage dlr's own."""
    def stage(at):
        plan = _dlr(at)
        if at.stage == CALIBRATION_STAGE - 1:
            plan = dataclasses.replace(plan, learning_rate=plan.learning_rate * factor)
        return plan
    return stage


def _stage_control_code(name):
    """The code of dlr with the calibration stage's learning rate changed as name says (x2, d2, xr2, dr2)."""
    return f"dlr_s{CALIBRATION_STAGE}_{name}"


def _stage_learning_rate_control(name, factor):
    label = {"x2": "x 2", "d2": "/ 2", "xr2": "x sqrt 2", "dr2": "/ sqrt 2"}[name]
    return Schedule(_stage_control_code(name), f"dlr, stage {CALIBRATION_STAGE}'s lr {label} "
                    f"({_stage_control_code(name)}, control)", _dlr_stage_learning_rate_times(factor), "control")


def _square_root_rule(record):
    """The kind of a schedule that the square-root rule matches to dlr: a match for an adaptive optimizer
    (one that preconditions its gradients), a control of the linear rule for the SGD family."""
    return "sqrt-matched" if record.preconditioned else "control"


def _base(at):
    return EpochPlan(at.learning_rate, at.batch_size, at.momentum)


def _batch_growth(rate):
    """A stage function that grows the batch by rate(factor) per stage at the base learning rate."""
    return lambda at: EpochPlan(at.learning_rate, int(round(at.batch_size * rate(at.factor)**at.stage)),
                                at.momentum)


def _ibs_last_stage_divided(k):
    """ibs with the last stage's batch divided by k (rounded, at least 1): that stage's g is k times dlr's."""
    def stage(at):
        plan = _ibs(at)
        if at.stage == at.num_stages - 1:
            plan = dataclasses.replace(plan, batch_size=max(1, int(round(plan.batch_size / k))))
        return plan
    return stage


def _graded(code, label, k):
    return Schedule(code, f"ibs, last stage's g x{label} ({code}, control)", _ibs_last_stage_divided(k),
                    "control", last_stage_mismatch=k)


# ----------------------------------------------------------------------------
# The records, in the order that figures and tables list them
# ----------------------------------------------------------------------------
SCHEDULE_RECORDS = (
    Schedule("dlr", "decaying learning rate (dlr)", _dlr, "reference", original_reset=True),
    Schedule("ibs", "increasing batch size (ibs)", _ibs, "noise-matched"),
    Schedule("hyb", "hybrid (hyb)", _hyb, "noise-matched", original_reset=True),
    Schedule("ibs_lr", "increased learning rate (ibs_lr)", _ibs_lr, "noise-matched"),
    # ibs_mom raises the momentum coefficient, so it runs only with the optimizers that have one.
    Schedule("ibs_mom", "increased momentum (ibs_mom)", _ibs_mom, "noise-matched", optimizers=MOMENTUM_OPTIMIZERS),
    # Grow the batch to kappa times the noise scale B_simple measured during the run; the second raises
    # the learning rate with it, so that every stage keeps dlr's noise scale.
    Schedule("ibs_auto", "batch grown to the measured noise scale (ibs_auto)", _base, "unmatched", adaptive=True),
    Schedule("ibs_auto_lr", "ibs_auto, learning rate raised to keep dlr's g (ibs_auto_lr)", _base,
             "noise-matched", adaptive=True, learning_rate_follows_batch=True),
    # The square-root rule's schedules: with Adam and RMSprop its matches of dlr (seesaw) and of ibs
    # (dlr_sqrt), with SGD controls of the linear rule.
    Schedule("seesaw", "seesaw: lr / sqrt(k), batch x k (seesaw)", _seesaw, _square_root_rule),
    Schedule("dlr_sqrt", "learning rate / sqrt(k), batch held (dlr_sqrt)", _dlr_sqrt, _square_root_rule),
    # The same rules with the half-lives of the betas (rho) held in examples as part of the rule, and the
    # rules between them: one study holds all of them beside dlr (--beta-scaling schedule).
    # ibs_hl is not called noise-matched: held in examples, Adam's beta_1, the m of its g, moves with the batch.
    Schedule("ibs_hl", "ibs, half-lives held (ibs_hl)", _ibs, "unmatched", half_lives=True),
    *(_half_life_rule(power) for power in HALF_LIFE_POWERS),
    Schedule("seesaw_hl", "seesaw, half-lives held (seesaw_hl)", _seesaw, _square_root_rule, half_lives=True),
    # The floor: dlr itself from initial weights moved by one float32 step. Its spread about dlr is the
    # smallest difference that any number of seeds could call a difference of training.
    Schedule("dlr_ulp", "dlr, initial weights moved by one ulp (dlr_ulp, floor)", _dlr_moved, "noise-matched",
             original_reset=True, floor=True),
    # Controls: schedules whose noise scale departs from dlr's on purpose.
    Schedule("const", "constant, no annealing (const, control)", _base, "control"),
    Schedule("ibs_slow", "batch grown too slowly (ibs_slow, control)", _batch_growth(lambda f: f / 2), "control"),
    Schedule("ibs_fast", "batch grown too fast (ibs_fast, control)", _batch_growth(lambda f: f * 2), "control"),
    # A graded series: the smallest k the test tells apart is how large a mismatch it can see.
    _graded("ibs_last_1_5x", "1.5", 1.5),
    _graded("ibs_last_2x", "2", 2.0),
    _graded("ibs_last_4x", "4", 4.0),
    _graded("ibs_last_8x", "8", 8.0),
    # The adaptive optimizers' calibration: dlr with one stage's learning rate off by a two-fold error,
    # as the linear rule (x 2, / 2) and the square-root rule (x, / sqrt 2) read one.
    *(_stage_learning_rate_control(name, factor) for name, factor in STAGE_LEARNING_RATE_FACTORS.items()),
)
_BY_CODE = {record.code: record for record in SCHEDULE_RECORDS}
ALL_SCHEDULES = tuple(_BY_CODE)
# The original study's schedules, the default grid; the others run only when asked for.
SCHEDULES = ("dlr", "ibs", "hyb")
# The groups that code without an optimizer at hand asks for, by the kind each record has under the
# paper's rule (plain SGD's).
ADAPTIVE_SCHEDULES = tuple(record.code for record in SCHEDULE_RECORDS if record.adaptive)
NOISE_MATCHED_SCHEDULES = tuple(record.code for record in SCHEDULE_RECORDS
                                if record.kind_for("sgd") == "noise-matched" and not record.adaptive
                                and not record.floor)
CONTROL_SCHEDULES = tuple(record.code for record in SCHEDULE_RECORDS if record.kind_for("sgd") == "control")
# The schedule every other is compared with: the one record of kind "reference". Code finds it here, never by name.
(REFERENCE_SCHEDULE,) = (record.code for record in SCHEDULE_RECORDS if record.kind_for("sgd") == "reference")
# The floor control: the reference moved by one rounding step.
(FLOOR_SCHEDULE,) = (record.code for record in SCHEDULE_RECORDS if record.floor)


# ----------------------------------------------------------------------------
# The margin's calibration: which controls calibrate which optimizer
# ----------------------------------------------------------------------------
# Plain SGD's (REPORT.md, "The margin δ"): ibs_fast and ibs_slow, whose noise scale g in the calibration
# stage is half and twice dlr's (in stage 2 ibs_fast's batch is 10 times the first's, ibs_slow's 2.5
# times), each with that factor on g. The rule was run on plain SGD alone, for which g is derived.
NOISE_SCALE_CALIBRATED = "sgd"
NOISE_SCALE_CONTROLS = {"ibs_fast": 0.5, "ibs_slow": 2.0}
# An adaptive optimizer's (docs/predictions/calibration_adaptive.md), whose g is not derived: dlr with the
# calibration stage's learning rate off by a two-fold error as each reading of the rule has it, each
# control with its factor on that learning rate.
LEARNING_RATE_READINGS = {
    reading: {_stage_control_code(name): STAGE_LEARNING_RATE_FACTORS[name] for name in names}
    for reading, names in (("linear", ("x2", "d2")), ("square-root", ("xr2", "dr2")))
}


def calibration_controls(optimizer_code):
    """The control schedules that calibrate the optimizer's margin δ; () for one that no rule calibrates."""
    if optimizer_code == NOISE_SCALE_CALIBRATED:
        return tuple(NOISE_SCALE_CONTROLS)
    if optimizer_record(optimizer_code).preconditioned:
        return tuple(schedule for controls in LEARNING_RATE_READINGS.values() for schedule in controls)
    return ()


def schedule_record(code):
    """The record of a schedule code; ValueError for an unknown one."""
    try:
        return _BY_CODE[code]
    except (KeyError, TypeError):
        raise ValueError(f"unknown schedule {code!r}; choose from {', '.join(ALL_SCHEDULES)}") from None


def schedule_runs_with(schedule_code, optimizer_code):
    """Whether main.py runs the schedule with the optimizer; True for a schedule this version does not know."""
    record = _BY_CODE.get(schedule_code)
    return record is None or record.runs_with(optimizer_code)


def schedule_kind(schedule_code, optimizer_code):
    """The schedule's kind with the optimizer (SCHEDULE_KINDS), or None for a schedule this version does not know."""
    record = _BY_CODE.get(schedule_code)
    return None if record is None else record.kind_for(optimizer_code)


def is_adaptive(schedule_code):
    record = _BY_CODE.get(schedule_code)
    return record is not None and record.adaptive


def schedule_display_name(code):
    """A schedule's display name, or the code itself for one this version does not know."""
    record = _BY_CODE.get(code)
    return record.display_name if record else str(code)


# ----------------------------------------------------------------------------
# The plans of a fixed schedule
# ----------------------------------------------------------------------------
def stage_start(optimizer_code, settings, stage):
    record = optimizer_record(optimizer_code)
    return StageStart(stage, settings.num_stages, record.base_learning_rate(settings), settings.base_batch_size,
                      record.base_momentum(settings), settings.stage_factor, settings.fewer_updates_factor)


def noise_scale_form_problem(schedule_code, form):
    """Why a schedule cannot run under this form of the noise scale, in one line, or None.

    A schedule whose learning rate follows its batch matches the approximate
    g, which the exact form sets to 0 at B = N, where no learning rate
    matches it; one whose rule is set per optimizer follows that rule, not
    either form's g.
    """
    record = schedule_record(schedule_code)
    if form == "approx":
        return None
    if record.learning_rate_follows_batch:
        return (f"{schedule_code} keeps dlr's approximate noise scale, which has no exact form at B = N; "
                f"drop --noise-scale exact or {schedule_code}")
    if callable(record.kind):
        return (f"{schedule_code} follows a rule set per optimizer, not the exact noise scale; "
                f"drop --noise-scale exact or {schedule_code}")
    return None


def stage_plan(schedule_code, optimizer_code, settings, stage):
    """One stage's plan, matched on the noise scale in the settings' form, its batch not yet capped at N.

    Under the exact form, dlr's stage sets the exact g from its own lr, B
    (at most N) and m, and a fixed noise-matched schedule keeps its lr and m
    and takes the batch that matches it (optimizers.batch_for_noise_scale).
    A schedule of any other kind is defined by its batches and is the same
    under either form.
    """
    record, start = schedule_record(schedule_code), stage_start(optimizer_code, settings, stage)
    plan = record.stage(start)
    kind = record.kind_for(optimizer_code)
    problem = noise_scale_form_problem(schedule_code, settings.noise_scale)
    if problem:
        raise ValueError(problem)
    if settings.noise_scale != "exact" or record.adaptive or kind != "noise-matched":
        return plan
    dlr = schedule_record("dlr").stage(start)
    target = noise_scale(dlr.learning_rate, min(dlr.batch_size, settings.train_size), dlr.momentum,
                         settings.train_size, "exact")
    return dataclasses.replace(plan, batch_size=batch_for_noise_scale(target, plan.learning_rate, plan.momentum,
                                                                      settings.train_size))


def check_schedule_fits_optimizer(schedule_code, optimizer_code):
    """Raises ValueError for a schedule that the optimizer cannot run (ibs_mom needs a momentum)."""
    record = schedule_record(schedule_code)
    if not record.runs_with(optimizer_code):
        raise ValueError(f"the schedule {schedule_code} raises the momentum coefficient, which {optimizer_code} "
                         f"does not have; use it with --optimizers {','.join(record.optimizers)}")


def epoch_plans(schedule_code, optimizer_code, settings):
    """The plan of every epoch of one run, matched on the noise scale in the settings' form.

    A batch larger than the training set is the training set: one step an
    epoch, and that is the batch size recorded.
    """
    check_schedule_fits_optimizer(schedule_code, optimizer_code)
    record = schedule_record(schedule_code)
    if record.adaptive:
        raise ValueError(f"{schedule_code} decides its batches during the run: see adaptive_epoch_plan")
    if settings.noise_scale not in NOISE_SCALE_FORMS:
        raise ValueError(f"unknown noise scale form {settings.noise_scale!r}; "
                         f"choose from {', '.join(NOISE_SCALE_FORMS)}")
    reset = settings.original_optimizer_reset and record.original_reset
    plans = []
    for stage in range(settings.num_stages):
        plan = stage_plan(schedule_code, optimizer_code, settings, stage)
        plan = dataclasses.replace(plan, batch_size=min(plan.batch_size, settings.train_size), reset_optimizer=reset)
        plans += [with_scaled_constants(plan, optimizer_code, settings, record.half_lives)] * \
            settings.epochs_per_stage
    return plans


def with_scaled_constants(plan, optimizer_code, settings, half_lives=False):
    """The plan with the constants the study holds as variables, at this epoch's batch (Optimizer.scaled_values).

    Under --beta-scaling samples, or for a schedule with half-lives under
    schedule, the half-life of each of the record's scaled_constants stays
    fixed in examples; under schedule the other schedules carry the base
    values. Under none, and for an optimizer without such constants (the SGD
    family), the plan is as it was. A scaled momentum constant (Adam's
    beta_1) is also the plan's momentum. ValueError for a schedule with
    half-lives in a study that keeps the constants (none).
    """
    record = optimizer_record(optimizer_code)
    if half_lives and record.scaled_constants and settings.beta_scaling == "none":
        raise ValueError(f"a schedule with half-lives holds {optimizer_code}'s {', '.join(record.scaled_constants)} "
                         "to the batch; it needs --beta-scaling schedule")
    scaled = record.scaled_values(settings, plan.batch_size, half_lives)
    if not scaled:
        return plan
    momentum = dict(scaled).get(record.momentum_constant(), plan.momentum)
    return dataclasses.replace(plan, momentum=momentum, scaled=scaled)


def scaled_constants_problem(schedule_code, optimizer_code, settings):
    """One line if a run's plans set a constant its optimizer's state does not hold as a variable, else None.

    main.py asks it of every cell before training, so that such a study is
    refused when it is set up rather than in a worker at the plan's epoch.
    """
    record = optimizer_record(optimizer_code)
    plans = (estimated_epoch_plans(schedule_code, optimizer_code, settings)
             if schedule_code in ADAPTIVE_SCHEDULES else epoch_plans(schedule_code, optimizer_code, settings))
    return next((problem for problem in (record.scaled_problem(plan.scaled, settings) for plan in plans)
                 if problem), None)


def updates_per_epoch(train_size, batch_size):
    """Parameter updates in one epoch: a last partial batch is still a step."""
    return math.ceil(train_size / batch_size)


# ----------------------------------------------------------------------------
# The adaptive schedules: a batch decided during the run
# ----------------------------------------------------------------------------
AUTO_KAPPA_RULE = "kappa is a positive finite number"


def check_auto_kappa(kappa):
    """Raises ValueError for a kappa that is not a positive finite number (nan too)."""
    if not 0 < kappa < math.inf:
        raise ValueError(f"{AUTO_KAPPA_RULE}; got {kappa}")


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


def _adaptive_record(schedule_code):
    record = schedule_record(schedule_code)
    if not record.adaptive:
        raise ValueError(f"{schedule_code!r} is not an adaptive schedule ({', '.join(ADAPTIVE_SCHEDULES)})")
    return record


def adaptive_epoch_plan(schedule_code, optimizer_code, settings, history):
    """The plan of the epoch that follows history, a run's per-epoch records so far (batch_size, b_simple).

    An adaptive schedule's first stage is the first stage that dlr, ibs and
    hyb share: the base learning rate, batch and momentum. At the first epoch
    of every later stage its batch becomes auto_batch_size of the B_simple
    measured after the epoch before; within a stage it stays (adaptive_plan
    gives the rest of the plan).
    """
    _adaptive_record(schedule_code)
    epoch = len(history)
    if epoch < settings.epochs_per_stage:  # A base batch above the training set is the training set.
        return adaptive_plan(schedule_code, optimizer_code, settings, epoch,
                             min(settings.base_batch_size, settings.train_size))
    batch_size = int(history[-1]["batch_size"])
    if epoch % settings.epochs_per_stage == 0:
        batch_size = auto_batch_size(float(history[-1]["b_simple"]), settings.auto_kappa, batch_size,
                                     settings.train_size)
    return adaptive_plan(schedule_code, optimizer_code, settings, epoch, batch_size)


def b_simple_chosen_from(history, settings):
    """Per epoch of an adaptive run's records, the B_simple its batch was chosen from (ADAPTIVE_METRICS).

    As adaptive_epoch_plan chooses: a later stage's batch from the B_simple
    measured after the epoch before the stage began; the first stage chooses
    nothing (NaN).
    """
    per_stage = settings.epochs_per_stage
    return [float("nan") if epoch < per_stage else float(history[epoch - epoch % per_stage - 1]["b_simple"])
            for epoch in range(len(history))]


def adaptive_plan(schedule_code, optimizer_code, settings, epoch, batch_size):
    """An adaptive schedule's plan of one epoch at a batch size decided for it.

    ibs_auto keeps the first stage's learning rate and momentum, as ibs
    does. A schedule whose learning rate follows its batch (ibs_auto_lr)
    multiplies dlr's learning rate of the epoch by B / B_dlr, its batch over
    dlr's, at the same momentum, so that its noise scale lr N / (B (1 - m))
    is dlr's at every stage. That is the approximate form; the exact one's g
    is 0 at B = N, which no learning rate matches, so it is refused there.
    """
    record = _adaptive_record(schedule_code)
    problem = noise_scale_form_problem(schedule_code, settings.noise_scale)
    if problem:
        raise ValueError(problem)
    base = record.stage(stage_start(optimizer_code, settings, epoch // settings.epochs_per_stage))
    base = with_scaled_constants(dataclasses.replace(base, batch_size=batch_size), optimizer_code, settings,
                                 record.half_lives)
    if not record.learning_rate_follows_batch:
        return base
    dlr = epoch_plans("dlr", optimizer_code, settings)[epoch]
    return dataclasses.replace(base, learning_rate=float(f"{dlr.learning_rate * batch_size / dlr.batch_size:.12g}"))


def estimated_epoch_plans(schedule_code, optimizer_code, settings, history=()):
    """Every epoch's plan as far as it is known after history: for the cost model and the time left.

    A fixed schedule's plans are known from the start (epoch_plans). An
    adaptive one's are known up to the epoch after history; every later
    stage is estimated at the larger of the last batch and ibs's batch there,
    a guess that the run corrects as it decides.
    """
    if not schedule_record(schedule_code).adaptive:
        return epoch_plans(schedule_code, optimizer_code, settings)
    plans = [adaptive_epoch_plan(schedule_code, optimizer_code, settings, history[:epoch])
             for epoch in range(min(len(history) + 1, settings.epochs))]
    ibs = epoch_plans("ibs", optimizer_code, settings)
    for epoch in range(len(plans), settings.epochs):
        same_stage = epoch % settings.epochs_per_stage != 0
        batch_size = plans[-1].batch_size if same_stage else max(plans[-1].batch_size, ibs[epoch].batch_size)
        plans.append(adaptive_plan(schedule_code, optimizer_code, settings, epoch, batch_size))
    return plans
