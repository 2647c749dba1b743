"""Which correction bound and stopping rule for EnergyDensityEstimator: a sweep.

With ``base="gaussian"`` the model is a Gaussian fitted to the training rows
times ``exp`` of the network's correction, bounded to ``bound`` nats either way
(:class:`sk_ebm.nets.BaseCorrectedNet`). A small bound keeps the model near the
Gaussian, a large one lets the network reshape it. Each setting is a rule
``n_train -> bound``: fixed values and rules that grow with the number of
training rows. A setting named with ``+kde`` fits ``base="kde"`` (a kernel
density of the training rows instead of the Gaussian; without it, the Gaussian),
one with ``+es`` fits with ``early_stopping=True`` (the epoch with the best
held-out log-likelihood), ``+es30`` with ``n_iter_no_change=30`` too; without
either, ``early_stopping=False``. The estimator's defaults are
``clip(n/40,2,20)+kde+es30``.

Tasks, all offline, seed 0 unless ``--seeds`` says otherwise:

* every data set of ``benchmarks/novelty.py`` (its protocol: train on half the
  inliers, AUROC of inliers against anomalies);
* ``density-ring``, ``density-8gaussians``: AUROC of held-out rows against
  uniform background (``benchmarks/density_toys.py``, via ``sweep.py``);
* ``density-digits``: fitted on digits 0-4, AUROC against 5-9 (``sweep.py``).

Settings are ranked per task by their mean (1 = best); the default to pick has
the best worst-case rank over all tasks. A fit is identified by the bound, base
and patience it used, so rules that give a task the same bound share one fit::

    python benchmarks/density_sweep.py --families pcd
    python benchmarks/density_sweep.py --families short_run vera \\
        --tasks wine breast_cancer   # a subset
    python benchmarks/density_sweep.py --table

Rows (one per family, task, seed and bound) append to
benchmarks/results/density_sweep.jsonl; the tables go to density_sweep.md.
"""

import argparse
import contextlib
import sys
import warnings
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from _common import (  # noqa: E402
    RESULTS,
    ResultLog,
    Timer,
    markdown_table,
    single_thread,
    write_text,
)
from density_toys import N_TRAIN  # noqa: E402
from scipy.stats import rankdata  # noqa: E402
from sweep import TASKS as SWEEP_TASKS  # noqa: E402

from sk_ebm import EnergyDensityEstimator  # noqa: E402
from sk_ebm.datasets import (  # noqa: E402
    NOVELTY_DATASETS,
    load_digits_ood,
    load_novelty,
    novelty_split,
)
from sk_ebm.metrics import ood_auroc  # noqa: E402


def _clipped(rows_per_nat):
    return lambda n: float(np.clip(n / rows_per_nat, 2.0, 20.0))


#: Setting name -> rule ``n_train -> bound``.
BOUNDS = {
    "bound-2": lambda n: 2.0,
    "bound-5": lambda n: 5.0,
    "bound-20": lambda n: 20.0,
    "clip(n/30,2,20)": _clipped(30),
    "clip(n/40,2,20)": _clipped(40),
    "clip(n/20,2,20)": _clipped(20),
}
#: Setting suffix -> the base distribution.
BASES = {"": "gaussian", "+kde": "kde"}
#: Setting suffix -> early stopping's patience (``n_iter_no_change``); 0: none.
STOPPING = {"": 0, "+es": 10, "+es30": 30}
#: Every bound rule with every base and every stopping rule.
SETTINGS = [
    name + base + stop for base in BASES for stop in STOPPING for name in BOUNDS
]
#: What a run without ``--settings`` fits: every bound, and the stopping rules
#: and the kernel base on the default bound (``clip(n/40,2,20)``).
DEFAULT_SETTINGS = [
    *BOUNDS,
    "clip(n/40,2,20)+es",
    "clip(n/40,2,20)+es30",
    "clip(n/40,2,20)+kde+es30",
]


def fit_of(setting, n):
    """What identifies the fit a setting makes on ``n`` rows.

    Returns ``(bound, patience, base)``.
    """
    name, *suffixes = setting.split("+")
    suffixes = {"+" + suffix for suffix in suffixes}
    base = next((BASES[s] for s in suffixes if s in BASES), "gaussian")
    patience = next((STOPPING[s] for s in suffixes if s in STOPPING), 0)
    return BOUNDS[name](n), patience, base


def patience_of(row):
    """A logged fit's patience; rows from before ``+es30`` only say whether."""
    return row.get("patience", 10 if row.get("early_stopping") else 0)


def base_of(row):
    """A logged fit's base; rows from before ``+kde`` had the Gaussian."""
    return row.get("base", "gaussian")


TOYS = ("density-ring", "density-8gaussians")
TASK_NAMES = (*NOVELTY_DATASETS, *TOYS, "density-digits")


def n_train(task, seed):
    """Training rows of ``task``: what a rule sees."""
    if task in TOYS:
        return N_TRAIN
    if task == "density-digits":
        return len(load_digits_ood().X_train)
    X, y = load_novelty(task, return_X_y=True)
    return len(novelty_split(X, y, seed=seed).X_train)


@contextlib.contextmanager
def correction_bound(bound):
    """Every EnergyDensityEstimator fitted inside builds its base with ``bound``."""
    original = EnergyDensityEstimator._correction_bound
    EnergyDensityEstimator._correction_bound = lambda self, n: bound
    try:
        yield
    finally:
        EnergyDensityEstimator._correction_bound = original


