"""Every study folder explains itself: its study.toml and its README.md page.

A study folder (results/ and each folder under it with a results.pickle) has
a hand-written study.toml with its question and the two commands that
reproduce it, and a README.md that plots.py writes from it and the results
(tests/test_committed_outputs.py shows that each committed page, and the
index on results/README.md, is byte for byte what plots.py writes). Here:

- every study has both, and its page holds the question, the commands and
  the answer;
- each train command, parsed by main.py's own parser, gives the settings and
  selection saved in the pickle, so a command copied wrong fails;
- every relative link of the pages resolves;
- a page says what a hand-computed study gives;
- a malformed study.toml is one line and exit status 2.
"""
import dataclasses
import re
import shlex
import subprocess
import sys

import pytest

import main
import plots
import synthetic
from batchgrow.reporting import study_page
from batchgrow.reporting.analysis import load_results
from batchgrow.study import NOISE_ESTIMATOR_SETTINGS, Settings
from conftest import PROJECT_DIR, run_plots
from test_docs import EXTERNAL, anchors, link_targets

STUDY_FOLDERS = study_page.study_folders(PROJECT_DIR / "results")
FOLDER_IDS = [folder.relative_to(PROJECT_DIR).as_posix() for folder in STUDY_FOLDERS]


def test_the_committed_studies_are_found():
    # The results folder and the studies under it: an empty list would check nothing.
    assert STUDY_FOLDERS[0] == PROJECT_DIR / "results" and len(STUDY_FOLDERS) > 20


@pytest.mark.parametrize("folder", STUDY_FOLDERS, ids=FOLDER_IDS)
def test_every_study_has_a_study_toml_and_a_page_that_answers(folder):
    study = study_page.read_study(folder)
    page = (folder / study_page.PAGE_FILE).read_text(encoding="utf-8")
    assert f"**Question.** {study['question']}" in page
    assert f"```bash\n{study['train']}\n{study['draw']}\n```" in page
    answer = page.split("## Answer", 1)[1].split("\n## ", 1)[0]
    assert "**Final test accuracy against dlr**" in answer
    # One line per schedule, each with its tally of verdicts.
    assert any(re.match(r"- .+: \d+ (equivalent|undecided|not equivalent)", line) for line in answer.splitlines())
    for where, commit in study["predictions"]:
        assert f"commit `{commit}`" in page and where in page


@pytest.mark.parametrize("folder", STUDY_FOLDERS, ids=FOLDER_IDS)
def test_a_prediction_names_a_commit_of_the_project(folder):
    for _, commit in study_page.read_study(folder)["predictions"]:
        kind = subprocess.run(["git", "cat-file", "-t", commit], cwd=PROJECT_DIR, capture_output=True, text=True)
        assert kind.stdout.strip() == "commit", f"{folder}/study.toml: {commit} is not a commit"


@pytest.mark.parametrize("folder", STUDY_FOLDERS, ids=FOLDER_IDS)
def test_train_command_gives_the_settings_saved_in_the_pickle(folder, monkeypatch):
    words = shlex.split(study_page.read_study(folder)["train"])
    arguments = main.parse_args(words[2:])
    config = load_results(folder / study_page.RESULTS_FILE)["config"]
    # The data are not what the command says; their size and digest are the pickle's own.
    monkeypatch.setattr(main, "check_sizes", lambda *args: None)
    monkeypatch.setattr(main, "data_fingerprint", lambda arrays: config["data_fingerprint"])
    settings = dataclasses.asdict(main.settings_from_arguments(arguments, None))
    # A setting the pickle predates took its default, as plots.py reads it; how the noise scale would have
    # been measured is recorded as None where it was not measured.
    saved = {name: config.get(name, getattr(Settings, name, None)) for name in settings}
    unmeasured = set(NOISE_ESTIMATOR_SETTINGS) if not saved["measure_noise"] else set()
    differ = {name: (value, saved[name]) for name, value in settings.items()
              if saved[name] != value and not (name in unmeasured and saved[name] is None)}
    assert not differ, f"{folder}/study.toml's train command gives other settings (command, pickle): {differ}"
    # --seeds N is seeds 0 to N-1; --seeds A-B gives the seeds themselves.
    seeds = list(range(arguments.seeds)) if isinstance(arguments.seeds, int) else list(arguments.seeds)
    selection = {"archs": list(arguments.archs), "optimizers": list(arguments.optimizers),
                 "schedules": list(arguments.schedules), "seeds": seeds}
    saved = {name: list(config[name]) for name in selection}
    assert selection == saved, f"{folder}/study.toml's train command selects other runs"
    # --out is where, --jobs and --shard how fast: not settings, but the folder must be the study's own.
    assert (PROJECT_DIR / arguments.out).resolve() == folder.resolve(), (
        f"{folder}/study.toml's train command writes to {arguments.out}")


