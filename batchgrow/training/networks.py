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

import numpy as np

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


# LeNet-5's convolutions step one pixel; its average pools take 2 x 2 windows without overlap.
UNIT_STRIDES, POOL_WINDOW = [1, 1, 1, 1], [1, 2, 2, 1]


def _convolutions_backward(upstream, conv1, pool1, conv2, conv2_kernel):
    """LeNet-5's backward pass from the second pooling's output gradient to the first convolution's (after its
    ReLU): (that gradient, [the second convolution's kernel and bias gradients]). The same ops serve one seed
    and the stacked seeds, whose second convolution is a grouped one that Conv2DBackprop* take as it is."""
    upstream = tf.raw_ops.AvgPoolGrad(orig_input_shape=tf.shape(conv2), grad=upstream, ksize=POOL_WINDOW,
                                      strides=POOL_WINDOW, padding="VALID")
    upstream = tf.raw_ops.ReluGrad(gradients=upstream, features=conv2)
    conv2_gradients = [
        tf.raw_ops.Conv2DBackpropFilter(input=pool1, filter_sizes=tf.shape(conv2_kernel), out_backprop=upstream,
                                        strides=UNIT_STRIDES, padding="VALID"),
        tf.raw_ops.BiasAddGrad(out_backprop=upstream)]
    upstream = tf.raw_ops.Conv2DBackpropInput(input_sizes=tf.shape(pool1), filter=conv2_kernel,
                                              out_backprop=upstream, strides=UNIT_STRIDES, padding="VALID")
    upstream = tf.raw_ops.AvgPoolGrad(orig_input_shape=tf.shape(conv1), grad=upstream, ksize=POOL_WINDOW,
                                      strides=POOL_WINDOW, padding="VALID")
    return tf.raw_ops.ReluGrad(gradients=upstream, features=conv1), conv2_gradients


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
        upstream, conv2_gradients = _convolutions_backward(
            tf.reshape(upstream, tf.shape(pool2)), conv1, pool1, conv2, conv2_kernel)
        # The kernel gradient is the correlation of the images with the
        # output gradient: a convolution with the batch as its channels.
        conv1_kernel_gradient = tf.transpose(tf.nn.conv2d(
            tf.transpose(images, [3, 1, 2, 0]), tf.transpose(upstream, [1, 2, 0, 3]), 1, "VALID"), [1, 2, 0, 3])
        gradients = [conv1_kernel_gradient, tf.raw_ops.BiasAddGrad(out_backprop=upstream)] + conv2_gradients + gradients
    return tf.reduce_mean(losses), gradients


# ----------------------------------------------------------------------------
# Seeds stacked: one model with a leading seed dimension (--stack-seeds)
# ----------------------------------------------------------------------------
# S seeds of a built-in network as one model. Dense kernels are [S, in, out]
# and their biases [S, out], applied as batched matmuls; LeNet-5's two
# convolutions are grouped convolutions with S groups, their kernels the
# seeds' kernels side by side on the output channels ([5, 5, in, S * out],
# seed s's channels the s-th block) and their biases [S * out]. Each kernel
# call then does S seeds' work for one call's overhead. Every op is the
# unstacked network's op on each seed's slice, and an optimizer's update is
# element-wise, so each seed trains its own run; but the kernels add in
# another order, so a stacked seed is a rounding step from its unstacked
# run, not bit for bit (benchmarks/README.md, "Stacking a cell's seeds").
# TensorFlow runs grouped convolutions on a CPU only through its oneDNN
# kernels (grouped_convolutions_run).
def _is_convolution_weight(arch, index):
    """Whether a built-in network's trainable weight index is a convolution's kernel or bias (stacked on its
    output channels) rather than a dense layer's (stacked on a leading seed axis)."""
    return arch == "lenet5" and index < 4


def stack_weights(arch, per_seed):
    """The stacked weights' values (numpy arrays) from [seed][weight] arrays in model.trainable_variables' order."""
    stacked = []
    for index in range(len(per_seed[0])):
        values = [weights[index] for weights in per_seed]
        stacked.append(np.concatenate(values, axis=-1) if _is_convolution_weight(arch, index) else np.stack(values))
    return stacked


