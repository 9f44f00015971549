"""Registering the files a workflow's jobs read and write as artifacts, in place.

Files are never copied: a file inside a registered storage location (the workflow's working
directory, or a folder registered earlier) is registered where it is; a file elsewhere first gets
its folder registered as a location. Artifacts registered earlier in this invocation are reused
while the file's size and mtime are unchanged, and a file inside a ``directory()`` output counts
as that folder artifact. An output Snakemake removed before the recorder got to it (a ``temp()``
file) is registered from the hard link :mod:`.holding` made when the job finished, under its own
path; an input that vanished is the artifact registered for that path earlier in this invocation.
Anything else that vanished or cannot be read is skipped.
"""

import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import paths
from .reporting import _registry_error

if TYPE_CHECKING:
    from .jobs import Job

logger = logging.getLogger("flowtrail.snakemake")


@dataclass
class Known:
    """An artifact this workflow run already registered, and the file state it was registered at."""

    artifact: Any
    state: tuple[int, int] | None  # (size, mtime_ns); None for URLs


@dataclass
class _Draft:
    """A file to register: where it is, its state when looked at, and the Artifact() arguments."""

    location: str
    state: tuple[int, int] | None
    kwargs: dict[str, Any]
    held: str | None = None  # a hard link to read the bytes from: the file at ``location`` is gone


