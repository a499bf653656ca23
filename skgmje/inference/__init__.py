"""Inverse problems and simulation-based inference with skgmje's conditional densities.

A simulator maps parameters ``theta`` to observations ``x``; given one observation
``x_o``, the posterior ``p(theta | x_o)`` is what a scientist wants. Fitting any skgmje
estimator on simulated pairs with ``X = x`` and ``y = theta`` estimates it (neural
posterior estimation with a closed-form mixture): :class:`PosteriorEstimator`, with
priors (:class:`BoxUniform`, :class:`GaussianPrior`, or ``torch``/``sbi``/``scipy``
priors through :func:`as_prior`), sequential rounds near ``x_o``
(:func:`truncated_sequential_estimation`), highest-density regions calibrated on
held-out simulations (:class:`RegionCalibration`), the field's calibration diagnostics
(:func:`simulation_based_calibration`, :func:`expected_coverage`) and its accuracy
metric (:func:`c2st`). :mod:`skgmje.inference.tasks` holds simulators with exact
reference posteriors.
"""

from .calibration import (
    CoverageResult,
    SBCResult,
    c2st,
    expected_coverage,
    simulation_based_calibration,
)
from .posterior import Posterior, PosteriorEstimator, conditional_distribution, default_estimator
from .priors import BoxUniform, GaussianPrior, as_prior
from .regions import RegionCalibration
from .sequential import SequentialResult, truncated_sequential_estimation

__all__ = [
    "BoxUniform",
    "CoverageResult",
    "GaussianPrior",
    "Posterior",
    "PosteriorEstimator",
    "RegionCalibration",
    "SBCResult",
    "SequentialResult",
    "as_prior",
    "c2st",
    "conditional_distribution",
    "default_estimator",
    "expected_coverage",
    "simulation_based_calibration",
    "truncated_sequential_estimation",
]
