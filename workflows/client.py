"""The client side of cases, shared by the API, the CLI, the benches and the tests.

- :func:`connect`: a Temporal client with the pydantic data converter, configured the way
  Temporal's own tools are (``TEMPORAL_ADDRESS``, ``TEMPORAL_NAMESPACE``, ``TEMPORAL_API_KEY``,
  ``TEMPORAL_TLS_*``, ``TEMPORAL_PROFILE`` and the ``temporal.toml`` profile file).
- :func:`start_case`: start (or find) a case from a published snapshot; the case number is the
  workflow id, so a retried submission finds the running case.
- :func:`update_id`: the Temporal update id of a request, from who sent it, what, to which case
  and the client's key: the same request sent again is the same update.
- :func:`send`: execute an update with a bounded wait and turn every way it can end into one
  typed :data:`Outcome`; callers map outcomes to their own answers (HTTP statuses, exit codes).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from temporalio.client import (
    Client,
    WorkflowHandle,
    WorkflowUpdateFailedError,
    WorkflowUpdateRPCTimeoutOrCancelledError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.envconfig import ClientConfig
from temporalio.exceptions import ApplicationError, WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from definitions.versioning import ProcedureSnapshot
from workflows.case import CaseWorkflow
from workflows.contracts import (
    TASK_QUEUE,
    ActionResult,
    Actor,
    CaseInput,
    CaseRow,
    Channel,
    FollowUpInput,
)
from workflows.followup import FollowUpWorkflow

REFUSAL_KINDS = frozenset({"conflict", "forbidden", "invalid", "not_found"})


DEFAULT_ADDRESS = "localhost:7233"


async def connect(
    address: str | None = None,
    namespace: str | None = None,
    *,
    lazy: bool = False,
    environment: bool = True,
) -> Client:
    """A client using the pydantic data converter (dates, enums, models).

    The connection comes from Temporal's environment configuration (the same variables and
    profile file as the ``temporal`` CLI: address, namespace, API key, TLS certificates,
    gRPC metadata); ``address`` and ``namespace``, when given, win over it. An API key
    turns TLS on, as Temporal Cloud needs. ``environment=False`` ignores that configuration
    (the embedded dev server is plain local gRPC whatever the shell holds).

    ``lazy``: connect on first use, so a process can start while Temporal is still down.
    """
    config: dict[str, Any] = {}
    if environment:
        config = dict(ClientConfig.load_client_connect_config())
    if address:
        config["target_host"] = address
    if namespace:
        config["namespace"] = namespace
    config.setdefault("target_host", DEFAULT_ADDRESS)
    return await Client.connect(**config, data_converter=pydantic_data_converter, lazy=lazy)


async def start_case(
    client: Client,
    snapshot: ProcedureSnapshot,
    *,
    case_id: str,
    applicant: Actor,
    form: dict[str, Any] | None = None,
    materials: list[str] | None = None,
    channel: Channel = Channel.online,
    task_queue: str = TASK_QUEUE,
    search_attributes: bool = True,
    submitted_at: dt.datetime | None = None,
    calendar_revision: int = 0,
) -> WorkflowHandle[CaseWorkflow, CaseRow]:
    """Start (or find) the case ``case_id`` pinned to ``snapshot``."""
    data = CaseInput(
        case_id=case_id,
        snapshot=snapshot,
        applicant=applicant,
        form=form or {},
        materials=materials or [],
        channel=channel,
        search_attributes=search_attributes,
        submitted_at=submitted_at,
        calendar_revision=calendar_revision,
    )
    return await start(client, data, task_queue=task_queue)


async def start(
    client: Client, data: CaseInput, *, task_queue: str = TASK_QUEUE
) -> WorkflowHandle[CaseWorkflow, CaseRow]:
    """Start (or find) the case that ``data`` describes: its number is the workflow id, and a
    number is never reused, so a retried submission finds the case it started."""
    return await client.start_workflow(
        CaseWorkflow.run,
        data,
        id=data.case_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )


async def start_followup(
    client: Client, data: FollowUpInput, workflow_id: str, *, task_queue: str = TASK_QUEUE
) -> None:
    """Start a bad rating's follow-up once: a running or finished one with that id is left as
    it is (the worker may try again after a lost answer)."""
    try:
        await client.start_workflow(
            FollowUpWorkflow.run,
            data,
            id=workflow_id,
            task_queue=task_queue,
            id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
    except WorkflowAlreadyStartedError:
        return


def update_id(actor_id: str, action: str, case_id: str, key: str) -> str:
    """The Temporal update id of a request: one key reused for another action or by another
    user is another update, while the same request sent again is the same one."""
    return hashlib.sha256(f"{actor_id}\n{action}\n{case_id}\n{key}".encode()).hexdigest()


# --------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class Done:
    """Applied, and its events are in the store."""

    result: Any
    """The update's answer: an ActionResult for a case, a FollowUpResult for a follow-up."""


