"""The administrator's pages: YAML errors at their line; each procedure's versions with their
analysis; the calendar years and the deadlines each publication moved; users created,
disabled, enabled and given a new password; the feed's subscribers — as the API does it;
nobody else gets the pages."""

from __future__ import annotations

from pathlib import Path

from definitions.analysis import analyze
from store import queries
from store.calendars import current_years
from store.writes import record
from tests.store.factories import case_row, event
from tests.web.conftest import PASSWORD, Site
from workflows.contracts import EventType, RecordInput

ADMIN_PAGES = (
    "/work/admin",
    "/work/admin/users",
    "/work/admin/calendars",
    "/work/admin/calendars/1",
    "/work/admin/subscribers",
    "/work/admin/procedures/YZ-DX-GTHDJ",
)
CATALOG = Path(__file__).parents[2] / "definitions" / "catalog"


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
    csrf = site.csrf("/work/admin/users")
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
    assert "gh-1" in site.client.get("/work/admin/users").text
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
    for page in ADMIN_PAGES:
        assert site.client.get(page).status_code == 403, page


def test_tokens_and_calendar_authority(site: Site) -> None:
    site.sign_in("admin-1")
    page = site.client.get("/work/admin/calendars")
    assert "节假日安排的来源" in page.text
    csrf = site.csrf("/work/admin/users")
    issued = site.client.post("/work/admin/users/sw-1/token", data={"csrf": csrf})
    assert issued.status_code == 200
    token = issued.text.split('<code class="mono">')[1].split("<")[0]
    assert token.startswith("ot_")
    assert token not in site.client.get("/work/admin/users").text  # shown once
    token_id = issued.text.split("/work/admin/tokens/")[1].split("/")[0]
    revoked = site.client.post(
        f"/work/admin/tokens/{token_id}/revoke", data={"csrf": csrf}, follow_redirects=False
    )
    assert revoked.status_code == 303


def test_every_admin_page_opens_for_an_admin(site: Site) -> None:
    site.sign_in("admin-1")
    for page in [p for p in ADMIN_PAGES if "/calendars/" not in p]:
        answer = site.client.get(page)
        assert answer.status_code == 200, (page, answer.text[:300])
        assert 'aria-current="page"' in answer.text.split('class="subnav"')[1].split("</nav>")[0]


def test_a_procedure_s_versions_with_their_analysis(site: Site) -> None:
    site.sign_in("admin-1")
    yaml = (CATALOG / "procedures" / "getihu_dengji.yaml").read_text(encoding="utf-8")
    v2 = yaml.replace("version: 1", "version: 2", 1)
    assert v2 != yaml
    csrf = site.csrf("/work/admin")
    published = site.client.post("/work/admin/publish", data={"csrf": csrf, "yaml": v2})
    assert published.status_code == 200, published.text[:400]
    assert "/work/admin/procedures/YZ-DX-GTHDJ" in published.text
    page = site.client.get("/work/admin/procedures/YZ-DX-GTHDJ")
    assert page.status_code == 200
    assert '<th scope="col">v2</th><th scope="col">v1</th>' in page.text  # newest first
    snap = queries.get_procedure(site.store, "YZ-DX-GTHDJ", 2)
    assert snap is not None
    expected = analyze(snap.procedure, {i.code: i for i in snap.items})
    figures = f"{expected.before.materials} → <strong>{expected.after.materials}</strong>"
    assert figures in page.text
    assert site.client.get("/work/admin/procedures/NO-SUCH").status_code == 404


