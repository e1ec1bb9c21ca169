"""The pages without a browser: what each person sees, signing in and out, CSRF, expiry,
the department scope, the languages."""

from __future__ import annotations

import datetime as dt
from typing import Any

from jinja2.ext import babel_extract  # noqa: F401 (the extractor Babel uses below)

from store import sessions
from store.users import set_disabled
from tests.web.conftest import PASSWORD, Site


def test_the_public_pages_need_no_sign_in(site: Site) -> None:
    home = site.client.get("/")
    assert home.status_code == 200
    assert '<html lang="zh-CN">' in home.text
    assert "开办企业一件事" in home.text
    guide = site.client.get("/guide/YZ-YJS-KBQY")
    assert guide.status_code == 200
    assert "申请材料" in guide.text
    assert "营业执照" in guide.text or "企业" in guide.text
    missing = site.client.get("/guide/NOPE")
    assert missing.status_code == 404
    assert "NOPE" in missing.text
    stats = site.client.get("/statistics?period=2025H2")
    assert stats.status_code == 200
    assert "政务服务信息公开" in stats.text
    wrong = site.client.get("/statistics?period=2025Q3")
    assert wrong.status_code == 422
    assert "半年" in wrong.text
    english = site.client.get("/?lang=en")
    assert '<html lang="en">' in english.text
    assert "Service guides" in english.text
    # The choice is remembered.
    assert '<html lang="en">' in site.client.get("/statistics").text


