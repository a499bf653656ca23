"""The wider suite of problems: samplers, and oracles that are the true conditional densities."""

import numpy as np
import pytest
from scipy import stats

from skgmje import GMJE
from skgmje.datasets import (
    HeteroscedasticBranchesOracle,
    IrrelevantFeaturesOracle,
    MovingRingOracle,
    SplittingBranchesOracle,
    make_heteroscedastic_branches,
    make_irrelevant_features,
    make_moving_ring,
    make_splitting_branches,
)

PROBLEMS = {
    "heteroscedastic": (make_heteroscedastic_branches, HeteroscedasticBranchesOracle, 0.05),
    "irrelevant": (make_irrelevant_features, IrrelevantFeaturesOracle, 0.1),
    "splitting": (make_splitting_branches, SplittingBranchesOracle, 0.1),
    "ring": (make_moving_ring, MovingRingOracle, 0.05),
}


@pytest.mark.parametrize("name", PROBLEMS)
def test_samplers_are_reproducible_and_shaped(name):
    make, _, _ = PROBLEMS[name]
    X, y = make(50, random_state=0)
    again_X, again_y = make(50, random_state=0)
    np.testing.assert_array_equal(X, again_X)
    np.testing.assert_array_equal(y, again_y)
    assert len(X) == len(y) == 50 and np.all(np.abs(X) <= 1)
    assert y.shape == ((50, 2) if name == "ring" else (50,))


@pytest.mark.parametrize("name", PROBLEMS)
@pytest.mark.parametrize(
    "params, message", [({"n_samples": 0}, "n_samples"), ({"noise": 0.0}, "noise")]
)
def test_samplers_reject_bad_parameters(name, params, message):
    make, oracle, _ = PROBLEMS[name]
    with pytest.raises(ValueError, match=message):
        make(**params)
    if "noise" in params:
        with pytest.raises(ValueError, match="noise"):
            oracle(noise=0.0)


@pytest.mark.parametrize("name", ["heteroscedastic", "splitting"])
@pytest.mark.parametrize("x", [-0.8, -0.2, 0.0, 0.5, 0.95])
def test_one_dimensional_oracles_integrate_to_one(name, x):
    _, oracle, _ = PROBLEMS[name]
    grid = np.linspace(-8.0, 8.0, 16001)
    density = np.exp(oracle().score_samples(np.full((len(grid), 1), x), grid))
    assert np.isclose(density.sum() * (grid[1] - grid[0]), 1.0, atol=1e-6)


@pytest.mark.parametrize("x", [-0.9, 0.0, 0.7])
def test_ring_oracle_integrates_to_one_and_matches_its_angle_integral(x):
    oracle = MovingRingOracle(noise=0.1)
    grid = np.linspace(-2.5, 2.5, 1001)
    points = np.stack(np.meshgrid(grid, grid), -1).reshape(-1, 2)
    contexts = np.full((len(points), 1), x)
    density = np.exp(oracle.score_samples(contexts, points))
    assert np.isclose(density.sum() * (grid[1] - grid[0]) ** 2, 1.0, atol=1e-6)
    # Against the defining integral over the angle, by quadrature, at a few points.
    angles = np.linspace(0.0, 2.0 * np.pi, 4001)[:-1]
    centre, radius = np.array([x, 0.5 * np.sin(np.pi * x)]), 0.6 + 0.3 * x
    ring = centre + radius * np.stack([np.cos(angles), np.sin(angles)], 1)
    for point in points[::50017][:5]:
        expected = stats.multivariate_normal(mean=[0, 0], cov=0.01).pdf(point - ring).mean()
        got = np.exp(oracle.score_samples(np.array([[x]]), point[None]))[0]
        assert np.isclose(got, expected, rtol=1e-6, atol=1e-300)


