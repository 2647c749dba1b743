"""Images: a convolutional JEM on Fashion-MNIST against its cross-entropy twin.

Two pairs (``--pair``):

- ``fashion-mnist`` (default): Fashion-MNIST, the first ``--n-train``
  (10,000) training images of a fixed shuffle (``np.random.default_rng(0)``),
  the full 10,000 test images; MNIST-5k as the out-of-distribution set;
- ``mnist`` (the reverse pair): MNIST-5k shuffled by ``default_rng(0)``, the
  first 4,000 images to train (at most ``--n-train`` of them), the last 1,000
  to test; the 10,000 Fashion-MNIST test images as the OOD set.

Methods, all from the same run:

- ``jem-conv``: ``JEMClassifier(input_shape=(1, 28, 28))``, the
  convolutional network of ``--channels``, PCD with ``--n-steps`` SGLD steps,
  ``--epochs`` epochs; its OOD scores are ``score_samples`` (``log p(x)``) and
  the max-softmax of ``predict_proba``;
- ``ce-conv``: the same network (:class:`sk_ebm.nets.ConvEnergyNet`), the same
  pixel scaling and training noise, trained with cross-entropy only (Adam,
  the same learning rate, batch size and epochs); OOD scores: its energy
  score ``logsumexp`` of the logits and its max-softmax;
- ``mlp``: ``MLPClassifier(hidden_layer_sizes=(256,), max_iter=--epochs)`` on
  the pixels in [0, 1] (Adam, sklearn's other defaults: batch 200, its
  training-loss stopping rule, no early stopping on held-out rows); OOD
  score: its max-softmax;
- ``knn``: 5-nearest-neighbour classifier on raw pixels, and minus the
  distance to the 5th training neighbour as OOD score;
- ``lof-raw``: ``LocalOutlierFactor(novelty=True)`` on raw pixels (OOD only);
- ``gmm``: ``GaussianMixture(covariance_type="full")`` on a 50-component PCA
  of the training pixels (no whitening), the number of components chosen by
  the training BIC among 1, 2, 4, 8, 16 and 32; OOD score: its log-likelihood
  (OOD only);
- ``label-spreading`` and ``label-spreading-tuned`` (for the semi-supervised
  mode): ``LabelSpreading(kernel="knn")`` on raw pixels with sklearn's
  ``n_neighbors=7``, and with ``n_neighbors`` chosen by 3-fold CV on the
  labeled rows as ``label-spreading-knn-tuned`` of ``semi_supervised.py``.

``--labels-per-class N`` is the semi-supervised mode: N labels per class are
kept (drawn by ``np.random.default_rng(seed)``), every other training image
gets ``y = -1``. JEM and label spreading see every image; ``ce-conv``,
``mlp`` and ``knn`` fit the labeled ones alone, ``ce-conv`` and ``mlp`` for
``--epochs`` times ``n_train / n_labeled`` epochs, so as many optimizer steps
as on the full data; ``lof-raw`` and ``gmm`` ignore labels.

Metrics: test accuracy, ECE (15 bins), OOD AUROC (in = the pair's test images
= positive, out = the other data set). One JSON line per (method, seed,
metric) in ``benchmarks/results/images.jsonl`` (``images_mnist`` for the
reverse pair, ``images_ssl`` / ``images_mnist_ssl`` in the semi-supervised
mode, ``_quick`` appended with ``--quick``), the table of every seed in the
file (mean ± std over seeds) in the ``.md`` beside it, and JEM's
class-conditional samples in ``<stem>_samples.png``.

Usage::

    python benchmarks/images.py            # the default fit, seed 0
    python benchmarks/images.py --quick    # 2,000 images, 2 epochs
    python benchmarks/images.py --pair mnist --seeds 0 1 2
    python benchmarks/images.py --labels-per-class 100
    python benchmarks/images.py --methods   # no fit: rewrite the .md from the file
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
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture
from sklearn.neighbors import KNeighborsClassifier, LocalOutlierFactor, NearestNeighbors
from sklearn.neural_network import MLPClassifier
from sklearn.semi_supervised import LabelSpreading

sys.path.insert(0, str(Path(__file__).parent))

import _common  # noqa: E402
import semi_supervised  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402
from sk_ebm.datasets import (  # noqa: E402
    hide_labels,
    load_fashion_mnist,
    load_mnist_5k,
)
from sk_ebm.metrics import expected_calibration_error, ood_auroc  # noqa: E402
from sk_ebm.nets import ConvEnergyNet  # noqa: E402
from sk_ebm.preprocessing import PixelScaler  # noqa: E402

METHODS = ("ce-conv", "mlp", "knn", "lof-raw", "gmm", "jem-conv")
SSL_METHODS = ("ce-conv", "mlp", "label-spreading", "label-spreading-tuned", "jem-conv")
#: Methods that fit the labeled rows alone in the semi-supervised mode.
SUPERVISED = ("ce-conv", "mlp", "knn")
#: The table's order of methods.
TABLE_ORDER = (
    *METHODS[:-1],
    *SSL_METHODS[2:4],
    "jem-conv",
)
SHAPE = (1, 28, 28)
#: Training noise of the estimator's image path (sk_ebm._base.PIXEL_NOISE).
PIXEL_NOISE = 0.03
MLP_HIDDEN = (256,)
PCA_COMPONENTS = 50
GMM_COMPONENTS = (1, 2, 4, 8, 16, 32)
#: The reverse pair's split of the shuffled MNIST-5k.
MNIST_TRAIN = 4000
#: ``--pair``: the in-distribution data and the OOD set.
PAIRS = {
    "fashion-mnist": ("Fashion-MNIST", "MNIST-5k"),
    "mnist": ("MNIST-5k", "Fashion-MNIST test"),
}


def load(pair, n_train):
    """``X, y, X_test, y_test, X_out`` of ``pair``, pixels in [0, 1], float32."""
    fashion = load_fashion_mnist(subset="test", dtype="float32", return_X_y=True)
    X_mnist, y_mnist = load_mnist_5k(return_X_y=True)
    X_mnist = X_mnist.astype(np.float32)
    if pair == "mnist":
        order = np.random.default_rng(0).permutation(len(X_mnist))
        train = order[:MNIST_TRAIN][:n_train]
        test = order[MNIST_TRAIN:]
        return X_mnist[train], y_mnist[train], X_mnist[test], y_mnist[test], fashion[0]
    X, y = load_fashion_mnist(subset="train", dtype="float32", return_X_y=True)
    order = np.random.default_rng(0).permutation(len(X))[:n_train]
    return X[order], y[order], *fashion, X_mnist


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
    if args.grid:
        save_grid(clf, X, args.stem.parent / f"{args.stem.name}_samples.png")

    def outputs(X_test, X_out):
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
        return proba, scores, extra

    return outputs


def train_cross_entropy(args, seed, X, y):
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
    for _ in range(round(args.epochs * args.epoch_scale)):
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
            chunks = [net(Z_new[i : i + 2048]) for i in range(0, len(Z_new), 2048)]
            return torch.cat(chunks).double().numpy()

    return logits_of


def fit_cross_entropy(args, seed, X, y):
    logits_of = train_cross_entropy(args, seed, X, y)

    def outputs(X_test, X_out):
        logits, logits_out = logits_of(X_test), logits_of(X_out)
        proba = softmax(logits, axis=1)
        scores = {
            "energy": (logsumexp(logits, axis=1), logsumexp(logits_out, axis=1)),
            "max_softmax": (proba.max(1), softmax(logits_out, axis=1).max(1)),
        }
        return proba, scores, {"epochs": round(args.epochs * args.epoch_scale)}

    return outputs


def fit_mlp(args, seed, X, y):
    mlp = MLPClassifier(
        MLP_HIDDEN, max_iter=round(args.epochs * args.epoch_scale), random_state=seed
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        mlp.fit(X, y)

    def outputs(X_test, X_out):
        proba = mlp.predict_proba(X_test)
        scores = {"max_softmax": (proba.max(1), mlp.predict_proba(X_out).max(1))}
        return proba, scores, {"epochs": mlp.n_iter_}

    return outputs


def fit_knn(args, seed, X, y):
    knn = KNeighborsClassifier(5).fit(X, y)
    near = NearestNeighbors(n_neighbors=5).fit(X)

    def outputs(X_test, X_out):
        distance = [-near.kneighbors(Z)[0][:, -1] for Z in (X_test, X_out)]
        return knn.predict_proba(X_test), {"kth_distance": tuple(distance)}, {}

    return outputs


def fit_lof(args, seed, X, y):
    lof = LocalOutlierFactor(novelty=True).fit(X)

    def outputs(X_test, X_out):
        return None, {"lof": (lof.score_samples(X_test), lof.score_samples(X_out))}, {}

    return outputs


def fit_gmm(args, seed, X, y):
    """Full-covariance mixture on 50 PCA components, its size chosen by BIC."""
    pca = PCA(PCA_COMPONENTS, random_state=seed).fit(X)
    Z = pca.transform(X)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fits = [
            GaussianMixture(k, covariance_type="full", random_state=seed).fit(Z)
            for k in GMM_COMPONENTS
        ]
    gmm = min(fits, key=lambda fit: fit.bic(Z))

    def outputs(X_test, X_out):
        loglik = [gmm.score_samples(pca.transform(Z)) for Z in (X_test, X_out)]
        return None, {"gmm": tuple(loglik)}, {"gmm_components": gmm.n_components}

    return outputs


def fit_label_spreading(args, seed, X, y, tuned=False):
    model = (
        semi_supervised._tuned_label_spreading(seed)
        if tuned
        else LabelSpreading(kernel="knn")
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(X, y)
    extra = {"n_neighbors": model.best_params_["n_neighbors"]} if tuned else {}

    def outputs(X_test, X_out):
        return model.predict_proba(X_test), {}, extra

    return outputs


FITTERS = {
    "jem-conv": fit_jem,
    "ce-conv": fit_cross_entropy,
    "mlp": fit_mlp,
    "knn": fit_knn,
    "lof-raw": fit_lof,
    "gmm": fit_gmm,
    "label-spreading": fit_label_spreading,
    "label-spreading-tuned": lambda *a: fit_label_spreading(*a, tuned=True),
}


def evaluate(method, args, seed, data):
    """One JSON row per metric of ``method`` fitted with ``seed``."""
    X, y, X_test, y_test, X_out = data
    if args.labels_per_class:
        y = hide_labels(y, args.labels_per_class, label_seed=seed)
        if method in SUPERVISED:
            X, y = X[y != -1], y[y != -1]
    start, cpu = time.perf_counter(), time.process_time()
    outputs = FITTERS[method](args, seed, X, y)
    timing = {
        "fit_seconds": round(time.perf_counter() - start, 1),
        "fit_cpu_seconds": round(time.process_time() - cpu, 1),
    }
    proba, scores, extra = outputs(X_test, X_out)
    label = method
    if method == "jem-conv" and args.alpha != "auto":
        label = f"jem-conv-alpha{args.alpha:g}"
    base = {"method": label, "seed": seed, "n_train": len(data[0]), **extra}
    if args.labels_per_class:
        base["n_labeled"] = int(np.sum(y != -1))
    metrics = {}
    if proba is not None:
        metrics["accuracy"] = float((proba.argmax(1) == y_test).mean())
        metrics["ece"] = float(expected_calibration_error(y_test, proba))
    for name, (score_in, score_out) in scores.items():
        metrics[f"auroc_{name}"] = float(ood_auroc(score_in, score_out))
    return [{**base, "metric": m, "value": v, **timing} for m, v in metrics.items()]


def save_grid(clf, X, path):
    import matplotlib

    matplotlib.use("Agg")
    from sk_ebm.plotting import plot_sample_grid

    ax = plot_sample_grid(clf, X, n_per_class=10, random_state=0)
    ax.set_title("JEMClassifier (conv): samples per class")
    ax.figure.set_size_inches(6, 6.5)
    ax.figure.savefig(path, dpi=90)


#: Table columns: header and the metrics shown in it, the first present wins.
COLUMNS = (
    ("accuracy", ("accuracy",)),
    ("ECE", ("ece",)),
    ("AUROC log p / energy", ("auroc_logp", "auroc_energy")),
    ("AUROC max-softmax", ("auroc_max_softmax",)),
    ("AUROC distance / LOF / GMM", ("auroc_kth_distance", "auroc_lof", "auroc_gmm")),
)


def cell(rows, method, metrics):
    """Mean ± std over seeds of the first of ``metrics`` that ``method`` has."""
    for metric in metrics:
        values = _common.values_of(rows, method, metric)
        if values:
            return _common.mean_std(values)
    return "–"


def table(rows):
    """One line per method: mean ± std over its seeds (std with ddof=0)."""
    header = ["method", "seeds", *(name for name, _ in COLUMNS)]
    header += ["fit s (CPU s)", "epochs"]
    order = [*TABLE_ORDER, *(r["method"] for r in rows)]
    lines = []
    for method in _common.methods_in(rows, dict.fromkeys(order)):
        # One row per seed carries the fit's timing and epochs.
        fits = {r["seed"]: r for r in rows if r["method"] == method}
        lines.append(
            [
                method,
                ",".join(str(seed) for seed in sorted(fits)),
                *(cell(rows, method, metrics) for _, metrics in COLUMNS),
                f"{np.mean([r['fit_seconds'] for r in fits.values()]):.1f} "
                f"({np.mean([r['fit_cpu_seconds'] for r in fits.values()]):.1f})",
                "/".join(sorted({str(r.get("epochs", "–")) for r in fits.values()})),
            ]
        )
    return _common.markdown_table(header, lines)


def describe(args, data):
    """The line above the table: data, OOD set, labels."""
    inside, outside = PAIRS[args.pair]
    labels = ""
    if args.labels_per_class:
        labels = f", {args.labels_per_class} labels per class (the rest unlabeled)"
    return (
        f"{inside}, {len(data[0])} training images{labels}, {len(data[2])} test "
        f"images; OOD: {outside} ({len(data[4])} images). AUROC in % "
        "(in-distribution positive), accuracy and ECE (15 bins) in %, mean ± std "
        "over the seeds listed (std with ddof=0). One thread.\n\n"
    )


def parse(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pair", choices=tuple(PAIRS), default="fashion-mnist")
    parser.add_argument("--methods", nargs="*", choices=tuple(FITTERS))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--n-train", type=int, default=10000)
    parser.add_argument("--labels-per-class", type=int, default=0)
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
    if args.methods is None:
        args.methods = list(SSL_METHODS if args.labels_per_class else METHODS)
    name = "images" + ("_mnist" if args.pair == "mnist" else "")
    name += "_ssl" if args.labels_per_class else ""
    args.stem = args.out / (name + ("_quick" if args.quick else ""))
    return args


def main(argv=None):
    args = parse(argv)
    _common.single_thread()
    log = _common.ResultLog(
        args.stem.with_suffix(".jsonl"), ("method", "seed", "metric"), args.fresh
    )
    data = load(args.pair, args.n_train)
    # Supervised baselines of the semi-supervised mode take as many steps.
    n_labeled = 10 * args.labels_per_class or len(data[0])
    args.epoch_scale = len(data[0]) / n_labeled
    print(
        f"train {data[0].shape}, test {data[2].shape}, out {data[4].shape}", flush=True
    )
    for seed in args.seeds:
        for method in args.methods:
            for row in evaluate(method, args, seed, data):
                log.add(**row)
    _common.write_text(
        args.stem.with_suffix(".md"), describe(args, data) + table(log.rows)
    )
    print(json.dumps({"done": True}))


if __name__ == "__main__":
    main()
