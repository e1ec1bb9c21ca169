"""The FastAPI application: lifespan wiring, request ids in every log line, error mapping.

Answers stay bounded and clear: a body over ``ONETRIP_MAX_BODY_BYTES`` is 413 before it is
read in full; validation errors name the field and never echo the input back; a store or
Temporal that cannot be reached is 503 with ``Retry-After``, never 500.
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import structlog
from fastapi import FastAPI, Request, Response
from sqlalchemy.exc import DisconnectionError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from temporalio.client import Client
from temporalio.service import RPCError

from api import edge, errors
from api.routes import (
    admin,
    cases,
    caseworker,
    evaluation,
    followups,
    public,
    subscribers,
    supervisor,
)
from core.settings import Settings, get_settings
from store.db import Store
from store.users import ensure_admin
from workflows.client import connect

log = structlog.get_logger("api")


class BodyLimit:
    """Refuse a request body larger than ``limit`` bytes with 413, reading no more of it; and,
    before any route reads them, bodies and query strings it could only misread (see
    :mod:`api.edge`): 422 naming where, 415 for a multipart body (no form here takes files,
    and its parser turns text that is not UTF-8 into Latin-1 without a word)."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._too_large(scope, receive, send)
            return
        query = edge.query_problem(scope.get("query_string") or b"")
        if query is not None:
            await self._refuse(scope, receive, send, 422, [query])
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body = message.get("body", b"")
            size += len(body)
            if size > self.limit:
                await self._too_large(scope, receive, send)
                return
            chunks.append(body)
            if not message.get("more_body", False):
                break
        whole = b"".join(chunks)
        if whole:
            media = edge.media_type(headers.get(b"content-type"))
            if media == "multipart/form-data":
                detail = (
                    "不接受 multipart/form-data，请以 application/json 或表单"
                    "（application/x-www-form-urlencoded）提交 / multipart/form-data is not"
                    " accepted: send application/json, or a form as"
                    " application/x-www-form-urlencoded"
                )
                await self._refuse(scope, receive, send, 415, detail)
                return
            problem = None
            if edge.is_json(media) and (media or scope["method"] not in ("GET", "HEAD")):
                problem = edge.json_problem(whole)
            elif media == "application/x-www-form-urlencoded":
                problem = edge.form_problem(whole)
            if problem is not None:
                await self._refuse(scope, receive, send, 422, [problem])
                return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": whole, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        detail = (
            f"请求体超过 {self.limit} 字节 / the request body is larger than {self.limit} bytes"
        )
        await self._refuse(scope, receive, send, 413, detail)

    async def _refuse(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        status: int,
        detail: str | list[edge.Problem],
    ) -> None:
        """The one error body (a page for a page's path), with the request's id."""
        request = Request(scope)
        given = request.headers.get("x-request-id", "")
        rid = given if 0 < len(given) <= 200 and given.isprintable() else uuid.uuid4().hex
        request.state.request_id = rid
        if isinstance(detail, list):
            fields = [{"loc": loc, "msg": msg, "type": "value_error"} for loc, msg in detail]
            response = errors.respond(request, status, fields)
        else:
            response = errors.respond(request, status, detail)
        log.info(
            "request refused at the edge", request_id=rid, status=status, path=scope["path"][:200]
        )
        await response(scope, receive, send)


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
        # Lazy: the API starts (and answers 503) while Temporal is still coming up.
        app.state.client = client or await connect(
            settings.temporal_address, settings.temporal_namespace, lazy=True
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
        version="0.2.0",
        lifespan=lifespan,
    )
    app.state.settings = settings
    if store is not None:
        app.state.store = store
    if client is not None:
        app.state.client = client

    errors.install(app)

    @app.exception_handler(OperationalError)
    @app.exception_handler(DisconnectionError)
    @app.exception_handler(PoolTimeout)
    async def store_down(request: Request, exc: Exception) -> Response:
        log.warning("store unavailable", error=errors.short(exc))
        return errors.outage(request, "存储 / the store", "store_unavailable")

    @app.exception_handler(RPCError)
    @app.exception_handler(RuntimeError)
    async def temporal_down(request: Request, exc: Exception) -> Response:
        if isinstance(exc, RuntimeError) and "client connect" not in str(exc):
            raise exc  # a bug, not an outage: the default 500 and its log line
        log.warning("temporal unavailable", error=errors.short(exc))
        return errors.outage(request, "流程引擎 / the engine", "engine_unavailable")

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id")
        if not rid or len(rid) > 200 or not rid.isprintable():
            rid = uuid.uuid4().hex
        request.state.request_id = rid
        request.state.received_at = dt.datetime.now(dt.UTC)
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

    for module in (
        public,
        cases,
        caseworker,
        supervisor,
        followups,
        evaluation,
        admin,
        subscribers,
    ):
        app.include_router(module.router)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    return app
