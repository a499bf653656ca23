"""Pictures of predicted distributions (matplotlib, the ``examples`` extra).

- :func:`plot_conditional_density`: ``p(y | x)`` at chosen contexts, the highest-density
  region shaded beneath each curve;
- :func:`plot_density_map`: ``p(y | x)`` over a range of one-dimensional ``x`` as an image,
  with the data and the edges of the highest-density region;
- :func:`plot_pit_histogram` and :func:`plot_calibration_curve`: whether the predicted
  distributions are calibrated on held-out rows;
- :func:`plot_sbc_ranks` and :func:`plot_expected_coverage`: whether a posterior
  estimated from simulations is (:mod:`skgmje.inference`).

Each function draws on ``ax`` (a new figure's axes when None) and returns it.
"""

import numpy as np

from .metrics import calibration_curve, pit

__all__ = [
    "plot_calibration_curve",
    "plot_conditional_density",
    "plot_density_map",
    "plot_expected_coverage",
    "plot_pit_histogram",
    "plot_sbc_ranks",
]


def _axes(ax):
    if ax is not None:
        return ax
    try:
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise ImportError(
            'skgmje.plotting needs matplotlib: pip install "skgmje[examples]".'
        ) from error
    return plt.figure().add_subplot()


def _grid(distribution, n_points):
    """Target values spanning every row's 0.1% to 99.9% quantiles."""
    bounds = distribution.ppf([0.001, 0.999])
    return np.linspace(bounds[:, 0].min(), bounds[:, 1].max(), n_points)


def plot_conditional_density(estimator, x, *, coverage=0.9, n_points=400, ax=None):
    """``p(y | x)`` at each context of ``x``, with its highest-density region shaded.

    Parameters
    ----------
    estimator : fitted skgmje estimator of one target
    x : array-like of shape (n_contexts, n_features)
        A few contexts, one curve each.
    coverage : float, default=0.9
        The mass of the shaded region.
    n_points : int, default=400
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from skgmje import GMJE
    >>> from skgmje.datasets import make_intersecting_branches
    >>> from skgmje.plotting import plot_conditional_density
    >>> X, y = make_intersecting_branches(n_samples=1000, random_state=0)
    >>> ax = plot_conditional_density(GMJE(n_components=8, random_state=0).fit(X, y), [[0.5]])
    >>> len(ax.lines)
    1
    """
    ax = _axes(ax)
    x = np.asarray(x, dtype=float)
    distribution = estimator.predict_distribution(x)
    values = _grid(distribution, n_points)
    density = distribution.pdf(np.repeat(values[:, None], len(distribution), axis=1))
    region = distribution.hdr(coverage)
    for row in range(len(distribution)):
        (line,) = ax.plot(values, density[:, row], label=f"x = {np.ravel(x[row]).tolist()}")
        inside = np.any(
            (region.lower[row][:, None] <= values) & (values <= region.upper[row][:, None]), axis=0
        )
        ax.fill_between(
            values, 0, density[:, row], where=inside, color=line.get_color(), alpha=0.25
        )
    ax.set_xlabel("y")
    ax.set_ylabel("p(y | x)")
    ax.set_title(f"Conditional densities, {coverage:.0%} highest-density regions shaded")
    ax.legend()
    return ax


