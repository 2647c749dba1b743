"""Calibration and out-of-distribution detection metrics.

Two families of numbers that scikit-learn does not provide directly:

- calibration of a classifier's probabilities: :func:`expected_calibration_error`
  and the data behind a reliability diagram, :func:`reliability_curve`;
- separation of in-distribution from out-of-distribution (OOD) rows by a score:
  :func:`ood_auroc` and :func:`fpr_at_tpr`;
- accuracy on semi-supervised targets, where ``-1`` marks an unlabeled row:
  :func:`labeled_accuracy_score` and :data:`labeled_accuracy_scorer`, for
  ``GridSearchCV(scoring=...)`` and ``cross_val_score``.

All OOD functions take scores where **higher means more in-distribution**
(``score_samples`` of an sklearn outlier detector or of an energy model, which is
the negative energy) and treat the in-distribution rows as the positive class.

This module depends on numpy and scikit-learn only.
"""

import warnings
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import UndefinedMetricWarning
from sklearn.metrics import accuracy_score, make_scorer, roc_auc_score, roc_curve
from sklearn.utils import Bunch, check_array
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

__all__ = [
    "expected_calibration_error",
    "fpr_at_tpr",
    "labeled_accuracy_score",
    "labeled_accuracy_scorer",
    "ood_auroc",
    "reliability_curve",
]

#: The marker of an unlabeled row (scikit-learn's semi-supervised convention).
UNLABELED = -1


