"""Synthetic multi-valued regression problems, with their oracles, and data for the encoders.

Datasets A and B of the GMJE paper ([GMJE]_ Section 5.1) are below; a wider suite (a 2-D ring, noise
that grows with ``|x|``, irrelevant features, a changing number of modes)
lives in ``skgmje._problems`` and is exported here.

``x ~ U(-1, 1)``, a branch ``k`` uniform over three, ``y = f_k(x) + N(0, noise^2)``.
The true conditional ``p(y | x) = (1/3) sum_k N(y | f_k(x), noise^2)`` is known
exactly, so every model can be compared with the best possible score.
"""

import numpy as np
from sklearn.datasets import load_digits
from sklearn.utils import check_random_state

from ._problems import (
    BRANCHES,
    HeteroscedasticBranchesOracle,
    IrrelevantFeaturesOracle,
    MovingRingOracle,
    SplittingBranchesOracle,
    _contexts,
    _MixtureOracle,
    check_count,
    draw_branches,
    equal_branches,
    make_heteroscedastic_branches,
    make_irrelevant_features,
    make_moving_ring,
    make_splitting_branches,
)

__all__ = [
    "BRANCHES",
    "WAVEFORMS",
    "BranchesOracle",
    "HeteroscedasticBranchesOracle",
    "IrrelevantFeaturesOracle",
    "MovingRingOracle",
    "SplittingBranchesOracle",
    "make_heteroscedastic_branches",
    "make_intersecting_branches",
    "make_irrelevant_features",
    "make_moving_ring",
    "make_separated_branches",
    "make_splitting_branches",
    "make_translated_digits",
    "make_waveforms",
]


class BranchesOracle(_MixtureOracle):
    """The true conditional density of a branches data set.

    Offers the prediction side of the skgmje estimator contract
    (``predict_distribution``, ``predict``, ``score_samples``, ``score``,
    ``sample``) for the true model, so a fitted estimator can be compared
    with the best possible one on the same held-out data.

    Parameters
    ----------
    name : {"separated", "intersecting"}
        Dataset A or Dataset B.
    noise : float, default=0.1
        Standard deviation of the Gaussian noise around each branch.

    Examples
    --------
    >>> from skgmje.datasets import BranchesOracle, make_intersecting_branches
    >>> X, y = make_intersecting_branches(n_samples=5000, random_state=0)
    >>> oracle = BranchesOracle("intersecting")
    >>> round(-oracle.score(X, y), 1)   # NLL of the true model, in nats
    0.1
    """

    def __init__(self, name, noise=0.1):
        if name not in BRANCHES:
            raise ValueError(f"name must be one of {sorted(BRANCHES)}; got {name!r}.")
        super().__init__(noise)
        self.name = name

    def branch_means(self, X):
        """``f_k(x)`` for every row and branch, shape (n, 3)."""
        x = _contexts(X, 1)[:, 0]
        return np.stack([branch(x) for branch in BRANCHES[self.name]], axis=1)

    def predict_distribution(self, X):
        """The true ``p(y | x)``: three equally weighted Gaussians around the branches."""
        return equal_branches(BRANCHES[self.name], _contexts(X, 1)[:, 0], self.noise**2)


def _make_branches(name, n_samples, noise, random_state, return_branch):
    check_count("n_samples", n_samples)
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}.")
    rng = check_random_state(random_state)
    x = rng.uniform(-1.0, 1.0, size=n_samples)
    branch, clean = draw_branches(BRANCHES[name], x, rng)
    y = clean + noise * rng.standard_normal(n_samples)
    X = x[:, None]
    return (X, y, branch) if return_branch else (X, y)


def make_separated_branches(n_samples=1000, *, noise=0.1, random_state=None, return_branch=False):
    """Dataset A of the GMJE paper ([GMJE]_ Section 5.1): three branches that never meet.

    ``f1 = x^2 + 1.5``, ``f2 = 0.5 sin(2 pi x)``, ``f3 = -x^2 - 1.5``.

    Parameters
    ----------
    n_samples : int, default=1000
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the branch value.
    random_state : int, RandomState instance or None, default=None
    return_branch : bool, default=False
        Also return the index (0, 1, 2) of the branch each sample came from.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        Contexts, uniform on (-1, 1).
    y : ndarray of shape (n_samples,)
    branch : ndarray of shape (n_samples,)
        Only with ``return_branch=True``.

    See Also
    --------
    BranchesOracle : the true conditional density, ``BranchesOracle("separated", noise)``.

    Examples
    --------
    >>> from skgmje.datasets import make_separated_branches
    >>> X, y = make_separated_branches(n_samples=5, random_state=0)
    >>> X.shape, y.shape
    ((5, 1), (5,))
    """
    return _make_branches("separated", n_samples, noise, random_state, return_branch)


