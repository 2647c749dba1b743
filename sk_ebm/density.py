"""EnergyDensityEstimator: an unconditional energy-based density and novelty model."""

from numbers import Real

import numpy as np
from sklearn.base import OutlierMixin, _fit_context
from sklearn.utils._param_validation import Interval
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    validate_data,
)

from ._base import _BaseEnergyEstimator, _check_n_samples


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
        data rows (VERA's ``gamma``), inside the likelihood term.
    entropy_weight : float, default=1.0
        ``training="vera"`` only: weight of the generator's entropy in its
        objective ``mean(-E(x)) + entropy_weight * H(q)`` (VERA's ``lambda``).
    standardize : bool, default=True
        Standardize features internally. Scores stay densities of the original
        units: the scaler's log-Jacobian is added.
    contamination : float in (0, 0.5], default=0.1
        Fraction of training rows expected to be outliers: ``offset_`` is that
        quantile of the training scores.
    device : str, default="auto"
        ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:<index>"``.
    verbose : int, default=0
        A progress bar over epochs when positive.
    random_state : int, RandomState instance or None, default=None
        Seeds a private ``torch.Generator``; an int makes CPU fits reproducible.

    Attributes
    ----------
    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function = score_samples -
        offset_``.
    n_features_in_ : int
        Number of features seen during fit.
    feature_names_in_ : ndarray of shape (n_features_in_,)
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
        ``training="vera"``: state dicts of the ``"energy"``, ``"generator"`` and
        ``"posterior"`` Adam optimizers, so training can continue.
    sampler_params_ : dict
        ``sampler_params`` with defaults filled in.
    history_ : list of dict
        One dict per epoch: ``loss``, ``e_data``, ``e_sample``, ``grad_norm``,
        ``sampler_grad_norm``, ``learning_rate``, ``seconds``.
    loss_curve_ : list of float
        Mean loss of each epoch.
    n_iter_ : int
        Number of epochs run.
    stop_reason_ : str
        Why training stopped: ``"max_iter"``.

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
