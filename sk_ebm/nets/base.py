"""A base distribution under any energy network: tails that fall away from the data.

An energy network trained only where its samples or its data are can put high
density where no data was: an MLP's output grows at most linearly far from the
data, in any direction, so ``exp(-E)`` need not even be integrable.
:class:`BaseCorrectedNet` adds the log density of a Gaussian fitted to the
data and bounds the network's own contribution, so the model is the Gaussian
times a bounded correction: normalizable, and lower far from the data than
anywhere near it, whatever the training family.
"""

import math

import torch
from torch import nn

from ..likelihood import kernel_log_density


class _BoundedCorrection(nn.Module):
    """``logits = f - lse + bound * tanh(lse / bound) + log q(x)``.

    With ``f`` the wrapped network's logits and ``lse = logsumexp(f)``:

    * ``softmax(logits) = softmax(f)``: a classifier is unchanged;
    * the energy ``E(x) = -logsumexp(logits) = -log q(x) - bound * tanh(lse /
      bound)``: the base's energy plus a correction in ``(-bound, bound)``.

    So ``Z`` lies between ``exp(-bound)`` and ``exp(bound)``, and a point
    whose base log density is ``2 * bound`` below a training row's scores
    below it. Subclasses give the base: ``base_log_prob(x)`` and
    ``sample_base(n, generator)``; :meth:`correction_logits` is the rest.

    Parameters
    ----------
    inner : torch.nn.Module
        The energy network being corrected.
    bound : float
        Largest magnitude of the correction, in nats.
    """

    def __init__(self, inner, bound):
        super().__init__()
        self.inner = inner
        self.bound = float(bound)

    def forward(self, x):
        return self.correction_logits(x) + self.base_log_prob(x)[:, None]

    def correction_logits(self, x):
        """The logits without the base: ``log p(x, y) - log q(x)``, up to log Z.

        Importance weights of base draws, computed without evaluating the
        base (for a kernel base, the costly part).
        """
        f = self.inner(x)
        lse = torch.logsumexp(f, dim=1, keepdim=True)
        return f - lse + self.bound * torch.tanh(lse / self.bound)


class BaseCorrectedNet(_BoundedCorrection):
    """``logits = f - lse + bound * tanh(lse / bound) + log q(x)``, q a Gaussian.

    The bounded correction on a Gaussian base (``base="gaussian"``): with
    ``lse = logsumexp(f)``, class probabilities are ``f``'s, and the energy is
    the base's plus a correction in ``(-bound, bound)``, so ``Z`` lies between
    ``exp(-bound)`` and ``exp(bound)``.

    Parameters
    ----------
    inner : torch.nn.Module
        The energy network being corrected.
    mean : torch.Tensor of shape (n_features,)
        The base Gaussian's mean.
    scale_tril : torch.Tensor of shape (n_features, n_features)
        Lower-triangular Cholesky factor of its covariance.
    bound : float
        Largest magnitude of the correction, in nats.
    """

    def __init__(self, inner, mean, scale_tril, bound):
        super().__init__(inner, bound)
        self.register_buffer("base_mean", mean.detach().clone())
        self.register_buffer("base_scale_tril", scale_tril.detach().clone())

    def base_log_prob(self, x):
        """``log q(x)`` of each row under the base Gaussian."""
        centered = (x - self.base_mean).T
        white = torch.linalg.solve_triangular(
            self.base_scale_tril, centered, upper=False
        )
        log_det = torch.log(torch.diagonal(self.base_scale_tril)).sum()
        n_features = x.shape[1]
        return (
            -0.5 * (white**2).sum(0)
            - log_det
            - 0.5 * n_features * math.log(2 * math.pi)
        )

    def base_precision(self):
        """The base's precision matrix: the Hessian of its energy."""
        return torch.cholesky_inverse(self.base_scale_tril)

    def sample_base(self, n, generator):
        """``n`` draws from the base Gaussian."""
        z = _standard_normal(n, self.base_mean, generator)
        return self.base_mean + z @ self.base_scale_tril.T


class KernelCorrectedNet(_BoundedCorrection):
    """The bounded correction on a Gaussian kernel density (``base="kde"``).

    ``log q(x) = log sum_i w_i N(x; c_i, h^2 I)``: the model is a kernel
    density estimate times the network's bounded correction, so it is never
    far from the KDE, which ranks multimodal data better than one Gaussian.
    It has no constant base Hessian (``base_precision``), which the
    curvature-penalized score-matching families need.

    Parameters
    ----------
    inner : torch.nn.Module
        The energy network being corrected.
    bound : float
        Largest magnitude of the correction, in nats.
    centers : torch.Tensor of shape (n_centers, n_features)
        The kernels' centers.
    bandwidth : float
        The kernels' standard deviation ``h``.
    log_weights : torch.Tensor of shape (n_centers,)
        Log of the kernels' normalized weights.
    """

    def __init__(self, inner, bound, centers, bandwidth, log_weights):
        super().__init__(inner, bound)
        self.register_buffer("centers", centers.detach().clone())
        self.register_buffer("log_weights", log_weights.detach().clone())
        self.bandwidth = float(bandwidth)

    def base_log_prob(self, x):
        """``log q(x)`` of each row under the kernel density."""
        return kernel_log_density(x, self.centers, self.bandwidth, self.log_weights)

    def sample_base(self, n, generator):
        """``n`` draws from the kernel density: a center, plus kernel noise."""
        pick = torch.multinomial(
            self.log_weights.exp(), n, replacement=True, generator=generator
        )
        z = _standard_normal(n, self.centers, generator)
        return self.centers[pick] + self.bandwidth * z


def _standard_normal(n, like, generator):
    """``(n, like.shape[-1])`` N(0, 1) draws, with ``like``'s dtype and device."""
    return torch.randn(
        (n, like.shape[-1]), generator=generator, dtype=like.dtype, device=like.device
    )


def residual_energy(net, x, energies):
    """The network's own part of ``energies`` of ``x``: without the base's.

    Penalties on the energy (its square, its gradient) belong to this part:
    applied to the full energy, they would push the network to cancel the
    base. For a network without a base, the energies themselves.
    """
    base_log_prob = getattr(net, "base_log_prob", None)
    return energies if base_log_prob is None else energies + base_log_prob(x)
