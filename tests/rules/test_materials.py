"""Acceptance needs every required material of the items the form needs, or a 容缺 list."""

from __future__ import annotations

from tests.rules.sim import APPLICANT, DESK, Sim, sh
from workflows.case import guards, rules
from workflows.contracts import AcceptInput, EventType, ReturnInput, SupplementInput

AT = sh("2025-11-03 10:00")
FORM = {"company_name": "云州示范科技有限公司", "food_business": False}


def test_only_items_the_form_needs_ask_for_materials() -> None:
    without = Sim(at=AT, form=FORM).spec.snapshot.required_keys(FORM)
    with_food = Sim(at=AT, form=FORM).spec.snapshot.required_keys({**FORM, "food_business": True})
    assert "food_safety_rules" not in without
    assert "food_safety_rules" in with_food
    assert set(without) < set(with_food)


def test_missing_materials_are_tolerated_or_the_application_waits() -> None:
    complete = Sim(at=AT, form=FORM).spec.snapshot.required_keys(FORM)
    handed = [k for k in complete if k not in ("lease_contract", "company_articles")]
    sim = Sim(at=AT, form=FORM, materials=handed)
    refusal = sim.refused(guards.materials_complete, AcceptInput(actor=DESK))
    assert refusal.kind == "invalid"
    assert "公司章程（company_articles）、" in refusal.message
    assert "not handed in: company_articles, lease_contract;" in refusal.message
    # company_articles cannot be tolerated: listing only the tolerable one is not enough.
    refusal = sim.refused(
        guards.materials_complete,
        AcceptInput(actor=DESK, tolerated=["lease_contract"], tolerance_days=1),
    )
    assert "not handed in: company_articles;" in refusal.message


def test_the_acceptance_records_what_was_missing() -> None:
    complete = Sim(at=AT, form=FORM).spec.snapshot.required_keys(FORM)
    sim = Sim(at=AT, form=FORM, materials=[k for k in complete if k != "lease_contract"])
    data = AcceptInput(actor=DESK, tolerated=["lease_contract"], tolerance_days=1)
    guards.materials_complete(sim.s, sim.spec, data)
    sim.act(guards.accept, rules.accept, data)
    [accepted] = [e for e in sim.events if e.type is EventType.case_accepted]
    assert (accepted.payload["missing"], accepted.payload["tolerated"]) == (
        ["lease_contract"],
        ["lease_contract"],
    )


def test_a_deemed_acceptance_records_what_was_missing_too() -> None:
    sim = Sim(at=AT, form=FORM, materials=["company_articles"])
    sim.until(sh("2025-11-05 10:00"))  # the desk stayed silent past its one working day
    [deemed] = [e for e in sim.events if e.type is EventType.case_deemed_accepted]
    assert "lease_contract" in deemed.payload["missing"]
    assert "company_articles" not in deemed.payload["missing"]


def test_a_supplement_in_parts_resumes_the_clock_when_the_last_part_arrives() -> None:
    sim = Sim(at=AT, form=FORM)
    asked = ["company_articles", "lease_contract", "全体股东签字页"]
    sim.act(
        guards.return_for_supplement,
        rules.return_for_supplement,
        ReturnInput(actor=DESK, missing=asked, reason="材料不齐"),
    )
    intake = sim.s.clocks["intake"]
    assert intake.running is False
    sim.now = sh("2025-11-04 10:00")
    part = SupplementInput(actor=APPLICANT, materials=["lease_contract"], note="租赁合同已盖章")
    sim.act(guards.supplement, rules.supplement, part)
    assert sim.s.case.missing == ["company_articles", "全体股东签字页"]
    assert sim.s.clocks["intake"].running is False  # still waiting for the rest
    [partial] = [e for e in sim.events if e.type is EventType.case_supplemented]
    assert partial.payload == {
        "materials": ["lease_contract"],
        "partial": True,
        "missing": ["company_articles", "全体股东签字页"],
        "note": "租赁合同已盖章",
    }
    # Something not asked for alone is refused; the rest arrives later.
    refusal = sim.refused(
        guards.supplement, SupplementInput(actor=APPLICANT, materials=["lease_contract"])
    )
    assert refusal.kind == "invalid"
    sim.now = sh("2025-11-05 10:00")
    rest = SupplementInput(actor=APPLICANT, materials=["company_articles", "全体股东签字页"])
    sim.act(guards.supplement, rules.supplement, rest)
    assert sim.s.case.missing == []
    assert sim.s.clocks["intake"].running is True
    after = [e.type for e in sim.events]
    last = len(after) - 1 - after[::-1].index(EventType.case_supplemented)
    assert EventType.case_clock_resumed in after[last:]


def test_a_return_at_intake_names_everything_missing_at_once() -> None:
    sim = Sim(at=AT, form=FORM, materials=["company_articles"])
    some = ReturnInput(actor=DESK, missing=["lease_contract"], reason="材料不齐")
    refusal = sim.refused(guards.return_lists_everything, some)
    assert "also missing: company_application" in refusal.message
    everything = sim.spec.snapshot.required_keys(FORM)
    complete = ReturnInput(actor=DESK, missing=[*everything, "全体股东签字页"], reason="材料不齐")
    guards.return_lists_everything(sim.s, sim.spec, complete)
