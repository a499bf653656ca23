"""JointEmbedding: the transformer contract, every objective, pipelines and the latent density."""

import pickle

import numpy as np
import pytest
import torch
from scipy.special import logsumexp
from sklearn.base import clone
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.estimator_checks import parametrize_with_checks
from torch.nn import functional as F

from skgmje._core.conditioning import context_log_prob
from skgmje.embedding import (
    DEFAULT_ENTROPY_WEIGHTS,
    DENSITY_OBJECTIVES,
    KERNEL_OBJECTIVES,
    KERNELS,
    OBJECTIVES,
    PAPER_ENTROPY_WEIGHTS,
    JointEmbedding,
    JointObjective,
    TwoViewModule,
)
from skgmje.nn.losses import (
    dual_gje_loss,
    gje_loss,
    hsic_loss,
    second_moment,
    whiten_batch,
)
from skgmje.nn.losses import jittered_cholesky as cholesky


def _tiny(objective="gmje", **params):
    defaults = dict(
        embedding_dim=4,
        hidden_layer_sizes=(16,),
        max_epochs=2,
        batch_size=32,
        bank_size=16,
        n_prototypes=3,
        random_state=0,
    )
    return JointEmbedding(**{**defaults, "objective": objective, **params})


FLOAT32_ROUNDING = (
    "the encoder runs in float32, whose matrix products round differently (~2e-7) for "
    "batches of another size; transform is otherwise row-wise"
)


@parametrize_with_checks(
    [_tiny("gmje"), _tiny("infonce"), _tiny("smc-gmje"), _tiny("hsic"), _tiny("dual-gje")],
    expected_failed_checks=lambda estimator: {
        "check_methods_subset_invariance": FLOAT32_ROUNDING,
        "check_methods_sample_order_invariance": FLOAT32_ROUNDING,
    },
)
def test_sklearn_compatible(estimator, check):
    check(estimator)


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits(return_X_y=True)
    return X[:400] / 16.0, y[:400]


@pytest.mark.parametrize("objective", OBJECTIVES)
def test_every_objective_trains_and_embeds(objective, digits):
    X, _ = digits
    model = _tiny(objective, max_epochs=3).fit(X)
    embeddings = model.transform(X[:10])
    assert embeddings.shape == (10, 4) and np.all(np.isfinite(embeddings))
    losses = model.net_.history[:, "train_loss"]
    assert len(losses) == 3 and np.all(np.isfinite(losses))
    assert (model.latent_density_ is not None) == (objective in DENSITY_OBJECTIVES)


def test_same_random_state_gives_identical_embeddings(digits):
    X, _ = digits
    first = _tiny("smc-gmje").fit(X)
    second = clone(first).fit(X)
    np.testing.assert_array_equal(first.transform(X), second.transform(X))
    other = clone(first).set_params(random_state=1).fit(X)
    assert not np.array_equal(first.transform(X), other.transform(X))


def test_pickle_round_trip_keeps_embeddings_and_density(digits):
    X, _ = digits
    model = _tiny("gmje").fit(X)
    loaded = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(loaded.transform(X[:20]), model.transform(X[:20]))
    np.testing.assert_array_equal(loaded.score_samples(X[:20]), model.score_samples(X[:20]))


def test_smc_bank_records_its_effective_sample_size(digits):
    X, _ = digits
    model = _tiny("smc-gmje", max_epochs=3).fit(X)
    bank = model.net_.criterion_.bank
    assert bank.n_keys == 16
    ess = np.asarray(bank.ess_history)
    assert len(ess) > 0 and np.all(ess >= 1.0 - 1e-9)
    per_epoch = model.net_.history[:, "ess"]
    assert len(per_epoch) == 3 and np.all(np.asarray(per_epoch) >= 1.0 - 1e-9)


def test_latent_density_samples_and_scores(digits):
    X, _ = digits
    model = _tiny("gmje").fit(X)
    samples = model.sample_embeddings(50, random_state=0)
    assert samples.shape == (50, 4)
    np.testing.assert_array_equal(samples, model.sample_embeddings(50, random_state=0))
    scores = model.score_samples(X[:30])
    assert scores.shape == (30,) and np.all(np.isfinite(scores))
    # Embeddings of the data are likelier under the density than points far away.
    far = model.transform(X[:30]) + 100.0
    far_scores = logsumexp(context_log_prob(model.latent_density_.conditioning_, far), axis=1)
    assert np.all(scores > far_scores)


