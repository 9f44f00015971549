"""The web interface of ``flowtrail serve``: pages for artifacts, runs, transforms and projects,
search, and an interactive lineage graph.

Everything the pages use ships in this package (Jinja templates, one stylesheet, small vanilla
JavaScript drawing SVG): nothing is loaded from the network and no system binary is needed. The
graph's layout is computed in Python (:mod:`flowtrail.core.lineage.layout`), the same layout the
``flowtrail lineage`` SVG and HTML files use. Pages only read the registry.

:func:`mount` adds the pages to the API's FastAPI app; :mod:`flowtrail.web.standalone` writes the
lineage as one self-contained HTML file without a server.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fastapi import FastAPI

    from flowtrail.core.instance import Instance


def mount(app: FastAPI, instance: Instance, *, api_key: str | None = None, protect_reads: bool = False) -> None:
    """Serve the web interface at ``/`` of ``app`` (the API keeps its paths).

    With ``api_key`` and ``protect_reads``, every read (pages and API) needs the key: pages ask
    for it once and keep a cookie, API clients send ``Authorization: Bearer <key>``.
    """
    from flowtrail.web.access import install_read_protection
    from flowtrail.web.pages import STATIC, page_router, static_files

    app.router.routes[:] = [r for r in app.router.routes if getattr(r, "path", None) not in _CDN_DOCS]
    app.include_router(page_router(instance))
    app.mount(STATIC, static_files(), name="flowtrail-static")
    if api_key and protect_reads:
        install_read_protection(app, api_key)


# FastAPI's own /docs and /redoc load their scripts from a CDN; the package serves an offline /docs.
_CDN_DOCS = ("/docs", "/docs/oauth2-redirect", "/redoc")
