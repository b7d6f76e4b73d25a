"""What does a flag of main.py cost, and does it leave the training alone?

Runs `python main.py ARGS` without and with FLAG, alternately (without,
with, without, with, ...), each into a fresh folder, so that both see the
same machine load. Prints every wall time and the CPU seconds of main.py and
its workers, their medians and median(with) / median(without): 1.05 is 5 %
slower with the flag. CPU seconds feel other processes' load less than wall
time does. Then compares the run files of the first pair: every per-epoch
metric both record, but the wall seconds, must be bit for bit the same.

usage: python benchmarks/flag_cost.py FLAG [--pairs N] [-- MAIN.PY ARGS]
       python benchmarks/flag_cost.py --measure-noise --pairs 2 -- --seeds 1 --archs mlp300
"""
import argparse
import os
import statistics
import sys
import tempfile

from against_commit import ROOT, run_metrics, timed_study
from provenance import machine_description


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pairs", type=int, default=2, help="alternating (without, with) pairs (default: 2)")
    argv = sys.argv[1:] if argv is None else list(argv)
    # The flag comes first; everything after -- is main.py's.
    split = argv.index("--") if "--" in argv else len(argv)
    if split == 0:
        parser.error("name the flag to time, for example --measure-noise")
    flag, args = argv[0], parser.parse_args(argv[1:split])
    main_args = argv[split + 1:] or ["--seeds", "1"]
    with tempfile.TemporaryDirectory() as scratch:
        times, cpu = {"without": [], "with": []}, {"without": [], "with": []}
        for pair in range(args.pairs):
            for side, extra in (("without", []), ("with", [flag])):
                seconds, cpu_seconds = timed_study(ROOT, main_args + extra, os.path.join(scratch, f"{side}{pair}"))
                times[side].append(seconds)
                cpu[side].append(cpu_seconds)
                print(f"pair {pair + 1} {side:7s} {seconds:7.1f} s, CPU {cpu[side][-1]:7.1f} s", flush=True)
        without, with_flag = run_metrics(os.path.join(scratch, "without0")), run_metrics(os.path.join(scratch, "with0"))
    same = without.keys() == with_flag.keys() and all(
        {name: values for name, values in with_flag[run].items() if name in metrics} == metrics
        for run, metrics in without.items())
    before, after = statistics.median(times["without"]), statistics.median(times["with"])
    print(f"machine: {machine_description()}")
    print(f"python main.py {' '.join(main_args)}: median without {flag} {before:.1f} s, median with {after:.1f} s, "
          f"median(with) / median(without) = {after / before:.3f}")
    cpu_before, cpu_after = statistics.median(cpu["without"]), statistics.median(cpu["with"])
    print(f"CPU seconds: median without {cpu_before:.1f} s, median with {cpu_after:.1f} s, "
          f"median(with) / median(without) = {cpu_after / cpu_before:.3f}")
    print("run-file metrics both record, but wall seconds: " + ("bit for bit the same" if same else "DIFFERENT"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
