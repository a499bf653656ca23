"""EM statistics of rows with missing entries (NaN), exact under missing at random.

Ghahramani and Jordan (1994): a row's responsibilities come from the density of its
observed entries, and its statistics are the expected ones given them. For component
``k`` with precision ``Lambda = Sigma^-1``, a row with missing columns ``M`` and
residual ``r = z - mu_k`` (zero on ``M``):

- ``g = Lambda r``; the missing entries' conditional mean is ``mu_kM - x`` with
  ``x = Lambda_MM^-1 g_M`` and their conditional covariance is ``Lambda_MM^-1``;
- the observed entries' Mahalanobis distance is ``r' Lambda r - g_M' x`` and
  ``log |Sigma_OO| = log |Lambda_MM| - log |Lambda|``;
- the row adds ``r_ik z_hat`` and ``r_ik (z_hat z_hat' + C)`` to the statistics, with
  ``z_hat`` the row completed by the conditional mean and ``C`` the conditional
  covariance in the missing block.

Only ``|M| x |M|`` blocks of the precision are inverted, once per pattern of missing
columns, component and block of rows (rows come ordered by pattern), so the cost per row
stays that of the complete-data E-step plus a solve of the size of what it misses.
Complete rows take :func:`em.e_step` unchanged.
"""

from typing import NamedTuple

import numpy as np
from scipy import sparse

from . import em
from .gaussian import LOG_2PI, logsumexp

__all__ = ["MissingLayout", "e_step_with_missing", "missing_layout", "observed_moments"]


class MissingLayout(NamedTuple):
    """Which rows miss what, computed once per fit.

    Attributes
    ----------
    complete : ndarray of int
        The rows with every entry observed.
    groups : list of (rows, missing_columns, patterns)
        One per number ``m`` of missing entries (``0 < m < D``): the rows (ordered by
        pattern), each distinct pattern's missing columns (P, m) in increasing order, and
        each row's pattern.
    n_empty : int
        Rows with no entry observed, which carry no information and are left out.
    """

    complete: np.ndarray
    groups: list
    n_empty: int


def missing_layout(missing):
    """The :class:`MissingLayout` of a (n, D) boolean array of missing entries."""
    counts = missing.sum(axis=1)
    n_joint = missing.shape[1]
    groups = []
    for count in np.unique(counts):
        if count == 0 or count == n_joint:
            continue
        rows = np.flatnonzero(counts == count)
        patterns, inverse = np.unique(missing[rows], axis=0, return_inverse=True)
        columns = np.nonzero(patterns)[1].reshape(len(patterns), count)
        # Rows of one pattern side by side: the E-step gathers each row's conditional
        # covariances from its pattern's, and neighbouring reads stay in cache.
        inverse = inverse.ravel()
        order = np.argsort(inverse, kind="stable")
        groups.append((rows[order], columns, inverse[order]))
    return MissingLayout(
        np.flatnonzero(counts == 0), groups, int(np.count_nonzero(counts == n_joint))
    )


def observed_moments(Z, sample_weight=None):
    """Per-column (weighted) mean and variance of the observed entries of ``Z``.

    The variance of a column whose observed values are all equal is exactly 0
    (:func:`skgmje._core.em.without_rounding`). Raises a ValueError for a column with no
    observed entry of positive weight: nothing determines its distribution.
    """
    observed = ~np.isnan(Z)
    weights = np.ones(len(Z)) if sample_weight is None else sample_weight
    column_weights = weights @ observed
    if np.any(column_weights <= 0):
        raise ValueError(
            f"Column(s) {np.flatnonzero(column_weights <= 0).tolist()} of [X, y] have no "
            "observed value (with positive weight): nothing determines their distribution. "
            "Drop them."
        )
    center = (weights @ np.where(observed, Z, 0.0)) / column_weights
    variances = (weights @ np.where(observed, Z - center, 0.0) ** 2) / column_weights
    spread = np.nanmax(np.where(weights[:, None] > 0, Z, np.nan), axis=0) - np.nanmin(
        np.where(weights[:, None] > 0, Z, np.nan), axis=0
    )
    return center, np.where(spread > 0, variances, 0.0)


