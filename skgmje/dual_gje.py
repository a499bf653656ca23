"""DualGJE: the sample-space (Gaussian process) Joint Embedding, exact or with random features."""

import time
import warnings
from numbers import Integral

import numpy as np
from scipy import linalg, optimize
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.gaussian_process.kernels import (
    RBF,
    ConstantKernel,
    Kernel,
    WhiteKernel,
)
from sklearn.utils import check_random_state

from ._core.gaussian import LOG_2PI
from ._core.gp import (
    FourierKernelParts,
    exact_dual_loss,
    fourier_dual_loss,
    fourier_features,
    white_indices,
    white_noise,
)
from ._validation import StrOptions, positive
from .base import ConditionalDensityEstimator, column_standardisation
from .mixture import GaussianMixtureDistribution

__all__ = ["DualGJE"]


class DualGJE(ConditionalDensityEstimator):
    """Dual Gaussian Joint Embedding: a Gaussian process on the targets, exact or random features.

    The sample-space view of GJE ([GMJE]_ Section 3.1; user guide, "DualGJE"): the
    targets ``T`` (N x dy) are ``dy`` independent Gaussian-process channels
    sharing one kernel on the contexts, ``K = k(X, X) + alpha I``. Fitting
    minimises the dual loss ([GMJE]_ Eq. 3-4)::

        tr(T^T K^-1 T) + dy log|K|

    (twice the negative log marginal likelihood, so this is the criterion of
    scikit-learn's :class:`~sklearn.gaussian_process.GaussianProcessRegressor`)
    over the kernel's hyper-parameters, and predicts with the closed-form
    posterior ([GMJE]_ Eq. 5)::

        mu(x*)      = k*^T K^-1 T
        sigma^2(x*) = k(x*, x*) - k*^T K^-1 k* + alpha

    ``predict_distribution`` is a one-component mixture whose variance grows
    with the distance of ``x*`` from the training contexts. It stays unimodal:
    on a multi-valued target it predicts the average of the branches, which
    is what :class:`GMJE` fixes.

    With ``n_fourier_features`` set, the RBF kernel is replaced by random
    Fourier features ``phi(x) = sqrt(2/Df) cos(W x + b)`` (column ``j`` of ``W``
    divided by the length-scale of feature ``j``), ``K ~ a Phi Phi^T + s2 I``,
    and every solve and log-determinant goes through the ``Df x Df``
    matrix ``a Phi^T Phi + s2 I`` (Woodbury and Weinstein–Aronszajn): fit and
    prediction cost ``O(N Df^2)`` instead of ``O(N^3)``.

    Parameters
    ----------
    kernel : kernel instance, default=None
        A :mod:`sklearn.gaussian_process.kernels` kernel on the contexts.
        ``None`` means ``ConstantKernel(1.0) * RBF(np.ones(n_features)) +
        WhiteKernel(1.0)``, built at fit time for the number of features: an
        RBF kernel with one learned length-scale per feature (automatic
        relevance determination, ARD), a learned amplitude and a learned noise
        level (without a noise term a density model puts zero variance on its
        training points). With one length-scale per feature the marginal
        likelihood can stretch the scale of an irrelevant or slowly varying
        feature until the kernel ignores it, as ``GaussianProcessRegressor``
        with an ARD kernel does; a single length-scale has to compromise
        between the features (see the real-data benchmark,
        ``benchmarks/bench_real.py``). Each feature adds a hyper-parameter to
        tune: more optimiser iterations, and ``O(N^2)`` gradient memory per
        feature in the exact mode. Pass ``ConstantKernel(1.0) * RBF(1.0) + WhiteKernel(1.0)``
        for one shared length-scale. With ``n_fourier_features`` the kernel
        must be an RBF (one length-scale, or one per feature), optionally
        multiplied by ``ConstantKernel`` factors, optionally plus one
        ``WhiteKernel``.
    alpha : float, default=1e-10
        Noise variance added to the diagonal of the Gram matrix, and to the
        predictive variance.
    optimizer : "fmin_l_bfgs_b", callable or None, default="fmin_l_bfgs_b"
        How the kernel hyper-parameters are tuned on the dual loss. ``None``
        keeps the kernel fixed, as the paper does. A callable has the
        signature of ``GaussianProcessRegressor``'s:
        ``optimizer(obj_func, initial_theta, bounds) -> (theta_opt, func_min)``
        where ``obj_func(theta)`` returns the loss and its gradient.
    n_restarts_optimizer : int, default=0
        Extra optimiser starts from log-uniform draws within the kernel's bounds.
    normalize_X : bool, default=True
        Centre and scale each context column to unit variance before the kernel
        sees it, so the kernel's length-scales (and their bounds) are in units of
        each column's standard deviation. ``False`` gives the kernel the raw
        contexts, as scikit-learn's ``GaussianProcessRegressor`` does.
    normalize_y : bool, default=True
        Centre and scale each target to unit variance before fitting (the
        predictions are mapped back), so amplitude and noise are relative to the
        targets' variance. With both normalisations (the defaults) the model does
        not depend on the units of ``X`` and ``y``: scaling and shifting them
        moves every log-density by ``-n_targets * log(s)`` and nothing else.
        scikit-learn's ``GaussianProcessRegressor`` defaults to ``False``.
    n_fourier_features : int or None, default=None
        ``None`` is the exact GP (Cholesky of the N x N Gram matrix); an int
        ``Df`` uses that many random Fourier features.
    random_state : int, RandomState instance or None, default=None
        Seeds the random features and the optimiser restarts.
    verbose : int, default=0
        1 prints the loss at the end of each optimiser start; 2 also every
        loss evaluation.

    Attributes
    ----------
    kernel_ : kernel instance
        The kernel with the fitted hyper-parameters (on standardised contexts
        and targets with ``normalize_X`` and ``normalize_y``); with the default
        kernel, ``kernel_.k1.k2.length_scale`` holds one length-scale per
        feature.
    X_train_ : ndarray of shape (n_samples, n_features)
        Training contexts (needed by exact prediction, and by ``sample``
        without ``X``).
    dual_coef_ : ndarray of shape (n_samples, n_targets)
        ``K^-1 T`` (exact mode only).
    L_ : ndarray of shape (n_samples, n_samples)
        Lower Cholesky factor of ``K`` (exact mode only); with ``sample_weight``, of
        ``S K S`` with ``S = diag(sqrt(w))`` over the rows of positive weight.
    fourier_frequencies_ : ndarray of shape (n_fourier_features, n_features)
        ``W`` of the random features at the fitted length-scales, column ``j``
        divided by feature ``j``'s (RFF mode only).
    fourier_phases_ : ndarray of shape (n_fourier_features,)
    fourier_coef_ : ndarray of shape (n_fourier_features, n_targets)
        Posterior mean of the feature weights: ``mu(x*) = phi(x*)^T fourier_coef_``.
    noise_variance_ : float
        ``alpha`` plus the fitted ``WhiteKernel`` noise level, if any.
    dual_loss_ : float
        The dual loss at the fitted hyper-parameters (on normalised targets
        with ``normalize_y``).
    log_marginal_likelihood_value_ : float
        ``-(dual_loss_ + N dy log 2 pi) / 2``.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    n_targets_ : int

    See Also
    --------
    GJE : the primal (feature-space) view; with a linear kernel the dual loss
        equals the primal one ([GMJE]_ Appendix J).
    GMJE : a mixture over the joint, for multi-valued targets.
    sklearn.gaussian_process.GaussianProcessRegressor : the same exact model.

    Notes
    -----
    ``sample(X=None)`` needs contexts, and a GP has no model of ``p(x)``: it
    draws contexts uniformly from the training set (a bootstrap of the
    empirical marginal), then targets from ``p(y | x)``.

    The exact mode costs ``O(N^3)`` time and ``O(N^2)`` memory (``O(N^2 P)``
    while tuning P hyper-parameters, ``P = n_features + 2`` with the default
    kernel); the random-feature mode ``O(N Df^2)`` time and ``O(N Df)`` memory.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import DualGJE
    >>> rng = np.random.RandomState(0)
    >>> X = rng.uniform(-3, 3, size=(200, 1))
    >>> y = np.sin(X[:, 0]) + 0.1 * rng.normal(size=200)
    >>> model = DualGJE().fit(X, y)
    >>> model.predict([[1.5]]).round(1)
    array([1.])
    >>> round(float(np.sqrt(model.noise_variance_)), 1)
    0.1
    >>> mean, std = model.predict([[0.0], [10.0]], return_std=True)
    >>> bool(std[1] > 5 * std[0])          # uncertain far from the data
    True
    >>> fast = DualGJE(n_fourier_features=200, random_state=0).fit(X, y)
    >>> float(np.abs(fast.predict([[1.5]]) - model.predict([[1.5]]))[0]) < 0.05
    True

    Each feature gets its own length-scale: one that does not affect ``y``
    is smoothed out by a length-scale far longer than its spread.

    >>> X_noisy = np.column_stack([X, rng.normal(size=200)])
    >>> length_scale = DualGJE().fit(X_noisy, y).kernel_.k1.k2.length_scale
    >>> bool(length_scale[1] > 50 * length_scale[0])
    True
    """

    _parameter_constraints = {
        "kernel": [Kernel, None],
        "alpha": [positive(allow_zero=True)],
        "optimizer": [StrOptions({"fmin_l_bfgs_b"}), callable, None],
        "n_restarts_optimizer": [positive(Integral, allow_zero=True)],
        "normalize_X": ["boolean"],
        "normalize_y": ["boolean"],
        "n_fourier_features": [positive(Integral), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        kernel=None,
        alpha=1e-10,
        optimizer="fmin_l_bfgs_b",
        n_restarts_optimizer=0,
        normalize_X=True,
        normalize_y=True,
        n_fourier_features=None,
        random_state=None,
        verbose=0,
    ):
        self.kernel = kernel
        self.alpha = alpha
        self.optimizer = optimizer
        self.n_restarts_optimizer = n_restarts_optimizer
        self.normalize_X = normalize_X
        self.normalize_y = normalize_y
        self.n_fourier_features = n_fourier_features
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Tune the kernel on the dual loss and condition on the training data.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Contexts.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights: row ``i`` gets noise variance ``(alpha + white) /
            w_i`` (a weight of 2 is the row observed twice), in the exact and the
            random-feature mode alike, and the normalisations are weighted. Rows of
            weight zero are dropped.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight)

    def _fit(self, X, Y, sample_weight):
        kernel = (
            ConstantKernel(1.0) * RBF(np.ones(X.shape[1])) + WhiteKernel(1.0)
            if self.kernel is None
            else clone(self.kernel)
        )
        rng = check_random_state(self.random_state)
        if sample_weight is not None:
            keep = sample_weight > 0
            X, Y, sample_weight = X[keep], Y[keep], sample_weight[keep]
        self._row_scale = None if sample_weight is None else np.sqrt(sample_weight)
        self._x_mean, self._x_scale = _column_standardisation(X, self.normalize_X, sample_weight)
        self.X_train_ = X
        X = self._standardised_contexts(X)
        self._y_mean, self._y_std = _column_standardisation(Y, self.normalize_y, sample_weight)
        T = (Y - self._y_mean) / self._y_std
        n_samples, n_targets = T.shape

        if self.n_fourier_features is None:
            objective, finish = self._exact_objective(kernel, X, T, self._row_scale)
        else:
            parts = FourierKernelParts(kernel)
            base_frequencies = rng.standard_normal(size=(self.n_fourier_features, X.shape[1]))
            phases = rng.uniform(0.0, 2.0 * np.pi, size=self.n_fourier_features)
            objective, finish = self._fourier_objective(
                parts, X, T, base_frequencies, phases, self._row_scale
            )

        theta = kernel.theta
        if self.optimizer is not None and len(theta) > 0:
            theta = self._optimise(objective, theta, kernel.bounds, rng)
        self.kernel_ = kernel.clone_with_theta(theta)
        self.dual_loss_ = finish(self.kernel_)
        self.log_marginal_likelihood_value_ = -0.5 * (
            self.dual_loss_ + n_samples * n_targets * LOG_2PI
        )
        return self

    def _exact_objective(self, kernel, X, T, row_scale=None):
        noise_indices = white_indices(kernel)
        if row_scale is not None:
            T = T * row_scale[:, None]

        def weighted_gram(candidate, eval_gradient):
            """``S K_w S`` with per-row noise ``(alpha + white) / w``, ``S = diag(sqrt(w))``:
            ``K_w^-1 = S (S K_w S)^-1 S`` and ``log|K_w| = log|S K_w S| - sum log w``."""
            result = candidate(X, eval_gradient=eval_gradient)
            gram, gram_gradient = result if eval_gradient else (result, None)
            diagonal = np.diag_indices_from(gram)
            if row_scale is None:
                gram[diagonal] += self.alpha
                return gram, gram_gradient, 0.0
            weights = row_scale**2
            white = white_noise(candidate)
            gram *= np.outer(row_scale, row_scale)
            # S (white I) S = white W: put the noise back at (alpha + white) on each row.
            gram[diagonal] += self.alpha + white - white * weights
            if gram_gradient is not None:
                gram_gradient *= np.outer(row_scale, row_scale)[:, :, None]
                for index in noise_indices:
                    gram_gradient[diagonal[0], diagonal[1], index] /= weights
            return gram, gram_gradient, -T.shape[1] * np.sum(np.log(weights))

        def objective(theta):
            gram, gram_gradient, offset = weighted_gram(kernel.clone_with_theta(theta), True)
            terms = exact_dual_loss(gram, T, gram_gradient)
            if terms is None:
                return np.inf, np.zeros_like(theta)
            return terms.loss + offset, terms.gradient

        def finish(fitted_kernel):
            gram, _, offset = weighted_gram(fitted_kernel, False)
            terms = exact_dual_loss(gram, T)
            if terms is None:
                raise ValueError(
                    "The Gram matrix k(X, X) + alpha I is not positive definite at the fitted "
                    "kernel; increase alpha or add a WhiteKernel."
                )
            self.L_ = terms.cholesky
            self.dual_coef_ = (
                terms.dual_coef if row_scale is None else terms.dual_coef * row_scale[:, None]
            )
            self.noise_variance_ = float(self.alpha + white_noise(fitted_kernel))
            return terms.loss + offset

        return objective, finish

    def _fourier_objective(self, parts, X, T, base_frequencies, phases, row_scale=None):
        def evaluate(fitted_kernel, gradient):
            amplitude, length_scale, white = parts.values(fitted_kernel)
            terms = fourier_dual_loss(
                X,
                T,
                base_frequencies,
                phases,
                amplitude,
                length_scale,
                self.alpha + white,
                gradient,
                row_scale=row_scale,
            )
            return terms, white

        def objective(theta):
            terms, white = evaluate(parts.kernel.clone_with_theta(theta), gradient=True)
            if terms is None:
                return np.inf, np.zeros_like(theta)
            return terms.loss, parts.theta_gradient(terms.gradient, white, self.alpha + white)

        def finish(fitted_kernel):
            terms, white = evaluate(fitted_kernel, gradient=False)
            if terms is None:
                raise ValueError(
                    "a Phi^T Phi + s2 I is not positive definite at the fitted kernel; "
                    "increase alpha or add a WhiteKernel."
                )
            _, length_scale, _ = parts.values(fitted_kernel)
            noise_variance = self.alpha + white
            self.fourier_frequencies_ = base_frequencies / length_scale
            self.fourier_phases_ = phases
            self.fourier_coef_ = terms.weight_mean
            self._fourier_cholesky = terms.inner_cholesky
            self._fourier_amplitude = parts.values(fitted_kernel)[0]
            self.noise_variance_ = float(noise_variance)
            return terms.loss

        return objective, finish

    def _optimise(self, objective, theta, bounds, rng):
        evaluations = [0]

        def traced(theta):
            loss, gradient = objective(theta)
            evaluations[0] += 1
            self._print(2, f"  evaluation {evaluations[0]}: dual loss {loss:.6g}")
            return loss, gradient

        starts = [theta]
        if self.n_restarts_optimizer > 0:
            if not np.isfinite(bounds).all():
                raise ValueError(
                    "n_restarts_optimizer > 0 needs finite kernel hyper-parameter bounds."
                )
            starts += list(
                rng.uniform(
                    bounds[:, 0], bounds[:, 1], size=(self.n_restarts_optimizer, len(theta))
                )
            )
        best_theta, best_loss = theta, np.inf
        for index, start in enumerate(starts):
            started = time.perf_counter()
            theta_opt, loss = self._minimise(traced, start, bounds)
            self._print(
                1,
                f"start {index + 1}/{len(starts)}: dual loss {loss:.6g} "
                f"({time.perf_counter() - started:.2f} s)",
            )
            if loss < best_loss:
                best_theta, best_loss = theta_opt, loss
        if not np.isfinite(best_loss):
            raise ValueError(
                "The dual loss is not finite at any hyper-parameter the optimiser tried; "
                "increase alpha or add a WhiteKernel."
            )
        return best_theta

    def _minimise(self, objective, theta, bounds):
        if callable(self.optimizer):
            theta_opt, loss = self.optimizer(objective, theta, bounds=bounds)
            return np.asarray(theta_opt, dtype=float), float(loss)
        result = optimize.minimize(objective, theta, method="L-BFGS-B", jac=True, bounds=bounds)
        if not result.success:
            warnings.warn(
                f"The kernel optimiser did not converge: {result.message}",
                ConvergenceWarning,
                stacklevel=2,
            )
        return result.x, float(result.fun)

    def _standardised_contexts(self, X):
        return (X - self._x_mean) / self._x_scale

    def _latent_moments(self, X):
        """Posterior mean (n, dy) and variance of the noise-free function (n,), normalised units."""
        X = self._standardised_contexts(X)
        if self.n_fourier_features is None:
            # Standardised again per call, not stored: the training contexts are kept once.
            cross = self.kernel_(X, self._standardised_contexts(self.X_train_))
            mean = cross @ self.dual_coef_
            scaled = cross.T if self._row_scale is None else cross.T * self._row_scale[:, None]
            projected = linalg.solve_triangular(self.L_, scaled, lower=True, check_finite=False)
            prior = self.kernel_.diag(X) - white_noise(self.kernel_)
            variance = prior - np.sum(projected**2, axis=0)
        else:
            features = fourier_features(X, self.fourier_frequencies_, self.fourier_phases_)
            mean = features @ self.fourier_coef_
            projected = linalg.solve_triangular(
                self._fourier_cholesky, features.T, lower=True, check_finite=False
            )
            # a phi^T (I - a Phi^T Phi A^-1) phi = a s2 phi^T A^-1 phi, with A = a Phi^T Phi + s2 I.
            variance = self._fourier_amplitude * self.noise_variance_ * np.sum(projected**2, axis=0)
        return mean, np.maximum(variance, 0.0)

    def _prediction_row_width(self):
        # A kernel row against every training point, or the Fourier features.
        width = len(self.X_train_) if self.n_fourier_features is None else self.n_fourier_features
        return 2 * width + self.n_targets_ * (self.n_targets_ + 1)

    def _predict_distribution(self, X):
        mean, latent_variance = self._latent_moments(X)
        variance = latent_variance + self.noise_variance_
        means = (mean * self._y_std + self._y_mean)[:, None, :]
        covariances = (variance[:, None] * self._y_std**2)[:, None, None, :] * np.eye(
            self.n_targets_
        )
        return GaussianMixtureDistribution(
            weights=np.ones((len(X), 1)), means=means, covariances=covariances
        )

    def _sample_joint(self, n_samples, rng):
        X = self.X_train_[rng.randint(len(self.X_train_), size=n_samples)]
        Y = self._predict_distribution(X).sample(1, random_state=rng)[:, 0]
        return X, Y


def _column_standardisation(values, enabled, weights=None):
    """Each column's (weighted) mean and standard deviation (1 for a constant column);
    0 and 1 if not ``enabled``."""
    if not enabled:
        return np.zeros(values.shape[1]), np.ones(values.shape[1])
    return column_standardisation(values, weights)
