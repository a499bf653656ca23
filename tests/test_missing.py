"""Missing values and conditioning on any columns: ``GaussianMixtureDistribution.condition``,
``log_prob_observed``, ``joint_distribution``, ``score_samples_context`` and prediction
from rows with missing contexts, against per-row reference computations and scipy."""

import numpy as np
import pytest
from scipy import stats
from scipy.special import logsumexp
from sklearn.exceptions import ConvergenceWarning

from skgmje import GJE, GMJE, SMCGMJE, BayesianGMJE, DualGJE, GaussianMixtureDistribution
from skgmje._core.conditioning import context_log_prob


def _random_joint(seed, n_components=3, n_columns=4):
    rng = np.random.RandomState(seed)
    factors = rng.normal(size=(n_components, n_columns, n_columns))
    covariances = factors @ np.swapaxes(factors, 1, 2) + 0.3 * np.eye(n_columns)
    return GaussianMixtureDistribution(
        weights=rng.dirichlet(np.ones(n_components))[None],
        means=rng.normal(scale=2.0, size=(1, n_components, n_columns)),
        covariances=covariances,
    )


def _reference_condition(joint, given, values, targets):
    """Row by row, component by component, with explicit solves."""
    weights, means, covariances = joint.weights[0], joint.means[0], joint.covariances
    out_weights, out_means, out_covariances = [], [], []
    for row in values:
        seen = ~np.isnan(row)
        observed = np.asarray(given)[seen]
        log_w, mu, cov = [], [], []
        for w, m, c in zip(weights, means, covariances):
            c_oo = c[np.ix_(observed, observed)]
            c_to = c[np.ix_(targets, observed)]
            log_w.append(
                np.log(w)
                + (
                    stats.multivariate_normal(m[observed], c_oo).logpdf(row[seen])
                    if len(observed)
                    else 0.0
                )
            )
            gain = np.linalg.solve(c_oo, c_to.T).T if len(observed) else np.zeros((len(targets), 0))
            mu.append(m[targets] + gain @ (row[seen] - m[observed]))
            cov.append(c[np.ix_(targets, targets)] - gain @ c_to.T)
        log_w = np.array(log_w)
        out_weights.append(np.exp(log_w - logsumexp(log_w)))
        out_means.append(mu)
        out_covariances.append(cov)
    return np.array(out_weights), np.array(out_means), np.array(out_covariances)


@pytest.mark.parametrize("seed", [0, 1])
def test_condition_on_any_columns_matches_the_reference(seed):
    joint = _random_joint(seed)
    rng = np.random.RandomState(seed)
    values = rng.normal(size=(7, 2))
    values[1, 0] = values[2, 1] = np.nan
    values[3] = np.nan
    for given, targets in (([0, 2], [1, 3]), ([3, 1], [0]), ([1, 2], [3, 0])):
        result = joint.condition(given, values, targets=targets)
        weights, means, covariances = _reference_condition(joint, given, values, targets)
        np.testing.assert_allclose(result.weights, weights, atol=1e-10)
        np.testing.assert_allclose(result.means, means, atol=1e-9)
        np.testing.assert_allclose(result.covariances, covariances, atol=1e-9)


def test_condition_with_the_same_columns_in_every_row_shares_covariances():
    joint = _random_joint(2)
    result = joint.condition([0, 1], np.random.RandomState(0).normal(size=(5, 2)))
    assert result.shared_covariances and result.n_targets == 2
    # Nothing given: the marginal, in every row.
    marginal = joint.condition([0], np.full(3, np.nan), targets=[2, 3])
    np.testing.assert_allclose(marginal.weights, np.repeat(joint.weights, 3, axis=0))
    np.testing.assert_allclose(marginal.covariances, joint.marginal([2, 3]).covariances)


