"""What an applicant sees of their case: why it stopped, what is missing, their progress."""

from __future__ import annotations

import json
from typing import Any

from api.applicant import applicant_case
from tests.api.conftest import Api
from tests.store.factories import case_row, event, procedure_snapshot
from workflows.contracts import CaseState, EventType, Role

TASK = "company_registration"
DESK = "云州市政务服务中心"
SCJG = "云州市市场监督管理局"


def titles(view: dict[str, Any]) -> list[str]:
    return [p["title"]["zh"] for p in view["progress"]]


def staff_free(view: dict[str, Any]) -> None:
    """No staff id and no internal note reaches the applicant."""
    text = json.dumps(view, ensure_ascii=False)
    for leak in ("desk-1", "scjg-1", "supervisor-1", "请加快", "actor_id", "assignee"):
        assert leak not in text, leak


async def test_a_return_says_what_is_missing_by_name_and_who_asked(api: Api) -> None:
    case = await api.submit()
    view = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert (view["status"]["zh"], view["awaiting_supplement"]) == ("待受理", False)
    assert titles(view) == ["已收到申请"]
    await api.ok(
        "desk-1",
        "POST",
        f"/cases/{case}/intake",
        {
            "decision": "return",
            "reason": "章程缺少全体股东签字",
            "missing": ["company_articles", "全体股东签字页"],
        },
    )
    view = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert view["awaiting_supplement"] is True
    assert view["suspended"] is True
    articles, free_text = view["missing"]
    assert (articles["key"], articles["name"]) == ("company_articles", "公司章程")
    assert articles["form"] in ("原件", "复印件", "电子件")
    assert articles["copies"] >= 1
    assert articles["items"]  # the items that need it, by name
    assert (free_text["name"], free_text["form"]) == ("全体股东签字页", None)
    [why] = view["why"]
    assert (why["kind"], why["reason"], why["department"]["name"]) == (
        "returned",
        "章程缺少全体股东签字",
        DESK,
    )
    assert [m["name"] for m in why["missing"]] == ["公司章程", "全体股东签字页"]
    assert titles(view) == ["已收到申请", "需补正材料"]
    assert "公司章程、全体股东签字页" in view["progress"][-1]["detail"]
    staff_free(view)

    await api.ok(
        "applicant-1",
        "POST",
        f"/cases/{case}/supplement",
        {"materials": ["company_articles", "全体股东签字页"]},
    )
    view = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert (view["awaiting_supplement"], view["missing"]) == (False, [])
    assert titles(view)[-1] == "已补交材料"
    assert view["progress"][-1]["department"] is None  # the applicant's own act
    [intake] = [d for d in view["deadlines"] if d["kind"] == "intake"]
    assert intake["derivation"]["days"] == 1  # a new intake period from the supplement
    assert len(view["why"]) == 1  # the return stays on record


async def test_a_rejection_names_the_department_the_item_and_the_reason(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await api.ok("supervisor-1", "POST", f"/cases/{case}/urge", {"days": 1, "note": "请加快"})
    await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/{TASK}/claim")
    await api.ok(
        "scjg-1",
        "POST",
        f"/cases/{case}/tasks/{TASK}/decision",
        {"decision": "reject", "reason": "名称与已登记企业重名"},
    )
    view = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert (view["state"], view["status"]["zh"]) == ("rejected", "不予许可")
    [why] = view["why"]
    assert why["kind"] == "rejected"
    assert (why["department"]["name"], why["department"]["code"]) == (SCJG, "YZ-SCJG")
    assert why["reason"] == "名称与已登记企业重名"
    assert why["item"]
    [task] = view["tasks"]
    assert (task["state"], task["reason"], task["department"]["name"]) == (
        "rejected",
        "名称与已登记企业重名",
        SCJG,
    )
    assert titles(view)[:3] == ["已收到申请", "已受理", "进入办理阶段"]
    assert titles(view)[-2:] == ["部门不予许可", "不予许可"]
    staff_free(view)  # the urge and its note are internal


async def test_a_refusal_at_intake_is_explained(api: Api) -> None:
    case = await api.submit()
    await api.ok(
        "desk-1",
        "POST",
        f"/cases/{case}/intake",
        {"decision": "refuse", "reason": "申请事项不属于本中心受理范围"},
    )
    view = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert (view["state"], view["status"]["en"]) == ("refused", "not accepted")
    [why] = view["why"]
    assert (why["kind"], why["reason"], why["department"]["name"]) == (
        "refused",
        "申请事项不属于本中心受理范围",
        DESK,
    )
    assert titles(view) == ["已收到申请", "不予受理"]
    assert view["deadlines"][0]["status"] == "ended"


async def test_staff_still_see_the_case_as_it_is(api: Api) -> None:
    case = await api.submit()
    detail = await api.ok("supervisor-1", "GET", f"/cases/{case}")
    assert (detail["audience"], detail["case"]["id"]) == ("staff", case)
    assert {c["key"] for c in detail["clocks"]} >= {"intake"}


async def test_materials_handed_in_over_time_with_a_note(api: Api) -> None:
    case = await api.submit()
    asked = ["company_articles", "全体股东签字页"]
    await api.ok(
        "desk-1",
        "POST",
        f"/cases/{case}/intake",
        {"decision": "return", "missing": asked, "reason": "章程缺签字"},
    )
    await api.ok(
        "applicant-1",
        "POST",
        f"/cases/{case}/supplement",
        {"materials": ["全体股东签字页"], "note": "已由全体股东签字"},
    )
    view = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert view["awaiting_supplement"] is True
    assert [m["name"] for m in view["missing"]] == ["公司章程"]
    assert titles(view)[-1] == "已补交材料"
    assert "仍缺：公司章程" in view["progress"][-1]["detail"]
    assert "说明：已由全体股东签字" in view["progress"][-1]["detail"]
    await api.ok(
        "applicant-1", "POST", f"/cases/{case}/supplement", {"materials": ["company_articles"]}
    )
    view = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert (view["awaiting_supplement"], view["missing"]) == (False, [])
    [row] = await api.ok("desk-1", "GET", "/inbox")
    assert row["case_id"] == case  # back in the desk's queue with a new intake period


def test_a_deemed_acceptance_tells_what_was_missing() -> None:
    snap = procedure_snapshot()
    case = case_row("OT-1", state=CaseState.in_progress, content_hash=snap.content_hash)
    deemed = event(
        "OT-1",
        2,
        type=EventType.case_deemed_accepted,
        actor_id="system",
        actor_role=Role.system,
        payload={"tolerated": [], "missing": ["lease_contract"]},
    )
    view = applicant_case(case, [], [], [event("OT-1", 1), deemed], snap)
    [entry] = [p for p in view.progress if p.type == "case.deemed_accepted"]
    assert entry.detail is not None
    assert "受理时尚缺" in entry.detail
