"""The notification outbox: what the applicant is told, written with the events that cause it.

A message is a row of ``notifications`` inserted in the same transaction as its event
(:func:`store.writes.record`), with the event's identity (``<case id>/<seq>``): a retried write
makes no second message, and no message exists for an event that was not stored. Senders
(worker.notify) lease due rows, send them and mark them sent; failures are retried with
backoff, and a message that keeps failing ends ``failed``, visible with its last error.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel
from sqlalchemy import Table, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from definitions.guide import guide_materials
from definitions.models import DeliveryMethod
from definitions.versioning import ProcedureSnapshot
from store.db import StoreOrSession, transaction
from store.models import Base, Notification
from workflows.contracts import CaseRow, Event, EventType, FollowUpRow

NOTIFICATIONS: Table = Base.metadata.tables["notifications"]

MAX_ATTEMPTS = 10
"""Sends tried before a message is ``failed``; with the backoff below, about a day."""
LEASE_SECONDS = 60
"""How long a sender owns a message it took; after that another may send it again."""


class NotificationRow(BaseModel):
    id: str
    case_id: str
    applicant_id: str
    kind: str
    title_zh: str
    title_en: str
    text: str
    data: dict[str, Any]
    created_at: dt.datetime
    state: str
    attempts: int
    sent_at: dt.datetime | None = None
    last_error: str | None = None


def backoff(attempts: int) -> dt.timedelta:
    """Wait before the next try: 30 s, 1 min, 2 min … at most 4 hours."""
    return dt.timedelta(seconds=min(30 * 2 ** max(attempts - 1, 0), 4 * 3600))


class _Names:
    def __init__(self, snap: ProcedureSnapshot | None) -> None:
        self.materials = {m.key: m.name for m in guide_materials(list(snap.items))} if snap else {}
        self.departments = {d.code: d.name for d in snap.departments} if snap else {}
        self.items = {i.code: i.name for i in snap.items} if snap else {}
        self.limit = snap.procedure.committed_limit if snap else None

    def materials_of(self, keys: Any) -> str:
        return "、".join(self.materials.get(str(k), str(k)) for k in keys or [])

    def department(self, code: Any) -> str:
        return self.departments.get(str(code), str(code or ""))


def _message(
    e: Event, case: CaseRow, names: _Names
) -> tuple[str, str, str, str, dict[str, Any]] | None:
    """(kind, title zh, title en, text, data) for an event the applicant is told about."""
    p = e.payload
    head = f"您的申请（{case.procedure_name}，办件号 {case.id}）"
    t = e.type
    if t in (EventType.case_accepted, EventType.case_deemed_accepted):
        text = head + ("已视为受理" if t is EventType.case_deemed_accepted else "已受理")
        if names.limit is not None:
            text += f"，承诺 {names.limit} 个工作日内办结" if names.limit else "，即办"
        text += "。"
        if p.get("tolerated"):
            text += f"请按承诺补齐容缺材料：{names.materials_of(p['tolerated'])}。"
        return "accepted", "已受理", "accepted", text, {"tolerated": p.get("tolerated") or []}
    if t is EventType.case_returned:
        missing = p.get("missing") or []
        text = f"{head}需补正材料，请一次补齐：{names.materials_of(missing)}。"
        if p.get("reason"):
            text += f"原因：{p['reason']}。"
        text += "补齐前办理时限暂停计算。"
        return "returned", "请补正材料", "materials to supplement", text, {"missing": missing}
    if t is EventType.case_refused:
        text = f"{head}不予受理。原因：{p.get('reason') or '见窗口告知'}。"
        return "refused", "不予受理", "not accepted", text, {}
    if t is EventType.case_approved:
        text = f"{head}已审批通过，办理结果将按约定方式一次送达。"
        return "approved", "审批通过", "approved", text, {}
    if t is EventType.case_rejected:
        reasons = [
            f"{names.department(d.get('department'))}：{d.get('reason')}"
            for d in p.get("decisions") or []
            if isinstance(d, dict) and d.get("decision") == "rejected"
        ]
        text = f"{head}不予许可。" + ("；".join(reasons) + "。" if reasons else "")
        return "rejected", "不予许可", "rejected", text, {}
    if t is EventType.case_delivered:
        method = p.get("method")
        how = DeliveryMethod(method).label if method in set(DeliveryMethod) else "送达"
        results = "、".join(str(r) for r in p.get("results") or [])
        text = f"{head}的办理结果已{how}：{results}。欢迎对本次服务作出评价。"
        return "delivered", "结果已送达", "results delivered", text, {"results": p.get("results")}
    if t is EventType.case_terminated:
        text = f"{head}已终止。原因：{p.get('reason') or ''}。"
        return "terminated", "办件终止", "terminated", text, {}
    return None


def rows_for(
    events: Sequence[Event], case: CaseRow, snap: ProcedureSnapshot | None, now: dt.datetime
) -> list[dict[str, Any]]:
    """The outbox rows a batch of events makes (none for internal events)."""
    names = _Names(snap)
    rows = []
    for e in events:
        made = _message(e, case, names)
        if made is None:
            continue
        kind, title_zh, title_en, text, data = made
        rows.append(
            {
                "id": f"{e.case_id}/{e.seq}",
                "case_id": e.case_id,
                "applicant_id": case.applicant_id,
                "kind": kind,
                "title_zh": title_zh,
                "title_en": title_en,
                "text": text,
                "data": data,
                "created_at": now,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
    return rows


def _followup_message(e: Event, f: FollowUpRow) -> tuple[str, str, str, str] | None:
    """(kind, title zh, title en, text) for a follow-up event the applicant is told about."""
    p = e.payload
    where = "现场服务" if f.source == "visit" else "办件"
    head = f"您对{where}（{f.procedure_name}，办件号 {f.case_id}）的评价"
    name = str(p.get("department_name") or e.department or "")
    if e.type is EventType.followup_opened:
        days = p.get("callback_days")
        return (
            "followup_opened",
            "差评回访",
            "Your rating will be followed up",
            f"{head}已收到，{name}将在 {days} 个工作日内与您联系核实。",
        )
    if e.type is EventType.followup_explained:
        return (
            "followup_explained",
            "差评核实结果",
            "What the call-back found",
            f"{head}经{name}回访核实，情况说明如下：{p.get('explanation') or ''}",
        )
    if e.type is EventType.followup_appeal_decided:
        if p.get("granted"):
            text = (
                f"{head}经复核认定为误评或恶意评价，不计入统计（记录保留）。理由：{p.get('reason')}"
            )
        else:
            text = f"{head}经复核维持，{name}将整改。"
        return ("followup_appeal", "差评复核结果", "The review of your rating", text)
    if e.type is EventType.followup_rectified:
        return (
            "followup_rectified",
            "差评整改完成",
            "What was put right",
            f"{head}所反映的问题，{name}已整改：{p.get('measures') or ''}。我们将回访您对整改的满意度。",
        )
    if e.type is EventType.followup_concluded:
        return (
            "followup_concluded",
            "差评处理结果公开",
            "The follow-up of your rating is published",
            f"{head}处理完毕，结果已公开：{p.get('summary') or ''}",
        )
    return None


def followup_rows(
    events: Sequence[Event], followup: FollowUpRow, now: dt.datetime
) -> list[dict[str, Any]]:
    """The outbox rows a follow-up's events make."""
    rows = []
    for e in events:
        made = _followup_message(e, followup)
        if made is None:
            continue
        kind, title_zh, title_en, text = made
        rows.append(
            {
                "id": f"{e.case_id}/{e.seq}",
                "case_id": e.case_id,
                "applicant_id": followup.applicant_id,
                "kind": kind,
                "title_zh": title_zh,
                "title_en": title_en,
                "text": text,
                "data": {"followup": followup.id, "department": e.department},
                "created_at": now,
                "state": "pending",
                "attempts": 0,
                "next_attempt_at": now,
            }
        )
    return rows


