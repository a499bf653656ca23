"""GMJE: EM against scikit-learn's GaussianMixture, conditioning, and its parameters."""

import copy
import warnings

import numpy as np
import pytest
from scipy import stats
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from skgmje import GJE, GMJE
from skgmje._core import em
from skgmje.datasets import make_intersecting_branches, make_separated_branches


def _joint_data(n_samples=600, random_state=0):
    """Two contexts and two targets, each column standardised: there GMJE's relative
    ``reg_covar`` is scikit-learn's absolute one, so the two fits can be compared."""
    X, y = make_separated_branches(n_samples=n_samples, random_state=random_state)
    rng = np.random.RandomState(random_state)
    X = np.hstack([X, X**2 + 0.3 * rng.normal(size=(n_samples, 1))])
    Y = np.column_stack([y, X[:, 0] - 0.5 * y + 0.2 * rng.normal(size=n_samples)])
    Z = np.hstack([X, Y])
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    return Z[:, :2], Z[:, 2:]


def _data_in_start_units():
    """One context and four targets, each column standardised. GMJE's k-means start
    standardises the columns, divides each block by the square root of its width and
    weighs the targets twice: with widths 1 and 4 that divides every column by 1, so it
    sees the rows as ``GaussianMixture``'s start does, and the relative ``reg_covar`` is
    scikit-learn's absolute one."""
    X, Y = _joint_data()
    noise = np.random.RandomState(1).normal(size=len(X))
    Z = np.column_stack([X, Y, noise])
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    return Z[:, :1], Z[:, 1:]


def _relative_error(actual, expected):
    return np.max(np.abs(actual - expected)) / np.max(np.abs(expected))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
@pytest.mark.parametrize("init_params", ["kmeans", "random"])
def test_em_matches_scikit_learn_gaussian_mixture(covariance_type, init_params):
    X, Y = _data_in_start_units()
    options = dict(
        n_components=4,
        covariance_type=covariance_type,
        init_params=init_params,
        tol=1e-8,
        max_iter=300,
        random_state=0,
        reg_covar=1e-6,  # scikit-learn's default; GMJE's is relative, 1e-4
    )
    reference = GaussianMixture(**options).fit(np.hstack([X, Y]))
    model = GMJE(**options).fit(X, Y)
    assert model.n_iter_ == reference.n_iter_
    assert model.converged_ == reference.converged_
    assert _relative_error(model.lower_bound_, reference.lower_bound_) < 1e-6
    np.testing.assert_allclose(model.lower_bounds_, reference.lower_bounds_, rtol=1e-6)
    for name in ["weights_", "means_", "covariances_", "precisions_cholesky_"]:
        assert _relative_error(getattr(model, name), getattr(reference, name)) < 1e-6, name
    np.testing.assert_allclose(
        model.score_samples_joint(X, Y), reference.score_samples(np.hstack([X, Y])), rtol=1e-6
    )
    assert model.bic(X, Y) == pytest.approx(reference.bic(np.hstack([X, Y])), rel=1e-6)
    assert model.aic(X, Y) == pytest.approx(reference.aic(np.hstack([X, Y])), rel=1e-6)


@pytest.mark.parametrize("init_params", ["k-means++", "random_from_data"])
def test_other_initialisations_match_scikit_learn(init_params):
    X, Y = _data_in_start_units()
    options = dict(
        n_components=3, init_params=init_params, random_state=1, n_init=2, reg_covar=1e-6
    )
    reference = GaussianMixture(**options).fit(np.hstack([X, Y]))
    model = GMJE(**options).fit(X, Y)
    assert _relative_error(model.means_, reference.means_) < 1e-6
    assert model.lower_bound_ == pytest.approx(reference.lower_bound_, rel=1e-6)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_weighted_statistics_equal_repeated_rows(covariance_type):
    X, Y = _joint_data(n_samples=80)
    Z = np.hstack([X, Y])
    counts = np.random.RandomState(3).randint(0, 4, size=len(Z))
    parameters = GMJE(n_components=3, covariance_type=covariance_type, random_state=0).fit(X, Y)
    mixture = em.MixtureParameters(
        parameters.weights_,
        parameters.means_,
        parameters.covariances_,
        parameters.precisions_cholesky_,
    )
    weighted = em.e_step(Z, mixture, covariance_type, counts.astype(float))
    repeated = em.e_step(np.repeat(Z, counts, axis=0), mixture, covariance_type)
    for got, expected in zip(weighted, repeated):
        np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-10)


