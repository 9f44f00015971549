"""Finding or registering the artifacts a Nextflow run reads and writes.

Every file is registered **in place**, never copied: the launch dir is registered as a storage
location (keys like ``work/ab/cdef.../sample.bam``, ``results/sample.bam``, ``data/a.fq``), a local
work dir or publish dir outside it as its own location, remote work dirs under their bucket, and
an input file outside all of these under its folder. The same path is the same artifact
everywhere, so a file an upstream task wrote and a downstream task staged is one artifact.

Files inside a task work dir are immutable once the task has finished (the folder is named
after the task's hash), so a work-dir file already registered under its key is reused without
hashing it again: a ``-resume`` over 50 GB of cached BAMs costs one query per batch of files.

The registry side is the adapter door's :class:`~flowtrail.core.adapter.FileRegistry` (in place,
cached per session, one transaction for the new files of a batch, then one by one); this module
adds what is Nextflow's: canonical paths (links resolved) and which files are work-dir files.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flowtrail.core import adapter
from flowtrail.integrations.nextflow import _fs

if TYPE_CHECKING:
    from flowtrail.core.models import Artifact, Run

_WORK_SEGMENT = re.compile(r"/([0-9a-f]{2})/([0-9a-f]{30})(?:/|$)")
FOLDER_DESCRIPTION = "Nextflow (registered by flowtrail's Nextflow adapter)"


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
    canonical: bool = False  # ``location`` is canonical already (see ArtifactResolver.canonical)


class ArtifactResolver:
    """Location -> Artifact for one Nextflow session, registering what is new (through the door's FileRegistry)."""

    def __init__(
        self,
        instance: adapter.Instance,
        *,
        hash_mode: str = "full",
        on_skip: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.instance = instance
        self.files = adapter.FileRegistry(
            instance, hash_mode=hash_mode, folder_description=FOLDER_DESCRIPTION, on_skip=on_skip
        )
        self._work_roots: set[str] = set()

    # -- storage locations ------------------------------------------------------------------------
    def register_root(self, folder: str) -> None:
        """Register a local folder as a storage location unless one already covers it."""
        if not _fs.is_url(folder):  # remote objects register their bucket on save
            self.files.register_folder(os.path.realpath(folder), FOLDER_DESCRIPTION)

    def covered(self, location: str) -> bool:
        """Whether a local ``location`` lies in a registered storage location."""
        return self.files.root_of(location) is not None

    def add_work_root(self, folder: str) -> None:
        """Files below a work dir are immutable per task: reuse their registered records."""
        self._work_roots.add(self.canonical(folder))

    # -- artifacts --------------------------------------------------------------------------------
    @staticmethod
    def canonical(location: str) -> str:
        location = _fs.strip_file_scheme(location)
        return location.rstrip("/") if _fs.is_url(location) else os.path.realpath(location)

    def cached(self, location: str) -> Artifact | None:
        return self.files.cached(self.canonical(location))

    def _in_work_dir(self, location: str) -> bool:
        return any(location == root or location.startswith(root.rstrip("/") + "/") for root in self._work_roots) or (
            task_hash_of(location) is not None
        )

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
        """Resolve many locations: one lookup for registered work-dir files, one save for what is new."""
        todo: dict[str, Wanted] = {}
        for item in wanted:
            todo.setdefault(item.location if item.canonical else self.canonical(item.location), item)
        if not todo:
            return {}
        known = [
            location for location, item in todo.items()
            if item.reuse_work_files and self._in_work_dir(location) and self.files.cached(location) is None
        ]  # fmt: skip
        if known:
            self.files.registered(known)  # remembered: resolved below without hashing
        specs = [adapter.FileSpec(location, run=item.run, description=item.description) for location, item in todo.items()]
        found = self.files.resolve(specs, reuse=True)
        return {spec.location: artifact for spec, artifact in zip(specs, found, strict=True) if artifact is not None}
