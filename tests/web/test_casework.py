"""A caseworker's work through the pages, on a running engine: the case page, claim, approve,
return with the missing list; refusals shown on the page; another department's case refused."""

from __future__ import annotations

from store.sessions import set_password
from tests.api.conftest import Api
from tests.api.test_flow import FOLLOW_UP, decide
from tests.web.conftest import PAGES_PASSWORD as PASSWORD
from tests.web.conftest import Pages
from workflows.contracts import Role


async def test_claim_and_approve_from_the_case_page(api: Api, pages: Pages) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await pages.sign_in("scjg-1")
    page = await pages.http.get(f"/work/cases/{case}")
    assert page.status_code == 200
    assert "企业设立登记" in page.text
    assert "领取" in page.text
    csrf = await pages.csrf(f"/work/cases/{case}")
    path = f"/work/cases/{case}/tasks/company_registration"
    claimed = await pages.http.post(f"{path}/claim", data={"csrf": csrf})
    assert claimed.status_code == 303
    page = await pages.http.get(f"/work/cases/{case}")
    assert "办理意见" in page.text
    # A rejection without a reason is refused with the API's message, on the page.
    refused = await pages.http.post(f"{path}/decide", data={"csrf": csrf, "decision": "reject"})
    assert refused.status_code == 422
    assert 'role="alert"' in refused.text
    approved = await pages.http.post(f"{path}/decide", data={"csrf": csrf, "decision": "approve"})
    assert approved.status_code == 303
    assert approved.headers["location"] == "/work/inbox"
    detail = await api.ok("scjg-1", "GET", f"/cases/{case}")
    task = next(t for t in detail["tasks"] if t["task_key"] == "company_registration")
    assert task["state"] == "approved"
    # Without the form token nothing happens.
    forged = await pages.http.post(f"{path}/claim", data={"csrf": "forged"})
    assert forged.status_code == 403


async def test_return_for_supplement_with_the_missing_list(api: Api, pages: Pages) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await decide(api, "scjg-1", case, "company_registration")
    await pages.sign_in("sw-1")
    csrf = await pages.csrf(f"/work/cases/{case}")
    path = f"/work/cases/{case}/tasks/tax_package"
    assert (await pages.http.post(f"{path}/claim", data={"csrf": csrf})).status_code == 303
    page = await pages.http.get(f"/work/cases/{case}")
    material = page.text.split('name="missing" value="')[1].split('"')[0]
    returned = await pages.http.post(
        f"{path}/decide",
        data={"csrf": csrf, "decision": "return", "missing": [material], "reason": "请补正"},
    )
    assert returned.status_code == 303, returned.text[:500]
    mine = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert material in str(mine)  # the applicant is asked for it
    assert FOLLOW_UP  # the other departments' tasks stay open meanwhile


async def test_a_foreign_departments_case_is_refused(api: Api, pages: Pages) -> None:
    from store.users import create_user

    create_user(api.harness.store, id="wj-1", name="卫健", role=Role.caseworker, department="YZ-WJ")
    set_password(api.harness.store, "wj-1", PASSWORD)
    case = await api.submit()
    await pages.sign_in("wj-1")
    # The health commission has no part in a business start-up: it sees nothing of it.
    page = await pages.http.get(f"/work/cases/{case}")
    assert page.status_code == 404
    assert "<html" in page.text
    csrf = await pages.csrf("/work/inbox")
    act = await pages.http.post(
        f"/work/cases/{case}/tasks/company_registration/claim", data={"csrf": csrf}
    )
    assert act.status_code == 404


async def test_the_desk_accepts_and_records_a_visit(api: Api, pages: Pages) -> None:
    from store import followups

    set_password(api.harness.store, "desk-1", PASSWORD)
    case = await api.submit()
    await pages.sign_in("desk-1")
    page = await pages.http.get(f"/work/cases/{case}")
    assert "受理决定" in page.text
    assert "登记申请人到现场" in page.text
    csrf = await pages.csrf(f"/work/cases/{case}")
    # A refusal without a reason is refused, and says so on the page.
    no_reason = await pages.http.post(
        f"/work/cases/{case}/intake", data={"csrf": csrf, "decision": "refuse"}
    )
    assert no_reason.status_code == 422
    assert "理由" in no_reason.text
    visit = await pages.http.post(
        f"/work/cases/{case}/visit",
        data={"csrf": csrf, "reason": "window_submission", "score": "2", "note": ""},
    )
    assert visit.status_code == 303, visit.text[:400]
    assert len(followups.of_case(api.harness.store, case)) == 1  # 一次一评: a bad one
    accepted = await pages.http.post(
        f"/work/cases/{case}/intake", data={"csrf": csrf, "decision": "accept"}
    )
    assert accepted.status_code == 303, accepted.text[:400]
    detail = await api.ok("desk-1", "GET", f"/cases/{case}")
    assert detail["case"]["state"] == "in_progress"
    assert detail["case"]["trips"] == 1


async def test_hand_over_and_a_step_that_does_not_count(api: Api, pages: Pages) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await pages.sign_in("scjg-1")
    csrf = await pages.csrf(f"/work/cases/{case}")
    path = f"/work/cases/{case}/tasks/company_registration"
    assert (await pages.http.post(f"{path}/claim", data={"csrf": csrf})).status_code == 303
    page = await pages.http.get(f"/work/cases/{case}")
    assert "转交给" in page.text
    assert 'value="scjg-2"' in page.text  # a colleague of the same department
    nobody = await pages.http.post(f"{path}/reassign", data={"csrf": csrf, "assignee": "sw-1"})
    assert nobody.status_code == 422  # not a caseworker of this department
    handed = await pages.http.post(f"{path}/reassign", data={"csrf": csrf, "assignee": "scjg-2"})
    assert handed.status_code == 303, handed.text[:400]
    detail = await api.ok("scjg-1", "GET", f"/cases/{case}")
    task = next(t for t in detail["tasks"] if t["task_key"] == "company_registration")
    assert task["assignee"] == "scjg-2"
