"""Score-matching losses against closed forms, and annealed Langevin sampling."""

import pytest
import torch
from torch import nn

from sk_ebm.nets import MLPEnergyNet, energy
from sk_ebm.samplers.annealed_langevin import AnnealedLangevin
from sk_ebm.score_matching import (
    MAX_EXACT_FEATURES,
    denoising_score_matching_loss,
    exact_score_matching_loss,
    geometric_noise_scales,
    sliced_score_matching_loss,
)

TRUE_MEAN = torch.tensor([1.0, -2.0, 0.5])
TRUE_COV = torch.tensor([[2.0, 0.6, 0.0], [0.6, 1.0, -0.3], [0.0, -0.3, 0.5]])


class QuadraticEnergy(nn.Module):
    """``E(x) = 0.5 (x - m)^T P (x - m)`` with ``P = L L^T`` learned."""

    def __init__(self, n_features):
        super().__init__()
        self.mean = nn.Parameter(torch.zeros(n_features))
        self.chol = nn.Parameter(torch.eye(n_features))

    def precision(self):
        chol = self.chol.tril()
        return chol @ chol.T

    def forward(self, x):
        return 0.5 * (((x - self.mean) @ self.chol.tril()) ** 2).sum(1)


def _gaussian_data(n=2000, seed=0):
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 3, generator=g)
    return TRUE_MEAN + z @ torch.linalg.cholesky(TRUE_COV).T


def _fit_quadratic(loss_fn, X, n_iter=400, lr=0.05):
    model = QuadraticEnergy(X.shape[1])
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, n_iter)
    for _ in range(n_iter):
        optimizer.zero_grad()
        loss, _ = loss_fn(model, X)
        loss.backward()
        optimizer.step()
        schedule.step()
    return model


def _sample_moments(X):
    return X.mean(0), torch.cov(X.T, correction=0)


def test_exact_score_matching_recovers_a_gaussian():
    # Its minimiser is the sample mean and inverse sample covariance exactly.
    X = _gaussian_data()
    model = _fit_quadratic(lambda m, x: exact_score_matching_loss(m, x), X)
    mean, cov = _sample_moments(X)
    torch.testing.assert_close(model.mean.detach(), mean, atol=2e-3, rtol=0)
    torch.testing.assert_close(
        model.precision().detach(), torch.linalg.inv(cov), atol=2e-3, rtol=0
    )


def test_sliced_score_matching_recovers_a_gaussian():
    X = _gaussian_data()
    g = torch.Generator().manual_seed(1)
    model = _fit_quadratic(lambda m, x: sliced_score_matching_loss(m, x, g), X)
    mean, cov = _sample_moments(X)
    torch.testing.assert_close(model.mean.detach(), mean, atol=5e-3, rtol=0)
    torch.testing.assert_close(
        model.precision().detach(), torch.linalg.inv(cov), atol=0.02, rtol=0.02
    )


def test_denoising_optimum_is_the_noise_convolved_gaussian():
    X = _gaussian_data()
    sigma = 0.7
    g = torch.Generator().manual_seed(2)
    model = _fit_quadratic(
        lambda m, x: denoising_score_matching_loss(m, x, [sigma], g), X
    )
    mean, cov = _sample_moments(X)
    blurred = cov + sigma**2 * torch.eye(3)
    torch.testing.assert_close(model.mean.detach(), mean, atol=0.03, rtol=0)
    torch.testing.assert_close(
        torch.linalg.inv(model.precision().detach()), blurred, atol=0.05, rtol=0.05
    )


def _small_mlp_energy():
    net = MLPEnergyNet(3, 1, (16, 16), "silu", torch.Generator().manual_seed(0))
    return lambda x: energy(net(x))


def test_sliced_loss_is_an_unbiased_estimate_of_the_exact_loss():
    energy_fn = _small_mlp_energy()
    x = torch.randn(8, 3, generator=torch.Generator().manual_seed(3))
    exact, exact_stats = exact_score_matching_loss(energy_fn, x)
    g = torch.Generator().manual_seed(4)
    draws = torch.tensor(
        [sliced_score_matching_loss(energy_fn, x, g)[1]["loss"] for _ in range(400)]
    )
    stderr = draws.std() / len(draws) ** 0.5
    assert stderr > 0  # the projections are random
    assert abs(draws.mean() - exact.item()) < 4 * stderr
    _, many = sliced_score_matching_loss(energy_fn, x, g, n_projections=400)
    assert many["grad_sq"] == pytest.approx(exact_stats["grad_sq"])
    assert abs(many["loss"] - exact.item()) < 4 * stderr


