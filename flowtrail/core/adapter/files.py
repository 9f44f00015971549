"""The files of one engine invocation as artifacts, registered in place and looked up once.

A workflow engine names files by path, thousands of times: the same input read by many tasks, an
output written by one task and read by the next. :class:`FileRegistry` turns paths into
artifacts for one invocation (a Snakemake run, a Nextflow session, a Prefect flow run):

- **in place, never copied**: a local file inside a registered storage location is registered
  where it is (keyed by its path relative to the location); a file outside every location first
  gets its enclosing folder registered as one (``register_outside=False``: it is copied into
  managed storage instead, as a plain ``save()`` would). URLs are registered where they are.
- **cached per invocation**: a path resolved before is the same artifact while its
  ``(size, mtime_ns)`` is unchanged, without hashing it again; a file inside a folder artifact
  resolved before (a ``directory()`` output, a published folder) is that folder artifact; a file
  that vanished after it was resolved (a temporary output the engine removed) is still the
  artifact it was.
- **one transaction for many**: :meth:`FileRegistry.resolve` saves every new file of a call in one
  ``save_artifacts`` transaction; when one file fails (vanished, unreadable), it saves them one
  by one and leaves out the bad ones. A registry failure is raised (see :mod:`.report`).
- **no producing run by default**, and no "already registered" notice: re-seeing a file is the
  normal case for an engine. An output names its run in :class:`FileSpec`.

Not thread-safe: one recorder thread per registry.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.adapter.report import is_registry_error
from flowtrail.core.artifacts import save as saving
from flowtrail.core.errors import FlowtrailError
from flowtrail.core.instance import register_storage
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.storage import innermost_storage, normalize_location

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance
    from flowtrail.core.models.run import Run

logger = logging.getLogger("flowtrail")

FileState = tuple[int, int]  # (size, mtime_ns) of a local file or folder
MAX_CACHED = 100_000  # paths remembered per invocation; the cache starts over beyond


def is_url(location: str) -> bool:
    return "://" in location and not location.startswith("file://")


def local_path(location: str) -> str:
    """``location`` without a ``file://`` scheme."""
    return location[len("file://") :] if location.startswith("file://") else location


def file_state(path: str) -> FileState | None:
    """``(size, mtime_ns)`` of a regular file or folder; None when missing or not a file (a pipe, a socket).

    FIFOs, sockets and devices are never opened: hashing a named pipe would block forever.
    """
    try:
        st = os.stat(path)
    except OSError:
        return None
    if not (stat.S_ISREG(st.st_mode) or stat.S_ISDIR(st.st_mode)):
        return None
    return st.st_size, st.st_mtime_ns


def is_empty_folder(path: str) -> bool:
    """True for a folder without any file below it (those cannot be registered)."""
    for _root, _dirs, files in os.walk(path):
        if files:
            return False
    return True


@dataclass
class FileSpec:
    """A file to resolve, and how to register it if it is new.

    ``location``: an absolute local path or a URL. ``run``: the run that produced it (an output);
    None for a file no run of this invocation made (an input). ``kind``, ``description`` and
    ``key``: the new artifact's fields (``key`` only where the location's own key would be wrong).
    ``read_from``: read the bytes from this path instead (a hard link kept to a file the engine
    removed); the artifact is keyed, and its path recorded, as ``location``.
    """

    location: str
    run: Run | None = None
    kind: str | None = None
    description: str | None = None
    read_from: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)  # the adapter's own notes, handed back untouched


@dataclass
class Known:
    """An artifact resolved in this invocation, and the file state it was resolved at (None: a URL)."""

    artifact: Artifact
    state: FileState | None


