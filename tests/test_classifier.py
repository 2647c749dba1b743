import pickle
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from sklearn.base import clone
from sklearn.datasets import load_iris, make_blobs
from sklearn.metrics import pairwise_distances, roc_auc_score
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_ebm import JEMClassifier

from ._helpers import FAST_PARAMS, digits_split, digits_ssl


@pytest.fixture(scope="module")
def iris():
    return load_iris(return_X_y=True)


@pytest.fixture(scope="module")
def fitted(iris):
    X, y = iris
    return JEMClassifier(**FAST_PARAMS).fit(X, y)


# --------------------------------------------------------------------- the API
def test_probabilities_are_float64_and_sum_to_one(fitted, iris):
    X, _ = iris
    proba = fitted.predict_proba(X)
    assert proba.dtype == np.float64 and proba.shape == (150, 3)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(fitted.predict_log_proba(X), np.log(proba), atol=1e-10)
    np.testing.assert_array_equal(fitted.predict(X), proba.argmax(1))
    assert fitted.score(X, iris[1]) > 0.8


def test_decision_function_follows_sklearn_contract(fitted, iris):
    X, y = iris
    scores = fitted.decision_function(X)
    assert scores.shape == (150, 3)
    np.testing.assert_array_equal(scores.argmax(1), fitted.predict(X))
    binary = JEMClassifier(**FAST_PARAMS).fit(X[y < 2], y[y < 2])
    margin = binary.decision_function(X[y < 2])
    assert margin.shape == (100,)
    np.testing.assert_array_equal(
        binary.predict(X[y < 2]), binary.classes_[(margin > 0).astype(int)]
    )


@pytest.mark.parametrize("ood_score", ["logp", "max_softmax", "grad_norm"])
def test_score_samples_kinds(iris, ood_score):
    X, y = iris
    clf = JEMClassifier(ood_score=ood_score, **FAST_PARAMS).fit(X, y)
    scores = clf.score_samples(X)
    assert scores.shape == (150,) and scores.dtype == np.float64
    assert np.isfinite(scores).all()
    if ood_score == "grad_norm":
        assert np.median(scores) > np.median(clf.score_samples(X + 50.0))
    elif ood_score == "max_softmax":
        assert (scores >= 1 / 3).all() and (scores <= 1).all()
    # No ordering is asserted for "logp" and "max_softmax" this far out: MCMC
    # training shapes the energy only where chains go, and softmax is
    # over-confident far from the data. Real OOD data is tested below.


def test_logp_score_is_logsumexp_of_decision_function_plus_jacobian(fitted, iris):
    X, _ = iris
    logits = fitted.decision_function(X)
    log_det = -np.log(fitted.scaler_.scale_).sum()
    expected = np.log(np.exp(logits).sum(1)) + log_det
    np.testing.assert_allclose(fitted.score_samples(X), expected, rtol=1e-10)


def test_fitted_attributes(fitted):
    assert fitted.n_features_in_ == 4
    assert fitted.n_iter_ == FAST_PARAMS["max_iter"] == len(fitted.history_)
    assert fitted.stop_reason_ == "max_iter"
    assert len(fitted.loss_curve_) == fitted.n_iter_
    row = fitted.history_[-1]
    for key in ("loss", "ce", "acc", "e_data", "e_sample", "grad_norm", "seconds"):
        assert np.isfinite(row[key])
    assert fitted.device_ == "cpu"
    assert fitted.buffer_.x.shape == (FAST_PARAMS["buffer_size"], 4)


def test_string_and_categorical_labels(iris):
    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    clf = JEMClassifier(**FAST_PARAMS).fit(X, names)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    assert set(clf.predict(X)) <= set(names)
    cat = pd.Series(names, dtype="category")
    clf = JEMClassifier(**FAST_PARAMS).fit(pd.DataFrame(X, columns=list("abcd")), cat)
    np.testing.assert_array_equal(clf.classes_, ["setosa", "versicolor", "virginica"])
    np.testing.assert_array_equal(clf.feature_names_in_, list("abcd"))


def test_unlabeled_marker_in_object_array_of_strings(iris):
    X, y = iris
    labels = np.array(["a", "b", "c"], dtype=object)[y]
    labels[::2] = -1
    clf = JEMClassifier(**FAST_PARAMS).fit(X, labels)
    np.testing.assert_array_equal(clf.classes_, ["a", "b", "c"])


def test_unlabeled_rows_are_not_a_class(iris):
    X, y = iris
    y = y.copy()
    y[::3] = -1
    clf = JEMClassifier(**FAST_PARAMS).fit(X, y)
    np.testing.assert_array_equal(clf.classes_, [0, 1, 2])


