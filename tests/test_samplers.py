import math

import pytest
import torch

from sk_ebm.nets import (
    BaseCorrectedNet,
    KernelCorrectedNet,
    MLPEnergyNet,
    energy,
    frozen,
)
from sk_ebm.samplers import (
    SGLD,
    AnnealedLangevin,
    FreshChains,
    ImportanceResampledInit,
    InitDistribution,
    ReplayBuffer,
    build_init,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_sgld_with_langevin_noise_recovers_a_gaussian():
    # E(x) = (x - mu)^T P (x - mu) / 2 has exp(-E) = N(mu, P^-1).
    mu = torch.tensor([1.0, -2.0])
    cov = torch.tensor([[1.0, 0.6], [0.6, 0.8]])
    precision = torch.linalg.inv(cov)

    def gaussian_energy(x):
        d = x - mu
        return 0.5 * ((d @ precision) * d).sum(1)

    step = 0.01
    sampler = SGLD(step, math.sqrt(2 * step))
    x0 = torch.randn(4000, 2, generator=_gen(1))
    x, stats = sampler.run(x0, gaussian_energy, 1500, _gen(2))
    torch.testing.assert_close(x.mean(0), mu, atol=0.06, rtol=0)
    # Unadjusted Langevin inflates the covariance by O(step): 2 % here.
    torch.testing.assert_close(torch.cov(x.T), cov, atol=0.08, rtol=0)
    assert stats["grad_norm"] > 0


def test_sgld_without_noise_descends_to_the_minimum():
    sampler = SGLD(0.1, 0.0)
    x, _ = sampler.run(torch.full((3, 2), 5.0), lambda x: (x**2).sum(1), 200, _gen())
    torch.testing.assert_close(x, torch.zeros(3, 2), atol=1e-6, rtol=0)


def test_sgld_grad_clipping_bounds_each_move():
    sampler = SGLD(1.0, 0.0, clip_grad=0.5)
    x0 = torch.full((2, 2), 100.0)
    x, _ = sampler.run(x0, lambda x: (x**2).sum(1), 1, _gen())
    moves = (x - x0).norm(dim=1)
    torch.testing.assert_close(moves, torch.full((2,), 0.5))


@pytest.mark.parametrize(
    "sampler, contraction",
    # On E = |x|^2 / 2 a step maps x to (1 - eps) x + noise, so K steps from
    # x0 have the Jacobian (1 - eps)^K whatever the noise.
    [
        (SGLD(0.1, 0.3), 0.9**5),
        (AnnealedLangevin([0.2, 0.1], 0.1), (1 - 0.2) ** 5 * (1 - 0.05) ** 5),
    ],
)
def test_create_graph_differentiates_the_chain_through_every_step(sampler, contraction):
    x0 = torch.randn(4, 3, generator=_gen(), dtype=torch.float64, requires_grad=True)
    x, _ = sampler.run(x0, lambda x: 0.5 * (x**2).sum(1), 5, _gen(1), create_graph=True)
    (grad,) = torch.autograd.grad(x.sum(), x0)
    torch.testing.assert_close(grad, torch.full_like(grad, contraction))
    detached, _ = sampler.run(x0, lambda x: 0.5 * (x**2).sum(1), 5, _gen(1))
    assert not detached.requires_grad
    torch.testing.assert_close(detached, x.detach())


@pytest.mark.parametrize("sampler", [SGLD(0.1, 0.3), AnnealedLangevin([0.2], 0.1)])
def test_shared_noise_makes_a_chain_independent_of_its_batch(sampler):
    x0 = torch.randn(6, 3, generator=_gen())
    run = lambda x: sampler.run(  # noqa: E731
        x, lambda x: 0.5 * (x**2).sum(1), 4, _gen(1), shared_noise=True
    )[0]
    together = run(x0)
    torch.testing.assert_close(together[2:4], run(x0[2:4]))
    torch.testing.assert_close(together.flip(0), run(x0.flip(0)))
    # The noise is shared, not absent: rows that start equal end equal, and
    # another seed moves them elsewhere.
    same = run(x0[:1].expand(3, 3))
    torch.testing.assert_close(same, same[:1].expand(3, 3))
    other = sampler.run(
        x0[:1], lambda x: 0.5 * (x**2).sum(1), 4, _gen(2), shared_noise=True
    )[0]
    assert (same[0] - other[0]).abs().max() > 0.05


def test_sampling_the_network_computes_no_parameter_gradient():
    net = MLPEnergyNet(3, 2, (8,), "silu", _gen())
    seen = []

    def energy_fn(x):
        seen.append(any(p.requires_grad for p in net.parameters()))
        return energy(net(x))

    with frozen(net):
        SGLD(0.1, 0.01).run(torch.zeros(5, 3), energy_fn, 4, _gen())
    assert seen == [False] * 4
    assert all(p.grad is None for p in net.parameters())


def _class_data():
    g = _gen(3)
    y = torch.arange(300) % 3
    X = torch.randn(300, 2, generator=g) * 0.1 + torch.tensor([[0.0, 0.0]]) + y[:, None]
    return X, y


@pytest.mark.parametrize("kind", ["uniform", "diag_gaussian", "data_gaussian"])
def test_init_distributions_match_the_data_range(kind):
    X, _ = _class_data()
    draws = InitDistribution(kind, X).draw(5000, _gen())
    assert draws.shape == (5000, 2)
    torch.testing.assert_close(draws.mean(0), X.mean(0), atol=0.1, rtol=0)
    if kind == "uniform":
        assert (draws >= X.min(0).values).all() and (draws <= X.max(0).values).all()


def test_class_gaussian_init_draws_near_each_class():
    X, y = _class_data()
    init = InitDistribution("class_gaussian", X, y, n_classes=3)
    for c in range(3):
        draws = init.draw(2000, _gen(c), y=torch.full((2000,), c))
        torch.testing.assert_close(
            draws.mean(0), torch.tensor([c, c], dtype=torch.float32), atol=0.05, rtol=0
        )


def test_class_gaussian_init_needs_labels():
    X, _ = _class_data()
    with pytest.raises(ValueError, match="class labels"):
        InitDistribution("class_gaussian", X)


def test_replay_buffer_keeps_per_class_chains_apart():
    X, y = _class_data()
    init = InitDistribution("class_gaussian", X, y, n_classes=3)
    buffer = ReplayBuffer(init, 30, reinit_freq=0.0, generator=_gen(), n_classes=3)
    before = buffer.x.clone()
    target = torch.full((50,), 1)
    x0, idx = buffer.sample(50, _gen(1), y=target)
    assert (buffer.slot_class[idx] == 1).all()
    torch.testing.assert_close(x0, before[idx])
    buffer.update(idx, torch.full_like(x0, 42.0))
    changed = (buffer.x != before).any(1)
    assert changed.any()
    assert (buffer.slot_class[changed] == 1).all()
    # Chains of classes 0 and 2 were left alone.
    other = buffer.slot_class != 1
    torch.testing.assert_close(buffer.x[other], before[other])


def test_replay_buffer_reinit_replaces_drawn_chains():
    X, _ = _class_data()
    init = InitDistribution("diag_gaussian", X)
    buffer = ReplayBuffer(init, 100, reinit_freq=1.0, generator=_gen())
    buffer.x.fill_(1e6)
    x0, _ = buffer.sample(64, _gen(1))
    assert (x0.abs() < 100).all()
    kept, _ = ReplayBuffer(init, 100, 0.0, _gen()).sample(64, _gen(1))
    assert kept.shape == (64, 2)


def test_fresh_chains_start_from_init_and_remember_nothing():
    X, _ = _class_data()
    chains = FreshChains(InitDistribution("diag_gaussian", X))
    x0, idx = chains.sample(10, _gen())
    assert x0.shape == (10, 2) and idx is None
    chains.update(idx, x0)


def _linear_on_standard_gaussian(weights):
    """A model N(0, 1) x exp(bounded correction) with logits ``weights * x``."""
    inner = torch.nn.Linear(1, len(weights), bias=False)
    with torch.no_grad():
        inner.weight.copy_(torch.tensor(weights, dtype=torch.float32)[:, None])
    return BaseCorrectedNet(inner, torch.zeros(1), torch.eye(1), bound=20.0)


def _quadrature_mean(net, column=None):
    """Mean of the model (or of ``p(x, y=column)``) on a fine grid."""
    x = torch.linspace(-8, 8, 4001)[:, None]
    with torch.no_grad():
        logits = net(x)
    log_p = torch.logsumexp(logits, 1) if column is None else logits[:, column]
    return float((torch.softmax(log_p, 0) * x[:, 0]).sum())


def test_importance_resampled_init_draws_from_the_model_not_its_base():
    # p(x) = N(x; 0, 1) exp(20 tanh(x / 20)): close to N(1, 1).
    net = _linear_on_standard_gaussian([1.0])
    target = _quadrature_mean(net)
    assert target == pytest.approx(1.0, abs=0.05)
    assert abs(float(net.sample_base(2000, _gen()).mean())) < 0.1
    # Many candidates per point: the draws follow the model.
    exact = ImportanceResampledInit(net, n_candidates=1024, max_candidates=10**6)
    draws = torch.cat([exact.draw(400, _gen(seed)) for seed in range(5)])
    assert float(draws.mean()) == pytest.approx(target, abs=0.08)
    # The default 32 per point (a training batch's draw) is biased towards
    # the base, but most of the way to the model.
    default = ImportanceResampledInit(net)
    draws = torch.cat([default.draw(400, _gen(seed)) for seed in range(5)])
    assert 0.75 * target < float(draws.mean()) < target + 0.08
    # One candidate picked per point: no point repeats another.
    assert len(torch.unique(draws)) == len(draws)


def test_importance_resampled_init_is_class_conditional():
    # Logits (x, -x): class 0 lives at positive x, class 1 at negative x.
    net = _linear_on_standard_gaussian([1.0, -1.0])
    init = ImportanceResampledInit(net, n_candidates=1024, max_candidates=10**6)
    for c in (0, 1):
        y = torch.full((400,), c)
        draws = torch.cat([init.draw(400, _gen(seed), y=y) for seed in range(5)])
        target = _quadrature_mean(net, column=c)
        assert abs(target) > 0.5 and (target > 0) == (c == 0)
        assert float(draws.mean()) == pytest.approx(target, abs=0.08)


def test_importance_resampled_init_bounds_the_candidates_of_a_large_draw():
    net = _linear_on_standard_gaussian([1.0])
    init = ImportanceResampledInit(net, n_candidates=32, max_candidates=1000)
    calls = []
    original = net.sample_base
    net.sample_base = lambda n, generator: calls.append(n) or original(n, generator)
    assert init.draw(10, _gen()).shape == (10, 1)
    assert init.draw(2000, _gen()).shape == (2000, 1)
    assert calls == [320, 2000]


def test_kernel_base_draws_follow_the_kernel_weights():
    centers = torch.tensor([[-3.0], [3.0]])
    net = KernelCorrectedNet(
        torch.nn.Linear(1, 1),
        bound=2.0,
        centers=centers,
        bandwidth=0.5,
        log_weights=torch.log(torch.tensor([0.25, 0.75])),
    )
    draws = net.sample_base(8000, _gen())
    assert float((draws > 0).float().mean()) == pytest.approx(0.75, abs=0.02)
    assert float(draws[draws > 0].std()) == pytest.approx(0.5, abs=0.03)


def test_base_init_needs_a_model_with_a_base():
    X, _ = _class_data()
    plain = MLPEnergyNet(2, 1, (4,), "silu", _gen())
    with pytest.raises(ValueError, match="base='gaussian' or base='kde'"):
        build_init("base", X, net=plain)
    assert build_init("diag_gaussian", X, net=plain).kind == "diag_gaussian"
