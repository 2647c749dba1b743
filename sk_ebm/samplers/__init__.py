"""Samplers for energy models, and where their chains start.

Samplers are chosen by the estimators' ``sampler`` parameter, a key of
:data:`SAMPLERS`; adding one is a module with a :class:`BaseSampler` subclass
plus one :func:`register_sampler` call.
"""

from ._base import BaseSampler, EnergyTarget
from .annealed_langevin import AnnealedLangevin
from .buffer import (
    INITS,
    FreshChains,
    ImportanceResampledInit,
    InitDistribution,
    ReplayBuffer,
    build_init,
)
from .sgld import SGLD

#: Registered samplers, by the name the ``sampler`` parameter takes.
SAMPLERS = {}


def register_sampler(name, sampler_class):
    """Make ``sampler_class`` (a :class:`BaseSampler` subclass) ``sampler=name``.

    Returns
    -------
    type
        ``sampler_class``.
    """
    if not isinstance(name, str):
        raise TypeError(f"A sampler's name must be a str; got {name!r}.")
    SAMPLERS[name] = sampler_class
    return sampler_class


def unregister_sampler(name):
    """Remove ``name`` from :data:`SAMPLERS` (for tests and plug-ins)."""
    SAMPLERS.pop(name)


def build_sampler(name, params):
    """A sampler from the estimator's parameters (``sampler_params`` merged in)."""
    return SAMPLERS[name].from_params(params)


register_sampler("sgld", SGLD)
register_sampler("annealed_langevin", AnnealedLangevin)

__all__ = [
    "AnnealedLangevin",
    "BaseSampler",
    "EnergyTarget",
    "FreshChains",
    "INITS",
    "ImportanceResampledInit",
    "InitDistribution",
    "ReplayBuffer",
    "SAMPLERS",
    "SGLD",
    "build_init",
    "build_sampler",
    "register_sampler",
    "unregister_sampler",
]
