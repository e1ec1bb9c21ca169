"""The load of a fault run: cases driven through the HTTP API as people drive them.

Every action carries an ``Idempotency-Key`` and is sent again with the same key after a 503
(once its ``Retry-After`` has passed) or when no answer came (a connection error, or nothing
within :data:`NO_ANSWER` seconds): the API promises that such a request acts once. Every
exchange is kept (:class:`Answer`), so the run can say what the API answered during each
fault and how long it took.

A case follows one of two paths, its actions one after another (so that a path always records
the same events in the same order), while many cases run at once:

- ``approve``: submission, acceptance at the front desk, claim and approval of the company
  registration, claim and approval by the six follow-up departments, delivery, rating;
- ``return``: the same, but the registration is first returned for supplement (the articles
  of association), and the applicant hands them in before it is approved.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import httpx

from cli.demo import DEMO_FOLLOW_UP, DEMO_FORM, DEMO_PROCEDURE

APPLICANT = "zhangsan"
DESK = "desk"
REGISTRATION = ("company_registration", "yz-scjg")
"""The first stage's task and the demo user of its department (市场监管)."""
RETURNED = ["company_articles"]
NO_ANSWER = 60.0
"""Seconds the load waits for one answer; past it the request counts as unanswered (a hang)."""
RETRY_CAP = 10.0
"""The longest pause before sending again, whatever ``Retry-After`` says."""
PATIENCE = 900.0
"""Seconds one action may go on being retried before the run fails (it is stuck)."""

Step = tuple[str, str, str, dict[str, Any] | None]
"""(user, method, path under the case, body) of one action."""


def path_steps(path: str) -> list[Step]:
    """The actions of a case after its submission, in order."""
    task, scjg = REGISTRATION
    steps: list[Step] = [
        (DESK, "POST", "/intake", {"decision": "accept"}),
        (scjg, "POST", f"/tasks/{task}/claim", None),
    ]
    if path == "return":
        steps += [
            (
                scjg,
                "POST",
                f"/tasks/{task}/decision",
                {"decision": "return", "missing": RETURNED, "reason": "公司章程缺少全体股东签字"},
            ),
            (APPLICANT, "POST", "/supplement", {"materials": RETURNED, "note": "已补签"}),
        ]
    steps.append((scjg, "POST", f"/tasks/{task}/decision", {"decision": "approve"}))
    for follow_up, user in DEMO_FOLLOW_UP.items():
        steps += [
            (user, "POST", f"/tasks/{follow_up}/claim", None),
            (user, "POST", f"/tasks/{follow_up}/decision", {"decision": "approve"}),
        ]
    steps += [
        (DESK, "POST", "/delivery", {}),
        (APPLICANT, "POST", "/rating", {"score": 5}),
    ]
    return steps


PATHS = ("approve", "return")
END_STATE = "completed"
"""Where every case of the load ends."""


@dataclass(frozen=True)
class Answer:
    """One HTTP exchange."""

    route: str
    """``POST /cases/{id}/intake``: the method and the path with its ids as placeholders."""
    sent: float
    """Monotonic instant it was sent."""
    seconds: float
    status: int | None
    """None: no answer (connection error, or nothing within NO_ANSWER)."""
    code: str | None = None
    """The error body's code."""
    retry_after: str | None = None
    error: str | None = None


class UnexpectedAnswerError(RuntimeError):
    """An answer the load does not accept (a 409, a 500 …), or an action stuck for good."""


