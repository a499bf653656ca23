"""Benchmark skgmje.BayesianGMJE against scikit-learn's BayesianGaussianMixture per iteration.

Both fit the same variational model from the same k-means start with the same
priors (scikit-learn's defaults, passed explicitly to BayesianGMJE) on
standardised joint data (where BayesianGMJE's relative ``reg_covar`` is
scikit-learn's) with four target columns per context column (where BayesianGMJE's
block-balanced k-means start is scikit-learn's), ``tol=0``. Seconds per iteration =
(best of repeats at ``max_iter=M`` - best of repeats at ``max_iter=0``) / M, which
removes the k-means start and the per-fit overhead, as in ``bench_gmje.py``. Reported
as a ratio
(target <= 1: no slower per iteration, issue 16) with the relative difference of
the lower bounds after M iterations (target <= 1e-6).

The accuracy and fit-time side (BayesianGMJE at its defaults against GMJE with K
chosen by GridSearchCV, on the problem suite) is in ``bench_suite.py``.

Run ``python benchmarks/bench_bayesian.py`` (about a minute; ``--quick`` for
seconds). Results go to ``benchmarks/results/bench_bayesian.json``.
"""

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import (
    command_line,
    machine_info,
    make_mixture_data,
    progress,
    ratio_fields,
    same_start_split,
    seconds_per_iteration,
    target_check,
)
from sklearn.mixture import BayesianGaussianMixture
from threadpoolctl import threadpool_limits

from skgmje import BayesianGMJE

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_bayesian.json"
# Joint widths of 5, 10 and 15: a fifth of the columns are contexts, the rest targets.
FULL = {"n_samples": 100_000, "cases": [(5, 20), (10, 20), (15, 20)], "max_iter": 10, "repeats": 3}
QUICK = {**FULL, "n_samples": 5_000, "repeats": 1}
RATIO_TARGET = 1.0
LOWER_BOUND_RTOL = 1e-6


def bench_case(n_samples, n_joint, n_components, max_iter, repeats, covariance_type):
    Z, X, y = same_start_split(make_mixture_data(n_samples, n_joint, n_components, seed=0))
    covariance_prior = {
        "full": np.cov(Z.T),
        "tied": np.cov(Z.T),
        "diag": np.var(Z, axis=0, ddof=1),
        "spherical": float(np.var(Z, axis=0, ddof=1).mean()),
    }[covariance_type]
    common = dict(
        n_components=n_components, covariance_type=covariance_type, tol=0.0, random_state=0
    )
    sklearn_priors = dict(
        mean_precision_prior=1.0,
        degrees_of_freedom_prior=float(n_joint),
        covariance_prior=covariance_prior,
    )
    fits = {}
    for iterations in (0, max_iter):
        theirs = BayesianGaussianMixture(max_iter=iterations, **common)
        ours = BayesianGMJE(max_iter=iterations, **common, **sklearn_priors)
        fits["sklearn", iterations] = lambda m=theirs: m.fit(Z)
        fits["skgmje", iterations] = lambda m=ours: m.fit(X, y)
    per_iteration, best, models = seconds_per_iteration(fits, max_iter, repeats)
    ours_bound = models["skgmje", max_iter].lower_bound_ * n_samples
    theirs_bound = float(np.ravel(models["sklearn", max_iter].lower_bound_)[0])
    gap = abs(ours_bound - theirs_bound) / abs(theirs_bound)
    return {
        "name": f"vb_iteration {covariance_type} D={n_joint} K={n_components}",
        "unit": "s/iter",
        "skgmje": per_iteration["skgmje"],
        "reference": per_iteration["sklearn"],
        "reference_library": "sklearn.mixture.BayesianGaussianMixture",
        "ratio_definition": "skgmje seconds per iteration / sklearn seconds per iteration",
        **ratio_fields(per_iteration["skgmje"] / per_iteration["sklearn"], RATIO_TARGET, "<="),
        "details": {
            "n_samples": n_samples,
            "n_joint": n_joint,
            "n_components": n_components,
            "covariance_type": covariance_type,
            "best_fit_seconds": {f"{lib} max_iter={it}": s for (lib, it), s in best.items()},
            "lower_bound": {"skgmje": ours_bound, "sklearn": theirs_bound},
        },
        "checks": {"lower_bound_relative_difference": target_check(gap, LOWER_BOUND_RTOL, "<=")},
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (seconds)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads for both libraries (default 1; 0 keeps their defaults)",
    )
    args = parser.parse_args(argv)
    config = QUICK if args.quick else FULL
    started = time.perf_counter()
    results = []
    with threadpool_limits(limits=args.threads or None):
        for covariance_type in ("full", "diag"):
            for n_joint, n_components in config["cases"]:
                progress(f"{covariance_type} D={n_joint} K={n_components} ...")
                results.append(
                    bench_case(
                        config["n_samples"],
                        n_joint,
                        n_components,
                        config["max_iter"],
                        config["repeats"],
                        covariance_type,
                    )
                )
    report = {
        "benchmark": "bench_bayesian",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "config": {**config, "threads": args.threads},
        "machine": machine_info(),
        "measurements": results,
        "all_targets_met": all(
            row["meets_target"] and row["checks"]["lower_bound_relative_difference"]["meets_target"]
            for row in results
        ),
        "wall_seconds": time.perf_counter() - started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'case':<36}{'skgmje s/iter':>15}{'sklearn s/iter':>16}{'ratio':>8}{'lb rel diff':>13}")
    for row in results:
        gap = row["checks"]["lower_bound_relative_difference"]["value"]
        print(
            f"{row['name']:<36}{row['skgmje']:15.4f}{row['reference']:16.4f}"
            f"{row['ratio']:8.2f}{gap:13.1e}"
        )
    print(f"wall time {report['wall_seconds']:.0f} s; wrote {args.output}")


if __name__ == "__main__":
    main()
