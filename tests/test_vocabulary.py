"""Tests of the vocabulary: the optimizer records, the schedule records and their plans, the settings.

The numbers here are the study's design written out by hand (batch sizes,
learning rates, updates per run, noise scales); the records are asked for
everything else, never re-declared.
"""
import dataclasses

import numpy as np
import pytest
from conftest import PROJECT_DIR

from batchgrow.training import costs
from batchgrow import optimizers
from batchgrow import schedules
from batchgrow import study
from batchgrow.optimizers import noise_scale, optimizer_record
from batchgrow.schedules import StageStart, epoch_plans, schedule_record, updates_per_epoch


def stage_plans(schedule, optimizer, settings=study.Settings()):
    """One plan per stage."""
    return epoch_plans(schedule, optimizer, settings)[::settings.epochs_per_stage]


def plan_noise_scale(plan, train_size, form="approx"):
    return noise_scale(plan.learning_rate, plan.batch_size, plan.momentum, train_size, form)


def stage_batches(schedule, optimizer, settings):
    return [plan.batch_size for plan in stage_plans(schedule, optimizer, settings)]


# ---------------------------------------------------------------- the records
def test_every_optimizer_and_schedule_is_one_record_found_by_its_code():
    assert optimizers.ALL_OPTIMIZERS == ("sgd", "momentum", "nesterov", "adam", "rmsprop")
    assert optimizers.OPTIMIZERS == ("sgd", "adam") and schedules.SCHEDULES == ("dlr", "ibs", "hyb")
    assert [optimizer_record(code).code for code in optimizers.ALL_OPTIMIZERS] == list(optimizers.ALL_OPTIMIZERS)
    assert [schedule_record(code).code for code in schedules.ALL_SCHEDULES] == list(schedules.ALL_SCHEDULES)
    with pytest.raises(ValueError, match="unknown optimizer 'adamw'; choose from sgd, momentum"):
        optimizer_record("adamw")
    with pytest.raises(ValueError, match="unknown schedule 'cosine'"):
        schedule_record("cosine")
    # A code that a pickle names but this version does not know is shown as it is.
    assert optimizers.optimizer_display_name("adamw") == "adamw"
    assert schedules.schedule_display_name("cosine") == "cosine"
    assert optimizers.optimizer_display_name("momentum") == "SGD + momentum"
    assert optimizers.MOMENTUM_OPTIMIZERS == ("momentum", "nesterov")


def test_each_optimizer_takes_its_base_rate_and_momentum_from_its_settings():
    settings = study.Settings()
    rates = {code: optimizer_record(code).base_learning_rate(settings) for code in optimizers.ALL_OPTIMIZERS}
    assert rates == {"sgd": 0.01, "momentum": 0.001, "nesterov": 0.001, "adam": 0.001, "rmsprop": 0.001}
    momenta = {code: optimizer_record(code).base_momentum(settings) for code in optimizers.ALL_OPTIMIZERS}
    assert momenta == {"sgd": 0.0, "momentum": 0.9, "nesterov": 0.9, "adam": 0.9, "rmsprop": 0.0}
    assert optimizer_record("rmsprop").constants(settings) == {"rho": 0.9, "epsilon": 1e-7}
    assert optimizer_record("adam").constants(settings) == {"beta_1": 0.9, "beta_2": 0.999, "epsilon": 1e-7}
    # Only the adaptive optimizers precondition their gradients, which the noise measurement follows.
    assert [code for code in optimizers.ALL_OPTIMIZERS if optimizer_record(code).preconditioned] == ["adam", "rmsprop"]


def test_the_noise_scale_is_one_function_and_the_figures_leave_adams_beta_1_out():
    assert noise_scale(0.01, 4, 0.0, 20_000) == pytest.approx(50.0)
    assert noise_scale(0.001, 4, 0.9, 20_000) == pytest.approx(50.0)
    assert noise_scale(0.01, 4, 0.0, 20_000, "exact") == pytest.approx(0.01 * 4_999)
    assert noise_scale(0.01, 20_000, 0.0, 20_000, "exact") == 0.0
    adam, momentum = optimizer_record("adam"), optimizer_record("momentum")
    assert adam.momentum_in_figures(0.9) == 0.0 and momentum.momentum_in_figures(0.9) == 0.9
    assert optimizers.noise_scale_formula(optimizer_record("sgd")) == "g = lr × N / B (no momentum, m = 0)"
    assert optimizers.noise_scale_formula(momentum, "exact") == "exact g = lr × (N / B − 1) / (1 − m)"
    assert optimizers.noise_scale_formula(adam) == "g = lr × N / B"
    assert optimizers.noise_scale_note(optimizer_record("rmsprop"))[-1] == "and does not predict RMSprop"
    assert optimizers.noise_scale_note(momentum) == []
    # The batch solved for a g is the whole number nearest N / (1 + g (1 - m) / lr), kept in [1, N].
    assert optimizers.batch_for_noise_scale(1e9, 0.01, 0.0, 5_000) == 1
    assert optimizers.batch_for_noise_scale(0.0, 0.01, 0.0, 5_000) == 5_000


