"""Figures and summary tables for the "increase the batch size" MNIST replication.

Reads the results pickle that main.py writes and draws, into one folder, the
figures that batchgrow/reporting/figures.py lists, and writes:

- summary.csv and summary.md               final accuracies, paired differences from
                                           dlr and an equivalence verdict for each
- stages.csv and stages.md                 the difference from dlr at the end of every
                                           stage, beside that stage's batch size as a
                                           fraction of the training set
- batches_chosen.csv and .md               only for an adaptive schedule (ibs_auto): the
                                           batch each stage chose, over the seeds, and the
                                           B_simple it was chosen from
- trajectory.csv and trajectory.md         only where the runs recorded full_train_loss: the
                                           model's training loss against dlr's at every
                                           stage end, with the verdict on the same training,
                                           and trajectory_power.csv and .md: what that test
                                           can find at the last stage
- calibration.csv and calibration.md       only where plain SGD's dlr and ibs_fast or
                                           ibs_slow recorded it: the margin δ that the
                                           calibration rule gives, and the resolution
- power.csv and power.md                   what the equivalence test can find: the
                                           smallest difference it detects and its chance
                                           of "equivalent" at no difference
- comparison.csv and comparison.md         only with --baseline: results minus baseline,
                                           with a TOST verdict for each
- README.md                                only where the study's folder has a study.toml:
                                           the study's page (its question, prediction,
                                           commands, answer on each endpoint, machine and
                                           time, links), and for a folder that holds other
                                           studies (results/) the index of them

or, with --breakdown DIR, only breakdown.png: every study under DIR at once,
each schedule's final difference from dlr against the largest B/N it reached;
or, with --studies DIR, every study folder of DIR drawn again by the draw
command of its study.toml, and DIR/README.md, the index of them; or, with
--commands, every committed study's train and draw commands, in order, and
the breakdown's: the commands that reproduce everything.

Usage:

    python plots.py                                   # reads results/results.pickle
    python plots.py --results other.pickle --out figures/
    python plots.py --results new/results.pickle --baseline results/results.pickle
    python plots.py --results a/results.pickle --baseline b/results.pickle --pair dlr --pair ibs:ibs_mom
    python plots.py --breakdown results                 # results/breakdown.png
    python plots.py --studies results                   # every study, its page and the index
    python plots.py --commands                          # every command that reproduces them

With --baseline PATH (a second results pickle), comparison.csv and
comparison.md hold, for every (architecture, optimizer, schedule) cell that
both pickles have, the final test accuracy of results minus that of the
baseline, paired by seed (seeds present in both), in percentage points, with a
95% Student-t confidence interval, and that difference in units of the
baseline's seed-to-seed standard deviation; comparison.md and the command line
say how many cells differ by at most two of them. Each cell also has the
verdict of two one-sided paired t-tests (TOST) at the margin of the summary's
verdicts against dlr: equivalent, undecided or not equivalent to the baseline.
--pair S:T (repeatable) compares the results' schedule S with the baseline's
schedule T instead, network by network and optimizer by optimizer, so that two
schedules of two studies (or of one, given as both) can be set side by side:
ibs_mom of one study against ibs of another, say.

A partial pickle (some runs still missing) is drawn as far as it goes, and the
missing runs are listed. This file is the command line. Behind it, in
batchgrow/reporting/ and batchgrow/ (the vocabulary that main.py shares):

    batchgrow/reporting/analysis.py     the pickle read, checked and migrated; every row of every table
    batchgrow/reporting/equivalence.py  Student t intervals and the TOST verdicts
    batchgrow/reporting/trajectory.py   the second endpoint: the training loss against dlr's, stage by stage
    batchgrow/reporting/tables.py       the Markdown and CSV files, and the sentences around them
    batchgrow/reporting/figures.py      every figure of one study
    batchgrow/reporting/breakdown.py    breakdown.png: every study of a folder at once
    batchgrow/reporting/study_page.py   a study's study.toml read, and its README.md page
    batchgrow/study.py                  the names, the margin and the settings, shared with main.py

None of them imports TensorFlow, Keras or main.py; pickles are read with the
restricted unpickler of batchgrow/safe_pickle.py.
"""