def e_step_with_missing(
    Z, layout, parameters, covariance_type, sample_weight=None, log_weights=None, entropy=False
):
    """:func:`skgmje._core.em.e_step` for rows with NaN entries, laid out by ``layout``.

    ``log_weights`` and ``entropy`` are the variational E-step's (BayesianGMJE): with the
    missing entries as latent variables of a mean-field posterior, the responsibilities
    take the same expected log weights, and ``resp_entropy`` also holds
    ``-sum w r_ik log |C_ik| / 2``, the entropy of each row's missing entries given
    component ``k`` (up to a constant), which the variational bound adds.

    Returns
    -------
    SufficientStatistics
        Summed over every row with at least one observed entry.
    """
    if log_weights is None:
        log_weights = np.log(parameters.weights)
    statistics = None
    if len(layout.complete):
        statistics = em.e_step(
            Z, parameters, covariance_type, sample_weight, log_weights, entropy, layout.complete
        )
    if layout.groups:
        # Any covariance type's precision factors as (K, D, D) upper factors.
        precision_factors = em.full_covariances(
            parameters.precisions_cholesky, covariance_type, *parameters.means.shape
        )
        for rows, columns, patterns in layout.groups:
            part = _group_statistics(
                Z,
                rows,
                columns,
                patterns,
                parameters.means,
                precision_factors,
                covariance_type,
                sample_weight,
                log_weights,
                entropy,
            )
            statistics = part if statistics is None else em.add_statistics(statistics, part)
    return statistics


# Batch elements per pass of the sweep: its work arrays then stay in the CPU's cache.
_SWEEP_BATCH = 16384
# Rows per block of the E-step with missing entries, in units of em.block_rows: its
# work arrays fill a few MB, where the per-block calls no longer dominate.
_BLOCK_WIDTH = 4


def _invert_blocks(blocks):
    """Replace (m, m, B) symmetric positive definite blocks by minus their inverses, in
    place; return their log-determinants.

    The symmetric sweep operator (Goodnight 1979), one pivot at a time over the whole
    batch, updating the upper triangle only: no pivoting is needed for positive definite
    matrices (the pivots are the Cholesky factor's squared diagonal), and sweeping every
    pivot leaves minus the inverse, whose sign the callers fold into their products.
    LAPACK's batched routines pay a call per matrix, which for the hundreds of thousands
    of small blocks of a 30%-missing table cost several times the arithmetic.
    """
    n_missing = blocks.shape[0]
    log_det = np.zeros(blocks.shape[2])
    for start in range(0, blocks.shape[2], _SWEEP_BATCH):
        part = blocks[:, :, start : start + _SWEEP_BATCH]
        part_log_det = log_det[start : start + _SWEEP_BATCH]
        # Row k of the symmetric matrix, read from the upper triangle.
        pivot_row = np.empty((n_missing,) + part.shape[2:])
        work = np.empty_like(pivot_row)
        for k in range(n_missing):
            pivot = part[k, k].copy()
            part_log_det += np.log(pivot)
            pivot_row[:k] = part[:k, k]
            pivot_row[k:] = part[k, k:]
            scaled = pivot_row / pivot
            for i in range(n_missing):
                if i != k:
                    product = work[: n_missing - i]
                    np.multiply(pivot_row[i], scaled[i:], out=product)
                    part[i, i:] -= product
            part[:k, k] = scaled[:k]
            part[k, k:] = scaled[k:]
            part[k, k] = -1.0 / pivot
        for i in range(n_missing - 1):
            part[i + 1 :, i] = part[i, i + 1 :]
    return log_det


