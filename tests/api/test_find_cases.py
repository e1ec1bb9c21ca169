"""Supervisors find any case: filters, free text over the headline fields, keyset pages."""

from __future__ import annotations

from typing import Any

from tests.api.conftest import Api


async def everything(api: Api, query: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Every page of a query: the case numbers in order, and each page as answered."""
    ids: list[str] = []
    pages: list[dict[str, Any]] = []
    url = f"/supervision/cases?{query}"
    while True:
        page = await api.ok("supervisor-1", "GET", url)
        pages.append(page)
        ids += [c["id"] for c in page["items"]]
        if page["next"] is None:
            return ids, pages
        url = f"/supervision/cases?{query}&cursor={page['next']}"


async def test_find_by_state_text_applicant_and_department(api: Api) -> None:
    first = await api.submit(company_name="云州示范科技有限公司")
    second = await api.submit(company_name="青山百分之百 100% 贸易有限公司")
    third = await api.submit("applicant-2", company_name="云州示范餐饮有限公司")
    await api.ok("desk-1", "POST", f"/cases/{second}/intake", {"decision": "accept"})
    await api.ok("desk-1", "POST", f"/cases/{third}/intake", {"decision": "refuse", "reason": "x"})

    page = await api.ok("supervisor-1", "GET", "/supervision/cases")
    assert [c["id"] for c in page["items"]] == [third, second, first]  # newest first
    assert page["counts"] == {"intake": 1, "in_progress": 1, "refused": 1}
    assert page["items"][0]["headline"] == {
        "company_name": "云州示范餐饮有限公司",
        "legal_representative": "张三",
    }

    async def ids(query: str) -> list[str]:
        return (await everything(api, query))[0]

    assert await ids("q=示范") == [third, first]
    assert await ids("q=示范&state=intake&state=in_progress") == [first]
    assert await ids(f"q={second[3:12].lower()}") == [second]  # part of the number
    assert await ids("q=100%25") == [second]  # % is a character, not a wildcard
    assert await ids("q=_") == []
    assert await ids("applicant=applicant-2") == [third]
    assert await ids("department=YZ-SCJG") == [second]  # only it reached the department
    assert await ids("submitted_from=2099-01-01") == []
    assert await ids("overdue=true") == []
    counts = (await api.ok("supervisor-1", "GET", "/supervision/cases?q=示范"))["counts"]
    assert counts == {"intake": 1, "refused": 1}


async def test_keyset_pages_cover_every_case_once(api: Api) -> None:
    cases = [await api.submit(company_name=f"分页测试{i}公司") for i in range(5)]
    await api.ok("desk-1", "POST", f"/cases/{cases[2]}/intake", {"decision": "accept"})
    ids, pages = await everything(api, "limit=2")
    assert ids == cases[::-1]
    assert [len(p["items"]) for p in pages] == [2, 2, 1]
    assert pages[0]["counts"] == {"intake": 4, "in_progress": 1}
    assert all(p["counts"] is None for p in pages[1:])
    # Soonest deadline first, cases without one last; every case once.
    ids, _ = await everything(api, "limit=2&sort=deadline")
    assert sorted(ids) == sorted(cases)
    assert len(ids) == len(set(ids))


async def test_bad_queries_name_the_parameter(api: Api) -> None:
    await api.submit()
    await api.submit()
    page = await api.ok("supervisor-1", "GET", "/supervision/cases?limit=1&sort=deadline")
    assert page["next"] is not None
    for query, field in [
        ("cursor=not-a-cursor", "cursor"),
        (f"cursor={page['next']}", "cursor"),  # a cursor of another sort
        ("state=lost", "state"),
        ("limit=0", "limit"),
        ("submitted_from=2026-13-01", "submitted_from"),
        ("warned=perhaps", "warned"),
        ("q=" + "长" * 101, "q"),
        ("department=YZ SCJG", "department"),
        ("q=%00", "q"),
        ("q=a%1fb", "q"),
    ]:
        response = await api.call("supervisor-1", "GET", f"/supervision/cases?{query}")
        assert response.status_code == 422, query
        assert response.json()["detail"][0]["loc"][:2] == ["query", field], query
