"""What the torch-backed estimators share: device and thread checks, and a seeded torch context."""

from contextlib import contextmanager

import numpy as np
import torch
from sklearn.utils import check_random_state

from .base import check_positive


def check_device_and_threads(device, n_threads):
    """Raise ``ValueError`` for a CUDA device torch cannot see or a bad thread count."""
    if n_threads is not None:
        check_positive("n_threads", n_threads, integer=True)
    if torch.device(device).type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device={device!r} but torch sees no CUDA device.")


def torch_seed(random_state):
    """One int seed for torch, drawn from an sklearn-style ``random_state``."""
    return int(check_random_state(random_state).randint(np.iinfo(np.int32).max))


@contextmanager
def torch_threads(n_threads):
    """Run with ``n_threads`` torch intra-op threads (None: leave torch's), restored after."""
    previous = torch.get_num_threads()
    if n_threads is not None:
        torch.set_num_threads(n_threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@contextmanager
def seeded_torch(seed, device, n_threads):
    """Seed torch inside a forked RNG (the caller's global torch state is left alone)."""
    devices = [torch.device(device)] if torch.device(device).type == "cuda" else []
    with torch.random.fork_rng(devices=devices), torch_threads(n_threads):
        torch.manual_seed(seed)
        yield
