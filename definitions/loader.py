"""Load definitions from YAML, keeping the line and column of every field.

A file may hold several documents (``---``); each document is one definition with a
``kind``. Every problem of a file is reported, not only the first: a syntax error stops that
file only, a schema error stops that document only.

Scalars follow YAML 1.2 rules rather than PyYAML's YAML 1.1 defaults: ``yes``/``no``/``on``/
``off`` stay strings and ``0123`` stays the string ``"0123"`` (not octal 83), because codes and
names in a catalog must never be silently reinterpreted.
"""

from __future__ import annotations

import codecs
import itertools
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from definitions.diagnostics import Diagnostic, Severity, format_path
from definitions.models import (
    KINDS,
    CalendarYear,
    Definition,
    Department,
    Procedure,
    ServiceItem,
)

Position = tuple[int, int]
"""1-based (line, column)."""
PathKey = tuple[str | int, ...]

_BOOL = "tag:yaml.org,2002:bool"
_INT = "tag:yaml.org,2002:int"
_FLOAT = "tag:yaml.org,2002:float"


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and numbers."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in (_BOOL, _INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    _BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(_INT, re.compile(r"^[-+]?(?:0|[1-9][0-9]*)$"), list("-+0123456789"))
_Loader.add_implicit_resolver(
    _FLOAT,
    re.compile(r"^[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$"),
    list("-+0123456789."),
)


@dataclass
class Source:
    """Where one definition came from: file, document start, and every field's position."""

    file: str
    line: int
    positions: dict[PathKey, Position] = field(default_factory=dict)

    def locate(self, path: Sequence[str | int]) -> Position:
        """Position of a field path, or of its nearest written ancestor (a missing field)."""
        key = tuple(path)
        while key:
            if key in self.positions:
                return self.positions[key]
            key = key[:-1]
        return (self.line, 1)

    def diagnostic(
        self,
        severity: Severity,
        code: str,
        message: str,
        path: Sequence[str | int] = (),
    ) -> Diagnostic:
        """A diagnostic anchored at ``path`` in this document."""
        line, column = self.locate(path)
        return Diagnostic(severity, code, message, self.file, line, column, format_path(path))


@dataclass
class Loaded:
    """A definition that passed its schema, with its source for later diagnostics."""

    definition: Definition
    source: Source


@dataclass
class LoadResult:
    loaded: list[Loaded] = field(default_factory=list)
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)


def _pos(node: yaml.Node) -> Position:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


MAX_NODES = 200_000
"""Values one file may hold once its aliases are expanded: a definition holds a few
thousand; a document of nested aliases ("billion laughs") would otherwise grow without end."""
MAX_DEPTH = 50
"""How deep mappings and lists may nest; definitions go about eight levels deep."""
MAX_DOCUMENTS = 1000
"""Documents one file may hold (the shipped catalog has a few dozen in all)."""


class _TooLargeError(Exception):
    def __init__(self, code: str, message: str, node: yaml.Node) -> None:
        super().__init__(message)
        self.code, self.message, self.node = code, message, node


@dataclass
class _Budget:
    nodes: int = 0


def _convert(
    loader: _Loader,
    node: yaml.Node,
    path: PathKey,
    positions: dict[PathKey, Position],
    problems: list[tuple[str, str, PathKey, Position]],
    budget: _Budget | None = None,
) -> Any:
    budget = budget if budget is not None else _Budget()
    budget.nodes += 1
    if budget.nodes > MAX_NODES:
        raise _TooLargeError(
            "yaml-too-large",
            f"文档展开后超过 {MAX_NODES} 个值（别名嵌套？）/ the document holds more than"
            f" {MAX_NODES} values once its aliases are expanded",
            node,
        )
    if len(path) > MAX_DEPTH:
        raise _TooLargeError(
            "yaml-too-deep",
            f"嵌套超过 {MAX_DEPTH} 层 / nested more than {MAX_DEPTH} levels deep",
            node,
        )
    if isinstance(node, yaml.MappingNode):
        out: dict[Any, Any] = {}
        seen: dict[Any, Position] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                problems.append(
                    (
                        "yaml-key",
                        "键必须是简单值 / a key must be a plain value",
                        path,
                        _pos(key_node),
                    )
                )
                continue
            key = loader.construct_object(key_node)
            if key in seen:
                problems.append(
                    (
                        "yaml-duplicate-key",
                        f"键 “{key}” 重复（首次出现在第 {seen[key][0]} 行）"
                        f" / duplicate key '{key}' (first on line {seen[key][0]})",
                        (*path, key),
                        _pos(key_node),
                    )
                )
                continue
            seen[key] = _pos(key_node)
            child = (*path, key)
            positions[child] = _pos(key_node)
            out[key] = _convert(loader, value_node, child, positions, problems, budget)
        return out
    if isinstance(node, yaml.SequenceNode):
        items = []
        for i, item in enumerate(node.value):
            child = (*path, i)
            positions[child] = _pos(item)
            items.append(_convert(loader, item, child, positions, problems, budget))
        return items
    return loader.construct_object(node)


