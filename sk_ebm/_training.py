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
class LoopSettings:
    """What the epoch loop itself needs: how long, how many rows a step, and
    the standard deviation of Gaussian noise added to each batch's data rows
    (0 for none; images are trained on noisy pixels, as JEM does)."""

    max_iter: int
    batch_size: int
    data_noise: float = 0.0


def train(net, family, data, settings, generator, verbose=0, control=None, states=None):
    """Train ``net`` for ``settings.max_iter`` epochs of ``family.step``.

    The loop knows nothing of any training family: it asks ``family`` for its
    optimizers, its steps, the state to save with the network, and its remedy
    after a divergence (the protocol of :class:`sk_ebm.families.TrainingFamily`).

    Parameters
    ----------
    net : torch.nn.Module
        The energy network.
    family : TrainingFamily
        A configured and built training family.
    data : TrainingData
    settings : LoopSettings
    generator : torch.Generator
        Source of every random draw.
    verbose : int
        A progress bar over epochs when positive.
    control : LoopControl, default=None
        Early stopping and recovery settings; None for the defaults.
    states : dict, default=None
        Optimizer state dicts of a previous fit, by name, to continue it.

    Returns
    -------
    FitResult
        The history (one dict per epoch with the epoch means of the step
        statistics, plus ``epoch``, ``learning_rate``, ``seconds`` and, where
        they apply, ``val_score`` and ``recovery``), the stop reason and the
        optimizer states.

    Raises
    ------
    DivergenceError
        If training still diverges after ``control.max_recoveries``
        recoveries.
    """
    optimizers = family.optimizers(net)
    for name, state in (states or {}).items():
        optimizers[name].load_state_dict(state)

    def step(batch):
        return family.step(net, batch, optimizers, generator)

    loop = _EpochLoop(
        step,
        TrainingState({"net": net, **family.modules()}, optimizers, family.chains()),
        lambda: family.remedy(optimizers),
        control or LoopControl(),
    )
    return loop.run(data, settings, generator, verbose)


#: A recovery divides the learning rates by 4: three recoveries span a factor
#: of 64, enough to bring a learning rate 100 times too large near a sane one.
LEARNING_RATE_CUT = 0.25


def scale_learning_rates(optimizers, factor):
    """Multiply the learning rate of every group of ``optimizers`` by ``factor``."""
    for optimizer in optimizers:
        for group in optimizer.param_groups:
            group["lr"] *= factor


