"""Variational Bayesian mixture updates, written around the sufficient statistics of ``_em``.

The model and its updates are scikit-learn's ``BayesianGaussianMixture``
(Bishop 2006, ch. 10.2; Blei and Jordan 2006 for the Dirichlet process): a
Dirichlet (or stick-breaking Beta) posterior on the weights, a Gaussian posterior
on each mean with precision ``mean_precision_k`` times the component's precision,
and a Wishart posterior on each precision with ``degrees_of_freedom_k`` and scale
``(degrees_of_freedom_k covariances_k)^-1``. Every update needs only the summed
statistics ``N_k``, ``sum r z`` and ``sum r z z^T`` of an E-step, and the lower
bound only adds ``sum_i w_i sum_k r_ik log r_ik``, so the variational fit shares
GMJE's block-wise, distributed and bounded-memory E-step (``em.e_step``).

Coordinates are those of the E-step: rows shifted by a fixed ``center``, so the
``mean_prior`` here is the user's minus that center.
"""

import math
from typing import NamedTuple

import numpy as np
from scipy.special import betaln, digamma, gammaln

from .._persistence import saved_as_fields
from . import em

WEIGHT_PRIOR_TYPES = ("dirichlet_process", "dirichlet_distribution")


@saved_as_fields
class Priors(NamedTuple):
    """The prior of the variational mixture (scikit-learn's ``*_prior_`` attributes)."""

    weight_concentration_prior_type: str
    weight_concentration: float
    mean_precision: float
    mean: np.ndarray
    degrees_of_freedom: float
    covariance: np.ndarray


class VariationalParameters(NamedTuple):
    """The variational posterior, with the names of ``BayesianGaussianMixture``'s attributes.

    ``weight_concentration`` is a pair of (K,) arrays (the Beta parameters of the
    sticks) for the Dirichlet process and one (K,) array for the Dirichlet
    distribution; ``degrees_of_freedom`` is a float for ``tied`` covariances.
    ``covariances`` are the Wishart scale matrices divided by the degrees of
    freedom (the posterior's expected covariances), ``precisions_cholesky`` their
    inverses' upper Cholesky factors.
    """

    weight_concentration: object
    mean_precision: np.ndarray
    means: np.ndarray
    degrees_of_freedom: object
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


def m_step(statistics, priors, covariance_type, reg_covar):
    """The posterior given the summed statistics of an E-step (or of initial responsibilities)."""
    resp_sums, component_means, component_covariances = em.gaussian_estimates(
        statistics, covariance_type, reg_covar
    )
    n_components = len(resp_sums)
    if priors.weight_concentration_prior_type == "dirichlet_process":
        # The mass of the components after k (the second parameter of stick k's Beta).
        beyond = np.hstack((np.cumsum(resp_sums[::-1])[-2::-1], 0))
        weight_concentration = (1.0 + resp_sums, priors.weight_concentration + beyond)
    else:
        weight_concentration = priors.weight_concentration + resp_sums
    mean_precision = priors.mean_precision + resp_sums
    means = (
        priors.mean_precision * priors.mean + resp_sums[:, None] * component_means
    ) / mean_precision[:, None]
    offsets = component_means - priors.mean
    shrinkage = priors.mean_precision / mean_precision
    if covariance_type == "full":
        degrees_of_freedom = priors.degrees_of_freedom + resp_sums
        covariances = (
            priors.covariance
            + resp_sums[:, None, None] * component_covariances
            + (resp_sums * shrinkage)[:, None, None] * np.einsum("kd,ke->kde", offsets, offsets)
        ) / degrees_of_freedom[:, None, None]
    elif covariance_type == "tied":
        mean_count = resp_sums.sum() / n_components
        degrees_of_freedom = priors.degrees_of_freedom + mean_count
        covariances = (
            priors.covariance
            + component_covariances * mean_count
            + priors.mean_precision
            / n_components
            * ((resp_sums / mean_precision) * offsets.T)
            @ offsets
        ) / degrees_of_freedom
    elif covariance_type == "diag":
        degrees_of_freedom = priors.degrees_of_freedom + resp_sums
        covariances = (
            priors.covariance
            + resp_sums[:, None] * (component_covariances + shrinkage[:, None] * offsets**2)
        ) / degrees_of_freedom[:, None]
    else:
        degrees_of_freedom = priors.degrees_of_freedom + resp_sums
        covariances = (
            priors.covariance
            + resp_sums * (component_covariances + shrinkage * np.mean(offsets**2, axis=1))
        ) / degrees_of_freedom
    return VariationalParameters(
        weight_concentration,
        mean_precision,
        means,
        degrees_of_freedom,
        covariances,
        em.precisions_cholesky_of(covariances, covariance_type),
    )


