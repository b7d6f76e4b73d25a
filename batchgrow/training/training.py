"""Training: one run, and the runs of one seed that share their first epochs.

Trainer holds a model, its optimizer (the state its record builds and
steps: optimizers.OptimizerState) and the data with a compiled epoch, taking
gradients from the network's written-out backward pass or from a
GradientTape (networks.py); train_runs trains every
schedule of one (network, optimizer, seed) from the same initial weights and
example order, branching where their plans part. A branch copies the whole
state: every variable of the model (BatchNormalization's moving statistics
and Dropout's seed state too) and of the optimizer. With
Settings.measure_noise, the gradient noise scale is measured after every
epoch by a compiled function of its own (squared_gradient_norms, read by
gradient_noise.py's estimator) that reads the weights and the optimizer's
preconditioner and assigns nothing, outside the epoch's timed seconds. Importing
this module imports TensorFlow.
"""
import time

import numpy as np

from batchgrow import gradient_noise
from batchgrow.training import networks
from batchgrow.training.networks import keras, tf
from batchgrow.optimizers import optimizer_record
from batchgrow.schedules import (ADAPTIVE_SCHEDULES, b_simple_chosen_from, epoch_plans, estimated_epoch_plans,
                                 updates_per_epoch)
from batchgrow.study import ADAPTIVE_METRICS, NOISE_METRICS, PRECONDITIONED_NOISE_METRICS, TRAJECTORY_METRICS

# The test set is scored in a few large batches: one graph call per batch, and
# batch size has no effect on the scores.
EVAL_BATCH_SIZE = 2_500
# Mixed into the seed of the loss subset's draw, so that it is not the noise measurement's population.
LOSS_SUBSET_TAG = 0x4C4F5353  # "LOSS"


# ----------------------------------------------------------------------------
# The model's training loss, measured below float32's floor
# ----------------------------------------------------------------------------
def float64_cross_entropy(probabilities, labels):
    """The summed cross-entropy of a batch, computed in float64 from the logits behind a softmax.

    In float32 a log-softmax cannot tell an image's loss below about one step
    of 1.0 (ln(1 + 2**-23) = 1.2e-7) from 0, so a well-trained model's mean
    loss floors there. Inside a graph, the softmax op's input is the model's
    logits (the path Keras's own loss takes); cast to float64, their
    log-softmax resolves losses down to about 1e-300. A model whose output is
    not a softmax op (a user's network may end otherwise) is scored from its
    probabilities instead, in float64 too, which floors as float32 does.
    """
    labels = tf.cast(labels, tf.int32)
    if getattr(probabilities, "op", None) is not None and probabilities.op.type == "Softmax":
        losses = float64_losses_from_logits(probabilities.op.inputs[0], labels)
    else:
        picked = tf.gather(tf.cast(probabilities, tf.float64), labels, axis=1, batch_dims=1)
        losses = -tf.math.log(picked)
    return tf.reduce_sum(losses)


def float64_losses_from_logits(logits, labels):
    """Each image's cross-entropy [B] from its logits [B, classes] and int32 labels, in float64."""
    logits = tf.cast(logits, tf.float64)
    # -log softmax at the label is ln(1 + sum over the other classes of exp(gap)), gap = their logit
    # less the label's. Written with log1p about the largest gap (top, at least 0): a log of a sum
    # that holds the label's own 1.0 would floor again, at float64's step (2.2e-16).
    gaps = logits - tf.gather(logits, labels, axis=1, batch_dims=1)[:, None]
    others = tf.where(tf.one_hot(labels, tf.shape(logits)[1], on_value=True, off_value=False),
                      tf.constant(-np.inf, tf.float64), gaps)
    top = tf.maximum(tf.reduce_max(others, axis=1), 0.0)
    return top + tf.math.log1p(tf.math.expm1(-top) + tf.reduce_sum(tf.exp(others - top[:, None]), axis=1))


def summed_in_batches(function, images, labels):
    """The sums over the images of function(images, labels)'s outputs, called on batches of EVAL_BATCH_SIZE.

    One graph call per batch; each output is added up in Python floats (double precision).
    """
    totals = None
    for start in range(0, len(labels), EVAL_BATCH_SIZE):
        outputs = [float(output) for output in function(images[start:start + EVAL_BATCH_SIZE],
                                                        labels[start:start + EVAL_BATCH_SIZE])]
        totals = outputs if totals is None else [total + output for total, output in zip(totals, outputs)]
    return totals


