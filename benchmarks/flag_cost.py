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
import sys
import tempfile

from against_commit import ROOT, print_medians, run_metrics, timed_pairs


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
        times, cpu = timed_pairs([("without", ROOT, main_args), ("with", ROOT, main_args + [flag])], args.pairs,
                                 scratch)
        without, with_flag = run_metrics(os.path.join(scratch, "without0")), run_metrics(os.path.join(scratch, "with0"))
    same = without.keys() == with_flag.keys() and all(
        {name: values for name, values in with_flag[run].items() if name in metrics} == metrics
        for run, metrics in without.items())
    print_medians(main_args, times, cpu, {"without": f"without {flag}", "with": "with"}, ("with", "without"))
    print("run-file metrics both record, but wall seconds: " + ("bit for bit the same" if same else "DIFFERENT"))
    return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
