"""A PostgreSQL database of a bench's own on the local server, dropped and made again."""

from __future__ import annotations

import psycopg
from sqlalchemy.engine import make_url

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