def measure(task, family, seed, patience, base):
    """AUROC of EnergyDensityEstimator(training=family) on ``task``."""

    def make(cls):
        return cls(
            training=family,
            base=base,
            early_stopping=patience > 0,
            n_iter_no_change=max(patience, 1),
            device="cpu",
            random_state=seed,
        )

    if task in SWEEP_TASKS:
        return SWEEP_TASKS[task](make, seed)
    X, y = load_novelty(task, return_X_y=True)
    split = novelty_split(X, y, seed=seed)
    scores = make(EnergyDensityEstimator).fit(split.X_train).score_samples(split.X_test)
    is_inlier = split.y_test == 1
    return ood_auroc(scores[is_inlier], scores[~is_inlier])


def run(args, log):
    """Fit every (family, task, seed, bound, stopping) the log lacks."""
    for family in args.families:
        for task in args.tasks:
            for seed in args.seeds:
                n = n_train(task, seed)
                fits = dict.fromkeys(fit_of(s, n) for s in args.settings)
                for bound, patience, base in fits:
                    if lookup(log.rows, family, task, seed, (bound, patience, base)):
                        continue
                    with correction_bound(bound), Timer() as timer:
                        with warnings.catch_warnings():
                            warnings.simplefilter("ignore")
                            try:
                                value = float(
                                    measure(task, family, seed, patience, base)
                                )
                                error = None
                            except Exception as exc:  # a failed fit is a result
                                value, error = None, f"{type(exc).__name__}: {exc}"
                    log.add(
                        family=family,
                        task=task,
                        seed=seed,
                        bound=bound,
                        base=base,
                        early_stopping=patience > 0,
                        patience=patience,
                        n_train=n,
                        value=value,
                        error=error,
                        seconds=timer.seconds,
                    )


def fit_of_row(row):
    """``fit_of``'s key of a logged row."""
    return row["bound"], patience_of(row), base_of(row)


def lookup(rows, family, task, seed, fit):
    """The logged row of one fit (``fit_of``'s key), or None."""
    for row in rows:
        if (row["family"], row["task"], row["seed"]) == (family, task, seed):
            if fit_of_row(row) == fit:
                return row
    return None


def table(rows, settings, seeds):
    """Per family: each setting's AUROC and rank on every task measured for all.

    A family's table leaves out the settings it has no complete task for.
    """
    out = [
        "AUROC % (seed mean) of EnergyDensityEstimator defaults with each rule for "
        "the base's correction bound, `+kde` with a kernel density base instead "
        "of the Gaussian, `+es` with early stopping on held-out "
        "log-likelihood, `+es30` with 30 epochs' patience instead of 10 "
        "(`benchmarks/density_sweep.py`); `#` is the "
        "rank among the settings on that task (1 = best, ties share the mean "
        "rank). Only tasks every setting has on every seed listed are ranked."
    ]
    for family in dict.fromkeys(r["family"] for r in rows):
        got = {
            (r["task"], r["seed"], fit_of_row(r)): r["value"]
            for r in rows
            if r["family"] == family
        }
        ns = {
            task: {seed: n_train(task, seed) for seed in seeds} for task in TASK_NAMES
        }

        def complete(setting, task):
            return all(
                got.get((task, seed, fit_of(setting, n))) is not None
                for seed, n in ns[task].items()
            )

        family_settings = [
            s for s in settings if any(complete(s, task) for task in TASK_NAMES)
        ]
        if not family_settings:
            continue
        tasks = [
            (task, ns[task])
            for task in TASK_NAMES
            if all(complete(s, task) for s in family_settings)
        ]
        if not tasks:
            continue
        value = {
            (s, task): np.mean(
                [got[(task, seed, fit_of(s, n))] for seed, n in ns.items()]
            )
            for s in family_settings
            for task, ns in tasks
        }
        rank = {}
        for task, _ in tasks:
            order = rankdata(
                [-value[(s, task)] for s in family_settings], method="average"
            )
            rank.update({(s, task): float(r) for s, r in zip(family_settings, order)})
        lines = []
        for s in family_settings:
            ranks = [rank[(s, t)] for t, _ in tasks]
            cells = [f"{100 * value[(s, t)]:.1f} (#{rank[(s, t)]:g})" for t, _ in tasks]
            below = sum(value[(s, t)] < 0.5 for t, _ in tasks)
            novelty = [value[(s, t)] for t, _ in tasks if t in NOVELTY_DATASETS]
            lines.append(
                [
                    s,
                    *cells,
                    f"{100 * np.mean(novelty):.1f}" if novelty else "",
                    below,
                    f"{max(ranks):g}",
                    f"{np.mean(ranks):.2f}",
                ]
            )
        lines.sort(key=lambda line: (float(line[-2]), float(line[-1])))
        header = [
            "setting",
            *[t for t, _ in tasks],
            "novelty mean (sets shown)",
            "tasks < 50",
            "worst rank",
            "mean rank",
        ]
        out += [
            f"\n### training={family}, seeds {', '.join(map(str, seeds))}\n",
            markdown_table(header, lines),
        ]
    return "\n".join(out)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", nargs="+", default=["pcd"])
    parser.add_argument("--tasks", nargs="+", default=list(TASK_NAMES))
    parser.add_argument(
        "--settings", nargs="+", choices=SETTINGS, default=DEFAULT_SETTINGS
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--table", action="store_true", help="only print the tables")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    single_thread()
    stem = args.out / "density_sweep"
    key = ("family", "task", "seed", "bound", "base", "early_stopping", "patience")
    log = ResultLog(stem.with_suffix(".jsonl"), key)
    if not args.table:
        run(args, log)
    write_text(stem.with_suffix(".md"), table(log.rows, args.settings, args.seeds))


if __name__ == "__main__":
    main()