def test_sample_weight_of_ones_matches_no_weights(iris):
    X, y = iris
    a = JEMClassifier(**FAST_PARAMS).fit(X, y)
    b = JEMClassifier(**FAST_PARAMS).fit(X, y, sample_weight=np.ones(len(y)))
    np.testing.assert_allclose(a.predict_proba(X), b.predict_proba(X), atol=1e-4)


def test_sample_weight_shifts_the_decision(iris):
    X, y = iris
    weights = np.where(y == 1, 10.0, 0.1)
    plain = JEMClassifier(**FAST_PARAMS).fit(X, y)
    heavy = JEMClassifier(**FAST_PARAMS).fit(X, y, sample_weight=weights)
    assert (heavy.predict(X) == 1).sum() > (plain.predict(X) == 1).sum()


def test_sample_shapes_units_and_classes(iris):
    X, y = iris
    clf = JEMClassifier(**FAST_PARAMS).fit(X * 1000.0, y)
    samples = clf.sample(50, random_state=0)
    assert samples.shape == (50, 4)
    # Samples come back in the user's units, not standardized ones.
    assert np.abs(samples.mean(0)).max() > 100
    np.testing.assert_array_equal(samples, clf.sample(50, random_state=0))
    assert clf.sample(3, y=2).shape == (3, 4)
    assert clf.sample(3, y=[0, 1, 2]).shape == (3, 4)
    with pytest.raises(ValueError, match="not in classes_"):
        clf.sample(2, y=7)
    with pytest.raises(ValueError, match="n_samples"):
        clf.sample(0)
    with pytest.raises(ValueError, match="one label or 3 labels"):
        clf.sample(3, y=[0, 1])


def test_short_run_sample_starts_from_init(iris):
    X, y = iris
    clf = JEMClassifier(training="short_run", **FAST_PARAMS).fit(X, y)
    assert not hasattr(clf, "buffer_") and clf.training_ == "short_run"
    assert clf.sample(5, y=1, random_state=0).shape == (5, 4)


# --------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    "make_X, match",
    [
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X), "NaN"),
        (lambda X: np.where(np.arange(X.size).reshape(X.shape) == 3, np.inf, X), "inf"),
        (lambda X: X[:0], "0 sample"),
        (lambda X: X.astype(str).astype(object) + "x", "could not convert"),
    ],
    ids=["nan", "inf", "empty", "strings"],
)
def test_bad_X_in_fit_raises_value_error(iris, make_X, match):
    X, y = iris
    bad = make_X(X)
    with pytest.raises(ValueError, match=match):
        JEMClassifier(**FAST_PARAMS).fit(bad, y[: len(bad)])


def test_sparse_X_is_refused(iris):
    X, y = iris
    with pytest.raises(TypeError, match="dense data is required"):
        JEMClassifier(**FAST_PARAMS).fit(sp.csr_matrix(X), y)


def test_wrong_n_features_at_predict(fitted, iris):
    X, _ = iris
    for method in ("predict", "predict_proba", "decision_function", "score_samples"):
        with pytest.raises(ValueError, match="features"):
            getattr(fitted, method)(X[:, :3])


def test_nan_at_predict(fitted, iris):
    X = iris[0].copy()
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fitted.predict(X)


def test_all_rows_unlabeled(iris):
    X, y = iris
    with pytest.raises(ValueError, match="needs labeled rows"):
        JEMClassifier(**FAST_PARAMS).fit(X, np.full_like(y, -1))


def test_one_labeled_class(iris):
    X, y = iris
    y = np.where(y == 0, 0, -1)
    with pytest.raises(ValueError, match="at least two classes"):
        JEMClassifier(**FAST_PARAMS).fit(X, y)


def test_bad_parameters_are_named(iris):
    X, y = iris
    with pytest.raises(ValueError, match="step_size"):
        JEMClassifier(step_size=-1).fit(X, y)
    with pytest.raises(ValueError, match="Unknown sampler_params"):
        JEMClassifier(sampler_params={"bogus": 1}, **FAST_PARAMS).fit(X, y)
    with pytest.raises(ValueError, match="hidden_dims"):
        JEMClassifier(**{**FAST_PARAMS, "hidden_dims": (0,)}).fit(X, y)
    with pytest.raises(ValueError, match="not a device"):
        JEMClassifier(**{**FAST_PARAMS, "device": "gpu0"}).fit(X, y)


