"""Grow the batch instead of decaying the learning rate, in plain Keras.

Copy this file into your own training. It uses only Keras (model.compile and
model.fit) and numpy, nothing of this project. Where a step-decay schedule
would divide the learning rate by `factor` at every stage, it multiplies the
batch by `factor` instead (the rule of Smith et al. 2018 for SGD, with or
without momentum, which this project's studies confirm), and for Adam and
RMSprop the rule that came nearest dlr's training at 3-epoch stages in this
project's studies (OPTIMIZERS below; REPORT.md, "The rule, per optimizer"), which
no rule tested there matched within the margin.

Three things in Keras make this less obvious than it looks, and each has a
line below that handles it:

1. A callback cannot change fit's batch size (keras-team/keras issues 10143
   and 13038), so every stage is its own `model.fit(..., batch_size=B)`,
   with `initial_epoch` so that epochs keep counting.
2. The optimizer must carry over: one optimizer object for the whole run, so
   its moments and its step count (Adam's bias correction) continue from
   stage to stage. Never re-compile between stages; that builds a new one.
3. In Keras 3, Adam's beta_1 and beta_2 and RMSprop's rho are Python floats
   read when the training step is traced, and fit reuses its traced
   train_function. Keras traces it again at the first new batch shape, so a
   new beta seems to work at the second stage, and from the third on the
   step keeps the second stage's betas, silently (tests/test_example.py shows
   both). apply_stage traces it again whenever a coefficient changes
   (make_train_function(force=True)). The learning rate is a variable and
   needs no such care. (Keras corrects Adam's bias with the current beta to
   the power of the step count, not the product of the betas used; after a
   first stage of thousands of steps both corrections are 1 to float
   precision, and only a short first stage, as --quick's, feels it.)

Usage:

    python examples/grow_batch_keras.py                      # Adam on MNIST, 4 stages of 3 epochs
    python examples/grow_batch_keras.py --optimizer sgd
    python examples/grow_batch_keras.py --quick              # 2,000 images, 1 epoch a stage
"""
import argparse
import dataclasses
import math
import os
import sys
from typing import Callable

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras  # noqa: E402  (after the log level is set)

DEFAULT_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), os.pardir, "data", "mnist.npz")

@dataclasses.dataclass(frozen=True)
class OptimizerRule:
    """One optimizer and its rule for growing the batch, everything the stages ask of it.

    build(learning_rate) makes the Keras optimizer; base_learning_rate is
    the study's; scaled_coefficients are the Keras attributes the rule may
    scale with the batch. At stage s (from 0), with the stage factor k, the
    batch is base * k ** s and the learning rate base * k ** (-s *
    rate_exponent); with holds_half_lives each scaled coefficient c becomes
    c ** (B / B0), which keeps its half-life fixed in examples.
    """

    build: Callable[[float], keras.optimizers.Optimizer]
    base_learning_rate: float
    scaled_coefficients: tuple = ()
    rate_exponent: float = 0.0
    holds_half_lives: bool = False

    def stage_plan(self, stage, factor, base_learning_rate, base_batch_size, base_coefficients):
        """(learning rate, batch size, {coefficient: value}) of a stage."""
        batch_size = int(round(base_batch_size * factor ** stage))
        coefficients = {key: value ** (batch_size / base_batch_size) if self.holds_half_lives else value
                        for key, value in base_coefficients.items()}
        return base_learning_rate * factor ** (-stage * self.rate_exponent), batch_size, coefficients


# The rule per optimizer, at the study's base settings (Keras's defaults for Adam and RMSprop).
OPTIMIZERS = {
    # The paper's rule: g = lr N / (B (1 - m)) falls by k when B grows by k at a fixed lr.
    "sgd": OptimizerRule(lambda rate: keras.optimizers.SGD(rate), 0.01),
    "momentum": OptimizerRule(lambda rate: keras.optimizers.SGD(rate, momentum=0.9), 0.001),
    # The square-root rule with half-lives held in examples (the project's seesaw_hl): the rule fitted on
    # seeds 0 to 4 from the family lr / k^a, B x k, half-lives held, for Adam and for RMSprop (a = 1/2, the
    # family's edge; results/adam_rule_fit). For Adam, confirmed on seeds 5 to 19 (results/adam_rule_confirm):
    # equivalent to dlr on final accuracy on every network and the nearest tested to dlr's training loss,
    # but not within Adam's own δ (linear reading, 0.15) on the 500-150 MLP and undecided on the other two
    # (its yardsticks.md); RMSprop's was not confirmed. If only the final accuracy must match, Adam's plain
    # ibs (the SGD rule above) was equivalent too (results/adam_rule_20). REPORT.md, "The rule, per
    # optimizer", says where each holds.
    "adam": OptimizerRule(lambda rate: keras.optimizers.Adam(rate), 0.001, ("beta_1", "beta_2"),
                          rate_exponent=0.5, holds_half_lives=True),
    "rmsprop": OptimizerRule(lambda rate: keras.optimizers.RMSprop(rate), 0.001, ("rho",),
                             rate_exponent=0.5, holds_half_lives=True),
}


