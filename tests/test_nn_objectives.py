"""The objective registry: one class per JointEmbedding objective, its policy and its state."""

import numpy as np
import pytest
import torch
from torch.nn import functional as F

from skgmje import JointEmbedding
from skgmje.embedding import (
    DEFAULT_ENTROPY_WEIGHTS,
    DENSITY_OBJECTIVES,
    EMA_OBJECTIVES,
    KERNEL_OBJECTIVES,
    OBJECTIVES,
    PAPER_ENTROPY_WEIGHTS,
    SYMMETRIC_OBJECTIVES,
)
from skgmje.nn.objectives import REGISTRY, Objective, make_objective, objectives_where
from skgmje.nn.two_view import JointObjective


def test_the_registry_holds_the_policies_the_estimator_documents():
    assert OBJECTIVES == (
        "gje",
        "dual-gje",
        "hsic",
        "gmje",
        "gmje-mdn",
        "infonce",
        "moco",
        "smc-gmje",
    )
    assert EMA_OBJECTIVES == ("dual-gje", "moco", "smc-gmje")
    assert DENSITY_OBJECTIVES == ("gmje", "gmje-mdn", "smc-gmje")
    assert SYMMETRIC_OBJECTIVES == ("gje", "hsic")
    assert KERNEL_OBJECTIVES == ("dual-gje", "hsic")
    assert DEFAULT_ENTROPY_WEIGHTS == {
        "gje": 0.5,
        "dual-gje": 0.0,
        "hsic": 0.0,
        "gmje": 0.5,
        "gmje-mdn": 2.0,
        "infonce": 0.0,
        "moco": 0.0,
        "smc-gmje": 0.01,
    }
    assert PAPER_ENTROPY_WEIGHTS == dict.fromkeys(OBJECTIVES, 0.0) | {"gje": 1.0, "gmje": 1.0}
    assert objectives_where("records_ess") == ("smc-gmje",)
    for name, objective in REGISTRY.items():
        assert issubclass(objective, Objective) and objective.name == name


@pytest.mark.parametrize("name", OBJECTIVES)
def test_each_objective_takes_only_the_options_it_names(name):
    options = dict(
        embedding_dim=3,
        temperature=0.2,
        n_prototypes=2,
        bank_size=8,
        seed=0,
        entropy_weight=0.1,
        bank_tempering=0.5,
        prototype_covariance="batch",
        kernel="linear",
        whiten=True,
    )
    objective = make_objective(name, **options)
    assert type(objective) is REGISTRY[name] and objective.entropy_weight == 0.1
    generator = torch.Generator().manual_seed(0)
    query, key = (torch.randn(12, 3, generator=generator) for _ in range(2))
    loss = objective.train()(query, key, torch.arange(12), update=True)
    assert loss.shape == () and torch.isfinite(loss)


def test_the_criterion_reads_the_objective_state_through():
    criterion = JointObjective("smc-gmje", 3, 0.2, 2, 8, seed=0, bank_tempering=0.5)
    assert criterion.bank is criterion.pair_loss.bank
    assert criterion.bank.tempering == 0.5 and criterion.temperature == 0.2
    assert criterion.objective == "smc-gmje"
    with pytest.raises(AttributeError, match="prototypes"):
        criterion.prototypes  # noqa: B018
    gmje = JointObjective("gmje", 3, 0.2, 2, 8, seed=0)
    assert {name for name, _ in gmje.named_parameters()} >= {"pair_loss.prototypes.prototypes"}


class _Alignment(Objective):
    """A toy objective: the mean squared distance of the normalised views, plus the entropy."""

    name = "alignment"
    has_latent_density = True
    default_entropy_weight = 0.25

    def forward(self, query, key, index=None, update=False):
        unit_query, unit_key = F.normalize(query, dim=1), F.normalize(key, dim=1)
        loss = (unit_query - unit_key).pow(2).sum(1).mean()
        return self.with_view_entropies(loss, unit_query, unit_key)


def test_a_registered_class_is_a_new_objective_of_the_estimator(monkeypatch):
    monkeypatch.setitem(REGISTRY, _Alignment.name, _Alignment)
    X = np.random.RandomState(0).uniform(size=(120, 10))
    model = JointEmbedding(
        "alignment", embedding_dim=3, hidden_layer_sizes=(8,), max_epochs=2, random_state=0
    )
    assert model._entropy_weight() == 0.25
    model.fit(X)
    assert type(model.net_.criterion_.pair_loss) is _Alignment
    assert model.net_.module_.target_encoder is None and model.net_.module_.symmetric
    assert model.transform(X).shape == (120, 3)
    assert model.sample_embeddings(4, random_state=0).shape == (4, 3)