def test_objectives_without_a_density_say_so(digits):
    X, _ = digits
    model = _tiny("infonce").fit(X)
    with pytest.raises(AttributeError, match="no latent density"):
        model.sample_embeddings(3)


def test_pipeline_and_grid_search_over_objective(digits):
    X, y = digits
    pipe = make_pipeline(_tiny(max_epochs=3), LogisticRegression(max_iter=500))
    search = GridSearchCV(pipe, {"jointembedding__objective": ["gmje", "infonce"]}, cv=2).fit(X, y)
    assert search.best_params_["jointembedding__objective"] in ("gmje", "infonce")
    assert search.score(X, y) > 0.3  # ten classes: far above chance


@pytest.mark.parametrize("objective", ["infonce", "moco", "smc-gmje"])
def test_entropy_weight_subtracts_the_query_log_determinant(objective):
    generator = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(12, 3, generator=generator), torch.randn(12, 3, generator=generator)
    views = (((z_a, z_b),), torch.arange(12))
    plain = JointObjective(objective, 3, 0.2, 2, 8, seed=0).eval()(views)
    weighted = JointObjective(objective, 3, 0.2, 2, 8, seed=0, entropy_weight=0.5).eval()(views)
    queries = F.normalize(z_a, dim=1)
    covariance = second_moment(queries - queries.mean(0))
    log_det = 2.0 * torch.log(torch.diagonal(cholesky(covariance, 1e-4))).sum()
    assert torch.isclose(weighted, plain - 0.5 * log_det, atol=1e-5)


def _entropy(z):
    z = F.normalize(z, dim=1)
    return 2.0 * torch.log(torch.diagonal(cholesky(second_moment(z - z.mean(0)), 1e-4))).sum()


def test_entropy_weight_is_the_paper_objective_plus_the_stated_term():
    generator = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(12, 3, generator=generator), torch.randn(12, 3, generator=generator)
    views = (((z_a, z_b),), torch.arange(12))

    def loss(objective, weight):
        return JointObjective(objective, 3, 0.2, 2, 8, seed=0, entropy_weight=weight).eval()(views)

    query, key = F.normalize(z_a, dim=1), F.normalize(z_b, dim=1)
    # The paper's objectives at PAPER_ENTROPY_WEIGHTS ...
    assert torch.isclose(loss("gje", PAPER_ENTROPY_WEIGHTS["gje"]), gje_loss(z_a, z_b))
    assert torch.isclose(loss("hsic", PAPER_ENTROPY_WEIGHTS["hsic"]), hsic_loss(z_a, z_b))
    paper_dual = dual_gje_loss(query, key) / 12
    assert torch.isclose(loss("dual-gje", PAPER_ENTROPY_WEIGHTS["dual-gje"]), paper_dual)
    # ... and the added terms of the user guide.
    assert torch.isclose(loss("gje", 0.5), gje_loss(z_a, z_b, lam=0.5))
    assert torch.isclose(loss("dual-gje", 0.1), paper_dual - 0.1 * _entropy(z_a), atol=1e-5)
    expected = hsic_loss(z_a, z_b) - 0.01 / 2 * (_entropy(z_a) + _entropy(z_b))
    assert torch.isclose(loss("hsic", 0.01), expected, atol=1e-6)
    prototypes = JointObjective("gmje", 3, 0.2, 2, 8, seed=0, entropy_weight=0.3).prototypes
    assert prototypes.lam == 0.3 and prototypes.covariance == "learned"
    batch = JointObjective("gmje", 3, 0.2, 2, 8, seed=0, prototype_covariance="batch").prototypes
    assert batch.covariance == "batch"
    assert JointEmbedding().prototype_covariance == "batch"
    for objective in OBJECTIVES:
        assert _tiny(objective)._entropy_weight() == DEFAULT_ENTROPY_WEIGHTS[objective]


