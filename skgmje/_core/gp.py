"""The dual (sample-space) GJE: its loss, exact and with random Fourier features, and the
kernels it reads (user guide, "DualGJE").

Both forms return ``tr(T^T K^-1 T) + dy log|K|`` ([GMJE]_ Eq. 3-4; twice the Gaussian
process negative log marginal likelihood without its constant) and its
gradient with respect to the log hyper-parameters, plus what prediction needs.

Unlike the rest of ``_core``, the Gram matrices here are factorised without jitter
(:func:`skgmje._core.gaussian.cholesky` adds some): a kernel that is not numerically
positive definite returns ``None``, so the optimiser steps back and the estimator can
ask for more ``alpha`` instead of fitting a silently perturbed kernel.
"""

import numpy as np
from scipy import linalg
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, Product, Sum, WhiteKernel

from .gaussian import log_det_from_cholesky


class ExactLossTerms:
    """Loss, gradient and the factors prediction reuses, for a full Gram matrix."""

    def __init__(self, loss, gradient, cholesky, dual_coef):
        self.loss = loss
        self.gradient = gradient
        self.cholesky = cholesky
        self.dual_coef = dual_coef


def exact_dual_loss(gram, targets, gram_gradient=None):
    """``tr(T^T K^-1 T) + dy log|K|`` for a positive definite ``K`` (N x N).

    Parameters
    ----------
    gram : ndarray of shape (N, N)
        ``k(X, X) + alpha I``.
    targets : ndarray of shape (N, dy)
    gram_gradient : ndarray of shape (N, N, P), optional
        ``dK / dtheta_p`` for P log hyper-parameters.

    Returns
    -------
    ExactLossTerms or None
        ``None`` when ``K`` is not numerically positive definite.
    """
    try:
        factor = linalg.cholesky(gram, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    dual_coef = linalg.cho_solve((factor, True), targets, check_finite=False)
    n_targets = targets.shape[1]
    loss = float(np.sum(targets * dual_coef) + n_targets * log_det_from_cholesky(factor))
    gradient = None
    if gram_gradient is not None:
        # d/dtheta [tr(T'K^-1 T) + dy log|K|] = tr((dy K^-1 - a a') dK/dtheta), a = K^-1 T.
        inverse = linalg.cho_solve((factor, True), np.eye(len(gram)), check_finite=False)
        inner = n_targets * inverse - dual_coef @ dual_coef.T
        gradient = np.einsum("ij,jip->p", inner, gram_gradient)
    return ExactLossTerms(loss, gradient, factor, dual_coef)


def fourier_features(X, frequencies, phases):
    """``phi(x) = sqrt(2 / Df) cos(W x + b)`` (Rahimi and Recht), shape (N, Df)."""
    return np.sqrt(2.0 / len(phases)) * np.cos(X @ frequencies.T + phases)


class FourierLossTerms:
    """Loss, gradient and the weight-space posterior of the random-feature GP."""

    def __init__(self, loss, gradient, inner_cholesky, weight_mean):
        self.loss = loss
        self.gradient = gradient
        self.inner_cholesky = inner_cholesky
        self.weight_mean = weight_mean


def fourier_dual_loss(
    X,
    targets,
    base_frequencies,
    phases,
    amplitude,
    length_scale,
    noise_variance,
    gradient=False,
    row_scale=None,
):
    """The dual loss with ``K = a Phi Phi^T + s2 I`` in ``O(N Df^2)`` ([GMJE]_ Eq. 75, 80).

    Woodbury gives ``K^-1 T = (T - a Phi A^-1 Phi^T T) / s2`` and
    Weinstein–Aronszajn ``log|K| = (N - Df) log s2 + log|A|`` with the
    ``Df x Df`` matrix ``A = a Phi^T Phi + s2 I``; ``K`` itself is never formed.

    Parameters
    ----------
    X : ndarray of shape (N, dx)
    targets : ndarray of shape (N, dy)
    base_frequencies : ndarray of shape (Df, dx)
        Standard normal draws; the frequencies are ``base_frequencies / length_scale``
        so that the features move smoothly with the length-scale.
    phases : ndarray of shape (Df,)
    amplitude, noise_variance : float
    length_scale : float or ndarray of shape (dx,)
    gradient : bool, default=False
        Also return the gradient with respect to
        ``(log amplitude, log length_scale..., log noise_variance)``.
    row_scale : ndarray of shape (N,), optional
        ``sqrt(w)`` for per-row noise ``s2 / w``: with ``S = diag(sqrt(w))``,
        ``S (a Phi Phi^T + s2 W^-1) S = a (S Phi)(S Phi)^T + s2 I``, so the rows of
        ``Phi`` and ``T`` are scaled and ``log|W^-1| = -sum log w`` is added.

    Returns
    -------
    FourierLossTerms or None
        ``None`` when ``A`` is not numerically positive definite.
    """
    n_samples, n_targets = targets.shape
    n_features = len(phases)
    frequencies = base_frequencies / length_scale
    arguments = X @ frequencies.T + phases
    scale = np.sqrt(2.0 / n_features)
    features = scale * np.cos(arguments)
    if row_scale is not None:
        features *= row_scale[:, None]
        targets = targets * row_scale[:, None]
    gram_features = features.T @ features
    inner = amplitude * gram_features
    inner.flat[:: n_features + 1] += noise_variance
    try:
        factor = linalg.cholesky(inner, lower=True, check_finite=False)
    except linalg.LinAlgError:
        return None
    projected_targets = features.T @ targets
    weights = linalg.cho_solve((factor, True), projected_targets, check_finite=False)
    data_fit = (np.sum(targets**2) - amplitude * np.sum(projected_targets * weights)) / (
        noise_variance
    )
    log_det = (n_samples - n_features) * np.log(noise_variance) + log_det_from_cholesky(factor)
    if row_scale is not None:
        log_det -= 2.0 * np.sum(np.log(row_scale))
    loss = float(data_fit + n_targets * log_det)
    weight_mean = amplitude * weights
    if not gradient:
        return FourierLossTerms(loss, None, factor, weight_mean)

    dual_coef = (targets - features @ weight_mean) / noise_variance
    projected_coef = features.T @ dual_coef
    # tr(K^-1 Phi Phi^T) = tr(A^-1 Phi^T Phi) by the push-through identity K^-1 Phi = Phi A^-1.
    trace_inner_gram = np.trace(linalg.cho_solve((factor, True), gram_features, check_finite=False))
    trace_inverse = (n_samples - amplitude * trace_inner_gram) / noise_variance
    d_amplitude = amplitude * (n_targets * trace_inner_gram - np.sum(projected_coef**2))
    d_noise = noise_variance * (n_targets * trace_inverse - np.sum(dual_coef**2))
    # tr(M dK) with M = dy K^-1 - a a^T and dK = a (dPhi Phi^T + Phi dPhi^T), where
    # dPhi/dlog l_d = S * (x_d w_d^T) elementwise, S = sqrt(2/Df) sin(W x + b).
    sines = scale * np.sin(arguments)
    if row_scale is not None:
        sines *= row_scale[:, None]
    if np.ndim(length_scale) == 0:
        # One length-scale: dPhi/dlog l = S * (W x), and the K^-1 part reduces to
        # tr(A^-1 Phi^T dPhi): one N x Df x Df product instead of two triangular solves.
        d_features = sines * (arguments - phases)
        cross = features.T @ d_features
        trace_term = np.trace(linalg.cho_solve((factor, True), cross, check_finite=False))
        d_length_scale = np.array(
            [
                2.0
                * amplitude
                * (n_targets * trace_term - np.sum((d_features.T @ dual_coef) * projected_coef))
            ]
        )
    else:
        weighted = n_targets * linalg.cho_solve((factor, True), features.T, check_finite=False).T
        weighted -= dual_coef @ projected_coef.T
        d_length_scale = 2.0 * amplitude * np.sum(X * ((weighted * sines) @ frequencies), axis=0)
    grad = np.concatenate([[d_amplitude], d_length_scale, [d_noise]])
    return FourierLossTerms(loss, grad, factor, weight_mean)


def white_indices(kernel):
    """``theta`` indices of the noise levels of the kernel's additive ``WhiteKernel`` terms."""
    white_prefixes = {
        prefix for term, prefix in _sum_terms(kernel, "") if isinstance(term, WhiteKernel)
    }
    indices, offset = [], 0
    for hyperparameter in kernel.hyperparameters:
        if hyperparameter.fixed:
            continue
        if _owner_prefix(hyperparameter) in white_prefixes:
            indices.append(offset)
        offset += hyperparameter.n_elements
    return indices


def white_noise(kernel):
    """Total ``WhiteKernel`` noise level in a (sum of) kernels; 0 if none."""
    if isinstance(kernel, WhiteKernel):
        return kernel.noise_level
    if isinstance(kernel, Sum):
        return white_noise(kernel.k1) + white_noise(kernel.k2)
    return 0.0


class FourierKernelParts:
    """Reads ``a * RBF(l) [+ WhiteKernel(w)]`` off a kernel and maps gradients onto its theta.

    Parameters
    ----------
    kernel : kernel instance
        An RBF, optionally multiplied by ConstantKernel factors, optionally plus
        one WhiteKernel, in any order.
    """

    def __init__(self, kernel):
        self.kernel = kernel
        self._roles = {}
        terms = _sum_terms(kernel, "")
        rbf_terms = [term for term in terms if not isinstance(term[0], WhiteKernel)]
        white_terms = [term for term in terms if isinstance(term[0], WhiteKernel)]
        if len(rbf_terms) != 1 or len(white_terms) > 1:
            raise ValueError(self._unsupported(kernel))
        for leaf, prefix in _product_factors(*rbf_terms[0]):
            # Matern subclasses RBF but has another spectral density: match the exact type.
            if type(leaf) is RBF:
                self._roles[prefix] = "length_scale"
            elif isinstance(leaf, ConstantKernel):
                self._roles[prefix] = "amplitude"
            else:
                raise ValueError(self._unsupported(kernel))
        if list(self._roles.values()).count("length_scale") != 1:
            raise ValueError(self._unsupported(kernel))
        for _, prefix in white_terms:
            self._roles[prefix] = "noise"

    @staticmethod
    def _unsupported(kernel):
        return (
            "n_fourier_features needs an RBF kernel, optionally multiplied by ConstantKernel "
            f"factors and plus one WhiteKernel; got {kernel!r}."
        )

    def _leaf(self, kernel, prefix):
        return kernel.get_params()[prefix[:-2]] if prefix else kernel

    def values(self, kernel):
        """``(amplitude, length_scale, white_noise)`` of a kernel of this structure."""
        amplitude, length_scale, white = 1.0, None, 0.0
        for prefix, role in self._roles.items():
            leaf = self._leaf(kernel, prefix)
            if role == "amplitude":
                amplitude *= leaf.constant_value
            elif role == "length_scale":
                length_scale = np.asarray(leaf.length_scale, dtype=float)
            else:
                white = leaf.noise_level
        if length_scale.ndim == 0:
            length_scale = float(length_scale)
        return amplitude, length_scale, white

    def theta_gradient(self, gradient, white, noise_variance):
        """Map ``d/d(log a, log l..., log s2)`` onto the kernel's ``theta``."""
        d_amplitude, d_length_scale, d_noise = gradient[0], gradient[1:-1], gradient[-1]
        pieces = []
        for hyperparameter in self.kernel.hyperparameters:
            if hyperparameter.fixed:
                continue
            role = self._roles[_owner_prefix(hyperparameter)]
            if role == "amplitude":
                pieces.append([d_amplitude])
            elif role == "length_scale":
                pieces.append(d_length_scale)
            else:
                # s2 = alpha + w, so d/dlog w = (w / s2) d/dlog s2.
                pieces.append([d_noise * white / noise_variance])
        return np.concatenate(pieces) if pieces else np.zeros(0)


def _owner_prefix(hyperparameter):
    """The parameter-path prefix (``"k1__k2__"``) of the kernel that owns ``hyperparameter``."""
    name = hyperparameter.name
    return name.rsplit("__", 1)[0] + "__" if "__" in name else ""


def _sum_terms(kernel, prefix):
    if isinstance(kernel, Sum):
        return _sum_terms(kernel.k1, prefix + "k1__") + _sum_terms(kernel.k2, prefix + "k2__")
    return [(kernel, prefix)]


def _product_factors(kernel, prefix):
    if isinstance(kernel, Product):
        return _product_factors(kernel.k1, prefix + "k1__") + _product_factors(
            kernel.k2, prefix + "k2__"
        )
    return [(kernel, prefix)]
