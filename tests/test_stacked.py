"""Tests of --stack-seeds: LeNet-5's seeds trained as one stacked model (stacked.py), on a tiny grid.

A stacked study trains the same runs as an unstacked one up to rounding,
each seed from its own initial weights, in its own example order and with
its own optimizer state; it trains the same runs bit for bit when run
twice; it resumes, training only the runs it lacks; the networks and
schedules it cannot stack train as without the flag, which main.py says
once; and a stacked folder and an unstacked one never share their runs.
"""
import dataclasses
import os
import shutil

import numpy as np
import pytest

from batchgrow import safe_pickle, schedules, study
from batchgrow.training import costs, grid, mnist, runfiles
from conftest import metrics_without_seconds, run_main, without_seconds

# Two networks, one that stacks and one that does not, two optimizers, two schedules that branch after the
# first stage, two seeds, on 300 training and 200 test images.
TINY = ["--archs", "mlp300,lenet5", "--optimizers", "sgd,adam", "--schedules", "dlr,ibs", "--train-size", "300",
        "--test-size", "200", "--epochs-per-stage", "1", "--seeds", "2", "--jobs", "1"]
SETTINGS = study.Settings(train_size=300, test_size=200, epochs_per_stage=1)
# The schedule lists a stacked seed shares exactly with its unstacked run.
PLANNED_METRICS = ("learning_rate", "batch_size", "momentum", "updates")
# How far a stacked seed's metrics may be from its unstacked run's on this grid: the two compute the same run
# with the kernels adding in another order. Observed here (Intel Xeon, AVX-512, 75 steps an epoch): relative
# differences of at most 1.8e-7 in test_loss, 1.6e-7 in train_loss and 9e-8 in full_train_loss, and the same
# test accuracies; an accuracy may still move by one test image sitting on a decision boundary. The gap grows
# with the steps, as any rounding difference does at batch 4 (the floor control, dlr_ulp): on 2,000 images,
# 500 steps an epoch, full_train_loss differed by up to 1.5 % (SGD) and 5 % (Adam) after one epoch.
LOSS_TOLERANCE = 1e-5
ACCURACY_TOLERANCE = 1 / 200


def runs_of(folder):
    return safe_pickle.load(folder / "results.pickle")["runs"]


def run_file(folder, key):
    return safe_pickle.load(os.path.join(folder, "runs", os.path.basename(grid.run_path("", key))))


def note_lines(stderr):
    return [line for line in stderr.splitlines() if line.startswith("main.py: note:")]


def assert_close_runs(stacked, unstacked):
    """A stacked seed's metrics against its unstacked run's: the plans equal, the numbers a rounding step apart."""
    assert set(stacked) == set(unstacked)
    for name in PLANNED_METRICS:
        assert stacked[name] == unstacked[name], name
    np.testing.assert_allclose(stacked["test_accuracy"], unstacked["test_accuracy"], rtol=0, atol=ACCURACY_TOLERANCE)
    for name in ("test_loss", "train_loss"):
        np.testing.assert_allclose(stacked[name], unstacked[name], rtol=LOSS_TOLERANCE, err_msg=name)
    measured = [index for index, loss in enumerate(unstacked["full_train_loss"]) if loss is not None]
    assert measured and [index for index, loss in enumerate(stacked["full_train_loss"]) if loss is not None] == measured
    np.testing.assert_allclose([stacked["full_train_loss"][index] for index in measured],
                               [unstacked["full_train_loss"][index] for index in measured], rtol=LOSS_TOLERANCE)


@pytest.fixture(scope="module")
def stacked_study(tmp_path_factory):
    """The tiny grid with --stack-seeds: (its folder, main.py's stderr)."""
    out = tmp_path_factory.mktemp("stacked")
    made = run_main(*TINY, "--stack-seeds", "--out", out)
    assert made.returncode == 0, made.stderr
    return out, made.stderr


@pytest.fixture(scope="module")
def unstacked_study(tmp_path_factory):
    out = tmp_path_factory.mktemp("unstacked")
    made = run_main(*TINY, "--out", out)
    assert made.returncode == 0, made.stderr
    return out


