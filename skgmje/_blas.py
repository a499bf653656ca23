"""One BLAS thread for the many small matrix products of an EM fit.

An EM iteration multiplies a block of rows by every component's factor: products
of a few hundred to a few thousand rows by a few dozen columns. Threaded BLAS
gains little on them and, with a thread pool that spins between calls, loses a
great deal: on two cores, fits choosing ``K`` on 1,000 of ``bench_sbi``'s
simulations ran up to 3.8 times slower with two BLAS threads than with one, while
fits of 100,000 and 400,000 rows gained 2-7% from the second thread.
scikit-learn's ``KMeans`` limits BLAS the same way in its Lloyd loop. The
cores go to whole fits instead: the candidates of a ``K`` search run in parallel
(``n_jobs``).
"""

from functools import lru_cache

from threadpoolctl import ThreadpoolController


@lru_cache(maxsize=1)
def _controller():
    # Inspecting the loaded libraries costs milliseconds; a fit enters this per candidate.
    return ThreadpoolController()


def single_threaded_blas():
    """A context manager under which every BLAS library loaded at first use runs one
    thread; the previous limits come back on exit."""
    return _controller().limit(limits=1, user_api="blas")
