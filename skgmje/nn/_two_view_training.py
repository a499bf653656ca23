"""The skorch side of two-view training: the net and the callbacks of JointEmbedding.

Unlike the rest of :mod:`skgmje.nn` this module needs skorch; only
:class:`skgmje.JointEmbedding` imports it.
"""

import numpy as np
import torch
from skorch.callbacks import Callback

from .._torch_runtime import EstimatorNet

__all__ = ["BankESS", "EMATarget", "TwoViewNet"]


class EMATarget(Callback):
    """After every training step, move the target encoder toward the online one."""

    def __init__(self, momentum):
        self.momentum = momentum

    def on_batch_end(self, net, batch=None, training=False, **kwargs):
        target = net.module_.target_encoder
        if not training or target is None:
            return
        with torch.no_grad():
            for theirs, ours in zip(target.parameters(), net.module_.encoder.parameters()):
                theirs.lerp_(ours, 1.0 - self.momentum)
            for theirs, ours in zip(target.buffers(), net.module_.encoder.buffers()):
                theirs.copy_(ours)


class BankESS(Callback):
    """Record the mean effective sample size of the bank's updates in each epoch (``"ess"``)."""

    def on_train_begin(self, net, **kwargs):
        self.seen_ = 0

    def on_epoch_end(self, net, **kwargs):
        history = net.criterion_.bank.ess_history
        if len(history) > self.seen_:
            net.history.record("ess", float(np.mean(history[self.seen_ :])))
        self.seen_ = len(history)


class TwoViewNet(EstimatorNet):
    """skorch net for unsupervised two-view training: the loss ignores ``y``."""

    nonfinite_remedy = "lower lr or raise the temperature"

    def loss_name(self):
        return f"{self.criterion_.objective!r} loss"
