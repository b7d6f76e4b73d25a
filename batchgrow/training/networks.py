"""The networks: any Keras model, trained through a GradientTape or a written-out backward pass.

A network is a function with no arguments that returns an uncompiled Keras
model taking a batch of 28x28 images and ending in a 10-way softmax. NETWORKS
registers the three built-in ones, each with its backward pass written out
(loss_and_gradients), a speed-up that the tests check against the tape. A
network without one, as every network of a user's --networks file, trains
through tape_loss_and_gradients. read_network_file imports such a file and
check_network tries each of its models before any training; both raise
NetworkFileError with a one-line message. A new built-in network is an entry
here and a display name in study.ARCHITECTURE_NAMES (docs/adding.md, "Adding a
network", lists the steps).
"""
import functools
import hashlib
import importlib.machinery
import importlib.util
import os
import re
import sys
import traceback
import typing

from batchgrow.training.runtime import load_tensorflow
from batchgrow.study import ARCHITECTURES

tf, keras = load_tensorflow()
layers = keras.layers


class Network(typing.NamedTuple):
    """A network: its Keras model, and optionally its backward pass written out."""
    build: typing.Callable
    # (weights, images, labels) -> (mean loss, gradients), or None for the tape.
    loss_and_gradients: typing.Optional[typing.Callable] = None


def build_builtin_model(arch):
    """One of the study's three networks, on 28x28 inputs, ending in a softmax."""
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
    """The mean cross-entropy of one batch under a built-in network's weights, and its gradients.

    The same network as build_model, with the backward pass written out. At
    batch size 4 a step is a few dozen tiny kernels, so which kernels run
    matters more than the arithmetic. Written out, the backward pass skips the
    shape bookkeeping a GradientTape adds (little, once an epoch is compiled),
    and it takes the first convolution's kernel gradient as a forward
    convolution, which oneDNN runs faster than its kernel-gradient op on a
    1-channel input at small batch sizes: side by side, the tape's step cost
    the same on the MLPs and 4 to 8 % more on LeNet-5 at batch 4 and 9
    (benchmarks/README.md). The tests check the loss and every gradient
    against Keras and the tape.
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


# The built-in networks, each with its written-out backward pass; a user's
# networks join them (register) in every process that trains.
NETWORKS = {arch: Network(functools.partial(build_builtin_model, arch), functools.partial(loss_and_gradients, arch))
            for arch in ARCHITECTURES}


def register(name, build, written_out=None):
    NETWORKS[name] = Network(build, written_out)


def network(arch):
    """A registered network: one of the three built-in ones, or of a --networks file used in this process."""
    if arch not in NETWORKS:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(NETWORKS)}")
    return NETWORKS[arch]


def build_model(arch):
    """The Keras model of a registered network."""
    return network(arch).build()


def tape_loss_and_gradients(model, weights, images, labels, training=True):
    """The mean cross-entropy of one batch and its gradients by weights, through a GradientTape.

    In training mode BatchNormalization normalizes by the batch and updates
    its moving statistics, and Dropout draws from its seed state; with
    training False (the noise-scale measurement, which must assign nothing)
    the model runs as it is scored. Losses the model adds itself (weight
    regularizers) join the loss, as in Keras's fit.
    """
    with tf.GradientTape() as tape:
        probabilities = model(images, training=training)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, probabilities))
        if model.losses:
            loss += tf.add_n(model.losses)
    return loss, tape.gradient(loss, weights)


# ----------------------------------------------------------------------------
# A user's networks: a Python file that defines NETWORKS
# ----------------------------------------------------------------------------
class NetworkFileError(ValueError):
    """A --networks file that cannot be used; the message is one line that says why."""


NAME_PATTERN = re.compile(r"[A-Za-z][A-Za-z0-9_-]*\Z")


def file_sha256(path):
    with open(path, "rb") as handle:
        return hashlib.sha256(handle.read()).hexdigest()


def _one_line(error):
    text = " ".join(str(error).split()) or type(error).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def _raised(error, path):
    """"NameError: ... (line 3)": an exception, and the line of the file where it was raised."""
    lines = [frame.lineno for frame in traceback.extract_tb(error.__traceback__)
             if os.path.abspath(frame.filename) == os.path.abspath(path)]
    where = f" (line {lines[-1]})" if lines else ""
    return f"{type(error).__name__}: {_one_line(error)}{where}"


def read_network_file(path):
    """Imports a --networks file as the user's own code; returns its {name: function}.

    NetworkFileError when the file is missing, raises while it is imported,
    defines no NETWORKS dict, or names a network badly or after a built-in one.
    """
    prefix = f"--networks {path}"
    if not os.path.isfile(path):
        raise NetworkFileError(f"{prefix}: no such file; pass a Python file that defines NETWORKS")
    module_name = "user_networks_" + file_sha256(path)[:16]
    loader = importlib.machinery.SourceFileLoader(module_name, path)
    module = importlib.util.module_from_spec(importlib.util.spec_from_loader(module_name, loader))
    sys.modules[module_name] = module  # As an import would, for code that looks itself up.
    try:
        loader.exec_module(module)
    except (Exception, SystemExit) as error:  # The user's code can raise anything.
        del sys.modules[module_name]
        raise NetworkFileError(f"{prefix}: importing it raised {_raised(error, path)}") from None
    found = getattr(module, "NETWORKS", None)
    if found is None:
        raise NetworkFileError(f"{prefix}: it defines no NETWORKS; define NETWORKS = {{name: function returning "
                               "an uncompiled Keras model}}")
    if not isinstance(found, dict) or not found:
        raise NetworkFileError(f"{prefix}: NETWORKS is {type(found).__name__} {_one_line(found)[:60]}, not a "
                               "non-empty dict of names to functions")
    for name, build in found.items():
        if not isinstance(name, str) or not NAME_PATTERN.match(name):
            raise NetworkFileError(f"{prefix}: the network name {name!r} is not a letter followed by letters, "
                                   "digits, _ or -")
        if name in ARCHITECTURES:
            raise NetworkFileError(f"{prefix}: the network name {name!r} is taken by a built-in network; "
                                   f"rename it (built-in: {', '.join(ARCHITECTURES)})")
        if not callable(build):
            raise NetworkFileError(f"{prefix}: NETWORKS[{name!r}] is a {type(build).__name__}, not a function "
                                   "that returns a Keras model")
    return dict(found)


def use_network_file(path):
    """Registers a --networks file's networks in this process (once per path)."""
    if path not in _used_files:
        for name, build in read_network_file(path).items():
            register(name, build)
        _used_files.add(path)


