"""Conditional-likelihood refinement of a fitted joint Gaussian mixture (issue 23).

EM fits a joint mixture ``p(z) = sum_k pi_k N(z | mu_k, Sigma_k)`` on ``z = [x, y]`` by
maximising ``sum_i w_i log p(x_i, y_i) = sum_i w_i [log p(y_i | x_i) + log p(x_i)]``; with
many context columns most of that objective, and of the components, goes to ``p(x)``,
which the conditional never uses. :func:`refine_conditional` moves an EM fit towards a
maximum of the conditional log-likelihood alone (conditional EM in spirit, Jebara and
Pentland 1998), and returns a joint mixture again, so its closed-form conditional and its
joint samples need nothing new.
"""

from typing import NamedTuple

import numpy as np
from scipy import optimize
from sklearn.model_selection import KFold
from sklearn.utils import check_random_state

from .._validation import check_positive
from . import em
from .gaussian import LOG_2PI, cholesky, condition

# EM on each fold's training rows stops as GMJE's does by default.
_EM_TOL, _EM_MAX_ITER = 1e-3, 100


class RefinedMixture(NamedTuple):
    """A joint mixture after :func:`refine_conditional`, in the data's units.

    Attributes
    ----------
    weights : ndarray of shape (K,)
    means : ndarray of shape (K, D)
    covariances : ndarray of shape (K, D, D)
        Symmetric positive definite.
    n_iter : int
        L-BFGS iterations taken on all rows (at most the count the folds chose); 0 when
        the start is returned unchanged.
    validation_curve : ndarray of shape (n_checked,) or None
        The held-out ``-mean log p(y | x)`` (nats, in y's units) after each iteration,
        pooled over the folds, from iteration 0 (EM); None when ``cv`` is None.
    """

    weights: np.ndarray
    means: np.ndarray
    covariances: np.ndarray
    n_iter: int
    validation_curve: np.ndarray | None


