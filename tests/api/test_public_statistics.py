"""信息公开: aggregates anyone may read, with small groups suppressed."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from api.routes.evaluation import SMALL_GROUP, _public
from evaluation.figures import compute
from tests.api.conftest import Api
from tests.evaluation.test_figures import CASES, PERIOD, calendars


def test_small_groups_and_thin_figures_are_not_published() -> None:
    [five] = compute(CASES, PERIOD, "all", calendars).groups
    shown = _public(five)
    assert shown is not None
    # Five received, but only three decided and two rated: those figures stay unpublished.
    assert shown.figures.received == 5
    assert (shown.figures.on_time_rate, shown.figures.rating_mean) == (None, None)
    twice = [dataclasses.replace(c, id=f"{c.id}-b") for c in CASES] + CASES
    [ten] = compute(twice, PERIOD, "all", calendars).groups
    published = _public(ten)
    assert published is not None
    figures = published.figures
    # Six decided (c1, c2, c5 twice), four on time; still only four ratings.
    assert figures.on_time_rate == pytest.approx(4 / 6)
    assert figures.days_used_mean == pytest.approx(2.25)
    assert (figures.days_committed_mean, figures.rating_mean) == (3.0, None)
    [four] = compute(CASES[: SMALL_GROUP - 1], PERIOD, "all", calendars).groups
    assert _public(four) is None


async def test_anyone_reads_them_by_half_year_without_a_case_number_or_name(api: Api) -> None:
    assert api.app is not None
    api.app.state.now = lambda: dt.datetime(2025, 9, 20, tzinfo=dt.UTC)
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    answer = await api.ok(None, "GET", "/public/statistics?period=2025H2")
    # One case: every group is too small to publish.
    assert (answer["by"], answer["groups"]) == ("department", [])
    assert case not in str(answer)
    by_procedure = await api.ok(None, "GET", "/public/statistics?period=2025H2&by=procedure")
    assert by_procedure["groups"] == []
    # Only half years, begun, within five years: nothing to subtract, a bounded set to compute.
    for period in ("2025Q3", "2025", "2025-09", "2026H1", "2019H1", "2025H5"):
        bad = await api.call(None, "GET", f"/public/statistics?period={period}")
        assert bad.status_code == 422, period
    assert (
        await api.call(None, "GET", "/public/statistics?period=2025H2&by=all")
    ).status_code == 422
