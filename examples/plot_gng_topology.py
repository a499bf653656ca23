"""
============================================
Topology discovery with a Growing Neural Gas
============================================

:class:`~skgmje.GMJEGNG` does not need to be told how many components to use:
a Growing Neural Gas (Fritzke, 1995; the paper's Section 4.5) grows a graph
on the joint vectors ``z = [x, y]``, inserting a node where the quantisation
error is largest and dropping edges that stop being refreshed. Each node then
becomes a Gaussian component. The graph's edges say which components are
neighbours, so its connected pieces are the separate pieces of the data.

The first figure streams Datasets A and B through
:meth:`~skgmje.GMJEGNG.partial_fit` in batches and draws the graph as it
grows (``nodes_`` and ``edges_``, nodes coloured by their connected component,
``connected_components_``). On Dataset A the three branches never meet and the
graph splits into three chains, one per branch (``n_graph_components_ = 3``);
on Dataset B the branches cross at the origin and the graph stays in one
piece, with the crossing as a hub.

The second figure shows the mixture that the fitted graph becomes (with the
default ``fit``: ten passes and ten EM steps), and its held-out NLL against the
oracle's.
"""

import matplotlib.pyplot as plt
import numpy as np

from skgmje import GMJEGNG
from skgmje.datasets import BranchesOracle, make_intersecting_branches, make_separated_branches

DATASETS = {
    "A (separated)": ("separated", make_separated_branches),
    "B (intersecting)": ("intersecting", make_intersecting_branches),
}


def draw_graph(axis, model, X, y):
    axis.scatter(X[:, 0], y, s=1, c="0.8", linewidths=0, rasterized=True)
    nodes = model.nodes_
    for i, j in model.edges_:
        axis.plot(nodes[[i, j], 0], nodes[[i, j], 1], c="0.3", lw=0.8, zorder=2)
    labels = model.connected_components_
    axis.scatter(
        nodes[:, 0],
        nodes[:, 1],
        s=18,
        c=plt.cm.tab10(labels % 10),
        edgecolors="k",
        linewidths=0.4,
        zorder=3,
    )
    axis.set_xlim(-1.1, 1.1)


# %%
# Growing the graph batch by batch
# --------------------------------
# 200 rows per ``partial_fit`` call, one pass over each batch; a node is
# inserted every 100 samples until ``max_nodes = 30``.

checkpoints = (1, 3, 10, 40)  # batches seen
figure, axes = plt.subplots(2, len(checkpoints), figsize=(13, 6.5), sharex=True)
for row, (title, (_, make)) in enumerate(DATASETS.items()):
    X, y = make(n_samples=8000, random_state=0)
    model = GMJEGNG(random_state=0)
    batches = zip(np.array_split(X, 40), np.array_split(y, 40))
    for seen, (X_batch, y_batch) in enumerate(batches, start=1):
        model.partial_fit(X_batch, y_batch)
        if seen in checkpoints:
            axis = axes[row, checkpoints.index(seen)]
            draw_graph(axis, model, X[: 200 * seen], y[: 200 * seen])
            axis.set_title(
                f"{title}: {200 * seen} samples\n{len(model.nodes_)} nodes, "
                f"{len(model.edges_)} edges, {model.n_graph_components_} piece(s)",
                fontsize=9,
            )
    axes[row, 0].set_ylabel("target y")
for axis in axes[-1]:
    axis.set_xlabel("context x")
figure.tight_layout()

# %%
# From graph to mixture
# ---------------------
# Every node that wins training points becomes a Gaussian component: the node
# as its mean, its points' scatter as its covariance, their count as its
# weight. The heat map is the conditional ``p(y | x)`` of that mixture.

x_grid = np.linspace(-1.0, 1.0, 200)[:, None]
figure, axes = plt.subplots(1, 2, figsize=(12, 4.8))
for axis, (title, (name, make)) in zip(axes, DATASETS.items()):
    X_all, y_all = make(n_samples=7000, random_state=0)
    X, y, X_test, y_test = X_all[:2000], y_all[:2000], X_all[2000:], y_all[2000:]
    model = GMJEGNG(random_state=0).fit(X, y)
    y_grid = np.linspace(y.min() - 0.3, y.max() + 0.3, 200)
    density = model.predict_distribution(x_grid).pdf(
        np.repeat(y_grid[:, None], len(x_grid), axis=1)
    )
    axis.pcolormesh(
        x_grid[:, 0], y_grid, np.sqrt(density), cmap="Greys", shading="auto", rasterized=True
    )
    nodes = model.nodes_
    for i, j in model.edges_:
        axis.plot(nodes[[i, j], 0], nodes[[i, j], 1], c="C3", lw=1)
    axis.scatter(
        nodes[:, 0],
        nodes[:, 1],
        s=20,
        c=plt.cm.tab10(model.connected_components_ % 10),
        edgecolors="k",
        linewidths=0.4,
        zorder=3,
    )
    nll = -model.score(X_test, y_test)
    oracle = -BranchesOracle(name).score(X_test, y_test)
    axis.set_title(
        f"{title}: {model.n_components_} components, {model.n_graph_components_} graph piece(s)\n"
        f"held-out NLL {nll:.3f} (oracle {oracle:.3f})",
        fontsize=10,
    )
    axis.set_xlim(-1, 1)
    axis.set_xlabel("context x")
axes[0].set_ylabel("target y")
figure.tight_layout()
plt.show()
