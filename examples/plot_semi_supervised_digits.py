"""
Semi-supervised digits: 10 labels per class
===========================================

scikit-learn's digits (8x8 images, 10 classes) with only 10 labeled images per
class in the training part; every other training image is unlabeled
(``y == -1``). :class:`~sk_ebm.JEMClassifier` learns from all of them: the
cross-entropy on the labeled rows and ``log p(x)`` on every row. It is compared
with :class:`~sklearn.semi_supervised.LabelSpreading`, which also uses the
unlabeled rows, and a logistic regression fitted on the 100 labeled rows alone.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.semi_supervised import LabelSpreading

from sk_ebm import JEMClassifier
from sk_ebm.datasets import semi_supervised_split

# Small networks train fastest on one thread (two threads on a 2-core machine
# can be far slower); sk_ebm never changes this setting itself.
torch.set_num_threads(1)
# The docs build sets SK_EBM_FIGURE_DIR and runs the examples without __file__.
FIGURE_DIR = Path(
    os.environ.get("SK_EBM_FIGURE_DIR") or Path(__file__).resolve().parent / "figures"
)
FIGURE_DIR.mkdir(parents=True, exist_ok=True)

# %%
# The split
# ---------
# :func:`~sk_ebm.datasets.semi_supervised_split` is the benchmark's protocol: a
# fixed stratified 75/25 train/test split, then ``n_labeled_per_class`` labels
# per class drawn by ``label_seed``. Which 100 images get a label matters, so
# every model is fitted on three draws.

X, y = load_digits(return_X_y=True)
LABEL_SEEDS = (0, 1, 2)
splits = [
    semi_supervised_split(X, y, n_labeled_per_class=10, label_seed=seed)
    for seed in LABEL_SEEDS
]
print(
    f"{len(splits[0].y_train)} training rows, "
    f"{int(splits[0].labeled_mask.sum())} of them labeled; "
    f"{len(splits[0].y_test)} test rows"
)

# %%
# The models
# ----------
# ``JEMClassifier`` keeps its defaults except ``max_iter``: 15 epochs instead
# of 100, so that the three fits take well under a minute on one CPU thread
# (two of them warn that the loss was still falling). Here 30 epochs scored no
# higher; the README's benchmark, at the full 100 epochs, averages 92.7 % over
# three label draws. The logistic regression sees the labeled rows only.

MODELS = {
    # name: (estimator, fitted on the labeled rows only)
    "JEMClassifier": (JEMClassifier(max_iter=15, random_state=0), False),
    "LabelSpreading (knn)": (
        make_pipeline(StandardScaler(), LabelSpreading(kernel="knn")),
        False,
    ),
    "LogisticRegression (labeled rows)": (
        make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)),
        True,
    ),
}

accuracy = {name: [] for name in MODELS}
for split in splits:
    for name, (estimator, labeled_only) in MODELS.items():
        rows = split.labeled_mask if labeled_only else slice(None)
        model = clone(estimator).fit(split.X_train[rows], split.y_train[rows])
        accuracy[name].append(model.score(split.X_test, split.y_test))
for name, values in accuracy.items():
    print(f"{name:<36} mean {np.mean(values):.3f}, draws {np.round(values, 3)}")

# %%
# Test accuracy
# -------------
# Bars are the mean over the three label draws, dots the single draws.

fig, ax = plt.subplots(figsize=(7, 4), layout="constrained")
names = list(accuracy)
positions = np.arange(len(names))
means = [np.mean(accuracy[name]) for name in names]
bars = ax.bar(positions, means, color=["tab:blue", "tab:gray", "tab:gray"])
ax.bar_label(bars, fmt="%.3f", label_type="center", color="white")
for position, name in zip(positions, names):
    ax.scatter(np.full(len(LABEL_SEEDS), position), accuracy[name], color="k", s=12)
ax.set_xticks(positions, [name.replace(" (", "\n(") for name in names])
ax.set_ylim(0.5, 1.0)
ax.set_ylabel("test accuracy")
ax.set_title("digits, 10 labels per class (3 label draws)")
fig.savefig(FIGURE_DIR / "semi_supervised_digits.png", dpi=80)

# %%
# JEM is ahead of the logistic regression on the labeled rows by about two
# points on average (by 0.2 points on the second draw) and behind
# LabelSpreading, whose assumption that nearby images share a label suits
# digits well. JEM's unlabeled rows also give it a density: see the
# out-of-distribution example.
