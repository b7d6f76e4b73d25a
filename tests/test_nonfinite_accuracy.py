"""A results pickle with a NaN or infinite test accuracy is refused in one line, exit status 2.

An accuracy is a share of test images, so a non-finite one can only be
damage; plots.py must name the run instead of ending in matplotlib's
traceback about axis limits. The pickle is a committed study's with one
accuracy replaced, written with pickle (only reading is restricted) and read
by plots.py in its own process, as a user would run it.
"""

import math
import pickle

import pytest

from batchgrow.reporting import analysis
from batchgrow import safe_pickle
from conftest import PROJECT_DIR, run_plots

# The smallest committed study: a realistic pickle to damage.
STUDY = PROJECT_DIR / "results" / "large_batch" / "results.pickle"


def damaged_pickle(folder, value):
    """A committed study's pickle with the last accuracy of its first run set to value: (path, run key)."""
    results = safe_pickle.load(STUDY)
    key = sorted(results["runs"])[0]
    accuracies = list(results["runs"][key]["test_accuracy"])
    accuracies[-1] = value
    results["runs"][key]["test_accuracy"] = accuracies
    path = folder / "results.pickle"
    path.write_bytes(pickle.dumps(results))
    return path, key


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_a_non_finite_accuracy_is_refused_naming_the_run(tmp_path, value):
    path, key = damaged_pickle(tmp_path, value)
    with pytest.raises(analysis.ResultsError) as refusal:
        analysis.load_results(path)
    assert repr(key) in str(refusal.value) and "NaN or infinite" in str(refusal.value)


def test_the_undamaged_pickle_loads(tmp_path):
    # The control: the same pickle, rewritten with its accuracy as it was, is accepted.
    results = safe_pickle.load(STUDY)
    key = sorted(results["runs"])[0]
    path, _ = damaged_pickle(tmp_path, results["runs"][key]["test_accuracy"][-1])
    assert analysis.load_results(path)["runs"][key]["test_accuracy"][-1] == results["runs"][key]["test_accuracy"][-1]


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
def test_plots_exits_2_with_one_line_naming_the_run(tmp_path, value):
    # plots.py draws with matplotlib, which it imports before reading the pickle.
    pytest.importorskip("matplotlib")
    path, key = damaged_pickle(tmp_path, value)
    completed = run_plots("--results", path, "--out", tmp_path / "out", cwd=tmp_path)

    assert completed.returncode == 2, completed.stderr
    assert completed.stdout == "" and "Traceback" not in completed.stderr
    lines = completed.stderr.splitlines()
    assert len(lines) == 1
    assert repr(key) in lines[0] and "NaN or infinite" in lines[0] and str(path) in lines[0]
    # Nothing was drawn: the input was refused before any output.
    assert not (tmp_path / "out").exists()