@pytest.mark.parametrize(
    "training, alpha, expected",
    [("pcd", "auto", 0.05), ("short_run", "auto", 0.03), ("vera", "auto", 0.1)]
    + [("pcd", 0.5, 0.5), ("vera", 0.0, 0.0)],
)
def test_alpha_auto_is_the_swept_weight_of_each_training_family(
    iris, training, alpha, expected
):
    X, y = iris
    params = {**FAST_PARAMS, "max_iter": 1, "training": training, "alpha": alpha}
    clf = JEMClassifier(**params).fit(X, y)
    assert clf.alpha_ == expected
    # The fit used it: the same explicit weight gives the same model.
    explicit = JEMClassifier(**{**params, "alpha": expected}).fit(X, y)
    np.testing.assert_array_equal(clf.predict_proba(X), explicit.predict_proba(X))


def test_alpha_rejects_other_strings(iris):
    X, y = iris
    with pytest.raises(ValueError, match="alpha"):
        JEMClassifier(**{**FAST_PARAMS, "alpha": "high"}).fit(X, y)


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="a CUDA GPU is present, so cuda is valid"
)
def test_cuda_without_gpu_is_a_clear_error(iris):
    X, y = iris
    with pytest.raises(ValueError, match="no CUDA GPU"):
        JEMClassifier(**{**FAST_PARAMS, "device": "cuda"}).fit(X, y)


def test_diverged_fit_is_a_clear_error(iris):
    X, y = iris
    clf = JEMClassifier(**{**FAST_PARAMS, "learning_rate": 1e6, "step_size": 1e6})
    # Each recovery warns; after the last one the fit gives up.
    with pytest.warns(RuntimeWarning, match="rolled back"):
        with pytest.raises(ValueError, match="diverged.*after 3 recoveries"):
            clf.fit(X * 1e3, y)


# ---------------------------------------------------- state, seeds, pickling
def test_pickle_round_trip(fitted, iris):
    X, _ = iris
    loaded = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(loaded.predict_proba(X), fitted.predict_proba(X))
    np.testing.assert_array_equal(
        loaded.sample(4, random_state=1), fitted.sample(4, random_state=1)
    )


def test_clone_is_unfitted_with_same_params(fitted):
    copy = clone(fitted)
    assert copy.get_params() == fitted.get_params()
    assert not hasattr(copy, "net_")


def test_random_state_reproducible_also_in_threads():
    X, y = make_blobs(200, n_features=5, centers=3, random_state=0)
    params = {**FAST_PARAMS, "max_iter": 5}

    def fit(seed):
        return (
            JEMClassifier(**{**params, "random_state": seed}).fit(X, y).predict_proba(X)
        )

    serial = [fit(s) for s in (0, 1, 0, 1)]
    with ThreadPoolExecutor(max_workers=4) as pool:
        threaded = list(pool.map(fit, (0, 1, 0, 1)))
    for a, b in zip(serial, threaded):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(serial[0], serial[2])
    assert not np.array_equal(serial[0], serial[1])


def test_does_not_change_global_torch_state(iris):
    X, y = iris
    rng_state = torch.get_rng_state()
    threads = torch.get_num_threads()
    dtype = torch.get_default_dtype()
    JEMClassifier(**FAST_PARAMS).fit(X, y).sample(3)
    assert torch.equal(torch.get_rng_state(), rng_state)
    assert torch.get_num_threads() == threads
    assert torch.get_default_dtype() == dtype


def test_pipeline_in_grid_search(iris):
    X, y = iris
    pipe = make_pipeline(StandardScaler(), JEMClassifier(**FAST_PARAMS))
    search = GridSearchCV(
        pipe, {"jemclassifier__alpha": [0.1, 1.0]}, cv=2, error_score="raise"
    )
    search.fit(X, y)
    assert search.best_score_ > 0.7
    assert search.predict(X).shape == (150,)


# ---------------------------------------------- quality floors on real data
# Regression alarms on seeded real data, not the benchmark targets.
@pytest.mark.slow
def test_semi_supervised_beats_labeled_rows_only():
    X_train, y_ssl, X_test, y_test = digits_ssl(n_labeled_per_class=10, seed=0)
    params = dict(max_iter=40, device="cpu", random_state=0)
    jem = JEMClassifier(**params).fit(X_train, y_ssl)
    # The collapse detector stays silent on a default fit.
    assert not any("recovery" in row for row in jem.history_)
    # The same network, the same number of steps, cross-entropy on the labeled
    # rows only (no likelihood term, no sampling).
    supervised = JEMClassifier(alpha=0.0, n_steps=0, unlabeled_vat=0.0, **params).fit(
        X_train, y_ssl
    )
    jem_acc, sup_acc = jem.score(X_test, y_test), supervised.score(X_test, y_test)
    assert jem_acc > sup_acc + 0.02, (jem_acc, sup_acc)


