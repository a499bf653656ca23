import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """The tests use small arrays, where OpenBLAS threads only cost: a 3x3 triangular
    solve slows from ~40 us to ~10 ms when its threads compete for a busy core."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
