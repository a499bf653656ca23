"""The ``"gmje-mdn"`` objective: a mixture density network from one view to the other."""

import math

import torch
from torch.nn import functional as F

from ..losses import gmje_mdn_loss
from ..mdn import MixtureDensityNetwork
from ._base import Objective

__all__ = ["GMJEMDNObjective"]


class GMJEMDNObjective(Objective):
    """``-log p(q) - log p(k | q) - (w / 2) (E(q) + E(k))`` ([GMJE]_ Eq. 23).

    A linear mixture density network (``head``) predicts the key from the
    query, both l2-normalised (:func:`~skgmje.nn.losses.gmje_mdn_loss`);
    the context marginal ``p(q)`` is Gaussian with a covariance
    (``context_covariance``) that trails the batches without their
    gradient ([GMJE]_ footnote 31). Eq. 23 alone rewards collapse (a point
    target has unbounded density): each view's Gaussian batch entropy, as in
    the GJE recipe, prevents it. The head starts at "the views agree",
    every component's mean the context itself.

    Parameters
    ----------
    embedding_dim : int
    n_prototypes : int
        The head's components.
    entropy_weight : float, default=0.0
    """

    name = "gmje-mdn"
    has_latent_density = True
    default_entropy_weight = 2.0

    def __init__(self, *, embedding_dim, n_prototypes, entropy_weight=0.0):
        super().__init__(entropy_weight=entropy_weight)
        self.head = MixtureDensityNetwork(
            embedding_dim,
            embedding_dim,
            n_prototypes,
            hidden_layer_sizes=(),
            covariance_type="diag",
            min_scale=1e-2,
        )
        _predict_agreement(self.head, scale=0.1)
        self.register_buffer("context_covariance", torch.eye(embedding_dim))

    def forward(self, query, key, index=None, update=False):
        unit_query, unit_key = F.normalize(query, dim=1), F.normalize(key, dim=1)
        loss = gmje_mdn_loss(
            unit_query,
            unit_key,
            *self.head(unit_query),
            context_covariance=self.context_covariance,
        )
        if update:
            batch = unit_query.detach()
            self.context_covariance.lerp_(batch.T @ batch / len(batch), 0.1)
        return self.with_view_entropies(loss, unit_query, unit_key)


def _predict_agreement(head, scale):
    """Start a linear MDN head at "the views agree": every component's mean is the context.

    Means ``mu_k(q) = q`` (plus noise of 0.01 to tell the components apart)
    and scales ``softplus^-1(scale)`` above the head's floor. From a random
    head the encoder chases the head's arbitrary predictions, as it chases
    a learned prototype covariance, and learns far less (see the user
    guide).
    """
    n_components, n_targets = head.n_components, head.n_targets
    with torch.no_grad():
        identity = torch.eye(n_targets, head.means.in_features).repeat(n_components, 1)
        head.means.weight.copy_(identity + 0.01 * torch.randn_like(identity))
        head.means.bias.zero_()
        head.diagonal.weight.zero_()
        head.diagonal.bias.fill_(math.log(math.expm1(scale)))
