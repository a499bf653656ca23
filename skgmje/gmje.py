"""GMJE: a Gaussian mixture on the joint ``[x, y]`` fitted by EM, conditioned in closed form."""

from numbers import Integral, Real

import numpy as np
from sklearn.base import clone
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._core import em, missing_em, resolution
from ._core.refine import refine_conditional
from ._joint_mixture import JointMixtureEM
from ._selection import select_n_components
from ._validation import Interval, StrOptions, positive
from .base import StreamingMixin

__all__ = ["GMJE"]


class GMJE(StreamingMixin, JointMixtureEM):
    """Gaussian Mixture Joint Embedding fitted by expectation-maximisation.

    Fits ``p(z) = sum_k pi_k N(z | mu_k, Sigma_k)`` on the joint vectors
    ``z = [x, y]`` and conditions it exactly (user guide, "GMJE")::

        p(y | x) = sum_k gamma_k(x) N(y | mu_k^t + Sigma_k^tc (Sigma_k^cc)^-1 (x - mu_k^c),
                                         Sigma_k^tt - Sigma_k^tc (Sigma_k^cc)^-1 Sigma_k^ct)

    with routing weights ``gamma_k(x) ∝ pi_k N(x | mu_k^c, Sigma_k^cc)``
    computed in log space. Each component is a local linear regression, so
    the conditional can have several modes (one per branch of a multi-valued
    target) and its variance changes with x. With ``n_components=1`` it is
    :class:`GJE`.

    The EM is scikit-learn's ``GaussianMixture`` algorithm (same updates, same
    stopping rule, so the same fit from the same start), vectorised over
    components and written around summed sufficient statistics; it also takes
    ``sample_weight``. Its k-means and k-means++ starts measure distances on
    columns standardised by the training data, with the context and target blocks
    balanced and the targets weighed twice (the components exist to separate the
    target's modes), so that no column's units change the fit: rescaling or
    shifting any one column of ``X`` or ``y`` moves every log-density by ``-log s``
    for a target column and not at all for a context column.

    Parameters
    ----------
    n_components : int or "auto", default="auto"
        Number of joint Gaussian components ``K``. ``"auto"`` chooses it inside
        :meth:`fit` by ``cv``-fold cross-validation of the held-out conditional
        log-likelihood ``log p(y | x)`` (the estimator's :meth:`score`) over 1, 2, 3,
        4, 6, 8, 12, 16, 20, 24 and 32 (all of them: the score need not be unimodal
        in ``K``); candidates that would leave fewer
        than ``n_features + n_targets + 1`` training rows per component are not tried,
        and with fewer than ``2 cv`` rows it is 1. Why the conditional score and not
        BIC: the joint likelihood also rewards components spent on the density of
        ``x``, which ``p(y | x)`` never uses. A fit costs about ``cv`` times the
        candidates tried more than one of fixed ``K``; a distributed fit chooses on
        a uniform sample of about 20,000 rows, and :meth:`partial_fit` on its first
        batch.
    cv : int, cross-validation splitter or iterable, default=5
        The folds of ``n_components="auto"``: an int is that many shuffled folds
        (seeded by ``random_state``), anything else is used as
        ``sklearn.model_selection.check_cv`` would. Ignored for an integer
        ``n_components``.
    n_jobs : int, default=None
        Threads that fit the candidates and folds of ``n_components="auto"`` in
        parallel (joblib's convention: None is 1 unless a ``joblib.parallel_config``
        says otherwise, -1 is every core). The chosen ``K`` and the fit do not depend
        on it. Each EM fit's matrix products run on one BLAS thread whatever
        ``n_jobs`` is: its products are too small for threads to pay.
    covariance_type : {"full", "tied", "diag", "spherical"}, default="full"
        Shape of the joint covariances. Only ``"full"`` and ``"tied"`` couple
        x and y within a component; with ``"diag"`` and ``"spherical"`` each
        component predicts a constant and only the routing depends on x.
    tol : float, default=1e-3
        Convergence threshold on the change of the mean joint log-likelihood.
    reg_covar : float, default=1e-4
        Non-negative regularisation relative to the data: ``reg_covar`` times each
        joint column's variance in the training data (``reg_covar`` itself for a
        constant column) is added to that column's variance in every covariance,
        so the fit does not depend on the units of ``X`` and ``y``: scaling both by
        ``s`` and shifting them scales and shifts the fitted mixture and moves every
        log-density by ``-n_targets * log(s)``. scikit-learn's ``GaussianMixture``
        adds ``reg_covar`` itself (default 1e-6); on standardised data the two are the
        same. The default floors each component's standard deviation at 1% of the
        column's: on real tables with tied rows and coded columns, a component that
        collapses onto a few equal rows otherwise gives a new row a log-density of
        -3000 (the Computers prices, K=32, at 1e-6), while no noise level a model can
        resolve is that small. A coded column (at least 3 and at most 256
        distinct values, such as a year or a number of cylinders) has a second
        floor: its rounding variance ``delta**2 / 12``, ``delta`` the smallest gap
        between two of its values, since a component narrower than the grid
        resolves the rounding, not the data (EM otherwise collapses components onto
        single levels, and a row between two training levels scores about -1000).
        ``reg_covar_`` is the larger of the two per column.
    max_iter : int, default=100
        EM iterations per initialisation.
    n_init : int, default=1
        Number of initialisations; the one with the best final log-likelihood is kept.
    init_params : {"kmeans", "k-means++", "random", "random_from_data"}, default="kmeans"
        How the initial responsibilities are drawn (as in ``GaussianMixture``, with
        distances on the standardised columns described above).
    random_state : int, RandomState instance or None, default=None
        Seeds the initialisation.
    warm_start : bool, default=False
        Start each ``fit`` from the previous solution (``n_init`` is then ignored).
    verbose : int, default=0
        1 prints each initialisation; 2 also prints the log-likelihood change
        every ``verbose_interval`` iterations.
    verbose_interval : int, default=10
        Iterations between two progress lines.
    learning_decay : float, default=0.51
        Exponent ``kappa`` in (0.5, 1] of the step size ``eta_t = (t + t0) **
        -kappa`` of :meth:`partial_fit` (stepwise EM). Smaller forgets the early
        batches faster; values near 0.5 measured best on Datasets A and B.
    learning_offset : float, default=1.0
        Offset ``t0 >= 0`` of that step size; larger makes the first steps smaller.
    conditional_refinement : bool, default=False
        After EM, move the mixture towards a maximum of the conditional
        log-likelihood ``sum_i log p(y_i | x_i)`` alone, with as many L-BFGS
        iterations as 5-fold cross-validation of the held-out ``log p(y | x)``
        supports (none when refining does not help on held-out rows); the result is
        a joint mixture again (user guide, "Conditional refinement"). EM maximises
        ``log p(x, y) = log p(y | x) + log p(x)`` and, with many context columns or
        a clustered ``p(x)``, spends its components on ``p(x)``. Needs
        ``covariance_type="full"`` and an in-memory :meth:`fit`; it costs about a
        hundred EM fits and needs torch.

    Attributes
    ----------
    n_components_ : int
        The number of components fitted (the choice of ``n_components="auto"``).
    n_components_scores_ : dict
        With ``n_components="auto"``: the mean held-out ``log p(y | x)`` over the
        folds of every candidate tried, by number of components.
    weights_ : ndarray of shape (n_components_,)
        Mixing weights ``pi_k``.
    means_ : ndarray of shape (n_components, n_features + n_targets)
        Joint means over ``[x, y]``.
    covariances_ : ndarray
        Joint covariances; shape as in ``GaussianMixture`` for the covariance type.
    precisions_cholesky_ : ndarray
        Upper Cholesky factors of the joint precisions (``P P^T = Sigma^-1``).
    reg_covar_ : ndarray of shape (n_features + n_targets,)
        The jitter added to each joint column's variance (see ``reg_covar``).
    conditioning_ : JointConditioning
        Per-component context marginals, regression matrices
        ``Sigma_k^tc (Sigma_k^cc)^-1``, intercepts and conditional covariances,
        precomputed at fit time.
    converged_ : bool
    n_iter_ : int
        EM iterations of the best initialisation.
    lower_bound_ : float
        Mean joint log-likelihood ``mean_i log p(x_i, y_i)`` at the last
        E-step of the best initialisation (as ``GaussianMixture.lower_bound_``).
    lower_bounds_ : list of float
        The same after each iteration of the best initialisation.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    n_targets_ : int
    n_steps_ : int
        Stepwise-EM steps taken by :meth:`partial_fit` (absent after :meth:`fit`).
    n_refine_iter_ : int
        With ``conditional_refinement=True``: the L-BFGS iterations of the
        refinement (0 when cross-validation kept the EM solution).

    Notes
    -----
    ``fit`` also takes dask arrays and DataFrames (the ``dask`` extra): each EM
    iteration sums the statistics of every chunk where the chunk lives (the
    workers of a ``distributed`` cluster when a ``Client`` is active), and only
    the sums reach the client; from the same starting parameters the result is
    the in-memory fit's to rounding. In memory too, fitting visits the rows in
    blocks, so its working memory does not grow with their number. See the
    user guide's "Scaling out" page.

    See Also
    --------
    GJE : the one-component special case.
    sklearn.mixture.GaussianMixture : the unconditional mixture on which the EM is modelled.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GMJE
    >>> from skgmje.datasets import make_separated_branches
    >>> X, y = make_separated_branches(n_samples=2000, random_state=0)
    >>> model = GMJE(random_state=0).fit(X, y)
    >>> model.n_components_   # chosen by 5-fold cross-validation of log p(y | x)
    32
    >>> modes, weights = model.predict_distribution([[0.0]]).modes()
    >>> np.sort(modes[0, :3, 0]).round(1)   # the branches at x = 0 are -1.5, 0 and 1.5
    array([-1.5, -0.1,  1.5])
    >>> model.sample([[0.0]], n_samples=4, random_state=0).shape
    (1, 4)
    >>> X_test, y_test = make_separated_branches(n_samples=2000, random_state=1)
    >>> round(model.score(X_test, y_test), 1)   # held-out mean log p(y | x); the oracle's -0.2
    -0.3
    """

    _missing_training_values = True

    _parameter_constraints = {
        **JointMixtureEM._parameter_constraints,
        "n_components": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "cv": ["cv_object"],
        "n_jobs": [Integral, None],
        # Stepwise EM converges only for decays in (0.5, 1].
        "learning_decay": [Interval(Real, 0.5, 1, closed="right")],
        "learning_offset": [positive(allow_zero=True)],
        "conditional_refinement": ["boolean"],
    }

    def __init__(
        self,
        n_components="auto",
        *,
        cv=5,
        n_jobs=None,
        covariance_type="full",
        tol=1e-3,
        reg_covar=1e-4,
        max_iter=100,
        n_init=1,
        init_params="kmeans",
        random_state=None,
        warm_start=False,
        verbose=0,
        verbose_interval=10,
        learning_decay=0.51,
        learning_offset=1.0,
        conditional_refinement=False,
    ):
        super().__init__(
            n_components,
            covariance_type=covariance_type,
            tol=tol,
            reg_covar=reg_covar,
            max_iter=max_iter,
            n_init=n_init,
            init_params=init_params,
            random_state=random_state,
            warm_start=warm_start,
            verbose=verbose,
            verbose_interval=verbose_interval,
        )
        self.cv = cv
        self.n_jobs = n_jobs
        self.learning_decay = learning_decay
        self.learning_offset = learning_offset
        self.conditional_refinement = conditional_refinement

    def _check_parameters_with_data(self, n_features, n_targets):
        if self.conditional_refinement and self.covariance_type != "full":
            raise ValueError(
                "conditional_refinement=True needs covariance_type='full' (the refined "
                f"components have full covariances); got {self.covariance_type!r}."
            )

    def _forget_stream(self):
        """A fit starts afresh: the running statistics of earlier partial_fit calls go."""
        for name in ("n_steps_", "_stream"):
            self.__dict__.pop(name, None)

    def _fit(self, X, Y, sample_weight):
        if self.conditional_refinement and (np.isnan(X).any() or np.isnan(Y).any()):
            raise ValueError(
                "conditional_refinement needs complete rows; fit with missing values "
                "without it (EM treats them exactly)."
            )
        self._forget_stream()
        super()._fit(X, Y, sample_weight)
        self.__dict__.pop("n_refine_iter_", None)
        if self.conditional_refinement:
            self._refine(X, Y, sample_weight)
        return self

    def _fit_dask(self, X, y, sample_weight):
        if self.conditional_refinement:
            raise ValueError(
                "conditional_refinement needs the rows in memory; fit on dask collections "
                "without it."
            )
        self._forget_stream()
        return super()._fit_dask(X, y, sample_weight)

    def _refine(self, X, Y, sample_weight):
        """Replace the EM mixture by its conditional-likelihood refinement."""
        n_components, n_joint = self.means_.shape
        refined = refine_conditional(
            self.weights_,
            self.means_,
            em.full_covariances(self.covariances_, "full", n_components, n_joint),
            X.shape[1],
            X,
            Y,
            sample_weight,
            # The floor on a standardised column's standard deviation that EM's
            # relative jitter implies, so the EM solution is a feasible start.
            min_std=max(np.sqrt(self.reg_covar), 1e-8),
            random_state=check_random_state(self.random_state),
        )
        self.weights_, self.means_, self.covariances_ = (
            refined.weights,
            refined.means,
            refined.covariances,
        )
        self.precisions_cholesky_ = em.precisions_cholesky_of(self.covariances_, "full")
        self.n_refine_iter_ = refined.n_iter
        self._condition(self.weights_, self.means_, self.covariances_, X.shape[1])

    def _choose_hyperparameters(self, rows):
        if self.n_components != "auto":
            return self.n_components
        if self.warm_start and hasattr(self, "converged_"):
            return self.n_components_
        X, Y, sample_weight = rows()
        n_components, self.n_components_scores_ = select_n_components(
            # K is chosen for EM; a refinement per fold and candidate would cost a
            # hundred EM fits each for no measured gain in the choice.
            clone(self).set_params(conditional_refinement=False),
            X,
            Y,
            sample_weight,
            self.cv,
            check_random_state(self.random_state),
            self.n_jobs,
        )
        return n_components

    def _m_step(self, statistics, jitter):
        return em.m_step(statistics, self.covariance_type, jitter)

    def _lower_bound(self, statistics, parameters):
        return statistics.log_likelihood / statistics.total_weight

    def _shifted_parameters(self, center):
        """The fitted mixture in coordinates shifted by ``center`` (the E-step's)."""
        return em.MixtureParameters(
            self.weights_, self.means_ - center, self.covariances_, self.precisions_cholesky_
        )

    def _set_parameters(self, parameters, center, n_context):
        """Store mixture parameters (shifted by ``center``) and precompute the conditioning."""
        self.weights_ = parameters.weights
        self.n_components_ = len(parameters.weights)
        self.means_ = parameters.means + center
        self.covariances_ = parameters.covariances
        self.precisions_cholesky_ = parameters.precisions_cholesky
        self._condition(self.weights_, self.means_, self.covariances_, n_context)

    def partial_fit(self, X, y, sample_weight=None):
        """One step of stepwise (online) EM on a batch (Cappé & Moulines, 2009).

        The model keeps running sufficient statistics per unit weight ``s``; a batch
        with E-step statistics ``s_b`` (per unit weight) moves them to
        ``(1 - eta_t) s + eta_t s_b`` with ``eta_t = (t + learning_offset) **
        -learning_decay``, and the parameters are the M-step of ``s``. The first
        call on an unfitted model initialises from its batch as :meth:`fit` does
        (``init_params``, ``random_state``; ``n_components="auto"`` chooses on that
        batch), so it needs at least ``n_components`` rows; on a model fitted with
        :meth:`fit` the steps start from its parameters. Works with
        ``dask_ml.wrappers.Incremental``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
        sample_weight : array-like of shape (n_samples,), default=None

        Returns
        -------
        self : object

        Examples
        --------
        >>> from skgmje import GMJE
        >>> from skgmje.datasets import make_intersecting_branches
        >>> X, y = make_intersecting_branches(n_samples=2000, random_state=0)
        >>> model = GMJE(n_components=8, random_state=0)
        >>> for start in range(0, 2000, 250):
        ...     model = model.partial_fit(X[start:start + 250], y[start:start + 250])
        >>> model.n_steps_
        8
        """
        return super().partial_fit(X, y, sample_weight)

    def _partial_fit(self, X, Y, weights, first_call):
        Z = np.hstack([X, Y])
        if not first_call and self.means_.shape[1] != Z.shape[1]:
            raise ValueError(
                f"X and y have {Z.shape[1]} joint columns; the model has {self.means_.shape[1]}."
            )
        weight = float(weights.sum())
        if weight <= 0:
            raise ValueError("sample_weight must contain at least one positive weight.")
        stream = getattr(self, "_stream", None)
        if first_call:
            self._fit_components = self._choose_hyperparameters(lambda: (X, Y, weights))
            n_available = int(np.count_nonzero(weights))
            if n_available < self._fit_components:
                raise ValueError(
                    f"The first partial_fit batch needs at least n_components="
                    f"{self._fit_components} rows with positive weight; got {n_available}."
                )
        missing = np.isnan(Z)
        layout = missing_em.missing_layout(missing) if missing.any() else None
        if first_call:
            if layout is None:
                center = np.average(Z, axis=0, weights=weights)
            else:
                center, variances = missing_em.observed_moments(Z, weights)
        elif stream is not None:
            center = stream.center
        else:
            center = self.weights_ @ self.means_
        shifted = Z - center
        if first_call:
            if layout is None:
                variances = em.weighted_variances(shifted, weights)
            self.reg_covar_ = em.covariance_jitter(
                variances,
                self.reg_covar,
                resolution.rounding_variances(resolution.column_levels(Z, weights)),
            )
            rng = check_random_state(self.random_state)
            # The start sees each missing entry at its column's mean (0 here).
            parameters = self._initial_parameters(
                np.where(missing, 0.0, shifted),
                np.where(missing.all(axis=1), 0.0, weights),
                rng,
                self.reg_covar_,
                em.column_scales(variances, X.shape[1]),
            )
        else:
            parameters = self._shifted_parameters(center)
        if stream is None:
            # A new stream starts from the statistics its parameters imply.
            stream = em.StepwiseState(
                em.expected_statistics(parameters, self.covariance_type, self.reg_covar_),
                center,
                0,
            )
        if layout is None:
            statistics = em.e_step(shifted, parameters, self.covariance_type, weights)
        else:
            statistics = missing_em.e_step_with_missing(
                shifted, layout, parameters, self.covariance_type, weights
            )
        stream = stream.step(statistics, weight, self.learning_offset, self.learning_decay)
        self._set_parameters(
            em.m_step(stream.statistics, self.covariance_type, self.reg_covar_),
            center,
            X.shape[1],
        )
        self._stream = stream
        self.n_steps_ = self.n_iter_ = stream.n_steps
        self.lower_bound_ = statistics.log_likelihood / weight
        self.converged_ = False
        return self

    def _n_parameters(self):
        n_components, n_joint = self.means_.shape
        return em.n_parameters(self.covariance_type, n_components, n_joint)

    def bic(self, X, y):
        """Bayesian information criterion of the joint model on ``(X, y)`` (lower is better).

        ``-2 sum_i log p(x_i, y_i) + n_parameters * log(n_samples)``.
        """
        check_is_fitted(self)
        log_likelihood = float(np.sum(self.score_samples_joint(X, y)))
        return -2.0 * log_likelihood + self._n_parameters() * np.log(len(X))

    def aic(self, X, y):
        """Akaike information criterion of the joint model on ``(X, y)`` (lower is better).

        ``-2 sum_i log p(x_i, y_i) + 2 n_parameters``.
        """
        check_is_fitted(self)
        return -2.0 * float(np.sum(self.score_samples_joint(X, y))) + 2 * self._n_parameters()
