"""Tests of plots.py's command line on synthetic results pickles shaped like main.py's output.

What it writes, where, and what it says; its refusals of unusable input in
one line and status 2. The numbers in those files are tested with the modules
that make them: test_analysis.py, test_tables.py, test_figures.py and
test_breakdown.py.
"""
import csv
import math
import pickle
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from io import StringIO
from pathlib import Path

import pytest
from scipy import stats

from batchgrow.reporting import analysis
from batchgrow import optimizers
import plots
from batchgrow import study
from batchgrow.reporting import tables
from conftest import PROJECT_DIR, assert_png, run_plots
from synthetic import (MACHINE_A, breakdown_folder, full_grid_accuracies, hand_computed_comparison_pickles,
                       make_complete_config, make_config, make_provenance, make_results, paper_grid_accuracies,
                       write_pickle)


@pytest.fixture(scope="module")
def full_grid_output(tmp_path_factory):
    """Run plots.main once on a full two-seed grid; return (out folder, stdout)."""
    folder = tmp_path_factory.mktemp("full")
    results_path = write_pickle(folder / "results.pickle",
                                make_results(full_grid_accuracies(), make_config()))
    capture = _run_main_capturing(["--results", str(results_path)])
    return folder, capture


def _run_main_capturing(argv):
    """Run plots.main in this process; return (exit status, stdout, stderr)."""
    stdout, stderr = StringIO(), StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        status = plots.main(argv)
    return status, stdout.getvalue(), stderr.getvalue()


def plotted_comparison(tmp_path):
    """plots.py --baseline on the hand-computed pickles, which must succeed quietly.

    Returns (results path, baseline path, out folder, stdout).
    """
    results_path, baseline_path = hand_computed_comparison_pickles(tmp_path)
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                  str(baseline_path), "--out", str(out_dir)])
    assert status == 0 and stderr == ""
    return results_path, baseline_path, out_dir, stdout


def pair_pickles(folder):
    """A study with ibs_mom (momentum, seeds 0 to 2) and one with dlr and ibs at a higher momentum."""
    raised, other = {}, {}
    for seed in (0, 1, 2):
        raised[("lenet5", "momentum", "dlr", seed)] = 0.980 + 0.001 * seed
        raised[("lenet5", "momentum", "ibs_mom", seed)] = 0.975 + 0.001 * seed + 0.0001 * (seed == 1)
        other[("lenet5", "momentum", "dlr", seed)] = 0.981 + 0.001 * seed
        other[("lenet5", "momentum", "ibs", seed)] = 0.979 + 0.001 * seed
    selection = dict(archs=["lenet5"], optimizers=["momentum"], seeds=[0, 1, 2])
    first = make_complete_config(schedules=["dlr", "ibs_mom"], **selection)
    second = make_complete_config(schedules=["dlr", "ibs"], **selection)
    second.update(momentum_coefficient=0.98, momentum_learning_rate=0.0002)
    return (write_pickle(folder / "first.pickle", make_results(raised, first, with_momentum=True)),
            write_pickle(folder / "second.pickle", make_results(other, second, with_momentum=True)))


