"""DualGJE: exact mode against GaussianProcessRegressor, random features, [GMJE]_ Appendix J."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    DotProduct,
    Matern,
    WhiteKernel,
)
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmje import DualGJE
from skgmje._core.gp import exact_dual_loss, fourier_dual_loss, fourier_features
from skgmje.datasets import make_intersecting_branches, make_separated_branches

SCORE_SAMPLES_NEEDS_Y = (
    "score_samples is the conditional log-density log p(y|x) and needs y; "
    "order and subset invariance are tested with y in test_estimators.py"
)


@parametrize_with_checks(
    [DualGJE(), DualGJE(n_fourier_features=30, random_state=0)],
    expected_failed_checks=lambda estimator: {
        "check_methods_sample_order_invariance": SCORE_SAMPLES_NEEDS_Y,
        "check_methods_subset_invariance": SCORE_SAMPLES_NEEDS_Y,
        **(
            {}
            if estimator.n_fourier_features is None
            else {
                "check_sample_weight_equivalence_on_dense_data": (
                    "the kernel is tuned on the marginal likelihood, where a repeated row adds "
                    "terms that per-row noise does not; with a fixed kernel weights equal "
                    "repeated rows (test_sample_weight_is_per_row_noise)"
                )
            }
        ),
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _wiggly(n_samples=120, n_targets=1, random_state=0):
    rng = np.random.RandomState(random_state)
    X = rng.uniform(-2, 2, size=(n_samples, 2))
    y = np.sin(2 * X[:, 0]) + X[:, 1] ** 2 + 0.1 * rng.normal(size=n_samples)
    if n_targets == 2:
        y = np.column_stack([y, np.cos(X[:, 1]) + 3.0])
    return X, y


KERNELS = [
    RBF(0.7),
    ConstantKernel(2.0) * RBF([0.5, 1.5]) + WhiteKernel(0.05),
    Matern(length_scale=0.8, nu=1.5) + WhiteKernel(0.1),
]


@pytest.mark.parametrize("kernel", KERNELS, ids=repr)
@pytest.mark.parametrize("normalize_y", [False, True])
@pytest.mark.parametrize("n_targets", [1, 2])
def test_exact_equals_gaussian_process_regressor_with_fixed_kernel(kernel, normalize_y, n_targets):
    X, y = _wiggly(n_targets=n_targets)
    X_test = np.random.RandomState(1).uniform(-3, 3, size=(40, 2))
    alpha = 1e-4
    gpr = GaussianProcessRegressor(kernel, alpha=alpha, optimizer=None, normalize_y=normalize_y)
    gpr.fit(X, y)
    model = DualGJE(
        kernel, alpha=alpha, optimizer=None, normalize_X=False, normalize_y=normalize_y
    ).fit(X, y)
    gpr_mean, gpr_std = gpr.predict(X_test, return_std=True)
    mean, std = model.predict(X_test, return_std=True)
    np.testing.assert_allclose(mean, gpr_mean, rtol=0, atol=1e-8)
    # GPR reports the std of the function (plus any WhiteKernel); the density adds alpha.
    scale = np.std(y, axis=0) if normalize_y else 1.0
    expected_std = np.sqrt(gpr_std**2 + alpha * scale**2)
    if n_targets == 2 and gpr_std.ndim == 1:
        expected_std = np.sqrt(gpr_std[:, None] ** 2 + alpha * scale**2)
    np.testing.assert_allclose(std, expected_std, rtol=0, atol=1e-8)
    np.testing.assert_allclose(
        model.log_marginal_likelihood_value_, gpr.log_marginal_likelihood_value_, rtol=1e-10
    )


def test_exact_tunes_the_same_hyperparameters_as_gaussian_process_regressor():
    X, y = make_intersecting_branches(n_samples=300, random_state=0)
    kernel = ConstantKernel(1.0) * RBF(1.0) + WhiteKernel(1.0)
    gpr = GaussianProcessRegressor(kernel).fit(X, y)
    model = DualGJE(kernel, normalize_X=False, normalize_y=False).fit(X, y)
    np.testing.assert_allclose(model.kernel_.theta, gpr.kernel_.theta, atol=1e-3)
    np.testing.assert_allclose(
        model.log_marginal_likelihood_value_, gpr.log_marginal_likelihood_value_, rtol=1e-6
    )
    np.testing.assert_allclose(model.predict(X[:20]), gpr.predict(X[:20]), atol=1e-4)


def _with_irrelevant_feature(n_samples, random_state):
    X, y = _wiggly(n_samples=n_samples, random_state=random_state)
    irrelevant = np.random.RandomState(random_state + 10).uniform(-2, 2, size=n_samples)
    return np.column_stack([X, irrelevant]), y


def test_default_kernel_equals_gaussian_process_regressor_with_an_ard_kernel():
    X, y = _with_irrelevant_feature(120, random_state=0)
    ard = ConstantKernel(1.0) * RBF(np.ones(3)) + WhiteKernel(1.0)
    gpr = GaussianProcessRegressor(ard, normalize_y=True).fit(X, y)
    model = DualGJE(normalize_X=False).fit(X, y)
    assert model.kernel_.k1.k2.length_scale.shape == (3,)
    np.testing.assert_allclose(model.kernel_.theta, gpr.kernel_.theta, atol=1e-3)
    np.testing.assert_allclose(
        model.log_marginal_likelihood_value_, gpr.log_marginal_likelihood_value_, rtol=1e-6
    )
    np.testing.assert_allclose(model.predict(X[:20]), gpr.predict(X[:20]), atol=1e-4)


@pytest.mark.parametrize("n_fourier_features", [None, 200])
def test_default_kernel_smooths_out_an_irrelevant_feature(n_fourier_features):
    """One length-scale per feature: the irrelevant one is stretched until the kernel
    ignores it, and the held-out likelihood beats one length-scale shared by all."""
    X, y = _with_irrelevant_feature(150, random_state=0)
    X_test, y_test = _with_irrelevant_feature(1000, random_state=1)
    ard = DualGJE(n_fourier_features=n_fourier_features, random_state=0).fit(X, y)
    length_scale = ard.kernel_.k1.k2.length_scale
    assert length_scale[2] > 100 * length_scale[:2].max()
    shared = DualGJE(
        ConstantKernel(1.0) * RBF(1.0) + WhiteKernel(1.0),
        n_fourier_features=n_fourier_features,
        random_state=0,
    ).fit(X, y)
    assert ard.score(X_test, y_test) > shared.score(X_test, y_test) + 0.2


def test_default_kernel_follows_the_number_of_features():
    model = DualGJE()
    for n_features in (1, 4, 2):
        rng = np.random.RandomState(n_features)
        X = rng.normal(size=(40, n_features))
        model.fit(X, np.sin(X).sum(axis=1) + 0.1 * rng.normal(size=40))
        assert np.size(model.kernel_.k1.k2.length_scale) == n_features
    assert model.kernel is None


def test_dual_loss_is_twice_the_negative_log_marginal_likelihood():
    X, y = _wiggly(n_targets=2)
    model = DualGJE(
        RBF(0.6) + WhiteKernel(0.1), optimizer=None, normalize_X=False, normalize_y=False
    ).fit(X, y)
    gram = model.kernel_(X)
    log_likelihood = sum(
        _gaussian_log_pdf(y[:, j], gram + model.alpha * np.eye(len(X))) for j in range(2)
    )
    np.testing.assert_allclose(model.log_marginal_likelihood_value_, log_likelihood, rtol=1e-10)


def _gaussian_log_pdf(t, covariance):
    from scipy.stats import multivariate_normal

    return multivariate_normal(np.zeros(len(t)), covariance).logpdf(t)


def test_variance_grows_away_from_the_training_contexts():
    X, y = _wiggly()
    for model in (DualGJE(), DualGJE(n_fourier_features=200, random_state=0)):
        model.fit(X, y)
        distances = np.array([[0.0, 0.0], [2.5, 0.0], [4.0, 0.0], [8.0, 0.0]])
        _, std = model.predict(distances, return_std=True)
        assert np.all(np.diff(std) > 0), std
        assert std[-1] > 3 * std[0]
    # Far away the exact posterior returns to the prior: amplitude plus noise. (Random
    # features only approximate this: a finite feature map never leaves the data's span.)
    exact = DualGJE(normalize_X=False, normalize_y=False).fit(X, y)
    amplitude = exact.kernel_.k1.k1.constant_value
    _, std = exact.predict([[50.0, 0.0]], return_std=True)
    np.testing.assert_allclose(std[0] ** 2, amplitude + exact.noise_variance_, rtol=1e-6)


def test_fourier_features_approach_the_exact_gaussian_process():
    X, y = _wiggly(n_samples=150)
    X_test = np.random.RandomState(2).uniform(-2, 2, size=(60, 2))
    kernel = ConstantKernel(1.5) * RBF(0.8) + WhiteKernel(0.02)
    exact = DualGJE(kernel, optimizer=None).fit(X, y)
    exact_mean, exact_std = exact.predict(X_test, return_std=True)
    errors, loss_gaps = [], []
    for n_features in (16, 128, 2048):
        # Average over seeds: a single draw of few features can be lucky.
        seed_errors, seed_gaps = [], []
        for seed in range(3):
            approx = DualGJE(
                kernel, optimizer=None, n_fourier_features=n_features, random_state=seed
            )
            approx.fit(X, y)
            mean, std = approx.predict(X_test, return_std=True)
            seed_errors.append(np.abs(mean - exact_mean).mean() + np.abs(std - exact_std).mean())
            seed_gaps.append(abs(approx.dual_loss_ - exact.dual_loss_) / len(X))
        errors.append(np.mean(seed_errors))
        loss_gaps.append(np.mean(seed_gaps))
    assert errors[0] > errors[1] > errors[2], errors
    assert loss_gaps[0] > loss_gaps[2], loss_gaps
    assert errors[2] < 0.02 and loss_gaps[2] < 0.05, (errors, loss_gaps)


def test_fourier_loss_equals_the_exact_loss_on_the_feature_gram_matrix():
    rng = np.random.RandomState(0)
    X, T = rng.normal(size=(40, 3)), rng.normal(size=(40, 2))
    base, phases = rng.normal(size=(25, 3)), rng.uniform(0, 2 * np.pi, 25)
    amplitude, length_scale, noise = 1.7, np.array([0.5, 1.0, 2.0]), 0.3
    features = fourier_features(X, base / length_scale, phases)
    gram = amplitude * features @ features.T + noise * np.eye(40)
    exact = exact_dual_loss(gram, T)
    approx = fourier_dual_loss(X, T, base, phases, amplitude, length_scale, noise)
    np.testing.assert_allclose(approx.loss, exact.loss, rtol=1e-10)
    # The weight-space posterior mean reproduces the function-space one.
    np.testing.assert_allclose(
        features @ approx.weight_mean, gram @ exact.dual_coef - noise * exact.dual_coef, atol=1e-8
    )


def _objective_handed_to_the_optimizer(model, X, y):
    """The dual loss (with its gradient) and the start that ``fit`` hands to a callable
    ``optimizer``, on the raw ``X`` and ``y``; the optimizer keeps the start."""
    handed = []

    def keep_the_start(objective, theta, bounds):
        handed.append((objective, np.array(theta)))
        return theta, objective(theta)[0]

    model.set_params(optimizer=keep_the_start, normalize_X=False, normalize_y=False).fit(X, y)
    (objective_and_start,) = handed
    return objective_and_start


@pytest.mark.parametrize(
    "kernel",
    [
        ConstantKernel(1.3) * RBF(0.7) + WhiteKernel(0.2),
        WhiteKernel(0.2) + RBF([0.6, 1.4]) * ConstantKernel(0.8),
        RBF(0.9),
        ConstantKernel(2.0, "fixed") * RBF([0.6, 1.4]),
        ConstantKernel(1.0) * ConstantKernel(2.0) * RBF(0.9, "fixed") + WhiteKernel(0.1),
    ],
    ids=repr,
)
def test_fourier_gradient_maps_onto_the_kernel_theta(kernel):
    X, y = _wiggly(n_samples=60)
    model = DualGJE(kernel, alpha=0.01, n_fourier_features=40, random_state=0)
    objective, start = _objective_handed_to_the_optimizer(model, X, y)
    np.testing.assert_array_equal(start, kernel.theta)
    theta = kernel.theta + 0.1
    _, gradient = objective(theta)
    numeric = np.array(
        [
            (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-6
            for step in 1e-6 * np.eye(len(theta))
        ]
    )
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-5)


def test_exact_gradient_matches_finite_differences():
    X, y = _wiggly(n_samples=50, n_targets=2)
    kernel = ConstantKernel(1.3) * RBF([0.7, 1.1]) + WhiteKernel(0.2)
    objective, theta = _objective_handed_to_the_optimizer(DualGJE(kernel), X, y)
    _, gradient = objective(theta)
    numeric = np.array(
        [
            (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-6
            for step in 1e-6 * np.eye(len(theta))
        ]
    )
    np.testing.assert_allclose(gradient, numeric, rtol=1e-5, atol=1e-5)


@settings(max_examples=30, deadline=None)
@given(
    n_samples=st.integers(6, 20),
    n_dims=st.integers(2, 5),
    jitter=st.floats(1e-2, 10.0),
    seed=st.integers(0, 2**16),
)
def test_linear_kernel_dual_loss_equals_primal_loss(n_samples, n_dims, jitter, seed):
    """[GMJE]_ Appendix J: with k(z, z') = z^T z', the dual loss lives in the D x D space."""
    Z = np.random.RandomState(seed).normal(size=(n_samples, n_dims))
    linear = DotProduct(sigma_0=0.0, sigma_0_bounds="fixed")
    dual = DualGJE(linear, alpha=jitter, optimizer=None, normalize_X=False, normalize_y=False)
    dual.fit(Z, Z)
    # Primal: the zero-mean covariance scatter Z^T Z + jitter I (GJE with fit_mean=False).
    scatter = Z.T @ Z + jitter * np.eye(n_dims)
    _, log_det = np.linalg.slogdet(scatter)
    primal_loss = np.trace(np.linalg.solve(scatter, Z.T @ Z)) + n_dims * (
        (n_samples - n_dims) * np.log(jitter) + log_det
    )
    np.testing.assert_allclose(dual.dual_loss_, primal_loss, rtol=1e-8)


def test_sample_without_contexts_draws_them_from_the_training_set():
    X, y = _wiggly()
    model = DualGJE(n_fourier_features=50, random_state=0).fit(X, y)
    X_new, y_new = model.sample(n_samples=200, random_state=0)
    assert X_new.shape == (200, 2) and y_new.shape == (200,)
    training_rows = {tuple(row) for row in X}
    assert all(tuple(row) in training_rows for row in X_new)
    # Targets come from p(y|x): standardised residuals are N(0, 1).
    mean, std = model.predict(X_new, return_std=True)
    residuals = (y_new - mean) / std
    assert abs(residuals.mean()) < 0.2 and 0.8 < residuals.std() < 1.2


def test_random_state_makes_fourier_fits_reproducible():
    X, y = make_separated_branches(n_samples=200, random_state=0)
    first = DualGJE(n_fourier_features=64, random_state=3).fit(X, y).predict(X)
    second = DualGJE(n_fourier_features=64, random_state=3).fit(X, y).predict(X)
    other = DualGJE(n_fourier_features=64, random_state=4).fit(X, y).predict(X)
    np.testing.assert_array_equal(first, second)
    assert not np.array_equal(first, other)


def test_restarts_keep_the_best_start():
    X, y = _wiggly(n_samples=80)
    kernel = ConstantKernel(1.0, (1e-2, 1e2)) * RBF(50.0, (1e-2, 1e2)) + WhiteKernel(
        1.0, (1e-4, 1e1)
    )
    single = DualGJE(kernel).fit(X, y)
    restarted = DualGJE(kernel, n_restarts_optimizer=4, random_state=0).fit(X, y)
    assert restarted.dual_loss_ <= single.dual_loss_ + 1e-8


def test_verbose_reports_the_optimiser(capsys):
    X, y = _wiggly(n_samples=40)
    DualGJE(verbose=2).fit(X, y)
    out = capsys.readouterr().out
    assert "start 1/1: dual loss" in out and "evaluation 1:" in out


def test_unimodal_on_multivalued_targets():
    """The GP averages the branches of Dataset A: its mean sits between them."""
    X, y = make_separated_branches(n_samples=600, random_state=0)
    model = DualGJE(n_fourier_features=100, random_state=0).fit(X, y)
    mean, std = model.predict([[0.0]], return_std=True)
    assert abs(mean[0]) < 0.5 and std[0] > 1.0
    assert len(model.predict_distribution([[0.0]]).weights[0]) == 1


@pytest.mark.parametrize(
    "params, message",
    [
        ({"alpha": -1.0}, "alpha"),
        ({"n_fourier_features": 0}, "n_fourier_features"),
        ({"n_fourier_features": 2.5}, "n_fourier_features"),
        ({"optimizer": "adam"}, "optimizer"),
        ({"n_restarts_optimizer": -1}, "n_restarts_optimizer"),
        ({"kernel": Matern(), "n_fourier_features": 10}, "RBF"),
        ({"kernel": RBF() + RBF(), "n_fourier_features": 10}, "RBF"),
        ({"kernel": RBF() + WhiteKernel() + WhiteKernel(), "n_fourier_features": 10}, "RBF"),
    ],
)
def test_invalid_parameters_raise(params, message):
    X, y = _wiggly(n_samples=30)
    with pytest.raises(ValueError, match=message):
        DualGJE(**params).fit(X, y)


def test_restarts_need_finite_bounds():
    X, y = _wiggly(n_samples=30)
    kernel = RBF(1.0, (1e-5, np.inf))
    with pytest.raises(ValueError, match="finite"):
        DualGJE(kernel, n_restarts_optimizer=2, random_state=0).fit(X, y)


@pytest.mark.parametrize("n_fourier_features", [None, 40])
def test_sample_weight_is_per_row_noise(n_fourier_features):
    X, y = _wiggly(n_samples=60)
    X_test = np.random.RandomState(3).uniform(-2, 2, size=(15, 2))
    counts = np.random.RandomState(4).randint(0, 4, size=len(X))
    fixed = dict(
        kernel=ConstantKernel(1.2) * RBF(0.7) + WhiteKernel(0.05),
        optimizer=None,
        n_fourier_features=n_fourier_features,
        random_state=0,
    )
    # Integer weights: the row observed that many times (zero: not observed at all).
    weighted = DualGJE(**fixed).fit(X, y, sample_weight=counts.astype(float))
    repeated = DualGJE(**fixed).fit(np.repeat(X, counts, 0), np.repeat(y, counts, 0))
    for got, expected in zip(
        weighted.predict(X_test, return_std=True), repeated.predict(X_test, return_std=True)
    ):
        np.testing.assert_allclose(got, expected, rtol=1e-7, atol=1e-9)
    # With the optimiser, zero weights are the rows dropped.
    tuned = dict(fixed, optimizer="fmin_l_bfgs_b")
    zero = (counts > 0).astype(float)
    dropped = DualGJE(**tuned).fit(X[zero > 0], y[zero > 0])
    np.testing.assert_allclose(
        DualGJE(**tuned).fit(X, y, sample_weight=zero).predict(X_test),
        dropped.predict(X_test),
        rtol=1e-6,
        atol=1e-8,
    )


@pytest.mark.parametrize("n_fourier_features", [None, 40])
def test_weighted_dual_loss_gradient_matches_finite_differences(n_fourier_features):
    X, y = _wiggly(n_samples=40)
    weights = np.random.RandomState(5).uniform(0.2, 3.0, size=len(X))
    captured = []

    def capture(objective, theta, bounds):
        captured.append(objective)
        return theta, objective(theta)[0]

    kernel = ConstantKernel(1.2) * RBF(0.7) + WhiteKernel(0.05)
    DualGJE(kernel, optimizer=capture, n_fourier_features=n_fourier_features, random_state=0).fit(
        X, y, sample_weight=weights
    )
    objective, theta = captured[0], kernel.theta + 0.1
    _, gradient = objective(theta)
    numeric = np.array(
        [
            (objective(theta + step)[0] - objective(theta - step)[0]) / 2e-6
            for step in np.eye(len(theta)) * 1e-6
        ]
    )
    np.testing.assert_allclose(gradient, numeric, rtol=1e-4, atol=1e-4)
