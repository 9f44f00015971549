"""Pausing Python's cyclic garbage collector while batches of events are parsed and stored.

A batch allocates hundreds of thousands of containers (parsed events, rows, folded states) and
frees them by reference counting; they form no cycles worth chasing. Left on, the cyclic collector
runs full collections over the whole growing heap again and again during a batch: ingesting
20,000 events took about twice as long with it on. So it is paused while batches are handled,
and a reader of many batches collects once between two (:func:`collect`): memory stays bounded.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["collect", "paused_collector"]

_lock = threading.Lock()
_pauses = [0, False]  # blocks in flight (the server stores several at once), was the collector on


@contextmanager
def paused_collector() -> Iterator[None]:
    """Disable the cyclic collector inside the block; nested and concurrent blocks are allowed."""
    with _lock:
        if _pauses[0] == 0:
            _pauses[1] = gc.isenabled()
            gc.disable()
        _pauses[0] += 1
    try:
        yield
    finally:
        with _lock:
            _pauses[0] -= 1
            if _pauses[0] == 0 and _pauses[1]:
                gc.enable()


def collect() -> None:
    """Collect what cycles the last batch left (between batches, inside :func:`paused_collector`)."""
    gc.collect()
