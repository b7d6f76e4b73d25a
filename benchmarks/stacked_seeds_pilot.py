"""Issue 42's pilot: S seeds trained as one stacked model against S separate steps.

For LeNet-5 and the 300-unit MLP, at batch sizes 4, 20, 100 and 500 and for
S = 1, 5 and 20 seeds, this times on one thread (the workers' setting,
runtime.configure_worker) two ways of taking one plain-SGD step for every
seed:

- separate: the project's own step, one seed at a time. Each seed's
  weights are its own variables; networks.loss_and_gradients (the written-out
  backward pass) gives the gradients and ResourceApplyGradientDescent (the
  SGD optimizer's fused op) applies them, inside a compiled loop that gathers
  each batch from the seed's example order, as Trainer.train_epoch does;
- stacked: every weight with a leading seed dimension, in one compiled loop.
  Dense layers are batched matmuls ([S, B, in] x [S, in, out]); the
  convolutions are grouped convolutions with S groups, which TensorFlow runs
  on a CPU only through its oneDNN kernels (with TF_ENABLE_ONEDNN_OPTS=0 it
  refuses them, and this script stops). The images of the S seeds are the
  S channels of the first one (tf.nn.depthwise_conv2d with channel
  multiplier 6, or with --conv1 grouped tf.nn.conv2d with a filter of input
  depth 1), and the second is tf.nn.conv2d with a filter of input depth 6 on
  6 * S channels. The
  backward pass, networks.stacked_loss_and_gradients (the one --stack-seeds
  trains with, laid out by networks.stack_weights), is written out the way
  networks.loss_and_gradients writes it, except the first convolution's
  kernel gradient, taken by its kernel-gradient op (the unstacked step's
  trick, a forward convolution, was slower stacked); the update is the same fused op on each stacked variable,
  element-wise and so each seed's own, and the step count is added to once.

Every seed starts from the weights Trainer would give it (the Keras model
built after keras.utils.set_random_seed(seed)) and reads its own example
order of the study's 20,000 MNIST training images. Per configuration: first
a check that both ways compute the same thing (the largest absolute
difference, per seed, between the stacked and the separate weights after
CHECK_STEPS steps from the same start), then warm-up, then repeats that
alternate the two ways (which goes first alternates too), so that load
beside the benchmark falls on both alike. Each repeat times the same number
of steps of every seed (as many as make the separate side take about
TARGET_SECONDS). The printed times are medians, in microseconds per step of
all S seeds, of the wall clock and of the process's CPU seconds, with the
interquartile range of the wall times over their median and the 1-minute
load average after the configuration; the speed-up per seed is separate /
stacked.

usage: python benchmarks/stacked_seeds_pilot.py [--repeats N] [--archs lenet5,mlp300]
           [--batch-sizes 4,20,100,500] [--seeds 1,5,20] [--conv1 depthwise|grouped]
           [--conv1-kernel-gradient filter|forward]
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from batchgrow import provenance  # noqa: E402  (the project root goes on the path first)
from batchgrow import study  # noqa: E402
from batchgrow.training import mnist  # noqa: E402
from batchgrow.training import networks  # noqa: E402
from batchgrow.training import runtime  # noqa: E402
from batchgrow.training import training  # noqa: E402

tf, keras = networks.tf, networks.keras

CHECK_STEPS = 5
# The first convolution of the stacked LeNet-5 (--conv1): tf.nn.conv2d with S groups of one input channel, or
# the same grouped convolution as tf.nn.depthwise_conv2d (channel multiplier 6); its kernel gradient
# (--conv1-kernel-gradient) by Conv2DBackpropFilter (or its depthwise op), or, "forward", as a grouped forward
# convolution (the trick of networks.loss_and_gradients).
CONV1 = "depthwise"
CONV1_KERNEL_GRADIENT = "filter"
# Each repeat of the separate side runs for about this long; the stacked side runs the same steps.
TARGET_SECONDS = 0.25


def initial_weights(arch, seed):
    """The float32 trainable weights Trainer starts seed's run from."""
    keras.utils.set_random_seed(seed)
    model = networks.build_model(arch)
    return [variable.numpy() for variable in model.trainable_variables]


