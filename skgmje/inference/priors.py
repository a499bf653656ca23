"""Priors over simulator parameters, and one NumPy face for any prior a user brings.

A prior here is anything with ``sample`` and ``log_prob``: the two classes below, a
``torch.distributions`` object (so ``sbi``'s ``BoxUniform`` and its ``MultipleIndependent``
work unchanged), or a frozen ``scipy.stats`` distribution (``rvs`` and ``logpdf``).
:func:`as_prior` wraps each so the rest of :mod:`skgmje.inference` sees NumPy arrays of
shape (n, d) and a log-density of ``-inf`` outside the support.
"""

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

__all__ = ["BoxUniform", "GaussianPrior", "as_prior"]


def _as_rows(theta, n_dims):
    theta = np.asarray(theta, dtype=float)
    if theta.ndim == 1 and n_dims == 1:
        theta = theta[:, None]
    theta = np.atleast_2d(theta)
    if theta.shape[-1] != n_dims:
        raise ValueError(f"Parameters must have {n_dims} columns; got shape {theta.shape}.")
    return theta


class BoxUniform:
    """Independent uniform priors on ``[low_j, high_j]``, the simulation-based-inference default.

    Parameters
    ----------
    low, high : array-like of shape (d,)
        The bounds of each parameter; ``low < high`` everywhere.

    Attributes
    ----------
    n_dims : int
    bounded : bool
        True: a posterior estimated under this prior is truncated to the box.

    Examples
    --------
    >>> from skgmje.inference import BoxUniform
    >>> prior = BoxUniform(low=[-1.0, 0.0], high=[1.0, 4.0])
    >>> prior.sample(3, random_state=0).shape
    (3, 2)
    >>> prior.log_prob([[0.0, 1.0], [2.0, 1.0]]).round(4).tolist()
    [-2.0794, -inf]
    """

    bounded = True

    def __init__(self, low, high):
        self.low = np.atleast_1d(np.asarray(low, dtype=float))
        self.high = np.atleast_1d(np.asarray(high, dtype=float))
        if self.low.shape != self.high.shape or self.low.ndim != 1:
            raise ValueError(
                f"low and high must be 1-D of the same length; got {self.low.shape} and "
                f"{self.high.shape}."
            )
        if not np.all(np.isfinite(self.low) & np.isfinite(self.high) & (self.low < self.high)):
            raise ValueError("Every bound must be finite with low < high.")
        self.n_dims = len(self.low)

    def sample(self, n_samples=1, random_state=None):
        """Draw ``n_samples`` parameter vectors, shape (n_samples, d)."""
        rng = check_random_state(random_state)
        return self.low + (self.high - self.low) * rng.uniform(size=(n_samples, self.n_dims))

    def contains(self, theta):
        """Whether each row lies in the box (bounds included), shape (n,)."""
        theta = _as_rows(theta, self.n_dims)
        return np.all((theta >= self.low) & (theta <= self.high), axis=1)

    def log_prob(self, theta):
        """Log-density of each row: ``-sum log(high - low)`` inside, ``-inf`` outside."""
        inside = self.contains(theta)
        return np.where(inside, -np.sum(np.log(self.high - self.low)), -np.inf)

    def __repr__(self):
        return f"BoxUniform(low={self.low.tolist()}, high={self.high.tolist()})"


class GaussianPrior:
    """A multivariate normal prior ``N(mean, covariance)``.

    Parameters
    ----------
    mean : array-like of shape (d,)
    covariance : array-like of shape (d, d), or of shape (d,) for a diagonal, or a float

    Attributes
    ----------
    n_dims : int
    bounded : bool
        False: the support is everything, so nothing is truncated.

    Examples
    --------
    >>> from skgmje.inference import GaussianPrior
    >>> prior = GaussianPrior(mean=[0.0, 0.0], covariance=1.0)
    >>> prior.sample(4, random_state=0).shape
    (4, 2)
    >>> round(float(prior.log_prob([[0.0, 0.0]])[0]), 4)
    -1.8379
    """

    bounded = False

    def __init__(self, mean, covariance=1.0):
        self.mean = np.atleast_1d(np.asarray(mean, dtype=float))
        self.n_dims = len(self.mean)
        covariance = np.asarray(covariance, dtype=float)
        if covariance.ndim == 0:
            covariance = covariance * np.eye(self.n_dims)
        elif covariance.ndim == 1:
            covariance = np.diag(covariance)
        if covariance.shape != (self.n_dims, self.n_dims):
            raise ValueError(
                f"covariance must be (d, d) with d = {self.n_dims}; got {covariance.shape}."
            )
        self.covariance = covariance
        self._distribution = stats.multivariate_normal(self.mean, covariance)

    def sample(self, n_samples=1, random_state=None):
        """Draw ``n_samples`` parameter vectors, shape (n_samples, d)."""
        rng = check_random_state(random_state)
        return self._distribution.rvs(size=n_samples, random_state=rng).reshape(
            n_samples, self.n_dims
        )

    def contains(self, theta):
        """Every finite row: the support is the whole space, shape (n,)."""
        return np.all(np.isfinite(_as_rows(theta, self.n_dims)), axis=1)

    def log_prob(self, theta):
        """Log-density of each row, shape (n,)."""
        theta = _as_rows(theta, self.n_dims)
        return np.atleast_1d(self._distribution.logpdf(theta))

    def __repr__(self):
        return f"GaussianPrior(mean={self.mean.tolist()}, covariance=...)"


