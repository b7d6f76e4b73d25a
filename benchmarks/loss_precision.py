"""How far does the float64 training loss move the values that the float32 one recorded?

full_train_loss is computed in float64 from the logits
(training.float64_cross_entropy). The 3-epoch studies committed before that
recorded it in float32, through Keras's loss on the model's output. This
script trains the given seeds of each (network, optimizer) cell with the
given schedules, and at every stage end measures both on the same weights: the
float64 value the code records now, and the float32 value it recorded before
(Trainer.score, which still scores the test set that way). It prints one row
per cell and stage end, and the largest relative difference, |f32 - f64| / f64.

usage: python benchmarks/loss_precision.py [--archs A,B] [--optimizers O,P] [--schedules S,T] [--seeds N]
                                          [--epochs-per-stage E] [--beta-scaling samples] [--jobs N]
"""
import argparse
import multiprocessing
import os
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)


def measure_cell(cell):
    """[(arch, optimizer, schedule, seed, epoch, float64 loss, float32 loss)] for one seed of one cell."""
    arch, optimizer, schedules, seed, epochs_per_stage, beta_scaling = cell
    from batchgrow.training import mnist
    from batchgrow.training import runtime
    from batchgrow import study
    from batchgrow.training import training
    runtime.configure_worker()
    settings = study.Settings(epochs_per_stage=epochs_per_stage, beta_scaling=beta_scaling)
    data = mnist.prepare_data(mnist.load_mnist(), settings.train_size, settings.test_size)
    rows = []
    measure = training.Trainer.full_train_loss

    def both(trainer):
        float64_loss = measure(trainer)
        float32_loss = trainer.score(trainer.x_loss, trainer.y_loss)[1]
        rows.append([float64_loss, float32_loss])
        return float64_loss

    training.Trainer.full_train_loss = both
    results = training.train_runs(arch, optimizer, seed, schedules, settings, data)
    measured = []
    for schedule, metrics in results.items():
        for epoch, value in enumerate(metrics["full_train_loss"]):
            if value is not None:
                float32_loss = next(row[1] for row in rows if row[0] == value)
                measured.append((arch, optimizer, schedule, seed, epoch + 1, value, float32_loss))
    return measured


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--archs", default="mlp300,mlp500_150,lenet5")
    parser.add_argument("--optimizers", default="sgd,adam,rmsprop")
    parser.add_argument("--schedules", default="dlr,ibs,seesaw")
    parser.add_argument("--seeds", type=int, default=1, help="seeds 0 to N-1 (default: 1)")
    parser.add_argument("--epochs-per-stage", type=int, default=3)
    parser.add_argument("--beta-scaling", choices=("none", "samples"), default="none")
    parser.add_argument("--jobs", type=int, default=os.cpu_count())
    args = parser.parse_args()
    cells = [(arch, optimizer, args.schedules.split(","), seed, args.epochs_per_stage, args.beta_scaling)
             for arch in args.archs.split(",") for optimizer in args.optimizers.split(",") for seed in range(args.seeds)]
    with multiprocessing.get_context("spawn").Pool(args.jobs) as pool:
        rows = [row for cell_rows in pool.map(measure_cell, cells) for row in cell_rows]
    print("| network | optimizer | schedule | seed | epoch | float64 loss | float32 loss | relative difference |")
    print("|---|---|---|---|---|---|---|---|")
    for arch, optimizer, schedule, seed, epoch, float64_loss, float32_loss in rows:
        print(f"| {arch} | {optimizer} | {schedule} | {seed} | {epoch} | {float64_loss:.6e} | {float32_loss:.6e} | "
              f"{abs(float32_loss - float64_loss) / float64_loss:.2e} |")
    worst = max(rows, key=lambda row: abs(row[6] - row[5]) / row[5])
    print(f"\nlargest relative difference: {abs(worst[6] - worst[5]) / worst[5]:.2e} "
          f"({worst[0]}, {worst[1]}, {worst[2]}, seed {worst[3]}, epoch {worst[4]}, float64 loss {worst[5]:.3e}); "
          f"smallest float64 loss: {min(row[5] for row in rows):.3e}")


if __name__ == "__main__":
    main()
