"""The software environment of a run, captured once per environment and reused by hash.

Listing installed distributions costs tens of milliseconds, so the result is cached per Python
prefix, keyed by the modification times of the site-packages folders (installing or removing a
package changes them). A run then only looks the hash up.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import platform
import site
import sys
from pathlib import Path
from typing import Any

from sqlalchemy import String, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from .record import Record, utcnow


class Environment(Record):
    """A Python environment: interpreter, platform and installed distributions."""

    __tablename__ = "environment"
    _search_fields = ("hash", "python_version", "platform")
    _dataframe_hidden = ("packages",)

    id: Mapped[int] = mapped_column(primary_key=True)
    hash: Mapped[str] = mapped_column(String(64), unique=True)
    python_version: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str] = mapped_column(String(256))
    packages: Mapped[dict[str, Any]]
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)

    @property
    def uid(self) -> str:
        return self.hash[:16]

    def _repr_fields(self) -> list[tuple[str, Any]]:
        return [("hash", self.hash[:12]), ("python_version", self.python_version), ("n_packages", len(self.packages))]


def _site_dirs() -> list[str]:
    dirs = [p for p in {*site.getsitepackages(), site.getusersitepackages()} if os.path.isdir(p)]
    return sorted(dirs)


def _fingerprint() -> str:
    parts = [sys.prefix, sys.version]
    for folder in _site_dirs():
        parts.append(f"{folder}:{os.stat(folder).st_mtime_ns}")
    return hashlib.md5("\n".join(parts).encode()).hexdigest()


def describe_environment() -> dict[str, Any]:
    """Interpreter, platform and every installed distribution with its version."""
    from importlib import metadata

    packages: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata.get("Name")
        if name:
            packages[name.lower()] = dist.version
    return {
        "python_version": platform.python_version(),
        "platform": platform.platform(),
        "packages": dict(sorted(packages.items())),
    }


def environment_hash(description: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(description, sort_keys=True).encode()).hexdigest()


def current_environment(cache_dir: Path) -> tuple[str, dict[str, Any] | None]:
    """The hash of this process's environment, and its description when not cached yet."""
    cache = cache_dir / "environment.json"
    fingerprint = _fingerprint()
    try:
        cached = json.loads(cache.read_text())
        if cached.get("fingerprint") == fingerprint:
            return cached["hash"], None
    except (OSError, ValueError, KeyError):
        pass
    description = describe_environment()
    digest = environment_hash(description)
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint, "hash": digest}))
        os.replace(tmp, cache)
    except OSError:
        pass  # a read-only cache only costs time
    return digest, description


def get_or_create_environment(session: Session, digest: str, description: dict[str, Any] | None) -> Environment:
    """Inside a write transaction: the Environment row for ``digest``, inserted if new."""
    found = session.scalar(select(Environment).where(Environment.hash == digest))
    if found is not None:
        return found
    if description is None:
        description = describe_environment()
    environment = Environment(hash=digest, **description)
    session.add(environment)
    session.flush()
    return environment
