"""JointEmbedding: two-view encoders trained with the paper's objectives, as a transformer."""

import copy
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassNamePrefixFeaturesOutMixin, TransformerMixin
from sklearn.utils.validation import check_is_fitted, validate_data
from torch import nn

from ._docs import DocumentationLinkMixin
from ._persistence import PersistenceMixin
from ._torch_runtime import (
    check_device_and_threads,
    load_net_state,
    torch_seed,
    torch_threads,
    train_net,
)
from ._validation import (
    Interval,
    PositiveIntegers,
    Registered,
    StrOptions,
    fraction,
    positive,
    validate_parameters,
)
from .base import check_numpy_inputs, restored_on_failure
from .gmje import GMJE
from .nn import augment as augmentations
from .nn._two_view_training import BankESS, EMATarget, TwoViewNet
from .nn.encoders import Conv1dEncoder, ConvEncoder, MLPEncoder, ResNet18
from .nn.objectives import REGISTRY, objectives_where
from .nn.two_view import JointObjective, TwoViewModule

__all__ = [
    "AUGMENTS",
    "DEFAULT_ENTROPY_WEIGHTS",
    "DENSITY_OBJECTIVES",
    "EMA_OBJECTIVES",
    "ENCODERS",
    "KERNELS",
    "KERNEL_OBJECTIVES",
    "OBJECTIVES",
    "PAPER_ENTROPY_WEIGHTS",
    "SYMMETRIC_OBJECTIVES",
    "JointEmbedding",
]

# Snapshots of skgmje.nn.objectives.REGISTRY, where each objective states its policy, for
# those who read them; the estimator reads the registry itself.
OBJECTIVES = tuple(REGISTRY)
EMA_OBJECTIVES = objectives_where("uses_ema_target")
DENSITY_OBJECTIVES = objectives_where("has_latent_density")
SYMMETRIC_OBJECTIVES = objectives_where("view_symmetric")
KERNEL_OBJECTIVES = objectives_where("takes_kernel")
DEFAULT_ENTROPY_WEIGHTS = {name: cls.default_entropy_weight for name, cls in REGISTRY.items()}
PAPER_ENTROPY_WEIGHTS = {name: cls.paper_entropy_weight for name, cls in REGISTRY.items()}
KERNELS = ("linear", "rbf")
ENCODERS = ("mlp", "cnn", "cnn1d", "resnet18")
AUGMENTS = ("tabular", "image", "signal")


