"""skgmje.skpro: skgmje estimators as skpro regressors, their distributions exact."""

import importlib
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from scipy import stats

pytest.importorskip("skpro")

from skpro.distributions.normal import Normal  # noqa: E402
from skpro.metrics import CRPS  # noqa: E402
from skpro.utils.estimator_checks import check_estimator  # noqa: E402

from skgmje import GJE, GMJE, DualGJE, metrics  # noqa: E402
from skgmje.datasets import make_intersecting_branches  # noqa: E402
from skgmje.skpro import GaussianMixture, SkproRegressor  # noqa: E402


@pytest.fixture(scope="module")
def branches():
    """Dataset B (up to three branches per x) as frames with a non-default index."""
    X, y = make_intersecting_branches(n_samples=400, random_state=0)
    index = pd.RangeIndex(1000, 1400)
    noise = 0.1 * np.random.RandomState(1).normal(size=len(y))
    Y = pd.DataFrame({"y": y, "twice": 2 * y + noise}, index=index)
    return pd.DataFrame(X, columns=["x"], index=index), Y


@pytest.mark.parametrize("cls", [GaussianMixture, SkproRegressor])
def test_skpro_check_estimator_passes(cls):
    results = check_estimator(cls, raise_exceptions=True, verbose=False)
    assert results and set(results.values()) == {"PASSED"}


def test_one_component_is_a_normal():
    rng = np.random.RandomState(0)
    mu, sigma = rng.normal(size=(5, 2)), rng.uniform(0.5, 2.0, size=(5, 2))
    dist = GaussianMixture(weights=np.ones((5, 1)), means=mu[:, None, :], scales=sigma[:, None])
    normal = Normal(mu=mu, sigma=sigma)
    x, p = rng.normal(size=(5, 2)), rng.uniform(size=(5, 2))
    np.testing.assert_allclose(dist.pdf(x), stats.norm.pdf(x, mu, sigma), rtol=1e-12)
    np.testing.assert_allclose(dist.log_pdf(x), stats.norm.logpdf(x, mu, sigma), rtol=1e-12)
    np.testing.assert_allclose(dist.cdf(x), stats.norm.cdf(x, mu, sigma), rtol=1e-12)
    np.testing.assert_allclose(dist.ppf(p), stats.norm.ppf(p, mu, sigma), rtol=1e-10)
    np.testing.assert_allclose(dist.mean(), mu, rtol=1e-14)
    np.testing.assert_allclose(dist.var(), sigma**2, rtol=1e-14)
    # skpro's Normal has the closed-form energies too.
    np.testing.assert_allclose(dist.energy(), normal.energy(), rtol=1e-12)
    np.testing.assert_allclose(dist.energy(x), normal.energy(x), rtol=1e-12)


@pytest.mark.parametrize(
    "estimator", [GMJE(n_components=6, random_state=0), DualGJE()], ids=["shared", "per_row"]
)
def test_the_distribution_is_skgmjes_marginals(branches, estimator):
    X, Y = branches
    model = SkproRegressor(estimator).fit(X, Y)
    dist = model.predict_proba(X)
    exact = model.estimator_.predict_distribution(X.to_numpy())
    assert dist.shape == Y.shape
    assert (dist.index == X.index).all() and (dist.columns == Y.columns).all()
    levels = np.random.RandomState(0).uniform(size=Y.shape)
    np.testing.assert_allclose(dist.mean(), exact.mean(), rtol=1e-12)
    np.testing.assert_allclose(
        dist.var(), np.diagonal(exact.covariance(), axis1=1, axis2=2), rtol=1e-12
    )
    for j, column in enumerate(Y.columns):
        marginal = exact.marginal(j)
        y = Y[column].to_numpy()
        np.testing.assert_allclose(dist.pdf(Y)[column], marginal.pdf(y), rtol=1e-12)
        np.testing.assert_allclose(dist.log_pdf(Y)[column], marginal.log_prob(y), rtol=1e-12)
        np.testing.assert_allclose(dist.cdf(Y)[column], marginal.cdf(y), rtol=1e-12, atol=1e-15)
        quantiles = [marginal[i].ppf(levels[i, j]) for i in range(0, len(y), 50)]
        np.testing.assert_allclose(dist.ppf(levels)[column].iloc[::50], np.ravel(quantiles))


def test_skpro_crps_is_skgmjes_closed_form(branches):
    X, Y = branches
    model = SkproRegressor(GMJE(n_components=6, random_state=0)).fit(X, Y)
    dist = model.predict_proba(X)
    exact = model.estimator_.predict_distribution(X.to_numpy())
    per_target = CRPS(multioutput="raw_values")(Y, dist)
    for j, column in enumerate(Y.columns):
        expected = metrics.crps(Y[column], exact.marginal(j))
        assert per_target[column].iloc[0] == pytest.approx(expected, rel=0, abs=1e-8)
    by_row = CRPS().evaluate_by_index(Y[["y"]], dist.loc[:, ["y"]])
    np.testing.assert_allclose(by_row.iloc[:, 0], exact.marginal(0).crps(Y["y"]), atol=1e-12)


