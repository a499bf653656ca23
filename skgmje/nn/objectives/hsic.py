"""The ``"hsic"`` objective: the views' kernel dependence, maximised."""

from torch.nn import functional as F

from ..losses import hsic_loss, whiten_batch
from ._base import KernelObjective

__all__ = ["HSICObjective"]


class HSICObjective(KernelObjective):
    """``-HSIC - (w / 2) (E(q) + E(k))`` (:func:`~skgmje.nn.losses.hsic_loss`, [GMJE]_ Appendix I).

    With ``whiten`` each view's batch is whitened first
    (:func:`~skgmje.nn.losses.whiten_batch`); with the linear kernel the
    loss is then ``-|C_ab|_F^2``, ``C_ab`` the cross-covariance of the
    whitened views: the normalised cross-covariance of Fukumizu et al.
    (2008), the sum of the squared canonical correlations between the views.
    A loss of whitened views cannot fall by shrinking or merging dimensions.
    Without whitening HSIC takes the raw embeddings (the RBF kernel's median
    heuristic). The entropy terms ``E`` act on the l2-normalised views.

    Takes ``kernel``, ``whiten`` and ``entropy_weight`` (``KernelObjective``).
    """

    name = "hsic"
    view_symmetric = True

    def forward(self, query, key, index=None, update=False):
        unit_query, unit_key = F.normalize(query, dim=1), F.normalize(key, dim=1)
        if self.whiten:
            query, key = whiten_batch(query), whiten_batch(key)
        loss = hsic_loss(query, key, kernel=self.kernel)
        return self.with_view_entropies(loss, unit_query, unit_key)
