"""The protocol every training family follows, with its shared defaults."""

import torch

from .._training import LEARNING_RATE_CUT, scale_learning_rates
from ..objectives import virtual_adversarial_loss


class TrainingFamily:
    """One way to train an energy network: its state, its step, its remedy.

    An estimator builds one family object per fresh fit (a warm start
    continues the fitted one) and drives it through this protocol; neither the
    estimators nor the training loop know any family by name. A family:

    1. :meth:`configure` reads the estimator's parameters at every fit;
    2. :meth:`build` creates its state for a fresh fit (chains, a generator);
    3. :meth:`optimizers` and :meth:`step` train (the loop saves
       :meth:`modules` and :meth:`chains` with the network, and calls
       :meth:`remedy` after a divergence);
    4. :meth:`start_points`, :meth:`class_pool` and
       :attr:`default_sample_steps` serve ``sample()`` afterwards;
    5. :meth:`fitted_attributes` names the state the estimator exposes.

    Attributes
    ----------
    auto_alpha : dict
        The likelihood weight ``alpha="auto"`` takes, under ``"classifier"``
        and ``"density"``; ``"image classifier"`` and ``"image density"``,
        where present, take their place when ``input_shape`` is given
        (:meth:`auto_alpha_for`).
    auto_table_activation : str
        The hidden-layer activation an ``EnergyDensityEstimator`` with
        ``activation="auto"`` takes on tables (images take ``"silu"``).
    n_recoveries : int
        Recoveries from divergence so far; samplers built for ``sample()``
        are shrunk as often, so they match the fit's last sampler.
    """

    auto_alpha = {"classifier": 1.0, "density": 1.0}
    auto_table_activation = "silu"
    #: The sampler ``sampler="auto"`` takes, a key of
    #: :data:`sk_ebm.samplers.SAMPLERS`.
    default_sampler = "sgld"
    #: Whether the family trains a correction on ``base="kde"``; those that
    #: need a base of constant curvature say False, and ``base="auto"`` then
    #: takes a Gaussian.
    takes_kernel_base = True

    def __init__(self):
        self.n_recoveries = 0

    # ---------------------------------------------------------------- fitting
    def auto_alpha_for(self, model_kind, images):
        """The weight ``alpha="auto"`` takes.

        Parameters
        ----------
        model_kind : {"classifier", "density"}
            The estimator's key of :attr:`auto_alpha`.
        images : bool
            Whether the rows are images (``input_shape`` given): the key
            ``"image <model_kind>"`` then applies where the family has one.
        """
        own = self.auto_alpha[model_kind]
        return self.auto_alpha.get(f"image {model_kind}", own) if images else own

    def configure(self, params, sampler):
        """Read the estimator's parameters; called before every fit.

        Parameters
        ----------
        params : dict
            The estimator's parameters, with ``alpha`` resolved and the dict
            parameters' defaults filled in.
        sampler : BaseSampler
            The sampler built from those parameters (MCMC families use it).
        """
        self.params = params
        self.sampler = sampler
        self.learning_rate = params["learning_rate"]

    @property
    def base_noise_variance(self):
        """Variance the base Gaussian adds to the data's (``base="gaussian"``).

        0 for families that fit the data's density; a family that fits a
        noise-convolved density says by how much.
        """
        return 0.0

    def build(self, net, data, n_classes, generator, init_generator):
        """Create the family's state for a fresh fit.

        Parameters
        ----------
        net : torch.nn.Module
            The new energy network.
        data : TrainingData
            The training rows (``data.y`` is None for a density model).
        n_classes : int or None
            Number of classes; None for a density model.
        generator : torch.Generator
            For random draws (on the training device).
        init_generator : torch.Generator
            A CPU generator for initial weights of any network the family owns.
        """

    def optimizers(self, net):
        """New optimizers by name; the energy network's comes first.

        The default: Adam on the energy network at ``learning_rate``.
        """
        return {"energy": torch.optim.Adam(net.parameters(), lr=self.learning_rate)}

    def step(self, net, batch, optimizers, generator):
        """One training step on ``batch``; returns its statistics (floats).

        ``batch`` has ``x_data`` and ``w_data``, plus ``x_lab``, ``y_lab`` and
        ``w_lab`` for classifiers, and ``x_unlab`` when some rows are
        unlabeled, which a step takes out of ``batch`` for :meth:`add_consistency`.
        The statistics must include ``loss``; the loop checks ``loss``,
        ``e_data``/``e_sample`` and ``grad_norm`` for divergence.
        """
        raise NotImplementedError

    def add_consistency(self, loss, stats, net, x_unlab, generator):
        """``loss`` plus the weighted VAT term on the unlabeled rows ``x_unlab``.

        Unchanged when the fit has no unlabeled rows (``x_unlab`` None or
        empty), or ``unlabeled_vat`` or ``vat_radius`` is 0 or None (a density
        model's parameters have neither). Records the term in ``stats["vat"]``
        and the new total in ``stats["loss"]``.
        """
        weight = self.params.get("unlabeled_vat", 0.0)
        radius = self.params.get("vat_radius")
        if x_unlab is None or len(x_unlab) == 0 or not weight or not radius:
            return loss
        term = virtual_adversarial_loss(net, x_unlab, radius, generator)
        loss = loss + weight * term
        stats.update(vat=term.item(), loss=loss.item())
        return loss

    def modules(self):
        """Modules besides the network that the loop saves and restores."""
        return {}

    def chains(self):
        """An object whose tensor ``x`` the loop saves and restores, or None."""
        return None

    def remedy(self, optimizers):
        """Make training more careful after a divergence; describe what changed.

        The default cuts every learning rate by
        :data:`~sk_ebm._training.LEARNING_RATE_CUT` and shrinks the sampler.
        """
        self.n_recoveries += 1
        scale_learning_rates(optimizers.values(), LEARNING_RATE_CUT)
        self.learning_rate *= LEARNING_RATE_CUT
        done = [f"learning_rate -> {self.learning_rate:.3g}", self.sampler.shrink()]
        return ", ".join(part for part in done if part)

    # --------------------------------------------------------------- sampling
    def prepare_sampler(self, sampler):
        """Shrink a freshly built sampler as often as the fit's recoveries did."""
        for _ in range(self.n_recoveries):
            sampler.shrink()
        return sampler

    @property
    def default_sample_steps(self):
        """Sampler steps ``sample()`` takes when ``sample_steps`` is None."""
        raise NotImplementedError

    def start_points(self, n, generator):
        """``n`` starting points for ``sample()``, in the network's units."""
        raise NotImplementedError

    def class_pool(self, n, generator, advance):
        """A pool of about ``n`` model samples for class-conditional draws.

        ``advance(x0, n_steps)`` runs the sampler on the model's energy. The
        default: :meth:`start_points`, advanced as many steps as training
        chains took.
        """
        return advance(self.start_points(n, generator), self.default_sample_steps)

    def fitted_attributes(self):
        """The state the estimator exposes, as ``{attribute_name: value}``."""
        return {}

    def to(self, device):
        """Move the family's tensors and modules to ``device``; returns self."""
        return self
