"""Figures: every PNG that plots.py draws, from the rows and runs of analysis.py.

- accuracy_epoch_{arch}_{optimizer}.png    test accuracy against epoch
- accuracy_updates_{arch}_{optimizer}.png  test accuracy against parameter updates
- accuracy_seconds_{arch}_{optimizer}.png  test accuracy against wall seconds
- train_loss_{arch}_{optimizer}.png        training loss against epoch
- schedules.png                            learning rate, batch size and, when runs
                                           have momentum, its coefficient per epoch
- noise_scale.png                          noise scale g = lr * N / (B * (1 - m)) per epoch
                                           (lr * N / B for Adam, for comparison), or its
                                           exact form lr * (N / B - 1) / (1 - m) where the
                                           study matched that
- noise_scale_measured.png                 only for runs measured with --measure-noise: the
                                           gradient noise scale B_simple = tr(Σ) / |G|² per
                                           epoch, per architecture and optimizer, with each
                                           schedule's batch size drawn over it
- overview.png                             all architecture x optimizer panels
- cost_of_fewer_updates_{optimizer}.png    final accuracy minus dlr against parameter
                                           updates, per architecture, with the margin

breakdown.png, drawn from every study of a folder at once, is breakdown.py's.

The look every figure shares (the schedules' styles, text fitted to the
figure, the legend below the panels, saving) is figure_style.py's.
"""
import math
import textwrap
from pathlib import Path

import matplotlib.patches
import matplotlib.ticker
import numpy as np

from batchgrow.reporting.analysis import (base_learning_rate, cell_statistics, cost_of_fewer_updates, group_runs,
                                          measured_noise_scales, noise_scales, ordered, representative_runs,
                                          schedule_momenta, selected_architectures_and_optimizers)
from batchgrow.reporting.figure_style import (AXES_TITLE_MARGIN, MIN_FIGURE_WIDTH, fill_to_figure, label_log_ticks,
                                              legend_below, plain_numbers, plt, save, schedule_style,
                                              sideways_offsets, suptitle)
from batchgrow.gradient_noise import measurement_sizes
from batchgrow.provenance import describe_machines, machine_counts
from batchgrow.optimizers import (ALL_OPTIMIZERS, is_known, noise_scale_formula, noise_scale_note,
                                  optimizer_display_name, optimizer_record)
from batchgrow.schedules import ALL_SCHEDULES, REFERENCE_SCHEDULE, is_adaptive, schedule_display_name, schedule_kind
from batchgrow.study import (ADAPTIVE_METRICS, ARCHITECTURE_NAMES, DEFAULT_DATA_NAME, EQUIVALENCE_MARGIN_PP,
                             SETTING_NAMES, TRAJECTORY_MARGIN, Settings)
from batchgrow.reporting.tables import settings_suffix
from batchgrow.reporting.trajectory import has_trajectory, loss_curves, trajectory_rows

# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------


def _cell_title(arch, optimizer):
    return (f"{ARCHITECTURE_NAMES.get(arch, arch)}, "
            f"{optimizer_display_name(optimizer)}")


def _band_description(seed_counts):
    """Say how many seeds each line averages and what the shaded band is."""
    counts = sorted(set(seed_counts))
    if counts == [1]:
        return "one seed per schedule (no spread to show)"
    seeds = (f"{counts[0]} seeds" if len(counts) == 1
             else f"{counts[0]} to {counts[-1]} seeds")
    where = " where there are two or more" if counts[0] == 1 else ""
    return f"line: mean of {seeds}; band: ± 1 standard deviation across seeds{where}"


def draw_schedule_curves(axes, schedule_runs, y_metric, x_metric=None, scale=1.0):
    """Draw one mean line with a ±1 std band per schedule.

    schedule_runs maps schedule -> {seed: run}. The x axis is the epoch number
    when x_metric is None, else the seed mean of that per-epoch metric.
    Returns [(mean, std, seed count)] of the drawn y values, already scaled.
    """
    drawn = []
    for schedule in ordered(schedule_runs, ALL_SCHEDULES):
        seed_runs = schedule_runs[schedule]
        mean, std, count = cell_statistics(seed_runs, y_metric)
        # A diverged run's infinite or undefined losses are left out of the line, not of the data.
        mean = np.where(np.isfinite(mean), mean, np.nan)
        std = None if std is None else np.where(np.isfinite(std), std, np.nan)
        if x_metric is None:
            x_values = np.arange(1, len(mean) + 1)
        else:
            x_values = cell_statistics(seed_runs, x_metric)[0][:len(mean)]
        style = schedule_style(schedule)
        axes.plot(x_values, scale * mean, label=schedule_display_name(schedule),
                  **style)
        if std is not None:
            axes.fill_between(x_values, scale * (mean - std), scale * (mean + std),
                              color=style.get("color"), alpha=0.18, linewidth=0)
        drawn.append((scale * mean, None if std is None else scale * std, count))
    return drawn