def test_integer_weights_equal_repeated_rows_from_a_shared_start():
    X, Y = _joint_data(n_samples=200)
    counts = np.random.RandomState(4).randint(0, 4, size=len(X))  # zero weight drops a row
    with pytest.warns(ConvergenceWarning):
        start = GMJE(n_components=3, max_iter=1, warm_start=True, random_state=0).fit(X, Y)
    start.set_params(max_iter=50, tol=1e-10)
    weighted = copy.deepcopy(start).fit(X, Y, sample_weight=counts.astype(float))
    repeated = copy.deepcopy(start).fit(np.repeat(X, counts, 0), np.repeat(Y, counts, 0))
    assert weighted.n_iter_ == repeated.n_iter_
    np.testing.assert_allclose(weighted.means_, repeated.means_, rtol=1e-7)
    np.testing.assert_allclose(weighted.covariances_, repeated.covariances_, rtol=1e-7)
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-7)


def test_conditional_equals_joint_over_marginal_by_brute_force():
    X, Y = _joint_data()
    model = GMJE(n_components=3, random_state=0).fit(X, Y)
    dx = X.shape[1]
    joint = model.score_samples_joint(X, Y)
    marginal = np.log(
        sum(
            w * stats.multivariate_normal(m[:dx], c[:dx, :dx]).pdf(X)
            for w, m, c in zip(model.weights_, model.means_, model.covariances_)
        )
    )
    np.testing.assert_allclose(model.score_samples(X, Y), joint - marginal, rtol=1e-8, atol=1e-8)


def test_one_component_is_gje():
    X, Y = _joint_data()
    gmje = GMJE(n_components=1).fit(X, Y)
    gje = GJE(reg_covar=gmje.reg_covar).fit(X, Y)
    np.testing.assert_allclose(gmje.predict(X), gje.predict(X), rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gmje.score_samples(X, Y), gje.score_samples(X, Y), rtol=1e-8)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_one_dimensional_conditional_densities_integrate_to_one(covariance_type):
    X, y = make_intersecting_branches(n_samples=1000, random_state=0)
    model = GMJE(n_components=6, covariance_type=covariance_type, random_state=0).fit(X, y)
    queries = np.array([[-0.9], [-0.3], [0.0], [0.4], [1.2]])
    grid = np.linspace(-6.0, 6.0, 24001)
    density = model.predict_distribution(queries).pdf(np.repeat(grid[:, None], len(queries), 1))
    integrals = np.trapezoid(density, grid, axis=0)
    np.testing.assert_array_less(np.abs(integrals - 1.0), 1e-3)


def test_modes_follow_the_three_branches():
    X, y = make_separated_branches(n_samples=2000, random_state=0)
    # EM from one k-means start finds every branch at these x for only some starts (12
    # components: 1 to 2 seeds of 6); 16 components and the best of 5 starts for all 6.
    model = GMJE(n_components=16, n_init=5, random_state=0).fit(X, y)
    queries = np.array([[-0.5], [0.25], [0.75]])
    means, weights = model.predict_distribution(queries).modes()
    truth = np.column_stack(
        [
            queries[:, 0] ** 2 + 1.5,
            0.5 * np.sin(2 * np.pi * queries[:, 0]),
            -(queries[:, 0] ** 2) - 1.5,
        ]
    )
    for row in range(len(queries)):
        # Each true branch is within 0.15 of some mode carrying real weight.
        strong = means[row, weights[row] > 0.05, 0]
        assert np.all(np.min(np.abs(truth[row][:, None] - strong[None]), axis=1) < 0.15)


