"""The dashboard in headless Chromium: log in, Today's plots render, an override reaches the audit.

Uses Debian's ``chromium`` through Playwright (no browser download). Skips with the reason when
Chromium or Playwright is missing, unless ``ENERGIEMODELL_REQUIRE_SERVICES=1``. Screenshots of
the main pages are kept in ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import shutil
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from scheduler.clock import SimulatedClock
from scheduler.web import BackgroundServer, WebSettings, create_app
from tests.conftest import REPO_ROOT
from tests.scheduler.web.conftest import NOW, PASSWORD, SECRET

pytestmark = pytest.mark.integration

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = REPO_ROOT / "test-artifacts"


@pytest.fixture
def server(store_url: str, web_store) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = WebSettings(
        db_url=store_url, secret_key=SECRET, cookie_secure=False, site=str(web_store.site_path)
    )
    app = create_app(settings, clock=SimulatedClock(NOW))
    background = BackgroundServer(app, "127.0.0.1", port).start()
    yield background.url
    background.stop()
    assert not background.thread.is_alive()
    app.state.ctx.db.dispose()


@pytest.fixture
def page(require_or_skip, server):
    if not CHROMIUM.exists() and shutil.which("chromium") is None:
        require_or_skip(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        require_or_skip("the playwright package is not installed")
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS, headless=True)
        context = browser.new_context(viewport={"width": 1180, "height": 820})  # a tablet
        yield context.new_page()
        context.close()
        browser.close()


def test_login_today_plots_override_and_audit(page, server):
    ARTIFACTS.mkdir(exist_ok=True)
    page.set_default_timeout(30_000)
    page.goto(f"{server}/today")
    assert "/login" in page.url  # not logged in: to the login form
    page.fill("input[name=username]", "operator")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server}/today")
    page.wait_for_selector(".plot[data-rendered=yes]")
    page.wait_for_function(
        "document.querySelectorAll('.plot[data-rendered=yes] svg.main-svg').length >= 4"
    )
    assert page.inner_text("#rung") == "fresh"
    assert page.locator("#plot-carrier-heat .scatterlayer .trace").count() >= 2
    page.screenshot(path=str(ARTIFACTS / "today.png"), full_page=True)

    page.goto(f"{server}/overrides")
    form = page.locator("#override-form")
    form.locator("select[name=kind]").select_option("pin")
    form.locator("input[name=subject]").fill("chp1.p_el_kw")
    form.locator("input[name=value]").fill("250")
    form.locator("input[name=reason]").fill("browser test: boiler inspection")
    form.locator("button[type=submit]").click()
    page.wait_for_url(f"{server}/overrides")
    row = page.locator("#overrides tr", has_text="chp1.p_el_kw")
    assert "browser test: boiler inspection" in row.inner_text()
    page.screenshot(path=str(ARTIFACTS / "overrides.png"), full_page=True)

    page.goto(f"{server}/history")
    audit = page.locator("#audit").inner_text()
    assert "override chp1.p_el_kw by operator: browser test: boiler inspection" in audit
    page.screenshot(path=str(ARTIFACTS / "history.png"), full_page=True)

    page.goto(f"{server}/day?date=2024-03-12&interval=2024-03-12T06:30")
    page.wait_for_function(
        "document.querySelectorAll('.plot[data-rendered=yes] svg.main-svg').length >= 4"
    )
    assert page.locator("#explanation").is_visible()
    page.screenshot(path=str(ARTIFACTS / "day.png"), full_page=True)
