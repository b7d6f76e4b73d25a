"""Tests of tables.py: the summary and comparison files as Markdown and CSV, and the sentences around them."""
import csv

import pytest

from batchgrow.reporting import analysis
from batchgrow.reporting import tables
from synthetic import MACHINE_A, MACHINE_B, make_complete_config, make_config, make_provenance, make_results


def test_summary_files_format_the_hand_computed_example(tmp_path):
    finals = {("mlp300", "adam", "dlr", 0): 0.9800, ("mlp300", "adam", "dlr", 1): 0.9810,
              ("mlp300", "adam", "dlr", 2): 0.9790,
              ("mlp300", "adam", "ibs", 0): 0.9830, ("mlp300", "adam", "ibs", 1): 0.9825,
              ("mlp300", "adam", "ibs", 2): 0.9835}
    config = make_config(archs=["mlp300"], optimizers=["adam"], schedules=["dlr", "ibs"],
                         seeds=[0, 1, 2])
    results = make_results(finals, config)
    rows = analysis.summarize(results)
    markdown = tables.write_summary_markdown(rows, tmp_path / "summary.md", results["config"],
                                             results["provenance"]).read_text()
    assert "| 300-unit MLP | Adam | decaying learning rate (dlr) | 3 | 98.00 ± 0.10 |" in markdown
    assert "+0.30 [-0.07, +0.67] | undecided (n = 3, 90% [+0.05, +0.55]) |" in markdown
    assert "| (reference) | (reference) |" in markdown
    assert ("equivalence margin of ±0.1 percentage points of final test accuracy" in markdown
            and "TOST" in markdown)
    assert "lies inside (-0.1, +0.1)" in markdown
    assert "wholly outside [-0.1, +0.1]" in markdown
    with tables.write_summary_csv(rows, tmp_path / "summary.csv").open() as handle:
        dlr_row, ibs_row = csv.DictReader(handle)
    assert float(dlr_row["final_test_accuracy_mean"]) == pytest.approx(0.98)
    assert dlr_row["diff_vs_dlr_pp_mean"] == ""
    assert float(ibs_row["diff_vs_dlr_pp_mean"]) == pytest.approx(0.30)
    assert float(ibs_row["diff_vs_dlr_pp_ci95_low"]) == pytest.approx(0.30 - 0.3726, abs=1e-3)
    assert float(ibs_row["diff_vs_dlr_pp_ci90_low"]) == pytest.approx(0.047, abs=1e-3)
    assert ibs_row["verdict"] == "undecided" and float(ibs_row["equivalence_margin_pp"]) == 0.1
    assert 0.05 < float(ibs_row["tost_p_value"]) < 1
    assert dlr_row["verdict"] == "" and dlr_row["tost_p_value"] == ""


def test_summary_markdown_flags_the_original_optimizer_reset(tmp_path):
    config = make_config(archs=["lenet5"], optimizers=["adam"], schedules=["dlr"], seeds=[0])
    config["original_optimizer_reset"] = True
    results = make_results({("lenet5", "adam", "dlr", 0): 0.98}, config)
    rows = analysis.summarize(results)
    markdown = tables.write_summary_markdown(rows, tmp_path / "summary.md", results["config"],
                                             results["provenance"]).read_text()
    assert markdown.startswith("# Summary (original optimizer reset)")
    # One seed: the accuracy has no "±" and the dlr row is the reference.
    assert "| 98.00 | 98.00 | 60,000 |" in markdown and "(reference)" in markdown


