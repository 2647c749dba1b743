"""Training objectives: functions of (network, data) that return (loss, stats).

No optimizer, loop or sampler state lives here; ``_training`` owns those.
"""

import torch
import torch.nn.functional as F

from .nets import energy, residual_energy


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
    separate = _labeled_apart(x_data, x_lab)
    logits = net(torch.cat([*([x_lab] if separate else []), x_data, x_neg]))
    logits_lab, logits_data, logits_neg = _split_labeled(
        logits, x_lab if separate else None, len(x_data)
    )
    e_data, e_neg = energy(logits_data), energy(logits_neg)
    residuals = (
        residual_energy(net, x_data, e_data),
        residual_energy(net, x_neg, e_neg),
    )
    loss, stats = _contrastive_terms(
        e_data, e_neg, w_data, alpha, energy_reg, residuals
    )
    if x_lab is not None:
        ce, ce_stats = cross_entropy_terms(
            logits_lab if separate else logits_data, y_lab, w_lab
        )
        loss = loss + ce
        stats.update(ce_stats)
    stats["loss"] = loss.item()
    return loss, stats


def vera_ebm_loss(
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
    grad_penalty=0.0,
    unlabeled_entropy=0.0,
):
    """The energy network's loss in VERA: contrastive term plus a gradient penalty.

    ``loss = CE(f(x_lab), y_lab) + alpha * (mean E(x_data) - mean E(x_neg)
    + grad_penalty * mean ||grad_x E(x_data)||^2 / 2)
    + energy_reg * (mean E(x_data)^2 + mean E(x_neg)^2)
    + unlabeled_entropy * mean H(p(y | x_data))``

    The same contrastive term as :func:`jem_loss`, with negatives from the
    generator instead of MCMC. The penalty on the data's energy gradient keeps the
    energy smooth where the data are, which is what makes training without MCMC
    stable (VERA's ``gamma``). The entropy of ``p(y | x)`` on data rows (VERA's
    ``beta``) pushes decision boundaries away from unlabeled rows.

    Parameters
    ----------
    net : torch.nn.Module
        Maps inputs to logits.
    x_data : torch.Tensor of shape (n, n_features)
        Data rows, labeled or not.
    x_neg : torch.Tensor of shape (m, n_features)
        Generator samples (detached).
    w_data, x_lab, y_lab, w_lab
        As in :func:`jem_loss`.
    alpha : float
        Weight of the likelihood term (and its gradient penalty).
    energy_reg : float
        Weight of the squared-energy penalty.
    grad_penalty : float
        Weight of the penalty on the squared norm of the data's energy gradient.
    unlabeled_entropy : float
        Weight of the mean entropy of ``p(y | x)`` on data rows (classifiers).

    Returns
    -------
    loss : torch.Tensor
    stats : dict
        As :func:`jem_loss`, plus ``grad_penalty`` (the mean squared gradient
        norm over two) and, for classifiers, ``entropy_y`` (mean entropy of
        ``p(y | x)`` on data rows).
    """
    separate = _labeled_apart(x_data, x_lab)
    # The data rows get their own forward pass: the gradient penalty's double
    # backward then runs over them alone, not over the labeled and generated
    # rows too (measured: the largest single cost of a VERA step).
    x_data = x_data.detach().requires_grad_(grad_penalty > 0)
    logits_data = net(x_data)
    others = net(torch.cat([x_lab, x_neg]) if separate else x_neg)
    logits_lab, _, logits_neg = _split_labeled(others, x_lab if separate else None, 0)
    e_data, e_neg = energy(logits_data), energy(logits_neg)
    residuals = (
        residual_energy(net, x_data, e_data),
        residual_energy(net, x_neg, e_neg),
    )
    penalty = None
    if grad_penalty > 0:
        (grad,) = torch.autograd.grad(residuals[0].sum(), x_data, create_graph=True)
        penalty = weighted_mean(grad.pow(2).sum(1) / 2, w_data)
    loss, stats = _contrastive_terms(
        e_data, e_neg, w_data, alpha, energy_reg, residuals, penalty, grad_penalty
    )
    if penalty is not None:
        stats["grad_penalty"] = penalty.item()
    if x_lab is not None:
        ce, ce_stats = cross_entropy_terms(
            logits_lab if separate else logits_data, y_lab, w_lab
        )
        loss = loss + ce
        stats.update(ce_stats)
        if unlabeled_entropy:
            entropy_y = weighted_mean(_softmax_entropy(logits_data), w_data)
            loss = loss + unlabeled_entropy * entropy_y
            stats["entropy_y"] = entropy_y.item()
    stats["loss"] = loss.item()
    return loss, stats


