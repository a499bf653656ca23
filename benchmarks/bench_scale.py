"""GMJE scaled out: in memory, on a dask LocalCluster, against scikit-learn, out-of-core, streaming.

In one run, on this machine (every measurement in a fresh process):

* **memory at the defaults** (n = 1e6, D = 16, K = 16, ``max_iter=3``, k-means start):
  peak resident memory beyond the data of ``GMJE.fit`` and of scikit-learn's
  ``GaussianMixture.fit``. Target: GMJE's no more than scikit-learn's.
* **seconds per EM iteration and peak RSS of every process**, n = 1e5, 1e6, 1e7
  (D = 16: 12 context and 4 target columns, K = 16, full covariances): in-memory GMJE,
  GMJE on a ``distributed.LocalCluster`` (2 worker processes, 1 thread each) and
  scikit-learn's ``GaussianMixture``. Every fit starts from the same parameters (a
  one-iteration fit on the first chunk, then ``warm_start`` with ``tol=0`` for a fixed
  number of iterations), so the fitted parameters are compared too. On the cluster the
  data are generated chunk by chunk on the workers and persisted there: the 1e7 rows
  (1.3 GB) never exist on the client. Targets: dask time per iteration at 1e7 within
  1.5x of in-memory GMJE; 1e6 -> 1e7 time ratio between 8 and 12; client peak memory
  independent of n; parameters equal to 1e-9 relative.
* **out-of-core**: chunks stored as ``.npy`` files totalling at least twice the
  workers' combined ``memory_limit``, loaded chunk by chunk by the tasks at every
  iteration; the fit must complete with the in-memory fit's parameters.
* **partial_fit** (stepwise EM, batches of 256, 5 passes) against batch EM with the
  same K = 8 on Datasets A and B (2000 train / 5000 test), seeds 0-2: held-out NLL
  difference. Target: within 0.02 nats, on the mean over seeds (batch EM itself
  spreads by ~0.05 nats across seeds on Dataset A: different local optima).

Writes JSON (``benchmarks/results/bench_scale.json`` by default) and prints a table.
Run: ``python benchmarks/bench_scale.py`` (about 10 minutes on 2 cores; ``--quick``
for a smoke run with small n).
"""

import argparse
import importlib
import json
import shutil
import subprocess
import sys
import tempfile
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

N_FEATURES, N_TARGETS, N_COMPONENTS = 12, 4, 16
N_JOINT = N_FEATURES + N_TARGETS
CHUNK_ROWS = 125_000
N_ITER = 3
SEED = 0


# --- measurement helpers (run inside the job processes) ---------------------------------------


def _status(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field):
                return int(line.split()[1]) * 1024
    raise KeyError(field)


def reset_peak():
    """Reset this process's peak resident memory (Linux: clear_refs 5), return current RSS."""
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
    return _status("VmRSS:")


def peak_rss():
    return _status("VmHWM:")


def make_chunk(index, n_rows):
    """Rows of a 16-component mixture in 16 dimensions; chunk ``index`` is always the same."""
    centers = np.random.RandomState(12345).normal(scale=3.0, size=(N_COMPONENTS, N_JOINT))
    rng = np.random.RandomState(1000 + index)
    labels = rng.randint(N_COMPONENTS, size=n_rows)
    return centers[labels] + rng.standard_normal((n_rows, N_JOINT))


