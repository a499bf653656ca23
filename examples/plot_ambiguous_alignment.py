"""
========================================================
Ambiguous alignment: every estimator on Datasets A and B
========================================================

The paper's Figs. 4 and 6. On both data sets every context ``x`` has three
right answers: ``y`` lies on one of three branches, picked at random, with
noise 0.1. On Dataset A the branches never meet; on Dataset B they all cross
at the origin. The question for a model is not "what is y?" but "which values
can y take, and how likely is each?".

Each panel shows one model's conditional density ``p(y | x)`` as a heat map
(square root, so that faint modes stay visible), its conditional mean
``E[y | x]`` in cyan, and a few training points in white. The title gives the
held-out conditional negative log-likelihood in nats (lower is better) beside
the oracle's, the true density's, which no model beats on average.

* The point predictors (an MLP trained with squared error, read as a Gaussian
  around its prediction) and the unimodal models (:class:`~skgmje.GJE`,
  :class:`~skgmje.DualGJE`) predict the average of the branches, a value the
  data never take, with a variance wide enough to cover all three.
* :class:`~skgmje.GMJE` with three components has three linear regressions
  to share between three curved branches, and fits none of them well; with
  ``K`` chosen by cross-validation it tiles the branches with linear pieces
  and comes within a few hundredths of a nat of the oracle.
* :class:`~skgmje.GMJEGNG` finds its components with a Growing Neural Gas,
  :class:`~skgmje.SMCGMJE` is a particle bank, and :class:`~skgmje.GMJEMDN`
  makes the weights, means and scales functions of ``x``: one component per
  branch is then enough, crossings included.

The conditional mean (cyan) stays near the average of the branches for the
good models and the bad ones alike: it cannot tell them apart. Everything that
does is in the rest of the distribution.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor

from skgmje import GJE, GMJE, GMJEGNG, GMJEMDN, SMCGMJE, DualGJE
from skgmje.baselines import ResidualGaussianRegressor
from skgmje.datasets import BranchesOracle, make_intersecting_branches, make_separated_branches

# %%
# The models
# ----------
# The same settings as ``python -m skgmje demo``: 2000 training points, 5000
# held-out points, defaults wherever there is one.

SEED = 0


def make_models():
    return {
        "MLP (squared error)": ResidualGaussianRegressor(
            MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=1000, random_state=SEED)
        ),
        "GJE": GJE(),
        "DualGJE (256 RFF)": DualGJE(n_fourier_features=256, random_state=SEED),
        "GMJE, K = 3": GMJE(n_components=3, random_state=SEED),
        "GMJE, K by 3-fold CV": GridSearchCV(
            GMJE(random_state=SEED), {"n_components": [4, 8, 12, 16, 20, 24]}, cv=3
        ),
        "GMJEGNG": GMJEGNG(random_state=SEED),
        "SMCGMJE": SMCGMJE(random_state=SEED),
        "GMJEMDN (defaults, K = 8)": GMJEMDN(random_state=SEED),
    }


DATASETS = {
    "Dataset A (separated branches)": ("separated", make_separated_branches),
    "Dataset B (intersecting branches)": ("intersecting", make_intersecting_branches),
}

# %%
# Fit and score
# -------------
# ``score`` is the mean held-out ``log p(y | x)``; its negative is the NLL.

fitted, nll = {}, {}
for title, (name, make) in DATASETS.items():
    X_all, y_all = make(n_samples=7000, random_state=SEED)
    X, y, X_test, y_test = X_all[:2000], y_all[:2000], X_all[2000:], y_all[2000:]
    oracle = BranchesOracle(name)
    fitted[title] = {"data": (X, y), "models": {"oracle (truth)": oracle}}
    nll[title] = {"oracle (truth)": -oracle.score(X_test, y_test)}
    for label, model in make_models().items():
        start = time.perf_counter()
        model.fit(X, y)
        if isinstance(model, GridSearchCV):
            label = f"GMJE, K = {model.best_params_['n_components']} (3-fold CV)"
            model = model.best_estimator_
        fitted[title]["models"][label] = model
        nll[title][label] = -model.score(X_test, y_test)
        print(
            f"{title[:9]}  {label:<26} NLL {nll[title][label]:6.3f}"
            f"  ({time.perf_counter() - start:4.1f} s)"
        )

# %%
# The conditional densities
# -------------------------
# One figure per data set, one panel per model.

x_grid = np.linspace(-1.0, 1.0, 200)[:, None]


def draw(title):
    X, y = fitted[title]["data"]
    models = fitted[title]["models"]
    y_grid = np.linspace(y.min() - 0.3, y.max() + 0.3, 200)
    oracle_nll = nll[title]["oracle (truth)"]
    figure, axes = plt.subplots(3, 3, figsize=(11, 9.5), sharex=True, sharey=True)
    for axis, (label, model) in zip(axes.flat, models.items()):
        distribution = model.predict_distribution(x_grid)
        # density[i, j] = p(y_grid[i] | x_grid[j])
        density = distribution.pdf(np.repeat(y_grid[:, None], len(x_grid), axis=1))
        axis.pcolormesh(
            x_grid[:, 0], y_grid, np.sqrt(density), cmap="magma", shading="auto", rasterized=True
        )
        axis.scatter(X[:300, 0], y[:300], s=2, c="white", alpha=0.5, linewidths=0)
        axis.plot(x_grid[:, 0], distribution.mean()[:, 0], c="cyan", lw=1.3)
        score = nll[title][label]
        subtitle = (
            "the best possible"
            if label.startswith("oracle")
            else (f"+{score - oracle_nll:.2f} over the oracle")
        )
        axis.set_title(f"{label}\nNLL {score:.3f} ({subtitle})", fontsize=9)
    for axis in axes[-1]:
        axis.set_xlabel("context x")
    for axis in axes[:, 0]:
        axis.set_ylabel("target y")
    figure.suptitle(
        f"{title}: sqrt p(y | x) (heat), E[y | x] (cyan), training points (white)", fontsize=11
    )
    figure.tight_layout()


draw("Dataset A (separated branches)")

# %%
draw("Dataset B (intersecting branches)")

# %%
# The scores side by side
# -----------------------
# The gap to the oracle in nats, on a log scale: the unimodal models are more
# than a nat away on both data sets, the mixtures within a few hundredths to a
# few tenths.

figure, axis = plt.subplots(figsize=(9, 4.8))
width = 0.4
for offset, title, colour in zip((-width / 2, width / 2), DATASETS, ("C0", "C1")):
    scores = nll[title]
    rows = [label for label in scores if label != "oracle (truth)"]
    # A model can beat the oracle on a finite test set by chance: keep the bar visible.
    gaps = np.maximum([scores[label] - scores["oracle (truth)"] for label in rows], 1e-3)
    positions = np.arange(len(rows)) + offset
    axis.barh(positions, gaps, height=width, color=colour, label=title)
    for position, gap, label in zip(positions, gaps, rows):
        note = label.split(" (3-fold")[0].split(", ")[1] + ", " if "CV" in label else ""
        axis.text(gap * 1.08, position, f"{note}{gap:.3f}", va="center", fontsize=7)
axis.set_yticks(np.arange(len(rows)))
axis.set_yticklabels(["GMJE, K by 3-fold CV" if "CV" in label else label for label in rows])
axis.invert_yaxis()
axis.set_xscale("log")
axis.set_xlim(right=axis.get_xlim()[1] * 3)
axis.set_xlabel("held-out NLL minus the oracle's (nats, log scale; lower is better)")
axis.legend(fontsize=8, loc="lower right")
figure.tight_layout()
plt.show()
