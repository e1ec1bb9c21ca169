"""Every error answers the same body: a code, the message in zh-CN and English, the detail
with field paths, and the request id; the OpenAPI documents each operation's errors."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from store.db import Store
from tests.api.conftest import Api, serve


def envelope(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    assert body["code"] == code, body
    assert body["message"]["zh"]
    assert body["message"]["en"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


async def test_one_body_for_every_error(api: Api) -> None:
    envelope(await api.call(None, "GET", "/inbox"), 401, "unauthenticated")
    envelope(await api.call("applicant-1", "GET", "/inbox"), 403, "forbidden")
    envelope(await api.call("applicant-1", "GET", "/cases/OT-NOPE"), 404, "not_found")
    envelope(await api.call(None, "GET", "/no/such/page"), 404, "not_found")
    envelope(await api.call("applicant-1", "DELETE", "/cases"), 405, "method_not_allowed")
    body = envelope(
        await api.call("applicant-1", "POST", "/cases", {"procedure": "YZ-YJS-KBQY", "x": 1}),
        422,
        "invalid_input",
    )
    assert body["detail"][0]["loc"] == ["body", "x"]
    big = {"procedure": "YZ-YJS-KBQY", "form": {"company_name": "长" * 2_000_000}}
    envelope(await api.call("applicant-1", "POST", "/cases", big), 413, "body_too_large")
    rid = uuid.uuid4().hex
    response = await api.call("applicant-1", "GET", "/cases/OT-NOPE", **{"X-Request-ID": rid})
    assert envelope(response, 404, "not_found")["request_id"] == rid

    case = await api.submit()
    await api.ok("applicant-1", "POST", f"/cases/{case}/withdraw", {"reason": "不办了"})
    body = envelope(
        await api.call("applicant-1", "POST", f"/cases/{case}/withdraw", {}), 409, "case_closed"
    )
    assert body["message"]["en"] == f"case {case} is closed"
    key = {"Idempotency-Key": "same-key"}
    await api.call("applicant-1", "POST", f"/cases/{case}/rating", {"score": 5}, **key)
    envelope(
        await api.call("applicant-1", "POST", f"/cases/{case}/rating", {"score": 4}, **key),
        422,
        "idempotency_key_reused",
    )


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/cases/{case}/rating", {"score": "5"}, "score"),
        ("/cases/{case}/rating", {"score": 4.0}, "score"),
        ("/cases/{case}/rating", {"score": True}, "score"),
        ("/cases/{case}/supplement", {"materials": "company_articles"}, "materials"),
        ("/cases/{case}/supplement", {"materials": [1]}, "materials"),
        ("/cases/{case}/withdraw", {"reason": 12}, "reason"),
    ],
)
async def test_no_value_is_coerced(api: Api, path: str, body: dict[str, Any], field: str) -> None:
    case = await api.submit()
    response = await api.call("applicant-1", "POST", path.format(case=case), body)
    detail = envelope(response, 422, "invalid_input")["detail"]
    assert detail[0]["loc"][:2] == ["body", field]


async def test_admins_disable_flag_is_strict(api: Api) -> None:
    for value in ("true", 1, None):
        response = await api.call("admin-1", "PATCH", "/admin/users/sw-1", {"disabled": value})
        if value is None:
            assert response.status_code == 200  # null: leave as it is
        else:
            assert envelope(response, 422, "invalid_input")["detail"][0]["loc"] == [
                "body",
                "disabled",
            ]


async def test_the_openapi_documents_errors_and_the_idempotency_key(api: Api) -> None:
    schema = (await api.call(None, "GET", "/openapi.json")).json()
    supplement = schema["paths"]["/cases/{case_id}/supplement"]["post"]
    assert {"401", "403", "404", "409", "413", "422", "503"} <= set(supplement["responses"])
    ref = supplement["responses"]["409"]["content"]["application/json"]["schema"]["$ref"]
    assert ref == "#/components/schemas/ErrorBody"
    [key] = [p for p in supplement["parameters"] if p["name"] == "Idempotency-Key"]
    assert (key["in"], key["schema"]["maxLength"]) == ("header", 200)
    guide = schema["paths"]["/procedures/{code}"]["get"]
    assert "401" not in guide["responses"]
    assert "404" in guide["responses"]
    assert "ErrorBody" in schema["components"]["schemas"]


async def test_an_unreachable_store_is_503_in_the_same_body(api: Api) -> None:
    broken = Store("postgresql+psycopg://nobody@127.0.0.1:1/none?connect_timeout=1")
    harness = api.harness.__class__(
        api.harness.env, api.harness.client, broken, api.harness.task_queue
    )
    try:
        async with serve(harness, api.tokens) as down:
            response = await down.call("applicant-1", "GET", "/cases")
            body = envelope(response, 503, "store_unavailable")
            assert response.headers["retry-after"] == "5"
            assert "store" in body["message"]["en"]
    finally:
        broken.dispose()


def test_an_answer_quoting_a_lone_surrogate_is_still_an_answer() -> None:
    from api import errors

    assert errors.short("bad \udc80 value") == "bad \\udc80 value"
    assert errors.short("x" * 10_000).endswith("…")
