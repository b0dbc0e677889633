"""The levels panel views traders know: the leverage-tier filter and the cumulative
liquidation curves, in Python and in Chromium without a kernel."""

from __future__ import annotations

import os

import numpy as np
import pytest

import liqwidget as lw
from liqwidget.figure import build_figure
from liqwidget.figure.layout import cumulative, tier_options

SHOTS = os.environ.get("LIQWIDGET_SCREENSHOTS")


def test_cumulative_by_hand():
    bars = {
        "price": np.array([90.0, 95.0, 105.0, 110.0]),
        "long_10": np.array([1.0, 2.0, 0.0, 0.0]),
        "long_50": np.array([0.0, 4.0, 0.0, 0.0]),
        "short_10": np.array([0.0, 0.0, 0.0, 8.0]),
        "short_50": np.array([0.0, 0.0, 16.0, 0.0]),
    }
    cols = [("long", 10.0), ("long", 50.0), ("short", 10.0), ("short", 50.0)]
    c = cumulative(bars, cols)
    # longs summed from the top down (more as price falls), shorts from the bottom up
    np.testing.assert_allclose(c["long"], [7, 6, 0, 0])
    np.testing.assert_allclose(c["short"], [0, 0, 16, 24])
    c = cumulative(bars, cols, min_leverage=50)
    np.testing.assert_allclose(c["long"], [4, 4, 0, 0])
    np.testing.assert_allclose(c["short"], [0, 0, 16, 16])
    assert tier_options([5.0, 25.0, 100.0]) == [
        ("0", "All leverage tiers"),
        ("25", "25x and above"),
        ("100", "100x and above"),
    ]


STATE = """() => {
  const d = Bokeh.documents[0];
  const get = (n) => d.get_model_by_name(n);
  const cols = (s) => Object.fromEntries(Object.entries(get(s).data).map(([k, v]) => [k, Array.from(v)]));
  return {raw: cols('levels-source'), shown: cols('levels-shown'), cum: cols('cumulative-source'),
          filter: get('tier-filter').value, title: get('levels').title.text};
}"""


def check_state(s: dict, cols, min_lev: float) -> None:
    """The shown bars and the curves in the page are what Python computes from its bars."""
    for side, lev in cols:
        name = f"{side}_{lev:g}"
        want = s["raw"][name] if lev >= min_lev else np.zeros(len(s["raw"]["price"]))
        np.testing.assert_allclose(s["shown"][name], want, rtol=1e-6)
    want = cumulative(s["raw"], cols, min_lev)
    np.testing.assert_allclose(s["cum"]["long"], want["long"], rtol=1e-5, atol=1e-3)
    np.testing.assert_allclose(s["cum"]["short"], want["short"], rtol=1e-5, atol=1e-3)


@pytest.fixture(scope="module")
def map_file(tmp_path_factory):
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    sim = lw.simulate("calm-range", seed=1, days=1, timeframe="5min")
    est = lw.ClusterModel().estimate(sim.market)
    p = float(sim.market.column("close")[-1])
    path = tmp_path_factory.mktemp("map") / "index.html"
    lay = build_figure(est, sim.liquidations, price_range=(p * 0.9, p * 1.1), width=1000)
    path.write_text(file_html(lay, INLINE, "map"), encoding="utf-8")
    cols = [(s, float(lev)) for s in ("long", "short") for lev in est.raw.leverage]
    return path, cols


def test_tier_filter_and_curves_without_a_kernel(map_file, page):
    from liqwidget.site.serve import serve_in_thread

    path, cols = map_file
    server, base = serve_in_thread(path.parent)
    try:
        _check_views(page, base + path.name, cols)
    finally:
        server.shutdown()


def _check_views(page, url: str, cols) -> None:
    page.set_viewport_size({"width": 1000, "height": 560})
    page.goto(url)
    facade = page.locator(".lw-facade")  # a published embed shows its preview until clicked
    if facade.count():
        facade.click()
    page.wait_for_function(
        "() => window.Bokeh && Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle"
    )
    s = page.evaluate(STATE)
    assert s["filter"] == "0"
    check_state(s, cols, 0.0)
    total_long = s["cum"]["long"][0]
    assert total_long > 0 and s["cum"]["short"][-1] > 0
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/levels-all-tiers.png")
    # show only 50x and above: the far, low-leverage tiers leave the panel and the curves
    page.get_by_role("combobox").select_option(label="50x and above")
    page.wait_for_function(
        "() => Bokeh.documents[0].get_model_by_name('tier-filter').value == '50'"
    )
    s = page.evaluate(STATE)
    check_state(s, cols, 50.0)
    assert 0 < s["cum"]["long"][0] < 0.9 * total_long
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/levels-50x.png")
    # moving the time cursor brings other bars; the filter and the curves follow them
    before = s["title"]
    page.evaluate(
        "() => { const sl = Bokeh.documents[0].get_model_by_name('cursor-slider');"
        " sl.value = sl.start + 0.4 * (sl.end - sl.start); }"
    )
    page.wait_for_function(
        f"() => Bokeh.documents[0].get_model_by_name('levels').title.text != {before!r}"
    )
    s = page.evaluate(STATE)
    check_state(s, cols, 50.0)
    page.log.assert_clean()
