"""The pages in a real browser: Debian's chromium driven by Playwright (never a downloaded
browser), against the app served on a local port. Screenshots of each page are kept in
test-artifacts/screenshots/ (a CI artifact)."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import shutil
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from playwright.async_api import Browser, Page, async_playwright

from core.settings import Settings
from store import queries
from store.sessions import set_password
from store.users import create_user
from tests.api.conftest import STARTUP_FORM, Api
from tests.api.test_flow import FOLLOW_UP, decide
from web.app import create_app
from workflows.contracts import Role

SHOTS = Path(__file__).parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = os.environ.get("ONETRIP_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
"""Without the network flags, chromium keeps calling home on a machine with no internet."""
PASSWORD = "browser-pass-2025"
pytestmark = pytest.mark.parametrize("store", ["postgres"], indirect=True)
"""In the browser the pages are what is tested, on the store deployments use; the API and
page tests without a browser cover both stores."""


def _chromium() -> str:
    if Path(CHROMIUM).exists():
        return CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is missing: .ci/run installs Debian's chromium")
    pytest.skip("Debian's chromium is not installed (apt-get install chromium fonts-noto-cjk)")


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def served(api: Api) -> AsyncIterator[str]:
    """The whole app (API and pages) served on a local port, on the API fixture's store."""
    for user in ("scjg-1", "applicant-1", "supervisor-1"):
        set_password(api.harness.store, user, PASSWORD)
    settings = Settings(task_queue=api.harness.task_queue)
    app = create_app(settings, store=api.harness.store, client=api.harness.client)
    # The pages see the time-skipping server's time, as the cases do.
    skew = dt.datetime.now(dt.UTC) - await api.harness.now()
    app.state.now = lambda: dt.datetime.now(dt.UTC) - skew
    port = _port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, lifespan="on")
    )
    task = asyncio.create_task(server.serve())
    for _ in range(200):
        if server.started:
            break
        await asyncio.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    path = _chromium()
    async with async_playwright() as p:
        launched = await p.chromium.launch(executable_path=path, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            await launched.close()


async def shot(page: Page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def sign_in(page: Page, site: str, user: str) -> None:
    await page.goto(f"{site}/login")
    await page.get_by_label("用户名").fill(user)
    await page.get_by_label("密码").fill(PASSWORD)
    await page.get_by_role("button", name="登录").click()
    await page.wait_for_url(lambda url: not url.endswith("/login"))


async def test_an_applicant_reads_a_guide_on_a_phone(served: str, browser: Browser) -> None:
    site = served
    context = await browser.new_context(viewport={"width": 375, "height": 812}, locale="zh-CN")
    page = await context.new_page()
    await page.goto(site + "/")
    await page.get_by_role("link", name="开办企业一件事").click()
    await page.wait_for_url(f"{site}/guide/YZ-YJS-KBQY")
    assert await page.get_by_role("heading", name="申请材料").is_visible()
    # Nothing wider than the phone: the materials table scrolls inside its own box.
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 375
    await shot(page, "applicant-guide-375px")
    await page.goto(site + "/?lang=en")
    assert await page.get_by_role("link", name="Service guides").is_visible()
    await shot(page, "public-home-en")
    await context.close()


async def test_a_caseworker_works_the_inbox(served: str, browser: Browser, api: Api) -> None:
    site = served
    case = await api.submit()
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, site, "scjg-1")
    await page.wait_for_url(f"{site}/work/inbox")
    row = page.get_by_role("row").filter(has_text=case)
    assert await row.count() == 1
    # The deadline explains itself when opened; urgency is in words, not only colour.
    await row.locator("summary").click()
    assert await row.locator(".derivation").is_visible()
    assert "正常" in await row.locator(".badge").inner_text()
    assert "剩" in await row.locator("summary").inner_text()
    await shot(page, "caseworker-inbox")
    await row.get_by_role("link", name=case).click()
    await page.wait_for_url(f"{site}/work/cases/{case}")
    assert await page.get_by_role("button", name="领取").is_visible()
    await shot(page, "caseworker-case")
    await page.goto(f"{site}/work/inbox")
    # The filter swaps the list in place (htmx) and keeps the address.
    await page.get_by_label("显示").select_option("claimed")
    await page.wait_for_function("location.search.includes('show=claimed')")
    await page.get_by_text("没有符合条件的待办。").wait_for()
    # Keyboard: the filters and the sign-out button are reachable with Tab.
    await page.keyboard.press("Tab")
    focused = await page.evaluate("document.activeElement.textContent")
    assert focused.strip() == "跳到正文"
    await page.get_by_role("button", name="退出").click()
    await page.wait_for_url(f"{site}/login")
    await context.close()


async def test_the_public_statistics_page(served: str, browser: Browser) -> None:
    site = served
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(site + "/statistics?period=2025H2")
    assert await page.get_by_role("heading", name="政务服务信息公开").is_visible()
    await shot(page, "public-statistics")
    await context.close()


async def test_an_applicant_fills_the_form_on_a_phone(served: str, browser: Browser) -> None:
    site = served
    context = await browser.new_context(viewport={"width": 375, "height": 812})
    page = await context.new_page()
    await sign_in(page, site, "applicant-1")
    await page.wait_for_url(f"{site}/my")
    await page.goto(f"{site}/apply/YZ-YJS-KBQY")
    assert await page.get_by_role("button", name="提交申请").is_visible()
    assert await page.evaluate("document.documentElement.scrollWidth") <= 375
    await shot(page, "applicant-apply-375px")
    # Sent empty: the form comes back with each missing field named beside it.
    await page.get_by_role("button", name="提交申请").click()
    await page.wait_for_selector(".field-error")
    await shot(page, "applicant-apply-errors-375px")
    await context.close()


async def test_a_supervisor_sees_the_dashboard_chart(
    served: str, browser: Browser, api: Api
) -> None:
    site = served
    await api.submit()  # a case of 2025H2, for the chart to have a department
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, site, "supervisor-1")
    await page.wait_for_url(f"{site}/work/dashboard")
    assert await page.get_by_role("heading", name="监督看板").is_visible()
    await shot(page, "supervisor-dashboard")
    await page.goto(f"{site}/work/dashboard?period=2025H2")
    # ECharts draws into the chart's box (a canvas), from the same data as the table.
    await page.locator("#chart canvas").first.wait_for()
    assert (await page.locator("#chart").bounding_box() or {}).get("height", 0) > 100
    await shot(page, "supervisor-dashboard-chart")
    await page.goto(f"{site}/work/overdue")
    await shot(page, "supervisor-overdue")
    await context.close()


