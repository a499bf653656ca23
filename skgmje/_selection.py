"""The number of components of a joint mixture, chosen by cross-validated log p(y | x).

A joint mixture fitted by EM maximises ``log p(x, y)``, but what it is for is
``p(y | x)``: criteria of the joint (BIC, AIC, the likelihood itself) reward components
spent on the density of the contexts, which the conditional never uses. The held-out
conditional log-likelihood measures what the user asks for, on rows the fit has not
seen, so it needs no assumption about the data; it is also the score ``GridSearchCV``
maximises for these estimators, done here inside ``fit``.
"""

import sys
import warnings

import numpy as np
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import KFold, check_cv

# Candidates in increasing order, about geometrically spaced: a few components more or
# less matter when there are few, not when there are many.
CANDIDATE_COMPONENTS = (1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32)
# The search stops after this many candidates in a row fail to beat the best so far.
PATIENCE = 2


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


def select_n_components(estimator, X, Y, sample_weight, cv, random_state, verbose=0):
    """The candidate ``K`` with the best mean held-out ``log p(y | x)`` over the folds.

    Each candidate is a clone of ``estimator`` with ``n_components=K``, fitted on each
    fold's training rows and scored on its test rows (weighted means under
    ``sample_weight``). Candidates whose components would have fewer than
    ``n_features + n_targets + 1`` training rows each are not tried: a full covariance
    in ``D`` dimensions is not determined by fewer. The search runs through
    :data:`CANDIDATE_COMPONENTS` in increasing order and stops after :data:`PATIENCE`
    candidates in a row that do not improve on the best.

    Returns
    -------
    n_components : int
        The chosen ``K`` (1 when there are too few rows for ``cv`` folds of two).
    scores : dict
        Mean held-out conditional log-likelihood of every candidate tried.
    """
    n_samples, n_joint = len(X), X.shape[1] + Y.shape[1]
    pairs = folds(cv, n_samples, random_state)
    if pairs is None:
        return 1, {}

    def positive(rows):
        return len(rows) if sample_weight is None else int(np.count_nonzero(sample_weight[rows]))

    smallest_train = min(positive(train) for train, _ in pairs)
    candidates = [K for K in CANDIDATE_COMPONENTS if K * (n_joint + 1) <= smallest_train] or [1]
    scores, best, since_best = {}, None, 0
    for n_components in candidates:
        fold_scores = []
        for train, test in pairs:
            weights = None if sample_weight is None else sample_weight[test]
            if weights is not None and not np.any(weights > 0):
                continue
            model = clone(estimator).set_params(
                n_components=n_components, warm_start=False, verbose=0
            )
            with warnings.catch_warnings():
                # Each fold's EM is a means to a score; the final fit warns for itself.
                warnings.simplefilter("ignore", ConvergenceWarning)
                model.fit(
                    X[train], Y[train], None if sample_weight is None else sample_weight[train]
                )
            fold_scores.append(np.average(model.score_samples(X[test], Y[test]), weights=weights))
        scores[n_components] = float(np.mean(fold_scores))
        if verbose:
            print(
                f"n_components={n_components}: held-out log p(y|x) {scores[n_components]:.5f}",
                file=sys.stdout,
                flush=True,
            )
        if best is None or scores[n_components] > scores[best]:
            best, since_best = n_components, 0
        else:
            since_best += 1
            if since_best >= PATIENCE:
                break
    return best, scores
