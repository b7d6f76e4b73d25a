"""Tests of the gradient noise scale: its estimator, its measurement, and that measuring changes no training.

The estimator (gradient_noise.py) is checked where the truth is known: on
linear least squares, whose per-example gradients are in closed form, and on
LeNet-5 against gradients taken one example at a time, through the
written-out backward pass and through the tape. A tolerance "of k standard
errors" is k times the standard error of the mean over the draws, each draw's
estimate being unbiased.
"""
import dataclasses
import pickle

import numpy as np
import pytest

from batchgrow import gradient_noise
import main
from batchgrow.training import mnist
from batchgrow.training import networks
from batchgrow.training import runfiles
from batchgrow import safe_pickle
from batchgrow import study
from batchgrow.training import training
from conftest import PNG_SIGNATURE, build_batch_norm_dropout, metrics_without_seconds, run_main, run_plots
from batchgrow.training.networks import tf

TINY = ["--train-size", "300", "--test-size", "200", "--epochs-per-stage", "1", "--seeds", "2", "--archs", "mlp300",
        "--optimizers", "sgd"]
# A mean estimate over the draws lies within this many of its standard errors of the truth.
STANDARD_ERRORS = 4


def within_standard_errors(estimates, truth):
    """Whether the mean of per-draw estimates lies within STANDARD_ERRORS standard errors of truth."""
    standard_error = np.std(estimates, ddof=1) / np.sqrt(len(estimates))
    return abs(np.mean(estimates) - truth) <= STANDARD_ERRORS * standard_error, np.mean(estimates), standard_error


