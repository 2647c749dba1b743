"""
Grid search on a local dask cluster
===================================

A :class:`~sklearn.model_selection.GridSearchCV` over a ``JEMClassifier``
pipeline on sklearn's digits, its fits sent to two local worker processes
through joblib's dask backend. Because every fit draws its randomness from the
estimator's own generator, seeded by ``random_state``, the scores equal those
of a serial run, which this example checks for the best setting.

The grid varies ``alpha``, the weight of the generative ``log p(x)`` term
(``alpha=0`` is a plain classifier trained with cross-entropy), and the width of
the network. The figure is saved to ``$SK_EBM_FIGURE_DIR`` (default
``examples/figures``) or to the directory given as the first argument.

Runs in under a minute on two CPU cores. Worker processes are spawned, so the
script needs its ``__main__`` guard; dask is an optional dependency:
``pip install "dask[distributed]"``.
"""

# %%
# Imports. One torch thread per process: the cluster's workers get
# ``OMP_NUM_THREADS=1`` from dask, and the main process sets it here.
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from distributed import Client, LocalCluster  # noqa: E402
from joblib import parallel_config  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import GridSearchCV, cross_val_score  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402

# %%
# The search: 3 values of ``alpha`` x 2 widths x 3 folds = 18 short fits.
ALPHAS = [0.0, 0.1, 1.0]
WIDTHS = [32, 128]
CV = 3


def make_model():
    """A small, fast JEM behind a scaler."""
    jem = JEMClassifier(
        max_iter=6, n_steps=5, learning_rate=3e-3, device="cpu", random_state=0
    )
    return make_pipeline(StandardScaler(), jem)


def make_search():
    """GridSearchCV over ``alpha`` and the hidden width."""
    grid = {
        "jemclassifier__alpha": ALPHAS,
        "jemclassifier__hidden_dims": [(w,) for w in WIDTHS],
    }
    # refit=False: the figure needs the scores only, not a refitted model.
    return GridSearchCV(make_model(), grid, cv=CV, refit=False)


def search_on_dask(X, y):
    """The fitted search, its fits run by two local worker processes."""
    with (
        LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        Client(cluster),
        parallel_config(backend="dask"),
    ):
        return make_search().fit(X, y)


def rescore_serially(search, X, y, index):
    """Fold scores of candidate ``index``, cross-validated again in this process."""
    model = make_model().set_params(**search.cv_results_["params"][index])
    return cross_val_score(model, X, y, cv=CV)


# %%
# The plot: mean cross-validated accuracy of each setting, with the range of
# its folds.


def plot_results(search, path):
    """Bars of mean CV accuracy per (alpha, width), saved to ``path``."""
    results = search.cv_results_
    folds = np.stack([results[f"split{k}_test_score"] for k in range(CV)], axis=1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bar = 0.8 / len(WIDTHS)
    for j, width in enumerate(WIDTHS):
        rows = [
            i
            for i, p in enumerate(results["params"])
            if p["jemclassifier__hidden_dims"] == (width,)
        ]
        rows.sort(key=lambda i: results["params"][i]["jemclassifier__alpha"])
        x = np.arange(len(rows)) + (j - (len(WIDTHS) - 1) / 2) * bar
        mean = 100 * results["mean_test_score"][rows]
        low = mean - 100 * folds[rows].min(axis=1)
        high = 100 * folds[rows].max(axis=1) - mean
        ax.bar(x, mean, bar, yerr=[low, high], capsize=3, label=f"width {width}")
    ax.set_xticks(np.arange(len(ALPHAS)), [f"alpha={a:g}" for a in ALPHAS])
    ax.set_ylabel("CV accuracy (%)")
    ax.set_ylim(80, 100)
    ax.set_title("JEMClassifier on digits, grid search on 2 dask workers")
    ax.legend(loc="upper right")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


# %%
# Run it, and cross-validate the best setting once more, serially: its fold
# scores must equal the cluster's exactly (``tests/test_dask.py`` checks whole
# grids).


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    out_dir = Path(
        argv[0] if argv else os.environ.get("SK_EBM_FIGURE_DIR", "examples/figures")
    )
    X, y = load_digits(return_X_y=True)
    start = time.perf_counter()
    search = search_on_dask(X, y)
    print(f"grid search on 2 dask workers: {time.perf_counter() - start:.1f} s")
    best = int(np.argmin(search.cv_results_["rank_test_score"]))
    on_dask = [search.cv_results_[f"split{k}_test_score"][best] for k in range(CV)]
    serial = rescore_serially(search, X, y, best)
    print(f"best: {search.cv_results_['params'][best]}")
    print(f"fold accuracies on dask {np.round(on_dask, 4)}, serial {serial.round(4)}")
    print(f"identical: {np.array_equal(on_dask, serial)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "plot_dask_search.png"
    plot_results(search, path)
    print(f"figure: {path}")


if __name__ == "__main__":
    main()
