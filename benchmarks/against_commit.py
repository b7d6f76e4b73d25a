"""Is this checkout as fast as an earlier commit, and does it train the same numbers?

Runs `python main.py ARGS` with the code of an earlier commit and with this
checkout, alternately (before, after, before, after, ...), each into a fresh
folder, so that both see the same machine load. Prints every wall time, the
medians and median(before) / median(after): 1.0 is equal speed, above 1 this
checkout is faster. Then compares the run files of the first pair: every
per-epoch metric that both versions record, but the wall seconds, must be
bit for bit the same; a metric only one of them records is named.

usage: python benchmarks/against_commit.py COMMIT [--pairs N] [-- MAIN.PY ARGS]
       python benchmarks/against_commit.py 79495b7 --pairs 3 -- --seeds 1
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from batchgrow import safe_pickle  # noqa: E402  (the project root goes on the path first)
from batchgrow.provenance import machine_description  # noqa: E402


def children_cpu_seconds():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed_study(code_dir, main_args, out_dir):
    """(wall seconds, CPU seconds of it and its workers) of one `python main.py` in code_dir.

    CPU seconds are steadier than wall seconds on a machine that is doing
    other work: they count what the study itself computed.
    """
    start, cpu_start = time.perf_counter(), children_cpu_seconds()
    subprocess.run([sys.executable, "main.py", *main_args, "--out", out_dir], cwd=code_dir, check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, children_cpu_seconds() - cpu_start


def run_metrics(out_dir):
    """{run file name: metrics without the wall seconds} of a finished study folder."""
    runs_dir = os.path.join(out_dir, "runs")
    return {name: {metric: values for metric, values in safe_pickle.load(os.path.join(runs_dir, name))["metrics"]
                   .items() if metric != "seconds"}
            for name in sorted(os.listdir(runs_dir)) if name.endswith(".pickle")}


def same_shared_metrics(before, after):
    """(whether the same runs have bit for bit the same values of every metric both sides record,
    the sorted names of the metrics that only one side records)."""
    if set(before) != set(after):
        return False, []
    only, same = set(), True
    for name in before:
        shared = set(before[name]) & set(after[name])
        only |= set(before[name]) ^ set(after[name])
        same = same and all(before[name][metric] == after[name][metric] for metric in shared)
    return same, sorted(only)


def timed_pairs(sides, pairs, scratch):
    """Times one study a side, side after side, pairs times over, so that every side sees the same load.

    sides is [(name, code_dir, main_args)]; each study goes to scratch/NAMEPAIR. Prints every time and
    returns ({name: [wall seconds]}, {name: [CPU seconds]}).
    """
    times, cpu = {name: [] for name, _, _ in sides}, {name: [] for name, _, _ in sides}
    width = max(len(name) for name, _, _ in sides)
    for pair in range(pairs):
        for name, code_dir, main_args in sides:
            seconds, cpu_seconds = timed_study(code_dir, main_args, os.path.join(scratch, f"{name}{pair}"))
            times[name].append(seconds)
            cpu[name].append(cpu_seconds)
            print(f"pair {pair + 1} {name:{width}s} {seconds:7.1f} s wall, {cpu_seconds:7.1f} s CPU", flush=True)
    return times, cpu


def print_medians(main_args, times, cpu, labels, ratio):
    """Prints the machine and each side's median wall and CPU seconds, with median(ratio[0]) / median(ratio[1]).

    labels is {side: its words in the lines}, in the order they are printed.
    """
    numerator, denominator = ratio
    print(f"machine: {machine_description()}")
    for what, seconds in ((f"python main.py {' '.join(main_args)}", times),
                          ("CPU seconds (main.py and its workers)", cpu)):
        medians = {side: statistics.median(values) for side, values in seconds.items()}
        print(f"{what}: " + ", ".join(f"median {labels[side]} {medians[side]:.1f} s" for side in labels)
              + f", median({numerator}) / median({denominator}) = {medians[numerator] / medians[denominator]:.3f}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("commit", help="the earlier commit to compare with, e.g. 79495b7")
    parser.add_argument("--pairs", type=int, default=3, help="alternating (before, after) pairs (default: 3)")
    argv = sys.argv[1:] if argv is None else list(argv)
    # Everything after -- is main.py's.
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    main_args = argv[split + 1:] or ["--seeds", "1"]
    with tempfile.TemporaryDirectory() as scratch:
        before_dir = os.path.join(scratch, "before")
        subprocess.run(["git", "worktree", "add", "--detach", before_dir, args.commit], cwd=ROOT, check=True,
                       capture_output=True)
        try:
            times, cpu = timed_pairs([("before", before_dir, main_args), ("after", ROOT, main_args)], args.pairs,
                                     scratch)
            same, only = same_shared_metrics(run_metrics(os.path.join(scratch, "before0")),
                                             run_metrics(os.path.join(scratch, "after0")))
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", before_dir], cwd=ROOT, capture_output=True)
    print_medians(main_args, times, cpu, {"before": f"before ({args.commit})", "after": "after"},
                  ("before", "after"))
    print("run-file metrics both record, but wall seconds: " + ("bit for bit the same" if same else "DIFFERENT")
          + (f" (recorded by one side only: {', '.join(only)})" if only else ""))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
