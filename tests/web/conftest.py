"""The pages in process (Starlette's TestClient over HTTPS, no browser), on a real store."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from fastapi.testclient import TestClient

from core.settings import Settings
from store.db import Store
from store.sessions import set_password
from store.users import create_user
from store.writes import publish_catalog
from tests.api.conftest import (
    Api,
    api,  # noqa: F401 (the API fixture, for the browser tests)
)
from tests.fixtures_temporal import catalog
from web.app import create_app
from workflows.contracts import Role

PASSWORD = "correct-horse-42"
PEOPLE = {
    "scjg-1": (Role.caseworker, "YZ-SCJG"),
    "sw-1": (Role.caseworker, "YZ-SW"),
    "supervisor-1": (Role.supervisor, None),
    "applicant-1": (Role.applicant, None),
    "admin-1": (Role.admin, None),
}


@dataclass
class Site:
    client: TestClient
    clock: list[dt.datetime]
    """The instant the pages see (tests move it to let sessions expire)."""
    store: Store

    def sign_in(self, user: str, password: str = PASSWORD) -> TestClient:
        page = self.client.get("/login")
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        answer = self.client.post(
            "/login",
            data={"user_id": user, "password": password, "csrf": token},
            follow_redirects=False,
        )
        assert answer.status_code == 303, answer.text[:300]
        return self.client

    def csrf(self, path: str = "/work") -> str:
        page = self.client.get(path)
        return page.text.split('name="csrf" value="')[1].split('"')[0]


@pytest.fixture
def site(store: Store) -> Iterator[Site]:
    publish_catalog(store, catalog())
    for user, (role, department) in PEOPLE.items():
        create_user(store, id=user, name=f"{user} 名", role=role, department=department)
        set_password(store, user, PASSWORD)
    clock = [dt.datetime(2025, 9, 15, 2, tzinfo=dt.UTC)]
    settings = Settings(temporal_address="127.0.0.1:1", session_idle_minutes=30, session_hours=8)
    app = create_app(settings, store=store)
    app.state.now = lambda: clock[0]
    with TestClient(app, base_url="https://testserver") as client:
        yield Site(client, clock, store)


PAGES_PASSWORD = "pages-pass-2025"


class Pages:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http

    async def sign_in(self, user: str) -> None:
        self.http.cookies.clear()  # another person at the same browser
        page = await self.http.get("/login")
        token = page.text.split('name="csrf" value="')[1].split('"')[0]
        done = await self.http.post(
            "/login", data={"user_id": user, "password": PAGES_PASSWORD, "csrf": token}
        )
        assert done.status_code == 303, done.text[:300]

    async def csrf(self, path: str) -> str:
        page = await self.http.get(path)
        return page.text.split('name="csrf" value="')[1].split('"')[0]


@pytest.fixture
async def pages(api: Api) -> AsyncIterator[Pages]:  # noqa: F811 (the imported fixture)
    for user in ("scjg-1", "sw-1", "yz-ga-1", "applicant-1", "applicant-2", "supervisor-1"):
        set_password(api.harness.store, user, PAGES_PASSWORD)
    app = create_app(
        Settings(task_queue=api.harness.task_queue),
        store=api.harness.store,
        client=api.harness.client,
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="https://onetrip") as http:
        yield Pages(http)
