import subprocess
import sys

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.exceptions import NotFittedError  # noqa: E402
from sklearn.neighbors import KernelDensity  # noqa: E402

from sk_ebm import EnergyDensityEstimator, JEMClassifier  # noqa: E402
from sk_ebm.datasets import make_ring  # noqa: E402
from sk_ebm.metrics import (  # noqa: E402
    expected_calibration_error,
    ood_auroc,
    reliability_curve,
)
from sk_ebm.plotting import (  # noqa: E402
    plot_energy_landscape,
    plot_reliability_diagram,
    plot_sample_grid,
    plot_samples,
    plot_score_histogram,
    plot_training_curves,
)

TINY = dict(hidden_dims=(16,), max_iter=2, n_steps=2, device="cpu", random_state=0)

# Two epochs are far too few on purpose; the warning says so.
pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:300], y[:300]


@pytest.fixture(scope="module")
def jem(digits):
    return JEMClassifier(**TINY).fit(*digits)


@pytest.fixture(scope="module")
def ring():
    return make_ring(200, random_state=0)[0]


@pytest.fixture(scope="module")
def density(ring):
    return EnergyDensityEstimator(**TINY).fit(ring)


def _legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# ------------------------------------------------------------------ imports


def test_importing_plotting_imports_neither_matplotlib_nor_torch():
    code = (
        "import sys, sk_ebm, sk_ebm.plotting\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib imported'\n"
        "assert 'torch' not in sys.modules, 'torch imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)


def test_missing_matplotlib_says_how_to_install_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install sk_ebm\[plot\]"):
        plot_score_histogram([1.0, 2.0], [0.0])


# ---------------------------------------------------------- training curves


def test_training_curves_default_panels(jem):
    axes = plot_training_curves(jem)
    assert [ax.get_title() for ax in axes] == ["loss / ce", "acc", "e_data / e_sample"]
    assert [len(ax.lines) for ax in axes] == [2, 1, 2]
    epochs = [row["epoch"] for row in jem.history_]
    loss_line = axes[0].lines[0]
    assert loss_line.get_label() == "loss"
    np.testing.assert_array_equal(loss_line.get_xdata(), epochs)
    np.testing.assert_allclose(loss_line.get_ydata(), jem.loss_curve_)


def test_training_curves_all_adds_every_other_numeric_key(jem):
    titles = [ax.get_title() for ax in plot_training_curves(jem, "all")]
    assert titles[:3] == ["loss / ce", "acc", "e_data / e_sample"]
    assert {"grad_norm", "sampler_grad_norm", "seconds", "learning_rate"} <= set(titles)
    assert "epoch" not in titles


def test_training_curves_plot_val_score_and_mark_recoveries():
    history = [
        {"epoch": 1, "loss": 3.0, "acc": 0.2, "val_score": 0.1},
        {"epoch": 2, "loss": 9.0, "acc": 0.3, "val_score": 0.2, "recovery": "nan"},
        {"epoch": 3, "loss": 2.0, "acc": 0.5, "val_score": 0.4, "recovery": None},
        {"epoch": 4, "loss": 1.0, "acc": 0.6, "recovery": {"learning_rate": 1e-4}},
    ]
    loss_ax, acc_ax = plot_training_curves(history)
    assert _legend_texts(acc_ax) == ["acc", "val_score", "recovery"]
    event_x = [line.get_xdata()[0] for line in acc_ax.lines[2:]]
    assert event_x == [2, 4]  # None is not an event
    assert len(loss_ax.lines) == 1 + 2
    # val_score is missing on epoch 4: that point is skipped, not NaN.
    np.testing.assert_array_equal(acc_ax.lines[1].get_xdata(), [1, 2, 3])


def test_training_curves_of_a_fit_that_recovered_and_validated(digits, monkeypatch):
    from sk_ebm import _training

    check_step, calls = _training._check_step, {"n": 0}

    def diverge_at_step_seven(stats):
        calls["n"] += 1
        if calls["n"] == 7:  # in epoch 2: 270 training rows make 5 steps
            raise _training._Diverged("a test divergence")
        check_step(stats)

    monkeypatch.setattr(_training, "_check_step", diverge_at_step_seven)
    clf = JEMClassifier(early_stopping=True, **{**TINY, "max_iter": 3})
    with pytest.warns(RuntimeWarning, match="a test divergence"):
        clf.fit(*digits)
    assert [row["epoch"] for row in clf.history_ if "recovery" in row] == [2]
    _, acc_ax, _ = plot_training_curves(clf)
    assert [line.get_label() for line in acc_ax.lines] == [
        "acc",
        "val_score",
        "recovery",
    ]
    np.testing.assert_allclose(
        acc_ax.lines[1].get_ydata(), [row["val_score"] for row in clf.history_]
    )
    assert list(acc_ax.lines[2].get_xdata()) == [2, 2]


def test_training_curves_custom_panels_on_given_axes(jem):
    fig, given = plt.subplots(1, 2)
    axes = plot_training_curves(jem, ["grad_norm", ("e_data", "e_sample")], ax=given)
    assert list(axes) == list(given)
    assert [len(ax.lines) for ax in axes] == [1, 2]


def test_training_curves_on_one_axes_draw_every_key(jem):
    _, ax = plt.subplots()
    (drawn,) = plot_training_curves(jem, ["loss", "grad_norm"], ax=ax)
    assert drawn is ax
    assert [line.get_label() for line in ax.lines] == ["loss", "grad_norm"]


def test_training_curves_errors(jem):
    with pytest.raises(ValueError, match=r"'nope'.*numeric keys are \['e_data'"):
        plot_training_curves(jem, ["loss", "nope"])
    with pytest.raises(ValueError, match="history is empty"):
        plot_training_curves([])
    with pytest.raises(ValueError, match="no numeric entry"):
        plot_training_curves([{"epoch": 1, "recovery": "rolled back"}])
    with pytest.raises(ValueError, match="keys is empty"):
        plot_training_curves(jem, keys=[])
    with pytest.raises(NotFittedError, match="JEMClassifier has no history_"):
        plot_training_curves(JEMClassifier())
    with pytest.raises(TypeError, match="list of dicts"):
        plot_training_curves([1.0, 2.0])
    _, two = plt.subplots(1, 2)
    with pytest.raises(ValueError, match="3 Axes"):
        plot_training_curves(jem, ax=two)


# ------------------------------------------------------ reliability diagram


def test_reliability_diagram_shows_the_curve_and_its_ece(jem, digits):
    X, y = digits
    proba = jem.predict_proba(X)
    y_index = np.searchsorted(jem.classes_, y)
    ece = expected_calibration_error(y_index, proba, n_bins=10)
    ax = plot_reliability_diagram(y_index, proba, n_bins=10, label="JEM")
    diagonal, model = ax.lines
    assert model.get_label() == f"JEM (ECE = {ece:.3f})"
    assert f"JEM (ECE = {ece:.3f})" in _legend_texts(ax)
    curve = reliability_curve(y_index, proba, n_bins=10)
    np.testing.assert_allclose(model.get_xdata(), curve.mean_confidence)
    np.testing.assert_allclose(model.get_ydata(), curve.accuracy)
    assert "10 uniform bins" in ax.get_title()


def test_reliability_diagram_overlays_models_with_one_diagonal():
    y_true = np.array([0, 1, 1, 0, 1])
    ax = plot_reliability_diagram(y_true, [0.2, 0.9, 0.6, 0.4, 0.3], label="a")
    plot_reliability_diagram(y_true, [0.1, 0.8, 0.7, 0.45, 0.2], label="b", ax=ax)
    labels = [line.get_label() for line in ax.lines]
    assert labels[0] == "perfectly calibrated" and len(labels) == 3
    assert labels[1].startswith("a (ECE") and labels[2].startswith("b (ECE")


def test_reliability_diagram_errors():
    with pytest.raises(ValueError, match="y_prob must lie in"):
        plot_reliability_diagram([0, 1], [0.5, 1.5])
    with pytest.raises(ValueError, match="n_bins"):
        plot_reliability_diagram([0, 1], [0.2, 0.8], n_bins=0)
    with pytest.raises(TypeError, match="ax must be a matplotlib Axes"):
        plot_reliability_diagram([0, 1], [0.2, 0.8], ax="left")


# ---------------------------------------------------------- score histogram


def test_score_histogram_has_shared_bins_and_the_auroc():
    rng = np.random.default_rng(0)
    score_in, score_out = rng.normal(1, 1, 200), rng.normal(-1, 1, 100)
    ax = plot_score_histogram(score_in, score_out, bins=12, labels=("in", "out"))
    auroc = ood_auroc(score_in, score_out)
    assert ax.get_legend().get_title().get_text() == f"AUROC = {auroc:.3f}"
    assert _legend_texts(ax) == ["in", "out"]
    assert len(ax.patches) == 2 * 12
    in_left = [patch.get_x() for patch in ax.containers[0]]
    out_left = [patch.get_x() for patch in ax.containers[1]]
    assert in_left == out_left
    assert in_left[0] == pytest.approx(min(score_in.min(), score_out.min()))


def test_score_histogram_errors():
    with pytest.raises(ValueError, match="score_out"):
        plot_score_histogram([1.0, 2.0], [0.0, np.nan])
    with pytest.raises(ValueError, match="two strings"):
        plot_score_histogram([1.0, 2.0], [0.0], labels=("only one",))
    with pytest.raises(ValueError, match="bins"):
        plot_score_histogram([1.0, 2.0], [0.0], bins=0)


# ------------------------------------------------------------------ samples


def test_samples_as_an_image_grid(jem, digits):
    X, _ = digits
    ax = plot_samples(jem, X, image_shape=(8, 8), n_samples=10, y=3, random_state=0)
    (image,) = ax.images
    grid = image.get_array()
    # 10 images in 4 columns (ceil(sqrt(10))) and 3 rows, 1-pixel gaps.
    assert grid.shape == (3 * 9 - 1, 4 * 9 - 1)
    n_filled = int((~np.isnan(grid.filled(np.nan))).sum())
    assert n_filled == 10 * 64
    assert image.get_clim() == (X.min(), X.max())


def test_samples_grid_from_an_array_keeps_the_rows_in_order(digits):
    X, _ = digits
    ax = plot_samples(X, image_shape=[8, 8], n_samples=2, n_cols=2)
    grid = ax.images[0].get_array()
    np.testing.assert_array_equal(grid[:, :8], X[0].reshape(8, 8))
    np.testing.assert_array_equal(grid[:, 9:], X[1].reshape(8, 8))


def test_samples_scatter_over_the_data(density, ring):
    ax = plot_samples(density, ring, n_samples=50, random_state=0)
    data, samples = ax.collections
    assert data.get_offsets().shape == (200, 2)
    assert samples.get_offsets().shape == (50, 2)
    assert _legend_texts(ax) == ["data", "samples"]


def test_samples_errors(digits, ring):
    X, _ = digits
    with pytest.raises(ValueError, match="64 pixels but the samples have 2"):
        plot_samples(ring, image_shape=(8, 8))
    with pytest.raises(ValueError, match=r"image_shape must be \(height, width\)"):
        plot_samples(X, image_shape=(8, 8, 1))
    with pytest.raises(ValueError, match="samples has 64 features.*image_shape"):
        plot_samples(X)
    with pytest.raises(ValueError, match="needs an estimator"):
        plot_samples(ring, y=1)
    with pytest.raises(NotFittedError):
        plot_samples(EnergyDensityEstimator())


# --------------------------------------------------------- energy landscape


def test_energy_landscape_contours_the_score(density, ring):
    ax = plot_energy_landscape(density, ring, resolution=15, margin=0.5)
    contours, points = ax.collections
    assert points.get_offsets().shape == (200, 2)
    # The grid spans the data's box widened by half its range on each side.
    low, high = ring.min(0), ring.max(0)
    pad = 0.5 * (high - low)
    np.testing.assert_allclose(ax.get_xlim(), [low[0] - pad[0], high[0] + pad[0]])
    np.testing.assert_allclose(ax.get_ylim(), [low[1] - pad[1], high[1] + pad[1]])
    xx, yy = np.meshgrid(
        *(np.linspace(a, b, 15) for a, b in zip(low - pad, high + pad))
    )
    scores = density.score_samples(np.c_[xx.ravel(), yy.ravel()])
    levels = contours.levels
    assert levels[0] <= scores.min() < levels[1]
    assert levels[-2] < scores.max() <= levels[-1]
    assert len(ax.figure.axes) == 2  # the plot and its colorbar


def test_energy_landscape_works_for_any_score_samples(ring):
    _, ax = plt.subplots()
    kde = KernelDensity(bandwidth=0.3).fit(ring)
    assert plot_energy_landscape(kde, ring, colorbar=False, ax=ax) is ax
    assert len(ax.figure.axes) == 1


def test_energy_landscape_density_is_normalised_on_the_box(ring):
    kde = KernelDensity(bandwidth=0.3).fit(ring)
    ax = plot_energy_landscape(
        kde, ring, density=True, margin=1.0, resolution=60, show_data=False
    )
    (contours,) = ax.collections  # no data points
    # A KDE is normalised and keeps nearly all its mass inside this wide box,
    # so the normalised grid values are its density, exp(score_samples).
    low, high = ring.min(0), ring.max(0)
    pad = high - low
    xx, yy = np.meshgrid(
        *(np.linspace(a, b, 60) for a, b in zip(low - pad, high + pad))
    )
    peak = np.exp(kde.score_samples(np.c_[xx.ravel(), yy.ravel()])).max()
    levels = contours.levels
    assert levels[0] == 0 and levels[-2] < peak <= levels[-1]
    assert ax.figure.axes[1].get_ylabel() == "density on the plotted box"


def test_energy_landscape_errors(density, digits):
    with pytest.raises(ValueError, match="X has 64 features"):
        plot_energy_landscape(density, digits[0])
    with pytest.raises(ValueError, match="score_samples"):
        plot_energy_landscape(object(), np.zeros((3, 2)))


class _ImageSampler:
    """A stand-in classifier: each sample is its class index in every pixel."""

    classes_ = np.array(["a", "b", "c"])
    input_shape_ = (1, 2, 3)

    def sample(self, n_samples, y=None, random_state=None):
        index = np.searchsorted(self.classes_, y)
        return np.repeat(index[:, None], 6, axis=1).astype(float)


def test_sample_grid_has_one_labelled_row_per_class():
    ax = plot_sample_grid(_ImageSampler(), n_per_class=4)
    canvas = ax.images[0].get_array()
    assert canvas.shape == (3 * 3 - 1, 4 * 4 - 1)  # 2x3 images, 1 px gaps
    assert [t.get_text() for t in ax.get_yticklabels()] == ["a", "b", "c"]
    # Row i of the grid holds samples of class i.
    assert canvas[0, 0] == 0 and canvas[3, 0] == 1 and canvas[6, 0] == 2
    ax = plot_sample_grid(_ImageSampler(), classes=["c"], n_per_class=2)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["c"]


def test_sample_grid_errors(digits):
    with pytest.raises(ValueError, match="needs a fitted classifier"):
        plot_sample_grid(KernelDensity().fit(digits[0]), image_shape=(8, 8))
    sampler = _ImageSampler()
    sampler.input_shape_ = None
    with pytest.raises(ValueError, match="image_shape is needed"):
        plot_sample_grid(sampler)
    sampler.input_shape_ = (3, 1, 2)
    with pytest.raises(ValueError, match="grey-scale images"):
        plot_sample_grid(sampler)
    with pytest.raises(ValueError, match="holds 4 pixels but the samples have 6"):
        plot_sample_grid(_ImageSampler(), image_shape=(2, 2))
