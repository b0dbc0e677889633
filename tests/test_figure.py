"""build_figure: one Bokeh layout, compact layers, and controls that work in a static page."""

from __future__ import annotations

import functools
import http.server
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from bokeh.embed import file_html
from bokeh.models import CustomJS, CustomJSHover, CustomJSTickFormatter, HoverTool, Slider
from bokeh.resources import CDN, INLINE

import liqwidget
from liqwidget.figure import NAMES, build_figure, callbacks, decode_layer, encode_layer, figure_data
from liqwidget.figure.item import document_callbacks, figure_item
from liqwidget.figure.layout import LEVEL_PANEL_WIDTH
from liqwidget.figure.palettes import CLUSTER_LONG, CLUSTER_SHORT, ramp, threshold_palette
from liqwidget.site.pages import stable_ids

SHOTS = Path(__file__).resolve().parent.parent / "build" / "screenshots"


@pytest.fixture(scope="module")
def estimate(sample):
    return liqwidget.ClusterModel().estimate(sample)


@pytest.fixture(scope="module")
def events(sample):
    rng = np.random.default_rng(11)
    n = 2_000
    bars = sample.frame.iloc[rng.integers(0, len(sample), n)]
    side = rng.choice(["long", "short"], n)
    return pd.DataFrame(
        {
            "time": bars.index + pd.Timedelta("2min"),
            "side": side,
            "price": np.where(side == "long", bars["low"], bars["high"]),
            "notional": rng.lognormal(9, 1.4, n),
            "exchange": rng.choice(["binanceusdm", "bybit"], n),
        }
    )


@pytest.fixture(scope="module")
def layout(estimate, events):
    return build_figure(estimate, events)


def test_every_named_model_is_in_the_document(layout):
    found = {m.name for m in layout.references() if m.name}
    assert set(NAMES) <= found


def test_browser_code_comes_from_the_js_modules(layout, estimate):
    """Every callback in the document runs one of figure/js/*.js, and every module is used
    (by the widget's fixed layout or by the site's fitting one)."""
    files = {p.stem for p in callbacks.JS_DIR.glob("*.js")}
    assert files == set(callbacks.FUNCTIONS) and len(files) >= 7
    fitted = build_figure(estimate, fit=True)
    custom = [
        m
        for lay in (layout, fitted)
        for m in [*lay.references(), *document_callbacks(lay)]
        if isinstance(m, CustomJS | CustomJSHover | CustomJSTickFormatter)
    ]
    used = set()
    for m in custom:
        name = next(n for n, f in callbacks.FUNCTIONS.items() if f in m.code)
        assert m.code.startswith(f"return {callbacks.FUNCTIONS[name]}("), name
        assert "export default" not in m.code  # run as a function, not as an ES module
        used.add(name)
    assert used == files
    toggle = next(m for m in layout.references() if m.name == "layer-toggle")
    (cb,) = toggle.js_property_callbacks["change:active"]
    assert len(cb.args["layers"]) == len(callbacks.LAYERS) == len(toggle.labels)


def test_the_embedded_item_names_the_slider_handles_and_leaves_the_layout_plain(layout):
    """The document BokehJS embeds names each slider's handle when it is ready; the layout
    itself stays in no document, so Bokeh's own ``show`` can still take it."""
    (ready,) = document_callbacks(layout)
    titles = {m.name: m.title for m in layout.references() if isinstance(m, Slider)}
    assert [s.name for s in ready.args["sliders"]] == ["cursor-slider", "threshold"]
    assert ready.args["names"] == [titles["cursor-slider"], titles["threshold"]]
    assert ready.args["names"] == ["Time cursor", "Contrast threshold (hide the faintest share)"]
    item = figure_item(layout)
    assert layout.document is None
    (entry,) = item["doc"]["callbacks"]["entries"]
    assert entry[0] == "document_ready" and entry[1][0]["attributes"]["code"] == ready.code
    # Built again, the same document (up to Bokeh's per-process model ids).
    assert stable_ids(figure_item(layout)) == stable_ids(item)


