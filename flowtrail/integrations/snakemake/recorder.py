"""Turning Snakemake's log events into registry writes, in event order, many jobs per transaction.

A :class:`Recorder` runs in the recorder process (:mod:`.worker`, fed by :mod:`.channel`), away
from Snakemake's scheduler. Events are handled in the order Snakemake logged them, so an output
registered at ``job_finished`` is already known when the next job lists it as input: the graph
gets real edges, one artifact per file, produced by one run and read by others. Events that
arrive together (the recorder fell behind) are recorded together: consecutive ``job_info``
events start their runs in one transaction, consecutive ``job_finished`` events finish theirs in
one (see :mod:`flowtrail.core.adapter`, the door every write goes through).

What it records:

- At the first job: connects to the instance, registers the workflow's working directory as a
  storage location (files in it are registered in place, keyed by their relative path; files
  elsewhere get their own folder registered, so nothing is ever copied) and starts the workflow
  run (transform type ``pipeline``, run uid = Snakemake's workflow id).
- ``job_info``, ``job_finished``, ``job_error``: the jobs' runs (:mod:`.jobs`).
- the end: runs still open are completed when Snakemake's metadata says they finished (with
  ``--quiet progress`` Snakemake logs no ``job_finished``), else aborted; the workflow run ends
  completed, failed or aborted.

A registry that cannot be reached (or stays locked past the database's busy timeout) stops
recording with one warning, and the invocation is journaled when the failure is one that passes
(:mod:`.journaling`); the workflow itself is never affected. A file that vanished (a temp output)
or cannot be read is skipped.

The recorder is one class made of parts, each given what it needs: the invocation's shared state
(:class:`~.state.Invocation`), the jobs' runs (:class:`~.jobs.JobRuns`), the pipes
(:class:`~.streams.StreamNodes`) and the recording state (:class:`flowtrail.core.adapter.Recording`).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

from flowtrail.core import adapter
from flowtrail.integrations.snakemake import events as ev
from flowtrail.integrations.snakemake import journaling, paths, sources
from flowtrail.integrations.snakemake import workflow as wf
from flowtrail.integrations.snakemake.jobs import METADATA_SLACK_S, Ending, JobRuns
from flowtrail.integrations.snakemake.options import Options
from flowtrail.integrations.snakemake.state import ENGINE, Invocation, Job, utc
from flowtrail.integrations.snakemake.streams import StreamNodes

__all__ = ["ENGINE", "METADATA_SLACK_S", "Job", "Options", "Recorder", "quiet_logging", "show_warnings", "utc"]

logger = logging.getLogger("flowtrail.snakemake")
_MARKER = "_flowtrail_snakemake"


def quiet_logging() -> None:
    """flowtrail's warnings on stderr, prefixed ``flowtrail:``; nothing below WARNING.

    Per-artifact notices (e.g. "1 of 1 artifacts were already registered", which every rerun of an
    unchanged job would print) are noise next to Snakemake's own log.
    """
    adapter.show_warnings(_MARKER)


def show_warnings() -> None:
    """Make sure flowtrail's warnings reach stderr inside Snakemake (which configures its own logger only)."""
    adapter.ensure_warnings_shown(_MARKER)


