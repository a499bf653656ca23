"""The paper's training objectives as plain functions of tensors (MATH.md sections 2-8)."""

import math

import torch

LOG_2PI = math.log(2.0 * math.pi)


def mixture_log_prob(log_weights, means, scale_tril, targets):
    """``log sum_k w_k N(y | mu_k, L_k L_k^T)`` per row, computed with log-sum-exp.

    Parameters
    ----------
    log_weights : Tensor of shape (n, K)
        Normalised log mixture weights (e.g. from ``log_softmax``).
    means : Tensor of shape (n, K, dy)
    scale_tril : Tensor of shape (n, K, dy, dy)
        Lower-triangular Cholesky factors with a positive diagonal.
    targets : Tensor of shape (n, dy)

    Returns
    -------
    Tensor of shape (n,)
    """
    diff = (targets[:, None, :] - means).unsqueeze(-1)
    whitened = torch.linalg.solve_triangular(scale_tril, diff, upper=False).squeeze(-1)
    log_dets = torch.log(torch.diagonal(scale_tril, dim1=-2, dim2=-1)).sum(-1)
    n_targets = means.shape[-1]
    component = -0.5 * whitened.pow(2).sum(-1) - log_dets - 0.5 * n_targets * LOG_2PI
    return torch.logsumexp(log_weights + component, dim=-1)


def mdn_nll(log_weights, means, scale_tril, targets, context_log_prob=None):
    """GMJE-MDN objective (Eq. 23): mean ``-log p(y | x)``, plus ``-log p(x)`` when given.

    The parameter network sees only the context, so the conditional term is the
    mixture density of the target; the optional context term turns it into the
    joint negative log-likelihood ``-log p(x) - log p(y | x)``.

    Parameters
    ----------
    log_weights, means, scale_tril : Tensors
        The network's mixture parameters, as in :func:`mixture_log_prob`.
    targets : Tensor of shape (n, dy)
    context_log_prob : Tensor of shape (n,), optional
        ``log p(x_i)`` under a model of the contexts.

    Returns
    -------
    Tensor
        A scalar.
    """
    loss = -mixture_log_prob(log_weights, means, scale_tril, targets).mean()
    if context_log_prob is not None:
        loss = loss - context_log_prob.mean()
    return loss