def test_a_fitting_layout_takes_the_page_width_the_fixed_one_its_own(estimate, layout):
    """``fit`` (the site's pages) stretches the map up to ``width``; without it (the widget)
    every part keeps its pixel width, as before."""
    fitted = build_figure(estimate, width=900, fit=True)
    assert (fitted.sizing_mode, fitted.max_width) == ("stretch_width", 900)
    heat = fitted.select_one({"name": "map"})
    assert heat.sizing_mode == "stretch_width" and "min-width" in heat.styles
    # The levels panel keeps its width beside the heatmap and takes the row's under it.
    panel = fitted.select_one({"name": "levels"})
    assert panel.sizing_mode == "stretch_width"
    assert panel.styles["flex"] == f"0 0 {LEVEL_PANEL_WIDTH}px"
    assert f"max({LEVEL_PANEL_WIDTH}px" in panel.styles["min-width"]
    # Its frame lines up with the heatmap's only while it is beside it (a ready callback).
    (align,) = [cb for cb in document_callbacks(fitted) if "map" in cb.args]
    assert (align.args["map"], align.args["levels"]) == (heat, panel)
    assert layout.sizing_mode is None and layout.max_width is None
    assert layout.select_one({"name": "levels"}).width == LEVEL_PANEL_WIDTH
    assert [cb for cb in document_callbacks(layout) if "map" in cb.args] == []
    assert layout.select_one({"name": "map"}).width == 1000 - LEVEL_PANEL_WIDTH
    assert layout.select_one({"name": "notes"}).width == 1000
    assert layout.select_one({"name": "map"}).styles == {}


def test_a_malformed_js_module_is_refused():
    with pytest.raises(ValueError, match=r"exactly one `export default`"):
        callbacks._as_factory("broken", "function f() {}\n")
    with pytest.raises(ValueError, match="no other import or export"):
        callbacks._as_factory("broken", "import x from 'y';\nexport default function f() {}\n")
    with pytest.raises(KeyError, match="no browser code 'nope'"):
        callbacks.callback("nope")


def test_layers_are_uint8_at_the_requested_resolution(estimate, events):
    data = figure_data(estimate, events, resolution=(300, 120))
    for name in ("clusters-source", "real-source"):
        img = data.sources[name]["image"][0]
        assert img.dtype == np.uint8 and img.shape == (120, 300)
    assert data.heatmap.long.shape == (120, 300)
    # The real layer is the events binned on the same grid as the clusters.
    assert np.array_equal(data.realized.price_edges, data.heatmap.price_edges)
    assert data.realized.long.sum() + data.realized.short.sum() == pytest.approx(
        events["notional"].sum()
    )


def test_long_and_short_get_their_own_codes():
    long = np.array([[0.0, 10.0, 1000.0, 0.5]])
    short = np.array([[0.0, 0.0, 100.0, 20.0]])
    code, vmin, vmax = encode_layer(long, short)
    assert vmax == 1000.0 and vmin == 1.0
    assert code[0, 0] == 0  # empty
    assert 1 <= code[0, 1] <= 127 and code[0, 2] == 127  # long, the maximum at the top code
    assert code[0, 3] > 128  # short is larger in that cell
    dl, ds = decode_layer(code, vmin, vmax)
    assert dl[0, 2] == pytest.approx(1000.0) and ds[0, 3] == pytest.approx(20.0, rel=0.03)
    assert dl[0, 3] == 0.0 and ds[0, 1] == 0.0


def test_clusters_sit_on_the_right_side_of_price(estimate):
    data = figure_data(estimate, resolution=(200, 150))
    grid, price = data.heatmap, data.sources["price-source"]
    rows = grid.prices[:, None]
    ok = np.isfinite(price["low"])
    # In every column, long levels are below that column's low and short ones above its high.
    tiny = 1e-6 * max(grid.long.max(), grid.short.max())  # float residue of cumulative sums
    below = (grid.long > tiny) & (rows > price["high"][None, :] + np.diff(grid.price_edges)[0])
    above = (grid.short > tiny) & (rows < price["low"][None, :] - np.diff(grid.price_edges)[0])
    assert not below[:, ok].any() and not above[:, ok].any()