def test_the_mdn_head_starts_by_predicting_that_the_views_agree():
    torch.manual_seed(0)
    head = JointObjective("gmje-mdn", 4, 0.2, 3, 8, seed=0).head
    context = F.normalize(torch.randn(5, 4), dim=1)
    _, means, scale_tril = head(context)
    torch.testing.assert_close(means, context[:, None, :].expand(5, 3, 4), atol=0.1, rtol=0)
    assert not torch.allclose(means[:, 0], means[:, 1])  # the components start apart
    torch.testing.assert_close(
        torch.diagonal(scale_tril, dim1=-2, dim2=-1), torch.full((5, 3, 4), 0.11)
    )


def test_whitened_kernel_objectives_are_the_stated_losses():
    generator = torch.Generator().manual_seed(3)
    z_a, z_b = torch.randn(40, 3, generator=generator), torch.randn(40, 3, generator=generator)
    views = (((z_a, z_b),), torch.arange(40))

    def loss(objective, kernel):
        criterion = JointObjective(objective, 3, 0.2, 2, 8, seed=0, kernel=kernel, whiten=True)
        return criterion.eval()(views)

    white_a, white_b = whiten_batch(z_a), whiten_batch(z_b)
    for kernel in KERNELS:
        assert torch.isclose(loss("hsic", kernel), hsic_loss(white_a, white_b, kernel=kernel))
    linear = dual_gje_loss(white_a, white_b, kernel="linear", noise_variance=0.01) / 40
    assert torch.isclose(loss("dual-gje", "linear"), linear)
    rbf = dual_gje_loss(white_a, white_b, length_scale=3**0.5, noise_variance=0.01) / 40
    assert torch.isclose(loss("dual-gje", "rbf"), rbf)
    # The whitened batch has no units: rescaling and shifting a view changes nothing.
    moved = (((100.0 * z_a - 3.0, 0.01 * z_b),), torch.arange(40))
    for objective in KERNEL_OBJECTIVES:
        criterion = JointObjective(objective, 3, 0.2, 2, 8, seed=0, kernel="linear", whiten=True)
        assert torch.isclose(criterion.eval()(moved), loss(objective, "linear"), rtol=1e-4)


@pytest.mark.parametrize("objective", KERNEL_OBJECTIVES)
def test_whitening_keeps_the_kernel_objectives_from_collapsing(objective, digits):
    X, _ = digits

    def rank(model):
        eigenvalues = np.clip(np.linalg.eigvalsh(np.cov(model.transform(X), rowvar=False)), 0, None)
        shares = eigenvalues[eigenvalues > 0] / eigenvalues.sum()
        return float(np.exp(-np.sum(shares * np.log(shares))))

    params = dict(embedding_dim=8, max_epochs=15, random_state=0)
    unwhitened = dict(kernel="rbf", whiten=False, **params)
    paper = JointEmbedding(objective, entropy_weight=0.0, **unwhitened)
    entropy_only = JointEmbedding(objective, entropy_weight=0.1, **unwhitened)
    assert JointEmbedding(objective).get_params()["whiten"]
    assert rank(paper.fit(X)) < 2.0
    assert rank(entropy_only.fit(X)) > 4.0
    assert rank(JointEmbedding(objective, **params).fit(X)) > 4.0


@pytest.mark.parametrize("objective", ["gmje", "infonce", "dual-gje"])
def test_symmetric_loss_is_the_mean_of_the_two_directions(objective):
    generator = torch.Generator().manual_seed(1)
    z_a, z_b = torch.randn(12, 3, generator=generator), torch.randn(12, 3, generator=generator)
    index = torch.arange(12)
    criterion = JointObjective(objective, 3, 0.2, 2, 8, seed=0).eval()
    both = criterion((((z_b, z_a), (z_a, z_b)), index))
    one_way = [criterion((((q, k),), index)) for q, k in ((z_b, z_a), (z_a, z_b))]
    assert torch.isclose(both, (one_way[0] + one_way[1]) / 2, atol=1e-6)
    assert not torch.isclose(one_way[0], one_way[1], atol=1e-3)


