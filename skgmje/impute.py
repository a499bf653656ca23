"""Imputation from a Gaussian mixture of the observed entries."""

import math
from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.impute import MissingIndicator
from sklearn.utils import check_random_state
from sklearn.utils.validation import _check_feature_names_in, check_is_fitted, validate_data

from ._core import em, subsets
from ._core.mixture import GaussianMixtureDistribution
from ._docs import DocumentationLinkMixin
from ._validation import Interval, StrOptions, positive, validate_parameters
from .gmje import GMJE

__all__ = ["GaussianMixtureImputer"]

# Candidates of n_components="auto", as GMJE's; a candidate needs d + 1 rows per component.
CANDIDATE_COMPONENTS = (1, 2, 3, 4, 6, 8, 12, 16)


class GaussianMixtureImputer(DocumentationLinkMixin, TransformerMixin, BaseEstimator):
    """Impute missing values from a Gaussian mixture fitted on the observed entries.

    ``fit`` fits a Gaussian mixture to all the columns by EM for incomplete data
    (Ghahramani and Jordan 1994: each row contributes through its observed entries, and
    nothing is imputed to fit), with the number of components chosen by BIC on the
    observed-data likelihood. ``transform`` replaces each row's missing entries by their
    conditional mean given its observed ones under the mixture, the best guess in squared
    error, or, with ``sample_posterior=True``, by a draw from that conditional (multiple
    imputation: repeat with other ``random_state`` values). Unlike a chain of regressions
    (``IterativeImputer``), the conditional of a mixture can be several-valued, and it
    comes with a density: :meth:`score_samples` is the log-density of what was observed.

    Parameters
    ----------
    missing_values : float or int, default=np.nan
        The placeholder of a missing entry.
    n_components : int or "auto", default="auto"
        The number of mixture components; ``"auto"`` chooses among 1, 2, 3, 4, 6, 8, 12
        and 16 (those with ``n_features + 1`` rows per component) by BIC. BIC rather than
        held-out likelihood: the imputer models the joint density of the columns, for
        which BIC is consistent in the number of components, and it fits each candidate
        once instead of once per fold.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        As :class:`~skgmje.GMJE`'s. ``"diag"`` and ``"spherical"`` impute each column's
        component mean: they model no dependence between the columns within a component.
    sample_posterior : bool, default=False
        Draw each row's missing entries from their conditional instead of taking its mean.
    max_iter : int, default=100
        EM iterations per fit.
    tol : float, default=1e-3
        EM's convergence threshold on the mean observed-data log-likelihood.
    reg_covar : float, default=1e-2
        Covariance regularisation relative to each column's variance, as GMJE's, but
        larger than GMJE's 1e-4 by default: tables to impute often hold discrete columns
        (counts, codes, flags), onto whose levels components with a tiny floor collapse,
        explaining their level exactly and any other value at densities near
        ``exp(-500)``, which misleads both BIC and the conditional. A floor of 1% of each
        column's variance (10% of its standard deviation) kept the components apart on
        the real-data benchmark's tables and lowered the imputation error on three of
        them (``benchmarks/bench_missing.py``).
    n_init : int, default=1
        EM starts per fit; the best is kept.
    random_state : int, RandomState instance or None, default=None
        Seeds the EM starts and the draws of ``sample_posterior``.
    add_indicator : bool, default=False
        Append :class:`~sklearn.impute.MissingIndicator`'s columns to the output.
    keep_empty_features : bool, default=False
        Keep the columns with no observed value in ``fit`` (imputed with 0) instead of
        dropping them.
    verbose : int, default=0
        Prints the candidates' BIC and EM progress.

    Attributes
    ----------
    mixture_ : GMJE or None
        The fitted mixture over the columns with an observed value (``None`` when there
        are none); ``mixture_.joint_distribution()`` is its density.
    n_components_ : int
    bic_ : dict
        The BIC of every candidate tried (``n_components="auto"``).
    n_iter_ : int
        EM iterations of the chosen fit.
    indicator_ : MissingIndicator or None
    random_state_ : RandomState
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.

    See Also
    --------
    sklearn.impute.IterativeImputer : a chain of regressions, one column at a time.
    sklearn.impute.KNNImputer : the mean of the nearest rows.
    GMJE : fits and predicts with missing entries itself, with no imputation.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GaussianMixtureImputer
    >>> rng = np.random.RandomState(0)
    >>> x = rng.normal(size=500)
    >>> X = np.column_stack([x, 2.0 * x + 0.1 * rng.normal(size=500)])
    >>> X_missing = X.copy()
    >>> X_missing[::10, 1] = np.nan
    >>> imputer = GaussianMixtureImputer(random_state=0).fit(X_missing)
    >>> filled = imputer.transform(X_missing)
    >>> bool(np.abs(filled[::10, 1] - X[::10, 1]).max() < 0.5)
    True
    >>> imputer.transform([[1.0, np.nan]]).round(1)
    array([[1., 2.]])
    """

    _parameter_constraints = {
        "missing_values": [Real, Integral],
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "covariance_type": [StrOptions(set(em.COVARIANCE_TYPES))],
        "sample_posterior": ["boolean"],
        "max_iter": [positive(Integral)],
        "tol": [positive(allow_zero=True)],
        "reg_covar": [positive(allow_zero=True)],
        "n_init": [positive(Integral)],
        "random_state": ["random_state"],
        "add_indicator": ["boolean"],
        "keep_empty_features": ["boolean"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        *,
        missing_values=np.nan,
        n_components="auto",
        covariance_type="full",
        sample_posterior=False,
        max_iter=100,
        tol=1e-3,
        reg_covar=1e-2,
        n_init=1,
        random_state=None,
        add_indicator=False,
        keep_empty_features=False,
        verbose=0,
    ):
        self.missing_values = missing_values
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.sample_posterior = sample_posterior
        self.max_iter = max_iter
        self.tol = tol
        self.reg_covar = reg_covar
        self.n_init = n_init
        self.random_state = random_state
        self.add_indicator = add_indicator
        self.keep_empty_features = keep_empty_features
        self.verbose = verbose

    def fit(self, X, y=None):
        """Fit the mixture on the observed entries of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            With missing entries marked by ``missing_values``.
        y : None
            Ignored.

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        X = self._validate(X, reset=True)
        self.random_state_ = check_random_state(self.random_state)
        missing = np.isnan(X)
        self._empty_features = missing.all(axis=0)
        self.indicator_ = (
            MissingIndicator(missing_values=np.nan, error_on_new=False).fit(X)
            if self.add_indicator
            else None
        )
        observed = X[:, ~self._empty_features]
        self.bic_ = {}
        if observed.shape[1] == 0:
            self.mixture_, self.n_components_, self.n_iter_ = None, 0, 0
            return self
        usable = int(np.count_nonzero(~np.isnan(observed).all(axis=1)))
        if self.n_components == "auto":
            candidates = [
                K for K in CANDIDATE_COMPONENTS if K * (observed.shape[1] + 1) <= usable
            ] or [1]
        else:
            candidates = [self.n_components]
        best = None
        for n_components in candidates:
            mixture = self._fit_mixture(observed, n_components)
            if len(candidates) > 1:
                bic = self._bic(mixture, observed)
                self.bic_[n_components] = bic
                if self.verbose:
                    print(f"n_components={n_components}: BIC {bic:.3f}", flush=True)
            if best is None or len(candidates) > 1 and bic < self.bic_[best[0]]:
                best = (n_components, mixture)
        self.n_components_, self.mixture_ = best
        self.n_iter_ = self.mixture_.n_iter_
        return self

    def _fit_mixture(self, observed, n_components):
        """GMJE's EM (incomplete data) with every column a target and no context."""
        mixture = GMJE(
            n_components=n_components,
            covariance_type=self.covariance_type,
            tol=self.tol,
            reg_covar=self.reg_covar,
            max_iter=self.max_iter,
            n_init=self.n_init,
            random_state=self.random_state_,
            verbose=max(self.verbose - 1, 0),
        )
        validate_parameters(mixture)
        return mixture._fit(np.empty((len(observed), 0)), observed, None)

    def _bic(self, mixture, observed):
        log_likelihood = np.sum(mixture.joint_distribution().log_prob_observed(observed))
        n_rows = np.count_nonzero(~np.isnan(observed).all(axis=1))
        return float(-2.0 * log_likelihood + mixture._n_parameters() * math.log(n_rows))

    def transform(self, X):
        """Replace the missing entries of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        X_imputed : ndarray of shape (n_samples, n_features_out)
            Without the columns that had no observed value in ``fit`` (unless
            ``keep_empty_features``), with the indicator columns appended when
            ``add_indicator``.
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        kept = X[:, ~self._empty_features].copy()
        if self.mixture_ is not None:
            self._fill(kept)
        if self.keep_empty_features:
            out = np.zeros(X.shape)
            out[:, ~self._empty_features] = kept
        else:
            out = kept
        if self.indicator_ is not None:
            out = np.hstack([out, self.indicator_.transform(X).astype(out.dtype)])
        return out

    def _fill(self, values):
        joint = self.mixture_.joint_distribution()
        columns = np.arange(values.shape[1])
        for missing, rows in subsets.missingness_groups(np.isnan(values)):
            if not missing.any():
                continue
            _, log_weights, means, covariances = subsets.condition_rows(
                joint.log_weights,
                joint.means,
                joint.covariances,
                columns[~missing],
                columns[missing],
                values[rows][:, ~missing],
                name="the rows to impute",
            )
            conditional = GaussianMixtureDistribution(
                log_weights=log_weights, means=means, covariances=covariances
            )
            filled = (
                conditional.sample(1, random_state=self.random_state_)[:, 0]
                if self.sample_posterior
                else conditional.mean()
            )
            values[np.ix_(rows, columns[missing])] = filled

    def score_samples(self, X):
        """Log-density of each row's observed entries under the mixture (the missing
        entries, and the columns empty in ``fit``, marginalised); 0 for a row with none.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        check_is_fitted(self)
        X = self._validate(X, reset=False)
        if self.mixture_ is None:
            return np.zeros(len(X))
        observed = X[:, ~self._empty_features]
        return self.mixture_.joint_distribution().log_prob_observed(observed)

    def get_feature_names_out(self, input_features=None):
        """The names of the output columns.

        Parameters
        ----------
        input_features : array-like of str, default=None

        Returns
        -------
        feature_names_out : ndarray of str
        """
        check_is_fitted(self)
        names = _check_feature_names_in(self, input_features)
        if not self.keep_empty_features:
            names = names[~self._empty_features]
        if self.indicator_ is not None:
            indicator = self.indicator_.get_feature_names_out(input_features)
            names = np.concatenate([names, indicator])
        return names

    def _validate(self, X, reset):
        placeholder_is_nan = isinstance(self.missing_values, float) and np.isnan(
            self.missing_values
        )
        X = validate_data(
            self,
            X,
            reset=reset,
            dtype=np.float64,
            ensure_all_finite="allow-nan" if placeholder_is_nan else True,
            copy=True,
        )
        if not placeholder_is_nan:
            X[X == self.missing_values] = np.nan
        return X

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = True
        return tags
