"""skpro interoperability: any skgmje estimator as an skpro probabilistic regressor.

Needs the ``skpro`` extra (``pip install "skgmje[skpro]"``).

- :class:`SkproRegressor` wraps a skgmje estimator in skpro's
  ``BaseProbaRegressor`` interface: ``predict_proba``, ``predict_interval``,
  ``predict_quantiles`` and ``predict_var``, pandas in and out, usable in skpro's
  pipelines, tuners, metrics and benchmarks.
- :class:`GaussianMixture` is what its ``predict_proba`` returns: an skpro distribution
  holding, for each row and target column, that target's marginal of the estimator's
  conditional mixture.

Every quantity is the closed form of the mixture, computed by skgmje, none is sampled:
the density, CDF and quantiles, the mean and variance, and the two expectations
``E|Y - y|`` and ``E|Y - Y'|`` through which skpro's ``CRPS`` metric scores a
distribution. skpro's fallback for a distribution without them averages samples.
"""

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils import check_random_state

from ._core import univariate
from ._core.em import block_rows
from ._core.gaussian import LOG_2PI, logsumexp
from ._optional import require_skpro

require_skpro("skgmje.skpro")

# After the check, so that a missing skpro names the extra rather than the module.
from skpro.distributions.base import BaseDistribution  # noqa: E402
from skpro.regression.base import BaseProbaRegressor  # noqa: E402

__all__ = ["GaussianMixture", "SkproRegressor"]

# Rows' weights may sum to one only up to the rounding of exp(log_weights).
_WEIGHT_SUM_TOLERANCE = 1e-8


