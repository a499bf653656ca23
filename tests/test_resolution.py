"""The rounding floor of coded columns: each column's resolution (the smallest gap between
its recorded values) bounds every mixture component's variance of it from below."""

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from skgmje import GMJE, BayesianGMJE
from skgmje._core import resolution


def _coded(n_samples=600, random_state=0):
    """A continuous context, a context coded on four levels 2 apart, and a target."""
    rng = np.random.RandomState(random_state)
    level = rng.randint(4, size=n_samples)
    X = np.column_stack([rng.normal(size=n_samples), 2.0 * level + 3.0])
    y = X[:, 0] + level + 0.3 * rng.normal(size=n_samples)
    return X, y


def test_rounding_variances_known_answers():
    Z = np.column_stack(
        [
            np.tile([0.0, 0.5, 2.0, np.nan], 25),  # a grid with a 0.5 step, NaN left out
            np.tile([0.0, 1.0], 50),  # an indicator: two values, no grid
            np.arange(100.0) * 0.1,  # 100 levels 0.1 apart
            np.full(100, 7.0),  # constant
        ]
    )
    floors = resolution.rounding_variances(resolution.column_levels(Z))
    np.testing.assert_allclose(floors, [0.5**2 / 12, 0.0, 0.1**2 / 12, 0.0], rtol=1e-9)


def test_more_levels_than_the_cap_is_a_measurement():
    Z = np.arange(resolution.MAX_LEVELS + 1.0)[:, None]
    assert resolution.column_levels(Z) == [None]
    assert resolution.rounding_variances([None]) == 0.0
    assert resolution.column_levels(Z[:-1])[0] is not None


def test_rows_of_zero_weight_do_not_count():
    Z = np.array([[0.0], [1.0], [2.0], [2.5]])
    levels = resolution.column_levels(Z, weights=np.array([1.0, 1.0, 1.0, 0.0]))
    assert resolution.rounding_variances(levels)[0] == pytest.approx(1 / 12)


def test_levels_merge_and_pack_as_one_pass_over_the_rows():
    rng = np.random.RandomState(0)
    Z = np.column_stack(
        [
            rng.randint(5, size=300).astype(float),
            rng.randint(200, size=300).astype(float),
            rng.normal(size=300),
        ]
    )
    Z[rng.uniform(size=Z.shape) < 0.1] = np.nan
    parts = [resolution.column_levels(Z[start : start + 60]) for start in range(0, 300, 60)]
    shipped = [resolution.unpack_levels(resolution.pack_levels(part), 3) for part in parts]
    merged, whole = resolution.merge_levels(shipped), resolution.column_levels(Z)
    for got, expected in zip(merged, whole):
        if expected is None:
            assert got is None
        else:
            np.testing.assert_array_equal(got, expected)


@pytest.mark.parametrize("estimator", [GMJE(8, random_state=0), BayesianGMJE(random_state=0)])
def test_no_component_is_narrower_than_a_coded_columns_rounding(estimator):
    X, y = _coded()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = estimator.fit(X, y)
    floor = 2.0**2 / 12
    assert model.reg_covar_[1] == pytest.approx(floor)
    # The measured columns keep the relative jitter.
    variances = np.var(np.column_stack([X, y]), axis=0)
    np.testing.assert_allclose(model.reg_covar_[[0, 2]], model.reg_covar * variances[[0, 2]])
    assert np.all(model.covariances_[:, 1, 1] >= floor * (1 - 1e-9))


def test_the_floor_follows_the_units_of_its_column():
    X, y = _coded()
    model = GMJE(4, random_state=0).fit(X, y)
    scaled = X.copy()
    scaled[:, 1] = 100.0 * scaled[:, 1] - 5.0
    rescaled = GMJE(4, random_state=0).fit(scaled, y)
    assert rescaled.reg_covar_[1] == pytest.approx(100.0**2 * model.reg_covar_[1])
    np.testing.assert_allclose(rescaled.score_samples(scaled, y), model.score_samples(X, y))


def test_partial_fit_floors_from_its_first_batch_as_fit_does():
    X, y = _coded()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        fitted = GMJE(4, max_iter=1, random_state=0).fit(X, y)
    streamed = GMJE(4, random_state=0).partial_fit(X, y)
    np.testing.assert_allclose(streamed.reg_covar_, fitted.reg_covar_, rtol=1e-12)


def test_the_floor_keeps_a_coded_context_from_rewarding_its_training_levels(monkeypatch):
    """Without the floor components collapse onto the levels and a row between two of
    them is deemed all but impossible; with it, it keeps an ordinary log-density."""
    X, y = _coded(n_samples=2000)
    between = np.array([[0.0, 4.0], [0.0, 6.0]])  # levels are 3, 5, 7, 9: 4 and 6 are gaps
    floored = GMJE(8, random_state=0).fit(X, y)
    monkeypatch.setattr(resolution, "rounding_variances", lambda levels: np.zeros(len(levels)))
    collapsed = GMJE(8, random_state=0).fit(X, y)
    assert np.all(collapsed.score_samples_context(between) < -100.0)
    assert np.all(floored.score_samples_context(between) > -10.0)
