"""Milliseconds per training iteration of each training mode, against a floor.

The floor is what no MCMC-trained EBM can go below on the same network: one plain
cross-entropy step (forward, backward, Adam) plus ``n_steps`` evaluations of the
gradient of the energy with respect to the input. Both are timed in the same run,
interleaved, so the ratio survives a noisy shared machine. VERA (no MCMC) is
timed beside them on the same energy network.

A second table times how long each mode takes to reach a fixed test accuracy on
digits with 10 labels per class (the semi-supervised protocol of
``sk_ebm.datasets.semi_supervised_split``): fits with the same seed and growing
``max_iter`` are prefixes of one another, so the first checkpoint that reaches the
accuracy gives the training time to reach it.

    python benchmarks/speed.py [--epochs 3] [--repeats 3] [--n-steps 20]
                               [--accuracy 0.92] [--no-accuracy]

Prints Markdown tables, appends JSON lines to benchmarks/results/speed.jsonl and
ends with ``pcd_ratio_to_floor=``, ``short_run_ratio_to_floor=``,
``vera_ratio_to_pcd=`` and ``vera_time_to_accuracy_ratio=`` lines.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402
from sk_ebm.datasets import semi_supervised_split  # noqa: E402
from sk_ebm.nets import MLPEnergyNet, energy, frozen  # noqa: E402

RESULTS = Path(__file__).parent / "results"
TRAININGS = ("pcd", "short_run", "vera")
# Epoch checkpoints of the time-to-accuracy runs.
CHECKPOINTS = (5, 10, 15, 20, 30, 40, 60, 80, 120, 160)


def time_training(training, X, y, args):
    """ms per iteration of a JEMClassifier fit, from its per-epoch history."""
    clf = JEMClassifier(
        training=training,
        max_iter=args.epochs,
        n_steps=args.n_steps,
        batch_size=args.batch_size,
        device="cpu",
        random_state=0,
    ).fit(X, y)
    n_batches = int(np.ceil(len(X) / args.batch_size))
    seconds = sum(row["seconds"] for row in clf.history_)
    return 1000 * seconds / (args.epochs * n_batches)


def time_floor(X, y, args):
    """ms of one cross-entropy step plus n_steps input-gradient evaluations."""
    generator = torch.Generator().manual_seed(0)
    Z = torch.tensor(StandardScaler().fit_transform(X), dtype=torch.float32)
    Y = torch.tensor(y)
    net = MLPEnergyNet(X.shape[1], 10, (256, 256), "silu", generator)
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    n_batches = int(np.ceil(len(X) / args.batch_size))
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(len(Z), generator=generator)
        for i in range(n_batches):
            idx = order[i * args.batch_size : (i + 1) * args.batch_size]
            x = Z[idx]
            with frozen(net):
                for _ in range(args.n_steps):
                    xg = x.detach().requires_grad_(True)
                    torch.autograd.grad(energy(net(xg)).sum(), xg)
            loss = F.cross_entropy(net(x), Y[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return 1000 * (time.perf_counter() - start) / (args.epochs * n_batches)


def time_to_accuracy(training, split, threshold):
    """Training seconds until test accuracy first reaches ``threshold``.

    Returns
    -------
    seconds : float
        ``inf`` if no checkpoint reaches it.
    trace : list of (epochs, accuracy, seconds)
    """
    trace = []
    for epochs in CHECKPOINTS:
        clf = JEMClassifier(
            training=training, max_iter=epochs, device="cpu", random_state=0
        ).fit(split.X_train, split.y_train)
        accuracy = clf.score(split.X_test, split.y_test)
        seconds = sum(row["seconds"] for row in clf.history_)
        trace.append((epochs, accuracy, seconds))
        if accuracy >= threshold:
            return seconds, trace
    return float("inf"), trace


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n-steps", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--accuracy", type=float, default=0.92)
    parser.add_argument("--no-accuracy", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    X, y = load_digits(return_X_y=True)

    runs = {"floor": [], **{training: [] for training in TRAININGS}}
    for _ in range(args.repeats):  # interleaved, so drift hits every method alike
        runs["floor"].append(time_floor(X, y, args))
        for training in TRAININGS:
            runs[training].append(time_training(training, X, y, args))
    ms = {name: float(np.median(values)) for name, values in runs.items()}

    RESULTS.mkdir(exist_ok=True)
    with open(RESULTS / "speed.jsonl", "a") as out:
        for name, value in ms.items():
            row = dict(
                dataset="digits",
                method=name,
                seed=0,
                metric="ms_per_iter",
                value=round(value, 3),
                ratio_to_floor=round(value / ms["floor"], 3),
                n_steps=args.n_steps,
                batch_size=args.batch_size,
                repeats=args.repeats,
                epochs=args.epochs,
            )
            out.write(json.dumps(row) + "\n")

    print(
        f"digits, batch {args.batch_size}, {args.n_steps} SGLD steps, "
        f"median of {args.repeats} interleaved runs, 1 thread\n"
    )
    print("| method | ms / iteration | ratio to floor |")
    print("|---|---|---|")
    for name, value in ms.items():
        print(f"| {name} | {value:.2f} | {value / ms['floor']:.3f} |")
    reached = {} if args.no_accuracy else accuracy_table(X, y, args)

    print(f"\npcd_ratio_to_floor={ms['pcd'] / ms['floor']:.3f}")
    print(f"short_run_ratio_to_floor={ms['short_run'] / ms['floor']:.3f}")
    print(f"vera_ratio_to_pcd={ms['vera'] / ms['pcd']:.3f}")
    if reached:
        print(f"vera_time_to_accuracy_ratio={reached['vera'] / reached['pcd']:.3f}")


def accuracy_table(X, y, args):
    """Print and record the time-to-accuracy table; return seconds per mode."""
    split = semi_supervised_split(X, y, n_labeled_per_class=10, random_state=0)
    reached, traces = {}, {}
    for training in ("pcd", "vera"):
        reached[training], traces[training] = time_to_accuracy(
            training, split, args.accuracy
        )
    with open(RESULTS / "speed.jsonl", "a") as out:
        for training, seconds in reached.items():
            row = dict(
                dataset="digits",
                method=training,
                seed=0,
                metric=f"seconds_to_accuracy_{args.accuracy}",
                value=round(seconds, 2),
                labels_per_class=10,
                trace=traces[training],
            )
            out.write(json.dumps(row) + "\n")
    print(
        f"\ndigits, 10 labels per class, seconds of training until test accuracy "
        f">= {args.accuracy} (checkpoints at {CHECKPOINTS} epochs)\n"
    )
    print("| method | seconds | epochs | accuracy at those epochs |")
    print("|---|---|---|---|")
    for training, seconds in reached.items():
        epochs, accuracy, _ = traces[training][-1]
        print(f"| {training} | {seconds:.1f} | {epochs} | {accuracy:.3f} |")
    return reached


if __name__ == "__main__":
    main()
