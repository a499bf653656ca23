"""What a user meets around the estimators: doc links, array-API inputs, logs."""

import os
import subprocess
import sys

import numpy as np
import pytest
from _roster import documented_path, estimators, transformers
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils import estimator_html_repr

from skgmje import GMJE, GMJEGNG, GMJEMDN, SMCGMJE, JointEmbedding
from skgmje._docs import DOCUMENTATION_URL
from skgmje.baselines import ResidualGaussianRegressor


@pytest.mark.parametrize(
    "estimator",
    # One configuration of each class: the link depends on the class only.
    list({type(estimator): estimator for estimator in estimators() + transformers()}.values()),
    ids=lambda estimator: type(estimator).__name__,
)
def test_the_html_repr_links_to_the_api_page(estimator):
    link = f"{DOCUMENTATION_URL}/generated/{documented_path(estimator)}.html"
    assert estimator._get_doc_link() == link
    assert link in estimator_html_repr(make_pipeline(StandardScaler(), estimator))


def test_the_api_pages_are_the_exported_paths():
    assert documented_path(GMJE()) == "skgmje.GMJE"
    assert documented_path(GMJEMDN()) == "skgmje.GMJEMDN"
    assert documented_path(JointEmbedding()) == "skgmje.JointEmbedding"
    assert (
        documented_path(ResidualGaussianRegressor()) == "skgmje.baselines.ResidualGaussianRegressor"
    )


def test_a_users_subclass_gets_no_link():
    class MyGMJE(GMJE):
        pass

    assert MyGMJE()._get_doc_link() == ""


def test_array_api_dispatch_with_torch_inputs_says_it_is_unsupported():
    pytest.importorskip("torch")
    script = """
import sklearn, torch
from skgmje import GMJE, JointEmbedding
X, y = torch.randn(40, 2, dtype=torch.float64), torch.randn(40, dtype=torch.float64)
with sklearn.config_context(array_api_dispatch=True):
    for fit in (lambda: GMJE(n_components=2).fit(X, y), lambda: JointEmbedding().fit(X)):
        try:
            fit()
        except TypeError as error:
            print(error)
    model = GMJE(n_components=2).fit(X.numpy(), y.numpy())  # NumPy inputs still work
    print("numpy score", model.score(X.numpy(), y.numpy()))
"""
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "SCIPY_ARRAY_API": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = result.stdout.splitlines()
    assert lines[0].startswith("GMJE computes with NumPy and does not support")
    assert "torch.Tensor" in lines[0] and "tensor.cpu().numpy()" in lines[0]
    assert lines[1].startswith("JointEmbedding computes with NumPy")
    assert lines[2].startswith("numpy score")


def _mdn_log(capsys, monkeypatch, terminal):
    monkeypatch.setattr(sys.stdout, "isatty", lambda: terminal)
    rng = np.random.RandomState(0)
    X = rng.normal(size=(60, 1))
    GMJEMDN(hidden_layer_sizes=(4,), max_epochs=3, verbose=1, random_state=0).fit(X, X[:, 0])
    return capsys.readouterr().out


def test_no_colour_codes_outside_a_terminal(capsys, monkeypatch):
    log = _mdn_log(capsys, monkeypatch, terminal=False)
    assert "train_loss" in log and "\x1b[" not in log


def test_colour_codes_in_a_terminal(capsys, monkeypatch):
    assert "\x1b[" in _mdn_log(capsys, monkeypatch, terminal=True)


@pytest.mark.parametrize(
    "estimator, detail",
    [
        (GMJEGNG(max_iter=1, random_state=0), "EM iteration"),
        (SMCGMJE(n_particles=32, batch_size=32, random_state=0), "Batch "),
        (SMCGMJE(n_particles=32, batch_size=32, random_state=0), "Bandwidth search"),
    ],
)
def test_verbose_2_adds_per_iteration_detail(estimator, detail, capsys):
    rng = np.random.RandomState(0)
    X = rng.normal(size=(200, 2))
    y = X[:, 0] + 0.1 * rng.normal(size=200)
    estimator.set_params(verbose=1).fit(X, y)
    first = capsys.readouterr().out
    estimator.set_params(verbose=2).fit(X, y)
    second = capsys.readouterr().out
    assert detail not in first and detail in second
    assert len(second.splitlines()) > len(first.splitlines())
