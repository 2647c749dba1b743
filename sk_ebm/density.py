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
from sklearn.utils._param_validation import HasMethods, Interval
from sklearn.utils.validation import (
    _check_feature_names_in,
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._base import _BaseEnergyEstimator, _check_n_samples
from .nets import energy
from .samplers import InitDistribution

# Draws of the importance-sampling estimate of log Z used by early stopping.
_N_PROPOSAL = 4096


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
    training : {"pcd", "short_run", "vera"}, default="pcd"
        ``"pcd"``: persistent SGLD chains in a replay buffer; ``"short_run"``:
        every chain starts afresh from the init distribution; ``"vera"``: no
        MCMC, samples come from a generator network trained alongside the energy
        (VERA [2]_).
    hidden_dims : tuple of int, default=(256, 256)
        Widths of the hidden layers of the MLP.
    activation : {"silu", "relu", "leaky_relu", "elu", "tanh", "softplus"}, \
            default="silu"
        Hidden-layer activation.
    max_iter : int, default=100
        Number of epochs.
    batch_size : int, default=64
        Rows per step; also the number of chains advanced per step.
    learning_rate : float, default=1e-3
        Adam's step size.
    n_steps : int, default=20
        SGLD steps per training step.
    step_size : float, default=0.001
        SGLD step size.
    noise_scale : float or "auto", default="auto"
        Standard deviation of the SGLD noise; ``"auto"`` is
        ``sqrt(2 * step_size)``, correctly scaled Langevin dynamics.
    buffer_size : int, default=10000
        Number of persistent chains (``training="pcd"`` only).
    reinit_freq : float, default=0.05
        Fraction of chains restarted at each draw (``training="pcd"`` only).
    sampler_params : dict, default=None
        ``"init"``: where chains start (``"uniform"``, ``"diag_gaussian"``, the
        default, N(0, I) on standardized inputs, or ``"data_gaussian"``);
        ``"clip_grad"``: a float to clip each chain's energy gradient to;
        ``"sample_steps"``: SGLD steps taken by :meth:`sample` (default
        ``n_steps``; 0 for ``training="vera"``).
    generator_params : dict, default=None
        Extras of ``training="vera"``: ``"latent_dim"`` (width of the
        generator's Gaussian input, default ``min(n_features, 64)``),
        ``"hidden_dims"`` (of the generator's MLP, default ``hidden_dims``
        with each width halved),
        ``"learning_rate"`` (generator's Adam, default ``learning_rate``),
        ``"posterior_learning_rate"`` (0.02), ``"n_posterior"`` (importance
        samples of the entropy estimator, 20), ``"sigma_bounds"`` (the
        generator's output noise is kept in ``(0.01, 0.3)``, standardized units)
        and ``"posterior_scale"`` (initial proposal scale, 0.1).
    alpha : float, default=1.0
        Weight of the likelihood term.
    energy_reg : float, default=0.01
        Weight of the penalty on squared energies.
    grad_penalty : float, default=0.1
        ``training="vera"`` only: weight of ``mean ||grad_x E(x)||^2 / 2`` on
        data rows (VERA's ``gamma``), inside the likelihood term. The sweep
        (``benchmarks/sweep.py``) found 1.0 worse here on every seed of the ring
        (AUROC 72.1 against 75.8), although :class:`JEMClassifier` takes 1.0.
    entropy_weight : float, default=1.0
        ``training="vera"`` only: weight of the generator's entropy in its
        objective ``mean(-E(x)) + entropy_weight * H(q)`` (VERA's ``lambda``).
    standardize : bool, default=True
        Standardize features internally. Scores stay densities of the original
        units: the scaler's log-Jacobian is added.
    contamination : float in (0, 0.5], default=0.1
        Fraction of training rows expected to be outliers: ``offset_`` is that
        quantile of the training scores.
    early_stopping : bool, default=False
        Hold out ``validation_fraction`` of the rows, score them after each
        epoch by their mean log-likelihood (``log Z`` estimated by importance
        sampling from a Gaussian fitted to the training rows: accurate in few
        dimensions, optimistic in many, where it still ranks epochs), stop
        after ``n_iter_no_change`` epochs without a better score and keep the
        state of the best epoch.
    validation_fraction : float, default=0.1
        Share of the rows held out when ``early_stopping=True``.
    n_iter_no_change : int, default=10
        Epochs without a better validation score before early stopping.
    warm_start : bool, default=False
        When True, :meth:`fit` continues the previous fit for ``max_iter`` more
        epochs: its weights, its scaler, its optimizer state and its replay
        buffer or generator. The data must have the same features.
    device : str, default="auto"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:<index>"``.
    verbose : int, default=0
        When positive, a tqdm progress bar over epochs showing the loss, the
        accuracy on labeled batches and the mean data and sample energies; 0
        prints nothing.
    random_state : int, RandomState instance or None, default=None
        Seeds a private ``torch.Generator``; an int makes CPU fits reproducible.

    Attributes
    ----------
    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function = score_samples -
        offset_``.
    alpha_ : float
        The likelihood weight used (``alpha``).
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.
    net_ : torch.nn.Module
        The trained network (float32), mapping standardized inputs to ``f(x)``.
    device_ : str
        The device the model was trained on.
    scaler_ : StandardScaler or None
        The internal scaler.
    init_ : InitDistribution or None
        The distribution chains start from (None for ``training="vera"``).
    buffer_ : ReplayBuffer or None
        The persistent chains (``training="pcd"``), in standardized units.
    generator_ : GaussianGenerator or None
        ``training="vera"``: the trained generator ``x = g(h) + sigma * eps``
        (standardized units), with its learned ``sigma`` and proposal scale.
    generator_params_ : dict
        ``training="vera"``: ``generator_params`` with defaults filled in.
    optimizer_states_ : dict
        State dicts of the Adam optimizers (``"energy"``; for
        ``training="vera"`` also ``"generator"`` and ``"posterior"``), so
        ``warm_start`` continues training.
    sampler_ : SGLD
        The sampler :meth:`sample` uses; a recovery from divergence may have
        lowered its step size below ``step_size``.
    n_steps_ : int
        SGLD steps of the last training chains (``n_steps``, or more after a
        recovery from divergence).
    sampler_params_ : dict
        ``sampler_params`` with defaults filled in.
    history_ : list of dict
        One dict per epoch: ``loss``, ``ce``, ``acc`` (on labeled batches),
        ``e_data``, ``e_sample`` (mean energies of data and samples),
        ``grad_norm`` (of the parameters), ``sampler_grad_norm`` (MCMC) or
        ``grad_penalty``, ``entropy``, ``sigma`` (VERA), ``learning_rate``,
        ``seconds``, ``epoch``; ``val_score`` with early stopping; and
        ``recovery``, a description of what was done, in an epoch that was
        repeated after a divergence (non-finite or exploding loss, data and
        sample energies drifting apart, exploding gradients: the fit rolls back
        to the last good epoch, divides the learning rate by 4 and, for MCMC,
        halves the SGLD step and doubles the chain length once, or, for VERA,
        doubles the gradient penalty; it gives up with ``DivergenceError`` after three
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
    :meth:`score_samples` is ``-E(x)``, an *unnormalised* log density: its
    ``log Z`` is unknown, so compare scores between rows of one model, not
    between models.

    The defaults were checked by ``benchmarks/sweep.py`` on the 2-D ring and 8
    Gaussians and on digits 0-4 against 5-9. No setting beat them across those
    tasks. ``alpha=0.03`` tied: it was better on the toys and lost 2.5 AUROC
    points on digits. ``step_size=0.005`` also tied. The README's "Defaults"
    section has the tables.

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
        "contamination": [Interval(Real, 0, 0.5, closed="right")],
    }

    def __init__(
        self,
        *,
        training="pcd",
        hidden_dims=(256, 256),
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
        alpha=1.0,
        energy_reg=0.01,
        grad_penalty=0.1,
        entropy_weight=1.0,
        standardize=True,
        early_stopping=False,
        validation_fraction=0.1,
        n_iter_no_change=10,
        warm_start=False,
        contamination=0.1,
        device="auto",
        verbose=0,
        random_state=None,
    ):
        self.training = training
        self.hidden_dims = hidden_dims
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
        scores = self._score_samples(X)
        self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        return self

    def _validation_candidates(self, data):
        return torch.arange(len(data.X), device=data.X.device)

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

    def score_samples(self, X):
        """Unnormalised log density ``-E(x)`` of each row (higher = more typical).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
            float64 scores, in the user's units (the scaler's log-Jacobian is
            included), up to the unknown ``log Z``.
        """
        return self._score_samples(self._validate_X(X))

    def _score_samples(self, X):
        return self._logits64(X)[:, 0] + self._log_det_jacobian()

    def score(self, X, y=None):
        """Mean of :meth:`score_samples`: an unnormalised mean log-likelihood.

        Because ``log Z`` is unknown, compare it only between fits that share a
        ``log Z`` estimate, not across hyper-parameters.

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

    def sample(self, n_samples=1, random_state=None):
        """Draw rows from the model, in the user's feature units.

        Chains start from the replay buffer (``training="pcd"``), the init
        distribution (``"short_run"``) or the generator (``"vera"``) and take
        ``sampler_params["sample_steps"]`` SGLD steps on the energy (default
        ``n_steps``; 0 for ``"vera"``, whose generator output is the sample).

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows.
        random_state : int, RandomState instance or None, default=None
            Seeds the draw.

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        check_is_fitted(self)
        return self._draw_samples(_check_n_samples(n_samples), None, random_state)


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
    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during fit, when X has string column names.

    See Also
    --------
    EnergyDensityEstimator : The default density model.
    sklearn.feature_selection.SelectFromModel : Another meta-transformer that
        fits an inner estimator.

    Notes
    -----
    The score column is in the units of ``estimator.score_samples``: for energy
    models an unnormalised log density, whose scale depends on the fit. Put a
    scaler after this step if the downstream model needs standardized inputs.
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
