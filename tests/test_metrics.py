"""skgmje.metrics: the scores of predicted distributions, against their definitions."""

import numpy as np
import pytest
from scipy import stats
from sklearn.model_selection import GridSearchCV, cross_validate

from skgmje import GJE, GMJE, GaussianMixtureDistribution, metrics
from skgmje.datasets import make_intersecting_branches, make_moving_ring


@pytest.fixture(scope="module")
def linear():
    rng = np.random.RandomState(0)
    X = rng.uniform(-1, 1, size=(4000, 1))
    y = 2 * X[:, 0] + 0.3 * rng.normal(size=4000)
    model = GJE().fit(X[:2000], y[:2000])
    return model, X[2000:], y[2000:]


def test_a_calibrated_model_has_uniform_pit_and_nominal_coverage(linear):
    model, X, y = linear
    distribution = model.predict_distribution(X)
    values = metrics.pit(y, distribution)
    assert stats.kstest(values, "uniform").pvalue > 0.01
    nominal, observed = metrics.calibration_curve(y, distribution)
    # Each observed share is a binomial proportion of 2000 rows: within 4 standard errors.
    assert np.all(np.abs(observed - nominal) < 4 * np.sqrt(nominal * (1 - nominal) / len(y)))
    bounds = model.predict_interval(X, 0.8)
    assert metrics.interval_coverage(y, bounds) == pytest.approx(0.8, abs=0.04)
    assert metrics.interval_width(bounds) == pytest.approx(2 * 1.2816 * 0.3, rel=0.05)


def test_crps_is_the_mean_of_the_closed_form_and_can_be_weighted(linear):
    model, X, y = linear
    distribution = model.predict_distribution(X)
    per_row = distribution.crps(y)
    assert metrics.crps(y, distribution) == pytest.approx(per_row.mean())
    weights = np.linspace(0, 1, len(y))
    assert metrics.crps(y, distribution, sample_weight=weights) == pytest.approx(
        np.average(per_row, weights=weights)
    )
    # A Gaussian scored on its own draws: E CRPS = sigma / sqrt(pi).
    assert metrics.crps(y, distribution) == pytest.approx(0.3 / np.sqrt(np.pi), rel=0.05)


def test_hdr_coverage_and_size_on_branches():
    X, y = make_intersecting_branches(n_samples=3000, random_state=0)
    model = GMJE(n_components=8, random_state=0).fit(X[:2000], y[:2000])
    region = model.predict_hdr(X[2000:], 0.8)
    bounds = model.predict_interval(X[2000:], 0.8)
    assert metrics.hdr_coverage(y[2000:], region) == pytest.approx(0.8, abs=0.04)
    assert metrics.hdr_size(region) < metrics.interval_width(bounds)


def test_energy_score_reduces_to_the_crps_in_one_dimension():
    distribution = GaussianMixtureDistribution(
        weights=[[0.3, 0.7]] * 4, means=[[[-1.0], [2.0]]] * 4, covariances=[[[0.5]], [[0.2]]]
    )
    y = np.array([0.0, 1.0, 2.0, -3.0])
    estimate = metrics.energy_score(y, distribution, n_samples=50_000, random_state=0)
    assert estimate == pytest.approx(metrics.crps(y, distribution), abs=0.02)
    X, Y = make_moving_ring(n_samples=200, random_state=0)
    ring = GMJE(n_components=4, random_state=0).fit(X, Y)
    assert np.isfinite(
        metrics.energy_score(Y[:10], ring.predict_distribution(X[:10]), random_state=0)
    )


def test_the_crps_scorer_works_in_model_selection():
    X, y = make_intersecting_branches(n_samples=600, random_state=0)
    scores = cross_validate(
        GMJE(n_components=4, random_state=0), X, y, scoring=metrics.neg_crps_scorer, cv=3
    )
    assert np.all(scores["test_score"] < 0)
    search = GridSearchCV(
        GMJE(random_state=0), {"n_components": [1, 6]}, scoring=metrics.neg_crps_scorer, cv=3
    ).fit(X, y)
    assert search.best_params_ == {"n_components": 6}


def test_shapes_are_checked():
    distribution = GaussianMixtureDistribution(
        weights=[[1.0]] * 3, means=[[[0.0]]] * 3, covariances=[[[1.0]]]
    )
    with pytest.raises(ValueError, match="y_true"):
        metrics.crps(np.zeros(4), distribution)
