"""Property tests of the conditional mixture (``skgmje.mixture``) and of joint conditioning
(``skgmje._core.conditioning``; user guide, "GMJE"; [GMJE]_ Section 4.2 and Appendix K).
GJE, the one-component case, is tested in test_gje.py.

Densities are checked against brute-force ``scipy.stats`` computations of
``p(x, y) / p(x)``, moments against explicit sums and Monte-Carlo draws.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from scipy.special import logsumexp as scipy_logsumexp

from skgmje import GaussianMixtureDistribution
from skgmje._core.conditioning import conditional_distribution, prepare_conditioning
from skgmje._core.gaussian import condition, log_density

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
PROPERTY = settings(max_examples=40, deadline=None)


def random_spd(rng, dim, scale=1.0):
    """``A A^T / dim + c I``: condition number below ~50."""
    a = rng.standard_normal((dim, dim))
    return scale * (a @ a.T / dim + rng.uniform(0.1, 1.0) * np.eye(dim))


def random_joint_mixture(rng, n_components, dim, zero_weight=False):
    weights = rng.dirichlet(np.ones(n_components))
    if zero_weight and n_components > 1:
        weights[rng.randint(n_components)] = 0.0
        weights /= weights.sum()
    means = rng.standard_normal((n_components, dim)) * 2.0
    covariances = np.stack([random_spd(rng, dim) for _ in range(n_components)])
    return weights, means, covariances


def random_distribution(rng, n_rows, n_components, n_targets, per_row=False):
    """A GaussianMixtureDistribution with random weights, means and covariances."""
    weights = rng.dirichlet(np.ones(n_components), size=n_rows)
    means = rng.standard_normal((n_rows, n_components, n_targets)) * 2.0
    shape = (n_rows, n_components) if per_row else (n_components,)
    covariances = np.stack(
        [random_spd(rng, n_targets, scale=0.5) for _ in range(int(np.prod(shape)))]
    ).reshape(shape + (n_targets, n_targets))
    return GaussianMixtureDistribution(weights=weights, means=means, covariances=covariances)


def brute_force_log_prob(weights, means, covariances, y):
    """``log p(y_i)`` of row mixtures by looping over rows and components with scipy."""
    n_rows, n_components, _ = means.shape
    out = np.empty(n_rows)
    for i in range(n_rows):
        terms = []
        for k in range(n_components):
            cov = covariances[k] if covariances.ndim == 3 else covariances[i, k]
            terms.append(stats.multivariate_normal(means[i, k], cov).logpdf(y[i]))
        out[i] = scipy_logsumexp(terms, b=weights[i])
    return out


@st.composite
def mixture_cases(draw, max_rows=4, max_components=4, max_targets=3):
    n_rows = draw(st.integers(1, max_rows))
    n_components = draw(st.integers(1, max_components))
    n_targets = draw(st.integers(1, max_targets))
    per_row = draw(st.booleans())
    rng = np.random.RandomState(draw(SEEDS))
    return rng, random_distribution(rng, n_rows, n_components, n_targets, per_row)


# --------------------------------------------------------------------------- conditioning


@PROPERTY
@given(
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 5),
    st.booleans(),
    SEEDS,
)
def test_mixture_conditional_is_joint_over_marginal(
    n_components, dx, dy, n_rows, zero_weight, seed
):
    """``log p(y | x) = log sum_k pi_k N([x, y]) - log sum_k pi_k N(x)`` ([GMJE]_ Eq. 102-104)."""
    rng = np.random.RandomState(seed)
    weights, means, covariances = random_joint_mixture(rng, n_components, dx + dy, zero_weight)
    Z = means[rng.choice(n_components, size=n_rows, p=weights)]
    Z = Z + rng.standard_normal(Z.shape) * 1.5
    X, Y = Z[:, :dx], Z[:, dx:]

    dist = conditional_distribution(prepare_conditioning(weights, means, covariances, dx), X)
    assert (len(dist), dist.n_components, dist.n_targets) == (n_rows, n_components, dy)

    log_joint = np.stack(
        [
            stats.multivariate_normal(means[k], covariances[k]).logpdf(Z)
            for k in range(n_components)
        ],
        axis=-1,
    ).reshape(n_rows, n_components)
    log_context = np.stack(
        [
            stats.multivariate_normal(means[k, :dx], covariances[k, :dx, :dx]).logpdf(X)
            for k in range(n_components)
        ],
        axis=-1,
    ).reshape(n_rows, n_components)
    expected = scipy_logsumexp(log_joint, b=weights, axis=1) - scipy_logsumexp(
        log_context, b=weights, axis=1
    )
    np.testing.assert_allclose(dist.log_prob(Y), expected, rtol=1e-8, atol=1e-8)
    if dy == 1:
        np.testing.assert_allclose(dist.log_prob(Y[:, 0]), expected, rtol=1e-8, atol=1e-8)

    # Routing weights are Bayes' responsibilities of x; component means are [GMJE] Eq. 103.
    with np.errstate(divide="ignore"):
        log_resp = np.log(weights) + log_context
    responsibilities = np.exp(log_resp - scipy_logsumexp(log_resp, axis=1, keepdims=True))
    np.testing.assert_allclose(dist.weights, responsibilities, rtol=1e-8, atol=1e-12)
    np.testing.assert_allclose(dist.weights.sum(axis=1), 1.0, rtol=1e-12)
    for k in range(n_components):
        cov = covariances[k]
        gain = np.linalg.solve(cov[:dx, :dx], cov[:dx, dx:]).T
        np.testing.assert_allclose(
            dist.means[:, k], means[k, dx:] + (X - means[k, :dx]) @ gain.T, rtol=1e-8, atol=1e-8
        )
        np.testing.assert_allclose(
            dist.covariances[k], cov[dx:, dx:] - gain @ cov[:dx, dx:], rtol=1e-8, atol=1e-10
        )


@PROPERTY
@given(st.integers(1, 3), st.integers(1, 3), st.integers(1, 5), SEEDS)
def test_single_component_conditional_is_the_gaussian_conditional(dx, dy, n_rows, seed):
    rng = np.random.RandomState(seed)
    mean = rng.standard_normal(dx + dy)
    covariance = random_spd(rng, dx + dy)
    X = rng.standard_normal((n_rows, dx))
    Y = rng.standard_normal((n_rows, dy))

    dist = conditional_distribution(
        prepare_conditioning(np.ones(1), mean[None], covariance[None], dx), X
    )
    gaussian = condition(mean, covariance, dx)
    conditional_mean = X @ gaussian.coef.T + gaussian.intercept
    np.testing.assert_array_equal(dist.weights, np.ones((n_rows, 1)))
    np.testing.assert_allclose(dist.means[:, 0], conditional_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(dist.covariances[0], gaussian.covariance, rtol=1e-12)
    np.testing.assert_allclose(dist.mean(), conditional_mean, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(
        dist.covariance(), np.broadcast_to(gaussian.covariance, (n_rows, dy, dy)), rtol=1e-12
    )
    np.testing.assert_allclose(dist.ambiguity_covariance(), 0.0, atol=1e-15)
    expected = [
        stats.multivariate_normal(conditional_mean[i], gaussian.covariance).logpdf(Y[i])
        for i in range(n_rows)
    ]
    np.testing.assert_allclose(dist.log_prob(Y), expected, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(
        dist.log_prob(Y), log_density(Y, conditional_mean, gaussian.covariance), rtol=1e-10
    )


# --------------------------------------------------------------------------- moments


@PROPERTY
@given(mixture_cases())
def test_law_of_total_variance(case):
    _, dist = case
    n_rows, n_components, n_targets = dist.means.shape
    expected_mean = np.zeros((n_rows, n_targets))
    second_moment = np.zeros((n_rows, n_targets, n_targets))
    for i in range(n_rows):
        for k in range(n_components):
            cov = dist.covariances[k] if dist.shared_covariances else dist.covariances[i, k]
            mu = dist.means[i, k]
            expected_mean[i] += dist.weights[i, k] * mu
            second_moment[i] += dist.weights[i, k] * (cov + np.outer(mu, mu))
    expected_cov = second_moment - np.einsum("nd,ne->nde", expected_mean, expected_mean)

    np.testing.assert_allclose(dist.mean(), expected_mean, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(dist.covariance(), expected_cov, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(
        dist.aleatoric_covariance() + dist.ambiguity_covariance(), dist.covariance(), rtol=1e-12
    )
    # Both parts are positive semi-definite.
    for part in (dist.aleatoric_covariance(), dist.ambiguity_covariance()):
        assert np.all(np.linalg.eigvalsh(part) >= -1e-10)


@pytest.mark.parametrize("per_row", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_moments_agree_with_monte_carlo(seed, per_row):
    rng = np.random.RandomState(seed)
    dist = random_distribution(rng, n_rows=3, n_components=3, n_targets=2, per_row=per_row)
    n_draws = 200_000
    draws = dist.sample(n_draws, random_state=seed)
    assert draws.shape == (3, n_draws, 2)

    mean = dist.mean()
    covariance = dist.covariance()
    standard_error = np.sqrt(np.diagonal(covariance, axis1=1, axis2=2) / n_draws)
    assert np.all(np.abs(draws.mean(axis=1) - mean) < 5 * standard_error)

    centred = draws - mean[:, None, :]
    products = np.einsum("nsd,nse->nsde", centred, centred)
    empirical = products.mean(axis=1)
    product_error = products.std(axis=1) / np.sqrt(n_draws)
    assert np.all(np.abs(empirical - covariance) < 5 * product_error)


# --------------------------------------------------------------------------- unit behaviour


@PROPERTY
@given(mixture_cases(), st.integers(1, 5))
def test_log_prob_with_a_leading_grid_axis(case, n_grid):
    rng, dist = case
    n_rows, _, n_targets = dist.means.shape
    grid = rng.standard_normal((n_grid, n_rows, n_targets)) * 3.0
    got = dist.log_prob(grid)
    assert got.shape == (n_grid, n_rows)
    covariances = dist.covariances
    for g in range(n_grid):
        expected = brute_force_log_prob(dist.weights, dist.means, covariances, grid[g])
        np.testing.assert_allclose(got[g], expected, rtol=1e-8, atol=1e-8)
        np.testing.assert_allclose(dist.log_prob(grid[g]), expected, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(dist.pdf(grid), np.exp(got), rtol=1e-12)
    if n_targets == 1 and (n_grid, n_rows) != (1, 1):  # (G, n) grids for a scalar target
        # ((1, 1) is ambiguous with one (n, dy) target and is read as such.)
        np.testing.assert_allclose(dist.log_prob(grid[..., 0]), got, rtol=1e-12)
        # A second leading axis broadcasts too.
        stacked = dist.log_prob(np.stack([grid[..., 0], grid[..., 0]]))
        np.testing.assert_allclose(stacked, np.stack([got, got]), rtol=1e-12)


@PROPERTY
@given(st.integers(1, 3), st.integers(1, 4), st.booleans(), SEEDS)
def test_one_dimensional_densities_integrate_to_one(n_rows, n_components, per_row, seed):
    rng = np.random.RandomState(seed)
    weights = rng.dirichlet(np.ones(n_components), size=n_rows)
    means = rng.standard_normal((n_rows, n_components, 1)) * 3.0
    shape = (n_rows, n_components) if per_row else (n_components,)
    stds = rng.uniform(0.1, 2.0, size=shape)
    dist = GaussianMixtureDistribution(
        weights=weights, means=means, covariances=(stds**2)[..., None, None]
    )
    grid = np.linspace(means.min() - 12 * stds.max(), means.max() + 12 * stds.max(), 20001)
    density = dist.pdf(np.broadcast_to(grid[:, None], (len(grid), n_rows)))
    assert density.shape == (len(grid), n_rows)
    integral = np.trapezoid(density, grid, axis=0)
    assert np.all(np.abs(integral - 1.0) < 1e-3), integral
    # And the first moment matches mean().
    first = np.trapezoid(density * grid[:, None], grid, axis=0)
    np.testing.assert_allclose(first, dist.mean()[:, 0], atol=1e-3 * (1 + np.abs(means).max()))


@PROPERTY
@given(mixture_cases())
def test_modes_are_ordered_by_weight(case):
    _, dist = case
    mode_means, mode_weights = dist.modes()
    assert mode_means.shape == dist.means.shape
    assert np.all(np.diff(mode_weights, axis=1) <= 0)
    for i in range(len(dist)):
        order = sorted(range(dist.n_components), key=lambda k: -dist.weights[i, k])
        np.testing.assert_array_equal(mode_weights[i], dist.weights[i, order])
        np.testing.assert_array_equal(mode_means[i], dist.means[i, order])


def test_modes_break_ties_by_component_order():
    dist = GaussianMixtureDistribution(
        weights=[[0.25, 0.5, 0.25]], means=[[[0.0], [1.0], [2.0]]], covariances=np.ones((3, 1, 1))
    )
    mode_means, mode_weights = dist.modes()
    np.testing.assert_array_equal(mode_means[0, :, 0], [1.0, 0.0, 2.0])
    np.testing.assert_array_equal(mode_weights[0], [0.5, 0.25, 0.25])


@PROPERTY
@given(mixture_cases(max_rows=6), st.data())
def test_getitem_selects_rows(case, data):
    rng, dist = case
    n_rows, _, n_targets = dist.means.shape
    y = rng.standard_normal((n_rows, n_targets))
    full = dist.log_prob(y)
    mask = np.array(data.draw(st.lists(st.booleans(), min_size=n_rows, max_size=n_rows)))
    index = data.draw(st.integers(-n_rows, n_rows - 1))
    fancy = np.array(data.draw(st.lists(st.integers(0, n_rows - 1), max_size=5)), dtype=int)
    for rows in (index, slice(None, None, 2), slice(1, None), mask, fancy):
        selected = np.atleast_1d(np.arange(n_rows)[rows])
        sub = dist[rows]
        assert isinstance(sub, GaussianMixtureDistribution)
        assert len(sub) == len(selected)
        np.testing.assert_array_equal(sub.means, dist.means[selected])
        np.testing.assert_allclose(sub.weights, dist.weights[selected], rtol=1e-15)
        if dist.shared_covariances:
            np.testing.assert_array_equal(sub.covariances, dist.covariances)
        else:
            np.testing.assert_array_equal(sub.covariances, dist.covariances[selected])
        if len(selected):
            np.testing.assert_allclose(sub.log_prob(y[selected]), full[selected], rtol=1e-12)
            np.testing.assert_allclose(sub.mean(), dist.mean()[selected], rtol=1e-12)


@PROPERTY
@given(mixture_cases(), st.integers(1, 4))
def test_per_row_covariances_equal_broadcast_shared_ones(case, n_samples):
    rng, dist = case
    if not dist.shared_covariances:
        dist = GaussianMixtureDistribution(
            log_weights=dist.log_weights, means=dist.means, covariances=dist.covariances[0]
        )
    n_rows, n_components, n_targets = dist.means.shape
    per_row = GaussianMixtureDistribution(
        log_weights=dist.log_weights,
        means=dist.means,
        covariances=np.broadcast_to(
            dist.covariances, (n_rows, n_components, n_targets, n_targets)
        ).copy(),
    )
    assert dist.shared_covariances and not per_row.shared_covariances
    y = rng.standard_normal((3, n_rows, n_targets))
    np.testing.assert_allclose(per_row.log_prob(y), dist.log_prob(y), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(per_row.covariance(), dist.covariance(), rtol=1e-12)
    np.testing.assert_allclose(
        per_row.sample(n_samples, random_state=3),
        dist.sample(n_samples, random_state=3),
        rtol=1e-12,
    )


@PROPERTY
@given(mixture_cases())
def test_weights_and_log_weights_construction_agree(case):
    rng, dist = case
    from_log = GaussianMixtureDistribution(
        log_weights=np.log(dist.weights), means=dist.means, covariances=dist.covariances
    )
    np.testing.assert_allclose(from_log.weights, dist.weights, rtol=1e-14)
    np.testing.assert_allclose(from_log.log_weights, dist.log_weights, rtol=1e-14)
    y = rng.standard_normal((len(dist), dist.n_targets))
    np.testing.assert_allclose(from_log.log_prob(y), dist.log_prob(y), rtol=1e-12)
    np.testing.assert_allclose(from_log.covariance(), dist.covariance(), rtol=1e-12)


@PROPERTY
@given(st.integers(1, 4), st.integers(2, 4), st.integers(1, 3), SEEDS)
def test_minus_infinity_log_weights_drop_a_component(n_rows, n_components, n_targets, seed):
    rng = np.random.RandomState(seed)
    dist = random_distribution(rng, n_rows, n_components, n_targets)
    dropped = rng.randint(n_components)
    kept = np.delete(np.arange(n_components), dropped)
    log_weights = np.log(rng.dirichlet(np.ones(n_components - 1), size=n_rows))
    full_log_weights = np.full((n_rows, n_components), -np.inf)
    full_log_weights[:, kept] = log_weights
    means = dist.means.copy()
    means[:, dropped] = 1e6  # far away: any mass put there would show
    with_dead = GaussianMixtureDistribution(
        log_weights=full_log_weights, means=means, covariances=dist.covariances
    )
    reduced = GaussianMixtureDistribution(
        log_weights=log_weights, means=means[:, kept], covariances=dist.covariances[kept]
    )
    y = rng.standard_normal((2, n_rows, n_targets))
    np.testing.assert_array_equal(with_dead.weights[:, dropped], 0.0)
    np.testing.assert_allclose(with_dead.log_prob(y), reduced.log_prob(y), rtol=1e-12)
    np.testing.assert_allclose(with_dead.mean(), reduced.mean(), rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(with_dead.covariance(), reduced.covariance(), rtol=1e-10, atol=1e-12)
    draws = with_dead.sample(500, random_state=0)
    assert np.all(np.isfinite(draws)) and np.abs(draws).max() < 1e3


def test_all_mass_on_one_component_is_that_gaussian():
    rng = np.random.RandomState(0)
    cov = np.stack([random_spd(rng, 2), random_spd(rng, 2)])
    dist = GaussianMixtureDistribution(
        log_weights=[[0.0, -np.inf]], means=[[[1.0, -1.0], [5.0, 5.0]]], covariances=cov
    )
    y = rng.standard_normal((4, 1, 2))
    expected = stats.multivariate_normal([1.0, -1.0], cov[0]).logpdf(y[:, 0])
    np.testing.assert_allclose(dist.log_prob(y)[:, 0], expected, rtol=1e-10)


def test_bad_shapes_raise_value_error():
    means = np.zeros((2, 3, 1))
    covariances = np.ones((3, 1, 1))
    weights = np.full((2, 3), 1 / 3)
    with pytest.raises(ValueError, match="exactly one"):
        GaussianMixtureDistribution(
            weights=weights, means=means, covariances=covariances, log_weights=np.log(weights)
        )
    with pytest.raises(ValueError, match="exactly one"):
        GaussianMixtureDistribution(means=means, covariances=covariances)
    with pytest.raises(ValueError, match="means must have shape"):
        GaussianMixtureDistribution(weights=weights, means=means[..., 0], covariances=covariances)
    with pytest.raises(ValueError, match="means must have shape"):
        GaussianMixtureDistribution(weights=weights[:, :2], means=means, covariances=covariances)
    with pytest.raises(ValueError, match="means must have shape"):
        GaussianMixtureDistribution(weights=weights[:1], means=means, covariances=covariances)
    for bad in (np.ones((2, 1, 1)), np.ones((3, 1)), np.ones((3, 3, 1, 1)), np.ones((2, 3, 2, 2))):
        with pytest.raises(ValueError, match="covariances must have shape"):
            GaussianMixtureDistribution(weights=weights, means=means, covariances=bad)
    dist = GaussianMixtureDistribution(weights=weights, means=means, covariances=covariances)
    for bad_y in (np.zeros(3), np.zeros((3, 1)), np.zeros((2, 3)), np.zeros((4, 2, 3)), 0.0):
        with pytest.raises(ValueError, match="y must have trailing shape"):
            dist.log_prob(bad_y)
    dist2 = GaussianMixtureDistribution(
        weights=weights, means=np.zeros((2, 3, 2)), covariances=np.stack([np.eye(2)] * 3)
    )
    for bad_y in (np.zeros(2), np.zeros((2, 3)), np.zeros((2, 1)), np.zeros((5, 2))):
        with pytest.raises(ValueError, match="y must have trailing shape"):
            dist2.log_prob(bad_y)


@PROPERTY
@given(mixture_cases(), st.integers(1, 6), SEEDS)
def test_sample_shape_and_reproducibility(case, n_samples, seed):
    _, dist = case
    draws = dist.sample(n_samples, random_state=seed)
    assert draws.shape == (len(dist), n_samples, dist.n_targets)
    assert np.all(np.isfinite(draws))
    np.testing.assert_array_equal(draws, dist.sample(n_samples, random_state=seed))
    np.testing.assert_array_equal(
        draws, dist.sample(n_samples, random_state=np.random.RandomState(seed))
    )
    other = dist.sample(n_samples, random_state=(seed + 1) % 2**32)
    assert not np.array_equal(draws, other)


@pytest.mark.parametrize("shared", [True, False])
def test_log_prob_of_a_grid_block_by_block_is_scipys(monkeypatch, shared):
    from skgmje._core import mixture

    # Blocks of one grid point: the blockwise path on every row of a small grid.
    monkeypatch.setattr(mixture, "_BLOCK_FLOATS", 1)
    rng = np.random.RandomState(0)
    weights = rng.dirichlet(np.ones(3), size=4)
    means = rng.standard_normal((4, 3, 2))
    factors = rng.standard_normal((3, 2, 2))
    covariances = factors @ np.swapaxes(factors, 1, 2) + 0.5 * np.eye(2)
    if not shared:
        covariances = covariances[None] * rng.uniform(0.5, 2.0, size=(4, 1, 1, 1))
    dist = GaussianMixtureDistribution(weights=weights, means=means, covariances=covariances)
    grid = rng.standard_normal((5, 4, 2))
    expected = np.array(
        [
            [
                scipy_logsumexp(
                    [
                        stats.multivariate_normal(
                            means[i, k], covariances[k] if shared else covariances[i, k]
                        ).logpdf(grid[g, i])
                        for k in range(3)
                    ],
                    b=weights[i],
                )
                for i in range(4)
            ]
            for g in range(5)
        ]
    )
    np.testing.assert_allclose(dist.log_prob(grid), expected, rtol=1e-12)
    np.testing.assert_allclose(
        scipy_logsumexp(dist.component_log_prob(grid), axis=-1), expected, rtol=1e-12
    )


def test_draws_follow_each_rows_own_weights():
    """Every row picks components by its own weights (one sorted search serves all rows)."""
    weights = np.array([[0.9, 0.1, 0.0], [0.1, 0.0, 0.9], [0.0, 1.0, 0.0]])
    means = np.array([[[-10.0], [0.0], [10.0]]] * 3)
    dist = GaussianMixtureDistribution(
        weights=weights, means=means, covariances=np.full((3, 1, 1), 0.25)
    )
    draws = dist.sample(20000, random_state=0)[..., 0]
    for row in range(3):
        shares = [np.mean(np.abs(draws[row] - centre) < 3.0) for centre in (-10.0, 0.0, 10.0)]
        np.testing.assert_allclose(shares, weights[row], atol=0.01)
    np.testing.assert_allclose(draws.mean(axis=1), dist.mean()[:, 0], atol=0.1)
    np.testing.assert_allclose(draws.var(axis=1), dist.covariance()[:, 0, 0], rtol=0.03)
