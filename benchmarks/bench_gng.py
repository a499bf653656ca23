"""Benchmark skgmje.GMJEGNG's Growing Neural Gas against neupy 0.8.2, and its demo NLL.

Two measurements, in one run:

(a) GNG training throughput (samples presented per second) of ``GMJEGNG.fit``
    against neupy 0.8.2's ``GrowingNeuralGas.train``, same parameters
    (Fritzke's defaults, ``max_nodes=100``), same data (20 000 rows of a
    Gaussian blob mixture, D = 2 and D = 16), same number of passes, both
    from two random starting nodes with shuffled passes. Target: >= 3x
    neupy. ``GMJEGNG.fit`` is timed whole (input validation, the graph, the
    final assignment of the data to the nodes and the mixture, with
    ``n_em_steps=0``), neupy's ``train`` for the graph alone. The graphs are
    compared for quality: node count, and the mean squared distance of the
    data to the nearest node (quantisation error).
(b) Held-out conditional NLL on the demo's Datasets A and B (2000 train /
    5000 test, seed 0, as ``python -m skgmje demo``), beside the oracle and
    GMJE with K=3, with and without the EM refinement.

neupy 0.8.2 needs TensorFlow 1.x, which has no build for Python 3.11, and
NumPy < 1.25 (it imports ``numpy.core.umath_tests``), so it runs in a
separate interpreter, given by ``--neupy-python`` or the environment variable
``NEUPY_PYTHON`` (there is no default path), set up once with, for example::

    python3.11 -m venv "$NEUPY_VENV"          # a folder of your choice
    "$NEUPY_VENV"/bin/pip install "tensorflow-cpu==2.15.1" "numpy==1.24.4" \\
        "scipy==1.10.1" "matplotlib==3.7.5" six "progressbar2==3.55.0" h5py "graphviz==0.5.1"
    "$NEUPY_VENV"/bin/pip install --no-deps neupy==0.8.2
    export NEUPY_PYTHON="$NEUPY_VENV/bin/python"

The worker aliases ``tensorflow.compat.v1`` as ``tensorflow`` so that neupy's
package imports succeed; neupy's ``GrowingNeuralGas`` is pure NumPy and runs
unmodified (no TensorFlow call is made on its path). progressbar2 3.55 replaces
the pinned 3.34.3, which does not import on Python 3.10+.

Run ``python benchmarks/bench_gng.py`` (a few minutes) or ``--quick`` (under a
minute). Results go to ``benchmarks/results/bench_gng.json`` (``--output`` to change).
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import command_line, machine_info
from threadpoolctl import threadpool_limits

from skgmje import GMJE
from skgmje._demo import DATASETS, N_TEST, N_TRAIN, SEED, _split
from skgmje.datasets import BranchesOracle
from skgmje.gng import GMJEGNG

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_gng.json"
DEFAULT_NEUPY_PYTHON = os.environ.get("NEUPY_PYTHON")
DATA_SEED = 0
MODEL_SEED = 0

FRITZKE = {
    "eps_winner": 0.2,
    "eps_neighbor": 0.006,
    "max_edge_age": 50,
    "insert_every": 100,
    "split_error_decay": 0.5,
    "error_decay": 0.995,
}
FULL = {
    "n_samples": 20_000,
    "n_blobs": 8,
    "dimensions": [2, 16],
    "max_nodes": 100,
    "passes": 3,
    "repeats": 3,
    "nll_variants": {
        "GMJEGNG (defaults)": {},
        "GMJEGNG n_em_steps=0 (GNG mixture only)": {"n_em_steps": 0},
        "GMJEGNG covariance_type=tied, n_em_steps=0": {"covariance_type": "tied", "n_em_steps": 0},
    },
}
QUICK = {**FULL, "n_samples": 5_000, "passes": 1, "repeats": 1}

THROUGHPUT_TARGET = 3.0
QUANTISATION_RATIO_BOUNDS = (0.8, 1.25)

# Runs inside the neupy interpreter: data in, timings and the final nodes out.
NEUPY_WORKER = r"""
import json, sys, time
import tensorflow.compat.v1 as tf
sys.modules["tensorflow"] = tf
import numpy as np
import neupy
from neupy.algorithms import GrowingNeuralGas

