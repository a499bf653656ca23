"""
=============================================================
The Mahalanobis trace trap, and the objectives that escape it
=============================================================

The obvious way to train two encoders with a joint Gaussian is to minimise the
negative log-likelihood of the joint embeddings ``z_i = [z_a,i, z_b,i]`` under
the covariance of the same batch, ``S = Z^T Z / N`` (the paper's Eq. 9;
:func:`skgmje.nn.losses.naive_joint_nll`):

.. math::

   L = \\frac1N \\sum_i z_i^\\top S^{-1} z_i + \\log\\lvert S\\rvert .

It cannot work. The Mahalanobis term is
:math:`\\operatorname{tr}(S^{-1} S) = D`, the joint dimension, whatever the
embeddings are: it carries no gradient, and only the log-determinant is left,
which shrinks the embeddings towards a point ([GMJE]_ Appendix O). The
remedies condition with parameters that are not statistics of the same batch:

* :func:`skgmje.nn.losses.gje_loss` conditions ``z_b`` on ``z_a`` with a
  stop-gradient copy of the batch covariance, so the Mahalanobis term pulls
  each ``z_b`` towards its prediction, and adds an entropy term that spreads
  the batch ([GMJE]_ Algo 5);
* :func:`skgmje.nn.losses.prototype_gmje_loss` (through
  :class:`~skgmje.nn.losses.PrototypeGMJE`) fits learnable prototypes, weights
  and a covariance by back-propagation ([GMJE]_ Eq. 15), with an entropy term on an
  EMA-tracked covariance.

Below, a linear encoder (8 inputs to a 2-d embedding per view, shared by the
views) is trained with each objective on two noisy views of four clusters.
The remedies see unit-norm embeddings, as the paper's recipe has them; the
naive loss sees the raw ones, so that its collapse shows as a shrinking scale
(on the unit circle it collapses onto a point instead, where ``S`` becomes
singular). The first row follows the training: the naive loss's two terms;
the gradient norm of each objective's data-fit term (Mahalanobis for the naive
loss, the alignment for GJE, the mixture NLL for prototype GMJE) with respect
to the encoder's weights; and how well the two views of a row agree. The
second row shows the embeddings each objective ends with.
"""

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch.nn.functional import normalize

from skgmje.nn.losses import PrototypeGMJE, gje_loss, naive_joint_nll, prototype_gmje_loss

torch.set_num_threads(1)
torch.manual_seed(0)
generator = torch.Generator().manual_seed(0)

# %%
# Data: two views of four clusters
# --------------------------------
# 512 rows in 8 dimensions around four centres; each view adds its own noise.

N, P, D_VIEW, STEPS = 512, 8, 2, 300
centres = 2.0 * torch.randn(4, P, generator=generator, dtype=torch.float64)
labels = torch.arange(N) % 4
rows = centres[labels] + 0.4 * torch.randn(N, P, generator=generator, dtype=torch.float64)


def views():
    noise = 0.8 * torch.randn(2, N, P, generator=generator, dtype=torch.float64)
    return rows + noise[0], rows + noise[1]


# %%
# Training
# --------
# One linear encoder per objective, all from the same initial weights, trained
# with Adam. ``data_fit`` is the part of each loss that should align the views.

initial = torch.randn(P, D_VIEW, generator=generator, dtype=torch.float64) / np.sqrt(P)


