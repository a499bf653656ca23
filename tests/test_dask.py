"""GMJE on dask: distributed EM on a real LocalCluster, lazy prediction, out-of-core data."""

import copy
import os
import signal
import warnings

import numpy as np
import pytest
from _roster import DISTRIBUTED_FIT, estimators
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from skgmje import GJE, GMJE, BayesianGMJE
from skgmje._core import em
from skgmje.datasets import make_intersecting_branches

da = pytest.importorskip("dask.array", reason="needs the dask extra: pip install 'skgmje[dask]'")
distributed = pytest.importorskip(
    "distributed", reason="needs the dask extra: pip install 'skgmje[dask]'"
)

PARAMETERS = ("weights_", "means_", "covariances_", "precisions_cholesky_")


@pytest.fixture(scope="module")
def client():
    """A real cluster: two worker processes with one thread each."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        )
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


def _data(n_samples=3000, random_state=0):
    X, y = make_intersecting_branches(n_samples=n_samples, random_state=random_state)
    rng = np.random.RandomState(random_state)
    X = np.hstack([X, rng.normal(size=(n_samples, 2))])
    Y = np.column_stack([y, X[:, 1] - 0.5 * y + 0.2 * rng.normal(size=n_samples)])
    return X, Y


def _chunked(array, chunks=(700, 700, 900, 200, 500)):
    """A dask array with uneven row chunks, cut to the array's length (400 rows after)."""
    sizes, remaining = [], len(array)
    for size in list(chunks) + [400] * len(array):
        if remaining <= 0:
            break
        sizes.append(min(size, remaining))
        remaining -= sizes[-1]
    return da.from_array(array, chunks=(tuple(sizes),) + array.shape[1:])


def _shared_start(covariance_type, X, Y, sample_weight=None, n_components=4):
    with pytest.warns(ConvergenceWarning):
        start = GMJE(
            n_components,
            covariance_type=covariance_type,
            max_iter=1,
            warm_start=True,
            random_state=0,
        ).fit(X, Y, sample_weight=sample_weight)
    return start.set_params(max_iter=15, tol=1e-7)


def _assert_same_fit(distributed_fit, in_memory, rtol=1e-9):
    assert distributed_fit.n_iter_ == in_memory.n_iter_
    assert distributed_fit.converged_ == in_memory.converged_
    assert distributed_fit.lower_bound_ == pytest.approx(in_memory.lower_bound_, rel=rtol)
    np.testing.assert_allclose(distributed_fit.lower_bounds_, in_memory.lower_bounds_, rtol=rtol)
    for name in PARAMETERS:
        got, expected = getattr(distributed_fit, name), getattr(in_memory, name)
        assert np.max(np.abs(got - expected)) <= rtol * np.max(np.abs(expected)), name


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("weighted", [False, True])
def test_distributed_em_equals_in_memory_from_the_same_start(client, covariance_type, weighted):
    X, Y = _data()
    weights = np.random.RandomState(1).uniform(0.0, 2.0, size=len(X)) if weighted else None
    start = _shared_start(covariance_type, X, Y, weights)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = copy.deepcopy(start).fit(X, Y, sample_weight=weights)
        on_cluster = copy.deepcopy(start).fit(
            _chunked(X), _chunked(Y), sample_weight=None if weights is None else _chunked(weights)
        )
    _assert_same_fit(on_cluster, in_memory)
    np.testing.assert_allclose(on_cluster.predict(X), in_memory.predict(X), rtol=1e-9, atol=1e-12)


