"""Shared fixtures: the real sample, a real Chromium for tests of what people see, a
fresh store on each backend (SQLite file, PostgreSQL schema) and the fake exchange."""

from __future__ import annotations

import io
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlparse

import numpy as np
import pytest
from PIL import Image

import liqwidget
from liqwidget.store_sql import postgres_schema_url

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
    csp_violations: list[str] = field(default_factory=list)

    def assert_clean(self) -> None:
        assert not self.csp_violations, f"Content-Security-Policy violations: {self.csp_violations}"
        assert not self.page_errors, f"page errors: {self.page_errors}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.foreign_requests, f"requests left 127.0.0.1: {self.foreign_requests}"


#: A PostgreSQL server for the store tests (``.ci/postgres start`` prints one; CI starts it).
POSTGRES_URL = os.environ.get("LIQWIDGET_TEST_POSTGRES")
#: In CI a missing server fails the PostgreSQL tests instead of skipping them.
REQUIRE_POSTGRES = (
    os.environ.get("CI") == "true" or os.environ.get("LIQWIDGET_REQUIRE_POSTGRES") == "1"
)
STORE_BACKENDS = ("sqlite", "postgresql")


@contextmanager
def postgres_store_url() -> Iterator[str]:
    """A URL to an empty schema of its own on the test server, dropped afterwards."""
    if not POSTGRES_URL:
        why = 'LIQWIDGET_TEST_POSTGRES is not set (eval "$(bash .ci/postgres start)")'
        if REQUIRE_POSTGRES:
            pytest.fail(f"PostgreSQL tests are required here (CI): {why}")
        pytest.skip(why)
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
        admin.execute(f"CREATE SCHEMA {schema}")
    try:
        yield postgres_schema_url(POSTGRES_URL, schema)
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture(params=STORE_BACKENDS)
def store_location(request, tmp_path) -> Iterator[str]:
    """Where a fresh, empty store lives: a SQLite file, or a PostgreSQL schema of its own."""
    if request.param == "sqlite":
        yield str(tmp_path / "store.sqlite")
    else:
        with postgres_store_url() as url:
            yield url


@pytest.fixture
def store(store_location) -> Iterator:
    """A fresh, open store on each backend (SQLite; PostgreSQL where a test server is set up)."""
    from liqwidget.store import Store

    with Store(store_location) as s:
        yield s


@pytest.fixture
def fake() -> Iterator:
    """The fake exchange (REST and WebSockets on 127.0.0.1), one for each test."""
    from fake_exchange import FakeExchange

    with FakeExchange() as fx:
        yield fx


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


#: Reports each Content-Security-Policy violation of a page (and of its frames) to the test.
_CSP_WATCH = """
document.addEventListener("securitypolicyviolation", (e) => {
  window.__liqwidgetCsp(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} in ` +
    `${e.sourceFile || document.URL}:${e.lineNumber} ${e.sample || ""}`);
});
"""


def watch_csp(pg, into: list[str]) -> None:
    """Collect the CSP violations of ``pg`` (every frame, every navigation) into ``into``."""
    pg.expose_function("__liqwidgetCsp", lambda text: into.append(text))
    pg.add_init_script(_CSP_WATCH)


#: True when a page (or frame) does not scroll sideways.
NO_SIDEWAYS_SCROLL = (
    "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
)


def plot_boxes(where) -> tuple[dict, dict]:
    """The boxes of a map's heatmap and levels panel canvases, in document order (each plot
    draws on a stack of canvas layers of one size); ``where`` is a page or frame."""
    boxes = [c.bounding_box() for c in where.locator(".bk-Canvas canvas.bk-layer").all()]
    plots = list(dict.fromkeys(tuple(b.items()) for b in boxes if b and b["width"] > 0))
    assert len(plots) == 2, boxes
    return dict(plots[0]), dict(plots[1])


#: Coordinates (in the map's own page) of its parts, from BokehJS's own views: the bottom of
#: the lowest control above the plots, the top of the heatmap's box, and the tops of the
#: heatmap's and the levels panel's frames.
MAP_PARTS = """() => {
  const doc = Bokeh.documents[0];
  const view = (name) => Bokeh.index.find_one(doc.get_model_by_name(name));
  const box = (name) => view(name).el.getBoundingClientRect();
  const controls = ["layer-toggle", "threshold", "cursor-slider"].map((n) => box(n).bottom);
  const frame = (name) => box(name).top + view(name).frame.bbox.top;
  const frames = [frame("map"), frame("levels")];
  return { controls: Math.max(...controls), map: box("map").top, frames };
}"""
#: The most white a map may show between its controls and the heatmap's title: the slider's
#: own margin and the title's padding (15 px in all here), and a few px for other fonts. The
#: band this catches (the panel's title and top axis) added about 50 px.
MAX_GAP_ABOVE_MAP = 24


def pixels(png: bytes):
    """A PNG as an int array of RGB rows."""
    return np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)


def first_painted_row(png: bytes) -> int:
    """The first row of a screenshot with anything darker than near-white on it."""
    rows = np.flatnonzero((pixels(png) < 235).any(axis=(1, 2)))
    assert rows.size, "nothing painted"
    return int(rows[0])


def assert_map_fits(where, box: dict) -> None:
    """The map in ``where`` (a page or frame whose box is ``box``) fits its width: nothing
    scrolls sideways, both plots are inside; on a phone the levels panel is under the
    heatmap, as wide as it, and no empty band sits between the controls and the heatmap;
    on a desktop the panel is beside it, their frames level, the heatmap as wide as the
    fixed layout's."""
    from liqwidget.figure.layout import LEVEL_PANEL_WIDTH, MIN_MAP_WIDTH
    from liqwidget.site.snapshot import FIGURE_SIZE

    assert where.evaluate(NO_SIDEWAYS_SCROLL), "the map scrolls sideways"
    heat, levels = plot_boxes(where)
    for plot in (heat, levels):
        assert box["x"] <= plot["x"] and plot["x"] + plot["width"] <= box["x"] + box["width"]
    parts = where.evaluate(MAP_PARTS)
    if box["width"] < MIN_MAP_WIDTH + LEVEL_PANEL_WIDTH:
        assert levels["y"] >= heat["y"] + heat["height"], (heat, levels)
        assert heat["width"] > 0.8 * box["width"], (heat, box)
        assert levels["width"] >= 0.9 * heat["width"], ("the wrapped panel is narrow", levels)
        # The heatmap's first painted row (its title) follows the controls closely. (Bokeh
        # lines up the frames of a row's plots even when the row wraps: left alone, that
        # put the heatmap under an empty band as tall as the panel's title and top axis.)
        shot = where.locator(".bk-Canvas canvas.bk-layer").first.screenshot()
        gap = parts["map"] + first_painted_row(shot) - parts["controls"]
        assert gap <= MAX_GAP_ABOVE_MAP, f"{gap:.0f} px of white above the heatmap"
    else:
        assert levels["x"] >= heat["x"] + heat["width"], (heat, levels)
        assert levels["width"] == LEVEL_PANEL_WIDTH, levels
        # Beside each other, the same price is on the same pixel row of both plots.
        assert abs(parts["frames"][0] - parts["frames"][1]) < 1, parts
    if box["width"] > FIGURE_SIZE[0] + 20:
        assert heat["width"] == FIGURE_SIZE[0] - LEVEL_PANEL_WIDTH, heat


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
    watch_csp(pg, log.csp_violations)
    pg.route("**/*", route)
    pg.log = log
    yield pg
    context.close()
