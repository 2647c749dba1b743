"""The training loop: owns the optimizer, the epochs and the history.

Estimators hand it tensors that are already validated and on the right device;
it returns one dict per epoch.
"""

import copy
import math
import signal
import threading
import time
import warnings
from dataclasses import dataclass, field

import torch
from tqdm.auto import tqdm

from .exceptions import DivergenceError
from .nets import energy, energy_fn, frozen
from .objectives import (
    entropy_score,
    jem_loss,
    posterior_scale_loss,
    vera_ebm_loss,
)


@dataclass
class TrainingData:
    """Validated training tensors, all on one device.

    Attributes
    ----------
    X : torch.Tensor of shape (n_samples, n_features)
        Every row (labeled or not), in the network's input units.
    weight : torch.Tensor of shape (n_samples,) or None
        Sample weights.
    y : torch.LongTensor of shape (n_samples,) or None
        Class index of each row, -1 for unlabeled rows; None for an
        unconditional model.
    """

    X: torch.Tensor
    weight: torch.Tensor | None = None
    y: torch.Tensor | None = None


@dataclass
class PCDConfig:
    """Hyper-parameters of the MCMC training loop (PCD and short-run SGLD)."""

    max_iter: int
    batch_size: int
    learning_rate: float
    n_steps: int
    alpha: float
    energy_reg: float


def train_mcmc(
    net, data, chains, sampler, config, generator, verbose=0, control=None, state=None
):
    """Train ``net`` by maximum likelihood with MCMC negatives (JEM Algorithm 1).

    Each step draws a batch of data rows (and, when some rows are unlabeled, a
    separate batch of labeled rows), draws chains from ``chains``, advances them
    ``config.n_steps`` steps with ``sampler`` on the frozen network, writes them
    back, and takes one Adam step on :func:`~sk_ebm.objectives.jem_loss`.

    Parameters
    ----------
    net : torch.nn.Module
    data : TrainingData
    chains : ReplayBuffer or FreshChains
        PCD's persistent buffer, or fresh chains for short-run SGLD.
    sampler : SGLD
    config : PCDConfig
        Read at every step: a recovery from divergence lowers its
        ``learning_rate`` and lengthens its ``n_steps``.
    generator : torch.Generator
        Source of every random draw.
    verbose : int
        A progress bar over epochs when positive.
    control : LoopControl, default=None
        Early stopping and recovery settings; None for the defaults.
    state : dict, default=None
        ``{"energy": optimizer state_dict}`` of a previous fit, to continue it.

    Returns
    -------
    FitResult
        The history (one dict per epoch with the epoch means of ``loss``,
        ``ce``, ``acc``, ``e_data``, ``e_sample``, ``grad_norm`` of the
        parameters, ``sampler_grad_norm``, plus ``epoch``, ``learning_rate``,
        ``seconds`` and, where they apply, ``val_score`` and ``recovery``), the
        stop reason and the optimizer states.

    Raises
    ------
    DivergenceError
        If training still diverges after ``control.max_recoveries``
        recoveries.
    """
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)
    if state is not None:
        optimizer.load_state_dict(state["energy"])
    optimizers = {"energy": optimizer}

    def step(batch):
        x0, slots = chains.sample(len(batch["x_data"]), generator)
        with frozen(net):
            x_neg, sampler_stats = sampler.run(
                x0, energy_fn(net), config.n_steps, generator
            )
        chains.update(slots, x_neg)
        loss, stats = jem_loss(
            net,
            x_neg=x_neg,
            alpha=config.alpha,
            energy_reg=config.energy_reg,
            **batch,
        )
        stats["grad_norm"] = _descend(optimizer, loss, net)
        stats["sampler_grad_norm"] = sampler_stats["grad_norm"]
        return stats

    loop = _EpochLoop(
        step,
        TrainingState({"net": net}, optimizers, chains),
        _mcmc_remedy(config, sampler, optimizers),
        control or LoopControl(),
    )
    return loop.run(data, config, generator, verbose)