def test_a_schedules_kind_may_depend_on_the_optimizer():
    # A record whose kind follows the optimizer's rule: a match for the adaptive optimizers, a control for SGD.
    seesaw_like = schedules.Schedule(
        "example", "example", schedule_record("ibs").stage,
        lambda record: "noise-matched" if record.preconditioned else "control")
    assert seesaw_like.kind_for("adam") == "noise-matched" and seesaw_like.kind_for("sgd") == "control"
    assert schedule_record("ibs").kind_for("adam") == schedule_record("ibs").kind_for("sgd") == "noise-matched"
    assert schedules.schedule_kind("cosine", "sgd") is None
    assert schedules.NOISE_MATCHED_SCHEDULES == ("ibs", "hyb", "ibs_lr", "ibs_mom")
    assert schedules.ADAPTIVE_SCHEDULES == ("ibs_auto", "ibs_auto_lr")
    # Under the paper's rule (plain SGD's), the square-root rule's schedules are controls too.
    assert schedules.CONTROL_SCHEDULES == ("seesaw", "dlr_sqrt", "seesaw_hl", "const", "ibs_slow", "ibs_fast",
                                           "ibs_last_1_5x", "ibs_last_2x", "ibs_last_4x", "ibs_last_8x", "dlr_s2_x2",
                                           "dlr_s2_d2", "dlr_s2_xr2", "dlr_s2_dr2")
    assert {record.kind_for("sgd") for record in schedules.SCHEDULE_RECORDS} <= set(schedules.SCHEDULE_KINDS)


def test_a_new_fixed_schedule_is_one_record():
    # A stage function is a pure function of where the run starts; the record is all a schedule needs.
    halving = schedules.Schedule("ibs_2x", "batch doubled per stage", lambda at: schedules.EpochPlan(
        at.learning_rate, at.batch_size * 2 ** at.stage, at.momentum), "control")
    start = StageStart(stage=2, num_stages=4, learning_rate=0.01, batch_size=4, momentum=0.0, factor=5.0, boost=5.0)
    assert halving.stage(start) == schedules.EpochPlan(0.01, 16, 0.0, False)
    assert schedule_record("ibs").stage(start) == schedules.EpochPlan(0.01, 100, 0.0)


# ---------------------------------------------------------------- the plans
def test_batch_sizes_and_learning_rates_by_stage():
    settings = study.Settings()
    batches = {s: stage_batches(s, "sgd", settings) for s in schedules.SCHEDULES}
    assert batches == {"dlr": [4, 4, 4, 4], "ibs": [4, 20, 100, 500], "hyb": [4, 9, 20, 45]}
    rates = {s: [plan.learning_rate for plan in stage_plans(s, "sgd")] for s in schedules.SCHEDULES}
    np.testing.assert_allclose(rates["dlr"], [0.01, 0.002, 0.0004, 0.00008])
    np.testing.assert_allclose(rates["ibs"], [0.01] * 4)
    np.testing.assert_allclose(rates["hyb"], [0.01 / 5 ** (stage / 2) for stage in range(4)])
    with pytest.raises(ValueError, match="unknown schedule"):
        epoch_plans("cosine", "sgd", settings)


def test_noise_scale_shrinks_by_the_same_factor_for_every_schedule():
    # dlr and ibs keep lr / B equal stage by stage; hyb only up to its rounding.
    for dlr, ibs, hyb in zip(*(stage_plans(s, "sgd") for s in schedules.SCHEDULES)):
        assert dlr.learning_rate / dlr.batch_size == pytest.approx(ibs.learning_rate / ibs.batch_size)
        assert hyb.learning_rate / hyb.batch_size == pytest.approx(dlr.learning_rate / dlr.batch_size, rel=0.02)


