"""GMJEMDN: the mixture-density-network GMJE (torch, trained through skorch)."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.cluster import KMeans
from sklearn.mixture import GaussianMixture
from skorch.callbacks import EarlyStopping, LRScheduler
from skorch.dataset import ValidSplit

from ._core.gaussian import cholesky
from ._torch_runtime import (
    EstimatorNet,
    check_device_and_threads,
    load_net_state,
    torch_seed,
    torch_threads,
    train_net,
)
from ._validation import Interval, PositiveIntegers, StrOptions, SubclassOf, positive
from .base import ConditionalDensityEstimator, column_standardisation
from .mixture import GaussianMixtureDistribution
from .nn._deprecation import deprecated_aliases
from .nn.losses import mdn_nll, mixture_log_prob
from .nn.mdn import ACTIVATIONS, COVARIANCE_TYPES, MixtureDensityNetwork

__all__ = ["LR_SCHEDULES", "OPTIMIZERS", "GMJEMDN", "GMJEMDNNet", "MixtureNLL"]

OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "sgd": torch.optim.SGD}
LR_SCHEDULES = ("cosine", "constant")
# The precision of the Gaussian prior on every weight that weight_decay="auto" sets: a standard
# deviation of about 0.3 in standardised units (GMJEMDN's docstring says why).
WEIGHT_PRIOR_PRECISION = 10.0


class MixtureNLL(torch.nn.Module):
    """skorch criterion: the mean conditional negative log-likelihood of the network's mixture.

    With ``weighted=True`` the last column of the targets holds each row's weight
    (normalised to mean 1 over the training set) and the loss is the batch mean of
    the weighted negative log-likelihoods.
    """

    def __init__(self, weighted=False):
        super().__init__()
        self.weighted = weighted

    def forward(self, output, targets):
        if not self.weighted:
            return mdn_nll(*output, targets)
        weights, targets = targets[:, -1], targets[:, :-1]
        return -(weights * mixture_log_prob(*output, targets)).mean()


class GMJEMDNNet(EstimatorNet):
    """The skorch net of :class:`GMJEMDN`, which trains a :class:`MixtureDensityNetwork`.

    Formerly ``MixtureDensityNet``, a name too close to the network's; the old
    name still works, with a ``FutureWarning``.
    """

    nonfinite_remedy = "lower lr, raise min_scale or standardise extreme inputs"

    def loss_name(self):
        return "mixture negative log-likelihood"


class GMJEMDN(ConditionalDensityEstimator):
    """GMJE with a mixture density network: ``p(y | x)``'s weights, means and scales depend on x.

    A neural network reads the context ``x`` (and only the context: the
    information bottleneck of [GMJE]_ Appendix M) and outputs a
    K-component Gaussian mixture over the target (user guide, "GMJEMDN")::

        p(y | x) = sum_k w_k(x) N(y | mu_k(x), L_k(x) L_k(x)^T)

    trained by minimising the mean negative log-likelihood, computed with
    log-softmax weights, log-sum-exp and a floor on the scales. Unlike
    :class:`GMJE`, whose components are global linear regressions, every
    parameter may vary with x, so branches can bend, cross and change their
    noise level. A Gaussian mixture on the contexts completes the joint model
    ``p(x) p(y | x)`` for generative sampling and the joint objective ([GMJE]_ Eq. 23).

    Training goes through skorch (:class:`skorch.NeuralNet`), with early
    stopping on a held-out validation fraction and a Gaussian prior on the
    weights whose pull fades with the rows (``weight_decay``); the fitted
    net is kept as ``net_`` (its ``history`` has the per-epoch losses).
    Inputs and targets are standardised internally and the predictions
    mapped back.

    Parameters
    ----------
    n_components : int, default=8
        Mixture components ``K``. Superfluous components get small weights,
        at little cost in held-out likelihood with early stopping; 3 (the
        paper's experiments) cannot follow a conditional with a continuum of
        modes (``benchmarks/bench_suite.py``).
    hidden_layer_sizes : tuple of int, default=(64, 64)
        Widths of the hidden layers of the parameter network.
    activation : {"tanh", "relu", "gelu", "silu"}, default="tanh"
    covariance_type : {"diag", "spherical", "full"}, default="full"
        Per component: one scale per target dimension, one scale, or a full
        Cholesky factor with a positive diagonal (the same as ``"diag"`` for
        a 1-D target).
    min_scale : float, default=1e-3
        Floor on every scale, in standardised target units.
    max_epochs : int, default=300
    batch_size : int, default=128
    lr : float, default=3e-3
        Initial learning rate.
    lr_schedule : {"cosine", "constant"}, default="cosine"
        ``"cosine"`` anneals the learning rate to zero over ``max_epochs``
        (skorch ``LRScheduler``): the last epochs settle into the optimum
        instead of rattling around it with the noise of mini-batches.
    optimizer : {"adam", "adamw", "sgd"} or torch optimizer class, default="adam"
    weight_decay : float or "auto", default="auto"
        L2 penalty on every weight and bias, added to the mean negative
        log-likelihood (in standardised units). ``"auto"`` sets it to
        ``10 / n_train``, ``n_train`` the rows trained on (those left after
        the validation hold-out): with ``"adam"`` or ``"sgd"`` this is the
        maximum a posteriori fit under a fixed Gaussian prior of variance 0.1
        on each parameter. Early stopping alone decides on a validation split
        of a few dozen rows when there are a few hundred, and lets a network
        on several contexts shrink its scales to the training residuals: its
        intervals come out too narrow on new rows. The prior keeps the large
        weights that such a fit needs from growing. Being a fixed prior, its
        weight per row falls as ``1 / n_train``: it matters on hundreds of
        rows and fades where the data outweigh it. Its standard deviation,
        about 0.3, still lets a 64-wide tanh layer move an output by a few
        standardised units (``sqrt(64 * 0.1)``), so it rules out no function
        the standardised data can ask for. The value used is ``weight_decay_``.
    early_stopping : bool, default=True
        Hold out ``validation_fraction`` of the rows, stop when their loss has
        not improved for ``patience`` epochs and restore the weights of the
        best epoch (skorch's ``EarlyStopping(load_best=True)``). Without it a
        network on many contexts of which few matter overfits by nats (user
        guide, "GMJEMDN"). False trains on every row for ``max_epochs`` under
        the annealed schedule.
    validation_fraction : float, default=0.1
    patience : int, default=100
        Epochs without improvement before stopping. The validation loss of
        neighbouring epochs differs by the noise of mini-batches; a short
        patience stops before the branches have settled (user guide).
    n_context_components : int, default=1
        Components of the Gaussian mixture fitted on the contexts (used by
        ``sample(X=None)`` and :meth:`score_samples_joint`).
    device : str, default="cpu"
        torch device for training and prediction, e.g. ``"cuda"``.
    n_threads : int or None, default=1
        torch intra-op threads while fitting and predicting (restored
        afterwards). Networks this small run fastest on one thread; on a busy
        machine more threads slow training down. ``None`` keeps torch's own
        setting.
    random_state : int, RandomState instance or None, default=None
        Seeds weight initialisation, batch order and the validation split
        (through a forked torch RNG: the global torch state is left alone).
    verbose : int, default=0
        1 prints skorch's per-epoch table; 2 also shows a progress bar per epoch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained network; ``net_.history`` holds the per-epoch losses.
    n_epochs_ : int
        Epochs run (fewer than ``max_epochs`` when early stopping stopped).
    weight_decay_ : float
        The L2 penalty the optimizer used (``weight_decay``, or its ``"auto"``
        value).
    context_density_ : sklearn.mixture.GaussianMixture
        The model of ``p(x)``, fitted on the contexts standardised as the network
        sees them (``(X - mean) / std`` per column), so that its ``reg_covar`` and
        its draws follow each column's units.
    n_features_in_ : int
    feature_names_in_ : ndarray of shape (n_features_in_,)
        Defined only when ``X`` has string feature names.
    n_targets_ : int

    See Also
    --------
    GMJE : a joint Gaussian mixture fitted by EM (components linear in x).

    Notes
    -----
    Results are reproducible bit for bit on one CPU machine for a fixed
    ``random_state``; CUDA kernels may differ in the last bits.

    Examples
    --------
    >>> import numpy as np
    >>> from skgmje import GMJEMDN
    >>> from skgmje.datasets import make_separated_branches
    >>> X, y = make_separated_branches(n_samples=1000, random_state=0)
    >>> model = GMJEMDN(n_components=3, max_epochs=100, random_state=0).fit(X, y)
    >>> dist = model.predict_distribution([[0.0]])
    >>> branches = np.sort(dist.means[0, :, 0])     # the three branches at x = 0
    >>> bool(np.abs(branches - [-1.5, 0.0, 1.5]).max() < 0.15)
    True
    >>> model.sample([[0.0]], n_samples=4, random_state=0).shape
    (1, 4)
    >>> len(model.net_.history) == model.n_epochs_
    True
    >>> round(model.weight_decay_ * 900, 6)             # 10 / rows left after the 10% hold-out
    10.0
    """

    _parameter_constraints = {
        "n_components": [positive(Integral)],
        "hidden_layer_sizes": [PositiveIntegers()],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "covariance_type": [StrOptions(set(COVARIANCE_TYPES))],
        "min_scale": [positive()],
        "max_epochs": [positive(Integral)],
        "batch_size": [positive(Integral)],
        "lr": [positive()],
        "lr_schedule": [StrOptions(set(LR_SCHEDULES))],
        "optimizer": [StrOptions(set(OPTIMIZERS)), SubclassOf(torch.optim.Optimizer)],
        "weight_decay": [positive(allow_zero=True), StrOptions({"auto"})],
        "early_stopping": ["boolean"],
        "validation_fraction": [Interval(Real, 0, 1, closed="neither")],
        "patience": [positive(Integral)],
        "n_context_components": [positive(Integral)],
        # Whether torch sees the device is checked when fitting.
        "device": [str, torch.device],
        "n_threads": [positive(Integral), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        n_components=8,
        hidden_layer_sizes=(64, 64),
        activation="tanh",
        covariance_type="full",
        min_scale=1e-3,
        max_epochs=300,
        batch_size=128,
        lr=3e-3,
        lr_schedule="cosine",
        optimizer="adam",
        weight_decay="auto",
        early_stopping=True,
        validation_fraction=0.1,
        patience=100,
        n_context_components=1,
        device="cpu",
        n_threads=1,
        random_state=None,
        verbose=0,
    ):
        self.n_components = n_components
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.covariance_type = covariance_type
        self.min_scale = min_scale
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.lr_schedule = lr_schedule
        self.optimizer = optimizer
        self.weight_decay = weight_decay
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.patience = patience
        self.n_context_components = n_context_components
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def fit(self, X, y, sample_weight=None):
        """Train the mixture density network and the context model.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Contexts.
        y : array-like of shape (n_samples,) or (n_samples, n_targets)
            Targets.
        sample_weight : array-like of shape (n_samples,), default=None
            Non-negative weights of the negative log-likelihood (and of the
            standardisation). Rows of weight zero are dropped, exactly as if they
            were not given; equal weights are no weights. The context model
            ``context_density_`` (used only by ``score_samples_joint`` and
            ``sample`` without ``X``) is fitted, unweighted, on the rows of
            positive weight: scikit-learn's ``GaussianMixture`` takes no weights.

        Returns
        -------
        self : object
            The fitted estimator.
        """
        return super().fit(X, y, sample_weight=sample_weight)

    def _check_parameters_with_data(self, n_features, n_targets):
        check_device_and_threads(self.device, self.n_threads)

    def _check_sample_count(self, n_samples):
        """Raise a ValueError for settings that the rows left after weighting cannot meet."""
        if self.early_stopping and n_samples - math.ceil(self.validation_fraction * n_samples) < 1:
            raise ValueError("validation_fraction leaves no rows to train on.")
        if self.n_context_components > n_samples:
            raise ValueError(
                f"n_context_components={self.n_context_components} needs at least as many "
                f"samples; got {n_samples}."
            )

    def _fit(self, X, Y, sample_weight):
        X, Y, sample_weight = _rows_of_positive_weight(X, Y, sample_weight)
        n_samples = len(X)
        self._check_sample_count(n_samples)
        seed = torch_seed(self.random_state)
        self._x_mean, self._x_scale = column_standardisation(X, sample_weight)
        self._y_mean, self._y_scale = column_standardisation(Y, sample_weight)
        n_train = n_samples
        if self.early_stopping:
            n_train -= math.ceil(self.validation_fraction * n_samples)
        # The loss is a mean over the training rows, so a fixed prior on the weights adds
        # its precision over n_train to it: a penalty that fades as the rows grow.
        weight_decay = (
            WEIGHT_PRIOR_PRECISION / n_train
            if self.weight_decay == "auto"
            else float(self.weight_decay)
        )
        inputs = ((X - self._x_mean) / self._x_scale).astype(np.float32)
        targets = ((Y - self._y_mean) / self._y_scale).astype(np.float32)
        training_targets = targets
        if sample_weight is not None:
            # MixtureNLL(weighted=True) reads each row's weight from the last column.
            training_targets = np.column_stack([targets, sample_weight]).astype(np.float32)
        train_split = (
            ValidSplit(self.validation_fraction, random_state=seed) if self.early_stopping else None
        )
        self.net_ = train_net(
            lambda callbacks: self._build_net(
                X.shape[1],
                Y.shape[1],
                weight_decay,
                weighted=sample_weight is not None,
                train_split=train_split,
                callbacks=callbacks,
            ),
            inputs,
            training_targets,
            seed=seed,
            device=self.device,
            n_threads=self.n_threads,
            callbacks=self._training_callbacks(),
            prepare=lambda net: _spread_component_means(net.module_, targets, seed),
        )
        self.n_epochs_ = len(self.net_.history)
        self.weight_decay_ = weight_decay
        # On standardised columns: GaussianMixture's reg_covar is absolute, and on raw
        # columns of tiny spread its draws landed ~1e94 standard deviations out.
        self.context_density_ = GaussianMixture(
            self.n_context_components, covariance_type="full", random_state=seed
        ).fit((X - self._x_mean) / self._x_scale)
        return self

    def _training_callbacks(self):
        callbacks = []
        if self.early_stopping:
            callbacks.append(
                ("early_stopping", EarlyStopping(patience=self.patience, load_best=True))
            )
        if self.lr_schedule == "cosine":
            callbacks.append(
                ("lr_schedule", LRScheduler(policy="CosineAnnealingLR", T_max=self.max_epochs))
            )
        return callbacks

    def _build_net(self, n_inputs, n_targets, weight_decay, weighted, train_split, callbacks):
        optimizer = (
            OPTIMIZERS[self.optimizer] if isinstance(self.optimizer, str) else self.optimizer
        )
        return GMJEMDNNet(
            module=MixtureDensityNetwork,
            module__n_inputs=n_inputs,
            module__n_targets=n_targets,
            module__n_components=self.n_components,
            module__hidden_layer_sizes=tuple(self.hidden_layer_sizes),
            module__activation=self.activation,
            module__covariance_type=self.covariance_type,
            module__min_scale=self.min_scale,
            criterion=MixtureNLL,
            criterion__weighted=weighted,
            optimizer=optimizer,
            optimizer__weight_decay=weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=train_split,
            callbacks=callbacks,
            iterator_train__shuffle=True,
            device=self.device,
            verbose=self.verbose,
        )

    def _restore_net(self, module_state, history):
        """The fitted network from saved weights (:mod:`skgmje._persistence`): what
        prediction needs; the optimiser's state and the training callbacks are not kept."""
        net = self._build_net(
            self.n_features_in_,
            self.n_targets_,
            self.weight_decay_,
            weighted=False,
            train_split=None,
            callbacks=[],
        )
        return load_net_state(net, module_state, history)

    def _prediction_row_width(self):
        # The hidden activations and the per-row component covariances.
        return sum(self.hidden_layer_sizes) + self.n_components * self.n_targets_ * (
            self.n_targets_ + 2
        )

    def _predict_distribution(self, X):
        inputs = ((X - self._x_mean) / self._x_scale).astype(np.float32)
        with torch_threads(self.n_threads):
            outputs = self.net_.forward(inputs)
        log_weights, means, scale_tril = (tensor.double().numpy() for tensor in outputs)
        scale_tril = self._y_scale[:, None] * scale_tril
        return GaussianMixtureDistribution(
            log_weights=log_weights,
            means=means * self._y_scale + self._y_mean,
            covariances=scale_tril @ np.swapaxes(scale_tril, -1, -2),
        )

    def _sample_joint(self, n_samples, rng):
        density = self.context_density_
        components = rng.choice(len(density.weights_), size=n_samples, p=density.weights_)
        factors = cholesky(density.covariances_)[components]
        noise = rng.standard_normal(size=(n_samples, density.means_.shape[1]))
        standardised = density.means_[components] + (factors @ noise[:, :, None])[:, :, 0]
        X = standardised * self._x_scale + self._x_mean
        Y = self._predict_distribution(X).sample(1, random_state=rng)[:, 0]
        return X, Y

    def score_samples_joint(self, X, y):
        """Joint log-density ``log p(x_i) + log p(y_i | x_i)`` (the objective of [GMJE]_ Eq. 23).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or (n_samples, n_targets)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        X, Y = self._validate_Xy(X, y)
        log_context = self.context_density_.score_samples(
            (X - self._x_mean) / self._x_scale
        ) - np.sum(np.log(self._x_scale))
        return log_context + self._predict_distribution(X).log_prob(Y)


def _rows_of_positive_weight(X, Y, sample_weight):
    """The rows of positive weight, and their weights normalised to mean 1 (None if equal).

    A row of weight zero is as if it were not given; equal weights are no weights.
    """
    if sample_weight is None:
        return X, Y, None
    keep = sample_weight > 0
    X, Y, sample_weight = X[keep], Y[keep], sample_weight[keep]
    if np.all(sample_weight == sample_weight[0]):
        return X, Y, None
    return X, Y, sample_weight / sample_weight.mean()


def _spread_component_means(module, targets, seed):
    """Start the K component means at k-means centres of the targets, nearly independent of x.

    With the default initialisation every component starts near the mean of
    y and the mixture needs many epochs to break the symmetry between them;
    starting them on distinct clusters of y lets each find its branch at once.
    """
    n_components = module.n_components
    centres = KMeans(n_components, n_init=1, random_state=seed).fit(targets).cluster_centers_
    with torch.no_grad():
        module.means.bias.copy_(torch.as_tensor(centres.reshape(-1), dtype=module.means.bias.dtype))
        module.means.weight.mul_(0.1)


__getattr__ = deprecated_aliases(__name__, {"MixtureDensityNet": ("GMJEMDNNet", GMJEMDNNet)})
