"""Samplers for energy models: SGLD and the replay buffer of PCD."""

from ._base import BaseSampler
from .buffer import INITS, FreshChains, InitDistribution, ReplayBuffer
from .sgld import SGLD

__all__ = [
    "BaseSampler",
    "FreshChains",
    "INITS",
    "InitDistribution",
    "ReplayBuffer",
    "SGLD",
]
