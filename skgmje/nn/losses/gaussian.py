"""Gaussian joint embeddings: the primal GJE loss, its naive trap, and batch whitening.

The two views' embeddings are ``z_a`` and ``z_b`` throughout (rows are
samples); the joint embedding is ``z = [z_a, z_b]`` (user guide, "GJE").
"""

import torch

from .._deprecation import renamed_keyword
from .._linalg import jittered_cholesky, log_det_from_cholesky, second_moment, whiten_rows

__all__ = [
    "ENTROPY_TYPES",
    "entropy_log_det",
    "gje_loss",
    "naive_joint_nll",
    "whiten_batch",
]

ENTROPY_TYPES = ("joint", "views")


def whiten_batch(z, eps=1e-2):
    """The batch in whitened coordinates, ``(z - m) L^-T`` with ``L L^T = S + eps s I``.

    ``m`` and ``S`` are the batch mean and covariance (:func:`second_moment`
    of the centred rows) and ``s`` the mean of ``S``'s diagonal, held
    constant, so the jitter is relative: the result does not change when the
    batch is shifted or scaled, and its covariance ``L^-1 S L^-T`` is the
    identity but for the jitter. Gradients flow through ``m`` and ``L`` (as in
    W-MSE, Ermolov et al. 2021): a loss of whitened embeddings cannot be
    lowered by shrinking or correlating their dimensions, the dimensional
    collapse a log-determinant term only penalises.

    Parameters
    ----------
    z : Tensor of shape (N, D)
        ``N > D`` for a covariance of full rank.
    eps : float, default=1e-2
        Jitter relative to the mean variance. A dimension whose variance is
        far below ``eps s`` is not blown up to unit variance but damped: it
        carries little of the whitened batch.

    Returns
    -------
    Tensor of shape (N, D)
        Zeros for a constant batch.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import second_moment, whiten_batch
    >>> generator = torch.Generator().manual_seed(0)
    >>> z = torch.randn(500, 3, generator=generator, dtype=torch.float64) @ torch.tensor(
    ...     [[3.0, 1.0, 0.0], [0.0, 0.1, 0.0], [0.0, 0.0, 20.0]], dtype=torch.float64
    ... ) + 5.0
    >>> torch.allclose(second_moment(whiten_batch(z, eps=0.0)), torch.eye(3, dtype=torch.float64))
    True
    >>> # The weak middle column (scale 0.1 beside 3 and 20) is damped by the jitter.
    >>> second_moment(whiten_batch(z)).diagonal().round(decimals=2)
    tensor([0.8700, 0.0200, 1.0000], dtype=torch.float64)
    """
    centred = z - z.mean(0)
    covariance = second_moment(centred)
    mean_variance = float(covariance.detach().diagonal().mean())
    # A constant batch has nothing to whiten: it maps to zeros rather than failing.
    jitter = eps * mean_variance if mean_variance > 0 else max(eps, 1.0)
    return whiten_rows(jittered_cholesky(covariance, jitter), centred)


def entropy_log_det(covariance, n_first, eps, entropy):
    """``log|C + eps I|`` of the joint covariance, or the sum over the two views' blocks."""
    if entropy not in ENTROPY_TYPES:
        raise ValueError(f"entropy must be one of {ENTROPY_TYPES}, got {entropy!r}.")
    if entropy == "joint":
        return log_det_from_cholesky(jittered_cholesky(covariance, eps))
    blocks = (covariance[:n_first, :n_first], covariance[n_first:, n_first:])
    first, second = (log_det_from_cholesky(jittered_cholesky(block, eps)) for block in blocks)
    return first + second


def naive_joint_nll(z_a, z_b, eps=0.0, return_terms=False):
    """Naive empirical joint NLL ([GMJE]_ Eq. 9): the Mahalanobis trace trap (user guide, "GJE").

    With ``z_i = [z_a,i, z_b,i]`` and the zero-mean batch covariance
    ``S = Z^T Z / N`` of the same batch,

    ``L = (1/N) sum_i z_i^T (S + eps I)^-1 z_i + log|S + eps I|``

    (twice the NLL, constants dropped). With ``eps = 0`` the Mahalanobis term
    equals ``tr(S^-1 S) = D`` whatever the embeddings: no gradient reaches the
    encoders through it, and the log-determinant alone collapses them. It is
    here to show the trap; train with :func:`gje_loss` or :func:`prototype_gmje_loss`.

    Parameters
    ----------
    z_a, z_b : Tensor of shape (N, d_a) and (N, d_b)
        The two views' embeddings, ``N >= d_a + d_b`` for ``S`` to be invertible.
    eps : float, default=0.0
        Jitter on the batch covariance.
    return_terms : bool, default=False
        Also return ``{"mahalanobis": ..., "log_det": ...}``, the two summands.

    Returns
    -------
    loss : Tensor
        A scalar.
    terms : dict of str to Tensor
        Only with ``return_terms``.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import naive_joint_nll
    >>> z = torch.randn(50, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    >>> loss, terms = naive_joint_nll(z[:, :2], z[:, 2:], return_terms=True)
    >>> round(float(terms["mahalanobis"]), 10)  # tr(I_4), whatever the embeddings
    4.0
    """
    z = torch.cat([z_a, z_b], dim=1)
    factor = jittered_cholesky(second_moment(z), eps)
    mahalanobis = whiten_rows(factor, z).pow(2).sum(1).mean()
    log_det = log_det_from_cholesky(factor)
    loss = mahalanobis + log_det
    if return_terms:
        return loss, {"mahalanobis": mahalanobis, "log_det": log_det}
    return loss


