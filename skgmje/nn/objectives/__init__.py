"""The objectives of :class:`~skgmje.JointEmbedding`, one module each, in one registry.

Each objective is an :class:`Objective`: a ``torch.nn.Module`` scoring one
``(query, key)`` pair of embedded views, owning its state (a memory bank,
a head, buffers) and stating its policy in class attributes (an EMA target
encoder or not, symmetric in the views, a latent density, a kernel, the
default and the paper's entropy weights). :data:`REGISTRY` maps each value
of ``JointEmbedding(objective=...)`` to its class; the estimator reads
every policy from there. A new objective is one module with one class and
its entry below.
"""

import inspect

from ._base import Objective
from .bank import MoCoObjective, SMCGMJEObjective
from .dual_gje import DualGJEObjective
from .gje import GJEObjective
from .gmje import PrototypeGMJEObjective
from .gmje_mdn import GMJEMDNObjective
from .hsic import HSICObjective
from .infonce import InfoNCEObjective

__all__ = ["REGISTRY", "Objective", "make_objective", "objectives_where"]

#: Objective name -> class, in the order of JointEmbedding's documentation.
REGISTRY = {
    objective.name: objective
    for objective in (
        GJEObjective,
        DualGJEObjective,
        HSICObjective,
        PrototypeGMJEObjective,
        GMJEMDNObjective,
        InfoNCEObjective,
        MoCoObjective,
        SMCGMJEObjective,
    )
}


def make_objective(name, **options):
    """The registered objective ``name``, given those of ``options`` its constructor takes.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`.
    **options
        The estimator's options; each objective takes the ones it names.

    Returns
    -------
    Objective

    Examples
    --------
    >>> from skgmje.nn.objectives import make_objective
    >>> objective = make_objective("moco", embedding_dim=4, bank_size=8, n_prototypes=3)
    >>> type(objective).__name__, objective.bank.bank_size, objective.uses_ema_target
    ('MoCoObjective', 8, True)
    """
    objective = REGISTRY[name]
    accepted = inspect.signature(objective).parameters
    return objective(**{option: value for option, value in options.items() if option in accepted})


def objectives_where(policy):
    """The names of the registered objectives whose class attribute ``policy`` is true.

    Examples
    --------
    >>> from skgmje.nn.objectives import objectives_where
    >>> objectives_where("takes_kernel")
    ('dual-gje', 'hsic')
    """
    return tuple(name for name, objective in REGISTRY.items() if getattr(objective, policy))
