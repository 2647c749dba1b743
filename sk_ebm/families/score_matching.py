"""Score matching: train the energy's gradient, no sampling during training.

Three families, ``"sm"`` (exact, Hyvarinen), ``"ssm"`` (sliced) and ``"dsm"``
(denoising), share one step: a score-matching loss on the data rows (the
``p(x)`` term, weighted by ``alpha``), the squared-energy penalty
(``energy_reg``, when positive) that pins the energy's free constant, and for
classifiers the cross-entropy of the labeled rows. They differ only in the
loss, from :mod:`sk_ebm.score_matching`.

The trade-off against the MCMC and VERA families: score matching is efficient
and stable, but it fits the energy only where the data (or, for ``"dsm"``, the
data plus noise) are; far from them the energy is whatever the network
extrapolates, so scores far from the data are not learned.
"""

from numbers import Integral, Real

from sklearn.utils._param_validation import Interval

from .._dict_params import TABLES, DictKey
from .._training import descend
from ..nets import energy, energy_fn, residual_energy
from ..objectives import cross_entropy_terms, weighted_mean
from ..samplers import build_init
from ..score_matching import (
    MAX_EXACT_FEATURES,
    denoising_score_matching_loss,
    exact_score_matching_loss,
    sliced_score_matching_loss,
)
from ._base import TrainingFamily

#: The keys of ``score_params``: default and constraints.
SCORE_PARAMS = {
    "noise_scales": DictKey((1.0, 0.3, 0.1), [tuple, list]),
    "n_projections": DictKey(1, [Interval(Integral, 1, None, closed="left")]),
    "curvature_penalty": DictKey(0.1, [Interval(Real, 0, None, closed="left")]),
}
TABLES["score_params"] = SCORE_PARAMS

#: Activations whose second derivative vanishes: the exact and sliced losses
#: need the Hessian of the energy, which they make zero almost everywhere.
_PIECEWISE_LINEAR = {"relu", "leaky_relu"}

#: sample() steps per chain when ``sample_steps`` is None, as a multiple of
#: ``n_steps``: no training chain sets a length, and chains from the init
#: distribution need more steps than a persistent chain's continuation.
_SAMPLE_STEPS_FACTOR = 10


class _ScoreMatching(TrainingFamily):
    """What the three score-matching families share; subclasses set the loss."""

    #: Measured on digits with 10 labels per class (seed 0, 100 epochs): alpha
    #: 0.03 / 0.1 / 1 gave 92.7 / 91.3 / 89.3 % with "dsm" and 92.0 / 89.1 /
    #: 84.4 % with "ssm". One seed, not yet a sweep.
    auto_alpha = {"classifier": 0.03, "density": 1.0}

    def build(self, net, data, n_classes, generator, init_generator):
        self.init = build_init(self.params["init"], data.X, data.y, n_classes, net)

    def score_loss(self, energy_of, x, weight, generator):
        """``(loss, stats)`` of the family's score-matching loss."""
        raise NotImplementedError

    def step(self, net, batch, optimizers, generator):
        x = batch["x_data"]
        weight = batch["w_data"]
        score_loss, score_stats = self.score_loss(energy_fn(net), x, weight, generator)
        logits_data = net(x)
        e_data = energy(logits_data)
        residual = residual_energy(net, x, e_data)
        loss = self.params["alpha"] * score_loss + self.params[
            "energy_reg"
        ] * weighted_mean(residual**2, weight)
        stats = {
            "score_loss": score_stats["loss"],
            "e_data": weighted_mean(e_data, weight).item(),
        }
        if batch.get("x_lab") is not None:
            x_lab = batch["x_lab"]
            logits_lab = logits_data if x_lab is x else net(x_lab)
            ce, ce_stats = cross_entropy_terms(
                logits_lab, batch["y_lab"], batch["w_lab"]
            )
            loss = loss + ce
            stats.update(ce_stats)
        stats["loss"] = loss.item()
        loss = self.add_consistency(loss, stats, net, batch.get("x_unlab"), generator)
        stats["grad_norm"] = descend(optimizers["energy"], loss, net)
        return stats

    @property
    def default_sample_steps(self):
        return _SAMPLE_STEPS_FACTOR * self.params["n_steps"]

    def start_points(self, n, generator):
        return self.init.draw(n, generator)

    def fitted_attributes(self):
        return {"init_": self.init}

    def to(self, device):
        self.init.to(device)
        return self


