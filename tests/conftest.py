"""Shared fixtures: paths of the shipped catalog and the bad definitions."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "definitions" / "catalog"
BAD = ROOT / "definitions" / "bad"


@pytest.fixture
def catalog_dir() -> Path:
    return CATALOG


# The store fixtures (SQLite and PostgreSQL) are shared by every test folder.
pytest_plugins = ["tests.fixtures_store", "tests.fixtures_temporal"]


PRODUCTION: dict[str, Any] = {}
"""What the suite replaced, to check it as shipped."""


@pytest.fixture(autouse=True, scope="session")
def quick_password_hashes() -> Iterator[None]:
    """Argon2id at its lightest for the suite: the production parameters (RFC 9106's
    low-memory profile) cost 0.15 s a hash here, and page tests sign in hundreds of times.
    What is tested — Argon2id hashes, checked, refused, rehashed — is the same."""
    from argon2 import PasswordHasher

    from store import sessions

    production = (sessions.HASHER, sessions._DUMMY)
    PRODUCTION["hasher"] = sessions.HASHER
    sessions.HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    sessions._DUMMY = sessions.HASHER.hash("not a password of anyone")
    yield
    sessions.HASHER, sessions._DUMMY = production
