"""Samples that look like data: range and class agreement of JEMClassifier's draws.

Fits ``JEMClassifier`` (defaults, each ``training`` asked for) on digits with
every training label (the fixed 75/25 split of design.md section 5), then for
each class draws ``--per-class`` rows with ``sample(n, y=c)`` and measures:

* ``agreement``: the share of draws that an independent classifier (an RBF
  ``SVC`` fitted on the same training rows, 98-99 % test accuracy) assigns to
  the requested class;
* ``outside``: the share of feature values outside the training rows' per-feature
  range before clipping (``sample(clip=False)``); with the default
  ``clip=True`` none is;
* ``seconds``: the time to draw all of them.

    python benchmarks/samples.py [--quick] [--trainings pcd vera] [--per-class 50]
                                 [--sample-steps 20 100]

Writes ``benchmarks/results/samples.jsonl`` (one line per training, sample
steps and seed) and ``samples.md``.
"""

import argparse
import json
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from sklearn.svm import SVC  # noqa: E402

from sk_ebm import JEMClassifier  # noqa: E402
from sk_ebm.datasets import semi_supervised_split  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def digits():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    split = semi_supervised_split(X, y, n_labeled_per_class=10, label_seed=0)
    return split.X_train, split.y_train_full


def measure(clf, judge, X, per_class, steps, seed):
    clf.set_params(sampler_params={"sample_steps": steps})
    classes = clf.classes_
    requested = np.repeat(classes, per_class)
    start = time.perf_counter()
    raw = clf.sample(len(requested), y=requested, random_state=seed, clip=False)
    seconds = time.perf_counter() - start
    clipped = np.clip(raw, X.min(0), X.max(0))
    outside = np.mean((raw < X.min(0)) | (raw > X.max(0)))
    return {
        "agreement": float(np.mean(judge.predict(clipped) == requested)),
        "agreement_unclipped": float(np.mean(judge.predict(raw) == requested)),
        "outside": float(outside),
        "seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trainings", nargs="+", default=["pcd", "vera", "dsm"])
    parser.add_argument("--per-class", type=int, default=50)
    parser.add_argument("--sample-steps", nargs="+", type=int, default=[None, 100])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--quick", action="store_true", help="30 epochs")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    X, y = digits()
    judge = SVC().fit(X, y)
    rows = []
    for training in args.trainings:
        for seed in args.seeds:
            fit_start = time.perf_counter()
            clf = JEMClassifier(
                training=training,
                max_iter=30 if args.quick else 100,
                device="cpu",
                random_state=seed,
            ).fit(X, y)
            fit_seconds = time.perf_counter() - fit_start
            for steps in args.sample_steps:
                row = {
                    "training": training,
                    "seed": seed,
                    "sample_steps": steps,
                    "fit_seconds": fit_seconds,
                    **measure(clf, judge, X, args.per_class, steps, seed),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
    stem = RESULTS / ("samples_quick" if args.quick else "samples")
    with open(stem.with_suffix(".jsonl"), "a") as f:
        for row in rows:
            f.write(json.dumps(row) + "\n")
    lines = [
        "| training | sample steps | agreement % (clipped) | unclipped | "
        "values outside range % | draw seconds |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        steps = "default" if r["sample_steps"] is None else r["sample_steps"]
        lines.append(
            f"| {r['training']} | {steps} | {100 * r['agreement']:.1f} | "
            f"{100 * r['agreement_unclipped']:.1f} | {100 * r['outside']:.1f} | "
            f"{r['seconds']:.1f} |"
        )
    table = "\n".join(lines) + "\n"
    stem.with_suffix(".md").write_text(table)
    print(table)


if __name__ == "__main__":
    main()
