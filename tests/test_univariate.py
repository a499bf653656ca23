"""The whole one-dimensional conditional distribution (``skgmje._core.univariate`` through
``GaussianMixtureDistribution``): CDF and quantiles, intervals, highest-density regions
and the CRPS, against scipy, numerical integration and Monte Carlo."""

import numpy as np
import pytest
from scipy import integrate, stats

from skgmje import GaussianMixtureDistribution
from skgmje._core.univariate import _heaviest_components


def _random_mixtures(seed, n_rows=40, n_components=4, shared=True):
    rng = np.random.RandomState(seed)
    weights = rng.dirichlet(np.ones(n_components), size=n_rows)
    means = rng.uniform(-4, 4, size=(n_rows, n_components, 1))
    scale_shape = (n_components, 1, 1) if shared else (n_rows, n_components, 1, 1)
    covariances = rng.uniform(0.01, 1.0, size=scale_shape) ** 2
    return GaussianMixtureDistribution(weights=weights, means=means, covariances=covariances)


@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cdf_of_ppf_is_the_identity(seed, shared):
    dist = _random_mixtures(seed, shared=shared)
    levels = np.array([1e-6, 0.01, 0.05, 0.3, 0.5, 0.7, 0.95, 0.99, 1 - 1e-6])
    quantiles = dist.ppf(levels)
    assert quantiles.shape == (len(dist), len(levels))
    np.testing.assert_allclose(
        dist.cdf(quantiles.T).T, np.broadcast_to(levels, quantiles.shape), atol=1e-10
    )
    assert np.all(np.diff(quantiles, axis=1) > 0)


def test_one_component_matches_scipy():
    rng = np.random.RandomState(0)
    mean, scale = rng.normal(size=30), rng.uniform(0.1, 3, size=30)
    dist = GaussianMixtureDistribution(
        weights=np.ones((30, 1)),
        means=mean[:, None, None],
        covariances=scale[:, None, None, None] ** 2,
    )
    levels = np.array([0.001, 0.1, 0.5, 0.9, 0.999])
    np.testing.assert_allclose(
        dist.ppf(levels),
        stats.norm.ppf(levels, mean[:, None], scale[:, None]),
        rtol=1e-10,
        atol=1e-10,
    )
    y = rng.normal(size=30)
    np.testing.assert_allclose(dist.cdf(y), stats.norm.cdf(y, mean, scale), rtol=1e-12)
    np.testing.assert_allclose(
        dist.interval(0.8), np.column_stack(stats.norm.interval(0.8, mean, scale)), rtol=1e-10
    )
    z = (y - mean) / scale
    gneiting = scale * (
        z * (2 * stats.norm.cdf(z) - 1) + 2 * stats.norm.pdf(z) - 1 / np.sqrt(np.pi)
    )
    np.testing.assert_allclose(dist.crps(y), gneiting, rtol=1e-12)
    region = dist.hdr(0.8)
    np.testing.assert_allclose(region.lower[:, 0], dist.interval(0.8)[:, 0], atol=1e-8)
    np.testing.assert_allclose(region.upper[:, 0], dist.interval(0.8)[:, 1], atol=1e-8)


def test_ppf_at_zero_and_one_and_a_float():
    dist = _random_mixtures(0, n_rows=3)
    np.testing.assert_array_equal(dist.ppf([0.0, 1.0]), [[-np.inf, np.inf]] * 3)
    assert dist.ppf(0.5).shape == (3,)
    with pytest.raises(ValueError, match="probability"):
        dist.ppf(1.5)


@pytest.mark.parametrize("shared", [True, False])
def test_crps_is_the_integral_of_the_squared_cdf_difference(shared):
    dist = _random_mixtures(3, n_rows=6, shared=shared)
    y = np.random.RandomState(1).uniform(-3, 3, size=6)
    for row in range(len(dist)):
        one = dist[row]

        def integrand(z, one=one, observed=y[row]):
            return (one.cdf(np.array([z]))[0] - (z >= observed)) ** 2

        # Both sides of y integrate separately (the indicator jumps there).
        left = integrate.quad(integrand, -np.inf, y[row], epsabs=1e-13, epsrel=1e-12, limit=500)
        right = integrate.quad(integrand, y[row], np.inf, epsabs=1e-13, epsrel=1e-12, limit=500)
        assert dist.crps(y)[row] == pytest.approx(left[0] + right[0], abs=1e-8)


