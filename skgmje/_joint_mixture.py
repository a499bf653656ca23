"""The EM loop shared by the joint mixtures fitted on sufficient statistics (GMJE, BayesianGMJE).

The initialisations, the in-memory and distributed passes, the restarts, the
stopping rule and the joint density are here, once; a subclass supplies the hooks
that :class:`JointMixtureEM` declares.
"""

import time
import warnings
from abc import abstractmethod
from numbers import Integral

import numpy as np
from sklearn.cluster import KMeans, kmeans_plusplus
from sklearn.exceptions import ConvergenceWarning
from sklearn.utils import check_random_state

from . import _dask
from ._blas import single_threaded_blas
from ._core import em, missing_em, resolution
from ._core.conditioning import prepare_conditioning
from ._core.gaussian import logsumexp
from ._validation import Interval, StrOptions, positive
from .base import ConditionalDensityEstimator, ConditionedOnContext

INIT_PARAMS = ("kmeans", "k-means++", "random", "random_from_data")

# A distributed fit initialises on a uniform sample of about this many rows (at least
# this many per component), never on all rows at once.
_INIT_SAMPLE_ROWS = 20_000
_INIT_ROWS_PER_COMPONENT = 100


class JointMixtureEM(ConditionedOnContext, ConditionalDensityEstimator):
    """Base class: a mixture on the joint ``[x, y]`` fitted by (variational) EM on statistics.

    Takes the EM parameters every such mixture shares (``n_components`` to
    ``verbose_interval``, as :class:`sklearn.mixture.GaussianMixture` names them). A
    subclass implements the abstract hooks :meth:`_m_step`, :meth:`_lower_bound`,
    :meth:`_set_parameters` and :meth:`_shifted_parameters`, and may override
    :meth:`_prepare_fit`, :meth:`_e_step_options`, :meth:`_choose_hyperparameters` and
    :meth:`_joint_mixture`.
    """

    _parameter_constraints = {
        "n_components": [Interval(Integral, 1, None, closed="left")],
        "covariance_type": [StrOptions(set(em.COVARIANCE_TYPES))],
        "tol": [positive(allow_zero=True)],
        "reg_covar": [positive(allow_zero=True)],
        "max_iter": [positive(Integral, allow_zero=True)],
        "n_init": [positive(Integral)],
        "init_params": [StrOptions(set(INIT_PARAMS))],
        "random_state": ["random_state"],
        "warm_start": ["boolean"],
        "verbose": ["verbose"],
        "verbose_interval": [positive(Integral)],
    }

    def __init__(
        self,
        n_components,
        *,
        covariance_type,
        tol,
        reg_covar,
        max_iter,
        n_init,
        init_params,
        random_state,
        warm_start,
        verbose,
        verbose_interval,
    ):
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.tol = tol
        self.reg_covar = reg_covar
        self.max_iter = max_iter
        self.n_init = n_init
        self.init_params = init_params
        self.random_state = random_state
        self.warm_start = warm_start
        self.verbose = verbose
        self.verbose_interval = verbose_interval

    @abstractmethod
    def _m_step(self, statistics, jitter):
        """Parameters from :class:`~skgmje._core.em.SufficientStatistics`, with ``jitter``
        added to every covariance's diagonal (per column)."""

    @abstractmethod
    def _lower_bound(self, statistics, parameters):
        """The convergence criterion per unit weight (log-likelihood or its variational bound)."""

    @abstractmethod
    def _set_parameters(self, parameters, center, n_context):
        """Store ``parameters`` (fitted on rows shifted by ``center``) in the data's
        coordinates as fitted attributes, and condition the mixture on the first
        ``n_context`` columns (``self._condition``)."""

    @abstractmethod
    def _shifted_parameters(self, center):
        """The fitted parameters in coordinates shifted by ``center`` (for ``warm_start``)."""

    def _prepare_fit(self, n_context, total_weight, center, variances, scatter):
        """Called once per fit before the initialisation, in shifted coordinates.

        ``variances`` are the weighted per-column variances (divided by
        ``total_weight``); ``scatter()`` computes ``sum_i w_i z_i z_i^T`` (one more
        pass over the data, so only when needed).
        """

    def _e_step_options(self, parameters):
        """Keyword arguments of :func:`skgmje._core.em.e_step` for these parameters."""
        return {}

    def _choose_hyperparameters(self, rows):
        """Resolve what the data choose (by cross-validation) and return the number of
        components this fit uses.

        ``rows()`` gives ``(X, Y, sample_weight)``: the training rows in memory, a
        uniform sample of them for a distributed fit (a pass over the data, so only
        when needed).
        """
        return self.n_components

    def _fit(self, X, Y, sample_weight):
        with single_threaded_blas():
            return self._fit_em(X, Y, sample_weight)

    def _fit_em(self, X, Y, sample_weight):
        self._fit_components = self._choose_hyperparameters(lambda: (X, Y, sample_weight))
        Z = np.hstack([X, Y])
        rounding = resolution.rounding_variances(resolution.column_levels(Z, sample_weight))
        missing = np.isnan(Z)
        layout = missing_em.missing_layout(missing) if missing.any() else None
        positive = np.ones(len(Z), dtype=bool) if sample_weight is None else sample_weight > 0
        if layout is not None:
            # A row with nothing observed says nothing about the model.
            positive &= ~missing.all(axis=1)
            center, variances = missing_em.observed_moments(Z, sample_weight)
            Z -= center
        else:
            # Shifting in place keeps one copy of the joint rows (the E-step's coordinates).
            center = np.average(Z, axis=0, weights=sample_weight)
            Z -= center
            variances = em.weighted_variances(Z, sample_weight)
        n_available = int(np.count_nonzero(positive))
        total_weight = float(len(Z) if sample_weight is None else np.sum(sample_weight))
        jitter = em.covariance_jitter(variances, self.reg_covar, rounding)
        scales = em.column_scales(variances, X.shape[1])

        def scatter():
            if layout is None:
                return em.weighted_scatter(Z, sample_weight)
            # A prior's scale, not an estimate: each missing entry at its column's mean.
            return em.weighted_scatter(np.where(missing, 0.0, Z), sample_weight)

        def initial_parameters(rng):
            if layout is None:
                return self._initial_parameters(Z, sample_weight, rng, jitter, scales)
            # The start sees each missing entry at its column's mean (0 here); EM then
            # treats it exactly.
            Z[missing] = 0.0
            try:
                weights = positive.astype(float)
                if sample_weight is not None:
                    weights *= sample_weight
                return self._initial_parameters(Z, weights, rng, jitter, scales)
            finally:
                Z[missing] = np.nan

        products = None
        if layout is None and self.covariance_type == "full":
            products = em.pair_products(Z)

        def e_step(parameters):
            options = self._e_step_options(parameters)
            if layout is None:
                return em.e_step(
                    Z, parameters, self.covariance_type, sample_weight, products=products, **options
                )
            return missing_em.e_step_with_missing(
                Z, layout, parameters, self.covariance_type, sample_weight, **options
            )

        self._prepare_fit(X.shape[1], total_weight, center, variances, scatter)
        return self._run_em(
            n_context=X.shape[1],
            n_joint=Z.shape[1],
            n_available=n_available,
            center=center,
            jitter=jitter,
            initial_parameters=initial_parameters,
            e_step=e_step,
        )

    def _fit_dask(self, X, y, sample_weight):
        """EM over dask collections: statistics per chunk on the workers, M-step here."""
        _dask.check_columns(self, X, reset=True)
        X, Y, W, y_ndim = _dask.em_arrays(X, y, sample_weight)
        if X.shape[0] < 2:
            raise ValueError(f"{type(self).__name__} needs at least 2 samples; got {X.shape[0]}.")
        passes = _dask.DistributedPasses(X, Y, W)
        total_weight, n_available, center = passes.moments()

        def sample():
            rows, weights = passes.sample(
                _INIT_SAMPLE_ROWS, n_available, check_random_state(self.random_state)
            )
            return rows[:, : X.shape[1]], rows[:, X.shape[1] :], weights

        self._fit_components = self._choose_hyperparameters(sample)
        variances = passes.variances(center, total_weight)
        jitter = em.covariance_jitter(
            variances, self.reg_covar, resolution.rounding_variances(passes.levels())
        )
        scales = em.column_scales(variances, X.shape[1])
        self._y_ndim = y_ndim
        self.n_targets_ = Y.shape[1]

        def scatter():
            # A tied covariance's second moments are those of every row, whatever the
            # responsibilities: one pass with a single empty component gives them.
            return passes.initial_statistics(center, "none", None, 1, "tied", None).second_moments

        self._prepare_fit(X.shape[1], total_weight, center, variances, scatter)
        return self._run_em(
            n_context=X.shape[1],
            n_joint=passes.n_joint,
            n_available=n_available,
            center=center,
            jitter=jitter,
            initial_parameters=lambda rng: self._initial_parameters_distributed(
                passes, center, scales, n_available, rng, jitter
            ),
            e_step=lambda parameters: passes.e_step(
                center, parameters, self.covariance_type, **self._e_step_options(parameters)
            ),
        )

    def _run_em(self, n_context, n_joint, n_available, center, jitter, initial_parameters, e_step):
        """The EM loop shared by in-memory and distributed fits (they differ in their passes)."""
        name = type(self).__name__
        if n_available < self._fit_components:
            raise ValueError(
                f"{name} with n_components={self._fit_components} needs at least as many "
                f"samples (with positive weight); got {n_available}."
            )
        do_init = not (self.warm_start and hasattr(self, "converged_"))
        if not do_init and self.means_.shape[1] != n_joint:
            raise ValueError(
                "warm_start=True needs data of the shape seen before: "
                f"{self.means_.shape[1]} joint columns, got {n_joint}."
            )
        rng = check_random_state(self.random_state)

        best = None
        for init in range(self.n_init if do_init else 1):
            start = time.perf_counter()
            self._print(1, f"Initialization {init}")
            if do_init:
                parameters = initial_parameters(rng)
                lower_bound = -np.inf
            else:
                parameters = self._shifted_parameters(center)
                lower_bound = self.lower_bound_
            lower_bounds, converged, n_iter = [], False, 0
            for n_iter in range(1, self.max_iter + 1):
                previous = lower_bound
                statistics = e_step(parameters)
                parameters = self._m_step(statistics, jitter)
                lower_bound = self._lower_bound(statistics, parameters)
                lower_bounds.append(lower_bound)
                change = lower_bound - previous
                if n_iter % self.verbose_interval == 0:
                    self._print(
                        2,
                        f"  Iteration {n_iter}\t time lapse "
                        f"{time.perf_counter() - start:.5f}s\t ll change {change:.5f}",
                    )
                if abs(change) < self.tol:
                    converged = True
                    break
            self._print(
                1,
                f"Initialization {'converged' if converged else 'did not converge'}. "
                f"time lapse {time.perf_counter() - start:.5f}s\t lower bound {lower_bound:.5f}",
            )
            if best is None or lower_bound > best[0]:
                best = (lower_bound, parameters, n_iter, lower_bounds, converged)

        lower_bound, parameters, n_iter, lower_bounds, converged = best
        if not converged and self.max_iter > 0:
            warnings.warn(
                "Best performing initialization did not converge. Try different init "
                "parameters, or increase max_iter, tol, or check for degenerate data.",
                ConvergenceWarning,
                stacklevel=2,
            )
        self._set_parameters(parameters, center, n_context)
        self.reg_covar_ = jitter
        self.converged_ = converged
        self.n_iter_ = n_iter
        self.lower_bound_ = lower_bound
        self.lower_bounds_ = lower_bounds
        return self

    def _condition(self, weights, means, covariances, n_context):
        """Precompute the conditioning of the mixture (any covariance type) on ``x``."""
        n_components, n_joint = means.shape
        self.conditioning_ = prepare_conditioning(
            weights,
            means,
            em.full_covariances(covariances, self.covariance_type, n_components, n_joint),
            n_context,
        )

    def _initial_parameters(self, shifted, sample_weight, rng, jitter, scales):
        """Initial responsibilities as scikit-learn's mixtures draw them, then one M-step.

        k-means and k-means++ see the rows divided by ``scales``
        (:func:`skgmje._core.em.column_scales`: standardised columns, balanced blocks), because
        EM itself is equivariant under rescaling a column and their Euclidean distances
        are not. ``shifted`` is the fit's own copy of the rows: it is divided
        in place and multiplied back (a change of at most one unit in the last place),
        because a second copy would be the largest array of the fit. The
        responsibilities are formed one block of rows at a time (never (n, K)).
        """
        n_samples, n_components = len(shifted), self._fit_components
        if self.init_params in ("kmeans", "k-means++"):
            shifted /= scales
            try:
                if self.init_params == "kmeans":
                    labels = (
                        KMeans(n_clusters=n_components, n_init=1, random_state=rng)
                        .fit(shifted, sample_weight=sample_weight)
                        .labels_
                    )
                else:
                    _, indices = kmeans_plusplus(
                        shifted, n_components, random_state=rng, sample_weight=sample_weight
                    )
            finally:
                shifted *= scales
        if self.init_params == "random":
            labels = None
        elif self.init_params != "kmeans":
            if self.init_params == "random_from_data":
                probabilities = (
                    None if sample_weight is None else sample_weight / sample_weight.sum()
                )
                indices = rng.choice(n_samples, size=n_components, replace=False, p=probabilities)
            labels = np.full(n_samples, -1)
            labels[indices] = np.arange(n_components)

        def responsibilities(block, start, stop):
            if labels is None:
                return em.random_responsibilities(rng, stop - start, n_components), None
            return em.hard_responsibilities(labels[start:stop], n_components), None

        statistics = em.accumulate_statistics(
            shifted, n_components, self.covariance_type, responsibilities, sample_weight
        )
        return self._m_step(statistics, jitter)

    def _initial_parameters_distributed(self, passes, center, scales, n_available, rng, jitter):
        """The initialisation of a distributed fit, chunk-wise.

        ``"kmeans"`` runs k-means on a uniform sample of rows and labels every row by
        its nearest centre; ``"k-means++"`` and ``"random_from_data"`` pick their rows
        from the sample; ``"random"`` draws responsibilities per chunk. Distances are
        taken on the columns divided by ``scales``, as in memory.
        """
        n_components, covariance_type = self._fit_components, self.covariance_type
        if self.init_params == "random":
            statistics = passes.initial_statistics(
                center, "random", None, n_components, covariance_type, rng
            )
            return self._m_step(statistics, jitter)
        sample_size = max(_INIT_SAMPLE_ROWS, _INIT_ROWS_PER_COMPONENT * n_components)
        rows, weights = passes.sample(sample_size, n_available, rng)
        rows -= center
        # A missing entry at its column's mean, as in memory.
        rows = np.nan_to_num(rows, nan=0.0)
        rows /= scales
        if len(rows) < n_components:
            raise ValueError(
                f"The initialisation sample holds {len(rows)} rows, fewer than "
                f"n_components={n_components}."
            )
        if self.init_params == "kmeans":
            centers = (
                KMeans(n_clusters=n_components, n_init=1, random_state=rng)
                .fit(rows, sample_weight=weights)
                .cluster_centers_
            )
            statistics = passes.initial_statistics(
                center, "nearest", centers, n_components, covariance_type, rng, scales=scales
            )
            return self._m_step(statistics, jitter)
        if self.init_params == "random_from_data":
            indices = rng.choice(
                len(rows), size=n_components, replace=False, p=weights / weights.sum()
            )
        else:
            _, indices = kmeans_plusplus(
                rows, n_components, random_state=rng, sample_weight=weights
            )
        # Only the chosen rows carry responsibility (as in memory); a tied covariance
        # still needs the second moments of every row, hence the pass.
        statistics = passes.initial_statistics(
            center, "none", None, n_components, covariance_type, rng
        )
        chosen = em.statistics_from_responsibilities(
            rows[indices] * scales, np.diag(weights[indices]), covariance_type, weights[indices]
        )
        statistics = statistics._replace(
            resp_sums=chosen.resp_sums,
            first_moments=chosen.first_moments,
            second_moments=(
                statistics.second_moments if covariance_type == "tied" else chosen.second_moments
            ),
        )
        return self._m_step(statistics, jitter)

    def _joint_mixture(self):
        """``(weights, means, precisions_cholesky)`` of the joint density the model reports."""
        return self.weights_, self.means_, self.precisions_cholesky_

    def score_samples_joint(self, X, y):
        """Joint log-density ``log p(x_i, y_i)`` under the fitted mixture.

        Parameters
        ----------
        X : array-like or dask array of shape (n_samples, n_features)
        y : array-like or dask array of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        log_density : ndarray or lazy dask array of shape (n_samples,)
        """
        if _dask.is_dask_collection(X) or _dask.is_dask_collection(y):
            return _dask.lazy_score_samples(self, X, y, "_score_samples_joint_array")
        return self._score_samples_joint_array(*self._validate_Xy(X, y))

    def _score_samples_joint_array(self, X, Y):
        weights, means, precisions_cholesky = self._joint_mixture()
        log_weights = np.log(weights)

        def block(rows, targets):
            log_prob = em.log_gaussian_prob(
                np.hstack([rows, targets]), means, precisions_cholesky, self.covariance_type
            )
            return logsumexp(log_prob + log_weights, axis=1)

        return self._in_row_blocks(block, X, Y)
