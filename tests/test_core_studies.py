"""The core studies as committed: both endpoints in every run, one CPU type per study, and results/ made of
seeds_20's runs, so that a fresh clone's `python main.py` reuses them all and trains none."""

import pytest

from batchgrow import safe_pickle
from conftest import PROJECT_DIR
from document_numbers import EARLIER_CPU
from batchgrow.study import TRAJECTORY_METRICS

# The studies trained again with the model's training loss in float64 (docs/predictions/core_studies_again.md).
CORE_STUDIES = ("results", "results/seeds_20", "results/momentum", "results/adam_rule_long",
                "results/adam_rule_long_betas")
# The committed pickles of the CPU type that trained seeds_20 and momentum first, kept for the comparison.
EARLIER_CPU_FILE = f"{EARLIER_CPU}.pickle"


def load(path):
    with open(path, "rb") as stream:
        return safe_pickle.PlainDataUnpickler(stream).load()


@pytest.mark.parametrize("folder", CORE_STUDIES)
def test_every_run_of_a_core_study_records_both_endpoints_on_one_cpu_type(folder):
    results = load(PROJECT_DIR / folder / "results.pickle")
    config = results["config"]
    assert not results["missing"], f"{folder} is missing runs: {results['missing']}"
    stage_ends = range(config["epochs_per_stage"] - 1, config["epochs"], config["epochs_per_stage"])
    for key, run in results["runs"].items():
        losses = run[TRAJECTORY_METRICS[0]]
        assert all(losses[epoch] is not None and losses[epoch] > 0 for epoch in stage_ends), (
            f"{folder}: {key} lacks the model's training loss at a stage end")
        assert len(run["test_accuracy"]) == config["epochs"]
    machines = {provenance["machine"] for provenance in results["provenance"].values()}
    assert len(machines) == 1, f"{folder}'s runs were trained on {len(machines)} machines: {sorted(machines)}"


def test_results_is_seeds_0_to_4_of_seeds_20_file_for_file():
    runs, twenty = PROJECT_DIR / "results" / "runs", PROJECT_DIR / "results" / "seeds_20" / "runs"
    files = sorted(path.name for path in runs.glob("*.pickle"))
    assert len(files) == 90
    assert all((runs / name).read_bytes() == (twenty / name).read_bytes() for name in files)
    seeds = {load(runs / name)["key"][3] for name in files}
    assert seeds == set(range(5))


@pytest.mark.parametrize("folder", ["results", "results/seeds_20", "results/momentum"])
def test_the_earlier_cpu_types_pickle_is_kept_beside_the_study(folder):
    """The same grid, trained on another CPU type: seed for seed the same keys, its own machine, no training loss."""
    earlier, now = load(PROJECT_DIR / folder / EARLIER_CPU_FILE), load(PROJECT_DIR / folder / "results.pickle")
    assert set(earlier["runs"]) == set(now["runs"])
    assert {p["machine"] for p in earlier["provenance"].values()} != {p["machine"] for p in now["provenance"].values()}
    assert all(TRAJECTORY_METRICS[0] not in run for run in earlier["runs"].values())
