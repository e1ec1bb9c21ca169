"""`onetrip dev` end to end: a business start-up case over HTTP, across a restart."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import uuid
from pathlib import Path
from typing import Any

import httpx

from cli.demo import DEMO_FOLLOW_UP, DEMO_FORM, demo_materials
from cli.dev import free_port

ONETRIP = str(Path(sys.executable).parent / "onetrip")


class Dev:
    """A running `onetrip dev` in its own folder and ports."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.api_port, self.temporal_port, self.ui_port = free_port(), free_port(), free_port()
        self.proc: asyncio.subprocess.Process | None = None
        self.url = f"http://127.0.0.1:{self.api_port}"

    async def start(self) -> dict[str, str]:
        self.proc = await asyncio.create_subprocess_exec(
            ONETRIP,
            "dev",
            "--temporal-port",
            str(self.temporal_port),
            "--ui-port",
            str(self.ui_port),
            cwd=self.folder,
            env={
                **os.environ,
                "ONETRIP_API_PORT": str(self.api_port),
                "ONETRIP_LOG_FORMAT": "json",
            },
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
        )
        assert self.proc.stdout is not None
        banner = ""
        while "Ctrl-C" not in banner:
            line = await asyncio.wait_for(self.proc.stdout.readline(), 90)
            assert line, f"onetrip dev exited early:\n{banner}"
            banner += line.decode()
        assert self.url in banner
        tokens: dict[str, str] = json.loads(
            (self.folder / ".onetrip" / "demo-tokens.json").read_text()
        )
        return tokens

    async def stop(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGINT)
        code = await asyncio.wait_for(self.proc.wait(), 60)
        return code


async def test_dev_mode_end_to_end(tmp_path: Path) -> None:
    dev = Dev(tmp_path)
    tokens = await dev.start()
    try:
        async with httpx.AsyncClient(base_url=dev.url, timeout=30) as http:

            async def call(user: str, method: str, path: str, body: Any = None) -> Any:
                response = await http.request(
                    method,
                    path,
                    json=body,
                    headers={
                        "Authorization": f"Bearer {tokens[user]}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
                assert response.status_code < 300, (path, response.status_code, response.text)
                return response.json()

            assert (await http.get("/healthz")).json() == {"status": "ok"}
            codes = {p["code"] for p in (await http.get("/procedures")).json()}
            assert "YZ-YJS-KBQY" in codes
            submitted = await call(
                "zhangsan",
                "POST",
                "/cases",
                {"procedure": "YZ-YJS-KBQY", "form": DEMO_FORM, "materials": demo_materials()},
            )
            case = submitted["case_id"]
            for _ in range(100):
                if (
                    await http.get(
                        f"/cases/{case}", headers={"Authorization": f"Bearer {tokens['zhangsan']}"}
                    )
                ).status_code == 200:
                    break
                await asyncio.sleep(0.1)
            await call("desk", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    finally:
        assert await dev.stop() == 0

    # Everything is kept in the folder: the case goes on after a restart.
    tokens = await dev.start()
    try:
        async with httpx.AsyncClient(base_url=dev.url, timeout=30) as http:

            async def act(user: str, method: str, path: str, body: Any = None) -> Any:
                response = await http.request(
                    method, path, json=body, headers={"Authorization": f"Bearer {tokens[user]}"}
                )
                assert response.status_code < 300, (path, response.status_code, response.text)
                return response.json()

            detail = await act("zhangsan", "GET", f"/cases/{case}")
            assert detail["state"] == "in_progress"
            task = "company_registration"
            await act("yz-scjg", "POST", f"/cases/{case}/tasks/{task}/claim")
            await act(
                "yz-scjg", "POST", f"/cases/{case}/tasks/{task}/decision", {"decision": "approve"}
            )
            for task, user in DEMO_FOLLOW_UP.items():
                await act(user, "POST", f"/cases/{case}/tasks/{task}/claim")
                await act(
                    user, "POST", f"/cases/{case}/tasks/{task}/decision", {"decision": "approve"}
                )
            await act("desk", "POST", f"/cases/{case}/delivery", {})
            rated = await act("zhangsan", "POST", f"/cases/{case}/rating", {"score": 5})
            assert rated["state"] == "completed"
            timeline = await act("supervisor", "GET", f"/cases/{case}/timeline")
            assert timeline[-1]["type"] == "case.completed"
    finally:
        assert await dev.stop() == 0


def test_demo_cases_are_made_once_per_state_folder(tmp_path: Path) -> None:
    from cli.demo import has_demo_cases
    from store.writes import record
    from tests.fixtures_store import make_sqlite_store
    from tests.store.factories import record_input

    store = make_sqlite_store(tmp_path)
    try:
        assert not has_demo_cases(store)
        record(store, record_input("OT-0001"))
        assert not has_demo_cases(store)
        record(store, record_input("DEMO-OVERDUE-A1B2C3"))
        assert has_demo_cases(store)
    finally:
        store.dispose()
