"""Benchmark protocols: the semi-supervised split and the digits OOD split."""

from numbers import Integral, Real

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

_DIGITS_OOD_DESCR = """\
Digits out-of-distribution split
--------------------------------

sklearn's 8x8 digits (1,797 rows, 64 features, pixel values 0..16, not scaled),
split once with train_test_split(stratify=y, test_size={test_size},
random_state={random_state}). In-distribution classes: {in_classes}.

- X_train, y_train: the in-distribution rows of the train part ({n_train} rows);
  the out-of-distribution train rows are discarded.
- X_test, y_test: the whole test part ({n_test} rows, original digit labels),
  {n_in} in-distribution and {n_out} out-of-distribution rows;
  is_in_test marks the in-distribution ones.
"""


@validate_params(
    {
        "y": ["array-like"],
        "n_labeled_per_class": [Interval(Integral, 1, None, closed="left")],
        "label_seed": [
            Interval(Integral, 0, None, closed="left"),
            np.random.Generator,
            None,
        ],
    },
    prefer_skip_nested_validation=True,
)
def hide_labels(y, n_labeled_per_class, *, label_seed=0):
    """Keep ``n_labeled_per_class`` labels of each class; mark the rest unlabeled.

    ``rng = np.random.default_rng(label_seed)``; for each class ``c``, in sorted
    order, ``rng.choice(np.flatnonzero(y == c), n_labeled_per_class,
    replace=False)`` picks the rows that keep their label. Every other row gets
    ``-1``, the unlabeled marker of ``JEMClassifier`` and of
    :class:`sklearn.semi_supervised.SelfTrainingClassifier`. This is step 2 of
    :func:`semi_supervised_split`, for data already split.

    Parameters
    ----------
    y : array-like of shape (n_samples,)
        Class labels. Numeric labels must not include -1.

    n_labeled_per_class : int
        Labels kept per class. Every class needs at least that many rows.

    label_seed : int, numpy Generator or None, default=0
        Seed of :func:`numpy.random.default_rng` that picks the labeled rows.
        None gives a different draw on every call.

    Returns
    -------
    y_ssl : ndarray of shape (n_samples,)
        The kept labels and -1 elsewhere. Its dtype is that of ``y`` for
        signed integer and float labels, int64 for unsigned integer and
        boolean labels, and object (labels and the int -1) for any other
        labels such as strings.

    See Also
    --------
    semi_supervised_split : Split off a test part first, then this.

    Examples
    --------
    >>> from sk_ebm.datasets import hide_labels
    >>> hide_labels([0, 0, 0, 1, 1, 1], 1, label_seed=0)
    array([-1, -1,  0, -1,  1, -1])
    """
    y = _check_labels(y)
    return _unlabel(y, _labeled_rows(y, n_labeled_per_class, label_seed))


def _labeled_rows(y, n_labeled_per_class, label_seed, where=""):
    """Boolean mask of the rows that keep their label (see :func:`hide_labels`)."""
    rng = np.random.default_rng(label_seed)
    labeled_mask = np.zeros(len(y), dtype=bool)
    for c in np.unique(y):
        rows = np.flatnonzero(y == c)
        if len(rows) < n_labeled_per_class:
            # .item(): "Class 1", not "Class np.int64(1)"
            raise ValueError(
                f"Class {c.item()!r} has {len(rows)} rows{where}, fewer than "
                f"n_labeled_per_class={n_labeled_per_class}."
            )
        labeled_mask[rng.choice(rows, n_labeled_per_class, replace=False)] = True
    return labeled_mask


def _unlabel(y, labeled_mask):
    """``y`` with -1 outside ``labeled_mask``, in a dtype that can hold -1."""
    if y.dtype.kind in "if":
        y_ssl = np.full_like(y, -1)
    elif y.dtype.kind in "ub":
        y_ssl = np.full(len(y), -1, dtype=np.int64)
    else:
        y_ssl = np.full(len(y), -1, dtype=object)
    y_ssl[labeled_mask] = y[labeled_mask]
    return y_ssl


