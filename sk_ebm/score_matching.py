"""Score-matching losses: train an energy without sampling from it.

Each loss matches the model's score ``s(x) = -grad_x E(x)`` to the score of the
data instead of matching likelihoods, so the normalising constant never appears
and no chain is run during training. The losses are pure functions of
``(energy_fn, x)`` that return ``(loss, stats)``, like those of
:mod:`sk_ebm.objectives`; the training loop owns the optimizer.

What all three share, and what it means for scores far from the data: the
objective is an expectation over the data (or over the data plus noise), so the
energy is fitted only where the data are. Far from them the energy is whatever
the network extrapolates to, and nothing stops it from being low there, which
would score points far from the data as typical. Denoising with a large noise
scale widens the region that is fitted, but only by about that scale. An energy
that must rise away from the data needs it built in, for example by adding the
energy of a base distribution fitted to the data (``docs/design.md`` 3.6).

``energy_fn`` must treat rows independently (no batch normalisation in training
mode): the gradients below are taken of the sum of the energies, which gives
each row its own gradient only if no row depends on another.
"""

import torch

from .objectives import weighted_mean

#: Largest number of features :func:`exact_score_matching_loss` accepts. The
#: exact Hessian trace costs one extra backward pass per feature. Measured on a
#: (256, 256) SiLU network, batch 64, one thread, for one loss and its parameter
#: gradient (ranges over runs on a shared machine): 10-14 ms with 2 features,
#: 30 ms with 8, 70 ms with 16, 0.13-0.15 s with 32, 0.2-0.35 s with 64 and
#: 0.4-0.9 s with 128, against 5-13 ms for the sliced loss with one projection
#: and 2-5 ms for the denoising loss at any of these widths. 64 admits 8x8
#: images (digits) at 30 to 50 times the cost of the sliced loss; beyond it an
#: epoch costs more than the exactness is worth.
MAX_EXACT_FEATURES = 64


def exact_score_matching_loss(
    energy_fn, x, weight=None, curvature_penalty=0.0, fixed_hessian=None
):
    """Hyvarinen's score-matching loss, with the exact Hessian trace.

    ``loss = mean_rows[0.5 * ||grad_x E(x)||^2 - trace(Hessian_x E(x))]``

    This is ``0.5 ||s||^2 + tr(grad_x s)`` for the model score ``s = -grad_x E``,
    which equals the Fisher divergence ``0.5 E_data ||s - grad_x log p_data||^2``
    up to a constant that does not depend on the model (Hyvarinen 2005). Its
    minimum over all energies is at the data's own log density.

    Parameters
    ----------
    energy_fn : callable
        Maps a batch of shape (n, n_features) to energies of shape (n,). Must
        be twice differentiable in ``x``: with ReLU-type activations the
        Hessian is zero almost everywhere and the loss only flattens the energy.
    x : torch.Tensor of shape (n, n_features)
        Data rows.
    weight : torch.Tensor of shape (n,) or None, default=None
        Sample weights; the loss is their weighted mean over rows.
    curvature_penalty : float, default=0.0
        Weight of ``sum_j H_jj^2``, the squared diagonal of the Hessian
        (Kingma and LeCun's regularizer). On a finite sample the loss is
        unbounded below: an energy with a spike of unbounded curvature at each
        data row drives ``-trace(H)`` to minus infinity. The penalty bounds the
        curvature, so a flexible network cannot take that road.
    fixed_hessian : torch.Tensor of shape (n_features, n_features) or None
        The Hessian of a part of the energy with no parameters (a Gaussian
        base's precision matrix): the penalty applies to the curvature the
        network adds to it, not to the base's own, which along a
        near-constant feature is huge and beyond the network's reach.

    Returns
    -------
    loss : torch.Tensor
        Scalar to minimise, differentiable with respect to the energy's
        parameters.
    stats : dict
        As floats: ``loss``; ``e_data``, the mean energy of the rows;
        ``grad_sq``, the mean of ``0.5 ||grad_x E||^2``; ``laplacian``, the mean
        Hessian trace.

    Raises
    ------
    ValueError
        If ``x`` has more than :data:`MAX_EXACT_FEATURES` features.

    See Also
    --------
    sliced_score_matching_loss : the same objective with a random trace.
    denoising_score_matching_loss : no second derivatives at all.

    Notes
    -----
    The trace takes one backward pass per feature, each building a graph for
    the parameter gradient, so the cost grows linearly with the number of
    features (see :data:`MAX_EXACT_FEATURES` for measured times). It has no
    sampling noise, which makes it the reference the other two are checked
    against. Being a score-matching loss, it fits the energy only near the data
    (see the module docstring).

    References
    ----------
    A. Hyvarinen, "Estimation of non-normalized statistical models by score
    matching", JMLR 6, 2005.

    Examples
    --------
    >>> import torch
    >>> x = torch.tensor([[0.0, 1.0], [2.0, -1.0]])
    >>> loss, stats = exact_score_matching_loss(lambda x: 0.5 * (x**2).sum(1), x)
    >>> stats["grad_sq"], stats["laplacian"]
    (1.5, 2.0)
    """
    n_features = x.shape[1]
    if n_features > MAX_EXACT_FEATURES:
        raise ValueError(
            f"Exact score matching takes one backward pass per feature and accepts "
            f"at most {MAX_EXACT_FEATURES} features; got {n_features}. Use sliced "
            f'score matching ("ssm") or denoising score matching ("dsm") instead.'
        )
    x, energies, grad = _energy_and_grad(energy_fn, x)
    diagonal = torch.stack(
        [
            torch.autograd.grad(grad[:, j].sum(), x, create_graph=True)[0][:, j]
            for j in range(n_features)
        ],
        dim=1,
    )
    added = diagonal if fixed_hessian is None else diagonal - fixed_hessian.diagonal()
    curvature = (added**2).sum(1)
    return _score_matching_result(
        energies, grad, diagonal.sum(1), weight, curvature_penalty * curvature
    )


