"""SMCGMJE: a weighted bank of joint particles, kept by sequential Monte Carlo, as a density."""

import sys
import time
import warnings

import numpy as np
from sklearn.utils import check_random_state

from ._em import covariance_jitter, weighted_variances
from ._gaussian import LOG_2PI, cholesky, log_det_from_cholesky, precision_cholesky
from ._joint import JointConditioning, conditional_distribution, sample_joint
from .base import ConditionalDensityEstimator, check_positive

RESAMPLING = ("multinomial", "systematic")
WEIGHT_UPDATES = ("kernel", "responsibility")


def effective_sample_size(weights):
    """``(sum w)^2 / sum w^2``: ``1 / sum w^2`` of the normalised weights.

    Between 1 (all mass on one item) and the number of items (uniform weights).
    """
    weights = np.asarray(weights, dtype=float)
    return float(np.sum(weights) ** 2 / np.sum(np.square(weights)))


def resample(weights, n_draws, method, random_state=None):
    """Indices of ``n_draws`` items drawn with replacement with probabilities ∝ ``weights``.

    Parameters
    ----------
    weights : ndarray of shape (n_items,)
        Non-negative, not all zero; need not sum to one.
    n_draws : int
    method : {"multinomial", "systematic"}
        ``"multinomial"`` draws independently. ``"systematic"`` uses one uniform
        offset and ``n_draws`` evenly spaced positions, so item ``i`` is drawn
        ``floor(n_draws p_i)`` or ``ceil(n_draws p_i)`` times: the same
        expected counts with far less resampling noise.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    indices : ndarray of shape (n_draws,)
        Expected count of item ``i``: ``n_draws * weights[i] / sum(weights)``.
    """
    rng = check_random_state(random_state)
    cumulative = np.cumsum(weights)
    cumulative /= cumulative[-1]
    if method == "systematic":
        positions = (rng.uniform() + np.arange(n_draws)) / n_draws
    else:
        positions = rng.uniform(size=n_draws)
    # side="right" never lands on a zero-weight item (its cumulative equals its predecessor's).
    return np.searchsorted(cumulative, positions, side="right")


def _shared_covariance_conditioning(weights, means, factor, precision_factor, n_context):
    """The conditioning of K components sharing one covariance, read off its Cholesky factor.

    With ``Sigma = L L^T`` partitioned as ``[[L_cc, 0], [L_tc, L_tt]]``, ``L_cc`` is the
    factor of ``Sigma_cc``, the regression matrix is ``Sigma_tc Sigma_cc^-1 = L_tc L_cc^-1``
    and the Schur complement is ``L_tt L_tt^T``; ``precision_factor = inv(L)^T`` has
    ``inv(L_cc)^T`` as its leading block. Nothing is factorised again, per component or not.
    """
    c = n_context
    n_components = len(means)
    context_precision = precision_factor[:c, :c]
    coef = factor[c:, :c] @ context_precision.T
    with np.errstate(divide="ignore"):
        log_weights = np.log(weights)

    def shared(array):
        return np.broadcast_to(array, (n_components,) + np.shape(array))

    return JointConditioning(
        log_weights=log_weights,
        context_means=means[:, :c],
        context_precisions_cholesky=shared(context_precision),
        context_log_dets=shared(log_det_from_cholesky(factor[:c, :c])),
        coefs=shared(coef),
        intercepts=means[:, c:] - means[:, :c] @ coef.T,
        covariances=shared(factor[c:, c:] @ factor[c:, c:].T),
        joint_means=means,
        joint_choleskys=shared(factor),
    )


