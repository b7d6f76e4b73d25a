"""Tests of the networks: the built-in ones' sizes and written-out backward passes, and any Keras model through the tape.

A network as a Keras model and nothing more: the tape path, --backward and
--networks FILE.
"""
import dataclasses
import pickle
import textwrap
from pathlib import Path

import matplotlib
import numpy as np
import pytest

import main
from batchgrow.training import mnist
from batchgrow.training import networks
from batchgrow.training import runfiles
from batchgrow import safe_pickle
from batchgrow import study
from batchgrow.training import training
from conftest import build_batch_norm_dropout, metrics_without_seconds, run_main

SMALL = ["--train-size", "300", "--test-size", "200", "--epochs-per-stage", "1", "--optimizers", "sgd"]

TINY_MLP = """
import keras
from keras import layers


def tiny_mlp():
    return keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(32, activation="relu"),
                             layers.Dense(10, activation="softmax")])


NETWORKS = {"tiny_mlp": tiny_mlp}
"""


def write(folder, text, name="my_networks.py"):
    path = Path(folder) / name
    path.write_text(textwrap.dedent(text))
    return path


# ---------------------------------------------------------------- the built-in networks
def test_parameter_counts():
    counts = {arch: networks.build_model(arch).count_params() for arch in study.ARCHITECTURES}
    assert counts == {"mlp300": 238_510, "mlp500_150": 469_160, "lenet5": 44_426}


WRITTEN_OUT = [name for name, network in networks.NETWORKS.items() if network.loss_and_gradients is not None]


def test_the_built_in_networks_have_their_backward_passes_written_out():
    assert WRITTEN_OUT == list(study.ARCHITECTURES)


@pytest.mark.parametrize("arch", WRITTEN_OUT)
@pytest.mark.parametrize("batch_size", [1, 5, 32])
def test_written_out_gradients_match_keras_and_the_tape_path(arch, batch_size):
    # The tape path is what --backward tape, and every network without a
    # written-out pass, trains with; its loss is Keras's own.
    import keras
    import tensorflow as tf
    data = mnist.prepare_data(mnist.load_mnist(), batch_size, 1)
    images, labels = tf.constant(data["x_train"]), tf.constant(data["y_train"])
    keras.utils.set_random_seed(batch_size)
    model = networks.build_model(arch)
    weights = [variable.value for variable in model.trainable_variables]
    expected_loss, expected_gradients = networks.tape_loss_and_gradients(model, weights, images, labels)
    keras_loss = tf.reduce_mean(keras.losses.sparse_categorical_crossentropy(labels, model(images, training=True)))
    assert float(expected_loss) == float(keras_loss)
    loss, gradients = networks.NETWORKS[arch].loss_and_gradients(weights, images, labels)
    np.testing.assert_allclose(float(loss), float(expected_loss), rtol=1e-6)
    assert len(gradients) == len(expected_gradients) == len(weights)
    for gradient, expected in zip(gradients, expected_gradients):
        assert gradient.shape == expected.shape
        scale = float(tf.reduce_max(tf.abs(expected)))
        assert scale > 0
        np.testing.assert_allclose(gradient.numpy(), expected.numpy(), rtol=1e-4, atol=1e-5 * scale)


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
    assert metrics_without_seconds(together["ibs"]) == metrics_without_seconds(alone["ibs"])
    assert together["dlr"]["test_loss"][0] == together["ibs"]["test_loss"][0]
    assert together["dlr"]["test_loss"][-1] != together["ibs"]["test_loss"][-1]


def test_backward_tape_is_a_recorded_setting(tmp_path):
    assert main.parse_args([]).backward == "written" and main.parse_args(["--backward", "tape"]).backward == "tape"
    tape = study.Settings(backward="tape")
    assert study.settings_record(tape)["backward"] == "tape"
    # Runs of the tape never mix with written-out ones.
    key = ("mlp300", "sgd", "dlr", 0)
    (tmp_path / "runs").mkdir()
    with open(runfiles.run_path(str(tmp_path / "runs"), key), "wb") as handle:
        pickle.dump({"key": key, "settings": study.settings_record(tape),
                     "metrics": {name: [0.5] * 12 for name in study.RUN_METRICS + study.TRAJECTORY_METRICS}},
                    handle)
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


# ---------------------------------------------------------------- --networks FILE, end to end
@pytest.fixture(scope="module")
def user_study(tmp_path_factory):
    folder = tmp_path_factory.mktemp("user_network")
    network_file = write(folder, TINY_MLP)
    result = run_main("--networks", network_file, "--archs", "tiny_mlp", *SMALL, "--seeds", "2",
                      "--out", folder / "out")
    assert result.returncode == 0, result.stderr
    return folder, network_file, result


