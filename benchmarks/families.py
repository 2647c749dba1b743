"""Every training family side by side: speed, 2-D toys, novelty and digits SSL.

The families are the keys of ``sk_ebm.families.FAMILIES`` (``pcd``,
``short_run``, ``vera``, ``sm``, ``ssm``, ``dsm``); every model is built with
``training=<family>``, ``device="cpu"``, ``random_state=seed`` and every other
parameter at its default unless a task says otherwise. Tasks (``--tasks``):

* ``speed``: ms per training iteration (one batch), the median over epochs of
  ``history_[i]["seconds"]`` divided by the batches per epoch, from fits of
  ``SPEED_EPOCHS`` epochs: ``EnergyDensityEstimator`` on the 2-D ring (2,000
  rows) and on digits (1,797 rows, 64 features), ``JEMClassifier`` on digits
  SSL (the split of the ``ssl`` task).
* ``toys``: the 2-D ring and 8 Gaussians of ``density_toys.py`` (2,000 training
  rows, 1,000 held-out rows, same draws), ``EnergyDensityEstimator`` with
  ``max_iter=--epochs``, and a ``KernelDensity`` with its bandwidth tuned by
  5-fold likelihood (``density_toys.kde``) fitted to the same rows:

  - ``auroc``: held-out rows against uniform background over the training
    rows' bounding box, ranked by ``score_samples``;
  - ``mmd_ratio``: squared MMD (``density_toys.mmd2``) of 1,000 samples against
    the held-out rows, divided by the same for 1,000 samples of the KDE;
  - ``loglik``: held-out mean normalized log-likelihood, ``score`` (``log Z``
    by the fit's AIS estimate, ``log_z_``), beside the KDE's mean
    ``score_samples``;
  - 8 Gaussians only: ``modes``, the number of the 8 modes with at least
    ``MODE_MIN_SAMPLES`` samples within 3 standard deviations (0.6) of it, and
    ``near_mode``, the share of samples within 3 standard deviations of their
    nearest mode.
* ``novelty``: ``novelty.py``'s protocol and its ``run`` (train on half the
  inliers, AUROC, inliers positive), methods ``ebm-<family>`` (defaults) with
  ``knn`` and ``kde`` as references; mean AUROC over the data sets and the
  number of (data set, seed) fits below 0.5.
* ``ssl``: digits, 10 labels per class (``semi_supervised_split``, label seed =
  seed, ``StandardScaler`` on all training rows), ``JEMClassifier`` test
  accuracy; the family is the p(x) term beside cross-entropy.

    python benchmarks/families.py [--quick] [--tasks speed toys novelty ssl]
        [--families pcd ssm ...] [--seeds 0 1 2] [--datasets wine pima ...]
        [--epochs 100] [--fresh]

``--tasks`` with no name rewrites the table from the results file.

``--datasets`` names the novelty task's data sets (default: all of
``NOVELTY_DATASETS``). ``--quick``: seed 0; toys at 30 epochs; novelty on
``QUICK_NOVELTY`` only; no ``sm`` in the SSL task unless ``--families`` names
it (exact score matching on 64 features costs 5 to 9 s per epoch: a skip row
says so).

Appends one JSON line per (task, data set, method, seed) to
``benchmarks/results/families.jsonl`` (``families_quick`` with ``--quick``),
then prints the table of every row there and writes it beside (``.md``).
"""

import sys
import warnings
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))

import _common  # noqa: E402
import density_toys  # noqa: E402
import novelty  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.metrics.pairwise import euclidean_distances  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

from sk_ebm import EnergyDensityEstimator, JEMClassifier  # noqa: E402
from sk_ebm.datasets import NOVELTY_DATASETS, semi_supervised_split  # noqa: E402
from sk_ebm.families import FAMILIES  # noqa: E402

TASKS = ("speed", "toys", "novelty", "ssl")
SPEED_EPOCHS = 3
QUICK_EPOCHS = 30
QUICK_NOVELTY = ("wine", "breast_cancer", "wisconsin", "ionosphere", "pima")
NOVELTY_REFERENCES = ("knn", "kde")
SSL_LABELS = 10
MODE_MIN_SAMPLES = 10
MODE_STD = 0.2  # density_toys.eight_gaussians: centers on a radius-2 circle
KEY = ("task", "dataset", "method", "seed")


def density(family, seed, **params):
    return EnergyDensityEstimator(
        training=family, device="cpu", random_state=seed, **params
    )


def jem(family, seed, **params):
    return JEMClassifier(training=family, device="cpu", random_state=seed, **params)


