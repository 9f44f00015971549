"""Pausing Python's cyclic garbage collector while ``flowtrail ingest`` reads and stores batches.

A batch allocates hundreds of thousands of containers (parsed events, rows, folded states) and
frees them by reference counting; they form no cycles worth chasing. Left on, the cyclic collector
runs its collections over the growing heap again and again during a batch (10-20% of the CPU of
an ingest). So the reader pauses it and collects once between two batches (:func:`collect`):
memory stays bounded. The server does not pause it: with requests always in flight the pause
might never end, and cycles would pile up in a long-running process.
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
