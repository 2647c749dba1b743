"""What both estimators share: parameters, devices, randomness, fitting, pickling."""

import copy
import math
import warnings
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.preprocessing import StandardScaler
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils.validation import check_is_fitted, validate_data
from torch.func import functional_call

from ._training import (
    LoopControl,
    PCDConfig,
    TrainingData,
    VERAConfig,
    train_mcmc,
    train_vera,
    vera_optimizers,
)
from .nets import (
    ACTIVATIONS,
    GaussianGenerator,
    MLPEnergyNet,
    energy,
    energy_fn,
    frozen,
)
from .samplers import INITS, SGLD, FreshChains, InitDistribution, ReplayBuffer

#: Keys accepted in ``sampler_params``, with their meaning.
SAMPLER_PARAMS = {
    "init": "where chains start: one of " + ", ".join(INITS),
    "clip_grad": "if a float, each chain's energy gradient is clipped to this norm",
    "sample_steps": "SGLD steps taken by sample() (default: n_steps; 0 for vera)",
}

#: Keys accepted in ``generator_params`` (``training="vera"``), with defaults.
GENERATOR_PARAMS = {
    "latent_dim": None,  # None: min(n_features, 64)
    "hidden_dims": None,  # None: the energy network's hidden_dims, halved
    "learning_rate": None,  # None: learning_rate
    "posterior_learning_rate": 0.02,
    "n_posterior": 20,
    "sigma_bounds": (0.01, 0.3),
    "posterior_scale": 0.1,
}

# Rows per forward pass at prediction time: bounds memory, not results.
_PREDICT_CHUNK = 4096


def _check_sampler_params(sampler_params, default_init):
    params = {"init": default_init, "clip_grad": None, "sample_steps": None}
    unknown = set(sampler_params or {}) - set(SAMPLER_PARAMS)
    if unknown:
        raise ValueError(
            f"Unknown sampler_params key(s) {sorted(unknown)}; the keys are "
            f"{sorted(SAMPLER_PARAMS)}."
        )
    params.update(sampler_params or {})
    if params["init"] not in INITS:
        raise ValueError(
            f"sampler_params['init'] must be one of {INITS}; got {params['init']!r}."
        )
    clip = params["clip_grad"]
    if clip is not None and not (isinstance(clip, Real) and clip > 0):
        raise ValueError(
            f"sampler_params['clip_grad'] must be > 0 or None; got {clip!r}."
        )
    steps = params["sample_steps"]
    if steps is not None and not (isinstance(steps, Integral) and steps >= 0):
        raise ValueError(
            "sampler_params['sample_steps'] must be an int >= 0 or None; "
            f"got {steps!r}."
        )
    return params


