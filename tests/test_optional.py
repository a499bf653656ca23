"""torch and skorch are an extra: without them the NumPy estimators work, nothing imports
torch, and the torch estimators and ``skgmje.nn`` raise an ImportError naming the extra."""

import subprocess
import sys
import textwrap

import pytest

# A fresh interpreter in which importing torch or skorch fails, as on a machine without them.
WITHOUT_TORCH = """
import importlib.abc
import sys

class WithoutTorch(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("torch", "skorch"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)

sys.meta_path.insert(0, WithoutTorch())
"""


def _run(code):
    script = WITHOUT_TORCH + textwrap.dedent(code)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def test_the_numpy_estimators_work_without_torch():
    result = _run(
        """
        import numpy as np
        import skgmje
        from skgmje import GJE, GMJE, SMCGMJE, BayesianGMJE, DualGJE, GMJEGNG
        X = np.random.RandomState(0).normal(size=(60, 1))
        y = np.sin(3 * X[:, 0])
        for model in (GJE(), GMJE(n_components=2, random_state=0), DualGJE(),
                      BayesianGMJE(n_components=2, random_state=0),
                      GMJEGNG(max_iter=1, random_state=0),
                      SMCGMJE(n_particles=16, random_state=0)):
            assert np.isfinite(model.fit(X, y).score(X, y))
        assert not any(name.split(".")[0] in ("torch", "skorch") for name in sys.modules)
        """
    )
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(
    "statement, feature",
    [
        ("import skgmje; skgmje.GMJEMDN", "skgmje.GMJEMDN"),
        ("from skgmje import JointEmbedding", "skgmje.JointEmbedding"),
        ("import skgmje.nn.losses", "skgmje.nn"),
    ],
)
def test_the_torch_parts_name_the_extra(statement, feature):
    result = _run(statement)
    assert result.returncode != 0
    assert "ImportError" in result.stderr
    assert f'{feature} needs torch and skorch, which are an extra: pip install "skgmje[torch]"' in (
        result.stderr
    )


def test_the_demo_runs_without_its_torch_row():
    result = _run(
        """
        from skgmje import _demo
        lines = []
        labels = [label for label, _ in _demo._models(lines.append)]
        assert "GMJEMDN" not in labels and "GMJE (K auto)" in labels, labels
        assert lines and 'skgmje[torch]' in lines[0], lines
        """
    )
    assert result.returncode == 0, result.stderr
