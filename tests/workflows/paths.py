"""The paths a case and a follow-up can take, and which recorded history walks each one.

A recorded history (tests/histories/) is read back into a :class:`Trace`: the updates it
accepted, the OneTrip events its record activity wrote (with their payloads), the patches it
went through and the state it ended in. A *path* is a named predicate over a trace.

Most paths are derived from the code, so that what the code gains is checked without anyone
remembering to list it:

- every update handler of each workflow class (``update:accept`` …);
- every :class:`EventType` each workflow package emits (found in its source) and every member
  of the enum at all (``event:case.accepted`` …);
- every end state: :data:`TERMINAL_STATES` and a concluded follow-up (``end:completed`` …);
- every value of the enums that name a branch in an event's payload: join policies,
  incident kinds, supervision findings, clock kinds, verdicts (``join:any`` …);
- every ``workflow.patched`` id in the workflow code (``patch:…``: a history recorded after
  it; the side before it is checked while replaying, in test_replay.py, where each call's
  answer is seen).

The rest are branches inside one event type that a case or a follow-up can take (a supplement
in parts, an appeal granted or refused, a rectification late …), listed in :data:`BRANCHES`.

``python -m tests.workflows.paths`` prints every path with the histories that cover it.
"""

from __future__ import annotations

import ast
import base64
import functools
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from temporalio import workflow

from definitions.models import JoinPolicy
from tests.fixtures_temporal import HISTORIES
from workflows.case import CaseWorkflow
from workflows.contracts import (
    FOLLOWUP_WORKFLOW_NAME,
    INTAKE_TASK,
    RECORD_ACTIVITY,
    RECORD_FOLLOWUP_ACTIVITY,
    TERMINAL_STATES,
    WORKFLOW_NAME,
    ClockKind,
    EventType,
    Finding,
    FollowUpState,
    IncidentKind,
    Verdict,
)
from workflows.followup import FollowUpWorkflow

ROOT = Path(__file__).resolve().parents[2]
PATCH_MARKER = "core_patch"
"""The marker the Python SDK records the first time a ``workflow.patched`` id is asked."""


# --------------------------------------------------------------------------- reading histories


@dataclass(frozen=True)
class OneTripEvent:
    type: str
    payload: dict[str, Any]
    task_key: str | None
    actor_role: str | None


@dataclass
class Trace:
    """What a recorded history did, as OneTrip sees it."""

    name: str
    """The file's stem: the scenario that recorded it."""
    workflow_type: str
    updates: list[str] = field(default_factory=list)
    update_args: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    events: list[OneTripEvent] = field(default_factory=list)
    patches: set[str] = field(default_factory=set)
    end: str | None = None
    """The state in the workflow's result; None while it was still running when recorded."""

    def args(self, update: str) -> list[dict[str, Any]]:
        """The arguments of each accepted update of that name."""
        return [a for name, a in self.update_args if name == update]

    def after(
        self, first: Callable[[OneTripEvent], bool], then: Callable[[OneTripEvent], bool]
    ) -> bool:
        """An event matching ``then`` follows one matching ``first``."""
        starts = [i for i, e in enumerate(self.events) if first(e)]
        return bool(starts) and any(then(e) for e in self.events[starts[0] + 1 :])

    def of_type(self, kind: EventType) -> list[OneTripEvent]:
        return [e for e in self.events if e.type == kind.value]

    def has(self, kind: EventType, /, **payload: Any) -> bool:
        """An event of that type whose payload holds each of ``payload``'s items."""
        return any(
            all(e.payload.get(k) == v for k, v in payload.items()) for e in self.of_type(kind)
        )


def _payloads(container: dict[str, Any] | None) -> list[Any]:
    """Decode the JSON payloads of a history's ``{"payloads": [...]}``."""
    out = []
    for payload in (container or {}).get("payloads", []):
        data = payload.get("data")
        out.append(json.loads(base64.b64decode(data)) if data else None)
    return out


def read_trace(path: Path) -> Trace:
    return parse_trace(path.stem, json.loads(path.read_text()))


