"""Projects: get-or-create by name, and linking artifacts to the project of the run that made them.

A project name is unique. Creating one is a check-then-insert under the lock ``project:NAME``
(``BEGIN IMMEDIATE`` on SQLite, an advisory lock on PostgreSQL), so two processes starting runs
of the same new project end with one row. ``FLOWTRAIL_PROJECT`` names the project of runs that
are given none and have no parent run to inherit one from.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.db.context import current
from flowtrail.core.db.database import add_locks, write_transaction
from flowtrail.core.models.links import artifact_project
from flowtrail.core.models.project import Project
from flowtrail.core.models.run import Run
from flowtrail.core.util.host import current_user
from flowtrail.core.util.ids import random_base62

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from flowtrail.core.instance import Instance

ENV_PROJECT = "FLOWTRAIL_PROJECT"
UID_LENGTH = 12
BATCH = 500  # ids per IN list


def env_project() -> str | None:
    """The project ``FLOWTRAIL_PROJECT`` names, or None."""
    value = os.environ.get(ENV_PROJECT, "").strip()
    return value or None


def project_name(project: Any) -> str:
    """The name of a project given as a name or a :class:`Project`; rejects empty names."""
    name = project.name if isinstance(project, Project) else project
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"A project is named by a non-empty string or a Project, not {project!r}.")
    return name.strip()


def get_or_create_project(name: str, description: str | None = None, *, instance: Instance | None = None) -> Project:
    """The project called ``name``, created (with ``description``) if it does not exist yet."""
    inst = instance or current()
    name = project_name(name)
    with write_transaction(inst.sessions, locks=[f"project:{name}"]) as session:
        project = _get_or_create(session, name, description)
    return project


def project_in_session(session: Session, project: Any) -> Project:
    """Get or create a project inside an open write transaction (taking its lock there)."""
    name = project_name(project)
    add_locks(session, [f"project:{name}"])
    description = project.description if isinstance(project, Project) else None
    return _get_or_create(session, name, description)


def _get_or_create(session: Session, name: str, description: str | None) -> Project:
    found = session.scalar(select(Project).where(Project.name == name))
    if found is not None:
        return found
    project = Project(name, description=description)
    project.uid = random_base62(UID_LENGTH)
    project.created_by = current_user()
    session.add(project)
    session.flush()
    return project


def link_artifacts_to_project(session: Session, project_id: int, artifact_ids: Iterable[int]) -> int:
    """Insert the missing ``artifact_project`` rows inside an open transaction; return how many."""
    wanted = sorted({int(i) for i in artifact_ids if i is not None})
    missing: list[int] = []
    for start in range(0, len(wanted), BATCH):
        chunk = wanted[start : start + BATCH]
        present = set(
            session.scalars(
                select(artifact_project.c.artifact_id).where(
                    artifact_project.c.project_id == project_id, artifact_project.c.artifact_id.in_(chunk)
                )
            )
        )
        missing.extend(i for i in chunk if i not in present)
    if missing:
        session.execute(artifact_project.insert(), [{"artifact_id": a, "project_id": project_id} for a in missing])
    return len(missing)


def link_to_run_projects(session: Session, saved: Sequence[tuple[Any, Any]], ambient_run: Any) -> None:
    """Link each saved artifact to the project of the run it was saved for.

    ``saved`` pairs each artifact as given to ``save`` with the registered record (new, or the
    existing one a duplicate resolved to). The run is the artifact's own ``run=``, else
    ``ambient_run``. A run record that carries its ``project_id`` is trusted (a run's project is
    set when it starts and never changes); for other run objects (a fast-path run, rows an engine
    adapter wrote in bulk) the project is read from the run row.
    """
    by_run: dict[int, set[int]] = {}
    projects: dict[int, Any] = {}
    for draft, record in saved:
        run = getattr(draft, "_pending_run", None) or ambient_run
        run_id = getattr(run, "id", None)
        if run_id is not None and record.id is not None:
            by_run.setdefault(run_id, set()).add(record.id)
            projects.setdefault(run_id, _carried_project_id(run))
    unknown = sorted(run_id for run_id, project_id in projects.items() if project_id is _UNKNOWN)
    if unknown:
        from flowtrail.core.models.run import Run

        projects.update(dict.fromkeys(unknown))
        for start in range(0, len(unknown), BATCH):
            chunk = unknown[start : start + BATCH]
            rows = session.execute(select(Run.id, Run.project_id).where(Run.id.in_(chunk)))
            projects.update((run_id, project_id) for run_id, project_id in rows)
    by_project: dict[int, set[int]] = {}
    for run_id, project_id in projects.items():
        if project_id is not None:
            by_project.setdefault(project_id, set()).update(by_run[run_id])
    for project_id, artifact_ids in sorted(by_project.items()):
        link_artifacts_to_project(session, project_id, artifact_ids)


_UNKNOWN: Any = object()


def _carried_project_id(run: Any) -> Any:
    """The ``project_id`` a loaded or started run record carries, else ``_UNKNOWN``."""
    if not isinstance(run, Run) or run.id is None:
        return _UNKNOWN
    return vars(run).get("project_id", _UNKNOWN)  # absent: never loaded, or expired


def run_project_id(session: Session, project: Any, parent_id: int | None, parent: Any = None) -> int | None:
    """The project id of a new run: its own ``project`` if given, else its parent's, else None."""
    if project is not None:
        return project_in_session(session, project).id
    if parent is not None:
        carried = _carried_project_id(parent)
        if carried is not _UNKNOWN:
            return carried
    if parent_id is not None:
        from flowtrail.core.models.run import Run

        return session.scalar(select(Run.project_id).where(Run.id == parent_id))
    return None
