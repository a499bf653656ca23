"""skgmje: Gaussian (Mixture) Joint Embeddings as scikit-learn estimators.

Closed-form conditional densities ``p(y | x)`` for targets that are genuinely
multi-valued, with calibrated uncertainty and generative sampling.
"""

from .dual_gje import DualGJE
from .embedding import JointEmbedding
from .gje import GJE
from .gmje import GMJE
from .gng import GMJEGNG
from .mdn import GMJEMDN
from .mixture import GaussianMixtureDistribution
from .smc import SMCGMJE

__version__ = "0.1.0"

__all__ = [
    "DualGJE",
    "GJE",
    "GMJE",
    "GMJEGNG",
    "GMJEMDN",
    "GaussianMixtureDistribution",
    "JointEmbedding",
    "SMCGMJE",
    "__version__",
]
