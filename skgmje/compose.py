"""Transformers in front of a conditional density estimator, with every density kept.

scikit-learn's ``Pipeline`` forwards ``fit``, ``predict`` and ``score`` to its last
step, but its ``score_samples`` takes no ``y`` and it has no ``sample``,
``predict_density`` or ``predict_distribution``: ``make_pipeline(StandardScaler(),
GMJE())`` fits and scores, and loses the density. :class:`DensityPipeline` is a
``Pipeline`` that forwards those too, transforming the contexts on the way.
"""

from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.utils import get_tags

__all__ = ["DensityPipeline", "make_density_pipeline"]


class DensityPipeline(Pipeline):
    """A ``Pipeline`` of context transformers ending in a conditional density estimator.

    The transformers act on ``X`` only; the last step models ``p(y | x')`` of the
    transformed contexts ``x' = T(x)``. For an invertible ``T`` that is ``p(y | x)``
    itself (conditioning on ``x`` or on ``T(x)`` is the same event), so no Jacobian
    enters: every log-density is in the units of ``y``. Everything a ``Pipeline`` does
    works as before (``get_params``/``set_params`` with ``step__param`` names, so
    ``GridSearchCV`` searches the transformers and the estimator together); in
    addition the density methods of the last step are forwarded:

    - ``score_samples(X, y)``, ``predict_density(X, y)``, ``predict_distribution(X)``
      and ``sample(X, n_samples, random_state)`` transform ``X`` first;
    - ``predict(X, return_std=True)`` and ``score(X, y)`` work as in ``Pipeline``;
    - ``sample(n_samples=...)`` without ``X`` draws joint pairs from the last step
      and maps the contexts back through every transformer's ``inverse_transform``.

    Parameters
    ----------
    steps : list of (str, estimator) tuples
        Transformers, then a skgmje estimator (or any estimator with the density
        methods), as for ``sklearn.pipeline.Pipeline``.
    memory : str or object with the joblib.Memory interface, default=None
        As for ``Pipeline``.
    transform_input : list of str, default=None
        As for ``Pipeline`` (metadata routing).
    verbose : bool, default=False
        As for ``Pipeline``: print the time each step takes to fit.

    See Also
    --------
    make_density_pipeline : Build one from estimators, naming the steps.

    Examples
    --------
    >>> from sklearn.model_selection import GridSearchCV
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgmje import GMJE
    >>> from skgmje.compose import make_density_pipeline
    >>> from skgmje.datasets import make_intersecting_branches
    >>> X, y = make_intersecting_branches(n_samples=600, random_state=0)
    >>> pipe = make_density_pipeline(StandardScaler(), GMJE(random_state=0))
    >>> search = GridSearchCV(pipe, {"gmje__n_components": [2, 8]}, cv=3).fit(X, y)
    >>> search.best_params_
    {'gmje__n_components': 8}
    >>> best = search.best_estimator_          # a DensityPipeline: every method is there
    >>> best.score_samples(X[:3], y[:3]).shape
    (3,)
    >>> best.sample(X[:2], n_samples=5, random_state=0).shape
    (2, 5)
    >>> X_new, y_new = best.sample(n_samples=4, random_state=0)  # contexts in X's units
    >>> X_new.shape, y_new.shape
    ((4, 1), (4,))
    """

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # NaN passes through when every step takes it (scikit-learn's Pipeline leaves the
        # tag at False whatever its steps do).
        tags.input_tags.allow_nan = all(
            get_tags(step).input_tags.allow_nan
            for _, step in self.steps
            if step is not None and step != "passthrough"
        )
        return tags

    def _transform_contexts(self, X):
        return X if len(self.steps) == 1 else self[:-1].transform(X)

    def score_samples(self, X, y):
        """Conditional log-density ``log p(y_i | x_i)`` of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        return self._final_estimator.score_samples(self._transform_contexts(X), y)

    def predict_density(self, X, y):
        """Conditional density ``p(y_i | x_i)`` of each row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        density : ndarray of shape (n_samples,)
        """
        return self._final_estimator.predict_density(self._transform_contexts(X), y)

    def predict_distribution(self, X):
        """The conditional distribution ``p(y | x)`` of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        distribution : GaussianMixtureDistribution
        """
        return self._final_estimator.predict_distribution(self._transform_contexts(X))

    def sample(self, X=None, n_samples=1, random_state=None):
        """Draw targets given ``X``, or joint pairs ``(X, y)`` without it.

        Parameters
        ----------
        X : array-like of shape (n_queries, n_features), default=None
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        samples : ndarray of shape (n_queries, n_samples) or (n_queries, n_samples, n_targets)
            With ``X``.
        X_new, y_new : ndarrays
            Without ``X``: contexts in the units of the training ``X`` (mapped back by
            each transformer's ``inverse_transform``) and their targets.
        """
        final = self._final_estimator
        if X is not None:
            return final.sample(
                self._transform_contexts(X), n_samples=n_samples, random_state=random_state
            )
        for _, transformer in self.steps[:-1]:
            skipped = transformer in (None, "passthrough")
            if not skipped and not hasattr(transformer, "inverse_transform"):
                raise AttributeError(
                    f"sample() without X maps the drawn contexts back through every "
                    f"transformer, and {type(transformer).__name__} has no inverse_transform. "
                    "Pass X to draw targets for given contexts, or sample from the last "
                    "step (pipeline[-1].sample) for contexts in the transformed space."
                )
        X_new, y_new = final.sample(n_samples=n_samples, random_state=random_state)
        return (X_new if len(self.steps) == 1 else self[:-1].inverse_transform(X_new)), y_new


def make_density_pipeline(*steps, memory=None, transform_input=None, verbose=False):
    """Build a :class:`DensityPipeline` from estimators, naming each step after its class.

    Parameters
    ----------
    *steps : list of estimators
        Transformers, then a skgmje estimator.
    memory : str or object with the joblib.Memory interface, default=None
    transform_input : list of str, default=None
    verbose : bool, default=False

    Returns
    -------
    pipeline : DensityPipeline

    Examples
    --------
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skgmje import GJE
    >>> from skgmje.compose import make_density_pipeline
    >>> make_density_pipeline(StandardScaler(), GJE()).steps[-1][0]
    'gje'
    """
    named = make_pipeline(*steps).steps
    return DensityPipeline(named, memory=memory, transform_input=transform_input, verbose=verbose)
