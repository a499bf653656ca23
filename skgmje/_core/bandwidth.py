"""Choosing SMCGMJE's kernel covariance by held-out ``log p(y | x)``, with its gradient.

The covariance is parametrised relative to a reference Cholesky factor (Scott's rule):
per-column log scales of the context block and of the residual, and a whitened slope
offset (:func:`bandwidth_factor`); :class:`HeldOut` scores a fold's held-out rows
against the bank fitted on its training rows, for any such parameter vector.
"""

import numpy as np
from scipy.linalg import solve_triangular

from .gaussian import LOG_2PI

__all__ = ["HeldOut", "bandwidth_factor"]


def _pairwise_squares(rows, centres):
    """``||rows_n - centres_m||^2`` for every pair, by one matrix product."""
    squares = (
        np.square(rows).sum(axis=1)[:, None]
        + np.square(centres).sum(axis=1)
        - 2.0 * (rows @ centres.T)
    )
    return np.maximum(squares, 0.0)


def _pairwise_scatter(pair_weights, rows, centres, other_rows, other_centres):
    """``sum_nm g_nm (rows_n - centres_m)(other_rows_n - other_centres_m)^T``."""
    return (
        (rows * pair_weights.sum(axis=1)[:, None]).T @ other_rows
        - rows.T @ (pair_weights @ other_centres)
        - (pair_weights @ centres).T @ other_rows
        + (centres * pair_weights.sum(axis=0)[:, None]).T @ other_centres
    )


def _diagonal_of_conjugate(factor, matrix):
    """The diagonal of ``factor @ matrix @ inv(factor)``, ``factor`` lower triangular."""
    inverse = solve_triangular(factor, np.eye(len(factor)), lower=True)
    return np.einsum("ij,ji->i", factor @ matrix, inverse)


def _unpack(theta, n_context, n_targets):
    """Log context scales, log target scales and the whitened slope offset ``B``."""
    n_scales = n_context + n_targets
    return (
        theta[:n_context],
        theta[n_context:n_scales],
        theta[n_scales:].reshape(n_targets, n_context),
    )


def bandwidth_factor(reference, n_context, theta):
    """The Cholesky factor of the covariance ``theta`` gives, from the ``reference`` factor.

    With the reference ``[[L_c, 0], [L_tc, L_t]]`` and its slope ``A_0 = L_tc inv(L_c)``,
    the context block becomes ``D_a L_c`` (``Sigma_xx -> D_a Sigma_xx D_a``), the slope
    ``A_0 + L_t B inv(L_c)`` and the residual factor ``D_b L_t``, with ``D_a`` and ``D_b``
    the diagonal matrices of ``exp(theta)``'s scales: still lower triangular with a
    positive diagonal, so the result is a valid covariance for any ``theta``.
    """
    c = n_context
    log_context, log_target, offset = _unpack(theta, c, len(reference) - c)
    context, residual = reference[:c, :c], reference[c:, c:]
    inverse = solve_triangular(context, np.eye(c), lower=True)
    slope = reference[c:, :c] @ inverse + residual @ offset @ inverse
    factor = np.zeros_like(reference)
    factor[:c, :c] = np.exp(log_context)[:, None] * context
    factor[c:, :c] = slope @ factor[:c, :c]
    factor[c:, c:] = np.exp(log_target)[:, None] * residual
    return factor


def _normalise(log_kernel):
    """Row-normalised ``exp(log_kernel)`` and each row's log normaliser."""
    peak = log_kernel.max(axis=1, keepdims=True)
    kernel = np.exp(log_kernel - peak)
    sums = kernel.sum(axis=1, keepdims=True)
    return kernel / sums, (peak + np.log(sums))[:, 0]


