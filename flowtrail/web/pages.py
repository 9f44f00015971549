"""The page routes: home and search, artifact, run, transform, project, lineage, offline API docs.

Pages are rendered on the server from Jinja templates (autoescaped: keys like ``plate[red]`` and
any user text show as typed); the lineage page draws ``/ui/lineage.json`` with the packaged
script. Each request reads in the thread's session and ends its read transaction afterwards.
"""

from __future__ import annotations

import datetime as dt
import json
from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from flowtrail.core.describe.records import human_size
from flowtrail.core.errors import DoesNotExist
from flowtrail.web import page_data
from flowtrail.web.lineage_data import picture, record_for

if TYPE_CHECKING:
    from flowtrail.core.instance import Instance

STATIC = "/ui/static"


@cache
def _environment() -> Any:
    from jinja2 import Environment, PackageLoader, select_autoescape

    env = Environment(loader=PackageLoader("flowtrail.web", "templates"), autoescape=select_autoescape(default=True))
    env.filters["when"] = lambda v: v.strftime("%Y-%m-%d %H:%M:%S") if isinstance(v, dt.datetime) else "-"
    env.filters["size"] = human_size
    env.filters["duration"] = page_data.duration
    env.filters["pretty"] = lambda v: json.dumps(v, indent=2, sort_keys=True, default=str)
    env.filters["scalar"] = lambda v: v if isinstance(v, str) else json.dumps(v, default=str)
    env.globals["static"] = STATIC
    return env


def render(template: str, context: dict[str, Any]) -> str:
    """One page as HTML."""
    return _environment().get_template(template).render(**context)


def static_folder() -> str:
    """The packaged folder of stylesheets and scripts."""
    from importlib.resources import files

    return str(files("flowtrail.web") / "static")


def page_router(instance: Instance) -> APIRouter:
    """The routes of the web interface for ``instance``."""
    router = APIRouter(include_in_schema=False)
    sessions = instance.sessions

    def page(template: str, build: Any, *args: Any) -> Response:
        session = sessions.current()
        try:
            try:
                context = build(session, *args)
            except DoesNotExist as exc:
                return HTMLResponse(render("missing.html", {"title": "Not found", "message": str(exc)}), status_code=404)
            return HTMLResponse(render(template, context))
        finally:
            sessions.end_read()

    def lookup(kind: str, build: Any) -> Any:
        return lambda session, uid: build(session, record_for(session, f"{kind}:{uid}"))

    @router.get("/")
    def home(q: str = "") -> Response:
        def build(session: Any) -> dict[str, Any]:
            context = {"title": "flowtrail", "q": q.strip()} | page_data.home(session)
            if q.strip():
                context["found"] = page_data.search(session, q.strip())
            return context

        return page("home.html", build)

    @router.get("/artifacts/{uid}")
    def artifact(uid: str) -> Response:
        return page("artifact.html", lookup("artifact", page_data.artifact), uid)

    @router.get("/artifacts/{uid}/download", response_model=None)
    def download(uid: str) -> Response:
        session = sessions.current()
        try:
            record = record_for(session, f"artifact:{uid}")
            path = page_data.local_file(record.location)
        except DoesNotExist as exc:
            return JSONResponse({"message": str(exc)}, status_code=404)
        finally:
            sessions.end_read()
        if path is None:
            return JSONResponse({"message": "This artifact is not a file on the server's machine."}, status_code=404)
        return FileResponse(path, filename=(record.key or record.uid).rsplit("/", 1)[-1])

    @router.get("/runs/{uid}")
    def run(uid: str) -> Response:
        return page("run.html", lookup("run", page_data.run), uid)

    @router.get("/transforms/{uid}")
    def transform(uid: str) -> Response:
        return page("transform.html", lookup("transform", page_data.transform), uid)

    @router.get("/projects/{uid}")
    def project(uid: str) -> Response:
        def build(session: Any, uid: str) -> dict[str, Any]:
            from sqlalchemy import select

            from flowtrail.core.models import Project

            record = session.scalar(select(Project).where(Project.uid == uid))
            if record is None:
                raise DoesNotExist(f"No project has the uid {uid!r}.")
            return page_data.project(session, record)

        return page("project.html", build, uid)

    @router.get("/lineage/{kind}/{uid}")
    def lineage_page(kind: str, uid: str, direction: str = Query("both", pattern="^(up|down|both)$"),
                     depth: int | None = Query(None, ge=0, le=1000), limit: int = Query(300, ge=10, le=20_000),
                     open: list[str] = Query([])) -> Response:  # noqa: A002  # fmt: skip
        def build(session: Any) -> dict[str, Any]:
            record = record_for(session, f"{kind}:{uid}")
            name = getattr(record, "key", None) or getattr(record, "name", None) or record.uid
            return {"title": f"Lineage of {name}", "record": record, "kind": kind, "name": name,
                    "node": f"{kind}:{uid}", "direction": direction, "depth": depth, "limit": limit,
                    "open": open}  # fmt: skip

        return page("lineage.html", build)

    @router.get("/ui/lineage.json", response_model=None)
    def lineage_json(node: str, direction: str = Query("both", pattern="^(up|down|both)$"),
                     depth: int | None = Query(None, ge=0, le=1000), expand: list[str] = Query([]),
                     open: list[str] = Query([]), limit: int = Query(300, ge=10, le=20_000)) -> Any:  # noqa: A002  # fmt: skip
        session = sessions.current()
        try:
            return picture(session, node, direction, depth, expand, open, limit)
        except DoesNotExist as exc:
            return JSONResponse({"code": 404, "message": str(exc)}, status_code=404)
        finally:
            sessions.end_read()

    @router.get("/docs", response_class=HTMLResponse)
    def docs(request: Request) -> str:
        schema = request.app.openapi()
        return render("docs.html", {"title": "API", "schema": schema})

    return router


def static_files() -> StaticFiles:
    """The ASGI app serving the packaged stylesheets and scripts (mounted at ``STATIC``)."""
    return StaticFiles(directory=static_folder())


__all__ = ["STATIC", "page_router", "render", "static_files", "static_folder"]
