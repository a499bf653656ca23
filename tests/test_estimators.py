"""The estimator contract, for every estimator: scikit-learn checks, shapes, errors."""

import pickle

import numpy as np
import pytest
from _roster import STREAMING, estimators, missing_from_roster
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

import skgmje
from skgmje import GJE, GMJE, BayesianGMJE, GaussianMixtureDistribution
from skgmje.baselines import ResidualGaussianRegressor
from skgmje.datasets import make_intersecting_branches, make_separated_branches

SCORE_SAMPLES_NEEDS_Y = (
    "score_samples is the conditional log-density log p(y|x) and needs y; "
    "order and subset invariance are tested with y in test_estimators.py"
)
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": SCORE_SAMPLES_NEEDS_Y,
    "check_methods_subset_invariance": SCORE_SAMPLES_NEEDS_Y,
}

LOCAL_OPTIMUM = (
    "with K >= 2 the EM optimum depends on the k-means start, which differs between weighted "
    "and repeated rows; weighted EM statistics are equivalence-tested in test_gmje.py and "
    "test_bayesian_gmje.py"
)


PREDICTS_WITH_MISSING_CONTEXTS = (
    "predict conditions a row with NaN contexts on its observed ones (tested in "
    "test_missing.py), while fit takes complete rows only, a combination the check has no tag for"
)


def _expected_failed_checks(estimator):
    expected = dict(EXPECTED_FAILED_CHECKS)
    n_components = estimator.get_params().get("n_components")
    if isinstance(n_components, int) and n_components > 1:
        expected["check_sample_weight_equivalence_on_dense_data"] = LOCAL_OPTIMUM
    if estimator._missing_contexts and not estimator._missing_training_values:
        expected["check_estimators_nan_inf"] = PREDICTS_WITH_MISSING_CONTEXTS
    return expected


# Every configuration of the roster (tests/_roster.py), its variants included.
ESTIMATORS = estimators(variants=True)


def test_every_public_estimator_is_on_the_roster():
    """A public estimator without a configuration on the roster would be left out of every
    suite that tests all of them; add one to tests/_roster.py."""
    assert missing_from_roster() == []


def test_a_forgotten_estimator_fails_the_roster_check(monkeypatch):
    class Forgotten(GJE):
        pass

    monkeypatch.setattr(skgmje, "Forgotten", Forgotten, raising=False)
    monkeypatch.setattr(skgmje, "__all__", [*skgmje.__all__, "Forgotten"])
    assert missing_from_roster() == ["Forgotten"]


def test_the_streaming_tag_marks_exactly_the_estimators_with_partial_fit():
    streaming = {repr(estimator) for estimator in estimators(STREAMING, variants=True)}
    assert streaming == {
        repr(estimator) for estimator in ESTIMATORS if hasattr(estimator, "partial_fit")
    }


