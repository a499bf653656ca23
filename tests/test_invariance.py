"""Properties of every fitted estimator: units do not matter, and the contract's identities hold.

Every column has units of its own, so equivariance is tested one column at a time
(``X[:, j] -> s X[:, j] + c`` or ``y[:, j] -> s y[:, j] + c``) as well as for all columns
together. It is tested against a rounding control: ``s X + c`` is rounded to float64
before any model sees it, which at ``s = 1e-6, c = 1e6`` perturbs the data by about
1e-4 of its spread. Fitting on those rounded values mapped back to the original units,
``((s X + c) - c) / s``, shows what the rounding alone does; the model must add nothing
to it beyond ``-log s`` per rescaled target column. Without an offset the direct
comparison is tested too.
"""

import copy
import warnings

import numpy as np
import pytest
from _roster import ORDER_FREE_FIT, estimators
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from skgmje import GJE, GMJE, BayesianGMJE, DualGJE
from skgmje.baselines import ResidualGaussianRegressor
from skgmje.datasets import make_intersecting_branches

ESTIMATORS = estimators()
# The fits that do not depend on the order of the rows (GMJE and BayesianGMJE from a shared
# start; see ORDER_FREE_FIT in tests/_roster.py).
BATCH_FITS = estimators(ORDER_FREE_FIT)


def _data(n_targets, n_samples=300):
    X, y = make_intersecting_branches(n_samples=n_samples + 200, random_state=0)
    X = np.hstack([X, np.random.RandomState(2).normal(size=(len(X), 1))])
    if n_targets == 2:
        noise = np.random.RandomState(3).normal(scale=0.1, size=len(y))
        y = np.column_stack([y, X[:, 0] + 0.5 * y + 0.1 * X[:, 1] + noise])
    return X[:n_samples], y[:n_samples], X[n_samples:], y[n_samples:]


def _fitted(estimator, X, y):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few iterations or epochs, on purpose
        return clone(estimator).fit(X, y)


def _score(estimator, X, y, X_test, y_test):
    return _fitted(estimator, X, y).score(X_test, y_test)


def _change_units(data, column, scale, offset):
    """``data`` with ``column`` (an index into the joint ``[x, y]``; None: all) in new units."""
    X, y, X_test, y_test = (np.array(array, dtype=float) for array in data)
    n_context = X.shape[1]
    if column is None:
        return [scale * array + offset for array in (X, y, X_test, y_test)]
    for train, test in ((X, X_test), (y.reshape(len(y), -1), y_test.reshape(len(y_test), -1))):
        if column < train.shape[1]:
            for array in (train, test):
                array[:, column] = scale * array[:, column] + offset
            break
        column -= n_context
    return [X, y, X_test, y_test]


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=lambda estimator: repr(estimator))
@pytest.mark.parametrize("n_targets", [1, 2])
@settings(max_examples=6, deadline=None, derandomize=True)
@given(
    log_scale=st.floats(-6.0, 6.0),
    offset=st.sampled_from([0.0, 1e6, -3e5]),
    column=st.sampled_from([None, 0, 1, 2, 3]),
)
def test_scores_are_equivariant_under_units(estimator, n_targets, log_scale, offset, column):
    """Every column has units of its own: rescaling and shifting one column (or all of them)
    moves every log-density by ``-log s`` per rescaled target column, and by nothing for a
    context column."""
    scale = 10.0**log_scale
    data = _data(n_targets)
    column = None if column is None else column % (2 + n_targets)
    scaled = _change_units(data, column, scale, offset)
    rounded = _change_units(scaled, column, 1.0 / scale, -offset / scale)
    n_rescaled_targets = n_targets if column is None else int(column >= 2)
    shift = n_rescaled_targets * np.log(scale)
    in_new_units = _score(estimator, *scaled)
    assert in_new_units == pytest.approx(_score(estimator, *rounded) - shift, abs=1e-3)
    if offset == 0.0:
        assert in_new_units == pytest.approx(_score(estimator, *data) - shift, abs=0.01)


