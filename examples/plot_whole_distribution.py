"""
=========================================================================
The whole distribution: highest-density regions, conformal sets, the PIT
=========================================================================

On the paper's Dataset B three branches cross at the origin, so for most ``x``
there are three plausible answers. The central 90% interval of ``p(y | x)``
covers them and the gaps between them; the 90% highest-density region
(:meth:`~skgmje.GMJE.predict_hdr`) is one interval per branch, and shorter.

:class:`~skgmje.conformal.SplitConformal` recalibrates the regions on held-out rows,
so that a new target lies in its set with probability at least 90% whatever the
model. The PIT histogram and the calibration curve
(:mod:`skgmje.plotting`) check the model's own calibration on test rows.
"""

import matplotlib.pyplot as plt

from skgmje import GMJE
from skgmje.conformal import SplitConformal
from skgmje.datasets import make_intersecting_branches
from skgmje.metrics import hdr_coverage, hdr_size, interval_coverage, interval_width
from skgmje.plotting import (
    plot_calibration_curve,
    plot_conditional_density,
    plot_density_map,
    plot_pit_histogram,
)

X, y = make_intersecting_branches(n_samples=6000, random_state=0)
X_fit, y_fit = X[:3000], y[:3000]
X_cal, y_cal = X[3000:4000], y[3000:4000]
X_test, y_test = X[4000:], y[4000:]

model = GMJE(random_state=0).fit(X_fit, y_fit)
conformal = SplitConformal(model, prefit=True, coverage=0.9).fit(X_cal, y_cal)

bounds = model.predict_interval(X_test, 0.9)
region = model.predict_hdr(X_test, 0.9)
sets = conformal.predict_set(X_test)
print(
    f"central 90% interval: width {interval_width(bounds):.3f}, "
    f"coverage {interval_coverage(y_test, bounds):.3f}"
)
print(
    f"90% HDR:              length {hdr_size(region):.3f}, "
    f"coverage {hdr_coverage(y_test, region):.3f}"
)
print(
    f"conformal HDR sets:   length {hdr_size(sets):.3f}, "
    f"coverage {conformal.score(X_test, y_test):.3f} (level {conformal.level_:.3f})"
)

fig, axes = plt.subplots(2, 2, figsize=(11, 8))
plot_density_map(model, X_test, y_test, ax=axes[0, 0])
plot_conditional_density(model, [[0.5], [0.0]], ax=axes[0, 1])
distribution = model.predict_distribution(X_test)
plot_pit_histogram(y_test, distribution, ax=axes[1, 0])
plot_calibration_curve(y_test, distribution, ax=axes[1, 1])
fig.tight_layout()
plt.show()
