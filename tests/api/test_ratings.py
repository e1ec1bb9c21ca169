"""好差评 through the API: dimension scores online, a visit's rating at the desk, strictly."""

from __future__ import annotations

from tests.api.conftest import Api
from tests.api.test_flow import FOLLOW_UP, decide


async def test_a_case_and_its_visit_rated_with_dimensions(api: Api) -> None:
    case = await api.submit()
    visit = {
        "reason": "other",
        "rating": {"score": 2, "comment": "排队太久", "dimensions": {"attitude": 3}},
    }
    await api.ok("desk-1", "POST", f"/cases/{case}/visits", visit)
    # A second visit, so that a dimension's mean has a fraction.
    again = {"reason": "other", "rating": {"score": 5, "dimensions": {"attitude": 4}}}
    await api.ok("desk-1", "POST", f"/cases/{case}/visits", again)
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    await decide(api, "scjg-1", case, "company_registration")
    for task, user in FOLLOW_UP.items():
        await decide(api, user, case, task)
    await api.ok("desk-1", "POST", f"/cases/{case}/delivery", {})
    for bad, field in [
        ({"score": 5, "dimensions": {"attitude": 5}}, "dimensions"),  # an on-site dimension
        ({"score": 6}, "score"),
        ({"score": 5, "dimensions": {"overall": "5"}}, "dimensions"),
        ({"score": 5, "dimensions": {"overall": 0}}, "dimensions"),
    ]:
        answer = await api.call("applicant-1", "POST", f"/cases/{case}/rating", bad)
        assert answer.status_code == 422, bad
        assert field in {str(p) for e in answer.json()["detail"] for p in e["loc"]}, bad
    body = {"score": 4, "dimensions": {"overall": 4, "guide_accuracy": 5}}
    await api.ok("applicant-1", "POST", f"/cases/{case}/rating", body)
    figures = await api.ok("supervisor-1", "GET", "/supervision/figures?period=2025Q3&by=all")
    [group] = figures["groups"]
    f = group["figures"]
    assert f["dimension_means"] == {"guide_accuracy": 5.0, "overall": 4.0}
    assert (f["onsite_rated"], f["onsite_bad_ratings"], f["onsite_dimension_means"]) == (
        2,
        1,
        {"attitude": 3.5},
    )
    assert f["rating_distribution"] == {"5": 0, "4": 1, "3": 0, "2": 0, "1": 0}
    progress = (await api.ok("applicant-1", "GET", f"/cases/{case}"))["progress"]
    assert "visit.rated" in [p["type"] for p in progress]
