"""GMJE-GNG: a Growing Neural Gas on the joint ``[x, y]`` turned into a Gaussian mixture."""

import time
from numbers import Integral

import numpy as np
from scipy.sparse import csr_array
from scipy.sparse.csgraph import connected_components
from sklearn.utils import check_random_state

from ._core import em
from ._core.conditioning import prepare_conditioning
from ._core.neural_gas import NeuralGasGraph
from ._validation import Interval, StrOptions, fraction, positive
from .base import ConditionalDensityEstimator, ConditionedOnContext, StreamingMixin

__all__ = ["GMJEGNG"]

COVARIANCE_TYPES = ("full", "tied")

# The "auto" graph's ceiling, reached whenever rows are plentiful (see max_nodes).
_LARGEST_AUTO_GRAPH = 30


def _auto_max_nodes(n_rows, n_joint):
    """The ``max_nodes="auto"`` ceiling for ``n_rows`` training rows in ``n_joint`` dimensions.

    As many nodes as the rows pay for, at ``(D + 1)(D + 2) / 2`` rows per node (the free
    parameters of one full-covariance component: ``D`` mean entries, ``D (D + 1) / 2``
    covariance entries and a weight), between 2 (the graph's start) and
    ``_LARGEST_AUTO_GRAPH``.
    """
    per_node = (n_joint + 1) * (n_joint + 2) // 2
    return int(min(_LARGEST_AUTO_GRAPH, max(2, n_rows // per_node)))


def _node_covariances(scatter, counts, prior_weight, jitter, covariance_type):
    """Component covariances from each component's scatter, shrunk towards the shared one.

    Parameters
    ----------
    scatter : ndarray of shape (K, D, D)
        ``S_k``: each component's sum of (weighted) outer products about its mean.
    counts : ndarray of shape (K,)
        ``N_k``: the points behind each scatter, in rows.
    prior_weight : float
        ``nu``: how many rows the shared covariance counts for in each component's.
    jitter : ndarray of shape (D,)
        Added to every covariance's diagonal.
    covariance_type : {"full", "tied"}

    Returns
    -------
    covariances : ndarray
        ``(S_k + nu S) / (N_k + nu)`` for ``"full"``, with ``S = sum_k S_k / sum_k N_k``
        the shared (pooled) covariance: the posterior mean of ``Sigma_k`` under an
        inverse-Wishart prior whose mean is ``S`` and which is worth ``nu`` rows. ``S``
        itself, shape (D, D), for ``"tied"``.
    """
    diagonal = np.arange(scatter.shape[1])
    shared = scatter.sum(axis=0) / counts.sum()
    if covariance_type == "tied":
        shared[diagonal, diagonal] += jitter
        return shared
    covariances = (scatter + prior_weight * shared) / (counts + prior_weight)[:, None, None]
    covariances[:, diagonal, diagonal] += jitter
    return covariances


class GMJEGNG(StreamingMixin, ConditionedOnContext, ConditionalDensityEstimator):
    """Gaussian Mixture Joint Embedding whose components a Growing Neural Gas discovers.

    A Growing Neural Gas (Fritzke 1995; [GMJE]_ Section 4.5, Algo 1; user guide,
    "GMJEGNG") is trained online on the joint vectors ``z = [x, y]``: the two
    nodes nearest each sample are joined by an edge, the nearest moves towards
    the sample with its topological neighbours, edges that stop being
    refreshed age out, and every ``insert_every`` samples a node is inserted
    where the accumulated quantisation error is largest, up to ``max_nodes``.
    The number of mixture components is therefore discovered, not fixed.

    The graph then becomes a joint Gaussian mixture: every training point is
    assigned to its nearest node; a node's component has the node as mean,
    the (weighted) number of points it wins as weight, and the scatter of
    those points about the node, shrunk towards the shared covariance (the
    pooled scatter of all points about their nodes) by
    ``covariance_prior_weight``, plus ``reg_covar``, as covariance. Nodes that
    win no point are left out of the mixture; ``covariance_type="tied"`` gives
    every component the shared covariance. EM then refines that mixture, with
    the same shrinkage in every M-step, until it converges (``tol``) or for at
    most ``n_em_steps`` iterations. The conditional ``p(y | x)`` is the exact
    conditioning of the mixture, as in :class:`GMJE`.

    The defaults scale with the data: many nodes on few rows in many
    dimensions would each win a handful of points whose scatter is
    near-singular (and exactly singular along any discrete column that is
    constant within a node), and their conditionals would be overconfident.
    ``max_nodes="auto"`` keeps the mixture's free parameters below the number
    of rows, and ``covariance_prior_weight="auto"`` lets the shared covariance
    count for as many rows as there are joint dimensions in every node's.

    Parameters
    ----------
    max_nodes : int or "auto", default="auto"
        Largest number of nodes; the graph stops growing there. ``"auto"``:
        :meth:`fit` allows one node per ``(D + 1)(D + 2) / 2`` training rows
        (with positive weight), ``D`` being the joint dimension: that is one
        full-covariance component's count of free parameters (``D`` mean
        entries, ``D (D + 1) / 2`` covariance entries, a weight), so the mixture
        never has more free parameters than the data have rows. At least 2 (the
        graph's start) and at most 30, the former fixed default, which bounds
        the cost of each sample, ``O(max_nodes x D)``, once rows are plentiful
        (from 180 rows for one context and one target); pass an integer for a
        finer graph. :meth:`partial_fit` cannot know how many rows will come,
        and its running statistics keep growing, so there ``"auto"`` means 30.
    max_edge_age : int, default=50
        Edges older than this (``a_max``) are removed, then nodes left without edges.
    eps_winner : float, default=0.2
        Step of the nearest node towards each sample (``epsilon_b``).
    eps_neighbor : float, default=0.006
        Step of the nearest node's topological neighbours (``epsilon_n``).
    insert_every : int, default=100
        A node is inserted every this many samples (``lambda``) while the
        graph has fewer than ``max_nodes`` nodes.
    split_error_decay : float, default=0.5
        Factor applied to the errors of the two nodes a new node is inserted
        between (``alpha``).
    error_decay : float, default=0.995
        Factor applied to every accumulated error after each sample (``d``).
    max_iter : int, default=10
        Passes over the training data in :meth:`fit`, each in a new random order.
    covariance_type : {"full", "tied"}, default="full"
        ``"full"``: one covariance per node, from the points it wins;
        ``"tied"``: the shared covariance for every node.
    covariance_prior_weight : float or "auto", default="auto"
        ``nu``: the shared covariance ``S`` counts for this many rows in every
        node's covariance, ``(S_k + nu S) / (N_k + nu)`` for a node whose
        ``N_k`` points have scatter ``S_k`` about it (the posterior mean under an
        inverse-Wishart prior with mean ``S`` worth ``nu`` rows), and likewise in
        every EM M-step, with the responsibilities' sums as ``N_k``, so EM does
        not undo it. ``"auto"`` means ``D``, the joint dimension: a node's own
        scatter can only have full rank from ``D`` points on, so the prior
        outweighs the scatter of a node too small to estimate a covariance at
        all and yields to that of a node with many more points than dimensions.
        The shrinkage does not depend on the units of any column, nor on the
        scale of the sample weights (``N_k`` counts rows of the average positive
        weight). 0 uses each node's own scatter alone.
    reg_covar : float, default=1e-6
        Non-negative regularisation relative to the data: ``reg_covar`` times each
        joint column's variance (in the training data, or the first batch of
        :meth:`partial_fit`; ``reg_covar`` itself for a constant column) is added
        to that column's variance in every covariance, so the fit does not depend
        on the units of ``X`` and ``y``.
    n_em_steps : int, default=100
        Most EM iterations run from the GNG mixture at the end of :meth:`fit`;
        0 keeps the GNG's own mixture. The GNG places the components and EM
        sharpens them; because every M-step shrinks as above, running EM to
        convergence keeps the regularisation, and the result is a fixed point
        of the iteration rather than wherever a fixed count happened to stop.
        :meth:`partial_fit` never runs EM.
    tol : float, default=1e-3
        EM stops when the mean log-likelihood of the training rows changes by
        less than this (nats per row), as in :class:`GMJE`.
    random_state : int, RandomState instance or None, default=None
        Seeds the two starting nodes and the order in which samples are visited.
    verbose : int, default=0
        1 prints one line per pass: nodes, edges, mean quantisation error; 2 also
        one line per EM iteration of the refinement: the mean joint log-likelihood
        of the training rows and its change.

    Attributes
    ----------
    reg_covar_ : ndarray of shape (n_features + n_targets,)
        The jitter added to each joint column's variance (see ``reg_covar``).
    max_nodes_ : int
        The graph's ceiling in use (``max_nodes`` with ``"auto"`` resolved).
    covariance_prior_weight_ : float
        ``covariance_prior_weight`` with ``"auto"`` resolved.
    nodes_ : ndarray of shape (n_nodes, n_features + n_targets)
        Node positions (the GNG reference vectors) in the joint space, in the data's units.
    edges_ : ndarray of shape (n_edges, 2)
        Node-index pairs ``(i, j)`` with ``i < j``.
    edge_ages_ : ndarray of shape (n_edges,)
    errors_ : ndarray of shape (n_nodes,)
        Accumulated (decayed) squared quantisation error of each node, in standardised
        units (see Notes).
    node_counts_ : ndarray of shape (n_nodes,)
        Weighted number of training points assigned to each node.
    connected_components_ : ndarray of shape (n_nodes,)
        Label of the graph's connected component that holds each node.
    n_graph_components_ : int
        Number of connected components of the graph.
    n_components_ : int
        Number of mixture components (nodes that won at least one point).
    component_nodes_ : ndarray of shape (n_components_,)
        Index into ``nodes_`` of the node behind each mixture component.
    weights_ : ndarray of shape (n_components_,)
    means_ : ndarray of shape (n_components_, n_features + n_targets)
    covariances_ : ndarray
        Joint covariances, (n_components_, D, D) for ``"full"`` and (D, D) for ``"tied"``.
    conditioning_ : JointConditioning
        Precomputed pieces of the conditional mixture (see :class:`GMJE`).
    n_iter_ : int
        Passes over data done: ``max_iter`` after :meth:`fit`, plus one per
        :meth:`partial_fit` call.
    n_em_iter_ : int
        EM iterations run by the last :meth:`fit` (0 after :meth:`partial_fit`).
    n_steps_ : int
        Samples presented to the graph so far.
    quantization_error_ : float
        Mean squared distance (standardised units) of each sample to its nearest node
        when it was presented, during the last pass.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    n_targets_ : int

    See Also
    --------
    GMJE : the same conditional mixture with components fitted by EM.

    Notes
    -----
    ``fit`` starts a new graph, runs ``max_iter`` passes, then assigns the
    training data to the final nodes, so the mixture statistics are exact for
    the final graph. ``partial_fit`` runs one pass over its batch on the
    current graph (state persists across calls, as dask-ml's ``Incremental``
    needs) and adds the batch's statistics to running per-node sums
    ``(count, sum z, sum z z^T)``, so the mixture reflects every batch seen
    without storing data. Those running sums are approximate: points of
    earlier batches stay with the node they were assigned to even after the
    node has moved, a removed node's statistics are dropped and a new node
    starts with none.

    The graph runs on the joint rows standardised column by column (centred by
    the first training data's weighted means, divided by its weighted standard
    deviations), with each block (the contexts, the targets) then divided by the
    square root of its width and the target block weighed twice as much (the
    reasons are the k-means start's: :class:`GMJE`), so its Euclidean distances do
    not depend on any column's units and many context columns do not drown the
    targets; the node
    positions, the mixture statistics and the EM steps are in the data's units.
    Rescaling or shifting any one column of ``x`` or ``y`` therefore gives the same
    graph, and moves every log-density by ``-log s`` for a target column and not at
    all for a context column. Each sample costs
    O(``max_nodes`` x D) in a handful of vectorised NumPy operations.

    ``sample_weight``: rows with zero weight are ignored entirely; the
    positive weights scale each row's contribution to the mixture statistics
    (weights and covariances). The graph itself is trained on the
    positive-weight rows, each visited once per pass, and ``max_nodes="auto"``
    and the shrinkage count rows, so multiplying every weight by a constant
    changes nothing.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje.gng import GMJEGNG
    >>> from skgmje.datasets import make_separated_branches
    >>> X, y = make_separated_branches(n_samples=2000, random_state=0)
    >>> model = GMJEGNG(random_state=0).fit(X, y)
    >>> model.nodes_.shape, model.n_components_
    ((30, 2), 30)
    >>> model.n_graph_components_   # one chain of nodes along each of the three branches
    3
    >>> # p(y | x = 0) is high on the three branches (y = -1.5, 0, 1.5), near 0 between them
    >>> model.predict_density(np.zeros((5, 1)), [-1.5, -0.75, 0.0, 0.75, 1.5]) > 0.1
    array([ True, False,  True, False,  True])
    >>> round(model.score(X, y), 2)   # mean log p(y | x) in nats; the oracle's is about -0.2
    -0.16
    """

    _parameter_constraints = {
        # GNG starts with two nodes.
        "max_nodes": [Interval(Integral, 2, None, closed="left"), StrOptions({"auto"})],
        "max_edge_age": [positive(Integral)],
        "eps_winner": [fraction()],
        "eps_neighbor": [fraction(allow_zero=True)],
        "insert_every": [positive(Integral)],
        "split_error_decay": [fraction()],
        "error_decay": [fraction()],
        "max_iter": [positive(Integral)],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "covariance_prior_weight": [positive(allow_zero=True), StrOptions({"auto"})],
        "reg_covar": [positive(allow_zero=True)],
        "n_em_steps": [positive(Integral, allow_zero=True)],
        "tol": [positive(allow_zero=True)],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        max_nodes="auto",
        *,
        max_edge_age=50,
        eps_winner=0.2,
        eps_neighbor=0.006,
        insert_every=100,
        split_error_decay=0.5,
        error_decay=0.995,
        max_iter=10,
        covariance_type="full",
        covariance_prior_weight="auto",
        reg_covar=1e-6,
        n_em_steps=100,
        tol=1e-3,
        random_state=None,
        verbose=0,
    ):
        self.max_nodes = max_nodes
        self.max_edge_age = max_edge_age
        self.eps_winner = eps_winner
        self.eps_neighbor = eps_neighbor
        self.insert_every = insert_every
        self.split_error_decay = split_error_decay
        self.error_decay = error_decay
        self.max_iter = max_iter
        self.covariance_type = covariance_type
        self.covariance_prior_weight = covariance_prior_weight
        self.reg_covar = reg_covar
        self.n_em_steps = n_em_steps
        self.tol = tol
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, Y, sample_weight):
        Z = np.hstack([X, Y])
        weights = np.ones(len(Z)) if sample_weight is None else sample_weight
        self._rng = check_random_state(self.random_state)
        kept, kept_weights = self._positive_rows(Z, weights)
        self._set_units(kept, kept_weights, X.shape[1])
        self._rows_seen, self._weight_seen = len(kept), kept_weights.sum()
        self.max_nodes_ = (
            _auto_max_nodes(len(kept), Z.shape[1]) if self.max_nodes == "auto" else self.max_nodes
        )
        kept -= self._center
        standardised = kept / self._scale
        self._graph = self._new_graph(standardised)
        self.n_iter_ = 0
        for _ in range(self.max_iter):
            self._train_pass(standardised)
        self._graph.accumulate(standardised, kept_weights)
        return self._export(X.shape[1], refine_on=(kept, kept_weights))

    def partial_fit(self, X, y, sample_weight=None):
        """Run one pass of the graph over a batch and update the mixture.

        The first call starts the graph (and fixes the feature and target
        widths and ``max_nodes``); later calls continue it. See the Notes of
        the class for how the mixture statistics accumulate across calls.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        return super().partial_fit(X, y, sample_weight)

    def _partial_fit(self, X, Y, weights, first_call):
        Z = np.hstack([X, Y])
        if first_call:
            if not np.any(weights > 0):
                raise ValueError("sample_weight must contain at least one positive weight.")
            self._rng = check_random_state(self.random_state)
            self.n_iter_ = 0
        kept, kept_weights = self._positive_rows(Z, weights)
        if first_call:
            self._set_units(kept, kept_weights, X.shape[1])
            self._rows_seen, self._weight_seen = 0, 0.0
            self.max_nodes_ = _LARGEST_AUTO_GRAPH if self.max_nodes == "auto" else self.max_nodes
        self._rows_seen += len(kept)
        self._weight_seen += kept_weights.sum()
        standardised = (kept - self._center) / self._scale
        if first_call:
            self._graph = self._new_graph(standardised)
        if len(kept):
            self._train_pass(standardised)
            self._graph.accumulate(standardised, kept_weights)
        return self._export(X.shape[1], refine_on=None)

    def _set_units(self, Z, weights, n_context):
        """The first data's column means, the graph's column scales, the jitter, the prior weight.

        The graph runs on rows centred by the means and divided by the standard
        deviations (and balanced by block, x or y: see :func:`skgmje._core.em.column_scales`),
        so its Euclidean distances do not depend on any column's units; the mixture
        statistics are mapped back to the data's units.
        """
        self._center = np.average(Z, axis=0, weights=weights)
        variances = em.weighted_variances(Z - self._center, weights)
        self._scale = em.column_scales(variances, n_context)
        self.reg_covar_ = em.covariance_jitter(variances, self.reg_covar)
        self.covariance_prior_weight_ = float(
            len(variances)
            if self.covariance_prior_weight == "auto"
            else self.covariance_prior_weight
        )

    @staticmethod
    def _positive_rows(Z, weights):
        positive = weights > 0
        return np.ascontiguousarray(Z[positive]), weights[positive]

    def _new_graph(self, Z):
        if len(Z) < 2:
            raise ValueError(f"GMJEGNG starts from two samples with positive weight; got {len(Z)}.")
        start = self._rng.choice(len(Z), size=2, replace=False)
        return NeuralGasGraph(Z[start], self.max_nodes_)

    def _train_pass(self, Z):
        started = time.perf_counter()
        total = self._graph.train(
            Z[self._rng.permutation(len(Z))],
            eps_winner=self.eps_winner,
            eps_neighbor=self.eps_neighbor,
            max_edge_age=self.max_edge_age,
            insert_every=self.insert_every,
            split_error_decay=self.split_error_decay,
            error_decay=self.error_decay,
        )
        self.n_iter_ += 1
        self.quantization_error_ = total / len(Z)
        self._print(
            1,
            f"Pass {self.n_iter_}: {self._graph.n_nodes} nodes, "
            f"{len(self._graph.edges()[0])} edges, mean quantisation error "
            f"{self.quantization_error_:.6g} ({time.perf_counter() - started:.2f} s)",
        )

    def _export(self, n_context, refine_on):
        """Public graph attributes, then the mixture built from the node statistics."""
        graph, center = self._graph, self._center
        n_nodes = graph.n_nodes
        self.nodes_ = graph.nodes[:n_nodes] * self._scale + center
        self.edges_, self.edge_ages_ = graph.edges()
        self.errors_ = graph.true_errors()
        self.node_counts_ = graph.counts[:n_nodes].copy()
        self.n_steps_ = graph.n_steps
        adjacency = csr_array(
            (np.ones(len(self.edges_)), (self.edges_[:, 0], self.edges_[:, 1])),
            shape=(n_nodes, n_nodes),
        )
        self.n_graph_components_, self.connected_components_ = connected_components(
            adjacency, directed=False
        )
        parameters = self._mixture_from_statistics()
        self.n_em_iter_ = 0
        if refine_on is not None:
            parameters = self._refine(parameters, *refine_on)
        self.weights_ = parameters.weights
        self.means_ = parameters.means + center
        self.covariances_ = parameters.covariances
        self.n_components_ = len(self.weights_)
        covariances = em.full_covariances(
            self.covariances_, self.covariance_type, self.n_components_, self.means_.shape[1]
        )
        self.conditioning_ = prepare_conditioning(
            self.weights_, self.means_, covariances, n_context
        )
        return self

    def _refine(self, parameters, Z, weights):
        """EM from the GNG mixture, each M-step shrinking as the GNG mixture does."""
        previous = -np.inf
        for _ in range(self.n_em_steps):
            statistics = em.e_step(Z, parameters, self.covariance_type, weights)
            mean_log_likelihood = statistics.log_likelihood / statistics.total_weight
            if abs(mean_log_likelihood - previous) < self.tol:
                break
            self._print(
                2,
                f"EM iteration {self.n_em_iter_ + 1}: mean log-likelihood "
                f"{mean_log_likelihood:.6f} (change {mean_log_likelihood - previous:.3g})",
            )
            previous = mean_log_likelihood
            if self.covariance_type == "tied":
                parameters = em.m_step(statistics, "tied", self.reg_covar_)
            else:
                parameters = self._shrunk_m_step(statistics)
            self.n_em_iter_ += 1
        return parameters

    def _shrunk_m_step(self, statistics):
        counts = statistics.resp_sums + 10 * np.finfo(float).eps
        means = statistics.first_moments / counts[:, None]
        scatter = statistics.second_moments - np.einsum(
            "kd,ke->kde", means, statistics.first_moments
        )
        scatter = 0.5 * (scatter + np.swapaxes(scatter, 1, 2))
        covariances = self._covariances(scatter, counts)
        return em.MixtureParameters(
            counts / counts.sum(),
            means,
            covariances,
            em.precisions_cholesky_of(covariances, "full"),
        )

    def _covariances(self, scatter, counts):
        """:func:`_node_covariances` of weighted statistics, counted in rows."""
        rows_per_weight = self._rows_seen / self._weight_seen
        return _node_covariances(
            scatter * rows_per_weight,
            counts * rows_per_weight,
            self.covariance_prior_weight_,
            self.reg_covar_,
            self.covariance_type,
        )

    def _mixture_from_statistics(self):
        """Means = nodes, weights = win counts, covariances = shrunk scatter about the nodes."""
        graph = self._graph
        n_nodes = graph.n_nodes
        counts = graph.counts[:n_nodes]
        won = np.flatnonzero(counts > 0)
        self.component_nodes_ = won
        # The graph's statistics are of standardised rows: back to the centred data units.
        scale = self._scale
        counts, means = counts[won], graph.nodes[won] * scale
        sums, squares = graph.sums[won] * scale, graph.squares[won] * np.outer(scale, scale)
        # sum_i (z_i - m)(z_i - m)^T = sum z z^T - m s^T - s m^T + N m m^T, with s = sum z.
        cross = np.einsum("kd,ke->kde", means, sums)
        scatter = (
            squares
            - cross
            - np.swapaxes(cross, 1, 2)
            + counts[:, None, None] * np.einsum("kd,ke->kde", means, means)
        )
        scatter = 0.5 * (scatter + np.swapaxes(scatter, 1, 2))
        covariances = self._covariances(scatter, counts)
        return em.MixtureParameters(
            counts / counts.sum(),
            means,
            covariances,
            em.precisions_cholesky_of(covariances, self.covariance_type),
        )
