"""Tests of figures.py and figure_style.py: what every figure of one study shows, and the look they share.

The figures are drawn from synthetic.py's results and kept in memory
(the kept_figures fixture), so that their titles, legends and panels can be read.
"""
from pathlib import Path

import numpy as np
import pytest

from batchgrow.reporting import analysis
from batchgrow.reporting import figure_style
from batchgrow.reporting import figures
from batchgrow import optimizers
from batchgrow import schedules
from batchgrow import study
from batchgrow.reporting import tables
from conftest import texts_outside_the_canvas
from synthetic import (MACHINE_A, MACHINE_B, PAPER_SCHEDULES, TRAIN_SIZE, full_grid_accuracies, make_complete_config,
                       make_config, make_provenance, make_results, paper_grid_accuracies, with_measured_noise)


def exact_study(archs=("lenet5",), optimizers=optimizers.ALL_OPTIMIZERS, seeds=(0, 1)):
    """A study matched on the exact noise scale: main.py's batch sizes for it, at base batch 32."""
    config = make_complete_config(archs=archs, optimizers=optimizers, seeds=seeds)
    config.update(noise_scale="exact", base_batch_size=32)
    results = make_results(paper_grid_accuracies(archs=archs, optimizers=optimizers, seeds=seeds), config,
                           with_momentum=True)
    settings = study.Settings(train_size=TRAIN_SIZE, base_batch_size=32, noise_scale="exact")
    for (arch, optimizer, schedule, seed), run in results["runs"].items():
        plans = schedules.epoch_plans(schedule, optimizer, settings)
        run["batch_size"] = [plan.batch_size for plan in plans]
        run["learning_rate"] = [plan.learning_rate for plan in plans]
    return results


def one_optimizer_study():
    """One optimizer on one architecture with every schedule it runs, as in results/large_batch
    and results/original_reset, with the settings that lengthen the titles; ibs has one seed
    fewer, which lengthens the notes on the seeds."""
    archs, optimizers = ["lenet5"], ["momentum"]
    config = make_complete_config(archs=archs, optimizers=optimizers, machines=(MACHINE_A,))
    config.update(base_batch_size=32, original_optimizer_reset=True)
    finals = paper_grid_accuracies(archs=archs, optimizers=optimizers)
    del finals[("lenet5", "momentum", "ibs", 1)]
    return make_results(finals, config, with_momentum=True)


def four_optimizer_study():
    """Every optimizer (SGD, momentum, Nesterov, Adam, RMSprop) on two architectures, with ibs_lr and
    (for momentum and Nesterov) ibs_mom."""
    archs = ["mlp300", "lenet5"]
    return make_results(paper_grid_accuracies(archs=archs),
                        make_complete_config(archs=archs, machines=(MACHINE_A, MACHINE_B)),
                        with_momentum=True)


def exact_momentum_study():
    """Every optimizer matched on the exact noise scale at momentum 0.98, base batch 32: the longest
    titles a study without the reset has."""
    results = exact_study()
    results["config"].update(momentum_coefficient=0.98, momentum_learning_rate=0.0002)
    return results


def measured_study():
    """The exact study at momentum 0.98 with the gradient noise scale measured, one |G|^2 unresolved:
    its noise figure with the longest title and legend."""
    return with_measured_noise(exact_momentum_study(), unresolved=("lenet5", "adam", "ibs", 0))