# ----------------------------------------------------------------------------
# One training run (and its siblings, which share their first epochs)
# ----------------------------------------------------------------------------
def loss_subset(seed, train_size, size):
    """The sorted indices of the training images whose loss is recorded: size of them (all, if fewer), per seed."""
    if size >= train_size:
        return np.arange(train_size, dtype=np.int32)
    return np.sort(np.random.default_rng([seed, LOSS_SUBSET_TAG]).choice(train_size, size, replace=False)
                   ).astype(np.int32)


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
        keras.utils.set_random_seed(seed)
        self.arch = arch
        network = networks.network(arch)
        self.model = network.build()
        if not self.model.built:  # A model without an Input makes its weights on its first call.
            self.model(tf.zeros((1, 28, 28)), training=False)
        self.weights = [v.value for v in self.model.trainable_variables]
        # Every variable of the model, trainable or not, is state that a branch copies.
        self.model_variables = [v.value for v in self.model.variables]
        if network.loss_and_gradients is not None and settings.backward == "written":
            written_out = network.loss_and_gradients
            self.loss_and_gradients = lambda images, labels: written_out(self.weights, images, labels)
            # A written-out network (a built-in one) has no layer that behaves otherwise in training.
            self.measured_gradients = self.loss_and_gradients
        else:
            self.loss_and_gradients = lambda images, labels: networks.tape_loss_and_gradients(
                self.model, self.weights, images, labels)
            # The measurement assigns nothing: no moving statistics, no dropout seed drawn.
            self.measured_gradients = lambda images, labels: networks.tape_loss_and_gradients(
                self.model, self.weights, images, labels, training=False)
        self.optimizer = optimizer_record(optimizer_name).build(tf, self.weights, settings)
        # A worker holds its data as tensors once; converting a tensor is free.
        self.x_train, self.y_train = tf.convert_to_tensor(data["x_train"]), tf.convert_to_tensor(data["y_train"])
        self.x_test, self.y_test = tf.convert_to_tensor(data["x_test"]), tf.convert_to_tensor(data["y_test"])
        self.train_size, self.test_size = len(data["x_train"]), len(data["x_test"])
        # The images the model's own training loss is measured on: the same for every schedule of the seed.
        subset = tf.constant(loss_subset(seed, self.train_size, settings.train_loss_images))
        self.x_loss, self.y_loss = tf.gather(self.x_train, subset), tf.gather(self.y_train, subset)
        # Compiled per trainer: a graph each for the epoch and for scoring.
        self.train_epoch = tf.function(self.train_epoch)
        self.score_batch = tf.function(self.score_batch)
        self.loss_sum_float64 = tf.function(self.loss_sum_float64)
        # Autograph only for a model of the tape path, whose own code may need it.
        self.squared_gradient_norms = tf.function(self.squared_gradient_norms,
                                                  autograph=self.measured_gradients is not self.loss_and_gradients)

    def train_epoch(self, order, batch_size):
        """Trains one epoch in the given order; returns the mean of the batch losses."""
        steps = (self.train_size + batch_size - 1) // batch_size
        loss_sum = tf.constant(0.0)
        for step in tf.range(steps):
            batch = order[step * batch_size:tf.minimum((step + 1) * batch_size, self.train_size)]
            loss, gradients = self.loss_and_gradients(tf.gather(self.x_train, batch), tf.gather(self.y_train, batch))
            self.optimizer.apply(gradients)
            loss_sum += loss
        return loss_sum / tf.cast(steps, tf.float32)

    def score_batch(self, images, labels):
        probabilities = self.model(images, training=False)
        losses = keras.ops.sparse_categorical_crossentropy(labels, probabilities)
        correct = tf.equal(tf.argmax(probabilities, axis=1, output_type=tf.int32), labels)
        return tf.reduce_sum(losses), tf.reduce_sum(tf.cast(correct, tf.float32))

    def loss_sum_float64(self, images, labels):
        """The summed cross-entropy of the images, in float64 from the model's logits."""
        return float64_cross_entropy(self.model(images, training=False), labels)

    def squared_gradient_norms(self, batches, small_batch):
        """The noise-scale estimator's squared norms (squared_gradient_norms) at the current weights.

        Under an optimizer that preconditions its gradients (Adam, RMSprop)
        also the norms under its preconditioner, as its fused op applies it.
        Reads the weights and the optimizer's state; assigns nothing.
        """
        return squared_gradient_norms(self.measured_gradients, self.weights, self.x_train, self.y_train, batches,
                                      small_batch, self.optimizer.preconditioner())

    def evaluate(self):
        """(accuracy, mean loss) on the whole test set."""
        return self.score(self.x_test, self.y_test)

    def full_train_loss(self):
        """The mean cross-entropy of the model on the seed's fixed subset of training images, in inference mode.

        Computed in float64 from the logits (float64_cross_entropy), so that a
        loss far below float32's resolution near zero is measured, not floored.
        """
        (loss_sum,) = summed_in_batches(lambda *batch: (self.loss_sum_float64(*batch),), self.x_loss, self.y_loss)
        return loss_sum / len(self.y_loss)

    def score(self, images, labels):
        """(accuracy, mean loss) on the images, in batches of EVAL_BATCH_SIZE."""
        loss_sum, correct = summed_in_batches(self.score_batch, images, labels)
        return correct / len(labels), loss_sum / len(labels)

    def state_variables(self):
        """The model's variables, the optimizer's, and the seed state of Keras's unseeded random ops, if used."""
        return self.model_variables + self.optimizer.variables + keras_global_seed_state()

    def state(self):
        return [v.numpy() for v in self.state_variables()]

    def move_weights_one_ulp(self):
        """Moves every trainable weight up by one float32 step (towards +inf): the floor control's start."""
        for weight in self.weights:
            weight.assign(tf.math.nextafter(weight, tf.fill(tf.shape(weight), tf.constant(np.inf, weight.dtype))))

    def restore(self, state):
        variables = self.state_variables()
        assert len(variables) == len(state), "the state to restore is not this trainer's"
        for variable, value in zip(variables, state):
            variable.assign(value)


