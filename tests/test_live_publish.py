"""The live data file and the in-memory window behind it."""

from __future__ import annotations

import base64
import json
import os
from contextlib import contextmanager

import numpy as np
import pandas as pd
import pytest

from liqwidget.live.publish import LiveMap, data_path, doc_path, market_slug, write_atomic
from liqwidget.live.window import MarketWindow
from liqwidget.store import Store

EX, SYM, TF = "binanceusdm", "BTC/USDT:USDT", "1m"
STEP = 60_000
#: Set LIQWIDGET_SCREENSHOTS=/some/dir to keep the screenshots for a look.
SHOTS = os.environ.get("LIQWIDGET_SCREENSHOTS")
T0 = 1_780_000_000_000 // STEP * STEP


def bars_and_oi(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))
    open_ = np.r_[close[0], close[:-1]]
    bars = [
        [T0 + STEP * i, o, max(o, c) * 1.0005, min(o, c) * 0.9995, c, 5.0]
        for i, (o, c) in enumerate(zip(open_.tolist(), close.tolist(), strict=True))
    ]
    oi = [(T0 + STEP * i, 1000.0 + 5 * np.sin(i / 7), None, 1.0) for i in range(n)]
    return bars, oi


def event(ms: int, side: str, price: float) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "time": [pd.Timestamp(ms, unit="ms", tz="UTC")],
            "side": [side],
            "price": [price],
            "notional": [20_000.0],
            "exchange": [EX],
            "symbol": [SYM],
        }
    )


def at(i: int) -> pd.Timestamp:
    return pd.Timestamp(T0 + STEP * i, unit="ms", tz="UTC")


@pytest.fixture
def store(tmp_path):
    with Store(tmp_path / "s.sqlite") as s:
        yield s


def test_window_refresh_matches_a_full_load(store):
    bars, oi = bars_and_oi(300)
    store.write_bars(EX, SYM, TF, bars[:200])
    store.write_open_interest(EX, SYM, TF, oi[:200])
    store.write_liquidations(event(T0 + STEP * 10, "long", 59_000.0))  # before the window
    store.write_liquidations(event(T0 + STEP * 150, "short", 61_000.0))
    window = MarketWindow(store, EX, SYM, TF, pd.Timedelta("100min"))
    assert window.refresh(at(200))
    assert len(window.market) == 100 and len(window.events) == 1
    # A bar stored without its open interest is left out until the OI arrives.
    store.write_bars(EX, SYM, TF, bars[200:260])
    store.write_open_interest(EX, SYM, TF, oi[200:259])
    store.write_liquidations(event(T0 + STEP * 255, "long", 59_500.0))
    assert window.refresh(at(260))
    assert window.market.index[-1] == at(258)
    store.write_open_interest(EX, SYM, TF, oi[259:260])
    assert window.refresh(at(260))
    full = store.load_market(EX, SYM, TF, start=at(260) - pd.Timedelta("100min"))
    assert window.market.frame.equals(full.frame)
    assert window.market.index[0] == at(160)
    assert list(window.events["time"]) == [at(255)]  # the t=150 event slid out
    assert not window.refresh(at(260))  # nothing new


def test_a_hole_filled_long_after_is_picked_up_and_bad_stored_bars_keep_the_last_window(
    store, caplog
):
    bars, oi = bars_and_oi(200)
    hole = 120  # a candle refused then, corrected on the exchange much later
    store.write_bars(EX, SYM, TF, bars[:hole] + bars[hole + 1 : 160])
    store.write_open_interest(EX, SYM, TF, oi[:160])
    window = MarketWindow(store, EX, SYM, TF, pd.Timedelta("100min"))
    assert window.refresh(at(160))
    assert window.market.gaps and at(hole) not in window.market.index
    store.write_bars(EX, SYM, TF, bars[160:200])
    store.write_open_interest(EX, SYM, TF, oi[160:200])
    store.write_bars(EX, SYM, TF, [bars[hole]])  # 80 bars later: beyond the short overlap
    assert window.refresh(at(200))
    assert at(hole) in window.market.index and not window.market.gaps
    # A bar stored off the grid (from an older version, or by hand) makes the stored bars
    # irregular: the window keeps its last good bars and says why, the process goes on.
    good = window.market
    store.write_bars(EX, SYM, TF, [[T0 + STEP * 200 + 500, *bars[199][1:]]])
    store.write_open_interest(EX, SYM, TF, [(T0 + STEP * 200 + 500, 1000.0, None, 1.0)])
    assert not window.refresh(at(202))
    assert window.market is good and "not a multiple" in window.problem
    assert "keeps its last good bars" in caplog.text


