"""The whole grid with and without --stack-seeds, and the straightforward Keras loop, side by side.

In one run, one after another on the same machine, so that all three see the
same CPU and as nearly as possible the same load:
1. `python main.py ARGS --out OUT/unstacked` (every run trained afresh);
2. `python main.py ARGS --stack-seeds --out OUT/stacked`;
3. the yardstick, ../shared/bench/seed_style.py, over the grid's 18 cells
   one after another (it trains one seed of a cell; --yardstick-seeds says
   how many times each cell is run, and the 5-seed grid's yardstick time is
   its time for one pass times the seeds of ARGS).
Prints each wall time and the CPU seconds of the processes, the load
average beside them, and the ratios. Then, without timing:
- whether the unstacked runs are bit for bit the committed study's
  (--committed; every metric but wall seconds);
- per run, stacked against unstacked: the largest |difference| of test
  accuracy after epoch 1 and at the end, and the largest |ln ratio| of the
  full training loss at the end of stage 1 and of epoch 12, per network and
  optimizer (the MLPs fall back to the unstacked path, so theirs must be 0).
With --verdicts, instead of training, it draws OUT/stacked with plots.py
against the committed study as baseline and sets each cell's verdicts
against dlr side by side (final accuracy and the training loss), with the
paired difference stacked minus committed.

usage: python benchmarks/stacked_grid.py --out DIR [--yardstick-seeds N] [--committed DIR] [-- MAIN.PY ARGS]
       python benchmarks/stacked_grid.py --out /tmp/grid -- --seeds 5
       python benchmarks/stacked_grid.py --out /tmp/grid --verdicts
"""
import argparse
import csv
import math
import operator
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from batchgrow import optimizers  # noqa: E402  (the project root goes on the path first)
from batchgrow import schedules  # noqa: E402
from batchgrow import study  # noqa: E402
from batchgrow.provenance import machine_description  # noqa: E402
from against_commit import children_cpu_seconds, run_metrics, same_shared_metrics  # noqa: E402  (this folder)

SEED_STYLE = os.path.join(ROOT, "..", "shared", "bench", "seed_style.py")


def timed(command):
    """(wall seconds, CPU seconds of the command and its children, 1-minute load after) of one command."""
    start, cpu_start = time.perf_counter(), children_cpu_seconds()
    subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start, children_cpu_seconds() - cpu_start, os.getloadavg()[0]


def yardstick_pass():
    """Runs seed_style.py once on each of the grid's 18 cells; prints each; returns (wall, CPU) seconds."""
    wall = cpu = 0.0
    for arch in study.ARCHITECTURES:
        for optimizer_name in optimizers.OPTIMIZERS:
            for schedule in schedules.SCHEDULES:
                seconds, cpu_seconds, load = timed([sys.executable, SEED_STYLE, arch, optimizer_name, schedule,
                                                    str(study.Settings().epochs_per_stage)])
                wall, cpu = wall + seconds, cpu + cpu_seconds
                print(f"   {arch:<11} {optimizer_name:<4} {schedule}: {seconds:6.1f} s wall, "
                      f"{cpu_seconds:6.1f} s CPU, load {load:.2f}", flush=True)
    return wall, cpu


def stacking_differences(unstacked, stacked):
    """{(network, optimizer): largest |differences|} of stacked against unstacked runs of the same names."""
    largest = {}
    for name, metrics in unstacked.items():
        other = stacked[name]
        # A run file is named network_optimizer_schedule_seedN, and a network's name may hold an underscore.
        network = next(arch for arch in study.ARCHITECTURES if name.startswith(arch + "_"))
        optimizer_name = name[len(network) + 1:].split("_")[0]
        ends = [epoch for epoch, loss in enumerate(metrics["full_train_loss"]) if loss is not None]
        found = {"accuracy after epoch 1 (points)": abs(metrics["test_accuracy"][0] - other["test_accuracy"][0]) * 100,
                 "final accuracy (points)": abs(metrics["test_accuracy"][-1] - other["test_accuracy"][-1]) * 100,
                 "loss at stage 1's end, |ln ratio|": abs(math.log(other["full_train_loss"][ends[0]]
                                                                   / metrics["full_train_loss"][ends[0]])),
                 "loss at epoch 12, |ln ratio|": abs(math.log(other["full_train_loss"][-1]
                                                              / metrics["full_train_loss"][-1]))}
        cell = largest.setdefault((network, optimizer_name), dict.fromkeys(found, 0.0))
        for what, value in found.items():
            cell[what] = max(cell[what], value)
    return largest


def read_rows(path):
    with open(path, newline="") as table:
        return list(csv.DictReader(table))


def number(text, form):
    return form.format(float(text)) if text not in ("", None) else "none"


