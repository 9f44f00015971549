"""A record as plain data for ``flowtrail describe --json|--csv``: its fields and its neighbours."""

from __future__ import annotations

from typing import Any

from sqlalchemy import inspect as sa_inspect

_HIDDEN = {"id", "source_code", "storage_id", "run_id", "transform_id", "parent_id", "environment_id", "project_id",
           "schema_id"}  # fmt: skip


def record_fields(record: Any) -> dict[str, Any]:
    """The record's columns (ids of linked records as their uids) plus what describe() shows next to it."""
    from flowtrail.core.models import Artifact, Collection, Run, Transform
    from flowtrail.core.util.short_ids import short_id

    data: dict[str, Any] = {"type": type(record).__name__}
    for attribute in sa_inspect(type(record)).column_attrs:
        if attribute.key not in _HIDDEN and not attribute.key.startswith("_"):
            data[attribute.key] = getattr(record, attribute.key)
    data["short_id"] = short_id(record)
    if isinstance(record, Artifact):
        data["location"] = record.location
        data["storage"] = record.storage.root
        data["run"] = record.run.uid if record.run is not None else None
        data["transform"] = record.run.transform.key if record.run is not None else None
        data["features"] = record.features.get_values()
        data["labels"] = [label.name for label in record.labels]
        data["read_by"] = [run.uid for run in record.input_of_runs]
    elif isinstance(record, Run):
        data["transform"] = record.transform.key
        data["parent"] = record.parent.uid if record.parent is not None else None
        data["project"] = record.project.name if record.project is not None else None
        data["inputs"] = [_artifact_ref(a) for a in record.inputs]
        data["outputs"] = [_artifact_ref(a) for a in record.outputs]
        data["children"] = [child.uid for child in record.children]
    elif isinstance(record, Transform):
        data["runs"] = len(record.runs)
    elif isinstance(record, Collection):
        data["artifacts"] = [_artifact_ref(a) for a in record.artifacts.to_list()]
    return data


def _artifact_ref(artifact: Any) -> dict[str, Any]:
    return {"uid": artifact.uid, "key": artifact.key, "version": artifact.version}