def page_links():
    """(page, target) of every relative link on the committed pages."""
    links = []
    for folder in STUDY_FOLDERS:
        page = folder / study_page.PAGE_FILE
        links += [(page, target) for target in link_targets(page.read_text(encoding="utf-8"))
                  if not EXTERNAL.match(target)]
    return links


def test_the_pages_have_links_to_check():
    pages = {page for page, _ in page_links()}
    assert len(pages) == len(STUDY_FOLDERS)


@pytest.mark.parametrize("page,target", page_links(),
                         ids=[f"{page.parent.name}->{target}" for page, target in page_links()])
def test_every_relative_link_of_a_page_resolves(page, target):
    path_part, _, anchor = target.partition("#")
    linked = (page.parent / path_part).resolve() if path_part else page
    assert linked.exists(), f"{page.relative_to(PROJECT_DIR)} links to {target}, which does not exist"
    if anchor:
        assert anchor in anchors(linked), f"{page.relative_to(PROJECT_DIR)} links to {target}: no such heading"


def test_commands_lists_every_study_in_order_then_the_breakdown(capsys):
    assert plots.main(["--commands"]) == 0
    lines = capsys.readouterr().out.splitlines()
    expected = []
    for folder in STUDY_FOLDERS:
        study = study_page.read_study(folder)
        expected += [study["train"], study["draw"]]
    assert lines == expected + [plots.BREAKDOWN_COMMAND]
    assert lines[:2] == ["python main.py", "python plots.py"]  # results/ itself first: the original grid.


# ---------------------------------------------------------------- a page from a hand-computed study
def write_study(folder, study_toml=None):
    """A study of the 300-unit MLP with SGD, dlr and ibs at 3 seeds, ibs 0.5, 0.6 and 0.7 points above dlr."""
    folder.mkdir(parents=True, exist_ok=True)
    finals = {("mlp300", "sgd", "dlr", seed): 0.97 for seed in range(3)}
    finals.update({("mlp300", "sgd", "ibs", seed): 0.975 + 0.001 * seed for seed in range(3)})
    config = synthetic.make_config(archs=("mlp300",), optimizers=("sgd",), schedules=("dlr", "ibs"),
                                   seeds=range(3))
    synthetic.write_pickle(folder / "results.pickle", synthetic.make_results(finals, config))
    if study_toml is not None:
        (folder / study_page.STUDY_FILE).write_text(study_toml, encoding="utf-8")
    return folder / "results.pickle"


def good_toml(folder):
    return (f'question = "Does ibs stay within the margin?"\n'
            f'train = "python main.py --archs mlp300 --optimizers sgd --schedules dlr,ibs --seeds 3 --out {folder}"\n'
            f'draw = "python plots.py --results {folder}/results.pickle"\n')


def test_a_page_says_what_a_hand_computed_study_gives(tmp_path):
    folder = tmp_path / "study"
    pickle_path = write_study(folder, good_toml(folder))
    assert plots.main(["--results", str(pickle_path)]) == 0
    page = (folder / "README.md").read_text(encoding="utf-8")
    assert "**Question.** Does ibs stay within the margin?" in page
    # Differences 0.5, 0.6, 0.7 points: mean 0.60, SD 0.1, 90 % interval 0.60 ± 2.920 × 0.1 / √3.
    assert ("- increasing batch size (ibs): 1 not equivalent; 300-unit MLP SGD not equivalent, "
            "+0.60 [+0.43, +0.77]") in page
    assert "The runs were trained on test machine (all 6 runs)." in page
    assert "Trained on 2026-11-29; each run's wall seconds, summed over the 6 runs: 60 s." in page
    assert "[summary.md](summary.md)" in page and "Training loss" not in page
    assert "**Prediction**" not in page


