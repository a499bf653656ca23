"""dask support: the EM passes of a distributed fit and lazy, chunk-wise prediction.

dask is optional (the ``dask`` extra). Nothing here imports it unless the caller
already holds a dask collection, so NumPy users never pay for it.

Every pass of a distributed fit is one ``blockwise`` task per chunk of the
inputs, run on the workers, that returns a short vector (summed sufficient
statistics, see ``skgmje._core.em``); dask's tree reduction (``sum(axis=0)``) brings
one such vector to the client, where the M-step runs. The rows never reach the
client.
Prediction on a dask array is ``map_blocks`` over the fitted model, shipped once
as one ``delayed`` key (as dask-ml's ``ParallelPostFit`` does).
"""

import sys

import numpy as np
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils.validation import check_array, check_is_fitted, validate_data

from ._core import em, missing_em, resolution
from ._core.gaussian import check_magnitude

_INSTALL_HINT = "Install the dask extra: pip install 'skgmje[dask]'."


def is_dask_collection(value):
    """Whether ``value`` is a dask collection (False, without importing dask, if not loaded)."""
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
            raise TypeError(
                f"{name} must be a dask array or DataFrame; got {type(value).__name__}."
            )
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


def _as_contexts(X):
    """Contexts as a 2-D float64 dask array with one column chunk."""
    X = as_dask_array(X, "X")
    if X.ndim != 2:
        raise ValueError(f"X must be 2-D; got a dask array with {X.ndim} dimensions.")
    return X.astype(np.float64).rechunk({1: -1})


def _contexts(model, X):
    """The validated contexts of a lazy prediction as a 2-D dask array."""
    check_is_fitted(model)
    check_columns(model, X, reset=False)
    return _as_contexts(X)


def _finite(block, name, allow_nan=False):
    block = check_array(
        block,
        dtype=np.float64,
        input_name=name,
        ensure_min_samples=0,
        ensure_all_finite="allow-nan" if allow_nan else True,
    )
    return check_magnitude(block, name)


# --- lazy prediction -------------------------------------------------------------------------


def _contexts_chunk(rows, model):
    """A chunk of contexts, with NaN (a missing context) where the model conditions on the
    observed ones."""
    return _finite(rows, "X", allow_nan=model._missing_contexts)


def _predict_chunk(rows, model, return_std):
    result = model._predict_array(_contexts_chunk(rows, model), return_std)
    return np.column_stack(result) if return_std else result


def _score_samples_chunk(rows, targets, model, method):
    return getattr(model, method)(_contexts_chunk(rows, model), _finite(targets, "y"))


def _sample_chunk(rows, model, n_samples, seeds, block_id=None):
    rng = np.random.RandomState(seeds[block_id[0]])
    return model._sample_array(_contexts_chunk(rows, model), n_samples, rng)


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


def _quantiles_chunk(rows, model, levels):
    return model._quantiles_array(_contexts_chunk(rows, model), levels)


def lazy_quantiles(model, X, levels):
    """Per-row quantiles at ``levels`` (a 1-D array) on a dask array, chunk by chunk:
    shape (n, Q) for one-dimensional training targets, (n, Q, n_targets) otherwise."""
    da = _dask_array_module()
    X = _contexts(model, X)
    trailing = ((len(levels),),) + _target_axes(model)
    return da.map_blocks(
        _quantiles_chunk,
        X,
        _shipped(model),
        levels,
        chunks=(X.chunks[0],) + trailing,
        drop_axis=1,
        new_axis=list(range(1, 1 + len(trailing))),
        dtype=np.float64,
        meta=np.empty((0,) * (1 + len(trailing))),
    )


def lazy_score_samples(model, X, y, method="_score_samples_array"):
    """``model.score_samples`` (or another per-row log-density ``method`` of validated
    arrays) on dask arrays, chunk by chunk."""
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
        method,
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


def em_arrays(X, y, sample_weight):
    """The inputs of a distributed fit as 2-D float64 dask arrays with the same row chunks.

    Each keeps one column chunk. They stay separate arrays (rather than one
    concatenated ``[x, y, w]``) so that every pass is one task per chunk reading the
    user's chunks directly: no intermediate copy of a chunk is ever stored.

    Returns
    -------
    X, Y : dask arrays of shape (n, n_features) and (n, n_targets)
    W : dask array of shape (n, 1), or None without sample weights
    y_ndim : int
    """
    X = _as_contexts(X)
    rows = X.chunks[0]
    # One conversion: a dask Series computes its partition lengths when converted.
    y = as_dask_array(y, "y", rows)
    Y = _as_columns(y, "y", rows)
    W = None
    if sample_weight is not None:
        W = _as_columns(sample_weight, "sample_weight", rows)
        if W.shape[1] != 1:
            raise ValueError("sample_weight must be 1-D.")
    return X, Y, W, y.ndim


