"""The extension points work from outside the package.

A toy training family, a toy network and a toy sampler, none of them shipped,
are registered here and used through both estimators with no edit to sk_ebm/.
"""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_iris
from torch import nn

from sk_ebm import EnergyDensityEstimator, JEMClassifier
from sk_ebm.families import TrainingFamily, register_family, unregister_family
from sk_ebm.nets import register_network, unregister_network
from sk_ebm.objectives import jem_loss
from sk_ebm.samplers import BaseSampler, register_sampler, unregister_sampler

from ._helpers import FAST_PARAMS


class GaussianNoiseContrast(TrainingFamily):
    """Negatives are N(0, I) draws in standardized units: no sampler at all."""

    auto_alpha = {"classifier": 0.5, "density": 0.5}

    def build(self, net, data, n_classes, generator, init_generator):
        self.n_features = data.X.shape[1]
        self.n_steps_taken = 0

    def step(self, net, batch, optimizers, generator):
        x_neg = self.start_points(len(batch["x_data"]), generator)
        x_unlab = batch.pop("x_unlab", None)
        loss, stats = jem_loss(
            net, x_neg=x_neg, alpha=self.params["alpha"], energy_reg=0.1, **batch
        )
        loss = self.add_consistency(loss, stats, net, x_unlab, generator)
        optimizers["energy"].zero_grad()
        loss.backward()
        optimizers["energy"].step()
        self.n_steps_taken += 1
        return stats

    @property
    def default_sample_steps(self):
        return 3

    def start_points(self, n, generator):
        return torch.randn((n, self.n_features), generator=generator)

    def fitted_attributes(self):
        return {"noise_steps_": self.n_steps_taken}


class ResidualNet(nn.Module):
    """One hidden layer plus a linear skip, sized by ``width``."""

    estimator_params = ("hidden_dims",)

    @staticmethod
    def check_config(config):
        return {"width": int(config["hidden_dims"][0])}

    def __init__(self, n_features, n_outputs, *, generator, width):
        super().__init__()
        self.hidden = nn.Linear(n_features, width)
        self.out = nn.Linear(width, n_outputs)
        self.skip = nn.Linear(n_features, n_outputs)
        for p in self.parameters():
            with torch.no_grad():
                p.copy_(0.1 * torch.randn(p.shape, generator=generator))

    def forward(self, x):
        return self.out(torch.tanh(self.hidden(x))) + self.skip(x)


class GradientDescent(BaseSampler):
    """Noise-free steps down the energy that keep only steps that lower it."""

    def __init__(self, step_size):
        self.step_size = step_size
        self.n_calls = 0

    @classmethod
    def from_params(cls, params):
        return cls(params["step_size"])

    def step(self, x, target, noise, generator):
        self.n_calls += 1
        energy, grad = target.energy_and_grad(x)
        proposal = x - self.step_size * grad
        lower = target.energy(proposal) <= energy
        return torch.where(lower[:, None], proposal, x)

    def shrink(self):
        self.step_size /= 2
        return f"step_size -> {self.step_size}"


@pytest.fixture
def registered():
    register_family("noise_contrast", GaussianNoiseContrast)
    register_network("residual", ResidualNet)
    register_sampler("descent", GradientDescent)
    yield
    unregister_family("noise_contrast")
    unregister_network("residual")
    unregister_sampler("descent")


TOY = dict(
    FAST_PARAMS,
    training="noise_contrast",
    network="residual",
    sampler="descent",
    step_size=0.05,
    max_iter=5,
)


def test_toy_family_adds_the_consistency_term_on_unlabeled_rows(registered):
    X, y = load_iris(return_X_y=True)
    y_ssl = np.where(np.arange(len(y)) % 3 == 0, y, -1)
    clf = JEMClassifier(unlabeled_vat=1.0, **TOY).fit(X, y_ssl)
    assert clf.vat_radius_ > 0 and "vat" in clf.history_[-1]