def _group_statistics(
    Z, rows, columns, patterns, means, factors, covariance_type, sample_weight, log_weights, entropy
):
    """The statistics of the rows missing ``m = columns.shape[1]`` entries each.

    Rows come ordered by pattern, so a block of rows covers a range of patterns: each
    block inverts the precision blocks of its own patterns and sums their conditional
    covariances into the statistics, and every work array stays in cache.
    """
    n_components, n_joint = means.shape
    n_missing = columns.shape[1]
    n_observed = n_joint - n_missing
    precisions = factors @ np.swapaxes(factors, 1, 2)
    by_position = precisions.transpose(1, 2, 0)
    log_det_precisions = 2.0 * np.sum(np.log(np.diagonal(factors, axis1=1, axis2=2)), axis=-1)

    resp_sums = np.zeros(n_components)
    first = np.zeros((n_components, 1, n_joint))
    second = np.zeros((n_components, n_joint * n_joint))
    log_likelihood = 0.0
    total = 0.0
    resp_entropy = 0.0
    # Every component at once: (K, rows, D) work arrays per block, batched products.
    step = _BLOCK_WIDTH * em.block_rows(n_components * (3 * n_joint + n_missing * (n_missing + 2)))
    for start in range(0, len(rows), step):
        index = rows[start : start + step]
        first_pattern = patterns[start]
        pattern = patterns[start : start + step] - first_pattern
        block_columns = columns[first_pattern : first_pattern + pattern[-1] + 1]
        n_patterns = len(block_columns)
        # (m, m, P, K) blocks of the precisions, batched last so each sweep step and
        # each row's gather below runs over contiguous memory; inverted in place: minus
        # the conditional covariances C of every pattern and component.
        blocks = by_position[block_columns.T[:, None, :], block_columns.T[None, :, :]]
        # log |Lambda_MM| per pattern and component: minus the log-determinant of C.
        log_det_blocks = _invert_blocks(blocks.reshape(n_missing, n_missing, -1)).reshape(
            n_patterns, n_components
        )
        log_det_observed = log_det_blocks - log_det_precisions

        block = Z[index]
        missing = np.isnan(block)
        block[missing] = 0.0
        missing_columns = block_columns[pattern]
        within = np.arange(len(index))[:, None]
        residual = block - means[:, None, :]
        residual *= ~missing
        gradient = residual @ precisions
        # g_M as (m, rows, K), and -x = -C g_M.
        gradient_missing = gradient[:, within, missing_columns].transpose(2, 1, 0)
        row_covariances = np.take(blocks, pattern, axis=2)
        correction = np.einsum("ijbk,jbk->ibk", row_covariances, gradient_missing)
        mahalanobis = np.einsum("kbd,kbd->bk", residual, gradient) + np.einsum(
            "ibk,ibk->bk", gradient_missing, correction
        )
        log_prob = log_weights - 0.5 * (
            mahalanobis + log_det_observed[pattern] + n_observed * LOG_2PI
        )
        log_norm = logsumexp(log_prob, axis=1)
        log_resp = log_prob - log_norm[:, None]
        resp = np.exp(log_resp)
        weights = None if sample_weight is None else sample_weight[index]
        if entropy:
            row_entropy = np.einsum("nk,nk->n", resp, log_resp + 0.5 * log_det_blocks[pattern])
            resp_entropy += float(np.sum(row_entropy if weights is None else row_entropy * weights))
        if weights is not None:
            resp *= weights[:, None]
            log_norm = log_norm * weights
        log_likelihood += float(np.sum(log_norm))
        total += float(len(index) if weights is None else np.sum(weights))
        resp_sums += resp.sum(axis=0)
        # The row completed by each component's conditional mean, built in place of the
        # residual (zero on the missing entries, which become -x).
        residual[:, within, missing_columns] = correction.transpose(2, 1, 0)
        completed = residual
        completed += means[:, None, :]
        resp_t = np.ascontiguousarray(resp.T)[:, None, :]
        first += resp_t @ completed
        weighted = completed * resp_t.transpose(0, 2, 1)
        if covariance_type in ("full", "tied"):
            second += (np.swapaxes(weighted, 1, 2) @ completed).reshape(n_components, -1)
        else:
            second[:, :: n_joint + 1] += np.einsum("kbd,kbd->kd", weighted, completed)
        # Each pattern's conditional covariances, weighted by its rows' responsibilities,
        # summed into the flat (D * D) positions of its missing block: one sparse
        # product (one entry per column) for every component.
        blocks *= -np.bincount(
            (pattern[:, None] * n_components + np.arange(n_components)).ravel(),
            weights=resp.ravel(),
            minlength=n_patterns * n_components,
        ).reshape(n_patterns, n_components)
        positions = (block_columns.T[:, None, :] * n_joint + block_columns.T[None, :, :]).ravel()
        scatter = sparse.csc_matrix(
            (np.ones(positions.size), positions, np.arange(positions.size + 1)),
            shape=(n_joint * n_joint, positions.size),
        )
        second += (scatter @ blocks.reshape(positions.size, n_components)).T
    second = second.reshape(n_components, n_joint, n_joint)
    if covariance_type == "tied":
        second = second.sum(axis=0)
    elif covariance_type in ("diag", "spherical"):
        second = np.diagonal(second, axis1=1, axis2=2).copy()
    return em.SufficientStatistics(
        log_likelihood, total, resp_sums, first[:, 0], second, resp_entropy
    )
