"""The ``onetrip`` command line: definitions, the working-day calendar, and (later) the runtime."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from cli.figures import figures_command, reengineer_app, report_command
from core.logging import configure_logging
from core.settings import get_settings
from definitions.analysis import FIGURES, Reengineering, analyze
from definitions.calendar import WorkingCalendar
from definitions.guide import item_guide, procedure_guide
from definitions.models import NATIONAL_CALENDAR, CalendarYear, Procedure
from definitions.validate import Report, validate_paths
from definitions.versioning import snapshot

app = typer.Typer(
    help="OneTrip 政务服务流程引擎 / government service workflow engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
definitions_app = typer.Typer(
    help="事项与流程定义 / service items and procedures.", no_args_is_help=True
)
calendar_app = typer.Typer(help="工作日历 / the working-day calendar.", no_args_is_help=True)
store_app = typer.Typer(help="数据存储 / the SQL store.", no_args_is_help=True)
app.add_typer(definitions_app, name="definitions")
app.add_typer(calendar_app, name="calendar")
app.add_typer(store_app, name="store")
app.command("figures")(figures_command)
app.command("report")(report_command)
app.add_typer(reengineer_app, name="reengineer")

out = Console(soft_wrap=True)
if not out.is_terminal:
    out = Console(soft_wrap=True, width=160)  # pipes and CI logs: no 80-column wrapping
err = Console(stderr=True, soft_wrap=True)

CatalogOption = Annotated[
    list[Path] | None,
    typer.Option(
        "--catalog",
        "-c",
        help="定义所在的目录或文件（可多次）/ catalog folder or file (repeatable);"
        " default: ONETRIP_CATALOG or the shipped catalog.",
    ),
]
JsonOption = Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON.")]


@app.callback()
def _main() -> None:
    settings = get_settings()
    configure_logging(settings.log_format, settings.log_level)


def _print_json(data: Any) -> None:
    # Plain print: rich would wrap long lines and break the JSON.
    print(json.dumps(data, ensure_ascii=False, indent=2, default=str))


def _load(catalog: list[Path] | None) -> Report:
    """Validate the catalog; print its errors and exit 1 if it has any."""
    report = validate_paths(catalog or get_settings().catalog)
    if not report.ok:
        for d in report.errors:
            err.print(d.render(), markup=False, highlight=False)
        err.print(
            f"定义有 {len(report.errors)} 个错误 / the definitions have {len(report.errors)} errors",
            markup=False,
        )
        raise typer.Exit(1)
    return report


# --------------------------------------------------------------------------- definitions


@definitions_app.command("validate")
def validate_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="YAML 文件或目录 / YAML files or folders (default: the catalog)."),
    ] = None,
    as_json: JsonOption = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="警告也视为失败 / fail on warnings too.")
    ] = False,
) -> None:
    """校验定义：每个问题给出文件、行、列与字段路径 / validate definitions."""
    report = validate_paths(paths or get_settings().catalog)
    counts = {
        "files": len(report.files),
        "definitions": len(report.catalog.loaded),
        "errors": len(report.errors),
        "warnings": len(report.warnings),
    }
    if as_json:
        _print_json({**counts, "diagnostics": [d.to_json() for d in report.diagnostics]})
    else:
        for d in report.diagnostics:
            (err if d.is_error else out).print(d.render(), markup=False, highlight=False)
        out.print(
            f"已检查 {counts['files']} 个文件、{counts['definitions']} 个定义：{counts['errors']} 个错误，"
            f"{counts['warnings']} 个警告 / checked {counts['files']} files,"
            f" {counts['definitions']} definitions: {counts['errors']} errors,"
            f" {counts['warnings']} warnings",
            markup=False,
        )
    if report.errors or (strict and report.warnings):
        raise typer.Exit(1)


@definitions_app.command("list")
def list_command(catalog: CatalogOption = None, as_json: JsonOption = False) -> None:
    """列出流程及其版本与内容哈希 / list procedures with version and content hash."""
    report = _load(catalog)
    procs = [
        e.definition
        for e in sorted(report.catalog.procedures.values(), key=lambda e: e.source.file)
        if isinstance(e.definition, Procedure)
    ]
    snaps = [snapshot(report.catalog, p) for p in procs]
    if as_json:
        _print_json(
            [
                {
                    "code": s.code,
                    "version": s.version,
                    "name": s.procedure.name,
                    "items": len(s.items),
                    "committed_limit": s.procedure.committed_limit,
                    "content_hash": s.content_hash,
                }
                for s in snaps
            ]
        )
        return
    table = Table(
        "编码 Code", "版本 Ver", "名称 Name", "事项 Items", "承诺时限 Limit", "内容哈希 Hash"
    )
    for snap in snaps:
        table.add_row(
            snap.code,
            str(snap.version),
            snap.procedure.name,
            str(len(snap.items)),
            str(snap.procedure.committed_limit),
            snap.content_hash[:19],
        )
    out.print(table)


def _analysis_table(r: Reengineering) -> Table:
    labels = {
        "limit_days": "办理时限（工作日）Time limit (working days)",
        "trips": "跑动次数 On-site trips",
        "materials": "申请材料（件）Materials",
        "copies": "材料份数 Copies",
        "applications": "申请表 Application forms",
    }
    table = Table(
        "指标 Figure",
        "分别办理 Before",
        "一件事 After",
        "减少 Reduction",
        title=f"{r.name}（{r.code} v{r.version}）流程再造 / reengineering",
    )
    for figure in FIGURES:
        table.add_row(
            labels[figure],
            str(getattr(r.before, figure)),
            str(getattr(r.after, figure)),
            f"{r.reduction(figure):.1f}%",
        )
    return table


@definitions_app.command("analyze")
def analyze_command(
    code: Annotated[
        str | None, typer.Argument(help="流程编码；省略则分析全部一件事 / procedure code.")
    ] = None,
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """流程再造前后对比 / before-and-after figures of merged procedures."""
    report = _load(catalog)
    cat = report.catalog
    if code is not None:
        proc = cat.procedure(code)
        if proc is None:
            err.print(f"流程 “{code}” 不存在 / no procedure '{code}'", markup=False)
            raise typer.Exit(1)
        procs = [proc]
    else:
        procs = [p for p in cat.latest_procedures() if p.is_merged]
    results = [analyze(p, {i.code: i for i in snapshot(cat, p).items}) for p in procs]
    if as_json:
        _print_json([r.to_json() for r in results] if code is None else results[0].to_json())
        return
    for r in results:
        out.print(_analysis_table(r))
        out.print(
            f"  关键路径 critical path: {' → '.join(r.critical_path)}（{r.after.limit_days} 个工作日）；"
            f"承诺时限 committed: {r.committed_limit} 个工作日；涉及部门 departments: {r.departments}",
            markup=False,
        )
        items = Table("事项 Item", "部门 Dept", "承诺 Limit", "跑动 Trips", "材料 Materials")
        for row in r.items:
            items.add_row(
                f"{row.name} {row.code}",
                row.department,
                str(row.committed_limit),
                str(row.trips),
                str(row.materials),
            )
        out.print(items)
        out.print()


@definitions_app.command("guide")
def guide_command(
    code: Annotated[str, typer.Argument(help="流程或事项编码 / procedure or item code.")],
    catalog: CatalogOption = None,
    as_json: JsonOption = False,
) -> None:
    """打印办事指南 / print the service guide an applicant reads."""
    report = _load(catalog)
    cat = report.catalog
    departments = {c: d for c in cat.departments if (d := cat.department(c)) is not None}
    proc = cat.procedure(code)
    if proc is not None:
        snap = snapshot(cat, proc)
        guide = procedure_guide(proc, {i.code: i for i in snap.items}, departments)
    else:
        item = cat.item(code)
        if item is None:
            err.print(
                f"没有编码为 “{code}” 的流程或事项 / no procedure or item '{code}'", markup=False
            )
            raise typer.Exit(1)
        guide = item_guide(item, departments)
    if as_json:
        from dataclasses import asdict

        _print_json(asdict(guide))
    else:
        out.print(guide.render(), markup=False, highlight=False)


@definitions_app.command("publish")
def publish_command(
    paths: Annotated[
        list[Path] | None,
        typer.Argument(help="YAML 文件或目录 / YAML files or folders (default: the catalog)."),
    ] = None,
    code: Annotated[
        list[str] | None, typer.Option("--code", help="只发布这些流程 / only these procedures.")
    ] = None,
) -> None:
    """发布流程版本到数据库（已发布的版本不可更改）/ publish procedure versions to the store."""
    from store.db import Store, migrate
    from store.writes import PublishConflict, publish_catalog

    report = _load(paths)
    procs = []
    for wanted in code or []:
        proc = report.catalog.procedure(wanted)
        if proc is None:
            err.print(f"流程 “{wanted}” 不存在 / no procedure '{wanted}'", markup=False)
            raise typer.Exit(1)
        procs.append(proc)
    settings = get_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url)
    try:
        published = publish_catalog(store, report.catalog, procs if code else None)
    except PublishConflict as exc:
        err.print(f"{exc}\n未发布任何流程 / nothing was published", markup=False)
        raise typer.Exit(1) from None
    finally:
        store.dispose()
    for snap, outcome in published:
        label = "已发布 published" if outcome == "created" else "未变 unchanged"
        out.print(f"{label}: {snap.code} v{snap.version} {snap.content_hash}", markup=False)


# --------------------------------------------------------------------------- store and worker


@store_app.command("migrate")
def migrate_command() -> None:
    """把数据库迁移到最新结构 / upgrade the store's schema to the latest migration."""
    from store.db import migrate

    url = get_settings().database_url
    migrate(url)
    out.print(f"migrated: {url}", markup=False)


