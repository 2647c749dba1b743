"""
Energy landscape and decision regions on two moons
==================================================

A :class:`~sk_ebm.JEMClassifier` is fitted on 500 points of scikit-learn's two
moons, of which only 5 per class carry a label: ``y == -1`` marks the other 490.
The network's logits ``f(x)`` define both the classifier ``softmax(f(x))`` and
the energy ``E(x) = -logsumexp f(x)``, so one fit gives two pictures: the
decision regions, and ``score_samples`` (``-E(x)``, an unnormalised log density)
over the plane. A multilayer perceptron trained on the 10 labeled points alone
shows what the unlabeled points add.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import make_moons
from sklearn.inspection import DecisionBoundaryDisplay
from sklearn.neural_network import MLPClassifier

from sk_ebm import JEMClassifier
from sk_ebm.plotting import plot_energy_landscape, plot_training_curves

# Small networks train fastest on one thread (two threads on a 2-core machine
# can be far slower); sk_ebm never changes this setting itself.
torch.set_num_threads(1)
# The docs build sets SK_EBM_FIGURE_DIR and runs the examples without __file__.
FIGURE_DIR = Path(
    os.environ.get("SK_EBM_FIGURE_DIR") or Path(__file__).resolve().parent / "figures"
)
FIGURE_DIR.mkdir(parents=True, exist_ok=True)

# %%
# Data: 5 labels per class
# ------------------------
# Unlabeled rows get the label -1, scikit-learn's semi-supervised convention.
# A second, larger sample of the moons is the test set.

X, y = make_moons(500, noise=0.1, random_state=0)
X_test, y_test = make_moons(1000, noise=0.1, random_state=1)

rng = np.random.default_rng(0)
y_ssl = np.full_like(y, -1)
for label in (0, 1):
    y_ssl[rng.choice(np.flatnonzero(y == label), 5, replace=False)] = label
labeled = y_ssl != -1

# %%
# Fit the joint energy-based model and a supervised baseline
# ----------------------------------------------------------
# ``alpha`` weights the ``log p(x)`` term, which all 500 rows train, against the
# cross-entropy on the 10 labeled rows. Its default, 0.1, suits data sets with
# a hundred labels; with ten, the unlabeled rows have to carry the boundary, so
# both terms get the same weight here. 60 epochs keep the example short.

jem = JEMClassifier(alpha=1.0, max_iter=60, random_state=0).fit(X, y_ssl)
mlp = MLPClassifier((256, 256), max_iter=2000, random_state=0)
mlp.fit(X[labeled], y[labeled])

# %%
# Decision regions and the energy landscape
# -----------------------------------------
# Left and middle: the probability of the second moon, with the 10 labeled
# points as large markers and the unlabeled ones as dots. Right: the model's
# ``score_samples``; high values (bright) are where it puts its density.


def show_points(ax):
    ax.scatter(*X[~labeled].T, s=3, color="0.3")
    ax.scatter(*X[labeled].T, c=y[labeled], cmap="RdBu", s=80, edgecolors="k")


fig, axes = plt.subplots(1, 3, figsize=(15, 4.5), layout="constrained")
for ax, (name, model) in zip(axes, [("MLP on the 10 labels", mlp), ("JEM", jem)]):
    DecisionBoundaryDisplay.from_estimator(
        model, X, response_method="predict_proba", cmap="RdBu", alpha=0.6, ax=ax
    )
    show_points(ax)
    accuracy = model.score(X_test, y_test)
    ax.set_title(f"{name}: test accuracy {accuracy:.3f}")
    print(f"{name}: test accuracy {accuracy:.3f}")
plot_energy_landscape(jem, X, ax=axes[2])
axes[2].set_title("JEM: score_samples = -energy")
fig.savefig(FIGURE_DIR / "moons_energy.png", dpi=80)

# %%
# Training curves
# ---------------
# ``history_`` holds one row per epoch. The energies of data (``e_data``) and of
# the sampler's chains (``e_sample``) should stay close: a widening gap means
# the sampler no longer finds the model's low-energy regions.

axes = plot_training_curves(jem)
axes[0].figure.savefig(FIGURE_DIR / "moons_training_curves.png", dpi=80)
