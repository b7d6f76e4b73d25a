"""ibs_auto: the batch grown to kappa times the measured noise scale, decided during the run.

The rule and its clamps, the refused kappas, the plans that differ from seed
to seed and survive resuming and sharding, the cost estimate that the run
corrects, and the tables and figure marks of the batches chosen.
"""
import math
import os

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from batchgrow.reporting import analysis  # noqa: E402
from batchgrow.reporting import figures  # noqa: E402
from batchgrow.training import grid  # noqa: E402
import main  # noqa: E402
import plots  # noqa: E402
from batchgrow import safe_pickle  # noqa: E402
from batchgrow.training import costs  # noqa: E402
from batchgrow.reporting import figure_style  # noqa: E402
from batchgrow import optimizers  # noqa: E402
from batchgrow import schedules  # noqa: E402
from batchgrow import study  # noqa: E402
from conftest import run_main, without_seconds  # noqa: E402

TRAIN_SIZE = 600
TINY = ["--archs", "mlp300", "--optimizers", "sgd", "--schedules", "dlr,ibs,ibs_auto,ibs_auto_lr", "--train-size",
        str(TRAIN_SIZE), "--test-size", "200", "--epochs-per-stage", "1"]


# ---------------------------------------------------------------- the rule
def test_the_batch_is_kappa_times_b_simple_rounded_never_smaller_and_at_most_n():
    rule = schedules.auto_batch_size
    assert rule(312.4, 1.0, 4, 20_000) == 312
    assert rule(312.5, 1.0, 4, 20_000) == 313  # Halves round up.
    assert rule(312.4, 0.5, 4, 20_000) == 156
    assert rule(312.4, 2.0, 4, 20_000) == 625
    # Never smaller than the batch before, however small the measurement.
    assert rule(80.0, 1.0, 100, 20_000) == 100
    assert rule(0.3, 1.0, 4, 20_000) == 4
    # Never above the training set.
    assert rule(31_000.0, 1.0, 500, 20_000) == 20_000
    assert rule(5_000.0, 8.0, 500, 20_000) == 20_000
    # A kappa too large to multiply out is the training set, not an overflow.
    assert rule(3_000.0, 1e308, 4, 20_000) == 20_000
    # A B_simple not resolved (NaN), or not a positive finite number, keeps the batch.
    for unresolved in (float("nan"), float("inf"), 0.0, -40.0):
        assert rule(unresolved, 1.0, 100, 20_000) == 100


def test_the_first_stage_is_dlrs_and_each_later_stage_takes_the_b_simple_measured_before_it():
    settings = study.Settings(measure_noise=True, epochs_per_stage=2)
    for optimizer in ("sgd", "momentum"):
        dlr_first = schedules.epoch_plans("dlr", optimizer, settings)[0]
        history = []
        measured = [150.0, 210.0, 700.0, float("nan"), 900.0, 30_000.0, 1.0, 5.0]
        for epoch in range(settings.epochs):
            plan = schedules.adaptive_epoch_plan("ibs_auto", optimizer, settings, history)
            # The learning rate and momentum are held at the first stage's, as in ibs.
            assert (plan.learning_rate, plan.momentum, plan.reset_optimizer) == (
                dlr_first.learning_rate, dlr_first.momentum, False)
            history.append({"batch_size": plan.batch_size, "b_simple": measured[epoch]})
        batches = [record["batch_size"] for record in history]
        # Stage 1 dlr's 4; stage 2 from 210 (after epoch 2); stage 3: NaN keeps it; stage 4: at most N.
        assert batches == [4, 4, 210, 210, 210, 210, 20_000, 20_000]