class _NeedsHessian(_ScoreMatching):
    """Exact and sliced score matching: second derivatives of the energy."""

    takes_kernel_base = False

    def build(self, net, data, n_classes, generator, init_generator):
        # The curvature penalty is on what the network adds to a base's.
        base_precision = getattr(net, "base_precision", None)
        if base_precision is None and hasattr(net, "base_log_prob"):
            # A base whose curvature varies (base="kde") would fall under the
            # penalty meant for the network's part alone.
            raise ValueError(
                f"training={self.params['training']!r} penalizes the curvature "
                "the network adds to a Gaussian base; it does not take base='kde'. "
                "Use base='gaussian', or training='dsm', 'pcd', 'short_run' or "
                "'vera'."
            )
        self.fixed_hessian = None if base_precision is None else base_precision()
        if self.params["activation"] in _PIECEWISE_LINEAR:
            raise ValueError(
                f"training={self.params['training']!r} needs the second "
                "derivatives of the energy, which are zero almost everywhere "
                f"with activation={self.params['activation']!r}; use 'silu', "
                "'elu', 'tanh' or 'softplus', or training='dsm'."
            )
        super().build(net, data, n_classes, generator, init_generator)


class ExactScoreMatching(_NeedsHessian):
    """``training="sm"``: Hyvarinen's score matching, exact Hessian trace.

    One extra backward pass per feature: refused above
    :data:`~sk_ebm.score_matching.MAX_EXACT_FEATURES` features.
    """

    def build(self, net, data, n_classes, generator, init_generator):
        n_features = data.X.shape[1]
        if n_features > MAX_EXACT_FEATURES:
            raise ValueError(
                f"training='sm' computes the exact Hessian trace, one backward "
                f"pass per feature, and accepts at most {MAX_EXACT_FEATURES} "
                f"features; X has {n_features}. Use training='ssm' (sliced) or "
                "'dsm' (denoising), whose cost does not grow with the features."
            )
        super().build(net, data, n_classes, generator, init_generator)

    def score_loss(self, energy_of, x, weight, generator):
        return exact_score_matching_loss(
            energy_of,
            x,
            weight=weight,
            curvature_penalty=self.params["score_params"]["curvature_penalty"],
            fixed_hessian=self.fixed_hessian,
        )


class SlicedScoreMatching(_NeedsHessian):
    """``training="ssm"``: sliced score matching, ``score_params["n_projections"]``
    Hessian-vector products per step, whatever the number of features."""

    def score_loss(self, energy_of, x, weight, generator):
        return sliced_score_matching_loss(
            energy_of,
            x,
            generator,
            n_projections=self.params["score_params"]["n_projections"],
            weight=weight,
            curvature_penalty=self.params["score_params"]["curvature_penalty"],
            fixed_hessian=self.fixed_hessian,
        )


class DenoisingScoreMatching(_ScoreMatching):
    """``training="dsm"``: denoising score matching over ``score_params
    ["noise_scales"]``; :meth:`sample` runs annealed Langevin over them."""

    default_sampler = "annealed_langevin"

    def build(self, net, data, n_classes, generator, init_generator):
        scales = self.params["score_params"]["noise_scales"]
        if not scales or not all(isinstance(s, Real) and s > 0 for s in scales):
            raise ValueError(
                "score_params['noise_scales'] must be positive numbers; got "
                f"{scales!r}."
            )
        super().build(net, data, n_classes, generator, init_generator)

    def score_loss(self, energy_of, x, weight, generator):
        return denoising_score_matching_loss(
            energy_of,
            x,
            self.params["score_params"]["noise_scales"],
            generator,
            weight=weight,
        )

    @property
    def default_sample_steps(self):
        # Annealed Langevin takes this many steps at each noise scale.
        return self.params["n_steps"]

    @property
    def base_noise_variance(self):
        # What is fitted is the data convolved with the noise, whose variance
        # is at least the smallest scale's in every direction: a base without
        # it has scores the network cannot cancel along near-constant
        # features (losses of 1e6 were measured).
        return min(self.params["score_params"]["noise_scales"]) ** 2
