"""Gaussian algebra that only the tests use: second routes to what ``skgmje._core`` computes.

Nothing in skgmje calls these; ``test_gaussian.py`` checks them against explicit NumPy and
SciPy computations and against ``skgmje._core.gaussian`` (``condition_precision`` against
``condition``, ``marginal`` with ``log_density`` in the chain rule), and ``low_rank_solve``
and ``low_rank_logdet`` are the Woodbury and Weinstein-Aronszajn identities that DualGJE's
random-feature loss (``skgmje._core.gp.fourier_dual_loss``) applies inline.
"""

import numpy as np
from scipy import linalg

from skgmje._core.gaussian import ConditionalGaussian, cholesky, log_det_from_cholesky


def mahalanobis_squared(diff, precision_chol):
    """``diff^T Sigma^-1 diff`` for rows ``diff`` (..., D) and ``P`` (D, D) or broadcastable."""
    projected = np.einsum("...i,...ij->...j", diff, precision_chol)
    return np.einsum("...j,...j->...", projected, projected)


def marginal(mean, covariance, indices):
    """Mean and covariance of the sub-vector ``z[indices]`` (drop the other rows/columns)."""
    indices = np.asarray(indices)
    return mean[..., indices], covariance[..., indices[:, None], indices[None, :]]


def condition_precision(mean, precision, n_context):
    """Condition a joint Gaussian given by its precision ``Lambda = Sigma^-1``.

    Uses ``Sigma_y|x = Lambda_tt^-1`` and
    ``mu_y|x = mu_y - Lambda_tt^-1 Lambda_tc (x - mu_x)``; equal to
    ``skgmje._core.gaussian.condition`` on ``inv(precision)``.
    """
    c = n_context
    factor_tt = cholesky(precision[..., c:, c:])
    precision_tc = precision[..., c:, :c]
    coef = -linalg.cho_solve((factor_tt, True), precision_tc)
    identity = np.broadcast_to(np.eye(factor_tt.shape[-1]), factor_tt.shape)
    conditional_covariance = linalg.cho_solve((factor_tt, True), identity)
    intercept = mean[..., c:] - np.einsum("...ij,...j->...i", coef, mean[..., :c])
    symmetric = 0.5 * (conditional_covariance + np.swapaxes(conditional_covariance, -1, -2))
    return ConditionalGaussian(coef, intercept, symmetric)


def low_rank_solve(features, noise_variance, rhs):
    """Solve ``(Phi Phi^T + s2 I) x = rhs`` by the Woodbury identity ([GMJE]_ Eq. 75).

    ``(Phi Phi^T + s2 I)^-1 = s2^-1 [I - Phi (Phi^T Phi + s2 I)^-1 Phi^T]``: the
    only factorisation is of the ``Df x Df`` matrix, so the cost is
    ``O(N Df^2)`` instead of ``O(N^3)``.

    Parameters
    ----------
    features : ndarray of shape (N, Df)
    noise_variance : float
    rhs : ndarray of shape (N,) or (N, k)
    """
    inner = features.T @ features + noise_variance * np.eye(features.shape[1])
    factor = cholesky(inner)
    correction = features @ linalg.cho_solve((factor, True), features.T @ rhs)
    return (rhs - correction) / noise_variance


def low_rank_logdet(features, noise_variance):
    """``log|Phi Phi^T + s2 I_N|`` by Weinstein-Aronszajn ([GMJE]_ Eq. 80).

    ``|I_N + A B| = |I_D + B A|`` gives
    ``(N - Df) log s2 + log|Phi^T Phi + s2 I_Df|``.
    """
    n_samples, n_features = features.shape
    inner = features.T @ features + noise_variance * np.eye(n_features)
    return (n_samples - n_features) * np.log(noise_variance) + log_det_from_cholesky(
        cholesky(inner)
    )
