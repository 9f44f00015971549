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
"""

import datetime as dt
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import events as ev
from . import metadata, paths, sources
from . import workflow as wf

logger = logging.getLogger("flowtrail.snakemake")
ENGINE = "snakemake"
METADATA_SLACK_S = 2.0  # a metadata record started this long before the job's job_info is still this job's


@dataclass(frozen=True)
class Options:
    """The plugin's settings, as the recorder uses them."""

    instance: str | None = None  # folder of the instance (or its .flowtrail/); None: discover
    hash_mode: str = "full"  # or "size-mtime"
    openlineage: bool = True  # False: never emit OpenLineage events from this process
    flush_timeout: float = 300.0  # seconds close() waits for the worker to catch up
    finished_logged: bool = True  # False under --quiet progress: Snakemake logs no job_finished
    project: str | None = None  # the runs' project; None: FLOWTRAIL_PROJECT, if set


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


@dataclass
class Known:
    """An artifact this workflow run already registered, and the file state it was registered at."""

    artifact: Any
    state: tuple[int, int] | None  # (size, mtime_ns); None for URLs


@dataclass
class _Draft:
    """A file to register: where it is, its state when looked at, and the Artifact() arguments."""

    location: str
    state: tuple[int, int] | None
    kwargs: dict[str, Any]


@dataclass
class _Counts:
    completed: int = 0
    failed: int = 0
    aborted: int = 0
    failed_jobs: list[str] = field(default_factory=list)


