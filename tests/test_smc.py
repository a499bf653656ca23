"""SMCGMJE: the weighted particle bank, its resampling, its covariance and its contract."""

import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from scipy import stats
from scipy.optimize import approx_fprime
from scipy.special import logsumexp
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmje import GJE, smc
from skgmje._core import bandwidth, particles
from skgmje._core.conditioning import conditional_distribution, prepare_conditioning
from skgmje.datasets import (
    make_intersecting_branches,
    make_irrelevant_features,
    make_separated_branches,
)
from skgmje.smc import SMCGMJE, effective_sample_size, resample

PREDICTS_WITH_MISSING_CONTEXTS = (
    "predict conditions a row with NaN contexts on its observed ones (tested in "
    "test_missing.py), while fit takes complete rows only, a combination the check has no tag for"
)
SCORE_SAMPLES_NEEDS_Y = (
    "score_samples is the conditional log-density log p(y|x) and needs y; "
    "order and subset invariance are tested with y in test_estimators.py"
)
EXPECTED_FAILED_CHECKS = {
    "check_methods_sample_order_invariance": SCORE_SAMPLES_NEEDS_Y,
    "check_methods_subset_invariance": SCORE_SAMPLES_NEEDS_Y,
    "check_sample_weight_equivalence_on_dense_data": (
        "fit streams shuffled mini-batches, so repeated rows land in other batches than a "
        "weighted row; zero weights equal removal and weights scale, tested in test_smc.py"
    ),
    "check_estimators_nan_inf": PREDICTS_WITH_MISSING_CONTEXTS,
}


