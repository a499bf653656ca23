"""Benchmark skgmje.GMJE against scikit-learn's GaussianMixture and the gmr package.

Two measurements, both in one run, each reported as a ratio with a target:

(a) Time per EM iteration of ``GMJE`` vs ``sklearn.mixture.GaussianMixture``
    (full covariances, ``tol=0``, same k-means initialisation, standardised joint
    data with four target columns per context column, where GMJE's start and
    relative ``reg_covar`` are scikit-learn's), and whether both reach the same
    ``lower_bound_``.
(b) Conditional density and conditional mean throughput of ``GMJE`` vs
    ``gmr.GMM`` built from the very same fitted parameters, and the
    agreement of their values.

Run ``python benchmarks/bench_gmje.py`` (a few minutes) or add ``--quick`` for
a smoke run of about ten seconds. Results go to ``benchmarks/results/bench_gmje.json``
(``--output`` to change) and a table is printed.
"""

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import (
    best_seconds,
    command_line,
    machine_info,
    make_mixture_data,
    progress,
    ratio_fields,
    same_start_split,
    seconds_per_iteration,
    target_check,
    timed,
)
from gmr import GMM
from sklearn.mixture import GaussianMixture
from threadpoolctl import threadpool_limits

from skgmje import GMJE

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_gmje.json"
DATA_SEED = 0
MODEL_SEED = 0

FULL = {
    "em_n_samples": 100_000,
    # (joint dimension D, number of components K)
    "em_cases": [(5, 8), (15, 16), (65, 16)],
    "em_max_iter": 10,
    "em_repeats": 3,
    "cond_n_features": 2,
    "cond_n_targets": 2,
    "cond_n_components": 8,
    "cond_n_train": 20_000,
    "cond_n_queries": 100_000,
    "cond_gmr_queries": 2_000,
    "cond_repeats": 3,
}
QUICK = {
    **FULL,
    "em_n_samples": 5_000,
    "cond_n_train": 5_000,
    "cond_n_queries": 5_000,
    "cond_gmr_queries": 100,
    "cond_repeats": 1,
}

EM_RATIO_TARGET = 1.0
LOWER_BOUND_RTOL = 1e-6
DENSITY_SPEEDUP_TARGET = 5.0
DENSITY_RTOL = 1e-6
MEAN_RATIO_TARGET = 1.0
MEAN_ATOL = 1e-6

EM_METHOD = (
    "Each estimator is fitted from the same k-means initialisation (same random_state) "
    "with max_iter=0 and with max_iter=M, tol=0; seconds per EM iteration = "
    "(best of repeats at M - best of repeats at 0) / M. The subtraction removes the "
    "KMeans initialisation and the per-fit overhead each library pays once (input "
    "validation, sklearn's final E-step, GMJE's conditioning precomputation), so only "
    "E-step + M-step time is compared. Repeats are interleaved between the two libraries."
)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small smoke run (seconds)")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="JSON file to write")
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads for every library (default 1; 0 keeps the libraries' defaults)",
    )
    return parser.parse_args(argv)