@pytest.mark.parametrize("estimator", BATCH_FITS, ids=repr)
@settings(max_examples=5, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16))
def test_row_order_does_not_change_a_batch_fit(estimator, seed):
    X, y, X_test, y_test = _data(1)
    order = np.random.RandomState(seed).permutation(len(X))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        first = clone(estimator).fit(X, y).score_samples(X_test, y_test)
        second = clone(estimator).fit(X[order], y[order]).score_samples(X_test, y_test)
    if isinstance(estimator, (GMJE, BayesianGMJE)):
        # The k-means start depends on row order; from one start, EM does not.
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            start = clone(estimator).set_params(max_iter=1, warm_start=True).fit(X, y)
            start.set_params(max_iter=50)
            first = copy.deepcopy(start).fit(X, y).score_samples(X_test, y_test)
            second = copy.deepcopy(start).fit(X[order], y[order]).score_samples(X_test, y_test)
    np.testing.assert_allclose(second, first, rtol=1e-7, atol=1e-7)


@pytest.mark.parametrize(
    "estimator",
    [
        GJE(),
        # The default out-of-fold residuals split the weighted rows and their repeats into
        # different folds, so they are compared with matched folds in test_baselines.py;
        # the in-sample residuals need no folds.
        ResidualGaussianRegressor(cv="in_sample"),
        DualGJE(optimizer=None),
        DualGJE(optimizer=None, n_fourier_features=32, random_state=0),
    ],
    ids=repr,
)
@settings(max_examples=5, deadline=None, derandomize=True)
@given(seed=st.integers(0, 2**16))
def test_duplicated_rows_equal_integer_weights(estimator, seed):
    X, y, X_test, y_test = _data(1, n_samples=120)
    counts = np.random.RandomState(seed).randint(0, 4, size=len(X))
    weighted = clone(estimator).fit(X, y, sample_weight=counts.astype(float))
    repeated = clone(estimator).fit(np.repeat(X, counts, 0), np.repeat(y, counts, 0))
    np.testing.assert_allclose(
        weighted.score_samples(X_test, y_test), repeated.score_samples(X_test, y_test), rtol=1e-8
    )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_contract_identities(estimator):
    X, y, X_test, y_test = _data(2)
    model = _fitted(estimator, X, y)
    log_density = model.score_samples(X_test, y_test)
    assert model.score(X_test, y_test) == pytest.approx(np.mean(log_density), rel=1e-12)
    np.testing.assert_allclose(model.predict_density(X_test, y_test), np.exp(log_density))
    mean, std = model.predict(X_test[:5], return_std=True)
    draws = model.sample(X_test[:5], n_samples=20000, random_state=0)
    np.testing.assert_allclose(draws.mean(axis=1), mean, atol=0.05 * std.max() + 1e-12)
    np.testing.assert_allclose(draws.std(axis=1), std, rtol=0.05)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_conditionals_integrate_to_one(estimator):
    X, y, X_test, _ = _data(1)
    model = _fitted(estimator, X, y)
    queries = X_test[:4]
    grid = np.linspace(y.min() - 6.0 * y.std(), y.max() + 6.0 * y.std(), 6001)
    density = model.predict_distribution(queries).pdf(np.repeat(grid[:, None], len(queries), 1))
    np.testing.assert_allclose(np.trapezoid(density, grid, axis=0), 1.0, atol=2e-3)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_two_dimensional_conditionals_integrate_to_one(estimator):
    X, y, X_test, _ = _data(2)
    model = _fitted(estimator, X, y)
    distribution = model.predict_distribution(X_test[:2])
    mean, std = model.predict(X_test[:2], return_std=True)
    for row in range(2):
        axes = [
            np.linspace(mean[row, j] - 8 * std[row, j], mean[row, j] + 8 * std[row, j], 401)
            for j in range(2)
        ]
        grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 2)
        density = distribution[row : row + 1].pdf(grid[:, None, :]).reshape(401, 401)
        total = np.trapezoid(np.trapezoid(density, axes[1], axis=1), axes[0])
        assert total == pytest.approx(1.0, abs=2e-3)
