"""Model selection with unlabeled rows, and the density estimator's thresholds,
small-data errors and sample range (issue 17)."""

import numpy as np
import pytest
from sklearn.datasets import load_iris, load_wine
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score
from sklearn.preprocessing import StandardScaler

from sk_ebm import EnergyDensityEstimator, JEMClassifier
from sk_ebm.metrics import labeled_accuracy_score, labeled_accuracy_scorer

from ._helpers import FAST_PARAMS


@pytest.fixture(scope="module")
def iris_semi_supervised():
    X, y = load_iris(return_X_y=True)
    y_ssl = y.copy()
    y_ssl[np.random.default_rng(0).random(len(y)) < 0.6] = -1
    return X, y_ssl


def test_score_is_accuracy_on_the_labeled_rows(iris_semi_supervised):
    X, y = iris_semi_supervised
    clf = JEMClassifier(**FAST_PARAMS).fit(X, y)
    labeled = y != -1
    expected = np.mean(clf.predict(X[labeled]) == y[labeled])
    assert clf.score(X, y) == pytest.approx(expected)
    assert labeled_accuracy_scorer(clf, X, y) == pytest.approx(expected)
    with pytest.warns(UserWarning, match="no labeled row"):
        assert np.isnan(clf.score(X[:3], [-1, -1, -1]))


def test_labeled_accuracy_score_handles_string_labels():
    y_true = np.array(["a", -1, "b", "b"], dtype=object)
    assert labeled_accuracy_score(y_true, ["a", "a", "a", "b"]) == pytest.approx(2 / 3)


def test_grid_search_picks_what_labeled_rows_alone_pick(iris_semi_supervised):
    X, y = iris_semi_supervised
    grid = {"learning_rate": [1e-4, 3e-2]}
    cv = StratifiedKFold(3, shuffle=True, random_state=0)
    params = {**FAST_PARAMS, "max_iter": 10}
    search = GridSearchCV(JEMClassifier(**params), grid, cv=cv).fit(X, y)
    # The same folds, scored by hand on their labeled rows only.
    by_hand = {}
    for rate in grid["learning_rate"]:
        scores = []
        for train, test in cv.split(X, y):
            clf = JEMClassifier(**{**params, "learning_rate": rate})
            clf.fit(X[train], y[train])
            labeled = test[y[test] != -1]
            scores.append(np.mean(clf.predict(X[labeled]) == y[labeled]))
        by_hand[rate] = np.mean(scores)
    np.testing.assert_allclose(
        search.cv_results_["mean_test_score"],
        [by_hand[r] for r in grid["learning_rate"]],
    )
    assert search.best_params_["learning_rate"] == max(by_hand, key=by_hand.get)
    # Plain accuracy would count every unlabeled row as an error.
    plain = cross_val_score(JEMClassifier(**params), X, y, cv=cv, scoring="accuracy")
    assert plain.mean() < search.best_score_ - 0.3


def test_contamination_auto_leaves_one_percent_of_training_rows_out():
    X = StandardScaler().fit_transform(load_wine().data)
    est = EnergyDensityEstimator(contamination="auto", **FAST_PARAMS).fit(X)
    assert np.mean(est.predict(X) == -1) == pytest.approx(0.01, abs=0.01)


def test_a_single_row_is_refused_clearly():
    # (A classifier on one row already fails on its single class.)
    with pytest.raises(ValueError, match="at least 2 rows"):
        EnergyDensityEstimator(**FAST_PARAMS).fit(np.ones((1, 3)))


def test_empty_hidden_dims_is_refused_clearly():
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="hidden_dims must be a non-empty"):
        JEMClassifier(**{**FAST_PARAMS, "hidden_dims": ()}).fit(X, y)


@pytest.mark.parametrize("training", ["pcd", "vera", "dsm"])
def test_samples_stay_in_the_training_range(training):
    X, y = load_iris(return_X_y=True)
    clf = JEMClassifier(training=training, **FAST_PARAMS).fit(X, y)
    for samples in (clf.sample(200, random_state=0), clf.sample(50, y=2)):
        assert (samples >= X.min(0)).all() and (samples <= X.max(0)).all()
    raw = clf.sample(200, random_state=0, clip=False)
    assert raw.shape == (200, 4) and np.isfinite(raw).all()
