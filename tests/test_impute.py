"""GaussianMixtureImputer: scikit-learn's checks, known answers, the imputer API."""

import numpy as np
import pandas as pd
import pytest
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer
from sklearn.linear_model import LinearRegression
from sklearn.pipeline import make_pipeline
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmje import GaussianMixtureImputer


@parametrize_with_checks(
    [GaussianMixtureImputer(random_state=0), GaussianMixtureImputer(n_components=2, random_state=0)]
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _holes(X, fraction, seed):
    holes = X.copy()
    holes[np.random.RandomState(seed).uniform(size=X.shape) < fraction] = np.nan
    return holes


def _gaussian_rows(n_samples, seed):
    rng = np.random.RandomState(seed)
    covariance = np.array([[1.0, 0.7, 0.3], [0.7, 1.0, 0.5], [0.3, 0.5, 1.0]])
    return rng.multivariate_normal([1.0, -1.0, 2.0], covariance, size=n_samples)


def test_one_component_imputes_the_gaussian_conditional_mean():
    X = _holes(_gaussian_rows(2000, 0), 0.2, 1)
    imputer = GaussianMixtureImputer(n_components=1).fit(X)
    mixture = imputer.mixture_
    mean, covariance = mixture.means_[0], mixture.covariances_[0]
    row = np.array([[0.5, np.nan, np.nan]])
    gain = covariance[1:, :1] / covariance[0, 0]
    expected = mean[1:] + gain[:, 0] * (0.5 - mean[0])
    np.testing.assert_allclose(imputer.transform(row)[0, 1:], expected, atol=1e-10)
    # Observed entries are left as they are.
    filled = imputer.transform(X)
    observed = ~np.isnan(X)
    np.testing.assert_array_equal(filled[observed], X[observed])
    assert not np.isnan(filled).any()


def test_linear_data_match_iterative_imputer_and_branches_beat_it():
    truth = _gaussian_rows(3000, 2)
    X = _holes(truth, 0.3, 3)
    missing = np.isnan(X)

    def rmse(filled):
        return np.sqrt(np.mean((filled[missing] - truth[missing]) ** 2))

    ours = rmse(GaussianMixtureImputer(random_state=0).fit_transform(X))
    iterative = rmse(IterativeImputer(random_state=0).fit_transform(X))
    assert ours < iterative * 1.02
    # Two branches: y = +-x. A chain of linear regressions predicts 0 for y; the
    # mixture's conditional picks the branch from the third column.
    rng = np.random.RandomState(4)
    x, branch = rng.uniform(-2, 2, size=3000), rng.choice([-1.0, 1.0], size=3000)
    truth = np.column_stack([x, branch * x + 0.05 * rng.normal(size=3000), branch])
    truth[:, 2] += 0.05 * rng.normal(size=3000)
    X = truth.copy()
    X[rng.uniform(size=3000) < 0.3, 1] = np.nan
    missing = np.isnan(X)
    ours = rmse(GaussianMixtureImputer(random_state=0).fit_transform(X))
    iterative = rmse(IterativeImputer(random_state=0).fit_transform(X))
    assert ours < 0.5 * iterative


def test_sample_posterior_draws_with_the_conditional_spread():
    X = _gaussian_rows(3000, 5)
    X[:, 2] = np.nan
    X[::2, 2] = _gaussian_rows(3000, 5)[::2, 2]
    imputer = GaussianMixtureImputer(n_components=1, sample_posterior=True, random_state=0)
    filled = imputer.fit(X).transform(X)
    mean = GaussianMixtureImputer(n_components=1).fit(X).transform(X)
    residual = filled[1::2, 2] - mean[1::2, 2]
    covariance = imputer.mixture_.covariances_[0]
    schur = covariance[2, 2] - covariance[2, :2] @ np.linalg.solve(
        covariance[:2, :2], covariance[:2, 2]
    )
    assert np.std(residual) == pytest.approx(np.sqrt(schur), rel=0.1)
    # Another seed, another imputation (multiple imputation).
    other = GaussianMixtureImputer(n_components=1, sample_posterior=True, random_state=1)
    assert not np.allclose(other.fit(X).transform(X)[1::2, 2], filled[1::2, 2])


def test_the_imputer_api():
    X = _holes(_gaussian_rows(400, 6), 0.2, 7)
    X[:, 1] = np.nan
    imputer = GaussianMixtureImputer(random_state=0, add_indicator=True).fit(X)
    out = imputer.transform(X)
    assert out.shape == (400, 2 + 3)  # the empty column dropped, three indicators
    np.testing.assert_array_equal(out[:, 2:], np.isnan(X).astype(float))
    kept = GaussianMixtureImputer(random_state=0, keep_empty_features=True).fit(X)
    assert kept.transform(X).shape == (400, 3) and np.all(kept.transform(X)[:, 1] == 0)
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    imputer = GaussianMixtureImputer(random_state=0).set_output(transform="pandas").fit(frame)
    assert list(imputer.transform(frame).columns) == ["a", "c"]
    sentinel = np.where(np.isnan(X), -1.0, X)
    by_value = GaussianMixtureImputer(missing_values=-1.0, random_state=0).fit(sentinel)
    np.testing.assert_allclose(
        by_value.transform(sentinel), GaussianMixtureImputer(random_state=0).fit_transform(X)
    )
    assert np.all(np.isfinite(imputer.score_samples(frame)))


def test_in_a_pipeline_before_an_estimator():
    truth = _gaussian_rows(600, 8)
    X, y = _holes(truth[:, :2], 0.2, 9), truth[:, 2]
    pipe = make_pipeline(GaussianMixtureImputer(random_state=0), LinearRegression()).fit(X, y)
    assert pipe.score(X, y) > 0.2
