"""``python -m skgmje demo``: every estimator on the paper's Datasets A and B.

Fits each model on 2000 training points, reports the held-out conditional
negative log-likelihood (nats) on 5000 test points beside the oracle's, and
draws one panel per model: training points, the conditional density as a heat
map and the conditional mean (in the spirit of [GMJE]_ Figs. 4 and 6).
"""

import json
import time
from pathlib import Path

import numpy as np
from sklearn.base import clone
from sklearn.model_selection import GridSearchCV
from sklearn.neural_network import MLPRegressor

from . import __version__
from ._optional import require_torch
from .baselines import ResidualGaussianRegressor
from .bayesian_gmje import BayesianGMJE
from .datasets import BranchesOracle, make_intersecting_branches, make_separated_branches
from .dual_gje import DualGJE
from .gje import GJE
from .gmje import GMJE
from .gng import GMJEGNG
from .smc import SMCGMJE

DATASETS = {
    "A (separated)": ("separated", make_separated_branches),
    "B (intersecting)": ("intersecting", make_intersecting_branches),
}
N_TRAIN, N_TEST, SEED = 2000, 5000, 0
CANDIDATE_COMPONENTS = (1, 2, 3, 4, 6, 8, 12, 16, 20, 24, 32)


def _models(log=print):
    """(label, unfitted estimator) for every estimator; GMJEMDN only with the torch extra."""
    models = [
        (
            "MLP (MSE)",
            ResidualGaussianRegressor(
                MLPRegressor(hidden_layer_sizes=(64, 64), max_iter=1000, random_state=SEED)
            ),
        ),
        ("GJE", GJE()),
        ("DualGJE (RFF 256)", DualGJE(n_fourier_features=256, random_state=SEED)),
        ("GMJE (K auto)", GMJE(random_state=SEED)),
        ("GMJEGNG", GMJEGNG(random_state=SEED)),
        ("SMCGMJE", SMCGMJE(random_state=SEED)),
        ("BayesianGMJE", BayesianGMJE(random_state=SEED)),
        (
            "GMJE K by CV",
            GridSearchCV(
                GMJE(random_state=SEED), {"n_components": list(CANDIDATE_COMPONENTS)}, cv=3
            ),
        ),
    ]
    try:
        require_torch("The demo's GMJEMDN row")
    except ImportError as error:
        log(f"Skipping GMJEMDN. {error}")
        return models
    from .mdn import GMJEMDN

    models.insert(6, ("GMJEMDN", GMJEMDN(random_state=SEED)))
    return models


def _split(make):
    X, y = make(N_TRAIN + N_TEST, random_state=SEED)
    return X[:N_TRAIN], y[:N_TRAIN], X[N_TRAIN:], y[N_TRAIN:]


def run(output_dir=None, log=print):
    """Fit every model on both datasets; return the results table as a dict.

    Parameters
    ----------
    output_dir : str or Path, optional
        Where ``demo.json`` and ``demo.png`` are written; nothing is written when None.
    log : callable, default=print
        Receives one progress line per fitted model.
    """
    results = {"skgmje_version": __version__, "n_train": N_TRAIN, "n_test": N_TEST, "seed": SEED}
    fitted = {}
    models = _models(log)
    for title, (name, make) in DATASETS.items():
        X, y, X_test, y_test = _split(make)
        oracle = BranchesOracle(name)
        rows = {"oracle": {"nll": -oracle.score(X_test, y_test), "seconds": 0.0}}
        fitted[title] = {"data": (X, y), "models": {"oracle": oracle}}
        for label, model in models:
            model = clone(model)
            start = time.perf_counter()
            model.fit(X, y)
            seconds = time.perf_counter() - start
            row = {"nll": -model.score(X_test, y_test), "seconds": seconds}
            if isinstance(model, GridSearchCV):
                row["n_components"] = model.best_params_["n_components"]
                row["cv_nll"] = dict(
                    zip(CANDIDATE_COMPONENTS, (-model.cv_results_["mean_test_score"]).tolist())
                )
                label = f"GMJE K={row['n_components']} (CV)"
                model = model.best_estimator_
            row["gap_to_oracle"] = row["nll"] - rows["oracle"]["nll"]
            rows[label] = row
            fitted[title]["models"][label] = model
            log(f"  {title:<17} {label:<18} NLL {row['nll']:7.3f}   ({seconds:5.1f} s)")
        results[title] = rows
    results["whole_distribution"] = _interval_against_hdr(
        fitted["B (intersecting)"]["models"]["GMJE (K auto)"], log
    )
    if output_dir is not None:
        output_dir = Path(output_dir)
        output_dir.mkdir(parents=True, exist_ok=True)
        (output_dir / "demo.json").write_text(json.dumps(results, indent=2) + "\n")
        figure_path = output_dir / "demo.png"
        if _draw(fitted, figure_path):
            results["figure"] = str(figure_path)
    return results


