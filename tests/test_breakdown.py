"""Tests of breakdown.py: every study of a folder at once, each schedule's final difference from dlr against B/N."""
from pathlib import Path

import matplotlib.collections
import pytest

from batchgrow.reporting import breakdown
from batchgrow.reporting import equivalence
from batchgrow.reporting import figures
from batchgrow import schedules
from batchgrow import study
from conftest import texts_outside_the_canvas
from synthetic import TRAIN_SIZE, breakdown_folder


def test_breakdown_points_take_every_study_once_with_its_largest_batch(tmp_path):
    studies = breakdown.load_studies(breakdown_folder(tmp_path / "studies"))
    assert [name for name, _ in studies] == [".", "control", "more_seeds", "nested/exact", "reset"]
    points, left_out = breakdown.breakdown_points(studies)
    assert left_out == ["reset"]
    drawn = {(point["study"], point["schedule"]): point for point in points["lenet5"]}
    # The root's cells have the settings of more_seeds, which has more seeds: drawn from there, once.
    assert sorted(drawn) == [("control", "const"), ("more_seeds", "hyb"), ("more_seeds", "ibs"),
                             ("nested/exact", "ibs_lr")]
    ibs = drawn[("more_seeds", "ibs")]
    assert ibs["paired_seeds"] == 3 and ibs["batch_fraction"] == pytest.approx(500 / TRAIN_SIZE)
    outcome = equivalence.equivalence_test([-0.1, -0.08, -0.06])
    for key in ("mean", "low", "high", "verdict"):
        assert ibs[key] == pytest.approx(outcome[key]), key
    assert drawn[("more_seeds", "hyb")]["batch_fraction"] == pytest.approx(45 / TRAIN_SIZE)
    assert [(point["form"], point["control"]) for point in (ibs, drawn[("nested/exact", "ibs_lr")],
                                                            drawn[("control", "const")])] == [
        ("approx", False), ("exact", False), ("approx", True)]
    assert drawn[("nested/exact", "ibs_lr")]["batch_fraction"] == pytest.approx(2500 / TRAIN_SIZE)


def test_breakdown_figure_marks_forms_and_controls_and_keeps_its_text_inside(tmp_path, monkeypatch, drawn_texts):
    kept = []
    monkeypatch.setattr(breakdown, "save", lambda figure, path: kept.append(figure) or Path(path))
    studies = breakdown.load_studies(breakdown_folder(tmp_path / "studies"))
    points, left_out = breakdown.breakdown_points(studies)
    # Three networks, as the committed studies have, widen the figure and crowd its legend.
    points = {arch: [dict(point, architecture=arch) for point in points["lenet5"]] for arch in study.ARCHITECTURES}
    breakdown.plot_breakdown(points, tmp_path / "breakdown.png", [name for name, _ in studies], left_out)
    figure, = kept
    try:
        assert texts_outside_the_canvas(figure, drawn_texts, "breakdown.png") == []
        panels = [axes for axes in figure.axes if axes.get_visible()]
        assert [axes.get_title() for axes in panels] == [
            f"{study.ARCHITECTURE_NAMES[arch]} (2 to 3 paired seeds)" for arch in study.ARCHITECTURES]
        assert panels[0].get_xscale() == "log"
        # However long the legend below, the panels keep a readable height (a tall legend once squeezed them flat).
        assert all(axes.get_position().height * figure.get_figheight() >= 2.0 for axes in panels)
        labels = [text.get_text() for text in figure.legends[0].get_texts()]
        assert schedules.schedule_display_name("const") in labels and "control" in schedules.schedule_display_name("const")
        assert "SGD" in labels
        assert "filled: approximate g = lr N / (B (1 − m))" in labels
        assert "hollow: exact g = lr (N/B − 1) / (1 − m)" in labels
        assert "±0.1 pp equivalence margin" in labels
        title = figure.legends[0].get_title().get_text()
        assert "90% Student-t interval" in title and "reset" in title
        # The exact study's marker is hollow, the others filled; the control's bars are dashed.
        lines = [line for line in panels[0].get_lines() if line.get_marker() not in (None, "None", "")]
        faces = {line.get_markerfacecolor() for line in lines}
        assert "white" in faces and len(faces) > 1
        bar_styles = [collection.get_linestyle() for collection in panels[0].collections
                      if isinstance(collection, matplotlib.collections.LineCollection)]
        assert any(dashes for styles in bar_styles for _, dashes in styles)
        assert any(not dashes for styles in bar_styles for _, dashes in styles)
    finally:
        figures.plt.close(figure)