_used_files = set()


def check_network(name, build, path):
    """Builds one of a --networks file's networks and tries it; returns its parameter count.

    Before any training: the model must take a batch of 28x28 images, end in
    a 10-way softmax, hold float32 weights and give every trainable weight a
    gradient. NetworkFileError otherwise.
    """
    prefix = f"--networks {path}: NETWORKS[{name!r}]"
    try:
        model = build()
    except Exception as error:  # The user's code can raise anything.
        raise NetworkFileError(f"{prefix}() raised {_raised(error, path)}") from None
    if not isinstance(model, keras.Model):
        raise NetworkFileError(f"{prefix}() returned a {type(model).__name__}, not a Keras model")
    images, labels = tf.zeros((2, 28, 28)), tf.constant([0, 1], tf.int32)
    try:
        outputs = model(images, training=False)
    except Exception as error:  # A wrong input shape shows here, in whatever words Keras uses.
        raise NetworkFileError(f"{prefix}: the model does not take a batch of 28x28 images, shape (batch, 28, 28) "
                               f"({type(error).__name__}: {_one_line(error)})") from None
    if not isinstance(outputs, tf.Tensor) or tuple(outputs.shape) != (2, 10):
        shape = tuple(outputs.shape) if hasattr(outputs, "shape") else type(outputs).__name__
        raise NetworkFileError(f"{prefix}: on 2 images the model gives {shape}, not (2, 10); end it in a "
                               "10-way softmax, Dense(10, activation='softmax')")
    probabilities = outputs.numpy()
    if not ((probabilities >= 0).all() and abs(probabilities.sum(axis=1) - 1).max() < 1e-3):
        raise NetworkFileError(f"{prefix}: the model's outputs are not probabilities (each row sums to 1); "
                               "end it in a softmax, Dense(10, activation='softmax')")
    weights = [variable.value for variable in model.trainable_variables]
    if not weights:
        raise NetworkFileError(f"{prefix}: the model has no trainable weights")
    for variable in model.trainable_variables:
        if variable.dtype != "float32":
            raise NetworkFileError(f"{prefix}: the weight {variable.path} is {variable.dtype}, not float32, "
                                   "which the optimizers update")
    _, gradients = tape_loss_and_gradients(model, weights, images, labels)
    missing = [variable.path for variable, gradient in zip(model.trainable_variables, gradients) if gradient is None]
    if missing:
        raise NetworkFileError(f"{prefix}: the weight {missing[0]} gets no gradient from the loss; "
                               "make it non-trainable or use it")
    return model.count_params()
