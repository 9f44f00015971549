"""Finding or registering the artifacts a Nextflow run reads and writes.

Every file is registered **in place**, never copied: the launch dir is registered as a storage
location (keys like ``work/ab/cdef.../sample.bam``, ``results/sample.bam``, ``data/a.fq``), a local
work dir or publish dir outside it as its own location, remote work dirs under their bucket, and
an input file outside all of these under its folder. The same path is the same artifact
everywhere, so a file an upstream task wrote and a downstream task staged is one artifact.

Files inside a task work dir are immutable once the task has finished (the folder is named
after the task's hash), so a work-dir file already registered under its key is reused without
hashing it again: a ``-resume`` over 50 GB of cached BAMs costs one query per file.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import select

from . import _fs

if TYPE_CHECKING:
    from flowtrail.core.artifact import Artifact
    from flowtrail.core.instance import Instance
    from flowtrail.core.run import Run
    from flowtrail.core.storage import Storage

logger = logging.getLogger("flowtrail")
_WORK_SEGMENT = re.compile(r"/([0-9a-f]{2})/([0-9a-f]{30})(?:/|$)")


def task_hash_of(location: str) -> str | None:
    """The full hash of the task whose work dir holds ``location``, if it lies in one."""
    matches = list(_WORK_SEGMENT.finditer(location))
    return matches[-1].group(1) + matches[-1].group(2) if matches else None


@dataclass(frozen=True)
class Wanted:
    """One location to resolve, with what a record created for it gets."""

    location: str
    run: Run | None = None  # the producer of a record created now; existing records keep theirs
    description: str | None = None
    reuse_work_files: bool = True  # a registered work-dir file is reused without hashing


class ArtifactResolver:
    """Location -> Artifact for one Nextflow session, registering what is new."""

    def __init__(self, instance: Instance, *, hash_mode: str = "full") -> None:
        self.instance = instance
        self.hash_mode = hash_mode
        self._cache: dict[str, Artifact] = {}
        self._work_roots: set[str] = set()

    # -- storage locations ------------------------------------------------------------------------
    def storages(self) -> list[Storage]:
        # The instance keeps the list and re-reads it when any process registers a location.
        return self.instance.storages()

    def storage_for(self, location: str, storages: list[Storage] | None = None) -> tuple[Storage, str] | None:
        from flowtrail.core.storage import innermost_storage

        return innermost_storage(self.storages() if storages is None else storages, location)

    def register_root(self, folder: str) -> None:
        """Register a local folder as a storage location unless one already covers it."""
        if _fs.is_url(folder):
            return  # remote objects register their bucket on save
        folder = os.path.realpath(folder)
        if any(s.root == folder for s in self.storages()):
            return
        from flowtrail.core.instance import register_storage

        register_storage(self.instance, folder, "Nextflow (registered by flowtrail's Nextflow adapter)")

    def add_work_root(self, folder: str) -> None:
        """Files below a work dir are immutable per task: reuse their registered records."""
        self._work_roots.add(self.canonical(folder))

    # -- artifacts --------------------------------------------------------------------------------
    @staticmethod
    def canonical(location: str) -> str:
        location = _fs.strip_file_scheme(location)
        return location.rstrip("/") if _fs.is_url(location) else os.path.realpath(location)

    def cached(self, location: str) -> Artifact | None:
        return self._cache.get(self.canonical(location))

    def _in_work_dir(self, location: str) -> bool:
        return any(location == root or location.startswith(root.rstrip("/") + "/") for root in self._work_roots) or (
            task_hash_of(location) is not None
        )

    def _lookup(self, locations: list[str], storages: list[Storage]) -> dict[str, Artifact]:
        """Registered records for immutable work-dir files, without hashing them (one query per storage)."""
        from flowtrail.core.artifact import Artifact

        keys: dict[int, dict[str, str]] = {}  # storage id -> {key: location}
        for location in locations:
            match = self.storage_for(location, storages)
            if match is not None:
                keys.setdefault(match[0].id, {})[match[1]] = location
        found: dict[str, Artifact] = {}
        if not keys:
            return found
        session = self.instance.sessions.current()
        try:
            for storage_id, by_key in keys.items():
                names = list(by_key)
                for start in range(0, len(names), 500):
                    query = select(Artifact).where(
                        Artifact.storage_id == storage_id,
                        Artifact.key.in_(names[start : start + 500]),
                        Artifact.is_latest.is_(True),
                    )
                    for record in session.scalars(query):
                        found[by_key[record.key]] = record
        finally:
            self.instance.sessions.end_read()
        for location, record in list(found.items()):
            if not _fs.is_url(location) and record.kind == "file":
                try:
                    if os.path.getsize(location) == record.size:
                        continue
                except OSError:
                    pass
                del found[location]  # rewritten since (or gone): hash it again
        return found

    def resolve(
        self,
        locations: Iterable[str],
        *,
        run: Run | None = None,
        description: str | None = None,
        reuse_work_files: bool = True,
    ) -> dict[str, Artifact]:
        """``{canonical location: Artifact}`` for the locations that exist, registering new ones.

        ``run`` is the producing run for records created now (``None``: no run made them);
        existing records keep theirs.
        """
        return self.resolve_many([Wanted(raw, run, description, reuse_work_files) for raw in locations])

    def resolve_many(self, wanted: Iterable[Wanted]) -> dict[str, Artifact]:
        """Resolve many locations with one storage read, one lookup and one save for what is new."""
        from flowtrail.core.artifact import Artifact
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.saving import save_artifacts

        result: dict[str, Artifact] = {}
        todo: dict[str, Wanted] = {}
        for item in wanted:
            location = self.canonical(item.location)
            if location in result or location in todo:
                continue
            hit = self._cache.get(location)
            if hit is not None:
                result[location] = hit
            elif _fs.is_url(location) or os.path.exists(location):
                todo[location] = item
            else:
                logger.debug("nextflow: %s does not exist (any more); not registered", location)
        if not todo:
            return result
        storages = self.storages()
        reusable = [loc for loc, item in todo.items() if item.reuse_work_files and self._in_work_dir(loc)]
        for location, record in self._lookup(reusable, storages).items():
            self._cache[location] = result[location] = record
            del todo[location]
        pending: list[tuple[str, Artifact]] = []
        for location, item in todo.items():
            try:
                if not _fs.is_url(location) and self.storage_for(location, storages) is None:
                    # A local file outside every storage location: register its folder so it stays in place.
                    self.register_root(os.path.dirname(location))
                    storages = self.storages()
                artifact = Artifact(location, run=item.run, description=item.description, hash_mode=self.hash_mode)
                pending.append((location, artifact))
            except FlowtrailError as exc:
                logger.warning("nextflow: cannot register %s: %s", location, exc)
        if not pending:
            return result
        # run=None: a record without its own run has none (not the caller's tracked run), and
        # re-seeing a file is the normal case for an engine: no "already registered" notice.
        try:
            saved: list[Artifact | None] = list(
                save_artifacts([a for _, a in pending], instance=self.instance, run=None, log_duplicates=False)
            )
        except FlowtrailError:
            saved = [self._save_one(location, artifact) for location, artifact in pending]  # one bad file: not all lost
        for (location, _), record in zip(pending, saved, strict=True):
            if record is not None:
                self._cache[location] = result[location] = record
        return result

    def _save_one(self, location: str, artifact: Artifact) -> Artifact | None:
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.saving import save_artifacts

        try:
            return save_artifacts([artifact], instance=self.instance, run=None, log_duplicates=False)[0]
        except FlowtrailError as exc:
            logger.warning("nextflow: cannot register %s: %s", location, exc)
            return None