class ArtifactCollector:
    """The artifacts and storage locations of one Snakemake invocation, registered as needed.

    :attr:`instance` is set once the recorder has connected; nothing is registered before.
    """

    def __init__(self, hash_mode: str) -> None:
        self.hash_mode = hash_mode  # for local files; URLs are always hashed in full
        self.instance: Any = None
        self._known: dict[str, Known] = {}
        self._folders: dict[str, Any] = {}  # absolute folder path -> its artifact
        self._roots: list[str] = []  # local storage roots, longest first

    # -- storage locations ----------------------------------------------------------------------
    def load_roots(self) -> None:
        from sqlalchemy import select

        from flowtrail.core.storage import Storage

        sessions = self.instance.sessions
        try:
            roots = [s.root for s in sessions.current().scalars(select(Storage)) if s.is_local and not s.is_reference]
        finally:
            sessions.end_read()
        self._roots = sorted(roots, key=len, reverse=True)

    def register_location(self, folder: str, description: str = "Snakemake working directory") -> None:
        from flowtrail.core.instance import register_storage

        storage = register_storage(self.instance, folder, description=description)
        if storage.root not in self._roots:
            self._roots = sorted([*self._roots, storage.root], key=len, reverse=True)

    def _inside_location(self, path: str) -> bool:
        return any(path == root or path.startswith(root.rstrip("/") + "/") for root in self._roots)

    # -- files ----------------------------------------------------------------------------------
    def register_inputs(self, refs: list[paths.FileRef], cwd: str) -> list[Any]:
        found: list[Any] = []
        todo: list[_Draft] = []
        for ref in refs:
            location = ref.location(cwd)
            if ref.is_url:
                known = self._known.get(location)
                if known is not None:
                    found.append(known.artifact)
                else:
                    todo.append(_Draft(location, None, {}))
                continue
            state = paths.local_state(location)
            known = self._known.get(location)
            if state is None:
                if known is not None and not os.path.lexists(location):
                    found.append(known.artifact)  # a temp output Snakemake already removed
                continue  # missing, a pipe, a socket
            if known is not None and known.state == state:
                found.append(known.artifact)
                continue
            folder = self._folder_of(location)
            if folder is not None:
                found.append(folder)  # a file inside a directory() output is part of that artifact
                continue
            if self._local_draft(location):
                todo.append(_Draft(location, state, {}))
        found.extend(self.save(todo))
        return list({id(a): a for a in found}.values())

    def register_outputs(self, job: "Job", files: list[tuple[paths.FileRef, str | None]]) -> list[Any]:
        return self.save(self.output_drafts(job, files))

    def output_drafts(self, job: "Job", files: list[tuple[paths.FileRef, str | None]]) -> list["_Draft"]:
        todo = []
        for ref, kind in files:
            location = ref.location(job.cwd)
            state = None
            held = None
            if not ref.is_url:
                state = paths.local_state(location)
                if state is None:
                    held = job.held.get(location)
                    if held is not None and (self.root_of(location) is None or self.root_of(location) != self.root_of(held)):
                        held = None  # keyed in place only where the link lies in the output's own location
                    state = paths.local_state(held) if held else None
                if state is None or not self._local_draft(location if held is None else held):
                    continue  # never written (a failed job), or gone and not held
            todo.append(_Draft(location, state, {"kind": kind, "run": job.run}, held))
        return todo

    def _local_draft(self, location: str) -> bool:
        """Whether a local file or folder can be registered in place; registers its folder if needed."""
        if os.path.isdir(location) and paths.is_empty_dir(location):
            return False
        # Registration follows symlinks: check (and if need be register) where the bytes really are,
        # so that nothing is ever copied into managed storage.
        real = os.path.realpath(location)
        if not self._inside_location(real):
            self.register_location(os.path.dirname(real), "Folder of files a Snakemake workflow used")
        return True

    def save(self, drafts: list["_Draft"]) -> list[Any]:
        """Register artifacts in one transaction; on a file error, one by one, skipping bad files."""
        return [artifact for _draft, artifact in self.save_pairs(drafts)]

    def save_pairs(self, drafts: list["_Draft"]) -> list[tuple["_Draft", Any]]:
        if not drafts:
            return []
        from flowtrail.core.errors import FlowtrailError
        from flowtrail.core.saving import save_artifacts

        pairs: list[tuple[_Draft, Any]] = []
        try:
            built = [(d, self._build(d)) for d in drafts]
            built = [(d, a) for d, a in built if a is not None]
            saved = save_artifacts([a for _d, a in built], instance=self.instance) if built else []
            pairs = [(d, s) for (d, _a), s in zip(built, saved, strict=True)]
        except (FlowtrailError, OSError) as exc:
            if _registry_error(exc):
                raise
            pairs = []
            for draft in drafts:  # a file vanished or became unreadable meanwhile: save the others
                try:
                    artifact = self._build(draft)
                    if artifact is not None:
                        pairs.append((draft, save_artifacts([artifact], instance=self.instance)[0]))
                except (FlowtrailError, OSError) as single:
                    if _registry_error(single):
                        raise
                    logger.debug("skipping %s: %s", draft.location, single)
        for draft, artifact in pairs:
            if draft.held is not None:
                self._point_at(artifact, draft)
            self._known[draft.location] = Known(artifact, draft.state)
            if artifact.kind == "folder":
                self._folders[draft.location] = artifact
        return pairs

    def _build(self, draft: "_Draft") -> Any:
        from flowtrail.core.artifact import Artifact
        from flowtrail.core.errors import FlowtrailError

        hash_mode = self.hash_mode if draft.state is not None else "full"
        try:
            if draft.held is not None:  # read the bytes through the held link, keyed as the output
                key = self.key_of(draft.location)
                if key is None:
                    return None
                return Artifact(draft.held, key=key, hash_mode=hash_mode, **draft.kwargs)
            return Artifact(draft.location, hash_mode=hash_mode, **draft.kwargs)
        except (FlowtrailError, OSError) as exc:  # vanished since we looked
            logger.debug("skipping %s: %s", draft.location, exc)
            return None

    def root_of(self, location: str) -> str | None:
        """The registered storage location ``location`` lies in (the innermost one), if any."""
        return next((r for r in self._roots if location.startswith(r.rstrip("/") + "/")), None)

    def key_of(self, location: str) -> str | None:
        """The key a file at ``location`` gets in place: its path relative to its storage location."""
        root = self.root_of(location)
        return os.path.relpath(location, root).replace(os.sep, "/") if root is not None else None

    def _point_at(self, artifact: Any, draft: "_Draft") -> None:
        """A new artifact registered through a held link names the output's own path, not the link's."""
        from flowtrail.core.saving import update_artifact

        root = self.root_of(draft.location)
        if root is None or draft.held is None or artifact.path != os.path.relpath(draft.held, root):
            return  # identical content already registered: the existing record keeps its path
        artifact.path = os.path.relpath(draft.location, root)
        update_artifact(artifact)

    def _folder_of(self, location: str) -> Any:
        for folder, artifact in self._folders.items():
            if location.startswith(folder.rstrip("/") + "/"):
                return artifact
        return None
