"""
BayesianGMJE: one fit instead of a grid search over K
=====================================================

:class:`~skgmje.GMJE` needs its number of components; the usual way to choose
it is ``GridSearchCV`` over held-out likelihood, one fit per candidate and fold.
:class:`~skgmje.BayesianGMJE` fits once with ``n_components`` as an upper bound:
its variational posterior keeps the components the data support and gives the
others a weight near zero (left out of the conditional below
``weight_threshold``).

Left: the posterior weights of the 20 components on Dataset B (sorted), with
scikit-learn's priors and with BayesianGMJE's defaults; the dashed line is the
threshold. Right: the held-out NLL of GMJE for every K of the grid, the one
GridSearchCV picks, and BayesianGMJE at its defaults, with the fit times.
"""

import time

import matplotlib.pyplot as plt
import numpy as np
from sklearn.model_selection import GridSearchCV

from skgmje import GMJE, BayesianGMJE
from skgmje.datasets import BranchesOracle, make_intersecting_branches

X, y = make_intersecting_branches(n_samples=2000, random_state=0)
X_test, y_test = make_intersecting_branches(n_samples=3000, random_state=1)
oracle_nll = -BranchesOracle("intersecting").score(X_test, y_test)
Z = np.column_stack([X, y])

start = time.perf_counter()
bayesian = BayesianGMJE(random_state=0).fit(X, y)
bayesian_seconds = time.perf_counter() - start
sklearn_priors = BayesianGMJE(
    mean_precision_prior=1.0,
    degrees_of_freedom_prior=Z.shape[1],
    covariance_prior=np.cov(Z.T),
    max_iter=500,
    random_state=0,
).fit(X, y)

candidates = [1, 2, 3, 4, 6, 8, 12, 16, 20]
start = time.perf_counter()
search = GridSearchCV(GMJE(random_state=0), {"n_components": candidates}, cv=3).fit(X, y)
search_seconds = time.perf_counter() - start
per_k = [-GMJE(k, random_state=0).fit(X, y).score(X_test, y_test) for k in candidates]

figure, (weights_axis, nll_axis) = plt.subplots(1, 2, figsize=(10, 3.8))
for model, label in [(sklearn_priors, "scikit-learn's priors"), (bayesian, "defaults")]:
    weights_axis.plot(
        np.sort(model.weights_)[::-1],
        "o-",
        ms=4,
        label=f"{label}: {model.n_active_components_} active, "
        f"NLL {-model.score(X_test, y_test):.3f}",
    )
weights_axis.axhline(bayesian.weight_threshold, color="k", ls="--", lw=1)
weights_axis.set_yscale("log")
weights_axis.set_xlabel("component (sorted by weight)")
weights_axis.set_ylabel("posterior weight E[pi_k]")
weights_axis.legend(fontsize=8)

nll_axis.plot(candidates, per_k, "o-", label="GMJE with K components")
nll_axis.axhline(
    -search.score(X_test, y_test),
    color="C1",
    label=f"GridSearchCV picks K={search.best_params_['n_components']} ({search_seconds:.1f} s)",
)
nll_axis.axhline(
    -bayesian.score(X_test, y_test),
    color="C2",
    ls="--",
    label=f"BayesianGMJE, one fit ({bayesian_seconds:.2f} s)",
)
nll_axis.axhline(oracle_nll, color="k", ls=":", label="oracle")
nll_axis.set_xlabel("K")
nll_axis.set_ylabel("held-out NLL (nats)")
nll_axis.set_ylim(oracle_nll - 0.05, oracle_nll + 0.6)
nll_axis.legend(fontsize=8)
figure.tight_layout()
plt.show()