def test_full_grid_writes_every_figure_and_summary_next_to_the_results(full_grid_output):
    folder, (status, stdout, stderr) = full_grid_output
    assert status == 0 and stderr == ""
    for arch in study.ARCHITECTURES:
        for optimizer in optimizers.OPTIMIZERS:
            for prefix in ("accuracy_epoch", "accuracy_updates", "accuracy_seconds",
                           "train_loss"):
                assert_png(folder / f"{prefix}_{arch}_{optimizer}.png")
    for name in ("schedules.png", "noise_scale.png", "overview.png"):
        assert_png(folder / name)
    assert "overview.png" in stdout and "summary.md" in stdout
    assert "verdicts against dlr (TOST, margin ±0.1 pp, alpha 0.05): " in stdout
    assert "missing" not in stdout
    with (folder / "summary.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 18
    assert rows[0]["architecture"] == "mlp300" and rows[0]["schedule"] == "dlr"
    updates = {row["schedule"]: int(row["parameter_updates"]) for row in rows}
    assert updates == {"dlr": 60000, "ibs": 18720, "hyb": 26004}  # The counts README.md and REPORT.md give.


def test_summary_markdown_uses_human_names_and_says_what_the_numbers_mean(full_grid_output):
    folder, _ = full_grid_output
    text = (folder / "summary.md").read_text()
    assert "LeNet-5" in text and "500-150 MLP" in text and "increasing batch size (ibs)" in text
    assert "2 seeds" in text and "95% Student-t" in text
    assert text.count("\n| ") == 19  # header plus 18 rows


def test_partial_results_draw_what_is_there_and_report_missing_runs(tmp_path):
    finals = {("lenet5", "adam", schedule, seed): 0.98
              for schedule in ("dlr", "ibs") for seed in (0, 1)}
    finals[("mlp300", "sgd", "dlr", 0)] = 0.96
    listed_missing = [("lenet5", "adam", "hyb", 0)]
    results = make_results(finals, make_config(archs=["mlp300", "lenet5"], seeds=[0, 1]),
                           missing=listed_missing)
    results_path = write_pickle(tmp_path / "partial.pickle", results)
    out_dir = tmp_path / "figures"

    status, stdout, stderr = _run_main_capturing(["--results", str(results_path),
                                                  "--out", str(out_dir)])

    assert status == 0 and stderr == ""
    for name in ("accuracy_epoch_lenet5_adam.png", "accuracy_updates_mlp300_sgd.png",
                 "train_loss_lenet5_adam.png", "overview.png", "noise_scale.png",
                 "schedules.png"):
        assert_png(out_dir / name)
    assert not (out_dir / "accuracy_epoch_lenet5_sgd.png").exists()
    assert not (out_dir / "accuracy_epoch_mlp300_adam.png").exists()
    assert "skipped lenet5 sgd" in stdout
    # Runs asked for by the config (2 archs x 2 optimizers x 3 schedules x 2 seeds)
    # less the 5 finished ones.
    missing_line = next(line for line in stdout.splitlines() if line.startswith("missing"))
    assert missing_line.startswith("missing 19 runs")
    assert "(lenet5, adam, hyb, 0)" in missing_line and "(mlp300, sgd, dlr, 1)" in missing_line
    assert "(lenet5, adam, dlr, 0)" not in missing_line
    with (out_dir / "summary.csv").open() as handle:
        cells = [(row["architecture"], row["optimizer"], row["schedule"])
                 for row in csv.DictReader(handle)]
    assert cells == [("mlp300", "sgd", "dlr"), ("lenet5", "adam", "dlr"),
                     ("lenet5", "adam", "ibs")]


def test_missing_results_file_exits_2_with_one_line_and_no_traceback(tmp_path):
    completed = run_plots("--results", tmp_path / "nowhere.pickle", cwd=tmp_path, timeout=60)
    assert completed.returncode == 2
    assert len(completed.stderr.splitlines()) == 1
    assert "nowhere.pickle" in completed.stderr and "python main.py" in completed.stderr
    assert "Traceback" not in completed.stderr and completed.stdout == ""


@pytest.mark.parametrize("content, reason", [
    (b"this is not a pickle\n", "cannot read"),
    (b"", "cannot read"),
    (pickle.dumps([1, 2, 3]), "not a dict"),
    (pickle.dumps({"config": {"train_size": 20000}}), "no 'runs'"),
    (pickle.dumps({"runs": {}}), "no 'config'"),
    (pickle.dumps({"config": {"train_size": 20000}, "runs": {("lenet5", "sgd"): {}}}),
     "not an (arch, optimizer, schedule, seed) tuple"),
    (pickle.dumps({"config": {"train_size": 20000},
                   "runs": {("lenet5", "sgd", "dlr", 0): {"test_accuracy": [0.9]}}}),
     "has no 'test_loss'"),
    (pickle.dumps({"config": {"train_size": 20000}, "runs": {}}), "no finished runs"),
    # A pickle naming a class outside plain Python and numpy is refused, not imported.
    (pickle.dumps(Path("results.pickle")), "only plain Python and numpy"),
])
def test_unusable_results_exit_2_with_one_line(tmp_path, content, reason):
    results_path = tmp_path / "results.pickle"
    results_path.write_bytes(content)
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert reason in stderr and str(results_path) in stderr


class _CreatesFileWhenLoaded:
    """Pickles as a call of open(path, "w"), which a plain pickle.load would make."""

    def __init__(self, path):
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_a_pickle_that_would_run_code_is_refused_without_running_it(tmp_path):
    # A plain unpickler runs the call, which shows the payload is live.
    control_marker = tmp_path / "control_marker"
    pickle.loads(pickle.dumps(_CreatesFileWhenLoaded(control_marker))).close()
    assert control_marker.exists()

    marker = tmp_path / "marker"
    results_path = tmp_path / "results.pickle"
    results_path.write_bytes(pickle.dumps(
        {"config": {"train_size": 20000}, "runs": {}, "payload": _CreatesFileWhenLoaded(marker)}))
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert "refused" in stderr and "something other than plain data" in stderr
    assert "none of its code was run" in stderr and str(results_path) in stderr
    assert not marker.exists()


def test_baseline_flag_writes_comparison_files_that_say_what_is_compared(tmp_path):
    results_path, baseline_path, out_dir, stdout = plotted_comparison(tmp_path)
    assert "comparison.md" in stdout and "comparison.csv" in stdout
    assert (out_dir / "summary.md").is_file() and (out_dir / "overview.png").is_file()
    markdown = (out_dir / "comparison.md").read_text()
    assert (f"results: `{results_path}` (`python main.py --original-optimizer-reset`), "
            f"baseline: `{baseline_path}` (`python main.py`)") in markdown
    assert "results minus baseline" in markdown and "paired by seed" in markdown
    assert "percentage points" in markdown and "95% Student-t" in markdown
    assert "original_optimizer_reset: True vs False" in markdown
    # stage_factor differs and is named; machine differs too but is not.
    assert "Other config keys that differ: stage_factor." in markdown
    assert ("| LeNet-5 | SGD | decaying learning rate (dlr) | 3 | 98.00 ± 0.10 | 97.70 ± 0.25 "
            "| +0.30 [-0.07, +0.67] |") in markdown
    assert "| +0.00 [+0.00, +0.00] |" in markdown
    assert "partner" not in markdown
    with (out_dir / "comparison.csv").open() as handle:
        dlr_row, ibs_row = csv.DictReader(handle)
    assert dlr_row["paired_seeds"] == "3"
    assert float(dlr_row["diff_pp_mean"]) == pytest.approx(0.30)
    assert float(dlr_row["diff_pp_ci95_low"]) == pytest.approx(0.30 - 0.3726, abs=1e-3)
    assert float(dlr_row["baseline_final_test_accuracy_percent_mean"]) == pytest.approx(97.70)
    assert float(ibs_row["diff_pp_mean"]) == 0.0


def test_comparison_gives_a_tost_verdict_for_every_cell(tmp_path):
    results_path, baseline_path, out_dir, stdout = plotted_comparison(tmp_path)
    rows = analysis.compare_results(analysis.load_results(results_path),
                                    analysis.load_results(baseline_path))
    dlr, ibs = rows
    # dlr: paired differences 0.30, 0.15, 0.45 pp; the 90% interval is 0.30 ± t(0.95, 2) * 0.15 / sqrt(3),
    # [+0.05, +0.55]: inside neither (-0.1, +0.1) nor wholly outside it.
    half_width = stats.t.ppf(0.95, 2) * 0.15 / math.sqrt(3)
    assert dlr["diff_pp_ci90_low"] == pytest.approx(0.30 - half_width)
    assert dlr["diff_pp_ci90_high"] == pytest.approx(0.30 + half_width)
    assert dlr["verdict"] == "undecided" and dlr["equivalence_margin_pp"] == 0.1
    standard_error = 0.15 / math.sqrt(3)
    assert dlr["tost_p_value"] == pytest.approx(stats.t.cdf((0.30 - 0.1) / standard_error, 2))
    # ibs: the same runs on both sides.
    assert ibs["verdict"] == "equivalent" and ibs["baseline_schedule"] == "ibs"
    markdown = (out_dir / "comparison.md").read_text()
    assert "| Verdict against the baseline |" in markdown
    assert "| +0.30 [-0.07, +0.67] | +1.2 (of 0.25 pp over 3 seeds) | undecided (n = 3, 90% [+0.05, +0.55]) |" \
        in markdown
    assert "| equivalent (n = 3, 90% [+0.00, +0.00]) |" in markdown
    assert tables.equivalence_rule_sentence("the baseline", "A cell") in markdown
    # Every cell is compared with itself, so no row needs the sentence on pairs.
    assert "X against Y" not in markdown
    with (out_dir / "comparison.csv").open() as handle:
        dlr_row, ibs_row = csv.DictReader(handle)
    assert list(dlr_row)[-9:] == ["baseline_schedule", "diff_pp_ci90_low", "diff_pp_ci90_high",
                                  "tost_p_value", "equivalence_margin_pp", "verdict", "largest_run_diff_pp",
                                  "results_verdict_against_reference", "baseline_verdict_against_reference"]
    # The paired difference of largest size, with its sign; dlr is the reference on both sides.
    assert dlr["largest_run_diff_pp"] == pytest.approx(0.45) and ibs["largest_run_diff_pp"] == 0.0
    assert dlr["results_verdict_against_reference"] is dlr["baseline_verdict_against_reference"] is None
    # Each side's own verdict of ibs against its dlr, set side by side.
    results_summary, baseline_summary = (
        {row["schedule"]: row["verdict"] for row in analysis.summarize(analysis.load_results(path))
         if row["architecture"] == "lenet5"} for path in (results_path, baseline_path))
    assert (ibs["results_verdict_against_reference"], ibs["baseline_verdict_against_reference"]) == (
        results_summary["ibs"], baseline_summary["ibs"])
    kept = tables.describe_verdicts_kept(rows)
    assert kept in markdown and kept.startswith("Verdicts against dlr on the final accuracy")
    assert ("1 of 1 cells the same" in kept) == (results_summary["ibs"] == baseline_summary["ibs"])
    assert "| +0.45 | (reference) |" in markdown
    assert dlr_row["verdict"] == "undecided" and ibs_row["verdict"] == "equivalent"
    assert dlr_row["baseline_schedule"] == "dlr"
    assert ("verdicts against the baseline (TOST, margin ±0.1 pp, alpha 0.05): 1 equivalent, 1 undecided, "
            "0 not equivalent; not shown equivalent: lenet5 sgd dlr (undecided)") in stdout.splitlines()


def test_baseline_run_prints_the_agreement_line(tmp_path):
    _, _, _, stdout = plotted_comparison(tmp_path)
    assert ("against the baseline: 2 of 2 cells differ from the baseline by at most two of its "
            "seed-to-seed standard deviations.") in stdout.splitlines()
    assert "2 of 2 cells differ" in (tmp_path / "out" / "comparison.md").read_text()


def test_pair_compares_one_schedule_of_the_results_with_another_of_the_baseline(tmp_path):
    first, second = pair_pickles(tmp_path)
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(first), "--baseline", str(second),
                                                  "--pair", "ibs_mom:ibs", "--pair", "dlr",
                                                  "--out", str(out_dir)])
    assert status == 0 and stderr == ""
    rows = analysis.compare_results(analysis.load_results(first), analysis.load_results(second),
                                    [("ibs_mom", "ibs"), ("dlr", "dlr")])
    assert [(row["schedule"], row["baseline_schedule"]) for row in rows] == [("dlr", "dlr"), ("ibs_mom", "ibs")]
    dlr, ibs_mom = rows
    assert dlr["diff_pp_mean"] == pytest.approx(-0.1) and dlr["paired_seeds"] == 3
    assert ibs_mom["diff_pp_mean"] == pytest.approx(-0.4 + 0.01 / 3)
    assert ibs_mom["verdict"] == "not equivalent"
    markdown = (out_dir / "comparison.md").read_text()
    assert ("| LeNet-5 | SGD + momentum | increased momentum (ibs_mom) against increasing batch size (ibs) "
            "| 3 |") in markdown
    assert "A row \"X against Y\" compares the results' schedule X with the baseline's schedule Y" in markdown
    assert "momentum_coefficient: 0.9 vs 0.98" in markdown
    assert "lenet5 momentum ibs_mom against ibs (not equivalent)" in stdout
    with (out_dir / "comparison.csv").open() as handle:
        csv_rows = list(csv.DictReader(handle))
    assert [(row["schedule"], row["baseline_schedule"]) for row in csv_rows] == [("dlr", "dlr"), ("ibs_mom", "ibs")]
    # One study against itself: the pair ibs_mom:dlr is the summary's difference from dlr, verdict and all.
    results = analysis.load_results(first)
    within, = analysis.compare_results(results, results, [("ibs_mom", "dlr")])
    summary_row, = [row for row in analysis.summarize(results) if row["schedule"] == "ibs_mom"]
    for comparison_key, summary_key in (("diff_pp_mean", "diff_vs_dlr_pp_mean"),
                                        ("diff_pp_ci90_low", "diff_vs_dlr_pp_ci90_low"),
                                        ("diff_pp_ci90_high", "diff_vs_dlr_pp_ci90_high"),
                                        ("tost_p_value", "tost_p_value"), ("verdict", "verdict")):
        assert within[comparison_key] == pytest.approx(summary_row[summary_key]), comparison_key


