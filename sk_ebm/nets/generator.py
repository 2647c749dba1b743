"""VERA's generator network: a Gaussian decoder with a learned output noise."""

import math

import torch
from torch import nn

from .mlp import MLPEnergyNet


class GaussianGenerator(nn.Module):
    """VERA's sampler network: ``x = g(h) + sigma * eps`` with ``h, eps ~ N(0, I)``.

    ``g`` is an MLP (or the module given as ``mean``, such as a
    :class:`~sk_ebm.nets.ConvDecoder` for images) applied row by row (no batch
    normalisation), so the mean of
    a latent is the same function whatever batch it is computed in: the
    importance weights of the entropy estimator compare ``g`` at the latent that
    made ``x`` with ``g`` at nearby latents, and batch statistics would make
    those two different functions.

    Parameters
    ----------
    latent_dim : int
        Width of ``h``.
    n_features : int
        Width of ``x``.
    hidden_dims : tuple of int
        Hidden widths of ``g``.
    activation : str
        A key of :data:`ACTIVATIONS`.
    sigma_bounds : tuple of float
        ``(low, high)``: the output noise ``sigma`` is kept in this interval.
    posterior_scale : float
        Initial standard deviation of the importance-sampling proposal around a
        latent (learned afterwards, one value per latent dimension).
    generator : torch.Generator or None
        Source of the initial weights.
    mean : torch.nn.Module or None, default=None
        ``g`` itself, mapping ``(n, latent_dim)`` latents to ``(n, n_features)``
        rows; None builds an MLP of ``hidden_dims`` and ``activation``.

    Attributes
    ----------
    log_sigma : nn.Parameter of shape ()
        Log of the output noise scale, trained with ``g``.
    log_posterior_scale : nn.Parameter of shape (latent_dim,)
        Log of the proposal scale, trained by its own optimizer (an ELBO).
    """

    def __init__(
        self,
        latent_dim,
        n_features,
        hidden_dims,
        activation,
        sigma_bounds,
        posterior_scale,
        generator,
        mean=None,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        if mean is None:
            mean = MLPEnergyNet(
                latent_dim, n_features, hidden_dims, activation, generator
            )
        self.mean = mean
        self.sigma_bounds = tuple(sigma_bounds)
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma_bounds[1])))
        self.log_posterior_scale = nn.Parameter(
            torch.full((latent_dim,), math.log(posterior_scale))
        )

    def generator_parameters(self):
        """Parameters of ``g`` and ``sigma``: what the generator loss trains."""
        return [*self.mean.parameters(), self.log_sigma]

    def forward(self, h):
        return self.mean(h)

    @property
    def sigma(self):
        return self.log_sigma.exp()

    def sample(self, n, generator):
        """Draw ``(x, h)``; ``x`` is differentiable in the generator's parameters.

        Parameters
        ----------
        n : int
            Number of rows.
        generator : torch.Generator
            Source of ``h`` and ``eps``.

        Returns
        -------
        x : torch.Tensor of shape (n, n_features)
        h : torch.Tensor of shape (n, latent_dim)
        """
        device = self.log_sigma.device
        h = torch.randn((n, self.latent_dim), generator=generator, device=device)
        mean = self.mean(h)
        eps = torch.randn(mean.shape, generator=generator, device=device)
        return mean + self.sigma * eps, h

    def log_joint(self, x, h):
        """``log q(x, h) = log N(x; g(h), sigma^2 I) + log N(h; 0, I)``, per row."""
        return _log_normal(x, self.mean(h), self.log_sigma) + _log_normal(
            h, torch.zeros_like(h), torch.zeros((), device=h.device)
        )

    @torch.no_grad()
    def clamp_sigma(self):
        """Put ``sigma`` back in ``sigma_bounds`` (after an optimizer step)."""
        low, high = self.sigma_bounds
        self.log_sigma.clamp_(math.log(low), math.log(high))


def _log_normal(x, mean, log_scale):
    """Sum over the last dimension of ``log N(x; mean, exp(log_scale)^2)``."""
    z = (x - mean) * torch.exp(-log_scale)
    per_dim = -0.5 * z**2 - log_scale - 0.5 * math.log(2 * math.pi)
    return per_dim.sum(-1)