# ----------------------------------------------------------------------------
# Separate: the project's step, one seed at a time
# ----------------------------------------------------------------------------
def make_separate_loop(arch, x_train, y_train, learning_rate):
    """A compiled loop of `steps` SGD steps of one seed, as Trainer.train_epoch runs them."""
    written_out = networks.network(arch).loss_and_gradients

    @tf.function
    def loop(weights, iterations, order, batch_size, steps):
        loss_sum = tf.constant(0.0)
        for step in tf.range(steps):
            batch = order[step * batch_size:(step + 1) * batch_size]
            loss, gradients = written_out([w.value() for w in weights], tf.gather(x_train, batch),
                                          tf.gather(y_train, batch))
            for variable, gradient in zip(weights, gradients):
                tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=learning_rate, delta=gradient)
            iterations.assign_add(1)
            loss_sum += loss
        return loss_sum

    return loop


# ----------------------------------------------------------------------------
# Stacked: one model with a leading seed dimension
# ----------------------------------------------------------------------------
def make_stacked_loop(arch, seeds, x_train, y_train, learning_rate):
    """A compiled loop of `steps` SGD steps of all seeds at once; orders is [S, N]."""
    @tf.function
    def loop(weights, iterations, orders, batch_size, steps):
        loss_sum = tf.zeros([seeds])
        for step in tf.range(steps):
            batch = orders[:, step * batch_size:(step + 1) * batch_size]
            losses, gradients = networks.stacked_loss_and_gradients(
                arch, seeds, [w.value() for w in weights], tf.gather(x_train, batch), tf.gather(y_train, batch),
                CONV1, CONV1_KERNEL_GRADIENT)
            for variable, gradient in zip(weights, gradients):
                tf.raw_ops.ResourceApplyGradientDescent(var=variable.handle, alpha=learning_rate, delta=gradient)
            iterations.assign_add(1)
            loss_sum += losses
        return loss_sum

    return loop


# ----------------------------------------------------------------------------
# The measurement
# ----------------------------------------------------------------------------
def uptime():
    return subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()


class Configuration:
    """One (network, batch size, S): both sides' variables, started from the same per-seed weights."""

    def __init__(self, arch, batch_size, seeds, start, orders, loops):
        self.arch, self.batch_size, self.seeds = arch, batch_size, seeds
        self.start = start[:seeds]
        self.orders = [tf.constant(order) for order in orders[:seeds]]
        self.stacked_orders = tf.constant(np.stack(orders[:seeds]))
        self.separate_loop, self.stacked_loop = loops
        self.separate = [[tf.Variable(value) for value in weights] for weights in self.start]
        self.stacked = [tf.Variable(value) for value in networks.stack_weights(arch, self.start)]
        # The optimizer's step count, which FusedOptimizer.apply adds to after every update: one per seed
        # when the seeds are separate, one for all of them when stacked.
        self.separate_iterations = [tf.Variable(0, dtype=tf.int64) for _ in range(seeds)]
        self.stacked_iterations = tf.Variable(0, dtype=tf.int64)

    def reset(self):
        for variables, weights in zip(self.separate, self.start):
            for variable, value in zip(variables, weights):
                variable.assign(value)
        for variable, value in zip(self.stacked, networks.stack_weights(self.arch, self.start)):
            variable.assign(value)

    def run_separate(self, steps):
        losses = [self.separate_loop(variables, iterations, order, tf.constant(self.batch_size), tf.constant(steps))
                  for variables, iterations, order in zip(self.separate, self.separate_iterations, self.orders)]
        return [float(loss) for loss in losses]

    def run_stacked(self, steps):
        return self.stacked_loop(self.stacked, self.stacked_iterations, self.stacked_orders,
                                 tf.constant(self.batch_size), tf.constant(steps)).numpy()

    def check(self):
        """([per seed, the largest |stacked - separate| of any weight after CHECK_STEPS steps],
        the largest |stacked - separate| of a seed's loss sum, the largest distance any weight moved)."""
        self.reset()
        separate_losses = self.run_separate(CHECK_STEPS)
        stacked_losses = self.run_stacked(CHECK_STEPS)
        stacked = networks.unstack_weights(self.arch, [variable.numpy() for variable in self.stacked], self.seeds)
        weight_differences, largest_change = [], 0.0
        for seed in range(self.seeds):
            separate = [variable.numpy() for variable in self.separate[seed]]
            weight_differences.append(max(float(np.max(np.abs(a - b))) for a, b in zip(separate, stacked[seed])))
            largest_change = max(largest_change, max(float(np.max(np.abs(a - b)))
                                                     for a, b in zip(separate, self.start[seed])))
        loss_difference = float(np.max(np.abs(np.array(separate_losses) - stacked_losses)))
        return weight_differences, loss_difference, largest_change


