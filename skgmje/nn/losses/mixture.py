"""Prototype GMJE: a Gaussian mixture on the joint embedding, fitted by back-propagation.

The two views' embeddings are ``z_a`` and ``z_b``; the mixture lives on
their concatenation ``z = [z_a, z_b]`` (user guide, "GMJE").
"""

import math
import warnings

import torch
from torch import nn
from torch.nn import functional as F

from .._deprecation import renamed_attribute, renamed_keyword
from .._linalg import jittered_cholesky, log_det_from_cholesky, second_moment, whiten_rows
from .gaussian import entropy_log_det

__all__ = ["PrototypeGMJE", "batch_prototype_scale_tril", "prototype_gmje_loss"]

# covariance_type takes scikit-learn's names; these were its names here before.
_OLD_COVARIANCE_TYPES = {"shared": "tied", "component": "full"}


def _covariance_type(value):
    """``"tied"`` or ``"full"``; the old ``"shared"``/``"component"`` with a FutureWarning."""
    if value in _OLD_COVARIANCE_TYPES:
        new = _OLD_COVARIANCE_TYPES[value]
        warnings.warn(
            f"covariance_type={value!r} was renamed {new!r}, as in scikit-learn's "
            "GaussianMixture; the old name will be removed in a future release.",
            FutureWarning,
            stacklevel=3,
        )
        return new
    if value not in ("tied", "full"):
        raise ValueError(f"covariance_type must be 'tied' or 'full', got {value!r}.")
    return value


