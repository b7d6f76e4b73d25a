"""Don't decay the learning rate, increase the batch size: the study on MNIST.

Trains three small networks (a 300-unit MLP, a 500-150 MLP and LeNet-5) with
plain SGD and with Adam under three schedules that shrink the SGD noise scale
g = lr * N / (B * (1 - m)) by the same factor at every stage:

    dlr  decaying learning rate   lr / 5^s,        batch 4
    ibs  increasing batch size    lr,              batch 4 * 5^s
    hyb  hybrid                   lr / sqrt(5)^s,  batch round(4 * sqrt(5)^s)

for 12 epochs in 4 stages of 3, and records test accuracy after every epoch.
That is the original study and the default. The paper's further claims are
opt-in: SGD with momentum and with Nesterov momentum (--optimizers), and two
schedules that take even fewer updates at the same noise scale (--schedules):

    ibs_lr   increased learning rate  5 * lr,  batch 20 * 5^s
    ibs_mom  increased momentum       lr,      batch 20 * 5^s,  1 - m divided by 5
The three schedules of one (architecture, optimizer, seed) start from the same
weights and see the same example order, so their curves can be compared pair
by pair. The file reads top to bottom: settings, data, models, schedules, the
optimizer, one training run, the grid, the command line.

usage: python main.py [--seeds N] [--archs ...] [--jobs J] [--out DIR] ...
       python main.py --help
"""
import argparse
import contextlib
import dataclasses
import datetime
import gc
import hashlib
import importlib.metadata
import math
import multiprocessing
import os
import pickle
import platform
import queue
import sys
import tempfile
import time
import zipfile

import numpy as np

import safe_pickle

try:
    import fcntl  # Claims on a shared results folder use flock (POSIX).
except ImportError:  # pragma: no cover - Windows has no flock.
    fcntl = None

# TensorFlow announces oneDNN, CUDA probing and CPU features on file descriptor
# 2 from C++ before Python's logging is set up, so only a redirect hides it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def quiet_stderr():
    """Sends file descriptor 2 to /dev/null for the duration of the block."""
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


# TensorFlow takes seconds to import, and only the worker processes that train
# need it: the command line, the data checks and the bookkeeping start without
# it. load_tensorflow() fills these in.
tf = keras = layers = None


def load_tensorflow():
    """Imports TensorFlow and Keras quietly, once."""
    global tf, keras, layers
    if tf is None:
        with quiet_stderr():
            import tensorflow
            import keras as keras_module
            tf, keras, layers = tensorflow, keras_module, keras_module.layers
    return tf

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.path.join(HERE, "data", "mnist.npz")
# The vendored file is checked against this digest (see data/README.md).
VENDORED_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"

ARCHITECTURES = ("mlp300", "mlp500_150", "lenet5")
# The original study's optimizers and schedules are the default grid; the
# others test the paper's further claims and run only when asked for.
OPTIMIZERS = ("sgd", "adam")
ALL_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam")
MOMENTUM_OPTIMIZERS = ("momentum", "nesterov")
SCHEDULES = ("dlr", "ibs", "hyb")
ALL_SCHEDULES = SCHEDULES + ("ibs_lr", "ibs_mom")
# The test set is scored in a few large batches: one graph call per batch, and
# batch size has no effect on the scores.
EVAL_BATCH_SIZE = 2_500


# ----------------------------------------------------------------------------
# Settings: everything that can change a number in the results.
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
    # plain-SGD runs are their yardstick.
    momentum_learning_rate: float = 0.001
    momentum_coefficient: float = 0.9
    # ibs_lr and ibs_mom start at a batch this many times the base and keep
    # the noise scale by raising lr, or dividing 1 - m, by the same factor.
    fewer_updates_factor: float = 5.0
    # True reproduces the original code's flaw: a fresh optimizer at every
    # epoch for dlr and hyb, which throws away Adam's moments and step count.
    original_optimizer_reset: bool = False
    # Digest of the four data arrays, so runs on other data never mix.
    data_fingerprint: str = ""

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


# ----------------------------------------------------------------------------
# Data
# ----------------------------------------------------------------------------
class DataError(ValueError):
    """A missing, corrupt or malformed data file; the message says what to do."""


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_npz(path):
    """Reads and checks an MNIST-layout npz: uint8 (n, 28, 28) images, (n,) labels."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; pass an MNIST-format .npz with --data")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as error:
        raise DataError(f"{path}: missing the array {error}; it needs x_train, y_train, x_test and y_test") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataError(f"{path}: x_{split} is {images.dtype} {images.shape}, expected uint8 (n, 28, 28)")
        if labels.shape != images.shape[:1] or labels.dtype != np.uint8:
            raise DataError(f"{path}: y_{split} is {labels.dtype} {labels.shape}, expected uint8 ({len(images)},)")
        if labels.size and labels.max() > 9:
            raise DataError(f"{path}: y_{split} has labels above 9")
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def load_mnist(path=None):
    """Returns MNIST as four uint8 arrays (x_train, y_train, x_test, y_test).

    With no path, reads the vendored data/mnist.npz and checks its checksum; if
    that file is missing, asks Keras to download MNIST. An explicit path never
    falls back: if it is wrong, that is the error.
    """
    if path is not None:
        return read_npz(path)
    if not os.path.exists(DEFAULT_DATA):
        try:
            load_tensorflow()
            with quiet_stderr():
                (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as error:  # Any download failure means the same thing to the user.
            raise DataError(f"{DEFAULT_DATA} is missing and MNIST could not be downloaded ({type(error).__name__}); "
                            "restore it with 'git checkout data/mnist.npz' or pass --data PATH") from None
        return x_train, y_train, x_test, y_test
    if file_sha256(DEFAULT_DATA) != VENDORED_SHA256:
        raise DataError(f"{DEFAULT_DATA} is corrupt (its sha256 is not the published one); "
                        "restore it with 'git checkout data/mnist.npz'")
    return read_npz(DEFAULT_DATA)


def data_fingerprint(arrays):
    """A digest of the data's contents, whatever file they came from."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def prepare_data(arrays, train_size, test_size):
    """The study's inputs: the first train_size / test_size images, scaled to [0, 1]."""
    x_train, y_train, x_test, y_test = arrays
    scale = np.float32(1 / 255)
    return {
        "x_train": x_train[:train_size].astype(np.float32) * scale,
        "y_train": y_train[:train_size].astype(np.int32),
        "x_test": x_test[:test_size].astype(np.float32) * scale,
        "y_test": y_test[:test_size].astype(np.int32),
    }