def squared_gradient_norms(gradients_of, weights, images, labels, batches, small_batch, preconditioner=None):
    """Squared norms of mean gradients at two batch sizes, for gradient_noise.py's estimator.

    batches is [draws, big] int32 indices into images and labels: each row
    one big batch, its consecutive chunks of small_batch examples (big a
    multiple of it) the small batches. gradients_of(images, labels) gives a
    batch's (mean loss, mean gradients by weights). Returns [draws] float32
    tensors: each draw's mean over its small batches of |g_small|², and
    |g_big|², where g_big is the mean of its small batches' gradients; with a
    preconditioner (one tensor per weight) also the same two of gᵀ P g.
    Written with tf.while_loop, so that a graph of it needs no autograph,
    whose conversion cost 0.1 to 0.4 s a process.
    """
    def square_norm(gradients, weighting=None):
        # Stacked, not tf.add_n: Grappler rewrites an add_n inside a loop into an accumulator
        # whose temporary variable can clash between iterations (AlreadyExistsError).
        squares = [tf.square(gradient) for gradient in gradients]
        if weighting is not None:
            squares = [scale * square for scale, square in zip(weighting, squares)]
        return tf.reduce_sum(tf.stack([tf.reduce_sum(square) for square in squares]))

    chunks = tf.shape(batches)[1] // small_batch
    count = tf.cast(chunks, tf.float32)

    def add_draw(draw, outputs):
        def add_chunk(chunk, small_sum, small_sum_preconditioned, total):
            batch = batches[draw, chunk * small_batch:(chunk + 1) * small_batch]
            _, gradients = gradients_of(tf.gather(images, batch), tf.gather(labels, batch))
            gradients = [tf.convert_to_tensor(gradient) for gradient in gradients]
            if preconditioner is not None:
                small_sum_preconditioned += square_norm(gradients, preconditioner)
            return (chunk + 1, small_sum + square_norm(gradients), small_sum_preconditioned,
                    [running + gradient for running, gradient in zip(total, gradients)])

        _, small_sum, small_sum_preconditioned, total = tf.while_loop(
            lambda chunk, *_: chunk < chunks, add_chunk,
            (tf.constant(0), tf.constant(0.0), tf.constant(0.0), [tf.zeros_like(weight) for weight in weights]))
        big = [running / count for running in total]
        values = [small_sum / count, square_norm(big)]
        if preconditioner is not None:
            values += [small_sum_preconditioned / count, square_norm(big, preconditioner)]
        return draw + 1, [output.write(draw, value) for output, value in zip(outputs, values)]

    draws = tf.shape(batches)[0]
    outputs = [tf.TensorArray(tf.float32, size=draws) for _ in range(2 if preconditioner is None else 4)]
    _, outputs = tf.while_loop(lambda draw, _: draw < draws, add_draw, (tf.constant(0), outputs))
    return tuple(output.stack() for output in outputs)


