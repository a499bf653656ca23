"""The ``"dual-gje"`` objective: the Gaussian-process loss of the target view given the context."""

import math

from torch.nn import functional as F

from ..losses import dual_gje_loss, whiten_batch
from ._base import KernelObjective

__all__ = ["WHITENED_NOISE_VARIANCE", "DualGJEObjective"]

# The GP noise variance on whitened views: there the linear kernel's log-determinant moves
# only through the whitening's jitter, and the paper's 0.1 lets that reward damping context
# dimensions.
WHITENED_NOISE_VARIANCE = 0.01


class DualGJEObjective(KernelObjective):
    """``L_dual / N - w E(q)`` (:func:`~skgmje.nn.losses.dual_gje_loss`, [GMJE]_ Eq. 3-4).

    The keys come from the EMA target encoder and carry no gradient, so the
    entropy term acts on the queries alone. Without ``whiten`` the loss
    takes the l2-normalised views (length scale 1, noise variance 0.1, the
    paper's objective). With ``whiten`` it takes each view's whitened batch
    (:func:`~skgmje.nn.losses.whiten_batch`) and noise variance 0.01: with
    the linear kernel, the GP of Bayesian linear regression of the whitened
    target on the whitened context ([GMJE]_ Appendix J), whose data fit falls
    as the squared canonical correlations rise; with the RBF kernel, length
    scale ``sqrt(D)``, as whitened views lie about ``sqrt(2 D)`` apart.

    Takes ``kernel``, ``whiten`` and ``entropy_weight`` (``KernelObjective``).
    """

    name = "dual-gje"
    uses_ema_target = True

    def forward(self, query, key, index=None, update=False):
        unit_query, unit_key = F.normalize(query, dim=1), F.normalize(key, dim=1)
        if self.whiten:
            loss = dual_gje_loss(
                whiten_batch(query),
                whiten_batch(key.detach()),
                kernel=self.kernel,
                length_scale=math.sqrt(query.shape[1]),
                noise_variance=WHITENED_NOISE_VARIANCE,
            )
        else:
            loss = dual_gje_loss(unit_query, unit_key, kernel=self.kernel)
        return self.with_query_entropy(loss / len(unit_query), unit_query)
