"""What every benchmark records beside its numbers: the machine, the versions, the commit."""

import os
import platform
import subprocess
import sys
import time
import warnings
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from threadpoolctl import threadpool_info

PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "skorch", "gmr", "skgmje")


def command_line():
    """How this script was run, with file arguments by name: where a run kept its files
    is that machine's business, not the result's."""
    words = [Path(word).name if "/" in word else word for word in sys.argv[1:]]
    return " ".join(["python", sys.argv[0], *words])


def progress(message):
    # stderr, so that stdout carries only the table.
    print(message, file=sys.stderr, flush=True)


def git_revision():
    """Commit of the checkout and whether skgmje/ differs from it; None outside git."""
    root = Path(__file__).resolve().parent.parent

    def git(*arguments):
        return subprocess.run(
            ["git", *arguments], cwd=root, capture_output=True, text=True, check=True
        ).stdout.strip()

    try:
        changes = git("status", "--porcelain", "--", "skgmje")
        return {"commit": git("rev-parse", "HEAD"), "skgmje_has_local_changes": bool(changes)}
    except (OSError, subprocess.CalledProcessError):
        return None


def cpu_model():
    try:
        with open("/proc/cpuinfo") as cpuinfo:
            for line in cpuinfo:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def installed_versions():
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def machine_info():
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "versions": installed_versions(),
        "threadpools": [
            {key: pool.get(key) for key in ("user_api", "internal_api", "version", "num_threads")}
            for pool in threadpool_info()
        ],
        "skgmje_git": git_revision(),
    }


def make_mixture_data(n_samples, n_joint, n_components, seed):
    """Rows of a well-separated Gaussian mixture with random, well-conditioned covariances."""
    rng = np.random.default_rng(seed)
    means = rng.normal(scale=4.0, size=(n_components, n_joint))
    factors = rng.normal(size=(n_components, n_joint, n_joint)) / np.sqrt(n_joint)
    # The 0.5 * I floor bounds every eigenvalue away from zero.
    covariances = factors @ np.swapaxes(factors, 1, 2) + 0.5 * np.eye(n_joint)
    weights = rng.dirichlet(np.full(n_components, 5.0))
    labels = rng.choice(n_components, size=n_samples, p=weights)
    noise = rng.standard_normal((n_samples, n_joint))
    choleskys = np.linalg.cholesky(covariances)
    return means[labels] + np.einsum("nde,ne->nd", choleskys[labels], noise)


def same_start_split(Z):
    """``Z`` standardised, and its contexts ``X`` and targets ``y`` split so that skgmje's
    k-means start sees the rows as scikit-learn's does.

    The start divides each block of standardised columns by the square root of its
    width and weighs the targets by ``TARGET_BLOCK_WEIGHT`` (``column_scales``): with
    ``TARGET_BLOCK_WEIGHT**2`` target columns per context column every column is scaled
    alike, so the two libraries start from the same clusters and their EM (or VB)
    iterations can be compared one by one. Standardised, skgmje's ``reg_covar``
    (relative to each column's variance) is also scikit-learn's (absolute).
    """
    from skgmje._core.em import TARGET_BLOCK_WEIGHT

    n_joint = Z.shape[1]
    group = 1 + int(TARGET_BLOCK_WEIGHT**2)
    if n_joint % group:
        raise ValueError(f"the joint width must be a multiple of {group}; got {n_joint}.")
    Z = (Z - Z.mean(axis=0)) / Z.std(axis=0)
    n_context = n_joint // group
    return Z, np.ascontiguousarray(Z[:, :n_context]), np.ascontiguousarray(Z[:, n_context:])


def timed(function):
    """Seconds one call takes, and what it returned."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def seconds_per_iteration(fits, max_iter, repeats):
    """Seconds per EM iteration of each library, from fits at ``max_iter=0`` and ``max_iter``.

    ``fits[library, iterations]`` fits a model and returns it. Each is run ``repeats``
    times, interleaved; per library, ``(best at max_iter - best at 0) / max_iter``, which
    removes the initialisation and the per-fit overhead each library pays once. Returns
    ``(per_iteration, best_seconds, last_models)``, the latter two keyed as ``fits``.
    """
    best = dict.fromkeys(fits, np.inf)
    models = {}
    # tol=0 never converges by design; the warning is expected noise here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for _ in range(repeats):
            for key, fit in fits.items():
                seconds, models[key] = timed(fit)
                best[key] = min(best[key], seconds)
    libraries = {library for library, _ in fits}
    per_iteration = {
        library: (best[library, max_iter] - best[library, 0]) / max_iter for library in libraries
    }
    return per_iteration, best, models


def best_seconds(function, repeats):
    return min(timed(function)[0] for _ in range(repeats))


def target_check(value, target, comparison):
    met = value <= target if comparison == "<=" else value >= target
    return {"value": value, "target": target, "comparison": comparison, "meets_target": bool(met)}


def ratio_fields(ratio, target, comparison):
    check = target_check(ratio, target, comparison)
    return {
        "ratio": ratio,
        "target": target,
        "target_comparison": comparison,
        "meets_target": check["meets_target"],
    }