def sliced_score_matching_loss(
    energy_fn,
    x,
    generator,
    n_projections=1,
    weight=None,
    curvature_penalty=0.0,
    fixed_hessian=None,
):
    """Sliced score matching: the Hessian trace estimated by random projections.

    ``loss = mean_rows[0.5 * ||grad_x E(x)||^2 - mean_k v_k^T H(x) v_k]``

    with ``H`` the Hessian of ``E`` in ``x`` and ``v_k`` Rademacher vectors
    (independent random signs). Since ``E[v v^T] = I``, ``v^T H v`` is an
    unbiased estimate of ``trace(H)`` (Hutchinson), so the loss is an unbiased
    estimate of :func:`exact_score_matching_loss`. The squared-gradient term is
    computed exactly, which is the variance-reduced form of Song et al. (2019).

    Parameters
    ----------
    energy_fn : callable
        Maps a batch of shape (n, n_features) to energies of shape (n,); twice
        differentiable in ``x`` (see :func:`exact_score_matching_loss`).
    x : torch.Tensor of shape (n, n_features)
        Data rows.
    generator : torch.Generator
        Source of the projections.
    n_projections : int, default=1
        Projections per row, each costing one Hessian-vector product (one
        backward pass).
    weight : torch.Tensor of shape (n,) or None, default=None
        Sample weights; the loss is their weighted mean over rows.
    curvature_penalty : float, default=0.0
        Weight of ``mean_k (v_k^T H v_k)^2 / n_features``, the squared
        curvature along the projections, scaled to match the exact loss's
        ``sum_j H_jj^2`` for an isotropic Hessian; it bounds the curvature for
        the reason :func:`exact_score_matching_loss` gives.
    fixed_hessian : torch.Tensor of shape (n_features, n_features) or None
        As in :func:`exact_score_matching_loss`: the penalty applies to the
        curvature added to it.

    Returns
    -------
    loss : torch.Tensor
        Scalar to minimise.
    stats : dict
        As floats: ``loss``, ``e_data``, ``grad_sq`` (mean ``0.5
        ||grad_x E||^2``) and ``laplacian`` (the estimated mean Hessian trace).

    See Also
    --------
    exact_score_matching_loss : the exact trace, for few features.

    Notes
    -----
    Rademacher rather than Gaussian projections: both are unbiased, and
    Rademacher vectors have the smaller variance, ``2 * sum_{i != j} H_ij^2``
    against ``2 * sum_ij H_ij^2``, because ``v_i^2 = 1`` exactly. The cost does
    not grow with the number of features, which is why this loss, not the exact
    one, suits wide inputs; the price is noise in the gradient. Like every
    score-matching loss, it fits the energy only near the data.

    References
    ----------
    Y. Song, S. Garg, J. Shi and S. Ermon, "Sliced score matching: a scalable
    approach to density and score estimation", UAI 2019.

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(4, 3)
    >>> g = torch.Generator().manual_seed(0)
    >>> loss, stats = sliced_score_matching_loss(lambda x: (x**2).sum(1), x, g)
    >>> stats["loss"]  # the Hessian is 2 I, and v^T (2 I) v = 2 * 3 for signs v
    -6.0
    """
    x, energies, grad = _energy_and_grad(energy_fn, x)
    laplacian, curvature = 0.0, 0.0
    for _ in range(n_projections):
        v = _rademacher(x.shape, generator, x)
        (hessian_v,) = torch.autograd.grad((grad * v).sum(), x, create_graph=True)
        along = (hessian_v * v).sum(1)
        laplacian = laplacian + along
        added = (
            along if fixed_hessian is None else along - ((v @ fixed_hessian) * v).sum(1)
        )
        curvature = curvature + added**2
    curvature = curvature / (n_projections * x.shape[1])
    return _score_matching_result(
        energies, grad, laplacian / n_projections, weight, curvature_penalty * curvature
    )


