"""Turning Snakemake's log events into registry writes, one event at a time, in event order.

A :class:`Recorder` runs in the recorder process (:mod:`.worker`, fed by :mod:`.channel`), away
from Snakemake's scheduler. Events are handled in the order Snakemake logged them, so an output
registered at ``job_finished`` is already known when the next job lists it as input: the graph
gets real edges, one artifact per file, produced by one run and read by others.

What it records:

- At the first job: connects to the instance, registers the workflow's working directory as a
  storage location (files in it are registered in place, keyed by their relative path; files
  elsewhere get their own folder registered, so nothing is ever copied) and starts the workflow
  run (transform type ``pipeline``, run uid = Snakemake's workflow id).
- ``job_info``: registers the job's inputs (reusing artifacts seen earlier in this invocation
  while their size and mtime are unchanged; a file inside a ``directory()`` output counts as that
  folder artifact), starts the job's run (transform ``<workflow>/<rule>``, type ``rule``, parent =
  the workflow run), links the inputs, and only then lets the run's OpenLineage START go out.
- ``job_finished``: registers outputs, ``log:`` files (kind ``log``) and the ``benchmark:`` file
  (kind ``benchmark``) with the job's run, adds params from Snakemake's metadata record, reads
  the benchmark numbers into metrics, and completes the run.
- ``job_error``: registers the log files and fails the run with Snakemake's error message (or
  aborts it when the user interrupted Snakemake).
- the end: runs still open are completed when Snakemake's metadata says they finished (with
  ``--quiet progress`` Snakemake logs no ``job_finished``), else aborted; the workflow run ends
  completed, failed or aborted.

A registry that cannot be reached (or stays locked past the database's busy timeout) disables
recording with one warning; the workflow itself is never affected. A file that vanished (a temp
output) or cannot be read is skipped.

This module holds the recorder's entry points, the workflow run's lifecycle (connecting, starting
and ending it) and the dispatch of events; the parts live in their own modules:

- :mod:`.jobs`: a job's run from ``job_info`` to its end (:class:`~.jobs.JobRuns`, a base class);
- :mod:`.artifacts`: registering the jobs' files as artifacts in place, and storage locations;
- :mod:`.openlineage_relay`: holding a job's OpenLineage START until its inputs are linked;
- :mod:`.options`: the plugin's settings; :mod:`.reporting`: warnings and registry errors.

Other modules import :class:`Options`, :class:`Recorder` and the logging helpers from here.
"""

import logging
import os
import time
from pathlib import Path
from typing import Any

from . import events as ev
from . import journaling, sources
from . import workflow as wf
from .artifacts import ArtifactCollector, Known
from .jobs import ENGINE, METADATA_SLACK_S, Job, JobCounts, JobRuns, utc
from .openlineage_relay import OpenLineageRelay
from .options import Options
from .reporting import _ensure_log_handler, _registry_error, quiet_logging
from .streams import StreamNodes

__all__ = [
    "ENGINE",
    "METADATA_SLACK_S",
    "Job",
    "Known",
    "Options",
    "Recorder",
    "_ensure_log_handler",
    "_registry_error",
    "quiet_logging",
    "utc",
]

logger = logging.getLogger("flowtrail.snakemake")


