"""BayesianGMJE: a variational Bayesian Gaussian mixture on the joint ``[x, y]``."""

from numbers import Real

import numpy as np
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_array

from ._core import vb
from ._joint_mixture import JointMixtureEM
from ._selection import folds, select_by_cross_validation
from ._validation import Interval, StrOptions, check_positive, positive

__all__ = ["BayesianGMJE"]

# The default priors (user guide, "BayesianGMJE"): scikit-learn's (nu_0 = D, beta_0 = 1,
# the data's covariance) smooth every component towards the whole data and fall short of
# GMJE-with-CV on the problem suite (benchmarks/bench_suite.py; Benchmarks page).
DEFAULT_MEAN_PRECISION_PRIOR = 0.1
DEFAULT_PRIOR_OBSERVATIONS_PER_COLUMN = 3.0
# The fractions of the data's covariance that covariance_fraction="auto" tries, in this
# order. Thin branches in a few dimensions (the problem suite) want the small ones; a
# few hundred rows in 8-14 dimensions with coded or collinear columns (real tables) want
# the large ones, or components collapse onto a handful of rows and the conditional is
# overconfident: no one value serves both (measured on both, issue 23).
COVARIANCE_FRACTIONS = (0.003, 0.01, 0.03, 0.1, 0.3, 1.0)
# The fraction when a training fold has fewer than n_components (D + 1) rows.
FEW_ROWS_COVARIANCE_FRACTION = 0.3


