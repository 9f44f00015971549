"""Reporting an adapter's problems once, and what happens to recording when the registry fails.

An engine adapter must never disturb the workflow it records. Two kinds of failure:

- **one record** could not be written (a file vanished, an unreadable value): the adapter goes on;
  :meth:`Recording.once` says so once per kind of problem, not once per task;
- **the registry** cannot be used (down, read-only, full, locked past its bound, hung, or no
  instance at all): :meth:`Recording.failed` switches recording to the **journal** when the
  failure is one that passes (a :class:`~flowtrail.core.errors.RegistryError`) and the adapter
  can journal, else off, with one warning either way. ``flowtrail sync`` (or the next successful
  connection) replays a journal through the adapter's replayer (see :mod:`flowtrail.core.runs.journal`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from flowtrail.core.errors import ConfigurationError, NoInstanceError, RegistryError, SchemaVersionError

if TYPE_CHECKING:
    from flowtrail.core.runs.journal import JournalWriter

T = TypeVar("T")
logger = logging.getLogger("flowtrail")


def is_registry_error(exc: BaseException) -> bool:
    """Whether ``exc`` means the registry itself is unusable (as opposed to one unreadable file)."""
    from sqlalchemy.exc import SQLAlchemyError

    return isinstance(exc, SQLAlchemyError | ConfigurationError | NoInstanceError | SchemaVersionError | RegistryError)


def is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` is a registry failure that passes (down, locked, full, hung): worth journaling."""
    return isinstance(exc, RegistryError)


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Recording:
    """An adapter's recording state: on, journaling, or off; and the problems already reported.

    ``engine`` names the engine (for the adapter's own messages).
    ``open_journal`` (optional) returns a :class:`~flowtrail.core.runs.journal.JournalWriter` for this
    invocation, or None when there is no instance to journal for; it is called at most once, at
    the first outage. ``on_off`` callbacks run once when recording leaves the registry (journal or
    off): unhook listeners, flush what was kept for the journal. ``log`` is the logger warnings go
    to (default ``flowtrail``); ``before_warning`` runs before each warning. Thread-safe enough for one writer thread; the flags only go one way.
    """

    def __init__(
        self,
        engine: str,
        *,
        open_journal: Callable[[], JournalWriter | None] | None = None,
        log: logging.Logger | None = None,
        before_warning: Callable[[], None] | None = None,
    ) -> None:
        self.engine = engine
        self.before_warning = before_warning  # e.g. ensure_warnings_shown: make sure the warning is seen
        self.open_journal = open_journal
        self.log = log or logger
        self.reported: set[str] = set()
        self.disabled = False  # the registry is not written any more (journal or off)
        self.journal: JournalWriter | None = None
        self.on_off: list[Callable[[Recording], None]] = []

    def once(self, kind: str, message: str) -> bool:
        """Warn with ``message`` unless a problem of this ``kind`` was reported already; True if warned."""
        if kind in self.reported:
            return False
        self.reported.add(kind)
        self._prepare()
        self.log.warning("%s (further such errors are not shown)", message)
        return True

    def guard(self, function: Callable[..., T], *args: Any, what: str = "an event") -> T | None:
        """Call ``function(*args)``; a registry failure switches recording, any other error is reported once.

        Never raises (an ``Exception``); returns None after a failure.
        """
        try:
            return function(*args)
        except Exception as exc:
            if is_registry_error(exc):
                self.failed(exc)
            else:
                self.once(type(exc).__name__, f"could not record {what}: {exc!r}")
                self.log.debug("recording failed", exc_info=True)
            return None

    def failed(self, exc: BaseException) -> None:
        """The registry is unusable: journal from here on (an outage, with a journal to write), else stop."""
        if self.disabled:
            return
        self.disabled = True
        if self.open_journal is not None and is_outage(exc):
            try:
                self.journal = self.open_journal()
            except Exception:  # no journal: recording stops, the workflow goes on
                self.log.debug("could not open a journal", exc_info=True)
        self._prepare()
        if self.journal is not None:
            self.log.warning(
                "the registry is not usable (%s: %s). The workflow continues; it is journaled in %s and "
                "recorded by `flowtrail sync` (or at the next successful connection).",
                type(exc).__name__, first_line(exc), self.journal.path,
            )  # fmt: skip
        else:
            self.log.warning(
                "the registry is not usable (%s: %s). The workflow continues, but it is not recorded from here on.",
                type(exc).__name__, first_line(exc),
            )  # fmt: skip
        for callback in self.on_off:
            try:
                callback(self)
            except Exception:
                self.log.debug("a recording-off callback failed", exc_info=True)

    def _prepare(self) -> None:
        if self.before_warning is not None:
            try:
                self.before_warning()
            except Exception:
                pass


def show_warnings(marker: str = "_flowtrail_adapter") -> None:
    """flowtrail's warnings on stderr, prefixed ``flowtrail:``, and nothing below WARNING.

    For adapters inside an engine's process: per-artifact notices would be noise next to the
    engine's own log. ``marker`` names the handler, so calling this again adds no second one.
    """
    base = logging.getLogger("flowtrail")
    if not any(getattr(h, marker, False) for h in base.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("flowtrail: %(message)s"))
        setattr(handler, marker, True)
        base.addHandler(handler)
    base.setLevel(logging.WARNING)
    base.propagate = False


def ensure_warnings_shown(marker: str = "_flowtrail_adapter") -> None:
    """:func:`show_warnings`, unless the application configured logging (a handler on ``flowtrail`` or the root)."""
    if logging.getLogger("flowtrail").handlers or logging.getLogger().handlers:
        return
    show_warnings(marker)