def test_toy_family_network_and_sampler_through_the_classifier(registered):
    X, y = load_iris(return_X_y=True)
    clf = JEMClassifier(**TOY).fit(X, y)
    assert clf.training_ == "noise_contrast" and clf.alpha_ == 0.5
    assert isinstance(clf.net_, ResidualNet)
    assert clf.network_config_ == {
        "network": "residual",
        "n_features": 4,
        "n_outputs": 3,
        "width": 32,
    }
    assert clf.noise_steps_ == 5 * 3  # 150 rows in batches of 64, 5 epochs
    assert clf.predict_proba(X).shape == (150, 3)
    samples = clf.sample(6, y=1, random_state=0)
    assert samples.shape == (6, 4) and np.isfinite(samples).all()


def test_toy_family_network_and_sampler_through_the_density_estimator(registered):
    X = np.random.default_rng(0).normal(size=(200, 3))
    est = EnergyDensityEstimator(**TOY).fit(X)
    assert isinstance(est.family_, GaussianNoiseContrast)
    assert est.score_samples(X).shape == (200,)
    # The toy sampler only goes downhill: sampling lowers the energy.
    est.set_params(sampler_params={"sample_steps": 0})
    start = est.sample(50, random_state=0)
    est.set_params(sampler_params={"sample_steps": 20})
    moved = est.sample(50, random_state=0)
    assert est.score_samples(moved).mean() > est.score_samples(start).mean()


def test_auto_alpha_for_images_falls_back_to_the_estimators_own_weight():
    family = GaussianNoiseContrast()
    assert family.auto_alpha_for("classifier", images=True) == 0.5
    family.auto_alpha = {**family.auto_alpha, "image classifier": 0.2}
    assert family.auto_alpha_for("classifier", images=True) == 0.2
    assert family.auto_alpha_for("classifier", images=False) == 0.5
    assert family.auto_alpha_for("density", images=True) == 0.5


def test_unknown_names_are_refused_with_the_registered_ones(registered):
    X, y = load_iris(return_X_y=True)
    with pytest.raises(ValueError, match="'training' parameter.*noise_contrast"):
        JEMClassifier(training="nope").fit(X, y)
    with pytest.raises(ValueError, match="'network' parameter.*residual"):
        JEMClassifier(network="nope").fit(X, y)
    with pytest.raises(ValueError, match="'sampler' parameter.*descent"):
        EnergyDensityEstimator(sampler="nope").fit(X)


def test_a_refit_with_another_family_leaves_none_of_the_old_state(registered):
    X, y = load_iris(return_X_y=True)
    clf = JEMClassifier(**{**FAST_PARAMS, "max_iter": 2}).fit(X, y)
    assert hasattr(clf, "buffer_")
    clf.set_params(training="noise_contrast").fit(X, y)
    assert not hasattr(clf, "buffer_") and not hasattr(clf, "init_")
    assert hasattr(clf, "noise_steps_")


# ------------------------------------------- sampling reads current parameters
@pytest.mark.parametrize("estimator", ["classifier", "density"])
def test_set_params_after_fit_changes_what_sample_draws(estimator):
    X, y = load_iris(return_X_y=True)
    if estimator == "classifier":
        est = JEMClassifier(**FAST_PARAMS).fit(X, y)
    else:
        est = EnergyDensityEstimator(**FAST_PARAMS).fit(X)
    before = est.sample(20, random_state=0)
    est.set_params(sampler_params={"sample_steps": 0})
    no_steps = est.sample(20, random_state=0)
    assert not np.allclose(before, no_steps)
    est.set_params(sampler_params=None, step_size=0.05)
    bigger_steps = est.sample(20, random_state=0)
    assert not np.allclose(before, bigger_steps)
    est.set_params(step_size=FAST_PARAMS.get("step_size", 0.001))
    np.testing.assert_array_equal(est.sample(20, random_state=0), before)