def apply_stage(model, learning_rate, coefficients):
    """Set the stage's learning rate and coefficients on the model's optimizer, keeping its state."""
    optimizer = model.optimizer
    optimizer.learning_rate = learning_rate  # assigns the optimizer's variable; its state stays
    changed = False
    for key, value in coefficients.items():
        if getattr(optimizer, key) != value:
            setattr(optimizer, key, value)
            changed = True
    if changed:
        # The coefficients are read when the step is traced: trace it again, or the old values stay.
        model.make_train_function(force=True)


def build_model():
    """The study's 300-unit MLP; train() compiles any uncompiled Keras classifier the same way."""
    return keras.Sequential([keras.Input((28, 28)), keras.layers.Flatten(),
                             keras.layers.Dense(300, activation="relu"),
                             keras.layers.Dense(10, activation="softmax")])


def train(model, optimizer_name, x_train, y_train, stages=4, epochs_per_stage=3, factor=5.0,
          base_batch_size=4, learning_rate=None, validation_data=None, seed=0, on_stage=None):
    """Train in stages, growing the batch by the optimizer's rule; returns [per-stage record].

    on_stage(stage, model), if given, is called before each stage's fit,
    after its settings are applied. The seed fixes the example order; set
    it (keras.utils.set_random_seed) before building the model as well to
    fix its initial weights, as main() does.
    """
    rule = OPTIMIZERS[optimizer_name]
    learning_rate = rule.base_learning_rate if learning_rate is None else learning_rate
    model.compile(optimizer=rule.build(learning_rate), loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    base_coefficients = {key: float(getattr(model.optimizer, key)) for key in rule.scaled_coefficients}
    keras.utils.set_random_seed(seed)
    records = []
    for stage in range(stages):
        stage_rate, batch_size, coefficients = rule.stage_plan(stage, factor, learning_rate, base_batch_size,
                                                               base_coefficients)
        apply_stage(model, stage_rate, coefficients)
        if on_stage is not None:
            on_stage(stage, model)
        history = model.fit(x_train, y_train, batch_size=batch_size, initial_epoch=stage * epochs_per_stage,
                            epochs=(stage + 1) * epochs_per_stage, validation_data=validation_data,
                            shuffle=True, verbose=0)
        records.append(dict(stage=stage, learning_rate=stage_rate, batch_size=batch_size, **coefficients,
                            updates=int(model.optimizer.iterations.numpy()),
                            loss=history.history["loss"][-1],
                            val_accuracy=history.history.get("val_accuracy", [math.nan])[-1]))
    return records


def load_mnist(path, train_size, test_size):
    with np.load(path) as data:
        return ((data["x_train"][:train_size].astype("float32") / 255, data["y_train"][:train_size].astype("int32")),
                (data["x_test"][:test_size].astype("float32") / 255, data["y_test"][:test_size].astype("int32")))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--optimizer", choices=sorted(OPTIMIZERS), default="adam")
    parser.add_argument("--data", default=DEFAULT_DATA, help="an MNIST-layout .npz (default: the vendored file)")
    parser.add_argument("--quick", action="store_true", help="2,000 training images, 1 epoch a stage")
    parser.add_argument("--seed", type=int, default=0)
    arguments = parser.parse_args(argv)
    if not os.path.isfile(arguments.data):
        parser.exit(2, f"grow_batch_keras.py: error: no data file {arguments.data}\n")
    train_size, epochs_per_stage = (2000, 1) if arguments.quick else (20000, 3)
    (x_train, y_train), (x_test, y_test) = load_mnist(arguments.data, train_size, 10000)
    keras.utils.set_random_seed(arguments.seed)  # before the model is built: its initial weights too
    records = train(build_model(), arguments.optimizer, x_train, y_train, epochs_per_stage=epochs_per_stage,
                    validation_data=(x_test, y_test), seed=arguments.seed)
    for record in records:
        extra = "".join(f", {key} {record[key]:.6g}" for key in OPTIMIZERS[arguments.optimizer].scaled_coefficients)
        print(f"stage {record['stage'] + 1}: lr {record['learning_rate']:.6g}, batch {record['batch_size']}{extra}, "
              f"{record['updates']} updates so far, training loss {record['loss']:.4f}, "
              f"test accuracy {100 * record['val_accuracy']:.2f} %")
    return 0


if __name__ == "__main__":
    sys.exit(main())
