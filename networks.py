"""The networks: any Keras model, trained through a GradientTape or a written-out backward pass.

A network is a function with no arguments that returns an uncompiled Keras
model taking a batch of 28x28 images and ending in a 10-way softmax. NETWORKS
registers the three built-in ones, each with its backward pass written out
(loss_and_gradients), a speed-up that the tests check against the tape. A
network without one trains through tape_loss_and_gradients. A new built-in
network is an entry here and a display name in study.ARCHITECTURE_NAMES; its
cost-model entry (grid.STEP_SECONDS, grid.EXAMPLE_SECONDS) only orders the
work.
"""
import functools
import typing

from runtime import load_tensorflow
from study import ARCHITECTURES

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


# The built-in networks, each with its written-out backward pass; other
# networks join them (register) in every process that trains.
NETWORKS = {arch: Network(functools.partial(build_builtin_model, arch), functools.partial(loss_and_gradients, arch))
            for arch in ARCHITECTURES}


def register(name, build, written_out=None):
    NETWORKS[name] = Network(build, written_out)


def network(arch):
    """A registered network."""
    if arch not in NETWORKS:
        raise ValueError(f"unknown architecture {arch!r}; choose from {', '.join(NETWORKS)}")
    return NETWORKS[arch]


def build_model(arch):
    """The Keras model of a registered network."""
    return network(arch).build()


def tape_loss_and_gradients(model, weights, images, labels):
    """The mean cross-entropy of one batch and its gradients by weights, through a GradientTape.

    The model runs in training mode, so BatchNormalization normalizes by the
    batch and updates its moving statistics, and Dropout draws from its seed
    state. Losses the model adds itself (weight regularizers) join the loss,
    as in Keras's fit.
    """
    with tf.GradientTape() as tape:
        probabilities = model(images, training=True)
        loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, probabilities))
        if model.losses:
            loss += tf.add_n(model.losses)
    return loss, tape.gradient(loss, weights)