def _check_generator_params(generator_params, n_features, hidden_dims, lr):
    params = dict(GENERATOR_PARAMS)
    unknown = set(generator_params or {}) - set(GENERATOR_PARAMS)
    if unknown:
        raise ValueError(
            f"Unknown generator_params key(s) {sorted(unknown)}; the keys are "
            f"{sorted(GENERATOR_PARAMS)}."
        )
    params.update(generator_params or {})
    if params["latent_dim"] is None:
        params["latent_dim"] = min(n_features, 64)
    if params["hidden_dims"] is None:
        # Measured on digits SSL: half-width generators matched full-width ones
        # in accuracy at about 60% of the training time (the importance-sampled
        # entropy estimate runs the generator on 20 latents per row).
        params["hidden_dims"] = tuple(max(16, d // 2) for d in hidden_dims)
    if params["learning_rate"] is None:
        params["learning_rate"] = lr
    _require(params, "latent_dim", Integral, 1)
    _require(params, "n_posterior", Integral, 1)
    for key in ("learning_rate", "posterior_learning_rate", "posterior_scale"):
        _require(params, key, Real, 0, strict=True)
    dims = params["hidden_dims"]
    if not all(isinstance(d, Integral) and d >= 1 for d in dims):
        raise ValueError(
            f"generator_params['hidden_dims'] must be positive ints; got {dims!r}."
        )
    low, high = params["sigma_bounds"]
    if not 0 < low <= high:
        raise ValueError(
            "generator_params['sigma_bounds'] must be (low, high) with "
            f"0 < low <= high; got {params['sigma_bounds']!r}."
        )
    return params


def _require(params, key, kind, low, strict=False):
    value = params[key]
    ok = isinstance(value, kind) and (value > low if strict else value >= low)
    if not ok:
        relation = ">" if strict else ">="
        raise ValueError(
            f"generator_params[{key!r}] must be a number {relation} {low}; "
            f"got {value!r}."
        )


def resolve_device(device):
    """Turn the ``device`` parameter into a usable torch device string.

    Parameters
    ----------
    device : str
        ``"auto"`` (a CUDA GPU if there is one, else the CPU), ``"cpu"``,
        ``"cuda"`` or ``"cuda:<index>"``.

    Returns
    -------
    str

    Raises
    ------
    ValueError
        For an unknown device, or a CUDA device on a machine without it.
    """
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        parsed = torch.device(device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(
            f"device={device!r} is not a device; use 'auto', 'cpu', 'cuda' or "
            "'cuda:<index>'."
        ) from exc
    if parsed.type == "cpu":
        return "cpu"
    if parsed.type != "cuda":
        raise ValueError(
            f"device={device!r} is not supported; use 'auto', 'cpu' or 'cuda'."
        )
    if not torch.cuda.is_available():
        raise ValueError(
            f"device={device!r} was requested but no CUDA GPU is available to "
            "torch here; use device='cpu' or device='auto'."
        )
    if parsed.index is not None and parsed.index >= torch.cuda.device_count():
        raise ValueError(
            f"device={device!r} does not exist: torch sees "
            f"{torch.cuda.device_count()} CUDA device(s)."
        )
    return str(parsed)


def _check_n_samples(n_samples):
    if not isinstance(n_samples, Integral) or n_samples < 1:
        raise ValueError(f"n_samples must be a positive int; got {n_samples!r}.")
    return int(n_samples)


def _seed_from(random_state):
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


class _BaseEnergyEstimator(BaseEstimator):
    """Parameters, fitting and prediction plumbing shared by the estimators."""

    _parameter_constraints: dict = {
        "training": [StrOptions({"pcd", "short_run", "vera"})],
        "hidden_dims": [tuple, list],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "max_iter": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
        "learning_rate": [Interval(Real, 0, None, closed="neither")],
        "n_steps": [Interval(Integral, 0, None, closed="left")],
        "step_size": [Interval(Real, 0, None, closed="neither")],
        "noise_scale": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
        "buffer_size": [Interval(Integral, 1, None, closed="left")],
        "reinit_freq": [Interval(Real, 0, 1, closed="both")],
        "sampler_params": [dict, None],
        "generator_params": [dict, None],
        "alpha": [Interval(Real, 0, None, closed="left")],
        "energy_reg": [Interval(Real, 0, None, closed="left")],
        "grad_penalty": [Interval(Real, 0, None, closed="left")],
        "entropy_weight": [Interval(Real, 0, None, closed="left")],
        "standardize": ["boolean"],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [Interval(Integral, 1, None, closed="left")],
        "warm_start": ["boolean"],
        "device": [str],
        "verbose": ["verbose"],
        "random_state": ["random_state"],
    }

    # Set by subclasses: the sampler_params["init"] used when none is given.
    _default_init = "diag_gaussian"

    # ------------------------------------------------------------------ fitting
    def _fit_energy(self, X, y_index, sample_weight, n_outputs):
        """Fit the network; ``y_index`` holds class indices (-1 unlabeled) or None."""
        hidden_dims = self._check_hidden_dims()
        sampler_params = _check_sampler_params(self.sampler_params, self._default_init)
        warm = self._warm_state(X.shape[1], n_outputs, hidden_dims)
        self.device_ = warm["device"] if warm else resolve_device(self.device)
        # A warm start draws a new stream: the same seed would repeat the batches.
        seed = _seed_from(self.random_state) + (warm["n_iter"] if warm else 0)
        init_generator = torch.Generator().manual_seed(seed)
        generator = self._generator(seed + 1)

        data = self._training_data(X, y_index, sample_weight, refit_scaler=not warm)
        valid = None
        if self.early_stopping:
            data, valid = self._split_validation(data, generator)
        if warm:
            net = warm["net"]
        else:
            net = MLPEnergyNet(
                X.shape[1], n_outputs, hidden_dims, self.activation, init_generator
            ).to(self.device_)
        control = LoopControl()
        if valid is not None:
            control = LoopControl(
                validation=self._validation_score(net, data, valid, generator),
                n_iter_no_change=self.n_iter_no_change,
            )
        sampler = self._sampler(sampler_params)
        self.alpha_ = self._resolved_alpha()
        if self.training == "vera":
            result, fitted = self._fit_vera(
                net, data, init_generator, generator, control, warm
            )
        else:
            result, fitted = self._fit_mcmc(
                net, data, sampler_params, sampler, generator, control, warm
            )
        # Sampler state: the chains (MCMC) or the generator (VERA), None if unused.
        fitted = {"init_": None, "buffer_": None, "generator_": None, **fitted}
        for name, value in fitted.items():
            setattr(self, name, value)
        self.net_ = net
        self.sampler_params_ = sampler_params
        self.sampler_ = sampler
        self._set_history(result, warm)

    def _training_data(self, X, y_index, sample_weight, refit_scaler):
        # A warm start keeps the scaler: the network's input units depend on it.
        X_net = self._fit_scaler(X) if refit_scaler else self._transform(X)
        return TrainingData(
            X=self._tensor(X_net),
            weight=None if sample_weight is None else self._tensor(sample_weight),
            y=None
            if y_index is None
            else torch.as_tensor(y_index, device=self.device_),
        )

    def _set_history(self, result, warm):
        previous = warm["history"] if warm else []
        for row in result.history:
            row["epoch"] += len(previous)
        self.history_ = previous + result.history
        self.loss_curve_ = [row["loss"] for row in self.history_]
        self.n_iter_ = len(self.history_)
        self.stop_reason_ = result.stop_reason
        self.optimizer_states_ = result.optimizer_states
        if result.stop_reason == "max_iter" and _still_falling(
            [row["loss"] for row in result.history]
        ):
            warnings.warn(
                f"{type(self).__name__} reached max_iter={self.max_iter} epochs "
                "while its loss was still falling; raise max_iter, or fit again "
                "with warm_start=True to continue.",
                ConvergenceWarning,
            )

    def _warm_state(self, n_features, n_outputs, hidden_dims):
        """What a warm start continues from, or None for a fresh fit."""
        if not (self.warm_start and hasattr(self, "net_")):
            return None
        fitted_training = (
            "vera"
            if self.generator_ is not None
            else ("pcd" if self.buffer_ is not None else "short_run")
        )
        was = {
            "training": fitted_training,
            "n_features": self.net_.layers[0].in_features,
            "n_outputs": self.net_.layers[-1].out_features,
            "hidden_dims": tuple(
                layer.out_features
                for layer in self.net_.layers[:-1]
                if isinstance(layer, torch.nn.Linear)
            ),
        }
        now = {
            "training": self.training,
            "n_features": n_features,
            "n_outputs": n_outputs,
            "hidden_dims": hidden_dims,
        }
        changed = [k for k in was if was[k] != now[k]]
        if changed:
            detail = ", ".join(f"{k} {was[k]!r} -> {now[k]!r}" for k in changed)
            raise ValueError(
                f"warm_start=True cannot continue the previous fit: {detail}. "
                "Set warm_start=False to fit from scratch."
            )
        return {
            "net": self.net_,
            "device": self.device_,
            "n_iter": self.n_iter_,
            "history": list(self.history_),
            "optimizer_states": self.optimizer_states_,
            "init": self.init_,
            "buffer": self.buffer_,
            "generator": self.generator_,
            "generator_params": getattr(self, "generator_params_", None),
        }

    def _split_validation(self, data, generator):
        rows = self._validation_candidates(data)
        n_valid = max(1, round(self.validation_fraction * len(rows)))
        if n_valid >= len(rows) or len(rows) - n_valid < 1:
            raise ValueError(
                f"early_stopping needs rows to hold out: validation_fraction="
                f"{self.validation_fraction} of {len(rows)} rows leaves none for "
                "training or none for validation."
            )
        order = rows[torch.randperm(len(rows), generator=generator, device=rows.device)]
        valid = order[:n_valid]
        keep = torch.ones(len(data.X), dtype=torch.bool, device=data.X.device)
        keep[valid] = False
        return _take_rows(data, keep), _take_rows(data, valid)

    def _fit_mcmc(self, net, data, sampler_params, sampler, generator, control, warm):
        n_classes = None if data.y is None else net.layers[-1].out_features
        if warm:
            init, chains = warm["init"], warm["buffer"]
        else:
            init = InitDistribution(sampler_params["init"], data.X, data.y, n_classes)
            chains = None
            if self.training == "pcd":
                chains = ReplayBuffer(
                    init, self.buffer_size, self.reinit_freq, generator, n_classes
                )
        config = PCDConfig(
            max_iter=self.max_iter,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            n_steps=self.n_steps,
            alpha=self.alpha_,
            energy_reg=self.energy_reg,
        )
        result = train_mcmc(
            net,
            data,
            chains if chains is not None else FreshChains(init),
            sampler,
            config,
            generator,
            self.verbose,
            control=control,
            state=warm["optimizer_states"] if warm else None,
        )
        # A recovery may have lengthened the chains: sample() follows the fit.
        self.n_steps_ = config.n_steps
        return result, {"init_": init, "buffer_": chains}

    def _fit_vera(self, net, data, init_generator, generator, control, warm):
        if warm:
            params, sampler_net = warm["generator_params"], warm["generator"]
        else:
            params = _check_generator_params(
                self.generator_params,
                data.X.shape[1],
                tuple(self.hidden_dims),
                self.learning_rate,
            )
            sampler_net = GaussianGenerator(
                params["latent_dim"],
                data.X.shape[1],
                tuple(params["hidden_dims"]),
                self.activation,
                params["sigma_bounds"],
                params["posterior_scale"],
                init_generator,
            ).to(self.device_)
        config = VERAConfig(
            max_iter=self.max_iter,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            alpha=self.alpha_,
            energy_reg=self.energy_reg,
            grad_penalty=self.grad_penalty,
            entropy_weight=self.entropy_weight,
            unlabeled_entropy=getattr(self, "unlabeled_entropy", 0.0),
            generator_learning_rate=params["learning_rate"],
            posterior_learning_rate=params["posterior_learning_rate"],
            n_posterior=params["n_posterior"],
        )
        optimizers = vera_optimizers(net, sampler_net, config)
        if warm:
            for name, optimizer in optimizers.items():
                optimizer.load_state_dict(warm["optimizer_states"][name])
        result = train_vera(
            net,
            sampler_net,
            optimizers,
            data,
            config,
            generator,
            self.verbose,
            control=control,
        )
        self.n_steps_ = self.n_steps
        return result, {"generator_": sampler_net, "generator_params_": params}

    def _resolved_alpha(self):
        """``alpha``, with ``"auto"`` replaced by the training family's value."""
        if self.alpha == "auto":
            return self._AUTO_ALPHA[self.training]
        return self.alpha

    def _check_hidden_dims(self):
        dims = tuple(self.hidden_dims)
        if not all(isinstance(d, Integral) and d >= 1 for d in dims):
            raise ValueError(
                "hidden_dims must be a tuple of positive ints; "
                f"got {self.hidden_dims!r}."
            )
        return dims

    def _fit_scaler(self, X):
        self.scaler_ = StandardScaler().fit(X) if self.standardize else None
        return self._transform(X)

    def _transform(self, X):
        return X if self.scaler_ is None else self.scaler_.transform(X)

    def _inverse_transform(self, Z):
        return Z if self.scaler_ is None else self.scaler_.inverse_transform(Z)

    def _log_det_jacobian(self):
        """log |dz/dx| of the scaler: turns a density of z into one of x."""
        if self.scaler_ is None:
            return 0.0
        return -float(np.sum(np.log(self.scaler_.scale_)))

    def _sampler(self, sampler_params):
        noise = self.noise_scale
        if noise == "auto":
            noise = math.sqrt(2 * self.step_size)
        return SGLD(self.step_size, noise, sampler_params["clip_grad"])

    def _generator(self, seed):
        return torch.Generator(device=self.device_).manual_seed(seed)

    def _tensor(self, array, dtype=torch.float32):
        # torch.tensor copies, so read-only (memmapped) input is fine.
        return torch.tensor(np.asarray(array), dtype=dtype, device=self.device_)

    # --------------------------------------------------------------- prediction
    def _validate_X(self, X):
        check_is_fitted(self)
        return validate_data(self, X, reset=False, dtype=[np.float64, np.float32])

    def _net_input64(self, X):
        return torch.tensor(
            self._transform(X), dtype=torch.float64, device=self.device_
        )

    def _params64(self):
        return {
            name: value.detach().to(torch.float64)
            for name, value in self.net_.state_dict().items()
        }

    def _logits64(self, X):
        """Logits in float64 for validated ``X``, as a numpy array.

        Training runs in float32; predictions use a float64 copy of the weights so
        that a row's result does not depend on the batch it is computed in.
        """
        params = self._params64()
        Z = self._net_input64(X)
        with torch.no_grad():
            out = [
                functional_call(self.net_, params, (Z[i : i + _PREDICT_CHUNK],))
                for i in range(0, len(Z), _PREDICT_CHUNK)
            ]
        return torch.cat(out).cpu().numpy()

    def _grad_norm_score64(self, X):
        """Minus the norm of grad_z log p(z), JEM's "approximate mass" score."""
        params = self._params64()
        Z = self._net_input64(X)
        scores = []
        for i in range(0, len(Z), _PREDICT_CHUNK):
            z = Z[i : i + _PREDICT_CHUNK].requires_grad_(True)
            with torch.enable_grad():
                log_p = -energy(functional_call(self.net_, params, (z,)))
                (grad,) = torch.autograd.grad(log_p.sum(), z)
            scores.append(-grad.norm(dim=1))
        return torch.cat(scores).cpu().numpy()

    def _draw_samples(self, n_samples, y_index, random_state):
        """SGLD samples in the user's units; from p(x | y) if ``y_index``.

        Unconditional chains start from the replay buffer (or the init
        distribution) and follow the energy. For ``p(x | y)``, starting points
        are resampled from a pool of model samples with weights ``p(y | x)``
        (sampling-importance-resampling: pool ~ p(x), so the draw ~ p(x | y)),
        then follow the class energy ``-f(x)[y]``.
        """
        generator = self._generator(_seed_from(random_state))
        sampler = self.sampler_
        steps = self.sampler_params_["sample_steps"]
        if steps is None:
            steps = 0 if self.generator_ is not None else self.n_steps_
        y = None
        if y_index is None:
            x0 = self._start_points(n_samples, generator)
        else:
            y = torch.as_tensor(y_index, dtype=torch.long, device=self.device_)
            x0 = self._resample_for_classes(y, sampler, generator)
        with frozen(self.net_):
            x, _ = sampler.run(x0, energy_fn(self.net_, y), steps, generator)
        return self._inverse_transform(x.double().cpu().numpy())

    def _start_points(self, n, generator):
        if self.generator_ is not None:
            with torch.no_grad():
                return self.generator_.sample(n, generator)[0]
        if self.buffer_ is not None:
            return self.buffer_.sample(n, generator)[0]
        return self.init_.draw(n, generator)

    def _resample_for_classes(self, y, sampler, generator):
        if self.generator_ is not None:
            pool = self._start_points(max(4 * len(y), 1000), generator)
        elif self.buffer_ is not None:
            pool = self.buffer_.x
        else:
            # Short-run: the pool is what training used as model samples.
            start = self.init_.draw(max(4 * len(y), 1000), generator)
            with frozen(self.net_):
                pool, _ = sampler.run(
                    start, energy_fn(self.net_), self.n_steps_, generator
                )
        with torch.no_grad():
            proba = torch.softmax(self.net_(pool), dim=1)
        pick = torch.multinomial(proba.T[y], 1, replacement=True, generator=generator)
        return pool[pick[:, 0]]

    # ----------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        if getattr(self, "device_", "cpu") != "cpu":
            # Store CPU copies so a model fitted on a GPU loads anywhere.
            state = {key: _to_cpu(value) for key, value in state.items()}
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        device = getattr(self, "device_", "cpu")
        if device == "cpu":
            return
        if not torch.cuda.is_available():
            warnings.warn(
                f"This model was fitted on {device!r}, which is not available here; "
                "it will run on the CPU.",
                UserWarning,
            )
            self.device_ = "cpu"
            return
        for key in ("net_", "init_", "buffer_", "generator_"):
            if getattr(self, key, None) is not None:
                setattr(self, key, getattr(self, key).to(device))


def _take_rows(data, index):
    """The rows ``index`` (indices or a mask) of a :class:`TrainingData`."""
    return TrainingData(
        X=data.X[index],
        weight=None if data.weight is None else data.weight[index],
        y=None if data.y is None else data.y[index],
    )


def _still_falling(losses):
    """Whether the last epochs' losses are clearly below the ones before them.

    Compares the mean loss of the last fifth of the epochs (at least two) with
    the fifth before it: falling means lower by more than twice the standard
    error of the difference, so the noise of stochastic training does not
    count, and by more than 1 % of the loss's range over the fit, so a slow
    drift after the fit has settled does not count either. With fewer than
    four epochs, falling means last below first.
    """
    losses = np.asarray(losses, dtype=float)
    if len(losses) < 2:
        return False
    if len(losses) < 4:
        return bool(losses[-1] < losses[0])
    width = max(2, len(losses) // 5)
    recent, before = losses[-width:], losses[-2 * width : -width]
    drop = before.mean() - recent.mean()
    stderr = math.sqrt((recent.var(ddof=1) + before.var(ddof=1)) / width)
    return bool(drop > 2 * stderr and drop > 0.01 * np.ptp(losses))


def _to_cpu(value):
    if isinstance(value, dict):
        return {key: _to_cpu(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_to_cpu(item) for item in value]
    if isinstance(value, torch.nn.Module):
        return copy.deepcopy(value).cpu()
    if torch.is_tensor(value):
        return value.cpu()
    if isinstance(value, (ReplayBuffer, FreshChains, InitDistribution)):
        return copy.deepcopy(value).to("cpu")
    return value