def test_updates_per_run_at_the_original_settings():
    settings = study.Settings()
    updates = {s: sum(updates_per_epoch(20_000, plan.batch_size) for plan in epoch_plans(s, "sgd", settings))
               for s in schedules.SCHEDULES}
    assert updates == {"dlr": 60_000, "ibs": 18_720, "hyb": 26_004}
    assert updates_per_epoch(10, 4) == 3  # A last partial batch is a step.


def test_fewer_updates_schedules_by_stage():
    # ibs_lr and ibs_mom start at 5 x the base batch and hold lr x 5, or divide 1 - m by 5.
    ibs_lr, ibs_mom = stage_plans("ibs_lr", "momentum"), stage_plans("ibs_mom", "momentum")
    assert [p.batch_size for p in ibs_lr] == [p.batch_size for p in ibs_mom] == [20, 100, 500, 2500]
    assert [p.learning_rate for p in ibs_lr] == [0.005] * 4 and [p.momentum for p in ibs_lr] == [0.9] * 4
    assert [p.learning_rate for p in ibs_mom] == [0.001] * 4
    np.testing.assert_allclose([p.momentum for p in ibs_mom], [0.98] * 4)
    # Both scale with the base batch size, up to the training set.
    assert stage_batches("ibs_lr", "sgd", study.Settings(base_batch_size=32, train_size=60_000))[-1] == 20_000


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov"])
def test_every_schedule_has_dlr_noise_scale_at_every_stage(optimizer):
    settings = study.Settings()
    # The controls depart from dlr's noise scale on purpose and have a test of their own.
    matched = [s for s in schedules.NOISE_MATCHED_SCHEDULES if schedule_record(s).runs_with(optimizer)]
    dlr = [plan_noise_scale(plan, settings.train_size) for plan in epoch_plans("dlr", optimizer, settings)]
    assert dlr[0] == pytest.approx(50.0) and dlr[-1] == pytest.approx(50.0 / 125)
    for schedule in matched:
        scales = [plan_noise_scale(plan, settings.train_size) for plan in epoch_plans(schedule, optimizer, settings)]
        # The hybrid's batch size is rounded to a whole number; the others match exactly.
        np.testing.assert_allclose(scales, dlr, rtol=0.02 if schedule == "hyb" else 1e-9)
    # Momentum 0.9 at lr 0.001 has plain SGD's noise scale, stage by stage.
    sgd = [plan_noise_scale(plan, settings.train_size) for plan in epoch_plans("dlr", "sgd", settings)]
    np.testing.assert_allclose(dlr, sgd, rtol=1e-9)


def test_updates_per_run_of_the_fewer_updates_schedules():
    settings = study.Settings()
    for optimizer, schedule in (("momentum", "ibs_lr"), ("nesterov", "ibs_mom"), ("sgd", "ibs_lr"),
                                ("adam", "ibs_lr"), ("rmsprop", "ibs_lr")):
        plans = epoch_plans(schedule, optimizer, settings)
        assert sum(updates_per_epoch(20_000, plan.batch_size) for plan in plans) == 3_744
    # A batch beyond the training set is the training set: one step an epoch.
    assert stage_batches("ibs_lr", "sgd", study.Settings(base_batch_size=64))[-1] == 20_000


def test_exact_noise_scale_batch_sizes_by_hand():
    # N = 5,000, base batch 32, plain SGD at lr 0.01: dlr's exact g is 0.01 / 5^s * (5000 / 32 - 1),
    # and B = N / (1 + g / lr) at lr 0.01 (ibs) or 0.05 (ibs_lr).
    exact = study.Settings(train_size=5_000, base_batch_size=32, noise_scale="exact")
    assert stage_batches("ibs", "sgd", exact) == [32, 156, 693, 2_230]
    assert stage_batches("ibs_lr", "sgd", exact) == [156, 693, 2_230, 4_005]
    assert stage_batches("dlr", "sgd", exact) == [32] * 4
    # ibs_lr's last stage at base batch 32 with momentum, N = 20,000.
    assert stage_batches("ibs_lr", "momentum", study.Settings(base_batch_size=32, noise_scale="exact"))[-1] == 10_008
    # The approximation, the default.
    approx = study.Settings(train_size=5_000, base_batch_size=32)
    assert stage_batches("ibs", "sgd", approx) == [32, 160, 800, 4_000]
    assert stage_batches("ibs_lr", "sgd", approx) == [160, 800, 4_000, 5_000]


