"""nextflowpy, imported lazily, and the ``io`` hook flowtrail gives its ``run_and_poll``.

nextflowpy is GPL-3.0 and an optional extra: it is imported only when a pipeline is run. The
``io`` hook reads nextflowpy's console and exit-status files from flowtrail's state dir, skips
nextflowpy's work-dir scan, and ends the poll loop (:class:`_LaunchFailed`) when Nextflow exited
without writing a log. nextflowpy reports naive local times; :func:`_utc` converts them.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from collections.abc import Callable
from typing import Any

from flowtrail.integrations.nextflow.launch_files import LOG_NAME


class _LaunchFailed(Exception):
    """Nextflow exited without writing a log: nothing for nextflowpy to poll."""


def _import_nextflowpy() -> Any:
    """nextflowpy, imported only now: it is GPL-3.0 and an optional extra."""
    from flowtrail.core.errors import ConfigurationError

    try:
        import nextflow
    except ImportError:
        raise ConfigurationError(
            "flowtrail nextflow run needs nextflowpy (GPL-3.0): pip install 'flowtrail[nextflow]'."
        ) from None
    except Exception as exc:  # NextflowNotInstalledError: no `nextflow` executable on PATH
        if type(exc).__name__ != "NextflowNotInstalledError":
            raise
        raise ConfigurationError(
            "No `nextflow` executable on PATH. Install Nextflow the usual way "
            "(https://www.nextflow.io/docs/latest/install.html) and put it on PATH."
        ) from None
    return nextflow


class _IO:
    """nextflowpy's ``io`` hook: local reads, with our file locations and a dead-launch guard."""

    def __init__(self, launch_dir: str, files: dict[str, str], process: Callable[[], subprocess.Popen[Any] | None]):
        self.log = os.path.join(launch_dir, LOG_NAME)
        self.redirects = {os.path.join(launch_dir, f"{name}.txt"): path for name, path in files.items()}
        self.process = process

    def abspath(self, path: str) -> str:
        return os.path.abspath(path)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def glob(self, pattern: str) -> list[str]:
        # nextflowpy globs <launch>/work/*/* at every poll to find work dirs (only under the
        # launch dir, and slow on a big work dir), then re-reads every unfinished task's
        # .command.out/.err/.sh. flowtrail takes work dirs from the trace and the log, so polls
        # skip all of that: without paths, nextflowpy only parses the log.
        return []

    def ctime(self, path: str) -> dt.datetime:
        return dt.datetime.fromtimestamp(os.path.getctime(path))

    def read(self, path: str) -> str:
        target = self.redirects.get(os.path.normpath(path), path)
        try:
            with open(target, errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            process = self.process()
            if target == self.log and process is not None and process.poll() is not None:
                raise _LaunchFailed from None
            raise


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC)  # nextflowpy's times are naive local times from the log