def parse_trace(name: str, history: dict[str, Any]) -> Trace:
    """A history as ``WorkflowHistory.to_json`` writes it (Temporal's JSON form)."""
    events = history["events"]
    started = events[0]["workflowExecutionStartedEventAttributes"]
    trace = Trace(name, started["workflowType"]["name"])
    for event in events:
        kind = event["eventType"]
        if kind == "EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED":
            request = event["workflowExecutionUpdateAcceptedEventAttributes"]["acceptedRequest"]
            name = request["input"]["name"]
            trace.updates.append(name)
            trace.update_args += [(name, a or {}) for a in _payloads(request["input"].get("args"))]
        elif kind == "EVENT_TYPE_ACTIVITY_TASK_SCHEDULED":
            attrs = event["activityTaskScheduledEventAttributes"]
            if attrs["activityType"]["name"] in (RECORD_ACTIVITY, RECORD_FOLLOWUP_ACTIVITY):
                [batch] = _payloads(attrs.get("input"))
                trace.events += [
                    OneTripEvent(
                        e["type"], e.get("payload") or {}, e.get("task_key"), e.get("actor_role")
                    )
                    for e in batch["events"]
                ]
        elif kind == "EVENT_TYPE_MARKER_RECORDED":
            attrs = event["markerRecordedEventAttributes"]
            if attrs["markerName"] == PATCH_MARKER:
                for detail in _payloads(attrs["details"]["patch-data"]):
                    trace.patches.add(detail["id"])
        elif kind == "EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED":
            attrs = event["workflowExecutionCompletedEventAttributes"]
            [result] = _payloads(attrs.get("result"))
            trace.end = result["state"]
    return trace


def traces(folder: Path) -> list[Trace]:
    return [read_trace(p) for p in sorted(folder.glob("*.json"))]


# --------------------------------------------------------------------------- what the code defines

Predicate = Callable[[Trace], bool]


@dataclass(frozen=True)
class CasePath:
    """One path of a case or a follow-up: its name, the workflow type whose histories must
    walk it (``*``: either), and how to tell from a history."""

    name: str
    workflow_type: str
    covers: Predicate
    why: str = ""


def update_names(cls: type) -> list[str]:
    """The update handlers a workflow class defines, by the names clients call them with."""
    return sorted(workflow._Definition.must_from_class(cls).updates)


def _package_sources(package: str) -> list[Path]:
    return sorted((ROOT / "workflows" / package).glob("*.py"))


def emitted_event_types(package: str) -> list[EventType]:
    """The event types a workflow package's code names (``EventType.x``): what it can emit."""
    names: set[str] = set()
    for source in _package_sources(package):
        for node in ast.walk(ast.parse(source.read_text())):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "EventType"
            ):
                names.add(node.attr)
    return sorted((EventType[n] for n in names), key=lambda t: t.value)


def patch_ids(package: str) -> list[str]:
    """The ids passed to ``workflow.patched`` in a workflow package (literals or constants)."""
    found: set[str] = set()
    for source in _package_sources(package):
        tree = ast.parse(source.read_text())
        constants = {
            target.id: node.value.value
            for node in tree.body
            if isinstance(node, ast.Assign)
            and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str)
            for target in node.targets
            if isinstance(target, ast.Name)
        }
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in ("patched", "deprecate_patch")
                and node.args
            ):
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    found.add(arg.value)
                elif isinstance(arg, ast.Name):
                    assert arg.id in constants, f"{source}: patch id {arg.id} is not a constant"
                    found.add(constants[arg.id])
    return sorted(found)


def _event(kind: EventType, **payload: Any) -> Predicate:
    return lambda t: t.has(kind, **payload)


def _values(enum: type[Enum]) -> Iterable[str]:
    return [str(m.value) for m in enum]


CASE = WORKFLOW_NAME
FOLLOWUP = FOLLOWUP_WORKFLOW_NAME

