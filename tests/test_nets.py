import torch

from sk_ebm.nets import ACTIVATIONS, MLPEnergyNet, class_energy, energy, frozen


def _net(n_outputs=3, activation="silu", seed=0):
    generator = torch.Generator().manual_seed(seed)
    return MLPEnergyNet(5, n_outputs, (16, 8), activation, generator)


def test_energy_is_minus_logsumexp_of_logits():
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    expected = -torch.log(torch.exp(logits).sum(1))
    torch.testing.assert_close(energy(logits), expected)


def test_single_output_energy_is_minus_the_output():
    out = torch.tensor([[1.5], [-2.0]])
    torch.testing.assert_close(energy(out), torch.tensor([-1.5, 2.0]))


def test_class_energy_picks_the_class_logit():
    logits = torch.tensor([[0.0, 1.0, 2.0], [3.0, -1.0, 0.5]])
    torch.testing.assert_close(
        class_energy(logits, torch.tensor([2, 0])), torch.tensor([-2.0, -3.0])
    )


def test_mlp_shapes_and_every_activation_is_finite():
    x = torch.randn(7, 5, generator=torch.Generator().manual_seed(1))
    for activation in ACTIVATIONS:
        out = _net(activation=activation)(x)
        assert out.shape == (7, 3)
        assert torch.isfinite(out).all()


def test_init_is_reproducible_and_leaves_global_rng_alone():
    state = torch.get_rng_state()
    a, b, c = _net(seed=0), _net(seed=0), _net(seed=1)
    assert torch.equal(torch.get_rng_state(), state)
    for pa, pb, pc in zip(a.parameters(), b.parameters(), c.parameters()):
        assert torch.equal(pa, pb)
        assert not torch.equal(pa, pc)


def test_frozen_disables_parameter_gradients_and_restores_them():
    net = _net()
    net.train()
    with frozen(net):
        assert not net.training
        assert not any(p.requires_grad for p in net.parameters())
        x = torch.randn(4, 5, requires_grad=True)
        (grad,) = torch.autograd.grad(energy(net(x)).sum(), x)
        assert grad.shape == x.shape
    assert net.training
    assert all(p.requires_grad for p in net.parameters())
    assert all(p.grad is None for p in net.parameters())
