"""The built site: files, incremental rebuilds, weight, feed, links, and the maps in Chromium."""

from __future__ import annotations

import html
import os
import re
import select
import subprocess
import sys
import time
import urllib.request
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urljoin, urlparse

import numpy as np
import pytest
from conftest import pixels

from liqwidget.cli import main as cli_main
from liqwidget.events import validate_events
from liqwidget.html_page import FRAME_SCRIPT
from liqwidget.site.build import SiteOptions, build_site
from liqwidget.site.pages import (
    EMBED_HEIGHT,
    embed_path,
    numbers_path,
    post_url,
    preview_path,
    snippet,
)
from liqwidget.site.serve import serve_in_thread
from liqwidget.sources.dataset import Dataset

PROJECT = Path(__file__).resolve().parents[1]
PAGE_BUDGET = 600 * 1024
#: Set LIQWIDGET_SCREENSHOTS=/some/dir to keep the screenshots for a look.
SHOTS = os.environ.get("LIQWIDGET_SCREENSHOTS")


def sim_data(hours_cut: int = 0) -> Dataset:
    from liqwidget.simulator import simulate

    sim = simulate("long-squeeze", seed=5, timeframe="5min", days=2)
    market = sim.market
    events = validate_events(sim.liquidations)
    if hours_cut:
        end = market.index[-1] - np.timedelta64(hours_cut, "h")
        market = market.slice(end=end)
        events = events[events["time"] < end + market.timeframe]
    return Dataset(market, events, "Simulated BTC/USDT", "a test simulation", True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """Build twice: first without the last 6 hours of data, then with them (incrementally)."""
    root = tmp_path_factory.mktemp("site")
    opts = SiteOptions(
        project=PROJECT,
        out=root / "public",
        cache_dir=root / "cache",
        cadence="6h",
        lookback="1D",
        count=2,
        strict=True,
        jobs=2,
    )
    first = build_site(opts, data=sim_data(hours_cut=6), progress=lambda m: None)
    opts.count = 3
    data = sim_data()
    second = build_site(opts, data=data, progress=lambda m: None)
    return opts, data, first, second


def test_build_writes_posts_embeds_previews_and_bokehjs(site):
    _, _, _, result = site
    out = result.out
    assert len(result.snapshots) == 3
    for i, slug in enumerate(result.snapshots):
        post = (out / post_url(slug)).read_text()
        if i:  # each post links back to the one before it
            assert f'href="{result.snapshots[i - 1]}.html"' in post
        assert "Key numbers" in post and f'src="../{embed_path(slug)}"' in post
        assert "Where the magnets are" in post and "How far to trust this" in post
        assert (out / embed_path(slug)).is_file()
        assert (out / preview_path(slug)).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert (out / numbers_path(slug)).is_file()
    import bokeh

    assert (out / f"assets/bokeh/{bokeh.__version__}/bokeh.min.js").is_file()
    explainer = (out / "blog/how-the-model-works.html").read_text()
    assert "liqwidget:accuracy" not in explainer and "Spearman" in explainer
    assert "Leverage mix" in explainer and "liqwidget:model-settings" not in explainer
    home = (out / "index.html").read_text()
    assert "Latest snapshot" in home and post_url(result.snapshots[-1]) in home
    assert preview_path(result.snapshots[-1]) in home
    for page in ("what-is-a-liquidation-cluster", "reading-the-heatmap"):
        assert (out / "blog" / f"{page}.html").is_file()
    assert any((out / "blog/archive").rglob("*.html"))
    assert any((out / "blog/category").rglob("*.html"))


def test_live_page_is_built_linked_and_embeddable(site):
    out = site[3].out
    live = (out / "live.html").read_text()
    assert 'src="embed/live.html"' in live and "liqwidget:live-snippet" not in live
    # The snippet, shown as code (as text once tags are stripped: Pygments versions differ
    # in whether they write quotes as &quot;).
    shown_text = html.unescape(re.sub(r"<[^>]+>", "", live))
    assert '<iframe src="embed/live.html"' in shown_text
    assert 'href="live.html"' in (out / "index.html").read_text()  # nav and home link
    embed = (out / "embed/live.html").read_text()
    assert "<script>" not in embed  # no inline scripts: the page's code is a file
    assert (out / "assets/live.js").stat().st_size > 1000


def test_rebuild_is_incremental(site):
    opts, data, first, second = site
    assert (first.built, first.reused) == (2, 0)
    # New data adds one snapshot; the two already built are reused, not recomputed.
    assert (second.built, second.reused) == (1, 2)
    post = second.out / post_url(second.snapshots[-1])
    before = post.read_bytes()
    third = build_site(opts, data=data, progress=lambda m: None)
    assert (third.built, third.reused) == (0, 3)
    assert post.read_bytes() == before


def test_snapshot_pages_stay_within_the_weight_budget(site):
    out = site[3].out
    for slug in site[3].snapshots:
        files = [
            out / post_url(slug),
            out / embed_path(slug),
            *(out / "embed").glob(f"{slug}.*.js"),
            out / preview_path(slug),
            out / numbers_path(slug),
        ]
        weight = sum(f.stat().st_size for f in files)
        assert weight <= PAGE_BUDGET, f"{slug}: {weight / 1024:.0f} KB"


REFERENCE_ATTRS = {("script", "src"), ("img", "src"), ("iframe", "src"), ("link", "href")}


class Refs(HTMLParser):
    """Collect resource references and links of one HTML page."""

    def __init__(self):
        super().__init__()
        self.resources: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if (tag, name) in REFERENCE_ATTRS:
                self.resources.append(value)
            elif tag == "a" and name == "href":
                self.links.append(value)


def refs_of(html: str) -> Refs:
    parser = Refs()
    parser.feed(html)
    return parser


def test_no_page_loads_anything_from_another_host(site):
    out = site[3].out
    pages = list(out.rglob("*.html"))
    assert len(pages) > 10
    for page in pages:
        for ref in refs_of(page.read_text(encoding="utf-8")).resources:
            host = urlparse(ref).netloc
            assert not host, f"{page.relative_to(out)} loads {ref}"
    css = "".join(p.read_text(encoding="utf-8") for p in out.rglob("*.css"))
    assert "fonts.googleapis" not in css and "@import url(http" not in css


def test_feed_lists_posts_with_previews(site):
    out = site[3].out
    tree = ET.parse(out / "feed.xml")
    items = tree.findall("./channel/item")
    titles = [i.findtext("title") for i in items]
    assert sum("liquidation map" in t for t in titles) == 3
    assert any("leverage" in t.lower() for t in titles)
    for item in items:
        assert item.findtext("pubDate") and item.findtext("link")
        enc = item.find("enclosure")
        if "liquidation map" in item.findtext("title"):
            assert (out / enc.get("url")).is_file() and int(enc.get("length")) > 0


def test_all_internal_links_resolve(site):
    out = site[3].out
    server, base = serve_in_thread(out)
    try:
        seen, queue, broken = set(), [base], []
        while queue:
            url = queue.pop()
            if url in seen:
                continue
            seen.add(url)
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    kind = resp.headers.get("Content-Type", "")
                    body = resp.read()
            except OSError as exc:
                broken.append(f"{url}: {exc}")
                continue
            if "html" not in kind:
                continue
            r = refs_of(body.decode("utf-8"))
            for ref in r.resources + r.links:
                target = urljoin(url, ref).split("#")[0]
                if target.startswith(base) and target not in seen:
                    queue.append(target)
        assert not broken, broken
        pages = [u for u in seen if u.endswith(".html")]
        assert len(pages) > 15, f"crawl reached only {len(pages)} pages"
        for slug in site[3].snapshots:
            assert f"{base}{embed_path(slug)}" in seen and f"{base}{post_url(slug)}" in seen
    finally:
        server.shutdown()
        server.server_close()


def test_cli_build_prints_where_to_open(tmp_path, capsys):
    out = tmp_path / "public"
    code = cli_main(
        [
            "site",
            "build",
            "--source",
            "sample",
            "--count",
            "1",
            "--out",
            str(out),
            "--cache",
            str(tmp_path / "cache"),
            "--project",
            str(PROJECT),
        ]
    )
    printed = capsys.readouterr()
    assert code == 0, printed.err
    assert f"Open {(out / 'index.html').as_uri()}" in printed.out
    assert "liqwidget site serve" in printed.out
    assert (out / "index.html").is_file()
    post = next((out / "blog").glob("btc-usdt-*.html")).read_text()
    assert "no recorded liquidation events" in post  # the sample has none: said plainly


def test_cli_serve_serves_the_built_site(site):
    out = site[3].out
    cmd = [sys.executable, "-u", "-m", "liqwidget.cli", "site", "serve", "--no-build"]
    cmd += ["--out", str(out), "--port", "0", "--project", str(PROJECT)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 30)
        assert ready, "serve printed nothing within 30 s"
        line = proc.stdout.readline()
        match = re.search(r"http://127\.0\.0\.1:(\d+)/", line)
        assert match, line
        with urllib.request.urlopen(match.group(0), timeout=10) as resp:
            assert resp.status == 200 and b"Liquidation maps, explained" in resp.read()
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_cli_serve_without_a_build_says_what_to_do(tmp_path, capsys):
    args = ["site", "serve", "--no-build", "--out", str(tmp_path), "--project", str(PROJECT)]
    assert cli_main(args) == 1
    assert "build the site first" in capsys.readouterr().err


def test_cli_build_explains_bad_cadence(tmp_path, capsys):
    code = cli_main(
        [
            "site",
            "build",
            "--source",
            "sample",
            "--cadence",
            "often",
            "--project",
            str(PROJECT),
            "--out",
            str(tmp_path),
        ]
    )
    assert code == 1
    assert "cadence 'often' is not a duration" in capsys.readouterr().err


# ---------------------------------------------------------------------- in Chromium
def keep(name: str, png: bytes) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        (Path(SHOTS) / name).write_bytes(png)


@pytest.fixture(scope="module")
def served(site):
    server, base = serve_in_thread(site[3].out)
    yield base, site[3].snapshots
    server.shutdown()
    server.server_close()


WAIT_IDLE = "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"


def open_map(where) -> None:
    """Turn an embed's facade (preview image) into the interactive map."""
    where.locator(".lw-facade").click()


def open_post_map(page, base: str, slug: str):
    """Open a snapshot post and its embedded map; return the iframe's locator and frame."""
    page.goto(f"{base}{post_url(slug)}")
    frame = page.frame_locator(".lw-map iframe")
    frame.locator(".lw-facade img").wait_for(timeout=15000)
    open_map(frame)
    frame.locator("canvas").first.wait_for(timeout=15000)
    inner = next(f for f in page.frames if "/embed/" in f.url)
    inner.wait_for_function(WAIT_IDLE, timeout=15000)
    return frame, inner


@pytest.mark.browser
def test_snapshot_post_shows_the_interactive_map(page, served):
    base, slugs = served
    open_post_map(page, base, slugs[-1])
    shot = page.locator(".lw-map iframe").screenshot()
    keep("post-map.png", shot)
    keep("post-full.png", page.screenshot(full_page=True))
    img = pixels(shot)
    assert img.std() > 30 and len(np.unique(img.reshape(-1, 3), axis=0)) > 500
    code = page.locator("pre code", has_text="<iframe").first.inner_text()
    assert re.search(rf'src="{re.escape(base + embed_path(slugs[-1]))}"', code), code
    assert f'<script src="{base}{FRAME_SCRIPT}" async></script>' in code, code
    page.log.assert_clean()


def settle(locator, accept, timeout: float = 10.0) -> np.ndarray:
    """Screenshots of ``locator`` until ``accept(pixels)`` holds (the canvas redraws async)."""
    deadline = time.monotonic() + timeout
    while True:
        img = pixels(locator.screenshot())
        if accept(img) or time.monotonic() > deadline:
            return img
        time.sleep(0.1)


def open_embed(page, base: str, slug: str):
    """Open a snapshot's embed page and its map, wait for BokehJS; return the heat canvas."""
    page.goto(f"{base}{embed_path(slug)}")
    open_map(page)
    page.wait_for_function(WAIT_IDLE, timeout=15000)
    return page.locator("canvas").first


@pytest.mark.browser
def test_embed_toggles_and_threshold_work_without_a_kernel(page, served):
    base, slugs = served
    heat = open_embed(page, base, slugs[0])
    before = pixels(heat.screenshot())
    keep("embed-before.png", page.screenshot())
    assert before.std() > 30

    def changed(img, by):
        return np.abs(before - img).mean() > by

    clusters = page.get_by_label("Clusters (model estimate)")
    clusters.click()
    hidden = settle(heat, lambda img: changed(img, 5))
    keep("embed-clusters-off.png", page.screenshot())
    assert not clusters.is_checked()
    assert changed(hidden, 5), "hiding the clusters layer changed nothing"
    clusters.click()
    restored = settle(heat, lambda img: not changed(img, 1))
    assert not changed(restored, 1), "showing the clusters layer again did not restore the map"

    value = "Bokeh.documents[0].get_model_by_name('threshold').value"
    start = page.evaluate(value)
    page.locator(".noUi-handle").first.focus()
    for _ in range(12):
        page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => {value} > {start}", timeout=5000)
    thresholded = settle(heat, lambda img: changed(img, 2))
    keep("embed-threshold.png", page.screenshot())
    assert changed(thresholded, 2), "raising the threshold changed nothing"
    page.log.assert_clean()


@pytest.mark.browser
def test_forecast_layer_toggles_in_the_embed_and_the_post(page, served):
    base, slugs = served
    heat = open_embed(page, base, slugs[-1])
    forecast = page.get_by_label("Forecast (next 4h)")
    assert not forecast.is_checked()  # one click away, not on by default
    page.get_by_label("Clusters (model estimate)").click()
    page.get_by_label("Real liquidations").click()
    bare = settle(heat, lambda img: True)
    forecast.click()
    shown = settle(heat, lambda img: np.abs(bare - img).mean() > 2)
    keep("embed-forecast.png", page.screenshot())
    assert forecast.is_checked()
    assert np.abs(bare - shown).mean() > 2, "showing the forecast layer changed nothing"
    # Violet (expected long liquidations below price) and gold (short, above) appear.
    violet = (shown[..., 2] > shown[..., 1] + 60) & (shown[..., 0] > shown[..., 1] + 30)
    gold = (shown[..., 0] > 150) & (shown[..., 1] > 120) & (shown[..., 2] < 90)
    assert violet.sum() > 200 and gold.sum() > 200, (violet.sum(), gold.sum())
    page.log.assert_clean()

    # Beside the levels, the forecast profile at the cursor: shown with the layer, and
    # refilled from the stored frames when the cursor moves.
    profile = page.evaluate(PROFILE)
    assert profile["visible"] == [True, True], profile
    assert profile["long"] > 0 and profile["short"] > 0, profile
    assert profile["long_above"] == 0 and profile["short_below"] == 0, profile
    page.evaluate(
        "() => { const s = Bokeh.documents[0].get_model_by_name('cursor-slider');"
        " s.value = s.start + 0.5 * (s.end - s.start); }"
    )
    moved = page.evaluate(PROFILE)
    assert moved["long"] > 0 and (moved["long"], moved["short"]) != (
        profile["long"],
        profile["short"],
    ), (profile, moved)
    keep("embed-forecast-cursor.png", page.screenshot())
    forecast.click()
    assert page.evaluate(PROFILE)["visible"] == [False, False]
    page.log.assert_clean()

    # The same layer in the snapshot post's embedded map.
    frame, inner = open_post_map(page, base, slugs[-1])
    label = frame.get_by_label("Forecast (next 4h)")
    label.click()
    inner.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('forecast-image').visible", timeout=5000
    )
    assert label.is_checked()
    keep("post-forecast.png", page.locator(".lw-map iframe").screenshot())
    page.log.assert_clean()