@parametrize_with_checks(
    [SMCGMJE(random_state=0)]
    + [
        SMCGMJE(n_particles=16, batch_size=32, max_iter=3, resampling=method, random_state=0)
        for method in ("multinomial", None)
    ],
    expected_failed_checks=lambda estimator: EXPECTED_FAILED_CHECKS,
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


def _data(n_samples=400, random_state=0):
    return make_separated_branches(n_samples=n_samples, random_state=random_state)


# --- resampling and effective sample size -------------------------------------------------


def test_multinomial_resampling_is_unbiased():
    weights = np.array([0.0, 1.0, 2.0, 3.0, 0.5, 3.5])
    rng = np.random.RandomState(0)
    counts = np.zeros(len(weights))
    n_draws, n_repeats = 40, 500
    for _ in range(n_repeats):
        draws = resample(weights, n_draws, "multinomial", rng)
        counts += np.bincount(draws, minlength=len(weights))
    assert counts[0] == 0  # a zero weight is never drawn
    expected = n_draws * n_repeats * weights[1:] / weights.sum()
    assert stats.chisquare(counts[1:], expected).pvalue > 1e-3


def test_systematic_resampling_is_unbiased_with_floor_or_ceil_counts():
    weights = np.array([0.3, 0.0, 2.2, 1.0, 0.7, 3.1, 0.2])
    rng = np.random.RandomState(1)
    n_draws, n_repeats = 25, 2000
    expected = n_draws * weights / weights.sum()
    counts = np.array(
        [
            np.bincount(resample(weights, n_draws, "systematic", rng), minlength=len(weights))
            for _ in range(n_repeats)
        ]
    )
    assert np.all((counts == np.floor(expected)) | (counts == np.ceil(expected)))
    # Each count takes two neighbouring values, so its standard deviation is at most 1/2.
    tolerance = 4 * 0.5 / np.sqrt(n_repeats)
    np.testing.assert_array_less(np.abs(counts.mean(axis=0) - expected), tolerance)


@settings(max_examples=50, deadline=None)
@given(
    weights=arrays(np.float64, st.integers(1, 30), elements=st.floats(0.0, 1e3)).filter(
        lambda w: w.sum() > 1e-6
    ),
    n_draws=st.integers(1, 40),
    method=st.sampled_from(["multinomial", "systematic"]),
)
def test_resampling_draws_only_items_with_weight(weights, n_draws, method):
    indices = resample(weights, n_draws, method, random_state=0)
    assert indices.shape == (n_draws,)
    assert np.all((indices >= 0) & (indices < len(weights)))
    assert np.all(weights[indices] > 0)


@settings(max_examples=50, deadline=None)
@given(
    weights=arrays(np.float64, st.integers(1, 50), elements=st.floats(0.0, 1e6)).filter(
        lambda w: w.max() > 1e-3
    )
)
def test_effective_sample_size_lies_between_one_and_the_number_of_items(weights):
    ess = effective_sample_size(weights)
    assert 1.0 - 1e-9 <= ess <= len(weights) + 1e-9
    assert effective_sample_size(weights * 7.0) == pytest.approx(ess)


def test_effective_sample_size_extremes():
    assert effective_sample_size(np.ones(9)) == pytest.approx(9.0)
    assert effective_sample_size(np.eye(5)[2]) == pytest.approx(1.0)


# --- the step --------------------------------------------------------------------------------


def _bank_then_batch(resampling, n_particles=12, n_batch=9, random_state=0):
    X, y = _data(n_samples=n_particles + n_batch, random_state=random_state)
    model = SMCGMJE(n_particles=n_particles, resampling=resampling, random_state=0)
    model.partial_fit(X[:n_particles], y[:n_particles])
    return model, X[n_particles:], y[n_particles:]


def _one_update_with_recorded_weights(model, X, y, sample_weight, monkeypatch):
    """Run one ``partial_fit``; return the pooled weights it resampled with, the
    bank it started from, and ``log N(z_b | mu_m, Sigma)`` of shape (bank, batch)."""
    bank, covariance = model.particles_.copy(), model.covariance_.copy()
    seen = []

    def recording_resample(weights, n_draws, method, random_state=None):
        seen.append(weights.copy())
        return resample(weights, n_draws, method, random_state)

    monkeypatch.setattr(particles, "resample", recording_resample)
    model.partial_fit(X, y, sample_weight=sample_weight)
    (pooled,) = seen
    batch = np.column_stack([X, y])
    log_kernel = np.array(
        [stats.multivariate_normal(mean, covariance).logpdf(batch) for mean in bank]
    )
    return pooled, bank, log_kernel


@pytest.mark.parametrize("resampling", ["multinomial", "systematic"])
def test_pooled_weights_are_normalised_equation_118_weights(resampling, monkeypatch):
    model, X, y = _bank_then_batch(resampling)
    sample_weight = np.linspace(0.5, 2.0, len(X))
    pooled, bank, log_kernel = _one_update_with_recorded_weights(
        model, X, y, sample_weight, monkeypatch
    )
    assert pooled.sum() == pytest.approx(1.0, abs=1e-12)

    # [GMJE] Eq. 118 by brute force: log w_m + logsumexp_b(log s_b + log N(z_b | mu_m, Sigma)).
    log_particles = np.log(1 / len(bank)) + logsumexp(log_kernel + np.log(sample_weight), axis=1)
    particles = np.exp(log_particles - log_particles.max())
    keys = sample_weight * particles.mean()  # each incoming key: the mean particle weight
    expected = np.concatenate([particles, keys])
    np.testing.assert_allclose(pooled, expected / expected.sum(), rtol=1e-9, atol=1e-15)
    assert model.ess_history_[-1] == pytest.approx(1.0 / np.sum(pooled**2))
    assert 1.0 <= model.ess_history_[-1] <= len(bank) + len(X)


def test_responsibility_weights_are_the_em_weight_step(monkeypatch):
    model, X, y = _bank_then_batch("systematic")
    model.set_params(weight_update="responsibility")
    sample_weight = np.linspace(0.5, 2.0, len(X))
    pooled, bank, log_kernel = _one_update_with_recorded_weights(
        model, X, y, sample_weight, monkeypatch
    )
    responsibilities = np.exp(log_kernel - logsumexp(log_kernel, axis=0))  # (bank, batch)
    particles = responsibilities @ sample_weight  # each batch item hands out its weight
    keys = sample_weight * particles.mean()
    expected = np.concatenate([particles, keys])
    np.testing.assert_allclose(pooled, expected / expected.sum(), rtol=1e-9, atol=1e-15)


def test_resampling_step_keeps_the_bank_size_and_resets_weights():
    model, X, y = _bank_then_batch("multinomial")
    pool = np.vstack([model.particles_, np.column_stack([X, y])])
    model.partial_fit(X, y)
    assert model.particles_.shape == (12, 2)
    np.testing.assert_array_equal(model.weights_, np.full(12, 1 / 12))
    # Every particle is a copy of an item of the pool (bank + batch).
    distances = np.abs(model.particles_[:, None, :] - pool[None]).sum(axis=2)
    assert np.all(distances.min(axis=1) == 0)


def test_fifo_keeps_the_last_items_streamed():
    X, y = _data(n_samples=50)
    model = SMCGMJE(n_particles=16, resampling=None)
    for start in range(0, 50, 7):
        model.partial_fit(X[start : start + 7], y[start : start + 7])
    np.testing.assert_array_equal(model.particles_, np.column_stack([X, y])[-16:])
    np.testing.assert_array_equal(model.weights_, np.full(16, 1 / 16))
    assert model.ess_history_ == [16.0] * len(model.ess_history_)


def test_fifo_weights_follow_sample_weights_and_normalise():
    X, y = _data(n_samples=30)
    sample_weight = np.arange(1.0, 31.0)
    model = SMCGMJE(n_particles=10, resampling=None).partial_fit(X, y, sample_weight=sample_weight)
    assert model.weights_.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(model.weights_, sample_weight[-10:] / sample_weight[-10:].sum())


@pytest.mark.parametrize("resampling", ["systematic", "multinomial", None])
def test_weights_and_conditional_weights_normalise(resampling):
    X, y = _data()
    model = SMCGMJE(
        n_particles=64, batch_size=64, max_iter=2, resampling=resampling, random_state=0
    ).fit(X, y)
    assert model.weights_.sum() == pytest.approx(1.0)
    distribution = model.predict_distribution(X[:20])
    np.testing.assert_allclose(distribution.weights.sum(axis=1), 1.0)
    assert all(1.0 <= ess <= 64 + 64 for ess in model.ess_history_)


def test_bank_fills_before_the_first_step():
    X, y = _data(n_samples=40)
    model = SMCGMJE(n_particles=30, random_state=0)
    model.partial_fit(X[:20], y[:20])
    assert model.particles_.shape == (20, 2) and model.ess_history_ == []
    np.testing.assert_array_equal(model.particles_, np.column_stack([X[:20], y[:20]]))
    model.partial_fit(X[20:], y[20:])  # 10 rows fill the bank, 10 go through one step
    assert model.particles_.shape == (30, 2) and len(model.ess_history_) == 1


def test_initial_covariance_is_scotts_rule_on_the_first_bank():
    X, y = _data(n_samples=100)
    model = SMCGMJE(n_particles=100, reg_covar=0.0).partial_fit(X, y)
    Z = np.column_stack([X, y])
    expected = 100 ** (-2 / 6) * np.cov(Z, rowvar=False, bias=True)
    np.testing.assert_allclose(model.covariance_, expected, rtol=1e-10)


def test_covariance_comes_from_responsibilities_over_the_bank():
    model, X, y = _bank_then_batch(None)
    bank, covariance = model.particles_.copy(), model.covariance_.copy()
    first_batch_variances = model.reg_covar_ / model.reg_covar
    model.set_params(covariance_momentum=0.25, reg_covar=0.01)
    model.partial_fit(X, y)
    batch = np.column_stack([X, y])
    log_resp = np.array([stats.multivariate_normal(m, covariance).logpdf(batch) for m in bank]).T
    resp = np.exp(log_resp - logsumexp(log_resp, axis=1, keepdims=True))
    diffs = batch[:, None, :] - bank[None]
    scatter = np.einsum("bm,bmi,bmj->ij", resp, diffs, diffs) / len(batch)
    # reg_covar is relative to each column's variance in the first batch streamed in.
    np.testing.assert_allclose(model.reg_covar_, 0.01 * first_batch_variances, rtol=1e-12)
    expected = 0.25 * covariance + 0.75 * (scatter + np.diag(model.reg_covar_))
    np.testing.assert_allclose(model.covariance_, expected, rtol=1e-9)


def test_a_batch_is_never_scored_against_its_own_copy():
    # With a bank holding every row, a batch scored against itself would put each row's
    # responsibility on its own copy at distance zero and the bandwidth would collapse
    # (the trace trap). fit excludes those pairs; partial_fit sees the rows as new ones.
    X, y = _data(n_samples=200)
    fitted = SMCGMJE(
        n_particles=200, batch_size=50, max_iter=8, resampling=None, bandwidth=None
    ).fit(X, y)
    self_scored = SMCGMJE(n_particles=200, resampling=None).partial_fit(X, y)
    for _ in range(8):
        for start in range(0, 200, 50):
            self_scored.partial_fit(X[start : start + 50], y[start : start + 50])
    masked, collapsed = np.linalg.det(fitted.covariance_), np.linalg.det(self_scored.covariance_)
    assert collapsed < 1e-3 * masked
    assert np.all(np.linalg.eigvalsh(fitted.covariance_) > 1e-4)


@pytest.mark.parametrize("n_rows, batch_size", [(2, 1), (3, 2)])
def test_rows_whose_every_particle_is_their_own_copy_are_left_out(n_rows, batch_size):
    # Tiny data and resampling soon make the bank copies of one row; that row's batch item
    # then has nothing to be scored against and must drop out of the step, not give NaN.
    X = np.arange(n_rows, dtype=float)[:, None]
    y = X[:, 0] ** 2
    model = SMCGMJE(n_particles=4, batch_size=batch_size, max_iter=40, random_state=0).fit(X, y)
    assert np.all(np.isfinite(model.covariance_)) and np.all(np.isfinite(model.particles_))
    assert np.all(np.isfinite(model.log_likelihood_history_))
    if batch_size == 1:
        # 40 passes of two one-row batches, less the two that fill the bank: some were skipped.
        assert len(model.ess_history_) < 40 * 2 - 2


def test_shared_covariance_conditioning_matches_the_general_one():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 3))
    Y = X @ rng.normal(size=(3, 2)) + rng.normal(size=(300, 2))
    model = SMCGMJE(n_particles=40, batch_size=60, max_iter=2, random_state=0).fit(X, Y)
    covariances = np.repeat(model.covariance_[None], 40, axis=0)
    general = prepare_conditioning(model.weights_, model.particles_, covariances, 3)
    for name, ours, reference in zip(general._fields, model.conditioning_, general):
        np.testing.assert_allclose(ours, reference, rtol=1e-10, atol=1e-12, err_msg=name)


