"""
=================================================
Sampling images from a learned latent density
=================================================

After the paper's section 5.3: three encoders are trained without labels on
scikit-learn's 8x8 digits, each with a different objective, and a density is
put on each latent space:

* prototype GMJE (``JointEmbedding("gmje")``), whose fitted
  ``latent_density_`` is a Gaussian mixture over the joint embeddings of two views;
* unimodal GJE (``"gje"``) with one Gaussian on its embeddings;
* InfoNCE (``"infonce"``), which learns no density, with a Gaussian mixture fitted
  afterwards (the post-hoc recipe).

A small decoder (an MLP regressor from embedding to pixels) is fitted on each
frozen encoder; decoding draws from the latent density gives the images below,
beside real digits. The table holds the paper's Table 2 statistics of each latent
density: the mean ``log|Sigma_k|`` of its components, the total variance of its
draws and the spread of its component means (mean distance between them).
Compare the rows with those columns: how varied the decoded digits are follows
how much of the latent space each density covers. A post-hoc mixture on an
InfoNCE embedding has no say in how the encoder spreads the data, while the GMJE
mixture is trained with the encoder.
"""

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.mixture import GaussianMixture
from sklearn.neural_network import MLPRegressor

from skgmje import JointEmbedding

X, _ = load_digits(return_X_y=True)
X = X / 16.0
N_DRAWS, N_COMPONENTS, SEED = 12, 10, 0
shared = dict(
    embedding_dim=16,
    hidden_layer_sizes=(256,),
    augment="image",
    max_shift=1,
    n_prototypes=N_COMPONENTS,
    max_epochs=20,
    random_state=SEED,
)


def statistics(means, covariances, draws):
    """Table 2 of the paper: mean log|Sigma_k|, variance of the draws, spread of the means."""
    log_dets = [np.linalg.slogdet(covariance)[1] for covariance in covariances]
    distances = np.linalg.norm(means[:, None] - means[None], axis=-1)
    n = len(means)
    spread = distances.sum() / (n * (n - 1)) if n > 1 else 0.0
    return np.mean(log_dets), np.trace(np.cov(draws, rowvar=False)), spread


rows, table = {}, []
for label, objective in [
    ("prototype GMJE", "gmje"),
    ("GJE + one Gaussian", "gje"),
    ("InfoNCE + post-hoc GMM", "infonce"),
]:
    encoder = JointEmbedding(objective, **shared).fit(X)
    embeddings = encoder.transform(X)
    if objective == "gmje":
        density = encoder.latent_density_
        d = embeddings.shape[1]
        # The density is over the joint [z_a, z_b]; its first block is the embedding's marginal.
        means, covariances = density.means_[:, :d], density.covariances_[:, :d, :d]
        draws = encoder.sample_embeddings(500, random_state=SEED)
    else:
        n_components = 1 if objective == "gje" else N_COMPONENTS
        density = GaussianMixture(n_components, random_state=SEED).fit(embeddings)
        means, covariances = density.means_, density.covariances_
        draws, _ = density.sample(500)
    decoder = MLPRegressor(hidden_layer_sizes=(128,), max_iter=400, random_state=SEED)
    decoder.fit(embeddings, X)
    rows[label] = np.clip(decoder.predict(draws[:N_DRAWS]), 0.0, 1.0)
    table.append((label, *statistics(means, covariances, draws)))

print(f"{'latent density':<24}{'mean log|S_k|':>15}{'variance':>10}{'spread':>8}")
for label, log_det, variance, spread in table:
    print(f"{label:<24}{log_det:15.2f}{variance:10.3f}{spread:8.3f}")

figure, axes = plt.subplots(len(rows) + 1, N_DRAWS, figsize=(N_DRAWS * 0.9, 4.8))
images = {"real digits": X[:N_DRAWS], **rows}
for row, (label, pictures) in enumerate(images.items()):
    for column, picture in enumerate(pictures):
        axis = axes[row, column]
        axis.imshow(picture.reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        axis.set_xticks([])
        axis.set_yticks([])
    axes[row, 0].set_ylabel(label, rotation=0, ha="right", va="center", fontsize=9)
figure.suptitle("Digits decoded from draws of each latent density", fontsize=11)
figure.tight_layout()
plt.show()
