"""Saving and loading fitted models: skops (no code runs on load), pickle and joblib.

Every estimator and ``JointEmbedding`` must round-trip with identical predictions, and
``skops.io.load`` must need to trust only skgmje's public estimator classes and
scikit-learn's own types, never a private skgmje type or torch's.
"""

import pickle
import subprocess
import sys
import warnings

import joblib
import numpy as np
import pytest
from _roster import STREAMING, embedding, estimators, transformers
from sklearn.base import clone

import skgmje
from skgmje import GJE, GMJE, GMJEMDN, JointEmbedding
from skgmje.exceptions import InconsistentVersionWarning

ESTIMATORS = estimators()
PUBLIC_CLASSES = {
    f"{type(estimator).__module__}.{type(estimator).__name__}"
    for estimator in ESTIMATORS + transformers()
}


def _data():
    rng = np.random.RandomState(0)
    X = rng.normal(size=(80, 2))
    return X, np.sin(2 * X[:, 0]) + 0.1 * rng.normal(size=80)


def _fitted(estimator):
    X, y = _data()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(estimator).fit(X, y)


def _predictions(model):
    X, y = _data()
    if isinstance(model, JointEmbedding):
        return [model.transform(X.astype(np.float32))]
    return [
        model.score_samples(X, y),
        model.predict(X),
        model.sample(X[:5], n_samples=3, random_state=0),
        model.sample(n_samples=4, random_state=0)[1],
    ]


def _assert_same_predictions(model, restored):
    for expected, got in zip(_predictions(model), _predictions(restored)):
        np.testing.assert_array_equal(got, expected)


def _fitted_embedding(objective="gmje"):
    X, _ = _data()
    model = embedding()
    return model.set_params(objective=objective).fit(X.astype(np.float32))


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_skops_round_trip_trusts_only_public_classes(estimator):
    sio = pytest.importorskip("skops.io")
    model = _fitted(estimator)
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    assert all(name in PUBLIC_CLASSES or name.startswith("sklearn.") for name in untrusted), (
        untrusted
    )
    with pytest.raises(Exception, match="[Uu]ntrusted"):
        sio.loads(data)
    _assert_same_predictions(model, sio.loads(data, trusted=untrusted))


@pytest.mark.parametrize("objective", ["infonce", "gmje"])
def test_skops_round_trip_of_a_joint_embedding(objective):
    sio = pytest.importorskip("skops.io")
    model = _fitted_embedding(objective)
    data = sio.dumps(model)
    untrusted = sio.get_untrusted_types(data=data)
    assert set(untrusted) <= PUBLIC_CLASSES | {"skgmje.gmje.GMJE"}, untrusted
    restored = sio.loads(data, trusted=untrusted)
    np.testing.assert_array_equal(restored.transform([[0.5, -1.0]]), model.transform([[0.5, -1.0]]))
    assert restored.net_.history[-1]["epoch"] == model.net_.history[-1]["epoch"]
    if objective == "gmje":
        np.testing.assert_array_equal(
            restored.score_samples([[0.5, -1.0]]), model.score_samples([[0.5, -1.0]])
        )


@pytest.mark.parametrize("estimator", ESTIMATORS, ids=repr)
def test_pickle_round_trip(estimator):
    model = _fitted(estimator)
    _assert_same_predictions(model, pickle.loads(pickle.dumps(model)))


def test_a_restored_network_keeps_its_training_history():
    (network,) = [estimator for estimator in ESTIMATORS if isinstance(estimator, GMJEMDN)]
    model = _fitted(network)
    restored = pickle.loads(pickle.dumps(model))
    assert len(restored.net_.history) == len(model.net_.history) == model.n_epochs_
    assert restored.net_.history[-1, "train_loss"] == model.net_.history[-1, "train_loss"]


def test_joblib_files_load_in_another_process(tmp_path):
    """Every model saved here is loaded by a fresh interpreter, which writes back its
    predictions: nothing in the files depends on this process's state."""
    models = [_fitted(estimator) for estimator in ESTIMATORS]
    for index, model in enumerate(models):
        joblib.dump(model, tmp_path / f"{index}.joblib")
    X, y = _data()
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "y.npy", y)
    script = f"""
import sys, joblib, numpy as np
folder = sys.argv[1]
X, y = np.load(folder + "/X.npy"), np.load(folder + "/y.npy")
for index in range({len(models)}):
    model = joblib.load(f"{{folder}}/{{index}}.joblib")
    np.save(f"{{folder}}/{{index}}.npy", model.score_samples(X, y))
"""
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True)
    for index, model in enumerate(models):
        np.testing.assert_array_equal(np.load(tmp_path / f"{index}.npy"), model.score_samples(X, y))


def test_loading_with_another_version_warns(monkeypatch):
    model = _fitted(GJE())
    saved = pickle.dumps(model)
    monkeypatch.setattr(skgmje, "__version__", "99.0")
    with pytest.warns(
        InconsistentVersionWarning, match="saved with skgmje 0.1.0 when using skgmje 99.0"
    ):
        pickle.loads(saved)


def test_the_version_warning_is_scikit_learns_too():
    from sklearn.exceptions import InconsistentVersionWarning as SklearnWarning

    assert issubclass(InconsistentVersionWarning, SklearnWarning)


def test_loading_with_the_same_version_is_silent():
    model = _fitted(GMJE(n_components=2, random_state=0))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pickle.loads(pickle.dumps(model))


def test_an_unfitted_estimator_round_trips():
    model = pickle.loads(pickle.dumps(GMJE(n_components=3)))
    assert model.get_params() == GMJE(n_components=3).get_params()


@pytest.mark.parametrize("estimator", estimators(STREAMING), ids=repr)
def test_a_loaded_model_streams_on_as_the_saved_one(estimator):
    """What partial_fit needs (the bank's masses, the graph, the random state) is saved."""
    X, y = _data()
    model = clone(estimator).partial_fit(X[:40], y[:40])
    restored = pickle.loads(pickle.dumps(model))
    model.partial_fit(X[40:], y[40:])
    restored.partial_fit(X[40:], y[40:])
    np.testing.assert_array_equal(restored.score_samples(X, y), model.score_samples(X, y))
