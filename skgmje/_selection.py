"""The number of components of a joint mixture, chosen by cross-validated log p(y | x).

A joint mixture fitted by EM maximises ``log p(x, y)``, but what it is for is
``p(y | x)``: criteria of the joint (BIC, AIC, the likelihood itself) reward components
spent on the density of the contexts, which the conditional never uses. The held-out
conditional log-likelihood measures what the user asks for, on rows the fit has not
seen, so it needs no assumption about the data; it is also the score ``GridSearchCV``
maximises for these estimators, done here inside ``fit``.
"""

import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, check_cv
from sklearn.utils.parallel import Parallel, delayed

# Candidates in increasing order, about geometrically spaced: a few components more or
# less matter when there are few, not when there are many.
CANDIDATE_COMPONENTS = (1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32)


def folds(cv, n_samples, random_state):
    """Train/test index pairs: an int is that many shuffled folds (seeded), as in
    ``KFold(cv, shuffle=True)``; a splitter or an iterable is used as it is."""
    if isinstance(cv, (int, np.integer)) and not isinstance(cv, bool):
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds; got {cv!r}.")
        if n_samples < 2 * cv:
            return None
        seed = random_state.randint(np.iinfo(np.int32).max)
        splitter = KFold(n_splits=int(cv), shuffle=True, random_state=seed)
    else:
        splitter = check_cv(cv)
    return list(splitter.split(np.empty((n_samples, 1))))


def _fold_score(estimator, name, value, X, Y, sample_weight, train, test):
    """Held-out mean ``log p(y | x)`` of ``estimator`` with ``name=value`` fitted on
    ``train`` and scored on ``test``; ``-inf`` when the fit fails, None when no test
    row counts."""
    if sample_weight is not None and not np.any(sample_weight[test] > 0):
        return None
    model = clone(estimator).set_params(**{name: value, "warm_start": False, "verbose": 0})
    try:
        model.fit(X[train], Y[train], None if sample_weight is None else sample_weight[train])
    except ValueError:
        # Degenerate on this fold (a covariance that is not positive definite): the
        # candidate cannot be trusted on data like these.
        return -np.inf
    # A row with a missing target has no conditional density to score.
    scored = test[~np.isnan(Y[test]).any(axis=1)]
    weights = None if sample_weight is None else sample_weight[scored]
    if len(scored) == 0 or (weights is not None and not np.any(weights > 0)):
        return None
    return np.average(model.score_samples(X[scored], Y[scored]), weights=weights)


def select_by_cross_validation(
    estimator, name, candidates, X, Y, sample_weight, pairs, n_jobs=None
):
    """The candidate value of the parameter ``name`` with the best mean held-out
    ``log p(y | x)`` over the folds ``pairs`` (train/test index pairs, from :func:`folds`).

    Each candidate is a clone of ``estimator`` with ``name`` set to it, fitted on each
    fold's training rows and scored on its test rows (weighted means under
    ``sample_weight``); a candidate whose fit fails on a fold (degenerate data) scores
    ``-inf``. Every candidate is tried: the held-out score is not unimodal in the
    number of components (on ``bench_suite``'s irrelevant-features problem it can stay
    flat over several candidates and then jump, where a search that stopped after two
    candidates in a row without improvement settled on a worse, smaller K; on
    ``bench_sbi``'s two moons it is flat from 2 to 8 components and 0.9 nats higher
    from 12).

    The fits run on ``n_jobs`` threads (joblib's convention: None is one, -1 every
    core), the last candidates first, since with the number of components they are
    the costly ones; each fit's BLAS runs one thread (:mod:`skgmje._blas`). The
    result does not depend on ``n_jobs``.

    Returns
    -------
    best : object
        The chosen value.
    scores : dict
        Mean held-out conditional log-likelihood of every candidate tried.
    """
    tasks = [(value, train, test) for value in reversed(candidates) for train, test in pairs]
    # Set here, in the calling thread, and handed to every task by scikit-learn's
    # Parallel: a catch_warnings inside concurrent threads could leave the filter on
    # for the caller. Each fold's fit is a means to a score; the final fit warns for
    # itself.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        results = Parallel(n_jobs=n_jobs, prefer="threads")(
            delayed(_fold_score)(estimator, name, value, X, Y, sample_weight, train, test)
            for value, train, test in tasks
        )
    fold_scores = {value: [] for value in candidates}
    for (value, _, _), score in zip(tasks, results):
        if score is not None:
            fold_scores[value].append(score)
    scores = {}
    for value in candidates:
        scores[value] = float(np.mean(fold_scores[value]))
        estimator._print(1, f"{name}={value}: held-out log p(y|x) {scores[value]:.5f}")
    return max(scores, key=scores.get), scores


def select_n_components(estimator, X, Y, sample_weight, cv, random_state, n_jobs=None):
    """:func:`select_by_cross_validation` of ``n_components`` over
    :data:`CANDIDATE_COMPONENTS`, in increasing order.

    Candidates whose components would have fewer than ``n_features + n_targets + 1``
    training rows each (in the smallest training fold) are not tried: a full
    covariance in ``D`` dimensions is not determined by fewer. With too few rows for
    ``cv`` folds of two, ``K`` is 1 and ``scores`` is empty.
    """
    pairs = folds(cv, len(X), random_state)
    if pairs is None:
        return 1, {}
    n_joint = X.shape[1] + Y.shape[1]

    def positive(rows):
        return len(rows) if sample_weight is None else int(np.count_nonzero(sample_weight[rows]))

    smallest_train = min(positive(train) for train, _ in pairs)
    candidates = [K for K in CANDIDATE_COMPONENTS if K * (n_joint + 1) <= smallest_train] or [1]
    return select_by_cross_validation(
        estimator, "n_components", candidates, X, Y, sample_weight, pairs, n_jobs
    )