#: A recovery divides the learning rates by 4: three recoveries span a factor
#: of 64, enough to bring a learning rate 100 times too large near a sane one.
_LEARNING_RATE_CUT = 0.25


def _mcmc_remedy(config, sampler, optimizers):
    """After a divergence: cut the learning rate, halve SGLD's step, lengthen chains.

    Halving the step and doubling the steps keeps the distance a chain travels
    (Langevin time ``n_steps * step_size``); the chains are lengthened once, to
    twice their first length, so that repeated recoveries stay affordable.
    """
    longest = 2 * config.n_steps

    def remedy():
        _scale_learning_rates(config, optimizers.values(), _LEARNING_RATE_CUT)
        sampler.step_size *= 0.5
        sampler.noise_scale *= math.sqrt(0.5)
        config.n_steps = min(2 * config.n_steps, longest)
        return (
            f"learning_rate -> {config.learning_rate:.3g}, "
            f"step_size -> {sampler.step_size:.3g}, n_steps -> {config.n_steps}"
        )

    return remedy


def _scale_learning_rates(config, optimizers, factor):
    config.learning_rate *= factor
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] *= factor


@dataclass
class VERAConfig:
    """Hyper-parameters of VERA training (see :func:`train_vera`)."""

    max_iter: int
    batch_size: int
    learning_rate: float
    alpha: float
    energy_reg: float
    grad_penalty: float
    entropy_weight: float
    unlabeled_entropy: float
    generator_learning_rate: float
    posterior_learning_rate: float
    n_posterior: int


def vera_optimizers(net, sampler_net, config):
    """Adam with betas (0, 0.9) for the energy and the generator (VERA's choice).

    Parameters
    ----------
    net : torch.nn.Module
        The energy network.
    sampler_net : GaussianGenerator
    config : VERAConfig

    Returns
    -------
    dict of torch.optim.Optimizer
        ``"energy"``, ``"generator"`` and ``"posterior"`` (the proposal scale).
    """
    betas = (0.0, 0.9)
    return {
        "energy": torch.optim.Adam(
            net.parameters(), lr=config.learning_rate, betas=betas
        ),
        "generator": torch.optim.Adam(
            sampler_net.generator_parameters(),
            lr=config.generator_learning_rate,
            betas=betas,
        ),
        "posterior": torch.optim.Adam(
            [sampler_net.log_posterior_scale], lr=config.posterior_learning_rate
        ),
    }


def train_vera(
    net, sampler_net, optimizers, data, config, generator, verbose=0, control=None
):
    """Train ``net`` with negatives from a learned generator (VERA, no MCMC).

    Each step: draw ``(x, h)`` from the generator; one step of the energy on
    :func:`~sk_ebm.objectives.vera_ebm_loss` with ``x`` as negatives; one step
    of the generator maximising ``mean(-E(x)) + entropy_weight * H(q)``, the
    entropy gradient coming from :func:`~sk_ebm.objectives.entropy_score`; one
    step of the proposal scale on its ELBO.

    Parameters
    ----------
    net : torch.nn.Module
        The energy network.
    sampler_net : GaussianGenerator
    optimizers : dict
        From :func:`vera_optimizers` (or a previous fit, to continue it).
    data : TrainingData
    config : VERAConfig
    generator : torch.Generator
    verbose : int
    control : LoopControl, default=None

    Returns
    -------
    FitResult
        As :func:`train_mcmc`; the history has ``grad_penalty``, ``entropy``
        (the generator's entropy surrogate), ``sigma`` (its output noise) and,
        for classifiers, ``entropy_y``, instead of ``sampler_grad_norm``.
    """

    def step(batch):
        x_gen, h = sampler_net.sample(len(batch["x_data"]), generator)
        loss, stats = vera_ebm_loss(
            net,
            x_neg=x_gen.detach(),
            alpha=config.alpha,
            energy_reg=config.energy_reg,
            grad_penalty=config.grad_penalty,
            unlabeled_entropy=config.unlabeled_entropy,
            **batch,
        )
        stats["grad_norm"] = _descend(optimizers["energy"], loss, net)
        stats.update(
            _vera_generator_step(
                net, sampler_net, x_gen, h, optimizers, config, generator
            )
        )
        return stats

    loop = _EpochLoop(
        step,
        TrainingState({"net": net, "generator": sampler_net}, optimizers),
        _vera_remedy(config, optimizers),
        control or LoopControl(),
    )
    return loop.run(data, config, generator, verbose)


