"""A site of several markets from built-in data: sections, the market index, and both in
Chromium."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from liqwidget.events import validate_events
from liqwidget.site.build import SiteOptions, build_site
from liqwidget.site.pages import embed_path, post_url
from liqwidget.site.serve import serve_in_thread
from liqwidget.sources.dataset import SIM_MARKETS, Dataset

PROJECT = Path(__file__).resolve().parents[1]
#: Set LIQWIDGET_SCREENSHOTS=/some/dir to keep the screenshots for a look.
SHOTS = os.environ.get("LIQWIDGET_SCREENSHOTS")


def small_market(name: str) -> Dataset:
    """A two-day version of a built-in simulated market (keeps the test quick)."""
    from liqwidget.simulator import simulate

    spec = SIM_MARKETS[name]
    sim = simulate(spec.scenario, seed=spec.seed, timeframe="5min", days=2, symbol=spec.symbol,
                   start_price=spec.start_price, tick=spec.tick)  # fmt: skip
    return Dataset(sim.market, validate_events(sim.liquidations), spec.name, "a test", True)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    root = tmp_path_factory.mktemp("markets")
    opts = SiteOptions(project=PROJECT, out=root / "public", cache_dir=root / "cache",
                       cadence="6h", lookback="1D", count=2, strict=True, jobs=2)  # fmt: skip
    data = [small_market("btc"), small_market("eth")]
    return data, build_site(opts, data=data, progress=lambda m: None)


def test_a_section_per_market_with_its_own_posts_and_embeds(site):
    data, result = site
    out = result.out
    assert set(result.markets) == {"btc-usdt", "eth-usdt"}
    for d in data:
        slugs = result.markets[d.section]
        assert len(slugs) == 2 and all(s.startswith(d.section.split("-")[0]) or
                                       s.startswith("simulated-" + d.section.split("-")[0])
                                       for s in slugs)  # fmt: skip
        page = (out / "markets" / f"{d.section}.html").read_text()
        assert f'src="../{embed_path(slugs[-1])}"' in page
        for s in slugs:
            assert (out / post_url(s)).is_file() and (out / embed_path(s)).is_file()
            assert f"{s}.html" in page  # the section lists its posts
    # price scales differ: BTC-like near 60,000, ETH-like near 3,000
    btc, eth = (d.market.column("close")[-1] for d in data)
    assert btc > 10 * eth


def test_market_index_table(site):
    data, result = site
    html = (result.out / "markets" / "index.html").read_text()
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    body = [r for r in rows if "<td" in r]
    assert len(body) == 2
    for d, row in zip(data, body, strict=True):
        cells = re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
        assert f'href="{d.section}.html"' in cells[0]
        price = float(cells[1].replace(",", ""))
        assert price == pytest.approx(d.market.column("close")[-2], rel=0.05)
        assert all(c.strip() for c in cells[2:7])  # clusters and fuel filled in


def test_markets_in_chromium(site, page):
    _, result = site
    server, base = serve_in_thread(result.out)
    try:
        page.goto(base + "markets/index.html")
        table = page.locator("article table").first
        assert table.locator("tbody tr").count() == 2
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/markets-index.png", full_page=True)
        page.locator("article table a", has_text="ETH").first.click()
        page.wait_for_url("**/markets/eth-usdt.html")
        frame = page.frame_locator(".lw-map iframe")
        frame.locator(".lw-facade").click()  # the embed opens as its preview image
        frame.locator(".bk-Canvas, .bk-canvas").first.wait_for(timeout=20_000)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/markets-eth.png", full_page=True)
        assert page.locator("text=Snapshots").count() >= 1
        assert not page.log.page_errors and not page.log.foreign_requests
    finally:
        server.shutdown()


def test_tier_filter_and_cumulative_curves_on_a_published_embed(site, page):
    from test_levels_views import _check_views

    data, result = site
    slug = result.markets["eth-usdt"][-1]
    est = data[1]
    from liqwidget import ClusterModel

    tiers = sorted(ClusterModel().leverage)
    cols = [(s, float(lev)) for s in ("long", "short") for lev in tiers]
    server, base = serve_in_thread(result.out)
    try:
        _check_views(page, base + embed_path(slug), cols)
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/markets-embed-50x.png", full_page=True)
    finally:
        server.shutdown()
    assert est.market.symbol == "ETH/USDT:USDT"
