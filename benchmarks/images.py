"""Images: a convolutional JEM on Fashion-MNIST against its cross-entropy twin.

Fashion-MNIST, the first ``--n-train`` (10,000) training images of a fixed
shuffle, the full 10,000 test images; MNIST-5k as the out-of-distribution
set. Methods, all from the same run:

- ``jem-conv``: ``JEMClassifier(input_shape=(1, 28, 28))``, the
  convolutional network of ``--channels``, PCD with ``--n-steps`` SGLD steps,
  ``--epochs`` epochs; its OOD scores are ``score_samples`` (``log p(x)``) and
  the max-softmax of ``predict_proba``;
- ``ce-conv``: the same network (:class:`sk_ebm.nets.ConvEnergyNet`), the same
  pixel scaling and training noise, trained with cross-entropy only (Adam,
  the same learning rate, batch size and epochs); OOD scores: its energy
  score ``logsumexp`` of the logits and its max-softmax;
- ``knn``: 5-nearest-neighbour classifier on raw pixels, and minus the
  distance to the 5th training neighbour as OOD score;
- ``lof-raw``: ``LocalOutlierFactor(novelty=True)`` on raw pixels (OOD only).

Metrics: test accuracy, ECE (15 bins), OOD AUROC (in = Fashion-MNIST test =
positive, out = MNIST-5k). One JSON line per (method, seed) in
``benchmarks/results/images.jsonl``, the table in ``images.md`` and JEM's
class-conditional samples in ``images_samples.png``.

Usage::

    python benchmarks/images.py            # the default fit, seed 0
    python benchmarks/images.py --quick    # 2,000 images, 2 epochs
"""

import argparse
import json
import sys
import time
import warnings
from pathlib import Path

import numpy as np
import torch
from scipy.special import logsumexp, softmax
from sklearn.neighbors import KNeighborsClassifier, LocalOutlierFactor, NearestNeighbors

sys.path.insert(0, str(Path(__file__).parent))

import _common  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402
from sk_ebm.datasets import load_fashion_mnist, load_mnist_5k  # noqa: E402
from sk_ebm.metrics import expected_calibration_error, ood_auroc  # noqa: E402
from sk_ebm.nets import ConvEnergyNet  # noqa: E402
from sk_ebm.preprocessing import PixelScaler  # noqa: E402

METHODS = ("ce-conv", "knn", "lof-raw", "jem-conv")
SHAPE = (1, 28, 28)
#: Training noise of the estimator's image path (sk_ebm._base.PIXEL_NOISE).
PIXEL_NOISE = 0.03