def test_notes_say_estimate_and_name_undercounting_feeds(layout):
    notes = next(m for m in layout.references() if m.name == "notes").text
    assert "model estimate" in notes and "not a list of real orders" in notes
    assert "binanceusdm" in notes and "per second" in notes
    assert "bybit" not in notes.split("Feed caveat")[1]
    assert ".." not in notes  # a note's own full stop is not doubled


def test_hover_shows_time_price_and_notional(layout):
    tools = [m for m in layout.references() if isinstance(m, HoverTool)]
    labels = {label for t in tools for label, _ in (t.tooltips or [])}
    assert {"Time", "Price", "Estimate", "Real", "Notional"} <= labels


def test_site_page_fits_the_weight_budget(layout):
    html = file_html(layout, CDN, "weight")
    assert len(html.encode()) < 600_000


def test_bad_layers_and_events_are_refused(estimate):
    with pytest.raises(ValueError, match="unknown layer"):
        build_figure(estimate, layers=["clusters", "heat"])
    bad = pd.DataFrame(
        {"time": [pd.Timestamp("2026-06-08", tz="UTC")], "side": ["buy"], "price": [1.0]}
    )
    with pytest.raises(ValueError, match="missing column"):
        build_figure(estimate, bad)


# ---------------------------------------------------------------------- in Chromium, no kernel
@pytest.fixture
def served(tmp_path):
    """Serve ``tmp_path`` on 127.0.0.1; yields the base URL."""
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    handler.log_message = lambda *a: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


STATE = """
() => {
  const B = window.Bokeh;
  const doc = [...B.index][0].model.document;
  const g = (n) => doc.get_model_by_name(n);
  const bars = g('levels-source').data;
  let total = 0;
  for (const [k, v] of Object.entries(bars)) if (k !== 'price') for (const x of v) total += x;
  return {
    clusters: g('clusters-image').visible, real: g('real-image').visible,
    markers: g('events-markers').visible, price: g('price-line').visible,
    palette: g('clusters-mapper').palette, span: g('cursor-span').location,
    cursor: g('cursor-slider').value, bars_total: total, title: g('levels').title.text,
  };
}
"""


def probe(condition: str) -> str:
    """A page function that evaluates ``condition`` on the figure state ``s``."""
    return f"() => {{ const s = ({STATE})(); return {condition}; }}"