def zoom_accuracy_axis(axes, drawn):
    """Limit the y axis to where the curves are once the first epoch is over.

    The first epoch is far below the rest and would squash the differences
    that matter, so the range starts a little below the lowest later mean.
    Returns a note saying where epoch 1 lies if it fell below the range, else "".
    """
    lowest = min(float(np.min(mean[1:] if len(mean) > 1 else mean)) for mean, _, _ in drawn)
    highest = max(float(np.max(mean if std is None else mean + std)) for mean, std, _ in drawn)
    span = max(highest - lowest, 0.5)
    bottom = lowest - 0.15 * span
    axes.set_ylim(bottom, min(100.0, highest + 0.1 * span))
    first_epoch = [float(mean[0]) for mean, _, _ in drawn]
    if min(first_epoch) >= bottom:
        return ""
    low, high = f"{min(first_epoch):.1f}%", f"{max(first_epoch):.1f}%"
    return f"epoch 1 ({low if low == high else f'{low} to {high}'}) is below the y range"


def mark_stage_boundaries(axes, epochs, epochs_per_stage):
    """Dotted vertical lines between stages, where the schedules change step."""
    for boundary in range(epochs_per_stage, epochs, epochs_per_stage):
        axes.axvline(boundary + 0.5, color="0.6", linestyle=":", linewidth=1)


def _epoch_axis(axes, epochs, config):
    mark_stage_boundaries(axes, epochs, config["epochs_per_stage"])
    axes.set_xticks(range(1, epochs + 1))
    axes.set_xlabel("epoch (dotted lines: stage boundaries)")


def _new_figure(title, size=(7, 4.8)):
    # Constrained layout keeps the title, the subtitle and the axes apart.
    figure, axes = plt.subplots(figsize=size, layout="constrained")
    # A title naming departed settings is too wide for one line at this size.
    suptitle(figure, title, 12, 72)
    axes.grid(True, which="major", alpha=0.3)
    return figure, axes


def _subtitle(axes, first_line, *notes):
    """Small grey text above the axes: first_line, then any non-empty notes on a second line.

    Either is wrapped where it would reach past the figure's edge.
    """
    notes = "; ".join(note for note in notes if note)
    lines = [fill_to_figure(axes.figure, line, 9, margin=AXES_TITLE_MARGIN)
             for line in (first_line, notes) if line]
    axes.set_title("\n".join(lines), fontsize=9, color="0.3")

# Up to this many schedules fit in a legend inside the axes; more go below them.
LEGEND_INSIDE_AT_MOST = 3


def _cell_figure_size(schedule_runs):
    """A taller figure when the legend goes below the axes, so the axes keep their height."""
    return (7, 4.8) if len(schedule_runs) <= LEGEND_INSIDE_AT_MOST else (7, 5.6)


def _schedule_legend(figure, axes, inside_location):
    """The legend of the schedules drawn on axes: inside at inside_location if few, else below."""
    handles, _ = axes.get_legend_handles_labels()
    if len(handles) <= LEGEND_INSIDE_AT_MOST:
        axes.legend(loc=inside_location, fontsize=9)
    else:
        # Five curves leave no corner free, so the legend sits under the axes.
        legend_below(figure, handles, 2, fontsize=9, frameon=False)


def _seed_counts(schedule_runs):
    return [len(seed_runs) for seed_runs in schedule_runs.values()]


# ---------------------------------------------------------------------------
# One network and optimizer: accuracy and loss
# ---------------------------------------------------------------------------


def _plot_accuracy(schedule_runs, arch, optimizer, config, x_metric, what, note=""):
    """Test accuracy (mean and band over seeds) against epoch or another per-epoch metric."""
    figure, axes = _new_figure(
        f"{_cell_title(arch, optimizer)}: test accuracy by {what}{settings_suffix(config)}",
        _cell_figure_size(schedule_runs))
    drawn = draw_schedule_curves(axes, schedule_runs, "test_accuracy", x_metric, scale=100)
    clipped_note = zoom_accuracy_axis(axes, drawn)
    if x_metric is None:
        _epoch_axis(axes, max(len(mean) for mean, _, _ in drawn), config)
    _subtitle(axes, _band_description(_seed_counts(schedule_runs)), note, clipped_note)
    axes.set_ylabel("test accuracy (%)")
    _schedule_legend(figure, axes, "lower right")
    return figure, axes


def plot_accuracy_by_epoch(schedule_runs, arch, optimizer, config, path):
    """Test accuracy against epoch for one architecture and optimizer."""
    figure, _ = _plot_accuracy(schedule_runs, arch, optimizer, config, None, "epoch")
    return save(figure, path)


def plot_accuracy_by_updates(schedule_runs, arch, optimizer, config, path):
    """Test accuracy against cumulative parameter updates (log scale)."""
    figure, axes = _plot_accuracy(schedule_runs, arch, optimizer, config, "updates",
                                  "parameter updates", "one marker per epoch")
    axes.set_xscale("log")
    # Ticks at 1, 2 and 5 times each power of ten, written out in full: the
    # default minor labels (3 x 10^2, 4 x 10^2, ...) run into one another.
    axes.xaxis.set_major_locator(matplotlib.ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    axes.xaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda value, _: f"{value:,.0f}"))
    axes.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    axes.set_xlabel("cumulative parameter updates (log scale)")
    return save(figure, path)


def plot_accuracy_by_seconds(schedule_runs, arch, optimizer, config, path, machines):
    """Test accuracy against cumulative wall-clock seconds of training.

    machines describes the machines that trained these runs (provenance.describe_machines).
    """
    figure, axes = _plot_accuracy(schedule_runs, arch, optimizer, config, "seconds",
                                  "training time", "seconds: mean over seeds")
    axes.set_xlim(left=0)
    if machines.startswith("mixed: "):
        where = f" ({machines})"
    else:
        where = f" on {machines}" if machines else ""
    axes.set_xlabel(textwrap.fill("cumulative wall-clock seconds" + where, 80))
    return save(figure, path)