def expected_log_weights(parameters, prior_type):
    """``E[log pi_k]`` under the posterior of the weights."""
    concentration = parameters.weight_concentration
    if prior_type == "dirichlet_process":
        first, second = concentration
        digamma_sum = digamma(first + second)
        stick = digamma(first) - digamma_sum
        remainder = np.hstack((0, np.cumsum(digamma(second) - digamma_sum)[:-1]))
        return stick + remainder
    return digamma(concentration) - digamma(np.sum(concentration))


def scoring_log_weights(parameters, prior_type, n_joint):
    """What the variational E-step adds to ``log N(z | means_k, covariances_k)`` per component.

    ``E[log pi_k] + (E[log|Lambda_k|] - D / mean_precision_k - D log nu_k) / 2``:
    the responsibilities are ``r_ik ∝ exp(E[log pi_k] + E[log N(z_i | mu_k,
    Lambda_k^-1)])`` and ``covariances_k`` is the Wishart scale over ``nu_k``.
    """
    degrees_of_freedom = np.asarray(parameters.degrees_of_freedom, dtype=float)
    log_lambda = n_joint * math.log(2.0) + np.sum(
        digamma(0.5 * (degrees_of_freedom - np.arange(n_joint)[:, None])), axis=0
    )
    return expected_log_weights(parameters, prior_type) + 0.5 * (
        log_lambda - n_joint / parameters.mean_precision - n_joint * np.log(degrees_of_freedom)
    )


def mixture_weights(parameters, prior_type):
    """The posterior's expected weights (``BayesianGaussianMixture.weights_``)."""
    concentration = parameters.weight_concentration
    if prior_type == "dirichlet_process":
        first, second = concentration
        total = first + second
        weights = first / total * np.hstack((1, np.cumprod(second / total)[:-1]))
        return weights / np.sum(weights)
    return concentration / np.sum(concentration)


def _log_wishart_norm(degrees_of_freedom, log_det_precisions_chol, n_joint):
    """Log normaliser of the Wishart posteriors (without the ``log pi`` term, as scikit-learn)."""
    return -(
        degrees_of_freedom * log_det_precisions_chol
        + degrees_of_freedom * n_joint * 0.5 * math.log(2.0)
        + np.sum(gammaln(0.5 * (degrees_of_freedom - np.arange(n_joint)[:, None])), axis=0)
    )


def lower_bound(statistics, parameters, prior_type, covariance_type):
    """The variational lower bound, up to the constants scikit-learn also leaves out.

    ``-sum w r log r - sum log W-norm - log Dir/Beta-norm - D/2 sum log mean_precision``
    (``BayesianGaussianMixture._compute_lower_bound``); ``statistics`` are those
    of the E-step whose responsibilities led to ``parameters``.
    """
    n_components, n_joint = parameters.means.shape
    degrees_of_freedom = np.asarray(parameters.degrees_of_freedom, dtype=float)
    log_det = em.log_det_precisions_cholesky(
        parameters.precisions_cholesky, covariance_type, n_joint
    ) - 0.5 * n_joint * np.log(degrees_of_freedom)
    log_wishart = np.sum(_log_wishart_norm(degrees_of_freedom, log_det, n_joint))
    if covariance_type == "tied":
        log_wishart *= n_components
    if prior_type == "dirichlet_process":
        log_norm_weight = -np.sum(betaln(*parameters.weight_concentration))
    else:
        concentration = parameters.weight_concentration
        log_norm_weight = gammaln(np.sum(concentration)) - np.sum(gammaln(concentration))
    return float(
        -statistics.resp_entropy
        - log_wishart
        - log_norm_weight
        - 0.5 * n_joint * np.sum(np.log(parameters.mean_precision))
    )
