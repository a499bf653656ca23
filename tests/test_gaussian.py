"""Property tests of the Gaussian algebra in ``skgmje._core.gaussian`` (user guide,
"Conditional mixtures", section "Gaussian identities"; [GMJE]_ Appendices A-C).

Every identity is checked against an independent computation (explicit inverses
and solves from NumPy, densities and entropies from ``scipy.stats``) on random
SPD matrices of dimension 1-8 with moderate condition numbers. The Gaussian algebra that
only the tests use (marginals, conditioning on a precision, low-rank solves, Mahalanobis
distances) lives in ``tests/reference_maths.py`` and is checked here too.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from reference_maths import (
    condition_precision,
    low_rank_logdet,
    low_rank_solve,
    mahalanobis_squared,
    marginal,
)
from scipy import stats

from skgmje._core.gaussian import (
    cholesky,
    condition,
    entropy,
    log_density,
    log_det_from_cholesky,
    logsumexp,
    mutual_information,
    precision_cholesky,
)

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)
PROPERTY = settings(max_examples=40, deadline=None)


def random_spd(rng, dim, scale=None):
    """``A A^T / dim + c I`` times a random scale: condition number below ~50."""
    a = rng.standard_normal((dim, dim))
    c = rng.uniform(0.1, 1.0)
    if scale is None:
        scale = 10.0 ** rng.uniform(-2, 2)
    return scale * (a @ a.T / dim + c * np.eye(dim))


def explicit_conditional(mean, covariance, n_context):
    """[GMJE]_ Eq. 10 with ``np.linalg.solve``: (coef, intercept, covariance)."""
    c = n_context
    coef = np.linalg.solve(covariance[:c, :c], covariance[:c, c:]).T
    intercept = mean[c:] - coef @ mean[:c]
    schur = covariance[c:, c:] - coef @ covariance[:c, c:]
    return coef, intercept, schur


@st.composite
def joint_gaussians(draw, min_dim=2, max_dim=8):
    """(rng, mean, covariance, n_context) with ``1 <= n_context < D``."""
    dim = draw(st.integers(min_dim, max_dim))
    n_context = draw(st.integers(1, dim - 1))
    rng = np.random.RandomState(draw(SEEDS))
    covariance = random_spd(rng, dim)
    mean = rng.standard_normal(dim) * 3.0
    return rng, mean, covariance, n_context


# --------------------------------------------------------------------------- conditioning


@PROPERTY
@given(joint_gaussians())
def test_condition_equals_precision_form(case):
    rng, mean, covariance, n_context = case
    covariance_form = condition(mean, covariance, n_context)
    precision_form = condition_precision(mean, np.linalg.inv(covariance), n_context)
    coef, intercept, schur = explicit_conditional(mean, covariance, n_context)
    scale = np.abs(covariance).max()
    for got in (covariance_form, precision_form):
        np.testing.assert_allclose(got.coef, coef, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(got.intercept, intercept, rtol=1e-8, atol=1e-10)
        np.testing.assert_allclose(got.covariance, schur, rtol=1e-8, atol=1e-12 * scale)
        np.testing.assert_array_equal(got.covariance, got.covariance.T)
    np.testing.assert_allclose(covariance_form.coef, precision_form.coef, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(
        covariance_form.intercept, precision_form.intercept, rtol=1e-8, atol=1e-10
    )
    np.testing.assert_allclose(
        covariance_form.covariance, precision_form.covariance, rtol=1e-8, atol=1e-12 * scale
    )


@PROPERTY
@given(st.integers(2, 8), st.integers(1, 4), SEEDS, st.data())
def test_condition_on_a_stack_equals_one_by_one(dim, n_stack, seed, data):
    n_context = data.draw(st.integers(1, dim - 1))
    rng = np.random.RandomState(seed)
    covariances = np.stack([random_spd(rng, dim) for _ in range(n_stack)])
    means = rng.standard_normal((n_stack, dim))
    stacked = condition(means, covariances, n_context)
    stacked_precision = condition_precision(means, np.linalg.inv(covariances), n_context)
    for k in range(n_stack):
        coef, intercept, schur = explicit_conditional(means[k], covariances[k], n_context)
        scale = np.abs(covariances[k]).max()
        for got in (stacked, stacked_precision):
            np.testing.assert_allclose(got.coef[k], coef, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(got.intercept[k], intercept, rtol=1e-8, atol=1e-10)
            np.testing.assert_allclose(got.covariance[k], schur, rtol=1e-8, atol=1e-12 * scale)


# --------------------------------------------------------------------------- densities


@PROPERTY
@given(joint_gaussians(), st.integers(1, 6))
def test_chain_rule_of_log_densities(case, n_points):
    """``log N(z) = log N(x) + log N(y | x)`` ([GMJE]_ Eq. 63)."""
    rng, mean, covariance, n_context = case
    dim = len(mean)
    z = rng.multivariate_normal(mean, covariance, size=n_points)
    z[0] += rng.standard_normal(dim) * 3.0 * np.sqrt(np.diag(covariance))  # an outlier
    x, y = z[:, :n_context], z[:, n_context:]

    joint = log_density(z, mean, covariance)
    mean_x, cov_x = marginal(mean, covariance, np.arange(n_context))
    conditional = condition(mean, covariance, n_context)
    mean_y_given_x = x @ conditional.coef.T + conditional.intercept
    chained = log_density(x, mean_x, cov_x) + log_density(y, mean_y_given_x, conditional.covariance)
    assert joint.shape == (n_points,)
    np.testing.assert_allclose(chained, joint, rtol=1e-8, atol=1e-8)
    reference = stats.multivariate_normal(mean, covariance).logpdf(z)
    np.testing.assert_allclose(joint, np.atleast_1d(reference), rtol=1e-8, atol=1e-8)


@PROPERTY
@given(st.integers(1, 8), SEEDS, st.integers(1, 5), st.data())
def test_log_density_and_marginals_match_scipy(dim, seed, n_points, data):
    rng = np.random.RandomState(seed)
    covariance = random_spd(rng, dim)
    mean = rng.standard_normal(dim)
    z = rng.multivariate_normal(mean, covariance, size=n_points)
    np.testing.assert_allclose(
        log_density(z, mean, covariance),
        np.atleast_1d(stats.multivariate_normal(mean, covariance).logpdf(z)),
        rtol=1e-8,
        atol=1e-8,
    )
    # A marginal on an arbitrary (unsorted) subset of the coordinates.
    size = data.draw(st.integers(1, dim))
    indices = rng.permutation(dim)[:size]
    sub_mean, sub_cov = marginal(mean, covariance, indices)
    np.testing.assert_array_equal(sub_mean, mean[indices])
    np.testing.assert_array_equal(sub_cov, covariance[np.ix_(indices, indices)])
    np.testing.assert_allclose(
        log_density(z[:, indices], sub_mean, sub_cov),
        np.atleast_1d(stats.multivariate_normal(mean[indices], sub_cov).logpdf(z[:, indices])),
        rtol=1e-8,
        atol=1e-8,
    )


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5), SEEDS)
def test_log_density_broadcasts_over_a_stack_of_gaussians(dim, n_stack, n_points, seed):
    """Points (n, 1, D) against K Gaussians (K, D), (K, D, D) give (n, K)."""
    rng = np.random.RandomState(seed)
    covariances = np.stack([random_spd(rng, dim) for _ in range(n_stack)])
    means = rng.standard_normal((n_stack, dim)) * 2.0
    z = rng.standard_normal((n_points, dim)) * 2.0
    got = log_density(z[:, None, :], means, covariances)
    assert got.shape == (n_points, n_stack)
    for k in range(n_stack):
        expected = stats.multivariate_normal(means[k], covariances[k]).logpdf(z)
        np.testing.assert_allclose(got[:, k], np.atleast_1d(expected), rtol=1e-8, atol=1e-8)


# --------------------------------------------------------------------------- low rank


@pytest.mark.parametrize("shape", ["tall", "wide", "square"])
@PROPERTY
@given(
    st.integers(1, 30),
    st.integers(0, 20),
    st.floats(0.05, 5.0),
    st.sampled_from([None, 1, 3]),
    SEEDS,
)
def test_woodbury_and_weinstein_aronszajn(shape, small, extra, noise_variance, n_rhs, seed):
    """Low-rank solve and log-determinant against the dense N x N computation."""
    if shape == "tall":  # N > Df
        n_samples, n_features = small + extra + 1, small
    elif shape == "wide":  # N < Df
        n_samples, n_features = small, small + extra + 1
    else:
        n_samples = n_features = small
    rng = np.random.RandomState(seed)
    # Random-Fourier-like features: entries of order sqrt(2 / Df).
    features = rng.standard_normal((n_samples, n_features)) * np.sqrt(2.0 / n_features)
    rhs_shape = (n_samples,) if n_rhs is None else (n_samples, n_rhs)
    rhs = rng.standard_normal(rhs_shape)
    gram = features @ features.T + noise_variance * np.eye(n_samples)

    solution = low_rank_solve(features, noise_variance, rhs)
    assert solution.shape == rhs.shape
    expected = np.linalg.solve(gram, rhs)
    np.testing.assert_allclose(solution, expected, rtol=1e-7, atol=1e-9 * np.abs(expected).max())
    np.testing.assert_allclose(gram @ solution, rhs, atol=1e-8 * (1 + np.abs(rhs).max()))

    sign, logdet = np.linalg.slogdet(gram)
    assert sign == 1.0
    np.testing.assert_allclose(
        low_rank_logdet(features, noise_variance), logdet, rtol=1e-9, atol=1e-9
    )


# --------------------------------------------------------------------------- trace trap


@PROPERTY
@given(st.integers(1, 8), SEEDS, st.data())
def test_mahalanobis_trace_trap(dim, seed, data):
    """A batch's mean Mahalanobis under its own covariance is exactly D ([GMJE]_ Appendix O)."""
    n_samples = data.draw(st.integers(dim + 2, 80))
    rng = np.random.RandomState(seed)
    mixing = np.linalg.cholesky(random_spd(rng, dim))
    Z = rng.standard_normal((n_samples, dim)) @ mixing.T + rng.standard_normal(dim) * 3.0

    # Centred empirical covariance.
    centred = Z - Z.mean(axis=0)
    covariance = centred.T @ centred / n_samples
    precision_chol = precision_cholesky(cholesky(covariance))
    distances = mahalanobis_squared(centred, precision_chol)
    assert distances.shape == (n_samples,)
    np.testing.assert_allclose(distances.mean(), dim, rtol=1e-8)
    # Each distance agrees with an explicit solve, and P P^T is the precision.
    explicit = np.einsum("nd,nd->n", centred, np.linalg.solve(covariance, centred.T).T)
    np.testing.assert_allclose(distances, explicit, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(
        precision_chol @ precision_chol.T,
        np.linalg.inv(covariance),
        rtol=1e-8,
        atol=1e-10 * np.abs(np.linalg.inv(covariance)).max(),
    )

    # Zero-mean version: Sigma = Z^T Z / N on the raw batch ([GMJE] Section 3.2, Eq. 9).
    second_moment = Z.T @ Z / n_samples
    raw = mahalanobis_squared(Z, precision_cholesky(cholesky(second_moment)))
    np.testing.assert_allclose(raw.mean(), dim, rtol=1e-8)


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 4), SEEDS)
def test_trace_trap_per_mixture_component(dim, n_components, seed):
    """Responsibility-weighted batch covariances also give exactly D ([GMJE]_ Eq. 125-127)."""
    rng = np.random.RandomState(seed)
    n_samples = 4 * dim + 10
    Z = rng.standard_normal((n_samples, dim)) * 2.0
    responsibilities = rng.dirichlet(np.ones(n_components), size=n_samples)
    for k in range(n_components):
        r = responsibilities[:, k]
        mean_k = r @ Z / r.sum()
        diff = Z - mean_k
        covariance_k = (diff * r[:, None]).T @ diff / r.sum()
        distances = mahalanobis_squared(diff, precision_cholesky(cholesky(covariance_k)))
        np.testing.assert_allclose(r @ distances / r.sum(), dim, rtol=1e-8)


