"""Simulators whose posteriors are known exactly, for testing posterior estimators.

Each task has a ``prior``, ``simulate(theta, random_state)`` and
``reference_posterior(x_o, n_samples, random_state)``, an exact sampler of the true
posterior (no MCMC, so a reference cannot be wrong by not mixing):

- :class:`LinearGaussian`: ``x = theta + noise``, ``theta`` uniform on a box in 10
  dimensions; the posterior is a normal truncated to the box, coordinate by coordinate.
- :class:`TwoMoons`: the two-moons task of Greenberg et al. (2019) and ``sbibm``; a
  crescent-shaped posterior with two modes.
- :class:`FourModes`: ``x = A (|theta_1|, |theta_2|, theta_3, ..., theta_5) + noise`` in 8
  dimensions under a standard normal prior: the signs of two parameters are lost, so the
  posterior has four modes, mirror images of one Gaussian.
"""

import numpy as np
from scipy import stats
from sklearn.utils import check_random_state

from .priors import BoxUniform, GaussianPrior

__all__ = ["FourModes", "LinearGaussian", "TwoMoons"]


def _observation(x_o, n_features):
    x_o = np.asarray(x_o, dtype=float).reshape(-1)
    if len(x_o) != n_features:
        raise ValueError(f"x_o must have {n_features} entries; got {len(x_o)}.")
    return x_o


class LinearGaussian:
    """``x = theta + N(0, noise^2 I)`` with ``theta`` uniform on ``[-1, 1]^d``.

    Parameters
    ----------
    n_dims : int, default=10
    noise : float, default=0.1

    Attributes
    ----------
    prior : BoxUniform
    n_dims, n_features : int
        Parameters and observation entries.
    name : str

    Examples
    --------
    >>> from skgmje.inference.tasks import LinearGaussian
    >>> task = LinearGaussian()
    >>> theta = task.prior.sample(3, random_state=0)
    >>> task.simulate(theta, random_state=0).shape
    (3, 10)
    >>> task.reference_posterior(task.simulate(theta[:1], random_state=0)[0], 5).shape
    (5, 10)
    """

    name = "linear_gaussian"

    def __init__(self, n_dims=10, noise=0.1):
        self.n_dims = n_dims
        self.n_features = n_dims
        self.noise = noise
        self.prior = BoxUniform(low=-np.ones(n_dims), high=np.ones(n_dims))

    def simulate(self, theta, random_state=None):
        """Observations of the rows of ``theta`` (n, d), one simulation each, (n, n_features)."""
        rng = check_random_state(random_state)
        theta = np.asarray(theta, dtype=float)
        return theta + self.noise * rng.standard_normal(theta.shape)

    def reference_posterior(self, x_o, n_samples=10_000, random_state=None):
        """``n_samples`` exact draws of ``p(theta | x_o)``, shape (n_samples, d)."""
        x_o = _observation(x_o, self.n_features)
        lower, upper = (-1.0 - x_o) / self.noise, (1.0 - x_o) / self.noise
        return stats.truncnorm.rvs(
            lower,
            upper,
            loc=x_o,
            scale=self.noise,
            size=(n_samples, self.n_dims),
            random_state=check_random_state(random_state),
        )


class TwoMoons:
    """The two-moons task: a crescent posterior with two modes, ``theta`` in ``[-1, 1]^2``.

    ``a ~ U(-pi/2, pi/2)``, ``r ~ N(0.1, 0.01^2)``, ``p = (r cos a + 0.25, r sin a)`` and
    ``x = p + (-|theta_1 + theta_2| / sqrt 2, (-theta_1 + theta_2) / sqrt 2)``. The map
    from ``theta`` to the shift is a rotation on each side of ``theta_1 + theta_2 = 0``,
    so the posterior is the crescent's law pulled back through both branches: drawing
    ``p``, a branch, and keeping draws inside the prior samples it exactly.

    Attributes
    ----------
    prior : BoxUniform
    n_dims, n_features : int
        Parameters and observation entries.
    name : str

    Examples
    --------
    >>> from skgmje.inference.tasks import TwoMoons
    >>> task = TwoMoons()
    >>> x_o = task.simulate([[0.3, 0.4]], random_state=0)[0]
    >>> draws = task.reference_posterior(x_o, 2000, random_state=0)
    >>> draws.shape, bool((draws.sum(axis=1) > 0).any() and (draws.sum(axis=1) < 0).any())
    ((2000, 2), True)
    """

    name = "two_moons"
    n_dims = 2
    n_features = 2

    def __init__(self):
        self.prior = BoxUniform(low=[-1.0, -1.0], high=[1.0, 1.0])

    @staticmethod
    def _crescent(n_samples, rng):
        angle = rng.uniform(-np.pi / 2, np.pi / 2, size=n_samples)
        radius = 0.1 + 0.01 * rng.standard_normal(n_samples)
        return np.column_stack([radius * np.cos(angle) + 0.25, radius * np.sin(angle)])

    def simulate(self, theta, random_state=None):
        """Observations of the rows of ``theta`` (n, d), one simulation each, (n, n_features)."""
        rng = check_random_state(random_state)
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        shift = np.column_stack(
            [-np.abs(theta[:, 0] + theta[:, 1]), -theta[:, 0] + theta[:, 1]]
        ) / np.sqrt(2.0)
        return self._crescent(len(theta), rng) + shift

    def reference_posterior(self, x_o, n_samples=10_000, random_state=None):
        """``n_samples`` exact draws of ``p(theta | x_o)``, shape (n_samples, d)."""
        rng = check_random_state(random_state)
        x_o = _observation(x_o, self.n_features)
        kept, count = [], 0
        while count < n_samples:
            shift = (x_o - self._crescent(4 * n_samples, rng)) * np.sqrt(2.0)
            total = np.abs(shift[:, 0]) * rng.choice([-1.0, 1.0], size=len(shift))
            # -|t1 + t2| = shift_0 needs shift_0 <= 0; t2 - t1 = shift_1.
            theta = np.column_stack([(total - shift[:, 1]) / 2, (total + shift[:, 1]) / 2])
            theta = theta[(shift[:, 0] <= 0) & self.prior.contains(theta)]
            kept.append(theta)
            count += len(theta)
        return np.vstack(kept)[:n_samples]