@pytest.mark.parametrize("objective", ["moco", "smc-gmje"])
def test_symmetric_loss_scores_both_pairs_against_the_bank_before_one_update(objective):
    generator = torch.Generator().manual_seed(2)
    old_keys, new_keys, other_keys, queries = (
        torch.randn(4, 3, generator=generator) for _ in range(4)
    )
    criterion = JointObjective(objective, 3, 0.2, 2, 4, seed=0).train()
    criterion((((queries, old_keys),), torch.arange(4)))
    bank_before = criterion.bank.keys.clone()
    index = torch.arange(4, 8)
    swapped = criterion.bank.logits(
        F.normalize(queries, dim=1), F.normalize(other_keys, dim=1), 0.2, ids=index
    )
    expected_swapped = F.cross_entropy(swapped, 4 + torch.arange(4))
    loss = criterion((((queries, other_keys), (queries, new_keys)), index))
    fresh = JointObjective(objective, 3, 0.2, 2, 4, seed=0).eval()
    fresh.bank.update(bank_before)
    expected_last = F.cross_entropy(
        fresh.bank.logits(
            F.normalize(queries, dim=1), F.normalize(new_keys, dim=1), 0.2, ids=index
        ),
        4 + torch.arange(4),
    )
    assert torch.isclose(loss, (expected_swapped + expected_last) / 2, atol=1e-5)
    # One batch of keys per step, from the last pair: the bank turns over as without symmetry.
    assert criterion.bank.n_keys == 4
    pool = torch.cat([bank_before, F.normalize(new_keys, dim=1)])
    assert all(torch.isclose(pool, key, atol=1e-6).all(1).any() for key in criterion.bank.keys)
    assert not any(
        torch.isclose(F.normalize(other_keys, dim=1), key, atol=1e-6).all(1).any()
        for key in criterion.bank.keys
    )


@pytest.mark.parametrize("use_ema", [False, True])
def test_symmetric_module_adds_the_swapped_pair(use_ema):
    def noise(X, generator):
        return X + torch.randn(X.shape, generator=generator)

    encoder = torch.nn.Linear(5, 3)
    module = TwoViewModule(encoder, noise, use_ema, seed=0, symmetric=True).train()
    target = encoder
    if use_ema:
        target = module.target_encoder
        with torch.no_grad():
            target.weight.mul_(2.0)  # tell the target from the online encoder
    X = torch.randn(6, 5)
    view_a, view_b = module.views(X, torch.Generator().manual_seed(0))
    (swapped, straight), index = module(X, torch.arange(6))
    with torch.no_grad():
        expected = ((encoder(view_b), target(view_a)), (encoder(view_a), target(view_b)))
    for pair, expected_pair in zip((swapped, straight), expected):
        for got, want in zip(pair, expected_pair):
            assert torch.allclose(got, want, atol=1e-6)
    assert torch.equal(index, torch.arange(6))
    assert straight[1].requires_grad is not use_ema
    module.symmetric = False
    module.generator.manual_seed(0)
    (only,), _ = module(X)
    assert torch.allclose(only[0], straight[0]) and torch.allclose(only[1], straight[1])


def test_entropy_weight_defaults_to_the_objective_and_spreads_the_embedding(digits):
    X, _ = digits
    assert _tiny("smc-gmje")._entropy_weight() == 0.01
    assert _tiny("moco")._entropy_weight() == 0.0
    assert _tiny("moco", entropy_weight=0.3)._entropy_weight() == 0.3

    def log_det(model):
        # The term acts on the normalised queries, so their spread is what it widens.
        embeddings = model.transform(X)
        embeddings /= np.linalg.norm(embeddings, axis=1, keepdims=True)
        return np.linalg.slogdet(np.cov(embeddings, rowvar=False))[1]

    plain = _tiny("smc-gmje", entropy_weight=0.0, max_epochs=5).fit(X)
    spread = _tiny("smc-gmje", entropy_weight=1.0, max_epochs=5).fit(X)
    assert log_det(spread) > log_det(plain)


def test_image_encoder_and_augmentation(digits):
    X, _ = digits
    model = _tiny("infonce", encoder="cnn", augment="image", max_shift=1).fit(X[:64])
    assert model.transform(X[:3]).shape == (3, 4)


