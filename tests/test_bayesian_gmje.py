"""BayesianGMJE: scikit-learn's variational mixture on the joint, conditioned like GMJE."""

import copy
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import BayesianGaussianMixture
from sklearn.preprocessing import StandardScaler

from skgmje import GMJE, BayesianGMJE, GaussianMixtureDistribution
from skgmje._core.conditioning import conditional_distribution, prepare_conditioning
from skgmje.datasets import make_intersecting_branches, make_separated_branches

COVARIANCE_TYPES = ["full", "tied", "diag", "spherical"]
PRIOR_TYPES = ["dirichlet_process", "dirichlet_distribution"]
POSTERIOR = ("means_", "covariances_", "weights_", "mean_precision_", "degrees_of_freedom_")


def _standardised(n_samples=600, random_state=0):
    """Standardised joint data, on which GMJE's relative reg_covar is scikit-learn's."""
    X, y = make_intersecting_branches(n_samples=n_samples, random_state=random_state)
    noise = np.random.RandomState(random_state).normal(size=(n_samples, 1))
    Z = StandardScaler().fit_transform(np.column_stack([X, noise, y]))
    return Z[:, :2], Z[:, 2], Z


def _in_start_units():
    """One context and four targets, standardised: the k-means start standardises the
    columns, divides each block by the square root of its width and weighs the targets
    twice, which with widths 1 and 4 divides every column by 1, so it sees the rows as
    scikit-learn's start does, and the relative ``reg_covar`` is scikit-learn's."""
    X, y = make_intersecting_branches(n_samples=600, random_state=0)
    noise = np.random.RandomState(0).normal(size=(600, 3))
    Z = StandardScaler().fit_transform(np.column_stack([X, y, noise + y[:, None]]))
    return Z[:, :1], Z[:, 1:], Z


def _relative_error(got, expected):
    got, expected = np.asarray(got, dtype=float), np.asarray(expected, dtype=float)
    return float(np.max(np.abs(got - expected)) / np.max(np.abs(expected)))


