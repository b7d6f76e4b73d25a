"""Tests of an optimizer's state (optimizers.OptimizerState): every record against Keras's own optimizer,
and the state as the one owner of the slots, the scaled constants and the bias correction."""
import dataclasses

import numpy as np
import pytest

from batchgrow import optimizers, schedules
from batchgrow import study
from batchgrow.training.grid import Selection
from batchgrow.training.networks import keras, tf


def keras_and_fused(code, initial, settings=study.Settings()):
    """(our variable, its optimizer state, Keras's variable, Keras's optimizer) from the same weights."""
    record = optimizers.optimizer_record(code)
    ours, theirs = tf.Variable(initial), keras.Variable(initial)
    return ours, record.build(tf, [ours], settings), theirs, record.keras_equivalent(keras, settings)


def plan_with(scaled=(), learning_rate=0.001, momentum=0.9):
    return schedules.EpochPlan(learning_rate, 4, momentum, scaled=tuple(scaled))


@pytest.mark.parametrize("code", optimizers.ALL_OPTIMIZERS)
def test_every_fused_optimizer_matches_keras(code):
    rng = np.random.default_rng(0)
    initial = rng.normal(size=(7, 5)).astype(np.float32)
    ours, optimizer, theirs, reference = keras_and_fused(code, initial)
    assert float(optimizer.learning_rate) == pytest.approx(float(reference.learning_rate))
    for step in range(20):
        if step == 10:  # A stage boundary: the rate changes in place, the state carries over.
            optimizer.learning_rate.assign(optimizer.learning_rate / 5)
            reference.learning_rate.assign(reference.learning_rate / 5)
        gradient = tf.constant(rng.normal(size=(7, 5)).astype(np.float32))
        optimizer.apply([gradient])
        reference.apply([gradient], [theirs])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-5, atol=1e-6)
    assert int(optimizer.iterations) == 20
    # The state a branch copies: the scalars, then every slot the record names, one per weight.
    assert len(optimizer.variables) == 2 + (optimizer.momentum is not None) + len(optimizer.record.slots)


def test_rmsprop_keeps_its_mean_square_with_epsilon_inside_the_root():
    rng = np.random.default_rng(3)
    initial = rng.normal(size=(4, 3)).astype(np.float32)
    ours, optimizer, _, _ = keras_and_fused("rmsprop", initial)
    gradient = rng.normal(size=(4, 3)).astype(np.float32)
    optimizer.apply([tf.constant(gradient)])
    mean_square = 0.1 * gradient.astype(np.float64) ** 2
    expected = initial - 0.001 * gradient / np.sqrt(mean_square + 1e-7)
    np.testing.assert_allclose(optimizer.slots["mean_square"][0].numpy(), mean_square, rtol=1e-5)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-5, atol=1e-7)
    # The preconditioner the noise measurement reads is the one the update applied.
    np.testing.assert_allclose(optimizer.preconditioner()[0].numpy(), 1 / np.sqrt(mean_square + 1e-7), rtol=1e-5)
    optimizer.reset()
    assert int(optimizer.iterations) == 0 and not optimizer.slots["mean_square"][0].numpy().any()


@pytest.mark.parametrize("nesterov", [False, True])
def test_a_momentum_changed_in_place_follows_keras_formula(nesterov):
    rng = np.random.default_rng(1)
    initial = rng.normal(size=(7, 5)).astype(np.float32)
    ours, optimizer, theirs, reference = keras_and_fused("nesterov" if nesterov else "momentum", initial)
    gradients = [tf.constant(rng.normal(size=(7, 5)).astype(np.float32)) for _ in range(20)]
    for step, gradient in enumerate(gradients):
        if step == 10:  # A stage boundary: the rate changes in place, the velocity carries over.
            optimizer.learning_rate.assign(optimizer.learning_rate / 5)
            reference.learning_rate.assign(reference.learning_rate / 5)
        optimizer.apply([gradient])
        reference.apply([gradient], [theirs])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-5, atol=1e-6)
    # A momentum coefficient changed in place (ibs_mom's 0.98) follows Keras's formula with the new m.
    weights, velocity = ours.numpy().astype(np.float64), optimizer.slots["velocity"][0].numpy().astype(np.float64)
    optimizer.start_epoch(plan_with(learning_rate=float(optimizer.learning_rate), momentum=0.98))
    optimizer.apply([gradients[0]])
    velocity = 0.98 * velocity - 0.0002 * gradients[0].numpy()
    weights += 0.98 * velocity - 0.0002 * gradients[0].numpy() if nesterov else velocity
    np.testing.assert_allclose(ours.numpy(), weights, rtol=1e-5, atol=1e-7)