_MESSAGES: dict[str, str] = {
    "missing": "缺少必填字段 / required field is missing",
    "extra_forbidden": "未知字段（拼写错误？）/ unknown field (misspelt?)",
    "string_type": "应为文本 / should be text",
    "int_type": "应为整数 / should be a whole number",
    "int_parsing": "应为整数 / should be a whole number",
    "int_from_float": "应为整数 / should be a whole number",
    "float_type": "应为数值 / should be a number",
    "float_parsing": "应为数值 / should be a number",
    "decimal_type": "应为金额数值 / should be an amount",
    "decimal_parsing": "应为金额数值 / should be an amount",
    "bool_type": "应为 true 或 false / should be true or false",
    "bool_parsing": "应为 true 或 false / should be true or false",
    "list_type": "应为列表 / should be a list",
    "dict_type": "应为映射（键: 值）/ should be a mapping (key: value)",
    "model_type": "应为映射（键: 值）/ should be a mapping (key: value)",
    "model_attributes_type": "应为映射（键: 值）/ should be a mapping (key: value)",
    "date_type": "应为日期 YYYY-MM-DD / should be a date YYYY-MM-DD",
    "date_parsing": "应为日期 YYYY-MM-DD / should be a date YYYY-MM-DD",
    "date_from_datetime_parsing": "应为日期 YYYY-MM-DD / should be a date YYYY-MM-DD",
    "string_too_short": "不能为空 / must not be empty",
    "finite_number": "应为有限数值 / should be a finite number",
    "url_parsing": "应为网址 / should be a URL",
    "url_scheme": "网址应以 http:// 或 https:// 开头 / a URL starting http:// or https://",
    "json_invalid": "JSON 格式错误 / invalid JSON",
    "json_type": "应为 JSON 文本 / should be JSON text",
    "datetime_type": "应为时间 / should be an instant (ISO 8601)",
    "datetime_parsing": "应为时间 / should be an instant (ISO 8601)",
    "string_unicode": "应为文本 / should be text",
    "union_tag_invalid": "类型标记无效 / invalid type tag",
}


def _shown(value: Any) -> str:
    """A value as an error quotes it: never more than a few dozen characters of it."""
    text = repr(value)
    return text if len(text) <= 40 else text[:39] + "…"


def explain(error: ErrorDetails) -> str:
    """A bilingual explanation of one pydantic error (quoting at most 40 characters of the
    offending value)."""
    kind = error["type"]
    ctx = error.get("ctx") or {}
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "string_too_short" and (ctx.get("min_length") or 1) > 1:
        n = ctx.get("min_length")
        return f"至少 {n} 个字符 / at least {n} characters"
    if kind in _MESSAGES:
        return _MESSAGES[kind]
    if kind in ("greater_than_equal", "greater_than", "less_than_equal", "less_than"):
        bound = next(iter(ctx.values()), "?")
        zh = {
            "greater_than_equal": "不小于",
            "greater_than": "大于",
            "less_than_equal": "不大于",
            "less_than": "小于",
        }
        en = {
            "greater_than_equal": "at least",
            "greater_than": "greater than",
            "less_than_equal": "at most",
            "less_than": "less than",
        }
        return (
            f"应{zh[kind]} {bound}（实际为 {_shown(error['input'])}）/ should be {en[kind]} {bound}"
        )
    if kind == "too_short":
        return f"至少需要 {ctx.get('min_length')} 项 / needs at least {ctx.get('min_length')}"
    if kind == "too_long":
        return f"最多 {ctx.get('max_length')} 项 / at most {ctx.get('max_length')}"
    if kind == "string_too_long":
        return f"过长，最多 {ctx.get('max_length')} 字 / too long, at most {ctx.get('max_length')}"
    if kind == "string_pattern_mismatch":
        return (
            f"格式不正确：{_shown(error['input'])}（字母、数字、-、_）"
            f" / badly formed: {_shown(error['input'])} must match {ctx.get('pattern')}"
        )
    if kind in ("enum", "literal_error"):
        return (
            f"取值 {_shown(error['input'])} 无效，可选：{ctx.get('expected')}"
            f" / invalid value {_shown(error['input'])}; expected {ctx.get('expected')}"
        )
    if kind.startswith("decimal_"):
        return f"金额格式不正确 / badly formed amount: {error['msg']}"
    return f"无效 / {error['msg']}"


