"""A batch's datasets: resolving them to dataset versions (artifacts) in the longest registered
storage root, loading the versions worth choosing among, and choosing or creating the version an
input reads or an output makes (claiming placeholders); dataset and job events.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from ...core.ids import new_stem, versioned_uid
from ...core.models import Storage
from ._batch_state import _BatchState, _RunRow, _Version
from ._dataset_naming import (
    _declared_datasets,
    _hash_type,
    _root_of_key,
    _storage_type,
    _version_of,
    dataset_key,
    dataset_location,
    holding_storage,
)
from ._statements import _SELECT_CANDIDATES, _SELECT_MADE_BY, _chunks
from .fold import DatasetRef


class _Datasets(_BatchState):
    """The datasets part of :class:`._batch._Batch`.

    ``apply_job_event`` finds the job with ``_load_transforms`` and ``_transform`` of
    :class:`._batch_runs._JobsAndRuns`, the other part of the batch.
    """

    # -- datasets ---------------------------------------------------------------------------------
    def _family(self, ref: DatasetRef) -> tuple[int, str]:
        """``(storage id, key)`` of a dataset: in the longest registered root holding it, or a new root."""
        found = self.locations.get((ref.namespace, ref.name))
        if found is not None:
            return found
        root, location = dataset_location(ref.namespace, ref.name)
        best = holding_storage(self.storages, location)  # (id, root) rows
        hinted = _root_of_key(ref, location)
        if hinted is not None and (best is None or len(best[0].root) < len(hinted)):
            root, best = hinted, None  # the producer's storage location: the key comes back as it was
        if best is None:
            storage = self.session.scalar(select(Storage).where(Storage.root == root))
            if storage is None:
                storage = Storage(root, _storage_type(root))
                self.session.add(storage)
                self.session.flush()
                self.storages.append(storage)
            best = (storage, storage.relative(location) or "")
        found = (best[0].id, dataset_key(best[1]))
        self.locations[(ref.namespace, ref.name)] = found
        return found

    def load_datasets(self, refs: Iterable[DatasetRef]) -> None:
        """Load the versions of the datasets ``refs`` name that choosing among them can pick.

        That is, per dataset: the first and last version, the latest, placeholders (no run), those
        whose hash is a version the batch names, and those made by the batch's runs. Choosing
        among these gives what choosing among all versions gives, without reading them all.
        """
        wanted: dict[int, set[str]] = {}
        hashes: set[str] = set()
        for ref in refs:
            storage_id, key = self._family(ref)
            if (storage_id, key) not in self.families:
                wanted.setdefault(storage_id, set()).add(key)
            version = _version_of(ref)
            if version:
                hashes.add(version)
        loaded: dict[int, _Version] = {}
        for storage_id, keys in wanted.items():
            for key in keys:
                self.families[(storage_id, key)] = []
            for part in [list(part) for part in _chunks(sorted(hashes))] or [None]:
                query = _SELECT_CANDIDATES[part is not None]
                params = {"storage_id": storage_id} | ({"hashes": part} if part is not None else {})
                for row in self._select_in(query, sorted(keys), **params):
                    loaded.setdefault(row.id, _Version(*row))
        for row in self._select_in(_SELECT_MADE_BY, [run.id for run in self.runs.values() if run.existed]):
            if row.key in wanted.get(row.storage_id, ()):
                loaded.setdefault(row.id, _Version(*row))
        for version in sorted(loaded.values(), key=lambda v: v.version):
            version.original = (version.is_latest, version.run_id, version.hash, version.hash_type)
            self.families[(version.storage_id, version.key)].append(version)

    def _versions(self, ref: DatasetRef) -> tuple[int, str, list[_Version]]:
        storage_id, key = self._family(ref)
        return storage_id, key, self.families[(storage_id, key)]

    def _new_version(self, storage_id: int, key: str, versions: list[_Version], ref: DatasetRef) -> _Version:
        latest = next((a for a in versions if a.is_latest), versions[-1] if versions else None)
        version = max((a.version for a in versions), default=0) + 1
        stem = versions[0].uid[:16] if versions else new_stem()
        if latest is not None:
            latest.is_latest = False
        digest = _version_of(ref)
        artifact = _Version(
            id=None, uid=versioned_uid(stem, version), version=version, is_latest=True, hash=digest,
            hash_type=_hash_type(ref, digest), run_id=None, storage_id=storage_id, key=key,
            facets=ref.facets or None,
        )  # fmt: skip
        versions.append(artifact)
        return artifact

    def _input_artifact(self, ref: DatasetRef) -> _Version:
        storage_id, key, versions = self._versions(ref)
        wanted = _version_of(ref)
        chosen = next((a for a in versions if wanted and a.hash == wanted), None)
        chosen = chosen or next((a for a in versions if a.is_latest), None)
        if chosen is None:
            return self._new_version(storage_id, key, versions, ref)
        if ref.facets:
            chosen.merge_facets(ref.facets)
        return chosen

    def _output_artifact(self, ref: DatasetRef, run: _RunRow) -> _Version:
        storage_id, key, versions = self._versions(ref)
        wanted = _version_of(ref)
        mine = next((a for a in versions if a.run_id == run.id), None)
        same = next((a for a in versions if wanted and a.hash == wanted), None)
        placeholder = next((a for a in versions if a.run_id is None and a.hash in (None, wanted)), None)
        chosen = mine or same or placeholder
        if chosen is None:
            chosen = self._new_version(storage_id, key, versions, ref)
        if chosen.run_id is None:
            chosen.run_id = run.id
        if wanted and chosen.hash is None:
            chosen.hash, chosen.hash_type = wanted, _hash_type(ref, wanted)
        chosen.merge_facets(ref.facets, ref.side_facets)
        return chosen

    def apply_dataset_event(self, event: dict[str, Any]) -> None:
        for ref in _declared_datasets(event, "dataset"):
            self._input_artifact(ref)

    def apply_job_event(self, event: dict[str, Any]) -> None:
        job = event["job"]
        facets = dict(job.get("facets") or {})
        declared = {
            side: [{"namespace": d["namespace"], "name": d["name"]} for d in event.get(side) or []]
            for side in ("inputs", "outputs")
        }
        if declared["inputs"] or declared["outputs"]:
            facets["flowtrail_static_lineage"] = declared
        self._load_transforms([(job["namespace"], job["name"])])
        self._transform(job["namespace"], job["name"], facets)
        for ref in _declared_datasets(event, "job"):
            self._input_artifact(ref)
