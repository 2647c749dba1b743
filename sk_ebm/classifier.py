"""JEMClassifier: a classifier whose logits also define an energy-based model."""

from numbers import Integral, Real

import numpy as np
import torch
from scipy.special import log_softmax, logsumexp, softmax
from sklearn.base import ClassifierMixin, _fit_context
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import (
    Interval,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)
from torch.func import functional_call

from ._base import _BaseEnergyEstimator, _check_n_samples, _seed_from
from .metrics import UNLABELED, labeled_accuracy_score
from .nets import energy, frozen
from .samplers import InitDistribution

# Rows per refined batch: each SGLD step keeps a backward pass's activations,
# so refinement takes smaller batches than plain prediction. Bounds memory,
# not results (every batch gets the same noise).
_REFINE_CHUNK = 512
#: ``vat_radius="auto"``: this share of the median nearest-row distance.
#: Measured with a probe script on digits with 10 labels per class (PCD, seeds
#: 0-2): 0.25 gave 94.6 %, 0.5 gave 95.9 % and 1.0 gave 93.6 % (no VAT: 93.8).
VAT_RADIUS_SHARE = 0.5
#: Rows whose nearest-row distance sets the radius (a subsample beyond it).
_VAT_QUERIES = 2000


class JEMClassifier(ClassifierMixin, _BaseEnergyEstimator):
    """Joint Energy-based Model: a classifier that is also a density model.

    One network with K outputs ``f(x)`` gives the classifier
    ``p(y | x) = softmax(f(x))`` and the energy-based model
    ``log p(x) = logsumexp_y f(x)[y] - log Z``. Training maximises
    ``log p(y | x)`` on labeled rows and ``log p(x)`` on every row, so unlabeled
    rows (``y == -1``) shape the classifier too (semi-supervised learning), the
    probabilities tend to be calibrated, and ``score_samples`` ranks inputs by how
    typical they are (out-of-distribution detection).

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
    activation : {"silu", "relu", "leaky_relu", "elu", "tanh", "softplus"}, \
            default="silu"
        Hidden-layer activation. A smooth one gives SGLD smooth gradients.
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
    base : {"gaussian", "kde"} or None, default=None
        ``"gaussian"``: the logits are those of the network plus the log
        density of a Gaussian fitted to the training rows, with the network's
        part of ``log p(x)`` bounded to 20 nats either way
        (:class:`sk_ebm.nets.BaseCorrectedNet`). Class probabilities do not
        change; ``log p(x)`` becomes normalizable and falls away from the data
        in every direction. ``"kde"``: a Gaussian kernel density of the
        training rows instead of the Gaussian (see
        :class:`~sk_ebm.EnergyDensityEstimator`; not measured for the
        classifier). None: the network alone, whose ``log p(x)`` can stay
        high far from the data.
    alpha : float or "auto", default="auto"
        Weight of the ``log p(x)`` term relative to the cross-entropy.
        ``"auto"`` takes the training family's weight for classifiers
        (:meth:`~sk_ebm.families.TrainingFamily.auto_alpha_for`): for
        ``"pcd"`` 0.05 on tables and 0.03 on images (``input_shape`` given),
        0.03 for ``"short_run"`` and the score-matching families, 0.1 for
        ``"vera"``; the fitted value is ``alpha_``. No weight wins
        everywhere: on the benchmarks' tables PCD with 0.1 gained up to 5
        points of accuracy over 0.03 on small or many-class tables (wine,
        letter) and lost about 1 on digits and penbased, and on Fashion-MNIST
        it cost 5 points of OOD AUROC; 0.05 had the best worst-case rank
        (``benchmarks/README.md``, "The likelihood weight of PCD on
        tables"). To choose it for your data, search it with
        :class:`~sklearn.model_selection.GridSearchCV` and
        ``scoring=sk_ebm.metrics.labeled_accuracy_scorer``.
    energy_reg : float, default=0.01
        Weight of the penalty on squared energies of data and samples (the
        network's part, without a base's), which keeps them from drifting.
    grad_penalty : float, default=1.0
        ``training="vera"`` only: weight of ``mean ||grad_x E(x)||^2 / 2`` on
        data rows (VERA's ``gamma``), inside the likelihood term. It keeps the
        energy smooth where the data are, which training without MCMC needs.
    entropy_weight : float, default=1.0
        ``training="vera"`` only: weight of the generator's entropy in its
        objective ``mean(-E(x)) + entropy_weight * H(q)`` (VERA's ``lambda``; 1
        makes the generator fit the model, smaller values make it colder).
    unlabeled_entropy : float, default=0.1
        ``training="vera"`` only: weight of the mean entropy of ``p(y | x)`` on
        data rows (VERA's ``beta``), which pushes class boundaries away from
        unlabeled rows.
    unlabeled_vat : float, default=0.0
        Weight of virtual adversarial training's consistency term on the
        unlabeled rows (Miyato et al., 2018): the KL divergence between
        ``p(y | x)`` and ``p(y | x + r)``, ``r`` the perturbation of norm
        ``vat_radius`` that changes it most. It moves class boundaries into
        the gaps between clusters of unlabeled rows; every training family
        adds it. Fits without unlabeled rows are unaffected; 0 (the default)
        turns it off. It costs about three more forward passes over the
        unlabeled rows of each batch. Measured with 1.0
        (``benchmarks/semi_supervised.py``, seeds 0-4): digits with 10 labels
        per class, PCD 94.8 % and VERA 95.8 % (without: 93.7 and 94.4); but
        breast cancer with 5 labels per class, PCD fell from
        92.2 to 76.6 % (VERA rose from 90.9 to 93.0), and on letter (26
        classes, 10 labels each) it cost both about 5 points (VERA 74.0 to
        68.7), which is why it is off by default. A tenth of that weight
        (0.1, PCD) kept digits' gain (95.2 % +- 0.5), raised penbased from
        94.3 to 94.9 % and wine from 95.1 to 97.3 %, but still cost letter 5
        points (seed 0) and breast cancer 1.1. Try it on your own labeled
        rows (cross-validation with
        :func:`~sk_ebm.metrics.labeled_accuracy_scorer`).
    vat_radius : float or "auto", default="auto"
        Norm of VAT's perturbation, in the network's input units
        (standardized features or scaled pixels). ``"auto"``: half the median
        distance from a training row to its nearest other row (on up to 2,000
        rows), so that the perturbation stays within the data's own spacing.
    standardize : bool, default=True
        Standardize features internally (a ``StandardScaler`` fitted on all
        rows), so that a raw table works and the samplers' scales make sense.
        With ``input_shape``, a
        :class:`~sk_ebm.preprocessing.PixelScaler` instead: all pixels to
        [-1, 1] by their common range (per-pixel standardization would blow
        up constant border pixels). Where the features of a flat table
        share one unit, such as pixels, ``standardize=False`` can do much
        better, because per-feature scaling magnifies the noise of
        near-constant features (on sklearn's digits with 10 labels per
        class, accuracy went from 93.7 to 96.3 and the OOD AUROC of digits
        5-9 from 96.7 to 98.4; on penbased's pen coordinates it did not
        help; ``benchmarks/README.md``). On tables of mixed units keep it on:
        unscaled, the largest unit dominates and fits can diverge.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the labeled rows, score their
        accuracy after each epoch, stop after ``n_iter_no_change`` epochs
        without a better one, and keep the weights of the best epoch, as
        :class:`~sklearn.neural_network.MLPClassifier` does (the sampler's
        chains or generator stay as trained last, which mixed longest).
    validation_fraction : float, default=0.1
        Share of the labeled rows held out when ``early_stopping=True`` (at
        least one row).
    n_iter_no_change : int, default=10
        Epochs without a better validation score before early stopping.
    warm_start : bool, default=False
        When True, :meth:`fit` continues the previous fit for ``max_iter`` more
        epochs: its weights, its scaler, its optimizer state and its training
        family's state (replay buffer or generator). The data must have the
        same features and classes, and ``training`` and the network's
        parameters must be unchanged.
    ood_score : {"logp", "max_softmax", "grad_norm"}, default="logp"
        Which of JEM's scores :meth:`score_samples` returns; all are "higher is
        more in-distribution". ``"logp"``: the unnormalised ``log p(x)``;
        ``"max_softmax"``: the largest class probability; ``"grad_norm"``: minus
        the norm of the gradient of ``log p(x)`` in standardized units.
    refine_steps : int, default=0
        Steps of the fitted sampler on ``log p(x)`` that :meth:`predict`,
        :meth:`predict_proba`, :meth:`predict_log_proba`,
        :meth:`decision_function` and :meth:`score` take from each input
        before classifying it (JEM's refinement against adversarial inputs,
        section 5.4 of [1]_), which moves it towards a nearby point of
        higher density when the sampler is cold enough (see Notes). 0
        classifies the input as given. Each step is one forward and one
        backward pass of the network over the batch, so a prediction costs
        ``refine_steps + 1`` forward and ``refine_steps`` backward passes
        instead of one forward pass (on digits, 10 steps made
        ``predict_proba`` 14 times slower). Read at every call, so
        ``set_params`` after :meth:`fit` changes it. :meth:`score_samples`
        and :meth:`sample` are not refined (see Notes).
    device : str, default="auto"
        ``"auto"`` (a CUDA GPU when there is one, else the CPU), ``"cpu"``,
        ``"cuda"`` or ``"cuda:<index>"``. The training rows go to the device
        whole, in float32, and batches are taken from them there (10,000
        Fashion-MNIST images take 31 MB); predictions convert the rows to
        float64 on the device, then run them in chunks of 4,096.
    verbose : int, default=0
        When positive, a tqdm progress bar over epochs showing the loss, the
        accuracy on labeled batches and the mean data and sample energies; 0
        prints nothing.
    random_state : int, RandomState instance or None, default=None
        Seeds a private ``torch.Generator`` for the weights, the batches and the
        sampler: an int makes fits on the CPU reproducible, also when several
        run in threads at once. Global torch state is never touched.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels seen among the labeled rows.
    alpha_ : float
        The likelihood weight used: ``alpha``, with ``"auto"`` resolved.
    class_init_ : InitDistribution
        One Gaussian per class, fitted to its labeled rows (shrunk towards
        the Gaussian of all rows): where :meth:`sample` starts chains for
        ``p(x | y)``.
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
        The base distribution of the fit (``base`` at fit time).
    early_stopping_ : bool
        Whether the fit held rows out to stop early (``early_stopping`` at fit
        time).
    network_config_ : dict
        The network's description: ``network``, ``n_features``, ``n_outputs``
        and the network's own settings (for the MLP, ``hidden_dims`` and
        ``activation``). A warm start needs the same.
    n_outputs_ : int
        Number of network outputs.
    net_ : torch.nn.Module
        The trained network (float32), mapping standardized inputs to logits.
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
        One dict per epoch: ``loss``, ``ce``, ``acc`` (on labeled batches),
        ``e_data``, ``e_sample`` (mean energies of data and samples),
        ``grad_norm`` (of the parameters),
        ``sampler_grad_norm`` (MCMC) or ``grad_penalty``, ``entropy``,
        ``sigma`` (VERA), ``learning_rate``, ``seconds``, ``epoch``;
        ``val_score`` with early stopping; and ``recovery``, a description of
        what was done, in an epoch that was repeated after a divergence
        (non-finite or exploding loss, data and sample energies drifting apart,
        exploding gradients: the fit rolls back to the last good epoch and
        asks the training family for a remedy: for MCMC, the learning rate
        divided by 4, the sampler's step halved and the chains lengthened
        once; for VERA, both learning rates divided by 4 and the gradient
        penalty doubled. An accuracy on labeled batches 0.25 below the best
        epoch's counts too: the fit restarts from its first weights with the
        remedy applied twice. It gives up with ``DivergenceError`` after three
        recoveries).
    loss_curve_ : list of float
        Mean loss of each epoch.
    n_iter_ : int
        Number of epochs run.
    refine_seed_ : int
        Seed of the noise of ``refine_steps``, drawn from ``random_state`` at
        fit: the same input gives the same refined prediction at every call.
    stop_reason_ : str
        Why training stopped: ``"max_iter"``, ``"early_stopping"`` or
        ``"interrupted"`` (Ctrl-C during fit ends it after the current step,
        leaving a usable model; a second Ctrl-C interrupts at once).

    See Also
    --------
    EnergyDensityEstimator : The unconditional energy model.
    sklearn.semi_supervised.SelfTrainingClassifier : Uses the same ``y == -1``.

    Notes
    -----
    The energy is ``E(x) = -logsumexp f(x)``; :meth:`score_samples` with
    ``ood_score="logp"`` is ``-E(x)`` plus the log-Jacobian of the scaler, an
    unnormalised log density in the user's units (its ``log Z`` is unknown).

    Predictions are computed with a float64 copy of the weights, so they do not
    depend on how rows are batched. Pickles hold CPU tensors: a model fitted on a
    GPU loads on a machine without one.

    On machines with few cores, torch's default thread count can make small fits
    very slow; set ``torch.set_num_threads`` in your script (this estimator never
    changes it).

    Refinement (``refine_steps > 0``) runs the sampler that :meth:`sample`
    would build from the current parameters (``sampler``, ``step_size``,
    ``noise_scale``, ``sampler_params["clip_grad"]``, shrunk as the fit's
    recoveries shrank it), in the network's standardized units, without
    clipping the refined points. With ``sampler="annealed_langevin"`` it takes
    ``refine_steps`` steps at each of ``score_params["noise_scales"]``. Every
    row gets the same noise draws, from a generator seeded by
    ``refine_seed_`` at each call, so a row's prediction depends neither on
    the other rows of ``X`` nor on earlier calls. :meth:`score_samples` is
    not refined: it scores the input that was given, and refining would move
    an out-of-distribution row towards the data before scoring it, hiding
    what the score is meant to detect.

    The default sampler is correctly scaled Langevin dynamics: a sampler of
    ``p(x)``, not an ascent. Measured on digits (10 steps of step 0.001 from
    the test rows), it lowered ``log p(x)`` by 0.06 nats on average and
    changed almost no prediction. JEM refined with its cold training sampler
    (step 1, noise 0.01, pixels in [-1, 1]), which climbs ``log p(x)``: set
    ``step_size=1.0, noise_scale=0.01`` after :meth:`fit` for that (it
    raised ``log p(x)`` by 6 nats in 10 steps on the same rows; it also
    changes what :meth:`sample` draws). A cold sampler climbs without end
    where ``log p(x)`` is unbounded: on a network trained with cross-entropy
    only, 10 such steps took the largest logit from 20 to 470, and every
    refined prediction became certain. ``benchmarks/robustness.py`` measures
    what refinement buys against adversarial inputs (README, "When JEM is
    worth its cost").

    Chains start from ``sampler_params["init"]="data_gaussian"`` unless told
    otherwise. The defaults come from ``benchmarks/sweep.py``, which ranks
    settings on semi-supervised and out-of-distribution tasks by their
    worst-case rank; the README's "Defaults" section has the tables.

    References
    ----------
    .. [1] W. Grathwohl, K.-C. Wang, J.-H. Jacobsen, D. Duvenaud, M. Norouzi,
       K. Swersky, "Your classifier is secretly an energy based model and you
       should treat it like one", ICLR 2020, arXiv:1912.03263.
    .. [2] W. Grathwohl, J. Kelly, M. Hashemi, M. Norouzi, K. Swersky,
       D. Duvenaud, "No MCMC for me: Amortized sampling for fast and stable
       training of energy-based models", ICLR 2021, arXiv:2010.04230.

    Examples
    --------
    >>> from sklearn.datasets import load_iris
    >>> from sk_ebm import JEMClassifier
    >>> X, y = load_iris(return_X_y=True)
    >>> clf = JEMClassifier(hidden_dims=(32,), max_iter=5, n_steps=5,
    ...                     random_state=0).fit(X, y)
    >>> clf.predict_proba(X[:2]).shape
    (2, 3)
    >>> clf.score_samples(X[:2]).shape
    (2,)
    """

    _parameter_constraints: dict = {
        **_BaseEnergyEstimator._parameter_constraints,
        "ood_score": [StrOptions({"logp", "max_softmax", "grad_norm"})],
        "unlabeled_entropy": [Interval(Real, 0, None, closed="left")],
        "unlabeled_vat": [Interval(Real, 0, None, closed="left")],
        "vat_radius": [Interval(Real, 0, None, closed="neither"), StrOptions({"auto"})],
        "refine_steps": [Interval(Integral, 0, None, closed="left")],
    }

    _default_init = "data_gaussian"
    _model_kind = "classifier"

    def __init__(
        self,
        *,
        training="pcd",
        network="auto",
        input_shape=None,
        sampler="auto",
        hidden_dims=(256, 256),
        channels=(16, 32, 64, 128),
        activation="silu",
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
        base=None,
        alpha="auto",
        energy_reg=0.01,
        grad_penalty=1.0,
        entropy_weight=1.0,
        unlabeled_entropy=0.1,
        unlabeled_vat=0.0,
        vat_radius="auto",
        standardize=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        warm_start=False,
        ood_score="logp",
        refine_steps=0,
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
        self.unlabeled_entropy = unlabeled_entropy
        self.unlabeled_vat = unlabeled_vat
        self.vat_radius = vat_radius
        self.standardize = standardize
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.warm_start = warm_start
        self.ood_score = ood_score
        self.refine_steps = refine_steps
        self.device = device
        self.verbose = verbose
        self.random_state = random_state

    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y, sample_weight=None):
        """Fit the model; rows with ``y == -1`` are unlabeled.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training inputs, labeled and unlabeled.
        y : array-like of shape (n_samples,)
            Class labels, with the integer -1 on unlabeled rows (also inside an
            object array of string labels). Labeled rows train ``p(y | x)``;
            all rows train ``p(x)``. The string ``"-1"`` is an ordinary label,
            and missing labels (None, NaN) are an error, as in scikit-learn's
            :class:`~sklearn.semi_supervised.SelfTrainingClassifier`.
        sample_weight : array-like of shape (n_samples,), default=None
            Per-row weights of both loss terms.

        Returns
        -------
        self : JEMClassifier
            The fitted estimator.
        """
        X, y = validate_data(self, X, y, dtype=[np.float64, np.float32])
        y_index = self._encode_targets(y)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        self._fit_energy(X, y_index, sample_weight, n_outputs=len(self.classes_))
        self.refine_seed_ = _seed_from(self.random_state)
        self.class_init_ = InitDistribution(
            "class_gaussian",
            self._tensor(self._transform(X)),
            torch.as_tensor(y_index, device=self.device_),
            len(self.classes_),
        )
        return self

    def _resolve_with_data(self, params, data, seed):
        """``vat_radius_``: VAT's radius, None when no row is unlabeled."""
        radius = None
        if self.unlabeled_vat > 0 and bool((data.y < 0).any()):
            radius = self.vat_radius
            if radius == "auto":
                radius = VAT_RADIUS_SHARE * _median_neighbor_distance(data.X, seed)
        params["vat_radius"] = self.vat_radius_ = radius

    def _class_start_points(self, y, sampler, generator):
        # Chains for p(x | y) start from the Gaussian of class y's labeled rows
        # (JEM++'s class-wise init): measured on digits, an independent
        # classifier agreed with the requested class for 65 % of draws started
        # by resampling the training chains, for 90 % of these.
        return self.class_init_.draw(len(y), generator, y=y)

    def _validation_candidates(self, data):
        # Only labeled rows can score accuracy.
        return torch.nonzero(data.y >= 0)[:, 0]

    def _validation_score(self, net, train, valid, generator):
        """Accuracy of ``net`` on the held-out labeled rows."""

        def accuracy():
            with torch.no_grad():
                correct = net(valid.X).argmax(1) == valid.y
            return correct.float().mean().item()

        return accuracy

    def _encode_targets(self, y):
        labeled = ~np.asarray(y == UNLABELED, dtype=bool)
        if not labeled.any():
            raise ValueError(
                "JEMClassifier needs labeled rows, but every entry of y is -1, "
                "the marker of an unlabeled row."
            )
        if y.dtype == object and any(label is None for label in y):
            # Otherwise np.unique fails with "'<' not supported" (sklearn too).
            raise ValueError(
                "y contains None. Mark unlabeled rows with the integer -1, "
                "scikit-learn's semi-supervised convention, not with None or NaN."
            )
        check_classification_targets(y[labeled])
        self.classes_, codes = np.unique(y[labeled], return_inverse=True)
        if len(self.classes_) < 2:
            raise ValueError(
                "JEMClassifier needs at least two classes among the labeled rows; "
                f"got one class, {self.classes_[0].item()!r}."
            )
        y_index = np.full(len(y), UNLABELED, dtype=np.int64)
        y_index[labeled] = codes
        return y_index

    def score(self, X, y, sample_weight=None):
        """Accuracy on the labeled rows of ``(X, y)``; rows with ``y == -1`` are
        skipped.

        So ``GridSearchCV`` and ``cross_val_score`` with the default scoring
        compare models on the labeled rows of semi-supervised folds. Pass
        ``scoring=sk_ebm.metrics.labeled_accuracy_scorer`` to get the same from
        a scorer.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
            True labels, ``-1`` on unlabeled rows.
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        float
            Mean accuracy over the labeled rows (NaN, with a warning, if there
            is none).
        """
        return labeled_accuracy_score(y, self.predict(X), sample_weight=sample_weight)

    def decision_function(self, X):
        """Class scores (logits), scikit-learn's classifier contract.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
            For two classes, ``f(x)[1] - f(x)[0]`` (positive means
            ``classes_[1]``); otherwise the logits.
        """
        logits = self._predict_logits64(self._validate_X(X))
        if len(self.classes_) == 2:
            return logits[:, 1] - logits[:, 0]
        return logits

    def predict(self, X):
        """Most probable class of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            Labels from ``classes_``.
        """
        logits = self._predict_logits64(self._validate_X(X))
        return self.classes_[logits.argmax(axis=1)]

    def predict_proba(self, X):
        """Class probabilities ``softmax(f(x))``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
            float64 rows that sum to 1, columns in the order of ``classes_``.
        """
        return softmax(self._predict_logits64(self._validate_X(X)), axis=1)

    def predict_log_proba(self, X):
        """Log of :meth:`predict_proba`, computed stably.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_classes)
        """
        return log_softmax(self._predict_logits64(self._validate_X(X)), axis=1)

    def _predict_logits64(self, X):
        """Logits of validated ``X`` for the predict methods: refined if asked."""
        # Checked here too: ``refine_steps`` may be set after fit.
        validate_parameter_constraints(
            {"refine_steps": self._parameter_constraints["refine_steps"]},
            {"refine_steps": self.refine_steps},
            caller_name=type(self).__name__,
        )
        if self.refine_steps == 0:
            return self._logits64(X)
        Z = self._net_input64(X)
        out = [
            self._refine(Z[i : i + _REFINE_CHUNK])
            for i in range(0, len(Z), _REFINE_CHUNK)
        ]
        return torch.cat(out).cpu().numpy()

    def _refined_logits(
        self, X, *, keep_graph=False, generator=None, straight_through=False
    ):
        """The predict methods' logits as one torch function of the input.

        For white-box evaluation (``benchmarks/robustness.py``): the scaler,
        ``refine_steps`` sampler steps and the network, in float64.

        Parameters
        ----------
        X : torch.Tensor of shape (n_samples, n_features), float64
            Inputs in the user's units, on ``device_``.
        keep_graph : bool, default=False
            Keep the graph through every refinement step (the sampler's input
            gradients are themselves differentiated), so the logits can be
            differentiated with respect to ``X``. Memory grows with
            ``refine_steps``.
        generator : torch.Generator or None, default=None
            Source of the refinement noise. None: the noise the predict
            methods use (seeded by ``refine_seed_``), so the logits equal
            :meth:`decision_function`'s; pass fresh generators to average over
            the noise instead.
        straight_through : bool, default=False
            Refine without a graph and pass gradients through the refinement
            as if it were the identity (BPDA, Athalye et al. 2018): the
            gradient of the logits at the refined point. An attack on it
            checks that following the exact gradient was not misled by a
            refinement too rugged to differentiate usefully.

        Returns
        -------
        torch.Tensor of shape (n_samples, n_classes)
        """
        check_is_fitted(self)
        return self._refine(
            self._transform_tensor(X),
            keep_graph=keep_graph,
            generator=generator,
            straight_through=straight_through,
        )

    def _refine(self, Z, keep_graph=False, generator=None, straight_through=False):
        """Logits after ``refine_steps`` sampler steps on ``log p(z)`` from ``Z``.

        ``Z`` is in the network's (standardized) units, float64.
        """
        params = self._params64()

        def logits(z):
            return functional_call(self.net_, params, (z,))

        if self.refine_steps > 0:
            family = self.family_
            sampler = family.prepare_sampler(
                self._build_sampler(family, self._resolved_params())
            )
            if generator is None:
                # Seeded afresh for every batch and call: same row, same noise.
                generator = self._generator(self.refine_seed_)
            with frozen(self.net_):
                refined, _ = sampler.run(
                    Z,
                    lambda z: energy(logits(z)),
                    self.refine_steps,
                    generator,
                    create_graph=keep_graph and not straight_through,
                    shared_noise=True,
                )
            Z = Z + (refined - Z).detach() if straight_through else refined
        with torch.set_grad_enabled(keep_graph or straight_through):
            return logits(Z)

    def score_samples(self, X):
        """In-distribution score of each row: higher means more typical.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores of the kind chosen by ``ood_score``. Out-of-distribution
            rows should score low.
        """
        X = self._validate_X(X)
        if self.ood_score == "grad_norm":
            return self._grad_norm_score64(X)
        logits = self._logits64(X)
        if self.ood_score == "max_softmax":
            return softmax(logits, axis=1).max(axis=1)
        return logsumexp(logits, axis=1) + self._log_det_jacobian()

    def sample(self, n_samples=1, y=None, random_state=None, clip=True):
        """Draw inputs from the model, in the user's feature units.

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
            Number of rows to draw.
        y : label or array-like of shape (n_samples,), default=None
            Draw from ``p(x | y)`` (energy ``-f(x)[y]``) for these labels from
            ``classes_``: chains start from the Gaussian of each class's
            labeled rows (``class_init_``) and follow the class energy, for
            at least ``n_steps`` steps unless ``sample_steps`` says otherwise.
            None draws from ``p(x)``.
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
        y_index = None
        if y is not None:
            labels = np.asarray(y, dtype=self.classes_.dtype)
            if labels.ndim > 1 or labels.size not in (1, n_samples):
                raise ValueError(
                    f"y must be one label or {n_samples} labels (n_samples); "
                    f"got shape {labels.shape}."
                )
            labels = np.broadcast_to(labels.ravel(), n_samples)
            y_index = np.searchsorted(self.classes_, labels)
            y_index = np.minimum(y_index, len(self.classes_) - 1)
            unknown = self.classes_[y_index] != labels
            if unknown.any():
                raise ValueError(
                    f"y holds labels not in classes_ {list(self.classes_)}: "
                    f"{sorted(set(labels[unknown].tolist()))}."
                )
        return self._draw_samples(n_samples, y_index, random_state, clip)


def _median_neighbor_distance(X, seed):
    """Median distance from a row of ``X`` (a tensor) to its nearest other row.

    Duplicated rows are skipped: their distance 0 says nothing about the
    spacing of the data. 0.0 when every row is a copy of another.
    """
    X = X.detach().cpu().double().numpy()
    index = np.arange(len(X))
    if len(X) > _VAT_QUERIES:
        index = np.random.default_rng(seed).choice(len(X), _VAT_QUERIES, replace=False)
    neighbors = NearestNeighbors(n_neighbors=min(len(X), 6)).fit(X)
    distances, found = neighbors.kneighbors(X[index])
    # Below this, a distance is rounding error of the expanded squared norms.
    tiny = 1e-6 * float(np.median(np.linalg.norm(X[index], axis=1)))
    other = (found != index[:, None]) & (distances > tiny)
    nearest = np.where(other, distances, np.inf).min(axis=1)
    nearest = nearest[np.isfinite(nearest)]
    return float(np.median(nearest)) if len(nearest) else 0.0