def measure(configuration, repeats):
    """Per step, each a list over the repeats: {(side, "wall" or "cpu"): seconds}, and the steps of a repeat.

    The CPU seconds are the process's (time.process_time): load beside the
    benchmark moves them less than the wall time.
    """
    # Warm-up (the traces are made in check()), and a step count that makes a repeat about TARGET_SECONDS.
    limit = 20_000 // configuration.batch_size  # Steps within the seeds' orders.
    configuration.run_stacked(1)
    steps = 2
    while True:
        start = time.perf_counter()
        configuration.run_separate(steps)
        seconds = time.perf_counter() - start
        if seconds >= TARGET_SECONDS / 4 or steps >= limit:
            break
        steps = min(4 * steps, limit)
    steps = int(max(2, min(limit, round(TARGET_SECONDS / (seconds / steps)))))
    times = {(side, clock): [] for side in ("separate", "stacked") for clock in ("wall", "cpu")}
    for repeat in range(repeats):
        sides = [("separate", configuration.run_separate), ("stacked", configuration.run_stacked)]
        if repeat % 2:
            sides.reverse()
        for side, run in sides:
            start, cpu_start = time.perf_counter(), time.process_time()
            run(steps)
            times[side, "wall"].append((time.perf_counter() - start) / steps)
            times[side, "cpu"].append((time.process_time() - cpu_start) / steps)
    return times, steps


