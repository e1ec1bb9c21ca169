"""The API in process (httpx over ASGI) on a time-skipping server, a worker and a store."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from api.app import create_app
from cli.demo import DEMO_FORM
from core.settings import Settings
from store import queries
from store.db import Store
from store.users import create_user, issue_token
from store.writes import publish_catalog
from tests.fixtures_temporal import Harness, catalog
from workflows.contracts import Role


def _hypothesis_prints_examples() -> None:
    """schemathesis (its pytest plugin loads whenever it is installed) swaps Hypothesis's
    printer for one that prints nothing, for the whole process: every property test of the
    suite would report its failing example as ``x=,``. Hypothesis's own is put back as soon as
    tests/api is collected, before any test runs (the fuzz pass never prints an example)."""
    from hypothesis import core
    from hypothesis.vendor import pretty

    core.RepresentationPrinter = pretty.RepresentationPrinter  # type: ignore[misc]


_hypothesis_prints_examples()


USERS: dict[str, tuple[Role, str | None]] = {
    "applicant-1": (Role.applicant, None),
    "applicant-2": (Role.applicant, None),
    "desk-1": (Role.caseworker, "YZ-ZWFW"),
    "scjg-1": (Role.caseworker, "YZ-SCJG"),
    "scjg-2": (Role.caseworker, "YZ-SCJG"),
    "sw-1": (Role.caseworker, "YZ-SW"),
    "supervisor-1": (Role.supervisor, None),
    "admin-1": (Role.admin, None),
}
for _dept in ("YZ-GA", "YZ-RS", "YZ-YB", "YZ-GJJ", "YZ-RMYH"):
    USERS[f"{_dept.lower()}-1"] = (Role.caseworker, _dept)


STARTUP_FORM: dict[str, Any] = dict(DEMO_FORM)
"""The business start-up that dev mode's demo, the benches and these tests all drive."""


@dataclass
class Api:
    http: httpx.AsyncClient
    harness: Harness
    tokens: dict[str, str] = field(default_factory=dict)
    app: FastAPI | None = None

    async def call(
        self, user: str | None, method: str, path: str, body: Any = None, **headers: str
    ) -> httpx.Response:
        if user is not None:
            headers["Authorization"] = f"Bearer {self.tokens[user]}"
        if isinstance(body, str):
            headers["Content-Type"] = "text/yaml"
            return await self.http.request(method, path, content=body, headers=headers)
        if body is None:
            return await self.http.request(method, path, headers=headers)
        # ASCII escapes, as many clients send them (and the only way to send a lone surrogate).
        headers["Content-Type"] = "application/json"
        return await self.http.request(method, path, content=json.dumps(body), headers=headers)

    async def ok(self, user: str | None, method: str, path: str, body: Any = None) -> Any:
        response = await self.call(user, method, path, body)
        assert response.status_code < 300, (response.status_code, response.text)
        return response.json() if response.content else None

    async def submit(
        self, user: str = "applicant-1", materials: list[str] | None = None, **form: Any
    ) -> str:
        """Submit a business start-up; by default with every material its form needs."""
        filled = {**STARTUP_FORM, **form}
        snap = queries.get_procedure(self.harness.store, "YZ-YJS-KBQY")
        assert snap is not None
        body = {
            "procedure": "YZ-YJS-KBQY",
            "form": filled,
            "materials": snap.required_keys(filled) if materials is None else materials,
        }
        response = await self.call(
            user, "POST", "/cases", body, **{"Idempotency-Key": uuid.uuid4().hex}
        )
        assert response.status_code == 201, response.text
        case_id: str = response.json()["case_id"]
        self.harness.handles[case_id] = self.harness.client.get_workflow_handle(case_id)
        await self.harness.wait_recorded(case_id)
        return case_id


def seed(store: Store) -> dict[str, str]:
    cat = catalog()
    publish_catalog(store, cat)
    tokens = {}
    for user_id, (role, department) in USERS.items():
        create_user(store, id=user_id, name=user_id, role=role, department=department)
        tokens[user_id] = issue_token(store, user_id, "tests")[1]
    return tokens


@asynccontextmanager
async def serve(harness: Harness, tokens: dict[str, str], **settings: Any) -> AsyncIterator[Api]:
    """The API in process for that harness (its store, client and task queue)."""
    config = Settings(task_queue=harness.task_queue, **settings)
    app = create_app(config, store=harness.store, client=harness.client)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://onetrip") as http:
        yield Api(http, harness, tokens, app)


@pytest.fixture
async def api(harness: Harness) -> AsyncIterator[Api]:
    async with serve(harness, seed(harness.store)) as served:
        yield served
