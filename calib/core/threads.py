"""Threads for compiled kernels that release the GIL (replicate draws and re-raking).

``CALIB_THREADS`` (environment) caps the number of threads; the default is every CPU this
process may use. Results never depend on the number of threads: each replicate has its own
seed and its own solve.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from calib.core.errors import DataError


def usable_cpus() -> int:
    """CPUs this process may run on (its affinity mask on Linux, else ``os.cpu_count()``).

    Examples
    --------
    >>> usable_cpus() >= 1
    True
    """
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def threads() -> int:
    """Threads to use: ``CALIB_THREADS`` when set (a positive integer), else :func:`usable_cpus`.

    Examples
    --------
    >>> threads() >= 1
    True
    """
    raw = os.environ.get("CALIB_THREADS", "").strip()
    if raw:
        try:
            n = int(raw)
        except ValueError:
            n = 0
        if n < 1:
            raise DataError(f"CALIB_THREADS={raw!r}: set a positive integer (1 = no threads)")
        return n
    return usable_cpus()


def run_parts(fn: Callable[[int, int], object], n: int, workers: int | None = None) -> None:
    """Call ``fn(start, stop)`` on contiguous parts of ``range(n)``, one per thread (at most
    ``workers``, default :func:`threads`); in the calling thread when one part is enough.

    Examples
    --------
    >>> seen = []
    >>> run_parts(lambda a, b: seen.extend(range(a, b)), 5, workers=2)
    >>> sorted(seen)
    [0, 1, 2, 3, 4]
    """
    workers = min(threads() if workers is None else workers, n)
    if workers <= 1:
        if n:
            fn(0, n)
        return
    bounds = [n * i // workers for i in range(workers + 1)]
    with ThreadPoolExecutor(workers) as ex:
        for f in [ex.submit(fn, a, b) for a, b in zip(bounds[:-1], bounds[1:], strict=True)]:
            f.result()
