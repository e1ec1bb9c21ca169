"""An applicant's pages on a running engine: apply with the generated form (errors beside their
fields, one case however often the form is sent), follow the case, supplement, rate, read the
follow-up of a bad rating; nobody else's case."""

from __future__ import annotations

from store import followups
from tests.api.conftest import STARTUP_FORM, Api
from tests.api.test_flow import FOLLOW_UP, decide
from tests.web.conftest import Pages
from worker.followups import start_due


def form_fields(text: str) -> dict[str, str]:
    return {
        f"f_{k}": ("yes" if v is True else "no" if v is False else str(v))
        for k, v in STARTUP_FORM.items()
    }


async def test_apply_follow_and_rate(api: Api, pages: Pages) -> None:
    await pages.sign_in("applicant-1")
    page = await pages.http.get("/apply/YZ-YJS-KBQY")
    assert page.status_code == 200
    csrf = page.text.split('name="csrf" value="')[1].split('"')[0]
    submission = page.text.split('name="submission" value="')[1].split('"')[0]
    materials = [part.split('"')[0] for part in page.text.split('name="materials" value="')[1:]]
    # A required field left empty is named beside the field; nothing is submitted.
    fields = form_fields(page.text)
    first = next(iter(fields))
    bad = dict(fields, **{first: ""})
    refused = await pages.http.post(
        "/apply/YZ-YJS-KBQY",
        data={"csrf": csrf, "submission": submission, **bad, "materials": materials},
    )
    assert refused.status_code == 422
    assert f'id="{first}-error"' in refused.text
    assert api.harness.store is not None
    data = {"csrf": csrf, "submission": submission, **fields, "materials": materials}
    sent = await pages.http.post("/apply/YZ-YJS-KBQY", data=data)
    assert sent.status_code == 303, sent.text[:600]
    case = sent.headers["location"].removeprefix("/my/")
    again = await pages.http.post("/apply/YZ-YJS-KBQY", data=data)  # sent twice: one case
    assert again.headers["location"] == f"/my/{case}"
    api.harness.handles[case] = api.harness.client.get_workflow_handle(case)
    await api.harness.wait_recorded(case)
    mine = await pages.http.get("/my")
    assert case in mine.text
    view = await pages.http.get(f"/my/{case}")
    assert "待受理" in view.text
    assert "撤回申请" in view.text
    # Through the departments to delivery, then a bad rating from the page.
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await decide(api, "scjg-1", case, "company_registration")
    for task, user in FOLLOW_UP.items():
        await decide(api, user, case, task)
    await api.ok("desk-1", "POST", f"/cases/{case}/delivery", {})
    view = await pages.http.get(f"/my/{case}")
    assert "评价本次服务" in view.text
    csrf = view.text.split('name="csrf" value="')[1].split('"')[0]
    no_score = await pages.http.post(f"/my/{case}/rating", data={"csrf": csrf})
    assert no_score.status_code == 422
    assert 'role="alert"' in no_score.text
    rated = await pages.http.post(
        f"/my/{case}/rating",
        data={"csrf": csrf, "score": "2", "comment": "跑了两次", "dim_efficiency": "2"},
    )
    assert rated.status_code == 303, rated.text[:400]
    h = api.harness
    assert await start_due(h.client, h.store, h.task_queue) == 1
    [row] = followups.of_case(h.store, case)
    await h.until(lambda: followups.get(h.store, row.id).opened_at, "the follow-up opened")  # type: ignore[union-attr]
    view = await pages.http.get(f"/my/{case}")
    assert "差评回访" in view.text
    assert "待回访核实" in view.text


async def test_another_applicants_case_is_not_found(api: Api, pages: Pages) -> None:
    case = await api.submit("applicant-1")
    await pages.sign_in("applicant-2")
    page = await pages.http.get(f"/my/{case}")
    assert page.status_code == 404
    assert "<html" in page.text
