"""The conditional Gaussian mixture returned by every estimator's ``predict_distribution``.

Public as :class:`skgmje.GaussianMixtureDistribution` (and ``skgmje.mixture``); it lives
in ``_core`` because the conditioning of a joint mixture builds it.
"""

import numpy as np
from sklearn.utils import check_random_state

from .gaussian import LOG_2PI, cholesky, log_det_from_cholesky, logsumexp, precision_cholesky

__all__ = ["GaussianMixtureDistribution"]


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

    def component_log_prob(self, y):
        """``log w_ik + log N(y_i | mu_ik, Sigma_k)``, shape (..., n, K)."""
        y = self._as_targets(y)
        _, precision_chol, log_dets = self._factors()
        diff = y[..., :, None, :] - self.means
        # Batched matmul reaches BLAS; the equivalent einsum does not.
        if self.shared_covariances:
            projected = np.swapaxes(np.swapaxes(diff, -2, -3) @ precision_chol, -2, -3)
        else:
            projected = (diff[..., None, :] @ precision_chol)[..., 0, :]
        mahalanobis = np.square(projected).sum(axis=-1)
        return self.log_weights - 0.5 * (mahalanobis + log_dets + self.n_targets * LOG_2PI)

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
        return logsumexp(self.component_log_prob(y), axis=-1)

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
        n_rows = len(self)
        cumulative = np.cumsum(self.weights, axis=1)
        uniforms = rng.uniform(size=(n_rows, n_samples)) * cumulative[:, -1:]
        components = np.minimum(
            np.sum(cumulative[:, None, :] <= uniforms[:, :, None], axis=2), self.n_components - 1
        )
        rows = np.arange(n_rows)[:, None]
        noise = rng.standard_normal(size=(n_rows, n_samples, self.n_targets))
        chosen = factor[components] if self.shared_covariances else factor[rows, components]
        return self.means[rows, components] + np.einsum("nsde,nse->nsd", chosen, noise)
