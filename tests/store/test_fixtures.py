"""The PostgreSQL fixture skips when the server is away, but never on CI."""

from __future__ import annotations

import pytest

from tests.fixtures_store import require_postgres

NOWHERE = "postgresql+psycopg://postgres@127.0.0.1:1/postgres"


def test_unreachable_postgres_skips_locally(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="unreachable"):
        require_postgres(NOWHERE)


def test_unreachable_postgres_fails_on_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception, match="unreachable"):
        require_postgres(NOWHERE)