@pytest.mark.parametrize("arguments, message", [
    (["--pair", "ibs_mom:ibs"], "pass --baseline PATH too"),
    (["--baseline", "BASELINE", "--pair", "a:b:c"], "is not S or S:T"),
    (["--baseline", "BASELINE", "--pair", "ibs:"], "is not S or S:T"),
])
def test_bad_pairs_exit_2(tmp_path, arguments, message):
    first, second = pair_pickles(tmp_path)
    arguments = [str(second) if argument == "BASELINE" else argument for argument in arguments]
    stderr = StringIO()
    with redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        plots.main(["--results", str(first)] + arguments)
    assert exit_info.value.code == 2 and message in stderr.getvalue()


def test_a_pair_that_matches_nothing_exits_2_with_one_line(tmp_path):
    first, second = pair_pickles(tmp_path)
    status, stdout, stderr = _run_main_capturing(["--results", str(first), "--baseline", str(second),
                                                  "--pair", "hyb:ibs", "--out", str(tmp_path / "out")])
    assert status == 2 and stdout == "" and len(stderr.splitlines()) == 1
    assert "in which to compare hyb with ibs (--pair)" in stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("content, reason", [
    (None, "does not exist"),
    (b"this is not a pickle\n", "cannot read"),
    (pickle.dumps([1, 2, 3]), "not a dict"),
    (pickle.dumps({"runs": {}}), "no 'config'"),
])
def test_unusable_baseline_exits_2_with_one_line_and_writes_nothing(tmp_path, content, reason):
    results_path = write_pickle(tmp_path / "results.pickle",
                                make_results({("lenet5", "adam", "dlr", 0): 0.98},
                                             make_config(archs=["lenet5"], optimizers=["adam"],
                                                         schedules=["dlr"], seeds=[0])))
    baseline_path = tmp_path / "baseline.pickle"
    if content is not None:
        baseline_path.write_bytes(content)
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                  str(baseline_path), "--out", str(out_dir)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1
    assert reason in stderr and str(baseline_path) in stderr
    assert not out_dir.exists()


