"""Sphinx configuration of the skgmje documentation.

Build everything (runs every example of ``examples/``)::

    make -C docs html

Build without running the examples (a few seconds to a minute)::

    make -C docs html-noplot

Both are run with ``-W`` (warnings are errors) by the Makefile.
"""

import os
import re
import sys
import warnings
from pathlib import Path

import sphinx.ext.autosummary
from threadpoolctl import threadpool_limits

DOCS = Path(__file__).resolve().parent
# The repository (examples/, benchmarks/results/). tests/test_docs.py builds a copy of docs/
# elsewhere and points here with SKGMJE_ROOT.
ROOT = Path(os.environ.get("SKGMJE_ROOT", DOCS.parent)).resolve()
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

import skgmje  # noqa: E402

# -- project -----------------------------------------------------------------

project = "skgmje"
author = "the skgmje developers"
copyright = "2026, the skgmje developers"
release = skgmje.__version__
version = ".".join(release.split(".")[:2])

# -- general -----------------------------------------------------------------

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    # MathJax from the package, copied into _static/mathjax/, instead of a CDN: the pages
    # render their formulas without network (tests/test_docs.py checks that no page loads a
    # remote script).
    "sphinx-mathjax-offline",
    "sphinx.ext.viewcode",
    "numpydoc",
    "sphinx_gallery.gen_gallery",
    # docs/_ext/benchmark_tables.py: the Benchmarks page's tables, and its figures
    # (docs/_ext/benchmark_figures.py), from benchmarks/results/*.json
    "benchmark_tables",
]

templates_path = ["_templates"]
exclude_patterns = [
    "_build",
    "_generated",  # included by other pages, not documents of their own
    "auto_examples/*.ipynb",
    "auto_examples/*.py",
    "auto_examples/*.zip",
    "auto_examples/*.json",
    "auto_examples/*.md5",
    "auto_examples/*.codeobj.json",
]
root_doc = "index"
default_role = "literal"  # `x` renders as code, like ``x``
pygments_style = "sphinx"
nitpicky = False

# -- autodoc / autosummary / numpydoc -----------------------------------------

autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"member-order": "groupwise"}
autodoc_typehints = "none"
add_module_names = False

numpydoc_show_class_members = False  # the class template lists the methods itself
numpydoc_class_members_toctree = False
numpydoc_attributes_as_param_list = True
numpydoc_xref_param_type = False

# Methods every scikit-learn estimator inherits for metadata routing: generated, and
# the same on every page; scikit-learn's own reference leaves them out too.
SKIPPED_MEMBERS = {"get_metadata_routing", "set_output"}


def skip_member(app, what, name, obj, skip, options):
    if name in SKIPPED_MEMBERS or (name.startswith("set_") and name.endswith("_request")):
        return True
    return skip


# ``ndarray of shape (n_features_in_,)``: in reStructuredText a word ending in ``_`` is a
# reference, so a fitted attribute's name in a type or a description (outside ``literal``
# markup) is an unknown target under -W. scikit-learn writes (`n_features_in_`,); skgmje's
# docstrings write the bare name. Escape the trailing underscore of such names, outside
# literals, before numpydoc reads the docstring.
NAME_LINE = re.compile(r"^\s*[\w, *]+ : ")
TRAILING_UNDERSCORE = re.compile(r"(?<![`\\\w])([A-Za-z][A-Za-z0-9_]*[A-Za-z0-9])_(?=[,)\s.;:]|$)")


def escape_attribute_names(app, what, name, obj, options, lines):
    if not name.startswith("skgmje"):
        return
    literal_indent = None  # indentation of the paragraph that opened a ``::`` block
    for index, line in enumerate(lines):
        indent = len(line) - len(line.lstrip())
        if literal_indent is not None:
            if not line.strip() or indent > literal_indent:
                continue
            literal_indent = None
        if line.rstrip().endswith("::"):
            literal_indent = indent
        if "_" not in line or line.lstrip().startswith((">>>", "...")):
            continue
        # A numpydoc "name : type" line: the name is bold text already; fix the type only.
        head, separator, line = line.rpartition(" : ") if NAME_LINE.match(line) else ("", "", line)
        pieces = line.split("``")
        # Even pieces are outside ``literals``; leave roles (:class:`x_`) and targets alone.
        for at in range(0, len(pieces), 2):
            if "`" in pieces[at] or ".. _" in pieces[at]:
                continue
            pieces[at] = TRAILING_UNDERSCORE.sub(r"\1\\_", pieces[at])
        lines[index] = head + separator + "``".join(pieces)