def chunk_sizes(n_rows):
    rows = min(CHUNK_ROWS, max(1, n_rows // 8))
    sizes = [rows] * (n_rows // rows)
    if n_rows % rows:
        sizes.append(n_rows % rows)
    return sizes


def in_memory_data(n_rows):
    data = np.empty((n_rows, N_JOINT))
    start = 0
    for index, rows in enumerate(chunk_sizes(n_rows)):
        data[start : start + rows] = make_chunk(index, rows)
        start += rows
    return data


def starting_model(kind):
    """One EM iteration on the first chunk: the shared start of every timed fit."""
    first = make_chunk(0, chunk_sizes(10**5)[0])
    if kind == "sklearn":
        from sklearn.mixture import GaussianMixture

        model = GaussianMixture(N_COMPONENTS, max_iter=1, random_state=SEED, warm_start=True)
        model.fit(first)
    else:
        from skgmje import GMJE

        model = GMJE(N_COMPONENTS, max_iter=1, random_state=SEED, warm_start=True)
        model.fit(first[:, :N_FEATURES], first[:, N_FEATURES:])
    return model.set_params(max_iter=N_ITER, tol=0.0)


def parameters_of(model):
    return {name: getattr(model, name).tolist() for name in ("weights_", "means_", "covariances_")}


# --- jobs ---------------------------------------------------------------------------------------


def job_default_memory(kind, n_rows):
    from sklearn.mixture import GaussianMixture

    from skgmje import GMJE

    data = in_memory_data(n_rows)
    before = reset_peak()
    start = time.perf_counter()
    if kind == "sklearn":
        GaussianMixture(N_COMPONENTS, max_iter=N_ITER, random_state=SEED).fit(data)
    else:
        GMJE(N_COMPONENTS, max_iter=N_ITER, random_state=SEED).fit(
            data[:, :N_FEATURES], data[:, N_FEATURES:]
        )
    return {
        "seconds": time.perf_counter() - start,
        "data_bytes": data.nbytes,
        "peak_extra_bytes": peak_rss() - before,
    }


def job_in_memory(kind, n_rows):
    model = starting_model(kind)
    data = in_memory_data(n_rows)
    before = reset_peak()
    start = time.perf_counter()
    if kind == "sklearn":
        model.fit(data)
    else:
        model.fit(data[:, :N_FEATURES], data[:, N_FEATURES:])
    seconds = time.perf_counter() - start
    return {
        "seconds_per_iteration": seconds / model.n_iter_,
        "n_iter": model.n_iter_,
        "data_bytes": data.nbytes,
        "peak_rss_bytes": peak_rss(),
        "peak_extra_bytes": peak_rss() - before,
        "lower_bound": model.lower_bound_,
        "parameters": parameters_of(model),
    }


def _start_cluster(**options):
    from distributed import Client, LocalCluster

    cluster = LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None, **options
    )
    return cluster, Client(cluster)


def _import_on_workers(client):
    """Import skgmje on the workers before timing: a fresh worker's first task pays
    about 0.4 s of imports (NumPy, SciPy, scikit-learn), once per worker process."""
    client.run(importlib.import_module, "skgmje._dask")


def _worker_peaks(client):
    return sorted(client.run(peak_rss).values())


def job_dask(n_rows):
    import dask.array as da
    from dask import delayed
    from distributed import wait

    model = starting_model("gmje")
    cluster, client = _start_cluster()
    try:
        sizes = chunk_sizes(n_rows)
        data = da.concatenate(
            [
                da.from_delayed(delayed(make_chunk)(index, rows), (rows, N_JOINT), np.float64)
                for index, rows in enumerate(sizes)
            ]
        ).persist()
        wait(data)
        _import_on_workers(client)
        client.run(reset_peak)
        before = reset_peak()
        start = time.perf_counter()
        model.fit(data[:, :N_FEATURES], data[:, N_FEATURES:])
        seconds = time.perf_counter() - start
        return {
            "seconds_per_iteration": seconds / model.n_iter_,
            "n_iter": model.n_iter_,
            "n_chunks": len(sizes),
            "data_bytes": n_rows * N_JOINT * 8,
            "client_peak_rss_bytes": peak_rss(),
            "client_peak_extra_bytes": peak_rss() - before,
            "worker_peak_rss_bytes": _worker_peaks(client),
            "lower_bound": model.lower_bound_,
            "parameters": parameters_of(model),
        }
    finally:
        client.close()
        cluster.close()


def job_out_of_core(memory_limit, disk_factor):
    """Chunks on disk totalling ``disk_factor`` times the workers' combined memory_limit."""
    import dask.array as da
    from dask import delayed

    n_chunks = max(2, int(np.ceil(disk_factor * 2 * memory_limit / (N_JOINT * 8 * CHUNK_ROWS))))
    n_rows = n_chunks * CHUNK_ROWS
    directory = Path(tempfile.mkdtemp(prefix="skgmje-out-of-core-"))
    try:
        files = []
        for index, rows in enumerate(chunk_sizes(n_rows)):
            files.append(directory / f"chunk{index:04d}.npy")
            np.save(files[-1], make_chunk(index, rows))
        disk_bytes = sum(path.stat().st_size for path in files)
        cluster, client = _start_cluster(memory_limit=memory_limit)
        try:
            data = da.concatenate(
                [
                    da.from_delayed(delayed(np.load)(str(path)), (rows, N_JOINT), np.float64)
                    for path, rows in zip(files, chunk_sizes(n_rows))
                ]
            )
            model = starting_model("gmje")
            _import_on_workers(client)
            client.run(reset_peak)
            start = time.perf_counter()
            model.fit(data[:, :N_FEATURES], data[:, N_FEATURES:])
            seconds = time.perf_counter() - start
            worker_peaks = _worker_peaks(client)
        finally:
            client.close()
            cluster.close()
        reference = starting_model("gmje")
        stacked = np.concatenate([np.load(path) for path in files])
        reference.fit(stacked[:, :N_FEATURES], stacked[:, N_FEATURES:])
        del stacked
    finally:
        shutil.rmtree(directory)
    return {
        "n_rows": n_rows,
        "disk_bytes": disk_bytes,
        "worker_memory_limit_bytes": memory_limit,
        "combined_memory_limit_bytes": 2 * memory_limit,
        "seconds_per_iteration": seconds / model.n_iter_,
        "worker_peak_rss_bytes": worker_peaks,
        "max_relative_difference": _max_relative_difference(
            parameters_of(model), parameters_of(reference)
        ),
        "lower_bound": model.lower_bound_,
        "lower_bound_in_memory": reference.lower_bound_,
    }


def job_partial_fit(n_passes, seeds):
    """Stepwise EM against batch EM, seed by seed (a seed sets both fits' ``random_state``
    and the stream's order): batch EM's own local optima spread by a few hundredths of a
    nat across seeds, so the target is judged on the mean over seeds."""
    from skgmje import GMJE
    from skgmje._demo import DATASETS, _split

    results = {}
    for title, (_, make) in DATASETS.items():
        X, y, X_test, y_test = _split(make)
        batch, streamed = [], []
        for seed in seeds:
            batch.append(-GMJE(8, random_state=seed).fit(X, y).score(X_test, y_test))
            model = GMJE(8, random_state=seed)
            rng = np.random.RandomState(seed)
            for _ in range(n_passes):
                order = rng.permutation(len(X))
                for start in range(0, len(X), 256):
                    rows = order[start : start + 256]
                    model.partial_fit(X[rows], y[rows])
            streamed.append(-model.score(X_test, y_test))
        results[title] = {
            "batch_em_nll": batch,
            "partial_fit_nll": streamed,
            "difference": [value - reference for value, reference in zip(streamed, batch)],
            "mean_difference": float(np.mean(streamed) - np.mean(batch)),
        }
    return results


JOBS = {
    "default_memory": job_default_memory,
    "in_memory": job_in_memory,
    "dask": job_dask,
    "out_of_core": job_out_of_core,
    "partial_fit": job_partial_fit,
}


# --- driver -------------------------------------------------------------------------------------


def _max_relative_difference(first, second):
    return max(
        float(np.max(np.abs(np.subtract(first[name], second[name]))) / np.max(np.abs(second[name])))
        for name in first
    )


def run_job(name, *arguments):
    """Run one job in a fresh interpreter; its result comes back as JSON on stdout."""
    command = [sys.executable, __file__, "--job", json.dumps([name, list(arguments)])]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def gib(value):
    return value / 2**30


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="benchmarks/results/bench_scale.json")
    parser.add_argument("--quick", action="store_true", help="small n: a smoke run")
    parser.add_argument("--job", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.job:
        warnings.filterwarnings("ignore")
        name, job_arguments = json.loads(arguments.job)
        print(json.dumps(JOBS[name](*job_arguments)))
        return

    import dask
    import distributed
    from _common import machine_info

    sizes = [10**4, 10**5] if arguments.quick else [10**5, 10**6, 10**7]
    memory_n = 10**5 if arguments.quick else 10**6
    # A worker holding numpy, scipy, scikit-learn and skgmje starts at about 0.25 GB.
    memory_limit = 500 * 10**6
    results = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": "python benchmarks/bench_scale.py" + (" --quick" if arguments.quick else ""),
        "quick": arguments.quick,
        "machine": {
            **machine_info(),
            "dask": dask.__version__,
            "distributed": distributed.__version__,
        },
        "setup": {
            "n_features": N_FEATURES,
            "n_targets": N_TARGETS,
            "n_components": N_COMPONENTS,
            "iterations_timed": N_ITER,
            "chunk_rows": CHUNK_ROWS,
            "cluster": "LocalCluster(n_workers=2, threads_per_worker=1, processes=True)",
        },
    }
    started = time.perf_counter()

    memory = {kind: run_job("default_memory", kind, memory_n) for kind in ("gmje", "sklearn")}
    results["default_memory"] = {"n_rows": memory_n, **memory}
    print(f"Peak memory beyond the data, defaults, n={memory_n:.0e}, K=16, max_iter=3:")
    for kind, row in memory.items():
        print(f"  {kind:<8}{gib(row['peak_extra_bytes']):7.2f} GiB  {row['seconds']:6.1f} s")

    scaling = {}
    print(f"\n{'n':>10}{'engine':>10}{'s/iter':>9}{'peak RSS GiB (extra / workers)':>36}")
    for n_rows in sizes:
        rows = {
            "gmje": run_job("in_memory", "gmje", n_rows),
            "dask": run_job("dask", n_rows),
            "sklearn": run_job("in_memory", "sklearn", n_rows),
        }
        rows["dask"]["max_relative_difference_to_in_memory"] = _max_relative_difference(
            rows["dask"]["parameters"], rows["gmje"]["parameters"]
        )
        rows["gmje"]["max_relative_difference_to_sklearn"] = _max_relative_difference(
            rows["gmje"]["parameters"], rows["sklearn"]["parameters"]
        )
        for row in rows.values():
            row.pop("parameters")
        scaling[str(n_rows)] = rows
        for engine, row in rows.items():
            if engine == "dask":
                memory_text = (
                    f"client +{gib(row['client_peak_extra_bytes']):.2f}, workers "
                    + ", ".join(f"{gib(value):.2f}" for value in row["worker_peak_rss_bytes"])
                )
            else:
                memory_text = (
                    f"{gib(row['peak_rss_bytes']):.2f} (+{gib(row['peak_extra_bytes']):.2f})"
                )
            print(
                f"{n_rows:>10.0e}{engine:>10}{row['seconds_per_iteration']:>9.3f}   {memory_text}"
            )
    results["scaling"] = scaling

    out_of_core = run_job("out_of_core", memory_limit, 0 if arguments.quick else 2)
    results["out_of_core"] = out_of_core
    results["partial_fit"] = run_job("partial_fit", 5, [0, 1, 2])
    results["wall_seconds"] = time.perf_counter() - started

    largest, middle = scaling[str(sizes[-1])], scaling[str(sizes[-2])]
    client_extras = [scaling[str(n)]["dask"]["client_peak_extra_bytes"] for n in sizes]
    memory_ratio = memory["gmje"]["peak_extra_bytes"] / memory["sklearn"]["peak_extra_bytes"]
    time_ratio = largest["dask"]["seconds_per_iteration"] / largest["gmje"]["seconds_per_iteration"]
    growth = largest["dask"]["seconds_per_iteration"] / middle["dask"]["seconds_per_iteration"]
    equality = max(scaling[str(n)]["dask"]["max_relative_difference_to_in_memory"] for n in sizes)
    client_growth = (client_extras[-1] - client_extras[0]) / 2**20
    partial = [row["mean_difference"] for row in results["partial_fit"].values()]
    results["targets"] = {
        "default_memory": {
            "target": f"GMJE / scikit-learn peak memory beyond the data at n={memory_n:.0e} <= 1",
            "value": memory_ratio,
            "meets_target": memory_ratio <= 1.0,
        },
        "dask_time": {
            "target": f"dask / in-memory seconds per iteration at n={sizes[-1]:.0e} <= 1.5",
            "value": time_ratio,
            "meets_target": time_ratio <= 1.5,
        },
        "linear_time": {
            "target": f"dask seconds per iteration, n={sizes[-1]:.0e} over n={sizes[-2]:.0e}, "
            "in [8, 12]",
            "value": growth,
            "meets_target": 8.0 <= growth <= 12.0,
        },
        "client_memory": {
            "target": f"client peak memory growth from n={sizes[0]:.0e} to {sizes[-1]:.0e} "
            "<= 64 MiB",
            "value": client_growth,
            "meets_target": client_growth <= 64.0,
        },
        "equality": {
            "target": "largest relative parameter difference, dask vs in memory, <= 1e-9",
            "value": equality,
            "meets_target": equality <= 1e-9,
        },
        "out_of_core": {
            "target": "out-of-core fit on >= 2x the workers' memory, parameters within 1e-9",
            "value": out_of_core["max_relative_difference"],
            "meets_target": out_of_core["max_relative_difference"] <= 1e-9
            and (
                arguments.quick
                or out_of_core["disk_bytes"] >= 2 * out_of_core["combined_memory_limit_bytes"]
            ),
        },
        "partial_fit": {
            "target": "partial_fit minus batch EM NLL, mean over seeds, <= 0.02 nats (A, B)",
            "value": partial,
            "meets_target": all(value <= 0.02 for value in partial),
        },
    }
    results["all_targets_met"] = all(entry["meets_target"] for entry in results["targets"].values())

    for entry in results["targets"].values():
        value = entry["value"]
        shown = ", ".join(f"{v:.3g}" for v in value) if isinstance(value, list) else f"{value:.3g}"
        print(f"{'met' if entry['meets_target'] else 'NOT MET':>8}  {entry['target']}: {shown}")
    print(
        f"Out-of-core: {gib(out_of_core['disk_bytes']):.2f} GiB on disk, workers' memory_limit "
        f"{gib(out_of_core['combined_memory_limit_bytes']):.2f} GiB combined; "
        f"{out_of_core['seconds_per_iteration']:.2f} s/iter, worker peaks "
        + ", ".join(f"{gib(value):.2f}" for value in out_of_core["worker_peak_rss_bytes"])
        + f" GiB; parameters vs in memory {out_of_core['max_relative_difference']:.1e}"
    )
    for title, row in results["partial_fit"].items():
        print(
            f"partial_fit {title}: batch EM "
            + ", ".join(f"{value:.3f}" for value in row["batch_em_nll"])
            + "; streamed minus batch "
            + ", ".join(f"{value:+.3f}" for value in row["difference"])
            + f"; mean {row['mean_difference']:+.3f} nats (target <= +0.02)"
        )
    print(f"Total {results['wall_seconds']:.0f} s")
    output = Path(arguments.output)
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