def _vera_remedy(config, optimizers):
    """After a divergence: cut both learning rates, double the gradient penalty."""

    def remedy():
        _scale_learning_rates(
            config, [optimizers["energy"], optimizers["generator"]], _LEARNING_RATE_CUT
        )
        config.generator_learning_rate *= _LEARNING_RATE_CUT
        config.grad_penalty = max(2 * config.grad_penalty, 0.1)
        return (
            f"learning_rate -> {config.learning_rate:.3g}, "
            f"grad_penalty -> {config.grad_penalty:.3g}"
        )

    return remedy


def _vera_generator_step(net, sampler_net, x_gen, h, optimizers, config, generator):
    """Step the generator on ``-(mean log p(x) + entropy_weight * H)``, then ``s``."""
    score = entropy_score(sampler_net, x_gen, h, config.n_posterior, generator)
    with frozen(net):
        log_p = -energy(net(x_gen)).mean()
    entropy = (score * x_gen).sum(1).mean()
    _descend(optimizers["generator"], -(log_p + config.entropy_weight * entropy))
    sampler_net.clamp_sigma()
    # Only the proposal scale learns from its ELBO: grad, not backward, so the
    # generator's own gradients are left alone.
    post_loss = posterior_scale_loss(sampler_net, x_gen, h, generator)
    (grad,) = torch.autograd.grad(post_loss, sampler_net.log_posterior_scale)
    sampler_net.log_posterior_scale.grad = grad
    optimizers["posterior"].step()
    return {"entropy": entropy.item(), "sigma": sampler_net.sigma.item()}


def _descend(optimizer, loss, net=None):
    """One optimizer step on ``loss``; returns the gradient norm of ``net``."""
    if not torch.isfinite(loss):
        raise _Diverged(f"the loss became {loss.item()}")
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = _grad_norm(net) if net is not None else 0.0
    optimizer.step()
    return norm


#: Past these, a step counts as diverged. On digits, default fits stayed below
#: |loss| 2, |e_data - e_sample| 10 and a parameter gradient norm of 1; a
#: learning rate 100 times too large below 20, 10 and 50: the limits leave
#: orders of magnitude for other data before they call a fit diverged.
DIVERGENCE_LIMITS = {"loss": 1e5, "energy_gap": 1e5, "grad_norm": 1e6}


class _Diverged(Exception):
    """Raised inside an epoch; the loop rolls back and recovers."""


def _check_step(stats):
    loss = stats["loss"]
    if not math.isfinite(loss) or abs(loss) > DIVERGENCE_LIMITS["loss"]:
        raise _Diverged(f"the loss reached {loss:.3g}")
    if "e_sample" in stats:
        gap = abs(stats["e_data"] - stats["e_sample"])
        if not math.isfinite(gap) or gap > DIVERGENCE_LIMITS["energy_gap"]:
            raise _Diverged(f"data and sample energies drifted {gap:.3g} apart")
    norm = stats.get("grad_norm", 0.0)
    if not math.isfinite(norm) or norm > DIVERGENCE_LIMITS["grad_norm"]:
        raise _Diverged(f"the gradient norm reached {norm:.3g}")


