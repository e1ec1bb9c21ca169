"""One error body for every 4xx and 5xx answer, and the OpenAPI that documents it.

Every error answers ``{"code", "message": {"zh", "en"}, "detail", "request_id"}``: a stable
machine-readable code, the message in both languages, the detail (a message, or for invalid
input the list of fields with their path in ``loc``) and the request id that is also in the
``X-Request-ID`` header and in every log line of the request. Nothing of a large input is
echoed back: messages and paths are cut short.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

from definitions.loader import explain

RETRY_AFTER = 5
"""Seconds a client is asked to wait (``Retry-After``) when a service OneTrip depends on is
down."""
MESSAGE_LENGTH = 1000
"""Error messages are cut to this length, so a huge input is never sent back."""
MAX_FIELDS = 50

CODES = {
    400: "bad_request",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "body_too_large",
    415: "unsupported_media_type",
    422: "invalid_input",
    500: "internal_error",
    503: "unavailable",
}
"""The code of an answer that names no finer one, by status."""

DEFAULT_MESSAGES = {
    400: ("请求格式有误", "bad request"),
    401: ("需要有效的令牌", "a valid bearer token is required"),
    403: ("无权执行此操作", "not allowed"),
    404: ("不存在", "not found"),
    405: ("不支持此方法", "method not allowed"),
    409: ("与办件当前状态冲突", "conflicts with the case as it stands"),
    413: ("请求体过大", "the request body is too large"),
    422: ("请求内容有误，见 detail 中各字段", "the request is invalid; see the fields in detail"),
    500: ("服务内部错误，已记录", "internal error; it has been logged"),
}


class Message(BaseModel):
    zh: str
    en: str


class ErrorBody(BaseModel):
    """What every 4xx and 5xx answer holds."""

    code: str
    """Stable and machine-readable: ``not_found``, ``invalid_input``, ``last_admin`` …"""
    message: Message
    detail: Any = None
    """A message, or for invalid input a list of ``{loc, msg, type}`` (``loc`` is the field path)."""
    request_id: str


class ApiError(HTTPException):
    """An HTTP error with a finer code than its status gives."""

    def __init__(
        self, status_code: int, code: str, detail: Any, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status_code, detail, headers)
        self.code = code


def short(value: Any) -> str:
    """Text an answer can carry: cut to a few hundred characters, and any character UTF-8
    cannot encode (a lone surrogate quoted from the input) written as an escape, so that
    quoting a bad input never turns its refusal into a 500."""
    text = str(value)
    if len(text) > MESSAGE_LENGTH:
        text = text[:MESSAGE_LENGTH] + "…"
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


_SEPARATOR = re.compile(r"\s*/\s+")


def _split(text: str, status: int = 400) -> Message:
    """``"中文 / English"`` as the project writes messages, each language cut short on its
    own. Text in one language only (a framework's English) gets the status's words for the
    other."""
    zh_default, en_default = DEFAULT_MESSAGES.get(status, ("请求失败", "request failed"))
    text = text[: 4 * MESSAGE_LENGTH]  # both languages fit; a longer text is cut anyway
    for match in _SEPARATOR.finditer(text):
        before, after = text[: match.start()], text[match.end() :]
        if not before.isascii() and after[:1].isascii() and after[:1].isalpha():
            return Message(zh=short(before), en=short(after))
    if text.isascii():
        return Message(zh=zh_default, en=short(text))
    return Message(zh=short(text), en=en_default)


def _fields(errors: list[Any]) -> list[dict[str, Any]]:
    """Each entry as given (a field error ``{loc, msg, type}``, a definition finding ``{code,
    message, file, line, column, path}``), every text in it cut short."""
    out = []
    for e in errors[:MAX_FIELDS]:
        if not isinstance(e, dict):
            out.append({"loc": [], "msg": short(e), "type": "value_error"})
            continue
        entry = {k: short(v) if isinstance(v, str) else v for k, v in e.items()}
        if isinstance(e.get("loc"), list | tuple):
            entry["loc"] = [short(p)[:100] if isinstance(p, str) else p for p in e["loc"]]
        out.append(entry)
    return out


def request_id_of(request: Request) -> str:
    rid: str | None = getattr(request.state, "request_id", None)
    return rid or uuid.uuid4().hex


def body(status: int, detail: Any, request_id: str, code: str | None = None) -> dict[str, Any]:
    """The error body of an answer."""
    if isinstance(detail, list):
        detail = _fields(detail)
        zh, en = DEFAULT_MESSAGES[422]
        message = Message(zh=zh, en=en)
    elif isinstance(detail, str) and detail:
        message = _split(detail, status)
        detail = short(detail)
    else:
        zh, en = DEFAULT_MESSAGES.get(status, ("请求失败", "request failed"))
        message = Message(zh=zh, en=en)
        detail = detail if detail is not None else f"{zh} / {en}"
    return ErrorBody(
        code=code or CODES.get(status, "error"),
        message=message,
        detail=detail,
        request_id=request_id,
    ).model_dump()


def respond(
    request: Request,
    status: int,
    detail: Any,
    code: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    rid = request_id_of(request)
    if status == 503 and not any(k.lower() == "retry-after" for k in headers or {}):
        # Every 503 says when to try again, whichever part of the code raised it.
        headers = {**(headers or {}), "Retry-After": str(RETRY_AFTER)}
    pages = getattr(request.app.state, "page_errors", None)
    if pages is not None and status != 303:
        # A page (not the API) answers a person with a page: the pages install this hook.
        page: Response | None = pages(request, status, body(status, detail, rid, code))
        if page is not None:
            for name, value in {**(headers or {}), "X-Request-ID": rid}.items():
                page.headers[name] = value
            return page
    return JSONResponse(
        body(status, detail, rid, code),
        status_code=status,
        headers={**(headers or {}), "X-Request-ID": rid},
    )


def outage(request: Request, what: str, code: str, retry_after: int = RETRY_AFTER) -> Response:
    """503 for a service OneTrip depends on; ``what`` is ``"中文 / English"``."""
    zh, _, en = what.partition(" / ")
    return respond(
        request,
        503,
        f"{zh}暂时不可用，请稍后重试 / {en} is unavailable, retry later",
        code,
        {"Retry-After": str(retry_after)},
    )


def install(app: FastAPI) -> None:
    """Answer every error with the one body, and document it in the OpenAPI."""

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
        code = exc.code if isinstance(exc, ApiError) else None
        return respond(request, exc.status_code, exc.detail, code, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> Response:
        # FastAPI's default answer repeats each offending input: a 10 MB string would come
        # back whole. Keep where and what, cut to a few hundred characters.
        fields = [{"loc": e["loc"], "msg": explain(e), "type": e.get("type")} for e in exc.errors()]
        return respond(request, 422, fields)

    @app.exception_handler(Exception)
    async def crashed(request: Request, exc: Exception) -> Response:
        if lost_store(exc):
            # The handlers of the app take the usual outage errors; this takes the others a
            # driver may raise when the connection went away mid-request.
            return outage(request, STORE, "store_unavailable")
        return respond(request, 500, None)

    app.openapi = lambda: _openapi(app)  # type: ignore[method-assign]


STORE = "存储 / the store"
ENGINE = "流程引擎 / the engine"


def lost_store(exc: BaseException) -> bool:
    """Whether ``exc`` says the store's connection is gone (not that a query was wrong).

    SQLAlchemy marks a driver error that its dialect recognises as a disconnect
    (``connection_invalidated``), whatever class the driver gave it; ``InterfaceError`` is
    the DB-API's error of a connection that is closed or broken."""
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(
        exc,
        sa_exc.OperationalError
        | sa_exc.InterfaceError
        | sa_exc.DisconnectionError
        | sa_exc.TimeoutError,
    )


ERRORS = {
    401: "未认证 / no valid bearer token",
    403: "角色或部门无权 / the role or department may not",
    404: "不存在或不在权限范围内 / does not exist, or not in the caller's scope",
    409: "与当前状态冲突 / conflicts with the current state",
    413: "请求体过大 / the request body is too large",
    422: "输入有误，detail 列出各字段 / invalid input, each field in detail",
    503: "暂时不可用，见 Retry-After / temporarily unavailable, see Retry-After",
}


def _openapi(app: FastAPI) -> dict[str, Any]:
    """The schema, with the error answers of each operation and the Idempotency-Key header of
    each action."""
    if app.openapi_schema:
        return app.openapi_schema
    schema = get_openapi(
        title=app.title, version=app.version, description=app.description, routes=app.routes
    )
    components = schema.setdefault("components", {}).setdefault("schemas", {})
    components["ErrorBody"] = ErrorBody.model_json_schema(
        ref_template="#/components/schemas/{model}"
    )
    for defs in list(components["ErrorBody"].pop("$defs", {}).items()):
        components.setdefault(defs[0], defs[1])
    key = {
        "name": "Idempotency-Key",
        "in": "header",
        "required": False,
        "schema": {"type": "string", "maxLength": 200},
        "description": "同一请求重试时使用同一键，只执行一次；同一键用于不同请求体时答 422 /"
        " the same key for a retry acts once; the same key with another body answers 422",
    }
    for path, operations in schema.get("paths", {}).items():
        for method, operation in operations.items():
            public = path in (
                "/healthz",
                "/procedures",
                "/procedures/{code}",
                "/public/statistics",
            )
            statuses = [404, 422, 503] if public else [401, 403, 404, 422, 503]
            if method in ("post", "patch", "put", "delete"):
                statuses += [409, 413]
                if method == "post" and path.startswith("/cases"):
                    # The case actions and the submission act once per key; admin calls do not
                    # take one.
                    operation.setdefault("parameters", []).append(key)
            responses = operation.setdefault("responses", {})
            for status in sorted(set(statuses)):
                responses[str(status)] = {
                    "description": ERRORS[status],
                    "content": {
                        "application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}
                    },
                }
    app.openapi_schema = schema
    return schema