def plot_train_loss(schedule_runs, arch, optimizer, config, path):
    """Training loss against epoch (log scale)."""
    figure, axes = _new_figure(
        f"{_cell_title(arch, optimizer)}: training loss by epoch{settings_suffix(config)}",
        _cell_figure_size(schedule_runs))
    drawn = draw_schedule_curves(axes, schedule_runs, "train_loss")
    axes.set_yscale("log")
    _epoch_axis(axes, max(len(mean) for mean, _, _ in drawn), config)
    _subtitle(axes, _band_description(_seed_counts(schedule_runs)))
    axes.set_ylabel("training loss (cross-entropy, log scale)")
    _schedule_legend(figure, axes, "upper right")
    return save(figure, path)


# ---------------------------------------------------------------------------
# The schedules and their noise scale
# ---------------------------------------------------------------------------


def plot_schedules(results, path):
    """Learning rate (relative to its base), batch size and, if it changes, momentum per epoch."""
    config = results["config"]
    by_schedule = {}
    for (optimizer, schedule), run in representative_runs(results).items():
        by_schedule.setdefault(schedule, (optimizer, run))
    momenta = schedule_momenta(results)
    panel_count = 3 if momenta else 2
    figure, panels = plt.subplots(1, panel_count, figsize=(5.5 * panel_count, 5.2),
                                  layout="constrained")
    rate_axes, batch_axes = panels[:2]
    what = "learning rate, batch size and momentum" if momenta else "learning rate and batch size"
    suptitle(figure, f"Schedules: {what} per epoch{settings_suffix(config)}", 12)
    rate_values, batch_values, adaptive, chosen_rates = set(), set(), [], False
    for schedule in ordered(by_schedule, ALL_SCHEDULES):
        optimizer, run = by_schedule[schedule]
        rates = np.asarray(run["learning_rate"], dtype=float)
        relative_rates = np.round(rates / base_learning_rate(results, optimizer), 6)
        batches = np.asarray(run["batch_size"], dtype=float)
        epochs = np.arange(1, len(rates) + 1)
        style = schedule_style(schedule)
        label = schedule_display_name(schedule)
        rate_axes.plot(epochs, relative_rates, label=label, **style)
        batch_axes.plot(epochs, batches, label=label, **style)
        if "batch_size_low" not in run:
            rate_values.update(relative_rates)
        elif np.ptp(relative_rates) > 0:  # A rate chosen with the batch: the axis's own ticks.
            chosen_rates = True
        if "batch_size_low" in run:  # Chosen during the run: the median, and a band from smallest to largest.
            batch_axes.fill_between(epochs, run["batch_size_low"], run["batch_size_high"], color=style.get("color"),
                                    alpha=0.18, linewidth=0)
            adaptive.append(f"{schedule} ({optimizer_display_name(optimizer)})")
        else:
            batch_values.update(batches)
    base_rates = config["learning_rates"]
    base_text = ", ".join(f"{optimizer_display_name(name)} {rate:g}"
                          for name, rate in base_rates.items())
    rate_axes.set_title("learning rate / base learning rate"
                        + (f"\n(base: {base_text})" if base_text else ""), fontsize=10)
    batch_axes.set_title("batch size (examples per parameter update)" + (
        f"\n{', '.join(adaptive)}: median over networks and seeds, band their range" if adaptive else ""),
        fontsize=10)
    # Ticks at the values the schedules take are easier to read than powers of ten.
    rate_ticks = sorted(rate_values)
    rate_axes.set_yscale("log")
    if chosen_rates:
        rate_axes.yaxis.set_major_formatter(plain_numbers())
    else:
        rate_axes.minorticks_off()
        rate_axes.set_yticks(rate_ticks, [f"{value:g}" if value >= 1 else f"1/{1 / value:.3g}"
                                          for value in rate_ticks])
    rate_axes.set_ylabel("relative learning rate (log scale)")
    batch_ticks = sorted(batch_values)
    batch_axes.set_yscale("log")
    if adaptive:  # Batches that every run chose for itself: powers of ten, not the fixed schedules' values.
        batch_axes.yaxis.set_major_formatter(plain_numbers())
    else:
        batch_axes.minorticks_off()
        batch_axes.set_yticks(batch_ticks, [f"{value:g}" for value in batch_ticks])
    batch_axes.set_ylabel("batch size (log scale)")
    if momenta:
        _draw_momentum_panel(panels[2], momenta, results)
    epochs = max(len(run["learning_rate"]) for _, run in by_schedule.values())
    for axes in panels:
        mark_stage_boundaries(axes, epochs, config["epochs_per_stage"])
        axes.set_xticks(range(1, epochs + 1))
        axes.set_xlabel("epoch (dotted lines: stage boundaries)")
        axes.grid(True, alpha=0.3)
    # Below the panels the legend hides no line, however many schedules there are.
    handles, _ = batch_axes.get_legend_handles_labels()
    legend_below(figure, handles, min(len(handles), 5), fontsize=9, frameon=False)
    return save(figure, path)


