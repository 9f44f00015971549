"""Run rows past the ORM, for adapters that record many short tasks per transaction.

:func:`~flowtrail.core.adapter.start_runs` and :func:`~flowtrail.core.adapter.finish_runs` build
one ORM record per run: right for a workflow's run or a task that runs for minutes. An adapter
whose recorder must stay well under a millisecond per task (Prefect flows of thousands of
sub-second tasks) writes the same rows with :class:`RunRows` instead: the columns come from
:func:`flowtrail.core.runs.tracking.run_columns` (the one rule for a new run row), the rows go in with
:mod:`.bulk` (one ``executemany``, ids read back in one query), final states with one
``executemany`` UPDATE, and input links through :func:`flowtrail.core.models.run.insert_input_links`
(the one writer of ``run_input``).

Everything happens inside :meth:`RunRows.transaction`; the adapter announces the runs to the run
listeners (:func:`~flowtrail.core.adapter.announce`) after it returns, and may skip building the
``Run`` objects for that when :func:`has_run_listeners` says nobody listens. Transforms and the
environment are looked up once per :class:`RunRows` (one per instance and recorder thread);
a transform is remembered only once the transaction that found or created it has committed.
Not thread-safe: one recorder thread per instance.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from flowtrail.core.adapter.bulk import in_values, insert_input_links, insert_with_ids, select_in, update_by_id
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import TrackingError
from flowtrail.core.models.run import FINAL_STATUSES, Run
from flowtrail.core.models.transform import get_or_create_transform, source_hash
from flowtrail.core.runs.tracking import _environment_id, has_run_listeners, run_columns

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from flowtrail.core.instance import Instance

__all__ = ["RunRows", "has_run_listeners"]

FINAL_COLUMNS = ("status", "finished_at", "error", "metrics")


class RunRows:
    """New run rows, final states and input links for one instance, many per transaction."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self._transforms: dict[tuple[str, str, str | None], int] = {}  # committed (key, type, source hash) -> id
        self._pending: dict[tuple[str, str, str | None], int] = {}

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """One write transaction (all or nothing); transforms it created are remembered after the commit."""
        self._pending = {}
        with write_transaction(self.instance.sessions) as session:
            yield session
        self._transforms.update(self._pending)
        self._pending = {}

    def transform_id(
        self, session: Session, key: str, *, type: str, source_code: str | None = None, description: str | None = None  # noqa: A002
    ) -> int:
        """The id of the transform ``key`` with this source (a new version when the source changed)."""
        ident = (key, type, source_hash(source_code))
        found = self._transforms.get(ident) or self._pending.get(ident)
        if found is None:
            transform = get_or_create_transform(session, key, type=type, source_code=source_code, description=description)
            found = self._pending[ident] = transform.id
        return found

    def environment_id(self, session: Session) -> int | None:
        """The id of this process's software environment (looked up once per instance)."""
        return _environment_id(self.instance, session)

    def new_row(self, uid: str, *, transform_id: int, **columns: Any) -> dict[str, Any]:
        """A new run row: ``uid`` and :func:`~flowtrail.core.runs.tracking.run_columns` (the one rule); see there for ``columns``."""
        return {"uid": uid, **run_columns(transform_id=transform_id, **columns)}

    @staticmethod
    def final_columns(
        status: str, *, finished_at: Any, error: str | None = None, metrics: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        """The columns a run's end sets (``finished_at`` is required: the engine says when it ended)."""
        if status not in FINAL_STATUSES:
            raise TrackingError(f"{status!r} is not a final status: use one of {', '.join(FINAL_STATUSES)}.")
        return {"status": status, "finished_at": finished_at, "error": error, "metrics": metrics}

    def insert(self, session: Session, rows: list[dict[str, Any]]) -> list[int]:
        """Insert rows built by :meth:`new_row` (a row may carry :meth:`final_columns` too); their ids in order.

        A uid registered before makes the transaction fail (an integrity error): see :meth:`existing`.
        """
        if not rows:
            return []
        final = [row for row in rows if "finished_at" in row]
        if final and len(final) != len(rows):  # one statement per set of columns
            started = [row for row in rows if "finished_at" not in row]
            ids = dict(zip([id(r) for r in started], insert_with_ids(session, Run, started), strict=True))
            ids.update(zip([id(r) for r in final], insert_with_ids(session, Run, final), strict=True))
            return [ids[id(row)] for row in rows]
        return insert_with_ids(session, Run, rows)

    def finish(self, session: Session, ends: Sequence[tuple[int, dict[str, Any]]]) -> None:
        """Set the :meth:`final_columns` of runs by id, in one statement."""
        update_by_id(session, Run, [{"_id": run_id, **{c: values[c] for c in FINAL_COLUMNS}} for run_id, values in ends])

    def restart(self, session: Session, run_id: int) -> None:
        """A run executed again under the same uid (an engine's re-run of the same run): started, not ended."""
        update_by_id(session, Run, [{"_id": run_id, "status": "started", "finished_at": None, "error": None}])

    def existing(self, session: Session, uids: Sequence[str]) -> dict[str, tuple[int, int | None]]:
        """The runs registered under ``uids``: uid -> (id, project id)."""
        statement = _select_existing()
        return {uid: (run_id, project_id) for uid, run_id, project_id in select_in(session.connection(), statement, uids)}

    def link_inputs(self, session: Session, links: Sequence[tuple[int, Any]]) -> int:
        """Add the ``(run id, artifact or artifact id)`` input links not present yet; how many were added."""
        return insert_input_links(session, list(links))


_EXISTING: list[Any] = []


def _select_existing() -> Any:
    if not _EXISTING:
        from sqlalchemy import select

        table = Run.__table__
        _EXISTING.append(select(table.c.uid, table.c.id, table.c.project_id).where(in_values(table.c.uid)))
    return _EXISTING[0]
