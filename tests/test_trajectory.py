"""Tests of the second endpoint: the model's own training loss along the run, and the run files that lack it."""
import math
import pickle

import numpy as np
import pytest
from scipy import stats
from conftest import PROJECT_DIR, run_main

from batchgrow.training import mnist
from batchgrow import safe_pickle
from batchgrow import schedules
from batchgrow import study
from batchgrow.training import training
from batchgrow.reporting import trajectory
from batchgrow.training.networks import keras, tf

TINY = ["--archs", "mlp300", "--optimizers", "sgd", "--schedules", "dlr,ibs", "--seeds", "2", "--train-size", "300",
        "--test-size", "200", "--epochs-per-stage", "2", "--jobs", "1"]


@pytest.mark.parametrize("arch", ["mlp300", "lenet5"])
def test_full_train_loss_is_keras_evaluate_on_the_same_weights(arch):
    settings = study.Settings(train_size=3_000, test_size=500, train_loss_images=2_000)
    data = mnist.prepare_data(mnist.load_mnist(), settings.train_size, settings.test_size)
    trainer = training.Trainer(arch, "adam", 0, settings, data)
    order = tf.constant(training.epoch_order(0, 0, settings.train_size))
    trainer.train_epoch(order, tf.constant(32))
    ours = trainer.full_train_loss()
    trainer.model.compile(loss=keras.losses.SparseCategoricalCrossentropy())
    subset = training.loss_subset(0, settings.train_size, settings.train_loss_images)
    theirs = trainer.model.evaluate(data["x_train"][subset], data["y_train"][subset],
                                    batch_size=training.EVAL_BATCH_SIZE, verbose=0)
    assert ours == pytest.approx(theirs, rel=1e-5)
    # It is the model's loss, not the mean over the epoch's batches while the weights moved.
    assert ours != pytest.approx(float(trainer.train_epoch(order, tf.constant(32))), rel=1e-3)


def one_pixel_images(margins):
    """Images of one lit pixel each and a one-layer softmax whose logits on them are exact in float32.

    Image i lights pixel i and has label i % 10; the kernel's row i gives its
    label the logit 0 and every other class -margins[i], so that its
    cross-entropy is ln(1 + 9 exp(-margins[i])) exactly, down to far below
    float32's step at 1.0.
    """
    count = len(margins)
    images = np.zeros((count, 28 * 28), np.float32)
    images[np.arange(count), np.arange(count)] = 1.0
    labels = (np.arange(count) % 10).astype(np.int32)
    kernel = np.zeros((28 * 28, 10), np.float32)
    kernel[:count] = -np.asarray(margins, np.float32)[:, None]
    kernel[np.arange(count), labels] = 0.0
    # The margins as the float32 kernel holds them.
    expected = np.log1p(9 * np.exp(-np.asarray(margins, np.float32).astype(np.float64)))
    return images.reshape(count, 28, 28), labels, kernel, expected


def test_full_train_loss_is_measured_in_float64_below_float32s_floor(monkeypatch):
    """The model's training loss of a model far down the loss: float64 from the logits matches numpy's float64;
    the float32 path that it replaced scores these images 0."""
    margins = np.linspace(18.0, 40.0, 700)  # Per-image losses from 1.4e-7 down to 3.8e-17.
    images, labels, kernel, expected = one_pixel_images(margins)
    build = lambda: keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),  # noqa: E731
                                      keras.layers.Dense(10, activation="softmax")])
    monkeypatch.setitem(training.networks.NETWORKS, "one_pixel", training.networks.Network(build, None))
    settings = study.Settings(train_size=len(margins), test_size=10)
    data = {"x_train": images, "y_train": labels, "x_test": images[:10], "y_test": labels[:10]}
    trainer = training.Trainer("one_pixel", "sgd", 0, settings, data)
    trainer.model.layers[-1].kernel.assign(kernel)
    trainer.model.layers[-1].bias.assign(np.zeros(10, np.float32))
    measured = trainer.full_train_loss()
    assert expected.mean() < 1e-8  # Far below float32's step at 1.0 (1.2e-7).
    assert measured == pytest.approx(expected.mean(), rel=1e-9, abs=0)
    # Per image too, down to the smallest loss.
    per_image = [float(trainer.loss_sum_float64(images[i:i + 1], labels[i:i + 1])) for i in (0, 350, 699)]
    np.testing.assert_allclose(per_image, expected[[0, 350, 699]], rtol=1e-9)
    # The float32 path it replaced floors: it scores most of these images exactly 0.
    _, float32_mean = trainer.score(trainer.x_loss, trainer.y_loss)
    assert float32_mean < 0.5 * expected.mean() or float32_mean > 2 * expected.mean()
    float32_losses = keras.ops.sparse_categorical_crossentropy(labels, trainer.model(images)).numpy()
    assert (float32_losses == 0).mean() > 0.8