def test_ibs_auto_lr_raises_the_learning_rate_with_the_batch_and_keeps_dlrs_noise_scale():
    settings = study.Settings(measure_noise=True)
    for optimizer in ("sgd", "momentum"):
        dlr = schedules.epoch_plans("dlr", optimizer, settings)
        history = []
        for epoch, measured in enumerate([150.0, 210.0, 730.0, 650.0, 640.0, 2_000.0, 1_900.0, 3_100.0, 60_000.0,
                                          7.0, 7.0, 7.0]):
            plan = schedules.adaptive_epoch_plan("ibs_auto_lr", optimizer, settings, history)
            held = schedules.adaptive_epoch_plan("ibs_auto", optimizer, settings, history)
            # The batch is ibs_auto's; the rate is ibs's times B / B_ibs, so g is dlr's.
            assert (plan.batch_size, plan.momentum) == (held.batch_size, held.momentum)
            assert optimizers.noise_scale(plan.learning_rate, plan.batch_size, plan.momentum, 20_000) \
                == pytest.approx(optimizers.noise_scale(dlr[epoch].learning_rate, dlr[epoch].batch_size,
                                                        dlr[epoch].momentum, 20_000), rel=1e-11)
            history.append({"batch_size": plan.batch_size, "b_simple": measured})
        assert [record["batch_size"] for record in history] == [4] * 3 + [730] * 3 + [2_000] * 3 + [20_000] * 3
        base = optimizers.optimizer_record(optimizer).base_learning_rate(settings)
        assert schedules.adaptive_epoch_plan("ibs_auto_lr", optimizer, settings, history[:3]).learning_rate \
            == pytest.approx(base * 730 / 20)


def test_a_training_set_below_the_batches_caps_them_and_keeps_dlrs_noise_scale():
    # Base batch 8 of 600 examples: ibs's last stage would be 1,000 and is capped at 600, dlr's is 8.
    settings = study.Settings(train_size=600, base_batch_size=8, epochs_per_stage=1, measure_noise=True)
    dlr = schedules.epoch_plans("dlr", "sgd", settings)
    history = []
    for epoch in range(4):
        plan = schedules.adaptive_epoch_plan("ibs_auto_lr", "sgd", settings, history)
        assert plan.learning_rate * 600 / plan.batch_size == pytest.approx(
            dlr[epoch].learning_rate * 600 / dlr[epoch].batch_size, rel=1e-11)
        history.append({"batch_size": plan.batch_size, "b_simple": 5_000.0})
    assert [record["batch_size"] for record in history] == [8, 600, 600, 600]
    # Base batch 4 of 3 examples: every stage is the whole training set, never more, never less.
    tiny = study.Settings(train_size=3, epochs_per_stage=1, measure_noise=True)
    history = []
    for epoch in range(4):
        plan = schedules.adaptive_epoch_plan("ibs_auto", "sgd", tiny, history)
        history.append({"batch_size": plan.batch_size, "b_simple": 1.0})
    assert [record["batch_size"] for record in history] == [3, 3, 3, 3]
    first = schedules.adaptive_epoch_plan("ibs_auto_lr", "sgd", tiny, [])
    assert first == schedules.epoch_plans("dlr", "sgd", tiny)[0]  # So the first stage is shared with dlr's.


def test_ibs_auto_lr_has_no_exact_form(capsys):
    error = refused(["--schedules", "dlr,ibs_auto_lr", "--noise-scale", "exact"], capsys)
    assert error.count("\n") == 1 and "ibs_auto_lr keeps dlr's approximate noise scale" in error, error
    with pytest.raises(ValueError, match="no exact form"):
        schedules.adaptive_epoch_plan("ibs_auto_lr", "sgd", study.Settings(noise_scale="exact"), [])


def test_an_adaptive_schedule_has_no_fixed_plans_and_needs_the_measurement():
    with pytest.raises(ValueError, match="during the run"):
        schedules.epoch_plans("ibs_auto", "sgd", study.Settings())
    from batchgrow.training import training
    with pytest.raises(ValueError, match="measure_noise"):
        training.train_runs("mlp300", "sgd", 0, ("ibs_auto",), study.Settings(), data=None)


