"""The mixture density network of GMJE-MDN ([GMJE]_ Section 4.4; user guide, "GMJEMDN")."""

import torch
from torch import nn
from torch.nn import functional as F

__all__ = [
    "ACTIVATIONS",
    "COVARIANCE_TYPES",
    "MixtureDensityNetwork",
]

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "silu": nn.SiLU}
COVARIANCE_TYPES = ("spherical", "diag", "full")


class MixtureDensityNetwork(nn.Module):
    """Maps a context ``x`` to ``p(y | x) = sum_k w_k(x) N(mu_k(x), L_k(x) L_k(x)^T)``.

    The network sees the context only (the information bottleneck of
    [GMJE]_ Appendix M): the target enters through the loss, never the input.

    Parameters
    ----------
    n_inputs, n_targets, n_components : int
    hidden_layer_sizes : tuple of int
    activation : {"relu", "tanh", "gelu", "silu"}
    covariance_type : {"spherical", "diag", "full"}
        One scale per component, one per target dimension, or a full
        Cholesky factor (positive diagonal, free lower triangle).
    min_scale : float
        Floor added to every diagonal scale, so no component collapses onto a
        point and the log-density stays finite.
    """

    def __init__(
        self,
        n_inputs,
        n_targets,
        n_components,
        hidden_layer_sizes=(64, 64),
        activation="tanh",
        covariance_type="diag",
        min_scale=1e-3,
    ):
        super().__init__()
        self.n_targets = n_targets
        self.n_components = n_components
        self.covariance_type = covariance_type
        self.min_scale = min_scale
        layers, width = [], n_inputs
        for size in hidden_layer_sizes:
            layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
            width = size
        self.body = nn.Sequential(*layers)
        self.logits = nn.Linear(width, n_components)
        self.means = nn.Linear(width, n_components * n_targets)
        n_diagonal = 1 if covariance_type == "spherical" else n_targets
        self.diagonal = nn.Linear(width, n_components * n_diagonal)
        self.n_off_diagonal = n_targets * (n_targets - 1) // 2 if covariance_type == "full" else 0
        if self.n_off_diagonal:
            self.off_diagonal = nn.Linear(width, n_components * self.n_off_diagonal)
            self.register_buffer(
                "lower_indices",
                torch.tril_indices(n_targets, n_targets, offset=-1),
                persistent=False,
            )

    def forward(self, X):
        """The mixture parameters for each context row.

        Parameters
        ----------
        X : Tensor of shape (n, n_inputs)

        Returns
        -------
        log_weights : Tensor of shape (n, K)
        means : Tensor of shape (n, K, dy)
        scale_tril : Tensor of shape (n, K, dy, dy)
        """
        hidden = self.body(X)
        n_rows, K, dy = X.shape[0], self.n_components, self.n_targets
        log_weights = F.log_softmax(self.logits(hidden), dim=-1)
        means = self.means(hidden).view(n_rows, K, dy)
        scales = F.softplus(self.diagonal(hidden)).view(n_rows, K, -1) + self.min_scale
        scale_tril = torch.diag_embed(scales.expand(n_rows, K, dy))
        if self.n_off_diagonal:
            rows, columns = self.lower_indices
            off = self.off_diagonal(hidden).view(n_rows, K, self.n_off_diagonal)
            lower = scale_tril.new_zeros(scale_tril.shape)
            lower[:, :, rows, columns] = off
            scale_tril = scale_tril + lower
        return log_weights, means, scale_tril
