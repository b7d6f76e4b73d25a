"""A study's page: its README.md, written from the study's study.toml and its results.

Every study folder under results/ holds a small hand-written study.toml beside
its results.pickle:

    question = "..."            what the study asks, in one or two sentences
    prediction = "..."          optional: where its prediction was declared (a path, or a
                                REPORT.md section), or a list of them
    prediction_commit = "..."   with prediction: the commit that declared it (or a list)
    train = "python main.py ..."    the command that trains it
    draw = "python plots.py ..."    the command that draws its tables, figures and this page

The commands are written there once: plots.py --commands lists them all, and
the tests parse them. plots.py writes a study's README.md each time it draws
a study whose folder has a study.toml, from the rows of analysis.py and
trajectory.py, so a committed page is what the code writes from the
committed pickle, like every table beside it. A folder that holds other
studies (results/ itself) adds the index of them to its page.

Only data and text here: plots.py reads the files, loads the pickles and
prints.
"""
import tomllib
from pathlib import Path

from batchgrow.optimizers import optimizer_display_name
from batchgrow.provenance import runs_text
from batchgrow.reporting.analysis import baseline_agreement, comparison_cell, tally_verdicts
from batchgrow.reporting.tables import describe_baseline_agreement, describe_verdicts_kept, provenance_sentence
from batchgrow.schedules import REFERENCE_SCHEDULE, schedule_display_name
from batchgrow.study import ARCHITECTURE_NAMES, EQUIVALENCE_ALPHA, EQUIVALENCE_MARGIN_PP, VERDICTS

STUDY_FILE = "study.toml"
PAGE_FILE = "README.md"
RESULTS_FILE = "results.pickle"
# What a study.toml holds: the keys it must have, and the ones it may have.
REQUIRED_KEYS = ("question", "train", "draw")
OPTIONAL_KEYS = ("prediction", "prediction_commit")
# Each command is one of the project's two command lines, as a user types it in the project folder.
COMMAND_PREFIXES = {"train": "python main.py", "draw": "python plots.py"}
CONFIDENCE = f"{100 * (1 - 2 * EQUIVALENCE_ALPHA):g}%"


class StudyFileError(Exception):
    """A study.toml that is missing, unreadable or lacks what a page needs."""


# ---------------------------------------------------------------------------
# The study.toml files
# ---------------------------------------------------------------------------


