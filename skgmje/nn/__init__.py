"""Torch building blocks (no scikit-learn): the paper's objectives and networks.

Needs the ``torch`` extra (``pip install "skgmje[torch]"``).
"""

from .._optional import require_torch

require_torch("skgmje.nn")