def bench_em_case(n_samples, n_joint, n_components, max_iter, repeats):
    """Seconds per EM iteration of GMJE and GaussianMixture on the same joint data."""
    Z, X, y = same_start_split(make_mixture_data(n_samples, n_joint, n_components, DATA_SEED))
    common = dict(tol=0.0, init_params="kmeans", random_state=MODEL_SEED, reg_covar=1e-6)
    fits = {}
    for iterations in (0, max_iter):
        sklearn_model = GaussianMixture(
            n_components, covariance_type="full", max_iter=iterations, **common
        )
        skgmje_model = GMJE(n_components, covariance_type="full", max_iter=iterations, **common)
        fits["sklearn", iterations] = lambda m=sklearn_model: m.fit(Z)
        fits["skgmje", iterations] = lambda m=skgmje_model: m.fit(X, y)

    per_iteration, best, models = seconds_per_iteration(fits, max_iter, repeats)
    if min(per_iteration.values()) <= 0.0:
        raise RuntimeError(
            f"Timing noise exceeds the EM time at D={n_joint} K={n_components} "
            f"({per_iteration}); use more samples, iterations or repeats."
        )
    bounds = {library: float(models[library, max_iter].lower_bound_) for library in per_iteration}
    relative_gap = abs(bounds["skgmje"] - bounds["sklearn"]) / abs(bounds["sklearn"])
    return {
        "name": f"em_iteration D={n_joint} K={n_components}",
        "unit": "s/iter",
        "skgmje": per_iteration["skgmje"],
        "reference": per_iteration["sklearn"],
        "reference_library": "sklearn.mixture.GaussianMixture",
        "ratio_definition": "skgmje seconds per iteration / sklearn seconds per iteration",
        **ratio_fields(per_iteration["skgmje"] / per_iteration["sklearn"], EM_RATIO_TARGET, "<="),
        "details": {
            "n_samples": n_samples,
            "n_joint": n_joint,
            "n_features": n_joint - 1,
            "n_targets": 1,
            "n_components": n_components,
            "best_fit_seconds": {f"{lib} max_iter={it}": s for (lib, it), s in best.items()},
            "n_iter": {lib: int(models[lib, max_iter].n_iter_) for lib in per_iteration},
            "lower_bound": bounds,
        },
        "checks": {
            "lower_bound_relative_difference": target_check(relative_gap, LOWER_BOUND_RTOL, "<=")
        },
    }


def conditional_setup(config):
    """A GMJE fitted on joint data, the gmr.GMM with its exact parameters, and held-out queries."""
    n_features, n_targets = config["cond_n_features"], config["cond_n_targets"]
    n_train, n_queries = config["cond_n_train"], config["cond_n_queries"]
    n_components = config["cond_n_components"]
    Z = make_mixture_data(n_train + n_queries, n_features + n_targets, n_components, DATA_SEED)
    X, Y = np.ascontiguousarray(Z[:, :n_features]), np.ascontiguousarray(Z[:, n_features:])
    model = GMJE(n_components, covariance_type="full", random_state=MODEL_SEED).fit(
        X[:n_train], Y[:n_train]
    )
    reference = GMM(
        n_components,
        priors=model.weights_,
        means=model.means_,
        covariances=model.covariances_,
        random_state=MODEL_SEED,
    )
    return model, reference, X[n_train:], Y[n_train:]


def gmr_density(reference, context_indices, X, Y):
    """gmr's p(y | x): condition the joint GMM on each x, then evaluate at its y."""
    return np.array(
        [
            reference.condition(context_indices, x).to_probability_density(y[None, :])[0]
            for x, y in zip(X, Y)
        ]
    )