data_path, nodes_path, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
Z = np.load(data_path)
np.random.seed(options["seed"])
network = GrowingNeuralGas(
    n_inputs=Z.shape[1], n_start_nodes=2, shuffle_data=True, verbose=False,
    max_nodes=options["max_nodes"], step=options["eps_winner"],
    neighbour_step=options["eps_neighbor"], max_edge_age=options["max_edge_age"],
    n_iter_before_neuron_added=options["insert_every"],
    after_split_error_decay_rate=options["split_error_decay"],
    error_decay_rate=options["error_decay"],
)
start = time.perf_counter()
network.train(Z, epochs=options["passes"])
seconds = time.perf_counter() - start
nodes = np.concatenate([node.weight for node in network.graph.nodes])
np.save(nodes_path, nodes)
print(json.dumps({
    "seconds": seconds, "n_nodes": network.graph.n_nodes, "n_edges": network.graph.n_edges,
    "neupy": neupy.__version__, "numpy": np.__version__, "tensorflow": tf.__version__,
    "python": sys.version.split()[0],
}))
"""


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (under a minute)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    parser.add_argument(
        "--neupy-python",
        default=DEFAULT_NEUPY_PYTHON,
        help="Python interpreter that has neupy 0.8.2 installed (see the module docstring)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads (default 1; 0 keeps the libraries' defaults)",
    )
    return parser.parse_args(argv)


def make_blobs(n_samples, n_features, n_blobs, seed):
    """Rows of an isotropic Gaussian blob mixture with well-spread centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=4.0, size=(n_blobs, n_features))
    return centres[rng.integers(n_blobs, size=n_samples)] + rng.standard_normal(
        (n_samples, n_features)
    )


def quantisation_error(Z, nodes):
    """Mean squared distance of each row to its nearest node."""
    squared = (Z**2).sum(axis=1)[:, None] - 2.0 * Z @ nodes.T + (nodes**2).sum(axis=1)
    return float(np.mean(np.maximum(squared.min(axis=1), 0.0)))


def run_neupy(python, Z, options, workdir):
    data_path, nodes_path = Path(workdir) / "data.npy", Path(workdir) / "nodes.npy"
    np.save(data_path, Z)
    environment = {**os.environ, "NUMPY_EXPERIMENTAL_DTYPE_API": "1", "TF_CPP_MIN_LOG_LEVEL": "3"}
    completed = subprocess.run(
        [python, "-c", NEUPY_WORKER, str(data_path), str(nodes_path), json.dumps(options)],
        capture_output=True,
        text=True,
        env=environment,
        check=False,
    )
    if completed.returncode != 0:
        raise RuntimeError(f"the neupy worker failed:\n{completed.stderr[-3000:]}")
    result = json.loads(completed.stdout.strip().splitlines()[-1])
    return result, np.load(nodes_path)


def run_skgmje(Z, options):
    model = GMJEGNG(
        max_nodes=options["max_nodes"],
        max_iter=options["passes"],
        n_em_steps=0,
        random_state=options["seed"],
        **FRITZKE,
    )
    X, y = Z[:, :-1], Z[:, -1]
    start = time.perf_counter()
    model.fit(X, y)
    return time.perf_counter() - start, model


def bench_throughput(config, n_features, neupy_python, workdir):
    Z = make_blobs(config["n_samples"], n_features, config["n_blobs"], DATA_SEED)
    options = {
        **FRITZKE,
        "max_nodes": config["max_nodes"],
        "passes": config["passes"],
        "seed": MODEL_SEED,
    }
    ours, theirs = [], []
    # Interleaved repeats, so that a slow spell of the machine hits both libraries.
    for _ in range(config["repeats"]):
        seconds, model = run_skgmje(Z, options)
        ours.append(seconds)
        result, neupy_nodes = run_neupy(neupy_python, Z, options, workdir)
        theirs.append(result["seconds"])
    presented = config["n_samples"] * config["passes"]
    ours_rate, neupy_rate = presented / min(ours), presented / min(theirs)
    ours_error = quantisation_error(Z, model.nodes_)
    neupy_error = quantisation_error(Z, neupy_nodes)
    error_ratio = ours_error / neupy_error
    low, high = QUANTISATION_RATIO_BOUNDS
    return {
        "name": f"GNG training D={n_features} max_nodes={config['max_nodes']}",
        "unit": "samples/s",
        "skgmje": ours_rate,
        "reference": neupy_rate,
        "reference_library": (
            f"neupy {result['neupy']} GrowingNeuralGas.train (unmodified; Python "
            f"{result['python']}, NumPy {result['numpy']}, tensorflow.compat.v1 "
            f"{result['tensorflow']} aliased as tensorflow for neupy's imports only)"
        ),
        "ratio_definition": "skgmje samples/s / neupy samples/s (best of repeats each)",
        "ratio": ours_rate / neupy_rate,
        "target": THROUGHPUT_TARGET,
        "target_comparison": ">=",
        "meets_target": bool(ours_rate / neupy_rate >= THROUGHPUT_TARGET),
        "details": {
            "n_samples": config["n_samples"],
            "n_features": n_features,
            "passes": config["passes"],
            "samples_presented": presented,
            "parameters": options,
            "skgmje_seconds": ours,
            "neupy_seconds": theirs,
            "skgmje_timed": (
                "GMJEGNG.fit whole: validation, graph, assignment and mixture (n_em_steps=0)"
            ),
            "neupy_timed": "GrowingNeuralGas.train(Z, epochs=passes): the graph only",
            "skgmje_nodes": int(len(model.nodes_)),
            "skgmje_edges": int(len(model.edges_)),
            "neupy_nodes": int(result["n_nodes"]),
            "neupy_edges": int(result["n_edges"]),
            "skgmje_quantisation_error": ours_error,
            "neupy_quantisation_error": neupy_error,
            "algorithm_differences": (
                "neupy accumulates the Euclidean (not squared) winner distance as error, ages "
                "the winner-runner-up edge right after creating it and removes edges of age >= "
                "max_edge_age; skgmje follows Fritzke (1995; user guide, 'GMJEGNG')"
            ),
        },
        "checks": {
            "same_node_count": {
                "value": int(len(model.nodes_)),
                "target": int(result["n_nodes"]),
                "comparison": "==",
                "meets_target": len(model.nodes_) == result["n_nodes"],
            },
            "quantisation_error_ratio": {
                "value": error_ratio,
                "target": list(QUANTISATION_RATIO_BOUNDS),
                "comparison": "within",
                "meets_target": bool(low <= error_ratio <= high),
            },
        },
    }