def test_adams_bias_correction_by_running_products_matches_keras_while_the_betas_hold():
    # --beta-scaling samples keeps the betas in variables and the bias correction as running products of
    # them; while the betas do not change that is beta ** t, Keras's own.
    rng = np.random.default_rng(4)
    initial = rng.normal(size=(6, 4)).astype(np.float32)
    settings = study.Settings(beta_scaling="samples")
    ours, optimizer, theirs, reference = keras_and_fused("adam", initial, settings)
    assert set(optimizer.scaled) == {"beta_1", "beta_2"} and set(optimizer.powers) == {"beta_1", "beta_2"}
    for _ in range(30):
        gradient = tf.constant(rng.normal(size=(6, 4)).astype(np.float32))
        optimizer.apply([gradient])
        reference.apply([gradient], [theirs])
    np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=2e-5, atol=1e-6)
    np.testing.assert_allclose(float(optimizer.powers["beta_2"]), 0.999 ** 30, rtol=1e-5)


def test_a_changed_beta_reaches_the_update():
    rng = np.random.default_rng(5)
    initial = rng.normal(size=(5, 3)).astype(np.float32)
    settings = study.Settings(beta_scaling="samples")
    ours, optimizer, _, _ = keras_and_fused("adam", initial, settings)
    first = tf.constant(rng.normal(size=(5, 3)).astype(np.float32))
    optimizer.apply([first])
    weights = ours.numpy().astype(np.float64)
    m, v = (optimizer.slots[name][0].numpy().astype(np.float64) for name in ("first_moment", "second_moment"))
    # The next epoch's batch is 5 times the base: beta ** 5, and the powers multiply by the new betas.
    optimizer.start_epoch(plan_with((("beta_1", 0.9 ** 5), ("beta_2", 0.999 ** 5))))
    second = rng.normal(size=(5, 3)).astype(np.float32)
    optimizer.apply([tf.constant(second)])
    beta_1, beta_2 = 0.9 ** 5, 0.999 ** 5
    m = beta_1 * m + (1 - beta_1) * second
    v = beta_2 * v + (1 - beta_2) * second.astype(np.float64) ** 2
    step = 0.001 * np.sqrt(1 - 0.999 * beta_2) / (1 - 0.9 * beta_1)
    expected = weights - step * m / (np.sqrt(v) + 1e-7)
    np.testing.assert_allclose(ours.numpy(), expected, rtol=1e-4, atol=1e-6)
    # RMSprop's rho likewise.
    ours, optimizer, _, _ = keras_and_fused("rmsprop", initial, settings)
    optimizer.start_epoch(plan_with((("rho", 0.5),)))
    optimizer.apply([first])
    mean_square = 0.5 * first.numpy().astype(np.float64) ** 2
    np.testing.assert_allclose(ours.numpy(), initial - 0.001 * first.numpy() / np.sqrt(mean_square + 1e-7),
                               rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("code", [record.code for record in optimizers.OPTIMIZER_RECORDS if record.scaled_constants])
def test_every_scaled_constant_reaches_its_records_update(code):
    # An update reads its constants through the state, so a record cannot list a constant as scaled and
    # then ignore it: changing any one scaled value changes the step.
    rng = np.random.default_rng(6)
    initial = rng.normal(size=(4, 3)).astype(np.float32)
    gradient = tf.constant(rng.normal(size=(4, 3)).astype(np.float32))
    settings = study.Settings(beta_scaling="samples")
    record = optimizers.optimizer_record(code)
    base = record.scaled_values(settings, settings.base_batch_size)
    ours, optimizer, _, _ = keras_and_fused(code, initial, settings)
    # Two steps: Adam's bias correction makes its first step the same for any betas.
    steps = [gradient, tf.constant(rng.normal(size=(4, 3)).astype(np.float32))]
    optimizer.start_epoch(plan_with(base))
    for step in steps:
        optimizer.apply([step])
    unchanged = ours.numpy()
    for name, value in base:
        ours, optimizer, _, _ = keras_and_fused(code, initial, settings)
        optimizer.start_epoch(plan_with([(other, value / 2 if other == name else kept) for other, kept in base]))
        for step in steps:
            optimizer.apply([step])
        assert not np.array_equal(ours.numpy(), unchanged), f"{code}'s update ignores its scaled {name}"


def test_scaling_is_decided_once_by_the_record():
    # The state's variables and the plans' values come from the same decision, Optimizer.scaled_in.
    for scaling in study.BETA_SCALINGS:
        settings = study.Settings(beta_scaling=scaling)
        for record in optimizers.OPTIMIZER_RECORDS:
            state = record.build(tf, [tf.Variable(np.zeros(2, np.float32))], settings)
            plan = schedules.epoch_plans("ibs", record.code, settings)[-1]
            assert tuple(state.scaled) == record.scaled_in(settings) == tuple(name for name, _ in plan.scaled)
            assert bool(state.powers) == (record.bias_correction and bool(record.scaled_in(settings)))


def test_a_plan_that_sets_a_constant_the_optimizer_lacks_is_refused_in_one_line():
    settings = study.Settings()
    state = optimizers.optimizer_record("sgd").build(tf, [tf.Variable(np.zeros(2, np.float32))], settings)
    with pytest.raises(ValueError, match=r"^a plan sets rho of sgd, which has no such constant; "
                                         r"its constants are none$"):
        state.start_epoch(plan_with((("rho", 0.5),)))
    adam = optimizers.optimizer_record("adam").build(tf, [tf.Variable(np.zeros(2, np.float32))], settings)
    with pytest.raises(ValueError, match="which this study keeps constant; scaling it needs --beta-scaling samples or schedule"):
        adam.start_epoch(plan_with((("beta_2", 0.99),)))
    # A record that scales a constant it does not have is refused when it is made.
    adam_record = optimizers.optimizer_record("adam")
    with pytest.raises(ValueError, match=r"^optimizer adam scales gamma, which it does not have"):
        dataclasses.replace(adam_record, scaled_constants=("beta_1", "gamma"))
    with pytest.raises(ValueError, match="keeps a bias correction of scaled constants but scales none"):
        dataclasses.replace(adam_record, scaled_constants=())


def test_a_schedule_whose_plans_scale_what_the_study_keeps_is_refused_when_the_study_is_set_up(monkeypatch):
    # A schedule that sets a scaled constant itself (a rule with its own half-lives) in a study that keeps
    # the constants fixed: Selection.check, which main.py calls before training, names it.
    seesaw = schedules.schedule_record("seesaw")
    monkeypatch.setitem(schedules._BY_CODE, "seesaw", dataclasses.replace(
        seesaw, stage=lambda at: dataclasses.replace(seesaw.stage(at), scaled=(("beta_2", 0.99),))))
    selection = Selection(("mlp300",), ("adam",), ("dlr", "seesaw"), (0,))
    selection.check()  # Without the settings, only the schedule's fit to the optimizer is checked.
    with pytest.raises(ValueError, match="^a plan sets beta_2 of adam, which this study keeps constant"):
        selection.check(study.Settings())
    Selection(("mlp300",), ("adam",), ("dlr", "ibs"), (0,)).check(study.Settings(beta_scaling="samples"))


# ---------------------------------------------------------------- the floor control
def test_the_floor_control_starts_one_float32_step_above_dlrs_weights_and_leaves_dlr_as_it_was():
    from batchgrow.training import mnist, training
    settings = study.Settings(train_size=300, test_size=200, epochs_per_stage=1, num_stages=2)
    data = mnist.prepare_data(mnist.load_mnist(), settings.train_size, settings.test_size)
    trainer = training.Trainer("mlp300", "adam", 0, settings, data)
    before = [weight.numpy() for weight in trainer.weights]
    trainer.move_weights_one_ulp()
    for old, new in zip(before, (weight.numpy() for weight in trainer.weights)):
        assert np.array_equal(new, np.nextafter(old, np.float32(np.inf))) and (new > old).all()
    # The same plans as dlr's but for the move, so it never shares dlr's first epochs; and training it
    # beside dlr leaves dlr's run bit for bit what dlr alone trains.
    assert [dataclasses.replace(plan, moved_weights=False) for plan in schedules.epoch_plans(
        "dlr_ulp", "adam", settings)] == schedules.epoch_plans("dlr", "adam", settings)
    both = training.train_runs("mlp300", "adam", 0, ("dlr", "dlr_ulp"), settings, data)
    alone = training.train_runs("mlp300", "adam", 0, ("dlr",), settings, data)
    ignored = ("seconds",)
    assert {k: v for k, v in both["dlr"].items() if k not in ignored} == \
        {k: v for k, v in alone["dlr"].items() if k not in ignored}
    # One step of rounding at the start is a difference, and a small one.
    assert both["dlr_ulp"]["train_loss"] != both["dlr"]["train_loss"]
    assert abs(both["dlr_ulp"]["test_accuracy"][-1] - both["dlr"]["test_accuracy"][-1]) < 0.05


# ---------------------------------------------------------------- half-lives inside a schedule
def test_the_half_life_rules_run_from_ibs_to_seesaw_with_the_betas_held_in_examples():
    settings = study.Settings(beta_scaling="schedule")
    plans = {code: schedules.epoch_plans(code, "adam", settings)[::settings.epochs_per_stage]
             for code in ("dlr", "ibs", "seesaw", "ibs_hl", "hl_a250", "seesaw_hl")}
    lr_and_batch = lambda code: [(plan.learning_rate, plan.batch_size) for plan in plans[code]]
    # The ends of the family are ibs and seesaw; between them lr / k**a at the same batches.
    assert lr_and_batch("ibs_hl") == lr_and_batch("ibs") and lr_and_batch("seesaw_hl") == lr_and_batch("seesaw")
    assert [plan.batch_size for plan in plans["hl_a250"]] == [4, 20, 100, 500]
    np.testing.assert_allclose([plan.learning_rate for plan in plans["hl_a250"]],
                               [0.001 / 5 ** (0.25 * stage) for stage in range(4)], rtol=1e-12)
    # A schedule with half-lives holds beta ** (B / B0); the others carry the base betas, dlr exactly as
    # under samples (its batch is the base), so that dlr and every rule share one study and one dlr.
    for code in ("ibs_hl", "hl_a250", "seesaw_hl"):
        assert [dict(plan.scaled)["beta_2"] for plan in plans[code]] == [0.999 ** (batch / 4) for batch in
                                                                         (4, 20, 100, 500)]
    assert {plan.scaled for plan in plans["seesaw"] + plans["dlr"]} == {(("beta_1", 0.9), ("beta_2", 0.999))}
    assert schedules.epoch_plans("dlr", "adam", settings) == \
        schedules.epoch_plans("dlr", "adam", study.Settings(beta_scaling="samples"))
    # Without a variable to hold them in, a half-life rule is refused; the SGD family has nothing to hold.
    with pytest.raises(ValueError, match="^a schedule with half-lives holds adam's beta_1, beta_2 to the batch; "
                                         "it needs --beta-scaling schedule$"):
        schedules.epoch_plans("seesaw_hl", "adam", study.Settings())
    assert schedules.epoch_plans("seesaw_hl", "sgd", study.Settings()) == \
        schedules.epoch_plans("seesaw", "sgd", study.Settings())


def test_asking_for_a_half_life_rule_sets_the_schedules_own_scaling():
    import main
    assert main.parse_args(["--optimizers", "adam", "--schedules", "dlr,seesaw_hl"]).beta_scaling == "schedule"
    assert main.parse_args(["--optimizers", "sgd", "--schedules", "dlr,seesaw_hl"]).beta_scaling == "none"
    assert main.parse_args(["--optimizers", "adam", "--schedules", "dlr,seesaw_hl",
                            "--beta-scaling", "samples"]).beta_scaling == "samples"
    assert main.parse_args(["--optimizers", "adam", "--schedules", "dlr,seesaw"]).beta_scaling == "none"


def test_dlr_trains_bit_for_bit_alike_under_samples_and_under_schedule():
    # One arithmetic for every run of a study: dlr beside the half-life rules is the dlr of a samples study.
    from batchgrow.training import mnist, training
    data = mnist.prepare_data(mnist.load_mnist(), 300, 200)
    runs = [training.train_runs("mlp300", "adam", 0, ("dlr",), study.Settings(
        train_size=300, test_size=200, epochs_per_stage=1, num_stages=2, beta_scaling=scaling), data)["dlr"]
        for scaling in ("samples", "schedule", "none")]
    without_seconds = [{key: value for key, value in run.items() if key != "seconds"} for run in runs]
    assert without_seconds[0] == without_seconds[1]
    # Keras's beta ** t rounds otherwise: the arithmetic a study shares is a choice that shows.
    assert without_seconds[2]["full_train_loss"] != without_seconds[0]["full_train_loss"]
