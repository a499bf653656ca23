"""One-dimensional Gaussian mixtures, one per row: CDF, quantiles, highest-density regions, CRPS.

Every function takes the mixture of each row as ``log_weights`` (n, K), ``means`` (n, K)
and ``scales`` (K,) or (n, K) (standard deviations), and works on all rows at once, a
block of rows at a time, with no Python loop over rows.

- Quantiles invert the CDF by Newton steps safeguarded by bisection, starting from the
  bracket ``[min_k Q_k(q), max_k Q_k(q)]`` of the components' own quantiles: the mixture
  CDF is a convex combination of theirs, so its quantile lies between them.
- The highest-density region of mass ``c`` is ``{y : p(y) >= t}`` with ``t`` chosen so
  that its mass is ``c`` (Hyndman 1996). Its boundaries are the roots of ``p(y) = t``,
  bracketed on a grid that samples every component at its own scale (so a narrow
  component is never stepped over) and refined by Newton; ``t`` is found by bisection on
  the grid's piecewise-linear mass, then Newton on the exact mass, whose derivative is
  ``-t sum_b 1 / |p'(b)|`` over the boundaries ``b``. In one dimension a mixture of K
  Gaussians has at most K modes, so the region is at most K intervals.
- The CRPS has the closed form of Grimit et al. (2006).
"""

from numbers import Real
from typing import NamedTuple

import numpy as np
from scipy.special import log_ndtr, ndtr, ndtri

from .em import block_rows
from .gaussian import logsumexp

__all__ = [
    "HighestDensityRegion",
    "cdf",
    "check_coverage",
    "check_probabilities",
    "concatenate_regions",
    "crps",
    "hdr",
    "highest_density_level",
    "ppf",
]

# Grid offsets, in each component's standard deviations, at which the density is sampled
# to bracket the region's boundaries; with a uniform grid across the whole support.
_COMPONENT_OFFSETS = np.array([-4.0, -2.5, -1.5, -0.75, 0.0, 0.75, 1.5, 2.5, 4.0])
_UNIFORM_POINTS = 48
# With more components (a particle bank), only the heaviest this many of each row are
# sampled at their own scale, and the uniform sweep is finer: the grid, and the work per
# row, stay bounded. A narrow component outside them can be missed, losing at most its
# weight from the region.
_LOCAL_COMPONENTS = 32
_UNIFORM_POINTS_MANY = 512
# Beyond this many standard deviations from every mean, each component's density is below
# 1e-15 of its peak: the region of any coverage below 1 - 1e-14 lies inside.
_SUPPORT_SCALES = 8.0
# Components of a row whose weights sum to at most this are left out of its level sets:
# the region's mass changes by less, and the density by less than this over the scale.
_NEGLIGIBLE_WEIGHT = 1e-14
_NEWTON_STEPS = 100
# Rows per block of the highest-density search: larger blocks than elsewhere, as its Python
# loop per block would otherwise dominate; a block's (points, K) arrays stay near 16 MB.
_LOOP_BLOCK_ELEMENTS = 1 << 21


class HighestDensityRegion(NamedTuple):
    """The highest-density region of each row: a union of at most K intervals.

    ``lower[i, j]`` and ``upper[i, j]`` bound the ``j``-th interval of row ``i``, in
    increasing order; a row with fewer intervals than the widest row is padded with NaN.
    ``threshold[i]`` is the density on every boundary: the region is
    ``{y : p(y | x_i) >= threshold[i]}``.
    """

    lower: np.ndarray
    upper: np.ndarray
    threshold: np.ndarray

    @property
    def n_intervals(self):
        """The number of intervals of each row, shape (n,)."""
        return np.sum(~np.isnan(self.lower), axis=1)

    def length(self):
        """The total length of each row's region, shape (n,)."""
        return np.nansum(self.upper - self.lower, axis=1)

    def contains(self, y):
        """Whether ``y[i]`` lies in row ``i``'s region, shape (n,)."""
        y = np.asarray(y, dtype=float).reshape(-1, 1)
        with np.errstate(invalid="ignore"):
            return np.any((self.lower <= y) & (y <= self.upper), axis=1)


def _row_scales(scales, rows):
    return scales if scales.ndim == 1 else scales[rows]


def check_coverage(coverage):
    """``coverage`` as a float, or a ValueError unless it is a probability in (0, 1)."""
    if isinstance(coverage, bool) or not isinstance(coverage, Real) or not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be a probability in (0, 1); got {coverage!r}.")
    return float(coverage)


