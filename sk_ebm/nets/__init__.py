"""Energy networks: plain ``nn.Module`` objects, no numpy and no scikit-learn.

Networks are chosen by the estimators' ``network`` parameter, a key of
:data:`NETWORKS`. Adding one is a module with the class plus one
:func:`register_network` call. The class's protocol:

* ``estimator_params``: a tuple of estimator parameter names it is built from
  (the MLP: ``("hidden_dims", "activation")``);
* ``check_config(config)``: a static or class method that validates those
  values (a dict) and returns them normalized, raising ``ValueError`` with a
  message that names the parameter;
* ``__init__(n_features, n_outputs, *, generator, **config)``: builds the
  network, drawing initial weights from the ``torch.Generator`` only;
* ``forward(x)``: a batch of inputs to a ``(n, n_outputs)`` tensor of logits,
  whose energy is :func:`energy`. Inputs are always flattened rows
  ``(n, n_features)``; an image network reshapes them itself.

Optionally, for ``training="vera"``, a network can say how its generator's
mean is built (without these, an MLP):

* ``decoder_widths(config)``: the default of ``generator_params
  ["hidden_dims"]``, from the network's config;
* ``decoder(latent_dim, config, widths, activation, generator)``: a module
  mapping latents to ``(n, n_features)`` rows.
"""

from ._energy import class_energy, energy, energy_fn, frozen
from .base import BaseCorrectedNet, KernelCorrectedNet, residual_energy
from .conv import ConvDecoder, ConvEnergyNet
from .generator import GaussianGenerator
from .mlp import ACTIVATIONS, MLPEnergyNet

#: Registered energy networks, by the name the ``network`` parameter takes.
NETWORKS = {}


def register_network(name, network_class):
    """Make ``network_class`` available as ``network=name``.

    Parameters
    ----------
    name : str
        The value of the estimators' ``network`` parameter.
    network_class : type
        A ``torch.nn.Module`` subclass following the protocol above.

    Returns
    -------
    type
        ``network_class``, so this works as a class decorator's body.
    """
    if not isinstance(name, str):
        raise TypeError(f"A network's name must be a str; got {name!r}.")
    NETWORKS[name] = network_class
    return network_class


def unregister_network(name):
    """Remove ``name`` from :data:`NETWORKS` (for tests and plug-ins)."""
    NETWORKS.pop(name)


def network_config(name, params, n_features, n_outputs):
    """The full, validated description of a network to build.

    Parameters
    ----------
    name : str
        A key of :data:`NETWORKS`.
    params : dict
        The estimator's parameters.
    n_features, n_outputs : int
        Input width and number of outputs.

    Returns
    -------
    dict
        ``network``, ``n_features``, ``n_outputs`` and the network's own
        settings; equal configs build networks of the same shape.
    """
    network_class = NETWORKS[name]
    config = {key: params[key] for key in network_class.estimator_params}
    return {
        "network": name,
        "n_features": int(n_features),
        "n_outputs": int(n_outputs),
        **network_class.check_config(config),
    }


def build_network(config, generator):
    """A new network from :func:`network_config`'s output.

    Parameters
    ----------
    config : dict
    generator : torch.Generator
        Source of the initial weights.

    Returns
    -------
    torch.nn.Module
    """
    settings = dict(config)
    network_class = NETWORKS[settings.pop("network")]
    return network_class(
        settings.pop("n_features"),
        settings.pop("n_outputs"),
        generator=generator,
        **settings,
    )


register_network("mlp", MLPEnergyNet)
register_network("conv", ConvEnergyNet)

__all__ = [
    "ACTIVATIONS",
    "BaseCorrectedNet",
    "KernelCorrectedNet",
    "ConvDecoder",
    "ConvEnergyNet",
    "GaussianGenerator",
    "MLPEnergyNet",
    "NETWORKS",
    "build_network",
    "class_energy",
    "energy",
    "energy_fn",
    "frozen",
    "network_config",
    "register_network",
    "residual_energy",
    "unregister_network",
]
