"""The conditional Gaussian mixture returned by every estimator's ``predict_distribution``."""

from ._core.mixture import GaussianMixtureDistribution

__all__ = ["GaussianMixtureDistribution"]
