"""
Out-of-distribution scores: digits 0-4 against 5-9
==================================================

A classifier fitted on the digits 0-4 is shown test images of all ten digits.
Can it tell the digits it never saw (5-9) from those it knows? Each model
gives every test image a score, higher meaning more in-distribution; the AUROC
is the probability that a random 0-4 image scores above a random 5-9 image.

:class:`~sk_ebm.JEMClassifier`'s ``score_samples`` is its unnormalised
``log p(x)``. The usual score of a plain classifier is its largest class
probability ("max-softmax"); we compute it for JEM too
(``ood_score="max_softmax"``) and for scikit-learn's
:class:`~sklearn.neural_network.MLPClassifier`.
"""

import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_ebm import JEMClassifier
from sk_ebm.datasets import load_digits_ood
from sk_ebm.plotting import plot_samples, plot_score_histogram

# Small networks train fastest on one thread (two threads on a 2-core machine
# can be far slower); sk_ebm never changes this setting itself.
torch.set_num_threads(1)
# The docs build sets SK_EBM_FIGURE_DIR and runs the examples without __file__.
FIGURE_DIR = Path(
    os.environ.get("SK_EBM_FIGURE_DIR") or Path(__file__).resolve().parent / "figures"
)
FIGURE_DIR.mkdir(parents=True, exist_ok=True)

# %%
# Data and models
# ---------------
# :func:`~sk_ebm.datasets.load_digits_ood` keeps the training images of 0-4
# and all test images, with ``is_in_test`` flagging the 0-4 ones. JEM runs 40
# epochs instead of 100 to keep the example short, and warns that its loss was
# still falling.

split = load_digits_ood(in_classes=(0, 1, 2, 3, 4))
is_in = split.is_in_test
print(f"{len(split.X_train)} training rows; {is_in.sum()} in, {(~is_in).sum()} out")

jem = JEMClassifier(max_iter=40, random_state=0).fit(split.X_train, split.y_train)
mlp = make_pipeline(
    StandardScaler(), MLPClassifier((256, 256), max_iter=500, random_state=0)
).fit(split.X_train, split.y_train)

scores = {
    "JEM: log p(x) (score_samples)": jem.score_samples(split.X_test),
    "JEM: max-softmax": jem.set_params(ood_score="max_softmax").score_samples(
        split.X_test
    ),
    "MLPClassifier: max-softmax": mlp.predict_proba(split.X_test).max(axis=1),
}
jem.set_params(ood_score="logp")  # back to the default for what follows

# %%
# Score histograms
# ----------------
# ``ood_score`` only changes what ``score_samples`` returns, so the fitted
# model answers all three without refitting.

fig, axes = plt.subplots(1, 3, figsize=(15, 4), layout="constrained")
for ax, (name, score) in zip(axes, scores.items()):
    plot_score_histogram(score[is_in], score[~is_in], labels=("0-4", "5-9"), ax=ax)
    ax.set_title(name)
fig.savefig(FIGURE_DIR / "ood_scores.png", dpi=80)

# %%
# The log-density separates the unseen digits best. Max-softmax scores pile
# up near 1 for both groups: a classifier is confident about a 7 it has never
# seen, because it only learned to tell 0-4 apart.
#
# The mistakes
# ------------
# Left: the 0-4 test images with the lowest ``log p(x)``; right: the 5-9
# images with the highest. Both are drawn with
# :func:`~sk_ebm.plotting.plot_samples`, which also shows plain arrays.

logp = scores["JEM: log p(x) (score_samples)"]
X_in, X_out = split.X_test[is_in], split.X_test[~is_in]
least_typical_in = X_in[np.argsort(logp[is_in])[:16]]
most_typical_out = X_out[np.argsort(logp[~is_in])[::-1][:16]]

fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4.3), layout="constrained")
plot_samples(least_typical_in, split.X_train, image_shape=(8, 8), ax=left)
plot_samples(most_typical_out, split.X_train, image_shape=(8, 8), ax=right)
left.set_title("0-4 with the lowest log p(x)")
right.set_title("5-9 with the highest log p(x)")
fig.savefig(FIGURE_DIR / "ood_mistakes.png", dpi=80)
