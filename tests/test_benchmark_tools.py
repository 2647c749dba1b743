"""The statistics behind benchmarks/density_toys.py, sweep.py and openml_runner.py."""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

import density_toys  # noqa: E402
import openml_runner  # noqa: E402
import sweep  # noqa: E402


def test_mmd_is_near_zero_for_one_distribution_and_grows_with_blur():
    rng = np.random.default_rng(0)
    ring = density_toys.ring(800, rng)
    same = density_toys.ring(800, rng)
    blurred = same + 0.2 * rng.normal(size=same.shape)
    median = 1.3
    same_mmd = density_toys.mmd2(ring, same, median)
    blurred_mmd = density_toys.mmd2(ring, blurred, median)
    # Measured: 0.0007 for two samples of the ring, 0.0096 with the blur.
    assert abs(same_mmd) < 0.002
    assert blurred_mmd > 5 * abs(same_mmd)


def test_density_toy_evaluation_of_a_baseline():
    row = density_toys.evaluate("gmm-8", "8gaussians", seed=0, epochs=1)
    assert 0.9 < row["auroc"] <= 1.0
    assert row["sample_ll"] == pytest.approx(row["sample_ll_training_rows"], abs=0.3)


def test_sweep_ranks_share_ties_and_pick_the_best_worst_case():
    rows = [
        dict(family="pcd", setting=s, task=t, seed=0, value=v)
        for s, t, v in [
            ("a", "x", 0.9),
            ("a", "y", 0.5),
            ("b", "x", 0.8),
            ("b", "y", 0.7),
            ("c", "x", 0.8),
            ("c", "y", 0.6),
        ]
    ]
    tasks, settings, means, rank = sweep.ranks(rows, "pcd")
    assert rank[("b", "x")] == rank[("c", "x")] == 2.5
    assert rank[("a", "y")] == 3
    text = sweep.table(rows)
    # a wins task x but is last on y; b is never worse than 2.5.
    assert "best worst-case rank for pcd: b (2.5)" in text


def test_openml_runner_table_pools_folds_and_seeds():
    rows = [
        dict(task="t", method="a", seed=0, fold_accuracy=[0.9, 0.8], seconds=1.0),
        dict(task="t", method="a", seed=1, fold_accuracy=[1.0, 0.7], seconds=2.0),
        dict(task="t", method="b", seed=0, fold_accuracy=[0.5, 0.5], seconds=0.4),
    ]
    text = openml_runner.table(rows)
    assert "| task | a | b |" in text
    assert "| t | 85.0 (70.0-100.0), 3 s | 50.0 (50.0-50.0), 0 s |" in text
