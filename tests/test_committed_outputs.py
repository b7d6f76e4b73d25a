"""The committed tables and figures are what plots.py writes from the committed pickles.

Every committed study (a folder under results/ with a results.pickle, and
results/ itself) is regenerated here: the draw command of its study.toml (its
--results and --baseline paths as written, since comparison.md names them) is
run in-process from the project folder with `--out` a temporary folder, and
every table and page it writes (summary.md, summary.csv, stages.md,
stages.csv, comparison.md and comparison.csv where the command has
--baseline, the study's README.md page, and for results/ the index of every
study on that page) must be byte for byte the committed file. The study
folder must hold exactly the PNG, table and page files plots.py writes: none
stale, none missing.

Drawing every figure of every study takes about half a minute, so by default
only results/large_batch (the smallest) has its figures drawn and compared
byte for byte with the committed PNGs. The other studies' figures are laid
out but not rendered (matplotlib's Figure.savefig only records the file
name), which is enough to know which PNG files plots.py writes. To compare
every PNG of every study:

    CHECK_ALL_FIGURES=1 python -m pytest -q tests/test_committed_outputs.py

PNG bytes depend on the matplotlib version, so the figure comparison runs only
where the installed matplotlib is the version requirements.txt pins, and is
skipped, saying so, elsewhere. The tables do not depend on it.

plots.py's `python plots.py --breakdown DIR` command (plots.BREAKDOWN_COMMAND,
the one command that is no study's), drawn from every study at once, is run
the same way: its breakdown.png must be the committed one
(where matplotlib is the pinned version), and it counts among the files of
the folder it writes to.

tests/test_report_numbers.py checks the documents' copies of these tables
against the committed files, which this test shows are plots.py's output.
tests/test_study_pages.py checks what the pages say and that their train
commands give the pickles' settings.
"""

import difflib
import os
import re
import shlex
from pathlib import Path

import matplotlib
import matplotlib.figure
import pytest

import plots
from batchgrow.reporting import study_page
from conftest import PROJECT_DIR

# The study whose figures are drawn and compared by default: the smallest.
FIGURE_STUDY = "results/large_batch"
# The files of a study folder that plots.py writes; results.pickle and runs/ are main.py's.
OUTPUT_SUFFIXES = (".png", ".md", ".csv")
# The tables and the study's page (README.md), compared byte for byte.
TABLE_SUFFIXES = (".md", ".csv")


def study_folders():
    """Every committed study, as its folder relative to the project: "results", "results/NAME"."""
    pickles = [PROJECT_DIR / "results" / "results.pickle"] + sorted(
        PROJECT_DIR.glob("results/*/results.pickle"))
    return [path.parent.relative_to(PROJECT_DIR).as_posix() for path in pickles if path.exists()]


STUDY_FOLDERS = study_folders()
FIGURE_FOLDERS = STUDY_FOLDERS if os.environ.get("CHECK_ALL_FIGURES") == "1" else [FIGURE_STUDY]


def study_plots_commands():
    """{study folder: plots.py arguments} of the draw command of every committed study's study.toml."""
    commands = {}
    for folder in study_page.study_folders(PROJECT_DIR / "results"):
        if (folder / study_page.STUDY_FILE).is_file():
            words = shlex.split(study_page.read_study(folder)["draw"])
            commands[folder.relative_to(PROJECT_DIR).as_posix()] = words[2:]
    return commands


def breakdown_command():
    """The arguments of plots.py's one `python plots.py --breakdown` command."""
    words = shlex.split(plots.BREAKDOWN_COMMAND)
    assert words[:2] == ["python", "plots.py"] and plots.parse_arguments(words[2:]).breakdown is not None
    return words[2:]


def breakdown_folder():
    """The folder the --breakdown command writes breakdown.png to, relative to the project."""
    arguments = plots.parse_arguments(breakdown_command())
    return (arguments.out or arguments.breakdown).as_posix().rstrip("/")


def pinned_version(package):
    """The version requirements.txt pins package to (package==VERSION), or None."""
    text = (PROJECT_DIR / "requirements.txt").read_text(encoding="utf-8")
    match = re.search(rf"^{re.escape(package)}==(\S+)", text, flags=re.MULTILINE | re.IGNORECASE)
    return match.group(1) if match else None


def matplotlib_is_pinned():
    return matplotlib.__version__ == pinned_version("matplotlib")


_regenerated = {}


_regenerated_breakdown = []


def regenerate_breakdown(tmp_path_factory):
    """Run the --breakdown command with --out a fresh folder; return that folder.

    The figure is saved only where the installed matplotlib is the pinned one.
    """
    if not _regenerated_breakdown:
        out = tmp_path_factory.mktemp("breakdown")
        with pytest.MonkeyPatch.context() as patch:
            patch.chdir(PROJECT_DIR)
            if not matplotlib_is_pinned():
                patch.setattr(matplotlib.figure.Figure, "savefig", lambda figure, path, *args, **kwargs: None)
            status = plots.main(breakdown_command() + ["--out", str(out)])
        assert status == 0, f"plots.py {' '.join(breakdown_command())} failed"
        _regenerated_breakdown.append(out)
    return _regenerated_breakdown[0]


