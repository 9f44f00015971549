"""The background writer: registry writes for task runs, batched and off the tasks' critical path.

Hooks append ``("start", record)`` and ``("finish", record)`` to a deque (well under a
microsecond, without waking any thread) and return. One daemon thread per process writes what
accumulated, every ``BATCH_WINDOW`` seconds (2 s; ``FLOWTRAIL_PREFECT_BATCH_WINDOW``), at a flow's
end, or at once when a task returned an object that must be serialised. The window is long on
purpose: every SQL statement releases and re-takes the GIL, and while a flow of short tasks runs,
each re-take can stall the flow's thread for a switch interval. A flow shorter than the window
has its task runs written at its end, while its thread waits anyway.

A batch takes a handful of transactions instead of two per task run:

1. insert the new runs and update the finished ones (a task run that started and finished within
   the window is inserted once, already final: one multi-row INSERT);
2. register the batch's input and output artifacts with one ``flowtrail.save`` call (files are
   hashed once per content version: a per-process cache keyed by path, size and mtime reuses the
   artifact of a file seen before);
3. link inputs (path inputs and upstream objects through Prefect's task-input links) in one
   transaction;
4. tell the run listeners (OpenLineage emission) about each start and finish.

Flow-level work (starting and finishing the flow run) goes through :meth:`Writer.call`, executed
in queue order, so a flow's final record is written after all of its task runs: that is the
flush at the flow's end. The writer owns every registry object it creates (one SQLAlchemy session,
in its own thread). Errors are logged once per kind and never reach the flow.
"""

from __future__ import annotations

import atexit
import collections
import functools
import getpass
import inspect
import logging
import os
import threading
import weakref
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .records import FlowRecord, TaskRecord, utc
from .values import Signature, object_kind, object_nbytes

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.models import Artifact, Run

logger = logging.getLogger("flowtrail")

BATCH_WINDOW = float(os.environ.get("FLOWTRAIL_PREFECT_BATCH_WINDOW", "2"))
MAX_BATCH = 2000
MAX_CACHED_FILES = 100_000
CALL_TIMEOUT = 300.0
EXIT_FLUSH_TIMEOUT = 30.0
OK_STATUSES = ("completed", "cached")
THREAD_NAME = "flowtrail-prefect-writer"
Producer = tuple[int, int | None]  # (artifact id, id of the run that produced it)


@dataclass
class _Call:
    fn: Callable[[], Any]
    done: threading.Event = field(default_factory=threading.Event)
    result: Any = None
    error: BaseException | None = None


@dataclass
class _InstanceCache:
    """What the writer remembers per registry: ids it looked up or created once."""

    environment_id: int | None = None
    transforms: dict[tuple[str, str | None], Any] = field(default_factory=dict)
    files: dict[tuple[str, Signature], Producer] = field(default_factory=dict)  # (path, stat) -> artifact
    workdirs: set[str] = field(default_factory=set)


@functools.lru_cache(maxsize=4096)
def source_of(fn: Any) -> str | None:
    try:
        return inspect.getsource(fn)
    except (OSError, TypeError):
        return None


@functools.lru_cache(maxsize=1)
def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:
        return None


@functools.lru_cache(maxsize=1)
def prefect_version() -> str | None:
    try:
        import prefect

        return str(prefect.__version__)
    except Exception:
        return None


def _final_fields(record: TaskRecord) -> dict[str, Any]:
    """The columns a task run's final state sets."""
    from flowtrail.core.record import utcnow

    metrics: dict[str, Any] = {"attempts": record.attempts, "retries": max(record.attempts - 1, 0)}
    if record.prefect_state:
        metrics["prefect_state"] = record.prefect_state
    if record.assets_out or record.assets_in:
        metrics["prefect_assets"] = {"materialized": record.assets_out, "depends_on": record.assets_in}
    return {
        "status": record.status or "failed",
        "finished_at": utc(record.finished_at) or utcnow(),
        "error": record.error,
        "metrics": metrics,
    }


def _run_ref(record: TaskRecord, started: bool = False) -> Run:
    """A ``Run`` carrying the written row's identity and state (not loaded from the registry)."""
    from flowtrail.core.models import Run

    status = "started" if started or record.status is None else record.status
    if record.run is None:
        record.run = Run(id=record.run_id, uid=record.uid, name=record.name, status=status,
                         parent_id=record.flow.run_id, engine="prefect", project_id=record.flow.project_id)  # fmt: skip
    elif record.run.status != status:
        record.run.status = status
    return record.run


