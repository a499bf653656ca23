"""The mixture density network's losses: ``-log p(y | x)``, and GMJE-MDN's ``-log p(x, y)``.

The views are the ``context`` ``x`` the network reads and the ``target``
``y`` whose density it predicts (user guide, "GMJEMDN").
"""

import math

import torch

from .._linalg import jittered_cholesky, log_det_from_cholesky, second_moment, whiten_rows

__all__ = ["LOG_2PI", "gmje_mdn_loss", "mdn_nll", "mixture_log_prob"]

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
    log_dets = log_det_from_cholesky(scale_tril)
    n_targets = means.shape[-1]
    component = -0.5 * (whitened.pow(2).sum(-1) + log_dets + n_targets * LOG_2PI)
    return torch.logsumexp(log_weights + component, dim=-1)


def mdn_nll(log_weights, means, scale_tril, targets, context_log_prob=None):
    """GMJE-MDN objective ([GMJE]_ Eq. 23): mean ``-log p(y | x)``, plus ``-log p(x)`` when given.

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


def gmje_mdn_loss(
    context, target, log_weights, means, scale_tril, context_covariance=None, eps=1e-4
):
    """GMJE-MDN ([GMJE]_ Eq. 23; user guide, "GMJEMDN"): the mean ``-log p(x) - log p(y | x)``.

    ``-log p(x) = x^T Sigma_c^-1 x / 2 + log|Sigma_c| / 2 + (dx/2) log 2 pi`` is the
    context marginal under ``N(0, Sigma_c + eps I)``, and
    ``-log p(y | x) = -log sum_k pi_k(x) N(y | mu_k(x), L_k(x) L_k(x)^T)`` the
    mixture density network's term (:func:`mdn_nll`); this is [GMJE]_ Eq. 23 plus the
    constant ``(dx/2) log 2 pi``. ``Sigma_c`` must trail the batch (an EMA,
    [GMJE]_ footnote 31): a covariance computed from the same batch with
    gradient would cancel the Mahalanobis term (the trace trap).

    Parameters
    ----------
    context : Tensor of shape (N, dx)
        Context embeddings ``x``.
    target : Tensor of shape (N, dy)
        Target embeddings ``y``.
    log_weights, means, scale_tril : Tensors of shape (N, K), (N, K, dy), (N, K, dy, dy)
        The parameter network's output for ``x`` (as
        :class:`skgmje.nn.mdn.MixtureDensityNetwork`).
    context_covariance : Tensor of shape (dx, dx), optional
        ``Sigma_c``; ``None`` uses the batch's ``X^T X / N`` under a stop-gradient.
    eps : float, default=1e-4
        Jitter on ``Sigma_c``.

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import math, torch
    >>> from skgmje.nn.losses import gmje_mdn_loss
    >>> x, y = torch.zeros(1, 2), torch.zeros(1, 1)
    >>> loss = gmje_mdn_loss(x, y, torch.zeros(1, 1), torch.zeros(1, 1, 1),
    ...                      torch.ones(1, 1, 1, 1), torch.eye(2), eps=0.0)
    >>> math.isclose(float(loss), 1.5 * math.log(2 * math.pi), rel_tol=1e-6)  # N(0; 0, I_3)
    True
    """
    if context_covariance is None:
        context_covariance = second_moment(context).detach()
    factor = jittered_cholesky(context_covariance, eps)
    mahalanobis = whiten_rows(factor, context).pow(2).sum(1)
    context_log_prob = -0.5 * (
        mahalanobis + log_det_from_cholesky(factor) + context.shape[1] * LOG_2PI
    )
    return mdn_nll(log_weights, means, scale_tril, target, context_log_prob)