def refine_conditional(
    weights,
    means,
    covariances,
    n_context,
    X,
    Y,
    sample_weight=None,
    *,
    cv=5,
    max_iter=1000,
    patience=100,
    min_std=1e-3,
    random_state=None,
):
    """Refine a joint Gaussian mixture to (approximately) maximise ``sum_i w_i log p(y_i | x_i)``.

    The objective, per unit weight, is the conditional log-likelihood of the rows::

        J = sum_i w_i log p(y_i | x_i) / sum_i w_i,
        log p(y | x) = logsumexp_k [log pi_k + log N(x | m_k, Sigma_k^cc)
                                    + log N(y | a_k + B_k x, S_k)]
                       - logsumexp_k [log pi_k + log N(x | m_k, Sigma_k^cc)],

    the joint mixture's exact conditional written as a mixture of linear experts
    ``N(y | a_k + B_k x, S_k)`` with Gaussian gates ``pi_k N(x | m_k, Sigma_k^cc)``. It is
    maximised by L-BFGS-B (float64 torch gradients) over the softmax logits of ``pi``,
    the gate means ``m_k``, the lower Cholesky factors ``L_k`` of ``Sigma_k^cc``, the
    expert intercepts ``a_k`` and coefficients ``B_k`` and the lower Cholesky factors
    ``R_k`` of ``S_k``. Every such point is a joint Gaussian per component and back::

        mu_k = [m_k, a_k + B_k m_k],   chol(Sigma_k) = [[L_k, 0], [B_k L_k, R_k]],

    so ``B_k = Sigma_k^tc (Sigma_k^cc)^-1`` and ``S_k`` is the Schur complement. This is the
    lower Cholesky factor of ``Sigma_k`` with z ordered ``[x, y]``, except that the
    off-diagonal block is ``B_k`` rather than ``B_k L_k``: with the latter an expert's
    prediction changes whenever its gate moves, and L-BFGS then crawls (concrete, K=4:
    training ``-J`` 3.24 after 3000 iterations, against 3.22 converged in 613 this way).
    Both blocks of the log-density come from triangular solves, never an inverse. The
    fit works on columns standardised by the rows' weighted mean and standard deviation
    and maps the result back, so rescaling or shifting any one column of ``X`` or ``Y``
    rescales or shifts the result with it. The diagonals of ``L_k`` and ``R_k`` are held
    at or above ``min_std`` (of a standardised column) by the optimiser's bounds.

    Overfitting guard: the conditional likelihood can be driven up without bound by
    routing a few rows to a narrow component, and with few rows per parameter it
    overfits well before it converges (on the irrelevant-features problem, 10 context
    columns and K=12, a long run ends with a far worse held-out NLL than EM's start;
    ``tests/test_refine.py`` checks the same on a smaller case). So the number of
    iterations is chosen by ``cv``-fold cross-validation: on each fold's training rows
    the start is first re-converged by EM and then refined, and the fold's held-out
    ``-mean log p(y | x)`` is recorded after every iteration (the iteration 0 being
    EM's); the curves are pooled by weight, and the iteration count that minimises the
    pooled curve is then run on all rows from the given start. Re-running EM per fold
    matters: the given start saw the held-out rows, so it looks better on them than it
    is and the choice would be biased towards no refinement (this assumes the start is
    a maximum of the joint likelihood, as GMJE's fit is; another start's curves would
    describe EM's fit from it instead). Choosing 0 returns the start unchanged.
    Held-out data was the measured choice: a penalty ``lambda log p(x)`` kept in the
    objective (Bishop and Lasserre's hybrid) still overfits at lambda 0.3 on that
    problem and was no better elsewhere, and a fixed iteration count either overfits
    there or gives up the gains elsewhere. Whatever the curve says, the returned
    mixture never has a lower training objective than the start.

    Parameters
    ----------
    weights : array-like of shape (K,)
        Mixing weights of the start (positive, summing to 1).
    means : array-like of shape (K, D)
        Joint means over ``[x, y]``, in the data's units.
    covariances : array-like of shape (K, D, D)
        Full joint covariances, in the data's units.
    n_context : int
        ``dx``: the first ``n_context`` joint coordinates are ``x``.
    X : array-like of shape (n_samples, n_context)
    Y : array-like of shape (n_samples, D - n_context)
    sample_weight : array-like of shape (n_samples,), default=None
        Non-negative row weights; None weighs every row equally.
    cv : int or None, default=5
        Folds choosing the number of iterations (at least 2); None runs up to
        ``max_iter`` iterations on all rows with no guard (for a caller that validates
        the result itself). With ``cv`` an integer weights are not the same as repeated
        rows (the folds split copies of a row); with None they are.
    max_iter : int, default=1000
        Most L-BFGS iterations per fold and on all rows.
    patience : int, default=100
        A fold stops once this many iterations have passed without a better held-out
        value (its curve is extended with its last value).
    min_std : float, default=1e-3
        Floor on the diagonals of ``L_k`` and ``R_k``, on standardised columns. The
        default is the square root of GMJE's default ``reg_covar``, whose jitter keeps
        EM's factors above it, so that start is feasible; it also regularises each
        fold's EM (jitter ``min_std**2``).
    random_state : int, RandomState instance or None, default=None
        Seeds the folds.

    Returns
    -------
    RefinedMixture
        ``(weights, means, covariances, n_iter, validation_curve)``.
    """
    if cv is not None:
        check_positive("cv", cv, integer=True)
        if cv < 2:
            raise ValueError(f"cv must be at least 2 folds or None; got {cv!r}.")
    check_positive("max_iter", max_iter, integer=True, allow_zero=True)
    check_positive("patience", patience, integer=True)
    check_positive("min_std", min_std)
    X, Y = np.asarray(X, dtype=float), np.asarray(Y, dtype=float)
    Z = np.hstack([X, Y])
    sample_weight = (
        np.ones(len(Z)) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    )
    center = np.average(Z, axis=0, weights=sample_weight)
    variances = np.average((Z - center) ** 2, axis=0, weights=sample_weight)
    scale = np.sqrt(np.where(variances > 0, variances, 1.0))
    Z = (Z - center) / scale
    start = _to_vector(
        np.asarray(weights, dtype=float),
        (np.asarray(means, dtype=float) - center) / scale,
        np.asarray(covariances, dtype=float) / np.outer(scale, scale),
        n_context,
    )
    layout = _Layout(len(weights), n_context, Z.shape[1] - n_context)
    lower = np.full(layout.size, -np.inf)
    lower[layout.log_diagonals] = np.log(min_std)
    bounds = optimize.Bounds(lower, np.inf)

    def refine(theta, rows, n_iterations, callback=None):
        objective = _Objective(Z[rows], sample_weight[rows], layout)
        return optimize.minimize(
            objective.value_and_gradient,
            np.maximum(theta, lower),
            jac=True,
            method="L-BFGS-B",
            bounds=bounds,
            callback=callback,
            options={"maxiter": n_iterations},
        )

    validation_curve = None
    if cv is None:
        n_iter = max_iter
    else:
        pooled = _pooled_validation_curve(
            refine, start, Z, sample_weight, layout, cv, max_iter, patience, min_std, random_state
        )
        n_iter = int(np.argmin(pooled))
        # Standardising y shifted every log-density by sum(log scale_y).
        validation_curve = pooled + np.sum(np.log(scale[n_context:]))
    if n_iter > 0:
        result = refine(start, slice(None), n_iter)
        objective = _Objective(Z, sample_weight, layout)
        if objective.conditional_nll(result.x) < objective.conditional_nll(start):
            refined, means, covariances = _from_vector(result.x, layout)
            return RefinedMixture(
                refined,
                means * scale + center,
                covariances * np.outer(scale, scale),
                result.nit,
                validation_curve,
            )
    return RefinedMixture(
        np.array(weights, dtype=float),
        np.array(means, dtype=float),
        np.array(covariances, dtype=float),
        0,
        validation_curve,
    )