def denoising_score_matching_loss(energy_fn, x, sigmas, generator, weight=None):
    """Denoising score matching over one noise scale or several.

    Each row gets a scale ``sigma`` drawn uniformly from ``sigmas`` and noise
    ``x_noisy = x + sigma * z``, ``z ~ N(0, I)``. The model score at the noisy
    point is regressed onto the score of the noise, ``-(x_noisy - x) /
    sigma^2``, with Song and Ermon's weight ``lambda(sigma) = sigma^2``:

    ``loss = mean_rows[0.5 * sigma^2 * ||-grad_x E(x_noisy) + (x_noisy - x) /
    sigma^2||^2] = mean_rows[0.5 * ||sigma * grad_x E(x_noisy) - z||^2]``

    With one scale the minimiser is the score of the data convolved with
    ``N(0, sigma^2 I)`` (Vincent 2011): the model learns a blurred density.

    Parameters
    ----------
    energy_fn : callable
        Maps a batch of shape (n, n_features) to energies of shape (n,). Only
        first derivatives are taken, so any activation works.
    x : torch.Tensor of shape (n, n_features)
        Data rows.
    sigmas : sequence of float or torch.Tensor of shape (n_scales,)
        Noise scales, positive; usually a geometric sequence (see
        :func:`geometric_noise_scales`).
    generator : torch.Generator
        Source of the scales and the noise.
    weight : torch.Tensor of shape (n,) or None, default=None
        Sample weights; the loss is their weighted mean over rows.

    Returns
    -------
    loss : torch.Tensor
        Scalar to minimise. Its minimum is not zero: it is the irreducible
        uncertainty about which clean point produced a noisy one.
    stats : dict
        As floats: ``loss`` and ``e_noisy``, the mean energy of the noisy rows.

    See Also
    --------
    sk_ebm.samplers.annealed_langevin.AnnealedLangevin : sampling afterwards.

    Notes
    -----
    The energy is noise-unconditional: one ``E(x)`` serves every scale, since
    the package's networks take ``x`` only (Song and Ermon condition the
    network on ``sigma`` instead). With several scales the minimiser over all
    energies is then a compromise between scales, and a known one: the
    weighted sum of the per-scale losses is smallest at
    ``exp(-E) = sum_i sigma_i^2 * p_sigma_i``, the data density convolved at each
    scale, mixed with weights ``sigma_i^2`` (pointwise, the weighted mean of the
    per-scale scores ``sum_i sigma_i^2 p_i grad log p_i / sum_i sigma_i^2 p_i`` is
    the gradient of the log of that mixture). The trade-off is therefore: large
    scales fit the energy further from the data (about ``sigma`` away) and
    smooth it between modes, which helps sampling and tail scores; small scales
    keep it sharp near the data. The density learned is never sharper than the
    data convolved with the smallest scale. For tabular data with few features
    this is usually acceptable; a noise-conditional energy ``E(x, sigma)``
    would remove the compromise at the cost of a network that takes ``sigma``.

    No second derivatives are needed, so a step costs one forward and one
    double backward pass (input gradient, then parameter gradient), the cheapest
    of the three score-matching losses.

    References
    ----------
    P. Vincent, "A connection between score matching and denoising
    autoencoders", Neural Computation 23(7), 2011.
    Y. Song and S. Ermon, "Generative modeling by estimating gradients of the
    data distribution", NeurIPS 2019.
    Z. Li, Y. Chen and F. T. Sommer, "Learning energy-based models in
    high-dimensional spaces with multi-scale denoising score matching", 2019.

    Examples
    --------
    >>> import torch
    >>> x = torch.zeros(2000, 2)
    >>> g = torch.Generator().manual_seed(0)
    >>> # the score of N(0, 0.5^2 I), the data convolved with the noise, is exact
    >>> loss, stats = denoising_score_matching_loss(
    ...     lambda x: 2.0 * (x**2).sum(1), x, [0.5], g)
    >>> round(stats["loss"], 6)
    0.0
    """
    sigmas = torch.as_tensor(sigmas, dtype=x.dtype, device=x.device).reshape(-1)
    if len(sigmas) == 0 or not bool((sigmas > 0).all()):
        raise ValueError(f"sigmas must be positive and not empty; got {sigmas}.")
    which = torch.randint(len(sigmas), (len(x),), generator=generator, device=x.device)
    sigma = sigmas[which][:, None]
    z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    _, energies, grad = _energy_and_grad(energy_fn, x + sigma * z)
    per_row = 0.5 * ((sigma * grad - z) ** 2).sum(1)
    loss = weighted_mean(per_row, weight)
    stats = {"loss": loss.item(), "e_noisy": energies.mean().item()}
    return loss, stats


