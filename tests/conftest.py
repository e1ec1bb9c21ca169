"""Shared fixtures: paths of the shipped catalog and the bad definitions."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CATALOG = ROOT / "definitions" / "catalog"
BAD = ROOT / "definitions" / "bad"


@pytest.fixture
def catalog_dir() -> Path:
    return CATALOG


# The store fixtures (SQLite and PostgreSQL) are shared by every test folder.
pytest_plugins = ["tests.fixtures_store", "tests.fixtures_temporal"]
