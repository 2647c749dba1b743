"""An OpenML classification task written straight into an openml cache directory."""

from numbers import Integral
from pathlib import Path
from xml.sax.saxutils import escape

import numpy as np
import pandas as pd
from sklearn.model_selection import RepeatedStratifiedKFold
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, validate_params

OPENML_INSTALL = "pip install openml==0.15.1"

# openml 0.15.1 maps the default server, https://www.openml.org/api/v1/xml, to
# this sub-directory of its root cache directory.
_SERVER_SUBDIR = Path("org", "openml", "www")

_DESCRIPTION_XML = """\
<oml:data_set_description xmlns:oml="http://openml.org/openml">
  <oml:id>{did}</oml:id>
  <oml:name>{name}</oml:name>
  <oml:version>1</oml:version>
  <oml:description>{description}</oml:description>
  <oml:format>ARFF</oml:format>
  <oml:url>local:{did}/dataset.arff</oml:url>
  <oml:default_target_attribute>{target}</oml:default_target_attribute>
</oml:data_set_description>
"""

_FEATURE_XML = """\
  <oml:feature><oml:index>{index}</oml:index><oml:name>{name}</oml:name>\
<oml:data_type>{kind}</oml:data_type>{values}</oml:feature>"""

_TASK_XML = """\
<oml:task xmlns:oml="http://openml.org/openml">
  <oml:task_id>{tid}</oml:task_id>
  <oml:task_type_id>1</oml:task_type_id>
  <oml:task_type>Supervised Classification</oml:task_type>
  <oml:input name="source_data"><oml:data_set>
    <oml:data_set_id>{did}</oml:data_set_id>
    <oml:target_feature>{target}</oml:target_feature>
  </oml:data_set></oml:input>
  <oml:input name="estimation_procedure"><oml:estimation_procedure>
    <oml:type>crossvalidation</oml:type>
    <oml:data_splits_url>local:{tid}/datasplits.arff</oml:data_splits_url>
    <oml:parameter name="number_repeats">{n_repeats}</oml:parameter>
    <oml:parameter name="number_folds">{n_folds}</oml:parameter>
    <oml:parameter name="percentage"></oml:parameter>
    <oml:parameter name="stratified_sampling">true</oml:parameter>
  </oml:estimation_procedure></oml:input>
  <oml:input name="evaluation_measures"><oml:evaluation_measures>
    <oml:evaluation_measure>predictive_accuracy</oml:evaluation_measure>
  </oml:evaluation_measures></oml:input>
</oml:task>
"""

