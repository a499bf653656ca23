"""Smoke test of an installed skgmje (the wheel, in a venv of its own): every public estimator.

``.ci/run`` runs it from a folder outside the repository, so ``import skgmje`` finds the
installed wheel and not the source tree; the first check makes sure of that. Every estimator
of ``skgmje.__all__`` (found there, so a new one is not forgotten; one that is neither a
conditional density estimator, ``JointEmbedding`` nor ``GaussianMixtureImputer`` fails until
it gets a check here), plus
DualGJE's random features and ``baselines.ResidualGaussianRegressor``, is fitted on tiny data
(1-D and 2-D targets; the torch ones for two epochs) and has to predict, score and sample with
the shapes of the estimator contract and finite numbers. A few seconds on two cores.

    python .ci/smoke_wheel.py [REPOSITORY]   # REPOSITORY: the source tree it must not import
"""

import sys
import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator

import skgmje
from skgmje import (
    GMJE,
    DualGJE,
    GaussianMixtureDistribution,
    GaussianMixtureImputer,
    JointEmbedding,
)
from skgmje.baselines import ResidualGaussianRegressor
from skgmje.datasets import (
    BranchesOracle,
    make_intersecting_branches,
    make_moving_ring,
    make_waveforms,
)
from skgmje.inference import BoxUniform, PosteriorEstimator
from skgmje.nn import augment, encoders, losses, mdn, memory

start = time.perf_counter()
installed = Path(skgmje.__file__).resolve()
print(f"skgmje {skgmje.__version__} from {installed.parent}")
if len(sys.argv) > 1:
    source = Path(sys.argv[1]).resolve()
    if installed.is_relative_to(source):
        sys.exit(
            f"FAIL: skgmje was imported from the source tree {source}, not the installed wheel"
        )
if "site-packages" not in installed.parts:
    sys.exit(f"FAIL: skgmje was imported from {installed}, not from a site-packages folder")
for module in (augment, encoders, losses, mdn, memory):  # the subpackage skgmje.nn
    assert Path(module.__file__).resolve().is_relative_to(installed.parent), module

X, y = make_intersecting_branches(n_samples=300, random_state=0)
X_test, y_test = make_intersecting_branches(n_samples=100, random_state=1)
X_ring, Y_ring = make_moving_ring(n_samples=300, random_state=0)  # a 2-D target

# Small settings for the estimators that are slow at their defaults; every other public
# estimator of skgmje.__all__ (one added later too) is fitted at its defaults.
TINY = {
    "GMJE": {"n_components": 3},
    "GMJEGNG": {"max_nodes": 8, "max_iter": 2},
    "SMCGMJE": {"n_particles": 32, "batch_size": 64, "max_iter": 2},
    "GMJEMDN": {"n_components": 3, "hidden_layer_sizes": (8,), "max_epochs": 2, "batch_size": 64},
}
ESTIMATORS, TRANSFORMERS = [], []
for name in skgmje.__all__:
    public = getattr(skgmje, name)
    if not (isinstance(public, type) and issubclass(public, BaseEstimator)):
        continue
    if hasattr(public, "predict_distribution"):
        parameters = {**TINY.get(name, {})}
        if "random_state" in public().get_params():
            parameters["random_state"] = 0
        ESTIMATORS.append(public(**parameters))
    elif public in (JointEmbedding, GaussianMixtureImputer):
        TRANSFORMERS.append(public)
    else:
        sys.exit(f"FAIL: the public estimator {name} has no smoke test in {__file__}")
ESTIMATORS += [DualGJE(n_fourier_features=32, random_state=0), ResidualGaussianRegressor()]
assert JointEmbedding in TRANSFORMERS and len(ESTIMATORS) >= 8, ESTIMATORS
assert GaussianMixtureImputer in TRANSFORMERS, TRANSFORMERS