def test_the_deadlines_a_calendar_year_moved(site: Site) -> None:
    site.sign_in("admin-1")
    year_yaml = (
        "kind: CalendarYear\nyear: 2027\nsource: 测试用安排\n"
        "holidays:\n  - {from: 2027-02-05, to: 2027-02-12, name: 春节}\n"
    )
    csrf = site.csrf("/work/admin/calendars")
    bad = site.client.post(
        "/work/admin/calendars", data={"csrf": csrf, "yaml": year_yaml.replace("2027-02-12", "x")}
    )
    assert bad.status_code == 422
    assert "line" in bad.text
    done = site.client.post("/work/admin/calendars", data={"csrf": csrf, "yaml": year_yaml})
    assert done.status_code == 200, done.text[:400]
    [year] = [y for y in current_years(site.store) if y.year == 2027]
    assert f"/work/admin/calendars/{year.revision}" in done.text
    assert "没有移动任何期限" in site.client.get(f"/work/admin/calendars/{year.revision}").text
    # What the open case's workflow records when the revision moves its deadline.
    moved = event(
        "C-MOVED",
        1,
        type=EventType.deadline_moved,
        payload={
            "clock": "case",
            "scope": "case",
            "reason": "calendar",
            "revision": year.revision,
            "before": "2027-02-09T10:00:00+00:00",
            "deadline_at": "2027-02-17T10:00:00+00:00",
            "provisional": False,
            "derivation": {"start_date": "2027-02-01", "days": 5, "weekends_skipped": 2},
        },
    )
    record(site.store, RecordInput(events=[moved], case=case_row("C-MOVED", last_seq=1)))
    page = site.client.get(f"/work/admin/calendars/{year.revision}")
    assert page.status_code == 200
    assert "C-MOVED" in page.text
    assert "2027-02-09 18:00" in page.text
    assert "2027-02-17 18:00" in page.text
    assert "测试用安排" in page.text
    for missing in ("999", "0", "-5", "99999999999999999999"):
        assert site.client.get(f"/work/admin/calendars/{missing}").status_code == 404, missing


def test_feed_subscribers_are_managed_from_the_page(site: Site) -> None:
    site.sign_in("admin-1")
    csrf = site.csrf("/work/admin/subscribers")
    form = {"csrf": csrf, "url": "https://jiancha.example.gov.cn/onetrip", "start": "now"}
    short = site.client.post("/work/admin/subscribers", data=form | {"secret": "short"})
    assert short.status_code == 422
    assert "secret" in short.text
    assert 'value="https://jiancha.example.gov.cn/onetrip"' in short.text  # kept to fix
    odd = site.client.post(
        "/work/admin/subscribers",
        data=form | {"secret": "s" * 20, "start": "after", "after": "²"},
    )
    assert odd.status_code == 422
    assert "start" in odd.text
    unknown = site.client.post(
        "/work/admin/subscribers", data=form | {"secret": "s" * 20, "types": ["case.nothing"]}
    )
    assert unknown.status_code == 422
    assert "case.nothing" in unknown.text
    made = site.client.post(
        "/work/admin/subscribers",
        data=form | {"secret": "s" * 20, "types": ["case.accepted", "task.approved"]},
        follow_redirects=False,
    )
    assert made.status_code == 303, made.text[:400]
    page = site.client.get("/work/admin/subscribers").text
    assert "https://jiancha.example.gov.cn/onetrip" in page
    assert "case.accepted、task.approved" in page
    assert "s" * 20 not in page  # the secret is never shown again
    sid = page.split("/work/admin/subscribers/")[1].split("/")[0]
    paused = site.client.post(
        f"/work/admin/subscribers/{sid}/pause", data={"csrf": csrf}, follow_redirects=False
    )
    assert paused.status_code == 303
    assert "已暂停" in site.client.get("/work/admin/subscribers").text
    rewind = site.client.post(
        f"/work/admin/subscribers/{sid}/rewind", data={"csrf": csrf, "cursor": "²"}
    )
    assert rewind.status_code == 422
    assert "cursor" in rewind.text
    again = site.client.post(
        f"/work/admin/subscribers/{sid}/rewind",
        data={"csrf": csrf, "cursor": "0"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    gone = site.client.post(
        f"/work/admin/subscribers/{sid}/remove", data={"csrf": csrf}, follow_redirects=False
    )
    assert gone.status_code == 303
    assert "还没有订阅" in site.client.get("/work/admin/subscribers").text
    missing = site.client.post(f"/work/admin/subscribers/{sid}/remove", data={"csrf": csrf})
    assert missing.status_code == 404
    for odd_id in ("0", "-1", "99999999999999999999"):  # never clamped onto a real one
        odd_answer = site.client.post(
            f"/work/admin/subscribers/{odd_id}/pause", data={"csrf": csrf}
        )
        assert odd_answer.status_code == 404, odd_id
        assert (
            site.client.post(f"/work/admin/tokens/{odd_id}/revoke", data={"csrf": csrf}).status_code
            == 404
        )
    # Without the form token nothing changes.
    tokenless = {k: v for k, v in form.items() if k != "csrf"} | {"secret": "s" * 20}
    assert site.client.post("/work/admin/subscribers", data=tokenless).status_code == 403