@dataclass
class LoopControl:
    """What the epoch loop does besides stepping.

    Attributes
    ----------
    validation : callable or None
        Called after each epoch, returns a score (higher is better); with it,
        the loop stops after ``n_iter_no_change`` epochs without a better score
        and ends in the state of the best one.
    n_iter_no_change : int
    max_recoveries : int
        Divergences the loop recovers from before it gives up.
    """

    validation: object = None
    n_iter_no_change: int = 10
    max_recoveries: int = 3


@dataclass
class FitResult:
    """What a training run returns: history, why it stopped, optimizer states."""

    history: list
    stop_reason: str
    optimizer_states: dict = field(default_factory=dict)


class TrainingState:
    """Everything one fit mutates, saved and restored together.

    Parameters
    ----------
    modules : dict of torch.nn.Module
    optimizers : dict of torch.optim.Optimizer
    chains : ReplayBuffer or FreshChains or None
        Persistent chains are part of the state (their tensor ``x``).
    """

    def __init__(self, modules, optimizers, chains=None):
        self.modules = modules
        self.optimizers = optimizers
        self.chains = chains if hasattr(chains, "x") else None

    def snapshot(self):
        return copy.deepcopy(
            {
                "modules": {k: m.state_dict() for k, m in self.modules.items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "chains": None if self.chains is None else self.chains.x,
            }
        )

    def restore(self, snapshot):
        # A snapshot can be restored more than once (the last good epoch, after
        # each recovery); the loaded tensors must not alias it.
        snapshot = copy.deepcopy(snapshot)
        for key, module in self.modules.items():
            module.load_state_dict(snapshot["modules"][key])
        for key, optimizer in self.optimizers.items():
            optimizer.load_state_dict(snapshot["optimizers"][key])
        if self.chains is not None:
            self.chains.x = snapshot["chains"]

    def optimizer_states(self):
        return {k: o.state_dict() for k, o in self.optimizers.items()}

    def weights_finite(self):
        return all(
            torch.isfinite(p).all()
            for module in self.modules.values()
            for p in module.parameters()
        )


class _EpochLoop:
    """Epochs of ``step(batch)`` with recovery, early stopping and interrupts.

    After each good epoch the state is saved. A diverged step (see
    :data:`DIVERGENCE_LIMITS`) restores the last good state, applies
    ``remedy()`` (which lowers learning rates, and the like, and describes what
    it did), warns, and repeats the epoch; after ``max_recoveries`` it raises
    :class:`DivergenceError`. Ctrl-C (SIGINT) ends the fit after the current
    step; a second one interrupts at once.
    """

    def __init__(self, step, state, remedy, control):
        self.step = step
        self.state = state
        self.remedy = remedy
        self.control = control

    def run(self, data, config, generator, verbose):
        batches = _Batches(data, config.batch_size, generator)
        self.history, self.recoveries, self.note = [], 0, None
        self.good = self.state.snapshot()
        self.best = None
        bar = tqdm(
            total=config.max_iter, disable=verbose <= 0, desc="fit", unit="epoch"
        )
        with bar, _StopOnInterrupt() as interrupted:
            stop_reason = self._epochs(batches, config, bar, interrupted)
        if self.best is not None:
            self.state.restore(self.best["snapshot"])
        if not self.state.weights_finite():
            raise DivergenceError(
                "Training produced non-finite weights. Lower learning_rate or "
                "step_size, or raise energy_reg."
            )
        return FitResult(self.history, stop_reason, self.state.optimizer_states())

    def _epochs(self, batches, config, bar, interrupted):
        while len(self.history) < config.max_iter:
            start = time.perf_counter()
            try:
                row = _epoch_means(self.step, batches, interrupted)
            except _Diverged as exc:
                self._recover(str(exc), len(self.history) + 1)
                continue
            row.update(epoch=len(self.history) + 1, learning_rate=config.learning_rate)
            row["seconds"] = time.perf_counter() - start
            self._record(row)
            bar.update()
            bar.set_postfix(_postfix(row), refresh=False)
            if interrupted.is_set():
                return "interrupted"
            if self._no_improvement():
                return "early_stopping"
        return "max_iter"

    def _record(self, row):
        if self.note is not None:
            row["recovery"], self.note = self.note, None
        self.good = self.state.snapshot()
        if self.control.validation is not None:
            row["val_score"] = float(self.control.validation())
            if self.best is None or row["val_score"] > self.best["score"]:
                self.best = {
                    "score": row["val_score"],
                    "epoch": row["epoch"],
                    "snapshot": self.good,
                }
        self.history.append(row)

    def _no_improvement(self):
        if self.best is None:
            return False
        waited = len(self.history) - self.best["epoch"]
        return waited >= self.control.n_iter_no_change

    def _recover(self, reason, epoch):
        self.recoveries += 1
        # Even when giving up, leave the last good state: a warm-started
        # estimator's network is this one, and must not keep NaN weights.
        self.state.restore(self.good)
        if self.recoveries > self.control.max_recoveries:
            raise DivergenceError(
                f"Training diverged in epoch {epoch} ({reason}) after "
                f"{self.control.max_recoveries} recoveries. Lower learning_rate "
                "or step_size, or raise energy_reg."
            )
        action = self.remedy()
        self.note = (
            f"{reason} in epoch {epoch}: rolled back to the end of epoch "
            f"{epoch - 1}; {action}"
        )
        warnings.warn(f"Training diverged: {self.note}.", RuntimeWarning, stacklevel=2)


def _epoch_means(step, batches, interrupted):
    """Run one epoch (or up to an interrupt); the mean of each step statistic."""
    totals, n_steps = {}, 0
    for batch in batches.epoch():
        stats = step(batch)
        _check_step(stats)
        n_steps += 1
        for key, value in stats.items():
            totals[key] = totals.get(key, 0.0) + value
        if interrupted.is_set():
            break
    return {key: value / n_steps for key, value in totals.items()}


class _StopOnInterrupt:
    """Turn the first Ctrl-C into a flag the loop checks after each step.

    Only the main thread can own a signal handler; elsewhere (joblib or dask
    workers) Ctrl-C keeps its usual meaning. A second Ctrl-C restores the usual
    meaning, so a user can still break out of a long step.
    """

    def __enter__(self):
        self.flag = threading.Event()
        self.previous = None
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self.flag

    def _handle(self, signum, frame):
        if self.flag.is_set():
            raise KeyboardInterrupt
        self.flag.set()

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)