def add(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert messages; one that exists already (a retried write) is left as it is."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    session.execute(insert(NOTIFICATIONS).on_conflict_do_nothing(index_elements=["id"]), rows)


def _row(n: Notification) -> NotificationRow:
    return NotificationRow.model_validate(n, from_attributes=True)


def of_case(target: StoreOrSession, case_id: str) -> list[NotificationRow]:
    """A case's messages, oldest first."""
    query = (
        select(Notification)
        .where(Notification.case_id == case_id)
        .order_by(Notification.created_at, Notification.id)
    )
    with transaction(target) as session:
        return [_row(n) for n in session.scalars(query)]


def take(target: StoreOrSession, now: dt.datetime, limit: int = 20) -> list[NotificationRow]:
    """Lease up to ``limit`` due messages: each is owned by this sender until the lease ends,
    so two senders never send one message at the same time."""
    query = (
        select(Notification.id)
        .where(
            Notification.state == "pending",
            Notification.next_attempt_at <= now,
            or_(Notification.lease_until.is_(None), Notification.lease_until < now),
        )
        .order_by(Notification.next_attempt_at, Notification.id)
        .limit(limit)
    )
    taken = []
    with transaction(target) as session:
        for message_id in list(session.scalars(query)):
            won = session.execute(
                update(Notification)
                .where(
                    Notification.id == message_id,
                    Notification.state == "pending",
                    or_(Notification.lease_until.is_(None), Notification.lease_until < now),
                )
                .values(
                    lease_until=now + dt.timedelta(seconds=LEASE_SECONDS),
                    attempts=Notification.attempts + 1,
                )
            )
            if won.rowcount:  # type: ignore[attr-defined]
                row = session.get(Notification, message_id)
                assert row is not None
                session.refresh(row)
                taken.append(_row(row))
    return taken


def sent(target: StoreOrSession, message_id: str, now: dt.datetime) -> None:
    with transaction(target) as session:
        session.execute(
            update(Notification)
            .where(Notification.id == message_id)
            .values(state="sent", sent_at=now, lease_until=None, last_error=None)
        )


def failed(target: StoreOrSession, message: NotificationRow, error: str, now: dt.datetime) -> None:
    """A send failed: retry after the backoff, or give up after the last attempt."""
    final = message.attempts >= MAX_ATTEMPTS
    with transaction(target) as session:
        session.execute(
            update(Notification)
            .where(Notification.id == message.id)
            .values(
                state="failed" if final else "pending",
                next_attempt_at=now + backoff(message.attempts),
                lease_until=None,
                last_error=error[:500],
            )
        )


def counts(target: StoreOrSession) -> Mapping[str, int]:
    """Messages by state (for operators)."""
    with transaction(target) as session:
        return dict(
            session.execute(
                select(Notification.state, func.count()).group_by(Notification.state)
            ).all()
        )