# --- fit and partial_fit ----------------------------------------------------------------------


@pytest.mark.parametrize("resampling", ["systematic", "multinomial", None])
def test_random_state_makes_fit_reproducible(resampling):
    X, y = _data()
    options = dict(n_particles=64, batch_size=50, max_iter=3, resampling=resampling)
    first = SMCGMJE(random_state=3, **options).fit(X, y)
    second = SMCGMJE(random_state=3, **options).fit(X, y)
    other = SMCGMJE(random_state=4, **options).fit(X, y)
    np.testing.assert_array_equal(first.particles_, second.particles_)
    np.testing.assert_array_equal(first.covariance_, second.covariance_)
    assert first.ess_history_ == second.ess_history_
    assert not np.array_equal(first.particles_, other.particles_)


def test_fit_is_partial_fit_over_shuffled_equal_batches():
    X, y = _data(n_samples=230)
    # reg_covar=0: fit takes the columns' variances from all rows, partial_fit from its first batch.
    fitted = SMCGMJE(
        n_particles=40,
        batch_size=50,
        max_iter=1,
        resampling=None,
        bandwidth=None,
        reg_covar=0.0,
        random_state=0,
    )
    fitted.fit(X, y)
    streamed = SMCGMJE(n_particles=40, resampling=None, reg_covar=0.0)
    order = np.random.RandomState(0).permutation(230)
    for batch in np.array_split(order, 5):  # 230 rows in batches of at most 50: 5 of 46
        streamed.partial_fit(X[batch], y[batch])
    np.testing.assert_array_equal(fitted.particles_, streamed.particles_)
    np.testing.assert_allclose(fitted.covariance_, streamed.covariance_, rtol=1e-12)