@validate_params(
    {
        "y_true": ["array-like"],
        "y_pred": ["array-like"],
        "sample_weight": ["array-like", None],
    },
    prefer_skip_nested_validation=True,
)
def labeled_accuracy_score(y_true, y_pred, *, sample_weight=None):
    """Accuracy over the labeled rows only: rows with ``y_true == -1`` are skipped.

    With semi-supervised targets, plain accuracy counts every unlabeled row as
    an error (no model predicts the class ``-1``); this is the accuracy a
    model selection on such targets should compare.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels, ``-1`` on unlabeled rows (the integer, also inside an
        object array of string labels).
    y_pred : array-like of shape (n_samples,)
        Predicted labels.
    sample_weight : array-like of shape (n_samples,), default=None
        Weights of the rows (those of unlabeled rows are ignored).

    Returns
    -------
    float
        The share of labeled rows predicted right; NaN, with an
        ``UndefinedMetricWarning``, when no row is labeled.

    Examples
    --------
    >>> from sk_ebm.metrics import labeled_accuracy_score
    >>> labeled_accuracy_score([0, 1, -1, -1], [0, 0, 1, 1])
    0.5
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labeled = ~np.asarray(y_true == UNLABELED, dtype=bool)
    if not labeled.any():
        warnings.warn(
            "labeled_accuracy_score got no labeled row (every y_true is -1); "
            "returning NaN.",
            UndefinedMetricWarning,
        )
        return float("nan")
    if sample_weight is not None:
        sample_weight = np.asarray(sample_weight)[labeled]
    return float(
        accuracy_score(y_true[labeled], y_pred[labeled], sample_weight=sample_weight)
    )


#: ``scoring=labeled_accuracy_scorer`` in ``GridSearchCV`` or
#: ``cross_val_score``: :func:`labeled_accuracy_score` of ``predict``.
labeled_accuracy_scorer = make_scorer(labeled_accuracy_score)


# --------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------


def _check_calibration_input(y_true, y_prob):
    """Validate ``(y_true, y_prob)``; return top-label confidence and correctness.

    Returns
    -------
    confidence : ndarray of shape (n_samples,), dtype float64
        Largest predicted probability of each row.
    correct : ndarray of shape (n_samples,), dtype float64
        1.0 where the most probable class is ``y_true``, else 0.0.
    """
    y_prob = check_array(
        y_prob,
        ensure_2d=False,
        dtype=[np.float64, np.float32],
        allow_nd=True,
        input_name="y_prob",
    )
    if y_prob.ndim not in (1, 2):
        raise ValueError(
            "y_prob must be of shape (n_samples,) or (n_samples, n_classes); "
            f"got shape {y_prob.shape}."
        )
    y_true = check_array(
        y_true, ensure_2d=False, allow_nd=True, dtype=None, input_name="y_true"
    )
    if y_true.ndim != 1:
        raise ValueError(f"y_true must be of shape (n_samples,); got {y_true.shape}.")
    if y_true.shape[0] != y_prob.shape[0]:
        raise ValueError(
            f"y_true has {y_true.shape[0]} rows but y_prob has {y_prob.shape[0]}."
        )
    if y_true.dtype.kind == "f" and np.all(y_true == np.round(y_true)):
        y_true = y_true.astype(np.int64)
    if y_true.dtype.kind not in "iub":
        raise ValueError(
            "y_true must hold integer class indices 0..n_classes-1 (column positions "
            f"in y_prob); got dtype {y_true.dtype}. Map labels to indices first, e.g. "
            "np.searchsorted(clf.classes_, y)."
        )

    lo, hi = y_prob.min(), y_prob.max()
    if lo < 0 or hi > 1:
        raise ValueError(
            f"y_prob must lie in [0, 1]; found values in [{lo:.6g}, {hi:.6g}]."
        )

    n_classes = 2 if y_prob.ndim == 1 else y_prob.shape[1]
    if y_true.min() < 0 or y_true.max() >= n_classes:
        what = "binary y_prob of shape (n_samples,)" if y_prob.ndim == 1 else "y_prob"
        raise ValueError(
            f"y_true must hold class indices in 0..{n_classes - 1} to match {what}; "
            f"found values in [{y_true.min()}, {y_true.max()}]."
        )

    if y_prob.ndim == 1:
        p = y_prob.astype(np.float64)
        confidence = np.maximum(p, 1.0 - p)
        predicted = (p > 0.5).astype(np.int64)
    else:
        row_sum = y_prob.sum(axis=1, dtype=np.float64)
        atol = max(1e-6, float(np.sqrt(np.finfo(y_prob.dtype).eps)))
        bad = np.abs(row_sum - 1.0) > atol
        if np.any(bad):
            raise ValueError(
                f"Each row of y_prob must sum to 1 (tolerance {atol:.2g}); "
                f"{int(bad.sum())} of {len(bad)} rows do not, e.g. row "
                f"{int(np.flatnonzero(bad)[0])} sums to {row_sum[bad][0]:.6g}."
            )
        confidence = y_prob.max(axis=1).astype(np.float64)
        predicted = y_prob.argmax(axis=1)
    correct = (predicted == y_true).astype(np.float64)
    return confidence, correct


def _binned_calibration(confidence, correct, n_bins, strategy):
    """Bin edges and per-bin (count, confidence sum, correct sum), all bins."""
    if strategy == "uniform":
        edges = np.linspace(0.0, 1.0, n_bins + 1)
    else:  # "quantile"
        edges = np.quantile(confidence, np.linspace(0.0, 1.0, n_bins + 1))
    # Right-closed bins (edges[b], edges[b + 1]]; the first bin also takes
    # everything at or below edges[1] and the last everything above edges[-2].
    bin_ids = np.searchsorted(edges[1:-1], confidence, side="left")
    count = np.bincount(bin_ids, minlength=n_bins)
    conf_sum = np.bincount(bin_ids, weights=confidence, minlength=n_bins)
    correct_sum = np.bincount(bin_ids, weights=correct, minlength=n_bins)
    return edges, count, conf_sum, correct_sum


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"uniform", "quantile"})],
    },
    prefer_skip_nested_validation=True,
)
def expected_calibration_error(y_true, y_prob, *, n_bins=15, strategy="uniform"):
    """Expected calibration error (ECE) of top-label probabilities.

    Each row's confidence is its largest predicted probability and it counts as
    correct when that class is ``y_true``. Rows are grouped into ``n_bins`` bins of
    confidence and

    .. math:: \\mathrm{ECE} = \\sum_b \\frac{n_b}{n}\\,|\\mathrm{acc}_b -
              \\mathrm{conf}_b|,

    where :math:`\\mathrm{acc}_b` and :math:`\\mathrm{conf}_b` are the accuracy and
    mean confidence of the :math:`n_b` rows in bin :math:`b` (empty bins add
    nothing). 0 is perfect calibration; the maximum is 1.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes as **integer indices** 0..n_classes-1, i.e. positions of the
        columns of ``y_prob`` (not the original labels). For an sklearn classifier,
        ``np.searchsorted(clf.classes_, y)`` gives them. With a 1-D ``y_prob``,
        ``y_true`` must be in {0, 1}.

    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, e.g. ``clf.predict_proba(X)``. Each row must lie in
        [0, 1] and sum to 1 within ``max(1e-6, sqrt(eps))`` for the array's dtype
        (about 3.5e-4 for float32). A 1-D array is read as the probability of class
        1 of a binary problem: its confidence is ``max(p, 1 - p)`` and it predicts
        class 1 when ``p > 0.5``.

    n_bins : int, default=15
        Number of confidence bins.

    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins on [0, 1]. ``"quantile"``: bin edges at the
        quantiles of the confidences, so bins hold about the same number of rows
        (edges that coincide give empty bins, which are skipped).

    Returns
    -------
    ece : float
        The expected calibration error, in [0, 1].

    See Also
    --------
    reliability_curve : The per-bin numbers behind this sum.
    sklearn.calibration.calibration_curve : Binary reliability curve.

    Notes
    -----
    Bins are right-closed, ``(edge[b], edge[b + 1]]``, as in Guo et al.; the first
    bin also holds everything at or below its upper edge. The confidence of a row
    is at least ``1 / n_classes``, so low bins stay empty for few classes. A tie
    for the top probability predicts the first of the tied classes (as
    :func:`numpy.argmax`; ``p = 0.5`` predicts class 0 for a 1-D ``y_prob``).
    ECE depends on ``n_bins`` and is biased upwards for small samples; compare
    models at the same ``n_bins`` and sample size.

    References
    ----------
    C. Guo, G. Pleiss, Y. Sun and K. Q. Weinberger, "On Calibration of Modern
    Neural Networks", ICML 2017, arXiv:1706.04599.

    Examples
    --------
    >>> from sk_ebm.metrics import expected_calibration_error
    >>> y_true = [0, 1, 1, 2]
    >>> y_prob = [[0.9, 0.05, 0.05],
    ...           [0.8, 0.1, 0.1],
    ...           [0.2, 0.7, 0.1],
    ...           [0.25, 0.35, 0.4]]
    >>> round(expected_calibration_error(y_true, y_prob, n_bins=2), 6)
    0.25
    >>> round(expected_calibration_error(y_true, y_prob, n_bins=2,
    ...                                  strategy="quantile"), 6)
    0.4
    """
    confidence, correct = _check_calibration_input(y_true, y_prob)
    _, _, conf_sum, correct_sum = _binned_calibration(
        confidence, correct, n_bins, strategy
    )
    # sum_b n_b / n * |acc_b - conf_b| == sum_b |correct_sum_b - conf_sum_b| / n
    return float(np.abs(correct_sum - conf_sum).sum() / confidence.shape[0])


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"uniform", "quantile"})],
    },
    prefer_skip_nested_validation=True,
)
def reliability_curve(y_true, y_prob, *, n_bins=15, strategy="uniform"):
    """Per-bin confidence and accuracy: the data of a reliability diagram.

    Uses exactly the bins of :func:`expected_calibration_error`, and returns only
    the non-empty ones, in increasing order of confidence. A perfectly calibrated
    model has ``accuracy == mean_confidence`` in every bin.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes as integer indices 0..n_classes-1 (column positions of
        ``y_prob``); in {0, 1} when ``y_prob`` is 1-D.

    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities; see :func:`expected_calibration_error`.

    n_bins : int, default=15
        Number of confidence bins (before dropping the empty ones).

    strategy : {"uniform", "quantile"}, default="uniform"
        ``"uniform"``: equal-width bins on [0, 1]. ``"quantile"``: equal-frequency
        bins with edges at the quantiles of the confidences.

    Returns
    -------
    curve : :class:`~sklearn.utils.Bunch`
        Arrays of shape (n_nonempty_bins,) with keys

        mean_confidence : ndarray of float
            Mean top-label probability of the rows in each bin.
        accuracy : ndarray of float
            Fraction of rows in each bin whose most probable class is right.
        count : ndarray of int
            Number of rows in each bin; sums to n_samples.
        bin_lower, bin_upper : ndarray of float
            Edges of each bin, ``(bin_lower, bin_upper]``. For
            ``strategy="quantile"`` the outermost edges are the smallest and the
            largest confidence, not 0 and 1.

    See Also
    --------
    expected_calibration_error : ``sum(count / n * |accuracy - mean_confidence|)``.
    sklearn.calibration.calibration_curve : Binary reliability curve on the
        probability of the positive class instead of the top-label confidence.

    Examples
    --------
    >>> from sk_ebm.metrics import reliability_curve
    >>> y_true = [1, 0, 0, 1]
    >>> y_prob = [0.875, 0.625, 0.25, 0.125]  # binary: probability of class 1
    >>> curve = reliability_curve(y_true, y_prob, n_bins=4)
    >>> curve.mean_confidence.tolist(), curve.accuracy.tolist()
    ([0.6875, 0.875], [0.5, 0.5])
    >>> curve.count.tolist(), curve.bin_lower.tolist(), curve.bin_upper.tolist()
    ([2, 2], [0.5, 0.75], [0.75, 1.0])
    """
    confidence, correct = _check_calibration_input(y_true, y_prob)
    edges, count, conf_sum, correct_sum = _binned_calibration(
        confidence, correct, n_bins, strategy
    )
    keep = count > 0
    return Bunch(
        mean_confidence=conf_sum[keep] / count[keep],
        accuracy=correct_sum[keep] / count[keep],
        count=count[keep],
        bin_lower=edges[:-1][keep],
        bin_upper=edges[1:][keep],
    )


# --------------------------------------------------------------------------------------
# Out-of-distribution detection
# --------------------------------------------------------------------------------------


def _ood_labels_and_scores(score_in, score_out):
    """Validate both score vectors; return (is_in, scores) for sklearn's curves."""
    checked = []
    for name, score in (("score_in", score_in), ("score_out", score_out)):
        # raises ValueError on NaN, inf and empty input, naming the argument
        score = check_array(
            score, ensure_2d=False, allow_nd=True, dtype=np.float64, input_name=name
        )
        if score.ndim != 1:
            raise ValueError(
                f"{name} must be of shape (n_samples,); got {score.shape}."
            )
        checked.append(score)
    score_in, score_out = checked
    is_in = np.r_[np.ones(len(score_in), dtype=int), np.zeros(len(score_out), int)]
    return is_in, np.concatenate([score_in, score_out])