class SMCGMJE(ConditionalDensityEstimator):
    """Sequential Monte Carlo GMJE: a particle bank of joint vectors as a density estimator.

    The joint density of ``z = [x, y]`` is a weighted mixture over a bank of
    ``n_particles`` joint vectors (the particles) with one shared full
    covariance (user guide, "SMCGMJE", the paper's Eq. 32 and Algo 6)::

        p(z) = sum_m w_m N(z | mu_m, Sigma)

    and ``p(y | x)`` is its exact Gaussian-mixture conditional (section 4).
    The bank is built by streaming mini-batches ``Z_b`` through it. Each step
    computes the ``B x M`` Mahalanobis matrix between the batch and the bank
    once and uses it three times:

    1. **Particle weights** (Eq. 118), in log space:
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

    Parameters
    ----------
    n_particles : int, default=512
        Size ``M`` of the bank. ``fit`` on fewer rows (with positive weight)
        than ``n_particles`` warns and uses a bank of one particle per row.
    resampling : {"systematic", "multinomial"} or None, default="systematic"
        How ``M`` particles are drawn from the weighted pool at every step;
        ``None`` gives the FIFO queue (no weighting, no resampling).
    weight_update : {"kernel", "responsibility"}, default="kernel"
        ``"kernel"`` is Eq. 118: a particle's weight is multiplied by the
        batch's kernel sum at it, ``sum_b s_b exp(-Maha_bm / 2)``.
        ``"responsibility"`` replaces it by the responsibility mass
        ``sum_b s_b r_bm``, the weight step of EM for a mixture with fixed
        means: each batch item hands out one unit of mass over the bank, so
        particles crowded together share it and a particle alone in a dense
        region gains. It keeps the bank closer to the data density instead of
        sharpening it toward the modes, and measured better than ``"kernel"``
        on Datasets A and B (``benchmarks/bench_smc.py``).
    batch_size : int, default=512
        Rows per step in ``fit`` (the rows of a pass are split into equal
        batches of at most this size). Keep it at least ``n_particles`` with
        resampling: see the Notes.
    max_iter : int, default=10
        Passes of ``fit`` over the shuffled training data.
    covariance_momentum : float, default=0.5
        Weight of the previous shared covariance in its moving average, in
        ``[0, 1)``; 0 sets it to each batch's estimate.
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
        met (a held-out estimate: the batch is not in the bank).

    Attributes
    ----------
    reg_covar_ : ndarray of shape (n_features + n_targets,)
        The jitter added to each joint column's variance (see ``reg_covar``).
    particles_ : ndarray of shape (n_bank, n_features + n_targets)
        The particles (joint vectors ``[x, y]``), the component means. After a
        resampling step some are copies of each other.
    weights_ : ndarray of shape (n_bank,)
        Mixture weights; uniform after a resampling step.
    covariance_ : ndarray of shape (n_features + n_targets, n_features + n_targets)
        The shared joint covariance ``Sigma``.
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
    weights estimated from one small batch adds noise to it. Eq. 118
    (``weight_update="kernel"``) also weighs a particle by the batch's kernel
    density at it, so each resampling moves the bank toward the modes of the
    smoothed density (where branches cross, for instance) and away from an
    even coverage; ``weight_update="responsibility"`` removes that bias and
    halves the gap. What is left fades as ``batch_size`` grows past
    ``n_particles`` (the pool is then mostly fresh keys), which is why the
    defaults use equal sizes. The bank earns its keep where FIFO's premise
    fails: a stream whose recent items are not representative.

    Examples
    --------
    >>> from skgmje.smc import SMCGMJE
    >>> from skgmje.datasets import make_separated_branches
    >>> X, y = make_separated_branches(n_samples=2000, random_state=0)
    >>> model = SMCGMJE(n_particles=512, random_state=0).fit(X, y)
    >>> model.particles_.shape, model.covariance_.shape
    ((512, 2), (2, 2))
    >>> model.predict_distribution([[0.0]])
    GaussianMixtureDistribution(n=1, n_components=512, n_targets=1)
    >>> len(model.ess_history_)   # 10 passes of 4 batches; the first 512 rows fill the bank
    39
    >>> bool(1.0 <= min(model.ess_history_) and max(model.ess_history_) <= 512 + 500)
    True
    >>> X_test, y_test = make_separated_branches(n_samples=5000, random_state=1)
    >>> round(model.score(X_test, y_test), 1)   # mean log p(y | x); the oracle's is -0.2
    -0.4
    """

    def __init__(
        self,
        n_particles=512,
        *,
        resampling="systematic",
        weight_update="kernel",
        batch_size=512,
        max_iter=10,
        covariance_momentum=0.5,
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
        self.reg_covar = reg_covar
        self.random_state = random_state
        self.verbose = verbose

    def _check_parameters(self):
        check_positive("n_particles", self.n_particles, integer=True)
        if self.resampling is not None and not (
            isinstance(self.resampling, str) and self.resampling in RESAMPLING
        ):
            raise ValueError(
                f"resampling must be one of {sorted(RESAMPLING)} or None; got {self.resampling!r}."
            )
        if self.weight_update not in WEIGHT_UPDATES:
            raise ValueError(
                f"weight_update must be one of {list(WEIGHT_UPDATES)}; got {self.weight_update!r}."
            )
        check_positive("batch_size", self.batch_size, integer=True)
        check_positive("max_iter", self.max_iter, integer=True)
        check_positive("covariance_momentum", self.covariance_momentum, allow_zero=True)
        if self.covariance_momentum >= 1:
            raise ValueError(f"covariance_momentum must be < 1; got {self.covariance_momentum!r}.")
        check_positive("reg_covar", self.reg_covar, allow_zero=True)

    def _fit(self, X, Y, sample_weight):
        self._check_parameters()
        Z = np.hstack([X, Y])
        if sample_weight is None:
            weights = np.ones(len(Z))
        else:
            keep = sample_weight > 0
            Z, weights = Z[keep], sample_weight[keep]
            weights = weights / weights.mean()
        n_rows = len(Z)
        capacity = self.n_particles
        if n_rows < capacity:
            warnings.warn(
                f"n_particles={self.n_particles} exceeds the {n_rows} rows with positive "
                f"weight; the bank holds one particle per row.",
                UserWarning,
                stacklevel=2,
            )
            capacity = n_rows
        self._reset(capacity, X.shape[1], Z.shape[1])
        self._set_jitter(Z, weights)
        self._next_id = n_rows
        rows = np.arange(n_rows)
        # Equal batches: a small remainder batch would make one step's weights very noisy.
        n_batches = -(-n_rows // self.batch_size)
        for epoch in range(self.max_iter):
            start = time.perf_counter()
            first_step = len(self.ess_history_)
            order = self._rng.permutation(n_rows)
            for batch in np.array_split(order, n_batches):
                # From the second pass on a batch can meet particles copied from its own rows.
                self._consume(Z[batch], weights[batch], rows[batch], repeats=epoch > 0)
            if self.verbose:
                self._print_pass(epoch, first_step, time.perf_counter() - start)
        self.n_iter_ = self.max_iter
        self._set_conditioning()
        return self

    def partial_fit(self, X, y, sample_weight=None):
        """Make one step with the batch ``(X, y)``, keeping the state of earlier calls.

        The first call (on an unfitted estimator) starts an empty bank; the
        bank fills with the first ``n_particles`` rows streamed in, and every
        later row goes through the weighted resampling step (or the FIFO
        queue). Rows of zero weight are ignored.

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
        self._check_parameters()
        first_call = not hasattr(self, "particles_")
        X, Y, weights = self._validate_partial_fit(X, y, sample_weight, first_call)
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
        self._set_conditioning()
        return self

    def _set_jitter(self, Z, weights):
        """Keep each joint column's variance in ``Z``: ``reg_covar`` is relative to it."""
        shifted = Z - np.average(Z, axis=0, weights=weights)
        self._column_variances = weighted_variances(shifted, weights)
        self._jitter()

    def _jitter(self):
        """The current ``reg_covar`` times the kept variances (``set_params`` applies)."""
        self.reg_covar_ = covariance_jitter(self._column_variances, self.reg_covar)
        return self.reg_covar_

    def _reset(self, capacity, n_context, n_joint):
        self._rng = check_random_state(self.random_state)
        self._capacity = capacity
        self._n_context = n_context
        self.particles_ = np.empty((0, n_joint))
        self._particle_ids = np.empty(0, dtype=np.intp)
        self._masses = np.empty(0)
        self.ess_history_ = []
        self.log_likelihood_history_ = []
        self.n_iter_ = 0

    def _consume(self, Z, weights, ids, repeats):
        """Fill the bank while it has room, then make one step with the rest of the batch."""
        free = self._capacity - len(self.particles_)
        if free > 0:
            self.particles_ = np.concatenate([self.particles_, Z[:free]])
            self._particle_ids = np.concatenate([self._particle_ids, ids[:free]])
            self._masses = np.concatenate([self._masses, weights[:free]])
            if not self.ess_history_:
                self._start_covariance()
            Z, weights, ids = Z[free:], weights[free:], ids[free:]
        if len(Z):
            self._step(Z, weights, ids, repeats)

    def _start_covariance(self):
        """Scott's-rule bandwidth: the bank's weighted covariance times ``n^(-2/(D+4))``."""
        n_bank, n_joint = self.particles_.shape
        share = self._masses / self._masses.sum()
        centred = self.particles_ - share @ self.particles_
        scatter = (centred * share[:, None]).T @ centred
        scott = n_bank ** (-2.0 / (n_joint + 4))
        self._set_covariance(scott * scatter + np.diag(self._jitter()))

    def _set_covariance(self, covariance):
        self.covariance_ = covariance
        self._cholesky = cholesky(covariance)
        self._precision_cholesky = precision_cholesky(self._cholesky)
        self._log_det = float(log_det_from_cholesky(self._cholesky))

    def _step(self, Z, weights, ids, repeats):
        particles = self.particles_
        n_bank, n_joint = particles.shape
        # Distances are taken about the batch mean so the expansion below does not cancel.
        origin = Z.mean(axis=0)
        centred = Z - origin
        centred_particles = particles - origin
        whitened = centred @ self._precision_cholesky
        whitened_particles = centred_particles @ self._precision_cholesky
        mahalanobis = (
            np.square(whitened).sum(axis=1)[:, None]
            + np.square(whitened_particles).sum(axis=1)
            - 2.0 * (whitened @ whitened_particles.T)
        )
        log_joint = np.log(self._masses / self._masses.sum()) - 0.5 * np.maximum(mahalanobis, 0.0)
        if repeats:
            log_joint[ids[:, None] == self._particle_ids] = -np.inf
        peak = log_joint.max(axis=1)
        scored = np.isfinite(peak)
        if not scored.all():
            # Rows whose every particle is a copy of themselves carry no information here.
            if not scored.any():
                return
            Z, weights, ids = Z[scored], weights[scored], ids[scored]
            centred, log_joint, peak = centred[scored], log_joint[scored], peak[scored]
        responsibilities = np.exp(log_joint - peak[:, None])
        row_sums = responsibilities.sum(axis=1)
        responsibilities /= row_sums[:, None]
        # log sum_m w_m exp(-Maha_bm / 2): each item's density under the bank, up to N's constant.
        log_density = peak + np.log(row_sums)

        batch_mass = weights.sum()
        share = weights / batch_mass
        self.log_likelihood_history_.append(
            float(share @ log_density - 0.5 * (self._log_det + n_joint * LOG_2PI))
        )
        weighted = responsibilities * share[:, None]
        cross = (centred.T @ weighted) @ centred_particles
        scatter = (
            (centred * share[:, None]).T @ centred
            - cross
            - cross.T
            + (centred_particles * weighted.sum(axis=0)[:, None]).T @ centred_particles
        )
        scatter = 0.5 * (scatter + scatter.T)
        scatter.flat[:: n_joint + 1] += self._jitter()
        momentum = self.covariance_momentum

        if self.resampling is None:
            self.particles_ = np.concatenate([particles, Z])[-n_bank:]
            self._particle_ids = np.concatenate([self._particle_ids, ids])[-n_bank:]
            self._masses = np.concatenate([self._masses, weights])[-n_bank:]
            self.ess_history_.append(effective_sample_size(self._masses))
        else:
            # Eq. 118 read off the responsibilities: w_m sum_b s_b exp(-Maha_bm / 2) equals
            # sum_b s_b exp(log_density_b) r_bm, taken relative to the largest density;
            # "responsibility" drops the density factor.
            if self.weight_update == "kernel":
                support = weights * np.exp(log_density - log_density.max())
            else:
                support = weights
            particle_weights = responsibilities.T @ support
            key_weights = weights * particle_weights.mean()
            pool_weights = np.concatenate([particle_weights, key_weights])
            pool_weights /= pool_weights.sum()
            self.ess_history_.append(effective_sample_size(pool_weights))
            chosen = resample(pool_weights, n_bank, self.resampling, self._rng)
            self.particles_ = np.concatenate([particles, Z])[chosen]
            self._particle_ids = np.concatenate([self._particle_ids, ids])[chosen]
            self._masses = np.ones(n_bank)
        self._set_covariance(momentum * self.covariance_ + (1.0 - momentum) * scatter)

    def _print_pass(self, epoch, first_step, seconds):
        steps = self.ess_history_[first_step:]
        if steps:
            summary = (
                f"mean ESS {np.mean(steps):.1f}, last batch log-likelihood "
                f"{self.log_likelihood_history_[-1]:.4f}"
            )
        else:
            summary = "bank filling"
        print(
            f"Pass {epoch + 1}/{self.max_iter}: {summary} ({seconds:.3f}s)",
            file=sys.stdout,
            flush=True,
        )

    def _set_conditioning(self):
        self.weights_ = self._masses / self._masses.sum()
        self.conditioning_ = _shared_covariance_conditioning(
            self.weights_,
            self.particles_,
            self._cholesky,
            self._precision_cholesky,
            self._n_context,
        )

    def _predict_distribution(self, X):
        return conditional_distribution(self.conditioning_, X)

    def _sample_joint(self, n_samples, rng):
        return sample_joint(self.conditioning_, n_samples, rng)