async def test_the_whole_story_in_the_browser(served: str, browser: Browser, api: Api) -> None:
    """An applicant applies on a phone, the desk accepts, two departments decide (one returns
    for supplement, the applicant supplements), the results are delivered, the applicant
    rates badly, the desk follows the rating up, a supervisor urges and opens the report."""
    from store import followups
    from worker.followups import start_due

    site = served
    h = api.harness
    set_password(h.store, "desk-1", PASSWORD)
    set_password(h.store, "sw-1", PASSWORD)

    async def person(user: str, width: int = 1280) -> Page:
        context = await browser.new_context(viewport={"width": width, "height": 900})
        page = await context.new_page()
        await sign_in(page, site, user)
        return page

    # The applicant, on a phone.
    phone = await person("applicant-1", 375)
    await phone.goto(f"{site}/apply/YZ-YJS-KBQY")
    for key, value in STARTUP_FORM.items():
        field = phone.locator(f"#f_{key}")
        if isinstance(value, bool):
            await field.select_option("yes" if value else "no")
        elif await field.evaluate("e => e.tagName") == "SELECT":
            await field.select_option(str(value))
        else:
            await field.fill(str(value))
    boxes = phone.locator('input[name="materials"]')
    for i in range(await boxes.count()):
        await boxes.nth(i).check()
    await phone.get_by_role("button", name="提交申请").click()
    await phone.wait_for_url(f"{site}/my/**")
    case = phone.url.rsplit("/", 1)[1]
    h.handles[case] = h.client.get_workflow_handle(case)
    await h.wait_recorded(case)
    await shot(phone, "story-1-applicant-submitted-375px")

    # The front desk accepts.
    desk = await person("desk-1")
    await desk.goto(f"{site}/work/cases/{case}")
    await desk.get_by_label("受理", exact=True).check()
    for box in await desk.locator('input[name="missing"]').all():
        await box.uncheck()
    await desk.get_by_role("button", name="提交").first.click()
    await desk.wait_for_url(f"{site}/work/cases/{case}")
    await shot(desk, "story-2-desk-accepted")

    # Market regulation approves; tax returns for a supplement.
    scjg = await person("scjg-1")
    await scjg.goto(f"{site}/work/cases/{case}")
    await scjg.get_by_role("button", name="领取").click()
    await scjg.get_by_label("通过").check()
    await scjg.get_by_role("button", name="提交").click()
    await scjg.wait_for_url(f"{site}/work/inbox")
    tax = await person("sw-1")
    await tax.goto(f"{site}/work/cases/{case}")
    await tax.get_by_role("button", name="领取").click()
    await tax.get_by_label("退回补正（一次性列明全部所缺材料）").check()
    await tax.locator('input[name="missing"]').first.check()
    await tax.get_by_label("理由", exact=True).fill("请补交签字页")
    await tax.get_by_role("button", name="提交").click()
    await tax.wait_for_url(f"{site}/work/inbox")

    # The applicant sees why and hands it in.
    await phone.goto(f"{site}/my/{case}")
    assert await phone.get_by_text("理由：请补交签字页").is_visible()
    await shot(phone, "story-3-applicant-returned-375px")
    await phone.locator('input[name="materials"]').first.check()
    await phone.get_by_role("button", name="提交补正材料").click()
    await phone.wait_for_url(f"{site}/my/{case}")

    # Tax approves now; the other departments decide through the API.
    await tax.goto(f"{site}/work/cases/{case}")
    await tax.get_by_label("通过").check()
    await tax.get_by_role("button", name="提交").click()
    await tax.wait_for_url(f"{site}/work/inbox")
    for task, user in FOLLOW_UP.items():
        if task != "tax_package":
            await decide(api, user, case, task)

    # The desk delivers; the applicant rates badly.
    await desk.goto(f"{site}/work/cases/{case}")
    await desk.get_by_role("button", name="送达全部结果").click()
    await desk.wait_for_url(f"{site}/work/cases/{case}")
    await phone.goto(f"{site}/my/{case}")
    await phone.get_by_label("2 不满意").check()
    await phone.get_by_label("意见（可不填）").fill("跑了两次")
    await phone.get_by_role("button", name="提交评价").click()
    await phone.wait_for_url(f"{site}/my/{case}")

    # The follow-up: the market regulator calls back.
    assert await start_due(h.client, h.store, h.task_queue) == 1
    [row] = followups.of_case(h.store, case)
    await h.until(lambda: (f := followups.get(h.store, row.id)) and f.parts[0].due_at, "opened")
    path = f"{site}/work/followups/{case}/{row.rating_seq}"
    await scjg.goto(path)
    await scjg.get_by_label("属实，整改").check()
    await scjg.get_by_label("核实情况", exact=True).fill("补正要求未一次性告知")
    await scjg.get_by_role("button", name="提交").click()
    await scjg.wait_for_url(path)
    await shot(scjg, "story-4-followup-rectifying")

    # A supervisor urges the rectification and opens the report.
    boss = await person("supervisor-1")
    await boss.goto(path)
    await boss.get_by_role("button", name="督办").first.click()
    await boss.wait_for_url(path)
    await boss.goto(f"{site}/work/report?period=2025H2")
    assert "报告" in await boss.content()
    await shot(boss, "story-5-supervisor-report")
    await phone.goto(f"{site}/my/{case}")
    assert await phone.get_by_text("差评回访").first.is_visible()
    await shot(phone, "story-6-applicant-followup-375px")


