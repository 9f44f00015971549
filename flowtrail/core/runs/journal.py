"""A local journal of lineage the registry could not take, replayed exactly once by ``flowtrail sync``.

When the registry cannot be written (down, read-only, full, locked past the bound), an adapter or
a tracked script appends what it would have written to a journal file and carries on. Each writer
process has its own file, ``<kind>-<host>-<pid>-<random>.ndjson``, in the journal folder:
``FLOWTRAIL_JOURNAL`` if set, else ``.flowtrail/journal/`` of the instance, else (a registry
given by URL only) a folder per database in the user's cache. The first line is a header naming
the replayer (``"module:function"``, so the core needs no engine); the other lines are the
writer's entries, in order, each flushed to disk as it is written.

:func:`sync` replays each finished file (its writer process is gone) and deletes it. A file is
claimed by renaming it first, so two syncs never replay the same file; replayers are idempotent
(runs are keyed by uid), so a sync killed half-way replays the rest next time without doubles.
:func:`sync_pending` runs at every successful connection; ``flowtrail sync`` runs it by hand.

Adapters use :class:`JournalWriter` (``append``/``close``) and register nothing: the header says
how to replay.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowtrail.core.db import config as cfg
from flowtrail.core.util.ids import random_base62
from flowtrail.core.util.processes import process_alive, this_host

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

logger = logging.getLogger("flowtrail")
ENV_JOURNAL = "FLOWTRAIL_JOURNAL"
SUFFIX = ".ndjson"
CLAIMED = ".replaying-"
Replayer = Callable[["Instance", dict[str, Any], list[dict[str, Any]]], None]


def journal_folder(config: cfg.InstanceConfig) -> Path:
    """Where this instance's journal files are kept."""
    if os.environ.get(ENV_JOURNAL):
        return Path(os.environ[ENV_JOURNAL]).expanduser()
    if config.dot_folder is not None:
        return config.dot_folder / "journal"
    digest = hashlib.sha256(config.db_url.encode()).hexdigest()[:16]
    return config.cache_dir / "journal" / digest


class JournalWriter:
    """One process's journal file; every entry is on disk before :meth:`append` returns."""

    def __init__(
        self, config: cfg.InstanceConfig, kind: str, replayer: str, header: dict[str, Any], *, announce: bool = True
    ) -> None:
        folder = journal_folder(config)
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / f"{kind}-{this_host()}-{os.getpid()}-{random_base62(6)}{SUFFIX}"
        self._handle = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - kept open for appends
        self.append({"op": "header", "kind": kind, "replayer": replayer, "host": this_host(), "pid": os.getpid(),
                     "written_at": time.time(), **header})  # fmt: skip
        if announce:  # adapters with their own warning say it there, once
            logger.warning(
                "the registry cannot be written; lineage is kept in the journal %s and recorded by `flowtrail sync` "
                "(also automatically at the next successful connection).", self.path,
            )  # fmt: skip

    def append(self, entry: dict[str, Any]) -> None:
        self._handle.write(json.dumps(entry, default=str) + "\n")
        self._handle.flush()
        os.fsync(self._handle.fileno())

    def close(self) -> None:
        if not self._handle.closed:
            self._handle.close()


@dataclass
class SyncReport:
    """What a sync did: files replayed, files kept for later (and why), files still being written."""

    replayed: list[Path]
    failed: list[tuple[Path, str]]
    busy: list[Path]


def pending_files(config: cfg.InstanceConfig) -> list[Path]:
    folder = journal_folder(config)
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.iterdir() if p.name.endswith(SUFFIX) or CLAIMED in p.name)


def _writer_alive(path: Path) -> bool:
    """Whether the process that writes (or replays) ``path`` still runs on this host."""
    name = path.name
    if CLAIMED in name:
        pid = int(name.rsplit(CLAIMED, 1)[1])
        return process_alive(pid)
    parts = name[: -len(SUFFIX)].split("-")
    try:
        pid = int(parts[-2])
    except (IndexError, ValueError):
        return False
    host = "-".join(parts[1:-2])
    if host == this_host():
        return process_alive(pid)
    # Another machine's writer (a shared folder) cannot be checked: wait for its last entry, or a day.
    return not _ends_with_finish(path) and time.time() - path.stat().st_mtime < FOREIGN_QUIET_S


FOREIGN_QUIET_S = 24 * 3600


def _ends_with_finish(path: Path) -> bool:
    with open(path, "rb") as handle:
        handle.seek(max(0, path.stat().st_size - 4096))
        lines = [line for line in handle.read().splitlines() if line.strip()]
    try:
        return bool(lines) and json.loads(lines[-1]).get("op") == "finish"
    except ValueError:
        return False


def _claim(path: Path) -> Path | None:
    """Rename the file so no other sync replays it; None when another sync got it first."""
    base = path.name.split(CLAIMED, 1)[0]
    claimed = path.with_name(f"{base}{CLAIMED}{os.getpid()}")
    try:
        os.rename(path, claimed)
    except FileNotFoundError:
        return None
    return claimed


def _release(claimed: Path) -> None:
    os.rename(claimed, claimed.with_name(claimed.name.split(CLAIMED, 1)[0]))


def read_entries(path: Path) -> list[dict[str, Any]]:
    """The entries of a journal file; a last line cut short by a crash is ignored."""
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except ValueError:
            continue
    return entries


def sync(instance: Instance) -> SyncReport:
    """Replay every finished journal file of ``instance`` into it, each exactly once."""
    report = SyncReport([], [], [])
    for path in pending_files(instance.config):
        if _writer_alive(path):
            report.busy.append(path)
            continue
        claimed = _claim(path)
        if claimed is None:
            continue
        entries = read_entries(claimed)
        try:
            if not entries or entries[0].get("op") != "header":
                raise ValueError("the file has no journal header")
            header = entries[0]
            module, _, function = str(header["replayer"]).partition(":")
            replayer: Replayer = getattr(importlib.import_module(module), function)
            replayer(instance, header, entries[1:])
        except Exception as exc:
            _release(claimed)
            report.failed.append((path, f"{type(exc).__name__}: {exc}"))
            continue
        claimed.unlink()
        report.replayed.append(path)
    return report


_syncing = False


def sync_pending(instance: Instance) -> None:
    """Replay what is journaled, if anything (called at every successful connection; never raises)."""
    global _syncing
    if _syncing:
        return
    try:
        if not pending_files(instance.config):
            return
    except OSError:
        return
    _syncing = True
    try:
        report = sync(instance)
        if report.replayed:
            logger.info("recorded %d journal file(s) the registry could not take earlier.", len(report.replayed))
        for path, why in report.failed:
            logger.warning("could not record the journal %s yet (%s); `flowtrail sync` retries.", path, why)
    except Exception as exc:  # a connection must never fail because of the journal
        logger.warning("could not replay the journal: %s", exc)
    finally:
        _syncing = False
