"""The administrator's page: YAML errors at their line, users created, disabled, enabled and
given a new password, as the API does it; nobody else gets the page."""

from __future__ import annotations

from tests.web.conftest import PASSWORD, Site


def test_a_broken_definition_is_shown_at_its_line(site: Site) -> None:
    site.sign_in("admin-1")
    page = site.client.get("/work/admin")
    assert page.status_code == 200
    assert "发布定义" in page.text
    csrf = site.csrf("/work/admin")
    broken = "kind: Procedure\ncode: YZ-X\nversion: 1\nname: 测试\nstages: [\n"
    answer = site.client.post("/work/admin/publish", data={"csrf": csrf, "yaml": broken})
    assert answer.status_code == 422
    assert "line" in answer.text
    assert "YZ-X" in answer.text  # what was typed stays in the box to be fixed


def test_users_are_managed_from_the_page(site: Site) -> None:
    site.sign_in("admin-1")
    csrf = site.csrf("/work/admin")
    bad = site.client.post(
        "/work/admin/users",
        data={"csrf": csrf, "user_id": "gh-1", "name": "规划", "role": "caseworker"},
    )
    assert bad.status_code == 422
    assert "department" in bad.text
    made = site.client.post(
        "/work/admin/users",
        data={
            "csrf": csrf,
            "user_id": "gh-1",
            "name": "规划",
            "role": "caseworker",
            "department": "YZ-GH",
            "password": "planning-pass-1",
        },
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text[:400]
    assert "gh-1" in site.client.get("/work/admin").text
    off = site.client.post(
        "/work/admin/users/sw-1/disable", data={"csrf": csrf}, follow_redirects=False
    )
    assert off.status_code == 303
    weak = site.client.post("/work/admin/users/sw-1/password", data={"csrf": csrf, "password": "x"})
    assert weak.status_code == 422
    # The new caseworker signs in with the password the admin gave.
    site.client.cookies.clear()
    site.sign_in("gh-1", "planning-pass-1")
    assert site.client.get("/work/inbox").status_code == 200


def test_only_admins_get_the_page(site: Site) -> None:
    site.sign_in("supervisor-1", PASSWORD)
    assert site.client.get("/work/admin").status_code == 403


def test_tokens_and_calendar_authority(site: Site) -> None:
    site.sign_in("admin-1")
    page = site.client.get("/work/admin")
    assert "节假日安排的来源" in page.text
    csrf = site.csrf("/work/admin")
    issued = site.client.post("/work/admin/users/sw-1/token", data={"csrf": csrf})
    assert issued.status_code == 200
    token = issued.text.split('<code class="mono">')[1].split("<")[0]
    assert token.startswith("ot_")
    assert token not in site.client.get("/work/admin").text  # shown once
    token_id = issued.text.split("/work/admin/tokens/")[1].split("/")[0]
    revoked = site.client.post(
        f"/work/admin/tokens/{token_id}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303
