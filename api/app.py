"""The FastAPI application: lifespan wiring, request ids in every log line, error mapping."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from temporalio.client import Client

from api.routes import admin, cases, caseworker, public, supervisor
from store.db import Store
from store.users import ensure_admin
from worker.settings import Settings, get_settings
from worker.temporal import connect

log = structlog.get_logger("api")


def create_app(
    settings: Settings | None = None,
    *,
    store: Store | None = None,
    client: Client | None = None,
) -> FastAPI:
    """The API; ``store`` and ``client`` may be given (tests, `onetrip dev`), else built."""
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        own_store = store is None
        app.state.store = store or Store(settings.database_url)
        app.state.client = client or await connect(
            settings.temporal_address, settings.temporal_namespace
        )
        if settings.admin_token and ensure_admin(app.state.store, settings.admin_token):
            log.info("bootstrap admin created")
        try:
            yield
        finally:
            if own_store:
                app.state.store.dispose()

    app = FastAPI(
        title="OneTrip 一趟办",
        description="政务服务审批流程引擎 API / government service approvals API",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if store is not None:
        app.state.store = store
    if client is not None:
        app.state.client = client

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid
        structlog.contextvars.bind_contextvars(request_id=rid)
        started = time.perf_counter()
        try:
            response = await call_next(request)
        finally:
            structlog.contextvars.unbind_contextvars("request_id")
        response.headers["X-Request-ID"] = rid
        log.info(
            "request",
            request_id=rid,
            method=request.method,
            path=request.url.path,
            status=response.status_code,
            ms=round((time.perf_counter() - started) * 1000, 1),
        )
        return response

    for module in (public, cases, caseworker, supervisor, admin):
        app.include_router(module.router)
    return app
