"""The data sets of skgmje.datasets: the branches and their oracle, the waveforms and the
translated digits (the wider suite of problems is tested in test_problems.py)."""

import numpy as np
import pytest
from scipy import stats
from sklearn.datasets import load_digits

from skgmje import GMJE
from skgmje.datasets import (
    BranchesOracle,
    make_intersecting_branches,
    make_separated_branches,
    make_translated_digits,
)

MAKERS = {"separated": make_separated_branches, "intersecting": make_intersecting_branches}


@pytest.mark.parametrize("name", MAKERS)
def test_samples_lie_on_their_branch_with_the_requested_noise(name):
    X, y, branch = MAKERS[name](n_samples=30000, noise=0.2, random_state=0, return_branch=True)
    assert X.shape == (30000, 1) and y.shape == (30000,)
    assert X.min() >= -1 and X.max() <= 1
    np.testing.assert_allclose(np.bincount(branch) / len(branch), 1 / 3, atol=0.01)
    residuals = y - BranchesOracle(name).branch_means(X)[np.arange(len(y)), branch]
    assert np.std(residuals) == pytest.approx(0.2, rel=0.02)
    assert abs(np.mean(residuals)) < 0.01


@pytest.mark.parametrize("name", MAKERS)
def test_same_seed_same_data(name):
    first = MAKERS[name](n_samples=50, random_state=3)
    second = MAKERS[name](n_samples=50, random_state=3)
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)


def test_branch_values_match_the_paper():
    x = np.array([[0.25]])
    np.testing.assert_allclose(
        BranchesOracle("separated").branch_means(x), [[0.0625 + 1.5, 0.5, -0.0625 - 1.5]]
    )
    np.testing.assert_allclose(
        BranchesOracle("intersecting").branch_means(x), [[0.5, -0.5, 0.015625]]
    )


@pytest.mark.parametrize("name", MAKERS)
def test_oracle_is_the_best_model_and_its_nll_matches_the_orientation(name):
    X, y = MAKERS[name](n_samples=2000, random_state=0)
    X_test, y_test = MAKERS[name](n_samples=5000, random_state=1)
    oracle = BranchesOracle(name)
    expected = {"separated": 0.21, "intersecting": 0.10}[name]
    assert -oracle.score(X_test, y_test) == pytest.approx(expected, abs=0.03)
    model = GMJE(n_components=8, random_state=0).fit(X, y)
    assert oracle.score(X_test, y_test) > model.score(X_test, y_test)
    # The oracle's own draws score like the held-out data.
    draws = oracle.sample(X_test, n_samples=1, random_state=0)[:, 0]
    assert oracle.score(X_test, draws) == pytest.approx(oracle.score(X_test, y_test), abs=0.05)


def test_oracle_conditional_mean_and_bad_arguments():
    X = np.linspace(-1, 1, 7)[:, None]
    np.testing.assert_allclose(
        BranchesOracle("intersecting").predict(X), X[:, 0] ** 3 / 3, atol=1e-12
    )
    with pytest.raises(ValueError, match="name"):
        BranchesOracle("spiral")
    with pytest.raises(ValueError, match="noise"):
        BranchesOracle("separated", noise=0.0)
    with pytest.raises(ValueError, match="shape"):
        BranchesOracle("separated").predict(np.zeros((3, 2)))
    with pytest.raises(ValueError, match="n_samples"):
        make_separated_branches(n_samples=0)


def test_waveforms_are_balanced_reproducible_and_phase_free():
    from skgmje.datasets import WAVEFORMS, make_waveforms

    X, y = make_waveforms(400, n_timesteps=64, random_state=0)
    assert X.shape == (400, 64) and np.bincount(y).tolist() == [100] * len(WAVEFORMS)
    again, _ = make_waveforms(400, n_timesteps=64, random_state=0)
    np.testing.assert_array_equal(X, again)
    clean, _ = make_waveforms(4000, n_timesteps=32, noise=0.0, amplitude=(1.0, 1.0), random_state=1)
    assert np.abs(clean).max() <= 1.0 + 1e-12
    # Averaged over the uniform phase every waveform is zero at every step.
    assert np.abs(clean.mean(0)).max() < 0.1


