"""How fast the study runs, measured side by side on this machine.

In one run, and each part in fresh processes so that thread settings apply:
1. For every architecture, optimizer (SGD, momentum, Nesterov, Adam) and
   batch size of the default schedules: the
   project's compiled training epoch (one thread) against a plain per-epoch
   Keras model.fit (TensorFlow's default threading), on the same data. Medians
   of several repeats, after a warm-up epoch that pays for tracing.
2. The full grid with one seed at the original settings: projected from part
   1, then measured as `python main.py --seeds 1`, with the peak memory of
   all its processes together.
3. How the training cost grows with the training-set size (it should be linear).
4. `--jobs 1` against `--jobs 2` on a reduced grid.
5. (Only when asked for, it takes about 25 minutes.) The straightforward Keras
   loop, ../shared/bench/seed_style.py, over all 18 cells of the grid.
6. The price of not writing a backward pass: each built-in network's step
   through its written-out backward pass against the same step through
   tf.GradientTape (--backward tape, the path of every user's network), both
   in the project's compiled epoch on one thread, their epochs alternating.

usage: python benchmarks/speed.py [--repeats N] [--subset N] [--parts 1,2,3,4,6] [--grid-repeats N]
"""
import argparse
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from batchgrow.training import grid  # noqa: E402  (the project root goes on the path first)
from batchgrow.training import mnist  # noqa: E402
from batchgrow.training import networks  # noqa: E402
from batchgrow import optimizers  # noqa: E402
from batchgrow import provenance  # noqa: E402
from batchgrow.training import runtime  # noqa: E402
from batchgrow import schedules  # noqa: E402
from batchgrow import study  # noqa: E402
from batchgrow.training import training  # noqa: E402

# The yardstick from the study's shared folder, beside this repository.
SEED_STYLE = os.path.join(ROOT, "..", "shared", "bench", "seed_style.py")
BATCH_SIZES = sorted({plan.batch_size for schedule in schedules.SCHEDULES
                      for plan in schedules.epoch_plans(schedule, "sgd", study.Settings())})


def configure_threads(single_thread):
    """Worker start-up: the project's one-thread setting, or TensorFlow's default."""
    tf, _ = runtime.load_tensorflow()
    if single_thread:
        tf.config.threading.set_intra_op_parallelism_threads(1)
        tf.config.threading.set_inter_op_parallelism_threads(1)


