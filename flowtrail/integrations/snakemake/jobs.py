"""Jobs' runs, from Snakemake's ``job_info`` to their end: started, completed, failed or aborted.

- ``job_info``: registers the job's inputs, starts the job's run (transform ``<workflow>/<rule>``,
  type ``rule``, parent = the workflow run) with the inputs linked, and only then lets the run's
  OpenLineage START go out. A job logged again before it ended (a restarted group) has its old
  run aborted first.
- ``job_finished``: registers outputs, ``log:`` files (kind ``log``) and the ``benchmark:`` file
  (kind ``benchmark``) with the job's run, adds params from Snakemake's metadata record, reads
  the benchmark numbers into metrics, and completes the run. A job that reads an output of a
  still-open job proves that job succeeded, which completes it too.
- ``job_error``: registers the log files and fails the run with Snakemake's error message (or
  aborts it when the user interrupted Snakemake).

Jobs logged together (the recorder fell behind) are started, and finished, together: their files
in one transaction and their runs in another (see :mod:`flowtrail.core.adapter`).

:class:`JobRuns` is a part of :class:`~.recorder.Recorder`: it holds the open jobs and is given
the invocation's shared state (:class:`~.state.Invocation`) and the pipes (:class:`~.streams.StreamNodes`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from flowtrail.core import adapter
from flowtrail.integrations.snakemake import events as ev
from flowtrail.integrations.snakemake import holding, job_context, metadata, paths, streams
from flowtrail.integrations.snakemake import workflow as wf
from flowtrail.integrations.snakemake.state import ENGINE, Invocation, Job, utc

METADATA_SLACK_S = 2.0  # a metadata record started this long before the job's job_info is still this job's


def _held(event: ev.Event) -> dict[str, str]:
    held = event.data.get(holding.HELD_FIELD)
    return {str(k): str(v) for k, v in held.items()} if isinstance(held, dict) else {}


@dataclass
class _Starting:
    """A job_info being recorded: what its run starts with."""

    event: ev.Event
    jobid: int
    rule: str
    cwd: str
    inputs: list[paths.FileRef]
    fresh: bool  # not logged before in this invocation (keeps the uid its processes know)


@dataclass
class Ending:
    """A job being completed, and when."""

    job: Job
    when: float
    record: dict[str, Any] | None


class JobRuns:
    """The open jobs of one invocation, and their runs (see the module docstring)."""

    def __init__(self, invocation: Invocation, streams_: streams.StreamNodes) -> None:
        self.inv = invocation
        self.streams = streams_
        self.open: dict[int, Job] = {}
        self.producers: dict[str, int] = {}  # output location -> open job that makes it
        self.pending_errors: list[str] = []  # error messages not yet matched to a job_error
        self.ended: list[int] = []  # jobids whose runs ended, in order
        self._rule_code: dict[str, str | None] = {}

    # -- start ----------------------------------------------------------------------------------
    def start(self, events: list[ev.Event]) -> None:
        """Start the runs of jobs logged one after the other (``job_info`` events, in order)."""
        batch: list[ev.Event] = []
        jobids: set[int] = set()
        outputs: set[str] = set()
        for event in events:
            jobid = event.data.get("jobid")
            if not isinstance(jobid, int):
                continue
            cwd = event.cwd or os.getcwd()
            reads = {ref.location(cwd) for ref in paths.parse_all(event.data.get("input"))}
            if jobid in jobids or paths.touches(reads, outputs):  # depends on a job of this batch: start those first
                self._start_batch(batch)
                batch, jobids, outputs = [], set(), set()
            batch.append(event)
            jobids.add(jobid)
            outputs |= {ref.location(cwd) for ref in paths.parse_all(event.data.get("output"))}
        self._start_batch(batch)

    def _start_batch(self, events: list[ev.Event]) -> None:
        if not events:
            return
        inv, files = self.inv, self.inv.files
        assert files is not None
        starting = [self._prepare(event) for event in events]
        locations = [[ref.location(s.cwd) for ref in s.inputs] for s in starting]
        found = iter(files.resolve([adapter.FileSpec(loc) for locs in locations for loc in locs]))
        starts = []
        for s, locs in zip(starting, locations, strict=True):
            mine = [a for a in (next(found) for _ in locs) if a is not None]
            inputs = list({id(a): a for a in mine}.values())
            inputs += self.streams.inputs(s.event.data.get("input"), s.cwd, files.root_of)  # pipes
            data = s.event.data
            starts.append(
                adapter.RunStart(
                    wf.rule_key(inv.workflow_key, s.rule),
                    type="rule",
                    source_code=self._code_of(s.rule),
                    params=wf.job_params(data),
                    parent=inv.workflow_run,
                    name=wf.job_name(s.rule, data.get("wildcards")),
                    # The uid the job's processes already know (see job_context): a script's run nests here.
                    uid=job_context.job_run_uid(inv.options.invocation, s.jobid)
                    if inv.options.invocation and s.fresh
                    else None,
                    started_at=utc(s.event.time),
                    engine=ENGINE,
                    engine_version=inv.engine_version,
                    inputs=inputs,
                )
            )
        runs = adapter.start_runs(inv.instance, starts, announce=False)
        try:
            for s, run in zip(starting, runs, strict=True):
                data = s.event.data
                self.streams.expect(run, data.get("input"), s.cwd)
                self.streams.outputs(run, streams.stream_refs(data.get("output")), s.cwd, files.root_of)
                benchmark = paths.parse(data.get("benchmark")) if data.get("benchmark") else None
                job = self.open[s.jobid] = Job(
                    s.jobid, s.rule, run, s.cwd, s.event.time,
                    outputs=paths.parse_all(data.get("output")),
                    logs=paths.parse_all(data.get("log")),
                    benchmark=benchmark if benchmark is not None and not benchmark.is_stream else None,
                    shellcmd=data.get("shellcmd") if isinstance(data.get("shellcmd"), str) else None,
                )  # fmt: skip
                for ref in job.outputs:
                    self.producers[ref.location(s.cwd)] = s.jobid
        finally:
            adapter.announce("start", runs)  # the START names the inputs (and pipes)

    def _prepare(self, event: ev.Event) -> _Starting:
        """What happens before a job's run starts: its folder, a restarted job, the producers it proves done."""
        data = event.data
        cwd = event.cwd or os.getcwd()
        jobid = data["jobid"]
        self.inv.register_cwd(cwd)
        previous = self.open.get(jobid)
        if previous is not None:  # logged again before it ended (a restarted group): close the old run
            self.abort([previous], event.time, "Snakemake started this job again")
        refs = paths.parse_all(data.get("input"))
        held = _held(event)  # producers' outputs, held when this job was logged (see .holding)
        for location, link in held.items():
            producer = self.open.get(self.producers.get(location))  # type: ignore[arg-type]
            if producer is not None:
                producer.held[location] = link
        try:
            self._complete_producers(refs, cwd, event.time)
        finally:
            holding.release(held)
        rule = str(data.get("rule_name") or "unknown")
        return _Starting(event, jobid, rule, cwd, refs, fresh=previous is None)

    def _code_of(self, rule: str) -> str | None:
        if rule not in self._rule_code:
            source = self.inv.source
            self._rule_code[rule] = source.rule_code(rule) if source else None
        return self._rule_code[rule]

    # -- success --------------------------------------------------------------------------------
    def finished(self, events: list[ev.Event]) -> None:
        """Complete the runs of jobs Snakemake logged as finished (``job_finished`` events)."""
        endings: list[Ending] = []
        seen: set[int] = set()
        for event in events:
            job = self.open.get(event.data.get("job_id"))  # type: ignore[arg-type]
            held = _held(event)
            if job is None or id(job) in seen:
                holding.release(held)
                continue
            seen.add(id(job))
            job.held = held or job.held
            endings.append(Ending(job, event.time, self.record_of(job)))
        try:
            self.complete(endings)
        finally:
            for ending in endings:
                holding.release(ending.job.held)

    def record_of(self, job: Job) -> dict[str, Any] | None:
        """Snakemake's metadata record of the job's first local output, if it belongs to the job."""
        for ref in job.outputs:
            if not ref.is_url:
                return metadata.read_record(job.cwd, ref.name, job.rule)
        return None

    def complete(self, endings: list[Ending]) -> None:
        """Register the jobs' products in one transaction and complete their runs in another."""
        if not endings:
            return
        for ending in endings:
            self.forget(ending.job)
        specs = [spec for ending in endings for spec in self._specs(ending.job, self._products(ending.job))]
        saved: dict[int, list[Any]] = {id(e.job): [] for e in endings}
        for spec, artifact in self.inv.files.outputs(specs):  # type: ignore[union-attr]
            saved[spec.extra["job"]].append(artifact)
        ends = [self._completed(e, saved[id(e.job)]) for e in endings]
        adapter.finish_runs(self.inv.instance, ends)
        self.inv.counts.completed += len(ends)

    def _completed(self, ending: Ending, saved: list[Any]) -> adapter.RunEnd:
        job, record = ending.job, ending.record
        params = wf.metadata_params(record) if record is not None else None
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
        finished = ending.when
        end = record.get("endtime") if record else None
        if isinstance(end, int | float) and job.started <= end <= ending.when:
            finished = end  # the output's mtime: the real end, also when a cluster is polled late
        return adapter.RunEnd(job.run, "completed", finished_at=utc(finished), metrics=metrics or None, params=params)

    def _unreadable(self, job: Job, saved: list[Any]) -> dict[str, list[str]]:
        """``{folder output: entries left out}`` for folder outputs with links that lead nowhere.

        The folder is registered with what can be read; the run's metrics and the artifact's
        description say what could not (flowtrail also warns on stderr when it hashes the folder).
        """
        found: dict[str, list[str]] = {}
        for ref in job.outputs:
            location = ref.location(job.cwd)
            if ref.is_url or not os.path.isdir(location):
                continue
            dead = paths.dead_links(location)
            if not dead:
                continue
            found[ref.name] = dead[:100]
            key = self.inv.files.key_of(location)  # type: ignore[union-attr]
            for artifact in saved:
                if artifact.key == key and artifact.kind == "folder" and artifact.run_id == job.run.id:
                    if not artifact.description:
                        shown = ", ".join(dead[:5]) + (f" and {len(dead) - 5} more" if len(dead) > 5 else "")
                        artifact.description = (
                            f"Recorded without {len(dead)} link(s) that lead nowhere (dangling, or a loop): {shown}"
                        )
                        adapter.update_artifact(artifact)
        return found

    @staticmethod
    def _products(job: Job) -> list[tuple[paths.FileRef, str | None]]:
        """What a successful job leaves: its outputs, log files (kind log) and benchmark file."""
        files: list[tuple[paths.FileRef, str | None]] = [(ref, None) for ref in job.outputs]
        files += [(ref, "log") for ref in job.logs]
        if job.benchmark is not None:
            files.append((job.benchmark, "benchmark"))
        return files

    def _specs(self, job: Job, files: list[tuple[paths.FileRef, str | None]]) -> list[adapter.FileSpec]:
        """The job's files to register with its run; an output Snakemake removed is read from its held link."""
        registry = self.inv.files
        assert registry is not None
        specs = []
        for ref, kind in files:
            location = ref.location(job.cwd)
            read_from = None
            if not ref.is_url and adapter.file_state(location) is None:
                read_from = job.held.get(location)
                if read_from is not None and (registry.root_of(location) is None or registry.root_of(location) != registry.root_of(read_from)):
                    read_from = None  # keyed in place only where the link lies in the output's own location
                if read_from is None:
                    continue  # never written (a failed job), or gone and not held
            specs.append(adapter.FileSpec(location, run=job.run, kind=kind, read_from=read_from, extra={"job": id(job)}))
        return specs

    def forget(self, job: Job) -> None:
        self.ended.append(job.jobid)
        self.open.pop(job.jobid, None)
        for ref in job.outputs:
            self.producers.pop(ref.location(job.cwd), None)

    def finished_in_this_run(self, job: Job, record: dict[str, Any] | None) -> bool:
        """Whether Snakemake's metadata shows the job completed although its job_finished never came."""
        start = record.get("starttime") if record else None
        return isinstance(start, int | float) and start >= job.started - METADATA_SLACK_S

    def _complete_producers(self, refs: list[paths.FileRef], cwd: str, when: float) -> None:
        """A job reading an output of an open job proves that job succeeded: Snakemake starts
        consumers only then. This matters when ``job_finished`` is not logged (``--quiet progress``)."""
        endings: list[Ending] = []
        for ref in refs:
            jobid = self.producers.get(ref.location(cwd))
            job = self.open.get(jobid) if jobid is not None else None
            if job is not None and all(e.job is not job for e in endings):
                endings.append(Ending(job, when, self.record_of(job)))
        self.complete(endings)

    # -- failure --------------------------------------------------------------------------------
    def output_check_failed(self, message: str, when: float) -> None:
        """Fail the job whose outputs failed Snakemake's checks after it ran (``ensure()``, missing files).

        Snakemake then logs only the error (no ``job_error``, no ``job_finished``), naming the rule
        and the files; its metadata may already say the job completed.
        """
        rule = wf.output_check_rule(message)
        if rule is None:
            return
        lines = {line.split(" (rule ", 1)[0].strip() for line in message.splitlines()}
        candidates = [job for job in self.open.values() if job.rule == rule]
        named = [job for job in candidates if any(ref.name in lines for ref in job.outputs)]
        for job in named or (candidates if len(candidates) == 1 else []):
            if message in self.pending_errors:
                self.pending_errors.remove(message)
            self.failed({"jobid": job.jobid}, when, message)

    def failed(self, data: dict[str, Any], when: float, message: str | None = None) -> None:
        """Fail (or, after an interrupt, abort) the run of the job a ``job_error`` names."""
        job = self.open.get(data.get("jobid"))  # type: ignore[arg-type]
        if job is None:
            return
        self.forget(job)
        message = message or self._error_for(job)
        if message and "died with <Signals.SIGINT" in message:
            self.inv.interrupted = True  # Ctrl-C reached the job before Snakemake said so
        aux = data.get("aux") if isinstance(data.get("aux"), dict) else {}
        external = aux.get("external_jobid") if aux else None
        logs = paths.parse_all(data.get("log")) or job.logs
        self.inv.files.outputs(self._specs(job, [(ref, "log") for ref in logs]))  # type: ignore[union-attr]
        status = "aborted" if self.inv.interrupted else "failed"
        error = message or f"Error in rule {job.rule}, jobid {job.jobid}"
        code = wf.exit_status(message)
        metrics = {"exit_code": code} if code is not None else None  # the name the Nextflow adapter uses
        params = {"external_jobid": str(external)} if external else None
        end = adapter.RunEnd(job.run, status, error=error, finished_at=utc(when), metrics=metrics, params=params)
        adapter.finish_runs(self.inv.instance, [end])
        counts = self.inv.counts
        if status == "failed":
            counts.failed += 1
            counts.failed_jobs.append(f"{job.rule} (jobid {job.jobid})")
        else:
            counts.aborted += 1

    def abort(self, jobs: list[Job], when: float, reason: str) -> None:
        """Abort the runs of jobs that never ended, with their log files."""
        if not jobs:
            return
        for job in jobs:
            self.forget(job)
        specs = [spec for job in jobs for spec in self._specs(job, [(ref, "log") for ref in job.logs])]
        self.inv.files.outputs(specs)  # type: ignore[union-attr]
        ends = [adapter.RunEnd(job.run, "aborted", error=reason, finished_at=utc(when)) for job in jobs]
        adapter.finish_runs(self.inv.instance, ends)
        self.inv.counts.aborted += len(jobs)

    def _error_for(self, job: Job) -> str | None:
        """The logged error that belongs to ``job``: Snakemake logs each job's error just before its
        ``job_error``, but when several jobs fail together the errors may come first, all of them."""
        pending = self.pending_errors
        if not pending:
            return None
        chosen = pending[0]
        if job.shellcmd:
            chosen = next((m for m in pending if job.shellcmd in m), chosen)
        pending.remove(chosen)
        return chosen