def _draw_momentum_panel(axes, momenta, results):
    """Momentum coefficient per epoch and schedule, with ticks at the values taken."""
    values = set()
    for schedule in ordered(momenta, ALL_SCHEDULES):
        momentum = np.round(momenta[schedule], 6)
        axes.plot(np.arange(1, len(momentum) + 1), momentum,
                  label=schedule_display_name(schedule),
                  **schedule_style(schedule))
        values.update(momentum)
    optimizers = [optimizer_record(name) for name in ordered({key[1] for key in results["runs"]}, ALL_OPTIMIZERS)
                  if is_known(name)]
    # SGD's momentum is drawn; plain SGD's is 0, and an adaptive optimizer's beta_1 is another thing.
    drawn = [record.display_name for record in optimizers if record.momentum_variable]
    notes = ([f"plain {record.display_name}: 0" for record in optimizers
              if record.noise_scale_applies and record.momentum_setting is None]
             + [f"{record.display_name}'s β₁ is not drawn" for record in optimizers
                if not record.noise_scale_applies and record.momentum_setting is not None])
    axes.set_title("momentum coefficient m"
                   + (f" ({', '.join(drawn)})" if drawn else "")
                   + (f"\n{'; '.join(notes)}" if notes else ""), fontsize=10)
    ticks = sorted(values)
    axes.set_yticks(ticks, [f"{value:g}" for value in ticks])
    low, high = min(ticks), max(ticks)
    margin = max(0.1 * (high - low), 0.02)
    axes.set_ylim(low - margin, high + margin)
    axes.set_ylabel("momentum coefficient m")


def plot_noise_scale(results, path):
    """Noise scale per epoch, one panel per optimizer, to show the schedules match it."""
    config = results["config"]
    form = config.get("noise_scale", "approx")
    scales = noise_scales(results)
    representatives = representative_runs(results)
    optimizers = ordered([optimizer for optimizer, _ in scales], ALL_OPTIMIZERS)
    columns = len(optimizers) if len(optimizers) <= 2 else 2
    rows = math.ceil(len(optimizers) / columns)
    figure, panels = plt.subplots(rows, columns, figsize=(6.2 * columns, 4.4 * rows + 1.0),
                                  squeeze=False, layout="constrained")
    suptitle(figure,
              f"Noise scale g per epoch (lr learning rate, N = {config['train_size']:,} training "
              "images, B batch size" + (", m momentum coefficient" if any(
                  is_known(optimizer) and optimizer_record(optimizer).momentum_variable
                  for optimizer in optimizers) else "")
              + ")" + settings_suffix(config), 12, 110)
    all_schedules = set()
    for axes, optimizer in zip(panels.flat, optimizers):
        schedules = ordered([schedule for name, schedule in scales if name == optimizer],
                            ALL_SCHEDULES)
        all_schedules.update(schedules)
        for schedule in schedules:
            noise = scales[(optimizer, schedule)]
            # The exact g of a batch of the whole training set is 0, off a log axis.
            axes.plot(np.arange(1, len(noise) + 1), np.where(noise > 0, noise, np.nan),
                      label=schedule_display_name(schedule),
                      **schedule_style(schedule))
        capped = [schedule for schedule in schedules
                  if max(representatives[(optimizer, schedule)]["batch_size"])
                  >= config["train_size"]]
        gaps = _noise_gaps_to_dlr(scales, optimizer, schedules, capped, form)
        record = optimizer_record(optimizer)
        lines = [f"{record.display_name}: {noise_scale_formula(record, form)}"] + noise_scale_note(record)
        if gaps:
            lines += _pack_lines(["largest gap to dlr:"] + gaps, 64)
        adaptive = [schedule for schedule in schedules if "batch_size_low" in representatives[(optimizer, schedule)]]
        if adaptive:
            lines.append(f"{', '.join(adaptive)}: g at the median batch over networks and seeds")
        axes.set_title("\n".join(lines), fontsize=10)
        axes.set_yscale("log")
        # Ticks at the values dlr takes are easier to read than powers of ten;
        # the other schedules' values are within a percent of them or the gaps say how far.
        tick_schedules = [REFERENCE_SCHEDULE] if REFERENCE_SCHEDULE in schedules else schedules
        ticks = sorted({float(f"{value:.3g}") for schedule in tick_schedules
                        for value in scales[(optimizer, schedule)] if value > 0})
        if len(ticks) <= 8 and not adaptive:
            axes.minorticks_off()
            axes.set_yticks(ticks, [f"{value:g}" for value in ticks])
        elif adaptive:  # Its g goes below dlr's values: powers of ten.
            axes.yaxis.set_major_formatter(plain_numbers())
        epochs = max(len(scales[(optimizer, schedule)]) for schedule in schedules)
        _epoch_axis(axes, epochs, config)
        axes.set_ylabel("noise scale g (log scale)")
        axes.grid(True, alpha=0.3)
    for axes in panels.flat[len(optimizers):]:
        axes.set_visible(False)
    handles = [plt.Line2D([], [], label=schedule_display_name(schedule),
                          **schedule_style(schedule))
               for schedule in ordered(all_schedules, ALL_SCHEDULES)]
    legend_below(figure, handles, min(len(handles), 3), fontsize=10, frameon=False)
    return save(figure, path)


