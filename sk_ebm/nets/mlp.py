"""The multi-layer perceptron energy network (``network="mlp"``)."""

import math
from numbers import Integral

from torch import nn

ACTIVATIONS = {
    "silu": nn.SiLU,
    "relu": nn.ReLU,
    "leaky_relu": lambda: nn.LeakyReLU(0.2),
    "elu": nn.ELU,
    "tanh": nn.Tanh,
    "softplus": nn.Softplus,
}


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

    #: The estimator parameters the network is built from (the registry's
    #: protocol: see :func:`sk_ebm.nets.register_network`).
    estimator_params = ("hidden_dims", "activation")

    @staticmethod
    def check_config(config):
        """Validate and normalize the estimator parameters named above."""
        return check_mlp_config(config)

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


def check_mlp_config(config):
    """Validate the MLP's estimator parameters; returns them normalized.

    Raises
    ------
    ValueError
        For ``hidden_dims`` that are empty or not positive ints: a network
        without a hidden layer has a linear energy, whose ``exp(-E)`` cannot be
        normalized, so it is no density model.
    """
    dims = tuple(config["hidden_dims"])
    if not dims or not all(isinstance(d, Integral) and d >= 1 for d in dims):
        raise ValueError(
            "hidden_dims must be a non-empty tuple of positive ints (a network "
            "without hidden layers has a linear energy, which defines no "
            f"density); got {config['hidden_dims']!r}."
        )
    return {
        "hidden_dims": tuple(int(d) for d in dims),
        "activation": config["activation"],
    }