def load(n_train):
    X, y = load_fashion_mnist(subset="train", dtype="float32", return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[:n_train]
    X_test, y_test = load_fashion_mnist(subset="test", dtype="float32", return_X_y=True)
    X_out, _ = load_mnist_5k(return_X_y=True)
    return X[order], y[order], X_test, y_test, X_out.astype(np.float32)


def fit_jem(args, seed, X, y):
    clf = JEMClassifier(
        input_shape=SHAPE,
        channels=tuple(args.channels),
        n_steps=args.n_steps,
        max_iter=args.epochs,
        alpha=args.alpha,
        device="cpu",
        random_state=seed,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(X, y)
    return clf


def fit_cross_entropy(args, seed, X, y):
    """The JEM network trained with cross-entropy alone; returns a logits function."""
    generator = torch.Generator().manual_seed(seed)
    scaler = PixelScaler().fit(X)
    net = ConvEnergyNet(
        X.shape[1],
        10,
        generator=generator,
        input_shape=SHAPE,
        channels=tuple(args.channels),
        activation="silu",
    )
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    Z = torch.tensor(scaler.transform(X), dtype=torch.float32)
    target = torch.as_tensor(y)
    for _ in range(args.epochs):
        order = torch.randperm(len(Z), generator=generator)
        for start in range(0, len(Z), 64):
            idx = order[start : start + 64]
            noise = torch.randn(Z[idx].shape, generator=generator)
            logits = net(Z[idx] + PIXEL_NOISE * noise)
            loss = torch.nn.functional.cross_entropy(logits, target[idx])
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()

    def logits_of(X_new):
        with torch.no_grad():
            Z_new = torch.tensor(scaler.transform(X_new), dtype=torch.float32)
            return (
                torch.cat(
                    [net(Z_new[i : i + 2048]) for i in range(0, len(Z_new), 2048)]
                )
                .double()
                .numpy()
            )

    return logits_of


def evaluate(method, args, seed, data):
    X, y, X_test, y_test, X_out = data
    rows = []
    start, cpu = time.perf_counter(), time.process_time()
    extra = {}
    if method == "jem-conv":
        clf = fit_jem(args, seed, X, y)
        fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
        proba = clf.predict_proba(X_test)
        scores = {
            "logp": (clf.score_samples(X_test), clf.score_samples(X_out)),
            "max_softmax": (proba.max(1), clf.predict_proba(X_out).max(1)),
        }
        epoch_s = [row["seconds"] for row in clf.history_]
        extra = {
            "epochs": clf.n_iter_,
            "n_steps": args.n_steps,
            "alpha": clf.alpha_,
            "seconds_per_epoch": round(float(np.mean(epoch_s)), 1),
            "recoveries": sum("recovery" in row for row in clf.history_),
        }
        if args.grid:
            save_grid(clf, X, args.out / "images_samples.png")
    elif method == "ce-conv":
        logits_of = fit_cross_entropy(args, seed, X, y)
        fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
        logits, logits_out = logits_of(X_test), logits_of(X_out)
        proba = softmax(logits, axis=1)
        scores = {
            "energy": (logsumexp(logits, axis=1), logsumexp(logits_out, axis=1)),
            "max_softmax": (proba.max(1), softmax(logits_out, axis=1).max(1)),
        }
        extra = {"epochs": args.epochs}
    elif method == "knn":
        knn = KNeighborsClassifier(5).fit(X, y)
        proba = knn.predict_proba(X_test)
        near = NearestNeighbors(n_neighbors=5).fit(X)
        fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
        scores = {
            "kth_distance": tuple(
                -near.kneighbors(Z)[0][:, -1] for Z in (X_test, X_out)
            )
        }
    elif method == "lof-raw":
        lof = LocalOutlierFactor(novelty=True).fit(X)
        fit_s, fit_cpu = time.perf_counter() - start, time.process_time() - cpu
        proba = None
        scores = {"lof": (lof.score_samples(X_test), lof.score_samples(X_out))}
    else:
        raise ValueError(f"unknown method {method!r}")
    label = method
    if method == "jem-conv" and args.alpha != "auto":
        label = f"jem-conv-alpha{args.alpha:g}"
    base = {"method": label, "seed": seed, "n_train": len(X), **extra}
    timing = {"fit_seconds": round(fit_s, 1), "fit_cpu_seconds": round(fit_cpu, 1)}
    if proba is not None:
        accuracy = float((proba.argmax(1) == y_test).mean())
        ece = expected_calibration_error(y_test, proba)
        rows.append({**base, "metric": "accuracy", "value": accuracy, **timing})
        rows.append({**base, "metric": "ece", "value": float(ece), **timing})
    for name, (score_in, score_out) in scores.items():
        auroc = ood_auroc(score_in, score_out)
        rows.append(
            {**base, "metric": f"auroc_{name}", "value": float(auroc), **timing}
        )
    return rows


def save_grid(clf, X, path):
    import matplotlib

    matplotlib.use("Agg")
    from sk_ebm.plotting import plot_sample_grid

    ax = plot_sample_grid(clf, X, n_per_class=10, random_state=0)
    ax.set_title("JEMClassifier (conv) on Fashion-MNIST: samples per class")
    ax.figure.set_size_inches(6, 6.5)
    ax.figure.savefig(path, dpi=90)


def table(rows):
    header = [
        "method",
        "accuracy",
        "ECE",
        "AUROC log p / energy",
        "AUROC max-softmax",
        "AUROC distance / LOF",
        "fit s (CPU s)",
        "epochs",
    ]
    lines = []
    names = list(dict.fromkeys([*METHODS, *(r["method"] for r in rows)]))
    for method in names:
        mine = {r["metric"]: r for r in rows if r["method"] == method}
        if not mine:
            continue
        get = lambda m: f"{100 * mine[m]['value']:.1f}" if m in mine else "–"  # noqa: E731
        any_row = next(iter(mine.values()))
        lines.append(
            [
                method,
                get("accuracy"),
                get("ece"),
                get("auroc_logp") if "auroc_logp" in mine else get("auroc_energy"),
                get("auroc_max_softmax"),
                get("auroc_kth_distance")
                if "auroc_kth_distance" in mine
                else get("auroc_lof"),
                f"{any_row['fit_seconds']} ({any_row['fit_cpu_seconds']})",
                any_row.get("epochs", "–"),
            ]
        )
    return _common.markdown_table(header, lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=list(METHODS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--n-steps", type=int, default=10)
    parser.add_argument("--channels", nargs="+", type=int, default=[16, 32, 64, 128])
    parser.add_argument(
        "--alpha", type=float, default=None, help="JEM's alpha (default: 'auto')"
    )
    parser.add_argument("--quick", action="store_true", help="2,000 images, 2 epochs")
    parser.add_argument("--no-grid", dest="grid", action="store_false")
    parser.add_argument("--fresh", action="store_true", help="empty the results file")
    parser.add_argument("--out", type=Path, default=_common.RESULTS)
    args = parser.parse_args(argv)
    if args.alpha is None:
        args.alpha = "auto"
    if args.quick:
        args.n_train, args.epochs = 2000, 2
    _common.single_thread()
    stem = args.out / ("images_quick" if args.quick else "images")
    log = _common.ResultLog(
        stem.with_suffix(".jsonl"), ("method", "seed", "metric"), args.fresh
    )
    data = load(args.n_train)
    print(
        f"train {data[0].shape}, test {data[2].shape}, out {data[4].shape}", flush=True
    )
    for seed in args.seeds:
        for method in args.methods:
            for row in evaluate(method, args, seed, data):
                log.add(**row)
    text = (
        f"Fashion-MNIST, {args.n_train} training images, 10,000 test images; "
        "OOD: MNIST-5k. AUROC in % (in-distribution positive), ECE in % (15 bins). "
        f"Seeds {args.seeds}. One thread.\n\n" + table(log.rows)
    )
    _common.write_text(stem.with_suffix(".md"), text)
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