def test_every_schedule_has_a_name_and_a_distinct_style():
    assert schedules.schedule_display_name("ibs_lr") == "increased learning rate (ibs_lr)"
    assert schedules.schedule_display_name("ibs_mom") == "increased momentum (ibs_mom)"
    # A record without a hand-picked style (seesaw, dlr_sqrt) draws in a default that no other record has,
    # and a code no record has gets one too.
    assert set(figure_style.SCHEDULE_STYLES) < set(schedules.ALL_SCHEDULES)
    styles = [figure_style.schedule_style(name) for name in schedules.ALL_SCHEDULES]
    assert figure_style.schedule_style("cosine")["color"] in figure_style.DEFAULT_COLORS
    # Okabe and Ito's colour-blind-safe palette, one colour, marker and dash each.
    # The controls take greys and black besides, so that they stand apart.
    okabe_ito = {"#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2", "#D55E00", "#CC79A7"}
    assert {style["color"] for name, style in figure_style.SCHEDULE_STYLES.items()
            if name not in schedules.CONTROL_SCHEDULES + schedules.ADAPTIVE_SCHEDULES} <= okabe_ito
    assert {figure_style.schedule_style(name)["color"] for name in ("seesaw", "dlr_sqrt")} <= set(
        figure_style.DEFAULT_COLORS)
    # The adaptive schedules take Paul Tol's wine and olive: the palette's yellow is barely seen on white.
    assert [figure_style.SCHEDULE_STYLES[name]["color"] for name in schedules.ADAPTIVE_SCHEDULES] == ["#882255", "#999933"]
    greys = {"#000000", "#333333", "#666666", "#777777", "#999999", "#BBBBBB"}
    assert {style["color"] for name, style in figure_style.SCHEDULE_STYLES.items()
            if name in schedules.CONTROL_SCHEDULES} <= okabe_ito | greys
    for key in ("color", "marker"):
        assert len({style[key] for style in styles}) == len(styles), key
    assert len({str(style["linestyle"]) for style in styles}) == len(styles)


def test_a_study_on_the_exact_noise_scale_says_so_in_its_summary_and_figure(tmp_path, kept_figures):
    results = exact_study()
    scales = analysis.noise_scales(results)
    dlr = scales[("sgd", "dlr")]
    assert dlr[0] == pytest.approx(0.01 * (TRAIN_SIZE / 32 - 1))
    assert dlr[-1] == pytest.approx(0.01 / 125 * (TRAIN_SIZE / 32 - 1))
    for optimizer in ("sgd", "momentum"):
        for schedule in ("ibs", "hyb", "ibs_lr"):
            # Only the batch's rounding to a whole number separates them.
            assert scales[(optimizer, schedule)] == pytest.approx(scales[(optimizer, "dlr")], rel=1e-2)
    figures.plot_noise_scale(results, "noise_scale.png")
    titles = [axes.get_title() for axes in kept_figures[0].axes if axes.get_visible()]
    assert titles[0].startswith("SGD: exact g = lr × (N / B − 1) (m = 0)")
    assert titles[1].startswith("SGD + momentum: exact g = lr × (N / B − 1) / (1 − m)")
    assert titles[3].startswith("Adam: exact g = lr × (N / B − 1)")
    assert "ibs_lr 0.1% (batch size rounded)" in titles[0] and "capped" not in titles[0]
    assert "exact noise scale" in kept_figures[0]._suptitle.get_text()
    rows = analysis.summarize(results)
    summary = tables.write_summary_markdown(rows, tmp_path / "summary.md", results["config"],
                                            results["provenance"]).read_text()
    assert summary.startswith("# Summary (base batch 32, exact noise scale)\n")
    assert ("The schedules match the exact noise scale g = lr (N/B − 1) / (1 − m) (Smith and Le 2017), "
            "not the approximation g = lr N / (B (1 − m)): dlr sets each stage's g from its own learning "
            "rate lr, batch B and momentum m, and ibs, hyb, ibs_lr and ibs_mom keep their own lr and m and "
            "take the batch B = N / (1 + g (1 − m) / lr)") in summary
    # A study on the approximation, the default, says nothing of it.
    approximate = make_results(full_grid_accuracies(), make_config())
    assert approximate["config"]["noise_scale"] == "approx"
    assert tables.noise_scale_sentence(approximate["config"]) == ""


