"""Tabular novelty detection: EnergyDensityEstimator against sklearn detectors.

The semi-supervised protocol of ADBench and DTE, ``sk_ebm.datasets.novelty_split``:
for each data set of ``sk_ebm.datasets.NOVELTY_DATASETS`` and each seed, train on
a random half of the inliers (the seed draws the half), test on the other half
plus every anomaly, all standardized with the training rows' mean and standard
deviation. AUROC of ``score_samples`` with the inliers as the positive class
(``sk_ebm.metrics.ood_auroc``).

Baselines, fitted on the same standardized rows:

* ``knn``: minus the distance to the 5th nearest training row;
* ``isolation-forest``: ``IsolationForest(random_state=seed)``;
* ``lof``: ``LocalOutlierFactor(n_neighbors=20, novelty=True)``;
* ``ocsvm``: ``OneClassSVM(kernel="rbf", gamma="scale", nu=0.5)``; on
  standardized rows ``gamma="scale"`` is 1 / n_features; nu=0.5 is sklearn's
  and PyOD's default (ADBench runs PyOD's defaults);
* ``kde``: ``KernelDensity`` with a Gaussian kernel and Scott's rule,
  bandwidth n ** (-1 / (d + 4)) (sklearn's ``bandwidth="scott"``; the rows
  have unit variance, so no scale factor is needed);
* ``gmm-bic``: ``GaussianMixture`` with full covariances and 1 to 5
  components, the number with the lowest BIC on the training rows;
* ``gaussian``: one Gaussian, ``GaussianMixture(1)``.

EBM methods are named ``ebm-<training>`` and build
``EnergyDensityEstimator(training=<training>, random_state=seed)``, every other
parameter at its default, unless suffixes ask for more (``EBM_VARIANTS``:
``ebm-pcd+gaussian+noes`` is PCD with ``base="gaussian"`` and
``early_stopping=False``, the defaults before the kernel base;
``ebm-pcd+es`` stops early with 10 epochs' patience instead of the default 30);
``ebm-pcd``, ``ebm-short_run`` and ``ebm-vera`` run
by default, any other ``--methods ebm-<name>`` (e.g. ``ebm-dsm``) is passed on
as is. A fit that raises is logged with its error instead of a value, and a
training value the estimator refuses stops that method only.

    python benchmarks/novelty.py [--heldout] [--quick] [--datasets wine pima ...]
        [--seeds 0 1 2 3 4] [--methods knn kde ebm-pcd ...] [--fresh]

``--heldout`` runs ``sk_ebm.datasets.NOVELTY_HELDOUT_DATASETS`` instead, sets
never used to choose defaults, and logs to ``novelty_heldout``; ``--datasets``
then names held-out sets.

Appends one JSON line per (dataset, method, seed) to
benchmarks/results/novelty.jsonl (``novelty_heldout`` with ``--heldout``, then
``_quick`` with ``--quick``), then prints the tables of every row there and
writes them beside (``.md``) with a figure of the per-data-set AUROCs (``.png``).
"""

import sys
import warnings
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import numpy as np  # noqa: E402
from scipy.stats import rankdata  # noqa: E402
from sklearn.ensemble import IsolationForest  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from sklearn.neighbors import (  # noqa: E402
    KernelDensity,
    LocalOutlierFactor,
    NearestNeighbors,
)
from sklearn.svm import OneClassSVM  # noqa: E402
from sklearn.utils._param_validation import InvalidParameterError  # noqa: E402

from sk_ebm import EnergyDensityEstimator  # noqa: E402
from sk_ebm.datasets import (  # noqa: E402
    NOVELTY_DATASETS,
    NOVELTY_HELDOUT_DATASETS,
    load_novelty,
    novelty_split,
)
from sk_ebm.metrics import ood_auroc  # noqa: E402

N_NEIGHBORS = 5
MAX_COMPONENTS = 5
EBM_PREFIX = "ebm-"
DEFAULT_EBM_METHODS = ("ebm-pcd", "ebm-short_run", "ebm-vera")
SEEDS = (0, 1, 2, 3, 4)
#: The data sets --quick runs, for the suite and with --heldout.
QUICK_DATASETS = {False: ["wine", "breast_cancer"], True: ["sonar", "bupa"]}


def fit_knn(X, seed):
    """Score = minus the distance to the ``N_NEIGHBORS``-th training row."""
    neighbors = NearestNeighbors(n_neighbors=N_NEIGHBORS).fit(X)
    return lambda X_new: -neighbors.kneighbors(X_new)[0][:, -1]