def _joint(x_block, y_block, w_block):
    """Joint rows and weights (None when unweighted) of one chunk, validated; NaN marks a
    missing entry (the distributed fits treat it as in memory)."""
    rows = np.hstack([_finite(x_block, "X", True), _finite(y_block, "y", True)])
    if w_block is None:
        return rows, None
    weights = _finite(w_block, "sample_weight")[:, 0]
    if np.any(weights < 0):
        raise ValueError("sample_weight must be non-negative.")
    return rows, weights


def _moments_chunk(x_block, y_block, w_block, seed):
    rows, weights = _joint(x_block, y_block, w_block)
    if weights is None:
        weights = np.ones(len(rows))
    observed = ~np.isnan(rows)
    return np.concatenate(
        [
            [weights.sum(), np.count_nonzero(weights)],
            weights @ observed,
            weights @ np.where(observed, rows, 0.0),
        ]
    )[None]


def _squares_chunk(x_block, y_block, w_block, seed, center):
    rows, weights = _joint(x_block, y_block, w_block)
    rows -= center
    return em.weighted_sum_of_squares(np.nan_to_num(rows, nan=0.0), weights)[None]


def _levels_chunk(x_block, y_block, w_block, seed):
    rows, weights = _joint(x_block, y_block, w_block)
    return resolution.pack_levels(resolution.column_levels(rows, weights))[None]


def _sample_chunk_rows(x_block, y_block, w_block, seed, probability):
    rows, weights = _joint(x_block, y_block, w_block)
    rng = np.random.RandomState(seed[0])
    keep = rng.uniform(size=len(rows)) < probability
    if weights is None:
        weights = np.ones(len(rows))
    keep &= weights > 0
    return np.column_stack([rows[keep], weights[keep]])


def _e_step_chunk(
    x_block, y_block, w_block, seed, center, parameters, covariance_type, log_weights, entropy
):
    rows, weights = _joint(x_block, y_block, w_block)
    rows -= center
    missing = np.isnan(rows)
    if missing.any():
        statistics = missing_em.e_step_with_missing(
            rows,
            missing_em.missing_layout(missing),
            parameters,
            covariance_type,
            weights,
            log_weights,
            entropy,
        )
    else:
        statistics = em.e_step(rows, parameters, covariance_type, weights, log_weights, entropy)
    return em.flatten_statistics(statistics)[None]


def _initial_statistics_chunk(
    x_block, y_block, w_block, seed, center, mode, centers, n_components, covariance_type, scales
):
    rows, weights = _joint(x_block, y_block, w_block)
    rows -= center
    # The start sees a missing entry at its column's mean, as in memory.
    rows = np.nan_to_num(rows, nan=0.0)
    rng = np.random.RandomState(seed[0])

    def responsibilities(part, start, stop):
        if mode == "nearest":
            labels = pairwise_distances_argmin(part / scales, centers)
        elif mode == "random":
            return em.random_responsibilities(rng, len(part), n_components), None
        else:
            labels = np.full(len(part), -1)
        return em.hard_responsibilities(labels, n_components), None

    statistics = em.accumulate_statistics(
        rows, n_components, covariance_type, responsibilities, weights
    )
    return em.flatten_statistics(statistics)[None]


