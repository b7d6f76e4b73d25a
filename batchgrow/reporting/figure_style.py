"""The look shared by every figure: the schedules' styles, text fitted to the figure, the legend below, saving.

figures.py (one study's figures) and breakdown.py (every study at once)
both draw with these. Every schedule has one look in every figure
(schedule_style): a hand-picked one from SCHEDULE_STYLES, or, for a schedule
without one, a default that no other schedule has. PNGs carry no matplotlib
version, so the same pickle draws the same bytes after an upgrade of anything
else. Importing this module selects matplotlib's Agg backend.
"""
import math
import textwrap
import zlib
from pathlib import Path

import matplotlib

# Agg draws straight to PNG files and works without a display.
matplotlib.use("Agg")
import matplotlib.font_manager  # noqa: E402  (the backend must be chosen first)
import matplotlib.ticker  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402

from batchgrow.schedules import ALL_SCHEDULES, REFERENCE_SCHEDULE  # noqa: E402

DPI = 130

# One fixed look per schedule in every figure (colour-blind-safe colours).
# dlr is drawn wide with open markers and ibs narrow and dashed on top of it,
# so that the two stay visible where they coincide, as their noise scales do.
SCHEDULE_STYLES = {
    REFERENCE_SCHEDULE: dict(color="#0072B2", linestyle="-", linewidth=2.8, marker="o", markersize=8,
                markerfacecolor="none", markeredgewidth=1.5),
    "ibs": dict(color="#D55E00", linestyle="--", linewidth=1.6, marker="s", markersize=4),
    "hyb": dict(color="#009E73", linestyle="-.", linewidth=1.6, marker="^", markersize=5),
    # ibs_lr and ibs_mom share their batch sizes and ibs_mom shares ibs's
    # learning rate, so each has its own dash pattern and marker shape besides
    # its colour, and the lines stay apart where they coincide.
    "ibs_lr": dict(color="#CC79A7", linestyle=(0, (1, 1.5)), linewidth=2.0, marker="D",
                   markersize=5),
    "ibs_mom": dict(color="#E69F00", linestyle=(0, (6, 2, 1, 2, 1, 2)), linewidth=1.6,
                    marker="v", markersize=6),
    # The adaptive schedules take Paul Tol's wine, also safe for colour-blind
    # readers: the one Okabe and Ito colour left, yellow, is barely seen on white.
    "ibs_auto": dict(color="#882255", linestyle=(0, (8, 2, 2, 2)), linewidth=1.8, marker="p", markersize=6),
    # And Tol's olive for its variant that raises the learning rate with the batch.
    "ibs_auto_lr": dict(color="#999933", linestyle=(0, (4, 1, 1, 1)), linewidth=1.8, marker="H", markersize=6),
    # The controls are grey, black and sky blue, apart from the schedules that
    # match dlr's noise scale; the graded series darkens as its mismatch grows.
    "const": dict(color="#000000", linestyle=":", linewidth=1.8, marker="x", markersize=6),
    "ibs_slow": dict(color="#777777", linestyle=(0, (5, 1)), linewidth=1.6, marker="<", markersize=5),
    "ibs_fast": dict(color="#56B4E9", linestyle=(0, (1, 3)), linewidth=1.6, marker=">", markersize=5),
    "ibs_last_1_5x": dict(color="#BBBBBB", linestyle=(0, (3, 1)), linewidth=1.2, marker="P", markersize=4),
    "ibs_last_2x": dict(color="#999999", linestyle=(0, (3, 2)), linewidth=1.2, marker="X", markersize=4),
    "ibs_last_4x": dict(color="#666666", linestyle=(0, (3, 3)), linewidth=1.2, marker="*", markersize=5),
    "ibs_last_8x": dict(color="#333333", linestyle=(0, (3, 4)), linewidth=1.2, marker="h", markersize=4),
}

# Schedules without a hand-picked style take one of these in turn, in the
# order of the records (an unknown code by a checksum of its name): Paul
# Tol's other colour-blind-safe colours, with dash patterns and markers that no
# hand-picked style takes.
DEFAULT_COLORS = ("#332288", "#44AA99", "#117733", "#AA4499", "#88CCEE", "#DDCC77", "#CC6677", "#661100",
                  "#EE8866", "#AAAA00", "#77AADD", "#EEDD88")
DEFAULT_DASHES = ((0, (2, 1)), (0, (6, 1, 1, 1, 1, 1)), (0, (4, 2, 4, 2, 1, 2)), (0, (7, 2)), (0, (2, 2, 6, 2)),
                  (0, (1, 1, 1, 1, 5, 1)), (0, (9, 1, 2, 1)), (0, (3, 1, 3, 1, 1, 3)), (0, (5, 3, 1, 3)),
                  (0, (8, 3)), (0, (1, 2, 1, 2, 4, 2)), (0, (10, 2, 2, 2)))
DEFAULT_MARKERS = ("d", "8", "+", "1", "2", "3", "4", "|", "_", ".", 4, 5)


