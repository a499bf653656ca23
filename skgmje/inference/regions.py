"""Conformal calibration of a posterior's highest-density regions on held-out simulations.

A posterior estimate ``q(theta | x)`` can be close in distribution (a low C2ST) and still
put its highest-density regions in the wrong places: a mixture tiling a thin curved ridge
with straight components peaks at their centres, and the true parameters, spread evenly
along the ridge, fall between the peaks more often than ``q`` expects. Its region of mass
50% then holds the truth less than half the time.

Held-out simulations measure this and correct it without refitting (HPD-split, Izbicki,
Shimizu and Stern 2022; in simulation-based inference, the conformal calibration of
Patel et al. 2024). For each held-out pair, the *score* is the mass of ``q``'s smallest
highest-density region at ``x_i`` holding ``theta_i``. The calibrated region of mass
``c`` at a new observation is ``q``'s region of mass ``s*``, the ``ceil((n + 1) c)``-th
smallest score; for ``theta`` drawn from the prior and ``x`` simulated from it, it holds
``theta`` with probability at least ``c`` (at most ``c + 1 / (n + 1)`` without ties),
whatever ``q``. The guarantee is the expected coverage over the prior predictive, the
quantity :func:`~skgmje.inference.expected_coverage` measures; it is not a guarantee at
every single ``x_o``.
"""

import numpy as np

from ..conformal import _conformal_level

__all__ = ["RegionCalibration"]


class RegionCalibration:
    """The map from a region's nominal mass to the mass of ``q``'s region that holds it.

    Made by :meth:`PosteriorEstimator.calibrate` (and by ``fit``, on the simulations it
    holds out) from held-out pairs ``(theta_i, x_i)``, ``theta_i`` drawn from the prior.
    Each pair's score is the mass of the smallest highest-density region of ``q(. |
    x_i)`` holding ``theta_i`` (HPD-split, Izbicki, Shimizu and Stern 2022; conformal
    calibration in simulation-based inference, Patel et al. 2024). The calibrated region
    of mass ``c`` at a new observation is ``q``'s region of mass :meth:`mass` ``(c)``,
    the ``ceil((n + 1) c)``-th smallest score: over the prior predictive it holds the
    true parameter with probability at least ``c``, and at most ``c + 1 / (n + 1)``,
    whatever ``q`` (expected coverage, what :func:`expected_coverage` measures; not a
    guarantee at each single observation). With ``n`` pairs a given calibration's
    coverage scatters by about ``sqrt(c (1 - c) / n)`` around that.

    Parameters
    ----------
    scores : array-like of shape (n,)
        Held-out pairs' highest-density levels under ``q``, in [0, 1].
    weights : array-like of shape (n,), default=None
        Frequency weights of the pairs (a new pair counts as one).

    Attributes
    ----------
    scores : ndarray of shape (n,)
        Sorted.
    weights : ndarray of shape (n,)
        In the order of ``scores``.

    Examples
    --------
    >>> from skgmje.inference import RegionCalibration
    >>> calibration = RegionCalibration([0.1, 0.3, 0.5, 0.7, 0.9, 0.2, 0.4, 0.6, 0.8])
    >>> calibration.mass(0.5)        # the 5th smallest of 9 scores
    0.5
    >>> calibration.mass(0.95)       # more than 9 pairs can tell: the whole support
    1.0
    >>> calibration.level([0.45])    # 4 of 9 scores below, out of 10
    array([0.4])
    """

    def __init__(self, scores, weights=None):
        scores = np.asarray(scores, dtype=float).ravel()
        if len(scores) == 0 or not np.all(np.isfinite(scores)):
            raise ValueError("Calibration needs at least one finite score.")
        weights = np.ones(len(scores)) if weights is None else np.asarray(weights, dtype=float)
        if weights.shape != scores.shape or np.any(weights < 0) or not np.any(weights > 0):
            raise ValueError(
                "weights must be non-negative, not all zero, one per score; got shape "
                f"{weights.shape} for {len(scores)} scores."
            )
        order = np.argsort(scores, kind="stable")
        self.scores = scores[order]
        self.weights = weights[order]
        self._cumulative = np.concatenate([[0.0], np.cumsum(self.weights)])

    def __len__(self):
        return len(self.scores)

    def __repr__(self):
        return f"RegionCalibration(n={len(self)})"

    def mass(self, coverage):
        """The mass of ``q``'s highest-density region that is the calibrated region of
        mass ``coverage``: 1 (the whole support) when the pairs are too few for it."""
        return min(_conformal_level(self.scores, self.weights, float(coverage)), 1.0)

    def level(self, raw_levels):
        """Calibrated levels of points whose highest-density levels under ``q`` are
        ``raw_levels``: the smallest mass whose calibrated region holds each point (it
        lies in the region of mass ``c`` exactly when this is below ``c``).

        The weight of the scores below each raw level, out of the total plus one.
        """
        raw_levels = np.asarray(raw_levels, dtype=float)
        below = self._cumulative[np.searchsorted(self.scores, raw_levels, side="left")]
        return below / (self._cumulative[-1] + 1.0)
