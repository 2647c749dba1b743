"""The training loop: owns the optimizer, the epochs and the history.

Estimators hand it tensors that are already validated and on the right device;
it returns one dict per epoch.
"""

import math
import time
from dataclasses import dataclass

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


def train_mcmc(net, data, chains, sampler, config, generator, verbose=0):
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
    sampler : BaseSampler
    config : PCDConfig
    generator : torch.Generator
        Source of every random draw.
    verbose : int
        A progress bar over epochs when positive.

    Returns
    -------
    history : list of dict
        One dict per epoch with the epoch means of ``loss``, ``ce``, ``acc``,
        ``e_data``, ``e_sample``, ``grad_norm`` (of the parameters),
        ``sampler_grad_norm``, plus ``epoch``, ``learning_rate`` and
        ``seconds``.

    Raises
    ------
    DivergenceError
        If the loss or the weights stop being finite.
    """
    optimizer = torch.optim.Adam(net.parameters(), lr=config.learning_rate)

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

    history = _run_epochs(step, data, config, generator, verbose)
    _check_weights(net)
    return history


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


def train_vera(net, sampler_net, optimizers, data, config, generator, verbose=0):
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

    Returns
    -------
    history : list of dict
        As :func:`train_mcmc`, with ``grad_penalty``, ``entropy`` (the
        generator's entropy surrogate), ``sigma`` (its output noise) and, for
        classifiers, ``entropy_y``, instead of ``sampler_grad_norm``.
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

    history = _run_epochs(step, data, config, generator, verbose)
    _check_weights(net)
    return history


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
        raise DivergenceError(
            f"Training diverged: the loss is {loss.item()}. Lower learning_rate "
            "or step_size, or raise energy_reg."
        )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    norm = _grad_norm(net) if net is not None else 0.0
    optimizer.step()
    return norm


def _run_epochs(step, data, config, generator, verbose):
    """Call ``step(batch)`` over shuffled batches for ``config.max_iter`` epochs."""
    batches = _Batches(data, config.batch_size, generator)
    history = []
    epochs = tqdm(
        range(config.max_iter), disable=verbose <= 0, desc="fit", unit="epoch"
    )
    for epoch in epochs:
        start = time.perf_counter()
        totals = {}
        for batch in batches.epoch():
            for key, value in step(batch).items():
                totals[key] = totals.get(key, 0.0) + value
        row = {key: value / batches.n_batches for key, value in totals.items()}
        row.update(epoch=epoch + 1, learning_rate=config.learning_rate)
        row["seconds"] = time.perf_counter() - start
        history.append(row)
        epochs.set_postfix(_postfix(row), refresh=False)
    return history


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


def _check_weights(net):
    if not all(torch.isfinite(p).all() for p in net.parameters()):
        raise DivergenceError(
            "Training produced non-finite weights. Lower learning_rate or "
            "step_size, or raise energy_reg."
        )


def _postfix(row):
    keys = ("loss", "acc", "e_data", "e_sample")
    return {key: f"{row[key]:.3g}" for key in keys if key in row}