class _Layout:
    """Where each parameter block sits in the flat vector L-BFGS sees."""

    def __init__(self, n_components, n_context, n_targets):
        self.n_components, self.n_context, self.n_targets = n_components, n_context, n_targets
        K, c, t = n_components, n_context, n_targets
        sizes = {
            "logits": K,
            "gate_means": K * c,
            "gate_log_diagonal": K * c,
            "gate_lower": K * c * (c - 1) // 2,
            "intercepts": K * t,
            "coefs": K * t * c,
            "noise_log_diagonal": K * t,
            "noise_lower": K * t * (t - 1) // 2,
        }
        self.slices, start = {}, 0
        for name, size in sizes.items():
            self.slices[name] = slice(start, start + size)
            start += size
        self.size = start
        self.log_diagonals = np.r_[
            self.slices["gate_log_diagonal"], self.slices["noise_log_diagonal"]
        ]

    def split(self, theta):
        """The blocks of ``theta`` (NumPy or torch), shaped per component."""
        K, c, t = self.n_components, self.n_context, self.n_targets
        shapes = {
            "logits": (K,),
            "gate_means": (K, c),
            "gate_log_diagonal": (K, c),
            "gate_lower": (K, -1),
            "intercepts": (K, t),
            "coefs": (K, t, c),
            "noise_log_diagonal": (K, t),
            "noise_lower": (K, -1),
        }
        return {name: theta[self.slices[name]].reshape(shape) for name, shape in shapes.items()}


