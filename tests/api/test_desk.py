"""The front desk accepts complete applications, tolerates (容缺) or returns the rest."""

from __future__ import annotations

import uuid

from store import queries
from tests.api.conftest import STARTUP_FORM, Api
from tests.api.test_flow import FOLLOW_UP, decide


async def test_incomplete_applications_need_a_tolerance_list(api: Api) -> None:
    body = {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM, "materials": ["company_articles"]}
    answer = await api.call(
        "applicant-1", "POST", "/cases", body, **{"Idempotency-Key": uuid.uuid4().hex}
    )
    missing = answer.json()["missing_materials"]
    assert "lease_contract" in missing
    assert "company_articles" not in missing
    assert not [k for k in missing if k.startswith("food")]  # no food business: not asked
    case = answer.json()["case_id"]
    api.harness.handles[case] = api.harness.client.get_workflow_handle(case)
    await api.harness.wait_recorded(case)

    response = await api.call("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    assert response.status_code == 422
    assert "租赁合同" in response.json()["message"]["zh"] or "lease_contract" in response.text
    assert "lease_contract" in response.json()["message"]["en"]
    # 一次性告知: a return naming only part of what is missing is refused with the rest.
    partial = {"decision": "return", "missing": missing[:1], "reason": "材料不齐"}
    response = await api.call("desk-1", "POST", f"/cases/{case}/intake", partial)
    assert response.status_code == 422
    assert missing[1] in response.json()["message"]["en"]
    # The desk returns it with the complete list; the applicant hands everything in.
    await api.ok(
        "desk-1",
        "POST",
        f"/cases/{case}/intake",
        {"decision": "return", "missing": missing, "reason": "材料不齐"},
    )
    await api.ok("applicant-1", "POST", f"/cases/{case}/supplement", {"materials": missing})
    accepted = await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    assert accepted["state"] == "in_progress"
    timeline = await api.ok("supervisor-1", "GET", f"/cases/{case}/timeline")
    [event] = [e for e in timeline if e["type"] == "case.accepted"]
    assert event["payload"]["missing"] == []


async def test_materials_brought_to_the_window_are_recorded_with_the_acceptance(api: Api) -> None:
    snap = queries.get_procedure(api.harness.store, "YZ-YJS-KBQY")
    assert snap is not None
    complete = snap.required_keys(STARTUP_FORM)
    case = await api.submit(materials=[k for k in complete if k != "lease_contract"])
    decision = {"decision": "accept", "received": ["no_such_material"]}
    response = await api.call("desk-1", "POST", f"/cases/{case}/intake", decision)
    assert response.status_code == 422
    assert "no_such_material" in response.json()["message"]["en"]
    decision = {"decision": "accept", "received": ["lease_contract"]}
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", decision)
    timeline = await api.ok("supervisor-1", "GET", f"/cases/{case}/timeline")
    [event] = [e for e in timeline if e["type"] == "case.accepted"]
    assert event["payload"]["missing"] == []


async def test_results_wait_for_owed_materials_and_everyone_is_told_why(api: Api) -> None:
    snap = queries.get_procedure(api.harness.store, "YZ-YJS-KBQY")
    assert snap is not None
    owed = "lease_contract"
    handed = [k for k in snap.required_keys(STARTUP_FORM) if k != owed]
    case = await api.submit(materials=handed)
    await api.ok(
        "desk-1",
        "POST",
        f"/cases/{case}/intake",
        {"decision": "accept", "tolerated": [owed], "tolerance_days": 1},
    )
    await decide(api, "scjg-1", case, "company_registration")
    for task, user in FOLLOW_UP.items():
        await decide(api, user, case, task)
    # Decided; the results wait for the lease contract.
    [row] = await api.ok("desk-1", "GET", "/inbox")
    assert (row["task_key"], row["waiting_for_applicant"]) == ("@delivery", True)
    refused = await api.call("desk-1", "POST", f"/cases/{case}/delivery", {})
    assert refused.status_code == 409
    assert "住所（经营场所）使用证明" in refused.json()["message"]["zh"]
    assert owed in refused.json()["message"]["en"]
    mine = await api.ok("applicant-1", "GET", f"/cases/{case}")
    assert mine["status"]["zh"] == "已办结，补齐容缺材料后送达"
    assert (mine["awaiting_supplement"], [m["key"] for m in mine["missing"]]) == (True, [owed])
    [listed] = await api.ok("applicant-1", "GET", "/cases")
    assert (listed["must_act"], listed["missing"]) == (True, 1)
    await api.ok("applicant-1", "POST", f"/cases/{case}/supplement", {"materials": [owed]})
    delivered = await api.ok("desk-1", "POST", f"/cases/{case}/delivery", {})
    assert delivered["state"] == "rating"
