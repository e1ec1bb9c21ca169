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


LAUGHS = (
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n'
    + "".join(
        f"{c}: &{c} [{', '.join(['*' + p] * 9)}]\n"
        for p, c in zip("abcdefgh", "bcdefghi", strict=True)
    )
    + "kind: Procedure\n"
)


@pytest.mark.parametrize(
    ("text", "code"),
    [
        (LAUGHS, "yaml-too-large"),
        ("- " + "[" * 5000 + "]" * 5000 + "\n", "yaml-too-deep"),
        ("x: " + "{a: " * 3000 + "1" + "}" * 3000 + "\n", "yaml-too-deep"),
        ("".join("  " * i + "k:\n" for i in range(900)) + "  " * 900 + "k: 1\n", "yaml-too-deep"),
    ],
    ids=["billion-laughs", "deep-flow-lists", "deep-flow-mappings", "deep-block-mappings"],
)
@pytest.mark.parametrize("path", ["/admin/procedures", "/admin/calendars"])
async def test_documents_that_explode_are_refused_quickly(
    api: Api, text: str, code: str, path: str
) -> None:
    response = await api.http.post(
        path,
        content=text.encode(),
        headers={"Authorization": f"Bearer {api.tokens['admin-1']}", "Content-Type": "text/yaml"},
        timeout=30,
    )
    assert response.status_code == 422, response.text[:300]
    assert len(response.content) < 4000
    assert [e["code"] for e in response.json()["detail"]] == [code]
