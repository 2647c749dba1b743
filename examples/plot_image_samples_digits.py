"""
Images: a convolutional JEM on 8x8 digits, and samples of each class
====================================================================

Images reach :class:`~sk_ebm.JEMClassifier` as ordinary rows, one flattened
image per row, so they go through scikit-learn pipelines and splitters
unchanged. ``input_shape`` says how to fold a row back into an image; with it,
the estimator

- picks the convolutional energy network (``network="auto"`` becomes
  ``"conv"``, :class:`sk_ebm.nets.ConvEnergyNet`, with ``channels`` as its
  widths),
- scales all pixels together to [-1, 1] and trains on them with a little
  Gaussian noise, as JEM does,
- and returns samples in the data's pixel units, clipped to its pixel range.

This example fits one to sklearn's 8x8 digits and draws a grid of samples of
``p(x | y)``, one row per class, with :func:`sk_ebm.plotting.plot_sample_grid`.
"""

import os
import time
from pathlib import Path

import torch
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from sk_ebm import JEMClassifier
from sk_ebm.metrics import expected_calibration_error
from sk_ebm.plotting import plot_sample_grid

# Small networks train fastest on one thread (two threads on a 2-core machine
# can be far slower); sk_ebm never changes this setting itself.
torch.set_num_threads(1)
# The docs build sets SK_EBM_FIGURE_DIR and runs the examples without __file__.
FIGURE_DIR = Path(
    os.environ.get("SK_EBM_FIGURE_DIR") or Path(__file__).resolve().parent / "figures"
)
FIGURE_DIR.mkdir(parents=True, exist_ok=True)

# %%
# Data and fit
# ------------
# 1,347 training images of 8x8 pixels with values 0 to 16. A short budget
# for the gallery: 15 epochs with chains of 10 SGLD steps;
# ``benchmarks/images.py`` trains on Fashion-MNIST and measures more.

X, y = load_digits(return_X_y=True)
X_train, X_test, y_train, y_test = train_test_split(
    X, y, test_size=0.25, stratify=y, random_state=0
)
start = time.perf_counter()
clf = JEMClassifier(input_shape=(1, 8, 8), max_iter=15, n_steps=10, random_state=0).fit(
    X_train, y_train
)
print(f"fitted in {time.perf_counter() - start:.1f} s: {clf.network_config_}")
proba = clf.predict_proba(X_test)
print(f"test accuracy {clf.score(X_test, y_test):.3f}")
print(f"test ECE {expected_calibration_error(y_test, proba):.3f}")

# %%
# Samples of each class
# ---------------------
# Each row holds draws from ``p(x | y)`` for one digit: chains start from a
# Gaussian fitted to that class's training images and follow the class energy
# ``-f(x)[y]`` for ``n_steps`` SGLD steps. The grey scale is the training
# images' (0 to 16).

ax = plot_sample_grid(clf, X_train, n_per_class=10, random_state=0)
ax.set_title("JEMClassifier samples, one row per class")
ax.figure.set_size_inches(5, 5.5)
ax.figure.savefig(FIGURE_DIR / "image_samples_digits.png", dpi=80)

# %%
# What the figure shows
# ---------------------
# After 15 short epochs, the samples of most classes are recognisable digits
# drawn near their class's mean image: short chains started from the class
# Gaussians move them towards lower class energy, not far from where they
# started. Longer training and longer chains give sharper, more varied
# samples, at a cost that grows with both.