class BayesianGMJE(JointMixtureEM):
    """GMJE with a variational Bayesian mixture: the data choose the number of components.

    Fits scikit-learn's ``BayesianGaussianMixture`` model to the joint vectors
    ``z = [x, y]`` (same priors, same parameters, same updates: from the same
    initialisation and the same priors the lower bound and the posterior agree
    with scikit-learn's to rounding), on GMJE's sufficient-statistics E-step, so it takes
    ``sample_weight``, dask collections and bounded memory as :class:`GMJE`
    does. ``n_components`` is an upper bound: the Dirichlet-process (or
    Dirichlet) prior on the weights lets the variational posterior switch
    surplus components off. The conditional ``p(y | x)`` is the GMJE
    conditional (user guide, "GMJE") of the posterior's expected weights,
    means and covariances (``weights_``, ``means_``, ``covariances_``), with the
    components whose weight is below ``weight_threshold`` left out.

    The defaults of three priors differ from scikit-learn's: the prior on each
    covariance is a fraction of the data's covariance chosen by cross-validation of
    ``log p(y | x)`` (``covariance_fraction``), worth ``3 D`` observations, and the
    means are barely pulled to the data's mean. On scikit-learn's defaults every
    component is smoothed towards the whole data, which costs held-out likelihood
    against GMJE with K chosen by cross-validation on the problem suite (user
    guide, "BayesianGMJE"; the numbers of the last run are on the Benchmarks page).
    Pass ``mean_precision_prior=1``, ``degrees_of_freedom_prior=D`` and the data's
    covariance for scikit-learn's.

    Parameters
    ----------
    n_components : int, default=20
        Upper bound on the number of joint Gaussian components.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        As in :class:`GMJE`: only ``"full"`` and ``"tied"`` couple x and y.
    tol : float, default=1e-3
        Convergence threshold on the change of ``lower_bound_``, the lower bound
        per unit of sample weight (as :class:`GMJE`'s ``tol``, per row). scikit-learn's
        ``tol`` applies to the sum over the rows: ``tol / n_samples`` here is its ``tol``.
    reg_covar : float, default=1e-6
        Regularisation relative to the data, as in :class:`GMJE`: ``reg_covar``
        times each joint column's variance is added to the empirical covariance
        of every component, and at least a coded column's rounding variance (as
        in :class:`GMJE`). On standardised data it is scikit-learn's.
    max_iter : int, default=100
        Variational EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the one with the largest lower bound is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How the initial responsibilities are drawn (as in scikit-learn).
    weight_concentration_prior_type : {"dirichlet_process", "dirichlet_distribution"}, \
default="dirichlet_process"
        The prior on the weights: a stick-breaking Dirichlet process (surplus
        components die off) or a finite Dirichlet distribution.
    weight_concentration_prior : float or None, default=None
        ``gamma_0`` (process) or ``alpha_0`` (distribution), positive; smaller
        favours fewer components. ``None`` takes ``1 / n_components``.
    mean_precision_prior : float or None, default=None
        ``beta_0 > 0``: how strongly each mean is pulled towards ``mean_prior``
        (in prior observations). ``None`` takes 0.1 (scikit-learn: 1).
    mean_prior : array-like of shape (n_features + n_targets,) or None, default=None
        ``m_0`` over the joint columns; ``None`` takes the (weighted) mean of ``[X, y]``.
    degrees_of_freedom_prior : float or None, default=None
        ``nu_0 > D - 1`` with ``D = n_features + n_targets``: the weight of the
        covariance prior, in observations. ``None`` takes ``3 D`` (scikit-learn: ``D``).
    covariance_prior : float, array-like or None, default=None
        The prior on the covariances (the inverse of the Wishart scale; the prior
        expects the covariance ``covariance_prior / nu_0``): (D, D) for ``"full"``
        and ``"tied"``, (D,) for ``"diag"``, a float for ``"spherical"``. ``None``
        takes ``nu_0 * covariance_fraction`` times the (weighted) covariance ``C`` of
        ``[X, y]`` (its per-column variances for ``"diag"``, their mean for
        ``"spherical"``; ``sum(w) - 1`` in the denominator), so a component is
        expected to cover that fraction of the data's spread (scikit-learn: ``C``).
    covariance_fraction : float or "auto", default="auto"
        The fraction of the data's covariance that the prior expects of each
        component when ``covariance_prior=None``. ``"auto"`` chooses it by ``cv``-fold
        cross-validation of the held-out ``log p(y | x)`` among 0.003, 0.01, 0.03,
        0.1, 0.3 and 1. No single value serves all data: a target with thin
        branches in a few dimensions needs small components (a small fraction); a few
        hundred rows in many dimensions, with coded, rounded or collinear columns, let
        components with a small prior collapse onto a handful of rows whose
        conditional is overconfident, which a large fraction prevents. Like the number
        of components of :class:`GMJE`, it is chosen on what the user asks for,
        ``p(y | x)``, not the joint evidence, which rewards the collapse. With fewer
        than ``n_components (D + 1)`` rows in a training fold it is 0.3.
    cv : int, cross-validation splitter or iterable, default=3
        The folds of ``covariance_fraction="auto"``: an int is that many shuffled
        folds (seeded by ``random_state``), anything else is used as
        ``sklearn.model_selection.check_cv`` would.
    weight_threshold : float, default=1e-3
        Components whose posterior weight is below this are left out of the
        conditional, the joint density and the samples (the remaining weights are
        renormalised); the attributes keep all ``n_components``.
    random_state : int, RandomState instance or None, default=None
    warm_start : bool, default=False
        Start each ``fit`` from the previous posterior (``n_init`` is then ignored).
    verbose : int, default=0
    verbose_interval : int, default=10

    Attributes
    ----------
    weights_ : ndarray of shape (n_components,)
        Expected weights under the posterior.
    means_ : ndarray of shape (n_components, D)
        Posterior means of the component means (joint ``[x, y]`` columns).
    covariances_ : ndarray
        Expected covariances (the Wishart scales over the degrees of freedom);
        shape as in :class:`GMJE`.
    precisions_cholesky_ : ndarray
        Upper Cholesky factors of ``covariances_``'s inverses.
    weight_concentration_ : tuple of two ndarrays or ndarray
        The posterior of the weights (Beta parameters of the sticks, or Dirichlet).
    mean_precision_ : ndarray of shape (n_components,)
    degrees_of_freedom_ : ndarray of shape (n_components,) or float
    weight_concentration_prior_, mean_precision_prior_, mean_prior_, \
degrees_of_freedom_prior_, covariance_prior_
        The priors in use (the defaults resolved from the data).
    covariance_fraction_ : float or None
        The fraction in use (``None`` when ``covariance_prior`` is given).
    covariance_fraction_scores_ : dict
        With ``covariance_fraction="auto"``: the mean held-out ``log p(y | x)`` over
        the folds of every fraction tried.
    active_components_ : ndarray of int
        Indices of the components that enter the conditional (weight at least
        ``weight_threshold``).
    n_active_components_ : int
    reg_covar_ : ndarray of shape (D,)
    conditioning_ : JointConditioning
        The precomputed conditioning of the active components.
    converged_ : bool
    n_iter_ : int
    lower_bound_ : float
        The variational lower bound at the last iteration of the best
        initialisation, divided by the total sample weight (scikit-learn's
        ``lower_bound_``, a sum over the rows up to the same constants, over
        ``n_samples``).
    lower_bounds_ : list of float
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    n_targets_ : int

    See Also
    --------
    GMJE : the maximum-likelihood mixture, with a fixed number of components.
    sklearn.mixture.BayesianGaussianMixture : the unconditional model.

    Examples
    --------
    >>> from skgmje import BayesianGMJE
    >>> from skgmje.datasets import make_intersecting_branches
    >>> X, y = make_intersecting_branches(n_samples=1000, random_state=0)
    >>> model = BayesianGMJE(random_state=0).fit(X, y)
    >>> model.covariance_fraction_   # of the data's covariance, by cross-validation
    0.01
    >>> model.predict_distribution([[0.5]])
    GaussianMixtureDistribution(n=1, n_components=..., n_targets=1)
    """

    _missing_training_values = True

    _parameter_constraints = {
        **JointMixtureEM._parameter_constraints,
        "weight_concentration_prior_type": [StrOptions(set(vb.WEIGHT_PRIOR_TYPES))],
        "weight_concentration_prior": [positive(), None],
        "mean_precision_prior": [positive(), None],
        "mean_prior": ["array-like", None],
        "degrees_of_freedom_prior": [positive(), None],
        # Its shape and sign depend on covariance_type and the data's width.
        "covariance_prior": ["array-like", Real, None],
        "covariance_fraction": [positive(), StrOptions({"auto"})],
        "cv": ["cv_object"],
        # A threshold of 1 would drop every component.
        "weight_threshold": [Interval(Real, 0, 1, closed="left")],
    }

    def __init__(
        self,
        n_components=20,
        *,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-6,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        weight_concentration_prior_type="dirichlet_process",
        weight_concentration_prior=None,
        mean_precision_prior=None,
        mean_prior=None,
        degrees_of_freedom_prior=None,
        covariance_prior=None,
        covariance_fraction="auto",
        cv=3,
        weight_threshold=1e-3,
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
    ):
        super().__init__(
            n_components,
            covariance_type=covariance_type,
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            verbose_interval=verbose_interval,
        )
        self.weight_concentration_prior_type = weight_concentration_prior_type
        self.weight_concentration_prior = weight_concentration_prior
        self.mean_precision_prior = mean_precision_prior
        self.mean_prior = mean_prior
        self.degrees_of_freedom_prior = degrees_of_freedom_prior
        self.covariance_prior = covariance_prior
        self.covariance_fraction = covariance_fraction
        self.cv = cv
        self.weight_threshold = weight_threshold

    def _check_parameters_with_data(self, n_features, n_targets):
        n_joint = n_features + n_targets
        if self.mean_prior is not None:
            _prior_array("mean_prior", self.mean_prior, (n_joint,))
        if self.degrees_of_freedom_prior is not None and not (
            self.degrees_of_freedom_prior > n_joint - 1.0
        ):
            raise ValueError(
                f"degrees_of_freedom_prior must be greater than n_features + n_targets - 1 "
                f"= {n_joint - 1}; got {self.degrees_of_freedom_prior!r}."
            )
        if self.covariance_prior is not None:
            _check_covariance_prior(self.covariance_prior, self.covariance_type, n_joint)

    def _choose_hyperparameters(self, rows):
        if self.covariance_prior is not None:
            self.covariance_fraction_ = None
        elif self.covariance_fraction != "auto":
            self.covariance_fraction_ = float(self.covariance_fraction)
        elif not (self.warm_start and hasattr(self, "converged_")):
            X, Y, sample_weight = rows()
            pairs = folds(self.cv, len(X), check_random_state(self.random_state))
            n_joint = X.shape[1] + Y.shape[1]
            if pairs is None or min(len(train) for train, _ in pairs) < self.n_components * (
                n_joint + 1
            ):
                # Too few rows per component to cross-validate: few rows for the
                # dimension is where small fractions let components collapse.
                self.covariance_fraction_ = FEW_ROWS_COVARIANCE_FRACTION
                self.covariance_fraction_scores_ = {}
            else:
                self.covariance_fraction_, self.covariance_fraction_scores_ = (
                    select_by_cross_validation(
                        self,
                        "covariance_fraction",
                        COVARIANCE_FRACTIONS,
                        X,
                        Y,
                        sample_weight,
                        pairs,
                    )
                )
        return self.n_components

    def _prepare_fit(self, n_context, total_weight, center, variances, scatter):
        """Resolve the priors (defaults from the data) in the E-step's shifted coordinates."""
        n_joint = len(center)
        self.weight_concentration_prior_ = (
            1.0 / self.n_components
            if self.weight_concentration_prior is None
            else float(self.weight_concentration_prior)
        )
        self.mean_precision_prior_ = (
            DEFAULT_MEAN_PRECISION_PRIOR
            if self.mean_precision_prior is None
            else float(self.mean_precision_prior)
        )
        if self.mean_prior is None:
            self.mean_prior_ = center.copy()
        else:
            self.mean_prior_ = _prior_array("mean_prior", self.mean_prior, (n_joint,))
        if self.degrees_of_freedom_prior is None:
            self.degrees_of_freedom_prior_ = DEFAULT_PRIOR_OBSERVATIONS_PER_COLUMN * n_joint
        else:
            self.degrees_of_freedom_prior_ = float(self.degrees_of_freedom_prior)
        self.covariance_prior_ = self._covariance_prior(total_weight, variances, scatter, n_joint)
        self._priors = vb.Priors(
            self.weight_concentration_prior_type,
            self.weight_concentration_prior_,
            self.mean_precision_prior_,
            self.mean_prior_ - center,
            self.degrees_of_freedom_prior_,
            self.covariance_prior_,
        )

    def _covariance_prior(self, total_weight, variances, scatter, n_joint):
        covariance_type = self.covariance_type
        if self.covariance_prior is not None:
            return _check_covariance_prior(self.covariance_prior, covariance_type, n_joint)
        # np.cov's denominator with frequency weights, so a weight of 2 is a repeated row.
        unbiased = total_weight / (total_weight - 1.0) if total_weight > 1.0 else 1.0
        # A Wishart with scale covariance_prior^-1 and nu_0 degrees of freedom expects
        # the covariance covariance_prior / nu_0: here a fraction of the data's.
        factor = unbiased * self.degrees_of_freedom_prior_ * self.covariance_fraction_
        if covariance_type in ("full", "tied"):
            return np.atleast_2d(scatter() / total_weight * factor)
        if covariance_type == "diag":
            return variances * factor
        return float(np.mean(variances) * factor)

    def _m_step(self, statistics, jitter):
        return vb.m_step(statistics, self._priors, self.covariance_type, jitter)

    def _e_step_options(self, parameters):
        log_weights = vb.scoring_log_weights(
            parameters, self.weight_concentration_prior_type, parameters.means.shape[1]
        )
        return {"log_weights": log_weights, "entropy": True}

    def _lower_bound(self, statistics, parameters):
        total = vb.lower_bound(
            statistics, parameters, self.weight_concentration_prior_type, self.covariance_type
        )
        return total / statistics.total_weight

    def _shifted_parameters(self, center):
        return vb.VariationalParameters(
            self.weight_concentration_,
            self.mean_precision_,
            self.means_ - center,
            self.degrees_of_freedom_,
            self.covariances_,
            self.precisions_cholesky_,
        )

    def _set_parameters(self, parameters, center, n_context):
        self.weight_concentration_ = parameters.weight_concentration
        self.mean_precision_ = parameters.mean_precision
        self.means_ = parameters.means + center
        self.degrees_of_freedom_ = parameters.degrees_of_freedom
        self.covariances_ = parameters.covariances
        self.precisions_cholesky_ = parameters.precisions_cholesky
        self.weights_ = vb.mixture_weights(parameters, self.weight_concentration_prior_type)
        active = np.flatnonzero(self.weights_ >= self.weight_threshold)
        if len(active) == 0:
            active = np.array([int(np.argmax(self.weights_))])
        self.active_components_ = active
        self.n_active_components_ = len(active)
        weights, means, covariances = self._active_mixture(self.covariances_)
        self._condition(weights, means, covariances, n_context)

    def _active_mixture(self, covariances):
        """Weights (renormalised), means and ``covariances`` (or factors) of the active ones."""
        active = self.active_components_
        weights = self.weights_[active] / np.sum(self.weights_[active])
        if self.covariance_type != "tied":
            covariances = covariances[active]
        return weights, self.means_[active], covariances

    def _joint_mixture(self):
        return self._active_mixture(self.precisions_cholesky_)


def _prior_array(name, value, shape):
    array = check_array(value, ensure_2d=False, dtype=np.float64)
    if array.shape != shape:
        raise ValueError(f"{name} must have shape {shape}; got {array.shape}.")
    return array


def _check_covariance_prior(prior, covariance_type, n_joint):
    """``covariance_prior`` as the array or float ``covariance_type`` needs, checked."""
    if covariance_type in ("full", "tied"):
        prior = _prior_array("covariance_prior", prior, (n_joint, n_joint))
        if not np.allclose(prior, prior.T) or np.any(np.linalg.eigvalsh(prior) <= 0.0):
            raise ValueError(
                f"covariance_prior must be symmetric and positive definite for "
                f"covariance_type={covariance_type!r}."
            )
        return prior
    if covariance_type == "diag":
        prior = _prior_array("covariance_prior", prior, (n_joint,))
        if np.any(prior <= 0.0):
            raise ValueError("covariance_prior must be positive for covariance_type='diag'.")
        return prior
    if not isinstance(prior, Real) or isinstance(prior, bool):
        raise TypeError(
            "covariance_prior must be a float for covariance_type='spherical'; "
            f"got {type(prior).__name__}."
        )
    check_positive("covariance_prior", prior)
    return float(prior)
