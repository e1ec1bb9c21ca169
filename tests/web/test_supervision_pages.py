"""Supervisors' pages and the follow-up pages on a running engine: the dashboard with its chart
data, the overdue list and urge, the report, a bad rating's call-back by the department and
the supervisor's appeal decision."""

from __future__ import annotations

from store import followups
from store.sessions import set_password
from tests.api.conftest import Api
from tests.web.conftest import PAGES_PASSWORD, Pages
from worker.followups import start_due


async def test_the_dashboard_the_overdue_list_and_the_report(api: Api, pages: Pages) -> None:
    await pages.sign_in("supervisor-1")
    board = await pages.http.get("/work/dashboard?period=2025H2")
    assert board.status_code == 200
    assert "监督看板" in board.text
    assert "/static/vendor/echarts.min.js" in board.text
    assert 'role="img"' in board.text  # the chart, with its data as a table beside it
    wrong = await pages.http.get("/work/dashboard?period=2025X")
    assert wrong.status_code == 422
    overdue = await pages.http.get("/work/overdue")
    assert overdue.status_code == 200
    report = await pages.http.get("/work/report?period=2025H2")
    assert report.status_code == 200
    assert "质量报告" in report.text or "报告" in report.text
    redesign = await pages.http.get("/work/reengineering?period=2025H2")
    assert redesign.status_code == 200
    assert "承诺与实际" in redesign.text
    csv = await pages.http.get("/work/report?period=2025H2&table=summary")
    assert csv.headers["content-type"].startswith("text/csv")
    # A caseworker has no dashboard.
    await pages.sign_in("scjg-1")
    assert (await pages.http.get("/work/dashboard")).status_code == 403


async def test_a_bad_rating_worked_through_the_pages(api: Api, pages: Pages) -> None:
    set_password(api.harness.store, "desk-1", PAGES_PASSWORD)
    case = await api.submit()
    visit = {"reason": "other", "rating": {"score": 1, "comment": "态度差"}}
    await api.ok("desk-1", "POST", f"/cases/{case}/visits", visit)
    h = api.harness
    assert await start_due(h.client, h.store, h.task_queue) == 1
    [row] = followups.of_case(h.store, case)
    await h.until(lambda: (f := followups.get(h.store, row.id)) and f.parts[0].due_at, "opened")
    path = f"/work/followups/{case}/{row.rating_seq}"
    await pages.sign_in("desk-1")
    inbox = await pages.http.get("/work/inbox")
    assert f'href="{path}"' in inbox.text
    page = await pages.http.get(path)
    assert "回访核实结论" in page.text
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    missing = await pages.http.post(
        f"{path}/verify", data={"csrf": csrf, "verdict": "unjustified", "finding": "已核实"}
    )
    assert missing.status_code == 422
    assert "explanation" in missing.text
    appealed = await pages.http.post(
        f"{path}/verify", data={"csrf": csrf, "verdict": "mistaken", "finding": "申请人称误点"}
    )
    assert appealed.status_code == 303, appealed.text[:400]
    # The department cannot decide its own appeal, nor urge, from the pages either.
    own = await pages.http.post(
        f"{path}/appeal",
        data={"csrf": csrf, "department": "YZ-ZWFW", "granted": "yes", "reason": "自己批准"},
    )
    assert own.status_code == 403
    urged = await pages.http.post(
        f"{path}/urge", data={"csrf": csrf, "department": "YZ-ZWFW", "days": "²"}
    )
    assert urged.status_code == 403
    await pages.sign_in("supervisor-1")
    waiting = await pages.http.get("/work/followups?awaiting=appeal")
    assert case in waiting.text
    page = await pages.http.get(path)
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    odd = await pages.http.post(
        f"{path}/urge", data={"csrf": csrf, "department": "YZ-ZWFW", "days": "²"}
    )
    assert odd.status_code in (409, 422)  # refused, never a 500
    decided = await pages.http.post(
        f"{path}/appeal",
        data={"csrf": csrf, "department": "YZ-ZWFW", "granted": "yes", "reason": "属实"},
    )
    assert decided.status_code == 303, decided.text[:400]
    done = await pages.http.get(path)
    assert "不计入统计" in done.text
