"""Reads behind ``FLOWTRAIL_API_KEY`` (``flowtrail serve --protect-reads``).

API clients send ``Authorization: Bearer <key>``. A browser cannot add that header to page
loads, so pages ask for the key once (``/login``) and keep a cookie holding an HMAC of the key
(never the key itself), HttpOnly and SameSite=Strict. Stylesheets and scripts stay public: they
hold no data.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse

COOKIE = "flowtrail_session"
PUBLIC = ("/login", "/api/v1/health", "/favicon.ico")


def session_token(key: str) -> str:
    """What the cookie holds: proof of the key without the key."""
    return hmac.new(key.encode(), b"flowtrail web session", hashlib.sha256).hexdigest()


def _authorised(request: Request, key: str, token: str) -> bool:
    given = request.headers.get("authorization", "")
    if given and hmac.compare_digest(given.encode(), f"Bearer {key}".encode()):
        return True
    cookie = request.cookies.get(COOKIE, "")
    return bool(cookie) and hmac.compare_digest(cookie.encode(), token.encode())


def _safe_next(target: str | None) -> str:
    # Only paths on this server: no scheme, no //host.
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


def _login_page(target: str, wrong: bool) -> str:
    from flowtrail.web.pages import render

    return render("login.html", {"next": target, "wrong": wrong, "title": "Sign in"})


def install_read_protection(app: FastAPI, key: str) -> None:
    """Require the key for every GET/HEAD except the login page and static files."""
    token = session_token(key)

    @app.middleware("http")
    async def guard(request: Request, call_next: Any) -> Any:
        path = request.url.path
        if request.method not in ("GET", "HEAD") or path in PUBLIC or path.startswith("/ui/static/"):
            return await call_next(request)
        if _authorised(request, key, token):
            return await call_next(request)
        if path.startswith(("/api/", "/openapi.json", "/ui/")) or "text/html" not in request.headers.get("accept", ""):
            return JSONResponse({"code": 401, "message": "Send Authorization: Bearer <FLOWTRAIL_API_KEY> to read."},
                                status_code=401)  # fmt: skip
        target = path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse(f"/login?next={quote(target)}", status_code=303)

    router = APIRouter(include_in_schema=False)

    @router.get("/login", response_class=HTMLResponse)
    def login_form(next: str = "/") -> str:  # noqa: A002 - the query parameter's name
        return _login_page(_safe_next(next), wrong=False)

    @router.post("/login", response_model=None)
    async def login(request: Request) -> Any:
        form = parse_qs((await request.body()).decode(errors="replace"))
        given = (form.get("key") or [""])[0]
        target = _safe_next((form.get("next") or ["/"])[0])
        if not hmac.compare_digest(given.encode(), key.encode()):
            return HTMLResponse(_login_page(target, wrong=True), status_code=401)
        response = RedirectResponse(target, status_code=303)
        response.set_cookie(COOKIE, token, httponly=True, samesite="strict", path="/")
        return response

    app.include_router(router)


__all__ = ["COOKIE", "install_read_protection", "session_token"]
