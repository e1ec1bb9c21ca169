"""Performance figures through the API and the command, from cases run through the engine."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_flow import FOLLOW_UP, decide


async def test_figures_of_a_period_by_department(api: Api) -> None:
    # One business start-up decided on the day it was accepted and rated 不满意 (2); one
    # application refused at intake.
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await decide(api, "scjg-1", case, "company_registration")
    for task, user in FOLLOW_UP.items():
        await decide(api, user, case, task)
    await api.ok("desk-1", "POST", f"/cases/{case}/delivery", {})
    await api.ok("applicant-1", "POST", f"/cases/{case}/rating", {"score": 2, "comment": "慢"})
    refused = await api.submit()
    await api.ok(
        "desk-1",
        "POST",
        f"/cases/{refused}/intake",
        {"decision": "refuse", "reason": "不属于本部门"},
    )

    answer = await api.ok("supervisor-1", "GET", "/supervision/figures?period=2025Q3&by=all")
    assert (answer["period"], answer["first_day"], answer["last_day"]) == (
        "2025Q3",
        "2025-07-01",
        "2025-09-30",
    )
    [everything] = answer["groups"]
    f = everything["figures"]
    assert (f["received"], f["accepted"], f["approved"], f["refused"], f["open"]) == (2, 1, 1, 1, 0)
    assert (f["on_time_rate"], f["online_rate"]) == (1.0, 1.0)
    # Decided on the day of acceptance: the legal clock has not counted a day yet.
    assert f["days_used"] == {"n": 1, "mean": 0.0, "p50": 0.0, "p90": 0.0}
    assert (f["rated"], f["bad_ratings"], f["good_rate"], f["active_rating_rate"]) == (
        1,
        1,
        0.0,
        1.0,
    )
    # The applicant came to collect nothing: delivered by post, no trip.
    assert f["zero_trip_rate"] == 1.0
    assert {d["key"] for d in answer["definitions"]} >= set(f)

    by_department = await api.ok("supervisor-1", "GET", "/supervision/figures?period=2025-09")
    groups = {g["key"]: g for g in by_department["groups"]}
    scjg = groups["YZ-SCJG"]
    assert scjg["name"] == "云州市市场监督管理局"
    assert (scjg["figures"]["tasks_decided"], scjg["figures"]["task_on_time_rate"]) == (1, 1.0)
    assert scjg["figures"]["received"] == 2  # both applications involve registration

    # Achieved against promised, and where the registration stage's time went.
    [achieved] = await api.ok("supervisor-1", "GET", "/supervision/reengineering?period=2025Q3")
    assert (achieved["code"], achieved["cases"], achieved["decided"]) == ("YZ-YJS-KBQY", 2, 1)
    assert (achieved["promised_days"], achieved["days"]["p50"], achieved["on_time_rate"]) == (
        achieved["after"]["limit_days"],
        0.0,
        1.0,
    )
    stages = {(s["stage_key"], s["department"]): s for s in achieved["stages"]}
    assert stages[("registration", "YZ-SCJG")]["tasks"] == 1
    assert achieved["bottleneck"] is not None

    # The quality report: one page that needs no network, its tables as CSV.
    page = await api.call("supervisor-1", "GET", "/supervision/report?period=2025Q3")
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    text = page.text
    assert "政务服务质量报告" in text
    assert "云州市市场监督管理局" in text
    assert "<svg" in text
    assert "src=" not in text
    assert "<link" not in text  # nothing fetched: styles and charts inline
    assert case in text or "超期办件" in text
    csv = await api.call(
        "supervisor-1", "GET", "/supervision/report?period=2025Q3&table=departments"
    )
    assert csv.headers["content-type"].startswith("text/csv")
    header, *rows = csv.text.lstrip("\ufeff").splitlines()
    assert header.startswith("rank,department,name")
    assert any(",YZ-SCJG," in row for row in rows)
    summary = await api.call(
        "supervisor-1", "GET", "/supervision/report?period=2025Q3&table=summary"
    )
    assert "received,收件量,2,0" in summary.text
    bad_table = await api.call("supervisor-1", "GET", "/supervision/report?period=2025Q3&table=x")
    assert bad_table.status_code == 422
    # The first year a period can name has nothing before it: still a report.
    first = await api.call("supervisor-1", "GET", "/supervision/report?period=2000")
    assert first.status_code == 200

    # A period without cases has no groups; a period that does not exist is refused.
    assert (await api.ok("supervisor-1", "GET", "/supervision/figures?period=2024H1"))[
        "groups"
    ] == []
    bad = await api.call("supervisor-1", "GET", "/supervision/figures?period=2025H3")
    assert bad.status_code == 422
    assert bad.json()["detail"][0]["loc"] == ["query", "period"]
    assert (
        await api.call("supervisor-1", "GET", "/supervision/figures?period=2025&by=x")
    ).status_code == 422
    assert (
        await api.call("applicant-1", "GET", "/supervision/figures?period=2025")
    ).status_code == 403