def _check_labels(y):
    """``y`` as a 1-D array without the unlabeled marker -1."""
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"y must be of shape (n_samples,); got {y.shape}.")
    if y.dtype.kind in "if" and np.any(y == -1):
        raise ValueError(
            "y already contains -1, the marker of unlabeled rows; recode the labels "
            "first (e.g. sklearn.preprocessing.LabelEncoder)."
        )
    return y


@validate_params(
    {
        "X": ["array-like", "sparse matrix"],
        "y": ["array-like"],
        "n_labeled_per_class": [Interval(Integral, 1, None, closed="left")],
        "test_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "random_state": ["random_state"],
        "label_seed": [
            Interval(Integral, 0, None, closed="left"),
            np.random.Generator,
            None,
        ],
    },
    prefer_skip_nested_validation=True,
)
def semi_supervised_split(
    X, y, *, n_labeled_per_class, test_size=0.25, random_state=0, label_seed=0
):
    """Split data for the semi-supervised benchmark: test part, labeled, unlabeled.

    The protocol of the sk_ebm benchmarks (``docs/design.md`` section 5):

    1. one stratified train/test split,
       ``train_test_split(X, y, test_size=test_size, random_state=random_state,
       stratify=y)``; it does not depend on ``label_seed``, so the test part is
       the same for every seed;
    2. ``rng = np.random.default_rng(label_seed)``; for each class ``c`` of the
       train part, in sorted order,
       ``rng.choice(np.flatnonzero(y_train_full == c), n_labeled_per_class,
       replace=False)`` picks the labeled rows;
    3. every other train row gets the unlabeled marker ``-1``, the convention of
       :class:`sklearn.semi_supervised.SelfTrainingClassifier` and of
       ``JEMClassifier``.

    Parameters
    ----------
    X : {array-like, sparse matrix} of shape (n_samples, n_features)
        Features; any type :func:`~sklearn.model_selection.train_test_split`
        accepts (the parts keep it, e.g. DataFrames stay DataFrames).

    y : array-like of shape (n_samples,)
        Class labels. Numeric labels must not include -1.

    n_labeled_per_class : int
        Number of labeled train rows kept per class (``k``). Every class needs at
        least that many rows in the train part.

    test_size : float or int, default=0.25
        Fraction (float in (0, 1)) or number (int) of rows in the test part.

    random_state : int, RandomState instance or None, default=0
        Seed of the train/test split. Keep the default to compare with the
        published baselines.

    label_seed : int, numpy Generator or None, default=0
        Seed of :func:`numpy.random.default_rng` that picks the labeled rows; the
        benchmarks use 0, 1 and 2. None gives a different draw on every call.

    Returns
    -------
    split : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        X_train : array-like of shape (n_train, n_features)
            All train rows, labeled and unlabeled.
        y_train : ndarray of shape (n_train,)
            Labels of the labeled rows and -1 elsewhere. Its dtype is that of
            ``y`` for signed integer and float labels, int64 for unsigned
            integer and boolean labels, and object (labels and the int -1)
            for any other labels such as strings.
        y_train_full : ndarray of shape (n_train,)
            The true labels of all train rows (for analysis only).
        labeled_mask : ndarray of shape (n_train,), dtype bool
            True on the labeled rows; ``n_labeled_per_class * n_classes`` of them.
        X_test : array-like of shape (n_test, n_features)
            Test rows.
        y_test : ndarray of shape (n_test,)
            Test labels.

    See Also
    --------
    sklearn.model_selection.train_test_split : Step 1.
    sklearn.semi_supervised.SelfTrainingClassifier : Takes ``y_train`` as is.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.datasets import load_iris
    >>> from sk_ebm.datasets import semi_supervised_split
    >>> X, y = load_iris(return_X_y=True)
    >>> split = semi_supervised_split(X, y, n_labeled_per_class=2, label_seed=1)
    >>> split.X_train.shape, split.X_test.shape
    ((112, 4), (38, 4))
    >>> np.unique(split.y_train, return_counts=True)
    (array([-1,  0,  1,  2]), array([106,   2,   2,   2]))
    """
    y = _check_labels(y)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )

    labeled_mask = _labeled_rows(
        y_train, n_labeled_per_class, label_seed, where=" in the train part"
    )
    y_ssl = _unlabel(y_train, labeled_mask)

    return Bunch(
        X_train=X_train,
        y_train=y_ssl,
        y_train_full=y_train,
        labeled_mask=labeled_mask,
        X_test=X_test,
        y_test=y_test,
    )


