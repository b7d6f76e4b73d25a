"""Training with seeds stacked (--stack-seeds): the runs of several seeds of one network and optimizer at once.

Every seed of a cell follows the same plans, since a schedule's plan depends
on the schedule, not on the seed. So StackedTrainer holds S seeds as one
model with a leading seed dimension (networks.stack_weights) and takes one
step for all of them (networks.stacked_loss_and_gradients), paying each
kernel call's overhead once. Each seed keeps what makes its run its own:

- its initial weights, those Trainer builds for it (the Keras model built
  after keras.utils.set_random_seed(seed));
- its example order (training.epoch_order) and its subset of training images
  for full_train_loss (training.loss_subset);
- its optimizer state: the optimizer's slots are stacked like the weights and
  its fused update is element-wise, so each seed's slice is stepped by its
  own gradients. The scalars (learning rate, step count, momentum, scaled
  constants and their powers) are one for all seeds, as every seed's would
  be equal.

train_stacked_runs branches the schedules where their plans part, as
training.train_runs does for one seed, and gives every seed's run the
metrics an unstacked run records. A stacked seed computes its own run with
the kernels adding in another order, so its numbers are a rounding step from
the unstacked run's, not bit for bit. Only the networks of
study.STACKED_ARCHITECTURES stack, and only fixed schedules without the
noise measurement (grid.stacking_problem); grid.py sends the rest down
today's path. Importing this
module imports TensorFlow.
"""
import math
import time

import numpy as np

from batchgrow.training import networks
from batchgrow.training.networks import keras, tf
from batchgrow.training.training import (EVAL_BATCH_SIZE, epoch_order, epoch_record, float64_losses_from_logits,
                                         loss_subset, stage_end)
from batchgrow.optimizers import optimizer_record
from batchgrow.schedules import epoch_plans
from batchgrow.training.grid import stacking_problem
from batchgrow.study import STACKED_ARCHITECTURES, TRAJECTORY_METRICS


def initial_weights(arch, seed):
    """The float32 trainable weights Trainer starts seed's run from, as numpy arrays."""
    keras.utils.set_random_seed(seed)
    model = networks.build_model(arch)
    return [variable.numpy() for variable in model.trainable_variables]


class StackedTrainer:
    """S seeds of one network and optimizer as one stacked model, with a compiled epoch and evaluation.

    As Trainer: a whole epoch is one graph call for all seeds, the batch
    size a tensor. Scoring runs in batches of EVAL_BATCH_SIZE / S images per
    seed, so that a batch holds about as many images in all as Trainer's.
    """

    def __init__(self, arch, optimizer_name, seeds, settings, data):
        if arch not in STACKED_ARCHITECTURES:
            raise ValueError(f"{arch} does not stack its seeds; those that do: {', '.join(STACKED_ARCHITECTURES)}")
        self.arch, self.seeds = arch, tuple(seeds)
        self.count = len(self.seeds)
        stacked = networks.stack_weights(arch, [initial_weights(arch, seed) for seed in self.seeds])
        self.weights = [tf.Variable(value, trainable=False) for value in stacked]
        self.optimizer = optimizer_record(optimizer_name).build(tf, self.weights, settings)
        self.x_train, self.y_train = tf.convert_to_tensor(data["x_train"]), tf.convert_to_tensor(data["y_train"])
        self.x_test, self.y_test = tf.convert_to_tensor(data["x_test"]), tf.convert_to_tensor(data["y_test"])
        self.train_size = len(data["x_train"])
        # Each seed's own images for its model's training loss: [S, n].
        subsets = tf.constant(np.stack([loss_subset(seed, self.train_size, settings.train_loss_images)
                                        for seed in self.seeds]))
        self.x_loss, self.y_loss = tf.gather(self.x_train, subsets), tf.gather(self.y_train, subsets)
        self.eval_batch_size = math.ceil(EVAL_BATCH_SIZE / self.count)
        self.train_epoch = tf.function(self.train_epoch)
        self.score_batch = tf.function(self.score_batch)
        self.loss_sums_float64 = tf.function(self.loss_sums_float64)

    def train_epoch(self, orders, batch_size):
        """Trains one epoch, seed s in the order orders[s]; returns each seed's mean of its batch losses [S]."""
        steps = (self.train_size + batch_size - 1) // batch_size
        loss_sums = tf.zeros([self.count])
        for step in tf.range(steps):
            batch = orders[:, step * batch_size:tf.minimum((step + 1) * batch_size, self.train_size)]
            losses, gradients = networks.stacked_loss_and_gradients(
                self.arch, self.count, self.weights, tf.gather(self.x_train, batch), tf.gather(self.y_train, batch))
            self.optimizer.apply(gradients)
            loss_sums += losses
        return loss_sums / tf.cast(steps, tf.float32)

    def score_batch(self, images, labels):
        """Each seed's summed loss and count of correct answers [S] on one batch that every seed scores."""
        logits = networks.stacked_logits(self.arch, self.count, self.weights, images)
        # The unstacked model's path: a softmax, then Keras's cross-entropy of the probabilities.
        probabilities = tf.nn.softmax(tf.reshape(logits, [-1, 10]))
        every_label = tf.tile(labels, [self.count])
        losses = keras.ops.sparse_categorical_crossentropy(every_label, probabilities)
        correct = tf.equal(tf.argmax(probabilities, axis=1, output_type=tf.int32), every_label)
        return (tf.reduce_sum(tf.reshape(losses, [self.count, -1]), axis=1),
                tf.reduce_sum(tf.reshape(tf.cast(correct, tf.float32), [self.count, -1]), axis=1))

    def loss_sums_float64(self, images, labels):
        """Each seed's summed cross-entropy [S] on its own images [S, B], in float64 from the logits."""
        logits = networks.stacked_logits(self.arch, self.count, self.weights, images)
        losses = float64_losses_from_logits(tf.reshape(logits, [-1, 10]), tf.reshape(labels, [-1]))
        return tf.reduce_sum(tf.reshape(losses, [self.count, -1]), axis=1)

    def evaluate(self):
        """([accuracy], [mean loss]) of every seed on the whole test set, as Python floats."""
        loss_sums, correct = np.zeros(self.count), np.zeros(self.count)
        test_size = int(self.y_test.shape[0])
        for start in range(0, test_size, self.eval_batch_size):
            losses, rights = self.score_batch(self.x_test[start:start + self.eval_batch_size],
                                              self.y_test[start:start + self.eval_batch_size])
            loss_sums += losses.numpy().astype(np.float64)
            correct += rights.numpy().astype(np.float64)
        return [float(value) / test_size for value in correct], [float(value) / test_size for value in loss_sums]

    def full_train_loss(self):
        """Every seed's mean cross-entropy on its own fixed subset of training images, in float64 ([S] floats)."""
        loss_sums = np.zeros(self.count)
        size = int(self.y_loss.shape[1])
        for start in range(0, size, self.eval_batch_size):
            loss_sums += self.loss_sums_float64(self.x_loss[:, start:start + self.eval_batch_size],
                                                self.y_loss[:, start:start + self.eval_batch_size]).numpy()
        return [float(value) / size for value in loss_sums]

    def state_variables(self):
        """The stacked weights and the optimizer's variables: the state a branch copies."""
        return self.weights + self.optimizer.variables

    def state(self):
        return [variable.numpy() for variable in self.state_variables()]

    def restore(self, state):
        variables = self.state_variables()
        assert len(variables) == len(state), "the state to restore is not this trainer's"
        for variable, value in zip(variables, state):
            variable.assign(value)

    def move_weights_one_ulp(self):
        """Moves every seed's every weight up by one float32 step: the floor control's start, element-wise."""
        for weight in self.weights:
            weight.assign(tf.math.nextafter(weight, tf.fill(tf.shape(weight), tf.constant(np.inf, weight.dtype))))


