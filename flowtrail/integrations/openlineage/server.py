"""The HTTP API: OpenLineage in (``POST /api/v1/lineage``) and Marquez-compatible reads.

Write requests: one event or a JSON array, optionally gzip-encoded, at most ``max_body`` bytes
(also after decompression). Malformed JSON is a 400, an invalid event a 422 naming each field
and why; either way nothing of the request is stored. With ``FLOWTRAIL_API_KEY`` set, writes need
``Authorization: Bearer <key>`` (what openlineage-python's http transport sends with an api_key).
"""

from __future__ import annotations

import hmac
import json
import os
import re
import zlib
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from ..._version import __version__
from ...core.errors import DoesNotExist
from .ingest import Ingestor
from .marquez import Views
from .validation import InvalidEvent

if TYPE_CHECKING:
    from ...core.instance import Instance

DEFAULT_MAX_BODY = 10 * 1024 * 1024
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmg](?:i?b)?|b)?\s*$", re.IGNORECASE)
EVENT_BODY = {
    "required": True,
    "content": {
        "application/json": {
            "schema": {
                "oneOf": [
                    {"$ref": "#/components/schemas/LineageEvent"},
                    {"type": "array", "items": {"$ref": "#/components/schemas/LineageEvent"}},
                ]
            }
        }
    },
}
EVENT_SCHEMA = {
    "type": "object",
    "description": "An OpenLineage RunEvent, DatasetEvent or JobEvent (https://openlineage.io/spec/2-0-2/OpenLineage.json).",
    "required": ["eventTime"],
    "properties": {
        "eventTime": {"type": "string", "format": "date-time"},
        "eventType": {"type": "string", "enum": ["START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"]},
        "producer": {"type": "string"},
        "schemaURL": {"type": "string"},
        "run": {"type": "object", "properties": {"runId": {"type": "string", "format": "uuid"}, "facets": {"type": "object"}}},
        "job": {"type": "object", "properties": {"namespace": {"type": "string"}, "name": {"type": "string"}}},
        "inputs": {"type": "array", "items": {"type": "object"}},
        "outputs": {"type": "array", "items": {"type": "object"}},
    },
}


def parse_size(text: str) -> int:
    """Bytes from ``10MB`` (10,000,000: SI units are powers of 1000), ``10MiB`` or ``10M`` (10 x 1024^2), ``512``.

    ``kB``/``KB``, ``MB``, ``GB`` are decimal as the SI says; ``KiB``, ``MiB``, ``GiB`` and the bare
    letters ``k``, ``M``, ``G`` are binary.
    """
    match = _SIZE.match(text)
    if not match:
        raise ValueError(f"{text!r} is not a size: write e.g. 10MiB (10 x 1024^2 bytes), 10MB (10^7 bytes) or 512k.")
    number, unit = float(match.group(1)), (match.group(2) or "").lower()
    if unit in ("", "b"):
        return int(number)
    power = "kmg".index(unit[0]) + 1
    base = 1000 if unit.endswith("b") and not unit.endswith("ib") else 1024
    return int(number * base**power)


def format_size(size: int) -> str:
    """``10,485,760 bytes (10 MiB)``: the exact number, and binary units that say they are binary."""
    value, unit = float(size), "bytes"
    for name in ("KiB", "MiB", "GiB"):
        if value < 1024:
            break
        value, unit = value / 1024, name
    shown = f" ({value:.3g} {unit})" if unit != "bytes" else ""
    return f"{size:,} bytes{shown}"


def _error(status: int, message: str, **extra: Any) -> JSONResponse:
    return JSONResponse({"code": status, "message": message, **extra}, status_code=status)


class TooLarge(Exception):
    pass


async def _read_body(request: Request, limit: int) -> bytes:
    chunks = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise TooLarge
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        inflater = zlib.decompressobj(wbits=31)
        try:
            body = inflater.decompress(body, limit + 1)
        except zlib.error as exc:
            raise ValueError(f"the gzip body is corrupt: {exc}") from exc
        if len(body) > limit or inflater.unconsumed_tail:
            raise TooLarge
    return body