def _has_listeners() -> bool:
    from flowtrail.core import tracking

    listeners = getattr(tracking, "_listeners", None)
    return listeners is None or bool(listeners)


def _notify(event: str, run: Run) -> None:
    """Tell flowtrail's run listeners (OpenLineage emission) about a run written here."""
    from flowtrail.core import tracking

    notify = getattr(tracking, "notify", None) or getattr(tracking, "_notify", None)
    if notify is not None:
        notify(event, run)


class _QuietDuplicates(logging.Filter):
    """Drop core's "already registered" notice for saves made by this writer (not the user's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if threading.current_thread().name != THREAD_NAME:
            return True
        return "already registered with identical content" not in str(record.msg)


class Writer:
    """One per process; started on first use (and again in a forked child).

    Hooks append to a deque without waking the thread (a wake-up per task run would cost a
    thread switch in the task's path); the thread wakes when work arrives after it went idle,
    when an urgent operation (:meth:`call`, :meth:`flush`) comes in, or after ``window`` seconds.
    """

    def __init__(self, window: float = BATCH_WINDOW) -> None:
        self.window = window
        self.pending_objects: set[str] = set()  # task run uids whose returned objects are not written yet
        self.returned: dict[str, list[Producer]] = {}  # task run uid -> artifacts its return value became
        self._items: collections.deque[Any] = collections.deque()
        self._wake = threading.Event()
        self._idle = False
        self._urgent = 0  # calls queued and not yet run
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._lock = threading.Lock()
        self._caches: weakref.WeakKeyDictionary[Any, _InstanceCache] = weakref.WeakKeyDictionary()
        self._reported: set[str] = set()
        self._atexit = False

    # -- called from hooks ------------------------------------------------------------------------
    def put(self, kind: str, record: TaskRecord) -> None:
        if self._thread is None or self._pid != os.getpid():
            self._start()
        self._items.append((kind, record))
        if self._idle:  # only the first item after a quiet spell wakes the thread
            self._idle = False
            self._wake.set()

    def nudge(self) -> None:
        """End the current batch window early (returned objects are waiting to be written)."""
        self._wake.set()

    def call(self, fn: Callable[[], Any], timeout: float = CALL_TIMEOUT) -> Any:
        """Run ``fn`` in the writer thread after everything queued before it; wait for its result."""
        if self._thread is None or self._pid != os.getpid():
            self._start()
        op = _Call(fn)
        with self._lock:
            self._urgent += 1
        self._items.append(op)
        self._wake.set()
        if not op.done.wait(timeout):
            raise TimeoutError(f"the flowtrail registry did not answer within {timeout:g} s")
        if op.error is not None:
            raise op.error
        return op.result

    def flush(self, timeout: float = CALL_TIMEOUT) -> bool:
        """Wait until everything queued so far is written; False on timeout."""
        if self._thread is None or self._pid != os.getpid():
            return True
        try:
            self.call(lambda: None, timeout)
        except TimeoutError:
            return False
        except Exception:
            return True
        return True

    # -- the thread ------------------------------------------------------------------------------
    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._pid == os.getpid():
                return
            if self._pid != os.getpid():  # a forked child: the parent's queue and thread are not ours
                self._items = collections.deque()
                self._wake = threading.Event()
                self._idle = False
                self._urgent = 0
                self._caches = weakref.WeakKeyDictionary()
                self.pending_objects = set()
                self.returned = {}
                self._pid = os.getpid()
            flowtrail_logger = logging.getLogger("flowtrail")
            if not any(isinstance(f, _QuietDuplicates) for f in flowtrail_logger.filters):
                flowtrail_logger.addFilter(_QuietDuplicates())
            thread = threading.Thread(target=self._loop, name=THREAD_NAME, daemon=True)
            thread.start()
            self._thread = thread
            if not self._atexit:
                self._atexit = True
                atexit.register(self._exit)

    def _exit(self) -> None:
        if not self.flush(EXIT_FLUSH_TIMEOUT):
            logger.warning("flowtrail: Prefect task runs still queued after %g s at exit were not recorded.",
                           EXIT_FLUSH_TIMEOUT)  # fmt: skip

    def _loop(self) -> None:
        items, wake = self._items, self._wake
        while True:
            if not items:
                self._idle = True
                if not items:  # re-checked after announcing idleness: no wake-up is lost
                    wake.wait()
                self._idle = False
                wake.clear()
            if not self._urgent:  # collect for a window, unless a call is waiting or arrives
                wake.wait(self.window)
                wake.clear()
            batch = []
            while items and len(batch) < MAX_BATCH:
                batch.append(items.popleft())
            try:
                self._process(batch)
            except Exception as exc:  # never let the thread die
                self.report(type(exc).__name__, f"could not record Prefect runs: {exc}")

    def _process(self, batch: list[Any]) -> None:
        group: list[tuple[str, TaskRecord]] = []
        for item in batch:
            if isinstance(item, _Call):
                if group:
                    self._write_group(group)
                    group = []
                try:
                    item.result = item.fn()
                except BaseException as exc:
                    item.error = exc
                finally:
                    with self._lock:
                        self._urgent -= 1
                    item.done.set()
            else:
                group.append(item)
        if group:
            self._write_group(group)

    def report(self, kind: str, message: str) -> None:
        if kind not in self._reported:
            self._reported.add(kind)
            logger.warning("%s (further such errors are not shown)", message)

    def cache(self, instance: Instance) -> _InstanceCache:
        found = self._caches.get(instance)
        if found is None:
            found = self._caches[instance] = _InstanceCache()
        return found

    # -- task runs -------------------------------------------------------------------------------
    def _write_group(self, group: list[tuple[str, TaskRecord]]) -> None:
        by_instance: dict[int, tuple[Instance, list[tuple[str, TaskRecord]]]] = {}
        for kind, record in group:
            instance = record.flow.instance
            by_instance.setdefault(id(instance), (instance, []))[1].append((kind, record))
        for instance, ops in by_instance.values():
            try:
                self._write_tasks(instance, ops)
            except Exception as exc:
                self.report(f"tasks:{type(exc).__name__}", f"could not record Prefect task runs: {exc}")
                for _kind, record in ops:
                    self.pending_objects.discard(record.uid)

    def _write_tasks(self, instance: Instance, ops: list[tuple[str, TaskRecord]]) -> None:
        from sqlalchemy.exc import IntegrityError

        cache = self.cache(instance)
        new: list[TaskRecord] = []
        finished: list[TaskRecord] = []
        seen_new: set[int] = set()
        seen_finished: set[int] = set()
        for kind, record in ops:
            if record.run_id is None and id(record) not in seen_new:
                seen_new.add(id(record))
                new.append(record)
            if kind == "finish" and id(record) not in seen_finished:
                seen_finished.add(id(record))
                finished.append(record)
        for record in finished:
            if not record.value_known:
                self._load_value(record)
        try:
            inserted = self._write_runs(instance, cache, new, finished, check_existing=False)
        except IntegrityError:  # a task run recorded before (the same Prefect run reported twice)
            for record in new:
                record.run, record.run_id = None, None
            inserted = self._write_runs(instance, cache, new, finished, check_existing=True)
        links = self._artifacts(instance, cache, finished)
        self._link(instance, links)
        if _has_listeners():
            for record in inserted:
                _notify("start", _run_ref(record, started=True))
            for record in finished:
                if record.run_id is not None:
                    _notify("finish", _run_ref(record))
        for record in finished:
            record.value = None
            record.objects = []
            record.params = None
            self.pending_objects.discard(record.uid)

    def _write_runs(
        self,
        instance: Instance,
        cache: _InstanceCache,
        new: list[TaskRecord],
        finished: list[TaskRecord],
        check_existing: bool,
    ) -> list[TaskRecord]:
        """Insert new runs (final already when they finished in this batch), update the others.

        Rows go in with one multi-row INSERT ... RETURNING id and one executemany UPDATE; the
        ``Run`` objects handed to run listeners are built from the row values (not loaded back).
        """
        from sqlalchemy import bindparam, insert, select, update

        from flowtrail.core.database import write_transaction
        from flowtrail.core.models import Run
        from flowtrail.core.record import utcnow

        finished_ids = {id(record) for record in finished}
        inserted: list[TaskRecord] = []
        with write_transaction(instance.sessions) as session:
            existing: dict[str, Run] = {}
            if check_existing and new:
                existing = {run.uid: run for run in session.scalars(select(Run).where(Run.uid.in_([r.uid for r in new])))}
            rows: list[dict[str, Any]] = []
            if new:
                environment_id = self._environment_id(instance, cache, session)
                user, version, now = _user(), prefect_version(), utcnow()
                for record in new:
                    run = existing.get(record.uid)
                    if run is not None:
                        record.run, record.run_id = run, run.id
                        continue
                    transform = self._transform(cache, session, record.key, "task", source_of(record.fn))
                    row = {
                        "uid": record.uid, "name": record.name, "transform_id": transform.id,
                        "params": record.params, "status": "started",
                        "started_at": utc(record.started_at) or now, "finished_at": None, "error": None,
                        "metrics": None, "parent_id": record.flow.run_id, "reference": record.uid,
                        "environment_id": environment_id, "engine": "prefect", "engine_version": version,
                        "created_by": user, "created_at": now, "project_id": record.flow.project_id,
                    }  # fmt: skip
                    if id(record) in finished_ids:
                        row.update(_final_fields(record))
                    rows.append(row)
                    inserted.append(record)
            if rows:
                # Unordered RETURNING keeps SQLite's multi-row INSERT; rows are matched by uid.
                table = Run.__table__
                ids = dict(session.execute(insert(table).returning(table.c.uid, table.c.id), rows).tuples().all())
                for record in inserted:
                    record.run_id = ids[record.uid]
            inserted_ids = {id(record) for record in inserted}
            updates = []
            for record in finished:
                if record.run_id is not None and id(record) not in inserted_ids:
                    values = _final_fields(record)
                    if record.run is not None and record.run in session:  # loaded: the session writes it
                        for name, value in values.items():
                            setattr(record.run, name, value)
                        continue
                    updates.append({"_id": record.run_id, **values})
            if updates:
                table = Run.__table__
                statement = update(table).where(table.c.id == bindparam("_id"))
                session.execute(statement, updates)
        return inserted

    def _load_value(self, record: TaskRecord) -> None:
        """A persisted result (only metadata in the state): read it here, not in the hook."""
        try:
            record.value = record.state.result(raise_on_failure=False, _sync=True)
        except Exception:
            record.value = None
        record.value_known = True

    def _environment_id(self, instance: Instance, cache: _InstanceCache, session: Any) -> int | None:
        if cache.environment_id is None:
            from flowtrail.core.environment import (
                current_environment,
                get_or_create_environment,
            )

            digest, description = current_environment(instance.config.cache_dir)
            cache.environment_id = get_or_create_environment(session, digest, description).id
        return cache.environment_id

    def _transform(
        self, cache: _InstanceCache, session: Any, key: str, kind: str, source: str | None, description: str | None = None
    ) -> Any:
        """The transform for ``key`` and this source: looked up (or created) once per process."""
        from flowtrail.core.transform import get_or_create_transform, source_hash

        ident = (key, source_hash(source))
        transform = cache.transforms.get(ident)
        if transform is None:
            transform = get_or_create_transform(session, key, type=kind, source_code=source, description=description)
            cache.transforms[ident] = transform
        return transform

    # -- artifacts -------------------------------------------------------------------------------
    def _artifacts(self, instance: Instance, cache: _InstanceCache, finished: list[TaskRecord]) -> list[tuple[int, Producer]]:
        """Register the finished runs' inputs and outputs; return (run id, artifact) input links."""
        if not finished:
            return []
        plan = _Plan(self, instance, cache)
        for record in finished:
            plan.add(record)
        plan.save()
        return plan.links + self._upstream_links(instance, finished)

    def _upstream_links(self, instance: Instance, finished: list[TaskRecord]) -> list[tuple[int, Producer]]:
        """Objects a task consumed from upstream tasks: Prefect's task-input links, not saved twice."""
        from sqlalchemy import select

        from flowtrail.core.models import Artifact, Run

        missing = sorted({up for r in finished if r.run_id is not None for up in r.upstream if up not in self.returned})
        if missing:
            found: dict[str, list[Producer]] = {uid: [] for uid in missing}
            session = instance.sessions.current()
            rows = session.execute(
                select(Run.uid, Artifact.id, Artifact.run_id).join(Artifact, Artifact.run_id == Run.id).where(Run.uid.in_(missing))
            )
            for uid, artifact_id, run_id in rows:
                found[uid].append((artifact_id, run_id))
            instance.sessions.end_read()
            self.returned.update(found)
        links: list[tuple[int, Producer]] = []
        for record in finished:
            if record.run_id is None:
                continue
            for up in record.upstream:
                for producer in self.returned.get(up, ()):
                    links.append((record.run_id, producer))
        return links

    def _link(self, instance: Instance, links: Iterable[tuple[int, Producer]]) -> None:
        from sqlalchemy import select

        from flowtrail.core.database import write_transaction
        from flowtrail.core.run import run_input

        pairs = {(run_id, artifact_id) for run_id, (artifact_id, producer) in links if producer != run_id}
        if not pairs:
            return
        run_ids = sorted({run_id for run_id, _ in pairs})
        with write_transaction(instance.sessions) as session:
            present = set(
                session.execute(
                    select(run_input.c.run_id, run_input.c.artifact_id).where(run_input.c.run_id.in_(run_ids))
                ).all()
            )
            rows = [{"run_id": r, "artifact_id": a} for r, a in sorted(pairs - {tuple(p) for p in present})]
            if rows:
                session.execute(run_input.insert(), rows)

    # -- flows (run through call()) ---------------------------------------------------------------
    def start_flow(
        self,
        record: FlowRecord,
        *,
        source: str | None,
        description: str | None,
        params: dict[str, Any] | None,
        parent_run_id: int | None,
        run_name: str | None,
        started_at: Any,
    ) -> None:
        """Register the workdir (once) and insert the flow run, like a task run (one transaction)."""
        from sqlalchemy import insert, select, update
        from sqlalchemy.exc import IntegrityError

        from flowtrail.core.database import write_transaction
        from flowtrail.core.instance import register_storage
        from flowtrail.core.models import Run
        from flowtrail.core.projects import env_project, run_project_id
        from flowtrail.core.record import utcnow

        instance = record.instance
        cache = self.cache(instance)
        workdir = record.options.resolved_workdir()
        if workdir and workdir not in cache.workdirs:
            register_storage(instance, workdir)
            cache.workdirs.add(workdir)
        uid = str(record.flow_run_id)
        table = Run.__table__
        project = record.options.project or (None if parent_run_id is not None else env_project())
        try:
            with write_transaction(instance.sessions) as session:
                now = utcnow()
                project_id = run_project_id(session, project, parent_run_id)
                transform = self._transform(cache, session, record.name, "pipeline", source, description)
                row = {
                    "uid": uid, "name": run_name, "transform_id": transform.id, "params": params,
                    "status": "started", "started_at": utc(started_at) or now, "finished_at": None,
                    "error": None, "metrics": None, "parent_id": parent_run_id, "reference": uid,
                    "environment_id": self._environment_id(instance, cache, session), "engine": "prefect",
                    "engine_version": prefect_version(), "created_by": _user(), "created_at": now,
                    "project_id": project_id,
                }  # fmt: skip
                run_id = session.execute(insert(table).values(**row).returning(table.c.id)).scalar_one()
        except IntegrityError:  # the same flow run executed again (a re-run from the UI)
            with write_transaction(instance.sessions) as session:
                found = session.execute(select(table.c.id, table.c.project_id).where(table.c.uid == uid)).first()
                if found is None:
                    raise
                run_id, project_id = found
                session.execute(
                    update(table).where(table.c.id == run_id).values(status="started", finished_at=None, error=None)
                )
        record.run_id, record.project_id = run_id, project_id
        record.run = Run(id=run_id, uid=uid, name=run_name, status="started", parent_id=parent_run_id, engine="prefect",
                         project_id=project_id)  # fmt: skip
        if _has_listeners():
            _notify("start", record.run)

    def finish_flow(self, record: FlowRecord, status: str, error: str | None, metrics: dict[str, Any], finished_at: Any) -> None:
        """Write the flow run's final state (after every task run queued before it)."""
        from sqlalchemy import update

        from flowtrail.core.database import write_transaction
        from flowtrail.core.models import Run
        from flowtrail.core.record import utcnow
        from flowtrail.core.run import FINAL_STATUSES

        if record.root is None:  # the whole tree has ended: forget what its task runs returned
            for uid in record.finished_uids:
                self.returned.pop(uid, None)
            record.finished_uids.clear()
        if record.run_id is None or status not in FINAL_STATUSES:
            return
        table = Run.__table__
        with write_transaction(record.instance.sessions) as session:
            session.execute(
                update(table)
                .where(table.c.id == record.run_id)
                .values(status=status, finished_at=utc(finished_at) or utcnow(), error=error, metrics=metrics)
            )
        if record.run is not None:
            record.run.status = status
            if _has_listeners():
                _notify("finish", record.run)


class _Plan:
    """The artifacts of one batch: which to save, which are known already, and who links to what."""

    def __init__(self, writer: Writer, instance: Instance, cache: _InstanceCache) -> None:
        self.writer = writer
        self.instance = instance
        self.cache = cache
        self._roots: list[str] | None = None
        self.to_save: list[Artifact] = []
        self.file_keys: dict[int, tuple[str, Signature]] = {}  # to_save index -> (path, stat) of a file
        self.by_file: dict[tuple[str, Signature], int] = {}  # (path, stat) -> to_save index
        self.waiters: dict[int, list[Callable[[Producer], None]]] = {}
        self.links: list[tuple[int, Producer]] = []

    # -- planning --------------------------------------------------------------------------------
    def add(self, record: TaskRecord) -> None:
        if record.run_id is None or (record.closed_by_flow and record.status == "aborted"):
            return
        returned: list[Producer] = []
        self.writer.returned[record.uid] = returned
        (record.flow.root or record.flow).finished_uids.append(record.uid)
        if not (record.paths or record.returned_paths or record.objects or record.assets_out or record.assets_in):
            return
        run = _run_ref(record)
        ok = record.status in OK_STATUSES
        limit = record.flow.options.max_copy_bytes

        def link(producer: Producer, run_id: int = run.id) -> None:
            self.links.append((run_id, producer))

        inputs: set[str] = set()
        # A cache hit rewrites nothing: the paths it returns are still what it produces.
        produced = {path for path, _sig in record.returned_paths} if record.status == "cached" else set()
        after = record.paths_after or [None] * len(record.paths)
        for (path, before), now in zip(record.paths, after, strict=False):
            if before is not None and before == now and path not in produced:
                inputs.add(path)
                self.file(path, before, None, limit, link)
            elif now is not None and ok:
                self.file(path, now, run, limit, None)
        if ok:
            for path, sig in record.returned_paths:
                if sig is not None:
                    self.file(path, sig, None if path in inputs else run, limit, returned.append)
            for uri in record.assets_out:
                self.declared(uri, run, limit, returned.append)
            if record.flow.options.save_objects:
                for suffix, obj in record.objects:
                    self.object(record, suffix, obj, limit, returned.append)
        for uri in record.assets_in:
            self.declared(uri, None, limit, link)

    def file(
        self, path: str, sig: Signature, run: Run | None, limit: int, then: Callable[[Producer], None] | None
    ) -> None:
        """A local file or folder: an input (``run`` None) or an output of ``run``."""
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.models import Artifact

        known = self.cache.files.get((path, sig))
        if known is not None:  # this exact version was registered before: no hashing
            if then is not None:
                then(known)
            return
        index = self.by_file.get((path, sig))
        if index is None:
            if not self._allowed(path, sig, limit):
                return
            try:
                artifact = Artifact(path, run=run)
            except (FlowtrailError, OSError):
                return  # gone since the hook saw it
            index = self._add(artifact)
            self.by_file[(path, sig)] = index
            self.file_keys[index] = (path, sig)
        if then is not None:
            self.waiters.setdefault(index, []).append(then)

    def declared(self, uri: str, run: Run | None, limit: int, then: Callable[[Producer], None]) -> None:
        """A Prefect asset key (``@materialize`` output or ``asset_deps`` input)."""
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.models import Artifact

        from .values import path_of, signature

        if uri.startswith("file://") or "://" not in uri:
            local = path_of(uri if "://" in uri else "file://" + uri)
            sig = signature(local) if local is not None else None
            if local is not None and sig is not None:
                self.file(local, sig, run, limit, then)
            return
        if uri.split("://", 1)[0] not in _FSSPEC_PROTOCOLS:
            return  # e.g. a database table: kept in the run's metrics only
        try:
            artifact = Artifact(uri, run=run)
        except (FlowtrailError, OSError, ValueError):
            return
        self.waiters.setdefault(self._add(artifact), []).append(then)

    def object(self, record: TaskRecord, suffix: str, obj: Any, limit: int, then: Callable[[Producer], None]) -> None:
        """A DataFrame or AnnData returned by the task, saved as parquet or h5ad."""
        from flowtrail.core.models import Artifact

        from .values import key_part

        kind = object_kind(obj)
        if kind is None:
            return
        if object_nbytes(obj) > limit:
            logger.info("flowtrail: the %s returned by %s is larger than %d bytes; not saved.", kind, record.name, limit)
            return
        extension = ".parquet" if kind == "DataFrame" else ".h5ad"
        # Stable across flow runs, so each run of the flow makes a new version of the same keys.
        counter = f"-{record.index}" if record.index else ""
        key = f"{key_part(record.flow.name)}/{key_part(record.key)}{counter}{suffix}{extension}"
        try:
            if kind == "DataFrame":
                artifact = Artifact.from_dataframe(obj, key=key, run=_run_ref(record))
            else:
                artifact = Artifact.from_anndata(obj, key=key, run=_run_ref(record))
        except Exception as exc:
            self.writer.report(f"object:{type(exc).__name__}", f"flowtrail: could not save a {kind}: {exc}")
            return
        self.waiters.setdefault(self._add(artifact), []).append(then)

    def roots(self) -> list[str]:
        """The registered local storage locations (read once per batch, when needed)."""
        if self._roots is None:
            from sqlalchemy import select

            from flowtrail.core.models import Storage

            session = self.instance.sessions.current()
            try:
                self._roots = [s.root.rstrip("/") for s in session.scalars(select(Storage)) if s.is_local]
            finally:
                self.instance.sessions.end_read()
        return self._roots

    def _add(self, artifact: Artifact) -> int:
        self.to_save.append(artifact)
        return len(self.to_save) - 1

    def _allowed(self, path: str, sig: Signature, limit: int) -> bool:
        """In place inside a registered location; otherwise copied only below the size limit."""
        for root in self.roots():
            if path == root or path.startswith(root + "/"):
                return True
        size = _folder_size(path, limit) if sig[2] else sig[0]
        if size > limit:
            logger.info(
                "flowtrail: %s is outside every registered storage location and larger than %d bytes; "
                "not copied (register its folder with `flowtrail storage add`).", path, limit,
            )  # fmt: skip
            return False
        return True

    # -- saving ----------------------------------------------------------------------------------
    def save(self) -> None:
        if not self.to_save:
            return
        from flowtrail.core.saving import save_artifacts

        saved: list[Artifact | None]
        try:
            saved = list(save_artifacts(self.to_save, instance=self.instance))
        except Exception:
            saved = []
            for artifact in self.to_save:  # one bad file must not lose the others
                try:
                    saved.extend(save_artifacts([artifact], instance=self.instance))
                except Exception as exc:
                    self.writer.report(f"save:{type(exc).__name__}", f"flowtrail: could not register an artifact: {exc}")
                    saved.append(None)
        for index, artifact in enumerate(saved):
            if artifact is None:
                continue
            producer = (artifact.id, artifact.run_id)
            key = self.file_keys.get(index)
            if key is not None:
                if len(self.cache.files) >= MAX_CACHED_FILES:
                    self.cache.files.clear()
                self.cache.files[key] = producer
            for then in self.waiters.get(index, ()):
                then(producer)


_FSSPEC_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "http", "https", "hf", "memory"})


def _folder_size(path: str, limit: int) -> int:
    """Total size of the files below ``path``, stopping early once it exceeds ``limit``."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
            if total > limit:
                return total
    return total


_writer: Writer | None = None
_writer_lock = threading.Lock()


def get_writer() -> Writer:
    global _writer
    if _writer is None:
        with _writer_lock:
            if _writer is None:
                _writer = Writer()
    return _writer