def train_stacked_runs(arch, optimizer_name, seeds, schedules, settings, data, on_epoch=None, on_run=None):
    """Trains the given schedules of one (arch, optimizer) for every seed at once; returns {(schedule, seed): metrics}.

    Each seed's metrics are those training.train_runs records for it, per
    epoch: test_accuracy, test_loss, train_loss, learning_rate, batch_size,
    momentum, updates, seconds and full_train_loss (at each stage's end, None
    between), and the optimizer's recorded constants. seconds is each seed's
    share of the stacked epochs' wall time (the time over S), so that a
    run's seconds is its part of the work. Epochs that several schedules
    plan identically are trained once and the runs branch from a copy of the
    state, as in train_runs.

    on_epoch(plan) is called after every trained epoch (of all S seeds),
    on_run(schedule, seed, metrics) as soon as a run is complete. ValueError
    for runs that cannot stack (stacking_problem).
    """
    problem = stacking_problem(schedules, settings)
    if problem:
        raise ValueError(f"these runs cannot train stacked: {problem}")
    trainer = StackedTrainer(arch, optimizer_name, seeds, settings, data)
    plans = {schedule: epoch_plans(schedule, optimizer_name, settings) for schedule in schedules}
    results = {}

    def train_epoch(epoch, plan, histories):
        start = time.perf_counter()
        if epoch == 0 and plan.moved_weights:
            trainer.move_weights_one_ulp()
        trainer.optimizer.start_epoch(plan)
        orders = tf.constant(np.stack([epoch_order(seed, epoch, trainer.train_size) for seed in trainer.seeds]))
        train_losses = [float(loss) for loss in trainer.train_epoch(orders, tf.constant(plan.batch_size)).numpy()]
        accuracies, test_losses = trainer.evaluate()
        if on_epoch:
            on_epoch(plan)
        share = (time.perf_counter() - start) / trainer.count
        records = [epoch_record(plan, history, optimizer_name, trainer.train_size, accuracy, test_loss, train_loss,
                                share)
                   for history, accuracy, test_loss, train_loss in zip(histories, accuracies, test_losses,
                                                                       train_losses)]
        # After the clock has stopped: each seed's model's own training loss at the end of every stage.
        losses = trainer.full_train_loss() if stage_end(epoch, settings) else [None] * trainer.count
        for record, loss in zip(records, losses):
            record[TRAJECTORY_METRICS[0]] = loss
        return records

    def branch(epoch, members, histories):
        # members share the histories of epochs [0, epoch); group them by what they do next, and train each
        # group's next epoch from the same state.
        if epoch == settings.epochs:
            for schedule in members:
                for seed, history in zip(trainer.seeds, histories):
                    results[schedule, seed] = {key: [record[key] for record in history] for key in history[0]}
                    if on_run:
                        on_run(schedule, seed, results[schedule, seed])
            return
        groups = {}
        for schedule in members:
            groups.setdefault(plans[schedule][epoch], []).append(schedule)
        saved = trainer.state() if len(groups) > 1 else None
        for index, (plan, group) in enumerate(groups.items()):
            if index > 0:
                trainer.restore(saved)
            records = train_epoch(epoch, plan, histories)
            branch(epoch + 1, group, [history + [record] for history, record in zip(histories, records)])

    branch(0, list(schedules), [[] for _ in trainer.seeds])
    return results