@pytest.mark.parametrize("optimizer", optimizers.ALL_OPTIMIZERS)
@pytest.mark.parametrize("form", optimizers.NOISE_SCALE_FORMS)
def test_both_noise_scale_forms_for_every_schedule(optimizer, form):
    settings = study.Settings(train_size=5_000, base_batch_size=32, noise_scale=form)
    approx = dataclasses.replace(settings, noise_scale="approx")
    n = settings.train_size
    dlr = [plan_noise_scale(plan, n, form) for plan in epoch_plans("dlr", optimizer, settings)]
    for record in schedules.SCHEDULE_RECORDS:
        if not record.runs_with(optimizer) or record.adaptive:  # Its batches are decided during the run.
            continue
        if callable(record.kind) and form == "exact":  # A rule per optimizer: refused there (tested apart).
            continue
        # A rule with half-lives needs its study to hold the betas as variables (tested apart).
        held = dict(beta_scaling="schedule") if record.half_lives else {}
        plans, approx_plans = (epoch_plans(record.code, optimizer, dataclasses.replace(s, **held))
                               for s in (settings, approx))
        # Every form keeps the schedule's own learning rate and momentum.
        assert [(p.learning_rate, p.momentum) for p in plans] == [(p.learning_rate, p.momentum) for p in approx_plans]
        kind = record.kind_for(optimizer)
        if form == "approx" or kind != "noise-matched":
            assert plans == approx_plans
        if kind != "noise-matched":
            continue  # dlr, and the controls, are defined by their batches, in either form.
        for plan, target in zip(plans, dlr):
            # The batch is the whole number nearest the one whose g is dlr's.
            solved = n / (1 + target * (1 - plan.momentum) / plan.learning_rate) if form == "exact" else \
                plan.learning_rate * n / (target * (1 - plan.momentum))
            if form == "exact" or record.code == "hyb":
                assert abs(plan.batch_size - min(solved, n)) <= 0.5 + 1e-9, (record.code, plan, solved)
            else:
                assert plan.batch_size == pytest.approx(min(solved, n))


def test_a_schedule_of_another_kind_keeps_its_batches_under_the_exact_form(monkeypatch):
    # Controls are defined by their batch sizes: only a noise-matched record solves for dlr's g.
    hyb_as_control = dataclasses.replace(schedule_record("hyb"), kind="control")
    monkeypatch.setitem(schedules._BY_CODE, "hyb", hyb_as_control)
    exact = study.Settings(train_size=5_000, base_batch_size=32, noise_scale="exact")
    assert stage_batches("hyb", "sgd", exact) == stage_batches("hyb", "sgd", study.Settings(train_size=5_000,
                                                                                            base_batch_size=32))
    assert stage_batches("ibs", "sgd", exact) == [32, 156, 693, 2_230]


def test_exact_batches_stay_in_one_to_n():
    # A base batch of the whole training set has g = 0, so every schedule takes all of it.
    whole = study.Settings(train_size=300, base_batch_size=300, noise_scale="exact")
    for schedule in ("ibs", "hyb", "ibs_lr"):
        assert stage_batches(schedule, "sgd", whole) == [300] * 4
    with pytest.raises(ValueError, match="unknown noise scale form"):
        epoch_plans("ibs", "sgd", study.Settings(noise_scale="exactly"))
    # dlr is the same under either form; the exact form only re-solves a matched schedule's batch.
    five_thousand = dict(train_size=5_000, base_batch_size=32)
    assert schedules.stage_plan("ibs_lr", "sgd", study.Settings(noise_scale="exact", **five_thousand), 3) == \
        schedules.EpochPlan(0.05, 4_005, 0.0)
    assert schedules.stage_plan("dlr", "sgd", study.Settings(noise_scale="exact", **five_thousand), 3) == \
        schedules.stage_plan("dlr", "sgd", study.Settings(**five_thousand), 3)


def test_original_reset_applies_to_dlr_and_hyb_only():
    settings = study.Settings(original_optimizer_reset=True)
    # The floor control is dlr moved by one rounding step, so it keeps dlr's flaw too.
    assert [code for code in schedules.ALL_SCHEDULES if schedule_record(code).original_reset] == ["dlr", "hyb", "dlr_ulp"]
    assert all(plan.reset_optimizer for plan in epoch_plans("dlr", "adam", settings))
    assert all(plan.reset_optimizer for plan in epoch_plans("hyb", "adam", settings))
    assert not any(plan.reset_optimizer for plan in epoch_plans("ibs", "adam", settings))
    assert not any(plan.reset_optimizer for plan in epoch_plans("dlr", "adam", study.Settings()))