def test_signing_in_and_out(site: Site) -> None:
    assert site.client.get("/work/inbox", follow_redirects=False).headers["location"] == "/login"
    page = site.client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    wrong = site.client.post(
        "/login", data={"user_id": "scjg-1", "password": "nope-nope-nope", "csrf": token}
    )
    assert wrong.status_code == 401
    assert "用户名或密码不正确" in wrong.text
    nobody = site.client.post(
        "/login", data={"user_id": "ghost", "password": PASSWORD, "csrf": token}
    )
    assert nobody.status_code == 401
    assert nobody.text.count("用户名或密码不正确") == wrong.text.count("用户名或密码不正确")
    site.sign_in("scjg-1")
    cookie = next(c for c in site.client.cookies.jar if c.name == "onetrip_session")
    assert cookie.secure
    assert cookie.has_nonstandard_attr("HttpOnly")
    inbox = site.client.get("/work/inbox")
    assert inbox.status_code == 200
    assert "部门待办" in inbox.text
    assert "YZ-SCJG" in inbox.text
    csrf = site.csrf()
    out = site.client.post("/logout", data={"csrf": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert site.client.get("/work/inbox", follow_redirects=False).status_code == 303


def test_a_form_without_its_token_is_refused(site: Site) -> None:
    page = site.client.get("/login")
    refused = site.client.post(
        "/login", data={"user_id": "scjg-1", "password": PASSWORD, "csrf": "forged"}
    )
    assert refused.status_code == 403
    assert "表单已失效" in refused.text
    assert 'name="csrf"' in page.text
    site.sign_in("scjg-1")
    forged = site.client.post("/logout", data={"csrf": "forged"})
    assert forged.status_code == 403
    assert site.client.get("/work/inbox").status_code == 200  # still signed in


def test_sessions_expire_when_idle_and_at_their_lifetime(site: Site) -> None:
    site.sign_in("scjg-1")
    site.clock[0] += dt.timedelta(minutes=29)
    assert site.client.get("/work/inbox").status_code == 200
    site.clock[0] += dt.timedelta(minutes=31)  # idle for 31 minutes
    assert site.client.get("/work/inbox", follow_redirects=False).status_code == 303
    site.sign_in("scjg-1")
    for _ in range(17):  # active every 29 minutes, past the 8 hours
        site.clock[0] += dt.timedelta(minutes=29)
        last = site.client.get("/work/inbox", follow_redirects=False)
    assert last.status_code == 303


def test_a_disabled_person_is_signed_out_at_once(site: Site) -> None:
    site.sign_in("scjg-1")
    set_disabled(site.store, "scjg-1", True)
    assert site.client.get("/work/inbox", follow_redirects=False).status_code == 303


def test_each_role_sees_its_own_pages(site: Site) -> None:
    site.sign_in("applicant-1")
    refused = site.client.get("/work/inbox")
    assert refused.status_code == 403
    assert "无权访问" in refused.text
    work = site.client.get("/work")
    assert work.status_code == 200
    assert "我的工作台" in work.text


def test_passwords_are_hashed_and_checked(site: Site) -> None:
    from sqlalchemy import select

    from store.models import User

    with site.store.session() as s:
        stored = s.scalar(select(User.password_hash).where(User.id == "sw-1"))
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert PASSWORD not in stored
    import pytest

    with pytest.raises(sessions.PasswordRefused):
        sessions.set_password(site.store, "sw-1", "short")
    with pytest.raises(sessions.PasswordRefused):
        sessions.set_password(site.store, "supervisor-1", "Supervisor-1")


def test_every_message_of_the_pages_has_its_english() -> None:
    from pathlib import Path

    from babel.messages.extract import extract_from_dir

    from web.i18n import translations

    english = translations("en")
    root = Path(__file__).parents[2] / "web" / "templates"
    found = {
        message
        for _, _, message, _, _ in extract_from_dir(
            str(root),
            method_map=[("**.html", "jinja2")],
            options_map={"**.html": {"extensions": "jinja2.ext.i18n"}},
        )
    }
    assert found
    missing = sorted(m for m in found if english.gettext(m) == m and m)
    assert missing == []


def test_the_inbox_filter_form_as_a_browser_sends_it(site: Site) -> None:
    site.sign_in("scjg-1")
    empty = site.client.get("/work/inbox?show=claimed&procedure=&due_before=")
    assert empty.status_code == 200
    assert "没有符合条件的待办" in empty.text
    rows = site.client.get("/work/inbox?show=open", headers={"HX-Request": "true"})
    assert rows.text.lstrip().startswith('<section id="tasks"')
    bad = site.client.get("/work/inbox?due_before=tomorrow")
    assert bad.status_code == 422
    assert "2025-10-01" in bad.text


def test_the_assets_are_served_by_onetrip_itself(site: Site) -> None:
    script = site.client.get("/static/vendor/htmx.min.js")
    assert script.status_code == 200
    assert "htmx" in script.text[:2000]
    assert site.client.get("/static/vendor/echarts.min.js").status_code == 200
    assert site.client.get("/static/vendor/../package.json").status_code == 404
    assert site.client.get("/static/vendor/nothing.js").status_code == 404
    assert site.client.get("/static/onetrip.css").status_code == 200
    # The page links no other host.
    home = site.client.get("/").text
    assert "http://" not in home
    assert "https://" not in home


def test_odd_tokens_are_refused_not_crashed(site: Site) -> None:
    site.client.get("/login")
    odd = site.client.post("/login", data={"user_id": "scjg-1", "password": "x", "csrf": "é"})
    assert odd.status_code == 403
    site.sign_in("scjg-1")
    header = site.client.post("/logout", headers={"X-CSRF-Token": "令牌".encode()})
    assert header.status_code == 403


def test_every_event_has_words_in_both_languages() -> None:
    from web.casework import EVENT_WORDS
    from workflows.contracts import EventType

    assert set(EVENT_WORDS) == {t.value for t in EventType}
    assert all(zh and en and zh != en for zh, en in EVENT_WORDS.values())


def _attempt(site: Site, user: str, password: str) -> Any:
    page = site.client.get("/login")
    token = page.text.split('name="csrf" value="')[1].split('"')[0]
    return site.client.post(
        "/login",
        data={"user_id": user, "password": password, "csrf": token},
        follow_redirects=False,
    )


def test_failed_sign_ins_lock_the_user_id_for_a_while(site: Site) -> None:
    for _ in range(4):
        assert _attempt(site, "scjg-1", "guess-guess-1").status_code == 401
    fifth = _attempt(site, "scjg-1", "guess-guess-1")
    assert fifth.status_code == 429
    assert "已暂时锁定" in fifth.text
    assert "2025-09-15 10:15" in fifth.text  # 15 minutes on, Beijing time
    assert int(fifth.headers["retry-after"]) == 15 * 60
    # Even the right password waits: a locked id costs no password hash at all.
    right = _attempt(site, "scjg-1", PASSWORD)
    assert right.status_code == 429
    # Another person is not affected; the lock ends on its own.
    assert _attempt(site, "sw-1", PASSWORD).status_code == 303
    site.client.cookies.clear()
    site.clock[0] += dt.timedelta(minutes=15, seconds=1)
    assert _attempt(site, "scjg-1", PASSWORD).status_code == 303


def test_a_new_password_from_the_admin_lifts_the_lock(site: Site) -> None:
    for _ in range(5):
        _attempt(site, "scjg-1", "guess-guess-1")
    assert _attempt(site, "scjg-1", PASSWORD).status_code == 429
    site.sign_in("admin-1")
    assert "登录已锁定至 2025-09-15 10:15" in site.client.get("/work/admin/users").text
    csrf = site.csrf("/work/admin/users")
    reset = site.client.post(
        "/work/admin/users/scjg-1/password",
        data={"csrf": csrf, "password": "a-fresh-password-1"},
        follow_redirects=False,
    )
    assert reset.status_code == 303
    site.client.cookies.clear()
    assert _attempt(site, "scjg-1", "a-fresh-password-1").status_code == 303


def test_failures_from_one_address_lock_the_address(site: Site) -> None:
    for n in range(20):
        answer = _attempt(site, f"nobody-{n}", "guess-guess-1")
    assert answer.status_code == 429
    refused = _attempt(site, "sw-1", PASSWORD)  # the same address
    assert refused.status_code == 429
    assert "来自此网络地址" in refused.text
    # The administrator sees the lock and lifts it (from another address, as the API).
    [lock] = [x for x in sessions.locks(site.store, site.clock[0]) if x[0] == "address"]
    assert sessions.unlock(site.store, "address", lock[1])
    assert _attempt(site, "sw-1", PASSWORD).status_code == 303


def test_attempts_in_flight_get_no_more_password_checks_than_the_limit(site: Site) -> None:
    throttle = sessions.Throttle(window=dt.timedelta(minutes=15), lock=dt.timedelta(minutes=15))
    limits = {sessions.user_key("scjg-1"): 5, sessions.address_key("10.0.0.9"): 20}
    # Ten attempts counted before any of their passwords is checked (sent at once).
    attempts = [
        sessions.begin_attempt(site.store, limits, site.clock[0], throttle) for _ in range(10)
    ]
    assert [not a.locked for a in attempts] == [True] * 5 + [False] * 5
    # A right password among the first five clears the user id's count.
    sessions.succeeded(site.store, "scjg-1", "10.0.0.9")
    assert not sessions.begin_attempt(site.store, limits, site.clock[0], throttle).locked


def test_an_administrator_lifts_a_lock_from_the_users_page(site: Site) -> None:
    for _ in range(5):
        _attempt(site, "sw-1", "guess-guess-1")
    site.sign_in("admin-1")
    page = site.client.get("/work/admin/users").text
    assert "登录锁定" in page
    assert 'name="subject" value="sw-1"' in page
    csrf = site.csrf("/work/admin/users")
    odd = site.client.post(
        "/work/admin/locks/clear", data={"csrf": csrf, "kind": "door", "subject": "sw-1"}
    )
    assert odd.status_code == 422
    lifted = site.client.post(
        "/work/admin/locks/clear",
        data={"csrf": csrf, "kind": "user", "subject": "sw-1"},
        follow_redirects=False,
    )
    assert lifted.status_code == 303
    again = site.client.post(
        "/work/admin/locks/clear", data={"csrf": csrf, "kind": "user", "subject": "sw-1"}
    )
    assert again.status_code == 404
    site.client.cookies.clear()
    assert _attempt(site, "sw-1", PASSWORD).status_code == 303


def test_stale_failures_and_ended_sessions_are_forgotten(site: Site) -> None:
    from sqlalchemy import func, select

    from store.models import SignInThrottle, WebSession

    _attempt(site, "scjg-1", "guess-guess-1")
    site.sign_in("sw-1")
    window = dt.timedelta(minutes=15)
    sessions.forget_expired(site.store, site.clock[0], window)
    with site.store.session() as s:
        assert s.scalar(select(func.count()).select_from(SignInThrottle)) == 2  # user, address
    later = site.clock[0] + dt.timedelta(hours=9)
    assert sessions.forget_expired(site.store, later, window) == 1
    with site.store.session() as s:
        assert s.scalar(select(func.count()).select_from(SignInThrottle)) == 0
        assert s.scalar(select(func.count()).select_from(WebSession)) == 0


def test_production_password_hashes_use_the_recommended_parameters() -> None:
    from argon2 import Type

    from tests.conftest import PRODUCTION

    hasher = PRODUCTION["hasher"]  # the suite itself runs on a lighter one
    assert hasher.type is Type.ID
    assert hasher.time_cost >= 3
    assert hasher.memory_cost >= 65536
