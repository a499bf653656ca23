"""Is a posterior estimator calibrated? The field's standard diagnostics, and C2ST.

- Simulation-based calibration (Talts et al. 2018): for ``theta* ~ prior`` and
  ``x ~ p(x | theta*)``, the rank of each coordinate of ``theta*`` among ``L`` posterior
  draws at ``x`` is uniform on ``{0, ..., L}`` exactly when the posterior is right
  (averaged over the prior).
- Expected coverage of highest-density regions (Hermans et al. 2022): ``theta*`` lies in
  the region of mass ``c`` of the posterior at ``x`` with probability ``c``.
- The classifier two-sample test (Lopez-Paz and Oquab 2017), as ``sbi`` and ``sbibm``
  define it for comparing posterior draws with a reference: the cross-validated accuracy of an MLP
  telling the two samples apart; 0.5 is indistinguishable, 1.0 disjoint.
"""

from typing import NamedTuple

import numpy as np
from scipy import stats
from sklearn.model_selection import KFold, cross_val_score
from sklearn.neural_network import MLPClassifier
from sklearn.utils import check_random_state

from .posterior import highest_density_levels, sample_within

__all__ = [
    "CoverageResult",
    "SBCResult",
    "c2st",
    "expected_coverage",
    "simulation_based_calibration",
]


class SBCResult(NamedTuple):
    """Ranks of simulation-based calibration.

    Attributes
    ----------
    ranks : ndarray of shape (n, d)
        Posterior draws below each true parameter, per coordinate: in ``0..L``.
    n_posterior_samples : int
        ``L``.
    ks_pvalues : ndarray of shape (d,)
        Kolmogorov-Smirnov p-values of the ranks (jittered to ``(r + U) / (L + 1)``, which
        is exactly uniform under calibration) against the uniform law.
    """

    ranks: np.ndarray
    n_posterior_samples: int
    ks_pvalues: np.ndarray


class CoverageResult(NamedTuple):
    """Expected coverage of highest-density regions.

    Attributes
    ----------
    levels : ndarray of shape (m,)
        Nominal masses ``c``.
    coverage : ndarray of shape (m,)
        The fraction of true parameters inside the region of mass ``c``.
    hdr_levels : ndarray of shape (n,)
        Per pair, the mass of the smallest region holding its true parameter
        (uniform on [0, 1] under calibration); with the estimator's region calibration,
        the calibrated level (the true parameter is in the region of mass ``c`` when it
        is below ``c``).
    """

    levels: np.ndarray
    coverage: np.ndarray
    hdr_levels: np.ndarray


def _check_pairs(posterior_estimator, theta, x):
    theta = np.asarray(theta, dtype=float)
    x = np.asarray(x, dtype=float)
    if theta.ndim == 1:
        theta = theta[:, None]
    if len(theta) != len(x):
        raise ValueError(f"theta and x must pair up; got {len(theta)} and {len(x)} rows.")
    distribution = posterior_estimator.predict_distribution(x)
    if distribution.n_targets != theta.shape[1]:
        raise ValueError(
            f"theta has {theta.shape[1]} columns; the posterior has {distribution.n_targets}."
        )
    return theta, distribution


def simulation_based_calibration(
    posterior_estimator, theta, x, *, n_posterior_samples=1000, random_state=None
):
    """Rank statistics of true parameters among posterior draws (SBC).

    Parameters
    ----------
    posterior_estimator : PosteriorEstimator
        Fitted; its prior truncates the draws.
    theta : array-like of shape (n, d)
        Parameters drawn from the prior (not those it was fitted on).
    x : array-like of shape (n, n_features)
        Observations simulated from them.
    n_posterior_samples : int, default=1000
        ``L`` draws per observation.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    SBCResult

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GJE
    >>> from skgmje.inference import (
    ...     GaussianPrior, PosteriorEstimator, simulation_based_calibration)
    >>> prior = GaussianPrior(mean=[0.0], covariance=1.0)
    >>> rng = np.random.RandomState(0)
    >>> theta = prior.sample(3000, random_state=rng)
    >>> x = theta + 0.5 * rng.standard_normal(theta.shape)
    >>> npe = PosteriorEstimator(GJE(), prior=prior).fit(x[:2000], theta[:2000])
    >>> result = simulation_based_calibration(
    ...     npe, theta[2000:], x[2000:], n_posterior_samples=200, random_state=0)
    >>> result.ranks.shape
    (1000, 1)
    >>> bool(result.ks_pvalues[0] > 0.01)
    True
    """
    rng = check_random_state(random_state)
    theta, distribution = _check_pairs(posterior_estimator, theta, x)
    draws, _ = sample_within(
        distribution, posterior_estimator.prior_, n_posterior_samples, random_state=rng
    )
    ranks = np.sum(draws < theta[:, None, :], axis=1)
    jittered = (ranks + rng.uniform(size=ranks.shape)) / (n_posterior_samples + 1)
    pvalues = np.array(
        [stats.kstest(jittered[:, j], "uniform").pvalue for j in range(theta.shape[1])]
    )
    return SBCResult(ranks, int(n_posterior_samples), pvalues)


