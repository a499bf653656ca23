"""pytest's configuration for the whole repository; tests/conftest.py has the tests' own.

``--doctest-modules`` imports every module of skgmje/; skgmje.skpro raises an ImportError
that names its extra where skpro is not installed, so its doctests are left out there
rather than failing the collection (tests/test_skpro.py skips itself).
"""

from skgmje._optional import _importable

collect_ignore = [] if _importable("skpro") else ["skgmje/skpro.py"]