@pytest.mark.parametrize("shared", [True, False])
def test_crps_equals_scoringrules_crps_mixnorm(shared):
    scoringrules = pytest.importorskip("scoringrules")
    dist = _random_mixtures(5, n_rows=30, n_components=5, shared=shared)
    y = np.random.RandomState(2).uniform(-5, 5, size=30)
    scales = np.sqrt(np.broadcast_to(dist.covariances[..., 0, 0], dist.weights.shape))
    expected = scoringrules.crps_mixnorm(y, dist.means[..., 0], scales, dist.weights)
    np.testing.assert_allclose(dist.crps(y), expected, rtol=0, atol=1e-10)


def test_crps_agrees_with_monte_carlo():
    dist = _random_mixtures(4, n_rows=3)
    y = np.array([-1.0, 0.0, 2.0])
    draws = dist.sample(100_000, random_state=0)[..., 0]
    other = dist.sample(100_000, random_state=1)[..., 0]
    terms = np.abs(draws - y[:, None]) - 0.5 * np.abs(draws - other)
    estimate, error = terms.mean(axis=1), terms.std(axis=1) / np.sqrt(terms.shape[1])
    assert np.all(np.abs(dist.crps(y) - estimate) < 3 * error)


@pytest.mark.parametrize("coverage", [0.5, 0.9, 0.99])
@pytest.mark.parametrize("shared", [True, False])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_hdr_holds_its_mass_with_the_threshold_on_every_boundary(seed, shared, coverage):
    dist = _random_mixtures(seed, shared=shared)
    region = dist.hdr(coverage)
    mass = np.nansum(dist.cdf(region.upper.T).T - dist.cdf(region.lower.T).T, axis=1)
    np.testing.assert_allclose(mass, coverage, atol=1e-6)
    for bounds in (region.lower, region.upper):
        finite = ~np.isnan(bounds)
        density = dist.pdf(np.where(finite, bounds, 0.0).T).T
        np.testing.assert_allclose(
            density[finite],
            np.broadcast_to(region.threshold[:, None], bounds.shape)[finite],
            rtol=1e-8,
        )
    assert np.all(region.length() <= np.diff(dist.interval(coverage), axis=1)[:, 0] + 1e-9)
    assert np.all(region.n_intervals <= dist.n_components)
    # Disjoint and in increasing order within each row.
    starts, ends = region.lower, region.upper
    with np.errstate(invalid="ignore"):
        assert not np.any(starts[:, 1:] <= ends[:, :-1])
        assert not np.any(ends < starts)


def test_hdr_finds_the_branches_and_a_narrow_component():
    # Three separated branches, one of them far narrower than the grid's uniform spacing.
    dist = GaussianMixtureDistribution(
        weights=[[0.4, 0.4, 0.2]],
        means=[[[-5.0], [0.0], [7.0]]],
        covariances=[[[0.3]], [[0.3]], [[1e-8]]],
    )
    region = dist.hdr(0.9)
    assert region.n_intervals[0] == 3
    assert region.contains([7.0])[0] and not region.contains([3.0])[0]
    central = dist.interval(0.9)[0]
    assert region.length()[0] < 0.5 * (central[1] - central[0])


def test_marginal_takes_the_blocks_of_each_dimension():
    rng = np.random.RandomState(0)
    factor = rng.normal(size=(3, 2, 2))
    dist = GaussianMixtureDistribution(
        weights=rng.dirichlet(np.ones(3), size=5),
        means=rng.normal(size=(5, 3, 2)),
        covariances=factor @ np.swapaxes(factor, 1, 2) + 0.1 * np.eye(2),
    )
    second = dist.marginal(1)
    assert second.n_targets == 1
    np.testing.assert_allclose(second.mean()[:, 0], dist.mean()[:, 1])
    np.testing.assert_allclose(second.covariance()[:, 0, 0], dist.covariance()[:, 1, 1])
    with pytest.raises(ValueError, match="marginal"):
        dist.ppf(0.5)