def test_noise_scale_figure_names_its_formulas_and_says_adam_is_not_predicted(kept_figures):
    results = make_results(paper_grid_accuracies(archs=["lenet5"], seeds=(0,)),
                           make_complete_config(archs=["lenet5"], seeds=[0]), with_momentum=True)
    figures.plot_noise_scale(results, "noise_scale.png")
    titles = [axes.get_title() for axes in kept_figures[0].axes if axes.get_visible()]
    assert len(titles) == 5
    assert titles[0].startswith("SGD: g = lr × N / B (no momentum, m = 0)")
    assert titles[1].startswith("SGD + momentum: g = lr × N / (B × (1 − m))")
    assert titles[2].startswith("Nesterov: g = lr × N / (B × (1 − m))")
    assert titles[3].startswith("Adam: g = lr × N / B")
    assert "noise-scale argument is about SGD" in titles[3]
    assert "does not predict Adam" in titles[3]
    assert titles[4].startswith("RMSprop: g = lr × N / B") and "does not predict RMSprop" in titles[4]
    assert "ibs_mom 0.0%" in titles[1] and "ibs_lr 0.0%" in titles[0]
    assert "m momentum coefficient" in kept_figures[0]._suptitle.get_text()


def test_schedules_figure_adds_a_momentum_panel_only_when_a_run_has_momentum(kept_figures):
    momentum_study = make_results(paper_grid_accuracies(archs=["lenet5"], seeds=(0,)),
                                  make_complete_config(archs=["lenet5"], seeds=[0]), with_momentum=True)
    momenta = analysis.schedule_momenta(momentum_study)
    assert momenta["dlr"][0] == 0.9 and momenta["ibs_mom"][0] == 0.98
    figures.plot_schedules(momentum_study, "schedules.png")
    panels = kept_figures[-1].axes
    assert len(panels) == 3 and panels[2].get_title().startswith("momentum coefficient m")
    # ibs_lr's learning rate is 5 times the base.
    rate_labels = [label.get_text() for label in panels[0].get_yticklabels()]
    assert rate_labels[-2:] == ["1", "5"] and rate_labels[0] == "1/125"
    # Plain SGD (m = 0) and Adam (a constant beta_1) need no momentum panel,
    # with or without the momentum list.
    for with_momentum in (False, True):
        plain_study = make_results(full_grid_accuracies(seeds=(0,)), make_config(seeds=[0]),
                                   with_momentum=with_momentum)
        assert analysis.schedule_momenta(plain_study) == {}
        figures.plot_schedules(plain_study, "schedules.png")
        assert len(kept_figures[-1].axes) == 2


def test_accuracy_figures_show_all_five_schedules(kept_figures):
    results = make_results(paper_grid_accuracies(archs=["lenet5"], optimizers=["nesterov"]),
                           make_complete_config(archs=["lenet5"], optimizers=["nesterov"]),
                           with_momentum=True)
    schedule_runs = {key[2]: seed_runs for key, seed_runs in analysis.group_runs(results).items()}
    figures.plot_accuracy_by_updates(schedule_runs, "lenet5", "nesterov", results["config"],
                                     "accuracy_updates.png")
    figure = kept_figures[0]
    # Five schedules leave no corner free: their legend is below the axes.
    assert figure.axes[0].get_legend() is None
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == [schedules.schedule_display_name(schedule) for schedule in PAPER_SCHEDULES]


def test_cost_figure_has_a_panel_per_architecture_with_the_margin_band(kept_figures):
    results = make_results(paper_grid_accuracies(archs=["mlp300", "lenet5"],
                                                 optimizers=["momentum"]),
                           make_complete_config(archs=["mlp300", "lenet5"], optimizers=["momentum"]),
                           with_momentum=True)
    points = analysis.cost_of_fewer_updates(results, "momentum")
    figures.plot_cost_of_fewer_updates(points, "momentum", results["config"], "cost.png")
    figure = kept_figures[0]
    assert [axes.get_title() for axes in figure.axes] == ["300-unit MLP (2 paired seeds)",
                                                          "LeNet-5 (2 paired seeds)"]
    axes = figure.axes[0]
    assert axes.get_xscale() == "log"
    assert "parameter updates per run" in axes.get_xlabel()
    assert "final test accuracy minus dlr" in axes.get_ylabel()
    band = axes.patches[0]
    assert (band.get_y(), band.get_y() + band.get_height()) == pytest.approx((-0.1, 0.1))
    # Each schedule is named beside its marker and in the legend.
    assert [text.get_text() for text in axes.texts] == list(PAPER_SCHEDULES)
    labels = [text.get_text() for text in figure.legends[0].get_texts()]
    assert labels == [schedules.schedule_display_name(schedule) for schedule in PAPER_SCHEDULES] + [
        "±0.1 pp equivalence margin"]
    assert [label.get_text() for label in axes.get_xticklabels()] == [
        "3,744", "18,720", "26,004", "60,000"]


