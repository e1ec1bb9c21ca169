"""Settings come from ONETRIP_* variables; logs are JSON lines when not in a terminal."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import DEFAULT_CATALOG, Settings


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    assert Settings().catalog == [DEFAULT_CATALOG]
    monkeypatch.setenv("ONETRIP_CATALOG", json.dumps([str(tmp_path)]))
    monkeypatch.setenv("ONETRIP_LOG_LEVEL", "DEBUG")
    settings = Settings()
    assert settings.catalog == [tmp_path]
    assert settings.log_level == "DEBUG"
    monkeypatch.setenv("ONETRIP_LOG_FORMAT", "xml")
    with pytest.raises(ValueError, match="log_format"):
        Settings()


def test_stdlib_and_structlog_lines_are_json_when_piped() -> None:
    code = (
        "import logging, structlog\n"
        "from core.logging import configure_logging\n"
        "configure_logging('auto', 'INFO')\n"
        "configure_logging('console', 'INFO')\n"  # a second call changes nothing
        "structlog.get_logger('app').info('case accepted', case='YZ-1')\n"
        "logging.getLogger('temporalio.workflow').warning('from the sdk')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [(r["event"], r["level"]) for r in lines] == [
        ("case accepted", "info"),
        ("from the sdk", "warning"),
    ]
    assert lines[0]["case"] == "YZ-1"
    assert lines[1]["logger"] == "temporalio.workflow"
