"""Declared parameter constraints, checked once before an estimator touches the data.

An estimator lists what each constructor parameter may be in a class attribute
``_parameter_constraints``, a dict from the parameter's name to a list of constraints,
any one of which the value must satisfy (scikit-learn's convention, with its constraint
objects: :class:`~sklearn.utils._param_validation.Interval`, ``StrOptions``,
``HasMethods``, and the strings ``"boolean"``, ``"random_state"``, ``"array-like"``,
``"verbose"``; ``None`` allows ``None``). Subclasses extend the dict of their base::

    _parameter_constraints = {
        **JointMixtureEM._parameter_constraints,
        "cv": [Interval(Integral, 2, None, closed="left")],
    }

:func:`validate_parameters` checks every parameter of ``get_params(deep=False)``
against it; the estimator base classes call it first thing in ``fit`` and
``partial_fit``. The error is a ``ValueError`` naming the parameter, what it may be and
what it got. Rules that involve the data (a prior's shape) or several parameters
together belong in the estimator's ``_check_parameters_with_data`` hook.

scikit-learn's own ``validate_parameter_constraints`` words its message around the
estimator's name; skgmje keeps the shorter ``"<name> must be ...; got ..."`` of its
other checks, so the checking loop is written here while the constraint objects are
scikit-learn's.
"""

from numbers import Integral, Real

import numpy as np
from sklearn.utils._param_validation import (
    HasMethods,
    Interval,
    StrOptions,
    _Constraint,
    _CVObjects,
    make_constraint,
)

__all__ = [
    "HasMethods",
    "Interval",
    "PositiveIntegers",
    "Registered",
    "StrOptions",
    "SubclassOf",
    "as_constraint",
    "check_positive",
    "validate_parameters",
]


def validate_parameters(estimator):
    """Raise a ValueError for the first parameter that satisfies none of its constraints.

    Every parameter of ``estimator.get_params(deep=False)`` must be declared in
    ``_parameter_constraints``; an undeclared one is a programming error and raises
    a ``TypeError``.
    """
    declared = type(estimator)._parameter_constraints
    for name, value in estimator.get_params(deep=False).items():
        if name not in declared:
            raise TypeError(
                f"{type(estimator).__name__}._parameter_constraints does not declare {name!r}."
            )
        constraints = declared[name]
        if constraints == "no_validation":
            continue
        constraints = [as_constraint(constraint) for constraint in constraints]
        if not any(_satisfies(constraint, value) for constraint in constraints):
            allowed = " or ".join(_describe(constraint) for constraint in constraints)
            raise ValueError(f"{name} must be {allowed}; got {value!r}.")


def as_constraint(constraint):
    """scikit-learn's constraint object for a declaration, this module's own as they are."""
    return constraint if isinstance(constraint, _Constraint) else make_constraint(constraint)


def _satisfies(constraint, value):
    if isinstance(constraint, Interval):
        # A bool is an Integral to Python but never a count or a size here; a
        # non-finite number is never a valid setting.
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
            return False
        if not np.isfinite(value):
            return False
    return constraint.is_satisfied_by(value)


def _describe(constraint):
    if isinstance(constraint, Interval):
        kind = "an integer" if constraint.type is Integral else "a number"
        left, right = constraint.left, constraint.right
        left_closed = constraint.closed in ("left", "both")
        right_closed = constraint.closed in ("right", "both")
        if right is None:
            return f"{kind} {'>=' if left_closed else '>'} {left}"
        if left is None:
            return f"{kind} {'<=' if right_closed else '<'} {right}"
        return (
            f"{kind} in {'[' if left_closed else '('}{left}, {right}{']' if right_closed else ')'}"
        )
    if isinstance(constraint, StrOptions):
        return f"one of {sorted(constraint.options)}"
    if isinstance(constraint, _CVObjects):
        return "at least 2 folds (an int), a cross-validation splitter or an iterable of splits"
    return str(constraint)


def check_positive(name, value, *, integer=False, allow_zero=False):
    """Raise a ValueError naming ``name`` unless ``value`` is a positive (or zero) number.

    For the arguments of functions; estimators declare ``_parameter_constraints``.
    """
    kind = Integral if integer else Real
    if isinstance(value, bool) or not isinstance(value, kind) or not np.isfinite(value):
        raise ValueError(
            f"{name} must be {'an integer' if integer else 'a number'}; got {value!r}."
        )
    if value < 0 or (value == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else '> 0'}; got {value!r}.")


def positive(kind=Real, *, allow_zero=False):
    """The constraint ``value > 0`` (``>= 0`` with ``allow_zero``) on an int or a number."""
    return Interval(kind, 0, None, closed="left" if allow_zero else "neither")


def fraction(*, allow_zero=False):
    """The constraint ``0 < value <= 1`` (``0 <= value <= 1`` with ``allow_zero``)."""
    return Interval(Real, 0, 1, closed="both" if allow_zero else "right")


class PositiveIntegers(_Constraint):
    """A tuple or list of positive integers (layer sizes; empty for none)."""

    def is_satisfied_by(self, val):
        return isinstance(val, (tuple, list)) and all(
            isinstance(size, Integral) and not isinstance(size, bool) and size > 0 for size in val
        )

    def __str__(self):
        return "a tuple of positive integers"


class SubclassOf(_Constraint):
    """A class deriving from ``base`` (a torch optimiser class, say)."""

    def __init__(self, base):
        super().__init__()
        self.base = base

    def is_satisfied_by(self, val):
        return isinstance(val, type) and issubclass(val, self.base)

    def __str__(self):
        return f"a {self.base.__module__}.{self.base.__qualname__} subclass"


class Registered(_Constraint):
    """A key of ``registry`` as it is when checked (a registry that may grow)."""

    def __init__(self, registry):
        super().__init__()
        self.registry = registry

    def is_satisfied_by(self, val):
        return isinstance(val, str) and val in self.registry

    def __str__(self):
        return f"one of {sorted(self.registry)}"
