import numpy as np
import pytest

from skgmje import GMJE
from skgmje.datasets import BranchesOracle, make_intersecting_branches, make_separated_branches

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