def test_control_schedules_depart_from_dlrs_noise_scale_on_purpose():
    settings = study.Settings()
    plans = {schedule: epoch_plans(schedule, "sgd", settings) for schedule in ("dlr", "const", "ibs_slow", "ibs_fast")}
    batches = {schedule: [plan.batch_size for plan in plan_list[::3]] for schedule, plan_list in plans.items()}
    assert batches == {"dlr": [4, 4, 4, 4], "const": [4, 4, 4, 4], "ibs_slow": [4, 10, 25, 62],
                       "ibs_fast": [4, 40, 400, 4000]}
    for schedule in ("const", "ibs_slow", "ibs_fast"):
        assert {plan.learning_rate for plan in plans[schedule]} == {settings.sgd_learning_rate}
    # The last stage's noise scale against dlr's: 125 times, about 8 times (62 for 62.5) and 1/8.
    final = {schedule: plan_noise_scale(plan_list[-1], settings.train_size) for schedule, plan_list in plans.items()}
    assert final["const"] / final["dlr"] == pytest.approx(125)
    assert final["ibs_slow"] / final["dlr"] == pytest.approx(500 / 62)
    assert final["ibs_fast"] / final["dlr"] == pytest.approx(1 / 8)
    # The graded series: ibs with only the last stage's batch divided by k.
    graded = [record for record in schedules.SCHEDULE_RECORDS if record.last_stage_mismatch]
    assert [(record.code, record.last_stage_mismatch) for record in graded] == [
        ("ibs_last_1_5x", 1.5), ("ibs_last_2x", 2.0), ("ibs_last_4x", 4.0), ("ibs_last_8x", 8.0)]
    for record in graded:
        graded_plans = epoch_plans(record.code, "sgd", settings)
        assert graded_plans[:9] == epoch_plans("ibs", "sgd", settings)[:9]
        assert graded_plans[-1].batch_size == round(500 / record.last_stage_mismatch)
        assert plan_noise_scale(graded_plans[-1], settings.train_size) / final["dlr"] == \
            pytest.approx(record.last_stage_mismatch, rel=0.01)
    # The first stage is dlr's, so the controls branch from it like ibs does.
    assert all(plan_list[:3] == plans["dlr"][:3] for plan_list in plans.values())
    # With momentum the controls keep the base momentum and learning rate.
    assert {(plan.learning_rate, plan.momentum) for plan in epoch_plans("ibs_slow", "momentum", settings)} == {
        (settings.momentum_learning_rate, settings.momentum_coefficient)}


def test_ibs_mom_runs_only_with_a_momentum_optimizer():
    for optimizer in ("sgd", "adam", "rmsprop"):
        with pytest.raises(ValueError, match="ibs_mom raises the momentum coefficient"):
            epoch_plans("ibs_mom", optimizer, study.Settings())
    assert schedules.schedule_runs_with("ibs_mom", "nesterov") and schedules.schedule_runs_with("cosine", "adam")


def test_the_square_root_rules_schedules_by_stage_and_their_kind_by_optimizer():
    seesaw, dlr_sqrt = stage_plans("seesaw", "adam"), stage_plans("dlr_sqrt", "adam")
    assert [plan.batch_size for plan in seesaw] == [4, 20, 100, 500] and [p.batch_size for p in dlr_sqrt] == [4] * 4
    for plans in (seesaw, dlr_sqrt):
        np.testing.assert_allclose([plan.learning_rate for plan in plans], [0.001 / 5 ** (s / 2) for s in range(4)])
    for code in ("seesaw", "dlr_sqrt"):
        kinds = {optimizer: schedule_record(code).kind_for(optimizer) for optimizer in optimizers.ALL_OPTIMIZERS}
        assert kinds == {"sgd": "control", "momentum": "control", "nesterov": "control",
                         "adam": "sqrt-matched", "rmsprop": "sqrt-matched"}
        # They follow a rule per optimizer, not dlr's exact noise scale: refused there.
        with pytest.raises(ValueError, match="rule set per optimizer"):
            epoch_plans(code, "adam", study.Settings(noise_scale="exact"))