class HeldOut:
    """Rows left out of a fit, scored against its bank for every candidate bandwidth.

    ``log_likelihood(theta)`` is the weighted sum over the rows of ``log p(y | x)`` under
    the bank with the covariance :func:`bandwidth_factor` gives, and its gradient.
    ``log p(y | x)`` depends on the covariance only through the context block (the
    weights' kernel), the slope and the residual covariance, which ``theta`` sets:
    ``Maha = ||inv(L_c) inv(D_a) (x - mu_x)||^2 + ||inv(L_t) inv(D_b) r||^2`` with the
    residual ``r = y - mu_y - A (x - mu_x)``.
    """

    def __init__(self, particles, log_weights, reference, X, Y, weights):
        c = X.shape[1]
        # Distances are taken about the rows' means so their expansion does not cancel.
        x_origin, y_origin = X.mean(axis=0), Y.mean(axis=0)
        self.x, self.centre_x = X - x_origin, particles[:, :c] - x_origin
        self.y, self.centre_y = Y - y_origin, particles[:, c:] - y_origin
        self.log_weights, self.reference, self.weights = log_weights, reference, weights

    def log_likelihood(self, theta):
        c, reference, weights = self.x.shape[1], self.reference, self.weights
        n_targets = self.y.shape[1]
        log_context, log_target, _ = _unpack(theta, c, n_targets)
        factor = bandwidth_factor(reference, c, theta)
        slope = factor[c:, :c] @ solve_triangular(factor[:c, :c], np.eye(c), lower=True)
        context, residual = reference[:c, :c], reference[c:, c:]
        context_scales, target_scales = np.exp(log_context), np.exp(log_target)

        def whiten(rows, lower, scales):
            return solve_triangular(lower, (rows / scales).T, lower=True).T

        rows_x = whiten(self.x, context, context_scales)
        centres_x = whiten(self.centre_x, context, context_scales)
        rows_r = whiten(self.y - self.x @ slope.T, residual, target_scales)
        centres_r = whiten(self.centre_y - self.centre_x @ slope.T, residual, target_scales)
        log_context_kernel = self.log_weights - 0.5 * _pairwise_squares(rows_x, centres_x)
        log_joint_kernel = log_context_kernel - 0.5 * _pairwise_squares(rows_r, centres_r)
        prior, log_prior = _normalise(log_context_kernel)
        posterior, log_posterior = _normalise(log_joint_kernel)
        total = weights.sum()
        value = weights @ (log_posterior - log_prior) - total * (
            log_target.sum() + np.log(np.diag(residual)).sum() + 0.5 * n_targets * LOG_2PI
        )
        # A row's log p(y | x) is log sum_m exp(-Maha_nm / 2) over the joint kernel less the
        # same over the context kernel, so each parameter's derivative weighs the pairs'
        # distance derivatives by the posterior (joint) less the prior (context) weights.
        # For a context scale, d Maha / d log a_j = -2 (L_c^-T w)_j (L_c w)_j with the
        # whitened difference w: summed over pairs, the diagonal of L_c (sum g w w^T) L_c^-1.
        posterior *= weights[:, None]
        shift = posterior - prior * weights[:, None]
        context_gradient = _diagonal_of_conjugate(
            context, _pairwise_scatter(shift, rows_x, centres_x, rows_x, centres_x)
        )
        target_gradient = (
            _diagonal_of_conjugate(
                residual, _pairwise_scatter(posterior, rows_r, centres_r, rows_r, centres_r)
            )
            - total
        )
        # d log p / d A = D_b^-1 L_t^-T sum_m posterior_nm w_r (x_n - mu_m)^T; the slope offset
        # B enters as A_0 + L_t B L_c^-1.
        slope_gradient = (
            solve_triangular(
                residual,
                _pairwise_scatter(posterior, rows_r, centres_r, self.x, self.centre_x),
                lower=True,
                trans="T",
            )
            / target_scales[:, None]
        )
        offset_gradient = residual.T @ solve_triangular(context, slope_gradient.T, lower=True).T
        return value, np.concatenate([context_gradient, target_gradient, offset_gradient.ravel()])