class DistributedPasses:
    """The passes of a distributed EM over the chunks of ``X``, ``Y`` and ``W``.

    Each method builds one task per chunk (see :func:`em_arrays`), reduces the
    per-chunk vectors with dask's tree reduction and computes the result on the
    current dask scheduler (a ``distributed.Client`` if one is active).
    """

    def __init__(self, X, Y, W):
        self.X, self.Y, self.W = X, Y, W
        self.n_joint = X.shape[1] + Y.shape[1]
        self.n_chunks = len(X.chunks[0])

    def _per_chunk(self, function, width, rng=None, varying_rows=False, **kwargs):
        """``function(x_block, y_block, w_block, seed, **kwargs)`` on every chunk.

        Each call returns ``width`` columns and one row (any number of rows with
        ``varying_rows``); ``seed`` is the chunk's seed drawn from ``rng``.
        """
        da = _dask_array_module()
        seeds = np.zeros(self.n_chunks, dtype=np.int64)
        if rng is not None:
            seeds = rng.randint(np.iinfo(np.int32).max, size=self.n_chunks)
        weights = (self.W, "iw") if self.W is not None else (None, None)
        return da.blockwise(
            function,
            "ic",
            self.X,
            "ix",
            self.Y,
            "iy",
            *weights,
            da.from_array(seeds, chunks=1),
            "i",
            new_axes={"c": width},
            adjust_chunks={"i": (lambda size: np.nan) if varying_rows else 1},
            concatenate=True,
            align_arrays=False,
            dtype=np.float64,
            meta=np.empty((0, 0)),
            **kwargs,
        )

    def _reduce(self, function, width, rng=None, **kwargs):
        return self._per_chunk(function, width, rng, **kwargs).sum(axis=0).compute()

    def _reduce_statistics(self, function, shape, rng=None, **kwargs):
        """Summed :class:`~skgmje._core.em.SufficientStatistics` of ``function`` over the chunks.

        ``shape`` is ``(n_components, covariance_type)`` of the statistics.
        """
        n_components, covariance_type = shape
        size = em.statistics_size(n_components, self.n_joint, covariance_type)
        vector = self._reduce(function, size, rng, **kwargs)
        return em.unflatten_statistics(vector, n_components, self.n_joint, covariance_type)

    def moments(self):
        """``(sum of weights, rows with positive weight, weighted mean of the joint rows)``,
        each column's mean over its observed entries."""
        totals = self._reduce(_moments_chunk, 2 + 2 * self.n_joint)
        if totals[0] <= 0:
            raise ValueError("sample_weight must contain at least one positive weight.")
        self._column_weights = totals[2 : 2 + self.n_joint]
        if np.any(self._column_weights <= 0):
            raise ValueError(
                f"Column(s) {np.flatnonzero(self._column_weights <= 0).tolist()} of [X, y] "
                "have no observed value (with positive weight): nothing determines their "
                "distribution. Drop them."
            )
        return totals[0], int(totals[1]), totals[2 + self.n_joint :] / self._column_weights

    def variances(self, center, total_weight):
        """Weighted variance of each joint column's observed entries about ``center`` (a
        second pass, so that a large offset cannot cancel the variance away); call after
        :meth:`moments`."""
        return self._reduce(_squares_chunk, self.n_joint, center=center) / self._column_weights

    def levels(self):
        """:func:`skgmje._core.resolution.column_levels` of the rows of every chunk."""
        width = self.n_joint * (resolution.MAX_LEVELS + 1)
        packed = self._per_chunk(_levels_chunk, width).compute()
        return resolution.merge_levels(
            [resolution.unpack_levels(row, self.n_joint) for row in packed]
        )

    def sample(self, n_rows, n_positive, rng):
        """A uniform Bernoulli sample of about ``n_rows`` rows with positive weight.

        Returns the joint rows and their weights (ones when unweighted).
        """
        sampled = self._per_chunk(
            _sample_chunk_rows,
            self.n_joint + 1,
            rng,
            varying_rows=True,
            probability=min(1.0, n_rows / n_positive),
        )
        sampled = sampled.compute()
        return sampled[:, :-1], sampled[:, -1]

    def initial_statistics(
        self, center, mode, centers, n_components, covariance_type, rng, scales=None
    ):
        """Summed statistics of initial responsibilities: ``"nearest"`` of ``centers``
        (k-means labels; distances on the shifted rows divided by ``scales``), ``"random"``
        (uniform, normalised), or ``"none"`` (zero)."""
        return self._reduce_statistics(
            _initial_statistics_chunk,
            (n_components, covariance_type),
            rng,
            center=center,
            mode=mode,
            centers=centers,
            n_components=n_components,
            covariance_type=covariance_type,
            scales=np.ones(self.n_joint) if scales is None else scales,
        )

    def e_step(self, center, parameters, covariance_type, log_weights=None, entropy=False):
        """Summed E-step statistics of every chunk (rows shifted by ``center``).

        ``log_weights`` and ``entropy`` as in :func:`skgmje._core.em.e_step`.
        """
        return self._reduce_statistics(
            _e_step_chunk,
            (len(parameters.means), covariance_type),
            center=center,
            parameters=parameters,
            covariance_type=covariance_type,
            log_weights=log_weights,
            entropy=entropy,
        )
