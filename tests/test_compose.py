"""DensityPipeline: transformers in front of an estimator, every density method kept."""

import numpy as np
import pytest
from _roster import estimators
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import PolynomialFeatures, QuantileTransformer, StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmje import GJE, GMJE, GaussianMixtureDistribution
from skgmje.compose import DensityPipeline, make_density_pipeline
from skgmje.datasets import make_intersecting_branches

SCORE_SAMPLES_NEEDS_Y = (
    "score_samples is the conditional log-density log p(y|x) and needs y; order and "
    "subset invariance are tested with y in test_estimators.py"
)
FITS_ITS_STEPS = "a Pipeline fits the estimators in its steps in place, as scikit-learn's does"


@parametrize_with_checks(
    [DensityPipeline([("scale", StandardScaler()), ("gje", GJE())])],
    expected_failed_checks=lambda _: {
        "check_methods_sample_order_invariance": SCORE_SAMPLES_NEEDS_Y,
        "check_methods_subset_invariance": SCORE_SAMPLES_NEEDS_Y,
        "check_estimators_overwrite_params": FITS_ITS_STEPS,
        "check_dont_overwrite_parameters": FITS_ITS_STEPS,
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data(n_samples=400):
    X, y = make_intersecting_branches(n_samples=n_samples, random_state=0)
    # Contexts in awkward units, so that the scaler matters to the k-means start.
    return np.column_stack([1e3 * X[:, 0], np.random.RandomState(1).normal(size=len(X))]), y


def test_every_method_equals_the_estimator_on_transformed_contexts():
    X, y = _data()
    pipe = make_density_pipeline(StandardScaler(), GMJE(n_components=4, random_state=0)).fit(X, y)
    scaler = StandardScaler().fit(X)
    alone = GMJE(n_components=4, random_state=0).fit(scaler.transform(X), y)
    Xt = scaler.transform(X)
    np.testing.assert_array_equal(pipe.score_samples(X, y), alone.score_samples(Xt, y))
    np.testing.assert_array_equal(pipe.predict_density(X, y), alone.predict_density(Xt, y))
    np.testing.assert_array_equal(pipe.predict(X), alone.predict(Xt))
    np.testing.assert_array_equal(
        pipe.predict(X, return_std=True)[1], alone.predict(Xt, return_std=True)[1]
    )
    assert pipe.score(X, y) == alone.score(Xt, y)
    distribution = pipe.predict_distribution(X[:5])
    assert isinstance(distribution, GaussianMixtureDistribution)
    np.testing.assert_array_equal(distribution.means, alone.predict_distribution(Xt[:5]).means)
    np.testing.assert_array_equal(
        pipe.sample(X[:5], n_samples=3, random_state=0),
        alone.sample(Xt[:5], n_samples=3, random_state=0),
    )


@pytest.mark.parametrize("estimator", estimators(), ids=repr)
def test_every_estimator_behind_a_scaler_is_itself_on_the_scaled_contexts(estimator):
    X, y = _data(200)
    pipe = make_density_pipeline(StandardScaler(), clone(estimator)).fit(X, y)
    Xt = StandardScaler().fit_transform(X)
    alone = clone(estimator).fit(Xt, y)
    np.testing.assert_allclose(pipe.score_samples(X, y), alone.score_samples(Xt, y), rtol=1e-12)
    np.testing.assert_allclose(pipe.predict(X[:5]), alone.predict(Xt[:5]), rtol=1e-12)
    np.testing.assert_allclose(
        pipe.sample(X[:5], n_samples=3, random_state=0),
        alone.sample(Xt[:5], n_samples=3, random_state=0),
        rtol=1e-12,
    )


def test_joint_samples_come_back_in_the_units_of_x():
    X, y = _data(2000)
    pipe = make_density_pipeline(StandardScaler(), GMJE(n_components=8, random_state=0)).fit(X, y)
    X_new, y_new = pipe.sample(n_samples=4000, random_state=0)
    assert X_new.shape == (4000, 2) and y_new.shape == (4000,)
    assert np.all(np.abs(X_new.mean(axis=0) - X.mean(axis=0)) < 0.05 * X.std(axis=0))
    np.testing.assert_allclose(X_new.std(axis=0), X.std(axis=0), rtol=0.05)


def test_joint_samples_need_an_inverse_transform():
    X, y = _data()
    pipe = make_density_pipeline(PolynomialFeatures(2), GJE()).fit(X, y)
    with pytest.raises(AttributeError, match="PolynomialFeatures has no inverse_transform"):
        pipe.sample(n_samples=3)
    assert pipe.sample(X[:2], n_samples=3, random_state=0).shape == (2, 3)


def test_passthrough_steps_and_a_lone_estimator():
    X, y = _data()
    lone = DensityPipeline([("gje", GJE())]).fit(X, y)
    np.testing.assert_array_equal(lone.score_samples(X, y), GJE().fit(X, y).score_samples(X, y))
    with_passthrough = DensityPipeline([("skip", "passthrough"), ("gje", GJE())]).fit(X, y)
    assert with_passthrough.sample(n_samples=2, random_state=0)[0].shape == (2, 2)


def test_grid_search_over_transformer_and_estimator_keeps_the_density():
    X, y = _data()
    pipe = make_density_pipeline(StandardScaler(), GMJE(random_state=0))
    grid = {
        "standardscaler": [StandardScaler(), QuantileTransformer(n_quantiles=50)],
        "gmje__n_components": [1, 4, 8],
    }
    search = GridSearchCV(pipe, grid, cv=3).fit(X, y)
    assert search.best_params_["gmje__n_components"] > 1
    best = search.best_estimator_
    assert isinstance(best, DensityPipeline)
    assert search.score(X, y) == pytest.approx(best.score_samples(X, y).mean())
    assert best.sample(X[:3], n_samples=2, random_state=0).shape == (3, 2)


def test_a_plain_pipeline_loses_what_density_pipeline_keeps():
    """Why DensityPipeline exists: the same steps in scikit-learn's Pipeline."""
    X, y = _data()
    plain = make_pipeline(StandardScaler(), GJE()).fit(X, y)
    with pytest.raises(TypeError):
        plain.score_samples(X, y)
    assert not hasattr(plain, "sample") and not hasattr(plain, "predict_density")
    assert isinstance(make_density_pipeline(StandardScaler(), GJE()), Pipeline)
