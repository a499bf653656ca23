"""A wider suite of conditional-density problems, each with its exact oracle.

Each ``make_*`` function draws ``(X, y)``; the matching ``*Oracle`` class
gives the true ``log p(y | x)`` (``score_samples``, ``score``), the true
conditional mean (``predict``) and draws from the truth (``sample``), so a
fitted estimator can be compared with the best possible model on held-out
data. They are public through :mod:`skgmje.datasets`.
"""

import numpy as np
from scipy.special import i0e
from sklearn.utils import check_random_state

from .mixture import GaussianMixtureDistribution


def check_count(name, value):
    """Raise a ValueError unless ``value`` is a positive integer; return it."""
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive integer; got {value!r}.")
    return value


def _check_sizes(n_samples, noise):
    check_count("n_samples", n_samples)
    if not noise > 0:
        raise ValueError(f"noise must be > 0; got {noise!r}.")


def draw_branches(branches, x, rng):
    """A branch index uniform over ``branches`` per row, and the branch's value at ``x``."""
    branch = rng.randint(len(branches), size=len(x))
    return branch, np.choose(branch, [f(x) for f in branches])


def equal_branches(branches, x, variances):
    """Equally weighted Gaussians around ``branches`` at ``x``, of one variance or one per row."""
    means = np.stack([branch(x) for branch in branches], axis=1)[:, :, None]
    n_rows, n_branches = means.shape[:2]
    variances = np.asarray(variances, dtype=float)
    if variances.ndim == 0:
        covariances = np.full((n_branches, 1, 1), variances)
    else:
        covariances = np.broadcast_to(variances[:, None, None, None], (n_rows, n_branches, 1, 1))
    return GaussianMixtureDistribution(
        weights=np.full((n_rows, n_branches), 1.0 / n_branches),
        means=means,
        covariances=covariances,
    )


def _contexts(X, n_features):
    X = np.asarray(X, dtype=float)
    if X.ndim != 2 or X.shape[1] != n_features:
        raise ValueError(f"X must have shape (n_samples, {n_features}); got {X.shape}.")
    return X


class _MixtureOracle:
    """The truth as a Gaussian mixture per row: subclasses give ``predict_distribution``."""

    n_features = 1

    def __init__(self, noise=0.1):
        if not noise > 0:
            raise ValueError(f"noise must be > 0; got {noise!r}.")
        self.noise = noise

    def predict(self, X):
        """The true conditional mean ``E[y | x]``, shape (n,)."""
        return self.predict_distribution(X).mean()[:, 0]

    def score_samples(self, X, y):
        """True ``log p(y_i | x_i)``, shape (n,)."""
        return self.predict_distribution(X).log_prob(np.asarray(y, dtype=float).ravel())

    def score(self, X, y):
        """Mean true conditional log-likelihood: the best any model can do in expectation."""
        return float(np.mean(self.score_samples(X, y)))

    def sample(self, X, n_samples=1, random_state=None):
        """Draws from the true ``p(y | x)``, shape (n, n_samples)."""
        return self.predict_distribution(X).sample(n_samples, random_state)[..., 0]


BRANCHES = {
    # Dataset A: three branches that never meet.
    "separated": (
        lambda x: x**2 + 1.5,
        lambda x: 0.5 * np.sin(2.0 * np.pi * x),
        lambda x: -(x**2) - 1.5,
    ),
    # Dataset B: three branches that all cross at the origin.
    "intersecting": (
        lambda x: 2.0 * x,
        lambda x: -2.0 * x,
        lambda x: x**3,
    ),
}
SEPARATED, INTERSECTING = BRANCHES["separated"], BRANCHES["intersecting"]


def heteroscedastic_scale(x, noise):
    """The noise of :func:`make_heteroscedastic_branches` at ``x``: ``noise (1 + 3 |x|)``."""
    return noise * (1.0 + 3.0 * np.abs(x))


