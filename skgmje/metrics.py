"""Scores of predicted distributions: CRPS, PIT, interval and region coverage, calibration.

The functions take the observed targets and what an estimator predicted: a
:class:`~skgmje.GaussianMixtureDistribution` (``predict_distribution``), interval bounds
(``predict_interval``) or a :class:`~skgmje.HighestDensityRegion` (``predict_hdr``). The
scorers at the end are ``scoring=`` values for :class:`~sklearn.model_selection.GridSearchCV`
and :func:`~sklearn.model_selection.cross_validate` (greater is better, as scikit-learn
expects). All are for one-dimensional targets, except :func:`energy_score`.
"""

import numpy as np
from sklearn.utils import check_random_state

__all__ = [
    "calibration_curve",
    "crps",
    "energy_score",
    "hdr_coverage",
    "hdr_size",
    "interval_coverage",
    "interval_width",
    "neg_crps_scorer",
    "pit",
]


def _targets(y_true, n_rows):
    y = np.asarray(y_true, dtype=float)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.shape != (n_rows,):
        raise ValueError(
            f"y_true must have shape ({n_rows},) to match the prediction; got {y.shape}."
        )
    return y


def crps(y_true, distribution, *, sample_weight=None):
    """Mean continuous ranked probability score (lower is better, in the units of y).

    ``CRPS(F, y) = E|Y - y| - E|Y - Y'| / 2``, in closed form for each row's mixture
    (:meth:`~skgmje.GaussianMixtureDistribution.crps`).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    distribution : GaussianMixtureDistribution
        With one target.
    sample_weight : array-like of shape (n_samples,), default=None

    Returns
    -------
    score : float

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GJE
    >>> from skgmje.metrics import crps
    >>> X = np.linspace(-1, 1, 200)[:, None]
    >>> y = X[:, 0] + 0.1 * np.random.RandomState(0).normal(size=200)
    >>> round(crps(y, GJE().fit(X, y).predict_distribution(X)), 3)  # sigma / sqrt(pi) ideally
    0.058
    """
    y = _targets(y_true, len(distribution))
    return float(np.average(distribution.crps(y), weights=sample_weight))


def pit(y_true, distribution):
    """Probability integral transform ``F(y_i | x_i)`` of each row, shape (n_samples,).

    Uniform on [0, 1] when the predicted distributions are calibrated; a U-shaped
    histogram means too narrow, a hump too wide.
    """
    return distribution.cdf(_targets(y_true, len(distribution)))


def interval_coverage(y_true, bounds, *, sample_weight=None):
    """Share of rows whose target lies in its interval (``predict_interval``'s (n, 2))."""
    bounds = np.asarray(bounds, dtype=float)
    y = _targets(y_true, len(bounds))
    inside = (bounds[:, 0] <= y) & (y <= bounds[:, 1])
    return float(np.average(inside, weights=sample_weight))


def interval_width(bounds, *, sample_weight=None):
    """Mean width of the intervals (``predict_interval``'s (n, 2))."""
    bounds = np.asarray(bounds, dtype=float)
    return float(np.average(bounds[:, 1] - bounds[:, 0], weights=sample_weight))


def hdr_coverage(y_true, region, *, sample_weight=None):
    """Share of rows whose target lies in its highest-density region (``predict_hdr``)."""
    y = _targets(y_true, len(region.threshold))
    return float(np.average(region.contains(y), weights=sample_weight))


def hdr_size(region, *, sample_weight=None):
    """Mean total length of the highest-density regions (``predict_hdr``)."""
    return float(np.average(region.length(), weights=sample_weight))


def calibration_curve(
    y_true, distribution, coverages=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)
):
    """Observed coverage of the central intervals at each nominal coverage.

    A calibrated model's curve is the diagonal: its 80% intervals hold 80% of the
    targets. Computed from the PIT: ``y`` lies in the central ``c`` interval when
    ``|F(y) - 1/2| <= c / 2``.

    Returns
    -------
    nominal : ndarray of shape (n_coverages,)
    observed : ndarray of shape (n_coverages,)
    """
    nominal = np.asarray(coverages, dtype=float)
    values = pit(y_true, distribution)
    observed = np.mean(np.abs(values[:, None] - 0.5) <= nominal / 2.0, axis=0)
    return nominal, observed


def energy_score(y_true, distribution, *, n_samples=1000, random_state=None):
    """Mean energy score ``E||Y - y|| - E||Y - Y'|| / 2`` of multi-dimensional predictions.

    The multivariate generalisation of the CRPS (Gneiting and Raftery 2007), estimated
    from ``n_samples`` draws per row (no closed form for a mixture); lower is better.
    """
    rng = check_random_state(random_state)
    y = np.asarray(y_true, dtype=float).reshape(len(distribution), -1)
    draws = distribution.sample(n_samples, random_state=rng)
    others = distribution.sample(n_samples, random_state=rng)
    to_target = np.linalg.norm(draws - y[:, None, :], axis=2).mean(axis=1)
    between = np.linalg.norm(draws - others, axis=2).mean(axis=1)
    return float(np.mean(to_target - 0.5 * between))


def neg_crps_scorer(estimator, X, y, sample_weight=None):
    """``scoring=`` for scikit-learn's model selection: minus the mean CRPS.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from skgmje import GMJE
    >>> from skgmje.datasets import make_intersecting_branches
    >>> from skgmje.metrics import neg_crps_scorer
    >>> X, y = make_intersecting_branches(n_samples=600, random_state=0)
    >>> search = GridSearchCV(
    ...     GMJE(random_state=0), {"n_components": [1, 6]}, scoring=neg_crps_scorer, cv=3
    ... ).fit(X, y)
    >>> search.best_params_
    {'n_components': 6}
    """
    return -crps(y, estimator.predict_distribution(X), sample_weight=sample_weight)
