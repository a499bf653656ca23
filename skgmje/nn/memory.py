"""Memory banks of keys: MoCo's FIFO queue and the SMC particle bank (user guide, "SMCGMJE").

A bank holds up to ``M = bank_size`` key embeddings (the particles of the
non-parametric GMJE ``p(z) = sum_m w_m N(z | z_m, tau I)``, [GMJE]_ Eq. 27 and 32)
that an InfoNCE-style loss contrasts the queries against. Both banks are
``nn.Module`` s whose keys live in a non-persistent buffer, so they follow
``module.to(device, dtype)`` with the model, stay out of its ``state_dict``,
and are updated under ``torch.no_grad()`` with detached keys (as lightly's
``MemoryBankModule``).

The two banks share one call, ``bank.update(keys, logits)``, made once per
step after the loss. ``logits`` are the scores the loss already computed,
``bank.logits(queries, keys, temperature)``: query ``b`` against every key of
the pool ``[bank.keys; keys]``, so the positive of query ``b`` is column
``bank.n_keys + b``. :class:`FIFOBank` ignores them; :class:`SMCBank` turns
them into particle weights without a second pass over the bank.
"""

import math
import numbers

import torch
from torch import nn

from .augment import check_generator

__all__ = [
    "RESAMPLING",
    "FIFOBank",
    "SMCBank",
    "resample",
]

RESAMPLING = ("multinomial", "systematic")


def resample(weights, n_draws, method, generator):
    """Indices of ``n_draws`` items drawn with replacement with probabilities ∝ ``weights``.

    The torch twin of :func:`skgmje.smc.resample` (same positions, same
    ``side="right"`` search), drawing from a ``torch.Generator``.

    Parameters
    ----------
    weights : Tensor of shape (n_items,)
        Non-negative, not all zero; need not sum to one.
    n_draws : int
    method : {"multinomial", "systematic"}
        ``"multinomial"`` draws independently. ``"systematic"`` uses one
        uniform offset and ``n_draws`` evenly spaced positions, so item ``i``
        is drawn ``floor(n_draws p_i)`` or ``ceil(n_draws p_i)`` times: the
        same expected counts with far less resampling noise.
    generator : torch.Generator

    Returns
    -------
    indices : Tensor of shape (n_draws,), on the generator's device
        Expected count of item ``i``: ``n_draws * weights[i] / sum(weights)``.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.memory import resample
    >>> weights = torch.tensor([0.0, 1.0, 3.0])
    >>> indices = resample(weights, 4, "systematic", torch.Generator().manual_seed(0))
    >>> torch.bincount(indices, minlength=3).tolist()
    [0, 1, 3]
    """
    device = generator.device
    # In float64: float32 cumulative sums lose small weights behind large ones.
    cumulative = torch.cumsum(weights.detach().to(device, torch.float64), 0)
    cumulative = cumulative / cumulative[-1]
    if method == "systematic":
        offset = torch.rand((), generator=generator, device=device, dtype=torch.float64)
        positions = (offset + torch.arange(n_draws, device=device)) / n_draws
    elif method == "multinomial":
        positions = torch.rand(n_draws, generator=generator, device=device, dtype=torch.float64)
    else:
        raise ValueError(f"method must be one of {list(RESAMPLING)}; got {method!r}.")
    # right=True never lands on a zero-weight item (its cumulative equals its predecessor's).
    return torch.searchsorted(cumulative, positions, right=True)