import argparse
import os
import shlex
import sys
from pathlib import Path

from batchgrow.reporting.analysis import (POWER_COLUMNS, ResultsError, baseline_agreement, chosen_batches,
                                          compare_results, comparison_verdict_counts, diverged_runs, load_results,
                                          missing_runs, power_rows, stage_differences, summarize, verdict_counts)
from batchgrow.reporting.breakdown import breakdown_points, load_studies, plot_breakdown
from batchgrow.reporting.figures import draw_all_figures
from batchgrow.reporting.study_page import (PAGE_FILE, STUDY_FILE, StudyFileError, accuracy_answer, commands,
                                            comparison_answer, holds_studies, index_text, loss_answer, page_text,
                                            read_study, study_folders)
from batchgrow.reporting.tables import (describe_baseline_agreement, describe_verdict_counts,
                                        write_calibration_markdown, write_chosen_batches_csv,
                                        write_chosen_batches_markdown, write_comparison_csv, write_comparison_markdown,
                                        write_csv, write_floor_markdown, write_margins_markdown, write_power_markdown,
                                        write_stages_csv, write_stages_markdown, write_summary_csv,
                                        write_summary_markdown, write_trajectory_csv, write_trajectory_markdown,
                                        write_trajectory_power_markdown, write_yardsticks_markdown)
from batchgrow.reporting.trajectory import (CALIBRATION_COLUMNS, FLOOR_COLUMNS, MARGIN_COLUMNS, TRAJECTORY_POWER_COLUMNS,
                                            YARDSTICK_COLUMNS, calibration_rows, can_calibrate, floor_rows,
                                            has_trajectory, noise_scale_resolution, optimizer_margins,
                                            own_margin_rows, study_margins, trajectory_power_rows, trajectory_rows,
                                            yardstick_rows)
from batchgrow.study import CALIBRATION_FOLDER

DEFAULT_RESULTS = Path("results/results.pickle")
# The committed studies' folder, whose study.toml files hold every study's commands (--commands).
DEFAULT_STUDIES = Path("results")
# The one command that is no study's: breakdown.png, every committed study at once.
BREAKDOWN_COMMAND = "python plots.py --breakdown results"
PROJECT_DIR = Path(__file__).resolve().parent


class ArgumentParser(argparse.ArgumentParser):
    """argparse's parser; with source set, a bad argument raises StudyFileError naming the source instead
    of exiting, so that a study.toml's draw command that cannot be parsed is one line."""
    source = None

    def error(self, message):
        if self.source is not None:
            raise StudyFileError(f"{self.source}: draw: {message}")
        super().error(message)


