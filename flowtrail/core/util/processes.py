"""Is the process that started a run still there? Standard library only (the fast track() path uses it).

A run records its process id and host. A pid alone is not enough: after the process ended, the
system may hand the same pid to a later process, so on Linux the process's start time is
compared with the run's creation; a zombie (ended, not yet waited for) counts as gone.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
from functools import cache

REUSE_SLACK_S = 2.0  # clock ticks and row timestamps are not exactly aligned


@cache
def this_host() -> str:
    """This machine's name as runs record it."""
    return socket.gethostname()[:255]


def _boot_time() -> float | None:
    try:
        with open("/proc/stat") as handle:
            for line in handle:
                if line.startswith("btime "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def _proc_state(pid: int) -> tuple[str, float | None] | None:
    """(state letter, start time as epoch seconds) from /proc, or None where /proc is unavailable."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            text = handle.read()
    except FileNotFoundError:
        return ("gone", None)
    except OSError:
        return None
    fields = text.rsplit(")", 1)[1].split()  # the command name may hold spaces and parentheses
    boot = _boot_time()
    started = boot + int(fields[19]) / os.sysconf("SC_CLK_TCK") if boot is not None else None
    return fields[0], started


def process_alive(pid: int, created_at: dt.datetime | None = None) -> bool:
    """Whether process ``pid`` of this host still runs and is the one that created a row at ``created_at``."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # another user's process: it exists
    state = _proc_state(pid)
    if state is None:
        return True
    letter, started = state
    if letter in ("gone", "Z", "X"):
        return False
    if started is not None and created_at is not None:
        created = created_at if created_at.tzinfo else created_at.replace(tzinfo=dt.UTC)
        if started > created.timestamp() + REUSE_SLACK_S:
            return False  # the pid now belongs to a later process
    return True
