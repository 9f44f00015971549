"""Marquez-shaped views of the registry: namespaces, jobs, runs, datasets, lineage, search.

Flowtrail's own transforms live in the instance's namespace; datasets take their namespace from
their storage location by the OpenLineage naming spec (``file``, ``s3://bucket``, ...), so events
ingested from Airflow or Spark and files registered by the engine adapters meet in one graph.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ...core.errors import DoesNotExist
from ...core.models import Artifact, LineageEvent, Run, Storage, Transform
from ...core.openlineage.emitter import namespace_of
from ...core.openlineage.naming import dataset_name, location_name, storage_namespace
from ...core.storage import innermost_storage
from .ingest import dataset_key, dataset_location

if TYPE_CHECKING:
    from ...core.instance import Instance

STATE = {"scheduled": "NEW", "started": "RUNNING", "completed": "COMPLETED", "cached": "COMPLETED",
         "failed": "FAILED", "aborted": "ABORTED"}  # fmt: skip


def _time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


class Views:
    """Read-only queries for the Marquez API, for one instance."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.own = namespace_of(instance)

    @property
    def session(self) -> Any:
        return self.instance.sessions.current()

    # -- naming ---------------------------------------------------------------------------------
    def job_namespace(self, transform: Transform) -> str:
        return transform.namespace or self.own

    def dataset_id(self, artifact: Artifact) -> tuple[str, str]:
        return dataset_name(artifact)

    def namespace_names(self) -> list[str]:
        names = {self.own}
        names |= {ns or self.own for ns in self.session.scalars(select(Transform.namespace).distinct())}
        managed = set(self.session.scalars(select(Artifact.storage_id).where(Artifact.is_managed.is_(True)).distinct()))
        for storage in self.session.scalars(select(Storage)):
            names.add(storage.root if storage.type == "external" else location_name(storage.root + "/x")[0])
            if storage.id in managed:  # managed artifacts are named by their storage root and key
                names.add(storage_namespace(storage.root, storage.is_local))
        return sorted(names)

    # -- finders --------------------------------------------------------------------------------
    def transform(self, namespace: str, name: str) -> Transform:
        ns = "" if namespace == self.own else namespace
        found = self.session.scalar(
            select(Transform).where(Transform.namespace == ns, Transform.key == name, Transform.is_latest.is_(True))
        )
        if found is None:
            raise DoesNotExist(f"No job {name!r} in namespace {namespace!r}.")
        return found

    def artifact(self, namespace: str, name: str, latest: bool = True) -> list[Artifact]:
        """The versions of dataset (namespace, name), newest first (only the latest if ``latest``)."""
        _root, location = dataset_location(namespace, name)
        best = innermost_storage(self.session.scalars(select(Storage)), location, include_root=False)
        if best is None:
            raise DoesNotExist(f"No dataset {name!r} in namespace {namespace!r}.")
        try:
            key = dataset_key(best[1])
        except Exception:
            raise DoesNotExist(f"No dataset {name!r} in namespace {namespace!r}.") from None
        query = select(Artifact).where(Artifact.storage_id == best[0].id, Artifact.key == key)
        if latest:
            query = query.where(Artifact.is_latest.is_(True))
        found = list(self.session.scalars(query.order_by(Artifact.version.desc())))
        if not found:
            raise DoesNotExist(f"No dataset {name!r} in namespace {namespace!r}.")
        return found

    def in_namespace(self, artifact: Artifact, namespace: str) -> bool:
        return self.dataset_id(artifact)[0] == namespace

    # -- JSON shapes ----------------------------------------------------------------------------
    def namespace_json(self, name: str) -> dict[str, Any]:
        return {"name": name, "createdAt": None, "updatedAt": None, "ownerName": "flowtrail",
                "description": None, "isHidden": False}  # fmt: skip

    def run_json(self, run: Run) -> dict[str, Any]:
        duration = run.duration
        nominal = (run.facets or {}).get("nominalTime") or {}
        return {
            "id": run.uid,
            "createdAt": _time(run.created_at),
            "updatedAt": _time(run.finished_at or run.started_at or run.created_at),
            "nominalStartTime": nominal.get("nominalStartTime"),
            "nominalEndTime": nominal.get("nominalEndTime"),
            "state": STATE.get(run.status, "NEW"),
            "startedAt": _time(run.started_at),
            "endedAt": _time(run.finished_at),
            "durationMs": int(duration.total_seconds() * 1000) if duration is not None else None,
            "args": run.params or {},
            "jobVersion": {
                "namespace": self.job_namespace(run.transform), "name": run.transform.key, "version": run.transform.uid,
            },  # fmt: skip
            "inputDatasetVersions": [self._version_ref(a) for a in run.inputs],
            "outputDatasetVersions": [self._version_ref(a) for a in run.outputs],
            "context": {},
            "facets": run.facets or {},
        }

    def _version_ref(self, artifact: Artifact) -> dict[str, Any]:
        namespace, name = self.dataset_id(artifact)
        return {"datasetVersionId": {"namespace": namespace, "name": name, "version": artifact.uid}, "facets": {}}

    def job_json(self, transform: Transform) -> dict[str, Any]:
        namespace = self.job_namespace(transform)
        latest = self.session.scalar(
            select(Run).where(Run.transform_id == transform.id).order_by(Run.started_at.desc(), Run.id.desc()).limit(1)
        )
        inputs: dict[tuple[str, str], None] = {}
        outputs: dict[tuple[str, str], None] = {}
        if latest is not None:
            inputs = dict.fromkeys(self.dataset_id(a) for a in latest.inputs)
            outputs = dict.fromkeys(self.dataset_id(a) for a in latest.outputs)
        return {
            "id": {"namespace": namespace, "name": transform.key},
            "type": "BATCH",
            "name": transform.key,
            "simpleName": transform.key.rsplit("/", 1)[-1],
            "parentJobName": None,
            "createdAt": _time(transform.created_at),
            "updatedAt": _time(latest.started_at if latest is not None else transform.created_at),
            "namespace": namespace,
            "inputs": [{"namespace": n, "name": m} for n, m in inputs],
            "outputs": [{"namespace": n, "name": m} for n, m in outputs],
            "location": transform.reference,
            "description": transform.description,
            "latestRun": self.run_json(latest) if latest is not None else None,
            "facets": transform.facets or {},
            "currentVersion": transform.uid,
        }

    def dataset_json(self, artifact: Artifact, *, version: bool = False) -> dict[str, Any]:
        namespace, name = self.dataset_id(artifact)
        facets = artifact.facets or {}
        schema = facets.get("schema") or {}
        fields = [
            {"name": f.get("name"), "type": f.get("type"), "tags": [], "description": f.get("description")}
            for f in schema.get("fields") or [] if isinstance(f, dict)
        ]  # fmt: skip
        shape: dict[str, Any] = {
            "id": {"namespace": namespace, "name": name},
            "type": "DB_TABLE" if artifact.storage.type == "external" else "FILE",
            "name": name,
            "physicalName": name,
            "createdAt": _time(artifact.created_at),
            "namespace": namespace,
            "sourceName": namespace,
            "fields": fields,
            "tags": sorted({label.name for label in artifact._labels}),  # flowtrail labels, as Marquez tags
            "description": artifact.description,
            "facets": facets,
        }
        if version:
            shape["version"] = artifact.uid
            shape["createdByRun"] = self.run_json(artifact.run) if artifact.run is not None else None
        else:
            shape.update({"updatedAt": _time(artifact.created_at), "lastModifiedAt": _time(artifact.created_at),
                          "currentVersion": artifact.uid, "deleted": False})  # fmt: skip
        return shape

    def event_rows(self, limit: int, offset: int, ascending: bool) -> tuple[list[Any], int]:
        from sqlalchemy import func

        order = LineageEvent.event_time.asc() if ascending else LineageEvent.event_time.desc()
        rows = list(self.session.scalars(select(LineageEvent.payload).order_by(order, LineageEvent.id).limit(limit).offset(offset)))
        total = self.session.scalar(select(func.count()).select_from(LineageEvent)) or 0
        return rows, total
