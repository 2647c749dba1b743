"""Plots of training curves, calibration, OOD scores, samples and energies.

Every function draws into a matplotlib ``Axes`` (a new figure when ``ax`` is
None) and returns what it drew into, so plots can be combined and restyled:

=====================================  ==========================================
:func:`plot_training_curves`           ``history_`` of a fit, one panel per group
:func:`plot_reliability_diagram`       accuracy vs confidence, ECE in the legend
:func:`plot_score_histogram`           in- vs out-of-distribution scores, AUROC
:func:`plot_samples`                   drawn samples: image grid or 2-D scatter
:func:`plot_sample_grid`               class-conditional images, one row a class
:func:`plot_energy_landscape`          ``score_samples`` over a 2-D plane
=====================================  ==========================================

matplotlib is an optional dependency (``pip install sk_ebm[plot]``). It is
imported when a function is called, not when this module is, and neither this
module nor ``import sk_ebm`` imports torch or matplotlib.
"""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_array
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    validate_params,
)

from .metrics import expected_calibration_error, ood_auroc, reliability_curve

__all__ = [
    "plot_energy_landscape",
    "plot_reliability_diagram",
    "plot_sample_grid",
    "plot_samples",
    "plot_score_histogram",
    "plot_training_curves",
]

#: Keys drawn in one panel each by default, when ``history_`` has them.
DEFAULT_PANELS = (("loss", "ce"), ("acc", "val_score"), ("e_data", "e_sample"))

#: The ``history_`` key that holds the x coordinate.
EPOCH_KEY = "epoch"

#: A row with a true value under this key marks an event (a vertical line).
EVENT_KEY = "recovery"

_PERFECT_CALIBRATION = "perfectly calibrated"


# --------------------------------------------------------------------------------------
# matplotlib plumbing
# --------------------------------------------------------------------------------------


