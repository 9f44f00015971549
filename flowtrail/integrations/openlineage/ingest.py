"""Storing OpenLineage events in the registry.

Mapping: job -> Transform (namespace + name), run -> Run (keyed by runId), dataset -> Artifact
(namespace + name resolved like any other file: inside the longest registered storage location,
so a file a Spark job wrote and a Snakemake rule read is one artifact), parent facet -> parent
Run, inputs -> run inputs, outputs -> artifacts produced by the run (a new version per producing
run, as Marquez versions datasets; a datasetVersion facet becomes the version's hash).

Each batch runs in one transaction: raw events go into the append-only ``lineage_event`` log
(identical events are stored once), then every run they touch is re-folded from *all* its
stored events (:mod:`.fold`), which makes the result independent of arrival order.

A batch costs a fixed number of queries whatever its size: everything it touches (stored events
of its runs, jobs, runs, dataset versions, input links) is loaded with one ``IN`` query per kind,
decided in memory, and written back with one ``executemany`` per kind (:class:`_Batch`). The
decisions are those of storing the runs one by one, so the registry is the same either way. Two
of those queries read, inside the database, every version of the datasets a batch touches and
every run of its jobs (no index covers "latest version of a dataset" or "latest run of a job"):
larger batches share that cost among more events.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from sqlalchemy import String, bindparam, func, insert, or_, select, update
from sqlalchemy.orm import Session

from ...core.artifact import _suffix
from ...core.database import write_transaction
from ...core.ids import new_stem, versioned_uid
from ...core.keys import validate_key
from ...core.models import Artifact, LineageEvent, Run, Storage, Transform, run_input
from ...core.openlineage.emitter import namespace_of
from ...core.record import utcnow
from ...core.storage import LOCAL, innermost_storage
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
CHUNK = 500  # values per IN (...) list, well below every database's parameter limit

_EVENTS = LineageEvent.__table__
_RUNS = Run.__table__
_ARTIFACTS = Artifact.__table__
_TRANSFORMS = Transform.__table__
_STORAGES = Storage.__table__


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
    """A validated event with its content hash and kind (run, dataset or job).

    ``text`` is the event's JSON exactly as received (an NDJSON line), stored as it is when given.
    """

    digest: str
    kind: str
    event: dict[str, Any]
    text: str | None = None


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_hash(event: dict[str, Any]) -> str:
    return hashlib.sha256(_CANONICAL.encode(event).encode()).hexdigest()


@lru_cache(maxsize=65536)
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


@lru_cache(maxsize=65536)
def dataset_key(relpath: str) -> str:
    """A key from a dataset path: empty segments dropped, the rest validated like any key."""
    cleaned = "/".join(part for part in relpath.split("/") if part)
    return validate_key(cleaned or relpath, what="dataset name")


def _chunks(values: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Ingestor:
    """Writes batches of events into one instance."""

    def __init__(self, instance: Instance) -> None:
        self.instance = instance
        self.own_namespace = namespace_of(instance)

    # -- entry points -----------------------------------------------------------------------------
    def prepare(self, event: Any, index: int | None = None, text: str | None = None) -> Prepared:
        """Validate one event; raise :class:`InvalidEvent` naming every problem.

        ``text``, the event's JSON as received, is stored instead of a re-serialisation.
        """
        kind = check_event(event, index)
        self._check_names(event, kind, index)
        return Prepared(canonical_hash(event), kind, event, text)

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
            batch = _Batch(session, self.own_namespace)
            fresh = batch.log(items)
            result.stored = len(fresh)
            result.duplicates = len(prepared) - len(fresh)
            run_ids = sorted({i.event["run"]["runId"] for i in fresh if i.kind == "run"})
            states = batch.fold(run_ids, {i.digest: i.event for i in items})
            others = [i for i in fresh if i.kind in ("dataset", "job")]
            batch.prepare_runs(states)
            batch.load_datasets(
                [ref for s in states for ref in (*s.inputs, *s.outputs)]
                + [ref for i in others for ref in _declared_datasets(i.event, i.kind)]
            )  # fmt: skip
            batch.apply_runs(states)
            result.runs = len(run_ids)
            for item in others:
                if item.kind == "dataset":
                    batch.apply_dataset_event(item.event)
                else:
                    batch.apply_job_event(item.event)
            batch.write()
        batch.expire_loaded_records()
        return result

    def _check_names(self, event: dict[str, Any], kind: str, index: int | None) -> None:
        problems = []
        datasets: list[tuple[str, Any]] = []
        if kind == "dataset":
            datasets.append(("dataset", event["dataset"]))
        for side in ("inputs", "outputs"):
            datasets += [(f"{side}[{i}]", d) for i, d in enumerate(event.get(side) or [])]
        for field_name, dataset in datasets:
            _root, location = dataset_location(dataset["namespace"], dataset["name"])
            try:
                dataset_key(location.split("://", 1)[-1])
            except Exception as exc:
                problems.append(Problem(f"{field_name}.name", str(exc)))
        if problems:
            raise InvalidEvent(problems, index)


# -- the statements a batch runs, built once (SQLAlchemy then reuses their compiled form) ----------
def _in(column: Any) -> Any:
    return column.in_(bindparam("values", expanding=True))


_VERSION_COLUMNS = tuple(
    _ARTIFACTS.c[name] for name in ("id", "uid", "version", "is_latest", "hash", "hash_type", "run_id", "storage_id", "key")
)
_RUN_COLUMNS = tuple(
    _RUNS.c[name] for name in ("id", "uid", "transform_id", "engine", "engine_version", "error", "parent_id", "started_at")
)
_SELECT_STORAGES = select(_STORAGES.c.id, _STORAGES.c.root)
_SELECT_STORED = select(_EVENTS.c.hash).where(_in(_EVENTS.c.hash))
_SELECT_RUN_EVENTS = select(_EVENTS.c.run_uid, _EVENTS.c.hash).where(_in(_EVENTS.c.run_uid), _EVENTS.c.kind == "run")
_SELECT_PAYLOADS = select(_EVENTS.c.hash, _EVENTS.c.payload).where(_in(_EVENTS.c.hash))
_SELECT_JOBS = (
    select(_TRANSFORMS.c.id, _TRANSFORMS.c.namespace, _TRANSFORMS.c.key, _TRANSFORMS.c.type, _TRANSFORMS.c.facets)
    .where(_in(_TRANSFORMS.c.key), _TRANSFORMS.c.is_latest.is_(True))
    .order_by(_TRANSFORMS.c.id)
)
_SELECT_RUNS = select(*_RUN_COLUMNS).where(_in(_RUNS.c.uid))
_SELECT_MADE_BY = select(*_VERSION_COLUMNS).where(_in(_ARTIFACTS.c.run_id))
_SELECT_FACETS = select(_ARTIFACTS.c.id, _ARTIFACTS.c.facets).where(_in(_ARTIFACTS.c.id))
_SELECT_LINKS = select(run_input.c.run_id, run_input.c.artifact_id).where(_in(run_input.c.run_id))
_SELECT_IDS = {table.name: select(table.c.uid, table.c.id).where(_in(table.c.uid)) for table in (_RUNS, _ARTIFACTS, _TRANSFORMS)}
_INSERTS = {table.name: insert(table) for table in (_EVENTS, _RUNS, _ARTIFACTS, _TRANSFORMS, run_input)}
_INSERT_EVENT_TEXTS = insert(_EVENTS).values(payload=bindparam("payload", type_=String))


def _latest_runs_query() -> Any:
    """The ``:depth`` latest runs (by start time, then id) of each job in ``:values``."""
    order = (_RUNS.c.started_at.desc(), _RUNS.c.uid.desc())
    rank = func.row_number().over(partition_by=_RUNS.c.transform_id, order_by=order).label("rank")
    ranked = (
        select(_RUNS.c.transform_id, _RUNS.c.uid, _RUNS.c.started_at, rank)
        .where(_in(_RUNS.c.transform_id), _RUNS.c.started_at.is_not(None))
        .subquery()
    )
    return select(ranked.c.transform_id, ranked.c.uid, ranked.c.started_at).where(ranked.c.rank <= bindparam("depth"))


def _candidates_query(with_hashes: bool) -> Any:
    """Versions of the datasets ``:values`` in storage ``:storage_id`` that choosing among them can
    pick: first, last, latest, without a run, and (``:hashes``) with a version the batch names."""
    c = _ARTIFACTS.c
    edges = {
        "first": func.min(c.version).over(partition_by=c.key).label("first"),
        "last": func.max(c.version).over(partition_by=c.key).label("last"),
    }
    rows = select(*_VERSION_COLUMNS, *edges.values()).where(c.storage_id == bindparam("storage_id"), _in(c.key)).subquery()
    useful = [
        rows.c.is_latest.is_(True), rows.c.run_id.is_(None),
        rows.c.version == rows.c.first, rows.c.version == rows.c.last,
    ]  # fmt: skip
    if with_hashes:
        useful.append(rows.c.hash.in_(bindparam("hashes", expanding=True)))
    return select(*(rows.c[column.name] for column in _VERSION_COLUMNS)).where(or_(*useful))


_SELECT_LATEST_RUNS = _latest_runs_query()
_SELECT_CANDIDATES = {True: _candidates_query(True), False: _candidates_query(False)}


# -- one batch ------------------------------------------------------------------------------------
@dataclass(eq=False)
class _Job:
    """A job (transform) as a batch sees it; ``id`` is None until a new one is inserted."""

    id: int | None
    namespace: str
    key: str
    type: str
    facets: Any
    original: tuple[str, Any] | None = None  # (type, facets) as stored, None until stored


@dataclass(eq=False)
class _Version:
    """One version of a dataset as a batch sees it; ``id`` is None until a new version is inserted."""

    id: int | None
    uid: str
    version: int
    is_latest: bool
    hash: str | None
    hash_type: str | None
    run_id: int | None
    storage_id: int
    key: str
    original: tuple[Any, ...] | None = None  # (is_latest, run_id, hash, hash_type) as loaded
    facets: Any = None  # the new version's facets; loaded at the end for existing versions
    facet_updates: list[tuple[dict[str, Any], dict[str, Any] | None]] = field(default_factory=list)

    def merge_facets(self, facets: dict[str, Any], side_facets: dict[str, Any] | None = None) -> None:
        """Queue ``facets = {**facets, **new}`` (input) or ``... or None`` with side facets (output)."""
        self.facet_updates.append((facets, side_facets))

    def final_facets(self, facets: Any) -> Any:
        for new, side in self.facet_updates:
            if side is None:
                facets = {**(facets or {}), **new}
            else:
                facets = {**(facets or {}), **new, **side} or None
        return facets


@dataclass(eq=False)
class _RunRow:
    """The columns of a run that folding its events may change, as loaded (or just inserted)."""

    id: int
    uid: str
    transform_id: int
    engine: str | None
    engine_version: str | None
    error: str | None
    parent_id: int | None
    started_at: dt.datetime | None
    existed: bool = True  # False for runs this batch inserts: they have no outputs yet


class _Batch:
    """Everything one transaction loads, decides and writes; caches live as long as the batch.

    The order of decisions is that of a run-by-run replay (runs sorted by id, then dataset and
    job events in arrival order), so the outcome is the same as storing objects one at a time.
    """

    def __init__(self, session: Session, own_namespace: str) -> None:
        self.session = session
        self.connection = session.connection()
        self.dialect = self.connection.dialect.name
        self.own_namespace = own_namespace
        self.storages: list[Any] = self.connection.execute(_SELECT_STORAGES).all()  # (id, root) rows
        self.transforms: dict[tuple[str, str], _Job] = {}
        self.runs: dict[str, _RunRow] = {}
        self.families: dict[tuple[int, str], list[_Version]] = {}
        self.locations: dict[tuple[str, str], tuple[int, str]] = {}  # (namespace, name) -> (storage id, key)
        self.links: dict[int, set[_Version]] = {}  # run id -> input versions

    def _select_in(self, statement: Any, values: Iterable[Any], **params: Any) -> list[Any]:
        """Rows of ``statement`` for ``values`` (bound to ``:values``), queried in chunks."""
        rows: list[Any] = []
        for chunk in _chunks(list(values)):
            rows += self.connection.execute(statement, {"values": list(chunk), **params}).all()
        return rows

    # -- the event log ----------------------------------------------------------------------------
    def log(self, items: list[Prepared]) -> list[Prepared]:
        """Append the events not stored yet to ``lineage_event``, in order; return them."""
        existing = {digest for (digest,) in self._select_in(_SELECT_STORED, [i.digest for i in items])}
        fresh = [i for i in items if i.digest not in existing]
        if fresh:
            # SQLite keeps JSON as text: store the event's text as received (or as the JSON type
            # would serialise it) rather than serialising every event again.
            as_text = self.dialect == "sqlite"
            statement = _INSERT_EVENT_TEXTS if as_text else _INSERTS["lineage_event"]
            _executemany(self.session, f"insert lineage_event {as_text}", statement, [self._log_row(i, as_text) for i in fresh])
        return fresh

    @staticmethod
    def _log_row(item: Prepared, as_text: bool) -> dict[str, Any]:
        event, kind = item.event, item.kind
        job = event.get("job") if isinstance(event.get("job"), dict) else {}
        payload: Any = event
        if as_text:
            payload = item.text if item.text is not None else json.dumps(event)
        return {
            "hash": item.digest,
            "kind": kind,
            "event_type": event.get("eventType") if kind == "run" else None,
            "event_time": parse_time(event["eventTime"]),
            "run_uid": event["run"]["runId"] if kind == "run" else None,
            "job_namespace": job.get("namespace"),
            "job_name": job.get("name"),
            "payload": payload,
            "received_at": utcnow(),
        }

    def fold(self, run_ids: list[str], known: dict[str, dict[str, Any]]) -> list[RunState]:
        """The folded state of each run from all its stored events (``known`` ones not re-read)."""
        states = []
        for chunk in _chunks(run_ids):
            digests: dict[str, list[str]] = {}
            for run_uid, digest in self._select_in(_SELECT_RUN_EVENTS, chunk):
                digests.setdefault(run_uid, []).append(digest)
            missing = [d for ds in digests.values() for d in ds if d not in known]
            loaded = dict(self._select_in(_SELECT_PAYLOADS, missing))
            for run_id in chunk:
                states.append(fold_run([(d, known[d] if d in known else loaded[d]) for d in digests[run_id]]))
        return states

    # -- jobs and runs ----------------------------------------------------------------------------
    def _namespace(self, namespace: str) -> str:
        # Events this instance emitted itself come back to its own transforms.
        return "" if namespace == self.own_namespace else namespace

    def _load_transforms(self, jobs: Iterable[tuple[str, str]]) -> None:
        wanted = {(self._namespace(ns), name) for ns, name in jobs} - set(self.transforms)
        for row in self._select_in(_SELECT_JOBS, sorted({name for _ns, name in wanted})):
            if (row.namespace, row.key) in wanted and (row.namespace, row.key) not in self.transforms:
                self.transforms[(row.namespace, row.key)] = _Job(*row, original=(row.type, row.facets))

    def _transform(self, namespace: str, name: str, facets: dict[str, Any] | None = None) -> _Job:
        ns = self._namespace(namespace)
        transform = self.transforms.get((ns, name))
        if transform is None:
            job_type = ((facets or {}).get("jobType") or {}).get("jobType")
            transform = _Job(None, ns, name, JOB_TYPES.get(str(job_type).upper(), "job"), None)
            self.transforms[(ns, name)] = transform
        if facets:
            transform.facets = {**(transform.facets or {}), **facets}
        return transform

    def _insert_transforms(self) -> None:
        new = [t for t in self.transforms.values() if t.id is None]
        if not new:
            return
        now = utcnow()
        rows = [
            {"uid": versioned_uid(new_stem(), 1), "namespace": t.namespace, "key": t.key, "version": 1,
             "is_latest": True, "type": t.type, "facets": t.facets, "created_at": now}  # fmt: skip
            for t in new
        ]
        for transform, transform_id in zip(new, _insert_with_ids(self.session, _TRANSFORMS, rows), strict=True):
            transform.id, transform.original = transform_id, (transform.type, transform.facets)

    def _update_transforms(self) -> None:
        rows = [
            {"_id": t.id, "type": t.type, "facets": t.facets}
            for t in self.transforms.values()
            if t.id is not None and (t.type, t.facets) != t.original
        ]
        _update_by_id(self.session, _TRANSFORMS, rows)

    def _load_runs(self, uids: Iterable[str]) -> None:
        for row in self._select_in(_SELECT_RUNS, sorted(set(uids) - set(self.runs))):
            self.runs[row.uid] = _RunRow(*row)

    def _create_runs(self, new: dict[str, _Job]) -> None:
        """Insert placeholder runs (status scheduled) for run ids seen for the first time."""
        if not new:
            return
        now = utcnow()
        # JSON columns are written as the ORM writes an unset one (JSON null), like every other run.
        unset = {"params": None, "metrics": None, "facets": None}
        rows = [{"uid": uid, "transform_id": t.id, "status": "scheduled", "created_at": now, **unset} for uid, t in new.items()]
        for row, run_id in zip(rows, _insert_with_ids(self.session, _RUNS, rows), strict=True):
            self.runs[row["uid"]] = _RunRow(run_id, row["uid"], row["transform_id"], None, None, None, None, None, existed=False)

    def prepare_runs(self, states: list[RunState]) -> None:
        """Create or update every folded run, its job and its parent (datasets come later)."""
        if not states:
            return
        parents = [s.parent for s in states if s.parent is not None]
        self._load_transforms([(s.job_namespace, s.job_name) for s in states]
                              + [(p["job"]["namespace"], p["job"]["name"]) for p in parents])  # fmt: skip
        self._load_runs([s.run_id for s in states] + [p["run"]["runId"] for p in parents])
        new_runs: dict[str, _Job] = {}
        for state in states:
            transform = self._transform(state.job_namespace, state.job_name)
            if state.run_id not in self.runs:
                new_runs.setdefault(state.run_id, transform)
            if state.parent is not None:
                parent_transform = self._transform(state.parent["job"]["namespace"], state.parent["job"]["name"])
                if state.parent["run"]["runId"] not in self.runs:
                    new_runs.setdefault(state.parent["run"]["runId"], parent_transform)
        self._insert_transforms()
        self._create_runs(new_runs)
        before = {s.run_id: (self.runs[s.run_id].transform_id, self.runs[s.run_id].started_at) for s in states}
        outside = self._latest_runs_outside(states, before)
        self._update_runs(states)
        self._job_facets_from_latest_runs(states, before, outside)

    def apply_runs(self, states: list[RunState]) -> None:
        """Link each run's inputs and claim or create its outputs, run by run."""
        for state in states:
            run = self.runs[state.run_id]
            self._link_inputs(run, [self._input_artifact(ref) for ref in state.inputs])
            for ref in state.outputs:
                self._output_artifact(ref, run)

    def _update_runs(self, states: list[RunState]) -> None:
        rows = []
        for state in states:
            run = self.runs[state.run_id]
            run.transform_id = self._transform(state.job_namespace, state.job_name).id
            engine = state.run_facets.get("processing_engine") or {}
            run.engine = run.engine or engine.get("name")
            run.engine_version = run.engine_version or engine.get("version")
            error = state.run_facets.get("errorMessage") or {}
            if state.status == "failed" and error.get("message"):
                run.error = error["message"]
            if state.parent is not None:
                parent_run = self.runs[state.parent["run"]["runId"]]
                if parent_run.id != run.id:
                    run.parent_id = parent_run.id
            rows.append({
                "_id": run.id, "transform_id": run.transform_id, "status": state.status,
                "started_at": state.started_at, "finished_at": state.finished_at, "facets": state.run_facets or None,
                "engine": run.engine, "engine_version": run.engine_version, "error": run.error, "parent_id": run.parent_id,
            })  # fmt: skip
        _update_by_id(self.session, _RUNS, rows)

    def _time_key(self, moment: dt.datetime) -> dt.datetime:
        # Start times compare as the database compares them: SQLite stores the wall-clock time
        # without its offset (and hands it back naive), PostgreSQL compares instants.
        if self.dialect == "sqlite":
            return moment.replace(tzinfo=None)
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)

    def _latest_runs_outside(
        self, states: list[RunState], before: dict[str, tuple[int, dt.datetime | None]]
    ) -> dict[int, tuple[dt.datetime, str]]:
        """Per job of the batch's runs, its latest run (start time, run id) among runs not in the batch."""
        jobs = {self.runs[s.run_id].transform_id for s in states}
        crowd: dict[int, int] = {}  # batch runs that may rank above the one wanted, per job
        for transform_id, started_at in before.values():
            if started_at is not None:
                crowd[transform_id] = crowd.get(transform_id, 0) + 1
        depth = 1 + max(crowd.values(), default=0)
        latest: dict[int, tuple[dt.datetime, str]] = {}
        for transform_id, uid, started_at in self._select_in(_SELECT_LATEST_RUNS, sorted(jobs), depth=depth):
            if uid not in before:
                candidate = (self._time_key(started_at), uid)
                latest[transform_id] = max(latest.get(transform_id, candidate), candidate)
        return latest

    def _job_facets_from_latest_runs(
        self,
        states: list[RunState],
        before: dict[str, tuple[int, dt.datetime | None]],
        outside: dict[int, tuple[dt.datetime, str]],
    ) -> None:
        # A job's facets are those of its latest run (by start time, then run id). Runs are
        # stored one after the other (sorted by id); after each, the job takes the run's facets
        # if the run is then the job's latest, counting the batch's other runs as they stand at
        # that moment: already stored, or still as they were before the batch.
        standing: dict[int, dict[str, tuple[dt.datetime, str]]] = {}  # job -> its batch runs' (start, id)
        for uid, (transform_id, started_at) in before.items():
            if started_at is not None:
                standing.setdefault(transform_id, {})[uid] = (self._time_key(started_at), uid)
        for state in states:
            transform_id = self.runs[state.run_id].transform_id
            previous = before[state.run_id][0]
            standing.get(previous, {}).pop(state.run_id, None)
            mine = (self._time_key(state.started_at), state.run_id)
            standing.setdefault(transform_id, {})[state.run_id] = mine
            rivals = list(standing[transform_id].values())
            if transform_id in outside:
                rivals.append(outside[transform_id])
            if max(rivals) != mine:
                continue
            transform = self._transform(state.job_namespace, state.job_name)
            transform.facets = state.job_facets or None
            job_type = (state.job_facets.get("jobType") or {}).get("jobType")
            if job_type:
                transform.type = JOB_TYPES.get(str(job_type).upper(), "job")

    def _link_inputs(self, run: _RunRow, artifacts: list[_Version]) -> None:
        # Links are written at the end; the check on run_id is the one in force at this point.
        self.links.setdefault(run.id, set()).update(a for a in artifacts if a.run_id != run.id)

    # -- datasets ---------------------------------------------------------------------------------
    def _family(self, ref: DatasetRef) -> tuple[int, str]:
        """``(storage id, key)`` of a dataset: in the longest registered root holding it, or a new root."""
        found = self.locations.get((ref.namespace, ref.name))
        if found is not None:
            return found
        root, location = dataset_location(ref.namespace, ref.name)
        best = innermost_storage(self.storages, location, include_root=False)  # (id, root) rows
        if best is None:
            storage = self.session.scalar(select(Storage).where(Storage.root == root))
            if storage is None:
                storage = Storage(root, _storage_type(root))
                self.session.add(storage)
                self.session.flush()
                self.storages.append(storage)
            best = (storage, storage.relative(location) or "")
        found = (best[0].id, dataset_key(best[1]))
        self.locations[(ref.namespace, ref.name)] = found
        return found

    def load_datasets(self, refs: Iterable[DatasetRef]) -> None:
        """Load the versions of the datasets ``refs`` name that choosing among them can pick.

        That is, per dataset: the first and last version, the latest, placeholders (no run), those
        whose hash is a version the batch names, and those made by the batch's runs. Choosing
        among these gives what choosing among all versions gives, without reading them all.
        """
        wanted: dict[int, set[str]] = {}
        hashes: set[str] = set()
        for ref in refs:
            storage_id, key = self._family(ref)
            if (storage_id, key) not in self.families:
                wanted.setdefault(storage_id, set()).add(key)
            version = _version_of(ref)
            if version:
                hashes.add(version)
        loaded: dict[int, _Version] = {}
        for storage_id, keys in wanted.items():
            for key in keys:
                self.families[(storage_id, key)] = []
            for part in [list(part) for part in _chunks(sorted(hashes))] or [None]:
                query = _SELECT_CANDIDATES[part is not None]
                params = {"storage_id": storage_id} | ({"hashes": part} if part is not None else {})
                for row in self._select_in(query, sorted(keys), **params):
                    loaded.setdefault(row.id, _Version(*row))
        for row in self._select_in(_SELECT_MADE_BY, [run.id for run in self.runs.values() if run.existed]):
            if row.key in wanted.get(row.storage_id, ()):
                loaded.setdefault(row.id, _Version(*row))
        for version in sorted(loaded.values(), key=lambda v: v.version):
            version.original = (version.is_latest, version.run_id, version.hash, version.hash_type)
            self.families[(version.storage_id, version.key)].append(version)

    def _versions(self, ref: DatasetRef) -> tuple[int, str, list[_Version]]:
        storage_id, key = self._family(ref)
        return storage_id, key, self.families[(storage_id, key)]

    def _new_version(self, storage_id: int, key: str, versions: list[_Version], ref: DatasetRef) -> _Version:
        latest = next((a for a in versions if a.is_latest), versions[-1] if versions else None)
        version = max((a.version for a in versions), default=0) + 1
        stem = versions[0].uid[:16] if versions else new_stem()
        if latest is not None:
            latest.is_latest = False
        digest = _version_of(ref)
        artifact = _Version(
            id=None, uid=versioned_uid(stem, version), version=version, is_latest=True, hash=digest,
            hash_type=HASH_TYPE if digest else None, run_id=None, storage_id=storage_id, key=key,
            facets=ref.facets or None,
        )  # fmt: skip
        versions.append(artifact)
        return artifact

    def _input_artifact(self, ref: DatasetRef) -> _Version:
        storage_id, key, versions = self._versions(ref)
        wanted = _version_of(ref)
        chosen = next((a for a in versions if wanted and a.hash == wanted), None)
        chosen = chosen or next((a for a in versions if a.is_latest), None)
        if chosen is None:
            return self._new_version(storage_id, key, versions, ref)
        if ref.facets:
            chosen.merge_facets(ref.facets)
        return chosen

    def _output_artifact(self, ref: DatasetRef, run: _RunRow) -> _Version:
        storage_id, key, versions = self._versions(ref)
        wanted = _version_of(ref)
        mine = next((a for a in versions if a.run_id == run.id), None)
        same = next((a for a in versions if wanted and a.hash == wanted), None)
        placeholder = next((a for a in versions if a.run_id is None and a.hash in (None, wanted)), None)
        chosen = mine or same or placeholder
        if chosen is None:
            chosen = self._new_version(storage_id, key, versions, ref)
        if chosen.run_id is None:
            chosen.run_id = run.id
        if wanted and chosen.hash is None:
            chosen.hash, chosen.hash_type = wanted, HASH_TYPE
        chosen.merge_facets(ref.facets, ref.side_facets)
        return chosen

    def apply_dataset_event(self, event: dict[str, Any]) -> None:
        for ref in _declared_datasets(event, "dataset"):
            self._input_artifact(ref)

    def apply_job_event(self, event: dict[str, Any]) -> None:
        job = event["job"]
        facets = dict(job.get("facets") or {})
        declared = {
            side: [{"namespace": d["namespace"], "name": d["name"]} for d in event.get(side) or []]
            for side in ("inputs", "outputs")
        }
        if declared["inputs"] or declared["outputs"]:
            facets["flowtrail_static_lineage"] = declared
        self._load_transforms([(job["namespace"], job["name"])])
        self._transform(job["namespace"], job["name"], facets)
        for ref in _declared_datasets(event, "job"):
            self._input_artifact(ref)

    # -- writing ----------------------------------------------------------------------------------
    def write(self) -> None:
        """Write the jobs, dataset versions and input links decided in memory."""
        self._insert_transforms()
        self._update_transforms()
        versions = [v for family in self.families.values() for v in family]
        existing = [v for v in versions if v.id is not None]
        self._insert_versions([v for v in versions if v.id is None])
        self._update_versions(existing)
        self._insert_links()

    def _insert_versions(self, new: list[_Version]) -> None:
        if not new:
            return
        now = utcnow()
        rows = [
            {
                "uid": v.uid, "key": v.key, "kind": "dataset", "suffix": _suffix(v.key.rsplit("/", 1)[-1]),
                "storage_id": v.storage_id, "path": v.key, "is_managed": False, "version": v.version,
                "is_latest": v.is_latest, "hash": v.hash, "hash_type": v.hash_type, "run_id": v.run_id,
                "facets": v.final_facets(v.facets), "created_at": now,
            }  # fmt: skip
            for v in new
        ]
        for version, artifact_id in zip(new, _insert_with_ids(self.session, _ARTIFACTS, rows), strict=True):
            version.id = artifact_id

    def _update_versions(self, existing: list[_Version]) -> None:
        facets = dict(self._select_in(_SELECT_FACETS, [v.id for v in existing if v.facet_updates]))
        plain, merged = [], []
        for v in existing:
            row = {"_id": v.id, "is_latest": v.is_latest, "run_id": v.run_id, "hash": v.hash, "hash_type": v.hash_type}
            if v.facet_updates:
                value = v.final_facets(facets[v.id])
                if value != facets[v.id]:
                    merged.append({**row, "facets": value})
                    continue
            if (v.is_latest, v.run_id, v.hash, v.hash_type) != v.original:
                plain.append(row)
        _update_by_id(self.session, _ARTIFACTS, plain)
        _update_by_id(self.session, _ARTIFACTS, merged)

    def _insert_links(self) -> None:
        existed = sorted(run.id for run in self.runs.values() if run.existed and run.id in self.links)
        present = {(run_id, artifact_id) for run_id, artifact_id in self._select_in(_SELECT_LINKS, existed)}
        rows = [
            {"run_id": run_id, "artifact_id": artifact_id}
            for run_id, artifacts in self.links.items()
            for artifact_id in sorted({a.id for a in artifacts})
            if (run_id, artifact_id) not in present
        ]
        _executemany(self.session, "insert run_input", _INSERTS["run_input"], rows)

    def expire_loaded_records(self) -> None:
        """Make records this session already holds reload what the batch wrote past the ORM."""
        for record in list(self.session.identity_map.values()):
            if isinstance(record, (Run, Artifact, Transform)):
                self.session.expire(record)


