"""
========================================================================
Conformal highest-density sets against MAPIE's split-conformal intervals
========================================================================

Split conformal prediction turns any model's output into sets that hold a new target
with probability at least ``1 - alpha``, whatever the model. MAPIE's
``SplitConformalRegressor`` scores each calibration row by its absolute residual
``|y - y_hat(x)|``: its sets are the intervals ``y_hat(x) +- q``, one interval of the
same width at every ``x``. :class:`~skgmje.conformal.SplitConformal` scores each row
by how improbable its target is under the model's own conditional density (HPD-split,
Izbicki, Shimizu & Stern 2022): its sets are highest-density regions, one interval
per branch where the answer is several-valued.

On the paper's Dataset B three branches cross at the origin. Both methods wrap the
same fitted :class:`~skgmje.GMJE` and are calibrated on the same 1000 rows; on 1000
test rows both cover close to 90% (the guarantee is on average over calibration sets),
and the highest-density sets are far shorter. ``benchmarks/bench_conformal.py`` repeats
the comparison over 200 splits, for every estimator and data set.
"""

import matplotlib.pyplot as plt
import numpy as np
from mapie.regression import SplitConformalRegressor

from skgmje import GMJE
from skgmje.conformal import SplitConformal
from skgmje.datasets import make_intersecting_branches
from skgmje.metrics import hdr_coverage, hdr_size, interval_coverage, interval_width

X, y = make_intersecting_branches(n_samples=5000, random_state=0)
X_fit, y_fit = X[:3000], y[:3000]
X_cal, y_cal = X[3000:4000], y[3000:4000]
X_test, y_test = X[4000:], y[4000:]

model = GMJE(random_state=0).fit(X_fit, y_fit)

mapie = SplitConformalRegressor(model, confidence_level=0.9, prefit=True)
mapie.conformalize(X_cal, y_cal)
_, mapie_bounds = mapie.predict_interval(X_test)
mapie_bounds = mapie_bounds[:, :, 0]

conformal = SplitConformal(model, prefit=True, coverage=0.9).fit(X_cal, y_cal)
sets = conformal.predict_set(X_test)

print(
    f"MAPIE intervals:    width  {interval_width(mapie_bounds):.3f}, "
    f"coverage {interval_coverage(y_test, mapie_bounds):.3f}"
)
print(f"conformal HDR sets: length {hdr_size(sets):.3f}, coverage {hdr_coverage(y_test, sets):.3f}")
print(f"HDR sets / MAPIE intervals: {hdr_size(sets) / interval_width(mapie_bounds):.2f}")

order = np.argsort(X_test[:, 0])[::5]
fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
for ax, title in zip(axes, ("MAPIE: y_hat(x) +- q", "SplitConformal: highest-density sets")):
    ax.scatter(X_test[:, 0], y_test, s=2, color="0.6", label="test rows")
    ax.set(title=title, xlabel="x")
axes[0].fill_between(
    X_test[order, 0], *mapie_bounds[order].T, alpha=0.3, label="90% conformal interval"
)
axes[0].plot(X_test[order, 0], model.predict(X_test[order]), color="C0", label="y_hat(x)")
for lower, upper in zip(sets.lower[order].T, sets.upper[order].T):
    axes[1].vlines(X_test[order, 0], lower, upper, color="C1", alpha=0.5, linewidth=1)
axes[1].plot([], [], color="C1", label="90% conformal HDR set")
axes[0].set_ylabel("y")
for ax in axes:
    ax.legend(loc="lower left", fontsize=8)
fig.tight_layout()
plt.show()
