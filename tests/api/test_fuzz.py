"""Every operation of the OpenAPI, fuzzed by schemathesis as each kind of user.

The app runs in process as ``onetrip api`` serves it (the API with the pages), on a
time-skipping Temporal server with a worker and a store holding real cases in several states,
so that path parameters hit real case numbers, tasks, follow-ups, users and subscribers as well
as random ones. Each operation gets requests with valid data (what its schema allows) and
invalid data (what it forbids), sent by an anonymous caller, an applicant, the front desk, a
reviewing department, a supervisor and an administrator, in that order (the administrator
last: it may disable users and revoke tokens).

What must hold for every answer: no server error (a 503 only with ``Retry-After`` and the code
of an unavailable dependency or a busy case, as the OpenAPI documents), a status code the
OpenAPI documents, the documented content type, headers and body, invalid data refused with a
4xx, and an answer within :data:`ANSWER_SECONDS`.

Bounded for the suite: the requests are generated once, derandomised (the same requests on
every run and on CI, and on both stores), without shrinking; a user refused (401/403) by the
first two requests of an operation gets no more of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, Verbosity, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.errors import FailureGroup
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from core.settings import Settings
from store import followups, queries, subscribers
from store.users import create_user, issue_token
from tests.api.conftest import STARTUP_FORM, Api, seed
from tests.api.test_edges import YEAR
from tests.api.test_flow import FOLLOW_UP
from tests.fixtures_temporal import Harness
from web.app import create_app
from worker.followups import start_due
from workflows.contracts import Role

USERS: dict[str, str | None] = {
    "anonymous": None,
    "applicant": "applicant-1",
    "front desk": "desk-1",
    "department": "scjg-1",
    "supervisor": "supervisor-1",
    "admin": "admin-1",
}
"""Who calls, in this order (the administrator last: it disables users and revokes tokens)."""

EXAMPLES = 6
"""Requests per operation and mode (valid, invalid) for a user let through."""
FEWER = {"POST /admin/procedures": 2, "POST /admin/calendars": 2}
"""Operations that validate the whole catalog on each request (about a second here): their
YAML is fuzzed by test_yaml_bytes and test_hostile instead."""
PROBE = 2
"""Requests after which a user refused every time (401, 403) is left alone."""
ANSWER_SECONDS = 30.0
"""Longer than the API's own bound on waiting for a case (10 s), so a slow answer is a defect."""

UNAVAILABLE = {"store_unavailable", "engine_unavailable", "case_busy", "followup_starting"}
"""The codes of a documented 503: a dependency that cannot be reached, a case that did not
answer in time, a follow-up whose workflow a worker is about to start. Everything else from
500 up is a defect."""

CHECKS = [
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
]


@dataclass
class Tally:
    """What the pass sent and got."""

    statuses: Counter[int] = field(default_factory=Counter)
    requests: int = 0
    operations: int = 0
    problems: list[str] = field(default_factory=list)

    def summary(self, seconds: float) -> str:
        return (
            f"{self.operations} operations, {self.requests} requests in {seconds:.1f} s;"
            f" statuses {dict(sorted(self.statuses.items()))}"
        )


async def submit(api: Api, user: str, key: str, *, without: str | None = None) -> str:
    """A business start-up under a fixed key (the same case number on every run), with every
    material but ``without``."""
    snap = queries.get_procedure(api.harness.store, "YZ-YJS-KBQY")
    assert snap is not None
    materials = [k for k in snap.required_keys(STARTUP_FORM) if k != without]
    body = {"procedure": "YZ-YJS-KBQY", "form": STARTUP_FORM, "materials": materials}
    answer = await api.call(user, "POST", "/cases", body, **{"Idempotency-Key": key})
    assert answer.status_code == 201, answer.text
    case: str = answer.json()["case_id"]
    await api.harness.wait_recorded(case)
    return case


