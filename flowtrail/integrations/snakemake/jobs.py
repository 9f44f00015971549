"""A job's run, from Snakemake's ``job_info`` to its end: started, completed, failed or aborted.

- ``job_info``: registers the job's inputs, starts the job's run (transform ``<workflow>/<rule>``,
  type ``rule``, parent = the workflow run), links the inputs, and only then lets the run's
  OpenLineage START go out. A job logged again before it ended (a restarted group) has its old
  run aborted first.
- ``job_finished``: registers outputs, ``log:`` files (kind ``log``) and the ``benchmark:`` file
  (kind ``benchmark``) with the job's run, adds params from Snakemake's metadata record, reads
  the benchmark numbers into metrics, and completes the run. A job that reads an output of a
  still-open job proves that job succeeded, which completes it too.
- ``job_error``: registers the log files and fails the run with Snakemake's error message (or
  aborts it when the user interrupted Snakemake).

:class:`JobRuns` is a base class of :class:`~.recorder.Recorder`, not an object of its own: job
handling reads and updates the recorder's state (the workflow run, the interrupt flag, the counts
the workflow run ends with).
"""

import datetime as dt
import os
from dataclasses import dataclass, field
from typing import Any

from . import events as ev
from . import holding, job_context, metadata, paths, sources, streams
from . import workflow as wf
from .artifacts import ArtifactCollector
from .openlineage_relay import OpenLineageRelay
from .options import Options

ENGINE = "snakemake"
METADATA_SLACK_S = 2.0  # a metadata record started this long before the job's job_info is still this job's


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _held(event: ev.Event) -> dict[str, str]:
    held = event.data.get(holding.HELD_FIELD)
    return {str(k): str(v) for k, v in held.items()} if isinstance(held, dict) else {}


@dataclass
class Job:
    """A job whose run is open: what is needed to finish it."""

    jobid: int
    rule: str
    run: Any
    cwd: str
    started: float
    outputs: list[paths.FileRef]
    logs: list[paths.FileRef]
    benchmark: paths.FileRef | None
    shellcmd: str | None = None
    presaved: list[Any] | None = None  # products registered ahead, with a batch (see _presave)
    held: dict[str, str] = field(default_factory=dict)  # output -> hard link to it (see .holding)


@dataclass
class JobCounts:
    """How the jobs of this invocation ended, for the workflow run's status and metrics."""

    completed: int = 0
    failed: int = 0
    aborted: int = 0
    failed_jobs: list[str] = field(default_factory=list)


