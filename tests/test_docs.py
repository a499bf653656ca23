"""The documentation builds without warnings (the gallery's examples are not run).

A copy of docs/ is built into a temporary folder with ``-W`` and sphinx-gallery's
``plot_gallery=0``, so a docstring that breaks the reStructuredText, a broken cross
reference in the user guide, or a benchmark JSON the Benchmarks page cannot read fails
here. Skipped when the ``docs`` extra is not installed (``pip install -e ".[docs]"``).
"""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT = ("_build", "generated", "auto_examples", "_generated", "sg_execution_times.rst")


def test_docs_build_without_warnings(tmp_path):
    for module in ("sphinx", "sphinx_gallery", "numpydoc", "pydata_sphinx_theme", "matplotlib"):
        pytest.importorskip(module)
    source = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", source, ignore=shutil.ignore_patterns(*BUILT))
    output = tmp_path / "html"
    command = [
        sys.executable, "-m", "sphinx", "-b", "html", "-W", "--keep-going", "-q",
        "-D", "plot_gallery=0", "-d", str(tmp_path / "doctrees"), str(source), str(output),
    ]
    environment = {**os.environ, "SKGMJE_ROOT": str(ROOT), "MPLBACKEND": "Agg"}
    result = subprocess.run(command, capture_output=True, text=True, env=environment, timeout=300)
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    for page in (
        "index.html",
        "getting_started.html",
        "user_guide/gmje.html",
        "user_guide/representation.html",
        "api.html",
        "generated/skgmje.GMJE.html",
        "auto_examples/index.html",
        "benchmarks.html",
    ):
        assert (output / page).is_file(), f"{page} was not built"
    # The class template lists the methods (an unresolved template name falls back silently).
    assert 'id="skgmje.GMJE.bic"' in (output / "generated" / "skgmje.GMJE.html").read_text()
    benchmarks = (output / "benchmarks.html").read_text()
    for result_file in sorted((ROOT / "benchmarks" / "results").glob("*.json")):
        assert f'id="{result_file.stem.replace("_", "-")}"' in benchmarks, result_file.name