def test_missing_baseline_hint_names_the_baseline_flag(tmp_path):
    results_path = write_pickle(tmp_path / "results.pickle",
                                make_results({("lenet5", "adam", "dlr", 0): 0.98}, make_config()))
    completed = run_plots("--results", results_path, "--baseline", tmp_path / "nowhere.pickle", cwd=tmp_path,
                          timeout=60)
    assert completed.returncode == 2 and completed.stdout == ""
    assert len(completed.stderr.splitlines()) == 1
    assert "nowhere.pickle" in completed.stderr and "--baseline PATH" in completed.stderr
    assert "Traceback" not in completed.stderr


@pytest.mark.parametrize("baseline_finals, reason", [
    ({("mlp300", "sgd", "dlr", 0): 0.97}, "no (architecture, optimizer, schedule) cell in common"),
    ({("lenet5", "adam", "dlr", 5): 0.97}, "no seed in common"),
])
def test_baseline_without_anything_to_pair_exits_2_with_one_line(tmp_path, baseline_finals,
                                                                 reason):
    results_path = write_pickle(tmp_path / "results.pickle",
                                make_results({("lenet5", "adam", "dlr", 0): 0.98}, make_config()))
    baseline_path = write_pickle(tmp_path / "baseline.pickle",
                                 make_results(baseline_finals, make_config()))
    out_dir = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                  str(baseline_path), "--out", str(out_dir)])
    assert status == 2 and stdout == ""
    assert len(stderr.splitlines()) == 1 and reason in stderr
    assert not out_dir.exists()


