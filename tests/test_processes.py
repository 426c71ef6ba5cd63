"""Process pools stop their workers when the caller stops (kavan_tf.processes)."""

import multiprocessing
import time
from concurrent.futures import ProcessPoolExecutor

import pytest

from kavan_tf.processes import stopped_pool


def _pool() -> ProcessPoolExecutor:
    return ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))


def test_a_finished_block_waits_for_its_tasks():
    pool = _pool()
    with stopped_pool(pool):
        future = pool.submit(pow, 3, 4)
    assert future.result(timeout=0) == 81


@pytest.mark.parametrize("stop", [KeyboardInterrupt, SystemExit, RuntimeError])
def test_a_stopped_block_ends_the_running_task_instead_of_waiting(stop):
    pool = _pool()
    began = time.monotonic()
    with pytest.raises(stop), stopped_pool(pool):
        assert pool.submit(pow, 2, 3).result(timeout=60) == 8  # the worker is up
        future = pool.submit(time.sleep, 120)
        time.sleep(1.0)  # the worker has taken the task and sleeps
        assert future.running()
        raise stop
    # Ended long before the 120 s task could have finished.
    assert time.monotonic() - began < 60
    assert future.done() and not future.cancelled() and future.exception() is not None
