"""skgmje.inference: priors, posteriors from simulations, sequential rounds, calibration,
and the reference posteriors of the tasks, against closed forms and scipy."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from skgmje import GJE, GMJE, GaussianMixtureDistribution
from skgmje.inference import (
    BoxUniform,
    GaussianPrior,
    Posterior,
    PosteriorEstimator,
    RegionCalibration,
    as_prior,
    c2st,
    default_estimator,
    expected_coverage,
    simulation_based_calibration,
    truncated_sequential_estimation,
)
from skgmje.inference.tasks import FourModes, LinearGaussian, TwoMoons


def _conjugate(n_samples, noise=0.5, seed=0, n_dims=2):
    """theta ~ N(0, I), x = theta + noise * eps: the posterior is N(x / (1 + s2), s2 / (1 + s2))."""
    rng = np.random.RandomState(seed)
    theta = rng.standard_normal((n_samples, n_dims))
    return theta, theta + noise * rng.standard_normal(theta.shape)


# -- priors ------------------------------------------------------------------------------


def test_box_uniform_samples_inside_and_has_the_uniform_density():
    prior = BoxUniform(low=[-1.0, 2.0], high=[3.0, 2.5])
    draws = prior.sample(5000, random_state=0)
    assert np.all(prior.contains(draws))
    np.testing.assert_allclose(draws.mean(axis=0), [1.0, 2.25], atol=0.05)
    assert prior.log_prob([[0.0, 2.2]])[0] == pytest.approx(-np.log(4.0 * 0.5))
    assert prior.log_prob([[0.0, 2.6], [-1.5, 2.2]]).tolist() == [-np.inf, -np.inf]
    with pytest.raises(ValueError, match="low < high"):
        BoxUniform(low=[1.0], high=[0.0])
    with pytest.raises(ValueError, match="same length"):
        BoxUniform(low=[0.0, 0.0], high=[1.0])


def test_gaussian_prior_is_scipys_normal():
    prior = GaussianPrior(mean=[1.0, -1.0], covariance=[[2.0, 0.5], [0.5, 1.0]])
    theta = np.array([[0.0, 0.0], [1.0, 2.0]])
    expected = stats.multivariate_normal([1.0, -1.0], [[2.0, 0.5], [0.5, 1.0]]).logpdf(theta)
    np.testing.assert_allclose(prior.log_prob(theta), expected)
    assert prior.bounded is False
    np.testing.assert_allclose(prior.sample(20000, random_state=0).mean(axis=0), [1, -1], atol=0.05)


def test_torch_scipy_and_duck_typed_priors_have_the_same_numpy_face():
    torch = pytest.importorskip("torch")
    box = torch.distributions.Independent(
        torch.distributions.Uniform(torch.zeros(2), torch.ones(2) * 2.0), 1
    )
    prior = as_prior(box)
    draws = prior.sample(100, random_state=0)
    assert draws.shape == (100, 2)
    np.testing.assert_array_equal(draws, as_prior(box).sample(100, random_state=0))
    assert prior.contains([[0.5, 1.5], [2.5, 1.0]]).tolist() == [True, False]
    np.testing.assert_allclose(prior.log_prob([[0.5, 1.5], [2.5, 1.0]]), [-np.log(4.0), -np.inf])
    scipy_prior = as_prior(stats.multivariate_normal(np.zeros(2), np.eye(2)))
    np.testing.assert_allclose(
        scipy_prior.log_prob([[0.0, 0.0]]), [stats.multivariate_normal(np.zeros(2)).logpdf(0)]
    )

    class Duck:
        def sample(self, n):
            return np.zeros((n, 3))

        def log_prob(self, theta):
            return np.zeros(len(theta))

    assert as_prior(Duck()).sample(4).shape == (4, 3)
    with pytest.raises(TypeError, match="sample"):
        as_prior(object())


def test_sbi_priors_work_unchanged():
    sbi_utils = pytest.importorskip("sbi.utils")
    torch = pytest.importorskip("torch")
    prior = sbi_utils.BoxUniform(low=-torch.ones(2), high=torch.ones(2))
    task = TwoMoons()
    theta = as_prior(prior).sample(3000, random_state=0)
    x = task.simulate(theta, random_state=1)
    npe = PosteriorEstimator(GMJE(n_components=10, random_state=0), prior=prior).fit(x, theta)
    draws = npe.posterior(x[0]).sample(500, random_state=0)
    assert np.all(np.abs(draws) <= 1.0)


# -- the posterior ------------------------------------------------------------------------


def test_gaussian_posterior_is_the_conjugate_one():
    theta, x = _conjugate(20000)
    npe = PosteriorEstimator(GJE(), prior=GaussianPrior(np.zeros(2))).fit(x, theta)
    posterior = npe.posterior([1.0, -0.5])
    assert posterior.acceptance_rate == 1.0
    shrink = 1.0 / (1.0 + 0.25)
    draws = posterior.sample(20000, random_state=0)
    np.testing.assert_allclose(draws.mean(axis=0), np.array([1.0, -0.5]) * shrink, atol=0.02)
    np.testing.assert_allclose(np.cov(draws.T), 0.25 * shrink * np.eye(2), atol=0.01)
    np.testing.assert_allclose(posterior.map(), np.array([1.0, -0.5]) * shrink, atol=0.02)
    exact = stats.multivariate_normal(np.array([1.0, -0.5]) * shrink, 0.2 * np.eye(2))
    grid = np.array([[0.5, -0.5], [1.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(posterior.log_prob(grid), exact.logpdf(grid), atol=0.05)
    expected = exact.mean[:, None] + np.sqrt(0.2) * stats.norm.ppf([0.05, 0.95])
    np.testing.assert_allclose(posterior.interval(0.9), expected, atol=0.03)


def test_the_default_estimator_chooses_k_on_a_held_out_tenth():
    prior = BoxUniform([-2.0], [2.0])
    theta = prior.sample(3000, random_state=0)
    x = theta**2 + 0.05 * np.random.RandomState(1).standard_normal(theta.shape)
    npe = PosteriorEstimator(prior=prior, random_state=3).fit(x, theta)
    model = npe.estimator_
    assert isinstance(model, GMJE) and model.reg_covar == 1e-6
    assert model.cv.get_n_splits() == 1 and model.cv.test_size == 0.1
    # The sign is lost: one Gaussian cannot hold both branches, the held-out tenth says so.
    assert model.n_components_ > 1
    assert set(model.n_components_scores_) >= {1, 2, 4}
    draws = npe.posterior([1.0]).sample(4000, random_state=0)
    assert abs(np.mean(draws > 0) - 0.5) < 0.05
    again = PosteriorEstimator(prior=prior, random_state=3).fit(x, theta).estimator_
    np.testing.assert_array_equal(again.means_, model.means_)
    # A RandomState seeds the split too, reproducibly.
    first = default_estimator(np.random.RandomState(5)).cv.random_state
    assert first == default_estimator(np.random.RandomState(5)).cv.random_state


def _leaky_posterior():
    """q = N(0.8, 0.3^2) under a prior on [-1, 1]: 25% of q lies above 1."""
    distribution = GaussianMixtureDistribution(
        weights=[[1.0]], means=[[[0.8]]], covariances=[[[0.09]]]
    )
    return Posterior(distribution, BoxUniform([-1.0], [1.0]), random_state=0)


def test_truncation_renormalises_inside_the_prior():
    posterior = _leaky_posterior()
    inside = stats.norm(0.8, 0.3).cdf(1.0) - stats.norm(0.8, 0.3).cdf(-1.0)
    assert abs(posterior.acceptance_rate - inside) < 4 * posterior.acceptance_standard_error
    grid = np.linspace(-1.5, 1.5, 30001)
    density = np.exp(posterior.log_prob(grid[:, None]))
    assert np.sum(density) * (grid[1] - grid[0]) == pytest.approx(1.0, abs=0.01)
    assert posterior.log_prob([[1.2]])[0] == -np.inf
    draws = posterior.sample(4000, random_state=1)[:, 0]
    truncated = stats.truncnorm((-1.0 - 0.8) / 0.3, (1.0 - 0.8) / 0.3, loc=0.8, scale=0.3)
    assert draws.max() <= 1.0
    assert stats.kstest(draws, truncated.cdf).pvalue > 0.01
    assert posterior.map()[0] == pytest.approx(0.8, abs=1e-5)
    np.testing.assert_allclose(
        posterior.interval(0.5, random_state=0)[0], truncated.ppf([0.25, 0.75]), atol=0.02
    )


def test_map_finds_the_heavier_mode_and_respects_the_box():
    distribution = GaussianMixtureDistribution(
        weights=[[0.3, 0.7]],
        means=[[[-1.0, 0.0], [2.0, 1.5]]],
        covariances=np.array([np.eye(2) * 0.1, np.eye(2) * 0.2]),
    )
    np.testing.assert_allclose(Posterior(distribution).map(), [2.0, 1.5], atol=1e-4)
    boxed = Posterior(distribution, BoxUniform([-2.0, -2.0], [1.0, 1.0]), random_state=0)
    mode = boxed.map()
    assert np.all(mode <= 1.0 + 1e-12)
    np.testing.assert_allclose(mode, [-1.0, 0.0], atol=1e-3)


def test_hdr_levels_and_membership_agree():
    posterior = _leaky_posterior()
    levels = posterior.highest_density_level([[0.8], [0.0], [-0.9]], random_state=0)
    assert levels[0] < 0.02 < levels[1] < levels[2] <= 1.0
    inside = posterior.in_hdr([[0.8], [-0.9]], 0.9, random_state=0)
    assert inside.tolist() == [True, False]


def test_posterior_through_pipelines_and_searches():
    theta, x = _conjugate(3000, seed=1)
    pipeline = make_pipeline(StandardScaler(), GJE())
    # The same seed holds out the same calibration simulations.
    through_pipe = (
        PosteriorEstimator(pipeline, random_state=0).fit(x * 100.0, theta).posterior([100.0, 0.0])
    )
    plain = PosteriorEstimator(GJE(), random_state=0).fit(x, theta).posterior([1.0, 0.0])
    np.testing.assert_allclose(through_pipe.distribution.means, plain.distribution.means, atol=1e-8)
    tuned = GridSearchCV(
        PosteriorEstimator(GMJE(random_state=0)), {"estimator__n_components": [1, 3]}, cv=3
    )
    assert tuned.fit(x, theta).best_params_ == {"estimator__n_components": 1}  # it is Gaussian
    assert tuned.score(x[:50], theta[:50]) == pytest.approx(
        np.mean(tuned.best_estimator_.predict_distribution(x[:50]).log_prob(theta[:50]))
    )
    search = GridSearchCV(GMJE(random_state=0), {"n_components": [1, 2]}, cv=3)
    searched = PosteriorEstimator(search).fit(x, theta)
    assert len(searched.posterior([1.0, 0.0]).sample(10, random_state=0)) == 10


def test_posterior_estimator_refuses_what_it_cannot_answer():
    theta, x = _conjugate(300)
    npe = PosteriorEstimator(GJE(), prior=BoxUniform([-5.0] * 2, [5.0] * 2)).fit(x, theta)
    with pytest.raises(ValueError, match="features"):
        npe.posterior([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="dimensions"):
        PosteriorEstimator(GJE(), prior=BoxUniform([0.0], [1.0])).fit(x, theta)
    with pytest.raises(ValueError, match="outside the prior's support"):
        PosteriorEstimator(GJE(), prior=BoxUniform([50.0] * 2, [51.0] * 2)).fit(x, theta)
    far = PosteriorEstimator(
        GJE(), prior=BoxUniform([50.0] * 2, [51.0] * 2), calibration_size=None
    ).fit(x, theta)
    with pytest.raises(RuntimeError, match="support"):
        far.posterior([0.0, 0.0])
    with pytest.raises(ValueError, match="calibration_size"):
        PosteriorEstimator(GJE(), calibration_size=300).fit(x, theta)
    with pytest.raises(ValueError, match="calibration_size"):
        PosteriorEstimator(GJE(), calibration_size=1.5).fit(x, theta)
    with pytest.raises(ValueError, match="one observation"):
        Posterior(npe.predict_distribution(x[:2]))


@parametrize_with_checks([PosteriorEstimator(GJE())])
def test_sklearn_compatible(estimator, check):
    check(estimator)


# -- calibration -------------------------------------------------------------------------


def test_calibration_passes_a_calibrated_posterior_and_fails_an_overconfident_one():
    theta, x = _conjugate(22000, seed=2)
    right = PosteriorEstimator(GJE(), prior=GaussianPrior(np.zeros(2))).fit(x[2000:], theta[2000:])
    # Fitted on simulations with a tenth of the noise: far too confident on these.
    narrow_theta, narrow_x = _conjugate(2000, noise=0.05, seed=3)
    wrong = PosteriorEstimator(GJE(), prior=GaussianPrior(np.zeros(2))).fit(narrow_x, narrow_theta)
    test_theta, test_x = theta[:2000], x[:2000]
    good = simulation_based_calibration(
        right, test_theta, test_x, n_posterior_samples=200, random_state=0
    )
    bad = simulation_based_calibration(
        wrong, test_theta, test_x, n_posterior_samples=200, random_state=0
    )
    assert good.ranks.shape == (2000, 2) and good.ranks.max() <= 200
    assert np.all(good.ks_pvalues > 0.01)
    assert np.all(bad.ks_pvalues < 1e-6)
    good_coverage = expected_coverage(right, test_theta, test_x, random_state=0)
    bad_coverage = expected_coverage(wrong, test_theta, test_x, random_state=0)
    np.testing.assert_allclose(good_coverage.coverage, good_coverage.levels, atol=0.035)
    assert np.all(bad_coverage.coverage < bad_coverage.levels - 0.3)
    with pytest.raises(ValueError, match="levels"):
        expected_coverage(right, test_theta, test_x, levels=[1.2])
    with pytest.raises(ValueError, match="pair up"):
        expected_coverage(right, test_theta[:5], test_x)


def test_region_calibration_corrects_an_overconfident_posterior():
    theta, x = _conjugate(6000, seed=4)
    prior = GaussianPrior(np.zeros(2))
    # Fitted on simulations with 60% of the noise: too confident on these, though not so
    # far that every true parameter lies beyond all of q's draws (levels of 1 throughout).
    narrow_theta, narrow_x = _conjugate(2000, noise=0.3, seed=3)
    overconfident = PosteriorEstimator(GJE(), prior=prior, calibration_size=None).fit(
        narrow_x, narrow_theta
    )
    assert overconfident.calibration_ is None
    test_theta, test_x = theta[:2000], x[:2000]
    raw = expected_coverage(overconfident, test_theta, test_x, random_state=0)
    assert np.all(raw.coverage < raw.levels - 0.15)
    overconfident.calibrate(x[2000:], theta[2000:])
    fixed = expected_coverage(overconfident, test_theta, test_x, random_state=0)
    # 4000 calibration and 2000 test pairs: a standard deviation of 0.014 at 50%.
    np.testing.assert_allclose(fixed.coverage, fixed.levels, atol=0.045)
    uncalibrated = expected_coverage(
        overconfident, test_theta, test_x, calibrated=False, random_state=0
    )
    np.testing.assert_array_equal(uncalibrated.coverage, raw.coverage)
    # The regions a Posterior gives are the calibrated ones.
    inside = [
        overconfident.posterior(x_i).in_hdr(theta_i[None], 0.8, n_samples=4000, random_state=0)[0]
        for theta_i, x_i in zip(test_theta[:300], test_x[:300])
    ]
    assert abs(np.mean(inside) - 0.8) < 0.07
    posterior = overconfident.posterior(test_x[0])
    levels = posterior.highest_density_level(test_theta[:400], random_state=1)
    members = posterior.in_hdr(test_theta[:400], 0.5, random_state=1)
    assert np.mean(members == (levels < 0.5)) > 0.99
    assert "calibrated on 4000" in repr(posterior)


def test_fit_holds_out_the_calibration_share_and_splits_weights_with_it():
    theta, x = _conjugate(1000, seed=5)
    weights = np.random.RandomState(0).randint(1, 3, size=1000).astype(float)
    npe = PosteriorEstimator(GJE(), calibration_size=0.2, random_state=0)
    npe.fit(x, theta, sample_weight=weights)
    assert len(npe.calibration_) == 200 and npe.n_simulations_ == 1000
    # The held-out simulations keep their own weights.
    assert set(npe.calibration_.weights.tolist()) == {1.0, 2.0}
    counted = PosteriorEstimator(GJE(), calibration_size=150, random_state=0).fit(x, theta)
    assert len(counted.calibration_) == 150
    with pytest.raises(ValueError, match="same non-zero number"):
        counted.calibrate(x[:10], theta[:9])


@given(
    scores=st.lists(st.floats(0.0, 1.0), min_size=1, max_size=40),
    data=st.data(),
)
@settings(max_examples=60, deadline=None)
def test_a_point_is_in_the_calibrated_region_exactly_when_its_level_is_below_the_mass(scores, data):
    """``RegionCalibration.mass`` and ``.level`` describe the same regions."""
    weights = data.draw(
        st.one_of(
            st.none(), st.lists(st.integers(1, 4), min_size=len(scores), max_size=len(scores))
        )
    )
    calibration = RegionCalibration(scores, weights)
    coverage = data.draw(st.floats(0.01, 0.99))
    raw = np.array(data.draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=10)) + scores)
    inside = raw <= calibration.mass(coverage)
    np.testing.assert_array_equal(inside, calibration.level(raw) < coverage)


def test_c2st_tells_equal_samples_from_different_ones():
    rng = np.random.RandomState(0)
    assert c2st(rng.normal(size=(1000, 2)), rng.normal(size=(1000, 2))) < 0.56
    assert c2st(rng.normal(size=(1000, 2)) * 3.0, rng.normal(size=(1000, 2))) > 0.7
    assert c2st(rng.normal(size=(1000, 1)) + 4.0, rng.normal(size=(1000, 1))) > 0.95


# -- the tasks' reference posteriors -------------------------------------------------------


@pytest.mark.parametrize(
    "task", [LinearGaussian(n_dims=3), TwoMoons(), FourModes()], ids=lambda t: t.name
)
def test_reference_posteriors_pass_simulation_based_calibration(task):
    """True parameters ranked among exact posterior draws are uniform: the samplers are
    exact (a wrong branch, sign or truncation shows as a skewed or humped histogram)."""
    rng = np.random.RandomState(0)
    theta = task.prior.sample(400, random_state=rng)
    x = task.simulate(theta, random_state=rng)
    ranks = np.array(
        [
            np.sum(task.reference_posterior(x_i, 99, random_state=rng) < theta_i, axis=0)
            for theta_i, x_i in zip(theta, x)
        ]
    )
    jittered = (ranks + rng.uniform(size=ranks.shape)) / 100.0
    pvalues = [stats.kstest(jittered[:, j], "uniform").pvalue for j in range(task.n_dims)]
    assert min(pvalues) > 1e-3 / task.n_dims


def test_two_moons_reference_matches_the_likelihood_on_a_grid():
    task = TwoMoons()
    x_o = task.simulate([[0.3, 0.4]], random_state=0)[0]
    draws = task.reference_posterior(x_o, 40000, random_state=1)
    axis = np.linspace(-1, 1, 801)
    t1, t2 = np.meshgrid(axis, axis, indexing="ij")
    shift = np.stack([-np.abs(t1 + t2), -t1 + t2], axis=-1) / np.sqrt(2.0)
    u, v = (x_o - shift)[..., 0] - 0.25, (x_o - shift)[..., 1]
    radius = np.hypot(u, v)
    density = np.where(u > 0, stats.norm(0.1, 0.01).pdf(radius) / np.maximum(radius, 1e-12), 0.0)
    density /= density.sum()
    grid_mean = [np.sum(density * t1), np.sum(density * t2)]
    np.testing.assert_allclose(draws.mean(axis=0), grid_mean, atol=0.01)
    assert np.mean(draws.sum(axis=1) > 0) == pytest.approx(
        np.sum(density * (t1 + t2 > 0)), abs=0.01
    )


# -- sequential rounds -------------------------------------------------------------------


def test_sequential_rounds_truncate_and_keep_the_posterior():
    prior = BoxUniform(low=[-3.0], high=[3.0])

    def simulator(theta, random_state):
        return theta**2 + 0.05 * random_state.standard_normal(theta.shape)

    result = truncated_sequential_estimation(
        simulator,
        prior,
        [1.0],
        estimator=GMJE(n_components=8, random_state=0),
        simulations_per_round=600,
        max_rounds=3,
        tolerance=0.01,
        random_state=0,
    )
    assert [entry["n_simulations_total"] for entry in result.history][-1] == len(result.theta)
    assert result.history[0]["proposal_prior_mass"] == 1.0
    assert result.history[1]["proposal_prior_mass"] < 0.3
    draws = result.posterior.sample(4000, random_state=0)[:, 0]
    # Both roots of theta^2 = 1 survive the truncation, each with half the mass.
    assert np.mean(draws > 0) == pytest.approx(0.5, abs=0.08)
    np.testing.assert_allclose(np.sort(np.abs(draws))[2000], 1.0, atol=0.03)
    assert result.history[0]["kl_from_previous"] is None
    assert all(entry["kl_from_previous"] > -0.05 for entry in result.history[1:])
    if result.stopped == "converged":
        assert result.history[-1]["kl_from_previous"] < 0.01
    with pytest.raises(ValueError, match="tolerance"):
        truncated_sequential_estimation(simulator, prior, [1.0], tolerance=0.0)


def test_sequential_rounds_default_to_gmje_own_defaults():
    prior = BoxUniform(low=[-3.0], high=[3.0])

    def simulator(theta, random_state):
        return theta + 0.1 * random_state.standard_normal(theta.shape)

    result = truncated_sequential_estimation(
        simulator, prior, [1.0], simulations_per_round=200, max_rounds=2, random_state=0
    )
    fitted = result.posterior_estimator.estimator_
    assert isinstance(fitted, GMJE)
    assert (fitted.cv, fitted.reg_covar, fitted.n_jobs) == (5, 1e-4, -1)
    assert result.history[1]["n_training"] <= len(result.theta)


def test_a_learned_summary_of_x_in_front():
    pytest.importorskip("torch")
    from skgmje import JointEmbedding
    from skgmje.compose import make_density_pipeline

    task = FourModes()
    theta = task.prior.sample(600, random_state=0)
    x = task.simulate(theta, random_state=1)
    summary = JointEmbedding(
        "gje", embedding_dim=4, hidden_layer_sizes=(16,), max_epochs=2, random_state=0
    )
    npe = PosteriorEstimator(
        make_density_pipeline(summary, GMJE(n_components=2, random_state=0)), prior=task.prior
    ).fit(x, theta)
    posterior = npe.posterior(x[0])
    assert posterior.sample(50, random_state=0).shape == (50, 5)
    assert np.isfinite(npe.score(x[:20], theta[:20]))


def test_a_calibrated_posterior_estimator_survives_pickling():
    import pickle

    theta, x = _conjugate(600, seed=6)
    npe = PosteriorEstimator(GJE(), prior=GaussianPrior(np.zeros(2)), random_state=0)
    npe.fit(x, theta)
    restored = pickle.loads(pickle.dumps(npe))
    np.testing.assert_array_equal(restored.calibration_.scores, npe.calibration_.scores)
    probe = np.array([[0.0, 0.0], [1.5, -1.5], [3.0, 3.0]])
    np.testing.assert_array_equal(
        restored.posterior(x[0]).in_hdr(probe, 0.8, random_state=0),
        npe.posterior(x[0]).in_hdr(probe, 0.8, random_state=0),
    )
