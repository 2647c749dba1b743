"""Stochastic gradient Langevin dynamics (``sampler="sgld"``)."""

import math

import torch

from ._base import BaseSampler


class SGLD(BaseSampler):
    """``x <- x - step_size * grad E(x) + noise_scale * N(0, I)``.

    With ``noise_scale = sqrt(2 * step_size)`` this is the unadjusted Langevin
    algorithm, whose stationary law tends to ``exp(-E)`` as the step shrinks. JEM's
    published values (step 1, noise 0.01) are not that scaling: they sample a
    much colder, sharper distribution, which works as a training heuristic but is
    not Langevin dynamics.

    Parameters
    ----------
    step_size : float
        Multiplier of the energy gradient.
    noise_scale : float
        Standard deviation of the Gaussian noise added at each step.
    clip_grad : float or None
        If set, each chain's gradient is rescaled to at most this norm, which
        keeps a badly trained energy from throwing chains far away.
    """

    def __init__(self, step_size, noise_scale, clip_grad=None):
        self.step_size = step_size
        self.noise_scale = noise_scale
        self.clip_grad = clip_grad

    @classmethod
    def from_params(cls, params):
        """From ``step_size``, ``noise_scale`` ("auto": Langevin) and ``clip_grad``."""
        noise = params["noise_scale"]
        if noise == "auto":
            noise = math.sqrt(2 * params["step_size"])
        return cls(params["step_size"], noise, params["clip_grad"])

    def draw_noise(self, n_steps, x, generator):
        if self.noise_scale == 0:
            return None
        noise = torch.randn(
            (n_steps, *x.shape), generator=generator, device=x.device, dtype=x.dtype
        )
        return noise.mul_(self.noise_scale)

    def step(self, x, target, noise, generator):
        grad = target.grad(x)
        if self.clip_grad is not None:
            norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
            scale = (self.clip_grad / norm).clamp(max=1.0)
            grad = grad * scale.view(-1, *([1] * (grad.dim() - 1)))
        x = x.add(grad, alpha=-self.step_size)
        return x if noise is None else x.add_(noise)

    def shrink(self):
        """Halve the step; the noise follows, so Langevin's scaling is kept."""
        self.step_size *= 0.5
        self.noise_scale *= math.sqrt(0.5)
        return f"step_size -> {self.step_size:.3g}"