def read_study(folder):
    """The study.toml of folder as a dict: question, train, draw, and predictions, a list of (where, commit).

    Raises StudyFileError with a one-line reason for a file that cannot be
    used, so that the command line says one line, not a traceback.
    """
    path = Path(folder) / STUDY_FILE
    try:
        with open(path, "rb") as stream:
            data = tomllib.load(stream)
    except FileNotFoundError:
        raise StudyFileError(f"{path}: no such file; a study folder needs a study.toml with "
                             f"{', '.join(REQUIRED_KEYS)}") from None
    except OSError as error:
        raise StudyFileError(f"{path}: cannot be read ({error.strerror or error})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise StudyFileError(f"{path} is not valid TOML: {error}") from None
    missing = [key for key in REQUIRED_KEYS if key not in data]
    if missing:
        raise StudyFileError(f"{path} lacks {', '.join(missing)}; a study.toml holds "
                             f"{', '.join(REQUIRED_KEYS)} (and optionally {', '.join(OPTIONAL_KEYS)})")
    unknown = sorted(set(data) - set(REQUIRED_KEYS) - set(OPTIONAL_KEYS))
    if unknown:
        raise StudyFileError(f"{path} has unknown keys {', '.join(unknown)}; a study.toml holds "
                             f"{', '.join(REQUIRED_KEYS + OPTIONAL_KEYS)}")
    for key in REQUIRED_KEYS:
        if not isinstance(data[key], str) or not data[key].strip():
            raise StudyFileError(f"{path}: {key} must be a non-empty string")
    for key, prefix in COMMAND_PREFIXES.items():
        if " ".join(data[key].split()[:2]) != prefix:
            raise StudyFileError(f"{path}: {key} must be a command that starts with {prefix!r}")
    return dict(question=" ".join(data["question"].split()), train=" ".join(data["train"].split()),
                draw=" ".join(data["draw"].split()), predictions=_predictions(data, path))


def _predictions(data, path):
    """[(where, commit)] of a study.toml: a prediction and its commit, each a string or both lists."""
    where, commit = data.get("prediction"), data.get("prediction_commit")
    if where is None and commit is None:
        return []
    places = [where] if isinstance(where, str) else where
    commits = [commit] if isinstance(commit, str) else commit
    if (not isinstance(places, list) or not isinstance(commits, list) or len(places) != len(commits)
            or not places or not all(isinstance(item, str) and item.strip() for item in places + commits)):
        raise StudyFileError(f"{path}: prediction and prediction_commit go together, each a string "
                             "or both lists of strings of the same length")
    return list(zip(places, commits))


def study_folders(root):
    """Every study folder of root: root itself if it holds a results.pickle, then each folder under it that does."""
    root = Path(root)
    own = [root] if (root / RESULTS_FILE).is_file() else []
    return own + sorted(path.parent for path in root.glob(f"*/{RESULTS_FILE}"))


def holds_studies(folder):
    """Whether folder holds other studies' folders, whose index goes on its page."""
    return any(Path(folder).glob(f"*/{STUDY_FILE}"))


def commands(studies):
    """Every study's train and draw command, in order: [(folder, command)]."""
    return [(folder, study[key]) for folder, study in studies for key in COMMAND_PREFIXES]


# ---------------------------------------------------------------------------
# The answer on each endpoint, as data
# ---------------------------------------------------------------------------


def accuracy_answer(summary_rows):
    """[(schedule, counts, exceptions)] of the verdicts against dlr on the final accuracy, one per schedule.

    counts is analysis.tally_verdicts's, over the schedule's cells; the
    exceptions are (cell, verdict, mean, low, high) of its cells that are
    not shown equivalent, with the mean paired difference and its 90 %
    interval as summary.md gives them.
    """
    judged = [row for row in summary_rows
              if row["schedule"] != REFERENCE_SCHEDULE and row["paired_seeds_with_dlr"] is not None]
    return _per_schedule(judged, lambda row: row["verdict"], lambda row: (
        row["diff_vs_dlr_pp_mean"], row["diff_vs_dlr_pp_ci90_low"], row["diff_vs_dlr_pp_ci90_high"]))


def loss_answer(trajectory_rows):
    """[(schedule, counts, exceptions)] of the verdicts on the training loss over every stage end.

    As accuracy_answer, from trajectory.trajectory_rows; an exception gives
    the loss ratio to dlr's at the last stage with its 90 % interval, and
    each compared stage's verdict as trajectory.md's letter ("2 E, 3 N, 4 N").
    """
    last_rows, stages = {}, {}
    letters = {"equivalent": "E", "undecided": "U", "not equivalent": "N"}
    for row in trajectory_rows:
        cell = (row["architecture"], row["optimizer"], row["schedule"])
        stages.setdefault(cell, []).append(f"{row['stage']} {letters.get(row['stage_verdict'], '-')}")
        last_rows[cell] = row
    return _per_schedule(list(last_rows.values()), lambda row: row["trajectory_verdict"], lambda row: (
        row["train_loss_ratio"], row["train_loss_ratio_ci90_low"], row["train_loss_ratio_ci90_high"],
        ", ".join(stages[(row["architecture"], row["optimizer"], row["schedule"])])))


def comparison_answer(comparison_rows):
    """([(schedule, counts, exceptions)], sentences) of the verdicts against the baseline on the final accuracy.

    As accuracy_answer, over every compared cell with a paired seed; a
    schedule compared with another of the baseline reads "ibs against
    ibs_mom" (analysis.comparison_cell). The sentences are comparison.md's
    own: how many cells lie within two of the baseline's standard
    deviations, and whether each side's verdicts against dlr are the same.
    """
    compared = [dict(row, schedule=comparison_cell(row)[2]) for row in comparison_rows if row["paired_seeds"]]
    answer = _per_schedule(compared, lambda row: row["verdict"], lambda row: (
        row["diff_pp_mean"], row["diff_pp_ci90_low"], row["diff_pp_ci90_high"]))
    sentences = [describe_baseline_agreement(baseline_agreement(comparison_rows)),
                 describe_verdicts_kept(comparison_rows)]
    return answer, sentences


def _per_schedule(rows, verdict_of, numbers_of):
    """Group rows by schedule, in their order, and tally each group's verdicts with tally_verdicts."""
    schedules = list(dict.fromkeys(row["schedule"] for row in rows))
    answer = []
    for schedule in schedules:
        mine = {(row["architecture"], row["optimizer"], row["schedule"]): row
                for row in rows if row["schedule"] == schedule}
        counts, not_shown_equivalent = tally_verdicts((cell, verdict_of(row)) for cell, row in mine.items())
        exceptions = [((arch, optimizer, name), verdict, *numbers_of(mine[(arch, optimizer, name)]))
                      for arch, optimizer, name, verdict in not_shown_equivalent]
        answer.append((schedule, counts, exceptions))
    return answer


def short_tally(counts):
    """'11 equivalent, 1 undecided': the verdicts that occur, in the order of VERDICTS."""
    parts = [f"{counts[verdict]} {verdict}" for verdict in VERDICTS + ("no verdict",) if counts.get(verdict)]
    return ", ".join(parts) or "no comparison"


def total_counts(answer):
    """The counts of a per-schedule answer summed over its schedules."""
    total = dict.fromkeys(VERDICTS + ("no verdict",), 0)
    for _, counts, _ in answer:
        for verdict, count in counts.items():
            total[verdict] += count
    return total


# ---------------------------------------------------------------------------
# Text
# ---------------------------------------------------------------------------


def _cell_name(cell):
    arch, optimizer, _ = cell
    return f"{ARCHITECTURE_NAMES.get(arch, str(arch))} {optimizer_display_name(optimizer)}"


def _difference_text(mean, low, high):
    """'-0.08 [-0.12, -0.04]' as the tables write a difference in points; without interval where there is none."""
    if mean is None:
        return "-"
    return f"{mean:+.2f}" + (f" [{low:+.2f}, {high:+.2f}]" if low is not None else "")


def _ratio_text(ratio, low, high):
    """'×1.440 [1.390, 1.492]' as trajectory.md writes a ratio to dlr's loss."""
    if ratio is None:
        return "no interval"
    return f"×{ratio:.3f}" + (f" [{low:.3f}, {high:.3f}]" if low is not None else "")


def _answer_lines(answer, describe):
    """One line per schedule: its tally, then each cell not shown equivalent as describe(cell, verdict, ...) says.

    A study of many cells stays within a few lines this way, and what
    deserves a look, a cell that is not equivalent or undecided, is named.
    """
    lines = []
    for schedule, counts, exceptions in answer:
        line = f"- {schedule_display_name(schedule)}: {short_tally(counts)}"
        if exceptions:
            line += "; " + "; ".join(describe(*exception) for exception in exceptions)
        lines.append(line)
    return lines


def _accuracy_exception(cell, verdict, mean, low, high):
    return f"{_cell_name(cell)} {verdict}, {_difference_text(mean, low, high)}"


def _loss_exception(cell, verdict, ratio, low, high, stages):
    return f"{_cell_name(cell)} {verdict} (stages {stages}), last {_ratio_text(ratio, low, high)}"


def machine_and_time(provenance):
    """(first date, last date, total seconds, runs without a record) of the runs, from their provenance."""
    records = [record for record in provenance.values() if isinstance(record, dict)]
    dates = sorted(record["date"][:10] for record in records if record.get("date"))
    seconds = sum(float(record.get("wall_seconds") or 0.0) for record in records)
    return (dates[0] if dates else None, dates[-1] if dates else None, seconds, len(provenance) - len(records))


def _machine_lines(provenance):
    """The summary's own sentence on the machines and versions, then when the runs trained and for how long."""
    first, last, seconds, unrecorded = machine_and_time(provenance)
    when = "on dates not recorded" if first is None else (f"on {first}" if first == last else f"from {first} to {last}")
    # Runs train side by side in several worker processes, so the sum is the work done, not the time it took.
    line = (f"Trained {when}; each run's wall seconds, summed over the {runs_text(len(provenance))}: "
            f"{seconds:,.0f} s")
    line += f" ({unrecorded} not recorded)." if unrecorded else "."
    return [provenance_sentence(provenance), "", line]


def _links(names):
    """Links to the study's own tables and figures: the Markdown tables, then the figures, one line per kind."""
    tables = sorted(name for name in names if name.endswith(".md") and name != PAGE_FILE)
    csv = all(name.removesuffix(".md") + ".csv" in names for name in tables)
    lines = []
    if tables:
        lines.append("- Tables: " + ", ".join(f"[{name}]({name})" for name in tables)
                     + (" (each also as .csv)" if csv else ""))
    kinds, single = {}, []
    for name in sorted(name for name in names if name.endswith(".png")):
        kind, cell = _figure_kind(name.removesuffix(".png"))
        if cell is None:
            single.append(f"[{kind}]({name})")
        else:
            kinds.setdefault(kind, []).append(f"[{cell}]({name})")
    lines += [f"- {kind}: " + ", ".join(links) for kind, links in kinds.items()]
    if single:
        lines.append("- Figures: " + ", ".join(single))
    return lines


def _figure_kind(stem):
    """('accuracy_epoch', '300-unit MLP SGD') of a figure drawn per network and optimizer, (stem, None) else."""
    for arch, arch_name in ARCHITECTURE_NAMES.items():
        kind, found, optimizer = stem.partition(f"_{arch}_")
        if found:
            return kind, f"{arch_name} {optimizer_display_name(optimizer)}"
    return stem, None


def page_text(folder_name, study, summary_rows, trajectory, comparison_rows, provenance, written,
              margins, project_prefix="", index=None, own_rows=None):
    """The README.md of one study, as text.

    folder_name is how the page names the study ("results/seeds_20"), study
    its read_study dict, summary_rows analysis.summarize's rows, trajectory
    trajectory.trajectory_rows's rows or None where the runs recorded no
    training loss, comparison_rows compare_results's rows or None without a
    baseline, written the names of the files plots.py wrote beside it,
    project_prefix the way from the page to the project folder ("../../"),
    for the links to where a prediction was declared, index, for a
    folder that holds other studies, the text of their index, margins the
    study's trajectory.Margins and own_rows trajectory.own_margin_rows's
    {reading: rows at the adaptive optimizers' own δ}.
    """
    lines = [f"# `{folder_name}`", "", f"**Question.** {study['question']}", ""]
    for where, commit in study["predictions"]:
        lines += [f"**Prediction**, declared in commit `{commit}`: "
                  f"[{where.split('#')[0]}]({project_prefix}{where}).", ""]
    lines += ["**Reproduce** (from the project folder):", "", "```bash", study["train"], study["draw"], "```", ""]
    lines += ["## Answer", ""] + _answer_section(summary_rows, trajectory, comparison_rows, margins, own_rows or {})
    lines += ["## Machine and time", ""] + _machine_lines(provenance) + [""]
    lines += ["## Tables and figures", ""] + _links(written) + [""]
    if index:
        lines += [index]
    return "\n".join(lines).rstrip("\n") + "\n"


def _answer_section(summary_rows, trajectory, comparison_rows, margins, own_rows):
    """The answer on each endpoint the study has: the final accuracy always, the training loss where the runs
    recorded it (at SGD's δ, and at the adaptive optimizers' own), and the comparison with a baseline where
    the study was drawn with one."""
    trajectory_margin = margins.sgd
    lines = [f"**Final test accuracy against {REFERENCE_SCHEDULE}** (TOST, margin ±{EQUIVALENCE_MARGIN_PP:g} "
             f"point; cells not shown equivalent with their mean paired difference in points [{CONFIDENCE} "
             "interval]):", ""]
    lines += _answer_lines(accuracy_answer(summary_rows), _accuracy_exception) + [""]
    if trajectory and trajectory_margin is None:
        lines += [f"**Training loss at every stage end against {REFERENCE_SCHEDULE}'s**: no verdict, for no margin "
                  "is declared for this data (trajectory.md gives the intervals).", ""]
    elif trajectory:
        lines += [f"**Training loss at every stage end against {REFERENCE_SCHEDULE}'s** (δ = "
                  f"{trajectory_margin:g} on ln(L / L_{REFERENCE_SCHEDULE}); cells not shown equivalent with "
                  f"each stage's verdict and the last stage's ratio to {REFERENCE_SCHEDULE}'s loss "
                  f"[{CONFIDENCE} interval]):", ""]
        lines += _answer_lines(loss_answer(trajectory), _loss_exception) + [""]
    for reading, rows in own_rows.items():
        if not rows:
            continue
        own = ", ".join(f"{optimizer_display_name(optimizer)} {margin:g}"
                        for optimizer, margin in margins.of(reading).items()
                        if any(row["optimizer"] == optimizer for row in rows))
        lines += [f"**The same at the optimizer's own δ, {reading} reading** ({own}: SGD's rule transposed to the "
                  f"learning rate, {margins.source}; yardsticks.md sets the three yardsticks side by side):", ""]
        lines += _answer_lines(loss_answer(rows), _loss_exception) + [""]
    if comparison_rows is not None:
        answer, sentences = comparison_answer(comparison_rows)
        lines += ["**Against the baseline** (comparison.md; final test accuracy, results minus baseline, paired by "
                  f"seed, TOST at ±{EQUIVALENCE_MARGIN_PP:g} point; cells not shown equivalent with their mean "
                  f"difference in points [{CONFIDENCE} interval]):", ""]
        lines += _answer_lines(answer, _accuracy_exception) + [""] + sentences + [""]
    return lines


def index_text(entries):
    """The index of a folder's studies, as Markdown: one row per study with its question and answer.

    entries are (name, question, accuracy answer, loss answer or None,
    comparison answer or None) in order, each answer as accuracy_answer
    gives it; name is the study's folder under the indexed one, and its
    page is NAME/README.md.
    """
    # REPORT.md links to this heading: the index is where a reader finds every study.
    lines = ["## Every study", "",
             f"Each study's question, its verdicts against {REFERENCE_SCHEDULE} on the final accuracy and on the "
             "training loss (counted over its cells; where its runs recorded the training loss), and against "
             "its baseline where it has one. Its page gives the answer, the commands and the machine. "
             "`python plots.py --commands` prints every study's commands, this folder's own first and then as "
             "listed here, and "
             "`python plots.py --studies results` draws every study again, with its page and this index.", "",
             "| Study | Question | Final accuracy | Training loss | Against the baseline |",
             "|---|---|---|---|---|"]
    for name, question, accuracy, loss, comparison in entries:
        lines.append("| " + " | ".join([
            f"[{name}]({name}/{PAGE_FILE})", question.replace("|", "\\|"),
            short_tally(total_counts(accuracy)),
            short_tally(total_counts(loss)) if loss is not None else "-",
            short_tally(total_counts(comparison)) if comparison is not None else "-"]) + " |")
    return "\n".join(lines) + "\n"
