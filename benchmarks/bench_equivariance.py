"""Units must not matter: held-out scores when any one column changes units, or all of them.

A user's columns have units of their own. For a conditional density, rescaling one target
column by ``s`` (and shifting it) moves the log-density by exactly ``-log s``; rescaling or
shifting a context column changes nothing. For each estimator at its default parameters,
on Dataset B (600 training / 1000 test rows, seed 0) in two configurations (one context
column and a 1-D target; two context columns, the second an irrelevant normal one, and a
2-D target ``[y, x + 0.5 y]`` plus noise), this measures

    error(column, s, c) = | score after the change - (score(X, y) - log s [target column]) |

in nats, for every single column of X and y and for all columns together, for s in
{1e-6, 1e-3, 1e3, 1e6} and c in {0, 1e6}. Target (issues 14 and 23): at most 0.01 nats
everywhere. A fit that raises counts as an infinite error and its message is recorded.
Where s < 1 and c != 0, float64 itself rounds the data (at s = 1e-6, c = 1e6, by about
1e-4 of its spread), so those cells also report the error against a rounding control: the
same estimator fitted on the rounded values mapped back to the original units.

Writes JSON (``benchmarks/results/bench_equivariance.json`` by default) and prints
the worst error per estimator and scale. Run: ``python benchmarks/bench_equivariance.py``
(``--estimators GJE GMJE`` for a subset; ``--update`` keeps the other estimators'
entries of the existing file, each of which records its machine and commit).
"""

import argparse
import json
import math
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import machine_info
from sklearn.base import clone

from skgmje import GJE, GMJE, GMJEGNG, GMJEMDN, SMCGMJE, BayesianGMJE, DualGJE
from skgmje.baselines import ResidualGaussianRegressor
from skgmje.datasets import make_intersecting_branches

SCALES = (1e-6, 1e-3, 1e3, 1e6)
OFFSETS = (0.0, 1e6)
TARGET = 0.01
ESTIMATORS = {
    "GJE": GJE(),
    "GMJE": GMJE(random_state=0),
    "BayesianGMJE": BayesianGMJE(random_state=0),
    "DualGJE": DualGJE(random_state=0),
    "GMJEGNG": GMJEGNG(random_state=0),
    "SMCGMJE": SMCGMJE(random_state=0),
    "GMJEMDN": GMJEMDN(random_state=0),
    "ResidualGaussianRegressor": ResidualGaussianRegressor(),
}
# (context columns, target columns): Dataset B as it is, and with an irrelevant second
# context column and a second, correlated target.
CONFIGURATIONS = ((1, 1), (2, 2))


def dataset(n_context, n_targets):
    X, y = make_intersecting_branches(n_samples=1600, random_state=0)
    if n_context == 2:
        X = np.column_stack([X, np.random.RandomState(2).normal(size=len(X))])
    if n_targets == 2:
        noise = np.random.RandomState(1).normal(scale=0.1, size=len(y))
        y = np.column_stack([y, X[:, 0] + 0.5 * y + noise])
    return X[:600], y[:600], X[600:], y[600:]


def held_out_score(estimator, X, y, X_test, y_test):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return clone(estimator).fit(X, y).score(X_test, y_test)


def change_units(data, column, scale, offset):
    """``data`` with one joint column (``("x", j)`` or ``("y", j)``), or all, in new units."""
    if column == "all":
        return [scale * array + offset for array in data]
    X, y, X_test, y_test = (np.array(array, dtype=float) for array in data)
    block, index = column
    arrays = (
        (X, X_test) if block == "x" else (y.reshape(len(y), -1), y_test.reshape(len(y_test), -1))
    )
    for array in arrays:
        array[:, index] = scale * array[:, index] + offset
    return [X, y, X_test, y_test]


def columns(n_context, n_targets):
    return ["all", *(("x", j) for j in range(n_context)), *(("y", j) for j in range(n_targets))]


def measure(name, estimator):
    rows = []
    for n_context, n_targets in CONFIGURATIONS:
        data = dataset(n_context, n_targets)
        reference = held_out_score(estimator, *data)
        for column in columns(n_context, n_targets):
            n_rescaled = n_targets if column == "all" else int(column[0] == "y")
            for scale in SCALES:
                for offset in OFFSETS:
                    expected = reference - n_rescaled * math.log(scale)
                    scaled = change_units(data, column, scale, offset)
                    control_error = None
                    try:
                        score = held_out_score(estimator, *scaled)
                        error, message = abs(score - expected), None
                        if not math.isfinite(error):
                            error = math.inf
                        if offset != 0.0 and scale < 1.0:
                            # float64 rounds s X + c to about 1e-16 c: fit those rounded values
                            # mapped back, to separate what rounding does from what units do.
                            rounded = change_units(scaled, column, 1.0 / scale, -offset / scale)
                            control = held_out_score(estimator, *rounded) - n_rescaled * math.log(
                                scale
                            )
                            control_error = abs(score - control)
                    except Exception as exception:  # a fit that fails is the worst error
                        score, error, message = (
                            None,
                            math.inf,
                            f"{type(exception).__name__}: {exception}",
                        )
                    rows.append(
                        {
                            "n_context": n_context,
                            "n_targets": n_targets,
                            "column": column if column == "all" else f"{column[0]}{column[1]}",
                            "scale": scale,
                            "offset": offset,
                            "score": score,
                            "expected": expected,
                            "error": error,
                            "error_against_rounding_control": control_error,
                            "message": message,
                        }
                    )
    worst = max(row["error"] for row in rows)
    return {"rows": rows, "worst_error": worst, "meets_target": worst <= TARGET}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--output", default="benchmarks/results/bench_equivariance.json")
    parser.add_argument("--estimators", nargs="*", default=list(ESTIMATORS))
    parser.add_argument(
        "--update",
        action="store_true",
        help="keep the other estimators' entries of an existing --output (each entry "
        "records the commit it was measured at)",
    )
    arguments = parser.parse_args()
    started = time.perf_counter()
    results = {
        "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "scales": SCALES,
        "offsets": OFFSETS,
        "configurations": [
            {"n_context": n_context, "n_targets": n_targets}
            for n_context, n_targets in CONFIGURATIONS
        ],
        "target_nats": TARGET,
        "estimators": {},
    }
    output = Path(arguments.output)
    if arguments.update and output.exists():
        results["estimators"] = json.loads(output.read_text())["estimators"]
    header = "".join(f"{f's={s:g}':>11}" for s in SCALES)
    print(
        f"{'estimator':<10}{header}   worst error over columns, c in {OFFSETS}, both configurations"
    )
    for name in arguments.estimators:
        entry = {**measure(name, ESTIMATORS[name]), "machine": machine_info()}
        results["estimators"][name] = entry
        by_scale = [
            max(row["error"] for row in entry["rows"] if row["scale"] == scale) for scale in SCALES
        ]
        print(f"{name:<10}" + "".join(f"{value:>11.2g}" for value in by_scale), flush=True)
    results["all_targets_met"] = all(
        entry["meets_target"] for entry in results["estimators"].values()
    )
    results["wall_seconds"] = time.perf_counter() - started
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(results, indent=2, default=str) + "\n")


if __name__ == "__main__":
    main()