@validate_params(
    {"score_in": ["array-like"], "score_out": ["array-like"]},
    prefer_skip_nested_validation=True,
)
def ood_auroc(score_in, score_out):
    """Area under the ROC curve for separating in- from out-of-distribution rows.

    .. important::
       **Higher score = more in-distribution.** In-distribution rows are the
       positive class. Pass ``score_samples`` (or ``decision_function``) of an
       sklearn outlier detector or of an energy model (= negative energy) as is.
       Passing an outlier score or an energy (higher = more anomalous) gives
       ``1 - auroc``.

    Parameters
    ----------
    score_in : array-like of shape (n_in,)
        Scores of in-distribution rows (e.g. the test rows of the training
        classes). Finite, non-empty.

    score_out : array-like of shape (n_out,)
        Scores of out-of-distribution rows. Finite, non-empty.

    Returns
    -------
    auroc : float
        Probability that a random in-distribution row scores higher than a random
        out-of-distribution row, ties counting one half. 1.0 is perfect, 0.5 is
        chance, below 0.5 usually means the sign of the score is inverted.

    See Also
    --------
    fpr_at_tpr : Fraction of OOD rows accepted at a fixed in-distribution recall.
    sklearn.metrics.roc_auc_score : The computation used here.

    Examples
    --------
    >>> from sk_ebm.metrics import ood_auroc
    >>> ood_auroc([0.9, 0.8, 0.4, 0.3], [0.5, 0.1])  # 6 of 8 pairs ordered right
    0.75
    >>> ood_auroc([0.5, 0.1], [0.9, 0.8, 0.4, 0.3])  # swapped: 1 - auroc
    0.25
    """
    is_in, scores = _ood_labels_and_scores(score_in, score_out)
    return float(roc_auc_score(is_in, scores))


