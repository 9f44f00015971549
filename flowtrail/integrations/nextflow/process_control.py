"""Stopping a running Nextflow: Ctrl-C and SIGTERM, then its whole process group.

Nextflow runs in a session of its own, so a Ctrl-C reaches flowtrail first; flowtrail asks
Nextflow to stop, keeps registering while it winds down, and forces it after
:data:`STOP_TIMEOUT_S`.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from typing import Any

STOP_TIMEOUT_S = 60.0


def _stop(process: subprocess.Popen[Any] | None, feed: Callable[[Any], None]) -> None:
    """Ask Nextflow to stop (SIGINT to its process group), keep registering, then force it.

    Task processes that outlive Nextflow (a task's children run in the background of its wrapper,
    so they ignore SIGINT) are in the same process group: they get SIGTERM, then SIGKILL.
    """
    if process is None:
        return
    if process.poll() is None:
        _signal_group(process, signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            try:
                feed(None)
                time.sleep(0.5)
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                break
    if process.poll() is None:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    _signal_group(process, signal.SIGTERM)
    time.sleep(0.2)
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _sigterm_as_interrupt() -> Callable[[], None]:
    """While the pipeline runs, SIGTERM stops it like Ctrl-C (registering what finished)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)
