"""The conditional Gaussian mixture returned by every estimator's ``predict_distribution``.

Public as :class:`skgmje.GaussianMixtureDistribution` (and ``skgmje.mixture``); it lives
in ``_core`` because the conditioning of a joint mixture builds it.
"""

import numpy as np
from sklearn.utils import check_random_state

from . import subsets, univariate
from .gaussian import LOG_2PI, cholesky, log_det_from_cholesky, logsumexp, precision_cholesky

__all__ = ["GaussianMixtureDistribution"]

# Floats in one block of projected targets in :meth:`GaussianMixtureDistribution.log_prob`:
# 16 MiB, so a grid of targets streams through memory in passes of that size.
_BLOCK_FLOATS = 1 << 21


class GaussianMixtureDistribution:
    """A batch of Gaussian mixtures ``p(y | x_i) = sum_k w_ik N(y | mu_ik, Sigma_k)``.

    One mixture per row ``i`` of the queried contexts (user guide, "Conditional mixtures").
    Component covariances are either shared by all rows (the joint-GMM
    conditionals of GJE/GMJE, whose conditional covariance does not depend on
    x) or given per row (mixture density networks, Gaussian processes).

    Parameters
    ----------
    weights : array-like of shape (n, K), optional
        Mixture weights per row; each row sums to one. Give either ``weights``
        or ``log_weights``.
    means : array-like of shape (n, K, dy)
        Component means per row.
    covariances : array-like of shape (K, dy, dy) or (n, K, dy, dy)
        Component covariances, shared by every row or given per row.
    log_weights : array-like of shape (n, K), optional
        Log mixture weights; preferred when weights underflow (routing far
        from a component gives ``-inf`` rather than a spurious zero).

    Attributes
    ----------
    weights : ndarray of shape (n, K)
    log_weights : ndarray of shape (n, K)
    means : ndarray of shape (n, K, dy)
    covariances : ndarray of shape (K, dy, dy) or (n, K, dy, dy)
    n_components : int
    n_targets : int

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GaussianMixtureDistribution
    >>> dist = GaussianMixtureDistribution(
    ...     weights=[[0.5, 0.5]], means=[[[-1.0], [1.0]]], covariances=[[[0.1]], [[0.1]]])
    >>> dist.mean()
    array([[0.]])
    >>> dist.covariance()          # total = aleatoric 0.1 + ambiguity 1.0
    array([[[1.1]]])
    >>> [m.ravel().tolist() for m in dist.modes()[0]]
    [[-1.0, 1.0]]
    >>> float(np.round(dist.pdf(np.array([1.0]))[0], 4))
    0.6308
    """

    def __init__(self, weights=None, means=None, covariances=None, *, log_weights=None):
        if (weights is None) == (log_weights is None):
            raise ValueError("Give exactly one of weights and log_weights.")
        if log_weights is None:
            weights = np.asarray(weights, dtype=float)
            with np.errstate(divide="ignore"):
                log_weights = np.log(weights)
        else:
            log_weights = np.asarray(log_weights, dtype=float)
            weights = np.exp(log_weights)
        means = np.asarray(means, dtype=float)
        covariances = np.asarray(covariances, dtype=float)
        if means.ndim != 3 or log_weights.shape != means.shape[:2]:
            raise ValueError(
                "means must have shape (n, K, dy) and weights (n, K); got "
                f"means {means.shape} and weights {log_weights.shape}."
            )
        n_rows, n_components, n_targets = means.shape
        shared = (n_components, n_targets, n_targets)
        if covariances.shape not in (shared, (n_rows,) + shared):
            raise ValueError(
                f"covariances must have shape {shared} or {(n_rows,) + shared}; "
                f"got {covariances.shape}."
            )
        self.weights = weights
        self.log_weights = log_weights
        self.means = means
        self.covariances = covariances
        self._precision_cholesky = None
        self._log_dets = None
        self._cholesky = None
        self._stacked_precision = None
        self._projected_means = None

    @property
    def n_components(self):
        return self.means.shape[1]

    @property
    def n_targets(self):
        return self.means.shape[2]

    @property
    def shared_covariances(self):
        """Whether the component covariances are shared by every row."""
        return self.covariances.ndim == 3

    def __len__(self):
        return self.means.shape[0]

    def __getitem__(self, rows):
        """The mixtures of a subset of rows (an index, slice or mask)."""
        rows = np.arange(len(self))[rows]
        rows = np.atleast_1d(rows)
        covariances = self.covariances if self.shared_covariances else self.covariances[rows]
        return type(self)(
            log_weights=self.log_weights[rows], means=self.means[rows], covariances=covariances
        )

    def __repr__(self):
        return (
            f"{type(self).__name__}(n={len(self)}, n_components={self.n_components}, "
            f"n_targets={self.n_targets})"
        )

    def _factors(self):
        if self._cholesky is None:
            self._cholesky = cholesky(self.covariances)
            self._precision_cholesky = precision_cholesky(self._cholesky)
            self._log_dets = log_det_from_cholesky(self._cholesky)
        return self._cholesky, self._precision_cholesky, self._log_dets

    def _as_targets(self, y):
        y = np.asarray(y, dtype=float)
        n_rows, n_targets = len(self), self.n_targets
        if y.ndim >= 2 and y.shape[-2:] == (n_rows, n_targets):
            return y
        if n_targets == 1 and y.ndim >= 1 and y.shape[-1] == n_rows:
            return y[..., None]
        raise ValueError(
            f"y must have trailing shape ({n_rows}, {n_targets})"
            + (f" or ({n_rows},)" if n_targets == 1 else "")
            + f" to match this distribution of {n_rows} rows; got shape {y.shape}."
        )

    def _mahalanobis(self, y):
        """Squared Mahalanobis distances of targets ``y`` (B, n, dy) to every component,
        (B, n, K)."""
        _, precision_chol, _ = self._factors()
        if not self.shared_covariances:
            diff = y[:, :, None, :] - self.means
            projected = (diff[..., None, :] @ precision_chol)[..., 0, :]
            return np.einsum("bnkd,bnkd->bnk", projected, projected)
        if self._stacked_precision is None:
            # Every component's factor side by side, so one GEMM projects a target onto
            # all of them; the means are projected once, not once per target.
            n_components, n_targets = self.n_components, self.n_targets
            self._stacked_precision = np.swapaxes(precision_chol, 0, 1).reshape(
                n_targets, n_components * n_targets
            )
            self._projected_means = np.einsum("nkd,kde->nke", self.means, precision_chol)
        projected = (y @ self._stacked_precision).reshape(y.shape[:2] + self.means.shape[1:])
        projected -= self._projected_means
        return np.einsum("bnkd,bnkd->bnk", projected, projected)

    def _blocks(self, y):
        """``y`` as (B, n, dy) and slices of B that keep each (b, n, K, dy) projection
        near :data:`_BLOCK_FLOATS` floats."""
        flat = y.reshape((-1,) + y.shape[-2:])
        step = max(1, _BLOCK_FLOATS // (len(self) * self.n_components * self.n_targets))
        return flat, [slice(start, start + step) for start in range(0, len(flat), step)]

    def _component_terms(self, y):
        """``log w_ik + log N(y_i | mu_ik, Sigma_k)`` of targets ``y`` (B, n, dy), (B, n, K)."""
        _, _, log_dets = self._factors()
        return self.log_weights - 0.5 * (self._mahalanobis(y) + log_dets + self.n_targets * LOG_2PI)

    def component_log_prob(self, y):
        """``log w_ik + log N(y_i | mu_ik, Sigma_k)``, shape (..., n, K)."""
        y = self._as_targets(y)
        flat, _ = self._blocks(y)
        return self._component_terms(flat).reshape(y.shape[:-1] + (self.n_components,))

    def log_prob(self, y):
        """Log-density ``log p(y_i | x_i)``.

        Parameters
        ----------
        y : array-like of shape (..., n, dy), or (..., n) when dy == 1
            One target per row; leading axes broadcast, so a grid of
            candidate targets of shape (G, n) evaluates every row at G points.

        Returns
        -------
        log_prob : ndarray of shape (..., n)
        """
        y = self._as_targets(y)
        flat, blocks = self._blocks(y)
        log_prob = np.empty(flat.shape[:2])
        # Block by block: a grid of targets never holds all its (n, K) terms at once.
        for block in blocks:
            log_prob[block] = logsumexp(self._component_terms(flat[block]), axis=-1)
        return log_prob.reshape(y.shape[:-1])

    def pdf(self, y):
        """Density ``p(y_i | x_i)``; see :meth:`log_prob` for shapes."""
        return np.exp(self.log_prob(y))

    def mean(self):
        """Mixture mean ``E[y | x_i] = sum_k w_ik mu_ik``, shape (n, dy)."""
        return np.einsum("nk,nkd->nd", self.weights, self.means)

    def aleatoric_covariance(self):
        """Expected component covariance ``sum_k w_ik Sigma_k``, shape (n, dy, dy)."""
        if self.shared_covariances:
            return np.einsum("nk,kde->nde", self.weights, self.covariances)
        return np.einsum("nk,nkde->nde", self.weights, self.covariances)

    def ambiguity_covariance(self):
        """Spread of the component means, ``sum_k w_ik (mu_ik - m_i)(mu_ik - m_i)^T``."""
        centred = self.means - self.mean()[:, None, :]
        return np.einsum("nk,nkd,nke->nde", self.weights, centred, centred)

    def covariance(self):
        """Total covariance ``Cov[y | x_i]`` (law of total variance), shape (n, dy, dy).

        The sum of :meth:`aleatoric_covariance` (noise within the modes) and
        :meth:`ambiguity_covariance` (disagreement between the modes).
        """
        return self.aleatoric_covariance() + self.ambiguity_covariance()

    def modes(self):
        """Component means and weights per row, ordered by decreasing weight.

        Returns
        -------
        means : ndarray of shape (n, K, dy)
        weights : ndarray of shape (n, K)
        """
        order = np.argsort(-self.weights, axis=1, kind="stable")
        rows = np.arange(len(self))[:, None]
        return self.means[rows, order], self.weights[rows, order]

    def sample(self, n_samples=1, random_state=None):
        """Draw ``n_samples`` targets from each row's mixture.

        Returns
        -------
        samples : ndarray of shape (n, n_samples, dy)
        """
        rng = check_random_state(random_state)
        factor, _, _ = self._factors()
        n_rows, n_components = len(self), self.n_components
        cumulative = np.cumsum(self.weights, axis=1)
        # Each row's cumulative weights shifted by its index: one sorted array, so one
        # searchsorted picks every draw's component (no (n, n_samples, K) comparison).
        offsets = np.arange(n_rows)[:, None]
        shifted = (cumulative / cumulative[:, -1:] + offsets).ravel()
        uniforms = rng.uniform(size=(n_rows, n_samples)) + offsets
        components = np.searchsorted(shifted, uniforms.ravel(), side="right").reshape(
            n_rows, n_samples
        )
        components = np.minimum(components - n_components * offsets, n_components - 1)
        if self.shared_covariances:
            flat_components = (components + n_components * offsets).ravel()
            draws = np.take(self.means.reshape(-1, self.n_targets), flat_components, axis=0)
            # Draws sorted by component, so each factor scales one contiguous block of
            # their noise (the same noise, draw for draw, as with per-row covariances).
            order = np.argsort(components.ravel(), kind="stable")
            bounds = np.searchsorted(components.ravel()[order], np.arange(n_components + 1))
            noise = rng.standard_normal(size=(n_rows, n_samples, self.n_targets))
            noise = np.take(noise.reshape(-1, self.n_targets), order, axis=0)
            scaled = np.empty_like(noise)
            for k in np.flatnonzero(np.diff(bounds)):
                block = slice(bounds[k], bounds[k + 1])
                np.matmul(noise[block], factor[k].T, out=scaled[block])
            # Back to each draw's place by one gather: an indexed += would gather and
            # scatter, several times slower.
            position = np.empty_like(order)
            position[order] = np.arange(len(order))
            draws += np.take(scaled, position, axis=0)
            return draws.reshape(n_rows, n_samples, self.n_targets)
        draws = self.means[offsets, components]
        noise = rng.standard_normal(size=(n_rows, n_samples, self.n_targets))
        # One component at a time: gathering each draw's (dy, dy) factor would hold
        # n * n_samples * dy^2 floats at once.
        for k in np.unique(components):
            chosen = components == k
            some = chosen.any(axis=1)
            scaled = np.einsum("nde,nse->nsd", factor[some, k], noise[some])
            draws[some] += np.where(chosen[some][:, :, None], scaled, 0.0)
        return draws

    # -- the whole distribution -------------------------------------------------------

    def marginal(self, targets):
        """The mixtures of the target dimensions ``targets`` (an index or a list of them).

        A Gaussian mixture's marginal keeps its weights and takes the matching blocks of
        the means and covariances.

        Returns
        -------
        GaussianMixtureDistribution
        """
        index = np.atleast_1d(np.arange(self.n_targets)[targets])
        covariances = self.covariances[..., index[:, None], index]
        return type(self)(
            log_weights=self.log_weights, means=self.means[..., index], covariances=covariances
        )

    def condition(self, given, values, targets=None):
        """The mixture of some columns given values of others, one mixture per row of
        ``values``; a NaN value is not given (that column is marginalised).

        For a joint model over ``z`` (an estimator's :meth:`joint_distribution`, a single
        row) this answers any question of the form ``p(z_T | z_O)``: the targets given
        the contexts, the contexts given the targets (the inverse problem), or some
        columns given whichever others were observed. The result is exact: a Gaussian
        mixture's conditional is a Gaussian mixture, each component conditioned in
        closed form and reweighted by how well it explains the given values ([GMJE]_
        Eq. 102-104, on any subset of the columns).

        Parameters
        ----------
        given : int, slice, array-like of int or of bool
            The columns conditioned on.
        values : array-like of shape (n, len(given)), or (n,) for one given column
            Their values per row; NaN where a value is missing.
        targets : int, slice or array-like, default=None
            The columns whose distribution is returned, in this order; by default every
            column not in ``given``, in increasing order.

        Returns
        -------
        GaussianMixtureDistribution
            ``n`` rows over ``len(targets)`` columns. Its covariances are shared by the
            rows when every row gives the same columns, and per row otherwise.

        Examples
        --------
        >>> import numpy as np
        >>> from skgmje import GaussianMixtureDistribution
        >>> joint = GaussianMixtureDistribution(          # z = (x, y), correlation 0.8
        ...     weights=[[1.0]], means=[[[0.0, 0.0]]], covariances=[[[1.0, 0.8], [0.8, 1.0]]])
        >>> given_x = joint.condition(0, [1.0, np.nan])
        >>> given_x.mean().round(2).ravel(), given_x.covariance().round(2).ravel()
        (array([0.8, 0. ]), array([0.36, 1.  ]))
        """
        given = self._columns(given)
        targets = (
            np.setdiff1d(np.arange(self.n_targets), given)
            if targets is None
            else self._columns(targets)
        )
        if np.intersect1d(given, targets).size:
            raise ValueError(
                "given and targets must not share a column; both hold "
                f"{np.intersect1d(given, targets).tolist()}."
            )
        values = np.asarray(values, dtype=float)
        if values.ndim == 1 and len(given) == 1:
            values = values[:, None]
        if values.ndim != 2 or values.shape[1] != len(given):
            raise ValueError(
                f"values must have shape (n, {len(given)}), one column per given column; "
                f"got {values.shape}."
            )
        if np.isinf(values).any():
            raise ValueError("values must be finite or NaN (missing); got an infinity.")
        parts = self._conditioned_by_pattern(given, values, targets)
        n_rows, n_components = len(values), self.n_components
        log_weights = np.empty((n_rows, n_components))
        means = np.empty((n_rows, n_components, len(targets)))
        covariances = None
        for rows, part in parts:
            log_weights[rows], means[rows] = part[1], part[2]
            if len(parts) == 1:
                covariances = part[3]
            else:
                if covariances is None:
                    covariances = np.empty((n_rows,) + part[3].shape)
                covariances[rows] = part[3]
        return type(self)(log_weights=log_weights, means=means, covariances=covariances)

    def log_prob_observed(self, z):
        """Log-density of the observed entries of each row of ``z``: NaN entries are not
        observed and are marginalised out.

        Parameters
        ----------
        z : array-like of shape (n, n_targets)
            With NaN where a value is missing; a row with nothing observed scores 0.

        Returns
        -------
        log_prob : ndarray of shape (n,)
        """
        z = np.asarray(z, dtype=float)
        if z.ndim != 2 or z.shape[1] != self.n_targets:
            raise ValueError(f"z must have shape (n, {self.n_targets}); got {z.shape}.")
        out = np.empty(len(z))
        columns = np.arange(self.n_targets)
        for rows, part in self._conditioned_by_pattern(columns, z, columns[:0]):
            out[rows] = part[0]
        return out

    def _conditioned_by_pattern(self, given, values, targets):
        """``[(rows, subsets.condition_rows(...)), ...]``, one per pattern of NaN in
        ``values``: the rows' mixtures of ``targets`` given their observed ``given``."""
        self._check_conditionable(len(values))
        return [
            (
                rows,
                subsets.condition_rows(
                    self.log_weights if len(self) == 1 else self.log_weights[rows],
                    self.means if len(self) == 1 else self.means[rows],
                    self.covariances,
                    given[~missing],
                    targets,
                    values[rows][:, ~missing],
                ),
            )
            for missing, rows in subsets.missingness_groups(np.isnan(values))
        ]

    def _columns(self, columns):
        return np.atleast_1d(np.arange(self.n_targets)[columns])

    def _check_conditionable(self, n_rows):
        if not self.shared_covariances:
            raise ValueError(
                "Conditioning on columns needs covariances shared by the rows (a joint "
                "mixture, or the conditional of GJE, GMJE, BayesianGMJE, GMJEGNG or "
                "SMCGMJE); this distribution has per-row covariances."
            )
        if len(self) not in (1, n_rows):
            raise ValueError(
                f"This distribution has {len(self)} rows: give one row of values per row, "
                f"or condition a single mixture; got {n_rows} rows of values."
            )

    def _univariate(self, method):
        if self.n_targets != 1:
            raise ValueError(
                f"{method} needs a one-dimensional target; this distribution has "
                f"{self.n_targets}. Take one dimension first: .marginal(j).{method}(...)."
            )
        return self.log_weights, self.means[..., 0], np.sqrt(self.covariances[..., 0, 0])

    def cdf(self, y):
        """Cumulative distribution ``P(Y_i <= y_i)`` (one-dimensional targets).

        Parameters
        ----------
        y : array-like of shape (..., n) or (..., n, 1)
            As for :meth:`log_prob`: leading axes evaluate every row at several points.

        Returns
        -------
        cdf : ndarray of shape (..., n)
        """
        log_weights, means, scales = self._univariate("cdf")
        y = self._as_targets(y)[..., 0]
        flat = y.reshape(-1, len(self)).T
        return univariate.cdf(flat, log_weights, means, scales).T.reshape(y.shape)

    def ppf(self, q):
        """Quantiles, the inverse of :meth:`cdf` (one-dimensional targets).

        Parameters
        ----------
        q : float or array-like of shape (Q,)
            Probabilities in [0, 1]; 0 and 1 give -inf and inf.

        Returns
        -------
        quantiles : ndarray of shape (n,) for a float ``q``, (n, Q) for an array
        """
        log_weights, means, scales = self._univariate("ppf")
        levels = univariate.check_probabilities(q, "q")
        quantiles = univariate.ppf(np.atleast_1d(levels), log_weights, means, scales)
        return quantiles[:, 0] if levels.ndim == 0 else quantiles

    def interval(self, coverage=0.9):
        """The equal-tailed interval of each row holding ``coverage`` of its mass.

        Returns
        -------
        bounds : ndarray of shape (n, 2)
            ``ppf((1 - coverage) / 2)`` and ``ppf((1 + coverage) / 2)``.
        """
        coverage = univariate.check_coverage(coverage)
        return self.ppf([(1.0 - coverage) / 2.0, (1.0 + coverage) / 2.0])

    def hdr(self, coverage=0.9):
        """The highest-density region holding ``coverage`` of each row's mass (1-D targets).

        The region ``{y : p(y | x_i) >= t_i}`` is the shortest set with that mass; for a
        multimodal row it is a union of disjoint intervals, one per mode it keeps.

        Returns
        -------
        HighestDensityRegion
            ``lower`` and ``upper`` of shape (n, P): the intervals of each row in
            increasing order, padded with NaN (P, at most the number of components, is
            the largest number of intervals of any row); ``threshold`` (n,), the density
            on every boundary. Its ``length()``, ``n_intervals`` and ``contains(y)``
            answer per row.

        Examples
        --------
        >>> from skgmje import GaussianMixtureDistribution
        >>> dist = GaussianMixtureDistribution(
        ...     weights=[[0.5, 0.5]], means=[[[-2.0], [2.0]]], covariances=[[[0.1]], [[0.1]]])
        >>> region = dist.hdr(0.9)
        >>> region.n_intervals, region.lower.round(2), region.upper.round(2)
        (array([2]), array([[-2.52,  1.48]]), array([[-1.48,  2.52]]))
        >>> bool(region.length()[0] < float(np.diff(dist.interval(0.9))[0, 0]))
        True
        """
        log_weights, means, scales = self._univariate("hdr")
        return univariate.hdr(univariate.check_coverage(coverage), log_weights, means, scales)

    def hdr_threshold(self, coverage=0.9, *, n_samples=4000, random_state=None):
        """The density threshold of each row's highest-density region, any target width.

        The region of mass ``c`` is ``{y : p(y | x_i) >= t_i}`` with ``t_i`` the
        ``1 - c`` quantile of ``p(Y | x_i)`` for ``Y`` drawn from the row's mixture,
        estimated here from ``n_samples`` draws per row (for one target, :meth:`hdr`
        gives the region itself, exactly). :meth:`in_hdr` tests membership.

        Returns
        -------
        threshold : ndarray of shape (n,)
        """
        coverage = univariate.check_coverage(coverage)
        draws = self.sample(n_samples, random_state=random_state)
        log_density = self.log_prob(np.swapaxes(draws, 0, 1))
        return np.exp(np.quantile(log_density, 1.0 - coverage, axis=0))

    def in_hdr(self, y, coverage=0.9, *, n_samples=4000, random_state=None):
        """Whether ``y_i`` lies in row ``i``'s highest-density region of mass ``coverage``
        (threshold from :meth:`hdr_threshold`), shape (n,)."""
        threshold = self.hdr_threshold(coverage, n_samples=n_samples, random_state=random_state)
        return self.pdf(y) >= threshold

    def highest_density_level(self, y):
        """The mass of the smallest highest-density region that holds ``y_i``, per row.

        ``P(p(Y | x_i) >= p(y_i | x_i))`` for ``Y`` drawn from row ``i``'s mixture: small
        where ``y_i`` is typical, near 1 in the tails and the gaps between modes. ``y_i``
        lies in :meth:`hdr` of coverage ``c`` exactly when this is at most ``c``.

        Parameters
        ----------
        y : array-like of shape (n,) or (n, 1)

        Returns
        -------
        level : ndarray of shape (n,)
        """
        log_weights, means, scales = self._univariate("highest_density_level")
        y = self._as_targets(y)
        if y.ndim != 2:
            raise ValueError(f"y must hold one target per row; got shape {y.shape}.")
        return univariate.highest_density_level(y[:, 0], log_weights, means, scales)

    def crps(self, y):
        """Continuous ranked probability score of each row at ``y_i`` (1-D targets).

        ``CRPS(F, y) = E|Y - y| - E|Y - Y'| / 2``, in closed form for a Gaussian mixture
        (Grimit et al. 2006); lower is better, in the units of ``y``.

        Parameters
        ----------
        y : array-like of shape (n,) or (n, 1)

        Returns
        -------
        crps : ndarray of shape (n,)
        """
        log_weights, means, scales = self._univariate("crps")
        y = self._as_targets(y)
        if y.ndim != 2:
            raise ValueError(f"y must hold one target per row; got shape {y.shape}.")
        return univariate.crps(y[:, 0], log_weights, means, scales)
