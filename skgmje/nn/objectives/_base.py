"""The base of :class:`~skgmje.JointEmbedding`'s objectives: a pair's loss, state and policy."""

from torch import nn

from .._linalg import batch_log_det

__all__ = ["ENTROPY_JITTER", "KernelObjective", "Objective"]

# Jitter of the entropy term's batch covariance, ``E(z) = log|S_z + 1e-4 I|``.
ENTROPY_JITTER = 1e-4


class Objective(nn.Module):
    """Base class of the objectives: the loss of one ``(query, key)`` pair of embedded views.

    A subclass is one value of ``JointEmbedding(objective=...)``. It states
    its policy in class attributes, builds its state (a memory bank, a
    head, buffers) in ``__init__`` and scores a pair in :meth:`forward`.
    Its constructor takes, as keywords, those of the estimator's options it
    uses: ``embedding_dim``, ``temperature``, ``n_prototypes``,
    ``bank_size``, ``seed``, ``entropy_weight``, ``bank_tempering``,
    ``prototype_covariance``, ``kernel`` and ``whiten``
    (:func:`skgmje.nn.objectives.make_objective` passes no others). Its
    learnable parameters train with the encoder. Adding an objective is one
    such class and its entry in :data:`skgmje.nn.objectives.REGISTRY`.

    Parameters
    ----------
    entropy_weight : float, default=0.0
        ``w``, the weight of the log-determinant entropy term
        ``E(z) = log|S_z + 1e-4 I|``, ``S_z`` the centred batch covariance
        of the l2-normalised embeddings (the entropy fix of primal GJE,
        [GMJE]_ Algo 5).

    Attributes
    ----------
    name : str
        The value of ``JointEmbedding``'s ``objective``.
    uses_ema_target : bool
        The key view goes through a slowly moving copy of the encoder
        (MoCo's key encoder): bank keys stay comparable across steps, and a
        conditional loss gets a target that does not chase its own context.
    view_symmetric : bool
        The loss does not change when the views swap, so scoring the swapped
        pair would only cost time.
    has_latent_density : bool
        ``JointEmbedding`` fits ``latent_density_`` on the joint embeddings.
    takes_kernel : bool
        ``kernel`` and ``whiten`` apply.
    records_ess : bool
        The objective holds a ``bank`` whose ``ess_history`` the estimator
        records per epoch.
    default_entropy_weight : float
        ``entropy_weight`` when the estimator's is None.
    paper_entropy_weight : float
        The weight that gives the objective as the paper (or its baseline)
        states it.
    """

    name = None
    uses_ema_target = False
    view_symmetric = False
    has_latent_density = False
    takes_kernel = False
    records_ess = False
    default_entropy_weight = 0.0
    paper_entropy_weight = 0.0

    def __init__(self, *, entropy_weight=0.0):
        super().__init__()
        self.entropy_weight = entropy_weight

    def forward(self, query, key, index=None, update=False):
        """The loss of one pair of embedded views; a scalar.

        Parameters
        ----------
        query : Tensor of shape (N, D)
            The online encoder's embedding of one view.
        key : Tensor of shape (N, D)
            The target encoder's embedding of the other view (without
            gradient when the objective ``uses_ema_target``).
        index : Tensor of shape (N,), optional
            The rows' indices in the training set.
        update : bool, default=False
            Move the objective's state (a bank, a running covariance) after
            scoring: once per training step, with its last pair.
        """
        raise NotImplementedError

    def with_query_entropy(self, loss, unit_query):
        """``loss - w E(q)``: only the queries carry a gradient (the keys come from the target).

        ``E`` spreads the context marginal (``unit_query`` l2-normalised).
        """
        if not self.entropy_weight:
            return loss
        return loss - self.entropy_weight * batch_log_det(unit_query, ENTROPY_JITTER)

    def with_view_entropies(self, loss, unit_query, unit_key):
        """``loss - (w / 2) (E(q) + E(k))``: both views carry a gradient."""
        if not self.entropy_weight:
            return loss
        entropies = batch_log_det(unit_query, ENTROPY_JITTER) + batch_log_det(
            unit_key, ENTROPY_JITTER
        )
        return loss - 0.5 * self.entropy_weight * entropies


class KernelObjective(Objective):
    """An objective that compares the views through a kernel (``kernel``, ``whiten`` apply).

    Parameters
    ----------
    kernel : {"rbf", "linear"}, default="rbf"
    whiten : bool, default=False
        Whiten each view's batch (:func:`~skgmje.nn.losses.whiten_batch`) first.
    entropy_weight : float, default=0.0
    """

    takes_kernel = True

    def __init__(self, *, kernel="rbf", whiten=False, entropy_weight=0.0):
        super().__init__(entropy_weight=entropy_weight)
        self.kernel = kernel
        self.whiten = whiten