def ms_per_iteration(model):
    """Median over epochs of an epoch's seconds over its batches, in ms."""
    n_rows = model._fit_rows
    n_batches = int(np.ceil(n_rows / min(model.batch_size, n_rows)))
    seconds = [row["seconds"] for row in model.history_]
    return 1000 * float(np.median(seconds)) / n_batches


def _fit_quietly(model, X, y=None):
    with warnings.catch_warnings(record=True) as caught, _common.Timer() as t:
        warnings.simplefilter("always")
        model.fit(X) if y is None else model.fit(X, y)
    model._fit_rows = len(X)
    return t.seconds, sorted({w.category.__name__ for w in caught})


def _error_row(log, key, error):
    log.add(**key, value=None, error=f"{type(error).__name__}: {error}")


def digits_ssl_split(seed):
    X, y = load_digits(return_X_y=True)
    split = semi_supervised_split(
        X, y, n_labeled_per_class=SSL_LABELS, random_state=0, label_seed=seed
    )
    scaler = StandardScaler().fit(split.X_train)
    return (
        scaler.transform(split.X_train),
        split.y_train,
        scaler.transform(split.X_test),
        split.y_test,
    )


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------


def run_speed(log, families, seeds, args):
    ring = density_toys.ring(density_toys.N_TRAIN, np.random.default_rng(0))
    digits = load_digits().data
    for seed in seeds:
        X_ssl, y_ssl, _, _ = digits_ssl_split(seed)
        cases = {
            "ring": lambda f: (density(f, seed, max_iter=SPEED_EPOCHS), ring, None),
            "digits": lambda f: (
                density(f, seed, max_iter=SPEED_EPOCHS),
                digits,
                None,
            ),
            "digits-ssl": lambda f: (jem(f, seed, max_iter=SPEED_EPOCHS), X_ssl, y_ssl),
        }
        for dataset, make in cases.items():
            for family in families:
                key = {"task": "speed", "dataset": dataset, "method": family}
                key["seed"] = seed
                model, X, y = make(family)
                try:
                    seconds, caught = _fit_quietly(model, X, y)
                except Exception as error:
                    _error_row(log, key, error)
                    continue
                log.add(
                    **key,
                    metric="ms_per_iteration",
                    value=ms_per_iteration(model),
                    seconds=seconds,
                    epochs=SPEED_EPOCHS,
                    warnings=caught,
                )


def mode_coverage(samples):
    """(modes with enough samples within 3 sd, share of samples within 3 sd)."""
    angle = 2 * np.pi * np.arange(8) / 8
    centers = 2 * np.column_stack([np.cos(angle), np.sin(angle)])
    distances = euclidean_distances(samples, centers)
    near = distances.min(1) <= 3 * MODE_STD
    per_mode = (distances <= 3 * MODE_STD).sum(0)
    return int((per_mode >= MODE_MIN_SAMPLES).sum()), float(near.mean())


def toy_setup(dataset, seed):
    """The draws of ``density_toys.evaluate``: training, held-out, background."""
    rng = np.random.default_rng(seed)
    make = density_toys.DATASETS[dataset]
    X = make(density_toys.N_TRAIN, rng)
    held_out = make(density_toys.N_TEST, rng)
    background = rng.uniform(X.min(0), X.max(0), size=(density_toys.N_TEST, 2))
    median = np.median(euclidean_distances(held_out[:500]))
    return X, held_out, background, median


def toy_metrics(dataset, score_samples, loglik, samples, held_out, background, median):
    labels = np.r_[np.ones(len(held_out)), np.zeros(len(background))]
    scores = np.r_[score_samples(held_out), score_samples(background)]
    metrics = {
        "auroc": float(roc_auc_score(labels, scores)),
        "mmd": density_toys.mmd2(samples, held_out, median),
        "loglik": float(loglik),
    }
    if dataset == "8gaussians":
        metrics["modes"], metrics["near_mode"] = mode_coverage(samples)
    return metrics


def run_toys(log, families, seeds, args):
    for dataset in density_toys.DATASETS:
        for seed in seeds:
            X, held_out, background, median = toy_setup(dataset, seed)
            with _common.Timer() as t:
                kde = density_toys.kde(X)
            kde_samples = kde.sample(density_toys.N_DRAW, random_state=seed)
            reference = toy_metrics(
                dataset,
                kde.score_samples,
                kde.score_samples(held_out).mean(),
                kde_samples,
                held_out,
                background,
                median,
            )
            key = {"task": "toys", "dataset": dataset, "seed": seed}
            log.add(
                **key,
                method="kde",
                metric="toys",
                **reference,
                mmd_ratio=1.0,
                bandwidth=float(kde.bandwidth),
                seconds=t.seconds,
            )
            for family in families:
                model = density(family, seed, max_iter=args.epochs)
                try:
                    seconds, caught = _fit_quietly(model, X)
                    samples = model.sample(density_toys.N_DRAW, random_state=seed)
                    metrics = toy_metrics(
                        dataset,
                        model.score_samples,
                        model.score(held_out),
                        samples,
                        held_out,
                        background,
                        median,
                    )
                except Exception as error:
                    _error_row(log, {**key, "method": family}, error)
                    continue
                log.add(
                    **key,
                    method=family,
                    metric="toys",
                    **metrics,
                    mmd_ratio=metrics["mmd"] / reference["mmd"],
                    log_z_stderr=float(model.log_z_stderr_),
                    epochs=args.epochs,
                    seconds=seconds,
                    ms_per_iteration=ms_per_iteration(model),
                    warnings=caught,
                )


