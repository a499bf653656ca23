"""dask support: the EM passes of a distributed fit and lazy, chunk-wise prediction.

dask is optional (the ``dask`` extra). Nothing here imports it unless the caller
already holds a dask collection, so NumPy users never pay for it.

A distributed fit works on one dask array ``Zw = [x, y, w]`` with a single
column chunk: every pass over the rows is a ``map_blocks`` whose chunk function
runs on the workers and returns a short vector (summed sufficient statistics,
see ``skgmje._em``), and dask's tree reduction (``sum(axis=0)``) brings one such
vector to the client, where the M-step runs. The rows never reach the client.
Prediction on a dask array is ``map_blocks`` over the fitted model, shipped once
as one ``delayed`` key (as dask-ml's ``ParallelPostFit`` does).
"""

import sys

import numpy as np
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from . import _em

_INSTALL_HINT = "Install the dask extra: pip install 'skgmje[dask]'."


def is_dask_collection(value):
    """Whether ``value`` is a dask collection (False, without importing dask, if it is not loaded)."""
    if "dask" not in sys.modules:
        return False
    import dask

    return dask.is_dask_collection(value)


def _dask_array_module():
    try:
        import dask.array as da
    except ImportError as error:  # pragma: no cover - a dask collection implies dask.array
        raise ImportError(f"dask.array is needed for dask inputs. {_INSTALL_HINT}") from error
    return da


def as_dask_array(value, name, row_chunks=None):
    """``value`` (dask array or DataFrame/Series, or array-like) as a dask array with known chunks.

    Array-likes are wrapped with ``row_chunks`` so that they line up with another input.
    """
    da = _dask_array_module()
    if hasattr(value, "to_dask_array"):
        value = value.to_dask_array(lengths=True)
    elif not isinstance(value, da.Array):
        if is_dask_collection(value):
            raise TypeError(f"{name} must be a dask array or DataFrame; got {type(value).__name__}.")
        array = np.asarray(value)
        chunks = (row_chunks,) + tuple((size,) for size in array.shape[1:])
        value = da.from_array(array, chunks=chunks if row_chunks is not None else "auto")
    if np.isnan(value.shape[0]) or any(np.isnan(size) for size in value.chunks[0]):
        value = value.compute_chunk_sizes()
    if value.dtype.kind not in "biuf":
        raise ValueError(f"{name} must be numeric; got a dask array of dtype {value.dtype}.")
    if row_chunks is not None:
        if value.shape[0] != sum(row_chunks):
            raise ValueError(
                f"{name} has {value.shape[0]} rows but X has {sum(row_chunks)}; they must match."
            )
        value = value.rechunk({0: row_chunks})
    return value


def _as_columns(value, name, row_chunks):
    """A 2-D float64 dask array with the given row chunks and one column chunk."""
    value = as_dask_array(value, name, row_chunks)
    if value.ndim == 1:
        value = value[:, None]
    if value.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D; got {value.ndim} dimensions.")
    return value.astype(np.float64).rechunk({1: -1})


def check_columns(model, X, reset):
    """scikit-learn's checks of the number and names of columns, without reading any rows.

    A dask DataFrame is checked through its empty pandas ``_meta``, which carries
    the column names (scikit-learn does not read names off dask frames).
    """
    schema = X._meta if hasattr(X, "to_dask_array") else X
    validate_data(model, schema, skip_check_array=True, reset=reset)


def _contexts(model, X):
    """The validated contexts of a lazy prediction as a 2-D dask array."""
    check_is_fitted(model)
    check_columns(model, X, reset=False)
    X = as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got a dask array with {X.ndim} dimensions.")
    return X.astype(np.float64).rechunk({1: -1})


def _finite(block, name):
    return check_array(block, dtype=np.float64, input_name=name, ensure_min_samples=0)


# --- lazy prediction -------------------------------------------------------------------------


def _predict_chunk(rows, model, return_std):
    result = model._predict_array(_finite(rows, "X"), return_std)
    return np.column_stack(result) if return_std else result


def _score_samples_chunk(rows, targets, model):
    return model._score_samples_array(_finite(rows, "X"), _finite(targets, "y"))


def _sample_chunk(rows, model, n_samples, seeds, block_id=None):
    rng = np.random.RandomState(seeds[block_id[0]])
    return model._sample_array(_finite(rows, "X"), n_samples, rng)