def fit_isolation_forest(X, seed):
    return IsolationForest(random_state=seed).fit(X).score_samples


def fit_lof(X, seed):
    return LocalOutlierFactor(n_neighbors=20, novelty=True).fit(X).score_samples


def fit_ocsvm(X, seed):
    return OneClassSVM(kernel="rbf", gamma="scale", nu=0.5).fit(X).score_samples


def fit_kde(X, seed):
    return KernelDensity(bandwidth="scott").fit(X).score_samples


def fit_gmm_bic(X, seed):
    """Full-covariance mixtures of 1 to ``MAX_COMPONENTS``; the lowest BIC wins."""
    mixtures = [
        GaussianMixture(k, random_state=seed).fit(X)
        for k in range(1, MAX_COMPONENTS + 1)
    ]
    return min(mixtures, key=lambda mixture: mixture.bic(X)).score_samples


def fit_gaussian(X, seed):
    return GaussianMixture(1, random_state=seed).fit(X).score_samples


BASELINES = {
    "knn": fit_knn,
    "isolation-forest": fit_isolation_forest,
    "lof": fit_lof,
    "ocsvm": fit_ocsvm,
    "kde": fit_kde,
    "gmm-bic": fit_gmm_bic,
    "gaussian": fit_gaussian,
}


#: Suffixes of an EBM method's name -> the parameters they set, e.g.
#: ``ebm-pcd+gaussian+noes``: PCD on the Gaussian base, without early stopping
#: (the defaults before ``base="auto"`` and ``early_stopping="auto"``).
EBM_VARIANTS = {
    "kde": {"base": "kde"},
    "gaussian": {"base": "gaussian"},
    "es": {"early_stopping": True, "n_iter_no_change": 10},
    "es30": {"early_stopping": True, "n_iter_no_change": 30},
    # Patience as long as the default max_iter: train to the end, keep the best.
    "es100": {"early_stopping": True, "n_iter_no_change": 100},
    "noes": {"early_stopping": False},
    "relu": {"activation": "relu"},
    # The activation before activation="auto" (2026-12-04).
    "silu": {"activation": "silu"},
    # The chains' init before the resampled base (2026-12-04, later).
    "diag_init": {"sampler_params": {"init": "diag_gaussian"}},
    "base_init": {"sampler_params": {"init": "base"}},
    # VERA's negatives from its generator alone, as before 2026-12-05.
    "gen_negatives": {"generator_params": {"base_negatives": 0.0}},
}


def fit_ebm(name, X, seed):
    """``name`` is ``<training>`` with optional ``+<variant>`` suffixes."""
    training, *variants = name.split("+")
    params = {}
    for variant in variants:
        params.update(EBM_VARIANTS[variant])
    model = EnergyDensityEstimator(
        training=training, device="cpu", random_state=seed, **params
    )
    return model.fit(X).score_samples


def fit_method(method, X, seed):
    """Fit ``method`` on ``X``; return its ``score_samples`` (higher = normal)."""
    if method.startswith(EBM_PREFIX):
        return fit_ebm(method.removeprefix(EBM_PREFIX), X, seed)
    return BASELINES[method](X, seed)


def run_one(method, split, seed):
    """Fit and score one method on one split; return the fields of its row.

    Warnings raised during the fit are recorded by category (ConvergenceWarning
    on EBMs is part of what the issue measures), not printed.
    """
    with warnings.catch_warnings(record=True) as caught, _common.Timer() as fit:
        warnings.simplefilter("always")
        score = fit_method(method, split.X_train, seed)
    with _common.Timer() as scoring:
        scores = score(split.X_test)
    is_inlier = split.y_test == 1
    return {
        "value": ood_auroc(scores[is_inlier], scores[~is_inlier]),
        "seconds": fit.seconds,
        "score_seconds": scoring.seconds,
        "warnings": sorted({w.category.__name__ for w in caught}),
    }


def run(log, datasets, methods, seeds):
    """Every (dataset, seed, method); EBM fits that raise become error rows."""
    refused = set()
    for dataset in datasets:
        X, y = load_novelty(dataset, return_X_y=True)
        for seed in seeds:
            split = novelty_split(X, y, seed=seed)
            sizes = {
                "n_train": len(split.X_train),
                "n_test_inliers": int(split.y_test.sum()),
                "n_test_anomalies": int((split.y_test == 0).sum()),
            }
            for method in [m for m in methods if m not in refused]:
                key = {"dataset": dataset, "method": method, "seed": seed}
                try:
                    result = run_one(method, split, seed)
                # A long run should survive one EBM fit that fails (a divergence
                # the estimator gives up on, a training value it refuses): the
                # error is the result. Baselines failing would be a bug here.
                except Exception as error:
                    if not method.startswith(EBM_PREFIX):
                        raise
                    message = f"{type(error).__name__}: {error}"
                    log.add(**key, metric="auroc", value=None, error=message, **sizes)
                    if isinstance(error, InvalidParameterError):
                        refused.add(method)
                    continue
                log.add(**key, metric="auroc", **result, **sizes)


