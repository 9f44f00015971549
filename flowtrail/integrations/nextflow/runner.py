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
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .log import LogReader
from .recorder import Recorder
from .trace import TraceReader, trace_config

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.run import Run

logger = logging.getLogger("flowtrail")
LOG_NAME = ".nextflow.log"
LOG_ROTATIONS = 9
PUBLISH_TRACE = "-trace nextflow.processor.PublishDir"
STOP_TIMEOUT_S = 60.0


@dataclass
class NextflowResult:
    """What :func:`run` returns."""

    run: Run  # the session run
    return_code: int
    launch_dir: str
    state_dir: str  # trace, config, console output of this run
    trace_file: str | None
    registration_s: float  # from the end of the nextflow process to the last record written

    @property
    def ok(self) -> bool:
        return self.return_code == 0


class _LaunchFailed(Exception):
    """Nextflow exited without writing a log: nothing for nextflowpy to poll."""


def _import_nextflowpy() -> Any:
    """nextflowpy, imported only now: it is GPL-3.0 and an optional extra."""
    from flowtrail.core.errors import ConfigurationError

    try:
        import nextflow
    except ImportError:
        raise ConfigurationError(
            "flowtrail nextflow run needs nextflowpy (GPL-3.0): pip install 'flowtrail[nextflow]'."
        ) from None
    except Exception as exc:  # NextflowNotInstalledError: no `nextflow` executable on PATH
        if type(exc).__name__ != "NextflowNotInstalledError":
            raise
        raise ConfigurationError(
            "No `nextflow` executable on PATH. Install Nextflow the usual way "
            "(https://www.nextflow.io/docs/latest/install.html) and put it on PATH."
        ) from None
    return nextflow


# -- arguments --------------------------------------------------------------------------------------


@dataclass
class _Args:
    passthrough: list[str]
    configs: list[str]
    trace_file: str | None


def split_args(args: Sequence[str], launch_dir: str) -> _Args:
    """Separate ``-c FILE`` (moved before flowtrail's config) and a ``-with-trace FILE`` we must read."""
    from flowtrail.core.errors import FlowtrailError

    passthrough: list[str] = []
    configs: list[str] = []
    trace_file = None
    items = list(args)
    i = 0
    while i < len(items):
        arg = items[i]
        if arg in ("-c", "-config") and i + 1 < len(items):
            path = items[i + 1]
            configs.append(path if os.path.isabs(path) else os.path.join(launch_dir, path))
            i += 2
            continue
        if arg in ("-bg", "-background"):
            raise FlowtrailError("flowtrail nextflow run cannot follow a pipeline sent to the background (-bg).")
        if arg == "-with-trace" and i + 1 < len(items) and not items[i + 1].startswith("-"):
            value = items[i + 1]
            trace_file = value if os.path.isabs(value) else os.path.join(launch_dir, value)
        passthrough.append(arg)
        i += 1
    return _Args(passthrough, configs, trace_file)


def rotate_log(launch_dir: str) -> None:
    """Rotate ``.nextflow.log`` to ``.nextflow.log.1`` (keeping 9), as Nextflow does at start."""
    base = os.path.join(launch_dir, LOG_NAME)
    if not os.path.exists(base):
        return
    oldest = f"{base}.{LOG_ROTATIONS}"
    if os.path.exists(oldest):
        os.unlink(oldest)
    for index in range(LOG_ROTATIONS - 1, 0, -1):
        if os.path.exists(f"{base}.{index}"):
            os.replace(f"{base}.{index}", f"{base}.{index + 1}")
    os.replace(base, f"{base}.1")


def rewrite_command(command: str, *, launch_dir: str, pipeline: str, args: Sequence[str], files: dict[str, str]) -> str:
    """nextflowpy's shell command with our changes (see the module docstring)."""
    from flowtrail.core.errors import FlowtrailError

    def replace(text: str, old: str, new: str) -> str:
        if old not in text:
            raise FlowtrailError(
                f"nextflowpy built an unexpected command (no {old!r} in {text!r}); this flowtrail supports "
                "nextflowpy 0.13: pip install 'nextflowpy>=0.13,<0.14'."
            )
        return text.replace(old, new, 1)

    prefix = f"cd {launch_dir}; "
    if command.startswith(prefix):
        command = command[len(prefix) :]  # we start the shell in the launch dir ourselves
    q = shlex.quote
    command = replace(command, ":>rc.txt; ", f":>{q(files['rc'])}; ")
    command = replace(command, " >stdout.txt 2>stderr.txt; echo $? >rc.txt",
                      f" >{q(files['stdout'])} 2>{q(files['stderr'])}; echo $? >{q(files['rc'])}")  # fmt: skip
    command = replace(command, "nextflow -Duser.country=US ", f"nextflow -Duser.country=US {PUBLISH_TRACE} ")
    if args:
        command = replace(command, f" run {pipeline} ", f" run {pipeline} {shlex.join(args)} ")
    return command


