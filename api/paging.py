"""Keyset paging for the lists: opaque cursors naming where a page ended.

A list answers one page and the cursor of the next (``next`` in a page body, or the
``X-Next-Cursor`` header with a ``Link: <…>; rel="next"`` where the answer is a plain list);
the client passes it back as ``cursor``. A cursor is the last row's sort key, base64 of a
small JSON array that starts with the list's kind, so a cursor of one list (or one sort) is
refused by another with a 422 naming the ``cursor`` parameter, never a 500.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Sequence

from fastapi import HTTPException, Request, Response, status

from store.queries import TaskKey


def encode(kind: str, values: Sequence[str | None]) -> str:
    raw = json.dumps([kind, *values], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def refused() -> HTTPException:
    return HTTPException(
        status.HTTP_422_UNPROCESSABLE_CONTENT,
        [
            {
                "loc": ["query", "cursor"],
                "msg": "不是本列表（同一排序）给出的 next / not a `next` this list gave"
                " with the same sort",
                "type": "value_error",
            }
        ],
    )


def decode(kind: str, cursor: str, arity: int) -> list[str | None]:
    """The values a cursor of ``kind`` carries (``arity`` of them); 422 for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (ValueError, TypeError):
        raise refused() from None
    if (
        not isinstance(values, list)
        or len(values) != arity + 1
        or values[0] != kind
        or not all(v is None or isinstance(v, str) for v in values[1:])
    ):
        raise refused()
    return values[1:]


def instant(value: str | None) -> dt.datetime | None:
    """An aware instant a cursor carries; 422 for anything else."""
    if value is None:
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        raise refused() from None
    if parsed.tzinfo is None:
        raise refused()
    return parsed


def _iso(value: dt.datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


TASKS = "tasks"


def task_cursor(key: TaskKey) -> str:
    at, created, task_id = key
    return encode(TASKS, [_iso(at), created.isoformat(), task_id])


def task_after(cursor: str | None) -> TaskKey | None:
    """The task key a cursor of a task list names (None: the first page)."""
    if cursor is None:
        return None
    at, created, task_id = decode(TASKS, cursor, 3)
    start = instant(created)
    if start is None or task_id is None:
        raise refused()
    return instant(at), start, task_id


def next_link(request: Request, response: Response, cursor: str | None) -> None:
    """Tell a client of a plain list where the next page starts (nothing on the last)."""
    if cursor is None:
        return
    response.headers["X-Next-Cursor"] = cursor
    url = request.url.include_query_params(cursor=cursor)
    response.headers["Link"] = f'<{url}>; rel="next"'