class _TaskLog:
    """Hands ``novelty.run`` a log whose rows carry ``task="novelty"``."""

    def __init__(self, log):
        self.log = log

    def add(self, **row):
        self.log.add(task="novelty", **row)


def run_novelty(log, families, seeds, args):
    methods = [*NOVELTY_REFERENCES, *(novelty.EBM_PREFIX + f for f in families)]
    novelty.run(_TaskLog(log), args.novelty_datasets, methods, seeds)


def run_ssl(log, families, seeds, args):
    for seed in seeds:
        X_train, y_train, X_test, y_test = digits_ssl_split(seed)
        for family in families:
            key = {"task": "ssl", "dataset": "digits", "method": family, "seed": seed}
            if args.quick and family == "sm" and not args.families_named:
                log.add(
                    **key,
                    metric="accuracy",
                    value=None,
                    skipped="--quick: exact score matching on 64 features costs "
                    "5 to 9 s per epoch (10 to 15 min for the default 100 epochs)",
                )
                continue
            model = jem(family, seed)
            try:
                seconds, caught = _fit_quietly(model, X_train, y_train)
            except Exception as error:
                _error_row(log, key, error)
                continue
            log.add(
                **key,
                metric="accuracy",
                value=float(np.mean(model.predict(X_test) == y_test)),
                k=SSL_LABELS,
                seconds=seconds,
                ms_per_iteration=ms_per_iteration(model),
                recoveries=sum("recovery" in row for row in model.history_),
                warnings=caught,
            )


RUNNERS = {
    "speed": run_speed,
    "toys": run_toys,
    "novelty": run_novelty,
    "ssl": run_ssl,
}


# --------------------------------------------------------------------------------------
# Table
# --------------------------------------------------------------------------------------


def _rows(rows, task, dataset=None, method=None):
    return [
        r
        for r in rows
        if r["task"] == task
        and (dataset is None or r["dataset"] == dataset)
        and (method is None or r["method"] == method)
    ]


def _mean(rows, field, scale=1.0, digits=1):
    values = [r[field] for r in rows if r.get(field) is not None]
    if not values:
        return ""
    values = scale * np.asarray(values, dtype=float)
    text = f"{values.mean():.{digits}f}"
    return text + (f" ± {values.std():.{digits}f}" if len(values) > 1 else "")


def _failed(rows):
    reasons = {r.get("error") or r.get("skipped") for r in rows} - {None}
    return (
        "skipped"
        if any(r.get("skipped") for r in rows)
        else ("failed" if reasons else "")
    )


def _novelty_cells(rows, method):
    if method in FAMILIES:
        method = novelty.EBM_PREFIX + method
    mine = _rows(rows, "novelty", method=method)
    datasets = [d for d in NOVELTY_DATASETS if any(r["dataset"] == d for r in mine)]
    means = [
        np.mean(list(novelty.aurocs(rows, d, method).values()))
        for d in datasets
        if novelty.aurocs(rows, d, method)
    ]
    fitted = [r for r in mine if r["value"] is not None]
    if not mine:
        return ["", ""]
    failed = len(mine) - len(fitted)
    mean = f"{100 * np.mean(means):.1f}" if means else ""
    if len(means) < len(datasets):
        mean += f" ({len(means)}/{len(datasets)} sets)"
    below = f"{sum(r['value'] < 0.5 for r in fitted)}/{len(fitted)}"
    if failed:
        below += f", {failed} failed"
    return [mean, below]