def test_a_folder_without_a_study_toml_gets_no_page(tmp_path):
    pickle_path = write_study(tmp_path / "study")
    assert plots.main(["--results", str(pickle_path)]) == 0
    assert not (tmp_path / "study" / "README.md").exists()


def test_studies_draws_each_study_and_writes_the_index(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("first", "second"):
        write_study(tmp_path / "all" / name, good_toml(f"all/{name}"))
    assert plots.main(["--studies", "all"]) == 0
    index = (tmp_path / "all" / "README.md").read_text(encoding="utf-8")
    for name in ("first", "second"):
        assert (f"| [{name}]({name}/README.md) | Does ibs stay within the margin? | 1 not equivalent | - | - |"
                in index)
        assert (tmp_path / "all" / name / "README.md").is_file()


@pytest.mark.parametrize("content,reason", [
    ('question = "Q"\ntrain = "python main.py"\ndraw = ', "is not valid TOML"),
    ('question = "Q"\ntrain = "python main.py"\n', "lacks draw"),
    ('question = "Q"\ntrain = "python main.py"\ndraw = "python plots.py"\nowner = "me"\n', "unknown keys owner"),
    ('question = "Q"\ntrain = "python main.py"\ndraw = "python plots.py --results elsewhere/results.pickle"\n',
     "draws its own results.pickle"),
    ('question = "Q"\ntrain = "python main.py"\ndraw = "python plots.py --bogus"\n', "unrecognized arguments"),
    ('question = "Q"\ntrain = "python train.py"\ndraw = "python plots.py"\n', "starts with 'python main.py'"),
    ('question = "Q"\ntrain = "python main.py"\ndraw = "python plots.py"\nprediction = "docs/x.md"\n',
     "prediction and prediction_commit go together"),
])
def test_a_malformed_study_toml_is_one_line_and_exit_2(tmp_path, content, reason):
    write_study(tmp_path / "all" / "study", content)
    completed = run_plots("--studies", tmp_path / "all")
    assert completed.returncode == 2, completed.stderr
    assert "Traceback" not in completed.stderr
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("plots.py: error:") and reason in lines[0], lines
    assert not (tmp_path / "all" / "study" / "README.md").exists()


def test_a_study_drawn_alone_with_a_malformed_study_toml_is_one_line_and_exit_2(tmp_path):
    pickle_path = write_study(tmp_path / "study", 'question = "Q"\n')
    completed = run_plots("--results", pickle_path, "--out", tmp_path / "out")
    assert completed.returncode == 2 and "Traceback" not in completed.stderr
    assert completed.stderr.strip().splitlines() == [completed.stderr.strip()]
    assert "lacks train, draw" in completed.stderr
    assert not (tmp_path / "out").exists()  # Nothing is written before the study.toml is read.


def test_plots_never_imports_tensorflow():
    code = "import sys, plots; sys.exit('tensorflow' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=PROJECT_DIR).returncode == 0


def test_settings_are_compared_in_full():
    # The train command's check above compares every field of the settings with the pickle's config.
    assert {field.name for field in dataclasses.fields(Settings)} <= set(
        load_results(PROJECT_DIR / "results" / "results.pickle")["config"])


@pytest.mark.parametrize("arguments,message", [
    (["--studies", "results", "--out", "elsewhere"], "--studies takes no --out"),
    (["--commands", "--out", "elsewhere"], "--commands takes no --out"),
    (["--commands", "--studies", "results"], "--studies and --commands cannot be combined"),
    (["--studies", "results", "--baseline", "results/results.pickle"], "it takes no --baseline"),
])
def test_options_that_read_every_study_refuse_what_they_cannot_use(arguments, message, capsys):
    with pytest.raises(SystemExit) as stopped:
        plots.parse_arguments(arguments)
    assert stopped.value.code == 2 and message in capsys.readouterr().err
