"""Administrators: the external supervision systems the event feed is pushed to (推送)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Path, status
from fastapi.concurrency import run_in_threadpool
from pydantic import AfterValidator, AnyHttpUrl, BeforeValidator, Field, StrictInt, field_validator

from api.deps import Admin, NowDep, StoreDep
from api.schemas import MAX_CURSOR, StrictBody, one_line
from store import subscribers
from store.subscribers import SubscriberStatus
from workflows.contracts import EventType

router = APIRouter(prefix="/admin", tags=["admin"])

SubscriberId = Annotated[int, Path(ge=1, le=2**31 - 1)]
EventTypes = Annotated[list[str], Field(max_length=len(EventType))]
Secret = Annotated[str, Field(min_length=16, max_length=200), AfterValidator(one_line)]
"""Signs every delivery (HMAC-SHA256): text without control characters, as an administrator
types it."""


def _no_controls(value: object) -> object:
    """A URL parser drops control characters without a word; refuse them instead."""
    if isinstance(value, str) and any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("不得包含控制字符 / must not contain control characters")
    return value


Url = Annotated[AnyHttpUrl, Field(max_length=2000), BeforeValidator(_no_controls)]
KNOWN_TYPES = frozenset(t.value for t in EventType)


def _known(types: list[str]) -> list[str]:
    unknown = sorted(set(types) - KNOWN_TYPES)
    if unknown:
        raise ValueError(
            f"未知的事件类型 / unknown event types: {', '.join(t[:40] for t in unknown[:5])}"
        )
    return list(dict.fromkeys(types))


class NewSubscriber(StrictBody):
    url: Url
    """Where batches of events are POSTed (http or https)."""
    secret: Secret
    """Signs every delivery (HMAC-SHA256); not shown again."""
    types: EventTypes = Field(default_factory=list)
    """Event types to send; empty: every type."""
    start: Literal["now"] | StrictInt = "now"
    """``now``: only events from now on; a number: the events after that feed id (0: all)."""

    _types = field_validator("types")(_known)

    @field_validator("start")
    @classmethod
    def _cursor(cls, value: str | int) -> str | int:
        if isinstance(value, int) and not 0 <= value <= MAX_CURSOR:
            raise ValueError(f"须在 0–{MAX_CURSOR} / must be 0–{MAX_CURSOR}")
        return value


class SubscriberUpdate(StrictBody):
    """What to change; left out stays. A new ``cursor`` resumes delivery after that id."""

    url: Url | None = None
    secret: Secret | None = None
    types: EventTypes | None = None
    active: bool | None = Field(None, strict=True)
    cursor: int | None = Field(None, ge=0, le=MAX_CURSOR, strict=True)

    @field_validator("types")
    @classmethod
    def _types(cls, value: list[str] | None) -> list[str] | None:
        return None if value is None else _known(value)


def _missing(subscriber_id: int) -> HTTPException:
    return HTTPException(status.HTTP_404_NOT_FOUND, f"订阅不存在 / no subscriber {subscriber_id}")


@router.get("/subscribers")
def list_subscribers(user: Admin, store: StoreDep) -> list[SubscriberStatus]:
    """Every subscriber with how far it is behind (``lag``) and its last failure."""
    return subscribers.all_status(store)


@router.post("/subscribers", status_code=status.HTTP_201_CREATED)
async def add_subscriber(
    body: NewSubscriber, user: Admin, store: StoreDep, now: NowDep
) -> SubscriberStatus:
    """Push the event feed to an external system: signed batches in feed order, retried
    until taken (see docs/operations.md)."""
    row = await run_in_threadpool(
        lambda: subscribers.add(
            store,
            url=str(body.url),
            secret=body.secret,
            types=body.types,
            cursor=None if body.start == "now" else int(body.start),
            created_by=user.id,
            now=now,
        )
    )
    found = await run_in_threadpool(subscribers.status, store, row.id)
    assert found is not None
    return found


@router.get("/subscribers/{subscriber_id}")
def get_subscriber(subscriber_id: SubscriberId, user: Admin, store: StoreDep) -> SubscriberStatus:
    found = subscribers.status(store, subscriber_id)
    if found is None:
        raise _missing(subscriber_id)
    return found


@router.patch("/subscribers/{subscriber_id}")
def change_subscriber(
    subscriber_id: SubscriberId,
    body: SubscriberUpdate,
    user: Admin,
    store: StoreDep,
    now: NowDep,
) -> SubscriberStatus:
    """Change the URL, secret, types or state, or resume from a cursor."""
    changed = subscribers.change(
        store,
        subscriber_id,
        now=now,
        url=str(body.url) if body.url is not None else None,
        secret=body.secret,
        types=body.types,
        active=body.active,
        cursor=body.cursor,
    )
    if not changed:
        raise _missing(subscriber_id)
    return get_subscriber(subscriber_id, user, store)


@router.delete("/subscribers/{subscriber_id}", status_code=status.HTTP_204_NO_CONTENT)
def remove_subscriber(subscriber_id: SubscriberId, user: Admin, store: StoreDep) -> None:
    if not subscribers.remove(store, subscriber_id):
        raise _missing(subscriber_id)
