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
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
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


@contextmanager
def quiet_duplicates() -> Iterator[None]:
    """Hide core's "N of M artifacts were already registered" notice while the adapter saves."""
    flowtrail_logger = logging.getLogger("flowtrail")
    flowtrail_logger.addFilter(_quiet_duplicates)
    try:
        yield
    finally:
        flowtrail_logger.removeFilter(_quiet_duplicates)


def _quiet_duplicates(record: logging.LogRecord) -> bool:
    # Re-seeing an input or a re-published file is the normal case for a workflow engine, not
    # news: drop core's per-save "already registered" notice (it would print once per task).
    return not str(record.msg).startswith("%d of %d artifacts were already registered")


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

    def storage_for(self, location: str) -> tuple[Storage, str] | None:
        from flowtrail.core.storage import innermost_storage

        return innermost_storage(self.storages(), location)

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

    def _ensure_covered(self, location: str) -> None:
        if _fs.is_url(location) or self.storage_for(location) is not None:
            return
        # A local file outside every storage location: register its folder so it stays in place.
        self.register_root(os.path.dirname(location))

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

    def _lookup(self, location: str) -> Artifact | None:
        """A registered record for an immutable work-dir file, without hashing it."""
        from flowtrail.core.artifact import Artifact

        match = self.storage_for(location)
        if match is None:
            return None
        storage, key = match
        session = self.instance.sessions.current()
        try:
            found = session.scalar(
                select(Artifact).where(
                    Artifact.storage_id == storage.id, Artifact.key == key, Artifact.is_latest.is_(True)
                )
            )
        finally:
            self.instance.sessions.end_read()
        if found is None:
            return None
        if not _fs.is_url(location) and found.kind == "file":
            try:
                if os.path.getsize(location) != found.size:
                    return None
            except OSError:
                return None
        return found

    def resolve(
        self,
        locations: Iterable[str],
        *,
        run: Run | None = None,
        description: str | None = None,
        descriptions: dict[str, str] | None = None,
        reuse_work_files: bool = True,
    ) -> dict[str, Artifact]:
        """``{canonical location: Artifact}`` for the locations that exist, registering new ones.

        ``run`` is the producing run for records created now; existing records keep theirs.
        """
        from flowtrail.core.artifact import Artifact
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.saving import save_artifacts

        result: dict[str, Artifact] = {}
        pending: list[tuple[str, Artifact]] = []
        for raw in locations:
            location = self.canonical(raw)
            if location in result:
                continue
            hit = self._cache.get(location)
            if hit is not None:
                result[location] = hit
                continue
            if not _fs.is_url(location) and not os.path.exists(location):
                logger.debug("nextflow: %s does not exist (any more); not registered", location)
                continue
            if reuse_work_files and self._in_work_dir(location):
                found = self._lookup(location)
                if found is not None:
                    self._cache[location] = result[location] = found
                    continue
            try:
                self._ensure_covered(location)
                text = (descriptions or {}).get(raw) or description
                pending.append((location, Artifact(location, run=run, description=text, hash_mode=self.hash_mode)))
            except FlowtrailError as exc:
                logger.warning("nextflow: cannot register %s: %s", location, exc)
        if not pending:
            return result
        with quiet_duplicates():
            try:
                saved = save_artifacts([a for _, a in pending], instance=self.instance)
            except FlowtrailError:
                saved = []
                for location, artifact in pending:  # one bad file must not lose the others
                    try:
                        saved.append(save_artifacts([artifact], instance=self.instance)[0])
                    except FlowtrailError as exc:
                        logger.warning("nextflow: cannot register %s: %s", location, exc)
                        saved.append(None)  # type: ignore[arg-type]
        for (location, _), record in zip(pending, saved, strict=True):
            if record is not None:
                self._cache[location] = result[location] = record
        if run is None:
            self._unclaim([record for (_, new), record in zip(pending, saved, strict=True) if record is new])
        return result

    def _unclaim(self, created: list[Artifact]) -> None:
        """Undo core's default of crediting new run-less artifacts to the caller's tracked run.

        ``save_artifacts`` gives an artifact without ``run=`` to ``current_run()``. When a tracked
        Python script calls the runner, an external input would become an output of that script;
        core has no way yet to say "no run", so the link is cleared right after the save.
        """
        from flowtrail.core.tracking import current_run

        ambient = current_run()
        if ambient is None:
            return
        for artifact in created:
            if artifact.run_id == ambient.id:
                artifact.run_id = None
                artifact.save()
