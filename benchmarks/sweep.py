"""Which defaults win without tuning: a grid of settings ranked across tasks.

Each setting overrides a few of an estimator's defaults; each is fitted on every
task with seeds 0-2 and ranked per task (1 = best mean). The defaults to pick are
those with the best *worst-case* rank across tasks, not the best on any one task.

Tasks (all offline):

* ``ssl-digits``, ``ssl-penbased``, ``ssl-letter``: JEMClassifier, 10 labels per
  class (``sk_ebm.datasets.semi_supervised_split``), test accuracy;
* ``ood-digits``: JEMClassifier fitted on digits 0-4, AUROC of ``score_samples``
  against 5-9 (``sk_ebm.datasets.load_digits_ood``);
* ``density-ring``, ``density-8gaussians``: EnergyDensityEstimator, AUROC of
  held-out rows against uniform background (benchmarks/density_toys.py).

    python benchmarks/sweep.py [--quick] [--families pcd vera] [--tasks ...]
                               [--settings ...] [--seeds 0 1 2] [--max-iter N]

``--quick`` (under 10 minutes here): digits SSL, digits OOD and the ring, seed 0,
30 epochs, the first settings of each family. Writes benchmarks/results/sweep.jsonl
(or sweep_quick.jsonl) and a Markdown table of ranks beside it.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from scipy.stats import rankdata  # noqa: E402
from sklearn.metrics import roc_auc_score  # noqa: E402

from sk_ebm import EnergyDensityEstimator, JEMClassifier  # noqa: E402
from sk_ebm.datasets import (  # noqa: E402
    load_digits_ood,
    load_letter,
    load_penbased,
    semi_supervised_split,
)
from sk_ebm.metrics import ood_auroc  # noqa: E402

RESULTS = Path(__file__).parent / "results"

#: Settings per training family: name -> overrides of the estimators' defaults.
#: Keys an estimator does not take (e.g. unlabeled_entropy for the density
#: model) are dropped for it.
SETTINGS = {
    "pcd": {
        "default": {},
        "jem-sampler": {"step_size": 1.0, "noise_scale": 0.01, "alpha": 1.0},
        "langevin-0.005": {"step_size": 0.005},
        "40-steps": {"n_steps": 40},
        "alpha-0.03": {"alpha": 0.03},
        "energy_reg-0": {"energy_reg": 0.0},
        "init-diag_gaussian": {"sampler_params": {"init": "diag_gaussian"}},
        "reinit-0.2": {"reinit_freq": 0.2},
        "net-128x128": {"hidden_dims": (128, 128)},
    },
    "short_run": {
        "default": {},
        "40-steps": {"n_steps": 40},
        "langevin-0.005": {"step_size": 0.005},
    },
    "vera": {
        "default": {},
        "alpha-1": {"alpha": 1.0},
        "lr-3e-4": {"learning_rate": 3e-4},
        "grad_penalty-1": {"grad_penalty": 1.0},
        "entropy_weight-0.3": {"entropy_weight": 0.3},
        "unlabeled_entropy-0": {"unlabeled_entropy": 0.0},
    },
}


def _ssl_task(loader):
    def data(seed):
        if loader is None:
            from sklearn.datasets import load_digits

            X, y = load_digits(return_X_y=True)
        else:
            X, y = loader(return_X_y=True)
        split = semi_supervised_split(
            X, y, n_labeled_per_class=10, random_state=0, label_seed=seed
        )
        return split

    def run(make, seed):
        split = data(seed)
        clf = make(JEMClassifier).fit(split.X_train, split.y_train)
        return clf.score(split.X_test, split.y_test)

    return run


def _ood_digits(make, seed):
    split = load_digits_ood()
    clf = make(JEMClassifier).fit(split.X_train, split.y_train)
    score = clf.score_samples(split.X_test)
    return ood_auroc(score[split.is_in_test], score[~split.is_in_test])


def _density_task(name):
    def run(make, seed):
        from density_toys import DATASETS, N_TEST, N_TRAIN

        rng = np.random.default_rng(seed)
        X, held_out = DATASETS[name](N_TRAIN, rng), DATASETS[name](N_TEST, rng)
        background = rng.uniform(X.min(0), X.max(0), size=(N_TEST, 2))
        est = make(EnergyDensityEstimator).fit(X)
        scores = np.r_[est.score_samples(held_out), est.score_samples(background)]
        return roc_auc_score(np.r_[np.ones(N_TEST), np.zeros(N_TEST)], scores)

    return run


TASKS = {
    "ssl-digits": _ssl_task(None),
    "ssl-penbased": _ssl_task(load_penbased),
    "ssl-letter": _ssl_task(load_letter),
    "ood-digits": _ood_digits,
    "density-ring": _density_task("ring"),
    "density-8gaussians": _density_task("8gaussians"),
}


def factory(family, overrides, seed, max_iter):
    """A function building an estimator class with the setting applied."""

    def make(cls):
        params = {"training": family, "device": "cpu", "random_state": seed}
        if max_iter is not None:
            params["max_iter"] = max_iter
        accepted = cls().get_params()
        params.update({k: v for k, v in overrides.items() if k in accepted})
        return cls(**params)

    return make


def ranks(rows, family):
    """Per task, the rank of each setting's mean metric (1 = best)."""
    rows = [r for r in rows if r["family"] == family]
    tasks = sorted({r["task"] for r in rows})
    settings = list(dict.fromkeys(r["setting"] for r in rows))
    means = {
        (s, t): np.mean(
            [r["value"] for r in rows if (r["setting"], r["task"]) == (s, t)]
        )
        for s in settings
        for t in tasks
    }
    rank = {}
    for t in tasks:
        # Ties share their mean rank, so no setting wins by list order.
        values = rankdata([-means[(s, t)] for s in settings], method="average")
        rank.update({(s, t): float(r) for s, r in zip(settings, values)})
    return tasks, settings, means, rank