def _noise_gaps_to_dlr(scales, optimizer, schedules, capped_schedules=(), form="approx"):
    """Return, per schedule, a text saying how far its noise scale strays from dlr's at most.

    The list is empty when the optimizer has no dlr run to compare with.

    capped_schedules are those whose batch grew to the whole training set,
    which caps it and keeps their noise scale above dlr's. Under the exact
    form (form "exact") every matched schedule's batch is solved for dlr's g
    and rounded, which is then the source of a gap.
    """
    if REFERENCE_SCHEDULE not in schedules:
        return []
    reference = scales[(optimizer, REFERENCE_SCHEDULE)]
    gaps = []
    for schedule in schedules:
        # The controls depart from dlr on purpose, the legend says so; an adaptive schedule follows
        # the measured noise scale instead of dlr's.
        if schedule_kind(schedule, optimizer) in ("reference", "control") or is_adaptive(schedule):
            continue
        noise = scales[(optimizer, schedule)]
        length = min(len(noise), len(reference))
        # Where dlr's exact g is 0 (its batch the whole training set), equal is no gap.
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios = np.where(reference[:length] > 0, noise[:length] / reference[:length],
                              np.where(noise[:length] == reference[:length], 1.0, np.inf))
        gap = float(np.max(np.abs(ratios - 1)))
        note = ""
        # Float rounding alone leaves gaps near 1e-16, which need no explanation.
        if schedule in capped_schedules and gap > 1e-9:
            note = " (batch capped at the training set)"
        # The hybrid batch size is rounded to a whole number, the only other source of a gap,
        # and so is every batch solved for the exact form.
        elif (schedule == "hyb" or (form == "exact" and schedule_kind(schedule, optimizer) == "noise-matched")) \
                and gap > 1e-9:
            note = " (batch size rounded)"
        gaps.append(f"{schedule} {100 * gap:.1f}%{note}")
    return gaps


def _pack_lines(items, width):
    """Join items with ", " into lines of at most about width characters, never splitting one."""
    lines = []
    for item in items:
        if lines and len(lines[-1]) + len(item) + 2 <= width:
            separator = " " if lines[-1].endswith(":") else ", "
            lines[-1] += separator + item
        else:
            if lines and not lines[-1].endswith(":"):
                lines[-1] += ","
            lines.append(item)
    return lines


def _mark_chosen_batches(axes, runs, cell, config, style):
    """Marks, at each stage's first epoch, the batch every seed of an adaptive schedule chose; whether any was."""
    arch, optimizer, schedule = cell
    seed_runs = [run for key, run in runs.items() if key[:3] == cell and ADAPTIVE_METRICS[0] in run]
    if not seed_runs:
        return False
    per_stage = config["epochs_per_stage"]
    for run in seed_runs:
        epochs = range(per_stage, len(run["batch_size"]), per_stage)
        axes.plot([epoch + 1 for epoch in epochs], [run["batch_size"][epoch] for epoch in epochs],
                  color=style.get("color"), marker=style.get("marker", "o"), markerfacecolor="none",
                  linestyle="none", markersize=7, alpha=0.9)
    return True


def plot_noise_scale_measured(results, path):
    """The measured B_simple per epoch (log axis), a panel per network and optimizer, each schedule's batch over it.

    analysis.measured_noise_scales gives the lines. Where a schedule's batch
    size B climbs past its B_simple the batch is large for the gradient's
    noise (McCandlish et al. 2018): it spends more examples than the
    progress it buys.
    """
    config = results["config"]
    measured = measured_noise_scales(results)
    architectures = ordered({arch for arch, _ in measured}, ARCHITECTURE_NAMES)
    optimizers = ordered({optimizer for _, optimizer in measured}, ALL_OPTIMIZERS)
    figure, panels = plt.subplots(len(optimizers), len(architectures),
                                  figsize=(max(4.6 * len(architectures), MIN_FIGURE_WIDTH),
                                           3.6 * len(optimizers) + 1.6),
                                  squeeze=False, layout="constrained")
    suptitle(figure, "Measured gradient noise scale B_simple = tr(Σ) / |G|² per epoch (lines with markers) "
              f"and each schedule's batch size B (thin steps){settings_suffix(config)}", 13, 90)
    schedules, seed_counts, unresolved, chosen = set(), [], False, []
    for row, optimizer in enumerate(optimizers):
        for column, arch in enumerate(architectures):
            axes = panels[row][column]
            axes.set_title(_cell_title(arch, optimizer), fontsize=11)
            axes.grid(True, which="major", alpha=0.3)
            if (arch, optimizer) not in measured:
                axes.text(0.5, 0.5, "not measured", ha="center", va="center", transform=axes.transAxes, color="0.4")
                axes.set_xticks([])
                axes.set_yticks([])
                continue
            epochs = 0
            for schedule, (b_simple, batch_size, count) in measured[(arch, optimizer)].items():
                style = schedule_style(schedule)
                x_values = np.arange(1, len(b_simple) + 1)
                axes.plot(x_values, b_simple, **style)
                axes.plot(x_values, batch_size, drawstyle="steps-mid", color=style.get("color"), linewidth=1.0,
                          alpha=0.8)
                if _mark_chosen_batches(axes, results["runs"], (arch, optimizer, schedule), config, style):
                    chosen.append(schedule)
                schedules.add(schedule)
                seed_counts.append(count)
                unresolved = unresolved or bool(np.any(np.isnan(b_simple)))
                epochs = max(epochs, len(b_simple))
            axes.set_yscale("log")
            axes.yaxis.set_major_formatter(plain_numbers())
            mark_stage_boundaries(axes, epochs, config["epochs_per_stage"])
            axes.set_xticks(range(1, epochs + 1, max(1, config["epochs_per_stage"])))
            if column == 0:
                axes.set_ylabel("B_simple and B (log scale)")
            if row == len(optimizers) - 1:
                axes.set_xlabel("epoch")
    handles = [plt.Line2D([], [], label=schedule_display_name(schedule), **schedule_style(schedule))
               for schedule in ordered(schedules, ALL_SCHEDULES)]
    handles += [plt.Line2D([], [], color="0.3", marker="o", label="B_simple, measured after each epoch"),
                plt.Line2D([], [], color="0.3", linewidth=1.0, drawstyle="steps-mid",
                           label="batch size B" + (" (seeds' mean)" if chosen else ""))]
    for schedule in ordered(set(chosen), ALL_SCHEDULES):
        style = schedule_style(schedule)
        handles.append(plt.Line2D([], [], color=style.get("color"), marker=style.get("marker", "o"),
                                  markerfacecolor="none", linestyle="none", markersize=7,
                                  label=f"{schedule}: the batch each seed chose at a stage boundary"))
    counts = sorted(set(seed_counts))
    seeds = f"{counts[0]}" if len(counts) == 1 else f"{counts[0]} to {counts[-1]}"
    sizes = measurement_sizes(Settings(**{name: config[name] for name in SETTING_NAMES if name in config}))
    explanation = "; ".join(filter(None, [
        f"B_simple: the {seeds} seeds' mean tr(Σ) over their mean |G|²",
        f"each from {config['noise_draws']} batch{'es' if config['noise_draws'] != 1 else ''} of {sizes.big:,} "
        f"images split into batches of {sizes.small} (McCandlish et al. 2018), drawn without replacement from "
        f"{sizes.population:,} training images per seed" if sizes else "",
        "a gap: |G|² not resolved above the noise" if unresolved else "",
        "dotted lines: stage boundaries"]))
    legend_below(figure, handles, min(len(handles), 3), fontsize=10, frameon=False, title=explanation,
                  title_fontsize=9)
    return save(figure, path)


