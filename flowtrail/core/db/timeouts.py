"""Bounded waits on PostgreSQL: a hung server costs seconds, not minutes.

- Connecting gives up after ``FLOWTRAIL_DB_CONNECT_TIMEOUT`` seconds (default 10; libpq's
  ``connect_timeout``).
- A statement or commit that gets no answer within ``FLOWTRAIL_DB_TIMEOUT`` seconds (default 60,
  like SQLite's busy timeout) has its connection cut by a watchdog thread. A server-side
  ``statement_timeout`` cannot do this: a stopped (SIGSTOP) or frozen server never runs it, and
  its kernel keeps acknowledging TCP, so keepalives never fire either. Cutting the socket makes
  the waiting call fail at once; the error names the bound.

Lock waits count too, so the bound also caps how long a writer waits for another writer's
advisory lock (as the busy timeout does on SQLite).
"""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import TYPE_CHECKING, Any

from flowtrail.core.errors import RegistryUnavailable

if TYPE_CHECKING:  # imported lazily: the fast track() path reads the bounds without SQLAlchemy
    from sqlalchemy.engine import Engine

ENV_CONNECT = "FLOWTRAIL_DB_CONNECT_TIMEOUT"
ENV_STATEMENT = "FLOWTRAIL_DB_TIMEOUT"


def _seconds(variable: str, default: float) -> float:
    try:
        value = float(os.environ.get(variable, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


def connect_timeout() -> int:
    """Seconds a new PostgreSQL connection may take (libpq wants a whole number, at least 2)."""
    return max(2, round(_seconds(ENV_CONNECT, 10)))


def statement_timeout() -> float:
    """Seconds a statement or commit may wait for the server's answer."""
    return _seconds(ENV_STATEMENT, 60)


class _Watchdog:
    """One daemon thread that cuts connections whose deadline passed; arming is a dict write."""

    def __init__(self) -> None:
        self._deadlines: dict[int, tuple[float, int]] = {}  # id(dbapi connection) -> (deadline, socket fd)
        self.cut: set[int] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def arm(self, dbapi_connection: Any, seconds: float) -> None:
        try:
            fd = int(dbapi_connection.pgconn.socket)
        except Exception:  # not psycopg, or not connected: nothing to cut
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._watch, name="flowtrail-db-watchdog", daemon=True)
                self._thread.start()
            self._deadlines[id(dbapi_connection)] = (time.monotonic() + seconds, fd)

    def disarm(self, dbapi_connection: Any) -> None:
        with self._lock:
            self._deadlines.pop(id(dbapi_connection), None)

    def was_cut(self, dbapi_connection: Any) -> bool:
        with self._lock:
            return id(dbapi_connection) in self.cut

    def _watch(self) -> None:
        while True:
            time.sleep(0.25)
            now = time.monotonic()
            with self._lock:
                due = [(key, fd) for key, (deadline, fd) in self._deadlines.items() if deadline <= now]
                for key, _fd in due:
                    del self._deadlines[key]
                    self.cut.add(key)
            for _key, fd in due:
                _cut(fd)


def _cut(fd: int) -> None:
    # shutdown() on a duplicate descriptor ends the connection for the blocked reader too.
    try:
        duplicate = socket.socket(fileno=os.dup(fd))
    except OSError:
        return
    try:
        duplicate.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    finally:
        duplicate.close()


_watchdog = _Watchdog()


def install(engine: Engine) -> None:
    """Arm the watchdog around every statement and commit of a PostgreSQL engine."""
    from sqlalchemy import event

    url = engine.url.render_as_string(hide_password=True)

    # The pool's pre-ping talks to the driver directly, past the events below: bound it here.
    ping = engine.dialect.do_ping

    def bounded_ping(dbapi_connection: Any) -> bool:
        _watchdog.arm(dbapi_connection, statement_timeout())
        try:
            return ping(dbapi_connection)
        finally:
            _watchdog.disarm(dbapi_connection)

    engine.dialect.do_ping = bounded_ping  # type: ignore[method-assign]

    def dbapi(connection: Any) -> Any:
        return connection.connection.dbapi_connection

    @event.listens_for(engine, "before_cursor_execute")
    def _before(connection: Any, *_args: Any) -> None:
        _watchdog.arm(dbapi(connection), statement_timeout())

    @event.listens_for(engine, "after_cursor_execute")
    def _after(connection: Any, *_args: Any) -> None:
        _watchdog.disarm(dbapi(connection))

    @event.listens_for(engine, "commit")
    def _commit(connection: Any) -> None:
        _watchdog.arm(dbapi(connection), statement_timeout())  # disarmed when the connection returns to the pool

    @event.listens_for(engine, "checkin")
    def _checkin(dbapi_connection: Any, _record: Any) -> None:
        _watchdog.disarm(dbapi_connection)

    @event.listens_for(engine, "handle_error")
    def _timed_out(context: Any) -> None:
        connection = context.connection
        raw = getattr(getattr(connection, "connection", None), "dbapi_connection", None) if connection else None
        if raw is None:
            return
        _watchdog.disarm(raw)
        if _watchdog.was_cut(raw):
            raise RegistryUnavailable(
                f"The registry at {url} did not answer within {statement_timeout():g} s, so flowtrail gave up "
                f"(the server may be hung or overloaded; {ENV_STATEMENT} sets the bound). Check the database "
                "server, then retry."
            ) from context.original_exception
