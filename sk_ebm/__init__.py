"""scikit-learn compatible energy-based models on PyTorch.

The estimators are imported on first use, so that ``sk_ebm.metrics`` and
``sk_ebm.datasets`` work without importing torch.
"""

import importlib

from ._version import __version__

_ESTIMATORS = {
    "DensityScoreTransformer": ".density",
    "EnergyDensityEstimator": ".density",
    "JEMClassifier": ".classifier",
}

__all__ = [
    "DensityScoreTransformer",
    "EnergyDensityEstimator",
    "JEMClassifier",
    "__version__",
]


def __getattr__(name):
    if name in _ESTIMATORS:
        return getattr(importlib.import_module(_ESTIMATORS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted([*globals(), *_ESTIMATORS])