@renamed_keyword("lam", "entropy_weight")
def gje_loss(
    z_a, z_b, entropy_weight=1.0, eps=1e-4, covariance=None, entropy="views", return_terms=False
):
    """Primal GJE with the entropy fix ([GMJE]_ Algo 5, user guide, "GJE").

    ``L = A - w * E``, ``w`` the ``entropy_weight``, where ``E`` is the
    log-determinant of the zero-mean batch covariance ``S = Z^T Z / N`` of
    ``z_i = [z_a,i, z_b,i]``, jittered:
    ``E = log|S_aa + eps I| + log|S_bb + eps I|``, its two views' diagonal
    blocks (``entropy="views"``), or ``E = log|S + eps I|``, the joint
    (``entropy="joint"``, the paper's literal form). The alignment ``A`` is
    twice the conditional NLL of ``z_b`` given ``z_a`` ([GMJE]_ Eq. 61,
    constants dropped) under the joint Gaussian ``N(0, C + eps I)``:

    ``A = (1/N) sum_i r_i^T S_b|a^-1 r_i + log|S_b|a|``,
    ``r_i = z_b,i - C_ba (C_aa + eps I)^-1 z_a,i``,
    ``S_b|a = C_bb + eps I - C_ba (C_aa + eps I)^-1 C_ab`` (the Schur complement).

    ``C`` is ``covariance`` when given (an EMA buffer, say) and otherwise the
    batch covariance ``S`` under a stop-gradient: with gradients through ``C = S``
    the Mahalanobis term would be the constant ``d_b`` (the trace trap), while
    a constant ``C`` lets it pull each ``z_b`` towards its prediction from
    ``z_a`` and back. The entropy term pushes the batch apart. The joint
    log-determinant is the views' minus twice the batch mutual information
    ([GMJE]_ Eq. 41), so it also pushes the views apart: at ``w = 1`` its
    gradient cancels the pull of ``A`` on ``z_b`` (the trap again), and the
    joint form needs ``w < 1``. The views' form does not oppose alignment. The
    log-determinant grows without bound with the scale of the embeddings:
    normalise them (e.g. ``F.normalize``) or bound them.

    Parameters
    ----------
    z_a, z_b : Tensor of shape (N, d_a) and (N, d_b)
        The views' embeddings; ``z_b`` is conditioned on ``z_a``.
    entropy_weight : float, default=1.0
        Weight of the entropy term. Formerly ``lam``, which is still accepted
        with a ``FutureWarning``.
    eps : float, default=1e-4
        Jitter on every covariance.
    covariance : Tensor of shape (d_a + d_b, d_a + d_b), optional
        The joint covariance the alignment conditions with.
    entropy : {"views", "joint"}, default="views"
    return_terms : bool, default=False
        Also return ``{"alignment": A, "entropy": log-determinant}``.

    Returns
    -------
    loss : Tensor
        A scalar.
    terms : dict of str to Tensor
        Only with ``return_terms``.

    Examples
    --------
    >>> import torch
    >>> from torch.nn.functional import normalize
    >>> from skgmje.nn.losses import gje_loss
    >>> generator = torch.Generator().manual_seed(0)
    >>> z_a = normalize(torch.randn(64, 3, generator=generator), dim=1)
    >>> noisy = normalize(z_a + 0.1 * torch.randn(64, 3, generator=generator), dim=1)
    >>> unrelated = normalize(torch.randn(64, 3, generator=generator), dim=1)
    >>> bool(gje_loss(z_a, noisy) < gje_loss(z_a, unrelated))
    True
    """
    n_context = z_a.shape[1]
    moment = second_moment(torch.cat([z_a, z_b], dim=1))
    reference = moment.detach() if covariance is None else covariance
    alignment = _conditional_nll(z_a, z_b, reference, eps)
    log_det = entropy_log_det(moment, n_context, eps, entropy)
    loss = alignment - entropy_weight * log_det
    if return_terms:
        return loss, {"alignment": alignment, "entropy": log_det}
    return loss


def _conditional_nll(z_a, z_b, covariance, eps):
    """Twice the mean ``-log N(z_b | mu_b|a(z_a), S_b|a)``, constants dropped.

    The conditional of ``N(0, covariance + eps I)`` given the first ``d_a`` coordinates.
    """
    c = z_a.shape[1]
    factor_aa = jittered_cholesky(covariance[:c, :c], eps)
    # L_aa^-1 C_ab gives both the regression Sigma_aa^-1 C_ab and the Schur complement.
    whitened_ab = torch.linalg.solve_triangular(factor_aa, covariance[:c, c:], upper=False)
    coef = torch.linalg.solve_triangular(factor_aa.T, whitened_ab, upper=True)
    schur = covariance[c:, c:] - whitened_ab.T @ whitened_ab
    factor_schur = jittered_cholesky(0.5 * (schur + schur.T), eps)
    residual = z_b - z_a @ coef
    mahalanobis = whiten_rows(factor_schur, residual).pow(2).sum(1).mean()
    return mahalanobis + log_det_from_cholesky(factor_schur)