def expected_coverage(
    posterior_estimator,
    theta,
    x,
    *,
    levels=(0.5, 0.8, 0.95),
    n_posterior_samples=1000,
    calibrated=True,
    random_state=None,
):
    """How often true parameters fall in the posterior's highest-density regions.

    Parameters
    ----------
    posterior_estimator : PosteriorEstimator
        Fitted.
    theta : array-like of shape (n, d)
        Parameters drawn from the prior.
    x : array-like of shape (n, n_features)
        Observations simulated from them.
    levels : array-like of float, default=(0.5, 0.8, 0.95)
        Nominal masses of the regions.
    n_posterior_samples : int, default=1000
        Draws per observation that locate each region's boundary.
    calibrated : bool, default=True
        Measure the regions :class:`Posterior` gives: calibrated on held-out
        simulations when the estimator has a ``calibration_``
        (:meth:`PosteriorEstimator.calibrate`). False measures ``q``'s own regions.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    CoverageResult
        Calibrated: ``coverage`` equals ``levels`` (up to the binomial error of ``n``
        pairs); above them the posterior is too wide, below too narrow.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GJE
    >>> from skgmje.inference import GaussianPrior, PosteriorEstimator, expected_coverage
    >>> prior = GaussianPrior(mean=[0.0, 0.0], covariance=1.0)
    >>> rng = np.random.RandomState(0)
    >>> theta = prior.sample(3000, random_state=rng)
    >>> x = theta + 0.5 * rng.standard_normal(theta.shape)
    >>> npe = PosteriorEstimator(GJE(), prior=prior, calibration_size=None)
    >>> npe = npe.fit(x[:2000], theta[:2000])     # q's own regions: no calibration
    >>> result = expected_coverage(npe, theta[2000:], x[2000:], random_state=0)
    >>> bool(np.all(np.abs(result.coverage - result.levels) < 0.05))
    True
    """
    rng = check_random_state(random_state)
    levels = np.atleast_1d(np.asarray(levels, dtype=float))
    if np.any((levels <= 0) | (levels >= 1)):
        raise ValueError(f"levels must lie in (0, 1); got {levels.tolist()}.")
    theta, distribution = _check_pairs(posterior_estimator, theta, x)
    hdr_levels = highest_density_levels(
        distribution, posterior_estimator.prior_, theta, n_posterior_samples, random_state=rng
    )
    calibration = getattr(posterior_estimator, "calibration_", None)
    if calibrated and calibration is not None:
        hdr_levels = calibration.level(hdr_levels)
        coverage = np.array([np.mean(hdr_levels < level) for level in levels])
    else:
        coverage = np.array([np.mean(hdr_levels <= level) for level in levels])
    return CoverageResult(levels, coverage, hdr_levels)


def c2st(samples, reference, *, n_folds=5, random_state=0, classifier=None, n_jobs=None):
    """Classifier two-sample test accuracy between two samples, as ``sbi`` computes it.

    Both samples are z-scored with the reference's mean and standard deviation; an MLP
    with two hidden layers of ``10 d`` ReLU units (Adam, at most 1000 epochs, stopped
    when the accuracy on a tenth of the training rows has not improved for 50 epochs:
    ``sbi.utils.metrics.c2st(classifier="mlp")``) is scored by ``n_folds``-fold
    cross-validated accuracy. ``sbibm`` trained the same MLP without early stopping, up to
    10,000 epochs: in ten dimensions it then overfits for minutes per fold on two cores,
    for an accuracy no closer to the two samples' separability.

    Parameters
    ----------
    samples, reference : array-like of shape (n, d) and (m, d)
    n_folds : int, default=5
    random_state : int, default=0
        Seeds the folds and the classifier.
    classifier : classifier, default=None
        Replaces the MLP.
    n_jobs : int, default=None
        Folds fitted in parallel (joblib).

    Returns
    -------
    accuracy : float
        0.5: indistinguishable; 1.0: disjoint.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje.inference import c2st
    >>> rng = np.random.RandomState(0)
    >>> same = c2st(rng.normal(size=(500, 2)), rng.normal(size=(500, 2)))
    >>> apart = c2st(rng.normal(size=(500, 2)) + 3.0, rng.normal(size=(500, 2)))
    >>> bool(same < 0.6), bool(apart > 0.95)
    (True, True)
    """
    samples = np.asarray(samples, dtype=float)
    reference = np.asarray(reference, dtype=float)
    if samples.ndim == 1:
        samples, reference = samples[:, None], reference[:, None]
    center, scale = reference.mean(axis=0), reference.std(axis=0)
    scale = np.where(scale > 0, scale, 1.0)
    data = (np.vstack([reference, samples]) - center) / scale
    target = np.concatenate([np.zeros(len(reference)), np.ones(len(samples))])
    n_dims = data.shape[1]
    if classifier is None:
        classifier = MLPClassifier(
            activation="relu",
            hidden_layer_sizes=(10 * n_dims, 10 * n_dims),
            max_iter=1000,
            solver="adam",
            early_stopping=True,
            n_iter_no_change=50,
            random_state=random_state,
        )
    folds = KFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    scores = cross_val_score(classifier, data, target, cv=folds, scoring="accuracy", n_jobs=n_jobs)
    return float(np.mean(scores))
