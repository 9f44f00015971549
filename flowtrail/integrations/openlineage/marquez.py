"""Marquez-shaped views of the registry: namespaces, jobs, runs, datasets, events.

Flowtrail's own transforms live in the instance's namespace; datasets take their namespace from
their storage location by the OpenLineage naming spec (``file``, ``s3://bucket``, ...), managed
artifacts from their storage root and key, so events ingested from Airflow or Spark and files
registered by the engine adapters meet in one graph. Every list is paged in SQL.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, func, or_, select

from flowtrail.core.errors import DoesNotExist
from flowtrail.core.models import Artifact, LineageEvent, Run, Storage, Transform
from flowtrail.core.openlineage.emitter import namespace_of
from flowtrail.core.openlineage.naming import dataset_location, dataset_name, location_name, storage_namespace
from flowtrail.integrations.openlineage import marquez_models as m
from flowtrail.integrations.openlineage._dataset_naming import dataset_key, holding_storage

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

STATE = {"scheduled": "NEW", "started": "RUNNING", "completed": "COMPLETED", "cached": "COMPLETED",
         "failed": "FAILED", "aborted": "ABORTED"}  # fmt: skip
LATEST_RUNS = 10  # how many recent runs a job carries, as Marquez's UI shows them
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def iso_time(value: dt.datetime | None) -> str | None:
    if value is None:
        return None
    return (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).isoformat()


def _always(*values: dt.datetime | None) -> str:
    """The first time that is set: Marquez's UI shows "Invalid date" for a missing one."""
    return iso_time(next((v for v in values if v is not None), EPOCH))  # type: ignore[return-value]


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

    def _storage_namespaces(self) -> list[tuple[Storage, str, str | None]]:
        """Each storage with the namespace of its files and, if it holds managed artifacts, theirs."""
        managed = set(self.session.scalars(select(Artifact.storage_id).where(Artifact.is_managed.is_(True)).distinct()))
        found = []
        for storage in self.session.scalars(select(Storage).order_by(Storage.id)):
            located = storage.root if storage.type == "external" else location_name(storage.root + "/x")[0]
            found.append((storage, located, storage_namespace(storage.root, storage.is_local) if storage.id in managed else None))
        return found

    def namespace_names(self) -> list[str]:
        names = {self.own}
        names |= {ns or self.own for ns in self.session.scalars(select(Transform.namespace).distinct())}
        for _storage, located, managed in self._storage_namespaces():
            names.add(located)
            if managed:
                names.add(managed)
        return sorted(names)

    def datasets_condition(self, namespace: str) -> Any:
        """SQL condition on artifacts for "named in ``namespace``" (see :func:`dataset_name`)."""
        named_by_key = and_(Artifact.is_managed.is_(True), Artifact.key.is_not(None))
        located = [s.id for s, ns, _managed in self._storage_namespaces() if ns == namespace]
        keyed = [s.id for s, _ns, managed in self._storage_namespaces() if managed == namespace]
        return or_(
            and_(Artifact.storage_id.in_(located or [-1]), ~named_by_key),
            and_(Artifact.storage_id.in_(keyed or [-1]), named_by_key),
        )

    # -- finders --------------------------------------------------------------------------------
    def transform(self, namespace: str, name: str) -> Transform:
        ns = "" if namespace == self.own else namespace
        found = self.session.scalar(
            select(Transform).where(Transform.namespace == ns, Transform.key == name, Transform.is_latest.is_(True))
        )
        if found is None:
            raise DoesNotExist(f"No job {name!r} in namespace {namespace!r}.")
        return found

    def family(self, namespace: str, name: str) -> tuple[int, str]:
        """``(storage id, key)`` of dataset (namespace, name), whether or not a version exists."""
        _root, location = dataset_location(namespace, name)
        best = holding_storage(list(self.session.scalars(select(Storage))), location)
        if best is None:
            raise DoesNotExist(f"No dataset {name!r} in namespace {namespace!r}.")
        try:
            return best[0].id, dataset_key(best[1])
        except Exception:
            raise DoesNotExist(f"No dataset {name!r} in namespace {namespace!r}.") from None

    def versions_query(self, namespace: str, name: str) -> Any:
        storage_id, key = self.family(namespace, name)
        return select(Artifact).where(Artifact.storage_id == storage_id, Artifact.key == key)

    def artifact(self, namespace: str, name: str, latest: bool = True) -> list[Artifact]:
        """The versions of dataset (namespace, name), newest first (only the latest if ``latest``)."""
        query = self.versions_query(namespace, name)
        if latest:
            query = query.where(Artifact.is_latest.is_(True))
        found = list(self.session.scalars(query.order_by(Artifact.version.desc())))
        if not found:
            raise DoesNotExist(f"No dataset {name!r} in namespace {namespace!r}.")
        return found

    def page(self, query: Any, limit: int, offset: int) -> tuple[list[Any], int]:
        """One page of ``query``'s rows and how many there are in all."""
        total = self.session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        return list(self.session.scalars(query.limit(limit).offset(offset))), total

    # -- shapes ---------------------------------------------------------------------------------
    def namespace_model(self, name: str) -> m.Namespace:
        ns = "" if name == self.own else name
        first, last = self.session.execute(
            select(func.min(Transform.created_at), func.max(Transform.created_at)).where(Transform.namespace == ns)
        ).one()
        if first is None:  # a dataset namespace: since its first storage location was registered
            created = [s.created_at for s, located, managed in self._storage_namespaces() if name in (located, managed)]
            first = last = min(created, default=None)
        return m.Namespace(name=name, createdAt=_always(first, last), updatedAt=_always(last, first), ownerName="flowtrail")

    def run_model(self, run: Run) -> m.Run:
        duration = run.duration
        nominal = (run.facets or {}).get("nominalTime") or {}
        return m.Run(
            id=run.uid,
            createdAt=_always(run.created_at, run.started_at),
            updatedAt=_always(run.finished_at, run.started_at, run.created_at),
            nominalStartTime=nominal.get("nominalStartTime"),
            nominalEndTime=nominal.get("nominalEndTime"),
            state=STATE.get(run.status, "NEW"),  # type: ignore[arg-type]
            startedAt=iso_time(run.started_at),
            endedAt=iso_time(run.finished_at),
            durationMs=int(duration.total_seconds() * 1000) if duration is not None else None,
            args=run.params if isinstance(run.params, dict) else {},
            jobVersion=m.JobVersionRef(namespace=self.job_namespace(run.transform), name=run.transform.key,
                                       version=run.transform.uid),  # fmt: skip
            inputDatasetVersions=[self._version_ref(a) for a in run.inputs],
            outputDatasetVersions=[self._version_ref(a) for a in run.outputs],
            facets=run.facets or {},
        )

    def _version_ref(self, artifact: Artifact) -> m.DatasetVersionRef:
        namespace, name = self.dataset_id(artifact)
        return m.DatasetVersionRef(datasetVersionId=m.DatasetVersionId(namespace=namespace, name=name, version=artifact.uid))

    def latest_runs(self, transform: Transform, limit: int = LATEST_RUNS) -> list[Run]:
        query = select(Run).where(Run.transform_id == transform.id)
        return list(self.session.scalars(query.order_by(Run.started_at.desc(), Run.id.desc()).limit(limit)))

    def job_model(self, transform: Transform, runs: int = LATEST_RUNS) -> m.Job:
        """The job as Marquez shows it, with its ``runs`` latest runs."""
        namespace = self.job_namespace(transform)
        recent = self.latest_runs(transform, max(runs, 1))
        latest = recent[0] if recent else None
        inputs: dict[tuple[str, str], None] = {}
        outputs: dict[tuple[str, str], None] = {}
        if latest is not None:
            inputs = dict.fromkeys(self.dataset_id(a) for a in latest.inputs)
            outputs = dict.fromkeys(self.dataset_id(a) for a in latest.outputs)
        static = (transform.facets or {}).get("flowtrail_static_lineage") or {}
        for side, found in (("inputs", inputs), ("outputs", outputs)):  # what a JobEvent declared
            for dataset in static.get(side) or []:
                found.setdefault((dataset["namespace"], dataset["name"]), None)
        parent = latest.parent.transform if latest is not None and latest.parent is not None else None
        shown = [self.run_model(r) for r in recent[:runs]] if runs else []
        return m.Job(
            id=m.JobId(namespace=namespace, name=transform.key),
            name=transform.key,
            simpleName=transform.key.rsplit("/", 1)[-1],
            parentJobName=parent.key if parent is not None else None,
            parentJobUuid=parent.uid if parent is not None else None,
            createdAt=_always(transform.created_at),
            updatedAt=_always(latest.finished_at if latest else None, latest.started_at if latest else None,
                              transform.created_at),  # fmt: skip
            namespace=namespace,
            inputs=[m.DatasetId(namespace=n, name=d) for n, d in inputs],
            outputs=[m.DatasetId(namespace=n, name=d) for n, d in outputs],
            location=transform.reference,
            description=transform.description,
            latestRun=shown[0] if shown else (self.run_model(latest) if latest is not None else None),
            latestRuns=shown,
            facets=transform.facets or {},
            currentVersion=transform.uid,
        )

    def _fields(self, artifact: Artifact) -> list[m.DatasetField]:
        schema = (artifact.facets or {}).get("schema") or {}
        return [
            m.DatasetField(name=f.get("name"), type=f.get("type"), description=f.get("description"))
            for f in schema.get("fields") or [] if isinstance(f, dict)
        ]  # fmt: skip

    def dataset_model(self, artifact: Artifact) -> m.Dataset:
        namespace, name = self.dataset_id(artifact)
        return m.Dataset(
            id=m.DatasetId(namespace=namespace, name=name), type=self._type(artifact), name=name, physicalName=name,
            createdAt=_always(artifact.created_at), updatedAt=_always(artifact.created_at), namespace=namespace,
            sourceName=namespace, fields=self._fields(artifact), tags=self._tags(artifact),
            lastModifiedAt=iso_time(artifact.created_at), description=artifact.description,
            facets=artifact.facets or {}, currentVersion=artifact.uid,
        )  # fmt: skip

    def dataset_version_model(self, artifact: Artifact) -> m.DatasetVersion:
        namespace, name = self.dataset_id(artifact)
        return m.DatasetVersion(
            id=m.DatasetVersionId(namespace=namespace, name=name, version=artifact.uid), type=self._type(artifact),
            name=name, physicalName=name, createdAt=_always(artifact.created_at), version=artifact.uid,
            namespace=namespace, sourceName=namespace, fields=self._fields(artifact), tags=self._tags(artifact),
            lastModifiedAt=iso_time(artifact.created_at), description=artifact.description,
            createdByRun=self.run_model(artifact.run) if artifact.run is not None else None, facets=artifact.facets or {},
        )  # fmt: skip

    @staticmethod
    def _type(artifact: Artifact) -> Any:
        return "DB_TABLE" if artifact.storage.type == "external" else "FILE"

    @staticmethod
    def _tags(artifact: Artifact) -> list[str]:
        return sorted({label.name for label in artifact._labels})  # flowtrail labels, as Marquez tags

    def event_ids(self, limit: int, offset: int, ascending: bool) -> tuple[list[int], int]:
        """One page of raw events' ids, oldest or newest first, and how many events there are."""
        order = LineageEvent.event_time.asc() if ascending else LineageEvent.event_time.desc()
        ids = list(self.session.scalars(select(LineageEvent.id).order_by(order, LineageEvent.id).limit(limit).offset(offset)))
        total = self.session.scalar(select(func.count()).select_from(LineageEvent)) or 0
        return ids, total

    def event_payload(self, event_id: int) -> Any:
        return self.session.scalar(select(LineageEvent.payload).where(LineageEvent.id == event_id))
