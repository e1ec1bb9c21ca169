"""A time-skipping Temporal server started at a chosen instant, a worker, and a store.

The official holiday arrangements are all in the past, so the server is started under
libfaketime (a shared library shipped by the PyPI package ``libfaketime``) at the date a test
names with ``@pytest.mark.start_at(...)``; from there the server skips time as usual.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib.util
import json
import os
import shutil
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from temporalio.client import Client, WorkflowHandle
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.clock import Calendars
from definitions.calendar import SHANGHAI
from definitions.loader import Catalog
from definitions.models import Procedure
from definitions.validate import validate_paths
from definitions.versioning import snapshot
from store import queries, writes
from store.db import Store
from tests.conftest import CATALOG
from worker.temporal import build_worker, register_search_attributes
from workflows import client as cases
from workflows.contracts import (
    ActionResult,
    Actor,
    CaseInput,
    Channel,
    Event,
    EventType,
    Role,
    TaskKind,
    TaskRow,
)

ACT_TIMEOUT = 60
"""Seconds an update may take in a test before the case counts as frozen."""
DEFAULT_START = dt.datetime(2025, 9, 15, 9, 0, tzinfo=SHANGHAI)  # a Monday
"""Where a test without ``start_at`` begins: a plain week of 2025, far from any holiday."""

_CATALOG: Catalog | None = None


def catalog() -> Catalog:
    global _CATALOG
    if _CATALOG is None:
        report = validate_paths([CATALOG])
        assert report.ok
        _CATALOG = report.catalog
    return _CATALOG


def _binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    local = Path(sys.executable).parent / name
    assert local.exists(), f"{name} not found: install the test extra (make test)"
    return str(local)


def _faketime_library() -> str:
    spec = importlib.util.find_spec("libfaketime")
    assert spec is not None, "the libfaketime package is missing: install the test extra"
    assert spec.origin is not None
    lib = Path(spec.origin).parent / "vendor" / "libfaketime" / "src" / "libfaketime.so.1"
    assert lib.exists(), f"libfaketime.so.1 not found at {lib}"
    return str(lib)


def test_server_at(start: dt.datetime, folder: Path) -> str:
    """A wrapper that runs the time-skipping server with its clock starting at ``start``."""
    utc = start.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")
    script = folder / "temporal-test-server"
    script.write_text(
        "#!/bin/sh\n"
        f"export LD_PRELOAD={_faketime_library()}\n"
        f'export FAKETIME="@{utc}"\n'
        "export TZ=UTC DONT_FAKE_MONOTONIC=1\n"
        f'exec {_binary("temporal-test-server")} "$@"\n'
    )
    script.chmod(0o755)
    return str(script)


def caseworker(department: str, name: str = "1") -> Actor:
    return Actor(id=f"{department.lower()}-{name}", role=Role.caseworker, department=department)


APPLICANT = Actor(id="applicant-1", role=Role.applicant, name="张三")
FRONT_DESK = caseworker("YZ-ZWFW")
SUPERVISOR = Actor(id="supervisor-1", role=Role.supervisor)


@dataclass
class Harness:
    env: WorkflowEnvironment
    client: Client
    store: Store
    task_queue: str
    handles: dict[str, WorkflowHandle[Any, Any]] = field(default_factory=dict)
    followups: dict[str, WorkflowHandle[Any, Any]] = field(default_factory=dict)
    """Follow-up workflows a test started, by follow-up id."""

    async def start(
        self,
        code: str = "YZ-YJS-KBQY",
        *,
        form: dict[str, Any] | None = None,
        channel: Channel = Channel.online,
        case_id: str | None = None,
        procedure: Procedure | None = None,
        materials: list[str] | None = None,
        desk_rating_default_days: int | None = None,
        **extra: Any,
    ) -> str:
        cat = catalog()
        proc = procedure or cat.procedure(code)
        assert proc is not None
        case_id = case_id or f"YZ-{uuid.uuid4().hex[:10]}"
        snap = snapshot(cat, proc)
        if desk_rating_default_days is not None:
            # A jurisdiction that counts an unrated case as 满意 after that many days.
            departments = [
                d.model_copy(update={"rating_default_days": desk_rating_default_days})
                if d.code == proc.intake.department
                else d
                for d in snap.departments
            ]
            snap = snap.model_copy(update={"departments": departments})
        # Published, as the API starts cases only from published versions (the store names
        # departments and procedures from it).
        writes.publish(self.store, snap)
        form = form if form is not None else {"company_name": "云州示范科技有限公司"}
        data = CaseInput(
            case_id=case_id,
            snapshot=snap,
            applicant=APPLICANT,
            form=form,
            # Everything the form needs, unless a test says what was handed in.
            materials=snap.required_keys(form) if materials is None else materials,
            channel=channel,
            **extra,
        )
        handle = await cases.start(self.client, data, task_queue=self.task_queue)
        self.handles[case_id] = handle
        await self.wait_recorded(case_id)
        return case_id

    async def wait_recorded(self, case_id: str) -> None:
        # The submission is written by the workflow's first activity. Poll in real time:
        # env.sleep would skip server time and shift every instant the test computes.
        for _ in range(500):
            if queries.get_case(self.store, case_id) is not None:
                return
            await asyncio.sleep(0.02)
        raise AssertionError(f"case {case_id} never reached the store")

    async def send(self, case_id: str, update: Callable[..., Any], data: Any) -> cases.Outcome:
        """Send an update the way the API does; a case that does not answer within a minute
        comes back Pending."""
        request_id = data.request_id or uuid.uuid4().hex
        data = data.model_copy(update={"request_id": request_id})
        wait = dt.timedelta(seconds=ACT_TIMEOUT)
        return await cases.send(
            self.client, case_id, update.__name__, data, uid=request_id, wait=wait
        )

    async def act(self, case_id: str, update: Callable[..., Any], data: Any) -> ActionResult:
        """Send an update that must be applied; anything else fails the test."""
        outcome = await self.send(case_id, update, data)
        assert isinstance(outcome, cases.Done), outcome
        return outcome.result

    async def refused(self, case_id: str, update: Callable[..., Any], data: Any) -> cases.Refused:
        """Send an update that must be rejected; return the reason (kind and message)."""
        outcome = await self.send(case_id, update, data)
        assert isinstance(outcome, cases.Refused), outcome
        return outcome

    async def now(self) -> dt.datetime:
        return await self.env.get_current_time()

    async def sleep_until(self, instant: dt.datetime) -> None:
        delay = instant - await self.now()
        assert delay >= dt.timedelta(0), f"{instant} is already past"
        await self.env.sleep(delay)

    async def until(self, check: Callable[[], Any], what: str) -> Any:
        """Poll the store in real time (no time skipping) until ``check`` returns truthy."""
        for _ in range(500):
            value = check()
            if value:
                return value
            await asyncio.sleep(0.02)
        raise AssertionError(f"never happened: {what}")

    async def event_at(self, case_id: str, kind: EventType, instant: dt.datetime) -> Event:
        """Skip time to just past ``instant`` and return the event of that kind fired there."""
        await self.sleep_until(instant + dt.timedelta(seconds=1))

        def fired() -> Event | None:
            return next(
                (e for e in self.events(case_id) if e.type is kind and e.at >= instant), None
            )

        event: Event = await self.until(fired, f"{kind.value} at {instant}")
        assert abs(event.at - instant) < dt.timedelta(seconds=1), (event.at, instant)
        return event

    def events(self, case_id: str) -> list[Event]:
        return queries.timeline(self.store, case_id)

    def review(self, case_id: str) -> list[TaskRow]:
        """The departments' tasks of a case (without the front desk's intake and delivery)."""
        return [t for t in queries.case_tasks(self.store, case_id) if t.kind is TaskKind.review]

    def types(self, case_id: str) -> list[EventType]:
        return [e.type for e in self.events(case_id)]

    def of_type(self, case_id: str, kind: EventType) -> list[Event]:
        return [e for e in self.events(case_id) if e.type is kind]


def start_instant(request: pytest.FixtureRequest) -> dt.datetime:
    marker = request.node.get_closest_marker("start_at")
    if marker is None:
        return DEFAULT_START
    value = marker.args[0]
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


@pytest.fixture
async def env(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[WorkflowEnvironment]:
    server = test_server_at(start_instant(request), tmp_path)
    async with await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=server, data_converter=pydantic_data_converter
    ) as env:
        await register_search_attributes(env.client)
        yield env


@pytest.fixture
async def harness(
    env: WorkflowEnvironment, store: Store, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    task_queue = f"cases-{uuid.uuid4().hex[:8]}"
    calendars = Calendars([], store)
    worker: Worker = build_worker(env.client, store, calendars, task_queue=task_queue, threads=8)
    async with worker:
        h = Harness(env, env.client, store, task_queue)
        yield h
        if recording(request):
            await save_histories(h, request.node.originalname)


HISTORIES = Path(__file__).resolve().parent / "histories"
RECORD = "ONETRIP_RECORD_HISTORIES"


def recording(request: pytest.FixtureRequest) -> bool:
    """Record this test's histories: asked for (``make histories``), on the SQLite store (one
    recording per scenario), and only if the test passed (a failed scenario walked no path
    anyone promised)."""
    report = getattr(request.node, "rep_call", None)
    return (
        bool(os.environ.get(RECORD))
        and "[sqlite]" in request.node.name
        and report is not None
        and report.passed
    )


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Any:
    """Keep the call phase's report on the test, for :func:`recording` at teardown."""
    report = yield
    if report.when == "call":
        item.rep_call = report  # type: ignore[attr-defined]
    return report


async def save_histories(h: Harness, test_name: str) -> None:
    """Keep each workflow's history of a scenario for the replay test.

    Histories are never replaced or removed: each stands for cases that code of its time left
    running, which today's code must still replay. A recording is kept when its scenario has
    none yet (``<scenario>.json``), or when it walks a path (tests/workflows/paths.py) that no
    kept history walks — a scenario whose path changed (a new patch, a new event) — beside the
    older ones as ``<scenario>~<digest of its paths>.json``. Anything else would only add
    replay time."""
    from tests.workflows import paths  # it imports this module: imported when needed

    for folder, handles in ((HISTORIES / "v2", h.handles), (HISTORIES / "followup", h.followups)):
        folder.mkdir(parents=True, exist_ok=True)
        for i, handle in enumerate(handles.values()):
            history = await handle.fetch_history()
            name = test_name.removeprefix("test_") + (f"-{i}" if i else "")
            text = history.to_json()
            walked = paths.signature(paths.parse_trace(name, json.loads(text)))
            target = folder / f"{name}.json"
            if target.exists():
                if walked <= paths.walked_in(folder):
                    continue
                target = folder / f"{name}~{paths.digest(walked)}.json"
            target.write_text(text)
            paths.walked_in(folder, also=walked)