def bench_nll(config):
    results = {}
    for title, (name, make) in DATASETS.items():
        X, y, X_test, y_test = _split(make)
        rows = {"oracle": {"nll": -BranchesOracle(name).score(X_test, y_test)}}
        start = time.perf_counter()
        three = GMJE(n_components=3, random_state=SEED).fit(X, y)
        rows["GMJE K=3"] = {
            "nll": -three.score(X_test, y_test),
            "seconds": time.perf_counter() - start,
        }
        for label, parameters in config["nll_variants"].items():
            start = time.perf_counter()
            model = GMJEGNG(random_state=SEED, **parameters).fit(X, y)
            rows[label] = {
                "nll": -model.score(X_test, y_test),
                "seconds": time.perf_counter() - start,
                "n_components": int(model.n_components_),
                "n_graph_components": int(model.n_graph_components_),
                "parameters": model.get_params(),
            }
        for row in rows.values():
            row["gap_to_oracle"] = row["nll"] - rows["oracle"]["nll"]
        results[title] = rows
    return {"n_train": N_TRAIN, "n_test": N_TEST, "seed": SEED, "datasets": results}


def print_report(measurements, nll):
    header = f"{'measurement':<34} {'skgmje':>14} {'neupy':>14} {'ratio':>7} {'target':>7}  ok"
    print(header)
    print("-" * len(header))
    for entry in measurements:
        print(
            f"{entry['name']:<34} {entry['skgmje']:>12,.0f}/s {entry['reference']:>12,.0f}/s "
            f"{entry['ratio']:>7.2f} {'>= ' + format(entry['target'], 'g'):>7}  "
            f"{'yes' if entry['meets_target'] else 'NO'}"
        )
        for check_name, check in entry["checks"].items():
            print(
                f"  {check_name:<32} {check['value']!s:>14} {'':>14} {'':>7} "
                f"{check['comparison'] + ' ' + str(check['target']):>7}  "
                f"{'yes' if check['meets_target'] else 'NO'}"
            )
    print("\nHeld-out conditional NLL, nats (lower is better)")
    for title, rows in nll["datasets"].items():
        for label, row in rows.items():
            print(f"  {title:<17} {label:<48} {row['nll']:7.3f}")


def main(argv=None):
    args = parse_args(argv)
    if args.neupy_python is None:
        raise SystemExit(
            "Which Python has neupy 0.8.2? Pass --neupy-python PATH or set NEUPY_PYTHON "
            "(the module docstring says how to set one up)."
        )
    if not Path(args.neupy_python).exists():
        raise SystemExit(
            f"No neupy interpreter at {args.neupy_python}: set it up as the module docstring "
            "says, or pass --neupy-python."
        )
    config = QUICK if args.quick else FULL
    started = time.perf_counter()
    with threadpool_limits(limits=args.threads or None), tempfile.TemporaryDirectory() as workdir:
        machine = machine_info()
        measurements = []
        for n_features in config["dimensions"]:
            print(f"GNG throughput, D={n_features} ...", file=sys.stderr, flush=True)
            measurements.append(bench_throughput(config, n_features, args.neupy_python, workdir))
        print("demo NLL ...", file=sys.stderr, flush=True)
        nll = bench_nll(config)
    all_met = all(
        entry["meets_target"] and all(check["meets_target"] for check in entry["checks"].values())
        for entry in measurements
    )
    report = {
        "benchmark": "bench_gng",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "quick": args.quick,
        "threads": args.threads or "library defaults",
        "config": config,
        "reference_note": (
            "The reference is neupy 0.8.2 itself, run in a separate Python 3.11 environment "
            "(TensorFlow 1.x does not exist for Python 3.11; neupy's GNG does not use TensorFlow)."
        ),
        "machine": machine,
        "measurements": measurements,
        "demo_nll": nll,
        "all_targets_met": all_met,
        "wall_seconds": time.perf_counter() - started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print_report(measurements, nll)
    print(
        f"\nall targets met: {all_met}; wall time {report['wall_seconds']:.0f} s; "
        f"wrote {args.output}"
    )


if __name__ == "__main__":
    main()
