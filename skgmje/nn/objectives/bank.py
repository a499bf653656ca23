"""The bank objectives, ``"moco"`` and ``"smc-gmje"``: InfoNCE against a memory bank of EMA keys."""

import torch
from torch.nn import functional as F

from ..losses import infonce_from_logits
from ..memory import FIFOBank, SMCBank
from ._base import Objective

__all__ = ["MoCoObjective", "SMCGMJEObjective"]


class _BankObjective(Objective):
    """``InfoNCE - w E(q)`` with the bank's keys and the batch's as negatives.

    Each query is scored against the pool ``[bank.keys; keys]``; a bank key
    stored from an earlier view of the query's own training row is no
    negative for it (nor a vote in the SMC weights):
    :meth:`~skgmje.nn.memory.FIFOBank.logits` masks it. Both banks hold
    uniformly weighted keys, so the loss is the SMC-weighted InfoNCE of
    [GMJE]_ Eq. 33 with the weights omitted. With ``update`` the bank takes
    the batch's keys, once per step.
    """

    uses_ema_target = True

    def __init__(self, bank, *, temperature, entropy_weight):
        super().__init__(entropy_weight=entropy_weight)
        self.bank = bank
        self.temperature = temperature

    def forward(self, query, key, index=None, update=False):
        unit_query, unit_key = F.normalize(query, dim=1), F.normalize(key, dim=1)
        logits = self.bank.logits(unit_query, unit_key, self.temperature, ids=index)
        positives = self.bank.n_keys + torch.arange(len(unit_query), device=logits.device)
        loss = infonce_from_logits(logits, positives)
        if update:
            self.bank.update(unit_key, logits, ids=index)
        return self.with_query_entropy(loss, unit_query)


class MoCoObjective(_BankObjective):
    """InfoNCE against a FIFO queue of EMA keys (:class:`~skgmje.nn.memory.FIFOBank`).

    Parameters
    ----------
    embedding_dim : int
    bank_size : int
    temperature : float, default=0.2
    entropy_weight : float, default=0.0
    """

    name = "moco"

    def __init__(self, *, embedding_dim, bank_size, temperature=0.2, entropy_weight=0.0):
        super().__init__(
            FIFOBank(bank_size, embedding_dim),
            temperature=temperature,
            entropy_weight=entropy_weight,
        )


class SMCGMJEObjective(_BankObjective):
    """InfoNCE against an SMC particle bank (:class:`~skgmje.nn.memory.SMCBank`, [GMJE]_ Algo 2).

    Keys are reweighted by the queries and resampled every step, so the
    plain loss over the bank is the weighted one of [GMJE]_ Eq. 33. The entropy
    term is on by default, a deviation from [GMJE]_ Algo 2: the weights of [GMJE]_ Eq. 34
    favour the keys nearest the queries, hard negatives, which on data with
    few classes are often the queries' own class; without the term the
    embedding can collapse (see the user guide).

    Parameters
    ----------
    embedding_dim : int
    bank_size : int
    seed : int
        Seeds the resampling.
    bank_tempering : float in [0, 1], default=1.0
        :class:`~skgmje.nn.memory.SMCBank`'s ``tempering``.
    temperature : float, default=0.2
    entropy_weight : float, default=0.0
    """

    name = "smc-gmje"
    has_latent_density = True
    records_ess = True
    default_entropy_weight = 0.01

    def __init__(
        self,
        *,
        embedding_dim,
        bank_size,
        seed,
        bank_tempering=1.0,
        temperature=0.2,
        entropy_weight=0.0,
    ):
        super().__init__(
            SMCBank(bank_size, embedding_dim, tempering=bank_tempering, random_state=seed),
            temperature=temperature,
            entropy_weight=entropy_weight,
        )
