"""The ``"gmje"`` objective: prototype GMJE on the joint embedding of the two views."""

from torch.nn import functional as F

from ..losses import PrototypeGMJE
from ._base import Objective

__all__ = ["PrototypeGMJEObjective"]


class PrototypeGMJEObjective(Objective):
    """Learnable prototypes and mixing logits on ``[q, k]`` ([GMJE]_ Eq. 15).

    The views are l2-normalised and scored by
    :class:`~skgmje.nn.losses.PrototypeGMJE` (in ``prototypes``), whose own
    entropy term takes ``entropy_weight``. ``prototype_covariance="batch"``
    holds each batch's M-step covariance around the prototypes constant, so
    the Mahalanobis term aligns the views from the first step;
    ``"learned"`` trains a Cholesky factor with the encoder (the paper's
    relaxed EM by back-propagation). With the batch covariance, 0.5 is the
    default weight: a lower one let the embedding collapse and 1 learned
    little (see the user guide). Unlike the other objectives' state,
    :class:`~skgmje.nn.losses.PrototypeGMJE`'s covariance state moves at
    every call in training mode, so a symmetric step moves it twice.

    Parameters
    ----------
    embedding_dim : int
    n_prototypes : int
    prototype_covariance : {"learned", "batch"}, default="learned"
    entropy_weight : float, default=0.0
    """

    name = "gmje"
    has_latent_density = True
    default_entropy_weight = 0.5
    paper_entropy_weight = 1.0

    def __init__(
        self, *, embedding_dim, n_prototypes, prototype_covariance="learned", entropy_weight=0.0
    ):
        super().__init__(entropy_weight=entropy_weight)
        self.prototypes = PrototypeGMJE(
            2 * embedding_dim,
            n_prototypes,
            entropy_weight=entropy_weight,
            covariance=prototype_covariance,
        )

    def forward(self, query, key, index=None, update=False):
        return self.prototypes(F.normalize(query, dim=1), F.normalize(key, dim=1))
