"""Journaling ``track()``/``finish()`` while the registry cannot be written, and replaying it.

A tracked script whose registry is down, read-only, full or locked keeps running: its run's start
and end go to the journal (see :mod:`.journal`) and are recorded at the next ``flowtrail sync``
with the run's own uid, times, params and status. What is journaled: the run (transform key,
type, source, params, description, project, times, status, error). What is not: artifacts the
script saves or loads while the registry is unavailable (``save()`` raises
:class:`~flowtrail.core.errors.RegistryError`, which the script may catch).
"""

from __future__ import annotations

import datetime as dt
import os
from typing import TYPE_CHECKING, Any

from flowtrail.core.db import config as cfg
from flowtrail.core.runs.journal import JournalWriter
from flowtrail.core.util.ids import uuid7

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

REPLAYER = "flowtrail.core.runs.script_journal:replay"


def is_outage(exc: BaseException) -> bool:
    """Errors that mean the registry cannot take writes now (as opposed to a wrong call)."""
    from flowtrail.core.errors import RegistryError

    if isinstance(exc, RegistryError):
        return True
    import sqlite3

    return isinstance(exc, sqlite3.OperationalError)  # the fast path's own connection


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat()


class JournaledRun:
    """What ``track()`` returns while the registry is unavailable: the run's uid, recorded later."""

    def __init__(self, uid: str, writer: JournalWriter) -> None:
        self.uid = uid
        self.writer = writer
        self.id = None
        self.status = "started"

    def __repr__(self) -> str:
        return f"Run(uid={self.uid!r}, journaled)"


def journal_start(config: cfg.InstanceConfig, run: dict[str, Any]) -> JournaledRun:
    """Journal a run's start; its uid is final (the same once it is recorded)."""
    from flowtrail.core.runs.context import environment_parent

    uid = str(uuid7())
    named = environment_parent()  # the task run this script runs inside, if an engine named one
    writer = JournalWriter(config, "script", REPLAYER, {})
    writer.append({"op": "start", "uid": uid, "started_at": _now(), "parent": str(named[0]) if named else None,
                   **run})  # fmt: skip
    return JournaledRun(uid, writer)


def journal_finish(run: JournaledRun, status: str, error: str | None) -> JournaledRun:
    run.writer.append({"op": "finish", "uid": run.uid, "status": status, "error": error, "finished_at": _now()})
    run.writer.close()
    run.status = status
    return run


def journal_late_finish(uid: str, status: str, error: str | None) -> JournaledRun:
    """The registry took the start but not the end: journal the end alone."""
    writer = JournalWriter(cfg.resolve(), "script", REPLAYER, {})
    return journal_finish(JournaledRun(uid, writer), status, error)


def replay(instance: Instance, header: dict[str, Any], entries: list[dict[str, Any]]) -> None:
    """Record a script's journaled run; runs already recorded (by uid) are not recorded again."""
    from sqlalchemy import select

    from flowtrail.core.models.run import FINAL_STATUSES, Run
    from flowtrail.core.runs.tracking import finish_run, start_run

    session = instance.sessions.current()
    finished: set[str] = set()
    for entry in entries:
        uid = entry.get("uid")
        existing = session.scalar(select(Run).where(Run.uid == uid))
        instance.sessions.end_read()
        if entry.get("op") == "start" and existing is None:
            parent = None
            if entry.get("parent"):  # the task run it ran inside; a placeholder until its engine's journal fills it
                from flowtrail.core.runs.context import RunRef, resolve_run

                parent = resolve_run(instance, RunRef.parse(entry["parent"]))
            start_run(
                entry["key"], type=entry.get("type", "script"), source_code=entry.get("source"),
                params=entry.get("params"), description=entry.get("description"), uid=uid,
                started_at=dt.datetime.fromisoformat(entry["started_at"]), project=entry.get("project"),
                parent_id=parent.id if parent is not None else None, instance=instance,
            )  # fmt: skip
        elif entry.get("op") == "finish":
            finished.add(str(uid))
            if existing is not None and existing.status in FINAL_STATUSES:
                continue
            run = existing or session.scalar(select(Run).where(Run.uid == uid))
            if run is None:
                continue
            finish_run(run, entry["status"], error=entry.get("error"),
                       finished_at=dt.datetime.fromisoformat(entry["finished_at"]), instance=instance)  # fmt: skip
    # A start without its end: the process was killed while the registry was away.
    for entry in entries:
        if entry.get("op") == "start" and entry["uid"] not in finished:
            run = session.scalar(select(Run).where(Run.uid == entry["uid"]))
            instance.sessions.end_read()
            if run is not None and run.status not in FINAL_STATUSES:
                finish_run(run, "aborted", error=f"The process {header.get('pid', os.getpid())} ended without "
                           "finishing this run (recorded from the journal).", instance=instance)  # fmt: skip