def bench_conditional(config):
    """Conditional density and conditional mean: GMJE (batched) vs gmr.GMM."""
    model, reference, Xq, Yq = conditional_setup(config)
    context = np.arange(config["cond_n_features"])
    repeats, n_queries, n_subset = config["cond_repeats"], len(Xq), config["cond_gmr_queries"]
    shape = {
        "n_features": config["cond_n_features"],
        "n_targets": config["cond_n_targets"],
        "n_components": config["cond_n_components"],
        "n_train": config["cond_n_train"],
        "gmje_n_iter": int(model.n_iter_),
    }

    skgmje_seconds = best_seconds(lambda: model.predict_density(Xq, Yq), repeats)
    # gmr answers one query per call, so it is timed on a subset (one pass, n_subset calls).
    gmr_seconds, gmr_values = timed(
        lambda: gmr_density(reference, context, Xq[:n_subset], Yq[:n_subset])
    )
    skgmje_values = model.predict_density(Xq[:n_subset], Yq[:n_subset])
    skgmje_rate, gmr_rate = n_queries / skgmje_seconds, n_subset / gmr_seconds
    density = {
        "name": f"conditional density dx={shape['n_features']} dy={shape['n_targets']}",
        "unit": "queries/s",
        "skgmje": skgmje_rate,
        "reference": gmr_rate,
        "reference_library": "gmr.GMM.condition(...).to_probability_density, one query per call",
        "ratio_definition": "skgmje queries/s / gmr queries/s (speed-up)",
        **ratio_fields(skgmje_rate / gmr_rate, DENSITY_SPEEDUP_TARGET, ">="),
        "details": {
            **shape,
            "skgmje_queries": n_queries,
            "skgmje_best_seconds": skgmje_seconds,
            "gmr_queries": n_subset,
            "gmr_seconds": gmr_seconds,
            "values_compared_on": n_subset,
        },
        "checks": {
            "density_max_relative_difference": target_check(
                float(np.max(np.abs(skgmje_values - gmr_values) / np.abs(gmr_values))),
                DENSITY_RTOL,
                "<=",
            )
        },
    }

    skgmje_seconds = best_seconds(lambda: model.predict(Xq), repeats)
    gmr_seconds = best_seconds(lambda: reference.predict(context, Xq), repeats)
    mean_gap = float(np.max(np.abs(model.predict(Xq) - reference.predict(context, Xq))))
    mean = {
        "name": f"conditional mean dx={shape['n_features']} dy={shape['n_targets']}",
        "unit": "s",
        "skgmje": skgmje_seconds,
        "reference": gmr_seconds,
        "reference_library": "gmr.GMM.predict (batched)",
        "ratio_definition": "skgmje seconds / gmr seconds for all queries",
        **ratio_fields(skgmje_seconds / gmr_seconds, MEAN_RATIO_TARGET, "<="),
        "details": {**shape, "queries": n_queries},
        "checks": {"mean_max_absolute_difference": target_check(mean_gap, MEAN_ATOL, "<=")},
    }
    return [density, mean]


def format_value(value, unit):
    if unit == "queries/s":
        return f"{value:,.0f} q/s"
    return f"{value:.4g} {unit}"


def format_target(comparison, target):
    return f"{comparison} {target:g}"


def verdict(met):
    return "yes" if met else "NO"


def print_table(measurements):
    header = f"{'measurement':<36} {'skgmje':>17} {'reference':>17} {'ratio':>9} {'target':>9}  ok"
    print(header)
    print("-" * len(header))
    for entry in measurements:
        skgmje = format_value(entry["skgmje"], entry["unit"])
        reference = format_value(entry["reference"], entry["unit"])
        target = format_target(entry["target_comparison"], entry["target"])
        print(
            f"{entry['name']:<36} {skgmje:>17} {reference:>17} {entry['ratio']:>9.3g} "
            f"{target:>9}  {verdict(entry['meets_target'])}"
        )
        for check_name, check in entry["checks"].items():
            target = format_target(check["comparison"], check["target"])
            print(
                f"  {check_name:<34} {check['value']:>17.3g} {'':>17} {'':>9} "
                f"{target:>9}  {verdict(check['meets_target'])}"
            )


def run(config):
    measurements = []
    for n_joint, n_components in config["em_cases"]:
        progress(f"EM iterations, D={n_joint} K={n_components} ...")
        measurements.append(
            bench_em_case(
                config["em_n_samples"],
                n_joint,
                n_components,
                config["em_max_iter"],
                config["em_repeats"],
            )
        )
    progress("conditional density and mean ...")
    return measurements + bench_conditional(config)


def main(argv=None):
    args = parse_args(argv)
    config = QUICK if args.quick else FULL
    started = time.perf_counter()
    with threadpool_limits(limits=args.threads or None):
        machine = machine_info()
        measurements = run(config)
    all_met = all(
        entry["meets_target"] and all(c["meets_target"] for c in entry["checks"].values())
        for entry in measurements
    )
    report = {
        "benchmark": "bench_gmje",
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command_line(),
        "quick": args.quick,
        "threads": args.threads or "library defaults",
        "config": config,
        "em_timing_method": EM_METHOD,
        "machine": machine,
        "measurements": measurements,
        "all_targets_met": all_met,
        "wall_seconds": time.perf_counter() - started,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2) + "\n")
    print_table(measurements)
    print(
        f"\nall targets met: {all_met}; wall time {report['wall_seconds']:.0f} s; "
        f"wrote {args.output}"
    )


if __name__ == "__main__":
    main()