def main_table(rows, families):
    """One line per family (and the KDE / kNN references), one column per metric."""
    header = [
        "method",
        "ms/iter ring",
        "ms/iter digits",
        "ms/iter JEM digits SSL",
        "ring AUROC",
        "8G AUROC",
        "ring MMD ratio",
        "8G MMD ratio",
        "8G modes (of 8)",
        "8G samples within 3 sd %",
        "ring log-lik",
        "8G log-lik",
        "novelty mean AUROC %",
        "novelty fits < 0.5",
        "digits SSL acc %",
    ]
    cells = []
    for method in [*families, "kde", "knn"]:
        line = [method]
        for dataset in ("ring", "digits", "digits-ssl"):
            sub = _rows(rows, "speed", dataset, method)
            line.append(_mean(sub, "value", digits=1) or _failed(sub))
        for field, scale, digits in (
            ("auroc", 1, 3),
            ("mmd_ratio", 1, 2),
            ("modes", 1, 1),
            ("near_mode", 100, 1),
            ("loglik", 1, 2),
        ):
            for dataset in ("ring", "8gaussians"):
                if field in ("modes", "near_mode") and dataset == "ring":
                    continue
                sub = _rows(rows, "toys", dataset, method)
                line.append(_mean(sub, field, scale, digits) or _failed(sub))
        line += _novelty_cells(rows, method)
        sub = _rows(rows, "ssl", "digits", method)
        line.append(_mean(sub, "value", 100, 1) or _failed(sub))
        cells.append(line)
    return _common.markdown_table(header, cells)


def notes(rows):
    seeds = sorted({r["seed"] for r in rows})
    toys = _rows(rows, "toys")
    epochs = sorted({r["epochs"] for r in toys if r.get("epochs")})
    sets = [d for d in NOVELTY_DATASETS if _rows(rows, "novelty", d)]
    lines = [
        f"Seeds {','.join(map(str, seeds))}; mean ± std over seeds where more than "
        "one. Toys: EBMs at "
        f"{'/'.join(map(str, epochs)) or '?'} epochs; KDE bandwidth by 5-fold "
        "likelihood; MMD ratio = the family's sample MMD^2 over KDE samples' "
        "(below 1: closer to the held-out rows than KDE's samples; MMD^2 is an "
        "unbiased estimate, so tiny or negative values are noise); log-lik = "
        "held-out mean normalized log-likelihood (`score`, AIS `log_z_`; KDE: "
        "mean `score_samples`). Modes: of the 8, those with at least "
        f"{MODE_MIN_SAMPLES} of 1,000 samples within 3 sd (0.6). ms/iter: median "
        f"epoch of a {SPEED_EPOCHS}-epoch fit over its batches. Novelty: "
        f"`novelty.py`'s protocol on {', '.join(sets) or 'no data set'}; "
        "'fits < 0.5' counts (data set, seed) pairs. SSL: digits, 10 labels per "
        "class, `JEMClassifier(training=f)` defaults.",
    ]
    problems = {}
    for r in rows:
        reason = r.get("error") or r.get("skipped")
        if reason:
            problems.setdefault((r["task"], r["method"], reason), []).append(
                f"{r['dataset']}/{r['seed']}"
            )
    if problems:
        lines.append("\nSkipped or failed:\n")
        lines += [
            f"- {task} {method}: {reason} ({', '.join(where)})"
            for (task, method, reason), where in sorted(problems.items())
        ]
    return "\n".join(lines)


def summarize(rows, families):
    order = [f for f in FAMILIES if any(r["method"] == f for r in rows)]
    order += [f for f in families if f not in order]
    return main_table(rows, order) + "\n\n" + notes(rows)


def main(argv=None):
    parser = _common.benchmark_parser(
        __doc__,
        NOVELTY_DATASETS,
        FAMILIES,
        f"seed 0, toys at {QUICK_EPOCHS} epochs, novelty on "
        f"{', '.join(QUICK_NOVELTY)}, no sm in SSL",
    )
    parser.add_argument(
        "--tasks",
        nargs="*",
        default=list(TASKS),
        choices=TASKS,
        help="none: only rewrite the table from the results file",
    )
    parser.add_argument("--families", nargs="+", default=None)
    parser.add_argument("--epochs", type=int, default=100, help="toys' max_iter")
    args = parser.parse_args(argv)
    args.families_named = args.families is not None
    if args.families is None:
        args.families = list(FAMILIES)
    unknown = sorted(set(args.families) - set(FAMILIES))
    if unknown:
        parser.error(f"unknown families {unknown}: use {', '.join(FAMILIES)}")
    args.novelty_datasets = args.datasets
    if args.quick:
        args.seeds, args.epochs = [0], QUICK_EPOCHS
        args.novelty_datasets = list(QUICK_NOVELTY)
    stem, log = _common.open_log(args, "families", KEY)
    for task in args.tasks:
        RUNNERS[task](log, args.families, args.seeds, args)
        _common.write_text(stem.with_suffix(".md"), summarize(log.rows, args.families))
    if not args.tasks:
        _common.write_text(stem.with_suffix(".md"), summarize(log.rows, args.families))


if __name__ == "__main__":
    main()