def test_intervals_quantiles_and_variance_are_skgmjes(branches):
    X, Y = branches
    model = SkproRegressor(GMJE(n_components=6, random_state=0)).fit(X, Y)
    X_test, X_array = X.iloc[:20], X.iloc[:20].to_numpy()
    estimator = model.estimator_

    quantiles = model.predict_quantiles(X_test, alpha=[0.1, 0.5, 0.95])
    expected = estimator.predict_quantiles(X_array, [0.1, 0.5, 0.95])
    for j, column in enumerate(Y.columns):
        np.testing.assert_array_equal(quantiles[column], expected[:, :, j])

    intervals = model.predict_interval(X_test, coverage=[0.5, 0.9])
    for coverage in (0.5, 0.9):
        bounds = estimator.predict_interval(X_array, coverage)
        for j, column in enumerate(Y.columns):
            np.testing.assert_array_equal(intervals[column][coverage], bounds[:, :, j])

    mean, std = estimator.predict(X_array, return_std=True)
    np.testing.assert_array_equal(model.predict(X_test), mean)
    np.testing.assert_array_equal(model.predict_var(X_test), std**2)
    np.testing.assert_allclose(model.predict_var(X_test), model.predict_proba(X_test).var())


def test_one_target_and_no_estimator():
    X, y = make_intersecting_branches(n_samples=200, random_state=0)
    X, y = pd.DataFrame(X, columns=["x"]), pd.DataFrame({"y": y})
    model = SkproRegressor().fit(X, y)
    assert type(model.estimator_) is GMJE and model.estimator is None
    assert model.predict_quantiles(X, alpha=0.5).columns.tolist() == [("y", 0.5)]


def test_update_streams_when_the_estimator_does(branches):
    X, Y = branches
    assert SkproRegressor(GMJE()).get_tag("capability:update")
    assert not SkproRegressor(DualGJE()).get_tag("capability:update")
    model = SkproRegressor(GMJE(n_components=3, random_state=0)).fit(X.iloc[:200], Y.iloc[:200])
    before = model.estimator_.means_.copy()
    model.update(X.iloc[200:], Y.iloc[200:])
    assert not np.allclose(model.estimator_.means_, before)


def test_subsetting_keeps_each_entrys_mixture(branches):
    X, Y = branches
    for estimator in (GMJE(n_components=4, random_state=0), DualGJE()):
        dist = SkproRegressor(estimator).fit(X, Y).predict_proba(X)
        rows = [1003, 1001, 1100]
        part = dist.loc[rows, ["twice"]]
        assert part.shape == (3, 1) and (part.index == rows).all()
        np.testing.assert_allclose(part.mean()["twice"], dist.mean().loc[rows, "twice"])
        np.testing.assert_allclose(dist.iloc[[3, 1, 100], 1].cdf(0.5), part.cdf(0.5))
        scalar = dist.at[1001, "twice"]
        assert scalar.ndim == 0
        assert scalar.cdf(0.5) == pytest.approx(dist.cdf(0.5).loc[1001, "twice"])
        assert scalar.mean() == pytest.approx(dist.mean().loc[1001, "twice"])


def test_samples_follow_the_mixture():
    dist = GaussianMixture(
        weights=[[0.25, 0.75]] * 2, means=[[[-3.0], [3.0]]] * 2, scales=[[0.5], [0.5]]
    )
    # Like skpro's own distributions, it draws from NumPy's global generator.
    np.random.seed(0)  # noqa: NPY002
    draws = dist.sample(4000)
    np.random.seed(0)  # noqa: NPY002
    assert draws.equals(dist.sample(4000))
    assert draws.shape == (8000, 1)
    assert (draws.iloc[:, 0] > 0).mean() == pytest.approx(0.75, abs=0.02)

    def mixture_cdf(t):
        return 0.25 * stats.norm.cdf(t, -3.0, 0.5) + 0.75 * stats.norm.cdf(t, 3.0, 0.5)

    assert stats.kstest(draws.iloc[:, 0], mixture_cdf).pvalue > 0.01


@pytest.mark.parametrize(
    "arguments, message",
    [
        ({"weights": [[0.5, 0.6]], "means": [[[0.0], [1.0]]], "scales": [1.0, 1.0]}, "scales"),
        ({"weights": [[0.5, 0.6]], "means": [[[0.0], [1.0]]], "scales": [[1.0], [1.0]]}, "sum"),
        ({"weights": [[1.0]], "means": [[[0.0]]], "scales": [[0.0]]}, "positive"),
        ({"weights": [[1.0]], "means": [[0.0]], "scales": [[1.0]]}, "means"),
    ],
)
def test_invalid_mixtures_are_refused(arguments, message):
    with pytest.raises(ValueError, match=message):
        GaussianMixture(**arguments)


def test_in_a_pipeline_and_a_grid_search(branches):
    from sklearn.model_selection import KFold
    from sklearn.preprocessing import StandardScaler
    from skpro.model_selection import GridSearchCV
    from skpro.regression.compose import Pipeline

    X, Y = branches
    pipeline = Pipeline([("scale", StandardScaler()), ("model", SkproRegressor(GJE()))])
    interval = pipeline.fit(X, Y).predict_interval(X.iloc[:5], coverage=0.8)
    assert interval.shape == (5, 4)

    search = GridSearchCV(
        SkproRegressor(GMJE(random_state=0)),
        cv=KFold(n_splits=3),
        param_grid={"estimator__n_components": [1, 4]},
        scoring=CRPS(),
    )
    search.fit(X, Y[["y"]])
    # Up to three branches: four components score better than one Gaussian.
    assert search.best_params_ == {"estimator__n_components": 4}


def test_skgmje_does_not_import_skpro():
    code = "import sys, skgmje; assert 'skpro' not in sys.modules, 'skpro imported'"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_without_skpro_the_import_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "skpro", None)
    monkeypatch.delitem(sys.modules, "skgmje.skpro")
    with pytest.raises(
        ImportError, match=r'skgmje.skpro needs skpro.*pip install "skgmje\[skpro\]"'
    ):
        importlib.import_module("skgmje.skpro")