async def test_a_planner_runs_a_step_that_does_not_count(
    served: str, browser: Browser, api: Api
) -> None:
    """行政许可法 第四十五条: the planning department approves land use, then runs the expert
    review of the design, which does not count toward the limit, from the case page."""
    from tests.rules.test_scenarios import FORM

    h = api.harness
    create_user(h.store, id="yz-gh-1", name="规划", role=Role.caseworker, department="YZ-GH")
    set_password(h.store, "yz-gh-1", PASSWORD)
    snap = queries.get_procedure(h.store, "YZ-GCJS-SGXK")
    assert snap is not None
    body = {"procedure": "YZ-GCJS-SGXK", "form": FORM, "materials": snap.required_keys(FORM)}
    made = await api.call("applicant-1", "POST", "/cases", body, **{"Idempotency-Key": "gh-1"})
    assert made.status_code == 201, made.text
    case = made.json()["case_id"]
    h.handles[case] = h.client.get_workflow_handle(case)
    await h.wait_recorded(case)
    await api.ok("desk-1", "POST", f"/cases/{case}/intake", {"decision": "accept"})

    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, served, "yz-gh-1")
    await page.goto(f"{served}/work/cases/{case}")
    await page.get_by_role("button", name="领取").click()
    await page.get_by_label("通过").check()
    await page.get_by_role("button", name="提交").click()
    await page.wait_for_url(f"{served}/work/inbox")

    # The design review stage: the building planning permit is the department's now.
    await page.goto(f"{served}/work/cases/{case}")
    await page.get_by_role("button", name="领取").click()
    await page.wait_for_url(f"{served}/work/cases/{case}")
    await page.get_by_role("button", name="开始 设计方案专家评审（10 个工作日）").click()
    await page.wait_for_url(f"{served}/work/cases/{case}")
    assert await page.get_by_text("设计方案专家评审：进行中，不计入办理时限").is_visible()
    assert await page.get_by_text("开始不计时环节（第四十五条）").is_visible()
    assert await page.get_by_text("不计时环节进行中").is_visible()
    assert await page.get_by_text("是否属于特殊建设工程（需消防设计审查）").is_visible()  # labels
    await shot(page, "caseworker-step-not-counted")
    detail = await api.ok("supervisor-1", "GET", f"/cases/{case}")
    [task] = [t for t in detail["tasks"] if t["task_key"] == "building_planning_joint"]
    assert task["step"] == "expert_review"
    # Another step cannot start while one runs: only the running one can be finished.
    assert await page.get_by_role("button", name="开始 总平面图批前公示（7 个工作日）").count() == 0
    await page.get_by_role("button", name="结束 设计方案专家评审").click()
    await page.wait_for_url(f"{served}/work/cases/{case}")
    assert await page.get_by_text("结束不计时环节").is_visible()
    detail = await api.ok("supervisor-1", "GET", f"/cases/{case}")
    [task] = [t for t in detail["tasks"] if t["task_key"] == "building_planning_joint"]
    assert task["step"] is None
    # The step does not start again: the page says it is over.
    assert (
        await page.get_by_role("button", name="开始 设计方案专家评审（10 个工作日）").count() == 0
    )
    assert await page.get_by_text("设计方案专家评审：已结束").is_visible()
    assert await page.get_by_role("button", name="开始 总平面图批前公示（7 个工作日）").is_visible()


