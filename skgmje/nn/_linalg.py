"""The torch linear algebra every objective shares: Cholesky factors, log-determinants, solves.

Covariances enter the losses through Cholesky factors (never an explicit
inverse), so that gradients flow through ``torch.linalg.cholesky`` and
triangular solves. One jitter policy holds for every factorisation here:

- the caller states the jitter its formula carries, ``eps`` (absolute, added
  to the diagonal: the ``+ eps I`` of the losses' docstrings);
- a matrix that is still not numerically positive definite (a batch
  covariance with fewer rows than dimensions, a collapsed embedding) is
  retried with the jitter multiplied by ten, at most six times, starting
  from at least ``1e-10`` times its mean diagonal;
- a matrix holding NaN or infinity, or one that stays indefinite, raises
  ``ValueError``: LAPACK would return a NaN factor silently.

The NumPy estimators' factorisation (``skgmje._core.gaussian.cholesky``)
follows another policy on purpose: it adds no jitter unless one is needed,
and then only relative to the matrix's scale, because a fitted model's
covariance must not move. A loss's ``eps`` is part of its formula and is
always added.
"""

import torch

__all__ = [
    "batch_log_det",
    "jittered_cholesky",
    "log_det_from_cholesky",
    "second_moment",
    "squared_distances",
    "whiten_rows",
]

# Ten-fold growths of the jitter tried before the factorisation gives up.
_JITTER_GROWTH_STEPS = 6


def jittered_cholesky(matrix, eps=0.0):
    """Lower Cholesky factor of ``matrix + eps I``, growing the jitter when it fails.

    A matrix that is not numerically positive definite (a batch covariance
    with fewer samples than dimensions, say) is retried with the jitter
    multiplied by ten, up to six times, starting from at least
    ``1e-10`` times its mean diagonal.

    Parameters
    ----------
    matrix : Tensor of shape (..., D, D)
        Symmetric matrices.
    eps : float, default=0.0
        Jitter added to the diagonal.

    Returns
    -------
    Tensor of shape (..., D, D)
        Lower-triangular ``L`` with ``L L^T = matrix + jitter I``; differentiable.

    Raises
    ------
    ValueError
        If ``matrix`` holds NaN or infinity, or stays indefinite with the largest jitter.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import jittered_cholesky
    >>> jittered_cholesky(torch.tensor([[4.0, 2.0], [2.0, 2.0]]))
    tensor([[2., 0.],
            [1., 1.]])
    """
    if not bool(torch.isfinite(matrix).all()):
        # LAPACK does not flag NaN pivots: it would return a NaN factor silently.
        raise ValueError("A covariance holds NaN or infinity: the embeddings or the fit diverged.")
    identity = torch.eye(matrix.shape[-1], dtype=matrix.dtype, device=matrix.device)
    jitter = eps
    for _ in range(_JITTER_GROWTH_STEPS + 1):
        factor, info = torch.linalg.cholesky_ex(matrix + jitter * identity if jitter else matrix)
        if not bool(info.any()):
            return factor
        scale = float(matrix.diagonal(dim1=-2, dim2=-1).abs().mean())
        jitter = max(10.0 * jitter, 1e-10 * scale)
    raise ValueError(
        f"A covariance is not positive definite even with a jitter of {jitter / 10.0:g}: "
        "the embeddings may have collapsed (constant or duplicated dimensions)."
    )


def log_det_from_cholesky(factor):
    """``log|L L^T|`` from a Cholesky factor ``L`` (or a stack of them)."""
    return 2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)


def whiten_rows(factor, rows):
    """``L^-1 r`` for each row ``r`` of ``rows`` (n, D): the rows of the result."""
    return torch.linalg.solve_triangular(factor, rows.T, upper=False).T


def second_moment(z):
    """The zero-mean batch covariance ``Z^T Z / N`` ([GMJE]_ Eq. 7; user guide, "GJE").

    Parameters
    ----------
    z : Tensor of shape (N, D)

    Returns
    -------
    Tensor of shape (D, D)

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import second_moment
    >>> second_moment(torch.tensor([[1.0, 0.0], [-1.0, 2.0]]))
    tensor([[ 1., -1.],
            [-1.,  2.]])
    """
    return z.T @ z / z.shape[0]


def batch_log_det(z, eps=1e-4):
    """``log|S + eps I|`` of the centred batch covariance ``S`` of the rows of ``z``.

    The Gaussian entropy of the batch, up to constants: the term of the GJE
    entropy fix ([GMJE]_ Algo 5) on one view.
    """
    return log_det_from_cholesky(jittered_cholesky(second_moment(z - z.mean(0)), eps))


def squared_distances(z):
    """Pairwise ``|z_i - z_j|^2`` from inner products (differentiable at zero distance)."""
    squared_norms = z.pow(2).sum(1)
    return (squared_norms[:, None] + squared_norms[None, :] - 2.0 * z @ z.T).clamp_min(0.0)