def test_publish_writes_a_complete_file_with_freshness(store, tmp_path):
    bars, oi = bars_and_oi(240)
    store.write_bars(EX, SYM, TF, bars)
    store.write_open_interest(EX, SYM, TF, oi)
    store.write_liquidations(event(T0 + STEP * 230, "short", bars[230][2]))
    window = MarketWindow(store, EX, SYM, TF, pd.Timedelta("3h"))
    window.refresh(at(240))
    live = LiveMap(EX, SYM, TF, window=pd.Timedelta("3h"), poll_seconds=2.0)
    body = live.publish(tmp_path / "site", window.market, window.events, health={"ok": 1})
    on_disk = json.loads(data_path(tmp_path / "site", live.slug).read_text())
    assert on_disk == body
    assert body["last_bar_close"] == T0 + STEP * 240
    assert body["stale_after_ms"] == 3 * STEP + 2000 and body["poll_ms"] == 2000
    assert body["health"] == {"ok": 1} and body["bars"] == 180
    image = body["sources"]["clusters-source"]["image"]
    code = np.frombuffer(base64.b64decode(image["data"]), image["dtype"]).reshape(image["shape"])
    expected = live.figure(window.market, window.events).sources["clusters-source"]["image"][0]
    assert np.array_equal(code[0], expected) and code.any()
    events = body["sources"]["events-source"]
    assert events["exchange"] == [EX]
    doc = json.loads(doc_path(tmp_path / "site", live.slug).read_text())
    assert doc["tiers"] == body["tiers"] and "doc" in doc["item"]
    leftovers = [p.name for p in (tmp_path / "site" / "live").iterdir() if p.suffix == ".tmp"]
    assert not leftovers


def test_write_atomic_replaces_and_names(tmp_path):
    path = tmp_path / "a" / "b.json"
    write_atomic(path, b"one")
    write_atomic(path, b"two")
    assert path.read_bytes() == b"two" and [p.name for p in path.parent.iterdir()] == ["b.json"]
    assert market_slug("okx", "BTC/USDT:USDT") == "okx-btc-usdt-usdt"


def test_live_data_survives_a_site_rebuild(tmp_path):
    from liqwidget.live.page import keep_live_data, write_live_pages

    built, staging = tmp_path / "public", tmp_path / "staging"
    write_atomic(built / "live" / "index.json", b'{"format": 1}')
    assert keep_live_data(built, staging) == 1
    assert (staging / "live" / "index.json").read_bytes() == b'{"format": 1}'
    assert keep_live_data(tmp_path / "nothing", staging) == 0
    paths = write_live_pages(staging)
    assert "embed/live.html" in paths and (staging / "assets" / "live.js").is_file()


