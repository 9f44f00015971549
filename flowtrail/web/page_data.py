"""What each page shows, read from the registry in a few queries (never writes).

Functions take the thread's session and return plain dicts of records for the templates; every
list is capped (``LIST_CAP``) with its full count, so a transform with 50,000 runs opens fast.
"""

from __future__ import annotations

import datetime as dt
import os
from typing import Any

from sqlalchemy import func, select

from flowtrail.core.models import Artifact, Collection, Project, Run, Transform, collection_artifact, run_input

LIST_CAP = 200
NEWEST_FIRST = func.coalesce(Run.started_at, Run.created_at).desc()  # ingested runs may lack a start
LATEST_RUNS = 30
SEARCH_CAP = 25


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return value if value is None or value.tzinfo else value.replace(tzinfo=dt.UTC)


def duration(run: Run) -> str:
    """``1.2 s``, ``3 min 4 s``, ``2 h 5 min``, or ``-`` for runs without both times."""
    start, end = _aware(run.started_at), _aware(run.finished_at)
    if start is None or end is None:
        return "-"
    seconds = (end - start).total_seconds()
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{int(seconds // 60)} min {int(seconds % 60)} s"
    return f"{int(seconds // 3600)} h {int(seconds % 3600 // 60)} min"


def local_file(location: str) -> str | None:
    """The path when ``location`` is a file on this machine (offered as a download), else None."""
    if "://" in location and not location.startswith("file://"):
        return None
    path = location.removeprefix("file://")
    return path if os.path.isfile(path) else None


def home(session: Any) -> dict[str, Any]:
    """Counts, the latest runs (newest first) and the projects."""
    latest = session.scalars(select(Run).order_by(NEWEST_FIRST, Run.id.desc()).limit(LATEST_RUNS)).all()
    counts = {name: session.scalar(select(func.count()).select_from(model))
              for name, model in (("artifacts", Artifact), ("runs", Run), ("transforms", Transform))}  # fmt: skip
    failed = session.scalar(select(func.count()).select_from(Run).where(Run.status.in_(("failed", "aborted"))))
    projects = session.scalars(select(Project).order_by(Project.name).limit(LIST_CAP)).all()
    return {"runs": latest, "counts": counts, "failed": failed, "projects": projects}


def search(session: Any, text: str) -> dict[str, Any]:
    """Artifacts, runs, transforms, collections and projects matching ``text`` (keys, names, descriptions, uids)."""
    from flowtrail.core.query.queryset import QuerySet

    found: dict[str, list[Any]] = {}
    for name, model, latest in (("artifacts", Artifact, True), ("transforms", Transform, True), ("runs", Run, False),
                                ("collections", Collection, True), ("projects", Project, False)):  # fmt: skip
        query = QuerySet(model).search(text)
        if latest:
            query = query.filter(is_latest=True)
        found[name] = session.scalars(query[:SEARCH_CAP].statement()).all()
    if not found["runs"]:  # runs are found by their transform's key too
        by_transform = (select(Run).join(Transform, Run.transform_id == Transform.id)
                        .where(func.lower(Transform.key).contains(text.lower(), autoescape=True))
                        .order_by(Run.id.desc()).limit(SEARCH_CAP))  # fmt: skip
        found["runs"] = session.scalars(by_transform).all()
    return found


def artifact(session: Any, record: Artifact) -> dict[str, Any]:
    """Versions, features, labels, producing and reading runs, collections and projects of one artifact."""
    from flowtrail.core.annotations.values import values_of
    from flowtrail.core.models.label import Label
    from flowtrail.core.models.links import artifact_label

    versions = session.scalars(select(Artifact).where(Artifact.uid.startswith(record.uid[:16])).order_by(Artifact.version)).all()
    kind = Label.__table__.alias("kind")
    labels = session.execute(
        select(Label, kind.c.name.label("type_name"))
        .join(artifact_label, artifact_label.c.label_id == Label.id)
        .outerjoin(kind, kind.c.id == Label.type_id)
        .where(artifact_label.c.artifact_id == record.id, artifact_label.c.feature_id.is_(None))
        .order_by(kind.c.name, Label.name)
    ).all()  # fmt: skip
    readers = session.scalars(
        select(Run).join(run_input, run_input.c.run_id == Run.id).where(run_input.c.artifact_id == record.id)
        .order_by(Run.id.desc()).limit(LIST_CAP)
    ).all()  # fmt: skip
    n_readers = session.scalar(select(func.count()).select_from(run_input).where(run_input.c.artifact_id == record.id))
    collections = session.scalars(
        select(Collection).join(collection_artifact, collection_artifact.c.collection_id == Collection.id)
        .where(collection_artifact.c.artifact_id == record.id).order_by(Collection.key)
    ).all()  # fmt: skip
    location = record.location
    return {
        "artifact": record, "versions": versions, "features": values_of([record.id]).get(record.id, {}),
        "labels": labels, "readers": readers, "n_readers": n_readers, "collections": collections,
        "projects": list(record._projects), "location": location,
        "downloadable": local_file(location) is not None,
    }  # fmt: skip


def run(session: Any, record: Run) -> dict[str, Any]:
    """Inputs, outputs, parent and child runs of one run."""
    children = session.scalars(select(Run).where(Run.parent_id == record.id).order_by(Run.id).limit(LIST_CAP)).all()
    n_children = session.scalar(select(func.count()).select_from(Run).where(Run.parent_id == record.id))
    return {"run": record, "inputs": record.inputs[:LIST_CAP], "n_inputs": len(record.inputs),
            "outputs": record.outputs[:LIST_CAP], "n_outputs": len(record.outputs),
            "children": children, "n_children": n_children, "duration": duration(record)}  # fmt: skip


def transform(session: Any, record: Transform) -> dict[str, Any]:
    """Versions and run history (newest first) of one transform."""
    versions = session.scalars(
        select(Transform).where(Transform.key == record.key, Transform.namespace == record.namespace)
        .order_by(Transform.version)
    ).all()  # fmt: skip
    runs = session.scalars(select(Run).where(Run.transform_id == record.id)
                           .order_by(NEWEST_FIRST, Run.id.desc()).limit(LIST_CAP)).all()  # fmt: skip
    n_runs = session.scalar(select(func.count()).select_from(Run).where(Run.transform_id == record.id))
    return {"transform": record, "versions": versions, "runs": runs, "n_runs": n_runs}


def project(session: Any, record: Project) -> dict[str, Any]:
    """Latest runs and artifacts of one project."""
    from flowtrail.core.models.links import artifact_project

    runs = session.scalars(select(Run).where(Run.project_id == record.id)
                           .order_by(NEWEST_FIRST, Run.id.desc()).limit(LIST_CAP)).all()  # fmt: skip
    n_runs = session.scalar(select(func.count()).select_from(Run).where(Run.project_id == record.id))
    artifacts = session.scalars(
        select(Artifact).join(artifact_project, artifact_project.c.artifact_id == Artifact.id)
        .where(artifact_project.c.project_id == record.id).order_by(Artifact.key).limit(LIST_CAP)
    ).all()  # fmt: skip
    n_artifacts = session.scalar(select(func.count()).select_from(artifact_project)
                                 .where(artifact_project.c.project_id == record.id))  # fmt: skip
    return {"project": record, "runs": runs, "n_runs": n_runs, "artifacts": artifacts, "n_artifacts": n_artifacts}


__all__ = ["artifact", "duration", "home", "project", "run", "search", "transform"]
