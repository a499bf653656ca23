"""The extras (``pip install "skgmje[torch]"``, ``"skgmje[skpro]"``): a clear error without them.

NumPy-only users and dask workers install skgmje without torch; the torch estimators
(:class:`~skgmje.GMJEMDN`, :class:`~skgmje.JointEmbedding`) and :mod:`skgmje.nn` then
raise an ``ImportError`` that names the extra, not torch's own ``ModuleNotFoundError``.
:mod:`skgmje.skpro` does the same for skpro.
"""

import importlib.util

__all__ = ["SKPRO_EXTRA_MESSAGE", "TORCH_EXTRA_MESSAGE", "require_skpro", "require_torch"]

TORCH_EXTRA_MESSAGE = (
    '{feature} needs torch and skorch, which are an extra: pip install "skgmje[torch]" '
    "(on a machine without a GPU, pip install torch --index-url "
    "https://download.pytorch.org/whl/cpu first keeps the download small)."
)


def require_torch(feature):
    """Raise an ImportError naming the ``torch`` extra unless torch and skorch import."""
    missing = [name for name in ("torch", "skorch") if not _importable(name)]
    if missing:
        raise ImportError(
            TORCH_EXTRA_MESSAGE.format(feature=feature) + f" Missing: {', '.join(missing)}.",
            name=missing[0],
        )


SKPRO_EXTRA_MESSAGE = '{feature} needs skpro, which is an extra: pip install "skgmje[skpro]".'


def require_skpro(feature):
    """Raise an ImportError naming the ``skpro`` extra unless skpro imports."""
    if not _importable("skpro"):
        raise ImportError(SKPRO_EXTRA_MESSAGE.format(feature=feature), name="skpro")


def _importable(name):
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        # find_spec raises for a module set to None in sys.modules (an import blocked on
        # purpose) and for a module without a spec: neither can be imported.
        return False
