"""SIGINT and SIGTERM during a crawl: the first asks the run to stop (the fetches in flight finish
and what they bring is committed); a second acts at once, as the default handling does.

    with stop_on_signals(stop):   # stop("signal") is called on the first signal
        ...
"""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager

log = logging.getLogger("archiver.crawl")

_IGNORED = (NotImplementedError, RuntimeError, ValueError)  # not the main thread, or no signals here


@contextmanager
def stop_on_signals(stop: Callable[[str], None]) -> Iterator[None]:
    """Within the block, the running loop turns the first SIGINT or SIGTERM into `stop("signal")`."""
    loop = asyncio.get_running_loop()

    def on_signal(sig: int) -> None:
        log.warning("received %s: finishing the fetches in flight, then stopping", signal.Signals(sig).name)
        stop("signal")
        try:  # a second signal acts at once
            loop.remove_signal_handler(sig)
        except _IGNORED:
            pass

    handled: list[int] = []
    for sig in (signal.SIGINT, signal.SIGTERM):
        try:
            loop.add_signal_handler(sig, on_signal, sig)
            handled.append(sig)
        except _IGNORED:
            pass  # the default handling stays
    try:
        yield
    finally:
        for number in handled:
            loop.remove_signal_handler(number)