def _interval_against_hdr(model, log, x=0.5, coverage=0.9):
    """The central interval and the highest-density region of ``p(y | x)`` where three
    branches meet: the region keeps them apart, and is shorter."""
    interval = model.predict_interval([[x]], coverage)[0]
    region = model.predict_hdr([[x]], coverage)
    summary = {
        "model": "GMJE (K auto)",
        "x": x,
        "coverage": coverage,
        "interval_length": float(interval[1] - interval[0]),
        "hdr_length": float(region.length()[0]),
        "hdr_intervals": int(region.n_intervals[0]),
    }
    log(
        f"  B at x = {x}: the central {coverage:.0%} interval of GMJE is "
        f"{summary['interval_length']:.2f} long; its {coverage:.0%} highest-density region "
        f"is {summary['hdr_intervals']} intervals, {summary['hdr_length']:.2f} long in all."
    )
    return summary


def format_table(results):
    """The held-out NLL table as text."""
    titles = [title for title in DATASETS if title in results]
    labels = list(results[titles[0]])
    lines = ["Held-out conditional NLL, nats (lower is better; oracle = best possible)"]
    lines.append(f"{'model':<20}" + "".join(f"{title:>20}" for title in titles))
    for label in labels:
        cells = []
        for title in titles:
            match = next(
                (row for key, row in results[title].items() if _same_model(key, label)), None
            )
            cells.append(f"{match['nll']:>20.3f}" if match else f"{'-':>20}")
        lines.append(f"{_generic(label):<20}" + "".join(cells))
    return "\n".join(lines)


def _generic(label):
    return "GMJE K by CV" if label.endswith("(CV)") else label


def _same_model(key, label):
    return _generic(key) == _generic(label)


def _draw(fitted, path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no figure (pip install 'skgmje[examples]').")
        return False
    titles = list(fitted)
    labels = list(fitted[titles[0]]["models"])
    n_columns = min(len(labels), 5)
    rows_per_dataset = -(-len(labels) // n_columns)
    figure, axes = plt.subplots(
        len(titles) * rows_per_dataset,
        n_columns,
        figsize=(3.2 * n_columns, 2.8 * len(titles) * rows_per_dataset),
        sharex=True,
        squeeze=False,
    )
    for dataset_index in range(len(titles)):
        for slot in range(len(labels), rows_per_dataset * n_columns):
            axes[
                dataset_index * rows_per_dataset + slot // n_columns, slot % n_columns
            ].set_visible(False)
    x_grid = np.linspace(-1.0, 1.0, 200)[:, None]
    for dataset_index, title in enumerate(titles):
        X, y = fitted[title]["data"]
        y_grid = np.linspace(y.min() - 0.3, y.max() + 0.3, 200)
        for index, (label, model) in enumerate(fitted[title]["models"].items()):
            row = dataset_index * rows_per_dataset + index // n_columns
            axis = axes[row, index % n_columns]
            distribution = model.predict_distribution(x_grid)
            density = distribution.pdf(np.repeat(y_grid[:, None], len(x_grid), axis=1))
            axis.pcolormesh(x_grid[:, 0], y_grid, np.sqrt(density), cmap="magma", shading="auto")
            axis.scatter(X[:400, 0], y[:400], s=2, c="white", alpha=0.4, linewidths=0)
            axis.plot(x_grid[:, 0], distribution.mean()[:, 0], c="cyan", lw=1.2)
            axis.set_title(f"{title.split()[0]}: {label}", fontsize=9)
            axis.set_xlim(-1, 1)
            axis.set_ylim(y_grid[0], y_grid[-1])
            if index % n_columns == 0:
                axis.set_ylabel("target y")
    figure.supxlabel("context x")
    figure.suptitle("heat: sqrt p(y|x);  cyan: E[y|x];  white: training points", fontsize=10)
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return True
