"""Latency of a caseworker decision through the HTTP API, on `onetrip dev`.

    .venv/bin/python -m bench.api_latency --decisions 210

Starts `onetrip dev` in a fresh folder, submits business start-up cases as an applicant, has
the front desk accept them, and then measures each decision (claim first, not measured):
request sent → answer received. The answer comes only after the decision's events and
projections are in the store, so the figure includes the store write.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx

from cli.demo import DEMO_FOLLOW_UP, DEMO_FORM, demo_materials
from cli.dev import free_port

MATERIALS = demo_materials()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--decisions", type=int, default=210)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="onetrip-latency-"))
    api_port = free_port()
    onetrip = str(Path(sys.executable).parent / "onetrip")
    proc = await asyncio.create_subprocess_exec(
        onetrip,
        "dev",
        "--temporal-port",
        str(free_port()),
        "--ui-port",
        str(free_port()),
        cwd=folder,
        env={**os.environ, "ONETRIP_API_PORT": str(api_port), "ONETRIP_LOG_LEVEL": "WARNING"},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    while b"Ctrl-C" not in await proc.stdout.readline():
        pass
    tokens: dict[str, str] = json.loads((folder / ".onetrip" / "demo-tokens.json").read_text())
    timings: list[float] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{api_port}", timeout=60) as http:

            async def call(user: str, path: str, body: Any = None) -> Any:
                response = await http.post(
                    path,
                    json=body,
                    headers={
                        "Authorization": f"Bearer {tokens[user]}",
                        "Idempotency-Key": uuid.uuid4().hex,
                    },
                )
                response.raise_for_status()
                return response.json()

            async def decide(user: str, case: str, task: str) -> None:
                await call(user, f"/cases/{case}/tasks/{task}/claim")
                started = time.perf_counter()
                await call(user, f"/cases/{case}/tasks/{task}/decision", {"decision": "approve"})
                timings.append(time.perf_counter() - started)

            while len(timings) < args.decisions:
                submitted = await call(
                    "zhangsan",
                    "/cases",
                    {"procedure": "YZ-YJS-KBQY", "form": DEMO_FORM, "materials": MATERIALS},
                )
                case = submitted["case_id"]
                for _ in range(200):
                    probe = await http.get(
                        f"/cases/{case}", headers={"Authorization": f"Bearer {tokens['desk']}"}
                    )
                    if probe.status_code == 200:
                        break
                    await asyncio.sleep(0.05)
                await call("desk", f"/cases/{case}/intake", {"decision": "accept"})
                await decide("yz-scjg", case, "company_registration")
                for task, user in DEMO_FOLLOW_UP.items():
                    await decide(user, case, task)
    finally:
        proc.send_signal(signal.SIGINT)
        await proc.wait()
    ms = sorted(t * 1000 for t in timings)
    p95 = ms[max(0, round(0.95 * len(ms)) - 1)]
    print(f"decisions: {len(ms)} (one at a time, `onetrip dev`: dev server, SQLite, 1 worker)")
    print(f"p50: {statistics.median(ms):.1f} ms   p95: {p95:.1f} ms   max: {ms[-1]:.1f} ms")


if __name__ == "__main__":
    asyncio.run(main())
