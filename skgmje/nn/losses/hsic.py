"""HSIC: the kernel dependence between the two views' embeddings ``z_a`` and ``z_b``."""

import torch

from .._linalg import squared_distances

__all__ = ["hsic_loss"]


def _hsic_gram(z, kernel, length_scale):
    if kernel == "linear":
        return z @ z.T
    distances = squared_distances(z)
    if length_scale is None:
        # Median heuristic (Gretton et al.), held constant so it does not chase the embeddings.
        n = z.shape[0]
        off_diagonal = distances.detach()[~torch.eye(n, dtype=torch.bool, device=z.device)]
        bandwidth = off_diagonal.median()
        bandwidth = torch.where(bandwidth > 0, bandwidth, torch.ones_like(bandwidth))
        return torch.exp(-0.5 * distances / bandwidth)
    return torch.exp(-0.5 * distances / length_scale**2)


def hsic_loss(z_a, z_b, kernel="rbf", length_scale=None):
    """Negated empirical HSIC between the views ([GMJE]_ Appendix I; user guide, "DualGJE").

    ``HSIC = (N - 1)^-2 tr(K H L H)`` with ``H = I - 1 1^T / N`` and ``K``, ``L``
    the Gram matrices of ``z_a`` and ``z_b``; the function returns ``-HSIC`` so
    that minimising it maximises the dependence between the views. A collapsed
    view has a constant Gram matrix, which centring turns into zero: the
    objective itself resists collapse.

    Parameters
    ----------
    z_a, z_b : Tensor of shape (N, d_a) and (N, d_b)
        ``N >= 2``.
    kernel : {"rbf", "linear"}, default="rbf"
        ``exp(-|z - z'|^2 / (2 l^2))`` or ``z^T z'``.
    length_scale : float or None, default=None
        ``l`` of both views' RBF kernels; ``None`` takes, per view, the median
        of the squared pairwise distances of the batch as ``l^2`` (detached).

    Returns
    -------
    Tensor
        A scalar, ``<= 0``.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import hsic_loss
    >>> z = torch.randn(40, 3, generator=torch.Generator().manual_seed(0))
    >>> bool(hsic_loss(z, z) < hsic_loss(z, torch.randn(40, 3)))
    True
    >>> abs(float(hsic_loss(z, torch.ones(40, 3)))) < 1e-6  # a collapsed view
    True
    """
    if kernel not in ("rbf", "linear"):
        raise ValueError(f"kernel must be 'rbf' or 'linear', got {kernel!r}.")
    gram_a = _hsic_gram(z_a, kernel, length_scale)
    gram_b = _hsic_gram(z_b, kernel, length_scale)
    # tr(K H L H) = sum(HKH * L): centre one Gram matrix, then one elementwise product.
    centred = gram_a - gram_a.mean(0, keepdim=True) - gram_a.mean(1, keepdim=True) + gram_a.mean()
    n = z_a.shape[0]
    return -(centred * gram_b).sum() / (n - 1) ** 2
