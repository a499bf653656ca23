import pytest
from hypothesis import HealthCheck, settings
from threadpoolctl import threadpool_limits

# The default run replays the same examples on every machine and every run, so the README's
# test command passes or fails for everyone alike; exploring new examples is the job of the
# fuzz profile (`python -m pytest -m slow tests/test_fuzz.py --hypothesis-profile=fuzz`),
# which CI runs with a bounded budget. A `--hypothesis-profile` option overrides this.
settings.register_profile("replay", derandomize=True, database=None, deadline=None)
settings.register_profile(
    "fuzz",
    derandomize=False,
    deadline=None,
    max_examples=300,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)
settings.load_profile("replay")


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_blas():
    """The tests use small arrays, where OpenBLAS threads only cost: a 3x3 triangular
    solve slows from ~40 us to ~10 ms when its threads compete for a busy core."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield
