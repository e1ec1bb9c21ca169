"""The applicant's pages: apply with the form the procedure declares, follow my cases, hand in
what is missing, withdraw, rate, and read the follow-up of a bad rating.

Each page calls the JSON API's own handler (api.routes.cases, api.routes.followups) with the
signed-in applicant as its user: the same validation (a field's error comes back with the
field's name and is shown beside it), the same scope, the same idempotency — the application
form carries a one-time key, so submitting it twice makes one case.
"""

from __future__ import annotations

import math
import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Form, HTTPException, Request, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from starlette.datastructures import FormData
from temporalio.client import Client

from api.applicant import ApplicantCase
from api.deps import get_client, get_settings_dep, get_store
from api.routes import cases as case_api
from api.routes.cases import CaseId
from api.routes.followups import case_followups
from api.schemas import Rating, SubmitCase, Supplement, Withdraw
from definitions.guide import guide_materials
from definitions.models import FieldType, FormSchema
from store import queries
from store.db import Store
from web.pages import ProcedureCode, VisitorDep, check_csrf, error_text, render, signed_in
from workflows.contracts import Role

router = APIRouter(include_in_schema=False)
DIMENSIONS = ("overall", "efficiency", "guide_accuracy", "convenience", "usability")


def _value(kind: FieldType, text: str) -> Any:
    """A form field as typed into the page, as the form schema wants it; what does not parse
    is passed on as typed, for the API's check to refuse by name (never coerced)."""
    text = text.strip()
    if text == "":
        return None
    if kind is FieldType.integer:
        try:
            return int(text)
        except ValueError:
            return text
    if kind is FieldType.number:
        try:
            number = float(text)
        except ValueError:
            return text
        return number if math.isfinite(number) else text
    if kind is FieldType.boolean:
        return {"yes": True, "no": False}.get(text, text)
    return text


def _form(schema: FormSchema, data: FormData) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for field in schema.fields:
        raw = data.get(f"f_{field.key}")
        if isinstance(raw, str):
            value = _value(field.type, raw[:2000])
            if value is not None:
                out[field.key] = value
    return out


def _field_errors(detail: Any) -> tuple[dict[str, str], str | None]:
    """The API's field errors by form field (``body.form.<key>``), and any other message."""
    if not isinstance(detail, list):
        return {}, str(detail)[:300]
    fields: dict[str, str] = {}
    other: list[str] = []
    for e in detail:
        loc = [str(p) for p in e.get("loc", [])] if isinstance(e, dict) else []
        msg = str(e.get("msg", ""))[:200] if isinstance(e, dict) else str(e)[:200]
        if len(loc) >= 3 and loc[:2] == ["body", "form"]:
            fields.setdefault(loc[2], msg)
        else:
            other.append(f"{'.'.join(loc[1:])}: {msg}" if loc else msg)
    return fields, ("；".join(other) or None)


def _with_key(request: Request, key: str) -> Request:
    """The request as the API reads it, carrying the form's one-time key as its
    Idempotency-Key (a form submitted twice makes one case)."""
    scope = dict(request.scope)
    scope["headers"] = [
        *[(k, v) for k, v in request.scope["headers"] if k.lower() != b"idempotency-key"],
        (b"idempotency-key", key.encode()),
    ]
    return Request(scope, request.receive)


async def _snapshot(store: Store, code: str) -> Any:
    snap = await run_in_threadpool(queries.get_procedure, store, code[:64], None)
    if snap is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"事项未发布 / no procedure {code[:64]}")
    return snap


@router.get("/apply/{code}", response_class=HTMLResponse)
async def apply_page(
    code: ProcedureCode,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
) -> HTMLResponse:
    signed_in(who, Role.applicant)
    snap = await _snapshot(store, code)
    return _apply(request, who, snap, {}, set(), {}, None)


def _apply(
    request: Request,
    who: Any,
    snap: Any,
    values: dict[str, Any],
    handed: set[str],
    errors: dict[str, str],
    error: str | None,
    status_code: int = 200,
) -> HTMLResponse:
    return render(
        request,
        who,
        "apply.html",
        status_code=status_code,
        snap=snap,
        fields=snap.procedure.form.fields,
        materials=guide_materials(list(snap.items)),
        values=values,
        handed=handed,
        errors=errors,
        error=error,
        submission=secrets.token_urlsafe(18),
    )