#: The levels panel's forecast profile: visibility of its two lines, each side's total, and
#: any long expected above the last close or short below it (there should be none).
PROFILE = """() => {
  const doc = Bokeh.documents[0];
  const d = doc.get_model_by_name('forecast-profile').data;
  const close = doc.get_model_by_name('price-source').data.close;
  const last = close[close.length - 1];
  let long = 0, short = 0, long_above = 0, short_below = 0;
  for (let i = 0; i < d.price.length; i++) {
    long += d.long[i];
    short += d.short[i];
    if (d.price[i] > last * 1.02) long_above += d.long[i];
    if (d.price[i] < last * 0.98) short_below += d.short[i];
  }
  const visible = ['long', 'short'].map(
    (s) => doc.get_model_by_name('forecast-profile-' + s).visible);
  return { visible, long, short, long_above, short_below };
}"""


FIT = """() => {
  const root = document.documentElement;
  return [Math.ceil(root.getBoundingClientRect().height), root.scrollHeight, root.clientHeight];
}"""


def fitted(frame_element, inner, timeout: float = 10.0) -> dict[str, int]:
    """Wait until the iframe is as tall as the page it shows; return the heights.

    ``frame_element`` is the iframe (in the outer page), ``inner`` the page in it.
    """
    deadline = time.monotonic() + timeout
    while True:
        content, scroll, view = inner.evaluate(FIT)
        frame = frame_element.evaluate("el => el.clientHeight")
        if (frame == view == content and scroll <= view) or time.monotonic() > deadline:
            return {"frame": frame, "content": content, "scroll": scroll, "view": view}
        time.sleep(0.1)


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1400])
def test_the_post_frame_fits_its_map_at_phone_and_desktop_widths(chromium, served, width):
    """The frame takes the height of what it shows (preview, then map with its controls,
    key numbers and caption): nothing scrolls inside it, at a phone's width too."""
    from conftest import NO_SIDEWAYS_SCROLL, assert_map_fits, watch_csp

    base, slugs = served
    context = chromium.new_context(viewport={"width": width, "height": 800})
    try:
        page = context.new_page()
        violations: list[str] = []
        watch_csp(page, violations)
        page.goto(f"{base}{post_url(slugs[-1])}")
        frame = page.frame_locator(".lw-map iframe")
        frame.locator(".lw-facade img").wait_for(timeout=15000)
        iframe = page.locator(".lw-map iframe")
        inner = next(f for f in page.frames if "/embed/" in f.url)
        preview = fitted(iframe, inner)
        assert preview["frame"] == preview["content"] == preview["view"], preview
        assert preview["scroll"] <= preview["view"], preview
        open_map(frame)
        inner.wait_for_function(WAIT_IDLE, timeout=15000)
        frame.locator("table.lw-numbers").wait_for()
        shown = fitted(iframe, inner)
        assert shown["frame"] == shown["content"] == shown["view"], shown
        assert shown["scroll"] <= shown["view"], (shown, "the map scrolls inside its frame")
        # The fixed height (kept for pages without JavaScript) holds the preview, not the map.
        assert preview["frame"] <= EMBED_HEIGHT < shown["frame"], (preview, shown)
        # The page's last line (the caption's link) is inside the frame's box.
        box = iframe.bounding_box()
        link = frame.get_by_role("link", name="read the snapshot").bounding_box()
        assert box["y"] < link["y"] and link["y"] + link["height"] <= box["y"] + box["height"]
        # The map fits the frame's width (nothing scrolls sideways): at a phone's width the
        # heatmap narrows and the levels panel wraps under it; on a desktop it stays beside.
        assert_map_fits(inner, box)
        assert page.evaluate(NO_SIDEWAYS_SCROLL), "the post scrolls sideways"
        keep(f"post-fitted-{width}.png", iframe.screenshot())
        # The snippet to copy names this site's map by its absolute URL (a script file does
        # it: no inline script, so the policy lists none of ours).
        code = page.locator("pre code", has_text="<iframe").first.text_content()
        assert f'src="{base}embed/{slugs[-1]}' in code, code
        assert violations == []
    finally:
        context.close()


