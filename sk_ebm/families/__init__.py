"""Training families: how an energy network is trained, chosen by ``training``.

The estimators' ``training`` parameter is a key of :data:`FAMILIES`. Adding a
family is one module with a :class:`TrainingFamily` subclass plus one
:func:`register_family` call; neither the estimators nor the training loop
name any family.
"""

from ._base import TrainingFamily
from .mcmc import PCD, ShortRun
from .score_matching import (
    SCORE_PARAMS,
    DenoisingScoreMatching,
    ExactScoreMatching,
    SlicedScoreMatching,
)
from .vera import GENERATOR_PARAMS, VERA

#: Registered training families, by the name the ``training`` parameter takes.
FAMILIES = {}


def register_family(name, family_class):
    """Make ``family_class`` (a :class:`TrainingFamily` subclass) ``training=name``.

    Parameters
    ----------
    name : str
        The value of the estimators' ``training`` parameter.
    family_class : type
        Built with no arguments at the start of each fresh fit.

    Returns
    -------
    type
        ``family_class``.
    """
    if not isinstance(name, str):
        raise TypeError(f"A training family's name must be a str; got {name!r}.")
    FAMILIES[name] = family_class
    return family_class


def unregister_family(name):
    """Remove ``name`` from :data:`FAMILIES` (for tests and plug-ins)."""
    FAMILIES.pop(name)


register_family("pcd", PCD)
register_family("short_run", ShortRun)
register_family("vera", VERA)
register_family("sm", ExactScoreMatching)
register_family("ssm", SlicedScoreMatching)
register_family("dsm", DenoisingScoreMatching)

__all__ = [
    "DenoisingScoreMatching",
    "ExactScoreMatching",
    "FAMILIES",
    "GENERATOR_PARAMS",
    "PCD",
    "SCORE_PARAMS",
    "SlicedScoreMatching",
    "ShortRun",
    "TrainingFamily",
    "VERA",
    "register_family",
    "unregister_family",
]
