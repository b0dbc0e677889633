"""Shared fixtures: the real sample, and a real Chromium for tests of what people see."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlparse

import pytest

import liqwidget

CHROMIUM = "/usr/bin/chromium"
#: CI sets this so that a missing browser fails the run instead of skipping browser tests.
REQUIRE_BROWSER = os.environ.get("LIQWIDGET_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]


@pytest.fixture(scope="session")
def sample() -> liqwidget.MarketData:
    return liqwidget.load_sample()


def _browser_missing() -> str | None:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install playwright)"
    return None


@dataclass
class PageLog:
    """What a page did: console errors, page errors and requests to non-loopback hosts."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.page_errors, f"page errors: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.foreign_requests, f"requests left 127.0.0.1: {self.foreign_requests}"


LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by Playwright (skips without one, fails in CI)."""
    why = _browser_missing()
    if why:
        if REQUIRE_BROWSER:
            pytest.fail(f"browser tests are required here (LIQWIDGET_REQUIRE_BROWSER=1): {why}")
        pytest.skip(why)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        browser = pw.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        yield browser
        browser.close()


@pytest.fixture
def page(chromium) -> Iterator:
    """A fresh page whose console errors and foreign requests are recorded in ``page.log``.

    Requests to any host other than loopback are aborted and recorded, never sent.
    """
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    pg = context.new_page()
    log = PageLog()

    def on_console(msg):
        if msg.type == "error":
            log.console_errors.append(msg.text)

    def route(r):
        url = r.request.url
        host = urlparse(url).hostname or ""
        if url.startswith(("data:", "blob:", "about:")) or host in LOOPBACK:
            r.continue_()
        else:
            log.foreign_requests.append(url)
            r.abort()

    pg.on("console", on_console)
    pg.on("pageerror", lambda exc: log.page_errors.append(str(exc)))
    pg.route("**/*", route)
    pg.log = log
    yield pg
    context.close()
