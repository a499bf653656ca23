"""The GMJE paper's training objectives as functions of tensors (the user guide's estimator pages).

Every function takes the embeddings of a batch (rows are samples) and returns a
scalar to minimise. Covariances enter through Cholesky factors with a jitter
(never an explicit inverse; :func:`jittered_cholesky` states the policy),
mixtures through log-sum-exp. The learnable parameters of an objective
(prototypes, kernel hyper-parameters, ...) are plain tensors owned by the
caller; :class:`PrototypeGMJE` holds those of the prototype objective.

One module per family, each naming the two views one way:

- :mod:`~skgmje.nn.losses.gaussian`: GJE, the naive joint NLL and batch
  whitening (views ``z_a``, ``z_b``);
- :mod:`~skgmje.nn.losses.dual_gje`: the Gaussian-process loss (``context``,
  ``target``);
- :mod:`~skgmje.nn.losses.hsic`: HSIC (``z_a``, ``z_b``);
- :mod:`~skgmje.nn.losses.mixture`: prototype GMJE (``z_a``, ``z_b``);
- :mod:`~skgmje.nn.losses.mixture_density`: the mixture density network's
  losses (``context``, ``target``);
- :mod:`~skgmje.nn.losses.contrastive`: InfoNCE and its SMC-weighted form
  (``query``, ``key``).

``cholesky`` is the former name of :func:`jittered_cholesky`; it still works,
with a ``FutureWarning``.
"""

from .._deprecation import deprecated_aliases
from .._linalg import jittered_cholesky, second_moment
from .contrastive import infonce_from_logits, infonce_loss, smc_infonce_loss
from .dual_gje import dual_gje_loss, sample_fourier_basis
from .gaussian import ENTROPY_TYPES, gje_loss, naive_joint_nll, whiten_batch
from .hsic import hsic_loss
from .mixture import PrototypeGMJE, batch_prototype_scale_tril, prototype_gmje_loss
from .mixture_density import LOG_2PI, gmje_mdn_loss, mdn_nll, mixture_log_prob

__all__ = [
    "ENTROPY_TYPES",
    "LOG_2PI",
    "PrototypeGMJE",
    "batch_prototype_scale_tril",
    "dual_gje_loss",
    "gje_loss",
    "gmje_mdn_loss",
    "hsic_loss",
    "infonce_from_logits",
    "infonce_loss",
    "jittered_cholesky",
    "mdn_nll",
    "mixture_log_prob",
    "naive_joint_nll",
    "prototype_gmje_loss",
    "sample_fourier_basis",
    "second_moment",
    "smc_infonce_loss",
    "whiten_batch",
]

__getattr__ = deprecated_aliases(__name__, {"cholesky": ("jittered_cholesky", jittered_cholesky)})