def keras_global_seed_state():
    """[the state variable] of the seed generator behind Keras's unseeded random ops, once one exists, else [].

    Layers such as Dropout keep their own seed state among the model's
    variables; a random op called without a seed draws from this global one,
    which keras.utils.set_random_seed resets.
    """
    from keras.src.backend.common import global_state
    from keras.src.random import seed_generator
    generator = global_state.get_global_attribute(seed_generator.GLOBAL_SEED_GENERATOR)
    return [generator.state.value] if generator is not None else []


def epoch_record(plan, history, optimizer_name, train_size, test_accuracy, test_loss, train_loss, seconds):
    """One epoch's record of RUN_METRICS (and the optimizer's recorded constants), after the run's history.

    updates and seconds are cumulative: this epoch's are added to the last
    record of history. full_train_loss and the noise metrics, measured
    after the clock stops, are the caller's to add.
    """
    previous = history[-1] if history else {"updates": 0, "seconds": 0.0}
    return {
        "test_accuracy": test_accuracy,
        "test_loss": test_loss,
        "train_loss": train_loss,
        "learning_rate": plan.learning_rate,
        "batch_size": plan.batch_size,
        "momentum": plan.momentum,
        "updates": previous["updates"] + updates_per_epoch(train_size, plan.batch_size),
        # Under --beta-scaling samples, each scaled constant but the momentum (recorded above).
        **optimizer_record(optimizer_name).recorded_constants(plan.scaled),
        "seconds": previous["seconds"] + seconds,
    }


def stage_end(epoch, settings):
    """Whether epoch (from 0) is the last of its stage, where full_train_loss is measured."""
    return (epoch + 1) % settings.epochs_per_stage == 0


