"""skgmje: Gaussian (Mixture) Joint Embeddings as scikit-learn estimators.

Closed-form conditional densities ``p(y | x)`` for targets that are genuinely
multi-valued, with calibrated uncertainty and generative sampling.
"""

from .dual_gje import DualGJE
from .gje import GJE
from .gmje import GMJE
from .mixture import GaussianMixtureDistribution

__version__ = "0.1.0"

__all__ = ["DualGJE", "GJE", "GMJE", "GaussianMixtureDistribution", "__version__"]
