"""Turning what a Nextflow run reports into flowtrail records, while it runs or afterwards.

The runner (:mod:`.runner`) feeds a :class:`Recorder` at every poll: nextflowpy's snapshot of
submitted and cached tasks, new trace rows and new log events. The importer (:mod:`.importer`)
feeds the same recorder a finished run's whole log and trace. Records:

- the session: a ``pipeline`` Transform (main script; key = repository or script path; reference =
  ``repository@revision`` or the script's path) and its Run (name = run name, reference = session
  id, params, engine ``nextflow`` and its version, parent = the caller's tracked run if any);
- each task: a ``process`` Transform per process (the process definition) and a Run with parent =
  the session run, name = ``PROC (tag)``, reference = ``<full task hash> <work dir>``, params
  ``{"tag", "inputs": {val inputs}}`` (val inputs need lineage), metrics from the trace (exit
  code, times, resources; see :data:`.trace.METRIC_NAMES`), status completed / failed (error =
  exit code and the tail of ``.command.err``) / aborted / cached (metrics ``cached_from_run`` =
  the run that first made the outputs);
- inputs: staged files resolved to their sources; outputs: files matching the declared output
  patterns, or with lineage enabled exactly what the lineage store recorded;
- published files (``publishDir`` and workflow outputs; from the log lines the runner turns on,
  or from the lineage store): registered in place as outputs of the task run that made the file
  they copy, with the same content hash and the description "Published by Nextflow (copy) from
  <work-dir key>". Nextflow publishes after a task completes, so the copies join the run after
  its COMPLETE OpenLineage event (which lists the work-dir outputs); ``flowtrail export
  openlineage`` replays runs with all their outputs. ``mode: 'symlink'`` (Nextflow's default) and
  ``'rellink'`` publish a link to the work-dir file: that is the task's output artifact itself.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import _fs
from .artifacts import ArtifactResolver, task_hash_of
from .lineage_store import LineageStore, params_of
from .log import Event, first_error
from .pipeline import ProcessSources, cli_params, identify, params_file
from .trace import TraceRecord
from .workdir import WorkDir

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.run import Run

logger = logging.getLogger("flowtrail")
ENGINE = "nextflow"
STATUS = {"COMPLETED": "completed", "CACHED": "cached", "FAILED": "failed", "ABORTED": "aborted"}
STOPPED_EXIT_CODES = (130, 143)  # 128 + SIGINT, 128 + SIGTERM
LINEAGE_WAIT_POLLS = 6  # polls to wait for a task's lineage record before reading its work dir
_UNSET: Any = object()


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


class Recorder:
    """Registers one Nextflow session (a ``nextflow run``) and its tasks."""

    def __init__(
        self,
        launch_dir: str | os.PathLike[str],
        *,
        pipeline: str | None = None,
        cli_args: Iterable[str] = (),
        instance: Instance | None = None,
        lineage_store: str | None = None,
        hash_mode: str = "full",
        parent: Run | None = _UNSET,
        tasks_from_log: bool = True,
        expect_trace: bool = True,
        project: str | None = None,
    ) -> None:
        from flowtrail.core.instance import current
        from flowtrail.core.tracking import current_run

        self.instance = instance or current()
        self.launch_dir = os.path.realpath(os.fspath(launch_dir))
        self.pipeline = pipeline
        self.cli_args = list(cli_args)
        self.info = SessionInfo()
        self.tasks: dict[str, Task] = {}
        self._open: dict[str, Task] = {}  # tasks not registered as finished yet
        self.by_hash: dict[str, Task] = {}
        self.resolver = ArtifactResolver(self.instance, hash_mode=hash_mode)
        self.store = LineageStore(lineage_store) if lineage_store else None
        self.parent = current_run() if parent is _UNSET else parent
        self.project = project  # None: the parent run's project, else FLOWTRAIL_PROJECT
        self.tasks_from_log = tasks_from_log
        self.expect_trace = expect_trace
        self.session_run: Run | None = None
        self.pipeline_key: str | None = None
        self._publishes: list[dict[str, Any]] = []
        self._published: set[str] = set()
        self._sources: ProcessSources | None = None
        self._process_keys: dict[str, tuple[str, str | None]] = {}
        self._original_runs: dict[str, Run | None] = {}
        self._workflow_run: dict[str, Any] | None = None
        self.counts: dict[str, int] = {}

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
                self._publishes.append(data)
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
            task = self.tasks[short] = self._open[short] = Task(short, name=name)
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

    # -- the session ----------------------------------------------------------------------------
    def _main_script(self) -> str | None:
        script = self.info.launch.get("script")
        if script and not _fs.is_url(script) and "://" not in script:
            candidate = script if os.path.isabs(script) else os.path.join(self.launch_dir, script)
            if os.path.isfile(candidate):
                return candidate
        if self.info.scripts:
            return self.info.scripts[0]
        if self.pipeline:
            candidate = self.pipeline if os.path.isabs(self.pipeline) else os.path.join(self.launch_dir, self.pipeline)
            if os.path.isdir(candidate):
                candidate = os.path.join(candidate, "main.nf")
            if os.path.isfile(candidate):
                return candidate
        return None

    def _workflow_run_record(self) -> dict[str, Any] | None:
        if self._workflow_run is not None or self.store is None:
            return self._workflow_run
        key = self.store.workflow_run_key(self.info.run_name, self.info.session_id)
        for candidate in ([key] if key else []) + self.info.lineage_keys[:1]:
            record = self.store.workflow_run(candidate)
            if record and (not self.info.session_id or record.get("sessionId") == self.info.session_id):
                self._workflow_run = {**record, "_key": candidate}
                break
        return self._workflow_run

    def _params(self) -> dict[str, Any]:
        record = self._workflow_run_record()
        if record is not None:
            return params_of(record)
        params: dict[str, Any] = {}
        args = self.cli_args
        for flag in ("-params-file",):
            if flag in args and args.index(flag) + 1 < len(args):
                path = args[args.index(flag) + 1]
                try:
                    params.update(params_file(path if os.path.isabs(path) else os.path.join(self.launch_dir, path)))
                except (OSError, ValueError) as exc:
                    logger.debug("nextflow: cannot read %s: %s", path, exc)
        params.update(cli_params(args))
        return params

    def _start_session(self) -> None:
        from flowtrail.core.projects import env_project
        from flowtrail.core.tracking import start_run

        info = self.info
        script = self._main_script()
        workflow = (self._workflow_run_record() or {}).get("workflow") or {}
        root = self.instance.config.root
        identity = identify(
            script, info.launch.get("script") or self.pipeline, info.launch.get("revision"),
            info.launch.get("branch"), Path(root) if root else None,
            repository=workflow.get("repository"), commit=workflow.get("commitId"),
        )  # fmt: skip
        self.pipeline_key = identity.key
        source = None
        if script:
            source = _fs.read_text(script)
        self.resolver.register_root(self.launch_dir)
        if info.workdir:
            workdir = info.workdir if _fs.is_url(info.workdir) else os.path.realpath(info.workdir)
            if not _fs.is_url(workdir) and not (workdir + "/").startswith(self.launch_dir + "/"):
                self.resolver.register_root(workdir)
            self.resolver.add_work_root(workdir)
        else:
            self.resolver.add_work_root(os.path.join(self.launch_dir, "work"))
        self.session_run = start_run(
            identity.key,
            type="pipeline",
            source_code=source,
            description="Nextflow pipeline",
            params=self._params() or None,
            parent=self.parent,
            reference=info.session_id,
            name=info.run_name,
            started_at=info.started_at or utcnow(),
            capture_environment=False,
            engine=ENGINE,
            engine_version=info.version,
            project=self.project or (None if self.parent is not None else env_project()),
            instance=self.instance,
        )
        if identity.reference:
            _set_transform_reference(self.instance, self.session_run, identity.reference)

    # -- processing -------------------------------------------------------------------------------
    def step(self, *, final: bool = False) -> None:
        """Register whatever became known: the session, started and finished tasks, published files."""
        if self.session_run is None:
            if not (self.info.session_id or final):
                return
            self._start_session()
        for task in [t for t in self._open.values() if not t.done]:
            if self._finished(task, final):
                if self._lineage_pending(task, final):
                    continue
                try:
                    self._complete(task)
                except Exception:  # one unreadable task must not stop the others or the pipeline
                    logger.exception("nextflow: could not register task %s (%s)", task.short, task.name)
                    task.done = True
            elif task.run is None and task.submitted_at is not None and not task.cached:
                self._start_task(task, task.submitted_at)
        self._open = {short: task for short, task in self._open.items() if not task.done}
        self._process_publishes(final)

    def _finished(self, task: Task, final: bool) -> bool:
        if task.trace is not None and task.trace.status in STATUS:
            return True
        if task.completion is not None and (final or not self.expect_trace):
            return True  # with a trace, its row (written right after) has the metrics
        # A cached task is reported by a trace row; without a trace (importing a plain
        # `nextflow run -resume`), the log's "Cached process" line is all there is.
        return task.cached and (final or not self.expect_trace)

    def _lineage_pending(self, task: Task, final: bool) -> bool:
        """Wait a few polls for a completed task's lineage records (written right after the trace row)."""
        if self.store is None or final or task.waits >= LINEAGE_WAIT_POLLS or task.cached:
            return False
        status = task.trace.status if task.trace is not None else None
        if status != "COMPLETED":
            return False
        full = self._full_hash(task)
        if full is None or self.store.task_output(full) is not None:
            return False
        task.waits += 1
        return True

    def _workdir(self, task: Task) -> str | None:
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
        root = self.info.workdir or os.path.join(self.launch_dir, "work")
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

    def _full_hash(self, task: Task) -> str | None:
        if task.full_hash is None:
            workdir = self._workdir(task)
            task.full_hash = WorkDir(workdir).full_hash if workdir else None
            if task.full_hash:
                self.by_hash[task.full_hash] = task
        return task.full_hash

    def _process_transform(self, process: str) -> tuple[str, str | None]:
        if process not in self._process_keys:
            if self._sources is None:
                scripts = list(self.info.scripts)
                main = self._main_script()
                if main and main not in scripts:
                    scripts.insert(0, main)
                self._sources = ProcessSources(scripts)
            self._process_keys[process] = (f"{self.pipeline_key}:{process}", self._sources.source(process))
        return self._process_keys[process]

    def _process_name(self, task: Task) -> str:
        if task.trace is not None and task.trace.process:
            return task.trace.process
        if task.process:
            return task.process
        return (task.name or "unknown").split(" (", 1)[0]

    def _start_task(self, task: Task, started_at: dt.datetime | None, status: str = "started") -> Run:
        from flowtrail.core.tracking import start_run

        key, source = self._process_transform(self._process_name(task))
        task.run = start_run(
            key,
            type="process",
            source_code=source,
            parent=self.session_run,
            name=task.name,
            status=status,
            started_at=started_at or utcnow(),
            capture_environment=False,
            engine=ENGINE,
            engine_version=self.info.version,
            instance=self.instance,
        )
        return task.run

    def _lid_location(self, key: str) -> str | None:
        assert self.store is not None
        path = self.store.file_path(key)
        if path:
            return path
        task_hash, _, rel = key.partition("/")
        task = self.by_hash.get(task_hash)
        if task is not None and task.workdir and rel:
            return _fs.join(task.workdir, rel)
        root = self.info.workdir or os.path.join(self.launch_dir, "work")
        return _fs.join(root, task_hash[:2], task_hash[2:], rel) if rel else None

    def _inputs(self, workdir: WorkDir | None, full_hash: str | None) -> tuple[list[str], dict[str, Any]]:
        if self.store is not None and full_hash:
            found = self.store.task_inputs(full_hash)
            if found is not None:
                paths, values = found
                locations = [p.path or self._lid_location(p.lid) for p in paths if p.path or p.lid]
                return [loc for loc in locations if loc], values
        if workdir is not None:
            return [staged.source for staged in workdir.staged], {}
        return [], {}

    def _outputs(self, workdir: WorkDir | None, full_hash: str | None) -> list[str]:
        if self.store is not None and full_hash:
            found = self.store.task_outputs(full_hash)
            if found is not None:
                locations = [p.path or self._lid_location(p.lid) for p in found if p.path or p.lid]
                return [loc for loc in locations if loc]
        return workdir.declared_outputs() if workdir is not None else []

    def _original_run(self, full_hash: str, exclude: Run | None) -> Run | None:
        """The run that first executed a task hash (what a cached task reuses)."""
        if full_hash not in self._original_runs:
            from sqlalchemy import select

            from flowtrail.core.run import Run

            session = self.instance.sessions.current()
            try:
                query = (
                    select(Run)
                    .where(Run.reference.startswith(f"{full_hash} "), Run.status == "completed", Run.engine == ENGINE)
                    .order_by(Run.id)
                    .limit(1)
                )
                self._original_runs[full_hash] = session.scalar(query)
            finally:
                self.instance.sessions.end_read()
        found = self._original_runs[full_hash]
        return found if found is not None and (exclude is None or found.id != exclude.id) else None

    def _complete(self, task: Task) -> None:
        from flowtrail.core.params import jsonable
        from flowtrail.core.run import link_inputs
        from flowtrail.core.tracking import finish_run

        record = task.trace
        completion = task.completion or {}
        nf_status = (record.status if record is not None else None) or completion.get("status")
        exit_code = record.get("exit") if record is not None else completion.get("exit")
        if nf_status is None and task.cached:
            nf_status = "CACHED"
        location = self._workdir(task)
        workdir = WorkDir(location) if location else None
        full_hash = self._full_hash(task)
        if exit_code is None and workdir is not None and nf_status in ("COMPLETED", "FAILED"):
            exit_code = workdir.exit_code()
        if nf_status == "COMPLETED" and exit_code not in (None, 0):
            nf_status = "FAILED"  # the log's TaskHandler says COMPLETED for a non-zero exit
        status = STATUS.get(nf_status or "", "aborted")
        if status == "failed" and exit_code in STOPPED_EXIT_CODES:
            status = "aborted"  # stopped from outside (Ctrl-C, SIGTERM), not a failure of the task itself
        now = utcnow()
        if record is not None:
            started = record.get("start") or record.get("submit")
            finished = record.get("complete")
        else:
            started, finished = task.submitted_at, completion.get("time")
        if status == "cached":
            started = finished = task.seen_at or now
        started = started or task.submitted_at or task.seen_at or now
        finished = finished or now
        run = task.run or self._start_task(task, started)

        input_locations, values = self._inputs(workdir, full_hash)
        inputs = self.resolver.resolve(input_locations) if input_locations else {}
        producer: Run = run
        metrics: dict[str, Any] = record.metrics() if record is not None else {}
        if exit_code is not None:
            metrics["exit_code"] = exit_code
        metrics.setdefault("nextflow_status", nf_status)
        if status == "cached":
            metrics["cached"] = True
            original = self._original_run(full_hash, run) if full_hash else None
            if original is not None:
                metrics["cached_from_run"] = original.uid
                producer = original
        if status in ("completed", "cached"):
            outputs = self._outputs(workdir, full_hash)
            if outputs:  # a task that just ran made new files: no registered record to reuse
                self.resolver.resolve(outputs, run=producer, reuse_work_files=status == "cached")
        link_inputs(self.instance, run, list(inputs.values()))

        error = None
        if status == "failed":
            tail = workdir.stderr_tail() if workdir is not None else ""
            error = f"exit code {exit_code}" if exit_code is not None else f"Nextflow status {nf_status}"
            if tail:
                error += f"; tail of .command.err:\n{tail}"
        # Without a trace, "NAME (x)" may hold a tag or just the task's index: the best guess.
        tag = record.get("tag") if record is not None and "tag" in record.values else _tag_of(task.name)
        params: dict[str, Any] = {}
        if tag is not None:
            params["tag"] = tag
        if values:
            params["inputs"] = values
        # Set before finish_run: its one transaction writes these together with the status.
        run.name = task.name or run.name
        run.reference = f"{full_hash} {location}" if full_hash and location else (location or run.reference)
        run.params = jsonable(params) if params else run.params
        run.started_at = started
        finish_run(run, status, error=error, metrics=metrics, finished_at=finished, instance=self.instance)
        task.done = True
        self.counts[status] = self.counts.get(status, 0) + 1

    # -- published files ------------------------------------------------------------------------
    def _published_from_store(self) -> None:
        record = self._workflow_run_record()
        if self.store is None or record is None:
            return
        known = {item["dst"] for item in self._publishes} | self._published
        for path, source in self.store.published(record["_key"]):
            if path in known or source is None:
                continue
            src = self._lid_location(source) if "/" in source else None
            if src:
                self._publishes.append({"src": src, "dst": path, "mode": "LINEAGE"})

    def _process_publishes(self, final: bool) -> None:
        if final:
            self._published_from_store()
        remaining = []
        for item in self._publishes:
            src, dst, mode = item["src"], item["dst"], item["mode"]
            if dst in self._published:
                continue
            full = task_hash_of(src)
            task = self.by_hash.get(full) if full else None
            if task is not None and not task.done and not final:
                remaining.append(item)
                continue
            if task is None and not final and full is not None:
                remaining.append(item)  # the task's trace row has not arrived yet
                continue
            self._published.add(dst)
            try:
                self._register_published(src, dst, mode, task, full)
            except Exception:
                logger.exception("nextflow: could not register the published file %s", dst)
        self._publishes = remaining

    def _register_published(self, src: str, dst: str, mode: str, task: Task | None, full: str | None) -> None:
        if not _fs.is_url(dst) and os.path.realpath(dst) == os.path.realpath(src):
            return  # a symlink into the work dir: the same file, already the task's output
        producer = None
        if task is not None and task.run is not None:
            producer = task.run
            if task.cached and full:
                producer = self._original_run(full, task.run) or task.run
        elif full:
            producer = self._original_run(full, None)
        for root in self.info.publish_roots:
            if (dst + "/").startswith(root.rstrip("/") + "/") and not _fs.is_url(root):
                if self.resolver.storage_for(os.path.realpath(dst)) is None:
                    self.resolver.register_root(root)
                break
        source = self.resolver.cached(src)
        name = source.key if source is not None and source.key else src
        how = f" ({mode.lower()})" if mode and mode != "LINEAGE" else ""
        description = f"Published by Nextflow{how} from {name}"
        self.resolver.resolve([dst], run=producer, description=description, reuse_work_files=False)

    # -- the end ----------------------------------------------------------------------------------
    def close(
        self,
        return_code: int | None,
        *,
        error: str | None = None,
        aborted: bool = False,
        finished_at: dt.datetime | None = None,
    ) -> Run:
        """Register what is left, end unfinished tasks as aborted, and finish the session run."""
        from flowtrail.core.params import jsonable
        from flowtrail.core.tracking import finish_run

        self.step(final=True)
        assert self.session_run is not None
        now = utcnow()
        for task in self.tasks.values():
            if not task.done and task.run is not None:
                finish_run(task.run, "aborted", error="the pipeline ended before this task finished",
                           finished_at=now, instance=self.instance)  # fmt: skip
                task.done = True
                self.counts["aborted"] = self.counts.get("aborted", 0) + 1
        if aborted:
            status = "aborted"
        elif return_code == 0:
            status = "completed"
        else:
            status = "failed"
        if status != "completed" and error is None:
            error = first_error([Event("error", None, {"message": m}) for m in self.info.errors])
            if error is None and return_code not in (None, 0):
                error = f"nextflow exited with status {return_code}"
        run = self.session_run
        record = self._workflow_run_record()
        if record is not None:  # every param with its final value, defaults included
            run.params = jsonable(params_of(record)) or run.params
        metrics: dict[str, Any] = {"tasks": dict(sorted(self.counts.items()))}
        if return_code is not None:
            metrics["exit_code"] = return_code
        if self.info.session_id:
            metrics["session_id"] = self.info.session_id
        if self.info.command:
            metrics["command"] = self.info.command
        if self.info.launch.get("revision"):
            metrics["revision"] = self.info.launch["revision"]
        metrics["launch_dir"] = self.launch_dir
        if self.info.workdir:
            metrics["work_dir"] = self.info.workdir
        if self.store is not None:
            metrics["lineage_store"] = self.store.location
        return finish_run(
            run, status, error=error, metrics=metrics, finished_at=finished_at or now, instance=self.instance
        )


def _tag_of(name: str | None) -> str | None:
    if name and name.endswith(")") and " (" in name:
        return name.split(" (", 1)[1][:-1]
    return None


def _set_transform_reference(instance: Instance, run: Run, reference: str) -> None:
    """Record where the pipeline came from on its Transform (``start_run`` cannot pass it yet)."""
    from flowtrail.core.database import write_transaction

    transform = run.transform
    if transform is None or transform.reference:
        return
    with write_transaction(instance.sessions) as session:
        session.add(transform)
        transform.reference = reference
