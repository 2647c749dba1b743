"""Energy-based density models and their scores as features.

EnergyDensityEstimator: an unconditional energy-based density and novelty model.
DensityScoreTransformer: any density model's ``score_samples`` as a feature.
"""

import math
from numbers import Real

import numpy as np
import torch
from sklearn.base import (
    BaseEstimator,
    MetaEstimatorMixin,
    OutlierMixin,
    TransformerMixin,
    _fit_context,
    clone,
)
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._base import (
    BASE_CORRECTION_BOUND,
    _BaseEnergyEstimator,
    _check_n_samples,
    _seed_from,
)
from .families import FAMILIES
from .likelihood import GaussianBase, KernelBase, annealed_importance_sampling
from .nets import ACTIVATIONS, BaseCorrectedNet, KernelCorrectedNet, energy, frozen
from .samplers import InitDistribution

# Draws of the importance-sampling estimate of log Z used by early stopping.
_N_PROPOSAL = 4096
# Rows of each side of the inverted-fit check after every epoch, and the
# epochs it waits before it starts.
_N_HEALTH_ROWS = 512
_HEALTH_GRACE_EPOCHS = 5


#: Training rows per nat of the density model's correction to its base: the
#: bound is ``clip(n_rows / DENSITY_ROWS_PER_NAT, 2, 20)``. Chosen by
#: ``benchmarks/density_sweep.py`` (results/density_sweep.md; PCD, seed 0) by
#: worst-case rank over the 11 novelty sets, the 2-D toys and digits 0-4
#: against 5-9: 4.5 of 6 settings, against 5 and 6 for fixed bounds of 5 and 20
#: (20 was the default). On the small novelty sets (65 to 250 training rows) a
#: bound near 2 wins by up to 30 points (mammographic: 72.3 at 5.3, 42.8 at
#: 20); satimage (2904 rows: 71.1 at 20, 45.2 at 5), the ring and digits (675
#: rows: 92.0 at 2, 95.6 at 16.9, 95.7 at 20) need room to reshape the
#: Gaussian. Novelty mean 85.5 (80.5 with 20). Magic and optdigits, with
#: 953 and 2533 rows, would rather have 5 (84.9 and 86.1 against 77.9 and
#: 81.9): no rule of the row count alone wins everywhere.
DENSITY_ROWS_PER_NAT = 40.0

#: Fewest rows with which ``early_stopping="auto"`` holds some out: with
#: ``validation_fraction=0.1``, fewer would leave under 5 rows to rank epochs by.
MIN_ROWS_EARLY_STOPPING = 50

#: Fewest training rows per feature with which ``base="auto"`` takes the kernel
#: base for a table; fewer get the Gaussian. A kernel density needs many rows
#: per dimension, a Gaussian few. Set with breast cancer and wine in view (5.9
#: and 5.0 rows per feature; with early stopping, Gaussian base against kernel,
#: PCD, seeds 0-4: 95.7 against 93.8 and 98.0 against 95.1), it also moves
#: ionosphere (3.4 rows per feature: 96.1 against 97.3) and the held-out sonar
#: (0.9: 64.8 against 65.4); README, density section.
MIN_ROWS_PER_FEATURE_KERNEL_BASE = 10

#: Most features for which the default chains of a table start from the
#: model's resampled base (``sampler_params["init"]="base"``); wider tables
#: start from ``"diag_gaussian"``. Importance weights degenerate as the
#: dimension grows (each point becomes the best of its candidates, not a draw
#: of the model). Measured with PCD (README, "Chains that start from the
#: model"): gains at 2 to 10 features (8 Gaussians 0.926 against 0.910,
#: magic +2.4, mammographic +2.9), a tie at 57 (spambase), losses at 64
#: (digits 0-4 against 5-9: 94.2 against 96.0; optdigits 95.8 against 97.6).
MAX_FEATURES_BASE_INIT = 32

#: The training share ``contamination="auto"`` leaves below ``offset_``.
_AUTO_CONTAMINATION = 0.01


