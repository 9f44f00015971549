"""Query sets of linked records that can also change the links: ``artifact.labels.add(label)``."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import and_, delete, select

from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import FieldError, IntegrityError
from flowtrail.core.models.label import Label, label_parent
from flowtrail.core.models.links import artifact_label, artifact_project
from flowtrail.core.models.project import Project
from flowtrail.core.query.queryset import QuerySet
from flowtrail.core.runs.projects import link_artifacts_to_project

if TYPE_CHECKING:
    from flowtrail.core.models.feature import Feature
    from flowtrail.core.models.record import Record

T = TypeVar("T", bound="Record")


class LinkedQuerySet(QuerySet[T]):
    """The records linked to one owner record; ``add()`` and ``remove()`` change the links at once."""

    def __init__(self, model: type[T], where: Any, adder: Callable[..., None], remover: Callable[..., None]) -> None:
        super().__init__(model, where=(where,))
        self._adder = adder
        self._remover = remover

    def add(self, *records: T | Iterable[T], **options: Any) -> None:
        """Link the given saved records (idempotent)."""
        self._adder(_flatten(records, self.model), **options)

    def remove(self, *records: T | Iterable[T], **options: Any) -> None:
        """Unlink the given records (the records themselves are kept)."""
        self._remover(_flatten(records, self.model), **options)


def _flatten(records: tuple[Any, ...], model: type) -> list[Any]:
    flat: list[Any] = []
    for item in records:
        if isinstance(item, model):
            flat.append(item)
        elif isinstance(item, Iterable) and not isinstance(item, str | bytes):
            flat.extend(_flatten(tuple(item), model))
        else:
            raise FieldError(f"Expected {model.__name__} records, got {item!r}.")
    for record in flat:
        if record.id is None:
            raise IntegrityError(f"{record!r} is not saved yet: call .save() on it first, then link it.")
    return flat


def _require_saved(owner: Any) -> None:
    if owner.id is None:
        raise IntegrityError(f"{owner!r} is not saved yet: call .save() on it before adding links.")


def linked_labels(owner: Any, relation: str) -> LinkedQuerySet[Label]:
    """``artifact.labels``, ``label.parents`` or ``label.children``."""
    if relation == "labels":
        ids = select(artifact_label.c.label_id).where(artifact_label.c.artifact_id == owner.id)
        return LinkedQuerySet(
            Label, Label.id.in_(ids),
            lambda labels, feature=None: add_artifact_labels(owner, labels, feature),
            lambda labels, feature=None: remove_artifact_labels(owner, labels, feature),
        )  # fmt: skip
    mine, theirs = ("child_id", "parent_id") if relation == "parents" else ("parent_id", "child_id")
    ids = select(label_parent.c[theirs]).where(label_parent.c[mine] == owner.id)

    def add(labels: list[Label]) -> None:
        pairs = [(owner, other) if relation == "parents" else (other, owner) for other in labels]
        add_parent_links(pairs)

    def remove(labels: list[Label]) -> None:
        _require_saved(owner)
        _delete(label_parent, [{mine: owner.id, theirs: other.id} for other in labels])

    return LinkedQuerySet(Label, Label.id.in_(ids), add, remove)


def linked_projects(artifact: Any) -> LinkedQuerySet[Any]:
    """``artifact.projects``."""
    ids = select(artifact_project.c.project_id).where(artifact_project.c.artifact_id == artifact.id)

    def add(projects: list[Any]) -> None:
        _require_saved(artifact)
        with write_transaction(current().sessions, locks=["artifact_project"]) as session:
            for project in projects:
                link_artifacts_to_project(session, project.id, [artifact.id])

    def remove(projects: list[Any]) -> None:
        _require_saved(artifact)
        _delete(artifact_project, [{"artifact_id": artifact.id, "project_id": p.id} for p in projects])

    return LinkedQuerySet(Project, Project.id.in_(ids), add, remove)


def add_artifact_labels(artifact: Any, labels: list[Label], feature: Feature | None = None) -> None:
    """Label an artifact, optionally through a categorical feature (whose type the labels must have)."""
    _require_saved(artifact)
    if feature is not None:
        from flowtrail.core.annotations.values import check_labels_fit

        check_labels_fit(feature, labels)
    feature_id = feature.id if feature is not None else None
    _insert_missing(
        artifact_label,
        [{"artifact_id": artifact.id, "label_id": label.id, "feature_id": feature_id} for label in labels],
    )


def remove_artifact_labels(artifact: Any, labels: list[Label], feature: Feature | None = None) -> None:
    """Unlink labels from an artifact (only those set through ``feature`` if given)."""
    _require_saved(artifact)
    rows = [{"artifact_id": artifact.id, "label_id": label.id} for label in labels]
    if feature is not None:
        rows = [{**row, "feature_id": feature.id} for row in rows]
    _delete(artifact_label, rows)


def add_parent_links(pairs: list[tuple[Label, Label]]) -> None:
    """Insert (child, parent) links, refusing links that would make a label its own ancestor."""
    for child, parent in pairs:
        _require_saved(child)
        if child.id == parent.id:
            raise IntegrityError(f"Label {child.name!r} cannot be its own parent.")
    with write_transaction(current().sessions, locks=["label_parent"]) as session:
        for child, parent in pairs:
            if child.id in _ancestors(session, parent.id):
                raise IntegrityError(
                    f"Making {parent.name!r} a parent of {child.name!r} would create a cycle: "
                    f"{child.name!r} is already an ancestor of {parent.name!r}."
                )
        _insert_missing_in(session, label_parent, [{"child_id": c.id, "parent_id": p.id} for c, p in pairs])


def _ancestors(session: Any, label_id: int) -> set[int]:
    seen: set[int] = set()
    frontier = {label_id}
    while frontier:
        seen |= frontier
        rows = session.execute(select(label_parent.c.parent_id).where(label_parent.c.child_id.in_(frontier)))
        frontier = {r[0] for r in rows} - seen
    return seen


def _insert_missing(table: Any, rows: list[dict[str, Any]]) -> None:
    if rows:
        with write_transaction(current().sessions, locks=[table.name]) as session:
            _insert_missing_in(session, table, rows)


def _insert_missing_in(session: Any, table: Any, rows: list[dict[str, Any]]) -> None:
    """Insert the rows not present yet (NULL-safe: link tables may have a nullable feature_id)."""
    missing = []
    for row in {tuple(sorted(r.items())): r for r in rows}.values():
        match = and_(*[table.c[k].is_(None) if v is None else table.c[k] == v for k, v in row.items()])
        if session.execute(select(1).select_from(table).where(match).limit(1)).first() is None:
            missing.append(row)
    if missing:
        session.execute(table.insert(), missing)


def _delete(table: Any, rows: list[dict[str, Any]]) -> None:
    with write_transaction(current().sessions) as session:
        for row in rows:
            session.execute(delete(table).where(*[table.c[k] == v for k, v in row.items()]))