class GaussianMixture(BaseDistribution):
    r"""Gaussian mixtures, one per entry of a frame, as an skpro distribution.

    Entry ``(i, j)`` (row ``i`` of the index, target column ``j``) is the mixture

    .. math::

        p_{ij}(y) = \sum_{k=1}^{K} w_{ik}\, \mathcal{N}\big(y \mid \mu_{ikj}, s_{kj}^2\big),

    the marginal of target ``j`` of a skgmje conditional mixture ``p(y | x_i)``: a Gaussian
    mixture's marginal keeps its weights and takes each component's mean and variance of
    that coordinate. As for every skpro distribution, the entries are marginals:
    :meth:`sample` draws the columns independently. The density, CDF,
    quantiles, mean, variance and the energies behind skpro's ``CRPS`` metric are exact
    (the quantiles to the tolerance of skgmje's safeguarded Newton steps).

    :class:`SkproRegressor` returns one from ``predict_proba``;
    :meth:`from_skgmje` builds one from a :class:`~skgmje.GaussianMixtureDistribution`.

    Parameters
    ----------
    weights : array-like of shape (n, K), or (K,) for a scalar distribution
        The mixture weights of each row, shared by its columns; each row sums to one.
    means : array-like of shape (n, K, n_columns), or (K,) for a scalar distribution
        The component means of each entry.
    scales : array-like of shape (K, n_columns) or (n, K, n_columns), or (K,)
        The component standard deviations, shared by the rows (the conditionals of
        GJE, GMJE, GMJEGNG and SMCGMJE) or given per row (DualGJE, GMJEMDN).
    index : pd.Index, default=None
        The rows, ``RangeIndex(n)`` when None.
    columns : pd.Index, default=None
        The target columns, ``RangeIndex(n_columns)`` when None.

    Examples
    --------
    >>> from skgmje.skpro import GaussianMixture
    >>> dist = GaussianMixture(
    ...     weights=[[0.5, 0.5]], means=[[[-1.0], [1.0]]], scales=[[0.5], [0.5]])
    >>> dist.mean()
         0
    0  0.0
    >>> dist.var()                 # 0.25 within the modes, 1 between them
          0
    0  1.25
    >>> round(float(dist.cdf([[1.0]]).iloc[0, 0]), 4)   # half of one mode, all the other
    0.75
    """

    _tags = {
        "authors": ["skgmje developers"],
        # pdfnorm is exact for the 2-norm only.
        "capabilities:approx": ["pdfnorm"],
        "capabilities:exact": ["mean", "var", "energy", "pdf", "log_pdf", "cdf", "ppf"],
        "distr:measuretype": "continuous",
        # Not "parametric": skpro reads parametric distributions' parameters as frames of
        # the distribution's shape, and these have a component axis.
        "distr:paramtype": "composite",
    }

    def __init__(self, weights, means, scales, index=None, columns=None):
        self.weights = weights
        self.means = means
        self.scales = scales

        weights = np.asarray(weights, dtype=float)
        means = np.asarray(means, dtype=float)
        scales = np.asarray(scales, dtype=float)
        scalar = weights.ndim == 1
        if scalar:
            # One entry: the arrays of a 1 x 1 frame.
            weights, means, scales = weights[None], means[None, :, None], scales[:, None]
        _check_mixture(weights, means, scales)
        self._weights = weights
        with np.errstate(divide="ignore"):
            self._log_weights = np.log(weights)
        self._means = means
        self._scales = scales

        n_rows, _, n_columns = means.shape
        if not scalar:
            index = pd.RangeIndex(n_rows) if index is None else index
            columns = pd.RangeIndex(n_columns) if columns is None else columns
        super().__init__(index=index, columns=columns)

    @classmethod
    def from_skgmje(cls, distribution, index=None, columns=None):
        """The marginals of every target of a :class:`~skgmje.GaussianMixtureDistribution`.

        Parameters
        ----------
        distribution : GaussianMixtureDistribution
            For ``n`` rows and ``n_targets`` targets.
        index : pd.Index of length n, default=None
        columns : pd.Index of length n_targets, default=None

        Returns
        -------
        GaussianMixture
            Of shape ``(n, n_targets)``.
        """
        variances = np.diagonal(distribution.covariances, axis1=-2, axis2=-1)
        return cls(
            weights=distribution.weights,
            means=distribution.means,
            scales=np.sqrt(variances),
            index=index,
            columns=columns,
        )

    # -- the columns as skgmje's one-dimensional mixtures ---------------------------

    def _per_column(self, function, values):
        """``function(values[:, j:j+1], log_weights, means_j, scales_j)[:, 0]`` per column."""
        values = self._as_frame(values)
        return np.stack(
            [
                function(
                    values[:, [j]], self._log_weights, self._means[..., j], self._scales[..., j]
                )[:, 0]
                for j in range(self._means.shape[2])
            ],
            axis=1,
        )

    def _as_frame(self, values):
        """Values given entry-wise as an (n, n_columns) array (a 1 x 1 one when scalar)."""
        return np.asarray(values, dtype=float).reshape(self._means.shape[0], -1)

    def _entry_wise(self, values):
        """An (n, n_columns) result as skpro wants it: a float for a scalar distribution."""
        return float(values[0, 0]) if self.ndim == 0 else values

    def _row_wise(self, values):
        """An energy per entry, (n, n_columns), summed over each row's columns."""
        total = values.sum(axis=1)
        return float(total[0]) if self.ndim == 0 else total

    def _broadcast_scales(self):
        return np.broadcast_to(self._scales, self._means.shape)

    # -- skpro's private methods ----------------------------------------------------

    def _log_pdf(self, x):
        x = self._as_frame(x)
        scales = self._broadcast_scales()
        z = (x[:, None, :] - self._means) / scales
        component = -0.5 * (z**2 + LOG_2PI) - np.log(scales)
        return self._entry_wise(logsumexp(component + self._log_weights[:, :, None], axis=1))

    def _pdf(self, x):
        return np.exp(self._log_pdf(x))

    def _cdf(self, x):
        return self._entry_wise(self._per_column(univariate.cdf, x))

    def _ppf(self, p):
        return self._entry_wise(self._per_column(univariate.ppf, p))

    def _mean(self):
        return self._entry_wise(np.einsum("nk,nkd->nd", self._weights, self._means))

    def _var(self):
        # Law of total variance, the spread of the means taken about the mixture's mean
        # rather than as E[y^2] - E[y]^2, which cancels when the modes are far from 0.
        mean = np.einsum("nk,nkd->nd", self._weights, self._means)
        spread = self._broadcast_scales() ** 2 + (self._means - mean[:, None, :]) ** 2
        return self._entry_wise(np.einsum("nk,nkd->nd", self._weights, spread))

    def _energy_x(self, x):
        # E|Y - x| = sum_k w_k A(x - mu_k, s_k^2), the first term of skgmje's closed-form
        # CRPS (Grimit et al. 2006).
        x = self._as_frame(x)
        variances = self._broadcast_scales() ** 2
        expected = univariate._expected_abs(x[:, None, :] - self._means, variances)
        return self._row_wise(np.einsum("nk,nkd->nd", self._weights, expected))

    def _energy_self(self):
        # E|Y - Y'| = sum_kl w_k w_l A(mu_k - mu_l, s_k^2 + s_l^2), its second term.
        return self._row_wise(self._pair_sum(univariate._expected_abs))

    def pdfnorm(self, a=2):
        # The 2-norm, which skpro's squared loss reads, in closed form: the integral of a
        # product of two Gaussians, sum_kl w_k w_l N(mu_k - mu_l | 0, s_k^2 + s_l^2).
        # Other norms are skpro's Monte Carlo estimate.
        if a != 2:
            return super().pdfnorm(a)
        norm = self._entry_wise(self._pair_sum(_normal_density))
        if self.ndim == 0:
            return norm
        return pd.DataFrame(norm, index=self.index, columns=self.columns)

    def _pair_sum(self, kernel):
        """``sum_kl w_k w_l kernel(mu_k - mu_l, s_k^2 + s_l^2)`` per entry, (n, n_columns).

        Over blocks of rows, as the pairs of components take (rows, K, K, n_columns).
        """
        n_rows, n_components, n_columns = self._means.shape
        variances = self._broadcast_scales() ** 2
        out = np.empty((n_rows, n_columns))
        step = block_rows(n_components * n_components * n_columns)
        for start in range(0, n_rows, step):
            rows = slice(start, start + step)
            means, row_variances = self._means[rows], variances[rows]
            pairs = kernel(
                means[:, :, None, :] - means[:, None, :, :],
                row_variances[:, :, None, :] + row_variances[:, None, :, :],
            )
            weights = self._weights[rows]
            out[rows] = np.einsum("nk,nkld,nl->nd", weights, pairs, weights)
        return out

    def _sample(self, n_samples=None):
        n_draws = 1 if n_samples is None else n_samples
        # skpro's distributions draw from NumPy's global generator (np.random.seed).
        rng = check_random_state(None)
        n_rows, n_components, n_columns = self._means.shape
        cumulative = np.cumsum(self._weights, axis=1)
        uniforms = rng.uniform(size=(n_draws, n_rows, n_columns)) * cumulative[:, -1:]
        # Each entry picks its own component: the entries are independent marginals.
        components = np.minimum(
            np.sum(cumulative[None, :, None, :] <= uniforms[..., None], axis=-1),
            n_components - 1,
        )
        means = np.take_along_axis(
            np.swapaxes(self._means, 1, 2)[None], components[..., None], axis=-1
        )[..., 0]
        scales = np.take_along_axis(
            np.swapaxes(self._broadcast_scales(), 1, 2)[None], components[..., None], axis=-1
        )[..., 0]
        draws = means + scales * rng.standard_normal(size=means.shape)
        if self.ndim == 0:
            return float(draws[0, 0, 0]) if n_samples is None else pd.DataFrame(draws[:, 0])
        frames = [pd.DataFrame(draw, index=self.index, columns=self.columns) for draw in draws]
        return frames[0] if n_samples is None else pd.concat(frames, keys=range(n_draws))

    def _iloc(self, rowidx=None, colidx=None):
        if np.isscalar(rowidx) and np.isscalar(colidx):
            return self._iat(rowidx, colidx)
        rows = np.atleast_1d(np.arange(len(self.index))[_or_all(rowidx)])
        columns = np.atleast_1d(np.arange(len(self.columns))[_or_all(colidx)])
        scales = self._scales if self._scales.ndim == 2 else self._scales[rows]
        return type(self)(
            weights=self._weights[rows],
            means=self._means[rows][..., columns],
            scales=scales[..., columns],
            index=self.index[rows],
            columns=self.columns[columns],
        )

    def _iat(self, rowidx=None, colidx=None):
        if rowidx is None or colidx is None:
            raise ValueError("iat needs both a row and a column index.")
        scales = self._scales if self._scales.ndim == 2 else self._scales[rowidx]
        return type(self)(
            weights=self._weights[rowidx],
            means=self._means[rowidx, :, colidx],
            scales=scales[:, colidx],
        )

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Parameter sets for skpro's tests: shared and per-row scales, and a scalar."""
        weights = np.array([[0.3, 0.7], [0.5, 0.5], [0.9, 0.1]])
        means = np.array(
            [[[0.0, 1.0], [3.0, 4.0]], [[1.0, 2.0], [-4.0, 5.0]], [[2.0, 3.0], [5.0, 0.0]]]
        )
        shared = {"weights": weights, "means": means, "scales": [[1.0, 0.5], [2.0, 0.3]]}
        per_row = {
            "weights": weights,
            "means": means,
            "scales": np.linspace(0.2, 2.0, 12).reshape(3, 2, 2),
            "index": pd.Index([1, 2, 5]),
            "columns": pd.Index(["a", "b"]),
        }
        scalar = {"weights": [0.4, 0.6], "means": [0.0, 3.0], "scales": [1.0, 0.5]}
        return [shared, per_row, scalar]