BRANCHES: list[CasePath] = [
    # Intake
    CasePath(
        "intake:returned",
        CASE,
        lambda t: any(a.get("task_key") is None for a in t.args("return_for_supplement")),
        "补正 asked at intake, listing everything missing at once (一次性告知)",
    ),
    CasePath(
        "intake:supplied-and-back-in-the-queue",
        CASE,
        lambda t: t.after(
            lambda e: e.type == EventType.case_returned.value and e.task_key == INTAKE_TASK,
            lambda e: e.type == EventType.case_clock_resumed.value and not e.payload,
        ),
        "the last supplement at intake restarts the acceptance period (第三十二条)",
    ),
    CasePath(
        "intake:accepted-with-tolerance",
        CASE,
        lambda t: any(e.payload.get("tolerated") for e in t.of_type(EventType.case_accepted)),
        "容缺受理: accepted with non-key materials owed",
    ),
    CasePath(
        "intake:materials-received-at-the-window",
        CASE,
        lambda t: any(a.get("received") for a in t.args("accept")),
        "the desk takes in what the online application lacked with the acceptance",
    ),
    # Supplements
    CasePath(
        "supplement:by-a-department",
        CASE,
        lambda t: any(a.get("task_key") for a in t.args("return_for_supplement")),
        "补正 asked by a department during review",
    ),
    CasePath(
        "supplement:in-parts",
        CASE,
        _event(EventType.case_supplemented, partial=True),
        "a supplement bringing only part of what was asked; the clocks wait for the rest",
    ),
    CasePath(
        "supplement:tolerated-materials",
        CASE,
        _event(EventType.case_supplemented, tolerance=True),
        "容缺 materials handed in by the promised date",
    ),
    CasePath(
        "supplement:return-withdrawn",
        CASE,
        _event(EventType.case_clock_resumed, reason="return_withdrawn"),
        "a return by a task its 或签 stage no longer needs ends the suspension",
    ),
    CasePath(
        "supplement:repeated-return",
        CASE,
        lambda t: any(e.payload.get("returns", 0) > 1 for e in t.of_type(EventType.case_returned)),
        "a second return for supplement (一次性告知 not respected: a finding)",
    ),
    # Review
    CasePath(
        "review:task-rejected-ends-the-case",
        CASE,
        lambda t: t.has(EventType.task_rejected) and t.end == "rejected",
        "one department's rejection ends the case with every reason",
    ),
    CasePath(
        "review:stage-cancels-the-other-tasks",
        CASE,
        _event(EventType.task_cancelled, reason="stage_decided"),
        "或签: the first approval decides the stage and cancels the rest",
    ),
    CasePath(
        "review:sequential-opens-the-next-task",
        CASE,
        lambda t: (
            any(
                e.payload.get("join") == JoinPolicy.sequential.value
                for e in t.of_type(EventType.stage_started)
            )
            and len(t.of_type(EventType.task_opened)) > 2
        ),
        "依次: a task opens once the one before it is approved",
    ),
    CasePath(
        "step:finished-late",
        CASE,
        _event(EventType.task_step_finished, overdue=True),
        "a 第四十五条 step late on its own period",
    ),
    CasePath(
        "step:overdue-card",
        CASE,
        _event(EventType.deadline_overdue, scope="step"),
        "a step's 红牌",
    ),
    # Supervision
    CasePath(
        "urge:escalated-on-a-task",
        CASE,
        _event(EventType.deadline_escalated, scope="task"),
        "督办 on a task missed: escalated",
    ),
    CasePath(
        "urge:escalated-on-the-case",
        CASE,
        _event(EventType.deadline_escalated, scope="case"),
        "督办 on the whole case missed: escalated",
    ),
    CasePath(
        "urge:met-in-time",
        CASE,
        lambda t: t.has(EventType.case_urged) and not t.has(EventType.deadline_escalated),
        "督办 met in time: nothing escalates",
    ),
    CasePath(
        "card:warning-and-overdue-of-the-case",
        CASE,
        lambda t: (
            t.has(EventType.deadline_warning, scope="case")
            and t.has(EventType.deadline_overdue, scope="case")
        ),
        "黄牌 and 红牌 of the committed limit",
    ),
    CasePath(
        "incident:resolved-by-the-system",
        CASE,
        lambda t: any(e.actor_role == "system" for e in t.of_type(EventType.incident_resolved)),
        "an incident closed when its cause went away (or with its case)",
    ),
    CasePath(
        "incident:resolved-by-a-supervisor",
        CASE,
        lambda t: any(e.actor_role == "supervisor" for e in t.of_type(EventType.incident_resolved)),
        "an incident closed by a supervisor after looking into it",
    ),
    CasePath(
        "calendar:deadline-moved-by-a-published-year",
        CASE,
        _event(EventType.deadline_moved, reason="calendar"),
        "a newly published holiday arrangement moves a running case's deadline",
    ),
    CasePath(
        "calendar:card-withdrawn",
        CASE,
        lambda t: t.has(EventType.card_withdrawn) and t.has(EventType.calendar_applied),
        "a moved deadline withdraws the cards it had fired",
    ),
    # The end
    CasePath(
        "delivery:by-post",
        CASE,
        lambda t: any(
            e.payload.get("method") != "window" for e in t.of_type(EventType.case_delivered)
        ),
        "results sent out (送达) without a trip",
    ),
    CasePath(
        "delivery:at-the-window",
        CASE,
        _event(EventType.trip_recorded, reason="window_pickup"),
        "results picked up at the window: a trip",
    ),
    CasePath(
        "rating:rated",
        CASE,
        lambda t: (
            t.has(EventType.case_completed, rated=True)
            and not t.has(EventType.case_rated, defaulted=True)
        ),
        "好差评 by the applicant completes the case",
    ),
    CasePath(
        "rating:bad",
        CASE,
        _event(EventType.case_rated, bad=True),
        "a 差评: a follow-up opens",
    ),
    CasePath(
        "rating:unrated",
        CASE,
        _event(EventType.case_completed, rated=False),
        "the rating window closes unrated",
    ),
    CasePath(
        "rating:defaulted",
        CASE,
        _event(EventType.case_rated, defaulted=True),
        "where silence counts as 满意, an unrated case is rated 4",
    ),
    CasePath(
        "rating:visit",
        CASE,
        _event(EventType.visit_rated),
        "一次一评: an on-site visit rated at the desk",
    ),
    # Follow-ups
    CasePath(
        "followup:appeal-granted",
        FOLLOWUP,
        _event(EventType.followup_appeal_decided, granted=True),
        "申诉复核 granted: the rating leaves the figures",
    ),
    CasePath(
        "followup:appeal-refused",
        FOLLOWUP,
        _event(EventType.followup_appeal_decided, granted=False),
        "申诉复核 refused: the part is rectified",
    ),
    CasePath(
        "followup:rectified-on-time",
        FOLLOWUP,
        _event(EventType.followup_rectified, on_time=True),
        "整改 within the period",
    ),
    CasePath(
        "followup:rectified-late",
        FOLLOWUP,
        _event(EventType.followup_rectified, on_time=False),
        "整改 after the period: counted late",
    ),
    CasePath(
        "followup:revisit-reached",
        FOLLOWUP,
        lambda t: t.has(EventType.followup_revisited, reached=True),
        "回访满意度 given",
    ),
    CasePath(
        "followup:revisit-not-reached",
        FOLLOWUP,
        lambda t: t.has(EventType.followup_revisited, reached=False),
        "the applicant not reached about the rectification: the part ends all the same",
    ),
    CasePath(
        "followup:from-a-visit",
        FOLLOWUP,
        _event(EventType.followup_opened, source="visit"),
        "a bad visit rating (一次一评) followed up by the front desk",
    ),
]


