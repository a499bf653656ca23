"""FIFOBank and SMCBank: queue order, Eq. 34 weights, ESS, unbiased resampling, buffers."""

import copy
import math
import pickle

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from skgmje.nn.memory import FIFOBank, SMCBank, resample

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def _scalar_keys(values):
    """Keys of width 1 whose value names them, so resampled copies can be counted."""
    return torch.as_tensor(values, dtype=torch.float32).reshape(-1, 1)


def _full_bank(bank_size=6, n_new=4, resampling="systematic", random_state=0):
    """A full SMC bank holding keys 0..M-1, a batch of keys M..M+B-1, and random logits."""
    bank = SMCBank(bank_size, 1, resampling=resampling, random_state=random_state)
    bank.update(_scalar_keys(np.arange(bank_size)))
    keys = _scalar_keys(np.arange(bank_size, bank_size + n_new))
    logits = torch.randn(n_new, bank_size + n_new, generator=torch.Generator().manual_seed(1))
    return bank, keys, logits


def _eq34_weights(logits, n_bank):
    """Eq. 34 by brute force: mean kernel over the queries, a key's own query left out."""
    kernel = np.exp(np.asarray(logits, dtype=np.float64))
    n_new = kernel.shape[0]
    weights = [kernel[:, m].mean() for m in range(n_bank)]
    weights += [np.delete(kernel[:, n_bank + j], j).mean() for j in range(n_new)]
    weights = np.array(weights)
    return weights / weights.sum()


# --- resampling ------------------------------------------------------------------------------


def test_multinomial_resampling_is_unbiased():
    weights = torch.tensor([0.0, 1.0, 2.0, 3.0, 0.5, 3.5])
    generator = torch.Generator().manual_seed(0)
    n_draws, n_repeats = 40, 500
    counts = sum(
        torch.bincount(resample(weights, n_draws, "multinomial", generator), minlength=6)
        for _ in range(n_repeats)
    ).numpy()
    assert counts[0] == 0  # a zero weight is never drawn
    expected = n_draws * n_repeats * weights[1:].numpy() / weights.sum().item()
    assert stats.chisquare(counts[1:], expected).pvalue > 1e-3


def test_systematic_resampling_is_unbiased_with_floor_or_ceil_counts():
    weights = torch.tensor([0.3, 0.0, 2.2, 1.0, 0.7, 3.1, 0.2], dtype=torch.float64)
    generator = torch.Generator().manual_seed(1)
    n_draws, n_repeats = 25, 2000
    expected = (n_draws * weights / weights.sum()).numpy()
    counts = np.array(
        [
            torch.bincount(resample(weights, n_draws, "systematic", generator), minlength=7).numpy()
            for _ in range(n_repeats)
        ]
    )
    assert np.all((counts == np.floor(expected)) | (counts == np.ceil(expected)))
    # Each count takes two neighbouring values, so its standard deviation is at most 1/2.
    tolerance = 4 * 0.5 / np.sqrt(n_repeats)
    np.testing.assert_array_less(np.abs(counts.mean(axis=0) - expected), tolerance)


@settings(max_examples=25, deadline=None)
@given(
    weights=st.lists(st.floats(0.0, 1e3), min_size=1, max_size=30).filter(lambda w: sum(w) > 1e-6),
    n_draws=st.integers(1, 40),
    method=st.sampled_from(["multinomial", "systematic"]),
    seed=st.integers(0, 2**31),
)
def test_resampling_draws_only_items_with_weight(weights, n_draws, method, seed):
    weights = torch.tensor(weights)
    indices = resample(weights, n_draws, method, torch.Generator().manual_seed(seed))
    assert indices.shape == (n_draws,)
    assert torch.all((indices >= 0) & (indices < len(weights)))
    assert torch.all(weights[indices] > 0)


def test_resample_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        resample(torch.ones(3), 2, "residual", torch.Generator())


# --- FIFOBank --------------------------------------------------------------------------------


def test_fifo_keeps_the_newest_keys_oldest_first():
    bank = FIFOBank(bank_size=10, dim=1)
    stream = np.arange(37.0)
    for start in range(0, 37, 7):
        bank.update(_scalar_keys(stream[start : start + 7]))
        n_seen = min(start + 7, 37)
        np.testing.assert_array_equal(bank.keys[:, 0].numpy(), stream[max(0, n_seen - 10) : n_seen])
    assert bank.ess_history == [7.0, 10.0, 10.0, 10.0, 10.0, 10.0]
    np.testing.assert_allclose(bank.log_weights.exp().numpy(), np.full(10, 0.1))


def test_fifo_batch_larger_than_the_bank_keeps_its_last_keys():
    bank = FIFOBank(bank_size=3, dim=1)
    bank.update(_scalar_keys(np.arange(8.0)))
    np.testing.assert_array_equal(bank.keys[:, 0].numpy(), [5.0, 6.0, 7.0])


