"""Facts about the running process: its user and its software environment.

Listing installed distributions costs tens of milliseconds, so the result is cached per Python
prefix, keyed by the modification times of the site-packages folders (installing or removing a
package changes them). A run then only looks the hash up. Nothing here imports SQLAlchemy, so
the fast ``track()`` path can use it.
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
import platform
import site
import sys
from pathlib import Path
from typing import Any


def current_user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no user database entry, e.g. in some containers
        return None


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
        name = dist.metadata["Name"] if "Name" in dist.metadata else None
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
