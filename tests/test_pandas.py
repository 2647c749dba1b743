"""pandas in and around the estimators: column names, label types, pipelines."""

import warnings

import numpy as np
import pandas as pd
import pytest
from sklearn.compose import ColumnTransformer
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from sk_ebm import EnergyDensityEstimator, JEMClassifier

TINY = dict(
    hidden_dims=(16,),
    max_iter=3,
    n_steps=2,
    batch_size=32,
    learning_rate=1e-2,
    device="cpu",
    random_state=0,
)
NAMES = np.array(["setosa", "versicolor", "virginica"])


@pytest.fixture(scope="module")
def iris():
    X, y = load_iris(return_X_y=True, as_frame=True)
    return X, y.to_numpy()


def unlabel_every_third(y):
    """``y`` as an object array with the integer -1 on every third row."""
    y = np.asarray(y, dtype=object).copy()
    y[::3] = -1
    return y


@pytest.mark.parametrize("Estimator", [JEMClassifier, EnergyDensityEstimator])
def test_dataframe_columns_are_kept_and_checked(Estimator, iris):
    X, y = iris
    est = Estimator(**TINY).fit(X, y)
    np.testing.assert_array_equal(est.feature_names_in_, X.columns)
    with pytest.warns(UserWarning, match="does not have valid feature names"):
        est.score_samples(X.to_numpy())
    renamed = X.rename(columns=str.upper)
    with pytest.raises(ValueError, match="feature names should match"):
        est.score_samples(renamed)
    with pytest.raises(ValueError, match="Feature names must be in the same order"):
        est.score_samples(X[X.columns[::-1]])


@pytest.mark.parametrize("Estimator", [JEMClassifier, EnergyDensityEstimator])
def test_dataframe_and_array_give_the_same_fit(Estimator, iris):
    X, y = iris
    from_frame = Estimator(**TINY).fit(X, y)
    from_array = Estimator(**TINY).fit(X.to_numpy(), y)
    assert not hasattr(from_array, "feature_names_in_")
    np.testing.assert_array_equal(
        from_frame.score_samples(X), from_array.score_samples(X.to_numpy())
    )


@pytest.mark.parametrize(
    "to_target",
    [
        lambda y: pd.Series(NAMES[y]),  # pandas' default string dtype
        lambda y: pd.Series(NAMES[y], dtype="category"),
        lambda y: pd.Series(NAMES[y], dtype=object),
        lambda y: pd.Series(y, dtype="Int64"),
    ],
    ids=["str", "category", "object", "Int64"],
)
def test_pandas_targets_give_the_classes_sklearn_gives(iris, to_target):
    X, y = iris
    target = to_target(y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence of the reference model
        expected = LogisticRegression(max_iter=5).fit(X, target).classes_
    clf = JEMClassifier(**TINY).fit(X, target)
    np.testing.assert_array_equal(clf.classes_, expected)
    assert clf.classes_.dtype == expected.dtype
    assert set(clf.predict(X)) <= set(expected)
    assert clf.predict_proba(X).shape == (150, 3)


def test_string_labels_are_an_encoding_of_integer_labels(iris):
    # Unlabeled rows are the integer -1 inside an object array of strings,
    # sklearn's convention (SelfTrainingClassifier); the fit equals that of
    # the integer codes, and the -1 rows are not a class.
    X, y = iris
    coded = JEMClassifier(**TINY).fit(X, unlabel_every_third(y).astype(int))
    named = JEMClassifier(**TINY).fit(X, pd.Series(unlabel_every_third(NAMES[y])))
    np.testing.assert_array_equal(named.classes_, NAMES)
    np.testing.assert_array_equal(named.predict_proba(X), coded.predict_proba(X))
    np.testing.assert_array_equal(named.predict(X), NAMES[coded.predict(X)])
    assert named.sample(4, y="virginica", random_state=0).shape == (4, 4)
    with pytest.raises(ValueError, match="not in classes_"):
        named.sample(4, y="rose")


def test_categorical_target_with_minus_one_category_marks_unlabeled(iris):
    X, y = iris
    target = pd.Series(pd.Categorical(unlabel_every_third(NAMES[y])))
    clf = JEMClassifier(**TINY).fit(X, target)
    np.testing.assert_array_equal(clf.classes_, NAMES)


def test_string_minus_one_is_a_class_label(iris):
    # Only the integer -1 marks unlabeled rows; the string "-1" is a label, as
    # in SelfTrainingClassifier.
    X, y = iris
    target = pd.Series(np.where(y == 0, "-1", NAMES[y]))
    clf = JEMClassifier(**TINY).fit(X, target)
    np.testing.assert_array_equal(clf.classes_, ["-1", "versicolor", "virginica"])


@pytest.mark.parametrize(
    "dtype, message",
    [
        ("category", "Input contains NaN"),  # sklearn's validation
        ("str", "Input contains NaN"),
        (object, "y contains None. Mark unlabeled rows with the integer -1"),
    ],
)
def test_missing_labels_are_an_error_not_unlabeled(dtype, message):
    missing = pd.Series(["a", None, "b", "a"] * 10, dtype=dtype)
    X = np.random.default_rng(0).normal(size=(len(missing), 2))
    with pytest.raises(ValueError, match=message):
        JEMClassifier(**TINY).fit(X, missing)


def column_transformer():
    return ColumnTransformer(
        [
            ("num", StandardScaler(), ["x", "z"]),
            ("cat", OneHotEncoder(sparse_output=False), ["colour"]),
        ]
    )


def mixed_frame():
    rng = np.random.default_rng(0)
    n = 120
    colour = rng.choice(["red", "green", "blue"], size=n)
    X = pd.DataFrame(
        {"x": rng.normal(size=n), "colour": colour, "z": rng.normal(size=n)}
    )
    y = np.where(X["x"] + (colour == "red") > 0.3, "yes", "no")
    return X, y


@pytest.mark.parametrize("Estimator", [JEMClassifier, EnergyDensityEstimator])
def test_pandas_output_pipeline_passes_the_column_names(Estimator):
    X, y = mixed_frame()
    frames = make_pipeline(column_transformer(), Estimator(**TINY))
    frames.set_output(transform="pandas").fit(X, y)
    arrays = make_pipeline(column_transformer(), Estimator(**TINY)).fit(X, y)

    est = frames[-1]
    expected = frames[0].get_feature_names_out()
    np.testing.assert_array_equal(est.feature_names_in_, expected)
    assert "cat__colour_red" in est.feature_names_in_
    assert not hasattr(arrays[-1], "feature_names_in_")
    # The same model either way, up to round-off: a DataFrame arrives as a
    # Fortran-ordered array, so the internal scaler sums in another order, and
    # float32 training carries the 1e-16 differences to about 1e-8.
    np.testing.assert_allclose(
        frames.score_samples(X), arrays.score_samples(X), rtol=1e-6
    )
    if Estimator is JEMClassifier:
        np.testing.assert_array_equal(frames.predict(X), arrays.predict(X))
        assert set(frames.predict(X)) <= {"yes", "no"}