# ---------------------------------------------------------------- the same runs
def test_two_stacked_studies_train_the_same_runs_bit_for_bit(stacked_study, tmp_path):
    folder, _ = stacked_study
    again = run_main(*TINY, "--stack-seeds", "--out", tmp_path)
    assert again.returncode == 0, again.stderr
    first, second = runs_of(folder), runs_of(tmp_path)
    assert len(first) == 16 and without_seconds(first) == without_seconds(second)
    # LeNet-5's runs were trained stacked, both seeds in one model; the MLP's seed by seed.
    key = ("lenet5", "adam", "ibs", 1)
    assert run_file(folder, key)["provenance"]["stacked_seeds"] == [0, 1]
    assert "stacked_seeds" not in run_file(folder, ("mlp300", "adam", "ibs", 1))["provenance"]
    assert run_file(folder, key)["settings"]["stack_seeds"] is True


def test_each_stacked_seed_is_its_unstacked_run_up_to_rounding(stacked_study, unstacked_study):
    stacked, unstacked = runs_of(stacked_study[0]), runs_of(unstacked_study)
    assert set(stacked) == set(unstacked)
    for key in stacked:
        if key[0] == "lenet5":
            assert_close_runs(stacked[key], unstacked[key])
            # Rounding, not sameness: the stacked kernels do add in another order.
        else:  # The MLP trains as without the flag: today's path, bit for bit.
            assert metrics_without_seconds(stacked[key]) == metrics_without_seconds(unstacked[key])
    assert any(metrics_without_seconds(stacked[key]) != metrics_without_seconds(unstacked[key])
               for key in stacked if key[0] == "lenet5")
    # Each seed is its own run: the seeds' numbers differ, every epoch.
    for optimizer in ("sgd", "adam"):
        seed_0, seed_1 = (stacked["lenet5", optimizer, "dlr", seed] for seed in (0, 1))
        assert all(a != b for a, b in zip(seed_0["test_loss"], seed_1["test_loss"]))
        assert all(a != b for a, b in zip(seed_0["train_loss"], seed_1["train_loss"]))


def test_each_stacked_seed_starts_from_its_own_initial_weights_and_keeps_its_own_optimizer_state():
    from batchgrow.training import networks, stacked, training
    data = mnist.prepare_data(mnist.load_mnist(), 300, 200)
    trainer = stacked.StackedTrainer("lenet5", "adam", (3, 1), SETTINGS, data)
    per_seed = networks.unstack_weights("lenet5", [weight.numpy() for weight in trainer.weights], 2)
    for seed, weights in zip((3, 1), per_seed):
        own = training.Trainer("lenet5", "adam", seed, SETTINGS, data).weights
        assert all(np.array_equal(mine, theirs.numpy()) for mine, theirs in zip(weights, own))
    # One epoch: each seed's slice of Adam's moments is its own, a rounding step from its unstacked run's.
    plan = schedules.epoch_plans("dlr", "adam", SETTINGS)[0]
    trainer.optimizer.start_epoch(plan)
    orders = np.stack([training.epoch_order(seed, 0, 300) for seed in (3, 1)])
    trainer.train_epoch(networks.tf.constant(orders), networks.tf.constant(plan.batch_size))
    moments = networks.unstack_weights("lenet5", [slot.numpy() for slot in trainer.optimizer.slots["first_moment"]], 2)
    for seed, stacked_moments in zip((3, 1), moments):
        alone = training.Trainer("lenet5", "adam", seed, SETTINGS, data)
        alone.optimizer.start_epoch(plan)
        alone.train_epoch(networks.tf.constant(training.epoch_order(seed, 0, 300)),
                          networks.tf.constant(plan.batch_size))
        for mine, theirs in zip(stacked_moments, alone.optimizer.slots["first_moment"]):
            np.testing.assert_allclose(mine, theirs.numpy(), rtol=1e-3, atol=1e-7)
    assert not np.allclose(moments[0][0], moments[1][0])