def derived_paths(case: type = CaseWorkflow, followup: type = FollowUpWorkflow) -> list[CasePath]:
    """The paths the code defines: updates, events, end states, enums, patches (the classes
    can be replaced to see what a change would add)."""
    out: list[CasePath] = []
    for cls, package, wf in ((case, "case", CASE), (followup, "followup", FOLLOWUP)):
        out += [
            CasePath(f"update:{name}", wf, lambda t, n=name: n in t.updates, "an update handler")
            for name in update_names(cls)
        ]
        out += [
            CasePath(
                f"event:{kind.value}",
                wf,
                lambda t, k=kind: t.has(k),
                f"emitted by workflows/{package}",
            )
            for kind in emitted_event_types(package)
        ]
        out += [
            CasePath(f"patch:{p}", wf, lambda t, p=p: p in t.patches, "recorded after the patch")
            for p in patch_ids(package)
        ]
    out += [
        CasePath(
            f"end:{state.value}", CASE, lambda t, s=state.value: t.end == s, "a terminal state"
        )
        for state in sorted(TERMINAL_STATES, key=lambda s: s.value)
    ]
    out.append(
        CasePath(
            f"end:{FollowUpState.concluded.value}",
            FOLLOWUP,
            lambda t: t.end == FollowUpState.concluded.value,
            "a follow-up's end",
        )
    )
    enums: list[tuple[str, type[Enum], str, EventType, str]] = [
        ("join", JoinPolicy, CASE, EventType.stage_started, "join"),
        ("incident", IncidentKind, CASE, EventType.incident_opened, "kind"),
        ("finding", Finding, CASE, EventType.finding, "finding"),
        ("verdict", Verdict, FOLLOWUP, EventType.followup_verified, "verdict"),
    ]
    for prefix, enum, wf, kind, key in enums:
        out += [
            CasePath(
                f"{prefix}:{value}",
                wf,
                lambda t, k=kind, key=key, v=value: t.has(k, **{key: v}),
                f"{enum.__name__}.{value}",
            )
            for value in _values(enum)
        ]
    # Every kind of clock gets a deadline somewhere (a case's or a follow-up's).
    out += [
        CasePath(
            f"clock:{value}",
            "*",
            lambda t, v=value: t.has(EventType.deadline_set, scope=v),
            f"ClockKind.{value}",
        )
        for value in _values(ClockKind)
    ]
    # And every event type at all is emitted by some workflow with a history.
    out += [
        CasePath(f"event:{kind.value}", "*", lambda t, k=kind: t.has(k), "EventType member")
        for kind in EventType
    ]
    return out


