"""What every request is checked for before a route sees it: bytes a route could only misread.

The frameworks under the routes are lenient where OneTrip must not be: JSON is parsed as
UTF-16 when it is not UTF-8, accepts ``NaN`` and ``Infinity``, keeps the last of two equal
keys, and fails with a bare 400 on invalid UTF-8, a number of more than 4 300 digits or
nesting deeper than Python's recursion; form fields and query parameters that are not UTF-8
become U+FFFD, or Latin-1 mojibake, without a word. Here each of those is refused with a
clear 422 naming where (``body``, ``["body", <form field>]``, ``["query", <parameter>]``),
never quoting the input. Pure functions: the middleware in :mod:`api.app` calls them.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any
from urllib.parse import unquote_to_bytes

MAX_JSON_DEPTH = 64
"""Nesting of arrays and objects a JSON body may have; the API's bodies need 4, and the
parsers behind it (pydantic's, Temporal's payloads) refuse a few hundred."""
MAX_QUERY_BYTES = 8192
"""Longest query string: filters and cursors need a few hundred bytes; HTTP servers refuse
request lines of 8–16 KiB anyway."""

Problem = tuple[list[str | int], str]
"""Where (an error's ``loc``) and what, in both languages."""


class _RefusedError(ValueError):
    """A JSON value the parser would accept and the API does not."""


def _no_constant(name: str) -> Any:
    raise _RefusedError(f"{name} 不是 JSON 数值 / {name} is not a JSON number")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _RefusedError(f"数值 {text[:20]} 超出范围 / the number {text[:20]} is out of range")
    return value


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise _RefusedError(
                f"对象中键 {key[:40]!r} 出现两次 / the key {key[:40]!r} appears twice in an object"
            )
        seen[key] = value
    return seen


def _walk(value: Any) -> Problem | None:
    """Nesting too deep, or text no store can keep (a NUL, which PostgreSQL refuses; an
    unpaired surrogate, which is not UTF-8 and could not even be quoted in an answer), with
    where: without recursion, so a list of a million is no harm."""
    stack: list[tuple[Any, list[str | int]]] = [(value, [])]
    while stack:
        item, path = stack.pop()
        if isinstance(item, str):
            problem = _unkeepable(item)
            if problem is not None:
                return ["body", *path], problem
        elif isinstance(item, dict | list):
            if len(path) >= MAX_JSON_DEPTH:
                return ["body"], _too_deep()
            if isinstance(item, dict):
                for key in item:
                    problem = _unkeepable(key, key=True)
                    if problem is not None:
                        return ["body", *path, _escaped(key[:100])], problem
                pairs: Any = item.items()
            else:
                pairs = enumerate(item)
            stack.extend((v, [*path, k[:100] if isinstance(k, str) else k]) for k, v in pairs)
    return None


_SURROGATE = re.compile("[\ud800-\udfff]")


def _escaped(text: str) -> str:
    """The text with its NUL characters and unpaired surrogates written as escapes, so that
    an answer can name it."""
    return _SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", text).replace("\x00", "\\x00")


def _unkeepable(text: str, key: bool = False) -> str | None:
    """The same words as the fields' own check (``definitions.forms.storable``)."""
    if "\x00" in text:
        if key:
            return "键不得包含 NUL 字符 / a key must not contain NUL characters"
        return "不得包含 NUL 字符 / must not contain NUL characters"
    if _SURROGATE.search(text):
        if key:
            return "键包含无效的 Unicode 字符 / a key contains an unpaired surrogate"
        return "包含无效的 Unicode 字符 / contains an unpaired surrogate"
    return None


def json_problem(body: bytes) -> Problem | None:
    """Why a JSON body is refused: not UTF-8, not JSON, ambiguous, too deep, or text no
    store can keep."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        return (
            ["body"],
            f"请求体不是 UTF-8 编码（第 {exc.start + 1} 字节）/ the body is not UTF-8 (byte"
            f" {exc.start + 1})",
        )
    try:
        value = json.loads(
            text, parse_constant=_no_constant, parse_float=_finite, object_pairs_hook=_unique
        )
    except json.JSONDecodeError as exc:
        return (
            ["body", exc.pos],
            f"不是有效的 JSON（第 {exc.lineno} 行第 {exc.colno} 列：{exc.msg}）/ invalid JSON at"
            f" line {exc.lineno}, column {exc.colno}: {exc.msg}",
        )
    except _RefusedError as exc:
        return ["body"], str(exc)
    except RecursionError:
        return ["body"], _too_deep()
    except ValueError:  # an integer longer than Python converts (4 300 digits)
        return ["body"], "数字位数过多 / a number has too many digits"
    return _walk(value)


def _too_deep() -> str:
    return f"JSON 嵌套超过 {MAX_JSON_DEPTH} 层 / the JSON nests deeper than {MAX_JSON_DEPTH} levels"


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_NUL = re.compile(r"\x00")


def _fields(encoded: bytes, where: str, refused: re.Pattern[str]) -> Problem | None:
    """The first ``name=value`` pair (percent-encoded, ``+`` for space) that is not UTF-8,
    or holds a ``refused`` character."""
    for pair in encoded.split(b"&"):
        if not pair:
            continue
        raw_name, _, raw_value = pair.partition(b"=")
        try:
            name = unquote_to_bytes(raw_name.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return [where], _not_utf8("参数名", "a parameter name")
        loc: list[str | int] = [where, name[:100]]
        try:
            value = unquote_to_bytes(raw_value.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError:
            return loc, _not_utf8("值", "the value")
        found = refused.search(name) or refused.search(value)
        if found:
            code = f"U+{ord(found.group()):04X}"
            return loc, f"不得包含控制字符 {code} / must not contain the control character {code}"
    return None


def _not_utf8(zh: str, en: str) -> str:
    return f"{zh}不是百分号编码的 UTF-8 / {en} is not percent-encoded UTF-8"


def form_problem(body: bytes) -> Problem | None:
    """Why a form post (``application/x-www-form-urlencoded``) is refused: not UTF-8, or a
    NUL (PostgreSQL refuses it; the fields' own checks judge the other characters, a
    reason may well hold line breaks)."""
    if not body.isascii():
        return ["body"], "表单须为百分号编码的 UTF-8 / a form must be percent-encoded UTF-8"
    return _fields(body, "body", _NUL)


def query_problem(query: bytes) -> Problem | None:
    """Why a query string is refused: too long, or a parameter that is not UTF-8 text
    without control characters (no filter, cursor or period has one)."""
    if len(query) > MAX_QUERY_BYTES:
        return (
            ["query"],
            f"查询串超过 {MAX_QUERY_BYTES} 字节 / the query string is longer than"
            f" {MAX_QUERY_BYTES} bytes",
        )
    return _fields(query, "query", _CONTROL)


def media_type(content_type: bytes | None) -> str:
    """``application/json`` of ``Application/JSON; charset=utf-8``; empty when not given."""
    if not content_type:
        return ""
    return content_type.split(b";", 1)[0].strip().decode("latin-1").lower()


def is_json(media: str) -> bool:
    """Whether FastAPI would read a body of that type as JSON (it does when none is given; the
    middleware lets a GET's untyped body be, as every route ignores it)."""
    return media in ("", "application/json") or (
        media.startswith("application/") and media.endswith("+json")
    )
