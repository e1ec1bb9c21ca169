"""How fast supervisors find cases in a large store (PostgreSQL by default).

    .venv/bin/python -m bench.find_cases --cases 100000

Fills a fresh database with that many cases (and one review task each, in one of seven
departments) straight into the projections, then times the case-list queries the API runs:
the first page with its counts by state, free text, a department, overdue cases by deadline,
and a page deep in the list reached by its cursor. Prints the median and the slowest of
``--repeat`` runs of each.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import insert, text

from definitions.calendar import SHANGHAI
from store.db import Store, create_store_engine, migrate
from store.models import Case, Task
from store.queries import OPEN_CASES, CaseFilter, count_cases, find_cases
from workflows.contracts import CaseState

DEPARTMENTS = ["YZ-SCJG", "YZ-GA", "YZ-SW", "YZ-RS", "YZ-YB", "YZ-GJJ", "YZ-RMYH"]
STATES = [
    (CaseState.completed, 60),
    (CaseState.in_progress, 20),
    (CaseState.intake, 8),
    (CaseState.rating, 5),
    (CaseState.rejected, 4),
    (CaseState.withdrawn, 3),
]
NAMES = ["云州", "青山", "临江", "东湖", "南岭", "北辰", "西岸", "星河", "长风", "明德"]
TRADES = ["科技", "贸易", "餐饮", "建设", "物流", "文化", "医药", "农业"]


def fresh_database(url: str) -> str:
    """A new database on the server of ``url`` (PostgreSQL), named for this run."""
    if not url.startswith("postgresql"):
        return url
    name = f"onetrip_bench_{uuid.uuid4().hex[:8]}"
    engine = create_store_engine(url)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return url.rsplit("/", 1)[0] + "/" + name


def fill(store: Store, n: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = dt.datetime(2025, 1, 1, tzinfo=SHANGHAI)
    states = [s for s, w in STATES for _ in range(w)]
    batch_cases: list[dict[str, Any]] = []
    batch_tasks: list[dict[str, Any]] = []
    now = dt.datetime.now(dt.UTC)

    def flush() -> None:
        with store.engine.begin() as c:
            c.execute(insert(Case), batch_cases)
            c.execute(insert(Task), batch_tasks)
        batch_cases.clear()
        batch_tasks.clear()

    for i in range(n):
        case_id = f"OT-{i:020X}"
        submitted = start + dt.timedelta(minutes=rng.randrange(0, 600 * 24 * 60))
        deadline = submitted + dt.timedelta(days=rng.randrange(1, 30))
        state = rng.choice(states)
        company = f"{rng.choice(NAMES)}{rng.choice(TRADES)}{i}有限公司"
        person = f"申请人{rng.randrange(5000)}"
        department = rng.choice(DEPARTMENTS)
        overdue = state in OPEN_CASES and rng.random() < 0.1
        batch_cases.append(
            {
                "id": case_id,
                "procedure_code": rng.choice(["YZ-YJS-KBQY", "YZ-YJS-XSECS", "YZ-GCJS-SGXK"]),
                "procedure_version": 1,
                "content_hash": "sha256:bench",
                "procedure_name": "bench",
                "applicant_id": f"u{rng.randrange(20000)}",
                "state": state.value,
                "departments": ["YZ-ZWFW", department],
                "form": {"company_name": company, "legal_representative": person},
                "submitted_at": submitted,
                "deemed_accepted": False,
                "clock": "running",
                "missing": [],
                "deadline_at": deadline,
                "deadline_date": deadline.astimezone(SHANGHAI).date(),
                "provisional": False,
                "warned": overdue,
                "overdue": overdue,
                "escalated": False,
                "returns": 0,
                "trips": 0,
                "promised_trips": 0,
                "headline": {"company_name": company, "legal_representative": person},
                "search": f"{case_id} u {company} {person}".casefold(),
                "last_seq": 1,
                "updated_at": now,
            }
        )
        batch_tasks.append(
            {
                "id": f"{case_id}/review",
                "case_id": case_id,
                "task_key": "review",
                "stage_key": "s",
                "item_code": "I",
                "item_name": "审查",
                "department": department,
                "state": "approved",
                "clock": "ended",
                "days": 3,
                "created_at": submitted,
                "warned": False,
                "overdue": False,
                "escalated": False,
                "last_seq": 1,
                "updated_at": now,
            }
        )
        if len(batch_cases) == 5000:
            flush()
    if batch_cases:
        flush()
    if store.dialect == "postgresql":
        with store.engine.begin() as c:
            c.execute(text("ANALYZE"))


def timed(call: Callable[[], object], repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times), max(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument(
        "--database-url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    args = parser.parse_args()
    url = fresh_database(args.database_url)
    try:
        run(url, args.cases, args.repeat)
    finally:
        if url != args.database_url:
            engine = create_store_engine(args.database_url)
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}"'))
            engine.dispose()


def run(url: str, cases: int, repeat: int) -> None:
    migrate(url)
    store = Store(url)
    t0 = time.perf_counter()
    fill(store, cases)
    print(f"store: {store.dialect}, {cases} cases filled in {time.perf_counter() - t0:.1f} s")
    deep_key = None
    _, deep_key = find_cases(store, CaseFilter(), limit=200)
    for _ in range(49):  # 50 pages of 200 in
        _, deep_key = find_cases(store, CaseFilter(), after=deep_key, limit=200)
    open_overdue = CaseFilter(states=OPEN_CASES, overdue=True)
    queries: list[tuple[str, Callable[[], object]]] = [
        ("first page (50), no filter", lambda: find_cases(store, CaseFilter())),
        ("counts by state, no filter", lambda: count_cases(store, CaseFilter())),
        ("first page, free text '餐饮12'", lambda: find_cases(store, CaseFilter(text="餐饮12"))),
        ("counts, free text '餐饮12'", lambda: count_cases(store, CaseFilter(text="餐饮12"))),
        (
            "first page, department YZ-GA",
            lambda: find_cases(store, CaseFilter(department="YZ-GA")),
        ),
        ("open overdue by deadline", lambda: find_cases(store, open_overdue, sort="deadline")),
        (
            "one applicant's cases",
            lambda: find_cases(store, CaseFilter(applicant="u1234")),
        ),
        (
            "page 51 by cursor (after 10,000 rows)",
            lambda: find_cases(store, CaseFilter(), after=deep_key),
        ),
    ]
    print(f"{'query':<42} {'median ms':>10} {'max ms':>8}")
    for name, call in queries:
        median, worst = timed(call, repeat)
        print(f"{name:<42} {median:>10.1f} {worst:>8.1f}")
    store.dispose()


if __name__ == "__main__":
    main()