def _labeled_apart(x_data, x_lab):
    """Whether the labeled rows need a forward pass of their own."""
    return x_lab is not None and x_lab is not x_data


def _split_labeled(logits, x_lab, n_data):
    """Split outputs of ``cat([x_lab, x_data, x_neg])`` into their three parts.

    ``x_lab`` is None when the labeled rows are not in the batch; ``n_data``
    is 0 when the data rows are not either.
    """
    n_lab = 0 if x_lab is None else len(x_lab)
    return (
        logits[:n_lab],
        logits[n_lab : n_lab + n_data],
        logits[n_lab + n_data :],
    )


def _contrastive_terms(
    e_data, e_neg, w_data, alpha, energy_reg, residuals, penalty=None, weight=0.0
):
    """``alpha * (mean E(data) - mean E(neg) [+ weight * penalty])``, plus
    ``energy_reg`` times the mean squared residual energies (the network's own
    part, :func:`~sk_ebm.nets.residual_energy`).

    Returns the loss and the mean energies (``e_data``, ``e_sample``).
    """
    e_data_mean = weighted_mean(e_data, w_data)
    generative = e_data_mean - e_neg.mean()
    if penalty is not None:
        generative = generative + weight * penalty
    loss = alpha * generative
    if energy_reg:
        r_data, r_neg = residuals
        loss = loss + energy_reg * (
            weighted_mean(r_data**2, w_data) + (r_neg**2).mean()
        )
    return loss, {"e_data": e_data_mean.item(), "e_sample": e_neg.mean().item()}


def cross_entropy_terms(logits_lab, y_lab, w_lab):
    """Weighted cross-entropy of labeled rows, and its stats (``ce``, ``acc``).

    Parameters
    ----------
    logits_lab : torch.Tensor of shape (n, n_classes)
    y_lab : torch.LongTensor of shape (n,)
    w_lab : torch.Tensor of shape (n,) or None

    Returns
    -------
    ce : torch.Tensor
    stats : dict
    """
    ce = weighted_mean(F.cross_entropy(logits_lab, y_lab, reduction="none"), w_lab)
    accuracy = (logits_lab.argmax(1) == y_lab).float().mean().item()
    return ce, {"ce": ce.item(), "acc": accuracy}


def virtual_adversarial_loss(net, x, radius, generator):
    """Virtual adversarial training's consistency term (Miyato et al., 2018).

    ``KL(p(y | x) || p(y | x + r))``, averaged over rows, where ``r`` is the
    perturbation of norm ``radius`` that changes ``p(y | x)`` most, found by
    one power iteration from a random direction. The clean prediction is the
    target (no gradient flows through it), so the term asks the classifier to
    be smooth around each row, labeled or not, which is how unlabeled rows
    move the class boundaries into low-density gaps.

    Parameters
    ----------
    net : torch.nn.Module
        Maps inputs to logits.
    x : torch.Tensor of shape (n, n_features)
        Rows (the unlabeled rows of a batch).
    radius : float
        Norm of each row's perturbation, in the network's input units.
    generator : torch.Generator
        For the random starting direction.

    Returns
    -------
    torch.Tensor
        Scalar: the mean KL divergence at the adversarial perturbation.
    """
    with torch.no_grad():
        target = F.softmax(net(x), dim=1)

    def divergence(shift):
        log_q = F.log_softmax(net(x + shift), dim=1)
        return F.kl_div(log_q, target, reduction="batchmean")

    probe = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    probe = (VAT_PROBE * radius * _unit_rows(probe)).requires_grad_(True)
    # allow_unused: a network that ignores its input has no direction to find.
    (grad,) = torch.autograd.grad(divergence(probe), probe, allow_unused=True)
    if grad is None:
        grad = torch.zeros_like(probe)
    return divergence(radius * _unit_rows(grad.detach()))


