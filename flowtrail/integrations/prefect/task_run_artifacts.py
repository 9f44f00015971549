"""Artifacts of finished task runs: what to register for a batch, and the run-input links.

Steps 2 and 3 of a batch (see :mod:`.writer`). A :class:`_Plan` collects the batch's inputs and
outputs (path parameters, returned paths, ``@materialize`` assets and ``asset_deps``, returned
DataFrames/AnnData) and resolves them through the door: files and URLs with the registry's
:class:`~flowtrail.core.adapter.FileRegistry` (the artifact of a file version registered before
is reused without hashing; new ones are saved in one transaction), objects with
:func:`~flowtrail.core.adapter.objects.save_objects`. :class:`TaskRunArtifacts`, one of the parts
:class:`.writer.Writer` is made of, runs the plan, adds the objects a task consumed from upstream
task runs (Prefect's task-input links) and inserts every input link in one transaction.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from flowtrail.integrations.prefect.records import TaskRecord
from flowtrail.integrations.prefect.registry_lookups import Producer, RegistryLookups
from flowtrail.integrations.prefect.task_run_rows import run_ref
from flowtrail.integrations.prefect.values import Signature, object_kind, object_nbytes

if TYPE_CHECKING:
    from flowtrail.core.adapter import FileRegistry, FileSpec, Instance
    from flowtrail.core.models import Artifact, Run

logger = logging.getLogger("flowtrail")

OK_STATUSES = ("completed", "cached")

Report = Callable[[str, str], None]  # (kind, message): logged once per kind


class TaskRunArtifacts:
    """Registers a batch's artifacts and links run inputs; remembers what each task run returned."""

    def __init__(self, lookups: RegistryLookups, report: Report) -> None:
        self.lookups = lookups
        self.report = report
        self.returned: dict[str, list[Producer]] = {}  # task run uid -> artifacts its return value became

    def register(self, instance: Instance, finished: list[TaskRecord]) -> list[tuple[int, Producer]]:
        """Register the finished runs' inputs and outputs; return (run id, artifact) input links."""
        if not finished:
            return []
        plan = _Plan(self, instance, self.lookups.cache(instance).files)
        for record in finished:
            plan.add(record)
        plan.save()
        return plan.links + self._upstream_links(instance, finished)

    def forget(self, uids: Iterable[str]) -> None:
        """Drop what these task runs returned (their flow tree has ended: no task can consume it now)."""
        for uid in uids:
            self.returned.pop(uid, None)

    def _upstream_links(self, instance: Instance, finished: list[TaskRecord]) -> list[tuple[int, Producer]]:
        """Objects a task consumed from upstream tasks: Prefect's task-input links, not saved twice."""
        from sqlalchemy import select

        from flowtrail.core.models import Artifact, Run

        missing = sorted({up for r in finished if r.run_id is not None for up in r.upstream if up not in self.returned})
        if missing:
            found: dict[str, list[Producer]] = {uid: [] for uid in missing}
            session = instance.sessions.current()
            rows = session.execute(
                select(Run.uid, Artifact.id, Artifact.run_id).join(Artifact, Artifact.run_id == Run.id).where(Run.uid.in_(missing))
            )
            for uid, artifact_id, run_id in rows:
                found[uid].append((artifact_id, run_id))
            instance.sessions.end_read()
            self.returned.update(found)
        links: list[tuple[int, Producer]] = []
        for record in finished:
            if record.run_id is None:
                continue
            for up in record.upstream:
                for producer in self.returned.get(up, ()):
                    links.append((record.run_id, producer))
        return links

    def link(self, instance: Instance, links: Iterable[tuple[int, Producer]]) -> None:
        """Insert the input links not present yet (a run never becomes an input of itself)."""
        pairs = sorted({(run_id, artifact_id) for run_id, (artifact_id, producer) in links if producer != run_id})
        if not pairs:
            return
        rows = self.lookups.cache(instance).rows
        with rows.transaction() as session:
            rows.link_inputs(session, pairs)