def test_beta_scaling_holds_each_half_life_in_examples():
    settings = study.Settings(beta_scaling="samples")
    adam = stage_plans("seesaw", "adam", settings)
    np.testing.assert_allclose([plan.momentum for plan in adam], [0.9 ** (5 ** s) for s in range(4)])
    np.testing.assert_allclose([dict(plan.scaled)["beta_2"] for plan in adam], [0.999 ** (5 ** s) for s in range(4)])
    rmsprop = stage_plans("ibs", "rmsprop", settings)
    np.testing.assert_allclose([dict(plan.scaled)["rho"] for plan in rmsprop], [0.9 ** (5 ** s) for s in range(4)])
    # At the base batch nothing changes, and the SGD family has no betas to scale.
    assert {plan.scaled for plan in stage_plans("dlr", "adam", settings)} == {(("beta_1", 0.9), ("beta_2", 0.999))}
    assert stage_plans("seesaw", "momentum", settings) == stage_plans("seesaw", "momentum")
    # Off, the default, the plans carry nothing scaled.
    assert all(plan.scaled == () for plan in stage_plans("seesaw", "adam"))
    assert study.settings_record(settings)["beta_scaling"] == "samples"


# ---------------------------------------------------------------- the cost model
def test_shared_first_stage_is_trained_once():
    settings = study.Settings()
    epochs = costs.trained_epochs("adam", schedules.SCHEDULES, settings)
    # 3 shared epochs, then 9 of each schedule: 30 trained epochs, not 36.
    assert len(epochs) == 30
    assert sorted(plan.batch_size for plan in epochs).count(4) == 12
    assert len(costs.trained_epochs("adam", ("ibs",), settings)) == 12


def test_an_optimizers_step_costs_what_its_record_says():
    settings, plan = study.Settings(), epoch_plans("dlr", "sgd", study.Settings())[0]
    sgd, momentum, adam, rmsprop = (costs.epoch_cost("mlp300", code, plan, settings)
                                    for code in ("sgd", "momentum", "adam", "rmsprop"))
    assert sgd < momentum < adam == rmsprop
    assert momentum == pytest.approx((sgd + adam) / 2)


@pytest.mark.parametrize("assignment, expected", [
    ("adam_learning_rate=0.003", ("adam_learning_rate", 0.003)),
    ("adam_epsilon=1e-8", ("adam_epsilon", 1e-8)),
    ("train_size=1000", ("train_size", 1000)),
    ("momentum_coefficient=0", ("momentum_coefficient", 0.0)),
    ("original_optimizer_reset=True", ("original_optimizer_reset", True)),
    ("noise_scale=exact", ("noise_scale", "exact")),
    ("data_name=my digits", ("data_name", "my digits")),
])
def test_a_setting_is_parsed_to_its_fields_type(assignment, expected):
    assert study.parse_setting(assignment) == expected
    assert type(study.parse_setting(assignment)[1]) is type(getattr(study.Settings(), expected[0]))


def test_every_user_setting_but_the_datas_digest_can_be_set_and_nothing_else():
    assert set(study.USER_SETTINGS) == set(study.SETTING_NAMES) - {"data_fingerprint"}
    for bad in ("data_fingerprint=abc", "no_such=1", "adam_beta_1=1", "rmsprop_rho=-0.1", "num_stages=0",
                "stage_factor=nan", "sgd_learning_rate=inf", "backward=both", "measure_noise=yes", "data_name= "):
        with pytest.raises(ValueError):
            study.parse_setting(bad)


def test_the_reference_schedule_is_found_through_the_records_not_by_its_name():
    assert schedules.schedule_record(schedules.REFERENCE_SCHEDULE).kind_for("sgd") == "reference"
    # Only the records name it: no module outside schedules.py writes the reference's code as a string.
    written = {str(path.relative_to(PROJECT_DIR)) for path in [PROJECT_DIR / "main.py", PROJECT_DIR / "plots.py",
                                                               *sorted((PROJECT_DIR / "batchgrow").rglob("*.py"))]
               if path.name != "schedules.py"
               and any(quoted in path.read_text(encoding="utf-8")
                       for quoted in (f'"{schedules.REFERENCE_SCHEDULE}"', f"'{schedules.REFERENCE_SCHEDULE}'"))}
    assert written == set(), f"these name the reference schedule by its code: {sorted(written)}"
