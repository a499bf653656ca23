"""Point-prediction baselines scored on the same footing as the density estimators."""

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LinearRegression

from ._em import covariance_jitter
from ._gaussian import check_magnitude, cholesky
from .base import ConditionalDensityEstimator
from .mixture import GaussianMixtureDistribution


class ResidualGaussianRegressor(ConditionalDensityEstimator):
    """Any scikit-learn regressor, read as ``y | x ~ N(f(x), Sigma_residual)``.

    The deterministic baseline of the paper: a regressor trained with squared
    error predicts one value per context, and the only uncertainty it can
    express is the spread of its training residuals, the same at every x.
    Wrapping it in the skgmje contract lets its held-out conditional
    log-likelihood be compared with the mixture models'.

    Parameters
    ----------
    regressor : estimator, default=None
        A scikit-learn regressor, cloned at fit time. ``None`` means
        ``LinearRegression()``.
    reg_covar : float, default=1e-9
        Non-negative regularisation relative to the targets: ``reg_covar`` times
        each target's variance (``reg_covar`` for a constant target) is added to
        the diagonal of the residual covariance, so the model does not depend on
        the units of ``y``.

    Attributes
    ----------
    regressor_ : estimator
        The fitted clone of ``regressor``.
    residual_covariance_ : ndarray of shape (n_targets, n_targets)
        Mean outer product of the training residuals.
    contexts_ : ndarray of shape (n_samples, n_features)
        Training contexts: the model has no density of x, so ``sample(X=None)``
        draws contexts from them.
    n_features_in_ : int
    n_targets_ : int

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje.baselines import ResidualGaussianRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(1000, 1))
    >>> y = 3.0 * X[:, 0] + 0.5 * rng.normal(size=1000)
    >>> model = ResidualGaussianRegressor().fit(X, y)
    >>> round(float(np.sqrt(model.residual_covariance_[0, 0])), 1)
    0.5
    >>> model.predict([[1.0]], return_std=True)[1].round(1)
    array([0.5])
    """

    def __init__(self, regressor=None, reg_covar=1e-9):
        self.regressor = regressor
        self.reg_covar = reg_covar

    def _fit(self, X, Y, sample_weight):
        regressor = clone(self.regressor if self.regressor is not None else LinearRegression())
        target = Y[:, 0] if Y.shape[1] == 1 else Y
        fit_params = {} if sample_weight is None else {"sample_weight": sample_weight}
        regressor.fit(X, target, **fit_params)
        residuals = Y - regressor.predict(X).reshape(len(Y), -1)
        weights = np.ones(len(Y)) if sample_weight is None else sample_weight
        covariance = (residuals * (weights / weights.sum())[:, None]).T @ residuals
        target_variances = np.average(
            (Y - np.average(Y, axis=0, weights=weights)) ** 2, axis=0, weights=weights
        )
        covariance.flat[:: Y.shape[1] + 1] += covariance_jitter(target_variances, self.reg_covar)
        self.regressor_ = regressor
        self.residual_covariance_ = covariance
        self.contexts_ = X
        return self

    def _predict_distribution(self, X):
        # A regressor fitted on near-degenerate contexts can extrapolate to ~1e300, where
        # the Gaussian's squared residual overflows: say so rather than return -inf.
        means = check_magnitude(
            self.regressor_.predict(X).reshape(len(X), 1, -1), "The regressor's prediction"
        )
        return GaussianMixtureDistribution(
            weights=np.ones((len(X), 1)), means=means, covariances=self.residual_covariance_[None]
        )

    def _sample_joint(self, n_samples, rng):
        contexts = self.contexts_[rng.randint(len(self.contexts_), size=n_samples)]
        means = self.regressor_.predict(contexts).reshape(n_samples, -1)
        noise = rng.standard_normal(size=means.shape) @ cholesky(self.residual_covariance_).T
        return contexts, means + noise