# ----------------------------------------------------------------------------
# Models
# ----------------------------------------------------------------------------
def build_model(arch):
    """One of the study's three networks, on 28x28 inputs, ending in a softmax."""
    load_tensorflow()
    if arch == "mlp300":
        body = [layers.Flatten(), layers.Dense(300, activation="relu")]
    elif arch == "mlp500_150":
        body = [layers.Flatten(), layers.Dense(500, activation="relu"), layers.Dense(150, activation="relu")]
    elif arch == "lenet5":
        body = [
            layers.Reshape((28, 28, 1)),
            layers.Conv2D(6, 5, activation="relu"),
            layers.AveragePooling2D(2),
            layers.Conv2D(16, 5, activation="relu"),
            layers.AveragePooling2D(2),
            layers.Flatten(),
            layers.Dense(120, activation="relu"),
            layers.Dense(84, activation="relu"),
        ]
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    return keras.Sequential([keras.Input((28, 28))] + body + [layers.Dense(10, activation="softmax")], name=arch)


def loss_and_gradients(arch, weights, images, labels):
    """The mean cross-entropy of one batch under build_model(arch)'s weights, and its gradients.

    The same network as build_model, with the backward pass written out. At
    batch size 4 a step is a few dozen tiny kernels, so which kernels run
    matters more than the arithmetic. Written out, the backward pass skips the
    shape bookkeeping a GradientTape adds, and it takes the first
    convolution's kernel gradient as a forward convolution, which oneDNN runs
    faster than its kernel-gradient op on a 1-channel input at small batch
    sizes. The tests check the loss and every gradient against Keras and a
    GradientTape.
    """
    scale = 1.0 / tf.cast(tf.shape(labels)[0], tf.float32)
    if arch == "lenet5":
        conv1_kernel, conv1_bias, conv2_kernel, conv2_bias = weights[:4]
        dense_weights = weights[4:]
        images = tf.reshape(images, [-1, 28, 28, 1])
        conv1 = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(images, conv1_kernel, 1, "VALID"), conv1_bias))
        pool1 = tf.nn.avg_pool2d(conv1, 2, 2, "VALID")
        conv2 = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(pool1, conv2_kernel, 1, "VALID"), conv2_bias))
        pool2 = tf.nn.avg_pool2d(conv2, 2, 2, "VALID")
        activations = [tf.reshape(pool2, [-1, 256])]
    elif arch in ARCHITECTURES:
        dense_weights = weights
        activations = [tf.reshape(images, [-1, 784])]
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    layer_count = len(dense_weights) // 2
    for layer in range(layer_count):
        outputs = tf.nn.bias_add(tf.matmul(activations[-1], dense_weights[2 * layer]), dense_weights[2 * layer + 1])
        activations.append(tf.nn.relu(outputs) if layer < layer_count - 1 else outputs)
    # One fused op gives each example's loss and its gradient by the logits.
    losses, upstream = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(features=activations[-1], labels=labels)
    upstream = upstream * scale
    gradients = []
    for layer in reversed(range(layer_count)):
        layer_inputs = activations[layer]
        gradients[:0] = [tf.matmul(layer_inputs, upstream, transpose_a=True),
                         tf.raw_ops.BiasAddGrad(out_backprop=upstream)]
        if layer > 0 or arch == "lenet5":
            upstream = tf.matmul(upstream, dense_weights[2 * layer], transpose_b=True)
            if layer > 0:
                # A ReLU's output is positive exactly where its input is.
                upstream = tf.raw_ops.ReluGrad(gradients=upstream, features=layer_inputs)
    if arch == "lenet5":
        strides, window = [1, 1, 1, 1], [1, 2, 2, 1]
        upstream = tf.raw_ops.AvgPoolGrad(
            orig_input_shape=tf.shape(conv2), grad=tf.reshape(upstream, tf.shape(pool2)), ksize=window,
            strides=window, padding="VALID")
        upstream = tf.raw_ops.ReluGrad(gradients=upstream, features=conv2)
        conv2_gradients = [
            tf.raw_ops.Conv2DBackpropFilter(input=pool1, filter_sizes=tf.shape(conv2_kernel), out_backprop=upstream,
                                            strides=strides, padding="VALID"),
            tf.raw_ops.BiasAddGrad(out_backprop=upstream)]
        upstream = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(pool1), filter=conv2_kernel,
                                                  out_backprop=upstream, strides=strides, padding="VALID")
        upstream = tf.raw_ops.AvgPoolGrad(orig_input_shape=tf.shape(conv1), grad=upstream, ksize=window,
                                          strides=window, padding="VALID")
        upstream = tf.raw_ops.ReluGrad(gradients=upstream, features=conv1)
        # The kernel gradient is the correlation of the images with the
        # output gradient: a convolution with the batch as its channels.
        conv1_kernel_gradient = tf.transpose(tf.nn.conv2d(
            tf.transpose(images, [3, 1, 2, 0]), tf.transpose(upstream, [1, 2, 0, 3]), 1, "VALID"), [1, 2, 0, 3])
        gradients = [conv1_kernel_gradient, tf.raw_ops.BiasAddGrad(out_backprop=upstream)] + conv2_gradients + gradients
    return tf.reduce_mean(losses), gradients


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