class _TorchPrior:
    """A ``torch.distributions`` prior seen through NumPy (``sbi``'s priors are these)."""

    bounded = None

    def __init__(self, prior):
        import torch

        self.prior = prior
        self._torch = torch
        draw = prior.sample((1,))
        self._dtype = draw.dtype
        self.n_dims = int(np.prod(draw.shape[1:])) if draw.ndim > 1 else 1

    def sample(self, n_samples=1, random_state=None):
        torch = self._torch
        seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(int(seed))
            draws = self.prior.sample((n_samples,))
        return draws.detach().cpu().numpy().astype(float).reshape(n_samples, self.n_dims)

    def contains(self, theta):
        torch = self._torch
        theta = torch.as_tensor(_as_rows(theta, self.n_dims), dtype=self._dtype)
        inside = self.prior.support.check(theta)
        if inside.ndim > 1:
            inside = inside.all(dim=-1)
        return inside.cpu().numpy().astype(bool)

    def log_prob(self, theta):
        torch = self._torch
        theta = _as_rows(theta, self.n_dims)
        inside = self.contains(theta)
        log_prob = np.full(len(theta), -np.inf)
        if inside.any():
            with torch.no_grad():
                values = self.prior.log_prob(torch.as_tensor(theta[inside], dtype=self._dtype))
            log_prob[inside] = values.reshape(int(inside.sum()), -1).sum(-1).double().numpy()
        return log_prob


class _ScipyPrior:
    """A frozen ``scipy.stats`` distribution (``rvs``, ``logpdf``) seen as a prior."""

    bounded = None

    def __init__(self, prior):
        self.prior = prior
        self.n_dims = int(np.size(prior.rvs(random_state=0)))

    def sample(self, n_samples=1, random_state=None):
        draws = self.prior.rvs(size=n_samples, random_state=check_random_state(random_state))
        return np.asarray(draws, dtype=float).reshape(n_samples, self.n_dims)

    def log_prob(self, theta):
        theta = _as_rows(theta, self.n_dims)
        values = self.prior.logpdf(theta if self.n_dims > 1 else theta[:, 0])
        return np.atleast_1d(np.asarray(values, dtype=float)).reshape(len(theta))

    def contains(self, theta):
        return self.log_prob(theta) > -np.inf


class _CallablePrior:
    """Any object with ``sample(n)`` and ``log_prob(theta)`` returning array-likes."""

    bounded = None

    def __init__(self, prior):
        self.prior = prior
        self.n_dims = int(np.asarray(prior.sample(1)).reshape(1, -1).shape[1])

    def sample(self, n_samples=1, random_state=None):
        try:
            draws = self.prior.sample(n_samples, random_state=random_state)
        except TypeError:
            draws = self.prior.sample(n_samples)
        return np.asarray(draws, dtype=float).reshape(n_samples, self.n_dims)

    def log_prob(self, theta):
        theta = _as_rows(theta, self.n_dims)
        return np.asarray(self.prior.log_prob(theta), dtype=float).reshape(len(theta))

    def contains(self, theta):
        return self.log_prob(theta) > -np.inf


def as_prior(prior):
    """The NumPy face of ``prior``: ``sample(n, random_state)`` (n, d), ``log_prob``, ``contains``.

    Parameters
    ----------
    prior : BoxUniform, GaussianPrior, torch distribution, frozen scipy.stats distribution,
        or any object with ``sample`` and ``log_prob``

    Returns
    -------
    prior
        ``prior`` itself for the classes of this module; a wrapper otherwise, whose
        ``bounded`` is None (not known: whether a posterior is truncated is then
        estimated from draws).

    Raises
    ------
    TypeError
        For an object that has neither ``sample``/``log_prob`` nor ``rvs``/``logpdf``.
    """
    if isinstance(prior, (BoxUniform, GaussianPrior, _TorchPrior, _ScipyPrior, _CallablePrior)):
        return prior
    module = type(prior).__module__ or ""
    if module.startswith(("torch.", "sbi.")) and hasattr(prior, "support"):
        return _TorchPrior(prior)
    if hasattr(prior, "rvs") and hasattr(prior, "logpdf"):
        return _ScipyPrior(prior)
    if hasattr(prior, "sample") and hasattr(prior, "log_prob"):
        return _CallablePrior(prior)
    raise TypeError(
        f"A prior needs sample() and log_prob() (or rvs() and logpdf()); got {prior!r}. "
        "Use skgmje.inference.BoxUniform or GaussianPrior, a torch distribution, or a "
        "frozen scipy.stats distribution."
    )
