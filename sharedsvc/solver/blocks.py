"""Split the services into blocks that no constraint ties together, and run blocks in threads.

Services that no constraint ties are solved as separate, smaller models; the plan
is the union of their optima, which is optimal for the whole.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import attrs

from sharedsvc.rules import Constraint
from sharedsvc.stopping import StopToken

Job = TypeVar("Job")
Done = TypeVar("Done")


def blocks(services: Sequence[str], constraints: Sequence[Constraint]) -> list[list[str]]:
    """Services in groups that constraints tie together; each group is solved on its own."""
    block_of = {s: {s} for s in services}
    for constraint in constraints:
        linked = [s for s in constraint.linked_services(services) if s in block_of]
        merged = set().union(*(block_of[s] for s in linked)) if linked else set()
        for s in merged:
            block_of[s] = merged
    seen: list[set[str]] = []
    for s in services:
        if not any(block_of[s] is b for b in seen):
            seen.append(block_of[s])
    return [[s for s in services if s in b] for b in seen]


def run_jobs(
    job: Callable[[Job], Done], jobs: Sequence[Job], workers: int, stop: StopToken
) -> Iterator[Done]:
    """Run `job` on each item, in up to `workers` threads when there are several; the
    results come in the order of `jobs`.

    The solvers do the work outside Python (CBC in its own process, HiGHS in C++),
    so threads run blocks in parallel. Forked processes would not do: forking after
    HiGHS has started its threads can deadlock. If the run is interrupted or a job
    fails, `stop` is set, so the running jobs end their solvers and no job that has not
    started starts; when the caller stops reading early, the jobs not yet started
    are dropped and the running ones finish.
    """
    if workers < 2 or len(jobs) < 2:
        for item in jobs:
            stop.check()
            yield job(item)
        return
    pool = concurrent.futures.ThreadPoolExecutor(workers)
    try:
        futures = [pool.submit(job, item) for item in jobs]
        for future in futures:
            yield future.result()
    except GeneratorExit:
        raise
    except BaseException as failure:  # interrupted, or a block failed: end the others now
        stop.request(getattr(failure, "signum", signal.SIGINT))
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


@attrs.define
class Stopwatch:
    """Seconds spent in the `timing()` blocks: here, building models."""

    seconds: float = 0.0

    @contextlib.contextmanager
    def timing(self) -> Iterator[None]:
        started = time.perf_counter()
        try:
            yield
        finally:
            self.seconds += time.perf_counter() - started