class HeteroscedasticBranchesOracle(_MixtureOracle):
    """The true conditional of :func:`make_heteroscedastic_branches`.

    Three equally weighted Gaussians around Dataset A's branches, of standard
    deviation ``noise (1 + 3 |x|)``.

    Parameters
    ----------
    noise : float, default=0.05

    Examples
    --------
    >>> from skgmje.datasets import HeteroscedasticBranchesOracle, make_heteroscedastic_branches
    >>> X, y = make_heteroscedastic_branches(4000, random_state=0)
    >>> round(HeteroscedasticBranchesOracle().score(X, y), 2)
    -0.39
    """

    def __init__(self, noise=0.05):
        super().__init__(noise)

    def predict_distribution(self, X):
        """The true ``p(y | x)`` as a :class:`~skgmje.GaussianMixtureDistribution`."""
        x = _contexts(X, 1)[:, 0]
        return equal_branches(SEPARATED, x, heteroscedastic_scale(x, self.noise) ** 2)


def make_heteroscedastic_branches(n_samples=2000, *, noise=0.05, random_state=None):
    """Dataset A's three branches with noise that grows with ``|x|``.

    ``x ~ U(-1, 1)``, a branch uniform over ``x^2 + 1.5``, ``0.5 sin(2 pi x)``
    and ``-x^2 - 1.5``, plus Gaussian noise of standard deviation
    ``noise (1 + 3 |x|)``: four times wider at the ends than in the middle,
    so a model whose conditional covariance does not depend on ``x`` (a joint
    Gaussian mixture's) must spend components to follow it.

    Parameters
    ----------
    n_samples : int, default=2000
    noise : float, default=0.05
        Standard deviation at ``x = 0``.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
    y : ndarray of shape (n_samples,)

    See Also
    --------
    HeteroscedasticBranchesOracle : the true conditional density.

    Examples
    --------
    >>> from skgmje.datasets import make_heteroscedastic_branches
    >>> X, y = make_heteroscedastic_branches(5, random_state=0)
    >>> X.shape, y.shape
    ((5, 1), (5,))
    """
    _check_sizes(n_samples, noise)
    rng = check_random_state(random_state)
    x = rng.uniform(-1.0, 1.0, size=n_samples)
    _, clean = draw_branches(SEPARATED, x, rng)
    y = clean + heteroscedastic_scale(x, noise) * rng.standard_normal(n_samples)
    return x[:, None], y


class IrrelevantFeaturesOracle(_MixtureOracle):
    """The true conditional of :func:`make_irrelevant_features`: Dataset B's, on the first column.

    Parameters
    ----------
    n_features : int, default=10
    noise : float, default=0.1

    Examples
    --------
    >>> from skgmje.datasets import IrrelevantFeaturesOracle, make_irrelevant_features
    >>> X, y = make_irrelevant_features(4000, random_state=0)
    >>> oracle = IrrelevantFeaturesOracle()
    >>> round(oracle.score(X, y), 2) == round(oracle.score(X[::-1], y[::-1]), 2)
    True
    """

    def __init__(self, n_features=10, noise=0.1):
        super().__init__(noise)
        self.n_features = check_count("n_features", n_features)

    def predict_distribution(self, X):
        """The true ``p(y | x)`` as a :class:`~skgmje.GaussianMixtureDistribution`."""
        return equal_branches(INTERSECTING, _contexts(X, self.n_features)[:, 0], self.noise**2)


def make_irrelevant_features(n_samples=2000, *, n_features=10, noise=0.1, random_state=None):
    """Dataset B in the first of ``n_features`` uniform contexts; the others are irrelevant.

    ``X ~ U(-1, 1)^n_features``; ``y`` is one of ``2 x_0``, ``-2 x_0``,
    ``x_0^3`` (uniformly) plus Gaussian noise. The other columns carry no
    information about ``y``: a model that weighs them all alike spreads its
    components over a ten-dimensional context.

    Parameters
    ----------
    n_samples : int, default=2000
    n_features : int, default=10
    noise : float, default=0.1
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_features)
    y : ndarray of shape (n_samples,)

    See Also
    --------
    IrrelevantFeaturesOracle : the true conditional density.

    Examples
    --------
    >>> from skgmje.datasets import make_irrelevant_features
    >>> X, y = make_irrelevant_features(5, random_state=0)
    >>> X.shape, y.shape
    ((5, 10), (5,))
    """
    _check_sizes(n_samples, noise)
    check_count("n_features", n_features)
    rng = check_random_state(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, n_features))
    _, clean = draw_branches(INTERSECTING, X[:, 0], rng)
    return X, clean + noise * rng.standard_normal(n_samples)


