"""Vectorised EM for a Gaussian mixture, written around sufficient statistics.

The E-step of a block of rows returns the summed statistics
``(sum_i w_i r_ik, sum_i w_i r_ik z_i, sum_i w_i r_ik z_i z_i^T)`` (the last
reduced to what the covariance type needs) and the M-step turns summed
statistics into parameters, so batch EM, stepwise EM and block-parallel EM
share one code path (user guide, "Scaling out").

Conventions follow scikit-learn's ``GaussianMixture``: covariances of shape
(K, D, D) ``full``, (D, D) ``tied``, (K, D) ``diag``, (K,) ``spherical``;
``precisions_cholesky`` is the upper factor with ``P P^T = Sigma^-1``; the
responsibilities get ``10 * eps`` added per component in the M-step.
The data are shifted by a fixed ``center`` (their mean) before the statistics
are accumulated, so ``sum r z z^T - N mu mu^T`` does not cancel catastrophically.
"""

from functools import lru_cache
from typing import NamedTuple

import numpy as np

from .._persistence import saved_as_fields
from .gaussian import LOG_2PI, cholesky, precision_cholesky

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")

# Rows per block: keeps the (rows, K*D) work arrays of a block near 2 MB, in cache.
_BLOCK_ELEMENTS = 1 << 18
# An in-memory fit keeps each row's pairwise products (D (D + 1) / 2 floats) across its
# EM iterations when they take at most this many floats (128 MiB).
_PRODUCTS_MAX_ELEMENTS = 1 << 24


@saved_as_fields
class SufficientStatistics(NamedTuple):
    """Summed, weighted statistics of a set of rows (in shifted coordinates).

    Attributes
    ----------
    log_likelihood : float
        ``sum_i w_i log p(z_i)`` under the parameters of the E-step.
    total_weight : float
        ``sum_i w_i``.
    resp_sums : ndarray of shape (K,)
        ``N_k = sum_i w_i r_ik``.
    first_moments : ndarray of shape (K, D)
        ``sum_i w_i r_ik z_i``.
    second_moments : ndarray
        ``sum_i w_i r_ik z_i z_i^T`` (K, D, D) for ``full``; ``sum_i w_i z_i z_i^T``
        (D, D) for ``tied``; ``sum_i w_i r_ik z_i**2`` (K, D) for ``diag`` and
        ``spherical``.
    resp_entropy : float
        ``sum_i w_i sum_k r_ik log r_ik`` (the variational lower bound's data term;
        0 unless the E-step was asked for it).
    """

    log_likelihood: float
    total_weight: float
    resp_sums: np.ndarray
    first_moments: np.ndarray
    second_moments: np.ndarray
    resp_entropy: float = 0.0


class MixtureParameters(NamedTuple):
    """Mixture parameters in shifted coordinates (``means`` are relative to the center)."""

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    precisions_cholesky: np.ndarray


