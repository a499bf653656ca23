"""SMCGMJE: a weighted bank of joint particles, kept by sequential Monte Carlo, as a density."""

import time
from numbers import Integral, Real

import numpy as np
from scipy.optimize import minimize
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._core.bandwidth import HeldOut, bandwidth_factor
from ._core.em import covariance_jitter, weighted_variances
from ._core.gaussian import cholesky
from ._core.particles import (
    ParticleBank,
    effective_sample_size,
    resample,
    scott_covariance,
    shared_covariance_conditioning,
)
from ._selection import folds
from ._validation import Interval, StrOptions, positive
from .base import ConditionalDensityEstimator, ConditionedOnContext, StreamingMixin

__all__ = ["SMCGMJE", "effective_sample_size", "resample"]

RESAMPLING = ("multinomial", "systematic")
WEIGHT_UPDATES = ("kernel", "responsibility")
# The chosen kernel widths stay within this factor of Scott's rule either way. Wider
# than 100 times, a kernel is flat across the data in that column (Scott's width is a
# sizeable fraction of the column's spread); narrower than 1/100, each kernel covers
# little more than its own centre, and rows repeated across folds could otherwise shrink
# a width without bound.
SCALE_LIMIT = 100.0
# The bandwidth is a few numbers per column; this many held-out rows estimate their mean
# log-likelihood to a small fraction of its spread, and they bound the cost of one
# evaluation (a matrix of held-out rows by particles) whatever the size of the data.
MAX_HELD_OUT_ROWS = 2048


