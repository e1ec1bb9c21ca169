"""Errors and warnings about definitions, each pointing at a file, line, column and field path.

Messages are bilingual, Chinese first: ``中文说明 / English explanation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any


class Severity(StrEnum):
    error = "error"
    warning = "warning"


@dataclass(frozen=True)
class Diagnostic:
    """One finding. ``line`` and ``column`` are 1-based; ``path`` is like ``stages[1].tasks[0]``."""

    severity: Severity
    code: str
    """Stable identifier, e.g. ``unknown-department``; tests and scripts match on it."""
    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    path: str = ""

    @property
    def is_error(self) -> bool:
        """Errors block publishing; warnings are advice."""
        return self.severity is Severity.error

    def location(self) -> str:
        """``file:line:column`` as editors and terminals understand it."""
        parts = [self.file or "<input>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def render(self) -> str:
        """One line for a terminal."""
        where = f" [{self.path}]" if self.path else ""
        label = "错误 error" if self.is_error else "警告 warning"
        return f"{self.location()}: {label} {self.code}{where}: {self.message}"

    def to_json(self) -> dict[str, Any]:
        """Plain data for ``--json`` output and the API."""
        data = asdict(self)
        data["severity"] = self.severity.value
        return data


def format_path(loc: Sequence[str | int]) -> str:
    """``("stages", 1, "tasks", 0)`` → ``stages[1].tasks[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def sort_key(d: Diagnostic) -> tuple[str, int, int, str]:
    """File, then line, then column: the order a reader fixes them in."""
    return (d.file or "", d.line or 0, d.column or 0, d.code)
