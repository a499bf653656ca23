"""skgmje: Gaussian (Mixture) Joint Embeddings as scikit-learn estimators.

Closed-form conditional densities ``p(y | x)`` for targets that are genuinely
multi-valued, with calibrated uncertainty and generative sampling.
"""

import importlib

from ._optional import require_torch
from .bayesian_gmje import BayesianGMJE
from .dual_gje import DualGJE
from .gje import GJE
from .gmje import GMJE
from .gng import GMJEGNG
from .impute import GaussianMixtureImputer
from .mixture import GaussianMixtureDistribution, HighestDensityRegion
from .smc import SMCGMJE

# The torch estimators load on first use, so that NumPy-only work (and every dask
# worker of a distributed GMJE fit) does not import torch, which costs every process
# seconds and hundreds of MB; torch and skorch are the "torch" extra.
_TORCH_ESTIMATORS = {"GMJEMDN": ".mdn", "JointEmbedding": ".embedding"}

__version__ = "0.1.0"

__all__ = [
    "BayesianGMJE",
    "DualGJE",
    "GJE",
    "GMJE",
    "GMJEGNG",
    "GMJEMDN",
    "GaussianMixtureDistribution",
    "GaussianMixtureImputer",
    "HighestDensityRegion",
    "JointEmbedding",
    "SMCGMJE",
    "__version__",
]


def __getattr__(name):
    if name in _TORCH_ESTIMATORS:
        require_torch(f"skgmje.{name}")
        value = getattr(importlib.import_module(_TORCH_ESTIMATORS[name], __name__), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_TORCH_ESTIMATORS))
