"""Point-prediction baselines scored on the same footing as the density estimators."""

import numpy as np
from sklearn.base import clone
from sklearn.linear_model import LinearRegression
from sklearn.model_selection import check_cv, cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from ._core.em import covariance_jitter, weighted_scatter, weighted_variances
from ._core.gaussian import check_magnitude, cholesky
from ._validation import HasMethods, StrOptions, positive
from .base import ConditionalDensityEstimator
from .mixture import GaussianMixtureDistribution

__all__ = ["ResidualGaussianRegressor"]


class ResidualGaussianRegressor(ConditionalDensityEstimator):
    """Any scikit-learn regressor, read as ``y | x ~ N(f(x), Sigma_residual)``.

    The deterministic baseline of the GMJE paper [GMJE]_: a regressor trained with squared
    error predicts one value per context, and the only uncertainty it can
    express is the spread of its residuals, the same at every x. Wrapping it
    in the skgmje contract lets its held-out conditional log-likelihood be
    compared with the mixture models'.

    The residuals are out-of-fold by default: each row's residual comes from a
    clone of the regressor fitted without that row (``cross_val_predict``),
    while the regressor used for prediction is fitted on all rows. A model
    that fits its own training rows (boosted trees, a deep tree, a nearest
    neighbour, a large network) has in-sample residuals far smaller than its
    error on new rows, so a covariance taken from them gives intervals that
    cover too little of held-out data; out-of-fold residuals measure the error
    on rows the model has not seen. This costs one extra fit per fold.

    Parameters
    ----------
    regressor : estimator, default=None
        A scikit-learn regressor, cloned at fit time. ``None`` means
        ``make_pipeline(StandardScaler(), LinearRegression())``: scikit-learn's
        least squares drops directions whose singular value is below ``tol`` of the
        largest, so a context column in units a million times smaller than another
        lost its coefficient; on standardised columns the fit does not depend on
        any column's units.
    cv : int, cross-validation generator, iterable or "in_sample", default=5
        Which residuals estimate the covariance, with the meaning of
        scikit-learn's ``cv``: an int is the number of folds of an unshuffled
        :class:`~sklearn.model_selection.KFold`, ``None`` the default 5 folds,
        a splitter or an iterable of ``(train, test)`` index arrays is used as
        given; the test folds must partition the rows, as
        :func:`~sklearn.model_selection.cross_val_predict` requires. An int
        (or ``None``) needs at least that many rows, and fitting on fewer
        raises a ``ValueError`` rather than falling back to in-sample residuals.
        ``"in_sample"`` takes the residuals of the final regressor on its own
        training rows: one fit instead of ``n_splits + 1``, but sound only for
        a regressor that cannot fit its training noise (e.g. a linear model on
        many more rows than features).
    reg_covar : float, default=1e-9
        Non-negative regularisation relative to the targets: ``reg_covar`` times
        each target's variance (``reg_covar`` for a constant target) is added to
        the diagonal of the residual covariance, so the model does not depend on
        the units of ``y``.

    Attributes
    ----------
    regressor_ : estimator
        The fitted clone of ``regressor``, fitted on all training rows.
    residual_covariance_ : ndarray of shape (n_targets, n_targets)
        Mean outer product of the out-of-fold residuals (of the in-sample
        residuals with ``cv="in_sample"``), weighted by ``sample_weight``, plus
        the ``reg_covar`` jitter.
    contexts_ : ndarray of shape (n_samples, n_features)
        Training contexts: the model has no density of x, so ``sample(X=None)``
        draws contexts from them.
    n_features_in_ : int
    n_targets_ : int

    See Also
    --------
    sklearn.model_selection.cross_val_predict : the out-of-fold predictions.

    Examples
    --------
    >>> import numpy as np
    >>> from sklearn.neighbors import KNeighborsRegressor
    >>> from skgmje.baselines import ResidualGaussianRegressor
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-1, 1, size=(1000, 1))
    >>> y = 3.0 * X[:, 0] + 0.5 * rng.normal(size=1000)
    >>> model = ResidualGaussianRegressor().fit(X, y)
    >>> round(float(np.sqrt(model.residual_covariance_[0, 0])), 1)
    0.5
    >>> model.predict([[1.0]], return_std=True)[1].round(1)
    array([0.5])

    A nearest neighbour reproduces its training targets: its in-sample
    residuals are zero, while a new row's target differs from its nearest
    neighbour's by two draws of the noise, a standard deviation of about
    ``sqrt(2) * 0.5``.

    >>> nearest = ResidualGaussianRegressor(KNeighborsRegressor(n_neighbors=1))
    >>> in_sample = nearest.set_params(cv="in_sample").fit(X, y)
    >>> round(float(np.sqrt(in_sample.residual_covariance_[0, 0])), 3)
    0.0
    >>> out_of_fold = nearest.set_params(cv=5).fit(X, y)
    >>> round(float(np.sqrt(out_of_fold.residual_covariance_[0, 0])), 1)
    0.7
    """

    _parameter_constraints = {
        "regressor": [HasMethods(["fit", "predict"]), None],
        "cv": [StrOptions({"in_sample"}), "cv_object"],
        "reg_covar": [positive(allow_zero=True)],
    }

    def __init__(self, regressor=None, cv=5, reg_covar=1e-9):
        self.regressor = regressor
        self.cv = cv
        self.reg_covar = reg_covar

    def _fit(self, X, Y, sample_weight):
        if self.regressor is None:
            regressor = make_pipeline(StandardScaler(), LinearRegression())
            weight_name = "linearregression__sample_weight"
        else:
            regressor, weight_name = clone(self.regressor), "sample_weight"
        target = Y[:, 0] if Y.shape[1] == 1 else Y
        fit_params = {} if sample_weight is None else {weight_name: sample_weight}
        if isinstance(self.cv, str) and self.cv == "in_sample":
            regressor.fit(X, target, **fit_params)
            predictions = regressor.predict(X)
        else:
            predictions = self._out_of_fold_predictions(regressor, X, target, fit_params)
            regressor.fit(X, target, **fit_params)
        residuals = Y - predictions.reshape(len(Y), -1)
        weights = np.ones(len(Y)) if sample_weight is None else sample_weight
        covariance = weighted_scatter(residuals, weights / weights.sum())
        target_variances = weighted_variances(Y - np.average(Y, axis=0, weights=weights), weights)
        covariance.flat[:: Y.shape[1] + 1] += covariance_jitter(target_variances, self.reg_covar)
        self.regressor_ = regressor
        self.residual_covariance_ = covariance
        self.contexts_ = X
        return self

    def _out_of_fold_predictions(self, regressor, X, target, fit_params):
        splitter = check_cv(self.cv)
        n_splits = splitter.get_n_splits(X, target)
        if n_splits > len(X):
            raise ValueError(
                f"cv={self.cv!r} makes {n_splits} folds, which needs at least {n_splits} rows; "
                f"got {len(X)}. Pass a smaller cv, or cv='in_sample' for in-sample residuals."
            )
        return cross_val_predict(regressor, X, target, cv=splitter, params=fit_params)

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
