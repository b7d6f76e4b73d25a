"""Tests of the second endpoint: the model's own training loss along the run, and the run files that lack it."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

import mnist
import safe_pickle
import study
import training
from networks import keras, tf

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--archs", "mlp300", "--optimizers", "sgd", "--schedules", "dlr,ibs", "--seeds", "2", "--train-size", "300",
        "--test-size", "200", "--epochs-per-stage", "2", "--jobs", "1"]


def run_main(*args):
    return subprocess.run([sys.executable, os.path.join(ROOT, "main.py"), *args], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.mark.parametrize("arch", ["mlp300", "lenet5"])
def test_full_train_loss_is_keras_evaluate_on_the_same_weights(arch):
    settings = study.Settings(train_size=3_000, test_size=500)
    data = mnist.prepare_data(mnist.load_mnist(), settings.train_size, settings.test_size)
    trainer = training.Trainer(arch, "adam", 0, settings, data)
    order = tf.constant(training.epoch_order(0, 0, settings.train_size))
    trainer.train_epoch(order, tf.constant(32))
    ours = trainer.full_train_loss()
    trainer.model.compile(loss=keras.losses.SparseCategoricalCrossentropy())
    theirs = trainer.model.evaluate(data["x_train"], data["y_train"], batch_size=training.EVAL_BATCH_SIZE, verbose=0)
    assert ours == pytest.approx(theirs, rel=1e-5)
    # It is the model's loss, not the mean over the epoch's batches while the weights moved.
    assert ours != pytest.approx(float(trainer.train_epoch(order, tf.constant(32))), rel=1e-3)


def test_every_run_records_it_at_the_stage_ends_and_a_file_without_it_is_trained_again(tmp_path):
    made = run_main(*TINY, "--out", str(tmp_path))
    assert made.returncode == 0, made.stderr
    path = tmp_path / "runs" / "mlp300_sgd_ibs_seed1.pickle"
    record = safe_pickle.load(path)
    losses = record["metrics"]["full_train_loss"]
    # Measured at the end of each of the 4 stages of 2 epochs, NaN between.
    assert np.isnan(losses[0::2]).all() and np.isfinite(losses[1::2]).all() and len(losses) == 8
    # The first stage is shared with dlr, and so is its measurement.
    dlr = safe_pickle.load(tmp_path / "runs" / "mlp300_sgd_dlr_seed1.pickle")["metrics"]
    assert dlr["full_train_loss"][1] == losses[1] and dlr["full_train_loss"][3] != losses[3]
    # A file written before the metric existed: not reused, kept aside, its run trained again.
    del record["metrics"]["full_train_loss"]
    path.write_bytes(pickle.dumps(record))
    again = run_main(*TINY, "--out", str(tmp_path))
    assert again.returncode == 0, again.stderr
    assert "trained 1 and reused 3 runs" in again.stdout
    assert again.stderr.count("lacks full_train_loss, which this study records") == 1
    assert (tmp_path / "runs" / "mlp300_sgd_ibs_seed1.pickle.rejected").exists()
    retrained = safe_pickle.load(path)["metrics"]
    assert retrained["full_train_loss"][1::2] == losses[1::2]
    assert retrained["test_accuracy"] == record["metrics"]["test_accuracy"]
