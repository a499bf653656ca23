"""Two-view training in torch: the module that embeds two augmented views, the loss of the pairs.

In training mode :class:`TwoViewModule` returns ``(query, key)`` pairs: the
online encoder's embedding of one view and the target encoder's of the
other. :class:`JointObjective` scores them with one registered objective
(:mod:`skgmje.nn.objectives`) and averages. skorch trains the two as module
and criterion (:class:`skgmje.JointEmbedding`).
"""

import copy

import torch
from torch import nn

from .augment import TwoViews
from .objectives import make_objective

__all__ = ["JointObjective", "TwoViewModule"]


class TwoViewModule(nn.Module):
    """The encoder and, in training mode, the two augmented views it embeds.

    ``forward`` in training mode returns ``(pairs, index)``. ``pairs`` holds
    ``(query, key)``: the online encoder on view a and the target encoder (an
    EMA copy, or the online encoder itself) on view b; with ``symmetric``,
    first the swapped pair, view b online against view a's target. ``index``
    holds the rows' indices in the training set (for the banks). In
    evaluation mode it returns the online embedding of the input.

    Parameters
    ----------
    encoder : torch.nn.Module
    augment : callable
        ``augment(X, generator)``, one augmented view of the rows.
    use_ema : bool
        Give the key view a target encoder, a copy of ``encoder`` without
        gradient (moved by :class:`~skgmje.nn._two_view_training.EMATarget`).
    seed : int
        Seeds the augmentations.
    symmetric : bool, default=False
    """

    def __init__(self, encoder, augment, use_ema, seed, symmetric=False):
        super().__init__()
        self.encoder = encoder
        self.target_encoder = copy.deepcopy(encoder) if use_ema else None
        if self.target_encoder is not None:
            self.target_encoder.requires_grad_(False)
        self.views = TwoViews(augment)
        self.symmetric = symmetric
        self.generator = torch.Generator().manual_seed(seed)

    def forward(self, X, index=None):
        if not self.training:
            return self.encoder(X)
        view_a, view_b = self.views(X, self.generator)
        straight = (self.encoder(view_a), self._target(view_b))
        if not self.symmetric:
            return (straight,), index
        if self.target_encoder is None:
            # The target is the online encoder: the straight pair's embeddings, swapped.
            return ((straight[1], straight[0]), straight), index
        return ((self.encoder(view_b), self._target(view_a)), straight), index

    def _target(self, view):
        if self.target_encoder is None:
            return self.encoder(view)
        with torch.no_grad():
            return self.target_encoder(view)


class JointObjective(nn.Module):
    """skorch criterion: the mean loss of the ``(query, key)`` pairs under one objective.

    The objective (``pair_loss``, from :data:`skgmje.nn.objectives.REGISTRY`)
    owns the state and the learnable parameters, which skorch trains with
    the encoder; they read through the criterion too (``criterion.bank``,
    ``criterion.prototypes``, ``criterion.head``). State moves once per
    training step, with the last pair, after every pair has been scored
    against the old state.

    Parameters
    ----------
    objective : str
        A key of :data:`skgmje.nn.objectives.REGISTRY`.
    embedding_dim, temperature, n_prototypes, bank_size, seed
        Options of :class:`~skgmje.JointEmbedding` (``seed`` its torch seed);
        the objective takes those it uses.
    entropy_weight, bank_tempering, prototype_covariance, kernel, whiten
        Likewise.
    """

    def __init__(
        self,
        objective,
        embedding_dim,
        temperature,
        n_prototypes,
        bank_size,
        seed,
        entropy_weight=0.0,
        bank_tempering=1.0,
        prototype_covariance="learned",
        kernel="rbf",
        whiten=False,
    ):
        super().__init__()
        self.objective = objective
        self.pair_loss = make_objective(
            objective,
            embedding_dim=embedding_dim,
            temperature=temperature,
            n_prototypes=n_prototypes,
            bank_size=bank_size,
            seed=seed,
            entropy_weight=entropy_weight,
            bank_tempering=bank_tempering,
            prototype_covariance=prototype_covariance,
            kernel=kernel,
            whiten=whiten,
        )

    def forward(self, views, _=None):
        """The mean loss over the ``(query, key)`` pairs of ``views = (pairs, index)``."""
        pairs, index = views
        last = len(pairs) - 1
        losses = [
            self.pair_loss(query, key, index, update=self.training and i == last)
            for i, (query, key) in enumerate(pairs)
        ]
        return sum(losses) / len(losses)

    def __getattr__(self, name):
        try:
            return super().__getattr__(name)
        except AttributeError:
            if name.startswith("_") or name == "pair_loss":
                raise
            return getattr(super().__getattr__("pair_loss"), name)
