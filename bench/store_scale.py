"""A city's worth of cases on PostgreSQL: fill a database with two years of cases, then time
the queries people wait on.

    .venv/bin/python -m bench.store_scale --cases 1000000
    .venv/bin/python -m bench.store_scale --cases 1000000 --measure-only   # again, no refill

The database (``--database``, default ``onetrip_scale`` on the local server) is dropped and
made again unless ``--measure-only``. The cases are not invented column by column: a few
thousand *templates* are run offline through the engine's own rules and written by the
store's own writer (services.history, as ``onetrip dev --demo`` does) into a scratch SQLite
store — so departments, durations, returns, late tasks, ratings and follow-ups have the
distributions the simulated people give them. Each template is then copied many times with a
new case number and applicant, shifted by whole weeks (weekdays stay weekdays) to cover two
years, and written with COPY. The newest cases are cut at "now" so that inboxes, warnings and
red cards hold open work. Shifted copies keep their template's working-day arithmetic, so a
copy's deadline may ignore a holiday of its own weeks: fine for timing queries, not for
figures about holidays.

Then each query is called ``--repeat`` times and its p50, p95 and max printed in
milliseconds: a department's inbox (first page and a deep page), the front desk's queue, the
warning and overdue lists with filters, a case timeline, the event feed after a cursor, the
figures of one department and of all departments for a half year, and the whole half-year
report.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import random
import re
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from sqlalchemy import JSON, Date, Table, event, select, text
from sqlalchemy.engine import make_url

from activities.clock import Calendars
from api.app import create_app
from bench.pg import SERVER, fresh_database, scratch_store
from core.settings import get_settings
from definitions.calendar import SHANGHAI
from definitions.loader import calendar_years
from definitions.validate import validate_paths
from evaluation import rollups
from evaluation.measures import month_of
from evaluation.periods import Period
from evaluation.report import overdue_cases
from services.history import write_history
from store import queries
from store.db import Store
from store.models import Base, ProjectionRecord, UTCDateTime
from store.users import create_user, get_user, issue_token
from store.writes import publish_catalog
from workflows.contracts import Role, TaskState

TABLES = ("cases", "tasks", "events", "clocks", "followups", "case_facts")
"""The tables a case's rows live in (by ``case_id``; ``cases`` by ``id``)."""
END = dt.datetime(2026, 11, 2, 1, 0, tzinfo=dt.UTC)
"""The fill's "now": a Monday morning in Beijing; cases reach two years back from it."""
YEARS = 2
OPEN_SHARE = 0.01
"""Cases submitted in the last weeks and still open at ``END``: the inboxes' work."""
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2}|Z)?)?$")


# --------------------------------------------------------------------------- templates


def templates(count: int, seed: int) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """``count`` closed cases run by the rules into a scratch store, as rows by table, by case."""
    scratch, published, calendars = scratch_store()
    write_history(
        scratch, published, calendars, end=END, cases=count, days=182, seed=seed, prefix="T"
    )
    # Each template measured as the figures' projection measures it (case_facts).
    rollups.catch_up(scratch, calendars.get)
    rows: dict[str, dict[str, list[dict[str, Any]]]] = defaultdict(lambda: defaultdict(list))
    with scratch.session() as session:
        for name in TABLES:
            table = Base.metadata.tables[name]
            key = table.c.id if name == "cases" else table.c.case_id
            for row in session.execute(select(table).order_by(key)).mappings():
                rows[str(row[key.name])][name].append(dict(row))
    scratch.dispose()
    return rows


# --------------------------------------------------------------------------- copies


def _shift(value: Any, delta: dt.timedelta) -> Any:
    """Every instant and date in a value moved by ``delta`` (JSON included)."""
    if isinstance(value, dt.datetime):
        return value + delta
    if isinstance(value, dt.date):
        return value + delta
    if isinstance(value, str) and 10 <= len(value) <= 35 and value[:2] == "20" and ISO.match(value):
        if len(value) == 10:
            return (dt.date.fromisoformat(value) + delta).isoformat()
        return (dt.datetime.fromisoformat(value.replace("Z", "+00:00")) + delta).isoformat()
    if isinstance(value, dict):
        return {k: _shift(v, delta) for k, v in value.items()}
    if isinstance(value, list):
        return [_shift(v, delta) for v in value]
    return value