# ---------------------------------------------------------------- resuming, shards, folders
def test_an_interrupted_stacked_study_reuses_its_runs_and_trains_only_the_rest(stacked_study, tmp_path):
    folder = tmp_path / "study"
    shutil.copytree(stacked_study[0], folder)
    # A stacked group saves each schedule's runs for all its seeds at once: an interruption leaves whole
    # schedules. Here Adam's ibs is missing for both seeds, as if the study had stopped before it finished.
    missing = [("lenet5", "adam", "ibs", seed) for seed in (0, 1)]
    before = runs_of(folder)
    for key in missing:
        os.remove(grid.run_path(str(folder / "runs"), key))
    kept = {path.name: path.stat().st_mtime_ns for path in (folder / "runs").glob("*.pickle")}
    resumed = run_main(*TINY, "--stack-seeds", "--out", folder)
    assert resumed.returncode == 0, resumed.stderr
    assert "trained 2 and reused 14 runs" in resumed.stdout
    assert {name: (folder / "runs" / name).stat().st_mtime_ns for name in kept} == kept  # Not trained again.
    # The same stack, branched from the start instead of after the first stage: the same runs, bit for bit.
    after = runs_of(folder)
    assert without_seconds(after) == without_seconds(before)


def test_a_shard_takes_a_stacked_cells_seeds_whole():
    # Where a seed sits in its stack moves its numbers by rounding, so every shard stacks as the whole study.
    selection = grid.Selection(("mlp300", "lenet5"), ("sgd", "adam"), ("dlr", "ibs"), (0, 1, 2))
    stacked_archs = grid.stacked_architectures(selection, study.Settings(stack_seeds=True))
    assert stacked_archs == ("lenet5",)
    whole = grid.plan_groups(selection, {}, None, stacked_archs)
    assert grid.StackedGroup("lenet5", "adam", (0, 1, 2), ("dlr", "ibs")) in whole
    shards = [grid.plan_groups(selection, {}, (index, 3), stacked_archs) for index in (1, 2, 3)]
    assert sorted(group for shard in shards for group in shard) == sorted(whole)
    # Seeds with the same runs left stack together; a seed that lacks others stacks apart.
    finished = {("lenet5", "sgd", "dlr", 1): {}}
    assert [group for group in grid.plan_groups(selection, finished, None, stacked_archs) if group.optimizer == "sgd"
            and group.arch == "lenet5"] == [grid.StackedGroup("lenet5", "sgd", (0, 2), ("dlr", "ibs")),
                                             grid.StackedGroup("lenet5", "sgd", (1,), ("ibs",))]


def test_a_stacked_folder_and_an_unstacked_one_never_share_their_runs(stacked_study, unstacked_study):
    refused = run_main(*TINY, "--out", stacked_study[0])
    assert refused.returncode == 2
    assert refused.stderr.count("\n") == 1 and "other settings" in refused.stderr
    assert "stack_seeds True there, False here" in refused.stderr
    refused = run_main(*TINY, "--stack-seeds", "--out", unstacked_study)
    assert refused.returncode == 2 and "stack_seeds False there, True here" in refused.stderr


# ---------------------------------------------------------------- what does not stack
def test_the_mlps_train_seed_by_seed_and_main_says_so_once(stacked_study):
    _, stderr = stacked_study
    assert note_lines(stderr) == [
        "main.py: note: --stack-seeds stacks the seeds of LeNet-5 only; 300-unit MLP trains seed by seed, as "
        "without the flag (stacking gave the MLPs no speed: benchmarks/README.md)"]
    # (test_each_stacked_seed_is_its_unstacked_run_up_to_rounding checks that they train as without it.)