def test_seconds_figure_names_the_machines_that_trained_its_runs(tmp_path, kept_figures):
    finals = {("lenet5", "sgd", schedule, seed): 0.98
              for schedule in ("dlr", "ibs") for seed in (0, 1, 2)}
    finals.update({("mlp300", "sgd", "dlr", seed): 0.97 for seed in (0, 1, 2)})
    config = make_complete_config(archs=["mlp300", "lenet5"], optimizers=["sgd"],
                                  schedules=["dlr", "ibs"], seeds=[0, 1, 2],
                                  machines=["the machine that assembled"])
    results = make_results(finals, config)
    results["provenance"] = make_provenance(
        results["runs"], lambda key: MACHINE_B if key[0] == "lenet5" and key[3] == 2
        else MACHINE_A)
    figures.draw_all_figures(results, tmp_path)
    labels = {figure._suptitle.get_text(): figure.axes[0].get_xlabel()
              for figure in kept_figures if "training time" in figure._suptitle.get_text()}
    assert labels["300-unit MLP, SGD: test accuracy by training time"] == (
        f"cumulative wall-clock seconds on {MACHINE_A}")
    assert " ".join(labels["LeNet-5, SGD: test accuracy by training time"].split()) == (
        f"cumulative wall-clock seconds (mixed: {MACHINE_A} (4 runs); {MACHINE_B} (2 runs))")


@pytest.mark.slow
@pytest.mark.parametrize("make_study", [one_optimizer_study, four_optimizer_study, exact_momentum_study,
                                        measured_study],
                         ids=["one optimizer", "every optimizer", "exact at momentum 0.98", "measured noise"])
def test_every_figure_keeps_all_its_text_inside_the_canvas(make_study, monkeypatch, tmp_path, drawn_texts):
    # Only the texts a figure draws count (drawn_texts records them as they draw).
    offenders, checked = [], []

    def check_then_close(figure, path):
        offenders.extend(texts_outside_the_canvas(figure, drawn_texts, Path(path).name))
        checked.append(Path(path).name)
        figures.plt.close(figure)
        return Path(path)

    monkeypatch.setattr(figures, "save", check_then_close)
    written, skipped = figures.draw_all_figures(make_study(), tmp_path)
    assert skipped == [] and sorted(checked) == sorted(path.name for path in written)
    assert {"overview.png", "noise_scale.png", "schedules.png"} <= set(checked)
    assert ("noise_scale_measured.png" in checked) == (make_study is measured_study)
    assert any(name.startswith("cost_of_fewer_updates_") for name in checked)
    assert offenders == [], "text outside the canvas:\n" + "\n".join(offenders)


def test_the_measured_noise_figure_is_drawn_only_for_measured_runs(tmp_path, monkeypatch):
    monkeypatch.setattr(figures, "save", lambda figure, path: figures.plt.close(figure) or Path(path))
    config = make_config(seeds=(0, 1))
    plain = make_results(full_grid_accuracies(), dict(config))
    written, _ = figures.draw_all_figures(plain, tmp_path)
    assert "noise_scale_measured.png" not in {path.name for path in written}
    assert analysis.measured_noise_scales(plain) == {}
    measured = with_measured_noise(make_results(full_grid_accuracies(), dict(config)))
    written_measured, _ = figures.draw_all_figures(measured, tmp_path)
    assert sorted(path.name for path in written_measured) == sorted(
        [path.name for path in written] + ["noise_scale_measured.png"])