def test_partial_fit_keeps_its_state_between_calls():
    X, y = _data(n_samples=300)
    model = SMCGMJE(n_particles=50, random_state=0)
    model.partial_fit(X[:100], y[:100])
    copy_after_one = copy.deepcopy(model)
    model.partial_fit(X[100:200], y[100:200])
    assert len(model.ess_history_) == len(copy_after_one.ess_history_) + 1
    assert not np.array_equal(model.particles_, copy_after_one.particles_)
    # A fitted model continues with partial_fit rather than starting again.
    fitted = SMCGMJE(n_particles=50, batch_size=100, max_iter=1, random_state=0).fit(X, y)
    n_steps = len(fitted.ess_history_)
    fitted.partial_fit(X[:100], y[:100])
    assert len(fitted.ess_history_) == n_steps + 1


def test_partial_fit_rejects_data_of_another_shape():
    X, y = _data(n_samples=60)
    model = SMCGMJE(n_particles=20).partial_fit(X, y)
    with pytest.raises(ValueError, match="features"):
        model.partial_fit(np.hstack([X, X]), y)
    with pytest.raises(ValueError, match="targets"):
        model.partial_fit(X, np.column_stack([y, y]))
    with pytest.raises(ValueError, match="minimum of 2"):
        SMCGMJE().partial_fit(X[:1], y[:1])
    with pytest.raises(ValueError, match="at least 2 samples"):
        SMCGMJE().partial_fit(X[:3], y[:3], sample_weight=[1.0, 0.0, 0.0])


