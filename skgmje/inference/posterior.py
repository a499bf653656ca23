"""Posteriors ``p(theta | x_o)`` from a conditional density estimator fitted on simulations.

Neural posterior estimation (Papamakarios and Murray 2016; Greenberg et al. 2019) fits
``q(theta | x)`` to pairs ``(theta_i, x_i)`` with ``theta_i`` drawn from the prior and
``x_i`` simulated from it: the minimiser of ``-E log q(theta | x)`` is the posterior. Every
skgmje estimator fits exactly that with ``X = x`` and ``y = theta``. Under a bounded
prior, ``q`` leaks mass outside the support; the posterior is ``q`` restricted to the
support and renormalised, ``log p(theta | x_o) = log q(theta | x_o) - log a`` with ``a``
the mass of ``q`` inside (its *acceptance rate*, estimated from draws as ``sbi`` does).
"""

import numpy as np
from scipy import optimize
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state, get_tags
from sklearn.utils.validation import check_is_fitted

from .._core import univariate
from .priors import as_prior
from .regions import RegionCalibration

__all__ = ["Posterior", "PosteriorEstimator", "conditional_distribution", "default_estimator"]

# Below this acceptance, rejection needs over 1e4 draws per kept one: the estimate of the
# posterior barely overlaps the prior, which says more about the fit than the posterior.
MIN_ACCEPTANCE = 1e-4
_DRAW_ELEMENTS = 4_000_000
# The default estimator's held-out share of the simulations, on which it chooses its
# number of components: the validation fraction of sbi's NPE.
VALIDATION_FRACTION = 0.1
# Its jitter relative to each column's variance: scikit-learn's default.
SIMULATION_REG_COVAR = 1e-6
# Draws of q per held-out simulation that locate its highest-density level when the
# regions are calibrated: levels to 1e-3, finer than the calibration's own 1 / (n + 1).
CALIBRATION_DRAWS = 1000


def default_estimator(random_state=None):
    """The estimator of ``PosteriorEstimator(estimator=None)``: ``GMJE`` choosing its
    number of components on one held-out :data:`VALIDATION_FRACTION` of the simulations,
    with ``reg_covar=1e-6``, its candidates fitted on every core (``n_jobs=-1``).

    GMJE's own defaults are set for tables: 5-fold cross-validation for a few hundred
    rows, and a jitter of 1e-4 of each column's variance against components collapsing
    onto tied rows. Simulations differ on both counts. They are plentiful, so one
    held-out tenth scores each candidate with thousands of rows at a fifth of the cost
    of five folds (on ``bench_sbi``'s tasks the chosen K differs, the C2ST stays
    within 0.016 of ``GMJE()``'s over two runs, at a third to a seventh of its fit
    time). They are continuous
    draws without ties, and a posterior is far narrower than the prior the simulations
    span, so a floor at 1% of the prior's standard deviation is the posterior's own
    width on two moons. In the rounds of :func:`truncated_sequential_estimation`
    (two moons, 10 observations, 3 rounds of 1,111 simulations) it scored as ``GMJE()``
    did, within the noise between repeated runs, and those rounds use ``GMJE()``
    for the reasons given there. The candidates run in parallel because with
    thousands of simulations they are the whole cost of a fit; ``sbi``'s networks
    train on every core too.

    Parameters
    ----------
    random_state : int, RandomState instance or None, default=None
        Seeds the held-out split and the estimator's initialisation.

    Returns
    -------
    estimator : GMJE
        Unfitted.

    Examples
    --------
    >>> from skgmje.inference import default_estimator
    >>> model = default_estimator(random_state=0)
    >>> model.reg_covar, model.cv.test_size, model.n_jobs
    (1e-06, 0.1, -1)
    """
    from sklearn.model_selection import ShuffleSplit

    from ..gmje import GMJE

    seed = random_state
    if not (seed is None or isinstance(seed, (int, np.integer))):
        seed = check_random_state(seed).randint(np.iinfo(np.int32).max)
    return GMJE(
        reg_covar=SIMULATION_REG_COVAR,
        cv=ShuffleSplit(n_splits=1, test_size=VALIDATION_FRACTION, random_state=seed),
        n_jobs=-1,
        random_state=random_state,
    )