def splitting_branch_values(x):
    """The branches of :func:`make_splitting_branches` and which exist at ``x``: (n, 3) each."""
    values = np.stack([np.zeros_like(x), 2.0 * (x + 1 / 3), -2.0 * (x - 1 / 3)], axis=1)
    active = np.stack([np.ones_like(x, bool), x >= -1 / 3, x >= 1 / 3], axis=1)
    return values, active


class SplittingBranchesOracle(_MixtureOracle):
    """The true conditional of :func:`make_splitting_branches`.

    Equal weights over the branches that exist at ``x`` (one, two or three),
    Gaussian noise of standard deviation ``noise`` around each.

    Parameters
    ----------
    noise : float, default=0.1

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje.datasets import SplittingBranchesOracle
    >>> dist = SplittingBranchesOracle().predict_distribution(np.array([[-0.9], [0.0], [0.9]]))
    >>> (dist.weights > 0).sum(axis=1).tolist()
    [1, 2, 3]
    """

    def predict_distribution(self, X):
        """The true ``p(y | x)`` as a :class:`~skgmje.GaussianMixtureDistribution`."""
        x = _contexts(X, 1)[:, 0]
        values, active = splitting_branch_values(x)
        weights = active / active.sum(axis=1, keepdims=True)
        return GaussianMixtureDistribution(
            weights=weights, means=values[:, :, None], covariances=np.full((3, 1, 1), self.noise**2)
        )


def make_splitting_branches(n_samples=2000, *, noise=0.1, random_state=None):
    """A conditional whose number of modes grows from one to three along ``x``.

    ``x ~ U(-1, 1)``. For ``x < -1/3`` there is one branch, ``y = 0``; at
    ``x = -1/3`` a second splits off, ``y = 2 (x + 1/3)``; at ``x = 1/3`` a
    third, ``y = -2 (x - 1/3)``. Each row picks uniformly among the branches
    that exist at its ``x`` and adds Gaussian noise. A model with a fixed
    number of components per context must switch some off where fewer
    modes exist.

    Parameters
    ----------
    n_samples : int, default=2000
    noise : float, default=0.1
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
    y : ndarray of shape (n_samples,)

    See Also
    --------
    SplittingBranchesOracle : the true conditional density.

    Examples
    --------
    >>> from skgmje.datasets import make_splitting_branches
    >>> X, y = make_splitting_branches(5, random_state=0)
    >>> X.shape, y.shape
    ((5, 1), (5,))
    """
    _check_sizes(n_samples, noise)
    rng = check_random_state(random_state)
    x = rng.uniform(-1.0, 1.0, size=n_samples)
    values, active = splitting_branch_values(x)
    # A uniform pick among the existing branches: the floor of a uniform times their count.
    pick = np.floor(rng.uniform(size=n_samples) * active.sum(axis=1)).astype(int)
    y = values[np.arange(n_samples), pick] + noise * rng.standard_normal(n_samples)
    return x[:, None], y


def ring_centre_and_radius(x):
    """Centre ``(x, 0.5 sin(pi x))`` and radius ``0.6 + 0.3 x`` of the ring at ``x``."""
    return np.stack([x, 0.5 * np.sin(np.pi * x)], axis=1), 0.6 + 0.3 * x


