"""``track()`` and ``finish()``: one run for a whole script or notebook.

Kept free of SQLAlchemy imports: on the embedded SQLite registry, with nothing else to do (no
OpenLineage to emit, no instance connected), the run is written by :mod:`.fast_track` and the
ORM is loaded only if the script uses the registry for anything else. An uncaught exception
marks the run failed; a script that forgets ``finish()`` is completed at exit.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from flowtrail.core.db import config as cfg
from flowtrail.core.errors import TrackingError

if TYPE_CHECKING:
    from flowtrail.core.models.run import Run
    from flowtrail.core.runs.fast_track import FastRun

_record: Run | None = None  # the script's run as an ORM record, once loaded
_fast: FastRun | None = None  # the script's run as written by the fast path
_journaled: Any = None  # the script's run while the registry is unavailable (see script_journal.py)
_hooks_installed = False


class TrackedRun:
    """What ``track()`` returns on the fast path: ``uid`` and ``id`` at once, the rest on first use."""

    def __init__(self, fast: FastRun) -> None:
        self._fast = fast

    @property
    def uid(self) -> str:
        return self._fast.uid

    @property
    def id(self) -> int:  # noqa: A003
        return self._fast.id

    def __getattr__(self, name: str) -> Any:
        return getattr(_load(self._fast), name)

    def __repr__(self) -> str:
        return f"Run(uid={self.uid!r})"


def _load(fast: FastRun) -> Run:
    from flowtrail.core.db.context import current
    from flowtrail.core.models.run import Run

    session = current().sessions.current()
    try:
        record = session.get(Run, fast.id, populate_existing=True)
    finally:
        current().sessions.end_read()
    if record is None:
        raise TrackingError(f"Run {fast.uid} is no longer in the registry.")
    return record


def script_run() -> Run | None:
    """The ORM record of the script's run (loading it on first use), or None."""
    global _record
    if _record is None and _fast is not None:
        _record = _load(_fast)
    return _record


def _identity(root: Path | None) -> tuple[str, str, str | None]:
    """Key, type and source of the running script or notebook."""
    main = sys.modules.get("__main__")
    notebook = os.environ.get("JPY_SESSION_NAME")
    if notebook and "ipykernel" in sys.modules:
        path = Path(notebook)
        return path.name, "notebook", path.read_text() if path.is_file() else None
    file = getattr(main, "__file__", None)
    if not file:
        return "interactive", "script", None
    path = Path(file).resolve()
    key = path.name
    if root is not None and path.is_relative_to(root):
        key = path.relative_to(root).as_posix()
    try:
        source = path.read_text()
    except (OSError, UnicodeDecodeError):
        source = None
    return key, "script", source


def _needs_orm() -> bool:
    """True when something beyond writing rows must happen at start: emission, listeners, a live session."""
    from flowtrail.core.openlineage.config import is_configured

    context_module = sys.modules.get("flowtrail.core.db.context")
    if context_module is not None and getattr(context_module, "_current", None) is not None:
        return True
    tracking_module = sys.modules.get("flowtrail.core.runs.tracking")
    if tracking_module is not None and getattr(tracking_module, "_listeners", None):
        return True
    return is_configured()


def track(
    transform: str | None = None,
    *,
    params: dict[str, Any] | None = None,
    description: str | None = None,
    project: Any = None,
) -> Any:
    """Start tracking this script or notebook; ``finish()`` (or the end of the process) ends the run.

    Inside an engine's task (``OPENLINEAGE_PARENT_ID`` set, or an adapter's in-process task) the
    run is a child run of that task's run.

    ``project`` (a name or a Project; default ``FLOWTRAIL_PROJECT``) is created if new; the run
    and every artifact saved in it belong to it.
    """
    global _record, _fast, _journaled
    if _record is not None or _fast is not None or _journaled is not None:
        uid = (_record or _fast or _journaled).uid
        raise TrackingError(f"This process already tracks run {uid}; call flowtrail.finish() before track() again.")
    if project is None:
        project = os.environ.get("FLOWTRAIL_PROJECT", "").strip() or None
    name = project if isinstance(project, str) else getattr(project, "name", None)
    if project is not None and (not isinstance(name, str) or not name.strip()):
        raise TrackingError(f"track(project=...) takes a project name or a Project, not {project!r}.")
    from flowtrail.core.runs.context import environment_parent

    named = environment_parent(strict=True)  # a malformed OPENLINEAGE_PARENT_ID is an error here
    config = cfg.resolve()
    key, kind, source = _identity(config.root)
    _install_exit_hooks()
    try:
        fast_ok = named is None and not _needs_orm() and (project is None or isinstance(project, str))
        if fast_ok and not _journal_waiting(config):
            from flowtrail.core.runs import fast_track

            fast = fast_track.start(config, transform or key, kind, source, params, description, project)
            if fast is not None:
                _fast = fast
                return TrackedRun(fast)
        from flowtrail.core.runs.context import context_run
        from flowtrail.core.runs.tracking import start_run

        # Inside an engine's task (or a run another orchestrator named), the script is a child run of
        # that task run: its own transform with its own source, nested where it ran.
        _record = start_run(
            transform or key, type=kind, source_code=source, params=params, description=description,
            project=project, parent=context_run(),
        )  # fmt: skip
    except Exception as exc:
        from flowtrail.core.runs.script_journal import is_outage, journal_start

        if not is_outage(exc):
            raise
        # The registry cannot take the run now: journal it and let the script run (`flowtrail sync`).
        _journaled = journal_start(config, {
            "key": transform or key, "type": kind, "source": source, "params": _plain(params),
            "description": description, "project": name,
        })  # fmt: skip
        return _journaled
    return _record