@pytest.mark.browser
def test_the_pasted_snippet_fits_its_frame_on_another_site(chromium, served, tmp_path):
    """An educator pastes the snippet (iframe and script) into a page on another origin:
    the frame grows to the opened map, though the script may load after the frame."""
    from conftest import watch_csp

    base, slugs = served
    code = snippet(slugs[-1], "BTC map", base)
    assert f'<script src="{base}{FRAME_SCRIPT}" async></script>' in code
    (tmp_path / "index.html").write_text(
        '<!DOCTYPE html><html><head><link rel="icon" href="data:,"></head><body>'
        f"<h1>Lesson</h1><p>Read the map below.</p>{code}<p>The end.</p></body></html>",
        encoding="utf-8",
    )
    other, other_base = serve_in_thread(tmp_path)
    context = chromium.new_context(viewport={"width": 390, "height": 800})
    try:
        assert urlparse(other_base).port != urlparse(base).port  # another origin
        page = context.new_page()
        violations: list[str] = []
        watch_csp(page, violations)
        page.goto(other_base + "index.html")
        frame = page.frame_locator("iframe")
        frame.locator(".lw-facade img").wait_for(timeout=15000)
        iframe = page.locator("iframe")
        inner = next(f for f in page.frames if "/embed/" in f.url)
        open_map(frame)
        inner.wait_for_function(WAIT_IDLE, timeout=15000)
        shown = fitted(iframe, inner)
        assert shown["frame"] == shown["content"] > EMBED_HEIGHT, shown
        assert shown["scroll"] <= shown["view"], shown
        keep("snippet-fitted-390.png", page.screenshot(full_page=True))
        assert violations == []
    finally:
        context.close()
        other.shutdown()
        other.server_close()