def test_joint_samples_reproduce_the_data_distribution():
    X, y = make_separated_branches(n_samples=3000, random_state=0)
    model = GMJE(n_components=16, random_state=0).fit(X, y)
    X_new, y_new = model.sample(n_samples=20000, random_state=0)
    assert stats.ks_2samp(y_new, y).pvalue > 1e-3
    assert stats.ks_2samp(X_new[:, 0], X[:, 0]).pvalue > 1e-3


def test_n_init_keeps_the_best_initialisation():
    X, Y = _joint_data()
    single = [
        GMJE(n_components=5, init_params="random", random_state=seed).fit(X, Y) for seed in range(3)
    ]
    best = GMJE(n_components=5, init_params="random", n_init=6, random_state=0).fit(X, Y)
    assert best.lower_bound_ >= max(model.lower_bound_ for model in single) - 1e-2


def test_warm_start_continues_from_the_previous_fit():
    X, Y = _joint_data()
    with pytest.warns(ConvergenceWarning):
        model = GMJE(n_components=3, max_iter=2, warm_start=True, random_state=0).fit(X, Y)
    first = model.lower_bound_
    with pytest.warns(ConvergenceWarning):
        model.fit(X, Y)
    assert model.lower_bound_ >= first
    full = GMJE(n_components=3, max_iter=4, tol=0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        full.fit(X, Y)
    np.testing.assert_allclose(model.means_, full.means_, rtol=1e-10)
    with pytest.raises(ValueError, match="warm_start"):
        model.fit(X[:, :1], Y)


def test_verbose_prints_progress(capsys):
    X, Y = _joint_data(n_samples=200)
    GMJE(n_components=2, verbose=2, verbose_interval=1, random_state=0).fit(X, Y)
    output = capsys.readouterr().out
    assert "Initialization 0" in output and "Iteration 1" in output and "converged" in output


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_components": 0}, "n_components"),
        ({"n_components": 2.5}, "n_components"),
        ({"covariance_type": "banana"}, "covariance_type"),
        ({"init_params": "zeros"}, "init_params"),
        ({"reg_covar": -1.0}, "reg_covar"),
        ({"tol": -1.0}, "tol"),
        ({"max_iter": -1}, "max_iter"),
        ({"n_init": 0}, "n_init"),
    ],
)
def test_invalid_parameters_are_named(params, message):
    X, Y = _joint_data(n_samples=50)
    with pytest.raises(ValueError, match=message):
        GMJE(**params).fit(X, Y)


def test_fewer_samples_than_components():
    X, Y = _joint_data(n_samples=5)
    with pytest.raises(ValueError, match="n_components=6 needs at least"):
        GMJE(n_components=6).fit(X, Y)
    weights = np.array([1.0, 0.0, 0.0, 0.0, 1.0])
    with pytest.raises(ValueError, match="positive weight"):
        GMJE(n_components=3).fit(X, Y, sample_weight=weights)


def test_degenerate_data_gives_a_clear_error_not_nan():
    X = np.zeros((50, 1))
    y = np.zeros(50)
    with pytest.raises(ValueError, match="reg_covar"):
        GMJE(n_components=2, covariance_type="diag", reg_covar=0.0, random_state=0).fit(X, y)
    model = GMJE(n_components=2, random_state=0).fit(X, y)  # reg_covar keeps it proper
    assert np.all(np.isfinite(model.score_samples(X, y)))


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_expected_statistics_are_a_fixed_point_of_the_m_step(covariance_type):
    X, Y = _joint_data()
    model = GMJE(n_components=3, covariance_type=covariance_type, random_state=0).fit(X, Y)
    parameters = em.MixtureParameters(
        model.weights_, model.means_, model.covariances_, model.precisions_cholesky_
    )
    statistics = em.expected_statistics(parameters, covariance_type, model.reg_covar_)
    again = em.m_step(statistics, covariance_type, model.reg_covar_)
    for got, expected in zip(again, parameters):
        np.testing.assert_allclose(got, expected, rtol=1e-9, atol=1e-12)


