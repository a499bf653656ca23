"""The torch objectives of skgmje.nn.losses against NumPy/SciPy references and identities."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp

from skgmje._core import gaussian
from skgmje._core.gp import exact_dual_loss, fourier_dual_loss
from skgmje.nn.losses import (
    PrototypeGMJE,
    batch_prototype_scale_tril,
    dual_gje_loss,
    gje_loss,
    gmje_mdn_loss,
    hsic_loss,
    infonce_from_logits,
    infonce_loss,
    naive_joint_nll,
    prototype_gmje_loss,
    sample_fourier_basis,
    second_moment,
    smc_infonce_loss,
    whiten_batch,
)
from skgmje.nn.losses import jittered_cholesky as cholesky

FAST = settings(max_examples=25, deadline=None)
DOUBLE = torch.float64


def _randn(generator, *shape):
    return torch.randn(*shape, generator=generator, dtype=DOUBLE)


def _views(seed, n=12, d_a=2, d_b=3):
    generator = torch.Generator().manual_seed(seed)
    z_a = _randn(generator, n, d_a)
    z_b = z_a @ _randn(generator, d_a, d_b) + 0.5 * _randn(generator, n, d_b)
    return z_a, z_b


def _random_cholesky(generator, *shape):
    factor = _randn(generator, *shape).tril()
    factor.diagonal(dim1=-2, dim2=-1).copy_(0.5 + torch.rand(shape[:-1], generator=generator))
    return factor


def _spd(generator, dim):
    factor = _random_cholesky(generator, dim, dim)
    return factor @ factor.T


def _grad(output, inputs):
    return torch.autograd.grad(output, inputs, retain_graph=True)


# --- Cholesky with jitter ----------------------------------------------------------------------


def test_cholesky_matches_the_numpy_core():
    matrix = _spd(torch.Generator().manual_seed(0), 4)
    expected = gaussian.cholesky(matrix.numpy() + 1e-3 * np.eye(4))
    np.testing.assert_allclose(cholesky(matrix, 1e-3).numpy(), expected, rtol=1e-12)


def test_cholesky_grows_the_jitter_of_a_singular_matrix():
    singular = torch.ones(3, 3, dtype=DOUBLE)
    factor = cholesky(singular)
    reconstruction = factor @ factor.T
    assert torch.allclose(reconstruction, singular, atol=1e-6)
    assert torch.all(torch.diagonal(factor) > 0)


@pytest.mark.parametrize(
    "matrix, message",
    [
        (torch.tensor([[1.0, float("nan")], [float("nan"), 1.0]]), "NaN"),
        (-torch.eye(2), "not positive definite"),
    ],
)
def test_cholesky_rejects_nan_and_indefinite_matrices(matrix, message):
    with pytest.raises(ValueError, match=message):
        cholesky(matrix)


# --- the Mahalanobis trace trap ----------------------------------------------------------------


@FAST
@given(
    n_samples=st.integers(8, 30),
    d_a=st.integers(1, 3),
    d_b=st.integers(1, 3),
    seed=st.integers(0, 10_000),
)
def test_naive_mahalanobis_term_is_the_constant_D_without_gradient(n_samples, d_a, d_b, seed):
    z_a, z_b = _views(seed, n_samples, d_a, d_b)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    _, terms = naive_joint_nll(z_a, z_b, return_terms=True)
    assert terms["mahalanobis"].item() == pytest.approx(d_a + d_b, abs=1e-10)
    for gradient in _grad(terms["mahalanobis"], (z_a, z_b)):
        assert float(gradient.abs().max()) < 1e-10
    # The log-determinant, left alone, does move the embeddings (towards collapse).
    assert float(_grad(terms["log_det"], z_a)[0].abs().max()) > 1e-3


def test_naive_joint_nll_matches_the_numpy_joint_log_density():
    z_a, z_b = _views(1)
    z = torch.cat([z_a, z_b], dim=1).numpy()
    covariance = z.T @ z / len(z)
    log_density = gaussian.log_density(z, np.zeros(z.shape[1]), covariance)
    expected = -2.0 * log_density.mean() - z.shape[1] * gaussian.LOG_2PI
    assert float(naive_joint_nll(z_a, z_b)) == pytest.approx(expected, rel=1e-10)


@FAST
@given(seed=st.integers(0, 10_000), n_prototypes=st.integers(1, 4))
def test_prototype_data_fit_keeps_its_gradient(seed, n_prototypes):
    z_a, z_b = _views(seed)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    generator = torch.Generator().manual_seed(seed)
    prototypes = _randn(generator, n_prototypes, 5)
    scale_tril = _random_cholesky(generator, 5, 5)
    _, terms = prototype_gmje_loss(
        z_a, z_b, prototypes, torch.zeros(n_prototypes, dtype=DOUBLE), scale_tril, return_terms=True
    )
    # The NLL depends on the embeddings only through the Mahalanobis data-fit term.
    gradient = torch.cat([g.flatten() for g in _grad(terms["nll"], (z_a, z_b))])
    assert float(gradient.abs().max()) > 1e-3


# --- primal GJE with the entropy fix ----------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("eps", [0.0, 1e-2])
def test_gje_alignment_is_the_numpy_conditional_nll(seed, eps):
    z_a, z_b = _views(seed)
    covariance = _spd(torch.Generator().manual_seed(seed + 100), 5)
    _, terms = gje_loss(z_a, z_b, eps=eps, covariance=covariance, return_terms=True)
    conditional = gaussian.condition(np.zeros(5), covariance.numpy() + eps * np.eye(5), 2)
    mean = z_a.numpy() @ conditional.coef.T + conditional.intercept
    log_density = gaussian.log_density(z_b.numpy(), mean, conditional.covariance)
    expected = -2.0 * log_density.mean() - 3 * gaussian.LOG_2PI
    assert float(terms["alignment"]) == pytest.approx(expected, rel=1e-9)


def _numpy_log_det(covariance, entropy, n_first=2):
    if entropy == "joint":
        return np.linalg.slogdet(covariance)[1]
    first, second = covariance[:n_first, :n_first], covariance[n_first:, n_first:]
    return np.linalg.slogdet(first)[1] + np.linalg.slogdet(second)[1]


@pytest.mark.parametrize("entropy", ["joint", "views"])
def test_gje_entropy_is_the_log_determinant_of_the_batch_covariance(entropy):
    z_a, z_b = _views(3)
    eps, lam = 1e-3, 0.3
    loss, terms = gje_loss(
        z_a, z_b, entropy_weight=lam, eps=eps, entropy=entropy, return_terms=True
    )
    z = torch.cat([z_a, z_b], dim=1).numpy()
    moment = z.T @ z / len(z) + eps * np.eye(5)
    expected = _numpy_log_det(moment, entropy)
    assert float(terms["entropy"]) == pytest.approx(expected, rel=1e-10)
    assert float(loss) == pytest.approx(float(terms["alignment"]) - lam * expected, rel=1e-10)


def test_gje_without_covariance_conditions_on_the_batch_under_a_stop_gradient():
    z_a, z_b = _views(4)
    z_a.requires_grad_(True)
    z_b.requires_grad_(True)
    implicit = gje_loss(z_a, z_b)
    moment = second_moment(torch.cat([z_a, z_b], dim=1)).detach()
    explicit = gje_loss(z_a, z_b, covariance=moment)
    assert implicit.item() == pytest.approx(explicit.item(), rel=1e-12)
    for left, right in zip(_grad(implicit, (z_a, z_b)), _grad(explicit, (z_a, z_b))):
        assert torch.allclose(left, right, rtol=1e-10, atol=1e-12)


def test_gje_alignment_pull_dies_at_lam_one_with_the_joint_entropy():
    # cond. Mahalanobis(stop-grad S) - log|S| = (joint Mahalanobis - log|S|) - marginal
    # Mahalanobis of z_a: the first bracket is the trace trap, so z_b feels no gradient.
    z_a, z_b = _views(5)
    z_b.requires_grad_(True)
    (trapped,) = _grad(gje_loss(z_a, z_b, entropy_weight=1.0, eps=0.0, entropy="joint"), z_b)
    assert float(trapped.abs().max()) < 1e-10
    for lam, entropy in ((0.5, "joint"), (1.0, "views")):
        (pulled,) = _grad(gje_loss(z_a, z_b, entropy_weight=lam, eps=0.0, entropy=entropy), z_b)
        assert float(pulled.abs().max()) > 1e-3


def test_gje_prefers_aligned_views():
    generator = torch.Generator().manual_seed(6)
    z_a = torch.nn.functional.normalize(_randn(generator, 64, 4), dim=1)
    aligned = torch.nn.functional.normalize(z_a + 0.05 * _randn(generator, 64, 4), dim=1)
    unrelated = torch.nn.functional.normalize(_randn(generator, 64, 4), dim=1)
    for entropy in ("joint", "views"):
        assert gje_loss(z_a, aligned, entropy=entropy) < gje_loss(z_a, unrelated, entropy=entropy)


def test_gje_rejects_an_unknown_entropy():
    with pytest.raises(ValueError, match="entropy"):
        gje_loss(*_views(0), entropy="marginal")


# --- dual GJE ------------------------------------------------------------------------------------


def _rbf_gram(X, amplitude, length_scale, noise_variance):
    scaled = X / length_scale
    distances = np.sum((scaled[:, None, :] - scaled[None, :, :]) ** 2, axis=-1)
    return amplitude * np.exp(-0.5 * distances) + noise_variance * np.eye(len(X))


@pytest.mark.parametrize("length_scale", [0.7, np.array([0.5, 2.0])])
def test_exact_dual_loss_equals_the_numpy_loss(length_scale):
    generator = torch.Generator().manual_seed(0)
    X, T = _randn(generator, 15, 2), _randn(generator, 15, 3)
    loss = dual_gje_loss(
        X, T, torch.as_tensor(length_scale, dtype=DOUBLE), amplitude=1.7, noise_variance=0.2
    )
    gram = _rbf_gram(X.numpy(), 1.7, length_scale, 0.2)
    assert float(loss) == pytest.approx(exact_dual_loss(gram, T.numpy()).loss, rel=1e-10)


def test_linear_dual_loss_equals_the_numpy_loss():
    generator = torch.Generator().manual_seed(1)
    X, T = _randn(generator, 10, 3), _randn(generator, 10, 2)
    loss = dual_gje_loss(X, T, kernel="linear", amplitude=0.5, noise_variance=0.3)
    gram = 0.5 * X.numpy() @ X.numpy().T + 0.3 * np.eye(10)
    assert float(loss) == pytest.approx(exact_dual_loss(gram, T.numpy()).loss, rel=1e-10)


@pytest.mark.parametrize("length_scale", [0.8, np.array([0.5, 1.5])])
def test_fourier_dual_loss_equals_the_numpy_loss(length_scale):
    generator = torch.Generator().manual_seed(2)
    X, T = _randn(generator, 20, 2), _randn(generator, 20, 3)
    W, b = sample_fourier_basis(7, 2, generator, dtype=DOUBLE)
    loss = dual_gje_loss(
        X, T, torch.as_tensor(length_scale, dtype=DOUBLE), 1.3, 0.15, base_frequencies=W, phases=b
    )
    expected = fourier_dual_loss(
        X.numpy(), T.numpy(), W.numpy(), b.numpy(), 1.3, length_scale, 0.15
    )
    assert float(loss) == pytest.approx(expected.loss, rel=1e-10)


def test_fourier_dual_loss_approaches_the_exact_loss_as_features_grow():
    generator = torch.Generator().manual_seed(3)
    X = _randn(generator, 30, 2)
    T = torch.sin(2.0 * X)
    exact = float(dual_gje_loss(X, T, noise_variance=0.05))
    errors = []
    for n_features in (10, 100, 1000):
        trials = []
        for _ in range(3):
            W, b = sample_fourier_basis(n_features, 2, generator, dtype=DOUBLE)
            approximate = dual_gje_loss(X, T, noise_variance=0.05, base_frequencies=W, phases=b)
            trials.append(abs(float(approximate) - exact) / abs(exact))
        errors.append(np.mean(trials))
    assert errors[0] > errors[1] > errors[2]
    assert errors[2] < 0.05


def test_dual_loss_treats_the_target_as_a_constant():
    generator = torch.Generator().manual_seed(4)
    X = _randn(generator, 8, 2).requires_grad_(True)
    T = _randn(generator, 8, 2).requires_grad_(True)
    dual_gje_loss(X, T).backward()
    assert T.grad is None
    assert float(X.grad.abs().max()) > 0


@pytest.mark.parametrize(
    "params, message",
    [
        (dict(kernel="cosine"), "kernel"),
        (dict(phases=torch.zeros(3, dtype=DOUBLE)), "both"),
        (
            dict(kernel="linear", base_frequencies=torch.zeros(3, 2), phases=torch.zeros(3)),
            "RBF",
        ),
    ],
)
def test_dual_loss_rejects_bad_options(params, message):
    X = torch.zeros(4, 2, dtype=DOUBLE)
    with pytest.raises(ValueError, match=message):
        dual_gje_loss(X, X, **params)


# --- HSIC ----------------------------------------------------------------------------------------


def _numpy_hsic(K, L):
    n = len(K)
    H = np.eye(n) - np.ones((n, n)) / n
    return np.trace(K @ H @ L @ H) / (n - 1) ** 2


def _numpy_rbf(Z, squared_length_scale):
    distances = np.sum((Z[:, None, :] - Z[None, :, :]) ** 2, axis=-1)
    return np.exp(-0.5 * distances / squared_length_scale)


def _off_diagonal_median(Z):
    distances = np.sum((Z[:, None, :] - Z[None, :, :]) ** 2, axis=-1)
    n = len(Z)
    # torch.median returns the lower of the two middle values.
    return np.sort(distances[~np.eye(n, dtype=bool)])[(n * (n - 1) - 1) // 2]


def test_hsic_matches_the_numpy_trace_formula():
    z_a, z_b = _views(0)
    a, b = z_a.numpy(), z_b.numpy()
    assert float(hsic_loss(z_a, z_b, length_scale=1.3)) == pytest.approx(
        -_numpy_hsic(_numpy_rbf(a, 1.69), _numpy_rbf(b, 1.69)), rel=1e-10
    )
    median_gram_a = _numpy_rbf(a, _off_diagonal_median(a))
    median_gram_b = _numpy_rbf(b, _off_diagonal_median(b))
    assert float(hsic_loss(z_a, z_b)) == pytest.approx(
        -_numpy_hsic(median_gram_a, median_gram_b), rel=1e-10
    )


def test_linear_hsic_is_the_squared_cross_covariance_norm():
    z_a, z_b = _views(1)
    a = z_a.numpy() - z_a.numpy().mean(0)
    b = z_b.numpy() - z_b.numpy().mean(0)
    expected = np.sum((a.T @ b) ** 2) / (len(a) - 1) ** 2
    assert float(hsic_loss(z_a, z_b, kernel="linear")) == pytest.approx(-expected, rel=1e-10)


def test_whiten_batch_gives_identity_covariance_whatever_the_units_and_mixing():
    generator = torch.Generator().manual_seed(3)
    z = _randn(generator, 200, 3)
    mixing = torch.tensor([[3.0, 1.0, 0.0], [0.0, 1e-3, 0.0], [0.5, 0.0, 20.0]], dtype=DOUBLE)
    mixed = 1e4 * z @ mixing - 7.0
    white, mixed_white = whiten_batch(z, eps=0.0), whiten_batch(mixed, eps=0.0)
    torch.testing.assert_close(second_moment(white), torch.eye(3, dtype=DOUBLE))
    torch.testing.assert_close(mixed_white.mean(0), torch.zeros(3, dtype=DOUBLE))
    # Whitenings of linearly related batches differ by a rotation: the Gram matrices agree.
    torch.testing.assert_close(mixed_white @ mixed_white.T, white @ white.T)


def test_whiten_batch_damps_a_dimension_below_its_relative_jitter():
    generator = torch.Generator().manual_seed(4)
    z = _randn(generator, 500, 2) * torch.tensor([1.0, 1e-3], dtype=DOUBLE)
    variances = second_moment(whiten_batch(z)).diagonal()
    # Jitter 1e-2 of the mean variance (about 0.5): the strong dimension stays near unit
    # variance, the one with variance 1e-6 is damped to about 1e-6 / 5e-3.
    assert float(variances[0]) == pytest.approx(1.0, rel=0.02)
    assert float(variances[1]) == pytest.approx(2e-4, rel=0.1)


def test_whiten_batch_maps_a_constant_batch_to_zeros():
    constant = torch.full((5, 3), 2.5, dtype=DOUBLE, requires_grad=True)
    white = whiten_batch(constant)
    torch.testing.assert_close(white, torch.zeros(5, 3, dtype=DOUBLE))
    white.sum().backward()
    assert bool(torch.isfinite(constant.grad).all())


def test_linear_hsic_of_whitened_views_is_the_sum_of_squared_canonical_correlations():
    z_a, z_b = _views(5, n=40, d_a=3, d_b=4)
    a = z_a.numpy() - z_a.numpy().mean(0)
    b = z_b.numpy() - z_b.numpy().mean(0)
    correlations = np.linalg.svd(np.linalg.qr(a)[0].T @ np.linalg.qr(b)[0], compute_uv=False)
    n = len(a)
    # Whitened to covariance I with 1/N, the cross-covariance of (N - 1)^-2 tr(K H L H)
    # is N / (N - 1) times the canonical correlation matrix.
    expected = (n / (n - 1)) ** 2 * np.sum(correlations**2)
    loss = hsic_loss(whiten_batch(z_a, eps=0.0), whiten_batch(z_b, eps=0.0), kernel="linear")
    assert float(loss) == pytest.approx(-expected, rel=1e-8)
    assert 0.0 < np.sum(correlations**2) <= 3.0


def test_hsic_vanishes_for_a_collapsed_view_and_grows_with_dependence():
    z_a, z_b = _views(2)
    assert float(hsic_loss(z_a, torch.ones_like(z_b))) == pytest.approx(0.0, abs=1e-12)
    assert hsic_loss(z_a, z_a) < hsic_loss(z_a, z_b[torch.randperm(len(z_b))]) <= 0


# --- prototype GMJE -------------------------------------------------------------------------------


def _prototype_inputs(seed, n_prototypes=3, component=False):
    z_a, z_b = _views(seed)
    generator = torch.Generator().manual_seed(seed + 1)
    prototypes = _randn(generator, n_prototypes, 5)
    logits = _randn(generator, n_prototypes)
    shape = (n_prototypes, 5, 5) if component else (5, 5)
    return z_a, z_b, prototypes, logits, _random_cholesky(generator, *shape)


def _numpy_mixture_log_density(z, prototypes, logits, scale_tril):
    covariance = scale_tril @ np.swapaxes(scale_tril, -1, -2)
    log_weights = logits - logsumexp(logits)
    components = gaussian.log_density(z[:, None, :], prototypes[None], covariance)
    return logsumexp(log_weights + components, axis=1)


@pytest.mark.parametrize("component", [False, True])
@pytest.mark.parametrize("seed", [0, 1])
def test_prototype_nll_is_the_mixture_nll_without_its_constant(component, seed):
    z_a, z_b, prototypes, logits, scale_tril = _prototype_inputs(seed, component=component)
    _, terms = prototype_gmje_loss(z_a, z_b, prototypes, logits, scale_tril, return_terms=True)
    z = torch.cat([z_a, z_b], dim=1).numpy()
    log_density = _numpy_mixture_log_density(
        z, prototypes.numpy(), logits.numpy(), scale_tril.numpy()
    )
    expected = -log_density.mean() - 2.5 * gaussian.LOG_2PI
    assert float(terms["nll"]) == pytest.approx(expected, rel=1e-10)


def test_per_component_form_with_equal_covariances_is_the_shared_form():
    z_a, z_b, prototypes, logits, scale_tril = _prototype_inputs(2)
    shared = prototype_gmje_loss(z_a, z_b, prototypes, logits, scale_tril)
    stacked = prototype_gmje_loss(z_a, z_b, prototypes, logits, scale_tril.expand(3, 5, 5))
    assert float(stacked) == pytest.approx(float(shared), rel=1e-12)


@pytest.mark.parametrize("entropy", ["joint", "views"])
def test_prototype_entropy_is_the_log_determinant_of_the_ema_covariance(entropy):
    z_a, z_b, prototypes, logits, scale_tril = _prototype_inputs(3)
    ema = _spd(torch.Generator().manual_seed(9), 5)
    lam, eps, momentum = 0.7, 1e-3, 0.8
    loss, terms = prototype_gmje_loss(
        z_a,
        z_b,
        prototypes,
        logits,
        scale_tril,
        entropy_weight=lam,
        eps=eps,
        covariance_ema=ema,
        ema_momentum=momentum,
        entropy=entropy,
        return_terms=True,
    )
    z = torch.cat([z_a, z_b], dim=1).numpy()
    covariance = momentum * ema.numpy() + (1 - momentum) * z.T @ z / len(z) + eps * np.eye(5)
    expected = _numpy_log_det(covariance, entropy)
    assert float(terms["entropy"]) == pytest.approx(expected, rel=1e-10)
    assert float(loss) == pytest.approx(float(terms["nll"]) - lam * expected, rel=1e-10)


def test_prototype_module_builds_valid_factors_and_tracks_the_covariance():
    torch.manual_seed(0)
    objective = PrototypeGMJE(n_joint=4, n_prototypes=3, ema_momentum=0.75).double()
    factor = objective.scale_tril()
    assert torch.equal(factor, factor.tril()) and torch.all(torch.diagonal(factor) > 0)
    first, second = _views(0, d_a=2, d_b=2), _views(1, d_a=2, d_b=2)
    moments = [second_moment(torch.cat(views, dim=1)) for views in (first, second)]

    loss = objective(*first)
    expected = prototype_gmje_loss(
        *first, objective.prototypes, objective.mixing_logits, factor, entropy_weight=1.0, eps=1e-4
    )
    assert loss.item() == pytest.approx(expected.item(), rel=1e-12)
    assert torch.allclose(objective.covariance_ema, moments[0])  # the first batch sets it
    loss.backward()
    assert all(p.grad is not None for p in objective.parameters())

    objective(*second)
    assert torch.allclose(objective.covariance_ema, 0.75 * moments[0] + 0.25 * moments[1])
    objective.eval()
    objective(*first)
    assert torch.allclose(objective.covariance_ema, 0.75 * moments[0] + 0.25 * moments[1])


def test_prototype_module_per_component_factors():
    objective = PrototypeGMJE(n_joint=3, n_prototypes=2, covariance_type="full")
    factor = objective.scale_tril()
    assert factor.shape == (2, 3, 3)
    assert torch.equal(factor, factor.tril())
    assert torch.all(torch.diagonal(factor, dim1=-2, dim2=-1) > 0)
    with pytest.raises(ValueError, match="covariance_type"):
        PrototypeGMJE(n_joint=3, n_prototypes=2, covariance_type="diag")


# --- GMJE-MDN ------------------------------------------------------------------------------------


def _mdn_inputs(seed, n=6, dx=2, dy=2, K=3):
    generator = torch.Generator().manual_seed(seed)
    context, target = _randn(generator, n, dx), _randn(generator, n, dy)
    log_weights = torch.log_softmax(_randn(generator, n, K), dim=-1)
    means = _randn(generator, n, K, dy)
    return context, target, log_weights, means, _random_cholesky(generator, n, K, dy, dy)


def test_gmje_mdn_loss_is_the_numpy_joint_nll():
    context, target, log_weights, means, scale_tril = _mdn_inputs(0)
    covariance = _spd(torch.Generator().manual_seed(1), 2)
    loss = gmje_mdn_loss(context, target, log_weights, means, scale_tril, covariance, eps=1e-3)
    jittered = covariance.numpy() + 1e-3 * np.eye(2)
    marginal = gaussian.log_density(context.numpy(), np.zeros(2), jittered)
    factors = scale_tril.numpy()
    mixture_covariance = factors @ np.swapaxes(factors, -1, -2)
    components = gaussian.log_density(target.numpy()[:, None, :], means.numpy(), mixture_covariance)
    conditional = logsumexp(log_weights.numpy() + components, axis=1)
    assert float(loss) == pytest.approx(-(marginal + conditional).mean(), rel=1e-10)


def test_gmje_mdn_loss_defaults_to_the_batch_covariance_under_a_stop_gradient():
    context, target, log_weights, means, scale_tril = _mdn_inputs(1)
    context.requires_grad_(True)
    implicit = gmje_mdn_loss(context, target, log_weights, means, scale_tril)
    explicit = gmje_mdn_loss(
        context, target, log_weights, means, scale_tril, second_moment(context).detach()
    )
    assert implicit.item() == pytest.approx(explicit.item(), rel=1e-12)
    assert torch.allclose(_grad(implicit, context)[0], _grad(explicit, context)[0])


# --- InfoNCE and its SMC weighting -------------------------------------------------------------


def _normalise(array):
    return array / np.linalg.norm(array, axis=1, keepdims=True)


def test_infonce_matches_a_numpy_softmax():
    generator = torch.Generator().manual_seed(0)
    q, k, bank = _randn(generator, 5, 3), _randn(generator, 5, 3), _randn(generator, 7, 3)
    qn, kn, bn = _normalise(q.numpy()), _normalise(k.numpy()), _normalise(bank.numpy())
    in_batch = qn @ kn.T / 0.3
    expected = np.mean(logsumexp(in_batch, axis=1) - np.diag(in_batch))
    assert float(infonce_loss(q, k, temperature=0.3)) == pytest.approx(expected, rel=1e-10)
    positive = np.sum(qn * kn, axis=1, keepdims=True)
    with_bank = np.concatenate([positive, qn @ bn.T], axis=1) / 0.3
    expected = np.mean(logsumexp(with_bank, axis=1) - with_bank[:, 0])
    assert float(infonce_loss(q, k, bank, temperature=0.3)) == pytest.approx(expected, rel=1e-10)


def _dam_gmje_conditional_nll(x, y, bank, tau):
    """Eq. 29 with joint particles (y_m, y_m) and the isotropic covariance tau I, in SciPy."""
    d = x.shape[1]

    def log_normal(points):
        distances = np.sum((points[:, None, :] - bank[None, :, :]) ** 2, axis=-1)
        return -0.5 * distances / tau - 0.5 * d * np.log(2 * np.pi * tau)

    log_joint = logsumexp(log_normal(x) + log_normal(y), axis=1)
    log_context = logsumexp(log_normal(x), axis=1)
    return -(log_joint - log_context)


def test_infonce_is_the_low_temperature_limit_of_the_dam_gmje_conditional_nll():
    generator = torch.Generator().manual_seed(1)
    keys = torch.nn.functional.normalize(_randn(generator, 6, 8), dim=1)
    queries = torch.nn.functional.normalize(keys + 0.1 * _randn(generator, 6, 8), dim=1)
    gaps = []
    for tau in (0.5, 0.1, 0.02):
        nll = _dam_gmje_conditional_nll(queries.numpy(), keys.numpy(), keys.numpy(), tau)
        constant = 0.5 * 8 * np.log(2 * np.pi * tau)  # -log N(y_i | y_i, tau I)
        gaps.append(nll.mean() - constant - float(infonce_loss(queries, keys, temperature=tau)))
    # Eq. 31 drops the numerator's non-matching modes, so InfoNCE sits above the exact NLL.
    assert all(gap <= 0 for gap in gaps)
    assert abs(gaps[0]) > abs(gaps[1]) > abs(gaps[2])
    assert abs(gaps[2]) < 1e-6


@FAST
@given(
    n=st.integers(1, 6),
    n_bank=st.integers(1, 10),
    log_weight=st.floats(-20.0, 20.0),
    temperature=st.floats(0.05, 2.0),
    seed=st.integers(0, 10_000),
)
def test_smc_infonce_with_uniform_weights_is_infonce(n, n_bank, log_weight, temperature, seed):
    generator = torch.Generator().manual_seed(seed)
    q, k, bank = _randn(generator, n, 4), _randn(generator, n, 4), _randn(generator, n_bank, 4)
    uniform = torch.full((n_bank,), log_weight, dtype=DOUBLE)
    weighted = smc_infonce_loss(q, k, bank, uniform, temperature)
    assert float(weighted) == pytest.approx(float(infonce_loss(q, k, bank, temperature)), rel=1e-10)


def test_smc_infonce_matches_a_numpy_weighted_softmax():
    generator = torch.Generator().manual_seed(2)
    q, k, bank = _randn(generator, 4, 3), _randn(generator, 4, 3), _randn(generator, 6, 3)
    log_weights = _randn(generator, 6)
    qn, kn, bn = _normalise(q.numpy()), _normalise(k.numpy()), _normalise(bank.numpy())
    weights = np.exp(log_weights.numpy())
    positive = np.exp(np.sum(qn * kn, axis=1) / 0.5) * weights.mean()
    negatives = np.exp(qn @ bn.T / 0.5) @ weights
    expected = -np.mean(np.log(positive / (positive + negatives)))
    loss = smc_infonce_loss(q, k, bank, log_weights, 0.5)
    assert float(loss) == pytest.approx(expected, rel=1e-10)
    shifted = smc_infonce_loss(q, k, bank, log_weights + 3.0, 0.5)
    assert float(shifted) == pytest.approx(expected, rel=1e-10)


def test_smc_weights_are_the_multiplicities_of_a_resampled_bank():
    # Algo. 2's note: after resampling, plain InfoNCE over the bank with particle m cloned
    # c_m times (sum c_m = M) is exactly the weighted loss with w_m = c_m.
    generator = torch.Generator().manual_seed(3)
    q, k, bank = _randn(generator, 4, 3), _randn(generator, 4, 3), _randn(generator, 5, 3)
    counts = torch.tensor([2, 0, 1, 2, 0])
    resampled = bank.repeat_interleave(counts, dim=0)
    weighted = smc_infonce_loss(q, k, bank, torch.log(counts.to(DOUBLE)), 0.4)
    assert float(weighted) == pytest.approx(float(infonce_loss(q, k, resampled, 0.4)), rel=1e-10)


def test_float32_inputs_give_the_float64_values():
    z_a, z_b, prototypes, logits, scale_tril = _prototype_inputs(0)
    bank = _randn(torch.Generator().manual_seed(1), 7, 2)
    objectives = [
        lambda *t: naive_joint_nll(t[0], t[1]),
        lambda *t: gje_loss(t[0], t[1]),
        lambda *t: dual_gje_loss(t[0], t[1]),
        lambda *t: hsic_loss(t[0], t[1]),
        lambda *t: prototype_gmje_loss(*t[:5]),
        lambda *t: infonce_loss(t[0], t[1][:, :2], t[5]),
        lambda *t: smc_infonce_loss(t[0], t[1][:, :2], t[5], torch.zeros(7, dtype=t[5].dtype)),
    ]
    inputs = (z_a, z_b, prototypes, logits, scale_tril, bank)
    for objective in objectives:
        single = objective(*(t.float() for t in inputs))
        assert single.dtype == torch.float32
        assert float(single) == pytest.approx(float(objective(*inputs)), rel=1e-4, abs=1e-5)


# --- gradients against finite differences ---------------------------------------------------------


def gradcheck(function, inputs):
    # Fast mode checks random projections of the Jacobian: one pass instead of one per entry.
    return torch.autograd.gradcheck(function, inputs, fast_mode=True)


def _leaves(*tensors):
    return tuple(t.detach().clone().requires_grad_(True) for t in tensors)


def test_gradcheck_gje_loss():
    z_a, z_b = _views(0, n=6)
    covariance = _spd(torch.Generator().manual_seed(1), 5)
    for entropy in ("joint", "views"):
        assert gradcheck(
            lambda a, b, c, entropy=entropy: gje_loss(
                a, b, eps=1e-3, covariance=c + c.T, entropy=entropy
            ),
            _leaves(z_a, z_b, covariance),
        )


@pytest.mark.parametrize("component", [False, True])
def test_gradcheck_prototype_gmje_loss(component):
    z_a, z_b, prototypes, logits, scale_tril = _prototype_inputs(0, component=component)
    ema = _spd(torch.Generator().manual_seed(1), 5)
    assert gradcheck(
        lambda a, b, mu, w, L: prototype_gmje_loss(a, b, mu, w, L, covariance_ema=ema),
        _leaves(z_a[:4], z_b[:4], prototypes, logits, scale_tril),
    )


def test_gradcheck_dual_gje_loss():
    generator = torch.Generator().manual_seed(0)
    X, T = _randn(generator, 6, 2), _randn(generator, 6, 2)
    W, b = sample_fourier_basis(4, 2, generator, dtype=DOUBLE)
    hyper = torch.tensor([0.8, 1.5, 0.2], dtype=DOUBLE)
    assert gradcheck(lambda x, h: dual_gje_loss(x, T, h[0], h[1], h[2]), _leaves(X, hyper))
    assert gradcheck(
        lambda x, h: dual_gje_loss(x, T, h[0], h[1], h[2], base_frequencies=W, phases=b),
        _leaves(X, hyper),
    )


def test_gradcheck_hsic_infonce_smc_and_mdn():
    z_a, z_b = _views(1, n=5, d_a=2, d_b=2)
    generator = torch.Generator().manual_seed(2)
    bank, log_weights = _randn(generator, 4, 2), _randn(generator, 4)
    assert gradcheck(lambda a, b: hsic_loss(a, b, length_scale=1.2), _leaves(z_a, z_b))
    assert gradcheck(
        # The jitter is held constant, which the finite differences would not see.
        lambda a, b: hsic_loss(whiten_batch(a, 0.0), whiten_batch(b, 0.0), kernel="linear"),
        _leaves(z_a, z_b),
    )
    assert gradcheck(
        lambda a, b, m: infonce_loss(a, b, m, temperature=0.5), _leaves(z_a, z_b, bank)
    )
    assert gradcheck(
        lambda a, b, m: smc_infonce_loss(a, b, m, log_weights, 0.5), _leaves(z_a, z_b, bank)
    )
    context, target, log_weights, means, scale_tril = _mdn_inputs(3)
    covariance = _spd(torch.Generator().manual_seed(4), 2)
    assert gradcheck(
        lambda x, y, c: gmje_mdn_loss(x, y, log_weights, means, scale_tril, c + c.T),
        _leaves(context, target, covariance),
    )


def _m_step_covariances(z, prototypes, logits):
    """The M-step covariances written with an (N, K, D) array: the reference."""
    total = np.cov(z, rowvar=False, bias=True)
    precision = np.linalg.inv(total)
    diff = z[:, None, :] - prototypes[None]
    log_r = np.log(np.exp(logits) / np.exp(logits).sum()) - 0.5 * np.einsum(
        "nkd,de,nke->nk", diff, precision, diff
    )
    r = np.exp(log_r - logsumexp(log_r, axis=1, keepdims=True))
    outer = np.einsum("nk,nkd,nke->kde", r, diff, diff)
    return outer.sum(0) / len(z), outer / r.sum(0)[:, None, None], np.trace(total) / z.shape[1]


@pytest.mark.parametrize("covariance_type", ["tied", "full"])
def test_batch_prototype_covariance_is_the_m_step_around_the_prototypes(covariance_type):
    generator = torch.Generator().manual_seed(0)
    z = torch.randn(300, 3, generator=generator, dtype=torch.float64) @ torch.tensor(
        [[1.0, 0.5, 0.0], [0.0, 1.0, 0.3], [0.0, 0.0, 0.7]], dtype=torch.float64
    )
    prototypes = torch.randn(4, 3, generator=generator, dtype=torch.float64)
    logits = torch.randn(4, generator=generator, dtype=torch.float64)
    factor = batch_prototype_scale_tril(z, prototypes, logits, covariance_type, jitter=0.1, eps=0.0)
    shared, components, mean_variance = _m_step_covariances(
        z.numpy(), prototypes.numpy(), logits.numpy()
    )
    expected = shared if covariance_type == "tied" else components
    expected = expected + 0.1 * mean_variance * np.eye(3)
    np.testing.assert_allclose((factor @ factor.transpose(-1, -2)).numpy(), expected, rtol=1e-10)
    assert not factor.requires_grad


def test_batch_covariance_module_trains_prototypes_and_holds_the_factor_constant():
    generator = torch.Generator().manual_seed(1)
    objective = PrototypeGMJE(
        n_joint=4, n_prototypes=3, covariance="batch", entropy_weight=0.5
    ).double()
    z_a = torch.randn(40, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    z_b = torch.randn(40, 2, generator=generator, dtype=torch.float64, requires_grad=True)
    loss = objective(z_a, z_b)
    z = torch.cat([z_a, z_b], 1).detach()
    factor = batch_prototype_scale_tril(
        z, objective.prototypes.detach(), objective.mixing_logits.detach()
    )
    expected = prototype_gmje_loss(
        z_a, z_b, objective.prototypes, objective.mixing_logits, factor, entropy_weight=0.5
    )
    assert torch.isclose(loss, expected)
    torch.testing.assert_close(objective.scale_tril(), factor)
    loss.backward()
    assert objective.prototypes.grad.abs().sum() > 0 and z_a.grad.abs().sum() > 0
    assert not any(name.startswith("raw_") for name, _ in objective.named_parameters())
    with pytest.raises(ValueError, match="covariance"):
        PrototypeGMJE(4, 3, covariance="ema")


# --- renamed names ----------------------------------------------------------------------------


def test_lam_is_the_deprecated_name_of_entropy_weight():
    z_a, z_b = _views(0)
    expected = gje_loss(z_a, z_b, entropy_weight=0.3)
    with pytest.warns(FutureWarning, match="'lam' was renamed 'entropy_weight'"):
        assert torch.equal(gje_loss(z_a, z_b, lam=0.3), expected)
    with pytest.raises(TypeError, match="both"):
        gje_loss(z_a, z_b, lam=0.3, entropy_weight=0.3)
    inputs = _prototype_inputs(0)
    with pytest.warns(FutureWarning, match="'lam'"):
        old = prototype_gmje_loss(*inputs, lam=0.7)
    assert torch.equal(old, prototype_gmje_loss(*inputs, entropy_weight=0.7))
    with pytest.warns(FutureWarning, match="'lam'"):
        objective = PrototypeGMJE(4, 3, lam=0.2)
    assert objective.entropy_weight == 0.2
    with pytest.warns(FutureWarning, match="PrototypeGMJE.lam was renamed"):
        assert objective.lam == 0.2


def test_cholesky_is_the_deprecated_name_of_jittered_cholesky():
    from skgmje.nn import losses

    with pytest.warns(FutureWarning, match="losses.cholesky was renamed"):
        assert losses.cholesky is losses.jittered_cholesky
    assert "cholesky" not in losses.__all__
    with pytest.raises(AttributeError, match="no attribute 'cholesky_'"):
        losses.cholesky_  # noqa: B018


def test_every_infonce_is_one_weighted_softmax():
    generator = torch.Generator().manual_seed(5)
    q, k, bank = _randn(generator, 4, 3), _randn(generator, 4, 3), _randn(generator, 6, 3)
    log_weights = _randn(generator, 6)
    qn, kn, bn = (torch.nn.functional.normalize(t, dim=1) for t in (q, k, bank))
    logits = torch.cat([(qn * kn).sum(1, keepdim=True), qn @ bn.T], dim=1) / 0.5
    first = torch.zeros(4, dtype=torch.long)
    assert torch.isclose(infonce_from_logits(logits, first), infonce_loss(q, k, bank, 0.5))
    positive = torch.logsumexp(log_weights, 0) - np.log(6)
    pool = torch.cat([positive.expand(4, 1), log_weights.expand(4, 6)], dim=1)
    weighted = infonce_from_logits(logits, first, pool)
    assert torch.isclose(weighted, smc_infonce_loss(q, k, bank, log_weights, 0.5))


@pytest.mark.parametrize("old, new", [("shared", "tied"), ("component", "full")])
def test_old_covariance_type_names_warn_and_mean_the_same(old, new):
    z = torch.randn(50, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    prototypes, logits = z[:2].clone(), torch.zeros(2, dtype=torch.float64)
    with pytest.warns(FutureWarning, match=f"covariance_type={old!r} was renamed {new!r}"):
        old_factor = batch_prototype_scale_tril(z, prototypes, logits, old)
    torch.testing.assert_close(old_factor, batch_prototype_scale_tril(z, prototypes, logits, new))
    with pytest.warns(FutureWarning, match="n_features"):
        module = PrototypeGMJE(n_features=3, n_prototypes=2, covariance_type=new)
    assert module.prototypes.shape == (2, 3)