def check_probabilities(values, name):
    """``values`` as a float array, or a ValueError naming ``name`` unless it is a
    probability or a non-empty 1-D array of them."""
    levels = np.asarray(values, dtype=float)
    if levels.ndim > 1 or levels.size == 0 or np.any(~((levels >= 0.0) & (levels <= 1.0))):
        raise ValueError(f"{name} must be a probability or a 1-D array of them; got {values!r}.")
    return levels


def _expand(scales):
    return scales if scales.ndim == 1 else scales[:, None, :]


def cdf(y, log_weights, means, scales):
    """``F_i(y_i) = sum_k w_ik Phi((y - mu_ik) / s_k)`` for ``y`` of shape (n, Q)."""
    z = (y[..., None] - means[:, None, :]) / _expand(scales)
    return np.exp(logsumexp(log_ndtr(z) + log_weights[:, None, :], axis=-1))


def ppf(q, log_weights, means, scales):
    """The ``q``-quantile of every row, ``q`` of shape (n, Q) in [0, 1]; shape (n, Q)."""
    q = np.broadcast_to(np.asarray(q, dtype=float), (len(means),) + np.shape(q)[-1:])
    out = np.empty(q.shape)
    step = block_rows(q.shape[1] * means.shape[1] * 4)
    for start in range(0, len(means), step):
        rows = slice(start, start + step)
        out[rows] = _ppf_block(q[rows], log_weights[rows], means[rows], _row_scales(scales, rows))
    return out


def _ppf_block(q, log_weights, means, scales):
    inside = (q > 0.0) & (q < 1.0)
    clipped = np.where(inside, q, 0.5)
    with np.errstate(divide="ignore"):
        present = np.isfinite(log_weights)[:, None, :]
    component_quantiles = means[:, None, :] + _expand(scales) * ndtri(clipped)[..., None]
    lower = np.min(np.where(present, component_quantiles, np.inf), axis=-1).ravel()
    upper = np.max(np.where(present, component_quantiles, -np.inf), axis=-1).ravel()
    rows = np.repeat(np.arange(len(q)), q.shape[1])
    level = clipped.ravel()
    x = np.clip(_separated_quantile(clipped, log_weights, means, scales).ravel(), lower, upper)
    # An absent component (weight 0) chosen at the top by rounding may carry any mean.
    x = np.where(np.isfinite(x), x, 0.5 * (lower + upper))
    # Newton safeguarded by the bracket, on the points that have not converged.
    active = np.arange(len(x))
    for _ in range(_NEWTON_STEPS):
        point, at = x[active], rows[active]
        density, value = _density_and_cdf(
            point, log_weights[at], means[at], _row_scales(scales, at)
        )
        error = value - level[active]
        below = error < 0.0
        lower[active] = np.where(below, point, lower[active])
        upper[active] = np.where(below, upper[active], point)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = point - error / density
        within = (newton > lower[active]) & (newton < upper[active])
        moving = (np.abs(error) > 1e-13) & (
            upper[active] - lower[active] > 4 * np.finfo(float).eps * np.abs(point)
        )
        x[active] = np.where(
            moving, np.where(within, newton, 0.5 * (lower[active] + upper[active])), point
        )
        active = active[moving]
        if len(active) == 0:
            break
    return np.where(inside, x.reshape(q.shape), np.where(q <= 0.0, -np.inf, np.inf))


def _separated_quantile(q, log_weights, means, scales):
    """The quantiles the mixture would have if its components did not overlap: with the
    components in the order of their means, the ``q``-quantile lies in the first one
    whose cumulative weight reaches ``q``, at the level of the mass left over.

    Newton's start: exact for one component and for well-separated ones, and close for
    the branches of a multimodal answer, where the mean of the components' quantiles
    falls between modes, on the CDF's flat stretches.
    """
    order = np.argsort(means, axis=1)
    weights = np.exp(np.take_along_axis(log_weights, order, axis=1))
    cumulative = np.cumsum(weights, axis=1)
    rows = np.arange(len(q))[:, None]
    chosen = np.minimum(np.sum(cumulative[:, None, :] < q[..., None], axis=-1), len(order[0]) - 1)
    component = order[rows, chosen]
    mass_before = cumulative[rows, chosen] - weights[rows, chosen]
    with np.errstate(divide="ignore", invalid="ignore"):
        level = np.clip((q - mass_before) / weights[rows, chosen], 1e-12, 1 - 1e-12)
    level = np.where(np.isfinite(level), level, 0.5)
    component_scales = scales[component] if scales.ndim == 1 else scales[rows, component]
    return means[rows, component] + component_scales * ndtri(level)