@functools.cache
def every_path() -> list[CasePath]:
    """Today's paths (read from the code once per run)."""
    return derived_paths() + BRANCHES


def all_traces() -> list[Trace]:
    """Every history that replays against today's code: the second edition's and the
    follow-ups' (the first edition's are frozen and walk paths of code no longer started)."""
    return traces(HISTORIES / "v2") + traces(HISTORIES / "followup")


def coverage(paths: list[CasePath], recorded: list[Trace]) -> dict[str, list[str]]:
    """For each path, the histories that walk it (empty: not covered)."""
    out: dict[str, list[str]] = {}
    for path in paths:
        key = f"{path.workflow_type}/{path.name}"
        out[key] = [
            t.name
            for t in recorded
            if path.workflow_type in ("*", t.workflow_type) and path.covers(t)
        ]
    return out


def signature(trace: Trace) -> frozenset[str]:
    """The paths a history walks (a recording that adds none to its folder's is not kept,
    unless its scenario has no history yet: tests/fixtures_temporal.save_histories)."""
    return frozenset(
        path.name
        for path in every_path()
        if path.workflow_type in ("*", trace.workflow_type) and path.covers(trace)
    )


_WALKED: dict[Path, set[str]] = {}


def walked_in(folder: Path, also: frozenset[str] = frozenset()) -> frozenset[str]:
    """Every path some history of that folder walks (read once, then kept up to date)."""
    if folder not in _WALKED:
        _WALKED[folder] = set().union(*(signature(t) for t in traces(folder)))
    _WALKED[folder] |= also
    return frozenset(_WALKED[folder])


def digest(walked: frozenset[str]) -> str:
    return hashlib.sha256("\n".join(sorted(walked)).encode()).hexdigest()[:8]


def uncovered(paths: list[CasePath], recorded: list[Trace]) -> list[str]:
    """The paths no recorded history walks, as ``<workflow type>/<path>``."""
    return [key for key, names in coverage(paths, recorded).items() if not names]


def main() -> None:
    for key, names in coverage(every_path(), all_traces()).items():
        print(f"{key}: {', '.join(names[:3]) or '— NOT COVERED —'}")


if __name__ == "__main__":
    main()
