"""Images as flattened rows: the convolutional network, pixel scaling, VERA's
decoder, pickling and the errors of a bad ``input_shape``."""

import pickle

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer

from sk_ebm import EnergyDensityEstimator, JEMClassifier
from sk_ebm._training import TrainingData, _Batches
from sk_ebm.datasets import load_fashion_mnist
from sk_ebm.nets import ConvDecoder, ConvEnergyNet, MLPEnergyNet
from sk_ebm.preprocessing import PixelScaler

# Small widths and few epochs: these test the plumbing, not the model. (Three
# stages: with two, a 3x3 network sees too little of each image to learn in
# a few dozen steps.)
TINY = dict(
    channels=(8, 16, 32),
    max_iter=3,
    n_steps=3,
    buffer_size=200,
    learning_rate=1e-2,
    device="cpu",
)

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:600], y[:600]


@pytest.fixture(scope="module")
def conv_jem(digits):
    return JEMClassifier(input_shape=(1, 8, 8), random_state=0, **TINY).fit(*digits)


def test_input_shape_picks_the_conv_network_and_the_pixel_scaler(conv_jem, digits):
    X, y = digits
    assert conv_jem.network_config_["network"] == "conv"
    assert conv_jem.input_shape_ == (1, 8, 8)
    assert isinstance(conv_jem.net_, ConvEnergyNet)
    assert isinstance(conv_jem.scaler_, PixelScaler)
    Z = conv_jem.scaler_.transform(X)
    assert Z.min() == -1.0 and Z.max() == 1.0
    assert conv_jem.score(X, y) > 0.5  # 10 classes: chance is 0.1
    # PCD's "auto" likelihood weight on images, not the one on tables (0.05).
    assert conv_jem.alpha_ == 0.03


def test_conv_classifier_predictions_and_samples(conv_jem, digits):
    X, _ = digits
    proba = conv_jem.predict_proba(X[:20])
    assert proba.shape == (20, 10)
    np.testing.assert_allclose(proba.sum(1), 1.0)
    assert set(conv_jem.predict(X[:20])) <= set(conv_jem.classes_)
    scores = conv_jem.score_samples(X[:20])
    assert scores.shape == (20,) and np.isfinite(scores).all()
    for y in (None, [3] * 6):
        samples = conv_jem.sample(6, y=y, random_state=0)
        assert samples.shape == (6, 64)
        # In the user's pixel units, clipped to the training images' range.
        assert samples.min() >= X.min() and samples.max() <= X.max()
        assert samples.max() > 4 * samples.min() + 1  # not a blank image
    raw = conv_jem.sample(6, random_state=0, clip=False)
    assert raw.shape == (6, 64) and np.isfinite(raw).all()


def test_mlp_on_images_and_the_auto_network_on_tables(digits):
    X, y = digits
    clf = JEMClassifier(
        input_shape=(8, 8), network="mlp", hidden_dims=(16,), random_state=0, **TINY
    ).fit(X, y)
    assert isinstance(clf.net_, MLPEnergyNet)
    assert isinstance(clf.scaler_, PixelScaler)
    assert clf.input_shape_ == (1, 8, 8)
    table = JEMClassifier(hidden_dims=(16,), **TINY).fit(X[:, :10], y)
    assert table.network_config_["network"] == "mlp" and table.input_shape_ is None
    assert not isinstance(table.scaler_, PixelScaler)


def test_images_pass_through_a_pipeline_as_rows(digits):
    X, y = digits
    pipe = make_pipeline(
        FunctionTransformer(lambda Z: Z / 16.0),
        JEMClassifier(input_shape=(1, 8, -1), random_state=0, **TINY),
    ).fit(X, y)
    assert pipe[-1].input_shape_ == (1, 8, 8)
    assert pipe.predict(X[:5]).shape == (5,)


def test_conv_density_with_and_without_a_base(digits):
    X, _ = digits
    noise = np.random.default_rng(0).uniform(X.min(), X.max(), size=(100, 64))
    for base in ("gaussian", None):
        est = EnergyDensityEstimator(
            input_shape=(1, 8, 8), base=base, random_state=0, **TINY
        ).fit(X)
        inner = est.net_.inner if base else est.net_
        assert isinstance(inner, ConvEnergyNet)
        assert est.score_samples(X[:10]).shape == (10,)
        samples = est.sample(5, random_state=0)
        assert samples.shape == (5, 64)
        assert samples.min() >= X.min() and samples.max() <= X.max()
    # With the Gaussian base, uniform noise images score below digits.
    est = EnergyDensityEstimator(input_shape=(1, 8, 8), random_state=0, **TINY).fit(X)
    assert est.score_samples(X).mean() > est.score_samples(noise).mean()