#: Size of the power iteration's probe, as a share of the radius: the
#: divergence's gradient there gives the direction of steepest change. Small,
#: as in the VAT paper (1e-6): on digits with 10 labels per class, seed 0,
#: 0.1 gave 94.7 % and 1e-6 gave 96.2 %.
VAT_PROBE = 1e-6


def _unit_rows(v):
    return v / v.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None]


def weighted_mean(values, weights):
    """Mean of ``values`` weighted by ``weights`` (plain mean when None)."""
    if weights is None:
        return values.mean()
    return (values * weights).sum() / weights.sum().clamp_min(1e-12)


def entropy_score(sampler_net, x, h, n_posterior, generator):
    """Estimate ``-grad_x log q(x)`` for rows drawn from a Gaussian generator.

    ``grad_x log q(x) = E_{q(h | x)}[-(x - g(h)) / sigma^2]``. The posterior
    ``q(h | x)`` is approximated by self-normalised importance sampling with the
    proposal ``N(h0, diag(s^2))`` around the latent ``h0`` that produced ``x``
    (VERA's estimator): ``n_posterior`` latents ``h_i``, weights
    ``w_i`` proportional to ``q(x, h_i) / N(h_i; h0, s^2)``.

    Parameters
    ----------
    sampler_net : GaussianGenerator
        The generator (its ``g``, ``sigma`` and proposal scale ``s``).
    x : torch.Tensor of shape (n, n_features)
        Generator samples.
    h : torch.Tensor of shape (n, latent_dim)
        The latents that produced them.
    n_posterior : int
        Importance samples per row.
    generator : torch.Generator
        Source of the proposal draws.

    Returns
    -------
    torch.Tensor of shape (n, n_features)
        The estimate ``c`` (no gradient). ``mean(sum(c * x))`` is a surrogate
        whose gradient in the generator's parameters is that of the entropy of
        ``q``.
    """
    with torch.no_grad():
        x, h = x.detach(), h.detach()
        scale = sampler_net.log_posterior_scale.exp()
        eps = torch.randn((n_posterior, *h.shape), generator=generator, device=h.device)
        h_post = h + scale * eps
        means = sampler_net(h_post.reshape(-1, h.shape[1])).reshape(
            n_posterior, *x.shape
        )
        sigma2 = sampler_net.sigma**2
        log_lik = -0.5 * ((x - means) ** 2).sum(-1) / sigma2
        log_prior = -0.5 * (h_post**2).sum(-1)
        log_proposal = -0.5 * (eps**2).sum(-1)  # constants cancel in softmax
        weights = torch.softmax(log_lik + log_prior - log_proposal, dim=0)
        return (weights[..., None] * (x - means)).sum(0) / sigma2


def posterior_scale_loss(sampler_net, x, h, generator):
    """Minus the ELBO of the proposal ``N(h0, diag(s^2))`` for ``q(h | x)``.

    ``ELBO = E_r[log q(x, h)] + H(r)``, estimated with one reparameterised draw.
    Only ``s`` should be stepped on it: the generator's own parameters are
    trained by the generator loss.

    Parameters
    ----------
    sampler_net : GaussianGenerator
    x : torch.Tensor of shape (n, n_features)
        Generator samples (detached here).
    h : torch.Tensor of shape (n, latent_dim)
        Their latents (detached here).
    generator : torch.Generator

    Returns
    -------
    torch.Tensor
        Scalar to minimise in ``log_posterior_scale``.
    """
    x, h = x.detach(), h.detach()
    log_scale = sampler_net.log_posterior_scale
    eps = torch.randn(h.shape, generator=generator, device=h.device)
    h_post = h + log_scale.exp() * eps
    elbo = sampler_net.log_joint(x, h_post) + log_scale.sum()
    return -elbo.mean()


def _softmax_entropy(logits):
    log_p = torch.log_softmax(logits, dim=1)
    return -(log_p.exp() * log_p).sum(1)
