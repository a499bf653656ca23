"""The figures of the Benchmarks page, drawn from ``benchmarks/results/*.json`` at build time.

No benchmark runs: each figure only reads the numbers its script stored. Timing benchmarks
show the speed-up of skgmje over its peer (bench_gmje, bench_gng, bench_dual_gje,
bench_scale), density benchmarks the held-out NLL against the oracle's (bench_nll,
bench_suite, bench_smc, bench_mdn) or against scikit-learn's GP on real data (bench_real),
bench_ssl the linear-probe accuracy of every objective, and bench_equivariance the score
error across units. ``benchmark_tables`` calls :func:`draw_figures` at ``builder-inited``
and puts each figure under its benchmark's title.

A missing result file has no figure; a file whose layout a drawing function does not know
(the script changed) is skipped with a message, so neither stops the build. The figures are
drawn with matplotlib's Agg canvas (no pyplot, no display) and rewritten only when their
bytes change, so an unchanged result set does not make Sphinx copy them again.

Draw them by hand (into ``docs/_generated/benchmark_figures`` by default)::

    python docs/_ext/benchmark_figures.py [OUTPUT_FOLDER]
"""

import io
import json
import sys
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm, TwoSlopeNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

ROOT = Path(__file__).resolve().parents[2]
FIGURES = Path("_generated") / "benchmark_figures"  # under the documentation source folder

WIDTH = 8.0  # inches; the page's content column at dpi 110
DPI = 110
GOOD, BAD, NEUTRAL, ORACLE = "#2a7f62", "#c0392b", "#4c72b0", "#555555"
PALETTE = ("#4c72b0", "#dd8452", "#55a868", "#c44e52", "#8172b3", "#937860", "#da8bc3")