def test_log_prob_observed_marginalises_the_missing_entries():
    joint = _random_joint(3)
    z = np.random.RandomState(1).normal(size=(6, 4))
    complete = joint.log_prob(z[:, None, :])[:, 0]
    np.testing.assert_allclose(joint.log_prob_observed(z), complete, atol=1e-10)
    z[0, 1] = z[1, [0, 3]] = np.nan
    z[2] = np.nan
    expected = []
    for row in z:
        seen = ~np.isnan(row)
        if not seen.any():
            expected.append(0.0)
            continue
        expected.append(joint.marginal(np.flatnonzero(seen)).log_prob(row[seen][None])[0])
    np.testing.assert_allclose(joint.log_prob_observed(z), expected, atol=1e-10)


def test_condition_refuses_what_it_cannot_answer():
    joint = _random_joint(0)
    with pytest.raises(ValueError, match="share a column"):
        joint.condition([0, 1], np.zeros((2, 2)), targets=[1, 2])
    with pytest.raises(ValueError, match="shape"):
        joint.condition([0, 1], np.zeros((2, 3)))
    with pytest.raises(ValueError, match="finite or NaN"):
        joint.condition([0], [np.inf])
    per_row = GaussianMixtureDistribution(
        weights=[[1.0]], means=[[[0.0, 0.0]]], covariances=np.eye(2)[None, None]
    )
    with pytest.raises(ValueError, match="shared by the rows"):
        per_row.condition(0, [1.0])


def _correlated_problem(n_samples, seed):
    """x ~ N(0, C) with correlated columns, y = x @ beta + noise: every conditional known."""
    rng = np.random.RandomState(seed)
    covariance = np.array([[1.0, 0.6, 0.2], [0.6, 1.0, -0.3], [0.2, -0.3, 1.0]])
    X = rng.multivariate_normal(np.zeros(3), covariance, size=n_samples)
    beta = np.array([1.0, -2.0, 0.5])
    y = X @ beta + 0.5 * rng.normal(size=n_samples)
    joint_covariance = np.block(
        [
            [covariance, (covariance @ beta)[:, None]],
            [beta @ covariance, beta @ covariance @ beta + 0.25],
        ]
    )
    return X, y, joint_covariance


def test_gje_with_missing_contexts_is_the_gaussian_conditional():
    X, y, _ = _correlated_problem(3000, 0)
    model = GJE().fit(X, y)
    queries = X[:20].copy()
    queries[:, 1] = np.nan
    observed = [0, 2]
    cov, mean = model.covariance_, model.mean_
    gain = np.linalg.solve(cov[np.ix_(observed, observed)], cov[np.ix_(observed, [3])])[:, 0]
    expected = mean[3] + (X[:20][:, observed] - mean[observed]) @ gain
    variance = cov[3, 3] - cov[3, observed] @ gain
    np.testing.assert_allclose(model.predict(queries), expected, atol=1e-10)
    _, std = model.predict(queries, return_std=True)
    np.testing.assert_allclose(std, np.sqrt(variance), rtol=1e-10)


def test_missing_contexts_score_close_to_the_oracle():
    # The oracle's conditional of y given the observed contexts, in closed form.
    X, y, joint_covariance = _correlated_problem(6000, 1)
    model = GMJE(n_components=1, random_state=0).fit(X[:3000], y[:3000])
    X_test, y_test = X[3000:].copy(), y[3000:]
    missing = np.random.RandomState(2).uniform(size=X_test.shape) < 0.3
    X_test[missing] = np.nan
    oracle = GaussianMixtureDistribution(
        weights=[[1.0]], means=np.zeros((1, 1, 4)), covariances=joint_covariance[None]
    ).condition([0, 1, 2], X_test, targets=[3])
    gap = np.mean(oracle.log_prob(y_test)) - model.score(X_test, y_test)
    assert abs(gap) < 0.02


