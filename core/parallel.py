"""Work split into chunks over worker processes on one machine, results in input order.

One owner for the pattern the pixel-bound stages share (the cache stage's photo
features, the rules analyst): each worker runs ``initializer(*initargs)`` once (to
build what every chunk needs), then ``fn(chunk) -> list`` per chunk. Workers are
*spawned*, not forked: the calling process may hold a JVM (a SparkSession) and its
threads. With one worker, or too little work to pay for a process's start, everything
runs in this process through the same two functions, so the results never depend on
the number of workers.
"""

from __future__ import annotations

import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from typing import Callable, Iterable, Sequence


def worker_count(requested: int, items: int, min_per_worker: int) -> int:
    """``requested`` processes (0: one per core), fewer when each would get under ``min_per_worker`` items."""
    wanted = requested or os.cpu_count() or 1
    return max(1, min(wanted, items // max(min_per_worker, 1)))


def map_chunks(fn: Callable[[list], list], items: Sequence, chunk: int, workers: int,
               initializer: Callable[..., None], initargs: tuple = (), progress=None,
               min_per_worker: int | None = None) -> list:
    """``fn`` over ``items`` in chunks of ``chunk`` on ``workers`` processes (0: one per core), in order.

    ``fn`` and ``initializer`` must be module-level functions (they are pickled by name).
    ``progress`` (a :class:`core.progress.Progress`) advances by each chunk's length as it
    finishes; ``fn`` may return an empty list when it has nothing to hand back.
    """
    chunks = [items[i:i + chunk] for i in range(0, len(items), chunk)]  # a range stays a range
    workers = worker_count(workers, len(items), 2 * chunk if min_per_worker is None else min_per_worker)
    if workers == 1:
        initializer(*initargs)
        return _gather(chunks, map(fn, chunks), progress)
    with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                             initializer=initializer, initargs=initargs) as pool:
        return _gather(chunks, pool.map(fn, chunks), progress)


def _gather(chunks: list[Sequence], done: Iterable[list], progress) -> list:
    out: list = []
    for chunk, results in zip(chunks, done):
        out += results
        if progress is not None:
            progress.update(len(chunk))
    return out