class FourModes:
    """``x = A (|theta_1|, |theta_2|, theta_3, theta_4, theta_5) + N(0, noise^2 I_8)``.

    ``theta ~ N(0, I_5)`` and ``A`` a fixed (8, 5) matrix. Writing ``phi`` for the folded
    vector, the prior on ``phi`` is the standard normal restricted to ``phi_1, phi_2 >= 0``
    (times 4), so the posterior of ``phi`` is the linear-Gaussian one restricted alike,
    and ``theta`` takes each of the four sign patterns of its first two coordinates with
    equal probability: four modes, separated when ``|theta_1|`` and ``|theta_2|`` are
    large against the posterior's spread.

    Parameters
    ----------
    noise : float, default=0.1
    random_state : int, default=0
        Fixes ``A``.

    Attributes
    ----------
    prior : GaussianPrior
    n_dims, n_features : int
        Parameters and observation entries.
    name : str

    matrix : ndarray of shape (8, 5)
        ``A``.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje.inference.tasks import FourModes
    >>> task = FourModes()
    >>> x_o = task.simulate([[1.5, -1.0, 0.2, 0.0, -0.5]], random_state=0)[0]
    >>> draws = task.reference_posterior(x_o, 4000, random_state=0)
    >>> signs = {tuple(s) for s in np.sign(draws[:, :2]).astype(int).tolist()}
    >>> sorted(signs)
    [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    """

    name = "four_modes"
    n_dims = 5
    n_features = 8

    def __init__(self, noise=0.1, random_state=0):
        self.noise = noise
        self.random_state = random_state
        self.matrix = check_random_state(random_state).standard_normal((8, 5)) / np.sqrt(5.0)
        self.prior = GaussianPrior(mean=np.zeros(5), covariance=1.0)

    def simulate(self, theta, random_state=None):
        """Observations of the rows of ``theta`` (n, d), one simulation each, (n, n_features)."""
        rng = check_random_state(random_state)
        theta = np.atleast_2d(np.asarray(theta, dtype=float))
        folded = np.column_stack([np.abs(theta[:, :2]), theta[:, 2:]])
        return folded @ self.matrix.T + self.noise * rng.standard_normal((len(theta), 8))

    def reference_posterior(self, x_o, n_samples=10_000, random_state=None):
        """``n_samples`` exact draws of ``p(theta | x_o)``, shape (n_samples, d)."""
        rng = check_random_state(random_state)
        x_o = _observation(x_o, self.n_features)
        precision = np.eye(5) + self.matrix.T @ self.matrix / self.noise**2
        factor = np.linalg.cholesky(precision)
        mean = np.linalg.solve(precision, self.matrix.T @ x_o / self.noise**2)
        kept, count = [], 0
        while count < n_samples:
            noise = rng.standard_normal((4 * n_samples, 5))
            # phi = mean + L^-T z has covariance (L L^T)^-1, the posterior's.
            phi = mean + np.linalg.solve(factor.T, noise.T).T
            phi = phi[(phi[:, 0] >= 0) & (phi[:, 1] >= 0)]
            kept.append(phi)
            count += len(phi)
        phi = np.vstack(kept)[:n_samples]
        signs = rng.choice([-1.0, 1.0], size=(n_samples, 2))
        return np.column_stack([phi[:, :2] * signs, phi[:, 2:]])
