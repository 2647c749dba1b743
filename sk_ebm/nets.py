"""Energy networks: plain ``nn.Module`` objects, no numpy and no scikit-learn.

Every network here maps a batch of inputs to a matrix of outputs ("logits"). The
energy of an input is defined once, in :func:`energy`, as minus the logsumexp of
those outputs:

* a classifier with K outputs is JEM's model, ``p(y | x) = softmax(f(x))`` and
  ``log p(x) = logsumexp_y f(x)[y] - log Z``;
* a density model has a single output, and ``E(x) = -f(x)[0]``.

So ``score = -energy`` is "higher is more typical" everywhere in the package.
"""

import math
from contextlib import contextmanager

import torch
from torch import nn

ACTIVATIONS = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


def energy(logits):
    """Energy of each row: ``E(x) = -logsumexp(f(x))``, the one place the sign lives.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_outputs)
        Network outputs. With one output the energy is minus that output.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
        Lower energy means more probable: ``p(x)`` is proportional to
        ``exp(-E(x))``.

    Examples
    --------
    >>> import torch
    >>> energy(torch.zeros(2, 4))
    tensor([-1.3863, -1.3863])
    """
    return -torch.logsumexp(logits, dim=1)


def class_energy(logits, y):
    """Class-conditional energy ``E(x, y) = -f(x)[y]``.

    Parameters
    ----------
    logits : torch.Tensor of shape (n_samples, n_classes)
    y : torch.LongTensor of shape (n_samples,)
        Class index of each row.

    Returns
    -------
    torch.Tensor of shape (n_samples,)
    """
    return -logits.gather(1, y[:, None])[:, 0]


def energy_fn(net, y=None):
    """The function samplers follow: ``x -> E(x)``, or ``x -> E(x, y)`` if ``y``.

    Parameters
    ----------
    net : torch.nn.Module
        Maps inputs to logits.
    y : torch.LongTensor of shape (n_chains,) or None
        Class of each chain, for class-conditional sampling.

    Returns
    -------
    callable
    """
    if y is None:
        return lambda x: energy(net(x))
    return lambda x: class_energy(net(x), y)


class MLPEnergyNet(nn.Module):
    """Multi-layer perceptron whose outputs define an energy.

    Parameters
    ----------
    n_features : int
        Width of the input.
    n_outputs : int
        Number of outputs: the number of classes for JEM, 1 for a density model.
    hidden_dims : tuple of int
        Width of each hidden layer.
    activation : str
        A key of :data:`ACTIVATIONS`.
    generator : torch.Generator or None
        Source of the initial weights, so that fits are reproducible without
        touching torch's global random state.
    """

    def __init__(self, n_features, n_outputs, hidden_dims, activation, generator):
        super().__init__()
        widths = [n_features, *hidden_dims]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [_linear(fan_in, fan_out, generator), ACTIVATIONS[activation]()]
        layers.append(_linear(widths[-1], n_outputs, generator))
        self.layers = nn.Sequential(*layers)

    def forward(self, x):
        return self.layers(x)


def _linear(fan_in, fan_out, generator):
    # skip_init builds the layer without drawing from torch's global generator;
    # the weights then come from ours, with nn.Linear's default distribution.
    layer = nn.utils.skip_init(nn.Linear, fan_in, fan_out)
    nn.init.kaiming_uniform_(layer.weight, a=math.sqrt(5), generator=generator)
    bound = 1.0 / math.sqrt(fan_in)
    nn.init.uniform_(layer.bias, -bound, bound, generator=generator)
    return layer


@contextmanager
def frozen(net):
    """Evaluation mode with no parameter gradients, restored on exit.

    Samplers run inside it: they need gradients with respect to the inputs only,
    and must not leave gradients (or graph) on the parameters.
    """
    was_training = net.training
    flags = [p.requires_grad for p in net.parameters()]
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    try:
        yield net
    finally:
        for p, flag in zip(net.parameters(), flags):
            p.requires_grad_(flag)
        net.train(was_training)


