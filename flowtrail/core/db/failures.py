"""Database errors turned into :class:`RegistryError` subclasses that name the real cause.

SQLite and PostgreSQL report a refused connection, a read-only file, a full disk or a lock
timeout as one DBAPI ``OperationalError`` each. :func:`install` hooks SQLAlchemy's
``handle_error`` event so that these surface as :class:`RegistryUnavailable`,
:class:`RegistryReadOnly`, :class:`RegistryFull` or :class:`RegistryLocked` with what to do next,
wherever in flowtrail the query ran. Errors flowtrail handles itself (unique violations it
retries, a missing table :meth:`Instance.check_schema` explains) pass through unchanged.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

from flowtrail.core.errors import RegistryError, RegistryFull, RegistryLocked, RegistryReadOnly, RegistryUnavailable

# Lower-case fragments of SQLite's and PostgreSQL's (libpq's, psycopg's) messages, per cause.
_CAUSES: tuple[tuple[type[RegistryError], tuple[str, ...]], ...] = (
    (RegistryReadOnly, ("readonly database", "read-only transaction", "read-only file system")),
    (RegistryFull, ("database or disk is full", "no space left on device", "could not extend file", "disk quota")),
    (RegistryLocked, ("database is locked", "lock timeout", "database table is locked")),
    (RegistryUnavailable, (
        "connection refused", "could not connect", "timeout expired", "connection timeout", "timed out",
        "server closed the connection", "connection is lost", "connection already closed", "consuming input failed",
        "terminating connection", "the database system is", "no route to host", "name or service not known",
        "could not translate host name", "connection reset", "broken pipe", "unable to open database file",
        "statement timeout", "the connection is closed", "bad connection", "ssl syscall error",
    )),
)  # fmt: skip

_ADVICE = {
    RegistryUnavailable: "Check that the database server is running and reachable (host, port, network), then retry.",
    RegistryReadOnly: "Make the registry writable (for SQLite the file and its folder; for PostgreSQL the database "
    "must not be a read-only standby or in default_transaction_read_only), then retry.",
    RegistryFull: "Free space on the disk that holds the registry, then retry.",
    RegistryLocked: "Another process held the registry's write lock too long; retry when it is done, or find the "
    "process that keeps a transaction open.",
}
_WHAT = {
    RegistryUnavailable: "cannot be reached",
    RegistryReadOnly: "is read-only",
    RegistryFull: "is on a full disk",
    RegistryLocked: "stayed locked",
}


def classify(exc: BaseException, url: str, *, is_disconnect: bool = False) -> RegistryError | None:
    """A RegistryError naming the cause of the DBAPI error ``exc``, or None when it is something else."""
    text = str(exc).strip()
    lowered = text.lower()
    kind: type[RegistryError] | None = None
    for candidate, fragments in _CAUSES:
        if any(fragment in lowered for fragment in fragments):
            kind = candidate
            break
    if kind is None and (is_disconnect or "disk i/o error" in lowered):
        kind = RegistryUnavailable
    if kind is None:
        return None
    detail = text.splitlines()[0] if text else exc.__class__.__name__
    if url.startswith("sqlite") and "unable to open database file" in lowered:
        return _sqlite_open_error(url, detail)
    if kind is RegistryUnavailable and url.startswith("sqlite") and _sqlite_disk_full(url):
        kind = RegistryFull
    advice = _ADVICE[kind]
    if url.startswith("sqlite") and kind is RegistryUnavailable:
        advice = "Check that the registry file and its folder exist and are readable, then retry."
    return kind(f"The registry at {url} {_WHAT[kind]} ({detail}). {advice}")


def _sqlite_disk_full(url: str) -> bool:
    """SQLite reports a full disk as a "disk I/O error" when it cannot even create its -shm file."""
    import os

    folder = os.path.dirname(url.split(":///", 1)[-1].split("?", 1)[0]) or "."
    try:
        return os.statvfs(folder).f_bavail == 0
    except OSError:
        return False


def _sqlite_open_error(url: str, detail: str) -> RegistryError:
    """SQLite says "unable to open database file" for a missing file and a read-only folder alike."""
    import os

    path = url.split(":///", 1)[-1].split("?", 1)[0]
    folder = os.path.dirname(path) or "."
    if not os.path.exists(path):
        return RegistryUnavailable(
            f"The registry file {path} does not exist ({detail}). Check FLOWTRAIL_INSTANCE / the instance folder, "
            "or run `flowtrail init` to create a new registry."
        )
    if not os.access(folder, os.W_OK) or not os.access(path, os.W_OK):
        return RegistryReadOnly(
            f"The registry at {url} is read-only ({detail}): SQLite must write the file and its folder "
            f"{folder} (for its -wal and -shm files). Make both writable (or the file system read-write), then retry."
        )
    return RegistryUnavailable(f"The registry at {url} cannot be opened ({detail}). Check the file's permissions.")


def install(engine: Engine) -> None:
    """Raise RegistryError subclasses instead of raw driver errors for the causes above."""
    url = engine.url.render_as_string(hide_password=True)

    @event.listens_for(engine, "handle_error")
    def _name_the_cause(context: Any) -> None:
        if getattr(context, "is_pre_ping", False):
            return  # SQLAlchemy handles a failed ping by reconnecting
        original = context.original_exception
        if original.__class__.__name__ in ("IntegrityError", "ProgrammingError", "DataError"):
            return
        error = classify(original, url, is_disconnect=bool(context.is_disconnect))
        if error is not None:
            raise error from context.sqlalchemy_exception or original


def wrap_unexpected(exc: BaseException, url: str, action: str) -> RegistryError:
    """A RegistryError for any other database error, keeping the driver's words."""
    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    first = detail[0] if detail else exc.__class__.__name__
    return RegistryError(f"The registry at {url} failed while {action}: {first}. Retry; if it persists, "
                         "run `flowtrail info` and report the message.")
