"""Tests of the data's name: MNIST for the vendored file, the file's own name (or --data-name) for another.

A study on other data in MNIST's layout (Fashion-MNIST, Kuzushiji-MNIST)
must not call itself MNIST in any table or title.
"""

import pytest
from conftest import inverted_digits, run_main, run_plots

from batchgrow.reporting import analysis
from batchgrow.reporting import figures
import main
from batchgrow.training import mnist
from batchgrow import safe_pickle
from batchgrow import study
from batchgrow.reporting import tables

TINY = ["--archs", "mlp300", "--optimizers", "sgd", "--schedules", "dlr,ibs", "--seeds", "2", "--train-size", "300",
        "--test-size", "200", "--epochs-per-stage", "1", "--jobs", "1"]


def test_the_name_comes_from_the_flag_the_file_or_the_vendored_data():
    assert main.data_name(None) == "MNIST"
    assert main.data_name(mnist.DEFAULT_DATA) == "MNIST"
    assert main.data_name("/data/fashion_mnist.npz") == "fashion_mnist"
    assert main.data_name("/data/kmnist") == "kmnist"
    assert main.data_name("/data/fashion_mnist.npz", " Fashion-MNIST ") == "Fashion-MNIST"
    assert main.parse_args(["--data-name", "Fashion-MNIST"]).data_name == "Fashion-MNIST"
    for bad in ("", "   ", "two\nlines"):
        with pytest.raises(SystemExit) as exit_status:
            main.parse_args(["--data-name", bad])
        assert exit_status.value.code == 2


@pytest.mark.slow
def test_a_study_on_other_data_names_it_in_its_runs_tables_and_titles(tmp_path, monkeypatch):
    # MNIST with its pixels inverted: data in MNIST's layout that is not MNIST.
    data = inverted_digits(tmp_path)
    out = tmp_path / "study"
    made = run_main(*TINY, "--data", str(data), "--out", str(out))
    assert made.returncode == 0, made.stderr
    record = safe_pickle.load(out / "runs" / "mlp300_sgd_ibs_seed0.pickle")
    assert record["settings"]["data_name"] == "inverted_digits"
    results = safe_pickle.load(out / "results.pickle")
    assert results["config"]["data_name"] == "inverted_digits"
    plotted = run_plots("--results", str(out / "results.pickle"))
    assert plotted.returncode == 0, plotted.stderr
    written = [path for path in out.iterdir() if path.suffix == ".md"]
    assert {"summary.md", "stages.md"} <= {path.name for path in written}
    for path in written:
        assert "MNIST" not in path.read_text(), path.name
    assert "inverted_digits, 300 training images" in (out / "summary.md").read_text()
    # The figure that names the data in its title.
    drawn = []
    monkeypatch.setattr(figures, "save", lambda figure, path: drawn.append(figure))
    figures.plot_overview(analysis.load_results(out / "results.pickle"), tmp_path / "overview.png")
    assert drawn[0]._suptitle.get_text().startswith("Test accuracy on inverted_digits (300 training images)")
    # Renamed, the same data is another study's settings: the folder says so in one line.
    renamed = run_main(*TINY, "--data", str(data), "--data-name", "Inverted", "--out", str(out))
    assert renamed.returncode == 2 and renamed.stderr.count("\n") == 1
    assert "data_name 'inverted_digits' there, 'Inverted' here" in renamed.stderr


def test_the_vendored_data_keeps_mnist():
    settings = main.settings_from_arguments(main.parse_args([]), mnist.load_mnist())
    assert settings.data_name == "MNIST" and study.settings_record(settings)["data_name"] == "MNIST"
    # A pickle without the name, as every committed study is, reads as MNIST.
    assert tables.data_name({"train_size": 20_000}) == "MNIST"
    assert tables.data_name({"data_name": "kmnist"}) == "kmnist"
