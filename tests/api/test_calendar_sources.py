"""Admins see on whose authority each year's working days stand, and which are provisional."""

from __future__ import annotations

from activities.clock import Calendars
from tests.api.conftest import Api


async def test_years_still_on_the_fallback_are_named_provisional(api: Api) -> None:
    years = await api.ok("admin-1", "GET", "/admin/calendars/sources?from=2025&to=2031")
    by_year = {y["year"]: y for y in years}
    assert list(by_year) == list(range(2025, 2032))
    national = Calendars().get("national")
    for year, answer in by_year.items():
        expected = national.year_source(year)
        assert (answer["source"], answer["notice"]) == (expected.source.value, expected.notice)
        assert answer["provisional"] == (expected.source.value == "fallback")
    # Far years are not in any published arrangement yet.
    assert by_year[2031]["provisional"] is True
    assert by_year[2025]["provisional"] is False
    bad = await api.call("admin-1", "GET", "/admin/calendars/sources?from=2030&to=2025")
    assert bad.status_code == 422
    assert (await api.call("supervisor-1", "GET", "/admin/calendars/sources")).status_code == 403
