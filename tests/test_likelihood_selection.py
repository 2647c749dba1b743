"""Normalized likelihoods make density models comparable: GridSearchCV over
EnergyDensityEstimator settings selects by held-out log-likelihood, as it does
for KernelDensity (issue 15)."""

import numpy as np
import pytest
from sklearn.model_selection import GridSearchCV
from sklearn.neighbors import KernelDensity

from sk_ebm import EnergyDensityEstimator

#: How far below the tuned KernelDensity's held-out log-likelihood (nats per
#: row) the selected model may be. Measured (seed 0, 100 epochs, 600 rows):
#: PCD -0.98 and dsm at one scale 0.1 -1.03 against KernelDensity -1.04;
#: dsm at scales (1, 0.3, 0.1) -2.24, near the Gaussian base alone (-2.17).
#: Those were measured with the Gaussian base and no early stopping, which
#: the test keeps. The defaults for tables (base="kde", early stopping with 30
#: epochs' patience) reach -1.49 with PCD: the held-out score stays flat for
#: about 50 epochs before the correction sharpens the kernel base, so the fit
#: stops in its first epochs (-1.04 with the same base and 100 epochs).
#: The activation is pinned to SiLU, as measured: on the Gaussian base without
#: early stopping, ReLU (the density default for PCD on tables since
#: 2026-12-04) reaches -1.25 here. With the defaults, on the 2,000-row ring of
#: benchmarks/density_toys.py (seed 0), ReLU and SiLU tie: -1.01 and -1.02.
MARGIN = 0.15


def ring(n, rng):
    angle = rng.uniform(0, 2 * np.pi, n)
    circle = np.column_stack([np.cos(angle), np.sin(angle)])
    return circle + 0.1 * rng.normal(size=(n, 2))


@pytest.mark.slow
def test_grid_search_selects_by_normalized_likelihood_like_kernel_density():
    rng = np.random.default_rng(0)
    X, X_test = ring(600, rng), ring(2000, rng)
    kde = GridSearchCV(KernelDensity(), {"bandwidth": np.logspace(-2, 0, 12)}, cv=3)
    kde_ll = kde.fit(X).best_estimator_.score(X_test) / len(X_test)
    grid = {"training": ["pcd", "dsm"]}  # dsm at its scales (1, 0.3, 0.1)
    search = GridSearchCV(
        EnergyDensityEstimator(
            hidden_dims=(64, 64),
            base="gaussian",
            early_stopping=False,
            activation="silu",
            device="cpu",
            random_state=0,
        ),
        grid,
        cv=2,
    ).fit(X)
    selected = search.best_estimator_.score(X_test)
    assert selected > kde_ll - MARGIN, (search.cv_results_["mean_test_score"], kde_ll)
    # The multi-scale dsm, blurred to about the base, is ranked below PCD.
    assert search.best_params_ == {"training": "pcd"}
    # Every fit's normalizing constant is known to within 0.1 nats.
    assert search.best_estimator_.log_z_stderr_ < 0.1
