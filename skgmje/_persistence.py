"""Saving fitted estimators as plain data, for pickle, joblib and skops alike.

``skops.io`` (scikit-learn's recommended format, which runs no code on load) restores
only types the user trusts. A fitted skgmje estimator therefore keeps its state in
NumPy arrays, Python scalars and containers, scikit-learn objects and its own public
class: in :meth:`PersistenceMixin.__getstate__` the package's private records (the
precomputed conditioning of a joint mixture, the prior of a variational fit, a Growing
Neural Gas graph) become tagged dicts of arrays, and a torch network becomes its
``state_dict`` as NumPy arrays and its training history as a JSON string;
``__setstate__`` rebuilds them. Pickle and joblib go through the same two methods, so
all three formats hold the same state.

A model saved by one skgmje version and loaded by another warns with
:class:`skgmje.exceptions.InconsistentVersionWarning`, as scikit-learn does for its own version.
"""

import json
import warnings

import numpy as np

from .exceptions import InconsistentVersionWarning

# The private types that become tagged dicts of their fields, by a stable name.
_RECORDS = {}
_RECORD_TAG = "__skgmje_record__"
_NET_STATE = "_net_state"


def saved_as_fields(cls):
    """Class decorator: save instances of ``cls`` as a tagged dict of their fields.

    A ``NamedTuple`` is rebuilt by its constructor, any other class by setting its
    ``__dict__`` on a new instance.
    """
    _RECORDS[cls.__qualname__] = cls
    return cls


def _is_named_tuple(value):
    return isinstance(value, tuple) and hasattr(value, "_asdict")


def _to_plain(value):
    name = type(value).__qualname__
    if _RECORDS.get(name) is type(value):
        fields = value._asdict() if _is_named_tuple(value) else vars(value)
        return {_RECORD_TAG: name, "fields": {k: _to_plain(v) for k, v in fields.items()}}
    return value


def _from_plain(value):
    if isinstance(value, dict) and _RECORD_TAG in value:
        cls = _RECORDS[value[_RECORD_TAG]]
        fields = {k: _from_plain(v) for k, v in value["fields"].items()}
        if issubclass(cls, tuple):
            return cls(**fields)
        record = cls.__new__(cls)
        record.__dict__.update(fields)
        return record
    return value


def _plain_history(history):
    """A skorch ``History`` as lists, dicts and Python scalars (NumPy and torch scalars
    recorded by callbacks become floats or ints)."""
    if isinstance(history, dict):
        return {str(k): _plain_history(v) for k, v in history.items()}
    if isinstance(history, (list, tuple)):
        return [_plain_history(v) for v in history]
    if isinstance(history, (bool, int, float, str)) or history is None:
        return history
    return np.asarray(history).item()


class PersistenceMixin:
    """``__getstate__``/``__setstate__`` that hold only plain data (module docstring).

    An estimator with a skorch network in ``net_`` implements ``_restore_net(module_state,
    history)``, which builds an initialised network of the fitted shapes, loads the
    weights and returns it. An estimator whose fitted attributes include one derived
    from the others names it in ``_recomputed_on_load`` and rebuilds it in
    ``_recompute_on_load()``: it is not saved.
    """

    _recomputed_on_load = ()

    def __getstate__(self):
        from . import __version__

        state = {
            key: _to_plain(value)
            for key, value in super().__getstate__().items()
            if key not in self._recomputed_on_load
        }
        net = state.pop("net_", None)
        if net is not None:
            state[_NET_STATE] = {
                "module": {
                    name: tensor.detach().cpu().numpy()
                    for name, tensor in net.module_.state_dict().items()
                },
                # One JSON string: skops stores each list and dict as a node of its own,
                # which made a history of per-batch records many times its pickled size.
                "history": json.dumps(_plain_history(net.history.to_list())),
            }
        state["_skgmje_version"] = __version__
        return state

    def __setstate__(self, state):
        from . import __version__

        state = dict(state)
        saved_version = state.pop("_skgmje_version", "unknown")
        if saved_version != __version__:
            warnings.warn(
                InconsistentVersionWarning(
                    estimator_name=type(self).__name__,
                    current_sklearn_version=__version__,
                    original_sklearn_version=saved_version,
                ),
                stacklevel=2,
            )
        net_state = state.pop(_NET_STATE, None)
        super().__setstate__({key: _from_plain(value) for key, value in state.items()})
        if self._recomputed_on_load and hasattr(self, "n_features_in_"):
            self._recompute_on_load()
        if net_state is not None:
            self.net_ = self._restore_net(net_state["module"], json.loads(net_state["history"]))
