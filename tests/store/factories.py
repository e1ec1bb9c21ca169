"""Test data built from the contracts models, with defaults that tests override."""

from __future__ import annotations

import datetime as dt
from typing import Any

from definitions.validate import validate_paths
from definitions.versioning import ProcedureSnapshot, snapshot
from tests.conftest import CATALOG
from workflows.contracts import (
    CaseRow,
    CaseState,
    Event,
    EventType,
    RecordInput,
    Role,
    TaskRow,
    TaskState,
)

T0 = dt.datetime(2026, 3, 2, 1, 30, tzinfo=dt.UTC)
"""Monday 2 March 2026, 09:30 in Shanghai."""
SHANGHAI = dt.timezone(dt.timedelta(hours=8), "CST")


def procedure_snapshot(code: str = "YZ-YJS-KBQY") -> ProcedureSnapshot:
    """A snapshot of a shipped procedure."""
    catalog = validate_paths([CATALOG]).catalog
    procedure = catalog.procedure(code)
    assert procedure is not None
    return snapshot(catalog, procedure)


def case_row(case_id: str = "C-1", last_seq: int = 1, **fields: Any) -> CaseRow:
    """A case row; ``fields`` override the defaults."""
    values: dict[str, Any] = {
        "id": case_id,
        "procedure_code": "YZ-YJS-KBQY",
        "procedure_version": 1,
        "content_hash": "sha256:00",
        "procedure_name": "开办企业一件事",
        "applicant_id": "u-applicant",
        "state": CaseState.intake,
        "departments": ["YZ-SCJ"],
        "form": {"企业名称": "云州测试有限公司", "employees": 3},
        "submitted_at": T0,
        "last_seq": last_seq,
    }
    return CaseRow(**(values | fields))


def task_row(
    case_id: str = "C-1", key: str = "review", last_seq: int = 1, **fields: Any
) -> TaskRow:
    """A task row ``<case_id>/<key>``; ``fields`` override the defaults."""
    values: dict[str, Any] = {
        "id": f"{case_id}/{key}",
        "case_id": case_id,
        "task_key": key,
        "stage_key": "review",
        "item_code": "YZ-SCJ-001",
        "item_name": "企业设立登记",
        "department": "YZ-SCJ",
        "state": TaskState.open,
        "days": 1,
        "created_at": T0,
        "last_seq": last_seq,
    }
    return TaskRow(**(values | fields))


def event(case_id: str = "C-1", seq: int = 1, **fields: Any) -> Event:
    """Event ``seq`` of a case, ``seq`` minutes after T0."""
    values: dict[str, Any] = {
        "case_id": case_id,
        "seq": seq,
        "type": EventType.case_submitted if seq == 1 else EventType.task_opened,
        "at": T0 + dt.timedelta(minutes=seq),
        "actor_id": "system",
        "actor_role": Role.system,
        "payload": {"n": seq, "说明": "测试"},
    }
    return Event(**(values | fields))


def record_input(
    case_id: str = "C-1", seqs: range = range(1, 4), tasks: list[TaskRow] | None = None, **case: Any
) -> RecordInput:
    """Events ``seqs`` of a case, with the case row at the last of them."""
    return RecordInput(
        events=[event(case_id, s) for s in seqs],
        case=case_row(case_id, last_seq=seqs[-1], **case),
        tasks=tasks or [],
    )