def regenerate(folder, tmp_path_factory):
    """Run the draw command of the study.toml in folder with --out a fresh folder.

    Returns (out folder, names of the figures laid out but not saved). The
    figures are saved only for FIGURE_FOLDERS, and only where the installed
    matplotlib is the pinned one; elsewhere Figure.savefig records the name and
    writes nothing. Each study is regenerated once per test session.
    """
    if folder not in _regenerated:
        commands = study_plots_commands()
        assert folder in commands, f"{folder} has no study.toml with a draw command"
        out = tmp_path_factory.mktemp(folder.replace("/", "_"))
        not_saved = []
        with pytest.MonkeyPatch.context() as patch:
            # The command's relative paths, as comparison.md quotes them.
            patch.chdir(PROJECT_DIR)
            if not (folder in FIGURE_FOLDERS and matplotlib_is_pinned()):
                patch.setattr(matplotlib.figure.Figure, "savefig",
                              lambda figure, path, *args, **kwargs: not_saved.append(Path(path).name))
            status = plots.main(commands[folder] + ["--out", str(out)])
        assert status == 0, f"plots.py {' '.join(commands[folder])} failed"
        _regenerated[folder] = (out, not_saved)
    return _regenerated[folder]


def first_difference(committed, written):
    """A short unified diff of two text files, or a note that binary files differ."""
    try:
        lines = difflib.unified_diff(committed.read_text(encoding="utf-8").splitlines(),
                                     written.read_text(encoding="utf-8").splitlines(),
                                     "committed", "plots.py", lineterm="", n=0)
    except UnicodeDecodeError:
        return "(binary files differ)"
    return "\n".join(list(lines)[:12])


def test_every_committed_study_has_a_draw_command_of_its_own():
    commands = study_plots_commands()
    assert sorted(commands) == sorted(STUDY_FOLDERS)
    for folder, words in commands.items():
        assert plots.parse_arguments(words).results.parent.as_posix() == folder, (
            f"{folder}/study.toml's draw command draws another study's pickle")


# First, so that --durations charges the drawing of the figures to this test.
@pytest.mark.parametrize("folder", FIGURE_FOLDERS)
def test_committed_figures_are_what_plots_draws(folder, tmp_path_factory):
    if not matplotlib_is_pinned():
        pytest.skip(f"matplotlib {matplotlib.__version__} is installed but requirements.txt pins "
                    f"{pinned_version('matplotlib')}; the committed PNGs were drawn with the pinned "
                    "version and another version draws other bytes")
    out, not_saved = regenerate(folder, tmp_path_factory)
    assert not not_saved, f"{folder}: figures were laid out without being saved: {not_saved}"
    figures = sorted(path.name for path in out.glob("*.png"))
    assert figures, f"plots.py drew no figure for {folder}"
    differ = [name for name in figures
              if (PROJECT_DIR / folder / name).read_bytes() != (out / name).read_bytes()]
    assert not differ, f"{folder}: these committed figures are not what plots.py draws: {differ}"


def test_committed_breakdown_is_what_plots_draws(tmp_path_factory):
    if not matplotlib_is_pinned():
        pytest.skip(f"matplotlib {matplotlib.__version__} is installed but requirements.txt pins "
                    f"{pinned_version('matplotlib')}; the committed PNGs were drawn with the pinned version")
    out = regenerate_breakdown(tmp_path_factory)
    committed = PROJECT_DIR / breakdown_folder() / "breakdown.png"
    assert committed.is_file(), f"{committed.relative_to(PROJECT_DIR)} is not committed"
    assert committed.read_bytes() == (out / "breakdown.png").read_bytes(), (
        f"{committed.relative_to(PROJECT_DIR)} is not what plots.py {' '.join(breakdown_command())} "
        "draws from the committed studies")


@pytest.mark.parametrize("folder", STUDY_FOLDERS)
def test_committed_tables_are_what_plots_writes(folder, tmp_path_factory):
    out, _ = regenerate(folder, tmp_path_factory)
    tables = sorted(path.name for path in out.iterdir() if path.suffix in TABLE_SUFFIXES)
    assert {"summary.md", "summary.csv"} <= set(tables), f"plots.py wrote only {tables}"
    missing = [name for name in tables if not (PROJECT_DIR / folder / name).is_file()]
    assert not missing, f"{folder} lacks tables plots.py writes: {missing}"
    differ = [name for name in tables
              if (PROJECT_DIR / folder / name).read_bytes() != (out / name).read_bytes()]
    assert not differ, (
        f"{folder}: these committed tables are not what plots.py writes from the committed pickle: "
        f"{differ}\n" + "\n".join(first_difference(PROJECT_DIR / folder / name, out / name)
                                  for name in differ))


@pytest.mark.parametrize("folder", STUDY_FOLDERS)
def test_study_folder_holds_exactly_what_plots_writes(folder, tmp_path_factory):
    out, not_saved = regenerate(folder, tmp_path_factory)
    written = {path.name for path in out.iterdir()} | set(not_saved)
    if folder == breakdown_folder():
        written.add("breakdown.png")
    committed = {path.name for path in (PROJECT_DIR / folder).iterdir()
                 if path.is_file() and path.suffix in OUTPUT_SUFFIXES}
    assert not committed - written, (
        f"{folder} holds files plots.py no longer writes (stale): {sorted(committed - written)}")
    assert not written - committed, (
        f"{folder} lacks files plots.py writes: {sorted(written - committed)}")
