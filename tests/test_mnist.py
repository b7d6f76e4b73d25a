"""Tests of mnist.py: the vendored MNIST file, checked against its checksum, and Keras's downloader behind it."""
import numpy as np
import pytest

from batchgrow.training import mnist
from batchgrow.training import networks


def test_vendored_file_is_checksummed_and_falls_back_to_keras(tmp_path, monkeypatch):
    arrays = mnist.load_mnist()
    assert [a.shape for a in arrays] == [(60000, 28, 28), (60000,), (10000, 28, 28), (10000,)]
    assert arrays[1][:10].tolist() == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]

    corrupt = tmp_path / "mnist.npz"
    corrupt.write_bytes(open(mnist.DEFAULT_DATA, "rb").read()[:-10] + b"0123456789")
    monkeypatch.setattr(mnist, "DEFAULT_DATA", str(corrupt))
    with pytest.raises(mnist.DataError, match="corrupt.*git checkout data/mnist.npz"):
        mnist.load_mnist()

    # With the file gone, Keras's downloader is the fallback; offline it fails clearly.
    monkeypatch.setattr(mnist, "DEFAULT_DATA", str(tmp_path / "gone.npz"))
    tiny = np.zeros((3, 28, 28), np.uint8), np.zeros(3, np.uint8)
    monkeypatch.setattr(networks.keras.datasets.mnist, "load_data", lambda: (tiny, tiny))
    assert mnist.load_mnist()[0].shape == (3, 28, 28)

    def offline():
        raise OSError("no network")
    monkeypatch.setattr(networks.keras.datasets.mnist, "load_data", offline)
    with pytest.raises(mnist.DataError, match="missing and MNIST could not be downloaded"):
        mnist.load_mnist()