# --- SMCBank: the weights ----------------------------------------------------------------------


def test_fill_phase_appends_without_logits_and_keeps_uniform_weights():
    bank = SMCBank(bank_size=5, dim=1, random_state=0)
    bank.update(_scalar_keys([0.0, 1.0]))
    bank.update(_scalar_keys([2.0, 3.0, 4.0]))
    np.testing.assert_array_equal(bank.keys[:, 0].numpy(), np.arange(5.0))
    assert bank.ess_history == [2.0, 5.0] and bank.pool_log_weights is None
    np.testing.assert_allclose(bank.log_weights.exp().numpy(), np.full(5, 0.2))
    with pytest.raises(ValueError, match="needs the logits"):
        bank.update(_scalar_keys([5.0]))


@pytest.mark.parametrize("n_bank, n_new", [(6, 4), (0, 9), (3, 5)])
def test_pool_weights_are_equation_34_without_each_keys_own_query(n_bank, n_new):
    bank = SMCBank(bank_size=6, dim=1, random_state=0)
    if n_bank:
        bank.update(_scalar_keys(np.arange(n_bank)))
    keys = _scalar_keys(np.arange(n_bank, n_bank + n_new))
    logits = 3.0 * torch.randn(n_new, n_bank + n_new, generator=torch.Generator().manual_seed(2))
    bank.update(keys, logits)
    pooled = bank.pool_log_weights.exp().double().numpy()
    assert pooled.sum() == pytest.approx(1.0, abs=1e-6)
    np.testing.assert_allclose(pooled, _eq34_weights(logits, n_bank), rtol=1e-5)
    assert bank.ess_history[-1] == pytest.approx(1.0 / np.sum(pooled**2), rel=1e-5)
    assert bank.n_keys == 6


def test_tempering_raises_the_equation_34_weights_to_a_power():
    n_bank, n_new = 6, 4
    logits = 3.0 * torch.randn(n_new, n_bank + n_new, generator=torch.Generator().manual_seed(3))
    ess = []
    for tempering in (1.0, 0.3, 0.0):
        bank = SMCBank(bank_size=6, dim=1, tempering=tempering, random_state=0)
        bank.update(_scalar_keys(np.arange(n_bank)))
        bank.update(_scalar_keys(np.arange(n_bank, n_bank + n_new)), logits)
        tempered = _eq34_weights(logits, n_bank) ** tempering
        np.testing.assert_allclose(
            bank.pool_log_weights.exp().double().numpy(), tempered / tempered.sum(), rtol=1e-5
        )
        ess.append(bank.ess_history[-1])
    # Flatter weights, more distinct draws: up to the whole pool when the weights are uniform.
    assert ess[0] < ess[1] < ess[2] == pytest.approx(n_bank + n_new, rel=1e-5)


def test_a_keys_own_query_does_not_change_the_weights():
    bank, keys, logits = _full_bank()
    other = copy.deepcopy(bank)
    bank.update(keys, logits)
    boosted = logits.clone()
    boosted[:, 6:] += 50.0 * torch.eye(4)  # the positive pairs q_b . k_b
    other.update(keys, boosted)
    torch.testing.assert_close(bank.pool_log_weights, other.pool_log_weights)


def test_a_single_new_key_gets_the_mean_particle_weight():
    bank, keys, logits = _full_bank(n_new=1)
    bank.update(keys[:1], logits[:1, :7])
    weights = bank.pool_log_weights.exp()
    torch.testing.assert_close(weights[6], weights[:6].mean())


@settings(max_examples=25, deadline=None)
@given(
    n_bank=st.integers(1, 12),
    n_new=st.integers(1, 8),
    scale=st.floats(0.0, 60.0),
    seed=st.integers(0, 2**31),
)
def test_pool_weights_normalise_and_ess_lies_between_one_and_the_pool_size(
    n_bank, n_new, scale, seed
):
    bank = SMCBank(bank_size=n_bank, dim=1, random_state=seed)
    bank.update(_scalar_keys(np.arange(n_bank)))
    generator = torch.Generator().manual_seed(seed)
    logits = scale * torch.randn(n_new, n_bank + n_new, generator=generator)
    bank.update(_scalar_keys(np.arange(n_bank, n_bank + n_new)), logits)
    weights = bank.pool_log_weights.exp()
    assert weights.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert 1.0 - 1e-4 <= bank.ess_history[-1] <= n_bank + n_new + 1e-4
    assert bank.n_keys == n_bank
    np.testing.assert_allclose(bank.log_weights.exp().numpy(), np.full(n_bank, 1.0 / n_bank))


