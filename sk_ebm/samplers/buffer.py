"""Where chains start: initial distributions and the persistent replay buffer."""

import torch

#: The distributions fitted to the data (:class:`InitDistribution`).
DATA_INITS = ("uniform", "diag_gaussian", "data_gaussian", "class_gaussian")
#: Every ``sampler_params["init"]``: the data's, and the model's own base
#: resampled by the model (:class:`ImportanceResampledInit`).
INITS = (*DATA_INITS, "base")

#: Base draws weighed per point by :class:`ImportanceResampledInit`.
N_CANDIDATES = 32
#: At most this many base draws per call (unless one per point is more): a
#: large draw, such as a replay buffer's first fill from an untrained network,
#: gets fewer candidates per point, so its cost stays bounded.
MAX_CANDIDATES = 16384
#: Candidates evaluated by the network at once, to bound the memory of a
#: kernel base's (candidates x centers) distances.
CANDIDATE_CHUNK = 4096


def build_init(kind, X, y=None, n_classes=None, net=None):
    """Where chains start: ``sampler_params["init"]`` for a fit.

    Parameters
    ----------
    kind : str
        One of :data:`INITS`.
    X, y, n_classes
        The training inputs and labels, for :class:`InitDistribution`.
    net : torch.nn.Module or None
        The energy network, for ``"base"``.

    Returns
    -------
    InitDistribution or ImportanceResampledInit
    """
    if kind == "base":
        return ImportanceResampledInit(net)
    return InitDistribution(kind, X, y, n_classes)


class InitDistribution:
    """A distribution fitted to the training inputs, to start chains from.

    Parameters
    ----------
    kind : {"uniform", "diag_gaussian", "data_gaussian", "class_gaussian"}
        ``"uniform"``: uniform over the per-feature range of the data.
        ``"diag_gaussian"``: a Gaussian with the data's per-feature mean and
        variance, that is N(0, I) on standardized inputs.
        ``"data_gaussian"``: a Gaussian with the data's mean and full covariance
        (plus ``jitter`` on the diagonal).
        ``"class_gaussian"``: one full-covariance Gaussian per class, fitted to
        the labeled rows of that class (JEM++). Each class covariance is shrunk
        towards the covariance of all rows, with weight ``n_features / (n_c +
        n_features)``, so that a class with few labels still gives a proper
        Gaussian.
    X : torch.Tensor of shape (n_samples, n_features)
        Training inputs.
    y : torch.LongTensor of shape (n_samples,) or None
        Class index of each row, -1 for unlabeled rows. Needed for
        ``"class_gaussian"`` only.
    n_classes : int or None
        Number of classes (``"class_gaussian"`` only).
    jitter : float
        Added to the diagonal of fitted covariances.
    """

    def __init__(self, kind, X, y=None, n_classes=None, jitter=1e-3):
        if kind not in DATA_INITS:
            raise ValueError(f"Unknown init {kind!r}; choose one of {DATA_INITS}.")
        if kind == "class_gaussian" and (y is None or n_classes is None):
            raise ValueError("init='class_gaussian' needs class labels.")
        self.kind = kind
        if kind == "uniform":
            self.low = X.min(0).values
            self.high = X.max(0).values
        elif kind == "diag_gaussian":
            self.mean = X.mean(0)
            self.std = X.std(0, correction=0).clamp_min(1e-6)
        else:
            X64 = X.double()
            mean, cov = X64.mean(0), _covariance(X64)
            if kind == "data_gaussian":
                self.mean = mean.to(X.dtype)
                self.chol = _cholesky(cov, jitter).to(X.dtype)
            else:
                self.class_mean, self.class_chol = _class_gaussians(
                    X64, y, n_classes, mean, cov, jitter
                )
                self.class_mean = self.class_mean.to(X.dtype)
                self.class_chol = self.class_chol.to(X.dtype)

    def draw(self, n, generator, y=None):
        """Draw ``n`` points; ``y`` (class indices) matters for class_gaussian only."""
        if self.kind == "uniform":
            u = self._rand((n, self.low.numel()), generator, uniform=True)
            return self.low + u * (self.high - self.low)
        if self.kind == "diag_gaussian":
            return self.mean + self.std * self._rand((n, self.mean.numel()), generator)
        if self.kind == "data_gaussian":
            z = self._rand((n, self.mean.numel()), generator)
            return self.mean + z @ self.chol.T
        if y is None:
            y = torch.randint(
                len(self.class_mean), (n,), generator=generator, device=self._device
            )
        z = self._rand((n, self.class_mean.shape[1]), generator)
        return self.class_mean[y] + torch.einsum("nij,nj->ni", self.class_chol[y], z)

    def to(self, device):
        """Move the fitted tensors to ``device``; returns self."""
        for name, value in vars(self).items():
            if torch.is_tensor(value):
                setattr(self, name, value.to(device))
        return self

    @property
    def _device(self):
        return next(v for v in vars(self).values() if torch.is_tensor(v)).device

    def _rand(self, shape, generator, uniform=False):
        draw = torch.rand if uniform else torch.randn
        dtype = next(v for v in vars(self).values() if torch.is_tensor(v)).dtype
        return draw(shape, generator=generator, device=self._device, dtype=dtype)


