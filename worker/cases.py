"""Starting cases: only from a published procedure version, pinned to its snapshot."""

from __future__ import annotations

import datetime as dt
from typing import Any

from temporalio.client import Client, WorkflowHandle
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy

from store import queries
from store.db import Store
from workflows.case import CaseWorkflow
from workflows.contracts import TASK_QUEUE, Actor, CaseInput, CaseRow, Channel


class NotPublishedError(LookupError):
    """The procedure (or that version of it) was never published to the store."""


async def start_case(
    client: Client,
    store: Store,
    *,
    case_id: str,
    code: str,
    applicant: Actor,
    version: int | None = None,
    form: dict[str, Any] | None = None,
    materials: list[str] | None = None,
    channel: Channel = Channel.online,
    task_queue: str = TASK_QUEUE,
    search_attributes: bool = True,
    submitted_at: dt.datetime | None = None,
) -> WorkflowHandle[CaseWorkflow, CaseRow]:
    """Start (or find) the case ``case_id``: the id makes a retried submission harmless."""
    snap = queries.get_procedure(store, code, version)
    if snap is None:
        raise NotPublishedError(
            f"流程 {code}{f' v{version}' if version else ''} 未发布 / procedure {code}"
            f"{f' v{version}' if version else ''} is not published"
        )
    data = CaseInput(
        case_id=case_id,
        snapshot=snap,
        applicant=applicant,
        form=form or {},
        materials=materials or [],
        channel=channel,
        search_attributes=search_attributes,
        submitted_at=submitted_at,
    )
    return await client.start_workflow(
        CaseWorkflow.run,
        data,
        id=case_id,
        task_queue=task_queue,
        id_reuse_policy=WorkflowIDReusePolicy.REJECT_DUPLICATE,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
    )
