"""``flowtrail nextflow import LAUNCH_DIR``: register a finished run after the fact.

Sources, all in the launch dir (work dirs and the lineage store may be elsewhere, local or on
object storage):

- ``.nextflow/history``: run names, session ids, final status (``OK``/``ERR``) and command lines;
- ``.nextflow.log`` and its rotations ``.nextflow.log.1`` ... ``.9``: one per run, found by the
  run name; submissions, cached tasks, completions with their work dirs, errors, the trace file
  and the lineage store it wrote to;
- the trace file named in the log (or passed with ``--trace``, or a ``*trace*.txt`` whose rows
  match the run's tasks): times, resources, tags; without one, the log's completions are used;
- the work dirs (staged inputs, declared outputs, exit codes, ``.command.err``) and, when the run
  had ``lineage.enabled = true``, the lineage store.

Nextflow itself and nextflowpy are not needed to import.
"""

from __future__ import annotations

import logging
import os
import shlex
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from flowtrail.core.errors import FlowtrailError
from flowtrail.integrations.nextflow import _fs
from flowtrail.integrations.nextflow.log import read_all
from flowtrail.integrations.nextflow.recorder import ENGINE, Recorder
from flowtrail.integrations.nextflow.trace import TraceReader, read_header

if TYPE_CHECKING:
    from flowtrail.core.adapter import Instance
    from flowtrail.core.models import Run

logger = logging.getLogger("flowtrail")
MAX_LOG_ROTATIONS = 9


@dataclass
class HistoryEntry:
    started: str
    duration: str
    name: str
    status: str  # OK, ERR or "-" (still running or killed)
    revision: str
    session_id: str
    command: str


def history(launch_dir: str | os.PathLike[str]) -> list[HistoryEntry]:
    """The runs ``nextflow log`` knows about in this launch dir, oldest first."""
    path = Path(launch_dir) / ".nextflow" / "history"
    entries = []
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return []
    for line in lines:
        cells = line.split("\t")
        if len(cells) >= 7:
            entries.append(HistoryEntry(*cells[:6], "\t".join(cells[6:])))
    return entries


def run_logs(launch_dir: str | os.PathLike[str]) -> dict[str, str]:
    """``{run name: log file}`` for the logs still in the launch dir (the newest wins)."""
    base = Path(launch_dir) / ".nextflow.log"
    found: dict[str, str] = {}
    for index in range(MAX_LOG_ROTATIONS, -1, -1):
        path = base if index == 0 else base.with_name(f".nextflow.log.{index}")
        if not path.is_file():
            continue
        name = None
        with open(path, "rb") as handle:  # the run name is near the top: read only that much
            head = handle.read(256 * 1024)
        for line in head.decode("utf-8", errors="replace").splitlines():
            if " - Run name: " in line:
                name = line.split(" - Run name: ", 1)[1].strip()
                break
        if name:
            found[name] = str(path)
    return found


def find_trace(launch_dir: str, named: str | None) -> str | None:
    """The trace file the run's log names, if it is still there.

    Only the named file is trusted: a ``-resume`` run shares task hashes with the run it resumes,
    so another run's trace would match its tasks and claim they ran again.
    """
    if not named:
        return None
    path = named if os.path.isabs(named) or _fs.is_url(named) else os.path.join(launch_dir, named)
    header = read_header(path)
    return path if header and "hash" in header else None


class AlreadyRegistered(FlowtrailError):
    """The run to import is in the registry already (registered live, or imported before)."""

    def __init__(self, run: Run) -> None:
        super().__init__(f"run {run.name} ({run.uid}) is already registered")
        self.run = run


def _registered(instance: Instance, name: str | None, session_id: str | None) -> Run | None:
    from flowtrail.core.models import Run

    if not name:
        return None
    runs = Run.objects(instance).filter(engine=ENGINE, name=name)
    if session_id:
        runs = runs.filter(reference=session_id)
    return runs.order_by("id").first()


