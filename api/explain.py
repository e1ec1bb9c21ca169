"""Rows as lists show them: each deadline with its working-day derivation (from ``clocks``),
and for tasks the context to choose work without opening each case."""

from __future__ import annotations

import datetime as dt
from typing import Any

from activities.clock import Calendars
from api.schemas import CaseSummary, TaskView, Urgency
from definitions.calendar import SHANGHAI, WorkingCalendar
from store import queries
from store.db import Store
from workflows.contracts import FOLLOWUP_TASK_PREFIX, CaseRow, TaskKind, TaskRow

URGENCY_LABELS = {
    Urgency.normal: "正常 / normal",
    Urgency.warning: "黄牌预警 / warning",
    Urgency.overdue: "红牌超期 / overdue",
    Urgency.escalated: "督办超期 / escalated",
}


CASE_URGENCY_LABELS = {
    Urgency.warning: "办件黄牌预警 / the case is warned",
    Urgency.overdue: "办件已超期 / the case is overdue",
    Urgency.escalated: "办件督办超期 / the case's urge is overdue",
}
WAITING_LABEL = "等待申请人补正 / waiting for the applicant's materials"
_ORDER = [Urgency.normal, Urgency.warning, Urgency.overdue, Urgency.escalated]


def urgency(row: TaskRow | queries.TaskContext) -> Urgency:
    """The most serious card standing on the task (or on its case)."""
    if row.escalated:
        return Urgency.escalated
    if row.overdue:
        return Urgency.overdue
    if row.warned:
        return Urgency.warning
    return Urgency.normal


def _label(task: Urgency, case: Urgency, waiting: bool) -> tuple[Urgency, str]:
    """The row's urgency: its own card, or its case's when that is graver (a task on time
    in a case past its committed limit is still late for the applicant)."""
    if _ORDER.index(case) > _ORDER.index(task):
        return case, CASE_URGENCY_LABELS[case]
    if task is Urgency.normal and waiting:
        return task, WAITING_LABEL
    return task, URGENCY_LABELS[task]


def days_left(calendar: WorkingCalendar, due: dt.date, today: dt.date) -> int:
    """Working days from today to the deadline day: 0 when due at the end of today, the
    working days after today up to it when later, and minus the working days since when it
    passed (0 again on a non-working day right after a deadline)."""
    if due >= today:
        return (
            calendar.count_working_days(today + dt.timedelta(days=1), due).days
            if due > today
            else 0
        )
    return -calendar.count_working_days(due + dt.timedelta(days=1), today).days


def tasks(
    store: Store,
    rows: list[TaskRow],
    calendars: Calendars | None = None,
    now: dt.datetime | None = None,
) -> list[TaskView]:
    """Tasks with the derivation of their deadline (so a red card can be read and contested),
    their case's procedure, stage, applicant and headline fields, the urgency in words and
    the working days left."""
    found = queries.derivations(store, (f"{t.case_id}/{t.clock_key}" for t in rows))
    context = queries.task_context(store, {t.case_id for t in rows})
    loaded = calendars.current() if calendars is not None else None
    today = (now or dt.datetime.now(dt.UTC)).astimezone(SHANGHAI).date()
    views = []
    for t in rows:
        case = context.get(t.case_id)
        followup = _followup_path(t)
        if followup is not None:
            # A follow-up's task stands on its own: the case's cards and suspensions are not its.
            views.append(_followup_task(t, case, found, loaded, today, followup))
            continue
        waiting = bool(
            case
            and (
                (case.waiting_for_applicant and t.clock.value == "suspended")
                or (case.owed_before_delivery and t.kind.value == "delivery")
            )
        )
        level, label = _label(urgency(t), urgency(case) if case else Urgency.normal, waiting)
        left = None
        if loaded is not None and t.deadline_date is not None:
            derivation = found.get(f"{t.case_id}/{t.clock_key}") or {}
            calendar = loaded.get(str(derivation.get("calendar") or "national"))
            left = days_left(calendar, t.deadline_date, today)
        views.append(
            TaskView.of(
                t,
                derivation=found.get(f"{t.case_id}/{t.clock_key}"),
                procedure=case.procedure if case else None,
                procedure_name=case.procedure_name if case else None,
                stage_name=case.stage_names.get(t.stage_key) if case else None,
                applicant=case.applicant if case else None,
                applicant_name=case.applicant_name if case else None,
                headline=case.headline if case else {},
                urgency=level,
                urgency_label=label,
                days_left=left,
                waiting_for_applicant=waiting,
                urged_until=t.urge_due_at or (case.urge_due_at if case else None),
            )
        )
    return views


FOLLOWUP_KINDS = frozenset({TaskKind.callback, TaskKind.rectification, TaskKind.revisit})


def _followup_path(t: TaskRow) -> str | None:
    if t.kind not in FOLLOWUP_KINDS:
        return None
    seq = t.task_key.removeprefix(FOLLOWUP_TASK_PREFIX).split(":", 1)[0]
    return f"/followups/{t.case_id}/{seq}"


def _followup_task(
    t: TaskRow,
    case: Any,
    found: dict[str, Any],
    loaded: Any,
    today: dt.date,
    path: str,
) -> TaskView:
    level, label = _label(urgency(t), Urgency.normal, False)
    derivation = found.get(f"{t.case_id}/{t.clock_key}")
    left = None
    if loaded is not None and t.deadline_date is not None:
        calendar = loaded.get(str((derivation or {}).get("calendar") or "national"))
        left = days_left(calendar, t.deadline_date, today)
    return TaskView.of(
        t,
        derivation=derivation,
        procedure=case.procedure if case else None,
        procedure_name=case.procedure_name if case else None,
        stage_name="差评回访 / bad-rating follow-up",
        applicant=case.applicant if case else None,
        applicant_name=case.applicant_name if case else None,
        headline=case.headline if case else {},
        urgency=level,
        urgency_label=label,
        days_left=left,
        urged_until=t.urge_due_at,
        followup=path,
    )


def cases(store: Store, rows: list[CaseRow]) -> list[CaseSummary]:
    """Cases with the derivation of their committed limit's deadline."""
    found = queries.derivations(store, (f"{c.id}/case" for c in rows))
    return [CaseSummary.of(c, derivation=found.get(f"{c.id}/case")) for c in rows]