def test_bad_flag_exits_2():
    with pytest.raises(SystemExit) as exit_info:
        plots.parse_arguments(["--no-such-flag"])
    assert exit_info.value.code == 2


def test_reading_and_drawing_never_imports_tensorflow(tmp_path):
    results = make_results({("lenet5", "adam", "ibs", 0): 0.98},
                           make_config(archs=["lenet5"], optimizers=["adam"],
                                       schedules=["ibs"], seeds=[0]))
    results_path = write_pickle(tmp_path / "results.pickle", results)
    script = (
        "import sys; sys.path.insert(0, sys.argv[1]); import plots; "
        "status = plots.main(['--results', sys.argv[2]]); "
        "print(status, sorted(name for name in sys.modules "
        "if name.split('.')[0] in ('tensorflow', 'keras', 'main')))"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script, str(PROJECT_DIR), str(results_path)],
        capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert completed.returncode == 0, completed.stderr
    assert completed.stdout.splitlines()[-1] == "0 []"


def test_cost_figures_are_drawn_for_optimizers_with_dlr_and_another_schedule(tmp_path):
    finals = paper_grid_accuracies(archs=["lenet5"], optimizers=["sgd", "momentum"])
    finals.update({("lenet5", "adam", "ibs", seed): 0.98 for seed in (0, 1)})
    results_path = write_pickle(tmp_path / "results.pickle", make_results(
        finals, make_complete_config(archs=["lenet5"], optimizers=["sgd", "momentum", "adam"]),
        with_momentum=True))
    status, stdout, stderr = _run_main_capturing(["--results", str(results_path)])
    assert status == 0 and stderr == ""
    assert_png(tmp_path / "cost_of_fewer_updates_sgd.png")
    assert_png(tmp_path / "cost_of_fewer_updates_momentum.png")
    assert not (tmp_path / "cost_of_fewer_updates_adam.png").exists()
    assert ("skipped cost_of_fewer_updates_adam.png: adam has no dlr run paired by seed "
            "with another schedule") in stdout