class _MemoryBank(nn.Module):
    """What both banks share: the key buffer, its checks, the pooled logits."""

    def __init__(self, bank_size, dim):
        super().__init__()
        for name, value in (("bank_size", bank_size), ("dim", dim)):
            if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name} must be a positive integer; got {value!r}.")
        self.bank_size = int(bank_size)
        self.dim = int(dim)
        self.register_buffer("_keys", torch.empty(0, self.dim), persistent=False)
        self.register_buffer("_ids", torch.empty(0, dtype=torch.long), persistent=False)
        self.ess_history = []

    @property
    def keys(self):
        """Tensor of shape (n_keys, dim): the keys held, without gradient."""
        return self._keys

    @property
    def ids(self):
        """Tensor of shape (n_keys,): the source id of each key (-1 where none was given)."""
        return self._ids

    @property
    def n_keys(self):
        """Number of keys held: grows to ``bank_size`` while the bank fills, then stays."""
        return self._keys.shape[0]

    @property
    def log_weights(self):
        """Tensor of shape (n_keys,): the keys' normalised log mixture weights, ``-log n_keys``.

        Uniform in both banks: a FIFO queue never weights its keys, and the
        SMC bank turns its weights into copies of the keys at every update
        ([GMJE]_ Algo 2; user guide, "SMCGMJE"), so the weighted InfoNCE of Eq. 33 over
        the bank is the plain one.
        """
        return self._keys.new_full((self.n_keys,), -math.log(max(self.n_keys, 1)))

    def logits(self, queries, keys, temperature, ids=None):
        """Scores ``q_b^T k / tau`` of each query against the pool ``[bank.keys; keys]``.

        With ``ids``, a bank key that came from the same source as query ``b``
        (an earlier view of the same training row) scores ``-inf`` for that
        query: it is no negative, and its query must not vote for keeping it
        ([GMJE]_ Eq. 34 would favour it, as it is among the keys most similar to
        that query).

        Parameters
        ----------
        queries : Tensor of shape (B, dim)
        keys : Tensor of shape (B, dim)
            The batch's keys; key ``b`` is the positive of query ``b``.
        temperature : float
        ids : Tensor of shape (B,), optional
            Source id of each query (e.g. its row index in the training set).

        Returns
        -------
        logits : Tensor of shape (B, n_keys + B)
            Differentiable in ``queries`` and ``keys``; the bank is a constant.
            Cross-entropy with targets ``n_keys + arange(B)`` is InfoNCE
            ([GMJE]_ Eq. 31) over the bank and the batch; pass the same tensor to
            :meth:`update`.
        """
        logits = queries @ torch.cat([self._keys.to(keys), keys]).T / temperature
        if ids is None or not self.n_keys:
            return logits
        same_source = self._ids.to(ids.device)[None, :] == ids[:, None]
        bank_logits = logits[:, : self.n_keys].masked_fill(same_source, -math.inf)
        return torch.cat([bank_logits, logits[:, self.n_keys :]], dim=1)

    def _check_keys(self, keys):
        if keys.dim() != 2 or keys.shape[1] != self.dim:
            raise ValueError(f"keys must have shape (batch, {self.dim}); got {tuple(keys.shape)}.")
        return keys.detach().to(self._keys)

    def _check_ids(self, ids, n_new):
        if ids is None:
            return torch.full((n_new,), -1, dtype=torch.long, device=self._ids.device)
        ids = torch.as_tensor(ids, device=self._ids.device).long()
        if ids.shape != (n_new,):
            raise ValueError(f"ids must have shape ({n_new},); got {tuple(ids.shape)}.")
        return ids

    def _check_logits(self, logits, n_new):
        if logits is None:
            return None
        expected = (n_new, self.n_keys + n_new)
        if tuple(logits.shape) != expected:
            raise ValueError(
                f"logits must have shape (batch, n_keys + batch) = {expected}, the queries "
                f"scored against [bank.keys; keys]; got {tuple(logits.shape)}."
            )
        return logits.detach().to(torch.promote_types(logits.dtype, torch.float32))

    def extra_repr(self):
        return f"bank_size={self.bank_size}, dim={self.dim}, n_keys={self.n_keys}"


class FIFOBank(_MemoryBank):
    """MoCo's queue: the newest ``bank_size`` keys, oldest first, all weighted equally.

    Parameters
    ----------
    bank_size : int
        ``M``, the most keys held.
    dim : int
        Width of a key.

    Attributes
    ----------
    keys : Tensor of shape (n_keys, dim)
        In order of arrival, oldest first.
    ess_history : list of float
        One entry per update: the effective sample size of the uniform bank,
        its number of keys, kept so both banks report the same history.

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.memory import FIFOBank
    >>> bank = FIFOBank(bank_size=3, dim=1)
    >>> bank.update(torch.tensor([[1.0], [2.0]]))
    >>> bank.update(torch.tensor([[3.0], [4.0]]))
    >>> bank.keys.flatten().tolist()
    [2.0, 3.0, 4.0]
    """

    @torch.no_grad()
    def update(self, keys, logits=None, ids=None):
        """Enqueue the batch's keys and drop the oldest beyond ``bank_size``.

        Parameters
        ----------
        keys : Tensor of shape (B, dim)
            Detached and cast to the bank's device and dtype.
        logits : Tensor of shape (B, n_keys + B), optional
            Checked and otherwise ignored: accepted so the two banks are interchangeable.
        ids : Tensor of shape (B,), optional
            Source id of each key, kept beside it (see :meth:`logits`).
        """
        keys = self._check_keys(keys)
        self._check_logits(logits, len(keys))
        ids = self._check_ids(ids, len(keys))
        self._keys = torch.cat([self._keys, keys])[-self.bank_size :]
        self._ids = torch.cat([self._ids, ids])[-self.bank_size :]
        self.ess_history.append(float(self.n_keys))


