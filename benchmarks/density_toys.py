"""Density quality and sample quality on 2-D toys: PCD, short-run and VERA vs KDE.

For a ring and a mixture of eight Gaussians (2,000 training rows, 1,000 held-out
rows, made here with numpy), each method is fitted on the training rows and
measured three ways:

* ``auroc``: held-out rows against uniform background rows over the data's
  bounding box, ranked by ``score_samples`` (higher = more typical);
* ``mmd``: squared maximum mean discrepancy between 5,000 drawn samples and the
  held-out rows, with a sum of RBF kernels of bandwidths 1/8, 1/4, 1/2 and 1
  times the median distance (one bandwidth at the median cannot tell a ring
  from a blurred ring); in brackets the floor, the same statistic for the 2,000
  training rows. Until 2026-12-05 it took 1,000 samples, and one draw's noise
  (a standard deviation of about 3e-3 for KDE's samples over seeds) was as
  large as the 1.5x-KDE target it was read against;
* ``sample_ll``: mean held-out log-likelihood under a ``KernelDensity`` fitted
  to 1,000 of the drawn samples, beside the same KDE fitted to 1,000 training
  rows;
* ``modes`` and ``near_mode`` (eight Gaussians only): how many of the 8 modes
  have a drawn sample within 3 standard deviations (0.6) of their centre, and
  the share of the samples within 3 standard deviations of some mode.

``ebm-pcd+noes`` is PCD without early stopping, for ``--epochs 300``: the
run that meets the 8-Gaussians targets (benchmarks/README.md).
``ebm-<training>+relu`` and ``+silu`` fix the hidden layers' activation.

    python benchmarks/density_toys.py [--quick] [--seeds 0 1 2] [--methods ...]

Prints a Markdown table, writes it to benchmarks/results/density_toys.md and one
JSON line per (dataset, method, seed) to benchmarks/results/density_toys.jsonl.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402
from sklearn.metrics.pairwise import euclidean_distances, rbf_kernel  # noqa: E402
from sklearn.mixture import GaussianMixture  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402
from sklearn.neighbors import KernelDensity  # noqa: E402

from sk_ebm import EnergyDensityEstimator  # noqa: E402

RESULTS = Path(__file__).parent / "results"
N_TRAIN, N_TEST, N_DRAW, N_KDE = 2000, 1000, 5000, 1000


def ring(n, rng):
    angle = rng.uniform(0, 2 * np.pi, n)
    circle = np.column_stack([np.cos(angle), np.sin(angle)])
    return circle + 0.1 * rng.normal(size=(n, 2))


MODE_RADIUS, MODE_STD = 2.0, 0.2
MODES = MODE_RADIUS * np.column_stack(
    [np.cos(2 * np.pi * np.arange(8) / 8), np.sin(2 * np.pi * np.arange(8) / 8)]
)


def eight_gaussians(n, rng):
    return MODES[rng.integers(0, 8, n)] + MODE_STD * rng.normal(size=(n, 2))


def mode_coverage(samples):
    """(modes with a sample within 3 std, share of samples within 3 std of one)."""
    near = euclidean_distances(samples, MODES) < 3 * MODE_STD
    return int(near.any(0).sum()), float(near.any(1).mean())


DATASETS = {"ring": ring, "8gaussians": eight_gaussians}


def kde(X):
    """KernelDensity with its bandwidth chosen by 5-fold likelihood."""
    grid = {"bandwidth": np.logspace(-2, 0, 15)}
    return GridSearchCV(KernelDensity(), grid).fit(X).best_estimator_


def _ebm(training, **params):
    """``(seed, epochs) -> EnergyDensityEstimator`` of ``training`` and ``params``."""
    return lambda seed, epochs: EnergyDensityEstimator(
        training=training, max_iter=epochs, device="cpu", random_state=seed, **params
    )


EBM_TRAININGS = ("pcd", "short_run", "vera")
METHODS = {
    **{f"ebm-{training}": _ebm(training) for training in EBM_TRAININGS},
    # Every epoch, no early stopping: on 8 Gaussians the held-out likelihood
    # flattens (and stops the default fit) long before the modes are sharp.
    "ebm-pcd+noes": _ebm("pcd", early_stopping=False),
    # One activation whatever activation="auto" takes: ReLU, the default for
    # pcd and short_run since 2026-12-04, and SiLU, the default before
    # (benchmarks/README.md, "The activation of the density estimator").
    **{
        f"ebm-{training}+{activation}": _ebm(training, activation=activation)
        for activation in ("relu", "silu")
        for training in EBM_TRAININGS
    },
    # Chains from N(0, I), the MCMC families' init before the resampled base
    # (benchmarks/README.md, "Chains that start from the model").
    **{
        f"ebm-{training}+diag_init": _ebm(
            training, sampler_params={"init": "diag_gaussian"}
        )
        for training in ("pcd", "short_run")
    },
    # VERA's negatives from its generator alone, as before 2026-12-05.
    "ebm-vera+gen_negatives": _ebm("vera", generator_params={"base_negatives": 0.0}),
    "kde": None,
    "gmm-8": None,
}


def fit_method(name, X, seed, epochs):
    """Fit ``name`` on ``X``; return (score_samples, draw(n) -> samples)."""
    if name == "kde":
        model = kde(X)
        return model.score_samples, lambda n: model.sample(n, random_state=seed)
    if name == "gmm-8":
        model = GaussianMixture(8, random_state=seed).fit(X)
        return model.score_samples, lambda n: model.sample(n)[0]
    model = METHODS[name](seed, epochs).fit(X)
    return model.score_samples, lambda n: model.sample(n, random_state=seed)


def _kernel(A, B, median):
    return sum(
        rbf_kernel(A, B, gamma=1.0 / (2 * (median * f) ** 2))
        for f in (0.125, 0.25, 0.5, 1.0)
    )


def mmd2(A, B, median):
    """Unbiased squared MMD with a sum of RBF kernels around ``median``."""
    k_aa, k_bb, k_ab = (
        _kernel(A, A, median),
        _kernel(B, B, median),
        _kernel(A, B, median),
    )
    n, m = len(A), len(B)
    off_a = (k_aa.sum() - np.trace(k_aa)) / (n * (n - 1))
    off_b = (k_bb.sum() - np.trace(k_bb)) / (m * (m - 1))
    return float(off_a + off_b - 2 * k_ab.mean())


def evaluate(name, data_name, seed, epochs):
    rng = np.random.default_rng(seed)
    make = DATASETS[data_name]
    X, held_out = make(N_TRAIN, rng), make(N_TEST, rng)
    low, high = X.min(0), X.max(0)
    background = rng.uniform(low, high, size=(N_TEST, 2))
    median = np.median(euclidean_distances(held_out[:500]))
    bandwidth = kde(X).bandwidth

    start = time.perf_counter()
    score, draw = fit_method(name, X, seed, epochs)
    seconds = time.perf_counter() - start
    labels = np.r_[np.ones(N_TEST), np.zeros(N_TEST)]
    samples = draw(N_DRAW)
    # A random subset: GaussianMixture.sample returns its draws component by
    # component, so the first rows would come from few modes.
    some_samples = samples[rng.choice(len(samples), N_KDE, replace=False)]
    sample_kde = KernelDensity(bandwidth=bandwidth).fit(some_samples)
    real_kde = KernelDensity(bandwidth=bandwidth).fit(X[:N_KDE])
    modes, near_mode = (
        mode_coverage(samples) if data_name == "8gaussians" else (None, None)
    )
    return {
        "dataset": data_name,
        "method": name,
        "seed": seed,
        "auroc": roc_auc_score(labels, np.r_[score(held_out), score(background)]),
        "mmd": mmd2(samples, held_out, median),
        "mmd_training_rows": mmd2(X, held_out, median),
        "sample_ll": float(sample_kde.score_samples(held_out).mean()),
        "sample_ll_training_rows": float(real_kde.score_samples(held_out).mean()),
        "modes": modes,
        "near_mode": near_mode,
        "seconds": seconds,
        "epochs": epochs if name.startswith("ebm") else None,
    }


def table(rows):
    """Markdown table: mean (std) over seeds per dataset and method."""
    lines = [
        "| dataset | method | AUROC vs background | MMD^2 x 1e3 "
        "(training rows) | sample KDE log-lik (training rows) | modes covered "
        "| samples within 3 std of a mode | seconds |",
        "|---|---|---|---|---|---|---|---|",
    ]
    keys = sorted({(r["dataset"], r["method"]) for r in rows}, key=str)
    for dataset, method in keys:
        group = [r for r in rows if (r["dataset"], r["method"]) == (dataset, method)]

        def stat(key, scale=1.0, digits=3):
            values = scale * np.array([r[key] for r in group])
            return f"{values.mean():.{digits}f} ({values.std():.{digits}f})"

        coverage = " | "
        if group[0].get("modes") is not None:
            modes = [r["modes"] for r in group]
            coverage = f"{min(modes)}-{max(modes)} | {stat('near_mode')}"
        lines.append(
            f"| {dataset} | {method} | {stat('auroc')} | "
            f"{stat('mmd', 1e3, 2)} ({stat('mmd_training_rows', 1e3, 2)}) | "
            f"{stat('sample_ll', digits=2)} "
            f"({stat('sample_ll_training_rows', digits=2)}) | "
            f"{coverage} | "
            f"{stat('seconds', digits=0)} |"
        )
    return "\n".join(lines)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS))
    parser.add_argument(
        "--methods",
        nargs="+",
        default=[m for m in METHODS if "+" not in m],
        choices=list(METHODS),
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--quick", action="store_true", help="seed 0, 30 epochs")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.epochs = [0], 30
    torch.set_num_threads(1)
    rows = []
    for data_name in args.datasets:
        for seed in args.seeds:
            for name in args.methods:
                rows.append(evaluate(name, data_name, seed, args.epochs))
                print(json.dumps(rows[-1]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = "density_toys_quick" if args.quick else "density_toys"
    with open(args.out / f"{stem}.jsonl", "w") as out:
        out.writelines(json.dumps(row) + "\n" for row in rows)
    text = table(rows)
    (args.out / f"{stem}.md").write_text(text + "\n")
    print("\n" + text)


if __name__ == "__main__":
    main()