def test_zero_weight_is_removal_and_weights_are_scale_free():
    X, y = _data()
    sample_weight = np.random.RandomState(0).uniform(0.5, 2.0, len(X))
    sample_weight[::5] = 0.0
    keep = sample_weight > 0
    options = dict(n_particles=64, batch_size=50, max_iter=3, random_state=0)
    weighted = SMCGMJE(**options).fit(X, y, sample_weight=sample_weight)
    removed = SMCGMJE(**options).fit(X[keep], y[keep], sample_weight=sample_weight[keep])
    scaled = SMCGMJE(**options).fit(X, y, sample_weight=10.0 * sample_weight)
    np.testing.assert_array_equal(weighted.particles_, removed.particles_)
    np.testing.assert_allclose(weighted.covariance_, removed.covariance_, rtol=1e-12)
    np.testing.assert_array_equal(weighted.particles_, scaled.particles_)
    np.testing.assert_allclose(weighted.covariance_, scaled.covariance_, rtol=1e-12)


@pytest.mark.parametrize("resampling", ["systematic", None])
def test_a_bank_with_room_for_every_row_keeps_every_row(resampling, recwarn):
    # One pass (the default) fills the bank and leaves no row to step with: no row is
    # dropped or copied, whatever the resampling.
    X, y = _data(n_samples=300)
    model = SMCGMJE(resampling=resampling, random_state=0).fit(X, y)
    assert len(recwarn) == 0
    assert model.particles_.shape == (300, 2) and model.ess_history_ == []
    np.testing.assert_array_equal(
        np.sort(model.particles_, axis=0), np.sort(np.column_stack([X, y]), axis=0)
    )


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_particles": 0}, "n_particles"),
        ({"n_particles": 2.5}, "n_particles"),
        ({"resampling": "residual"}, "resampling"),
        ({"weight_update": "likelihood"}, "weight_update"),
        ({"batch_size": 0}, "batch_size"),
        ({"max_iter": 0}, "max_iter"),
        ({"covariance_momentum": 1.0}, "covariance_momentum"),
        ({"covariance_momentum": -0.1}, "covariance_momentum"),
        ({"reg_covar": -1.0}, "reg_covar"),
        ({"bandwidth": "scott"}, "bandwidth"),
        ({"bandwidth": 1.0}, "bandwidth"),
    ],
)
def test_invalid_parameters_are_named(params, message):
    X, y = _data(n_samples=50)
    with pytest.raises(ValueError, match=message):
        SMCGMJE(**params).fit(X, y)
    with pytest.raises(ValueError, match=message):
        SMCGMJE(**params).partial_fit(X, y)


def test_verbose_prints_ess_and_log_likelihood_per_pass_then_the_bandwidth(capsys):
    X, y = _data(n_samples=200)
    SMCGMJE(n_particles=50, batch_size=50, max_iter=2, verbose=1, random_state=0).fit(X, y)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 3 and lines[0].startswith("Pass 1/2")
    assert all("mean ESS" in line and "log-likelihood" in line for line in lines[:2])
    assert lines[2].startswith("Bandwidth: held-out log p(y|x)")


# --- the bandwidth of the conditional ---------------------------------------------------------


def _random_factor(n_joint, random_state):
    rng = np.random.RandomState(random_state)
    root = rng.normal(size=(n_joint, n_joint))
    return np.linalg.cholesky(root @ root.T + n_joint * np.eye(n_joint))


