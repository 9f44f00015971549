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

:class:`Recorder` is one class holding its parts, one module each, each given the others it uses
when it is made: :class:`.session_state.SessionState` (what the run reported),
:class:`.artifacts.ArtifactResolver` (paths to artifacts), :class:`.session_run.SessionRun` (the
pipeline run), :class:`.cached_tasks.CachedTasks` (cached tasks to their original runs),
:class:`.task_runs.TaskRuns` (task runs, their inputs and outputs) and
:class:`.published_files.PublishedFiles` (published copies). The recorder drives them:
:meth:`Recorder.step` at every poll (all tasks a poll finished are registered together) and
:meth:`Recorder.close` at the end.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from flowtrail.core import adapter
from flowtrail.integrations.nextflow.artifacts import ArtifactResolver
from flowtrail.integrations.nextflow.cached_tasks import CachedTasks
from flowtrail.integrations.nextflow.log import Event
from flowtrail.integrations.nextflow.published_files import PublishedFiles
from flowtrail.integrations.nextflow.session_run import SessionRun
from flowtrail.integrations.nextflow.session_state import ENGINE, SessionInfo, SessionState, Task, utcnow
from flowtrail.integrations.nextflow.task_runs import LINEAGE_WAIT_POLLS, STATUS, STOPPED_EXIT_CODES, TaskRuns
from flowtrail.integrations.nextflow.trace import TraceRecord

if TYPE_CHECKING:
    from flowtrail.core.models import Run

__all__ = [
    "ENGINE",
    "LINEAGE_WAIT_POLLS",
    "STATUS",
    "STOPPED_EXIT_CODES",
    "Recorder",
    "SessionInfo",
    "Task",
    "utcnow",
]

_UNSET: Any = object()


class Recorder:
    """Registers one Nextflow session (a ``nextflow run``) and its tasks."""

    def __init__(
        self,
        launch_dir: str | os.PathLike[str],
        *,
        pipeline: str | None = None,
        cli_args: Iterable[str] = (),
        instance: adapter.Instance | None = None,
        lineage_store: str | None = None,
        hash_mode: str = "full",
        parent: Run | None = _UNSET,
        tasks_from_log: bool = True,
        expect_trace: bool = True,
        project: str | None = None,
        live: bool = False,
        recording: adapter.Recording | None = None,
    ) -> None:
        """``parent``: the session run's parent (default: the caller's tracked run); ``live``: the
        pipeline runs now under ``flowtrail nextflow run``, whose tasks know their run's uid;
        ``recording``: where problems are reported (once per kind)."""
        self.instance = instance or adapter.current()
        self.recording = recording or adapter.Recording("Nextflow")
        launch = os.path.realpath(os.fspath(launch_dir))
        self.state = SessionState(launch, lineage_store=lineage_store, tasks_from_log=tasks_from_log)
        self.resolver = ArtifactResolver(self.instance, hash_mode=hash_mode, on_skip=self._skipped)
        self.session = SessionRun(
            self.state, self.resolver, self.instance, pipeline=pipeline, cli_args=list(cli_args),
            parent=adapter.current_run() if parent is _UNSET else parent, project=project,
        )  # fmt: skip
        self.cached_tasks = CachedTasks(self.instance)
        self.task_runs = TaskRuns(
            self.state, self.session, self.resolver, self.cached_tasks, self.instance, self.recording,
            expect_trace=expect_trace, live=live,
        )  # fmt: skip
        self.published = PublishedFiles(self.state, self.session, self.resolver, self.cached_tasks, self.recording)

    def _skipped(self, location: str, exc: BaseException) -> None:
        self.recording.once("file", f"nextflow: cannot register {location}: {adapter.first_line(exc)}")

    # -- input: what the run reports (see SessionState) -------------------------------------------
    @property
    def info(self) -> SessionInfo:
        return self.state.info

    @property
    def tasks(self) -> dict[str, Task]:
        return self.state.tasks

    def log_events(self, events: Iterable[Event]) -> None:
        self.state.log_events(events)

    def trace_records(self, records: Iterable[TraceRecord]) -> None:
        self.state.trace_records(records)

    def submitted(self, short: str, name: str | None, when: dt.datetime | None, process: str | None = None) -> None:
        self.state.submitted(short, name, when, process)

    def cached(self, short: str, name: str | None, when: dt.datetime | None = None, process: str | None = None) -> None:
        self.state.cached(short, name, when, process)

    # -- processing -------------------------------------------------------------------------------
    def step(self, *, final: bool = False) -> None:
        """Register whatever became known: the session, started and finished tasks, published files."""
        if self.session.run is None:
            if not (self.info.session_id or final):
                return
            self.session.start()
        finishing: list[Task] = []
        starting: list[tuple[Task, dt.datetime | None]] = []
        for task in self.state.open.values():
            if task.done:
                continue
            if self.task_runs.finished(task, final):
                if not self.task_runs.lineage_pending(task, final):
                    finishing.append(task)
            elif task.run is None and task.submitted_at is not None and not task.cached:
                starting.append((task, task.submitted_at))
        if starting or finishing:
            self.task_runs.record(starting, finishing)
        self.state.forget_done()
        self.published.process(final, frozenset(task.short for task in finishing))

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
        self.step(final=True)
        if self.published.pending:  # copies of the tasks finished last: after their COMPLETE events
            emitter = getattr(self.instance, "emitter", None)
            if emitter is not None:
                emitter.flush()
            self.published.process(final=True)
        now = utcnow()
        self.task_runs.abort_unfinished(now)
        return self.session.finish(
            return_code, self.task_runs.counts, error=error, aborted=aborted, finished_at=finished_at or now
        )