def test_kappa_is_recorded_and_checked():
    assert study.settings_record(study.Settings(auto_kappa=0.5))["auto_kappa"] == 0.5
    with pytest.raises(ValueError, match="positive finite"):
        schedules.check_auto_kappa(0.0)


def refused(arguments, capsys):
    """main.py's parser on arguments: it must stop with status 2; returns what it wrote to stderr."""
    with pytest.raises(SystemExit) as stop:
        main.parse_args(arguments)
    assert stop.value.code == 2
    return capsys.readouterr().err


@pytest.mark.parametrize("kappa", ["0", "-1", "nan", "inf", "-inf", "one", ""])
def test_a_kappa_that_is_not_a_positive_finite_number_gets_one_line_and_status_2(kappa, capsys):
    error = refused(TINY + [f"--auto-kappa={kappa}"], capsys)
    assert error.count("\n") == 1 and "kappa is a positive finite number" in error, error
    assert main.parse_args(TINY + ["--auto-kappa", "0.03"]).auto_kappa == 0.03


def test_kappa_without_the_adaptive_schedule_gets_one_line_and_status_2(capsys):
    error = refused(["--schedules", "dlr,ibs", "--auto-kappa", "2"], capsys)
    assert error.count("\n") == 1 and "add one to --schedules" in error, error
    # Whole, through the command line too.
    result = run_main("--schedules", "dlr,ibs", "--auto-kappa", "2", "--out", os.devnull)
    assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr


def test_an_adaptive_schedule_turns_the_measurement_on():
    assert main.parse_args(TINY).measure_noise is True
    assert main.parse_args(["--schedules", "dlr,ibs"]).measure_noise is False


# ---------------------------------------------------------------- the cost model
def test_the_estimate_takes_ibs_batches_until_the_run_decides_and_counts_the_epochs_as_its_own():
    settings = study.Settings(measure_noise=True)
    assert schedules.estimated_epoch_plans("ibs_auto", "sgd", settings) == schedules.epoch_plans("ibs", "sgd", settings)
    decided = [{"batch_size": 4, "b_simple": 300.0}] * 3
    estimate = schedules.estimated_epoch_plans("ibs_auto", "sgd", settings, decided)
    # Stage 2 decided at 300; stage 3 the larger of 300 and ibs's 100; stage 4 ibs's 500.
    assert [plan.batch_size for plan in estimate] == [4] * 3 + [300] * 6 + [500] * 3
    # dlr, ibs and ibs_auto share their first stage; every later epoch is trained once per schedule.
    assert len(costs.trained_epochs("sgd", ("dlr", "ibs"), settings)) == 3 + 9 + 9
    assert len(costs.trained_epochs("sgd", ("dlr", "ibs", "ibs_auto"), settings)) == 3 + 9 + 9 + 9


