"""Browser tests: Debian's Chromium driven by Playwright against the app served by a real threaded server.

JavaScript is off in these pages' contexts: the portal must work without it."""

from __future__ import annotations

import shutil

import pytest

from tests.live import live_server

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


@pytest.fixture(scope="session")
def browser():
    if CHROMIUM is None:
        pytest.fail("Chromium is not installed: .ci/run installs it (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def server(app):
    with live_server(app) as srv:
        yield srv


@pytest.fixture
def page(browser, server):
    """A fresh browser profile with JavaScript disabled, pointed at the live server."""
    context = browser.new_context(java_script_enabled=False, base_url=server.url, locale="en-GB")
    page = context.new_page()
    page.set_default_timeout(15000)
    yield page
    context.close()
