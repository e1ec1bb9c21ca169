"""`onetrip figures`: the performance figures of a period, as the API gives them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from core.settings import get_settings
from evaluation.figures import FIGURES, Group, as_data, figures
from evaluation.periods import Period, PeriodError
from evaluation.reengineering import achieved_in
from evaluation.tally import Spread

SHOWN = (
    "received",
    "accepted",
    "approved",
    "rejected",
    "open",
    "on_time_rate",
    "days_used",
    "overdue",
    "one_trip_rate",
    "online_rate",
    "rating_mean",
    "good_rate",
    "task_on_time_rate",
    "waiting_days",
    "working_days",
)
"""The columns of the terminal table; ``--json`` gives every figure."""


def _period(text: str) -> Period:
    """The period, or the reason it is none and exit status 2."""
    try:
        return Period.parse(text)
    except PeriodError as exc:
        Console(stderr=True, soft_wrap=True).print(str(exc), markup=False)
        raise typer.Exit(2) from None


def _cell(value: Any, unit: str) -> str:
    if value is None:
        return "—"
    if isinstance(value, Spread):
        return f"{value.p50:.1f} / {value.p90:.1f}"
    if unit == "rate":
        return f"{value * 100:.1f}%"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def figures_command(
    period: Annotated[
        str, typer.Option("--period", "-p", help="2026、2026H2、2026Q3 或 2026-07 / the period.")
    ],
    by: Annotated[
        str,
        typer.Option(
            "--by", help="all | procedure | department | brand（默认 department / by default)."
        ),
    ] = "department",
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON.")] = False,
) -> None:
    """一个期间的绩效指标 / performance and satisfaction figures of a period."""
    import json

    from activities.clock import Calendars
    from store.db import Store
    from worker.temporal import calendars_from_settings

    err = Console(stderr=True, soft_wrap=True)
    chosen = _period(period)
    if by not in ("all", "procedure", "department", "brand"):
        err.print(
            f"--by 须为 all、procedure、department 或 brand / --by must be all, procedure,"
            f" department or brand, not {by[:20]!r}",
            markup=False,
        )
        raise typer.Exit(2)
    group: Group = by  # type: ignore[assignment]
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        calendars: Calendars = calendars_from_settings(store, settings)
        table = figures(store, chosen, group, calendars.current().get)
    finally:
        store.dispose()
    if as_json:
        print(json.dumps(as_data(table), ensure_ascii=False, indent=2))
        return
    units = {f.key: f.unit for f in FIGURES}
    names = {f.key: f.zh for f in FIGURES}
    out = Console(soft_wrap=True, width=None if Console().is_terminal else 200)
    shown = [
        k
        for k in SHOWN
        if by == "department" or k not in ("task_on_time_rate", "waiting_days", "working_days")
    ]
    grid = Table(
        "",
        *[names[k] + (" p50/p90" if units[k] == "days" else "") for k in shown],
        title=f"{chosen.label}（{chosen.first} – {chosen.end - dt.timedelta(days=1)}）",
    )
    for g in table.groups:
        grid.add_row(g.name, *[_cell(g.figures.get(k), units[k]) for k in shown])
    out.print(grid)


reengineer_app = typer.Typer(
    help="流程再造：实际成效与时间去向 / reengineering from recorded cases.", no_args_is_help=True
)


def _days(value: Spread | None) -> str:
    return "—" if value is None else f"{value.p50:.1f} / {value.p90:.1f}"


@reengineer_app.command("achieved")
def achieved_command(
    period: Annotated[
        str, typer.Option("--period", "-p", help="2026、2026H2、2026Q3 或 2026-07 / the period.")
    ],
    procedure: Annotated[
        str | None, typer.Option("--procedure", help="只看这个流程 / only this procedure.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON.")] = False,
) -> None:
    """实际成效对比承诺，各环节时间去向 / achieved against promised, and where the time goes."""
    import json
    from dataclasses import asdict

    from store.db import Store
    from worker.temporal import calendars_from_settings

    chosen = _period(period)
    settings = get_settings()
    store = Store(settings.database_url)
    try:
        calendars = calendars_from_settings(store, settings)
        results = achieved_in(store, chosen, calendars.current().get, procedure)
    finally:
        store.dispose()
    if as_json:
        print(json.dumps([asdict(r) for r in results], ensure_ascii=False, indent=2))
        return
    out = Console(soft_wrap=True)
    if not results:
        out.print(f"{chosen.label}：没有办件 / no cases in the period")
    for r in results:
        summary = Table(
            "",
            "承诺 Promised",
            "实际 Achieved",
            title=f"{r.name}（{r.code} v{r.version}）{chosen.label}：{r.cases} 件，{r.decided} 件办结",
        )
        summary.add_row("办结时限（工作日） p50 / p90", str(r.promised_days), _days(r.days))
        summary.add_row(
            "按时办结率 on time", "100%", "—" if r.on_time_rate is None else f"{r.on_time_rate:.0%}"
        )
        summary.add_row(
            "跑动次数 trips",
            str(r.after.trips),
            "—" if r.trips_mean is None else f"{r.trips_mean:.2f}",
        )
        summary.add_row(
            "件均补正 returns",
            "0",
            "—" if r.returns_per_case is None else f"{r.returns_per_case:.2f}",
        )
        out.print(summary)
        stages = Table(
            "环节 Stage",
            "部门 Department",
            "件 Tasks",
            "时限 Share",
            "待领取 Waiting p50/p90",
            "办理 Working p50/p90",
            "待补正 Supplement p50/p90",
        )
        for s in r.stages:
            mark = " ◀" if s is r.bottleneck else ""
            stages.add_row(
                s.stage_name + mark,
                s.department,
                str(s.tasks),
                f"{s.committed:.1f}",
                _days(s.waiting),
                _days(s.working),
                _days(s.suspended),
            )
        out.print(stages)


def report_command(
    period: Annotated[
        str, typer.Option("--period", "-p", help="2026、2026H2、2026Q3 或 2026-07 / the period.")
    ],
    department: Annotated[
        str | None, typer.Option("--department", help="只看这个部门 / one department only.")
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", help="写到这个目录 / the folder to write into.")
    ] = Path("reports"),
) -> None:
    """政务服务质量报告：一个 HTML 文件和每张表一个 CSV / the service-quality report."""
    import time

    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from evaluation.report import build, html, tables, to_csv
    from store.db import Store
    from worker.temporal import calendars_from_settings

    err = Console(stderr=True, soft_wrap=True)
    chosen = _period(period)
    settings = get_settings()
    store = Store(settings.database_url)
    started = time.perf_counter()
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), console=err
        ) as bar:
            step = bar.add_task("准备 / starting", total=None)

            def tell(what: str) -> None:
                bar.update(step, description=what)

            calendars = calendars_from_settings(store, settings)
            report = build(
                store,
                chosen,
                calendars.current().get,
                department,
                progress=tell,
                overdue_listed=None,  # every overdue case in its CSV
            )
            tell("写出文件 / writing the files")
            name = f"report-{chosen.label}" + (f"-{department}" if department else "")
            out_dir.mkdir(parents=True, exist_ok=True)
            page = out_dir / f"{name}.html"
            page.write_text(html(report), encoding="utf-8")
            written = [page]
            for table, rows in tables(report).items():
                path = out_dir / f"{name}-{table}.csv"
                path.write_text(to_csv(rows), encoding="utf-8")
                written.append(path)
    finally:
        store.dispose()
    seconds = time.perf_counter() - started
    for path in written:
        print(f"{path}\t{path.stat().st_size} bytes")
    err.print(f"用时 / took {seconds:.1f} s", markup=False)


@reengineer_app.command("simulate")
def simulate_command(
    design: Annotated[
        Path, typer.Argument(help="再造后的流程定义 YAML / the redesigned procedure.", exists=True)
    ],
    period: Annotated[
        str, typer.Option("--from", help="取这个期间的办件 / the period whose cases to replay.")
    ],
    runs: Annotated[int, typer.Option("--runs", min=1, max=100_000)] = 2000,
    seed: Annotated[int, typer.Option("--seed")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="输出 JSON / print JSON.")] = False,
) -> None:
    """用真实办件的用时推演再造方案 / try a redesign on the recorded durations of real cases."""
    import json
    from dataclasses import asdict

    from definitions.loader import load_paths
    from definitions.models import Procedure, ServiceItem
    from definitions.validate import validate_paths
    from evaluation.facts import cohort
    from evaluation.simulate import compare
    from store import queries
    from store.db import Store
    from worker.temporal import calendars_from_settings

    err = Console(stderr=True, soft_wrap=True)
    chosen = _period(period)
    settings = get_settings()
    proposed = [
        e.definition for e in load_paths([design]).loaded if isinstance(e.definition, Procedure)
    ]
    report = validate_paths([*settings.catalog, design])
    if not report.ok or len(proposed) != 1:
        for d in report.errors:
            err.print(d.render(), markup=False, highlight=False)
        if len(proposed) != 1:
            err.print(
                f"{design} 应恰好定义一个流程 / must define exactly one procedure", markup=False
            )
        raise typer.Exit(1)
    redesign = proposed[0]
    items: dict[str, ServiceItem] = {}
    for code in report.catalog.items:
        item = report.catalog.item(code)
        if item is not None:
            items[code] = item
    store = Store(settings.database_url)
    try:
        calendars = calendars_from_settings(store, settings)
        current = queries.get_procedure(store, redesign.code)
        if current is not None:
            items = {**{i.code: i for i in current.items}, **items}
        cases = [c for c in cohort(store, chosen) if c.procedure_code == redesign.code]
        result = compare(
            redesign,
            current.procedure if current is not None else None,
            items,
            cases,
            calendars.current().get,
            chosen.label,
            runs,
            seed,
        )
    finally:
        store.dispose()
    if as_json:
        print(json.dumps(asdict(result), ensure_ascii=False, indent=2))
        return
    out = Console(soft_wrap=True)
    table = Table(
        "",
        "承诺时限 Limit",
        "p50",
        "p90",
        "按时率 On time",
        "跑动 Trips",
        title=f"{redesign.name}（{redesign.code}）推演 / what-if, {chosen.label}",
    )
    table.add_row("实际 recorded", "", *_spread(result.recorded), "", "")
    for p in (result.current, result.redesigned):
        if p is None:
            continue
        table.add_row(
            f"{p.label} v{p.version}",
            str(p.committed_limit),
            *_spread(p.days),
            "—" if p.on_time_rate is None else f"{p.on_time_rate:.0%}",
            str(p.trips),
        )
    out.print(table)
    out.print(
        f"依据 / based on: {result.cases} 件办件 cases, {result.tasks} 个已办结环节 decided tasks,"
        f" {runs} 次推演 runs (seed {seed})",
        markup=False,
    )
    assumed = sorted(
        {*(result.current.assumed if result.current else []), *result.redesigned.assumed}
    )
    if assumed:
        out.print(
            f"无记录、按承诺份额估计的事项 / no record, committed share assumed: {', '.join(assumed)}",
            markup=False,
        )


def _spread(value: Spread | None) -> tuple[str, str]:
    return ("—", "—") if value is None else (f"{value.p50:.2f}", f"{value.p90:.2f}")
