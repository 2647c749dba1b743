"""DensityScoreTransformer: a density model's score_samples as a feature."""

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_iris
from sklearn.ensemble import IsolationForest
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KernelDensity, LocalOutlierFactor

from sk_ebm import DensityScoreTransformer, EnergyDensityEstimator, JEMClassifier
from sk_ebm.datasets import load_digits_ood
from sk_ebm.metrics import ood_auroc

from ._helpers import FAST_PARAMS


@pytest.fixture(scope="module")
def digits():
    return load_digits_ood()


@pytest.fixture(scope="module")
def fitted(digits):
    density = EnergyDensityEstimator(**FAST_PARAMS)
    return DensityScoreTransformer(density).fit(digits.X_train)


def test_appends_the_score_column(fitted, digits):
    Xt = fitted.transform(digits.X_test)
    assert Xt.shape == (450, 65) and Xt.dtype == np.float64
    np.testing.assert_array_equal(Xt[:, :-1], digits.X_test)
    np.testing.assert_array_equal(
        Xt[:, -1], fitted.estimator_.score_samples(digits.X_test)
    )
    # The estimator passed in is cloned, not fitted in place.
    assert not hasattr(fitted.estimator, "net_")


def test_score_column_separates_seen_from_unseen_digits(fitted, digits):
    # Fitted on digits 0-4; the test rows hold all ten digits. FAST_PARAMS gave
    # 0.92-0.95 over seeds 0-2; IsolationForest gives 0.79.
    score = fitted.transform(digits.X_test)[:, -1]
    assert ood_auroc(score[digits.is_in_test], score[~digits.is_in_test]) > 0.8


@pytest.mark.parametrize(
    "estimator",
    [
        KernelDensity(bandwidth=0.5),
        IsolationForest(n_estimators=20, random_state=0),
        LocalOutlierFactor(novelty=True),
    ],
    ids=lambda est: type(est).__name__,
)
def test_any_estimator_with_score_samples(estimator):
    X, _ = load_iris(return_X_y=True)
    features = DensityScoreTransformer(estimator, passthrough=False)
    Xt = features.fit_transform(X)
    assert Xt.shape == (150, 1)
    np.testing.assert_allclose(Xt[:, 0], features.estimator_.score_samples(X))
    assert features.get_feature_names_out().tolist() == ["density_score"]


def test_y_reaches_the_estimator():
    # A JEMClassifier needs the labels; its score_samples is log p(x) + const.
    X, y = load_iris(return_X_y=True)
    jem = JEMClassifier(**{**FAST_PARAMS, "max_iter": 2})
    features = DensityScoreTransformer(jem).fit(X, y)
    assert features.estimator_.classes_.tolist() == [0, 1, 2]
    np.testing.assert_array_equal(
        features.transform(X)[:, -1], features.estimator_.score_samples(X)
    )


def test_dataframe_names_and_pandas_output():
    iris = load_iris(as_frame=True)
    X = iris.data.set_axis(iris.data.index + 1000)  # an index that is not 0..n-1
    features = DensityScoreTransformer(KernelDensity()).fit(X)
    names = [*X.columns, "density_score"]
    assert features.feature_names_in_.tolist() == list(X.columns)
    assert features.get_feature_names_out().tolist() == names

    Xt = features.set_output(transform="pandas").transform(X)
    assert isinstance(Xt, pd.DataFrame)
    assert Xt.columns.tolist() == names
    pd.testing.assert_index_equal(Xt.index, X.index)
    np.testing.assert_array_equal(
        Xt["density_score"], features.estimator_.score_samples(X.to_numpy())
    )


@pytest.mark.parametrize(
    "estimator",
    [LogisticRegression(), LocalOutlierFactor()],  # novelty=False: no score_samples
    ids=["LogisticRegression", "LocalOutlierFactor-novelty-False"],
)
def test_estimator_without_score_samples_is_an_error(estimator):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="implementing 'fit' and 'score_samples'"):
        DensityScoreTransformer(estimator).fit(X, y)


def test_number_of_features_is_checked(fitted, digits):
    with pytest.raises(ValueError, match="X has 10 features, but Density"):
        fitted.transform(digits.X_test[:, :10])