def _assert_equals_sklearn(ours, theirs, n_samples):
    assert ours.n_iter_ == theirs.n_iter_
    expected = float(np.ravel(theirs.lower_bound_)[0])  # an array of one for "tied"
    assert ours.lower_bound_ * n_samples == pytest.approx(expected, rel=1e-6)
    for name in POSTERIOR:
        assert _relative_error(getattr(ours, name), getattr(theirs, name)) < 1e-6, name
    assert (
        _relative_error(
            np.hstack(ours.weight_concentration_), np.hstack(theirs.weight_concentration_)
        )
        < 1e-6
    )


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("prior_type", PRIOR_TYPES)
def test_equals_sklearn_bayesian_mixture_at_its_priors(covariance_type, prior_type):
    X, y, Z = _in_start_units()
    options = dict(
        n_components=5,
        covariance_type=covariance_type,
        weight_concentration_prior_type=prior_type,
        random_state=0,
        max_iter=30,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # scikit-learn's defaults for the priors, spelled out (ours differ; see the docs).
        ours = BayesianGMJE(
            **options,
            tol=0.0,
            mean_precision_prior=1.0,
            degrees_of_freedom_prior=Z.shape[1],
            covariance_prior=_sklearn_covariance_prior(Z, covariance_type),
        ).fit(X, y)
        theirs = BayesianGaussianMixture(**options, tol=0.0).fit(Z)
    _assert_equals_sklearn(ours, theirs, len(Z))
    np.testing.assert_allclose(ours.mean_prior_, Z.mean(axis=0), atol=1e-12)
    assert ours.weight_concentration_prior_ == pytest.approx(1 / 5)


def _sklearn_covariance_prior(Z, covariance_type):
    return {
        "full": np.cov(Z.T),
        "tied": np.cov(Z.T),
        "diag": np.var(Z, axis=0, ddof=1),
        "spherical": float(np.var(Z, axis=0, ddof=1).mean()),
    }[covariance_type]


def test_equals_sklearn_with_explicit_priors_and_its_tolerance():
    X, y, Z = _in_start_units()
    priors = dict(
        weight_concentration_prior=0.3,
        mean_precision_prior=0.2,
        mean_prior=[0.1, -0.2, 0.3, 0.0, -0.1],
        degrees_of_freedom_prior=5.0,
        covariance_prior=0.5 * np.eye(5) + 0.1,
    )
    options = dict(max_iter=500, random_state=1, **priors)
    ours = BayesianGMJE(6, tol=1e-4 / len(Z), **options).fit(X, y)
    theirs = BayesianGaussianMixture(n_components=6, tol=1e-4, **options).fit(Z)
    assert ours.converged_ and theirs.converged_
    _assert_equals_sklearn(ours, theirs, len(Z))


def test_default_priors_scale_with_the_dimension_and_the_data():
    X, y, Z = _standardised()
    model = BayesianGMJE(random_state=0, covariance_fraction=0.05).fit(X, y)
    n_joint = Z.shape[1]
    assert model.degrees_of_freedom_prior_ == pytest.approx(3 * n_joint)
    assert model.mean_precision_prior_ == pytest.approx(0.1)
    expected = np.cov(Z.T) * 0.05 * model.degrees_of_freedom_prior_
    np.testing.assert_allclose(model.covariance_prior_, expected, rtol=1e-9, atol=1e-12)


def test_covariance_fraction_is_chosen_by_held_out_conditional_likelihood():
    from sklearn.model_selection import KFold, cross_val_score

    # Thin branches in two dimensions want small components.
    X, y, _ = _standardised()
    branches = BayesianGMJE(random_state=0).fit(X, y)
    # A few hundred rows in ten dimensions, three columns coded to a few levels: with a
    # small prior, components collapse onto the coded levels.
    rng = np.random.RandomState(0)
    X = rng.normal(size=(300, 10))
    X[:, :3] = np.round(X[:, :3])
    y = X @ rng.normal(size=10) + 0.5 * rng.normal(size=300)
    folds = KFold(3, shuffle=True, random_state=0)
    coded = BayesianGMJE(10, random_state=0, cv=folds).fit(X, y)
    assert branches.covariance_fraction_ <= 0.03 < 0.1 <= coded.covariance_fraction_
    scores = coded.covariance_fraction_scores_
    assert coded.covariance_fraction_ == max(scores, key=scores.get)
    for fraction in (0.003, coded.covariance_fraction_):
        model = BayesianGMJE(10, random_state=0, covariance_fraction=fraction)
        expected = cross_val_score(model, X, y, cv=folds).mean()
        assert scores[fraction] == pytest.approx(expected, rel=1e-9)
    assert BayesianGMJE(10, covariance_prior=np.eye(11)).fit(X, y).covariance_fraction_ is None
    # Too few rows per component to cross-validate.
    assert BayesianGMJE(random_state=0).fit(X, y).covariance_fraction_ == 0.3


def test_surplus_components_are_switched_off_and_left_out_of_the_conditional():
    X, y = make_separated_branches(n_samples=1500, random_state=0)
    sklearn_priors = dict(mean_precision_prior=1.0, degrees_of_freedom_prior=2.0)
    model = BayesianGMJE(
        20,
        covariance_prior=np.cov(np.column_stack([X, y]).T),
        random_state=0,
        max_iter=300,
        **sklearn_priors,
    ).fit(X, y)
    active = model.active_components_
    assert 3 <= model.n_active_components_ < 20
    assert np.all(model.weights_[active] >= model.weight_threshold)
    dropped = np.setdiff1d(np.arange(20), active)
    assert np.all(model.weights_[dropped] < model.weight_threshold)
    distribution = model.predict_distribution(X[:4])
    assert distribution.n_components == model.n_active_components_
    np.testing.assert_allclose(distribution.weights.sum(axis=1), 1.0)
    everything = copy.deepcopy(model).set_params(weight_threshold=0.0).fit(X, y)
    assert everything.n_active_components_ == 20
    # What is dropped carries almost no mass: the conditional barely changes.
    assert model.score(X, y) == pytest.approx(everything.score(X, y), abs=0.01)


def test_conditional_is_the_gmje_conditional_of_the_posterior_mixture():
    """The posterior's plug-in mixture, conditioned in closed form as GMJE conditions its
    fit, is the model's ``p(y | x)``; its joint density is ``score_samples_joint``."""
    X, y = make_intersecting_branches(n_samples=800, random_state=0)
    model = BayesianGMJE(8, weight_threshold=0.0, random_state=0).fit(X, y)
    weights, means, covariances = model.weights_, model.means_, model.covariances_
    plug_in = conditional_distribution(prepare_conditioning(weights, means, covariances, 1), X)
    np.testing.assert_allclose(model.score_samples(X, y), plug_in.log_prob(y), rtol=1e-10)
    joint = GaussianMixtureDistribution(
        weights=weights[None], means=means[None], covariances=covariances
    )
    Z = np.column_stack([X, y])
    np.testing.assert_allclose(
        model.score_samples_joint(X, y), joint.log_prob(Z[:, None, :])[:, 0], rtol=1e-10
    )


def test_at_defaults_close_to_gmje_with_the_right_number_of_components():
    X, y = make_intersecting_branches(n_samples=2000, random_state=0)
    X_test, y_test = make_intersecting_branches(n_samples=2000, random_state=1)
    bayesian = BayesianGMJE(random_state=0).fit(X, y).score(X_test, y_test)
    chosen = max(GMJE(k, random_state=0).fit(X, y).score(X_test, y_test) for k in (4, 8, 16))
    assert bayesian > chosen - 0.05


def test_integer_weights_equal_repeated_rows():
    X, y = make_intersecting_branches(n_samples=300, random_state=0)
    counts = np.random.RandomState(0).randint(0, 3, size=len(X))
    start = BayesianGMJE(4, max_iter=1, warm_start=True, random_state=0)
    with pytest.warns(ConvergenceWarning):
        start.fit(X, y, sample_weight=counts)
    start.set_params(max_iter=10, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        weighted = copy.deepcopy(start).fit(X, y, sample_weight=counts)
        repeated = copy.deepcopy(start).fit(np.repeat(X, counts, axis=0), np.repeat(y, counts))
    np.testing.assert_allclose(weighted.covariance_prior_, repeated.covariance_prior_, rtol=1e-10)
    assert weighted.lower_bound_ == pytest.approx(repeated.lower_bound_, rel=1e-9)
    for name in POSTERIOR:
        np.testing.assert_allclose(getattr(weighted, name), getattr(repeated, name), rtol=1e-8)


def test_warm_start_continues_and_lower_bound_never_decreases():
    X, y = make_intersecting_branches(n_samples=600, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = BayesianGMJE(6, max_iter=5, tol=0.0, warm_start=True, random_state=0).fit(X, y)
        first = model.lower_bounds_
        model.fit(X, y)
    bounds = np.array(first + model.lower_bounds_)
    assert np.all(np.diff(bounds) > -1e-9)


def test_verbose_reports_progress(capsys):
    X, y = make_intersecting_branches(n_samples=300, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        BayesianGMJE(3, verbose=2, verbose_interval=1, max_iter=3, tol=0.0).fit(X, y)
    out = capsys.readouterr().out
    assert "Initialization 0" in out and "Iteration 3" in out


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (dict(degrees_of_freedom_prior=0.5), "greater than"),
        (dict(mean_prior=[0.0]), "mean_prior must have shape"),
        (dict(covariance_prior=np.eye(3)), "covariance_prior must have shape"),
        (dict(covariance_prior=-np.eye(2)), "positive definite"),
        (dict(covariance_type="diag", covariance_prior=[1.0, -1.0]), "positive"),
        (dict(covariance_type="spherical", covariance_prior=[1.0]), "must be a float"),
        (dict(weight_threshold=1.0), "weight_threshold"),
        (dict(weight_concentration_prior_type="stick"), "weight_concentration_prior_type"),
        (dict(weight_concentration_prior=0.0), "weight_concentration_prior"),
        (dict(mean_precision_prior=-1.0), "mean_precision_prior"),
        (dict(n_components=0), "n_components"),
    ],
)
def test_bad_parameters_raise_clear_errors(options, message):
    X, y = make_intersecting_branches(n_samples=100, random_state=0)
    with pytest.raises((ValueError, TypeError), match=message):
        BayesianGMJE(3, **options).fit(X, y)


def test_too_few_samples_for_the_components():
    X, y = make_intersecting_branches(n_samples=10, random_state=0)
    with pytest.raises(ValueError, match="at least as many"):
        BayesianGMJE(20).fit(X, y)