def import_run(
    launch_dir: str | os.PathLike[str] = ".",
    *,
    run: str | None = None,
    trace: str | None = None,
    lineage_store: str | None = None,
    instance: Instance | None = None,
    hash_mode: str = "full",
) -> Run:
    """Register one finished run of the launch dir (the latest, or ``run`` = name or session id).

    Raises :class:`AlreadyRegistered` when that run is in the registry already.
    """
    from flowtrail.core import adapter

    inst = instance or adapter.current()
    launch = os.path.realpath(os.fspath(launch_dir))
    logs = run_logs(launch)
    entries = history(launch)
    if not logs:
        raise FlowtrailError(
            f"No .nextflow.log in {launch}: pass the folder `nextflow run` was started in (its launch dir)."
        )
    if run is None:
        name = next(iter(logs)) if len(logs) == 1 else _latest(logs)
    else:
        matching = [e.name for e in entries if run in (e.name, e.session_id)] or ([run] if run in logs else [])
        if not matching:
            raise FlowtrailError(f"No run named {run!r} (or with that session id) in {launch}/.nextflow/history.")
        name = next((m for m in reversed(matching) if m in logs), None)
        if name is None:
            raise FlowtrailError(
                f"The log of run {matching[-1]!r} is gone (Nextflow keeps the last {MAX_LOG_ROTATIONS + 1} logs)."
            )
    log_file = logs[name]
    events = read_all(log_file)
    session_id = next((e.data["session_id"] for e in events if e.kind == "session"), None)
    existing = _registered(inst, name, session_id)
    if existing is not None:
        raise AlreadyRegistered(existing)
    entry = next((e for e in reversed(entries) if e.name == name), None)
    named_trace = next((e.data["path"] for e in events if e.kind == "trace_file"), None)
    trace_file = trace or find_trace(launch, named_trace)
    command = (entry.command if entry else None) or next((e.data["command"] for e in events if e.kind == "command"), "")
    recorder = Recorder(
        launch, pipeline=None, cli_args=_run_args(command), instance=inst, lineage_store=lineage_store,
        hash_mode=hash_mode, parent=None, tasks_from_log=True, expect_trace=trace_file is not None,
    )  # fmt: skip
    recorder.log_events(events)
    if trace_file is not None:
        recorder.trace_records(TraceReader(trace_file).read_all())
    if entry is not None and entry.status in ("OK", "ERR"):
        return_code: int | None = 0 if entry.status == "OK" else 1
    else:
        return_code = 0 if recorder.info.goodbye and not recorder.info.errors else 1
    finished = recorder.info.last_event_at
    return recorder.close(return_code, finished_at=finished)


def import_all(
    launch_dir: str | os.PathLike[str] = ".", *, instance: Instance | None = None, hash_mode: str = "full"
) -> list[Run]:
    """Register every run whose log is still there and that is not registered yet, oldest first."""
    launch = os.path.realpath(os.fspath(launch_dir))
    logs = run_logs(launch)
    order = [e.name for e in history(launch) if e.name in logs]
    order += [name for name in logs if name not in order]
    runs = []
    for name in order:
        try:
            runs.append(import_run(launch, run=name, instance=instance, hash_mode=hash_mode))
        except AlreadyRegistered as exc:
            logger.info("nextflow: %s", exc)
    return runs


def _latest(logs: dict[str, str]) -> str:
    return min(logs, key=lambda name: _rotation(logs[name]))


def _rotation(path: str) -> int:
    suffix = path.rsplit(".nextflow.log", 1)[1]
    return int(suffix[1:]) if suffix.startswith(".") and suffix[1:].isdigit() else 0


def _run_args(command: str) -> list[str]:
    """The arguments after ``run PIPELINE`` in a logged ``nextflow ... run PIPELINE ARGS`` line."""
    try:
        words = shlex.split(command)
    except ValueError:
        words = command.split()
    if "run" in words:
        index = words.index("run")
        return words[index + 2 :]
    return []