def test_equal_logits_give_uniform_weights_and_full_ess():
    bank, keys, _ = _full_bank()
    bank.update(keys, torch.full((4, 10), 0.7))
    np.testing.assert_allclose(bank.pool_log_weights.exp().numpy(), np.full(10, 0.1), rtol=1e-6)
    assert bank.ess_history[-1] == pytest.approx(10.0)


# --- SMCBank: the resampling ----------------------------------------------------------------------


@pytest.mark.parametrize("resampling", ["multinomial", "systematic"])
def test_resampled_bank_holds_pool_items_in_proportion_to_their_weights(resampling):
    bank, keys, logits = _full_bank(resampling=resampling)
    generator = torch.Generator().manual_seed(3)
    n_repeats = 400
    counts = np.zeros(10)
    for _ in range(n_repeats):
        step = copy.deepcopy(bank)
        step.generator = generator
        step.update(keys, logits)
        # The keys are their pool indices, so the bank's values count the copies.
        counts += np.bincount(step.keys[:, 0].numpy().astype(int), minlength=10)
    weights = step.pool_log_weights.exp().double().numpy()
    expected = 6 * n_repeats * weights
    assert stats.chisquare(counts, expected * counts.sum() / expected.sum()).pvalue > 1e-3
    np.testing.assert_allclose(counts / counts.sum(), weights, atol=0.02)


def test_plain_infonce_denominator_over_the_resampled_bank_is_the_weighted_one_in_expectation():
    # Algo note: (1/M) sum_m exp(q.k_m/tau) over the resampled bank is an unbiased
    # estimate of Eq. 33's weighted denominator sum_j w_j exp(q.k_j/tau) over the pool.
    generator = torch.Generator().manual_seed(4)
    dim, n_bank, n_new, tau = 3, 8, 5, 0.5

    def embed(n):
        return torch.nn.functional.normalize(torch.randn(n, dim, generator=generator), dim=1)

    bank = SMCBank(n_bank, dim, resampling="multinomial", random_state=5)
    bank.update(embed(n_bank))
    queries, keys, probe = embed(n_new), embed(n_new), embed(1)[0]
    logits = bank.logits(queries, keys, tau)
    pool = torch.cat([bank.keys, keys])
    plain = []
    for _ in range(1000):
        step = copy.deepcopy(bank)
        step.generator = generator
        step.update(keys, logits)
        plain.append(torch.exp(step.keys @ probe / tau).mean().item())
    weighted = (step.pool_log_weights.exp() * torch.exp(pool @ probe / tau)).sum().item()
    standard_error = np.std(plain) / np.sqrt(len(plain))
    assert abs(np.mean(plain) - weighted) < 4 * standard_error
    assert np.std(plain) > 0  # the resampling did vary


def test_same_seed_same_bank_and_other_seeds_differ():
    runs = []
    for seed in (0, 0, 1, 2):
        bank, keys, logits = _full_bank(resampling="multinomial", random_state=seed)
        for _ in range(3):
            bank.update(keys, logits)
        runs.append(bank.keys[:, 0].tolist())
    assert runs[0] == runs[1]
    assert runs[0] != runs[2] or runs[0] != runs[3]


def test_the_generator_state_travels_with_a_pickle():
    bank, keys, logits = _full_bank(resampling="multinomial")
    bank.update(keys, logits)
    restored = pickle.loads(pickle.dumps(bank))
    bank.update(keys, logits)
    restored.update(keys, logits)
    torch.testing.assert_close(bank.keys, restored.keys)


# --- both banks: buffers, devices, dtypes, the logits helper ---------------------------------


@pytest.mark.parametrize("bank_class", [FIFOBank, SMCBank])
@pytest.mark.parametrize("device", DEVICES)
def test_keys_follow_the_module_device_and_dtype_without_gradient(bank_class, device):
    bank = bank_class(bank_size=4, dim=2).to(device=device, dtype=torch.float64)
    embedding = torch.nn.Linear(2, 2).to(device)
    for _ in range(3):
        keys = embedding(torch.randn(3, 2, device=device))  # float32, requires grad
        queries = embedding(torch.randn(3, 2, device=device))
        logits = bank.logits(queries, keys, temperature=0.1)
        bank.update(keys, logits)
    assert bank.keys.dtype == torch.float64 and bank.keys.device.type == device
    assert not bank.keys.requires_grad and bank.keys.shape == (4, 2)
    assert bank.log_weights.dtype == torch.float64
    assert dict(bank.state_dict()) == {}  # non-persistent: not part of a checkpoint
    assert "_keys" in dict(bank.named_buffers())