def test_statistics_survive_flattening():
    X, Y = _joint_data(n_samples=100)
    for covariance_type in em.COVARIANCE_TYPES:
        model = GMJE(n_components=2, covariance_type=covariance_type, random_state=0).fit(X, Y)
        parameters = em.MixtureParameters(
            model.weights_, model.means_, model.covariances_, model.precisions_cholesky_
        )
        statistics = em.e_step(np.hstack([X, Y]), parameters, covariance_type)
        vector = em.flatten_statistics(statistics)
        assert len(vector) == em.statistics_size(2, 4, covariance_type)
        for got, expected in zip(
            em.unflatten_statistics(vector, 2, 4, covariance_type), statistics
        ):
            np.testing.assert_array_equal(got, expected)


def _stream(model, X, y, n_passes, batch_size=256, random_state=0):
    rng = np.random.RandomState(random_state)
    for _ in range(n_passes):
        order = rng.permutation(len(X))
        for start in range(0, len(X), batch_size):
            model.partial_fit(
                X[order[start : start + batch_size]], y[order[start : start + batch_size]]
            )
    return model


@pytest.mark.parametrize("make", [make_separated_branches, make_intersecting_branches])
def test_partial_fit_streams_to_the_batch_em_likelihood(make):
    X, y = make(n_samples=7000, random_state=0)
    X, y, X_test, y_test = X[:2000], y[:2000], X[2000:], y[2000:]
    batch = GMJE(n_components=8, random_state=0).fit(X, y)
    stream = _stream(GMJE(n_components=8, random_state=0), X, y, n_passes=5)
    assert stream.n_steps_ == 5 * 8
    assert -stream.score(X_test, y_test) <= -batch.score(X_test, y_test) + 0.02


def test_partial_fit_step_sizes_and_first_batch():
    X, Y = _joint_data(n_samples=600)
    model = GMJE(n_components=3, random_state=0, learning_offset=0.0, learning_decay=1.0)
    with pytest.raises(ValueError, match="at least n_components=3 rows"):
        model.partial_fit(X[:2], Y[:2])
    model.partial_fit(X[:300], Y[:300])
    # eta_1 = 1: the running statistics are the first batch's E-step under the initial fit
    initial = GMJE(n_components=3, random_state=0, max_iter=1, tol=0.0)
    with pytest.warns(ConvergenceWarning):
        initial.fit(X[:300], Y[:300])
    np.testing.assert_allclose(model.means_, initial.means_, rtol=1e-9)
    model.partial_fit(X[300:301], Y[300:301])  # later batches may be one row
    assert model.n_steps_ == 2
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(X[:5, :1], Y[:5])
    with pytest.raises(ValueError, match="learning_decay"):
        GMJE(learning_decay=0.5).partial_fit(X, Y)


def test_partial_fit_continues_a_fitted_model():
    X, Y = _joint_data(n_samples=600)
    fitted = GMJE(n_components=3, random_state=0).fit(X, Y)
    before = fitted.score(X, Y)
    continued = copy.deepcopy(fitted).partial_fit(X[:300], Y[:300])
    assert continued.n_steps_ == 1
    assert continued.score(X, Y) == pytest.approx(before, abs=0.05)
    refitted = continued.fit(X, Y)
    assert not hasattr(refitted, "n_steps_")


def test_partial_fit_with_dask_ml_incremental():
    da = pytest.importorskip("dask.array")
    wrappers = pytest.importorskip("dask_ml.wrappers")
    X, y = make_intersecting_branches(n_samples=2048, random_state=0)
    incremental = wrappers.Incremental(GMJE(n_components=4, random_state=0), shuffle_blocks=False)
    incremental.fit(da.from_array(X, chunks=256), da.from_array(y, chunks=256))
    loop = GMJE(n_components=4, random_state=0)
    for start in range(0, 2048, 256):
        loop.partial_fit(X[start : start + 256], y[start : start + 256])
    assert incremental.estimator_.n_steps_ == 8
    np.testing.assert_allclose(incremental.estimator_.means_, loop.means_, rtol=1e-10)