@pytest.mark.parametrize(
    "estimator",
    [
        GJE(),
        GMJE(n_components=3, random_state=0),
        BayesianGMJE(random_state=0),
        SMCGMJE(random_state=0),
    ],
    ids=lambda estimator: type(estimator).__name__,
)
def test_every_joint_model_predicts_from_rows_with_missing_contexts(estimator):
    X, y, _ = _correlated_problem(400, 3)
    model = estimator.fit(X, y)
    complete = model.joint_distribution().condition([0, 1, 2], X[:30], targets=[3])
    expected = model.predict_distribution(X[:30])
    np.testing.assert_allclose(complete.means, expected.means, atol=1e-9)
    np.testing.assert_allclose(complete.weights, expected.weights, atol=1e-9)
    queries = X[:30].copy()
    queries[::2, 0] = np.nan
    queries[::3, 2] = np.nan
    queries[7] = np.nan
    # An empty row is answered by the marginal p(y).
    marginal = model.joint_distribution().marginal([3])
    np.testing.assert_allclose(model.predict(queries[7:8]), marginal.mean()[0], atol=1e-10)
    # Every prediction method takes the rows; the complete rows are unchanged.
    complete_rows = ~np.isnan(queries).any(axis=1)
    np.testing.assert_allclose(
        model.predict(queries)[complete_rows], model.predict(X[:30])[complete_rows], atol=1e-10
    )
    assert np.all(np.isfinite(model.score_samples(queries, y[:30])))
    assert model.sample(queries, n_samples=4, random_state=0).shape == (30, 4)
    assert model.predict_interval(queries).shape == (30, 2)
    assert model.predict_hdr(queries, 0.8).lower.shape[0] == 30


def test_score_samples_context_is_the_marginal_density_of_the_contexts():
    X, y, _ = _correlated_problem(500, 4)
    model = GMJE(n_components=2, random_state=0).fit(X, y)
    expected = logsumexp(context_log_prob(model.conditioning_, X[:10]), axis=1)
    np.testing.assert_allclose(model.score_samples_context(X[:10]), expected, atol=1e-10)
    gje = GJE().fit(X, y)
    rows = X[:10].copy()
    rows[:, 2] = np.nan
    marginal = stats.multivariate_normal(gje.mean_[:2], gje.covariance_[:2, :2])
    np.testing.assert_allclose(gje.score_samples_context(rows), marginal.logpdf(rows[:, :2]))


def test_estimators_without_missing_value_support_say_which_have_it():
    X, y, _ = _correlated_problem(200, 5)
    model = DualGJE().fit(X, y)
    queries = X[:3].copy()
    queries[0, 0] = np.nan
    with pytest.raises(ValueError, match="does not accept missing values.*GMJE"):
        model.predict(queries)
    with pytest.raises(ValueError, match="does not accept missing values"):
        DualGJE().fit(queries, y[:3])
    with pytest.raises(ValueError, match="finite|infinity"):
        GJE().fit(X, y).predict(np.where(np.isnan(queries), np.inf, queries))


# -- fitting with missing entries -------------------------------------------------------


