"""What the recorder knows about one Nextflow session, and how it learns it.

:class:`SessionState` holds everything the run has reported so far: the session
(:class:`SessionInfo`: run name, session id, version, work dir, lineage store, publish roots,
errors), each task (:class:`Task`, keyed by its short hash ``ab/cdef12``) and the published files
still to register. Its intake methods take nextflowpy's snapshot of submitted and cached tasks,
new log events and new trace rows; its lookups find a task's work dir, full hash and the file a
lineage-store key names. Nothing here writes to the registry (the other parts of
:class:`.recorder.Recorder` do that).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from flowtrail.integrations.nextflow import _fs
from flowtrail.integrations.nextflow.lineage_store import LineageStore
from flowtrail.integrations.nextflow.log import Event
from flowtrail.integrations.nextflow.trace import TraceRecord
from flowtrail.integrations.nextflow.workdir import WorkDir

if TYPE_CHECKING:
    from flowtrail.core.models import Run

ENGINE = "nextflow"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


@dataclass
class Task:
    short: str  # "ab/cdef12", as in the log and the trace
    name: str | None = None
    process: str | None = None
    submitted_at: dt.datetime | None = None
    cached: bool = False
    seen_at: dt.datetime | None = None
    trace: TraceRecord | None = None
    completion: dict[str, Any] | None = None  # the log's "Task completed" line (no trace)
    run: Run | None = None
    done: bool = False
    waits: int = 0
    full_hash: str | None = None
    workdir: str | None = None


@dataclass
class SessionInfo:
    run_name: str | None = None
    session_id: str | None = None
    version: str | None = None
    command: str | None = None
    launch: dict[str, Any] = field(default_factory=dict)
    workdir: str | None = None
    scripts: list[str] = field(default_factory=list)
    trace_file: str | None = None
    lineage_keys: list[str] = field(default_factory=list)
    publish_roots: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    started_at: dt.datetime | None = None
    last_event_at: dt.datetime | None = None
    goodbye: bool = False


class SessionState:
    """The reported state of one session: what the run said, task by task."""

    def __init__(self, launch_dir: str, *, lineage_store: str | None = None, tasks_from_log: bool = True) -> None:
        self.launch_dir = launch_dir
        self.info = SessionInfo()
        self.tasks: dict[str, Task] = {}
        self.open: dict[str, Task] = {}  # tasks not registered as finished yet
        self.by_hash: dict[str, Task] = {}
        self.store = LineageStore(lineage_store) if lineage_store else None
        self.tasks_from_log = tasks_from_log
        self.publishes: list[dict[str, Any]] = []  # published files not registered yet

    @property
    def work_root(self) -> str:
        return self.info.workdir or os.path.join(self.launch_dir, "work")

    # -- input: what the run reports ------------------------------------------------------------
    def log_events(self, events: Iterable[Event]) -> None:
        info = self.info
        for event in events:
            if event.time is not None:
                info.started_at = info.started_at or event.time
                info.last_event_at = event.time
            data = event.data
            kind = event.kind
            if kind == "version":
                info.version = data["version"]
            elif kind == "launch":
                info.launch = data
                info.run_name = info.run_name or data.get("name")
            elif kind == "session":
                info.session_id = data["session_id"]
            elif kind == "run_name":
                info.run_name = data["name"]
            elif kind == "workdir":
                info.workdir = data["path"]
            elif kind == "scripts":
                info.scripts = data["paths"]
            elif kind == "command":
                info.command = data["command"]
            elif kind == "trace_file":
                info.trace_file = data["path"]
            elif kind == "lineage":
                if self.store is None:
                    self.store = LineageStore(data["store"])
                info.lineage_keys.append(data["key"])
            elif kind == "publish":
                self.publishes.append(data)
            elif kind == "publish_root":
                if data["path"] not in info.publish_roots:
                    info.publish_roots.append(data["path"])
            elif kind == "error":
                info.errors.append(data["message"])
            elif kind == "goodbye":
                info.goodbye = True
            elif self.tasks_from_log and kind == "submitted":
                self.submitted(data["short"], data["name"], event.time)
            elif self.tasks_from_log and kind == "cached":
                self.cached(data["short"], data["name"], event.time)
            elif kind == "completed":
                self._log_completion(data, event.time)

    def _task(self, short: str, name: str | None = None) -> Task:
        task = self.tasks.get(short)
        if task is None:
            task = self.tasks[short] = self.open[short] = Task(short, name=name)
        elif name and not task.name:
            task.name = name
        return task

    def submitted(self, short: str, name: str | None, when: dt.datetime | None, process: str | None = None) -> None:
        task = self._task(short, name)
        task.submitted_at = task.submitted_at or when or utcnow()
        task.process = task.process or process

    def cached(self, short: str, name: str | None, when: dt.datetime | None = None, process: str | None = None) -> None:
        task = self._task(short, name)
        task.cached = True
        task.seen_at = task.seen_at or when or utcnow()
        task.process = task.process or process

    def trace_records(self, records: Iterable[TraceRecord]) -> None:
        for record in records:
            short = record.short_hash
            if not short:
                continue
            task = self._task(short, record.get("name"))
            task.trace = record
            if record.workdir:
                self._learn_workdir(task, record.workdir)
            task.seen_at = task.seen_at or utcnow()
            if record.status == "CACHED":
                task.cached = True

    def _log_completion(self, data: dict[str, Any], when: dt.datetime | None) -> None:
        workdir = data["workdir"]
        short = f"{_fs.basename(_fs.dirname(workdir))}/{_fs.basename(workdir)[:6]}"
        task = self._task(short, data["name"])
        task.completion = {**data, "time": when}
        self._learn_workdir(task, workdir)

    def _learn_workdir(self, task: Task, workdir: str) -> None:
        task.workdir = task.workdir or workdir
        full = WorkDir(workdir).full_hash
        if full:
            task.full_hash = full
            self.by_hash[full] = task

    def forget_done(self) -> None:
        """Drop registered tasks from the open ones (they stay in :attr:`tasks`)."""
        self.open = {short: task for short, task in self.open.items() if not task.done}

    # -- lookups: where a task's files are ------------------------------------------------------
    def workdir(self, task: Task) -> str | None:
        if task.workdir:
            return task.workdir
        if task.trace is not None and task.trace.workdir:
            task.workdir = task.trace.workdir
        elif task.completion is not None:
            task.workdir = task.completion["workdir"]
        else:
            task.workdir = self._find_workdir(task.short)
        return task.workdir

    def _find_workdir(self, short: str) -> str | None:
        root = self.work_root
        prefix, rest = short.split("/", 1)
        fs, path = _fs.filesystem_for(_fs.join(root, prefix))
        try:
            matches = [m for m in fs.glob(f"{path.rstrip('/')}/{rest}*") if fs.isdir(m)]
        except (FileNotFoundError, OSError):
            return None
        if len(matches) != 1:
            return None
        found = matches[0]
        return found if not _fs.is_url(root) else f"{root.split('://', 1)[0]}://{found}"

    def full_hash(self, task: Task) -> str | None:
        if task.full_hash is None:
            workdir = self.workdir(task)
            task.full_hash = WorkDir(workdir).full_hash if workdir else None
            if task.full_hash:
                self.by_hash[task.full_hash] = task
        return task.full_hash

    def lid_location(self, key: str) -> str | None:
        """The file a lineage-store key (``<task hash>/<path>``) names."""
        assert self.store is not None
        path = self.store.file_path(key)
        if path:
            return path
        task_hash, _, rel = key.partition("/")
        task = self.by_hash.get(task_hash)
        if task is not None and task.workdir and rel:
            return _fs.join(task.workdir, rel)
        return _fs.join(self.work_root, task_hash[:2], task_hash[2:], rel) if rel else None