async def real_data(api: Api) -> dict[str, list[Any]]:
    """Cases in several states (waiting for intake with a bad rating of a visit and its
    follow-up, returned for supplement, accepted with a task claimed, withdrawn), a calendar
    revision, a subscriber and a user to edit: the real values of each path parameter."""
    h = api.harness
    waiting = await submit(api, "applicant-1", "fuzz-waiting")
    visit = {"reason": "other", "rating": {"score": 1, "comment": "排队太久"}}
    await api.ok("desk-1", "POST", f"/cases/{waiting}/visits", visit)  # a desk follow-up
    returned = await submit(api, "applicant-1", "fuzz-returned", without="company_articles")
    back = {"decision": "return", "reason": "缺章程", "missing": ["company_articles"]}
    await api.ok("desk-1", "POST", f"/cases/{returned}/intake", back)
    claimed = await submit(api, "applicant-1", "fuzz-claimed")
    await api.ok("desk-1", "POST", f"/cases/{claimed}/intake", {"decision": "accept"})
    await api.ok("scjg-1", "POST", f"/cases/{claimed}/tasks/company_registration/claim")
    other = await submit(api, "applicant-2", "fuzz-other")
    await api.ok("applicant-2", "POST", f"/cases/{other}/withdraw", {"reason": "不办了"})
    await start_due(h.client, h.store, h.task_queue)
    seqs = sorted(f.rating_seq for f in followups.of_case(h.store, waiting))
    [calendar] = await api.ok("admin-1", "POST", "/admin/calendars", YEAR)
    subscriber = subscribers.add(
        h.store,
        url="http://127.0.0.1:9/feed",
        secret="s" * 32,
        types=[],
        cursor=None,
        created_by="admin-1",
        now=await h.now(),
    )
    create_user(h.store, id="edited-1", name="被编辑", role=Role.caseworker, department="YZ-SCJG")
    token_id, _ = issue_token(h.store, "edited-1", "fuzz")
    return {
        "case_id": [waiting, returned, claimed, other],
        "task_key": ["@intake", "@delivery", "company_registration", *FOLLOW_UP],
        "step_key": ["review", "decide"],
        "action": ["start", "finish"],
        "rating_seq": seqs,
        "number": [1],
        "code": ["YZ-YJS-KBQY", "YZ-SCJG-XK-0001"],
        "revision": [calendar["revision"]],
        "user_id": ["edited-1", "applicant-2"],
        "token_id": [token_id],
        "subscriber_id": [subscriber.id],
    }


def keeper(cases: list[Any]) -> Any:
    def keep(case: Any) -> None:
        cases.append(case)

    return keep


@dataclass
class Planned:
    """A generated request, and whether its data is valid (what the schema allows)."""

    case: Any
    valid: bool
    generated: dict[str, Any]
    """Its path parameters as generated (random ones)."""