def test_fit_and_prediction_never_form_n_by_components_by_features():
    import tracemalloc

    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(40_000, 6)), rng.normal(size=(40_000, 2))
    n_k_d = 40_000 * 16 * 8 * 8  # bytes of one (n, K, D) float64 array
    tracemalloc.start()
    model = GMJE(n_components=16, max_iter=2, tol=0.0, random_state=0)
    with pytest.warns(ConvergenceWarning):
        model.fit(X, Y)
    fit_peak = tracemalloc.get_traced_memory()[1]
    # The fit may keep each row's D (D + 1) / 2 pair products (bounded by a budget);
    # nothing that grows with K.
    products = 40_000 * 36 * 8
    tracemalloc.reset_peak()
    model.score_samples(X, Y)
    model.predict(X, return_std=True)
    model.sample(X, n_samples=2, random_state=0)
    predict_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert fit_peak < n_k_d / 4 + products
    assert predict_peak < n_k_d / 4


def test_auto_components_are_a_mixture_for_branches_and_one_for_a_line():
    X, y = make_intersecting_branches(n_samples=1500, random_state=0)
    assert GMJE(random_state=0).fit(X, y).n_components_ >= 6
    rng = np.random.RandomState(0)
    X = rng.normal(size=(1500, 2))
    y = X @ [1.0, -2.0] + 0.3 * rng.normal(size=1500)
    model = GMJE(random_state=0).fit(X, y)
    assert model.n_components_ == 1
    # Every candidate is tried, not only those up to a run without improvement: the
    # score can be flat over several K and then jump (bench_suite's irrelevant features).
    assert sorted(model.n_components_scores_) == [1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32]


def test_pair_products_give_the_blockwise_second_moments(monkeypatch):
    rng = np.random.RandomState(0)
    Z = rng.normal(size=(300, 5))
    resp = rng.dirichlet(np.ones(4), 300) * rng.uniform(0.5, 2.0, size=(300, 1))
    products = em.pair_products(Z)
    assert products.shape == (300, 15)
    np.testing.assert_allclose(products[7, :5], Z[7, 0] * Z[7])
    with_products = em.statistics_from_responsibilities(Z, resp, "full", products=products)
    expected = np.einsum("nk,nd,ne->kde", resp, Z, Z)
    np.testing.assert_allclose(with_products.second_moments, expected, rtol=1e-12)
    blockwise = em.statistics_from_responsibilities(Z, resp, "full")
    np.testing.assert_allclose(blockwise.second_moments, expected, rtol=1e-12)
    monkeypatch.setattr(em, "_PRODUCTS_MAX_ELEMENTS", 300 * 15 - 1)
    assert em.pair_products(Z) is None
    # A fit over budget takes the blockwise statistics and ends at the same mixture.
    X, y = make_separated_branches(n_samples=400, random_state=0)
    small = GMJE(n_components=3, random_state=0).fit(X, y)
    monkeypatch.setattr(em, "_PRODUCTS_MAX_ELEMENTS", 0)
    large = GMJE(n_components=3, random_state=0).fit(X, y)
    np.testing.assert_allclose(small.means_, large.means_, rtol=1e-9)
    assert small.n_iter_ == large.n_iter_