@router.post("/apply/{code}")
async def apply(
    code: ProcedureCode,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
) -> Response:
    """Submit the application through the API's own handler; errors shown beside the fields."""
    data = await request.form()
    sent = data.get("csrf")
    signed = check_csrf(request, who, sent if isinstance(sent, str) else None)
    if signed.user.role is not Role.applicant:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有申请人可以申请 / applicants only")
    snap = await _snapshot(store, code)
    values = _form(snap.procedure.form, data)
    handed = {m for m in data.getlist("materials") if isinstance(m, str) and m}
    key = data.get("submission")
    try:
        body = SubmitCase.model_validate(
            {"procedure": snap.code, "form": values, "materials": sorted(handed)[:200]}
        )
        answer = await case_api.submit(
            body,
            _with_key(request, key if isinstance(key, str) and key else secrets.token_hex(16)),
            signed.user,
            store,
            client,
            get_settings_dep(request),
        )
    except ValidationError as exc:
        fields, other = _field_errors(
            [{"loc": ["body", *e["loc"]], "msg": e["msg"]} for e in exc.errors()]
        )
        return _apply(request, who, snap, values, handed, fields, other, 422)
    except HTTPException as exc:
        if exc.status_code >= 500:
            raise
        fields, other = _field_errors(exc.detail)
        return _apply(request, who, snap, values, handed, fields, other, exc.status_code)
    return RedirectResponse(f"/my/{answer.case_id}", status.HTTP_303_SEE_OTHER)


@router.get("/my", response_class=HTMLResponse)
def my_cases(
    request: Request, who: VisitorDep, store: Annotated[Store, Depends(get_store)]
) -> HTMLResponse:
    """我的办件."""
    signed = signed_in(who, Role.applicant)
    rows = case_api.my_cases(signed.user, store, limit=200, offset=0)
    return render(request, who, "my_cases.html", cases=rows)


async def _case(
    request: Request,
    who: Any,
    store: Store,
    client: Client,
    case_id: str,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    signed = signed_in(who, Role.applicant)
    view = await case_api.get_case(case_id[:200], signed.user, store, client)
    assert isinstance(view, ApplicantCase)
    followups = await case_followups(case_id[:200], signed.user, store, client)
    return render(
        request,
        who,
        "my_case.html",
        status_code=status_code,
        view=view,
        followups=followups,
        error=error,
        dimensions=DIMENSIONS,
    )


@router.get("/my/{case_id}", response_class=HTMLResponse)
async def my_case(
    case_id: CaseId,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
) -> HTMLResponse:
    """My case: where it is, why, what is missing, its progress and deadlines."""
    return await _case(request, who, store, client, case_id)


@router.post("/my/{case_id}/{action}")
async def act(
    case_id: CaseId,
    action: str,
    request: Request,
    who: VisitorDep,
    store: Annotated[Store, Depends(get_store)],
    client: Annotated[Client, Depends(get_client)],
    csrf: Annotated[str | None, Form(max_length=100)] = None,
) -> Response:
    """Supplement, withdraw or rate, through the API's own handlers."""
    signed = check_csrf(request, who, csrf)
    if signed.user.role is not Role.applicant:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "只有申请人可以办理 / applicants only")
    data = await request.form()
    settings = get_settings_dep(request)
    user = signed.user
    case_id = case_id[:200]

    def text(name: str) -> str | None:
        value = data.get(name)
        return value.strip()[:2000] or None if isinstance(value, str) else None

    try:
        if action == "supplement":
            body = Supplement.model_validate(
                {
                    "materials": [m for m in data.getlist("materials") if isinstance(m, str) and m],
                    "note": text("note"),
                }
            )
            await case_api.supplement(case_id, body, request, user, store, client, settings)
        elif action == "withdraw":
            withdraw = Withdraw.model_validate({"reason": text("reason")})
            await case_api.withdraw(case_id, withdraw, request, user, store, client, settings)
        elif action == "rating":
            score = text("score")
            dims = {
                d: int(v)
                for d in DIMENSIONS
                if isinstance(v := data.get(f"dim_{d}"), str) and v.isdecimal()
            }
            rating = Rating.model_validate(
                {
                    "score": int(score) if score and score.isdecimal() else score,
                    "comment": text("comment"),
                    "dimensions": dims,
                }
            )
            await case_api.rate(case_id, rating, request, user, store, client, settings)
        else:
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"no action {action[:20]}")
    except (HTTPException, ValidationError) as error:
        code = error.status_code if isinstance(error, HTTPException) else 422
        if code >= 500 or code == 404:
            raise
        return await _case(request, who, store, client, case_id, error_text(error), code)
    return RedirectResponse(f"/my/{case_id}", status.HTTP_303_SEE_OTHER)
