"""Publishing survives any bytes: 422 naming the line, never a 500, nothing published."""

from __future__ import annotations

import pytest

from tests.api.conftest import Api
from tests.api.test_access import YAML as PUBLISHED

YAML = PUBLISHED.replace("YZ-DX-GTHDJ", "YZ-DX-BYTES")


@pytest.mark.parametrize(
    ("raw", "line"),
    [
        (YAML.encode().replace("个体工商户".encode(), b"\xff\xfe\xc3("), 3),
        (YAML.encode().replace("个体工商户".encode(), b"ACME\x00"), 3),
        (YAML.encode().replace("个体工商户".encode(), b"ACME\x07"), 3),
        (
            YAML.encode().replace("个体工商户".encode(), "\ud800".encode("utf-8", "surrogatepass")),
            3,
        ),
        (YAML.encode("utf-16-le"), 3),
        (YAML.encode()[:-1] + b"\xe4", YAML.count("\n")),
    ],
    ids=["invalid-utf8", "nul", "bell", "surrogate", "utf16-without-bom", "cut"],
)
async def test_bad_bytes_answer_422_with_the_line(api: Api, raw: bytes, line: int) -> None:
    response = await api.http.post(
        "/admin/procedures",
        content=raw,
        headers={"Authorization": f"Bearer {api.tokens['admin-1']}", "Content-Type": "text/yaml"},
    )
    assert response.status_code == 422, response.text
    assert len(response.content) < 4000  # the input is never echoed back
    [error] = response.json()["detail"]
    assert (error["file"], error["line"]) == ("request.yaml", line), error
    procedures = await api.ok("admin-1", "GET", "/procedures")
    assert "YZ-DX-BYTES" not in {p["code"] for p in procedures}


async def test_utf16_with_a_byte_order_mark_is_yaml_too(api: Api) -> None:
    response = await api.http.post(
        "/admin/procedures",
        content=YAML.encode("utf-16"),
        headers={"Authorization": f"Bearer {api.tokens['admin-1']}", "Content-Type": "text/yaml"},
    )
    assert response.status_code == 201, response.text
