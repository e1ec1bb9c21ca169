"""Incidents: errors that retrying cannot fix, made visible while the case stays workable.

A write the store refused for its content, a store that stayed unreachable, a deadline that
could not be computed: each opens one incident of its kind (an event, a row supervisors list),
resolved by the cause going away or by a supervisor. Pure code.
"""

from __future__ import annotations

import datetime as dt

from workflows.case.spec import Spec
from workflows.case.state import CaseData
from workflows.contracts import (
    SYSTEM,
    Actor,
    EventType,
    IncidentKind,
    IncidentRow,
    ResolveIncidentInput,
)

MESSAGE_LENGTH = 500
"""What an incident says of its cause, at most (never the offending input itself)."""


def open_incident(s: CaseData, kind: IncidentKind, message: str, now: dt.datetime) -> IncidentRow:
    """A visible incident (one open incident per kind); the case stays workable."""
    for incident in s.incidents:
        if incident.kind is kind and incident.resolved_at is None:
            return incident
    incident = IncidentRow(
        id=f"{s.case.id}/{len(s.incidents) + 1}",
        case_id=s.case.id,
        number=len(s.incidents) + 1,
        kind=kind,
        message=message[:MESSAGE_LENGTH],
        opened_at=now,
    )
    s.incidents.append(incident)
    s.emit(
        EventType.incident_opened,
        SYSTEM,
        now,
        number=incident.number,
        kind=kind.value,
        message=incident.message,
    )
    s.case.incidents = len(s.open_incidents())
    return incident


def resolve(
    s: CaseData, incident: IncidentRow, actor: Actor, resolution: str, now: dt.datetime
) -> None:
    incident.resolved_at = now
    incident.resolution = resolution[:MESSAGE_LENGTH]
    incident.resolved_by = actor.id
    s.emit(
        EventType.incident_resolved,
        actor,
        now,
        number=incident.number,
        kind=incident.kind.value,
        resolution=incident.resolution,
    )
    s.case.incidents = len(s.open_incidents())


def resolve_kind(s: CaseData, kind: IncidentKind, resolution: str, now: dt.datetime) -> None:
    """Close the open incident of that kind, if any (the cause went away by itself)."""
    for incident in s.open_incidents():
        if incident.kind is kind:
            resolve(s, incident, SYSTEM, resolution, now)


def resolve_incident(s: CaseData, spec: Spec, data: ResolveIncidentInput, now: dt.datetime) -> None:
    """A supervisor closes an incident after looking into it."""
    incident = next(i for i in s.incidents if i.number == data.number)
    resolve(s, incident, data.actor, data.note or "已处理 / handled", now)
