"""Gaussian base and annealed importance sampling against known normalizers."""

import math

import pytest
import torch

from sk_ebm.likelihood import (
    GaussianBase,
    KernelBase,
    annealed_importance_sampling,
    normalized_log_density,
)
from sk_ebm.nets import MLPEnergyNet, energy, frozen

DT = torch.float64


def _gaussian_energy(mean, precision, offset):
    """``E(x) = 0.5 (x - m)^T P (x - m) + offset`` and its ``log Z``."""

    def energy_fn(x):
        centered = x - mean
        return 0.5 * ((centered @ precision) * centered).sum(1) + offset

    n_features = len(mean)
    log_z = (
        0.5 * n_features * math.log(2 * math.pi)
        - 0.5 * torch.logdet(precision).item()
        - offset
    )
    return energy_fn, log_z


def _random_gaussian_energy(n_features, seed):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n_features, n_features, generator=g, dtype=DT)
    precision = a @ a.T / n_features + 0.5 * torch.eye(n_features, dtype=DT)
    mean = torch.randn(n_features, generator=g, dtype=DT)
    return _gaussian_energy(mean, precision, offset=3.0)


def _mismatched_base(n_features):
    # Centred at 0 with scale 1.5: neither the model's mean nor its covariance.
    return GaussianBase(
        torch.zeros(n_features, dtype=DT), 1.5 * torch.eye(n_features, dtype=DT)
    )


MODES = torch.tensor([[-3.0, 0.0], [3.0, 0.0], [0.0, 4.0]], dtype=DT)
MODE_SCALE = 0.5


def _mixture_energy(offset=-2.0):
    """Equal mixture of N(mode, 0.5^2 I): ``E = -log p + offset``, ``log Z =
    -offset``."""

    def energy_fn(x):
        sq_dist = ((x[:, None, :] - MODES) ** 2).sum(-1)
        log_components = (
            -0.5 * sq_dist / MODE_SCALE**2
            - 2 * math.log(MODE_SCALE)
            - math.log(2 * math.pi)
            - math.log(len(MODES))
        )
        return -torch.logsumexp(log_components, dim=1) + offset

    return energy_fn, -offset


def _mixture_samples(n, generator):
    which = torch.randint(len(MODES), (n,), generator=generator)
    return MODES[which] + MODE_SCALE * torch.randn(n, 2, generator=generator, dtype=DT)


def test_gaussian_base_fits_the_moments_and_matches_torch():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(500, 3, generator=g) @ torch.tensor(
        [[1.0, 0.0, 0.0], [0.5, 2.0, 0.0], [0.0, -1.0, 0.3]]
    )
    base = GaussianBase.fit(X, jitter=0.0)
    X64 = X.to(DT)
    torch.testing.assert_close(base.mean, X64.mean(0))
    cov = base.scale_tril @ base.scale_tril.T
    torch.testing.assert_close(cov, torch.cov(X64.T, correction=0))
    reference = torch.distributions.MultivariateNormal(
        base.mean, scale_tril=base.scale_tril
    )
    torch.testing.assert_close(base.log_prob(X), reference.log_prob(X64))
    draws = base.sample(20000, g)
    torch.testing.assert_close(draws.mean(0), base.mean, atol=0.05, rtol=0)
    torch.testing.assert_close(torch.cov(draws.T), cov, atol=0.1, rtol=0.05)


def test_gaussian_base_weights_equal_repeated_rows():
    X = torch.randn(6, 2, generator=torch.Generator().manual_seed(1))
    weight = torch.tensor([1.0, 0.0, 2.0, 1.0, 3.0, 1.0])
    weighted = GaussianBase.fit(X, sample_weight=weight)
    repeated = GaussianBase.fit(X.repeat_interleave(weight.long(), dim=0))
    torch.testing.assert_close(weighted.mean, repeated.mean)
    torch.testing.assert_close(weighted.scale_tril, repeated.scale_tril)


def test_gaussian_base_jitter_makes_constant_features_proper():
    X = torch.zeros(10, 2)
    X[:, 0] = torch.arange(10.0)
    base = GaussianBase.fit(X)
    assert torch.isfinite(base.log_prob(X)).all()
    assert base.to(dtype=torch.float32).sample(3, torch.Generator()).dtype == (
        torch.float32
    )


@pytest.mark.parametrize("n_features", [2, 5])
def test_ais_finds_a_gaussians_log_z(n_features):
    energy_fn, log_z = _random_gaussian_energy(n_features, seed=n_features)
    g = torch.Generator().manual_seed(0)
    estimate, stderr, stats = annealed_importance_sampling(
        energy_fn, _mismatched_base(n_features), g
    )
    assert abs(estimate - log_z) < 3 * stderr
    assert 0 < stderr < 0.1
    assert 0.5 * 256 < stats["ess"] <= 256
    assert 0.5 < stats["acceptance"] < 0.7


