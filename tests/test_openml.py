"""OpenML: the estimators as OpenML flows, run on a local task with no network.

The task is written by ``sk_ebm.datasets.make_local_openml_task`` into a
temporary openml cache; any attempt to reach a server fails the test.
"""

import socket
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

import sk_ebm
from sk_ebm import DensityScoreTransformer, EnergyDensityEstimator, JEMClassifier
from sk_ebm.datasets import make_local_openml_task

# benchmarks/openml_runner.py, tested at the end.
sys.path.insert(0, str(Path(__file__).parents[1] / "benchmarks"))

TASK_ID = 990001
IRIS_NAMES = np.array(["setosa", "versicolor", "virginica"])
# Tiny but better than chance on iris: the point is the plumbing.
TINY = dict(
    hidden_dims=(16,),
    max_iter=10,
    n_steps=2,
    batch_size=32,
    learning_rate=1e-2,
    device="cpu",
)


@pytest.fixture(scope="session")
def openml(tmp_path_factory):
    """openml, imported with its config and default cache in a temporary home."""
    home = tmp_path_factory.mktemp("openml_home")
    with pytest.MonkeyPatch.context() as mp:
        # `import openml` creates these directories; keep them out of $HOME.
        mp.setenv("XDG_CONFIG_HOME", str(home / "config"))
        mp.setenv("OPENML_CACHE_DIR", str(home / "cache"))
        return pytest.importorskip(
            "openml", reason="openml is optional (the 'openml' extra)"
        )


