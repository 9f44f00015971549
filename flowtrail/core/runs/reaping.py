"""Ending runs whose process is gone: no run stays ``started`` forever.

Every run started through :func:`~flowtrail.core.runs.tracking.start_run` or ``track()`` records its
process id and host. A run still ``started`` whose process on this host no longer exists (killed
with SIGKILL, the machine's OOM killer, a crashed worker) is marked ``aborted``: by
``flowtrail runs reap`` and by the first run a process starts on that host. Runs of other hosts
are left alone (their processes cannot be checked from here).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy import select

from flowtrail.core.db.database import write_transaction
from flowtrail.core.models.run import Run, set_status
from flowtrail.core.util.processes import process_alive, this_host

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

OPEN_STATUSES = ("scheduled", "started")


def orphaned_runs(instance: Instance, host: str | None = None) -> list[int]:
    """Ids of open runs on ``host`` (default: this one) whose process is gone."""
    host = host or this_host()
    session = instance.sessions.current()
    try:
        rows = session.execute(
            select(Run.id, Run.pid, Run.created_at).where(
                Run.status.in_(OPEN_STATUSES), Run.host == host, Run.pid.is_not(None)
            )
        ).all()
    finally:
        instance.sessions.end_read()
    return [run_id for run_id, pid, created in rows if not process_alive(int(pid), created)]


def reap_runs(instance: Instance) -> list[Run]:
    """Mark this host's open runs whose process is gone as aborted; return them."""
    dead = orphaned_runs(instance)
    if not dead:
        return []
    host = this_host()
    with write_transaction(instance.sessions) as session:
        runs = list(session.scalars(select(Run).where(Run.id.in_(dead), Run.status.in_(OPEN_STATUSES))))
        for run in runs:
            set_status(session, run, "aborted", f"The process {run.pid} on {host} ended without finishing this run.")
    from flowtrail.core.runs.tracking import notify

    for run in runs:
        notify("finish", run)
    return runs


def reap_once(instance: Instance) -> None:
    """Reap at the first run this process starts on ``instance`` (cheap afterwards)."""
    if instance.caches.get("reaped"):
        return
    instance.caches["reaped"] = True
    try:
        reap_runs(instance)
    except Exception as exc:  # reaping must never stop a new run
        import logging

        logging.getLogger("flowtrail").debug("could not reap runs: %s", exc)
