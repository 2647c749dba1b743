"""Training objectives: functions of (network, data) that return (loss, stats).

No optimizer, loop or sampler state lives here; ``_training`` owns those.
"""

import torch
import torch.nn.functional as F

from .nets import energy


def jem_loss(
    net,
    x_data,
    x_neg,
    *,
    w_data=None,
    x_lab=None,
    y_lab=None,
    w_lab=None,
    alpha=1.0,
    energy_reg=0.0,
):
    """JEM's objective: cross-entropy on labeled rows plus the PCD likelihood term.

    ``loss = CE(f(x_lab), y_lab) + alpha * (mean E(x_data) - mean E(x_neg))
    + energy_reg * (mean E(x_data)^2 + mean E(x_neg)^2)``

    The middle term is the contrastive estimate of the gradient of
    ``-log p(x)``: it lowers the energy of data and raises that of the model's own
    samples. The last term keeps energies near zero, so they cannot drift apart
    together. One forward pass serves every batch.

    Parameters
    ----------
    net : torch.nn.Module
        Maps inputs to logits.
    x_data : torch.Tensor of shape (n, n_features)
        Rows from the data, labeled or not (the p(x) term).
    x_neg : torch.Tensor of shape (m, n_features)
        Samples from the model (detached).
    w_data : torch.Tensor of shape (n,) or None
        Sample weights of ``x_data``.
    x_lab, y_lab, w_lab : torch.Tensor or None
        Labeled rows, their class indices and weights. ``x_lab`` may be
        ``x_data`` itself (the same object), which saves a forward pass. None
        for an unconditional model.
    alpha : float
        Weight of the likelihood term.
    energy_reg : float
        Weight of the squared-energy penalty.

    Returns
    -------
    loss : torch.Tensor
        Scalar to minimise.
    stats : dict
        ``ce``, ``e_data``, ``e_sample`` (mean energies) and ``acc`` (accuracy on
        the labeled batch), as floats.
    """
    separate_lab = x_lab is not None and x_lab is not x_data
    parts = [x_lab] if separate_lab else []
    logits = net(torch.cat([*parts, x_data, x_neg]))
    n_lab = len(x_lab) if separate_lab else 0
    logits_data = logits[n_lab : n_lab + len(x_data)]
    e_data = energy(logits_data)
    e_neg = energy(logits[n_lab + len(x_data) :])
    e_data_mean = _weighted_mean(e_data, w_data)
    loss = alpha * (e_data_mean - e_neg.mean())
    if energy_reg:
        loss = loss + energy_reg * (
            _weighted_mean(e_data**2, w_data) + (e_neg**2).mean()
        )
    stats = {"e_data": e_data_mean.item(), "e_sample": e_neg.mean().item()}
    if x_lab is not None:
        logits_lab = logits[:n_lab] if separate_lab else logits_data
        ce = _weighted_mean(F.cross_entropy(logits_lab, y_lab, reduction="none"), w_lab)
        loss = loss + ce
        stats["ce"] = ce.item()
        stats["acc"] = (logits_lab.argmax(1) == y_lab).float().mean().item()
    stats["loss"] = loss.item()
    return loss, stats


def _weighted_mean(values, weights):
    if weights is None:
        return values.mean()
    return (values * weights).sum() / weights.sum().clamp_min(1e-12)