def test_adaptive_schedules_and_the_noise_measurement_train_seed_by_seed_said_once():
    adaptive = grid.Selection(("lenet5",), ("sgd",), ("dlr", "ibs_auto"), (0, 1))
    settings = study.Settings(stack_seeds=True, measure_noise=True)
    assert grid.stacked_architectures(adaptive, settings) == ()
    assert all(isinstance(group, grid.Group) for group in grid.plan_groups(adaptive, {}, None, ()))
    assert grid.stacking_note(adaptive, settings) == (
        "main.py: note: --stack-seeds: every run trains seed by seed, as without the flag: ibs_auto decides each "
        "seed's batches from its own measured noise scale")
    measured = grid.Selection(("lenet5",), ("sgd",), ("dlr", "ibs"), (0, 1))
    assert grid.stacked_architectures(measured, settings) == ()
    assert "does not measure the gradient noise scale" in grid.stacking_note(measured, settings)
    # Nothing to say where everything stacks, or nothing is asked to.
    plain = dataclasses.replace(settings, measure_noise=False)
    assert grid.stacked_architectures(measured, plain) == ("lenet5",) and grid.stacking_note(measured, plain) is None
    assert grid.stacking_note(measured, study.Settings()) is None


def test_without_onednn_a_stacked_study_trains_seed_by_seed_and_says_why_once(unstacked_study, tmp_path,
                                                                                monkeypatch):
    lenet5 = ["--archs", "lenet5", *TINY[2:]]
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", "0")  # For main.py and its workers.
    made = run_main(*lenet5, "--stack-seeds", "--out", tmp_path)
    assert made.returncode == 0, made.stderr
    assert len(note_lines(made.stderr)) == 1 and "TF_ENABLE_ONEDNN_OPTS=0" in note_lines(made.stderr)[0]
    assert "warning" not in made.stderr
    # Today's path, on TensorFlow's own kernels instead of oneDNN's: the unstacked runs up to rounding.
    unstacked = runs_of(unstacked_study)
    for key, metrics in runs_of(tmp_path).items():
        assert "stacked_seeds" not in run_file(tmp_path, key)["provenance"]
        assert_close_runs(metrics, unstacked[key])


# ---------------------------------------------------------------- the progress bar
@pytest.mark.parametrize("onednn", ["1", "0"])
def test_a_stacked_groups_progress_ends_at_its_total_stacked_or_fallen_back(tmp_path, monkeypatch, onednn):
    # Stacked, its seeds are priced at their stacked share (costs.STACKED_SEED_SHARE); without oneDNN the
    # worker trains them seed by seed and the estimate grows to match. Either way the bar ends at its total.
    monkeypatch.setenv("TF_ENABLE_ONEDNN_OPTS", onednn)  # For the workers, which read it when they start.
    settings = dataclasses.replace(SETTINGS, stack_seeds=True)
    data = mnist.prepare_data(mnist.load_mnist(), settings.train_size, settings.test_size)
    runfiles.prepare_out_dir(str(tmp_path))
    group = grid.StackedGroup("lenet5", "sgd", (0, 1), ("dlr", "ibs"))
    calls, trained, warnings = [], [], []
    grid.train_groups([group], settings, data, str(tmp_path), 1, "python main.py", lambda *call: calls.append(call),
                      trained, warn=warnings.append)
    assert len(trained) == 4 and warnings == []
    done, total = calls[-1][:2]
    assert done == pytest.approx(total, rel=1e-9)
    assert all(call[0] <= call[1] * (1 + 1e-9) for call in calls)
    assert total == pytest.approx(costs.group_cost(group, settings, stacked=onednn == "1"))
    # Without oneDNN the cost model knows before the study begins (main.py has said why): no estimate jumps.
    assert calls[0][1] == pytest.approx(total)


def test_a_fallen_back_retry_is_priced_by_what_is_left_of_its_group():
    # A worker trained the stacked group's ibs runs and died; the fresh one falls back to seed by seed for
    # what is left, dlr of both seeds: the total becomes the ibs runs as stacked plus dlr's seed by seed.
    group = grid.StackedGroup("lenet5", "sgd", (0, 1), ("dlr", "ibs"))
    progress = grid._Progress([group], SETTINGS, {}, None)
    progress.forget(group, [("lenet5", "sgd", "ibs", seed) for seed in (0, 1)])
    left = grid.unfinished_part(group, {("lenet5", "sgd", "ibs", seed) for seed in (0, 1)})
    assert left == group._replace(schedules=("dlr",))
    progress.trained_seed_by_seed(group, left)
    assert progress.total == pytest.approx(costs.group_cost(left, SETTINGS, stacked=False))
