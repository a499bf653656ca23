"""A bank of weighted joint particles kept by sequential Monte Carlo (SMCGMJE's algorithm).

The bank holds at most ``capacity`` joint vectors ``z = [x, y]`` (the particles), their
masses and one shared kernel covariance: the mixture ``sum_m w_m N(z | mu_m, Sigma)``
([GMJE]_ Eq. 32, Algo 6). Streamed rows first fill it; later batches make SMC steps.
The state lives in :class:`ParticleBank`, as a Growing Neural Gas's lives in
:class:`~skgmje._core.neural_gas.NeuralGasGraph`; the estimator :class:`skgmje.SMCGMJE`
owns one and says when to step and with which settings.
"""

import numpy as np
from sklearn.utils import check_random_state

from .._persistence import saved_as_fields
from .conditioning import JointConditioning
from .em import weighted_scatter
from .gaussian import LOG_2PI, cholesky, log_det_from_cholesky, precision_cholesky

__all__ = [
    "ParticleBank",
    "effective_sample_size",
    "resample",
    "scott_covariance",
    "shared_covariance_conditioning",
]


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


def shared_covariance_conditioning(weights, means, factor, precision_factor, n_context):
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


def scott_covariance(Z, weights, n_bank, jitter):
    """Scott's rule: the weighted covariance of ``Z`` times ``n_bank^(-2/(D+4))``, the
    rule-of-thumb kernel bandwidth for ``n_bank`` centres in ``D`` dimensions, plus the
    diagonal ``jitter``."""
    share = weights / weights.sum()
    centred = Z - share @ Z
    scott = n_bank ** (-2.0 / (Z.shape[1] + 4))
    return scott * weighted_scatter(centred, share) + np.diag(jitter)


@saved_as_fields
class ParticleBank:
    """At most ``capacity`` weighted particles of width ``n_joint`` and their covariance.

    Attributes are plain data (saved as such with the estimator): ``particles``
    (n_bank, n_joint), their row ``ids`` and ``masses``, the shared ``covariance`` with
    its ``cholesky``, ``precision_cholesky`` and ``log_det``, the ``ess_history`` and
    ``log_likelihood_history`` of the steps, and the random generator ``rng``.
    """

    def __init__(self, capacity, n_joint, random_state):
        self.capacity = capacity
        self.rng = check_random_state(random_state)
        self.particles = np.empty((0, n_joint))
        self.ids = np.empty(0, dtype=np.intp)
        self.masses = np.empty(0)
        self.ess_history = []
        self.log_likelihood_history = []

    def set_covariance(self, covariance):
        """Use ``covariance`` as the shared kernel covariance (factorised once here)."""
        self.covariance = covariance
        self.cholesky = cholesky(covariance)
        self.precision_cholesky = precision_cholesky(self.cholesky)
        self.log_det = float(log_det_from_cholesky(self.cholesky))

    def fill(self, Z, weights, ids, jitter):
        """Put rows in while the bank has room; return the rows that did not fit.

        Until the first step, the covariance is Scott's rule on the particles so far.
        """
        free = self.capacity - len(self.particles)
        if free <= 0:
            return Z, weights, ids
        self.particles = np.concatenate([self.particles, Z[:free]])
        self.ids = np.concatenate([self.ids, ids[:free]])
        self.masses = np.concatenate([self.masses, weights[:free]])
        if not self.ess_history:
            self.set_covariance(
                scott_covariance(self.particles, self.masses, len(self.particles), jitter)
            )
        return Z[free:], weights[free:], ids[free:]

    def step(self, Z, weights, ids, repeats, *, jitter, momentum, resampling, weight_update):
        """One SMC step with the batch ``Z`` (weights, ids) on a full bank.

        Scores the batch against the bank (one ``B x M`` Mahalanobis matrix), records its
        prequential log-likelihood and the effective sample size, keeps the last
        ``capacity`` items (``resampling=None``, a FIFO queue) or resamples the pool of
        particles and batch by their updated weights ([GMJE]_ Eq. 118), and moves the
        covariance towards the responsibility-weighted scatter by ``1 - momentum``.
        With ``repeats``, a row is not scored against particles copied from itself.
        """
        particles = self.particles
        n_bank, n_joint = particles.shape
        # Distances are taken about the batch mean so the expansion below does not cancel.
        origin = Z.mean(axis=0)
        centred = Z - origin
        centred_particles = particles - origin
        whitened = centred @ self.precision_cholesky
        whitened_particles = centred_particles @ self.precision_cholesky
        mahalanobis = (
            np.square(whitened).sum(axis=1)[:, None]
            + np.square(whitened_particles).sum(axis=1)
            - 2.0 * (whitened @ whitened_particles.T)
        )
        log_joint = np.log(self.masses / self.masses.sum()) - 0.5 * np.maximum(mahalanobis, 0.0)
        if repeats:
            log_joint[ids[:, None] == self.ids] = -np.inf
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
        self.log_likelihood_history.append(
            float(share @ log_density - 0.5 * (self.log_det + n_joint * LOG_2PI))
        )
        weighted = responsibilities * share[:, None]
        cross = (centred.T @ weighted) @ centred_particles
        scatter = (
            weighted_scatter(centred, share)
            - cross
            - cross.T
            + (centred_particles * weighted.sum(axis=0)[:, None]).T @ centred_particles
        )
        scatter = 0.5 * (scatter + scatter.T)
        scatter.flat[:: n_joint + 1] += jitter

        if resampling is None:
            self.particles = np.concatenate([particles, Z])[-n_bank:]
            self.ids = np.concatenate([self.ids, ids])[-n_bank:]
            self.masses = np.concatenate([self.masses, weights])[-n_bank:]
            self.ess_history.append(effective_sample_size(self.masses))
        else:
            # [GMJE] Eq. 118 read off the responsibilities: w_m sum_b s_b exp(-Maha_bm / 2) equals
            # sum_b s_b exp(log_density_b) r_bm, taken relative to the largest density;
            # "responsibility" drops the density factor.
            if weight_update == "kernel":
                support = weights * np.exp(log_density - log_density.max())
            else:
                support = weights
            particle_weights = responsibilities.T @ support
            key_weights = weights * particle_weights.mean()
            pool_weights = np.concatenate([particle_weights, key_weights])
            pool_weights /= pool_weights.sum()
            self.ess_history.append(effective_sample_size(pool_weights))
            chosen = resample(pool_weights, n_bank, resampling, self.rng)
            self.particles = np.concatenate([particles, Z])[chosen]
            self.ids = np.concatenate([self.ids, ids])[chosen]
            self.masses = np.ones(n_bank)
        self.set_covariance(momentum * self.covariance + (1.0 - momentum) * scatter)
