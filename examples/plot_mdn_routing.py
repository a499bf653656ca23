"""
=====================================================
How a mixture density network routes a multi-valued x
=====================================================

:class:`skgmje.GMJEMDN` reads the context ``x`` and answers with a Gaussian
mixture over ``y`` whose weights, means and scales are all functions of ``x``
(the paper's GMJE-MDN, Figs. 5 and 7). On the two data sets of the paper, every
``x`` has three plausible targets, one per branch, each with noise 0.1 and
probability 1/3. The figure compares what the network learned with that truth:

* top: the data, the learned component means (colour = component, line width =
  weight) and the true branches (dashed);
* second row: the mixing weights ``w_k(x)`` against the true 1/3;
* third row: the component scales ``sigma_k(x)`` against the true noise 0.1;
* bottom: the predictive variance split by the law of total variance into the
  aleatoric part ``sum_k w_k sigma_k^2`` (noise around a branch) and the
  ambiguity part ``sum_k w_k (mu_k - E[y|x])^2`` (which branch), against the
  oracle's. A point estimate reports neither; the ambiguity part is what an
  MSE regressor mistakes for noise.

Where the branches of Dataset B cross at the origin, the ambiguity term drops
to zero for both the oracle and the network: there the three answers agree.
The network is free to hand a branch from one component to another at the
crossing (the components "bounce" instead of crossing): the mixture, and so
every prediction, is the same either way.
"""

import matplotlib.pyplot as plt
import numpy as np

from skgmje import GMJEMDN
from skgmje.datasets import BranchesOracle, make_intersecting_branches, make_separated_branches

DATASETS = {
    "A: separated branches": ("separated", make_separated_branches),
    "B: intersecting branches": ("intersecting", make_intersecting_branches),
}
x_grid = np.linspace(-1.0, 1.0, 300)[:, None]
colours = plt.cm.tab10(np.arange(3))

figure, axes = plt.subplots(4, 2, figsize=(10, 12), sharex=True)
for column, (title, (name, make)) in enumerate(DATASETS.items()):
    X, y = make(n_samples=2000, random_state=0)
    model = GMJEMDN(n_components=3, random_state=0).fit(X, y)
    learned = model.predict_distribution(x_grid)
    truth = BranchesOracle(name).predict_distribution(x_grid)
    X_test, y_test = make(n_samples=5000, random_state=1)
    nll = -model.score(X_test, y_test)
    oracle_nll = -BranchesOracle(name).score(X_test, y_test)

    axis = axes[0, column]
    axis.scatter(X[:, 0], y, s=2, c="0.6", alpha=0.5, linewidths=0)
    for branch in truth.means[:, :, 0].T:
        axis.plot(x_grid[:, 0], branch, "k--", lw=1)
    for k in range(3):
        widths = 0.5 + 6.0 * learned.weights[:, k]
        points = np.column_stack([x_grid[:, 0], learned.means[:, k, 0]])
        for start in range(0, len(points) - 1, 4):
            axis.plot(*points[start : start + 5].T, c=colours[k], lw=widths[start])
    axis.set_title(f"{title}\nheld-out NLL {nll:.3f} (oracle {oracle_nll:.3f})", fontsize=10)
    axis.set_ylabel("y and component means")

    axis = axes[1, column]
    for k in range(3):
        axis.plot(x_grid[:, 0], learned.weights[:, k], c=colours[k], label=f"w_{k + 1}(x)")
    axis.axhline(1 / 3, c="k", ls="--", lw=1, label="truth 1/3")
    axis.set_ylim(0, 1)
    axis.set_ylabel("mixing weight")
    axis.legend(fontsize=8, ncol=2)

    axis = axes[2, column]
    for k in range(3):
        axis.plot(x_grid[:, 0], np.sqrt(learned.covariances[:, k, 0, 0]), c=colours[k])
    axis.axhline(0.1, c="k", ls="--", lw=1, label="true noise 0.1")
    axis.set_ylim(0, 0.25)
    axis.set_ylabel("component scale")
    axis.legend(fontsize=8)

    axis = axes[3, column]
    for distribution, style, who in [(learned, "-", "GMJEMDN"), (truth, "--", "oracle")]:
        aleatoric = distribution.aleatoric_covariance()[:, 0, 0]
        ambiguity = distribution.ambiguity_covariance()[:, 0, 0]
        axis.plot(x_grid[:, 0], aleatoric, "C0" + style, label=f"aleatoric ({who})")
        axis.plot(x_grid[:, 0], ambiguity, "C3" + style, label=f"ambiguity ({who})")
    axis.set_yscale("log")
    axis.set_ylabel("predictive variance")
    axis.set_xlabel("context x")
    axis.legend(fontsize=8)

figure.tight_layout()
plt.show()
