"""
=====================================================
Scaling out: GMJE on a dask cluster, and streaming EM
=====================================================

:class:`~skgmje.GMJE` fits dask arrays where the data live: each EM iteration
computes the summed sufficient statistics of every chunk on the workers,
dask's tree reduction brings one short vector to the client, and the M-step
runs there. The rows never reach the client, so a cluster fits data that no
single machine holds, and a model fitted anywhere predicts lazily, chunk by
chunk, on dask arrays of any length.

This example starts a :class:`distributed.LocalCluster` (two workers of one
thread each; point :class:`distributed.Client` at a real scheduler's address
instead and nothing else changes), generates half a million rows of the
paper's Dataset B on the workers, fits GMJE there, checks that the fit is the
in-memory fit, scores a held-out dask array lazily, and streams the data
through :meth:`~skgmje.GMJE.partial_fit` (stepwise EM) for comparison.

The workers here are threads of this process (``processes=False``) so that the
script runs as it is. With ``processes=True`` (one process per worker, as in
the tests and the benchmark) put the code under ``if __name__ == "__main__":``.
"""

import copy
import time
import warnings

import dask
import dask.array as da
import matplotlib.pyplot as plt
import numpy as np
from dask import delayed
from distributed import Client, LocalCluster
from sklearn.exceptions import ConvergenceWarning

from skgmje import GMJE
from skgmje.datasets import BranchesOracle, make_intersecting_branches

cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None)
client = Client(cluster)


def chunk(seed, n_rows=20_000):
    """One chunk of Dataset B, made on whichever worker runs the task."""
    X, y = make_intersecting_branches(n_samples=n_rows, random_state=seed)
    return np.column_stack([X, y])


def dask_dataset(seeds, n_rows=20_000):
    parts = [da.from_delayed(delayed(chunk)(seed, n_rows), (n_rows, 2), float) for seed in seeds]
    data = da.concatenate(parts)
    return data[:, :1], data[:, 1]


# Training rows live on the workers (``persist``); held-out rows are never stored at all.
X, y = dask_dataset(range(25))
X, y = dask.persist(X, y)
X_test, y_test = dask_dataset(range(1000, 1025))
print(f"training rows: {X.shape[0]:,} in {X.numblocks[0]} chunks")

# %%
# Fit on the cluster
# ------------------
#
# The same estimator and parameters as in memory: a dask input is all it takes.

model = GMJE(n_components=12, random_state=0)
start = time.perf_counter()
model.fit(X, y)
print(
    f"fitted on the cluster in {time.perf_counter() - start:.1f} s, "
    f"{model.n_iter_} EM iterations, mean joint log-likelihood {model.lower_bound_:.4f}"
)

# %%
# The same model as in memory
# ---------------------------
#
# From the same starting parameters the distributed EM follows the in-memory
# EM step for step: the chunks' statistics only add up in another order.
# (Pulling the rows onto the client is for this check only.)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)  # 1 and 10 iterations, on purpose
    shared_start = GMJE(n_components=12, max_iter=1, warm_start=True, random_state=0)
    shared_start.fit(X[:20_000].compute(), y[:20_000].compute()).set_params(max_iter=10)
    on_cluster = copy.deepcopy(shared_start).fit(X, y)
    in_memory = copy.deepcopy(shared_start).fit(X.compute(), y.compute())
difference = np.max(np.abs(on_cluster.means_ - in_memory.means_)) / np.max(np.abs(in_memory.means_))
print(f"largest relative difference of the means after 10 iterations: {difference:.1e}")

# %%
# Lazy prediction
# ---------------
#
# ``score``, ``score_samples``, ``predict`` and ``sample`` on dask arrays return
# dask arrays: nothing runs until ``compute``, and then chunk by chunk on the
# workers, with the fitted model shipped once.

lazy_score = model.score(X_test, y_test)
oracle = BranchesOracle("intersecting")
lazy_oracle = da.map_blocks(
    lambda rows, targets: oracle.score_samples(rows, targets[:, 0]),
    X_test,
    y_test[:, None],
    drop_axis=1,
    dtype=float,
).mean()
held_out, best = (float(value) for value in da.compute(lazy_score, lazy_oracle))
print(f"held-out NLL on {X_test.shape[0]:,} rows: GMJE {-held_out:.3f}, oracle {-best:.3f} nats")

# %%
# Streaming with ``partial_fit``
# ------------------------------
#
# Stepwise EM (Cappé and Moulines, 2009) keeps running sufficient statistics
# and moves them towards each batch's with a step ``(t + t0) ** -kappa``. A
# plain loop over the chunks of a dask array (``to_delayed``) feeds it one
# chunk at a time; ``dask_ml.wrappers.Incremental`` does the same. Here 2000
# rows stream through in batches of 250, five passes, against batch EM on
# the same rows.

X_small, y_small = make_intersecting_branches(n_samples=2000, random_state=7)
X_eval, y_eval = make_intersecting_branches(n_samples=5000, random_state=8)
stream_X = da.from_array(X_small, chunks=250)
stream_y = da.from_array(y_small, chunks=250)
streamed, curve = GMJE(n_components=8, random_state=0), []
for _ in range(5):
    for block_X, block_y in zip(stream_X.to_delayed().ravel(), stream_y.to_delayed().ravel()):
        streamed.partial_fit(*da.compute(block_X, block_y))
        curve.append(-streamed.score(X_eval, y_eval))
batch_nll = -GMJE(n_components=8, random_state=0).fit(X_small, y_small).score(X_eval, y_eval)
oracle_nll = -oracle.score(X_eval, y_eval)
print(
    f"after {streamed.n_steps_} steps: streamed {curve[-1]:.3f}, batch EM {batch_nll:.3f}, "
    f"oracle {oracle_nll:.3f} nats"
)

client.close()
cluster.close()

# %%
# The conditional density fitted on the cluster, and the streaming curve
# ----------------------------------------------------------------------

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
grid_x, grid_y = np.linspace(-1, 1, 200), np.linspace(-3.5, 3.5, 240)
xx, yy = np.meshgrid(grid_x, grid_y)
density = model.predict_density(xx.reshape(-1, 1), yy.ravel()).reshape(xx.shape)
left.pcolormesh(xx, yy, density, shading="auto", cmap="magma", vmax=np.quantile(density, 0.995))
left.set(
    title=f"p(y | x) of GMJE fitted on {X.shape[0]:,} rows on the cluster", xlabel="x", ylabel="y"
)
right.plot(np.arange(1, len(curve) + 1), curve, label="partial_fit (batches of 250)")
right.axhline(batch_nll, color="C1", linestyle="--", label="batch EM, same K")
right.axhline(oracle_nll, color="k", linestyle=":", label="oracle")
right.set(
    title="Stepwise EM on a stream",
    xlabel="batches seen",
    ylabel="held-out NLL (nats)",
    ylim=(oracle_nll - 0.1, max(curve[2], batch_nll) + 0.3),
)
right.legend()
fig.tight_layout()
plt.show()