def create_app(instance: Instance, *, max_body: int = DEFAULT_MAX_BODY, api_key: str | None = None) -> FastAPI:
    """The ASGI app for ``instance``; ``api_key`` defaults to ``FLOWTRAIL_API_KEY``."""
    key = api_key if api_key is not None else os.environ.get("FLOWTRAIL_API_KEY") or None
    ingestor = Ingestor(instance)
    views = Views(instance)
    app = FastAPI(title="flowtrail", version=__version__, description="OpenLineage consumer and Marquez-compatible lineage API.")

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["LineageEvent"] = EVENT_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def reading(function: Any, *args: Any) -> Any:
        try:
            return function(*args)
        finally:
            instance.sessions.end_read()

    @app.post(
        "/api/v1/lineage",
        status_code=201,
        openapi_extra={"requestBody": EVENT_BODY},
        responses={400: {"description": "malformed JSON"}, 401: {"description": "missing or wrong API key"},
                   413: {"description": "body too large"}, 422: {"description": "invalid event"}},  # fmt: skip
    )
    async def post_lineage(request: Request) -> Any:
        """Store one OpenLineage event, or a JSON array of events, atomically."""
        if key is not None:
            given = request.headers.get("authorization", "")
            if not hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
                return _error(401, "Send Authorization: Bearer <FLOWTRAIL_API_KEY> to write events.")
        try:
            body = await _read_body(request, max_body)
        except TooLarge:
            return _error(413, f"The request body is larger than {format_size(max_body)} (after gunzip): send fewer events.")
        except ValueError as exc:
            return _error(400, str(exc))
        try:
            payload = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            return _error(400, f"The body is not valid JSON: {exc}")
        events = payload if isinstance(payload, list) else [payload]
        if not events:
            return _error(422, "The array holds no events.", errors=[])
        try:
            result = await run_in_threadpool(ingestor.ingest, events)
        except InvalidEvent as exc:
            problems = [p.as_dict() | ({"event": exc.index} if exc.index is not None else {}) for p in exc.problems]
            return _error(422, f"Invalid OpenLineage event: {exc}", errors=problems)
        return JSONResponse({"stored": result.stored, "duplicates": result.duplicates}, status_code=201)

    @app.get("/api/v1/namespaces")
    def namespaces() -> dict[str, Any]:
        return reading(lambda: {"namespaces": [views.namespace_json(n) for n in views.namespace_names()]})

    @app.get("/api/v1/namespaces/{namespace:path}/jobs")
    def jobs(namespace: str, limit: int = Query(100, ge=0, le=10_000), offset: int = Query(0, ge=0, le=2**31)) -> dict[str, Any]:
        from sqlalchemy import select

        from ...core.models import Transform

        def find() -> dict[str, Any]:
            ns = "" if namespace == views.own else namespace
            query = select(Transform).where(Transform.namespace == ns, Transform.is_latest.is_(True)).order_by(Transform.key)
            found = list(views.session.scalars(query))
            return {"jobs": [views.job_json(t) for t in found[offset : offset + limit]], "totalCount": len(found)}

        return reading(find)

    @app.get("/api/v1/namespaces/{namespace:path}/jobs/{job:path}/runs", response_model=None)
    def job_runs(namespace: str, job: str, limit: int = Query(100, ge=0, le=10_000), offset: int = Query(0, ge=0, le=2**31)) -> Any:
        def find() -> Any:
            try:
                transform = views.transform(namespace, job)
            except DoesNotExist as exc:
                return _error(404, str(exc))
            runs = sorted(transform.runs, key=lambda r: (r.started_at is None, r.started_at), reverse=True)
            return {"runs": [views.run_json(r) for r in runs[offset : offset + limit]], "totalCount": len(runs)}

        return reading(find)

    @app.get("/api/v1/namespaces/{namespace:path}/jobs/{job:path}", response_model=None)
    def job_detail(namespace: str, job: str) -> Any:
        def find() -> Any:
            try:
                return views.job_json(views.transform(namespace, job))
            except DoesNotExist as exc:
                return _error(404, str(exc))

        return reading(find)

    @app.get("/api/v1/jobs/runs/{run_id}", response_model=None)
    def run_detail(run_id: str) -> Any:
        from sqlalchemy import select

        from ...core.models import Run

        def find() -> Any:
            run = views.session.scalar(select(Run).where(Run.uid == run_id))
            return views.run_json(run) if run is not None else _error(404, f"No run {run_id!r}.")

        return reading(find)

    @app.get("/api/v1/namespaces/{namespace:path}/datasets")
    def datasets(namespace: str, limit: int = Query(100, ge=0, le=10_000), offset: int = Query(0, ge=0, le=2**31)) -> dict[str, Any]:
        from ...core.models import Artifact

        def find() -> dict[str, Any]:
            found = [a for a in Artifact.filter(is_latest=True).order_by("key") if views.in_namespace(a, namespace)]
            return {"datasets": [views.dataset_json(a) for a in found[offset : offset + limit]], "totalCount": len(found)}

        return reading(find)

    @app.get("/api/v1/namespaces/{namespace:path}/datasets/{dataset:path}/versions", response_model=None)
    def dataset_versions(namespace: str, dataset: str, limit: int = Query(100, ge=0, le=10_000), offset: int = Query(0, ge=0, le=2**31)) -> Any:
        def find() -> Any:
            try:
                versions = views.artifact(namespace, dataset, latest=False)
            except DoesNotExist as exc:
                return _error(404, str(exc))
            page = versions[offset : offset + limit]
            return {"versions": [views.dataset_json(a, version=True) for a in page], "totalCount": len(versions)}

        return reading(find)

    @app.get("/api/v1/namespaces/{namespace:path}/datasets/{dataset:path}", response_model=None)
    def dataset_detail(namespace: str, dataset: str) -> Any:
        def find() -> Any:
            try:
                return views.dataset_json(views.artifact(namespace, dataset)[0])
            except DoesNotExist as exc:
                return _error(404, str(exc))

        return reading(find)

    @app.get("/api/v1/lineage", response_model=None)
    def lineage(nodeId: str = Query(..., description="dataset:NAMESPACE:NAME or job:NAMESPACE:NAME"),  # noqa: N803
                depth: int = Query(20, ge=0, le=100)) -> Any:  # fmt: skip
        from .graph import lineage_graph

        def find() -> Any:
            try:
                return {"graph": lineage_graph(views, nodeId, depth)}
            except DoesNotExist as exc:
                return _error(404, str(exc))
            except ValueError as exc:
                return _error(400, str(exc))

        return reading(find)

    @app.get("/api/v1/column-lineage", response_model=None)
    def column_lineage(nodeId: str = Query(...), depth: int = Query(20, ge=0, le=100)) -> Any:  # noqa: N803
        from .graph import column_lineage_graph

        def find() -> Any:
            try:
                return {"graph": column_lineage_graph(views, nodeId, depth)}
            except DoesNotExist as exc:
                return _error(404, str(exc))
            except ValueError as exc:
                return _error(400, str(exc))

        return reading(find)

    @app.get("/api/v1/events/lineage")
    def events(limit: int = Query(100, ge=0, le=10_000), offset: int = Query(0, ge=0, le=2**31),
               sortDirection: str = Query("desc", pattern="^(asc|desc)$")) -> dict[str, Any]:  # noqa: N803  # fmt: skip
        def find() -> dict[str, Any]:
            rows, total = views.event_rows(limit, offset, sortDirection == "asc")
            return {"events": rows, "totalCount": total}

        return reading(find)

    @app.get("/api/v1/search")
    def search(q: str = Query(..., min_length=1), limit: int = Query(10, ge=0, le=10_000)) -> dict[str, Any]:
        from ...core.models import Artifact, Transform

        def find() -> dict[str, Any]:
            results = []
            for transform in Transform.search(q).filter(is_latest=True)[:limit]:
                ns = views.job_namespace(transform)
                results.append({"type": "JOB", "name": transform.key, "updatedAt": None, "namespace": ns,
                                "nodeId": f"job:{ns}:{transform.key}"})  # fmt: skip
            for artifact in Artifact.search(q).filter(is_latest=True)[:limit]:
                ns, name = views.dataset_id(artifact)
                results.append({"type": "DATASET", "name": name, "updatedAt": None, "namespace": ns,
                                "nodeId": f"dataset:{ns}:{name}"})  # fmt: skip
            return {"totalCount": len(results[:limit]), "results": results[:limit]}

        return reading(find)

    # Last: a namespace may contain slashes (s3://bucket), so this pattern would swallow the routes above.
    @app.get("/api/v1/namespaces/{namespace:path}", response_model=None)
    def namespace(namespace: str) -> Any:
        def find() -> Any:
            if namespace not in views.namespace_names():
                return _error(404, f"No namespace {namespace!r}.")
            return views.namespace_json(namespace)

        return reading(find)

    @app.get("/api/v1/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    return app