def test_many_components_keep_the_region_exact_and_bounded():
    # A particle bank: hundreds of equal-weight components sharing one scale.
    rng = np.random.RandomState(0)
    centres = np.concatenate([rng.normal(-2, 0.3, 300), rng.normal(2, 0.3, 300)])
    dist = GaussianMixtureDistribution(
        weights=np.full((3, 600), 1 / 600),
        means=np.broadcast_to(centres[:, None], (3, 600, 1)).copy(),
        covariances=np.full((600, 1, 1), 0.05),
    )
    region = dist.hdr(0.9)
    mass = np.nansum(dist.cdf(region.upper.T).T - dist.cdf(region.lower.T).T, axis=1)
    np.testing.assert_allclose(mass, 0.9, atol=1e-6)
    assert np.all(region.n_intervals == 2)
    assert np.all(np.isfinite(dist.crps(np.zeros(3))))


def test_hdr_threshold_of_any_width_matches_the_exact_one():
    # One target: the Monte-Carlo threshold against the exact region's.
    dist = _random_mixtures(0, n_rows=5)
    estimate = dist.hdr_threshold(0.8, n_samples=40_000, random_state=0)
    np.testing.assert_allclose(estimate, dist.hdr(0.8).threshold, rtol=0.05)
    # Two targets, one Gaussian: p(y) >= t exactly inside the chi-square ellipse.
    covariance = np.array([[1.0, 0.6], [0.6, 2.0]])
    gaussian = GaussianMixtureDistribution(
        weights=[[1.0]], means=[[[0.5, -1.0]]], covariances=covariance[None]
    )
    exact = np.exp(-0.5 * stats.chi2.ppf(0.9, 2)) / (2 * np.pi * np.sqrt(np.linalg.det(covariance)))
    estimate = gaussian.hdr_threshold(0.9, n_samples=40_000, random_state=0)
    assert estimate[0] == pytest.approx(exact, rel=0.05)
    draws = gaussian.sample(4000, random_state=1)[0]
    inside = np.mean([gaussian.in_hdr(draw[None], 0.9, random_state=0)[0] for draw in draws[:400]])
    assert inside == pytest.approx(0.9, abs=0.05)


@pytest.mark.parametrize("shared", [True, False])
def test_negligible_components_leave_the_region_and_its_levels_unchanged(shared):
    # A bank's rows weigh few of its components: the others (here 1e-16 in all per row)
    # are left out of the level-set search, and nothing changes beyond rounding.
    core = _random_mixtures(6, n_rows=8, n_components=3, shared=shared)
    rng = np.random.RandomState(1)
    n_light = 50
    weights = np.concatenate([core.weights * (1 - 1e-16), np.full((8, n_light), 2e-18)], 1)
    means = np.concatenate([core.means, rng.uniform(-4, 4, size=(8, n_light, 1))], axis=1)
    light = rng.uniform(0.05, 1.0, size=(n_light, 1, 1)) ** 2
    if shared:
        covariances = np.concatenate([core.covariances, light])
    else:
        covariances = np.concatenate(
            [core.covariances, np.broadcast_to(light, (8,) + light.shape)], 1
        )
    padded = GaussianMixtureDistribution(weights=weights, means=means, covariances=covariances)
    expected, region = core.hdr(0.8), padded.hdr(0.8)
    np.testing.assert_allclose(region.lower, expected.lower, atol=1e-10)
    np.testing.assert_allclose(region.upper, expected.upper, atol=1e-10)
    y = rng.uniform(-4, 4, size=8)
    np.testing.assert_allclose(
        padded.highest_density_level(y), core.highest_density_level(y), atol=1e-12
    )
    # ... because they were left out, not because the search was fine enough to ignore them.
    log_weights, kept_means, _ = _heaviest_components(
        np.log(weights), means[..., 0], np.sqrt(covariances[..., 0, 0])
    )
    assert log_weights.shape == kept_means.shape == (8, 3)
