"""The read routes of Marquez's API (``/api/v1/...``), every answer a typed model and every list paged.

Marquez's web UI and the marquez-python client are the contract: the paths, the ``limit``/``offset``
parameters, the camelCase fields (see :mod:`.marquez_models`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, StreamingResponse
from sqlalchemy import select

from flowtrail.core.errors import DoesNotExist
from flowtrail.core.models import Artifact, Label, Run, Transform
from flowtrail.integrations.openlineage import marquez_models as m
from flowtrail.integrations.openlineage.marquez import Views
from flowtrail.integrations.openlineage.marquez_stats import dataset_counts, job_counts, run_counts

MAX_PAGE = 1000  # the most rows one answer holds: a larger list is read page by page
MAX_EVENTS_PAGE = 100  # raw events can be megabytes each: pages of them stay small
NOT_FOUND = {404: {"model": m.Problem, "description": "no such namespace, job, run or dataset"}}
BAD_TIMEZONE = {400: {"model": m.Problem, "description": "an unknown timezone"}}
BAD_NODE = {400: {"model": m.Problem, "description": "a nodeId that is not dataset:NS:NAME or job:NS:NAME"}}


def _limit(default: int = 100) -> Any:
    return Query(default, ge=0, le=MAX_PAGE, description=f"rows per page (at most {MAX_PAGE})")


def _offset() -> Any:
    return Query(0, ge=0, le=2**31 - 1)


def _problem(status: int, message: str) -> JSONResponse:
    return JSONResponse({"code": status, "message": message}, status_code=status)


def _stats(counter: Callable[..., Any], views: Views, period: str, timezone: str) -> Any:
    try:
        return counter(views.session, period, timezone)
    except ValueError as exc:
        return _problem(400, str(exc))


def marquez_router(views: Views, reading: Callable[..., Any]) -> APIRouter:
    """Routes for ``views``; ``reading(fn)`` runs ``fn`` and ends the read session after."""
    router = APIRouter(prefix="/api/v1", tags=["Marquez API"])

    def found_or_404(fn: Callable[[], Any]) -> Any:
        def guarded() -> Any:
            try:
                return fn()
            except DoesNotExist as exc:
                return _problem(404, str(exc))

        return reading(guarded)

    @router.get("/namespaces", response_model=m.Namespaces)
    def namespaces(limit: int = _limit(), offset: int = _offset()) -> Any:
        def find() -> m.Namespaces:
            names = views.namespace_names()
            return m.Namespaces(namespaces=[views.namespace_model(n) for n in names[offset : offset + limit]],
                                totalCount=len(names))  # fmt: skip

        return reading(find)

    def jobs_page(namespace: str | None, limit: int, offset: int) -> m.Jobs:
        query = select(Transform).where(Transform.is_latest.is_(True))
        if namespace is not None:
            query = query.where(Transform.namespace == ("" if namespace == views.own else namespace))
        rows, total = views.page(query.order_by(Transform.namespace, Transform.key, Transform.id), limit, offset)
        return m.Jobs(jobs=[views.job_model(t) for t in rows], totalCount=total)

    @router.get("/jobs", response_model=m.Jobs)
    def all_jobs(limit: int = _limit(), offset: int = _offset()) -> Any:
        return reading(lambda: jobs_page(None, limit, offset))

    @router.get("/jobs/runs/{run_id}/facets", response_model=m.RunFacets, responses=NOT_FOUND)
    def run_facets(run_id: str, type: Literal["run", "job"] = "run") -> Any:  # noqa: A002 - Marquez's name
        def find() -> Any:
            run = views.session.scalar(select(Run).where(Run.uid == run_id))
            if run is None:
                raise DoesNotExist(f"No run {run_id!r}.")
            facets = run.facets if type == "run" else run.transform.facets
            return m.RunFacets(runId=run.uid, facets=facets or {})

        return found_or_404(find)

    @router.get("/jobs/runs/{run_id}", response_model=m.Run, responses=NOT_FOUND)
    def run_detail(run_id: str) -> Any:
        def find() -> Any:
            run = views.session.scalar(select(Run).where(Run.uid == run_id))
            if run is None:
                raise DoesNotExist(f"No run {run_id!r}.")
            return views.run_model(run)

        return found_or_404(find)

    @router.get("/namespaces/{namespace:path}/jobs/{job:path}/runs", response_model=m.Runs, responses=NOT_FOUND)
    def job_runs(namespace: str, job: str, limit: int = _limit(), offset: int = _offset()) -> Any:
        def find() -> Any:
            transform = views.transform(namespace, job)
            query = select(Run).where(Run.transform_id == transform.id).order_by(Run.started_at.desc(), Run.id.desc())
            rows, total = views.page(query, limit, offset)
            return m.Runs(runs=[views.run_model(r) for r in rows], totalCount=total)

        return found_or_404(find)

    @router.get("/namespaces/{namespace:path}/jobs/{job:path}", response_model=m.Job, responses=NOT_FOUND)
    def job_detail(namespace: str, job: str) -> Any:
        return found_or_404(lambda: views.job_model(views.transform(namespace, job)))

    @router.get("/namespaces/{namespace:path}/jobs", response_model=m.Jobs)
    def jobs(namespace: str, limit: int = _limit(), offset: int = _offset()) -> Any:
        return reading(lambda: jobs_page(namespace, limit, offset))

    @router.get("/namespaces/{namespace:path}/datasets/{dataset:path}/versions", response_model=m.DatasetVersions,
                responses=NOT_FOUND)  # fmt: skip
    def dataset_versions(namespace: str, dataset: str, limit: int = _limit(), offset: int = _offset()) -> Any:
        def find() -> Any:
            query = views.versions_query(namespace, dataset).order_by(Artifact.version.desc())
            rows, total = views.page(query, limit, offset)
            if total == 0:
                raise DoesNotExist(f"No dataset {dataset!r} in namespace {namespace!r}.")
            return m.DatasetVersions(versions=[views.dataset_version_model(a) for a in rows], totalCount=total)

        return found_or_404(find)

    @router.get("/namespaces/{namespace:path}/datasets/{dataset:path}", response_model=m.Dataset, responses=NOT_FOUND)
    def dataset_detail(namespace: str, dataset: str) -> Any:
        return found_or_404(lambda: views.dataset_model(views.artifact(namespace, dataset)[0]))

    @router.get("/namespaces/{namespace:path}/datasets", response_model=m.Datasets)
    def datasets(namespace: str, limit: int = _limit(), offset: int = _offset()) -> Any:
        def find() -> m.Datasets:
            query = select(Artifact).where(Artifact.is_latest.is_(True), views.datasets_condition(namespace))
            rows, total = views.page(query.order_by(Artifact.key, Artifact.path, Artifact.id), limit, offset)
            return m.Datasets(datasets=[views.dataset_model(a) for a in rows], totalCount=total)

        return reading(find)

    @router.get("/lineage", response_model=m.LineageGraph, responses={**NOT_FOUND, **BAD_NODE})
    def lineage(nodeId: str = Query(..., description="dataset:NAMESPACE:NAME or job:NAMESPACE:NAME"),  # noqa: N803
                depth: int = Query(20, ge=0, le=100)) -> Any:  # fmt: skip
        from flowtrail.integrations.openlineage.graph import lineage_graph

        def find() -> Any:
            try:
                return lineage_graph(views, nodeId, depth)
            except ValueError as exc:
                return _problem(400, str(exc))

        return found_or_404(find)

    @router.get("/column-lineage", responses={**NOT_FOUND, **BAD_NODE})
    def column_lineage(nodeId: str = Query(...), depth: int = Query(20, ge=0, le=100)) -> Any:  # noqa: N803
        from flowtrail.integrations.openlineage.graph import column_lineage_graph

        def find() -> Any:
            try:
                return {"graph": column_lineage_graph(views, nodeId, depth)}
            except ValueError as exc:
                return _problem(400, str(exc))

        return found_or_404(find)

    @router.get("/events/lineage", response_model=m.LineageEvents)
    def events(limit: int = Query(100, ge=0, le=MAX_EVENTS_PAGE, description="events per page (raw events can be large)"),
               offset: int = _offset(),
               sortDirection: Literal["asc", "desc"] = "desc") -> Any:  # noqa: N803  # fmt: skip
        ids, total = reading(lambda: views.event_ids(limit, offset, sortDirection == "asc"))

        def body() -> Iterator[bytes]:
            # Streamed one event at a time: a page of large events never sits in memory whole.
            yield b'{"events":['
            for index, event_id in enumerate(ids):
                payload = reading(views.event_payload, event_id)
                yield (b"," if index else b"") + json.dumps(payload).encode()
            yield b'],"totalCount":%d}' % total

        return StreamingResponse(body(), media_type="application/json")

    @router.get("/search", response_model=m.SearchResults)
    def search(q: str = Query(..., min_length=1, max_length=1024), filter: Literal["JOB", "DATASET"] | None = None,  # noqa: A002
               limit: int = Query(10, ge=0, le=MAX_PAGE), namespace: str | None = None) -> Any:  # fmt: skip
        from flowtrail.integrations.openlineage.marquez_search import search_results

        return reading(lambda: search_results(views, q, filter, limit, namespace))

    @router.get("/tags", response_model=m.Tags)
    def tags(limit: int = _limit(), offset: int = _offset()) -> Any:
        def find() -> m.Tags:
            query = select(Label).where(Label.is_type.is_(False)).order_by(Label.name, Label.id).limit(limit).offset(offset)
            return m.Tags(tags=[m.Tag(name=label.name, description=label.description) for label in views.session.scalars(query)])

        return reading(find)

    @router.get("/stats/lineage-events", response_model=list[m.LineageMetric], responses=BAD_TIMEZONE)
    def stats_lineage_events(period: Literal["DAY", "WEEK"] = "DAY", timezone: str = "UTC") -> Any:
        return reading(lambda: _stats(run_counts, views, period, timezone))

    @router.get("/stats/jobs", response_model=list[m.IntervalMetric], responses=BAD_TIMEZONE)
    def stats_jobs(period: Literal["DAY", "WEEK"] = "DAY", timezone: str = "UTC") -> Any:
        return reading(lambda: _stats(job_counts, views, period, timezone))

    @router.get("/stats/datasets", response_model=list[m.IntervalMetric], responses=BAD_TIMEZONE)
    def stats_datasets(period: Literal["DAY", "WEEK"] = "DAY", timezone: str = "UTC") -> Any:
        return reading(lambda: _stats(dataset_counts, views, period, timezone))

    # Last: a namespace may contain slashes (s3://bucket), so this pattern would swallow the routes above.
    @router.get("/namespaces/{namespace:path}", response_model=m.Namespace, responses=NOT_FOUND)
    def namespace(namespace: str) -> Any:
        def find() -> Any:
            if namespace not in views.namespace_names():
                raise DoesNotExist(f"No namespace {namespace!r}.")
            return views.namespace_model(namespace)

        return found_or_404(find)

    return router