@pytest.mark.slow
def test_drawing_the_same_pickle_twice_writes_identical_bytes(tmp_path):
    results = make_results(paper_grid_accuracies(archs=["lenet5"], optimizers=["sgd", "momentum"]),
                           make_complete_config(archs=["lenet5"], optimizers=["sgd", "momentum"]),
                           with_momentum=True)
    results["provenance"] = make_provenance(results["runs"], lambda key: MACHINE_A)
    results_path = write_pickle(tmp_path / "results.pickle", results)
    folders = [tmp_path / "first", tmp_path / "second"]
    for folder in folders:
        status, _, stderr = _run_main_capturing(["--results", str(results_path), "--baseline",
                                                 str(results_path), "--out", str(folder)])
        assert status == 0 and stderr == ""
    names = sorted(path.name for path in folders[0].iterdir())
    assert names == sorted(path.name for path in folders[1].iterdir())
    assert "cost_of_fewer_updates_momentum.png" in names and "comparison.md" in names
    for name in names:
        first, second = ((folder / name).read_bytes() for folder in folders)
        assert first == second, f"{name} differs between two drawings"
        # No matplotlib version (nor date) is written into the figures.
        if name.endswith(".png"):
            assert b"Matplotlib" not in first and b"Software" not in first, name


def test_breakdown_flag_draws_one_figure_from_every_study(tmp_path):
    root = breakdown_folder(tmp_path / "studies")
    out = tmp_path / "out"
    status, stdout, stderr = _run_main_capturing(["--breakdown", str(root), "--out", str(out)])
    assert status == 0 and stderr == ""
    assert sorted(path.name for path in out.iterdir()) == ["breakdown.png"]
    assert_png(out / "breakdown.png")
    assert stdout == (f"wrote {out / 'breakdown.png'} from 4 of the 5 studies under {root}: 4 schedules "
                      "against dlr; left out (the original's optimizer reset): reset\n")
    # Without --out it goes into the folder of studies, and nothing else is written there.
    before = sorted(path.name for path in root.iterdir())
    assert _run_main_capturing(["--breakdown", str(root)])[0] == 0
    assert sorted(path.name for path in root.iterdir()) == sorted(before + ["breakdown.png"])