def table(rows):
    """Markdown: per family, each setting's mean and rank on each task."""
    out = []
    for family in dict.fromkeys(r["family"] for r in rows):
        tasks, settings, means, rank = ranks(rows, family)
        out.append(f"\n### training={family}\n")
        out.append("| setting | " + " | ".join(tasks) + " | worst rank |")
        out.append("|---" * (len(tasks) + 2) + "|")
        worst = {s: max(rank[(s, t)] for t in tasks) for s in settings}
        for s in sorted(settings, key=lambda s: (worst[s], s)):
            cells = [f"{100 * means[(s, t)]:.1f} (#{rank[(s, t)]:g})" for t in tasks]
            out.append(f"| {s} | " + " | ".join(cells) + f" | {worst[s]:g} |")
        best = min(settings, key=lambda s: (worst[s], s))
        out.append(f"\nbest worst-case rank for {family}: {best} ({worst[best]:g})")
    return "\n".join(out)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=list(SETTINGS))
    parser.add_argument("--tasks", nargs="+", default=list(TASKS))
    parser.add_argument("--settings", nargs="+", default=None)
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--max-iter", type=int, default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.tasks = ["ssl-digits", "ood-digits", "density-ring"]
        args.seeds, args.max_iter = [0], 30
        args.families = [f for f in args.families if f != "short_run"]
    torch.set_num_threads(1)
    stem = "sweep_quick" if args.quick else "sweep"
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(args.out / f"{stem}.jsonl", "w") as log:
        for family in args.families:
            names = args.settings or list(SETTINGS[family])
            if args.quick and args.settings is None:
                names = names[:4]
            for name in names:
                for task in args.tasks:
                    for seed in args.seeds:
                        make = factory(
                            family, SETTINGS[family][name], seed, args.max_iter
                        )
                        start = time.perf_counter()
                        value = TASKS[task](make, seed)
                        row = dict(
                            family=family,
                            setting=name,
                            task=task,
                            seed=seed,
                            value=float(value),
                            seconds=round(time.perf_counter() - start, 1),
                            max_iter=args.max_iter,
                        )
                        rows.append(row)
                        log.write(json.dumps(row) + "\n")
                        log.flush()
                        print(json.dumps(row), flush=True)
    text = table(rows)
    (args.out / f"{stem}.md").write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    import sys

    sys.path.insert(0, str(Path(__file__).parent))
    main()
