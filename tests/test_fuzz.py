"""A fuzzer over the public API: every outcome is a well-shaped finite answer or a clear error.

Random shapes (1-50 rows, 1-5 features, 1-3 targets), dtypes (float32/64, int, bool,
numeric object arrays), containers (lists, pandas) and hostile values (NaN, +-inf,
+-1e300, subnormals, constant columns, duplicated rows, more components than distinct
rows) go through ``fit`` and then every public method of every estimator. Each call
must either return arrays of the documented shape with finite values, or raise a
``ValueError``/``TypeError`` with a message; anything else (``LinAlgError``,
``IndexError``, ``ZeroDivisionError``, a NaN in the output) fails.

The fuzzer can fail the other way too: well-formed problems (continuous float64 arrays
or pandas frames, enough rows) must fit and predict, and a share of the hostile ones
must fit, so a change that made ``fit`` reject valid input fails it
(``test_the_fuzzer_fails_when_fit_rejects_valid_input`` checks that it does).

The default run replays the examples of the derandomised ``replay`` profile
(``tests/conftest.py``): the same examples on every machine, every run. New examples are
explored by ``python -m pytest -m slow tests/test_fuzz.py --hypothesis-profile=fuzz``,
which CI runs with a bounded budget.
"""

import warnings

import numpy as np
import pandas as pd
import pytest
from _roster import embedding, estimators
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sklearn.base import clone

from skgmje import GJE, GMJEMDN
from skgmje.baselines import ResidualGaussianRegressor

ESTIMATORS = estimators()
HOSTILE = [np.nan, np.inf, -np.inf, 1e300, -1e300, 5e-324, -5e-324]
KINDS = [
    "float64",
    "float32",
    "int",
    "bool",
    "object",
    "list",
    "pandas",
    "constant",
    "duplicated",
    "hostile",
]


@st.composite
def problems(draw):
    n_rows, n_features = draw(st.integers(1, 50)), draw(st.integers(1, 5))
    n_targets = draw(st.integers(1, 3))
    values = st.floats(-1e3, 1e3, allow_nan=False)
    X = np.array(draw(st.lists(values, min_size=n_rows * n_features, max_size=n_rows * n_features)))
    X = X.reshape(n_rows, n_features)
    Y = np.array(draw(st.lists(values, min_size=n_rows * n_targets, max_size=n_rows * n_targets)))
    Y = Y.reshape(n_rows, n_targets)
    kind = draw(st.sampled_from(KINDS))
    if kind == "constant":
        X[:, 0] = 7.0
    elif kind == "duplicated":
        X[:], Y[:] = X[0], Y[0]
    elif kind == "hostile":
        target = X if draw(st.booleans()) else Y
        target[draw(st.integers(0, n_rows - 1)), 0] = draw(st.sampled_from(HOSTILE))
    queries = np.array(draw(st.lists(values, min_size=3 * n_features, max_size=3 * n_features)))
    queries = queries.reshape(3, n_features)
    queries[draw(st.integers(0, 2)), draw(st.integers(0, n_features - 1))] = draw(
        st.sampled_from(HOSTILE + [0.5])
    )
    return kind, _container(kind, X), Y[:, 0] if n_targets == 1 else Y, queries


def _container(kind, X):
    if kind in ("float32", "int", "bool", "object"):
        return X.astype({"float32": np.float32, "int": int, "bool": bool, "object": object}[kind])
    if kind == "list":
        return X.tolist()
    if kind == "pandas":
        return pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])
    return X


def _clear(call):
    """The call's result, or None when it raised a ValueError/TypeError with a message."""
    try:
        return call()
    except (ValueError, TypeError) as error:
        assert str(error), f"{type(error).__name__} without a message"
        return None


def _assert_finite(result, shape):
    for array in result if isinstance(result, tuple) else (result,):
        array = np.asarray(array, dtype=float)
        assert array.shape[: len(shape)] == shape, (array.shape, shape)
        assert np.all(np.isfinite(array)), array


def _exercise(estimator, problem):
    """Fit and call every public method; True if ``fit`` succeeded, False if it raised
    a clear error."""
    kind, X, y, queries = problem
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = _clear(lambda: clone(estimator).fit(X, y))
        if model is None:
            return False
        _predict_everything(model, X, y, queries)
    return True