def _pooled_validation_curve(
    refine, start, Z, sample_weight, layout, cv, max_iter, patience, min_std, random_state
):
    """The held-out conditional NLL after each refinement iteration, pooled over ``cv``
    folds (weighted by their held-out weight; a fold that stopped early keeps its last
    value). Each fold refines from an EM fit on its own training rows."""
    rng = check_random_state(random_state)
    splitter = KFold(cv, shuffle=True, random_state=rng.randint(np.iinfo(np.int32).max))
    curves, held_out_weights = [], []
    for fit, held_out in splitter.split(Z):
        em_start = _em_refit(start, Z[fit], sample_weight[fit], layout, min_std**2)
        curves.append(
            _fold_curve(
                refine,
                em_start,
                fit,
                _Objective(Z[held_out], sample_weight[held_out], layout),
                max_iter,
                patience,
            )
        )
        held_out_weights.append(sample_weight[held_out].sum())
    length = max(len(curve) for curve in curves)
    return np.average(
        [np.pad(curve, (0, length - len(curve)), mode="edge") for curve in curves],
        axis=0,
        weights=held_out_weights,
    )


def _to_vector(weights, means, covariances, n_context):
    """The flat parameter vector of a joint mixture (standardised units)."""
    c = n_context
    conditional = condition(means, covariances, c)
    gate_factors = cholesky(covariances[:, :c, :c])
    noise_factors = cholesky(conditional.covariance)
    gate_rows, gate_cols = np.tril_indices(c, -1)
    noise_rows, noise_cols = np.tril_indices(noise_factors.shape[-1], -1)
    return np.concatenate(
        [
            # A component with weight 0 gets a finite logit that keeps it out of the way.
            np.log(np.maximum(weights, np.finfo(float).tiny)),
            means[:, :c].ravel(),
            np.log(np.diagonal(gate_factors, axis1=1, axis2=2)).ravel(),
            gate_factors[:, gate_rows, gate_cols].ravel(),
            conditional.intercept.ravel(),
            conditional.coef.ravel(),
            np.log(np.diagonal(noise_factors, axis1=1, axis2=2)).ravel(),
            noise_factors[:, noise_rows, noise_cols].ravel(),
        ]
    )


def _triangular(log_diagonal, lower, xp):
    """Lower-triangular stacks from their log-diagonals and strictly lower entries."""
    n_components, size = log_diagonal.shape
    rows, cols = np.tril_indices(size, -1)
    if xp is np:
        factors = np.zeros((n_components, size, size))
    else:
        factors = xp.zeros((n_components, size, size), dtype=log_diagonal.dtype)
    factors[:, rows, cols] = lower
    factors[:, np.arange(size), np.arange(size)] = xp.exp(log_diagonal)
    return factors


def _from_vector(theta, layout):
    """``(weights, means, covariances)`` of the joint mixture a parameter vector describes."""
    blocks = layout.split(theta)
    c = layout.n_context
    logits = blocks["logits"]
    weights = np.exp(logits - logits.max())
    gate_factors = _triangular(blocks["gate_log_diagonal"], blocks["gate_lower"], np)
    noise_factors = _triangular(blocks["noise_log_diagonal"], blocks["noise_lower"], np)
    coefs = blocks["coefs"]
    n_joint = c + layout.n_targets
    joint_factors = np.zeros((layout.n_components, n_joint, n_joint))
    joint_factors[:, :c, :c] = gate_factors
    joint_factors[:, c:, :c] = coefs @ gate_factors
    joint_factors[:, c:, c:] = noise_factors
    covariances = joint_factors @ np.swapaxes(joint_factors, 1, 2)
    means = np.concatenate(
        [
            blocks["gate_means"],
            blocks["intercepts"] + np.einsum("ktc,kc->kt", coefs, blocks["gate_means"]),
        ],
        axis=1,
    )
    return weights / weights.sum(), means, 0.5 * (covariances + np.swapaxes(covariances, 1, 2))