def _figure(n_panels=1, height=3.2, width=WIDTH):
    figure = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = figure.subplots(1, n_panels, squeeze=False)[0]
    for ax in axes:
        ax.grid(True, which="major", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
    return figure, axes


def _speedup(ratio, comparison, target):
    """(speed-up of skgmje, its target) from a stored ratio.

    A ratio with target ``<=`` is skgmje's time over the peer's (lower is better), one with
    ``>=`` is skgmje's throughput over the peer's or the peer's time over skgmje's.
    """
    if comparison == "<=":
        return 1.0 / ratio, (1.0 / target if target else None)
    return ratio, target


def _speedup_bars(ax, labels, speedups, targets, met, peer):
    positions = range(len(labels))[::-1]
    colours = [GOOD if ok else BAD if ok is False else NEUTRAL for ok in met]
    ax.barh(list(positions), speedups, color=colours, height=0.6)
    ax.set_xscale("log")
    ax.axvline(1.0, color=ORACLE, linewidth=1)
    for y, value, target in zip(positions, speedups, targets):
        ax.annotate(
            f"{value:.3g}×",
            (value, y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
        if target:
            ax.plot([target, target], [y - 0.38, y + 0.38], color="black", linewidth=1.5)
    ax.set_yticks(list(positions), labels, fontsize=8)
    low = min([*speedups, *(t for t in targets if t), 1.0])
    high = max([*speedups, *(t for t in targets if t), 1.0])
    ax.set_xlim(low / 1.6, high * 3)
    ax.set_xlabel(f"speed-up over {peer} (×, log scale)")
    handles = [
        Patch(color=GOOD, label="target met"),
        Patch(color=BAD, label="target not met"),
        Line2D([], [], color="black", linewidth=1.5, label="target"),
        Line2D([], [], color=ORACLE, linewidth=1, label="as fast as the peer"),
    ]
    ax.legend(handles=handles, fontsize=7, frameon=False, loc="lower right")


# -- timing benchmarks: speed-up over the peer --------------------------------------------


def _measurements(report, peer):
    figure, (ax,) = _figure(height=0.55 * len(report["measurements"]) + 1.2)
    labels, speedups, targets, met = [], [], [], []
    for entry in report["measurements"]:
        value, target = _speedup(
            entry["ratio"], entry.get("target_comparison"), entry.get("target")
        )
        labels.append(entry["name"].replace("_", " "))
        speedups.append(value)
        targets.append(target)
        met.append(entry.get("meets_target"))
    _speedup_bars(ax, labels, speedups, targets, met, peer)
    return figure


def figure_bench_gmje(report):
    figure = _measurements(report, "the peer (EM: scikit-learn; conditioning: gmr)")
    figure.suptitle("GMJE: speed-up over scikit-learn's GaussianMixture and gmr", fontsize=10)
    return figure


def figure_bench_bayesian(report):
    figure = _measurements(report, "scikit-learn's BayesianGaussianMixture")
    figure.suptitle("BayesianGMJE: speed-up per variational iteration", fontsize=10)
    return figure


def figure_bench_gng(report):
    figure = _measurements(report, "neupy's GrowingNeuralGas")
    figure.suptitle("GMJEGNG: training throughput over neupy", fontsize=10)
    return figure


def figure_bench_dual_gje(report):
    figure, (ax,) = _figure()
    sizes = sorted(report["sizes"], key=int)
    n = [int(size) for size in sizes]
    rff = [report["sizes"][size]["rff_speedup"] for size in sizes]
    ax.plot(n, rff, "o-", color=PALETTE[0], label="DualGJE, random Fourier features")
    exact = [
        (int(size), 1.0 / report["sizes"][size]["exact_time_ratio"])
        for size in sizes
        if report["sizes"][size].get("exact_time_ratio")
    ]
    if exact:
        ax.plot(*zip(*exact), "s-", color=PALETTE[1], label="DualGJE, exact")
    for x, value in zip(n, rff):
        ax.annotate(
            f"{value:.3g}×", (x, value), xytext=(5, -2), textcoords="offset points", fontsize=8
        )
    target = report.get("target") or {}
    goal = _number_in(target.get("speedup_target"))
    if goal:
        ax.axhline(
            goal,
            color="black",
            linestyle="--",
            linewidth=1,
            label=f"target at N = {target.get('n_train')}: {goal:g}×",
        )
    ax.axhline(1.0, color=ORACLE, linewidth=1)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xticks(n, [f"{value:,}" for value in n])
    ax.set_xticks([], minor=True)
    ax.set_xlabel("training rows N (Dataset B)")
    ax.set_ylabel("speed-up over\nGaussianProcessRegressor (×)")
    ax.legend(fontsize=8, frameon=False)
    figure.suptitle("DualGJE: fit + predict speed-up over scikit-learn's GP", fontsize=10)
    return figure


def figure_bench_scale(report):
    figure, (left, right) = _figure(2)
    rows = sorted(report["scaling"], key=int)
    n = [int(row) for row in rows]
    gib = 2.0**30
    for index, (engine, label) in enumerate(
        (("gmje", "GMJE in memory"), ("dask", "GMJE on a dask LocalCluster"))
    ):
        speedups = [
            report["scaling"][row]["sklearn"]["seconds_per_iteration"]
            / report["scaling"][row][engine]["seconds_per_iteration"]
            for row in rows
        ]
        left.plot(n, speedups, "o-", color=PALETTE[index], label=label)
    left.axhline(1.0, color=ORACLE, linewidth=1)
    left.set_xscale("log")
    left.set_ylim(bottom=0)
    left.set_xlabel("rows (D = 16, K = 16)")
    left.set_ylabel("speed-up per EM iteration\nover scikit-learn (×)")
    left.legend(fontsize=8, frameon=False)
    memory = {
        "GMJE in memory": [report["scaling"][row]["gmje"]["peak_rss_bytes"] / gib for row in rows],
        "dask: client": [
            report["scaling"][row]["dask"]["client_peak_rss_bytes"] / gib for row in rows
        ],
        "dask: largest worker": [
            max(report["scaling"][row]["dask"]["worker_peak_rss_bytes"]) / gib for row in rows
        ],
        "scikit-learn": [report["scaling"][row]["sklearn"]["peak_rss_bytes"] / gib for row in rows],
    }
    for index, (label, values) in enumerate(memory.items()):
        right.plot(n, values, "o-", color=PALETTE[index], label=label)
    right.set_xscale("log")
    right.set_yscale("log")
    right.set_xlabel("rows")
    right.set_ylabel("peak resident memory (GiB)")
    right.legend(fontsize=8, frameon=False)
    figure.suptitle("GMJE scaled out: speed-up over scikit-learn and peak memory", fontsize=10)
    return figure


# -- density benchmarks: held-out NLL against the oracle ----------------------------------


def _oracle_line(ax, value):
    ax.axhline(value, color=ORACLE, linestyle="--", linewidth=1.2, label="oracle")


def figure_bench_nll(report):
    datasets = report["datasets"]
    figure, axes = _figure(len(datasets))
    for ax, (name, entry) in zip(axes, datasets.items()):
        ks = list(entry["fixed_K"])
        labels = [f"K = {k}" for k in ks]
        skgmje = [entry["fixed_K"][k]["skgmje_nll"] for k in ks]
        sklearn = [entry["fixed_K"][k]["sklearn_nll"] for k in ks]
        selected = entry.get("cv_selected")
        if selected:
            labels.append(f"CV: K = {selected['n_components']}")
            skgmje.append(selected["nll"])
            sklearn.append(None)
        positions = range(len(labels))
        ax.bar(positions, skgmje, color=PALETTE[0], width=0.6, label="skgmje GMJE")
        ax.plot(
            [p for p, v in zip(positions, sklearn) if v is not None],
            [v for v in sklearn if v is not None],
            "x",
            color="black",
            markersize=8,
            label="scikit-learn + conditioning",
        )
        _oracle_line(ax, entry["oracle_nll"])
        ax.set_xticks(list(positions), labels, fontsize=8)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("held-out NLL (nats)")
    axes[0].legend(fontsize=8, frameon=False)
    figure.suptitle("GMJE: held-out NLL against scikit-learn and the oracle", fontsize=10)
    return figure


def figure_bench_suite(report):
    problems = report["problems"]
    models = []
    for entry in problems.values():
        models += [name for name in entry["models"] if name not in models]
    gaps = np.array(
        [
            [entry["models"].get(model, {}).get("gap_to_oracle", np.nan) for model in models]
            for entry in problems.values()
        ],
        dtype=float,
    )
    figure, (ax,) = _figure(height=0.42 * len(problems) + 1.6)
    shown = np.clip(gaps, 1e-2, None)
    image = ax.imshow(
        shown,
        cmap="RdYlGn_r",
        norm=LogNorm(vmin=1e-2, vmax=max(np.nanmax(shown), 1)),
        aspect="auto",
    )
    ax.grid(False)
    for (row, column), gap in np.ndenumerate(gaps):
        if not np.isnan(gap):
            ax.text(column, row, f"{gap:.2f}", ha="center", va="center", fontsize=8)
    ax.set_xticks(range(len(models)), models, fontsize=8, rotation=20, ha="right")
    ax.set_yticks(range(len(problems)), list(problems), fontsize=8)
    colourbar = figure.colorbar(image, ax=ax, pad=0.01)
    colourbar.set_label("NLL minus the oracle's (nats, log colour)", fontsize=8)
    figure.suptitle("Every estimator at its defaults: held-out NLL above the oracle's", fontsize=10)
    return figure


def figure_bench_real(report):
    datasets = report["datasets"]
    models = []
    for entry in datasets.values():
        models += [name for name in entry["estimators"] if name not in models and name != "GP"]

    def gap(entry, model):
        gp = entry["estimators"].get("GP", {}).get("summary", {}).get("nll_mean")
        nll = entry["estimators"].get(model, {}).get("summary", {}).get("nll_mean")
        return np.nan if gp is None or nll is None else nll - gp

    gaps = np.array(
        [[gap(entry, model) for model in models] for entry in datasets.values()], dtype=float
    )
    figure, (ax,) = _figure(height=0.42 * len(datasets) + 1.8)
    # Beyond one nat either way the colour saturates; the printed number carries the size.
    image = ax.imshow(
        np.clip(gaps, -1.0, 1.0),
        cmap="RdYlGn_r",
        norm=TwoSlopeNorm(vcenter=0.0, vmin=-1.0, vmax=1.0),
        aspect="auto",
    )
    ax.grid(False)
    for (row, column), value in np.ndenumerate(gaps):
        text = "—" if np.isnan(value) else f"{value:+.2f}" if abs(value) < 10 else f"{value:+.0f}"
        # White on the saturated ends of the colour map, black elsewhere.
        colour = "white" if abs(value) > 0.7 else "black"
        ax.text(column, row, text, ha="center", va="center", fontsize=7, color=colour)
    ax.set_xticks(range(len(models)), models, fontsize=8, rotation=25, ha="right")
    ax.set_yticks(range(len(datasets)), list(datasets), fontsize=8)
    colourbar = figure.colorbar(image, ax=ax, pad=0.01)
    colourbar.set_label("NLL minus the GP's (nats)", fontsize=8)
    figure.suptitle(
        "Real data: held-out NLL against scikit-learn's GP (green: better than the GP)",
        fontsize=10,
    )
    return figure


SMC_VARIANTS = {
    "fifo": "FIFO queue",
    "smc_systematic": "SMC, systematic",
    "smc_multinomial": "SMC, multinomial",
    "smc_systematic_responsibility": "SMC, responsibility weights",
}


def figure_bench_smc(report):
    by_batch = report["nll"]
    batches = sorted(by_batch, key=int)
    datasets = list(by_batch[batches[0]])
    figure, axes = _figure(len(datasets))
    for ax, dataset in zip(axes, datasets):
        for index, (key, label) in enumerate(SMC_VARIANTS.items()):
            points = [
                (int(batch), by_batch[batch][dataset][key])
                for batch in batches
                if key in by_batch[batch].get(dataset, {})
            ]
            if not points:
                continue
            offset = 1.0 + 0.04 * (index - 1.5)  # side by side on the log axis
            ax.errorbar(
                [x * offset for x, _ in points],
                [p["mean_nll"] for _, p in points],
                yerr=[p.get("std_nll", 0.0) for _, p in points],
                fmt="o-",
                color=PALETTE[index],
                markersize=4,
                capsize=2,
                label=label,
            )
        _oracle_line(ax, by_batch[batches[0]][dataset]["oracle_nll"])
        ax.set_xscale("log", base=2)
        ax.set_xticks([int(batch) for batch in batches], batches)
        ax.set_xlabel("batch size")
        ax.set_title(dataset, fontsize=9)
    axes[0].set_ylabel("held-out NLL (nats)\nmean ± std over seeds")
    axes[-1].legend(fontsize=7, frameon=False)
    figure.suptitle("SMCGMJE: held-out NLL of the banks against the oracle", fontsize=10)
    return figure


def figure_bench_mdn(report):
    results = report["results"]
    figure, axes = _figure(len(results))
    for ax, (dataset, entry) in zip(axes, results.items()):
        mdn = entry["gmjemdn"]
        labels = ["GMJE, K = 3", "GMJEMDN (defaults)"]
        values = [entry["gmje_k3"]["nll"], mdn["mean_nll"]]
        ax.bar(range(2), values, color=[PALETTE[1], PALETTE[0]], width=0.6)
        runs = [run["nll"] for run in mdn.get("runs", [])]
        ax.plot([1] * len(runs), runs, "o", color="black", markersize=3, label="each seed")
        _oracle_line(ax, entry["oracle_nll"])
        gap = (report.get("config", {}).get("targets") or {}).get("nll_gap_nats")
        if gap:
            ax.axhspan(
                entry["oracle_nll"],
                entry["oracle_nll"] + gap,
                color=GOOD,
                alpha=0.15,
                label=f"target: within {gap:g} of the oracle",
            )
        for x, value in enumerate(values):
            ax.annotate(
                f"{value:.3f}",
                (x, value),
                xytext=(0, 3),
                textcoords="offset points",
                ha="center",
                fontsize=8,
            )
        ax.set_xticks(range(2), labels, fontsize=8)
        ax.set_title(dataset, fontsize=9)
    axes[0].set_ylabel("held-out NLL (nats)")
    axes[-1].legend(fontsize=7, frameon=False, loc="upper right")
    figure.suptitle("GMJEMDN: held-out NLL against the oracle", fontsize=10)
    return figure


# -- bench_ssl: linear-probe accuracy per objective -----------------------------------------


def figure_bench_ssl(report):
    defaults = (report.get("defaults") or {}).get("datasets")
    if defaults:
        panels = defaults
        title = (
            "JointEmbedding, every objective at its defaults: linear-probe accuracy "
            "(mean over seeds, bar: worst seed)"
        )
    else:
        panels = report["results"]
        title = "JointEmbedding: linear-probe accuracy of the 32-d features"
    figure, axes = _figure(len(panels), height=3.9)
    for ax, (dataset, rows) in zip(axes, panels.items()):
        objectives = [
            label
            for label, row in rows.items()
            if "linear_probe_mean" in row or "fit_seconds" in row
        ]
        means = [
            100 * rows[label].get("linear_probe_mean", rows[label].get("linear_probe"))
            for label in objectives
        ]
        worst = [
            100 * rows[label].get("linear_probe_min", rows[label].get("linear_probe"))
            for label in objectives
        ]
        positions = list(range(len(objectives)))[::-1]
        colours = [
            PALETTE[0] if "gmje" in label or label in ("gje", "dual-gje", "hsic") else PALETTE[1]
            for label in objectives
        ]
        ax.barh(
            positions,
            means,
            color=colours,
            height=0.6,
            xerr=[[m - w for m, w in zip(means, worst)], [0] * len(means)],
            error_kw={"elinewidth": 1, "capsize": 2},
        )
        for y, value in zip(positions, means):
            ax.annotate(
                f"{value:.1f}",
                (value, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=7,
            )
        ax.set_yticks(positions, objectives, fontsize=8)
        for label, style in (("raw features", "--"), ("raw pixels", "--"), ("PCA-32", ":")):
            if label in rows and "linear_probe" in rows[label]:
                ax.axvline(
                    100 * rows[label]["linear_probe"],
                    color=ORACLE,
                    linestyle=style,
                    linewidth=1.2,
                    label=label,
                )
        ax.set_xlim(0, 100)
        ax.set_xlabel("linear-probe test accuracy (%)")
        ax.set_title(dataset, fontsize=9)
    handles, _ = axes[0].get_legend_handles_labels()
    handles += [
        Patch(color=PALETTE[0], label="GJE / GMJE objectives"),
        Patch(color=PALETTE[1], label="contrastive baselines"),
    ]
    figure.legend(
        handles=handles, fontsize=8, frameon=False, loc="outside lower center", ncol=len(handles)
    )
    figure.suptitle(title, fontsize=10)
    return figure


# -- bench_equivariance: the score error across units -----------------------------------------


def figure_bench_equivariance(report):
    scales = report["scales"]
    figure, (ax,) = _figure()
    floor = 1e-16
    for index, (name, entry) in enumerate(report["estimators"].items()):
        worst = [
            max(row["error"] for row in entry["rows"] if row["scale"] == scale) for scale in scales
        ]
        ax.plot(
            scales,
            [max(value, floor) for value in worst],
            "o-",
            color=PALETTE[index % len(PALETTE)],
            markersize=4,
            label=name,
        )
    ax.axhline(
        report["target_nats"],
        color="black",
        linestyle="--",
        linewidth=1,
        label=f"target: {report['target_nats']:g} nats",
    )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("scale s of X and y")
    ax.set_ylabel("worst score error (nats)")
    ax.legend(fontsize=7, frameon=False, ncol=2)
    figure.suptitle("Units do not matter: score error under X, y → sX + c, sy + c", fontsize=10)
    return figure


# -- bench_size: bytes on disk per model ---------------------------------------------------------


def figure_bench_size(report):
    sizes = list(report["sizes"])
    names = list(report["sizes"][sizes[0]])
    figure, (ax,) = _figure(height=0.28 * len(names) + 1.2)
    positions = range(len(names))
    height = 0.8 / len(sizes)
    for index, size in enumerate(sizes):
        ax.barh(
            [position + index * height for position in positions],
            [report["sizes"][size][name]["pickle_bytes"] for name in names],
            height=height,
            color=PALETTE[index % len(PALETTE)],
            label=f"n = {int(size):,}",
        )
    ax.set_yticks([position + 0.4 - height / 2 for position in positions], names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("pickled size (bytes)")
    ax.legend(fontsize=8, frameon=False)
    figure.suptitle("What a fitted model keeps: pickled size per model", fontsize=10)
    return figure


def figure_bench_distribution(report):
    rows = report["lengths"]["rows"]
    names = list(rows)
    figure, (ax,) = _figure(height=0.32 * len(names) + 1.2)
    positions = range(len(names))
    for index, (key, label) in enumerate(
        (("interval_width", "central 90% interval"), ("hdr_length", "90% highest-density region"))
    ):
        ax.barh(
            [position + index * 0.4 for position in positions],
            [rows[name][key] for name in names],
            height=0.4,
            color=PALETTE[index % len(PALETTE)],
            label=label,
        )
    ax.set_yticks([position + 0.2 for position in positions], names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("mean length on Dataset B's test rows")
    ax.legend(fontsize=8, frameon=False)
    figure.suptitle("Where the answer is multi-valued, the region is shorter", fontsize=10)
    return figure


def figure_bench_conformal(report):
    figure, (ax,) = _figure(height=3.2)
    columns = [(m, a) for m in ("hdr", "cdf", "mapie") for a in (0.1, 0.2)]
    cells = [
        [row[f"{m}_alpha_{a}"] for m, a in columns]
        for estimators in report["results"].values()
        for row in estimators.values()
        if "error" not in row
    ]
    for column, (_, alpha) in enumerate(columns):
        means = np.array([row[column]["mean_coverage"] for row in cells]) - (1 - alpha)
        errors = 3 * np.array([row[column]["standard_error"] for row in cells])
        ax.errorbar(
            np.full(len(means), column) + np.linspace(-0.3, 0.3, len(means)),
            means,
            yerr=errors,
            fmt="o",
            markersize=2,
            elinewidth=0.5,
            color=PALETTE[column // 2 % len(PALETTE)],
        )
    ax.axhspan(0.0, 0.02, color="0.9", zorder=0)
    labels = [f"{m.upper() if m != 'mapie' else 'MAPIE'}, {1 - a:.1f}" for m, a in columns]
    ax.set_xticks(range(len(columns)), labels, fontsize=8)
    ax.set_ylabel("mean coverage - nominal")
    figure.suptitle(
        "Conformal coverage over 200 splits, with 3 standard errors (target band shaded)",
        fontsize=10,
    )
    return figure


def figure_bench_missing(report):
    results = report["results"]
    figure, (left, right) = _figure(n_panels=2, height=3.2)
    imputers = ("GaussianMixtureImputer", "IterativeImputer", "KNNImputer")
    sets = list(results.get("imputation", {}).get("sets", {}))
    for index, name in enumerate(imputers):
        values = [results["imputation"]["sets"][key]["0.3"]["rmse"][name] for key in sets]
        left.bar(
            np.arange(len(sets)) + (index - 1) * 0.27,
            values,
            width=0.27,
            color=PALETTE[index],
            label=name,
        )
    left.set_xticks(range(len(sets)), sets, fontsize=8)
    left.set_ylabel("RMSE, 30% removed (std)")
    left.legend(fontsize=7)
    real = results.get("prediction", {}).get("real", {})
    methods = ("GMJE with the holes", "IterativeImputer, then GMJE")
    for index, name in enumerate(methods):
        right.bar(
            np.arange(len(real)) + (index - 0.5) * 0.4,
            [row["nll"][name] - row["nll"][methods[1]] for row in real.values()],
            width=0.4,
            color=PALETTE[index],
            label=name,
        )
    right.axhline(0.0, color="0.5", linewidth=0.8)
    right.set_xticks(range(len(real)), list(real), fontsize=8)
    right.set_ylabel("held-out NLL - imputed's (nats)")
    right.legend(fontsize=7)
    figure.suptitle(
        "Missing values: imputation and prediction from incomplete contexts", fontsize=10
    )
    return figure


def figure_bench_sbi(report):
    table = report["results"]["c2st"]
    methods = report["config"]["methods"]
    budgets = [str(budget) for budget in report["config"]["budgets"]]
    figure, axes = _figure(n_panels=len(budgets), height=3.2)
    axes = np.atleast_1d(axes)
    tasks = list(table)
    width = 0.8 / max(1, len(methods))
    for ax, budget in zip(axes, budgets):
        for index, method in enumerate(methods):
            values = [
                table[task].get(budget, {}).get(method, {}).get("c2st", np.nan) for task in tasks
            ]
            ax.bar(
                np.arange(len(tasks)) + (index - (len(methods) - 1) / 2) * width,
                values,
                width=width,
                color=PALETTE[index % len(PALETTE)],
                label=method,
            )
        ax.axhline(0.5, color="0.5", linewidth=0.8)
        ax.set_ylim(0.45, 1.0)
        ax.set_xticks(range(len(tasks)), tasks, fontsize=8)
        ax.set_title(f"{int(budget):,} simulations", fontsize=9)
    axes[0].set_ylabel("C2ST (0.5 = exact posterior)")
    axes[-1].legend(fontsize=7)
    figure.suptitle("Posteriors from simulations: skgmje against sbi's NPE", fontsize=10)
    return figure


def _number_in(text):
    """The first number in a target such as ``'>= 20.0'``, or None."""
    for word in str(text or "").split():
        try:
            return float(word)
        except ValueError:
            continue
    return None


DRAWINGS = {
    "bench_nll": figure_bench_nll,
    "bench_suite": figure_bench_suite,
    "bench_real": figure_bench_real,
    "bench_gmje": figure_bench_gmje,
    "bench_bayesian": figure_bench_bayesian,
    "bench_dual_gje": figure_bench_dual_gje,
    "bench_gng": figure_bench_gng,
    "bench_smc": figure_bench_smc,
    "bench_mdn": figure_bench_mdn,
    "bench_ssl": figure_bench_ssl,
    "bench_scale": figure_bench_scale,
    "bench_equivariance": figure_bench_equivariance,
    "bench_size": figure_bench_size,
    "bench_distribution": figure_bench_distribution,
    "bench_conformal": figure_bench_conformal,
    "bench_missing": figure_bench_missing,
    "bench_sbi": figure_bench_sbi,
    "bench_sbi_1e5": figure_bench_sbi,
}

ALT_TEXT = {
    "bench_nll": "Bar chart: held-out NLL of GMJE per number of components, against the oracle",
    "bench_suite": "Heat map: NLL above the oracle's for every estimator on every problem",
    "bench_real": "Heat map: NLL minus the GP's for every estimator on every real data set",
    "bench_gmje": "Bar chart: GMJE's speed-up over scikit-learn and gmr per measurement",
    "bench_bayesian": "Bar chart: BayesianGMJE's speed-up per iteration over scikit-learn",
    "bench_dual_gje": "Line chart: DualGJE's speed-up over the GP against the number of rows",
    "bench_gng": "Bar chart: GMJEGNG's training speed-up over neupy",
    "bench_smc": "Line charts: held-out NLL of the SMC and FIFO banks per batch size",
    "bench_mdn": "Bar chart: held-out NLL of GMJEMDN and GMJE against the oracle",
    "bench_ssl": "Bar charts: linear-probe accuracy of every JointEmbedding objective",
    "bench_scale": "Line charts: GMJE's speed-up over scikit-learn and peak memory per row count",
    "bench_equivariance": "Line chart: worst score error of every estimator per scale",
    "bench_size": "Bar chart: pickled size of every model at two training sizes, log scale",
    "bench_conformal": (
        "Scatter with error bars: mean conformal coverage minus nominal per data set and "
        "estimator, for both scores, MAPIE and both coverages, with the target band"
    ),
    "bench_sbi": "Bar charts: C2ST of every method on every task, per simulation budget",
    "bench_sbi_1e5": "Bar chart: C2ST of every method on every task at 1e5 simulations",
    "bench_missing": (
        "Bar charts: imputation RMSE of three imputers on four real sets with 30% removed, "
        "and held-out NLL of GMJE with missing contexts against imputing first"
    ),
    "bench_distribution": (
        "Bar chart: mean length of every estimator's 90% central interval and 90% "
        "highest-density region on Dataset B"
    ),
}


def _png(figure):
    buffer = io.BytesIO()
    # No Software/date metadata: the same numbers give the same bytes.
    figure.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()


def draw_figures(results_dir, output_dir, log=None):
    """Draw the figure of every result file that has a drawing function.

    Returns ``{benchmark name: (path of the PNG, alt text)}`` for the figures drawn; a
    missing file or one whose layout the drawing function does not know has none.
    """
    results_dir, output_dir = Path(results_dir), Path(output_dir)
    drawn = {}
    for name, draw in DRAWINGS.items():
        path = results_dir / f"{name}.json"
        if not path.is_file():
            continue  # not run yet: no figure, the page says so
        try:
            report = json.loads(path.read_text())
            png = _png(draw(report))
        except (
            OSError,
            ValueError,
            KeyError,
            TypeError,
            IndexError,
            AttributeError,
            ZeroDivisionError,
        ) as error:
            if log:
                log(f"benchmark_figures: no figure for {name}.json ({error!r})")
            continue
        output = output_dir / f"{name}.png"
        output.parent.mkdir(parents=True, exist_ok=True)
        if not output.exists() or output.read_bytes() != png:
            output.write_bytes(png)
        drawn[name] = (output, ALT_TEXT[name])
    return drawn


if __name__ == "__main__":
    folder = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / FIGURES
    for name, (png, _) in draw_figures(ROOT / "benchmarks" / "results", folder, log=print).items():
        print(f"{name}: {png}")
