"""
======================================================
Noise or ambiguity? Decomposing predictive uncertainty
======================================================

A conditional Gaussian mixture splits its predictive variance by the law of
total variance (the paper's Eq. 105-106):

.. math::

   \\operatorname{Var}[y \\mid x] =
   \\underbrace{\\textstyle\\sum_k \\gamma_k(x)\\, \\sigma_k^2}_{\\text{aleatoric}}
   + \\underbrace{\\textstyle\\sum_k \\gamma_k(x)\\,
     (\\mu_k(x) - E[y \\mid x])^2}_{\\text{ambiguity}}

:meth:`~skgmje.GaussianMixtureDistribution.aleatoric_covariance` is the noise
around each plausible answer;
:meth:`~skgmje.GaussianMixtureDistribution.ambiguity_covariance` is how far the
plausible answers are from each other. A regressor trained with squared error
sees only the sum and calls all of it noise.

Three data sets, one per column:

* **Dataset A**: three separate branches, constant noise 0.1. The ambiguity
  dominates everywhere and changes with the spacing of the branches.
* **Dataset B**: three branches crossing at the origin. The ambiguity drops to
  zero at the crossing, where the three answers agree.
* **Heteroscedastic**: one branch, ``y = sin(3x)``, with noise growing from
  0.05 to 0.4 along ``x``. There is nothing ambiguous: all the variance is
  aleatoric.

Top row: the data and the components of :class:`~skgmje.GMJE` (``K`` chosen by
cross-validation), each drawn where its routing weight exceeds 5 %, line
width proportional to the weight. Middle row: GMJE's variance split in two
against the truth's (dashed), on a log scale. Bottom row: the predictive
standard deviation of GMJE, of an MLP read as a Gaussian with its residual
variance (:class:`~skgmje.baselines.ResidualGaussianRegressor`), and of the
truth: the MLP's is the same at every ``x``.

The split is the model's, not the data's: a mixture may carve one wide
Gaussian into several overlapping narrow ones. In the third column GMJE does
exactly that where the noise is large, and reports part of the noise as
ambiguity, although its total variance stays close to the truth. Read the
ambiguity term as "the components disagree", and check with ``modes()`` how
far apart they are before calling it several answers.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor

from skgmje import GMJE, GaussianMixtureDistribution
from skgmje.baselines import ResidualGaussianRegressor
from skgmje.datasets import BranchesOracle, make_intersecting_branches, make_separated_branches


def heteroscedastic_scale(x):
    return 0.05 + 0.35 * (x + 1.0) / 2.0


def make_heteroscedastic(n_samples, random_state=None):
    rng = np.random.RandomState(random_state)
    x = rng.uniform(-1.0, 1.0, size=n_samples)
    y = np.sin(3.0 * x) + heteroscedastic_scale(x) * rng.normal(size=n_samples)
    return x[:, None], y


def heteroscedastic_truth(X):
    x = np.asarray(X)[:, 0]
    return GaussianMixtureDistribution(
        weights=np.ones((len(x), 1)),
        means=np.sin(3.0 * x)[:, None, None],
        covariances=(heteroscedastic_scale(x) ** 2)[:, None, None, None],
    )


DATASETS = {
    "Dataset A (separated)": (
        make_separated_branches,
        BranchesOracle("separated").predict_distribution,
    ),
    "Dataset B (intersecting)": (
        make_intersecting_branches,
        BranchesOracle("intersecting").predict_distribution,
    ),
    "Heteroscedastic, one branch": (make_heteroscedastic, heteroscedastic_truth),
}
x_grid = np.linspace(-1.0, 1.0, 300)[:, None]

figure, axes = plt.subplots(3, 3, figsize=(14, 11), sharex=True)
for column, (title, (make, truth_of)) in enumerate(DATASETS.items()):
    X, y = make(n_samples=2000, random_state=0)
    search = GridSearchCV(GMJE(random_state=0), {"n_components": [2, 4, 8, 12, 16, 20]}, cv=3)
    model = search.fit(X, y).best_estimator_
    mlp = ResidualGaussianRegressor(
        MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=1000, random_state=0)
    ).fit(X, y)
    learned, truth = model.predict_distribution(x_grid), truth_of(x_grid)

    axis = axes[0, column]
    axis.scatter(X[:, 0], y, s=1, c="0.7", linewidths=0, rasterized=True)
    colours = plt.cm.tab20(np.arange(learned.n_components) % 20)
    for k in range(learned.n_components):
        weight = learned.weights[:, k]
        shown = np.where(weight > 0.05, learned.means[:, k, 0], np.nan)
        for start in range(0, len(x_grid) - 1, 5):
            piece = slice(start, start + 6)
            if np.isfinite(shown[piece]).any():
                axis.plot(x_grid[piece, 0], shown[piece], c=colours[k], lw=0.5 + 4 * weight[start])
    axis.plot(x_grid[:, 0], learned.mean()[:, 0], "k--", lw=1, label="E[y | x]")
    axis.set_title(f"{title}\nGMJE, K = {model.n_components} (3-fold CV)", fontsize=10)
    axis.legend(fontsize=8, loc="lower left")

    axis = axes[1, column]
    axis.plot(
        x_grid[:, 0], learned.aleatoric_covariance()[:, 0, 0], c="C0", label="aleatoric (GMJE)"
    )
    axis.plot(
        x_grid[:, 0], learned.ambiguity_covariance()[:, 0, 0], c="C3", label="ambiguity (GMJE)"
    )
    axis.plot(
        x_grid[:, 0],
        truth.aleatoric_covariance()[:, 0, 0],
        "C0--",
        lw=1.5,
        label="aleatoric (truth)",
    )
    true_ambiguity = truth.ambiguity_covariance()[:, 0, 0]
    if true_ambiguity.max() > 0:
        axis.plot(x_grid[:, 0], true_ambiguity, "C3--", lw=1.5, label="ambiguity (truth)")
    else:  # zero: nothing to draw on a log scale
        axis.plot([], [], "C3--", lw=1.5, label="ambiguity (truth): 0")
    axis.set_yscale("log")
    axis.set_ylim(1e-3, 300)
    axis.set_ylabel("predictive variance (log scale)")
    axis.legend(fontsize=8, loc="upper center", ncol=2)

    axis = axes[2, column]
    _, gmje_std = model.predict(x_grid, return_std=True)
    _, mlp_std = mlp.predict(x_grid, return_std=True)
    axis.plot(x_grid[:, 0], gmje_std, c="C2", label="GMJE")
    axis.plot(x_grid[:, 0], mlp_std, c="C1", label="MLP + residual variance")
    axis.plot(x_grid[:, 0], np.sqrt(truth.covariance()[:, 0, 0]), "k--", lw=1, label="truth")
    axis.set_ylim(bottom=0)
    axis.set_ylabel("predictive std")
    axis.set_xlabel("context x")
    axis.legend(fontsize=8, loc="upper center")
axes[0, 0].set_ylabel("target y")
figure.tight_layout()
plt.show()
