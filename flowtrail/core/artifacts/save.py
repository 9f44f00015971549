"""Registering artifacts: hash and copy outside the transaction, then dedup and version inside it.

The slow part (reading, hashing and copying bytes) happens before any lock is taken. Copies go
to a temporary name in the target location; inside one short write transaction each artifact is
compared with the latest version of its key (or, without a key, with any artifact of the same
hash), the copy is moved to its final name, and the rows are inserted. A process killed at any
point leaves at worst an unreferenced temporary or object file, never a row without its object.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from flowtrail.core.artifacts.objects import (
    copy_file,
    copy_folder,
    hash_in_place,
    move,
    remove,
    sync_renames,
    temp_relpath,
)
from flowtrail.core.artifacts.ownership import ensure_marker, managed_prefix
from flowtrail.core.artifacts.rerun_links import link_rerun
from flowtrail.core.artifacts.settlement import settle_failed_commit
from flowtrail.core.artifacts.source_checks import check_local_source, check_text
from flowtrail.core.db.context import current
from flowtrail.core.db.database import write_transaction
from flowtrail.core.errors import IntegrityError, StorageError
from flowtrail.core.models.artifact import Artifact
from flowtrail.core.models.run import link_outputs
from flowtrail.core.models.storage import (
    LOCAL,
    Storage,
    bucket_root,
    innermost_storage,
    is_url,
    normalize_location,
    object_relpath,
)
from flowtrail.core.runs.projects import link_to_run_projects
from flowtrail.core.runs.tracking import current_run
from flowtrail.core.util.copying import BackgroundSync
from flowtrail.core.util.formats import write_anndata, write_dataframe
from flowtrail.core.util.hashing import Digest, hash_file, stat_digest
from flowtrail.core.util.host import current_user
from flowtrail.core.util.ids import random_base62
from flowtrail.core.util.versioning import first_version, next_version

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

logger = logging.getLogger("flowtrail")
Progress = Callable[[int], None]
BATCH = 500
# Copies up to this size are flushed while the write transaction runs; larger ones before the lock.
SYNC_UNDER_LOCK_MAX_BYTES = 16 * 1024 * 1024


@dataclass
class Pending:
    """An artifact whose bytes are hashed (and copied, if managed) but not yet registered."""

    artifact: Artifact
    digest: Digest
    storage: Storage | None  # None: register ``new_root`` first
    relpath: str | None  # None: managed, named after the uid at commit
    new_root: str | None = None
    temp: str | None = None  # where a managed copy waits for its final name
    n_observations: int | None = None
    final: str | None = None
    duplicate_of: Artifact | None = None
    written: list[str] = field(default_factory=list)  # local copies still to fsync
    extra: dict[str, Any] = field(default_factory=dict)


_AMBIENT: Any = object()


def save_artifacts(
    artifacts: Sequence[Artifact],
    *,
    instance: Instance | None = None,
    progress: Progress | None = None,
    run: Any = _AMBIENT,
    log_duplicates: bool = True,
) -> list[Artifact]:
    """Register many artifacts in one transaction; return the registered records in order.

    New artifacts are outputs of ``run``: by default the current tracked run, ``None`` for
    artifacts no run produced (e.g. a workflow's external inputs). An artifact's own ``run=``
    wins over both. When identical content is already registered, the existing record is
    returned and the run is linked to it as an output (kind "wrote"; ``run.outputs`` lists it),
    its first producer kept. ``log_duplicates=False`` silences the one-line notice about identical content
    (engines that save per task use it).
    """
    inst = instance or current()
    storages, reference = inst.storage_locations()
    default = inst.default_storage
    if run is _AMBIENT:
        run = current_run()
    prepared: list[Pending] = []
    try:
        for artifact in artifacts:
            if artifact.id is not None:
                raise IntegrityError(f"{artifact!r} is already saved; change fields and call .save() on it alone.")
            prepared.append(_prepare(inst, artifact, storages, reference, default, progress))
        # Copies were written without fsync: they are flushed together on a worker thread while the
        # registry work goes on, and waited for before the commit (a large flush before the lock).
        durable = BackgroundSync(
            [path for pending in prepared for path in pending.written],
            sum(pending.digest.size for pending in prepared if pending.written),
        )
        if durable.size > SYNC_UNDER_LOCK_MAX_BYTES:
            durable.wait()
        registered = _register(inst, prepared, run, durable)
    except BaseException:
        for pending in prepared:
            remove(pending.storage or default, pending.temp)
        raise
    duplicates = [p for p in prepared if p.duplicate_of is not None]
    for pending in duplicates:
        remove(pending.storage or default, pending.temp)
    if duplicates and log_duplicates:
        names = ", ".join(repr(p.artifact.key or p.duplicate_of.uid) for p in duplicates[:3] if p.duplicate_of)
        more = f" and {len(duplicates) - 3} more" if len(duplicates) > 3 else ""
        logger.info(
            "%d of %d artifacts were already registered with identical content (%s%s); "
            "returned the existing records instead of saving duplicates.",
            len(duplicates), len(prepared), names, more,
        )  # fmt: skip
    return registered


def _prepare(
    inst: Instance,
    artifact: Artifact,
    storages: list[Storage],
    reference: Storage | None,
    default: Storage,
    progress: Progress | None,
) -> Pending:
    source: str | None = artifact._source
    if source is None:  # an in-memory DataFrame or AnnData
        return _prepare_object(inst, artifact, default)
    # A local source is already an absolute, resolved path (Artifact() resolved it): no second resolve.
    root, protocol = normalize_location(source) if is_url(source) else (source, LOCAL)
    if protocol == "local":
        check_local_source(root)
    check_text(artifact.key, "key")
    match = innermost_storage(storages, root)
    if match is not None:
        storage, relpath = match
        check_text(relpath, "path")
        if artifact._hash_mode == "size-mtime" and storage.is_local:
            digest = stat_digest(storage.full_path(relpath))
        else:
            digest = hash_in_place(storage, relpath, artifact.kind, progress, inst.hash_algorithm)
        if artifact.key is None and relpath:
            from flowtrail.core.util.keys import validate_key

            artifact.key = validate_key(relpath)
        _kind_from_digest(artifact, digest)
        return Pending(artifact, digest, storage, relpath)
    if protocol != "local":
        new_root = bucket_root(root)
        relpath = root[len(new_root) + 1 :]
        probe = Storage(new_root, protocol)
        digest = hash_in_place(probe, relpath, artifact.kind, progress, inst.hash_algorithm)
        if artifact.key is None and relpath:
            artifact.key = relpath
        _kind_from_digest(artifact, digest)
        return Pending(artifact, digest, None, relpath, new_root=new_root)
    known = _known_reference(inst, artifact, root, reference)
    if known is not None:  # a file another producer's events named: the same node, registered where it is
        storage, relpath = known
        digest = hash_in_place(storage, relpath, artifact.kind, progress)
        artifact.key = artifact.key or relpath
        return Pending(artifact, digest, storage, relpath)
    # A local file outside every registered location: copy it into managed storage.
    temp = _managed_temp(inst, default, artifact.suffix)
    written: list[str] = []
    try:
        if artifact.kind == "folder":
            digest = copy_folder(source, default, temp, progress, written, inst.hash_algorithm)
        else:
            digest = copy_file(source, default, temp, progress, written, inst.hash_algorithm)
    except BaseException:
        remove(default, temp)  # a partial copy (e.g. after a full disk) must not keep the space
        raise
    return Pending(artifact, digest, default, None, temp=temp, written=written)


def _known_reference(
    inst: Instance, artifact: Artifact, location: str, reference: Storage | None
) -> tuple[Storage, str] | None:
    """The reference root and path of a local file outside every location that events already named."""
    if reference is None:
        return None
    relpath = reference.relative(location)
    if not relpath or artifact.key not in (None, relpath):
        return None
    session = inst.sessions.current()
    try:
        found = session.scalar(
            select(Artifact.id).where(Artifact.storage_id == reference.id, Artifact.key == relpath).limit(1)
        )
    finally:
        inst.sessions.end_read()
    return (reference, relpath) if found is not None else None


def _prepare_object(inst: Instance, artifact: Artifact, default: Storage) -> Pending:
    writer = write_dataframe if artifact.otype == "DataFrame" else write_anndata
    temp = _managed_temp(inst, default, artifact.suffix)
    if default.is_local:
        target = Path(default.full_path(temp))
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            n_obs = writer(artifact._in_memory, target)
            digest = hash_file(target, algorithm=inst.hash_algorithm)
        except BaseException as exc:
            remove(default, temp)
            if isinstance(exc, OSError):
                raise StorageError(f"Could not write {target}: {exc}. Check free space and permissions.") from exc
            raise
    else:
        scratch = inst.config.cache_dir / f".upload-{random_base62(8)}{artifact.suffix}"
        scratch.parent.mkdir(parents=True, exist_ok=True)
        try:
            n_obs = writer(artifact._in_memory, scratch)
            digest = copy_file(str(scratch), default, temp, None, algorithm=inst.hash_algorithm)
        finally:
            scratch.unlink(missing_ok=True)
    return Pending(artifact, digest, default, None, temp=temp, n_observations=n_obs)


def _managed_temp(inst: Instance, default: Storage, suffix: str) -> str:
    ensure_marker(inst, default)
    return temp_relpath(suffix, managed_prefix(inst))


def _kind_from_digest(artifact: Artifact, digest: Digest) -> None:
    # A URL does not say whether it names an object or a prefix; the listing does.
    if digest.is_folder:
        artifact.kind = "folder"
        artifact.suffix = ""


def _register(inst: Instance, prepared: list[Pending], run: Any, durable: BackgroundSync) -> list[Artifact]:
    locks = []
    for p in prepared:
        root = p.storage.root if p.storage is not None else p.new_root
        locks.append(f"artifact:{root}:{p.artifact.key}" if p.artifact.key else f"hash:{p.digest.hash}")
        if p.new_root:
            locks.append(f"storage:{p.new_root}")
    moved: list[Pending] = []
    try:
        with write_transaction(inst.sessions, locks) as session:
            _resolve_new_storages(session, prepared)
            latest, by_hash = _existing(session, prepared)
            results = []
            user = current_user()
            run_id = run.id if run is not None else None
            reruns: list[tuple[int, int, int | None]] = []  # identical bytes made again by another run
            for p in prepared:
                artifact = p.artifact
                assert p.storage is not None
                family = (p.storage.id, artifact.key)
                if artifact.key is not None:
                    previous = latest.get(family)
                    if previous is not None and previous.hash is None:
                        _fill_content(previous, p)  # known only from events: the same record, now hashed
                    if previous is not None and previous.hash == p.digest.hash:
                        # The file the registry knows: its producer stays whoever made it (a run
                        # saving a file it is about to read is its reader, not its producer).
                        p.duplicate_of = previous
                        results.append(previous)
                        link_rerun(session, reruns, artifact, previous, run_id)
                        continue
                    uid, version = next_version([previous])
                else:
                    existing = by_hash.get(p.digest.hash)
                    if existing is not None:
                        p.duplicate_of = existing
                        results.append(existing)
                        link_rerun(session, reruns, artifact, existing, run_id)
                        continue
                    uid, version = first_version()
                artifact.uid = uid
                artifact.version = version
                artifact.is_latest = True
                artifact.storage_id = p.storage.id
                artifact.hash = p.digest.hash
                artifact.hash_type = p.digest.hash_type
                artifact.size = p.digest.size
                artifact.n_files = p.digest.n_files
                artifact.n_observations = p.n_observations
                artifact.created_by = user
                pending_run = artifact._pending_run
                artifact.run_id = pending_run.id if pending_run is not None else run_id
                if p.temp is not None:
                    # Beside its temporary copy: in this instance's managed prefix.
                    artifact.path = object_relpath(artifact.uid, artifact.suffix, p.temp.rsplit("/", 1)[0])
                    artifact.is_managed = True
                    move(p.storage, p.temp, artifact.path)
                    p.final, p.temp = artifact.path, None
                    moved.append(p)
                else:
                    artifact.path = p.relpath or ""
                session.add(artifact)
                results.append(artifact)
                if artifact.key is not None:
                    latest[family] = artifact
                by_hash.setdefault(p.digest.hash, artifact)
            session.flush()
            link_outputs(session, reruns, "wrote")
            link_to_run_projects(session, [(p.artifact, r) for p, r in zip(prepared, results, strict=True)], run)
            # Both flushes (the copies' bytes, their new names) run at once; both end before COMMIT.
            sync_renames([(p.storage, p.final) for p in moved if p.storage is not None and p.final])
            durable.wait()
    except BaseException as exc:
        return settle_failed_commit(inst, prepared, moved, exc)
    return results


def _fill_content(known: Artifact, p: Pending) -> None:
    """Give a dataset known only from events (no hash) the content just hashed; keep its history.

    Its key, suffix (the format an event gave it, e.g. a parquet folder) and producer stay.
    """
    known.hash, known.hash_type = p.digest.hash, p.digest.hash_type
    known.size, known.n_files = p.digest.size, p.digest.n_files
    if p.digest.is_folder:
        known.kind = "folder"
    elif known.kind == "dataset":  # an event could not say; the bytes do
        known.kind = p.artifact.kind
    if p.n_observations is not None:
        known.n_observations = p.n_observations


def _resolve_new_storages(session: Any, prepared: list[Pending]) -> None:
    for root in sorted({p.new_root for p in prepared if p.new_root}):
        storage = session.scalar(select(Storage).where(Storage.root == root))
        if storage is None:
            storage = Storage(root, root.split("://", 1)[0])
            session.add(storage)
            session.flush()
        for p in prepared:
            if p.new_root == root:
                p.storage = storage


def _existing(session: Any, prepared: list[Pending]) -> tuple[dict[Any, Artifact], dict[str, Artifact]]:
    """Latest version per (storage, key), and any artifact per hash (for key-less saves)."""
    latest: dict[Any, Artifact] = {}
    by_hash: dict[str, Artifact] = {}
    keyed: dict[int, set[str]] = {}
    hashes: set[str] = set()
    for p in prepared:
        assert p.storage is not None
        if p.artifact.key is not None:
            keyed.setdefault(p.storage.id, set()).add(p.artifact.key)
        else:
            hashes.add(p.digest.hash)
    for storage_id, keys in keyed.items():
        ordered = sorted(keys)
        for start in range(0, len(ordered), BATCH):
            chunk = ordered[start : start + BATCH]
            # One key (a save one at a time): "=" keeps the statement cached; IN renders per call.
            same_key = Artifact.key == chunk[0] if len(chunk) == 1 else Artifact.key.in_(chunk)
            query = select(Artifact).where(Artifact.storage_id == storage_id, same_key, Artifact.is_latest.is_(True))
            for artifact in session.scalars(query):
                latest[(storage_id, artifact.key)] = artifact
    ordered_hashes = sorted(hashes)
    for start in range(0, len(ordered_hashes), BATCH):
        chunk = ordered_hashes[start : start + BATCH]
        for artifact in session.scalars(select(Artifact).where(Artifact.hash.in_(chunk)).order_by(Artifact.id)):
            by_hash.setdefault(artifact.hash or "", artifact)  # the query matched a hash: never empty
    return latest, by_hash


def update_artifact(artifact: Artifact) -> None:
    """Persist changed fields (description, key, kind) of a saved artifact."""
    if artifact.key is not None:
        from flowtrail.core.util.keys import validate_key

        validate_key(artifact.key)
    with write_transaction(current().sessions) as session:
        session.add(artifact)
