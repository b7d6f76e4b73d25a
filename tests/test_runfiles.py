"""Tests of runfiles.py: a run's file saved whole or not at all, files from older versions read as today's, and the claims.

The run files as a study reuses them, refuses them and sets them aside are
tested through main.py in test_main.py.
"""
import dataclasses
import os
import pickle
import subprocess
import sys

import pytest

from batchgrow.training import runfiles
from batchgrow import study
from conftest import PROJECT_DIR


def test_a_claim_is_exclusive_and_ends_with_a_killed_process(tmp_path):
    path = str(tmp_path / "claims" / "mlp300_sgd_seed0.lock")
    holder = subprocess.Popen(
        [sys.executable, "-c", "import time\nfrom batchgrow.training import runfiles\n"
                               f"with runfiles.claim({path!r}) as held:\n"
                               "    print(held, flush=True)\n    time.sleep(60)"],
        cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "True"
    with runfiles.claim(path) as held:
        assert held is False
    holder.kill()
    holder.wait(timeout=30)
    with runfiles.claim(path) as held:
        assert held is True
    assert not os.path.exists(path)  # The holder removes its lock file when done.


def test_a_save_that_fails_part_way_leaves_no_partial_file(tmp_path, monkeypatch):
    import errno

    def fill_the_disk(payload, stream):
        stream.write(b"\x80\x05partial")
        raise OSError(errno.ENOSPC, "No space left on device")
    monkeypatch.setattr(runfiles.pickle, "dump", fill_the_disk)
    target = tmp_path / "mlp300_sgd_dlr_seed0.pickle"
    with pytest.raises(runfiles.StudyError, match="cannot save .*No space left on device"):
        runfiles.save_atomically({"key": 1}, str(target))
    assert list(tmp_path.iterdir()) == []


# ---------------------------------------------------------------- files from older versions of the code
def test_old_run_files_are_migrated_and_reused(tmp_path):
    """A run file from before momentum, provenance and a later setting were recorded is read as today's."""
    settings = study.Settings(train_size=300, test_size=200, epochs_per_stage=1)
    current = dataclasses.asdict(settings)
    old_settings = {name: value for name, value in current.items() if name != "fewer_updates_factor"}
    metrics = {name: [0.5] * 4 for name in study.RUN_METRICS + study.TRAJECTORY_METRICS if name != "momentum"}
    runs_dir = tmp_path / "runs"
    runs_dir.mkdir()
    for optimizer in ("sgd", "adam"):
        key = ("mlp300", optimizer, "dlr", 0)
        with open(runfiles.run_path(str(runs_dir), key), "wb") as handle:
            pickle.dump({"key": key, "settings": old_settings, "metrics": metrics}, handle)
    finished, provenance, rejected = runfiles.load_finished_runs(str(runs_dir), settings)
    assert rejected == [] and set(finished) == {("mlp300", "sgd", "dlr", 0), ("mlp300", "adam", "dlr", 0)}
    assert finished[("mlp300", "sgd", "dlr", 0)]["momentum"] == [0.0] * 4
    assert finished[("mlp300", "adam", "dlr", 0)]["momentum"] == [settings.adam_beta_1] * 4
    assert provenance == {key: None for key in finished}
    # A setting the old file has with another value than today's is still refused.
    with pytest.raises(runfiles.StudyError, match="other settings"):
        runfiles.load_finished_runs(str(runs_dir), dataclasses.replace(settings, base_batch_size=8))