def make_intersecting_branches(
    n_samples=1000, *, noise=0.1, random_state=None, return_branch=False
):
    """Dataset B of the GMJE paper ([GMJE]_ Section 5.1): three branches that all cross at 0.

    ``f1 = 2x``, ``f2 = -2x``, ``f3 = x^3``.

    Parameters
    ----------
    n_samples : int, default=1000
    noise : float, default=0.1
        Standard deviation of the Gaussian noise added to the branch value.
    random_state : int, RandomState instance or None, default=None
    return_branch : bool, default=False
        Also return the index (0, 1, 2) of the branch each sample came from.

    Returns
    -------
    X : ndarray of shape (n_samples, 1)
        Contexts, uniform on (-1, 1).
    y : ndarray of shape (n_samples,)
    branch : ndarray of shape (n_samples,)
        Only with ``return_branch=True``.

    See Also
    --------
    BranchesOracle : the true conditional density, ``BranchesOracle("intersecting", noise)``.

    Examples
    --------
    >>> from skgmje.datasets import make_intersecting_branches
    >>> X, y = make_intersecting_branches(n_samples=5, random_state=0)
    >>> X.shape, y.shape
    ((5, 1), (5,))
    """
    return _make_branches("intersecting", n_samples, noise, random_state, return_branch)


def make_translated_digits(canvas=14, noise=0.05, random_state=None):
    """The 8x8 digits of scikit-learn, each pasted at a random place of a larger canvas.

    Each image of :func:`sklearn.datasets.load_digits`, its pixels scaled from
    ``0..16`` to ``[0, 1]``, is placed at a uniformly random position (top-left
    corner uniform over the ``(canvas - 7)^2`` positions that keep it inside)
    on a ``canvas x canvas`` canvas of zeros, then Gaussian noise of standard
    deviation ``noise`` is added to every pixel (values are not clipped). Raw
    pixels no longer line up across images, so a linear probe on them does
    poorly (the SSL benchmark's "raw features" row, on the Benchmarks page): a
    test of whether a representation learns translation invariance.

    Parameters
    ----------
    canvas : int, default=14
        Side of the canvas, at least 8.
    noise : float, default=0.05
        Standard deviation of the pixel noise; 0 leaves the digits exact.
    random_state : int, RandomState instance or None, default=None
        Seeds the positions and the noise (positions are drawn first, so one
        seed places the digits the same way whatever the noise).

    Returns
    -------
    X : ndarray of shape (1797, canvas * canvas)
        Flat images, row by row.
    y : ndarray of shape (1797,)
        The digit labels, 0 to 9, in the order of ``load_digits``.

    Examples
    --------
    >>> from skgmje.datasets import make_translated_digits
    >>> X, y = make_translated_digits(canvas=14, noise=0.0, random_state=0)
    >>> X.shape, y.shape
    ((1797, 196), (1797,))
    >>> float(X.min()), float(X.max())
    (0.0, 1.0)
    """
    if not isinstance(canvas, (int, np.integer)) or canvas < 8:
        raise ValueError(f"canvas must be an integer >= 8; got {canvas!r}.")
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}.")
    rng = check_random_state(random_state)
    digits = load_digits()
    images = digits.images / 16.0
    n_images, side = len(images), images.shape[1]
    tops, lefts = rng.randint(canvas - side + 1, size=(2, n_images))
    rows = tops[:, None] + np.arange(side)
    columns = lefts[:, None] + np.arange(side)
    X = np.zeros((n_images, canvas, canvas))
    X[np.arange(n_images)[:, None, None], rows[:, :, None], columns[:, None, :]] = images
    X += noise * rng.standard_normal(X.shape)
    return X.reshape(n_images, canvas * canvas), digits.target


