"""The API's answers are its own models: the engine's state can change without clients noticing.

A field added to a workflow contract does not reach clients until api.public declares it; a
contract field renamed or removed fails here, not in a client's parser.
"""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import BaseModel

from api.app import create_app
from api.applicant import ApplicantCaseSummary
from api.public import (
    ActionAnswer,
    CasePublic,
    ClockPublic,
    EventPublic,
    FeedEvent,
    IncidentPublic,
    MovedPublic,
    Public,
    SpanPublic,
    TaskPublic,
)
from api.schemas import CaseSummary, TaskView
from core.settings import Settings
from tests.api.conftest import Api
from workflows import contracts
from workflows.contracts import CaseRow, CaseState

SOURCES: list[tuple[type[Public], type[BaseModel]]] = [
    (CasePublic, contracts.CaseRow),
    (TaskPublic, contracts.TaskRow),
    (ClockPublic, contracts.ClockRow),
    (SpanPublic, contracts.Span),
    (EventPublic, contracts.Event),
    (IncidentPublic, contracts.IncidentRow),
    (MovedPublic, contracts.MovedDeadline),
    (ActionAnswer, contracts.ActionResult),
]
ENGINE_MODELS = {
    name
    for name, value in vars(contracts).items()
    if isinstance(value, type) and issubclass(value, BaseModel)
}


@pytest.mark.parametrize(("public", "source"), SOURCES, ids=lambda m: m.__name__)
def test_every_published_field_is_read_from_the_engine(
    public: type[Public], source: type[BaseModel]
) -> None:
    missing = set(public.model_fields) - set(source.model_fields)
    assert not missing, f"{public.__name__} publishes what {source.__name__} lacks: {missing}"


def case_fields(submitted_at: dt.datetime) -> dict[str, object]:
    return {
        "id": "OT-1",
        "procedure_code": "YZ-YJS-KBQY",
        "procedure_version": 1,
        "content_hash": "h",
        "procedure_name": "开办企业",
        "applicant_id": "applicant-1",
        "state": CaseState.intake,
        "submitted_at": submitted_at,
    }


def test_a_field_added_to_the_engine_does_not_reach_clients() -> None:
    class GrownCase(CaseRow):
        internal_cursor: int = 7

    fields = case_fields(dt.datetime(2025, 9, 15, 9, tzinfo=dt.UTC))
    grown = CasePublic.of(GrownCase(**fields, last_seq=9)).model_dump()
    assert grown == CasePublic.of(CaseRow(**fields)).model_dump()
    assert "internal_cursor" not in grown
    assert "last_seq" not in grown


def test_the_openapi_names_no_engine_model() -> None:
    schema = create_app(Settings()).openapi()
    leaked = ENGINE_MODELS & set(schema["components"]["schemas"])
    assert not leaked, f"engine contracts in the OpenAPI: {sorted(leaked)}"


def keys(row: dict[str, object]) -> set[str]:
    return set(row)


async def test_answers_carry_exactly_the_published_fields(api: Api) -> None:
    case = await api.submit()
    accepted = await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    assert keys(accepted) == set(ActionAnswer.model_fields)
    claimed = await api.ok("scjg-1", "POST", f"/cases/{case}/tasks/company_registration/claim")
    assert keys(claimed["task"]) == set(TaskPublic.model_fields)

    detail = await api.ok("supervisor-1", "GET", f"/cases/{case}")
    assert keys(detail["case"]) == set(CasePublic.model_fields)
    assert {frozenset(t) for t in detail["tasks"]} == {frozenset(TaskPublic.model_fields)}
    assert {frozenset(c) for c in detail["clocks"]} == {frozenset(ClockPublic.model_fields)}

    [mine] = await api.ok("applicant-1", "GET", "/cases")
    assert keys(mine) == set(ApplicantCaseSummary.model_fields)
    assert (mine["status"], mine["must_act"]) == ({"zh": "办理中", "en": "in progress"}, False)
    [row] = (await api.ok("supervisor-1", "GET", "/supervision/cases"))["items"]
    assert keys(row) == set(CaseSummary.model_fields)
    [task] = await api.ok("scjg-1", "GET", "/inbox")
    assert keys(task) == set(TaskView.model_fields)

    timeline = await api.ok("supervisor-1", "GET", f"/cases/{case}/timeline")
    assert {frozenset(e) for e in timeline} == {frozenset(EventPublic.model_fields)}
    feed = await api.ok("supervisor-1", "GET", "/events")
    assert {frozenset(e) for e in feed["events"]} == {frozenset(FeedEvent.model_fields)}


def test_every_instant_is_answered_in_utc() -> None:
    from definitions.calendar import SHANGHAI

    local = dt.datetime(2025, 9, 15, 9, tzinfo=SHANGHAI)
    fields = case_fields(local) | {"deadline_at": local}
    answer = CasePublic.of(CaseRow(**fields)).model_dump(mode="json")
    assert (answer["submitted_at"], answer["deadline_at"]) == (
        "2025-09-15T01:00:00Z",
        "2025-09-15T01:00:00Z",
    )
