"""DualGJE (exact and random Fourier features) against scikit-learn's GaussianProcessRegressor.

On Dataset B (intersecting branches, noise 0.1) with N = 1000, 4000, 8000 training
points and 5000 held-out points, each model starts from the same kernel,
``ConstantKernel(1) * RBF(1) + WhiteKernel(1)``, tunes it by its default optimiser
(L-BFGS-B on the marginal likelihood, which is the dual loss up to a constant),
then predicts the held-out set. Measured per model, in one run:

* fit + predict wall time (predict = mean and standard deviation of the 5000 test points);
* held-out conditional NLL in nats (``-mean log N(y | mean, std^2)``; the oracle's is
  printed beside).

Targets (issue 3): at N = 8000, ``DualGJE(n_fourier_features=512)`` is at least 20x
faster than ``GaussianProcessRegressor`` and its NLL is within 0.05 nats of the exact GP.

Run: ``python benchmarks/bench_dual_gje.py`` (about 15 minutes on 2 cores: the exact GP at
N = 8000 dominates); ``--quick`` for a smoke run; ``--skip-exact-dual`` leaves out
the exact ``DualGJE`` (it costs as much as scikit-learn's GP).
"""

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import machine_info
from scipy import stats
from sklearn.gaussian_process import GaussianProcessRegressor
from sklearn.gaussian_process.kernels import RBF, ConstantKernel, WhiteKernel
from threadpoolctl import threadpool_limits

from skgmje import DualGJE
from skgmje.datasets import BranchesOracle, make_intersecting_branches

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_dual_gje.json"
N_TEST, DATA_SEED, MODEL_SEED, N_FOURIER = 5000, 0, 0, 512
SPEED_TARGET, NLL_TARGET = 20.0, 0.05


def kernel():
    return ConstantKernel(1.0) * RBF(1.0) + WhiteKernel(1.0)


def models(skip_exact_dual):
    entries = [("GaussianProcessRegressor", lambda: GaussianProcessRegressor(kernel()))]
    if not skip_exact_dual:
        entries.append(("DualGJE exact", lambda: DualGJE(kernel())))
    entries.append(
        (
            f"DualGJE RFF {N_FOURIER}",
            lambda: DualGJE(kernel(), n_fourier_features=N_FOURIER, random_state=MODEL_SEED),
        )
    )
    return entries


def measure(factory, X, y, X_test, y_test):
    started = time.perf_counter()
    model = factory().fit(X, y)
    mean, std = model.predict(X_test, return_std=True)
    seconds = time.perf_counter() - started
    nll = float(-np.mean(stats.norm(mean, std).logpdf(y_test)))
    return {"seconds": seconds, "nll": nll, "kernel": str(model.kernel_)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--quick", action="store_true", help="N = 250, 500, 1000")
    parser.add_argument("--skip-exact-dual", action="store_true")
    parser.add_argument(
        "--threads", type=int, default=0, help="BLAS threads for every model; 0 = library default"
    )
    args = parser.parse_args()
    sizes = (250, 500, 1000) if args.quick else (1000, 4000, 8000)
    started = time.perf_counter()
    results = {"sizes": {}}
    with threadpool_limits(limits=args.threads or None):
        machine = machine_info()
        print(f"{'N':>6} {'model':<26}{'seconds':>10}{'NLL':>8}{'oracle':>8}  kernel")
        for n_train in sizes:
            X_all, y_all = make_intersecting_branches(n_train + N_TEST, random_state=DATA_SEED)
            X, y, X_test, y_test = (
                X_all[:n_train],
                y_all[:n_train],
                X_all[n_train:],
                y_all[n_train:],
            )
            oracle = -BranchesOracle("intersecting").score(X_test, y_test)
            rows = {"oracle_nll": oracle, "models": {}}
            for name, factory in models(args.skip_exact_dual):
                row = measure(factory, X, y, X_test, y_test)
                rows["models"][name] = row
                print(
                    f"{n_train:>6} {name:<26}{row['seconds']:>10.2f}{row['nll']:>8.3f}"
                    f"{oracle:>8.3f}  {row['kernel']}",
                    flush=True,
                )
            reference = rows["models"]["GaussianProcessRegressor"]
            fourier = rows["models"][f"DualGJE RFF {N_FOURIER}"]
            rows["rff_speedup"] = reference["seconds"] / fourier["seconds"]
            rows["rff_nll_gap"] = fourier["nll"] - reference["nll"]
            if "DualGJE exact" in rows["models"]:
                exact = rows["models"]["DualGJE exact"]
                rows["exact_time_ratio"] = exact["seconds"] / reference["seconds"]
                rows["exact_nll_difference"] = exact["nll"] - reference["nll"]
            results["sizes"][n_train] = rows
    largest = results["sizes"][sizes[-1]]
    results["target"] = {
        "n_train": sizes[-1],
        "rff_speedup": largest["rff_speedup"],
        "speedup_target": f">= {SPEED_TARGET}",
        "rff_nll_gap": largest["rff_nll_gap"],
        "nll_gap_target": f"|gap| <= {NLL_TARGET}",
        "meets_target": bool(
            largest["rff_speedup"] >= SPEED_TARGET and abs(largest["rff_nll_gap"]) <= NLL_TARGET
        ),
    }
    results["config"] = {
        "dataset": "make_intersecting_branches (Dataset B), noise 0.1",
        "n_test": N_TEST,
        "data_seed": DATA_SEED,
        "model_seed": MODEL_SEED,
        "n_fourier_features": N_FOURIER,
        "initial_kernel": str(kernel()),
        "optimizer": "L-BFGS-B (each library's default), no restarts",
        "timing": "fit + predict(return_std=True) on the test set, one run each",
        "quick": args.quick,
        "threads": args.threads or "library default",
    }
    results["machine"] = machine
    results["date"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    results["wall_seconds"] = time.perf_counter() - started
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(results, indent=2) + "\n")
    target = results["target"]
    print(
        f"\nN={target['n_train']}: RFF {target['rff_speedup']:.1f}x faster than GPR (target >= "
        f"{SPEED_TARGET}), NLL gap {target['rff_nll_gap']:+.4f} nats (target within {NLL_TARGET}); "
        f"meets target: {target['meets_target']}; wrote {args.output}"
    )


if __name__ == "__main__":
    main()
