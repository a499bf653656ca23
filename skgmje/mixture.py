"""The conditional Gaussian mixture returned by every estimator's ``predict_distribution``."""

from ._core.mixture import GaussianMixtureDistribution
from ._core.univariate import HighestDensityRegion

__all__ = ["GaussianMixtureDistribution", "HighestDensityRegion"]
