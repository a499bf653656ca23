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


def test_sbc_ranks_and_expected_coverage_draw_the_results():
    from skgmje import GJE
    from skgmje.inference import (
        GaussianPrior,
        PosteriorEstimator,
        expected_coverage,
        simulation_based_calibration,
    )

    rng = np.random.RandomState(0)
    theta = rng.standard_normal((1500, 2))
    x = theta + 0.5 * rng.standard_normal(theta.shape)
    npe = PosteriorEstimator(GJE(), prior=GaussianPrior(np.zeros(2))).fit(x[:1000], theta[:1000])
    sbc = simulation_based_calibration(npe, theta[1000:], x[1000:], n_posterior_samples=99)
    ax = plotting.plot_sbc_ranks(sbc, bins=10, names=["a", "b"])
    heights = [patch.get_data()[0] for patch in ax.patches if hasattr(patch, "get_data")]
    assert [int(h.sum()) for h in heights] == [500, 500]
    assert ax.get_legend().get_texts()[0].get_text().startswith("a (KS p = ")
    coverage = expected_coverage(npe, theta[1000:], x[1000:], levels=[0.5, 0.9])
    ax = plotting.plot_expected_coverage(coverage)
    np.testing.assert_allclose(ax.lines[2].get_ydata(), coverage.coverage)
    plt.close("all")
