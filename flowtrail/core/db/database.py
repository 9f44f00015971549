"""Engines, sessions and write transactions for SQLite and PostgreSQL.

Reads use one long-lived session per thread, so records keep working after a query (``artifact.run``
loads lazily). Read transactions are ended after every query, so a process never sits on an old
snapshot. Writes run in :func:`write_transaction`, which serialises writers safely:

- SQLite: WAL journal, ``BEGIN IMMEDIATE`` (the write lock is taken up front, so two processes
  never deadlock upgrading a read lock) and a 60 s busy timeout.
- PostgreSQL: transaction-scoped advisory locks on whatever the writer is about to
  check-then-insert (a key, a content hash), taken in sorted order so writers cannot deadlock.
"""

from __future__ import annotations

import contextlib
import contextvars
import hashlib
import os
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, event, text
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from flowtrail.core.db import failures as registry_errors
from flowtrail.core.db import timeouts as registry_timeouts

SQLITE_BUSY_TIMEOUT_MS = 60_000
_BEGIN_MODE: contextvars.ContextVar[str] = contextvars.ContextVar("flowtrail_begin", default="DEFERRED")


def make_engine(url: str) -> Engine:
    """Create an engine with the settings flowtrail relies on for this database kind."""
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": registry_timeouts.statement_timeout()})
        _configure_sqlite(engine)
        registry_errors.install(engine)
        return engine
    if url.startswith("postgresql://") or url.startswith("postgres://"):
        # Default to psycopg 3, the driver the postgres extra installs.
        url = "postgresql+psycopg://" + url.split("://", 1)[1]
    connect_args: dict[str, Any] = {}
    if url.startswith("postgresql") and "connect_timeout=" not in url:
        connect_args["connect_timeout"] = registry_timeouts.connect_timeout()
    engine = create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    if engine.dialect.name == "postgresql":
        registry_timeouts.install(engine)
    registry_errors.install(engine)
    return engine


def _configure_sqlite(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN, so writers can ask for BEGIN IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        # How long a writer waits for another's lock: 60 s unless FLOWTRAIL_DB_TIMEOUT says otherwise.
        cursor.execute(f"PRAGMA busy_timeout = {round(registry_timeouts.statement_timeout() * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql(f"BEGIN {_BEGIN_MODE.get()}")


class Sessions:
    """One session per thread (and per process: a forked child starts afresh)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._factory = sessionmaker(bind=engine, autoflush=False, expire_on_commit=False)
        self._local = threading.local()
        self._pid = os.getpid()

    def current(self) -> Session:
        if os.getpid() != self._pid:
            # A forked child must not reuse the parent's connections.
            self.engine.dispose(close=False)
            self._local = threading.local()
            self._pid = os.getpid()
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._factory()
            self._local.session = session
        return session

    def end_read(self) -> None:
        """End the thread's read transaction unless the user has unsaved changes pending."""
        session = getattr(self._local, "session", None)
        if session is None or not session.in_transaction():
            return
        if session.new or session.dirty or session.deleted:
            return
        try:
            session.commit()
        except Exception:
            # A read that failed (connection lost, timed out) leaves a transaction only a rollback ends;
            # the caller is already raising the error that says why.
            with contextlib.suppress(Exception):
                session.rollback()

    def close(self) -> None:
        session = getattr(self._local, "session", None)
        if session is not None:
            session.close()
            self._local.session = None


def lock_id(name: str) -> int:
    """A stable signed 64-bit advisory lock id for ``name``."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=8).digest(), "big", signed=True)


@contextmanager
def write_transaction(sessions: Sessions, locks: Iterable[str] = ()) -> Iterator[Session]:
    """Run a write in one transaction holding the given named locks; commit or roll back."""
    session = sessions.current()
    if session.in_transaction():
        session.commit()
    dialect = sessions.engine.dialect.name
    token = _BEGIN_MODE.set("IMMEDIATE" if dialect == "sqlite" else "DEFERRED")
    try:
        session.connection()
    finally:
        _BEGIN_MODE.reset(token)
    try:
        if dialect == "postgresql":
            for name in sorted(set(locks)):
                session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id(name)})
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise


def add_locks(session: Session, locks: Iterable[str]) -> None:
    """Take more advisory locks inside a running write transaction (no-op on SQLite)."""
    if session.get_bind().dialect.name == "postgresql":
        for name in sorted(set(locks)):
            session.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": lock_id(name)})