@pytest.mark.slow
def test_vat_on_unlabeled_rows_beats_labeled_rows_only():
    # The consistency term alone (no likelihood term, no sampling, so cheap)
    # against cross-entropy alone, on the same network and steps.
    X_train, y_ssl, X_test, y_test = digits_ssl(n_labeled_per_class=10, seed=0)
    params = dict(alpha=0.0, n_steps=0, max_iter=40, device="cpu", random_state=0)
    vat = JEMClassifier(unlabeled_vat=1.0, **params).fit(X_train, y_ssl)
    plain = JEMClassifier(unlabeled_vat=0.0, **params).fit(X_train, y_ssl)
    assert "vat" in vat.history_[-1] and "vat" not in plain.history_[-1]
    vat_acc, plain_acc = vat.score(X_test, y_test), plain.score(X_test, y_test)
    assert vat_acc > plain_acc + 0.02, (vat_acc, plain_acc)


def test_vat_radius_is_half_the_median_nearest_row_distance(iris):
    X, y = iris
    y_ssl = np.where(np.arange(len(y)) % 3 == 0, y, -1)
    clf = JEMClassifier(unlabeled_vat=1.0, **FAST_PARAMS).fit(X, y_ssl)
    Z = StandardScaler().fit_transform(X)
    distances = pairwise_distances(Z)
    distances[distances < 1e-9] = np.inf  # itself and exact duplicates
    expected = 0.5 * np.median(distances.min(axis=1))
    assert clf.vat_radius_ == pytest.approx(expected, rel=1e-4)
    assert "vat" in clf.history_[-1]
    fixed = JEMClassifier(unlabeled_vat=1.0, vat_radius=0.3, **FAST_PARAMS)
    fixed.fit(X, y_ssl)
    assert fixed.vat_radius_ == 0.3


@pytest.mark.parametrize("labeled_only", [True, False])
def test_vat_is_off_without_unlabeled_rows_or_weight(iris, labeled_only):
    X, y = iris
    if labeled_only:  # the term is asked for, but there is nothing to apply it to
        y_fit, params = y, {"unlabeled_vat": 1.0}
    else:  # unlabeled rows, the default weight 0
        y_fit, params = np.where(np.arange(len(y)) % 3 == 0, y, -1), {}
    clf = JEMClassifier(**params, **FAST_PARAMS).fit(X, y_fit)
    assert clf.vat_radius_ is None
    assert all("vat" not in row for row in clf.history_)


@pytest.mark.parametrize("radius", [0.0, -1.0, "big"])
def test_vat_radius_validation(iris, radius):
    X, y = iris
    with pytest.raises(ValueError, match="vat_radius"):
        JEMClassifier(vat_radius=radius, **FAST_PARAMS).fit(X, y)


@pytest.mark.slow
def test_score_samples_separates_unseen_digits():
    X_train, X_test, y_train, y_test = digits_split()
    inside = y_train < 5
    clf = JEMClassifier(max_iter=40, device="cpu", random_state=0)
    clf.fit(X_train[inside], y_train[inside])
    auroc = roc_auc_score(y_test < 5, clf.score_samples(X_test))
    assert auroc > 0.85, auroc
    # Class-conditional samples look like their class to the classifier.
    samples = clf.sample(100, y=3, random_state=0)
    assert (clf.predict(samples) == 3).mean() > 0.7


# ------------------------------------------------------------------ refinement
@pytest.fixture(scope="module")
def digits_fitted():
    X_train, X_test, y_train, y_test = digits_split()
    clf = JEMClassifier(**FAST_PARAMS).fit(X_train, y_train)
    return clf, X_test[:200], y_test[:200]


