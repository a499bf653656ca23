"""Warnings of skgmje."""

from sklearn.exceptions import InconsistentVersionWarning as _SklearnVersionWarning

__all__ = ["InconsistentVersionWarning"]


class InconsistentVersionWarning(_SklearnVersionWarning):
    """A model is loaded with a skgmje version other than the one that saved it.

    A subclass of scikit-learn's warning of the same name, so a filter on that one
    applies to skgmje's as well. The saved state holds the version that wrote it;
    loading checks it (pickle, joblib and ``skops.io`` alike).

    Examples
    --------
    >>> import pickle, warnings
    >>> import numpy as np
    >>> from skgmje import GJE
    >>> from skgmje.exceptions import InconsistentVersionWarning
    >>> model = GJE().fit(np.arange(10.0)[:, None], np.arange(10.0) ** 2)
    >>> with warnings.catch_warnings():
    ...     warnings.simplefilter("error", InconsistentVersionWarning)
    ...     restored = pickle.loads(pickle.dumps(model))  # same version: no warning
    >>> restored.predict([[4.0]]).round(1)
    array([24.])
    """

    def __str__(self):
        return (
            f"Trying to load {self.estimator_name} saved with skgmje "
            f"{self.original_sklearn_version} when using skgmje "
            f"{self.current_sklearn_version}. This might lead to breaking code or invalid "
            "results. Use at your own risk; refitting with this version is safe."
        )
