"""Rich trees for annotations: an artifact's features and labels, a label, a schema.

:mod:`flowtrail.core.describe.records` prints them; they live here to keep that module small.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.markup import escape
from rich.tree import Tree
from sqlalchemy import func, select

from flowtrail.core.annotations.values import feature_catalog, values_of
from flowtrail.core.db.context import current
from flowtrail.core.models.label import Label, label_parent
from flowtrail.core.models.label import Label as LabelModel
from flowtrail.core.models.links import artifact_label

if TYPE_CHECKING:
    from flowtrail.core.models.artifact import Artifact
    from flowtrail.core.models.label import Label
    from flowtrail.core.models.schema import Schema

MAX_SHOWN = 20


def _add(tree: Tree, name: str, value: Any) -> None:
    if value not in (None, "", []):
        tree.add(f"[dim]{escape(name)}[/dim] {escape(str(value))}")


def _shown(value: Any) -> str:
    if isinstance(value, list):  # several values: each quoted, since ontology names contain commas
        return _quoted([_shown(v) for v in value])
    return value.isoformat() if hasattr(value, "isoformat") else str(value)


def _quoted(names: list[str]) -> str:
    """``"B cell, memory", "T cell"``: a list no name can be confused with."""
    return ", ".join(json.dumps(name, ensure_ascii=False) for name in names)


def _read(stmt: Any) -> list[Any]:
    sessions = current().sessions
    try:
        return list(sessions.current().execute(stmt))
    finally:
        sessions.end_read()


def add_annotation_branches(tree: Tree, artifact: Artifact) -> None:
    """Add "Features" (name, dtype, values) and "Labels" (linked without a feature, by type)."""
    if artifact.id is None:
        return
    values = values_of([artifact.id]).get(artifact.id, {})
    if values:
        catalog = feature_catalog(current())
        branch = tree.add("[bold]Features[/bold]")
        for name, value in values.items():
            dtype = catalog[name].dtype if name in catalog else "?"
            branch.add(f"{escape(name)} [dim]{escape(dtype)}[/dim] {escape(_shown(value))}")
    kind = Label.__table__.alias("kind")
    rows = _read(
        select(Label.name, kind.c.name.label("type_name"))
        .join(artifact_label, artifact_label.c.label_id == Label.id)
        .outerjoin(kind, kind.c.id == Label.type_id)
        .where(artifact_label.c.artifact_id == artifact.id, artifact_label.c.feature_id.is_(None))
        .order_by(kind.c.name, Label.name)
    )  # fmt: skip
    if rows:
        groups: dict[str, list[str]] = {}
        for name, type_name in rows:
            groups.setdefault(type_name or "(no type)", []).append(name)
        branch = tree.add("[bold]Labels[/bold]")
        for type_name, names in groups.items():
            branch.add(f"{escape(type_name)} [dim]({len(names)})[/dim] {escape(_quoted(names))}")


def label_tree(label: Label) -> Tree:
    """Type, ontology id, synonyms, parents, how many children and annotated artifacts."""
    title = "Label type" if label.is_type else "Label"
    tree = Tree(f"[bold]{title}[/bold] {escape(label.name)} [dim]{label.uid}[/dim]")
    label_type = label.type if label.type_id is not None else None
    _add(tree, "type", label_type.name if label_type is not None else None)
    _add(tree, "ontology_id", label.ontology_id)
    _add(tree, "synonyms", ", ".join(label.synonym_list))
    _add(tree, "description", label.description)
    if label.reference:
        _add(tree, "reference", f"{label.reference}" + (f" ({label.reference_type})" if label.reference_type else ""))
    if label.id is None:
        return tree
    parents = label.parents.to_list()
    if parents:
        branch = tree.add(f"[bold]Parents[/bold] ({len(parents)})")
        for parent in parents[:MAX_SHOWN]:
            branch.add(f"{escape(parent.name)} [dim]{escape(parent.ontology_id or parent.uid)}[/dim]")
    n_children = _read(select(func.count()).select_from(label_parent).where(label_parent.c.parent_id == label.id))[0][0]
    _add(tree, "children", n_children)
    if label.is_type:
        n_records = _read(select(func.count()).select_from(LabelModel).where(LabelModel.type_id == label.id))[0][0]
        _add(tree, "labels of this type", n_records)
    n_artifacts = _read(
        select(func.count(func.distinct(artifact_label.c.artifact_id))).where(artifact_label.c.label_id == label.id)
    )[0][0]
    tree.add(f"[dim]annotated artifacts[/dim] {n_artifacts}")
    return tree


def schema_tree(schema: Schema, title: str = "Schema") -> Tree:
    """Name, otype, itype, flags, features with dtypes and components (recursively)."""
    tree = Tree(f"[bold]{escape(title)}[/bold] {escape(schema.name or '(no name)')} [dim]{schema.uid or 'unsaved'}[/dim]")
    _add(tree, "description", schema.description)
    _add(tree, "otype", schema.otype)
    _add(tree, "itype", schema.itype)
    _add(tree, "dtype", schema.dtype)
    flags = [name for name in ("minimal_set", "maximal_set", "ordered_set", "coerce_dtype") if getattr(schema, name, False)]
    _add(tree, "flags", ", ".join(flags) or "none")
    features = schema.features
    if features:
        branch = tree.add(f"[bold]Features[/bold] ({len(features)})")
        for feature in features:
            unit = f" [dim]({escape(feature.unit or '')})[/dim]" if getattr(feature, "unit", None) else ""
            branch.add(f"{escape(feature.name)} [dim]{escape(feature.dtype or '')}[/dim]{unit}")
    for slot, component in schema.components.items():
        tree.add(schema_tree(component, title=f"Component {slot}"))
    return tree
