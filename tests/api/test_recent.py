"""Figures kept a while: computed once per key within the window, again after it, never more
than a bounded number kept."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from api.routes import evaluation
from api.routes.evaluation import RECENT_LIMIT, Recent


async def test_an_answer_is_kept_for_its_window(monkeypatch: pytest.MonkeyPatch) -> None:
    clock = [1000.0]
    monkeypatch.setattr(evaluation.time, "monotonic", lambda: clock[0])
    calls: list[str] = []

    def computing(key: str) -> Callable[[], Awaitable[str]]:
        async def compute() -> str:
            calls.append(key)
            return f"{key}@{clock[0]}"

        return compute

    kept: Recent[str] = Recent(60)
    assert await kept.get("2026H2", computing("2026H2")) == "2026H2@1000.0"
    clock[0] += 59
    assert await kept.get("2026H2", computing("2026H2")) == "2026H2@1000.0"
    clock[0] += 1
    assert await kept.get("2026H2", computing("2026H2")) == "2026H2@1060.0"
    assert calls == ["2026H2", "2026H2"]
    for n in range(RECENT_LIMIT + 10):
        await kept.get(n, computing(str(n)))
    assert len(kept.kept) == RECENT_LIMIT


async def test_a_refusal_is_not_kept() -> None:
    kept: Recent[str] = Recent(60)

    async def refuse() -> str:
        raise ValueError("bad period")

    with pytest.raises(ValueError, match="bad period"):
        await kept.get("x", refuse)
    assert kept.kept == {}


async def test_people_asking_at_once_share_one_computation() -> None:
    import asyncio

    kept: Recent[int] = Recent(60)
    calls = 0
    gate = asyncio.Event()

    async def slow() -> int:
        nonlocal calls
        calls += 1
        await gate.wait()
        return 42

    waiting = [asyncio.create_task(kept.get("2026H2", slow)) for _ in range(5)]
    await asyncio.sleep(0)
    other = await kept.get("2026H1", lambda: asyncio.sleep(0, result=7))  # never waits
    assert other == 7
    gate.set()
    assert await asyncio.gather(*waiting) == [42] * 5
    assert calls == 1
