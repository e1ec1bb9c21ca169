"""Follow-ups of bad ratings through the API, as each person meets them: the desk finds the
call-back in its inbox, a department verdicts, a supervisor decides the appeal, the applicant
follows it, the figures leave a granted appeal's rating out."""

from __future__ import annotations

import random

from activities.clock import Calendars
from services.followup_history import run_followup
from services.history import later
from store import followups, queries
from tests.api.conftest import Api
from worker.followups import start_due
from workflows.contracts import EventType, FollowUpState, PartState


async def visit_rated(api: Api, score: int) -> tuple[str, str]:
    case = await api.submit()
    visit = {"reason": "other", "rating": {"score": score, "comment": "排队太久，态度差"}}
    await api.ok("desk-1", "POST", f"/cases/{case}/visits", visit)
    h = api.harness
    assert await start_due(h.client, h.store, h.task_queue) == 1
    [row] = followups.of_case(h.store, case)

    def ready() -> bool:
        stored = followups.get(h.store, row.id)
        return bool(stored and stored.parts[0].due_at)

    await h.until(ready, "the follow-up's deadline")
    return case, f"/followups/{case}/{row.rating_seq}"


async def test_a_bad_visit_rating_through_every_role(api: Api) -> None:
    case, path = await visit_rated(api, 1)

    # The desk finds the call-back in its inbox, with where to act on it.
    [task] = [t for t in await api.ok("desk-1", "GET", "/inbox") if t.get("followup")]
    assert (task["kind"], task["followup"], task["case_id"]) == ("callback", path, case)
    assert task["deadline_at"]
    assert task["urgency"] == "normal"
    # Another department neither sees nor acts on it.
    assert (await api.ok("scjg-1", "GET", "/followups"))["followups"] == []
    assert (await api.call("scjg-1", "GET", path)).status_code == 404

    # Bad bodies are refused with the field named; nothing is acted on.
    bad = await api.call("desk-1", "POST", f"{path}/verify", {"verdict": "maybe", "finding": "x"})
    assert bad.status_code == 422
    assert "verdict" in bad.text
    missing = await api.call(
        "desk-1", "POST", f"{path}/verify", {"verdict": "unjustified", "finding": "核实"}
    )
    assert missing.status_code == 422
    assert "explanation" in missing.text

    appealed = await api.ok(
        "desk-1", "POST", f"{path}/verify", {"verdict": "malicious", "finding": "申请人承认恶意"}
    )
    assert appealed["parts"][0]["state"] == PartState.appealed.value
    # The supervisor finds the appeal to decide; the desk cannot decide it.
    waiting = await api.ok("supervisor-1", "GET", "/followups?awaiting=appeal")
    assert [f["path"] for f in waiting["followups"]] == [path]
    own = await api.call(
        "desk-1",
        "POST",
        f"{path}/appeal",
        {"department": "YZ-ZWFW", "granted": True, "reason": "x"},
    )
    assert own.status_code == 403
    granted = await api.ok(
        "supervisor-1",
        "POST",
        f"{path}/appeal",
        {"department": "YZ-ZWFW", "granted": True, "reason": "证据充分"},
    )
    assert granted["excluded"] is True
    assert granted["state"] == FollowUpState.concluded.value
    again = await api.call(
        "supervisor-1",
        "POST",
        f"{path}/appeal",
        {"department": "YZ-ZWFW", "granted": False, "reason": "x"},
    )
    assert again.status_code == 409

    # The applicant follows it on their case, without who handled it.
    [mine] = await api.ok("applicant-1", "GET", f"/cases/{case}/followups")
    assert mine["audience"] == "applicant"
    assert mine["excluded"] is True
    assert "verified_by" not in mine["parts"][0]
    assert "finding" not in mine["parts"][0]
    assert (await api.call("applicant-2", "GET", path)).status_code == 404
    told = await api.ok("applicant-1", "GET", f"/cases/{case}/notifications")
    assert "followup_appeal" in [n["kind"] for n in told]

    # Every step is in the feed; the rating stays on record but leaves the figures.
    feed = await api.ok("supervisor-1", "GET", "/events?limit=1000")
    types = [e["type"] for e in feed["events"] if e["case_id"] == case]
    assert EventType.visit_rated.value in types
    assert EventType.followup_appeal_decided.value in types
    figures = await api.ok("supervisor-1", "GET", "/supervision/figures?period=2025Q3&by=all")
    f = figures["groups"][0]["figures"]
    assert (f["onsite_rated"], f["onsite_bad_ratings"], f["appeals_granted"]) == (0, 0, 1)


async def test_a_followup_begun_in_a_history_goes_on_in_its_workflow(api: Api) -> None:
    """The demo's open follow-ups: written offline up to now, then worked through the API."""
    case = await api.submit()
    visit = {"reason": "other", "rating": {"score": 3}}  # not bad: no follow-up of its own
    await api.ok("desk-1", "POST", f"/cases/{case}/visits", visit)
    h = api.harness
    assert followups.of_case(h.store, case) == []
    [rated] = [e for e in queries.timeline(h.store, case) if e.type is EventType.visit_rated]
    stored = queries.get_case(h.store, case)
    snap = queries.get_procedure(h.store, stored.procedure_code, stored.procedure_version)  # type: ignore[union-attr]
    bad = rated.model_copy(update={"payload": {**rated.payload, "score": 2}})
    start = followups.start_input(bad, stored, snap, [])  # type: ignore[arg-type]
    assert start is not None
    now = await h.now()
    # Stop it at the call-back: nothing acted yet, whatever the seed chose.
    offline = run_followup(start, _NeverActs(), Calendars(), later, now)
    followups.record(h.store, offline.record(), notify=False)
    followups.to_resume(
        h.store, start.model_copy(update={"resume": offline.d.model_dump(mode="json")})
    )
    assert await start_due(h.client, h.store, h.task_queue) == 1
    path = f"/followups/{case}/{start.rating_seq}"
    done = await api.ok(
        "desk-1",
        "POST",
        f"{path}/verify",
        {"verdict": "unjustified", "finding": "核实", "explanation": "已说明"},
    )
    assert done["state"] == FollowUpState.concluded.value
    seqs = [e.seq for e in queries.timeline(h.store, case) if e.seq > 100_000 * start.rating_seq]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs)))  # one numbering, no gap, no clash


class _NeverActs(random.Random):
    """Every department behind: each part stops before its call-back."""

    def random(self) -> float:
        return 0.0

    def choice(self, seq):  # type: ignore[no-untyped-def]
        return seq[0]


async def test_concluded_results_are_published_without_names(api: Api) -> None:
    case, path = await visit_rated(api, 2)
    body = {"verdict": "unjustified", "finding": "核实", "explanation": "材料为法定要求，已说明"}
    await api.ok("desk-1", "POST", f"{path}/verify", body)
    page = await api.ok(None, "GET", "/public/rectifications?period=2025Q3")
    [result] = page["results"]
    assert result["parts"][0]["outcome"] == "explained"
    assert result["summary"]
    text = str(page)
    assert case not in text
    assert "排队太久" not in text  # the applicant's comment stays private
    assert "applicant-1" not in text
    assert (await api.call(None, "GET", "/public/rectifications?period=2025X9")).status_code == 422
    other = await api.ok(None, "GET", "/public/rectifications?period=2025Q3&department=YZ-SCJG")
    assert other["results"] == []
