"""A fitted joint Gaussian mixture over ``z = [x, y]``: conditioning and joint sampling.

GJE is the one-component case and GMJE the general one (user guide, "GJE", "GMJE"
and "Conditional mixtures"). Everything that depends only on the parameters (context marginals,
per-component regression matrices, conditional covariances, Cholesky factors)
is computed once, at fit time.
"""

from typing import NamedTuple

import numpy as np

from .._persistence import saved_as_fields
from .gaussian import (
    LOG_2PI,
    cholesky,
    condition,
    log_det_from_cholesky,
    precision_cholesky,
)
from .mixture import GaussianMixtureDistribution
from .subsets import normalised_log_weights


@saved_as_fields
class JointConditioning(NamedTuple):
    """Precomputed pieces of ``p(y | x)`` for a joint mixture with K components.

    Attributes
    ----------
    log_weights : ndarray of shape (K,)
    context_means : ndarray of shape (K, dx)
    context_precisions_cholesky : ndarray of shape (K, dx, dx)
    context_log_dets : ndarray of shape (K,)
        ``log|Sigma_k^cc|``.
    coefs : ndarray of shape (K, dy, dx)
        ``Sigma_k^tc (Sigma_k^cc)^-1``.
    intercepts : ndarray of shape (K, dy)
    covariances : ndarray of shape (K, dy, dy)
        Conditional (Schur complement) covariances.
    joint_means : ndarray of shape (K, D)
    joint_choleskys : ndarray of shape (K, D, D)
    """

    log_weights: np.ndarray
    context_means: np.ndarray
    context_precisions_cholesky: np.ndarray
    context_log_dets: np.ndarray
    coefs: np.ndarray
    intercepts: np.ndarray
    covariances: np.ndarray
    joint_means: np.ndarray
    joint_choleskys: np.ndarray


def prepare_conditioning(weights, means, covariances, n_context):
    """Precompute the conditioning of a joint mixture on its first ``n_context`` coordinates.

    Parameters
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
    n_context : int

    Returns
    -------
    JointConditioning
    """
    c = n_context
    context_cholesky = cholesky(covariances[:, :c, :c])
    conditional = condition(means, covariances, c)
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)
    return JointConditioning(
        log_weights=log_weights,
        context_means=means[:, :c],
        context_precisions_cholesky=precision_cholesky(context_cholesky),
        context_log_dets=log_det_from_cholesky(context_cholesky),
        coefs=conditional.coef,
        intercepts=conditional.intercept,
        covariances=conditional.covariance,
        joint_means=means,
        joint_choleskys=cholesky(covariances),
    )


def context_log_prob(conditioning, X):
    """``log pi_k + log N(x | mu_k^c, Sigma_k^cc)``, shape (n, K)."""
    diff = X[:, None, :] - conditioning.context_means
    # (K, n, dx) @ (K, dx, dx) is one batched GEMM; einsum would loop in C without BLAS.
    projected = np.swapaxes(diff, 0, 1) @ conditioning.context_precisions_cholesky
    mahalanobis = np.square(projected).sum(axis=-1).T
    n_context = X.shape[1]
    return conditioning.log_weights - 0.5 * (
        mahalanobis + conditioning.context_log_dets + n_context * LOG_2PI
    )


def conditional_distribution(conditioning, X):
    """``p(y | x)`` for every row of ``X`` ([GMJE]_ Eq. 102-104), in log space."""
    _, log_responsibilities = normalised_log_weights(context_log_prob(conditioning, X), "X")
    means = np.tensordot(X, conditioning.coefs, axes=([1], [2])) + conditioning.intercepts
    return GaussianMixtureDistribution(
        log_weights=log_responsibilities, means=means, covariances=conditioning.covariances
    )


def sample_joint(conditioning, n_samples, rng):
    """Joint draws ``z = mu_k + L_k eps`` with ``k ~ Cat(pi)``; returns ``(X, Y)``."""
    weights = np.exp(conditioning.log_weights)
    components = rng.choice(len(weights), size=n_samples, p=weights / weights.sum())
    noise = rng.standard_normal(size=(n_samples, conditioning.joint_means.shape[1]))
    draws = conditioning.joint_means[components] + np.einsum(
        "nde,ne->nd", conditioning.joint_choleskys[components], noise
    )
    n_context = conditioning.context_means.shape[1]
    return draws[:, :n_context], draws[:, n_context:]
