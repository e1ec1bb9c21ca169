"""Sending case actions to workflows and turning every outcome into an HTTP answer.

A request's key (``Idempotency-Key``, else ``X-Request-ID``) names its update, so the same
request sent again acts once. The key is remembered per endpoint with a fingerprint of what
was asked: the same key with another body answers 422 instead of silently returning the first
answer (or carrying out another action). The
API waits a bounded time (``ONETRIP_UPDATE_TIMEOUT_SECONDS``) and then answers 503 with
``Retry-After``; the action still completes once, and asking again with the same key returns
its answer.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Callable
from typing import Any, NoReturn

import structlog
from fastapi import HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel
from temporalio.client import Client

from api.errors import ApiError
from api.public import ActionAnswer
from core.settings import Settings
from store.db import Store
from store.writes import remember_request
from workflows.client import (
    Closed,
    Done,
    Missing,
    Outcome,
    Pending,
    Refused,
    Unavailable,
    send,
    update_id,
)
from workflows.contracts import ActionResult

STATUS_OF = {
    "conflict": status.HTTP_409_CONFLICT,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "invalid": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "not_found": status.HTTP_404_NOT_FOUND,
}
KEY_LENGTH = 200

log = structlog.get_logger("api")


def client_key(request: Request) -> str | None:
    """The key the client chose (``Idempotency-Key``, else ``X-Request-ID``), if any."""
    key = request.headers.get("idempotency-key") or request.headers.get("x-request-id")
    if key is None:
        return None
    if not key or len(key) > KEY_LENGTH or not key.isprintable():
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            [
                {
                    "loc": ["header", "Idempotency-Key"],
                    "msg": f"须为不超过 {KEY_LENGTH} 个可打印字符 / at most {KEY_LENGTH}"
                    " printable characters",
                    "type": "value_error",
                }
            ],
        )
    return key


def request_key(request: Request) -> str:
    """The client's key, else a fresh one (the request then acts once by itself)."""
    return client_key(request) or uuid.uuid4().hex


def fingerprint(action: str, data: BaseModel) -> str:
    """What a request asked for, without who and which key: equal for a retry of it."""
    body = data.model_dump(mode="json", exclude={"actor", "request_id"})
    text = json.dumps([action, body], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


async def same_request(store: Store, key_id: str, digest: str) -> None:
    """422 if the key was used before for another request."""
    first = await run_in_threadpool(remember_request, store, key_id, digest)
    if first != digest:
        raise ApiError(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            "idempotency_key_reused",
            "该 Idempotency-Key 已用于另一个请求 / this Idempotency-Key was used for another"
            " request",
        )


def unavailable(message: str, retry_after: int = 5, code: str = "unavailable") -> HTTPException:
    """503 with ``Retry-After``; ``message`` (``"中文 / English"``) says what cannot answer."""
    zh, _, en = message.partition(" / ")
    return ApiError(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        code,
        f"{zh}，请稍后以相同 Idempotency-Key 重试 / {en or zh}; retry later with the same"
        " Idempotency-Key",
        headers={"Retry-After": str(retry_after)},
    )


ENGINE_DOWN = "流程引擎暂时没有应答 / the workflow engine (Temporal) does not answer"
"""What a client is told when Temporal cannot be reached or does not answer in time; the
error itself (addresses, gRPC details) goes to the log, not to the client."""


def answer(outcome: Outcome, case_id: str) -> ActionAnswer:
    """The HTTP answer of an outcome: the result, or the matching error."""
    if isinstance(outcome, Done):
        return ActionAnswer.of(outcome.result)
    fail(outcome, case_id)


def fail(outcome: Outcome, case_id: str) -> NoReturn:
    if isinstance(outcome, Refused):
        raise HTTPException(STATUS_OF.get(outcome.kind, 422), outcome.message)
    if isinstance(outcome, Pending):
        raise unavailable("办件正在处理 / the case is busy", outcome.retry_after, "case_busy")
    if isinstance(outcome, Closed):
        raise ApiError(
            status.HTTP_409_CONFLICT,
            "case_closed",
            f"办件 {case_id} 已结束 / case {case_id} is closed",
        )
    if isinstance(outcome, Missing):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"办件不存在 / no case {case_id}")
    if isinstance(outcome, Unavailable):
        log.warning("temporal unavailable", case_id=case_id, error=outcome.message)
        raise unavailable(ENGINE_DOWN, code="engine_unavailable")
    raise AssertionError(outcome)


async def act(
    request: Request,
    store: Store,
    client: Client,
    settings: Settings,
    case_id: str,
    update: Callable[..., Any],
    data: Any,
) -> ActionAnswer:
    """Execute an update named by the request's key, waiting a bounded time for its answer."""
    outcome = await execute(request, store, client, settings, case_id, update, data)
    return answer(outcome, case_id)


async def execute(
    request: Request,
    store: Store,
    client: Client,
    settings: Settings,
    workflow_id: str,
    update: Callable[..., Any],
    data: Any,
    result_type: type[Any] = ActionResult,
) -> Outcome:
    """Send the update once per request key (see the module); its outcome, whatever it is."""
    key = client_key(request)
    action = update.__name__
    uid = update_id(data.actor.id, action, workflow_id, key or uuid.uuid4().hex)
    if key is not None:
        # Remembered per endpoint, so that one key sent to /decision with "approve" and then
        # with "return" (two different updates) is refused too.
        endpoint = update_id(
            data.actor.id, f"{request.method} {request.url.path}", workflow_id, key
        )
        await same_request(store, endpoint, fingerprint(action, data))
    data = data.model_copy(update={"request_id": key})
    return await send(
        client,
        workflow_id,
        action,
        data,
        uid=uid,
        wait=dt.timedelta(seconds=settings.update_timeout_seconds),
        result_type=result_type,
    )
