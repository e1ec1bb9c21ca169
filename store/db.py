"""Engine, sessions and migrations.

The engine is synchronous: store writes run in activities, which Temporal runs in a thread
pool, and reads run in the API's worker threads. SQLite (the embedded default) is opened in WAL
mode so readers never block the single writer; PostgreSQL is reached through psycopg 3
(``postgresql+psycopg://user@host:5432/db``).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
"""The Alembic script folder, shipped as package data."""

SQLITE_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=NORMAL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=10000",
)
"""Run on every new SQLite connection. WAL lets readers run beside the writer; ``NORMAL`` is
durable in WAL mode except for the last commits on power loss; foreign keys are off by default
in SQLite; a writer waits up to 10 000 ms for the lock instead of failing at once."""


def _json_serializer(value: Any) -> str:
    # Keep Chinese text readable in the database rather than \\u escapes.
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _is_memory(url: URL) -> bool:
    return url.database in (None, "", ":memory:")


def create_store_engine(url: str | URL) -> Engine:
    """An engine configured for the store (pragmas on SQLite; pre-ping and a connect timeout
    on PostgreSQL).

    For a SQLite file the parent folder is created if missing. An in-memory SQLite database
    is shared by all sessions of the engine (one connection), so it behaves like a file.
    """
    url = make_url(url)
    if url.get_backend_name() == "sqlite":
        kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False}}
        if _is_memory(url):
            kwargs["poolclass"] = StaticPool
        elif url.database and not url.database.startswith("file:"):
            Path(url.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, json_serializer=_json_serializer, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        return engine
    connect: dict[str, Any] = {}
    if "connect_timeout" not in url.query:
        # An unreachable host would otherwise hold each request for the system's TCP timeout
        # (minutes): the API answers 503 within its bound instead.
        connect["connect_timeout"] = CONNECT_TIMEOUT
    return create_engine(
        url, json_serializer=_json_serializer, pool_pre_ping=True, connect_args=connect
    )


CONNECT_TIMEOUT = 5
"""Seconds a new PostgreSQL connection may take, unless the URL says (``?connect_timeout=``)."""


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in SQLITE_PRAGMAS:
            cursor.execute(pragma)
    finally:
        cursor.close()


class Store:
    """The store's engine and session factory; one per process, shared by all threads."""

    def __init__(self, url: str) -> None:
        """Open (lazily) the database at ``url``; run :func:`migrate` first to create tables."""
        self.url = url
        self.engine: Engine = create_store_engine(url)
        self.sessions: sessionmaker[Session] = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session in one transaction: committed when the block ends, rolled back on error."""
        with self.sessions.begin() as session:
            yield session

    def migrate(self, revision: str = "head") -> None:
        """Upgrade this store's database; the only way to migrate an in-memory SQLite store."""
        _alembic(self.engine, self.url, "upgrade", revision)

    def dispose(self) -> None:
        """Close every pooled connection (at shutdown, or in tests before dropping a database)."""
        self.engine.dispose()


StoreOrSession = Store | Session
"""A :class:`Store` (the call runs in its own transaction) or an open session (the caller's)."""


@contextmanager
def transaction(target: StoreOrSession) -> Iterator[Session]:
    """A session: a new transaction for a :class:`Store`, or the given session as it is."""
    if isinstance(target, Session):
        yield target
    else:
        with target.session() as session:
            yield session


def alembic_config(url: str) -> Config:
    """An Alembic configuration built in code: no ``alembic.ini`` needed in the working dir."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # ConfigParser interpolates "%": URL-encoded passwords must be escaped.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def migrate(url: str, *, revision: str = "head") -> None:
    """Upgrade the database at ``url`` to ``revision`` (``alembic upgrade head``); idempotent."""
    engine = create_store_engine(url)
    try:
        _alembic(engine, url, "upgrade", revision)
    finally:
        engine.dispose()


def downgrade(url: str, *, revision: str = "base") -> None:
    """Downgrade the database at ``url`` to ``revision`` (``base``: drop every table)."""
    engine = create_store_engine(url)
    try:
        _alembic(engine, url, "downgrade", revision)
    finally:
        engine.dispose()


def _alembic(engine: Engine, url: str, direction: str, revision: str) -> None:
    config = alembic_config(url)
    with engine.begin() as connection:
        # env.py uses this connection, so SQLite gets the same pragmas as the Store.
        config.attributes["connection"] = connection
        if direction == "upgrade":
            command.upgrade(config, revision)
        else:
            command.downgrade(config, revision)
