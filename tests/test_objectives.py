"""The training objectives, term by term: signs, weights, splits and gradients."""

import pytest
import torch
import torch.nn.functional as F

from sk_ebm.nets import GaussianGenerator, MLPEnergyNet, energy
from sk_ebm.objectives import jem_loss, vera_ebm_loss, virtual_adversarial_loss

LOSSES = [jem_loss, vera_ebm_loss]


@pytest.fixture
def net():
    return MLPEnergyNet(3, 4, (8,), "silu", torch.Generator().manual_seed(0))


def _rows(n, seed):
    return torch.randn((n, 3), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_the_likelihood_term_lowers_data_energy_and_raises_samples(net, loss_fn):
    x_data, x_neg = _rows(5, 1), _rows(7, 2)
    loss, stats = loss_fn(net, x_data, x_neg, alpha=2.0)
    with torch.no_grad():
        e_data, e_neg = energy(net(x_data)), energy(net(x_neg))
    expected = 2.0 * (e_data.mean() - e_neg.mean())
    torch.testing.assert_close(loss, expected)
    assert stats["e_data"] == pytest.approx(e_data.mean().item())
    assert stats["e_sample"] == pytest.approx(e_neg.mean().item())
    assert stats["loss"] == pytest.approx(loss.item())


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_energy_reg_adds_the_mean_squared_energies(net, loss_fn):
    x_data, x_neg = _rows(5, 1), _rows(7, 2)
    plain, _ = loss_fn(net, x_data, x_neg, alpha=1.0)
    regularized, _ = loss_fn(net, x_data, x_neg, alpha=1.0, energy_reg=0.5)
    with torch.no_grad():
        squares = (energy(net(x_data)) ** 2).mean() + (energy(net(x_neg)) ** 2).mean()
    torch.testing.assert_close(regularized - plain, 0.5 * squares)


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_data_equal_to_samples_leave_only_the_regularizer_gradient(net, loss_fn):
    # Contrastive gradients cancel exactly when the negatives are the data.
    x = _rows(6, 3)
    loss, _ = loss_fn(net, x, x.clone(), alpha=1.0)
    loss.backward()
    assert all(p.grad.abs().max() < 1e-6 for p in net.parameters())


@pytest.mark.parametrize("loss_fn", LOSSES)
@pytest.mark.parametrize("separate", [True, False])
def test_cross_entropy_is_on_the_labeled_rows(net, loss_fn, separate):
    x_data = _rows(6, 4)
    x_lab = _rows(3, 5) if separate else x_data
    y_lab = torch.tensor([0, 1, 3] if separate else [0, 1, 3, 2, 2, 1])
    with_labels, stats = loss_fn(net, x_data, _rows(4, 6), x_lab=x_lab, y_lab=y_lab)
    without, _ = loss_fn(net, x_data, _rows(4, 6))
    with torch.no_grad():
        logits = net(x_lab)
    ce = F.cross_entropy(logits, y_lab)
    torch.testing.assert_close(with_labels - without, ce, rtol=1e-5, atol=1e-6)
    assert stats["ce"] == pytest.approx(ce.item(), rel=1e-5)
    accuracy = (logits.argmax(1) == y_lab).float().mean().item()
    assert stats["acc"] == pytest.approx(accuracy)


@pytest.mark.parametrize("loss_fn", LOSSES)
def test_a_zero_weight_drops_its_row(net, loss_fn):
    x_data, x_neg = _rows(5, 7), _rows(4, 8)
    y = torch.tensor([0, 1, 2, 3, 0])
    weights = torch.tensor([1.0, 2.0, 0.0, 1.0, 0.0])
    kept = weights > 0
    weighted, _ = loss_fn(
        net, x_data, x_neg, w_data=weights, x_lab=x_data, y_lab=y, w_lab=weights
    )
    # Weight 2 counts a row twice.
    x_kept = torch.cat([x_data[kept], x_data[1:2]])
    y_kept = torch.cat([y[kept], y[1:2]])
    dropped, _ = loss_fn(net, x_kept, x_neg, x_lab=x_kept, y_lab=y_kept)
    torch.testing.assert_close(weighted, dropped, rtol=1e-5, atol=1e-6)


def test_vera_gradient_penalty_is_half_the_squared_gradient_norm(net):
    x_data, x_neg = _rows(5, 9), _rows(5, 10)
    plain, _ = vera_ebm_loss(net, x_data, x_neg, alpha=1.0)
    penalized, stats = vera_ebm_loss(net, x_data, x_neg, alpha=3.0, grad_penalty=0.5)
    x = x_data.clone().requires_grad_(True)
    (grad,) = torch.autograd.grad(energy(net(x)).sum(), x)
    half_norm = (grad.pow(2).sum(1) / 2).mean()
    assert stats["grad_penalty"] == pytest.approx(half_norm.item(), rel=1e-5)
    torch.testing.assert_close(penalized, 3.0 * (plain + 0.5 * half_norm))


def test_vera_unlabeled_entropy_adds_the_mean_entropy_of_p_y_given_x(net):
    x_data = _rows(6, 11)
    x_lab, y_lab = _rows(2, 12), torch.tensor([0, 1])
    args = (net, x_data, _rows(4, 13))
    base, _ = vera_ebm_loss(*args, x_lab=x_lab, y_lab=y_lab)
    with_entropy, stats = vera_ebm_loss(
        *args, x_lab=x_lab, y_lab=y_lab, unlabeled_entropy=0.7
    )
    with torch.no_grad():
        p = torch.softmax(net(x_data), 1)
    entropy = -(p * p.log()).sum(1).mean()
    torch.testing.assert_close(with_entropy - base, 0.7 * entropy)
    assert stats["entropy_y"] == pytest.approx(entropy.item(), rel=1e-5)


def test_vera_energy_loss_leaves_the_generator_alone(net):
    generator = GaussianGenerator(
        2, 3, (8,), "silu", (0.01, 0.3), 0.1, torch.Generator().manual_seed(0)
    )
    x_gen, _ = generator.sample(5, torch.Generator().manual_seed(1))
    loss, _ = vera_ebm_loss(net, _rows(5, 14), x_gen.detach(), grad_penalty=1.0)
    loss.backward()
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is not None for p in net.parameters())


