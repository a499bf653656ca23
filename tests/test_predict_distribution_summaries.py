"""predict_quantiles, predict_interval and predict_hdr of every estimator: the summaries
of its conditional mixture, in the shapes of its training targets, lazy on dask."""

import numpy as np
import pytest
from _roster import estimators
from sklearn.base import clone

from skgmje import GMJE
from skgmje.datasets import make_intersecting_branches, make_moving_ring

ALL = estimators()
LEVELS = [0.05, 0.25, 0.5, 0.75, 0.95]


@pytest.fixture(scope="module")
def data():
    X, y = make_intersecting_branches(n_samples=300, random_state=0)
    return X, y, X[:25]


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_quantiles_and_intervals_are_those_of_the_predicted_distribution(estimator, data):
    X, y, X_new = data
    model = clone(estimator).fit(X, y)
    quantiles = model.predict_quantiles(X_new, LEVELS)
    assert quantiles.shape == (len(X_new), len(LEVELS))
    distribution = model.predict_distribution(X_new)
    np.testing.assert_allclose(quantiles, distribution.ppf(LEVELS), rtol=1e-12, atol=1e-12)
    assert np.all(np.diff(quantiles, axis=1) > 0)
    assert model.predict_quantiles(X_new, 0.5).shape == (len(X_new),)
    bounds = model.predict_interval(X_new, 0.9)
    np.testing.assert_allclose(bounds, model.predict_quantiles(X_new, [0.05, 0.95]))
    np.testing.assert_allclose(distribution.cdf(bounds.T).T, [[0.05, 0.95]] * len(X_new), atol=1e-9)


@pytest.mark.parametrize("estimator", ALL, ids=lambda e: type(e).__name__)
def test_the_hdr_holds_its_coverage_and_is_never_longer_than_the_interval(estimator, data):
    X, y, X_new = data
    model = clone(estimator).fit(X, y)
    region = model.predict_hdr(X_new, 0.8)
    distribution = model.predict_distribution(X_new)
    mass = np.nansum(
        distribution.cdf(region.upper.T).T - distribution.cdf(region.lower.T).T, axis=1
    )
    np.testing.assert_allclose(mass, 0.8, atol=1e-6)
    interval = model.predict_interval(X_new, 0.8)
    assert np.all(region.length() <= interval[:, 1] - interval[:, 0] + 1e-9)


def test_two_targets_give_per_target_quantiles_and_no_hdr():
    X, Y = make_moving_ring(n_samples=300, random_state=0)
    model = GMJE(n_components=4, random_state=0).fit(X, Y)
    quantiles = model.predict_quantiles(X[:5], [0.1, 0.9])
    assert quantiles.shape == (5, 2, 2)
    distribution = model.predict_distribution(X[:5])
    np.testing.assert_allclose(quantiles[:, :, 1], distribution.marginal(1).ppf([0.1, 0.9]))
    assert model.predict_interval(X[:5]).shape == (5, 2, 2)
    with pytest.raises(ValueError, match="marginal"):
        model.predict_hdr(X[:5])


def test_quantiles_are_lazy_on_dask(data):
    da = pytest.importorskip("dask.array")
    X, y, X_new = data
    model = GMJE(n_components=4, random_state=0).fit(X, y)
    lazy = model.predict_quantiles(da.from_array(X_new, chunks=10), LEVELS)
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), model.predict_quantiles(X_new, LEVELS))
    with pytest.raises(TypeError, match="NumPy slice"):
        model.predict_hdr(da.from_array(X_new, chunks=10))


@pytest.mark.parametrize("alpha", [1.5, -0.1, [[0.5]], []])
def test_bad_levels_and_coverages_are_named(alpha, data):
    X, y, X_new = data
    model = GMJE(n_components=2, random_state=0).fit(X, y)
    with pytest.raises(ValueError, match="alpha"):
        model.predict_quantiles(X_new, alpha)
    with pytest.raises(ValueError, match="coverage"):
        model.predict_interval(X_new, 1.0)
    with pytest.raises(ValueError, match="coverage"):
        model.predict_hdr(X_new, 0)