@dataclass(frozen=True)
class Refused:
    """Refused by the case (nothing was written): ``kind`` is conflict, forbidden, invalid or
    not_found."""

    kind: str
    message: str


@dataclass(frozen=True)
class Pending:
    """Not answered within the bound. The update is (or will be) applied exactly once: sending
    it again with the same id returns its outcome once it has one."""

    retry_after: int
    """Seconds after which asking again is worthwhile."""


@dataclass(frozen=True)
class Closed:
    """The case has ended; it takes no more actions."""


@dataclass(frozen=True)
class Missing:
    """No such case."""


@dataclass(frozen=True)
class Unavailable:
    """Temporal could not be reached."""

    message: str


Outcome = Done | Refused | Pending | Closed | Missing | Unavailable


def rpc_outcome(error: RPCError) -> Outcome:
    """What an RPC error means for a case: closed, unknown, or Temporal unreachable."""
    if error.status is RPCStatusCode.NOT_FOUND:
        # "workflow execution already completed", or the update of a completed one.
        text = str(error).lower()
        closed = "completed" in text or "already" in text or "update" in text
        return Closed() if closed else Missing()
    if error.status in (
        RPCStatusCode.UNAVAILABLE,
        RPCStatusCode.DEADLINE_EXCEEDED,
        RPCStatusCode.CANCELLED,
        RPCStatusCode.RESOURCE_EXHAUSTED,
    ):
        return Unavailable(str(error)[:200])
    return Unavailable(f"{error.status.name}: {str(error)[:200]}")


async def send(
    client: Client,
    case_id: str,
    update: str,
    data: Any,
    *,
    uid: str,
    wait: dt.timedelta,
    result_type: type[Any] = ActionResult,
) -> Outcome:
    """Execute the update of that name, waiting at most ``wait`` for its answer.

    The bound covers the whole call: ``rpc_timeout`` alone bounds each RPC, and the client
    polls again when one returns before the update completed. Giving up on the client side
    does not cancel the update; it is applied once, and sending it again returns its answer.
    """
    handle = client.get_workflow_handle(case_id)
    try:
        async with asyncio.timeout(wait.total_seconds()):
            result = await handle.execute_update(
                update, data, id=uid, result_type=result_type, rpc_timeout=wait
            )
    except WorkflowUpdateFailedError as error:
        cause = error.cause
        if isinstance(cause, ApplicationError) and cause.type in REFUSAL_KINDS:
            return Refused(cause.type, cause.message)
        message = str(cause or error)
        if "handler" in message.lower() and "not found" in message.lower():
            return Refused(
                "conflict",
                "该办件由旧版流程受理，不支持此操作 / this case runs the first edition of the"
                " engine, which does not support this action",
            )
        return Refused("invalid", message[:300])
    except (WorkflowUpdateRPCTimeoutOrCancelledError, TimeoutError):
        return Pending(retry_after=max(1, int(wait.total_seconds())))
    except RPCError as error:
        return rpc_outcome(error)
    except RuntimeError as error:  # the lazy client could not connect
        return Unavailable(str(error)[:200])
    if not isinstance(result, result_type):
        result = result_type.model_validate(result)
    return Done(result)