@parametrize_with_checks(
    [
        GJE(),
        GMJE(),
        GMJE(n_components=2, random_state=0),
        BayesianGMJE(n_components=1),
        BayesianGMJE(n_components=3, random_state=0),
        ResidualGaussianRegressor(),
    ],
    expected_failed_checks=_expected_failed_checks,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data(n_samples=300, n_targets=1, random_state=0):
    X, y = make_separated_branches(n_samples=n_samples, random_state=random_state)
    X = np.hstack([X, np.random.RandomState(random_state).normal(size=(n_samples, 1))])
    if n_targets == 2:
        y = np.column_stack([y, 0.5 * y + X[:, 1]])
    return X, y


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
@pytest.mark.parametrize("n_targets", [1, 2])
def test_output_shapes_follow_training_targets(estimator, n_targets):
    X, y = _data(n_targets=n_targets)
    model = clone(estimator).fit(X, y)
    target_shape = (5,) if n_targets == 1 else (5, 2)
    assert model.predict(X[:5]).shape == target_shape
    mean, std = model.predict(X[:5], return_std=True)
    assert mean.shape == std.shape == target_shape and np.all(std > 0)
    assert model.score_samples(X[:5], y[:5]).shape == (5,)
    np.testing.assert_allclose(
        model.predict_density(X[:5], y[:5]), np.exp(model.score_samples(X[:5], y[:5]))
    )
    assert model.sample(X[:5], n_samples=7, random_state=0).shape == (5, 7) + target_shape[1:]
    X_new, y_new = model.sample(n_samples=11, random_state=0)
    assert X_new.shape == (11, 2) and y_new.shape == (11,) + target_shape[1:]
    distribution = model.predict_distribution(X[:5])
    assert isinstance(distribution, GaussianMixtureDistribution) and len(distribution) == 5
    assert distribution.n_targets == n_targets


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_predictions_invariant_to_row_order_and_subsets(estimator):
    X, y = _data()
    model = clone(estimator).fit(X, y)
    order = np.random.RandomState(1).permutation(len(X))
    np.testing.assert_allclose(model.predict(X)[order], model.predict(X[order]), atol=1e-9)
    np.testing.assert_allclose(
        model.score_samples(X, y)[order], model.score_samples(X[order], y[order]), atol=1e-9
    )
    np.testing.assert_allclose(
        model.score_samples(X, y)[50:80], model.score_samples(X[50:80], y[50:80]), atol=1e-9
    )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_score_is_mean_conditional_log_likelihood(estimator):
    X, y = _data()
    model = clone(estimator).fit(X, y)
    log_density = model.score_samples(X, y)
    assert model.score(X, y) == pytest.approx(np.mean(log_density))
    weights = np.linspace(0.0, 1.0, len(X))
    assert model.score(X, y, sample_weight=weights) == pytest.approx(
        np.average(log_density, weights=weights)
    )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_sampling_is_reproducible_and_pickle_round_trips(estimator):
    X, y = _data()
    model = clone(estimator).fit(X, y)
    np.testing.assert_array_equal(
        model.sample(X[:3], n_samples=4, random_state=5),
        model.sample(X[:3], n_samples=4, random_state=5),
    )
    restored = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(restored.score_samples(X, y), model.score_samples(X, y))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_float32_inputs_give_float64_answers_close_to_float64_fit(estimator):
    X, y = _data()
    model64 = clone(estimator).fit(X, y)
    model32 = clone(estimator).fit(X.astype(np.float32), y.astype(np.float32))
    scores32 = model32.score_samples(X.astype(np.float32), y.astype(np.float32))
    assert scores32.dtype == np.float64
    np.testing.assert_allclose(scores32, model64.score_samples(X, y), rtol=1e-3, atol=1e-3)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_bad_input_raises_value_error_naming_the_problem(estimator):
    X, y = _data()
    model = clone(estimator)
    nan_X = np.where(np.arange(X.size).reshape(X.shape) == 3, np.nan, X)
    with pytest.raises(ValueError, match="infinity"):
        clone(model).fit(np.where(np.isnan(nan_X), np.inf, X), y)
    bad_y = y.copy()
    bad_y[7] = np.nan
    if model._missing_training_values:
        # A missing entry is data to these (test_missing.py).
        clone(model).fit(nan_X, bad_y)
    else:
        with pytest.raises(ValueError, match="missing values"):
            clone(model).fit(nan_X, y)
        with pytest.raises(ValueError, match="missing values"):
            clone(model).fit(X, bad_y)
    with pytest.raises(ValueError, match="sample"):
        clone(model).fit(X[:1], y[:1])
    X_before, y_before = X.copy(), y.copy()
    model.fit(X, y)
    np.testing.assert_array_equal(X, X_before)
    np.testing.assert_array_equal(y, y_before)
    with pytest.raises(ValueError, match="features"):
        model.predict(X[:, :1])
    with pytest.raises(ValueError, match="targets"):
        model.score_samples(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="rows"):
        model.score_samples(X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        model.score_samples(X, bad_y)
    with pytest.raises(ValueError, match="n_samples"):
        model.sample(X[:2], n_samples=0)


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_methods_before_fit_raise_not_fitted(estimator):
    X, y = _data(n_samples=10)
    model = clone(estimator)
    for call in [
        lambda: model.predict(X),
        lambda: model.predict_distribution(X),
        lambda: model.score_samples(X, y),
        lambda: model.score(X, y),
        lambda: model.sample(X),
        lambda: model.sample(n_samples=3),
    ]:
        with pytest.raises(NotFittedError):
            call()


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_a_failed_refit_leaves_the_previous_model(estimator):
    X, y = make_separated_branches(n_samples=300, random_state=0)
    model = clone(estimator).fit(X, y)
    before = model.score_samples(X, y)
    bad = np.hstack([X, X])
    bad[0, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.fit(bad, np.column_stack([y, y]))
    assert model.n_features_in_ == 1 and model.n_targets_ == 1
    np.testing.assert_array_equal(model.score_samples(X, y), before)


def test_grid_search_over_pipeline_picks_several_components_on_dataset_a():
    X, y = make_separated_branches(n_samples=2000, random_state=0)
    search = GridSearchCV(
        make_pipeline(StandardScaler(), GMJE(random_state=0)),
        {"gmje__n_components": [1, 2, 3, 8, 16]},
        cv=3,
    ).fit(X, y)
    assert search.best_params_["gmje__n_components"] >= 3
    scores = dict(
        zip(search.cv_results_["param_gmje__n_components"], search.cv_results_["mean_test_score"])
    )
    # The default scoring is the estimator's own score: the held-out mean log-likelihood.
    assert scores[1] < scores[3] < scores[16]
    assert search.best_score_ == pytest.approx(max(scores.values()))


def test_multimodal_models_beat_unimodal_ones_on_held_out_likelihood():
    X, y = make_intersecting_branches(n_samples=2000, random_state=0)
    X_test, y_test = make_intersecting_branches(n_samples=2000, random_state=1)
    gje = GJE().fit(X, y).score(X_test, y_test)
    baseline = ResidualGaussianRegressor().fit(X, y).score(X_test, y_test)
    gmje = GMJE(n_components=8, random_state=0).fit(X, y).score(X_test, y_test)
    assert gje == pytest.approx(baseline, abs=1e-3)  # both are least squares + residual variance
    assert gmje > gje + 1.0