@app.command("worker")
def worker_command() -> None:
    """运行工作进程（SIGTERM 时等待进行中的活动完成）/ run a case worker."""
    import asyncio

    from worker.temporal import run_worker

    asyncio.run(run_worker(get_settings()))


@app.command("dev")
def dev_command(
    demo: Annotated[
        bool, typer.Option("--demo", help="提交几个示例办件 / submit a few sample cases.")
    ] = False,
    temporal_port: Annotated[int, typer.Option(help="Temporal gRPC port.")] = 7233,
    ui_port: Annotated[int, typer.Option(help="Temporal UI port.")] = 8233,
) -> None:
    """一键本地运行：Temporal 开发服务器 + SQLite + 工作进程 + API / everything on a laptop."""
    import asyncio

    from cli.dev import run_dev

    asyncio.run(run_dev(get_settings(), demo=demo, temporal_port=temporal_port, ui_port=ui_port))


@app.command("api")
def api_command() -> None:
    """运行 HTTP API（OpenAPI 文档在 /docs）/ serve the HTTP API."""
    import uvicorn

    from cli.dev import KEEP_ALIVE_SECONDS
    from web.app import create_app

    settings = get_settings()
    uvicorn.run(
        create_app(settings),
        host=settings.api_host,
        port=settings.api_port,
        log_config=None,  # keep the process's structlog configuration
        proxy_headers=True,
        forwarded_allow_ips=settings.forwarded_allow_ips,
        timeout_keep_alive=KEEP_ALIVE_SECONDS,
    )


