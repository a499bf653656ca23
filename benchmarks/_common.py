"""What every benchmark records beside its numbers: the machine, the versions, the commit."""

import os
import platform
import subprocess
import sys
import time
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info

PACKAGES = ("numpy", "scipy", "scikit-learn", "torch", "skorch", "gmr", "skgmje")


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


def timed(function):
    """Seconds one call takes, and what it returned."""
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


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
