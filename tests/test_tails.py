"""Energies whose tails fall away from the data, for every training family of
the density estimator (issue 14)."""

import pickle
import warnings

import numpy as np
import pytest
import torch
from sklearn.datasets import load_wine
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import KernelDensity
from sklearn.preprocessing import StandardScaler

from sk_ebm import EnergyDensityEstimator, _base
from sk_ebm.exceptions import DivergenceError
from sk_ebm.families import FAMILIES
from sk_ebm.nets import KernelCorrectedNet

from ._helpers import FAST_PARAMS

FAMILY_NAMES = sorted(FAMILIES)


def far_points(X, n, seed):
    """Rows at least 10 data-scales from every training row, in random
    directions: in the whitened space (where the data's scale is 1 in every
    direction), 10 beyond the farthest training row."""
    rng = np.random.default_rng(seed)
    mean, root = X.mean(0), np.linalg.cholesky(np.cov(X, rowvar=False))
    white = np.linalg.solve(root, (X - mean).T).T
    radius = 10 + np.linalg.norm(white, axis=1).max()
    directions = rng.normal(size=(n, X.shape[1]))
    directions /= np.linalg.norm(directions, axis=1, keepdims=True)
    return mean + radius * directions @ root.T


@pytest.mark.parametrize("training", FAMILY_NAMES)
def test_far_points_score_below_every_training_row(training):
    # The Gaussian base here; the kernel base, the default for tables, below.
    X = load_wine().data
    params = {**FAST_PARAMS, "base": "gaussian"}
    est = EnergyDensityEstimator(training=training, **params).fit(X)
    lowest_training_row = est.score_samples(X).min()
    assert est.score_samples(far_points(X, 200, 0)).max() < lowest_training_row
    assert est.score_samples(10 * X).max() < lowest_training_row


@pytest.mark.parametrize("n_rows, bound", [(40, 2.0), (400, 10.0), (1000, 20.0)])
def test_the_correction_bound_grows_with_the_training_rows(n_rows, bound):
    X = np.random.default_rng(0).normal(size=(n_rows, 2))
    # Without early stopping, whose held-out rows would not count.
    params = {**FAST_PARAMS, "max_iter": 1, "early_stopping": False}
    assert EnergyDensityEstimator(**params).fit(X).net_.bound == bound


def test_without_a_base_an_inverted_fit_is_refused_clearly():
    # What the base fixes, so the test above means something: the same fit
    # without it ranks broad noise above its training rows, which the fit
    # detects, tries to remedy, and reports.
    X = load_wine().data
    with pytest.warns(RuntimeWarning, match="broad noise"):
        with pytest.raises(DivergenceError, match="below broad noise.*base="):
            EnergyDensityEstimator(base=None, **FAST_PARAMS).fit(X)


@pytest.mark.parametrize("training", ["pcd", "dsm"])
def test_log_z_is_near_the_bound_range_and_scores_are_normalized(training):
    X = np.random.default_rng(0).normal(size=(400, 2))
    est = EnergyDensityEstimator(training=training, **FAST_PARAMS).fit(X)
    # The model is its base times a factor in (exp(-20), exp(20)).
    assert -20 <= est.log_z_ <= 20 and 0 < est.log_z_stderr_ < 0.5
    # exp(score_samples) integrates to about 1 over the plane.
    grid = np.linspace(-6, 6, 241)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(est.score_samples(np.c_[xx.ravel(), yy.ravel()]))
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=0.1)


def test_the_kernel_base_is_sklearns_kernel_density():
    # The kernel base on standardized rows is KernelDensity(bandwidth="scott").
    X = StandardScaler().fit_transform(load_wine().data)
    est = EnergyDensityEstimator(
        base="kde", standardize=False, early_stopping=False, **FAST_PARAMS
    )
    net = est.fit(X).net_
    assert isinstance(net, KernelCorrectedNet) and len(net.centers) == len(X)
    rows = torch.as_tensor(X[:20], dtype=net.centers.dtype)
    ours = net.base_log_prob(rows).detach().numpy()
    scale = np.sqrt(X.var(0).mean())  # 1 up to the scaler's ddof
    kde = KernelDensity(bandwidth=scale * len(X) ** (-1 / (X.shape[1] + 4)))
    np.testing.assert_allclose(ours, kde.fit(X).score_samples(X[:20]), rtol=1e-4)
    # And AIS starts from it: a density that integrates to about one.
    assert -est.net_.bound <= est.log_z_ <= est.net_.bound


