"""The roster: one small, fast configuration of every public estimator, for the suites
that test every estimator.

``test_estimators``, ``test_invariance``, ``test_fuzz``, ``test_persistence``,
``test_concurrency``, ``test_dask``, ``test_compose`` and ``test_usability`` take their
estimators from here instead of listing them, so a configuration is changed in one place
and a new estimator joins all of them at once. The public estimators are read from
``skgmje.__all__`` (plus the baselines): ``test_every_public_estimator_is_on_the_roster``
in ``test_estimators.py`` fails while one of them has no configuration below.

A suite that runs on some estimators only selects them by a tag, and each tag says why
the others lack it::

    estimators()                  # one configuration per class (two for DualGJE's modes)
    estimators(variants=True)     # and the extra configurations of the contract suite
    estimators(STREAMING)         # those that have partial_fit
    estimators(without=(DISTRIBUTED_FIT,))
    transformers()                # JointEmbedding and GaussianMixtureImputer: no conditional
                                  # density, no y
    embedding()                   # JointEmbedding alone

Every call returns fresh, unfitted copies: a suite may ``set_params`` or fit them.
"""

from dataclasses import dataclass

from sklearn.base import BaseEstimator, clone

import skgmje
from skgmje import (
    GJE,
    GMJE,
    GMJEGNG,
    GMJEMDN,
    SMCGMJE,
    BayesianGMJE,
    DualGJE,
    GaussianMixtureImputer,
    JointEmbedding,
)
from skgmje.baselines import ResidualGaussianRegressor

# partial_fit updates the model one batch at a time. BayesianGMJE's variational EM, the
# dual GP's kernel, the network and the least-squares fits have no streaming step.
STREAMING = "streaming"
# fit takes dask collections: the EM of GMJE and BayesianGMJE sums its statistics chunk
# by chunk on the workers. The others need their rows in memory (a Gram matrix, a particle
# bank or a graph streamed in order, a network's shuffled minibatches, cross-validation
# folds) and raise a TypeError; prediction on dask collections is lazy for every estimator.
DISTRIBUTED_FIT = "distributed fit"
# The fitted model does not depend on the order of the rows (for GMJE and BayesianGMJE:
# from a shared start, since the k-means start does). GMJEGNG and SMCGMJE stream the rows
# in order, GMJEMDN trains on shuffled minibatches, ResidualGaussianRegressor's out-of-fold
# residuals depend on which rows share a fold, and the kernel that DualGJE's random-feature
# loss tunes moves with the rounding of its sums over the rows.
ORDER_FREE_FIT = "order-free fit"
# A second configuration of a class, run by the contract suite (test_estimators.py) only:
# GMJE choosing n_components by cross-validation, SMCGMJE's FIFO queue without resampling.
VARIANT = "variant"


@dataclass(frozen=True)
class Entry:
    """A configured estimator and its tags."""

    estimator: BaseEstimator
    tags: frozenset = frozenset()


def _entry(estimator, *tags):
    return Entry(estimator, frozenset(tags))


ROSTER = (
    _entry(GJE(), ORDER_FREE_FIT),
    _entry(GMJE(n_components=3, random_state=0), STREAMING, DISTRIBUTED_FIT, ORDER_FREE_FIT),
    _entry(BayesianGMJE(n_components=3, random_state=0), DISTRIBUTED_FIT, ORDER_FREE_FIT),
    _entry(DualGJE(random_state=0), ORDER_FREE_FIT),  # exact: a Gram matrix
    _entry(DualGJE(n_fourier_features=64, random_state=0)),  # random features
    _entry(GMJEGNG(max_nodes=8, max_iter=2, random_state=0), STREAMING),
    _entry(SMCGMJE(n_particles=32, batch_size=32, max_iter=2, random_state=0), STREAMING),
    _entry(GMJEMDN(hidden_layer_sizes=(8,), max_epochs=3, random_state=0)),
    _entry(ResidualGaussianRegressor()),
    _entry(GMJE(random_state=0), VARIANT, STREAMING, DISTRIBUTED_FIT),
    _entry(
        SMCGMJE(n_particles=32, batch_size=32, max_iter=2, resampling=None, random_state=0),
        VARIANT,
        STREAMING,
    ),
)
TRANSFORMERS = (
    JointEmbedding(
        "infonce",
        hidden_layer_sizes=(8,),
        embedding_dim=2,
        max_epochs=1,
        batch_size=16,
        random_state=0,
    ),
    GaussianMixtureImputer(random_state=0),
)


def estimators(*tags, without=(), variants=False):
    """Fresh copies of the conditional density estimators that have every tag in ``tags``
    and none in ``without``; the ``VARIANT`` configurations only if ``variants``."""
    excluded = set(without) | (set() if variants else {VARIANT})
    return [
        clone(entry.estimator)
        for entry in ROSTER
        if entry.tags >= set(tags) and not entry.tags & excluded
    ]


def transformers():
    """Fresh copies of the public transformers (no conditional density, no ``y``)."""
    return [clone(transformer) for transformer in TRANSFORMERS]


def embedding():
    """A fresh copy of the roster's JointEmbedding."""
    return next(t for t in transformers() if isinstance(t, JointEmbedding))


def public_estimator_classes():
    """Every estimator class of ``skgmje.__all__``, and the baselines' regressor."""
    classes = {
        getattr(skgmje, name)
        for name in skgmje.__all__
        if isinstance(getattr(skgmje, name), type)
        and issubclass(getattr(skgmje, name), BaseEstimator)
    }
    return classes | {ResidualGaussianRegressor}


def missing_from_roster():
    """Names of the public estimator classes that the roster has no configuration of."""
    configured = {type(estimator) for estimator in estimators(variants=True) + transformers()}
    return sorted(cls.__name__ for cls in public_estimator_classes() - configured)


def documented_path(estimator):
    """Where the API reference documents the estimator's class: ``skgmje.GMJE`` for what
    the package exports, the defining module otherwise."""
    name = type(estimator).__name__
    if name in skgmje.__all__:
        return f"skgmje.{name}"
    return f"{type(estimator).__module__}.{name}"
