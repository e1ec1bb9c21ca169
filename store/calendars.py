"""Published calendar years: the holiday arrangements workers compute deadlines with.

A calendar year (``kind: CalendarYear``) published to the store reaches every worker without a
restart: the revision is the row's id, workers poll :func:`latest_revision`, and a case asks
for at least the revision it knows of. Publishing the same content again is a no-op; another
content for the same calendar and year adds a revision that supersedes the earlier one.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Literal

from sqlalchemy import func, select

from definitions.models import CalendarYear
from store.models import CalendarRecord
from store.writes import StoreOrSession, transaction


class PublishedYear(CalendarYear):
    """A calendar year as published, with its revision and when it was published."""

    revision: int
    published_at: dt.datetime


def calendar_hash(year: CalendarYear) -> str:
    body = json.dumps(
        year.model_dump(mode="json", by_alias=True),
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
    )
    return "sha256:" + hashlib.sha256(body.encode("utf-8")).hexdigest()


def publish_calendar(
    target: StoreOrSession, year: CalendarYear, published_by: str | None = None
) -> tuple[int, Literal["created", "unchanged"]]:
    """Store a calendar year; returns its revision and whether it was new."""
    digest = calendar_hash(year)
    with transaction(target) as session:
        current = session.scalars(
            select(CalendarRecord)
            .where(CalendarRecord.calendar == year.calendar, CalendarRecord.year == year.year)
            .order_by(CalendarRecord.id.desc())
            .limit(1)
        ).first()
        if current is not None and current.content_hash == digest:
            return current.id, "unchanged"
        row = CalendarRecord(
            calendar=year.calendar,
            year=year.year,
            source=year.source,
            body=year.model_dump(mode="json", by_alias=True),
            content_hash=digest,
            published_at=dt.datetime.now(dt.UTC),
            published_by=published_by,
        )
        session.add(row)
        session.flush()
        return row.id, "created"


def current_years(target: StoreOrSession) -> list[PublishedYear]:
    """The calendar years in force: the latest revision of each calendar and year."""
    latest = (
        select(func.max(CalendarRecord.id))
        .group_by(CalendarRecord.calendar, CalendarRecord.year)
        .scalar_subquery()
    )
    query = select(CalendarRecord).where(CalendarRecord.id.in_(latest)).order_by(CalendarRecord.id)
    with transaction(target) as session:
        return [
            PublishedYear.model_validate(
                {**r.body, "revision": r.id, "published_at": r.published_at}
            )
            for r in session.scalars(query)
        ]


def previous_year(target: StoreOrSession, year: PublishedYear) -> CalendarYear | None:
    """The revision of the same calendar and year that ``year`` superseded, if any."""
    query = (
        select(CalendarRecord.body)
        .where(
            CalendarRecord.calendar == year.calendar,
            CalendarRecord.year == year.year,
            CalendarRecord.id < year.revision,
        )
        .order_by(CalendarRecord.id.desc())
        .limit(1)
    )
    with transaction(target) as session:
        body = session.scalar(query)
    return None if body is None else CalendarYear.model_validate(body)


def year_at(target: StoreOrSession, revision: int) -> PublishedYear | None:
    """The calendar year published as that revision."""
    with transaction(target) as session:
        row = session.get(CalendarRecord, revision)
        if row is None:
            return None
        return PublishedYear.model_validate(
            {**row.body, "revision": row.id, "published_at": row.published_at}
        )


def latest_revision(target: StoreOrSession) -> int:
    """The newest revision published (0: none)."""
    with transaction(target) as session:
        return int(session.scalar(select(func.max(CalendarRecord.id))) or 0)
