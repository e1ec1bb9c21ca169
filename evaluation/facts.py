"""What the figures are computed from: the cases submitted in a period, read from the store.

A period's figures follow its cohort: the cases submitted within it, with everything that
happened to them since (decided, delivered, rated). A report run again later shows the same
cohort further along; cases still open are counted as open.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from definitions.calendar import Suspension
from evaluation.periods import Period
from store import followups
from store.db import StoreOrSession, transaction
from store.models import Case, ClockRecord, EventRecord, ProcedureVersion, Task
from workflows.contracts import FollowUpRow, PartRow, PartState, Verdict

CHUNK = 5000
"""Cases read per query: bounded memory per round trip on a large store."""


@dataclass(frozen=True)
class Timing:
    """A clock as it ran: when, for how many working days, on which calendar, and the spans
    it stood still."""

    start: dt.datetime
    days: int
    calendar: str
    suspensions: tuple[Suspension, ...] = ()
    ended_at: dt.datetime | None = None
    overdue: bool = False


@dataclass(frozen=True)
class TaskFacts:
    case_id: str
    task_key: str
    stage_key: str
    department: str
    state: str
    days: int
    created_at: dt.datetime
    opened_at: dt.datetime | None
    claimed_at: dt.datetime | None
    decided_at: dt.datetime | None
    overdue: bool
    warned: bool
    escalated: bool
    clock: Timing | None
    item_code: str = ""


@dataclass(frozen=True)
class RatingFacts:
    """One rating: the case's own (一事一评) or an on-site visit's (一次一评)."""

    score: int
    on_site: bool = False
    defaulted: bool = False
    """Not given: counted as 满意 when the rating window ended (where the rules say so)."""
    excluded: bool = False
    """A bad rating whose appeal (申诉) was granted: kept, counted in no figure."""
    dimensions: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class FollowUpFacts:
    """One department's part of a bad rating's follow-up."""

    case_id: str
    department: str
    rating_seq: int
    source: str
    state: str
    excluded: bool
    """The rating's appeal was granted."""
    verified: bool
    """回访核实 done: the department gave a verdict."""
    needs_rectification: bool
    """Justified, or its appeal refused."""
    appeal_granted: bool
    rectified: bool
    on_time: bool
    satisfaction: int | None
    rectifying_in_time: bool = False
    """Being rectified, its period not over yet: neither rectified nor late so far."""


@dataclass(frozen=True)
class CaseFacts:
    id: str
    procedure_code: str
    procedure_name: str
    departments: tuple[str, ...]
    state: str
    channel: str | None
    submitted_at: dt.datetime
    accepted_at: dt.datetime | None
    deemed_accepted: bool
    decided_at: dt.datetime | None
    delivered_at: dt.datetime | None
    overdue: bool
    warned: bool
    escalated: bool
    returns: int
    trips: int
    rating: int | None
    clock: Timing | None
    """The committed limit's clock (acceptance to decision), once the case was accepted."""
    tasks: list[TaskFacts] = field(default_factory=list)
    procedure_version: int = 0
    form: dict[str, Any] = field(default_factory=dict)
    ratings: list[RatingFacts] = field(default_factory=list)
    """Its online rating and every on-site visit's, from the events (with their dimensions)."""
    rating_excluded: bool = False
    """The case's own rating was a bad one whose appeal was granted: in no figure."""
    followups: list[FollowUpFacts] = field(default_factory=list)
    last_seq: int = 0
    """The last event the facts reflect."""


def _timing(row: ClockRecord | None) -> Timing | None:
    if row is None:
        return None
    spans: list[dict[str, Any]] = row.spans or []
    suspensions = tuple(
        Suspension(
            start=dt.datetime.fromisoformat(s["start"]),
            end=dt.datetime.fromisoformat(s["end"]) if s.get("end") else None,
            reason=s.get("reason"),
        )
        for s in spans
        if s.get("start")
    )
    return Timing(row.start, row.days, row.calendar, suspensions, row.ended_at, row.overdue)


def _rating(kind: str, payload: Any, excluded: bool = False) -> RatingFacts | None:
    data = payload if isinstance(payload, dict) else {}
    score = data.get("score")
    if not isinstance(score, int) or isinstance(score, bool) or not 1 <= score <= 5:
        return None
    dims = data.get("dimensions") if isinstance(data.get("dimensions"), dict) else {}
    return RatingFacts(
        score=score,
        on_site=kind == "visit.rated",
        defaulted=bool(data.get("defaulted")),
        excluded=excluded,
        dimensions={
            str(k): v for k, v in (dims or {}).items() if isinstance(v, int) and 1 <= v <= 5
        },
    )


def _part(f: FollowUpRow, p: PartRow) -> FollowUpFacts:
    return FollowUpFacts(
        case_id=f.case_id,
        department=p.department,
        rating_seq=f.rating_seq,
        source=f.source,
        state=p.state.value,
        excluded=f.excluded,
        verified=p.verified_at is not None,
        needs_rectification=p.verdict is Verdict.justified or p.appeal_granted is False,
        appeal_granted=p.appeal_granted is True,
        rectifying_in_time=p.state is PartState.rectifying and not p.overdue,
        rectified=p.rectified_at is not None,
        on_time=bool(p.rectified_at is not None and p.rectified_on_time),
        satisfaction=p.satisfaction,
    )