def test_exact_score_matching_refuses_too_many_features():
    x = torch.zeros(2, MAX_EXACT_FEATURES + 1)
    with pytest.raises(ValueError, match=r"at most 64 features.*\"ssm\".*\"dsm\""):
        exact_score_matching_loss(lambda x: (x**2).sum(1), x)


def test_integer_weights_equal_repeated_rows():
    energy_fn = _small_mlp_energy()
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(5))
    weight = torch.tensor([1.0, 3.0, 0.0, 2.0])
    weighted, _ = exact_score_matching_loss(energy_fn, x, weight=weight)
    repeated, _ = exact_score_matching_loss(
        energy_fn, x.repeat_interleave(weight.long(), dim=0)
    )
    torch.testing.assert_close(weighted, repeated)


def test_losses_leave_the_global_random_state_alone():
    energy_fn = _small_mlp_energy()
    x = torch.randn(4, 3, generator=torch.Generator().manual_seed(6))
    g = torch.Generator().manual_seed(7)
    state = torch.random.get_rng_state()
    sliced_score_matching_loss(energy_fn, x, g, n_projections=2)
    denoising_score_matching_loss(energy_fn, x, geometric_noise_scales(1, 0.1, 3), g)
    assert torch.equal(torch.random.get_rng_state(), state)


def test_denoising_loss_refuses_non_positive_scales():
    with pytest.raises(ValueError, match="positive"):
        denoising_score_matching_loss(
            lambda x: x.sum(1), torch.zeros(2, 2), [0.5, 0.0], torch.Generator()
        )


def _mixture_energy(means, scale):
    def energy_fn(x):
        sq_dist = ((x[:, None, :] - means) ** 2).sum(-1)
        return -torch.logsumexp(-0.5 * sq_dist / scale**2, dim=1)

    return energy_fn


def test_annealed_langevin_samples_a_gaussian_mixture():
    means = torch.tensor([[-2.0, 0.0], [2.0, 0.0]])
    scale = 0.5
    g = torch.Generator().manual_seed(8)
    x0 = 4 * torch.randn(1000, 2, generator=g)
    sampler = AnnealedLangevin(geometric_noise_scales(1.0, 0.1, 3), step_size=2e-3)
    x, stats = sampler.run(x0, _mixture_energy(means, scale), 100, g)
    # Both modes equally weighted: mean 0, std sqrt(2^2 + 0.5^2) along x, 0.5
    # along y.
    torch.testing.assert_close(x.mean(0), torch.zeros(2), atol=0.2, rtol=0)
    torch.testing.assert_close(
        x.std(0), torch.tensor([(4 + scale**2) ** 0.5, scale]), atol=0, rtol=0.1
    )
    assert 0.3 < (x[:, 0] > 0).float().mean() < 0.7
    assert stats["grad_norm"] > 0


def test_annealed_langevin_steps_scale_with_the_noise_scales():
    # With a flat energy only the noise moves chains: after n steps at each
    # scale their variance is n * sum_i alpha_i, alpha_i = eps sigma_i^2 /
    # sigma_L^2, here 3 * (0.01 * 100 + 0.01).
    sampler = AnnealedLangevin([0.1, 1.0], step_size=0.01)
    g = torch.Generator().manual_seed(9)
    x, _ = sampler.run(torch.zeros(4000, 2), lambda x: 0.0 * x.sum(1), 3, g)
    assert x.var().item() == pytest.approx(3 * 1.01, rel=0.05)


def test_annealed_langevin_clipping_bounds_the_drift():
    sampler = AnnealedLangevin([1.0], step_size=0.01, clip_grad=1.0)
    x0 = torch.full((5, 2), 100.0)
    g = torch.Generator().manual_seed(10)
    x, stats = sampler.run(x0, lambda x: 1e6 * (x**2).sum(1), 1, g)
    # Drift at most 0.01 / 2, noise of standard deviation 0.1 per axis.
    assert (x - x0).norm(dim=1).max() < 1.0
    assert stats["grad_norm"] > 1e8  # reported before clipping