class EnergyDensityEstimator(OutlierMixin, _BaseEnergyEstimator):
    """Unconditional energy-based model of ``p(x)``, with a novelty-detector API.

    A network with one output ``f(x)`` defines ``p(x)`` proportional to
    ``exp(f(x))`` (energy ``E(x) = -f(x)``), trained by maximum likelihood with
    SGLD negatives. It answers like :class:`~sklearn.neighbors.KernelDensity`
    (``score_samples``, ``score``, ``sample``) and like
    :class:`~sklearn.ensemble.IsolationForest` (``decision_function``,
    ``predict`` in {+1, -1}, ``contamination``).

    Parameters
    ----------
    training : str, default="pcd"
        The training family, a key of :data:`sk_ebm.families.FAMILIES`.
        ``"pcd"``: persistent SGLD chains in a replay buffer (JEM's Algorithm 1).
        ``"short_run"``: every chain starts afresh from the init distribution.
        ``"vera"``: no MCMC; a generator network trained alongside the energy
        with a variational entropy estimate supplies the samples (VERA [2]_).
        Score matching, no sampling during training: ``"sm"`` (exact, at most
        64 features), ``"ssm"`` (sliced) and ``"dsm"`` (denoising). It is
        efficient and stable but fits the energy only near the data, so
        scores far from the data are extrapolated, not learned.
    network : str, default="auto"
        The energy network, a key of :data:`sk_ebm.nets.NETWORKS`, or
        ``"auto"``: ``"conv"`` when ``input_shape`` is given, else ``"mlp"``.
        ``"mlp"``: a multi-layer perceptron of ``hidden_dims`` and
        ``activation`` (images as flat rows). ``"conv"``: a convolutional
        network of ``channels`` and ``activation`` over images of
        ``input_shape`` (:class:`sk_ebm.nets.ConvEnergyNet`).
    input_shape : tuple of int, default=None
        ``(channels, height, width)``, or ``(height, width)`` for one channel,
        of the image each row of ``X`` holds, flattened in C order
        (``images.reshape(n_images, -1)``), so that images pass through
        pipelines as ordinary rows; it must hold as many values as ``X`` has
        features. With it, ``standardize`` maps all pixels to [-1, 1] by their
        common range, each training batch gets Gaussian noise of standard
        deviation 0.03 in those units (JEM's), and :meth:`sample` clips to the
        pixel range of the training images. One entry may be -1, inferred from
        the number of features as in numpy's ``reshape``. None: ``X`` is a
        table.
    sampler : str, default="auto"
        The MCMC sampler of training chains and of :meth:`sample`, a key of
        :data:`sk_ebm.samplers.SAMPLERS`, or ``"auto"``: the training family's
        choice (``"annealed_langevin"`` for ``"dsm"``, ``"sgld"`` otherwise).
        ``"sgld"``: stochastic gradient Langevin dynamics with ``step_size``
        and ``noise_scale``. ``"annealed_langevin"``: Langevin steps annealed
        over ``score_params["noise_scales"]``, ``step_size`` at the smallest.
    hidden_dims : tuple of int, default=(256, 256)
        Widths of the hidden layers of the MLP (``network="mlp"``); at least
        one layer (without one, the energy is linear and defines no density).
    channels : tuple of int, default=(16, 32, 64, 128)
        ``network="conv"`` only: output channels of each 3x3 convolution, the
        first at full resolution, each later one with stride 2 (halving the
        image's height and width); the mean over positions then feeds a
        linear layer to the outputs.
    activation : {"auto", "silu", "relu", "leaky_relu", "elu", "tanh", \
            "softplus"}, default="auto"
        Hidden-layer activation. ``"auto"``: on tables, ``"relu"`` for
        ``training="pcd"`` and ``"short_run"``, whose corrections it lets
        separate narrow modes (8 Gaussians, novelty suite: README), and
        ``"silu"`` for the other families (VERA lost with ReLU; score matching
        needs second derivatives) and for images. The fitted choice is in
        ``network_config_["activation"]``.
    max_iter : int, default=100
        Number of epochs (passes over all rows).
    batch_size : int, default=64
        Rows per step; also the number of chains advanced per step.
    learning_rate : float, default=1e-3
        Adam's step size.
    n_steps : int, default=20
        Sampler steps per training step (``"pcd"`` and ``"short_run"``).
    step_size : float, default=0.001
        SGLD step size: the multiplier of the energy gradient.
    noise_scale : float or "auto", default="auto"
        Standard deviation of the SGLD noise. ``"auto"`` is
        ``sqrt(2 * step_size)``, the correctly scaled Langevin dynamics. JEM's
        published sampler, ``step_size=1.0, noise_scale=0.01``, is a much
        colder, non-Langevin heuristic.
    buffer_size : int, default=10000
        Number of persistent chains (``training="pcd"`` only).
    reinit_freq : float, default=0.05
        Fraction of chains restarted from the init distribution at each draw
        (``training="pcd"`` only).
    sampler_params : dict, default=None
        Extra sampler settings. ``"init"``: where chains start, one of
        ``"uniform"``, ``"diag_gaussian"`` (N(0, I) on standardized inputs),
        ``"data_gaussian"`` (a full-covariance Gaussian fitted to all rows),
        ``"class_gaussian"`` (one Gaussian per class, fitted to the labeled
        rows; classifiers only) or ``"base"`` (the model itself,
        approximately: draws from its ``base`` resampled by the network's
        correction, :class:`sk_ebm.samplers.ImportanceResampledInit`; needs a
        ``base``); default None, the estimator's choice (see Notes).
        ``"clip_grad"``: a float to clip each chain's energy gradient to,
        default None. ``"sample_steps"``: sampler steps taken by
        :meth:`sample`, default None (the training chains' length; 0 for
        ``training="vera"``). Read again by every call of :meth:`sample`.
    generator_params : dict, default=None
        Extras of ``training="vera"``. ``"latent_dim"``: width of the
        generator's Gaussian input, default None (``min(n_features, 64)``).
        ``"hidden_dims"``: of the generator's MLP, default None
        (``hidden_dims`` with each width halved, at least 16); with
        ``network="conv"``, the channels of a convolutional decoder
        (:class:`sk_ebm.nets.ConvDecoder`), by default ``channels`` reversed
        and halved, at least 16.
        ``"learning_rate"``: the generator's Adam, default None
        (``learning_rate``). ``"posterior_learning_rate"``: default 0.02.
        ``"n_posterior"``: importance samples of the entropy estimator, default
        20. ``"sigma_bounds"``: the generator's output noise is kept in this
        interval of standardized units, default (0.01, 0.3).
        ``"posterior_scale"``: initial proposal scale, default 0.1.
        ``"base_negatives"``: the share of the energy's negatives drawn from
        the model itself, its base resampled as for ``sampler_params`` init
        ``"base"``, instead of from the generator: they reach where the
        generator does not go; default None (0.5 where chains start from
        the base, else 0); more than 0 needs a ``base``.
    score_params : dict, default=None
        Extras of the score-matching families. ``"noise_scales"``: the noise
        standard deviations of ``training="dsm"``, in standardized units, one
        drawn per row (several give a multi-scale fit; :meth:`sample` then
        anneals over them), default (1.0, 0.3, 0.1). ``"n_projections"``:
        random projections per row of ``training="ssm"``, default 1.
        ``"curvature_penalty"``: weight of the squared curvature of the energy
        in ``"sm"`` and ``"ssm"``, which keeps a flexible network from
        spiking at each training row (the loss is unbounded below without
        it), default 0.1.
    base : {"auto", "gaussian", "kde"} or None, default="auto"
        The distribution the network corrects. ``"gaussian"``: the model is a
        Gaussian fitted to the training rows times ``exp`` of the network's
        correction, bounded either way by ``clip(n_rows / 40, 2, 20)`` nats,
        so that few rows cannot reshape the Gaussian far
        (:class:`sk_ebm.nets.BaseCorrectedNet`; the fitted bound is
        ``net_.bound``): normalizable, and lower far from the data, in every
        direction, than at any training row, whatever the training family;
        chains start near the data. ``"kde"``: the same with a Gaussian kernel
        density of the training rows instead of the Gaussian (Scott's
        bandwidth in the network's units; centered on the training rows, a
        random 5,000 of larger sets; :class:`sk_ebm.nets.KernelCorrectedNet`):
        for multimodal data, at the cost of one distance per center in every
        energy evaluation (PCD fits about twice as long); not with
        ``training="sm"`` or ``"ssm"``, whose curvature penalty needs a
        Gaussian base. ``"auto"``: ``"kde"`` for tables of at least 10 rows
        per feature (``MIN_ROWS_PER_FEATURE_KERNEL_BASE``), ``"gaussian"``
        for fewer rows (a kernel density needs many rows per dimension), for
        images (``input_shape``, where the kernel base is not measured) and
        for ``training="sm"`` or ``"ssm"``; the fitted choice is ``base_``.
        None: the network alone, whose density can stay high where no data
        was (its ``log Z`` may then not exist). The README's density section
        has the measurements behind ``"auto"``.
    alpha : float or "auto", default=1.0
        Weight of the likelihood term. ``"auto"`` takes the training family's
        weight for density models (``auto_alpha["density"]``); the fitted
        value is ``alpha_``.
    energy_reg : float, default=0.0
        Weight of the penalty on squared energies of data and samples (the
        network's part, without the base's), which keeps them from drifting.
        The base's bound already keeps them from drifting far, and the
        penalty cost held-out likelihood on the 2-D ring, so the default is
        none.
    grad_penalty : float, default=0.1
        ``training="vera"`` only: weight of ``mean ||grad_x E(x)||^2 / 2`` on
        data rows (VERA's ``gamma``), inside the likelihood term. It keeps the
        energy smooth where the data are, which training without MCMC needs.
    entropy_weight : float, default=1.0
        ``training="vera"`` only: weight of the generator's entropy in its
        objective ``mean(-E(x)) + entropy_weight * H(q)`` (VERA's ``lambda``; 1
        makes the generator fit the model, smaller values make it colder).
    standardize : bool, default=True
        Standardize features internally (a ``StandardScaler`` fitted on all
        rows). Scores stay densities of the original units: the scaler's
        log-Jacobian is added.
        With ``input_shape``, a
        :class:`~sk_ebm.preprocessing.PixelScaler` instead: all pixels to
        [-1, 1] by their common range (per-pixel standardization would blow
        up constant border pixels). Where the features of a flat table
        share one unit, such as pixels, ``standardize=False`` can do much
        better, because per-feature scaling magnifies the noise of
        near-constant features (fitted on sklearn's digits 0-4, the AUROC
        of digits 5-9 against held-out 0-4 goes from 96.1 to 99.3;
        ``benchmarks/README.md``). On tables of mixed units keep it on.
    early_stopping : bool or "auto", default="auto"
        Hold out ``validation_fraction`` of the rows, score them after each
        epoch by their mean log-likelihood (``log Z`` estimated by importance
        sampling from a Gaussian fitted to the training rows: accurate in few
        dimensions, optimistic in many, where it still ranks epochs), stop
        after ``n_iter_no_change`` epochs without a better score and keep the
        weights of the best epoch (the sampler's chains or generator stay as
        trained last, which mixed longest). ``"auto"``: on for tables of at least 50
        rows (``MIN_ROWS_EARLY_STOPPING``), off for fewer and for images; the
        fitted choice is ``early_stopping_``.
    validation_fraction : float, default=0.1
        Share of the rows held out when early stopping is on.
    n_iter_no_change : int, default=30
        Epochs without a better validation score before early stopping (30
        is what was measured with the kernel base; README, density section).
    warm_start : bool, default=False
        When True, :meth:`fit` continues the previous fit for ``max_iter`` more
        epochs: its weights, its scaler, its optimizer state and its training
        family's state (replay buffer or generator). The data must have the
        same features, and ``training`` and the network's parameters must be
        unchanged.
    contamination : float in (0, 0.5] or "auto", default=0.1
        Fraction of training rows expected to be outliers: ``offset_`` is that
        quantile of the training scores. ``"auto"``, the default of
        :class:`~sklearn.ensemble.IsolationForest`, assumes clean training
        rows: a row is an outlier when it is less probable than 99 % of them
        (the 0.01 quantile).
    device : str, default="auto"
        ``"auto"`` (a CUDA GPU when there is one, else the CPU), ``"cpu"``,
        ``"cuda"`` or ``"cuda:<index>"``. The training rows go to the device
        whole, in float32, and batches are taken from them there (10,000
        Fashion-MNIST images take 31 MB); predictions convert the rows to
        float64 on the device, then run them in chunks of 4,096.
    verbose : int, default=0
        When positive, a tqdm progress bar over epochs showing the loss and
        the mean data and sample energies; 0 prints nothing.
    random_state : int, RandomState instance or None, default=None
        Seeds a private ``torch.Generator`` for the weights, the batches and the
        sampler: an int makes fits on the CPU reproducible, also when several
        run in threads at once. Global torch state is never touched.

    Attributes
    ----------
    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function = score_samples -
        offset_``.
    log_z_ : float
        Estimate of ``log Z``, the log normalizing constant of ``exp(-E)`` in
        standardized units, by annealed importance sampling from a Gaussian
        fitted to the training rows (256 chains, 100 temperatures, one MALA
        step each: 0.6-0.7 s for a (256, 256) network on one CPU thread).
        :meth:`score_samples` subtracts it.
    log_z_stderr_ : float
        Standard error of ``log_z_`` (delta method over the chains' weights).
    alpha_ : float
        The likelihood weight used: ``alpha``, with ``"auto"`` resolved.
    n_features_in_ : int
        Number of features seen during fit.
    data_min_, data_max_ : ndarray of shape (`n_features_in_`,)
        Per-feature range of the training rows; :meth:`sample` clips to it
        (with ``input_shape``, to the range of all pixels).
    input_shape_ : tuple of int or None
        ``input_shape`` as ``(channels, height, width)``, with a -1 resolved;
        None for a table.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
    training_ : str
        The training family of the fit (``training`` at fit time).
    base_ : str or None
        The base distribution of the fit (``base`` at fit time (``"auto"`` resolved)).
    early_stopping_ : bool
        Whether the fit held rows out to stop early (``early_stopping`` at fit
        time (``"auto"`` resolved)).
    network_config_ : dict
        The network's description: ``network``, ``n_features``, ``n_outputs``
        and the network's own settings (for the MLP, ``hidden_dims`` and
        ``activation``). A warm start needs the same.
    n_outputs_ : int
        Number of network outputs.
    net_ : torch.nn.Module
        The trained network (float32), mapping standardized inputs to ``f(x)``.
    device_ : str
        The device the model was trained on.
    scaler_ : StandardScaler, PixelScaler or None
        The internal scaler: a ``StandardScaler`` for tables, a
        :class:`~sk_ebm.preprocessing.PixelScaler` for images
        (``input_shape``), None when ``standardize=False``.
    family_ : TrainingFamily
        The fitted training family (:mod:`sk_ebm.families`), holding its state;
        ``warm_start`` continues it and :meth:`sample` starts from it.
    init_ : InitDistribution or ImportanceResampledInit
        Every family but ``"vera"``: the distribution chains start from (its
        ``kind`` is the ``sampler_params["init"]`` it serves).
    buffer_ : ReplayBuffer
        ``training="pcd"``: the persistent chains, in standardized units.
    n_steps_ : int
        ``training="pcd"`` and ``"short_run"``: sampler steps of the last
        training chains (``n_steps``, or more after a recovery from
        divergence); the default length of :meth:`sample`'s chains.
    generator_ : GaussianGenerator
        ``training="vera"``: the trained generator ``x = g(h) + sigma * eps``
        (standardized units), with its learned ``sigma`` and proposal scale.
    generator_params_ : dict
        ``training="vera"``: ``generator_params`` with defaults filled in.
    optimizer_states_ : dict
        State dicts of the optimizers (``"energy"``; for ``training="vera"``
        also ``"generator"`` and ``"posterior"``), so ``warm_start`` continues
        training.
    history_ : list of dict
        One dict per epoch: ``loss``, ``e_data``, ``e_sample`` (mean
        energies of data and samples), ``grad_norm`` (of the parameters),
        ``sampler_grad_norm`` (MCMC) or ``grad_penalty``, ``entropy``,
        ``sigma`` (VERA), ``learning_rate``, ``seconds``, ``epoch``;
        ``val_score`` with early stopping; and ``recovery``, a description of
        what was done, in an epoch that was repeated after a divergence
        (non-finite or exploding loss, data and sample energies drifting apart,
        exploding gradients: the fit rolls back to the last good epoch and
        asks the training family for a remedy: for MCMC, the learning rate
        divided by 4, the sampler's step halved and the chains lengthened
        once; for VERA, both learning rates divided by 4 and the gradient
        penalty doubled. It gives up with ``DivergenceError`` after three
        recoveries).
    loss_curve_ : list of float
        Mean loss of each epoch.
    n_iter_ : int
        Number of epochs run.
    stop_reason_ : str
        Why training stopped: ``"max_iter"``, ``"early_stopping"`` or
        ``"interrupted"`` (Ctrl-C during fit ends it after the current step,
        leaving a usable model; a second Ctrl-C interrupts at once).

    See Also
    --------
    JEMClassifier : The classifier whose logits are an energy model.
    sklearn.neighbors.KernelDensity : A non-parametric density estimator.
    sklearn.ensemble.IsolationForest : The outlier-detector API mirrored here.

    Notes
    -----
    :meth:`score_samples` is ``-E(x) - log Z``, with ``log Z`` estimated at
    fit by annealed importance sampling (``log_z_``, with its standard error
    ``log_z_stderr_``): a normalized log density, comparable between models
    to within those errors. Early stopping ranks epochs by a cheaper
    importance-sampling estimate from a Gaussian fitted to the training rows,
    not by ``log_z_``.

    Chains start from ``sampler_params["init"]="base"`` on tables of at most
    32 features with a base (the defaults), ``"diag_gaussian"`` for wider
    tables, images and without a base, unless told otherwise: chains from
    the model's own resampled base tell the network its proportions between
    modes, which persistent chains rarely crossing between modes do not (on 8
    Gaussians, AUROC 0.926 against 0.910 with ``"diag_gaussian"``; on 64
    features of digits it lost; benchmarks README). The defaults were checked
    by ``benchmarks/sweep.py``, and the base's correction bound by
    ``benchmarks/density_sweep.py``; the README's "Defaults" section has the
    tables.

    References
    ----------
    .. [1] Y. Song, D. P. Kingma, "How to Train Your Energy-Based Models",
       arXiv:2101.03288.
    .. [2] W. Grathwohl, J. Kelly, M. Hashemi, M. Norouzi, K. Swersky,
       D. Duvenaud, "No MCMC for me: Amortized sampling for fast and stable
       training of energy-based models", ICLR 2021, arXiv:2010.04230.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_ebm import EnergyDensityEstimator
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> est = EnergyDensityEstimator(hidden_dims=(32,), max_iter=5, n_steps=5,
    ...                              random_state=0).fit(X)
    >>> est.predict(X[:3]).shape
    (3,)
    >>> est.sample(4, random_state=0).shape
    (4, 2)
    """

    _parameter_constraints: dict = {
        **_BaseEnergyEstimator._parameter_constraints,
        "contamination": [
            Interval(Real, 0, 0.5, closed="right"),
            StrOptions({"auto"}),
        ],
        "base": [StrOptions({"auto", "gaussian", "kde"}), None],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "activation": [StrOptions(set(ACTIVATIONS) | {"auto"})],
    }

    def __init__(
        self,
        *,
        training="pcd",
        network="auto",
        input_shape=None,
        sampler="auto",
        hidden_dims=(256, 256),
        channels=(16, 32, 64, 128),
        activation="auto",
        max_iter=100,
        batch_size=64,
        learning_rate=1e-3,
        n_steps=20,
        step_size=0.001,
        noise_scale="auto",
        buffer_size=10000,
        reinit_freq=0.05,
        sampler_params=None,
        generator_params=None,
        score_params=None,
        base="auto",
        alpha=1.0,
        energy_reg=0.0,
        grad_penalty=0.1,
        entropy_weight=1.0,
        standardize=True,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=30,
        warm_start=False,
        contamination=0.1,
        device="auto",
        verbose=0,
        random_state=None,
    ):
        self.training = training
        self.network = network
        self.input_shape = input_shape
        self.sampler = sampler
        self.hidden_dims = hidden_dims
        self.channels = channels
        self.activation = activation
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.n_steps = n_steps
        self.step_size = step_size
        self.noise_scale = noise_scale
        self.buffer_size = buffer_size
        self.reinit_freq = reinit_freq
        self.sampler_params = sampler_params
        self.generator_params = generator_params
        self.score_params = score_params
        self.base = base
        self.alpha = alpha
        self.energy_reg = energy_reg
        self.grad_penalty = grad_penalty
        self.entropy_weight = entropy_weight
        self.standardize = standardize
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.contamination = contamination
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None, sample_weight=None):
        """Fit the energy model to ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : None
            Ignored; present for API consistency.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of the likelihood term.

        Returns
        -------
        self : EnergyDensityEstimator
            The fitted estimator.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        self._fit_energy(X, None, sample_weight, n_outputs=1)
        self.log_z_, self.log_z_stderr_ = self._estimate_log_z(X, sample_weight)
        scores = self._score_samples(X)
        share = (
            _AUTO_CONTAMINATION
            if self.contamination == "auto"
            else (self.contamination)
        )
        self.offset_ = float(np.percentile(scores, 100.0 * share))
        return self

    def _validation_candidates(self, data):
        return torch.arange(len(data.X), device=data.X.device)

    def _resolve_auto(self, params, n_samples, n_features):
        """``base``, ``early_stopping``, ``activation``, ``init``: by data, family."""
        tables = params["input_shape"] is None
        if params["base"] == "auto":
            kernel = (
                tables
                and FAMILIES[params["training"]].takes_kernel_base
                and n_samples >= MIN_ROWS_PER_FEATURE_KERNEL_BASE * n_features
            )
            params["base"] = "kde" if kernel else "gaussian"
        if params["early_stopping"] == "auto":
            params["early_stopping"] = tables and n_samples >= MIN_ROWS_EARLY_STOPPING
        if params["activation"] == "auto":
            family = FAMILIES[params["training"]]
            params["activation"] = family.auto_table_activation if tables else "silu"
        init_given = params["sampler_params"]["init"] is not None
        narrow = n_features <= MAX_FEATURES_BASE_INIT
        if tables and narrow and params["base"] and not init_given:
            # Chains start from the model itself, resampled from its base: they
            # tell the network its own proportions between modes (README,
            # "Chains that start from the model"). Images keep the measured
            # diag_gaussian.
            params["init"] = "base"

    def _validation_score(self, net, train, valid, generator):
        """Held-out log-likelihood, ``log Z`` estimated by importance sampling.

        The proposal is a Gaussian fitted to the training rows; its draws are
        fixed for the whole fit, so epochs compare on the same estimate.
        """
        # The chains' data_gaussian init is that Gaussian: one fit, one draw.
        gaussian = InitDistribution("data_gaussian", train.X)
        z = gaussian.draw(_N_PROPOSAL, generator)
        log_q = torch.distributions.MultivariateNormal(
            gaussian.mean, scale_tril=gaussian.chol
        ).log_prob(z)
        log_m = math.log(_N_PROPOSAL)

        def score():
            with torch.no_grad():
                log_z = torch.logsumexp(-energy(net(z)) - log_q, 0) - log_m
                return (-energy(net(valid.X)).mean() - log_z).item()

        return score

    def _estimate_log_z(self, X, sample_weight):
        """``log Z`` of the fitted energy and its standard error, by AIS.

        In the network's (standardized) units, from the model's base
        distribution (or, without one, a Gaussian fitted to the training
        rows), with :func:`~sk_ebm.likelihood.annealed_importance_sampling`'s
        defaults, on a float64 copy of the network.
        """
        net = self.net_
        if isinstance(net, KernelCorrectedNet):
            base = KernelBase(
                net.centers.double(), net.bandwidth, net.log_weights.double()
            )
        elif isinstance(net, BaseCorrectedNet):
            # The model's own base: the model is it times a bounded factor, so
            # AIS starts close to its target.
            base = GaussianBase(net.base_mean.double(), net.base_scale_tril.double())
        else:
            weight = None
            if sample_weight is not None:
                weight = torch.tensor(sample_weight, dtype=torch.float64)
            base = GaussianBase.fit(self._net_input64(X), sample_weight=weight)
            base = base.to(device=self.device_)
        params = self._params64()
        seed = _seed_from(self.random_state) + 2
        generator = torch.Generator(device=self.device_).manual_seed(seed)

        def energy64(z):
            return energy(torch.func.functional_call(self.net_, params, (z,)))

        with frozen(self.net_):
            log_z, stderr, _ = annealed_importance_sampling(energy64, base, generator)
        return log_z, stderr

    def _correction_bound(self, n_samples):
        # Few rows support little reshaping of the Gaussian; the rule and its
        # measurements are at DENSITY_ROWS_PER_NAT.
        return min(max(n_samples / DENSITY_ROWS_PER_NAT, 2.0), BASE_CORRECTION_BOUND)

    def _health_check(self, net, data, seed):
        """Does the model rank its training rows below broad noise?

        The reference is a Gaussian with the training rows' mean and twice
        their spread in every direction, drawn once (its own generator, so the
        fit's random stream is untouched). A density whose training rows score
        lower on average than those draws is inverted, which the loop treats
        as a divergence. The first epochs are not checked: a network near its
        random start has not ranked anything yet.
        """
        generator = torch.Generator(device=data.X.device).manual_seed(seed)
        reference = InitDistribution("data_gaussian", data.X)
        z = torch.randn(
            (_N_HEALTH_ROWS, data.X.shape[1]), generator=generator, device=data.X.device
        )
        broad = reference.mean + 2.0 * z @ reference.chol.T
        rows = data.X[:_N_HEALTH_ROWS]

        def check(epoch):
            if epoch <= _HEALTH_GRACE_EPOCHS:
                return None
            with torch.no_grad():
                train_score = -energy(net(rows)).mean().item()
                broad_score = -energy(net(broad)).mean().item()
            if train_score < broad_score:
                return (
                    "the model ranks its training rows below broad noise (mean "
                    f"log density {train_score:.3g} against {broad_score:.3g}; "
                    "base='gaussian' keeps densities low away from the data)"
                )
            return None

        return check

    def score_samples(self, X):
        """Log density ``log p(x) = -E(x) - log Z`` of each row.

        Higher means more typical. ``log Z`` is the estimate ``log_z_``
        made at fit, so these are normalized log densities, like
        :class:`~sklearn.neighbors.KernelDensity`'s, up to the estimate's
        error ``log_z_stderr_`` (a shift shared by every row).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 log densities, in the user's units (the scaler's
            log-Jacobian is included).
        """
        return self._score_samples(self._validate_X(X))

    def _score_samples(self, X):
        return self._logits64(X)[:, 0] - self.log_z_ + self._log_det_jacobian()

    def score(self, X, y=None):
        """Mean log-likelihood of ``X``: the mean of :meth:`score_samples`.

        Normalized by the fit's ``log Z`` estimate, so it compares across
        hyper-parameters and training families (``GridSearchCV`` selects by
        it, as for :class:`~sklearn.neighbors.KernelDensity`), to within the
        estimates' errors ``log_z_stderr_``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored.

        Returns
        -------
        float
        """
        return float(np.mean(self.score_samples(X)))

    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return self.score_samples(X) - self.offset_

    def predict(self, X):
        """+1 for inliers, -1 for outliers.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        inlier = self.decision_function(X) >= 0
        return np.where(inlier, 1, -1)

    def sample(self, n_samples=1, random_state=None, clip=True):
        """Draw rows from the model, in the user's feature units.

        Chains start where the training family puts them (the replay buffer
        for ``training="pcd"``, the init distribution for ``"short_run"``, the
        generator for ``"vera"``) and take ``sampler_params["sample_steps"]``
        steps of ``sampler`` on the energy (default: as many as the training
        chains; 0 for ``"vera"``, whose generator output is the sample). The
        sampling parameters are read at each call, so ``set_params`` after
        :meth:`fit` changes what this draws.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw.
        clip : bool, default=True
            Clip each feature to the range the training rows spanned
            (``data_min_``, ``data_max_``): chains that wander past the data,
            as Langevin chains on a learned energy can, come back as rows of
            the data's range. False returns the sampler's output unchanged.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        n_samples = _check_n_samples(n_samples)
        return self._draw_samples(n_samples, None, random_state, clip)


class DensityScoreTransformer(TransformerMixin, MetaEstimatorMixin, BaseEstimator):
    """Append a density model's ``score_samples`` to the features.

    Fits a clone of ``estimator`` on ``X`` and turns each row into its features
    followed by ``score_samples`` of that model: higher means more typical of
    the training rows. A downstream model then sees how typical a row is, and a
    density model becomes a pipeline step (and so part of an OpenML flow).

    Parameters
    ----------
    estimator : estimator object, default=None
        Any estimator with ``fit`` and ``score_samples``: an
        :class:`EnergyDensityEstimator` (the default, ``None``, is one with its
        default parameters), :class:`~sklearn.neighbors.KernelDensity`,
        :class:`~sklearn.ensemble.IsolationForest`,
        :class:`~sklearn.neighbors.LocalOutlierFactor` with ``novelty=True``,
        or a :class:`JEMClassifier` (which also takes ``y``).
    passthrough : bool, default=True
        When True, the output is ``X`` with the score as its last column; when
        False, the score column alone.

    Attributes
    ----------
    estimator_ : estimator object
        The fitted clone of ``estimator``.
    n_features_in_ : int
        Number of features seen during fit.
    input_shape_ : tuple of int or None
        ``input_shape`` as ``(channels, height, width)``, with a -1 resolved;
        None for a table.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    EnergyDensityEstimator : The default density model.
    sklearn.feature_selection.SelectFromModel : Another meta-transformer that
        fits an inner estimator.

    Notes
    -----
    The score column is in the units of ``estimator.score_samples``: for
    :class:`EnergyDensityEstimator` a normalized log density, for other models
    whatever their scores are. Put a scaler after this step if the downstream
    model needs standardized inputs.
    Scores of the training rows are in-sample: a flexible density model may
    score them higher than it will score new rows, so a downstream model fitted
    on them can trust the column more than it should.

    Examples
    --------
    >>> import numpy as np
    >>> from sk_ebm import DensityScoreTransformer, EnergyDensityEstimator
    >>> X = np.random.default_rng(0).normal(size=(200, 2))
    >>> density = EnergyDensityEstimator(hidden_dims=(16,), max_iter=3, n_steps=2,
    ...                                  random_state=0)
    >>> features = DensityScoreTransformer(density).fit(X)
    >>> features.transform(X[:3]).shape
    (3, 3)
    >>> features.get_feature_names_out()
    array(['x0', 'x1', 'density_score'], dtype=object)
    """

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "passthrough": ["boolean"],
    }

    def __init__(self, estimator=None, *, passthrough=True):
        self.estimator = estimator
        self.passthrough = passthrough

    # The inner estimator validates its own parameters when it is fitted.
    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y=None):
        """Fit a clone of ``estimator`` on ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : array-like of shape (n_samples,), default=None
            Passed on to ``estimator.fit``; density models ignore it.

        Returns
        -------
        self : DensityScoreTransformer
            The fitted transformer.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        estimator = (
            EnergyDensityEstimator() if self.estimator is None else self.estimator
        )
        self.estimator_ = clone(estimator).fit(X, y)
        return self

    def transform(self, X):
        """Append the score of each row under the fitted model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Rows with the features seen in :meth:`fit`.

        Returns
        -------
        ndarray of shape (n_samples, n_features + 1) or (n_samples, 1)
            ``X`` (as float) then ``estimator_.score_samples(X)``; the score
            alone when ``passthrough=False``.
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False, dtype=[np.float64, np.float32])
        return self._transform(X)

    def _transform(self, X):
        scores = self.estimator_.score_samples(X)[:, np.newaxis]
        return np.hstack([X, scores]) if self.passthrough else scores

    def get_feature_names_out(self, input_features=None):
        """Names of the output columns: the inputs', then ``"density_score"``.

        Parameters
        ----------
        input_features : array-like of str or None, default=None
            Input feature names; by default ``feature_names_in_``, or
            ``x0, ..., x(n_features_in_ - 1)`` when fit saw no names.

        Returns
        -------
        ndarray of str objects
            The input names followed by ``"density_score"`` (only
            ``"density_score"`` when ``passthrough=False``).
        """
        check_is_fitted(self)
        input_features = _check_feature_names_in(self, input_features)
        names = list(input_features) if self.passthrough else []
        return np.asarray([*names, "density_score"], dtype=object)
