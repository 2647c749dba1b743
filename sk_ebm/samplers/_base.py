"""The loop every gradient-based sampler shares; a sampler only defines ``step``."""

import torch


class BaseSampler:
    """Run a Markov chain on an energy, one ``step`` at a time.

    Subclasses implement :meth:`step` (and :meth:`draw_noise` if they need
    noise, drawn for every step at once: one kernel instead of one per step). The
    loop computes the gradient of the
    energy with respect to the inputs only: callers run it inside
    :func:`sk_ebm.nets.frozen` so that no parameter gradient is built.
    """

    def step(self, x, grad, noise):
        """Return the next state from the state, its energy gradient and noise."""
        raise NotImplementedError

    def draw_noise(self, n_steps, x, generator):
        """Noise for ``n_steps`` steps from ``x``; indexable by step, or None."""
        return None

    def run(self, x0, energy_fn, n_steps, generator):
        """Run ``n_steps`` steps from ``x0``.

        Parameters
        ----------
        x0 : torch.Tensor of shape (n_chains, ...)
            Starting points (not modified).
        energy_fn : callable
            Maps a batch to its energies, shape (n_chains,).
        n_steps : int
            Number of steps.
        generator : torch.Generator
            Source of the noise.

        Returns
        -------
        x : torch.Tensor
            Final states, detached.
        stats : dict
            ``grad_norm``: mean norm over chains of the energy gradient at the
            last step.
        """
        x = x0.detach().clone()
        noise = self.draw_noise(n_steps, x, generator)
        grad = None
        for k in range(n_steps):
            grad = _energy_grad(energy_fn, x)
            x = self.step(x, grad, None if noise is None else noise[k])
        # Measured on the last step only: a norm per step would cost a device
        # synchronisation per step for a diagnostic.
        grad_norm = 0.0 if grad is None else float(grad.flatten(1).norm(dim=1).mean())
        return x, {"grad_norm": grad_norm}


def _energy_grad(energy_fn, x):
    x = x.requires_grad_(True)
    (grad,) = torch.autograd.grad(energy_fn(x).sum(), x)
    x.requires_grad_(False)
    return grad