def test_ais_finds_a_separated_mixtures_log_z():
    energy_fn, log_z = _mixture_energy()
    g = torch.Generator().manual_seed(1)
    base = GaussianBase.fit(_mixture_samples(2000, g))
    estimate, stderr, _ = annealed_importance_sampling(energy_fn, base, g)
    assert abs(estimate - log_z) < 3 * stderr
    assert stderr < 0.1


def test_ais_matches_grid_integration_of_a_network_energy():
    # A random network plus a quadratic (so that Z is finite): no closed form,
    # but in 2-D a fine grid integrates exp(-E) to far below AIS's error.
    net = MLPEnergyNet(2, 1, (32, 32), "silu", torch.Generator().manual_seed(4))
    net = net.to(DT)

    def energy_fn(x):
        return 3 * energy(net(x)) + 0.5 * ((x - 1) ** 2).sum(1)

    grid = torch.linspace(-8, 10, 361, dtype=DT)
    cell = (grid[1] - grid[0]) ** 2
    g = torch.Generator().manual_seed(5)
    with frozen(net):
        log_z = float(
            torch.logsumexp(-energy_fn(torch.cartesian_prod(grid, grid)), 0)
            + cell.log()
        )
        estimate, stderr, _ = annealed_importance_sampling(
            energy_fn, _mismatched_base(2), g
        )
    assert abs(estimate - log_z) < 3 * stderr


def test_ais_handles_an_energy_infinite_outside_a_box():
    # A standard normal truncated to [-2, 2]^2: chains never accept a move out.
    def energy_fn(x):
        inside = (x.abs() < 2).all(1)
        return torch.where(inside, 0.5 * (x**2).sum(1), math.inf)

    log_z = 2 * math.log(math.sqrt(2 * math.pi) * math.erf(2 / math.sqrt(2)))
    g = torch.Generator().manual_seed(2)
    estimate, stderr, _ = annealed_importance_sampling(
        energy_fn, _mismatched_base(2), g
    )
    assert abs(estimate - log_z) < 3 * stderr


def test_more_temperatures_shrink_the_error():
    energy_fn, log_z = _random_gaussian_energy(5, seed=5)
    base = _mismatched_base(5)

    def mean_error_and_stderr(n_temperatures):
        errors, stderrs = [], []
        for seed in range(4):
            g = torch.Generator().manual_seed(seed)
            estimate, stderr, _ = annealed_importance_sampling(
                energy_fn, base, g, n_chains=128, n_temperatures=n_temperatures
            )
            errors.append(abs(estimate - log_z))
            stderrs.append(stderr)
        return sum(errors) / len(errors), sum(stderrs) / len(stderrs)

    few_error, few_stderr = mean_error_and_stderr(5)
    many_error, many_stderr = mean_error_and_stderr(100)
    assert many_stderr < 0.5 * few_stderr
    assert many_error < few_error


def test_ais_is_reproducible_and_leaves_the_global_random_state_alone():
    energy_fn, _ = _random_gaussian_energy(2, seed=0)
    state = torch.random.get_rng_state()
    runs = [
        annealed_importance_sampling(
            energy_fn,
            _mismatched_base(2),
            torch.Generator().manual_seed(3),
            n_chains=16,
            n_temperatures=5,
        )
        for _ in range(2)
    ]
    assert runs[0] == runs[1]
    assert torch.equal(torch.random.get_rng_state(), state)


def test_normalized_log_density_integrates_to_one():
    energy_fn, log_z = _mixture_energy()
    grid = torch.linspace(-7, 7, 281, dtype=DT)
    points = torch.cartesian_prod(grid, grid)
    cell = (grid[1] - grid[0]) ** 2
    density = normalized_log_density(energy_fn, points, log_z).exp()
    assert float(density.sum() * cell) == pytest.approx(1.0, abs=1e-3)


def test_kernel_base_draws_what_it_scores_and_ais_starts_from_it():
    g = torch.Generator().manual_seed(0)
    centers = torch.tensor([[-3.0, 0.0], [3.0, 0.0]], dtype=torch.float64)
    base = KernelBase(centers, 0.5, torch.log(torch.tensor([0.25, 0.75]).double()))
    draws = base.sample(4000, g)
    assert (draws[:, 0] > 0).double().mean().item() == pytest.approx(0.75, abs=0.03)
    assert draws[draws[:, 0] > 0].std(0).numpy() == pytest.approx([0.5, 0.5], abs=0.05)
    # A target that is the base up to a constant: log Z is that constant.
    log_z, stderr, _ = annealed_importance_sampling(
        lambda x: -base.log_prob(x) - 1.5, base, g, n_chains=64, n_temperatures=10
    )
    assert abs(log_z - 1.5) < 1e-6 and stderr < 1e-6
