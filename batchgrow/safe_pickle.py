"""Reading pickles that may come from elsewhere, without running their code.

Results folders travel: shards from a cluster, a colleague's runs, a download.
A pickle can name any importable callable and have it called while loading,
so a plain pickle.load of such a file runs whatever its author chose. Every
run file and results pickle of this project is read through PlainDataUnpickler
instead, which rebuilds only plain Python containers and numbers, strings and
numpy arrays and scalars, and refuses everything else.

This module imports only the standard library, so main.py and plots.py share
it and plots.py still never imports TensorFlow.
"""
import pickle

# The only globals a pickle may name. Python's own containers, numbers and
# strings need none (the pickle protocol builds them directly); numpy arrays
# and scalars need these constructors, under their numpy 1 and numpy 2 paths.
ALLOWED_GLOBALS = frozenset({
    ("builtins", "set"), ("builtins", "frozenset"), ("builtins", "complex"), ("builtins", "slice"),
    ("builtins", "range"), ("builtins", "bytearray"),
    ("collections", "OrderedDict"),
    ("_codecs", "encode"),
    ("datetime", "datetime"), ("datetime", "date"), ("datetime", "timedelta"), ("datetime", "timezone"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"), ("numpy.core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"), ("numpy.core.numeric", "_frombuffer"),
})


class RefusedPickle(pickle.UnpicklingError):
    """The pickle names something other than plain data; nothing of it was run."""


class PlainDataUnpickler(pickle.Unpickler):
    """An unpickler that rebuilds plain data only and refuses every other global."""

    def find_class(self, module, name):
        if (module, name) in ALLOWED_GLOBALS:
            # numpy is imported only when a pickle really holds numpy data.
            return super().find_class(module, name)
        raise RefusedPickle(f"it refers to {module}.{name}, and only plain Python and numpy data is read")


def load(path):
    """The object pickled at path, read with PlainDataUnpickler.

    Raises RefusedPickle for a file that names anything but plain data, and
    whatever the reading raises (OSError, EOFError, UnpicklingError and more)
    for a missing or damaged one: callers name the file and the reason.
    """
    with open(path, "rb") as stream:
        return PlainDataUnpickler(stream).load()
