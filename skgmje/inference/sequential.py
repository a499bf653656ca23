"""Sequential rounds that spend the simulations near one observation, without bias.

Truncated sequential posterior estimation (Deistler et al. 2022): round 0 simulates
from the prior; every later round simulates from the prior *truncated* to the current
posterior's highest-density region of mass ``1 - epsilon`` at ``x_o``, and the
estimator is refitted on the simulations so far that lie in that region. There they
are prior draws times a constant, so ``q(theta | x_o)`` still estimates the posterior
with the plain NPE objective (no importance weights, no leakage correction).

Deistler et al. refit on every simulation so far; a neural network loses nothing by it,
but a mixture has a budget of components, and the simulations outside the region spend
it on parameters the posterior at ``x_o`` has already ruled out. On ``bench_sbi``'s two
moons (10 observations, 3 rounds of 1,111) the two did not differ measurably: every
variant tried scored a C2ST between 0.564 and 0.578, and repeated runs of one variant
differ by about 0.01.
"""

import inspect
import time
from typing import NamedTuple

import numpy as np
from sklearn.utils import check_random_state

from .posterior import MIN_ACCEPTANCE, PosteriorEstimator, rejection_batch, starved
from .priors import as_prior

__all__ = ["SequentialResult", "truncated_sequential_estimation"]


class SequentialResult(NamedTuple):
    """What :func:`truncated_sequential_estimation` returns.

    Attributes
    ----------
    posterior_estimator : PosteriorEstimator
        Fitted on the last round's training simulations (``n_training``).
    posterior : Posterior
        At ``x_o``.
    theta, x : ndarray
        Every simulation, in order.
    history : list of dict
        One per round: ``round``, ``n_simulations`` (this round's), ``n_simulations_total``,
        ``n_training`` (those inside the region this round drew from, which the
        estimator was fitted on), ``proposal_prior_mass`` (the prior mass of that
        region; 1 in
        round 0), ``next_prior_mass`` (that of the region the fit at the end of the
        round defines), ``acceptance_rate`` (the posterior's mass in the prior's
        support), ``kl_from_previous`` (the estimate of ``KL(q_t || q_{t-1})`` at
        ``x_o`` between this round's posterior and the last one's, in nats; None in
        round 0) and ``seconds``.
    stopped : str
        Why the rounds ended: ``"converged"`` (the posterior moved by less than
        ``tolerance``) or ``"max_rounds"``.
    """

    posterior_estimator: object
    posterior: object
    theta: np.ndarray
    x: np.ndarray
    history: list
    stopped: str


def _simulate(simulator, theta, rng):
    parameters = inspect.signature(simulator).parameters
    if "random_state" in parameters:
        x = simulator(theta, random_state=rng)
    elif len(parameters) >= 2:
        x = simulator(theta, rng)
    else:
        x = simulator(theta)
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    x = np.asarray(x, dtype=float)
    return x.reshape(len(theta), -1)


def _in_region(posterior, log_threshold, theta):
    """Whether each row of ``theta`` has ``log q(theta | x_o) >= log_threshold`` (the
    mixture's ``log_prob`` scores a long column of parameters in bounded blocks)."""
    return posterior.distribution.log_prob(theta[:, None, :])[:, 0] >= log_threshold


def _truncated_prior_draws(prior, posterior, log_threshold, n_samples, rng):
    """``n_samples`` prior draws with ``log q(theta | x_o) >= log_threshold``, and the
    fraction of prior draws that passed (the region's prior mass)."""
    kept, tried, accepted = [], 0, 0
    distribution = posterior.distribution
    # Scoring a proposal projects it onto (K, d) components: that is its share of a batch.
    floats_per_draw = distribution.n_components * distribution.n_targets
    while accepted < n_samples:
        batch = rejection_batch(n_samples - accepted, accepted, tried, floats_per_draw)
        proposals = prior.sample(batch, random_state=rng)
        inside = _in_region(posterior, log_threshold, proposals)
        kept.append(proposals[inside])
        tried += batch
        accepted += int(inside.sum())
        if starved(accepted, tried):
            raise RuntimeError(
                f"The truncated region holds under {MIN_ACCEPTANCE:g} of the prior's mass: "
                "lower truncation_coverage's precision or simulate more per round."
            )
    return np.vstack(kept)[:n_samples], accepted / tried