@pytest.mark.parametrize(
    "sampler, all_rows",
    # The fitted step without noise is gradient ascent on log p(x): every row
    # rises. JEM's cold sampler (step 1, noise 0.01) rises on average. The
    # default, correctly scaled Langevin, is a sampler, not an ascent: from the
    # data it lowers log p(x) slightly on average (see the Notes).
    [(dict(noise_scale=0.0), True), (dict(step_size=1.0, noise_scale=0.01), False)],
)
def test_refinement_raises_log_p_and_keeps_clean_accuracy(
    digits_fitted, sampler, all_rows
):
    clf, X, y = digits_fitted
    raw = clone_fitted(clf, refine_steps=0)
    refined = clone_fitted(clf, refine_steps=10, **sampler)
    log_p_raw = logsumexp_rows(raw.decision_function(X))
    log_p_refined = logsumexp_rows(refined.decision_function(X))
    # The refined logits are those of the refined points.
    assert log_p_refined.mean() > log_p_raw.mean() + 0.02
    assert (log_p_refined > log_p_raw).mean() >= (1.0 if all_rows else 0.9)
    assert abs(refined.score(X, y) - raw.score(X, y)) <= 0.01
    # score_samples still scores the input as given.
    np.testing.assert_array_equal(refined.score_samples(X), raw.score_samples(X))


def test_refined_predictions_are_deterministic_and_batch_free(digits_fitted):
    clf, X, _ = digits_fitted
    refined = clone_fitted(clf, refine_steps=5)
    proba = refined.predict_proba(X)
    np.testing.assert_allclose(proba.sum(1), 1.0, rtol=1e-12)
    np.testing.assert_array_equal(refined.predict_proba(X), proba)
    np.testing.assert_allclose(refined.predict_proba(X[::-1])[::-1], proba, atol=1e-12)
    np.testing.assert_allclose(refined.predict_proba(X[5:9]), proba[5:9], atol=1e-12)
    np.testing.assert_array_equal(refined.predict(X), refined.classes_[proba.argmax(1)])
    np.testing.assert_allclose(refined.predict_log_proba(X), np.log(proba), atol=1e-10)
    # Another seed draws other noise.
    reseeded = clone_fitted(clf, refine_steps=5)
    reseeded.refine_seed_ += 1
    assert np.abs(reseeded.predict_proba(X) - proba).max() > 1e-6


def test_refined_logits_are_the_predict_path_and_differentiable(digits_fitted):
    clf, X, _ = digits_fitted
    refined = clone_fitted(clf, refine_steps=3)
    x = torch.tensor(X[:20], dtype=torch.float64, requires_grad=True)
    logits = refined._refined_logits(x, keep_graph=True)
    np.testing.assert_allclose(
        logits.detach().numpy(), refined.decision_function(X[:20]), atol=1e-10
    )
    # The gradient through the refinement matches a finite difference.
    (grad,) = torch.autograd.grad(logits[:, 0].sum(), x)
    step = torch.zeros_like(x)
    step[:, 10] = 1e-4
    with torch.no_grad():
        up = refined._refined_logits(x + step)[:, 0]
        down = refined._refined_logits(x - step)[:, 0]
    np.testing.assert_allclose(
        grad[:, 10].numpy(), ((up - down) / 2e-4).numpy(), rtol=1e-3, atol=1e-6
    )
    # BPDA: the same values, the plain network's gradient at the refined point.
    straight = refined._refined_logits(x, straight_through=True)
    torch.testing.assert_close(straight.detach(), logits.detach())
    (bpda,) = torch.autograd.grad(straight[:, 0].sum(), x)
    assert bpda.abs().sum() > 0 and not torch.allclose(bpda, grad)


def test_refine_steps_is_validated_at_fit_and_at_predict(digits_fitted, iris):
    X, y = iris
    with pytest.raises(ValueError, match="refine_steps"):
        JEMClassifier(refine_steps=-1, **FAST_PARAMS).fit(X, y)
    clf, X_digits, _ = digits_fitted
    with pytest.raises(ValueError, match="refine_steps"):
        clone_fitted(clf, refine_steps=-2).predict(X_digits)


def clone_fitted(clf, **params):
    """A copy of a fitted model with other parameters (as set_params would)."""
    return pickle.loads(pickle.dumps(clf)).set_params(**params)


def logsumexp_rows(logits):
    peak = logits.max(axis=1, keepdims=True)
    return (peak + np.log(np.exp(logits - peak).sum(1, keepdims=True)))[:, 0]


def test_chains_can_start_from_the_classifier_s_own_base():
    # init="base" on a classifier: class slots of the buffer are resampled by
    # p(x, y) / q(x), so the fit still learns the classes.
    X, y = load_iris(return_X_y=True)
    params = {**FAST_PARAMS, "sampler_params": {"init": "base"}}
    clf = JEMClassifier(base="gaussian", **params).fit(X, y)
    assert clf.init_.kind == "base"
    assert clf.score(X, y) > 0.9
    assert np.isfinite(clf.sample(5, random_state=0)).all()
    with pytest.raises(ValueError, match="this model has none"):
        JEMClassifier(**params).fit(X, y)
