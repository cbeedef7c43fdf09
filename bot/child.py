"""Jobs that run in a short-lived child process, so the long-running daemon never keeps what they load.

The weekly report (matplotlib and a week of rows) and the model's retraining (scikit-learn) each take tens of
megabytes that Python would not give back; a spawned child returns them to the system when it exits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def _keep_running_on_stop() -> None:
    # The daemon lets its current job finish on SIGINT/SIGTERM; the child is part of that job.
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def in_child_process(fn: Callable[..., T], *args: object) -> T:
    """Run ``fn(*args)`` in a fresh (spawned) Python process that exits afterwards, and return its result."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")  # a clean interpreter, not a copy of the daemon
    with ProcessPoolExecutor(max_workers=1, mp_context=context, initializer=_keep_running_on_stop) as pool:
        return pool.submit(fn, *args).result()
