"""2-D toy distributions and uniform background samples, generated on the fly."""

from numbers import Integral, Real

import numpy as np
from sklearn.utils import check_array, check_random_state
from sklearn.utils._param_validation import Interval, validate_params


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="neither")],
        "noise": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_ring(n_samples=1000, *, radius=1.0, noise=0.1, random_state=None):
    """Points on a circle with Gaussian noise: a 2-D density with a hole.

    Each point is ``radius * (cos t, sin t) + noise * e`` with the angle
    ``t ~ Uniform[0, 2 pi)`` and ``e ~ N(0, I_2)``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.

    radius : float, default=1.0
        Radius of the circle.

    noise : float, default=0.1
        Standard deviation of the isotropic Gaussian noise added to each point.

    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points.
    y : ndarray of shape (n_samples,)
        The angle ``t`` of each point in radians, in [0, 2 pi): the position on
        the ring before noise, like the ``t`` of
        :func:`~sklearn.datasets.make_swiss_roll`. Not a class label.

    See Also
    --------
    make_gaussian_mixture : Eight Gaussians on a circle.
    sklearn.datasets.make_circles : Two concentric circles, for classification.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_ebm.datasets import make_ring
    >>> X, t = make_ring(500, noise=0.0, random_state=0)
    >>> X.shape, bool(np.allclose(np.hypot(X[:, 0], X[:, 1]), 1.0))
    ((500, 2), True)
    """
    generator = check_random_state(random_state)
    angle = generator.uniform(0.0, 2 * np.pi, size=n_samples)
    X = radius * np.column_stack([np.cos(angle), np.sin(angle)])
    X += noise * generator.standard_normal(size=(n_samples, 2))
    return X, angle


@validate_params(
    {
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "radius": [Interval(Real, 0, None, closed="left")],
        "std": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_gaussian_mixture(
    n_samples=1000, *, n_components=8, radius=2.0, std=0.2, random_state=None
):
    """Isotropic Gaussians with centres evenly spaced on a circle (the EBM toy).

    With the defaults this is the "8 Gaussians" density used to show energy-based
    and flow models. Component ``k`` has mean
    ``radius * (cos(2 pi k / n_components), sin(2 pi k / n_components))`` and
    covariance ``std**2 * I_2``, and all components have the same weight. The
    points are an i.i.d. sample of the mixture: each point draws its component
    uniformly, so component counts vary around ``n_samples / n_components``.

    Parameters
    ----------
    n_samples : int, default=1000
        Number of points.

    n_components : int, default=8
        Number of Gaussians.

    radius : float, default=2.0
        Distance of every centre from the origin.

    std : float, default=0.2
        Standard deviation of each Gaussian along each axis.

    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    X : ndarray of shape (n_samples, 2)
        The points.
    y : ndarray of shape (n_samples,), dtype int64
        The component of each point, 0..n_components-1.

    See Also
    --------
    make_ring : A ring-shaped density.
    sklearn.datasets.make_blobs : Gaussian blobs at given or random centres.

    Examples
    --------
    >>> from sk_ebm.datasets import make_gaussian_mixture
    >>> X, y = make_gaussian_mixture(800, random_state=0)
    >>> X.shape, sorted(set(y.tolist()))
    ((800, 2), [0, 1, 2, 3, 4, 5, 6, 7])
    >>> X[y == 0].mean(axis=0).round(1).tolist()  # near the centre (2, 0)
    [2.0, 0.0]
    """
    generator = check_random_state(random_state)
    y = generator.randint(n_components, size=n_samples).astype(np.int64)
    angle = 2 * np.pi * y / n_components
    X = radius * np.column_stack([np.cos(angle), np.sin(angle)])
    X += std * generator.standard_normal(size=(n_samples, 2))
    return X, y


@validate_params(
    {
        "X": ["array-like"],
        "n_samples": [Interval(Integral, 1, None, closed="left"), None],
        "margin": [Interval(Real, 0, None, closed="left")],
        "random_state": ["random_state"],
    },
    prefer_skip_nested_validation=True,
)
def make_uniform_background(X, *, n_samples=None, margin=0.1, random_state=None):
    """Uniform samples from the bounding box of ``X``, widened by a margin.

    Feature ``j`` is drawn from ``Uniform[lo_j - m_j, hi_j + m_j]`` where
    ``lo_j`` and ``hi_j`` are the minimum and maximum of ``X[:, j]`` and
    ``m_j = margin * (hi_j - lo_j)``. Use it as out-of-distribution data for a
    density model fitted on ``X``: ``ood_auroc(model.score_samples(X_test),
    model.score_samples(background))`` measures how much more density the model
    puts on the data than on the space around it.

    Parameters
    ----------
    X : array-like of shape (n_rows, n_features)
        Reference data; only its per-feature minimum and maximum are used.

    n_samples : int, default=None
        Number of background points; None means ``len(X)`` (balanced AUROC).

    margin : float, default=0.1
        Widening on each side, as a fraction of each feature's range. A feature
        with zero range gives a constant column.

    random_state : int, RandomState instance or None, default=None
        Seed for reproducible output.

    Returns
    -------
    background : ndarray of shape (n_samples, n_features), dtype float64
        The uniform samples. Part of them lands on the data itself, so even a
        perfect density does not reach an AUROC of 1.

    See Also
    --------
    make_ring, make_gaussian_mixture : Toy data to pair it with.
    sk_ebm.metrics.ood_auroc : The metric.

    Examples
    --------
    >>> from sk_ebm.datasets import make_ring, make_uniform_background
    >>> X, _ = make_ring(200, random_state=0)
    >>> B = make_uniform_background(X, margin=0.5, random_state=0)
    >>> B.shape, bool(B.min() < X.min() and B.max() > X.max())
    ((200, 2), True)
    """
    X = check_array(X, dtype=np.float64, input_name="X")
    generator = check_random_state(random_state)
    if n_samples is None:
        n_samples = X.shape[0]
    lo, hi = X.min(axis=0), X.max(axis=0)
    pad = margin * (hi - lo)
    return generator.uniform(lo - pad, hi + pad, size=(n_samples, X.shape[1]))