@pytest.mark.browser
def test_readers_without_javascript_get_the_static_preview(chromium, served):
    base, slugs = served
    context = chromium.new_context(
        java_script_enabled=False, viewport={"width": 1200, "height": 900}
    )
    try:
        page = context.new_page()
        page.goto(f"{base}{post_url(slugs[-1])}")
        # The map's frame shows its own static fallback (once: the post adds no second copy).
        img = page.frame_locator(".lw-map iframe").locator("img")
        img.wait_for(timeout=10000)
        assert page.locator(".lw-map img").count() == 0
        width = img.evaluate("el => el.complete ? el.naturalWidth : 0")
        assert width > 300, "the preview image did not load"
        keep("post-no-js.png", page.screenshot())
    finally:
        context.close()


@pytest.mark.browser
def test_embed_works_straight_from_the_file_system(chromium, site):
    """The built folder needs no server: an embed opened as a file draws its map."""
    out, slug = site[3].out, site[3].snapshots[-1]
    context = chromium.new_context(viewport={"width": 1000, "height": 700})
    errors, foreign = [], []
    try:
        page = context.new_page()
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on(
            "request",
            lambda r: (
                None if r.url.startswith(("file:", "data:", "blob:")) else foreign.append(r.url)
            ),
        )
        page.goto((out / embed_path(slug)).as_uri())
        open_map(page)
        page.wait_for_function(WAIT_IDLE, timeout=15000)
        img = pixels(page.locator("canvas").first.screenshot())
        assert img.std() > 30
        assert not errors and not foreign, (errors, foreign)
    finally:
        context.close()