@pytest.fixture
def no_network(monkeypatch):
    """Fail on any name lookup or socket connection."""

    def refuse(*args, **kwargs):
        raise AssertionError(f"network access attempted: {args!r}")

    monkeypatch.setattr(socket, "getaddrinfo", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


@pytest.fixture
def point_openml_at(openml, monkeypatch, no_network):
    """A function pointing openml at a cache directory; undone after the test."""
    saved = openml.config.get_config_as_dict()

    def point(cache):
        # openml 0.15.1 re-reads OPENML_CACHE_DIR inside run_model_on_task, where
        # it wins over set_root_cache_directory: set both.
        monkeypatch.setenv("OPENML_CACHE_DIR", str(cache))
        openml.config.set_root_cache_directory(cache)
        # Fail at once rather than retry for 10 s if a file were missing.
        openml.config.set_retry_policy("robot", 1)

    yield point
    openml.config.set_root_cache_directory(saved["cachedir"])
    openml.config.set_retry_policy(saved["retry_policy"], saved["connection_n_retries"])


@pytest.fixture
def local_cache(tmp_path, point_openml_at):
    """A fresh writable cache holding the iris task; openml pointed at it."""
    cache = tmp_path / "openml_cache"
    X, y = load_iris(return_X_y=True, as_frame=True)
    make_local_openml_task(X, IRIS_NAMES[y], cache_dir=cache, task_id=TASK_ID)
    point_openml_at(cache)
    return cache


def run_offline(openml, model, task, seed=1):
    return openml.runs.run_model_on_task(
        model, task, avoid_duplicate_runs=False, upload_flow=False, seed=seed
    )


def fold_accuracies(predictions):
    """Accuracy per fold recomputed from a run's prediction table."""
    correct = predictions["prediction"] == predictions["correct"]
    return correct.groupby(predictions["fold"]).mean().to_dict()


def test_local_task_has_the_labels_and_folds_written(openml, local_cache):
    task = openml.tasks.get_task(TASK_ID)
    X, y = task.get_X_and_y(dataset_format="dataframe")
    iris = load_iris(as_frame=True)
    assert task.class_labels == IRIS_NAMES.tolist()
    assert list(X.columns) == list(iris.frame.columns[:-1])
    np.testing.assert_array_equal(X.to_numpy(), iris.data.to_numpy())
    np.testing.assert_array_equal(y.astype(str), IRIS_NAMES[iris.target])
    folds = StratifiedKFold(3, shuffle=True, random_state=0).split(X, iris.target)
    for k, (train, test) in enumerate(folds):
        got_train, got_test = task.get_train_test_split_indices(fold=k)
        np.testing.assert_array_equal(np.sort(got_train), train)
        np.testing.assert_array_equal(np.sort(got_test), test)


def test_jem_pipeline_runs_offline_saves_and_reproduces(openml, local_cache, tmp_path):
    task = openml.tasks.get_task(TASK_ID)
    model = make_pipeline(StandardScaler(), JEMClassifier(**TINY))
    run = run_offline(openml, model, task)

    accuracies = run.fold_evaluations["predictive_accuracy"][0]
    predictions = run.predictions
    assert sorted(predictions["row_id"]) == list(range(150))
    assert fold_accuracies(predictions) == pytest.approx(dict(accuracies))
    assert min(accuracies.values()) > 0.7  # chance is 1/3
    assert f"sk_ebm=={sk_ebm.__version__}" in run.flow.external_version
    # openml replaces random_state=None by an int drawn from `seed`.
    assert isinstance(run.model[-1].random_state, int)

    run.to_filesystem(tmp_path / "run", store_model=True)
    reloaded = openml.runs.OpenMLRun.from_filesystem(tmp_path / "run")
    assert reloaded.data_content == run.data_content
    rerun = run_offline(openml, reloaded.model, task)
    assert rerun.data_content == run.data_content


def density_features_pipeline():
    """A density model as a feature for logistic regression."""
    density = EnergyDensityEstimator(**TINY, random_state=0)
    return make_pipeline(
        StandardScaler(), DensityScoreTransformer(density), LogisticRegression()
    )


def test_density_features_pipeline_runs_offline_saves_and_reproduces(
    openml, local_cache, tmp_path
):
    task = openml.tasks.get_task(TASK_ID)
    run = run_offline(openml, density_features_pipeline(), task)

    accuracies = run.fold_evaluations["predictive_accuracy"][0]
    predictions = run.predictions
    assert sorted(predictions["row_id"]) == list(range(150))
    assert fold_accuracies(predictions) == pytest.approx(dict(accuracies))
    assert min(accuracies.values()) > 0.8  # chance is 1/3
    density_flow = run.flow.components["densityscoretransformer"]
    assert density_flow.class_name == "sk_ebm.density.DensityScoreTransformer"
    inner = density_flow.components["estimator"]
    assert inner.class_name == "sk_ebm.density.EnergyDensityEstimator"
    assert f"sk_ebm=={sk_ebm.__version__}" in inner.external_version

    run.to_filesystem(tmp_path / "run", store_model=True)
    reloaded = openml.runs.OpenMLRun.from_filesystem(tmp_path / "run")
    assert reloaded.data_content == run.data_content
    rerun = run_offline(openml, reloaded.model, task)
    assert rerun.data_content == run.data_content


def test_string_minus_one_from_openml_is_a_class(openml, tmp_path, point_openml_at):
    # OpenML data sets often have the classes "-1" and "1"; openml passes them
    # as strings, and only the integer -1 marks unlabeled rows.
    X, y = load_iris(return_X_y=True)
    keep = y > 0
    labels = np.where(y[keep] == 1, "-1", "1")
    make_local_openml_task(X[keep], labels, cache_dir=tmp_path, task_id=TASK_ID + 1)
    point_openml_at(tmp_path)
    task = openml.tasks.get_task(TASK_ID + 1)
    run = run_offline(openml, JEMClassifier(**TINY), task)
    predictions = run.predictions
    assert task.class_labels == ["-1", "1"]
    assert set(predictions["prediction"]) == {"-1", "1"}
    assert min(run.fold_evaluations["predictive_accuracy"][0].values()) > 0.6


@pytest.mark.parametrize(
    "model",
    [
        JEMClassifier(
            training="vera", hidden_dims=(16, 8), generator_params={"latent_dim": 4}
        ),
        make_pipeline(
            StandardScaler(),
            EnergyDensityEstimator(
                **TINY, sampler_params={"init": "uniform", "clip_grad": 1.0}
            ),
        ),
        density_features_pipeline(),
    ],
    ids=["jem-vera", "density-pipeline", "density-features"],
)
def test_flow_round_trip_gives_the_same_parameters(openml, model):
    from openml.extensions.sklearn import SklearnExtension

    extension = SklearnExtension()
    flow = extension.model_to_flow(model)
    assert "<oml:flow" in flow._to_xml()
    rebuilt = extension.flow_to_model(flow)
    assert leaf_params(rebuilt) == leaf_params(model)
    # The rebuilt model is usable, not just equal on paper.
    X, y = load_iris(return_X_y=True)
    rebuilt = clone(rebuilt).set_params(**tiny_params(rebuilt))
    assert rebuilt.fit(X, y).predict(X).shape == (150,)


def test_density_features_flow_describes_its_parameters(openml):
    from openml.extensions.sklearn import SklearnExtension

    flow = SklearnExtension().model_to_flow(density_features_pipeline())
    step = flow.components["densityscoretransformer"]
    meta = step.parameters_meta_info
    assert meta["passthrough"]["data_type"] == "bool"
    assert "score as its last column" in meta["passthrough"]["description"]
    assert "score_samples" in meta["estimator"]["description"]
    assert step.parameters["passthrough"] == "true"
    inner = step.components["estimator"].parameters_meta_info
    assert inner["max_iter"]["description"] == "Number of epochs (passes over all rows)"


def leaf_params(model):
    """Each step's own parameters; tuples as lists, as openml stores them.

    A parameter holding an estimator becomes its class name and its own
    parameters, so nested estimators compare by value.
    """
    steps = model.steps if hasattr(model, "steps") else [("", model)]
    return {name: _plain_params(step) for name, step in steps}


def _plain_params(estimator):
    return {
        key: _plain_value(value)
        for key, value in estimator.get_params(deep=False).items()
    }


def _plain_value(value):
    if hasattr(value, "get_params") and not isinstance(value, type):
        return type(value).__name__, _plain_params(value)
    return list(value) if isinstance(value, tuple) else value


def tiny_params(model):
    """TINY, keyed for every sk_ebm estimator in ``model``, itself or nested."""
    if isinstance(model, (JEMClassifier, EnergyDensityEstimator)):
        return TINY
    return {
        f"{path}__{key}": value
        for path, step in model.get_params().items()
        if isinstance(step, (JEMClassifier, EnergyDensityEstimator))
        for key, value in TINY.items()
    }


def test_local_task_names_array_columns_and_checks_lengths(tmp_path):
    pytest.importorskip("arff", reason="liac-arff comes with the optional openml")
    X, y = load_iris(return_X_y=True)
    task = make_local_openml_task(X, y, cache_dir=tmp_path, task_id=TASK_ID)
    assert task.feature_names == ["x0", "x1", "x2", "x3"]
    assert task.classes == ["0", "1", "2"]
    splits = (tmp_path / "org/openml/www/tasks/990001/datasplits.arff").read_text()
    assert splits.count("\nTEST,") == 150  # each row tested once in 3 folds
    with pytest.raises(ValueError, match="different numbers of rows"):
        make_local_openml_task(X, y[:-1], cache_dir=tmp_path, task_id=TASK_ID)


def test_benchmark_runner_runs_a_local_task(openml, tmp_path, point_openml_at):
    import openml_runner as runner

    point_openml_at(tmp_path)
    ids = runner.build_local_tasks(["digits", "not-local"], tmp_path)
    assert ids == {"digits": 990101}
    tasks = runner.load_tasks(openml, ["digits"], ids)
    row = runner.run_one(openml, tasks["digits"], "logreg", seed=0, quick=True)
    assert len(row["fold_accuracy"]) == 3
    assert row["accuracy"] == pytest.approx(np.mean(row["fold_accuracy"]), abs=1e-4)
    assert row["accuracy"] > 0.9


def test_benchmark_runner_density_features_method_is_opt_in():
    import openml_runner as runner

    # It trains an energy model per fold: not in the default run.
    assert "ebm-features-logreg" not in runner.parse_args([]).methods
    args = runner.parse_args(["--methods", "ebm-features-logreg"])
    assert args.methods == ["ebm-features-logreg"]
    # The pipeline itself runs on OpenML in the tests above.
    model = runner.make_method("ebm-features-logreg", quick=True)
    assert [type(step).__name__ for step in model] == [
        "StandardScaler",
        "DensityScoreTransformer",
        "LogisticRegression",
    ]
    density = model[1].estimator
    assert isinstance(density, EnergyDensityEstimator)
    assert density.max_iter == runner.QUICK_EPOCHS
