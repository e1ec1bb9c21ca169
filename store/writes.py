"""Writes: recording a batch of case events with their projections, publishing procedures.

Only activities call these. Every write is idempotent, because Temporal retries activities:
events are keyed by (case_id, seq), projections carry the ``last_seq`` they reflect, and a
published procedure version is immutable.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from enum import Enum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel
from sqlalchemy import Table, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from definitions.loader import Catalog
from definitions.models import FormSchema, Procedure
from definitions.versioning import ProcedureSnapshot, snapshot
from store import feed, followups, outbox
from store.db import StoreOrSession, transaction
from store.models import Base, ProcedureVersion, RequestKey
from workflows.contracts import (
    ClockRow,
    Event,
    EventType,
    RecordInput,
    RecordResult,
    TaskRow,
)

Batch = TypeVar("Batch", bound=BaseModel)

CASES: Table = Base.metadata.tables["cases"]
TASKS: Table = Base.metadata.tables["tasks"]
CLOCKS: Table = Base.metadata.tables["clocks"]
INCIDENTS: Table = Base.metadata.tables["incidents"]
EVENTS: Table = Base.metadata.tables["events"]
PROCEDURES: Table = Base.metadata.tables["procedures"]
REQUEST_KEYS: Table = Base.metadata.tables["request_keys"]

EVENT_BATCH = 500
"""Events per INSERT statement: 11 parameters each keeps far below SQLite's variable limit."""


class PublishConflict(ValueError):  # noqa: N818 (the name the callers use)
    """A different content was published before under the same procedure code and version."""

    def __init__(self, code: str, version: int, existing_hash: str, new_hash: str) -> None:
        self.code = code
        self.version = version
        self.existing_hash = existing_hash
        self.new_hash = new_hash
        super().__init__(
            f"流程 {code} 第 {version} 版已发布，内容哈希 {existing_hash}，与待发布内容 {new_hash} 不同；"
            f"已发布的版本不可修改，请提高版本号 / "
            f"procedure {code} version {version} is already published with content hash "
            f"{existing_hash}, not {new_hash}: a published version is immutable, bump the version"
        )


_STATEMENTS: dict[tuple[str, str, tuple[str, ...]], Any] = {}
"""Statements built once per dialect, table and column set, then executed with parameters.

Building an upsert per call made SQLAlchemy regenerate ``excluded`` column proxies and cache
keys over literal values on every write, a third of the worker's CPU under load.
"""


def _insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The dialect's INSERT, which has ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"store backend {dialect!r} is not supported (sqlite, postgresql)")