# ---------------------------------------------------------------- a tiny study
@pytest.fixture(scope="module")
def auto_study(tmp_path_factory):
    """dlr, ibs and ibs_auto on a small subset, three seeds, two worker processes."""
    out = tmp_path_factory.mktemp("auto")
    result = run_main(*TINY, "--seeds", "3", "--jobs", "2", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_each_seed_chooses_its_own_batches_by_the_rule_from_its_own_measurements(auto_study):
    results = safe_pickle.load(auto_study / "results.pickle")
    assert results["config"]["measure_noise"] is True and results["config"]["auto_kappa"] == 1.0
    chosen = []
    for seed in range(3):
        run = results["runs"][("mlp300", "sgd", "ibs_auto", seed)]
        dlr = results["runs"][("mlp300", "sgd", "dlr", seed)]
        # The first stage is dlr's, trained once for both.
        assert run["batch_size"][0] == 4 and run["test_accuracy"][0] == dlr["test_accuracy"][0]
        assert run["b_simple"][0] == dlr["b_simple"][0]
        assert set(run["learning_rate"]) == {0.01}
        assert math.isnan(run["b_simple_chosen_from"][0])
        for epoch in range(1, 4):
            expected = schedules.auto_batch_size(run["b_simple"][epoch - 1], 1.0, run["batch_size"][epoch - 1],
                                             TRAIN_SIZE)
            assert run["batch_size"][epoch] == expected
            assert run["b_simple_chosen_from"][epoch] == run["b_simple"][epoch - 1]
            assert run["updates"][epoch] - run["updates"][epoch - 1] == math.ceil(TRAIN_SIZE / expected)
        chosen.append(tuple(run["batch_size"]))
    # The batches are each seed's own: they differ from seed to seed.
    assert len(set(chosen)) > 1, chosen
    for seed in range(3):
        held, raised = (results["runs"][("mlp300", "sgd", schedule, seed)] for schedule in ("ibs_auto", "ibs_auto_lr"))
        # The first boundary's measurement is shared, so both choose the same second-stage batch; the
        # raised rate then keeps dlr's noise scale 0.01 * N / 4 / 5^s.
        assert raised["batch_size"][:2] == held["batch_size"][:2]
        for epoch in range(4):
            assert raised["learning_rate"][epoch] * TRAIN_SIZE / raised["batch_size"][epoch] == pytest.approx(
                0.01 * TRAIN_SIZE / 4 / 5 ** epoch, rel=1e-11)


@pytest.mark.slow
def test_per_seed_plans_survive_shards_and_resuming(auto_study, tmp_path):
    # Shard 2 of 2 trains seed 1 alone; then its ibs_auto run is lost, as in an interrupted study, and the
    # whole command trains the other shard's seeds and that run again on its own, without dlr and ibs.
    result = run_main(*TINY, "--seeds", "3", "--jobs", "1", "--shard", "2/2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert sorted(path.name for path in (tmp_path / "runs").glob("*.pickle")) == sorted(
        f"mlp300_sgd_{schedule}_seed1.pickle" for schedule in ("dlr", "ibs", "ibs_auto", "ibs_auto_lr"))
    os.remove(tmp_path / "runs" / "mlp300_sgd_ibs_auto_seed1.pickle")
    result = run_main(*TINY, "--seeds", "3", "--jobs", "2", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "trained 9 and reused 3" in result.stdout
    whole = safe_pickle.load(auto_study / "results.pickle")["runs"]
    pieced = safe_pickle.load(tmp_path / "results.pickle")["runs"]
    assert list(whole) == list(pieced)
    for key in whole:
        for name, values in without_seconds(whole)[key].items():
            np.testing.assert_array_equal(values, without_seconds(pieced)[key][name], err_msg=f"{key} {name}")


def test_the_time_left_is_corrected_as_the_run_decides(tmp_path):
    # An ibs_auto whose tiny kappa never grows its batch decides against the estimate (ibs's batches), and
    # its plans are const's throughout, so its epochs are trained, and must be priced, once.
    # (tests/test_workers.py checks the common case, with a worker that dies on the way.)
    schedules, kappa = ("const", "ibs_auto"), 1e-9
    from batchgrow.training import mnist
    arrays = mnist.load_mnist(None)
    settings = study.Settings(train_size=TRAIN_SIZE, test_size=200, epochs_per_stage=1, measure_noise=True,
                              auto_kappa=kappa, data_fingerprint=mnist.data_fingerprint(arrays))
    data = mnist.prepare_data(arrays, settings.train_size, settings.test_size)
    calls = []
    selection = grid.Selection(("mlp300",), ("sgd",), schedules, (0,))
    results, _ = grid.run_study(settings, selection, data, str(tmp_path), jobs=1,
                                progress=lambda *call: calls.append(call))
    done, total, runs_done, runs_total = calls[-1]
    # The run told the estimate what it chose, so done and total meet at the end, never crossing.
    assert (runs_done, runs_total) == (2, 2)
    assert total != pytest.approx(calls[0][1])
    assert done == pytest.approx(total, rel=1e-9)
    assert all(call[0] <= call[1] * (1 + 1e-9) for call in calls)
    assert results["runs"][("mlp300", "sgd", "ibs_auto", 0)]["batch_size"] == [4] * 4


def test_the_tables_give_the_mean_and_range_and_the_batches_chosen(auto_study, tmp_path):
    assert plots.main(["--results", str(auto_study / "results.pickle"), "--out", str(tmp_path)]) == 0
    results = analysis.load_results(auto_study / "results.pickle")
    runs = [results["runs"][("mlp300", "sgd", "ibs_auto", seed)] for seed in range(3)]
    updates = [run["updates"][-1] for run in runs]
    summary = (tmp_path / "summary.md").read_text()
    row = next(line for line in summary.splitlines() if "(ibs_auto)" in line)
    assert min(updates) != max(updates), updates  # Each seed's own batches took it its own updates.
    assert f"{np.mean(updates):,.0f} ({min(updates):,} to {max(updates):,})" in row
    assert "or the seeds' mean (smallest to largest)" in summary
    header = (tmp_path / "summary.csv").read_text().splitlines()[0].split(",")
    # The study recorded the model's training loss, so its verdict stands beside the accuracy's.
    assert header == list(analysis.SUMMARY_COLUMNS + ("trajectory_verdict",) + analysis.SUMMARY_RANGE_COLUMNS)
    # The fixed schedules keep their whole numbers.
    ibs_updates = sum(math.ceil(TRAIN_SIZE / batch) for batch in (4, 20, 100, 500))
    assert any(line.split(",")[2] == "ibs" and line.split(",")[7] == str(ibs_updates) for line in
               (tmp_path / "summary.csv").read_text().splitlines())
    chosen = (tmp_path / "batches_chosen.md").read_text()
    stage_2 = [run["batch_size"][1] for run in runs]
    assert f"B = {np.mean(stage_2):,.0f}" in chosen and "κ = 1" in chosen and "(ibs_auto_lr)" in chosen
    rows = [row for row in analysis.chosen_batches(results) if row["schedule"] == "ibs_auto"]
    assert [row["stage"] for row in rows] == [1, 2, 3, 4]
    assert rows[1]["batch_size_min"] == min(stage_2) and rows[1]["batch_size_max"] == max(stage_2)
    assert rows[0]["b_simple_chosen_from_mean"] is None
    assert rows[1]["b_simple_chosen_from_mean"] == pytest.approx(np.mean([run["b_simple"][0] for run in runs]))
    # The cost figure's point is the seeds' mean and range of updates.
    point = next(point for point in analysis.cost_of_fewer_updates(results, "sgd")["mlp300"]
                 if point["schedule"] == "ibs_auto")
    assert (point["updates_low"], point["updates_high"]) == (min(updates), max(updates))
    assert (tmp_path / "noise_scale_measured.png").exists()


def test_the_measured_figure_marks_every_batch_chosen(auto_study):
    results = analysis.load_results(auto_study / "results.pickle")
    figure, axes = plt.subplots()
    style = figure_style.schedule_style("ibs_auto")
    assert figures._mark_chosen_batches(axes, results["runs"], ("mlp300", "sgd", "ibs_auto"), results["config"],
                                        style)
    marked = sorted((int(x), float(y)) for line in axes.lines for x, y in zip(*line.get_data()))
    expected = sorted((epoch + 1, float(results["runs"][("mlp300", "sgd", "ibs_auto", seed)]["batch_size"][epoch]))
                      for seed in range(3) for epoch in range(1, 4))
    assert marked == expected
    # A fixed schedule has nothing to mark.
    assert not figures._mark_chosen_batches(axes, results["runs"], ("mlp300", "sgd", "ibs"), results["config"], style)
    plt.close(figure)