def _pyplot():
    """Import ``matplotlib.pyplot``, or say how to install it."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sk_ebm.plotting needs matplotlib, which is not installed: run "
            "`pip install sk_ebm[plot]` (or `pip install matplotlib`)."
        ) from exc
    return plt


def _check_axes(ax):
    """Return ``ax``, or the Axes of a new figure when it is None."""
    plt = _pyplot()
    if ax is None:
        return plt.subplots()[1]
    if not isinstance(ax, plt.Axes):
        raise TypeError(
            f"ax must be a matplotlib Axes or None; got {type(ax).__name__}."
        )
    return ax


# --------------------------------------------------------------------------------------
# Training curves
# --------------------------------------------------------------------------------------


def _history_of(estimator_or_history):
    """The list of per-epoch dicts of a fitted estimator, or the list itself."""
    if hasattr(estimator_or_history, "get_params"):
        if not hasattr(estimator_or_history, "history_"):
            raise NotFittedError(
                f"This {type(estimator_or_history).__name__} has no history_: fit "
                "it first."
            )
        history = estimator_or_history.history_
    else:
        history = estimator_or_history
    if not isinstance(history, (list, tuple)) or not all(
        isinstance(row, dict) for row in history
    ):
        raise TypeError(
            "Expected a fitted estimator with history_ or a list of dicts (one "
            f"per epoch); got {type(history).__name__}."
        )
    if not history:
        raise ValueError("The history is empty: there is no epoch to plot.")
    return list(history)


def _is_number(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _numeric_keys(history):
    """Keys with a number in at least one row, in order of first appearance."""
    keys = {}
    for row in history:
        for key, value in row.items():
            if key != EPOCH_KEY and _is_number(value):
                keys[key] = None
    return list(keys)


def _panels(keys, available):
    """Group ``keys`` into panels (tuples of keys) and check they exist."""
    if not available:
        raise ValueError("The history has no numeric entry to plot.")
    if keys is None:
        panels = [tuple(k for k in group if k in available) for group in DEFAULT_PANELS]
        panels = [panel for panel in panels if panel]
        return panels or [(key,) for key in available]
    if keys == "all":
        grouped = {key for panel in DEFAULT_PANELS for key in panel}
        return _panels(None, available) + [
            (key,) for key in available if key not in grouped
        ]
    if isinstance(keys, str):
        keys = [keys]
    panels = [(item,) if isinstance(item, str) else tuple(item) for item in keys]
    if not panels:
        raise ValueError("keys is empty: name at least one history entry.")
    missing = [key for panel in panels for key in panel if key not in available]
    if missing or not all(panels):
        raise ValueError(
            f"No numeric history entries for {missing or 'an empty panel'}; the "
            f"numeric keys are {available}."
        )
    return panels


def _curve(history, key):
    """Epochs and values of the rows where ``key`` holds a number."""
    points = [
        (row.get(EPOCH_KEY, i + 1), row[key])
        for i, row in enumerate(history)
        if _is_number(row.get(key))
    ]
    epochs, values = zip(*points)
    return np.asarray(epochs, dtype=float), np.asarray(values, dtype=float)


def _is_event(value):
    if value is None or isinstance(value, bool):
        return bool(value)
    if _is_number(value):
        return value != 0
    return True


def _event_epochs(history):
    return [
        row.get(EPOCH_KEY, i + 1)
        for i, row in enumerate(history)
        if _is_event(row.get(EVENT_KEY))
    ]


def _panel_axes(ax, n_panels):
    """One Axes per panel: new ones, the given array, or ``[ax]`` for one Axes."""
    plt = _pyplot()
    if ax is None:
        n_cols = min(3, n_panels)
        n_rows = math.ceil(n_panels / n_cols)
        fig, axes = plt.subplots(
            n_rows, n_cols, figsize=(4 * n_cols, 3 * n_rows), squeeze=False
        )
        for extra in axes.ravel()[n_panels:]:
            fig.delaxes(extra)
        fig.set_layout_engine("constrained")
        return axes.ravel()[:n_panels]
    if isinstance(ax, plt.Axes):
        return np.array([ax])
    axes = np.asarray(ax, dtype=object).ravel()
    if len(axes) != n_panels or not all(isinstance(a, plt.Axes) for a in axes):
        raise ValueError(
            f"ax must be None, one Axes or {n_panels} Axes (one per panel); got "
            f"{len(axes)} object(s) of type(s) "
            f"{sorted({type(a).__name__ for a in axes})}."
        )
    return axes


def _draw_panel(ax, history, keys, events):
    for key in keys:
        ax.plot(*_curve(history, key), marker=".", label=key)
    for i, epoch in enumerate(events):
        label = EVENT_KEY if i == 0 else "_nolegend_"
        ax.axvline(epoch, color="tab:red", linestyle="--", linewidth=1, label=label)
    ax.set_xlabel("epoch")
    ax.set_title(" / ".join(keys))
    if len(keys) > 1 or events:
        ax.legend()


@validate_params(
    {
        "estimator_or_history": [HasMethods(["get_params"]), list, tuple],
        "keys": [str, list, tuple, None],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_training_curves(estimator_or_history, keys=None, *, ax=None):
    """Plot the per-epoch numbers of a fit (``history_``) against the epoch.

    Rows with a true ``"recovery"`` entry (training rolled back after a
    divergence) are marked by a dashed vertical line on every panel.

    Parameters
    ----------
    estimator_or_history : estimator or list of dict
        A fitted ``JEMClassifier`` or ``EnergyDensityEstimator`` (its
        ``history_`` is used), or such a list of per-epoch dicts. The x axis is
        each row's ``"epoch"`` (its position, from 1, when missing); a row
        without a number under a key is skipped on that key's curve.
    keys : None, "all", str or list, default=None
        What to draw. None: the panels ``("loss", "ce")``, ``("acc",
        "val_score")`` and ``("e_data", "e_sample")``, keeping the keys the
        history has. ``"all"``: those panels, then one panel for every other
        numeric key (``grad_norm``, ``seconds``, ...). A list: one panel per
        item, an item being a key or a tuple of keys that share a panel, e.g.
        ``["loss", ("e_data", "e_sample")]``.
    ax : matplotlib Axes, array of Axes or None, default=None
        None: a new figure with one Axes per panel (up to three per row). One
        Axes: every curve is drawn on it. An array: one Axes per panel.

    Returns
    -------
    axes : ndarray of matplotlib Axes
        The Axes drawn on, one per panel (a single one when ``ax`` is one Axes).

    Raises
    ------
    NotFittedError
        If an estimator without ``history_`` is passed.
    ValueError
        If the history is empty, a key has no numeric value in it, or ``ax``
        holds the wrong number of Axes.

    See Also
    --------
    JEMClassifier : Its ``history_`` lists the keys.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sk_ebm.plotting import plot_training_curves
    >>> history = [{"epoch": 1, "loss": 2.0, "e_data": -1.0, "e_sample": 1.0},
    ...            {"epoch": 2, "loss": 1.5, "e_data": -2.0, "e_sample": 0.5}]
    >>> axes = plot_training_curves(history)
    >>> [a.get_title() for a in axes]
    ['loss', 'e_data / e_sample']
    >>> plt.close(axes[0].figure)
    """
    history = _history_of(estimator_or_history)
    panels = _panels(keys, _numeric_keys(history))
    events = _event_epochs(history)
    axes = _panel_axes(ax, len(panels))
    if len(axes) == 1:
        panels = [tuple(key for panel in panels for key in panel)]
    for panel_ax, panel in zip(axes, panels):
        _draw_panel(panel_ax, history, panel, events)
    return axes


# --------------------------------------------------------------------------------------
# Calibration and OOD scores
# --------------------------------------------------------------------------------------


def _draw_diagonal_once(ax):
    if not any(line.get_label() == _PERFECT_CALIBRATION for line in ax.lines):
        ax.plot([0, 1], [0, 1], color="0.6", linestyle=":", label=_PERFECT_CALIBRATION)


@validate_params(
    {
        "y_true": ["array-like"],
        "y_prob": ["array-like"],
        "n_bins": [Interval(Integral, 1, None, closed="left")],
        "strategy": [StrOptions({"uniform", "quantile"})],
        "label": [str, None],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_reliability_diagram(
    y_true, y_prob, *, n_bins=15, strategy="uniform", label=None, ax=None
):
    """Plot accuracy against confidence per bin, with the ECE in the legend.

    A calibrated model follows the diagonal. Call it again on the same ``ax``
    to compare models; the diagonal is drawn once.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True classes as integer indices 0..n_classes-1 (column positions of
        ``y_prob``): ``np.searchsorted(clf.classes_, y)`` for a classifier.
    y_prob : array-like of shape (n_samples, n_classes) or (n_samples,)
        Predicted probabilities, e.g. ``clf.predict_proba(X)``.
    n_bins : int, default=15
        Number of confidence bins.
    strategy : {"uniform", "quantile"}, default="uniform"
        Equal-width or equal-frequency bins; see
        :func:`~sk_ebm.metrics.reliability_curve`.
    label : str, default=None
        Name of the model in the legend, followed by its ECE.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes

    See Also
    --------
    sk_ebm.metrics.reliability_curve : The points drawn.
    sk_ebm.metrics.expected_calibration_error : The number in the legend.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sk_ebm.plotting import plot_reliability_diagram
    >>> ax = plot_reliability_diagram([1, 0, 0, 1], [0.875, 0.625, 0.25, 0.125],
    ...                               n_bins=4, label="model")
    >>> ax.lines[-1].get_label()
    'model (ECE = 0.281)'
    >>> plt.close(ax.figure)
    """
    curve = reliability_curve(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    ece = expected_calibration_error(y_true, y_prob, n_bins=n_bins, strategy=strategy)
    ax = _check_axes(ax)
    _draw_diagonal_once(ax)
    text = f"ECE = {ece:.3f}"
    ax.plot(
        curve.mean_confidence,
        curve.accuracy,
        marker="o",
        label=text if label is None else f"{label} ({text})",
    )
    ax.set(
        xlim=(0, 1),
        ylim=(0, 1),
        xlabel="confidence (largest predicted probability)",
        ylabel="accuracy",
        aspect="equal",
    )
    if not ax.get_title():
        ax.set_title(f"Reliability diagram ({n_bins} {strategy} bins)")
    ax.legend(loc="best")
    return ax


@validate_params(
    {
        "score_in": ["array-like"],
        "score_out": ["array-like"],
        "bins": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "labels": [tuple, list],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_score_histogram(
    score_in,
    score_out,
    *,
    bins=30,
    labels=("in-distribution", "out-of-distribution"),
    ax=None,
):
    """Plot histograms of in- and out-of-distribution scores, with the AUROC.

    Parameters
    ----------
    score_in : array-like of shape (n_in,)
        Scores of in-distribution rows. **Higher = more in-distribution**, as
        ``score_samples`` of an energy model or an sklearn outlier detector.
    score_out : array-like of shape (n_out,)
        Scores of out-of-distribution rows.
    bins : int or array-like, default=30
        Number of bins over the range of both score sets, or the bin edges.
        Both histograms share the bins and are normalised to unit area.
    labels : tuple of two str, default=("in-distribution", "out-of-distribution")
        Legend names of the two histograms.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes
        The legend's title is ``"AUROC = ..."``, from
        :func:`~sk_ebm.metrics.ood_auroc`.

    See Also
    --------
    sk_ebm.metrics.ood_auroc : The number in the legend.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sk_ebm.plotting import plot_score_histogram
    >>> ax = plot_score_histogram([0.9, 0.8, 0.4, 0.3], [0.5, 0.1], bins=4)
    >>> ax.get_legend().get_title().get_text()
    'AUROC = 0.750'
    >>> plt.close(ax.figure)
    """
    auroc = ood_auroc(score_in, score_out)  # validates both score vectors
    if len(labels) != 2 or not all(isinstance(name, str) for name in labels):
        raise ValueError(f"labels must be two strings; got {labels!r}.")
    score_in = np.asarray(score_in, dtype=float)
    score_out = np.asarray(score_out, dtype=float)
    edges = np.histogram_bin_edges(np.r_[score_in, score_out], bins=bins)
    ax = _check_axes(ax)
    for scores, name in zip((score_in, score_out), labels):
        ax.hist(scores, bins=edges, density=True, alpha=0.55, label=name)
    ax.set(xlabel="score (higher = more in-distribution)", ylabel="density")
    ax.legend(title=f"AUROC = {auroc:.3f}")
    return ax


# --------------------------------------------------------------------------------------
# Samples and energy landscapes
# --------------------------------------------------------------------------------------


def _draw_or_take(estimator_or_samples, n_samples, y, random_state):
    """Rows drawn by ``estimator.sample``, or the first rows of an array."""
    if hasattr(estimator_or_samples, "sample"):
        extra = {} if y is None else {"y": y}
        samples = estimator_or_samples.sample(
            n_samples, random_state=random_state, **extra
        )
    else:
        if y is not None:
            raise ValueError(
                "y chooses the class of drawn samples; it needs an estimator with "
                "sample(), not an array of samples."
            )
        samples = estimator_or_samples
    return check_array(samples, input_name="samples")[:n_samples]


def _check_image_shape(image_shape, n_features):
    shape = tuple(image_shape)
    if len(shape) != 2 or not all(isinstance(d, Integral) and d >= 1 for d in shape):
        raise ValueError(
            f"image_shape must be (height, width) in pixels; got {image_shape!r}."
        )
    if shape[0] * shape[1] != n_features:
        raise ValueError(
            f"image_shape {shape} holds {shape[0] * shape[1]} pixels but the "
            f"samples have {n_features} features."
        )
    return shape


def _montage(images, n_cols):
    """Tile images of one shape into a grid, with a one-pixel NaN border."""
    n, height, width = images.shape
    n_rows = math.ceil(n / n_cols)
    canvas = np.full((n_rows * (height + 1) - 1, n_cols * (width + 1) - 1), np.nan)
    for i, image in enumerate(images):
        top, left = (i // n_cols) * (height + 1), (i % n_cols) * (width + 1)
        canvas[top : top + height, left : left + width] = image
    return canvas


def _draw_image_grid(ax, samples, X, image_shape, n_cols, cmap):
    plt = _pyplot()
    shape = _check_image_shape(image_shape, samples.shape[1])
    reference = samples if X is None else check_array(X, input_name="X")
    n_cols = n_cols or math.ceil(math.sqrt(len(samples)))
    canvas = _montage(samples.reshape(-1, *shape), n_cols)
    colormap = plt.get_cmap(cmap).with_extremes(bad="0.75")
    vmin, vmax = reference.min(), reference.max()
    ax.imshow(canvas, cmap=colormap, vmin=vmin, vmax=vmax, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def _check_2d(X, name):
    X = check_array(X, input_name=name)
    if X.shape[1] != 2:
        raise ValueError(
            f"{name} has {X.shape[1]} features; a scatter plot needs 2. Pass "
            "image_shape for images, or project the data to 2-D first."
        )
    return X


def _draw_scatter(ax, samples, X):
    samples = _check_2d(samples, "samples")
    if X is not None:
        X = _check_2d(X, "X")
        ax.scatter(X[:, 0], X[:, 1], s=4, color="0.65", label="data")
    ax.scatter(samples[:, 0], samples[:, 1], s=4, color="tab:orange", label="samples")
    ax.set_aspect("equal", adjustable="datalim")
    ax.legend(loc="upper right", markerscale=3)


@validate_params(
    {
        "estimator_or_samples": [HasMethods(["sample"]), "array-like"],
        "X": ["array-like", None],
        "image_shape": [tuple, list, None],
        "n_samples": [Interval(Integral, 1, None, closed="left")],
        "y": "no_validation",
        "random_state": ["random_state"],
        "n_cols": [Interval(Integral, 1, None, closed="left"), None],
        "cmap": "no_validation",
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_samples(
    estimator_or_samples,
    X=None,
    *,
    image_shape=None,
    n_samples=100,
    y=None,
    random_state=None,
    n_cols=None,
    cmap="gray_r",
    ax=None,
):
    """Show samples: a grid of images, or a 2-D scatter over the data.

    Parameters
    ----------
    estimator_or_samples : estimator with ``sample`` or array-like
        A fitted model whose ``sample(n_samples, random_state=...)`` draws the
        rows, or the rows themselves, shape (n_rows, n_features).
    X : array-like of shape (n_rows, n_features), default=None
        Training data. Scatter: drawn in grey under the samples. Images: its
        range sets the grey scale (otherwise the samples' range does).
    image_shape : tuple of two int, default=None
        ``(height, width)``: show each row as an image, e.g. ``(8, 8)`` for
        sklearn's digits. None: a scatter plot, which needs 2 features.
    n_samples : int, default=100
        Rows to draw from the estimator, or to take from the array (its first
        ``n_samples`` rows).
    y : label or array-like, default=None
        Class(es) to draw from, passed to ``sample`` (``JEMClassifier`` only).
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.
    n_cols : int, default=None
        Images per row of the grid; None makes it about square.
    cmap : str or matplotlib Colormap, default="gray_r"
        Colormap of the images (gaps between images are light grey).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None. The image grid is one image.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sk_ebm.plotting import plot_samples
    >>> X = load_digits().data
    >>> ax = plot_samples(X, image_shape=(8, 8), n_samples=6, n_cols=3)
    >>> ax.images[0].get_array().shape  # 2 rows x 3 columns of 8x8, 1 px gaps
    (17, 26)
    >>> plt.close(ax.figure)
    """
    samples = _draw_or_take(estimator_or_samples, n_samples, y, random_state)
    ax = _check_axes(ax)
    if image_shape is None:
        _draw_scatter(ax, samples, X)
    else:
        _draw_image_grid(ax, samples, X, image_shape, n_cols, cmap)
    return ax


def _grid_image_shape(estimator, image_shape):
    """``(height, width)``: given, or from a one-channel ``input_shape``."""
    if image_shape is not None:
        return image_shape
    input_shape = getattr(estimator, "input_shape_", None)
    if input_shape is None:
        raise ValueError(
            "image_shape is needed: the estimator has no input_shape_ to take the "
            "images' (height, width) from."
        )
    shape = tuple(input_shape)
    if len(shape) == 3 and shape[0] != 1:
        raise ValueError(
            f"plot_sample_grid draws grey-scale images; input_shape={shape} has "
            f"{shape[0]} channels."
        )
    return shape[-2:]


@validate_params(
    {
        "estimator": [HasMethods(["sample"])],
        "X": ["array-like", None],
        "image_shape": [tuple, list, None],
        "n_per_class": [Interval(Integral, 1, None, closed="left")],
        "classes": ["array-like", None],
        "random_state": ["random_state"],
        "cmap": "no_validation",
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_sample_grid(
    estimator,
    X=None,
    *,
    image_shape=None,
    n_per_class=8,
    classes=None,
    random_state=None,
    cmap="gray_r",
    ax=None,
):
    """Class-conditional samples as images: one row per class, labelled.

    Draws ``n_per_class`` samples of ``p(x | y)`` for each class with
    ``estimator.sample(..., y=...)``, in one call (one random stream).

    Parameters
    ----------
    estimator : fitted classifier with ``sample`` and ``classes_``
        A fitted :class:`~sk_ebm.JEMClassifier`.
    X : array-like of shape (n_rows, n_features), default=None
        Training images: their range sets the grey scale (otherwise the
        samples' range does).
    image_shape : tuple of two int, default=None
        ``(height, width)`` of the images; None takes it from the estimator's
        one-channel ``input_shape_`` (fitted).
    n_per_class : int, default=8
        Samples (columns) per class.
    classes : array-like, default=None
        The classes to draw, one row each, in this order; None is
        ``estimator.classes_``.
    random_state : int, RandomState instance or None, default=None
        Seeds the draw.
    cmap : str or matplotlib Colormap, default="gray_r"
        Colormap of the images (gaps between images are light grey).
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None. The grid is one image.

    Returns
    -------
    ax : matplotlib Axes
        The grid, with the classes as y tick labels; ``ax.figure`` is the
        figure to save.

    See Also
    --------
    plot_samples : Samples without classes, or of one class.

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> from sklearn.datasets import load_digits
    >>> from sk_ebm import JEMClassifier
    >>> from sk_ebm.plotting import plot_sample_grid
    >>> X, y = load_digits(return_X_y=True)
    >>> clf = JEMClassifier(input_shape=(8, 8), channels=(8,), max_iter=1,
    ...                     n_steps=2, device="cpu", random_state=0).fit(X, y)
    >>> ax = plot_sample_grid(clf, X, n_per_class=4, random_state=0)
    >>> ax.images[0].get_array().shape  # 10 rows x 4 columns of 8x8, 1 px gaps
    (89, 35)
    >>> plt.close(ax.figure)
    """
    class_labels = getattr(estimator, "classes_", None)
    if class_labels is None:
        raise ValueError(
            "plot_sample_grid needs a fitted classifier (with classes_ and "
            "sample(y=...)), such as a fitted JEMClassifier."
        )
    classes = class_labels if classes is None else np.asarray(classes).ravel()
    shape = _grid_image_shape(estimator, image_shape)
    labels = np.repeat(classes, n_per_class)
    samples = check_array(
        estimator.sample(len(labels), y=labels, random_state=random_state),
        input_name="samples",
    )
    ax = _check_axes(ax)
    _draw_image_grid(ax, samples, X, shape, n_per_class, cmap)
    height = _check_image_shape(shape, samples.shape[1])[0]
    ax.set_yticks([i * (height + 1) + (height - 1) / 2 for i in range(len(classes))])
    ax.set_yticklabels([str(c) for c in classes])
    ax.tick_params(axis="y", length=0)
    return ax


def _grid_over(X, margin, resolution):
    """A ``resolution`` x ``resolution`` grid over the box of ``X`` plus margin."""
    low, high = X.min(axis=0), X.max(axis=0)
    pad = margin * np.where(high > low, high - low, 1.0)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    return np.meshgrid(xs, ys)


def _density_on_grid(scores, xx, yy):
    """``exp(scores)`` normalised to integrate to one over the grid's box."""
    cell_area = (xx[0, 1] - xx[0, 0]) * (yy[1, 0] - yy[0, 0])
    density = np.exp(scores - scores.max())
    return density / (density.sum() * cell_area)


@validate_params(
    {
        "estimator": [HasMethods(["score_samples"])],
        "X": ["array-like"],
        "density": ["boolean"],
        "resolution": [Interval(Integral, 2, None, closed="left")],
        "margin": [Interval(Real, 0, None, closed="left")],
        "levels": [Interval(Integral, 1, None, closed="left"), "array-like"],
        "cmap": "no_validation",
        "show_data": ["boolean"],
        "colorbar": ["boolean"],
        "ax": "no_validation",
    },
    prefer_skip_nested_validation=True,
)
def plot_energy_landscape(
    estimator,
    X,
    *,
    density=False,
    resolution=100,
    margin=0.25,
    levels=20,
    cmap="viridis",
    show_data=True,
    colorbar=True,
    ax=None,
):
    """Fill contours of ``score_samples`` (minus the energy) on a 2-D plane.

    Parameters
    ----------
    estimator : fitted estimator with ``score_samples``
        A model of 2-D data, e.g. an ``EnergyDensityEstimator`` or a
        ``JEMClassifier``: bright = high score = low energy.
    X : array-like of shape (n_rows, 2)
        Data: sets the plotted box and is drawn as points on top.
    density : bool, default=False
        False: contour the score itself, an unnormalised log density whose
        deep regions far from the data can take most of the colour range.
        True: contour ``exp(score)`` normalised to integrate to one over the
        plotted box (a density restricted to it), where the modes stand out.
    resolution : int, default=100
        Grid points per axis (``resolution ** 2`` rows are scored).
    margin : float, default=0.25
        Widening of the box of ``X`` on each side, as a fraction of its range.
    levels : int or array-like, default=20
        Number of contour levels, or their values.
    cmap : str or matplotlib Colormap, default="viridis"
        Colormap of the contours.
    show_data : bool, default=True
        Draw ``X`` as points over the contours.
    colorbar : bool, default=True
        Add a colorbar to the figure.
    ax : matplotlib Axes, default=None
        Where to draw; a new figure when None.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib.pyplot as plt
    >>> import numpy as np
    >>> from sklearn.neighbors import KernelDensity
    >>> from sk_ebm.plotting import plot_energy_landscape
    >>> X = np.random.default_rng(0).normal(size=(50, 2))
    >>> ax = plot_energy_landscape(KernelDensity().fit(X), X, resolution=20)
    >>> len(ax.collections) >= 2  # the contours and the data points
    True
    >>> plt.close(ax.figure)
    """
    X = _check_2d(X, "X")
    xx, yy = _grid_over(X, margin, resolution)
    scores = estimator.score_samples(np.c_[xx.ravel(), yy.ravel()])
    values = scores.reshape(xx.shape)
    label = "score_samples (= -energy)"
    if density:
        values = _density_on_grid(values, xx, yy)
        label = "density on the plotted box"
    ax = _check_axes(ax)
    contours = ax.contourf(xx, yy, values, levels=levels, cmap=cmap)
    if show_data:
        ax.scatter(*X.T, s=3, color="white", edgecolors="black", linewidths=0.2)
    ax.set_aspect("equal", adjustable="box")
    if colorbar:
        ax.figure.colorbar(contours, ax=ax, label=label)
    return ax