def conditional_distribution(estimator, X):
    """``estimator.predict_distribution(X)``, reached through scikit-learn's wrappers.

    A ``Pipeline`` transforms ``X`` through every step but the last, a fitted search
    (``GridSearchCV``) answers with its ``best_estimator_``: neither forwards
    ``predict_distribution`` itself.
    """
    if hasattr(estimator, "predict_distribution"):
        return estimator.predict_distribution(X)
    best = getattr(estimator, "best_estimator_", None)
    if best is not None:
        return conditional_distribution(best, X)
    steps = getattr(estimator, "steps", None)
    if steps:
        for _, step in steps[:-1]:
            if step is not None and step != "passthrough":
                X = step.transform(X)
        return conditional_distribution(steps[-1][1], X)
    raise TypeError(
        f"{type(estimator).__name__} has no predict_distribution: use a skgmje estimator, "
        "or a Pipeline or search ending in one."
    )


def rejection_batch(needed, accepted, tried, floats_per_draw):
    """How many proposals the next rejection batch draws.

    Enough for the ``needed`` draws still missing at the acceptance seen so far (1 before
    any try, at least ``MIN_ACCEPTANCE``), 20% over, at least 64, and within
    ``_DRAW_ELEMENTS`` floats when each proposal takes ``floats_per_draw`` of them: a
    rarely accepting region takes more batches rather than one huge one. Arrays hold one
    entry per row still drawing.
    """
    rate = np.where(tried > 0, np.maximum(accepted / np.maximum(tried, 1.0), MIN_ACCEPTANCE), 1.0)
    limit = max(64, _DRAW_ELEMENTS // max(1, floats_per_draw))
    return int(np.clip(np.max(needed / rate) * 1.2, 64, limit))


def starved(accepted, tried):
    """Whether rejection has tried long enough (``10 / MIN_ACCEPTANCE`` proposals) to
    tell that under ``MIN_ACCEPTANCE`` of them are accepted, per row."""
    return (tried >= 10.0 / MIN_ACCEPTANCE) & (accepted < MIN_ACCEPTANCE * tried)


def sample_within(distribution, prior, n_samples, random_state=None):
    """``n_samples`` draws of each row's mixture restricted to the prior's support.

    Rejection, a batch at a time, over the rows that still need draws.

    Returns
    -------
    draws : ndarray of shape (n, n_samples, d)
    acceptance : ndarray of shape (n,)
        The fraction of all draws of each row that landed in the support.

    Raises
    ------
    RuntimeError
        For a row whose acceptance falls under 1e-4.
    """
    rng = check_random_state(random_state)
    n_rows, n_dims = len(distribution), distribution.n_targets
    if prior is None or prior.bounded is False:
        return distribution.sample(n_samples, random_state=rng), np.ones(n_rows)
    draws = np.empty((n_rows, n_samples, n_dims))
    kept = np.zeros(n_rows, dtype=int)
    tried = np.zeros(n_rows)
    accepted = np.zeros(n_rows)
    pending = np.arange(n_rows)
    while len(pending):
        batch = rejection_batch(
            n_samples - kept[pending], accepted[pending], tried[pending], len(pending) * n_dims
        )
        proposals = distribution[pending].sample(batch, random_state=rng)
        inside = prior.contains(proposals.reshape(-1, n_dims)).reshape(len(pending), batch)
        tried[pending] += batch
        accepted[pending] += inside.sum(axis=1)
        for position, row in enumerate(pending):
            fresh = proposals[position, inside[position]][: n_samples - kept[row]]
            draws[row, kept[row] : kept[row] + len(fresh)] = fresh
            kept[row] += len(fresh)
        done = kept[pending] >= n_samples
        hopeless = ~done & starved(accepted[pending], tried[pending])
        if hopeless.any():
            raise RuntimeError(
                f"Under {MIN_ACCEPTANCE:g} of the estimated posterior's mass lies in the "
                f"prior's support for row(s) {pending[hopeless][:5].tolist()}: the "
                "observation is probably outside what the simulations cover, or the "
                "estimator underfits."
            )
        pending = pending[~done]
    return draws, accepted / tried


def highest_density_levels(distribution, prior, theta, n_draws, random_state=None):
    """Per row, the mass of the smallest highest-density region of ``q(. | x_i)``
    (restricted to the prior's support) that holds ``theta_i``.

    ``P(q(Theta | x_i) > q(theta_i | x_i))`` over the draws of ``n_draws`` from ``q`` that
    land in the support, as a randomised rank: ``(r + U) / (L + 1)`` for ``r`` of the
    ``L`` draws inside denser than ``theta_i`` and ``U`` uniform. Within one row the
    restriction's normaliser is a constant, so comparing ``q`` is enough, and the draws
    outside are simply not counted.

    - A row with under a tenth of its draws inside (an observation near the support's
      edge) is redrawn by rejection (:func:`sample_within`) to that tenth inside, without
      the rejection batches of every other row.
    - A row whose ``theta_i`` is less dense than every draw (a level of 1 to within
      ``1 / n_draws``, where an overconfident ``q`` puts many) is redrawn once with ten
      times as many: tied at 1, such rows make every calibrated region past their share
      the whole support. Those still beyond every draw stay at 1: a ``q`` that misses so
      many truths by so far has no better region to offer.

    Rows go in blocks of at most ``_DRAW_ELEMENTS`` drawn floats.

    Returns
    -------
    levels : ndarray of shape (n,)
        In [0, 1]: uniform when ``q`` is calibrated and ``theta_i`` is drawn from the
        prior with ``x_i`` simulated from it.
    """
    rng = check_random_state(random_state)
    true_log_prob = distribution.log_prob(theta)
    levels = np.empty(len(theta))
    pending = np.arange(len(theta))
    for draws_per_row in (n_draws, 10 * n_draws):
        if len(pending) == 0:
            break
        levels[pending], beyond = _levels_by_drawing(
            distribution[pending], prior, true_log_prob[pending], draws_per_row, rng
        )
        pending = pending[beyond]
    return levels


def _levels_by_drawing(distribution, prior, true_log_prob, n_draws, rng):
    """:func:`highest_density_levels` from ``n_draws`` draws per row, and whether each
    row's truth was less dense than all of its draws inside the support."""
    bounded = prior is not None and prior.bounded is not False
    n_rows, n_dims = len(distribution), distribution.n_targets
    levels, beyond = np.empty(n_rows), np.empty(n_rows, dtype=bool)
    step = max(1, _DRAW_ELEMENTS // (n_draws * n_dims))
    for start in range(0, n_rows, step):
        rows = slice(start, start + step)
        part, truth = distribution[rows], true_log_prob[rows]
        draws = part.sample(n_draws, random_state=rng)
        above = part.log_prob(np.swapaxes(draws, 0, 1)) > truth
        if bounded:
            inside = prior.contains(draws.reshape(-1, n_dims)).reshape(len(draws), n_draws).T
        else:
            inside = np.ones_like(above)
        counts, denser = inside.sum(axis=0), np.sum(above & inside, axis=0)
        enough = max(1, n_draws // 10)
        thin = np.flatnonzero(counts < enough)
        if len(thin):
            sparse = part[thin]
            redrawn, _ = sample_within(sparse, prior, enough, random_state=rng)
            counts[thin] = enough
            denser[thin] = np.sum(sparse.log_prob(np.swapaxes(redrawn, 0, 1)) > truth[thin], axis=0)
        # Randomised ranks, (r + U) / (L + 1): exactly uniform under calibration, and
        # no ties between rows, which would push a calibrated region over its mass.
        levels[rows] = (denser + rng.uniform(size=len(counts))) / (counts + 1)
        beyond[rows] = denser == counts
    return levels, beyond


class Posterior:
    """The estimated posterior ``p(theta | x_o)`` at one observation.

    Made by :meth:`PosteriorEstimator.posterior`. The conditional mixture ``q(theta |
    x_o)`` of the fitted estimator, restricted to the prior's support and renormalised.

    Parameters
    ----------
    distribution : GaussianMixtureDistribution
        One row: ``q(theta | x_o)``.
    prior : object or None
        Anything :func:`skgmje.inference.as_prior` takes; None leaves ``q`` untruncated.
    calibration : RegionCalibration or None, default=None
        Held-out simulations' map from a region's nominal mass to the mass of ``q``'s
        region that holds it (:class:`RegionCalibration`); None: ``q``'s own regions.
    n_acceptance_samples : int, default=10_000
        Draws of ``q`` that estimate its mass inside the prior's support.
    random_state : int, RandomState instance or None, default=None
        Seeds the acceptance estimate.

    Attributes
    ----------
    distribution : GaussianMixtureDistribution
    prior : object or None
    calibration : RegionCalibration or None
    n_dims : int
    acceptance_rate : float
        The mass of ``q`` inside the prior's support (1 for an unbounded prior).
    acceptance_standard_error : float
        Its Monte Carlo standard error (0 when exact).
    """

    def __init__(
        self,
        distribution,
        prior=None,
        *,
        calibration=None,
        n_acceptance_samples=10_000,
        random_state=None,
    ):
        if len(distribution) != 1:
            raise ValueError(f"A Posterior is one observation's; got {len(distribution)} rows.")
        self.distribution = distribution
        self.prior = None if prior is None else as_prior(prior)
        self.calibration = calibration
        self.n_dims = distribution.n_targets
        if self.prior is None or self.prior.bounded is False:
            self.acceptance_rate, self.acceptance_standard_error = 1.0, 0.0
        else:
            draws = distribution.sample(n_acceptance_samples, random_state=random_state)[0]
            rate = float(np.mean(self.prior.contains(draws)))
            if rate == 0.0:
                raise RuntimeError(
                    f"None of {n_acceptance_samples} draws of the estimated posterior lies in "
                    "the prior's support: the observation is probably outside what the "
                    "simulations cover."
                )
            self.acceptance_rate = rate
            self.acceptance_standard_error = float(np.sqrt(rate * (1 - rate) / len(draws)))

    def __repr__(self):
        return (
            f"Posterior(n_dims={self.n_dims}, n_components={self.distribution.n_components}, "
            f"acceptance_rate={self.acceptance_rate:.3g}"
            + ("" if self.calibration is None else f", calibrated on {len(self.calibration)}")
            + ")"
        )

    def _theta(self, theta):
        theta = np.asarray(theta, dtype=float)
        if theta.ndim == 1:
            theta = theta.reshape(-1, self.n_dims) if self.n_dims > 1 else theta[:, None]
        if theta.ndim != 2 or theta.shape[1] != self.n_dims:
            raise ValueError(f"theta must have shape (n, {self.n_dims}); got {np.shape(theta)}.")
        return theta

    def sample(self, n_samples=1, random_state=None):
        """Draw ``n_samples`` parameter vectors, by rejection outside the prior's support.

        Returns
        -------
        theta : ndarray of shape (n_samples, d)
        """
        draws, _ = sample_within(self.distribution, self.prior, n_samples, random_state)
        return draws[0]

    def log_prob(self, theta):
        """``log p(theta | x_o)``: ``log q - log acceptance_rate`` inside the support,
        ``-inf`` outside.

        Parameters
        ----------
        theta : array-like of shape (n, d)

        Returns
        -------
        log_prob : ndarray of shape (n,)
        """
        theta = self._theta(theta)
        log_prob = self.distribution.log_prob(theta[:, None, :])[:, 0] - np.log(
            self.acceptance_rate
        )
        if self.prior is not None and self.prior.bounded is not False:
            log_prob = np.where(self.prior.contains(theta), log_prob, -np.inf)
        return log_prob

    def map(self):
        """The posterior mode: the highest of the local maxima reached from every
        component mean (L-BFGS with the mixture's exact gradient, inside the prior's box
        when it is one).

        Returns
        -------
        theta : ndarray of shape (d,)
        """
        distribution = self.distribution
        _, precision_factors, _ = distribution._factors()
        if not distribution.shared_covariances:
            precision_factors = precision_factors[0]
        precisions = precision_factors @ np.swapaxes(precision_factors, -1, -2)
        means, log_weights = distribution.means[0], distribution.log_weights[0]
        low = getattr(self.prior, "low", None)
        high = getattr(self.prior, "high", None)
        bounds = None if low is None else list(zip(low, high))

        def negative_log_prob(theta):
            log_joint = distribution.component_log_prob(theta[None, None, :])[0, 0]
            log_norm = np.logaddexp.reduce(log_joint)
            resp = np.exp(log_joint - log_norm)
            gradient = np.einsum("k,kde,ke->d", resp, precisions, means - theta)
            return -log_norm, -gradient

        best, best_value = None, np.inf
        for start in means[np.isfinite(log_weights)]:
            if bounds is not None:
                start = np.clip(start, low, high)
            result = optimize.minimize(
                negative_log_prob, start, jac=True, method="L-BFGS-B", bounds=bounds
            )
            inside = self.prior is None or bool(self.prior.contains(result.x[None])[0])
            if inside and result.fun < best_value:
                best, best_value = result.x, result.fun
        if best is None:
            raise RuntimeError("No local maximum of the posterior lies in the prior's support.")
        return best

    def interval(self, coverage=0.9, *, n_samples=20_000, random_state=None):
        """Equal-tailed interval of each parameter's marginal holding ``coverage``.

        Exact quantiles of the mixture's marginals when nothing is truncated; quantiles
        of ``n_samples`` posterior draws otherwise.

        Returns
        -------
        bounds : ndarray of shape (d, 2)
        """
        coverage = univariate.check_coverage(coverage)
        levels = [(1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0]
        if self.acceptance_rate == 1.0:
            return np.vstack(
                [self.distribution.marginal(j).ppf(levels)[0] for j in range(self.n_dims)]
            )
        draws = self.sample(n_samples, random_state=random_state)
        return np.quantile(draws, levels, axis=0).T

    def hdr_log_threshold(self, coverage=0.9, *, n_samples=20_000, random_state=None):
        """The log-density on the boundary of the highest-density region of mass ``coverage``.

        The ``1 - m`` quantile of ``log p(theta | x_o)`` over ``n_samples`` posterior
        draws, the region being ``{theta : log_prob(theta) >= threshold}``. ``m`` is
        ``coverage`` itself, or with a :attr:`calibration` the mass of ``q``'s region
        that held ``coverage`` of the held-out simulations' parameters; ``-inf`` (the
        whole support) when they were too few to calibrate ``coverage``.
        """
        coverage = univariate.check_coverage(coverage)
        mass = coverage if self.calibration is None else self.calibration.mass(coverage)
        if mass >= 1.0:
            return -np.inf
        draws = self.sample(n_samples, random_state=random_state)
        return float(np.quantile(self.log_prob(draws), 1.0 - mass))

    def in_hdr(self, theta, coverage=0.9, *, n_samples=20_000, random_state=None):
        """Whether each row of ``theta`` lies in the highest-density region of mass
        ``coverage`` (:meth:`hdr_log_threshold`)."""
        threshold = self.hdr_log_threshold(coverage, n_samples=n_samples, random_state=random_state)
        theta = self._theta(theta)
        if threshold == -np.inf:
            if self.prior is None or self.prior.bounded is False:
                return np.ones(len(theta), dtype=bool)
            return np.asarray(self.prior.contains(theta), dtype=bool)
        return self.log_prob(theta) >= threshold

    def highest_density_level(self, theta, *, n_samples=20_000, random_state=None):
        """The mass of the smallest highest-density region holding each row of ``theta``.

        ``P(p(Theta | x_o) > p(theta | x_o))`` over ``n_samples`` posterior draws: near 0
        at the mode, near 1 in the tails; ``theta`` lies in the region of mass ``c`` when
        this is at most ``c``. With a :attr:`calibration`, the calibrated level instead
        (:meth:`RegionCalibration.level`): ``theta`` lies in the calibrated region of mass
        ``c`` when it is below ``c``.
        """
        draws = self.sample(n_samples, random_state=random_state)
        reference = np.sort(self.log_prob(draws))
        values = self.log_prob(theta)
        levels = 1.0 - np.searchsorted(reference, values, side="left") / len(reference)
        return levels if self.calibration is None else self.calibration.level(levels)


class PosteriorEstimator(MetaEstimatorMixin, BaseEstimator):
    """Posterior estimation from simulations with any skgmje conditional density estimator.

    Fit on simulated pairs, ``X = x`` (observations, or summary statistics of them) and
    ``y = theta`` (parameters drawn from the prior), then ask :meth:`posterior` at an
    observation ``x_o``. This is neural posterior estimation (NPE; the ``sbi`` package)
    with the closed-form mixtures of [GMJE]_ in place of a network: the fit is EM (or the
    estimator's own), draws and densities are exact, and under a bounded prior the
    posterior is truncated to the support and renormalised.

    Parameters
    ----------
    estimator : estimator, default=None
        A skgmje estimator, or a ``Pipeline``/``DensityPipeline``/search ending in one
        (a transformer in front computes summary statistics of ``x``, e.g. a
        ``JointEmbedding``). None means a ``GMJE`` set for simulations
        (:func:`default_estimator`): its number of components chosen on a held-out
        tenth of the simulations, as sbi's NPE validates, and ``reg_covar=1e-6``.
    prior : object, default=None
        The prior the simulations' parameters were drawn from: :class:`BoxUniform`,
        :class:`GaussianPrior`, a ``torch.distributions``/``sbi`` prior, a frozen
        ``scipy.stats`` distribution, or anything with ``sample`` and ``log_prob``.
        None: nothing is truncated.
    calibration_size : float, int or None, default=0.1
        The share (a float in (0, 1)) or number (an int) of the simulations held out
        from the fit to calibrate the posterior's highest-density regions
        (:meth:`calibrate`, :class:`RegionCalibration`): a region of mass ``c``
        then holds the true parameter with probability at least ``c`` over the prior
        predictive, whatever the estimator's errors. None fits on every simulation and
        keeps ``q``'s own regions. Draws, densities and intervals are ``q``'s either way.
    n_acceptance_samples : int, default=10_000
        Draws that estimate each posterior's mass inside a bounded prior's support.
    random_state : int, RandomState instance or None, default=None
        Seeds the default estimator, the held-out split, and the draws behind the
        acceptance estimates and the calibration.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator``.
    prior_ : object or None
        The prior, through :func:`as_prior`.
    calibration_ : RegionCalibration or None
        The held-out simulations' calibration of the regions, or None.
    n_simulations_ : int
        Simulations given to :meth:`fit`, the held-out ones included.
    n_features_in_ : int
        Columns of ``x``.
    n_dims_ : int
        Parameters.

    See Also
    --------
    truncated_sequential_estimation : Spend the simulations near ``x_o``, in rounds.
    simulation_based_calibration, expected_coverage : Is the posterior calibrated?

    References
    ----------
    .. [GMJE] Gaussian Mixture Joint Embeddings, 2026 (``../shared/paper``); the estimators.
    .. [NPE] G. Papamakarios and I. Murray, "Fast epsilon-free inference of simulation
       models with Bayesian conditional density estimation", NeurIPS 2016.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GMJE
    >>> from skgmje.inference import BoxUniform, PosteriorEstimator
    >>> prior = BoxUniform(low=[-2.0], high=[2.0])
    >>> theta = prior.sample(2000, random_state=0)
    >>> rng = np.random.RandomState(1)
    >>> x = theta**2 + 0.1 * rng.standard_normal(theta.shape)   # the sign is lost
    >>> npe = PosteriorEstimator(GMJE(n_components=6, random_state=0), prior=prior,
    ...                          random_state=0)
    >>> npe = npe.fit(x, theta)     # on 1,800; the other 200 calibrate its regions
    >>> posterior = npe.posterior([1.0])
    >>> draws = posterior.sample(4000, random_state=0)
    >>> bool(np.all(np.abs(draws) <= 2.0))                     # inside the prior's box
    True
    >>> bool(0.3 < np.mean(draws > 0) < 0.7)                   # both signs, as they should
    True
    >>> region = posterior.in_hdr([[1.0], [-1.0], [0.0]], coverage=0.9)
    >>> region.tolist()                                         # both modes, not between
    [True, True, False]
    >>> round(abs(float(posterior.map()[0])), 1)
    1.0
    """

    def __init__(
        self,
        estimator=None,
        *,
        prior=None,
        calibration_size=0.1,
        n_acceptance_samples=10_000,
        random_state=None,
    ):
        self.estimator = estimator
        self.prior = prior
        self.calibration_size = calibration_size
        self.n_acceptance_samples = n_acceptance_samples
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        estimator = default_estimator() if self.estimator is None else self.estimator
        # Missing entries pass through to estimators that condition on what is observed.
        tags.input_tags.allow_nan = get_tags(estimator).input_tags.allow_nan
        return tags

    def fit(self, X, y, **fit_params):
        """Fit ``q(theta | x)`` on simulations.

        Parameters
        ----------
        X : array-like of shape (n_simulations, n_features)
            Simulated observations ``x_i``.
        y : array-like of shape (n_simulations, d) or (n_simulations,)
            Their parameters ``theta_i``, drawn from the prior (or from a truncated
            prior: :func:`truncated_sequential_estimation`).
        **fit_params
            Passed to the estimator's ``fit`` (``sample_weight``, for one: it is split
            with the simulations and weights the calibration too).

        Returns
        -------
        self : PosteriorEstimator
            Its estimator fitted on all but the held-out ``calibration_size``, which
            calibrates the regions (:meth:`calibrate`).
        """
        estimator = (
            default_estimator(self.random_state) if self.estimator is None else self.estimator
        )
        if np.ndim(X) != 2:
            raise ValueError(
                f"Expected a 2D array of simulated observations, got {np.ndim(X)}D: reshape "
                "one feature with x.reshape(-1, 1)."
            )
        y = np.asarray(y)
        self.n_simulations_ = len(y)
        self.n_dims_ = 1 if y.ndim == 1 else y.shape[1]
        self.n_features_in_ = np.shape(X)[1]
        self.prior_ = None if self.prior is None else as_prior(self.prior)
        if self.prior_ is not None and self.prior_.n_dims != self.n_dims_:
            raise ValueError(
                f"The prior has {self.prior_.n_dims} dimensions and theta has {self.n_dims_}."
            )
        self.calibration_ = None
        if self.calibration_size is None:
            self.estimator_ = clone(estimator).fit(X, y, **fit_params)
            return self
        _check_calibration_size(self.calibration_size, len(y))
        sample_weight = fit_params.pop("sample_weight", None)
        arrays = [X, y] if sample_weight is None else [X, y, np.asarray(sample_weight)]
        parts = train_test_split(
            *arrays,
            test_size=self.calibration_size,
            random_state=check_random_state(self.random_state).randint(np.iinfo(np.int32).max),
        )
        X_fit, X_held, y_fit, y_held = parts[:4]
        if sample_weight is not None:
            fit_params["sample_weight"] = parts[4]
        self.estimator_ = clone(estimator).fit(X_fit, y_fit, **fit_params)
        return self.calibrate(
            X_held, y_held, sample_weight=None if sample_weight is None else parts[5]
        )

    def calibrate(self, X, y, sample_weight=None):
        """Calibrate the posterior's highest-density regions on simulations the
        estimator was not fitted on (:class:`RegionCalibration`).

        :meth:`fit` does this on its held-out ``calibration_size``; call it yourself with
        fresh simulations (parameters from the prior) to calibrate on more, or after
        fitting with ``calibration_size=None``. It replaces any earlier calibration.

        Parameters
        ----------
        X : array-like of shape (n, n_features)
            Simulated observations.
        y : array-like of shape (n, d) or (n,)
            Their parameters, drawn from the prior.
        sample_weight : array-like of shape (n,), default=None
            Frequency weights of the pairs.

        Returns
        -------
        self : PosteriorEstimator
        """
        check_is_fitted(self, "estimator_")
        theta = np.asarray(y, dtype=float)
        theta = theta[:, None] if theta.ndim == 1 else theta
        X = np.asarray(X, dtype=float)
        if len(theta) != len(X) or len(theta) == 0:
            raise ValueError(
                f"X and y must be the same non-zero number of simulations; got {len(X)} and "
                f"{len(theta)}."
            )
        if theta.shape[1] != self.n_dims_ or np.isnan(theta).any():
            raise ValueError(
                f"y must be {self.n_dims_} observed parameters per simulation; got shape "
                f"{theta.shape}{' with missing values' if np.isnan(theta).any() else ''}."
            )
        if self.prior_ is not None and not np.all(self.prior_.contains(theta)):
            raise ValueError(
                "Some calibration parameters lie outside the prior's support: the "
                "calibration holds for parameters drawn from the prior, so draw them from it."
            )
        scores = highest_density_levels(
            self.predict_distribution(X),
            self.prior_,
            theta,
            CALIBRATION_DRAWS,
            random_state=self.random_state,
        )
        self.calibration_ = RegionCalibration(scores, sample_weight)
        return self

    def predict_distribution(self, X):
        """The untruncated ``q(theta | x_i)`` for each row of ``X``."""
        check_is_fitted(self)
        return conditional_distribution(self.estimator_, np.asarray(X, dtype=float))

    def score(self, X, y):
        """Mean ``log q(theta_i | x_i)`` of held-out simulations (the NPE objective, untruncated).

        Higher is better; what ``GridSearchCV`` maximises over a ``PosteriorEstimator``.
        """
        y = np.asarray(y, dtype=float)
        return float(np.mean(self.predict_distribution(X).log_prob(y)))

    def posterior(self, x_o, random_state=None):
        """The estimated posterior at one observation.

        Parameters
        ----------
        x_o : array-like of shape (n_features,) or (1, n_features)
        random_state : int, RandomState instance or None, default=None
            Seeds the acceptance estimate (default: the estimator's ``random_state``).

        Returns
        -------
        Posterior
        """
        check_is_fitted(self)
        x_o = np.asarray(x_o, dtype=float).reshape(1, -1)
        if x_o.shape[1] != self.n_features_in_:
            raise ValueError(
                f"x_o has {x_o.shape[1]} features; the simulations had {self.n_features_in_}."
            )
        return Posterior(
            self.predict_distribution(x_o),
            self.prior_,
            calibration=getattr(self, "calibration_", None),
            n_acceptance_samples=self.n_acceptance_samples,
            random_state=self.random_state if random_state is None else random_state,
        )


def _check_calibration_size(calibration_size, n_simulations):
    """Refuse a ``calibration_size`` that leaves no simulation on either side."""
    valid_share = isinstance(calibration_size, float) and 0.0 < calibration_size < 1.0
    valid_count = (
        isinstance(calibration_size, (int, np.integer))
        and not isinstance(calibration_size, bool)
        and 1 <= calibration_size < n_simulations
    )
    if not (valid_share or valid_count):
        raise ValueError(
            "calibration_size must be None, a share in (0, 1), or a number of simulations "
            f"from 1 to {n_simulations - 1}; got {calibration_size!r}."
        )