def test_summary_names_the_training_machines_and_versions(tmp_path):
    config = make_complete_config(archs=["lenet5"], optimizers=["adam"], schedules=["dlr"],
                                  seeds=[0, 1], machines=[MACHINE_A, MACHINE_B])
    results = make_results({("lenet5", "adam", "dlr", seed): 0.98 for seed in (0, 1)}, config)
    rows = analysis.summarize(results)
    provenance = make_provenance(results["runs"], lambda key: [MACHINE_A, MACHINE_B][key[3]])
    markdown = tables.write_summary_markdown(rows, tmp_path / "mixed.md", results["config"],
                                             provenance).read_text()
    assert (f"The runs were trained on several machines: {MACHINE_A} (1 run); {MACHINE_B} (1 run). "
            "Library versions: python 3.11.7, tensorflow 2.21.0, keras 3.15.1, numpy 2.4.6."
            in markdown)
    provenance = make_provenance(results["runs"], lambda key: MACHINE_B)
    markdown = tables.write_summary_markdown(rows, tmp_path / "one_machine.md", results["config"],
                                             provenance).read_text()
    assert f"The runs were trained on {MACHINE_B} (all 2 runs)." in markdown
    provenance = make_provenance(results["runs"], lambda key: None)
    markdown = tables.write_summary_markdown(rows, tmp_path / "none.md", results["config"],
                                             provenance).read_text()
    assert "The machine that trained the runs is not recorded." in markdown


def test_comparison_markdown_names_the_seeds_left_unpaired(tmp_path):
    config = make_config(archs=["lenet5"], optimizers=["adam"], schedules=["dlr"], seeds=[0, 1])
    results = make_results({("lenet5", "adam", "dlr", 0): 0.98,
                            ("lenet5", "adam", "dlr", 1): 0.98}, config)
    baseline = make_results({("lenet5", "adam", "dlr", 1): 0.97}, config)
    rows = analysis.compare_results(results, baseline)
    markdown = tables.write_comparison_markdown(
        rows, tmp_path / "comparison.md", "results.pickle", "baseline.pickle", config,
        config).read_text()
    assert ("Left out for want of a partner seed: lenet5 adam dlr seed 0 (results only)."
            in markdown)
    assert "+1.00 (one paired seed)" in markdown
    assert ("The configs agree on original_optimizer_reset, train_size, base_batch_size, data_fingerprint, "
            "noise_scale, momentum_coefficient.") in markdown


def test_titles_name_settings_that_depart_from_the_study():
    assert tables.settings_suffix({"base_batch_size": 4, "original_optimizer_reset": False}) == ""
    assert tables.settings_suffix({"base_batch_size": 32, "original_optimizer_reset": True}) == \
        " (base batch 32, original optimizer reset)"
    # The exact noise scale, and a momentum coefficient of their own where a momentum optimizer ran.
    assert tables.settings_suffix({"base_batch_size": 4, "original_optimizer_reset": False,
                                   "noise_scale": "exact", "momentum_coefficient": 0.98,
                                   "optimizers": ["momentum"]}) == " (exact noise scale, momentum 0.98)"
    assert tables.settings_suffix({"base_batch_size": 4, "original_optimizer_reset": False,
                                   "noise_scale": "approx", "momentum_coefficient": 0.98,
                                   "optimizers": ["sgd"]}) == ""


def test_the_summary_says_which_runs_trained_stacked():
    # Provenance as run files record it: a stacked run names the seeds of its stack, in their order.
    provenance = {("lenet5", "sgd", "ibs", seed): {"machine": "m", "stacked_seeds": [0, 1]} for seed in (0, 1)}
    provenance.update({("mlp300", "sgd", "ibs", seed): {"machine": "m"} for seed in (0, 1)})
    provenance[("mlp300", "sgd", "dlr", 0)] = None  # A run from before provenance was recorded.
    # A stack of one seed, left when the others had finished, trained that seed alone.
    provenance[("lenet5", "sgd", "dlr", 2)] = {"machine": "m", "stacked_seeds": [2]}
    assert tables.stacked_sentence(provenance).startswith("2 of the 6 runs (LeNet-5) were trained with other "
                                                          "seeds of their cell, stacked as one model (--stack-seeds)")
    del provenance[("lenet5", "sgd", "ibs", 0)], provenance[("lenet5", "sgd", "ibs", 1)]
    assert tables.stacked_sentence(provenance) == ""