class GaussianGenerator(nn.Module):
    """VERA's sampler network: ``x = g(h) + sigma * eps`` with ``h, eps ~ N(0, I)``.

    ``g`` is an MLP applied row by row (no batch normalisation), so the mean of
    a latent is the same function whatever batch it is computed in: the
    importance weights of the entropy estimator compare ``g`` at the latent that
    made ``x`` with ``g`` at nearby latents, and batch statistics would make
    those two different functions.

    Parameters
    ----------
    latent_dim : int
        Width of ``h``.
    n_features : int
        Width of ``x``.
    hidden_dims : tuple of int
        Hidden widths of ``g``.
    activation : str
        A key of :data:`ACTIVATIONS`.
    sigma_bounds : tuple of float
        ``(low, high)``: the output noise ``sigma`` is kept in this interval.
    posterior_scale : float
        Initial standard deviation of the importance-sampling proposal around a
        latent (learned afterwards, one value per latent dimension).
    generator : torch.Generator or None
        Source of the initial weights.

    Attributes
    ----------
    log_sigma : nn.Parameter of shape ()
        Log of the output noise scale, trained with ``g``.
    log_posterior_scale : nn.Parameter of shape (latent_dim,)
        Log of the proposal scale, trained by its own optimizer (an ELBO).
    """

    def __init__(
        self,
        latent_dim,
        n_features,
        hidden_dims,
        activation,
        sigma_bounds,
        posterior_scale,
        generator,
    ):
        super().__init__()
        self.latent_dim = latent_dim
        self.mean = MLPEnergyNet(
            latent_dim, n_features, hidden_dims, activation, generator
        )
        self.sigma_bounds = tuple(sigma_bounds)
        self.log_sigma = nn.Parameter(torch.tensor(math.log(sigma_bounds[1])))
        self.log_posterior_scale = nn.Parameter(
            torch.full((latent_dim,), math.log(posterior_scale))
        )

    def generator_parameters(self):
        """Parameters of ``g`` and ``sigma``: what the generator loss trains."""
        return [*self.mean.parameters(), self.log_sigma]

    def forward(self, h):
        return self.mean(h)

    @property
    def sigma(self):
        return self.log_sigma.exp()

    def sample(self, n, generator):
        """Draw ``(x, h)``; ``x`` is differentiable in the generator's parameters.

        Parameters
        ----------
        n : int
            Number of rows.
        generator : torch.Generator
            Source of ``h`` and ``eps``.

        Returns
        -------
        x : torch.Tensor of shape (n, n_features)
        h : torch.Tensor of shape (n, latent_dim)
        """
        device = self.log_sigma.device
        h = torch.randn((n, self.latent_dim), generator=generator, device=device)
        mean = self.mean(h)
        eps = torch.randn(mean.shape, generator=generator, device=device)
        return mean + self.sigma * eps, h

    def log_joint(self, x, h):
        """``log q(x, h) = log N(x; g(h), sigma^2 I) + log N(h; 0, I)``, per row."""
        return _log_normal(x, self.mean(h), self.log_sigma) + _log_normal(
            h, torch.zeros_like(h), torch.zeros((), device=h.device)
        )

    @torch.no_grad()
    def clamp_sigma(self):
        """Put ``sigma`` back in ``sigma_bounds`` (after an optimizer step)."""
        low, high = self.sigma_bounds
        self.log_sigma.clamp_(math.log(low), math.log(high))


def _log_normal(x, mean, log_scale):
    """Sum over the last dimension of ``log N(x; mean, exp(log_scale)^2)``."""
    z = (x - mean) * torch.exp(-log_scale)
    per_dim = -0.5 * z**2 - log_scale - 0.5 * math.log(2 * math.pi)
    return per_dim.sum(-1)
