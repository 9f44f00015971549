"""``track()``/``finish()`` on the embedded SQLite registry without importing SQLAlchemy.

Importing SQLAlchemy's ORM takes 0.2-0.3 s on a 2-core machine, more than a short script's
entire budget for provenance. When a script only tracks itself (no OpenLineage to emit, no
instance connected yet), this module writes the transform, environment and run rows with the
standard library's ``sqlite3``, in the same formats SQLAlchemy uses, in one ``BEGIN IMMEDIATE``
transaction each. The ORM takes over as soon as anything else is used: ``current_run()``
materialises the run as a normal record. ``tests/core/runs/test_fast_track.py`` pins that both paths
write identical rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flowtrail.core.db import config as cfg
from flowtrail.core.util.host import current_environment, current_user
from flowtrail.core.util.ids import random_base62, uuid7
from flowtrail.core.util.params import jsonable
from flowtrail.core.util.processes import process_alive, this_host
from flowtrail.core.util.versioning import first_version, successor

SCHEMA_REVISION = "0008"  # must equal instance.SCHEMA_REVISION; a test pins it
_TIME_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy's SQLite dialect stores DateTime


@dataclass
class FastRun:
    """A run started without the ORM: enough to finish it, or to load it as a Run record."""

    id: int
    uid: str
    db_path: str


def _now() -> str:
    return dt.datetime.now(dt.UTC).strftime(_TIME_FORMAT)


def sqlite_path(config: cfg.InstanceConfig) -> str | None:
    """The database file of an embedded-SQLite instance, else None."""
    url = config.db_url
    if not url.startswith("sqlite:///") or "?" in url:
        return None
    return url[len("sqlite:///") :]


def _connect(path: str) -> sqlite3.Connection:
    from flowtrail.core.db.timeouts import (
        statement_timeout,  # standard library only: keeps this path SQLAlchemy-free
    )

    seconds = statement_timeout()
    connection = sqlite3.connect(path, timeout=seconds, isolation_level=None)
    connection.execute(f"PRAGMA busy_timeout = {round(seconds * 1000)}")
    connection.execute("PRAGMA foreign_keys = ON")
    return connection


def start(
    config: cfg.InstanceConfig, key: str, kind: str, source: str | None, params: dict[str, Any] | None,
    description: str | None, project: str | None = None,
) -> FastRun | None:
    """Start a run; None when this registry needs the full path (e.g. a schema to migrate).

    ``project`` names the run's project, created (as :mod:`.projects` creates it) if new.
    """
    path = sqlite_path(config)
    if path is None or not Path(path).is_file():
        return None
    connection = _connect(path)
    try:
        revision = connection.execute("SELECT version_num FROM alembic_version").fetchone()
        if revision is None or revision[0] != SCHEMA_REVISION:
            return None  # the ORM path raises the helpful SchemaVersionError
        digest, described = current_environment(config.cache_dir)
        now = _now()
        user = current_user()
        connection.execute("BEGIN IMMEDIATE")
        try:
            transform_id = _transform(connection, key, kind, source, description, now, user)
            environment_id = _environment(connection, digest, described, now)
            project_id = _project(connection, project.strip(), now, user) if project else None
            uid = str(uuid7())
            _reap(connection, now)
            cursor = connection.execute(
                "INSERT INTO run (uid, transform_id, params, status, started_at, environment_id, engine, "
                "engine_version, created_at, created_by, project_id, pid, host) "
                "VALUES (?, ?, ?, 'started', ?, ?, 'python', ?, ?, ?, ?, ?, ?)",
                (uid, transform_id, json.dumps(jsonable(params)) if params else None, now, environment_id,
                 _python_version(), now, user, project_id, os.getpid(), this_host()),  # fmt: skip
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        return FastRun(id=int(cursor.lastrowid or 0), uid=uid, db_path=path)
    except sqlite3.OperationalError:
        return None  # anything unexpected: let the ORM path do it and explain
    finally:
        connection.close()


def finish(run: FastRun, status: str, error: str | None) -> None:
    connection = _connect(run.db_path)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.execute(
            "UPDATE run SET status = ?, error = COALESCE(?, error), finished_at = COALESCE(finished_at, ?) WHERE id = ?",
            (status, error, _now(), run.id),
        )
        connection.execute("COMMIT")
    finally:
        connection.close()


def _reap(connection: sqlite3.Connection, now: str) -> None:
    """What :func:`flowtrail.core.runs.reaping.reap_runs` does, for the SQLAlchemy-free path."""
    host = this_host()
    rows = connection.execute(
        "SELECT id, pid, created_at FROM run WHERE status IN ('scheduled', 'started') AND host = ? "
        "AND pid IS NOT NULL", (host,),
    ).fetchall()  # fmt: skip
    for run_id, pid, created in rows:
        try:
            created_at = dt.datetime.strptime(str(created), _TIME_FORMAT)
        except ValueError:
            created_at = None
        if not process_alive(int(pid), created_at):
            connection.execute(
                "UPDATE run SET status = 'aborted', error = ?, finished_at = COALESCE(finished_at, ?) WHERE id = ?",
                (f"The process {pid} on {host} ended without finishing this run.", now, run_id),
            )


def _python_version() -> str:
    import platform

    return platform.python_version()


def _transform(
    connection: sqlite3.Connection, key: str, kind: str, source: str | None, description: str | None, now: str,
    user: str | None,
) -> int:
    digest = hashlib.md5(source.encode()).hexdigest() if source is not None else None
    latest = connection.execute(
        "SELECT id, uid, version, hash FROM transform WHERE namespace = '' AND key = ? AND is_latest = 1", (key,)
    ).fetchone()
    if latest is not None and (digest is None or latest[3] == digest):
        return int(latest[0])
    if digest is not None:
        same = connection.execute(
            "SELECT id FROM transform WHERE namespace = '' AND key = ? AND hash = ? LIMIT 1", (key, digest)
        ).fetchone()
        if same is not None:
            return int(same[0])
    uid, version = first_version() if latest is None else successor(str(latest[1]), int(latest[2]))
    if latest is not None:
        connection.execute("UPDATE transform SET is_latest = 0 WHERE id = ?", (latest[0],))
    cursor = connection.execute(
        "INSERT INTO transform (uid, namespace, key, version, is_latest, type, description, source_code, hash, "
        "created_at, created_by) VALUES (?, '', ?, ?, 1, ?, ?, ?, ?, ?, ?)",
        (uid, key, version, kind, description, source, digest, now, user),
    )
    return int(cursor.lastrowid or 0)


def _project(connection: sqlite3.Connection, name: str, now: str, user: str | None) -> int:
    found = connection.execute("SELECT id FROM project WHERE name = ?", (name,)).fetchone()
    if found is not None:
        return int(found[0])
    cursor = connection.execute(
        "INSERT INTO project (uid, name, description, created_at, created_by) VALUES (?, ?, NULL, ?, ?)",
        (random_base62(12), name, now, user),
    )
    return int(cursor.lastrowid or 0)


def _environment(connection: sqlite3.Connection, digest: str, described: dict[str, Any] | None, now: str) -> int:
    found = connection.execute("SELECT id FROM environment WHERE hash = ?", (digest,)).fetchone()
    if found is not None:
        return int(found[0])
    if described is None:
        from flowtrail.core.util.host import describe_environment

        described = describe_environment()
    cursor = connection.execute(
        "INSERT INTO environment (hash, python_version, platform, packages, created_at) VALUES (?, ?, ?, ?, ?)",
        (digest, described["python_version"], described["platform"], json.dumps(described["packages"]), now),
    )
    return int(cursor.lastrowid or 0)