def _shipped(model):
    from dask import delayed

    return delayed(model, pure=True)


def _target_axes(model):
    """Output chunks after the row axis for target-shaped results."""
    return () if model._y_ndim == 1 else ((model.n_targets_,),)


def lazy_predict(model, X, return_std):
    """``model.predict`` on a dask array, chunk by chunk; the model is shipped once."""
    da = _dask_array_module()
    X = _contexts(model, X)
    width = model.n_targets_ * (2 if return_std else 1)
    one_d = model._y_ndim == 1 and not return_std
    result = da.map_blocks(
        _predict_chunk,
        X,
        _shipped(model),
        return_std,
        chunks=(X.chunks[0],) if one_d else (X.chunks[0], (width,)),
        drop_axis=1 if one_d else None,
        dtype=np.float64,
        meta=np.empty((0,) if one_d else (0, 0)),
    )
    if not return_std:
        return result
    if model._y_ndim == 1:
        return result[:, 0], result[:, 1]
    return result[:, : model.n_targets_], result[:, model.n_targets_ :]


def lazy_score_samples(model, X, y):
    """``model.score_samples`` on dask arrays, chunk by chunk."""
    da = _dask_array_module()
    X = _contexts(model, X)
    Y = _as_columns(y, "y", X.chunks[0])
    if Y.shape[1] != model.n_targets_:
        raise ValueError(
            f"y has {Y.shape[1]} targets, but {type(model).__name__} was fitted "
            f"with {model.n_targets_}."
        )
    return da.map_blocks(
        _score_samples_chunk,
        X,
        Y,
        _shipped(model),
        chunks=(X.chunks[0],),
        drop_axis=1,
        dtype=np.float64,
        meta=np.empty((0,)),
    )


def lazy_average(values, sample_weight):
    """The (weighted) mean of a 1-D dask array, as a lazy 0-d dask array."""
    da = _dask_array_module()
    if sample_weight is None:
        return values.mean()
    weights = as_dask_array(sample_weight, "sample_weight", values.chunks[0]).astype(np.float64)
    return da.sum(values * weights) / da.sum(weights)


def lazy_sample(model, X, n_samples, rng):
    """``model.sample(X)`` on a dask array; each chunk draws with its own seed from ``rng``."""
    da = _dask_array_module()
    X = _contexts(model, X)
    seeds = rng.randint(np.iinfo(np.int32).max, size=len(X.chunks[0]))
    return da.map_blocks(
        _sample_chunk,
        X,
        _shipped(model),
        n_samples,
        seeds,
        chunks=(X.chunks[0], (n_samples,)) + _target_axes(model),
        new_axis=None if model._y_ndim == 1 else 2,
        dtype=np.float64,
        meta=np.empty((0,) * (2 if model._y_ndim == 1 else 3)),
    )


# --- distributed EM --------------------------------------------------------------------------


def joint_array(X, y, sample_weight):
    """``[x, y, w]`` as one float64 dask array with a single column chunk.

    Returns
    -------
    Zw : dask array of shape (n, n_features + n_targets + 1)
    n_features, n_targets, y_ndim : int
    """
    da = _dask_array_module()
    X = as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got a dask array with {X.ndim} dimensions.")
    rows = X.chunks[0]
    y_ndim = as_dask_array(y, "y", rows).ndim
    Y = _as_columns(y, "y", rows)
    if sample_weight is None:
        W = da.ones((X.shape[0], 1), chunks=(rows, 1))
    else:
        W = _as_columns(sample_weight, "sample_weight", rows)
        if W.shape[1] != 1:
            raise ValueError("sample_weight must be 1-D.")
    Zw = da.concatenate([X.astype(np.float64).rechunk({1: -1}), Y, W], axis=1)
    return Zw.rechunk({1: -1}), X.shape[1], Y.shape[1], y_ndim


def _split(block, weighted):
    """Joint rows and their weights (None when unweighted) of one chunk, validated."""
    block = _finite(block, "the input")
    weights = block[:, -1]
    if weighted and np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative.")
    return block[:, :-1], weights if weighted else None


def _moments_chunk(block, weighted):
    rows, weights = _split(block, weighted)
    if weights is None:
        weights = np.ones(len(rows))
    return np.concatenate(
        [[weights.sum(), np.count_nonzero(weights)], weights @ rows]
    )[None]


