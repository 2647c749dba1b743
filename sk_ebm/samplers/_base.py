"""The loop every gradient-based sampler shares; a sampler only defines ``step``."""

import torch


class EnergyTarget:
    """The distribution ``exp(-E)`` a chain targets, as a sampler step sees it.

    Gives a step the energy and its gradient at any point, so that samplers
    that need energies (Metropolis-adjusted ones) and samplers that need only
    gradients (SGLD) share one loop. Gradients are taken with respect to the
    inputs only: callers run samplers inside :func:`sk_ebm.nets.frozen`.

    Parameters
    ----------
    energy_fn : callable
        Maps a batch to its energies, shape (n_chains,).
    create_graph : bool, default=False
        Keep the graph of each gradient, so that a chain's end point can be
        differentiated with respect to its start (an attack through
        refinement). False detaches everything, as chains for training need.

    Attributes
    ----------
    last_grad : torch.Tensor or None
        The last gradient computed, for diagnostics.
    """

    def __init__(self, energy_fn, create_graph=False):
        self.energy_fn = energy_fn
        self.create_graph = create_graph
        self.last_grad = None

    def energy_and_grad(self, x):
        """``(E(x), grad_x E(x))`` for a batch, detached unless ``create_graph``."""
        if not (self.create_graph and x.requires_grad):
            x = x.detach().requires_grad_(True)
        with torch.enable_grad():
            energies = self.energy_fn(x)
            (grad,) = torch.autograd.grad(
                energies.sum(), x, create_graph=self.create_graph
            )
        self.last_grad = grad
        if self.create_graph:
            return energies, grad
        return energies.detach(), grad

    def grad(self, x):
        """``grad_x E(x)`` for a batch, detached."""
        return self.energy_and_grad(x)[1]

    def energy(self, x):
        """``E(x)`` for a batch, without a gradient."""
        with torch.no_grad():
            return self.energy_fn(x)


class BaseSampler:
    """Run a Markov chain on an energy, one ``step`` at a time.

    Subclasses implement :meth:`step` (and :meth:`draw_noise` if they need
    noise, drawn for every step at once: one kernel instead of one per step)
    and :meth:`from_params`; :meth:`shrink` is what a recovery from divergence
    asks of a sampler.
    """

    @classmethod
    def from_params(cls, params):
        """Build the sampler from the estimator's parameters (a dict).

        ``params`` holds the estimator's parameters, with ``sampler_params``'
        keys (defaults filled in) merged in.
        """
        raise NotImplementedError

    def step(self, x, target, noise, generator):
        """Return the next state of the chains.

        Parameters
        ----------
        x : torch.Tensor
            Current states.
        target : EnergyTarget
            Energies and gradients of the target.
        noise : torch.Tensor or None
            This step's slice of :meth:`draw_noise`.
        generator : torch.Generator
            For any further randomness (accept/reject draws).
        """
        raise NotImplementedError

    def draw_noise(self, n_steps, x, generator):
        """Noise for ``n_steps`` steps from ``x``; indexable by step, or None."""
        return None

    def shrink(self):
        """Make the sampler more careful after a divergence; describe it.

        Returns
        -------
        str
            What changed, for the fit's history (empty: nothing to shrink).
        """
        return ""

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
        create_graph : bool, default=False
            Return final states that keep the graph back to ``x0`` (when
            ``x0`` requires a gradient), through every step's energy gradient.
            Costs memory in proportion to ``n_steps``.
        shared_noise : bool, default=False
            Draw the noise of one chain and add it to every chain, so that a
            chain's path depends only on its start and the generator's seed,
            not on which other chains run beside it.

        Returns
        -------
        x : torch.Tensor
            Final states, detached unless ``create_graph``.
        stats : dict
            ``grad_norm``: mean norm over chains of the energy gradient at the
            last step.
        """
        x = _start(x0, create_graph)
        target = EnergyTarget(energy_fn, create_graph=create_graph)
        noise = self.draw_noise(n_steps, x[:1] if shared_noise else x, generator)
        for k in range(n_steps):
            x = self.step(x, target, None if noise is None else noise[k], generator)
        return _finish(x, target.last_grad, create_graph)


def _finish(x, last_grad, create_graph):
    """``run``'s result: the final states and the last step's gradient norm."""
    # Measured on the last step only: a norm per step would cost a device
    # synchronisation per step for a diagnostic.
    grad_norm = (
        0.0
        if last_grad is None
        else float(last_grad.detach().flatten(1).norm(dim=1).mean())
    )
    return (x if create_graph else x.detach()), {"grad_norm": grad_norm}


def _start(x0, create_graph):
    """The chains' first state: ``x0`` itself when a graph back to it is kept."""
    if create_graph and x0.requires_grad:
        return x0
    return x0.detach().clone()
