"""Migrations: they create the models' schema on both backends, and go down and up again."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text

from store import queries
from store.db import Store, create_store_engine, downgrade, migrate
from store.models import Base
from store.queries import CaseFilter
from store.writes import publish, record
from tests.store.factories import event, procedure_snapshot, record_input

TABLES = {
    "procedures",
    "web_sessions",
    "sign_in_throttle",
    "followups",
    "cases",
    "tasks",
    "events",
    "users",
    "api_tokens",
    "clocks",
    "incidents",
    "calendar_years",
    "request_keys",
    "notifications",
    "subscribers",
    "case_facts",
    "figure_tallies",
    "projections",
}


def tables(url: str) -> set[str]:
    engine = create_store_engine(url)
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_migrate_creates_every_table_without_alembic_ini(
    backend_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini here
    migrate(backend_url)
    migrate(backend_url)  # idempotent
    assert tables(backend_url) == TABLES | {"alembic_version"}

    engine = create_store_engine(backend_url)
    try:
        schema = inspect(engine)
        assert {i["name"] for i in schema.get_indexes("tasks")} == {
            "ix_tasks_inbox",
            "ix_tasks_case_id",
            "ix_tasks_open",
            "ix_tasks_overdue",
            "ix_tasks_warned",
        }
        assert {i["name"] for i in schema.get_indexes("cases")} == {
            "ix_cases_state",
            "ix_cases_procedure_code",
            "ix_cases_deadline_at",
            "ix_cases_submitted_at",
            "ix_cases_applicant_id",
            "ix_cases_open_by_deadline",
        }
        unique = schema.get_unique_constraints("events")
        assert [(u["name"], u["column_names"]) for u in unique] == [
            ("uq_events_case_id_seq", ["case_id", "seq"])
        ]
    finally:
        engine.dispose()


def test_downgrade_base_and_upgrade_head(backend_url: str) -> None:
    migrate(backend_url)
    downgrade(backend_url, revision="base")
    assert tables(backend_url) == {"alembic_version"}
    migrate(backend_url)
    assert tables(backend_url) == TABLES | {"alembic_version"}


def test_migration_matches_models(backend_url: str) -> None:
    migrate(backend_url)
    engine = create_store_engine(backend_url)
    try:
        with engine.connect() as connection:
            context = MigrationContext.configure(connection, opts={"compare_type": True})
            assert compare_metadata(context, Base.metadata) == []
    finally:
        engine.dispose()


def test_in_memory_sqlite_store_migrates_itself() -> None:
    store = Store("sqlite://")
    store.migrate()
    assert set(inspect(store.engine).get_table_names()) == TABLES | {"alembic_version"}
    store.dispose()


def test_sqlite_folder_is_created_and_pragmas_set(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'state' / 'deep' / 'store.db'}"
    migrate(url)
    store = Store(url)
    try:
        with store.engine.connect() as connection:
            pragma = connection.exec_driver_sql
            assert pragma("PRAGMA journal_mode").scalar() == "wal"
            assert pragma("PRAGMA synchronous").scalar() == 1  # NORMAL
            assert pragma("PRAGMA foreign_keys").scalar() == 1
            assert pragma("PRAGMA busy_timeout").scalar() == 10000
    finally:
        store.dispose()
    assert (tmp_path / "state" / "deep" / "store.db").is_file()


def test_existing_cases_get_their_headline_and_search_text(backend_url: str) -> None:
    migrate(backend_url)
    store = Store(backend_url)
    try:
        snap = procedure_snapshot()
        publish(store, snap)
        form = {"company_name": "云州示范科技有限公司", "legal_representative": "张三"}
        record(
            store,
            record_input(
                "C-9", content_hash=snap.content_hash, procedure_version=snap.version, form=form
            ),
        )
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE cases SET headline = NULL, search = ''"))
        downgrade(backend_url, revision="0003")
        migrate(backend_url)
        [(case, headline)] = queries.find_cases(store, CaseFilter(text="示范科技"))[0]
        assert case.id == "C-9"
        assert headline == form  # the form's text fields when none is marked
    finally:
        store.dispose()


def channel_of(store: Store, case_id: str) -> str | None:
    with store.engine.begin() as connection:
        value = connection.execute(
            text("SELECT channel FROM cases WHERE id = :id"), {"id": case_id}
        ).scalar()
    return None if value is None else str(value)


def test_cases_keep_their_channel_and_old_ones_get_it_back(backend_url: str) -> None:
    migrate(backend_url)
    store = Store(backend_url)
    try:
        submitted = event("C-7", 1, payload={"channel": "window", "materials": []})
        record(
            store, record_input("C-7", seqs=range(1, 2)).model_copy(update={"events": [submitted]})
        )
        record(store, record_input("C-8", seqs=range(1, 3)))  # a submission without a channel
        assert channel_of(store, "C-7") == "window"
        record(store, record_input("C-7", seqs=range(2, 4)))  # later writes keep it
        assert channel_of(store, "C-7") == "window"
        with store.engine.begin() as connection:
            connection.execute(text("UPDATE cases SET channel = NULL"))
        downgrade(backend_url, revision="0005")
        migrate(backend_url)
        assert (channel_of(store, "C-7"), channel_of(store, "C-8")) == ("window", None)
    finally:
        store.dispose()


def test_events_stored_before_positions_are_numbered_in_id_order(backend_url: str) -> None:
    """A store that paged its feed by event id: its events get positions 1, 2, 3 … in id
    order, and a subscriber's cursor (an event id) becomes the position of that event."""
    migrate(backend_url, revision="0010")
    engine = create_store_engine(backend_url)
    try:
        with engine.begin() as connection:
            for event_id, seq in ((3, 1), (7, 2), (8, 3)):
                connection.execute(
                    text(
                        "INSERT INTO events (id, case_id, seq, type, at, actor_id, actor_role,"
                        " payload, recorded_at) VALUES (:id, 'C-1', :seq, 'case.submitted',"
                        " :at, 'u', 'applicant', '{}', :at)"
                    ),
                    {"id": event_id, "seq": seq, "at": "2026-03-02 01:30:00+00:00"},
                )
            connection.execute(
                text(
                    'INSERT INTO subscribers (id, url, secret, types, active, "cursor",'
                    " created_at, failures, next_attempt_at) VALUES (1, 'http://x', 's', '[]',"
                    " true, 7, :at, 0, :at)"
                ),
                {"at": "2026-03-02 01:30:00+00:00"},
            )
        migrate(backend_url)
        with engine.begin() as connection:
            numbered = connection.execute(text("SELECT id, position FROM events ORDER BY id"))
            assert [tuple(r) for r in numbered] == [(3, 1), (7, 2), (8, 3)]
            cursor = connection.execute(text('SELECT "cursor" FROM subscribers')).scalar()
            assert cursor == 2
        downgrade(backend_url, revision="0010")
        with engine.begin() as connection:
            assert connection.execute(text('SELECT "cursor" FROM subscribers')).scalar() == 7
    finally:
        engine.dispose()
