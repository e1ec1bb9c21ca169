"""What the API answers while the engine or the store cannot answer: 503 with Retry-After in
the one error body, within a bound, never 500 and never a hang (fast, without the fault run).
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, HTTPException
from sqlalchemy import exc as sa_exc
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.testing import WorkflowEnvironment

from api import deps, errors
from cli.demo import DEMO_FORM
from tests.api.conftest import seed, serve
from tests.fixtures_store import make_sqlite_store
from tests.fixtures_temporal import Harness, _binary
from workflows import search


async def test_a_case_no_worker_runs_answers_503_within_the_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its first write never came, so the API reads the case from its workflow: with no
    worker that query would wait for gRPC's own deadline (30 s); it waits the bound."""
    monkeypatch.setattr(deps, "CALL_SECONDS", 2.0)
    store = make_sqlite_store(tmp_path)
    async with await WorkflowEnvironment.start_local(
        dev_server_existing_path=_binary("temporal"),
        data_converter=pydantic_data_converter,
        search_attributes=list(search.ALL),
    ) as env:
        harness = Harness(env, env.client, store, f"no-worker-{uuid.uuid4().hex[:6]}")
        async with serve(harness, seed(store), update_timeout_seconds=1) as api:
            body = {"procedure": "YZ-YJS-KBQY", "form": DEMO_FORM, "materials": []}
            key = {"Idempotency-Key": uuid.uuid4().hex}
            submitted = await api.call("applicant-1", "POST", "/cases", body, **key)
            assert submitted.status_code == 201, submitted.text
            case = submitted.json()["case_id"]
            for method, path, payload in (
                ("GET", f"/cases/{case}", None),
                ("POST", f"/cases/{case}/intake", {"decision": "accept"}),
            ):
                started = time.monotonic()
                response = await api.call("desk-1", method, path, payload)
                took = time.monotonic() - started
                assert response.status_code == 503, response.text
                assert took < 10, took
                assert response.headers["Retry-After"] == "5"
                answer = response.json()
                assert answer["code"] == "engine_unavailable"
                assert "流程引擎" in answer["message"]["zh"]
                assert "Temporal" in answer["message"]["en"]
                assert "Timeout" not in response.text  # the gRPC error stays in the log
    store.dispose()


def _app() -> FastAPI:
    app = FastAPI()
    errors.install(app)

    @app.get("/gone")
    def gone() -> None:
        raise sa_exc.InterfaceError("SELECT 1", {}, Exception("connection already closed"))

    @app.get("/dropped")
    def dropped() -> None:
        error = sa_exc.DatabaseError("SELECT 1", {}, Exception("server closed the connection"))
        error.connection_invalidated = True
        raise error

    @app.get("/wrong")
    def wrong() -> None:
        raise sa_exc.ProgrammingError("SELEC 1", {}, Exception("syntax error"))

    @app.get("/busy")
    def busy() -> None:
        raise HTTPException(503, "忙 / busy")

    return app


async def test_a_store_connection_lost_mid_request_is_503_and_a_bug_stays_500() -> None:
    transport = httpx.ASGITransport(app=_app(), raise_app_exceptions=False)
    async with httpx.AsyncClient(transport=transport, base_url="http://onetrip") as http:
        for path in ("/gone", "/dropped"):
            response = await http.get(path)
            assert response.status_code == 503, path
            assert response.headers["Retry-After"] == "5"
            body = response.json()
            assert body["code"] == "store_unavailable"
            assert (body["message"]["zh"], body["message"]["en"]) == (
                "存储暂时不可用，请稍后重试",
                "the store is unavailable, retry later",
            )
        wrong = await http.get("/wrong")
        assert (wrong.status_code, wrong.json()["code"]) == (500, "internal_error")
        busy = await http.get("/busy")
        assert (busy.status_code, busy.headers["Retry-After"]) == (503, "5")


async def test_health_names_the_part_that_is_down_without_the_drivers_words(
    tmp_path: Path,
) -> None:
    """A load balancer asks /healthz: the store down, then the engine down, each a 503 naming
    the part in both languages within seconds, never the driver's error text."""
    from api.app import create_app
    from core.settings import Settings
    from store.db import Store
    from workflows.client import connect

    dead_store = Store("postgresql+psycopg://postgres@127.0.0.1:9/none?connect_timeout=3")
    live_store = make_sqlite_store(tmp_path)
    dead_engine = await connect("127.0.0.1:9", "default", lazy=True)
    try:
        for store, code in ((dead_store, "store_unavailable"), (live_store, "engine_unavailable")):
            app = create_app(Settings(), store=store, client=dead_engine)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://onetrip") as http:
                started = time.monotonic()
                response = await http.get("/healthz")
            assert time.monotonic() - started < 8
            assert response.status_code == 503, response.text
            assert response.headers["Retry-After"] == "5"
            body = response.json()
            assert body["code"] == code
            assert "暂时不可用" in body["message"]["zh"]
            assert "refused" not in response.text.lower()
            assert "127.0.0.1" not in response.text
    finally:
        dead_store.dispose()
        live_store.dispose()