WAVEFORMS = ("sine", "square", "triangle", "sawtooth")


def _waveform(name, phase):
    """One period-1 waveform of unit amplitude at ``phase`` (in cycles)."""
    cycle = np.mod(phase, 1.0)
    if name == "sine":
        return np.sin(2.0 * np.pi * cycle)
    if name == "square":
        return np.where(cycle < 0.5, 1.0, -1.0)
    if name == "triangle":
        return 4.0 * np.abs(cycle - 0.5) - 1.0
    return 2.0 * cycle - 1.0


def make_waveforms(
    n_samples=2000,
    *,
    n_timesteps=128,
    cycles=(2.0, 5.0),
    amplitude=(0.5, 2.0),
    noise=0.3,
    random_state=None,
):
    """Windows of four periodic waveforms, randomly shifted, stretched, scaled and noised.

    Each window is one of ``"sine"``, ``"square"``, ``"triangle"`` and
    ``"sawtooth"`` (:data:`WAVEFORMS`, classes 0 to 3 in turn), with a
    number of cycles per window drawn uniformly in ``cycles`` (the time
    stretch), a phase uniform over the period (the shift), an amplitude
    log-uniform in ``amplitude``, plus Gaussian noise of standard deviation
    ``noise``. The class lies in the shape of a cycle alone, and averaged over
    the phase every waveform is zero at every step, so a linear model on the
    raw steps does little better than chance: a test of whether a
    representation learns shift, stretch and scale invariance (the
    ``augment="signal"`` of :class:`~skgmje.JointEmbedding`). Nothing is
    downloaded.

    Parameters
    ----------
    n_samples : int, default=2000
        Windows, classes in turn (so the classes are balanced).
    n_timesteps : int, default=128
        Steps per window.
    cycles : tuple of two float, default=(2.0, 5.0)
        Range of the number of periods in a window.
    amplitude : tuple of two positive float, default=(0.5, 2.0)
        Range of the amplitude.
    noise : float, default=0.3
        Standard deviation of the additive noise; 0 leaves the waveforms exact.
    random_state : int, RandomState instance or None, default=None

    Returns
    -------
    X : ndarray of shape (n_samples, n_timesteps)
    y : ndarray of shape (n_samples,)
        The class, an index into :data:`WAVEFORMS`.

    Examples
    --------
    >>> from skgmje.datasets import make_waveforms
    >>> X, y = make_waveforms(8, n_timesteps=64, noise=0.0, random_state=0)
    >>> X.shape, y.tolist()
    ((8, 64), [0, 1, 2, 3, 0, 1, 2, 3])
    >>> float(abs(X).max()) <= 2.0
    True
    """
    check_count("n_samples", n_samples)
    if not isinstance(n_timesteps, (int, np.integer)) or n_timesteps < 2:
        raise ValueError(f"n_timesteps must be an integer >= 2; got {n_timesteps!r}.")
    low_cycles, high_cycles = cycles
    if not 0 < low_cycles <= high_cycles:
        raise ValueError(
            f"cycles must be a range (low, high) with 0 < low <= high; got {cycles!r}."
        )
    low_amplitude, high_amplitude = amplitude
    if not 0 < low_amplitude <= high_amplitude:
        raise ValueError(
            f"amplitude must be a range (low, high) with 0 < low <= high; got {amplitude!r}."
        )
    if not noise >= 0:
        raise ValueError(f"noise must be >= 0; got {noise!r}.")
    rng = check_random_state(random_state)
    y = np.arange(n_samples) % len(WAVEFORMS)
    n_cycles = rng.uniform(low_cycles, high_cycles, size=n_samples)
    phases = rng.uniform(0.0, 1.0, size=n_samples)
    amplitudes = np.exp(rng.uniform(np.log(low_amplitude), np.log(high_amplitude), size=n_samples))
    time = np.arange(n_timesteps) / n_timesteps
    X = np.empty((n_samples, n_timesteps))
    for label, name in enumerate(WAVEFORMS):
        rows = y == label
        X[rows] = _waveform(name, n_cycles[rows, None] * time + phases[rows, None])
    X *= amplitudes[:, None]
    X += noise * rng.standard_normal(X.shape)
    return X, y