def _per_row_statistics(Z, weights, parameters, covariance_type):
    """The expected statistics of EM with missing entries, row by row and component by
    component with explicit solves (Ghahramani and Jordan 1994)."""
    from skgmje._core import em

    n_components, n_joint = parameters.means.shape
    covariances = em.full_covariances(
        parameters.covariances, covariance_type, n_components, n_joint
    )
    log_likelihood, resp_sums = 0.0, np.zeros(n_components)
    first, second = np.zeros((n_components, n_joint)), np.zeros((n_components, n_joint, n_joint))
    for row, weight in zip(Z, weights):
        seen = ~np.isnan(row)
        if not seen.any():
            continue
        log_prob = np.array(
            [
                np.log(parameters.weights[k])
                + stats.multivariate_normal(
                    parameters.means[k][seen], covariances[k][np.ix_(seen, seen)]
                ).logpdf(row[seen])
                for k in range(n_components)
            ]
        )
        log_norm = logsumexp(log_prob)
        resp = weight * np.exp(log_prob - log_norm)
        log_likelihood += weight * log_norm
        for k in range(n_components):
            completed, conditional = row.copy(), np.zeros((n_joint, n_joint))
            unseen = ~seen
            if unseen.any():
                cov = covariances[k]
                gain = np.linalg.solve(cov[np.ix_(seen, seen)], cov[np.ix_(seen, unseen)]).T
                completed[unseen] = parameters.means[k][unseen] + gain @ (
                    row[seen] - parameters.means[k][seen]
                )
                conditional[np.ix_(unseen, unseen)] = (
                    cov[np.ix_(unseen, unseen)] - gain @ cov[np.ix_(seen, unseen)]
                )
            resp_sums[k] += resp[k]
            first[k] += resp[k] * completed
            second[k] += resp[k] * (np.outer(completed, completed) + conditional)
    if covariance_type == "tied":
        second = second.sum(axis=0)
    elif covariance_type in ("diag", "spherical"):
        second = np.diagonal(second, axis1=1, axis2=2)
    return log_likelihood, resp_sums, first, second


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_e_step_with_missing_entries_is_the_expected_statistics(covariance_type):
    from skgmje._core import em
    from skgmje._core.missing_em import e_step_with_missing, missing_layout

    rng = np.random.RandomState(0)
    Z = rng.normal(size=(120, 4)) * [1.0, 2.0, 0.5, 1.0]
    parameters = em.m_step(
        em.statistics_from_responsibilities(Z, rng.dirichlet(np.ones(3), 120), covariance_type),
        covariance_type,
        1e-6,
    )
    Z[rng.uniform(size=Z.shape) < 0.3] = np.nan
    Z[5] = np.nan
    weights = rng.uniform(0.5, 2.0, size=120)
    statistics = e_step_with_missing(
        Z, missing_layout(np.isnan(Z)), parameters, covariance_type, weights
    )
    log_likelihood, resp_sums, first, second = _per_row_statistics(
        Z, weights, parameters, covariance_type
    )
    assert statistics.log_likelihood == pytest.approx(log_likelihood, abs=1e-9)
    assert statistics.total_weight == pytest.approx(weights.sum() - weights[5])
    np.testing.assert_allclose(statistics.resp_sums, resp_sums, atol=1e-10)
    np.testing.assert_allclose(statistics.first_moments, first, atol=1e-10)
    np.testing.assert_allclose(statistics.second_moments, second, atol=1e-9)


@pytest.mark.parametrize("batch", [3, 8192])
def test_blocks_are_swept_to_minus_their_inverses_and_log_determinants(monkeypatch, batch):
    from skgmje._core import missing_em

    monkeypatch.setattr(missing_em, "_SWEEP_BATCH", batch)
    rng = np.random.RandomState(1)
    for size in (1, 2, 6):
        factors = rng.normal(size=(10, size, size + 2))
        matrices = factors @ np.swapaxes(factors, 1, 2) + 1e-3 * np.eye(size)
        blocks = matrices.transpose(1, 2, 0).copy()
        log_det = missing_em._invert_blocks(blocks)
        np.testing.assert_allclose(
            blocks.transpose(2, 0, 1) @ matrices,
            np.broadcast_to(-np.eye(size), matrices.shape),
            atol=1e-9,
        )
        np.testing.assert_allclose(log_det, np.linalg.slogdet(matrices)[1], atol=1e-10)


def _mcar(array, fraction, seed):
    holes = array.copy()
    holes[np.random.RandomState(seed).uniform(size=holes.shape) < fraction] = np.nan
    return holes


def test_gje_with_missing_entries_converges_to_the_complete_data_fit():
    errors = []
    for n_samples in (500, 20_000):
        X, y, _ = _correlated_problem(n_samples, 6)
        complete = GJE().fit(X, y)
        model = GJE().fit(_mcar(X, 0.3, 1), _mcar(y, 0.3, 2))
        errors.append(np.abs(model.covariance_ - complete.covariance_).max())
        assert model.n_iter_ > 1
    assert errors[1] < 0.05 and errors[1] < errors[0] / 2


