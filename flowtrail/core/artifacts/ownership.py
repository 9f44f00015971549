"""Which managed objects belong to which instance.

Every instance has a random id (the registry setting ``instance_id``) and writes its managed
copies below ``.flowtrail/<instance-id>/`` of its storage location, next to a marker file
``.flowtrail/<instance-id>/.instance.json`` naming the instance. So ``flowtrail storage clean``
only ever looks inside its own prefix: never at the instance folder (``flowtrail init --storage
.`` puts both under one ``.flowtrail/``), never at another instance sharing the bucket, never at
objects written before instances had ids (those sit directly under ``.flowtrail/``; they stay
registered and readable, and clean leaves them alone because it cannot prove whose they are).
"""

from __future__ import annotations

import json
import logging
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from flowtrail.core.db.config import CONFIG_FILE
from flowtrail.core.models.setting import get_setting, setdefault_setting
from flowtrail.core.models.storage import MANAGED_PREFIX, Storage
from flowtrail.core.util.ids import random_base62

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

logger = logging.getLogger("flowtrail")
SETTING = "instance_id"
MARKER = ".instance.json"
_ID = re.compile(r"^[0-9A-Za-z]{12}$")


def instance_id(instance: Instance) -> str:
    """This registry's id, created (once, under the setting's lock) if the registry predates ids."""
    cached = instance.caches.get(SETTING)
    if cached:
        return str(cached)

    value = get_setting(instance, SETTING) or setdefault_setting(instance, SETTING, random_base62(12))
    instance.caches[SETTING] = value
    return str(value)


def managed_prefix(instance: Instance) -> str:
    """Where this instance writes managed objects inside a storage location."""
    return f"{MANAGED_PREFIX}/{instance_id(instance)}"


def ensure_marker(instance: Instance, storage: Storage) -> None:
    """Write the marker naming this instance into its prefix of ``storage`` (once per process)."""
    done = instance.caches.setdefault("ownership_markers", set())
    if storage.root in done:
        return
    location = storage.full_path(f"{managed_prefix(instance)}/{MARKER}")
    fs = storage.fs
    try:
        if not fs.exists(location):
            fs.makedirs(location.rsplit("/", 1)[0], exist_ok=True)
            body = {"instance_id": instance_id(instance), "name": instance.name,
                    "registry": instance.engine.url.render_as_string(hide_password=True)}  # fmt: skip
            with fs.open(location, "w") as handle:
                handle.write(json.dumps(body, indent=2) + "\n")
    except OSError as exc:  # the prefix alone already marks ownership; the marker only explains it
        logger.debug("could not write %s: %s", location, exc)
    done.add(storage.root)


@dataclass
class StorageSurvey:
    """What a storage location's ``.flowtrail/`` folder already holds."""

    instance_folder: bool = False  # an instance's config.json: the storage is an instance's own folder
    other_instances: list[str] = field(default_factory=list)  # names (or ids) of other instances' prefixes
    unmarked_objects: int = 0  # objects written before instance ids (or by an unknown writer)

    def warnings(self, storage_root: str) -> list[str]:
        """One sentence per finding, saying what it means and what to do."""
        found = []
        if self.instance_folder:
            found.append(
                f"The storage {storage_root} holds a flowtrail instance folder (.flowtrail/{CONFIG_FILE}). Managed "
                "copies go to their own subfolder .flowtrail/<instance-id>/ and `flowtrail storage clean` only "
                "looks there, but a separate folder or bucket prefix (--storage PATH) keeps data and registry apart."
            )
        if self.other_instances:
            found.append(
                f"The storage {storage_root} already holds managed objects of other instance(s): "
                f"{', '.join(sorted(self.other_instances))}. Each instance keeps to its own prefix and `storage clean` "
                "never touches another's, but consider one prefix per instance (e.g. s3://bucket/dev, s3://bucket/prod)."
            )
        if self.unmarked_objects:
            found.append(
                f"The storage {storage_root} holds {self.unmarked_objects} managed object(s) of an older instance "
                "(written before instance ids). They are left alone; `storage clean` never deletes them."
            )
        return found


def survey(storage: Storage, own_id: str | None = None) -> StorageSurvey:
    """Inspect ``<storage>/.flowtrail/`` for instance folders and other instances' objects."""
    result = StorageSurvey()
    fs = storage.fs
    root = storage.full_path(MANAGED_PREFIX)
    try:
        listing = fs.ls(root, detail=True)
    except (FileNotFoundError, NotADirectoryError):
        return result
    except OSError as exc:
        logger.debug("could not list %s: %s", root, exc)
        return result
    for info in listing:
        name = info["name"].rstrip("/").rsplit("/", 1)[-1]
        if name == CONFIG_FILE:
            result.instance_folder = True
        elif info.get("type") == "directory" and _ID.match(name):
            if name != own_id:
                result.other_instances.append(_marker_name(fs, f"{root}/{name}/{MARKER}") or name)
        elif re.match(r"^[0-9A-Za-z]{20}", name):
            result.unmarked_objects += 1
    return result


def _marker_name(fs: object, location: str) -> str | None:
    try:
        with fs.open(location, "r") as handle:  # type: ignore[attr-defined]
            data = json.loads(handle.read())
        return f"{data.get('name')} ({data.get('instance_id')})"
    except (OSError, ValueError):
        return None