def test_ring_oracle_stays_finite_for_a_thin_ring():
    oracle = MovingRingOracle(noise=1e-3)
    X, y = make_moving_ring(200, noise=1e-3, random_state=0)
    scores = oracle.score_samples(X, y)
    assert np.all(np.isfinite(scores)) and scores.mean() > 3.0
    with pytest.raises(ValueError, match="shape"):
        oracle.score_samples(X, y[:, 0])


def test_heteroscedastic_noise_grows_with_the_distance_from_zero():
    X, y = make_heteroscedastic_branches(60000, noise=0.05, random_state=0)
    middle = 0.5 * np.sin(2.0 * np.pi * X[:, 0])
    near = (np.abs(y - middle) < 0.6) & (np.abs(X[:, 0]) < 0.05)
    far = (np.abs(y - middle) < 0.9) & (np.abs(X[:, 0]) > 0.95)
    assert np.isclose(np.std(y[near] - middle[near]), 0.05 * 1.075, rtol=0.1)
    assert np.isclose(np.std(y[far] - middle[far]), 0.05 * 3.925, rtol=0.1)


def test_splitting_branches_have_one_two_then_three_modes():
    X, y = make_splitting_branches(30000, noise=0.02, random_state=0)
    x = X[:, 0]
    for low, high, count in ((-1.0, -0.4, 1), (-0.2, 0.2, 2), (0.6, 1.0, 3)):
        rows = (x > low) & (x < high)
        truth = SplittingBranchesOracle().predict_distribution(X[rows])
        residuals = np.where(
            truth.weights > 0, np.abs(y[rows][:, None] - truth.means[:, :, 0]), np.inf
        )
        assert np.all((truth.weights > 0).sum(axis=1) == count)
        nearest = residuals.argmin(axis=1)
        shares = np.bincount(nearest, minlength=3) / rows.sum()
        np.testing.assert_allclose(shares[:count], 1.0 / count, atol=0.03)
        assert shares[count:].sum() == 0


def test_irrelevant_columns_do_not_change_the_oracle():
    X, y = make_irrelevant_features(500, random_state=0)
    oracle = IrrelevantFeaturesOracle()
    shuffled = X.copy()
    shuffled[:, 1:] = np.random.default_rng(1).permutation(X[:, 1:])
    np.testing.assert_array_equal(oracle.score_samples(X, y), oracle.score_samples(shuffled, y))
    with pytest.raises(ValueError, match="shape"):
        oracle.score_samples(X[:, :3], y)


@pytest.mark.parametrize("name", ["heteroscedastic", "irrelevant", "splitting"])
def test_the_oracle_scores_at_least_as_well_as_a_fitted_gmje_on_held_out_data(name):
    make, oracle, _ = PROBLEMS[name]
    X, y = make(2000, random_state=0)
    X_test, y_test = make(3000, random_state=1)
    fitted = GMJE(n_components=6, random_state=0).fit(X, y)
    truth = oracle().score(X_test, y_test)
    assert truth >= fitted.score(X_test, y_test) - 0.01
    # The oracle's own draws score like the data do (the same conditional).
    draws = oracle().sample(X_test, random_state=2)[:, 0]
    assert abs(oracle().score(X_test, draws) - truth) < 0.1


def test_ring_oracle_beats_a_fitted_gmje_and_its_draws_match_the_sampler():
    X, y = make_moving_ring(2000, random_state=0)
    X_test, y_test = make_moving_ring(3000, random_state=1)
    oracle = MovingRingOracle()
    fitted = GMJE(n_components=12, random_state=0).fit(X, y)
    assert oracle.score(X_test, y_test) > fitted.score(X_test, y_test)
    draws = oracle.sample(X_test, n_samples=1, random_state=2)[:, 0]
    assert abs(oracle.score(X_test, draws) - oracle.score(X_test, y_test)) < 0.1
    centred = y_test - oracle.predict(X_test)
    np.testing.assert_allclose(centred.mean(0), 0.0, atol=0.03)
