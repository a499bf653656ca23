"""Torch building blocks (no scikit-learn): the GMJE paper's objectives and networks.

Needs the ``torch`` extra (``pip install "skgmje[torch]"``).
"""

from .._optional import require_torch

require_torch("skgmje.nn")

__all__ = ["augment", "encoders", "losses", "mdn", "memory", "objectives", "two_view"]
