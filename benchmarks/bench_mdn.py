"""GMJEMDN with default settings against the oracle and GMJE(K=3) on Datasets A and B.

The demo protocol (2000 training points, 5000 held-out points, data seed 0):
held-out conditional NLL (nats) of ``GMJEMDN(random_state=seed)`` for three model
seeds, of ``GMJE(n_components=3)`` and of the true conditional density, and the
CPU seconds (process time) each fit takes.

Targets (issue 4): the MDN's NLL within 0.05 nats of the oracle on both data sets,
with under 60 s of CPU training each.

Run ``python benchmarks/bench_mdn.py`` (about two minutes on 2 cores; ``--quick``
for one seed and 30 epochs). Results go to ``benchmarks/results/bench_mdn.json``.
"""

import argparse
import json
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import torch
from _common import command_line, machine_info
from threadpoolctl import threadpool_limits

from skgmje import GMJE, GMJEMDN
from skgmje._demo import DATASETS, N_TEST, N_TRAIN, SEED, _split
from skgmje.datasets import BranchesOracle

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_mdn.json"
NLL_TARGET, CPU_SECONDS_TARGET = 0.05, 60.0


def timed_fit(model, X, y):
    cpu, wall = time.process_time(), time.perf_counter()
    model.fit(X, y)
    return model, time.process_time() - cpu, time.perf_counter() - wall


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--quick", action="store_true", help="one seed, 30 epochs")
    args = parser.parse_args(argv)
    seeds = [0] if args.quick else [0, 1, 2]
    mdn_params = {"max_epochs": 30} if args.quick else {}
    started = time.perf_counter()
    results = {}
    with threadpool_limits(limits=1, user_api="blas"):
        for title, (name, make) in DATASETS.items():
            X, y, X_test, y_test = _split(make)
            oracle = -BranchesOracle(name).score(X_test, y_test)
            gmje, gmje_cpu, _ = timed_fit(GMJE(n_components=3, random_state=SEED), X, y)
            runs = []
            for seed in seeds:
                print(f"{title}: GMJEMDN seed {seed} ...", file=sys.stderr, flush=True)
                model, cpu, wall = timed_fit(GMJEMDN(random_state=seed, **mdn_params), X, y)
                runs.append(
                    {
                        "seed": seed,
                        "nll": -model.score(X_test, y_test),
                        "cpu_seconds": cpu,
                        "wall_seconds": wall,
                        "epochs": model.n_epochs_,
                    }
                )
            nlls = np.array([run["nll"] for run in runs])
            worst_cpu = max(run["cpu_seconds"] for run in runs)
            results[title] = {
                "oracle_nll": oracle,
                "gmje_k3": {"nll": -gmje.score(X_test, y_test), "cpu_seconds": gmje_cpu},
                "gmjemdn": {
                    "runs": runs,
                    "mean_nll": float(nlls.mean()),
                    "gap_to_oracle": float(nlls.mean() - oracle),
                    "worst_gap_to_oracle": float(nlls.max() - oracle),
                    "max_cpu_seconds": worst_cpu,
                },
                "meets_nll_target": bool(nlls.max() - oracle <= NLL_TARGET),
                "meets_cpu_target": bool(worst_cpu < CPU_SECONDS_TARGET),
            }
    report = {
        "benchmark": "bench_mdn",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "quick": args.quick,
        "config": {
            "n_train": N_TRAIN,
            "n_test": N_TEST,
            "data_seed": SEED,
            "model_seeds": seeds,
            "gmjemdn_params": GMJEMDN(**mdn_params).get_params(),
            "torch": torch.__version__,
            "targets": {"nll_gap_nats": NLL_TARGET, "cpu_seconds": CPU_SECONDS_TARGET},
        },
        "machine": machine_info(),
        "results": results,
        "all_targets_met": all(
            row["meets_nll_target"] and row["meets_cpu_target"] for row in results.values()
        ),
        "wall_seconds": time.perf_counter() - started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2, default=str) + "\n")
    print("Held-out conditional NLL (nats); GMJEMDN: mean over seeds [worst], CPU s of one fit")
    print(
        f"{'dataset':<18}{'oracle':>8}{'GMJE K=3':>10}{'GMJEMDN':>10}"
        f"{'worst':>8}{'gap':>8}{'CPU s':>8}"
    )
    for title, row in results.items():
        mdn = row["gmjemdn"]
        print(
            f"{title:<18}{row['oracle_nll']:8.3f}{row['gmje_k3']['nll']:10.3f}"
            f"{mdn['mean_nll']:10.3f}{mdn['worst_gap_to_oracle'] + row['oracle_nll']:8.3f}"
            f"{mdn['gap_to_oracle']:8.3f}{mdn['max_cpu_seconds']:8.1f}"
        )
    print(
        f"all targets met (worst seed within {NLL_TARGET} nats, < {CPU_SECONDS_TARGET:.0f} CPU s): "
        f"{report['all_targets_met']}; wrote {args.output}"
    )


if __name__ == "__main__":
    main()
