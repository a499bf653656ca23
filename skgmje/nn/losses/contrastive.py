"""Contrastive losses: InfoNCE, and its SMC-weighted form against a bank of particles.

The views are the ``query`` (context) embeddings and their positive
``key`` embeddings; every form is one weighted softmax over scores,
:func:`infonce_from_logits` (user guide, "SMCGMJE").
"""

import math

import torch
from torch.nn import functional as F

__all__ = ["infonce_from_logits", "infonce_loss", "smc_infonce_loss"]


def infonce_from_logits(logits, positives, log_weights=None):
    """(Weighted) InfoNCE from scores: the softmax cross-entropy of each row's positive.

    ``L = (1/N) sum_i -log[w_ip exp(s_ip) / sum_j w_ij exp(s_ij)]``, with
    ``s = logits``, ``p = positives[i]`` the column of row ``i``'s positive
    and ``w = exp(log_weights)``: InfoNCE ([GMJE]_ Eq. 31) when the weights
    are uniform (or omitted: weights shared by a whole row cancel), the
    SMC-weighted InfoNCE ([GMJE]_ Eq. 33) when they are the particles'. Every
    contrastive loss of skgmje, functions and ``JointEmbedding`` objectives,
    reduces to this one.

    Parameters
    ----------
    logits : Tensor of shape (N, P)
        Scores ``q_i^T y_j / tau`` of each query against the pool of ``P``
        keys; ``-inf`` drops a key for that query.
    positives : Tensor of shape (N,) of int
        The column of each row's positive key.
    log_weights : Tensor of shape (P,) or (N, P), optional
        Unnormalised log-weights of the keys; ``-inf`` drops a key.

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import math, torch
    >>> from skgmje.nn.losses import infonce_from_logits
    >>> logits = torch.tensor([[1.0, 0.0, 0.0]])
    >>> round(float(infonce_from_logits(logits, torch.tensor([0]))), 6)
    0.551445
    >>> # Twice the weight on the positive: -log(2e / (2e + 2)).
    >>> log_weights = torch.log(torch.tensor([2.0, 1.0, 1.0]))
    >>> weighted = infonce_from_logits(logits, torch.tensor([0]), log_weights)
    >>> math.isclose(float(weighted), math.log(1 + 1 / math.e), rel_tol=1e-6)
    True
    """
    if log_weights is not None:
        logits = logits + log_weights
    return F.cross_entropy(logits, positives)


def infonce_loss(query, key, negatives=None, temperature=0.2):
    """InfoNCE ([GMJE]_ Eq. 31) on l2-normalised embeddings, with in-batch or bank negatives.

    ``L = (1/N) sum_i -log[exp(q_i^T k_i / tau) / sum_m exp(q_i^T y_m / tau)]``
    where the ``y_m`` are the batch's keys (``negatives=None``: the positive
    and the other ``N - 1`` keys) or the positive and the bank's ``M`` keys
    (MoCo). This is the DaM-GMJE conditional NLL ([GMJE]_ Eq. 29) with the isotropic
    covariance ``tau I`` in the low-temperature limit, up to an additive
    constant.

    Parameters
    ----------
    query : Tensor of shape (N, d)
        Context embeddings ``x``; normalised here.
    key : Tensor of shape (N, d)
        Their positives ``y_i`` (the target view); normalised here.
    negatives : Tensor of shape (M, d), optional
        A memory bank of keys; normalised here.
    temperature : float, default=0.2
        ``tau``.

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import math, torch
    >>> from skgmje.nn.losses import infonce_loss
    >>> views = torch.eye(3)  # orthogonal unit vectors: the positive scores 1, the others 0
    >>> round(float(infonce_loss(views, views, temperature=1.0)), 6)
    0.551445
    >>> round(math.log(1 + 2 / math.e), 6)
    0.551445
    """
    query = F.normalize(query, dim=1)
    key = F.normalize(key, dim=1)
    if negatives is None:
        logits = query @ key.T / temperature
        return infonce_from_logits(logits, torch.arange(query.shape[0], device=query.device))
    negatives = F.normalize(negatives, dim=1)
    positive = (query * key).sum(1, keepdim=True)
    logits = torch.cat([positive, query @ negatives.T], dim=1) / temperature
    return infonce_from_logits(logits, _first_column(query))


def smc_infonce_loss(query, key, bank, log_weights, temperature=0.2, positive_log_weights=None):
    """SMC-weighted InfoNCE ([GMJE]_ Eq. 33) against a bank of weighted particles.

    ``L = (1/N) sum_i -log[w_i+ exp(q_i^T k_i / tau) / (w_i+ exp(q_i^T k_i / tau)
    + sum_m w_m exp(q_i^T y_m / tau))]`` on l2-normalised embeddings, with
    bank keys ``y_m`` of weights ``w_m = exp(log_weights)``. The loss does not
    change when every weight is scaled alike, so the weights need not be
    normalised. The positive's weight ``w_i+`` defaults to the mean bank
    weight (a fresh particle of a uniform bank), so uniform weights give
    :func:`infonce_loss` with the bank as negatives. The weights are constants
    of the step (the SMC update is gradient-free).

    Parameters
    ----------
    query : Tensor of shape (N, d)
    key : Tensor of shape (N, d)
        Positives.
    bank : Tensor of shape (M, d)
        Particle keys.
    log_weights : Tensor of shape (M,)
        Unnormalised log-weights; ``-inf`` drops a particle.
    temperature : float, default=0.2
    positive_log_weights : Tensor of shape (N,), optional
        ``log w_i+`` on the scale of ``log_weights``.

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import infonce_loss, smc_infonce_loss
    >>> generator = torch.Generator().manual_seed(0)
    >>> q, k, bank = (torch.randn(n, 4, generator=generator) for n in (5, 5, 16))
    >>> uniform = smc_infonce_loss(q, k, bank, torch.full((16,), -2.0))
    >>> bool(torch.isclose(uniform, infonce_loss(q, k, negatives=bank)))
    True
    """
    query = F.normalize(query, dim=1)
    key = F.normalize(key, dim=1)
    bank = F.normalize(bank, dim=1)
    n_queries = query.shape[0]
    if positive_log_weights is None:
        mean_log_weight = torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
        positive_log_weights = mean_log_weight.expand(n_queries)
    positive = (query * key).sum(1, keepdim=True)
    logits = torch.cat([positive, query @ bank.T], dim=1) / temperature
    pool_log_weights = torch.cat(
        [positive_log_weights[:, None], log_weights.expand(n_queries, -1)], dim=1
    )
    return infonce_from_logits(logits, _first_column(query), pool_log_weights)


def _first_column(query):
    """The positives' column when each row's positive is scored first."""
    return torch.zeros(query.shape[0], dtype=torch.long, device=query.device)