class FileRegistry:
    """Paths -> artifacts for one engine invocation (see the module docstring).

    ``hash_mode`` applies to local files (``"full"`` or ``"size-mtime"``); URLs are always hashed in
    full. ``folder_description`` describes the folders registered as storage locations because a
    file lay outside every location. ``on_skip(location, error)`` hears of files left out (default:
    a debug log line).
    """

    def __init__(
        self,
        instance: Instance,
        *,
        hash_mode: str = "full",
        folder_description: str = "Folder of files a workflow used",
        register_outside: bool = True,
        on_skip: Callable[[str, BaseException], None] | None = None,
    ) -> None:
        self.instance = instance
        self.hash_mode = hash_mode
        self.folder_description = folder_description
        self.register_outside = register_outside
        self.on_skip = on_skip or (lambda location, exc: logger.debug("not registered: %s: %s", location, exc))
        self._known: dict[str, Known] = {}
        self._folders: dict[str, Artifact] = {}  # folder location -> its artifact
        self._roots: list[str] | None = None  # local storage roots, longest first

    # -- storage locations ---------------------------------------------------------------------
    @property
    def roots(self) -> list[str]:
        """The registered local storage locations (not reference roots), longest first."""
        if self._roots is None:
            roots = [s.root for s in self.instance.storages() if s.is_local and not s.is_reference]
            self._roots = sorted({r.rstrip("/") or "/" for r in roots}, key=len, reverse=True)
        return self._roots

    def register_folder(self, folder: str, description: str | None = None) -> None:
        """Register a local folder (a workflow's working folder) as a storage location, unless it is one."""
        if is_url(folder):
            return  # remote objects register their bucket when saved
        folder = normalize_location(folder)[0]
        if folder in self.roots:
            return
        storage = register_storage(self.instance, folder, description=description or self.folder_description)
        root = storage.root.rstrip("/") or "/"
        if root not in self.roots:
            self._roots = sorted([*self.roots, root], key=len, reverse=True)

    def root_of(self, location: str) -> str | None:
        """The innermost registered local storage location ``location`` lies in, if any."""
        return next((r for r in self.roots if location == r or location.startswith(r.rstrip("/") + "/")), None)

    def key_of(self, location: str) -> str | None:
        """The key a local file at ``location`` gets in place: its path relative to its storage location."""
        root = self.root_of(location)
        return os.path.relpath(location, root).replace(os.sep, "/") if root is not None else None

    # -- the cache -----------------------------------------------------------------------------
    def cached(self, location: str) -> Artifact | None:
        """The artifact resolved for ``location`` in this invocation while its file is unchanged (no I/O for URLs)."""
        location = local_path(location)
        known = self._known.get(location)
        if known is None:
            return self.folder_of(location)
        if known.state is None or known.state == file_state(location):
            return known.artifact
        return None

    def remember(self, location: str, artifact: Artifact, state: FileState | None = None) -> None:
        """Make ``location`` resolve to ``artifact`` (found by the adapter some other way) while unchanged."""
        location = local_path(location)
        if len(self._known) >= MAX_CACHED:
            self._known.clear()
        if state is None and not is_url(location):
            state = file_state(location)
        self._known[location] = Known(artifact, state)
        if artifact.kind == "folder" and not is_url(location):
            self._folders[location.rstrip("/")] = artifact

    def registered(self, locations: Iterable[str]) -> dict[str, Artifact]:
        """The latest artifacts already registered at these locations' keys, found without hashing.

        For files an engine knows never change once written (a Nextflow task's work folder is named
        after the task's hash): one query per storage location instead of reading every byte again.
        A local file whose size differs from its record is left out (it is resolved as usual).
        Found artifacts are remembered (:meth:`remember`); missing ones are simply not in the result.
        """
        by_storage: dict[int, dict[str, str]] = {}  # storage id -> {key: location}
        storages = self.instance.storages()
        for location in locations:
            location = local_path(location)
            match = innermost_storage(storages, location)
            if match is not None:
                by_storage.setdefault(match[0].id, {})[match[1]] = location
        found: dict[str, Artifact] = {}
        if not by_storage:
            return found
        session = self.instance.sessions.current()
        try:
            for storage_id, by_key in by_storage.items():
                keys = list(by_key)
                for start in range(0, len(keys), 500):
                    query = select(Artifact).where(
                        Artifact.storage_id == storage_id,
                        Artifact.key.in_(keys[start : start + 500]),
                        Artifact.is_latest.is_(True),
                    )
                    for artifact in session.scalars(query):
                        if artifact.key is not None:
                            found[by_key[artifact.key]] = artifact
        finally:
            self.instance.sessions.end_read()
        for location, artifact in list(found.items()):
            state = None if is_url(location) else file_state(location)
            if (state is None and not is_url(location)) or (
                state is not None and artifact.kind == "file" and state[0] != artifact.size
            ):
                del found[location]  # gone, or rewritten since: hash it as usual
                continue
            self.remember(location, artifact, state)
        return found

    def folder_of(self, location: str) -> Artifact | None:
        """The folder artifact resolved in this invocation that holds ``location``, if any."""
        for folder, artifact in self._folders.items():
            if location.startswith(folder + "/"):
                return artifact
        return None

    # -- resolving -----------------------------------------------------------------------------
    def inputs(self, locations: Iterable[str]) -> list[Artifact]:
        """The artifacts of files a task reads, registering new ones with no producing run; no duplicates.

        Missing files, pipes and empty folders are left out. A file removed after it was resolved in
        this invocation is still its artifact.
        """
        found = self.resolve([FileSpec(location) for location in locations], reuse=True)
        return list({id(a): a for a in found if a is not None}.values())

    def resolve(self, specs: Sequence[FileSpec], *, reuse: bool = True) -> list[Artifact | None]:
        """The artifact of each spec, in order (None: left out), registering new files in one transaction.

        ``reuse=True`` answers from this invocation's cache where it can (inputs); ``reuse=False``
        registers every file again (outputs: identical content is the existing artifact, and the
        spec's run is linked to it as an output of kind "wrote").
        """
        results: list[Artifact | None] = [None] * len(specs)
        todo: list[tuple[int, FileSpec, FileState | None]] = []
        for index, spec in enumerate(specs):
            location = spec.location = local_path(spec.location)
            if is_url(location):
                known = self._known.get(location) if reuse else None
                if known is not None:
                    results[index] = known.artifact
                else:
                    todo.append((index, spec, None))
                continue
            source = spec.read_from or location
            state = file_state(source)
            known = self._known.get(location) if reuse else None
            if state is None:
                if known is not None and spec.read_from is None and not os.path.lexists(location):
                    results[index] = known.artifact  # removed since (a temporary output)
                continue  # missing, a pipe, a socket
            if known is not None and known.state == state:
                results[index] = known.artifact
                continue
            folder = self.folder_of(location) if reuse else None
            if folder is not None:
                results[index] = folder  # a file inside a folder artifact is part of it
                continue
            if self._placeable(source):
                todo.append((index, spec, state))
        for (index, _spec, _state), artifact in zip(todo, self._save(todo), strict=True):
            results[index] = artifact
        return results

    def outputs(self, specs: Sequence[FileSpec]) -> list[tuple[FileSpec, Artifact]]:
        """Register the files tasks wrote (``spec.run`` their producer); the ``(spec, artifact)`` pairs saved."""
        saved = self.resolve(specs, reuse=False)
        return [(spec, artifact) for spec, artifact in zip(specs, saved, strict=True) if artifact is not None]

    def _placeable(self, path: str) -> bool:
        """Whether a local file or folder can be registered in place; registers its folder if needed."""
        if os.path.isdir(path) and is_empty_folder(path):
            return False
        # Registration follows symlinks: check (and if need be register) where the bytes really are.
        real = os.path.realpath(path)
        if self.register_outside and self.root_of(real) is None:
            self.register_folder(os.path.dirname(real))
        return True

    def _save(self, todo: list[tuple[int, FileSpec, FileState | None]]) -> list[Artifact | None]:
        """Save in one transaction; on a file error, one by one (registry errors are raised)."""
        if not todo:
            return []
        results: list[Artifact | None] = [None] * len(todo)
        try:
            built = [(i, self._build(spec, state)) for i, (_index, spec, state) in enumerate(todo)]
            ready = [(i, a) for i, a in built if a is not None]
            saved = saving.save_artifacts([a for _i, a in ready], instance=self.instance, run=None, log_duplicates=False)
            for (i, _a), stored in zip(ready, saved, strict=True):
                results[i] = stored
        except (FlowtrailError, OSError) as exc:
            if is_registry_error(exc):
                raise
            results = [None] * len(todo)
            for i, (_index, spec, state) in enumerate(todo):  # a file vanished or became unreadable: save the others
                try:
                    one = self._build(spec, state)
                    if one is not None:
                        (results[i],) = saving.save_artifacts(
                            [one], instance=self.instance, run=None, log_duplicates=False
                        )
                except (FlowtrailError, OSError) as single:
                    if is_registry_error(single):
                        raise
                    self.on_skip(spec.location, single)
        for (_index, spec, state), artifact in zip(todo, results, strict=True):
            if artifact is None:
                continue
            if spec.read_from is not None:
                self._point_at(artifact, spec)
            if len(self._known) >= MAX_CACHED:
                self._known.clear()
            self._known[spec.location] = Known(artifact, state)
            if artifact.kind == "folder" and state is not None:
                self._folders[spec.location.rstrip("/")] = artifact
        return results

    def _build(self, spec: FileSpec, state: FileState | None) -> Artifact | None:
        hash_mode = self.hash_mode if state is not None else "full"
        fields: dict[str, Any] = {"hash_mode": hash_mode, "run": spec.run}
        if spec.kind is not None:
            fields["kind"] = spec.kind
        if spec.description is not None:
            fields["description"] = spec.description
        try:
            if spec.read_from is not None:  # read the bytes through the kept link, keyed as the file itself
                key = self.key_of(spec.location)
                if key is None:
                    return None
                return Artifact(spec.read_from, key=key, **fields)
            return Artifact(spec.location, **fields)
        except (FlowtrailError, OSError) as exc:  # vanished since we looked
            self.on_skip(spec.location, exc)
            return None

    def _point_at(self, artifact: Artifact, spec: FileSpec) -> None:
        """A new artifact registered through a kept link names the file's own path, not the link's."""
        root = self.root_of(spec.location)
        if root is None or spec.read_from is None or artifact.path != os.path.relpath(spec.read_from, root):
            return  # identical content already registered: the existing record keeps its path
        artifact.path = os.path.relpath(spec.location, root)
        saving.update_artifact(artifact)