def truncated_sequential_estimation(
    simulator,
    prior,
    x_o,
    *,
    estimator=None,
    simulations_per_round=1000,
    max_rounds=5,
    truncation_coverage=0.9999,
    tolerance=0.01,
    n_threshold_samples=20_000,
    random_state=None,
    verbose=False,
):
    """Posterior estimation at ``x_o`` in rounds, each simulating near the last posterior.

    Parameters
    ----------
    simulator : callable
        ``simulator(theta)`` (or ``simulator(theta, random_state)``) maps parameters of
        shape (n, d) to observations of shape (n, n_features); NumPy or torch.
    prior : object
        Anything :func:`as_prior` takes.
    x_o : array-like of shape (n_features,)
        The observation.
    estimator : estimator, default=None
        As for :class:`PosteriorEstimator`. None is ``GMJE(n_jobs=-1)``: GMJE's own
        defaults (K by 5-fold cross-validation, ``reg_covar=1e-4``), not
        :func:`default_estimator`'s. Both of that one's reasons are gone in the rounds:
        each fits a few thousand simulations, so a held-out tenth is a few hundred rows
        to choose K on, and inside the region they spread about as wide as the
        posterior, so a floor relative to their spread is no longer one on the scale of
        the prior. On ``bench_sbi``'s two moons (10 observations, 3 rounds of 1,111)
        the two scored alike: C2ST 0.564-0.576 with ``GMJE()`` and 0.572-0.578 with
        :func:`default_estimator` over repeated runs.
    simulations_per_round : int, default=1000
    max_rounds : int, default=5
    truncation_coverage : float, default=0.9999
        The mass ``1 - epsilon`` of the region the next round's prior is truncated to
        (Deistler et al. use ``epsilon = 1e-4``).
    tolerance : float, default=0.01
        Stop once a round's posterior at ``x_o`` differs from the last round's by less
        than this many nats: ``KL(q_t || q_{t-1})``, estimated from ``q_t``'s
        ``n_threshold_samples`` draws. The estimate, not the region, is what the
        rounds refine: once the region has settled, a round still adds simulations
        where the posterior lives.
    n_threshold_samples : int, default=20_000
        Posterior draws that locate the region's boundary.
    random_state : int, RandomState instance or None, default=None
    verbose : bool, default=False
        Print one line per round.

    Returns
    -------
    SequentialResult

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GMJE
    >>> from skgmje.inference import BoxUniform, truncated_sequential_estimation
    >>> prior = BoxUniform(low=[-3.0, -3.0], high=[3.0, 3.0])
    >>> def simulator(theta, random_state):
    ...     return theta + 0.05 * random_state.standard_normal(theta.shape)
    >>> result = truncated_sequential_estimation(
    ...     simulator, prior, [0.5, -1.0], estimator=GMJE(n_components=2, random_state=0),
    ...     simulations_per_round=500, max_rounds=5, random_state=0)
    >>> result.stopped, len(result.history)      # round 1 drew from under 1% of the prior
    ('converged', 4)
    >>> bool(result.history[1]["proposal_prior_mass"] < 0.01)
    True
    >>> np.round(result.posterior.sample(2000, random_state=0).mean(axis=0), 1)
    array([ 0.5, -1. ])
    """
    rng = check_random_state(random_state)
    prior = as_prior(prior)
    x_o = np.asarray(x_o, dtype=float).reshape(-1)
    if max_rounds < 1 or simulations_per_round < 1:
        raise ValueError("max_rounds and simulations_per_round must be at least 1.")
    if not tolerance > 0.0:
        raise ValueError(f"tolerance must be positive; got {tolerance!r}.")
    seed = rng.randint(np.iinfo(np.int32).max)
    if estimator is None:
        from ..gmje import GMJE

        estimator = GMJE(n_jobs=-1, random_state=seed)
    thetas, xs, history = [], [], []
    region = None
    stopped = "max_rounds"
    for round_index in range(max_rounds):
        start = time.perf_counter()
        if region is None:
            theta, proposal_mass = prior.sample(simulations_per_round, random_state=rng), 1.0
        else:
            posterior, log_threshold, proposal_mass = region
            theta, proposal_mass = _truncated_prior_draws(
                prior, posterior, log_threshold, simulations_per_round, rng
            )
        thetas.append(theta)
        xs.append(_simulate(simulator, theta, rng))
        all_theta, all_x = np.vstack(thetas), np.vstack(xs)
        training = np.ones(len(all_theta), dtype=bool)
        if region is not None:
            # Every simulation inside this round's region, whichever round drew it: there
            # they are all prior draws truncated to the region, and none of the model
            # is spent on parameters the posterior at x_o has already ruled out.
            training = _in_region(region[0], region[1], all_theta)
        # Every simulation fits: a round's parameters come from the truncated prior,
        # not the prior that region calibration's guarantee is about.
        posterior_estimator = PosteriorEstimator(
            estimator, prior=prior, calibration_size=None, random_state=seed
        ).fit(all_x[training], all_theta[training])
        posterior = posterior_estimator.posterior(x_o)
        draws = posterior.sample(n_threshold_samples, random_state=rng)
        log_prob = posterior.log_prob(draws)
        # The normalised log-density differs from the mixture's by a constant: the same
        # highest-density region.
        log_threshold = float(
            np.quantile(log_prob + np.log(posterior.acceptance_rate), 1.0 - truncation_coverage)
        )
        kl = None
        if region is not None:
            with np.errstate(divide="ignore"):
                kl = float(np.mean(log_prob - region[0].log_prob(draws)))
        next_mass = float(
            np.mean(
                posterior.distribution.log_prob(
                    prior.sample(n_threshold_samples, random_state=rng)[:, None, :]
                )[:, 0]
                >= log_threshold
            )
        )
        history.append(
            {
                "round": round_index,
                "n_simulations": len(theta),
                "n_simulations_total": len(all_theta),
                "n_training": int(np.count_nonzero(training)),
                "proposal_prior_mass": float(proposal_mass),
                "next_prior_mass": next_mass,
                "acceptance_rate": posterior.acceptance_rate,
                "kl_from_previous": kl,
                "seconds": time.perf_counter() - start,
            }
        )
        if verbose:
            print(
                f"round {round_index}: {len(all_theta)} simulations, region's prior mass "
                f"{proposal_mass:.3g} -> {next_mass:.3g}"
                + ("" if kl is None else f", KL from the last posterior {kl:.3g} nats")
            )
        region = (posterior, log_threshold, next_mass)
        if kl is not None and kl < tolerance:
            stopped = "converged"
            break
    return SequentialResult(
        posterior_estimator, posterior, np.vstack(thetas), np.vstack(xs), history, stopped
    )