def test_a_users_network_runs_through_the_whole_study(user_study, monkeypatch):
    folder, network_file, result = user_study
    assert "trained 6 and reused 0 runs" in result.stdout
    # The cost model says once that it estimates this network's costs.
    assert result.stderr.count("no timings of tiny_mlp (25,450 parameters)") == 1
    sha256 = networks.file_sha256(network_file)
    for run_file in (folder / "out" / "runs").glob("*.pickle"):
        record = safe_pickle.load(run_file)
        assert record["key"][0] == "tiny_mlp"
        assert record["provenance"]["networks_file"] == {"path": str(network_file), "sha256": sha256}
        assert record["metrics"]["test_accuracy"][-1] > 0.2

    from batchgrow.reporting import figures
    import plots
    kept = []
    monkeypatch.setattr(figures, "save", lambda figure, path: kept.append((Path(path).name, figure)) or Path(path))
    assert plots.main(["--results", str(folder / "out" / "results.pickle")]) == 0
    texts = {name: " ".join(text.get_text() for text in figure.findobj(matplotlib.text.Text)) for name, figure in kept}
    for name, figure in kept:
        figures.plt.close(figure)
    per_network = [name for name in texts if "tiny_mlp" in name]
    # Accuracy by epoch, updates and seconds, the recorded training loss, and the model's own training loss.
    assert len(per_network) == 5 and "overview.png" in texts
    assert all("tiny_mlp" in texts[name] for name in per_network + ["overview.png"])
    summary = (folder / "out" / "summary.md").read_text()
    assert "| tiny_mlp | SGD | increasing batch size (ibs) | 2 |" in summary and "Verdict against dlr" in summary


def test_a_users_network_file_changed_since_its_runs_is_named(user_study, tmp_path):
    folder, network_file, _ = user_study
    changed = write(tmp_path, TINY_MLP + "\n# changed\n")
    again = run_main("--networks", changed, "--archs", "tiny_mlp", *SMALL, "--seeds", "2", "--out", folder / "out")
    assert again.returncode == 0 and "trained 0 and reused 6 runs" in again.stdout
    assert "6 reused runs of tiny_mlp were trained with another version of its --networks file" in again.stderr


# ---------------------------------------------------------------- bad network files
GOOD_MODEL = "keras.Sequential([keras.Input((28, 28)), layers.Flatten(), layers.Dense(10, activation='softmax')])"
HEADER = "import keras\nfrom keras import layers\n"


BAD_FILES = [
    (None, "no such file"),
    (HEADER + "import not_a_module_anywhere\n", "importing it raised ModuleNotFoundError"),
    (HEADER + "x = 1\n\n1 / 0\n", "ZeroDivisionError: division by zero (line 5)"),
    (HEADER + "networks = {}\n", "defines no NETWORKS"),
    (HEADER + "NETWORKS = [1]\n", "not a non-empty dict"),
    (HEADER + f"NETWORKS = {{'mlp300': lambda: {GOOD_MODEL}}}\n", "'mlp300' is taken by a built-in network"),
    (HEADER + f"NETWORKS = {{'my net': lambda: {GOOD_MODEL}}}\n", "is not a letter followed by"),
    (HEADER + "NETWORKS = {'mine': 3}\n", "not a function"),
    (HEADER + "NETWORKS = {'mine': lambda: 1 / 0}\n", "NETWORKS['mine']() raised ZeroDivisionError"),
    (HEADER + "NETWORKS = {'mine': lambda: 'a model'}\n", "returned a str, not a Keras model"),
    (HEADER + "NETWORKS = {'mine': lambda: keras.Sequential([keras.Input((32, 32, 3)), layers.Flatten(), "
              "layers.Dense(10, activation='softmax')])}\n", "does not take a batch of 28x28 images"),
    (HEADER + "NETWORKS = {'mine': lambda: keras.Sequential([keras.Input((28, 28)), layers.Flatten(), "
              "layers.Dense(5, activation='softmax')])}\n", "gives (2, 5), not (2, 10)"),
    (HEADER + "NETWORKS = {'mine': lambda: keras.Sequential([keras.Input((28, 28)), layers.Flatten(), "
              "layers.Dense(10)])}\n", "not probabilities"),
]


@pytest.mark.parametrize("text, message", BAD_FILES, ids=[message.split(":")[0] for _, message in BAD_FILES])
def test_bad_network_files_give_one_line_and_status_2(tmp_path, capsys, text, message):
    path = tmp_path / "absent.py" if text is None else write(tmp_path, text)
    with pytest.raises(SystemExit) as exit_status:
        main.parse_args(["--networks", str(path), "--out", str(tmp_path / "out")])
    stderr = capsys.readouterr().err
    assert exit_status.value.code == 2
    assert stderr.count("\n") == 1 and message in stderr and str(path) in stderr, stderr
    assert "Traceback" not in stderr and not (tmp_path / "out").exists()


def test_a_network_file_that_raises_stops_main_py_with_one_line(tmp_path):
    path = write(tmp_path, "raise RuntimeError('my mistake')\n")
    result = run_main("--networks", path, "--out", tmp_path / "out", timeout=120)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"main.py: error: --networks {path}: importing it raised RuntimeError: my mistake "
                             "(line 1)\n")


def test_archs_take_the_files_names_and_only_those(tmp_path, capsys):
    path = write(tmp_path, TINY_MLP)
    args = main.parse_args(["--networks", str(path)])
    assert args.archs == study.ARCHITECTURES + ("tiny_mlp",)
    assert args.network_file.parameter_counts == {"tiny_mlp": 25_450}
    assert main.parse_args(["--networks", str(path), "--archs", "lenet5"]).network_file.parameter_counts == {}
    with pytest.raises(SystemExit):
        main.parse_args(["--networks", str(path), "--archs", "tiny_mlp,resnet"])
    assert "'tiny_mlp,resnet' is not a comma list of mlp300, mlp500_150, lenet5, tiny_mlp" in capsys.readouterr().err
