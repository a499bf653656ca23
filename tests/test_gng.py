"""GMJEGNG: the Growing Neural Gas against a literal reference, its topology, its mixture."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import clone
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmje import GMJE
from skgmje._core.neural_gas import NeuralGasGraph
from skgmje.datasets import make_intersecting_branches, make_separated_branches
from skgmje.gng import GMJEGNG

PREDICTS_WITH_MISSING_CONTEXTS = (
    "predict conditions a row with NaN contexts on its observed ones (tested in "
    "test_missing.py), while fit takes complete rows only, a combination the check has no tag for"
)
SCORE_SAMPLES_NEEDS_Y = (
    "score_samples is the conditional log-density log p(y|x) and needs y; "
    "order and subset invariance are tested with y in test_estimators.py"
)
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": SCORE_SAMPLES_NEEDS_Y,
    "check_methods_subset_invariance": SCORE_SAMPLES_NEEDS_Y,
}
ONLINE_GRAPH = (
    "GNG is online: a repeated row is presented twice per pass, a weighted row once (weights "
    "scale only the mixture statistics), so the graphs differ and EM from them can stop in "
    "different local optima"
)
EXPECTED_FAILED_CHECKS = {
    **EXPECTED_FAILED_CHECKS,
    "check_sample_weight_equivalence_on_dense_data": ONLINE_GRAPH,
    "check_estimators_nan_inf": PREDICTS_WITH_MISSING_CONTEXTS,
}


FRITZKE = dict(
    eps_winner=0.2,
    eps_neighbor=0.006,
    max_edge_age=50,
    insert_every=100,
    split_error_decay=0.5,
    error_decay=0.995,
)


@parametrize_with_checks(
    [
        GMJEGNG(max_iter=3),
        GMJEGNG(max_nodes=4, covariance_type="tied", n_em_steps=0, random_state=0),
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _reference_gng(
    Z,
    start,
    *,
    max_nodes,
    eps_winner,
    eps_neighbor,
    max_edge_age,
    insert_every,
    split_error_decay,
    error_decay,
):
    """Fritzke's algorithm ([GMJE]_ Algo 1; user guide, "GMJEGNG") read literally: nodes in a
    dict, edges keyed by node pairs."""
    nodes = {index: point.copy() for index, point in enumerate(start)}
    errors = dict.fromkeys(nodes, 0.0)
    edges = {}
    next_id = len(nodes)
    for step, z in enumerate(Z, start=1):
        distance = {i: float(np.sum((w - z) ** 2)) for i, w in nodes.items()}
        winner, runner_up = sorted(distance, key=distance.get)[:2]
        neighbours = [i for edge in edges if winner in edge for i in edge if i != winner]
        for edge in edges:
            if winner in edge:
                edges[edge] += 1
        errors[winner] += distance[winner]
        nodes[winner] += eps_winner * (z - nodes[winner])
        for i in neighbours:
            nodes[i] += eps_neighbor * (z - nodes[i])
        edges[frozenset((winner, runner_up))] = 0
        edges = {edge: age for edge, age in edges.items() if age <= max_edge_age}
        connected = set().union(*edges)
        nodes = {i: w for i, w in nodes.items() if i in connected}
        errors = {i: e for i, e in errors.items() if i in connected}
        if step % insert_every == 0 and len(nodes) < max_nodes:
            worst = max(errors, key=errors.get)
            partner = max(
                (i for edge in edges if worst in edge for i in edge if i != worst), key=errors.get
            )
            nodes[next_id] = 0.5 * (nodes[worst] + nodes[partner])
            del edges[frozenset((worst, partner))]
            edges[frozenset((worst, next_id))] = edges[frozenset((partner, next_id))] = 0
            errors[worst] *= split_error_decay
            errors[partner] *= split_error_decay
            errors[next_id] = errors[worst]
            next_id += 1
        errors = {i: e * error_decay for i, e in errors.items()}
    return nodes, errors, edges


def _canonical(positions, errors, edge_pairs, edge_ages):
    """Graph described by node positions, so that node numbering does not matter."""
    order = np.lexsort(positions.T[::-1])
    rank = np.empty(len(order), dtype=int)
    rank[order] = np.arange(len(order))
    edges = sorted(
        (tuple(sorted((rank[i], rank[j]))), age) for (i, j), age in zip(edge_pairs, edge_ages)
    )
    return positions[order], errors[order], edges


@pytest.mark.parametrize("n_features, max_edge_age", [(2, 50), (5, 8)])
def test_graph_matches_a_literal_reference_implementation(n_features, max_edge_age):
    rng = np.random.RandomState(0)
    centers = rng.normal(scale=4.0, size=(4, n_features))
    Z = centers[rng.randint(4, size=1500)] + rng.normal(size=(1500, n_features))
    parameters = dict(FRITZKE, max_edge_age=max_edge_age, insert_every=40)
    graph = NeuralGasGraph(Z[:2], max_nodes=25)
    graph.train(Z, **parameters)
    nodes, errors, edges = _reference_gng(Z, Z[:2], max_nodes=25, **parameters)
    ids = list(nodes)
    position_of = {node: index for index, node in enumerate(ids)}
    expected = _canonical(
        np.array([nodes[i] for i in ids]),
        np.array([errors[i] for i in ids]),
        [tuple(position_of[i] for i in edge) for edge in edges],
        list(edges.values()),
    )
    edge_pairs, edge_ages = graph.edges()
    actual = _canonical(graph.nodes[: graph.n_nodes], graph.true_errors(), edge_pairs, edge_ages)
    assert graph.n_nodes == len(nodes) == 25
    np.testing.assert_allclose(actual[0], expected[0], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(actual[1], expected[1], rtol=1e-9)
    assert actual[2] == expected[2]


def test_three_far_apart_blobs_become_three_graph_components():
    rng = np.random.RandomState(0)
    centers = np.array([[0.0, 0.0, 0.0], [20.0, 0.0, 5.0], [0.0, 20.0, -5.0]])
    labels = rng.randint(3, size=1500)
    Z = centers[labels] + rng.normal(size=(1500, 3))
    model = GMJEGNG(max_nodes=30, max_iter=5, random_state=0).fit(Z[:, :2], Z[:, 2])
    assert model.n_graph_components_ == 3
    # Each graph component covers exactly one blob: its nodes sit nearest one center.
    nearest_center = np.argmin(
        ((model.nodes_[:, None, :] - centers[None]) ** 2).sum(axis=2), axis=1
    )
    for component in range(3):
        assert len(set(nearest_center[model.connected_components_ == component])) == 1
    assert set(nearest_center) == {0, 1, 2}


def test_a_noisy_ring_becomes_one_cycle():
    rng = np.random.RandomState(0)
    angle = rng.uniform(0.0, 2.0 * np.pi, size=1000)
    radius = 1.0 + 0.05 * rng.normal(size=1000)
    X, y = (radius * np.cos(angle))[:, None], radius * np.sin(angle)
    model = GMJEGNG(max_nodes=16, max_iter=5, n_em_steps=0, random_state=0).fit(X, y)
    degrees = np.bincount(model.edges_.ravel(), minlength=len(model.nodes_))
    # Connected, every node of degree two and as many edges as nodes: a single cycle.
    assert model.n_graph_components_ == 1
    assert np.all(degrees == 2) and len(model.edges_) == len(model.nodes_) == 16
    np.testing.assert_allclose(np.linalg.norm(model.nodes_, axis=1), 1.0, atol=0.1)
    # The cycle goes around the hole: consecutive nodes differ by one step in angle.
    steps = np.diff(np.sort(np.arctan2(model.nodes_[:, 1], model.nodes_[:, 0])))
    assert np.all(steps < 2.0 * np.pi / 16 * 2)


@settings(max_examples=25, deadline=None)
@given(
    max_nodes=st.integers(2, 12),
    insert_every=st.integers(1, 30),
    max_edge_age=st.integers(1, 20),
    n_samples=st.integers(2, 200),
    n_batches=st.integers(1, 3),
    seed=st.integers(0, 2**16),
)
def test_graph_stays_consistent_and_within_max_nodes(
    max_nodes, insert_every, max_edge_age, n_samples, n_batches, seed
):
    rng = np.random.RandomState(seed)
    model = GMJEGNG(
        max_nodes=max_nodes,
        insert_every=insert_every,
        max_edge_age=max_edge_age,
        eps_neighbor=0.05,
        random_state=seed,
    )
    for _ in range(n_batches):
        X = rng.normal(size=(n_samples, 2)) + 3.0 * rng.randint(3, size=(n_samples, 1))
        model.partial_fit(X, X[:, 0] * X[:, 1] + rng.normal(size=n_samples))
        n_nodes = len(model.nodes_)
        assert 2 <= n_nodes <= max_nodes
        edges = model.edges_
        assert np.all(edges[:, 0] < edges[:, 1]) and np.all(edges[:, 1] < n_nodes)
        assert len({tuple(edge) for edge in edges}) == len(edges)
        assert np.all((model.edge_ages_ >= 0) & (model.edge_ages_ <= max_edge_age))
        # Nodes left without edges are removed.
        assert np.all(np.bincount(edges.ravel(), minlength=n_nodes) > 0)
        assert np.all(model.errors_ >= 0) and np.all(np.isfinite(model.nodes_))
        assert model.n_components_ == np.count_nonzero(model.node_counts_)
        assert np.isfinite(model.score(X, X[:, 0] * X[:, 1]))


def test_same_random_state_gives_the_same_graph():
    X, y = make_separated_branches(n_samples=600, random_state=0)
    first = GMJEGNG(max_iter=3, random_state=7).fit(X, y)
    second = GMJEGNG(max_iter=3, random_state=7).fit(X, y)
    other = GMJEGNG(max_iter=3, random_state=8).fit(X, y)
    for name in ["nodes_", "edges_", "edge_ages_", "errors_", "means_", "covariances_"]:
        np.testing.assert_array_equal(getattr(first, name), getattr(second, name))
    assert not np.array_equal(first.nodes_, other.nodes_)
    np.testing.assert_array_equal(first.score_samples(X, y), second.score_samples(X, y))


def _scatter_about(points, center):
    diff = points - center
    return diff.T @ diff / len(points)


def test_mixture_is_built_from_the_points_each_node_wins():
    X, y = make_intersecting_branches(n_samples=800, random_state=0)
    # covariance_prior_weight="auto": the shared covariance counts for D = 2 rows in each node.
    model = GMJEGNG(max_nodes=12, max_iter=3, n_em_steps=0, reg_covar=1e-3, random_state=0).fit(
        X, y
    )
    Z = np.column_stack([X, y])
    # The graph's distances are between columns standardised by the training moments,
    # the target counting twice (one context column and one target: blocks of width 1).
    scale = Z.std(axis=0) / np.array([1.0, 2.0])
    differences = (Z[:, None, :] - model.nodes_[None]) / scale
    winners = np.argmin((differences**2).sum(axis=2), axis=1)
    np.testing.assert_array_equal(
        model.node_counts_, np.bincount(winners, minlength=len(model.nodes_))
    )
    np.testing.assert_array_equal(model.component_nodes_, np.flatnonzero(model.node_counts_))
    np.testing.assert_allclose(model.means_, model.nodes_[model.component_nodes_], rtol=1e-12)
    np.testing.assert_allclose(model.weights_, model.node_counts_[model.component_nodes_] / len(Z))
    jitter = np.diag(1e-3 * Z.var(axis=0))  # reg_covar is relative to each column's variance
    np.testing.assert_allclose(np.diag(model.reg_covar_), jitter, rtol=1e-10)
    counts = model.node_counts_[model.component_nodes_]
    scatters = [
        _scatter_about(Z[winners == node], model.nodes_[node]) * count
        for node, count in zip(model.component_nodes_, counts)
    ]
    pooled = sum(scatters) / len(Z)
    assert model.covariance_prior_weight_ == 2.0
    for component, (scatter, count) in enumerate(zip(scatters, counts)):
        expected = (scatter + 2.0 * pooled) / (count + 2.0) + jitter
        np.testing.assert_allclose(model.covariances_[component], expected, rtol=1e-8, atol=1e-12)
    tied = clone(model).set_params(covariance_type="tied").fit(X, y)
    np.testing.assert_allclose(tied.covariances_, pooled + jitter, rtol=1e-8)
    own = clone(model).set_params(covariance_prior_weight=0).fit(X, y)
    for component, (scatter, count) in enumerate(zip(scatters, counts)):
        np.testing.assert_allclose(own.covariances_[component], scatter / count + jitter, rtol=1e-8)


def _linear_gaussian(n_samples, random_state):
    """y linear in nine contexts (one binary) plus noise of standard deviation 0.5: D = 10."""
    rng = np.random.RandomState(random_state)
    X = rng.normal(size=(n_samples, 9))
    X[:, 0] = rng.randint(2, size=n_samples)
    return X, X @ np.linspace(1.0, -1.0, 9) + 0.5 * rng.normal(size=n_samples)


def _interval_coverage(model, X, y):
    """Share of ``y`` inside the central 90% interval of 1000 draws from ``p(y | x)``."""
    low, high = np.quantile(model.sample(X, n_samples=1000, random_state=0), [0.05, 0.95], axis=1)
    return np.mean((y >= low) & (y <= high))


def test_few_rows_in_many_dimensions_do_not_collapse():
    X, y = _linear_gaussian(300, random_state=0)
    X_test, y_test = _linear_gaussian(2000, random_state=1)
    oracle = 0.5 * np.log(2.0 * np.pi * 0.25) + 0.5
    model = GMJEGNG(random_state=0).fit(X, y)
    # 300 rows pay for 4 components of 66 free parameters each in D = 10.
    assert model.max_nodes_ == model.n_components_ == 4
    assert model.covariance_prior_weight_ == 10.0
    assert 0.8 < _interval_coverage(model, X_test, y_test) < 0.95
    assert -model.score(X_test, y_test) < oracle + 0.2
    # The former defaults: 30 nodes of about ten points, each its own covariance (exactly
    # singular along the binary column where a node holds one value of it), and fixed EM
    # steps that re-fit those covariances: wildly overconfident.
    former = GMJEGNG(max_nodes=30, covariance_prior_weight=0, n_em_steps=10, tol=0, random_state=0)
    former.fit(X, y)
    assert _interval_coverage(former, X_test, y_test) < 0.5
    assert -former.score(X_test, y_test) > oracle + 10.0


@pytest.mark.parametrize(
    "n_samples, n_features, n_targets, expected",
    [(2000, 1, 1, 30), (179, 1, 1, 29), (455, 13, 1, 3), (100, 13, 1, 2), (700, 8, 2, 10)],
)
def test_auto_max_nodes_pays_for_each_components_parameters(
    n_samples, n_features, n_targets, expected
):
    rng = np.random.RandomState(0)
    X, Y = rng.normal(size=(n_samples, n_features)), rng.normal(size=(n_samples, n_targets))
    weights = np.r_[np.ones(n_samples), np.zeros(50)]
    X, Y = (
        np.vstack([X, rng.normal(size=(50, n_features))]),
        np.vstack([Y, np.zeros((50, n_targets))]),
    )
    # (D + 1)(D + 2) / 2 positive-weight rows per node, between 2 and 30.
    model = GMJEGNG(max_iter=1, n_em_steps=0, random_state=0).fit(X, Y, sample_weight=weights)
    assert model.max_nodes_ == expected
    assert len(model.nodes_) <= expected
    assert GMJEGNG(max_nodes=5, max_iter=1).fit(X, Y).max_nodes_ == 5
    assert GMJEGNG(max_iter=1).partial_fit(X[:20], Y[:20]).max_nodes_ == 30


def test_covariance_prior_weight_moves_nodes_towards_the_shared_covariance():
    X, y = make_separated_branches(n_samples=400, random_state=0)
    options = dict(max_nodes=10, max_iter=2, n_em_steps=0, random_state=0)
    tied = GMJEGNG(covariance_type="tied", **options).fit(X, y)
    # The graph does not depend on the prior: the same nodes, statistics and shared covariance.
    fits = [GMJEGNG(covariance_prior_weight=nu, **options).fit(X, y) for nu in (0, 5, 1e12)]
    for fit in fits:
        np.testing.assert_array_equal(fit.nodes_, tied.nodes_)
    distances = [np.linalg.norm(fit.covariances_ - tied.covariances_, axis=(1, 2)) for fit in fits]
    # A node's own scatter keeps the weight N_k / (N_k + nu): few points, mostly shared.
    counts = tied.node_counts_[tied.component_nodes_]
    np.testing.assert_allclose(distances[1], distances[0] * counts / (counts + 5.0), rtol=1e-8)
    np.testing.assert_allclose(distances[2], 0.0, atol=1e-10)


def test_em_runs_until_the_log_likelihood_settles():
    X, y = make_intersecting_branches(n_samples=1000, random_state=0)
    model = GMJEGNG(max_iter=3, random_state=0).fit(X, y)
    assert 0 < model.n_em_iter_ < model.n_em_steps
    capped = GMJEGNG(max_iter=3, n_em_steps=3, tol=0, random_state=0).fit(X, y)
    assert capped.n_em_iter_ == 3
    # One more step from the converged mixture barely moves it.
    longer = GMJEGNG(max_iter=3, n_em_steps=model.n_em_iter_ + 1, tol=0, random_state=0)
    assert abs(longer.fit(X, y).score(X, y) - model.score(X, y)) < 1e-3
    assert GMJEGNG(max_iter=1).partial_fit(X, y).n_em_iter_ == 0


def test_zero_weight_rows_are_ignored_and_weights_scale_the_statistics():
    X, y = make_separated_branches(n_samples=500, random_state=0)
    weights = np.random.RandomState(0).choice([0.0, 0.5, 2.0], size=len(X))
    weighted = GMJEGNG(max_iter=2, random_state=0).fit(X, y, sample_weight=weights)
    keep = weights > 0
    dropped = GMJEGNG(max_iter=2, random_state=0).fit(X[keep], y[keep], sample_weight=weights[keep])
    np.testing.assert_array_equal(weighted.nodes_, dropped.nodes_)
    np.testing.assert_allclose(weighted.score_samples(X, y), dropped.score_samples(X, y))
    assert weighted.node_counts_.sum() == pytest.approx(weights.sum())
    unweighted = GMJEGNG(max_iter=2, n_em_steps=0, random_state=0).fit(X[keep], y[keep])
    doubled = GMJEGNG(max_iter=2, n_em_steps=0, random_state=0).fit(
        X[keep], y[keep], sample_weight=np.full(keep.sum(), 2.0)
    )
    np.testing.assert_array_equal(unweighted.nodes_, doubled.nodes_)
    np.testing.assert_allclose(doubled.node_counts_, 2.0 * unweighted.node_counts_)
    np.testing.assert_allclose(doubled.covariances_, unweighted.covariances_, rtol=1e-10)


def test_partial_fit_continues_the_graph_and_accumulates_statistics():
    X, y = make_intersecting_branches(n_samples=10000, random_state=0)
    X_test, y_test = make_intersecting_branches(n_samples=2000, random_state=1)
    model = GMJEGNG(max_nodes=20, random_state=0)
    scores = []
    for batch in np.array_split(np.arange(len(X)), 10):
        previous_steps = getattr(model, "n_steps_", 0)
        model.partial_fit(X[batch], y[batch])
        assert model.n_steps_ == previous_steps + len(batch)
        scores.append(model.score(X_test, y_test))
    assert model.n_iter_ == 10 and len(model.nodes_) == 20
    # Running statistics hold every point seen, except those of removed nodes.
    assert 0.9 * len(X) < model.node_counts_.sum() <= len(X)
    # Statistics gathered while the graph was small and moving fade as data accumulates,
    # and the streamed mixture approaches a batch fit of one pass over the same data.
    batch = GMJEGNG(max_nodes=20, max_iter=1, n_em_steps=0, random_state=0).fit(X, y)
    assert scores[-1] > scores[0] + 0.2
    assert scores[-1] > batch.score(X_test, y_test) - 0.15
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(np.column_stack([X, X]), y)
    with pytest.raises(ValueError, match="targets"):
        model.partial_fit(X, np.column_stack([y, y]))


def test_fit_after_partial_fit_starts_over():
    X, y = make_separated_branches(n_samples=400, random_state=0)
    fresh = GMJEGNG(max_iter=2, random_state=0).fit(X, y)
    reused = GMJEGNG(max_iter=2, random_state=0).partial_fit(X[:100], y[:100]).fit(X, y)
    np.testing.assert_array_equal(fresh.nodes_, reused.nodes_)
    assert reused.n_steps_ == fresh.n_steps_ == 800


@pytest.mark.parametrize(
    "make, limit", [(make_separated_branches, 0.30), (make_intersecting_branches, 0.17)]
)
def test_default_model_is_close_to_the_oracle_on_the_demo_data(make, limit):
    X, y = make(7000, random_state=0)
    X_train, y_train, X_test, y_test = X[:2000], y[:2000], X[2000:], y[2000:]
    model = GMJEGNG(random_state=0).fit(X_train, y_train)
    gng_only = GMJEGNG(n_em_steps=0, random_state=0).fit(X_train, y_train)
    three = GMJE(n_components=3, random_state=0).fit(X_train, y_train)
    assert -model.score(X_test, y_test) < limit
    # The GNG mixture alone already beats GMJE with three components; EM sharpens it.
    scores = [m.score(X_test, y_test) for m in (three, gng_only, model)]
    assert scores[0] < scores[1] < scores[2]


def test_verbose_prints_one_line_per_pass(capsys):
    X, y = make_separated_branches(n_samples=200, random_state=0)
    GMJEGNG(max_iter=3, verbose=1, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3
    for line in lines:
        assert "nodes" in line and "edges" in line and "quantisation error" in line


@pytest.mark.parametrize(
    "params, message",
    [
        ({"max_nodes": 1}, "max_nodes"),
        ({"max_nodes": 2.5}, "max_nodes"),
        ({"max_nodes": "many"}, "max_nodes"),
        ({"max_edge_age": 0}, "max_edge_age"),
        ({"eps_winner": 0.0}, "eps_winner"),
        ({"eps_winner": 1.5}, "eps_winner"),
        ({"eps_neighbor": -0.1}, "eps_neighbor"),
        ({"insert_every": 0}, "insert_every"),
        ({"split_error_decay": 2.0}, "split_error_decay"),
        ({"error_decay": 0.0}, "error_decay"),
        ({"max_iter": 0}, "max_iter"),
        ({"covariance_type": "diag"}, "covariance_type"),
        ({"reg_covar": -1.0}, "reg_covar"),
        ({"covariance_prior_weight": -1.0}, "covariance_prior_weight"),
        ({"covariance_prior_weight": "none"}, "covariance_prior_weight"),
        ({"tol": -1.0}, "tol"),
        ({"n_em_steps": -1}, "n_em_steps"),
    ],
)
def test_invalid_parameters_are_named(params, message):
    X, y = make_separated_branches(n_samples=50, random_state=0)
    with pytest.raises(ValueError, match=message):
        GMJEGNG(**params).fit(X, y)
    with pytest.raises(ValueError, match=message):
        GMJEGNG(**params).partial_fit(X, y)


def test_needs_two_samples_with_positive_weight():
    X, y = make_separated_branches(n_samples=5, random_state=0)
    with pytest.raises(ValueError, match="two samples with positive weight"):
        GMJEGNG().fit(X, y, sample_weight=[0.0, 0.0, 1.0, 0.0, 0.0])