def _blocks(covariance, c):
    slope = covariance[c:, :c] @ np.linalg.inv(covariance[:c, :c])
    return covariance[:c, :c], slope, covariance[c:, c:] - slope @ covariance[:c, c:]


@pytest.mark.parametrize("n_context, n_targets", [(3, 1), (2, 2)])
def test_bandwidth_factor_sets_context_widths_slope_and_residual(n_context, n_targets):
    c, reference = n_context, _random_factor(n_context + n_targets, 0)
    rng = np.random.RandomState(1)
    log_context, log_target = rng.normal(size=c), rng.normal(size=n_targets)
    offset = rng.normal(size=(n_targets, c))
    theta = np.concatenate([log_context, log_target, offset.ravel()])
    np.testing.assert_allclose(bandwidth.bandwidth_factor(reference, c, 0 * theta), reference)

    factor = bandwidth.bandwidth_factor(reference, c, theta)
    assert np.allclose(np.triu(factor, 1), 0) and np.all(np.diag(factor) > 0)
    context, slope, residual = _blocks(factor @ factor.T, c)
    context_0, slope_0, residual_0 = _blocks(reference @ reference.T, c)
    a, b = np.diag(np.exp(log_context)), np.diag(np.exp(log_target))
    # Each context column's kernel widens by its scale, the residual's by the target's.
    np.testing.assert_allclose(context, a @ context_0 @ a, rtol=1e-10)
    np.testing.assert_allclose(residual, b @ residual_0 @ b, rtol=1e-10, atol=1e-12)
    # The slope moves by the offset in units of the reference's own factors.
    L_c, L_t = reference[:c, :c], reference[c:, c:]
    np.testing.assert_allclose(slope, slope_0 + L_t @ offset @ np.linalg.inv(L_c), rtol=1e-10)


def _scores_with_covariance(model, covariance, X, Y):
    """``log p(y | x)`` of the fitted bank (``particles_`` and ``weights_``) with the kernel
    ``covariance`` in place of ``covariance_``: its joint mixture conditioned in closed form."""
    n_particles = len(model.particles_)
    covariances = np.broadcast_to(covariance, (n_particles,) + covariance.shape).copy()
    conditioning = prepare_conditioning(model.weights_, model.particles_, covariances, X.shape[1])
    return conditional_distribution(conditioning, X).log_prob(Y)


@pytest.mark.parametrize("n_context, n_targets", [(3, 1), (2, 2)])
def test_held_out_score_and_its_gradient_are_exact(n_context, n_targets):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, n_context))
    Y = np.sin(X[:, :1]) + X @ rng.normal(size=(n_context, n_targets))
    Y += 0.3 * rng.normal(size=Y.shape)
    model = SMCGMJE(50, batch_size=50, max_iter=2, bandwidth=None, random_state=0)
    model.fit(X[:200], Y[:200])
    reference = np.linalg.cholesky(1.3 * model.covariance_)
    weights = rng.uniform(0.5, 2.0, 100)
    held_out = bandwidth.HeldOut(
        model.particles_, np.log(model.weights_), reference, X[200:], Y[200:], weights
    )
    theta = 0.3 * rng.normal(size=n_context + n_targets + n_context * n_targets)
    value, gradient = held_out.log_likelihood(theta)

    factor = bandwidth.bandwidth_factor(reference, n_context, theta)
    scores = _scores_with_covariance(model, factor @ factor.T, X[200:], Y[200:])
    assert value == pytest.approx(weights @ scores, rel=1e-10)
    numerical = approx_fprime(theta, lambda t: held_out.log_likelihood(t)[0], 1e-6)
    np.testing.assert_allclose(gradient, numerical, rtol=1e-4, atol=1e-3)


def test_chosen_bandwidth_beats_scotts_rule_and_the_stream_on_the_held_out_rows():
    X, y = make_intersecting_branches(n_samples=600, random_state=0)
    train, test = np.arange(400), np.arange(400, 600)
    model = SMCGMJE(n_particles=200, batch_size=200, cv=[(train, test)], random_state=0)
    model.fit(X, y)
    # The fold's own bank, as fit streams it, with Scott's rule or the streamed covariance.
    fold = SMCGMJE(n_particles=200, batch_size=200, bandwidth=None, random_state=0)
    fold.fit(X[train], y[train])
    streamed = fold.score(X[test], y[test])
    Z = np.column_stack([X[train], y[train]])
    scott = particles.scott_covariance(Z, np.ones(400), 200, fold.reg_covar_)
    scotts_rule = np.mean(_scores_with_covariance(fold, scott, X[test], y[test]))
    assert model.bandwidth_score_ > max(streamed, scotts_rule) + 0.3
    assert model.bandwidth_scales_.shape == (2,)


