"""Tests for sk_ebm.metrics: calibration and OOD detection metrics."""

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from sk_ebm.metrics import (
    expected_calibration_error,
    fpr_at_tpr,
    ood_auroc,
    reliability_curve,
)

# Hand-computed example. Confidences (top probability) and correctness:
#   row 0: 0.9  correct     row 1: 0.8  wrong
#   row 2: 0.7  correct     row 3: 0.4  correct
# uniform, 2 bins (0, .5], (.5, 1]:
#   {0.4}: |1 - 0.4| = 0.6;  {0.9, 0.8, 0.7}: |2 - 2.4| = 0.4  -> (0.6 + 0.4) / 4
# quantile, 2 bins, median 0.75: {0.4, 0.7}: |2 - 1.1| = 0.9;
#   {0.8, 0.9}: |1 - 1.7| = 0.7  -> (0.9 + 0.7) / 4
Y_TRUE = np.array([0, 1, 1, 2])
Y_PROB = np.array(
    [
        [0.9, 0.05, 0.05],
        [0.8, 0.1, 0.1],
        [0.2, 0.7, 0.1],
        [0.25, 0.35, 0.4],
    ]
)


def random_probabilities(n=500, n_classes=4, seed=0):
    rng = np.random.default_rng(seed)
    y_prob = rng.dirichlet(np.full(n_classes, 0.5), size=n)
    y_true = rng.integers(n_classes, size=n)
    return y_true, y_prob


# --------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("strategy, expected", [("uniform", 0.25), ("quantile", 0.4)])
def test_ece_hand_computed(strategy, expected):
    ece = expected_calibration_error(Y_TRUE, Y_PROB, n_bins=2, strategy=strategy)
    assert isinstance(ece, float)
    assert ece == pytest.approx(expected, abs=1e-12)


def test_ece_one_bin_is_gap_between_accuracy_and_mean_confidence():
    # 3 of 4 correct, mean confidence 2.8 / 4
    ece = expected_calibration_error(Y_TRUE, Y_PROB, n_bins=1)
    assert ece == pytest.approx(abs(0.75 - 0.7), abs=1e-12)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
def test_ece_perfect_calibration_is_zero(strategy):
    # binary: 10 rows at p=0.8 of which 8 are class 1; 10 rows at p=0.3
    # (confidence 0.7 for class 0) of which 7 are class 0
    y_prob = np.r_[np.full(10, 0.8), np.full(10, 0.3)]
    y_true = np.r_[np.ones(8), np.zeros(2), np.zeros(7), np.ones(3)].astype(int)
    ece = expected_calibration_error(y_true, y_prob, n_bins=10, strategy=strategy)
    assert ece == pytest.approx(0.0, abs=1e-12)
    # one-hot correct predictions are perfectly calibrated too
    y = np.arange(30) % 3
    assert expected_calibration_error(y, np.eye(3)[y], strategy=strategy) == 0.0


def test_ece_binary_1d_equals_2d():
    rng = np.random.default_rng(0)
    p = rng.uniform(size=200)
    y = rng.integers(2, size=200)
    two_columns = np.column_stack([1 - p, p])
    for strategy in ("uniform", "quantile"):
        assert expected_calibration_error(y, p, strategy=strategy) == pytest.approx(
            expected_calibration_error(y, two_columns, strategy=strategy)
        )


def test_ece_accepts_float_integer_labels_and_float32_probabilities():
    y_true, y_prob = random_probabilities()
    expected = expected_calibration_error(y_true, y_prob)
    assert expected_calibration_error(y_true.astype(float), y_prob) == expected
    # float32 rows do not sum to 1 exactly; the tolerance follows the dtype
    ece32 = expected_calibration_error(y_true, y_prob.astype(np.float32))
    assert ece32 == pytest.approx(expected, abs=1e-6)