def _density_and_cdf(x, log_weights, means, scales):
    """``p(x)`` and ``F(x)`` of each point's own mixture."""
    z = (x[:, None] - means) / scales
    weights = np.exp(log_weights)
    density = weights * np.exp(-0.5 * z**2) / (scales * np.sqrt(2.0 * np.pi))
    return density.sum(axis=1), (weights * ndtr(z)).sum(axis=1)


def crps(y, log_weights, means, scales):
    """The continuous ranked probability score of every row at ``y`` (n,); shape (n,).

    ``sum_k w_k A(y - mu_k, s_k^2) - 1/2 sum_kl w_k w_l A(mu_k - mu_l, s_k^2 + s_l^2)``
    with ``A(m, v) = 2 sqrt(v) phi(m / sqrt(v)) + m (2 Phi(m / sqrt(v)) - 1)``
    (Grimit et al. 2006); lower is better, in the units of ``y``.
    """
    out = np.empty(len(means))
    n_components = means.shape[1]
    # The pairwise term is (rows, K, K): a bank of thousands of particles takes few rows.
    step = max(1, _LOOP_BLOCK_ELEMENTS // (n_components * n_components))
    for start in range(0, len(means), step):
        rows = slice(start, start + step)
        out[rows] = _crps_block(
            y[rows], np.exp(log_weights[rows]), means[rows], _row_scales(scales, rows)
        )
    return out


def _expected_abs(m, variance):
    s = np.sqrt(variance)
    z = m / s
    return 2.0 * s * np.exp(-0.5 * z**2) / np.sqrt(2.0 * np.pi) + m * (2.0 * ndtr(z) - 1.0)


def _crps_block(y, weights, means, scales):
    variances = np.broadcast_to(scales**2, means.shape)
    first = np.sum(weights * _expected_abs(y[:, None] - means, variances), axis=1)
    pair_variances = variances[:, :, None] + variances[:, None, :]
    pairs = _expected_abs(means[:, :, None] - means[:, None, :], pair_variances)
    second = np.einsum("nk,nkl,nl->n", weights, pairs, weights)
    return first - 0.5 * second


def _level_set_blocks(log_weights, means, scales):
    """Blocks of rows with what the level sets of their densities need: ``(rows, mixture,
    grid, density)``, the grid holding every mode and antimode (:func:`_with_critical_points`)."""
    log_weights, means, scales = _heaviest_components(log_weights, means, scales)
    n_rows, n_components = means.shape
    step = max(1, _LOOP_BLOCK_ELEMENTS // (_grid_size(n_components) * n_components))
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        mixture = _heaviest_components(log_weights[rows], means[rows], _row_scales(scales, rows))
        yield (rows, mixture, *_with_critical_points(_grid(*mixture), *mixture))


def _heaviest_components(log_weights, means, scales):
    """The rows' mixtures without the components whose weights sum to at most
    :data:`_NEGLIGIBLE_WEIGHT` in every row (all of them kept where none can go).

    A particle bank's rows put almost all their weight on a few hundred of its thousands
    of components; the level-set search costs the square of their number.
    """
    order = np.argsort(-log_weights, axis=1)
    sorted_log_weights = np.take_along_axis(log_weights, order, axis=1)
    # The weight of each component and all lighter ones, summed from the lightest up.
    tails = np.cumsum(np.exp(sorted_log_weights[:, ::-1]), axis=1)[:, ::-1]
    kept = max(int(np.max(np.sum(tails > _NEGLIGIBLE_WEIGHT, axis=1), initial=1)), 1)
    if kept == means.shape[1]:
        return log_weights, means, scales
    order = order[:, :kept]
    kept_scales = scales[order] if scales.ndim == 1 else np.take_along_axis(scales, order, axis=1)
    return sorted_log_weights[:, :kept], np.take_along_axis(means, order, axis=1), kept_scales


def hdr(coverage, log_weights, means, scales):
    """The highest-density region of mass ``coverage`` of every row, a
    :class:`HighestDensityRegion`."""
    return concatenate_regions(
        [
            _hdr_block(coverage, mixture, grid, density)
            for _, mixture, grid, density in _level_set_blocks(log_weights, means, scales)
        ]
    )


def highest_density_level(y, log_weights, means, scales):
    """The mass of the smallest highest-density region holding ``y_i``, per row: the mass
    of ``{y' : p(y') >= p(y_i)}``, in [0, 1] (the conformity score of HPD-split)."""
    out = np.empty(len(means))
    for rows, mixture, grid, density in _level_set_blocks(log_weights, means, scales):
        level, _ = _density_and_slope(y[rows], *mixture)
        roots, root_rows, rising, _ = _boundaries(level, grid, density, *mixture)
        out[rows] = _region_mass(roots, root_rows, rising, len(grid), *mixture)
    return np.clip(out, 0.0, 1.0)


def concatenate_regions(parts):
    """The :class:`HighestDensityRegion` of consecutive blocks of rows, padded to one width."""
    width = max(part.lower.shape[1] for part in parts)

    def padded(array):
        return np.pad(array, ((0, 0), (0, width - array.shape[1])), constant_values=np.nan)

    return HighestDensityRegion(
        np.concatenate([padded(part.lower) for part in parts]),
        np.concatenate([padded(part.upper) for part in parts]),
        np.concatenate([part.threshold for part in parts]),
    )


def _grid_size(n_components):
    if n_components <= _LOCAL_COMPONENTS:
        return n_components * len(_COMPONENT_OFFSETS) + _UNIFORM_POINTS
    return _LOCAL_COMPONENTS * len(_COMPONENT_OFFSETS) + _UNIFORM_POINTS_MANY


def _grid(log_weights, means, scales):
    """Sorted points per row: each present component at its own scale (the heaviest
    :data:`_LOCAL_COMPONENTS` when there are more), and a uniform sweep."""
    row_scales = np.broadcast_to(scales, means.shape)
    present = np.isfinite(log_weights)
    reach = _SUPPORT_SCALES * row_scales
    lo = np.nanmin(np.where(present, means - reach, np.nan), axis=1)
    hi = np.nanmax(np.where(present, means + reach, np.nan), axis=1)
    n_uniform = _UNIFORM_POINTS
    if means.shape[1] > _LOCAL_COMPONENTS:
        n_uniform = _UNIFORM_POINTS_MANY
        heaviest = np.argsort(-log_weights, axis=1)[:, :_LOCAL_COMPONENTS]
        present = np.take_along_axis(present, heaviest, axis=1)
        means = np.take_along_axis(means, heaviest, axis=1)
        row_scales = np.take_along_axis(row_scales, heaviest, axis=1)
    anchor = np.where(present, means, np.nan)
    local = (anchor[:, :, None] + row_scales[:, :, None] * _COMPONENT_OFFSETS).reshape(
        len(means), -1
    )
    sweep = lo[:, None] + (hi - lo)[:, None] * np.linspace(0.0, 1.0, n_uniform)
    grid = np.sort(np.concatenate([local, sweep], axis=1), axis=1)
    # Absent components left NaN points, sorted last: repeat each row's largest point.
    return np.where(np.isnan(grid), np.nanmax(grid, axis=1, keepdims=True), grid)


def _hdr_block(coverage, mixture, grid, density):
    log_weights, means, scales = mixture
    n_rows = len(grid)
    threshold = _grid_threshold(coverage, grid, density)
    lower_t, upper_t = np.zeros(n_rows), density.max(axis=1)
    # Newton on the exact mass, for the rows that have not converged yet.
    active = np.arange(n_rows)
    for _ in range(60):
        mixture = (log_weights[active], means[active], _row_scales(scales, active))
        level = threshold[active]
        roots, rows, rising, slopes = _boundaries(level, grid[active], density[active], *mixture)
        error = _region_mass(roots, rows, rising, len(active), *mixture) - coverage
        too_much = error > 0.0
        lower_t[active] = np.where(too_much, level, lower_t[active])
        upper_t[active] = np.where(too_much, upper_t[active], level)
        derivative = -level * np.bincount(rows, weights=1.0 / np.abs(slopes), minlength=len(active))
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = level - error / derivative
        within = (newton > lower_t[active]) & (newton < upper_t[active])
        moving = np.abs(error) > 1e-12
        threshold[active] = np.where(
            moving, np.where(within, newton, 0.5 * (lower_t[active] + upper_t[active])), level
        )
        active = active[moving]
        if len(active) == 0:
            break
    roots, rows, rising, _ = _boundaries(threshold, grid, density, log_weights, means, scales)
    return _as_intervals(roots, rows, rising, threshold)


def _region_mass(roots, rows, rising, n_rows, log_weights, means, scales):
    """``sum F(falling) - sum F(rising)`` per row: the mass between paired boundaries."""
    _, values = _density_and_cdf(roots, log_weights[rows], means[rows], _row_scales(scales, rows))
    return np.bincount(rows, weights=np.where(rising, -1.0, 1.0) * values, minlength=n_rows)


def _with_critical_points(grid, log_weights, means, scales):
    """``grid`` with the density's modes and antimodes added, and the density at every point.

    The critical points are found by Newton on ``p'`` in the cells where its sign changes:
    between consecutive points the density is then monotone, so each cell holds at most
    one boundary of any level set.
    """
    n_rows = len(grid)
    density, slope = _density_and_slope_on_grid(grid, log_weights, means, scales)
    rows, cells = np.nonzero(np.sign(slope[:, :-1]) * np.sign(slope[:, 1:]) < 0)
    lower, upper = grid[rows, cells], grid[rows, cells + 1]
    rising = slope[rows, cells] > 0
    log_w, mu, s = log_weights[rows], means[rows], _row_scales(scales, rows)
    # Newton on p' (with p''), safeguarded by the cell's bracket, on the unconverged points.
    x = 0.5 * (lower + upper)
    active = np.arange(len(x))
    for _ in range(_NEWTON_STEPS):
        point = x[active]
        _, first, second = _density_derivatives(
            point, log_w[active], mu[active], s if s.ndim == 1 else s[active]
        )
        toward_upper = (first > 0) == rising[active]
        lower[active] = np.where(toward_upper, point, lower[active])
        upper[active] = np.where(toward_upper, upper[active], point)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = point - first / second
        within = (newton > lower[active]) & (newton < upper[active])
        x[active] = np.where(within, newton, 0.5 * (lower[active] + upper[active]))
        moving = np.abs(x[active] - point) > 1e-12 * (1.0 + np.abs(point))
        active = active[moving]
        if len(active) == 0:
            break
    critical = np.full(
        (n_rows, max(int(np.bincount(rows, minlength=n_rows).max(initial=0)), 1)), np.nan
    )
    at_critical = np.full(critical.shape, np.nan)
    ranks = _rank_within_row(rows, n_rows)
    critical[rows, ranks] = x
    at_critical[rows, ranks], _ = _density_and_slope(x, log_w, mu, s)
    points = np.concatenate([grid, critical], axis=1)
    values = np.concatenate([density, at_critical], axis=1)
    # Missing critical points (NaN) sort last and repeat the row's last point and density.
    order = np.argsort(points, axis=1)
    points = np.take_along_axis(points, order, axis=1)
    values = np.take_along_axis(values, order, axis=1)
    missing = np.isnan(points)
    last = np.sum(~missing, axis=1) - 1
    rows = np.arange(n_rows)
    points = np.where(missing, points[rows, last][:, None], points)
    values = np.where(missing, values[rows, last][:, None], values)
    return points, values


def _grid_threshold(coverage, grid, density):
    """The level whose region holds ``coverage`` under the grid's piecewise-linear density
    (a start for Newton on the exact mass)."""
    lower, upper = np.zeros(len(grid)), density.max(axis=1)
    left, right = density[:, :-1], density[:, 1:]
    cell_mass = 0.5 * (left + right) * np.diff(grid, axis=1)
    total = cell_mass.sum(axis=1)
    span = np.abs(right - left)
    for _ in range(18):
        level = 0.5 * (lower + upper)
        # The share of each cell above the level, with the density linear across it.
        with np.errstate(divide="ignore", invalid="ignore"):
            share = np.where(
                span > 0,
                np.clip((np.maximum(left, right) - level[:, None]) / span, 0.0, 1.0),
                (left >= level[:, None]).astype(float),
            )
        too_much = np.sum(share * cell_mass, axis=1) > coverage * total
        lower = np.where(too_much, level, lower)
        upper = np.where(too_much, upper, level)
    return 0.5 * (lower + upper)


def _boundaries(threshold, grid, density, log_weights, means, scales):
    """The roots of ``p(y) = threshold`` in the grid cells where ``p - threshold`` changes sign.

    Returns the roots, their rows, whether the density rises through each, and ``p'`` there.
    """
    above = density >= threshold[:, None]
    rows, cells = np.nonzero(above[:, 1:] != above[:, :-1])
    lower, upper = grid[rows, cells], grid[rows, cells + 1]
    rising = above[rows, cells + 1]
    log_w, mu = log_weights[rows], means[rows]
    s = _row_scales(scales, rows)
    level = threshold[rows]
    # Start where the grid's linear interpolation crosses the level.
    below, beyond = density[rows, cells], density[rows, cells + 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.clip((level - below) / (beyond - below), 0.0, 1.0)
    x = lower + np.where(np.isfinite(share), share, 0.5) * (upper - lower)
    slope = np.empty_like(x)
    # Newton safeguarded by the cell's bracket, on the roots that have not converged.
    active = np.arange(len(x))
    for _ in range(_NEWTON_STEPS):
        point = x[active]
        value, slope[active] = _density_and_slope(
            point, log_w[active], mu[active], s if s.ndim == 1 else s[active]
        )
        error = value - level[active]
        # Move the bracket's end on the same side of the level as the point.
        low_side = (error < 0.0) == rising[active]
        lower[active] = np.where(low_side, point, lower[active])
        upper[active] = np.where(low_side, upper[active], point)
        with np.errstate(divide="ignore", invalid="ignore"):
            newton = point - error / slope[active]
        within = (newton > lower[active]) & (newton < upper[active])
        moving = np.abs(error) > 1e-13 * level[active]
        x[active] = np.where(
            moving, np.where(within, newton, 0.5 * (lower[active] + upper[active])), point
        )
        active = active[moving]
        if len(active) == 0:
            break
    return x, rows, rising, slope


def _density_derivatives(x, log_weights, means, scales):
    """``p(x)``, ``p'(x)`` and ``p''(x)`` of each point's own mixture."""
    z = (x[:, None] - means) / scales
    terms = np.exp(log_weights - 0.5 * z**2) / (scales * np.sqrt(2.0 * np.pi))
    return (
        terms.sum(axis=1),
        -(terms * z / scales).sum(axis=1),
        (terms * (z**2 - 1.0) / scales**2).sum(axis=1),
    )


def _density_and_slope_on_grid(grid, log_weights, means, scales):
    """``p`` and ``p'`` at every point of ``grid`` (n, G) under its row's mixture.

    The hottest loop of the level-set search: (n, G, K) terms, computed in place and
    without gathering each point's mixture.
    """
    inverse_scales = np.broadcast_to(1.0 / scales, means.shape)
    log_peaks = log_weights + np.log(inverse_scales / np.sqrt(2.0 * np.pi))
    z = grid[:, :, None] - means[:, None, :]
    z *= inverse_scales[:, None, :]
    terms = np.square(z)
    terms *= -0.5
    terms += log_peaks[:, None, :]
    np.exp(terms, out=terms)
    z *= terms
    return terms.sum(axis=2), -np.einsum("ngk,nk->ng", z, inverse_scales)


def _density_and_slope(x, log_weights, means, scales):
    z = (x[:, None] - means) / scales
    terms = np.exp(log_weights - 0.5 * z**2) / (scales * np.sqrt(2.0 * np.pi))
    return terms.sum(axis=1), -(terms * z / scales).sum(axis=1)


def _as_intervals(roots, rows, rising, threshold):
    """Pair each rising boundary with the next falling one of its row (rows in order)."""
    n_rows = len(threshold)
    starts, ends = roots[rising], roots[~rising]
    start_rows, end_rows = rows[rising], rows[~rising]
    counts = np.bincount(start_rows, minlength=n_rows)
    width = max(int(counts.max(initial=0)), 1)
    lower = np.full((n_rows, width), np.nan)
    upper = np.full((n_rows, width), np.nan)
    lower[start_rows, _rank_within_row(start_rows, n_rows)] = starts
    upper[end_rows, _rank_within_row(end_rows, n_rows)] = ends
    return HighestDensityRegion(lower, upper, threshold)


def _rank_within_row(rows, n_rows):
    """0, 1, 2, ... within each run of equal (sorted) ``rows``."""
    counts = np.bincount(rows, minlength=n_rows)
    return np.arange(len(rows)) - np.repeat(np.cumsum(counts) - counts, counts)
