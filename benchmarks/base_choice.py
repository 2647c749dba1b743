"""Which base should ``base="auto"`` take? Rules for it, on the bases alone.

``EnergyDensityEstimator`` corrects a base distribution fitted to the training
rows, and with early stopping on a small table the fit often keeps an early
epoch: the model is then nearly its base. This script scores the two bases
without a network, on the novelty suite and the held-out sets
(``novelty.py``'s protocol and splits), and the rules that choose between them:

* ``gaussian``: one Gaussian, ``GaussianMixture(1, reg_covar=1e-3)``;
* ``kde``: ``KernelDensity`` with Scott's bandwidth (the kernel base's);
* ``kde-whitened``: the same on rows whitened by their Ledoit-Wolf
  covariance, so each kernel has the data's covariance (as
  ``scipy.stats.gaussian_kde``'s kernels do): a candidate base, not a rule;
* ``likelihood``: the base with the higher mean log-likelihood on held-out
  rows, 5-fold cross-validation on the training rows (at most 3,000 of them);
* ``rows-per-feature``: ``kde`` with at least
  ``MIN_ROWS_PER_FEATURE_KERNEL_BASE`` training rows per feature, else
  ``gaussian`` (the rule of ``base="auto"``).

    python benchmarks/base_choice.py [--seeds 0 1 2 3 4] [--datasets wine ...] [--fresh]

Writes one JSON line per (dataset, method, seed) to
benchmarks/results/base_choice.jsonl and the per-data-set table to
base_choice.md.
"""

import argparse
import sys
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402
from scipy.linalg import solve_triangular  # noqa: E402
from sklearn.base import BaseEstimator, TransformerMixin  # noqa: E402
from sklearn.covariance import LedoitWolf  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from sklearn.model_selection import KFold  # noqa: E402
from sklearn.neighbors import KernelDensity  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402

from sk_ebm.datasets import (  # noqa: E402
    NOVELTY_DATASETS,
    NOVELTY_HELDOUT_DATASETS,
    load_novelty,
    novelty_split,
)
from sk_ebm.density import MIN_ROWS_PER_FEATURE_KERNEL_BASE  # noqa: E402
from sk_ebm.metrics import ood_auroc  # noqa: E402

BASES = {
    "gaussian": lambda: GaussianMixture(1, reg_covar=1e-3, random_state=0),
    "kde": lambda: KernelDensity(bandwidth="scott"),
}
METHODS = ("gaussian", "kde", "kde-whitened", "likelihood", "rows-per-feature")
#: The methods that choose between ``BASES``.
RULES = METHODS[3:]
MAX_CV_ROWS = 3000


def cv_log_likelihood(make, X, seed):
    """Mean held-out log-likelihood of ``make()`` over 5 folds of ``X``.

    Per row: ``KernelDensity.score`` sums, ``GaussianMixture.score`` averages.
    """
    folds = KFold(5, shuffle=True, random_state=seed).split(X)
    return np.mean(
        [make().fit(X[fit]).score_samples(X[held]).mean() for fit, held in folds]
    )


class Whitener(TransformerMixin, BaseEstimator):
    """Rows minus their mean, times the inverse Cholesky factor of their
    Ledoit-Wolf covariance (a constant log-Jacobian: AUROC is unchanged)."""

    def fit(self, X, y=None):
        covariance = LedoitWolf().fit(X)
        self.mean_ = covariance.location_
        self.cholesky_ = np.linalg.cholesky(covariance.covariance_)
        return self

    def transform(self, X):
        centered = (X - self.mean_).T
        return solve_triangular(self.cholesky_, centered, lower=True).T


def whitened_kde():
    return make_pipeline(Whitener(), KernelDensity(bandwidth="scott"))


def choices(X_train, seed):
    """The base each rule picks for these training rows."""
    rows = np.random.default_rng(seed).permutation(len(X_train))[:MAX_CV_ROWS]
    ll = {
        name: cv_log_likelihood(make, X_train[rows], seed)
        for name, make in BASES.items()
    }
    n_rows, n_features = X_train.shape
    enough = n_rows >= MIN_ROWS_PER_FEATURE_KERNEL_BASE * n_features
    return {
        "gaussian": "gaussian",
        "kde": "kde",
        "kde-whitened": "kde-whitened",
        "likelihood": max(ll, key=ll.get),
        "rows-per-feature": "kde" if enough else "gaussian",
    }


def run(log, datasets, seeds):
    for dataset in datasets:
        X, y = load_novelty(dataset, return_X_y=True)
        for seed in seeds:
            split = novelty_split(X, y, seed=seed)
            is_inlier = split.y_test == 1
            auroc = {}
            candidates = {**BASES, "kde-whitened": whitened_kde}
            for name, make in candidates.items():
                scores = make().fit(split.X_train).score_samples(split.X_test)
                auroc[name] = ood_auroc(scores[is_inlier], scores[~is_inlier])
            for method, base in choices(split.X_train, seed).items():
                log.add(
                    dataset=dataset,
                    method=method,
                    seed=seed,
                    base=base,
                    value=auroc[base],
                    heldout=dataset in NOVELTY_HELDOUT_DATASETS,
                )


def table(rows):
    """Per-data-set mean AUROC % (and the base picked), then the two means."""
    lines = [
        "| dataset | " + " | ".join(METHODS) + " |",
        "|---" * (len(METHODS) + 1) + "|",
    ]
    means = {False: {m: [] for m in METHODS}, True: {m: [] for m in METHODS}}
    for dataset in dict.fromkeys(row["dataset"] for row in rows):
        cells = []
        for method in METHODS:
            own = [r for r in rows if (r["dataset"], r["method"]) == (dataset, method)]
            value = 100 * np.mean([r["value"] for r in own])
            picked = sorted({r["base"] for r in own})
            means[own[0]["heldout"]][method].append(value)
            tag = f" ({'/'.join(picked)})" if method in RULES else ""
            cells.append(f"{value:.1f}{tag}")
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    for heldout, label in ((False, "suite mean"), (True, "held-out mean")):
        if means[heldout]["kde"]:
            cells = [f"**{np.mean(means[heldout][m]):.1f}**" for m in METHODS]
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv=None):
    datasets = list(NOVELTY_DATASETS) + list(NOVELTY_HELDOUT_DATASETS)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=datasets)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--fresh", action="store_true", help="empty the results file")
    parser.add_argument("--out", type=Path, default=_common.RESULTS)
    args = parser.parse_args(argv)
    log = _common.ResultLog(
        args.out / "base_choice.jsonl", ("dataset", "method", "seed"), args.fresh
    )
    run(log, args.datasets, args.seeds)
    text = (
        "AUROC % of the base alone (inliers positive), mean over seeds "
        f"{', '.join(map(str, sorted({r['seed'] for r in log.rows})))}; "
        "in brackets the bases a rule picked (`benchmarks/base_choice.py`).\n\n"
        + table(log.rows)
    )
    _common.write_text(args.out / "base_choice.md", text)


if __name__ == "__main__":
    main()
