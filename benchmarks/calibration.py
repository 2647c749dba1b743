"""Calibration on fully labeled data: JEM's expected calibration error vs an MLP.

One stratified 75/25 split (``random_state=0``) of each dataset, every training
row labeled; a ``StandardScaler`` fitted on the training rows scales every
model's input. For each seed: test accuracy and the expected calibration error
of the predicted class's probability (15 equal-width bins,
``sk_ebm.metrics.expected_calibration_error``). The target (issues 6 and 18):
JEM's ECE at most half of ``MLPClassifier``'s on the same data, on letter
(seeds 0-2). Digits has no target: its MLP's ECE (1.3 %) is at the noise floor
of an ECE measured on 450 test rows.

    python benchmarks/calibration.py [--quick] [--datasets digits letter]
        [--seeds 0 1 2] [--methods ...] [--fresh]

Appends one JSON line per (dataset, method, seed, metric) to
benchmarks/results/calibration.jsonl (``calibration_quick`` with ``--quick``),
prints the table of every row there, writes it beside (``.md``) with the
reliability diagrams of seed 0 (``_<dataset>.png``). The
curves behind the figure are kept (``_<dataset>.npz``), so a run of some
methods redraws it with all.
"""

import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402
from sk_ebm.datasets import load_letter, load_penbased  # noqa: E402
from sk_ebm.metrics import expected_calibration_error, reliability_curve  # noqa: E402

DATASETS = {
    "digits": lambda: load_digits(return_X_y=True),
    "letter": lambda: load_letter(return_X_y=True),
    "penbased": lambda: load_penbased(return_X_y=True),
}
#: JEM at its defaults, and with other likelihood weights than ``alpha="auto"``
#: ("-alpha<w>").
JEM_METHODS = ("jem-pcd", "jem-vera", "jem-pcd-alpha0.03")
METHODS = (*JEM_METHODS, "mlp", "logreg", "skorch-mlp")
N_BINS = 15


def make_model(method, seed, n_features, n_classes):
    if method in JEM_METHODS:
        training = method.split("-")[1]
        _, alpha = _common.split_alpha(method)
        return JEMClassifier(
            training=training, alpha=alpha, device="cpu", random_state=seed
        )
    if method == "mlp":
        return _common.mlp(seed)
    if method == "logreg":
        return _common.logistic_regression(seed)
    if method == "skorch-mlp":
        return _common.skorch_mlp(seed, n_features, n_classes)
    raise ValueError(f"unknown method {method!r}")


def split(X, y):
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, random_state=0, stratify=y
    )
    scaler = StandardScaler().fit(X_train)
    return scaler.transform(X_train), scaler.transform(X_test), y_train, y_test


def run_one(log, dataset, data, method, seed, curves):
    X_train, X_test, y_train, y_test = data
    model = make_model(method, seed, X_train.shape[1], len(np.unique(y_train)))
    with _common.Timer() as t:
        model.fit(X_train, y_train)
    proba = model.predict_proba(X_test)
    y_index = np.searchsorted(model.classes_, y_test)
    ece = expected_calibration_error(y_index, proba, n_bins=N_BINS)
    for metric, value in (
        ("accuracy", np.mean(model.classes_[proba.argmax(1)] == y_test)),
        ("ece", ece),
    ):
        log.add(
            dataset=dataset,
            method=method,
            seed=seed,
            metric=metric,
            value=float(value),
            seconds=t.seconds,
        )
    if seed == _common.FIGURE_SEED:
        # The figure's data: the reliability curve and ECE, not the
        # probabilities (a letter run would keep 5,000 x 26 of them per method).
        curve = reliability_curve(y_index, proba, n_bins=N_BINS)
        curves.setdefault(dataset, {})[method] = (
            curve.mean_confidence,
            curve.accuracy,
            [ece],
        )


def _methods(rows):
    return _common.methods_in(rows, METHODS)


def summarize(rows):
    out = []
    for dataset in [d for d in DATASETS if any(r["dataset"] == d for r in rows)]:
        sub = [r for r in rows if r["dataset"] == dataset]
        cells = []
        for method in _methods(sub):
            seeds = sorted({r["seed"] for r in sub if r["method"] == method})
            seconds = np.mean([r["seconds"] for r in sub if r["method"] == method])
            cells.append(
                [
                    method,
                    _common.mean_std(_common.values_of(sub, method, "ece"), decimals=2),
                    _common.mean_std(_common.values_of(sub, method, "accuracy")),
                    f"{seconds:.1f}",
                    ",".join(map(str, seeds)),
                ]
            )
        header = ["method", "ECE %", "test accuracy %", "fit seconds", "seeds"]
        out.append(f"\n### {dataset}, all training rows labeled\n")
        out.append(_common.markdown_table(header, cells))
        if dataset in TARGET_DATASETS:
            out.append("\n" + _target_line(sub))
    return "\n".join(out)


#: Datasets with a calibration target (see the module's docstring).
TARGET_DATASETS = ("letter",)


def _target_line(rows):
    if "mlp" not in _methods(rows):
        return "target: needs the mlp rows"
    bound = 0.5 * np.mean(_common.values_of(rows, "mlp", "ece"))
    parts = [f"target ECE <= {100 * bound:.2f} (half of mlp's)"]
    for method in JEM_METHODS:
        if method in _methods(rows):
            ece = np.mean(_common.values_of(rows, method, "ece"))
            verdict = "met" if ece <= bound else "MISSED"
            ratio = ece / (2 * bound)
            parts.append(f"{method} {100 * ece:.2f}: {verdict} ({ratio:.2f} x mlp)")
    return "; ".join(parts)


def plot(curves, path):
    """Reliability diagrams of :data:`_common.FIGURE_SEED`, one panel per dataset."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not curves:
        return
    fig, axes = plt.subplots(1, len(curves), figsize=(5 * len(curves), 4.5))
    for ax, (dataset, by_method) in zip(np.atleast_1d(axes), curves.items()):
        ax.plot([0, 1], [0, 1], ":", color="gray")
        for method, (confidence, accuracy, (ece,)) in by_method.items():
            label = f"{method} (ECE {100 * ece:.1f})"
            ax.plot(confidence, accuracy, "o-", label=label)
        ax.set(title=dataset, xlabel="confidence", ylabel="accuracy")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def main(argv=None):
    parser = _common.benchmark_parser(
        __doc__, ["digits", "letter"], METHODS, "digits, seed 0"
    )
    args = parser.parse_args(argv)
    if args.quick:
        args.datasets, args.seeds = ["digits"], [0]
    stem, log = _common.open_log(
        args, "calibration", ("dataset", "method", "seed", "metric")
    )
    curves = {}
    for dataset in args.datasets:
        data = split(*DATASETS[dataset]())
        for method in args.methods:
            for seed in args.seeds:
                run_one(log, dataset, data, method, seed, curves)
    _common.write_text(stem.with_suffix(".md"), summarize(log.rows))
    _common.save_figures(plot, curves, stem, METHODS)


if __name__ == "__main__":
    main()