def main():
    global CONV1, CONV1_KERNEL_GRADIENT
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--archs", default="lenet5,mlp300")
    parser.add_argument("--batch-sizes", default="4,20,100,500")
    parser.add_argument("--seeds", default="1,5,20")
    parser.add_argument("--conv1", choices=("depthwise", "grouped"), default="depthwise",
                        help="how the stacked LeNet-5 writes its first convolution (default %(default)s)")
    parser.add_argument("--conv1-kernel-gradient", choices=("filter", "forward"), default="filter",
                        help="the stacked first convolution's kernel gradient: its kernel-gradient op, or as a "
                             "forward convolution, as the unstacked step takes it (default %(default)s)")
    args = parser.parse_args()
    CONV1, CONV1_KERNEL_GRADIENT = args.conv1, args.conv1_kernel_gradient
    archs = args.archs.split(",")
    batch_sizes = [int(value) for value in args.batch_sizes.split(",")]
    seed_counts = [int(value) for value in args.seeds.split(",")]

    runtime.configure_worker()  # One thread, deterministic ops: what a worker trains with.
    settings = study.Settings()
    data = mnist.prepare_data(mnist.load_mnist(), settings.train_size, settings.test_size)
    x_train, y_train = tf.convert_to_tensor(data["x_train"]), tf.convert_to_tensor(data["y_train"])
    learning_rate = tf.constant(settings.sgd_learning_rate)
    most = max(seed_counts)
    orders = [training.epoch_order(seed, 0, settings.train_size) for seed in range(most)]

    print(f"machine: {provenance.machine_description()}")
    print(f"versions: {provenance.library_versions()}")
    print(f"command: python benchmarks/stacked_seeds_pilot.py {' '.join(sys.argv[1:])}".rstrip())
    print(f"load before: {uptime()}")
    print(f"plain SGD at learning rate {settings.sgd_learning_rate}, one thread, {settings.train_size:,} MNIST "
          f"images; median of {args.repeats} alternating repeats; µs per step of all S seeds; "
          f"stacked LeNet-5's first convolution: {CONV1}, its kernel gradient: {CONV1_KERNEL_GRADIENT}")
    print()
    print("check: largest |stacked - separate| of any weight after "
          f"{CHECK_STEPS} steps from the same start, per seed (largest over the seeds; the weights moved by up to "
          "the last column)")
    header = (f"{'network':8} {'batch':>5} {'S':>3} {'steps':>5} {'separate µs':>12} {'stacked µs':>11} "
              f"{'per seed':>8} {'IQR sep':>8} {'IQR stk':>8} {'CPU sep µs':>11} {'CPU stk µs':>11} "
              f"{'CPU/seed':>8} {'load':>5} {'max |dw|':>9} {'|dloss|':>9} {'moved':>8}")
    results = []
    for arch in archs:
        start = [initial_weights(arch, seed) for seed in range(most)]
        separate_loop = make_separate_loop(arch, x_train, y_train, learning_rate)
        stacked_loops = {seeds: make_stacked_loop(arch, seeds, x_train, y_train, learning_rate)
                         for seeds in seed_counts}
        print(header)
        for batch_size in batch_sizes:
            for seeds in seed_counts:
                configuration = Configuration(arch, batch_size, seeds, start, orders,
                                              (separate_loop, stacked_loops[seeds]))
                weight_differences, loss_difference, moved = configuration.check()
                times, steps = measure(configuration, args.repeats)
                median = {key: statistics.median(values) * 1e6 for key, values in times.items()}

                def spread(values):
                    # The interquartile range over the median.
                    quartiles = statistics.quantiles(values, n=4)
                    return (quartiles[2] - quartiles[0]) / statistics.median(values)

                ratio = median["separate", "wall"] / median["stacked", "wall"]
                cpu_ratio = median["separate", "cpu"] / median["stacked", "cpu"]
                load = os.getloadavg()[0]
                results.append((arch, batch_size, seeds, ratio, cpu_ratio, load))
                print(f"{arch:8} {batch_size:5d} {seeds:3d} {steps:5d} {median['separate', 'wall']:12,.0f} "
                      f"{median['stacked', 'wall']:11,.0f} {ratio:7.2f}x {spread(times['separate', 'wall']):8.1%} "
                      f"{spread(times['stacked', 'wall']):8.1%} {median['separate', 'cpu']:11,.0f} "
                      f"{median['stacked', 'cpu']:11,.0f} {cpu_ratio:7.2f}x {load:5.2f} "
                      f"{max(weight_differences):9.2e} {loss_difference:9.2e} {moved:8.2e}", flush=True)
                print(f"         per-seed max |dw|: {' '.join(f'{value:.1e}' for value in weight_differences)}",
                      flush=True)
        print()
    print(f"load after: {uptime()}")
    print()
    print("decision (issue 42): stacking must give at least 1.5x per seed on LeNet-5 at batch 4")
    for arch, batch_size, seeds, ratio, cpu_ratio, load in results:
        if arch == "lenet5" and batch_size == 4 and seeds > 1:
            side = "at or above" if ratio >= 1.5 else "below"
            print(f"   S = {seeds:2d}: {ratio:.2f}x per seed in wall time, {side} 1.5x "
                  f"({cpu_ratio:.2f}x in CPU seconds; 1-minute load {load:.2f})")


if __name__ == "__main__":
    main()
