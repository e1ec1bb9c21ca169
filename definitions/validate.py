"""Semantic validation: what a schema cannot see (references, limits, graphs, conditions).

A definition that validates without errors runs exactly as written. Warnings point at
likely mistakes (a material that should probably be shared) but do not block publishing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from definitions.analysis import computed_trips, critical_path
from definitions.conditions import comparisons, parse_condition, truthy_fields
from definitions.diagnostics import Diagnostic, Severity, sort_key
from definitions.loader import Catalog, Loaded, Source, load_paths
from definitions.models import (
    NATIONAL_CALENDAR,
    NOT_COUNTED_KINDS,
    CalendarYear,
    Channel,
    Department,
    FieldType,
    FormSchema,
    Procedure,
    ServiceItem,
)

JOINT_HANDLING_CEILING = 45
"""Working days for joint or centralised handling (行政许可法 第四十二条), extendable by 15."""

E, W = Severity.error, Severity.warning


@dataclass
class Report:
    """The outcome of validating a set of files."""

    catalog: Catalog
    diagnostics: list[Diagnostic] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def errors(self) -> list[Diagnostic]:
        """Findings that block publishing."""
        return [d for d in self.diagnostics if d.is_error]

    @property
    def warnings(self) -> list[Diagnostic]:
        """Advice that does not block publishing."""
        return [d for d in self.diagnostics if not d.is_error]

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors


def validate_paths(paths: Iterable[Path | str]) -> Report:
    """Load and validate every definition under the given files and folders."""
    loaded = load_paths(paths)
    catalog = Catalog.from_loaded(loaded.loaded)
    diagnostics = loaded.diagnostics + validate_catalog(catalog)
    return Report(catalog, sorted(diagnostics, key=sort_key), loaded.files)


def validate_catalog(catalog: Catalog) -> list[Diagnostic]:
    """Every semantic finding about a loaded catalog."""
    out: list[Diagnostic] = []
    out += _duplicates(catalog.loaded)
    calendars = {NATIONAL_CALENDAR} | {c.calendar for c in catalog.calendars}
    for entry in catalog.loaded:
        d, src = entry.definition, entry.source
        if isinstance(d, Department):
            if d.calendar and d.calendar not in calendars:
                out.append(
                    src.diagnostic(
                        E,
                        "unknown-calendar",
                        f"日历 “{d.calendar}” 未定义 / calendar '{d.calendar}' is not defined",
                        ["calendar"],
                    )
                )
        elif isinstance(d, ServiceItem):
            out += _item(d, src, catalog)
        elif isinstance(d, Procedure):
            out += _procedure(d, src, catalog)
    out += _materials(catalog)
    return out


def _duplicates(loaded: Sequence[Loaded]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    first: dict[tuple[str, ...], Source] = {}
    for entry in loaded:
        d = entry.definition
        if isinstance(d, Procedure):
            ident: tuple[str, ...] = (d.kind, d.code, str(d.version))
            label, path = f"{d.code} v{d.version}", "code"
        elif isinstance(d, CalendarYear):
            ident = (d.kind, d.calendar, str(d.year))
            label, path = f"{d.calendar} {d.year}", "year"
        else:
            ident = (d.kind, d.code)
            label, path = d.code, "code"
        if ident in first:
            prev = first[ident]
            out.append(
                entry.source.diagnostic(
                    E,
                    "duplicate-code",
                    f"{d.kind} “{label}” 重复定义（首次在 {prev.file}:{prev.line}）"
                    f" / {d.kind} '{label}' defined twice (first at {prev.file}:{prev.line})",
                    [path],
                )
            )
        else:
            first[ident] = entry.source
    return out


def _own_output(proc: Procedure, items: dict[str, ServiceItem], src: Source) -> list[Diagnostic]:
    """A bundle asking the applicant for a document one of its own items issues (found by
    the document's name), without that item saying it ``produces`` it."""
    out: list[Diagnostic] = []
    issued = {item.result.name: item for item in items.values()}
    for i, code in enumerate(proc.items):
        item = items.get(code)
        for m in item.materials if item else []:
            producer = issued.get(m.name)
            if producer is None or producer.code == code or m.key in producer.produces:
                continue
            out.append(
                src.diagnostic(
                    W,
                    "demands-own-output",
                    f"“{m.name}”由本流程的事项 {producer.code} 出具，却仍向申请人收取：请在该事项"
                    f"写 produces: [{m.key}] / '{m.key}' is issued by this procedure's own item"
                    f" {producer.code} yet demanded from the applicant: give that item"
                    f" produces: [{m.key}]",
                    ["items", i],
                )
            )
    return out


def _item(item: ServiceItem, src: Source, catalog: Catalog) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    if catalog.department(item.department) is None:
        out.append(_unknown_department(src, item.department, ["department"]))
    if item.committed_limit > item.legal_limit:
        out.append(
            src.diagnostic(
                E,
                "committed-over-legal",
                f"承诺时限 {item.committed_limit} 个工作日超过法定时限 {item.legal_limit} 个工作日"
                f" / committed limit {item.committed_limit} working days exceeds the legal limit"
                f" {item.legal_limit}",
                ["committed_limit"],
            )
        )
    if item.counted_step_days > item.committed_limit:
        out.append(
            src.diagnostic(
                E,
                "step-shares-over-limit",
                f"计时环节合计 {item.counted_step_days} 个工作日，超过承诺时限 {item.committed_limit}"
                f" / counted steps add up to {item.counted_step_days} working days, more than the"
                f" committed limit {item.committed_limit}",
                ["steps"],
            )
        )
    if item.trips == 0 and not {Channel.online, Channel.mail} & set(item.channels):
        out.append(
            src.diagnostic(
                E,
                "trips-below-channels",
                "只能窗口办理的事项不可能零跑动 / an item applied for only at a window cannot need"
                " zero on-site trips",
                ["trips"],
            )
        )
    for i, step in enumerate(item.steps):
        if not step.counted and step.kind not in NOT_COUNTED_KINDS:
            out.append(
                src.diagnostic(
                    E,
                    "step-not-countable",
                    f"“{step.kind.label}” 环节必须计入时限；只有听证、招标拍卖、检验检测检疫鉴定、"
                    f"专家评审、公示可不计（行政许可法 第四十五条）/ a '{step.kind.value}' step counts"
                    " toward the limit; only hearings, tendering, inspection, expert review and"
                    " public notice may be excluded",
                    ["steps", i, "counted"],
                )
            )
        elif not step.counted and step.days == 0:
            out.append(
                src.diagnostic(
                    E,
                    "step-without-period",
                    f"不计时环节 “{step.name}” 须写明所需工作日（第四十五条：书面告知申请人）"
                    f" / the not-counted step '{step.key}' must state its period in working days:"
                    " the applicant is told it in writing, and a step running longer is late",
                    ["steps", i, "days"],
                )
            )
        elif step.counted and step.kind in NOT_COUNTED_KINDS:
            out.append(
                src.diagnostic(
                    W,
                    "step-counted",
                    f"“{step.kind.label}” 依法不计入时限，这里却计入了（更严格，但请确认）"
                    f" / a '{step.kind.value}' step may be excluded from the limit (第四十五条)"
                    " but is counted here",
                    ["steps", i, "counted"],
                )
            )
    return out


def _unknown_department(src: Source, code: str, path: list[str | int]) -> Diagnostic:
    return src.diagnostic(
        E,
        "unknown-department",
        f"部门 “{code}” 未定义 / unknown department '{code}'",
        path,
    )


def _procedure(proc: Procedure, src: Source, catalog: Catalog) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    items: dict[str, ServiceItem] = {}
    for i, code in enumerate(proc.items):
        item = catalog.item(code)
        if item is None:
            out.append(
                src.diagnostic(
                    E, "unknown-item", f"事项 “{code}” 未定义 / unknown item '{code}'", ["items", i]
                )
            )
        else:
            items[code] = item
    if catalog.department(proc.intake.department) is None:
        out.append(_unknown_department(src, proc.intake.department, ["intake", "department"]))

    used: set[str] = set()
    for si, stage in enumerate(proc.stages):
        for ti, task in enumerate(stage.tasks):
            path: list[str | int] = ["stages", si, "tasks", ti]
            used.add(task.item)
            if task.item not in proc.items:
                known = catalog.item(task.item) is not None
                out.append(
                    src.diagnostic(
                        E,
                        "task-item-not-listed" if known else "unknown-item",
                        f"任务的事项 “{task.item}” 未列入本流程的 items"
                        f" / the task's item '{task.item}' is not listed in the procedure's items"
                        if known
                        else f"事项 “{task.item}” 未定义 / unknown item '{task.item}'",
                        [*path, "item"],
                    )
                )
            item = items.get(task.item)
            if task.department is not None and catalog.department(task.department) is None:
                out.append(_unknown_department(src, task.department, [*path, "department"]))
            if item is not None and task.days is not None and task.days > item.committed_limit:
                out.append(
                    src.diagnostic(
                        W,
                        "task-share-over-item",
                        f"任务时限 {task.days} 个工作日长于事项自身承诺时限 {item.committed_limit}"
                        f" / the task's share {task.days} is longer than the item's own committed"
                        f" limit {item.committed_limit}",
                        [*path, "days"],
                    )
                )
            if task.when:
                out += _condition(task.when, proc.form, src, [*path, "when"])
        for ni, transition in enumerate(stage.next):
            if transition.when:
                out += _condition(
                    transition.when, proc.form, src, ["stages", si, "next", ni, "when"]
                )
    for i, code in enumerate(proc.items):
        if code not in used:
            out.append(
                src.diagnostic(
                    E,
                    "item-unused",
                    f"事项 “{code}” 已列入但没有任务办理它 / item '{code}' is listed but no task"
                    " handles it",
                    ["items", i],
                )
            )

    graph_ok, graph_diags = _graph(proc, src)
    out += graph_diags

    legal = proc.legal_limit
    if proc.is_merged:
        if proc.committed_limit > JOINT_HANDLING_CEILING or (
            legal is not None and legal > JOINT_HANDLING_CEILING
        ):
            field_name = (
                "committed_limit"
                if proc.committed_limit > JOINT_HANDLING_CEILING
                else ("legal_limit")
            )
            value = getattr(proc, field_name)
            out.append(
                src.diagnostic(
                    E,
                    "joint-over-ceiling",
                    f"联合办理时限 {value} 个工作日超过法定上限 {JOINT_HANDLING_CEILING} 个工作日"
                    f"（行政许可法 第四十二条）/ {value} working days exceeds the statutory ceiling"
                    f" of {JOINT_HANDLING_CEILING} for joint handling (Administrative Licensing Law"
                    " art. 42)",
                    [field_name],
                )
            )
    elif len(items) == 1:
        # A single item's procedure can never promise more than the item's statutory limit,
        # whatever legal_limit the procedure claims.
        item_legal = next(iter(items.values())).legal_limit
        if legal is not None and legal > item_legal:
            out.append(
                src.diagnostic(
                    E,
                    "legal-over-item",
                    f"流程法定时限 {legal} 个工作日长于事项法定时限 {item_legal}"
                    f" / the procedure's legal limit {legal} exceeds the item's statutory"
                    f" {item_legal} working days",
                    ["legal_limit"],
                )
            )
        legal = item_legal if legal is None else min(legal, item_legal)
    if legal is not None and proc.committed_limit > legal:
        out.append(
            src.diagnostic(
                E,
                "committed-over-legal",
                f"承诺时限 {proc.committed_limit} 个工作日超过法定时限 {legal} 个工作日"
                f" / committed limit {proc.committed_limit} working days exceeds the legal limit"
                f" {legal}",
                ["committed_limit"],
            )
        )

    if graph_ok and len(items) == len(proc.items):
        path_ = critical_path(proc, items)
        if path_.days > proc.committed_limit:
            out.append(
                src.diagnostic(
                    E,
                    "critical-path-over-limit",
                    f"关键路径 {' → '.join(path_.stages)} 需 {path_.days} 个工作日，超过承诺时限"
                    f" {proc.committed_limit} / the critical path {' → '.join(path_.stages)} takes"
                    f" {path_.days} working days, more than the committed limit"
                    f" {proc.committed_limit}",
                    ["committed_limit"],
                )
            )

    warning = proc.supervision.warning
    if warning.days_before is not None and 0 < proc.committed_limit <= warning.days_before:
        out.append(
            src.diagnostic(
                W,
                "warning-at-acceptance",
                f"提前 {warning.days_before} 个工作日预警不短于承诺时限 {proc.committed_limit}，"
                f"受理即预警 / a warning {warning.days_before} working days before a"
                f" {proc.committed_limit}-day limit fires at acceptance",
                ["supervision", "warning", "days_before"],
            )
        )

    out += _own_output(proc, items, src)

    trips = computed_trips(proc)
    if trips > proc.trips:
        out.append(
            src.diagnostic(
                E,
                "trips-over-promise",
                f"按受理渠道与送达方式需跑 {trips} 次，超过承诺的 {proc.trips} 次"
                f" / intake channels and delivery need {trips} on-site trips, more than the"
                f" promised {proc.trips}",
                ["trips"],
            )
        )
    return out


def _graph(proc: Procedure, src: Source) -> tuple[bool, list[Diagnostic]]:
    """Unknown targets, cycles and unreachable stages. Returns (graph is a DAG, findings)."""
    out: list[Diagnostic] = []
    keys = [s.key for s in proc.stages]
    index = {k: i for i, k in enumerate(keys)}
    if proc.start_stage not in index:
        out.append(
            src.diagnostic(
                E,
                "unknown-stage",
                f"起始阶段 “{proc.start_stage}” 不存在 / start stage '{proc.start_stage}' does not"
                " exist",
                ["start"],
            )
        )
        return False, out
    for si, stage in enumerate(proc.stages):
        for ni, t in enumerate(stage.next):
            if t.to not in index:
                out.append(
                    src.diagnostic(
                        E,
                        "unknown-stage",
                        f"阶段 “{t.to}” 不存在 / stage '{t.to}' does not exist",
                        ["stages", si, "next", ni, "to"],
                    )
                )
    # Depth-first search from the start; an edge back to a stage on the stack closes a cycle.
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    acyclic = True

    def visit(key: str, trail: list[str]) -> None:
        nonlocal acyclic
        state[key] = 1
        si = index[key]
        for ni, t in enumerate(proc.stages[si].next):
            if t.to not in index:
                continue
            if state.get(t.to) == 1:
                acyclic = False
                path = [*trail, key]  # the stack, ending with the current stage
                loop = [*path[path.index(t.to) :], t.to]
                out.append(
                    src.diagnostic(
                        E,
                        "stage-cycle",
                        f"阶段循环：{' → '.join(loop)} / stages form a cycle: {' → '.join(loop)}",
                        ["stages", si, "next", ni, "to"],
                    )
                )
            elif t.to not in state:
                visit(t.to, [*trail, key])
        state[key] = 2

    visit(proc.start_stage, [])
    for si, key in enumerate(keys):
        if key not in state:
            out.append(
                src.diagnostic(
                    E,
                    "stage-unreachable",
                    f"阶段 “{key}” 从起始阶段无法到达 / stage '{key}' cannot be reached from the"
                    " start",
                    ["stages", si, "key"],
                )
            )
    return acyclic and not out, out


_NUMERIC = (FieldType.integer, FieldType.number)


def _condition(text: str, form: FormSchema, src: Source, path: list[str | int]) -> list[Diagnostic]:
    out: list[Diagnostic] = []
    cond = parse_condition(text)  # syntax was checked by the schema
    declared = {f.key for f in form.fields}

    def unknown(name: str) -> Diagnostic:
        return src.diagnostic(
            E,
            "condition-unknown-field",
            f"条件引用了表单未声明的字段 “{name}” / the condition reads field '{name}', which the"
            f" form does not declare (declared: {', '.join(sorted(declared)) or 'none'})",
            path,
        )

    def mismatch(why_zh: str, why_en: str) -> Diagnostic:
        return src.diagnostic(E, "condition-type-mismatch", f"{why_zh} / {why_en}", path)

    for name in truthy_fields(cond):
        spec = form.field(name)
        if spec is None:
            out.append(unknown(name))
        elif spec.type is not FieldType.boolean:
            out.append(
                mismatch(
                    f"字段 “{name}” 不是是否型，请写出比较",
                    f"field '{name}' is not a boolean; write a comparison",
                )
            )
    for c in comparisons(cond):
        spec = form.field(c.field)
        if spec is None:
            out.append(unknown(c.field))
            continue
        values = list(c.value) if isinstance(c.value, tuple) else [c.value]
        values = [v for v in values if v is not None]
        ordering = c.op in ("<", "<=", ">", ">=")
        if spec.type is FieldType.boolean:
            if ordering or not all(isinstance(v, bool) for v in values):
                out.append(
                    mismatch(
                        f"是否型字段 “{c.field}” 只能与 true/false 比较是否相等",
                        f"boolean field '{c.field}' can only be compared with true/false",
                    )
                )
        elif spec.type in _NUMERIC:
            if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
                out.append(
                    mismatch(
                        f"数值字段 “{c.field}” 只能与数字比较",
                        f"numeric field '{c.field}' can only be compared with numbers",
                    )
                )
        elif spec.type is FieldType.enum:
            bad = [v for v in values if v not in (spec.options or [])]
            if ordering or bad:
                out.append(
                    mismatch(
                        f"选项字段 “{c.field}” 的取值应为 {', '.join(spec.options or [])}",
                        f"enum field '{c.field}' takes one of {', '.join(spec.options or [])};"
                        f" got {', '.join(map(repr, bad)) or c.op}",
                    )
                )
        elif spec.type is FieldType.date:
            if not all(isinstance(v, str) and _is_date(v) for v in values):
                out.append(
                    mismatch(
                        f'日期字段 “{c.field}” 只能与 "YYYY-MM-DD" 比较',
                        f"date field '{c.field}' can only be compared with \"YYYY-MM-DD\"",
                    )
                )
        elif not all(isinstance(v, str) for v in values):
            out.append(
                mismatch(
                    f"文本字段 “{c.field}” 只能与带引号的文本比较",
                    f"text field '{c.field}' can only be compared with quoted text",
                )
            )
    return out


def _is_date(text: str) -> bool:
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def _materials(catalog: Catalog) -> list[Diagnostic]:
    """Same name under two keys (a missed share) and one key under two names."""
    out: list[Diagnostic] = []
    by_name: dict[str, tuple[str, str]] = {}
    by_key: dict[str, tuple[str, str]] = {}
    for entry in catalog.loaded:
        item = entry.definition
        if not isinstance(item, ServiceItem):
            continue
        for i, m in enumerate(item.materials):
            name = m.name.replace(" ", "")
            if name in by_name and by_name[name][0] != m.key:
                key0, item0 = by_name[name]
                out.append(
                    entry.source.diagnostic(
                        W,
                        "material-missed-share",
                        f"材料 “{m.name}” 在事项 {item0} 中的键为 “{key0}”，这里为 “{m.key}”；"
                        f"若是同一份材料，请使用同一个键以便只交一次 / material '{m.name}' has key"
                        f" '{key0}' in item {item0} but '{m.key}' here; use one key so that it is"
                        " handed in once",
                        ["materials", i, "key"],
                    )
                )
            else:
                by_name.setdefault(name, (m.key, item.code))
            if m.key in by_key and by_key[m.key][0] != name:
                name0, item0 = by_key[m.key]
                out.append(
                    entry.source.diagnostic(
                        W,
                        "material-key-conflict",
                        f"键 “{m.key}” 在事项 {item0} 中表示 “{name0}”，这里表示 “{m.name}”"
                        f" / key '{m.key}' names '{name0}' in item {item0} but '{m.name}' here",
                        ["materials", i, "name"],
                    )
                )
            else:
                by_key.setdefault(m.key, (name, item.code))
    return out
