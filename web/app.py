"""The whole HTTP app: the JSON API (api.app) with the pages on top of it."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from api.app import create_app as create_api
from web import admin, applicant, casework, pages, supervision
from web.i18n import choose

PAGE_PATHS = ("/guide/", "/statistics", "/login", "/logout", "/work", "/apply", "/my")
"""Paths answered by pages (and ``/`` itself): their errors are pages too."""


def _is_page(path: str) -> bool:
    return path == "/" or any(
        path == p or path.startswith(p + "/") or (p.endswith("/") and path.startswith(p))
        for p in PAGE_PATHS
    )


def page_error(request: Request, status: int, body: dict[str, Any]) -> HTMLResponse | None:
    """An error on a page, as a page (the API's answers stay JSON)."""
    if not _is_page(request.url.path):
        return None
    who = pages.Visitor(
        choose(request.query_params.get("lang"), request.cookies.get(pages.LANG_COOKIE)),
        None,
        None,
    )
    message = body.get("message") or {}
    text = message.get(who.lang) or message.get("zh") or ""
    return pages.render(request, who, "error.html", status_code=status, status=status, message=text)


def install(app: FastAPI) -> FastAPI:
    """Add the pages, their static files and their error pages to an API app."""
    app.include_router(pages.router)
    app.include_router(casework.router)
    app.include_router(applicant.router)
    app.include_router(supervision.router)
    app.include_router(admin.router)
    app.mount("/static", StaticFiles(directory=pages.HERE / "static"), name="static")
    app.state.page_errors = page_error
    return app


def create_app(*args: Any, **kwargs: Any) -> FastAPI:
    """The API (same arguments as api.app.create_app) with the pages."""
    return install(create_api(*args, **kwargs))
