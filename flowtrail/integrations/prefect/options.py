"""Settings of a tracked flow, and how a process-pool worker finds the registry.

Both are small picklable dataclasses: Prefect cloudpickles the flow (with its hooks) into
``ProcessPoolTaskRunner`` workers, and the worker's hooks read them there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flowtrail.core.adapter import Instance

DEFAULT_MAX_COPY_BYTES = 100 * 1024 * 1024


@dataclass(frozen=True)
class TrackingOptions:
    """What a tracked flow records.

    - ``save_objects``: save DataFrame/AnnData return values as artifacts (parquet/h5ad).
    - ``max_copy_bytes``: the largest object flowtrail serialises, and the largest file or folder
      outside every registered storage location it copies into managed storage; bigger ones are
      left out (one log line each). Files inside a registered location are never copied.
    - ``workdir``: a folder registered as a storage location at the flow's start, so files in it
      are registered in place under their relative path (None: the working directory; False:
      register nothing).
    - ``project``: the project of the flow run and its task runs (None: the parent run's, else
      ``FLOWTRAIL_PROJECT``).
    """

    save_objects: bool = True
    max_copy_bytes: int = DEFAULT_MAX_COPY_BYTES
    workdir: str | None | bool = None
    project: str | None = None

    def resolved_workdir(self) -> str | None:
        if self.workdir is False:
            return None
        if self.workdir is None or self.workdir is True:
            return os.getcwd()
        return os.path.abspath(os.fspath(self.workdir))


@dataclass(frozen=True)
class InstanceRef:
    """Enough to reconnect to a registry from another process (a process-pool worker)."""

    db_url: str
    root: str | None = None
    storage: str | None = None

    @classmethod
    def of(cls, instance: Instance) -> InstanceRef:
        config = instance.config
        return cls(
            db_url=config.db_url,
            root=str(config.root) if config.root is not None else None,
            storage=config.storage,
        )


_worker_instances: dict[str, Instance] = {}


def instance_for(ref: InstanceRef) -> Instance:
    """The registry ``ref`` names, connected in this process (once) if it is not current already."""
    from flowtrail.core.adapter import connect_for, current
    from flowtrail.core.errors import FlowtrailError

    cached = _worker_instances.get(ref.db_url)
    if cached is not None:
        return cached
    try:
        instance = current()
    except FlowtrailError:
        instance = None
    if instance is None or instance.config.db_url != ref.db_url:
        if ref.root is not None:
            instance = connect_for(ref.root)
        else:
            # This process is a worker started for the flow: its environment is ours to set (the
            # variables the README documents for a registry without a project folder).
            os.environ["FLOWTRAIL_DB_URL"] = ref.db_url
            if ref.storage:
                os.environ["FLOWTRAIL_STORAGE"] = ref.storage
            instance = connect_for()
    _worker_instances[ref.db_url] = instance
    return instance