def stage_schedule(schedule, stage, base_learning_rate, base_batch_size=4, factor=5.0, base_momentum=0.0,
                   fewer_updates_factor=5.0):
    """(learning rate, batch size, momentum) of one stage.

    Every schedule divides the noise scale g = lr * N / (B * (1 - m)) by
    factor per stage. ibs_lr and ibs_mom start at fewer_updates_factor times
    the batch, and keep g by raising lr, or dividing 1 - m, by as much.
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
    raise ValueError(f"unknown schedule {schedule!r}; choose from {', '.join(ALL_SCHEDULES)}")


def check_schedule_fits_optimizer(schedule, optimizer_name):
    """ibs_mom raises the momentum coefficient, so it needs an optimizer that has one."""
    if schedule == "ibs_mom" and optimizer_name not in MOMENTUM_OPTIMIZERS:
        raise ValueError(f"the schedule ibs_mom raises the momentum coefficient, which {optimizer_name} does not "
                         f"have; use it with --optimizers {','.join(MOMENTUM_OPTIMIZERS)}")


def epoch_plans(schedule, optimizer_name, settings):
    """The plan of every epoch of one run.

    A batch larger than the training set is the training set: one step an
    epoch, and that is the batch size recorded.
    """
    check_schedule_fits_optimizer(schedule, optimizer_name)
    plans = []
    for stage in range(settings.num_stages):
        learning_rate, batch_size, momentum = stage_schedule(
            schedule, stage, settings.base_learning_rate(optimizer_name), settings.base_batch_size,
            settings.stage_factor, settings.base_momentum(optimizer_name), settings.fewer_updates_factor)
        reset = settings.original_optimizer_reset and schedule in ("dlr", "hyb")
        plan = EpochPlan(learning_rate, min(batch_size, settings.train_size), momentum, reset)
        plans += [plan] * settings.epochs_per_stage
    return plans


def updates_per_epoch(train_size, batch_size):
    """Parameter updates in one epoch: a last partial batch is still a step."""
    return math.ceil(train_size / batch_size)


# ----------------------------------------------------------------------------
# The optimizer: Keras's SGD (with or without momentum) and Adam formulas, one
# fused kernel per variable.
# ----------------------------------------------------------------------------
class FusedOptimizer:
    """Plain SGD, SGD with (Nesterov) momentum, or Adam, one fused TensorFlow op per variable.

    Keras's own Adam runs about ten small ops per variable per step; at batch
    size 4 that overhead, not arithmetic, dominates. ResourceApplyAdam,
    ResourceApplyKerasMomentum and ResourceApplyGradientDescent compute the
    same formulas in one op each (the tests check them against
    keras.optimizers). The learning rate and the momentum coefficient are
    variables so that a schedule changes them in place and all other state
    carries over.
    """

    def __init__(self, name, variables, learning_rate, beta_1=0.9, beta_2=0.999, epsilon=1e-7, momentum=0.9):
        load_tensorflow()
        if name not in ALL_OPTIMIZERS:
            raise ValueError(f"unknown optimizer {name!r}; choose from {', '.join(ALL_OPTIMIZERS)}")
        self.name = name
        self.model_variables = list(variables)
        self.learning_rate = tf.Variable(learning_rate, dtype=tf.float32, trainable=False)
        self.iterations = tf.Variable(0, dtype=tf.int64, trainable=False)
        self.beta_1, self.beta_2, self.epsilon = beta_1, beta_2, epsilon
        self.first_moments, self.second_moments, self.velocities = [], [], []
        self.momentum = None
        if name == "adam":
            self.first_moments = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.model_variables]
            self.second_moments = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.model_variables]
        if name in MOMENTUM_OPTIMIZERS:
            self.momentum = tf.Variable(momentum, dtype=tf.float32, trainable=False)
            self.velocities = [tf.Variable(tf.zeros_like(v), trainable=False) for v in self.model_variables]

    @property
    def variables(self):
        scalars = [self.learning_rate, self.iterations] + ([self.momentum] if self.momentum is not None else [])
        return scalars + self.first_moments + self.second_moments + self.velocities

    def set_momentum(self, momentum):
        """Sets the momentum coefficient in place; plain SGD and Adam have none to set."""
        if self.momentum is not None:
            self.momentum.assign(momentum)

    def apply(self, gradients):
        if self.name == "sgd":
            for variable, gradient in zip(self.model_variables, gradients):
                tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=self.learning_rate, delta=gradient)
        elif self.momentum is not None:
            # Keras's SGD: v = m v - lr g, then w += v, or w += m v - lr g with Nesterov.
            for variable, gradient, velocity in zip(self.model_variables, gradients, self.velocities):
                tf.raw_ops.ResourceApplyKerasMomentum(
                    var=variable.handle, accum=velocity.handle, lr=self.learning_rate, grad=gradient,
                    momentum=self.momentum, use_nesterov=self.name == "nesterov")
        else:
            # Keras's Adam uses step t = iterations + 1 in its bias correction.
            step = tf.cast(self.iterations + 1, tf.float32)
            beta_1_power, beta_2_power = tf.pow(self.beta_1, step), tf.pow(self.beta_2, step)
            for variable, gradient, first, second in zip(
                    self.model_variables, gradients, self.first_moments, self.second_moments):
                tf.raw_ops.ResourceApplyAdam(
                    var=variable.handle, m=first.handle, v=second.handle, beta1_power=beta_1_power,
                    beta2_power=beta_2_power, lr=self.learning_rate, beta1=self.beta_1, beta2=self.beta_2,
                    epsilon=self.epsilon, grad=gradient)
        self.iterations.assign_add(1)

    def reset(self):
        """What building a new optimizer does: moments, velocities and step count back to zero."""
        self.iterations.assign(0)
        for moment in self.first_moments + self.second_moments + self.velocities:
            moment.assign(tf.zeros_like(moment))


# ----------------------------------------------------------------------------
# One training run (and its siblings, which share their first epochs)
# ----------------------------------------------------------------------------
def epoch_order(seed, epoch, train_size):
    """The example order of one epoch; the same for every schedule of a seed."""
    return np.random.default_rng([seed, epoch]).permutation(train_size).astype(np.int32)


class Trainer:
    """A model, its optimizer and the data, with a compiled epoch and evaluation.

    A whole epoch is one graph call: batches are gathered from an order held
    as a tensor, so a run of 5,000 steps never returns to Python. The batch
    size is a tensor too, so the graph is traced once for every schedule.
    """

    def __init__(self, arch, optimizer_name, seed, settings, data):
        load_tensorflow()
        keras.utils.set_random_seed(seed)
        self.arch = arch
        self.model = build_model(arch)
        self.weights = [v.value for v in self.model.trainable_variables]
        self.optimizer = FusedOptimizer(
            optimizer_name, self.weights, settings.base_learning_rate(optimizer_name),
            settings.adam_beta_1, settings.adam_beta_2, settings.adam_epsilon, settings.base_momentum(optimizer_name))
        # A worker holds its data as tensors once; converting a tensor is free.
        self.x_train, self.y_train = tf.convert_to_tensor(data["x_train"]), tf.convert_to_tensor(data["y_train"])
        self.x_test, self.y_test = tf.convert_to_tensor(data["x_test"]), tf.convert_to_tensor(data["y_test"])
        self.train_size, self.test_size = len(data["x_train"]), len(data["x_test"])
        # Compiled per trainer: a graph each for the epoch and for scoring.
        self.train_epoch = tf.function(self.train_epoch)
        self.score_batch = tf.function(self.score_batch)

    def train_epoch(self, order, batch_size):
        """Trains one epoch in the given order; returns the mean of the batch losses."""
        steps = (self.train_size + batch_size - 1) // batch_size
        loss_sum = tf.constant(0.0)
        for step in tf.range(steps):
            batch = order[step * batch_size:tf.minimum((step + 1) * batch_size, self.train_size)]
            loss, gradients = loss_and_gradients(
                self.arch, self.weights, tf.gather(self.x_train, batch), tf.gather(self.y_train, batch))
            self.optimizer.apply(gradients)
            loss_sum += loss
        return loss_sum / tf.cast(steps, tf.float32)

    def score_batch(self, images, labels):
        probabilities = self.model(images, training=False)
        losses = keras.ops.sparse_categorical_crossentropy(labels, probabilities)
        correct = tf.equal(tf.argmax(probabilities, axis=1, output_type=tf.int32), labels)
        return tf.reduce_sum(losses), tf.reduce_sum(tf.cast(correct, tf.float32))

    def evaluate(self):
        """(accuracy, mean loss) on the whole test set."""
        loss_sum = correct = 0.0
        for start in range(0, self.test_size, EVAL_BATCH_SIZE):
            batch_loss, batch_correct = self.score_batch(
                self.x_test[start:start + EVAL_BATCH_SIZE], self.y_test[start:start + EVAL_BATCH_SIZE])
            loss_sum += float(batch_loss)
            correct += float(batch_correct)
        return correct / self.test_size, loss_sum / self.test_size

    def state(self):
        return [v.numpy() for v in self.weights + self.optimizer.variables]

    def restore(self, state):
        for variable, value in zip(self.weights + self.optimizer.variables, state):
            variable.assign(value)


def train_runs(arch, optimizer_name, seed, schedules, settings, data, on_epoch=None, on_run=None):
    """Trains the given schedules of one (arch, optimizer, seed); returns {schedule: metrics}.

    All schedules start from the same initial weights and see the same order
    of examples. Epochs that several schedules plan identically (the whole
    first stage, in the study's design) are trained once and the runs branch
    from a copy of the state: with deterministic ops the result is bit for bit
    that of separate runs, and about a fifth of the work is saved.

    on_epoch(plan) is called after every trained epoch, on_run(schedule,
    metrics) as soon as a run is complete. Metrics map each of test_accuracy,
    test_loss, train_loss, learning_rate, batch_size, momentum, updates
    (cumulative) and seconds (cumulative wall time, shared epochs counted in full) to per-epoch
    lists.
    """
    trainer = Trainer(arch, optimizer_name, seed, settings, data)
    plans = {schedule: epoch_plans(schedule, optimizer_name, settings) for schedule in schedules}
    results = {}

    def train_epoch(epoch, plan, history):
        start = time.perf_counter()
        if plan.reset_optimizer:
            trainer.optimizer.reset()
        trainer.optimizer.learning_rate.assign(plan.learning_rate)
        trainer.optimizer.set_momentum(plan.momentum)
        order = tf.constant(epoch_order(seed, epoch, trainer.train_size))
        train_loss = float(trainer.train_epoch(order, tf.constant(plan.batch_size)))
        test_accuracy, test_loss = trainer.evaluate()
        previous = history[-1] if history else {"updates": 0, "seconds": 0.0}
        if on_epoch:
            on_epoch(plan)
        return {
            "test_accuracy": test_accuracy,
            "test_loss": test_loss,
            "train_loss": train_loss,
            "learning_rate": plan.learning_rate,
            "batch_size": plan.batch_size,
            "momentum": plan.momentum,
            "updates": previous["updates"] + updates_per_epoch(trainer.train_size, plan.batch_size),
            "seconds": previous["seconds"] + time.perf_counter() - start,
        }

    def branch(epoch, members, history):
        # members share the history of epochs [0, epoch); group them by what
        # they do next, and train each group's next epoch from the same state.
        if epoch == settings.epochs:
            for schedule in members:
                results[schedule] = {key: [record[key] for record in history] for key in history[0]}
                if on_run:
                    on_run(schedule, results[schedule])
            return
        groups = {}
        for schedule in members:
            groups.setdefault(plans[schedule][epoch], []).append(schedule)
        saved = trainer.state() if len(groups) > 1 else None
        for index, (plan, group) in enumerate(groups.items()):
            if index > 0:
                trainer.restore(saved)
            branch(epoch + 1, group, history + [train_epoch(epoch, plan, history)])

    branch(0, list(schedules), [])
    return results


# ----------------------------------------------------------------------------
# The grid: which runs, in which worker processes, saved where
# ----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Selection:
    """Which runs to do. Not a setting: results for any selection can mix."""
    archs: tuple = ARCHITECTURES
    optimizers: tuple = OPTIMIZERS
    schedules: tuple = SCHEDULES
    seeds: tuple = (0, 1, 2, 3, 4)

    def run_keys(self):
        return [(arch, optimizer, schedule, seed) for arch in self.archs for optimizer in self.optimizers
                for schedule in self.schedules for seed in self.seeds]

    def check(self):
        """Raises ValueError for a schedule that an asked-for optimizer cannot run."""
        for optimizer in self.optimizers:
            for schedule in self.schedules:
                check_schedule_fits_optimizer(schedule, optimizer)


class StudyError(ValueError):
    """A study that cannot go on as asked; the message says what to do."""


def run_path(runs_dir, key):
    arch, optimizer, schedule, seed = key
    return os.path.join(runs_dir, f"{arch}_{optimizer}_{schedule}_seed{seed}.pickle")


def save_atomically(payload, path):
    """Writes a pickle so that the path holds either nothing or the whole of it.

    A save that fails part-way (a full disk, a vanished folder) removes its
    temporary file and raises StudyError naming the path.
    """
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(payload, stream)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
        raise StudyError(f"cannot save {path} ({error.strerror or error}); "
                         "free some space or pass a writable --out") from None


def prepare_out_dir(out_dir):
    """Makes out_dir/runs and checks that a file can be written there, before any training."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise StudyError(f"--out {out_dir} is a file, not a folder; pass a folder for the results")
    runs_dir = os.path.join(out_dir, "runs")
    try:
        os.makedirs(runs_dir, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=runs_dir, suffix=".tmp")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise StudyError(f"cannot write to --out {out_dir} ({error.strerror or error}); "
                         "pass a writable folder") from None
    return runs_dir


def run_record_problem(record, name):
    """Says how a loaded run file differs from what run_group writes, or returns None."""
    if not isinstance(record, dict) or not {"key", "settings", "metrics"} <= set(record):
        return "it is not a run record (key, settings, metrics)"
    key = record["key"]
    if not isinstance(key, (tuple, list)) or len(key) != 4:
        return "its key is not (arch, optimizer, schedule, seed)"
    if os.path.basename(run_path("", tuple(key))) != name:
        return f"its key {tuple(key)} does not match its file name"
    if not isinstance(record["settings"], dict) or not isinstance(record["metrics"], dict):
        return "its settings or metrics are not dicts"
    lengths = {len(values) if isinstance(values, list) else -1 for values in record["metrics"].values()}
    if not record["metrics"] or len(lengths) != 1 or -1 in lengths:
        return "its metrics are not per-epoch lists of one length"
    return None


def set_aside(path):
    """Moves a refused run file out of the way as NAME.rejected (never over an earlier one)."""
    target, number = path + ".rejected", 1
    while os.path.exists(target):
        target, number = f"{path}.{number}.rejected", number + 1
    try:
        os.replace(path, target)
    except FileNotFoundError:  # Another process on this folder set it aside first.
        return None
    return target


def load_finished_runs(runs_dir, settings):
    """Reads the runs saved in runs_dir, refusing runs made with other settings.

    Returns (finished, provenance, rejected): {key: metrics}, {key: provenance
    or None for files from before provenance was recorded}, and a list of
    (file, reason, where it was moved) for files that could not be used. A
    damaged file, or one that names anything but plain data, is never run:
    it is moved aside and its run is trained again.
    """
    finished, provenance, rejected = {}, {}, []
    if not os.path.isdir(runs_dir):
        return finished, provenance, rejected
    expected = dataclasses.asdict(settings)
    # A setting added after a run was saved had its default value then.
    defaults = dataclasses.asdict(Settings())
    for name in sorted(os.listdir(runs_dir)):
        if not name.endswith(".pickle"):
            continue
        path = os.path.join(runs_dir, name)
        try:
            record = safe_pickle.load(path)
            problem = run_record_problem(record, name)
        except FileNotFoundError:  # Set aside by another process meanwhile.
            continue
        except Exception as error:  # Unpickling damaged bytes can raise almost anything.
            problem = str(error) or type(error).__name__
        if problem:
            rejected.append((path, problem, set_aside(path)))
            continue
        saved = {**{field: defaults[field] for field in defaults if field not in record["settings"]},
                 **record["settings"]}
        if saved != expected:
            differences = ", ".join(f"{field} {saved.get(field)!r} there, {value!r} here"
                                    for field, value in expected.items() if saved.get(field) != value)
            raise StudyError(f"{runs_dir} holds runs made with other settings ({differences}); "
                             "pass another --out, or delete that folder to start afresh")
        key = tuple(record["key"])
        finished[key] = record["metrics"]
        provenance[key] = record.get("provenance")
    return finished, provenance, rejected


# ----------------------------------------------------------------------------
# Claims: several processes (or cluster tasks) may share one results folder
# ----------------------------------------------------------------------------
def claim_path(out_dir, arch, optimizer_name, seed):
    return os.path.join(out_dir, "claims", f"{arch}_{optimizer_name}_seed{seed}.lock")


@contextlib.contextmanager
def claim(path, wait=False):
    """Holds the lock file at path for the block; yields False if another process holds it.

    The operating system arbitrates (flock) and drops a lock when its process
    dies, so a killed study never blocks a folder. The holder deletes the
    file when it is done; a process that locked a file just deleted that way
    sees its inode gone and tries again on the new one. With wait, blocks
    until the claim is free instead of yielding False.
    """
    if fcntl is None:
        yield True
        return
    handle = None
    while handle is None:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # The claims folder is made on first use and removed when empty.
            os.makedirs(os.path.dirname(path), exist_ok=True)
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(handle)
            handle = None
            break
        try:
            same_file = os.fstat(handle).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if not same_file:
            os.close(handle)
            handle = None
    if handle is None:
        yield False
        return
    try:
        yield True
    finally:
        os.remove(path)
        os.close(handle)
        with contextlib.suppress(OSError):  # Left in place while other claims are live.
            os.rmdir(os.path.dirname(path))


# Rough single-thread costs on this project's 2-core x86 machines (seconds per
# step at a tiny batch, per training example, per test example). They only
# order the work, longest first, and drive the progress bar's estimate.
STEP_SECONDS = {("mlp300", "sgd"): 1.2e-4, ("mlp300", "adam"): 2.2e-4, ("mlp500_150", "sgd"): 2.1e-4,
                ("mlp500_150", "adam"): 4.1e-4, ("lenet5", "sgd"): 2.9e-4, ("lenet5", "adam"): 3.2e-4}
# Momentum adds one velocity update per variable: between SGD and Adam.
STEP_SECONDS.update({(arch, name): (STEP_SECONDS[arch, "sgd"] + STEP_SECONDS[arch, "adam"]) / 2
                     for arch in ARCHITECTURES for name in MOMENTUM_OPTIMIZERS})
EXAMPLE_SECONDS = {"mlp300": 4e-6, "mlp500_150": 8e-6, "lenet5": 4.6e-5}


def epoch_cost(arch, optimizer_name, plan, settings):
    steps = updates_per_epoch(settings.train_size, plan.batch_size)
    examples = settings.train_size + settings.test_size / 3
    return steps * STEP_SECONDS[arch, optimizer_name] + examples * EXAMPLE_SECONDS[arch]


def trained_epochs(optimizer_name, schedules, settings):
    """The plans of the epochs train_runs really trains: an epoch shared by schedules counts once."""
    prefixes = set()
    for schedule in schedules:
        plans = epoch_plans(schedule, optimizer_name, settings)
        prefixes.update(tuple(plans[:epoch + 1]) for epoch in range(len(plans)))
    return [prefix[-1] for prefix in prefixes]


def group_cost(group, settings):
    """Estimated cost of train_runs for one group."""
    arch, optimizer_name, _, schedules = group
    return sum(epoch_cost(arch, optimizer_name, plan, settings)
               for plan in trained_epochs(optimizer_name, schedules, settings))


def parse_shard(text):
    """'K/N' -> (K, N) with 1 <= K <= N."""
    try:
        index, count = (int(part) for part in text.split("/"))
    except ValueError:
        raise ValueError(f"--shard takes K/N, for example 2/3; got {text!r}") from None
    if not 1 <= index <= count:
        raise ValueError(f"--shard K/N needs 1 <= K <= N; got {text!r}")
    return index, count


def plan_groups(selection, finished, shard=None):
    """The unfinished work as groups (arch, optimizer, seed, schedules to train).

    A shard K/N takes every N-th (arch, optimizer, seed) of the whole selection,
    counted before finished runs are removed, so that the slices stay the same
    however far each shard has got.
    """
    groups = []
    cells = [(arch, optimizer, seed) for arch in selection.archs for optimizer in selection.optimizers
             for seed in selection.seeds]
    for index, (arch, optimizer, seed) in enumerate(cells):
        if shard and index % shard[1] != shard[0] - 1:
            continue
        todo = tuple(s for s in selection.schedules if (arch, optimizer, s, seed) not in finished)
        if todo:
            groups.append((arch, optimizer, seed, todo))
    return groups


_worker = {}


def init_worker(settings, data, out_dir, command, events):
    """Prepares one worker process: one thread, deterministic ops, the data, its provenance."""
    load_tensorflow()
    with quiet_stderr():
        # Tiny steps run faster on one thread than split across cores, and
        # the cores are better spent on separate runs.
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
    tensors = {name: tf.constant(array) for name, array in data.items()}
    _worker.update(settings=settings, data=tensors, out_dir=out_dir, events=events,
                   provenance={"machine": machine_description(), "versions": library_versions(),
                               "command": command})


def run_group(group):
    """Worker task: claims one group, trains what is still missing of it, saves each run when done.

    Returns True if this process held the group's claim, False if another
    process on the same folder holds it (and trains it).
    """
    arch, optimizer_name, seed, schedules = group
    settings, events, out_dir = _worker["settings"], _worker["events"], _worker["out_dir"]
    runs_dir = os.path.join(out_dir, "runs")

    def on_epoch(plan):
        events.put(("epoch", epoch_cost(arch, optimizer_name, plan, settings)))

    def on_run(schedule, metrics):
        key = (arch, optimizer_name, schedule, seed)
        provenance = dict(_worker["provenance"], wall_seconds=metrics["seconds"][-1],
                          date=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
        record = {"key": key, "settings": dataclasses.asdict(settings), "metrics": metrics,
                  "provenance": provenance}
        save_atomically(record, run_path(runs_dir, key))
        events.put(("run", key))

    with claim(claim_path(out_dir, arch, optimizer_name, seed)) as held:
        if not held:
            return False
        # Another process may have finished some of these since they were planned.
        todo = tuple(schedule for schedule in schedules
                     if not os.path.exists(run_path(runs_dir, (arch, optimizer_name, schedule, seed))))
        if todo:
            train_runs(arch, optimizer_name, seed, todo, settings, _worker["data"], on_epoch, on_run)
            # A worker trains many groups: free each one's model and graphs,
            # or memory grows by about 100 MB a group.
            keras.backend.clear_session()
            gc.collect()
    return True


def library_versions():
    versions = {"python": platform.python_version()}
    for package in ("tensorflow", "keras", "numpy"):
        versions[package] = importlib.metadata.version(package)
    return versions


def machine_description():
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            model = next(line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.release()}"


NOT_RECORDED = "not recorded"


def training_provenance(provenance):
    """The machines and library versions that trained the given runs, for the assembled config.

    Runs saved before provenance was recorded count as "not recorded". Where
    the runs come from several machines or versions, all of them are named.
    """
    records = list(provenance.values())
    machines = sorted({record["machine"] if record else NOT_RECORDED for record in records})
    versions = {}
    for record in records:
        for package, version in (record or {}).get("versions", {}).items():
            versions.setdefault(package, set()).add(version)
    return {"machines": machines, "machine": "; ".join(machines),
            "versions": {package: " / ".join(sorted(found)) for package, found in versions.items()}}


def assemble_results(settings, selection, finished, command="", provenance=None):
    """The results dict of the selection, from the finished runs.

    Nothing in it describes the process that assembles it but the command:
    the machines and versions are those that trained the runs, so the same
    runs assemble to the same bytes on any machine.
    """
    provenance = provenance or {}
    runs = {key: finished[key] for key in selection.run_keys() if key in finished}
    run_provenance = {key: provenance.get(key) for key in runs}
    accuracy = {}
    for (arch, optimizer, schedule, _), metrics in runs.items():
        accuracy.setdefault(arch, {}).setdefault(optimizer, {}).setdefault(schedule, []).append(
            metrics["test_accuracy"])
    for by_optimizer in accuracy.values():
        for by_schedule in by_optimizer.values():
            for schedule, curves in by_schedule.items():
                by_schedule[schedule] = np.mean(curves, axis=0).tolist()
    config = dataclasses.asdict(settings)
    config.update(
        learning_rates={name: settings.base_learning_rate(name) for name in selection.optimizers},
        epochs=settings.epochs,
        archs=list(selection.archs), optimizers=list(selection.optimizers),
        schedules=list(selection.schedules), seeds=list(selection.seeds),
        command=command, **training_provenance(run_provenance))
    return {"config": config, "runs": runs, "accuracy": accuracy, "provenance": run_provenance,
            "missing": [key for key in selection.run_keys() if key not in finished]}


def train_groups(groups, settings, data, out_dir, jobs, command, progress, trained):
    """Trains groups in worker processes; returns the groups another process had claimed.

    trained, a list, gets the key of every run this process saves.
    """
    total_cost = sum(group_cost(group, settings) for group in groups)
    runs_total = sum(len(group[3]) for group in groups)
    done_cost = 0.0
    # Spawned, not forked: TensorFlow's runtime does not survive a fork.
    context = multiprocessing.get_context("spawn")
    events = context.Queue()
    with context.Pool(min(jobs, len(groups)), init_worker, (settings, data, out_dir, command, events)) as pool:
        longest_first = sorted(groups, key=lambda group: group_cost(group, settings), reverse=True)
        pending = pool.map_async(run_group, longest_first, chunksize=1)
        while True:
            try:
                kind, value = events.get(timeout=0.25)
            except queue.Empty:
                if pending.ready():
                    break
                continue
            if kind == "epoch":
                done_cost += value
            else:
                trained.append(value)
            if progress:
                progress(done_cost, total_cost, len(trained), runs_total)
        held = pending.get()  # Raises here whatever a worker raised.
    return [group for group, was_held in zip(longest_first, held) if not was_held]


def run_study(settings, selection, data, out_dir, jobs=1, shard=None, command="", progress=None):
    """Trains what out_dir lacks of the selection, then writes and returns the results.

    Each run is saved to out_dir/runs/ as it finishes, so an interrupted study
    loses only the runs in flight and the same call resumes it. Processes
    sharing out_dir split the work: each group is claimed before it is
    trained, and a group another process holds is waited for, then trained
    here only if that process died before finishing it. progress, if given, is
    called as progress(done_cost, total_cost, runs_done, runs_total).

    Returns (results, report): report holds "trained" (keys of the runs this
    call trained), "reused" (keys of the selection's runs it found finished)
    and "rejected" ((file, reason, moved to) of run files it could not use).
    """
    runs_dir = prepare_out_dir(out_dir)
    trained, rejected = [], []
    while True:
        finished, provenance, newly_rejected = load_finished_runs(runs_dir, settings)
        rejected += newly_rejected
        groups = plan_groups(selection, finished, shard)
        if not groups:
            break
        for arch, optimizer_name, seed, _ in train_groups(groups, settings, data, out_dir, jobs, command,
                                                          progress, trained):
            # Wait for the other process to finish or die, then look again.
            with claim(claim_path(out_dir, arch, optimizer_name, seed), wait=True):
                pass
    results = assemble_results(settings, selection, finished, command, provenance)
    save_atomically(results, os.path.join(out_dir, "results.pickle"))
    trained_here = set(trained)
    report = {"trained": trained, "reused": [key for key in results["runs"] if key not in trained_here],
              "rejected": rejected}
    return results, report


# ----------------------------------------------------------------------------
# The command line
# ----------------------------------------------------------------------------
class ProgressBar:
    """A one-line bar with an estimate of the time left, on stderr."""

    def __init__(self, stream=sys.stderr):
        self.stream, self.start, self.last_decile = stream, time.perf_counter(), -1
        self.interactive = stream.isatty()

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
        elif int(10 * fraction) > self.last_decile or runs_done == runs_total:
            # A log file gets a line every tenth of the way, not a flood.
            self.last_decile = int(10 * fraction)
            self.stream.write(line + "\n")
        self.stream.flush()


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
    def parse(text):
        names = tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))
        unknown = [name for name in names if name not in choices]
        if unknown or not names:
            raise argparse.ArgumentTypeError(f"{text!r} is not a comma list of {', '.join(choices)}")
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
                    "Finished runs in --out are kept and reused: rerun the same command to resume.")
    parser.add_argument("--archs", type=name_list(ARCHITECTURES), default=",".join(ARCHITECTURES),
                        help="comma list of architectures (default: %(default)s)")
    parser.add_argument("--optimizers", type=name_list(ALL_OPTIMIZERS), default=",".join(OPTIMIZERS),
                        help=f"comma list of {', '.join(ALL_OPTIMIZERS)}: momentum and nesterov are SGD with "
                             "(Nesterov) momentum 0.9 at learning rate 0.001 (default: %(default)s)")
    parser.add_argument("--schedules", type=name_list(ALL_SCHEDULES), default=",".join(SCHEDULES),
                        help=f"comma list of {', '.join(ALL_SCHEDULES)}: ibs_lr raises the learning rate and "
                             "ibs_mom the momentum coefficient (momentum and nesterov only) instead of starting "
                             "at batch 4 (default: %(default)s)")
    parser.add_argument("--seeds", type=count(1), default=5,
                        help="number of seeds: runs seeds 0 to N-1 (default: %(default)s)")
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
    parser.add_argument("--shard", type=shard_argument, default=None, metavar="K/N",
                        help="run only the K-th of N slices of the grid (K from 1 to N), for job arrays (default: all)")
    parser.add_argument("--original-optimizer-reset", action="store_true",
                        help="reproduce the original code's flaw: a fresh optimizer at every epoch for dlr and hyb, "
                             "which resets Adam's moments and step count (use a separate --out)")
    args = parser.parse_args(argv)
    try:
        Selection(args.archs, args.optimizers, args.schedules).check()
    except ValueError as error:
        parser.error(str(error))
    return args


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