def test_every_page_carries_the_policy_and_breaks_none_of_it(chromium, served, site):
    """Each built page has the CSP meta; opened in Chromium, none reports a violation."""
    from conftest import watch_csp

    base, _ = served
    out = site[3].out
    pages = sorted(out.rglob("*.html"))
    assert len(pages) > 10
    for path in pages:
        text = path.read_text(encoding="utf-8")
        assert text.count('http-equiv="Content-Security-Policy"') == 1, path
        assert "unsafe-eval" not in text, path
    context = chromium.new_context()
    try:
        for path in pages:
            pg = context.new_page()
            violations: list[str] = []
            watch_csp(pg, violations)
            pg.goto(f"{base}{path.relative_to(out).as_posix()}")
            pg.wait_for_load_state("load")
            if path.relative_to(out).as_posix() == "embed/live.html":
                # No live process publishes into this build: the page says so, and waits.
                pg.wait_for_function(
                    "() => document.querySelector('.lw-live-status')"
                    ".textContent.includes('No live data here yet')"
                )
            elif path.parent.name == "embed":
                pg.locator(".lw-facade").click()
                pg.wait_for_function("() => window.Bokeh && Bokeh.documents.length > 0")
                pg.wait_for_timeout(300)
            assert violations == [], f"{path.relative_to(out)}: {violations}"
            pg.close()
    finally:
        context.close()


