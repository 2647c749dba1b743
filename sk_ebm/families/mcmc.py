"""Maximum likelihood with MCMC negatives: PCD (JEM's Algorithm 1) and short-run."""

from .._training import descend
from ..nets import energy_fn, frozen
from ..objectives import jem_loss
from ..samplers import FreshChains, ReplayBuffer, build_init
from ._base import TrainingFamily


class ShortRun(TrainingFamily):
    """Short-run MCMC: every chain starts afresh from the init distribution.

    Each step draws chains, advances them ``n_steps`` steps of the sampler on
    the frozen network, and takes one Adam step on
    :func:`~sk_ebm.objectives.jem_loss` (for a density model, its likelihood
    part alone).
    """

    #: Chosen by ``benchmarks/sweep.py`` (README, "Defaults").
    auto_alpha = {"classifier": 0.03, "density": 1.0}
    #: ReLU lets the correction carve the gaps between narrow modes that SiLU
    #: smooths over (benchmarks/README.md, "The activation of the density
    #: estimator").
    auto_table_activation = "relu"

    def configure(self, params, sampler):
        super().configure(params, sampler)
        self.n_steps = params["n_steps"]
        # Recoveries lengthen chains once, to twice their first length, so that
        # repeated recoveries stay affordable.
        self.longest = 2 * self.n_steps

    def build(self, net, data, n_classes, generator, init_generator):
        self.n_classes = n_classes
        self.init = build_init(self.params["init"], data.X, data.y, n_classes, net)
        self.source = self._chains(generator)

    def _chains(self, generator):
        return FreshChains(self.init)

    def step(self, net, batch, optimizers, generator):
        x0, slots = self.source.sample(len(batch["x_data"]), generator)
        with frozen(net):
            x_neg, sampler_stats = self.sampler.run(
                x0, energy_fn(net), self.n_steps, generator
            )
        self.source.update(slots, x_neg)
        x_unlab = batch.pop("x_unlab", None)
        loss, stats = jem_loss(
            net,
            x_neg=x_neg,
            alpha=self.params["alpha"],
            energy_reg=self.params["energy_reg"],
            **batch,
        )
        loss = self.add_consistency(loss, stats, net, x_unlab, generator)
        stats["grad_norm"] = descend(optimizers["energy"], loss, net)
        stats["sampler_grad_norm"] = sampler_stats["grad_norm"]
        return stats

    def remedy(self, optimizers):
        """Cut the learning rate, halve the sampler's step, lengthen chains.

        Halving the step and doubling the steps keeps the distance a chain
        travels (Langevin time ``n_steps * step_size``).
        """
        done = super().remedy(optimizers)
        self.n_steps = min(2 * self.n_steps, self.longest)
        return f"{done}, n_steps -> {self.n_steps}"

    @property
    def default_sample_steps(self):
        return self.n_steps

    def start_points(self, n, generator):
        return self.init.draw(n, generator)

    def fitted_attributes(self):
        return {"init_": self.init, "n_steps_": self.n_steps}

    def to(self, device):
        self.source.to(device)
        return self


class PCD(ShortRun):
    """Persistent contrastive divergence: chains live on in a replay buffer.

    JEM's Algorithm 1: each step draws chains from a buffer of
    ``buffer_size`` points, restarts a ``reinit_freq`` share of them from the
    init distribution, advances them and writes them back.
    """

    #: Tables: 0.05, the best worst-case rank over the semi-supervised, OOD
    #: and calibration tables of 2026-12-06 (benchmarks/README.md, "The
    #: likelihood weight of PCD on tables"), where 0.03 lost wine, breast
    #: cancer and letter. Images keep the sweep's 0.03: on Fashion-MNIST 0.05
    #: lost OOD AUROC.
    auto_alpha = {"classifier": 0.05, "image classifier": 0.03, "density": 1.0}

    def _chains(self, generator):
        return ReplayBuffer(
            self.init,
            self.params["buffer_size"],
            self.params["reinit_freq"],
            generator,
            self.n_classes,
        )

    def chains(self):
        return self.source

    def start_points(self, n, generator):
        return self.source.sample(n, generator)[0]

    def class_pool(self, n, generator, advance):
        """The buffer itself: its chains are the model's samples."""
        return self.source.x

    def fitted_attributes(self):
        return {**super().fitted_attributes(), "buffer_": self.source}