async def test_an_administrator_publishes_and_manages(
    served: str, browser: Browser, api: Api
) -> None:
    """The administrator's path: a broken definition shown at its line, then fixed and
    published; the procedure's versions with their analysis; a feed subscriber; a new user."""
    set_password(api.harness.store, "admin-1", PASSWORD)
    context = await browser.new_context(viewport={"width": 1280, "height": 900})
    page = await context.new_page()
    await sign_in(page, served, "admin-1")
    await page.goto(f"{served}/work/admin")
    good = (
        "kind: Procedure\ncode: YZ-DX-GTHDJ\nname: 个体工商户设立登记（新版）\nversion: 2\n"
        "items: [YZ-SCJG-XK-0003]\ncommitted_limit: 1\ntrips: 0\n"
        "intake: {department: YZ-ZWFW, acceptance_days: 1}\ndelivery: {method: post, days: 1}\n"
        "stages: [{key: r, name: 登记, tasks: [{key: r, item: YZ-SCJG-XK-0003}]}]\n"
    )
    await page.get_by_label("流程（kind: Procedure）").fill(
        good.replace("YZ-SCJG-XK-0003]", "YZ-NOPE]")
    )
    await page.get_by_role("button", name="校验并发布").click()
    alert = page.get_by_role("alert")
    assert "第 5 行" in await alert.inner_text()
    await shot(page, "admin-1-publish-error")
    await page.get_by_label("流程（kind: Procedure）").fill(good)
    await page.get_by_role("button", name="校验并发布").click()
    await page.get_by_role("link", name="版本与分析").click()
    await page.wait_for_url(f"{served}/work/admin/procedures/YZ-DX-GTHDJ")
    assert await page.get_by_role("columnheader", name="v2").is_visible()
    assert await page.get_by_role("columnheader", name="v1").is_visible()
    await shot(page, "admin-2-procedure-versions")

    await page.get_by_role("link", name="推送订阅").click()
    await page.get_by_label("接收地址（http 或 https）").fill("https://jiancha.example.gov.cn/in")
    await page.get_by_label("签名密钥（至少 16 个字符，保存后不再显示）").fill(
        "a-long-shared-secret"
    )
    await page.get_by_role("button", name="添加").click()
    await page.wait_for_url(f"{served}/work/admin/subscribers")
    assert await page.get_by_role("cell", name="https://jiancha.example.gov.cn/in").is_visible()
    await shot(page, "admin-3-subscribers")

    await page.get_by_role("link", name="工作日历").click()
    assert await page.get_by_role("heading", name="节假日安排的来源（全国）").is_visible()
    await shot(page, "admin-4-calendars")

    await page.get_by_role("link", name="用户与令牌").click()
    await page.get_by_label("用户名").fill("yz-gh-9")
    await page.get_by_label("姓名").fill("规划九")
    await page.get_by_label("角色").select_option("caseworker")
    await page.get_by_label("部门（办理人员必填）").fill("YZ-GH")
    await page.get_by_label("初始密码").fill("planning-pass-9")
    await page.get_by_role("button", name="添加").click()
    await page.wait_for_url(f"{served}/work/admin/users")
    assert await page.get_by_role("cell", name="yz-gh-9").is_visible()
    await shot(page, "admin-5-users")
