"""Tests of training.py's fused optimizer: every optimizer's record against Keras's own optimizer."""
import numpy as np
import pytest

import optimizers
import study
import training
from networks import keras, tf


def keras_and_fused(code, initial, settings=study.Settings()):
    """(our variable, its FusedOptimizer, Keras's variable, Keras's optimizer) from the same weights."""
    record = optimizers.optimizer_record(code)
    ours, theirs = tf.Variable(initial), keras.Variable(initial)
    return ours, training.FusedOptimizer(record, [ours], settings), theirs, record.keras_equivalent(keras, settings)


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
    optimizer.set_momentum(0.98)
    optimizer.apply([gradients[0]])
    velocity = 0.98 * velocity - 0.0002 * gradients[0].numpy()
    weights += 0.98 * velocity - 0.0002 * gradients[0].numpy() if nesterov else velocity
    np.testing.assert_allclose(ours.numpy(), weights, rtol=1e-5, atol=1e-7)
