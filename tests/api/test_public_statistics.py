"""信息公开: aggregates anyone may read, with small groups suppressed."""

from __future__ import annotations

import dataclasses

import pytest

from api.routes.evaluation import SMALL_GROUP, _public
from evaluation.figures import compute
from tests.api.conftest import Api
from tests.evaluation.test_figures import CASES, PERIOD, calendars


def test_small_groups_and_thin_figures_are_not_published() -> None:
    [five] = compute(CASES, PERIOD, "all", calendars).groups
    shown = _public(five)
    assert (shown.suppressed, shown.figures is not None) == (False, True)
    assert shown.figures is not None
    # Five received, but only three decided and two rated: those figures stay unpublished.
    assert shown.figures.received == 5
    assert (shown.figures.on_time_rate, shown.figures.rating_mean) == (None, None)
    twice = [dataclasses.replace(c, id=f"{c.id}-b") for c in CASES] + CASES
    [ten] = compute(twice, PERIOD, "all", calendars).groups
    figures = _public(ten).figures
    assert figures is not None
    # Six decided (c1, c2, c5 twice), four on time; still only four ratings.
    assert figures.on_time_rate == pytest.approx(4 / 6)
    assert figures.days_used_mean == pytest.approx(2.25)
    assert (figures.days_committed_mean, figures.rating_mean) == (3.0, None)
    [four] = compute(CASES[: SMALL_GROUP - 1], PERIOD, "all", calendars).groups
    assert (_public(four).suppressed, _public(four).figures) == (True, None)


async def test_anyone_reads_them_without_a_case_number_or_name(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    answer = await api.ok(None, "GET", "/public/statistics?period=2025Q3")
    assert answer["by"] == "department"
    assert answer["groups"]
    assert all(g["suppressed"] and g["figures"] is None for g in answer["groups"])
    text = str(answer)
    assert case not in text
    assert "applicant-1" not in text
    by_procedure = await api.ok(None, "GET", "/public/statistics?period=2025Q3&by=procedure")
    assert [g["name"] for g in by_procedure["groups"]] == ["开办企业一件事"]
    bad = await api.call(None, "GET", "/public/statistics?period=2025Q5")
    assert bad.status_code == 422
    brand = await api.call(None, "GET", "/public/statistics?period=2025&by=all")
    assert brand.status_code == 422  # only departments and procedures are published
