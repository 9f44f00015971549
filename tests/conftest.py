"""Shared fixtures: a fresh flowtrail instance per test, plus real PostgreSQL and S3 servers.

- ``instance``: a new SQLite instance in ``tmp_path / "project"``, which is also the working directory.
- ``pg_instance``: the same with its registry in a fresh PostgreSQL database.
- ``postgres_server`` / ``postgres_url``: a throwaway PostgreSQL server for the session, and a
  fresh database on it per test. Needs the server binaries (``scripts/install-test-services``).
- ``s3_server`` / ``s3_bucket``: an in-process moto S3 server for the session, and a fresh
  bucket on it per test. s3fs and boto3 find it through ``AWS_ENDPOINT_URL``.

Every test starts without the outer environment's ``FLOWTRAIL_*`` variables.
"""

from __future__ import annotations

import glob
import logging
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

import flowtrail
from flowtrail.core.db.context import disconnect

INSTALL_HINT = "run scripts/install-test-services to install the PostgreSQL server"


@pytest.fixture(autouse=True)
def _clean_flowtrail_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Keep FLOWTRAIL_* and OPENLINEAGE* settings (the developer's, CI's or a previous test's) out.

    The OpenLineage client itself writes OPENLINEAGE__TRANSPORT__* variables into os.environ when
    it reads OPENLINEAGE_URL, so they are removed again after each test too.
    """
    for name in list(os.environ):
        if name.startswith(("FLOWTRAIL_", "OPENLINEAGE")):
            monkeypatch.delenv(name)
    yield
    for name in list(os.environ):
        if name.startswith("OPENLINEAGE"):
            del os.environ[name]


@pytest.fixture
def validate() -> Callable[[dict[str, Any]], None]:
    """Check an OpenLineage event (and each facet) against the official schemas; raises if invalid."""
    from openlineage_schema import SPEC_DIR, validate_event

    if not (SPEC_DIR / "2-0-2" / "OpenLineage.json").is_file():
        pytest.fail(f"the OpenLineage schemas are missing at {SPEC_DIR}")
    return validate_event


@pytest.fixture
def instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[flowtrail.Instance]:
    """A fresh SQLite instance in ``tmp_path / "project"``, current and the working directory."""
    project = tmp_path / "project"
    inst = flowtrail.init(project)
    monkeypatch.chdir(project)
    yield inst
    disconnect()


@pytest.fixture
def pg_instance(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, postgres_url: str) -> Iterator[flowtrail.Instance]:
    """A fresh instance in ``tmp_path / "project"`` whose registry is a new PostgreSQL database."""
    project = tmp_path / "project"
    inst = flowtrail.init(project, db=postgres_url)
    monkeypatch.chdir(project)
    yield inst
    disconnect()


# -- PostgreSQL ---------------------------------------------------------------------------------


def _missing(message: str) -> None:
    """Skip on a developer's machine; fail on CI (CI=true), where the services must be installed."""
    if os.environ.get("CI", "").lower() not in ("", "0", "false"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _postgres_bindir() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres: from PATH, else the newest Debian install."""
    names = ("initdb", "pg_ctl", "postgres")
    found = shutil.which("initdb")
    candidates = [Path(found).resolve().parent] if found else []
    candidates += sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin")),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
        reverse=True,
    )
    for folder in candidates:
        if all(os.access(folder / name, os.X_OK) for name in names):
            return folder
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class PostgresServer:
    url: str  # postgresql://USER@127.0.0.1:PORT, without a database
    port: int
    user: str

    def admin_connect(self):  # noqa: ANN201 - a psycopg connection
        import psycopg

        return psycopg.connect(f"{self.url}/postgres", autocommit=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A throwaway PostgreSQL server on 127.0.0.1 for the whole session (fsync off: data is scratch).

    PostgreSQL refuses to run as root, so as root the server runs as ``nobody`` (via runuser).
    """
    bindir = _postgres_bindir()
    if bindir is None:
        _missing(f"PostgreSQL server binaries (initdb, pg_ctl, postgres) not found: {INSTALL_HINT}")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        _missing("psycopg is not installed: pip install -e '.[test]'")

    as_root = os.geteuid() == 0
    # /tmp is traversable by every user; pytest's own tmp folders are private to the test user.
    base = Path(tempfile.mkdtemp(prefix="flowtrail-pg-", dir="/tmp" if as_root else None))
    if as_root:
        shutil.chown(base, "nobody")

    def run(*command: str | os.PathLike[str]) -> subprocess.CompletedProcess[str]:
        argv = [str(c) for c in command]
        if as_root:
            argv = ["runuser", "-u", "nobody", "--", *argv]
        return subprocess.run(argv, cwd=base, capture_output=True, text=True, timeout=120)

    data, log = base / "data", base / "server.log"
    user = "flowtrail"
    result = run(bindir / "initdb", "-D", data, "-U", user, "--auth=trust", "--no-locale", "-E", "UTF8", "--no-sync")
    if result.returncode != 0:
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"initdb failed:\n{result.stdout}\n{result.stderr}", pytrace=False)

    port = 0
    for _attempt in range(3):  # another process may grab the free port before the server binds it
        port = _free_port()
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={base} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        result = run(bindir / "pg_ctl", "-D", data, "-l", log, "-o", options, "-w", "-t", "60", "start")
        if result.returncode == 0:
            break
    else:
        server_log = log.read_text() if log.exists() else ""
        shutil.rmtree(base, ignore_errors=True)
        pytest.fail(f"PostgreSQL did not start:\n{result.stdout}\n{result.stderr}\n{server_log}", pytrace=False)

    server = PostgresServer(url=f"postgresql://{user}@127.0.0.1:{port}", port=port, user=user)
    try:
        yield server
    finally:
        run(bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop")
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The URL of a new, empty database on the session's server; dropped after the test."""
    name = f"test_{uuid.uuid4().hex[:12]}"
    with postgres_server.admin_connect() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield f"{postgres_server.url}/{name}"
    with postgres_server.admin_connect() as conn:
        # FORCE terminates the connections a test (or a child process it started) left open.
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# -- S3 -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    """An in-process moto S3 server on 127.0.0.1; yields its endpoint URL.

    boto3 and s3fs (through aiobotocore) read ``AWS_ENDPOINT_URL``, so flowtrail, the tests and
    any child process a test starts all reach this server without extra configuration.
    """
    try:
        from moto.server import ThreadedMotoServer
    except ImportError:
        _missing("moto[server] is not installed: pip install -e '.[test]'")
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("AWS_ACCESS_KEY_ID", "testing")
        mp.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        mp.setenv("AWS_DEFAULT_REGION", "us-east-1")
        mp.setenv("AWS_ENDPOINT_URL", endpoint)
        for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL_S3"):
            mp.delenv(name, raising=False)
        try:
            yield endpoint
        finally:
            server.stop()


def _forget_s3_filesystems() -> None:
    """Drop cached s3fs instances (and their listing caches) so the next use starts fresh."""
    import s3fs

    from flowtrail.core.models.storage import filesystem

    s3fs.S3FileSystem.clear_instance_cache()
    filesystem.cache_clear()


@pytest.fixture
def s3_bucket(s3_server: str) -> Iterator[str]:
    """A new, empty bucket on the session's S3 server; yields ``s3://NAME``."""
    import boto3

    name = f"flowtrail-test-{uuid.uuid4().hex[:12]}"
    boto3.client("s3").create_bucket(Bucket=name)
    _forget_s3_filesystems()
    yield f"s3://{name}"
    _forget_s3_filesystems()

