"""What the test files share: the project's folder, its two command lines run as a user runs them, and checks of figures.

The test files import the functions here by name (from conftest import
run_main); pytest puts this folder on sys.path for them, as it does for every
test folder without an __init__.py. The fixtures (kept_figures, drawn_texts)
pytest hands to the tests that name them. The synthetic results pickles that
the tests of plots.py and the modules behind it draw are in synthetic.py.

Nothing here imports TensorFlow or matplotlib at the top: a test file that
needs neither starts without them.
"""
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
# The tests import the package batchgrow from the project folder, as main.py and plots.py do.
# `python -m pytest` in the project folder puts it on sys.path; this does the
# same for a bare `pytest`, or one started from another folder.
if str(PROJECT_DIR) not in sys.path:
    sys.path.insert(0, str(PROJECT_DIR))

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# ---------------------------------------------------------------- data that is not MNIST
def inverted_digits(folder):
    """An npz in MNIST's layout that is not MNIST, made here: 400 training and 300 test digits with their
    pixels inverted, as folder/inverted_digits.npz; its path."""
    import numpy as np

    from batchgrow.training import mnist
    x_train, y_train, x_test, y_test = mnist.load_mnist()
    path = Path(folder) / "inverted_digits.npz"
    np.savez(path, x_train=255 - x_train[:400], y_train=y_train[:400], x_test=255 - x_test[:300],
             y_test=y_test[:300])
    return path


# ---------------------------------------------------------------- the command lines
def run_script(script, *args, timeout=300, cwd=PROJECT_DIR):
    """Run one of the project's scripts in a fresh Python, as a user would; the CompletedProcess, text captured."""
    return subprocess.run([sys.executable, str(PROJECT_DIR / script), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=cwd)


def run_main(*args, timeout=300, cwd=PROJECT_DIR):
    """python main.py ARGS, to its end."""
    return run_script("main.py", *args, timeout=timeout, cwd=cwd)


def run_plots(*args, timeout=300, cwd=PROJECT_DIR):
    """python plots.py ARGS, to its end."""
    return run_script("plots.py", *args, timeout=timeout, cwd=cwd)


def start_main(*args):
    """python main.py ARGS started and left running, its output piped, for a test to interrupt or watch."""
    return subprocess.Popen([sys.executable, str(PROJECT_DIR / "main.py"), *map(str, args)], cwd=PROJECT_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


# ---------------------------------------------------------------- runs compared
def metrics_without_seconds(metrics):
    """Every recorded number of one run but its wall time, which no two runs share."""
    return {name: values for name, values in metrics.items() if name != "seconds"}


def without_seconds(runs):
    """{key: metrics} with every recorded number but wall time, which no two runs share."""
    return {key: metrics_without_seconds(metrics) for key, metrics in runs.items()}


def build_batch_norm_dropout():
    """A network with moving statistics and a dropout seed: state outside its weights that training moves on.

    It has no Input layer, so that it makes its weights on its first call,
    and no written-out backward pass, so that it trains through the tape.
    TensorFlow is imported only when a test builds it.
    """
    from batchgrow.training import networks
    layers = networks.layers
    return networks.keras.Sequential([
        layers.Flatten(), layers.Dense(32), layers.BatchNormalization(), layers.ReLU(), layers.Dropout(0.3),
        layers.Dense(10, activation="softmax")])


# ---------------------------------------------------------------- what plots.py writes
def assert_png(path):
    assert path.is_file(), f"{path.name} was not written"
    data = path.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 5000, f"{path.name} is not a real PNG"


@pytest.fixture
def kept_figures(monkeypatch):
    """Keep the figures plots.py would save, so that tests can read their text."""
    from batchgrow.reporting import figures
    kept = []

    def keep(figure, path):
        kept.append(figure)
        return Path(path)

    monkeypatch.setattr(figures, "save", keep)
    yield kept
    for figure in kept:
        figures.plt.close(figure)


@pytest.fixture
def drawn_texts(monkeypatch):
    """The list of every Text that draws itself from now on, for texts_outside_the_canvas.

    Only the texts a figure draws count: tick labels outside the axis range
    are visible artists that are never drawn. They are told apart by
    recording every Text (titles, legend texts and titles, labels, tick
    labels, annotations) as it draws itself.
    """
    import matplotlib.text
    drawn = []
    draw_text = matplotlib.text.Text.draw

    def record(text, renderer):
        drawn.append(text)
        return draw_text(text, renderer)

    monkeypatch.setattr(matplotlib.text.Text, "draw", record)
    return drawn


def texts_outside_the_canvas(figure, drawn, name):
    """Draw figure, and describe every text it drew (drawn collects them) that reaches past its edges."""
    drawn.clear()
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    canvas = figure.bbox
    offenders = []
    for text in drawn:
        if not text.get_visible() or not text.get_text().strip():
            continue
        extent = text.get_window_extent(renderer)
        # One pixel of tolerance for rounding.
        if (extent.x0 < canvas.x0 - 1 or extent.x1 > canvas.x1 + 1
                or extent.y0 < canvas.y0 - 1 or extent.y1 > canvas.y1 + 1):
            offenders.append(
                f"{name}: {text.get_text()!r} spans x {extent.x0:.0f} to "
                f"{extent.x1:.0f}, y {extent.y0:.0f} to {extent.y1:.0f} of a "
                f"{canvas.width:.0f} x {canvas.height:.0f} canvas")
    return offenders