class Recorder(JobRuns):
    """Records one Snakemake invocation in the registry, one event at a time, in event order.

    Not thread-safe: one worker (the recorder process's main thread, or the fallback thread in
    Snakemake's process, see :mod:`.channel`) calls :meth:`handle` and finally :meth:`finish`.
    Neither ever raises.
    """

    def __init__(self, options: Options, instance: Any = None, journal: bool = True) -> None:
        self.options = options
        self._given_instance = instance  # replaying a journal: record into this one
        self._keep_events = journal
        self._events: list[ev.Event] = []  # the invocation so far, for the journal (see journaling.py)
        self._journal: Any = None
        self._info: dict[str, Any] = {}
        self._info_time: float | None = None
        self._instance: Any = None
        self._disabled = False
        self._finished = False
        self._workflow_run: Any = None
        self._workflow_key = "Snakefile"
        self._engine_version: str | None = None
        self._source: sources.WorkflowSource | None = None
        self._rule_code: dict[str, str | None] = {}
        self._jobs: dict[int, Job] = {}
        self._producers: dict[str, int] = {}  # output location -> open job that makes it
        self._artifacts = ArtifactCollector(options.hash_mode)
        self._streams = StreamNodes()
        self._cwds: set[str] = set()  # working directories registered as storage locations
        self._pending_errors: list[str] = []  # error messages not yet matched to a job_error
        self._last_error: str | None = None
        self._errors = 0
        self._interrupted = False
        self._lost = False
        self._counts = JobCounts()
        self._reported: set[str] = set()
        self._openlineage = OpenLineageRelay()

    def handle(self, event: ev.Event) -> None:
        """Record one event (no-op once recording is disabled or finished; journaled after an outage)."""
        if self._finished:
            return
        if self._journal is not None:
            self._journal.append(journaling.event_entry(event))
        elif self._keep_events and not self._disabled:
            self._events.append(event)
        if self._disabled:
            return
        self._guard(self._handle, event)

    def handle_many(self, events: list[ev.Event]) -> None:
        """Record a batch of events that arrived together (the recorder fell behind)."""
        if self._finished:
            return
        if self._disabled:
            for event in events:
                self.handle(event)  # journaled
            return
        if len(events) > 1:
            self._guard(self._presave, events)
        for event in events:
            self.handle(event)

    def finish(self, lost: bool = False) -> None:
        """End the open runs and the workflow run; ``lost``: Snakemake went away without closing."""
        if self._finished:
            return
        self._finished = True
        if lost:
            self._interrupted = True
            self._lost = True
        self._guard(self._finish)
        if self._journal is not None:
            self._journal.append({"op": "finish", "lost": lost})
            self._journal.close()

    def close(self) -> None:
        """Disconnect from the instance (this also closes the OpenLineage client, flushing it)."""
        if self._instance is None or self._given_instance is not None:
            return
        try:
            from flowtrail.core.instance import disconnect

            disconnect()
        except Exception:  # nothing left to lose at this point
            logger.debug("disconnecting failed", exc_info=True)
        self._instance = None

    @property
    def disabled(self) -> bool:
        return self._disabled

    def _guard(self, function: Any, *args: Any) -> None:
        try:
            function(*args)
        except Exception as exc:
            if _registry_error(exc):
                self._disable(exc)
            else:
                self._report_once(type(exc).__name__, f"could not record a Snakemake event: {exc!r}")
                logger.debug("recording failed", exc_info=True)

    def _disable(self, exc: BaseException) -> None:
        if self._disabled:
            return
        self._disabled = True
        _ensure_log_handler()
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        if self._keep_events and journaling.is_outage(exc):
            self._journal = journaling.open_journal(self.options, self._info, next(iter(self._cwds), None))
        if self._journal is not None:
            for event in self._events:
                self._journal.append(journaling.event_entry(event))
            self._events = []
            logger.warning(
                "the registry is not usable (%s: %s). The workflow continues; it is journaled in %s and "
                "recorded by `flowtrail sync` (or at the next successful connection).",
                type(exc).__name__, text, self._journal.path,
            )  # fmt: skip
        else:
            logger.warning(
                "the registry is not usable (%s: %s). The workflow continues, but it is not "
                "recorded from here on.",
                type(exc).__name__, text,
            )  # fmt: skip
        self._openlineage.unhook()

    def _report_once(self, kind: str, message: str) -> None:
        if kind in self._reported:
            return
        self._reported.add(kind)
        _ensure_log_handler()
        logger.warning("%s (further such errors are not shown)", message)

    def _handle(self, event: ev.Event) -> None:
        kind = event.kind
        if kind == ev.JOB_INFO:
            self._job_started(event)
        elif kind == ev.JOB_FINISHED:
            self._job_finished(event)
        elif kind == ev.JOB_ERROR:
            self._job_failed(event.data, event.time)
        elif kind == ev.GROUP_ERROR:
            for info in event.data.get("job_error_info") or []:
                if isinstance(info, dict):
                    self._job_failed(info, event.time)
        elif kind == ev.ERROR:
            self._errors += 1
            message = event.message or str(event.data.get("exception") or "error")
            self._last_error = message
            if event.data.get("exception") != "WorkflowError":
                self._pending_errors = [*self._pending_errors[-20:], message]
            self._output_check_failed(message, event.time)
        elif kind == ev.INTERRUPT:
            self._interrupted = True
        elif kind == ev.WORKFLOW_STARTED:
            if wf.touches_only(event.data.get("cmd")):
                self._finished = True  # --touch: nothing runs, so nothing is recorded
                return
            self._info = event.data
            self._info_time = event.time
            self._engine_version = event.data.get("snakemake_version")

    # -- connecting and the workflow run ------------------------------------------------------
    def _ready(self, cwd: str) -> bool:
        """Connect and start the workflow run on first use; False when recording is off."""
        if self._workflow_run is not None:
            return True
        if self._disabled:
            return False
        try:
            self._connect(cwd)
            self._start_workflow(cwd)
        except Exception as exc:  # without a workflow run there is nothing to attach jobs to
            self._disable(exc)
            return False
        return True

    def _connect(self, cwd: str) -> None:
        from flowtrail.core import config as cfg
        from flowtrail.core.instance import connect

        if self._given_instance is not None:
            instance = self._given_instance
        elif self.options.instance:
            instance = connect(os.path.expanduser(self.options.instance))
        elif os.environ.get(cfg.ENV_INSTANCE):
            instance = connect()
        else:
            folders = [cwd, self._info.get("cwd"), self._info.get("basedir")]
            root = next((r for f in folders if f and (r := cfg.find_root(Path(f))) is not None), None)
            instance = connect(root)  # None: FLOWTRAIL_DB_URL, or a clear NoInstanceError
        self._instance = instance
        self._artifacts.instance = instance
        self._streams.instance = instance
        if instance.emitter is not None:
            if self.options.openlineage:
                self._openlineage.hook(instance.emitter)
            else:
                from flowtrail.core.openlineage.emitter import detach

                detach(instance.emitter)
                instance.emitter = None

    def _start_workflow(self, cwd: str) -> None:
        from flowtrail.core.projects import env_project
        from flowtrail.core.tracking import start_run

        instance = self._instance
        main = self._info.get("snakefile_main")
        self._source = sources.read_workflow(main) if main else None
        self._workflow_key = wf.workflow_key(main, self._info.get("basedir"), instance.config.root)
        self._artifacts.load_roots()
        self._artifacts.register_location(cwd)
        self._cwds.add(cwd)
        workflow_id = self._info.get("workflow_id")
        self._workflow_run = start_run(
            self._workflow_key,
            type="pipeline",
            source_code=self._source.code if self._source else None,
            params=wf.workflow_params(self._info, cwd),
            uid=str(workflow_id) if workflow_id else None,
            started_at=utc(self._info_time) if self._info_time else None,
            engine=ENGINE,
            engine_version=self._engine_version,
            project=self.options.project or env_project(),
            instance=instance,
        )

    # -- the end ------------------------------------------------------------------------------
    def _finish(self) -> None:
        try:
            if self._disabled:
                return
            if self._workflow_run is None:
                if not (self._info and self._errors):
                    return  # nothing ran: a --touch, or nothing to be done
                # The workflow failed before any job started (e.g. a missing input): record that.
                if not self._ready(self._info.get("cwd") or os.getcwd()):
                    return
            self._finish_runs()
        finally:
            emitter = self._openlineage.emitter or (self._instance.emitter if self._instance is not None else None)
            self._openlineage.unhook()
            if emitter is not None:
                emitter.flush()

    def _finish_runs(self) -> None:
        from flowtrail.core.tracking import finish_run

        now = time.time()
        if self._lost:
            reason = "Snakemake exited without closing its logger (killed?)"
        elif self._interrupted:
            reason = "interrupted"
        else:
            reason = "Snakemake ended before the job finished"
        succeeded = not (self._interrupted or self._errors or self._counts.failed)
        for job in list(self._jobs.values()):
            record = self._record_of(job)
            if self._finished_in_this_run(job, record) or (succeeded and not self.options.finished_logged):
                self._complete(job, now, record)  # its job_finished was not logged (--quiet progress)
                continue
            self._abort(job, now, reason)
        counts = self._counts
        if self._interrupted:
            status, error = "aborted", reason
        elif counts.failed or self._errors:
            status = "failed"
            error = self._last_error or "failed"
            if counts.failed_jobs:
                error += "\nFailed jobs: " + ", ".join(counts.failed_jobs)
        elif counts.aborted:
            status, error = "aborted", reason
        else:
            status, error = "completed", None
        metrics = {
            "jobs_completed": counts.completed,
            "jobs_failed": counts.failed,
            "jobs_aborted": counts.aborted,
        }
        finish_run(
            self._workflow_run, status, error=error, finished_at=utc(now), metrics=metrics, instance=self._instance
        )
