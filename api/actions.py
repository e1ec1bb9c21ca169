"""Sending case actions to workflows and turning their refusals into HTTP answers."""

from __future__ import annotations

import hashlib
import uuid
from typing import Any

from fastapi import HTTPException, Request, status
from temporalio.client import Client, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from workflows.case import CaseWorkflow
from workflows.contracts import ActionResult

STATUS_OF = {
    "conflict": status.HTTP_409_CONFLICT,
    "forbidden": status.HTTP_403_FORBIDDEN,
    "invalid": status.HTTP_422_UNPROCESSABLE_CONTENT,
    "not_found": status.HTTP_404_NOT_FOUND,
}


def request_key(request: Request) -> str:
    """The client's idempotency key (``Idempotency-Key``), else the request id."""
    key = request.headers.get("idempotency-key") or getattr(request.state, "request_id", None)
    return str(key or uuid.uuid4().hex)[:200]


def update_id(actor_id: str, action: str, case_id: str, key: str) -> str:
    """The Temporal update id of a request: one key reused for another action or by another
    user is another update, while the same request sent again is the same one."""
    return hashlib.sha256(f"{actor_id}\n{action}\n{case_id}\n{key}".encode()).hexdigest()


async def act(client: Client, case_id: str, update: Any, data: Any) -> ActionResult:
    """Execute an update whose id comes from the request key: a retried request acts once."""
    handle = client.get_workflow_handle_for(CaseWorkflow.run, case_id)
    uid = update_id(data.actor.id, update.__name__, case_id, data.request_id)
    try:
        result: ActionResult = await handle.execute_update(update, data, id=uid)
    except WorkflowUpdateFailedError as exc:
        cause = exc.cause
        if isinstance(cause, ApplicationError) and cause.type in STATUS_OF:
            raise HTTPException(STATUS_OF[cause.type], cause.message) from None
        raise
    except RPCError as exc:
        raise case_rpc_error(exc, case_id) from None
    return result


def case_rpc_error(exc: RPCError, case_id: str) -> HTTPException:
    """A closed case answers 409; an unknown one 404."""
    text = str(exc).lower()
    if "completed" in text or "closed" in text or ("update" in text and "not found" in text):
        return HTTPException(
            status.HTTP_409_CONFLICT, f"办件 {case_id} 已结束 / case {case_id} is closed"
        )
    if exc.status is RPCStatusCode.NOT_FOUND:
        return HTTPException(status.HTTP_404_NOT_FOUND, f"办件不存在 / no case {case_id}")
    raise exc
