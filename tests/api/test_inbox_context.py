"""Inbox rows carry what a caseworker needs to choose work without opening each case."""

from __future__ import annotations

import datetime as dt

import pytest

from api.explain import WAITING_LABEL, _label, days_left, urgency
from api.schemas import Urgency
from definitions.calendar import SHANGHAI, WorkingCalendar
from tests.api.conftest import Api
from tests.store.factories import task_row


def at(day: str, hour: int = 10) -> dt.datetime:
    return dt.datetime.combine(dt.date.fromisoformat(day), dt.time(hour), SHANGHAI)


async def test_rows_name_the_procedure_stage_applicant_and_headline(api: Api) -> None:
    case = await api.submit(company_name="云州示范科技有限公司", legal_representative="王五")
    assert api.app is not None
    api.app.state.now = lambda: at("2025-09-15")
    [row] = await api.ok("desk-1", "GET", "/inbox")
    assert row["case_id"] == case
    assert (row["procedure"], row["procedure_name"]) == ("YZ-YJS-KBQY", "开办企业一件事")
    assert row["stage_name"] == "受理 / intake"
    assert (row["applicant"], row["applicant_name"]) == ("applicant-1", "applicant-1")
    assert row["headline"] == {
        "company_name": "云州示范科技有限公司",
        "legal_representative": "王五",
    }
    # Submitted Monday 15 Sep 2025, one working day to accept: due Tuesday.
    assert row["deadline_date"] == "2025-09-16"
    assert (row["urgency"], row["urgency_label"], row["days_left"]) == (
        "normal",
        "正常 / normal",
        1,
    )
    api.app.state.now = lambda: at("2025-09-18")
    [row] = await api.ok("desk-1", "GET", "/inbox")
    assert row["days_left"] == -2
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    [row] = await api.ok("scjg-1", "GET", "/inbox")
    assert (row["stage_name"], row["headline"]["company_name"]) == (
        "企业设立登记",
        "云州示范科技有限公司",
    )


NATIONAL = WorkingCalendar()


@pytest.mark.parametrize(
    ("due", "today", "left"),
    [
        ("2025-09-30", "2025-09-30", 0),  # due at the end of today
        ("2025-10-09", "2025-09-30", 1),  # National Day week off, Thursday 9 Oct the first
        ("2025-10-10", "2025-09-26", 5),  # Sunday 28 Sep is a make-up working day
        ("2025-09-30", "2025-10-08", 0),  # past, but no working day has gone by since
        ("2025-09-30", "2025-10-10", -2),
    ],
)
def test_working_days_left(due: str, today: str, left: int) -> None:
    assert days_left(NATIONAL, dt.date.fromisoformat(due), dt.date.fromisoformat(today)) == left


def test_urgency_is_the_most_serious_card() -> None:
    assert urgency(task_row()) is Urgency.normal
    assert urgency(task_row(warned=True)) is Urgency.warning
    assert urgency(task_row(warned=True, overdue=True)) is Urgency.overdue
    assert urgency(task_row(overdue=True, escalated=True)) is Urgency.escalated


def test_a_task_on_time_in_a_late_case_shows_the_case_card() -> None:
    assert _label(Urgency.normal, Urgency.overdue, False) == (
        Urgency.overdue,
        "办件已超期 / the case is overdue",
    )
    assert _label(Urgency.escalated, Urgency.overdue, False)[0] is Urgency.escalated
    assert _label(Urgency.normal, Urgency.normal, True)[1] == WAITING_LABEL
    assert _label(Urgency.warning, Urgency.normal, True)[1] == "黄牌预警 / warning"


async def test_rows_say_when_the_applicant_must_act_and_when_the_case_is_urged(api: Api) -> None:
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    task = f"/cases/{case}/tasks/company_registration"
    await api.ok("scjg-1", "POST", f"{task}/claim")
    await api.ok(
        "scjg-1",
        "POST",
        f"{task}/decision",
        {"decision": "return", "missing": ["company_articles"], "reason": "缺签字"},
    )
    [row] = await api.ok("scjg-1", "GET", "/inbox")
    assert (row["waiting_for_applicant"], row["urgency_label"]) == (True, WAITING_LABEL)
    # The desk sees which materials are in and which are asked for.
    detail = await api.ok("desk-1", "GET", f"/cases/{case}")
    held = {m["key"]: (m["handed_in"], m["asked"]) for m in detail["materials"]}
    assert held["company_articles"] == (False, True)
    assert all(h for k, (h, _) in held.items() if k != "company_articles")
    assert next(m for m in detail["materials"] if m["key"] == "company_articles")["name"]
    await api.ok(
        "applicant-1", "POST", f"/cases/{case}/supplement", {"materials": ["company_articles"]}
    )
    [row] = await api.ok("scjg-1", "GET", "/inbox")
    assert (row["waiting_for_applicant"], row["urgency_label"]) == (False, "正常 / normal")
    # An urge on the whole case reaches every open task of it.
    await api.ok("supervisor-1", "POST", f"/cases/{case}/urge", {"days": 1, "note": "请尽快"})
    [row] = await api.ok("scjg-1", "GET", "/inbox")
    assert row["urged_until"] is not None