# Sphinx 9's autosummary cuts a summary at the first ". ": inside an inline literal
# (MLPEncoder: ``n_inputs -> hidden... -> n_outputs``, which leaves the literal open), and
# after the paper's abbreviations ("Primal GJE with the entropy fix (Algo."). Extend such a
# summary to the end of the sentence.
_extract_summary = sphinx.ext.autosummary.extract_summary
ABBREVIATIONS = ("Eq.", "Eqs.", "Algo.", "Fig.", "Figs.", "Sec.", "App.", "e.g.", "i.e.", "al.")


def extract_summary(doc, settings):
    summary = _extract_summary(doc, settings)
    if summary.count("``") % 2 == 0 and not summary.endswith(ABBREVIATIONS):
        return summary
    stanza = []
    for line in doc:
        if not line.strip():
            if stanza:
                break
            continue
        stanza.append(line.strip())
    sentences = sphinx.ext.autosummary.periods_re.split(" ".join(stanza))
    for count in range(1, len(sentences) + 1):
        candidate = ". ".join(sentences[:count]).rstrip(".") + "."
        if candidate.count("``") % 2 == 0 and not candidate.endswith(ABBREVIATIONS):
            return candidate
    return summary


sphinx.ext.autosummary.extract_summary = extract_summary


# -- benchmark tables and figures (docs/_ext/benchmark_tables.py) ---------------------------

benchmark_results_dir = str(ROOT / "benchmarks" / "results")

# -- sphinx-gallery -----------------------------------------------------------

# The examples fit small models, for which BLAS and OpenMP threads only cost: on the 2-core
# development machine with the other core busy, plot_uncertainty_decomposition.py ran more
# than ten times longer with OpenBLAS's default two threads than with one. The examples run
# inside this process, so this limit holds for all of them (tests/conftest.py does the same
# for the tests).
threadpool_limits(limits=1)
os.environ.setdefault("MPLBACKEND", "Agg")
warnings.filterwarnings("ignore", category=UserWarning, message="Matplotlib is currently using agg")
warnings.filterwarnings(
    "ignore", category=UserWarning, message="FigureCanvasAgg is non-interactive"
)

# The gallery resolves the names its examples import; scikit-learn exposes
# IterativeImputer (plot_missing_values.py) only once its experimental flag is imported.
import sklearn.experimental.enable_iterative_imputer  # noqa: E402, F401

sphinx_gallery_conf = {
    "examples_dirs": str(ROOT / "examples"),
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"/plot_",
    "ignore_pattern": r"__init__\.py",
    "within_subsection_order": "FileNameSortKey",
    "doc_module": ("skgmje",),
    "backreferences_dir": "_generated/backreferences",
    "reference_url": {"skgmje": None},
    "image_scrapers": ("matplotlib",),
    "matplotlib_animations": False,
    "remove_config_comments": True,
    "min_reported_time": 1,
    "show_memory": False,
    "abort_on_example_error": True,
    "thumbnail_size": (400, 280),
    "download_all_examples": False,
    # The execution-times page loads jQuery and DataTables from CDNs; every example's page
    # already states its own running time.
    "write_computation_times": False,
}

# -- HTML --------------------------------------------------------------------

html_theme = "pydata_sphinx_theme"
html_title = f"skgmje {release}"
html_static_path = ["_static"]
html_css_files = ["custom.css"]
html_show_sourcelink = False
html_theme_options = {
    "navbar_align": "left",
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
    "header_links_before_dropdown": 6,
}
html_sidebars = {
    "index": [],
    "getting_started": [],
    "benchmarks": [],
}
html_context = {"default_mode": "light"}


def setup(app):
    app.connect("autodoc-skip-member", skip_member)
    # Before numpydoc (priority 500), which parses the lines it is given.
    app.connect("autodoc-process-docstring", escape_attribute_names, priority=400)
