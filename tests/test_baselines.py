"""ResidualGaussianRegressor: the out-of-fold residual covariance against known answers."""

import numpy as np
import pytest
from scipy.stats import norm
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import KFold, PredefinedSplit, ShuffleSplit, cross_val_predict
from sklearn.neighbors import KNeighborsRegressor
from sklearn.tree import DecisionTreeRegressor

from skgmje.baselines import ResidualGaussianRegressor

NOISE_COVARIANCE = np.array([[0.25, 0.1], [0.1, 0.16]])


def _linear(n_samples, random_state=0):
    """Three contexts, two targets linear in them with correlated Gaussian noise."""
    rng = np.random.RandomState(random_state)
    X = rng.normal(size=(n_samples, 3))
    noise = rng.multivariate_normal(np.zeros(2), NOISE_COVARIANCE, size=n_samples)
    return X, X @ np.array([[1.0, -2.0], [0.5, 0.0], [0.0, 3.0]]) + noise


def _wavy(n_samples, random_state):
    rng = np.random.RandomState(random_state)
    X = rng.uniform(-2, 2, size=(n_samples, 1))
    return X, np.sin(2 * X[:, 0]) + 0.3 * rng.normal(size=n_samples)


def test_linear_model_residual_covariance_is_the_noise_covariance():
    X, Y = _linear(4000)
    model = ResidualGaussianRegressor().fit(X, Y)
    np.testing.assert_allclose(model.residual_covariance_, NOISE_COVARIANCE, atol=0.015)


@pytest.mark.parametrize(
    "regressor",
    [KNeighborsRegressor(n_neighbors=1), DecisionTreeRegressor(random_state=0)],
    ids=repr,
)
def test_interpolating_regressor_gets_its_out_of_sample_error(regressor):
    """Both reproduce their training targets, so in-sample residuals are zero; the
    out-of-fold ones measure the error on new rows and give calibrated intervals."""
    X, y = _wavy(2000, random_state=0)
    X_test, y_test = _wavy(20000, random_state=1)
    out_of_fold = ResidualGaussianRegressor(regressor).fit(X, y)
    in_sample = ResidualGaussianRegressor(regressor, cv="in_sample").fit(X, y)
    held_out_error = np.mean((y_test - out_of_fold.predict(X_test)) ** 2)
    assert in_sample.residual_covariance_[0, 0] < 1e-6 * held_out_error
    assert out_of_fold.residual_covariance_[0, 0] == pytest.approx(held_out_error, rel=0.1)

    def coverage(model):
        mean, std = model.predict(X_test, return_std=True)
        return np.mean(np.abs(y_test - mean) <= norm.ppf(0.95) * std)

    assert coverage(out_of_fold) == pytest.approx(0.9, abs=0.03)
    assert coverage(in_sample) < 0.01


def test_covariance_is_the_weighted_outer_product_of_cross_val_predict_residuals():
    X, Y = _linear(300)
    weights = np.random.RandomState(1).uniform(0.0, 3.0, size=len(X))
    cv = KFold(4, shuffle=True, random_state=0)
    model = ResidualGaussianRegressor(LinearRegression(), cv=cv, reg_covar=0.0).fit(
        X, Y, sample_weight=weights
    )
    predictions = cross_val_predict(
        LinearRegression(), X, Y, cv=cv, params={"sample_weight": weights}
    )
    residuals = Y - predictions
    expected = (residuals * weights[:, None]).T @ residuals / weights.sum()
    np.testing.assert_allclose(model.residual_covariance_, expected, rtol=1e-12)
    # The regressor that predicts is fitted on every row.
    everything = LinearRegression().fit(X, Y, sample_weight=weights)
    np.testing.assert_allclose(model.regressor_.coef_, everything.coef_, rtol=1e-12)


def test_in_sample_covariance_uses_the_final_regressor_residuals():
    X, Y = _linear(300)
    model = ResidualGaussianRegressor(cv="in_sample", reg_covar=0.0).fit(X, Y)
    residuals = Y - LinearRegression().fit(X, Y).predict(X)
    np.testing.assert_allclose(model.residual_covariance_, residuals.T @ residuals / len(X))


def test_cv_follows_scikit_learn():
    """An int is an unshuffled KFold, and None the default 5 folds."""
    X, Y = _linear(200)
    covariances = [
        ResidualGaussianRegressor(cv=cv).fit(X, Y).residual_covariance_
        for cv in (5, None, KFold(5))
    ]
    np.testing.assert_array_equal(covariances[0], covariances[1])
    np.testing.assert_array_equal(covariances[0], covariances[2])


def test_integer_weights_equal_repeated_rows_in_matched_folds():
    """A weight of k is the row repeated k times, when every copy is in the row's fold
    (with the default folds, the repeats would shift rows between folds)."""
    X, Y = _linear(120)
    counts = np.random.RandomState(2).randint(0, 4, size=len(X))
    folds = np.arange(len(X)) % 5

    weighted = ResidualGaussianRegressor(cv=PredefinedSplit(folds)).fit(
        X, Y, sample_weight=counts.astype(float)
    )
    repeated = ResidualGaussianRegressor(cv=PredefinedSplit(np.repeat(folds, counts))).fit(
        np.repeat(X, counts, 0), np.repeat(Y, counts, 0)
    )
    np.testing.assert_allclose(
        weighted.residual_covariance_, repeated.residual_covariance_, rtol=1e-10
    )


def test_fewer_rows_than_folds_raise():
    X, Y = _linear(4)
    with pytest.raises(ValueError, match="needs at least 5 rows; got 4"):
        ResidualGaussianRegressor().fit(X, Y)
    assert np.all(np.isfinite(ResidualGaussianRegressor(cv=2).fit(X, Y).residual_covariance_))
    ResidualGaussianRegressor(cv="in_sample").fit(X[:2], Y[:2])


def test_folds_must_partition_the_rows():
    X, Y = _linear(50)
    with pytest.raises(ValueError, match="partition"):
        ResidualGaussianRegressor(cv=ShuffleSplit(3, random_state=0)).fit(X, Y)


def test_the_default_regressor_does_not_depend_on_a_columns_units():
    """Regression (bench_equivariance): scikit-learn's least squares drops directions
    below ``tol`` of the largest singular value, so a context in units 1e6 times smaller
    than another lost its coefficient, and the model's held-out score fell with it."""
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 2))
    y = X @ [1.0, -0.5] + 0.1 * rng.normal(size=300)
    weights = rng.uniform(0.5, 2.0, size=300)
    reference = ResidualGaussianRegressor().fit(X, y, sample_weight=weights).score(X, y)
    for scale in (1e-6, 1e6):
        rescaled = X * [scale, 1.0]
        model = ResidualGaussianRegressor().fit(rescaled, y, sample_weight=weights)
        assert model.score(rescaled, y) == pytest.approx(reference, abs=1e-8)