def _documents(path: Path) -> Iterator[Path]:
    if path.is_dir():
        yield from sorted(p for p in path.rglob("*") if p.suffix in (".yaml", ".yml"))
    else:
        yield path


def load_paths(paths: Iterable[Path | str]) -> LoadResult:
    """Load every YAML file under the given files or folders, collecting all problems."""
    result = LoadResult()
    for root in paths:
        root = Path(root)
        if not root.exists():
            result.diagnostics.append(
                Diagnostic(
                    Severity.error,
                    "file-not-found",
                    "文件或目录不存在 / no such file or folder",
                    str(root),
                )
            )
            continue
        for file in _documents(root):
            result.files.append(str(file))
            load_file(file, result)
    return result


def calendar_years(paths: Iterable[Path | str]) -> list[CalendarYear]:
    """The calendar years defined under ``paths`` (invalid documents are left to `validate`)."""
    return [
        e.definition for e in load_paths(paths).loaded if isinstance(e.definition, CalendarYear)
    ]


_NOT_PRINTABLE = re.compile("[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
"""Characters YAML does not allow in a document (C0/C1 controls, NUL, DEL, surrogates)."""
MAX_CHARACTER_FINDINGS = 10

_BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
"""The encodings YAML allows, told apart by their byte order mark; UTF-8 without one."""


_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")
"""Line breaks as PyYAML counts them, so that every finding of a file agrees on its lines."""


def _position(text: str, index: int) -> tuple[int, int]:
    line, start = 1, 0
    for match in _BREAK.finditer(text, 0, index):
        line, start = line + 1, match.end()
    return line, index - start + 1


def load_bytes(data: bytes, file: str, result: LoadResult | None = None) -> LoadResult:
    """Load definitions from raw bytes (a file, a request body): a byte that is not text in
    its encoding is an error at its line and column, never an exception."""
    result = result if result is not None else LoadResult()
    encoding = next((enc for bom, enc in _BOMS if data.startswith(bom)), "utf-8")
    try:
        text = data.decode(encoding)
    except UnicodeDecodeError as exc:
        good = data[: exc.start].decode(encoding, errors="replace")
        line, column = _position(good, len(good))
        result.diagnostics.append(
            Diagnostic(
                Severity.error,
                "yaml-encoding",
                f"不是有效的 {encoding.upper()} 文本（第 {exc.start + 1} 字节）/ not valid"
                f" {encoding.upper()} text at byte {exc.start + 1}",
                file,
                line,
                column,
            )
        )
        return result
    return load_text(text, file, result)


def load_text(text: str, file: str, result: LoadResult | None = None) -> LoadResult:
    """Load definitions from YAML text (the API's publish endpoint uses this)."""
    result = result if result is not None else LoadResult()
    bad = list(itertools.islice(_NOT_PRINTABLE.finditer(text), MAX_CHARACTER_FINDINGS))
    for match in bad:
        line, column = _position(text, match.start())
        char = match.group()
        what = (
            "NUL 字符 / a NUL character"
            if char == "\0"
            else f"控制字符 / character U+{ord(char):04X}"
        )
        result.diagnostics.append(
            Diagnostic(
                Severity.error,
                "yaml-character",
                f"不允许的字符 / character not allowed: {what}",
                file,
                line,
                column,
            )
        )
    if bad:
        return result
    loader = _Loader(text)
    budget = _Budget()  # one for the whole text: many small documents add up too
    documents = 0
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            documents += 1
            if documents > MAX_DOCUMENTS:
                result.diagnostics.append(
                    Diagnostic(
                        Severity.error,
                        "yaml-too-large",
                        f"一个文件最多 {MAX_DOCUMENTS} 个文档 / at most {MAX_DOCUMENTS} documents"
                        " in one file",
                        file,
                        *_pos(node),
                    )
                )
                break
            before = len(result.diagnostics)
            _load_document(loader, node, file, result, budget)
            if any(d.code == "yaml-too-large" for d in result.diagnostics[before:]):
                break
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = (mark.line + 1, mark.column + 1) if mark else (None, None)
        problem = exc.problem or "syntax error"
        result.diagnostics.append(
            Diagnostic(
                Severity.error,
                "yaml-syntax",
                f"YAML 语法错误 / YAML syntax error: {problem}",
                file,
                *where,
            )
        )
    except yaml.YAMLError as exc:
        result.diagnostics.append(
            Diagnostic(
                Severity.error, "yaml-syntax", f"YAML 语法错误 / YAML syntax error: {exc}", file
            )
        )
    except RecursionError:
        # The parser itself recurses per level: thousands of nested brackets exhaust the
        # stack before any document is complete.
        mark = loader.get_mark()
        result.diagnostics.append(
            Diagnostic(
                Severity.error,
                "yaml-too-deep",
                f"嵌套过深 / nested too deeply (at most {MAX_DEPTH} levels)",
                file,
                mark.line + 1,
                mark.column + 1,
            )
        )
    finally:
        loader.dispose()
    return result


def load_file(file: Path, result: LoadResult | None = None) -> LoadResult:
    """Load one file's documents into ``result``."""
    result = result if result is not None else LoadResult()
    try:
        data = file.read_bytes()
    except OSError as exc:
        result.diagnostics.append(
            Diagnostic(
                Severity.error,
                "file-unreadable",
                f"无法读取 / cannot read: {exc.strerror or exc}",
                str(file),
            )
        )
        return result
    return load_bytes(data, str(file), result)


def _load_document(
    loader: _Loader,
    node: yaml.Node,
    file: str,
    result: LoadResult,
    budget: _Budget | None = None,
) -> None:
    source = Source(file=file, line=_pos(node)[0])
    problems: list[tuple[str, str, PathKey, Position]] = []
    try:
        data = _convert(loader, node, (), source.positions, problems, budget)
    except _TooLargeError as exc:
        line, column = _pos(exc.node)
        result.diagnostics.append(
            Diagnostic(Severity.error, exc.code, exc.message, file, line, column)
        )
        return
    for code, message, path, (line, column) in problems:
        result.diagnostics.append(
            Diagnostic(Severity.error, code, message, file, line, column, format_path(path))
        )
    if problems:
        return
    if data is None:
        return
    if not isinstance(data, dict):
        result.diagnostics.append(
            source.diagnostic(
                Severity.error,
                "not-a-mapping",
                "每个文档应为一个带 kind 的映射 / each document must be a mapping with a 'kind'",
            )
        )
        return
    kind = data.get("kind")
    model = KINDS.get(kind) if isinstance(kind, str) else None
    if model is None:
        result.diagnostics.append(
            source.diagnostic(
                Severity.error,
                "unknown-kind",
                f"kind 应为 {' / '.join(KINDS)} 之一，实际为 {kind!r}"
                f" / kind must be one of {', '.join(KINDS)}, got {kind!r}",
                ["kind"],
            )
        )
        return
    try:
        definition = model.model_validate(data)
    except ValidationError as exc:
        for error in exc.errors():
            result.diagnostics.append(
                source.diagnostic(Severity.error, "schema", explain(error), list(error["loc"]))
            )
        return
    result.loaded.append(Loaded(definition, source))


# --------------------------------------------------------------------------- the catalog


@dataclass
class Catalog:
    """Loaded definitions indexed by code; duplicates are reported by the validator."""

    departments: dict[str, Loaded] = field(default_factory=dict)
    items: dict[str, Loaded] = field(default_factory=dict)
    procedures: dict[tuple[str, int], Loaded] = field(default_factory=dict)
    calendars: list[CalendarYear] = field(default_factory=list)
    loaded: list[Loaded] = field(default_factory=list)

    @classmethod
    def from_loaded(cls, loaded: Iterable[Loaded]) -> Catalog:
        """Index definitions; the first of two with the same code wins the index."""
        catalog = cls()
        for entry in loaded:
            catalog.loaded.append(entry)
            d = entry.definition
            if isinstance(d, Department):
                catalog.departments.setdefault(d.code, entry)
            elif isinstance(d, ServiceItem):
                catalog.items.setdefault(d.code, entry)
            elif isinstance(d, Procedure):
                catalog.procedures.setdefault((d.code, d.version), entry)
            else:
                catalog.calendars.append(d)
        return catalog

    def department(self, code: str) -> Department | None:
        """The department with that code."""
        entry = self.departments.get(code)
        return entry.definition if entry and isinstance(entry.definition, Department) else None

    def item(self, code: str) -> ServiceItem | None:
        """The service item with that code."""
        entry = self.items.get(code)
        return entry.definition if entry and isinstance(entry.definition, ServiceItem) else None

    def procedure(self, code: str, version: int | None = None) -> Procedure | None:
        """A procedure version; the highest version when ``version`` is None."""
        versions = sorted(v for c, v in self.procedures if c == code)
        if not versions:
            return None
        chosen = versions[-1] if version is None else version
        entry = self.procedures.get((code, chosen))
        return entry.definition if entry and isinstance(entry.definition, Procedure) else None

    def latest_procedures(self) -> list[Procedure]:
        """The newest version of every procedure, ordered by code."""
        codes = sorted({c for c, _ in self.procedures})
        return [p for p in (self.procedure(c) for c in codes) if p is not None]