class MovingRingOracle:
    """The true conditional of :func:`make_moving_ring`: a ring blurred by isotropic noise.

    With ``c`` the centre, ``r`` the radius, ``s`` the noise and
    ``rho = |y - c|``, integrating the angle out of ``N(y | c + r u(theta), s^2 I)``
    gives

    ``log p(y | x) = -log(2 pi s^2) - (rho - r)^2 / (2 s^2) + log I0e(rho r / s^2)``,

    ``I0e`` the exponentially scaled modified Bessel function of order 0
    (``scipy.special.i0e``), which keeps the logarithm finite for thin rings.

    Parameters
    ----------
    noise : float, default=0.05

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje.datasets import MovingRingOracle, make_moving_ring
    >>> X, y = make_moving_ring(4000, random_state=0)
    >>> oracle = MovingRingOracle()
    >>> oracle.predict(X[:2]).round(2)   # the ring's centre (x, 0.5 sin(pi x))
    array([[0.1 , 0.15],
           [0.43, 0.49]])
    >>> round(oracle.score(X, y), 2)
    0.29
    """

    def __init__(self, noise=0.05):
        if not noise > 0:
            raise ValueError(f"noise must be > 0; got {noise!r}.")
        self.noise = noise

    def predict(self, X):
        """The true conditional mean ``E[y | x]``, the ring's centre: shape (n, 2)."""
        return ring_centre_and_radius(_contexts(X, 1)[:, 0])[0]

    def score_samples(self, X, y):
        """True ``log p(y_i | x_i)``, shape (n,)."""
        centre, radius = ring_centre_and_radius(_contexts(X, 1)[:, 0])
        y = np.asarray(y, dtype=float)
        if y.shape != centre.shape:
            raise ValueError(f"y must have shape {centre.shape}; got {y.shape}.")
        variance = self.noise**2
        distance = np.linalg.norm(y - centre, axis=1)
        return (
            -np.log(2.0 * np.pi * variance)
            - (distance - radius) ** 2 / (2.0 * variance)
            + np.log(i0e(distance * radius / variance))
        )

    def score(self, X, y):
        """Mean true conditional log-likelihood: the best any model can do in expectation."""
        return float(np.mean(self.score_samples(X, y)))

    def sample(self, X, n_samples=1, random_state=None):
        """Draws from the true ``p(y | x)``, shape (n, n_samples, 2)."""
        centre, radius = ring_centre_and_radius(_contexts(X, 1)[:, 0])
        rng = check_random_state(random_state)
        angles = rng.uniform(0.0, 2.0 * np.pi, size=(len(centre), n_samples))
        on_ring = np.stack([np.cos(angles), np.sin(angles)], axis=-1) * radius[:, None, None]
        return centre[:, None, :] + on_ring + self.noise * rng.standard_normal(on_ring.shape)


def make_moving_ring(n_samples=2000, *, noise=0.05, random_state=None):
    """A 2-D target on a ring whose centre moves and whose radius grows with ``x``.

    ``x ~ U(-1, 1)``, an angle ``theta ~ U(0, 2 pi)``, and
    ``y = c(x) + r(x) (cos theta, sin theta) + N(0, noise^2 I)`` with centre
    ``c(x) = (x, 0.5 sin(pi x))`` and radius ``r(x) = 0.6 + 0.3 x``: the
    conditional is a continuum of modes (a blurred circle), not a few
    branches, so a mixture needs many components to tile it.

    Parameters
    ----------
    n_samples : int, default=2000
    noise : float, default=0.05
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
    y : ndarray of shape (n_samples, 2)

    See Also
    --------
    MovingRingOracle : the true conditional density.

    Examples
    --------
    >>> from skgmje.datasets import make_moving_ring
    >>> X, y = make_moving_ring(5, random_state=0)
    >>> X.shape, y.shape
    ((5, 1), (5, 2))
    """
    _check_sizes(n_samples, noise)
    rng = check_random_state(random_state)
    X = rng.uniform(-1.0, 1.0, size=(n_samples, 1))
    y = MovingRingOracle(noise).sample(X, 1, rng)[:, 0, :]
    return X, y