def main(argv=None):
    args = parse_args(argv)
    command = " ".join(["python main.py"] + list(sys.argv[1:] if argv is None else argv))
    try:
        arrays = load_mnist(args.data)
        for split, size, flag in (("train", args.train_size, "--train-size"), ("test", args.test_size, "--test-size")):
            available = len(arrays[0] if split == "train" else arrays[2])
            if size > available:
                raise DataError(f"{flag} {size:,} is more than the {available:,} {split} images in the data")
        settings = Settings(train_size=args.train_size, test_size=args.test_size,
                            epochs_per_stage=args.epochs_per_stage, base_batch_size=args.base_batch_size,
                            original_optimizer_reset=args.original_optimizer_reset,
                            data_fingerprint=data_fingerprint(arrays))
        jobs = args.jobs or os.cpu_count() or 1
        selection = Selection(args.archs, args.optimizers, args.schedules, tuple(range(args.seeds)))
        data = prepare_data(arrays, settings.train_size, settings.test_size)
        start = time.perf_counter()
        results, report = run_study(settings, selection, data, args.out, jobs, args.shard, command, ProgressBar())
    except (DataError, StudyError) as error:
        print(f"main.py: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"\nmain.py: interrupted; finished runs are saved in {os.path.join(args.out, 'runs')}. "
              "Run the same command again to resume.", file=sys.stderr)
        return 130
    path = os.path.join(args.out, "results.pickle")
    for rejected_file, reason, moved_to in report["rejected"]:
        print(f"main.py: warning: {rejected_file} was not used ({reason}); "
              f"{'moved to ' + moved_to if moved_to else 'set aside'} and its run trained again", file=sys.stderr)
    runs_dir = os.path.join(args.out, "runs")
    print(f"{len(results['runs'])} runs in {path}: {describe_reuse(report, results['provenance'], runs_dir)} "
          f"({time.perf_counter() - start:.0f} s).")
    if report["reused"] and not report["trained"]:
        print(f"Nothing was trained: every run was already in {runs_dir}. To retrain from scratch, "
              "pass a fresh --out folder.")
    if results["missing"]:
        print(f"{len(results['missing'])} runs of the selection are not in {args.out} yet "
              "(other shards?); copy their runs/ files here and rerun to complete the pickle.")
    print(f"Draw the figures with: python plots.py --results {path}")
    return 0


if __name__ == "__main__":
    # A kill should unwind like Ctrl-C, so the worker processes stop too.
    import signal
    signal.signal(signal.SIGTERM, lambda *_: (_ for _ in ()).throw(KeyboardInterrupt()))
    sys.exit(main())