@pytest.mark.parametrize("strategy", ["uniform", "quantile"])
@pytest.mark.parametrize("n_bins", [1, 5, 15, 40])
def test_reliability_curve_agrees_with_ece(strategy, n_bins):
    y_true, y_prob = random_probabilities()
    curve = reliability_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    n = len(y_true)
    assert curve.count.sum() == n
    assert np.all(curve.count > 0)
    assert len(curve.count) <= n_bins
    from_curve = np.sum(
        curve.count / n * np.abs(curve.accuracy - curve.mean_confidence)
    )
    ece = expected_calibration_error(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    assert from_curve == pytest.approx(ece, abs=1e-12)
    # each bin's mean confidence lies in its bin and bins are ordered
    assert np.all(curve.bin_lower <= curve.mean_confidence)
    assert np.all(curve.mean_confidence <= curve.bin_upper)
    assert np.all(np.diff(curve.mean_confidence) > 0)


def test_reliability_curve_hand_computed():
    curve = reliability_curve(Y_TRUE, Y_PROB, n_bins=2)
    np.testing.assert_allclose(curve.mean_confidence, [0.4, 0.8])
    np.testing.assert_allclose(curve.accuracy, [1.0, 2 / 3])
    np.testing.assert_array_equal(curve.count, [1, 3])
    np.testing.assert_allclose(curve.bin_lower, [0.0, 0.5])
    np.testing.assert_allclose(curve.bin_upper, [0.5, 1.0])
    quantile = reliability_curve(Y_TRUE, Y_PROB, n_bins=2, strategy="quantile")
    np.testing.assert_allclose(quantile.bin_lower, [0.4, 0.75])
    np.testing.assert_allclose(quantile.bin_upper, [0.75, 0.9])


def test_uniform_bins_are_right_closed():
    # confidence exactly 0.5 belongs to (0, 0.5], exactly 1.0 to the last bin
    curve = reliability_curve([0, 1], [0.5, 1.0], n_bins=2)
    np.testing.assert_array_equal(curve.count, [1, 1])
    np.testing.assert_allclose(curve.bin_upper, [0.5, 1.0])


@pytest.mark.parametrize(
    "y_true, y_prob, match",
    [
        ([0, 1, 1], [[0.5, 0.5], [0.5, 0.5]], "y_true has 3 rows but y_prob has 2"),
        ([0, 1], [[0.5, 0.7], [0.5, 0.5]], "must sum to 1"),
        ([0, 1], [[1.5, -0.5], [0.5, 0.5]], r"must lie in \[0, 1\]"),
        ([0, 1], [1.2, 0.5], r"must lie in \[0, 1\]"),
        ([0, 2], [[0.5, 0.5], [0.5, 0.5]], r"class indices in 0\.\.1"),
        ([0, 2], [0.3, 0.5], r"class indices in 0\.\.1 to match binary"),
        ([-1, 0], [[0.5, 0.5], [0.5, 0.5]], r"class indices in 0\.\.1"),
        (["a", "b"], [[0.5, 0.5], [0.5, 0.5]], "integer class indices"),
        ([0.5, 1], [[0.5, 0.5], [0.5, 0.5]], "integer class indices"),
        ([0, 1], [[np.nan, 1.0], [0.5, 0.5]], "y_prob contains NaN"),
        ([[0], [1]], [[0.5, 0.5], [0.5, 0.5]], r"y_true must be of shape"),
        ([0], np.full((1, 2, 1), 0.5), r"y_prob must be of shape"),
        ([], np.empty((0, 2)), "minimum of 1 is required"),
    ],
)
@pytest.mark.parametrize("func", [expected_calibration_error, reliability_curve])
def test_calibration_bad_input(func, y_true, y_prob, match):
    with pytest.raises(ValueError, match=match):
        func(y_true, y_prob)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"n_bins": 0}, "n_bins"),
        ({"n_bins": 2.5}, "n_bins"),
        ({"strategy": "kmeans"}, "strategy"),
    ],
)
def test_calibration_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        expected_calibration_error(Y_TRUE, Y_PROB, **kwargs)


