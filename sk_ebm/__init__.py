"""scikit-learn compatible energy-based models on PyTorch."""

from ._version import __version__
from .classifier import JEMClassifier
from .density import EnergyDensityEstimator

__all__ = ["EnergyDensityEstimator", "JEMClassifier", "__version__"]
