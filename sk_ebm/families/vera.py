"""VERA: negatives from a generator trained with a variational entropy, no MCMC."""

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Interval

from .._dict_params import TABLES, DictKey
from .._training import LEARNING_RATE_CUT, descend, scale_learning_rates
from ..nets import NETWORKS, GaussianGenerator, energy, frozen
from ..objectives import entropy_score, posterior_scale_loss, vera_ebm_loss
from ..samplers import ImportanceResampledInit
from ._base import TrainingFamily

#: The share of negatives drawn from the resampled base, where
#: ``generator_params["base_negatives"]`` is None and chains start from the
#: base (benchmarks/README.md, "VERA's negatives from the model's base").
AUTO_BASE_NEGATIVES = 0.5

#: The keys of ``generator_params``: default and constraints. Defaults of None
#: are derived at fit, as the estimators' docstrings say.
GENERATOR_PARAMS = {
    "latent_dim": DictKey(None, [Interval(Integral, 1, None, closed="left"), None]),
    "hidden_dims": DictKey(None, [tuple, list, None]),
    "learning_rate": DictKey(None, [Interval(Real, 0, None, closed="neither"), None]),
    "posterior_learning_rate": DictKey(
        0.02, [Interval(Real, 0, None, closed="neither")]
    ),
    "n_posterior": DictKey(20, [Interval(Integral, 1, None, closed="left")]),
    "sigma_bounds": DictKey((0.01, 0.3), [tuple, list]),
    "posterior_scale": DictKey(0.1, [Interval(Real, 0, None, closed="neither")]),
    "base_negatives": DictKey(None, [Interval(Real, 0, 1, closed="both"), None]),
}

TABLES["generator_params"] = GENERATOR_PARAMS


