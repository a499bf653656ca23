"""The whole distribution: the cost of quantiles and highest-density regions, and how much
shorter a region is than the central interval of the same mass.

Issue 26's speed target: ``predict_quantiles`` and ``predict_hdr`` for 1e5 rows of a
GMJE with K = 16 within 20 times the time of ``predict`` on the same rows, measured in
one run as ratios (best of three timings each). Beside it, on the paper's Dataset B
(three branches that cross), the mean length of the 90% central interval and of the
90% highest-density region of every estimator, with their held-out coverage.

Run ``python benchmarks/bench_distribution.py`` (about 3 minutes on 2 cores); results go
to ``benchmarks/results/bench_distribution.json`` (``--output`` to change).
"""

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
from _common import command_line, machine_info, progress

from skgmje import GJE, GMJE, GMJEGNG, GMJEMDN, SMCGMJE, BayesianGMJE, DualGJE
from skgmje.datasets import make_intersecting_branches
from skgmje.metrics import hdr_coverage, hdr_size, interval_coverage, interval_width

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_distribution.json"
N_ROWS, N_COMPONENTS, TARGET_RATIO = 100_000, 16, 20.0


def _best_of(function, repeats=3):
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def speed():
    X, y = make_intersecting_branches(n_samples=4000, random_state=0)
    model = GMJE(n_components=N_COMPONENTS, random_state=0).fit(X, y)
    rows = np.random.RandomState(1).uniform(-1, 1, size=(N_ROWS, 1))
    seconds = {
        "predict": _best_of(lambda: model.predict(rows)),
        "predict_quantiles": _best_of(lambda: model.predict_quantiles(rows, [0.05, 0.5, 0.95])),
        "predict_hdr": _best_of(lambda: model.predict_hdr(rows, 0.9), repeats=1),
    }
    ratios = {name: seconds[name] / seconds["predict"] for name in seconds if name != "predict"}
    return {
        "n_rows": N_ROWS,
        "n_components": N_COMPONENTS,
        "seconds": seconds,
        "ratio_to_predict": ratios,
        "target_ratio": TARGET_RATIO,
        "meets_target": {name: bool(ratio <= TARGET_RATIO) for name, ratio in ratios.items()},
    }


def lengths():
    X, y = make_intersecting_branches(n_samples=4000, random_state=0)
    X_test, y_test = make_intersecting_branches(n_samples=2000, random_state=1)
    models = {
        "GJE": GJE(),
        "DualGJE (RFF 256)": DualGJE(n_fourier_features=256, random_state=0),
        "GMJE": GMJE(random_state=0),
        "BayesianGMJE": BayesianGMJE(random_state=0),
        "GMJEGNG": GMJEGNG(random_state=0),
        "SMCGMJE": SMCGMJE(random_state=0),
        "GMJEMDN": GMJEMDN(random_state=0),
    }
    rows = {}
    for label, model in models.items():
        progress(f"{label}: fitting on Dataset B")
        model.fit(X, y)
        bounds, region = model.predict_interval(X_test, 0.9), model.predict_hdr(X_test, 0.9)
        rows[label] = {
            "interval_width": interval_width(bounds),
            "interval_coverage": interval_coverage(y_test, bounds),
            "hdr_length": hdr_size(region),
            "hdr_coverage": hdr_coverage(y_test, region),
            "hdr_over_interval": hdr_size(region) / interval_width(bounds),
            "mean_hdr_intervals": float(region.n_intervals.mean()),
        }
    return {"data": "Dataset B, 4000 training and 2000 test rows", "coverage": 0.9, "rows": rows}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    arguments = parser.parse_args(argv)
    start = time.perf_counter()
    progress("timing predict, predict_quantiles and predict_hdr")
    payload = {
        "benchmark": "bench_distribution",
        "command": command_line(),
        "date": datetime.now(timezone.utc).isoformat(),
        "machine": machine_info(),
        "speed": speed(),
        "lengths": lengths(),
    }
    payload["wall_seconds"] = time.perf_counter() - start
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(payload["speed"], indent=2))
    for label, row in payload["lengths"]["rows"].items():
        print(
            f"{label:<18} interval {row['interval_width']:.3f} ({row['interval_coverage']:.3f}) "
            f"HDR {row['hdr_length']:.3f} ({row['hdr_coverage']:.3f})"
        )
    print(f"wall time {payload['wall_seconds']:.0f} s; wrote {arguments.output}")


if __name__ == "__main__":
    main()
