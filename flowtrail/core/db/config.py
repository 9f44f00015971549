"""Where the instance is: discovery like git, plus environment overrides.

An instance is a folder holding ``.flowtrail/config.json``. Code finds it by walking up from
the working directory, or from the environment:

- ``FLOWTRAIL_INSTANCE``: the folder that holds ``.flowtrail/`` (or the ``.flowtrail/`` folder);
- ``FLOWTRAIL_DB_URL``: a database URL; enough on its own for a shared PostgreSQL registry;
- ``FLOWTRAIL_STORAGE``: overrides where managed objects are written.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from flowtrail.core.errors import ConfigurationError, NoInstanceError

DOT_FOLDER = ".flowtrail"
CONFIG_FILE = "config.json"
REGISTRY_FILE = "registry.db"
STORAGE_FOLDER = "storage"
ENV_INSTANCE = "FLOWTRAIL_INSTANCE"
ENV_DB_URL = "FLOWTRAIL_DB_URL"
ENV_STORAGE = "FLOWTRAIL_STORAGE"


@dataclass
class InstanceConfig:
    """The resolved settings of one instance (not yet connected)."""

    db_url: str
    root: Path | None = None  # the folder that holds .flowtrail/, None for a URL-only instance
    storage: str | None = None  # overrides the registry's default storage location
    name: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dot_folder(self) -> Path | None:
        return self.root / DOT_FOLDER if self.root else None

    @property
    def cache_dir(self) -> Path:
        if self.dot_folder is not None:
            return self.dot_folder / "cache"
        base = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
        return base / "flowtrail"


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


def write_config(root: Path, *, db_url: str | None, storage: str | None, name: str) -> Path:
    """Write ``.flowtrail/config.json`` below ``root``; None values mean the embedded defaults."""
    dot = root / DOT_FOLDER
    dot.mkdir(parents=True, exist_ok=True)
    path = dot / CONFIG_FILE
    data = {"name": name, "db_url": db_url, "storage": storage}
    path.write_text(json.dumps(data, indent=2) + "\n")
    return path


def read_config(root: Path) -> InstanceConfig:
    """Read the config of the instance whose ``.flowtrail/`` folder is below ``root``."""
    path = root / DOT_FOLDER / CONFIG_FILE
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise NoInstanceError(
            f"{root} has no {DOT_FOLDER}/{CONFIG_FILE}: run `flowtrail init` there first."
        ) from None
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"Could not read {path}: {exc}. Fix the JSON or re-create it with `flowtrail init`."
        ) from exc
    db_url = data.get("db_url") or sqlite_url(root / DOT_FOLDER / REGISTRY_FILE)
    storage = data.get("storage")
    if storage is None:
        storage = str(root / DOT_FOLDER / STORAGE_FOLDER)
    extra = {k: v for k, v in data.items() if k not in ("db_url", "storage", "name")}
    return InstanceConfig(db_url=db_url, root=root, storage=storage, name=data.get("name"), extra=extra)


def find_root(start: Path) -> Path | None:
    """Walk up from ``start`` to the first folder holding ``.flowtrail/config.json``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / DOT_FOLDER / CONFIG_FILE).is_file():
            return folder
    return None


def instance_name(config: InstanceConfig) -> str:
    """The instance's name: configured, else its folder's name, else its database's name."""
    if config.name:
        return config.name
    if config.root is not None:
        return config.root.name
    from sqlalchemy.engine import make_url

    return make_url(config.db_url).database or "flowtrail"


def resolve(path: str | os.PathLike[str] | None = None) -> InstanceConfig:
    """Find the instance for ``path``, the environment, or the working directory, in that order."""
    if path is not None:
        root = Path(path).resolve()
        if root.name == DOT_FOLDER:
            root = root.parent
        config = read_config(root)
    elif os.environ.get(ENV_INSTANCE):
        root = Path(os.environ[ENV_INSTANCE]).resolve()
        if root.name == DOT_FOLDER:
            root = root.parent
        config = read_config(root)
    else:
        found = find_root(Path.cwd())
        if found is not None:
            config = read_config(found)
        elif os.environ.get(ENV_DB_URL):
            config = InstanceConfig(db_url=os.environ[ENV_DB_URL])
        else:
            raise NoInstanceError(
                f"No flowtrail instance in {Path.cwd()} or its parents. Run `flowtrail init` in your "
                f"project folder, or set {ENV_INSTANCE}=/path/to/project or {ENV_DB_URL}=postgresql://..."
            )
    if os.environ.get(ENV_DB_URL):
        config.db_url = os.environ[ENV_DB_URL]
    if os.environ.get(ENV_STORAGE):
        config.storage = os.environ[ENV_STORAGE]
    return config
