"""Process pools that stop at once when their caller stops.

``ProcessPoolExecutor.shutdown`` waits for the tasks already running, so a
caller stopped by Ctrl-C or SIGTERM (``kavan`` turns it into ``SystemExit``)
would wait for every worker's current task (a training run: minutes) before
it could exit. :func:`stopped_pool` ends the workers first.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor


@contextlib.contextmanager
def stopped_pool(executor: ProcessPoolExecutor) -> Iterator[ProcessPoolExecutor]:
    """Yields ``executor``; shuts it down when the block ends, waiting for its
    tasks when the block finished, and terminating its workers (tasks
    cancelled) when the block raised (an error, Ctrl-C, SIGTERM)."""
    try:
        yield executor
    except BaseException:
        # The pool keeps its worker processes here (CPython 3.8 and later).
        for process in list((getattr(executor, "_processes", None) or {}).values()):
            with contextlib.suppress(Exception):
                process.terminate()
        executor.shutdown(wait=True, cancel_futures=True)
        raise
    executor.shutdown(wait=True)