def _journal_waiting(config: cfg.InstanceConfig) -> bool:
    """Journaled lineage waits to be recorded: take the full path, whose connection replays it."""
    from flowtrail.core.runs.journal import pending_files

    try:
        return bool(pending_files(config))
    except OSError:
        return False


def _plain(params: dict[str, Any] | None) -> Any:
    from flowtrail.core.util.params import jsonable

    return jsonable(params) if params else None


def finish(status: str = "completed", *, error: str | None = None) -> Any:
    """End the run started by ``track()``."""
    global _record, _fast, _journaled
    record, fast, journaled = _record, _fast, _journaled
    if record is None and fast is None and journaled is None:
        raise TrackingError("finish() was called without track(): call flowtrail.track() at the start of the script.")
    _record, _fast, _journaled = None, None, None
    from flowtrail.core.runs import script_journal

    if journaled is not None:
        return script_journal.journal_finish(journaled, status, error)
    try:
        if record is None and fast is not None:
            from flowtrail.core.runs import fast_track

            fast_track.finish(fast, status, error)
            return TrackedRun(fast)
        from flowtrail.core.runs.tracking import finish_run

        return finish_run(record, status, error=error)  # type: ignore[arg-type]
    except Exception as exc:
        if not script_journal.is_outage(exc):
            raise
        uid = record.uid if record is not None else fast.uid  # type: ignore[union-attr]
        return script_journal.journal_late_finish(uid, status, error)


def _install_exit_hooks() -> None:
    global _hooks_installed
    if _hooks_installed:
        return
    _hooks_installed = True
    previous_hook = sys.excepthook

    def excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        if _tracking() and threading.current_thread() is threading.main_thread():
            status = "aborted" if issubclass(kind, KeyboardInterrupt) else "failed"  # Ctrl-C is not a failure
            try:
                finish(status, error=f"{kind.__name__}: {value}")
            except Exception:
                pass
        previous_hook(kind, value, tb)

    sys.excepthook = excepthook
    _install_termination_handler()

    atexit.register(finish_open_run)


_terminated_by: str | None = None


def finish_open_run() -> None:
    """Finish the script's run if it is still open (at exit; a no-op otherwise, never raises).

    Completed, or aborted when SIGTERM ended the script. The OpenLineage emitter calls it before its
    own flush at exit, so the run's COMPLETE is sent (exit handlers run last-in-first-out).
    """
    if _tracking():
        status, error = ("aborted", _terminated_by) if _terminated_by else ("completed", None)
        try:
            finish(status, error=error)
        except Exception:
            pass


def _tracking() -> bool:
    return _record is not None or _fast is not None or _journaled is not None


def _install_termination_handler() -> None:
    """SIGTERM ends the script like Ctrl-C does: unwinding, then the run is finished as aborted at exit.

    The handler only raises SystemExit: writing the run from inside a signal handler could commit
    whatever transaction the interrupted code had open. Handlers set by the script stay untouched.
    """
    import signal

    if threading.current_thread() is not threading.main_thread():
        return
    if signal.getsignal(signal.SIGTERM) is not signal.SIG_DFL:
        return

    def terminated(signum: int, _frame: Any) -> None:
        global _terminated_by
        _terminated_by = f"terminated by {signal.Signals(signum).name}"
        signal.signal(signum, signal.SIG_DFL)  # a second SIGTERM ends the process at once
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)
