"""The paper's training objectives as plain functions of tensors (the user guide's estimator pages).

Every function takes the embeddings of a batch (rows are samples) and returns a
scalar to minimise. Covariances enter through Cholesky factors with a jitter
(never an explicit inverse), mixtures through log-sum-exp. The learnable
parameters of an objective (prototypes, kernel hyper-parameters, ...) are
plain tensors owned by the caller; :class:`PrototypeGMJE` holds those of the
prototype objective.
"""

import math

import torch
from torch import nn
from torch.nn import functional as F

LOG_2PI = math.log(2.0 * math.pi)
ENTROPY_TYPES = ("joint", "views")

# A covariance that is not numerically positive definite gets its jitter multiplied by ten,
# at most this many times, before the factorisation gives up.
_JITTER_GROWTH_STEPS = 6


def cholesky(matrix, eps=0.0):
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
    >>> from skgmje.nn.losses import cholesky
    >>> cholesky(torch.tensor([[4.0, 2.0], [2.0, 2.0]]))
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


def _log_det(factor):
    """``log|L L^T|`` from a Cholesky factor."""
    return 2.0 * torch.log(torch.diagonal(factor, dim1=-2, dim2=-1)).sum(-1)


def _whiten(factor, rows):
    """``L^-1 r`` for each row ``r`` of ``rows`` (n, D): the rows of the result."""
    return torch.linalg.solve_triangular(factor, rows.T, upper=False).T


def _squared_distances(z):
    """Pairwise ``|z_i - z_j|^2`` from inner products (differentiable at zero distance)."""
    squared_norms = z.pow(2).sum(1)
    return (squared_norms[:, None] + squared_norms[None, :] - 2.0 * z @ z.T).clamp_min(0.0)


def second_moment(z):
    """The zero-mean batch covariance ``Z^T Z / N`` (Eq. 7; user guide, "GJE").

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
    return _whiten(cholesky(covariance, jitter), centred)


def _entropy_log_det(covariance, n_first, eps, entropy):
    """``log|C + eps I|`` of the joint covariance, or the sum over the two views' blocks."""
    if entropy not in ENTROPY_TYPES:
        raise ValueError(f"entropy must be one of {ENTROPY_TYPES}, got {entropy!r}.")
    if entropy == "joint":
        return _log_det(cholesky(covariance, eps))
    first = covariance[:n_first, :n_first]
    second = covariance[n_first:, n_first:]
    return _log_det(cholesky(first, eps)) + _log_det(cholesky(second, eps))


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