@pytest.mark.parametrize("arguments, message", [
    (["--breakdown", "EMPTY"], "holds no results.pickle"),
    (["--breakdown", "NOWHERE"], "is not a folder"),
])
def test_unusable_breakdown_folders_exit_2_with_one_line(tmp_path, arguments, message):
    (tmp_path / "empty").mkdir()
    arguments = [{"EMPTY": str(tmp_path / "empty"), "NOWHERE": str(tmp_path / "nowhere")}.get(argument, argument)
                 for argument in arguments]
    status, stdout, stderr = _run_main_capturing(arguments)
    assert status == 2 and stdout == "" and len(stderr.splitlines()) == 1 and message in stderr


def test_breakdown_takes_no_baseline(tmp_path):
    stderr = StringIO()
    with redirect_stderr(stderr), pytest.raises(SystemExit) as exit_info:
        plots.parse_arguments(["--breakdown", str(tmp_path), "--baseline", "b.pickle"])
    assert exit_info.value.code == 2 and "takes no --baseline" in stderr.getvalue()


def test_diverged_runs_are_drawn_named_and_kept_in_the_statistics(tmp_path):
    config = make_config(archs=["mlp300"], optimizers=["sgd"], schedules=["dlr", "ibs"], seeds=[0, 1, 2])
    finals = {("mlp300", "sgd", schedule, seed): 0.97 + 0.001 * seed
              for schedule in ("dlr", "ibs") for seed in range(3)}
    finals[("mlp300", "sgd", "ibs", 2)] = 0.098  # Chance: what a diverged run scores.
    results = make_results(finals, config)
    # One run's training loss overflows, another's test loss is undefined from epoch 5 on.
    results["runs"][("mlp300", "sgd", "ibs", 2)]["train_loss"][4:] = [math.inf] * 8
    results["runs"][("mlp300", "sgd", "ibs", 2)]["test_loss"][4:] = [math.nan] * 8
    results["runs"][("mlp300", "sgd", "dlr", 1)]["train_loss"][-1] = math.nan
    path = write_pickle(tmp_path / "results.pickle", results)
    stdout, stderr = StringIO(), StringIO()
    with redirect_stdout(stdout), redirect_stderr(stderr):
        status = plots.main(["--results", str(path)])
    assert status == 0, stderr.getvalue()
    warnings = stderr.getvalue().splitlines()
    assert len(warnings) == 1 and "2 runs diverged" in warnings[0]
    assert "(mlp300, sgd, dlr, 1), (mlp300, sgd, ibs, 2)" in warnings[0]
    for name in ("train_loss_mlp300_sgd.png", "accuracy_epoch_mlp300_sgd.png", "overview.png"):
        assert_png(tmp_path / name)
    summary = (tmp_path / "summary.md").read_text()
    assert "2 runs diverged" in summary
    assert "| 300-unit MLP | SGD | increasing batch size (ibs) | 3 (1 diverged) |" in summary
    # The diverged run stays in the paired statistics: its chance accuracy drags ibs far below dlr.
    ibs_row = next(row for row in analysis.summarize(results) if row["schedule"] == "ibs")
    assert ibs_row["paired_seeds_with_dlr"] == 3 and ibs_row["diff_vs_dlr_pp_mean"] < -25
    assert ibs_row["verdict"] != "equivalent"
