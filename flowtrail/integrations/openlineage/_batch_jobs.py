"""A batch's jobs: loading the transforms its events name, creating those seen for the first time
(a first version each) and writing back their changed type and facets.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flowtrail.core.adapter import first_version
from flowtrail.core.adapter.bulk import insert_with_ids, update_by_id
from flowtrail.core.models import Transform
from flowtrail.integrations.openlineage._batch_state import BatchState, Job
from flowtrail.integrations.openlineage._statements import SELECT_JOBS

__all__ = ["JOB_TYPES", "Jobs", "job_type"]

JOB_TYPES = {
    "DAG": "pipeline", "PIPELINE": "pipeline", "FLOW": "pipeline", "TASK": "task", "RULE": "rule",
    "PROCESS": "process", "SCRIPT": "script", "NOTEBOOK": "notebook", "FUNCTION": "function",
}  # fmt: skip


def job_type(facets: dict[str, Any] | None) -> str | None:
    """The transform type a ``jobType`` job facet names (``job`` for unknown ones), None without one."""
    value = ((facets or {}).get("jobType") or {}).get("jobType")
    return JOB_TYPES.get(str(value).upper(), "job") if value else None


class Jobs:
    """The transforms of one batch, keyed by ``(namespace, name)``."""

    def __init__(self, state: BatchState) -> None:
        self.state = state
        self.by_name: dict[tuple[str, str], Job] = {}

    def _namespace(self, namespace: str) -> str:
        # Events this instance emitted itself come back to its own transforms.
        return "" if namespace == self.state.own_namespace else namespace

    def load(self, jobs: Iterable[tuple[str, str]]) -> None:
        """Load the stored latest transforms of these ``(namespace, name)`` jobs."""
        wanted = {(self._namespace(ns), name) for ns, name in jobs} - set(self.by_name)
        for row in self.state.select_in(SELECT_JOBS, sorted({name for _ns, name in wanted})):
            if (row.namespace, row.key) in wanted and (row.namespace, row.key) not in self.by_name:
                self.by_name[(row.namespace, row.key)] = Job(
                    row.id, row.namespace, row.key, row.type, row.facets, original=(row.type, row.facets)
                )

    def get(self, namespace: str, name: str, facets: dict[str, Any] | None = None) -> Job:
        """The job (loaded or new), with ``facets`` merged into its own."""
        ns = self._namespace(namespace)
        job = self.by_name.get((ns, name))
        if job is None:
            job = self.by_name[(ns, name)] = Job(None, ns, name, job_type(facets) or "job", None)
        if facets:
            job.facets = {**(job.facets or {}), **facets}
        return job

    def insert_new(self) -> None:
        """Insert the jobs seen for the first time, as first versions."""
        new = [job for job in self.by_name.values() if job.id is None]
        rows = []
        for job in new:
            uid, version = first_version()
            rows.append({"uid": uid, "namespace": job.namespace, "key": job.key, "version": version,
                         "is_latest": True, "type": job.type, "facets": job.facets})  # fmt: skip
        if rows:
            for job, transform_id in zip(new, insert_with_ids(self.state.session, Transform, rows), strict=True):
                job.id, job.original = transform_id, (job.type, job.facets)

    def update_changed(self) -> None:
        """Write back the type and facets of stored jobs the batch changed."""
        rows = [
            {"_id": job.id, "type": job.type, "facets": job.facets}
            for job in self.by_name.values()
            if job.id is not None and (job.type, job.facets) != job.original
        ]
        update_by_id(self.state.session, Transform, rows)