def _predict_everything(model, X, y, queries):
    n_rows = len(np.asarray(X))
    y_shape = np.shape(y)[1:]
    for contexts, targets in ((X, y), (queries, np.zeros((3,) + y_shape))):
        rows = len(np.asarray(contexts))
        result = _clear(lambda c=contexts: model.predict(c, return_std=True))
        if result is not None:
            _assert_finite(result, (rows,) + y_shape)
        for method in (model.score_samples, model.predict_density):
            result = _clear(lambda m=method, c=contexts, t=targets: m(c, t))
            if result is not None:
                _assert_finite(result, (rows,))
        result = _clear(lambda c=contexts, t=targets: model.score(c, t))
        if result is not None:
            assert np.isfinite(result)
        result = _clear(lambda c=contexts: model.sample(c, n_samples=2, random_state=0))
        if result is not None:
            _assert_finite(result, (rows, 2) + y_shape)
    X_new, y_new = model.sample(n_samples=4, random_state=0)
    _assert_finite(X_new, (4, np.shape(np.asarray(X, dtype=object))[1]))
    _assert_finite(y_new, (4,) + y_shape)
    assert n_rows >= 1


# Examples per estimator in the default (replayed) run; the fuzz profile sets its own.
REPLAYED_EXAMPLES = 60
# At least this share of the hostile problems must fit (every estimator of the roster fits
# well over it in the replayed run): a fuzzer whose every fit raised a clear error would test
# nothing.
MIN_FIT_SHARE = 0.25


def _fuzz(estimator, max_examples=None):
    """Run the hostile problems through ``estimator``; the share of them that fitted."""
    fitted = []
    options = {} if max_examples is None else {"max_examples": max_examples}

    @settings(deadline=None, suppress_health_check=list(HealthCheck), **options)
    @given(problem=problems())
    def run(problem):
        fitted.append(_exercise(estimator, problem))

    run()
    return np.mean(fitted)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_public_methods_survive_hostile_input(estimator):
    assert _fuzz(estimator, REPLAYED_EXAMPLES) >= MIN_FIT_SHARE


@pytest.mark.slow
@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_public_methods_survive_hostile_input_long(estimator):
    """As many examples as the profile asks (``--hypothesis-profile=fuzz``)."""
    assert _fuzz(estimator) >= MIN_FIT_SHARE


@st.composite
def well_formed_problems(draw):
    """Continuous data a user would expect any estimator to fit: float64 arrays or
    pandas frames, 30-60 rows, 1-4 features, 1-2 targets, no hostile values."""
    n_rows, n_features = draw(st.integers(30, 60)), draw(st.integers(1, 4))
    n_targets = draw(st.integers(1, 2))
    rng = np.random.RandomState(draw(st.integers(0, 2**32 - 1)))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e3]))
    X = scale * rng.normal(size=(n_rows, n_features))
    Y = X[:, :1] ** 2 - X[:, -1:] + scale * rng.normal(size=(n_rows, n_targets))
    kind = draw(st.sampled_from(["float64", "pandas"]))
    queries = scale * rng.normal(size=(3, n_features))
    return kind, _container(kind, X), Y[:, 0] if n_targets == 1 else Y, queries


def _fits_well_formed(estimator, max_examples):
    @settings(max_examples=max_examples, deadline=None, suppress_health_check=list(HealthCheck))
    @given(problem=well_formed_problems())
    def run(problem):
        kind, X, y, queries = problem
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = clone(estimator).fit(X, y)  # no error of any kind is acceptable here
            _predict_everything(model, X, y, queries)
            assert np.isfinite(model.score(X, y))

    run()


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_well_formed_input_fits_and_predicts(estimator):
    _fits_well_formed(estimator, max_examples=10)


def test_the_fuzzer_fails_when_fit_rejects_valid_input(monkeypatch):
    """Break ``fit`` on purpose: both checks of the fuzzer must notice."""

    def reject(self, X, y, sample_weight=None):
        raise ValueError("rejected on purpose")

    monkeypatch.setattr(GJE, "fit", reject)
    with pytest.raises(ValueError, match="rejected on purpose"):
        _fits_well_formed(GJE(), max_examples=3)
    assert _fuzz(GJE(), max_examples=10) == 0.0 < MIN_FIT_SHARE