def utc(timestamp: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(timestamp, dt.UTC)


def _registry_error(exc: BaseException) -> bool:
    """Errors that mean the registry itself is unusable (as opposed to one unreadable file)."""
    try:
        from sqlalchemy.exc import SQLAlchemyError
    except ImportError:  # pragma: no cover - SQLAlchemy is a core dependency
        return False
    from flowtrail.core.errors import ConfigurationError, NoInstanceError, SchemaVersionError

    return isinstance(exc, SQLAlchemyError | ConfigurationError | NoInstanceError | SchemaVersionError)


def _ensure_log_handler() -> None:
    """Make sure flowtrail's warnings reach stderr inside Snakemake (which configures its own logger only)."""
    base = logging.getLogger("flowtrail")
    if base.handlers or logging.getLogger().handlers:
        return
    quiet_logging()


def quiet_logging() -> None:
    """flowtrail's warnings on stderr, prefixed ``flowtrail:``; nothing below WARNING.

    Per-artifact notices (e.g. "1 of 1 artifacts were already registered", which every rerun of an
    unchanged job would print) are noise next to Snakemake's own log.
    """
    base = logging.getLogger("flowtrail")
    if not any(getattr(h, "_flowtrail_snakemake", False) for h in base.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("flowtrail: %(message)s"))
        handler._flowtrail_snakemake = True  # type: ignore[attr-defined]
        base.addHandler(handler)
    base.setLevel(logging.WARNING)
    base.propagate = False


class Recorder:
    """Records one Snakemake invocation in the registry, one event at a time, in event order.

    Not thread-safe: one worker (the recorder process's main thread, or the fallback thread in
    Snakemake's process, see :mod:`.channel`) calls :meth:`handle` and finally :meth:`finish`.
    Neither ever raises.
    """

    def __init__(self, options: Options) -> None:
        self.options = options
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
        self._known: dict[str, Known] = {}
        self._folders: dict[str, Any] = {}  # absolute folder path -> its artifact
        self._roots: list[str] = []  # local storage roots, longest first
        self._cwds: set[str] = set()  # working directories registered as storage locations
        self._pending_errors: list[str] = []  # error messages not yet matched to a job_error
        self._last_error: str | None = None
        self._errors = 0
        self._interrupted = False
        self._lost = False
        self._counts = _Counts()
        self._reported: set[str] = set()
        self._emitter: Any = None
        self._holding: threading.Thread | None = None
        self._held: Any = None

    def handle(self, event: ev.Event) -> None:
        """Record one event (no-op once recording is disabled or finished)."""
        if self._disabled or self._finished:
            return
        self._guard(self._handle, event)

    def handle_many(self, events: list[ev.Event]) -> None:
        """Record a batch of events that arrived together (the recorder fell behind)."""
        if self._disabled or self._finished:
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

    def close(self) -> None:
        """Disconnect from the instance (this also closes the OpenLineage client, flushing it)."""
        if self._instance is None:
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
        logger.warning(
            "the registry is not usable (%s: %s). The workflow continues, but it is not "
            "recorded from here on.",
            type(exc).__name__, text,
        )  # fmt: skip
        self._unhook_emitter()

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

        if self.options.instance:
            instance = connect(os.path.expanduser(self.options.instance))
        elif os.environ.get(cfg.ENV_INSTANCE):
            instance = connect()
        else:
            folders = [cwd, self._info.get("cwd"), self._info.get("basedir")]
            root = next((r for f in folders if f and (r := cfg.find_root(Path(f))) is not None), None)
            instance = connect(root)  # None: FLOWTRAIL_DB_URL, or a clear NoInstanceError
        self._instance = instance
        if instance.emitter is not None:
            if self.options.openlineage:
                self._hook_emitter(instance.emitter)
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
        self._load_roots()
        self._register_location(cwd)
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

    def _load_roots(self) -> None:
        from sqlalchemy import select

        from flowtrail.core.storage import Storage

        sessions = self._instance.sessions
        try:
            roots = [s.root for s in sessions.current().scalars(select(Storage)) if s.is_local]
        finally:
            sessions.end_read()
        self._roots = sorted(roots, key=len, reverse=True)

    def _register_location(self, folder: str, description: str = "Snakemake working directory") -> None:
        from flowtrail.core.instance import register_storage

        storage = register_storage(self._instance, folder, description=description)
        if storage.root not in self._roots:
            self._roots = sorted([*self._roots, storage.root], key=len, reverse=True)

    def _inside_location(self, path: str) -> bool:
        return any(path == root or path.startswith(root.rstrip("/") + "/") for root in self._roots)

    # -- jobs -----------------------------------------------------------------------------------
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
            self._register_location(cwd)
            self._cwds.add(cwd)
        previous = self._jobs.get(jobid)
        if previous is not None:  # logged again before it ended (a restarted group): close the old run
            self._abort(previous, event.time, "Snakemake started this job again")
        input_refs = paths.parse_all(data.get("input"))
        self._complete_producers(input_refs, cwd, event.time)
        inputs = self._register_inputs(input_refs, cwd)
        self._holding, self._held = threading.current_thread(), None
        try:
            run = start_run(
                wf.rule_key(self._workflow_key, rule),
                type="rule",
                source_code=self._code_of(rule),
                params=wf.job_params(data),
                parent=self._workflow_run,
                name=wf.job_name(rule, data.get("wildcards")),
                started_at=utc(event.time),
                capture_environment=False,
                engine=ENGINE,
                engine_version=self._engine_version,
                instance=self._instance,
            )
        finally:
            self._holding = None
        try:
            link_inputs(self._instance, run, inputs)
        finally:
            self._release_start()
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

    def _job_finished(self, event: ev.Event) -> None:
        job = self._jobs.get(event.data.get("job_id"))  # type: ignore[arg-type]
        if job is not None:
            self._complete(job, event.time, self._record_of(job))

    def _record_of(self, job: Job) -> dict[str, Any] | None:
        """Snakemake's metadata record of the job's first local output, if it belongs to the job."""
        for ref in job.outputs:
            if not ref.is_url:
                return metadata.read_record(job.cwd, ref.name, job.rule)
        return None

    def _complete(self, job: Job, when: float, record: dict[str, Any] | None) -> None:
        from flowtrail.core.tracking import finish_run

        self._forget(job)
        saved = job.presaved if job.presaved is not None else self._register_outputs(job, self._products(job))
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
        jobs = [self._jobs.get(e.data.get("job_id")) for e in events if e.kind == ev.JOB_FINISHED]  # type: ignore[arg-type]
        jobs = [job for job in jobs if job is not None and job.presaved is None]
        if len(jobs) < 2:
            return
        drafts = [draft for job in jobs for draft in self._output_drafts(job, self._products(job))]
        saved = self._save_pairs(drafts)
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

    def _job_failed(self, data: dict[str, Any], when: float) -> None:
        from flowtrail.core.tracking import finish_run

        job = self._jobs.get(data.get("jobid"))  # type: ignore[arg-type]
        if job is None:
            return
        self._forget(job)
        message = self._error_for(job)
        if message and "died with <Signals.SIGINT" in message:
            self._interrupted = True  # Ctrl-C reached the job before Snakemake said so
        aux = data.get("aux") if isinstance(data.get("aux"), dict) else {}
        external = aux.get("external_jobid") if aux else None
        if external:
            job.run.params = {**(job.run.params or {}), "external_jobid": str(external)}
        logs = paths.parse_all(data.get("log")) or job.logs
        self._register_outputs(job, [(ref, "log") for ref in logs])
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
        self._register_outputs(job, [(ref, "log") for ref in job.logs])
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

    # -- files ----------------------------------------------------------------------------------
    def _register_inputs(self, refs: list[paths.FileRef], cwd: str) -> list[Any]:
        found: list[Any] = []
        todo: list[_Draft] = []
        for ref in refs:
            location = ref.location(cwd)
            if ref.is_url:
                known = self._known.get(location)
                if known is not None:
                    found.append(known.artifact)
                else:
                    todo.append(_Draft(location, None, {}))
                continue
            state = paths.local_state(location)
            if state is None:
                continue  # missing (a temp file already removed), a pipe, a socket
            known = self._known.get(location)
            if known is not None and known.state == state:
                found.append(known.artifact)
                continue
            folder = self._folder_of(location)
            if folder is not None:
                found.append(folder)  # a file inside a directory() output is part of that artifact
                continue
            if self._local_draft(location):
                todo.append(_Draft(location, state, {}))
        found.extend(self._save(todo))
        return list({id(a): a for a in found}.values())

    def _register_outputs(self, job: Job, files: list[tuple[paths.FileRef, str | None]]) -> list[Any]:
        return self._save(self._output_drafts(job, files))

    def _output_drafts(self, job: Job, files: list[tuple[paths.FileRef, str | None]]) -> list["_Draft"]:
        todo = []
        for ref, kind in files:
            location = ref.location(job.cwd)
            state = None
            if not ref.is_url:
                state = paths.local_state(location)
                if state is None or not self._local_draft(location):
                    continue  # a temp output already removed, or never written (a failed job)
            todo.append(_Draft(location, state, {"kind": kind, "run": job.run}))
        return todo

    def _local_draft(self, location: str) -> bool:
        """Whether a local file or folder can be registered in place; registers its folder if needed."""
        if os.path.isdir(location) and paths.is_empty_dir(location):
            return False
        # Registration follows symlinks: check (and if need be register) where the bytes really are,
        # so that nothing is ever copied into managed storage.
        real = os.path.realpath(location)
        if not self._inside_location(real):
            self._register_location(os.path.dirname(real), "Folder of files a Snakemake workflow used")
        return True

    def _save(self, drafts: list["_Draft"]) -> list[Any]:
        """Register artifacts in one transaction; on a file error, one by one, skipping bad files."""
        return [artifact for _draft, artifact in self._save_pairs(drafts)]

    def _save_pairs(self, drafts: list["_Draft"]) -> list[tuple["_Draft", Any]]:
        if not drafts:
            return []
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.saving import save_artifacts

        pairs: list[tuple[_Draft, Any]] = []
        try:
            built = [(d, self._build(d)) for d in drafts]
            built = [(d, a) for d, a in built if a is not None]
            saved = save_artifacts([a for _d, a in built], instance=self._instance) if built else []
            pairs = [(d, s) for (d, _a), s in zip(built, saved, strict=True)]
        except (FlowtrailError, OSError) as exc:
            if _registry_error(exc):
                raise
            pairs = []
            for draft in drafts:  # a file vanished or became unreadable meanwhile: save the others
                try:
                    artifact = self._build(draft)
                    if artifact is not None:
                        pairs.append((draft, save_artifacts([artifact], instance=self._instance)[0]))
                except (FlowtrailError, OSError) as single:
                    if _registry_error(single):
                        raise
                    logger.debug("skipping %s: %s", draft.location, single)
        for draft, artifact in pairs:
            self._known[draft.location] = Known(artifact, draft.state)
            if artifact.kind == "folder":
                self._folders[draft.location] = artifact
        return pairs

    def _build(self, draft: "_Draft") -> Any:
        from flowtrail.core.artifact import Artifact
        from flowtrail.core.errors import FlowtrailError

        hash_mode = self.options.hash_mode if draft.state is not None else "full"
        try:
            return Artifact(draft.location, hash_mode=hash_mode, **draft.kwargs)
        except (FlowtrailError, OSError) as exc:  # vanished since we looked
            logger.debug("skipping %s: %s", draft.location, exc)
            return None

    def _folder_of(self, location: str) -> Any:
        for folder, artifact in self._folders.items():
            if location.startswith(folder.rstrip("/") + "/"):
                return artifact
        return None

    # -- OpenLineage: a job's START goes out once its inputs are linked -------------------------
    def _hook_emitter(self, emitter: Any) -> None:
        from flowtrail.core.tracking import add_run_listener, remove_run_listener

        self._emitter = emitter
        remove_run_listener(emitter.on_run)
        add_run_listener(self._forward)

    def _unhook_emitter(self) -> None:
        if self._emitter is None:
            return
        from flowtrail.core.tracking import add_run_listener, remove_run_listener

        remove_run_listener(self._forward)
        add_run_listener(self._emitter.on_run)
        self._emitter = None

    def _forward(self, event: str, run: Any) -> None:
        if event == "start" and self._holding is threading.current_thread():
            self._held = run  # released by _release_start() after the inputs are linked
            return
        if self._emitter is not None:
            self._emitter.on_run(event, run)

    def _release_start(self) -> None:
        run, self._held = self._held, None
        if run is not None and self._emitter is not None:
            self._emitter.on_run("start", run)

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
            emitter = self._emitter or (self._instance.emitter if self._instance is not None else None)
            self._unhook_emitter()
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