class _Plan:
    """The artifacts of one batch: what to resolve, and who links to what once it is resolved."""

    def __init__(self, owner: TaskRunArtifacts, instance: Instance, files: FileRegistry) -> None:
        self.owner = owner
        self.instance = instance
        self.files = files
        self.specs: list[FileSpec] = []  # files and URLs, resolved together
        self.spec_waiters: list[Callable[[Producer], None] | None] = []
        self.objects: list[Artifact] = []  # DataFrames and AnnData, saved together
        self.object_waiters: list[Callable[[Producer], None]] = []
        self.links: list[tuple[int, Producer]] = []

    # -- planning --------------------------------------------------------------------------------
    def add(self, record: TaskRecord) -> None:
        if record.run_id is None or (record.closed_by_flow and record.status == "aborted"):
            return
        returned: list[Producer] = []
        self.owner.returned[record.uid] = returned
        (record.flow.root or record.flow).finished_uids.append(record.uid)
        if not (record.paths or record.returned_paths or record.objects or record.assets_out or record.assets_in):
            return
        run = run_ref(record)
        ok = record.status in OK_STATUSES
        limit = record.flow.options.max_copy_bytes

        def link(producer: Producer, run_id: int = run.id) -> None:
            self.links.append((run_id, producer))

        inputs: set[str] = set()
        # A cache hit rewrites nothing: the paths it returns are still what it produces.
        produced = {path for path, _sig in record.returned_paths} if record.status == "cached" else set()
        after = record.paths_after or [None] * len(record.paths)
        for (path, before), now in zip(record.paths, after, strict=False):
            if before is not None and before == now and path not in produced:
                inputs.add(path)
                self.file(path, before, None, limit, link)
            elif now is not None and ok:
                self.file(path, now, run, limit, None)
        if ok:
            for path, sig in record.returned_paths:
                if sig is not None:
                    self.file(path, sig, None if path in inputs else run, limit, returned.append)
            for uri in record.assets_out:
                self.declared(uri, run, limit, returned.append)
            if record.flow.options.save_objects:
                for suffix, obj in record.objects:
                    self.object(record, suffix, obj, limit, returned.append)
        for uri in record.assets_in:
            self.declared(uri, None, limit, link)

    def file(
        self, path: str, sig: Signature, run: Run | None, limit: int, then: Callable[[Producer], None] | None
    ) -> None:
        """A local file or folder: an input (``run`` None) or an output of ``run``."""
        from flowtrail.core.adapter import FileSpec

        if self._allowed(path, sig, limit):
            self.specs.append(FileSpec(path, run=run))
            self.spec_waiters.append(then)

    def declared(self, uri: str, run: Run | None, limit: int, then: Callable[[Producer], None]) -> None:
        """A Prefect asset key (``@materialize`` output or ``asset_deps`` input)."""
        from flowtrail.core.adapter import FileSpec
        from flowtrail.integrations.prefect.values import path_of, signature

        if uri.startswith("file://") or "://" not in uri:
            local = path_of(uri if "://" in uri else "file://" + uri)
            sig = signature(local) if local is not None else None
            if local is not None and sig is not None:
                self.file(local, sig, run, limit, then)
            return
        if uri.split("://", 1)[0] not in _FSSPEC_PROTOCOLS:
            return  # e.g. a database table: kept in the run's metrics only
        self.specs.append(FileSpec(uri, run=run))
        self.spec_waiters.append(then)

    def object(self, record: TaskRecord, suffix: str, obj: Any, limit: int, then: Callable[[Producer], None]) -> None:
        """A DataFrame or AnnData returned by the task, saved as parquet or h5ad."""
        from flowtrail.core.models import Artifact
        from flowtrail.integrations.prefect.values import key_part

        kind = object_kind(obj)
        if kind is None:
            return
        if object_nbytes(obj) > limit:
            logger.info("flowtrail: the %s returned by %s is larger than %d bytes; not saved.", kind, record.name, limit)
            return
        extension = ".parquet" if kind == "DataFrame" else ".h5ad"
        # Stable across flow runs, so each run of the flow makes a new version of the same keys.
        counter = f"-{record.index}" if record.index else ""
        key = f"{key_part(record.flow.name)}/{key_part(record.key)}{counter}{suffix}{extension}"
        try:
            if kind == "DataFrame":
                artifact = Artifact.from_dataframe(obj, key=key, run=run_ref(record))
            else:
                artifact = Artifact.from_anndata(obj, key=key, run=run_ref(record))
        except Exception as exc:
            self.owner.report(f"object:{type(exc).__name__}", f"flowtrail: could not save a {kind}: {exc}")
            return
        self.objects.append(artifact)
        self.object_waiters.append(then)

    def _allowed(self, path: str, sig: Signature, limit: int) -> bool:
        """In place inside a registered location (or known already); otherwise copied only below the size limit."""
        if self.files.root_of(path) is not None or self.files.cached(path) is not None:
            return True
        size = _folder_size(path, limit) if sig[2] else sig[0]
        if size > limit:
            logger.info(
                "flowtrail: %s is outside every registered storage location and larger than %d bytes; "
                "not copied (register its folder with `flowtrail storage add`).", path, limit,
            )  # fmt: skip
            return False
        return True

    # -- resolving -------------------------------------------------------------------------------
    def save(self) -> None:
        """Resolve the files (reused when known, else saved in one transaction), then save the objects."""
        from flowtrail.core.adapter.objects import save_objects

        resolved = self.files.resolve(self.specs, reuse=True) if self.specs else []
        saved = save_objects(self.instance, self.objects, self._skipped) if self.objects else []
        for artifact, then in [*zip(resolved, self.spec_waiters, strict=True), *zip(saved, self.object_waiters, strict=True)]:
            if artifact is not None and then is not None:
                then((artifact.id, artifact.run_id))

    def _skipped(self, artifact: Artifact, exc: BaseException) -> None:
        self.owner.report(f"save:{type(exc).__name__}", f"flowtrail: could not register an artifact: {exc}")


_FSSPEC_PROTOCOLS = frozenset({"s3", "s3a", "gs", "gcs", "az", "abfs", "abfss", "http", "https", "hf", "memory"})


def _folder_size(path: str, limit: int) -> int:
    """Total size of the files below ``path``, stopping early once it exceeds ``limit``."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except OSError:
                continue
            if total > limit:
                return total
    return total