def parse_arguments(argv=None, source=None):
    """plots.py's arguments; source (a study.toml) makes a bad one a StudyFileError that names it."""
    parser = ArgumentParser(
        prog="plots.py",
        description="Draw the figures and summary tables from main.py's results pickle.")
    parser.add_argument("--results", type=Path, default=DEFAULT_RESULTS, metavar="PATH",
                        help="results pickle written by main.py (default: %(default)s)")
    parser.add_argument("--out", type=Path, default=None, metavar="DIR",
                        help="folder for the PNG and summary files "
                             "(default: the folder the results file is in)")
    parser.add_argument("--baseline", type=Path, default=None, metavar="PATH",
                        help="a second results pickle; also write comparison.md and "
                             "comparison.csv with results minus baseline, paired by seed, "
                             "with TOST verdicts")
    parser.add_argument("--pair", type=schedule_pair, action="append", default=None,
                        metavar="S[:T]",
                        help="with --baseline: compare the results' schedule S with the "
                             "baseline's schedule T (default S) of the same network and "
                             "optimizer, for example ibs_mom:ibs; repeat for more pairs "
                             "(default: every schedule both have, with itself)")
    parser.add_argument("--breakdown", type=Path, default=None, metavar="DIR",
                        help="instead of one study, draw only breakdown.png from every "
                             "results.pickle under DIR, at any depth: each schedule's final "
                             "difference from dlr against the largest B/N it reached "
                             "(into --out, default DIR)")
    parser.add_argument("--studies", type=Path, default=None, metavar="DIR",
                        help="instead of one study, draw every study folder of DIR (DIR itself and each folder "
                             "in it with a results.pickle) by the draw command of its study.toml, each with its "
                             "README.md page, and write DIR/README.md, the index of them")
    parser.add_argument("--commands", action="store_true",
                        help=f"instead of drawing, print every study's train and draw commands from the study.toml "
                             f"files of {DEFAULT_STUDIES}/, in order, and then the breakdown's: the commands that "
                             "reproduce everything")
    parser.source = source
    arguments = parser.parse_args(argv)
    if arguments.pair and arguments.baseline is None:
        parser.error("--pair compares with the baseline; pass --baseline PATH too")
    whole_folder = [option for option, value in (("--breakdown", arguments.breakdown),
                                                 ("--studies", arguments.studies),
                                                 ("--commands", arguments.commands)) if value]
    if len(whole_folder) > 1:
        parser.error(f"{' and '.join(whole_folder)} cannot be combined; pass one")
    if whole_folder and arguments.baseline is not None:
        parser.error(f"{whole_folder[0]} reads every study of a folder; it takes no --baseline")
    if whole_folder and whole_folder[0] != "--breakdown" and arguments.out is not None:
        parser.error(f"{whole_folder[0]} takes no --out: each study's draw command names its own folder")
    return arguments


def schedule_pair(text):
    """'S:T' -> (S, T) and 'S' -> (S, S): a results schedule and the baseline schedule it is compared with."""
    parts = text.split(":")
    if len(parts) > 2 or not all(part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"{text!r} is not S or S:T, for example ibs_mom:ibs")
    schedule = parts[0].strip()
    return schedule, (parts[1].strip() if len(parts) == 2 else schedule)


