"""How a process brings in TensorFlow: quietly, once, and only where it trains.

TensorFlow takes seconds to import, and only the worker processes that train
need it: main.py's command line, the data checks and the bookkeeping start
without it. networks.py and training.py call load_tensorflow() when they are
imported; configure_worker() sets a worker process up for training.
"""
import contextlib
import os
import sys

# TensorFlow announces oneDNN, CUDA probing and CPU features on file descriptor
# 2 from C++ before Python's logging is set up, so only a redirect hides it.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")


@contextlib.contextmanager
def quiet_stderr():
    """Sends file descriptor 2 to /dev/null for the duration of the block."""
    sys.stderr.flush()
    saved_stderr = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        yield
    finally:
        os.dup2(saved_stderr, 2)
        os.close(saved_stderr)
        os.close(devnull)


def load_tensorflow():
    """Imports TensorFlow and Keras quietly (once: Python caches modules); returns (tf, keras)."""
    with quiet_stderr():
        import tensorflow
        import keras
    return tensorflow, keras


def onednn_turned_off():
    """Whether TF_ENABLE_ONEDNN_OPTS turns TensorFlow's oneDNN kernels off in this process and its workers
    (TensorFlow reads it as a boolean: 0 or false, in any case)."""
    return os.environ.get("TF_ENABLE_ONEDNN_OPTS", "").strip().lower() in ("0", "false")


def configure_worker():
    """One thread and deterministic ops for a process that trains."""
    tf, _ = load_tensorflow()
    with quiet_stderr():
        # Tiny steps run faster on one thread than split across cores, and
        # the cores are better spent on separate runs.
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)
        tf.config.experimental.enable_op_determinism()
        for gpu in tf.config.list_physical_devices("GPU"):
            tf.config.experimental.set_memory_growth(gpu, True)