def test_the_loss_is_measured_on_a_fixed_subset_per_seed():
    subset = training.loss_subset(3, 20_000, 5_000)
    assert len(subset) == len(set(subset)) == 5_000 and list(subset) == sorted(subset)
    assert subset.min() >= 0 and subset.max() < 20_000
    # The same for every schedule of a seed (a function of the seed alone), another for another seed.
    assert (training.loss_subset(3, 20_000, 5_000) == subset).all()
    assert not (training.loss_subset(4, 20_000, 5_000) == subset).all()
    # A training set no larger than the subset is measured whole.
    assert list(training.loss_subset(3, 300, 5_000)) == list(range(300))
    assert study.settings_record(study.Settings())["train_loss_images"] == 5_000


@pytest.mark.slow
def test_every_run_records_it_at_the_stage_ends_and_a_file_without_it_is_trained_again(tmp_path):
    made = run_main(*TINY, "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    path = tmp_path / "runs" / "mlp300_sgd_ibs_seed1.pickle"
    record = safe_pickle.load(path)
    losses = record["metrics"]["full_train_loss"]
    # Measured at the end of each of the 4 stages of 2 epochs, None between.
    assert losses[0::2] == [None] * 4 and np.isfinite(losses[1::2]).all() and len(losses) == 8
    # The first stage is shared with dlr, and so is its measurement.
    dlr = safe_pickle.load(tmp_path / "runs" / "mlp300_sgd_dlr_seed1.pickle")["metrics"]
    assert dlr["full_train_loss"][1] == losses[1] and dlr["full_train_loss"][3] != losses[3]
    # A file written before the metric existed: not reused, kept aside, its run trained again.
    del record["metrics"]["full_train_loss"]
    path.write_bytes(pickle.dumps(record))
    again = run_main(*TINY, "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "trained 1 and reused 3 runs" in again.stdout
    assert again.stderr.count("lacks full_train_loss, which this study records") == 1
    assert (tmp_path / "runs" / "mlp300_sgd_ibs_seed1.pickle.rejected").exists()
    retrained = safe_pickle.load(path)["metrics"]
    assert retrained["full_train_loss"][1::2] == losses[1::2]
    assert retrained["test_accuracy"] == record["metrics"]["test_accuracy"]


# ---------------------------------------------------------------- the trajectory test on hand-made data
DELTA = math.log(1.05)


def hand_made_study(ratios_by_schedule, seeds=5, plans=None):
    """A results dict of one cell whose schedules' stage-end losses are dlr's times the given per-stage ratios.

    ratios_by_schedule maps a schedule to a function (seed, stage) -> ratio; dlr's loss is 0.5 / (stage + 1)
    times a per-seed factor. plans maps a schedule to its per-epoch (learning rate, batch size, momentum).
    """
    plans = plans or {}
    dlr_plan = [(0.01 / 5 ** (epoch // 3), 4, 0.0) for epoch in range(12)]
    runs = {}
    for schedule, ratio in {"dlr": lambda seed, stage: 1.0, **ratios_by_schedule}.items():
        plan = plans.get(schedule, [(0.01, 4 * 5 ** (epoch // 3), 0.0) for epoch in range(12)])
        if schedule == "dlr":
            plan = dlr_plan
        for seed in range(seeds):
            losses = [0.5 / (epoch // 3 + 1) * (1 + 0.1 * seed) * ratio(seed, epoch // 3)
                      if epoch % 3 == 2 else None for epoch in range(12)]
            runs[("mlp300", "sgd", schedule, seed)] = {
                "learning_rate": [rate for rate, _, _ in plan], "batch_size": [batch for _, batch, _ in plan],
                "momentum": [momentum for _, _, momentum in plan], "full_train_loss": losses,
                "test_loss": [1.0 if loss is None else 2 * loss for loss in losses]}
    return {"config": {"epochs_per_stage": 3, "epochs": 12, "train_size": 20_000}, "runs": runs}


def test_each_trajectory_verdict_and_the_intersection_over_stages():
    noise = [0.01, -0.01, 0.005, -0.005, 0.0]
    study_rows, verdicts = trajectory.trajectory_rows(hand_made_study({
        # Within 1 % at every stage: equivalent.
        "ibs": lambda seed, stage: 1.01 + noise[seed],
        # One stage 1.5 times dlr's, the others equal: not equivalent, by that stage alone.
        "ibs_fast": lambda seed, stage: 1.5 if stage == 2 else 1.0 + noise[seed],
        # Every stage inside the margin on average, but one stage so noisy that its interval crosses it.
        "ibs_slow": lambda seed, stage: (1.0 + 10 * noise[seed]) if stage == 3 else 1.0 + noise[seed] / 10,
    }), DELTA)
    assert verdicts[("mlp300", "sgd", "ibs")] == "equivalent"
    assert verdicts[("mlp300", "sgd", "ibs_fast")] == "not equivalent"
    assert verdicts[("mlp300", "sgd", "ibs_slow")] == "undecided"
    slow = {row["stage"]: row for row in study_rows if row["schedule"] == "ibs_slow"}
    assert [slow[stage]["stage_verdict"] for stage in (2, 3, 4)] == ["equivalent", "equivalent", "undecided"]
    # The first stage is shared with dlr (the same plan up to its end) and is not compared.
    assert sorted(slow) == [2, 3, 4]
    fast = {row["stage"]: row for row in study_rows if row["schedule"] == "ibs_fast"}
    assert fast[3]["train_loss_ratio"] == pytest.approx(1.5) and fast[3]["stage_verdict"] == "not equivalent"
    # The test loss stands beside it: here twice the training loss, so the same ratio.
    assert fast[3]["test_loss_ratio"] == pytest.approx(1.5)
    assert trajectory.combine_stage_verdicts(["equivalent", "undecided", "not equivalent"]) == "not equivalent"
    assert trajectory.combine_stage_verdicts(["equivalent", "equivalent"]) == "equivalent"
    assert trajectory.combine_stage_verdicts(["equivalent", None]) is None


def test_a_schedule_that_shares_no_stage_is_compared_at_every_stage_end_and_one_seed_gives_no_verdict():
    own_plan = [(0.05, 20 * 5 ** (epoch // 3), 0.0) for epoch in range(12)]
    results = hand_made_study({"ibs_lr": lambda seed, stage: 1.0}, plans={"ibs_lr": own_plan})
    rows, verdicts = trajectory.trajectory_rows(results, DELTA)
    assert [row["stage"] for row in rows] == [1, 2, 3, 4] and verdicts[("mlp300", "sgd", "ibs_lr")] == "equivalent"
    single = hand_made_study({"ibs_lr": lambda seed, stage: 1.0}, seeds=1, plans={"ibs_lr": own_plan})
    assert trajectory.trajectory_rows(single, DELTA)[1][("mlp300", "sgd", "ibs_lr")] is None
    # Without a declared margin the intervals stand, without verdicts.
    rows, verdicts = trajectory.trajectory_rows(results, None)
    assert rows[0]["train_loss_ratio_ci90_low"] is not None and verdicts[("mlp300", "sgd", "ibs_lr")] is None


def test_the_resolution_at_the_last_stage_shrinks_towards_the_margin_with_more_seeds():
    noise = [0.02, -0.02, 0.01, -0.01, 0.0]
    results = hand_made_study({"ibs": lambda seed, stage: 1.0 + noise[seed],
                               "ibs_slow": lambda seed, stage: 1.0 + 3 * noise[seed]})
    rows = {row["schedule"]: row for row in trajectory.trajectory_power_rows(results, DELTA)}
    assert rows["ibs"]["stage"] == 4 and rows["ibs"]["paired_seeds"] == 5
    for row in rows.values():
        assert math.exp(DELTA) < row["detectable_ratio_at_20"] < row["detectable_ratio_at_5"]
        assert row["detectable_ratio"] == row["detectable_ratio_at_5"]
    # A wider spread needs a larger ratio to be found.
    assert rows["ibs_slow"]["log_ratio_sd"] > rows["ibs"]["log_ratio_sd"]
    assert rows["ibs_slow"]["detectable_ratio_at_5"] > rows["ibs"]["detectable_ratio_at_5"]


def test_the_margin_follows_its_rule_from_the_two_fold_controls_at_stage_2():
    noise = [0.02, -0.02, 0.01, -0.01, 0.0]  # sums to 0, so each mean log ratio is exactly the one set
    results = hand_made_study({
        "ibs_fast": lambda seed, stage: math.exp(0.18 + noise[seed]) if stage == 1 else math.exp(noise[seed]),
        "ibs_slow": lambda seed, stage: 0.93 * math.exp(noise[seed]) if stage == 1 else math.exp(noise[seed]),
        "ibs_last_2x": lambda seed, stage: math.exp(0.01 + noise[seed] / 10) if stage == 3 else 1.0,
        "ibs_last_4x": lambda seed, stage: math.exp(0.1 + 2 * noise[seed]) if stage == 3 else 1.0,
        "ibs_last_8x": lambda seed, stage: math.exp(0.3 + noise[seed]) if stage == 3 else 1.0,
    })
    assert trajectory.can_calibrate(results)
    rows, margin = trajectory.calibration_rows(results)
    # The smaller of |ln 1.197| and |ln 0.93| at stage 2, 0.07257, rounded down to two significant figures.
    assert margin == 0.072
    by_schedule = {row["schedule"]: row for row in rows}
    assert by_schedule["ibs_slow"]["stage"] == 2 and by_schedule["ibs_slow"]["noise_scale_factor"] == 2.0
    assert by_schedule["ibs_fast"]["noise_scale_factor"] == 0.5
    assert by_schedule["ibs_last_4x"]["stage"] == 4 and by_schedule["ibs_last_4x"]["noise_scale_factor"] == 4.0
    assert by_schedule["ibs_last_8x"]["log_ratio_mean"] == pytest.approx(0.3)
    # A mismatch well inside the margin is almost never called different; one far outside almost always.
    assert by_schedule["ibs_last_2x"]["probability_not_equivalent_at_20"] < 0.01
    assert by_schedule["ibs_last_8x"]["probability_not_equivalent_at_5"] > 0.99
    # ibs_last_4x, 0.1 against 0.072 with a wide spread, is found surely only with more seeds.
    four = by_schedule["ibs_last_4x"]
    assert four["probability_not_equivalent_at_5"] < 0.8 <= four["probability_not_equivalent_at_20"]
    assert trajectory.noise_scale_resolution(rows) == {5: 8.0, 20: 4.0}
    assert trajectory.noise_scale_resolution(rows, "mlp300") == {5: 8.0, 20: 4.0}
    assert trajectory.noise_scale_resolution(rows, "lenet5") == {5: None, 20: None}


def test_the_margin_is_rounded_down_never_up_and_a_study_without_its_controls_is_refused():
    assert [trajectory.round_down(value) for value in (0.04879, 0.1, 0.123456, 1.2345, 0.0999999)] == [
        0.048, 0.1, 0.12, 1.2, 0.099]
    for value in (0.0, -0.1, math.nan, math.inf):
        with pytest.raises(ValueError, match="positive finite"):
            trajectory.round_down(value)
    results = hand_made_study({"ibs": lambda seed, stage: 1.0})
    assert not trajectory.can_calibrate(results)
    with pytest.raises(ValueError, match="ibs_fast or ibs_slow"):
        trajectory.calibration_rows(results)
    # A control whose stage-2 loss is not finite in one seed leaves the rule short of a value: refused,
    # naming it, rather than a margin from the other control alone.
    diverged = hand_made_study({"ibs_fast": lambda seed, stage: 1.1,
                                "ibs_slow": lambda seed, stage: math.nan if (seed, stage) == (2, 1) else 0.9})
    with pytest.raises(ValueError, match="mlp300/ibs_slow"):
        trajectory.calibration_rows(diverged)


def test_a_control_without_spread_is_called_surely_by_its_mean_alone():
    results = hand_made_study({"ibs_fast": lambda seed, stage: 1.1, "ibs_slow": lambda seed, stage: 0.9,
                               "ibs_last_8x": lambda seed, stage: math.exp(0.3) if stage == 3 else 1.0,
                               "ibs_last_2x": lambda seed, stage: math.exp(0.01) if stage == 3 else 1.0})
    rows, margin = trajectory.calibration_rows(results)
    chances = {row["schedule"]: row["probability_not_equivalent_at_5"] for row in rows}
    assert margin == 0.095 and chances["ibs_last_8x"] == 1.0 and chances["ibs_last_2x"] == 0.0


# ---------------------------------------------------------------- the floor
def floor_results(log_ratios_by_stage, accuracy_differences_pp):
    """A study of dlr and dlr_ulp on one network and optimizer whose paired log ratios and final accuracy
    differences are the given ones, seed by seed."""
    config = study.migrate_settings({"train_size": 300, "epochs_per_stage": 1, "num_stages": 2})
    runs = {}
    for seed, accuracy_difference in enumerate(accuracy_differences_pp):
        plan = {"learning_rate": [0.01, 0.002], "batch_size": [4, 4], "momentum": [0.0, 0.0], "test_loss": [0.3, 0.2]}
        base = {"test_accuracy": [0.5, 0.9], study.TRAJECTORY_METRICS[0]: [0.2, 0.1], **plan}
        moved = {"test_accuracy": [0.5, 0.9 + accuracy_difference / 100], **plan,
                 study.TRAJECTORY_METRICS[0]: [0.2 * math.exp(log_ratios_by_stage[0][seed]),
                                               0.1 * math.exp(log_ratios_by_stage[1][seed])]}
        runs[("mlp300", "adam", "dlr", seed)] = base
        runs[("mlp300", "adam", "dlr_ulp", seed)] = moved
    return {"config": {**config, "epochs": 2}, "runs": runs}


def test_the_floor_gives_the_smallest_margins_its_seeds_could_pass():
    stage_one, stage_two = [0.01, -0.01, 0.03, -0.03], [0.1, -0.1, 0.2, 0.0]
    accuracy = [0.02, -0.04, 0.0, 0.06]
    margins = trajectory.Margins(0.06, {("adam", "linear"): 0.15, ("adam", "square-root"): 0.0031}, "test")
    (row,) = trajectory.floor_rows(floor_results([stage_one, stage_two], accuracy), margins)
    t = 2.3533634348018264  # Student t, 3 degrees of freedom, 90 % two-sided.
    widest = 0.05 + t * np.std(stage_two, ddof=1) / 2
    assert row["widest_stage"] == 2 and row["smallest_margin"] == pytest.approx(widest)
    assert row["log_ratio_mean"] == pytest.approx(0.05) and row["log_ratio_sd"] == pytest.approx(np.std(stage_two, ddof=1))
    assert row["smallest_accuracy_margin_pp"] == pytest.approx(0.01 + t * np.std(accuracy, ddof=1) / 2)
    # Stage 2's mean of 0.05 sits inside δ = 0.06 but needs many seeds; a mean at δ never passes.
    needed = row["seeds_for_sgd_margin"]
    assert needed > 4 and trajectory.seeds_needed([(0.05, float(np.std(stage_two, ddof=1)))], 0.06) == needed
    half_width = lambda n: stats.t.ppf(0.95, n - 1) * np.std(stage_two, ddof=1) / math.sqrt(n)
    assert 0.05 + half_width(needed) < 0.06 <= 0.05 + half_width(needed - 1)
    assert trajectory.seeds_needed([(0.06, 0.1)], 0.06) is None
    assert trajectory.seeds_needed([(0.0, 0.0)], 0.06) == 2
    # Adam's own margins: the linear reading's wide one needs fewer seeds than SGD's, the square-root
    # reading's, below stage 2's mean, none.
    statistics = [(float(np.mean(stage)), float(np.std(stage, ddof=1))) for stage in (stage_one, stage_two)]
    assert row["own_margin_linear"] == 0.15 and row["seeds_for_own_margin_linear"] == trajectory.seeds_needed(
        statistics, 0.15) < needed
    assert row["own_margin_square_root"] == 0.0031 and row["seeds_for_own_margin_square_root"] is None


# ---------------------------------------------------------------- the margin per optimizer
def test_each_optimizers_margin_follows_sgds_rule_with_the_learning_rate_as_the_knob():
    # Two networks, Adam, 3 seeds: each control's stage-2 log ratios are its mean plus the same offsets.
    offsets = [-0.01, 0.0, 0.01]
    means = {("mlp300", "dlr_s2_x2"): 0.31, ("mlp300", "dlr_s2_d2"): -0.12, ("mlp300", "dlr_s2_xr2"): 0.0437,
             ("mlp300", "dlr_s2_dr2"): -0.09, ("lenet5", "dlr_s2_x2"): 0.25, ("lenet5", "dlr_s2_d2"): -0.2,
             ("lenet5", "dlr_s2_xr2"): 0.11, ("lenet5", "dlr_s2_dr2"): -0.07}
    config = {**study.migrate_settings({"train_size": 300, "epochs_per_stage": 1, "num_stages": 2}), "epochs": 2}
    runs = {}
    for arch in ("mlp300", "lenet5"):
        for seed, offset in enumerate(offsets):
            runs[(arch, "adam", "dlr", seed)] = {"test_accuracy": [0.5, 0.9], study.TRAJECTORY_METRICS[0]: [0.2, 0.1]}
            for schedule in schedules.LEARNING_RATE_READINGS["linear"] | schedules.LEARNING_RATE_READINGS["square-root"]:
                runs[(arch, "adam", schedule, seed)] = {
                    "test_accuracy": [0.5, 0.9],
                    study.TRAJECTORY_METRICS[0]: [0.2, 0.1 * math.exp(means[(arch, schedule)] + offset)]}
    rows, margins = trajectory.optimizer_margins({"config": config, "runs": runs})
    # The smallest |mean| of a reading's controls over the networks, rounded down to two figures.
    assert margins == {("adam", "linear"): 0.12, ("adam", "square-root"): 0.043}
    assert len(rows) == 8 and {row["paired_seeds"] for row in rows} == {3}
    row = next(row for row in rows if (row["architecture"], row["schedule"]) == ("lenet5", "dlr_s2_dr2"))
    assert row["log_ratio_mean"] == pytest.approx(-0.07) and row["log_ratio_sd"] == pytest.approx(0.01)
    # A reading without a control on every network gives no margin.
    del runs[("lenet5", "adam", "dlr_s2_xr2", 0)], runs[("lenet5", "adam", "dlr_s2_xr2", 1)], \
        runs[("lenet5", "adam", "dlr_s2_xr2", 2)]
    assert trajectory.optimizer_margins({"config": config, "runs": runs})[1] == {("adam", "linear"): 0.12}


# ---------------------------------------------------------------- the margin belongs to its data
def test_the_margin_is_declared_only_for_the_data_it_was_calibrated_on(tmp_path):
    # The vendored MNIST and the calibration study's own pickle carry the digest the margin names.
    assert mnist.data_fingerprint(mnist.load_mnist()) == study.CALIBRATED_DATA_FINGERPRINT
    calibration = safe_pickle.load(PROJECT_DIR / "results" / "trajectory_calibration" / "results.pickle")
    assert calibration["config"]["data_fingerprint"] == study.CALIBRATED_DATA_FINGERPRINT
    assert trajectory.study_margins(calibration["config"]) == trajectory.Margins(
        study.TRAJECTORY_MARGIN, study.OWN_MARGINS, trajectory.MNIST_SOURCE)
    # Data the tests make themselves: the digits turned upside down. Same shapes, another loss landscape.
    x_train, y_train, x_test, y_test = mnist.load_mnist()
    flipped = (x_train[:, ::-1], y_train, x_test[:, ::-1], y_test)
    config = {"data_fingerprint": mnist.data_fingerprint(flipped), "data_name": "flipped digits"}
    margins = trajectory.study_margins(config)
    margin = margins.sgd
    assert margin is None and margins.own == {} and margins.note == (
        'no "same training" verdict: δ = 0.06 was calibrated on MNIST, not on flipped digits; the intervals are '
        "shown, and a verdict needs a calibration on the same data (main.py --calibrate)")
    # Without a margin, the rows keep their intervals and carry no verdict.
    results = floor_results([[0.01, -0.01, 0.03, -0.03], [0.1, -0.1, 0.2, 0.0]], [0.0] * 4)
    rows, verdicts = trajectory.trajectory_rows(results, margin)
    # The floor shares dlr's plan but not its weights: every stage is compared.
    assert [row["stage"] for row in rows] == [1, 2]
    assert rows and all(row["log_ratio_ci90_low"] is not None and row["stage_verdict"] is None for row in rows)
    assert set(verdicts.values()) == {None}


@pytest.mark.parametrize("on_mnist", [True, False])
def test_plots_writes_the_floor_and_gives_a_same_training_verdict_only_on_the_calibrated_data(tmp_path, on_mnist):
    from conftest import run_plots
    results = floor_results([[0.01, -0.01, 0.03, -0.03], [0.02, -0.02, 0.01, 0.0]], [0.02, -0.04, 0.0, 0.06])
    fingerprint = study.CALIBRATED_DATA_FINGERPRINT if on_mnist else "0123456789abcdef"
    results["config"].update(data_fingerprint=fingerprint, data_name="MNIST" if on_mnist else "flipped digits",
                             archs=["mlp300"], optimizers=["adam"], schedules=["dlr", "dlr_ulp"],
                             seeds=[0, 1, 2, 3], command="python main.py")
    for run in results["runs"].values():
        run.update(train_loss=[0.3, 0.2], updates=[75, 150], seconds=[1.0, 2.0])
    results.update(provenance={key: None for key in results["runs"]}, missing=[])
    with open(tmp_path / "results.pickle", "wb") as handle:
        pickle.dump(results, handle)
    drawn = run_plots("--results", str(tmp_path / "results.pickle"))
    assert drawn.returncode == 0, drawn.stderr
    floor = (tmp_path / "floor.md").read_text()
    trajectory_text = (tmp_path / "trajectory.md").read_text()
    assert "| 300-unit MLP | Adam | 4 |" in floor
    if on_mnist:
        assert "SGD's δ = 0.06" in floor and "no \"same training\" verdict" not in drawn.stdout
        assert "Own δ, linear | Seeds for it | Own δ, square-root | Seeds for it |" in floor
        assert "at the margin ±0.06" in trajectory_text
    else:
        assert "no SGD's δ is declared for this data" in floor and "without verdicts" in trajectory_text
        assert any(line.startswith('no "same training" verdict: δ = 0.06 was calibrated on MNIST, not on flipped '
                                   "digits") for line in drawn.stdout.splitlines())
