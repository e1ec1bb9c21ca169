"""Response times of the pages each demo user works on, against a running `onetrip dev --demo`.

    .venv/bin/onetrip dev --demo          # in another terminal
    .venv/bin/python -m bench.pages --base http://127.0.0.1:8000 --state .onetrip

Each demo user signs in through Debian's chromium (the sign-in form, as a person does); then
each of their pages is fetched ``--requests`` times with that session's cookie, one after
another, and the median and 95th percentile are printed in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from pathlib import Path

import httpx
from playwright.async_api import async_playwright

PAGES: list[tuple[str, list[str]]] = [
    ("desk", ["/work/inbox"]),
    ("yz-scjg", ["/work/inbox", "/work/followups"]),
    ("supervisor", ["/work/dashboard", "/work/overdue"]),
    ("zhangsan", ["/my"]),
    (
        "admin",
        [
            "/work/admin",
            "/work/admin/users",
            "/work/admin/calendars",
            "/work/admin/subscribers",
            "/work/admin/procedures/YZ-YJS-KBQY",
        ],
    ),
]
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def timed(client: httpx.Client, path: str, n: int) -> tuple[float, float]:
    """Median and p95 (nearest rank) of ``n`` GETs, in milliseconds."""
    spent = []
    for _ in range(n):
        start = time.perf_counter()
        answer = client.get(path)
        spent.append((time.perf_counter() - start) * 1000)
        answer.raise_for_status()
    spent.sort()
    return statistics.median(spent), spent[max(0, int(0.95 * n) - 1)]


async def run(base: str, state: Path, n: int, chromium: str) -> None:
    passwords = json.loads((state / "demo-passwords.json").read_text())
    async with async_playwright() as p:
        browser = await p.chromium.launch(executable_path=chromium, args=ARGS, headless=True)
        for user, paths in PAGES:
            context = await browser.new_context()
            page = await context.new_page()
            await page.goto(f"{base}/login")
            await page.get_by_label("用户名").fill(user)
            await page.get_by_label("密码").fill(passwords[user])
            await page.get_by_role("button", name="登录").click()
            await page.wait_for_url(lambda url: not url.endswith("/login"))
            cookies = {c["name"]: c["value"] for c in await context.cookies()}
            with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
                for path in paths:
                    median, p95 = timed(client, path, n)
                    print(f"{user:<12} {path:<18} median {median:7.1f} ms   p95 {p95:7.1f} ms")
            await context.close()
        await browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument("--state", type=Path, default=Path(".onetrip"))
    parser.add_argument("--requests", type=int, default=30)
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    args = parser.parse_args()
    asyncio.run(run(args.base, args.state, args.requests, args.chromium))


if __name__ == "__main__":
    main()
