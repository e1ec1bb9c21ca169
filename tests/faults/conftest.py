"""The fault run's counts in the terminal summary, whether or not pytest captures output."""

from __future__ import annotations

import pytest

REPORTS = pytest.StashKey[list[str]]()


def pytest_configure(config: pytest.Config) -> None:
    config.stash[REPORTS] = []


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    reports = terminalreporter.config.stash.get(REPORTS, [])
    if reports:
        terminalreporter.section("fault run")
        for text in reports:
            terminalreporter.write_line(text)