@pytest.mark.browser
def test_embed_shows_preview_and_numbers_before_any_map_script(page, served):
    """The facade: image and key numbers at once; BokehJS and the document only on demand."""
    base, slugs = served
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url))
    page.goto(f"{base}{embed_path(slugs[-1])}")
    img = page.locator(".lw-facade img")
    img.wait_for(timeout=10000)
    assert img.evaluate("el => el.complete && el.naturalWidth") > 300
    assert img.get_attribute("alt").startswith("Static preview of the liquidation map")
    assert page.locator("table.lw-numbers th", has_text="Nearest long cluster").count() == 1
    page.wait_for_load_state("networkidle")
    assert not [
        u
        for u in requested
        if "/assets/bokeh/" in u
        or ("/embed/" in u and u.endswith(".js") and not u.endswith(FRAME_SCRIPT))
    ]
    assert page.evaluate("typeof window.Bokeh") == "undefined"
    keep("embed-facade.png", page.screenshot())
    open_map(page)
    page.wait_for_function(WAIT_IDLE, timeout=15000)
    assert any("/assets/bokeh/" in u for u in requested)
    assert page.locator(".lw-facade").count() == 0
    assert pixels(page.locator("canvas").first.screenshot()).std() > 30
    page.log.assert_clean()


@pytest.mark.browser
def test_embed_works_from_the_keyboard_and_names_every_control(page, served):
    base, slugs = served
    page.goto(f"{base}{embed_path(slugs[-1])}")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.className") == "lw-facade"
    page.keyboard.press("Enter")
    page.wait_for_function(WAIT_IDLE, timeout=15000)
    threshold = page.get_by_role("slider", name="Contrast threshold (hide the faintest share)")
    threshold.wait_for(timeout=5000)
    assert page.get_by_role("slider", name="Time cursor").count() == 1
    value = "Bokeh.documents[0].get_model_by_name('threshold').value"
    start = page.evaluate(value)
    threshold.focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function(f"() => {value} > {start}", timeout=5000)
    clusters = page.get_by_role("checkbox", name="Clusters (model estimate)")
    assert clusters.is_checked()
    clusters.focus()
    page.keyboard.press("Space")
    assert not clusters.is_checked()
    page.log.assert_clean()


def test_large_files_have_precompressed_copies(site):
    import gzip

    import brotli

    out = site[3].out
    big = [p for p in out.rglob("*") if p.suffix in (".html", ".js", ".css", ".json")]
    big = [p for p in big if p.stat().st_size >= 1024]
    assert any("/assets/bokeh/" in str(p) for p in big)
    for p in big:
        raw = p.read_bytes()
        assert gzip.decompress(p.with_name(p.name + ".gz").read_bytes()) == raw, p
        assert brotli.decompress(p.with_name(p.name + ".br").read_bytes()) == raw, p