def _sample_chunk_rows(block, weighted, probability, seeds, block_id=None):
    rows, weights = _split(block, weighted)
    rng = np.random.RandomState(seeds[block_id[0]])
    keep = rng.uniform(size=len(rows)) < probability
    if weights is not None:
        keep &= weights > 0
    return block[keep]


def _e_step_chunk(block, weighted, center, parameters, covariance_type):
    rows, weights = _split(block, weighted)
    statistics = _em.e_step(rows - center, parameters, covariance_type, weights)
    return _em.flatten_statistics(statistics)[None]


def _initial_statistics_chunk(
    block, weighted, center, mode, centers, n_components, covariance_type, seeds, block_id=None
):
    rows, weights = _split(block, weighted)
    shifted = rows - center
    rng = np.random.RandomState(seeds[block_id[0]])

    def responsibilities(part, start, stop):
        resp = np.zeros((len(part), n_components))
        if mode == "nearest":
            resp[np.arange(len(part)), pairwise_distances_argmin(part, centers)] = 1.0
        elif mode == "random":
            resp = rng.uniform(size=(len(part), n_components))
            resp /= resp.sum(axis=1)[:, None]
        return resp, None

    statistics = _em.accumulate_statistics(
        shifted, n_components, covariance_type, responsibilities, weights
    )
    return _em.flatten_statistics(statistics)[None]


class DistributedPasses:
    """The passes of a distributed EM over ``Zw`` (see :func:`joint_array`).

    Each method builds one dask graph over the chunks, reduces it to a short
    vector with dask's tree reduction and computes it (on the current dask
    scheduler: a ``distributed.Client`` if one is active).
    """

    def __init__(self, Zw, weighted):
        self.Zw = Zw
        self.weighted = weighted
        self.n_joint = Zw.shape[1] - 1
        self.n_chunks = len(Zw.chunks[0])

    def _reduce(self, function, width, *args, **kwargs):
        da = _dask_array_module()
        per_chunk = da.map_blocks(
            function,
            self.Zw,
            self.weighted,
            *args,
            chunks=(1, width),
            dtype=np.float64,
            meta=np.empty((0, 0)),
            **kwargs,
        )
        return per_chunk.sum(axis=0).compute()

    def moments(self):
        """``(sum of weights, rows with positive weight, weighted mean of the joint rows)``."""
        totals = self._reduce(_moments_chunk, 2 + self.n_joint)
        if totals[0] <= 0:
            raise ValueError("sample_weight must contain at least one positive weight.")
        return totals[0], int(totals[1]), totals[2:] / totals[0]

    def sample(self, n_rows, n_positive, rng):
        """A uniform Bernoulli sample of about ``n_rows`` rows with positive weight.

        Returns the joint rows and their weights (ones when unweighted).
        """
        da = _dask_array_module()
        probability = min(1.0, n_rows / n_positive)
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_chunks)
        sampled = da.map_blocks(
            _sample_chunk_rows,
            self.Zw,
            self.weighted,
            probability,
            seeds,
            chunks=((np.nan,) * self.n_chunks, (self.n_joint + 1,)),
            dtype=np.float64,
            meta=np.empty((0, 0)),
        ).compute()
        return sampled[:, :-1], sampled[:, -1]

    def initial_statistics(self, center, mode, centers, n_components, covariance_type, rng):
        """Summed statistics of initial responsibilities: ``"nearest"`` of ``centers``
        (k-means labels), ``"random"`` (uniform, normalised), or ``"none"`` (zero)."""
        seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_chunks)
        vector = self._reduce(
            _initial_statistics_chunk,
            _em.statistics_size(n_components, self.n_joint, covariance_type),
            center,
            mode,
            centers,
            n_components,
            covariance_type,
            seeds,
        )
        return _em.unflatten_statistics(vector, n_components, self.n_joint, covariance_type)

    def e_step(self, center, parameters, covariance_type):
        """Summed E-step statistics of every chunk (rows shifted by ``center``)."""
        n_components = len(parameters.weights)
        vector = self._reduce(
            _e_step_chunk,
            _em.statistics_size(n_components, self.n_joint, covariance_type),
            center,
            parameters,
            covariance_type,
        )
        return _em.unflatten_statistics(vector, n_components, self.n_joint, covariance_type)
