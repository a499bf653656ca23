"""Growing Neural Gas (Fritzke 1995; user guide, "GMJEGNG") in preallocated NumPy arrays.

The graph lives in arrays sized for ``max_nodes`` from the start: node
positions, accumulated errors, per-node sufficient statistics of the points
each node wins, and a dense symmetric matrix of edge ages with ``-1`` for "no
edge". The live nodes are always rows ``0 .. n_nodes - 1``: a removed node is
replaced by the last live one, so every per-sample operation works on one
contiguous slice, without masks, and exporting the graph needs no compaction
pass.

GNG is sequential per sample, so the per-sample step is a short, fixed list of
vectorised operations over the live nodes (distances, two argmins for the top two, the
ageing of the winner's edges, one dense move of the winner and its neighbours);
only the rare events (edge and node removal, insertion) take Python branches.
"""

import numpy as np

from .._persistence import saved_as_fields

# Stored errors are the true errors times ``error_scale``; decaying every error
# by ``d`` then costs one scalar division per sample instead of an array
# multiplication. Rescaling before overflow keeps the stored values finite.
_MAX_ERROR_SCALE = 1e200


@saved_as_fields
class NeuralGasGraph:
    """The mutable state of a Growing Neural Gas.

    Parameters
    ----------
    initial_nodes : ndarray of shape (n_initial, D)
        Starting node positions (two random samples in Fritzke's algorithm);
        they start without edges.
    max_nodes : int
        Capacity of the preallocated arrays; insertion stops there.
    """

    def __init__(self, initial_nodes, max_nodes):
        n_initial, n_features = initial_nodes.shape
        self.max_nodes = max_nodes
        self.nodes = np.zeros((max_nodes, n_features))
        self.nodes[:n_initial] = initial_nodes
        self.errors = np.zeros(max_nodes)
        self.ages = np.full((max_nodes, max_nodes), -1, dtype=np.int64)
        self.counts = np.zeros(max_nodes)
        self.sums = np.zeros((max_nodes, n_features))
        self.squares = np.zeros((max_nodes, n_features, n_features))
        self.n_nodes = n_initial
        self.n_steps = 0
        self.error_scale = 1.0

    def train(
        self,
        Z,
        *,
        eps_winner,
        eps_neighbor,
        max_edge_age,
        insert_every,
        split_error_decay,
        error_decay,
    ):
        """Present the rows of ``Z`` once, in the given order (one step each).

        Returns
        -------
        quantization_error : float
            Sum over the rows of the squared distance to their winner at the
            moment each row was presented.
        """
        nodes, errors, ages = self.nodes, self.errors, self.ages
        buffer = np.empty_like(nodes)
        n_nodes = self.n_nodes
        live_nodes, live_ages, diff = nodes[:n_nodes], ages[:n_nodes, :n_nodes], buffer[:n_nodes]
        n_steps, scale = self.n_steps, self.error_scale
        # The per-sample cost is call overhead, not arithmetic: bound ufuncs and their
        # reduce methods skip the Python wrappers of np.einsum and ndarray.max.
        subtract, square, matmul, row_max = np.subtract, np.square, np.matmul, np.maximum.reduce
        ones = np.ones(nodes.shape[1])
        total = 0.0
        for z in Z:
            subtract(live_nodes, z, out=diff)
            distance = matmul(square(diff), ones)
            # Two argmins beat np.argpartition's overhead at these sizes.
            winner = distance.argmin()
            winner_distance = distance[winner]
            distance[winner] = np.inf
            runner_up = distance.argmin()
            total += winner_distance
            errors[winner] += winner_distance * scale
            row = live_ages[winner]
            linked = row >= 0
            row += linked
            live_ages[:, winner] += linked
            # One dense update moves the winner by eps_winner and its topological
            # neighbours by eps_neighbor; every other node gets a zero rate.
            rates = linked * eps_neighbor
            rates[winner] = eps_winner
            diff *= rates[:, None]
            live_nodes -= diff
            row[runner_up] = 0
            live_ages[runner_up, winner] = 0
            changed = False
            # Only the winner's edges aged, so only its row can hold a too-old edge.
            if row_max(row) > max_edge_age:
                changed = self._remove_old_edges(winner, max_edge_age, n_nodes)
            n_steps += 1
            if n_steps % insert_every == 0 and self.n_nodes < self.max_nodes:
                changed = self._insert_node(split_error_decay) or changed
            scale /= error_decay
            if scale > _MAX_ERROR_SCALE:
                errors[: self.n_nodes] /= scale
                scale = 1.0
            if changed:
                n_nodes = self.n_nodes
                live_nodes, live_ages = nodes[:n_nodes], ages[:n_nodes, :n_nodes]
                diff = buffer[:n_nodes]
        self.n_steps, self.error_scale = n_steps, scale
        return float(total)

    def _remove_old_edges(self, winner, max_edge_age, n_nodes):
        """Drop the winner's edges older than ``max_edge_age``, then nodes left without edges."""
        ages = self.ages
        old = np.flatnonzero(ages[winner, :n_nodes] > max_edge_age)
        ages[winner, old] = -1
        ages[old, winner] = -1
        isolated = [node for node in old if not np.any(ages[node, :n_nodes] >= 0)]
        # Highest index first: the node moved into a freed slot is never one still to remove.
        for node in sorted(isolated, reverse=True):
            self._remove_node(node)
        return bool(isolated)

    def _remove_node(self, node):
        """Remove an edgeless node by moving the last live node into its slot."""
        last = self.n_nodes - 1
        if node != last:
            for array in (self.nodes, self.errors, self.counts, self.sums, self.squares):
                array[node] = array[last]
            self.ages[node, :] = self.ages[last, :]
            self.ages[:, node] = self.ages[:, last]
        self.ages[last, :] = -1
        self.ages[:, last] = -1
        self.n_nodes = last

    def _insert_node(self, split_error_decay):
        """Insert a node halfway between the worst node and its worst neighbour ([GMJE]_ Eq. 26)."""
        n_nodes, errors, ages = self.n_nodes, self.errors, self.ages
        worst = int(np.argmax(errors[:n_nodes]))
        neighbours = np.flatnonzero(ages[worst, :n_nodes] >= 0)
        if neighbours.size == 0:
            return False
        partner = int(neighbours[np.argmax(errors[neighbours])])
        new = n_nodes
        self.nodes[new] = 0.5 * (self.nodes[worst] + self.nodes[partner])
        ages[worst, partner] = ages[partner, worst] = -1
        ages[worst, new] = ages[new, worst] = 0
        ages[partner, new] = ages[new, partner] = 0
        errors[worst] *= split_error_decay
        errors[partner] *= split_error_decay
        errors[new] = errors[worst]
        self.counts[new] = 0.0
        self.sums[new] = 0.0
        self.squares[new] = 0.0
        self.n_nodes = n_nodes + 1
        return True

    def nearest(self, Z, block_rows=1 << 14):
        """Index of the nearest live node for every row of ``Z``."""
        live = self.nodes[: self.n_nodes]
        node_norms = np.einsum("ij,ij->i", live, live)
        labels = np.empty(len(Z), dtype=np.intp)
        for start in range(0, len(Z), block_rows):
            block = Z[start : start + block_rows]
            # ||z||^2 is the same for every node of a row, so it does not change the argmin.
            scores = node_norms - 2.0 * block @ live.T
            labels[start : start + block_rows] = np.argmin(scores, axis=1)
        return labels

    def accumulate(self, Z, weights):
        """Add each row's weighted ``(1, z, z z^T)`` to the statistics of its nearest node."""
        labels = self.nearest(Z)
        order = np.argsort(labels, kind="stable")
        bounds = np.searchsorted(labels[order], np.arange(self.n_nodes + 1))
        for node in range(self.n_nodes):
            rows = order[bounds[node] : bounds[node + 1]]
            if rows.size == 0:
                continue
            points, point_weights = Z[rows], weights[rows]
            weighted = points * point_weights[:, None]
            self.counts[node] += point_weights.sum()
            self.sums[node] += weighted.sum(axis=0)
            self.squares[node] += weighted.T @ points

    def true_errors(self):
        """Accumulated errors of the live nodes, shape (n_nodes,)."""
        return self.errors[: self.n_nodes] / self.error_scale

    def edges(self):
        """Edge list ``(n_edges, 2)`` with ``i < j``, and the ages of those edges."""
        live_ages = self.ages[: self.n_nodes, : self.n_nodes]
        first, second = np.nonzero(np.triu(live_ages >= 0, k=1))
        return np.column_stack([first, second]), live_ages[first, second].copy()