class _Batches:
    """Shuffled batches of data rows, with labeled batches when labels are sparse."""

    def __init__(self, data, batch_size, generator):
        self.data = data
        self.generator = generator
        n = len(data.X)
        self.batch_size = min(batch_size, n)
        self.n_batches = math.ceil(n / self.batch_size)
        self.labeled = None
        if data.y is not None:
            self.labeled = torch.nonzero(data.y >= 0)[:, 0]

    def epoch(self):
        d = self.data
        order = torch.randperm(len(d.X), generator=self.generator, device=d.X.device)
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            batch = {"x_data": d.X[idx], "w_data": _take(d.weight, idx)}
            if self.labeled is not None:
                batch.update(self._labeled_batch(idx, batch))
            yield batch

    def _labeled_batch(self, idx, batch):
        d = self.data
        if len(self.labeled) == len(d.X):
            # Fully labeled: the data batch is the labeled batch (one forward).
            lab = idx
            x_lab = batch["x_data"]
        else:
            pick = torch.randint(
                len(self.labeled),
                (len(idx),),
                generator=self.generator,
                device=d.X.device,
            )
            lab = self.labeled[pick]
            x_lab = d.X[lab]
        return {"x_lab": x_lab, "y_lab": d.y[lab], "w_lab": _take(d.weight, lab)}


def _take(values, idx):
    return None if values is None else values[idx]


def _grad_norm(net):
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).item() if grads else 0.0


def _postfix(row):
    keys = ("loss", "acc", "e_data", "e_sample")
    return {key: f"{row[key]:.3g}" for key in keys if key in row}