def test_gmje_with_missing_entries_keeps_em_monotone_and_near_the_complete_fit():
    X, y, _ = _correlated_problem(4000, 7)
    y = np.where(X[:, 0] > 0, y, -y)
    complete = GMJE(n_components=2, random_state=0).fit(X, y)
    model = GMJE(n_components=2, random_state=0).fit(_mcar(X, 0.2, 3), _mcar(y, 0.2, 4))
    assert np.all(np.diff(model.lower_bounds_) > -1e-10)
    X_test, y_test, _ = _correlated_problem(2000, 8)
    y_test = np.where(X_test[:, 0] > 0, y_test, -y_test)
    assert model.score(X_test, y_test) > complete.score(X_test, y_test) - 0.05


def test_rows_with_nothing_observed_change_nothing():
    X, y, _ = _correlated_problem(300, 9)
    X, y = _mcar(X, 0.2, 5), _mcar(y, 0.2, 6)
    model = GMJE(n_components=2, random_state=0).fit(X, y)
    padded = GMJE(n_components=2, random_state=0).fit(
        np.vstack([X, np.full((5, 3), np.nan)]), np.concatenate([y, np.full(5, np.nan)])
    )
    np.testing.assert_allclose(padded.means_, model.means_, atol=1e-8)
    np.testing.assert_allclose(padded.covariances_, model.covariances_, atol=1e-8)


def test_weights_count_as_repeated_rows_with_missing_entries():
    X, y, _ = _correlated_problem(200, 10)
    X, y = _mcar(X, 0.3, 7), _mcar(y, 0.3, 8)
    weights = np.random.RandomState(0).randint(1, 4, size=200)
    weighted = GJE().fit(X, y, sample_weight=weights)
    repeated = GJE().fit(np.repeat(X, weights, axis=0), np.repeat(y, weights))
    np.testing.assert_allclose(weighted.covariance_, repeated.covariance_, atol=1e-8)
    np.testing.assert_allclose(weighted.mean_, repeated.mean_, atol=1e-8)


def test_gmje_streams_and_chooses_k_with_missing_entries():
    X, y, _ = _correlated_problem(1200, 11)
    X, y = _mcar(X, 0.2, 9), _mcar(y, 0.2, 10)
    model = GMJE(n_components=2, random_state=0)
    for start in range(0, 1200, 300):
        model.partial_fit(X[start : start + 300], y[start : start + 300])
    assert np.all(np.isfinite(model.means_))
    chosen = GMJE(cv=2, random_state=0).fit(X[:200], y[:200])
    assert np.all(np.isfinite(list(chosen.n_components_scores_.values())))


def test_fitting_with_missing_entries_refuses_what_it_cannot_do():
    X, y, _ = _correlated_problem(100, 12)
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match=r"Column\(s\) \[1\]"):
        GMJE(n_components=1).fit(X, y)
    X, y, _ = _correlated_problem(100, 12)
    X[0, 0] = np.nan
    with pytest.raises(ValueError, match="conditional_refinement needs complete rows"):
        GMJE(n_components=1, conditional_refinement=True).fit(X, y)
    with pytest.raises(ValueError, match="does not accept missing values.*BayesianGMJE fit"):
        SMCGMJE().fit(X, y)


def test_the_variational_bound_never_decreases_with_missing_entries():
    # The bound holds the entropy of the missing entries' posterior given each component;
    # without it, this fit's bound decreases at some iterations.
    X, y, _ = _correlated_problem(600, 13)
    y = np.where(X[:, 0] > 0, y, -y)
    model = BayesianGMJE(
        n_components=4, covariance_fraction=0.1, tol=0.0, max_iter=60, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        model.fit(_mcar(X, 0.25, 11), _mcar(y, 0.25, 12))
    assert np.all(np.diff(model.lower_bounds_) > -1e-9)
    assert np.isfinite(model.score(X, y))