def test_dask_dataframes_keep_feature_names_and_match_pandas(client):
    pandas = pytest.importorskip("pandas")
    dd = pytest.importorskip("dask.dataframe")
    X, Y = _data(n_samples=2000)
    frame = pandas.DataFrame(X, columns=["a", "b", "c"])
    target = pandas.Series(Y[:, 0], name="t")
    start = _shared_start("full", frame, target)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = copy.deepcopy(start).fit(frame, target)
        on_cluster = copy.deepcopy(start).fit(
            dd.from_pandas(frame, npartitions=3), dd.from_pandas(target, npartitions=3)
        )
    _assert_same_fit(on_cluster, in_memory)
    assert list(on_cluster.feature_names_in_) == ["a", "b", "c"]
    predicted = on_cluster.predict(dd.from_pandas(frame, npartitions=4))
    np.testing.assert_allclose(predicted.compute(), in_memory.predict(frame), rtol=1e-9)
    assert on_cluster.predict(frame[:5]).shape == (5,)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_distributed_variational_em_equals_in_memory(client, covariance_type):
    X, Y = _data()
    weights = np.random.RandomState(1).uniform(0.0, 2.0, size=len(X))
    with pytest.warns(ConvergenceWarning):
        start = BayesianGMJE(
            6, covariance_type=covariance_type, max_iter=1, warm_start=True, random_state=0
        ).fit(X, Y, sample_weight=weights)
    start.set_params(max_iter=10, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = copy.deepcopy(start).fit(X, Y, sample_weight=weights)
        on_cluster = copy.deepcopy(start).fit(
            _chunked(X), _chunked(Y), sample_weight=_chunked(weights)
        )
    _assert_same_fit(on_cluster, in_memory)
    for name in ("covariance_prior_", "mean_prior_", "degrees_of_freedom_", "mean_precision_"):
        np.testing.assert_allclose(getattr(on_cluster, name), getattr(in_memory, name), rtol=1e-9)
    np.testing.assert_array_equal(on_cluster.active_components_, in_memory.active_components_)
    np.testing.assert_allclose(on_cluster.predict(X), in_memory.predict(X), rtol=1e-9, atol=1e-12)


def test_distributed_variational_fit_from_its_own_start(client):
    X, Y = _data()
    model = BayesianGMJE(random_state=0).fit(_chunked(X), _chunked(Y))
    in_memory = BayesianGMJE(random_state=0).fit(X, Y)
    assert model.converged_
    assert model.score(X, Y) == pytest.approx(in_memory.score(X, Y), abs=0.05)


@pytest.mark.parametrize("init_params", ["kmeans", "k-means++", "random_from_data", "random"])
def test_distributed_initialisations_work_chunk_wise(client, init_params):
    X, Y = _data()
    options = dict(n_components=3, init_params=init_params, random_state=0, max_iter=200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        on_cluster = GMJE(**options).fit(_chunked(X), _chunked(Y))
        in_memory = GMJE(**options).fit(X, Y)
    assert on_cluster.n_iter_ >= 1
    assert np.isfinite(on_cluster.lower_bound_)
    assert np.all(np.isfinite(on_cluster.score_samples(X, Y)))
    if init_params == "kmeans":
        # k-means on a sample of the rows starts EM in a basin as good as the in-memory
        # start's (here a better one: EM's basins on these data differ by about 0.03).
        assert on_cluster.lower_bound_ >= in_memory.lower_bound_ - 0.01


def test_verbose_prints_as_in_memory(client, capsys):
    X, Y = _data(n_samples=1000)
    start = _shared_start("full", X, Y).set_params(verbose=2, verbose_interval=2, max_iter=5)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        copy.deepcopy(start).fit(X, Y)
        in_memory = capsys.readouterr().out
        copy.deepcopy(start).fit(_chunked(X), _chunked(Y))
        on_cluster = capsys.readouterr().out

    def without_times(text):
        return [line.split("time lapse")[0] for line in text.splitlines()]

    assert without_times(on_cluster) == without_times(in_memory)
    assert "Iteration 4" in on_cluster


def test_a_worker_killed_mid_fit_gives_the_same_model(client, monkeypatch):
    X, Y = _data()
    start = _shared_start("full", X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = copy.deepcopy(start).fit(X, Y)
    data = _chunked(X).persist(), _chunked(Y).persist()
    distributed.wait(data)
    m_step, calls = em.m_step, []

    def m_step_that_kills_a_worker(*args, **kwargs):
        calls.append(1)
        if len(calls) == 3:  # between two iterations, on the client
            pid = next(iter(client.run(os.getpid).values()))
            os.kill(pid, signal.SIGKILL)
        return m_step(*args, **kwargs)

    monkeypatch.setattr(em, "m_step", m_step_that_kills_a_worker)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        on_cluster = copy.deepcopy(start).fit(*data)
    assert len(calls) == on_cluster.n_iter_ > 3
    _assert_same_fit(on_cluster, in_memory)
    client.wait_for_workers(2, timeout=60)


def test_out_of_core_chunks_from_disk(client, tmp_path):
    from dask import delayed

    X, Y = _data(n_samples=2400)
    Z = np.hstack([X, Y])
    files = []
    for index, start in enumerate(range(0, len(Z), 600)):
        files.append(tmp_path / f"chunk{index}.npy")
        np.save(files[-1], Z[start : start + 600])
    loaded = da.concatenate(
        [da.from_delayed(delayed(np.load)(str(path)), (600, 5), np.float64) for path in files]
    )
    start = _shared_start("full", X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = copy.deepcopy(start).fit(X, Y)
        from_disk = copy.deepcopy(start).fit(loaded[:, :3], loaded[:, 3:])
    _assert_same_fit(from_disk, in_memory)


def test_bad_chunks_raise_clear_errors(client):
    X, Y = _data(n_samples=1000)
    X[700, 1] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        GMJE(2, random_state=0).fit(_chunked(X), _chunked(Y))
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"Column\(s\) \[1\]"):
        GMJE(2, random_state=0).fit(_chunked(X), _chunked(Y))
    X, Y = _data(n_samples=1000)
    with pytest.raises(ValueError, match="rows"):
        GMJE(2).fit(_chunked(X), _chunked(Y[:900]))
    with pytest.raises(ValueError, match="non-negative"):
        GMJE(2).fit(_chunked(X), _chunked(Y), sample_weight=_chunked(-np.ones(len(X))))
    with pytest.raises(ValueError, match="at least as many"):
        GMJE(5).fit(_chunked(X[:4]), _chunked(Y[:4]))
    with pytest.raises(TypeError, match="does not take dask"):
        GJE().fit(_chunked(X), _chunked(Y))
    with pytest.raises(NotFittedError):
        GMJE().predict(_chunked(X))
    model = GMJE(2, random_state=0).fit(X, Y)
    with pytest.raises(ValueError, match="features"):
        model.predict(_chunked(X[:, :2]))
    X[3, 0] = np.inf
    with pytest.raises(ValueError, match="infinity"):
        model.predict(_chunked(X)).compute()


@pytest.mark.parametrize("estimator", estimators(DISTRIBUTED_FIT), ids=repr)
def test_the_distributed_fits_take_dask_collections(client, estimator):
    X, Y = _data(n_samples=1200)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = clone(estimator).fit(_chunked(X, chunks=(300, 500)), _chunked(Y, chunks=(300, 500)))
    assert model.n_features_in_ == 3 and model.n_targets_ == 2
    assert np.all(np.isfinite(model.score_samples(X, Y)))


@pytest.mark.parametrize("estimator", estimators(without=(DISTRIBUTED_FIT,)), ids=repr)
def test_the_other_fits_refuse_dask_collections(client, estimator):
    X, Y = _data(n_samples=400)
    with pytest.raises(TypeError, match="does not take dask collections"):
        clone(estimator).fit(_chunked(X), _chunked(Y))


@pytest.mark.parametrize("estimator", estimators(), ids=repr)
@pytest.mark.parametrize("n_targets", [1, 2])
def test_lazy_prediction_on_dask_arrays_equals_in_memory(client, estimator, n_targets):
    X, Y = _data(n_samples=1200)
    y = Y[:, 0] if n_targets == 1 else Y
    model = clone(estimator).fit(X[:400], y[:400])
    Xd, yd = _chunked(X, chunks=(300, 500)), _chunked(y, chunks=(300, 500))
    lazy = model.predict(Xd)
    assert isinstance(lazy, da.Array) and lazy.shape == y.shape
    np.testing.assert_allclose(lazy.compute(), model.predict(X), rtol=1e-6, atol=1e-9)
    mean, std = model.predict(Xd, return_std=True)
    expected_mean, expected_std = model.predict(X, return_std=True)
    np.testing.assert_allclose(mean.compute(), expected_mean, rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(std.compute(), expected_std, rtol=1e-6, atol=1e-9)
    log_density = model.score_samples(Xd, yd)
    np.testing.assert_allclose(log_density.compute(), model.score_samples(X, y), rtol=1e-6)
    np.testing.assert_allclose(
        model.predict_density(Xd, yd).compute(), model.predict_density(X, y), rtol=1e-6
    )
    score = model.score(Xd, yd)
    assert isinstance(score, da.Array)
    assert float(score) == pytest.approx(model.score(X, y), rel=1e-6)
    weights = np.linspace(0.0, 1.0, len(X))
    assert float(model.score(Xd, yd, sample_weight=weights)) == pytest.approx(
        model.score(X, y, sample_weight=weights), rel=1e-6
    )
    draws = model.sample(Xd, n_samples=3, random_state=0)
    assert draws.shape == (len(X), 3) + y.shape[1:]
    computed = draws.compute()
    assert np.all(np.isfinite(computed))
    np.testing.assert_array_equal(computed, model.sample(Xd, n_samples=3, random_state=0))


def test_lazy_prediction_is_lazy_and_ships_the_model_once(client):
    X, Y = _data(n_samples=1000)
    model = GMJE(3, random_state=0).fit(X, Y)
    lazy = model.predict(_chunked(X, chunks=(100,) * 10))
    graph = dict(lazy.__dask_graph__())
    shipped = [key for key in graph if isinstance(key, str) and key.startswith("GMJE-")]
    tasks = [key for key in graph if isinstance(key, tuple) and "predict_chunk" in key[0]]
    assert len(shipped) == 1
    assert len(tasks) == 10


def test_joint_scores_are_lazy_and_distributions_need_memory(client):
    X, Y = _data(n_samples=1000)
    model = GMJE(3, random_state=0).fit(X, Y)
    lazy = model.score_samples_joint(_chunked(X), _chunked(Y))
    assert isinstance(lazy, da.Array)
    np.testing.assert_allclose(lazy.compute(), model.score_samples_joint(X, Y), rtol=1e-10)
    assert model.bic(_chunked(X), _chunked(Y)) == pytest.approx(model.bic(X, Y), rel=1e-10)
    assert model.aic(_chunked(X), _chunked(Y)) == pytest.approx(model.aic(X, Y), rel=1e-10)
    with pytest.raises(TypeError, match="in-memory GaussianMixtureDistribution"):
        model.predict_distribution(_chunked(X))


def test_distributed_em_with_missing_entries_equals_in_memory(client):
    X, Y = _data()
    rng = np.random.RandomState(2)
    X[rng.uniform(size=X.shape) < 0.2] = np.nan
    Y[rng.uniform(size=Y.shape) < 0.2] = np.nan
    with pytest.warns(ConvergenceWarning):
        start = GMJE(4, max_iter=1, warm_start=True, random_state=0).fit(X, Y)
    start.set_params(max_iter=15, tol=1e-7)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = copy.deepcopy(start).fit(X, Y)
        on_cluster = copy.deepcopy(start).fit(_chunked(X), _chunked(Y))
    _assert_same_fit(on_cluster, in_memory)
    # Its own start, chunk-wise, and lazy prediction from rows with missing contexts.
    model = GMJE(3, random_state=0).fit(_chunked(X), _chunked(Y))
    np.testing.assert_allclose(
        model.predict(_chunked(X)).compute(), model.predict(X), rtol=1e-9, atol=1e-12
    )


def test_distributed_rounding_floor_equals_in_memory(client):
    """Coded columns whose levels differ between chunks: one on a grid of 0.5 whose
    smallest gap only shows across chunks, one with 300 levels over the table but fewer
    than the cap in every chunk."""
    X, Y = _data()
    rng = np.random.RandomState(3)
    X[:, 2] = np.where(np.arange(len(X)) < 1500, rng.randint(3, size=len(X)), 2.5)
    X = np.column_stack([X, rng.randint(300, size=len(X))])
    X[rng.uniform(size=X.shape) < 0.1] = np.nan
    start = _shared_start("full", X, Y)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        in_memory = copy.deepcopy(start).fit(X, Y)
        on_cluster = copy.deepcopy(start).fit(_chunked(X), _chunked(Y))
    assert in_memory.reg_covar_[2] == pytest.approx(0.5**2 / 12)
    assert in_memory.reg_covar_[3] == pytest.approx(in_memory.reg_covar * np.nanvar(X[:, 3]))
    np.testing.assert_allclose(on_cluster.reg_covar_, in_memory.reg_covar_, rtol=1e-12)
    _assert_same_fit(on_cluster, in_memory)
