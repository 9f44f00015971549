"""The HTTP API: OpenLineage in (``POST /api/v1/lineage``) and Marquez-compatible reads.

Write requests: one event or a JSON array, optionally gzip-encoded, at most ``max_body`` bytes
(also after decompression). Malformed JSON is a 400, an invalid event a 422 naming each field
and why; either way nothing of the request is stored. JSON that no registry can store and read back
(NaN, 1e400, 64-bit overflows, deep nesting, NUL characters, lone surrogates) is refused at the door
(:mod:`.json_door`). Writes must be ``Content-Type: application/json``. With ``FLOWTRAIL_API_KEY`` set,
writes need ``Authorization: Bearer <key>`` (what openlineage-python's http transport sends with an
api_key), and with ``protect_reads`` so do reads.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import re
import zlib
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from flowtrail._version import __version__
from flowtrail.integrations.openlineage.ingest import Ingestor
from flowtrail.integrations.openlineage.json_door import RefusedJson, parse_body
from flowtrail.integrations.openlineage.marquez import Views
from flowtrail.integrations.openlineage.marquez_routes import marquez_router
from flowtrail.integrations.openlineage.validation import InvalidEvent

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

DEFAULT_MAX_BODY = 10 * 1024 * 1024
MAX_HEAD_BYTES = 32 * 1024  # request line and headers together (h11 checks it per read, up to 64 KiB each)
DEFAULT_CONCURRENT_BODIES = 4  # write bodies in memory at once: peak memory ~ this x max_body x a few
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


class BoundedHeads:
    """Refuse requests whose headers exceed ``MAX_HEAD_BYTES`` (431) or whose URL holds a NUL (400).

    uvicorn's h11 refuses a head that trickles in past the bound; one that arrives in a single
    read (up to 256 KiB) is parsed whole, so the bound is checked here as well. No name, search
    term or id can hold a NUL (PostgreSQL text cannot), so a URL with one is refused before any
    route reads it. A plain ASGI middleware: Starlette's ``BaseHTTPMiddleware`` would cost more per
    request than storing an event.
    """

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http" and sum(len(name) + len(value) for name, value in scope["headers"]) > MAX_HEAD_BYTES:
            await _error(431, f"The request headers exceed {MAX_HEAD_BYTES // 1024} KiB.")(scope, receive, send)
            return
        if scope["type"] == "http" and (b"%00" in scope.get("query_string", b"") or "\x00" in scope["path"]):
            message = "The URL contains a NUL character (%00): names, ids and search terms cannot hold one."
            await _error(400, message)(scope, receive, send)
            return
        await self.app(scope, receive, send)


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


def _json_type(request: Request) -> bool:
    """Writes must say ``application/json`` (gzip of it with Content-Encoding): a web page cannot
    send that to another origin without the browser asking first, so it cannot post events."""
    media = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    return media == "application/json"


def create_app(
    instance: Instance,
    *,
    max_body: int = DEFAULT_MAX_BODY,
    api_key: str | None = None,
    protect_reads: bool = False,
    max_concurrent_bodies: int = DEFAULT_CONCURRENT_BODIES,
) -> FastAPI:
    """The ASGI app for ``instance``; ``api_key`` defaults to ``FLOWTRAIL_API_KEY``.

    ``protect_reads`` puts every read behind the key too (health checks excepted). At most
    ``max_concurrent_bodies`` write bodies are held in memory at once; further writes wait.
    """
    key = (api_key if api_key is not None else os.environ.get("FLOWTRAIL_API_KEY")) or None
    if protect_reads and key is None:
        raise ValueError("Protecting reads needs an API key: set FLOWTRAIL_API_KEY.")
    ingestor = Ingestor(instance)
    views = Views(instance)
    bodies = asyncio.Semaphore(max_concurrent_bodies)
    app = FastAPI(title="flowtrail", version=__version__, description="OpenLineage consumer and Marquez-compatible lineage API.")

    def authorized(request: Request) -> bool:
        given = request.headers.get("authorization", "")
        return key is None or hmac.compare_digest(given.encode(), f"Bearer {key}".encode())

    app.add_middleware(BoundedHeads)

    # With protect_reads, reads (API and pages) are guarded by flowtrail.web's middleware, mounted below.

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            schema.setdefault("components", {}).setdefault("schemas", {})["LineageEvent"] = EVENT_SCHEMA
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    def parse_and_ingest(held: list[bytes]) -> Any:
        # One trip to the thread pool per request: parsing, checking and storing all block.
        payload = parse_body(held.pop())
        events = payload if isinstance(payload, list) else [payload]
        return ingestor.ingest(events) if events else None

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
                   413: {"description": "body too large"}, 415: {"description": "not application/json"},
                   422: {"description": "invalid event, or JSON that cannot be stored"}},  # fmt: skip
    )
    async def post_lineage(request: Request) -> Any:
        """Store one OpenLineage event, or a JSON array of events, atomically."""
        if not authorized(request):
            return _error(401, "Send Authorization: Bearer <FLOWTRAIL_API_KEY> to write events.")
        if not _json_type(request):
            return _error(415, "Send events with Content-Type: application/json (gzip them with Content-Encoding: gzip).")
        async with bodies:  # bounded memory: a few bodies at once, the rest wait their turn
            try:
                body = await _read_body(request, max_body)
            except TooLarge:
                return _error(413, f"The request body is larger than {format_size(max_body)} (after gunzip): send fewer events.")
            except ValueError as exc:
                return _error(400, str(exc))
            held = [body]  # handed over, so the body is freed once parsed
            del body
            try:
                result = await run_in_threadpool(parse_and_ingest, held)
            except RefusedJson as exc:
                return _error(exc.status, str(exc))
            except InvalidEvent as exc:
                problems = [p.as_dict() | ({"event": exc.index} if exc.index is not None else {}) for p in exc.problems]
                return _error(422, f"Invalid OpenLineage event: {exc}", errors=problems)
            if result is None:
                return _error(422, "The array holds no events.", errors=[])
        return JSONResponse({"stored": result.stored, "duplicates": result.duplicates}, status_code=201)

    app.include_router(marquez_router(views, reading))

    @app.get("/api/v1/health", include_in_schema=False)
    def health() -> dict[str, str]:
        return {"status": "ok"}

    from flowtrail.web import mount  # the web interface at / (flowtrail/web)

    mount(app, instance, api_key=key, protect_reads=protect_reads)
    return app