def main(argv=None):
    """Draw figures and summaries; return 0 on success and 2 for unusable input."""
    arguments = parse_arguments(argv)
    if arguments.breakdown is not None:
        return draw_breakdown(arguments.breakdown, arguments.out or arguments.breakdown)
    if arguments.studies is not None:
        return draw_studies(arguments.studies)
    if arguments.commands:
        try:
            lines = reproduce_commands(DEFAULT_STUDIES)
        except StudyFileError as error:
            return _fail(str(error))
        try:
            print("\n".join(lines), flush=True)
        except BrokenPipeError:
            # A reader that stops early (head) is no error; the rest of the output goes nowhere.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    # A study folder with a study.toml gets its page; it is read first, so that a bad one changes nothing.
    study_folder = arguments.results.parent
    try:
        study = read_study(study_folder) if (study_folder / STUDY_FILE).is_file() else None
        index = study_index(study_folder) if study is not None and holds_studies(study_folder) else None
        results = load_results(arguments.results)
        baseline = (load_results(arguments.baseline, option="--baseline")
                    if arguments.baseline is not None else None)
        margins = margins_of(arguments.results, results)
    except (ResultsError, StudyFileError) as error:
        return _fail(str(error))
    missing = missing_runs(results)
    if not results["runs"]:
        return _fail(f"{arguments.results} holds no finished runs yet ({len(missing)} missing); "
                     "run python main.py to finish them")
    # The comparison is checked before anything is written, so that unusable
    # input leaves the out folder as it was.
    comparison_rows = None
    if baseline is not None:
        comparison_rows = compare_results(results, baseline, arguments.pair)
        if not comparison_rows and arguments.pair:
            pairs = ", ".join(f"{schedule} with {baseline_schedule}"
                              for schedule, baseline_schedule in arguments.pair)
            return _fail(f"{arguments.results} and {arguments.baseline} have no (architecture, "
                         f"optimizer) in which to compare {pairs} (--pair), so there is nothing "
                         "to compare")
        if not comparison_rows:
            return _fail(f"{arguments.results} and {arguments.baseline} have no "
                         "(architecture, optimizer, schedule) cell in common, so there is "
                         "nothing to compare")
        if not any(row["paired_seeds"] for row in comparison_rows):
            return _fail(f"{arguments.results} and {arguments.baseline} have no seed in common "
                         "in any shared cell, so no difference can be paired by seed")
    out_dir = arguments.out if arguments.out is not None else arguments.results.parent
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        written, skipped = draw_all_figures(results, out_dir)
        rows = summarize(results)
        # The margin δ belongs to the data it was calibrated on; elsewhere the intervals stand without verdicts.
        margin, margin_note = margins.sgd, margins.note
        trajectory = trajectory_rows(results, margin) if has_trajectory(results) else None
        if trajectory and margin is not None:
            for row in rows:
                row["trajectory_verdict"] = trajectory[1].get((row["architecture"], row["optimizer"],
                                                               row["schedule"]))
        written.append(write_summary_csv(rows, out_dir / "summary.csv"))
        written.append(write_summary_markdown(rows, out_dir / "summary.md", results["config"],
                                              results.get("provenance")))
        stage_rows = stage_differences(results)
        if stage_rows:
            written.append(write_stages_csv(stage_rows, out_dir / "stages.csv"))
            written.append(write_stages_markdown(stage_rows, out_dir / "stages.md", results["config"]))
        chosen_rows = chosen_batches(results)
        if chosen_rows:
            written.append(write_chosen_batches_csv(chosen_rows, out_dir / "batches_chosen.csv"))
            written.append(write_chosen_batches_markdown(chosen_rows, out_dir / "batches_chosen.md",
                                                         results["config"]))
        if trajectory and trajectory[0]:
            written.append(write_trajectory_csv(trajectory[0], out_dir / "trajectory.csv"))
            written.append(write_trajectory_markdown(trajectory[0], out_dir / "trajectory.md", results["config"],
                                                     margin))
            trajectory_power = trajectory_power_rows(results, margin) if margin else []
            if trajectory_power:
                written.append(write_csv(trajectory_power, out_dir / "trajectory_power.csv",
                                         TRAJECTORY_POWER_COLUMNS))
                written.append(write_trajectory_power_markdown(trajectory_power, out_dir / "trajectory_power.md",
                                                               results["config"], margin))
        floor = floor_rows(results, margins)
        if floor:
            written.append(write_csv(floor, out_dir / "floor.csv", FLOOR_COLUMNS))
            written.append(write_floor_markdown(floor, out_dir / "floor.md", results["config"], margins))
        own_rows = own_margin_rows(results, margins) if trajectory else {}
        yardsticks = yardstick_rows(rows, trajectory[0], own_rows, margins) if trajectory and margins.own else []
        if yardsticks:
            written.append(write_csv(yardsticks, out_dir / "yardsticks.csv", YARDSTICK_COLUMNS))
            written.append(write_yardsticks_markdown(yardsticks, out_dir / "yardsticks.md", results["config"],
                                                     margins))
        margin_rows, calibrated_margins = optimizer_margins(results)
        if margin_rows:
            written.append(write_csv(margin_rows, out_dir / "margins.csv", MARGIN_COLUMNS))
            written.append(write_margins_markdown(margin_rows, calibrated_margins, out_dir / "margins.md",
                                                  results["config"]))
        if can_calibrate(results):
            calibration, calibrated = calibration_rows(results)
            written.append(write_csv(calibration, out_dir / "calibration.csv", CALIBRATION_COLUMNS))
            by_network = {arch: noise_scale_resolution(calibration, arch)
                          for arch in dict.fromkeys(row["architecture"] for row in calibration)}
            written.append(write_calibration_markdown(calibration, out_dir / "calibration.md", results["config"],
                                                      calibrated, noise_scale_resolution(calibration), by_network))
        power = power_rows(results)
        if power:
            written.append(write_csv(power, out_dir / "power.csv", POWER_COLUMNS))
            written.append(write_power_markdown(power, out_dir / "power.md", results["config"]))
        if comparison_rows is not None:
            written.append(write_comparison_csv(comparison_rows, out_dir / "comparison.csv"))
            written.append(write_comparison_markdown(
                comparison_rows, out_dir / "comparison.md", arguments.results,
                arguments.baseline, results["config"], baseline["config"]))
        if study is not None:
            page = page_text(_display_path(study_folder), study, rows, trajectory[0] if trajectory else None,
                             comparison_rows, results["provenance"], [path.name for path in written],
                             margins, _way_to_project(study_folder), index, own_rows)
            (out_dir / PAGE_FILE).write_text(page, encoding="utf-8")
            written.append(out_dir / PAGE_FILE)
    except OSError as error:
        return _fail(f"cannot write to {out_dir} ({error.strerror or error}); "
                     "pass a writable folder with --out DIR")
    print(f"wrote {len(written)} files to {out_dir}: "
          + ", ".join(path.name for path in written))
    for description in skipped:
        print(f"skipped {description}")
    if trajectory and margin_note:
        print(margin_note)
    counts, not_shown_equivalent = verdict_counts(rows)
    if sum(counts.values()):
        print(describe_verdict_counts(counts, not_shown_equivalent))
    if comparison_rows is not None:
        print("against the baseline: "
              + describe_baseline_agreement(baseline_agreement(comparison_rows)))
        print(describe_verdict_counts(*comparison_verdict_counts(comparison_rows), "the baseline"))
    diverged = diverged_runs(results)
    if diverged:
        print(f"plots.py: warning: {len(diverged)} run{'s' if len(diverged) != 1 else ''} diverged (a loss that is "
              "not finite), drawn as far as their losses are finite and kept in every statistic: "
              + ", ".join(f"({arch}, {optimizer}, {schedule}, {seed})"
                          for arch, optimizer, schedule, seed in diverged), file=sys.stderr)
    if missing:
        print(f"missing {len(missing)} runs (arch, optimizer, schedule, seed): "
              + ", ".join(f"({arch}, {optimizer}, {schedule}, {seed})"
                          for arch, optimizer, schedule, seed in missing))
    return 0


