"""Annealed Langevin dynamics over noise scales, for energies fitted by denoising."""

import math

import torch

from ._base import BaseSampler, EnergyTarget, _finish, _start


class AnnealedLangevin(BaseSampler):
    """Langevin dynamics whose step shrinks with the noise scale (Song and Ermon 2019).

    For each scale ``sigma_i``, from the largest to the smallest, ``n_steps``
    steps of ``x <- x - (alpha_i / 2) * grad E(x) + sqrt(alpha_i) * N(0, I)``
    with ``alpha_i = step_size * sigma_i^2 / sigma_L^2``, ``sigma_L`` the
    smallest scale (their Algorithm 1). Each step is correctly scaled Langevin
    (noise variance twice the gradient step), so at a fixed scale the chain
    tends to ``exp(-E)`` as the step shrinks.

    Parameters
    ----------
    sigmas : sequence of float or torch.Tensor of shape (n_scales,)
        Noise scales the energy was trained on (see
        :func:`sk_ebm.score_matching.denoising_score_matching_loss`); visited
        from the largest to the smallest whatever their order.
    step_size : float
        ``eps``, the step at the smallest scale. Song and Ermon use ``2e-5``
        with a smallest scale of 0.01, that is ``eps = 0.2 * sigma_L^2``.
    clip_grad : float or None, default=None
        If set, each chain's energy gradient is rescaled to at most this norm.

    Notes
    -----
    The package's energies are noise-unconditional: one ``E(x)`` serves every
    scale. Annealing then changes only the step size, not the target: large
    early steps move chains between modes, small late steps lower the
    discretisation bias, and the chains end near ``exp(-E)``, which after
    denoising score matching is the data density blurred by the noise scales.
    For the same reason the large early steps can be unstable: Langevin with
    step ``alpha`` diverges where the curvature of ``E`` exceeds about
    ``4 / alpha``, and a shared energy can be as sharp as the smallest scale
    makes it. Keep ``step_size * sigma_1^2 / sigma_L^2`` below the squared
    width of the narrowest mode, or set ``clip_grad`` so that a too-large step
    moves chains a bounded distance.

    References
    ----------
    Y. Song and S. Ermon, "Generative modeling by estimating gradients of the
    data distribution", NeurIPS 2019.

    Examples
    --------
    >>> import torch
    >>> sampler = AnnealedLangevin([1.0, 0.3, 0.1], step_size=0.01)
    >>> g = torch.Generator().manual_seed(0)
    >>> x0 = 3 * torch.randn(500, 2, generator=g)
    >>> x, stats = sampler.run(x0, lambda x: 0.5 * (x**2).sum(1), 100, g)
    >>> round(float(x.std()), 1)  # standard normal target
    1.0
    """

    def __init__(self, sigmas, step_size, clip_grad=None):
        self.sigmas = sigmas
        self.step_size = step_size
        self.clip_grad = clip_grad

    @classmethod
    def from_params(cls, params):
        """From ``score_params["noise_scales"]``, ``step_size`` and ``clip_grad``."""
        return cls(
            params["score_params"]["noise_scales"],
            params["step_size"],
            params["clip_grad"],
        )

    def shrink(self):
        """Halve the step at every scale."""
        self.step_size *= 0.5
        return f"step_size -> {self.step_size:.3g}"

    def run(
        self,
        x0,
        energy_fn,
        n_steps,
        generator,
        *,
        create_graph=False,
        shared_noise=False,
    ):
        """Run ``n_steps`` steps at each noise scale from ``x0``.

        Parameters
        ----------
        x0 : torch.Tensor of shape (n_chains, ...)
            Starting points (not modified), usually broad: the largest scale
            around the data, or a base distribution.
        energy_fn : callable
            Maps a batch to its energies, shape (n_chains,). Run it inside
            :func:`sk_ebm.nets.frozen`: only input gradients are taken.
        n_steps : int
            Steps per noise scale.
        generator : torch.Generator
            Source of the noise.
        create_graph : bool, default=False
            Keep the graph back to ``x0`` (see :meth:`BaseSampler.run`).
        shared_noise : bool, default=False
            One chain's noise added to every chain (see
            :meth:`BaseSampler.run`).

        Returns
        -------
        x : torch.Tensor
            Final states, detached unless ``create_graph``.
        stats : dict
            ``grad_norm``: mean norm over chains of the energy gradient at the
            last step.
        """
        sigmas = torch.as_tensor(self.sigmas, dtype=torch.float64).reshape(-1)
        sigmas = sigmas.sort(descending=True).values.tolist()
        x = _start(x0, create_graph)
        target = EnergyTarget(energy_fn, create_graph=create_graph)
        grad = None
        shape = x[:1].shape if shared_noise else x.shape
        for sigma in sigmas:
            alpha = self.step_size * (sigma / sigmas[-1]) ** 2
            noise = torch.randn(
                (n_steps, *shape), generator=generator, device=x.device, dtype=x.dtype
            )
            for k in range(n_steps):
                grad = target.grad(x)
                x = x.add(self._clipped(grad), alpha=-alpha / 2)
                x.add_(noise[k], alpha=math.sqrt(alpha))
        return _finish(x, grad, create_graph)

    def _clipped(self, grad):
        if self.clip_grad is None:
            return grad
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12)
        scale = (self.clip_grad / norm).clamp(max=1.0)
        return grad * scale.view(-1, *([1] * (grad.dim() - 1)))