class SMCGMJE(StreamingMixin, ConditionedOnContext, ConditionalDensityEstimator):
    """Sequential Monte Carlo GMJE: a particle bank of joint vectors as a density estimator.

    The joint density of ``z = [x, y]`` is a weighted mixture over a bank of
    ``n_particles`` joint vectors (the particles) with one shared full
    covariance (user guide, "SMCGMJE"; [GMJE]_ Eq. 32 and Algo 6)::

        p(z) = sum_m w_m N(z | mu_m, Sigma)

    and ``p(y | x)`` is its exact Gaussian-mixture conditional ([GMJE]_ Eq. 102-104).
    The bank is built by streaming mini-batches ``Z_b`` through it. Each step
    computes the ``B x M`` Mahalanobis matrix between the batch and the bank
    once and uses it three times:

    1. **Particle weights** ([GMJE]_ Eq. 118), in log space:
       ``log w~_m = log w_m + logsumexp_b(log s_b - Maha(z_b, mu_m) / 2)``,
       with ``s_b`` the sample weights. The Gaussian normaliser and ``|Sigma|``
       are shared by all particles and cancel.
    2. **Incoming keys and resampling.** The batch items join the pool, each
       with the mean weight of the particles times its sample weight, so an
       unweighted batch holds ``B / (M + B)`` of the pooled mass: the share a
       FIFO queue gives it. New keys are not scored, because both ways of
       scoring them measured worse on Datasets A and B: scored against the
       bank, keys are favoured where the bank already is, so a gap in the
       coverage never refills and the bank collapsed onto a few branches;
       scored against the other batch items (the leave-one-out form of
       user guide, "SMCGMJE"), the keys are sharpened toward dense regions on top
       of the particles. The pooled ``M + B`` weights are normalised, their
       effective sample size ``1 / sum w^2`` is recorded in ``ess_history_``,
       ``M`` particles are drawn from the pool with replacement ∝ weight
       (``resampling``) and every weight is reset to ``1/M``.
    3. **Shared covariance.** Responsibilities
       ``r_bm ∝ w_m N(z_b | mu_m, Sigma)`` of each batch item over the bank
       give ``S = sum_b s_b sum_m r_bm (z_b - mu_m)(z_b - mu_m)^T / sum_b s_b``
       and ``Sigma <- c Sigma + (1 - c) (S + reg_covar I)`` with
       ``c = covariance_momentum``. The batch is scored against the bank,
       never against itself: a batch covariance evaluated on its own batch
       has a constant Mahalanobis trace (the trace trap, user guide, "GJE")
       and a kernel density scored on its own points shrinks its bandwidth to
       zero. For the same reason ``fit`` never scores a batch item against a
       particle that is a copy of that same training row (possible from the
       second pass on).

    With ``resampling=None`` the bank is MoCo's FIFO queue instead: the batch
    is enqueued, the oldest particles are dropped, weights stay uniform (or
    proportional to the sample weights), and only the covariance update uses
    the Mahalanobis matrix.

    The bank first fills with the first ``n_particles`` items streamed in
    (there is nothing to score against yet); ``Sigma`` starts as
    the weighted covariance of the filled bank times Scott's factor
    ``n^(-2/(D+4))``, the rule-of-thumb kernel bandwidth for ``n`` points in
    ``D`` dimensions.

    **The bandwidth of the conditional.** ``Sigma`` is the kernel's bandwidth,
    and the one streamed is fitted to the joint density: with many context
    columns the joint likelihood is mostly the density of ``x``, and a column
    whose values repeat (counts, categories, measurements that are often zero)
    pulls its width toward zero, because exact matches are common. Of
    ``Sigma``, ``p(y | x)`` uses only the context block (the kernel that
    weighs the particles at ``x``), the slope ``Sigma_yx Sigma_xx^-1`` and the
    residual covariance, and ``bandwidth="auto"`` ends ``fit`` by choosing
    those three for ``p(y | x)``: by ``cv``-fold cross-validation of the
    held-out ``log p(y | x)``. Cross-validating a conditional kernel density
    gives an irrelevant context column an ever wider kernel, so that it drops
    out (Hall, Racine and Li 2004 show it for the least-squares form of the
    criterion). From Scott's rule on the training rows it fits a width scale
    per context column (``Sigma_xx -> D_a Sigma_xx D_a``), a scale per target
    column of the residual's Cholesky factor and the slope, by L-BFGS on the
    pooled held-out score and its exact gradient, and applies them to Scott's
    rule on all rows.
    Each fold streams its training rows into a bank of its own and scores its
    held-out rows against it: never a row against a bank that saw it, since
    the resampling copies the particles that the rows' kernels favoured, so a
    row scored against a bank it helped choose looks likelier than a new one.
    Starting from Scott's rule rather than from the streamed ``Sigma`` keeps a
    column that the stream shrank toward zero width within reach.

    Parameters
    ----------
    n_particles : int, default=2048
        Size ``M`` of the bank, the number of kernels of the mixture. More
        kernels resolve the density more finely; a bank costs ``O(M)`` per
        predicted row and a step's ``B x M`` matrices (32 MB each at
        ``B = M = 2048``). ``fit`` on fewer rows keeps every row: with room for
        them all there is nothing to select, and a selection of independent
        rows can only drop information.
    resampling : {"systematic", "multinomial"} or None, default="systematic"
        How ``M`` particles are drawn from the weighted pool at every step;
        ``None`` gives the FIFO queue (no weighting, no resampling).
    weight_update : {"kernel", "responsibility"}, default="kernel"
        ``"kernel"`` is [GMJE]_ Eq. 118: a particle's weight is multiplied by the
        batch's kernel sum at it, ``sum_b s_b exp(-Maha_bm / 2)``.
        ``"responsibility"`` replaces it by the responsibility mass
        ``sum_b s_b r_bm``, the weight step of EM for a mixture with fixed
        means: each batch item hands out one unit of mass over the bank, so
        particles crowded together share it and a particle alone in a dense
        region gains. It keeps the bank closer to the data density instead of
        sharpening it toward the modes, and measured better than ``"kernel"``
        on Datasets A and B (``benchmarks/bench_smc.py``).
    batch_size : int, default=2048
        Rows per step in ``fit`` (the rows of a pass are split into equal
        batches of at most this size). Keep it at least ``n_particles`` with
        resampling: see the Notes.
    max_iter : int, default=1
        Passes of ``fit`` over the shuffled training data. One, as a stream
        would be seen: a row streamed again meets particles that its own kernel
        helped to copy, so each further pass weighs the bank toward the rows
        already in it and leaves fewer distinct rows (the impoverishment of a
        particle filter fed the same observations twice). More passes refine
        only the streamed covariance, which ``bandwidth="auto"`` replaces.
    covariance_momentum : float, default=0.5
        Weight of the previous shared covariance in its moving average, in
        ``[0, 1)``; 0 sets it to each batch's estimate.
    bandwidth : {"auto"} or None, default="auto"
        ``"auto"`` chooses the covariance of the conditional at the end of
        ``fit`` by cross-validation, as described above; a fit then costs
        ``cv + 1`` streamed fits and a search whose steps each cost
        ``O(N M D)`` for ``N`` held-out rows (a random subset of at most
        2048). ``None`` keeps the streamed covariance. With fewer than
        ``2 cv`` rows the streamed covariance is kept. :meth:`partial_fit`
        always keeps it: it sees one batch and has no rows to hold out.
    cv : int, cross-validation splitter or iterable, default=3
        The folds of ``bandwidth="auto"``: an int is that many shuffled folds
        (seeded by ``random_state``), anything else is used as
        ``sklearn.model_selection.check_cv`` would. Three folds leave each fold
        two thirds of the rows, enough for a bank close to the final one: a
        kernel's best width changes with the number of centres ``n`` only as
        ``n^(-1/(D+4))``.
    reg_covar : float, default=1e-6
        Non-negative regularisation relative to the data: ``reg_covar`` times each
        joint column's variance (in the training data, or the first batch of
        :meth:`partial_fit`; ``reg_covar`` itself for a constant column) is added
        to the diagonal of the shared covariance, so the fit does not depend on
        the units of ``X`` and ``y``.
    random_state : int, RandomState instance or None, default=None
        Seeds the shuffling of ``fit`` and the resampling.
    verbose : int, default=0
        1 prints, after each pass of ``fit``, the mean effective sample size
        and the mean joint log-likelihood of the last batch under the bank it
        met (a held-out estimate: the batch is not in the bank), and the chosen
        bandwidth; 2 also prints both for every batch, and each step of the
        bandwidth search.

    Attributes
    ----------
    reg_covar_ : ndarray of shape (n_features + n_targets,)
        The jitter added to each joint column's variance (see ``reg_covar``).
    bandwidth_scales_ : ndarray of shape (n_features + n_targets,) or None
        With ``bandwidth="auto"``: the chosen kernel width of each context
        column and residual scale of each target column, relative to Scott's
        rule (1 is Scott's; an irrelevant context column gets a large one).
        None when the streamed covariance was kept.
    bandwidth_score_ : float or None
        With ``bandwidth="auto"``: the mean held-out ``log p(y | x)`` over the
        folds at the chosen covariance. None when the streamed covariance was
        kept.
    particles_ : ndarray of shape (n_bank, n_features + n_targets)
        The particles (joint vectors ``[x, y]``), the component means. After a
        resampling step some are copies of each other.
    weights_ : ndarray of shape (n_bank,)
        Mixture weights; uniform after a resampling step.
    covariance_ : ndarray of shape (n_features + n_targets, n_features + n_targets)
        The shared joint covariance ``Sigma``: the chosen one after ``fit`` with
        ``bandwidth="auto"``, which a later :meth:`partial_fit` streams on from.
    ess_history_ : list of float
        Effective sample size at each step: of the pooled ``M + B`` weights
        before resampling, or of the queue's weights for FIFO.
    log_likelihood_history_ : list of float
        Mean joint log-likelihood of each step's batch under the bank before
        the step (a prequential, held-out score).
    conditioning_ : JointConditioning
        The precomputed conditioning of the mixture on ``x``.
    n_iter_ : int
        Passes over the data made by ``fit``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    n_targets_ : int

    See Also
    --------
    GMJE : a joint Gaussian mixture with per-component covariances, fitted by EM.

    Notes
    -----
    ``partial_fit`` makes one step with the batch it is given and keeps every
    piece of state (bank, covariance, random generator) between calls, as
    dask-ml's ``Incremental`` expects. ``sample_weight`` multiplies each
    item's contribution to the particle weights, to its own pool weight and
    to the covariance estimate; ``fit`` first rescales the weights to mean
    one and drops rows of zero weight, so a zero weight is the same as
    leaving the row out.

    As a density estimator the resampled bank is measurably worse than the
    FIFO queue on the paper's Datasets A and B (``benchmarks/bench_smc.py``).
    With independent, identically distributed batches the FIFO queue is
    already an unbiased sample of the data, and any selection driven by
    weights estimated from one small batch adds noise to it. [GMJE]_ Eq. 118
    (``weight_update="kernel"``) also weighs a particle by the batch's kernel
    density at it, so each resampling moves the bank toward the modes of the
    smoothed density (where branches cross, for instance) and away from an
    even coverage; ``weight_update="responsibility"`` removes that bias and
    narrows the gap (the Benchmarks page's SMC section has the numbers of the
    last run). What is left fades as ``batch_size`` grows past
    ``n_particles`` (the pool is then mostly fresh keys), which is why the
    defaults use equal sizes. The bank earns its keep where FIFO's premise
    fails: a stream whose recent items are not representative.

    References
    ----------
    Hall, P., Racine, J. and Li, Q. (2004). Cross-validation and the estimation
    of conditional probability densities. Journal of the American Statistical
    Association, 99(468), 1015-1026.

    Examples
    --------
    >>> from skgmje.smc import SMCGMJE
    >>> from skgmje.datasets import make_irrelevant_features
    >>> X, y = make_irrelevant_features(n_samples=1000, random_state=0)
    >>> X.shape   # only the first of the 10 context columns matters
    (1000, 10)
    >>> model = SMCGMJE(random_state=0).fit(X, y)
    >>> model.particles_.shape   # the default bank has room for every row
    (1000, 11)
    >>> scales = model.bandwidth_scales_   # 10 context widths, then the residual's
    >>> bool(scales[1:10].min() > 5 * scales[0])   # the irrelevant columns are smoothed over
    True
    >>> model.predict_distribution(X[:2])
    GaussianMixtureDistribution(n=2, n_components=1000, n_targets=1)
    >>> X_test, y_test = make_irrelevant_features(n_samples=2000, random_state=1)
    >>> streamed = SMCGMJE(bandwidth=None, random_state=0).fit(X, y)
    >>> bool(model.score(X_test, y_test) > streamed.score(X_test, y_test) + 0.5)
    True

    A stream longer than the bank goes through the weighted resampling, one
    :meth:`partial_fit` per batch:

    >>> stream = SMCGMJE(n_particles=256, random_state=0)
    >>> for start in range(0, 1000, 250):
    ...     stream = stream.partial_fit(X[start : start + 250], y[start : start + 250])
    >>> stream.particles_.shape, len(stream.ess_history_)   # the first 256 rows fill it
    ((256, 11), 3)
    """

    _parameter_constraints = {
        "n_particles": [positive(Integral)],
        "resampling": [StrOptions(set(RESAMPLING)), None],
        "weight_update": [StrOptions(set(WEIGHT_UPDATES))],
        "batch_size": [positive(Integral)],
        "max_iter": [positive(Integral)],
        "covariance_momentum": [Interval(Real, 0, 1, closed="left")],
        "bandwidth": [StrOptions({"auto"}), None],
        "cv": ["cv_object"],
        "reg_covar": [positive(allow_zero=True)],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_particles=2048,
        *,
        resampling="systematic",
        weight_update="kernel",
        batch_size=2048,
        max_iter=1,
        covariance_momentum=0.5,
        bandwidth="auto",
        cv=3,
        reg_covar=1e-6,
        random_state=None,
        verbose=0,
    ):
        self.n_particles = n_particles
        self.resampling = resampling
        self.weight_update = weight_update
        self.batch_size = batch_size
        self.max_iter = max_iter
        self.covariance_momentum = covariance_momentum
        self.bandwidth = bandwidth
        self.cv = cv
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.verbose = verbose

    def _fit(self, X, Y, sample_weight):
        Z = np.hstack([X, Y])
        if sample_weight is None:
            weights = np.ones(len(Z))
        else:
            keep = sample_weight > 0
            Z, weights = Z[keep], sample_weight[keep]
            weights = weights / weights.mean()
        n_rows = len(Z)
        self._reset(min(self.n_particles, n_rows), X.shape[1], Z.shape[1])
        self._set_jitter(Z, weights)
        self._next_id = n_rows
        rows = np.arange(n_rows)
        # Equal batches: a small remainder batch would make one step's weights very noisy.
        n_batches = -(-n_rows // self.batch_size)
        for epoch in range(self.max_iter):
            start = time.perf_counter()
            first_step = len(self.ess_history_)
            order = self._bank.rng.permutation(n_rows)
            for batch in np.array_split(order, n_batches):
                # From the second pass on a batch can meet particles copied from its own rows.
                self._consume(Z[batch], weights[batch], rows[batch], repeats=epoch > 0)
            self._print_pass(epoch, first_step, time.perf_counter() - start)
        self.n_iter_ = self.max_iter
        self.bandwidth_scales_ = self.bandwidth_score_ = None
        if self.bandwidth == "auto":
            self._choose_bandwidth(Z, weights)
        self._set_conditioning()
        return self

    def _choose_bandwidth(self, Z, weights):
        """Set the covariance to the one with the best ``cv``-fold held-out ``log p(y | x)``.

        Each fold's training rows are streamed into a bank as ``fit`` streams them; its
        held-out rows are scored against that bank, the covariance set relative to Scott's
        rule on the same training rows (:func:`_bandwidth_factor`). The scales and slope
        that maximise the pooled held-out score are then applied to Scott's rule on all rows.
        """
        rng = check_random_state(self.random_state)
        pairs = folds(self.cv, len(Z), rng)
        if pairs is None:
            return
        c, n_targets = self._n_context, Z.shape[1] - self._n_context
        keep = min(1.0, MAX_HELD_OUT_ROWS / len(Z))
        held_out = []
        for train, test in pairs:
            model = clone(self).set_params(bandwidth=None, verbose=0)
            model._fit(Z[train, :c], Z[train, c:], weights[train])
            test = rng.permutation(test)[: max(1, round(keep * len(test)))]
            with np.errstate(divide="ignore"):
                log_weights = np.log(model.weights_)
            held_out.append(
                HeldOut(
                    model.particles_,
                    log_weights,
                    model._reference_factor(Z[train], weights[train]),
                    Z[test, :c],
                    Z[test, c:],
                    weights[test],
                )
            )
        total = sum(part.weights.sum() for part in held_out)

        def loss(theta):
            values, gradients = zip(*(part.log_likelihood(theta) for part in held_out))
            return -sum(values) / total, -sum(gradients) / total

        n_scales = c + n_targets
        limit = np.log(SCALE_LIMIT)
        result = minimize(
            loss,
            np.zeros(n_scales + n_targets * c),
            jac=True,
            method="L-BFGS-B",
            bounds=[(-limit, limit)] * n_scales + [(None, None)] * (n_targets * c),
            # Steps that gain less than a millionth of the score are far inside its own noise;
            # the default tolerances follow an irrelevant column's width for hundreds of
            # steps across a plateau that the score barely rises on.
            options={"ftol": 1e-6, "gtol": 1e-4},
            callback=self._print_search_step if self.verbose >= 2 else None,
        )
        factor = bandwidth_factor(self._reference_factor(Z, weights), c, result.x)
        self._bank.set_covariance(factor @ factor.T)
        self.bandwidth_scales_ = np.exp(result.x[:n_scales])
        self.bandwidth_score_ = float(-result.fun)
        self._print(
            1,
            f"Bandwidth: held-out log p(y|x) {self.bandwidth_score_:.5f}, scales "
            f"{np.array2string(self.bandwidth_scales_, precision=3)}",
        )

    def _reference_factor(self, Z, weights):
        """Scott's rule for the bank of this fit, on the rows ``Z`` it was fitted on."""
        return cholesky(scott_covariance(Z, weights, len(self.particles_), self._jitter()))

    def partial_fit(self, X, y, sample_weight=None):
        """Make one step with the batch ``(X, y)``, keeping the state of earlier calls.

        The first call (on an unfitted estimator) starts an empty bank; the
        bank fills with the first ``n_particles`` rows streamed in, and every
        later row goes through the weighted resampling step (or the FIFO
        queue). Rows of zero weight are ignored. The covariance is the
        streamed one (``bandwidth`` applies to :meth:`fit` only).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; each row's contributions are multiplied by it.

        Returns
        -------
        self : object
        """
        return super().partial_fit(X, y, sample_weight)

    def _partial_fit(self, X, Y, weights, first_call):
        keep = weights > 0
        if first_call and np.count_nonzero(keep) < 2:
            raise ValueError(
                "The first partial_fit call needs at least 2 samples with positive weight "
                "to start the bank and its covariance."
            )
        Z = np.hstack([X, Y])[keep]
        weights = weights[keep]
        if first_call:
            self._reset(self.n_particles, X.shape[1], Z.shape[1])
            self._set_jitter(Z, weights)
            self._next_id = 0
        ids = self._next_id + np.arange(len(Z))
        self._next_id += len(Z)
        self._consume(Z, weights, ids, repeats=False)
        # The covariance streams on from here, whatever fit chose.
        self.bandwidth_scales_ = self.bandwidth_score_ = None
        self._set_conditioning()
        return self

    def _set_jitter(self, Z, weights):
        """Keep each joint column's variance in ``Z``: ``reg_covar`` is relative to it."""
        center = np.average(Z, axis=0, weights=weights)
        self._column_variances = weighted_variances(Z - center, weights)
        self._jitter()

    def _jitter(self):
        """The current ``reg_covar`` times the kept variances (``set_params`` applies)."""
        self.reg_covar_ = covariance_jitter(self._column_variances, self.reg_covar)
        return self.reg_covar_

    def _reset(self, capacity, n_context, n_joint):
        self._bank = ParticleBank(capacity, n_joint, self.random_state)
        self._n_context = n_context
        self.n_iter_ = 0

    def _consume(self, Z, weights, ids, repeats):
        """Fill the bank while it has room, then make one step with the rest of the batch."""
        bank = self._bank
        Z, weights, ids = bank.fill(Z, weights, ids, self._jitter())
        if len(Z):
            steps = len(bank.ess_history)
            bank.step(
                Z,
                weights,
                ids,
                repeats,
                jitter=self._jitter(),
                momentum=self.covariance_momentum,
                resampling=self.resampling,
                weight_update=self.weight_update,
            )
            if len(bank.ess_history) > steps:
                self._print(
                    2,
                    f"Batch {len(bank.ess_history)}: ESS {bank.ess_history[-1]:.1f}, "
                    f"log-likelihood {bank.log_likelihood_history[-1]:.4f}",
                )

    # The bank's state, under the estimator's public names.
    particles_ = property(lambda self: self._bank.particles)
    covariance_ = property(lambda self: self._bank.covariance)
    ess_history_ = property(lambda self: self._bank.ess_history)
    log_likelihood_history_ = property(lambda self: self._bank.log_likelihood_history)

    def _print_search_step(self, intermediate_result):
        self._print(2, f"Bandwidth search: held-out log p(y|x) {-intermediate_result.fun:.5f}")

    def _print_pass(self, epoch, first_step, seconds):
        if not self.verbose:
            return
        steps = self.ess_history_[first_step:]
        if steps:
            summary = (
                f"mean ESS {np.mean(steps):.1f}, last batch log-likelihood "
                f"{self.log_likelihood_history_[-1]:.4f}"
            )
        else:
            summary = "bank filling"
        self._print(1, f"Pass {epoch + 1}/{self.max_iter}: {summary} ({seconds:.3f}s)")

    # The conditioning of 2048 particles is 8x the bank itself: rebuilt from it on load.
    _recomputed_on_load = ("conditioning_",)

    def _recompute_on_load(self):
        self._set_conditioning()

    def _set_conditioning(self):
        bank = self._bank
        self.weights_ = bank.masses / bank.masses.sum()
        self.conditioning_ = shared_covariance_conditioning(
            self.weights_, bank.particles, bank.cholesky, bank.precision_cholesky, self._n_context
        )