def draw_breakdown(folder, out_dir):
    """breakdown.png from every study under folder, into out_dir; 0 on success, 2 for unusable input."""
    try:
        studies = load_studies(folder)
    except ResultsError as error:
        return _fail(str(error))
    points, left_out = breakdown_points(studies)
    if not points:
        return _fail(f"no study under {folder} has a schedule paired by seed with its dlr, "
                     "so there is nothing to draw")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        path = plot_breakdown(points, out_dir / "breakdown.png", [name for name, _ in studies], left_out)
    except OSError as error:
        return _fail(f"cannot write to {out_dir} ({error.strerror or error}); "
                     "pass a writable folder with --out DIR")
    drawn = sum(len(arch_points) for arch_points in points.values())
    print(f"wrote {path} from {len(studies) - len(left_out)} of the {len(studies)} studies under {folder}: "
          f"{drawn} schedules against dlr"
          + (f"; left out (the original's optimizer reset): {', '.join(left_out)}" if left_out else ""))
    return 0


def reproduce_commands(root):
    """Every study's train and draw command under root, in order (root's own first), then the breakdown's."""
    studies = [(folder, read_study(folder)) for folder in study_folders(root)]
    return [command for _, command in commands(studies)] + [BREAKDOWN_COMMAND]


def study_arguments(folder):
    """(study.toml, plots.py arguments of its draw command) of a study folder; StudyFileError if unusable.

    The draw command must draw this folder's own results.pickle, so that a
    command copied from another study is caught.
    """
    study = read_study(folder)
    source = Path(folder) / STUDY_FILE
    try:
        words = shlex.split(study["draw"])[2:]
    except ValueError as error:
        raise StudyFileError(f"{source}: draw: {error}") from None
    arguments = parse_arguments(words, source=source)
    if arguments.breakdown or arguments.studies or arguments.commands:
        raise StudyFileError(f"{source}: draw must draw the study itself, not --breakdown, --studies or --commands")
    if arguments.results.resolve() != (Path(folder) / "results.pickle").resolve():
        raise StudyFileError(f"{source}: draw reads {arguments.results}, not {Path(folder) / 'results.pickle'}; "
                             "a study's draw command draws its own results.pickle")
    return study, arguments


