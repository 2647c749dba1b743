"""A grid search over a JEMClassifier pipeline on a local dask cluster.

Fits sent to two worker processes through joblib's dask backend must give the
serial search's ``cv_results_`` exactly: every fit draws its randomness from
the estimator's private generator, seeded by ``random_state``.
"""

import os

import numpy as np
import pytest
from joblib import parallel_config
from sklearn.datasets import load_iris
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from sk_ebm import JEMClassifier

distributed = pytest.importorskip(
    "distributed", reason="dask's distributed is optional (the 'dask' extra)"
)

# Starting the cluster and importing torch in its workers alone takes over 5 s.
pytestmark = pytest.mark.slow

GRID = {
    "jemclassifier__alpha": [0.0, 0.1],
    "jemclassifier__hidden_dims": [(8,), (16,)],
}


def search():
    jem = JEMClassifier(
        max_iter=5,
        n_steps=2,
        batch_size=32,
        learning_rate=1e-2,
        device="cpu",
        random_state=0,
    )
    model = make_pipeline(StandardScaler(), jem)
    return GridSearchCV(model, GRID, cv=3, scoring="neg_log_loss")


@pytest.fixture(scope="module")
def client():
    """Two single-threaded worker processes on the loopback interface."""
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _worker_settings():
    import torch

    import sk_ebm

    return os.environ.get("OMP_NUM_THREADS"), torch.get_num_threads(), sk_ebm.__file__


def test_workers_run_this_sk_ebm_with_one_torch_thread(client):
    import sk_ebm

    settings = client.run(_worker_settings)
    assert len(settings) == 2
    assert set(settings.values()) == {("1", 1, sk_ebm.__file__)}


def test_grid_search_on_dask_matches_serial(client):
    X, y = load_iris(return_X_y=True)
    serial = search().fit(X, y)
    with (
        distributed.get_task_stream(client) as stream,
        parallel_config(backend="dask"),
    ):
        on_dask = search().fit(X, y)

    assert len(stream.data) > 0  # the fits did go to the cluster
    assert on_dask.cv_results_["params"] == serial.cv_results_["params"]
    for key in ["mean_test_score", "rank_test_score"] + [
        f"split{k}_test_score" for k in range(3)
    ]:
        np.testing.assert_array_equal(on_dask.cv_results_[key], serial.cv_results_[key])
    assert on_dask.best_params_ == serial.best_params_
    # Real numbers to compare: better than uniform guessing, and the grid matters.
    scores = serial.cv_results_["mean_test_score"]
    assert np.all(scores > np.log(1 / 3))
    assert len(set(scores)) == len(scores)