@dataclass
class Driver:
    """Sends the load's requests and keeps every answer."""

    http: httpx.AsyncClient
    tokens: dict[str, str]
    concurrency: int
    answers: list[Answer] = field(default_factory=list)
    done: int = 0
    """Actions that got their answer (a submission included)."""
    retried: int = 0
    """Actions sent more than once (with their one key)."""
    gate: asyncio.Semaphore = field(init=False)

    def __post_init__(self) -> None:
        self.gate = asyncio.Semaphore(self.concurrency)

    async def act(
        self, user: str, method: str, path: str, route: str, body: dict[str, Any] | None = None
    ) -> Any:
        """Send until answered with success; the same key every time."""
        key = uuid.uuid4().hex
        headers = {"Authorization": f"Bearer {self.tokens[user]}", "Idempotency-Key": key}
        give_up = time.monotonic() + PATIENCE
        attempts = 0
        while True:
            attempts += 1
            self.retried += attempts == 2
            answer, response = await self._exchange(method, path, route, headers, body)
            if response is not None and response.status_code < 300:
                self.done += 1
                return response.json()
            if answer.status is not None and answer.status != 503:
                raise UnexpectedAnswerError(
                    f"{route}: {answer.status} {answer.code}: {response.text[:300] if response else ''}"
                )
            if time.monotonic() > give_up:
                raise UnexpectedAnswerError(
                    f"{route}: no answer but 503 or none for {PATIENCE:.0f} s"
                )
            pause = 1.0
            with contextlib.suppress(TypeError, ValueError):
                pause = float(answer.retry_after)  # type: ignore[arg-type]
            await asyncio.sleep(min(max(pause, 0.5), RETRY_CAP))

    async def read(self, user: str, path: str, route: str) -> Any:
        """A GET, asked again after a 503 or no answer (reads act on nothing)."""
        return await self.act(user, "GET", path, route)

    async def _exchange(
        self,
        method: str,
        path: str,
        route: str,
        headers: dict[str, str],
        body: dict[str, Any] | None,
    ) -> tuple[Answer, httpx.Response | None]:
        async with self.gate:
            started = time.monotonic()
            try:
                response = await self.http.request(method, path, json=body, headers=headers)
            except httpx.TransportError as error:
                answer = Answer(
                    route, started, time.monotonic() - started, None, error=type(error).__name__
                )
                self.answers.append(answer)
                return answer, None
        code = None
        if response.status_code >= 400:
            with contextlib.suppress(ValueError, AttributeError):
                code = response.json().get("code")
        answer = Answer(
            route,
            started,
            time.monotonic() - started,
            response.status_code,
            code,
            response.headers.get("retry-after"),
        )
        self.answers.append(answer)
        return answer, response


@dataclass
class Case:
    """One case of the load."""

    path: str
    number: int
    id: str | None = None
    error: str | None = None


async def run_case(driver: Driver, case: Case, materials: list[str]) -> None:
    """Submit the case and take it to its end; an unexpected answer is kept on the case."""
    try:
        submitted = await driver.act(
            APPLICANT,
            "POST",
            "/cases",
            "POST /cases",
            {"procedure": DEMO_PROCEDURE, "form": DEMO_FORM, "materials": materials},
        )
        case.id = submitted["case_id"]
        for user, method, tail, body in path_steps(case.path):
            route = f"{method} /cases/{{id}}{_template(tail)}"
            await driver.act(user, method, f"/cases/{case.id}{tail}", route, body)
    except UnexpectedAnswerError as error:
        case.error = str(error)


def _template(tail: str) -> str:
    """``/tasks/seal_filing/claim`` → ``/tasks/{task}/claim``: routes are counted by kind."""
    parts = tail.split("/")
    if len(parts) > 2 and parts[1] == "tasks":
        parts[2] = "{task}"
    return "/".join(parts)


def actions_per_case(path: str) -> int:
    """The submission and the actions after it."""
    return 1 + len(path_steps(path))


def statuses(answers: list[Answer]) -> Counter[str]:
    """Answers by status (``none`` for no answer), 503s also by their code."""
    counts: Counter[str] = Counter()
    for a in answers:
        if a.status is None:
            counts[f"none ({a.error})"] += 1
        elif a.status == 503:
            counts[f"503 {a.code}"] += 1
        else:
            counts[str(a.status)] += 1
    return counts