class _IO:
    """nextflowpy's ``io`` hook: local reads, with our file locations and a dead-launch guard."""

    def __init__(self, launch_dir: str, files: dict[str, str], process: Callable[[], subprocess.Popen[Any] | None]):
        self.log = os.path.join(launch_dir, LOG_NAME)
        self.redirects = {os.path.join(launch_dir, f"{name}.txt"): path for name, path in files.items()}
        self.process = process

    def abspath(self, path: str) -> str:
        return os.path.abspath(path)

    def listdir(self, path: str) -> list[str]:
        return os.listdir(path)

    def glob(self, pattern: str) -> list[str]:
        # nextflowpy globs <launch>/work/*/* at every poll to find work dirs (only under the
        # launch dir, and slow on a big work dir), then re-reads every unfinished task's
        # .command.out/.err/.sh. flowtrail takes work dirs from the trace and the log, so polls
        # skip all of that: without paths, nextflowpy only parses the log.
        return []

    def ctime(self, path: str) -> dt.datetime:
        return dt.datetime.fromtimestamp(os.path.getctime(path))

    def read(self, path: str) -> str:
        target = self.redirects.get(os.path.normpath(path), path)
        try:
            with open(target, errors="replace") as handle:
                return handle.read()
        except FileNotFoundError:
            process = self.process()
            if target == self.log and process is not None and process.poll() is not None:
                raise _LaunchFailed from None
            raise


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    if value is None:
        return None
    return value.astimezone(dt.UTC)  # nextflowpy's times are naive local times from the log


class _Echo:
    """Prints what Nextflow writes to its console as it arrives."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.offsets = {"stdout": 0, "stderr": 0}

    def __call__(self, name: str, text: str | None) -> None:
        if not self.enabled or not text:
            return
        new = text[self.offsets[name] :]
        if new:
            stream = sys.stdout if name == "stdout" else sys.stderr
            stream.write(new)
            stream.flush()
            self.offsets[name] = len(text)

    def file(self, name: str, path: str) -> None:
        try:
            with open(path, errors="replace") as handle:
                self(name, handle.read())
        except FileNotFoundError:
            pass


def run(
    pipeline: str,
    args: Sequence[str] = (),
    *,
    launch_dir: str | os.PathLike[str] | None = None,
    instance: Instance | None = None,
    poll_interval: float = 0.5,
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
    """
    from flowtrail.core.instance import current

    nextflow = _import_nextflowpy()
    inst = instance or current()
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

    recorder = Recorder(
        launch, pipeline=pipeline, cli_args=parsed.passthrough, instance=inst, lineage_store=lineage_store,
        hash_mode=hash_mode, tasks_from_log=False, expect_trace=trace, project=project,
    )  # fmt: skip
    log_reader = LogReader(os.path.join(launch, LOG_NAME), year=dt.datetime.now().year)
    trace_reader = TraceReader(trace_file)
    echo_out = _Echo(echo)
    seen: set[str] = set()
    failure: list[BaseException] = []

    def feed(execution: Any) -> None:
        if execution is not None:
            echo_out("stdout", execution.stdout)
            echo_out("stderr", execution.stderr)
        if failure:
            return  # registration broke: let the pipeline finish, say so at the end
        try:
            register(execution)
        except Exception as exc:  # a registry problem must not take the pipeline down
            logger.exception("registering the Nextflow run failed; the pipeline continues unregistered")
            failure.append(exc)

    def register(execution: Any) -> None:
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
        recorder.step()

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
    if failure:
        from flowtrail.core.errors import FlowtrailError

        raise FlowtrailError(
            f"Nextflow finished (exit status {return_code}) but registering it failed: {failure[0]}. "
            f"Fix the cause, then register the run from its files: flowtrail nextflow import {launch}"
        ) from failure[0]
    recorder.log_events(log_reader.read(final=True))
    recorder.trace_records(trace_reader.read_all())
    error = None
    if recorder.info.session_id is None and return_code != 0:
        error = _console_error(files)
    session_run = recorder.close(130 if aborted and return_code == 0 else return_code, aborted=aborted, error=error)
    registration = max(0.0, time.time() - ended_at)
    return NextflowResult(
        session_run, 130 if aborted else return_code, launch, str(state), trace_file if trace else None, registration
    )


def _mtime(path: str) -> float | None:
    try:
        if os.path.getsize(path) > 0:
            return os.path.getmtime(path)
    except OSError:
        pass
    return None


def _return_code(path: str, process: subprocess.Popen[Any] | None) -> int:
    try:
        text = Path(path).read_text().strip()
        if text.lstrip("-").isdigit():
            return int(text)
    except OSError:
        pass
    if process is not None and process.returncode not in (None, 0):
        return int(process.returncode) if process.returncode > 0 else 128 - process.returncode
    return 1


def _console_error(files: dict[str, str]) -> str | None:
    for name in ("stderr", "stdout"):
        try:
            text = Path(files[name]).read_text(errors="replace").strip()
        except OSError:
            continue
        if text:
            return "\n".join(text.splitlines()[-20:])[:2000]
    return None


def _stop(process: subprocess.Popen[Any] | None, feed: Callable[[Any], None]) -> None:
    """Ask Nextflow to stop (SIGINT to its process group), keep registering, then force it.

    Task processes that outlive Nextflow (a task's children run in the background of its wrapper,
    so they ignore SIGINT) are in the same process group: they get SIGTERM, then SIGKILL.
    """
    if process is None:
        return
    if process.poll() is None:
        _signal_group(process, signal.SIGINT)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while process.poll() is None and time.monotonic() < deadline:
            try:
                feed(None)
                time.sleep(0.5)
            except KeyboardInterrupt:  # a second Ctrl-C: stop waiting
                break
    if process.poll() is None:
        _signal_group(process, signal.SIGKILL)
        process.wait()
    _signal_group(process, signal.SIGTERM)
    time.sleep(0.2)
    _signal_group(process, signal.SIGKILL)


def _signal_group(process: subprocess.Popen[Any], signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signum)


def _sigterm_as_interrupt() -> Callable[[], None]:
    """While the pipeline runs, SIGTERM stops it like Ctrl-C (registering what finished)."""
    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def handler(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, handler)
    return lambda: signal.signal(signal.SIGTERM, previous)