def _normal_density(difference, variance):
    return np.exp(-0.5 * (difference**2 / variance + LOG_2PI)) / np.sqrt(variance)


def _or_all(index):
    return slice(None) if index is None else index


def _check_mixture(weights, means, scales):
    """Raise a ValueError unless the arrays describe (n, K) mixtures of n_columns targets."""
    if weights.ndim != 2 or means.ndim != 3 or means.shape[:2] != weights.shape:
        raise ValueError(
            "weights must have shape (n, K) and means (n, K, n_columns), or (K,) both for "
            f"a scalar distribution; got weights {weights.shape} and means {means.shape}."
        )
    if scales.shape not in (means.shape[1:], means.shape):
        raise ValueError(
            f"scales must have shape {means.shape[1:]} or {means.shape}; got {scales.shape}."
        )
    if np.any(weights < 0) or np.any(np.abs(weights.sum(axis=1) - 1) > _WEIGHT_SUM_TOLERANCE):
        raise ValueError("weights must be non-negative and sum to one in each row.")
    if not np.all(scales > 0):
        raise ValueError("scales must be positive.")


class SkproRegressor(BaseProbaRegressor):
    """Any skgmje estimator as an skpro probabilistic regressor.

    ``fit`` fits a clone of ``estimator``; the predictions are the fitted estimator's own,
    with skpro's pandas conventions (the index of ``X``, the columns of ``y``):

    - ``predict_proba``: a :class:`GaussianMixture`, each target's marginal of
      ``estimator_.predict_distribution``;
    - ``predict``: the conditional mean, ``estimator_.predict``;
    - ``predict_interval`` and ``predict_quantiles``: ``estimator_.predict_interval`` and
      ``estimator_.predict_quantiles``, the mixture's CDF inverted exactly;
    - ``predict_var``: the total variance of each target, ``estimator_.predict`` with
      ``return_std=True`` (noise within the modes plus their spread, [GMJE]_ Eq. 105-106);
    - ``update``: ``estimator_.partial_fit``, for estimators that stream.

    skpro's ``CRPS`` metric on ``predict_proba`` then equals skgmje's closed-form
    :func:`skgmje.metrics.crps`.

    Parameters
    ----------
    estimator : skgmje estimator, default=None
        Any :class:`~skgmje.base.ConditionalDensityEstimator`, unfitted; None fits
        ``GMJE()``.

    Attributes
    ----------
    estimator_ : skgmje estimator
        The fitted clone of ``estimator``.

    Examples
    --------
    >>> import numpy as np
    >>> import pandas as pd
    >>> from skgmje import GMJE
    >>> from skgmje.datasets import make_intersecting_branches
    >>> from skgmje.skpro import SkproRegressor
    >>> from skpro.metrics import CRPS
    >>> X, y = make_intersecting_branches(n_samples=1000, random_state=0)
    >>> X, y = pd.DataFrame(X, columns=["x"]), pd.DataFrame({"y": y})
    >>> model = SkproRegressor(GMJE(n_components=8, random_state=0)).fit(X, y)
    >>> dist = model.predict_proba(X)
    >>> type(dist).__name__, dist.shape
    ('GaussianMixture', (1000, 1))
    >>> model.predict_interval(X.iloc[:1], coverage=0.9).columns.tolist()
    [('y', 0.9, 'lower'), ('y', 0.9, 'upper')]
    >>> from skgmje.metrics import crps
    >>> exact = crps(y["y"], model.estimator_.predict_distribution(X.to_numpy()))
    >>> bool(np.isclose(CRPS()(y, dist), exact, rtol=0, atol=1e-10))
    True
    """

    _tags = {
        "authors": ["skgmje developers"],
        "capability:multioutput": True,
        # skgmje's estimators refuse missing values.
        "capability:missing": False,
        "X_inner_mtype": "pd_DataFrame_Table",
        "y_inner_mtype": "pd_DataFrame_Table",
    }

    def __init__(self, estimator=None):
        self.estimator = estimator
        super().__init__()
        self.set_tags(**{"capability:update": hasattr(self._estimator(), "partial_fit")})

    def _estimator(self):
        if self.estimator is None:
            from .gmje import GMJE

            return GMJE()
        return self.estimator

    def _fit(self, X, y):
        # NumPy to the estimator: skpro checks that X has the columns of fit already, and
        # scikit-learn refuses column names of mixed types, which pandas allows.
        self.estimator_ = clone(self._estimator()).fit(X.to_numpy(), y.to_numpy())
        return self

    def _update(self, X, y):
        self.estimator_.partial_fit(X.to_numpy(), y.to_numpy())
        return self

    def _frame(self, values, X, columns):
        return pd.DataFrame(values, index=X.index, columns=columns)

    def _predict(self, X):
        return self._frame(self.estimator_.predict(X.to_numpy()), X, self._get_columns())

    def _predict_proba(self, X):
        return GaussianMixture.from_skgmje(
            self.estimator_.predict_distribution(X.to_numpy()),
            index=X.index,
            columns=self._get_columns(),
        )

    def _predict_var(self, X):
        _, std = self.estimator_.predict(X.to_numpy(), return_std=True)
        return self._frame(std**2, X, self._get_columns(method="predict_var"))

    def _predict_quantiles(self, X, alpha):
        # (n, levels, targets) to skpro's columns, (target, level) with the target first.
        quantiles = self.estimator_.predict_quantiles(X.to_numpy(), alpha)
        values = np.swapaxes(quantiles, 1, 2).reshape(len(X), -1)
        return self._frame(values, X, self._get_columns("predict_quantiles", alpha=alpha))

    def _predict_interval(self, X, coverage):
        # (coverages, n, lower/upper, targets) to skpro's (target, coverage, lower/upper).
        X_array = X.to_numpy()
        bounds = np.stack([self.estimator_.predict_interval(X_array, c) for c in coverage])
        values = np.transpose(bounds, (1, 3, 0, 2)).reshape(len(X), -1)
        return self._frame(values, X, self._get_columns("predict_interval", coverage=coverage))

    @classmethod
    def get_test_params(cls, parameter_set="default"):
        """Parameter sets for skpro's tests: GMJE (component covariances shared by the
        rows, streaming) and DualGJE (a covariance per row, no streaming)."""
        from .dual_gje import DualGJE
        from .gmje import GMJE

        return [{"estimator": GMJE(n_components=2, random_state=0)}, {"estimator": DualGJE()}]
