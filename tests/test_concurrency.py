"""One fitted model, many callers: threads at once, and other processes through pickle."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from joblib import Parallel, delayed
from sklearn.base import clone

from skgmje import (
    GJE,
    GMJE,
    GMJEGNG,
    GMJEMDN,
    SMCGMJE,
    BayesianGMJE,
    DualGJE,
    JointEmbedding,
)
from skgmje.datasets import make_intersecting_branches

ESTIMATORS = [
    GJE(),
    GMJE(n_components=4, random_state=0),
    BayesianGMJE(n_components=4, random_state=0),
    DualGJE(random_state=0),
    DualGJE(n_fourier_features=64, random_state=0),
    GMJEGNG(max_nodes=12, max_iter=2, random_state=0),
    SMCGMJE(n_particles=64, batch_size=64, max_iter=2, random_state=0),
    GMJEMDN(hidden_layer_sizes=(16,), max_epochs=3, random_state=0),
]


def _fitted(estimator):
    X, y = make_intersecting_branches(n_samples=1600, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # few iterations or epochs, on purpose
        return clone(estimator).fit(X[:400], y[:400]), X[400:], y[400:]


def _answers(model, X, y):
    mean, std = model.predict(X, return_std=True)
    draws = model.sample(X, n_samples=3, random_state=7)
    return np.concatenate([model.score_samples(X, y), mean, std, draws.ravel()])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_eight_threads_at_once_answer_as_one(estimator):
    model, X, y = _fitted(estimator)
    parts = np.array_split(np.arange(len(X)), 8)
    sequential = [_answers(model, X[rows], y[rows]) for rows in parts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(lambda rows: _answers(model, X[rows], y[rows]), parts * 3))
    for index, answer in enumerate(concurrent):
        np.testing.assert_array_equal(answer, sequential[index % 8])


def test_eight_threads_embed_as_one():
    digits = np.random.RandomState(0).uniform(size=(256, 16))
    model = JointEmbedding(
        "infonce",
        hidden_layer_sizes=(16,),
        embedding_dim=4,
        max_epochs=2,
        batch_size=64,
        random_state=0,
    ).fit(digits)
    parts = np.array_split(digits, 8)
    sequential = [model.transform(part) for part in parts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        concurrent = list(pool.map(model.transform, parts * 3))
    for index, answer in enumerate(concurrent):
        np.testing.assert_array_equal(answer, sequential[index % 8])


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_a_model_pickled_into_fresh_processes_scores_the_same(estimator):
    model, X, y = _fitted(estimator)
    here = _answers(model, X, y)
    # loky starts fresh interpreters (not forks): the model arrives by pickle alone.
    elsewhere = Parallel(n_jobs=2, backend="loky")(delayed(_answers)(model, X, y) for _ in range(2))
    for answer in elsewhere:
        np.testing.assert_allclose(answer, here, rtol=1e-6, atol=1e-9)
