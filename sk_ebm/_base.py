"""What both estimators share: parameters, devices, randomness, fitting, pickling.

Nothing here names a training family, a network or a sampler: each is looked
up in its registry (:mod:`sk_ebm.families`, :mod:`sk_ebm.nets`,
:mod:`sk_ebm.samplers`) by the estimator's string parameter.
"""

import copy
import math
import warnings
from functools import partial
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

from ._dict_params import TABLES, resolve_dict_param
from ._training import LoopControl, LoopSettings, TrainingData, train
from .families import FAMILIES
from .likelihood import GaussianBase, kernel_log_weights
from .nets import (
    ACTIVATIONS,
    NETWORKS,
    BaseCorrectedNet,
    KernelCorrectedNet,
    build_network,
    energy,
    energy_fn,
    frozen,
    network_config,
)
from .nets.conv import check_input_shape
from .preprocessing import PixelScaler
from .samplers import SAMPLERS, build_sampler

# Rows per forward pass at prediction time: bounds memory, not results.
_PREDICT_CHUNK = 4096

#: Standard deviation of the Gaussian noise added to training images, in the
#: [-1, 1] units of :class:`~sk_ebm.preprocessing.PixelScaler`: JEM's 0.03. It
#: smooths the data distribution, so the energy has no spikes at the exact
#: training images that short SGLD chains could never reach.
PIXEL_NOISE = 0.03


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

    # The registries' key views are live: a family, network or sampler
    # registered later is accepted too.
    _parameter_constraints: dict = {
        "training": [StrOptions(FAMILIES.keys())],
        "network": [StrOptions(NETWORKS.keys()), StrOptions({"auto"})],
        "input_shape": [tuple, list, None],
        "sampler": [StrOptions(SAMPLERS.keys()), StrOptions({"auto"})],
        "hidden_dims": [tuple, list],
        "channels": [tuple, list],
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
        "score_params": [dict, None],
        "base": [StrOptions({"gaussian", "kde"}), None],
        "alpha": [Interval(Real, 0, None, closed="left"), StrOptions({"auto"})],
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

    #: ``sampler_params["init"]`` when none is given; each estimator sets it.
    _default_init = "diag_gaussian"
    #: The key of a family's ``auto_alpha`` that applies; each estimator sets it.
    _model_kind = "density"

    # ------------------------------------------------------------------ fitting
    def _fit_energy(self, X, y_index, sample_weight, n_outputs):
        """Fit the network; ``y_index`` holds class indices (-1 unlabeled) or None."""
        if X.shape[0] < 2:
            raise ValueError(
                f"{type(self).__name__} needs at least 2 rows to fit; got "
                f"{X.shape[0]} sample (n_samples=1)."
            )
        params = self._resolved_params()
        self._resolve_auto(params, *X.shape)
        if params["input_shape"] is not None:
            params["input_shape"] = check_input_shape(params["input_shape"], X.shape[1])
        config = network_config(params["network"], params, X.shape[1], n_outputs)
        params["network_config"] = config
        self.input_shape_ = params["input_shape"]
        warm = self._continues_fit(config, params["base"])
        self.device_ = self.device_ if warm else resolve_device(self.device)
        # A warm start draws a new stream: the same seed would repeat the batches.
        seed = _seed_from(self.random_state) + (self.n_iter_ if warm else 0)
        init_generator = torch.Generator().manual_seed(seed)
        generator = self._generator(seed + 1)

        data = self._training_data(X, y_index, sample_weight, refit_scaler=not warm)
        valid = None
        if params["early_stopping"]:
            data, valid = self._split_validation(data, generator)
        self._resolve_with_data(params, data, seed)
        family = self._configured_family(params, warm)
        data_noise = self._data_noise()
        if warm:
            net = self.net_.to(self.device_)
        else:
            net = self._new_network(params, data, family, init_generator, data_noise)
            net = net.to(self.device_)
            n_classes = None if y_index is None else n_outputs
        control = self._loop_control(net, data, valid, generator, seed)
        if not warm:
            family.build(net, data, n_classes, generator, init_generator)
        result = train(
            net,
            family,
            data,
            LoopSettings(
                max_iter=self.max_iter,
                batch_size=self.batch_size,
                data_noise=data_noise,
            ),
            generator,
            self.verbose,
            control=control,
            states=self.optimizer_states_ if warm else None,
        )
        self._set_fitted_state(family, net, config, params["alpha"])
        self.base_, self.early_stopping_ = params["base"], params["early_stopping"]
        self.data_min_, self.data_max_ = X.min(axis=0), X.max(axis=0)
        self._set_history(result, warm)

    def _configured_family(self, params, warm):
        """The training family (the fitted one on a warm start), configured."""
        family = self.family_ if warm else FAMILIES[self.training]()
        if self.alpha == "auto":
            images = params["input_shape"] is not None
            params["alpha"] = family.auto_alpha_for(self._model_kind, images)
        family.configure(params, self._build_sampler(family, params))
        return family

    def _loop_control(self, net, data, valid, generator, seed):
        """Health check, and early stopping on ``valid`` rows when asked."""
        # The health check draws from a generator of its own: the fit's stream
        # stays what it was without it.
        control = LoopControl(health=self._health_check(net, data, seed + 3))
        if valid is not None:
            control.validation = self._validation_score(net, data, valid, generator)
            control.n_iter_no_change = self.n_iter_no_change
        return control

    def _new_network(self, params, data, family, init_generator, data_noise):
        """The registered network, on the base distribution if ``base`` says so."""
        net = build_network(params["network_config"], init_generator)
        if params["base"] is None:
            return net
        # The network is trained on the data plus noise (images): the base
        # fits that distribution, not the clean rows'.
        noise_variance = family.base_noise_variance + data_noise**2
        bound = self._correction_bound(data.X.shape[0])
        if params["base"] == "kde":
            centers, log_weights = _kernel_centers(data, init_generator)
            bandwidth = math.sqrt(_scott_bandwidth(data.X) ** 2 + noise_variance)
            return KernelCorrectedNet(net, bound, centers, bandwidth, log_weights)
        gaussian = GaussianBase.fit(
            data.X, sample_weight=data.weight, noise_variance=noise_variance
        )
        return BaseCorrectedNet(
            net,
            gaussian.mean.to(data.X.dtype),
            gaussian.scale_tril.to(data.X.dtype),
            bound,
        )

    def _resolve_auto(self, params, n_samples, n_features):
        """Fill in the ``"auto"`` values that depend on the family and the rows."""

    def _resolve_with_data(self, params, data, seed):
        """Fill in the parameters whose values depend on the training rows."""

    def _correction_bound(self, n_samples):
        """Largest correction, in nats, the network adds to the base's log density."""
        return BASE_CORRECTION_BOUND

    def _health_check(self, net, data, seed):
        """A check of the fit after each epoch (see ``LoopControl.health``)."""
        return None

    def _build_sampler(self, family, params):
        """The ``sampler`` (``"auto"``: the training family's choice)."""
        name = family.default_sampler if self.sampler == "auto" else self.sampler
        return build_sampler(name, params)

    def _resolved_params(self):
        """The parameters, with every dict parameter's defaults filled in.

        ``sampler_params``' keys are also merged in at the top level, where
        samplers and training families read them.
        """
        params = self.get_params(deep=False)
        caller = type(self).__name__
        for name, table in TABLES.items():
            params[name] = resolve_dict_param(params.get(name), table, name, caller)
        sampler_params = dict(params["sampler_params"])
        if sampler_params["init"] is None:
            sampler_params["init"] = self._default_init
        if params["network"] == "auto":
            params["network"] = "mlp" if params["input_shape"] is None else "conv"
        return {**params, **sampler_params}

    def _set_fitted_state(self, family, net, config, alpha):
        """Every fitted attribute of the network and the family, in one place."""
        previous = getattr(self, "family_", None)
        for name in previous.fitted_attributes() if previous is not None else ():
            # A fit with another family must not leave the old one's state.
            self.__dict__.pop(name, None)
        self.training_ = self.training
        self.family_ = family
        self.net_ = net
        self.network_config_ = config
        self.n_outputs_ = config["n_outputs"]
        self.alpha_ = alpha
        for name, value in family.fitted_attributes().items():
            setattr(self, name, value)

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
        previous = self.history_ if warm else []
        for row in result.history:
            row["epoch"] += len(previous)
        self.history_ = previous + result.history
        self.loss_curve_ = [row["loss"] for row in self.history_]
        self.n_iter_ = len(self.history_)
        self.stop_reason_ = result.stop_reason
        self.optimizer_states_ = result.optimizer_states
        if result.stop_reason == "max_iter":
            self._warn_if_unfinished(result.history)

    def _warn_if_unfinished(self, history):
        """ConvergenceWarning when ``max_iter`` cut a fit that was still improving.

        With early stopping, unfinished means its patience had not run out:
        the held-out score set a record within the last ``n_iter_no_change``
        epochs (or the loop would have stopped), which says more than the
        training loss; without it, a training loss still clearly falling
        (:func:`_still_falling`).
        """
        advice = "raise max_iter, or fit again with warm_start=True to continue."
        name = f"{type(self).__name__} reached max_iter={self.max_iter} epochs"
        scores = [row["val_score"] for row in history if "val_score" in row]
        if scores:
            best = int(np.argmax(scores)) + 1
            message = (
                f"{name} before early stopping's patience ran out (best held-out "
                f"score in epoch {best} of {len(scores)}, n_iter_no_change="
                f"{self.n_iter_no_change}); {advice}"
            )
        elif _still_falling([row["loss"] for row in history]):
            message = f"{name} while its loss was still falling; {advice}"
        else:
            return
        warnings.warn(message, ConvergenceWarning)

    def _continues_fit(self, config, base):
        """Whether this fit continues the previous one (``warm_start``).

        Raises
        ------
        ValueError
            If the previous fit had another training family or network shape.
        """
        if not (self.warm_start and hasattr(self, "net_")):
            return False
        was = {
            "training": self.training_,
            "base": _base_name(self.net_),
            **self.network_config_,
        }
        now = {"training": self.training, "base": base, **config}
        changed = [key for key in was if was[key] != now.get(key)]
        if changed:
            detail = ", ".join(f"{k} {was[k]!r} -> {now.get(k)!r}" for k in changed)
            raise ValueError(
                f"warm_start=True cannot continue the previous fit: {detail}. "
                "Set warm_start=False to fit from scratch."
            )
        return True

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

    def _fit_scaler(self, X):
        """Fit the internal scaler: per-feature for tables, one range for images."""
        if not self.standardize:
            self.scaler_ = None
        elif self.input_shape is not None:
            self.scaler_ = PixelScaler().fit(X)
        else:
            self.scaler_ = StandardScaler().fit(X)
        return self._transform(X)

    def _data_noise(self):
        """Noise on training rows: :data:`PIXEL_NOISE` on scaled images, else 0."""
        return PIXEL_NOISE if isinstance(self.scaler_, PixelScaler) else 0.0

    def _sample_range(self):
        """Where :meth:`sample` clips: per feature, or for images all pixels'."""
        if getattr(self, "input_shape_", None) is None:
            return self.data_min_, self.data_max_
        return self.data_min_.min(), self.data_max_.max()

    def _transform(self, X):
        return X if self.scaler_ is None else self.scaler_.transform(X)

    def _transform_tensor(self, X):
        """:meth:`_transform` as a differentiable torch function of ``X``.

        Both internal scalers are affine, ``(X - center) / scale``:
        ``StandardScaler`` centers on ``mean_``, ``PixelScaler`` on ``center_``.
        """
        if self.scaler_ is None:
            return X
        center = getattr(self.scaler_, "mean_", None)
        if center is None:
            center = self.scaler_.center_
        as_tensor = partial(torch.as_tensor, dtype=X.dtype, device=X.device)
        return (X - as_tensor(center)) / as_tensor(self.scaler_.scale_)

    def _inverse_transform(self, Z):
        return Z if self.scaler_ is None else self.scaler_.inverse_transform(Z)

    def _log_det_jacobian(self):
        """log |dz/dx| of the scaler: turns a density of z into one of x."""
        if self.scaler_ is None:
            return 0.0
        return -float(np.sum(np.log(self.scaler_.scale_)))

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

    def _draw_samples(self, n_samples, y_index, random_state, clip):
        """Samples in the user's units; from p(x | y) if ``y_index``.

        The sampler is built from the current parameters (``sampler``,
        ``step_size``, ``noise_scale``, ``sampler_params``), so ``set_params``
        after fit changes what ``sample`` does, shrunk as often as the fit's
        recoveries shrank the training sampler. Unconditional chains start from
        the training family's start points. For ``p(x | y)``, starting points
        are resampled from a pool of model samples with weights ``p(y | x)``
        (sampling-importance-resampling: pool ~ p(x), so the draw ~ p(x | y)),
        then follow the class energy ``-f(x)[y]``.
        """
        generator = self._generator(_seed_from(random_state))
        params = self._resolved_params()
        family = self.family_
        sampler = family.prepare_sampler(self._build_sampler(family, params))
        steps = params["sample_steps"]
        if steps is None:
            steps = family.default_sample_steps
            if y_index is not None:
                # Class-conditional chains start from class Gaussians, not
                # from model samples: they need steps on the class energy even
                # where an unconditional draw needs none (VERA's generator).
                steps = max(steps, params["n_steps"])
        y = None
        if y_index is None:
            x0 = family.start_points(n_samples, generator)
        else:
            y = torch.as_tensor(y_index, dtype=torch.long, device=self.device_)
            x0 = self._class_start_points(y, sampler, generator)
        with frozen(self.net_):
            x, _ = sampler.run(x0, energy_fn(self.net_, y), steps, generator)
        samples = self._inverse_transform(x.double().cpu().numpy())
        if clip:
            samples = np.clip(samples, *self._sample_range())
        return samples

    def _class_start_points(self, y, sampler, generator):
        """Starting points of chains for classes ``y`` (class indices).

        Resampled from a pool of model samples with weights ``p(y | x)``
        (sampling-importance-resampling: pool ~ p(x), so the draw ~ p(x | y)).
        """

        def advance(x0, n_steps):
            with frozen(self.net_):
                return sampler.run(x0, energy_fn(self.net_), n_steps, generator)[0]

        pool = self.family_.class_pool(max(4 * len(y), 1000), generator, advance)
        with torch.no_grad():
            proba = torch.softmax(self.net_(pool), dim=1)
        pick = torch.multinomial(proba.T[y], 1, replacement=True, generator=generator)
        return pool[pick[:, 0]]

    # ----------------------------------------------------------------- pickling
    def __getstate__(self):
        state = super().__getstate__()
        if getattr(self, "device_", "cpu") != "cpu":
            # Store CPU copies so a model fitted on a GPU loads anywhere. One
            # deep copy keeps shared objects shared (``buffer_`` is the
            # family's buffer).
            state = {k: _move(v, "cpu") for k, v in copy.deepcopy(state).items()}
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
        for key, value in vars(self).items():
            if key.endswith("_"):
                setattr(self, key, _move(value, device))


#: Largest magnitude, in nats, of the network's correction to the base
#: (``base="gaussian"``): the classifier's, and the density model's for many
#: rows (it lowers it for few, see ``density.DENSITY_ROWS_PER_NAT``). Measured
#: with PCD (seed 0): digits 0-4 against 5-9 AUROC 93.3 / 95.9 / 95.6 with
#: bounds 5 / 20 / 64 (95.3 without a base). A row 10 standard deviations out
#: along one direction has a base log density about 50 below a typical row's,
#: more than twice this bound, so it scores below every training row.
BASE_CORRECTION_BOUND = 20.0


def _take_rows(data, index):
    """The rows ``index`` (indices or a mask) of a :class:`TrainingData`."""
    return TrainingData(
        X=data.X[index],
        weight=None if data.weight is None else data.weight[index],
        y=None if data.y is None else data.y[index],
    )


#: Most kernels ``base="kde"`` keeps: each energy evaluation costs one distance
#: per kernel, so larger training sets give a random subset of their rows.
MAX_KERNEL_CENTERS = 5000


def _kernel_centers(data, generator):
    """The rows the kernel base is centered on, and their log weights."""
    X, weight = data.X, data.weight
    if len(X) > MAX_KERNEL_CENTERS:
        keep = torch.randperm(len(X), generator=generator, device="cpu")
        keep = keep[:MAX_KERNEL_CENTERS].to(X.device)
        X = X[keep]
        weight = None if weight is None else weight[keep]
    return X, kernel_log_weights(len(X), weight, like=X)


def _scott_bandwidth(X):
    """Scott's rule, ``n ** (-1 / (d + 4))`` times the rows' typical scale.

    The scale is the root mean variance of the features: 1 for standardized
    rows, where this is :class:`sklearn.neighbors.KernelDensity`'s
    ``bandwidth="scott"``.
    """
    n_rows, n_features = X.shape
    scale = X.double().var(0, correction=0).mean().clamp_min(1e-12).sqrt().item()
    return scale * n_rows ** (-1.0 / (n_features + 4))


def _base_name(net):
    """The ``base`` a fitted network was built with."""
    if isinstance(net, KernelCorrectedNet):
        return "kde"
    return "gaussian" if isinstance(net, BaseCorrectedNet) else None


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


def _move(value, device):
    """``value`` on ``device``: tensors, modules and objects with a ``to``."""
    if isinstance(value, dict):
        return {key: _move(item, device) for key, item in value.items()}
    if isinstance(value, list):
        return [_move(item, device) for item in value]
    if isinstance(value, (torch.nn.Module, torch.Tensor)) or _has_to(value):
        return value.to(device)
    return value


def _has_to(value):
    # The package's own stateful objects (training families, chains) move
    # themselves in place; numpy arrays and sklearn objects have no ``to``.
    return type(value).__module__.startswith("sk_ebm.") and hasattr(value, "to")
