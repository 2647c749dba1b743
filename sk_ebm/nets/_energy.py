"""The energy of a network's outputs: the one place where its sign is defined.

Every network maps a batch of inputs to a matrix of outputs ("logits"). The
energy of an input is minus the logsumexp of those outputs:

* a classifier with K outputs is JEM's model, ``p(y | x) = softmax(f(x))`` and
  ``log p(x) = logsumexp_y f(x)[y] - log Z``;
* a density model has a single output, and ``E(x) = -f(x)[0]``.

So ``score = -energy`` is "higher is more typical" everywhere in the package.
"""

from contextlib import contextmanager

import torch


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
