"""Where finished runs are kept, and how several processes share one results folder.

Each run is saved to OUT/runs/ as one pickle the moment it finishes, written
atomically, so an interrupted study loses only the runs in flight and resumes.
Run files are read with the restricted unpickler (safe_pickle.py): a damaged
or refused one is named and set aside, never run, and its run trained again.
Before a worker trains the runs of one (network, optimizer, seed) it claims
them with flock on OUT/claims/*.lock, so that processes, or cluster tasks,
on one folder never train the same runs twice.
"""
import contextlib
import os
import pickle
import tempfile

from batchgrow import safe_pickle
from batchgrow.study import TRAJECTORY_METRICS, format_problem, migrate_run_record, settings_record

try:
    import fcntl  # Claims on a shared results folder use flock (POSIX).
except ImportError:  # pragma: no cover - Windows has no flock.
    fcntl = None


# ----------------------------------------------------------------------------
# Run files
# ----------------------------------------------------------------------------
class StudyError(ValueError):
    """A study that cannot go on as asked; the message says what to do."""


def run_path(runs_dir, key):
    arch, optimizer, schedule, seed = key
    return os.path.join(runs_dir, f"{arch}_{optimizer}_{schedule}_seed{seed}.pickle")


def save_atomically(payload, path):
    """Writes a pickle so that the path holds either nothing or the whole of it.

    A save that fails part-way (a full disk, a vanished folder) removes its
    temporary file and raises StudyError naming the path.
    """
    temporary = None
    try:
        handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path) or ".", suffix=".tmp")
        with os.fdopen(handle, "wb") as stream:
            pickle.dump(payload, stream)
        os.replace(temporary, path)
    except OSError as error:
        if temporary is not None and os.path.exists(temporary):
            os.remove(temporary)
        raise StudyError(f"cannot save {path} ({error.strerror or error}); "
                         "free some space or pass a writable --out") from None


def prepare_out_dir(out_dir):
    """Makes out_dir/runs and checks that a file can be written there, before any training."""
    if os.path.exists(out_dir) and not os.path.isdir(out_dir):
        raise StudyError(f"--out {out_dir} is a file, not a folder; pass a folder for the results")
    runs_dir = os.path.join(out_dir, "runs")
    try:
        os.makedirs(runs_dir, exist_ok=True)
        handle, probe = tempfile.mkstemp(dir=runs_dir, suffix=".tmp")
        os.close(handle)
        os.remove(probe)
    except OSError as error:
        raise StudyError(f"cannot write to --out {out_dir} ({error.strerror or error}); "
                         "pass a writable folder") from None
    return runs_dir


def run_record_problem(record, name):
    """Says how a loaded run file differs from what run_group writes, or returns None."""
    if not isinstance(record, dict) or not {"key", "settings", "metrics"} <= set(record):
        return "it is not a run record (key, settings, metrics)"
    key = record["key"]
    if not isinstance(key, (tuple, list)) or len(key) != 4:
        return "its key is not (arch, optimizer, schedule, seed)"
    if os.path.basename(run_path("", tuple(key))) != name:
        return f"its key {tuple(key)} does not match its file name"
    if not isinstance(record["settings"], dict) or not isinstance(record["metrics"], dict):
        return "its settings or metrics are not dicts"
    lengths = {len(values) if isinstance(values, list) else -1 for values in record["metrics"].values()}
    if not record["metrics"] or len(lengths) != 1 or -1 in lengths:
        return "its metrics are not per-epoch lists of one length"
    return None


def set_aside(path):
    """Moves a refused run file out of the way as NAME.rejected (never over an earlier one)."""
    target, number = path + ".rejected", 1
    while os.path.exists(target):
        target, number = f"{path}.{number}.rejected", number + 1
    try:
        os.replace(path, target)
    except FileNotFoundError:  # Another process on this folder set it aside first.
        return None
    return target


def load_finished_runs(runs_dir, settings):
    """Reads the runs saved in runs_dir, refusing runs made with other settings.

    Returns (finished, provenance, rejected): {key: metrics}, {key: provenance
    or None for files from before provenance was recorded}, and a list of
    (file, reason, where it was moved) for files that could not be used. A
    damaged file, or one that names anything but plain data, is never run:
    it is moved aside and its run is trained again, and so is a file without
    a metric that every run records (study.TRAJECTORY_METRICS), which no
    migration can fill in. Files from older versions of the code are read
    through study.migrate_run_record.
    """
    finished, provenance, rejected = {}, {}, []
    if not os.path.isdir(runs_dir):
        return finished, provenance, rejected
    # The settings as a run file of today's format records them; an older file is read up to that format.
    expected = settings_record(settings)
    for name in sorted(os.listdir(runs_dir)):
        if not name.endswith(".pickle"):
            continue
        path = os.path.join(runs_dir, name)
        try:
            record = safe_pickle.load(path)
            problem = run_record_problem(record, name)
        except FileNotFoundError:  # Set aside by another process meanwhile.
            continue
        except Exception as error:  # Unpickling damaged bytes can raise almost anything.
            problem = str(error) or type(error).__name__
        if problem:
            rejected.append((path, problem, set_aside(path)))
            continue
        problem = format_problem(record["settings"])
        if problem:  # A newer version's file: kept where it is, for the code that can read it.
            raise StudyError(f"{path}: {problem}")
        record = migrate_run_record(record)
        if record["settings"] != expected:
            differences = ", ".join(f"{field} {record['settings'].get(field)!r} there, {value!r} here"
                                    for field, value in expected.items() if record["settings"].get(field) != value)
            raise StudyError(f"{runs_dir} holds runs made with other settings ({differences}); "
                             "pass another --out, or delete that folder to start afresh")
        lacking = [metric for metric in TRAJECTORY_METRICS if metric not in record["metrics"]]
        if lacking:  # Recorded before the metric was: its run is trained again, the file kept aside.
            rejected.append((path, f"it lacks {', '.join(lacking)}, which this study records",
                             set_aside(path)))
            continue
        key = tuple(record["key"])
        finished[key] = record["metrics"]
        provenance[key] = record["provenance"]
    return finished, provenance, rejected


# ----------------------------------------------------------------------------
# Claims: several processes (or cluster tasks) may share one results folder
# ----------------------------------------------------------------------------
def claim_path(out_dir, arch, optimizer_name, seed):
    return os.path.join(out_dir, "claims", f"{arch}_{optimizer_name}_seed{seed}.lock")


@contextlib.contextmanager
def claim(path, wait=False):
    """Holds the lock file at path for the block; yields False if another process holds it.

    The operating system arbitrates (flock) and drops a lock when its process
    dies, so a killed study never blocks a folder. The holder deletes the
    file when it is done; a process that locked a file just deleted that way
    sees its inode gone and tries again on the new one. With wait, blocks
    until the claim is free instead of yielding False.
    """
    if fcntl is None:
        yield True
        return
    handle = None
    while handle is None:
        try:
            handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        except FileNotFoundError:  # The claims folder is made on first use and removed when empty.
            os.makedirs(os.path.dirname(path), exist_ok=True)
            continue
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            os.close(handle)
            handle = None
            break
        try:
            same_file = os.fstat(handle).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same_file = False
        if not same_file:
            os.close(handle)
            handle = None
    if handle is None:
        yield False
        return
    try:
        yield True
    finally:
        os.remove(path)
        os.close(handle)
        with contextlib.suppress(OSError):  # Left in place while other claims are live.
            os.rmdir(os.path.dirname(path))