def check(estimator, X, y, X_test, y_test):
    estimator.fit(X, y)
    target_shape = y_test.shape[1:]
    mean, std = estimator.predict(X_test, return_std=True)
    assert mean.shape == y_test.shape and std.shape == y_test.shape, (mean.shape, std.shape)
    distribution = estimator.predict_distribution(X_test)
    assert isinstance(distribution, GaussianMixtureDistribution), type(distribution)
    density = estimator.predict_density(X_test, y_test)
    assert density.shape == (len(X_test),) and np.all(density >= 0), density.shape
    score = estimator.score(X_test, y_test)
    assert np.isfinite(score), score
    draws = estimator.sample(X_test[:5], n_samples=4, random_state=0)
    assert draws.shape == (5, 4, *target_shape), draws.shape
    X_new, y_new = estimator.sample(n_samples=6, random_state=0)
    assert X_new.shape == (6, X.shape[1]) and y_new.shape == (6, *target_shape)
    assert np.all(np.isfinite(draws)) and np.all(np.isfinite(y_new))
    return score


for estimator in ESTIMATORS:
    began = time.perf_counter()
    score = check(estimator, X, y, X_test, y_test)
    check(estimator, X_ring[:200], Y_ring[:200], X_ring[200:], Y_ring[200:])  # a 2-D target
    print(f"  {estimator!r}: held-out score {score:.3f} ({time.perf_counter() - began:.1f} s)")

oracle_score = BranchesOracle("intersecting").score(X_test, y_test)
print(f"  BranchesOracle('intersecting'): held-out score {oracle_score:.3f}")

stream = GMJE(n_components=3, random_state=0)
for rows in range(0, len(X), 100):
    stream.partial_fit(X[rows : rows + 100], y[rows : rows + 100])
assert np.isfinite(stream.score(X_test, y_test))
print("  GMJE.partial_fit: ok")

rows = np.hstack([X_ring, Y_ring])
signals, _ = make_waveforms(n_samples=64, random_state=0)
for objective, data, options in [
    ("smc-gmje", rows, {}),
    ("gmje", rows, {"n_prototypes": 3}),
    ("infonce", signals, {"augment": "signal", "encoder": "cnn1d"}),
]:
    began = time.perf_counter()
    embedding = JointEmbedding(
        objective,
        embedding_dim=4,
        hidden_layer_sizes=(16,),
        bank_size=16,
        batch_size=32,
        max_epochs=2,
        random_state=0,
        **options,
    ).fit(data)
    Z = embedding.transform(data[:5])
    assert Z.shape == (5, 4) and np.all(np.isfinite(Z)), Z.shape
    if embedding.latent_density_ is not None:
        assert embedding.sample_embeddings(3, random_state=0).shape == (3, 4)
        assert np.all(np.isfinite(embedding.score_samples(data[:5])))
    print(f"  JointEmbedding({objective!r}): ok ({time.perf_counter() - began:.1f} s)")

began = time.perf_counter()
holes = np.hstack([X_ring, Y_ring])
holes[::4, 1] = np.nan
filled = GaussianMixtureImputer(random_state=0).fit_transform(holes)
assert filled.shape == holes.shape and np.all(np.isfinite(filled)), filled.shape
print(f"  GaussianMixtureImputer: ok ({time.perf_counter() - began:.1f} s)")

# skgmje.inference: a posterior from simulations, truncated to a box prior.
began = time.perf_counter()
prior = BoxUniform(low=[-2.0], high=[2.0])
theta = prior.sample(400, random_state=0)
x = theta**2 + 0.1 * np.random.RandomState(1).standard_normal(theta.shape)
posterior = (
    PosteriorEstimator(GMJE(n_components=4, random_state=0), prior=prior)
    .fit(x, theta)
    .posterior([1.0])
)
draws = posterior.sample(200, random_state=0)
assert draws.shape == (200, 1) and np.all(np.abs(draws) <= 2.0), draws
assert np.all(np.isfinite(posterior.log_prob(draws))) and 0 < posterior.acceptance_rate <= 1
print(f"  PosteriorEstimator: ok ({time.perf_counter() - began:.1f} s)")
print(f"Smoke test of the installed wheel passed in {time.perf_counter() - start:.1f} s.")