# --------------------------------------------------------------------------------------
# Tables and figure
# --------------------------------------------------------------------------------------


def method_order(rows):
    """Baselines in their fixed order, then the default EBMs, then other EBMs."""
    present = {r["method"] for r in rows}
    known = [*BASELINES, *DEFAULT_EBM_METHODS]
    others = sorted(present - set(known))
    return [m for m in known if m in present] + others


def dataset_order(rows):
    present = {r["dataset"] for r in rows}
    return [d for d in (*NOVELTY_DATASETS, *NOVELTY_HELDOUT_DATASETS) if d in present]


def aurocs(rows, dataset, method):
    """AUROC of every successful fit of ``method`` on ``dataset``, by seed."""
    return {
        r["seed"]: r["value"]
        for r in rows
        if (r["dataset"], r["method"]) == (dataset, method) and r["value"] is not None
    }


def mean_ranks(rows, datasets, methods):
    """Mean over data sets of each method's rank (1 = best mean AUROC).

    Methods without any AUROC (every fit failed) are not ranked. Only data sets
    where every ranked method has at least one AUROC count, so that the ranks
    compare the same tasks; ties share the mean of their ranks.

    Returns
    -------
    ranks : dict of str to float
        The ranked methods' mean ranks.
    n_datasets : int
        How many data sets were ranked.
    """
    ranked_methods = [m for m in methods if any(aurocs(rows, d, m) for d in datasets)]
    ranks = []
    for dataset in datasets:
        by_method = [aurocs(rows, dataset, m) for m in ranked_methods]
        if all(by_method):
            means = [np.mean(list(values.values())) for values in by_method]
            ranks.append(rankdata(-np.array(means)))
    if not ranks:
        return {}, 0
    return dict(zip(ranked_methods, np.mean(ranks, axis=0))), len(ranks)


def _seed_list(seeds):
    seeds = sorted(seeds)
    if len(seeds) > 2 and seeds == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}-{seeds[-1]}"
    return ",".join(str(s) for s in seeds)


def per_dataset_table(rows, datasets, methods):
    """AUROC % per data set (rows) and method (columns), mean ± std over seeds."""
    cells = []
    for dataset in datasets:
        line = [dataset]
        for method in methods:
            values = list(aurocs(rows, dataset, method).values())
            failed = any(
                r.get("error")
                for r in rows
                if (r["dataset"], r["method"]) == (dataset, method)
            )
            cell = _common.mean_std(values) if values else ""
            line.append(cell + (" (failed fits)" if failed else ""))
        cells.append(line)
    return _common.markdown_table(["dataset", *methods], cells)


def summary_table(rows, datasets, methods):
    """One line per method: suite mean, mean rank, inversions, failures, time."""
    ranks, n_ranked = mean_ranks(rows, datasets, methods)
    cells = []
    for method in methods:
        mine = [r for r in rows if r["method"] == method]
        fitted = [r for r in mine if r["value"] is not None]
        dataset_means = [
            np.mean(list(aurocs(rows, d, method).values()))
            for d in datasets
            if aurocs(rows, d, method)
        ]
        cells.append(
            [
                method,
                f"{100 * np.mean(dataset_means):.1f}" if dataset_means else "",
                f"{ranks[method]:.2f}" if method in ranks else "",
                sum(r["value"] < 0.5 for r in fitted),
                len(mine) - len(fitted),
                f"{np.mean([r['seconds'] for r in fitted]):.2f}" if fitted else "",
                f"{len(dataset_means)}/{len(datasets)}",
                _seed_list({r["seed"] for r in mine}),
            ]
        )
    header = [
        "method",
        "mean AUROC %",
        f"mean rank ({n_ranked} sets)",
        "fits < 50 %",
        "failed fits",
        "fit seconds (mean)",
        "data sets",
        "seeds",
    ]
    return _common.markdown_table(header, cells)