_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], tuple[str, tuple[str, ...], list[Any]]] = {}


def _executemany(session: Session, name: str, statement: Any, rows: list[dict[str, Any]]) -> None:
    """Execute ``statement`` once per row (dicts with the same keys); ``name`` identifies it.

    On SQLite the statement is compiled once, each value goes through its column type's bind
    processing here, and the driver's ``executemany`` gets the rows as tuples: SQLAlchemy's
    per-row execution machinery would cost more than SQLite's work for these small rows.
    Other databases take SQLAlchemy's usual path.
    """
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    if dialect.name != "sqlite":
        session.execute(statement, rows)
        return
    keys = tuple(rows[0])
    prepared = _STATEMENTS.get((name, dialect.name, keys))
    if prepared is None:
        compiled = statement.compile(dialect=dialect, column_keys=list(keys))
        order = tuple(compiled.positiontup or ())
        processors = [compiled.binds[bind].type.dialect_impl(dialect).bind_processor(dialect) for bind in order]
        prepared = _STATEMENTS[(name, dialect.name, keys)] = (compiled.string, order, processors)
    sql, order, processors = prepared
    steps = list(zip(order, processors, strict=True))
    connection.exec_driver_sql(sql, [tuple(p(row[k]) if p else row[k] for k, p in steps) for row in rows])


