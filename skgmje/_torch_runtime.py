"""What the torch-backed estimators share: their skorch net, its training, and its torch context.

:func:`train_net` is the one training skeleton of :class:`~skgmje.GMJEMDN`
and :class:`~skgmje.JointEmbedding`: build the net in a seeded torch
context, initialise it, train it, and after an interrupt return it to its
last finished epoch. Their nets are :class:`EstimatorNet` s, which take the
estimator's ``verbose`` as it is: 0 prints nothing, 1 skorch's per-epoch
table (without colour codes outside a terminal), 2 also a progress bar per
epoch.
"""

import copy
import re
import sys
import warnings
from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state
from skorch import NeuralNet
from skorch.callbacks import Callback, EarlyStopping, PrintLog, ProgressBar
from skorch.history import History

from ._validation import check_positive

__all__ = [
    "EstimatorNet",
    "KeepFinishedEpoch",
    "TerminalPrintLog",
    "back_to_finished_epoch",
    "check_device_and_threads",
    "load_net_state",
    "seeded_torch",
    "torch_seed",
    "torch_threads",
    "train_net",
]


def check_device_and_threads(device, n_threads):
    """Raise ``ValueError`` for a CUDA device torch cannot see or a bad thread count."""
    if n_threads is not None:
        check_positive("n_threads", n_threads, integer=True)
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA device.")


def torch_seed(random_state):
    """One int seed for torch, drawn from an sklearn-style ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def torch_threads(n_threads):
    """Run with ``n_threads`` torch intra-op threads (None: leave torch's), restored after."""
    previous = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def seeded_torch(seed, device, n_threads):
    """Seed torch inside a forked RNG (the caller's global torch state is left alone)."""
    devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch_threads(n_threads):
        torch.manual_seed(seed)
        yield


_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")


class TerminalPrintLog(PrintLog):
    """skorch's epoch table, with its colour codes only when stdout is a terminal.

    skorch colours the best values with ANSI escapes whatever the output; in a log file
    or a notebook cell they arrive as ``\x1b[32m`` noise.
    """

    def format_row(self, row, key, color):
        formatted = super().format_row(row, key, color)
        if isinstance(formatted, str) and not sys.stdout.isatty():
            return _ANSI_ESCAPE.sub("", formatted)
        return formatted


class EstimatorNet(NeuralNet):
    """The skorch net of skgmje's torch estimators.

    ``verbose`` is the estimator's (see :mod:`skgmje._torch_runtime`): the
    epoch table is :class:`TerminalPrintLog`, and ``verbose >= 2`` adds a
    progress bar. A loss that is not finite stops training with a
    ``FloatingPointError`` that names the loss (:meth:`loss_name`) and what
    to try (``nonfinite_remedy``), instead of training on NaN weights.
    """

    nonfinite_remedy = "lower lr"

    def get_default_callbacks(self):
        callbacks = [
            (name, TerminalPrintLog() if name == "print_log" else callback)
            for name, callback in super().get_default_callbacks()
        ]
        if self.verbose >= 2:
            callbacks.append(("progress_bar", ProgressBar()))
        return callbacks

    def loss_name(self):
        """How the error of a non-finite loss names the loss."""
        return "loss"

    def get_loss(self, y_pred, y_true, X=None, training=False):
        loss = super().get_loss(y_pred, y_true, X=X, training=training)
        if not torch.isfinite(loss):
            raise FloatingPointError(
                f"The {self.loss_name()} became {loss.item()} in epoch {len(self.history)}; "
                f"{self.nonfinite_remedy}."
            )
        return loss


def train_net(make_net, X, y=None, *, seed, device, n_threads, callbacks=(), prepare=None):
    """Build, seed and train a skorch net; after an interrupt, its last finished epoch.

    Parameters
    ----------
    make_net : callable
        ``make_net(callbacks)`` returns the :class:`EstimatorNet`, not yet
        initialised. It runs in the seeded context, so modules it builds draw
        their weights from ``seed``.
    X, y
        The training data, as skorch takes them.
    seed : int
        The torch seed (:func:`torch_seed`).
    device : str
    n_threads : int or None
    callbacks : sequence of (str, skorch.callbacks.Callback), default=()
        The estimator's own callbacks.
    prepare : callable, optional
        ``prepare(net)`` after initialisation, before training (to start
        weights from the data, say).

    Returns
    -------
    net : EstimatorNet
        Trained; after a ``KeyboardInterrupt``, as its last finished epoch
        left it (see :func:`back_to_finished_epoch`).
    """
    keeper = KeepFinishedEpoch()
    # First, so that an epoch which early stopping ends still counts as finished.
    callbacks = [("keep_finished_epoch", keeper), *callbacks]
    with seeded_torch(seed, device, n_threads):
        net = make_net(callbacks)
        net.initialize()
        if prepare is not None:
            prepare(net)
        net.partial_fit(X, y)
    back_to_finished_epoch(net, keeper, weights_restored=_best_epoch_restored(net))
    return net


def _best_epoch_restored(net):
    """Whether early stopping has put the weights of its best, finished, epoch back."""
    return any(
        isinstance(callback, EarlyStopping)
        and callback.load_best
        and callback.best_model_weights_ is not None
        for _, callback in net.callbacks_
    )


def load_net_state(net, module_state, history):
    """Initialise ``net`` and load a saved module ``state_dict`` (NumPy arrays) and
    training history into it (:mod:`skgmje._persistence`)."""
    net.initialize()
    weights = {name: torch.as_tensor(array) for name, array in module_state.items()}
    net.module_.load_state_dict(weights)
    net.history = History(history)
    return net


class KeepFinishedEpoch(Callback):
    """Remember the module and criterion as they were at the end of the last epoch.

    skorch stops training on ``KeyboardInterrupt`` and returns normally, with the
    weights as the interrupted epoch left them; :func:`back_to_finished_epoch` uses
    this snapshot to return to the last epoch that finished.
    """

    def initialize(self):
        self.finished_epochs_ = 0
        self.state_ = None
        return self

    def on_epoch_end(self, net, **kwargs):
        self.finished_epochs_ = len(net.history)
        self.state_ = copy.deepcopy(
            {"module": net.module_.state_dict(), "criterion": net.criterion_.state_dict()}
        )


def back_to_finished_epoch(net, keeper, weights_restored=False):
    """After an interrupted skorch fit, return the net to its last finished epoch.

    Does nothing when every started epoch finished. With no finished epoch, raises
    ``KeyboardInterrupt`` so the estimator keeps whatever state it had before ``fit``
    (unfitted, or its previous fit). ``weights_restored`` says a callback (early
    stopping's best epoch) has already put finished-epoch weights back.
    """
    if len(net.history) == keeper.finished_epochs_:
        return
    if keeper.state_ is None:
        raise KeyboardInterrupt(
            "Training was interrupted before its first epoch finished; the estimator "
            "was left as it was before fit."
        )
    if not weights_restored:
        net.module_.load_state_dict(keeper.state_["module"])
        net.criterion_.load_state_dict(keeper.state_["criterion"])
    del net.history[keeper.finished_epochs_ :]
    warnings.warn(
        f"Training was interrupted: the model keeps its {keeper.finished_epochs_} "
        "finished epoch(s).",
        UserWarning,
        stacklevel=3,
    )
