"""Old names that keep working for a while, with a FutureWarning that names the new one."""

import functools
import warnings

__all__ = ["deprecated_aliases", "renamed_attribute", "renamed_keyword"]


def _warn(old, new, stacklevel):
    warnings.warn(
        f"{old} was renamed {new}; the old name will be removed in a future release.",
        FutureWarning,
        stacklevel=stacklevel + 1,
    )


def renamed_keyword(old, new):
    """Decorate a function (or ``__init__``) whose keyword ``old`` is now called ``new``.

    A call passing ``old=`` warns and is given ``new=`` instead; passing both
    raises ``TypeError``.

    Examples
    --------
    >>> import warnings
    >>> from skgmje.nn._deprecation import renamed_keyword
    >>> @renamed_keyword("lam", "entropy_weight")
    ... def loss(entropy_weight=1.0):
    ...     return entropy_weight
    >>> with warnings.catch_warnings(record=True) as caught:
    ...     warnings.simplefilter("always")
    ...     value = loss(lam=0.5)
    >>> value, caught[0].category.__name__
    (0.5, 'FutureWarning')
    """

    def decorate(function):
        @functools.wraps(function)
        def wrapper(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(
                        f"{function.__qualname__}() got both {old!r} and its new name {new!r}."
                    )
                _warn(f"The keyword {old!r}", repr(new), stacklevel=2)
                kwargs[new] = kwargs.pop(old)
            return function(*args, **kwargs)

        return wrapper

    return decorate


def renamed_attribute(old, new):
    """A read-only property ``old`` of a class whose attribute is now called ``new``."""

    def getter(self):
        _warn(f"{type(self).__name__}.{old}", new, stacklevel=2)
        return getattr(self, new)

    return property(getter, doc=f"Deprecated name of ``{new}``.")


def deprecated_aliases(module_name, aliases):
    """A module ``__getattr__`` that answers each old name in ``aliases`` with a warning.

    Parameters
    ----------
    module_name : str
        The module's ``__name__``, for the warning and the error of an unknown name.
    aliases : dict of str to (str, object)
        Old name to ``(new name, value)``.
    """

    def __getattr__(name):
        if name in aliases:
            new_name, value = aliases[name]
            _warn(f"{module_name}.{name}", f"{module_name}.{new_name}", stacklevel=2)
            return value
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")

    return __getattr__