def compare_verdicts(out, committed):
    """Prints each cell's verdicts against dlr, committed and stacked, and the paired difference between them.

    The accuracy verdicts and the differences come from plots.py's comparison.csv, the training-loss
    verdicts from each study's summary.csv.
    """
    stacked = os.path.join(out, "stacked")
    subprocess.run([sys.executable, "plots.py", "--results", os.path.join(stacked, "results.pickle"), "--baseline",
                    os.path.join(committed, "results.pickle")], cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    cell = operator.itemgetter("architecture", "optimizer", "schedule")
    training = {side: {cell(row): row["trajectory_verdict"] for row in read_rows(os.path.join(folder, "summary.csv"))}
                for side, folder in (("committed", committed), ("stacked", stacked))}
    print("cell | accuracy: committed, stacked | training loss: committed, stacked | "
          "stacked - committed, final accuracy (points): mean [95% CI], largest of one seed")
    same = judged = 0
    for row in read_rows(os.path.join(stacked, "comparison.csv")):
        key = cell(row)
        if not row["baseline_verdict_against_reference"]:  # dlr itself has no verdict against dlr.
            continue
        verdicts = [row["baseline_verdict_against_reference"], row["results_verdict_against_reference"],
                    training["committed"].get(key, "none"), training["stacked"].get(key, "none")]
        judged += 2
        same += (verdicts[0] == verdicts[1]) + (verdicts[2] == verdicts[3])
        print(f"{' '.join(key)} | {verdicts[0]}, {verdicts[1]} | {verdicts[2]}, {verdicts[3]} | "
              f"{number(row['diff_pp_mean'], '{:+.3f}')} [{number(row['diff_pp_ci95_low'], '{:+.3f}')}, "
              f"{number(row['diff_pp_ci95_high'], '{:+.3f}')}], {number(row['largest_run_diff_pp'], '{:+.2f}')}")
    print(f"{same} of {judged} verdicts the same")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", required=True, help="folder for the two studies (kept, for plots.py)")
    parser.add_argument("--yardstick-seeds", type=int, default=1,
                        help="passes of seed_style.py over the 18 cells (default: 1; 0 skips it)")
    parser.add_argument("--committed", default=os.path.join(ROOT, "results"),
                        help="a committed study folder the unstacked runs should equal (default: results)")
    parser.add_argument("--verdicts", action="store_true",
                        help="instead of training: the stacked study's verdicts against the committed study's")
    argv = sys.argv[1:] if argv is None else list(argv)
    split = argv.index("--") if "--" in argv else len(argv)
    args = parser.parse_args(argv[:split])
    if args.verdicts:
        compare_verdicts(args.out, args.committed)
        return 0
    main_args = argv[split + 1:] or ["--seeds", "5"]
    seeds = int(main_args[main_args.index("--seeds") + 1]) if "--seeds" in main_args else study.Settings().seeds
    if os.path.exists(args.out):
        sys.exit(f"stacked_grid.py: --out {args.out} exists; name a new folder, so that every run trains afresh")

    print(f"machine: {machine_description()}")
    print(f"1-minute load before: {os.getloadavg()[0]:.2f}", flush=True)
    walls, cpus = {}, {}
    for side, extra in (("unstacked", []), ("stacked", ["--stack-seeds"])):
        command = [sys.executable, "main.py", *main_args, *extra, "--out", os.path.join(args.out, side)]
        walls[side], cpus[side], load = timed(command)
        print(f"{side:<9} python main.py {' '.join(main_args + extra)}: {walls[side]:.1f} s wall, "
              f"{cpus[side]:.1f} s CPU, load {load:.2f}", flush=True)
    print(f"unstacked / stacked: {walls['unstacked'] / walls['stacked']:.3f} wall, "
          f"{cpus['unstacked'] / cpus['stacked']:.3f} CPU")
    for number in range(args.yardstick_seeds):
        print(f"yardstick pass {number + 1} ({os.path.relpath(SEED_STYLE, ROOT)}, one seed of each cell, "
              "default threading):", flush=True)
        wall, cpu = yardstick_pass()
        walls.setdefault("yardstick", []).append(wall)
        cpus.setdefault("yardstick", []).append(cpu)
        print(f"   18 cells: {wall:.1f} s wall, {cpu:.1f} s CPU")
    if args.yardstick_seeds:
        per_pass = sum(walls["yardstick"]) / args.yardstick_seeds
        print(f"yardstick for {seeds} seeds ({seeds} x its mean pass of {per_pass:.1f} s): {seeds * per_pass:.1f} s; "
              f"over unstacked {seeds * per_pass / walls['unstacked']:.2f}, "
              f"over stacked {seeds * per_pass / walls['stacked']:.2f}")
        per_pass_cpu = sum(cpus["yardstick"]) / args.yardstick_seeds
        print(f"   in CPU seconds: {seeds * per_pass_cpu:.1f} s; over unstacked {seeds * per_pass_cpu / cpus['unstacked']:.2f}, "
              f"over stacked {seeds * per_pass_cpu / cpus['stacked']:.2f}")

    unstacked = run_metrics(os.path.join(args.out, "unstacked"))
    stacked = run_metrics(os.path.join(args.out, "stacked"))
    committed = {name: metrics for name, metrics in run_metrics(args.committed).items() if name in unstacked}
    same, only = same_shared_metrics(committed, unstacked)
    print(f"\nunstacked against {os.path.relpath(args.committed, ROOT)}'s {len(committed)} runs of the same names: "
          + ("bit for bit the same" if same else "DIFFERENT") + (f" (one side only: {', '.join(only)})" if only else ""))
    print(f"stacked against unstacked, {len(unstacked)} runs, largest |difference| per network and optimizer:")
    for (network, optimizer_name), largest in sorted(stacking_differences(unstacked, stacked).items()):
        print(f"   {network:<11} {optimizer_name:<4} " + ", ".join(f"{what} {value:.3g}" for what, value in largest.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
