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

The parts, one module each, combined into :class:`Recorder`: :mod:`.session_state` (what the run
reported), :mod:`.session_run` (the pipeline run), :mod:`.task_runs` (task runs, their inputs and
outputs), :mod:`.cached_tasks` (cached tasks to their original runs) and :mod:`.published_files`
(published copies). This module drives them: :meth:`Recorder.step` at every poll and
:meth:`Recorder.close` at the end.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import TYPE_CHECKING, Any

from .lineage_store import params_of
from .log import Event, first_error
from .published_files import PublishedFileRecorder
from .session_state import ENGINE, SessionInfo, Task, utcnow
from .task_runs import LINEAGE_WAIT_POLLS, STATUS, STOPPED_EXIT_CODES

if TYPE_CHECKING:
    from flowtrail.core.run import Run

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

logger = logging.getLogger("flowtrail")


class Recorder(PublishedFileRecorder):
    """Registers one Nextflow session (a ``nextflow run``) and its tasks."""

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