def test_options_are_keyword_only():
    with pytest.raises(TypeError):
        expected_calibration_error(Y_TRUE, Y_PROB, 2)
    with pytest.raises(TypeError):
        fpr_at_tpr([1.0], [0.0], 0.9)


# --------------------------------------------------------------------------------------
# OOD detection
# --------------------------------------------------------------------------------------


def random_scores(seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(1.0, 1.0, size=300), rng.normal(0.0, 1.0, size=200)


def test_ood_auroc_matches_roc_auc_score():
    score_in, score_out = random_scores()
    y = np.r_[np.ones(len(score_in)), np.zeros(len(score_out))]
    expected = roc_auc_score(y, np.r_[score_in, score_out])
    assert ood_auroc(score_in, score_out) == pytest.approx(expected, abs=1e-15)
    assert 0.7 < expected < 0.8  # d' = 1: AUROC = Phi(1 / sqrt 2) = 0.76


def test_ood_auroc_sign():
    score_in, score_out = random_scores(1)
    auroc = ood_auroc(score_in, score_out)
    assert ood_auroc(score_out, score_in) == pytest.approx(1 - auroc, abs=1e-12)
    # negating the scores (an "energy" instead of a score) flips it as well
    assert ood_auroc(-score_in, -score_out) == pytest.approx(1 - auroc, abs=1e-12)
    assert ood_auroc([2.0, 3.0], [0.0, 1.0]) == 1.0
    assert ood_auroc([1.0, 1.0], [1.0]) == 0.5  # ties count one half


def test_fpr_at_tpr_hand_computed():
    score_in = np.arange(1, 11)  # 1..10
    score_out = [0.5, 2.5, 5.5, 9.5]
    # tpr 0.8 -> keep 8 inliers -> threshold 3 -> 5.5 and 9.5 accepted
    assert fpr_at_tpr(score_in, score_out, tpr=0.8) == 0.5
    # tpr 0.85 needs 9 inliers -> threshold 2 -> 2.5, 5.5, 9.5 accepted
    assert fpr_at_tpr(score_in, score_out, tpr=0.85) == 0.75
    assert fpr_at_tpr(score_in, score_out) == 0.75  # 0.95 -> all 10, threshold 1
    assert fpr_at_tpr(score_in, score_out, tpr=0.1) == 0.0  # threshold 10
    assert fpr_at_tpr(score_in, score_out, tpr=1.0) == 0.75
    # an outlier tied with the threshold is accepted
    assert fpr_at_tpr(score_in, [3.0, 0.0], tpr=0.8) == 0.5


def test_fpr_at_tpr_matches_definition_on_random_data():
    score_in, score_out = random_scores(2)
    for tpr in (0.5, 0.9, 0.95, 0.99):
        n_keep = int(np.ceil(tpr * len(score_in) - 1e-9))
        threshold = np.sort(score_in)[::-1][n_keep - 1]
        expected = np.mean(score_out >= threshold)
        assert fpr_at_tpr(score_in, score_out, tpr=tpr) == pytest.approx(expected)


@pytest.mark.parametrize(
    "score_in, score_out, match",
    [
        ([1.0, np.nan], [0.0], "score_in contains NaN"),
        ([1.0], [0.0, np.inf], "score_out contains infinity"),
        ([1.0], [-np.inf], "score_out contains infinity"),
        ([], [0.0], "minimum of 1 is required"),
        ([1.0], [], "minimum of 1 is required"),
        ([[1.0, 2.0]], [0.0], r"score_in must be of shape \(n_samples,\)"),
    ],
)
@pytest.mark.parametrize("func", [ood_auroc, fpr_at_tpr])
def test_ood_bad_input(func, score_in, score_out, match):
    with pytest.raises(ValueError, match=match):
        func(score_in, score_out)


@pytest.mark.parametrize("tpr", [0.0, -0.1, 1.5])
def test_fpr_at_tpr_bad_tpr(tpr):
    with pytest.raises(ValueError, match="tpr"):
        fpr_at_tpr([1.0, 2.0], [0.0], tpr=tpr)
