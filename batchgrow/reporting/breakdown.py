"""Where the equivalence breaks: every committed study at once, in breakdown.png.

`python plots.py --breakdown results` reads every results.pickle under a
folder (load_studies), takes each schedule's final paired difference from dlr
against the largest B/N it reached (breakdown_points), and draws them, one
panel per network, with the margin (plot_breakdown). Colour is the schedule,
shape the optimizer, a hollow marker a study matched on the exact noise
scale; control schedules are grey, and they and ibs_auto, whose batches are not
matched to dlr's noise scale, have dashed bars.
"""
import textwrap
from pathlib import Path

import matplotlib.patches
import matplotlib.ticker

from batchgrow.reporting.analysis import (ResultsError, group_runs, load_results, ordered, paired_differences_from_dlr,
                                          run_sort_key)
from batchgrow.reporting.equivalence import equivalence_test
from batchgrow.reporting.figure_style import (MIN_FIGURE_WIDTH, SCHEDULE_STYLES, grow_below_legend, legend_below,
                                              plain_numbers, plt, save, schedule_style, sideways_offsets, suptitle)
from batchgrow.optimizers import ALL_OPTIMIZERS, is_known, optimizer_display_name, optimizer_record
from batchgrow.schedules import ALL_SCHEDULES, REFERENCE_SCHEDULE, schedule_display_name, schedule_kind
from batchgrow.study import ARCHITECTURE_NAMES, EQUIVALENCE_MARGIN_PP, MEASUREMENT_SETTINGS, SETTING_NAMES


# ---------------------------------------------------------------------------
# The points
# ---------------------------------------------------------------------------