class SMCBank(_MemoryBank):
    """The SMC particle bank of SMC-GMJE ([GMJE]_ Algo 2): weight, resample, reset, every step.

    While the bank and the incoming batch fit in ``bank_size`` (the fill-up
    phase) the keys are simply appended. From then on each update with the
    batch's keys ``k_b`` and the loss's ``logits = q_b^T k / tau`` over the
    pool ``[bank.keys; keys]`` of ``P = n_keys + B`` items:

    1. **Weights** ([GMJE]_ Eq. 34), in log space. Every pool item starts from the
       same prior weight (the bank's were reset to ``1/M``, and an incoming
       key is given the same), which cancels on normalising. A bank particle
       is scored by the mean kernel over the batch's queries,
       ``log w~_m = logmeanexp_b(q_b^T k_m / tau)``; an incoming key ``k_j``
       by the same mean over the other queries, ``b != j``, because its own
       query is its positive and would vouch for it. Taking means rather than
       [GMJE]_ Eq. 34's sums is the same normalised weight for the particles, and
       scores a key, seen by one query fewer, on the same scale. A batch of
       one key has no other query: that key gets the mean particle score.
       With ``tempering`` ``beta < 1`` the weights are [GMJE]_ Eq. 34's raised to
       ``beta`` (a tempered likelihood, as in tempered SMC): ``beta = 0``
       resamples the pool uniformly, ``beta = 1`` is [GMJE]_ Eq. 34.
    2. **ESS** ``1 / sum_j w_j^2`` of the ``P`` normalised pooled weights is
       appended to ``ess_history``; the weights are kept in
       ``pool_log_weights``.
    3. **Resampling**: ``M`` items are drawn from the pool with replacement
       ∝ weight (``resampling``), and their weights reset to ``1/M``.

    Gradient-free: only the detached logits enter, and resampling costs
    ``O(P)`` beyond the ``O(B P)`` log-sum-exp.

    Parameters
    ----------
    bank_size : int
        ``M``, the number of particles once full.
    dim : int
        Width of a key.
    resampling : {"systematic", "multinomial"}, default="systematic"
        Systematic resampling draws the same expected copies with far less noise.
    tempering : float in [0, 1], default=1.0
        Exponent ``beta`` of the [GMJE]_ Eq. 34 weights. Lower values keep more
        distinct keys: a roomy bank resampled by the full weights fills with
        copies of the keys nearest the queries, which on data with few
        classes are often the queries' own class (``benchmarks/bench_ssl.py``
        measures the effect).
    random_state : int, torch.Generator or None, default=None
        Seeds the resampling's CPU generator (see
        :func:`skgmje.nn.augment.check_generator`); a CUDA generator keeps the
        draws on the GPU.

    Attributes
    ----------
    keys : Tensor of shape (n_keys, dim)
        The particles; after a resampling step some are copies of each other.
    pool_log_weights : Tensor of shape (P,) or None
        Normalised log weights of the pool ``[keys before the update; new keys]``
        at the last resampling step; None before the first.
    ess_history : list of float
        One entry per update: the ESS of the pooled weights before resampling,
        or, while the bank fills, of the uniform bank (its number of keys).
    generator : torch.Generator

    Examples
    --------
    >>> import torch
    >>> from skgmje.nn.memory import SMCBank
    >>> bank = SMCBank(bank_size=4, dim=2, random_state=0)
    >>> queries = torch.nn.functional.normalize(torch.randn(3, 2), dim=1)
    >>> keys = torch.nn.functional.normalize(torch.randn(3, 2), dim=1)
    >>> bank.update(keys, bank.logits(queries, keys, temperature=0.2))  # fills
    >>> logits = bank.logits(queries, keys, temperature=0.2)            # shape (3, 6)
    >>> bank.update(keys, logits)                                       # 6 -> 4 particles
    >>> bank.n_keys, len(bank.ess_history), 1.0 <= bank.ess_history[-1] <= 6.0
    (4, 2, True)
    """

    def __init__(self, bank_size, dim, resampling="systematic", tempering=1.0, random_state=None):
        super().__init__(bank_size, dim)
        if resampling not in RESAMPLING:
            raise ValueError(f"resampling must be one of {list(RESAMPLING)}; got {resampling!r}.")
        if (
            isinstance(tempering, bool)
            or not isinstance(tempering, numbers.Real)
            or not (0.0 <= tempering <= 1.0)
        ):
            raise ValueError(f"tempering must be a number in [0, 1]; got {tempering!r}.")
        self.resampling = resampling
        self.tempering = float(tempering)
        self.generator = check_generator(random_state)
        self.register_buffer("_pool_log_weights", None, persistent=False)

    @property
    def pool_log_weights(self):
        """Tensor of shape (P,) or None: the pooled weights of the last resampling step."""
        return self._pool_log_weights

    def extra_repr(self):
        return (
            f"{super().extra_repr()}, resampling={self.resampling!r}, tempering={self.tempering:g}"
        )

    @torch.no_grad()
    def update(self, keys, logits=None, ids=None):
        """Append the keys while there is room, else weight, resample and reset ([GMJE]_ Algo 2).

        Parameters
        ----------
        keys : Tensor of shape (B, dim)
            Detached and cast to the bank's device and dtype.
        logits : Tensor of shape (B, n_keys + B), optional
            ``bank.logits(queries, keys, temperature)``, computed before this
            update. Needed once the pool outgrows ``bank_size``.
        ids : Tensor of shape (B,), optional
            Source id of each key, kept beside it through resampling (see :meth:`logits`).
        """
        keys = self._check_keys(keys)
        n_bank, n_new = self.n_keys, len(keys)
        logits = self._check_logits(logits, n_new)
        pool = torch.cat([self._keys, keys])
        pool_ids = torch.cat([self._ids, self._check_ids(ids, n_new)])
        if len(pool) <= self.bank_size:
            self._keys, self._ids = pool, pool_ids
            self.ess_history.append(float(self.n_keys))
            return
        if logits is None:
            raise ValueError(
                "SMCBank.update needs the logits once the bank and the batch outgrow "
                "bank_size: pass bank.logits(queries, keys, temperature)."
            )
        log_weights = self._pool_weights(logits, n_bank)
        if self.tempering != 1.0:
            log_weights = torch.log_softmax(self.tempering * log_weights, 0)
        self._pool_log_weights = log_weights
        self.ess_history.append(float(torch.exp(-torch.logsumexp(2.0 * log_weights, 0))))
        chosen = resample(log_weights.exp(), self.bank_size, self.resampling, self.generator)
        chosen = chosen.to(pool.device)
        self._keys, self._ids = pool[chosen], pool_ids[chosen]

    @staticmethod
    def _pool_weights(logits, n_bank):
        """Normalised log weights of the pool: [GMJE]_ Eq. 34, each key's own query left out."""
        n_new = logits.shape[0]
        # The mean over the queries that may vote: a query's own earlier key is masked out.
        voters = torch.isfinite(logits[:, :n_bank]).sum(0).clamp_min(1)
        bank_scores = torch.logsumexp(logits[:, :n_bank], 0) - torch.log(voters.to(logits))
        if n_new > 1:
            own_query = torch.eye(n_new, dtype=torch.bool, device=logits.device)
            key_logits = logits[:, n_bank:].masked_fill(own_query, -math.inf)
            key_scores = torch.logsumexp(key_logits, 0) - math.log(n_new - 1)
        else:
            key_scores = (torch.logsumexp(bank_scores, 0) - math.log(n_bank)).reshape(1)
        return torch.log_softmax(torch.cat([bank_scores, key_scores]), 0)
