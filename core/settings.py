"""Settings from ``ONETRIP_*`` environment variables (and a ``.env`` file when present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

import definitions

DEFAULT_CATALOG = Path(definitions.__file__).parent / "catalog"


class Settings(BaseSettings):
    """Process settings; every field is ``ONETRIP_<NAME>`` in the environment."""

    model_config = SettingsConfigDict(env_prefix="ONETRIP_", env_file=".env", extra="ignore")

    catalog: list[Path] = Field(default_factory=lambda: [DEFAULT_CATALOG])
    """Folders or files holding the definitions (JSON list in the environment)."""
    database_url: str = "sqlite:///.onetrip/onetrip.db"
    """SQLAlchemy URL of the store: SQLite embedded, ``postgresql+psycopg://…`` in production."""
    temporal_address: str | None = None
    """Temporal's frontend (``host:port``). Unset: Temporal's own environment configuration
    (``TEMPORAL_ADDRESS``, ``TEMPORAL_PROFILE`` and its profile file, which also carry the API
    key and TLS certificates), else ``localhost:7233``."""
    temporal_namespace: str | None = None
    """Unset: Temporal's environment configuration, else ``default``."""
    task_queue: str = "onetrip-cases"
    worker_threads: int = 16
    """Threads for blocking activities (store writes)."""
    workflow_sandbox: bool = True
    """Run workflow code in Temporal's sandbox (a guard against non-determinism); turning it
    off buys throughput once the replay tests pass (see docs/performance.md)."""
    shutdown_grace_seconds: float = 30.0
    """On SIGTERM, how long in-flight activities may take to finish."""
    calendar_refresh_seconds: float = Field(30.0, gt=0)
    """How often a worker looks for newly published calendar years (a recalculation asks for
    a new revision at once anyway)."""
    update_timeout_seconds: float = Field(10.0, gt=0, le=300)
    """How long the API waits for a case to answer an action before it answers 503 with
    Retry-After (the action still completes once)."""
    max_body_bytes: int = Field(1_048_576, ge=1024)
    """Largest request body the API reads (413 beyond)."""
    notify_webhook_url: str | None = None
    """Where applicants' notifications go (an SMS or mail gateway); unset: logged and kept."""
    notify_webhook_secret: str | None = None
    """Shared secret signing each webhook body (HMAC-SHA256); required with the URL."""
    notify_interval_seconds: float = Field(5.0, gt=0)
    """How often a worker looks for due notifications to send."""
    feed_interval_seconds: float = Field(5.0, gt=0)
    """How often a worker pushes new feed events to the subscribed supervision systems."""
    session_idle_minutes: int = Field(30, ge=1, le=24 * 60)
    """A person signed in to the pages is signed out after this long without a request."""
    session_hours: int = Field(8, ge=1, le=24 * 7)
    """… and this long after signing in, whatever they do (a working day)."""
    sign_in_attempts: int = Field(5, ge=1, le=100)
    """Failed sign-ins of one user id within ``sign_in_window_minutes`` that lock it for
    ``sign_in_lock_minutes`` (an administrator's new password lifts the lock)."""
    sign_in_address_attempts: int = Field(20, ge=1, le=10_000)
    """Failed sign-ins from one client address in the window that lock the address."""
    forwarded_allow_ips: str = Field("127.0.0.1", max_length=2000)
    """Proxies whose ``X-Forwarded-For`` names the client (comma-separated addresses, or ``*``
    when only the proxy can reach the API): behind a reverse proxy, set its address, or every
    person counts as the proxy's address for the sign-in limits."""
    sign_in_window_minutes: int = Field(15, ge=1, le=24 * 60)
    sign_in_lock_minutes: int = Field(15, ge=1, le=24 * 60)
    cookie_secure: bool = True
    """Send the session cookie over HTTPS only (browsers treat 127.0.0.1 and localhost as
    secure, so ``onetrip dev`` works with it on); switch off only behind a TLS-terminating
    proxy that speaks plain HTTP to the API."""
    assets_dir: Path | None = None
    """Where the pages' third-party assets were installed (``npm ci`` of web/package.json);
    unset: web/node_modules beside the code (``make setup``)."""
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    admin_token: str | None = None
    """A bootstrap admin bearer token: registered at API start-up if no admin exists."""
    state_dir: Path = Path(".onetrip")
    """Where `onetrip dev` keeps the dev server's database, the store and demo tokens."""
    log_format: Literal["auto", "console", "json"] = "auto"
    """``auto``: coloured console lines in a terminal, JSON lines otherwise."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


@lru_cache
def get_settings() -> Settings:
    """The process-wide settings, read once."""
    return Settings()