# ---------------------------------------------------------------------------
# Every cell at once, and the cost of fewer updates
# ---------------------------------------------------------------------------


def plot_overview(results, path):
    """All architecture x optimizer panels of test accuracy by epoch, one shared legend."""
    config = results["config"]
    cells = group_runs(results)
    architectures, optimizers = selected_architectures_and_optimizers(results)
    epochs_per_stage = config["epochs_per_stage"]
    figure, panels = plt.subplots(len(optimizers), len(architectures),
                                  figsize=(max(4.6 * len(architectures), MIN_FIGURE_WIDTH),
                                           3.4 * len(optimizers) + 1.2),
                                  squeeze=False, layout="constrained")
    suptitle(figure, f"Test accuracy on {config.get('data_name', DEFAULT_DATA_NAME)} ({config['train_size']:,} "
                      "training images): "
              f"decaying learning rate vs increasing batch size{settings_suffix(config)}", 14)
    clipped_notes = []
    for row, optimizer in enumerate(optimizers):
        for column, arch in enumerate(architectures):
            axes = panels[row][column]
            axes.set_title(_cell_title(arch, optimizer), fontsize=11)
            axes.grid(True, alpha=0.3)
            schedule_runs = {key[2]: seed_runs for key, seed_runs in cells.items()
                             if key[:2] == (arch, optimizer)}
            if not schedule_runs:
                axes.text(0.5, 0.5, "no finished runs", ha="center", va="center",
                          transform=axes.transAxes, color="0.4")
                axes.set_xticks([])
                axes.set_yticks([])
                continue
            drawn = draw_schedule_curves(axes, schedule_runs, "test_accuracy", scale=100)
            clipped_notes.append(zoom_accuracy_axis(axes, drawn))
            epochs = max(len(mean) for mean, _, _ in drawn)
            mark_stage_boundaries(axes, epochs, epochs_per_stage)
            # Ticks at the first epoch of each stage.
            axes.set_xticks(range(1, epochs + 1, max(1, epochs_per_stage)))
            if column == 0:
                axes.set_ylabel("test accuracy (%)")
            if row == len(optimizers) - 1:
                axes.set_xlabel("epoch")
    handles = [plt.Line2D([], [], label=schedule_display_name(schedule),
                          **schedule_style(schedule))
               for schedule in ordered([key[2] for key in cells], ALL_SCHEDULES)]
    explanation = "; ".join(filter(None, [
        _band_description([len(seed_runs) for seed_runs in cells.values()]),
        "dotted lines: stage boundaries",
        "epoch 1 is below the y range" if any(clipped_notes) else ""]))
    # Three schedules fit in one row; five long names would run off the figure.
    legend_below(figure, handles, len(handles) if len(handles) <= 3 else 3, fontsize=11,
                  frameon=False, title=explanation, title_fontsize=10)
    return save(figure, path)


