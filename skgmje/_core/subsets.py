"""A Gaussian mixture conditioned on any subset of its columns, with values missing.

For a mixture ``sum_k pi_k N(z | mu_k, Sigma_k)`` and a row whose columns ``O`` are
observed, the columns ``T`` given ``z_O`` are again a mixture (user guide, "Missing
values and conditioning on any columns")::

    w_k        propto  pi_k N(z_O | mu_kO, Sigma_kOO)
    mu_k(z_O)  =  mu_kT + Sigma_kTO Sigma_kOO^-1 (z_O - mu_kO)
    Sigma_k    =  Sigma_kTT - Sigma_kTO Sigma_kOO^-1 Sigma_kOT

and ``log sum_k pi_k N(z_O | mu_kO, Sigma_kOO)`` is the log-density of what was
observed, every other column marginalised. Rows are grouped by which columns they
miss, so the factorisations are done once per pattern, never per row.
"""

import numpy as np
from scipy import linalg

from .gaussian import LOG_2PI, cholesky, condition, log_det_from_cholesky, logsumexp

__all__ = ["condition_rows", "missingness_groups", "normalised_log_weights"]


def missingness_groups(missing):
    """The rows of each pattern of missing columns.

    Parameters
    ----------
    missing : ndarray of shape (n, g) of bool

    Returns
    -------
    list of (pattern, rows)
        ``pattern`` (g,) is True where a column is missing; ``rows`` are the indices of
        the rows with that pattern, in increasing order.
    """
    patterns, inverse = np.unique(missing, axis=0, return_inverse=True)
    inverse = inverse.ravel()
    order = np.argsort(inverse, kind="stable")
    bounds = np.cumsum(np.bincount(inverse, minlength=len(patterns)))[:-1]
    return list(zip(patterns, np.split(order, bounds)))


def normalised_log_weights(log_joint, name):
    """``(log evidence, log responsibilities)`` of ``log pi_k + log p(z | k)`` (n, K).

    Raises a ValueError naming ``name`` for a row so far from every component that its
    density underflows: its responsibilities would be undefined.
    """
    log_evidence = logsumexp(log_joint, axis=1)
    if not np.all(np.isfinite(log_evidence)):
        rows = np.flatnonzero(~np.isfinite(log_evidence))
        raise ValueError(
            f"Row(s) {rows[:5].tolist()} of {name} lie so far from every component, in the "
            "units of the fitted covariances, that their density underflows to 0 in float64 "
            "and the conditional is undefined. A training column with almost no spread (all "
            "values within ~1e-150 of each other) makes any other value infinitely far: drop "
            "such columns or rescale them."
        )
    return log_evidence, log_joint - log_evidence[:, None]


def condition_rows(log_weights, means, covariances, observed, targets, values, name="the values"):
    """The mixture of columns ``targets`` given columns ``observed`` at ``values``.

    Parameters
    ----------
    log_weights : ndarray of shape (n, K) or (1, K)
    means : ndarray of shape (n, K, D) or (1, K, D)
        A single row is shared by every row of ``values``.
    covariances : ndarray of shape (K, D, D)
    observed, targets : ndarray of int
        Disjoint column indices; ``observed`` may be empty (the marginal of ``targets``).
    values : ndarray of shape (n, len(observed))
        Finite.
    name : str
        What the values are, for the error on a row no component explains.

    Returns
    -------
    log_evidence : ndarray of shape (n,)
        ``log p(z_O)``, 0 when nothing is observed.
    log_weights : ndarray of shape (n, K)
    means : ndarray of shape (n, K, len(targets))
    covariances : ndarray of shape (K, len(targets), len(targets))
    """
    n_rows, n_components = len(values), covariances.shape[0]
    target_covariances = covariances[:, targets[:, None], targets]
    target_means = means[..., targets]
    if len(observed) == 0:
        return (
            np.zeros(n_rows),
            np.broadcast_to(log_weights, (n_rows, n_components)).copy(),
            np.broadcast_to(target_means, (n_rows,) + target_means.shape[1:]).copy(),
            target_covariances,
        )
    order = np.concatenate([observed, targets])
    conditional = condition(
        np.zeros((n_components, len(order))),
        covariances[:, order[:, None], order],
        len(observed),
    )
    factor = cholesky(covariances[:, observed[:, None], observed])
    diff = values[:, None, :] - means[..., observed]
    whitened = _whiten(factor, diff)
    log_joint = log_weights - 0.5 * (
        np.square(whitened).sum(axis=-1) + log_det_from_cholesky(factor) + len(observed) * LOG_2PI
    )
    log_evidence, log_responsibilities = normalised_log_weights(log_joint, name)
    conditional_means = target_means + np.einsum("kto,nko->nkt", conditional.coef, diff)
    return log_evidence, log_responsibilities, conditional_means, conditional.covariance


def _whiten(factor, diff):
    """``L_k^-1 d_nk`` for lower factors (K, o, o) and differences (n, K, o): one batched
    triangular solve with every row of a component as a right-hand side."""
    solved = linalg.solve_triangular(factor, np.transpose(diff, (1, 2, 0)), lower=True)
    return np.transpose(solved, (2, 0, 1))