def unstack_weights(arch, stacked, seeds):
    """[seed][weight] arrays from the stacked weights' values (stack_weights inverted); seeds is their count."""
    per_seed = [[] for _ in range(seeds)]
    for index, value in enumerate(stacked):
        parts = np.split(value, seeds, axis=-1) if _is_convolution_weight(arch, index) else list(value)
        for seed in range(seeds):
            per_seed[seed].append(parts[seed])
    return per_seed


def _stacked_forward(arch, seeds, weights, images, conv1_form):
    """The stacked network's logits [S, B, 10], and what its backward pass reads.

    images is [S, B, 28, 28], seed s's batch in row s, or [B, 28, 28], one
    batch that every seed scores (the test set). Per-seed images are the S
    channels of one batch, so that the first convolution is grouped; one
    shared batch has one channel, and the first convolution is a plain one to
    the S seeds' 6 S output channels, in the same layout.
    """
    shared = images.shape.rank == 3
    batch = tf.shape(images)[0 if shared else 1]
    saved = {}
    if arch == "lenet5":
        conv1_kernel, conv1_bias, conv2_kernel, conv2_bias = weights[:4]
        dense_weights = weights[4:]
        if shared:
            conv1 = tf.nn.conv2d(tf.reshape(images, [-1, 28, 28, 1]), conv1_kernel, 1, "VALID")
        else:
            # The seeds' images as the channels of one batch: [B, 28, 28, S].
            saved["channels"] = channels = tf.transpose(images, [1, 2, 3, 0])
            if conv1_form == "depthwise":
                conv1 = tf.nn.depthwise_conv2d(channels, tf.reshape(conv1_kernel, [5, 5, seeds, 6]), UNIT_STRIDES,
                                               "VALID")
            else:
                conv1 = tf.nn.conv2d(channels, conv1_kernel, 1, "VALID")
        saved["conv1"] = conv1 = tf.nn.relu(tf.nn.bias_add(conv1, conv1_bias))
        saved["pool1"] = pool1 = tf.nn.avg_pool2d(conv1, 2, 2, "VALID")
        saved["conv2"] = conv2 = tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(pool1, conv2_kernel, 1, "VALID"), conv2_bias))
        saved["pool2"] = pool2 = tf.nn.avg_pool2d(conv2, 2, 2, "VALID")
        # [B, 4, 4, S * 16] -> [S, B, 256], each seed flattened as the unstacked network flattens.
        activations = [tf.reshape(tf.transpose(tf.reshape(pool2, [batch, 4, 4, seeds, 16]), [3, 0, 1, 2, 4]),
                                  [seeds, batch, 256])]
    elif arch in ARCHITECTURES:
        dense_weights = weights
        # A shared batch broadcasts against every seed's kernel in the batched matmul.
        activations = [tf.reshape(images, [1 if shared else seeds, batch, 784])]
    else:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(ARCHITECTURES)}")
    layer_count = len(dense_weights) // 2
    for layer in range(layer_count):
        outputs = tf.matmul(activations[-1], dense_weights[2 * layer]) + dense_weights[2 * layer + 1][:, None, :]
        activations.append(tf.nn.relu(outputs) if layer < layer_count - 1 else outputs)
    saved.update(activations=activations, dense_weights=dense_weights, batch=batch)
    return activations[-1], saved


def stacked_logits(arch, seeds, weights, images):
    """The logits [S, B, 10] of S stacked seeds of a built-in network: images [S, B, 28, 28], or [B, 28, 28]
    for one batch that every seed scores."""
    logits, _ = _stacked_forward(arch, seeds, weights, images, "depthwise")
    return logits