def test_irrelevant_context_columns_get_wide_kernels():
    X, y = make_irrelevant_features(n_samples=800, random_state=2)
    X_test, y_test = make_irrelevant_features(n_samples=2000, random_state=3)
    model = SMCGMJE(random_state=0).fit(X, y)
    relevant, irrelevant = model.bandwidth_scales_[0], model.bandwidth_scales_[1:10]
    assert irrelevant.min() > 5 * relevant
    # The context block spreads across each irrelevant column: its kernel is wider than
    # the column's own spread, so the particles' weights hardly depend on it.
    widths = np.sqrt(np.diag(model.covariance_)[1:10])
    assert np.all(widths > X[:, 1:].std(axis=0))
    streamed = SMCGMJE(bandwidth=None, random_state=0).fit(X, y)
    assert model.score(X_test, y_test) > streamed.score(X_test, y_test) + 0.5


def test_too_few_rows_for_the_folds_keep_the_streamed_covariance():
    X, y = _data(n_samples=5)  # fewer than 2 rows per fold for cv=3
    model = SMCGMJE(random_state=0).fit(X, y)
    streamed = SMCGMJE(bandwidth=None, random_state=0).fit(X, y)
    assert model.bandwidth_scales_ is None and model.bandwidth_score_ is None
    np.testing.assert_array_equal(model.covariance_, streamed.covariance_)


def test_partial_fit_streams_the_covariance_on_from_fit():
    X, y = _data(n_samples=300)
    model = SMCGMJE(n_particles=100, batch_size=100, random_state=0).fit(X[:200], y[:200])
    chosen = model.covariance_.copy()
    assert model.bandwidth_scales_ is not None
    model.partial_fit(X[200:], y[200:])
    assert model.bandwidth_scales_ is None and model.bandwidth_score_ is None
    assert not np.allclose(model.covariance_, chosen)


def test_held_out_rows_are_a_capped_random_share_of_each_fold(monkeypatch):
    X, y = _data(n_samples=300)
    contexts = []
    original = smc.HeldOut

    def recording(particles, log_weights, reference, X, Y, weights):
        contexts.append(X)
        return original(particles, log_weights, reference, X, Y, weights)

    monkeypatch.setattr(smc, "HeldOut", recording)
    monkeypatch.setattr(smc, "MAX_HELD_OUT_ROWS", 60)
    SMCGMJE(n_particles=64, batch_size=64, random_state=0).fit(X, y)
    assert [len(rows) for rows in contexts] == [20, 20, 20]  # a fifth of each fold of 100
    assert len(np.unique(np.concatenate(contexts), axis=0)) == 60  # each row once at most


# --- as a density estimator -------------------------------------------------------------------


def test_default_model_finds_the_branches_of_dataset_a():
    X, y = make_separated_branches(n_samples=2000, random_state=0)
    X_test, y_test = make_separated_branches(n_samples=2000, random_state=1)
    model = SMCGMJE(random_state=0).fit(X, y)
    assert model.score(X_test, y_test) > -0.6  # the oracle reaches -0.2, GJE about -1.6
    assert model.score(X_test, y_test) > GJE().fit(X, y).score(X_test, y_test) + 1.0
    # p(y | x = 0.5): mass on each of the three branches 1.75, 0 and -1.75, little elsewhere.
    grid = np.linspace(-3.0, 3.0, 601)
    density = model.predict_density(np.full((601, 1), 0.5), grid)
    masses = [
        np.trapezoid(density[near], grid[near])
        for near in (np.abs(grid - branch) < 0.3 for branch in (1.75, 0.0, -1.75))
    ]
    assert min(masses) > 0.15 and sum(masses) > 0.9


def test_held_in_log_likelihood_improves_while_streaming():
    X, y = make_intersecting_branches(n_samples=2000, random_state=0)
    model = SMCGMJE(n_particles=256, batch_size=256, max_iter=3, random_state=0).fit(X, y)
    history = model.log_likelihood_history_
    assert np.mean(history[-5:]) > history[0] + 0.5
