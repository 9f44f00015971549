"""Storing OpenLineage events in the registry.

Mapping: job -> Transform (namespace + name), run -> Run (keyed by runId), dataset -> Artifact
(namespace + name resolved like any other file: inside the longest registered storage location,
so a file a Spark job wrote and a Snakemake rule read is one artifact), parent facet -> parent
Run, inputs -> run inputs, outputs -> artifacts produced by the run (a new version per producing
run, as Marquez versions datasets; a datasetVersion facet becomes the version's hash).

Each batch runs in one transaction: raw events go into the append-only ``lineage_event`` log
(identical events are stored once), then every run they touch is re-folded from *all* its
stored events (:mod:`.fold`), which makes the result independent of arrival order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from ...core.database import write_transaction
from ...core.ids import new_stem, versioned_uid
from ...core.keys import validate_key
from ...core.models import Artifact, LineageEvent, Run, Storage, Transform, run_input
from ...core.openlineage.emitter import namespace_of
from ...core.record import utcnow
from ...core.storage import LOCAL
from .fold import DatasetRef, RunState, fold_run
from .validation import InvalidEvent, Problem, check_event, parse_time

if TYPE_CHECKING:
    from ...core.instance import Instance

SCHEME_ALIASES = {"s3a": "s3", "s3n": "s3", "gcs": "gs"}
JOB_TYPES = {
    "DAG": "pipeline", "PIPELINE": "pipeline", "FLOW": "pipeline", "TASK": "task", "RULE": "rule",
    "PROCESS": "process", "SCRIPT": "script", "NOTEBOOK": "notebook", "FUNCTION": "function",
}  # fmt: skip
HASH_TYPE = "openlineage-version"


@dataclass
class IngestResult:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    runs: int = 0

    def __add__(self, other: IngestResult) -> IngestResult:
        return IngestResult(
            self.received + other.received, self.stored + other.stored,
            self.duplicates + other.duplicates, self.runs + other.runs,
        )  # fmt: skip


@dataclass(frozen=True)
class Prepared:
    """A validated event with its content hash and kind (run, dataset or job)."""

    digest: str
    kind: str
    event: dict[str, Any]


def canonical_hash(event: dict[str, Any]) -> str:
    text = json.dumps(event, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def dataset_location(namespace: str, name: str) -> tuple[str | None, str]:
    """``(root to create if nothing registered holds it, location)`` of a dataset.

    ``file`` datasets are absolute local paths; ``scheme://authority`` namespaces are storage
    roots; anything else (``bigquery``, a Marquez namespace) is an external root of its own.
    """
    if namespace == "file":
        return "/", "/" + name.lstrip("/")
    if "://" in namespace:
        scheme, rest = namespace.split("://", 1)
        root = f"{SCHEME_ALIASES.get(scheme, scheme)}://{rest.rstrip('/')}"
        return root, f"{root}/{name.lstrip('/')}"
    return namespace, f"{namespace}/{name.lstrip('/')}"


def dataset_key(relpath: str) -> str:
    """A key from a dataset path: empty segments dropped, the rest validated like any key."""
    cleaned = "/".join(part for part in relpath.split("/") if part)
    return validate_key(cleaned or relpath, what="dataset name")


class Ingestor:
    """Writes batches of events into one instance."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.own_namespace = namespace_of(instance)

    # -- entry points -----------------------------------------------------------------------------
    def prepare(self, event: Any, index: int | None = None) -> Prepared:
        """Validate one event; raise :class:`InvalidEvent` naming every problem."""
        kind = check_event(event, index)
        self._check_names(event, kind, index)
        return Prepared(canonical_hash(event), kind, event)

    def ingest(self, events: Sequence[Any]) -> IngestResult:
        """Validate and store a batch atomically: any invalid event rejects the whole batch."""
        many = len(events) > 1
        return self.store([self.prepare(event, index if many else None) for index, event in enumerate(events)])

    def store(self, prepared: Sequence[Prepared]) -> IngestResult:
        """Store validated events in one transaction and re-fold every run they touch."""
        items: list[Prepared] = []
        seen: set[str] = set()
        for item in prepared:
            if item.digest not in seen:
                seen.add(item.digest)
                items.append(item)
        result = IngestResult(received=len(prepared))
        with write_transaction(self.instance.sessions, ["openlineage:ingest"]) as session:
            self.session = session
            self._storages = list(session.scalars(select(Storage)))
            existing = self._existing_hashes([i.digest for i in items])
            fresh = [i for i in items if i.digest not in existing]
            result.stored = len(fresh)
            result.duplicates = len(prepared) - len(fresh)
            if fresh:
                session.add_all([self._log_row(i.digest, i.kind, i.event) for i in fresh])
                session.flush()
            run_ids = sorted({i.event["run"]["runId"] for i in fresh if i.kind == "run"})
            for _run_id, state in self._fold(run_ids):
                self._apply_run(state)
            result.runs = len(run_ids)
            for item in fresh:
                if item.kind == "dataset":
                    self._apply_dataset_event(item.event)
                elif item.kind == "job":
                    self._apply_job_event(item.event)
            session.flush()
        return result

    def _check_names(self, event: dict[str, Any], kind: str, index: int | None) -> None:
        problems = []
        datasets: list[tuple[str, Any]] = []
        if kind == "dataset":
            datasets.append(("dataset", event["dataset"]))
        for side in ("inputs", "outputs"):
            datasets += [(f"{side}[{i}]", d) for i, d in enumerate(event.get(side) or [])]
        for field, dataset in datasets:
            _root, location = dataset_location(dataset["namespace"], dataset["name"])
            try:
                dataset_key(location.split("://", 1)[-1])
            except Exception as exc:
                problems.append(Problem(f"{field}.name", str(exc)))
        if problems:
            raise InvalidEvent(problems, index)

    def _existing_hashes(self, digests: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(digests), 500):
            chunk = digests[start : start + 500]
            found |= set(self.session.scalars(select(LineageEvent.hash).where(LineageEvent.hash.in_(chunk))))
        return found

    def _log_row(self, digest: str, kind: str, event: dict[str, Any]) -> LineageEvent:
        job = event.get("job") if isinstance(event.get("job"), dict) else {}
        return LineageEvent(
            hash=digest,
            kind=kind,
            event_type=event.get("eventType") if kind == "run" else None,
            event_time=parse_time(event["eventTime"]),
            run_uid=event["run"]["runId"] if kind == "run" else None,
            job_namespace=job.get("namespace"),
            job_name=job.get("name"),
            payload=event,
        )

    def _fold(self, run_ids: list[str]) -> Iterable[tuple[str, RunState]]:
        for start in range(0, len(run_ids), 200):
            chunk = run_ids[start : start + 200]
            grouped: dict[str, list[tuple[str, dict[str, Any]]]] = {}
            rows = self.session.execute(
                select(LineageEvent.run_uid, LineageEvent.hash, LineageEvent.payload).where(
                    LineageEvent.run_uid.in_(chunk), LineageEvent.kind == "run"
                )
            )
            for run_uid, digest, payload in rows:
                grouped.setdefault(run_uid, []).append((digest, payload))
            for run_id in chunk:
                yield run_id, fold_run(grouped[run_id])

    # -- jobs and runs ----------------------------------------------------------------------------
    def _namespace(self, namespace: str) -> str:
        # Events this instance emitted itself come back to its own transforms.
        return "" if namespace == self.own_namespace else namespace

    def _transform(self, namespace: str, name: str, facets: dict[str, Any] | None = None) -> Transform:
        ns = self._namespace(namespace)
        transform = self.session.scalar(
            select(Transform).where(Transform.namespace == ns, Transform.key == name, Transform.is_latest.is_(True))
        )
        if transform is None:
            job_type = ((facets or {}).get("jobType") or {}).get("jobType")
            transform = Transform(
                uid=versioned_uid(new_stem(), 1), namespace=ns, key=name, version=1, is_latest=True,
                type=JOB_TYPES.get(str(job_type).upper(), "job"), facets=None,
            )  # fmt: skip
            self.session.add(transform)
            self.session.flush()
        if facets:
            transform.facets = {**(transform.facets or {}), **facets}
        return transform

    def _run(self, run_id: str, transform: Transform) -> Run:
        run = self.session.scalar(select(Run).where(Run.uid == run_id))
        if run is None:
            run = Run(uid=run_id, transform_id=transform.id, status="scheduled", created_at=utcnow())
            self.session.add(run)
            self.session.flush()
        return run

    def _apply_run(self, state: RunState) -> None:
        transform = self._transform(state.job_namespace, state.job_name)
        run = self._run(state.run_id, transform)
        run.transform_id = transform.id
        run.status = state.status
        run.started_at = state.started_at
        run.finished_at = state.finished_at
        run.facets = state.run_facets or None
        engine = state.run_facets.get("processing_engine") or {}
        run.engine = run.engine or engine.get("name")
        run.engine_version = run.engine_version or engine.get("version")
        error = state.run_facets.get("errorMessage") or {}
        if state.status == "failed" and error.get("message"):
            run.error = error["message"]
        parent = state.parent
        if parent is not None:
            parent_transform = self._transform(parent["job"]["namespace"], parent["job"]["name"])
            parent_run = self._run(parent["run"]["runId"], parent_transform)
            if parent_run.id != run.id:
                run.parent_id = parent_run.id
        self._job_facets_from_latest_run(transform, state)
        inputs = [self._input_artifact(ref) for ref in state.inputs]
        self._link_inputs(run, inputs)
        for ref in state.outputs:
            self._output_artifact(ref, run)

    def _job_facets_from_latest_run(self, transform: Transform, state: RunState) -> None:
        # A job's facets are those of its latest run (by start time, then run id), whatever order
        # the runs' events arrived in.
        self.session.flush()
        latest = self.session.execute(
            select(Run.uid, Run.started_at)
            .where(Run.transform_id == transform.id, Run.started_at.is_not(None))
            .order_by(Run.started_at.desc(), Run.uid.desc())
            .limit(1)
        ).first()
        if latest is not None and latest.uid != state.run_id:
            return
        transform.facets = state.job_facets or None
        job_type = (state.job_facets.get("jobType") or {}).get("jobType")
        if job_type:
            transform.type = JOB_TYPES.get(str(job_type).upper(), "job")

    def _link_inputs(self, run: Run, artifacts: list[Artifact]) -> None:
        ids = {a.id for a in artifacts if a.run_id != run.id}
        if not ids:
            return
        present = set(
            self.session.scalars(
                select(run_input.c.artifact_id).where(run_input.c.run_id == run.id, run_input.c.artifact_id.in_(ids))
            )
        )
        missing = sorted(ids - present)
        if missing:
            self.session.execute(run_input.insert(), [{"run_id": run.id, "artifact_id": i} for i in missing])

    # -- datasets ---------------------------------------------------------------------------------
    def _family(self, ref: DatasetRef) -> tuple[Storage, str]:
        root, location = dataset_location(ref.namespace, ref.name)
        best: tuple[Storage, str] | None = None
        for storage in self._storages:
            rel = storage.relative(location)
            if rel and (best is None or len(storage.root) > len(best[0].root)):
                best = (storage, rel)
        if best is None:
            storage = self.session.scalar(select(Storage).where(Storage.root == root))
            if storage is None:
                storage = Storage(root, _storage_type(root))
                self.session.add(storage)
                self.session.flush()
                self._storages.append(storage)
            best = (storage, storage.relative(location) or "")
        return best[0], dataset_key(best[1])

    def _versions(self, storage: Storage, key: str) -> list[Artifact]:
        query = select(Artifact).where(Artifact.storage_id == storage.id, Artifact.key == key).order_by(Artifact.version)
        return list(self.session.scalars(query))

    def _new_version(self, storage: Storage, key: str, versions: list[Artifact], ref: DatasetRef) -> Artifact:
        latest = next((a for a in versions if a.is_latest), versions[-1] if versions else None)
        version = max((a.version for a in versions), default=0) + 1
        stem = versions[0].uid[:16] if versions else new_stem()
        if latest is not None:
            latest.is_latest = False
        artifact = Artifact(key=key, kind="dataset", _external=True)
        artifact.uid = versioned_uid(stem, version)
        artifact.version = version
        artifact.is_latest = True
        artifact.storage_id = storage.id
        artifact.path = key
        artifact.is_managed = False
        artifact.hash = _version_of(ref)
        artifact.hash_type = HASH_TYPE if artifact.hash else None
        artifact.facets = ref.facets or None
        artifact.created_at = utcnow()
        self.session.add(artifact)
        self.session.flush()
        return artifact

    def _input_artifact(self, ref: DatasetRef) -> Artifact:
        storage, key = self._family(ref)
        versions = self._versions(storage, key)
        wanted = _version_of(ref)
        chosen = next((a for a in versions if wanted and a.hash == wanted), None)
        chosen = chosen or next((a for a in versions if a.is_latest), None)
        if chosen is None:
            return self._new_version(storage, key, versions, ref)
        if ref.facets:
            chosen.facets = {**(chosen.facets or {}), **ref.facets}
        return chosen

    def _output_artifact(self, ref: DatasetRef, run: Run) -> Artifact:
        storage, key = self._family(ref)
        versions = self._versions(storage, key)
        wanted = _version_of(ref)
        mine = next((a for a in versions if a.run_id == run.id), None)
        same = next((a for a in versions if wanted and a.hash == wanted), None)
        placeholder = next((a for a in versions if a.run_id is None and a.hash in (None, wanted)), None)
        chosen = mine or same or placeholder
        if chosen is None:
            chosen = self._new_version(storage, key, versions, ref)
        if chosen.run_id is None:
            chosen.run_id = run.id
        if wanted and chosen.hash is None:
            chosen.hash, chosen.hash_type = wanted, HASH_TYPE
        merged = {**(chosen.facets or {}), **ref.facets, **ref.side_facets}
        chosen.facets = merged or None
        return chosen

    def _apply_dataset_event(self, event: dict[str, Any]) -> None:
        dataset = event["dataset"]
        self._input_artifact(DatasetRef(dataset["namespace"], dataset["name"], dict(dataset.get("facets") or {})))

    def _apply_job_event(self, event: dict[str, Any]) -> None:
        job = event["job"]
        facets = dict(job.get("facets") or {})
        declared = {
            side: [{"namespace": d["namespace"], "name": d["name"]} for d in event.get(side) or []]
            for side in ("inputs", "outputs")
        }
        if declared["inputs"] or declared["outputs"]:
            facets["flowtrail_static_lineage"] = declared
        self._transform(job["namespace"], job["name"], facets)
        for side in ("inputs", "outputs"):
            for dataset in event.get(side) or []:
                self._input_artifact(DatasetRef(dataset["namespace"], dataset["name"], dict(dataset.get("facets") or {})))


def _version_of(ref: DatasetRef) -> str | None:
    version = ref.facets.get("version") or {}
    value = version.get("datasetVersion") if isinstance(version, dict) else None
    return str(value) if value else None


def _storage_type(root: str) -> str:
    if root == "/":
        return LOCAL
    if "://" in root:
        scheme = root.split("://", 1)[0]
        try:
            from fsspec.registry import known_implementations

            if scheme in known_implementations:
                return scheme
        except ImportError:  # pragma: no cover - fsspec is a core dependency
            pass
    return "external"


__all__ = ["IngestResult", "Ingestor", "InvalidEvent", "Prepared", "canonical_hash", "dataset_location"]