def plot_cost_of_fewer_updates(points, optimizer, config, path):
    """Final accuracy minus dlr against parameter updates, one panel per architecture.

    points is what cost_of_fewer_updates returns. The shaded band is the
    equivalence margin, so a marker and its 95% bar inside it cost nothing
    that counts; the x distance from dlr is the cut in updates that bought it.
    """
    architectures = list(points)
    figure, panels = plt.subplots(1, len(architectures),
                                  figsize=(max(4.6 * len(architectures) + 0.6, MIN_FIGURE_WIDTH),
                                           5.0),
                                  squeeze=False, sharey=True, layout="constrained")
    suptitle(figure, f"{optimizer_display_name(optimizer)}: what each cut in parameter "
              f"updates costs in final test accuracy{settings_suffix(config)}", 12, 100)
    schedules, spread, ranged = [], False, False
    for axes, arch in zip(panels[0], architectures):
        axes.axhspan(-EQUIVALENCE_MARGIN_PP, EQUIVALENCE_MARGIN_PP, color="0.85", linewidth=0,
                     zorder=0)
        axes.axhline(0, color="0.4", linewidth=0.8, zorder=1)
        offsets = sideways_offsets([point["updates"] for point in points[arch]])
        spread = spread or any(offset != 1 for offset in offsets)
        for point, offset in zip(points[arch], offsets):
            schedule = point["schedule"]
            if schedule not in schedules:
                schedules.append(schedule)
            style = schedule_style(schedule)
            error = sideways = None
            if point["low"] is not None:
                error = [[point["mean"] - point["low"]], [point["high"] - point["mean"]]]
            if point["updates_low"] != point["updates_high"]:  # Updates that differ by seed: their range.
                sideways = [[point["updates"] * offset - point["updates_low"] * offset],
                            [point["updates_high"] * offset - point["updates"] * offset]]
                ranged = True
            axes.errorbar([point["updates"] * offset], [point["mean"]], yerr=error, xerr=sideways,
                          color=style.get("color"), marker=style.get("marker", "o"),
                          markersize=8, markerfacecolor=style.get("markerfacecolor"),
                          markeredgewidth=style.get("markeredgewidth", 1.0), linestyle="none",
                          capsize=4, elinewidth=1.5, zorder=3)
            # The schedule's code beside its marker spares a look at the legend;
            # of two markers set apart, the left one is named on its left.
            left = offset < 1
            axes.annotate(schedule, (point["updates"] * offset, point["mean"]),
                          xytext=(-7 if left else 7, 0), textcoords="offset points",
                          ha="right" if left else "left", va="center", fontsize=8,
                          color=style.get("color"))
        seed_counts = sorted({point["paired_seeds"] for point in points[arch]})
        seeds_text = (f"{seed_counts[0]}" if len(seed_counts) == 1
                      else f"{seed_counts[0]} to {seed_counts[-1]}")
        axes.set_title(f"{ARCHITECTURE_NAMES.get(arch, arch)} ({seeds_text} paired seeds)",
                       fontsize=10)
        axes.set_xscale("log")
        # Ticks at the schedules' update counts say how many updates each takes.
        ticks = sorted({round(point["updates"]) for point in points[arch]})
        axes.minorticks_off()
        axes.set_xticks(ticks, [f"{tick:,}" for tick in ticks], rotation=35, fontsize=8)
        axes.set_xlim(min(ticks) / 1.6, max(ticks) * 1.6)
        axes.set_xlabel("parameter updates per run (log scale)")
        axes.grid(True, alpha=0.3)
    panels[0][0].set_ylabel("final test accuracy minus dlr (percentage points)")
    handles = [plt.Line2D([], [], color=schedule_style(schedule).get("color"),
                          marker=schedule_style(schedule).get("marker", "o"),
                          markerfacecolor=schedule_style(schedule).get(
                              "markerfacecolor"),
                          markersize=8, linestyle="none",
                          label=schedule_display_name(schedule))
               for schedule in ordered(schedules, ALL_SCHEDULES)]
    handles.append(matplotlib.patches.Patch(
        color="0.85", label=f"±{EQUIVALENCE_MARGIN_PP:g} pp equivalence margin"))
    explanation = "; ".join(filter(None, [
        "paired by seed", "bars: 95% Student-t interval of the mean difference",
        "an update count chosen during the run: the seeds' mean, its sideways bar their range" if ranged else "",
        "markers with equal updates are set slightly apart" if spread else ""]))
    legend_below(figure, handles, len(handles) if len(handles) <= 4 else 3, fontsize=9,
                  frameon=False, title=explanation, title_fontsize=9)
    return save(figure, path)