def train_runs(arch, optimizer_name, seed, schedules, settings, data, on_epoch=None, on_run=None, on_replan=None):
    """Trains the given schedules of one (arch, optimizer, seed); returns {schedule: metrics}.

    All schedules start from the same initial weights and see the same order
    of examples. Epochs that several schedules plan identically (the whole
    first stage, in the study's design) are trained once and the runs branch
    from a copy of the state: with deterministic ops the result is bit for bit
    that of separate runs, and about a fifth of the work is saved.

    An adaptive schedule (ibs_auto) decides each stage's plan when the stage
    begins, from the run's own measurements (study.adaptive_epoch_plan), and
    branches from the others there; its metrics add ADAPTIVE_METRICS.

    on_epoch(plan) is called after every trained epoch, on_run(schedule,
    metrics) as soon as a run is complete, and on_replan(before, after) when
    an adaptive schedule's estimate of its epochs still to train
    (study.estimated_epoch_plans) changes from the lists of plans before to
    after. Metrics map each of test_accuracy,
    test_loss, train_loss, learning_rate, batch_size, momentum, updates
    (cumulative), seconds (cumulative wall time, shared epochs counted in full) and full_train_loss
    (the model's loss on the seed's fixed subset of training images at the end of each stage, None at
    the other epochs, measured after the clock stops) to per-epoch lists; with settings.measure_noise also each of NOISE_METRICS (and for an
    optimizer that preconditions, PRECONDITIONED_NOISE_METRICS), measured after the epoch and left out
    of its seconds.
    """
    if set(schedules) & set(ADAPTIVE_SCHEDULES) and not settings.measure_noise:
        raise ValueError("an adaptive schedule decides its batches from the measured noise scale: "
                         "it needs Settings.measure_noise")
    trainer = Trainer(arch, optimizer_name, seed, settings, data)
    fixed_plans = {schedule: epoch_plans(schedule, optimizer_name, settings) for schedule in schedules
                   if schedule not in ADAPTIVE_SCHEDULES}
    # What the cost model assumed of each adaptive schedule's epochs, corrected as the run decides them.
    estimates = {schedule: estimated_epoch_plans(schedule, optimizer_name, settings) for schedule in schedules
                 if schedule in ADAPTIVE_SCHEDULES}
    results = {}

    def plan_of(schedule, history):
        if schedule not in ADAPTIVE_SCHEDULES:
            return fixed_plans[schedule][len(history)]
        estimate = estimated_epoch_plans(schedule, optimizer_name, settings, history)
        if estimate != estimates[schedule]:
            if on_replan:
                on_replan(estimates[schedule][len(history):], estimate[len(history):])
            estimates[schedule] = estimate
        return estimate[len(history)]

    sizes = gradient_noise.measurement_sizes(settings) if settings.measure_noise else None
    examples = gradient_noise.population(seed, settings.train_size, sizes.population) if sizes else None

    def noise_metrics(epoch):
        names = NOISE_METRICS + (PRECONDITIONED_NOISE_METRICS if optimizer_record(optimizer_name).preconditioned else ())
        if sizes is None:  # A training set of one example has no two batch sizes.
            return dict.fromkeys(names, float("nan"))
        batches = gradient_noise.draw_batches(seed, epoch, examples, sizes.big, settings.noise_draws)
        norms = [values.numpy() for values in trainer.squared_gradient_norms(tf.constant(batches),
                                                                            tf.constant(sizes.small))]
        metrics = {}
        for metric_names, start in zip((NOISE_METRICS, PRECONDITIONED_NOISE_METRICS), range(0, len(norms), 2)):
            norm_squared, trace, b_simple = gradient_noise.noise_scale(norms[start], norms[start + 1], sizes)
            metrics.update(zip(metric_names, (b_simple, norm_squared, trace)))
        return metrics

    def train_epoch(epoch, plan, history):
        start = time.perf_counter()
        if epoch == 0 and plan.moved_weights:
            trainer.move_weights_one_ulp()
        trainer.optimizer.start_epoch(plan)
        order = tf.constant(epoch_order(seed, epoch, trainer.train_size))
        train_loss = float(trainer.train_epoch(order, tf.constant(plan.batch_size)))
        test_accuracy, test_loss = trainer.evaluate()
        if on_epoch:
            on_epoch(plan)
        seconds = time.perf_counter() - start
        record = epoch_record(plan, history, optimizer_name, trainer.train_size, test_accuracy, test_loss,
                              train_loss, seconds)
        # After the clock has stopped: the model's own training loss at the end of every stage.
        # The epochs between are None, not NaN: "not measured", and equal to itself when runs are compared.
        record[TRAJECTORY_METRICS[0]] = trainer.full_train_loss() if stage_end(epoch, settings) else None
        if settings.measure_noise:
            record.update(noise_metrics(epoch))
        return record

    def branch(epoch, members, history):
        # members share the history of epochs [0, epoch); group them by what
        # they do next, and train each group's next epoch from the same state.
        if epoch == settings.epochs:
            for schedule in members:
                results[schedule] = {key: [record[key] for record in history] for key in history[0]}
                if schedule in ADAPTIVE_SCHEDULES:
                    results[schedule][ADAPTIVE_METRICS[0]] = b_simple_chosen_from(history, settings)
                if on_run:
                    on_run(schedule, results[schedule])
            return
        groups = {}
        for schedule in members:
            groups.setdefault(plan_of(schedule, history), []).append(schedule)
        saved = trainer.state() if len(groups) > 1 else None
        if on_replan and epoch >= settings.epochs_per_stage:
            # The cost model counts an adaptive schedule's later epochs as its own; one that its plan
            # shares with other schedules is trained, and so priced, once.
            for plan, group in groups.items():
                adaptive = sum(schedule in ADAPTIVE_SCHEDULES for schedule in group)
                shared = adaptive - (adaptive == len(group))
                if shared > 0:
                    on_replan([plan] * shared, [])
        for index, (plan, group) in enumerate(groups.items()):
            if index > 0:
                trainer.restore(saved)
            branch(epoch + 1, group, history + [train_epoch(epoch, plan, history)])

    branch(0, list(schedules), [])
    return results
