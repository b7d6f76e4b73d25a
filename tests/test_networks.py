"""Tests of a network as a Keras model and nothing more: the tape path and --backward."""
import dataclasses
import os
import pickle
import textwrap
from pathlib import Path

import numpy as np
import pytest

import main
import mnist
import networks
import runfiles
import study
import training

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SMALL = ["--train-size", "300", "--test-size", "200", "--epochs-per-stage", "1", "--optimizers", "sgd"]

TINY_MLP = """
import keras
from keras import layers


def tiny_mlp():
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(32, activation="relu"),
                             layers.Dense(10, activation="softmax")])


NETWORKS = {"tiny_mlp": tiny_mlp}
"""


def without_seconds(metrics):
    return {name: values for name, values in metrics.items() if name != "seconds"}


def write(folder, text, name="my_networks.py"):
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path


def build_batch_norm_dropout():
    layers = networks.layers
    return networks.keras.Sequential([
        networks.keras.Input((28, 28)), layers.Flatten(), layers.Dense(32), layers.BatchNormalization(),
        layers.ReLU(), layers.Dropout(0.3), layers.Dense(10, activation="softmax")])


# ---------------------------------------------------------------- the tape path
def test_branching_copies_batch_norm_statistics_and_dropout_seed_state(monkeypatch):
    # dlr and ibs share the first epoch and branch; ibs alone never branches. The
    # branch must restore the moving statistics and the seed state that dlr's
    # epochs moved on, or ibs's evaluation and dropout masks differ.
    monkeypatch.setitem(networks.NETWORKS, "bn_dropout", networks.Network(build_batch_norm_dropout))
    data = mnist.prepare_data(mnist.load_mnist(), 400, 300)
    settings = study.Settings(train_size=400, test_size=300, epochs_per_stage=1)
    trainer = training.Trainer("bn_dropout", "adam", 1, settings, data)
    names = [variable.path for variable in trainer.model.non_trainable_variables]
    assert any("moving_mean" in name for name in names) and any("seed_generator" in name for name in names)
    # Training mode only while training: scoring twice gives the same numbers.
    assert trainer.evaluate() == trainer.evaluate()
    together = training.train_runs("bn_dropout", "adam", 1, ("dlr", "ibs"), settings, data)
    alone = training.train_runs("bn_dropout", "adam", 1, ("ibs",), settings, data)
    assert without_seconds(together["ibs"]) == without_seconds(alone["ibs"])
    assert together["dlr"]["test_loss"][0] == together["ibs"]["test_loss"][0]
    assert together["dlr"]["test_loss"][-1] != together["ibs"]["test_loss"][-1]


def test_backward_tape_is_a_setting_recorded_only_when_chosen(tmp_path):
    assert main.parse_args([]).backward == "written" and main.parse_args(["--backward", "tape"]).backward == "tape"
    tape = study.Settings(backward="tape")
    assert study.settings_record(tape)["backward"] == "tape"
    # The default is left out, so the committed studies reassemble to the same bytes.
    assert "backward" not in study.settings_record(study.Settings())
    assert study.migrate_settings(study.settings_record(study.Settings()))["backward"] == "written"
    # Runs of the tape never mix with written-out ones.
    key = ("mlp300", "sgd", "dlr", 0)
    (tmp_path / "runs").mkdir()
    with open(runfiles.run_path(str(tmp_path / "runs"), key), "wb") as handle:
        pickle.dump({"key": key, "settings": study.settings_record(tape),
                     "metrics": {name: [0.5] * 12 for name in study.RUN_METRICS}}, handle)
    with pytest.raises(runfiles.StudyError, match="backward 'tape' there, 'written' here"):
        runfiles.load_finished_runs(str(tmp_path / "runs"), study.Settings())
    assert runfiles.load_finished_runs(str(tmp_path / "runs"), tape)[0].keys() == {key}


def test_backward_tape_trains_a_built_in_network_through_the_tape(monkeypatch):
    data = mnist.prepare_data(mnist.load_mnist(), 300, 200)
    written = study.Settings(train_size=300, test_size=200, epochs_per_stage=1)
    tape = dataclasses.replace(written, backward="tape")
    calls = []
    original = networks.tape_loss_and_gradients

    def counted(*args):
        calls.append(1)
        return original(*args)
    monkeypatch.setattr(networks, "tape_loss_and_gradients", counted)
    by_tape = training.train_runs("lenet5", "sgd", 0, ("ibs",), tape, data)["ibs"]
    assert calls  # Traced through the tape.
    calls.clear()
    by_hand = training.train_runs("lenet5", "sgd", 0, ("ibs",), written, data)["ibs"]
    assert not calls
    # The same run up to float rounding.
    np.testing.assert_allclose(by_tape["test_loss"], by_hand["test_loss"], rtol=1e-4)
    assert by_tape["updates"] == by_hand["updates"]
