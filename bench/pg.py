"""What benches share: a PostgreSQL database of their own on the local server (dropped and
made again), and a scratch store to run cases offline in."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

from activities.clock import Calendars
from core.settings import get_settings
from definitions.loader import calendar_years
from definitions.validate import validate_paths
from definitions.versioning import ProcedureSnapshot
from store.db import Store
from store.writes import publish_catalog

SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432"
"""The machine's PostgreSQL server; benches make databases of their own on it."""


def libpq(url: str, database: str | None = None) -> str:
    """The URL as libpq takes it (no SQLAlchemy driver name), optionally of another database."""
    target = make_url(url).set(drivername="postgresql")
    if database is not None:
        target = target.set(database=database)
    return target.render_as_string(hide_password=False)


def fresh_database(url: str, prefix: str) -> None:
    """Drop the database named in ``url`` and make it again, empty.

    Refused unless its name starts with ``prefix``: a bench never drops one of the server's
    shared databases by mistake.
    """
    name = str(make_url(url).database or "")
    if not name.startswith(prefix):
        raise SystemExit(f"the database is dropped first: name it {prefix}…, not {name}")
    with psycopg.connect(libpq(url, "postgres"), autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')


def scratch_store() -> tuple[Store, list[ProcedureSnapshot], Calendars]:
    """An in-memory SQLite store with the shipped catalog published, its snapshots and the
    working calendars: where benches run cases offline through the engine's rules."""
    settings = get_settings()
    report = validate_paths(settings.catalog)
    assert report.ok
    assert report.catalog is not None
    scratch = Store("sqlite://")
    scratch.migrate()
    published = [snap for snap, _ in publish_catalog(scratch, report.catalog)]
    return scratch, published, Calendars(calendar_years(settings.catalog), scratch)
