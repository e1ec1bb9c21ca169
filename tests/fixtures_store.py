"""Store fixtures: a migrated :class:`store.db.Store` on SQLite and on PostgreSQL.

The helpers are importable (``from tests.fixtures_store import make_sqlite_store``) so that
other test folders can build stores too. PostgreSQL is the server named by
``ONETRIP_TEST_POSTGRES_URL``; the session gets a fresh database of its own, dropped at the end.
When the server is unreachable the PostgreSQL tests are skipped, except on CI (``CI=true``),
where a skip would hide a broken setup, so they fail.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from store.db import Store, migrate
from store.models import Base

DEFAULT_POSTGRES_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
"""Parameters of the backend fixtures; the PostgreSQL one carries the ``postgres`` marker."""


def postgres_url() -> str:
    """The maintenance database URL of the test PostgreSQL server."""
    return os.environ.get("ONETRIP_TEST_POSTGRES_URL", DEFAULT_POSTGRES_URL)


def sqlite_url(folder: Path) -> str:
    """URL of a SQLite file in ``folder`` (created on first use)."""
    return f"sqlite:///{folder / 'store.db'}"


def make_sqlite_store(tmp_path: Path) -> Store:
    """A migrated store in a fresh SQLite file under ``tmp_path``."""
    url = sqlite_url(tmp_path)
    migrate(url)
    return Store(url)


def require_postgres(url: str | None = None) -> None:
    """Skip the test (fail it on CI) if the PostgreSQL server does not answer."""
    engine = create_engine(
        url or postgres_url(), poolclass=NullPool, connect_args={"connect_timeout": 3}
    )
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except OperationalError as error:
        message = f"PostgreSQL unreachable at {make_url(url or postgres_url())!r}: {error}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    finally:
        engine.dispose()


@contextmanager
def postgres_database(base_url: str | None = None) -> Iterator[str]:
    """Create a uniquely named empty database, yield its URL, then drop it."""
    base = make_url(base_url or postgres_url())
    name = f"onetrip_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(base, poolclass=NullPool, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'CREATE DATABASE "{name}"'))
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = :name AND pid <> pg_backend_pid()"
                ),
                {"name": name},
            )
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


def clear(store: Store) -> None:
    """Delete every row (and restart the event ids on PostgreSQL)."""
    with store.session() as session:
        if store.dialect == "postgresql":
            names = ", ".join(t.name for t in Base.metadata.sorted_tables)
            session.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(Base.metadata.sorted_tables):
                session.execute(table.delete())


@pytest.fixture(scope="session")
def postgres_store_url() -> Iterator[str]:
    """URL of a migrated database of the session, shared by the PostgreSQL tests."""
    require_postgres()
    with postgres_database() as url:
        migrate(url)
        yield url


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """URL of an empty, unmigrated database of its own, on each backend."""
    if request.param == "sqlite":
        yield sqlite_url(tmp_path)
        return
    require_postgres()
    with postgres_database() as url:
        yield url


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A migrated, empty store, on each backend."""
    if request.param == "sqlite":
        result = make_sqlite_store(tmp_path)
    else:
        result = Store(request.getfixturevalue("postgres_store_url"))
        clear(result)
    try:
        yield result
    finally:
        result.dispose()