def batch_prototype_scale_tril(
    z, prototypes, mixing_logits, covariance_type="tied", jitter=0.05, eps=1e-4
):
    """Cholesky factor(s) of the batch's covariance around the prototypes: one M-step, no gradient.

    Responsibilities ``r_ik`` of the batch rows ``z_i`` for the prototypes
    ``mu_k`` are taken under the mixture with the batch's own total
    covariance ``T`` (centred, without gradient), and the covariance is the
    M-step's: tied, ``S = (1/N) sum_ik r_ik (z_i - mu_k)(z_i - mu_k)^T``, or
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
    covariance_type : {"tied", "full"}, default="tied"
        One covariance shared by the prototypes, or one per prototype (scikit-learn's
        names; ``"shared"`` and ``"component"`` still work, with a ``FutureWarning``).
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
    covariance_type = _covariance_type(covariance_type)
    with torch.no_grad():
        total = second_moment(z - z.mean(0))
        factor = jittered_cholesky(total, eps)
        whitened_z, whitened_mu = whiten_rows(factor, z), whiten_rows(factor, prototypes)
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
        if covariance_type == "tied":
            cross = weighted_sums @ prototypes
            covariance = (
                z.T @ z - cross - cross.T + prototypes.T @ (counts[:, None] * prototypes)
            ) / z.shape[0]
            return jittered_cholesky(0.5 * (covariance + covariance.T) + floor * identity, eps)
        covariances = []
        for k in range(prototypes.shape[0]):
            mu, weight = prototypes[k], counts[k].clamp_min(torch.finfo(z.dtype).eps)
            cross = weighted_sums[:, k, None] @ mu[None, :]
            second = (z * responsibilities[:, k, None]).T @ z
            covariance = (second - cross - cross.T) / weight + mu[:, None] @ mu[None, :]
            covariances.append(0.5 * (covariance + covariance.T) + floor * identity)
        return jittered_cholesky(torch.stack(covariances), eps)


@renamed_keyword("lam", "entropy_weight")
def prototype_gmje_loss(
    z_a,
    z_b,
    prototypes,
    mixing_logits,
    scale_tril,
    entropy_weight=1.0,
    eps=1e-4,
    covariance_ema=None,
    ema_momentum=0.5,
    entropy="views",
    return_terms=False,
):
    """Prototype GMJE: relaxed EM by back-propagation ([GMJE]_ Eq. 15-16; user guide, "GMJE").

    For the joint embeddings ``z_i = [z_a,i, z_b,i]`` and a mixture of ``K``
    learnable prototypes ``mu_k`` with weights ``pi = softmax(mixing_logits)``:

    - shared covariance ``Sigma = L L^T`` (``scale_tril`` of shape (D, D), [GMJE]_ Eq. 15):
      ``NLL = (1/N) sum_i -LSE_k(log pi_k - Maha_ik / 2) + log|Sigma| / 2``;
    - one covariance per component (``scale_tril`` of shape (K, D, D), [GMJE]_ Eq. 16):
      ``NLL = (1/N) sum_i -LSE_k(log pi_k - Maha_ik / 2 - log|Sigma_k| / 2)``,

    with ``Maha_ik = (z_i - mu_k)^T Sigma_k^-1 (z_i - mu_k)``: the mixture's mean
    ``-log p(z)`` minus ``(D/2) log 2 pi``. The parameters are not batch
    statistics, so the Mahalanobis term keeps its gradient (the trace trap's
    remedy 1, [GMJE]_ Appendix O.3); a fixed ``scale_tril = sqrt(tau) I``
    gives the temperature form. The paper's recipe adds an explicit marginal
    term against the log-determinant cheat ([GMJE]_ Appendices O.4 and
    P.3.5): with ``w`` the ``entropy_weight``, the loss is

    ``L = NLL - w * E``,
    ``C = m * covariance_ema + (1 - m) * Z^T Z / N``

    (``C = Z^T Z / N`` without ``covariance_ema``), where ``E`` is the
    log-determinant of this EMA-tracked covariance whose newest term is the
    batch's: ``E = log|C_aa + eps I| + log|C_bb + eps I|`` over the two views'
    blocks (``entropy="views"``) or ``log|C + eps I|`` (``"joint"``, which
    also penalises the views' mutual information; see :func:`gje_loss`). Only
    the batch's term carries a gradient, so the push scales with
    ``w * (1 - m)``: raise ``w`` with ``m``.

    Parameters
    ----------
    z_a, z_b : Tensor of shape (N, d_a) and (N, d_b)
    prototypes : Tensor of shape (K, D)
        ``mu_k`` in the joint space, ``D = d_a + d_b``.
    mixing_logits : Tensor of shape (K,)
    scale_tril : Tensor of shape (D, D) or (K, D, D)
        Lower-triangular Cholesky factor(s) with a positive diagonal.
    entropy_weight : float, default=1.0
        ``w``, the weight of the entropy term. Formerly ``lam``, which is
        still accepted with a ``FutureWarning``.
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
        whitened_z = whiten_rows(scale_tril, z)
        whitened_mu = whiten_rows(scale_tril, prototypes)
        mahalanobis = (whitened_z[:, None, :] - whitened_mu[None, :, :]).pow(2).sum(-1)
        data_fit = -torch.logsumexp(log_weights - 0.5 * mahalanobis, dim=1).mean()
        nll = data_fit + 0.5 * log_det_from_cholesky(scale_tril)
    else:
        diff = (z[:, None, :] - prototypes[None, :, :]).unsqueeze(-1)
        whitened = torch.linalg.solve_triangular(scale_tril, diff, upper=False).squeeze(-1)
        log_dets = log_det_from_cholesky(scale_tril)
        logits = log_weights - 0.5 * whitened.pow(2).sum(-1) - 0.5 * log_dets
        nll = -torch.logsumexp(logits, dim=1).mean()
    covariance = second_moment(z)
    if covariance_ema is not None:
        covariance = ema_momentum * covariance_ema.detach() + (1.0 - ema_momentum) * covariance
    log_det = entropy_log_det(covariance, z_a.shape[1], eps, entropy)
    loss = nll - entropy_weight * log_det
    if return_terms:
        return loss, {"nll": nll, "entropy": log_det}
    return loss


class PrototypeGMJE(nn.Module):
    """The learnable parameters of :func:`prototype_gmje_loss` and its covariance state.

    Holds ``K`` prototypes in the joint space and mixing logits. The
    covariance is either learned (``covariance="learned"``, the paper's
    relaxed EM by back-propagation): one shared Cholesky factor ([GMJE]_
    [GMJE]_ Eq. 15) or one per prototype ([GMJE]_ Eq. 16), each
    ``L = diag(softplus(raw) + min_scale) + strictly lower part`` so that any
    parameter value gives a valid factor,
    with the entropy term on an EMA-tracked covariance; or taken from each
    batch (``covariance="batch"``): the M-step covariance around the
    prototypes, held constant (:func:`batch_prototype_scale_tril`), with the
    entropy term on the batch's own covariance, as in :func:`gje_loss`.
    Calling the module returns the loss and, in training mode, moves the
    EMA covariance buffer to the covariance the loss just used (the first
    batch sets it).

    Parameters
    ----------
    n_joint : int
        ``D``, the width of the joint embedding ``[z_a, z_b]`` (was ``n_features``,
        still accepted with a ``FutureWarning``).
    n_prototypes : int
        ``K``.
    covariance_type : {"tied", "full"}, default="tied"
        One covariance shared by the prototypes, or one per prototype (scikit-learn's
        names; ``"shared"`` and ``"component"`` still work, with a ``FutureWarning``).
    entropy_weight, eps, ema_momentum, entropy
        As in :func:`prototype_gmje_loss` (``entropy_weight`` was ``lam``,
        which is still accepted with a ``FutureWarning``).
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
    >>> objective = PrototypeGMJE(n_joint=4, n_prototypes=3)
    >>> loss = objective(torch.randn(8, 2), torch.randn(8, 2))
    >>> loss.backward()
    >>> objective.prototypes.grad.shape, objective.scale_tril().shape
    (torch.Size([3, 4]), torch.Size([4, 4]))
    """

    @renamed_keyword("n_features", "n_joint")
    @renamed_keyword("lam", "entropy_weight")
    def __init__(
        self,
        n_joint,
        n_prototypes,
        covariance_type="tied",
        entropy_weight=1.0,
        eps=1e-4,
        ema_momentum=0.5,
        entropy="views",
        min_scale=1e-3,
        covariance="learned",
        batch_jitter=0.05,
    ):
        super().__init__()
        covariance_type = _covariance_type(covariance_type)
        if covariance not in ("learned", "batch"):
            raise ValueError(f"covariance must be 'learned' or 'batch', got {covariance!r}.")
        self.entropy_weight, self.eps, self.entropy = entropy_weight, eps, entropy
        self.ema_momentum, self.min_scale = ema_momentum, min_scale
        self.covariance_type, self.covariance, self.batch_jitter = (
            covariance_type,
            covariance,
            batch_jitter,
        )
        # Unit-norm views put about 1/D of the joint variance on each coordinate:
        # start the prototypes and the component scales at that size.
        scale = 1.0 / math.sqrt(n_joint)
        self.prototypes = nn.Parameter(scale * torch.randn(n_prototypes, n_joint))
        self.mixing_logits = nn.Parameter(torch.zeros(n_prototypes))
        stack = (n_prototypes,) if covariance_type == "full" else ()
        if covariance == "learned":
            inverse_softplus = math.log(math.expm1(max(scale - min_scale, 1e-6)))
            self.raw_diagonal = nn.Parameter(torch.full(stack + (n_joint,), inverse_softplus))
            n_lower = n_joint * (n_joint - 1) // 2
            self.raw_lower = nn.Parameter(torch.zeros(stack + (n_lower,)))
            self.register_buffer(
                "lower_indices", torch.tril_indices(n_joint, n_joint, -1), persistent=False
            )
            self.register_buffer("covariance_ema", torch.zeros(n_joint, n_joint))
            self.register_buffer("n_updates", torch.zeros((), dtype=torch.long))
        else:
            identity = torch.eye(n_joint).expand(stack + (n_joint, n_joint))
            self.register_buffer("batch_scale_tril", scale * identity.clone())

    lam = renamed_attribute("lam", "entropy_weight")

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
                entropy_weight=self.entropy_weight,
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
            entropy_weight=self.entropy_weight,
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
