"""
A wider suite of multi-valued problems, each with its exact oracle
==================================================================

The paper's Datasets A and B have three branches and a 1-D target. These four
problems of :mod:`skgmje.datasets` probe what they do not, and each comes with
an oracle class that gives the true ``log p(y | x)`` (``score_samples``), so a
fitted model can be measured against the best possible one:

* :func:`~skgmje.datasets.make_moving_ring`: a 2-D target on a blurred circle
  whose centre moves and whose radius grows with ``x`` (a continuum of modes);
* :func:`~skgmje.datasets.make_heteroscedastic_branches`: Dataset A's branches
  with noise four times wider at ``|x| = 1`` than at 0;
* :func:`~skgmje.datasets.make_irrelevant_features`: Dataset B in the first of
  ten contexts, the other nine irrelevant;
* :func:`~skgmje.datasets.make_splitting_branches`: one branch, then two, then
  three along ``x``.

Below, 2000 draws of each, and the held-out NLL (3000 rows) of the oracle
beside a :class:`~skgmje.GMJE` with 8 components.
"""

import matplotlib.pyplot as plt

from skgmje import GMJE
from skgmje.datasets import (
    HeteroscedasticBranchesOracle,
    IrrelevantFeaturesOracle,
    MovingRingOracle,
    SplittingBranchesOracle,
    make_heteroscedastic_branches,
    make_irrelevant_features,
    make_moving_ring,
    make_splitting_branches,
)

PROBLEMS = {
    "moving ring": (make_moving_ring, MovingRingOracle()),
    "heteroscedastic branches": (make_heteroscedastic_branches, HeteroscedasticBranchesOracle()),
    "irrelevant features": (make_irrelevant_features, IrrelevantFeaturesOracle()),
    "splitting branches": (make_splitting_branches, SplittingBranchesOracle()),
}

fig, axes = plt.subplots(2, 2, figsize=(10, 8))
print(f"{'problem':<26}{'oracle NLL':>12}{'GMJE K=8 NLL':>14}")
for ax, (name, (make, oracle)) in zip(axes.ravel(), PROBLEMS.items()):
    X, y = make(2000, random_state=0)
    X_test, y_test = make(3000, random_state=1)
    oracle_nll = -oracle.score(X_test, y_test)
    model_nll = -GMJE(n_components=8, random_state=0).fit(X, y).score(X_test, y_test)
    print(f"{name:<26}{oracle_nll:12.3f}{model_nll:14.3f}")
    if y.ndim == 2:
        points = ax.scatter(y[:, 0], y[:, 1], c=X[:, 0], s=4, cmap="viridis")
        fig.colorbar(points, ax=ax, label="x")
        ax.set(xlabel="y[0]", ylabel="y[1]", aspect="equal")
    else:
        ax.scatter(X[:, 0], y, s=4, alpha=0.5)
        ax.set(xlabel="x[0]", ylabel="y")
    ax.set_title(f"{name}\noracle NLL {oracle_nll:.2f}, GMJE(K=8) {model_nll:.2f} nats")
fig.tight_layout()
plt.show()