def test_signal_augmentation_and_encoder():
    from skgmje.datasets import make_waveforms

    X, _ = make_waveforms(64, n_timesteps=32, random_state=0)
    model = _tiny("smc-gmje", encoder="cnn1d", augment="signal").fit(X)
    assert model.transform(X[:3]).shape == (3, 4)


def test_defaults_learn_shift_invariant_features_of_waveforms():
    from sklearn.model_selection import train_test_split

    from skgmje.datasets import make_waveforms

    X, y = make_waveforms(1200, n_timesteps=64, random_state=0)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=0.3, stratify=y, random_state=0
    )

    def probe(train, test):
        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
        return model.fit(train, y_train).score(test, y_test)

    # Batches of 128: about as many steps as the benchmark's 60 epochs on 1400 windows.
    embedder = JointEmbedding(augment="signal", max_epochs=60, batch_size=128, random_state=0)
    embedder.fit(X_train)
    learned = probe(embedder.transform(X_train), embedder.transform(X_test))
    assert learned > probe(X_train, X_test) + 0.15


@pytest.mark.parametrize(
    "params, message",
    [
        ({"objective": "byol"}, "objective"),
        ({"prototype_covariance": "ema"}, "prototype_covariance"),
        ({"encoder": "vit"}, "encoder"),
        ({"encoder": 3}, "encoder"),
        ({"augment": "audio"}, "augment"),
        ({"augment": 3}, "augment"),
        ({"embedding_dim": 0}, "embedding_dim"),
        ({"temperature": 0.0}, "temperature"),
        ({"entropy_weight": -0.1}, "entropy_weight"),
        ({"ema_momentum": 1.0}, "ema_momentum"),
        ({"symmetric": "yes"}, "symmetric"),
        ({"whiten": "yes"}, "whiten"),
        ({"kernel": "poly"}, "kernel"),
        ({"bank_tempering": 1.5}, "bank_tempering"),
        ({"bank_tempering": "half"}, "bank_tempering"),
        ({"max_epochs": 0}, "max_epochs"),
        ({"lr": -1.0}, "lr"),
    ],
)
def test_invalid_parameters_are_named(params, message, digits):
    X, _ = digits
    with pytest.raises(ValueError, match=message):
        _tiny(**params).fit(X[:50])


def test_feature_names_and_pandas_output_in_a_column_transformer(digits):
    pd = pytest.importorskip("pandas")
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder

    X, y = digits
    pixels = [f"pixel{i}" for i in range(X.shape[1])]
    frame = pd.DataFrame(X, columns=pixels).assign(group=np.where(y % 2 == 0, "even", "odd"))
    columns = ColumnTransformer(
        [
            ("embed", _tiny("infonce"), pixels),
            ("group", OneHotEncoder(sparse_output=False), ["group"]),
        ]
    )
    pipeline = make_pipeline(columns, LogisticRegression(max_iter=500)).set_output(
        transform="pandas"
    )
    pipeline.fit(frame, y)
    features = pipeline[0].transform(frame)
    embedding = pipeline[0].named_transformers_["embed"]
    expected = [f"embed__jointembedding{i}" for i in range(4)] + [
        "group__group_even",
        "group__group_odd",
    ]
    assert list(features.columns) == expected
    assert list(pipeline[0].get_feature_names_out()) == expected
    assert list(embedding.feature_names_in_) == pixels
    np.testing.assert_allclose(
        features.iloc[:, :4].to_numpy(),
        embedding.set_output(transform="default").transform(frame[pixels]),
    )
    assert pipeline.score(frame, y) > 0.5


def test_feature_names_follow_a_custom_encoder_width(digits):
    X, _ = digits
    encoder = torch.nn.Sequential(torch.nn.Linear(64, 7))
    model = _tiny("infonce", encoder=encoder).fit(X)
    assert list(model.get_feature_names_out()) == [f"jointembedding{i}" for i in range(7)]
    frame = model.set_output(transform="pandas").transform(X[:3])
    assert frame.shape == (3, 7) and frame.columns[-1] == "jointembedding6"
