"""Registering each task as a run of its process, with its inputs and outputs.

Per task: a ``process`` Transform per process (the process definition) and a Run with parent =
the session run, name = ``PROC (tag)``, reference = ``<full task hash> <work dir>``, params
``{"tag", "inputs": {val inputs}}`` (val inputs need lineage), metrics from the trace (see
:data:`.trace.METRIC_NAMES`), status completed / failed (error = exit code and the tail of
``.command.err``) / aborted / cached. Inputs are staged files resolved to their sources; outputs
are files matching the declared output patterns, or with lineage enabled exactly what the lineage
store recorded. A task is started when it is submitted and finished once its trace row (or, without
a trace, its log line) says it ended.

The tasks a poll finishes are registered together, through the adapter door: first each one's
report and work dir are read (:class:`Ending`, no registry access); the ones never started are
started in one transaction; their files are resolved (one save for every new file of the poll);
then all of them are finished with their inputs in one transaction. The tasks a poll saw
submitted are started together too.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from flowtrail.core import adapter
from flowtrail.integrations.nextflow.artifacts import Wanted
from flowtrail.integrations.nextflow.pipeline import ProcessSources
from flowtrail.integrations.nextflow.session_state import ENGINE, Task, utcnow
from flowtrail.integrations.nextflow.task_context import task_run_uid
from flowtrail.integrations.nextflow.workdir import WorkDir

if TYPE_CHECKING:
    from flowtrail.core.models import Run
    from flowtrail.integrations.nextflow.artifacts import ArtifactResolver
    from flowtrail.integrations.nextflow.cached_tasks import CachedTasks
    from flowtrail.integrations.nextflow.session_run import SessionRun
    from flowtrail.integrations.nextflow.session_state import SessionState

T = TypeVar("T")
STATUS = {"COMPLETED": "completed", "CACHED": "cached", "FAILED": "failed", "ABORTED": "aborted"}
STOPPED_EXIT_CODES = (130, 143)  # 128 + SIGINT, 128 + SIGTERM
LINEAGE_WAIT_POLLS = 6  # polls to wait for a task's lineage record before reading its work dir


@dataclass
class Ending:
    """How a finished task ends, read from its trace row or log line and its work dir."""

    task: Task
    status: str
    nf_status: str | None
    exit_code: int | None
    started: dt.datetime
    finished: dt.datetime
    location: str | None
    full_hash: str | None
    inputs: list[str]  # canonical locations (see ArtifactResolver.canonical)
    outputs: list[str]  # for completed and cached tasks only
    params: dict[str, Any]
    metrics: dict[str, Any]
    error: str | None = None
    producer: Run | None = field(default=None)  # who made the outputs (a cached task: the original run)


class TaskRuns:
    """Starts and finishes task runs, with their inputs and outputs."""

    def __init__(
        self,
        state: SessionState,
        session: SessionRun,
        resolver: ArtifactResolver,
        cached: CachedTasks,
        instance: adapter.Instance,
        recording: adapter.Recording,
        *,
        expect_trace: bool,
        live: bool = False,
    ) -> None:
        self.state = state
        self.recording = recording
        self.session = session
        self.resolver = resolver
        self.cached = cached
        self.instance = instance
        self.expect_trace = expect_trace
        self.live = live  # executed tasks' runs take the uid their processes were given (see task_context)
        self.counts: dict[str, int] = {}
        self._sources: ProcessSources | None = None
        self._process_keys: dict[str, tuple[str, str | None]] = {}

    # -- when -------------------------------------------------------------------------------------
    def finished(self, task: Task, final: bool) -> bool:
        """Whether the task's end is known (with a trace, from its row: it has the metrics)."""
        if task.trace is not None and task.trace.status in STATUS:
            return True
        if task.completion is not None and (final or not self.expect_trace):
            return True  # with a trace, its row (written right after) has the metrics
        # A cached task is reported by a trace row; without a trace (importing a plain
        # `nextflow run -resume`), the log's "Cached process" line is all there is.
        return task.cached and (final or not self.expect_trace)

    def lineage_pending(self, task: Task, final: bool) -> bool:
        """Wait a few polls for a completed task's lineage records (written right after the trace row)."""
        store = self.state.store
        if store is None or final or task.waits >= LINEAGE_WAIT_POLLS or task.cached:
            return False
        status = task.trace.status if task.trace is not None else None
        if status != "COMPLETED":
            return False
        full = self.state.full_hash(task)
        if full is None or store.task_output(full) is not None:
            return False
        task.waits += 1
        return True

    # -- starting ---------------------------------------------------------------------------------
    def _process_name(self, task: Task) -> str:
        if task.trace is not None and task.trace.process:
            return task.trace.process
        if task.process:
            return task.process
        return (task.name or "unknown").split(" (", 1)[0]

    def _process_transform(self, process: str) -> tuple[str, str | None]:
        if process not in self._process_keys:
            if self._sources is None:
                scripts = list(self.state.info.scripts)
                main = self.session.main_script()
                if main and main not in scripts:
                    scripts.insert(0, main)
                self._sources = ProcessSources(scripts)
            self._process_keys[process] = (f"{self.session.pipeline_key}:{process}", self._sources.source(process))
        return self._process_keys[process]

    def start(self, tasks: list[tuple[Task, dt.datetime | None]]) -> None:
        """Start a run for each ``(task, started at)``, in one transaction."""

        def start(batch: Sequence[tuple[Task, dt.datetime | None]]) -> None:
            runs = adapter.start_runs(self.instance, [self._run_start(task, started_at) for task, started_at in batch])
            for (task, _), run in zip(batch, runs, strict=True):
                task.run = run

        self._in_batches(start, tasks, lambda item: item[0], "start")

    def _run_start(self, task: Task, started_at: dt.datetime | None) -> adapter.RunStart:
        key, source = self._process_transform(self._process_name(task))
        uid = None
        if self.live and not task.cached:
            full_hash = self.state.full_hash(task)
            uid = task_run_uid(full_hash) if full_hash else None  # what its processes were told
        return adapter.RunStart(
            key, type="process", source_code=source, parent=self.session.run, name=task.name, uid=uid,
            started_at=started_at or utcnow(), engine=ENGINE, engine_version=self.state.info.version,
        )  # fmt: skip

    def _in_batches(
        self, write: Callable[[Sequence[T]], None], items: Sequence[T], task_of: Callable[[T], Task], what: str
    ) -> None:
        """``write(items)`` in one go; if that fails for a reason other than the registry, one by one.

        A registry failure is raised (the recorder stops); a task that cannot be recorded is
        reported once per kind of problem and marked done, so it is not tried at every poll.
        """
        if not items:
            return
        try:
            write(items)
            return
        except Exception as exc:
            if adapter.is_registry_error(exc) or len(items) == 1:
                self._failed(exc, task_of(items[0]), what)
                return
        for item in items:  # find the task that breaks; record the others
            try:
                write([item])
            except Exception as exc:
                self._failed(exc, task_of(item), what)

    def _failed(self, exc: Exception, task: Task, what: str) -> None:
        if adapter.is_registry_error(exc):
            raise exc
        task.done = True
        self.recording.once(
            f"task-{what}", f"nextflow: could not {what} the run of task {task.short} ({task.name}): {exc!r}"
        )

    # -- finishing --------------------------------------------------------------------------------
    def record(self, starting: list[tuple[Task, dt.datetime | None]], finishing: list[Task]) -> None:
        """Start the submitted tasks and register the finished ones: one transaction for all the runs
        to start (finished tasks never seen running included), one save for their new files, one
        transaction to finish them with their inputs."""
        endings = []
        for task in finishing:
            try:
                endings.append(self._ending(task))
            except Exception as exc:  # one unreadable task must not stop the others or the pipeline
                self._failed(exc, task, "read")
        self.start(starting + [(e.task, e.started) for e in endings if e.task.run is None])
        ready = [e for e in endings if e.task.run is not None and not e.task.done]
        self._in_batches(self._register, ready, lambda ending: ending.task, "register")

    def _register(self, endings: Sequence[Ending]) -> None:
        # Files another task of this batch made are resolved as its outputs first (with their
        # producer); every other input before any output (a task passing an input through does
        # not become its producer).
        made_by: dict[str, int] = {}
        for index, ending in enumerate(endings):
            for location in ending.outputs:
                made_by.setdefault(location, index)
        self.resolver.resolve_many(
            Wanted(location, canonical=True)
            for i, e in enumerate(endings) for location in e.inputs if made_by.get(location, i) == i
        )  # fmt: skip
        for ending in endings:
            run = ending.task.run
            assert run is not None
            ending.producer = run
            if ending.status == "cached":
                original = self.cached.original_run(ending.full_hash, run) if ending.full_hash else None
                if original is not None:
                    ending.metrics["cached_from_run"] = original.uid
                    ending.producer = original
        # A task that just ran made new files: no registered record to reuse.
        self.resolver.resolve_many(
            Wanted(location, e.producer, reuse_work_files=e.status == "cached", canonical=True)
            for e in endings for location in e.outputs
        )  # fmt: skip
        inputs = self.resolver.resolve_many(Wanted(location, canonical=True) for e in endings for location in e.inputs)
        ends = []
        for ending in endings:
            task, run = ending.task, ending.task.run
            assert run is not None
            location, full_hash = ending.location, ending.full_hash
            ends.append(
                adapter.RunEnd(
                    run, ending.status, error=ending.error, metrics=ending.metrics, finished_at=ending.finished,
                    started_at=ending.started, params=ending.params or None, name=task.name,
                    reference=f"{full_hash} {location}" if full_hash and location else location,
                    inputs=[inputs[location] for location in ending.inputs if location in inputs],
                )
            )  # fmt: skip
        adapter.finish_runs(self.instance, ends)
        for ending in endings:
            ending.task.done = True
            self.counts[ending.status] = self.counts.get(ending.status, 0) + 1

    def _ending(self, task: Task) -> Ending:
        record = task.trace
        completion = task.completion or {}
        nf_status = (record.status if record is not None else None) or completion.get("status")
        exit_code = record.get("exit") if record is not None else completion.get("exit")
        if nf_status is None and task.cached:
            nf_status = "CACHED"
        location = self.state.workdir(task)
        workdir = WorkDir(location) if location else None
        full_hash = self.state.full_hash(task)
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
        input_locations, values = self._inputs(workdir, full_hash)
        outputs = self._outputs(workdir, full_hash) if status in ("completed", "cached") else []
        canonical = self.resolver.canonical
        metrics: dict[str, Any] = record.metrics() if record is not None else {}
        if exit_code is not None:
            metrics["exit_code"] = exit_code
        metrics.setdefault("nextflow_status", nf_status)
        if status == "cached":
            metrics["cached"] = True
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
        return Ending(
            task, status, nf_status, exit_code,
            started=started or task.submitted_at or task.seen_at or now, finished=finished or now,
            location=location, full_hash=full_hash, inputs=[canonical(loc) for loc in input_locations],
            outputs=[canonical(loc) for loc in outputs],
            params=params, metrics=metrics, error=error,
        )  # fmt: skip

    def _inputs(self, workdir: WorkDir | None, full_hash: str | None) -> tuple[list[str], dict[str, Any]]:
        store = self.state.store
        if store is not None and full_hash:
            found = store.task_inputs(full_hash)
            if found is not None:
                paths, values = found
                locations = [p.path or self.state.lid_location(p.lid) for p in paths if p.path or p.lid]
                return [loc for loc in locations if loc], values
        if workdir is not None:
            return [staged.source for staged in workdir.staged], {}
        return [], {}

    def _outputs(self, workdir: WorkDir | None, full_hash: str | None) -> list[str]:
        store = self.state.store
        if store is not None and full_hash:
            found = store.task_outputs(full_hash)
            if found is not None:
                locations = [p.path or self.state.lid_location(p.lid) for p in found if p.path or p.lid]
                return [loc for loc in locations if loc]
        return workdir.declared_outputs() if workdir is not None else []

    # -- the end ----------------------------------------------------------------------------------
    def abort_unfinished(self, now: dt.datetime) -> None:
        """End the started tasks the pipeline never finished as aborted."""
        open_tasks = [task for task in self.state.tasks.values() if not task.done and task.run is not None]
        if not open_tasks:
            return
        error = "the pipeline ended before this task finished"
        adapter.finish_runs(self.instance, [adapter.RunEnd(t.run, "aborted", error=error, finished_at=now) for t in open_tasks])
        for task in open_tasks:
            task.done = True
        self.counts["aborted"] = self.counts.get("aborted", 0) + len(open_tasks)


def _tag_of(name: str | None) -> str | None:
    if name and name.endswith(")") and " (" in name:
        return name.split(" (", 1)[1][:-1]
    return None
