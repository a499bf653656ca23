"""GJE: the primal Gaussian Joint Embedding, a single joint Gaussian on ``[x, y]``."""

import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning

from ._core.conditioning import prepare_conditioning
from ._core.em import (
    MixtureParameters,
    covariance_jitter,
    precisions_cholesky_of,
    weighted_scatter,
    without_rounding,
)
from ._core.gaussian import mutual_information
from ._core.missing_em import e_step_with_missing, missing_layout, observed_moments
from ._validation import positive
from .base import ConditionalDensityEstimator, ConditionedOnContext

__all__ = ["GJE"]

# EM on rows with missing entries: its stopping rule (change of the mean log-likelihood
# per unit weight) and iteration cap.
_TOL, _MAX_ITER = 1e-10, 1000


class GJE(ConditionedOnContext, ConditionalDensityEstimator):
    """Gaussian Joint Embedding: one joint Gaussian over contexts and targets.

    Fits ``z = [x, y] ~ N(mu, Sigma)`` in closed form (user guide, "GJE") and
    predicts with the exact Gaussian conditional ([GMJE]_ Eq. 10)::

        mu_y|x    = mu_y + Sigma_tc Sigma_cc^-1 (x - mu_x)
        Sigma_y|x = Sigma_tt - Sigma_tc Sigma_cc^-1 Sigma_ct

    The conditional mean is the least-squares linear regression and the
    conditional covariance is homoscedastic (it does not depend on x), so GJE
    is the unimodal baseline that :class:`GMJE` generalises: on a multi-valued
    target it averages the branches.

    Parameters
    ----------
    fit_mean : bool, default=True
        Estimate the joint mean. ``False`` gives the paper's zero-mean model,
        ``Sigma = Z^T Z / N`` on the raw (uncentred) data.
    reg_covar : float, default=1e-6
        Non-negative regularisation relative to the data: ``reg_covar`` times each
        joint column's variance is added to it (``reg_covar`` itself for a constant
        column), so the fit does not depend on the units of ``X`` and ``y``.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features + n_targets,)
        Joint mean (zeros when ``fit_mean=False``).
    covariance_ : ndarray of shape (n_features + n_targets, n_features + n_targets)
        Joint covariance ``Sigma``.
    coef_ : ndarray of shape (n_targets, n_features)
        Regression matrix ``Sigma_tc Sigma_cc^-1`` of the conditional mean.
    intercept_ : ndarray of shape (n_targets,)
    conditional_covariance_ : ndarray of shape (n_targets, n_targets)
        The Schur complement ``Sigma_y|x``.
    mutual_information_ : float
        ``I(x; y)`` of the fitted Gaussian, in nats ([GMJE]_ Eq. 41).
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    n_targets_ : int
    n_iter_ : int
        EM iterations on rows with missing entries; 0 for the closed form.

    See Also
    --------
    GMJE : a mixture of joint Gaussians, for multi-valued targets.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GJE
    >>> rng = np.random.RandomState(0)
    >>> X = rng.normal(size=(500, 1))
    >>> y = 2.0 * X[:, 0] + 1.0 + 0.1 * rng.normal(size=500)
    >>> model = GJE().fit(X, y)
    >>> np.round(model.coef_, 1), np.round(model.intercept_, 1)
    (array([[2.]]), array([1.]))
    >>> model.predict([[0.5]]).round(1)
    array([2.])
    >>> round(float(np.sqrt(model.conditional_covariance_[0, 0])), 2)
    0.1
    >>> model.sample([[0.0]], n_samples=3, random_state=0).shape
    (1, 3)
    """

    _missing_training_values = True

    _parameter_constraints = {
        "fit_mean": ["boolean"],
        "reg_covar": [positive(allow_zero=True)],
    }

    def __init__(self, fit_mean=True, reg_covar=1e-6):
        self.fit_mean = fit_mean
        self.reg_covar = reg_covar

    def _fit(self, X, Y, sample_weight):
        Z = np.hstack([X, Y])
        weights = np.ones(len(Z)) if sample_weight is None else sample_weight
        weights = weights / weights.sum()
        if np.isnan(Z).any():
            mean, covariance = self._fit_with_missing(Z, weights)
        else:
            self.n_iter_ = 0
            mean = weights @ Z if self.fit_mean else np.zeros(Z.shape[1])
            centred = Z - mean
            covariance = weighted_scatter(centred, weights)
            variances = np.diag(covariance)
            if self.fit_mean:
                variances = without_rounding(variances, Z, weights)
            covariance.flat[:: Z.shape[1] + 1] += covariance_jitter(variances, self.reg_covar)
        n_features = X.shape[1]
        self.conditioning_ = prepare_conditioning(
            np.ones(1), mean[None], covariance[None], n_features
        )
        self.mean_ = mean
        self.covariance_ = covariance
        self.coef_ = self.conditioning_.coefs[0]
        self.intercept_ = self.conditioning_.intercepts[0]
        self.conditional_covariance_ = self.conditioning_.covariances[0]
        self.mutual_information_ = float(mutual_information(covariance, n_features))
        return self

    def _fit_with_missing(self, Z, weights):
        """The maximum-likelihood Gaussian of rows with missing entries: EM from the
        observed moments (Ghahramani and Jordan 1994), the jitter added as in the
        complete case. There is no closed form once entries are missing."""
        layout = missing_layout(np.isnan(Z))
        center, variances = observed_moments(Z, weights)
        jitter = covariance_jitter(variances, self.reg_covar)
        if not self.fit_mean:
            center = np.zeros(Z.shape[1])
        shifted = Z - center
        mean = np.zeros(Z.shape[1])
        covariance = np.diag(variances + jitter)
        log_likelihood = -np.inf
        for self.n_iter_ in range(1, _MAX_ITER + 1):
            parameters = MixtureParameters(
                np.ones(1),
                mean[None],
                covariance[None],
                precisions_cholesky_of(covariance[None], "full"),
            )
            statistics = e_step_with_missing(shifted, layout, parameters, "full", weights)
            total = statistics.resp_sums[0]
            if self.fit_mean:
                mean = statistics.first_moments[0] / total
            covariance = statistics.second_moments[0] / total - np.outer(mean, mean)
            covariance = 0.5 * (covariance + covariance.T) + np.diag(jitter)
            previous, log_likelihood = log_likelihood, statistics.log_likelihood / total
            if abs(log_likelihood - previous) < _TOL:
                break
        else:
            warnings.warn(
                f"EM on the rows with missing values did not converge in {_MAX_ITER} "
                "iterations; the fitted Gaussian is its last iterate.",
                ConvergenceWarning,
                stacklevel=3,
            )
        return mean + center, covariance