@contextmanager
def live_site(store, tmp_path, **live_options):
    """Four hours of bars in the store, a site folder with the live pages and their data,
    served on 127.0.0.1 while in use: (live map, window, folder, base URL)."""
    from liqwidget.live.page import write_live_pages
    from liqwidget.live.publish import publish_index
    from liqwidget.site.serve import serve_in_thread

    bars, oi = bars_and_oi(240)
    store.write_bars(EX, SYM, TF, bars)
    store.write_open_interest(EX, SYM, TF, oi)
    window = MarketWindow(store, EX, SYM, TF, pd.Timedelta("3h"))
    window.refresh(at(240))
    live = LiveMap(EX, SYM, TF, window=pd.Timedelta("3h"), **live_options)
    root = tmp_path / "site"
    write_live_pages(root)
    live.publish(root, window.market, window.events)
    publish_index(root, [live])
    (root / "index.html").write_text("<!DOCTYPE html><title>site</title>")  # a site's home
    server, base = serve_in_thread(root)
    try:
        yield live, window, root, base
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.browser
@pytest.mark.parametrize("width", [390, 1400])
def test_the_live_page_fits_a_phone_and_a_desktop(page, store, tmp_path, width):
    """The live map takes the page's width: on a phone it narrows (the levels panel under
    the heatmap) instead of scrolling sideways; on a desktop it is as wide as before."""
    from conftest import assert_map_fits

    from liqwidget.live.page import EMBED

    with live_site(store, tmp_path) as (*_, base):
        page.set_viewport_size({"width": width, "height": 800})
        page.goto(base + EMBED)
        page.wait_for_function("() => (window.__liqwidgetLive || {}).updates >= 1", timeout=15000)
        page.wait_for_function(
            "() => Bokeh.documents.length > 0 && Bokeh.documents[0].is_idle", timeout=15000
        )
        assert_map_fits(page, {"x": 0, "width": width})
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/live-fitted-{width}.png", full_page=True)
        page.log.assert_clean()


def test_a_liquidation_in_the_bar_now_open_is_drawn_before_that_bar_closes(store, tmp_path):
    bars, oi = bars_and_oi(120)
    store.write_bars(EX, SYM, TF, bars)
    store.write_open_interest(EX, SYM, TF, oi)
    store.write_liquidations(event(T0 + STEP * 120 + 20_000, "long", bars[119][3]))  # open bar
    window = MarketWindow(store, EX, SYM, TF, pd.Timedelta("1h"))
    window.refresh(at(120))
    live = LiveMap(EX, SYM, TF, window=pd.Timedelta("1h"), poll_seconds=2.0)
    body = live.publish(tmp_path / "site", window.market, window.events)
    times = np.frombuffer(
        base64.b64decode(body["sources"]["events-source"]["time"]["data"]), "float64"
    )
    assert T0 + STEP * 120 + 20_000 in times.tolist()
    assert body["last_bar_close"] == T0 + STEP * 120  # the bars themselves end at the close


@pytest.mark.browser
def test_an_open_live_page_takes_new_leverage_tiers_and_an_odd_health_time(page, store, tmp_path):
    """A learned mix changes the tiers, so the map's skeleton is rewritten: an open page
    embeds it again. A health time that is not a number leaves the status line working."""
    from liqwidget.live.page import EMBED
    from liqwidget.model import ClusterModel

    tiers = "() => Bokeh.documents.at(-1).get_model_by_name('tier-filter').options.length"
    with live_site(store, tmp_path, poll_seconds=0.3) as (live, window, root, base):
        page.goto(base + EMBED)
        page.wait_for_function("() => (window.__liqwidgetLive || {}).updates >= 1", timeout=15000)
        before = page.evaluate(tiers)
        live.model = ClusterModel(leverage={10: 1.0, 50: 1.0}, leverage_jitter=0.0)
        odd = {
            "candles": {"failing_since": "soon"},
            "liquidations": {"connected": False, "warning": "<b>events arrive, none stored</b>"},
        }
        live.publish(root, window.market, window.events, health=odd)
        page.wait_for_function("() => window.__liqwidgetLive.embeds >= 2", timeout=15000)
        page.wait_for_function(f"() => ({tiers})() !== {before}", timeout=15000)
        assert page.evaluate(tiers) < before
        page.wait_for_timeout(1500)  # the status line keeps running (once a second)
        status = page.locator(".lw-live-status").text_content()
        assert "exchange not answering since an unknown time" in status
        assert "liquidation feed disconnected (reconnecting)" in status
        assert "liquidation feed: <b>events arrive, none stored</b>" in status  # as text
        if SHOTS:
            page.screenshot(path=f"{SHOTS}/live-new-tiers.png", full_page=True)
        page.log.assert_clean()
