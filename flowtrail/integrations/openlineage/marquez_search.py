"""``/api/v1/search``: jobs and datasets whose name holds the text, also a dataset's full name.

A dataset's name as the API shows it may be longer than its key (``/data/raw.csv`` for key
``raw.csv`` in the location ``/data``, ``bucket/prefix/x`` in ``s3://bucket``): the text is also
looked up with each storage root taken off its front.
"""

from __future__ import annotations

from sqlalchemy import or_, select

from flowtrail.core.models import Artifact, Storage, Transform
from flowtrail.integrations.openlineage import marquez_models as m
from flowtrail.integrations.openlineage.marquez import Views, _always


def _key_terms(views: Views, q: str) -> set[str]:
    terms = {q}
    for storage in views.session.scalars(select(Storage)):
        for root in (storage.root, storage.root.split("://", 1)[-1].partition("/")[2]):
            if root and q.startswith(root.rstrip("/") + "/"):
                terms.add(q[len(root.rstrip("/")) + 1 :])
    return {t for t in terms if t}


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def search_results(views: Views, q: str, kind: str | None, limit: int, namespace: str | None) -> m.SearchResults:
    """Up to ``limit`` jobs, then datasets, matching ``q`` (``kind`` JOB or DATASET narrows it)."""
    results: list[m.SearchResult] = []
    if kind in (None, "JOB"):
        query = select(Transform).where(Transform.is_latest.is_(True), Transform.key.ilike(_like(q), escape="\\"))
        if namespace is not None:
            query = query.where(Transform.namespace == ("" if namespace == views.own else namespace))
        for transform in views.session.scalars(query.order_by(Transform.key).limit(limit)):
            ns = views.job_namespace(transform)
            results.append(m.SearchResult(type="JOB", name=transform.key, namespace=ns, nodeId=f"job:{ns}:{transform.key}",
                                          updatedAt=_always(transform.created_at)))  # fmt: skip
    if kind in (None, "DATASET") and len(results) < limit:
        matches = [Artifact.key.ilike(_like(term), escape="\\") for term in _key_terms(views, q)]
        query = select(Artifact).where(Artifact.is_latest.is_(True), or_(*matches))
        if namespace is not None:
            query = query.where(views.datasets_condition(namespace))
        for artifact in views.session.scalars(query.order_by(Artifact.key).limit(limit - len(results))):
            ns, name = views.dataset_id(artifact)
            results.append(m.SearchResult(type="DATASET", name=name, namespace=ns, nodeId=f"dataset:{ns}:{name}",
                                          updatedAt=_always(artifact.created_at)))  # fmt: skip
    return m.SearchResults(totalCount=len(results), results=results)
