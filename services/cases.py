"""Starting cases: only from a published procedure version, pinned to its snapshot."""

from __future__ import annotations

import asyncio
import datetime as dt
from typing import Any

from temporalio.client import Client, WorkflowHandle

from store import queries
from store.calendars import latest_revision
from store.db import Store
from workflows import client as cases
from workflows.case import CaseWorkflow
from workflows.contracts import TASK_QUEUE, Actor, CaseRow, Channel


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
    """Start (or find) the case ``case_id`` from the published version of ``code``."""
    snap = await asyncio.to_thread(queries.get_procedure, store, code, version)
    if snap is None:
        raise NotPublishedError(
            f"流程 {code}{f' v{version}' if version else ''} 未发布 / procedure {code}"
            f"{f' v{version}' if version else ''} is not published"
        )
    return await cases.start_case(
        client,
        snap,
        case_id=case_id,
        applicant=applicant,
        form=form,
        materials=materials,
        channel=channel,
        task_queue=task_queue,
        search_attributes=search_attributes,
        submitted_at=submitted_at,
        calendar_revision=await asyncio.to_thread(latest_revision, store),
    )
