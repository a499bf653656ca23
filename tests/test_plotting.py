"""skgmje.plotting draws what it says, from the fitted distributions."""

import numpy as np
import pytest

from skgmje import GMJE
from skgmje.datasets import make_intersecting_branches

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from skgmje import plotting  # noqa: E402


@pytest.fixture(scope="module")
def fitted():
    X, y = make_intersecting_branches(n_samples=1200, random_state=0)
    return GMJE(n_components=8, random_state=0).fit(X[:800], y[:800]), X[800:], y[800:]


def test_conditional_density_shades_the_hdr(fitted):
    model, X, _ = fitted
    ax = plotting.plot_conditional_density(model, [[0.5], [-0.9]], coverage=0.8)
    assert len(ax.lines) == 2 and len(ax.collections) == 2
    curve = ax.lines[0].get_ydata()
    assert curve.max() == pytest.approx(
        model.predict_distribution([[0.5]]).pdf(ax.lines[0].get_xdata()[np.argmax(curve)][None])[0]
    )
    plt.close("all")


def test_density_map_pit_and_calibration(fitted):
    model, X, y = fitted
    ax = plotting.plot_density_map(model, X, y, n_points=50)
    assert len(ax.images) == 1 and ax.images[0].get_array().shape == (50, 50)
    distribution = model.predict_distribution(X)
    ax = plotting.plot_pit_histogram(y, distribution, bins=10)
    assert len(ax.patches) == 10
    ax = plotting.plot_calibration_curve(y, distribution)
    nominal, observed = ax.lines[1].get_data()
    assert np.all(np.abs(observed - nominal) < 0.1)
    plt.close("all")
