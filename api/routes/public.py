"""What anyone may read: health, published procedures and their service guides."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import text

from api.deps import ClientDep, StoreDep
from api.errors import ENGINE, RETRY_AFTER, STORE, ApiError
from api.schemas import MAX_VERSION, ProcedureSummary
from definitions.guide import procedure_guide
from store import queries

router = APIRouter(tags=["public"])
log = structlog.get_logger("api")


@router.get("/healthz")
async def health(store: StoreDep, client: ClientDep) -> dict[str, str]:
    """200 when the store and Temporal answer (for load balancers and compose)."""

    def ping() -> None:
        with store.session() as session:
            session.execute(text("SELECT 1"))

    try:
        await run_in_threadpool(ping)
    except Exception as exc:
        log.warning("health: store unavailable", error=str(exc)[:300])
        raise unhealthy(STORE, "store_unavailable") from None
    try:
        await client.service_client.check_health(timeout=HEALTH_TIMEOUT)
    except Exception as exc:
        log.warning("health: engine unavailable", error=str(exc)[:300])
        raise unhealthy(ENGINE, "engine_unavailable") from None
    return {"status": "ok"}


HEALTH_TIMEOUT = dt.timedelta(seconds=5)
"""A health check answers within this, whatever the engine does (a load balancer waits)."""


def unhealthy(what: str, code: str) -> ApiError:
    """503 naming the part that is down, never the driver's own words."""
    zh, _, en = what.partition(" / ")
    return ApiError(
        status.HTTP_503_SERVICE_UNAVAILABLE,
        code,
        f"{zh}暂时不可用 / {en} is unavailable",
        {"Retry-After": str(RETRY_AFTER)},
    )


@router.get("/procedures")
def list_procedures(store: StoreDep) -> list[ProcedureSummary]:
    """Published procedures (latest version of each), for applicants to choose from."""
    latest: dict[str, ProcedureSummary] = {}
    for info in queries.list_procedures(store):
        snap = queries.get_procedure(store, info.code, info.version)
        if snap is None:
            continue
        summary = ProcedureSummary(
            code=snap.code,
            version=snap.version,
            name=snap.procedure.name,
            name_en=snap.procedure.name_en,
            committed_limit=snap.procedure.committed_limit,
            trips=snap.procedure.trips,
            content_hash=snap.content_hash,
        )
        if info.code not in latest or info.version > latest[info.code].version:
            latest[info.code] = summary
    return [latest[c] for c in sorted(latest)]


@router.get("/procedures/{code}")
def get_guide(
    code: Annotated[str, Path(max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.\-]*$")],
    store: StoreDep,
    version: Annotated[int | None, Query(ge=1, le=MAX_VERSION)] = None,
) -> dict[str, Any]:
    """The service guide (办事指南) and the application form of a published procedure."""
    snap = queries.get_procedure(store, code, version)
    if snap is None:
        versions = [p.version for p in queries.list_procedures(store) if p.code == code]
        if not versions:
            raise HTTPException(
                status.HTTP_404_NOT_FOUND, f"流程未发布 / no published procedure {code}"
            )
        shown = ", ".join(str(v) for v in versions)
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            f"流程 {code} 没有已发布的第 {version} 版（已发布：{shown}）/ procedure {code} has"
            f" no published version {version} (published: {shown})",
        )
    guide = procedure_guide(
        snap.procedure,
        {i.code: i for i in snap.items},
        {d.code: d for d in snap.departments},
    )
    return {
        "code": snap.code,
        "version": snap.version,
        "content_hash": snap.content_hash,
        "guide": asdict(guide),
        "form": snap.procedure.form.model_dump(mode="json"),
        "materials": [
            {"key": m.key, "name": m.name, "required": m.required, "tolerance": m.tolerance}
            for m in _unique_materials(snap)
        ],
    }


def _unique_materials(snap: Any) -> list[Any]:
    seen: dict[str, Any] = {}
    for item in snap.items:
        for m in item.materials:
            seen.setdefault(m.key, m)
    return list(seen.values())