def errors_list(rows):
    """One line per distinct (method, error) with the fits it hit."""
    by_error = {}
    for r in rows:
        if r.get("error"):
            by_error.setdefault((r["method"], r["error"]), []).append(
                f"{r['dataset']}/{r['seed']}"
            )
    return [
        f"- {method}: {error} ({', '.join(fits)})"
        for (method, error), fits in sorted(by_error.items())
    ]


def summarize(rows):
    datasets, methods = dataset_order(rows), method_order(rows)
    parts = [
        "AUROC % (inliers positive), mean ± std over seeds; train on half the "
        "inliers, test on the other half plus all anomalies, standardized on the "
        "training rows (`benchmarks/novelty.py`). The mean AUROC averages the "
        "per-data-set means; ranks use the data sets where every method has a "
        "value; 'fits < 50 %' counts (data set, seed) pairs.",
        "### Summary",
        summary_table(rows, datasets, methods),
        "### Per data set",
        per_dataset_table(rows, datasets, methods),
    ]
    errors = errors_list(rows)
    if errors:
        parts += ["### Failed fits", "\n".join(errors)]
    return "\n\n".join(parts)


def plot(rows, path):
    """Mean AUROC (± std over seeds) per data set, one marker series per method."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    datasets, methods = dataset_order(rows), method_order(rows)
    if not datasets:
        return
    fig, ax = plt.subplots(figsize=(max(8, 1.1 * len(datasets) + 2), 4.5))
    width = 0.8 / len(methods)
    markers = "os^vD<>ph*Xd"
    for i, method in enumerate(methods):
        offset = (i - (len(methods) - 1) / 2) * width
        stats = [list(aurocs(rows, d, method).values()) for d in datasets]
        x = [j + offset for j, values in enumerate(stats) if values]
        means = [np.mean(values) for values in stats if values]
        stds = [np.std(values) for values in stats if values]
        ebm = method.startswith(EBM_PREFIX)
        ax.errorbar(
            x,
            means,
            yerr=stds,
            fmt=markers[i % len(markers)],
            markersize=6 if ebm else 4,
            markerfacecolor=None if ebm else "none",
            capsize=0,
            linewidth=0.8,
            label=method,
        )
    ax.axhline(0.5, color="grey", linewidth=0.8, linestyle=":")
    ax.set_xticks(range(len(datasets)), datasets, rotation=30, ha="right")
    ax.set_ylabel("AUROC (inliers positive)")
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.0)
    ax.set_title("Novelty detection, train on half the inliers (mean ± std over seeds)")
    ax.legend(fontsize=8, ncol=2, loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _ebm_name_ok(method):
    """An EBM method whose suffixes are all known variants."""
    if not method.startswith(EBM_PREFIX):
        return False
    return all(v in EBM_VARIANTS for v in method.split("+")[1:])


def main(argv=None):
    methods = [*BASELINES, *DEFAULT_EBM_METHODS]
    parser = _common.benchmark_parser(
        __doc__,
        NOVELTY_DATASETS,
        methods,
        "wine and breast_cancer (sonar and bupa with --heldout), seed 0",
    )
    parser.add_argument(
        "--heldout",
        action="store_true",
        help="run the held-out sets (NOVELTY_HELDOUT_DATASETS), log novelty_heldout",
    )
    # None until parsed: the default depends on --heldout.
    parser.set_defaults(seeds=list(SEEDS), datasets=None)
    args = parser.parse_args(argv)
    group = NOVELTY_HELDOUT_DATASETS if args.heldout else NOVELTY_DATASETS
    if args.datasets is None:
        args.datasets = list(group)
    unknown = [m for m in args.methods if m not in BASELINES and not _ebm_name_ok(m)]
    if unknown:
        parser.error(
            f"unknown methods {unknown}: use {', '.join(BASELINES)} or "
            f"{EBM_PREFIX}<training>[+{'|+'.join(EBM_VARIANTS)}...]"
        )
    unknown = sorted(set(args.datasets) - set(group))
    if unknown:
        other = "without" if args.heldout else "with"
        parser.error(
            f"unknown datasets {unknown}: use {', '.join(group)} "
            f"(or run {other} --heldout)"
        )
    if args.quick:
        args.datasets, args.seeds = QUICK_DATASETS[args.heldout], [0]
    name = "novelty_heldout" if args.heldout else "novelty"
    stem, log = _common.open_log(args, name, ("dataset", "method", "seed"))
    run(log, args.datasets, args.methods, args.seeds)
    _common.write_text(stem.with_suffix(".md"), summarize(log.rows))
    plot(log.rows, stem.with_suffix(".png"))


if __name__ == "__main__":
    main()
