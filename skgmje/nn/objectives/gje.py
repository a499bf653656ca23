"""The ``"gje"`` objective: primal GJE with the entropy fix, on the raw embeddings."""

from ..losses import gje_loss
from ._base import Objective

__all__ = ["GJEObjective"]


class GJEObjective(Objective):
    """:func:`~skgmje.nn.losses.gje_loss` of the raw embeddings ([GMJE]_ Algo 5).

    ``entropy_weight`` is the loss's own. At the paper's 1 the loss falls
    without end as the embeddings grow; at 0.5 the alignment's
    log-determinant and the entropy's scale alike, so the loss no longer
    depends on the embeddings' scale.
    """

    name = "gje"
    view_symmetric = True
    default_entropy_weight = 0.5
    paper_entropy_weight = 1.0

    def forward(self, query, key, index=None, update=False):
        return gje_loss(query, key, entropy_weight=self.entropy_weight)
