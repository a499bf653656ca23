"""The estimator contract shared by every skgmje conditional density estimator."""

import sys
from abc import ABCMeta, abstractmethod
from contextlib import contextmanager
from numbers import Integral

import numpy as np
from sklearn import get_config
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import (
    _check_sample_weight,
    check_array,
    check_consistent_length,
    check_is_fitted,
    validate_data,
)

from ._core.conditioning import conditional_distribution, sample_joint
from ._core.em import block_rows
from ._core.gaussian import check_magnitude
from ._core.mixture import GaussianMixtureDistribution
from ._core.univariate import check_coverage, check_probabilities, concatenate_regions
from ._dask import (
    is_dask_collection,
    lazy_average,
    lazy_predict,
    lazy_quantiles,
    lazy_sample,
    lazy_score_samples,
)
from ._docs import DocumentationLinkMixin
from ._persistence import PersistenceMixin
from ._validation import validate_parameters

__all__ = ["ConditionalDensityEstimator", "ConditionedOnContext", "StreamingMixin"]

_FLOAT_DTYPES = (np.float64, np.float32)
# Set from the data before the model is fitted (see restored_on_failure).
_SHAPE_ATTRIBUTES = ("n_features_in_", "feature_names_in_", "n_targets_", "_y_ndim")


class ConditionalDensityEstimator(
    DocumentationLinkMixin, PersistenceMixin, RegressorMixin, BaseEstimator, metaclass=ABCMeta
):
    """Base class: a model of ``p(y | x)`` with the public contract of every skgmje estimator.

    ``fit``, ``partial_fit`` (for estimators that stream), ``predict``,
    ``predict_distribution``, ``predict_density``, ``score_samples``, ``score`` and
    ``sample`` are written here, once: they validate their inputs, accept 1-D or 2-D
    targets, answer in the shape of the training targets, work block-wise on many rows
    and lazily on dask collections. A subclass supplies the model:

    - ``_parameter_constraints``: what each constructor parameter may be (see
      :mod:`skgmje._validation`), checked before the data are looked at;
    - :meth:`_fit` (abstract): fit on validated float64 arrays;
    - :meth:`_predict_distribution` (abstract): the conditional mixture for rows of ``X``;
    - :meth:`_sample_joint` (abstract): joint draws ``(X, Y)``;
    - :meth:`_check_parameters_with_data` (optional): rules that need the data's widths
      or several parameters together;
    - with :class:`StreamingMixin`, ``_partial_fit``: one streaming step;
    - :meth:`_fit_dask` (optional): a fit on dask collections.
    """

    _parameter_constraints: dict = {}
    # Whether prediction conditions each row on its observed contexts (NaN elsewhere),
    # and whether fit takes rows with missing entries.
    _missing_contexts = False
    _missing_training_values = False

    @abstractmethod
    def _fit(self, X, Y, sample_weight):
        """Fit on validated float64 ``X`` (n, n_features) and ``Y`` (n, n_targets); return self.

        ``sample_weight`` is None or non-negative float64 weights with a positive sum.
        """

    @abstractmethod
    def _predict_distribution(self, X):
        """The conditional :class:`~skgmje.GaussianMixtureDistribution` for validated rows."""

    @abstractmethod
    def _sample_joint(self, n_samples, rng):
        """``n_samples`` joint draws ``(X, Y)``, ``Y`` 2-D, from the fitted ``p(x, y)``."""

    def _check_parameters_with_data(self, n_features, n_targets):
        """Raise a ValueError for parameters that do not fit data of these widths, or
        that contradict each other; called once per fit after the data are validated."""

    def _print(self, level, message):
        """Print ``message`` when the ``verbose`` parameter is at least ``level``."""
        if getattr(self, "verbose", 0) >= level:
            print(message, file=sys.stdout, flush=True)

    def fit(self, X, y, sample_weight=None):
        """Fit the model of ``p(x, y)`` (and hence ``p(y | x)``).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Contexts. :class:`~skgmje.GMJE` and :class:`~skgmje.BayesianGMJE` also take a
            dask array or DataFrame
            (fitted chunk by chunk on the cluster); the other estimators raise a
            ``TypeError`` for one.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights; ``None`` weighs every sample equally.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        validate_parameters(self)
        with restored_on_failure(self, _SHAPE_ATTRIBUTES):
            return self._validate_and_fit(X, y, sample_weight)

    def _validate_and_fit(self, X, y, sample_weight):
        if any(is_dask_collection(value) for value in (X, y, sample_weight)):
            fit_dask = getattr(self, "_fit_dask", None)
            if fit_dask is None:
                raise TypeError(
                    f"{type(self).__name__}.fit does not take dask collections (GMJE and "
                    "BayesianGMJE do). "
                    "Fit on an in-memory sample (e.g. X[:n].compute()) and predict on the "
                    "dask arrays: prediction is lazy and chunk-wise for every estimator."
                )
            self._check_parameters_with_data(X.shape[1], 1 if y.ndim == 1 else y.shape[1])
            return fit_dask(X, y, sample_weight)
        check_numpy_inputs(self, X, y, sample_weight)
        X, y = self._validate_training_data(X, y, reset=True, ensure_min_samples=2)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
            if not np.any(sample_weight > 0):
                raise ValueError("sample_weight must contain at least one positive weight.")
        self._y_ndim = y.ndim
        Y = check_magnitude(np.asarray(y, dtype=np.float64).reshape(len(y), -1), "y")
        self.n_targets_ = Y.shape[1]
        self._check_parameters_with_data(X.shape[1], Y.shape[1])
        return self._fit(check_magnitude(np.asarray(X, dtype=np.float64), "X"), Y, sample_weight)

    def _validate_partial_fit(self, X, y, sample_weight, first_call):
        """Validated ``(X, Y, weights)`` for one ``partial_fit`` batch, all float64.

        The first call sets the number of features and targets; later calls must
        match them. A batch after the first may be a single row.
        """
        check_numpy_inputs(self, X, y, sample_weight)
        X, y = self._validate_training_data(
            X, y, reset=first_call, ensure_min_samples=2 if first_call else 1
        )
        Y = check_magnitude(np.asarray(y, dtype=np.float64).reshape(len(y), -1), "y")
        if first_call:
            self._y_ndim = y.ndim
            self.n_targets_ = Y.shape[1]
        elif Y.shape[1] != self.n_targets_:
            raise ValueError(
                f"y has {Y.shape[1]} targets, but {type(self).__name__} was fitted "
                f"with {self.n_targets_}."
            )
        if sample_weight is None:
            weights = np.ones(len(Y))
        else:
            weights = _check_sample_weight(
                sample_weight, X, dtype=np.float64, ensure_non_negative=True
            )
        return check_magnitude(np.asarray(X, dtype=np.float64), "X"), Y, weights

    def _validate_training_data(self, X, y, reset, ensure_min_samples):
        """``(X, y)`` as float arrays; NaN (a missing entry) is refused unless the
        estimator fits with missing values."""
        if not self._missing_training_values:
            with missing_values_explained(self, "the training data"):
                return validate_data(
                    self,
                    X,
                    y,
                    reset=reset,
                    dtype=_FLOAT_DTYPES,
                    multi_output=True,
                    y_numeric=True,
                    ensure_min_samples=ensure_min_samples,
                )
        checks = {
            "dtype": _FLOAT_DTYPES,
            "ensure_all_finite": "allow-nan",
            "ensure_min_samples": ensure_min_samples,
        }
        X, y = validate_data(
            self, X, y, reset=reset, validate_separately=(checks, {**checks, "ensure_2d": False})
        )
        check_consistent_length(X, y)
        if y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D; got {y.ndim} dimensions.")
        return X, y

    def _validate_X(self, X):
        check_is_fitted(self)
        check_numpy_inputs(self, X)
        with missing_values_explained(self, "X"):
            X = validate_data(
                self,
                X,
                dtype=_FLOAT_DTYPES,
                reset=False,
                ensure_all_finite="allow-nan" if self._missing_contexts else True,
            )
        return check_magnitude(np.asarray(X, dtype=np.float64), "X")

    def _validate_Xy(self, X, y):
        X = self._validate_X(X)
        check_numpy_inputs(self, y)
        Y = check_array(y, dtype=_FLOAT_DTYPES, ensure_2d=False, input_name="y")
        if Y.ndim > 2:
            raise ValueError(f"y must be 1-D or 2-D; got {Y.ndim} dimensions.")
        Y = check_magnitude(np.asarray(Y, dtype=np.float64).reshape(len(Y), -1), "y")
        if Y.shape[1] != self.n_targets_:
            raise ValueError(
                f"y has {Y.shape[1]} targets, but {type(self).__name__} was fitted "
                f"with {self.n_targets_}."
            )
        if len(Y) != len(X):
            raise ValueError(f"X has {len(X)} rows but y has {len(Y)}.")
        return X, Y

    def _as_fitted_target_shape(self, Y):
        """Drop the trailing target axis when the model was fitted on 1-D ``y``."""
        return Y[..., 0] if self._y_ndim == 1 else Y

    def _prediction_row_width(self):
        """Floats of working memory per predicted row (sets the rows per prediction block).

        Estimators with a larger per-row cost (a kernel row, a hidden layer, K
        components) override this.
        """
        return self.n_features_in_ + self.n_targets_

    def _in_row_blocks(self, function, *arrays):
        """``function`` on consecutive row blocks of ``arrays``, results stacked along rows.

        Keeps the working memory of prediction independent of the number of rows.
        """
        n_rows = len(arrays[0])
        step = block_rows(self._prediction_row_width())
        if n_rows <= step:
            return function(*arrays)
        parts = [
            function(*(array[start : start + step] for array in arrays))
            for start in range(0, n_rows, step)
        ]
        if isinstance(parts[0], tuple):
            return tuple(np.concatenate(part) for part in zip(*parts))
        return np.concatenate(parts)

    def predict_distribution(self, X):
        """The conditional mixture ``p(y | x)`` for every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        distribution : GaussianMixtureDistribution
            Weights ``(n_samples, K)``, means ``(n_samples, K, n_targets)`` and
            component covariances.
        """
        if is_dask_collection(X):
            raise TypeError(
                "predict_distribution returns an in-memory GaussianMixtureDistribution; "
                "give it a NumPy slice of the dask array (X[:n].compute()), or use predict, "
                "score_samples, predict_density, score or sample, which are lazy on dask arrays."
            )
        return self._predict_distribution(self._validate_X(X))

    def predict(self, X, return_std=False):
        """Conditional mean ``E[y | x]``.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            A dask array or DataFrame gives lazy dask arrays, computed chunk by chunk.
        return_std : bool, default=False
            Also return the total predictive standard deviation per target
            (law of total variance: noise within modes plus spread of modes).

        Returns
        -------
        y_mean : ndarray of shape (n_samples,) or (n_samples, n_targets)
        y_std : ndarray, same shape as ``y_mean``
            Only with ``return_std=True``.
        """
        if is_dask_collection(X):
            return lazy_predict(self, X, return_std)
        return self._predict_array(self._validate_X(X), return_std)

    def _predict_array(self, X, return_std=False):
        def block(rows):
            distribution = self._predict_distribution(rows)
            mean = distribution.mean()
            if not return_std:
                return mean
            variance = np.diagonal(distribution.covariance(), axis1=1, axis2=2)
            return mean, np.sqrt(variance)

        result = self._in_row_blocks(block, X)
        if not return_std:
            return self._as_fitted_target_shape(result)
        return tuple(self._as_fitted_target_shape(part) for part in result)

    def predict_quantiles(self, X, alpha=(0.05, 0.5, 0.95)):
        """Quantiles of ``p(y | x)`` for every row (of each target's marginal for 2-D ``y``).

        Exact for the fitted mixture: its CDF is inverted by safeguarded Newton steps.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
            A dask array gives a lazy dask array, computed chunk by chunk.
        alpha : float or array-like of shape (n_levels,), default=(0.05, 0.5, 0.95)
            Probabilities in [0, 1] (skpro's name).

        Returns
        -------
        quantiles : ndarray of shape (n_samples, n_levels)
            ``(n_samples, n_levels, n_targets)`` for 2-D training targets; a float
            ``alpha`` drops the ``n_levels`` axis.

        Examples
        --------
        >>> from skgmje import GJE
        >>> import numpy as np
        >>> X = np.linspace(-1, 1, 200)[:, None]
        >>> y = 2 * X[:, 0] + 0.1 * np.random.RandomState(0).normal(size=200)
        >>> model = GJE().fit(X, y)
        >>> model.predict_quantiles([[0.0]], alpha=[0.05, 0.95]).round(2)
        array([[-0.16,  0.17]])
        """
        levels = check_probabilities(alpha, "alpha")
        if is_dask_collection(X):
            result = lazy_quantiles(self, X, np.atleast_1d(levels))
        else:
            result = self._quantiles_array(self._validate_X(X), np.atleast_1d(levels))
        return result[:, 0] if levels.ndim == 0 else result

    def predict_interval(self, X, coverage=0.9):
        """The equal-tailed interval of ``p(y | x)`` holding ``coverage`` of each row's mass.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        coverage : float, default=0.9
            In (0, 1) (skpro's name).

        Returns
        -------
        bounds : ndarray of shape (n_samples, 2)
            Lower and upper bounds; ``(n_samples, 2, n_targets)`` for 2-D training
            targets (per target's marginal). For a multimodal ``p(y | x)``,
            :meth:`predict_hdr` is the shorter set of the same mass.
        """
        coverage = check_coverage(coverage)
        return self.predict_quantiles(X, [(1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0])

    def predict_hdr(self, X, coverage=0.9):
        """The highest-density region of ``p(y | x)`` holding ``coverage`` of each row's mass.

        For one-dimensional targets: the set ``{y : p(y | x) >= t}`` of that mass, the
        shortest one, a union of disjoint intervals where ``p(y | x)`` is multimodal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        coverage : float, default=0.9

        Returns
        -------
        region : HighestDensityRegion
            ``lower`` and ``upper`` of shape (n_samples, P), each row's intervals in
            increasing order padded with NaN; ``threshold`` (n_samples,); and the
            methods ``length()``, ``contains(y)`` and the attribute ``n_intervals``.

        Examples
        --------
        >>> from skgmje import GMJE
        >>> from skgmje.datasets import make_intersecting_branches
        >>> X, y = make_intersecting_branches(n_samples=2000, random_state=0)
        >>> region = GMJE(n_components=8, random_state=0).fit(X, y).predict_hdr([[0.5]], 0.9)
        >>> int(region.n_intervals[0])    # three branches at x = 0.5
        3
        """
        coverage = check_coverage(coverage)
        if is_dask_collection(X):
            raise TypeError(
                "predict_hdr returns intervals whose number varies by row, in memory; give "
                "it a NumPy slice of the dask array (X[:n].compute())."
            )
        X = self._validate_X(X)
        if self.n_targets_ != 1:
            raise ValueError(
                f"predict_hdr needs one target; this model has {self.n_targets_}. Use "
                "predict_distribution(X).marginal(j).hdr(coverage) for target j."
            )
        step = block_rows(self._prediction_row_width())
        parts = [
            self._predict_distribution(X[start : start + step]).hdr(coverage)
            for start in range(0, len(X), step)
        ]
        return concatenate_regions(parts)

    def _quantiles_array(self, X, levels):
        def block(rows):
            distribution = self._predict_distribution(rows)
            return np.stack(
                [distribution.marginal(j).ppf(levels) for j in range(self.n_targets_)], axis=-1
            )

        return self._as_fitted_target_shape(self._in_row_blocks(block, X))

    def score_samples(self, X, y):
        """Conditional log-density ``log p(y_i | x_i)`` in nats.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        log_density : ndarray or dask array of shape (n_samples,)
        """
        if is_dask_collection(X) or is_dask_collection(y):
            return lazy_score_samples(self, X, y)
        return self._score_samples_array(*self._validate_Xy(X, y))

    def _score_samples_array(self, X, Y):
        return self._in_row_blocks(
            lambda rows, targets: self._predict_distribution(rows).log_prob(targets), X, Y
        )

    def predict_density(self, X, y):
        """Conditional density ``p(y_i | x_i)``, shape (n_samples,)."""
        return np.exp(self.score_samples(X, y))

    def score(self, X, y, sample_weight=None):
        """Mean conditional log-likelihood ``mean_i log p(y_i | x_i)`` (higher is better).

        This, not R², is what ``GridSearchCV`` maximises by default: it rewards a
        model for putting density on every branch of a multi-valued target.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        score : float
            A lazy 0-d dask array when ``X`` or ``y`` is a dask collection.
        """
        log_density = self.score_samples(X, y)
        if is_dask_collection(log_density):
            return lazy_average(log_density, sample_weight)
        return float(np.average(log_density, weights=sample_weight))

    def sample(self, X=None, n_samples=1, random_state=None):
        """Draw targets given contexts, or joint ``(x, y)`` pairs.

        Parameters
        ----------
        X : array-like or dask array of shape (n_queries, n_features), default=None
            Contexts to condition on. ``None`` draws from the learned joint
            ``p(x, y)`` instead (generative use). A dask array gives a lazy dask
            array whose chunks draw with seeds taken from ``random_state``.
        n_samples : int, default=1
            Draws per context, or joint draws when ``X`` is None.
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        y_samples : ndarray of shape (n_queries, n_samples[, n_targets])
            When ``X`` is given.
        (X_samples, y_samples) : tuple of ndarrays
            When ``X`` is None: ``(n_samples, n_features)`` and
            ``(n_samples,)`` or ``(n_samples, n_targets)``.
        """
        if not isinstance(n_samples, Integral) or n_samples < 1:
            raise ValueError(f"n_samples must be a positive integer; got {n_samples!r}.")
        rng = check_random_state(random_state)
        if X is None:
            check_is_fitted(self)
            X_new, Y_new = self._sample_joint(n_samples, rng)
            return X_new, self._as_fitted_target_shape(Y_new)
        if is_dask_collection(X):
            return lazy_sample(self, X, n_samples, rng)
        return self._sample_array(self._validate_X(X), n_samples, rng)

    def _sample_array(self, X, n_samples, rng):
        draws = self._in_row_blocks(
            lambda rows: self._predict_distribution(rows).sample(n_samples, random_state=rng), X
        )
        return self._as_fitted_target_shape(draws)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        # score is a log-likelihood, not R^2: the "score > 0.5" regressor check does not apply.
        tags.regressor_tags.poor_score = True
        tags.input_tags.allow_nan = self._missing_training_values
        return tags


# Who does what with NaN, for the error of an estimator that cannot.
_MISSING_VALUES_SUPPORT = (
    "GJE, GMJE and BayesianGMJE fit on rows with missing entries in X and y (EM under "
    "missing at random); GJE, GMJE, BayesianGMJE, GMJEGNG and SMCGMJE predict from rows "
    "with missing contexts (each row conditioned on its observed columns, the others "
    "marginalised exactly). Otherwise impute first, e.g. sklearn.impute.SimpleImputer in "
    "a Pipeline."
)


@contextmanager
def missing_values_explained(estimator, where):
    """Replace scikit-learn's error on NaN input (which recommends other libraries'
    estimators) by one saying which skgmje estimators take missing values, and where."""
    try:
        yield
    except ValueError as error:
        if "NaN" not in str(error):
            raise
        raise ValueError(
            f"{type(estimator).__name__} does not accept missing values (NaN) in {where}. "
            + _MISSING_VALUES_SUPPORT
        ) from error


def check_numpy_inputs(estimator, *arrays):
    """Refuse arrays of another array-API library while scikit-learn's array API dispatch
    is on.

    skgmje computes with NumPy. With ``sklearn.set_config(array_api_dispatch=True)``,
    scikit-learn's validation keeps a torch or CuPy array in its own namespace and the
    first NumPy conversion fails with that library's dtype error; this says instead what
    is unsupported and what to do. Without dispatch such arrays are converted to NumPy
    as any array-like is.
    """
    if not get_config()["array_api_dispatch"]:
        return
    for array in arrays:
        # Every array-API library (torch, CuPy, JAX) exports DLPack; pandas and lists do not.
        if hasattr(array, "__dlpack__") and not isinstance(array, np.ndarray):
            kind = f"{type(array).__module__}.{type(array).__name__}"
            raise TypeError(
                f"{type(estimator).__name__} computes with NumPy and does not support "
                f"scikit-learn's array API dispatch (array_api_dispatch=True) for {kind} "
                "inputs. Pass NumPy arrays (for a torch tensor, tensor.cpu().numpy()), or "
                "call it inside sklearn.config_context(array_api_dispatch=False)."
            )


def column_standardisation(values, weights=None):
    """Each column's (weighted) mean and standard deviation, 1 for a constant column."""
    if weights is None:
        mean, scale = values.mean(axis=0), values.std(axis=0)
    else:
        mean = np.average(values, axis=0, weights=weights)
        scale = np.sqrt(np.average((values - mean) ** 2, axis=0, weights=weights))
    return mean, np.where(scale > 0, scale, 1.0)


@contextmanager
def restored_on_failure(estimator, names):
    """Put the attributes ``names`` of ``estimator`` back as they were if the block raises.

    ``fit`` sets the data's shapes (``n_features_in_``, ...) before the model is fitted;
    a failed or interrupted fit must leave the estimator as it was, unfitted or with its
    previous fit, never with the new data's shapes beside the old parameters.
    """
    previous = {name: vars(estimator)[name] for name in names if name in vars(estimator)}
    try:
        yield
    except BaseException:
        for name in names:
            vars(estimator).pop(name, None)
        vars(estimator).update(previous)
        raise


class ConditionedOnContext:
    """Mixin for estimators whose fit ends in a joint Gaussian mixture conditioned in closed
    form: they store its precomputed conditioning in ``conditioning_``
    (:func:`skgmje._core.conditioning.prepare_conditioning`), and prediction and joint
    sampling follow from it."""

    _missing_contexts = True

    def _predict_distribution(self, X):
        if np.isnan(X).any():
            return self.joint_distribution().condition(
                np.arange(self.n_features_in_), X, targets=self._target_columns()
            )
        return conditional_distribution(self.conditioning_, X)

    def _target_columns(self):
        return np.arange(self.n_features_in_, self.n_features_in_ + self.n_targets_)

    def _sample_joint(self, n_samples, rng):
        return sample_joint(self.conditioning_, n_samples, rng)

    def joint_distribution(self):
        """The fitted joint model ``p(x, y)`` as a single Gaussian mixture.

        Its columns are the ``n_features_in_`` contexts, then the ``n_targets_``
        targets. Its :meth:`~skgmje.GaussianMixtureDistribution.condition` gives any
        columns given any others (the targets given some of the contexts, the contexts
        given the targets), :meth:`~skgmje.GaussianMixtureDistribution.marginal` any
        columns' marginal, and
        :meth:`~skgmje.GaussianMixtureDistribution.log_prob_observed` the density of
        whatever entries of a row were observed.

        Returns
        -------
        GaussianMixtureDistribution
            One row, ``K`` components over ``n_features_in_ + n_targets_`` columns.
        """
        check_is_fitted(self)
        conditioning = self.conditioning_
        factors = conditioning.joint_choleskys
        return GaussianMixtureDistribution(
            log_weights=conditioning.log_weights[None],
            means=conditioning.joint_means[None],
            covariances=factors @ np.swapaxes(factors, -1, -2),
        )

    def score_samples_context(self, X):
        """Marginal log-density of the contexts, ``log p(x_i)``, in nats.

        Missing entries (NaN) are marginalised: a row scores the density of its
        observed contexts.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        X = self._validate_X(X)
        return self.joint_distribution().marginal(np.arange(X.shape[1])).log_prob_observed(X)

    def _prediction_row_width(self):
        # The conditional forms (rows, K, n_features + n_targets) arrays.
        n_components = len(self.conditioning_.log_weights)
        return n_components * (self.n_features_in_ + self.n_targets_)


class StreamingMixin:
    """Mixin giving a :class:`ConditionalDensityEstimator` ``partial_fit``.

    The template validates the parameters, then the batch (the first call sets the
    data's widths, later calls must match them), and calls the subclass's
    ``_partial_fit(X, Y, weights, first_call)``; ``first_call`` is True on an estimator
    that is not fitted. A failed call leaves the estimator as it was.
    """

    def partial_fit(self, X, y, sample_weight=None):
        """Update the model with one batch of rows (streaming, online learning).

        The first call on an unfitted estimator starts the model from its batch; later
        calls, and calls on an estimator fitted with :meth:`fit`, move it by one step.
        Each estimator documents its step.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object
        """
        validate_parameters(self)
        first_call = not hasattr(self, "n_targets_")
        with restored_on_failure(self, _SHAPE_ATTRIBUTES):
            X, Y, weights = self._validate_partial_fit(X, y, sample_weight, first_call)
            if first_call:
                self._check_parameters_with_data(X.shape[1], Y.shape[1])
            return self._partial_fit(X, Y, weights, first_call)

    @abstractmethod
    def _partial_fit(self, X, Y, weights, first_call):
        """One step on a validated batch (float64 ``X``, 2-D ``Y``, ``weights``); return self."""
