"""Tests of provenance.py: the machines and library versions that trained a study's runs, counted and described."""
import os

import pytest

from batchgrow import provenance as provenance_records
from synthetic import MACHINE_A, MACHINE_B, make_complete_config, make_provenance, make_results, paper_grid_accuracies


def test_training_machines_count_runs_per_machine_from_the_provenance():
    results = make_results(paper_grid_accuracies(archs=["lenet5"], optimizers=["sgd"],
                                                 seeds=(0, 1, 2)),
                           make_complete_config(archs=["lenet5"], optimizers=["sgd"],
                                                seeds=range(3)))
    # 4 schedules x 3 seeds: seeds 0 and 1 on A, seed 2 on B except one run
    # whose file predates provenance.
    results["provenance"] = make_provenance(
        results["runs"], lambda key: None if key[2:] == ("dlr", 2) else
        MACHINE_A if key[3] < 2 else MACHINE_B)
    provenance = results["provenance"]
    assert provenance_records.machine_counts(provenance) == [
        (MACHINE_A, 8), (MACHINE_B, 3), ("not recorded", 1)]
    assert provenance_records.describe_machines(provenance_records.machine_counts(provenance)) == (
        f"mixed: {MACHINE_A} (8 runs); {MACHINE_B} (3 runs); not recorded (1 run)")
    ibs_keys = [("lenet5", "sgd", "ibs", seed) for seed in (0, 1)]
    assert provenance_records.machine_counts(provenance, ibs_keys) == [(MACHINE_A, 2)]
    assert provenance_records.describe_machines([(MACHINE_A, 2)]) == MACHINE_A
    assert provenance_records.describe_machines([]) == ""
    # The config main.py assembles names the same machines, in sorted order.
    assembled = provenance_records.assembled_provenance(provenance)
    assert assembled["machines"] == sorted([MACHINE_A, MACHINE_B, "not recorded"])
    assert assembled["machine"] == "; ".join(assembled["machines"])


def test_training_versions_name_every_version_where_runs_differ():
    runs = {("lenet5", "sgd", "dlr", seed): None for seed in range(3)}
    provenance = make_provenance(runs, lambda key: MACHINE_A)
    provenance[("lenet5", "sgd", "dlr", 2)]["versions"]["tensorflow"] = "2.20.0"
    versions = provenance_records.describe_versions(provenance)
    assert versions["tensorflow"] == "2.20.0 (1 run) / 2.21.0 (2 runs)"
    assert versions["numpy"] == "2.4.6"
    assert provenance_records.assembled_provenance(provenance)["versions"]["tensorflow"] == "2.20.0 / 2.21.0"
    assert provenance_records.describe_versions({("lenet5", "sgd", "dlr", 0): None}) == {}


@pytest.mark.skipif(not os.path.exists("/proc/cpuinfo"), reason="needs Linux's /proc/cpuinfo")
def test_the_machine_names_the_cpus_family_model_and_vector_width():
    # Two CPUs of one name (AMD EPYC) but another generation train other numbers: the type must show.
    description = provenance_records.machine_description()
    with open("/proc/cpuinfo") as cpuinfo:
        first = cpuinfo.read().split("\n\n")[0]
    family = next(line.split(":")[1].strip() for line in first.splitlines() if line.startswith("cpu family"))
    assert f"(family {family} model " in description
    assert any(width in description for width in ("AVX-512)", "AVX2)", "no AVX2)"))
    # The first comma still ends the CPU's part, which main.py's closing line names.
    assert description.split(",")[0].endswith(")")