# --------------------------------------------------------------------------- calendar


def _parse_date(value: str, name: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise typer.BadParameter(
            f"“{value}” 不是有效日期，应为 YYYY-MM-DD / '{value}' is not a date YYYY-MM-DD",
            param_hint=name,
        ) from None


def _published_years() -> list[CalendarYear]:
    """Calendar years published to the store, if there is a store to read (else none)."""
    from sqlalchemy.exc import SQLAlchemyError

    from store.calendars import current_years
    from store.db import Store

    url = get_settings().database_url
    if url.startswith("sqlite:///") and not Path(url.removeprefix("sqlite:///")).exists():
        return []
    store = Store(url)
    try:
        return [
            CalendarYear.model_validate(y.model_dump(exclude={"revision", "published_at"}))
            for y in current_years(store)
        ]
    except SQLAlchemyError:
        return []  # no store reachable, or not migrated: the catalog alone
    finally:
        store.dispose()


def _calendar(catalog: list[Path] | None, name: str) -> WorkingCalendar:
    report = _load(catalog)
    published = _published_years()
    years = {(y.calendar, y.year): y for y in [*report.catalog.calendars, *published]}
    known = {NATIONAL_CALENDAR} | {c for c, _ in years}
    if name not in known:
        err.print(
            f"日历 “{name}” 未定义，可选：{', '.join(sorted(known))}"
            f" / unknown calendar '{name}'; known: {', '.join(sorted(known))}",
            markup=False,
        )
        raise typer.Exit(1)
    return WorkingCalendar(list(years.values()), name)


CalendarName = Annotated[
    str, typer.Option("--calendar", help="日历名称 / calendar name (default: national).")
]
_PROVISIONAL = (
    "暂定：该年度无官方节假日安排，按周末与固定日期法定节日推算"
    " / provisional: no official arrangement for that year; weekends and fixed-date holidays only"
)


@calendar_app.command("deadline", context_settings={"ignore_unknown_options": True})
def deadline_command(
    start: Annotated[str, typer.Argument(help="起算日 YYYY-MM-DD（当日不计）/ start date.")],
    days: Annotated[str, typer.Argument(help="工作日数 / number of working days.")],
    catalog: CatalogOption = None,
    calendar: CalendarName = NATIONAL_CALENDAR,
) -> None:
    """起算日后第 N 个工作日（期限于当日 24:00 届满）/ the Nth working day after a date."""
    day = _parse_date(start, "START")
    try:
        n = int(days)
    except ValueError:
        raise typer.BadParameter(
            f"“{days}” 不是整数 / '{days}' is not a whole number", param_hint="DAYS"
        ) from None
    if n < 0:
        raise typer.BadParameter(
            f"工作日数不能为负：{n} / the number of working days cannot be negative: {n}",
            param_hint="DAYS",
        )
    result = _calendar(catalog, calendar).add_working_days(day, n)
    out.print(f"{result.date.isoformat()}" + (" provisional" if result.provisional else ""))
    if result.provisional:
        err.print(_PROVISIONAL, markup=False)


@calendar_app.command("workdays")
def workdays_command(
    first: Annotated[str, typer.Argument(help="开始日 YYYY-MM-DD（含）/ first date, included.")],
    last: Annotated[str, typer.Argument(help="结束日 YYYY-MM-DD（含）/ last date, included.")],
    catalog: CatalogOption = None,
    calendar: CalendarName = NATIONAL_CALENDAR,
) -> None:
    """两日之间（含首尾）的工作日数 / working days between two dates, both included."""
    a, b = _parse_date(first, "FIRST"), _parse_date(last, "LAST")
    if b < a:
        raise typer.BadParameter(
            f"结束日 {b} 早于开始日 {a} / {b} is before {a}", param_hint="LAST"
        )
    result = _calendar(catalog, calendar).count_working_days(a, b)
    out.print(f"{result.days}" + (" provisional" if result.provisional else ""))
    if result.provisional:
        err.print(_PROVISIONAL, markup=False)


@calendar_app.command("is-workday")
def is_workday_command(
    day: Annotated[str, typer.Argument(help="日期 YYYY-MM-DD / date.")],
    catalog: CatalogOption = None,
    calendar: CalendarName = NATIONAL_CALENDAR,
) -> None:
    """是否工作日（含调休上班日）/ yes or no, make-up working days included."""
    info = _calendar(catalog, calendar).day(_parse_date(day, "DAY"))
    out.print(("yes" if info.working else "no") + (" provisional" if info.provisional else ""))
    if info.name:
        kind = "调休上班 make-up working day" if info.working else "节假日 holiday"
        err.print(f"{kind}: {info.name}（{info.source.value}）", markup=False)
    if info.provisional:
        err.print(_PROVISIONAL, markup=False)


@calendar_app.command("publish")
def calendar_publish_command(
    paths: Annotated[
        list[Path], typer.Argument(help="日历定义文件 / CalendarYear YAML files or folders.")
    ],
    as_json: JsonOption = False,
) -> None:
    """发布节假日安排，在办件据此重算期限 / publish calendar years; open cases recompute.

    The years are stored (ONETRIP_DATABASE_URL) as new revisions, every worker uses them
    without a restart, and every open case whose deadlines they may move recomputes them
    (ONETRIP_TEMPORAL_ADDRESS); each moved deadline is listed. Running it again is harmless.
    """
    import asyncio

    report = validate_paths(paths)
    if not report.ok:
        for d in report.errors:
            err.print(d.render(), markup=False, highlight=False)
        raise typer.Exit(1)
    years = report.catalog.calendars
    if not years or len(years) != len(report.catalog.loaded):
        err.print(
            "只接受日历定义（kind: CalendarYear）/ only CalendarYear documents are published here",
            markup=False,
        )
        raise typer.Exit(1)
    publications = asyncio.run(_publish_years(years))
    if as_json:
        _print_json([p.to_json() for p in publications])
    for p in publications if not as_json else []:
        out.print(
            f"{p.calendar} {p.year}: 修订 revision {p.revision}（{p.outcome}），"
            f"变化日期 changed days: {', '.join(d.isoformat() for d in p.changed) or '无 none'}；"
            f"重算办件 cases recomputed: {len(p.cases)}",
            markup=False,
        )
        _moved_table([(m.case_id, m.clock, m.before, m.after, m.provisional) for m in p.moved])
        for case_id, why in p.failed.items():
            err.print(f"  {case_id}: 未能重算 not recomputed: {why}", markup=False)
    if any(p.failed for p in publications):
        err.print(
            "部分办件未能重算，可稍后重新执行本命令 / some cases could not recompute now; run"
            " the command again later",
            markup=False,
        )
        raise typer.Exit(1)


async def _publish_years(years: list[CalendarYear]) -> list[Any]:
    from definitions.loader import calendar_years
    from services.calendars import publish_year
    from store.db import Store, migrate
    from workflows.client import connect

    settings = get_settings()
    migrate(settings.database_url)
    store = Store(settings.database_url)
    try:
        client = await connect(settings.temporal_address, settings.temporal_namespace, lazy=True)
        base = calendar_years(settings.catalog)
        return [
            await publish_year(client, store, year, base=base, published_by="cli") for year in years
        ]
    finally:
        store.dispose()


def _moved_table(rows: list[tuple[Any, ...]]) -> None:
    if not rows:
        out.print("  没有期限变动 / no deadline moved", markup=False)
        return
    table = Table("办件 Case", "时钟 Clock", "原期限 Before", "新期限 After", "暂定 Provisional")
    for case_id, clock, before, after, provisional in rows:
        table.add_row(
            case_id,
            clock,
            _local(before),
            _local(after),
            "是 yes" if provisional else "否 no",
        )
    out.print(table)


def _local(instant: Any) -> str:
    from definitions.calendar import SHANGHAI

    if instant is None:
        return "-"
    if isinstance(instant, str):
        instant = dt.datetime.fromisoformat(instant)
    return str(instant.astimezone(SHANGHAI).strftime("%Y-%m-%d %H:%M"))


@calendar_app.command("moved")
def calendar_moved_command(
    revision: Annotated[int, typer.Argument(help="日历修订号 / calendar revision.", min=1)],
    as_json: JsonOption = False,
) -> None:
    """列出某次日历发布移动的期限 / the deadlines a calendar revision moved."""
    from store import queries
    from store.db import Store

    store = Store(get_settings().database_url)
    try:
        events = queries.moved_by_revision(store, revision)
    finally:
        store.dispose()
    if as_json:
        _print_json([e.model_dump(mode="json") for e in events])
        return
    _moved_table(
        [
            (
                e.case_id,
                e.payload.get("clock"),
                e.payload.get("before"),
                e.payload.get("deadline_at"),
                e.payload.get("provisional"),
            )
            for e in events
        ]
    )


@calendar_app.command("published")
def calendar_published_command(as_json: JsonOption = False) -> None:
    """列出已发布并生效的日历年度 / calendar years published to the store and in force."""
    from store.calendars import current_years
    from store.db import Store

    store = Store(get_settings().database_url)
    try:
        years = current_years(store)
    finally:
        store.dispose()
    if as_json:
        _print_json([y.model_dump(mode="json", by_alias=True) for y in years])
        return
    table = Table("日历 Calendar", "年度 Year", "修订 Revision", "依据 Source", "发布 Published")
    for y in years:
        table.add_row(y.calendar, str(y.year), str(y.revision), y.source, _local(y.published_at))
    out.print(table)