def plot_density_map(estimator, X, y=None, *, coverage=0.9, n_points=200, ax=None):
    """``p(y | x)`` over the range of a one-dimensional ``X`` as an image, with the data
    and the edges of the highest-density region of each column.

    Parameters
    ----------
    estimator : fitted skgmje estimator of one context and one target
    X : array-like of shape (n_samples, 1)
        Sets the range of ``x``; drawn with ``y`` when given.
    y : array-like of shape (n_samples,), default=None
    coverage : float, default=0.9
    n_points : int, default=200
        Grid points along each axis.
    ax : matplotlib Axes, default=None

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    X = np.asarray(X, dtype=float)
    xs = np.linspace(X[:, 0].min(), X[:, 0].max(), n_points)
    distribution = estimator.predict_distribution(xs[:, None])
    ys = _grid(distribution, n_points)
    density = distribution.pdf(np.repeat(ys[:, None], n_points, axis=1))
    ax.imshow(
        density,
        origin="lower",
        aspect="auto",
        extent=(xs[0], xs[-1], ys[0], ys[-1]),
        cmap="Greys",
    )
    if y is not None:
        ax.scatter(X[:, 0], np.ravel(y), s=2, color="tab:blue", alpha=0.3, label="data")
    region = distribution.hdr(coverage)
    for bounds in (region.lower, region.upper):
        columns, pieces = np.nonzero(np.isfinite(bounds))
        ax.scatter(xs[columns], bounds[columns, pieces], s=1, color="tab:orange")
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title(f"p(y | x), with the edges of its {coverage:.0%} highest-density region")
    return ax


def plot_pit_histogram(y_true, distribution, *, bins=20, ax=None):
    """Histogram of the probability integral transform ``F(y_i | x_i)``.

    Flat when the predicted distributions are calibrated; U-shaped when they are too
    narrow, humped when too wide.
    """
    ax = _axes(ax)
    ax.hist(pit(y_true, distribution), bins=bins, range=(0, 1), density=True, alpha=0.7)
    ax.axhline(1.0, color="black", linestyle="--", linewidth=1)
    ax.set_xlabel("PIT value F(y | x)")
    ax.set_ylabel("density")
    ax.set_title("PIT histogram (flat when calibrated)")
    return ax


def plot_calibration_curve(y_true, distribution, *, ax=None):
    """Observed against nominal coverage of the central intervals (the diagonal when
    calibrated), from :func:`skgmje.metrics.calibration_curve`."""
    ax = _axes(ax)
    nominal, observed = calibration_curve(y_true, distribution, np.linspace(0.05, 0.95, 19))
    ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1)
    ax.plot(nominal, observed, marker="o")
    ax.set_xlabel("nominal coverage")
    ax.set_ylabel("observed coverage")
    ax.set_title("Calibration of the central intervals")
    return ax


def plot_sbc_ranks(result, *, bins=20, names=None, ax=None):
    """Rank histograms of simulation-based calibration, one step line per parameter.

    Flat when the posterior is calibrated (the grey band holds 99% of a uniform
    histogram's bars); U-shaped when too narrow, humped when too wide, tilted when
    biased.

    Parameters
    ----------
    result : SBCResult
        From :func:`skgmje.inference.simulation_based_calibration`.
    bins : int, default=20
    names : list of str, default=None
        A label per parameter (``theta_0``, ``theta_1``, ... when None).
    ax : matplotlib Axes, default=None
    """
    from scipy import stats

    ax = _axes(ax)
    ranks = np.asarray(result.ranks)
    n_pairs, n_dims = ranks.shape
    edges = np.linspace(0, result.n_posterior_samples + 1, bins + 1)
    expected = n_pairs / bins
    low, high = stats.binom.ppf([0.005, 0.995], n_pairs, 1.0 / bins)
    ax.axhspan(low, high, color="0.85", zorder=0)
    ax.axhline(expected, color="black", linestyle="--", linewidth=1)
    for j in range(n_dims):
        counts, _ = np.histogram(ranks[:, j], bins=edges)
        label = names[j] if names is not None else f"theta_{j}"
        ax.stairs(counts, edges, label=f"{label} (KS p = {result.ks_pvalues[j]:.2g})")
    ax.set_xlabel(f"rank among {result.n_posterior_samples} posterior draws")
    ax.set_ylabel("pairs")
    ax.set_title("Simulation-based calibration (flat when calibrated)")
    ax.legend(fontsize="small")
    return ax


def plot_expected_coverage(result, *, ax=None, label=None):
    """Observed against nominal coverage of the posterior's highest-density regions.

    The diagonal when calibrated; below it the posterior is too narrow
    (overconfident), above it too wide.

    Parameters
    ----------
    result : CoverageResult
        From :func:`skgmje.inference.expected_coverage`.
    ax : matplotlib Axes, default=None
    label : str, default=None
        Names this result's curve, so that several (say, calibrated regions and ``q``'s
        own) can share the axes.
    """
    ax = _axes(ax)
    levels = np.linspace(0.0, 1.0, 101)
    observed = [np.mean(result.hdr_levels <= level) for level in levels]
    if not any(line.get_label() == "calibrated" for line in ax.get_lines()):
        ax.plot([0, 1], [0, 1], color="black", linestyle="--", linewidth=1, label="calibrated")
    (curve,) = ax.plot(levels, observed, label=label or "every level")
    ax.plot(
        result.levels,
        result.coverage,
        "o",
        color=curve.get_color(),
        label=None if label else "asked levels",
    )
    ax.set_xlabel("nominal mass of the highest-density region")
    ax.set_ylabel("fraction of true parameters inside")
    ax.set_title("Expected coverage (the diagonal when calibrated)")
    ax.legend(fontsize="small")
    return ax