def block_rows(row_width):
    """Rows per block when each row needs ``row_width`` floats of working memory."""
    return max(64, _BLOCK_ELEMENTS // max(1, row_width))


def without_rounding(variances, rows, weights=None):
    """``variances`` with those of constant columns of ``rows`` (the rows of positive
    weight) set to zero.

    A column of equal values ``c`` has a computed variance of order ``(eps * c)**2``
    rather than 0 (the rounding of its mean); read as the data's scale, it made the
    jitter ``reg_covar`` times that (1e-43 for a column of 0.1s) and a fitted covariance
    not positive definite. Equality of the values is tested exactly, not against a
    tolerance: a column may legitimately spread over 1e-12 of its magnitude.
    """
    if weights is not None:
        rows = rows[weights > 0]
    if len(rows) == 0:
        return np.asarray(variances, dtype=float)
    return np.where(np.ptp(rows, axis=0) > 0, variances, 0.0)


def covariance_jitter(variances, reg_covar, rounding=None):
    """The diagonal jitter that makes ``reg_covar`` relative to the data: ``reg_covar``
    times each column's variance (``reg_covar`` itself for a constant column), and at
    least ``rounding``, each column's rounding variance
    (:func:`skgmje._core.resolution.rounding_variances`), where given.

    Scaling the data by ``s`` scales the jitter by ``s**2``, so a fit does not depend
    on the units of its columns.
    """
    variances = np.asarray(variances, dtype=float)
    jitter = reg_covar * np.where(variances > 0, variances, 1.0)
    return jitter if rounding is None else np.maximum(jitter, rounding)


# The target block's weight in the starting distances, relative to the context block's.
TARGET_BLOCK_WEIGHT = 2.0


def column_scales(variances, n_context):
    """Divisors of the joint columns for the distances that start a mixture.

    Whatever measures Euclidean distances on the joint rows (the k-means and k-means++
    starts, Growing Neural Gas) divides by these. Each column is divided by its standard
    deviation (1 for a constant column), so that no column dominates because of its units
    and a fit is equivariant under rescaling any one column. Each block is then divided by
    the square root of its width, so that ten context columns do not outweigh one target
    ten to one, and the target block by ``TARGET_BLOCK_WEIGHT`` more: the components of a
    conditional model exist to separate the target's modes (the branches of a multi-valued
    ``y``), which are gaps in ``y``, while a smooth context has no gaps and any cut of it
    is as good as another. A start that splits the targets first ends in EM's better
    basins more often: with the blocks weighed alike, stepwise EM on Datasets A and B
    ended further from batch EM (the scaling benchmark, ``benchmarks/bench_scale.py``,
    measures ``partial_fit`` against batch EM; its numbers are on the Benchmarks page).
    """
    variances = np.asarray(variances, dtype=float)
    is_context = np.arange(len(variances)) < n_context
    block_widths = np.where(is_context, n_context, len(variances) - n_context)
    block_weights = np.where(is_context, 1.0, TARGET_BLOCK_WEIGHT)
    return np.sqrt(np.where(variances > 0, variances, 1.0) * block_widths) / block_weights


def weighted_sum_of_squares(shifted, sample_weight=None):
    """Per-column (weighted) sum of squares of shifted rows, without an (n, D) temporary."""
    if sample_weight is None:
        return np.einsum("nd,nd->d", shifted, shifted)
    return np.einsum("n,nd,nd->d", sample_weight, shifted, shifted)


def weighted_scatter(rows, weights=None):
    """``sum_i w_i r_i r_i^T`` of shape (D, D): the moment-form scatter (``rows.T @ rows``
    without weights). Rows shifted by their weighted mean give ``total weight`` times
    their covariance."""
    if weights is None:
        return rows.T @ rows
    return (rows * weights[:, None]).T @ rows


def weighted_variances(shifted, sample_weight=None):
    """Per-column (weighted) mean of squares of rows already shifted by their mean;
    exactly 0 for a column whose values are all equal (:func:`without_rounding`)."""
    total = len(shifted) if sample_weight is None else np.sum(sample_weight)
    return without_rounding(
        weighted_sum_of_squares(shifted, sample_weight) / total, shifted, sample_weight
    )


def hard_responsibilities(labels, n_components):
    """One-hot responsibilities of ``labels``; a negative label gives a row of zeros."""
    resp = np.zeros((len(labels), n_components))
    chosen = np.flatnonzero(labels >= 0)
    resp[chosen, labels[chosen]] = 1.0
    return resp


def random_responsibilities(rng, n_rows, n_components):
    """Uniform draws normalised per row (``GaussianMixture``'s ``"random"`` start)."""
    resp = rng.uniform(size=(n_rows, n_components))
    resp /= resp.sum(axis=1)[:, None]
    return resp


def log_gaussian_prob(Z, means, precisions_chol, covariance_type):
    """``log N(z_i | mu_k, Sigma_k)`` for rows ``Z`` (n, D); returns (n, K)."""
    n_samples, n_joint = Z.shape
    n_components = means.shape[0]
    if covariance_type == "full":
        # One GEMM against every component's precision factor at once: Z @ [P_1 ... P_K].
        stacked = np.transpose(precisions_chol, (1, 0, 2)).reshape(n_joint, -1)
        offsets = np.einsum("kd,kde->ke", means, precisions_chol).reshape(-1)
        projected = Z @ stacked
        projected -= offsets
        projected = projected.reshape(n_samples, n_components, n_joint)
        # einsum squares and sums in one pass: 3-6x faster than a square and a
        # reduction over the short last axis.
        mahalanobis = np.einsum("nkd,nkd->nk", projected, projected)
    elif covariance_type == "tied":
        projected = Z @ precisions_chol
        projected_means = means @ precisions_chol
        mahalanobis = (
            np.einsum("nd,nd->n", projected, projected)[:, None]
            - 2.0 * projected @ projected_means.T
            + np.einsum("kd,kd->k", projected_means, projected_means)
        )
    elif covariance_type == "diag":
        precisions = precisions_chol**2
        mahalanobis = (
            np.sum(means**2 * precisions, axis=1)
            - 2.0 * Z @ (means * precisions).T
            + (Z**2) @ precisions.T
        )
    else:
        precisions = precisions_chol**2
        mahalanobis = (
            np.sum(means**2, axis=1) * precisions
            - 2.0 * (Z @ means.T) * precisions
            + np.outer(np.einsum("nd,nd->n", Z, Z), precisions)
        )
    log_det = log_det_precisions_cholesky(precisions_chol, covariance_type, n_joint)
    return -0.5 * (n_joint * LOG_2PI + mahalanobis) + log_det


def log_det_precisions_cholesky(precisions_chol, covariance_type, n_joint):
    """``log |P_k|`` of each component's precision factor: (K,), or a float for ``tied``."""
    if covariance_type == "full":
        return np.sum(np.log(np.diagonal(precisions_chol, axis1=1, axis2=2)), axis=1)
    if covariance_type == "tied":
        return np.sum(np.log(np.diag(precisions_chol)))
    if covariance_type == "diag":
        return np.sum(np.log(precisions_chol), axis=1)
    return n_joint * np.log(precisions_chol)


def pair_products(Z):
    """Each row's products ``z_d z_e`` for ``d <= e`` (row-major upper triangle):
    shape (n, D (D + 1) / 2), or None when that exceeds the memory budget.

    With them a full-covariance M-step's second moments are one product
    ``resp.T @ products`` per block, with no (rows, K * D) array filled per iteration:
    an EM fit computes them once and passes them to every :func:`e_step`.
    """
    n_samples, n_joint = Z.shape
    width = n_joint * (n_joint + 1) // 2
    if n_samples * width > _PRODUCTS_MAX_ELEMENTS:
        return None
    products = np.empty((n_samples, width))
    start = 0
    for d in range(n_joint):
        stop = start + n_joint - d
        np.multiply(Z[:, d : d + 1], Z[:, d:], out=products[:, start:stop])
        start = stop
    return products


@lru_cache(maxsize=8)
def _upper_indices(n_joint):
    # Every block of every iteration unpacks with these: computed once per width.
    return np.triu_indices(n_joint)


def _symmetric_from_upper(upper, n_joint):
    """(K, D (D + 1) / 2) row-major upper triangles to (K, D, D) symmetric matrices."""
    rows, columns = _upper_indices(n_joint)
    full = np.empty((len(upper), n_joint, n_joint))
    full[:, rows, columns] = upper
    full[:, columns, rows] = upper
    return full


def statistics_from_responsibilities(Z, resp, covariance_type, sample_weight=None, products=None):
    """Sufficient statistics of rows ``Z`` with (already weighted) responsibilities ``resp``.

    ``products`` are the rows' :func:`pair_products` (full covariances only), or None.
    ``log_likelihood`` is left at 0: the caller knows it.
    """
    n_samples, n_joint = Z.shape
    n_components = resp.shape[1]
    if covariance_type == "full" and products is not None:
        second = _symmetric_from_upper(resp.T @ products, n_joint)
    elif covariance_type == "full":
        weighted = (resp[:, :, None] * Z[:, None, :]).reshape(n_samples, -1)
        second = (weighted.T @ Z).reshape(n_components, n_joint, n_joint)
    elif covariance_type == "tied":
        rows = Z if sample_weight is None else Z * sample_weight[:, None]
        second = rows.T @ Z
    else:
        second = resp.T @ (Z**2)
    total = float(n_samples if sample_weight is None else np.sum(sample_weight))
    return SufficientStatistics(0.0, total, resp.sum(axis=0), resp.T @ Z, second)


def add_statistics(first, second):
    """Sum of two :class:`SufficientStatistics`."""
    return SufficientStatistics(*(a + b for a, b in zip(first, second)))


def e_step(
    Z,
    parameters,
    covariance_type,
    sample_weight=None,
    log_weights=None,
    entropy=False,
    rows=None,
    products=None,
):
    """Score every row and accumulate the statistics the M-step needs, block by block.

    ``log_weights`` (K,) is added to each component's log-density in place of
    ``log(parameters.weights)`` (the variational E-step's expected log weights and
    normalisers); ``entropy`` also sums ``w_i r_ik log r_ik``; ``rows`` (indices)
    restricts the pass to those rows of ``Z``, gathered a block at a time;
    ``products`` are all of ``Z``'s :func:`pair_products` (or None).

    Returns
    -------
    SufficientStatistics
    """
    if log_weights is None:
        log_weights = np.log(parameters.weights)

    def responsibilities(block, start, stop):
        log_prob = log_gaussian_prob(
            block, parameters.means, parameters.precisions_cholesky, covariance_type
        )
        log_prob += log_weights
        # The log-normaliser and the responsibilities share one exp of the (rows, K)
        # array: logsumexp's peak shift, kept.
        peak = log_prob.max(axis=1)
        peak[~np.isfinite(peak)] = 0.0
        log_prob -= peak[:, None]
        resp = np.exp(log_prob, out=None if entropy else log_prob)
        total = resp.sum(axis=1)
        resp /= total[:, None]
        with np.errstate(divide="ignore"):
            log_total = np.log(total)
        if not entropy:
            return resp, log_total + peak
        # sum_k r_k log r_k, with log r_k = (shifted log_prob)_k - log_total.
        return resp, log_total + peak, np.einsum("nk,nk->n", resp, log_prob) - log_total

    return accumulate_statistics(
        Z, len(parameters.means), covariance_type, responsibilities, sample_weight, rows, products
    )


def accumulate_statistics(
    Z, n_components, covariance_type, responsibilities, sample_weight=None, rows=None, products=None
):
    """Sum the statistics of ``Z`` (or of its ``rows``) over blocks of :func:`block_rows` rows.

    ``responsibilities(block, start, stop)`` returns the unweighted responsibilities
    of rows ``start:stop`` (shape (rows, K)) and their log-likelihoods (or None),
    optionally followed by each row's ``sum_k r_ik log r_ik``, so no array larger
    than a block times K*D is ever formed. ``products`` are ``Z``'s
    :func:`pair_products`, or None.
    """
    n_joint = Z.shape[1]
    n_samples = len(Z) if rows is None else len(rows)
    step = block_rows(n_components * n_joint)
    totals = None
    for start in range(0, max(n_samples, 1), step):
        stop = min(start + step, n_samples)
        index = slice(start, stop) if rows is None else rows[start:stop]
        block = Z[index]
        block_weight = None if sample_weight is None else sample_weight[index]
        resp, log_norm, *row_entropy = responsibilities(block, start, stop)
        if block_weight is not None:
            resp = resp * block_weight[:, None]
            if log_norm is not None:
                log_norm = log_norm * block_weight
            row_entropy = [values * block_weight for values in row_entropy]
        stats = statistics_from_responsibilities(
            block,
            resp,
            covariance_type,
            block_weight,
            None if products is None else products[index],
        )
        if log_norm is not None:
            stats = stats._replace(log_likelihood=float(np.sum(log_norm)))
        if row_entropy:
            stats = stats._replace(resp_entropy=float(np.sum(row_entropy[0])))
        totals = stats if totals is None else add_statistics(totals, stats)
    return totals


def expected_statistics(parameters, covariance_type, reg_covar):
    """The statistics per unit weight that the parameters themselves imply.

    ``N_k = pi_k``, ``sum r z = pi_k mu_k``, ``sum r z z^T = pi_k (Sigma_k + mu_k mu_k^T)``
    with the ``reg_covar`` jitter taken off ``Sigma_k`` (the M-step adds it back), so
    an M-step on them returns the same parameters: the starting point of stepwise EM
    continuing from fitted parameters.
    """
    weights, means = parameters.weights, parameters.means
    n_joint = means.shape[1]
    covariances = np.array(parameters.covariances, dtype=float)
    if covariance_type == "full":
        covariances[:, np.arange(n_joint), np.arange(n_joint)] -= reg_covar
        second = weights[:, None, None] * (covariances + np.einsum("kd,ke->kde", means, means))
    elif covariance_type == "tied":
        covariances.flat[:: n_joint + 1] -= reg_covar
        second = covariances + (weights * means.T) @ means
    else:
        if covariance_type == "diag":
            variances = covariances - reg_covar
        else:
            variances = np.repeat((covariances - np.mean(reg_covar))[:, None], n_joint, axis=1)
        second = weights[:, None] * (variances + means**2)
    return SufficientStatistics(0.0, 1.0, weights.copy(), weights[:, None] * means, second)


@saved_as_fields
class StepwiseState(NamedTuple):
    """The state of stepwise (online) EM between batches (Cappé & Moulines, 2009).

    ``statistics`` are the running sufficient statistics per unit weight, in
    coordinates shifted by ``center``; ``n_steps`` counts the batches seen.
    """

    statistics: SufficientStatistics
    center: np.ndarray
    n_steps: int

    def step(self, batch_statistics, batch_weight, learning_offset, learning_decay):
        """The state after one batch: ``s <- (1 - eta) s + eta s_b / w_b`` with
        ``eta = (t + learning_offset) ** -learning_decay``."""
        n_steps = self.n_steps + 1
        eta = (n_steps + learning_offset) ** -learning_decay
        statistics = add_statistics(
            scale_statistics(self.statistics, 1.0 - eta),
            scale_statistics(batch_statistics, eta / batch_weight),
        )
        return StepwiseState(statistics, self.center, n_steps)


def scale_statistics(statistics, factor):
    """Every summed statistic multiplied by ``factor`` (the log-likelihood too)."""
    return SufficientStatistics(*(factor * value for value in statistics))


def statistics_size(n_components, n_joint, covariance_type):
    """Length of :func:`flatten_statistics`'s vector."""
    second = {
        "full": n_components * n_joint * n_joint,
        "tied": n_joint * n_joint,
    }.get(covariance_type, n_components * n_joint)
    return 3 + n_components + n_components * n_joint + second


def flatten_statistics(statistics):
    """One float vector holding a :class:`SufficientStatistics` (for array reductions)."""
    return np.concatenate(
        [
            [statistics.log_likelihood, statistics.total_weight, statistics.resp_entropy],
            statistics.resp_sums,
            statistics.first_moments.ravel(),
            statistics.second_moments.ravel(),
        ]
    )


def unflatten_statistics(vector, n_components, n_joint, covariance_type):
    """Inverse of :func:`flatten_statistics`."""
    K, D = n_components, n_joint
    first_end = 3 + K + K * D
    shape = {"full": (K, D, D), "tied": (D, D)}.get(covariance_type, (K, D))
    return SufficientStatistics(
        float(vector[0]),
        float(vector[1]),
        np.array(vector[3 : 3 + K]),
        np.array(vector[3 + K : first_end]).reshape(K, D),
        np.array(vector[first_end:]).reshape(shape),
        float(vector[2]),
    )


def gaussian_estimates(statistics, covariance_type, reg_covar):
    """Per-component weight sums, means and covariances of summed statistics.

    scikit-learn's ``_estimate_gaussian_parameters`` in moment form: ``N_k`` gets
    ``10 * eps``, ``reg_covar`` (a number, or one value per column) is added to the
    diagonal. Returns ``(resp_sums, means, covariances)``.
    """
    resp_sums = statistics.resp_sums + 10 * np.finfo(float).eps
    means = statistics.first_moments / resp_sums[:, None]
    if covariance_type == "full":
        cross = np.einsum("kd,ke->kde", means, statistics.first_moments)
        covariances = (
            statistics.second_moments
            - cross
            - np.swapaxes(cross, 1, 2)
            + statistics.resp_sums[:, None, None] * np.einsum("kd,ke->kde", means, means)
        ) / resp_sums[:, None, None]
        covariances = 0.5 * (covariances + np.swapaxes(covariances, 1, 2))
        covariances[:, np.arange(means.shape[1]), np.arange(means.shape[1])] += reg_covar
    elif covariance_type == "tied":
        covariances = (statistics.second_moments - (resp_sums * means.T) @ means) / resp_sums.sum()
        covariances = 0.5 * (covariances + covariances.T)
        covariances.flat[:: means.shape[1] + 1] += reg_covar
    else:
        covariances = statistics.second_moments / resp_sums[:, None] - means**2 + reg_covar
        if covariance_type == "spherical":
            covariances = covariances.mean(axis=1)
    return resp_sums, means, covariances


def m_step(statistics, covariance_type, reg_covar):
    """Parameters from summed statistics (scikit-learn's estimators, in moment form).

    ``reg_covar`` is added to the diagonal: a number, or one value per column.
    """
    resp_sums, means, covariances = gaussian_estimates(statistics, covariance_type, reg_covar)
    weights = resp_sums / resp_sums.sum()
    return MixtureParameters(
        weights, means, covariances, precisions_cholesky_of(covariances, covariance_type)
    )


def precisions_cholesky_of(covariances, covariance_type):
    """``precisions_cholesky`` of each covariance type (Cholesky with jitter for full/tied)."""
    if covariance_type in ("full", "tied"):
        return precision_cholesky(cholesky(covariances))
    if np.any(covariances <= 0.0) or not np.all(np.isfinite(covariances)):
        raise ValueError(
            "A component has a non-positive variance: it collapsed onto too few "
            "points. Decrease n_components, increase reg_covar, or scale the inputs."
        )
    return 1.0 / np.sqrt(covariances)


def full_covariances(covariances, covariance_type, n_components, n_joint):
    """Expand any covariance type to a (K, D, D) stack."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.broadcast_to(covariances, (n_components, n_joint, n_joint)).copy()
    variances = (
        covariances if covariance_type == "diag" else covariances[:, None] * np.ones(n_joint)
    )
    return variances[:, :, None] * np.eye(n_joint)


def n_parameters(covariance_type, n_components, n_joint):
    """Number of free parameters of the mixture (as ``GaussianMixture._n_parameters``)."""
    covariance_parameters = {
        "full": n_components * n_joint * (n_joint + 1) / 2.0,
        "tied": n_joint * (n_joint + 1) / 2.0,
        "diag": n_components * n_joint,
        "spherical": n_components,
    }[covariance_type]
    return int(covariance_parameters + n_joint * n_components + n_components - 1)