def stacked_loss_and_gradients(arch, seeds, weights, images, labels, conv1_form="depthwise",
                               conv1_kernel_gradient="filter"):
    """Each seed's mean cross-entropy [S] and the stacked weights' gradients, backward pass written out.

    images [S, B, 28, 28], labels [S, B]: seed s's batch in row s. The
    arithmetic of loss_and_gradients for every seed, on weights stacked as
    stack_weights lays them out. LeNet-5's first convolution is depthwise over
    the seeds' images as S channels (channel multiplier 6), its kernel
    gradient taken by its kernel-gradient op: loss_and_gradients' trick, a
    forward convolution, was slower stacked. Issue 42's pilot
    (benchmarks/stacked_seeds_pilot.py) measures the other forms too:
    conv1_form "grouped" (tf.nn.conv2d with S groups) and
    conv1_kernel_gradient "forward".
    """
    logits, saved = _stacked_forward(arch, seeds, weights, images, conv1_form)
    activations, dense_weights, batch = saved["activations"], saved["dense_weights"], saved["batch"]
    scale = 1.0 / tf.cast(batch, tf.float32)
    # One fused op gives each example's loss and its gradient by the logits.
    losses, upstream = tf.raw_ops.SparseSoftmaxCrossEntropyWithLogits(
        features=tf.reshape(logits, [seeds * batch, 10]), labels=tf.reshape(labels, [-1]))
    upstream = tf.reshape(upstream * scale, [seeds, batch, 10])
    gradients = []
    layer_count = len(dense_weights) // 2
    for layer in reversed(range(layer_count)):
        layer_inputs = activations[layer]
        gradients[:0] = [tf.matmul(layer_inputs, upstream, transpose_a=True), tf.reduce_sum(upstream, axis=1)]
        if layer > 0 or arch == "lenet5":
            upstream = tf.matmul(upstream, dense_weights[2 * layer], transpose_b=True)
            if layer > 0:
                upstream = tf.raw_ops.ReluGrad(gradients=upstream, features=layer_inputs)
    if arch == "lenet5":
        conv1, pool1, conv2, pool2 = (saved[name] for name in ("conv1", "pool1", "conv2", "pool2"))
        conv1_kernel, conv2_kernel = weights[0], weights[2]
        # The seeds' second pooled maps are the channel groups of one map, as the forward pass made them.
        upstream = tf.reshape(tf.transpose(tf.reshape(upstream, [seeds, batch, 4, 4, 16]), [1, 2, 3, 0, 4]),
                              tf.shape(pool2))
        upstream, conv2_gradients = _convolutions_backward(upstream, conv1, pool1, conv2, conv2_kernel)
        if conv1_kernel_gradient == "forward":
            # As unstacked, the kernel gradient as a forward convolution: the images [1, 28, 28, S * B] (seed
            # major) against the output gradient [24, 24, B, S * 6], S groups of B input channels.
            seed_images = tf.reshape(tf.transpose(images, [2, 3, 0, 1]), [1, 28, 28, seeds * batch])
            conv1_kernel_gradient = tf.transpose(tf.nn.conv2d(
                seed_images, tf.transpose(upstream, [1, 2, 0, 3]), 1, "VALID"), [1, 2, 0, 3])
        elif conv1_form == "depthwise":
            conv1_kernel_gradient = tf.reshape(tf.raw_ops.DepthwiseConv2dNativeBackpropFilter(
                input=saved["channels"], filter_sizes=[5, 5, seeds, 6], out_backprop=upstream, strides=UNIT_STRIDES,
                padding="VALID"), tf.shape(conv1_kernel))
        else:
            conv1_kernel_gradient = tf.raw_ops.Conv2DBackpropFilter(
                input=saved["channels"], filter_sizes=tf.shape(conv1_kernel), out_backprop=upstream,
                strides=UNIT_STRIDES, padding="VALID")
        gradients = ([conv1_kernel_gradient, tf.raw_ops.BiasAddGrad(out_backprop=upstream)] + conv2_gradients
                     + gradients)
    return tf.reduce_mean(tf.reshape(losses, [seeds, batch]), axis=1), gradients


@functools.lru_cache(maxsize=None)
def grouped_convolutions_run():
    """Whether this process's TensorFlow runs a grouped convolution on the CPU (once per process).

    Only oneDNN's kernels do; with TF_ENABLE_ONEDNN_OPTS=0 TensorFlow 2.21
    refuses one ("Fused conv implementation does not support grouped
    convolutions for now"). The refusal comes from the convolution that a
    graph fuses with its bias and ReLU, as the stacked network's are, so the
    probe is such a graph: run eagerly, the same convolution works.
    """
    @tf.function
    def convolution(images, kernel, bias):
        return tf.nn.relu(tf.nn.bias_add(tf.nn.conv2d(images, kernel, 1, "VALID"), bias))

    try:
        convolution(tf.zeros([1, 3, 3, 2]), tf.zeros([2, 2, 1, 2]), tf.zeros([2])).numpy()
    except tf.errors.OpError:
        return False
    return True


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