def generate(schema: Any) -> list[tuple[str, list[Planned]]]:
    """Each operation's requests, valid and invalid ones alternating."""
    fixed = settings(
        max_examples=EXAMPLES,
        derandomize=True,
        database=None,
        deadline=None,
        phases=[Phase.explicit, Phase.generate],
        suppress_health_check=list(HealthCheck),
        verbosity=Verbosity.quiet,
    )
    plan = []
    for result in schema.get_all_operations():
        operation = result.ok()
        drawn: list[list[Planned]] = []
        for mode in schemathesis.GenerationMode:
            cases: list[Any] = []
            # Unsatisfiable: nothing of this operation can be made invalid (it takes nothing).
            with contextlib.suppress(Unsatisfiable):
                fixed(given(case=operation.as_strategy(generation_mode=mode))(keeper(cases)))()
            drawn.append([Planned(c, mode.is_positive, dict(c.path_parameters)) for c in cases])
        mixed = [c for pair in zip(*drawn, strict=False) for c in pair]
        longest = max(drawn, key=len)
        planned = mixed + longest[len(mixed) // 2 :]
        plan.append((operation.label, planned[: 2 * FEWER.get(operation.label, EXAMPLES)]))
    return plan


def located(planned: Planned, number: int, real: dict[str, list[Any]]) -> Any:
    """The request; every other valid one with real values of all its path parameters, chosen
    in turn (invalid data is refused before any lookup, whatever the path names)."""
    case = planned.case
    names = list(case.path_parameters)
    if planned.valid and names and all(n in real for n in names):
        if number % 4 < 2:
            case.path_parameters = {
                n: real[n][(number // 4 + i) % len(real[n])] for i, n in enumerate(names)
            }
        else:
            case.path_parameters = planned.generated
    return case


def set_aside(case: Any) -> bool:
    """Whether every invalid part of an invalid request is one the API rightly sets aside: a
    query parameter it does not declare (ignored, as parameters nobody asked for are), or a
    header the schema names as required (none is; the harness sends the caller's token)."""
    data = getattr(getattr(case.meta, "phase", None), "data", None)
    mutations = getattr(data, "mutations", None)
    if not mutations:
        return False
    return all(
        (m.parameter_location.value == "query" and m.keywords == ("additionalProperties",))
        or (m.parameter_location.value == "header" and m.keywords == ("required",))
        for m in mutations
    )


def verdict(response: httpx.Response) -> str | None:
    """Why a server error is a defect, or None when it is not one."""
    if response.status_code < 500:
        return None
    if response.status_code == 503 and "retry-after" in response.headers:
        try:
            code = response.json().get("code")
        except ValueError:
            code = None
        if code in UNAVAILABLE:
            return None
    return f"server error: {response.text[:300]}"


async def fuzz(
    api: Api, plan: list[tuple[str, list[Planned]]], real: dict[str, list[Any]], tally: Tally
) -> None:
    for who, user in USERS.items():
        auth = {} if user is None else {"Authorization": f"Bearer {api.tokens[user]}"}
        for label, cases in plan:
            refused = 0
            for number, planned in enumerate(cases):
                if number == PROBE and refused == PROBE:
                    break
                case = located(planned, number, real)
                kwargs = case.as_transport_kwargs(base_url="http://onetrip", headers=auth)
                prepared = requests.Request(**kwargs).prepare()
                sent = api.http.request(
                    prepared.method or "GET",
                    prepared.url or "/",
                    content=prepared.body,
                    headers=dict(prepared.headers),
                )
                try:
                    response = await asyncio.wait_for(sent, ANSWER_SECONDS)
                except TimeoutError:
                    tally.problems.append(f"{who} {label}: no answer in {ANSWER_SECONDS} s")
                    continue
                tally.requests += 1
                tally.statuses[response.status_code] += 1
                refused += response.status_code in (401, 403)
                problem = verdict(response)
                if problem is None:
                    checks = CHECKS
                    if not planned.valid and set_aside(case):
                        checks = [c for c in CHECKS if c is not negative_data_rejection]
                    try:
                        case.validate_response(response, checks=checks)
                    except FailureGroup as group:
                        problem = "; ".join(
                            f"{f.title}: {f.message[:200]}" for f in group.exceptions
                        )
                if problem is not None:
                    curl = case.as_curl_command(headers=auth)[:600]
                    tally.problems.append(
                        f"{who} {label} → {response.status_code} {problem}\n    {curl}"
                    )


@dataclass
class Plan:
    requests: list[tuple[str, list[Planned]]]
    seconds: float


@pytest.fixture(scope="module")
def plan() -> Plan:
    """The requests, generated once for both stores (before any server runs: it takes a few
    seconds of one core)."""
    schema = schemathesis.openapi.from_dict(create_app(Settings()).openapi())
    started = time.perf_counter()
    drawn = generate(schema)
    return Plan(drawn, time.perf_counter() - started)


@pytest.fixture
async def app_api(harness: Harness) -> AsyncIterator[Api]:
    """The API with the pages (the app ``onetrip api`` serves)."""
    tokens = seed(harness.store)
    config = Settings(task_queue=harness.task_queue)
    app = create_app(config, store=harness.store, client=harness.client)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)  # 500s are answers
    async with httpx.AsyncClient(transport=transport, base_url="http://onetrip") as http:
        yield Api(http, harness, tokens, app)


@pytest.mark.timeout(600)
async def test_every_operation_for_every_user(app_api: Api, plan: Plan) -> None:
    api = app_api
    started = time.perf_counter()
    real = await real_data(api)
    seeded = time.perf_counter()
    tally = Tally(operations=len(plan.requests))
    await fuzz(api, plan.requests, real, tally)
    done = time.perf_counter()
    print(
        f"\nfuzz: data {seeded - started:.1f} s, generation (once) {plan.seconds:.1f} s,"
        f" {tally.summary(done - seeded)}"
    )
    assert tally.problems == [], "\n".join(tally.problems)
    # Not a pass that only met locked doors: real work was done and invalid data refused.
    assert tally.operations >= 55
    assert sum(n for status, n in tally.statuses.items() if status < 300) >= 100, tally.statuses
    assert tally.statuses[422] >= 300, tally.statuses