def test_the_measured_noise_scale_is_the_ratio_of_the_seeds_means(kept_figures):
    results = with_measured_noise(make_results(full_grid_accuracies(), make_config()),
                                  unresolved=("mlp300", "sgd", "ibs", 0), leave_out=[("lenet5", "adam")])
    measured = analysis.measured_noise_scales(results)
    assert list(measured) == [(arch, optimizer) for arch in study.ARCHITECTURES for optimizer in optimizers.OPTIMIZERS
                              if (arch, optimizer) != ("lenet5", "adam")]
    b_simple, batch_size, seeds = measured[("mlp300", "sgd", )]["dlr"]
    # Seeds 0 and 1: tr(Sigma) 1.0 and 1.1 times 50 * 0.9^epoch, |G|^2 0.5 * 0.6^epoch in both.
    expected = [1.05 * 50 * 0.9 ** epoch / (0.5 * 0.6 ** epoch) for epoch in range(12)]
    np.testing.assert_allclose(b_simple, expected)
    assert seeds == 2 and list(batch_size) == [4] * 12
    # Seed 0's |G|^2 below 0 at the last epoch: the mean of -0.01 and 0.5 * 0.6^11 is not positive.
    ibs = measured[("mlp300", "sgd")]["ibs"][0]
    assert np.isnan(ibs[-1]) and np.all(np.isfinite(ibs[:-1]))
    assert list(measured[("mlp300", "sgd")]["ibs"][1]) == [4, 4, 4, 20, 20, 20, 100, 100, 100, 500, 500, 500]
    figures.plot_noise_scale_measured(results, "noise_scale_measured.png")
    figure = kept_figures[0]
    panels = [axes for axes in figure.axes if axes.get_title()]
    assert len(panels) == 6
    lenet_adam = next(axes for axes in panels if axes.get_title() == "LeNet-5, Adam")
    assert [text.get_text() for text in lenet_adam.texts] == ["not measured"]
    mlp_sgd = next(axes for axes in panels if axes.get_title() == "300-unit MLP, SGD")
    assert mlp_sgd.get_yscale() == "log" and len(mlp_sgd.lines) >= 6  # B_simple and B for each of 3 schedules.
    np.testing.assert_allclose(mlp_sgd.lines[0].get_ydata(), expected)
    explanation = " ".join(figure.legends[0].get_title().get_text().split())
    assert "a gap: |G|² not resolved above the noise" in explanation
    assert "each from 2 batches of 1,024 images split into batches of 32" in explanation
    assert "drawn without replacement from 4,096 training images per seed" in explanation
    assert "B_simple = tr(Σ) / |G|²" in figure._suptitle.get_text()


@pytest.mark.parametrize("low, high, labelled", [(0.9, 1.1, 3), (0.35, 1.5, 2), (0.01, 10.0, 3)])
def test_a_log_axis_is_labelled_with_numbers_however_narrow_its_range(low, high, labelled):
    # A ratio from 0.9 to 1.1 once showed the single label "1": its range held no other tick of a log axis.
    figure, axes = figure_style.plt.subplots()
    try:
        axes.plot([0, 1], [low, high])
        axes.set_yscale("log")
        figure_style.label_log_ticks(axes.yaxis)
        figure.canvas.draw()
        bottom, top = axes.get_ylim()
        ticks = [tick for tick in axes.yaxis.get_majorticklocs() if bottom <= tick <= top]
        labels = [label.get_text() for label in axes.yaxis.get_ticklabels(which="both")
                  if label.get_text() and bottom <= label.get_position()[1] <= top]
        # As many distinct labels as ticks in view, each the number its tick stands at.
        assert len(ticks) >= labelled and len(set(labels)) == len(labels) == len(ticks)
        assert sorted(float(label) for label in labels) == pytest.approx(sorted(ticks))
    finally:
        figure_style.plt.close(figure)
