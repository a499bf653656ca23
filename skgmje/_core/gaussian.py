"""Gaussian algebra on NumPy arrays (user guide, "Conditional mixtures").

Every function works on a stack of Gaussians: leading axes of ``covariance``
(``(..., D, D)``) are batch axes. Densities are computed from Cholesky factors,
never from explicit inverses of a covariance.
"""

from typing import NamedTuple

import numpy as np
from scipy import linalg

LOG_2PI = np.log(2.0 * np.pi)
# Gaussian densities square differences: beyond this magnitude float64 overflows.
MAX_MAGNITUDE = 1e150


def check_magnitude(array, name):
    """Raise a ValueError naming ``name`` if ``array`` holds a value beyond ``MAX_MAGNITUDE``."""
    # max and -min rather than max(abs): no temporary copy of the array.
    largest = float(max(np.max(array), -np.min(array))) if np.size(array) else 0.0
    if largest > MAX_MAGNITUDE:
        raise ValueError(
            f"{name} holds a value of magnitude {largest:.3g}, beyond {MAX_MAGNITUDE:.0e}: "
            "a Gaussian density squares differences, which overflows float64 there. "
            "Rescale the data (scores do not depend on units)."
        )
    return array


# Jitter tried in turn, relative to the mean diagonal of the failing matrix.
_RELATIVE_JITTERS = (0.0, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3)


def cholesky(covariance):
    """Lower Cholesky factor of a stack of covariances, with escalating jitter.

    Each matrix is first factorised as it is; a matrix that is not numerically
    positive definite gets ``jitter * mean(diag) * I`` added, with ``jitter``
    growing from 1e-10 to 1e-3 until the factorisation succeeds.

    Parameters
    ----------
    covariance : ndarray of shape (..., D, D)
        Symmetric matrices.

    Returns
    -------
    cholesky : ndarray of shape (..., D, D)
        Lower-triangular ``L`` with ``L @ L.T == covariance (+ jitter)``.

    Raises
    ------
    ValueError
        If a matrix contains NaN or infinity, or is not positive definite even
        with the largest jitter (a clearly negative eigenvalue).
    """
    covariance = np.asarray(covariance, dtype=float)
    if not np.all(np.isfinite(covariance)):
        # LAPACK's potrf does not flag NaN pivots: it would return a NaN factor silently.
        raise ValueError(
            "A covariance matrix contains NaN or infinity; the data or the fit diverged."
        )
    try:
        return np.linalg.cholesky(covariance)
    except np.linalg.LinAlgError:
        pass
    flat = covariance.reshape((-1,) + covariance.shape[-2:])
    factors = np.empty_like(flat)
    identity = np.eye(flat.shape[-1])
    for index, matrix in enumerate(flat):
        scale = np.mean(np.abs(np.diag(matrix)))
        for jitter in _RELATIVE_JITTERS:
            try:
                factors[index] = np.linalg.cholesky(matrix + jitter * scale * identity)
                break
            except np.linalg.LinAlgError:
                continue
        else:
            raise ValueError(
                "A covariance matrix is not positive definite, even with a jitter "
                f"of {_RELATIVE_JITTERS[-1]:g} times its mean diagonal. The data may be "
                "degenerate (duplicated or constant columns) or badly scaled: "
                "increase reg_covar or standardise the inputs."
            )
    return factors.reshape(covariance.shape)


def precision_cholesky(covariance_cholesky):
    """Upper factor ``P`` of the precision, ``P @ P.T == inv(L @ L.T)``.

    This is ``inv(L).T``, the convention of scikit-learn's
    ``precisions_cholesky_``: the Mahalanobis distance of ``d`` is
    ``||d @ P||**2``.
    """
    identity = np.broadcast_to(np.eye(covariance_cholesky.shape[-1]), covariance_cholesky.shape)
    # NumPy's solve loops over a stack in C; SciPy's solve_triangular loops in Python
    # (5 ms for 32 two-by-two factors, against 16 us), which made the EM step's M-step
    # the cost of every fit with many components.
    inverse = np.linalg.solve(covariance_cholesky, identity)
    # C-ordered, as pickle, joblib and skops restore it: a transposed view would make a
    # loaded model's next E-step round differently from the model that was saved.
    return np.ascontiguousarray(np.swapaxes(inverse, -1, -2))


def log_det_from_cholesky(factor):
    """``log|Sigma|`` from a Cholesky factor of ``Sigma`` (either triangle)."""
    return 2.0 * np.sum(np.log(np.diagonal(factor, axis1=-2, axis2=-1)), axis=-1)