class Recorder:
    """Records one Snakemake invocation in the registry, in event order.

    Not thread-safe: one worker (the recorder process's main thread, or the fallback thread in
    Snakemake's process, see :mod:`.channel`) calls :meth:`handle` / :meth:`handle_many` and
    finally :meth:`finish`. None of them ever raises.
    """

    def __init__(self, options: Options, instance: Any = None, journal: bool = True) -> None:
        self.options = options
        self._given_instance = instance  # replaying a journal: record into this one
        self._keep_events = journal
        self._events: list[ev.Event] = []  # the invocation so far, for the journal (see journaling.py)
        self._info: dict[str, Any] = {}
        self._info_time: float | None = None
        self._finished = False
        self._errors = 0
        self._last_error: str | None = None
        self._lost = False
        self.setup_cpu = 0.0  # CPU seconds spent connecting and starting the workflow run (once)
        self.invocation = Invocation(options)
        self.streams = StreamNodes()
        self.jobs = JobRuns(self.invocation, self.streams)
        self.recording = adapter.Recording("Snakemake", open_journal=self._open_journal, before_warning=show_warnings)
        self.recording.on_off.append(self._journal_so_far)

    # -- entry points ---------------------------------------------------------------------------
    def handle(self, event: ev.Event) -> None:
        """Record one event (no-op once recording is off or finished; journaled after an outage)."""
        self.handle_many([event])

    def handle_many(self, events: list[ev.Event]) -> None:
        """Record events that arrived together: the jobs of each segment in one transaction (see :meth:`_segment_end`)."""
        if self._finished:
            return
        index = 0
        while index < len(events) and not self._finished:
            end = self._segment_end(events, index)
            group = events[index:end]
            self._keep(group)
            if not self.recording.disabled:
                ended = len(self.jobs.ended)
                done = self.recording.guard(self._record, group, what="a Snakemake event")
                if not done and len(group) > 1 and not self.recording.disabled:
                    for event in self._unrecorded(group, self.jobs.ended[ended:]):  # one bad job must not lose the others
                        self.recording.guard(self._record, [event], what="a Snakemake event")
            index = end

    def finish(self, lost: bool = False) -> None:
        """End the open runs and the workflow run; ``lost``: Snakemake went away without closing."""
        if self._finished:
            return
        self._finished = True
        if lost:
            self.invocation.interrupted = True
            self._lost = True
        self.recording.guard(self._finish, what="the end of a Snakemake workflow")
        journal = self.recording.journal
        if journal is not None:
            journal.append({"op": "finish", "lost": lost})
            journal.close()

    def close(self) -> None:
        """Disconnect from the instance (this also closes the OpenLineage client, flushing it)."""
        if self.invocation.instance is None or self._given_instance is not None:
            return
        try:
            adapter.disconnect()
        except Exception:  # nothing left to lose at this point
            logger.debug("disconnecting failed", exc_info=True)
        self.invocation.instance = None

    @property
    def disabled(self) -> bool:
        return self.recording.disabled

    # -- the journal ----------------------------------------------------------------------------
    def _keep(self, events: list[ev.Event]) -> None:
        journal = self.recording.journal
        if journal is not None:
            for event in events:
                journal.append(journaling.event_entry(event))
        elif self._keep_events and not self.recording.disabled:
            self._events.extend(events)

    def _open_journal(self) -> Any:
        if not self._keep_events:
            return None
        return journaling.open_journal(self.options, self._info, next(iter(self.invocation.cwds), None))

    def _journal_so_far(self, recording: adapter.Recording) -> None:
        if recording.journal is not None:
            for event in self._events:
                recording.journal.append(journaling.event_entry(event))
        self._events = []

    # -- dispatch -------------------------------------------------------------------------------
    def _segment_end(self, events: list[ev.Event], start: int) -> int:
        """Where the segment of ``job_info`` / ``job_finished`` events beginning at ``start`` ends.

        A segment's jobs are started together, then its finished jobs completed together. So it
        ends before any other event, and before a ``job_info`` that reads a file a job of the
        segment writes (its input must be registered as that job's output first) or that names a
        job of the segment again. Any other order of starts and ends within it changes nothing.
        """
        if events[start].kind not in (ev.JOB_INFO, ev.JOB_FINISHED):
            return start + 1
        jobids: set[Any] = set()
        written: set[str] = set()
        end = start
        while end < len(events):
            event = events[end]
            if event.kind == ev.JOB_INFO:
                cwd = event.cwd or os.getcwd()
                jobid = event.data.get("jobid")
                reads = {ref.location(cwd) for ref in paths.parse_all(event.data.get("input"))}
                if jobid in jobids or paths.touches(reads, written):
                    break
                jobids.add(jobid)
                written |= {ref.location(cwd) for ref in paths.parse_all(event.data.get("output"))}
            elif event.kind == ev.JOB_FINISHED:
                jobid = event.data.get("job_id")
                jobids.add(jobid)
                job = self.jobs.open.get(jobid)  # type: ignore[arg-type]
                if job is not None:
                    written |= {ref.location(job.cwd) for ref in job.outputs}
            else:
                break
            end += 1
        return max(end, start + 1)

    def _record(self, events: list[ev.Event]) -> bool:
        jobs = self.jobs
        if events[0].kind not in (ev.JOB_INFO, ev.JOB_FINISHED):
            for event in events:
                self._record_one(event)
            return True
        infos = [e for e in events if e.kind == ev.JOB_INFO]
        if infos and self._ready(infos[0].cwd or os.getcwd()):
            jobs.start(infos)
        finished = [e for e in events if e.kind == ev.JOB_FINISHED]
        if finished:
            jobs.finished(finished)
        return True

    def _unrecorded(self, events: list[ev.Event], ended: list[int]) -> list[ev.Event]:
        """The events of a segment that failed whose jobs were not recorded (each write is all or nothing)."""
        left = []
        for event in events:
            if event.kind == ev.JOB_INFO:
                jobid = event.data.get("jobid")
                if jobid not in self.jobs.open and jobid not in ended:
                    left.append(event)
            elif event.kind == ev.JOB_FINISHED and event.data.get("job_id") in self.jobs.open:
                left.append(event)
        return left

    def _record_one(self, event: ev.Event) -> None:
        kind, jobs = event.kind, self.jobs
        if kind == ev.JOB_ERROR:
            jobs.failed(event.data, event.time)
        elif kind == ev.GROUP_ERROR:
            for info in event.data.get("job_error_info") or []:
                if isinstance(info, dict):
                    jobs.failed(info, event.time)
        elif kind == ev.ERROR:
            self._errors += 1
            message = event.message or str(event.data.get("exception") or "error")
            self._last_error = message
            if event.data.get("exception") != "WorkflowError":
                jobs.pending_errors = [*jobs.pending_errors[-20:], message]
            jobs.output_check_failed(message, event.time)
        elif kind == ev.INTERRUPT:
            self.invocation.interrupted = True
        elif kind == ev.WORKFLOW_STARTED:
            if wf.touches_only(event.data.get("cmd")):
                self._finished = True  # --touch: nothing runs, so nothing is recorded
                return
            self._info = event.data
            self._info_time = event.time
            self.invocation.engine_version = event.data.get("snakemake_version")

    # -- connecting and the workflow run ------------------------------------------------------
    def _ready(self, cwd: str) -> bool:
        """Connect and start the workflow run on first use; False when recording is off."""
        if self.invocation.workflow_run is not None:
            return True
        if self.recording.disabled:
            return False
        started = time.thread_time()
        try:
            self._connect(cwd)
            self._start_workflow(cwd)
        except Exception as exc:  # without a workflow run there is nothing to attach jobs to
            self.recording.failed(exc)
            return False
        finally:
            self.setup_cpu += time.thread_time() - started
        return True

    def _connect(self, cwd: str) -> None:
        inv = self.invocation
        if self._given_instance is not None:
            instance = self._given_instance
            if not self.options.openlineage and instance.emitter is not None:
                adapter.detach_emitter(instance)
        else:
            folders = [cwd, self._info.get("cwd"), self._info.get("basedir")]
            instance = adapter.connect_for(self.options.instance, folders, openlineage=self.options.openlineage)
        inv.instance = instance
        inv.files = adapter.FileRegistry(
            instance, hash_mode=self.options.hash_mode, folder_description="Folder of files a Snakemake workflow used"
        )
        self.streams.instance = instance

    def _start_workflow(self, cwd: str) -> None:
        inv = self.invocation
        main = self._info.get("snakefile_main")
        inv.source = sources.read_workflow(main) if main else None
        inv.workflow_key = wf.workflow_key(main, self._info.get("basedir"), inv.instance.config.root)
        inv.register_cwd(cwd)
        workflow_id = self._info.get("workflow_id")
        start = adapter.RunStart(
            inv.workflow_key,
            type="pipeline",
            source_code=inv.source.code if inv.source else None,
            params=wf.workflow_params(self._info, cwd),
            uid=str(workflow_id) if workflow_id else None,
            started_at=utc(self._info_time) if self._info_time else None,
            engine=ENGINE,
            engine_version=inv.engine_version,
            project=self.options.project or adapter.env_project(),
            capture_environment=True,
        )
        (inv.workflow_run,) = adapter.start_runs(inv.instance, [start])

    # -- the end ------------------------------------------------------------------------------
    def _finish(self) -> None:
        inv = self.invocation
        try:
            if self.recording.disabled:
                return
            if inv.workflow_run is None:
                if not (self._info and self._errors):
                    return  # nothing ran: a --touch, or nothing to be done
                # The workflow failed before any job started (e.g. a missing input): record that.
                if not self._ready(self._info.get("cwd") or os.getcwd()):
                    return
            self._finish_runs()
        finally:
            emitter = inv.instance.emitter if inv.instance is not None else None
            if emitter is not None:
                emitter.flush()

    def _finish_runs(self) -> None:
        inv, jobs = self.invocation, self.jobs
        now = time.time()
        if self._lost:
            reason = "Snakemake exited without closing its logger (killed?)"
        elif inv.interrupted:
            reason = "interrupted"
        else:
            reason = "Snakemake ended before the job finished"
        counts = inv.counts
        succeeded = not (inv.interrupted or self._errors or counts.failed)
        completing, aborting = [], []
        for job in list(jobs.open.values()):
            record = jobs.record_of(job)
            if jobs.finished_in_this_run(job, record) or (succeeded and not self.options.finished_logged):
                completing.append((job, record))  # its job_finished was not logged (--quiet progress)
            else:
                aborting.append(job)
        jobs.complete([Ending(job, now, record) for job, record in completing])
        jobs.abort(aborting, now, reason)
        if inv.interrupted:
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
        metrics = {"jobs_completed": counts.completed, "jobs_failed": counts.failed, "jobs_aborted": counts.aborted}
        end = adapter.RunEnd(inv.workflow_run, status, error=error, finished_at=utc(now), metrics=metrics)
        adapter.finish_runs(inv.instance, [end])
