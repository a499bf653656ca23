"""One fitted model, many callers: threads at once, and other processes through pickle."""

import warnings
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from _roster import embedding, estimators
from joblib import Parallel, delayed
from sklearn.base import clone

from skgmje.datasets import make_intersecting_branches

ESTIMATORS = estimators()


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
    model = embedding()
    model.fit(digits)
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