def log_density(z, mean, covariance):
    """Log-density of ``N(z | mean, covariance)``, broadcasting over leading axes.

    Parameters
    ----------
    z : ndarray of shape (..., D)
    mean : ndarray of shape (..., D)
    covariance : ndarray of shape (..., D, D)

    Returns
    -------
    log_density : ndarray of shape (...)
    """
    factor = cholesky(covariance)
    n_features = factor.shape[-1]
    diff = np.asarray(z, dtype=float) - mean
    batch = np.broadcast_shapes(diff.shape[:-1], factor.shape[:-2])
    whitened = linalg.solve_triangular(
        np.broadcast_to(factor, batch + factor.shape[-2:]),
        np.broadcast_to(diff, batch + diff.shape[-1:])[..., None],
        lower=True,
    )[..., 0]
    return -0.5 * (
        np.sum(whitened**2, axis=-1) + log_det_from_cholesky(factor) + n_features * LOG_2PI
    )


class ConditionalGaussian(NamedTuple):
    """Parameters of ``p(y | x) = N(y | coef @ x + intercept, covariance)``.

    Attributes
    ----------
    coef : ndarray of shape (..., dy, dx)
        Regression matrix ``Sigma_tc Sigma_cc^-1``.
    intercept : ndarray of shape (..., dy)
        ``mu_y - coef @ mu_x``.
    covariance : ndarray of shape (..., dy, dy)
        Schur complement ``Sigma_tt - Sigma_tc Sigma_cc^-1 Sigma_ct`` (independent of x).
    """

    coef: np.ndarray
    intercept: np.ndarray
    covariance: np.ndarray


def condition(mean, covariance, n_context):
    """Condition a joint Gaussian on its first ``n_context`` coordinates ([GMJE]_ Eq. 10).

    Parameters
    ----------
    mean : ndarray of shape (..., D)
        Joint mean ``[mu_x, mu_y]``.
    covariance : ndarray of shape (..., D, D)
        Joint covariance with blocks ``Sigma_cc`` (the first ``n_context``
        coordinates) and ``Sigma_tt``.
    n_context : int
        ``dx``, the number of conditioning coordinates.

    Returns
    -------
    ConditionalGaussian
        ``coef``, ``intercept`` and ``covariance`` of ``p(y | x)``.
    """
    c = n_context
    cov_cc = covariance[..., :c, :c]
    cov_ct = covariance[..., :c, c:]
    cov_tt = covariance[..., c:, c:]
    factor_cc = cholesky(cov_cc)
    # coef^T = Sigma_cc^-1 Sigma_ct, from two triangular solves with the Cholesky factor.
    coef_t = linalg.cho_solve((factor_cc, True), cov_ct)
    coef = np.swapaxes(coef_t, -1, -2)
    whitened_ct = linalg.solve_triangular(factor_cc, cov_ct, lower=True)
    schur = cov_tt - np.swapaxes(whitened_ct, -1, -2) @ whitened_ct
    intercept = mean[..., c:] - np.einsum("...ij,...j->...i", coef, mean[..., :c])
    return ConditionalGaussian(coef, intercept, _symmetrise(schur))


def entropy(covariance):
    """Differential entropy ``0.5 log((2 pi e)^D |Sigma|)`` in nats."""
    n_features = covariance.shape[-1]
    return 0.5 * (n_features * (LOG_2PI + 1.0) + log_det_from_cholesky(cholesky(covariance)))


def mutual_information(covariance, n_context):
    """``I(x; y) = 0.5 log(|Sigma_cc| |Sigma_tt| / |Sigma|)`` in nats ([GMJE]_ Eq. 41)."""
    c = n_context
    log_det = log_det_from_cholesky(cholesky(covariance))
    log_det_cc = log_det_from_cholesky(cholesky(covariance[..., :c, :c]))
    log_det_tt = log_det_from_cholesky(cholesky(covariance[..., c:, c:]))
    return 0.5 * (log_det_cc + log_det_tt - log_det)


def _symmetrise(matrix):
    return 0.5 * (matrix + np.swapaxes(matrix, -1, -2))


def logsumexp(values, axis=-1):
    """``log(sum(exp(values)))`` along ``axis``, stable for large and ``-inf`` entries."""
    peak = np.max(values, axis=axis, keepdims=True)
    peak = np.where(np.isfinite(peak), peak, 0.0)
    with np.errstate(divide="ignore"):
        total = np.log(np.sum(np.exp(values - peak), axis=axis))
    return total + np.squeeze(peak, axis=axis)
