"""What every benchmark records beside its numbers: the machine, the versions, the commit."""

import os
import platform
import subprocess
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

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