def _covariance(X):
    centered = X - X.mean(0)
    return centered.T @ centered / max(len(X) - 1, 1)


def _cholesky(cov, jitter):
    eye = torch.eye(len(cov), dtype=cov.dtype, device=cov.device)
    return torch.linalg.cholesky(cov + jitter * eye)


def _class_gaussians(X, y, n_classes, mean, cov, jitter):
    n_features = X.shape[1]
    means, chols = [], []
    for c in range(n_classes):
        Xc = X[y == c]
        n_c = len(Xc)
        shrink = n_features / (n_c + n_features)
        cov_c = _covariance(Xc) if n_c > 1 else torch.zeros_like(cov)
        means.append(Xc.mean(0) if n_c else mean)
        chols.append(_cholesky((1 - shrink) * cov_c + shrink * cov, jitter))
    return torch.stack(means), torch.stack(chols)


class ImportanceResampledInit:
    """Draws from the model itself, by importance resampling from its base.

    A model on a base distribution q (:class:`sk_ebm.nets.BaseCorrectedNet`,
    :class:`sk_ebm.nets.KernelCorrectedNet`) is ``p(x) = q(x) exp(c(x)) / Z``,
    with ``c`` its bounded correction. Each point drawn here is one of
    ``n_candidates`` draws from q, picked with probability proportional to
    ``exp(c)`` (sampling-importance-resampling, one pick per point, so points
    do not repeat one another), for class ``y`` to ``p(x, y) / q(x)``. The
    draws are approximate, between the base and the model: the more
    candidates, the closer to the model. Chains
    that start here start in the model's own proportions between its modes,
    which persistent chains, rarely crossing from one mode to another, do not
    give it (benchmarks/README.md, "Chains that start from the model").

    Parameters
    ----------
    net : torch.nn.Module
        The energy network on its base: it has ``sample_base(n, generator)``
        and ``correction_logits(x)``. Read at every draw, so draws follow the
        network as it trains.
    n_candidates : int
        Base draws per point, fewer when ``n * n_candidates`` exceeds
        ``max_candidates``.
    max_candidates : int
        Most base draws of one call, unless ``n`` itself is larger.
    """

    #: The ``sampler_params["init"]`` this class serves, as
    #: :attr:`InitDistribution.kind` does.
    kind = "base"

    def __init__(self, net, n_candidates=N_CANDIDATES, max_candidates=MAX_CANDIDATES):
        if not hasattr(net, "sample_base"):
            raise ValueError(
                "Draws from the model's base distribution (chains of "
                "sampler_params={'init': 'base'}, VERA's negatives of "
                "generator_params['base_negatives'] > 0) need a base, and this "
                "model has none: set base='gaussian' or base='kde', or choose "
                "another init or base_negatives=0."
            )
        self.net = net
        self.n_candidates = n_candidates
        self.max_candidates = max_candidates

    def draw(self, n, generator, y=None):
        """Draw ``n`` points; ``y`` (class indices) makes them class-conditional."""
        k = max(1, min(self.n_candidates, self.max_candidates // max(n, 1)))
        with torch.no_grad():
            candidates = self.net.sample_base(n * k, generator)
            if k == 1:
                return candidates
            log_weights = self._log_weights(candidates, y, k).view(n, k)
            pick = torch.multinomial(
                torch.softmax(log_weights, dim=1), 1, generator=generator
            )
        return candidates.view(n, k, -1)[torch.arange(n), pick[:, 0]]

    def _log_weights(self, candidates, y, k):
        """``log p(x) / q(x)`` (or ``log p(x, y) / q(x)``), up to a constant."""
        classes = None if y is None else y.repeat_interleave(k)
        parts = []
        for start in range(0, len(candidates), CANDIDATE_CHUNK):
            x = candidates[start : start + CANDIDATE_CHUNK]
            logits = self.net.correction_logits(x)
            if classes is None:
                parts.append(torch.logsumexp(logits, dim=1))
            else:
                chunk_classes = classes[start : start + CANDIDATE_CHUNK]
                parts.append(logits.gather(1, chunk_classes[:, None])[:, 0])
        return torch.cat(parts)

    def to(self, device):
        """Nothing to move: the network moves with its estimator; returns self."""
        return self

    @property
    def _device(self):
        return next(self.net.buffers()).device


class ReplayBuffer:
    """Persistent chains for PCD (JEM Algorithm 1).

    The buffer holds ``size`` points. Slot ``i`` belongs to class ``i % n_classes``
    when classes are given, so per-class chains never mix: sampling for class
    ``c`` draws and writes back only slots of class ``c``.

    Parameters
    ----------
    init : InitDistribution
        Where new chains start, at creation and on re-initialization.
    size : int
        Number of stored points.
    reinit_freq : float
        Probability that a drawn chain is replaced by a fresh draw from ``init``.
    generator : torch.Generator
        Source of the initial draw.
    n_classes : int or None
        If set, slots are assigned to classes round-robin.
    """

    def __init__(self, init, size, reinit_freq, generator, n_classes=None):
        self.init = init
        self.size = size
        self.reinit_freq = reinit_freq
        self.n_classes = n_classes
        device = init._device
        self.slot_class = (
            None if n_classes is None else torch.arange(size, device=device) % n_classes
        )
        self.x = init.draw(size, generator, y=self.slot_class)

    def sample(self, n, generator, y=None):
        """Draw ``n`` chains, some re-initialized.

        Parameters
        ----------
        n : int
            Number of chains.
        generator : torch.Generator
        y : torch.LongTensor of shape (n,) or None
            Class of each chain (per-class slots); None draws from all slots.

        Returns
        -------
        x0 : torch.Tensor of shape (n, n_features)
            Starting points (a copy).
        idx : torch.LongTensor of shape (n,)
            Their slots, to pass to :meth:`update`.
        """
        device = self.x.device
        u = torch.rand(n, generator=generator, device=device)
        if y is None:
            idx = (u * self.size).long().clamp_max(self.size - 1)
        else:
            # Slots of class c are c, c + K, c + 2K, ...
            k = self.n_classes
            n_slots = (self.size - y + k - 1) // k
            idx = y + k * (u * n_slots).long().clamp_max(n_slots - 1)
        x0 = self.x[idx]
        reinit = torch.rand(n, generator=generator, device=device) < self.reinit_freq
        n_reinit = int(reinit.sum())
        if n_reinit:
            slot_y = None if self.slot_class is None else self.slot_class[idx[reinit]]
            x0[reinit] = self.init.draw(n_reinit, generator, y=slot_y)
        return x0, idx

    def update(self, idx, x):
        """Write the advanced chains back into their slots."""
        self.x[idx] = x.detach()

    def to(self, device):
        """Move the buffer and its init distribution to ``device``; returns self."""
        self.init.to(device)
        self.x = self.x.to(device)
        if self.slot_class is not None:
            self.slot_class = self.slot_class.to(device)
        return self


class FreshChains:
    """Chains that start from ``init`` at every draw: short-run SGLD, no memory.

    It has the interface of :class:`ReplayBuffer`, so one training loop serves
    both.

    Parameters
    ----------
    init : InitDistribution
        Where every chain starts.
    """

    def __init__(self, init):
        self.init = init

    def sample(self, n, generator, y=None):
        """Draw ``n`` fresh starting points; the slot indices are None."""
        return self.init.draw(n, generator, y=y), None

    def update(self, idx, x):
        """Nothing to remember."""

    def to(self, device):
        """Move the init distribution to ``device``; returns self."""
        self.init.to(device)
        return self
