"""What the benchmark scripts share: results files, tables, baseline models.

Not part of the package: the scripts import it from their own folder.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.base import BaseEstimator, ClassifierMixin, clone  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def single_thread():
    """One torch thread: two are sometimes 100x slower on 2-core machines."""
    torch.set_num_threads(1)


class ResultLog:
    """JSON lines of measurements, appended as they come.

    Runs of one benchmark can be split (one dataset now, another later, or in
    two processes): each appends to the same file, and :attr:`rows` keeps the
    latest row per ``key``.

    Parameters
    ----------
    path : Path
        The ``.jsonl`` file.
    key : tuple of str
        The fields that name one measurement, e.g. dataset, method, seed.
    fresh : bool
        Start the file empty instead of appending to it.
    """

    def __init__(self, path, key, fresh=False):
        path.parent.mkdir(parents=True, exist_ok=True)
        if fresh or not path.exists():
            path.write_text("")
        self.path = path
        self.key = key
        self._rows = {}
        for line in path.read_text().splitlines():
            if line.strip():
                self._keep(json.loads(line))

    def _keep(self, row):
        self._rows[tuple(row.get(k) for k in self.key)] = row

    @property
    def rows(self):
        return list(self._rows.values())

    def add(self, **row):
        self._keep(row)
        with open(self.path, "a") as f:
            f.write(json.dumps(row) + "\n")
        print(json.dumps(row), flush=True)


def benchmark_parser(doc, datasets, methods, quick_help):
    """The options every quality benchmark shares; add its own, then parse."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(datasets))
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--methods", nargs="+", default=list(methods))
    parser.add_argument("--quick", action="store_true", help=quick_help)
    parser.add_argument("--fresh", action="store_true", help="empty the results file")
    parser.add_argument("--out", type=Path, default=RESULTS)
    return parser


def open_log(args, name, key):
    """One thread, and the result log of ``name`` (``name_quick`` with --quick).

    Returns
    -------
    stem : Path
        The results path without suffix, for the ``.md`` and ``.png`` files.
    log : ResultLog
    """
    single_thread()
    stem = args.out / (f"{name}_quick" if args.quick else name)
    return stem, ResultLog(stem.with_suffix(".jsonl"), key, args.fresh)


#: The seed whose scores the figures of ``ood.py`` and ``calibration.py`` show:
#: one seed, whichever others a run adds to the tables.
FIGURE_SEED = 0


def save_figures(plot, by_dataset, stem, methods):
    """``plot({dataset: data}, path)`` once per dataset, to ``<stem>_<dataset>.png``.

    One figure per dataset, so that a run of one dataset keeps the others'.
    ``data`` maps a method to a tuple of arrays; they are kept beside the
    figure (``<stem>_<dataset>.npz``, float32) and merged with this run's, so
    that a run of some methods redraws the figure with every method that has
    data, not only its own. Callers pass the data of :data:`FIGURE_SEED`
    only, so a method keeps that seed's data from its last run with it; those
    not in ``methods`` (renamed or removed) are dropped, and the panels follow
    the order of ``methods``.
    """
    for dataset, data in by_dataset.items():
        path = stem.parent / f"{stem.name}_{dataset}"
        merged = {**load_figure_data(path.with_suffix(".npz")), **data}
        merged = {m: merged[m] for m in methods if m in merged}
        arrays = {
            f"{method}/{i}": np.asarray(array, dtype=np.float32)
            for method, tuple_ in merged.items()
            for i, array in enumerate(tuple_)
        }
        np.savez_compressed(path.with_suffix(".npz"), **arrays)
        plot({dataset: merged}, path.with_suffix(".png"))


def load_figure_data(path):
    """``{method: (array, ...)}`` as :func:`save_figures` wrote it; {} if none."""
    if not path.exists():
        return {}
    with np.load(path) as stored:
        keys = sorted(stored.files, key=lambda k: int(k.rsplit("/", 1)[1]))
        data = {}
        for key in keys:
            method = key.rsplit("/", 1)[0]
            data[method] = (*data.get(method, ()), stored[key])
    return data


class Timer:
    """``with Timer() as t: ...`` then ``t.seconds``."""

    def __enter__(self):
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = round(time.perf_counter() - self.start, 2)


def split_alpha(method):
    """``(name, alpha)`` of a JEM method name that may end in ``-alpha<w>``.

    ``"jem-pcd-raw-alpha0.05"`` gives ``("jem-pcd-raw", 0.05)``; without the
    suffix, ``alpha`` is ``"auto"``.
    """
    name, _, weight = method.partition("-alpha")
    return name, float(weight) if weight else "auto"


def mean_std(values, scale=100.0, decimals=1):
    """``"mean ± std"`` of ``values * scale`` (std over seeds, ddof=0)."""
    values = scale * np.asarray(values, dtype=float)
    if len(values) == 1:
        return f"{values[0]:.{decimals}f}"
    return f"{values.mean():.{decimals}f} ± {values.std():.{decimals}f}"


def values_of(rows, method, metric):
    """The ``value`` of every row of ``method`` and ``metric``."""
    return [r["value"] for r in rows if (r["method"], r["metric"]) == (method, metric)]


def methods_in(rows, order):
    """The methods of ``order`` that have rows, in that order."""
    return [m for m in order if any(r["method"] == m for r in rows)]


def markdown_table(header, rows):
    """A Markdown table from a header list and rows of cells."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def write_text(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n")
    print(text)


class LabeledOnly(ClassifierMixin, BaseEstimator):
    """Fits a supervised ``estimator`` on the rows whose label is not -1.

    The semi-supervised benchmark hands every model the same ``y`` with -1 on
    unlabeled rows; supervised baselines see only the labeled ones.
    """

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, X, y):
        labeled = np.asarray(y) != -1
        self.estimator_ = clone(self.estimator).fit(X[labeled], y[labeled])
        self.classes_ = self.estimator_.classes_
        return self

    def predict(self, X):
        return self.estimator_.predict(X)

    def predict_proba(self, X):
        return self.estimator_.predict_proba(X)


def logistic_regression(seed):
    return LogisticRegression(max_iter=2000, random_state=seed)


def mlp(seed):
    return MLPClassifier(max_iter=1000, random_state=seed)


def hist_gradient_boosting(seed):
    return HistGradientBoostingClassifier(random_state=seed)


def skorch_mlp(seed, n_features, n_classes):
    """A two-hidden-layer torch MLP trained by skorch (expects standardized X).

    Labels must be the integers ``0 .. n_classes - 1`` (skorch's cross-entropy
    takes them as indices).
    """
    from sklearn.preprocessing import FunctionTransformer
    from skorch import NeuralNetClassifier

    torch.manual_seed(seed)
    net = NeuralNetClassifier(
        SkorchMLP,
        module__n_features=n_features,
        module__n_classes=n_classes,
        criterion=torch.nn.CrossEntropyLoss,
        optimizer=torch.optim.Adam,
        lr=1e-3,
        max_epochs=100,
        batch_size=64,
        train_split=None,
        verbose=0,
        device="cpu",
    )
    return make_pipeline(FunctionTransformer(_float32), net)


def _float32(X):
    return np.asarray(X, dtype=np.float32)


class SkorchMLP(torch.nn.Module):
    """Two hidden layers of 256: the default JEMClassifier network, CE only."""

    def __init__(self, n_features, n_classes, hidden=256):
        super().__init__()
        self.layers = torch.nn.Sequential(
            torch.nn.Linear(n_features, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, hidden),
            torch.nn.ReLU(),
            torch.nn.Linear(hidden, n_classes),
        )

    def forward(self, X):
        return self.layers(X)
