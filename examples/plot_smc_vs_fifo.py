"""
=======================================================
A streaming particle bank: SMC resampling vs FIFO queue
=======================================================

:class:`~skgmje.SMCGMJE` keeps a bank of ``M`` joint particles ``[x, y]`` with
one shared covariance and reads it as a Gaussian mixture (the paper's
SMC-GMJE, [GMJE]_ Algo 6). Each call to :meth:`~skgmje.SMCGMJE.partial_fit` streams one
mini-batch through it:

* with ``resampling="systematic"`` (the SMC bank) the particles are weighted by
  how well they explain the batch ([GMJE]_ Eq. 118), the batch joins the pool, and
  ``M`` particles are resampled from the pool in proportion to weight;
* with ``resampling=None`` (MoCo's FIFO queue) the batch is enqueued and the
  oldest particles are dropped.

Two histories come with every step: ``ess_history_``, the effective sample
size ``1 / sum w^2`` of the pooled ``M + B`` weights before resampling (how
many of the pooled particles the weights really use; a FIFO queue's uniform
weights give ``M``), and ``log_likelihood_history_``, the mean joint
log-likelihood of each batch under the bank *before* the step: a prequential,
held-out score of the stream. The last row adds the held-out conditional NLL
on 5000 test points every ten steps.

Below, the FIFO queue, the SMC bank and the SMC bank with
``weight_update="responsibility"`` see the same stream of Dataset A, 64
particles throughout, as in ``benchmarks/bench_smc.py``: on the left in
batches of 64, on the right in batches of 1024.

What to look for: the ESS stays high (the weights from one batch are never
very uneven), yet with small batches the resampled bank scores worse than the
queue. A FIFO queue over i.i.d. batches is already an unbiased sample of the
data, and resampling by weights estimated from 64 points adds noise to it.
With batches much larger than the bank the weights are better estimated and
the pool is mostly fresh points: the SMC bank then comes close to the queue
(in ``bench_smc.py``'s five-seed average on Dataset A it beats it at this
batch size). The bank is meant for
streams where the queue's premise fails, whose recent items are not
representative (see the Notes of :class:`~skgmje.SMCGMJE`).
"""

import matplotlib.pyplot as plt
import numpy as np

from skgmje import SMCGMJE
from skgmje.datasets import BranchesOracle, make_separated_branches

BANKS = {
    "FIFO queue": dict(resampling=None),
    "SMC, Eq. 118 weights": dict(resampling="systematic"),
    "SMC, responsibility weights": dict(resampling="systematic", weight_update="responsibility"),
}
M, N_STEPS, EVERY = 64, 300, 10
SETTINGS = {"batches of 64": 64, "batches of 1024": 1024}


def smooth(values, width=15):
    values = np.asarray(values, dtype=float)
    kernel = np.ones(width) / width
    return np.convolve(
        np.pad(values, (width // 2, width - 1 - width // 2), mode="edge"), kernel, mode="valid"
    )


X_test, y_test = make_separated_branches(n_samples=5000, random_state=1)
oracle = -BranchesOracle("separated").score(X_test, y_test)
figure, axes = plt.subplots(3, 2, figsize=(12, 10.5), sharex=True)
for column, (title, B) in enumerate(SETTINGS.items()):
    X_stream, y_stream = make_separated_branches(n_samples=N_STEPS * B, random_state=0)
    for (label, params), colour in zip(BANKS.items(), ("k", "C3", "C0")):
        model = SMCGMJE(n_particles=M, random_state=0, **params)
        steps, held_out = [], []
        for step in range(N_STEPS):
            rows = slice(step * B, (step + 1) * B)
            model.partial_fit(X_stream[rows], y_stream[rows])
            if (step + 1) % EVERY == 0:
                steps.append(step + 1)
                held_out.append(-model.score(X_test, y_test))
        # Steps that only fill the bank record nothing: the histories end at the last step.
        history_steps = np.arange(N_STEPS - len(model.ess_history_) + 1, N_STEPS + 1)
        axes[0, column].plot(history_steps, model.ess_history_, c=colour, lw=0.7, label=label)
        axes[1, column].plot(
            history_steps, -smooth(model.log_likelihood_history_), c=colour, label=label
        )
        axes[2, column].plot(
            steps,
            held_out,
            c=colour,
            marker="o",
            ms=3,
            label=f"{label}: mean {np.mean(held_out[-10:]):.3f} over the last 100 steps",
        )
    axes[0, column].axhline(M + B, c="0.5", ls=":", label=f"pool size M + B = {M + B}")
    axes[0, column].set_title(f"Dataset A, {M} particles, {title}", fontsize=11)
    axes[0, column].set_ylim(0, (M + B) * 1.45)
    axes[0, column].set_ylabel("ESS of the pooled weights")
    axes[1, column].set_ylabel("joint NLL of the incoming batch\n(prequential, smoothed)")
    axes[2, column].axhline(oracle, c="0.5", ls="--", label=f"oracle {oracle:.3f}")
    axes[2, column].set_ylim(0, None)
    axes[2, column].set_ylabel("held-out conditional NLL")
    axes[2, column].set_xlabel("partial_fit steps")
    axes[0, column].legend(fontsize=7, loc="upper left", ncol=2)
    axes[1, column].legend(fontsize=7, loc="upper right")
    axes[2, column].legend(fontsize=7, loc="lower left")
figure.tight_layout()
plt.show()
