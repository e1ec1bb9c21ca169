"""The demo data of `onetrip dev`: users with stable tokens, and a few sample cases.

The benches and the end-to-end tests drive the same business start-up (``DEMO_FORM``), so
what a newcomer sees in dev mode is what is measured and tested.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
import uuid
from pathlib import Path
from typing import Any

import structlog
from temporalio.client import Client

from activities.clock import Calendars
from core.settings import DEFAULT_CATALOG
from definitions.validate import validate_paths
from definitions.versioning import ProcedureSnapshot, snapshot
from services.cases import start_case
from services.history import Written, write_history
from store import queries
from store.db import Store
from store.sessions import set_password
from store.users import create_user, get_user, issue_token
from workflows.case import CaseWorkflow
from workflows.client import Done, send
from workflows.contracts import AcceptInput, Actor, ReturnInput, Role, TaskInput

log = structlog.get_logger("demo")

DEMO_PROCEDURE = "YZ-YJS-KBQY"
"""开办企业, the business start-up: the procedure the demo cases, benches and tests follow."""

DEMO_FOLLOW_UP = {
    "seal_filing": "yz-ga",
    "tax_package": "yz-sw",
    "social_insurance": "yz-rs",
    "medical_insurance": "yz-yb",
    "housing_fund": "yz-gjj",
    "bank_account": "yz-rmyh",
}
"""The business start-up's parallel tasks (without the food licence) and the demo user of
each task's department."""

DEMO_FORM = {
    "company_name": "云州示范科技有限公司",
    "legal_representative": "张三",
    "registered_capital": 100,
    "employees": 8,
    "food_business": False,
    "district": "云城区",
}

DEMO_USERS: list[tuple[str, str, Role, str | None]] = [
    ("admin", "管理员", Role.admin, None),
    ("supervisor", "监察员", Role.supervisor, None),
    ("zhangsan", "张三（申请人）", Role.applicant, None),
    ("desk", "综合窗口", Role.caseworker, "YZ-ZWFW"),
]
"""Everyone but the departments' caseworkers, who get one user per department."""

UPDATE_WAIT = dt.timedelta(seconds=60)
"""How long a demo action may take: the worker has just started and warms up."""


def demo_materials() -> list[str]:
    """Every material the demo business start-up (DEMO_FORM) needs, from the shipped catalog."""
    catalog = validate_paths([DEFAULT_CATALOG]).catalog
    procedure = catalog.procedure(DEMO_PROCEDURE)
    assert procedure is not None
    return snapshot(catalog, procedure).required_keys(DEMO_FORM)


def demo_users(store: Store, state: Path, departments: list[str]) -> dict[str, str]:
    """Demo users and their tokens; the tokens file makes them stable across restarts."""
    path = state / "demo-tokens.json"
    tokens: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    users = list(DEMO_USERS)
    for code in departments:
        if code != "YZ-ZWFW":
            users.append((code.lower(), f"{code} 审批人员", Role.caseworker, code))
    for user_id, name, role, department in users:
        if get_user(store, user_id) is None:
            create_user(store, id=user_id, name=name, role=role, department=department)
        if user_id not in tokens:
            tokens[user_id] = issue_token(store, user_id, "onetrip dev")[1]
    path.write_text(json.dumps(tokens, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    return tokens


def demo_passwords(store: Store, state: Path, users: list[str]) -> dict[str, str]:
    """Passwords for the demo users to sign in to the pages; kept in the state folder (the
    only place they are written in plain), so they stay the same across restarts."""
    path = state / "demo-passwords.json"
    passwords: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    for user_id in users:
        if user_id not in passwords:
            passwords[user_id] = secrets.token_urlsafe(9)
            set_password(store, user_id, passwords[user_id])
    path.write_text(json.dumps(passwords, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    return passwords


def has_demo_cases(store: Store) -> bool:
    """Whether an earlier ``onetrip dev --demo`` on this state left its sample cases."""
    page, _ = queries.find_cases(store, queries.CaseFilter(text="demo-"), limit=1)
    return bool(page)


HISTORY_CASES = 300
"""Closed cases of the past half year that the demo writes (see services.history)."""


def demo_history(store: Store, calendars: Calendars) -> Written:
    """Half a year of closed cases across the shipped procedures, run offline by the rules."""
    snapshots = [
        snap
        for info in queries.list_procedures(store)
        if (snap := queries.get_procedure(store, info.code, info.version)) is not None
    ]
    latest: dict[str, ProcedureSnapshot] = {}
    for snap in snapshots:
        if snap.code not in latest or snap.version > latest[snap.code].version:
            latest[snap.code] = snap
    return write_history(
        store,
        [latest[code] for code in sorted(latest)],
        calendars,
        end=dt.datetime.now(dt.UTC),
        cases=HISTORY_CASES,
    )


async def demo_cases(
    client: Client, store: Store, task_queue: str, calendars: Calendars | None = None
) -> list[str]:
    """Sample cases: half a year of history, and running ones — in progress, returned for
    supplement, and overdue (once per state folder: a restart keeps the ones it has)."""
    if has_demo_cases(store):
        return []
    if calendars is not None:
        written = await asyncio.to_thread(demo_history, store, calendars)
        log.info(
            "demo history written",
            cases=written.cases,
            events=written.events,
            left_out=written.skipped,
            followups=written.followups,
        )
    applicant = Actor(id="zhangsan", role=Role.applicant, name="张三")
    desk = Actor(id="desk", role=Role.caseworker, department="YZ-ZWFW")
    scjg = Actor(id="yz-scjg", role=Role.caseworker, department="YZ-SCJG")
    now = dt.datetime.now(dt.UTC)
    started: list[str] = []

    snap = queries.get_procedure(store, DEMO_PROCEDURE)
    assert snap is not None
    complete = snap.required_keys(DEMO_FORM)

    async def start(
        label: str, submitted_at: dt.datetime | None = None, materials: list[str] = complete
    ) -> str:
        case_id = f"DEMO-{label}-{uuid.uuid4().hex[:6].upper()}"
        started.append(case_id)
        await start_case(
            client,
            store,
            case_id=case_id,
            code=DEMO_PROCEDURE,
            applicant=applicant,
            form=DEMO_FORM,
            materials=materials,
            task_queue=task_queue,
            submitted_at=submitted_at,
        )
        return case_id

    async def act(case_id: str, update: Any, data: Any) -> None:
        outcome = await send(
            client, case_id, update.__name__, data, uid=uuid.uuid4().hex, wait=UPDATE_WAIT
        )
        if not isinstance(outcome, Done):
            raise RuntimeError(f"demo case {case_id}: {update.__name__} → {outcome}")

    in_progress = await start("INPROGRESS")
    await act(in_progress, CaseWorkflow.accept, AcceptInput(actor=desk))
    returned = await start("RETURNED")
    await act(returned, CaseWorkflow.accept, AcceptInput(actor=desk))
    await act(returned, CaseWorkflow.claim, TaskInput(actor=scjg, task_key="company_registration"))
    await act(
        returned,
        CaseWorkflow.return_for_supplement,
        ReturnInput(
            actor=scjg,
            task_key="company_registration",
            missing=["company_articles"],
            reason="公司章程缺少全体股东签字",
        ),
    )
    # Materials that arrived ten days ago, incomplete, and were never handled: deemed
    # accepted from that day (第三十二条), so its three working days are already over; the
    # acceptance records what was missing.
    await start(
        "OVERDUE",
        submitted_at=now - dt.timedelta(days=10),
        materials=["company_articles", "id_card_legal_rep"],
    )
    return started