def naive_joint_nll(z_a, z_b, eps=0.0, return_terms=False):
    """Naive empirical joint NLL of Eq. 9: the Mahalanobis trace trap (user guide, "GJE").

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
    factor = cholesky(second_moment(z), eps)
    mahalanobis = _whiten(factor, z).pow(2).sum(1).mean()
    log_det = _log_det(factor)
    loss = mahalanobis + log_det
    if return_terms:
        return loss, {"mahalanobis": mahalanobis, "log_det": log_det}
    return loss


def gje_loss(z_a, z_b, lam=1.0, eps=1e-4, covariance=None, entropy="views", return_terms=False):
    """Primal GJE with the entropy fix (Algo. 5, user guide, "GJE").

    ``L = A - lam * E`` where ``E`` is the log-determinant of the zero-mean
    batch covariance ``S = Z^T Z / N`` of ``z_i = [z_a,i, z_b,i]``, jittered:
    ``E = log|S_aa + eps I| + log|S_bb + eps I|``, its two views' diagonal
    blocks (``entropy="views"``), or ``E = log|S + eps I|``, the joint
    (``entropy="joint"``, the paper's literal form). The alignment ``A`` is
    twice the conditional NLL of ``z_b`` given ``z_a`` (Eq. 61, constants
    dropped) under the joint Gaussian ``N(0, C + eps I)``:

    ``A = (1/N) sum_i r_i^T S_b|a^-1 r_i + log|S_b|a|``,
    ``r_i = z_b,i - C_ba (C_aa + eps I)^-1 z_a,i``,
    ``S_b|a = C_bb + eps I - C_ba (C_aa + eps I)^-1 C_ab`` (the Schur complement).

    ``C`` is ``covariance`` when given (an EMA buffer, say) and otherwise the
    batch covariance ``S`` under a stop-gradient: with gradients through ``C = S``
    the Mahalanobis term would be the constant ``d_b`` (the trace trap), while
    a constant ``C`` lets it pull each ``z_b`` towards its prediction from
    ``z_a`` and back. The entropy term pushes the batch apart. The joint
    log-determinant is the views' minus twice the batch mutual information
    (Eq. 41), so it also pushes the views apart: at ``lam = 1`` its gradient
    cancels the pull of ``A`` on ``z_b`` (the trap again), and the joint form
    needs ``lam < 1``. The views' form does not oppose alignment. The
    log-determinant grows without bound with the scale of the embeddings:
    normalise them (e.g. ``F.normalize``) or bound them.

    Parameters
    ----------
    z_a, z_b : Tensor of shape (N, d_a) and (N, d_b)
        Context and target embeddings.
    lam : float, default=1.0
        Weight of the entropy term.
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
    log_det = _entropy_log_det(moment, n_context, eps, entropy)
    loss = alignment - lam * log_det
    if return_terms:
        return loss, {"alignment": alignment, "entropy": log_det}
    return loss


def _conditional_nll(z_a, z_b, covariance, eps):
    """Twice the mean ``-log N(z_b | mu_b|a(z_a), S_b|a)``, constants dropped.

    The conditional of ``N(0, covariance + eps I)`` given the first ``d_a`` coordinates.
    """
    c = z_a.shape[1]
    factor_aa = cholesky(covariance[:c, :c], eps)
    # L_aa^-1 C_ab gives both the regression Sigma_aa^-1 C_ab and the Schur complement.
    whitened_ab = torch.linalg.solve_triangular(factor_aa, covariance[:c, c:], upper=False)
    coef = torch.linalg.solve_triangular(factor_aa.T, whitened_ab, upper=True)
    schur = covariance[c:, c:] - whitened_ab.T @ whitened_ab
    factor_schur = cholesky(0.5 * (schur + schur.T), eps)
    residual = z_b - z_a @ coef
    return _whiten(factor_schur, residual).pow(2).sum(1).mean() + _log_det(factor_schur)


def sample_fourier_basis(n_features, n_inputs, generator=None, dtype=None, device=None):
    """Standard normal frequencies and uniform phases for random Fourier features.

    The RBF kernel of length-scale ``l`` is approximated by
    ``phi(x) = sqrt(2 / Df) cos(x W^T / l + b)`` (Rahimi and Recht; user guide,
    "DualGJE"), with these ``W`` and ``b``. Dividing by ``l`` at use keeps the
    features differentiable in the length-scale.

    Parameters
    ----------
    n_features : int
        ``Df``, the number of random features.
    n_inputs : int
        Width of the embeddings the kernel compares.
    generator : torch.Generator, optional
    dtype, device : optional
        Of the returned tensors.

    Returns
    -------
    base_frequencies : Tensor of shape (n_features, n_inputs)
        ``W ~ N(0, I)``.
    phases : Tensor of shape (n_features,)
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
        n_features, n_inputs, generator=generator, dtype=dtype, device=device
    )
    phases = 2.0 * math.pi * torch.rand(n_features, generator=generator, dtype=dtype, device=device)
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
    """Dual GJE: the Gaussian-process loss of Eq. 3-4 (user guide, "DualGJE").

    ``L = tr(T^T K^-1 T) + dy log|K|`` with ``K = a k(X, X) + s2 I`` over the
    batch of contexts ``X`` and targets ``T`` (twice the GP negative log
    marginal likelihood of ``dy`` channels sharing the kernel, constants
    dropped), summed over the batch. ``k`` is the RBF kernel
    ``exp(-|x - x'|^2 / (2 l^2))`` or the linear kernel ``x^T x'`` (with which
    the loss is the primal covariance loss, Appendix J).

    With ``base_frequencies`` and ``phases`` the RBF kernel is replaced by
    ``K = a Phi Phi^T + s2 I`` of random Fourier features
    ``Phi = sqrt(2 / Df) cos(X W^T / l + b)``, and the loss is computed in
    ``O(N Df^2)`` without forming ``K``: Woodbury gives
    ``tr(T^T K^-1 T) = (|T|^2 - a tr(P^T A^-1 P)) / s2`` with ``P = Phi^T T``
    and ``A = a Phi^T Phi + s2 I_Df``, and Weinstein-Aronszajn
    ``log|K| = (N - Df) log s2 + log|A|`` (Eq. 75, 80). Both forms equal
    ``skgmje._core.gp.exact_dual_loss`` and ``fourier_dual_loss``.

    The GP likelihood is conditional: gradients into the targets would
    collapse them (Appendix E), so ``target`` is detached. Feed it from an
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
        factor = cholesky(amplitude * features.T @ features + noise_variance * identity)
        projected = _whiten(factor, (features.T @ target).T)
        data_fit = (target.pow(2).sum() - amplitude * projected.pow(2).sum()) / noise_variance
        log_det = (n_samples - n_features) * torch.log(noise_variance) + _log_det(factor)
        return data_fit + n_targets * log_det
    if kernel == "rbf":
        gram = amplitude * torch.exp(-0.5 * _squared_distances(context / length_scale))
    else:
        gram = amplitude * context @ context.T
    factor = cholesky(gram + noise_variance * torch.eye(n_samples, **options))
    data_fit = _whiten(factor, target.T).pow(2).sum()
    return data_fit + n_targets * _log_det(factor)


def _hsic_gram(z, kernel, length_scale):
    if kernel == "linear":
        return z @ z.T
    distances = _squared_distances(z)
    if length_scale is None:
        # Median heuristic (Gretton et al.), held constant so it does not chase the embeddings.
        n = z.shape[0]
        off_diagonal = distances.detach()[~torch.eye(n, dtype=torch.bool, device=z.device)]
        bandwidth = off_diagonal.median()
        bandwidth = torch.where(bandwidth > 0, bandwidth, torch.ones_like(bandwidth))
        return torch.exp(-0.5 * distances / bandwidth)
    return torch.exp(-0.5 * distances / length_scale**2)


def hsic_loss(z_a, z_b, kernel="rbf", length_scale=None):
    """Negated empirical HSIC between the views (Appendix I; user guide, "DualGJE").

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


def batch_prototype_scale_tril(
    z, prototypes, mixing_logits, covariance_type="shared", jitter=0.05, eps=1e-4
):
    """Cholesky factor(s) of the batch's covariance around the prototypes: one M-step, no gradient.

    Responsibilities ``r_ik`` of the batch rows ``z_i`` for the prototypes
    ``mu_k`` are taken under the mixture with the batch's own total
    covariance ``T`` (centred, without gradient), and the covariance is the
    M-step's: shared, ``S = (1/N) sum_ik r_ik (z_i - mu_k)(z_i - mu_k)^T``, or
    per component, the same sums over ``i`` divided by ``sum_i r_ik``; plus
    ``jitter`` times the mean variance of ``T`` on the diagonal. The sums come
    from ``Z^T Z``, ``Z^T R`` and ``R^T 1`` without forming an ``(N, K, D)``
    array.

    A covariance that is a statistic of the current batch, held constant,
    keeps the Mahalanobis term of :func:`prototype_gmje_loss` informative
    from the first step (the GJE remedy of conditioning with a covariance
    that is not the loss's own variable); a learned factor has to catch up
    with the encoder first.

    Parameters
    ----------
    z : Tensor of shape (N, D)
    prototypes : Tensor of shape (K, D)
    mixing_logits : Tensor of shape (K,)
    covariance_type : {"shared", "component"}, default="shared"
    jitter : float, default=0.05
        Added variance, relative to the mean variance of the batch.
    eps : float, default=1e-4
        Jitter of the factorisations.

    Returns
    -------
    Tensor of shape (D, D) or (K, D, D)
        Lower-triangular, without gradient.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import batch_prototype_scale_tril
    >>> z = torch.randn(500, 2, generator=torch.Generator().manual_seed(0))
    >>> factor = batch_prototype_scale_tril(z, torch.zeros(1, 2), torch.zeros(1), jitter=0.0)
    >>> bool(torch.allclose(factor @ factor.T, z.T @ z / 500, atol=1e-4))
    True
    """
    if covariance_type not in ("shared", "component"):
        raise ValueError(
            f"covariance_type must be 'shared' or 'component', got {covariance_type!r}."
        )
    with torch.no_grad():
        total = second_moment(z - z.mean(0))
        factor = cholesky(total, eps)
        whitened_z, whitened_mu = _whiten(factor, z), _whiten(factor, prototypes)
        distances = (
            whitened_z.pow(2).sum(1, keepdim=True)
            - 2.0 * whitened_z @ whitened_mu.T
            + whitened_mu.pow(2).sum(1)
        )
        responsibilities = torch.softmax(F.log_softmax(mixing_logits, -1) - 0.5 * distances, dim=1)
        counts = responsibilities.sum(0)
        weighted_sums = z.T @ responsibilities
        floor = jitter * torch.diagonal(total).mean()
        identity = torch.eye(z.shape[1], dtype=z.dtype, device=z.device)
        if covariance_type == "shared":
            cross = weighted_sums @ prototypes
            covariance = (
                z.T @ z - cross - cross.T + prototypes.T @ (counts[:, None] * prototypes)
            ) / z.shape[0]
            return cholesky(0.5 * (covariance + covariance.T) + floor * identity, eps)
        covariances = []
        for k in range(prototypes.shape[0]):
            mu, weight = prototypes[k], counts[k].clamp_min(torch.finfo(z.dtype).eps)
            cross = weighted_sums[:, k, None] @ mu[None, :]
            second = (z * responsibilities[:, k, None]).T @ z
            covariance = (second - cross - cross.T) / weight + mu[:, None] @ mu[None, :]
            covariances.append(0.5 * (covariance + covariance.T) + floor * identity)
        return cholesky(torch.stack(covariances), eps)


def prototype_gmje_loss(
    z_a,
    z_b,
    prototypes,
    mixing_logits,
    scale_tril,
    lam=1.0,
    eps=1e-4,
    covariance_ema=None,
    ema_momentum=0.5,
    entropy="views",
    return_terms=False,
):
    """Prototype GMJE: relaxed EM by back-propagation (Eq. 15 and 16, user guide, "GMJE").

    For the joint embeddings ``z_i = [z_a,i, z_b,i]`` and a mixture of ``K``
    learnable prototypes ``mu_k`` with weights ``pi = softmax(mixing_logits)``:

    - shared covariance ``Sigma = L L^T`` (``scale_tril`` of shape (D, D), Eq. 15):
      ``NLL = (1/N) sum_i -LSE_k(log pi_k - Maha_ik / 2) + log|Sigma| / 2``;
    - one covariance per component (``scale_tril`` of shape (K, D, D), Eq. 16):
      ``NLL = (1/N) sum_i -LSE_k(log pi_k - Maha_ik / 2 - log|Sigma_k| / 2)``,

    with ``Maha_ik = (z_i - mu_k)^T Sigma_k^-1 (z_i - mu_k)``: the mixture's mean
    ``-log p(z)`` minus ``(D/2) log 2 pi``. The parameters are not batch
    statistics, so the Mahalanobis term keeps its gradient (the trace trap's
    remedy 1, Appendix O.3); a fixed ``scale_tril = sqrt(tau) I`` gives the
    temperature form. The paper's recipe adds an explicit marginal term
    against the log-determinant cheat (Appendix O.4, P.3.5): the loss is

    ``L = NLL - lam * E``,
    ``C = m * covariance_ema + (1 - m) * Z^T Z / N``

    (``C = Z^T Z / N`` without ``covariance_ema``), where ``E`` is the
    log-determinant of this EMA-tracked covariance whose newest term is the
    batch's: ``E = log|C_aa + eps I| + log|C_bb + eps I|`` over the two views'
    blocks (``entropy="views"``) or ``log|C + eps I|`` (``"joint"``, which
    also penalises the views' mutual information; see :func:`gje_loss`). Only
    the batch's term carries a gradient, so the push scales with
    ``lam * (1 - m)``: raise ``lam`` with ``m``.

    Parameters
    ----------
    z_a, z_b : Tensor of shape (N, d_a) and (N, d_b)
    prototypes : Tensor of shape (K, D)
        ``mu_k`` in the joint space, ``D = d_a + d_b``.
    mixing_logits : Tensor of shape (K,)
    scale_tril : Tensor of shape (D, D) or (K, D, D)
        Lower-triangular Cholesky factor(s) with a positive diagonal.
    lam : float, default=1.0
        Weight of the entropy term.
    eps : float, default=1e-4
        Jitter of the entropy term's covariance.
    covariance_ema : Tensor of shape (D, D), optional
        The running covariance (a buffer, without gradient); the caller
        updates it, e.g. to ``C.detach()`` (see :class:`PrototypeGMJE`).
    ema_momentum : float, default=0.5
        ``m``; used only with ``covariance_ema``.
    entropy : {"views", "joint"}, default="views"
    return_terms : bool, default=False
        Also return ``{"nll": NLL, "entropy": log-determinant}``.

    Returns
    -------
    loss : Tensor
        A scalar.
    terms : dict of str to Tensor
        Only with ``return_terms``.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import prototype_gmje_loss
    >>> z = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    >>> prototypes = torch.tensor([[1.0, 1.0], [-1.0, -1.0]])
    >>> loss, terms = prototype_gmje_loss(
    ...     z[:, :1], z[:, 1:], prototypes, torch.zeros(2), torch.eye(2), return_terms=True)
    >>> round(float(terms["nll"]), 4)  # each point on a prototype: -log((1 + e^-4) / 2)
    0.675
    """
    z = torch.cat([z_a, z_b], dim=1)
    log_weights = F.log_softmax(mixing_logits, dim=-1)
    if scale_tril.dim() == 2:
        whitened_z = _whiten(scale_tril, z)
        whitened_mu = _whiten(scale_tril, prototypes)
        mahalanobis = (whitened_z[:, None, :] - whitened_mu[None, :, :]).pow(2).sum(-1)
        data_fit = -torch.logsumexp(log_weights - 0.5 * mahalanobis, dim=1).mean()
        nll = data_fit + 0.5 * _log_det(scale_tril)
    else:
        diff = (z[:, None, :] - prototypes[None, :, :]).unsqueeze(-1)
        whitened = torch.linalg.solve_triangular(scale_tril, diff, upper=False).squeeze(-1)
        logits = log_weights - 0.5 * whitened.pow(2).sum(-1) - 0.5 * _log_det(scale_tril)
        nll = -torch.logsumexp(logits, dim=1).mean()
    covariance = second_moment(z)
    if covariance_ema is not None:
        covariance = ema_momentum * covariance_ema.detach() + (1.0 - ema_momentum) * covariance
    log_det = _entropy_log_det(covariance, z_a.shape[1], eps, entropy)
    loss = nll - lam * log_det
    if return_terms:
        return loss, {"nll": nll, "entropy": log_det}
    return loss


class PrototypeGMJE(nn.Module):
    """The learnable parameters of :func:`prototype_gmje_loss` and its covariance state.

    Holds ``K`` prototypes in the joint space and mixing logits. The
    covariance is either learned (``covariance="learned"``, the paper's
    relaxed EM by back-propagation): one shared Cholesky factor (Eq. 15) or
    one per prototype (Eq. 16), each ``L = diag(softplus(raw) + min_scale) +
    strictly lower part`` so that any parameter value gives a valid factor,
    with the entropy term on an EMA-tracked covariance; or taken from each
    batch (``covariance="batch"``): the M-step covariance around the
    prototypes, held constant (:func:`batch_prototype_scale_tril`), with the
    entropy term on the batch's own covariance, as in :func:`gje_loss`.
    Calling the module returns the loss and, in training mode, moves the
    EMA covariance buffer to the covariance the loss just used (the first
    batch sets it).

    Parameters
    ----------
    n_features : int
        ``D``, the width of the joint embedding ``[z_a, z_b]``.
    n_prototypes : int
        ``K``.
    covariance_type : {"shared", "component"}, default="shared"
    lam, eps, ema_momentum, entropy
        As in :func:`prototype_gmje_loss`.
    min_scale : float, default=1e-3
        Floor on the Cholesky diagonal (learned covariances).
    covariance : {"learned", "batch"}, default="learned"
    batch_jitter : float, default=0.05
        ``jitter`` of :func:`batch_prototype_scale_tril` (batch covariances).

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.losses import PrototypeGMJE
    >>> _ = torch.manual_seed(0)
    >>> objective = PrototypeGMJE(n_features=4, n_prototypes=3)
    >>> loss = objective(torch.randn(8, 2), torch.randn(8, 2))
    >>> loss.backward()
    >>> objective.prototypes.grad.shape, objective.scale_tril().shape
    (torch.Size([3, 4]), torch.Size([4, 4]))
    """

    def __init__(
        self,
        n_features,
        n_prototypes,
        covariance_type="shared",
        lam=1.0,
        eps=1e-4,
        ema_momentum=0.5,
        entropy="views",
        min_scale=1e-3,
        covariance="learned",
        batch_jitter=0.05,
    ):
        super().__init__()
        if covariance_type not in ("shared", "component"):
            raise ValueError(
                f"covariance_type must be 'shared' or 'component', got {covariance_type!r}."
            )
        if covariance not in ("learned", "batch"):
            raise ValueError(f"covariance must be 'learned' or 'batch', got {covariance!r}.")
        self.lam, self.eps, self.entropy = lam, eps, entropy
        self.ema_momentum, self.min_scale = ema_momentum, min_scale
        self.covariance_type, self.covariance, self.batch_jitter = (
            covariance_type,
            covariance,
            batch_jitter,
        )
        # Unit-norm views put about 1/D of the joint variance on each coordinate:
        # start the prototypes and the component scales at that size.
        scale = 1.0 / math.sqrt(n_features)
        self.prototypes = nn.Parameter(scale * torch.randn(n_prototypes, n_features))
        self.mixing_logits = nn.Parameter(torch.zeros(n_prototypes))
        stack = (n_prototypes,) if covariance_type == "component" else ()
        if covariance == "learned":
            inverse_softplus = math.log(math.expm1(max(scale - min_scale, 1e-6)))
            self.raw_diagonal = nn.Parameter(torch.full(stack + (n_features,), inverse_softplus))
            n_lower = n_features * (n_features - 1) // 2
            self.raw_lower = nn.Parameter(torch.zeros(stack + (n_lower,)))
            self.register_buffer(
                "lower_indices", torch.tril_indices(n_features, n_features, -1), persistent=False
            )
            self.register_buffer("covariance_ema", torch.zeros(n_features, n_features))
            self.register_buffer("n_updates", torch.zeros((), dtype=torch.long))
        else:
            identity = torch.eye(n_features).expand(stack + (n_features, n_features))
            self.register_buffer("batch_scale_tril", scale * identity.clone())

    def scale_tril(self):
        """The Cholesky factor(s), shape (D, D) or (K, D, D): learned, or the last batch's."""
        if self.covariance == "batch":
            return self.batch_scale_tril
        diagonal = F.softplus(self.raw_diagonal) + self.min_scale
        rows, columns = self.lower_indices
        lower = diagonal.new_zeros(diagonal.shape + diagonal.shape[-1:])
        lower[..., rows, columns] = self.raw_lower
        return torch.diag_embed(diagonal) + lower

    def forward(self, z_a, z_b):
        """``prototype_gmje_loss`` of the views with the held parameters; a scalar."""
        if self.covariance == "batch":
            factor = batch_prototype_scale_tril(
                torch.cat([z_a, z_b], dim=1).detach(),
                self.prototypes.detach(),
                self.mixing_logits.detach(),
                self.covariance_type,
                self.batch_jitter,
                self.eps,
            )
            if self.training:
                self.batch_scale_tril.copy_(factor)
            return prototype_gmje_loss(
                z_a,
                z_b,
                self.prototypes,
                self.mixing_logits,
                factor,
                lam=self.lam,
                eps=self.eps,
                entropy=self.entropy,
            )
        started = bool(self.n_updates > 0)
        momentum = self.ema_momentum if started else 0.0
        loss = prototype_gmje_loss(
            z_a,
            z_b,
            self.prototypes,
            self.mixing_logits,
            self.scale_tril(),
            lam=self.lam,
            eps=self.eps,
            covariance_ema=self.covariance_ema if started else None,
            ema_momentum=momentum,
            entropy=self.entropy,
        )
        if self.training:
            with torch.no_grad():
                batch = second_moment(torch.cat([z_a, z_b], dim=1))
                self.covariance_ema.mul_(momentum).add_((1.0 - momentum) * batch)
                self.n_updates += 1
        return loss


def gmje_mdn_loss(
    context, target, log_weights, means, scale_tril, context_covariance=None, eps=1e-4
):
    """GMJE-MDN (Eq. 23, user guide, "GMJEMDN"): ``-log p(x) - log p(y | x)`` per sample, averaged.

    ``-log p(x) = x^T Sigma_c^-1 x / 2 + log|Sigma_c| / 2 + (dx/2) log 2 pi`` is the
    context marginal under ``N(0, Sigma_c + eps I)``, and
    ``-log p(y | x) = -log sum_k pi_k(x) N(y | mu_k(x), L_k(x) L_k(x)^T)`` the
    mixture density network's term (:func:`mdn_nll`); this is Eq. 23 plus the
    constant ``(dx/2) log 2 pi``. ``Sigma_c`` must trail the batch (an EMA,
    the paper's footnote 31): a covariance computed from the same batch with
    gradient would cancel the Mahalanobis term (the trace trap).

    Parameters
    ----------
    context : Tensor of shape (N, dx)
        Context embeddings ``x``.
    target : Tensor of shape (N, dy)
        Target embeddings ``y``.
    log_weights, means, scale_tril : Tensors of shape (N, K), (N, K, dy), (N, K, dy, dy)
        The parameter network's output for ``x`` (as :class:`skgmje.nn.mdn.MixtureDensityNetwork`).
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
    factor = cholesky(context_covariance, eps)
    context_log_prob = -0.5 * (
        _whiten(factor, context).pow(2).sum(1) + _log_det(factor) + context.shape[1] * LOG_2PI
    )
    return mdn_nll(log_weights, means, scale_tril, target, context_log_prob)


def infonce_loss(query, key, negatives=None, temperature=0.2):
    """InfoNCE (Eq. 31) on l2-normalised embeddings, with in-batch or bank negatives.

    ``L = (1/N) sum_i -log[exp(q_i^T k_i / tau) / sum_m exp(q_i^T y_m / tau)]``
    where the ``y_m`` are the batch's keys (``negatives=None``: the positive
    and the other ``N - 1`` keys) or the positive and the bank's ``M`` keys
    (MoCo). This is the DaM-GMJE conditional NLL (Eq. 29) with the isotropic
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
        labels = torch.arange(query.shape[0], device=query.device)
        return F.cross_entropy(logits, labels)
    negatives = F.normalize(negatives, dim=1)
    positive = (query * key).sum(1, keepdim=True)
    logits = torch.cat([positive, query @ negatives.T], dim=1) / temperature
    return -torch.log_softmax(logits, dim=1)[:, 0].mean()


def smc_infonce_loss(query, key, bank, log_weights, temperature=0.2, positive_log_weights=None):
    """SMC-weighted InfoNCE (Eq. 33) against a bank of weighted particles.

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
    if positive_log_weights is None:
        mean_log_weight = torch.logsumexp(log_weights, dim=0) - math.log(log_weights.shape[0])
        positive_log_weights = mean_log_weight.expand(query.shape[0])
    positive = (query * key).sum(1) / temperature + positive_log_weights
    negative = query @ bank.T / temperature + log_weights
    logits = torch.cat([positive[:, None], negative], dim=1)
    return (torch.logsumexp(logits, dim=1) - positive).mean()