def schedule_style(code):
    """The line style of a schedule in every figure: its own, or a default distinct from every other record's."""
    if code in SCHEDULE_STYLES:
        return SCHEDULE_STYLES[code]
    unstyled = [name for name in ALL_SCHEDULES if name not in SCHEDULE_STYLES]
    index = unstyled.index(code) if code in unstyled else zlib.crc32(str(code).encode())
    color = DEFAULT_COLORS[index % len(DEFAULT_COLORS)]
    dashes = DEFAULT_DASHES[index % len(DEFAULT_DASHES)]
    return dict(color=color, linestyle=dashes, linewidth=1.6, marker=DEFAULT_MARKERS[index % len(DEFAULT_MARKERS)],
                markersize=5)


# Figures whose width grows with their panels are at least as wide as the
# figures of one cell, so that the title and the legend below the panels need
# not be squeezed into the width of a single narrow panel.
MIN_FIGURE_WIDTH = 7.0
# Text centred on the figure (its title, the legend below the panels) is kept
# this much narrower than the figure, so that rounding cannot push it off.
FIGURE_TEXT_MARGIN = 0.1
# A title centred on the axes of a one-panel figure sits right of the figure's
# centre by half the room the y axis's labels take at the left, so it is kept
# narrower than the figure by about twice that room.
AXES_TITLE_MARGIN = 1.6


def text_width(figure, text, fontsize):
    """Width in inches of the widest line of text at fontsize, as the figure would draw it."""
    renderer = figure.canvas.get_renderer()
    font = matplotlib.font_manager.FontProperties(size=fontsize)
    return max(renderer.get_text_width_height_descent(line, font, ismath=False)[0]
               for line in text.split("\n")) / figure.dpi


def fill_to_figure(figure, text, fontsize, width=None, margin=FIGURE_TEXT_MARGIN):
    """text filled to lines of width characters (None: left as it is), and wrapped narrower
    where a line would still be wider than the figure less margin inches."""
    available = figure.get_figwidth() - margin
    filled = text if width is None else textwrap.fill(text, width)
    width = width or len(text)
    while text_width(figure, filled, fontsize) > available and width > 20:
        width -= 1
        filled = textwrap.fill(text, width)
    return filled


def suptitle(figure, title, fontsize, width=None):
    """The figure's title, filled to width characters (None: one line) and to the figure."""
    figure.suptitle(fill_to_figure(figure, title, fontsize, width), fontsize=fontsize)


def legend_below(figure, handles, ncol, **options):
    """A legend centred below the panels in ncol columns, or fewer if it would be wider than
    the figure; a title wider than the figure is wrapped.

    options are figure.legend's (fontsize, frameon, title, title_fontsize).
    """
    title = options.get("title")
    if title:
        options["title"] = fill_to_figure(
            figure, title, options.get("title_fontsize") or matplotlib.rcParams["font.size"])
    available = figure.get_figwidth() - FIGURE_TEXT_MARGIN
    while True:
        legend = figure.legend(handles=handles, loc="outside lower center", ncol=ncol,
                               **options)
        width = legend.get_window_extent(figure.canvas.get_renderer()).width / figure.dpi
        if width <= available or ncol == 1:
            return legend
        legend.remove()
        ncol -= 1


def grow_below_legend(figure, legend, panels_height):
    """Makes the figure panels_height inches tall for its title and panels, plus the legend's own height."""
    legend_height = legend.get_window_extent(figure.canvas.get_renderer()).height / figure.dpi
    figure.set_figheight(panels_height + legend_height)


def plain_numbers():
    """A tick formatter that writes 0.5, 1, 20, 1e+06 as Python's g format does (a fresh one for each axis)."""
    return matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:g}")


def label_log_ticks(axis):
    """Labels a log axis with plain numbers, enough of them to read it by, however narrow its range.

    Call it once the data are drawn. Where two powers of ten fall inside the
    range, they are enough; else 1, 2 and 5 times them, where two of those
    do; else evenly spaced ticks, so that a ratio between 0.9 and 1.1 is not
    labelled "1" alone.
    """
    low, high = sorted(axis.get_view_interval())
    powers = [exponent for exponent in range(math.floor(math.log10(low)), math.ceil(math.log10(high)) + 1)
              if low <= 10.0 ** exponent <= high]
    if len(powers) < 2:
        subs = matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)).tick_values(low, high)
        if sum(low <= tick <= high for tick in subs) >= 2:
            axis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
        else:
            axis.set_major_locator(matplotlib.ticker.MaxNLocator(nbins=5, steps=[1, 2, 2.5, 5, 10]))
            axis.set_minor_locator(matplotlib.ticker.NullLocator())
    axis.set_major_formatter(plain_numbers())
    axis.set_minor_formatter(matplotlib.ticker.NullFormatter())


# PNG text chunks would otherwise name the matplotlib version, so that the same
# pickle drawn after an upgrade would give different bytes for the same picture.
PNG_METADATA = {"Software": None}


def save(figure, path):
    figure.savefig(path, dpi=DPI, metadata=PNG_METADATA)
    plt.close(figure)
    return Path(path)

def sideways_offsets(updates, step=1.08):
    """Factors that set markers with equal update counts slightly apart on a log axis."""
    offsets = []
    for index, count in enumerate(updates):
        same = [other for other in updates if other == count]
        position = updates[:index].count(count)
        # Spread symmetrically around the true count, 8% apart, which on a
        # log axis of one or two decades keeps their bars apart.
        offsets.append(step ** (position - (len(same) - 1) / 2))
    return offsets