def cohort(target: StoreOrSession, period: Period) -> Iterator[CaseFacts]:
    """The cases submitted in ``period`` with their departments' review tasks, in chunks."""
    last: tuple[dt.datetime, str] | None = None
    while True:
        with transaction(target) as session:
            query = select(Case).where(
                Case.submitted_at >= period.start_at, Case.submitted_at < period.end_at
            )
            if last is not None:
                # Keyset paging along the (submitted_at, id) index.
                query = query.where(
                    or_(
                        Case.submitted_at > last[0],
                        and_(Case.submitted_at == last[0], Case.id > last[1]),
                    )
                )
            cases = list(session.scalars(query.order_by(Case.submitted_at, Case.id).limit(CHUNK)))
            if not cases:
                return
            facts = load(session, cases)
        yield from facts
        last = (cases[-1].submitted_at, cases[-1].id)


def of_ids(session: Session, ids: Sequence[str]) -> list[CaseFacts]:
    """The facts of these cases (those that exist), in no particular order."""
    out: list[CaseFacts] = []
    for start in range(0, len(ids), CHUNK):
        chunk = list(ids[start : start + CHUNK])
        out += load(session, list(session.scalars(select(Case).where(Case.id.in_(chunk)))))
    return out


def load(session: Session, cases: Sequence[Case]) -> list[CaseFacts]:
    """These case rows with their clocks, review tasks, ratings and follow-ups."""
    if not cases:
        return []
    ids = [c.id for c in cases]
    clocks = {
        (r.case_id, r.key): r
        for r in session.scalars(
            select(ClockRecord).where(
                ClockRecord.case_id.in_(ids),
                ClockRecord.kind.in_(("case", "task")),
            )
        )
    }
    tasks: dict[str, list[TaskFacts]] = {}
    for t in session.scalars(
        select(Task).where(and_(Task.case_id.in_(ids), Task.kind == "review"))
    ):
        tasks.setdefault(t.case_id, []).append(
            TaskFacts(
                case_id=t.case_id,
                task_key=t.task_key,
                stage_key=t.stage_key,
                department=t.department,
                state=t.state,
                days=t.days,
                created_at=t.created_at,
                opened_at=t.opened_at,
                claimed_at=t.claimed_at,
                decided_at=t.decided_at,
                overdue=t.overdue,
                warned=t.warned,
                escalated=t.escalated,
                clock=_timing(clocks.get((t.case_id, f"task:{t.task_key}"))),
                item_code=t.item_code,
            )
        )
    found = followups.of_period(session, ids)
    excluded = {(f.case_id, f.rating_seq) for fs in found.values() for f in fs if f.excluded}
    parts = {case_id: [_part(f, p) for f in fs for p in f.parts] for case_id, fs in found.items()}
    excluded_case_rating: set[str] = set()
    ratings: dict[str, list[RatingFacts]] = {}
    for case_id, kind, payload, seq in session.execute(
        select(EventRecord.case_id, EventRecord.type, EventRecord.payload, EventRecord.seq)
        .where(
            EventRecord.case_id.in_(ids),
            EventRecord.type.in_(("case.rated", "visit.rated")),
        )
        .order_by(EventRecord.case_id, EventRecord.seq)
    ):
        out = (case_id, seq) in excluded
        if out and kind == "case.rated":
            excluded_case_rating.add(case_id)
        rating = _rating(kind, payload, out)
        if rating is not None:
            ratings.setdefault(case_id, []).append(rating)
    return [
        CaseFacts(
            id=c.id,
            procedure_code=c.procedure_code,
            procedure_name=c.procedure_name,
            procedure_version=c.procedure_version,
            form=dict(c.form or {}),
            ratings=ratings.get(c.id, []),
            rating_excluded=c.id in excluded_case_rating,
            followups=parts.get(c.id, []),
            departments=tuple(c.departments or ()),
            state=c.state,
            channel=c.channel,
            submitted_at=c.submitted_at,
            accepted_at=c.accepted_at,
            deemed_accepted=c.deemed_accepted,
            decided_at=c.decided_at,
            delivered_at=c.delivered_at,
            overdue=c.overdue,
            warned=c.warned,
            escalated=c.escalated,
            returns=c.returns,
            trips=c.trips,
            rating=c.rating,
            clock=_timing(clocks.get((c.id, "case"))),
            tasks=sorted(tasks.get(c.id, []), key=lambda t: t.task_key),
            last_seq=c.last_seq,
        )
        for c in cases
    ]


def department_names(target: StoreOrSession) -> dict[str, tuple[str, str | None]]:
    """Each department of the published procedures: its name and its brand's name (服务品牌),
    from the newest version that names it."""
    found: dict[str, tuple[str, str | None]] = {}
    with transaction(target) as session:
        bodies = session.scalars(select(ProcedureVersion.body).order_by(ProcedureVersion.id))
        for body in bodies:
            for d in body.get("departments") or []:
                if not isinstance(d, dict) or not isinstance(d.get("code"), str):
                    continue
                brand = d.get("brand")
                brand_name = brand.get("name") if isinstance(brand, dict) else None
                found[d["code"]] = (str(d.get("name") or d["code"]), brand_name)
    return found