def geometric_noise_scales(largest, smallest, n_scales):
    """Noise scales from ``largest`` down to ``smallest`` in constant ratio.

    Parameters
    ----------
    largest : float
        First (largest) scale.
    smallest : float
        Last (smallest) scale.
    n_scales : int
        Number of scales; 1 gives ``[largest]``.

    Returns
    -------
    torch.Tensor of shape (n_scales,)
        Decreasing scales, float64.

    Examples
    --------
    >>> geometric_noise_scales(1.0, 0.01, 3)
    tensor([1.0000, 0.1000, 0.0100], dtype=torch.float64)
    """
    steps = torch.linspace(0.0, 1.0, n_scales, dtype=torch.float64)
    return largest * (smallest / largest) ** steps


def _energy_and_grad(energy_fn, x):
    # A fresh leaf, so the caller's tensor is untouched; create_graph keeps the
    # gradient differentiable, both for the Hessian terms and for the parameters.
    x = x.detach().requires_grad_(True)
    energies = energy_fn(x)
    (grad,) = torch.autograd.grad(energies.sum(), x, create_graph=True)
    return x, energies, grad


def _score_matching_result(energies, grad, laplacian, weight, penalty=0.0):
    grad_sq = 0.5 * (grad**2).sum(1)
    loss = weighted_mean(grad_sq - laplacian + penalty, weight)
    stats = {
        "loss": loss.item(),
        "e_data": energies.mean().item(),
        "grad_sq": grad_sq.mean().item(),
        "laplacian": laplacian.mean().item(),
    }
    return loss, stats


def _rademacher(shape, generator, like):
    signs = torch.randint(2, shape, generator=generator, device=like.device)
    return signs.to(like.dtype).mul_(2).sub_(1)