def test_waveform_classes_defeat_a_linear_model_on_raw_steps():
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    from skgmje.datasets import make_waveforms

    X, y = make_waveforms(800, random_state=0)
    spectra = np.abs(np.fft.rfft(X, axis=1))
    raw = cross_val_score(LogisticRegression(max_iter=2000), X, y, cv=3).mean()
    invariant = cross_val_score(LogisticRegression(max_iter=2000), spectra, y, cv=3).mean()
    assert raw < 0.4 and invariant > raw + 0.3


@pytest.mark.parametrize(
    "params, message",
    [
        ({"n_samples": 0}, "n_samples"),
        ({"n_timesteps": 1}, "n_timesteps"),
        ({"cycles": (3.0, 2.0)}, "cycles"),
        ({"amplitude": (0.0, 1.0)}, "amplitude"),
        ({"noise": -0.1}, "noise"),
    ],
)
def test_waveforms_reject_bad_parameters(params, message):
    from skgmje.datasets import make_waveforms

    with pytest.raises(ValueError, match=message):
        make_waveforms(**params)


# --- translated digits ----------------------------------------------------------------------


def _digit_positions(X, canvas):
    """Where each 8x8 digit sits: every offset whose window holds exactly the digit."""
    digits = load_digits().images / 16.0
    images = X.reshape(-1, canvas, canvas)
    windows = np.lib.stride_tricks.sliding_window_view(images, (8, 8), axis=(1, 2))
    matches = np.all(windows == digits[:, None, None], axis=(3, 4))
    return matches, images, digits


def test_translated_digits_hold_each_digit_exactly_once_on_a_zero_canvas():
    X, y = make_translated_digits(canvas=14, noise=0.0, random_state=0)
    assert X.shape == (1797, 196) and y.shape == (1797,)
    np.testing.assert_array_equal(y, load_digits().target)
    matches, images, digits = _digit_positions(X, 14)
    assert np.all(matches.sum(axis=(1, 2)) == 1)
    # Pixels are >= 0 and the window holds the digit's total: everything else is zero.
    np.testing.assert_allclose(images.sum(axis=(1, 2)), digits.sum(axis=(1, 2)))
    assert X.min() == 0.0 and X.max() == 1.0
    positions = np.argwhere(matches)[:, 1:]
    cells = np.bincount(positions[:, 0] * 7 + positions[:, 1], minlength=49)
    assert stats.chisquare(cells).pvalue > 1e-3  # all 49 positions, equally often


def test_translated_digits_noise_and_reproducibility():
    clean, _ = make_translated_digits(canvas=10, noise=0.0, random_state=3)
    assert clean.shape == (1797, 100)
    assert np.all(_digit_positions(clean, 10)[0].sum(axis=(1, 2)) == 1)
    noisy, _ = make_translated_digits(canvas=10, noise=0.2, random_state=3)
    again, _ = make_translated_digits(canvas=10, noise=0.2, random_state=3)
    other, _ = make_translated_digits(canvas=10, noise=0.2, random_state=4)
    np.testing.assert_array_equal(noisy, again)
    assert not np.array_equal(noisy, other)
    noise = (noisy - clean).ravel()  # same seed, same positions: the difference is the noise
    assert noise.std() == pytest.approx(0.2, rel=0.01) and abs(noise.mean()) < 0.002


@pytest.mark.parametrize(
    "params, message",
    [({"canvas": 7}, "canvas"), ({"canvas": 14.0}, "canvas"), ({"noise": -0.1}, "noise")],
)
def test_translated_digits_reject_bad_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        make_translated_digits(**params)