# --------------------------------------------------------------------------- information


@PROPERTY
@given(st.integers(1, 8), st.integers(1, 3), SEEDS)
def test_entropy_matches_scipy(dim, n_stack, seed):
    rng = np.random.RandomState(seed)
    covariances = np.stack([random_spd(rng, dim) for _ in range(n_stack)])
    got = entropy(covariances)
    assert got.shape == (n_stack,)
    for k in range(n_stack):
        expected = stats.multivariate_normal(np.zeros(dim), covariances[k]).entropy()
        np.testing.assert_allclose(got[k], expected, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(entropy(covariances[0]), got[0], rtol=1e-12)
    np.testing.assert_allclose(
        log_det_from_cholesky(cholesky(covariances)),
        np.linalg.slogdet(covariances)[1],
        rtol=1e-10,
        atol=1e-10,
    )


@PROPERTY
@given(
    st.floats(-0.99, 0.99),
    st.floats(0.01, 100.0),
    st.floats(0.01, 100.0),
)
def test_mutual_information_of_a_bivariate_gaussian(rho, std_x, std_y):
    covariance = np.array([[std_x**2, rho * std_x * std_y], [rho * std_x * std_y, std_y**2]])
    expected = -0.5 * np.log1p(-(rho**2))
    np.testing.assert_allclose(mutual_information(covariance, 1), expected, rtol=1e-8, atol=1e-12)


@PROPERTY
@given(joint_gaussians())
def test_mutual_information_is_sum_of_marginal_entropies_minus_joint(case):
    _, mean, covariance, n_context = case
    c = n_context
    dim = len(mean)

    def scipy_entropy(cov):
        return stats.multivariate_normal(np.zeros(len(cov)), cov).entropy()

    expected = (
        scipy_entropy(covariance[:c, :c])
        + scipy_entropy(covariance[c:, c:])
        - scipy_entropy(covariance)
    )
    got = mutual_information(covariance, c)
    np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
    assert got >= -1e-12
    # Block-diagonal (independent x and y): no information.
    independent = covariance.copy()
    independent[:c, c:] = 0.0
    independent[c:, :c] = 0.0
    np.testing.assert_allclose(mutual_information(independent, c), 0.0, atol=1e-12 * dim)


# --------------------------------------------------------------------------- cholesky


@PROPERTY
@given(st.integers(1, 8), SEEDS)
def test_cholesky_of_a_positive_definite_matrix_needs_no_jitter(dim, seed):
    rng = np.random.RandomState(seed)
    covariance = random_spd(rng, dim)
    np.testing.assert_array_equal(cholesky(covariance), np.linalg.cholesky(covariance))


@PROPERTY
@given(st.integers(2, 8), SEEDS, st.data())
def test_cholesky_of_a_singular_matrix_uses_small_jitter(dim, seed, data):
    rank = data.draw(st.integers(1, dim - 1))
    rng = np.random.RandomState(seed)
    factor = rng.standard_normal((dim, rank)) * 10.0 ** rng.uniform(-3, 3)
    singular = factor @ factor.T
    assert np.linalg.matrix_rank(singular) == rank

    lower = cholesky(singular)
    assert np.all(np.isfinite(lower))
    np.testing.assert_array_equal(lower, np.tril(lower))
    mean_diagonal = np.mean(np.diag(singular))
    np.testing.assert_allclose(lower @ lower.T, singular, rtol=0, atol=1e-8 * mean_diagonal)

    # In a stack, the singular matrix is jittered and the regular one left exact.
    regular = random_spd(rng, dim)
    stacked = cholesky(np.stack([regular, singular]))
    np.testing.assert_array_equal(stacked[0], np.linalg.cholesky(regular))
    np.testing.assert_allclose(
        stacked[1] @ stacked[1].T, singular, rtol=0, atol=1e-8 * mean_diagonal
    )


@PROPERTY
@given(st.integers(1, 8), SEEDS)
def test_cholesky_rejects_a_clearly_negative_eigenvalue(dim, seed):
    rng = np.random.RandomState(seed)
    eigenvalues = rng.uniform(0.5, 2.0, size=dim)
    eigenvalues[rng.randint(dim)] = -0.1
    rotation, _ = np.linalg.qr(rng.standard_normal((dim, dim)))
    indefinite = (rotation * eigenvalues) @ rotation.T
    indefinite = 0.5 * (indefinite + indefinite.T)
    with pytest.raises(ValueError, match="not positive definite"):
        cholesky(indefinite)
    with pytest.raises(ValueError, match="not positive definite"):
        cholesky(np.stack([random_spd(rng, dim), indefinite]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
@settings(max_examples=30, deadline=None)
@given(st.integers(1, 8), SEEDS, st.data())
def test_cholesky_rejects_non_finite_entries(bad, dim, seed, data):
    # OpenBLAS's potrf does not flag NaN pivots, so np.linalg.cholesky alone would
    # return a NaN factor here without raising.
    rng = np.random.RandomState(seed)
    covariance = random_spd(rng, dim)
    i = data.draw(st.integers(0, dim - 1))
    j = data.draw(st.integers(0, dim - 1))
    covariance[i, j] = covariance[j, i] = bad
    with pytest.raises(ValueError):
        cholesky(covariance)
    with pytest.raises(ValueError):
        cholesky(np.stack([random_spd(rng, dim), covariance]))


# --------------------------------------------------------------------------- logsumexp


@PROPERTY
@given(st.integers(1, 6), st.integers(1, 5), SEEDS)
def test_logsumexp_matches_scipy_with_infinite_entries(n_rows, n_cols, seed):
    from scipy.special import logsumexp as scipy_logsumexp

    rng = np.random.RandomState(seed)
    values = rng.standard_normal((n_rows, n_cols)) * 300.0
    values[rng.uniform(size=values.shape) < 0.3] = -np.inf
    values[0] = -np.inf  # a row with no mass at all
    np.testing.assert_allclose(
        logsumexp(values, axis=1), scipy_logsumexp(values, axis=1), rtol=1e-12
    )
    np.testing.assert_allclose(
        logsumexp(values, axis=0), scipy_logsumexp(values, axis=0), rtol=1e-12
    )