@pytest.mark.parametrize("bank_class", [FIFOBank, SMCBank])
def test_logits_score_queries_against_the_bank_then_the_batch(bank_class):
    bank = bank_class(bank_size=5, dim=3)
    bank.update(torch.randn(5, 3))
    queries = torch.randn(2, 3, requires_grad=True)
    keys = torch.randn(2, 3, requires_grad=True)
    logits = bank.logits(queries, keys, temperature=0.5)
    torch.testing.assert_close(logits, queries @ torch.cat([bank.keys, keys]).T / 0.5)
    # InfoNCE: the positive of query b sits in column n_keys + b.
    loss = torch.nn.functional.cross_entropy(logits, bank.n_keys + torch.arange(2))
    loss.backward()
    assert queries.grad.abs().sum() > 0 and keys.grad.abs().sum() > 0


@pytest.mark.parametrize(
    "make, message",
    [
        (lambda: FIFOBank(0, 2), "bank_size"),
        (lambda: FIFOBank(4, 2.5), "dim"),
        (lambda: SMCBank(4, 2, resampling="residual"), "resampling"),
        (lambda: SMCBank(4, 2, random_state="seed"), "random_state"),
        (lambda: SMCBank(4, 2, tempering=1.5), "tempering"),
        (lambda: SMCBank(4, 2, tempering=-0.1), "tempering"),
        (lambda: SMCBank(4, 2, tempering=True), "tempering"),
    ],
)
def test_invalid_parameters_are_named(make, message):
    with pytest.raises(ValueError, match=message):
        make()


@pytest.mark.parametrize("bank_class", [FIFOBank, SMCBank])
def test_updates_with_wrong_shapes_are_rejected(bank_class):
    bank = bank_class(bank_size=4, dim=2)
    with pytest.raises(ValueError, match="keys must have shape"):
        bank.update(torch.zeros(3, 5))
    with pytest.raises(ValueError, match="logits must have shape"):
        bank.update(torch.zeros(3, 2), torch.zeros(3, 4))  # should be (3, 0 + 3)
    assert bank.n_keys == 0  # nothing was stored


# --- source ids: a row's earlier keys are neither its negatives nor its votes ----------------


@pytest.mark.parametrize("bank_class", [FIFOBank, SMCBank])
def test_keys_from_the_same_row_as_a_query_are_masked_for_that_query_only(bank_class):
    bank = bank_class(bank_size=4, dim=2)
    old_keys = torch.nn.functional.normalize(
        torch.randn(4, 2, generator=torch.Generator().manual_seed(0)), dim=1
    )
    bank.update(old_keys, ids=torch.tensor([10, 11, 12, 13]))
    assert bank.ids.tolist() == [10, 11, 12, 13]
    queries, keys = old_keys[:2].clone(), old_keys[2:].clone()
    logits = bank.logits(queries, keys, temperature=0.5, ids=torch.tensor([11, 99]))
    plain = bank.logits(queries, keys, temperature=0.5)
    assert torch.isneginf(logits[0, 1]) and torch.isfinite(logits[1]).all()
    mask = torch.zeros_like(logits, dtype=torch.bool)
    mask[0, 1] = True
    torch.testing.assert_close(logits[~mask], plain[~mask])


def test_smc_ids_follow_their_keys_through_resampling():
    generator = torch.Generator().manual_seed(1)
    bank = SMCBank(bank_size=6, dim=3, random_state=0)
    keys = torch.randn(6, 3, generator=generator)
    bank.update(keys, ids=torch.arange(6))
    queries, new_keys = (
        torch.randn(5, 3, generator=generator),
        torch.randn(5, 3, generator=generator),
    )
    ids = torch.arange(100, 105)
    bank.update(new_keys, bank.logits(queries, new_keys, 0.5, ids=ids), ids=ids)
    pool, pool_ids = torch.cat([keys, new_keys]), torch.cat([torch.arange(6), ids])
    for key, key_id in zip(bank.keys, bank.ids):
        assert torch.equal(key, pool[pool_ids == key_id][0])


def test_a_masked_vote_leaves_the_mean_over_the_other_queries():
    logits = torch.tensor([[0.0, 1.0, 5.0, 6.0], [-math.inf, 3.0, 7.0, 8.0]])
    log_weights = SMCBank._pool_weights(logits, n_bank=2)
    bank_scores = torch.tensor([0.0, math.log((math.e + math.e**3) / 2)])
    key_scores = torch.tensor([7.0, 6.0])  # each key scored by the other query alone
    torch.testing.assert_close(
        log_weights, torch.log_softmax(torch.cat([bank_scores, key_scores]), 0)
    )


def test_ids_of_the_wrong_shape_are_rejected():
    bank = FIFOBank(bank_size=4, dim=2)
    with pytest.raises(ValueError, match="ids"):
        bank.update(torch.zeros(3, 2), ids=torch.arange(2))