_SPLITS_HEADER = """\
@RELATION splits

@ATTRIBUTE type {TRAIN,TEST}
@ATTRIBUTE rowid INTEGER
@ATTRIBUTE repeat INTEGER
@ATTRIBUTE fold INTEGER

@DATA
"""


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "cache_dir": [str, Path],
        "task_id": [Interval(Integral, 1, None, closed="left")],
        "dataset_id": [Interval(Integral, 1, None, closed="left"), None],
        "name": [str, None],
        "target_name": [str],
        "n_folds": [Interval(Integral, 2, None, closed="left")],
        "n_repeats": [Interval(Integral, 1, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_local_openml_task(
    X,
    y,
    *,
    cache_dir,
    task_id,
    dataset_id=None,
    name=None,
    target_name="class",
    n_folds=3,
    n_repeats=1,
    random_state=0,
):
    """Write a classification task on ``(X, y)`` into an openml cache directory.

    Afterwards ``openml.tasks.get_task(task_id)`` and
    ``openml.runs.run_model_on_task`` work without a network connection, once
    openml's root cache directory is ``cache_dir``. This is how the sk_ebm tests
    and ``benchmarks/openml_runner.py`` run OpenML tasks on machines with no
    internet access, with data from any local loader.

    The files are those openml 0.15.1 reads from its cache for a task of type 1
    (supervised classification) on the default server: under
    ``cache_dir/org/openml/www/``, ``datasets/<dataset_id>/description.xml``,
    ``features.xml`` and ``dataset.arff``, and ``tasks/<task_id>/task.xml`` and
    ``datasplits.arff`` (stratified ``n_repeats`` x ``n_folds`` cross-validation).
    The cache layout is openml's internal format, tested with the version pinned
    by the ``openml`` extra of sk_ebm only.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Numeric features. DataFrame column names become the feature names; other
        inputs get ``x0``, ``x1``, ...
    y : array-like of shape (n_samples,)
        Class labels; they are written as strings (nominal values), which is what
        openml hands to a model.
    cache_dir : str or pathlib.Path
        The root cache directory to write into, the directory later given to
        ``openml.config.set_root_cache_directory``. It must be writable: openml
        stores pickles next to these files, and deletes a task's or data set's
        directory when loading it fails.
    task_id : int
        The task's id. Choose ids that do not exist on the OpenML server (e.g.
        above 900000) if the directory is also openml's regular cache.
    dataset_id : int, default=None
        The data set's id; None uses ``task_id``.
    name : str, default=None
        The data set's name; None gives ``"local-<dataset_id>"``.
    target_name : str, default="class"
        Name of the target column.
    n_folds : int, default=3
        Number of cross-validation folds.
    n_repeats : int, default=1
        Number of repetitions of the cross-validation.
    random_state : int, RandomState instance or None, default=0
        Seeds the fold assignment.

    Returns
    -------
    task : Bunch
        ``task_id``, ``dataset_id``, ``cache_dir`` (a Path), ``classes`` (the
        class labels as strings, in the order of ``np.unique(y)``) and
        ``feature_names`` (a list).

    Raises
    ------
    ImportError
        If liac-arff, a dependency of openml, is not installed.

    Notes
    -----
    Point openml at the cache and keep it from retrying a server it cannot reach
    (openml tries the server, 10 s per attempt by default, for any file that is
    missing)::

        openml.config.set_root_cache_directory(cache_dir)
        openml.config.set_retry_policy("robot", 1)
        task = openml.tasks.get_task(task_id)
        run = openml.runs.run_model_on_task(
            model, task, avoid_duplicate_runs=False, upload_flow=False, seed=0
        )

    ``avoid_duplicate_runs=False`` and ``upload_flow=False`` are needed offline:
    either default asks the server. If the environment variable
    ``OPENML_CACHE_DIR`` is set, openml 0.15.1 uses it instead of
    ``set_root_cache_directory`` while running the folds; set it to ``cache_dir``
    too (or unset it) before calling ``run_model_on_task``.

    Examples
    --------
    >>> import tempfile
    >>> from sklearn.datasets import load_iris
    >>> from sk_ebm.datasets import make_local_openml_task
    >>> X, y = load_iris(return_X_y=True)
    >>> with tempfile.TemporaryDirectory() as cache_dir:
    ...     task = make_local_openml_task(X, y, cache_dir=cache_dir, task_id=990001)
    ...     print(task.classes, len(task.feature_names))
    ['0', '1', '2'] 4
    """
    try:
        import arff
    except ModuleNotFoundError as exc:
        raise ImportError(
            "make_local_openml_task needs liac-arff, which comes with openml: "
            f"{OPENML_INSTALL}"
        ) from exc
    frame, labels, classes = _as_frame(X), *_as_labels(y)
    if len(frame) != len(labels):
        raise ValueError(
            f"X and y have different numbers of rows: {len(frame)} and {len(labels)}."
        )
    dataset_id = task_id if dataset_id is None else dataset_id
    root = Path(cache_dir) / _SERVER_SUBDIR
    data_dir = root / "datasets" / str(dataset_id)
    task_dir = root / "tasks" / str(task_id)
    data_dir.mkdir(parents=True, exist_ok=True)
    task_dir.mkdir(parents=True, exist_ok=True)

    names = [str(column) for column in frame.columns]
    rows = [[*map(float, row), label] for row, label in zip(frame.to_numpy(), labels)]
    relation = name or f"local-{dataset_id}"
    (data_dir / "dataset.arff").write_text(
        arff.dumps(
            {
                "relation": relation,
                "attributes": [(n, "REAL") for n in names] + [(target_name, classes)],
                "data": rows,
            }
        )
    )
    (data_dir / "description.xml").write_text(
        _DESCRIPTION_XML.format(
            did=dataset_id,
            name=escape(relation),
            description=escape(f"{len(frame)} rows written by make_local_openml_task"),
            target=escape(target_name),
        )
    )
    (data_dir / "features.xml").write_text(_features_xml(names, target_name, classes))
    (task_dir / "task.xml").write_text(
        _TASK_XML.format(
            tid=task_id,
            did=dataset_id,
            target=escape(target_name),
            n_folds=n_folds,
            n_repeats=n_repeats,
        )
    )
    splits = _split_rows(labels, n_folds, n_repeats, random_state)
    (task_dir / "datasplits.arff").write_text(_SPLITS_HEADER + splits)
    return Bunch(
        task_id=task_id,
        dataset_id=dataset_id,
        cache_dir=Path(cache_dir),
        classes=classes,
        feature_names=names,
    )


def _as_frame(X):
    if isinstance(X, pd.DataFrame):
        frame = X
    else:
        array = np.asarray(X)
        if array.ndim != 2:
            raise ValueError(f"X must be 2-D; got shape {array.shape}.")
        frame = pd.DataFrame(array, columns=[f"x{j}" for j in range(array.shape[1])])
    return frame.astype(np.float64)


def _as_labels(y):
    """Labels and classes as strings; classes in ``np.unique(y)``'s order."""
    labels = np.asarray(y).ravel()
    return [str(label) for label in labels], [str(c) for c in np.unique(labels)]


def _features_xml(names, target_name, classes):
    features = [
        _FEATURE_XML.format(index=i, name=escape(n), kind="numeric", values="")
        for i, n in enumerate(names)
    ]
    values = "".join(
        f"<oml:nominal_value>{escape(c)}</oml:nominal_value>" for c in classes
    )
    features.append(
        _FEATURE_XML.format(
            index=len(names), name=escape(target_name), kind="nominal", values=values
        )
    )
    return (
        '<oml:data_features xmlns:oml="http://openml.org/openml">\n'
        + "\n".join(features)
        + "\n</oml:data_features>\n"
    )


def _split_rows(labels, n_folds, n_repeats, random_state):
    cv = RepeatedStratifiedKFold(
        n_splits=n_folds, n_repeats=n_repeats, random_state=random_state
    )
    lines = []
    for k, (train, test) in enumerate(cv.split(np.zeros(len(labels)), labels)):
        repeat, fold = divmod(k, n_folds)
        lines += [f"TRAIN,{i},{repeat},{fold}" for i in train]
        lines += [f"TEST,{i},{repeat},{fold}" for i in test]
    return "\n".join(lines) + "\n"
