"""The ``"infonce"`` objective: SimCLR's InfoNCE with in-batch negatives."""

from torch.nn import functional as F

from ..losses import infonce_loss
from ._base import Objective

__all__ = ["InfoNCEObjective"]


class InfoNCEObjective(Objective):
    """``InfoNCE - w E(q)``, the batch's other keys the negatives ([GMJE]_ Eq. 31).

    The loss is :func:`~skgmje.nn.losses.infonce_loss` of the l2-normalised
    views.

    Parameters
    ----------
    temperature : float, default=0.2
    entropy_weight : float, default=0.0
    """

    name = "infonce"

    def __init__(self, *, temperature=0.2, entropy_weight=0.0):
        super().__init__(entropy_weight=entropy_weight)
        self.temperature = temperature

    def forward(self, query, key, index=None, update=False):
        unit_query, unit_key = F.normalize(query, dim=1), F.normalize(key, dim=1)
        loss = infonce_loss(unit_query, unit_key, temperature=self.temperature)
        return self.with_query_entropy(loss, unit_query)