@validate_params(
    {
        "score_in": ["array-like"],
        "score_out": ["array-like"],
        "tpr": [Interval(Real, 0, 1, closed="right")],
    },
    prefer_skip_nested_validation=True,
)
def fpr_at_tpr(score_in, score_out, *, tpr=0.95):
    """False positive rate at the threshold that keeps ``tpr`` of the inliers.

    Rows with ``score >= t`` are accepted as in-distribution. The threshold ``t``
    is the largest score value at which the fraction of in-distribution rows
    accepted (the true positive rate) is at least ``tpr``; the result is the
    fraction of out-of-distribution rows accepted at that ``t`` (ties with ``t``
    are accepted). Lower is better; "FPR at 95 % TPR" is the usual OOD number.

    .. important::
       **Higher score = more in-distribution**, as in :func:`ood_auroc`.

    Parameters
    ----------
    score_in : array-like of shape (n_in,)
        Scores of in-distribution rows (the positive class). Finite, non-empty.

    score_out : array-like of shape (n_out,)
        Scores of out-of-distribution rows. Finite, non-empty.

    tpr : float in (0, 1], default=0.95
        Required true positive rate on the in-distribution rows.

    Returns
    -------
    fpr : float
        Fraction of ``score_out`` at or above the threshold, in [0, 1].

    See Also
    --------
    ood_auroc : Threshold-free summary of the same ROC curve.
    sklearn.metrics.roc_curve : Gives the ROC points used here (computed with
        ``drop_intermediate=False``); the answer is ``fpr[i]`` at the first ``i``
        with ``tpr[i] >= tpr``.

    Notes
    -----
    With ``n_in`` inliers the attainable true positive rates are multiples of
    ``1 / n_in``; the first one at or above ``tpr`` is used, never interpolated.

    Examples
    --------
    >>> from sk_ebm.metrics import fpr_at_tpr
    >>> score_in = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]
    >>> score_out = [0.5, 2.5, 5.5, 9.5]
    >>> fpr_at_tpr(score_in, score_out, tpr=0.8)  # t = 3 keeps 8 of 10 inliers
    0.5
    >>> fpr_at_tpr(score_in, score_out)  # 95 % needs all 10, t = 1
    0.75
    """
    is_in, scores = _ood_labels_and_scores(score_in, score_out)
    fpr, tpr_curve, _ = roc_curve(is_in, scores, drop_intermediate=False)
    return float(fpr[np.searchsorted(tpr_curve, tpr, side="left")])