@validate_params(
    {
        "in_classes": ["array-like"],
        "test_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def load_digits_ood(*, in_classes=(0, 1, 2, 3, 4), test_size=0.25, random_state=0):
    """Digits split for out-of-distribution detection: fit on some digits only.

    Protocol: one stratified split of all 1,797 digits,
    ``train_test_split(X, y, test_size=test_size, random_state=random_state,
    stratify=y)`` (with the defaults it is the same split as
    :func:`semi_supervised_split` on digits). The train part keeps only the rows
    of ``in_classes``; the test part keeps all its rows, in-distribution and
    out-of-distribution, flagged by ``is_in_test``. Score the test rows with a
    model fitted on ``X_train`` and compute
    ``ood_auroc(score[is_in_test], score[~is_in_test])``.

    Parameters
    ----------
    in_classes : array-like of int, default=(0, 1, 2, 3, 4)
        In-distribution digits: a non-empty proper subset of 0..9.

    test_size : float or int, default=0.25
        Fraction (float in (0, 1)) or number (int) of rows in the test part.

    random_state : int, RandomState instance or None, default=0
        Seed of the split.

    Returns
    -------
    split : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        X_train : ndarray of shape (n_train_in, 64), dtype float64
            In-distribution train rows; pixel values 0..16, not scaled.
        y_train : ndarray of shape (n_train_in,)
            Their digits (values in ``in_classes``).
        X_test : ndarray of shape (n_test, 64)
            All test rows.
        y_test : ndarray of shape (n_test,)
            Their digits, in- and out-of-distribution.
        is_in_test : ndarray of shape (n_test,), dtype bool
            True for in-distribution test rows (the positive class of
            :func:`~sk_ebm.metrics.ood_auroc`).
        in_classes : ndarray
            The sorted in-distribution digits.
        DESCR : str
            Description of the split.

    See Also
    --------
    sk_ebm.metrics.ood_auroc : The metric for this split.
    sklearn.datasets.load_digits : The data.

    Examples
    --------
    >>> from sk_ebm.datasets import load_digits_ood
    >>> split = load_digits_ood()
    >>> split.X_train.shape, split.X_test.shape
    ((675, 64), (450, 64))
    >>> int(split.is_in_test.sum()), int((~split.is_in_test).sum())
    (226, 224)
    """
    in_classes = np.unique(np.asarray(in_classes))
    if (
        in_classes.dtype.kind not in "iu"
        or not 0 < len(in_classes) < 10
        or in_classes.min() < 0
        or in_classes.max() > 9
    ):
        raise ValueError(
            "in_classes must be a non-empty proper subset of the digits 0..9; got "
            f"{in_classes.tolist()}."
        )
    X, y = load_digits(return_X_y=True)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, random_state=random_state, stratify=y
    )
    keep = np.isin(y_train, in_classes)
    is_in_test = np.isin(y_test, in_classes)
    descr = _DIGITS_OOD_DESCR.format(
        test_size=test_size,
        random_state=random_state,
        in_classes=in_classes.tolist(),
        n_train=int(keep.sum()),
        n_test=len(y_test),
        n_in=int(is_in_test.sum()),
        n_out=int((~is_in_test).sum()),
    )
    return Bunch(
        X_train=X_train[keep],
        y_train=y_train[keep],
        X_test=X_test,
        y_test=y_test,
        is_in_test=is_in_test,
        in_classes=in_classes,
        DESCR=descr,
    )
