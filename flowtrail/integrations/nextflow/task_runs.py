"""Registering each task as a run of its process, with its inputs and outputs.

Per task: a ``process`` Transform per process (the process definition) and a Run with parent =
the session run, name = ``PROC (tag)``, reference = ``<full task hash> <work dir>``, params
``{"tag", "inputs": {val inputs}}`` (val inputs need lineage), metrics from the trace (see
:data:`.trace.METRIC_NAMES`), status completed / failed (error = exit code and the tail of
``.command.err``) / aborted / cached. Inputs are staged files resolved to their sources; outputs
are files matching the declared output patterns, or with lineage enabled exactly what the lineage
store recorded. A task is started when it is submitted and finished once its trace row (or, without
a trace, its log line) says it ended.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from typing import TYPE_CHECKING, Any

from . import _fs
from .cached_tasks import CachedTaskLinker
from .pipeline import ProcessSources
from .session_run import SessionRunRecorder
from .session_state import ENGINE, Task, utcnow
from .task_context import task_run_uid
from .workdir import WorkDir

if TYPE_CHECKING:
    from flowtrail.core.run import Run

logger = logging.getLogger("flowtrail")
STATUS = {"COMPLETED": "completed", "CACHED": "cached", "FAILED": "failed", "ABORTED": "aborted"}
STOPPED_EXIT_CODES = (130, 143)  # 128 + SIGINT, 128 + SIGTERM
LINEAGE_WAIT_POLLS = 6  # polls to wait for a task's lineage record before reading its work dir


class TaskRunRecorder(SessionRunRecorder, CachedTaskLinker):
    """Starts and finishes task runs; finds their work dirs, inputs and outputs."""

    # -- processing -------------------------------------------------------------------------------
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
        uid = None
        if getattr(self, "live", False) and status == "started" and not task.cached:
            full_hash = self._full_hash(task)
            uid = task_run_uid(full_hash) if full_hash else None  # what its processes were told
        task.run = start_run(
            key,
            uid=uid,
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


def _tag_of(name: str | None) -> str | None:
    if name and name.endswith(")") and " (" in name:
        return name.split(" (", 1)[1][:-1]
    return None