class JointEmbedding(
    DocumentationLinkMixin,
    PersistenceMixin,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    BaseEstimator,
):
    """Self-supervised two-view encoder trained with a GJE/GMJE objective; a transformer.

    Each training batch is augmented twice; an encoder embeds both views and
    the chosen objective of the paper (the user guide's estimator pages) ties
    the two embeddings together: the query ``q`` (the encoder's embedding of
    view a) and the key ``k`` (view b's, by the encoder or its EMA copy).
    ``transform`` returns the encoder's embedding of the data as it is (no
    augmentation). Training goes through
    skorch (``net_``, with the per-epoch loss in ``net_.history`` and, for
    ``"smc-gmje"``, the epoch's mean effective sample size of the bank as
    ``"ess"``; every update's is in ``net_.criterion_.bank.ess_history``).

    Objectives (one class each in :mod:`skgmje.nn.objectives`, which states
    each one's loss and policy; the losses are :mod:`skgmje.nn.losses`):

    - ``"gje"``: primal GJE with the log-determinant entropy fix;
    - ``"dual-gje"``: the Gaussian-process loss against an EMA target (by
      default on whitened views with a linear kernel, below);
    - ``"hsic"``: maximised HSIC between the views (by default whitened,
      with a linear kernel, below);
    - ``"gmje"``: prototype GMJE (learnable prototypes and mixing logits on
      the joint ``[q, k]`` with one shared covariance, [GMJE]_ Eq. 15):
      by default the batch's M-step covariance around the prototypes, held
      constant (``prototype_covariance``);
    - ``"gmje-mdn"``: a mixture density network from ``q`` to ``k`` plus
      the context marginal ([GMJE]_ Eq. 23), minus each view's Gaussian
      batch entropy (without it the objective rewards collapsing the targets
      to a point); its linear head starts at "the views agree", every
      component's mean the context itself;
    - ``"infonce"``: SimCLR's InfoNCE with in-batch negatives;
    - ``"moco"``: InfoNCE against a FIFO bank of EMA keys;
    - ``"smc-gmje"`` (the default): InfoNCE against an SMC particle bank
      ([GMJE]_ Algo 2): keys are reweighted by the queries and resampled, so
      the plain loss over the bank is the weighted one of [GMJE]_ Eq. 33; by default
      with the GJE entropy term on the queries.

    ``entropy_weight`` ``w`` weighs the log-determinant entropy term of every
    objective, ``E(z) = log|S_z + 1e-4 I|`` with ``S_z`` the centred batch
    covariance of the l2-normalised embeddings (the entropy fix of primal
    GJE, [GMJE]_ Algo 5, the term the paper credits with preventing
    dimensional collapse):

    - ``"gje"``: ``w`` is ``entropy_weight`` of
      :func:`~skgmje.nn.losses.gje_loss` (on the raw embeddings). The
      paper's 1 lets the loss fall without end as the embeddings grow; at
      0.5 the alignment's log-determinant and the entropy's scale alike, so
      the loss no longer depends on the embeddings' scale;
    - ``"dual-gje"``: ``L_dual / N - w E(q)`` (the keys come from the EMA
      encoder and carry no gradient);
    - ``"hsic"``: ``-HSIC - (w / 2) (E(q) + E(k))``;
    - ``"gmje"``: ``entropy_weight`` of
      :class:`~skgmje.nn.losses.PrototypeGMJE`; 0.5 with the batch
      covariance (a lower weight let the embedding collapse, 1 learned
      little);
    - ``"gmje-mdn"``: ``L_Eq.23 - (w / 2) (E(q) + E(k))``;
    - ``"infonce"``, ``"moco"``, ``"smc-gmje"``: ``L - w E(q)``.

    ``entropy_weight=None`` takes ``DEFAULT_ENTROPY_WEIGHTS`` of this module,
    ``PAPER_ENTROPY_WEIGHTS`` are the objectives as published (pass the
    objective's entry to get it; for ``"gmje"`` also
    ``prototype_covariance="learned"``, for ``"dual-gje"`` and ``"hsic"``
    also ``kernel="rbf", whiten=False``). Both tables are read from the
    objectives' classes.

    The paper's ``"dual-gje"`` and ``"hsic"`` losses collapse the embedding
    to an effective rank near 1 on translated digits, and with the entropy
    term instead they keep their rank but learn little (see the user guide).
    By default (``whiten=True``, ``kernel="linear"``) both see each view's
    batch whitened, ``W(z) = (z - m) L^-T`` with ``m`` the batch mean and
    ``L L^T = S + 0.01 s I``, ``S`` the batch covariance of the raw
    embeddings and ``s`` its mean variance
    (:func:`~skgmje.nn.losses.whiten_batch`):

    - ``"hsic"``: ``-HSIC(W(q), W(k))`` with linear kernels, that is
      ``-|C_ab|_F^2``, ``C_ab`` the cross-covariance of the whitened views:
      the normalised cross-covariance of Fukumizu et al. (2008), the sum of
      the squared canonical correlations between the views;
    - ``"dual-gje"``: ``L_dual(W(q), W(k)) / N`` with the linear kernel and
      noise variance 0.01: the GP of Bayesian linear regression of the
      whitened EMA target on the whitened context ([GMJE]_ Appendix J),
      whose data fit falls as the squared canonical correlations rise, and
      whose log-determinant no longer changes but through the jitter.

    A loss of whitened views cannot fall by shrinking or merging dimensions,
    so nothing collapses, and every direction must be shared by the views
    to count. With ``kernel="rbf"`` (the median heuristic for ``"hsic"``,
    length scale ``sqrt(D)`` for ``"dual-gje"``, as whitened views lie about
    ``sqrt(2 D)`` apart) the embedding keeps a high rank and its nearest
    neighbours share a digit more often than with the linear kernel, but a
    linear probe learns little: a kernel's Gram matrix rewards local, not
    linear, structure.

    SMC-GMJE keeps its term by default, a deviation from [GMJE]_ Algo 2: the
    weights of [GMJE]_ Eq. 34 favour the keys nearest the queries, hard
    negatives; on translated digits (``benchmarks/bench_ssl.py``), where
    near neighbours are often the same digit (class collisions, [GMJE]_
    Section 4.6), the plain loss with a large bank collapsed the embedding,
    and a weight of 0.01 kept it spread (see the user guide). InfoNCE and
    MoCo default to 0, as published; giving them the same weight is the
    like-for-like comparison of the banks (it helps them too).

    In both banks a key stored from an earlier view of the same training row
    as a query is no negative for that query (and casts no vote in the SMC
    weights): it is a second positive, which a bank that outlives an epoch
    would otherwise hold.

    Parameters
    ----------
    objective : str, default="smc-gmje"
        One of the names above.
    encoder : {"mlp", "cnn", "cnn1d", "resnet18"} or torch.nn.Module, default="mlp"
        ``"mlp"``: :class:`~skgmje.nn.encoders.MLPEncoder` with
        ``hidden_layer_sizes``; ``"cnn"``: a small CNN for square
        single-channel images given as flat rows; ``"cnn1d"``:
        :class:`~skgmje.nn.encoders.Conv1dEncoder`, a small 1-D CNN for
        single-channel signals given as rows of time steps (slower per epoch
        than the MLP, and far more invariant: see the user guide);
        ``"resnet18"``: the
        CIFAR-style ResNet-18 for flat 3-channel images. A module is copied at
        every fit and must map ``(n, n_features)`` float32 rows to
        ``(n, embedding_dim)``.
    augment : {"tabular", "image", "signal"} or callable, default="tabular"
        ``"tabular"``: Gaussian noise (0.1) and feature masking (20%);
        ``"image"``: random shifts of up to ``max_shift`` pixels and Gaussian
        noise (0.05); ``"signal"``, for rows of time steps on a unit scale: a
        random circular shift (any rotation), a time stretch by a factor in
        ``[0.8, 1.25]``, amplitude scaling by a factor in ``[2/3, 1.5]`` and
        Gaussian noise (0.1) (:mod:`skgmje.nn.augment`). A callable
        ``augment(X, generator)`` returns one view.
    embedding_dim : int, default=32
    hidden_layer_sizes : tuple of int, default=(256,)
        Hidden widths of the ``"mlp"`` encoder.
    max_shift : int, default=2
        Largest shift of the ``"image"`` augmentation, in pixels. On
        translated digits, where the digits already sit anywhere on the
        canvas, small shifts learned more than large ones
        (``benchmarks/bench_ssl.py``).
    temperature : float, default=0.2
        InfoNCE temperature (``"infonce"``, ``"moco"``, ``"smc-gmje"``).
    entropy_weight : float or None, default=None
        Weight of the entropy term (see above); None takes the objective's
        entry of ``DEFAULT_ENTROPY_WEIGHTS``: 0.5 for ``"gje"`` and ``"gmje"``,
        0.01 for ``"smc-gmje"``, 2 for ``"gmje-mdn"``, 0 for ``"infonce"``,
        ``"moco"``, ``"dual-gje"`` and ``"hsic"`` (whitening keeps the last
        two from collapsing; with ``whiten=False`` a positive weight does).
    kernel : {"linear", "rbf"}, default="linear"
        Kernel of ``"dual-gje"`` and ``"hsic"`` (ignored by the others): the
        linear ``z^T z'`` or the RBF (see above).
    whiten : bool, default=True
        Whiten each view's batch before the ``"dual-gje"`` and ``"hsic"``
        losses (ignored by the others). False, with ``kernel="rbf"`` and
        ``entropy_weight=0``, is the paper's objective (the dual loss then
        takes the l2-normalised views, length scale 1, noise variance 0.1;
        HSIC the raw embeddings with the median heuristic).
    bank_size : int, default=64
        Keys in the ``"moco"`` and ``"smc-gmje"`` banks.
    ema_momentum : float, default=0.9
        Momentum of the target encoder (``"dual-gje"``, ``"moco"``,
        ``"smc-gmje"``). Over a few hundred steps a target at 0.99 stays far
        behind the online encoder.
    bank_tempering : float in [0, 1], default=0.6
        Exponent of the ``"smc-gmje"`` bank's [GMJE]_ Eq. 34 weights
        (:class:`~skgmje.nn.memory.SMCBank`'s ``tempering``): 1 is [GMJE]_ Algo 2,
        0 resamples the pool uniformly. On translated digits 0.6 did better
        than 1 with small and large banks (see the user guide).
    symmetric : bool, default=True
        Score both directions, view a against view b and view b against view
        a, and average the two losses (the symmetrised loss of MoCo v3 and of
        SimCLR's NT-Xent). For the EMA objectives the target encoder then
        embeds both views, and each step costs two more forward passes; the
        banks still take one batch of keys per step, so they turn over as
        fast as without. ``"gje"`` and ``"hsic"`` are symmetric in the views
        already. False is the one-directional loss of MoCo v2 and [GMJE]_ Algo 2.
    n_prototypes : int, default=16
        Prototypes of ``"gmje"``, components of ``"gmje-mdn"``, and the most
        components of ``latent_density_``.
    prototype_covariance : {"batch", "learned"}, default="batch"
        The shared covariance of ``"gmje"``: ``"batch"``, each batch's M-step
        covariance around the prototypes without gradient
        (:func:`~skgmje.nn.losses.batch_prototype_scale_tril`), so the
        Mahalanobis term aligns the views from the first step; or
        ``"learned"``, a Cholesky factor trained with the encoder (the
        paper's relaxed EM by back-propagation; with ``entropy_weight=1``
        the paper's objective). On translated digits the batch covariance
        learned the better embedding (see the user guide).
    max_epochs : int, default=50
    batch_size : int, default=256
    lr : float, default=3e-3
        Adam's learning rate.
    weight_decay : float, default=0.0
    device : str, default="cpu"
    n_threads : int or None, default=None
        torch intra-op threads while fitting and transforming; None keeps torch's.
    random_state : int, RandomState instance or None, default=None
        Seeds the weights, the batch order, the augmentations and the bank.
    verbose : int, default=0
        1 prints skorch's per-epoch table; 2 adds a progress bar per epoch.

    Attributes
    ----------
    net_ : skorch.NeuralNet
        The trained net (``module_.encoder`` is the encoder).
    latent_density_ : GMJE or None
        For ``"gmje"``, ``"gmje-mdn"`` and ``"smc-gmje"``: a :class:`GMJE` on
        the joint embeddings ``[q, k]`` of two views of the training rows
        (both by the online encoder), so :meth:`sample_embeddings` and
        :meth:`score_samples` work.
    n_features_in_ : int
    feature_names_in_ : ndarray of str
        Only when ``X`` had string column names (a pandas DataFrame).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skgmje import JointEmbedding
    >>> X, _ = load_digits(return_X_y=True)
    >>> model = JointEmbedding(embedding_dim=8, max_epochs=2, random_state=0).fit(X[:300] / 16)
    >>> model.transform(X[:5] / 16).shape
    (5, 8)
    >>> model.sample_embeddings(3, random_state=0).shape
    (3, 8)
    >>> model.score_samples(X[:2] / 16).shape
    (2,)
    >>> list(model.get_feature_names_out()[:3])
    ['jointembedding0', 'jointembedding1', 'jointembedding2']
    >>> model.set_output(transform="pandas").transform(X[:2] / 16).columns[0]
    'jointembedding0'
    """

    _parameter_constraints = {
        # The registry as it is when fitting, which a new objective may have joined.
        "objective": [Registered(REGISTRY)],
        "encoder": [StrOptions(set(ENCODERS)), nn.Module],
        "augment": [StrOptions(set(AUGMENTS)), callable],
        "embedding_dim": [positive(Integral)],
        "hidden_layer_sizes": [PositiveIntegers()],
        "max_shift": [positive(Integral, allow_zero=True)],
        "temperature": [positive()],
        "entropy_weight": [positive(allow_zero=True), None],
        "kernel": [StrOptions(set(KERNELS))],
        "whiten": ["boolean"],
        "bank_size": [positive(Integral)],
        "ema_momentum": [Interval(Real, 0, 1, closed="left")],
        "bank_tempering": [fraction(allow_zero=True)],
        "symmetric": ["boolean"],
        "n_prototypes": [positive(Integral)],
        "prototype_covariance": [StrOptions({"batch", "learned"})],
        "max_epochs": [positive(Integral)],
        "batch_size": [positive(Integral)],
        "lr": [positive()],
        "weight_decay": [positive(allow_zero=True)],
        "device": [str, torch.device],
        "n_threads": [positive(Integral), None],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
    }

    def __init__(
        self,
        objective="smc-gmje",
        *,
        encoder="mlp",
        augment="tabular",
        embedding_dim=32,
        hidden_layer_sizes=(256,),
        max_shift=2,
        temperature=0.2,
        entropy_weight=None,
        kernel="linear",
        whiten=True,
        bank_size=64,
        ema_momentum=0.9,
        bank_tempering=0.6,
        symmetric=True,
        n_prototypes=16,
        prototype_covariance="batch",
        max_epochs=50,
        batch_size=256,
        lr=3e-3,
        weight_decay=0.0,
        device="cpu",
        n_threads=None,
        random_state=None,
        verbose=0,
    ):
        self.objective = objective
        self.encoder = encoder
        self.augment = augment
        self.embedding_dim = embedding_dim
        self.hidden_layer_sizes = hidden_layer_sizes
        self.max_shift = max_shift
        self.temperature = temperature
        self.entropy_weight = entropy_weight
        self.kernel = kernel
        self.whiten = whiten
        self.bank_size = bank_size
        self.ema_momentum = ema_momentum
        self.bank_tempering = bank_tempering
        self.symmetric = symmetric
        self.n_prototypes = n_prototypes
        self.prototype_covariance = prototype_covariance
        self.max_epochs = max_epochs
        self.batch_size = batch_size
        self.lr = lr
        self.weight_decay = weight_decay
        self.device = device
        self.n_threads = n_threads
        self.random_state = random_state
        self.verbose = verbose

    def _check_parameters(self):
        validate_parameters(self)
        # Whether torch sees the device, beside its declared type.
        check_device_and_threads(self.device, self.n_threads)

    def _entropy_weight(self):
        if self.entropy_weight is not None:
            return float(self.entropy_weight)
        return REGISTRY[self.objective].default_entropy_weight

    def _make_encoder(self, n_features):
        if isinstance(self.encoder, nn.Module):
            return copy.deepcopy(self.encoder)
        if self.encoder == "mlp":
            return MLPEncoder(n_features, tuple(self.hidden_layer_sizes), self.embedding_dim)
        if self.encoder == "cnn":
            return ConvEncoder(self.embedding_dim, in_channels=1)
        if self.encoder == "cnn1d":
            return Conv1dEncoder(self.embedding_dim, in_channels=1)
        return ResNet18(self.embedding_dim, in_channels=3)

    def _make_augment(self):
        if callable(self.augment):
            return self.augment
        if self.augment == "tabular":
            return augmentations.Compose(
                augmentations.GaussianNoise(0.1), augmentations.FeatureMasking(0.2)
            )
        if self.augment == "signal":
            return augmentations.Compose(
                augmentations.CircularShift(),
                augmentations.TimeStretch(1.25),
                augmentations.AmplitudeScaling(1.5),
                augmentations.GaussianNoise(0.1),
            )
        return augmentations.Compose(
            augmentations.RandomShift(self.max_shift), augmentations.GaussianNoise(0.05)
        )

    def fit(self, X, y=None):
        """Train the encoder on two augmented views of every row of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : None
            Ignored: training is unsupervised.

        Returns
        -------
        self : object
        """
        self._check_parameters()
        check_numpy_inputs(self, X)
        with restored_on_failure(self, ("n_features_in_", "feature_names_in_", "_n_features_out")):
            return self._fit(validate_data(self, X, dtype=np.float32, ensure_min_samples=2))

    def _fit(self, X):
        seed = torch_seed(self.random_state)
        callbacks = [("ema_target", EMATarget(self.ema_momentum))]
        if REGISTRY[self.objective].records_ess:
            callbacks.append(("ess", BankESS()))
        # A last batch of one row has no covariance and no negatives.
        drop_last = len(X) > self.batch_size and len(X) % self.batch_size == 1
        self.net_ = train_net(
            lambda callbacks: self._build_net(X.shape[1], seed, callbacks, drop_last),
            # Row indices travel with the batch so a bank can tell a row's old keys from negatives.
            {"X": X, "index": np.arange(len(X))},
            seed=seed,
            device=self.device,
            n_threads=self.n_threads,
            callbacks=callbacks,
        )
        # A user's encoder module may embed to any width: ask it, for get_feature_names_out.
        self._n_features_out = self._embed(X[:1]).shape[1]
        self.latent_density_ = None
        if REGISTRY[self.objective].has_latent_density:
            self.latent_density_ = self._fit_latent_density(X, seed)
        return self

    def _build_net(self, n_features, seed, callbacks, drop_last):
        objective = REGISTRY[self.objective]
        return TwoViewNet(
            module=TwoViewModule,
            module__encoder=self._make_encoder(n_features),
            module__augment=self._make_augment(),
            module__use_ema=objective.uses_ema_target,
            module__seed=seed,
            module__symmetric=bool(self.symmetric) and not objective.view_symmetric,
            criterion=JointObjective,
            criterion__objective=self.objective,
            criterion__embedding_dim=self.embedding_dim,
            criterion__temperature=self.temperature,
            criterion__entropy_weight=self._entropy_weight(),
            criterion__n_prototypes=self.n_prototypes,
            criterion__bank_size=self.bank_size,
            criterion__bank_tempering=self.bank_tempering,
            criterion__prototype_covariance=self.prototype_covariance,
            criterion__kernel=self.kernel,
            criterion__whiten=bool(self.whiten),
            criterion__seed=seed,
            optimizer=torch.optim.Adam,
            optimizer__weight_decay=self.weight_decay,
            lr=self.lr,
            max_epochs=self.max_epochs,
            batch_size=self.batch_size,
            train_split=None,
            callbacks=callbacks,
            iterator_train__shuffle=True,
            iterator_train__drop_last=drop_last,
            device=self.device,
            verbose=self.verbose,
        )

    def _restore_net(self, module_state, history):
        """The trained encoder from saved weights (:mod:`skgmje._persistence`): what
        ``transform`` needs; the optimiser's state and the loss's banks are not kept."""
        net = self._build_net(self.n_features_in_, seed=0, callbacks=[], drop_last=False)
        return load_net_state(net, module_state, history)

    def _fit_latent_density(self, X, seed):
        module = self.net_.module_
        generator = torch.Generator().manual_seed(seed)
        view_a, view_b = module.views(torch.as_tensor(X), generator)
        query, key = self._embed(view_a), self._embed(view_b)
        # About ten rows per component at the least, so EM is not fitting single points.
        n_components = max(1, min(self.n_prototypes, len(X) // 10))
        return GMJE(n_components=n_components, reg_covar=1e-3, random_state=seed).fit(query, key)

    def _embed(self, X):
        with torch_threads(self.n_threads):
            embeddings = self.net_.forward(X, training=False)
        return embeddings.double().numpy()

    def transform(self, X):
        """Embed ``X`` with the trained encoder (no augmentation).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embedding_dim)
        """
        check_is_fitted(self)
        check_numpy_inputs(self, X)
        X = validate_data(self, X, dtype=np.float32, reset=False)
        return self._embed(X)

    def _check_density(self):
        check_is_fitted(self)
        if self.latent_density_ is None:
            raise AttributeError(
                f"objective={self.objective!r} fits no latent density; use one of "
                f"{objectives_where('has_latent_density')}."
            )

    def sample_embeddings(self, n_samples=1, random_state=None):
        """Draw embeddings from ``latent_density_`` (its marginal on the first view).

        Parameters
        ----------
        n_samples : int, default=1
        random_state : int, RandomState instance or None, default=None

        Returns
        -------
        embeddings : ndarray of shape (n_samples, embedding_dim)
        """
        self._check_density()
        embeddings, _ = self.latent_density_.sample(n_samples=n_samples, random_state=random_state)
        return embeddings

    def score_samples(self, X):
        """Log-density of each row's embedding under the latent density's first-view marginal.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        log_density : ndarray of shape (n_samples,)
        """
        self._check_density()
        embeddings = self.transform(X)
        return self.latent_density_.score_samples_context(embeddings)
