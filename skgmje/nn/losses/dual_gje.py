"""Dual GJE: the Gaussian-process loss of the targets given the contexts, exact or approximate.

The views are the ``context`` embeddings (the kernel's inputs) and the
``target`` embeddings (the GP's outputs) (user guide, "DualGJE").
"""

import math

import torch

from .._deprecation import renamed_keyword
from .._linalg import jittered_cholesky, log_det_from_cholesky, squared_distances, whiten_rows

__all__ = ["dual_gje_loss", "sample_fourier_basis"]


@renamed_keyword("n_features", "n_fourier_features")
def sample_fourier_basis(n_fourier_features, n_inputs, generator=None, dtype=None, device=None):
    """Standard normal frequencies and uniform phases for random Fourier features.

    The RBF kernel of length-scale ``l`` is approximated by
    ``phi(x) = sqrt(2 / Df) cos(x W^T / l + b)`` (Rahimi and Recht; user guide,
    "DualGJE"), with these ``W`` and ``b``. Dividing by ``l`` at use keeps the
    features differentiable in the length-scale.

    Parameters
    ----------
    n_fourier_features : int
        ``Df``, the number of random features, as DualGJE's parameter of that name
        (was ``n_features``, still accepted with a ``FutureWarning``).
    n_inputs : int
        Width of the embeddings the kernel compares.
    generator : torch.Generator, optional
    dtype, device : optional
        Of the returned tensors.

    Returns
    -------
    base_frequencies : Tensor of shape (n_fourier_features, n_inputs)
        ``W ~ N(0, I)``.
    phases : Tensor of shape (n_fourier_features,)
        ``b ~ U(0, 2 pi)``.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import sample_fourier_basis
    >>> frequencies, phases = sample_fourier_basis(100, 3, torch.Generator().manual_seed(0))
    >>> frequencies.shape, phases.shape
    (torch.Size([100, 3]), torch.Size([100]))
    """
    base_frequencies = torch.randn(
        n_fourier_features, n_inputs, generator=generator, dtype=dtype, device=device
    )
    phases = (
        2.0
        * math.pi
        * torch.rand(n_fourier_features, generator=generator, dtype=dtype, device=device)
    )
    return base_frequencies, phases


def dual_gje_loss(
    context,
    target,
    length_scale=1.0,
    amplitude=1.0,
    noise_variance=0.1,
    kernel="rbf",
    base_frequencies=None,
    phases=None,
):
    """Dual GJE: the Gaussian-process loss of [GMJE]_ Eq. 3-4 (user guide, "DualGJE").

    ``L = tr(T^T K^-1 T) + dy log|K|`` with ``K = a k(X, X) + s2 I`` over the
    batch of contexts ``X`` and targets ``T`` (twice the GP negative log
    marginal likelihood of ``dy`` channels sharing the kernel, constants
    dropped), summed over the batch. ``k`` is the RBF kernel
    ``exp(-|x - x'|^2 / (2 l^2))`` or the linear kernel ``x^T x'`` (with which
    the loss is the primal covariance loss, [GMJE]_ Appendix J).

    With ``base_frequencies`` and ``phases`` the RBF kernel is replaced by
    ``K = a Phi Phi^T + s2 I`` of random Fourier features
    ``Phi = sqrt(2 / Df) cos(X W^T / l + b)``, and the loss is computed in
    ``O(N Df^2)`` without forming ``K``: Woodbury gives
    ``tr(T^T K^-1 T) = (|T|^2 - a tr(P^T A^-1 P)) / s2`` with ``P = Phi^T T``
    and ``A = a Phi^T Phi + s2 I_Df``, and Weinstein-Aronszajn
    ``log|K| = (N - Df) log s2 + log|A|`` ([GMJE]_ Eq. 75, 80). Both forms equal
    ``skgmje._core.gp.exact_dual_loss`` and ``fourier_dual_loss``.

    The GP likelihood is conditional: gradients into the targets would
    collapse them ([GMJE]_ Appendix E), so ``target`` is detached. Feed it from an
    EMA target encoder.

    Parameters
    ----------
    context : Tensor of shape (N, dx)
        Context embeddings (the kernel's inputs).
    target : Tensor of shape (N, dy)
        Target embeddings, treated as constants.
    length_scale : float or Tensor of shape () or (dx,), default=1.0
    amplitude : float or Tensor, default=1.0
        ``a``.
    noise_variance : float or Tensor, default=0.1
        ``s2``, the observation noise (the jitter of the Gram matrix).
        The hyper-parameters may be learnable tensors.
    kernel : {"rbf", "linear"}, default="rbf"
    base_frequencies : Tensor of shape (Df, dx), optional
        Standard normal draws (:func:`sample_fourier_basis`); with ``phases``,
        switches to random Fourier features (RBF kernel only).
    phases : Tensor of shape (Df,), optional

    Returns
    -------
    Tensor
        A scalar.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import dual_gje_loss, sample_fourier_basis
    >>> generator = torch.Generator().manual_seed(0)
    >>> X = torch.randn(40, 2, generator=generator, dtype=torch.float64)
    >>> T = torch.sin(X)
    >>> exact = dual_gje_loss(X, T)
    >>> W, b = sample_fourier_basis(1000, 2, generator, dtype=torch.float64)
    >>> approximate = dual_gje_loss(X, T, base_frequencies=W, phases=b)
    >>> bool(abs(approximate - exact) < 0.05 * abs(exact))
    True
    """
    if kernel not in ("rbf", "linear"):
        raise ValueError(f"kernel must be 'rbf' or 'linear', got {kernel!r}.")
    if (base_frequencies is None) != (phases is None):
        raise ValueError("Random Fourier features need both base_frequencies and phases.")
    target = target.detach()
    n_samples, n_targets = target.shape
    options = dict(dtype=context.dtype, device=context.device)
    length_scale = torch.as_tensor(length_scale, **options)
    amplitude = torch.as_tensor(amplitude, **options)
    noise_variance = torch.as_tensor(noise_variance, **options)
    if base_frequencies is not None:
        if kernel != "rbf":
            raise ValueError("Random Fourier features approximate the RBF kernel only.")
        arguments = (context / length_scale) @ base_frequencies.T + phases
        n_features = phases.shape[0]
        features = math.sqrt(2.0 / n_features) * torch.cos(arguments)
        identity = torch.eye(n_features, **options)
        factor = jittered_cholesky(amplitude * features.T @ features + noise_variance * identity)
        projected = whiten_rows(factor, (features.T @ target).T)
        data_fit = (target.pow(2).sum() - amplitude * projected.pow(2).sum()) / noise_variance
        noise_log_det = (n_samples - n_features) * torch.log(noise_variance)
        log_det = noise_log_det + log_det_from_cholesky(factor)
        return data_fit + n_targets * log_det
    if kernel == "rbf":
        gram = amplitude * torch.exp(-0.5 * squared_distances(context / length_scale))
    else:
        gram = amplitude * context @ context.T
    factor = jittered_cholesky(gram + noise_variance * torch.eye(n_samples, **options))
    data_fit = whiten_rows(factor, target.T).pow(2).sum()
    return data_fit + n_targets * log_det_from_cholesky(factor)