class VERA(TrainingFamily):
    """Train the energy against a generator ``x = g(h) + sigma * eps`` (VERA).

    Each step: draw ``(x, h)`` from the generator; one step of the energy on
    :func:`~sk_ebm.objectives.vera_ebm_loss` with ``x`` as negatives (a share
    ``generator_params["base_negatives"]`` of them replaced by draws of the
    model's resampled base, :class:`~sk_ebm.samplers.ImportanceResampledInit`:
    they reach where the generator does not go); one step
    of the generator maximising ``mean(-E(x)) + entropy_weight * H(q)``, the
    entropy gradient coming from :func:`~sk_ebm.objectives.entropy_score`; one
    step of the proposal scale on its ELBO. Adam with betas (0, 0.9) for the
    energy and the generator, VERA's choice.
    """

    #: Chosen by ``benchmarks/sweep.py`` (README, "Defaults").
    auto_alpha = {"classifier": 0.1, "density": 1.0}

    def configure(self, params, sampler):
        super().configure(params, sampler)
        self.grad_penalty = params["grad_penalty"]

    def build(self, net, data, n_classes, generator, init_generator):
        # A network may say how its generator is built (the conv network: a
        # convolutional decoder); otherwise the generator's mean is an MLP.
        config = self.params["network_config"]
        network_class = NETWORKS[config["network"]]
        decoder = getattr(network_class, "decoder", None)
        default_widths = (
            None if decoder is None else network_class.decoder_widths(config)
        )
        self.generator_params = _generator_settings(
            self.params["generator_params"],
            data.X.shape[1],
            self.params["hidden_dims"],
            self.learning_rate,
            default_widths,
            base_init=self.params["init"] == "base",
        )
        settings = self.generator_params
        self.base_draws = None
        if settings["base_negatives"] > 0:
            # Raises a ValueError naming base= for a model without a base.
            self.base_draws = ImportanceResampledInit(net)
        activation = self.params["activation"]
        mean = None
        if decoder is not None:
            mean = decoder(
                settings["latent_dim"],
                config,
                settings["hidden_dims"],
                activation,
                init_generator,
            )
        self.generator = GaussianGenerator(
            settings["latent_dim"],
            data.X.shape[1],
            tuple(settings["hidden_dims"]),
            activation,
            settings["sigma_bounds"],
            settings["posterior_scale"],
            init_generator,
            mean=mean,
        ).to(data.X.device)

    def optimizers(self, net):
        betas = (0.0, 0.9)
        return {
            "energy": torch.optim.Adam(
                net.parameters(), lr=self.learning_rate, betas=betas
            ),
            "generator": torch.optim.Adam(
                self.generator.generator_parameters(),
                lr=self.generator_params["learning_rate"],
                betas=betas,
            ),
            "posterior": torch.optim.Adam(
                [self.generator.log_posterior_scale],
                lr=self.generator_params["posterior_learning_rate"],
            ),
        }

    def step(self, net, batch, optimizers, generator):
        x_gen, h = self.generator.sample(len(batch["x_data"]), generator)
        x_unlab = batch.pop("x_unlab", None)
        loss, stats = vera_ebm_loss(
            net,
            x_neg=self._negatives(x_gen.detach(), generator),
            alpha=self.params["alpha"],
            energy_reg=self.params["energy_reg"],
            grad_penalty=self.grad_penalty,
            unlabeled_entropy=self.params.get("unlabeled_entropy", 0.0),
            **batch,
        )
        loss = self.add_consistency(loss, stats, net, x_unlab, generator)
        stats["grad_norm"] = descend(optimizers["energy"], loss, net)
        stats.update(self._generator_step(net, x_gen, h, optimizers, generator))
        return stats

    def _negatives(self, x_gen, generator):
        """The generator's draws, a share of them replaced by resampled base draws."""
        n_base = round(self.generator_params["base_negatives"] * len(x_gen))
        if not n_base:
            return x_gen
        from_base = self.base_draws.draw(n_base, generator)
        return torch.cat([x_gen[: len(x_gen) - n_base], from_base])

    def _generator_step(self, net, x_gen, h, optimizers, generator):
        """Step the generator on ``-(mean log p(x) + entropy_weight * H)``, then s."""
        sampler_net = self.generator
        n_posterior = self.generator_params["n_posterior"]
        score = entropy_score(sampler_net, x_gen, h, n_posterior, generator)
        with frozen(net):
            log_p = -energy(net(x_gen)).mean()
        entropy = (score * x_gen).sum(1).mean()
        weight = self.params["entropy_weight"]
        descend(optimizers["generator"], -(log_p + weight * entropy))
        sampler_net.clamp_sigma()
        # Only the proposal scale learns from its ELBO: grad, not backward, so
        # the generator's own gradients are left alone.
        post_loss = posterior_scale_loss(sampler_net, x_gen, h, generator)
        (grad,) = torch.autograd.grad(post_loss, sampler_net.log_posterior_scale)
        sampler_net.log_posterior_scale.grad = grad
        optimizers["posterior"].step()
        return {"entropy": entropy.item(), "sigma": sampler_net.sigma.item()}

    def modules(self):
        return {"generator": self.generator}

    def remedy(self, optimizers):
        """Cut both learning rates, double the gradient penalty (at least 0.1)."""
        self.n_recoveries += 1
        scale_learning_rates(
            [optimizers["energy"], optimizers["generator"]], LEARNING_RATE_CUT
        )
        self.learning_rate *= LEARNING_RATE_CUT
        self.grad_penalty = max(2 * self.grad_penalty, 0.1)
        return (
            f"learning_rate -> {self.learning_rate:.3g}, "
            f"grad_penalty -> {self.grad_penalty:.3g}"
        )

    def prepare_sampler(self, sampler):
        # The generator's samples need no shrunk sampler: recoveries here
        # changed the energy's training, not a sampler.
        return sampler

    @property
    def default_sample_steps(self):
        # The generator's output is the sample.
        return 0

    def start_points(self, n, generator):
        with torch.no_grad():
            return self.generator.sample(n, generator)[0]

    def class_pool(self, n, generator, advance):
        """Generator samples, not refined: they are the model's samples."""
        return self.start_points(n, generator)

    def fitted_attributes(self):
        return {
            "generator_": self.generator,
            "generator_params_": self.generator_params,
        }

    def to(self, device):
        self.generator.to(device)
        return self


def _generator_settings(
    params, n_features, hidden_dims, learning_rate, default_widths=None, base_init=False
):
    """``generator_params`` with the defaults derived from the data filled in.

    ``default_widths``: the network's choice of ``hidden_dims``, if it has one;
    ``base_init``: whether chains start from the model's resampled base, which
    then also gives ``AUTO_BASE_NEGATIVES`` of the negatives.
    """
    settings = dict(params)
    if settings["base_negatives"] is None:
        settings["base_negatives"] = AUTO_BASE_NEGATIVES if base_init else 0.0
    if settings["latent_dim"] is None:
        settings["latent_dim"] = min(n_features, 64)
    if settings["hidden_dims"] is None and default_widths is not None:
        settings["hidden_dims"] = tuple(default_widths)
    if settings["hidden_dims"] is None:
        # Measured on digits SSL: half-width generators matched full-width ones
        # in accuracy at about 60% of the training time (the importance-sampled
        # entropy estimate runs the generator on 20 latents per row).
        settings["hidden_dims"] = tuple(max(16, d // 2) for d in hidden_dims)
    if settings["learning_rate"] is None:
        settings["learning_rate"] = learning_rate
    dims = settings["hidden_dims"]
    if not all(isinstance(d, Integral) and d >= 1 for d in dims):
        raise ValueError(
            f"generator_params['hidden_dims'] must be positive ints; got {dims!r}."
        )
    low, high = settings["sigma_bounds"]
    if not 0 < low <= high:
        raise ValueError(
            "generator_params['sigma_bounds'] must be (low, high) with "
            f"0 < low <= high; got {settings['sigma_bounds']!r}."
        )
    return settings