def margins_of(results_path, results):
    """The study's margins (trajectory.Margins): derived from its own calibration, the folder main.py
    --calibrate trains beside its pickle, where there is one; ResultsError, in one line, for one that cannot
    judge it."""
    calibration_path = Path(results_path).parent / CALIBRATION_FOLDER / "results.pickle"
    calibration = load_results(calibration_path) if calibration_path.is_file() else None
    try:
        return study_margins(results["config"], calibration)
    except ValueError as error:
        raise ResultsError(f"{results_path} cannot be judged: {error}") from None


def study_index(folder):
    """The index of the studies in folder's folders, as Markdown: each study's question and answer, read from
    its study.toml and computed from its pickle (and baseline) as its own page computes them."""
    entries = []
    for study_folder in study_folders(folder):
        if study_folder == Path(folder):
            continue
        study, arguments = study_arguments(study_folder)
        results = load_results(arguments.results)
        trajectory = (trajectory_rows(results, margins_of(arguments.results, results).sgd)[0]
                      if has_trajectory(results) else None)
        comparison = None
        if arguments.baseline is not None:
            rows = compare_results(results, load_results(arguments.baseline, option="--baseline"), arguments.pair)
            comparison = comparison_answer(rows)[0]
        entries.append((study_folder.name, study["question"], accuracy_answer(summarize(results)),
                        loss_answer(trajectory) if trajectory else None, comparison))
    return index_text(entries)


def draw_studies(folder):
    """Draw every study of folder by its study.toml's draw command, then its index; 0, or 2 for unusable input."""
    folder = Path(folder)
    studies = study_folders(folder)
    if not studies:
        return _fail(f"{folder} holds no results.pickle, nor any folder that does, so there is no study to draw")
    # Every study.toml is read before anything is drawn, so that a bad one leaves every folder as it was.
    try:
        drawn = [study_arguments(study_folder) for study_folder in studies]
    except StudyFileError as error:
        return _fail(str(error))
    for study, _ in drawn:
        status = main(shlex.split(study["draw"])[2:])
        if status:
            return status
    if folder not in studies:  # A folder of studies that is none itself: its README.md is the index alone.
        try:
            (folder / PAGE_FILE).write_text("# Studies\n\n" + study_index(folder), encoding="utf-8")
        except (ResultsError, StudyFileError) as error:
            return _fail(str(error))
        except OSError as error:
            return _fail(f"cannot write to {folder} ({error.strerror or error})")
    print(f"drew {len(studies)} studies of {folder}, each with its {PAGE_FILE}, and the index {folder / PAGE_FILE}")
    return 0


def _display_path(folder):
    """A folder as the page names it: relative to the project where it lies inside it."""
    try:
        return Path(folder).resolve().relative_to(PROJECT_DIR).as_posix()
    except ValueError:
        return Path(folder).as_posix()


def _way_to_project(folder):
    """The relative way from a page in folder to the project folder, for its links to project files."""
    return Path(os.path.relpath(PROJECT_DIR, Path(folder).resolve())).as_posix() + "/"


def _fail(message):
    """Print a one-line error on stderr and return the exit status for bad input."""
    print("plots.py: error: " + " ".join(message.split()), file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main())
