"""skgmje.conformal: split-conformal sets keep their coverage guarantee for every estimator."""

import numpy as np
import pytest
from _roster import estimators
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmje import GJE, GMJE
from skgmje.conformal import SplitConformal, _conformal_level
from skgmje.datasets import make_intersecting_branches, make_moving_ring


@pytest.fixture(scope="module")
def branches():
    X, y = make_intersecting_branches(n_samples=1600, random_state=0)
    return X[:400], y[:400], X[400:], y[400:]


@pytest.mark.parametrize("method", ["hdr", "cdf"])
@pytest.mark.parametrize("estimator", estimators(), ids=lambda e: type(e).__name__)
def test_mean_coverage_over_random_splits_is_the_guaranteed_one(estimator, method, branches):
    X_fit, y_fit, X_pool, y_pool = branches
    model = clone(estimator).fit(X_fit, y_fit)
    scores = (
        SplitConformal(model, method=method, prefit=True).fit(X_pool, y_pool).conformity_scores_
    )
    rng = np.random.RandomState(0)
    for coverage in (0.8, 0.9):
        observed = []
        for _ in range(200):
            order = rng.permutation(len(scores))
            calibration, test = order[:600], order[600:]
            level = _conformal_level(scores[calibration], None, coverage)
            observed.append(np.mean(scores[test] <= level))
        # The guarantee is exact in expectation: coverage <= E <= coverage + 1 / 601.
        assert coverage - 0.005 <= np.mean(observed) <= coverage + 0.02


def test_sets_contain_what_contains_says_and_hdr_sets_are_shorter(branches):
    X_fit, y_fit, X_pool, y_pool = branches
    model = GMJE(n_components=8, random_state=0).fit(X_fit, y_fit)
    lengths = {}
    for method in ("hdr", "cdf"):
        conformal = SplitConformal(model, method=method, prefit=True, coverage=0.9)
        conformal.fit(X_pool[:600], y_pool[:600])
        sets = conformal.predict_set(X_pool[600:])
        inside = conformal.contains(X_pool[600:], y_pool[600:])
        np.testing.assert_array_equal(sets.contains(y_pool[600:]), inside)
        assert conformal.score(X_pool[600:], y_pool[600:]) == pytest.approx(inside.mean())
        lengths[method] = sets.length().mean()
    assert lengths["hdr"] < 0.7 * lengths["cdf"]


def test_fitting_splits_the_rows_and_takes_weights(branches):
    X_fit, y_fit, _, _ = branches
    weights = np.random.RandomState(0).randint(0, 3, size=len(y_fit)).astype(float)
    conformal = SplitConformal(GJE(), calibration_size=100, random_state=0)
    conformal.fit(X_fit, y_fit, sample_weight=weights)
    assert len(conformal.conformity_scores_) == 100
    assert conformal.estimator_.n_features_in_ == 1
    np.testing.assert_allclose(
        conformal.predict(X_fit[:3]), conformal.estimator_.predict(X_fit[:3])
    )


def test_too_few_calibration_rows_give_the_whole_line(branches):
    X_fit, y_fit, X_pool, y_pool = branches
    model = GJE().fit(X_fit, y_fit)
    conformal = SplitConformal(model, prefit=True, coverage=0.9).fit(X_pool[:5], y_pool[:5])
    assert conformal.level_ == 1.0
    sets = conformal.predict_set(X_pool[:3])
    assert np.all(np.isinf(sets.lower)) and np.all(sets.contains(y_pool[:3]))


def test_bad_settings_are_named(branches):
    X_fit, y_fit, _, _ = branches
    with pytest.raises(ValueError, match="coverage"):
        SplitConformal(coverage=1.0).fit(X_fit, y_fit)
    with pytest.raises(ValueError, match="method"):
        SplitConformal(method="jackknife").fit(X_fit, y_fit)
    X, Y = make_moving_ring(n_samples=100, random_state=0)
    with pytest.raises(ValueError, match="one target"):
        SplitConformal(GJE()).fit(X, Y)


@parametrize_with_checks(
    [SplitConformal(GJE(), random_state=0)],
    expected_failed_checks=lambda estimator: {
        "check_sample_weight_equivalence_on_dense_data": (
            "the rows are split at random before fitting, so repeated rows and weights "
            "land in other parts; frequency weights are tested in test_conformal.py"
        ),
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def test_integer_weights_calibrate_as_repeated_rows():
    rng = np.random.RandomState(0)
    scores, counts = rng.uniform(size=50), rng.randint(0, 4, size=50)
    for coverage in (0.5, 0.8, 0.9):
        weighted = _conformal_level(scores, counts.astype(float), coverage)
        repeated = _conformal_level(np.repeat(scores, counts), None, coverage)
        assert weighted == repeated


def test_missing_contexts_are_the_estimators_and_missing_targets_are_refused():
    X, y = make_intersecting_branches(n_samples=600, random_state=0)
    X_holes = X.copy()
    X_holes[::7, 0] = np.nan
    conformal = SplitConformal(GJE(), random_state=0).fit(X_holes, y)
    assert conformal.contains(X_holes[:20], y[:20]).shape == (20,)
    y_holes = y.copy()
    y_holes[::5] = np.nan
    with pytest.raises(ValueError, match="missing targets"):
        SplitConformal(GJE(), random_state=0).fit(X, y_holes)