class _Objective:
    """``-J`` (mean weighted conditional NLL) on fixed rows, and its gradient by torch."""

    def __init__(self, Z, sample_weight, layout):
        import torch

        self._torch = torch
        c = layout.n_context
        self._X = torch.as_tensor(Z[:, :c], dtype=torch.float64)
        self._Y = torch.as_tensor(Z[:, c:], dtype=torch.float64)
        self._weights = torch.as_tensor(sample_weight / sample_weight.sum(), dtype=torch.float64)
        self._layout = layout

    def _conditional_log_likelihood(self, theta):
        torch, layout = self._torch, self._layout
        c, t = layout.n_context, layout.n_targets
        blocks = layout.split(theta)
        gate_factors = _triangular(blocks["gate_log_diagonal"], blocks["gate_lower"], torch)
        noise_factors = _triangular(blocks["noise_log_diagonal"], blocks["noise_lower"], torch)
        # (K, c, n): each component's whitened contexts L_k^-1 (x - m_k).
        whitened_x = torch.linalg.solve_triangular(
            gate_factors,
            (self._X[None] - blocks["gate_means"][:, None]).transpose(1, 2),
            upper=False,
        )
        log_gates = (
            torch.log_softmax(blocks["logits"], 0)[:, None]
            - 0.5 * (whitened_x.square().sum(1) + c * LOG_2PI)
            - blocks["gate_log_diagonal"].sum(1)[:, None]
        )
        predictions = blocks["intercepts"][:, None] + torch.einsum(
            "ktc,nc->knt", blocks["coefs"], self._X
        )
        whitened_y = torch.linalg.solve_triangular(
            noise_factors, (self._Y[None] - predictions).transpose(1, 2), upper=False
        )
        log_experts = (
            -0.5 * (whitened_y.square().sum(1) + t * LOG_2PI)
            - blocks["noise_log_diagonal"].sum(1)[:, None]
        )
        # Normalise the routing before adding the experts: written as a difference of two
        # logsumexps, gates far below float resolution (log-densities near -1e17) swallow
        # the experts' terms and make log p(y | x) exactly 0, which L-BFGS then exploits.
        return torch.logsumexp(torch.log_softmax(log_gates, 0) + log_experts, 0)

    def value_and_gradient(self, theta):
        theta = self._torch.tensor(theta, dtype=self._torch.float64, requires_grad=True)
        loss = -(self._weights * self._conditional_log_likelihood(theta)).sum()
        loss.backward()
        return loss.item(), theta.grad.numpy()

    def conditional_nll(self, theta):
        with self._torch.no_grad():
            theta = self._torch.as_tensor(theta, dtype=self._torch.float64)
            return -(self._weights * self._conditional_log_likelihood(theta)).sum().item()


def _em_refit(start, Z, sample_weight, layout, jitter):
    """The start re-converged by EM on some rows (standardised units), as a vector."""
    weights, means, covariances = _from_vector(start, layout)
    parameters = em.MixtureParameters(
        weights, means, covariances, em.precisions_cholesky_of(covariances, "full")
    )
    previous = -np.inf
    for _ in range(_EM_MAX_ITER):
        statistics = em.e_step(Z, parameters, "full", sample_weight)
        parameters = em.m_step(statistics, "full", jitter)
        current = statistics.log_likelihood / statistics.total_weight
        if abs(current - previous) < _EM_TOL:
            break
        previous = current
    return _to_vector(
        parameters.weights, parameters.means, parameters.covariances, layout.n_context
    )


def _fold_curve(refine, theta, fit, held_out, max_iter, patience):
    """Held-out conditional NLL after each L-BFGS iteration on the rows ``fit``."""
    curve = [held_out.conditional_nll(theta)]

    def callback(intermediate_result):
        curve.append(held_out.conditional_nll(intermediate_result.x))
        if len(curve) - 1 - int(np.argmin(curve)) >= patience:
            raise StopIteration

    refine(theta, fit, max_iter, callback)
    return np.array(curve)