def test_threads_change_neither_the_choice_nor_blas_outside_the_fit(monkeypatch):
    from threadpoolctl import threadpool_info

    X, y = make_separated_branches(n_samples=400, random_state=0)
    serial = GMJE(cv=3, random_state=0).fit(X, y)
    before = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    inside = []
    e_step = em.e_step

    def recording(*args, **kwargs):
        if len(inside) < 20:  # threadpool_info inspects every library: a few calls do
            inside.extend(p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas")
        return e_step(*args, **kwargs)

    monkeypatch.setattr(em, "e_step", recording)
    filters = list(warnings.filters)
    threaded = GMJE(cv=3, n_jobs=2, random_state=0).fit(X, y)
    after = [pool["num_threads"] for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert list(warnings.filters) == filters
    assert threaded.n_components_scores_ == pytest.approx(serial.n_components_scores_, rel=1e-12)
    np.testing.assert_allclose(threaded.means_, serial.means_)
    assert inside and set(inside) == {1}
    assert after == before


def test_auto_components_score_as_grid_search_on_the_same_folds():
    from sklearn.model_selection import GridSearchCV, KFold

    X, y = make_separated_branches(n_samples=600, random_state=0)
    folds = list(KFold(4, shuffle=True, random_state=1).split(X))
    model = GMJE(cv=folds, random_state=0).fit(X, y)
    tried = sorted(model.n_components_scores_)
    search = GridSearchCV(GMJE(random_state=0), {"n_components": tried}, cv=folds).fit(X, y)
    np.testing.assert_allclose(
        [model.n_components_scores_[k] for k in tried],
        search.cv_results_["mean_test_score"],
        rtol=1e-10,
    )
    assert model.n_components_ == search.best_params_["n_components"]
    refit = GMJE(n_components=model.n_components_, random_state=0).fit(X, y)
    np.testing.assert_allclose(model.means_, refit.means_)


def test_auto_components_with_few_rows_weights_and_partial_fit():
    X, y = make_separated_branches(n_samples=600, random_state=0)
    assert GMJE(random_state=0).fit(X[:9], y[:9]).n_components_ == 1  # < 2 cv rows
    # Few rows per component: a candidate needs n_features + n_targets + 1 per component.
    assert max(GMJE(random_state=0).fit(X[:40], y[:40]).n_components_scores_) <= 32 // 3
    weights = np.random.RandomState(0).randint(0, 3, size=len(X)).astype(float)
    weighted = GMJE(random_state=0).fit(X, y, sample_weight=weights)
    assert weighted.n_components_ > 1
    stream = GMJE(random_state=0).partial_fit(X[:300], y[:300]).partial_fit(X[300:], y[300:])
    assert stream.n_components_ > 1 and stream.n_steps_ == 2
    with pytest.raises(ValueError, match="at least 2 folds"):
        GMJE(cv=1).fit(X, y)
    with pytest.raises(ValueError, match="n_components must be an integer"):
        GMJE(n_components="many").fit(X, y)


@pytest.mark.slow  # a refinement costs about a hundred EM fits (a minute here)
def test_conditional_refinement_keeps_a_joint_mixture_and_helps_clustered_contexts():
    def data(n_samples, seed):
        # y = |x_0| + noise; three more context columns in four far clusters that say
        # nothing about y, where EM spends its components.
        rng = np.random.RandomState(seed)
        centers = np.random.RandomState(0).normal(scale=6.0, size=(4, 3))
        clusters = centers[rng.randint(4, size=n_samples)] + rng.normal(size=(n_samples, 3))
        X = np.column_stack([rng.uniform(-1, 1, n_samples), clusters])
        return X, np.abs(X[:, 0]) + 0.05 * rng.normal(size=n_samples)

    X, y = data(300, 1)
    X_test, y_test = data(2000, 2)
    plain = GMJE(n_components=4, random_state=0).fit(X, y)
    refined = GMJE(n_components=4, random_state=0, conditional_refinement=True).fit(X, y)
    assert refined.n_refine_iter_ > 0
    assert refined.score(X_test, y_test) > plain.score(X_test, y_test) + 0.1
    assert refined.weights_.sum() == pytest.approx(1.0)
    assert np.all(np.linalg.eigvalsh(refined.covariances_) > 0)
    X_new, y_new = refined.sample(n_samples=5, random_state=0)
    assert X_new.shape == (5, 4) and y_new.shape == (5,)
    with pytest.raises(ValueError, match="covariance_type='full'"):
        GMJE(covariance_type="diag", conditional_refinement=True).fit(X, y)


def test_the_default_floor_keeps_tied_rows_from_giving_absurd_densities():
    """Regression (bench_real, Computers): a component that collapses onto tied rows
    gives a nearby new row an absurd log-density unless its variances have a floor."""
    rng = np.random.RandomState(0)
    x = rng.normal(size=400)
    X = np.r_[x, np.full(40, 3.0)][:, None]
    y = np.r_[x + 0.3 * rng.normal(size=400), np.full(40, -3.0)]
    near_the_ties = ([[3.0]], [-2.9])
    floor_of_sklearn = GMJE(n_components=4, reg_covar=1e-6, random_state=0).fit(X, y)
    assert floor_of_sklearn.score_samples(*near_the_ties)[0] < -150  # measured -187
    assert GMJE(n_components=4, random_state=0).fit(X, y).score_samples(*near_the_ties)[0] > -40