@pytest.mark.browser
def test_static_page_controls_work_without_a_kernel(page, served, estimate, events):
    root, url = served
    lay = build_figure(estimate, events, threshold=0.2)
    (root / "map.html").write_text(file_html(lay, INLINE, "liquidation map"))
    page.goto(f"{url}/map.html")
    page.wait_for_function(
        "() => window.Bokeh && [...window.Bokeh.index].length > 0", timeout=60_000
    )
    page.wait_for_function("() => document.title === 'liquidation map'")
    s0 = page.evaluate(STATE)
    long_ramp, short_ramp = ramp(CLUSTER_LONG), ramp(CLUSTER_SHORT)
    assert s0["palette"] == threshold_palette(long_ramp, short_ramp, 0.2)
    assert s0["clusters"] and s0["real"] and s0["markers"] and s0["price"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "static-figure.png"))

    # Layer toggle: untick Clusters and Real.
    page.get_by_text("Clusters (model estimate)", exact=True).click()
    page.get_by_text("Real liquidations", exact=True).click()
    page.wait_for_function(probe("!s.clusters && !s.real"))
    s1 = page.evaluate(STATE)
    assert not s1["markers"] and s1["price"]
    page.get_by_text("Clusters (model estimate)", exact=True).click()
    page.wait_for_function(probe("s.clusters"))

    # Threshold: the JavaScript builds the same palette as Python's threshold_palette.
    page.evaluate(
        "() => { const d = [...Bokeh.index][0].model.document; d.get_model_by_name('threshold').value = 0.7; }"
    )
    s2 = page.evaluate(STATE)
    assert s2["palette"] == threshold_palette(long_ramp, short_ramp, 0.7)
    hidden = sum(c == "#00000000" for c in s2["palette"])
    assert hidden > sum(c == "#00000000" for c in s0["palette"])

    # Time cursor: clicking the map moves the span and recomputes the levels panel.
    canvas_box = page.locator(".bk-Figure").first.bounding_box()
    before = page.evaluate(STATE)
    page.mouse.click(canvas_box["x"] + 150, canvas_box["y"] + canvas_box["height"] / 2)
    page.wait_for_function(probe(f"s.cursor < {before['cursor']}"), timeout=30_000)
    after = page.evaluate(STATE)
    assert after["span"] == after["cursor"]
    assert after["bars_total"] != pytest.approx(before["bars_total"])
    assert after["title"] != before["title"] and after["title"].startswith("Levels at ")
    # The panel shows the stored frame at or before the cursor: the model's levels then.
    data = figure_data(estimate, events)
    frame = data.sources["levels-frames"]
    k = max(int(np.searchsorted(frame["time"], after["cursor"], side="right")) - 1, 0)
    stored = frame["values"][k].astype("float64").sum() * frame["scale"][k] / 65535
    assert after["bars_total"] == pytest.approx(stored, rel=1e-4)
    t = pd.Timestamp(int(frame["time"][k] * 1e6), tz="UTC")
    edges = data.heatmap.price_edges
    exact = estimate.levels_at(t, bins=120, price_range=(edges[0], edges[-1])).to_numpy().sum()
    assert stored == pytest.approx(exact, rel=0.01)

    # Hover over the heat map shows a decoded notional.
    page.mouse.move(canvas_box["x"] + 300, canvas_box["y"] + canvas_box["height"] * 0.8)
    tip = page.locator("div.bk-tooltip-content").first
    tip.wait_for(state="visible", timeout=30_000)
    text = tip.inner_text()
    assert "Price" in text and "Time" in text and "Estimate" in text and "≈ $" in text
    page.screenshot(path=str(SHOTS / "static-figure-after.png"))
    page.log.assert_clean()


def test_stored_cursor_frames_equal_levels_at(estimate):
    data = figure_data(estimate, resolution=(100, 80), cursor_steps=7, level_bins=50)
    frames, edges = data.sources["levels-frames"], data.heatmap.price_edges
    assert len(frames["values"]) == 7 and frames["values"][0].dtype == np.uint16
    for k in (0, 3, 6):
        t = pd.Timestamp(int(frames["time"][k] * 1e6), tz="UTC")
        exact = estimate.levels_at(t, bins=50, price_range=(edges[0], edges[-1])).to_numpy()
        stored = frames["values"][k].reshape(exact.shape) * frames["scale"][k] / 65535
        np.testing.assert_allclose(stored, exact, atol=frames["scale"][k] / 65535)
    last = estimate.levels_at(None, bins=50, price_range=(edges[0], edges[-1]))
    np.testing.assert_allclose(
        data.sources["levels-source"]["long_5"], last[("long", 5.0)], rtol=1e-5
    )


def test_a_time_window_keeps_the_cursor_inside_it(estimate):
    idx = estimate.market.index
    window = (idx[1000], idx[2000])
    data = figure_data(estimate, resolution=(120, 60), time_range=window, cursor_steps=10)
    frames = data.sources["levels-frames"]["time"]
    cursor = data.props["cursor-slider"]
    assert cursor["start"] == window[0].value / 1e6 and cursor["end"] == window[1].value / 1e6
    assert frames[0] > cursor["start"] and frames[-1] == cursor["end"]