def plot_full_train_loss(curves, rows, arch, optimizer, config, path, margin=None):
    """The model's training loss at every stage end (top) and its ratio to dlr's with 90% intervals (below).

    curves is trajectory.loss_curves' entry for the cell, rows its trajectory
    rows; the band below is the margin ±delta on the log ratio, where declared.
    """
    figure, (loss_axes, ratio_axes) = plt.subplots(2, 1, figsize=(7, 7.2), sharex=True, layout="constrained",
                                                   gridspec_kw={"height_ratios": [3, 2]})
    images = min(config.get("train_loss_images", Settings.train_loss_images), config["train_size"])
    suptitle(figure, f"{_cell_title(arch, optimizer)}: the model's training loss on {images:,} of the "
                     f"{config['train_size']:,} training images at every stage end{settings_suffix(config)}", 12, 72)
    for schedule, (epochs, mean, _) in curves.items():
        loss_axes.plot(epochs, mean, label=schedule_display_name(schedule), **schedule_style(schedule))
    loss_axes.set_yscale("log")
    loss_axes.set_ylabel("training loss, geometric mean over seeds (log scale)")
    if margin is not None:
        ratio_axes.axhspan(math.exp(-margin), math.exp(margin), color="0.85", linewidth=0, zorder=0)
    ratio_axes.axhline(1.0, color="0.4", linewidth=0.8)
    schedules = [schedule for schedule in curves if schedule != REFERENCE_SCHEDULE]
    offsets = np.linspace(-0.12, 0.12, len(schedules)) if len(schedules) > 1 else [0.0]
    for schedule, offset in zip(schedules, offsets):
        schedule_rows = [row for row in rows if row["schedule"] == schedule and row["train_loss_ratio"] is not None]
        if not schedule_rows:
            continue
        # A stage without an interval (one seed) is drawn as its point alone.
        ratio, low, high = (np.array([row[column] if row[column] is not None else row["train_loss_ratio"]
                                      for row in schedule_rows]) for column in
                            ("train_loss_ratio", "train_loss_ratio_ci90_low", "train_loss_ratio_ci90_high"))
        x = np.array([row["epoch"] for row in schedule_rows]) + offset
        style = schedule_style(schedule)
        ratio_axes.errorbar(x, ratio, yerr=[ratio - low, high - ratio], color=style.get("color"),
                            marker=style.get("marker"), linestyle="none", capsize=3)
    ratio_axes.set_yscale("log")
    label_log_ticks(ratio_axes.yaxis)
    ratio_axes.set_ylabel("ratio to dlr (log scale)")
    band = f"; grey band: the margin ×{math.exp(-margin):.3f} to ×{math.exp(margin):.3f}" if margin else ""
    _subtitle(ratio_axes, "paired by seed: geometric mean and 90% Student-t interval" + band,
             "a stage shared with dlr is not drawn")
    for axes in (loss_axes, ratio_axes):
        mark_stage_boundaries(axes, config["epochs"], config["epochs_per_stage"])
        axes.set_xticks(range(config["epochs_per_stage"], config["epochs"] + 1, config["epochs_per_stage"]))
        axes.grid(True, alpha=0.3)
    ratio_axes.set_xlabel("epoch (dotted lines: stage boundaries)")
    handles, _ = loss_axes.get_legend_handles_labels()
    legend_below(figure, handles, min(len(handles), 3), fontsize=9, frameon=False)
    return save(figure, path)


# ---------------------------------------------------------------------------
# All of them
# ---------------------------------------------------------------------------

# The figures drawn for every (network, optimizer): file prefix, the function
# that draws one, and what it needs beyond (runs, network, optimizer, config,
# path): the seconds figure names the machines that trained the cell's runs.
PER_CELL_FIGURES = {
    "accuracy_epoch": (plot_accuracy_by_epoch, ()),
    "accuracy_updates": (plot_accuracy_by_updates, ()),
    "accuracy_seconds": (plot_accuracy_by_seconds, ("machines",)),
    "train_loss": (plot_train_loss, ()),
}


def draw_all_figures(results, out_dir):
    """Draw every figure there is data for into out_dir.

    Returns (paths written, descriptions of skipped figures).
    """
    out_dir = Path(out_dir)
    config = results["config"]
    cells = group_runs(results)
    architectures, optimizers = selected_architectures_and_optimizers(results)
    written, skipped = [], []
    for arch in architectures:
        for optimizer in optimizers:
            schedule_runs = {key[2]: seed_runs for key, seed_runs in cells.items()
                             if key[:2] == (arch, optimizer)}
            if not schedule_runs:
                skipped.append(f"{arch} {optimizer}: no finished runs, its "
                               f"{len(PER_CELL_FIGURES)} figures are not drawn")
                continue
            # The seconds figure names the machines that trained this cell's runs.
            cell_keys = [(arch, optimizer, schedule, seed)
                         for schedule, seed_runs in schedule_runs.items() for seed in seed_runs]
            context = {"machines": describe_machines(machine_counts(results["provenance"], cell_keys))}
            for prefix, (plot, needs) in PER_CELL_FIGURES.items():
                path = out_dir / f"{prefix}_{arch}_{optimizer}.png"
                written.append(plot(schedule_runs, arch, optimizer, config, path,
                                    **{name: context[name] for name in needs}))
    for optimizer in optimizers:
        points = cost_of_fewer_updates(results, optimizer)
        name = f"cost_of_fewer_updates_{optimizer}.png"
        if points:
            written.append(plot_cost_of_fewer_updates(points, optimizer, config,
                                                      out_dir / name))
        elif any(key[1] == optimizer for key in cells):
            skipped.append(f"{name}: {optimizer} has no dlr run paired by seed with "
                           "another schedule")
    written.append(plot_schedules(results, out_dir / "schedules.png"))
    written.append(plot_noise_scale(results, out_dir / "noise_scale.png"))
    # Only where runs were measured (main.py --measure-noise): other studies keep their figures as they were.
    if measured_noise_scales(results):
        written.append(plot_noise_scale_measured(results, out_dir / "noise_scale_measured.png"))
    # Only where runs recorded the model's training loss: other studies keep their figures as they were.
    if has_trajectory(results):
        curves, (rows, _) = loss_curves(results), trajectory_rows(results, TRAJECTORY_MARGIN)
        for (arch, optimizer), cell_curves in curves.items():
            cell_rows = [row for row in rows if (row["architecture"], row["optimizer"]) == (arch, optimizer)]
            written.append(plot_full_train_loss(cell_curves, cell_rows, arch, optimizer, config,
                                                out_dir / f"full_train_loss_{arch}_{optimizer}.png",
                                                TRAJECTORY_MARGIN))
    written.append(plot_overview(results, out_dir / "overview.png"))
    return written, skipped
