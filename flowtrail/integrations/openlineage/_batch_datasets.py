"""A batch's datasets: resolving them to dataset versions (artifacts) in the longest registered
storage root, loading the versions worth choosing among, choosing or creating the version an input
reads or an output makes (claiming placeholders), and writing the versions back.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from flowtrail.core.adapter import next_version
from flowtrail.core.adapter.bulk import chunks, insert_versions, update_by_id
from flowtrail.core.models import Artifact, Storage
from flowtrail.core.openlineage.naming import dataset_location
from flowtrail.integrations.openlineage._batch_state import BatchState, RunRow, Version
from flowtrail.integrations.openlineage._dataset_naming import (
    dataset_key,
    hash_type,
    holding_storage,
    root_of_key,
    storage_type,
    version_of,
)
from flowtrail.integrations.openlineage._statements import SELECT_CANDIDATES, SELECT_FACETS, SELECT_MADE_BY
from flowtrail.integrations.openlineage.fold import DatasetRef

__all__ = ["Datasets"]


class Datasets:
    """The dataset versions of one batch, per dataset (storage id, key), in version order."""

    def __init__(self, state: BatchState) -> None:
        self.state = state
        self.families: dict[tuple[int, str], list[Version]] = {}
        self.locations: dict[tuple[str, str], tuple[int, str]] = {}  # (namespace, name) -> (storage id, key)

    def versions(self) -> list[Version]:
        """Every version the batch loaded or made."""
        return [v for family in self.families.values() for v in family]

    def _family(self, ref: DatasetRef) -> tuple[int, str]:
        """``(storage id, key)`` of a dataset: in the longest registered root holding it, or a new root."""
        found = self.locations.get((ref.namespace, ref.name))
        if found is not None:
            return found
        root, location = dataset_location(ref.namespace, ref.name)
        best = holding_storage(self.state.storages, location)  # (id, root) rows
        hinted = root_of_key(ref, location)
        if hinted is not None and (best is None or len(best[0].root) < len(hinted)):
            root, best = hinted, None  # the producer's storage location: the key comes back as it was
        if best is None:
            session = self.state.session
            storage = session.scalar(select(Storage).where(Storage.root == root))
            if storage is None:
                storage = Storage(root, storage_type(root))
                session.add(storage)
                session.flush()
                self.state.storages.append(storage)
            best = (storage, storage.relative(location) or "")
        found = (best[0].id, dataset_key(best[1]))
        self.locations[(ref.namespace, ref.name)] = found
        return found

    def load(self, refs: Iterable[DatasetRef], runs: Iterable[RunRow]) -> None:
        """Load the versions of the datasets ``refs`` name that choosing among them can pick.

        That is, per dataset: the first and last version, the latest, placeholders (no run), those
        whose hash is a version the batch names, and those made by ``runs`` (the batch's stored
        runs). Choosing among these gives what choosing among all versions gives, without reading
        them all.
        """
        wanted: dict[int, set[str]] = {}
        hashes: set[str] = set()
        for ref in refs:
            storage_id, key = self._family(ref)
            if (storage_id, key) not in self.families:
                wanted.setdefault(storage_id, set()).add(key)
            named = version_of(ref)
            if named:
                hashes.add(named)
        loaded: dict[int, Version] = {}
        for storage_id, keys in wanted.items():
            for key in keys:
                self.families[(storage_id, key)] = []
            parts: list[list[str] | None] = [list(part) for part in chunks(sorted(hashes))]
            for part in parts or [None]:
                query = SELECT_CANDIDATES[part is not None]
                params = {"storage_id": storage_id} | ({"hashes": part} if part is not None else {})
                for row in self.state.select_in(query, sorted(keys), **params):
                    loaded.setdefault(row.id, Version(*row))
        for row in self.state.select_in(SELECT_MADE_BY, [run.id for run in runs if run.existed]):
            if row.key in wanted.get(row.storage_id, ()):
                loaded.setdefault(row.id, Version(*row))
        for version in sorted(loaded.values(), key=lambda v: v.version):
            version.original = (version.is_latest, version.run_id, version.hash, version.hash_type)
            self.families[(version.storage_id, version.key)].append(version)

    def _versions(self, ref: DatasetRef) -> tuple[int, str, list[Version]]:
        storage_id, key = self._family(ref)
        return storage_id, key, self.families[(storage_id, key)]

    def _new_version(self, storage_id: int, key: str, versions: list[Version], ref: DatasetRef) -> Version:
        uid, number = next_version(versions)
        digest = version_of(ref)
        version = Version(
            id=None, uid=uid, version=number, is_latest=True, hash=digest, hash_type=hash_type(ref, digest),
            run_id=None, storage_id=storage_id, key=key, facets=ref.facets or None,
        )  # fmt: skip
        versions.append(version)
        return version

    def input_version(self, ref: DatasetRef) -> Version:
        """The version an input reads: the one its version facet names, else the latest, else a new one."""
        storage_id, key, versions = self._versions(ref)
        wanted = version_of(ref)
        chosen = next((a for a in versions if wanted and a.hash == wanted), None)
        chosen = chosen or next((a for a in versions if a.is_latest), None)
        if chosen is None:
            return self._new_version(storage_id, key, versions, ref)
        if ref.facets:
            chosen.merge_facets(ref.facets)
        return chosen

    def output_version(self, ref: DatasetRef, run: RunRow) -> Version:
        """The version ``run`` makes: its own, the one with the named version, a placeholder, or a new one."""
        storage_id, key, versions = self._versions(ref)
        wanted = version_of(ref)
        mine = next((a for a in versions if a.run_id == run.id), None)
        same = next((a for a in versions if wanted and a.hash == wanted), None)
        placeholder = next((a for a in versions if a.run_id is None and a.hash in (None, wanted)), None)
        chosen = mine or same or placeholder
        if chosen is None:
            chosen = self._new_version(storage_id, key, versions, ref)
        if chosen.run_id is None:
            chosen.run_id = run.id
        if wanted and chosen.hash is None:
            chosen.hash, chosen.hash_type = wanted, hash_type(ref, wanted)
        chosen.merge_facets(ref.facets, ref.side_facets)
        return chosen

    def write(self) -> None:
        """Insert the new versions and write back what the batch changed in the stored ones."""
        versions = self.versions()
        self._insert([v for v in versions if v.id is None])
        self._update([v for v in versions if v.id is not None])

    def _insert(self, new: list[Version]) -> None:
        if not new:
            return
        rows = [
            {
                "uid": v.uid, "key": v.key, "kind": "dataset", "storage_id": v.storage_id, "version": v.version,
                "is_latest": v.is_latest, "hash": v.hash, "hash_type": v.hash_type, "run_id": v.run_id,
                "facets": v.final_facets(v.facets),
            }  # fmt: skip
            for v in new
        ]
        for version, artifact_id in zip(new, insert_versions(self.state.session, rows), strict=True):
            version.id = artifact_id

    def _update(self, existing: list[Version]) -> None:
        facets = dict(self.state.select_in(SELECT_FACETS, [v.id for v in existing if v.facet_updates]))
        plain, merged = [], []
        for v in existing:
            row = {"_id": v.id, "is_latest": v.is_latest, "run_id": v.run_id, "hash": v.hash, "hash_type": v.hash_type}
            if v.facet_updates:
                value = v.final_facets(facets[v.id])
                if value != facets[v.id]:
                    merged.append({**row, "facets": value})
                    continue
            if (v.is_latest, v.run_id, v.hash, v.hash_type) != v.original:
                plain.append(row)
        update_by_id(self.state.session, Artifact, plain)
        update_by_id(self.state.session, Artifact, merged)
