"""Split-conformal prediction sets from a conditional density: a coverage guarantee.

A fitted model's highest-density regions or intervals hold their nominal coverage only
when the model is calibrated. Split conformal prediction (Vovk et al. 2005; Lei et al.
2018) recalibrates them on held-out rows, with a finite-sample guarantee whatever the
model: for exchangeable rows, a new target lies in its set with probability at least
``coverage`` (and at most ``coverage + 1 / (n_calibration + 1)`` when scores do not tie).

Two conformity scores, both read off the predicted ``p(y | x)``:

- ``method="hdr"`` (HPD-split, Izbicki, Shimizu and Stern 2022): the mass of the
  smallest highest-density region of ``p(. | x)`` that holds ``y``. The sets are
  highest-density regions, a union of intervals where ``p(y | x)`` is multimodal;
- ``method="cdf"`` (distributional conformal prediction, Chernozhukov, Wuthrich and Zhu
  2021): ``|2 F(y | x) - 1|``, the level of the smallest central interval that holds
  ``y``. The sets are intervals.

The calibrated level is the ``ceil((n + 1) coverage)``-th smallest score of the ``n``
calibration rows; the set of a new ``x`` is the region (or interval) of that level.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import get_tags
from sklearn.utils.validation import check_is_fitted

from ._core.univariate import HighestDensityRegion
from ._docs import DocumentationLinkMixin
from ._validation import HasMethods, Interval, StrOptions, validate_parameters

__all__ = ["SplitConformal"]


class SplitConformal(DocumentationLinkMixin, MetaEstimatorMixin, BaseEstimator):
    """Prediction sets with a finite-sample coverage guarantee, from any skgmje estimator.

    Parameters
    ----------
    estimator : estimator with ``predict_distribution``, default=None
        A conditional density estimator of one target. ``None`` means
        :class:`~skgmje.GMJE`.
    coverage : float, default=0.9
        The guaranteed probability that a new target lies in its set, in (0, 1).
    method : {"hdr", "cdf"}, default="hdr"
        The conformity score: highest-density sets (unions of intervals) or central
        intervals (module docstring).
    prefit : bool, default=False
        ``estimator`` is fitted already and ``fit`` only calibrates, on all the rows it is
        given (which must not be the rows the estimator was fitted on). Otherwise ``fit``
        splits its rows, fits a clone of ``estimator`` on one part and calibrates on the
        other.
    calibration_size : float or int, default=0.25
        Without ``prefit``: the share (a float) or number (an int) of rows kept for the
        calibration.
    random_state : int, RandomState instance or None, default=None
        The split of the rows.

    Attributes
    ----------
    estimator_ : estimator
        The fitted density estimator.
    conformity_scores_ : ndarray of shape (n_calibration,)
        The calibration rows' scores.
    level_ : float
        The calibrated level: the coverage of the highest-density regions (``"hdr"``) or
        central intervals (``"cdf"``) that form the sets; 1 (every set the whole line)
        when the calibration rows are too few for ``coverage``.

    Examples
    --------
    >>> from skgmje import GMJE
    >>> from skgmje.conformal import SplitConformal
    >>> from skgmje.datasets import make_intersecting_branches
    >>> X, y = make_intersecting_branches(n_samples=3000, random_state=0)
    >>> conformal = SplitConformal(GMJE(n_components=8, random_state=0), coverage=0.9,
    ...                            random_state=0).fit(X[:2000], y[:2000])
    >>> sets = conformal.predict_set(X[2000:])
    >>> bool(abs(conformal.contains(X[2000:], y[2000:]).mean() - 0.9) < 0.03)
    True
    >>> int(sets.n_intervals[(abs(X[2000:, 0] - 0.5) < 0.05)].min())   # the three branches
    3
    """

    _parameter_constraints = {
        "estimator": [HasMethods(["fit", "predict_distribution"]), None],
        "coverage": [Interval(Real, 0, 1, closed="neither")],
        "method": [StrOptions({"hdr", "cdf"})],
        "prefit": ["boolean"],
        "calibration_size": [
            Interval(Real, 0, 1, closed="neither"),
            Interval(Integral, 1, None, closed="left"),
        ],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        coverage=0.9,
        method="hdr",
        prefit=False,
        calibration_size=0.25,
        random_state=None,
    ):
        self.estimator = estimator
        self.coverage = coverage
        self.method = method
        self.prefit = prefit
        self.calibration_size = calibration_size
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit the estimator (unless ``prefit``) and calibrate the level of the sets.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,), default=None
            Frequency weights: a calibration row of weight 2 counts as two rows (a new
            row counts as one); passed to the estimator's ``fit`` too.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        y = np.asarray(y)
        if y.ndim == 2 and y.shape[1] == 1:
            y = y[:, 0]
        if y.ndim != 1:
            raise ValueError(
                f"SplitConformal needs one target; got y of shape {y.shape}. Calibrate each "
                "target on its own, or use the energy score of skgmje.metrics."
            )
        weights = None if sample_weight is None else np.asarray(sample_weight, dtype=float)
        if self.prefit:
            check_is_fitted(self.estimator)
            self.estimator_ = self.estimator
            X_cal, y_cal, w_cal = X, y, weights
        else:
            from .gmje import GMJE

            estimator = GMJE() if self.estimator is None else clone(self.estimator)
            arrays = (X, y) if weights is None else (X, y, weights)
            parts = train_test_split(
                *arrays, test_size=self.calibration_size, random_state=self.random_state
            )
            X_fit, X_cal, y_fit, y_cal = parts[:4]
            w_fit, w_cal = (None, None) if weights is None else parts[4:]
            self.estimator_ = estimator.fit(X_fit, y_fit, sample_weight=w_fit)
        if getattr(self.estimator_, "n_targets_", 1) != 1:
            raise ValueError("SplitConformal needs an estimator fitted on one target.")
        if np.isnan(np.asarray(y_cal, dtype=float)).any():
            raise ValueError(
                "The calibration rows hold missing targets (NaN): conformal calibration "
                "scores observed targets. Fit the estimator on every row, then calibrate "
                "with prefit=True on rows whose target was observed."
            )
        self.conformity_scores_ = self._scores(X_cal, y_cal)
        # The scores lie in [0, 1]: a level of 1 already makes every set the whole line.
        self.level_ = min(_conformal_level(self.conformity_scores_, w_cal, self.coverage), 1.0)
        self.n_features_in_ = self.estimator_.n_features_in_
        return self

    def _scores(self, X, y):
        distribution = self.estimator_.predict_distribution(X)
        if self.method == "hdr":
            return distribution.highest_density_level(y)
        return np.abs(2.0 * distribution.cdf(np.asarray(y, dtype=float).ravel()) - 1.0)

    def predict(self, X):
        """The estimator's point prediction, ``E[y | x]`` (the sets: :meth:`predict_set`)."""
        check_is_fitted(self)
        return self.estimator_.predict(X)

    def predict_set(self, X):
        """The prediction set of every row.

        Returns
        -------
        sets : HighestDensityRegion
            For ``method="hdr"``, the highest-density regions of the calibrated level (a
            union of intervals per row); for ``"cdf"``, the central intervals of that
            level, one interval per row. ``contains``, ``length()`` and ``n_intervals``
            answer per row; a level of 1 gives the whole line.
        """
        check_is_fitted(self)
        distribution = self.estimator_.predict_distribution(X)
        if self.level_ >= 1.0:
            n_rows = len(distribution)
            return HighestDensityRegion(
                np.full((n_rows, 1), -np.inf), np.full((n_rows, 1), np.inf), np.zeros(n_rows)
            )
        if self.method == "hdr":
            return distribution.hdr(self.level_)
        bounds = distribution.interval(self.level_)
        # A central interval is no level set of the density: no threshold.
        return HighestDensityRegion(bounds[:, :1], bounds[:, 1:], np.full(len(bounds), np.nan))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Missing contexts are the estimator's to handle (its conditional marginalises
        # them); missing targets are refused in calibration.
        from .gmje import GMJE

        estimator = GMJE() if self.estimator is None else self.estimator
        tags.input_tags.allow_nan = get_tags(estimator).input_tags.allow_nan
        return tags

    def contains(self, X, y):
        """Whether each target lies in the prediction set of its row, shape (n_samples,)."""
        check_is_fitted(self)
        return self._scores(X, y) <= self.level_

    def score(self, X, y, sample_weight=None):
        """The share of targets inside their sets (the empirical coverage)."""
        return float(np.average(self.contains(X, y), weights=sample_weight))


def _conformal_level(scores, weights, coverage):
    """The smallest calibration score ``s`` with ``sum_{s_i <= s} w_i >= coverage (W + 1)``
    (``W`` the total weight; unit weights give the ``ceil((n + 1) coverage)``-th score);
    infinity when the calibration rows are too few for ``coverage``."""
    weights = np.ones(len(scores)) if weights is None else weights
    order = np.argsort(scores, kind="stable")
    cumulative = np.cumsum(weights[order])
    needed = coverage * (cumulative[-1] + 1.0)
    position = np.searchsorted(cumulative, needed - 1e-12 * needed)
    if position >= len(scores):
        return np.inf
    return float(scores[order][position])
