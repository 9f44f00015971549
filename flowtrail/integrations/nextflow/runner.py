"""``flowtrail nextflow run``: run a pipeline through nextflowpy and register tasks as they run.

The run goes through nextflowpy's ``run_and_poll`` (imported lazily: nextflowpy is GPL-3.0 and an
optional extra). At every poll the adapter takes from nextflowpy's snapshot the run name, the
session UUID and the submitted and cached tasks, and reads itself what nextflowpy cannot tell:
new trace rows (for which it enables a trace with the fields it needs), new log lines (published
files, lineage records, errors) and, per finished task, the work dir (see :mod:`.workdir`).

What the runner changes in nextflowpy's command, through nextflowpy's ``runner`` and ``io`` hooks:

- the user's ``nextflow run`` options are passed through after ``run PIPELINE``; ``-c`` files move
  before flowtrail's own config (Nextflow lets a later ``-c`` win), so the trace settings hold;
- ``-trace nextflow.processor.PublishDir`` makes Nextflow log each published file with its source;
- nextflowpy's ``stdout.txt``/``stderr.txt``/``rc.txt`` go to ``.nextflow/flowtrail/<stamp>/``
  instead of the launch dir (where a pipeline's own ``stdout.txt`` would be overwritten), next
  to the trace and the config; Nextflow's console output is echoed as it arrives;
- the previous ``.nextflow.log`` is rotated before the launch, as Nextflow would do, so the first
  poll cannot read the last run's log as this run's (nextflowpy only guards that for ``resume``);
- if Nextflow exits without writing a log (bad option), the ``io`` hook ends the poll loop, which
  would otherwise wait for that log forever.

The parts live in :mod:`.command_line` (arguments, the rewritten command), :mod:`.launch_files`
(log rotation, console output, exit status), :mod:`.nextflowpy_hooks` (the lazy import, the
``io`` hook) and :mod:`.process_control` (stopping Nextflow); this module runs them.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shlex
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowtrail.core.errors import FlowtrailError
from flowtrail.integrations.nextflow.command_line import PUBLISH_TRACE, rewrite_command, split_args
from flowtrail.integrations.nextflow.launch_files import (
    LOG_NAME,
    LOG_ROTATIONS,
    _console_error,
    _Echo,
    _mtime,
    _return_code,
    rotate_log,
)
from flowtrail.integrations.nextflow.log import LogReader
from flowtrail.integrations.nextflow.nextflowpy_hooks import _IO, _import_nextflowpy, _LaunchFailed, _utc
from flowtrail.integrations.nextflow.process_control import STOP_TIMEOUT_S, _sigterm_as_interrupt, _stop
from flowtrail.integrations.nextflow.recorder import Recorder
from flowtrail.integrations.nextflow.task_context import environment_config
from flowtrail.integrations.nextflow.trace import TraceReader, trace_config

if TYPE_CHECKING:
    from flowtrail.core.adapter import Instance
    from flowtrail.core.models import Run

__all__ = [
    "LOG_NAME",
    "LOG_ROTATIONS",
    "PUBLISH_TRACE",
    "STOP_TIMEOUT_S",
    "NextflowResult",
    "rewrite_command",
    "rotate_log",
    "run",
    "split_args",
]

logger = logging.getLogger("flowtrail")
# Seconds between registry writes while the pipeline runs: the tasks submitted and finished
# meanwhile go in one batch (the cost is per transaction, not per task); the end is written at once.
WRITE_INTERVAL_S = 2.0


@dataclass
class NextflowResult:
    """What :func:`run` returns."""

    run: Run  # the session run
    return_code: int
    launch_dir: str
    state_dir: str  # trace, config, console output of this run
    trace_file: str | None
    registration_s: float  # from the end of the nextflow process to the last record written
    recording_cpu_s: float = 0.0  # CPU time flowtrail spent reading reports and writing records
    setup_cpu_s: float = 0.0  # of which: loading the registry's code and connecting (once per run)

    @property
    def ok(self) -> bool:
        return self.return_code == 0


def run(
    pipeline: str,
    args: Sequence[str] = (),
    *,
    launch_dir: str | os.PathLike[str] | None = None,
    instance: Instance | None = None,
    poll_interval: float = 0.5,
    write_interval: float = WRITE_INTERVAL_S,
    echo: bool = True,
    hash_mode: str = "full",
    lineage_store: str | None = None,
    env: dict[str, str] | None = None,
    trace: bool = True,
    project: str | None = None,
) -> NextflowResult:
    """Run ``nextflow run PIPELINE ARGS`` in ``launch_dir`` (default: here) and register it as it runs.

    Returns the session run and Nextflow's exit status; a failed pipeline is recorded, not raised.
    ``trace=False`` leaves Nextflow's trace off: no resource metrics (Nextflow samples every
    task's processes for them, which costs CPU on short tasks), times from the log instead.
    ``project`` puts the session run and every task run in that flowtrail project (default: the
    enclosing tracked run's project, else ``FLOWTRAIL_PROJECT``); their outputs are linked to it.
    Nextflow's reports are read every ``poll_interval`` seconds and written to the registry every
    ``write_interval`` seconds, the tasks of those polls together (and all that is left at the end).
    """
    from flowtrail.core import adapter

    nextflow = _import_nextflowpy()
    # Where to record is checked now (no instance: an error before Nextflow starts); the registry's
    # code is loaded and the database opened at the first poll, while Nextflow's JVM starts.
    instance_config = instance.config if instance is not None else adapter.current_config()
    launch = os.path.realpath(os.fspath(launch_dir or os.getcwd()))
    parsed = split_args(args, launch)
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}"
    state = Path(launch) / ".nextflow" / "flowtrail" / stamp
    state.mkdir(parents=True, exist_ok=True)
    trace = trace or "-with-trace" in parsed.passthrough  # the user asked for one anyway
    trace_file = parsed.trace_file or str(state / "trace.txt")
    configs = list(parsed.configs)
    if trace:
        config = state / "flowtrail.config"
        config.write_text(trace_config(trace_file))
        configs.append(str(config))
    context = state / "flowtrail-context.config"
    context.write_text(environment_config(adapter.config_namespace(instance_config), f"{pipeline}:task"))
    configs.append(str(context))
    files = {name: str(state / f"{name}.txt") for name in ("stdout", "stderr", "rc")}
    rotate_log(launch)

    holder: dict[str, subprocess.Popen[Any]] = {}
    quoted_pipeline = shlex.quote(pipeline)
    process_env = {**os.environ, **(env or {})}

    def runner(command: str) -> None:
        final = rewrite_command(
            command, launch_dir=launch, pipeline=quoted_pipeline, args=parsed.passthrough, files=files
        )
        logger.debug("nextflow: %s", final)
        # A session of its own: Ctrl-C reaches flowtrail, which stops Nextflow cleanly and
        # still registers what finished.
        holder["process"] = subprocess.Popen(final, shell=True, cwd=launch, env=process_env, start_new_session=True)

    # No journal: the launch dir keeps everything `flowtrail nextflow import` needs to record the run later.
    recording = adapter.Recording("Nextflow")
    made: list[Recorder] = []

    def recorder_now() -> Recorder:
        if not made:
            began = time.thread_time()
            made.append(Recorder(
                launch, pipeline=pipeline, cli_args=parsed.passthrough, instance=instance or adapter.current(),
                lineage_store=lineage_store, hash_mode=hash_mode, tasks_from_log=False,
                expect_trace=trace, project=project, live=True, recording=recording,
            ))  # fmt: skip
            (adapter.start_runs, adapter.finish_runs)  # load what writing needs now, not in the first write
            setup_cpu[0] = time.thread_time() - began
        return made[0]
    log_reader = LogReader(os.path.join(launch, LOG_NAME), year=dt.datetime.now().year)
    trace_reader = TraceReader(trace_file)
    echo_out = _Echo(echo)
    seen: set[str] = set()
    failure: list[BaseException] = []
    cpu = [0.0]  # this thread's CPU in registering (the benchmark reports it per task)
    next_write = [0.0]
    setup_cpu = [0.0]  # of the above: loading the registry's code and connecting, once

    def feed(execution: Any) -> None:
        if execution is not None:
            echo_out("stdout", execution.stdout)
            echo_out("stderr", execution.stderr)
        if failure:
            return  # registration broke: let the pipeline finish, say so at the end
        began = time.thread_time()
        try:
            register(execution)
        except Exception as exc:  # a registry problem must not take the pipeline down
            failure.append(exc)
            if adapter.is_registry_error(exc):
                recording.failed(exc)  # one warning: the pipeline continues, unrecorded
            else:
                logger.exception("registering the Nextflow run failed; the pipeline continues unregistered")
        finally:
            cpu[0] += time.thread_time() - began

    def register(execution: Any) -> None:
        recorder = recorder_now()
        if execution is not None:
            info = recorder.info
            info.run_name = info.run_name or execution.identifier or None
            info.session_id = info.session_id or execution.session_uuid or None
            for task in execution.process_executions:
                if not task.identifier or task.identifier in seen:
                    continue
                seen.add(task.identifier)
                if task.cached:
                    recorder.cached(task.identifier, task.name, None, task.process)
                else:
                    recorder.submitted(task.identifier, task.name, _utc(task.submitted), task.process)
        recorder.log_events(log_reader.read())
        recorder.trace_records(trace_reader.read())
        now = time.monotonic()
        if now >= next_write[0]:  # every poll reads; writes gather the tasks of a few polls
            recorder.step()
            next_write[0] = now + write_interval

    aborted = False
    execution = None
    restore = _sigterm_as_interrupt()
    try:
        try:
            for execution in nextflow.run_and_poll(
                quoted_pipeline,
                run_path=launch,
                configs=configs,
                runner=runner,
                io=_IO(launch, files, lambda: holder.get("process")),
                sleep=poll_interval,
            ):
                feed(execution)
        except _LaunchFailed:
            pass
        except KeyboardInterrupt:
            aborted = True
            _stop(holder.get("process"), feed)
        process = holder.get("process")
        if process is not None:
            try:
                process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                _stop(process, feed)
    except KeyboardInterrupt:
        aborted = True
        _stop(holder.get("process"), feed)
    finally:
        restore()
    ended_at = _mtime(files["rc"]) or time.time()
    echo_out.file("stdout", files["stdout"])
    echo_out.file("stderr", files["stderr"])
    return_code = _return_code(files["rc"], holder.get("process"))

    def registration_failed(cause: BaseException) -> FlowtrailError:
        return FlowtrailError(
            f"Nextflow finished (exit status {return_code}) but registering it failed: {cause}. "
            f"Fix the cause, then register the run from its files: flowtrail nextflow import {launch}"
        )

    if failure:
        raise registration_failed(failure[0]) from failure[0]
    began = time.thread_time()
    try:  # a pipeline short enough to end before the first write registers everything here
        recorder = recorder_now()
        recorder.log_events(log_reader.read(final=True))
        recorder.trace_records(trace_reader.read_all())
        error = None
        if recorder.info.session_id is None and return_code != 0:
            error = _console_error(files)
        session_run = recorder.close(130 if aborted and return_code == 0 else return_code, aborted=aborted, error=error)
    except FlowtrailError:
        raise
    except Exception as exc:
        raise registration_failed(exc) from exc
    registration = max(0.0, time.time() - ended_at)
    cpu[0] += time.thread_time() - began
    return NextflowResult(
        session_run, 130 if aborted else return_code, launch, str(state), trace_file if trace else None, registration,
        cpu[0], setup_cpu[0],
    )  # fmt: skip