class JobRuns:
    """Starting and ending the runs of Snakemake's jobs (see the module docstring)."""

    # Set up by Recorder.__init__ (and the instance and workflow run once it connects).
    options: Options
    _instance: Any
    _workflow_run: Any
    _workflow_key: str
    _engine_version: str | None
    _source: sources.WorkflowSource | None
    _rule_code: dict[str, str | None]
    _jobs: dict[int, Job]
    _producers: dict[str, int]  # output location -> open job that makes it
    _cwds: set[str]
    _pending_errors: list[str]
    _interrupted: bool
    _counts: JobCounts
    _artifacts: ArtifactCollector
    _streams: streams.StreamNodes
    _openlineage: OpenLineageRelay

    def _ready(self, cwd: str) -> bool:  # pragma: no cover - Recorder's
        raise NotImplementedError

    # -- start ----------------------------------------------------------------------------------
    def _job_started(self, event: ev.Event) -> None:
        data = event.data
        cwd = event.cwd or os.getcwd()
        if not self._ready(cwd):
            return
        from flowtrail.core.run import link_inputs
        from flowtrail.core.tracking import start_run

        jobid = data.get("jobid")
        rule = str(data.get("rule_name") or "unknown")
        if not isinstance(jobid, int):
            return
        if cwd not in self._cwds:
            self._artifacts.register_location(cwd)
            self._cwds.add(cwd)
        previous = self._jobs.get(jobid)
        if previous is not None:  # logged again before it ended (a restarted group): close the old run
            self._abort(previous, event.time, "Snakemake started this job again")
        input_refs = paths.parse_all(data.get("input"))
        held = _held(event)  # producers' outputs, held when this job was logged (see .holding)
        for location, link in held.items():
            producer = self._jobs.get(self._producers.get(location))  # type: ignore[arg-type]
            if producer is not None:
                producer.held[location] = link
        try:
            self._complete_producers(input_refs, cwd, event.time)
        finally:
            holding.release(held)
        inputs = self._artifacts.register_inputs(input_refs, cwd)
        inputs += self._streams.inputs(data.get("input"), cwd, self._artifacts.root_of)  # pipes
        self._openlineage.hold_start()
        try:
            run = start_run(
                wf.rule_key(self._workflow_key, rule),
                type="rule",
                source_code=self._code_of(rule),
                params=wf.job_params(data),
                parent=self._workflow_run,
                name=wf.job_name(rule, data.get("wildcards")),
                # The uid the job's processes already know (see job_context): a script's run nests here.
                uid=job_context.job_run_uid(self.options.invocation, jobid)
                if self.options.invocation and previous is None
                else None,
                started_at=utc(event.time),
                capture_environment=False,
                engine=ENGINE,
                engine_version=self._engine_version,
                instance=self._instance,
            )
        finally:
            self._openlineage.stop_holding()
        try:
            link_inputs(self._instance, run, inputs)
            self._streams.expect(run, data.get("input"), cwd)
            self._streams.outputs(run, streams.stream_refs(data.get("output")), cwd, self._artifacts.root_of)
        finally:
            self._openlineage.release_start()
        benchmark = paths.parse(data.get("benchmark")) if data.get("benchmark") else None
        job = self._jobs[jobid] = Job(
            jobid, rule, run, cwd, event.time,
            outputs=paths.parse_all(data.get("output")),
            logs=paths.parse_all(data.get("log")),
            benchmark=benchmark if benchmark is not None and not benchmark.is_stream else None,
            shellcmd=data.get("shellcmd") if isinstance(data.get("shellcmd"), str) else None,
        )  # fmt: skip
        for ref in job.outputs:
            self._producers[ref.location(cwd)] = jobid

    def _code_of(self, rule: str) -> str | None:
        if rule not in self._rule_code:
            code = self._source.rule_code(rule) if self._source else None
            self._rule_code[rule] = code
        return self._rule_code[rule]

    # -- success --------------------------------------------------------------------------------
    def _job_finished(self, event: ev.Event) -> None:
        job = self._jobs.get(event.data.get("job_id"))  # type: ignore[arg-type]
        held = _held(event)
        if job is None:
            holding.release(held)
            return
        job.held = held or job.held
        try:
            self._complete(job, event.time, self._record_of(job))
        finally:
            holding.release(job.held)

    def _record_of(self, job: Job) -> dict[str, Any] | None:
        """Snakemake's metadata record of the job's first local output, if it belongs to the job."""
        for ref in job.outputs:
            if not ref.is_url:
                return metadata.read_record(job.cwd, ref.name, job.rule)
        return None

    def _complete(self, job: Job, when: float, record: dict[str, Any] | None) -> None:
        from flowtrail.core.tracking import finish_run

        self._forget(job)
        saved = job.presaved if job.presaved is not None else self._artifacts.register_outputs(job, self._products(job))
        if record is not None:
            extra = wf.metadata_params(record)
            if extra:
                job.run.params = {**(job.run.params or {}), **extra}  # saved with the run's finish
        metrics: dict[str, Any] = {}
        # Identical content under the same key is the existing artifact, still attributed to the run
        # that first made it: say which outputs this run re-made unchanged.
        unchanged = [a.uid for a in saved if a.run_id != job.run.id]
        if unchanged:
            metrics["outputs_unchanged"] = unchanged
        unreadable = self._unreadable(job, saved)
        if unreadable:
            metrics["unreadable"] = unreadable
        if job.benchmark is not None:
            numbers = wf.benchmark_metrics(job.benchmark.location(job.cwd))
            if numbers:
                metrics["benchmark"] = numbers
        finished = when
        end = record.get("endtime") if record else None
        if isinstance(end, int | float) and job.started <= end <= when:
            finished = end  # the output's mtime: the real end, also when a cluster is polled late
        finish_run(job.run, "completed", finished_at=utc(finished), metrics=metrics or None, instance=self._instance)
        self._counts.completed += 1

    def _unreadable(self, job: Job, saved: list[Any]) -> dict[str, list[str]]:
        """``{folder output: entries left out}`` for folder outputs with links that lead nowhere.

        The folder is registered with what can be read; the run's metrics and the artifact's
        description say what could not (flowtrail also warns on stderr when it hashes the folder).
        """
        from flowtrail.core.saving import update_artifact

        found: dict[str, list[str]] = {}
        for ref in job.outputs:
            location = ref.location(job.cwd)
            if ref.is_url or not os.path.isdir(location):
                continue
            dead = paths.dead_links(location)
            if not dead:
                continue
            found[ref.name] = dead[:100]
            key = self._artifacts.key_of(location)
            for artifact in saved:
                if artifact.key == key and artifact.kind == "folder" and artifact.run_id == job.run.id:
                    if not artifact.description:
                        shown = ", ".join(dead[:5]) + (f" and {len(dead) - 5} more" if len(dead) > 5 else "")
                        artifact.description = (
                            f"Recorded without {len(dead)} link(s) that lead nowhere (dangling, or a loop): {shown}"
                        )
                        update_artifact(artifact)
        return found

    @staticmethod
    def _products(job: Job) -> list[tuple[paths.FileRef, str | None]]:
        """What a successful job leaves: its outputs, log files (kind log) and benchmark file."""
        files: list[tuple[paths.FileRef, str | None]] = [(ref, None) for ref in job.outputs]
        files += [(ref, "log") for ref in job.logs]
        if job.benchmark is not None:
            files.append((job.benchmark, "benchmark"))
        return files

    def _presave(self, events: list[ev.Event]) -> None:
        """Register the products of all jobs that finished in a batch of events in one transaction.

        When the recorder falls behind (a busy machine, many short jobs), this saves a transaction
        per job. Only jobs already open before the batch count, so every consumer in the batch
        still finds its inputs registered, in event order.
        """
        jobs = []
        for event in events:
            job = self._jobs.get(event.data.get("job_id")) if event.kind == ev.JOB_FINISHED else None  # type: ignore[arg-type]
            if job is not None and job.presaved is None:
                job.held = _held(event) or job.held
                jobs.append(job)
        if len(jobs) < 2:
            return
        drafts = [draft for job in jobs for draft in self._artifacts.output_drafts(job, self._products(job))]
        saved = self._artifacts.save_pairs(drafts)
        by_run: dict[int, list[Any]] = {id(job.run): [] for job in jobs}
        for draft, artifact in saved:
            by_run[id(draft.kwargs["run"])].append(artifact)
        for job in jobs:
            job.presaved = by_run[id(job.run)]

    def _forget(self, job: Job) -> None:
        self._jobs.pop(job.jobid, None)
        for ref in job.outputs:
            self._producers.pop(ref.location(job.cwd), None)

    def _finished_in_this_run(self, job: Job, record: dict[str, Any] | None) -> bool:
        """Whether Snakemake's metadata shows the job completed although its job_finished never came."""
        start = record.get("starttime") if record else None
        return isinstance(start, int | float) and start >= job.started - METADATA_SLACK_S

    def _complete_producers(self, refs: list[paths.FileRef], cwd: str, when: float) -> None:
        """A job reading an output of an open job proves that job succeeded: Snakemake starts
        consumers only then. This matters when ``job_finished`` is not logged (``--quiet progress``)."""
        for ref in refs:
            jobid = self._producers.get(ref.location(cwd))
            job = self._jobs.get(jobid) if jobid is not None else None
            if job is not None:
                self._complete(job, when, self._record_of(job))

    # -- failure --------------------------------------------------------------------------------
    def _output_check_failed(self, message: str, when: float) -> None:
        """Fail the job whose outputs failed Snakemake's checks after it ran (``ensure()``, missing files).

        Snakemake then logs only the error (no ``job_error``, no ``job_finished``), naming the rule
        and the files; its metadata may already say the job completed.
        """
        rule = wf.output_check_rule(message)
        if rule is None:
            return
        lines = {line.split(" (rule ", 1)[0].strip() for line in message.splitlines()}
        candidates = [job for job in self._jobs.values() if job.rule == rule]
        named = [job for job in candidates if any(ref.name in lines for ref in job.outputs)]
        for job in named or (candidates if len(candidates) == 1 else []):
            if message in self._pending_errors:
                self._pending_errors.remove(message)
            self._job_failed({"jobid": job.jobid}, when, message)

    def _job_failed(self, data: dict[str, Any], when: float, message: str | None = None) -> None:
        from flowtrail.core.tracking import finish_run

        job = self._jobs.get(data.get("jobid"))  # type: ignore[arg-type]
        if job is None:
            return
        self._forget(job)
        message = message or self._error_for(job)
        if message and "died with <Signals.SIGINT" in message:
            self._interrupted = True  # Ctrl-C reached the job before Snakemake said so
        aux = data.get("aux") if isinstance(data.get("aux"), dict) else {}
        external = aux.get("external_jobid") if aux else None
        if external:
            job.run.params = {**(job.run.params or {}), "external_jobid": str(external)}
        logs = paths.parse_all(data.get("log")) or job.logs
        self._artifacts.register_outputs(job, [(ref, "log") for ref in logs])
        status = "aborted" if self._interrupted else "failed"
        error = message or f"Error in rule {job.rule}, jobid {job.jobid}"
        code = wf.exit_status(message)
        metrics = {"exit_code": code} if code is not None else None  # the name the Nextflow adapter uses
        finish_run(job.run, status, error=error, finished_at=utc(when), metrics=metrics, instance=self._instance)
        if status == "failed":
            self._counts.failed += 1
            self._counts.failed_jobs.append(f"{job.rule} (jobid {job.jobid})")
        else:
            self._counts.aborted += 1

    def _abort(self, job: Job, when: float, reason: str) -> None:
        from flowtrail.core.tracking import finish_run

        self._forget(job)
        self._artifacts.register_outputs(job, [(ref, "log") for ref in job.logs])
        finish_run(job.run, "aborted", error=reason, finished_at=utc(when), instance=self._instance)
        self._counts.aborted += 1

    def _error_for(self, job: Job) -> str | None:
        """The logged error that belongs to ``job``: Snakemake logs each job's error just before its
        ``job_error``, but when several jobs fail together the errors may come first, all of them."""
        pending = self._pending_errors
        if not pending:
            return None
        chosen = pending[0]
        if job.shellcmd:
            chosen = next((m for m in pending if job.shellcmd in m), chosen)
        pending.remove(chosen)
        return chosen