def time_project_epochs(arch, optimizer_name, train_size, repeats):
    """{batch size: [seconds per epoch]} for the project's Trainer.train_epoch."""
    tf = networks.tf
    data = mnist.prepare_data(mnist.load_mnist(), train_size, 10_000)
    trainer = training.Trainer(arch, optimizer_name, 0, study.Settings(train_size=train_size), data)
    order = tf.constant(training.epoch_order(0, 0, train_size))
    timings = {}
    for batch_size in BATCH_SIZES:
        trainer.train_epoch(order, tf.constant(batch_size))  # Warm-up.
        timings[batch_size] = []
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.train_epoch(order, tf.constant(batch_size))
            timings[batch_size].append(time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(repeats):
        trainer.evaluate()
    timings["evaluate"] = [(time.perf_counter() - start) / repeats]
    return timings


def time_keras_fit_epochs(arch, optimizer_name, train_size, repeats):
    """{batch size: [seconds per epoch]} for a plain compiled Keras model.fit."""
    keras = networks.keras
    data = mnist.prepare_data(mnist.load_mnist(), train_size, 10_000)
    keras.utils.set_random_seed(0)
    model = networks.build_model(arch)
    optimizer = optimizers.optimizer_record(optimizer_name).keras_equivalent(keras, study.Settings())
    model.compile(optimizer=optimizer, loss="sparse_categorical_crossentropy")
    timings = {}
    for batch_size in BATCH_SIZES:
        model.fit(data["x_train"], data["y_train"], batch_size=batch_size, epochs=1, verbose=0)  # Warm-up.
        timings[batch_size] = []
        for _ in range(repeats):
            start = time.perf_counter()
            model.fit(data["x_train"], data["y_train"], batch_size=batch_size, epochs=1, verbose=0)
            timings[batch_size].append(time.perf_counter() - start)
    return timings


def in_fresh_process(function, single_thread, *args):
    context = multiprocessing.get_context("spawn")
    with context.Pool(1, configure_threads, (single_thread,)) as pool:
        return pool.apply(function, args)


def compare_epochs(train_size, repeats):
    """Part 1: rows of (arch, optimizer, batch, ours ms/step, fit ms/step) and evaluation seconds."""
    rows, evaluation = [], {}
    for arch in study.ARCHITECTURES:
        for optimizer_name in optimizers.ALL_OPTIMIZERS:
            ours = in_fresh_process(time_project_epochs, True, arch, optimizer_name, train_size, repeats)
            fit = in_fresh_process(time_keras_fit_epochs, False, arch, optimizer_name, train_size, repeats)
            evaluation[arch, optimizer_name] = ours["evaluate"][0]
            for batch_size in BATCH_SIZES:
                steps = schedules.updates_per_epoch(train_size, batch_size)
                rows.append((arch, optimizer_name, batch_size, 1000 * statistics.median(ours[batch_size]) / steps,
                             1000 * statistics.median(fit[batch_size]) / steps))
    return rows, evaluation


def time_backward_passes(arch, optimizer_name, train_size, repeats):
    """{batch size: {"written": [seconds per epoch], "tape": [...]}}, the two trainers' epochs alternating."""
    tf = networks.tf
    data = mnist.prepare_data(mnist.load_mnist(), train_size, 10_000)
    trainers = {backward: training.Trainer(arch, optimizer_name, 0,
                                           study.Settings(train_size=train_size, backward=backward), data)
                for backward in study.BACKWARD_PASSES}
    order = tf.constant(training.epoch_order(0, 0, train_size))
    timings = {}
    for batch_size in BATCH_SIZES:
        timings[batch_size] = {backward: [] for backward in trainers}
        for trainer in trainers.values():
            trainer.train_epoch(order, tf.constant(batch_size))  # Warm-up.
        for _ in range(repeats):
            for backward, trainer in trainers.items():
                start = time.perf_counter()
                trainer.train_epoch(order, tf.constant(batch_size))
                timings[batch_size][backward].append(time.perf_counter() - start)
    return timings


def compare_backward_passes(train_size, repeats, optimizers=("sgd", "adam")):
    """Part 6: rows of (arch, optimizer, batch, written-out ms/step, tape ms/step), measured in turn in one process."""
    rows = []
    for arch in study.ARCHITECTURES:
        for optimizer_name in optimizers:
            timings = in_fresh_process(time_backward_passes, True, arch, optimizer_name, train_size, repeats)
            for batch_size in BATCH_SIZES:
                steps = schedules.updates_per_epoch(train_size, batch_size)
                written, tape = (1000 * statistics.median(timings[batch_size][backward]) / steps
                                 for backward in ("written", "tape"))
                rows.append((arch, optimizer_name, batch_size, written, tape))
    return rows


def project_grid_seconds(rows, evaluation, jobs):
    """Part 2's projection: the grid's single-thread work, shared epochs once, spread over jobs."""
    settings = study.Settings()
    step_ms = {(arch, optimizer, batch): ours for arch, optimizer, batch, ours, _ in rows}
    total = 0.0
    for arch in study.ARCHITECTURES:
        for optimizer_name in optimizers.OPTIMIZERS:
            for plan in grid.trained_epochs(optimizer_name, schedules.SCHEDULES, settings):
                steps = schedules.updates_per_epoch(settings.train_size, plan.batch_size)
                seconds_per_step = step_ms[arch, optimizer_name, plan.batch_size] / 1000
                total += steps * seconds_per_step + evaluation[arch, optimizer_name]
    return total, total / jobs


def tree_rss_bytes(root_pid):
    """Resident memory of a process and all its descendants, from /proc."""
    children, rss = {}, {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as stat:
                parent = int(stat.read().rsplit(")", 1)[1].split()[1])
            with open(f"/proc/{entry}/statm") as statm:
                rss[int(entry)] = int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            children.setdefault(parent, []).append(int(entry))
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [root_pid]
    while stack:
        pid = stack.pop()
        total += rss.get(pid, 0)
        stack.extend(children.get(pid, []))
    return total


def timed_study(*args):
    """Runs main.py in a fresh folder; returns (wall seconds, peak resident bytes of all its processes)."""
    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        study = subprocess.Popen([sys.executable, os.path.join(ROOT, "main.py"), *args, "--out", out],
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        peak = 0
        while study.poll() is None:
            peak = max(peak, tree_rss_bytes(study.pid))
            time.sleep(0.2)
        seconds = time.perf_counter() - start
        if study.returncode != 0:
            raise RuntimeError(f"main.py {' '.join(args)} failed with status {study.returncode}")
    return seconds, peak


def time_training_per_image(train_size, repeats):
    """Part 3: warm seconds per 1,000 images of one epoch at batch 4 and at batch 500 (LeNet-5, SGD)."""
    tf = networks.tf
    data = mnist.prepare_data(mnist.load_mnist(), train_size, 10_000)
    trainer = training.Trainer("lenet5", "sgd", 0, study.Settings(train_size=train_size), data)
    order = tf.constant(training.epoch_order(0, 0, train_size))
    costs = {}
    for batch_size in (4, 500):
        trainer.train_epoch(order, tf.constant(batch_size))  # Warm-up.
        seconds = []
        for _ in range(repeats):
            start = time.perf_counter()
            trainer.train_epoch(order, tf.constant(batch_size))
            seconds.append(time.perf_counter() - start)
        costs[batch_size] = 1000 * statistics.median(seconds) / train_size
    return costs


def main_benchmark(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3, help="timed epochs per measurement (median)")
    parser.add_argument("--subset", type=int, default=4_000, help="training images per timed epoch in part 1")
    parser.add_argument("--parts", type=lambda text: {int(part) for part in text.split(",")}, default={1, 2, 3, 4, 6},
                        help="which parts to run, e.g. 2,3; part 5, the straightforward loop, only when named")
    parser.add_argument("--grid-repeats", type=int, default=3, help="timed runs of the full grid in part 2")
    args = parser.parse_args(argv)

    print(f"machine: {provenance.machine_description()}")
    print(f"versions: {provenance.library_versions()}\n")

    rows, evaluation = [], {}
    if 1 in args.parts:
        print(f"1. Training epoch, ms per step (median of {args.repeats}, {args.subset:,} images); "
              "project: compiled epoch, 1 thread; Keras: model.fit, default threads")
        rows, evaluation = compare_epochs(args.subset, args.repeats)
        print(f"{'architecture':<11} {'optimizer':<9} {'batch':>5} {'project':>8} {'Keras fit':>9} {'speed-up':>8}"
              f" {'project samples/s':>17} {'fit samples/s':>13}")
        for arch, optimizer_name, batch_size, ours, fit in rows:
            print(f"{arch:<11} {optimizer_name:<9} {batch_size:>5} {ours:>8.3f} {fit:>9.3f} {fit / ours:>7.1f}x"
                  f" {1000 * batch_size / ours:>17,.0f} {1000 * batch_size / fit:>13,.0f}")
        speedups = [fit / ours for *_, ours, fit in rows]
        print(f"median speed-up {statistics.median(speedups):.1f}x "
              f"(range {min(speedups):.1f}x to {max(speedups):.1f}x)")
        # The optimizers' cost class: each one's median step time relative to plain SGD's, per architecture.
        for arch in study.ARCHITECTURES:
            by_optimizer = {name: {batch: ours for a, o, batch, ours, _ in rows if (a, o) == (arch, name)}
                            for name in optimizers.ALL_OPTIMIZERS}
            ratios = ", ".join(
                f"{name} {statistics.median(by_optimizer[name][b] / by_optimizer['sgd'][b] for b in BATCH_SIZES):.2f}"
                for name in optimizers.ALL_OPTIMIZERS[1:])
            print(f"   {arch}: step time relative to plain SGD (median over batch sizes): {ratios}")
        print()

    if 2 in args.parts:
        jobs = os.cpu_count() or 1
        print(f"2. Full grid, 18 runs, 1 seed, original settings, --jobs {jobs}")
        if rows:
            work, projected = project_grid_seconds(rows, evaluation, jobs)
            print(f"   projected from part 1: {work:.0f} s of single-thread work / {jobs} = {projected:.0f} s "
                  "(no start-up)")
        measured = [timed_study("--seeds", "1", "--jobs", str(jobs)) for _ in range(args.grid_repeats)]
        walls = ", ".join(f"{seconds:.0f}" for seconds, _ in measured)
        print(f"   measured: {statistics.median([seconds for seconds, _ in measured]):.0f} s wall, start-up included "
              f"(median of {len(measured)}: {walls} s); peak memory of all processes "
              f"{max(peak for _, peak in measured) / 2**30:.2f} GiB\n")

    if 3 in args.parts:
        print("3. Training cost against training-set size: LeNet-5, SGD, warm epochs, "
              f"seconds per 1,000 images (median of {args.repeats})")
        for train_size in (5_000, 20_000, 60_000):
            costs = in_fresh_process(time_training_per_image, True, train_size, args.repeats)
            print(f"   {train_size:>6,} images: batch 4 {costs[4]:.3f} s, "
                  f"batch 500 {costs[500]:.3f} s per 1,000 images")
        print()

    if 4 in args.parts:
        print("4. Worker processes (full grid at 5,000 images, one epoch per stage, 2 seeds)")
        reduced = ["--seeds", "2", "--train-size", "5000", "--epochs-per-stage", "1"]
        one, _ = timed_study(*reduced, "--jobs", "1")
        two, _ = timed_study(*reduced, "--jobs", "2")
        print(f"   --jobs 1: {one:.1f} s   --jobs 2: {two:.1f} s   speed-up {one / two:.2f}x\n")

    if 5 in args.parts:
        print(f"5. The straightforward loop ({os.path.relpath(SEED_STYLE, ROOT)}), 18 cells one after another, "
              "default threading")
        total = 0.0
        for arch in study.ARCHITECTURES:
            for optimizer_name in optimizers.OPTIMIZERS:
                for schedule in schedules.SCHEDULES:
                    start = time.perf_counter()
                    subprocess.run([sys.executable, SEED_STYLE, arch, optimizer_name, schedule, "3"], check=True,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    seconds = time.perf_counter() - start
                    total += seconds
                    print(f"   {arch:<11} {optimizer_name:<4} {schedule}: {seconds:6.1f} s", flush=True)
        print(f"   full grid: {total:.0f} s wall")

    if 6 in args.parts:
        print(f"6. The price of not writing a backward pass: ms per step (median of {args.repeats}, "
              f"{args.subset:,} images), compiled epoch, 1 thread; written-out pass against tf.GradientTape, "
              "their epochs alternating in one process")
        print(f"{'architecture':<11} {'optimizer':<9} {'batch':>5} {'written':>8} {'tape':>8} {'tape/written':>12}")
        backward_rows = compare_backward_passes(args.subset, args.repeats)
        for arch, optimizer_name, batch_size, written, tape in backward_rows:
            print(f"{arch:<11} {optimizer_name:<9} {batch_size:>5} {written:>8.3f} {tape:>8.3f} {tape / written:>11.2f}x")
        for arch in study.ARCHITECTURES:
            ratios = [tape / written for a, _, _, written, tape in backward_rows if a == arch]
            at_4 = [tape / written for a, _, batch, written, tape in backward_rows if a == arch and batch == 4]
            print(f"   {arch}: tape / written-out step time, median {statistics.median(ratios):.2f}x "
                  f"(range {min(ratios):.2f}x to {max(ratios):.2f}x; at batch 4 {statistics.median(at_4):.2f}x)")
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main_benchmark())