@pytest.mark.parametrize("training", ["pcd", "short_run", "vera", "dsm"])
def test_kernel_base_tails_fall_away_and_it_pickles(training):
    X = load_wine().data
    est = EnergyDensityEstimator(training=training, base="kde", **FAST_PARAMS).fit(X)
    lowest_training_row = est.score_samples(X).min()
    assert est.score_samples(far_points(X, 200, 0)).max() < lowest_training_row
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_allclose(again.score_samples(X), est.score_samples(X))


def test_kernel_base_in_two_dimensions_integrates_to_one():
    X = np.random.default_rng(0).normal(size=(300, 2))
    est = EnergyDensityEstimator(base="kde", **FAST_PARAMS).fit(X)
    assert 0 < est.log_z_stderr_ < 0.5
    grid = np.linspace(-6, 6, 241)
    xx, yy = np.meshgrid(grid, grid)
    density = np.exp(est.score_samples(np.c_[xx.ravel(), yy.ravel()]))
    assert density.sum() * (grid[1] - grid[0]) ** 2 == pytest.approx(1.0, abs=0.1)


@pytest.mark.parametrize("training", ["sm", "ssm"])
def test_curvature_penalized_families_refuse_the_kernel_base(training):
    X = np.random.default_rng(0).normal(size=(50, 2))
    with pytest.raises(ValueError, match="does not take base='kde'"):
        EnergyDensityEstimator(training=training, base="kde", **FAST_PARAMS).fit(X)


def test_kernel_centers_are_capped(monkeypatch):
    monkeypatch.setattr(_base, "MAX_KERNEL_CENTERS", 30)
    X = np.random.default_rng(0).normal(size=(100, 2))
    params = {**FAST_PARAMS, "max_iter": 1}
    net = EnergyDensityEstimator(base="kde", **params).fit(X).net_
    assert net.centers.shape == (30, 2)
    assert net.log_weights.exp().sum().item() == pytest.approx(1.0, abs=1e-5)


def test_auto_init_is_the_data_s_above_32_features():
    X = np.random.default_rng(0).uniform(size=(60, 33))
    params = {**FAST_PARAMS, "max_iter": 1}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        wide = EnergyDensityEstimator(**params).fit(X)
        narrow = EnergyDensityEstimator(**params).fit(X[:, :32])
    assert (wide.init_.kind, narrow.init_.kind) == ("diag_gaussian", "base")


@pytest.mark.parametrize(
    "training, n_rows, input_shape, base, early_stopping, activation, init",
    [
        ("pcd", 60, None, "kde", True, "relu", "base"),
        # Too few rows to hold some out; VERA keeps SiLU and has no chains.
        ("vera", 49, None, "kde", False, "silu", None),
        # Under 10 rows per feature.
        ("pcd", 39, None, "gaussian", False, "relu", "base"),
        # A constant curvature and second derivatives.
        ("sm", 60, None, "gaussian", True, "silu", "base"),
        # Images.
        ("short_run", 60, (1, 2, 2), "gaussian", False, "silu", "diag_gaussian"),
        ("dsm", 60, (1, 2, 2), "gaussian", False, "silu", "diag_gaussian"),
    ],
)
def test_auto_base_early_stopping_activation_and_init(
    training, n_rows, input_shape, base, early_stopping, activation, init
):
    X = np.random.default_rng(0).uniform(size=(n_rows, 4))
    params = {**FAST_PARAMS, "max_iter": 2, "input_shape": input_shape}
    est = EnergyDensityEstimator(training=training, **params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # two epochs
        est.fit(X)
    assert (est.base_, est.early_stopping_) == (base, early_stopping)
    assert isinstance(est.net_, KernelCorrectedNet) == (base == "kde")
    assert ("val_score" in est.history_[0]) == early_stopping
    assert est.network_config_["activation"] == activation
    assert est.get_params()["activation"] == "auto"
    assert getattr(getattr(est, "init_", None), "kind", None) == init
    # What is said is done: explicit values are not second-guessed.
    est.set_params(
        base="gaussian",
        early_stopping=False,
        activation="elu",
        sampler_params={"init": "uniform"},
        warm_start=False,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(X)
    assert (est.base_, est.early_stopping_) == ("gaussian", False)
    assert est.network_config_["activation"] == "elu"
    if init is not None:
        assert est.init_.kind == "uniform"