def descend(optimizer, loss, net=None):
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
        and ends with the network of the best one (the sampler as trained
        last).
    n_iter_no_change : int
    max_recoveries : int
        Divergences the loop recovers from before it gives up.
    health : callable or None
        Called with the epoch number after each epoch; returns None, or a
        description of a silent failure (a density ranking its training rows
        below broad noise), which the loop treats as a divergence.
    """

    validation: object = None
    n_iter_no_change: int = 10
    max_recoveries: int = 3
    health: object = None


#: A classifier whose epoch accuracy on labeled batches falls this far below
#: its best epoch's has collapsed, with a finite loss (measured: a learning
#: rate 100 times too large took digits from 80 % to 24 %). Default fits on
#: digits stay within 0.05 of their best after the first epochs.
ACCURACY_COLLAPSE = 0.25

#: Remedies applied after an accuracy collapse, which the loop answers by a
#: restart from the fit's first weights. The collapse is seen late (epoch 26
#: of a learning rate 100 times too large on digits SSL, seed 0), after every
#: epoch so far ran at a rate too large: the best epoch's weights fit the
#: labeled rows (accuracy 1.0) but reached 72 % on the test rows. Measured
#: after 100 epochs: back to the best epoch with one remedy (rate / 4) 73 %,
#: with two (rate / 16) 74 %; a restart with one 68 %, with two 93 %.
COLLAPSE_REMEDIES = 2


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

    def restore(self, snapshot, sampler=True):
        """Load ``snapshot``.

        With ``sampler=False`` only the energy network (``modules["net"]``)
        and the optimizers of its parameters are loaded: the family's other
        modules (VERA's generator), their optimizers and the chains stay as
        they are, so that a later ``warm_start`` continues each from where it
        was.
        """
        # A snapshot can be restored more than once (the last good epoch, after
        # each recovery); the loaded tensors must not alias it.
        snapshot = copy.deepcopy(snapshot)
        for key, module in self.modules.items():
            if sampler or key == "net":
                module.load_state_dict(snapshot["modules"][key])
        net = self.modules["net"]
        for key, optimizer in self.optimizers.items():
            if sampler or _optimizes_only(optimizer, net):
                optimizer.load_state_dict(snapshot["optimizers"][key])
        if self.chains is not None and sampler:
            self.chains.x = snapshot["chains"]

    def optimizer_states(self):
        return {k: o.state_dict() for k, o in self.optimizers.items()}

    def weights_finite(self):
        return all(
            torch.isfinite(p).all()
            for module in self.modules.values()
            for p in module.parameters()
        )


def _optimizes_only(optimizer, module):
    """Whether every parameter ``optimizer`` updates is one of ``module``'s."""
    own = {id(p) for p in module.parameters()}
    return all(id(p) in own for g in optimizer.param_groups for p in g["params"])


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

    def run(self, data, settings, generator, verbose):
        batches = _Batches(data, settings.batch_size, generator, settings.data_noise)
        self.history, self.recoveries, self.note = [], 0, None
        self.good = self.state.snapshot()
        self.start = self.good
        self.best = None
        self.best_accuracy = None
        bar = tqdm(
            total=settings.max_iter, disable=verbose <= 0, desc="fit", unit="epoch"
        )
        with bar, _StopOnInterrupt() as interrupted:
            stop_reason = self._epochs(batches, settings, bar, interrupted)
        if self.best is not None:
            # The best epoch's energy, but the sampler (chains, generator) as
            # it is now: it has trained longest. The best epoch is often one
            # of the first, whose chains are still near their start (on 8
            # Gaussians, 34 % of PCD's samples near a mode with those chains,
            # 62 % with these).
            self.state.restore(self.best["snapshot"], sampler=False)
        if not self.state.weights_finite():
            raise DivergenceError(
                "Training produced non-finite weights. Lower learning_rate or "
                "step_size, or raise energy_reg."
            )
        return FitResult(self.history, stop_reason, self.state.optimizer_states())

    def _epochs(self, batches, settings, bar, interrupted):
        while len(self.history) < settings.max_iter:
            start = time.perf_counter()
            try:
                row = _epoch_means(self.step, batches, interrupted)
            except _Diverged as exc:
                self._recover(str(exc), len(self.history) + 1)
                continue
            row.update(epoch=len(self.history) + 1, learning_rate=self._learning_rate())
            row["seconds"] = time.perf_counter() - start
            problem, rollback = self._silent_failure(row)
            if problem is not None:
                self._recover(problem, row["epoch"], rollback)
                continue
            self._record(row)
            bar.update()
            bar.set_postfix(_postfix(row), refresh=False)
            if interrupted.is_set():
                return "interrupted"
            if self._no_improvement():
                return "early_stopping"
        return "max_iter"

    def _silent_failure(self, row):
        """``(description, rollback)`` of a silent failure, ``(None, None)`` if none.

        An accuracy collapse restarts the fit from its first weights with
        :data:`COLLAPSE_REMEDIES` remedies (the rate that collapsed it shaped
        every epoch before); a failed health check rolls back to the last
        good epoch with one. ``rollback`` is ``(snapshot, its epoch, number of
        remedies)``, or None for the last good epoch's.
        """
        accuracy = row.get("acc")
        if accuracy is not None and self.best_accuracy is not None:
            best, epoch = self.best_accuracy
            if accuracy < best - ACCURACY_COLLAPSE:
                # The restarted fit climbs from chance again: its accuracy is
                # compared with its own best, not the old one.
                self.best_accuracy = None
                return (
                    f"the accuracy on labeled batches fell to {accuracy:.2f} from "
                    f"{best:.2f} in epoch {epoch}",
                    (self.start, 0, COLLAPSE_REMEDIES),
                )
        if self.control.health is not None:
            problem = self.control.health(row["epoch"])
            if problem is not None:
                return problem, None
        return None, None

    def _learning_rate(self):
        # The first optimizer is the energy network's; remedies lower its rate.
        optimizer = next(iter(self.state.optimizers.values()))
        return optimizer.param_groups[0]["lr"]

    def _record(self, row):
        if self.note is not None:
            row["recovery"], self.note = self.note, None
        self.good = self.state.snapshot()
        accuracy = row.get("acc")
        if accuracy is not None and (
            self.best_accuracy is None or accuracy >= self.best_accuracy[0]
        ):
            self.best_accuracy = (accuracy, row["epoch"])
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

    def _recover(self, reason, epoch, rollback=None):
        self.recoveries += 1
        snapshot, good_epoch, n_remedies = rollback or (self.good, epoch - 1, 1)
        # Even when giving up, leave the last good state: a warm-started
        # estimator's network is this one, and must not keep NaN weights.
        self.state.restore(snapshot)
        self.good = snapshot
        if self.recoveries > self.control.max_recoveries:
            raise DivergenceError(
                f"Training diverged in epoch {epoch} ({reason}) after "
                f"{self.control.max_recoveries} recoveries. Lower learning_rate "
                "or step_size, or raise energy_reg."
            )
        for _ in range(n_remedies):
            action = self.remedy()
        where = (
            f"the end of epoch {good_epoch}" if good_epoch else "the start of the fit"
        )
        self.note = f"{reason} in epoch {epoch}: rolled back to {where}; {action}"
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
    """Shuffled batches of data rows, with labeled batches when labels are sparse.

    A batch holds ``x_data`` and ``w_data`` (every kind of row); a classifier's
    also ``x_lab``, ``y_lab``, ``w_lab`` and, when some rows are unlabeled,
    ``x_unlab`` (the unlabeled rows of ``x_data``).

    With ``noise`` > 0, every row handed out gets fresh Gaussian noise of that
    standard deviation (the rows in ``data`` stay clean).
    """

    def __init__(self, data, batch_size, generator, noise=0.0):
        self.data = data
        self.generator = generator
        self.noise = noise
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
            batch = {"x_data": self._rows(idx), "w_data": _take(d.weight, idx)}
            if self.labeled is not None:
                batch.update(self._labeled_batch(idx, batch))
            yield batch

    def _labeled_batch(self, idx, batch):
        d = self.data
        if len(self.labeled) == len(d.X):
            # Fully labeled: the data batch is the labeled batch (one forward).
            return {
                "x_lab": batch["x_data"],
                "y_lab": d.y[idx],
                "w_lab": batch["w_data"],
            }
        pick = torch.randint(
            len(self.labeled),
            (len(idx),),
            generator=self.generator,
            device=d.X.device,
        )
        lab = self.labeled[pick]
        return {
            "x_lab": self._rows(lab),
            "y_lab": d.y[lab],
            "w_lab": _take(d.weight, lab),
            # The data batch's unlabeled rows, for a consistency term.
            "x_unlab": batch["x_data"][d.y[idx] < 0],
        }

    def _rows(self, idx):
        x = self.data.X[idx]
        if not self.noise:
            return x
        eps = torch.randn(x.shape, generator=self.generator, device=x.device)
        return x + self.noise * eps.to(x.dtype)


def _take(values, idx):
    return None if values is None else values[idx]


def _grad_norm(net):
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    return torch.nn.utils.get_total_norm(grads).item() if grads else 0.0


def _postfix(row):
    keys = ("loss", "acc", "e_data", "e_sample")
    return {key: f"{row[key]:.3g}" for key in keys if key in row}