# ----------------------------------------------------- virtual adversarial term
def test_vat_is_zero_for_a_classifier_that_ignores_its_input():
    class Constant(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.logits = torch.nn.Parameter(torch.tensor([[0.3, -1.0, 2.0]]))

        def forward(self, x):
            return self.logits.expand(len(x), -1)

    term = virtual_adversarial_loss(
        Constant(), _rows(6, 1), 0.5, torch.Generator().manual_seed(0)
    )
    assert term.item() == pytest.approx(0.0, abs=1e-7)


def test_vat_grows_with_the_radius_and_beats_a_random_direction():
    generator = torch.Generator().manual_seed(0)
    net = MLPEnergyNet(20, 4, (32,), "silu", generator)
    x = torch.randn((64, 20), generator=generator)
    small, large = (
        virtual_adversarial_loss(net, x, radius, generator).item()
        for radius in (0.1, 1.0)
    )
    assert 0 < small < large
    # The power iteration finds a direction that moves p(y | x) more than a
    # random one of the same norm.
    shift = torch.randn(x.shape, generator=generator)
    shift = shift / shift.norm(dim=1, keepdim=True)
    with torch.no_grad():
        target = F.softmax(net(x), 1)
        random = F.kl_div(
            F.log_softmax(net(x + shift), 1), target, reduction="batchmean"
        )
    assert large > 2 * random.item()


def test_vat_gradient_reaches_the_network_only(net):
    x = _rows(8, 1).requires_grad_(True)
    term = virtual_adversarial_loss(net, x, 0.5, torch.Generator().manual_seed(0))
    term.backward()
    assert all(p.grad is not None for p in net.parameters())
