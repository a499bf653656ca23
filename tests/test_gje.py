"""GJE: one joint Gaussian conditioned in closed form, which is least squares regression
with the residual covariance; the one-component case of the joint mixture conditioning
tested in test_mixture.py."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LinearRegression

from skgmje import GJE
from skgmje._core.conditioning import conditional_distribution, prepare_conditioning

SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def random_spd(rng, dim, scale=1.0):
    """``A A^T / dim + c I``: condition number below ~50."""
    a = rng.standard_normal((dim, dim))
    return scale * (a @ a.T / dim + rng.uniform(0.1, 1.0) * np.eye(dim))


def _linear_data(rng, n_samples, dx, dy):
    X = rng.standard_normal((n_samples, dx)) @ random_spd(rng, dx) + rng.standard_normal(dx)
    coef = rng.standard_normal((dx, dy))
    Y = X @ coef + rng.standard_normal(dy) * 3.0
    Y = Y + rng.standard_normal((n_samples, dy)) @ random_spd(rng, dy, scale=0.3)
    return X, Y


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(1, 3), st.integers(20, 200), st.booleans(), SEEDS)
def test_gje_is_least_squares_regression(dx, dy, n_samples, fit_mean, seed):
    """GJE's conditional mean is OLS and its conditional covariance the (1/N) residual one."""
    rng = np.random.RandomState(seed)
    X, Y = _linear_data(rng, n_samples, dx, dy)
    y = Y[:, 0] if dy == 1 else Y
    model = GJE(fit_mean=fit_mean, reg_covar=0.0).fit(X, y)
    ols = LinearRegression(fit_intercept=fit_mean).fit(X, y)

    X_test = rng.standard_normal((7, dx)) * 2.0
    prediction = model.predict(X_test)
    assert prediction.shape == ((7,) if dy == 1 else (7, dy))
    np.testing.assert_allclose(prediction, ols.predict(X_test), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(model.coef_, np.atleast_2d(ols.coef_), rtol=1e-7, atol=1e-9)

    residuals = (y - ols.predict(X)).reshape(n_samples, dy)
    np.testing.assert_allclose(
        model.conditional_covariance_, residuals.T @ residuals / n_samples, rtol=1e-7, atol=1e-12
    )

    # The fitted model is the K = 1 joint-mixture conditional of the data's own covariance.
    Z = np.hstack([X, Y])
    mean = Z.mean(axis=0) if fit_mean else np.zeros(dx + dy)
    covariance = (Z - mean).T @ (Z - mean) / n_samples
    reference = conditional_distribution(
        prepare_conditioning(np.ones(1), mean[None], covariance[None], dx), X_test
    )
    dist = model.predict_distribution(X_test)
    np.testing.assert_allclose(dist.means, reference.means, rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(dist.covariances, reference.covariances, rtol=1e-8, atol=1e-12)
    Y_test = rng.standard_normal((7, dy))
    np.testing.assert_allclose(
        model.score_samples(X_test, Y_test), reference.log_prob(Y_test), rtol=1e-8, atol=1e-8
    )


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(30, 200), st.floats(1e-6, 1e-2), SEEDS)
def test_gje_reg_covar_inflates_the_residual_variance_by_a_bounded_amount(
    dx, n_samples, reg_covar, seed
):
    """With the jitter E = eps diag(var) (reg_covar relative to each column's variance),
    Schur(S + E) lies between Schur(S) + e_y and Schur(S) + e_y + sum_j coef_j^2 e_j."""
    rng = np.random.RandomState(seed)
    X, Y = _linear_data(rng, n_samples, dx, 1)
    model = GJE(reg_covar=reg_covar).fit(X, Y[:, 0])
    ols = LinearRegression().fit(X, Y[:, 0])
    residual_variance = np.mean((Y[:, 0] - ols.predict(X)) ** 2)
    variance = model.conditional_covariance_[0, 0]
    slack = 1e-10 * residual_variance
    target_jitter = reg_covar * np.var(Y[:, 0])
    assert variance >= residual_variance + target_jitter - slack
    upper = residual_variance + target_jitter + np.sum(ols.coef_**2 * reg_covar * np.var(X, axis=0))
    assert variance <= upper + slack


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 3), st.integers(20, 100), SEEDS)
def test_gje_sample_weight_is_weighted_least_squares(dx, n_samples, seed):
    rng = np.random.RandomState(seed)
    X, Y = _linear_data(rng, n_samples, dx, 1)
    sample_weight = rng.uniform(0.1, 3.0, size=n_samples)
    model = GJE(reg_covar=0.0).fit(X, Y[:, 0], sample_weight=sample_weight)
    wls = LinearRegression().fit(X, Y[:, 0], sample_weight=sample_weight)
    X_test = rng.standard_normal((5, dx))
    np.testing.assert_allclose(model.predict(X_test), wls.predict(X_test), rtol=1e-8, atol=1e-8)
    residuals = Y[:, 0] - wls.predict(X)
    np.testing.assert_allclose(
        model.conditional_covariance_[0, 0],
        np.average(residuals**2, weights=sample_weight),
        rtol=1e-7,
    )