def insert_statement(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """The session's dialect's INSERT into ``table``."""
    return _insert(session.get_bind().dialect.name, table)


def insert_events(session: Session, events: Sequence[Event], now: dt.datetime) -> int:
    """Insert events not stored yet (by case id and seq); returns how many were new.

    They reach the feed once they have committed and been given their position
    (:mod:`store.feed`): on SQLite, which runs one writer at a time, right here in the
    writer's transaction; on PostgreSQL by a sequencer after commit, so that writers never
    wait for each other.
    """
    rows = [_columns(e, ["payload"]) | {"recorded_at": now} for e in events]
    inserted = 0
    dialect = session.get_bind().dialect.name
    stmt = _insert_events(dialect)
    for start in range(0, len(rows), EVENT_BATCH):
        inserted += len(session.execute(stmt, rows[start : start + EVENT_BATCH]).all())
    if inserted and dialect == "sqlite":
        feed.number_pending(session)
    return inserted


def task_columns(task: TaskRow, now: dt.datetime) -> dict[str, Any]:
    return _columns(task, []) | {"updated_at": now}


def clock_columns(clock: ClockRow, now: dt.datetime) -> dict[str, Any]:
    """A clock row's columns; without a derivation, the stored one is left as it is."""
    row = _columns(clock, ["spans", "derivation"]) | {"updated_at": now}
    if clock.derivation is None:
        del row["derivation"]
    return row


def _insert_events(dialect: str) -> Any:
    key = (dialect, "events", ())
    if key not in _STATEMENTS:
        _STATEMENTS[key] = (
            _insert(dialect, EVENTS)
            .on_conflict_do_nothing(index_elements=["case_id", "seq"])
            .returning(EVENTS.c.id)
        )
    return _STATEMENTS[key]


def _upsert(dialect: str, table: Table, columns: tuple[str, ...]) -> Any:
    key = (dialect, table.name, columns)
    if key not in _STATEMENTS:
        stmt = _insert(dialect, table)
        excluded = stmt.excluded
        _STATEMENTS[key] = stmt.on_conflict_do_update(
            index_elements=[table.c.id],
            set_={name: excluded[name] for name in columns if name != "id"},
            where=table.c.last_seq < excluded.last_seq,
        )
    return _STATEMENTS[key]


def _columns(model: BaseModel, json_columns: Sequence[str]) -> dict[str, Any]:
    """Column values of a contracts model: enums as their values, JSON columns JSON-ready."""
    values = model.model_dump()
    as_json = model.model_dump(mode="json", include=set(json_columns))
    for key, value in values.items():
        if isinstance(value, Enum):
            values[key] = value.value
    values.update(as_json)
    return values


def upsert_newer(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, or overwrite existing ones whose stored ``last_seq`` is lower.

    ``INSERT … ON CONFLICT (id) DO UPDATE … WHERE stored.last_seq < new.last_seq``, executed
    once for all rows of the same columns: atomic per row on both backends, so two writers
    racing on one row cannot both "win", and an older write arriving late (a retried
    activity) leaves the newer row alone.
    """
    dialect = session.get_bind().dialect.name
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row), []).append(row)
    for columns, same in groups.items():
        session.execute(_upsert(dialect, table, columns), same)


def record(target: StoreOrSession, data: RecordInput, *, notify: bool = True) -> RecordResult:
    """Append events and update the case and task projections, in one transaction.

    Events are inserted with ``ON CONFLICT (case_id, seq) DO NOTHING``, so a retry inserts only
    what is missing; the case row and each task row are written only if their ``last_seq`` is
    greater than the stored one (or the row is new), so a late or retried older write never
    overwrites newer state. Calling twice with the same input inserts nothing the second time.

    Writers do not wait for each other: the events reach the feed in the order they commit
    (:mod:`store.feed`).

    Args:
        target: a :class:`Store` (committed on return) or a session (the caller commits).
        data: the events and the projection rows they lead to.
        notify: put the applicant's messages in the outbox (not for a history imported after
            the fact: nobody is to be told about it now).

    Returns:
        How many events were newly inserted (0 on a complete retry).
    """
    now = dt.datetime.now(dt.UTC)
    with transaction(target) as session:
        inserted = insert_events(session, data.events, now)

        case = _columns(data.case, ["departments", "form", "missing"]) | {"updated_at": now}
        c = data.case
        snap = version_snapshot(session, c.procedure_code, c.procedure_version, c.content_hash)
        case["headline"], case["search"] = search_columns(
            snap.procedure.form if snap is not None else None,
            c.id,
            c.applicant_id,
            case["form"],
        )
        submitted = next((e for e in data.events if e.type is EventType.case_submitted), None)
        if submitted is not None and isinstance(submitted.payload.get("channel"), str):
            case["channel"] = submitted.payload["channel"]
        upsert_newer(session, CASES, [case])
        # The applicant's messages, in the same transaction as the events that cause them.
        if notify:
            outbox.add(session, outbox.rows_for(data.events, data.case, snap, now))
            # A bad rating opens its follow-up with it (a history imported after the fact
            # brings its follow-ups along instead).
            followups.open_for(session, data.events, data.case, snap, now)
        tasks = [task_columns(t, now) for t in data.tasks]
        upsert_newer(session, TASKS, tasks)
        upsert_newer(session, CLOCKS, clock_rows(data.events, data.clocks, now))
        incidents = [_columns(i, []) | {"updated_at": now} for i in data.incidents]
        upsert_newer(session, INCIDENTS, incidents)
    return RecordResult(inserted=inserted)


_SNAPSHOTS: dict[tuple[str, int, str], ProcedureSnapshot] = {}
"""Procedure versions read so far, by code, version and content: published versions never
change, so they are read from the store once per process."""


def version_snapshot(
    target: StoreOrSession, code: str, version: int, content_hash: str
) -> ProcedureSnapshot | None:
    """The published procedure version a case runs (None if not published in this store)."""
    key = (code, version, content_hash)
    if key not in _SNAPSHOTS:
        with transaction(target) as session:
            body = session.scalar(
                select(ProcedureVersion.body).where(
                    ProcedureVersion.code == code,
                    ProcedureVersion.version == version,
                    ProcedureVersion.content_hash == content_hash,
                )
            )
        if body is None:
            return None
        _SNAPSHOTS[key] = ProcedureSnapshot.model_validate(body)
    return _SNAPSHOTS[key]


SEARCH_LENGTH = 2000
"""Characters of a case's search text: the number, the applicant and the headline fields."""


def search_columns(
    schema: FormSchema | None, case_id: str, applicant_id: str, form: dict[str, Any]
) -> tuple[dict[str, str], str]:
    """The case's headline (its procedure's headline fields, filled) and its lower-case
    search text, as stored in ``cases.headline`` and ``cases.search``."""
    headline = schema.headline(form) if schema is not None else {}
    text = " ".join([case_id, applicant_id, *headline.values()])
    return headline, clean_text(text.casefold())[:SEARCH_LENGTH]


DEADLINE_EVENTS = frozenset({EventType.deadline_set, EventType.deadline_moved})


def clock_rows(
    events: Sequence[Event], clocks: Sequence[ClockRow], now: dt.datetime
) -> list[dict[str, Any]]:
    """Clock rows with the derivation of the batch's latest deadline event for each; a row
    without one leaves the stored derivation as it is (its column is not written)."""
    derivations = {
        e.payload["clock"]: e.payload["derivation"]
        for e in events
        if e.type in DEADLINE_EVENTS and e.payload.get("derivation") and e.payload.get("clock")
    }
    rows = []
    for clock in clocks:
        derivation = clock.derivation or derivations.get(clock.key)
        rows.append(clock_columns(clock.model_copy(update={"derivation": derivation}), now))
    return rows


def clean_text(value: str) -> str:
    """Text as every backend stores it: no NUL (PostgreSQL refuses it), no lone surrogates
    (not encodable in UTF-8), each replaced by U+FFFD so the reader sees something was there."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = "".join("\ufffd" if 0xD800 <= ord(c) <= 0xDFFF else c for c in value)
    return value


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return clean_text(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {_clean(k): _clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_clean(v) for v in value]
    return value


def sanitize(data: Batch) -> Batch:
    """The same batch with every text cleaned (:func:`clean_text`) and non-finite numbers
    dropped: what the store refused for its content, in a form it accepts."""
    return type(data).model_validate(_clean(data.model_dump(mode="python")))


def remember_request(target: StoreOrSession, key_id: str, body_hash: str) -> str:
    """Record which body a request key was first used with; returns that first body's hash.

    A client retrying a request sends the same key and body; the same key with another body
    is a mistake the API refuses, since the first request's answer would otherwise be returned
    for a request that was never carried out.
    """
    with transaction(target) as session:
        stmt = (
            _insert(session.get_bind().dialect.name, REQUEST_KEYS)
            .values(id=key_id, body_hash=body_hash, created_at=dt.datetime.now(dt.UTC))
            .on_conflict_do_nothing(index_elements=["id"])
        )
        session.execute(stmt)
        first = session.scalar(select(RequestKey.body_hash).where(RequestKey.id == key_id))
    return str(first)


Outcome = Literal["created", "unchanged"]


def publish_catalog(
    target: StoreOrSession, catalog: Catalog, procedures: Sequence[Procedure] | None = None
) -> list[tuple[ProcedureSnapshot, Outcome]]:
    """Publish procedures of a validated catalog (default: the latest version of each) with
    the items and departments they use — all of them or, on a conflict, none.

    Raises:
        PublishConflict: a (code, version) was published before with other content; nothing
            of this call is stored then.
    """
    chosen = catalog.latest_procedures() if procedures is None else list(procedures)
    snapshots = [snapshot(catalog, p) for p in chosen]
    with transaction(target) as session:
        return [(snap, publish(session, snap)) for snap in snapshots]


def publish(target: StoreOrSession, snapshot: ProcedureSnapshot) -> Outcome:
    """Store a procedure version; publishing the same content again is a no-op.

    Returns:
        ``"created"`` for a new (code, version), ``"unchanged"`` if it was published before
        with the same content hash.

    Raises:
        PublishConflict: (code, version) was published with a different content hash.
    """
    with transaction(target) as session:
        stmt = (
            _insert(session.get_bind().dialect.name, PROCEDURES)
            .values(
                code=snapshot.code,
                version=snapshot.version,
                content_hash=snapshot.content_hash,
                name=snapshot.procedure.name,
                body=snapshot.model_dump(mode="json"),
                published_at=dt.datetime.now(dt.UTC),
            )
            .on_conflict_do_nothing(index_elements=["code", "version"])
            .returning(PROCEDURES.c.id)
        )
        if session.execute(stmt).first() is not None:
            return "created"
        existing = session.scalar(
            select(ProcedureVersion.content_hash).where(
                ProcedureVersion.code == snapshot.code,
                ProcedureVersion.version == snapshot.version,
            )
        )
    if existing == snapshot.content_hash:
        return "unchanged"
    raise PublishConflict(snapshot.code, snapshot.version, str(existing), snapshot.content_hash)


__all__ = [
    "PublishConflict",
    "StoreOrSession",
    "clean_text",
    "publish",
    "record",
    "remember_request",
    "sanitize",
    "transaction",
]