def test_vera_gets_a_convolutional_generator(digits):
    X, y = digits
    clf = JEMClassifier(
        training="vera", input_shape=(1, 8, 8), random_state=0, **TINY
    ).fit(X, y)
    assert isinstance(clf.generator_.mean, ConvDecoder)
    # Default decoder channels: the network's reversed and halved, at least 16.
    assert clf.generator_params_["hidden_dims"] == (16, 16, 16)
    samples = clf.sample(4, random_state=0)
    assert samples.shape == (4, 64)
    assert samples.min() >= X.min() and samples.max() <= X.max()
    mlp = JEMClassifier(
        training="vera", input_shape=(1, 8, 8), network="mlp", random_state=0, **TINY
    ).fit(X, y)
    assert not isinstance(mlp.generator_.mean, ConvDecoder)


def test_conv_decoder_makes_images_of_any_size():
    gen = torch.Generator().manual_seed(0)
    for shape in [(1, 8, 8), (1, 28, 28), (3, 5, 7)]:
        decoder = ConvDecoder(4, shape, (16, 8, 8), "silu", gen)
        assert decoder(torch.zeros(2, 4)).shape == (2, int(np.prod(shape)))


def test_training_images_get_fresh_noise_per_batch():
    X = torch.zeros(100, 4)
    data = TrainingData(X=X, y=torch.zeros(100, dtype=torch.long))
    batches = _Batches(data, 100, torch.Generator().manual_seed(0), noise=0.03)
    first = next(batches.epoch())["x_data"]
    second = next(batches.epoch())["x_data"]
    assert 0.025 < first.std().item() < 0.035
    assert not torch.equal(first, second)
    assert torch.equal(data.X, torch.zeros(100, 4))  # the stored rows stay clean


def test_refined_predictions_on_images_follow_the_pixel_scaler(conv_jem, digits):
    # The differentiable predict path must scale pixels as PixelScaler does.
    X, _ = digits
    refined = clone_fitted(conv_jem).set_params(refine_steps=2)
    x = torch.as_tensor(X[:10], dtype=torch.float64)
    logits = refined._refined_logits(x).detach().numpy()
    np.testing.assert_allclose(logits, refined.decision_function(X[:10]), atol=1e-8)


def clone_fitted(model):
    return pickle.loads(pickle.dumps(model))


def test_pickled_conv_model_predicts_the_same(conv_jem, digits):
    X, _ = digits
    loaded = pickle.loads(pickle.dumps(conv_jem))
    np.testing.assert_array_equal(loaded.predict_proba(X), conv_jem.predict_proba(X))
    np.testing.assert_array_equal(
        loaded.sample(3, random_state=1), conv_jem.sample(3, random_state=1)
    )


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(input_shape=(1, 7, 8)), r"holds 56 values per image but X has 64"),
        (dict(input_shape=(1, -1, 7)), r"not a multiple of the 7 values"),
        (dict(input_shape=(1, 8, 0)), r"positive ints"),
        (dict(input_shape=(1, -1, -1)), r"positive ints"),
        (dict(input_shape=(1, 1, 8, 8)), r"\(channels, height, width\)"),
        (dict(input_shape=(1.0, 8, 8)), r"positive ints"),
        (dict(network="conv"), r"network='conv' needs input_shape"),
        (dict(input_shape=(8, 8), channels=()), r"channels must be a non-empty"),
        (dict(input_shape=(8, 8), channels=(8, 0)), r"channels must be a non-empty"),
    ],
)
def test_bad_image_parameters_are_clear_errors(digits, params, message):
    X, y = digits
    with pytest.raises(ValueError, match=message):
        JEMClassifier(**{**TINY, **params}).fit(X[:50], y[:50])


def test_score_matching_refusals_hold_for_the_conv_network():
    X = np.random.default_rng(0).uniform(size=(40, 81))
    with pytest.raises(ValueError, match="at most 64 features; X has 81"):
        EnergyDensityEstimator(training="sm", input_shape=(9, 9), **TINY).fit(X)
    with pytest.raises(ValueError, match="activation='relu'"):
        EnergyDensityEstimator(
            training="ssm", input_shape=(9, 9), activation="relu", **TINY
        ).fit(X)


def test_fashion_mnist_subset():
    try:
        X, y = load_fashion_mnist(n_samples=500, return_X_y=True)
    except FileNotFoundError:
        pytest.skip(
            "Fashion-MNIST is not installed (apt-get install dataset-fashion-mnist)"
        )
    clf = JEMClassifier(
        input_shape=(1, 28, 28), random_state=0, **{**TINY, "channels": (8, 16, 32, 32)}
    ).fit(X, y)
    assert clf.score(X, y) > 0.3  # 10 classes: chance is 0.1
    samples = clf.sample(3, y=[0, 1, 2], random_state=0)
    assert samples.shape == (3, 784)
    assert samples.min() >= 0.0 and samples.max() <= 1.0