def per_draw_norms(per_example, batches, small):
    """The compiled function's squared norms, computed from per-example gradients in float64."""
    small_squares, big_squares = [], []
    for block in batches:
        chunks = per_example[block].reshape(len(block) // small, small, -1).mean(axis=1)
        small_squares.append(np.mean(np.sum(chunks ** 2, axis=1)))
        big_squares.append(np.sum(per_example[block].mean(axis=0) ** 2))
    return np.array(small_squares), np.array(big_squares)


# ---------------------------------------------------------------- the draws
def test_draws_are_without_replacement_reproducible_and_their_own_stream():
    examples = gradient_noise.population(3, 1000, 200)
    assert len(set(examples)) == 200 and np.all(np.diff(examples) > 0) and examples.max() < 1000
    np.testing.assert_array_equal(examples, gradient_noise.population(3, 1000, 200))  # Every epoch, every schedule.
    assert not np.array_equal(examples, gradient_noise.population(4, 1000, 200))
    before = np.random.get_state()[1].copy()
    batches = gradient_noise.draw_batches(3, 5, examples, 64, 5)
    assert np.array_equal(np.random.get_state()[1], before)  # No global stream is touched.
    assert batches.shape == (5, 64) and batches.dtype == np.int32 and set(batches.flat) <= set(examples)
    # Blocks of one permutation are disjoint: the first three of 200 examples at 64 a block.
    assert len(set(batches[:3].flat)) == 192 and all(len(set(block)) == 64 for block in batches)
    np.testing.assert_array_equal(batches, gradient_noise.draw_batches(3, 5, examples, 64, 5))
    assert not np.array_equal(batches, gradient_noise.draw_batches(3, 6, examples, 64, 5))
    # Not the example order of any epoch.
    assert not np.array_equal(training.epoch_order(3, 5, 1000)[:64], batches[0])


def test_measurement_sizes_fit_the_training_set_and_refuse_a_single_batch_size():
    settings = study.Settings(measure_noise=True)
    assert gradient_noise.measurement_sizes(settings) == (4096, 32, 1024)
    assert gradient_noise.measurement_sizes(dataclasses.replace(settings, train_size=300)) == (300, 32, 288)
    assert gradient_noise.measurement_sizes(dataclasses.replace(settings, train_size=40)) == (40, 20, 40)
    assert gradient_noise.measurement_sizes(dataclasses.replace(settings, train_size=1)) is None
    with pytest.raises(ValueError, match="at least twice"):
        gradient_noise.measurement_sizes(dataclasses.replace(settings, noise_big_batch=32))


# ---------------------------------------------------------------- a problem with a known G and Sigma
def least_squares(population, dimension, seed):
    """Linear least squares, loss (x.w - y)^2 / 2: per-example gradients x (x.w - y) in closed form."""
    rng = np.random.default_rng(seed)
    inputs = rng.normal(size=(population, dimension))
    targets = inputs @ rng.normal(size=dimension) + 0.5 * rng.normal(size=population)
    # Near the optimum, where |G|^2 is small against tr(Sigma) / M: the finite-population term matters.
    weights = np.linalg.lstsq(inputs, targets, rcond=None)[0] + 0.02 * rng.normal(size=dimension)
    per_example = inputs * (inputs @ weights - targets)[:, None]
    return inputs.astype(np.float32), targets.astype(np.float32), weights.astype(np.float32), per_example


def test_the_estimates_are_unbiased_on_least_squares():
    """|G|^2, tr(Sigma), and their preconditioned forms: the mean over 3,000 draws within 4 standard errors
    of the closed form, and B_simple within 5 % of tr(Sigma) / |G|^2."""
    population, dimension, small, big, draws = 256, 6, 8, 128, 3000
    inputs, targets, weights, per_example = least_squares(population, dimension, 0)
    mean_gradient = per_example.mean(axis=0)
    covariance = np.cov(per_example, rowvar=False, ddof=1)
    preconditioner = np.linspace(0.5, 3.0, dimension)
    truth = {"norm": mean_gradient @ mean_gradient, "trace": np.trace(covariance),
             "norm_p": mean_gradient @ (preconditioner * mean_gradient),
             "trace_p": np.trace(preconditioner[:, None] * covariance)}
    assert truth["trace"] / population > 0.5 * truth["norm"]  # A problem where the correction counts.

    weight = tf.Variable(weights[:, None])

    def gradients_of(x, y):
        residual = tf.matmul(x, weight) - y[:, None]
        return tf.reduce_mean(residual ** 2) / 2, [tf.matmul(x, residual, transpose_a=True) / tf.cast(tf.shape(x)[0],
                                                                                                      tf.float32)]
    measure = tf.function(training.squared_gradient_norms)
    batches = gradient_noise.draw_batches(0, 0, np.arange(population, dtype=np.int32), big, draws)
    norms = [values.numpy() for values in measure(
        gradients_of, [weight], tf.constant(inputs), tf.constant(targets), tf.constant(batches), tf.constant(small),
        [tf.constant(preconditioner[:, None], tf.float32)])]
    np.testing.assert_allclose(norms[:2], per_draw_norms(per_example, batches, small), rtol=1e-4)
    sizes = gradient_noise.Sizes(population, small, big)
    norm, trace = gradient_noise.two_batch_estimates(norms[0], norms[1], sizes)
    norm_p, trace_p = gradient_noise.two_batch_estimates(norms[2], norms[3], sizes)
    for name, estimates in (("norm", norm), ("trace", trace), ("norm_p", norm_p), ("trace_p", trace_p)):
        inside, mean, standard_error = within_standard_errors(estimates, truth[name])
        assert inside, f"{name}: mean {mean:.5g} ± {standard_error:.2g}, truth {truth[name]:.5g}"
    b_simple = gradient_noise.noise_scale(norms[0], norms[1], sizes)[2]
    assert b_simple == pytest.approx(truth["trace"] / truth["norm"], rel=0.05)
    # Without the finite-population correction (McCandlish et al.'s formula, for sampling with
    # replacement) |G|^2 is off by about tr(Sigma) / M, far beyond the tolerance.
    uncorrected = (big * norms[1] - small * norms[0]) / (big - small)
    assert not within_standard_errors(uncorrected, truth["norm"])[0]
    assert np.mean(uncorrected) - truth["norm"] == pytest.approx(-truth["trace"] / population, rel=0.25)


# ---------------------------------------------------------------- a network, against per-example gradients
@pytest.fixture(scope="module")
def lenet_after_an_epoch():
    """LeNet-5 under Adam after one epoch on 256 images, by the written-out pass and by the tape."""
    data = mnist.prepare_data(mnist.load_mnist(), 256, 100)
    trainers = {}
    for backward in ("written", "tape"):
        settings = study.Settings(train_size=256, test_size=100, backward=backward, measure_noise=True)
        trainer = training.Trainer("lenet5", "adam", 0, settings, data)
        trainer.train_epoch(tf.constant(training.epoch_order(0, 0, 256)), tf.constant(8))
        trainers[backward] = trainer
    return data, trainers


def per_example_gradients(trainer, data, count):
    """Each of the first count training examples' gradient, one example at a time through the tape, flattened."""
    rows = []
    for index in range(count):
        _, gradients = networks.tape_loss_and_gradients(
            trainer.model, trainer.weights, tf.constant(data["x_train"][index:index + 1]),
            tf.constant(data["y_train"][index:index + 1]), training=False)
        rows.append(np.concatenate([gradient.numpy().ravel() for gradient in gradients]))
    return np.array(rows, dtype=np.float64)


@pytest.mark.parametrize("backward", ["written", "tape"])
def test_lenet5_norms_match_per_example_gradients_and_the_estimates_their_truth(lenet_after_an_epoch, backward):
    """The compiled norms of LeNet-5's convolutions equal those of per-example gradients (relative 1e-4),
    preconditioned by Adam's v too; the estimates over 400 draws lie within 4 standard errors of the
    population's |G|^2 and tr(Sigma)."""
    data, trainers = lenet_after_an_epoch
    trainer = trainers[backward]
    population, small, big = 64, 4, 32
    per_example = per_example_gradients(trainer, data, population)
    examples = np.arange(population, dtype=np.int32)
    batches = gradient_noise.draw_batches(1, 2, examples, big, 3)
    norms = [values.numpy() for values in trainer.squared_gradient_norms(tf.constant(batches), tf.constant(small))]
    assert len(norms) == 4  # Adam's preconditioned pair too.
    np.testing.assert_allclose(norms[:2], per_draw_norms(per_example, batches, small), rtol=1e-4)
    second_moments = np.concatenate([moment.numpy().ravel() for moment in trainer.optimizer.slots["second_moment"]])
    preconditioner = 1 / (np.sqrt(second_moments.astype(np.float64)) + trainer.optimizer.constant("epsilon"))
    np.testing.assert_allclose(norms[2:], per_draw_norms(per_example * np.sqrt(preconditioner), batches, small),
                               rtol=1e-4)

    batches = gradient_noise.draw_batches(1, 3, examples, big, 400)
    norms = [values.numpy() for values in trainer.squared_gradient_norms(tf.constant(batches), tf.constant(small))]
    norm, trace = gradient_noise.two_batch_estimates(norms[0], norms[1], gradient_noise.Sizes(population, small, big))
    mean_gradient = per_example.mean(axis=0)
    truth_norm = mean_gradient @ mean_gradient
    truth_trace = np.sum((per_example - mean_gradient) ** 2) / (population - 1)
    for name, estimates, truth in (("|G|^2", norm, truth_norm), ("tr(Sigma)", trace, truth_trace)):
        inside, mean, standard_error = within_standard_errors(estimates, truth)
        assert inside, f"{name}: mean {mean:.5g} ± {standard_error:.2g}, truth {truth:.5g}"


def test_the_tape_and_the_written_out_pass_measure_the_same(lenet_after_an_epoch):
    _, trainers = lenet_after_an_epoch
    batches = tf.constant(gradient_noise.draw_batches(0, 0, np.arange(256, dtype=np.int32), 64, 2))
    written, tape = ([values.numpy() for values in trainers[backward].squared_gradient_norms(batches, tf.constant(16))]
                     for backward in ("written", "tape"))
    # The two trainers start from the same weights and train through their own passes: float rounding apart.
    np.testing.assert_allclose(written, tape, rtol=1e-3)


# ---------------------------------------------------------------- measuring changes no training
@pytest.mark.parametrize("arch,optimizer", [("mlp300", "adam"), ("lenet5", "sgd"), ("bn_dropout", "adam")],
                         ids=["mlp300 adam", "lenet5 sgd", "tape: batch norm and dropout, adam"])
def test_measuring_leaves_every_run_bit_identical(arch, optimizer, monkeypatch):
    """The full state at the end of every run (weights, optimizer slots, moving statistics, dropout seed
    state) and every metric but the seconds are bit for bit those of a run without the measurement."""
    monkeypatch.setitem(networks.NETWORKS, "bn_dropout", networks.Network(build_batch_norm_dropout))
    data = mnist.prepare_data(mnist.load_mnist(), 300, 200)
    plain = study.Settings(train_size=300, test_size=200, epochs_per_stage=1)
    measured = dataclasses.replace(plain, measure_noise=True, noise_small_batch=16, noise_big_batch=64)
    trainers = []
    original = training.Trainer

    def recorded(*args, **kwargs):
        trainers.append(original(*args, **kwargs))
        return trainers[-1]
    monkeypatch.setattr(training, "Trainer", recorded)
    outcomes = []
    for settings in (plain, measured):
        states = {}
        runs = training.train_runs(arch, optimizer, 1, ("dlr", "ibs"), settings, data,
                                   on_run=lambda schedule, _: states.update({schedule: trainers[-1].state()}))
        outcomes.append((runs, states))
    (plain_runs, plain_states), (measured_runs, measured_states) = outcomes
    names = study.NOISE_METRICS + (study.PRECONDITIONED_NOISE_METRICS if optimizer == "adam" else ())
    for schedule in ("dlr", "ibs"):
        assert len(plain_states[schedule]) == len(measured_states[schedule])
        for before, after in zip(plain_states[schedule], measured_states[schedule]):
            assert before.dtype == after.dtype and np.array_equal(before, after)
        measured_metrics = measured_runs[schedule]
        assert set(measured_metrics) == set(plain_runs[schedule]) | set(names)
        assert {name: values for name, values in measured_metrics.items() if name not in names + ("seconds",)} \
            == metrics_without_seconds(plain_runs[schedule])
        for ratio, norm, trace in (names[:3], names[3:]) if len(names) == 6 else (names,):
            norm, trace = np.asarray(measured_metrics[norm]), np.asarray(measured_metrics[trace])
            assert np.all(np.isfinite(norm)) and np.all(trace > 0)
            # B_simple is NaN where the (unbiased, so sometimes negative) |G|^2 estimate is not positive.
            np.testing.assert_array_equal(measured_metrics[ratio], np.where(norm > 0, trace / norm, np.nan))
    # The shared first epoch is measured once, so both runs carry its numbers.
    assert measured_runs["dlr"]["b_simple"][0] == measured_runs["ibs"]["b_simple"][0]
    if arch == "bn_dropout":
        names = [variable.path for variable in trainers[-1].model.non_trainable_variables]
        assert any("moving_mean" in name for name in names) and any("seed_generator" in name for name in names)


def test_the_measurement_is_kept_out_of_the_seconds(monkeypatch):
    # A clock that jumps 1,000 s whenever the estimator runs: no epoch's seconds may see the jump.
    data = mnist.prepare_data(mnist.load_mnist(), 300, 200)
    settings = study.Settings(train_size=300, test_size=200, epochs_per_stage=1, measure_noise=True)
    offset = [0.0]
    real_clock, estimate = training.time.perf_counter, gradient_noise.noise_scale

    class Clock:
        @staticmethod
        def perf_counter():
            return real_clock() + offset[0]

    def slow_estimate(*args):
        offset[0] += 1000.0
        return estimate(*args)
    monkeypatch.setattr(training, "time", Clock)
    monkeypatch.setattr(gradient_noise, "noise_scale", slow_estimate)
    run = training.train_runs("mlp300", "sgd", 0, ("ibs",), settings, data)["ibs"]
    assert offset[0] == 4000.0 and run["seconds"][-1] < 1000.0


# ---------------------------------------------------------------- a setting, and its files
def test_measure_noise_is_a_setting_whose_estimator_means_nothing_when_off(tmp_path):
    assert main.parse_args(["--measure-noise"]).measure_noise and not main.parse_args([]).measure_noise
    unmeasured, measured = study.Settings(), study.Settings(measure_noise=True)
    # Off, the estimator's settings are written as None: not applicable.
    assert {name: study.settings_record(unmeasured)[name] for name in study.MEASUREMENT_SETTINGS} == {
        "measure_noise": False, **dict.fromkeys(study.NOISE_ESTIMATOR_SETTINGS)}
    assert {name: study.settings_record(measured)[name] for name in study.MEASUREMENT_SETTINGS} == {
        "measure_noise": True, "noise_population": 4096, "noise_small_batch": 32, "noise_big_batch": 1024,
        "noise_draws": 1}
    assert study.migrate_settings(study.settings_record(unmeasured))["measure_noise"] is False
    # A folder trained without the measurement is never reused for a study that asks for it, nor the reverse.
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    key = ("mlp300", "sgd", "dlr", 0)
    old_file = {name: value for name, value in study.settings_record(unmeasured).items()
                if name not in study.MEASUREMENT_SETTINGS + (study.FORMAT_KEY,)}
    with open(runfiles.run_path(str(runs_dir), key), "wb") as handle:  # An old file: no such setting at all.
        pickle.dump({"key": key, "settings": old_file,
                     "metrics": {name: [0.5] * 12 for name in study.RUN_METRICS + study.TRAJECTORY_METRICS}}, handle)
    with pytest.raises(runfiles.StudyError, match="measure_noise False there, True here"):
        runfiles.load_finished_runs(str(runs_dir), measured)
    assert runfiles.load_finished_runs(str(runs_dir), unmeasured)[0].keys() == {key}
    # Estimator settings mean nothing unmeasured: such a study still reuses its own runs.
    assert runfiles.load_finished_runs(str(runs_dir), dataclasses.replace(unmeasured, noise_draws=7))[0]
    with open(runfiles.run_path(str(runs_dir), key), "wb") as handle:
        pickle.dump({"key": key, "settings": study.settings_record(measured),
                     "metrics": {name: [0.5] * 12 for name in study.RUN_METRICS + study.TRAJECTORY_METRICS
                                 + study.NOISE_METRICS}}, handle)
    with pytest.raises(runfiles.StudyError, match="measure_noise True there, False here"):
        runfiles.load_finished_runs(str(runs_dir), unmeasured)
    with pytest.raises(runfiles.StudyError, match="noise_draws 1 there, 3 here"):
        runfiles.load_finished_runs(str(runs_dir), dataclasses.replace(measured, noise_draws=3))


@pytest.mark.slow
def test_a_tiny_measured_study_records_the_metrics_and_draws_its_figure(tmp_path):
    out = tmp_path / "measured"
    result = run_main(*TINY, "--measure-noise", "--out", out)
    assert result.returncode == 0, result.stderr
    results = safe_pickle.load(out / "results.pickle")
    assert results["config"]["measure_noise"] is True and results["config"]["noise_draws"] == 1
    assert len(results["runs"]) == 6
    for run in results["runs"].values():
        assert all(len(run[name]) == 4 and np.all(np.isfinite(run[name])) for name in study.NOISE_METRICS)
        np.testing.assert_allclose(run["b_simple"], np.divide(run["gradient_variance"], run["gradient_norm_sq"]))
    plotted = run_plots("--results", out / "results.pickle")
    assert plotted.returncode == 0, plotted.stderr
    assert (out / "noise_scale_measured.png").read_bytes()[:8] == PNG_SIGNATURE
