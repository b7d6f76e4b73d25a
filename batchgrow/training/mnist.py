"""The data: MNIST read from an .npz, checked, and cut to the study's sizes.

Plain numpy: main.py checks the data before it starts any worker process.
"""
import hashlib
import os
import zipfile

import numpy as np

# The project folder: two above this file's folder, batchgrow/training/.
PROJECT_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEFAULT_DATA = os.path.join(PROJECT_DIR, "data", "mnist.npz")
# The vendored file is checked against this digest (see data/README.md).
VENDORED_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"


class DataError(ValueError):
    """A missing, corrupt or malformed data file; the message says what to do."""


def file_sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def read_npz(path):
    """Reads and checks an MNIST-layout npz: uint8 (n, 28, 28) images, (n,) labels."""
    if not os.path.isfile(path):
        raise DataError(f"{path}: no such file; pass an MNIST-format .npz with --data")
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in ("x_train", "y_train", "x_test", "y_test")}
    except KeyError as error:
        raise DataError(f"{path}: missing the array {error}; it needs x_train, y_train, x_test and y_test") from None
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    for split in ("train", "test"):
        images, labels = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if images.ndim != 3 or images.shape[1:] != (28, 28) or images.dtype != np.uint8:
            raise DataError(f"{path}: x_{split} is {images.dtype} {images.shape}, expected uint8 (n, 28, 28)")
        if labels.shape != images.shape[:1] or labels.dtype != np.uint8:
            raise DataError(f"{path}: y_{split} is {labels.dtype} {labels.shape}, expected uint8 ({len(images)},)")
        if labels.size and labels.max() > 9:
            raise DataError(f"{path}: y_{split} has labels above 9")
    return arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"]


def load_mnist(path=None):
    """Returns MNIST as four uint8 arrays (x_train, y_train, x_test, y_test).

    With no path, reads the vendored data/mnist.npz and checks its checksum; if
    that file is missing, asks Keras to download MNIST. An explicit path never
    falls back: if it is wrong, that is the error.
    """
    if path is not None:
        return read_npz(path)
    if not os.path.exists(DEFAULT_DATA):
        try:
            from batchgrow.training.runtime import load_tensorflow, quiet_stderr
            _, keras = load_tensorflow()
            with quiet_stderr():
                (x_train, y_train), (x_test, y_test) = keras.datasets.mnist.load_data()
        except Exception as error:  # Any download failure means the same thing to the user.
            raise DataError(f"{DEFAULT_DATA} is missing and MNIST could not be downloaded ({type(error).__name__}); "
                            "restore it with 'git checkout data/mnist.npz' or pass --data PATH") from None
        return x_train, y_train, x_test, y_test
    if file_sha256(DEFAULT_DATA) != VENDORED_SHA256:
        raise DataError(f"{DEFAULT_DATA} is corrupt (its sha256 is not the published one); "
                        "restore it with 'git checkout data/mnist.npz'")
    return read_npz(DEFAULT_DATA)


def check_sizes(arrays, train_size, test_size):
    """Raises DataError when the study asks for more images than the data has."""
    for split, size, flag in (("train", train_size, "--train-size"), ("test", test_size, "--test-size")):
        available = len(arrays[0] if split == "train" else arrays[2])
        if size > available:
            raise DataError(f"{flag} {size:,} is more than the {available:,} {split} images in the data")


def data_fingerprint(arrays):
    """A digest of the data's contents, whatever file they came from."""
    digest = hashlib.sha256()
    for array in arrays:
        digest.update(np.ascontiguousarray(array).tobytes())
    return digest.hexdigest()[:16]


def prepare_data(arrays, train_size, test_size):
    """The study's inputs: the first train_size / test_size images, scaled to [0, 1]."""
    x_train, y_train, x_test, y_test = arrays
    scale = np.float32(1 / 255)
    return {
        "x_train": x_train[:train_size].astype(np.float32) * scale,
        "y_train": y_train[:train_size].astype(np.int32),
        "x_test": x_test[:test_size].astype(np.float32) * scale,
        "y_test": y_test[:test_size].astype(np.int32),
    }
