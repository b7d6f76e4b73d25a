"""Run files and pickles say every setting and their format; an older file reads by its own format's values.

A file of format 1 (every committed run file, which carries no version) left
settings out at their defaults of that time. Reading it must give the values
that code meant, whatever today's Settings say: a changed default must never
relabel a committed run.
"""
import dataclasses
import pickle

import pytest

from conftest import PROJECT_DIR
from batchgrow import safe_pickle, study
from batchgrow.reporting import analysis
from batchgrow.training import runfiles
from batchgrow.training.grid import Selection, assemble_results

# A committed run of format 1, and the study folder it belongs to.
COMMITTED_RUNS = PROJECT_DIR / "results" / "runs"
COMMITTED_RUN = COMMITTED_RUNS / "mlp300_adam_dlr_seed0.pickle"
# Defaults a later version might change: one of the settings format 1 left out when at its default, one
# it always wrote, and one of the estimator's.
CHANGED_DEFAULTS = {"beta_scaling": "samples", "train_loss_images": 20_000, "adam_learning_rate": 0.003,
                    "noise_draws": 4}


def settings_with_defaults(changed):
    """A Settings class like today's, but with some defaults changed."""
    fields = [(field.name, field.type, dataclasses.field(default=changed.get(field.name, field.default)))
              for field in dataclasses.fields(study.Settings)]
    return dataclasses.make_dataclass("Settings", fields, frozen=True,
                                      namespace={"epochs": study.Settings.epochs})


def test_a_run_file_says_every_setting_and_its_format():
    record = study.settings_record(study.Settings(adam_learning_rate=0.003))
    assert record[study.FORMAT_KEY] == study.FORMAT_VERSION
    assert set(record) == set(study.SETTING_NAMES) | {study.FORMAT_KEY}
    assert record["adam_learning_rate"] == 0.003 and record["beta_scaling"] == "none"
    # Today's format reads back as written.
    assert study.migrate_settings(record) == record


def test_format_one_covers_every_setting_and_committed_run_files_are_of_it():
    assert set(study.OMITTED_SETTINGS[1]) == set(study.SETTING_NAMES)
    saved = safe_pickle.load(COMMITTED_RUN)["settings"]
    assert study.FORMAT_KEY not in saved and "beta_scaling" not in saved


def test_a_changed_default_does_not_relabel_a_committed_run_file(monkeypatch):
    before_run = study.migrate_run_record(safe_pickle.load(COMMITTED_RUN))
    before_results = analysis.load_results(PROJECT_DIR / "results" / "amd_epyc_family_26.pickle")["config"]
    today = study.settings_record(study.Settings())
    monkeypatch.setattr(study, "Settings", settings_with_defaults(CHANGED_DEFAULTS))
    # The change took: a study made now would record the new defaults.
    assert study.settings_record(study.Settings())["beta_scaling"] == "samples" != today["beta_scaling"]
    after_run = study.migrate_run_record(safe_pickle.load(COMMITTED_RUN))
    assert after_run == before_run
    assert after_run["settings"]["beta_scaling"] == "none" and after_run["settings"]["train_loss_images"] == 5_000
    assert analysis.load_results(PROJECT_DIR / "results" / "amd_epyc_family_26.pickle")["config"] == before_results


def test_a_folder_of_format_one_runs_is_reused_by_the_settings_that_made_it():
    finished, _, rejected = runfiles.load_finished_runs(str(COMMITTED_RUNS), study.Settings(
        data_fingerprint=safe_pickle.load(COMMITTED_RUN)["settings"]["data_fingerprint"]))
    assert not rejected and len(finished) == 90


def test_a_file_of_a_newer_format_is_named_and_kept(tmp_path):
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    key = ("mlp300", "sgd", "dlr", 0)
    newer = {**study.settings_record(study.Settings()), study.FORMAT_KEY: study.FORMAT_VERSION + 1}
    path = runfiles.run_path(str(runs_dir), key)
    with open(path, "wb") as handle:
        pickle.dump({"key": key, "settings": newer,
                     "metrics": {name: [0.5] * 12 for name in study.RUN_METRICS + study.TRAJECTORY_METRICS}}, handle)
    with pytest.raises(runfiles.StudyError, match=rf"mlp300_sgd_dlr_seed0.pickle: its settings are in format "
                                                  rf"{study.FORMAT_VERSION + 1}, which this version of the code "
                                                  r"does not know .*; update the code$"):
        runfiles.load_finished_runs(str(runs_dir), study.Settings())
    assert (runs_dir / "mlp300_sgd_dlr_seed0.pickle").exists()
    results = tmp_path / "results.pickle"
    with open(results, "wb") as handle:
        pickle.dump({"config": newer, "runs": {}}, handle)
    with pytest.raises(analysis.ResultsError, match="results.pickle: its settings are in format"):
        analysis.load_results(results)


def reassembled_studies():
    """Every committed study whose command reuses all its runs: its runs are committed with it, and each
    records the model's training loss (a run without it is trained again, so its study is not reused)."""
    folders = []
    for path in [PROJECT_DIR / "results" / "results.pickle"] + sorted(PROJECT_DIR.glob("results/*/results.pickle")):
        runs = safe_pickle.load(path)["runs"].values()
        if (path.parent / "runs").is_dir() and all(study.TRAJECTORY_METRICS[0] in run for run in runs):
            folders.append(path.parent)
    return folders


ASSEMBLED_STUDIES = reassembled_studies()


@pytest.mark.parametrize("folder", ASSEMBLED_STUDIES, ids=lambda folder: folder.relative_to(PROJECT_DIR).as_posix())
def test_a_committed_pickle_is_what_its_command_assembles_from_its_runs(folder):
    # So that rerunning a study's command in a fresh clone reuses every run and leaves its pickle's bytes
    # as they are: the pickle is of today's format and holds exactly its runs.
    config = safe_pickle.load(folder / "results.pickle")["config"]
    assert config.get(study.FORMAT_KEY) == study.FORMAT_VERSION
    settings = study.Settings(**{name: config[name] for name in study.SETTING_NAMES})
    finished, provenance, rejected = runfiles.load_finished_runs(str(folder / "runs"), settings)
    assert not rejected
    selection = Selection(*(tuple(config[name]) for name in ("archs", "optimizers", "schedules", "seeds")))
    assembled = assemble_results(settings, selection, finished, config["command"], provenance)
    assert pickle.dumps(assembled) == (folder / "results.pickle").read_bytes()