def _rename(value: Any, old: str, new: str) -> Any:
    if isinstance(value, str):
        return value.replace(old, new) if old in value else value
    if isinstance(value, dict):
        return {k: _rename(v, old, new) for k, v in value.items()}
    if isinstance(value, list):
        return [_rename(v, old, new) for v in value]
    return value


def copy_of(
    template: dict[str, list[dict[str, Any]]],
    old: str,
    new: str,
    applicant: str,
    delta: dt.timedelta,
    cut: dt.datetime | None,
) -> dict[str, list[dict[str, Any]]]:
    """A template's rows as another case: its number, applicant and time; cut at ``cut``
    (what had not happened by then is left out, and the case is open again)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for name, rows in template.items():
        moved = []
        for row in rows:
            row = _rename(_shift(row, delta), old, new)
            if name == "cases":
                row["applicant_id"] = applicant
            moved.append(row)
        out[name] = moved
    if cut is not None:
        _cut(out, cut)
    return out


INSTANT_IN_JSON = re.compile(
    r'"(20\d\d-\d\d-\d\d(?:T\d\d:\d\d:\d\d(?:\.\d+)?(?:[+-]\d\d:\d\d|Z)?)?)"'
)


class Plan:
    """A template prepared once for its many copies: each row as the values COPY writes, with
    where the instants, the case number and the JSON are, so that a copy is a few list
    operations per row (the closed copies; an open one is cut row by row)."""

    def __init__(self, name: str, rows: dict[str, list[dict[str, Any]]], writer: Writer) -> None:
        self.name = name
        self.rows = rows
        self.tables: list[tuple[str, list[list[Any]], list[int], list[int], list[int]]] = []
        for table, some in rows.items():
            columns = writer.columns[table]
            json_columns = writer.json[table]
            values = []
            for row in some:
                values.append(
                    [
                        json.dumps(row[c], ensure_ascii=False)
                        if c in json_columns and row.get(c) is not None
                        else row.get(c)
                        for c in columns
                    ]
                )
            first = values[0] if values else []
            instants = [i for i, v in enumerate(first) if isinstance(v, dt.date)]
            numbers = [i for i, v in enumerate(first) if isinstance(v, str) and v.startswith(name)]
            texts = [i for i, c in enumerate(columns) if c in json_columns]
            self.tables.append((table, values, instants, numbers, texts))
        self.applicant = writer.columns["cases"].index("applicant_id")
        self.search = writer.columns["cases"].index("search")
        self.template_applicant = str(rows["cases"][0]["applicant_id"])
        # A copy falls in another month than its template: its measure says which.
        self.submitted: dt.datetime = rows["cases"][0]["submitted_at"]
        self.month = (
            writer.columns["case_facts"].index("measure"),
            writer.columns["case_facts"].index("month"),
        )
        for table, values, *_ in self.tables:
            if table == "case_facts":
                for facts in values:
                    old_month = facts[self.month[1]]
                    facts[self.month[0]] = re.sub(
                        rf'"month": ?"{old_month}"', '"month": "@@MONTH@@"', facts[self.month[0]]
                    )

    def copy(self, number: str, applicant: str, delta: dt.timedelta) -> dict[str, list[list[Any]]]:
        old = self.name
        cut = len(old)

        def moved(match: re.Match[str]) -> str:
            return f'"{_shift(match.group(1), delta)}"'

        out: dict[str, list[list[Any]]] = {}
        for table, values, instants, numbers, texts in self.tables:
            rows = []
            for template_row in values:
                row = list(template_row)
                for i in instants:
                    if row[i] is not None:
                        row[i] = row[i] + delta
                for i in numbers:
                    row[i] = number + row[i][cut:]
                for i in texts:
                    text_value = row[i]
                    if text_value is not None:
                        if old in text_value:
                            text_value = text_value.replace(old, number)
                        row[i] = INSTANT_IN_JSON.sub(moved, text_value)
                rows.append(row)
            if table == "case_facts":
                month = month_of(self.submitted + delta)
                for row in rows:
                    row[self.month[0]] = row[self.month[0]].replace("@@MONTH@@", month)
                    row[self.month[1]] = month
            if table == "cases":
                for row in rows:
                    row[self.applicant] = applicant
                    row[self.search] = (
                        str(row[self.search])
                        .replace(old.casefold(), number.casefold())
                        .replace(self.template_applicant, applicant)
                    )
            out[table] = rows
        return out


def _cut(rows: dict[str, list[dict[str, Any]]], cut: dt.datetime) -> None:
    """The case as it stood at ``cut``: later events and tasks gone, decisions not yet made."""
    rows["events"] = [e for e in rows.get("events", []) if e["at"] <= cut]
    rows["followups"] = []
    rows["case_facts"] = []  # measured by the projection after the fill, as it stands
    tasks = []
    for t in rows.get("tasks", []):
        if t["created_at"] > cut:
            continue
        if t["decided_at"] is not None and t["decided_at"] > cut:
            claimed = t["claimed_at"] is not None and t["claimed_at"] <= cut
            t["state"] = TaskState.claimed.value if claimed else TaskState.open.value
            t["assignee"] = t["assignee"] if claimed else None
            t["claimed_at"] = t["claimed_at"] if claimed else None
            t["decided_at"] = None
            t["reason"] = None
        if t["state"] in (TaskState.open.value, TaskState.claimed.value):
            t["warned"] = t["warning_at"] is not None and t["warning_at"] <= cut
            t["overdue"] = t["deadline_at"] is not None and t["deadline_at"] <= cut
        tasks.append(t)
    rows["tasks"] = tasks
    for c in rows.get("cases", []):
        accepted = c["accepted_at"] is not None and c["accepted_at"] <= cut
        c["state"] = "in_progress" if accepted else "intake"
        c["last_seq"] = max((e["seq"] for e in rows["events"]), default=1)
        for later in ("decided_at", "delivered_at", "closed_at"):
            if c[later] is not None and c[later] > cut:
                c[later] = None
        if c["closed_at"] is None:
            c["rating"] = c["rating_comment"] = None
        c["warned"] = c["warning_at"] is not None and c["warning_at"] <= cut
        c["overdue"] = c["deadline_at"] is not None and c["deadline_at"] <= cut


# --------------------------------------------------------------------------- writing


class Writer:
    """COPY of each table's rows into PostgreSQL, a batch at a time."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.columns: dict[str, list[str]] = {}
        self.json: dict[str, set[str]] = {}
        self.instants: dict[str, list[int]] = {}
        for name in TABLES:
            table: Table = Base.metadata.tables[name]
            self.columns[name] = [
                c.name for c in table.columns if not (name == "events" and c.name == "id")
            ]
            self.json[name] = {c.name for c in table.columns if isinstance(c.type, JSON)}
            self.instants[name] = [
                i
                for i, c in enumerate(c for c in table.columns if c.name in self.columns[name])
                if isinstance(c.type, UTCDateTime | Date)
            ]
        self.pending: dict[str, list[list[Any]]] = defaultdict(list)
        self.position = 0
        """The feed position of the last event written: copies are numbered in turn."""
        self.at_position = self.columns["events"].index("position")

    def add(self, rows: dict[str, list[dict[str, Any]]]) -> None:
        """Rows as dicts (an open copy, cut row by row)."""
        for name, some in rows.items():
            columns = self.columns[name]
            json_columns = self.json[name]
            self.pending[name].extend(
                [
                    Jsonb(row[c]) if c in json_columns and row.get(c) is not None else row.get(c)
                    for c in columns
                ]
                for row in some
            )

    def add_values(self, rows: dict[str, list[list[Any]]]) -> None:
        for name, some in rows.items():
            self.pending[name].extend(some)

    def flush(self) -> None:
        with self.conn.cursor() as cur:
            for name in TABLES:
                rows = self.pending.pop(name, [])
                if not rows:
                    continue
                columns = self.columns[name]
                if name == "events":
                    for row in rows:
                        self.position += 1
                        row[self.at_position] = self.position
                with cur.copy(f"COPY {name} ({', '.join(columns)}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
        self.conn.commit()


def fill(url: str, cases: int, template_count: int, seed: int) -> None:
    """Make the database afresh and write ``cases`` cases into it."""
    fresh_database(url, "onetrip_scale")
    target = make_url(url)
    store = Store(url)
    store.migrate()
    settings = get_settings()
    report = validate_paths(settings.catalog)
    assert report.ok
    assert report.catalog is not None
    publish_catalog(store, report.catalog)
    store.dispose()

    started = time.perf_counter()
    pool = templates(template_count, seed)
    names = sorted(pool)
    conn = psycopg.connect(
        target.set(drivername="postgresql").render_as_string(hide_password=False)
    )
    writer = Writer(conn)
    plans = {name: Plan(name, pool[name], writer) for name in names}
    print(
        f"templates: {len(names)} closed cases run by the rules in {time.perf_counter() - started:.1f} s"
    )
    rng = random.Random(seed)
    weeks = (YEARS * 365 - 182) // 7
    columns = Progress(
        TextColumn("filling"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,} cases"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    began = time.perf_counter()
    opened: list[str] = []
    with columns as progress:
        bar = progress.add_task("fill", total=cases)
        for index in range(cases):
            name = names[rng.randrange(len(names))]
            template = pool[name]
            submitted = template["cases"][0]["submitted_at"]
            if rng.random() < OPEN_SHARE:
                # Submitted in the last three weeks before END, cut at END: open work.
                delta = END - dt.timedelta(days=rng.uniform(0.2, 21)) - submitted
                delta = dt.timedelta(days=round(delta / dt.timedelta(days=7)) * 7)
                cut: dt.datetime | None = END
                if submitted + delta >= END:
                    delta -= dt.timedelta(days=7)
            else:
                delta = -dt.timedelta(weeks=rng.randrange(weeks + 1))
                cut = None
            number = f"S{index:07d}-{name.split('-')[-1]}"
            applicant = f"applicant-{rng.randrange(cases // 3 + 1):07d}"
            if cut is None:
                writer.add_values(plans[name].copy(number, applicant, delta))
            else:
                writer.add(copy_of(template, name, number, applicant, delta, cut))
                opened.append(number)
            if index % 2000 == 1999:
                writer.flush()
                progress.update(bar, completed=index + 1)
        writer.flush()
        progress.update(bar, completed=cases)
    conn.execute("ANALYZE")
    conn.commit()
    spent = time.perf_counter() - began
    counts = {t: _count(conn, t) for t in TABLES}
    conn.close()
    print(
        f"filled {cases:,} cases in {spent:.0f} s ({cases / spent:,.0f} cases/s): "
        + ", ".join(f"{t} {n:,}" for t, n in counts.items())
    )
    project(url, opened, writer.position)


def project(url: str, opened: list[str], head: int) -> None:
    """The figures' projection of the fill: month tallies added up from the copied measures,
    the open copies measured as they stand, the projection's cursor at the feed's end."""
    began = time.perf_counter()
    store = Store(url)
    measured = rollups.rebuild(store)
    settings = get_settings()
    calendars = Calendars(calendar_years(settings.catalog), store)
    brands = rollups.brands_of(store)
    for start in range(0, len(opened), 2000):
        with store.session() as session:
            now = dt.datetime.now(dt.UTC)
            rollups.remeasure(session, opened[start : start + 2000], calendars.get, brands, now)
    with store.session() as session:
        session.merge(
            ProjectionRecord(
                name=rollups.PROJECTION, cursor=head, updated_at=dt.datetime.now(dt.UTC)
            )
        )
        session.execute(text("ANALYZE case_facts"))
        session.execute(text("ANALYZE figure_tallies"))
    store.dispose()
    print(
        f"figures projected in {time.perf_counter() - began:.0f} s: {measured:,} measures"
        f" added up, {len(opened):,} open cases measured"
    )


def _count(conn: psycopg.Connection[Any], table: str) -> int:
    row = conn.execute(f"SELECT count(*) FROM {table}").fetchone()
    return int(row[0]) if row else 0


# --------------------------------------------------------------------------- measuring


PEOPLE = {
    "bench-supervisor": (Role.supervisor, None),
    "bench-desk": (Role.caseworker, "YZ-ZWFW"),
}


def _tokens(store: Store, busiest: str) -> dict[str, str]:
    """A bearer token for each person the bench acts as (made on first use)."""
    tokens = {}
    for user, (role, department) in {
        **PEOPLE,
        "bench-caseworker": (Role.caseworker, busiest),
    }.items():
        if get_user(store, user) is None:
            create_user(store, id=user, name=user, role=role, department=department)
        tokens[user] = issue_token(store, user, "bench")[1]
    return tokens


def _subjects(store: Store) -> tuple[Period, str, str, int]:
    """What the timed calls ask about: the fill's last whole half year, the department with
    the most open review tasks, a case from the middle of the store, the feed's middle."""
    half = Period.parse(f"{(END - dt.timedelta(days=200)).astimezone(SHANGHAI).year}H1")
    with store.session() as session:
        busiest = session.execute(
            text(
                "SELECT department FROM tasks WHERE state IN ('open','claimed') AND kind = 'review'"
                " GROUP BY department ORDER BY count(*) DESC LIMIT 1"
            )
        ).scalar_one()
        some_case = session.execute(
            text(
                "SELECT id FROM cases ORDER BY id"
                " OFFSET 500000 % (SELECT count(*) FROM cases) LIMIT 1"
            )
        ).scalar_one()
        middle = session.execute(text("SELECT max(position) / 2 FROM events")).scalar_one()
    return half, str(busiest), str(some_case), int(middle or 0)


async def _measure(url: str, repeat: int) -> None:
    store = Store(url)
    half, busiest, some_case, middle = _subjects(store)
    tokens = _tokens(store, busiest)
    settings = get_settings().model_copy(update={"database_url": url})
    app = create_app(settings, store=store)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://bench", timeout=600
        ) as http,
    ):

        async def get(user: str, path: str) -> httpx.Response:
            answer = await http.get(path, headers={"Authorization": f"Bearer {tokens[user]}"})
            assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
            return answer

        async def deep(user: str, path: str, pages: int) -> tuple[str, int]:
            """The path of page ``pages`` of a list (or of its last page), followed by its
            cursors, and which page that is."""
            at, page = path, 1
            while page < pages:
                cursor = (await get(user, at)).headers.get("X-Next-Cursor")
                if not cursor:
                    break
                sep = "&" if "?" in path else "?"
                at, page = f"{path}{sep}cursor={cursor}", page + 1
            return at, page

        worker, desk, boss = "bench-caseworker", "bench-desk", "bench-supervisor"
        inbox_deep, inbox_page = await deep(worker, "/inbox", 40)
        overdue_deep, overdue_page = await deep(boss, "/supervision/tasks?severity=overdue", 20)
        figures = f"/supervision/figures?period={half.label}&by=department"
        checks: list[tuple[str, str, str, int]] = [
            (f"inbox {busiest}, first page", worker, "/inbox", repeat),
            (f"inbox {busiest}, page {inbox_page} (cursor)", worker, inbox_deep, repeat),
            ("desk queue (YZ-ZWFW)", desk, "/inbox", repeat),
            ("overdue list, first page", boss, "/supervision/tasks?severity=overdue", repeat),
            (f"overdue list, page {overdue_page} (cursor)", boss, overdue_deep, repeat),
            (
                f"overdue list, {busiest}",
                boss,
                f"/supervision/tasks?severity=overdue&department={busiest}",
                repeat,
            ),
            (
                "warning list, YZ-YJS-KBQY",
                boss,
                "/supervision/tasks?severity=warning&procedure=YZ-YJS-KBQY",
                repeat,
            ),
            ("case finder, first page and counts", boss, "/supervision/cases", repeat),
            (
                "case finder, open overdue by deadline",
                boss,
                "/supervision/cases?overdue=true&state=in_progress&sort=deadline",
                repeat,
            ),
            ("case timeline", boss, f"/cases/{some_case}/timeline", repeat),
            (
                "feed after a cursor (100 events)",
                boss,
                f"/events?after={middle}&limit=100",
                repeat,
            ),
            (f"figures {half.label}, {busiest}", boss, f"{figures}&key={busiest}", repeat),
            (f"figures {half.label}, all departments", boss, figures, repeat),
            (
                f"figures {half.label}, by procedure",
                boss,
                f"/supervision/figures?period={half.label}&by=procedure",
                repeat,
            ),
            (
                f"report {half.label}, {busiest}",
                boss,
                f"/supervision/report?period={half.label}&department={busiest}",
                max(3, repeat // 5),
            ),
            (
                f"report {half.label}, whole",
                boss,
                f"/supervision/report?period={half.label}",
                max(3, repeat // 5),
            ),
        ]
        print(f"{'API call':44} {'calls':>5} {'p50 ms':>9} {'p95 ms':>9} {'max ms':>9}")
        for label, user, path, n in checks:
            await get(user, path)  # warm: the first call after a fill reads cold pages
            spent = []
            for _ in range(n):
                began = time.perf_counter()
                await get(user, path)
                spent.append((time.perf_counter() - began) * 1000)
            spent.sort()
            p95 = spent[min(len(spent) - 1, max(0, round(0.95 * len(spent)) - 1))]
            print(
                f"{label:44} {n:5d} {statistics.median(spent):9.1f} {p95:9.1f} {spent[-1]:9.1f}",
                flush=True,
            )
    store.dispose()


def explain(url: str) -> None:
    """``EXPLAIN (ANALYZE, BUFFERS)`` of the statements behind the main lists and pages: each
    store query is run once while its SQL is captured, then each SELECT is explained with the
    same parameters (docs/performance.md keeps these plans)."""
    store = Store(url)
    captured: list[tuple[str, Any]] = []

    @event.listens_for(store.engine, "before_cursor_execute")
    def grab(_c: Any, _cur: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "WITH")):
            captured.append((statement, parameters))

    half, busiest, some_case, middle = _subjects(store)
    after = None
    for _ in range(39):
        page = queries.inbox(store, busiest, after=after)
        if len(page) < 50:
            break
        after = queries.task_key(page[-1])
    calls: list[tuple[str, Callable[[], Any]]] = [
        (f"inbox {busiest}, first page", lambda: queries.inbox(store, busiest)),
        (f"inbox {busiest}, a deep page", lambda: queries.inbox(store, busiest, after=after)),
        ("desk queue", lambda: queries.inbox(store, "YZ-ZWFW")),
        ("overdue list, first page", lambda: queries.overdue_tasks(store, limit=100)),
        (
            f"overdue list, {busiest}",
            lambda: queries.overdue_tasks(store, department=busiest, limit=100),
        ),
        (
            "warning list, YZ-YJS-KBQY",
            lambda: queries.warning_tasks(store, procedure="YZ-YJS-KBQY", limit=100),
        ),
        ("card counts by department", lambda: queries.flagged_counts(store)),
        ("case finder, first page", lambda: queries.find_cases(store, queries.CaseFilter())),
        ("case finder, counts", lambda: queries.count_cases(store, queries.CaseFilter())),
        ("case timeline", lambda: queries.timeline(store, some_case)),
        ("feed after a cursor", lambda: queries.events_after(store, middle, 100)),
        (
            f"figures {half.label}: its month tallies",
            lambda: rollups.period_tallies(store, half, ["department"]),
        ),
        (f"report {half.label}: overdue cases", lambda: overdue_cases(store, half)),
    ]
    with store.engine.connect() as connection:
        for label, call in calls:
            captured.clear()
            call()
            statements = list(captured)
            print(f"\n### {label}\n")
            for statement, parameters in statements:
                if "pg_advisory" in statement:
                    continue
                plan = connection.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
                ).scalars()
                print("```")
                print(" ".join(statement.split())[:600])
                print("\n".join(plan))
                print("```")
            connection.rollback()
    store.dispose()


def measure(url: str, repeat: int) -> None:
    """Time each list, page, figure and report through the API in process (HTTP over ASGI:
    the handlers, the queries, the answers' JSON or HTML)."""
    asyncio.run(_measure(url, repeat))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=1_000_000)
    parser.add_argument("--database", default=f"{SERVER}/onetrip_scale")
    parser.add_argument("--templates", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--measure-only", action="store_true")
    parser.add_argument(
        "--explain", action="store_true", help="print the plans of the main queries instead"
    )
    args = parser.parse_args(argv)
    if args.explain:
        explain(args.database)
        return
    if not args.measure_only:
        fill(args.database, args.cases, args.templates, args.seed)
    measure(args.database, args.repeat)


if __name__ == "__main__":
    main()