_UPDATES: dict[tuple[str, tuple[str, ...]], Any] = {}


def _update_by_id(session: Session, table: Any, rows: list[dict[str, Any]]) -> None:
    """``UPDATE table SET ... WHERE id = :_id`` for rows with the same keys (``_id`` among them)."""
    if not rows:
        return
    keys = tuple(rows[0])
    statement = _UPDATES.get((table.name, keys))
    if statement is None:
        columns = {key: bindparam(key) for key in keys if key != "_id"}
        statement = _UPDATES[(table.name, keys)] = update(table).where(table.c.id == bindparam("_id")).values(columns)
    _executemany(session, f"update {table.name}", statement, rows)


def _insert_with_ids(session: Session, table: Any, rows: list[dict[str, Any]]) -> list[int]:
    """Insert rows (each with a unique ``uid``); return their ids in the same order."""
    _executemany(session, f"insert {table.name}", _INSERTS[table.name], rows)
    ids: dict[str, int] = {}
    connection = session.connection()
    for chunk in _chunks([row["uid"] for row in rows]):
        ids.update((uid, row_id) for uid, row_id in connection.execute(_SELECT_IDS[table.name], {"values": list(chunk)}))
    return [ids[row["uid"]] for row in rows]


def _declared_datasets(event: dict[str, Any], kind: str) -> list[DatasetRef]:
    """The datasets a dataset or job event names (they are stored like inputs)."""
    named = [event["dataset"]] if kind == "dataset" else [d for side in ("inputs", "outputs") for d in event.get(side) or []]
    return [DatasetRef(d["namespace"], d["name"], dict(d.get("facets") or {})) for d in named]


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
