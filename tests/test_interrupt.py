"""A torch fit interrupted by KeyboardInterrupt keeps its last finished epoch, or nothing."""

import copy

import numpy as np
import pytest
import torch
from sklearn.exceptions import NotFittedError

from skgmje import GMJEMDN, JointEmbedding, _torch_runtime, embedding, mdn
from skgmje.datasets import make_separated_branches


def _interrupt_at_call(monkeypatch, owner, call):
    """Make ``owner.forward`` raise KeyboardInterrupt on its ``call``-th call (from 1)."""
    forward, calls = owner.forward, []

    def interrupted(self, *args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt
        return forward(self, *args, **kwargs)

    monkeypatch.setattr(owner, "forward", interrupted)


def _record_epoch_ends(monkeypatch):
    """Keep a copy of the module's weights at every epoch end."""
    on_epoch_end, states = _torch_runtime.KeepFinishedEpoch.on_epoch_end, []

    def recording(self, net, **kwargs):
        on_epoch_end(self, net, **kwargs)
        states.append(copy.deepcopy(net.module_.state_dict()))

    monkeypatch.setattr(_torch_runtime.KeepFinishedEpoch, "on_epoch_end", recording)
    return states


def _assert_same_weights(module, state):
    for name, value in module.state_dict().items():
        torch.testing.assert_close(value, state[name], rtol=0, atol=0)


MDN_OPTIONS = dict(hidden_layer_sizes=(16,), max_epochs=4, batch_size=64, random_state=0)


def test_an_interrupted_mdn_keeps_its_last_finished_epoch(monkeypatch):
    X, y = make_separated_branches(n_samples=300, random_state=0)  # 5 batches an epoch
    with monkeypatch.context() as patch:
        states = _record_epoch_ends(patch)
        GMJEMDN(**MDN_OPTIONS).fit(X, y)
    _interrupt_at_call(monkeypatch, mdn.MixtureNLL, 13)  # the third batch of epoch 3
    with pytest.warns(UserWarning, match="keeps its 2 finished epoch"):
        model = GMJEMDN(**MDN_OPTIONS).fit(X, y)
    assert model.n_epochs_ == 2 and len(model.net_.history) == 2
    _assert_same_weights(model.net_.module_, states[1])
    assert np.all(np.isfinite(model.score_samples(X, y)))


def test_an_mdn_interrupted_in_its_first_epoch_stays_unfitted(monkeypatch):
    X, y = make_separated_branches(n_samples=300, random_state=0)
    _interrupt_at_call(monkeypatch, mdn.MixtureNLL, 2)
    model = GMJEMDN(**MDN_OPTIONS)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X, y)
    with pytest.raises(NotFittedError):
        model.predict(X)


def test_an_interrupted_embedding_keeps_its_last_finished_epoch(monkeypatch):
    X = np.random.RandomState(0).uniform(size=(128, 16)).astype(np.float32)  # 2 batches
    options = dict(
        objective="infonce",
        hidden_layer_sizes=(16,),
        embedding_dim=4,
        max_epochs=3,
        batch_size=64,
        random_state=0,
    )
    with monkeypatch.context() as patch:
        states = _record_epoch_ends(patch)
        JointEmbedding(**options).fit(X)
    _interrupt_at_call(monkeypatch, embedding.JointObjective, 4)  # the second batch of epoch 2
    with pytest.warns(UserWarning, match="keeps its 1 finished epoch"):
        model = JointEmbedding(**options).fit(X)
    assert len(model.net_.history) == 1
    _assert_same_weights(model.net_.module_, states[0])
    assert model.transform(X).shape == (128, 4)


def test_an_embedding_interrupted_in_its_first_epoch_stays_unfitted(monkeypatch):
    X = np.random.RandomState(0).uniform(size=(128, 16)).astype(np.float32)
    _interrupt_at_call(monkeypatch, embedding.JointObjective, 1)
    model = JointEmbedding("infonce", hidden_layer_sizes=(16,), embedding_dim=4, max_epochs=2)
    with pytest.raises(KeyboardInterrupt):
        model.fit(X)
    assert not hasattr(model, "n_features_in_")
    with pytest.raises(NotFittedError):
        model.transform(X)