@settings(max_examples=15, deadline=None, suppress_health_check=list(HealthCheck))
@given(problem=problems())
def test_joint_embedding_survives_hostile_input(problem):
    kind, X, _, queries = problem
    model = embedding()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fitted = _clear(lambda: model.fit(X))
    if fitted is None:
        return
    for contexts in (X, queries):
        result = _clear(lambda contexts=contexts: fitted.transform(contexts))
        if result is not None:
            _assert_finite(result, (len(np.asarray(contexts)), 2))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_huge_queries_raise_instead_of_returning_nan(estimator):
    """Regression (found by the fuzzer): a context of 1e300 made -inf/NaN log-densities."""
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(40, 2)), rng.normal(size=40)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clone(estimator).fit(X, y)
    for call in (
        lambda: model.predict([[1e300, 0.0]]),
        lambda: model.score_samples([[0.0, 0.0]], [-1e300]),
        lambda: model.sample([[0.0, 1e300]], random_state=0),
    ):
        with pytest.raises(ValueError, match="magnitude"):
            call()
    with pytest.raises(ValueError, match="magnitude"):
        clone(estimator).fit(np.vstack([X, [[1e300, 0.0]]]), np.append(y, 0.0))


def test_a_regressor_extrapolating_to_overflow_raises():
    """Regression (found by the slow fuzzer): a linear fit on one context of 6e-297 gave a
    coefficient of 2e296 and a log-density of -inf at x = 0.5."""
    X = np.zeros((12, 5))
    X[0, 0] = 5.86278195e-297
    y = np.random.RandomState(0).normal(size=12)
    model = ResidualGaussianRegressor().fit(X, y)
    assert np.all(np.isfinite(model.score_samples(X, y)))
    with pytest.raises(ValueError, match="regressor's prediction"):
        model.score_samples([[0.5, 0.0, 0.0, 0.0, 0.0]], [0.0])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
@pytest.mark.parametrize("n_targets", [1, 2])
def test_a_constant_column_that_rounds_keeps_densities_finite(estimator, n_targets):
    """Regression (found by the fuzzer on a user's run): duplicated rows with a target of 0.1
    have a computed variance of ~1e-34, not 0; a jitter relative to it (1e-43) made the
    residual covariance of ResidualGaussianRegressor not positive definite."""
    X, Y = np.zeros((12, 2)), np.full((12, n_targets), 0.1)
    y = Y[:, 0] if n_targets == 1 else Y
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = clone(estimator).fit(X, y)
    log_densities = model.score_samples(X, y)
    assert np.all(np.isfinite(log_densities))
    if not isinstance(model, GMJEMDN):  # two epochs of a network are far from the fitted value
        assert np.all(log_densities > 0)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_a_column_of_almost_no_spread_gives_an_answer_or_a_clear_error(estimator):
    """Regression (found by CI's fuzz profile): a context column spread over 1e-150 made
    every other value of it infinitely far from SMCGMJE's particles, and p(x) = 0 gave NaN
    predictions for the query x = 11."""
    X = np.zeros((3, 5))
    X[2] = [1.35021474e-150, 0.0, 0.0, 1.0, 1.0]
    queries = np.zeros((3, 5))
    queries[0, 0], queries[1, 0] = 5e-324, 11.0
    _exercise(estimator, ("float64", X, np.zeros((3, 2)), queries))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_joint_draws_stay_finite_for_columns_of_tiny_spread(estimator):
    """Regression (found by the fuzz profile): GMJEMDN's model of p(x) added an absolute
    reg_covar to raw columns spread over 1e-97, so its draws sat ~1e94 standard
    deviations out and the network returned NaN covariances for them."""
    X = np.zeros((17, 2))
    X[16] = [1.44619644e-097, 3.14296840e-126]
    queries = np.zeros((3, 2))
    queries[0, 0] = np.nan
    _exercise(estimator, ("float64", X, np.zeros(17), queries))