def train(objective):
    weights = initial.clone().requires_grad_(True)
    prototype = PrototypeGMJE(n_joint=2 * D_VIEW, n_prototypes=4).double()
    parameters = [weights] + (list(prototype.parameters()) if objective == "prototype" else [])
    optimizer = torch.optim.Adam(parameters, lr=0.02)
    history = {"loss": [], "mahalanobis": [], "log_det": [], "grad_norm": [], "agreement": []}

    def embed(view):
        z = view @ weights
        return z if objective == "naive" else normalize(z, dim=1)

    for _ in range(STEPS):
        view_a, view_b = views()
        z_a, z_b = embed(view_a), embed(view_b)
        if objective == "naive":
            loss, terms = naive_joint_nll(z_a, z_b, return_terms=True)
            data_fit = terms["mahalanobis"]
            history["mahalanobis"].append(float(terms["mahalanobis"].detach()))
            history["log_det"].append(float(terms["log_det"].detach()))
        elif objective == "gje":
            loss, terms = gje_loss(z_a, z_b, return_terms=True)
            data_fit = terms["alignment"]
        else:
            loss = prototype(z_a, z_b)
            # The same loss with its two terms apart (the module returns only the sum).
            _, terms = prototype_gmje_loss(
                z_a,
                z_b,
                prototype.prototypes,
                prototype.mixing_logits,
                prototype.scale_tril(),
                return_terms=True,
            )
            data_fit = terms["nll"]
        (gradient,) = torch.autograd.grad(data_fit, weights, retain_graph=True)
        history["grad_norm"].append(float(gradient.norm()))
        history["loss"].append(float(loss.detach()))
        agreement = torch.nn.functional.cosine_similarity(z_a, z_b, dim=1).mean()
        history["agreement"].append(float(agreement.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        embedding = embed(views()[0]).numpy()
    return history, embedding


OBJECTIVES = {
    "naive joint NLL (trace trap)": "naive",
    "GJE with entropy fix": "gje",
    "prototype GMJE": "prototype",
}
runs = {label: train(name) for label, name in OBJECTIVES.items()}

# %%
# The exact trap
# --------------
# With ``eps = 0`` the Mahalanobis term is exactly the joint dimension for any
# batch, and its gradient vanishes to rounding error.

z = torch.randn(64, 4, generator=generator, dtype=torch.float64, requires_grad=True)
_, terms = naive_joint_nll(z[:, :2], z[:, 2:], return_terms=True)
(gradient,) = torch.autograd.grad(terms["mahalanobis"], z)
print(
    f"Mahalanobis term {float(terms['mahalanobis'].detach()):.12f} (D = 4), "
    f"gradient norm {float(gradient.norm()):.1e}"
)

# %%
# The figure
# ----------

colours = dict(zip(OBJECTIVES, ("C3", "C0", "C2")))
steps = np.arange(1, STEPS + 1)
figure, axes = plt.subplots(2, 3, figsize=(14, 8.5))

axis = axes[0, 0]
naive = runs["naive joint NLL (trace trap)"][0]
axis.plot(steps, naive["mahalanobis"], c="C3", label="Mahalanobis term (= D = 4)")
axis.plot(steps, naive["log_det"], c="C3", ls="--", label="log |S| term")
axis.plot(steps, naive["loss"], c="k", lw=0.8, label="naive loss (their sum)")
axis.set_title("Naive joint NLL: only log |S| moves", fontsize=10)
axis.set_xlabel("training step")
axis.legend(fontsize=8)

axis = axes[0, 1]
for label, (history, _) in runs.items():
    axis.plot(steps, history["grad_norm"], c=colours[label], label=label)
axis.set_yscale("log")
axis.set_title("Gradient norm of the data-fit term\n(w.r.t. the encoder weights)", fontsize=10)
axis.set_xlabel("training step")
axis.legend(fontsize=8)

axis = axes[0, 2]
for label, (history, _) in runs.items():
    axis.plot(steps, history["agreement"], c=colours[label], label=label)
axis.set_ylim(-0.05, 1.05)
axis.set_title("Agreement of the two views of a row:\nmean cos(z_a, z_b)", fontsize=10)
axis.set_xlabel("training step")
axis.legend(fontsize=8, loc="lower right")

for axis, (label, (_, embedding)) in zip(axes[1], runs.items()):
    scale = np.abs(embedding).max()
    axis.scatter(
        *(embedding / scale).T, c=plt.cm.tab10(labels.numpy()), s=5, alpha=0.6, linewidths=0
    )
    spread = np.linalg.slogdet(np.cov(embedding, rowvar=False))[1]
    axis.set_title(
        f"{label}\nview-a embeddings (largest |coordinate| {scale:.2g});\n"
        f"log det of their covariance {spread:.1f}",
        fontsize=10,
    )
    axis.set_xlim(-1.15, 1.15)
    axis.set_ylim(-1.15, 1.15)
    axis.set_aspect("equal")
    axis.set_xticks([])
    axis.set_yticks([])
figure.tight_layout()
plt.show()

# %%
# What the figure shows
# ---------------------
# The naive loss's Mahalanobis term is 4 at every step to about ten digits, and
# its gradient stays at the level of rounding error, ten orders of magnitude
# below the data-fit gradients of the remedies. All of the naive loss's descent
# comes from ``log |S|``, which it lowers by mapping the data onto the
# directions where they carry the least energy: there the two views of a row
# have little in common, their agreement falls, and the clusters overlap along
# a line. The remedies' data-fit terms keep a gradient of order one and align
# the two views (cosine near 1) while their entropy terms keep the embeddings
# spread over the circle; how many of the four clusters stay apart depends on
# the objective (and on this toy encoder: one linear map to two dimensions).
