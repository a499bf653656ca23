"""The documentation builds without warnings (the gallery's examples are not run).

A copy of docs/ is built once into a temporary folder with ``-W`` and sphinx-gallery's
``plot_gallery=0``, so a docstring that breaks the reStructuredText, a broken cross
reference in the user guide, or a benchmark JSON the Benchmarks page cannot read fails
here. The tests below all read that one build: its pages, that none of them needs the
network (no remote script: MathJax is served from ``_static/mathjax``), and the Benchmarks
page's figures. Skipped when the ``docs`` extra is not installed (``pip install -e ".[docs]"``).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BUILT = ("_build", "generated", "auto_examples", "_generated", "sg_execution_times.rst")
DOCS_MODULES = (
    "sphinx",
    "sphinx_gallery",
    "numpydoc",
    "pydata_sphinx_theme",
    "matplotlib",
    "sphinx-mathjax-offline",
)

# A page that loads a script or a stylesheet from another host does not work offline.
REMOTE_SCRIPT = re.compile(r"<script\b[^>]*\bsrc=[\"']?(?:https?:)?//", re.IGNORECASE)
REMOTE_STYLESHEET = re.compile(
    r"<link\b(?=[^>]*\brel=[\"']?stylesheet)[^>]*\bhref=[\"']?(?:https?:)?//", re.IGNORECASE
)
CDN = re.compile(r"//[\w.-]*cdn[\w.-]*\.[a-z]{2,}", re.IGNORECASE)


@pytest.fixture(scope="module")
def built_docs(tmp_path_factory):
    """(sphinx-build's result, the output folder) of one build of a copy of docs/."""
    for module in DOCS_MODULES:
        pytest.importorskip(module)
    tmp_path = tmp_path_factory.mktemp("docs-build")
    source = tmp_path / "docs"
    shutil.copytree(ROOT / "docs", source, ignore=shutil.ignore_patterns(*BUILT))
    output = tmp_path / "html"
    command = [
        sys.executable,
        "-m",
        "sphinx",
        "-b",
        "html",
        "-W",
        "--keep-going",
        "-q",
        "-D",
        "plot_gallery=0",
        "-d",
        str(tmp_path / "doctrees"),
        str(source),
        str(output),
    ]
    environment = {**os.environ, "SKGMJE_ROOT": str(ROOT), "MPLBACKEND": "Agg"}
    result = subprocess.run(
        command, check=False, capture_output=True, text=True, env=environment, timeout=300
    )
    return result, output


@pytest.fixture(scope="module")
def output(built_docs):
    result, output = built_docs
    assert result.returncode == 0, f"sphinx-build failed:\n{result.stdout}\n{result.stderr}"
    return output


def test_docs_build_without_warnings(output):
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


def test_docs_need_no_network(output):
    pages = sorted(output.rglob("*.html"))
    assert len(pages) > 20, pages
    remote = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        for pattern in (REMOTE_SCRIPT, REMOTE_STYLESHEET, CDN):
            remote += [
                f"{page.relative_to(output)}: {match.group(0)!r}"
                for match in pattern.finditer(text)
            ]
    assert not remote, "pages that load from the network:\n" + "\n".join(remote)
    # The formulas are typeset by the MathJax copied into the build, which every page with
    # math loads by a relative path.
    mathjax = output / "_static" / "mathjax" / "tex-chtml.js"
    assert mathjax.is_file(), "MathJax was not copied into _static/mathjax"
    assert (output / "_static" / "mathjax" / "output" / "chtml" / "fonts" / "woff-v2").is_dir()
    for page in ("user_guide/gmje.html", "user_guide/index.html", "index.html"):
        text = (output / page).read_text(encoding="utf-8")
        assert 'class="math' in text, f"{page} has no formula"
        relative = os.path.relpath(mathjax, (output / page).parent).replace(os.sep, "/")
        assert f'src="{relative}"' in text, f"{page} does not load the local MathJax"


def test_benchmark_figures(output):
    """Every result file of a benchmark the page knows has its figure on the Benchmarks page.

    (A new script's file gets a section with its numbers at once, and a figure once
    docs/_ext/benchmark_figures.py has a drawing function for it.)
    """
    known = _extension("benchmark_tables").ORDER
    drawings = _extension("benchmark_figures").DRAWINGS
    assert not set(known) - set(drawings), "benchmarks without a drawing function"
    benchmarks = (output / "benchmarks.html").read_text(encoding="utf-8")
    result_files = [
        path
        for path in sorted((ROOT / "benchmarks" / "results").glob("*.json"))
        if path.stem in drawings
    ]
    assert result_files
    for result_file in result_files:
        name = result_file.stem
        image = output / "_images" / f"{name}.png"
        assert image.is_file(), f"the build drew no figure for {result_file.name}"
        assert image.read_bytes().startswith(b"\x89PNG\r\n\x1a\n"), f"{image} is not a PNG"
        assert f'src="_images/{name}.png"' in benchmarks, f"benchmarks.html does not show {name}"
    assert benchmarks.count('<figure class="benchmark-figure') == len(result_files)


def _extension(name):
    """A module of docs/_ext, imported from its file (docs/_ext is not a package)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(name, ROOT / "docs" / "_ext" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_benchmark_figures_skip_missing_and_unreadable_files(tmp_path):
    """A result file that is missing, or whose layout changed, loses its figure, not the build."""
    pytest.importorskip("matplotlib")
    figures = _extension("benchmark_figures")
    results = tmp_path / "results"
    results.mkdir()
    shutil.copy(ROOT / "benchmarks" / "results" / "bench_mdn.json", results)
    (results / "bench_nll.json").write_text('{"datasets": {"A": {"oracle_nll": 0.2}}}')
    (results / "bench_gmje.json").write_text("not JSON")
    messages = []
    drawn = figures.draw_figures(results, tmp_path / "figures", log=messages.append)
    assert set(drawn) == {"bench_mdn"}
    png, alt = drawn["bench_mdn"]
    assert png == tmp_path / "figures" / "bench_mdn.png" and alt
    assert [name for name in ("bench_nll", "bench_gmje") if any(name in m for m in messages)] == [
        "bench_nll",
        "bench_gmje",
    ]
    # The same numbers draw the same bytes, and an unchanged figure is not rewritten.
    before = png.stat().st_mtime_ns
    figures.draw_figures(results, tmp_path / "figures")
    assert png.stat().st_mtime_ns == before
