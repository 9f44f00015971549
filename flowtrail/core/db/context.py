"""The handle on the current instance: which registry this process reads and writes.

Every room below :mod:`flowtrail.core.instance` asks here, so none of them imports the instance
module. The first call with no instance connects one: that call is the one door up
(``current`` -> ``instance.connect``), deferred so importing this module stays cheap.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

_current: Instance | None = None
_lock = threading.Lock()


def current() -> Instance:
    """The instance this process uses, discovered and connected on first use."""
    instance = _current
    if instance is not None and instance.sessions._pid == os.getpid():
        return instance
    from flowtrail.core import instance as instance_module  # door up: connect on first use

    if instance is not None:  # a forked child: keep the config, drop the parent's connections
        return instance_module.reconnect(instance.config)
    return instance_module.connect()


def connected() -> Instance | None:
    """The current instance if one is connected in this process, without connecting one."""
    return _current


def replace_current(instance: Instance | None) -> Instance | None:
    """Make ``instance`` current; return the one it replaces (the caller decides whether to close it)."""
    global _current
    with _lock:
        previous, _current = _current, instance
    return previous


def disconnect() -> None:
    """Close the current instance (tests and long-lived services use this)."""
    previous = replace_current(None)
    if previous is not None:
        previous.close()