def load_studies(folder):
    """[(name, results)] of every results.pickle under folder, at any depth, in path order.

    name is the pickle's folder relative to folder ("." for folder's own).
    Raises ResultsError when there is none, or for the first that cannot be
    read (load_results says why).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ResultsError(f"{folder} is not a folder; pass --breakdown a folder of studies")
    paths = sorted(folder.glob("**/results.pickle"), key=lambda path: path.parent.parts)
    if not paths:
        raise ResultsError(f"{folder} holds no results.pickle at any depth; run python main.py first")
    return [(path.parent.relative_to(folder).as_posix(), load_results(path, option="--breakdown"))
            for path in paths]


def breakdown_points(studies):
    """Each schedule's final paired difference from dlr against the largest B/N it reached.

    studies is what load_studies returns. Returns (points, left out):
    points is {arch: [point]} in display order of the networks, each point a
    dict with the study's name, optimizer, schedule, "form" (the noise-scale
    form its study matched: "approx" or "exact"), "control" (True for one of
    the schedules of kind "control" (schedules.py), whose batches depart from dlr's noise scale on
    purpose), "matched" (True for a schedule that keeps dlr's noise scale:
    not a control, nor ibs_auto), "batch_fraction" (its largest batch over the training set size,
    the largest any seed reached for a batch chosen during the run),
    the number of seeds paired with dlr, and the mean difference of final
    test accuracy from dlr in percentage points with its 90% interval (low
    and high, None for one pair) and TOST verdict (equivalence_test). left
    out names the studies not drawn: those with the original's optimizer
    reset, whose flaw the schedules would not explain.

    A study whose settings are another's holds the same experiment (the
    5-seed grid is the first five seeds of the 20-seed one, say), so a cell
    with the same settings in several studies is drawn once, from the study
    with the most seeds paired with dlr (the first of them in path order).
    """
    chosen, left_out = {}, []
    for name, results in studies:
        config = results["config"]
        if config.get("original_optimizer_reset"):
            left_out.append(name)
            continue
        # A measured study trains the same runs as an unmeasured one with its settings.
        settings = tuple(repr(config.get(setting)) for setting in SETTING_NAMES if setting not in MEASUREMENT_SETTINGS)
        cells = group_runs(results)
        for arch, optimizer, schedule in sorted(cells, key=lambda cell: run_sort_key(cell + (0,))):
            if schedule == REFERENCE_SCHEDULE:
                continue
            seeds, differences = paired_differences_from_dlr(cells, arch, optimizer, schedule)
            if not seeds:
                continue
            key = (settings, arch, optimizer, schedule)
            if key in chosen and chosen[key]["paired_seeds"] >= len(seeds):
                continue
            outcome = equivalence_test(differences)
            largest_batch = max(max(run["batch_size"]) for run in cells[(arch, optimizer, schedule)].values())
            chosen[key] = dict(
                study=name, architecture=arch, optimizer=optimizer, schedule=schedule,
                form=config.get("noise_scale", "approx"), control=schedule_kind(schedule, optimizer) == "control",
                matched=schedule_kind(schedule, optimizer) == "noise-matched",
                batch_fraction=float(largest_batch) / config["train_size"], paired_seeds=len(seeds),
                mean=outcome["mean"], low=outcome["low"], high=outcome["high"], verdict=outcome["verdict"])
    points = {}
    for point in chosen.values():
        points.setdefault(point["architecture"], []).append(point)
    return {arch: points[arch] for arch in ordered(points, ARCHITECTURE_NAMES)}, left_out


# ---------------------------------------------------------------------------
# The figure
# ---------------------------------------------------------------------------

def optimizer_marker(code):
    """In breakdown.png a marker's shape is its optimizer's (its record's marker)."""
    return optimizer_record(code).marker if is_known(code) else "o"


# Control schedules (defined by their batch sizes, their noise scale not
# matched to dlr's) are drawn in greys with dashed bars, in display order.
CONTROL_COLORS = ("0.1", "0.42", "0.62")
# Inches for the title, the panels and their axis labels; the legend below
# adds its own height to the figure's.
BREAKDOWN_PANELS_HEIGHT = 4.2
NOISE_SCALE_FORM_TEXT = {"approx": "approximate g = lr N / (B (1 − m))",
                         "exact": "exact g = lr (N/B − 1) / (1 − m)"}


def _breakdown_colors(points):
    """{schedule: colour}: each schedule's own from SCHEDULE_STYLES (the controls' are greys, black and
    sky blue there), greys in turn for a control the styles do not know."""
    schedules = ordered([point["schedule"] for arch_points in points.values() for point in arch_points],
                        ALL_SCHEDULES)
    controls = [schedule for schedule in schedules
                if any(point["control"] for arch_points in points.values() for point in arch_points
                       if point["schedule"] == schedule)]
    unknown = [schedule for schedule in controls if schedule not in SCHEDULE_STYLES]
    colors = {}
    for schedule in schedules:
        if schedule in SCHEDULE_STYLES:
            colors[schedule] = SCHEDULE_STYLES[schedule]["color"]
        elif schedule in unknown:
            colors[schedule] = CONTROL_COLORS[unknown.index(schedule) % len(CONTROL_COLORS)]
        else:  # A schedule without a hand-picked style that is no control: its default colour.
            colors[schedule] = schedule_style(schedule)["color"]
    return colors, controls


def plot_breakdown(points, path, studies=(), left_out=()):
    """Final accuracy minus dlr against the largest B/N each schedule reached, one panel per network.

    points and left_out are what analysis.breakdown_points returns; studies
    names the studies they were drawn from. Colour is the schedule, the
    marker's shape the optimizer; a filled marker was matched on the
    approximate noise scale, a hollow one on the exact; a schedule whose
    batches are not matched to dlr's noise scale (the controls, grey, and
    ibs_auto) has dashed bars. Bars are the 90% interval of TOST, so a bar inside the
    shaded ±margin band is an equivalent schedule.
    """
    architectures = list(points)
    colors, controls = _breakdown_colors(points)
    figure, panels = plt.subplots(1, len(architectures),
                                  figsize=(max(4.6 * len(architectures) + 0.6, MIN_FIGURE_WIDTH),
                                           BREAKDOWN_PANELS_HEIGHT),
                                  squeeze=False, sharex=True, sharey=True, layout="constrained")
    fractions = [point["batch_fraction"] for arch_points in points.values() for point in arch_points]
    suptitle(figure, "Where the equivalence breaks: each schedule's final test accuracy minus dlr's "
              "against the largest batch it reached, as a fraction of the training set", 12, 100)
    forms, optimizers, unmatched = set(), set(), set()
    for axes, arch in zip(panels[0], architectures):
        axes.axhspan(-EQUIVALENCE_MARGIN_PP, EQUIVALENCE_MARGIN_PP, color="0.85", linewidth=0, zorder=0)
        axes.axhline(0, color="0.4", linewidth=0.8, zorder=1)
        axes.axvline(1.0, color="0.5", linestyle=":", linewidth=1, zorder=1)
        arch_points = points[arch]
        offsets = sideways_offsets([point["batch_fraction"] for point in arch_points], 1.06)
        for point, offset in zip(arch_points, offsets):
            forms.add(point["form"])
            optimizers.add(point["optimizer"])
            color = colors[point["schedule"]]
            error = None
            if point["low"] is not None:
                error = [[point["mean"] - point["low"]], [point["high"] - point["mean"]]]
            hollow = point["form"] == "exact" and point["matched"]
            container = axes.errorbar(
                [point["batch_fraction"] * offset], [point["mean"]], yerr=error, color=color,
                marker=optimizer_marker(point["optimizer"]), markersize=7,
                markerfacecolor="white" if hollow else color, markeredgewidth=1.5 if hollow else 1.0,
                linestyle="none", capsize=3, elinewidth=1.3, zorder=3)
            if not point["matched"]:
                unmatched.add(point["schedule"])
                for bar in container[2]:
                    bar.set_linestyle("--")
        seed_counts = sorted({point["paired_seeds"] for point in arch_points})
        seeds_text = (f"{seed_counts[0]}" if len(seed_counts) == 1
                      else f"{seed_counts[0]} to {seed_counts[-1]}")
        axes.set_title(f"{ARCHITECTURE_NAMES.get(arch, arch)} ({seeds_text} paired seeds)", fontsize=10)
        axes.set_xscale("log")
        axes.xaxis.set_major_formatter(plain_numbers())
        axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        axes.set_xlim(min(fractions) / 2, max(max(fractions), 1.0) * 2)
        axes.set_xlabel("largest batch size / training set size, B/N (log scale)")
        axes.grid(True, alpha=0.3)
    panels[0][0].set_ylabel("final test accuracy minus dlr\n(percentage points)")
    handles = [plt.Line2D([], [], color=color, marker="o", markersize=7, linestyle="none",
                          label=schedule_display_name(schedule)
                          + (" (control)" if schedule in controls and "control" not in schedule_display_name(schedule) else ""))
               for schedule, color in colors.items()]
    handles += [plt.Line2D([], [], color="0.2", marker=optimizer_marker(optimizer), markersize=7,
                           linestyle="none", label=optimizer_display_name(optimizer))
                for optimizer in ordered(optimizers, ALL_OPTIMIZERS)]
    handles += [plt.Line2D([], [], color="0.2", marker="o", markersize=7, linestyle="none",
                           markerfacecolor="white" if form == "exact" else "0.2",
                           markeredgewidth=1.5 if form == "exact" else 1.0,
                           label=("hollow: " if form == "exact" else "filled: ") + NOISE_SCALE_FORM_TEXT[form])
                for form in ("approx", "exact") if form in forms]
    if unmatched and unmatched <= set(controls):
        handles.append(plt.Line2D([], [], color="0.4", linestyle="--",
                                  label="dashed bars: control, its batches not matched to dlr's g"))
    elif unmatched:
        handles.append(plt.Line2D([], [], color="0.4", linestyle="--",
                                  label="dashed bars: batches not matched to dlr's g ("
                                  + ", ".join(["the controls"] * bool(set(controls) & unmatched)
                                              + sorted(unmatched - set(controls))) + ")"))
    handles.append(matplotlib.patches.Patch(
        color="0.85", label=f"±{EQUIVALENCE_MARGIN_PP:g} pp equivalence margin"))
    explanation = "; ".join(filter(None, [
        "paired by seed with the same study's dlr",
        "bars: 90% Student-t interval (TOST)",
        "dotted line: B = N",
        "markers at one B/N are set slightly apart",
        f"{len(studies) - len(left_out)} studies"
        + (f"; left out: {', '.join(left_out)} (the original's optimizer reset)" if left_out else ""),
        "a cell run in two studies with the same settings is drawn once, from the one with more seeds"]))
    # Filled narrower than the figure, so that the legend's title does not take
    # the whole width and leave room for one column only: with a dozen
    # schedules a one-column legend squeezes the panels flat.
    legend = legend_below(figure, handles, 3, fontsize=9, frameon=False, title=textwrap.fill(explanation, 130),
                          title_fontsize=9)
    # Three dozen schedules make a legend taller than the panels; the figure
    # grows by the legend's height, so that the panels keep theirs.
    grow_below_legend(figure, legend, BREAKDOWN_PANELS_HEIGHT)
    return save(figure, path)
