"""Site building blocks: schedule, key numbers, prose, accuracy, preview, cache."""

from __future__ import annotations

import io
import re

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from liqwidget import ClusterModel, MarketData
from liqwidget.fmt import money, pct, price
from liqwidget.heatmap import Heatmap
from liqwidget.site.accuracy import measure
from liqwidget.site.cache import SnapshotCache, data_digest, snapshot_key
from liqwidget.site.numbers import Cluster, KeyNumbers, key_numbers
from liqwidget.site.pages import numbers_table
from liqwidget.site.preview import render_preview
from liqwidget.site.prose import commentary
from liqwidget.site.schedule import snapshot_times
from liqwidget.site.snapshot import SnapshotSpec
from liqwidget.sources.dataset import Dataset

# Levels at known prices: entry 100, 10x → 90 / 110, 60x → 98.33 / 101.67 (mmr 0).
PLAIN = dict(
    leverage={10: 0.5, 60: 0.5},
    mmr=0.0,
    side_split=0.5,
    entry="close",
    seed="none",
    turnover=None,
    leverage_jitter=0.0,
)


def bars(rows, freq="1min") -> MarketData:
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "open_interest"])
    df.index = pd.date_range("2026-01-01", periods=len(df), freq=freq, tz="UTC")
    return MarketData.from_frame(df)


FLAT = (100, 100, 100, 100, 2000)
MARKET = bars(
    [(100, 100, 100, 100, 1000), FLAT, FLAT, FLAT, FLAT, FLAT, (100, 100, 98, 100, 2000), FLAT]
)


@pytest.fixture(scope="module")
def numbers() -> KeyNumbers:
    est = ClusterModel(**PLAIN).estimate(MARKET)
    return key_numbers(est, prev_time=MARKET.index[5])


# ---------------------------------------------------------------------- schedule
def test_snapshot_times_follow_the_cadence_inside_the_lookback(sample):
    times = snapshot_times(sample, "6h", "7D")
    last_close = sample.index[-1] + sample.timeframe
    assert all(t.hour % 6 == 0 and t.minute == 0 for t in times)
    assert times[-1] <= last_close and last_close - times[-1] < pd.Timedelta("6h")
    assert times[-1] - times[0] <= pd.Timedelta("7D")
    assert np.all(np.diff([t.value for t in times]) == pd.Timedelta("6h").value)
    assert snapshot_times(sample, "6h", "7D", count=3) == times[-3:]


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"cadence": "soon"}, "cadence 'soon' is not a duration"),
        ({"cadence": "-1h"}, "cadence must be positive"),
        ({"count": 0}, "count must be at least 1"),
    ],
)
def test_snapshot_times_reject_bad_settings(sample, kw, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        snapshot_times(sample, **kw)


def test_snapshot_times_explain_too_little_data():
    with pytest.raises(ValueError, match="too short"):
        snapshot_times(MARKET, "6h", "7D")


# ---------------------------------------------------------------------- key numbers
def test_key_numbers_find_the_known_levels(numbers):
    k = numbers
    assert k.price == 100
    long, short = k.largest("long"), k.largest("short")
    # The 60x long at 98.33 was swept by bar 6; the 10x long at 90 is what remains.
    assert long.price == pytest.approx(90, abs=0.1) and long.notional == pytest.approx(250)
    assert long.distance == pytest.approx(-0.10, abs=1e-3)
    assert short.notional == pytest.approx(250)
    assert k.nearest("short").price == pytest.approx(100 + 100 / 60, abs=0.1)
    assert k.near["long"] == {0.02: 0.0, 0.05: 0.0}
    assert k.near["short"][0.02] == pytest.approx(250) and k.near["short"][0.05] == pytest.approx(
        250
    )
    assert k.fuel_side == "short" and k.fuel_ratio == float("inf")


def test_key_numbers_report_what_was_consumed_since_the_previous_snapshot(numbers):
    k = numbers
    assert k.swept == {"long": pytest.approx(250), "short": 0.0}
    assert len(k.consumed) == 1
    gone = k.consumed[0]
    assert gone.side == "long" and gone.price == pytest.approx(100 - 100 / 60, abs=0.1)
    assert gone.notional == pytest.approx(250)
    assert k.low_since == 98 and k.high_since == 100 and k.change == 0


def test_key_numbers_without_previous_snapshot():
    est = ClusterModel(**PLAIN).estimate(MARKET)
    k = key_numbers(est)
    assert k.prev_time is None and k.consumed == [] and k.change is None
    assert k.swept == {"long": 0.0, "short": 0.0}
    assert k.largest("long").price == pytest.approx(90, abs=0.1)


def test_numbers_table_shows_the_same_numbers(numbers):
    table = numbers_table(numbers)
    assert f"| {price(numbers.largest('long').price)} | -10.0 % | $250 |" in table
    gone = numbers.consumed[0]
    assert f"| Clusters consumed | 1: long {price(gone.price)} ($250) |" in table
    assert "**shorts** (all of it)" in table


# ---------------------------------------------------------------------- prose
def kn(long5, short5, long2=0.0, short2=0.0, prev=True, swept=(0.0, 0.0), consumed=(), hour=12):
    t = pd.Timestamp(f"2026-06-10 {hour:02d}:00", tz="UTC")
    clusters = {
        "long": [Cluster("long", 95_000.0, -0.05, long5 * 0.5)] if long5 else [],
        "short": [Cluster("short", 102_000.0, 0.02, short5 * 0.5)] if short5 else [],
    }
    extra = {}
    if prev:
        extra = dict(
            prev_time=t - pd.Timedelta("6h"),
            prev_price=99_000.0,
            high_since=100_500.0,
            low_since=98_800.0,
            swept={"long": swept[0], "short": swept[1]},
            consumed=list(consumed),
        )
    return KeyNumbers(
        time=t,
        price=100_000.0,
        clusters=clusters,
        near={"long": {0.02: long2, 0.05: long5}, "short": {0.02: short2, 0.05: short5}},
        **extra,
    )


def prose(k, acc=None, simulated=False):
    return commentary(k, acc, name="BTC/USDT", simulated=simulated, method_link="m.md")


def test_prose_names_the_heavier_side_correctly():
    heavy_long = prose(kn(300e6, 50e6))["lead"]
    heavy_short = prose(kn(50e6, 300e6))["lead"]
    assert "long" in heavy_long and "$300 M" in heavy_long and "6.0" in heavy_long
    assert re.search(r"short (side|liquidations|levels)", heavy_short)
    assert "6.0" in heavy_short
    balanced = prose(kn(100e6, 95e6))["lead"]
    assert "balanced" in balanced or "Neither side dominates" in balanced
    empty = prose(kn(0.0, 0.0))["lead"]
    assert "almost nothing" in empty


def test_lead_mentions_a_big_sweep_or_a_close_band():
    swept = prose(kn(100e6, 90e6, swept=(40e6, 1e6)))["lead"]
    assert "dip to 98,800" in swept and "$40.0 M" in swept and "long" in swept
    quiet = prose(kn(100e6, 90e6))["lead"]
    assert "swept" not in quiet and "consumed" not in quiet
    k = kn(100e6, 90e6)
    k.clusters["short"].append(Cluster("short", 100_800.0, 0.008, 20e6))
    close = prose(k)["lead"]
    assert "100,800" in close and "0.8 %" in close


def test_prose_reports_sweeps_by_situation():
    quiet = prose(kn(100e6, 90e6, swept=(0.0, 0.0)))["swept"]
    assert "nothing was swept" in quiet or "never touched" in quiet
    assert "rose 1.0 %" in quiet
    one = prose(kn(100e6, 90e6, swept=(40e6, 0.0)))["swept"]
    assert "$40.0 M of long" in one and "forced selling" in one and "both" not in one.lower()
    both = prose(kn(100e6, 90e6, swept=(40e6, 30e6)))["swept"]
    assert "both" in both.lower() and "$40.0 M" in both and "$30.0 M" in both
    gone = Cluster("short", 100_400.0, 0.014, 25e6)
    with_cluster = prose(kn(100e6, 90e6, swept=(0, 30e6), consumed=[gone]))["swept"]
    assert "100,400" in with_cluster and "$25.0 M" in with_cluster
    first = prose(kn(100e6, 90e6, prev=False))["swept"]
    assert "first snapshot" in first


def test_prose_wording_varies_but_is_deterministic():
    leads = [
        prose(kn(300e6 + i * 7e6, 60e6, hour=h))["lead"] for i, h in enumerate(range(0, 24, 2))
    ]
    skeletons = {re.sub(r"[\d.,$]+", "#", s).split(". ")[0] for s in leads}
    assert len(skeletons) >= 2, "the opening sentence should not always use the same wording"
    again = [
        prose(kn(300e6 + i * 7e6, 60e6, hour=h))["lead"] for i, h in enumerate(range(0, 24, 2))
    ]
    assert leads == again


def test_prose_states_the_caveat_and_when_accuracy_is_unmeasured():
    trust = prose(kn(100e6, 90e6))["trust"]
    assert "not a list of real orders" in trust or "not a ledger" in trust
    assert "unmeasured" in trust and "(m.md)" in trust


def test_magnet_wording_depends_on_distance():
    k = kn(100e6, 90e6)
    text = prose(k)["magnets"]
    # The short band is 2 % away (a magnet), the long band 5 % away (soft support).
    assert "magnet" in text or "pull price" in text
    assert "soft support" in text or "support would" in text


# ---------------------------------------------------------------------- accuracy
def test_accuracy_needs_real_events(sample):
    est = ClusterModel().estimate(sample.slice(end=sample.index[500]))
    assert measure(est, None) is None


def test_accuracy_is_quoted_with_its_baselines_and_verdict():
    from liqwidget.simulator import simulate

    sim = simulate("long-squeeze", seed=3, days=1)
    est = ClusterModel().estimate(sim.market)
    acc = measure(est, sim.liquidations)
    assert acc is not None and {s.side for s in acc.sides} <= {"long", "short"}
    for s in acc.sides:
        assert -1 <= s.spearman <= 1 and 0 <= s.low <= s.precision <= s.high <= 1
    text = prose(kn(100e6, 90e6), acc, simulated=True)["trust"]
    assert f"{acc.sides[0].spearman:.2f}" in text and "simulator's true liquidations" in text
    for s in acc.sides:
        assert f"{s.baseline_spearman:.2f}" in text
        assert (f"On the {s.side} side it does **not** beat" in text) != s.beats_baseline
    if all(s.beats_baseline for s in acc.sides):
        assert "beats the strongest naive baseline" in text or "No naive rule" in text
    for s in acc.sides:  # where: the two oracle-checked scores, each with its baseline
        assert s.given is not None and s.forecast is not None
        assert pct(s.given.model) in text and pct(s.forecast.model) in text


# ---------------------------------------------------------------------- preview
def test_preview_draws_longs_blue_below_and_shorts_orange_above(tmp_path):
    h, w = 40, 60
    long, short = np.zeros((h, w)), np.zeros((h, w))
    long[5:10, :] = 1e6  # low prices (rows are low → high)
    short[30:35, :] = 1e6
    times = pd.date_range("2026-01-01", periods=w + 1, freq="1min", tz="UTC")
    grid = Heatmap(times, np.linspace(90, 110, h + 1), long, short)
    path = render_preview(grid, MARKET, tmp_path / "p.png")
    img = np.asarray(Image.open(io.BytesIO(path.read_bytes())).convert("RGB")).astype(int)
    body = img[:h, -w:]  # heatmap area (left margin holds labels)
    low_band, high_band = body[h - 8], body[h - 33]  # image rows are top = high price
    assert (low_band[:, 2] > low_band[:, 0] + 50).mean() > 0.9  # blue
    assert (high_band[:, 0] > high_band[:, 2] + 50).mean() > 0.9  # orange
    assert body[15].max() < 60  # empty rows stay dark
    assert (body[20] > 200).all(axis=1).sum() >= 4  # the white price line at 100 (mid-height)


# ---------------------------------------------------------------------- cache
def test_cache_round_trip_and_incomplete_entries(tmp_path):
    cache = SnapshotCache(tmp_path)
    assert cache.get("k") is None
    cache.put("k", {"a/b.md": b"x", "c.png": b"\x89PNG"})
    assert cache.get("k") == {"a/b.md": b"x", "c.png": b"\x89PNG"}
    (tmp_path / "k" / "manifest.json").unlink()
    assert cache.get("k") is None


def test_cache_prunes_entries_unused_for_a_long_time(tmp_path):
    import os
    import time

    cache = SnapshotCache(tmp_path)
    cache.put("old", {"a": b"1"})
    cache.put("new", {"b": b"2"})
    month_ago = time.time() - 30 * 24 * 3600
    os.utime(tmp_path / "old" / "manifest.json", (month_ago, month_ago))
    assert cache.prune() == 1
    assert cache.get("old") is None and cache.get("new") == {"b": b"2"}


def test_cache_key_depends_on_data_known_at_the_snapshot_only(sample):
    data = Dataset(sample, None, "BTC/USDT", "sample", False)
    t = sample.index[2000]
    spec = SnapshotSpec(t, t - pd.Timedelta("6h"))
    shorter = Dataset(sample.slice(end=sample.index[3000]), None, "BTC/USDT", "sample", False)
    assert snapshot_key(data, spec, "") == snapshot_key(shorter, spec, "")
    assert data_digest(data, t) != data_digest(data, t + pd.Timedelta("1h"))
    assert snapshot_key(data, spec, "") != snapshot_key(data, SnapshotSpec(t, None), "")
    assert snapshot_key(data, spec, "") != snapshot_key(data, spec, "https://example.org/")
    other = SnapshotSpec(t, spec.prev_time, model_params={"mmr": 0.01})
    assert snapshot_key(data, spec, "") != snapshot_key(data, other, "")


def test_formatting():
    assert money(1.234e9) == "$1.23 B" and money(45.6e6) == "$45.6 M" and money(820e3) == "$820 K"
    assert price(66285.9) == "66,286" and price(98.333) == "98.33"
    assert pct(-0.0234) == "2.3 %" and pct(0.0234, signed=True) == "+2.3 %"


# ---------------------------------------------------------------------- sources and snippets
def test_store_source_reads_bars_and_recorded_liquidations(store_location, sample):
    from liqwidget.sources.dataset import load_source
    from liqwidget.store import Store

    bars_ = sample.frame.iloc[:600]
    ms = bars_.index.asi8 // 1_000_000
    ohlcv = [
        [int(t), o, h, lo, c, 1.0]
        for t, o, h, lo, c in zip(
            ms, *(bars_[k] for k in ("open", "high", "low", "close")), strict=True
        )
    ]
    oi = [(int(t), None, float(v), None) for t, v in zip(ms, bars_["open_interest"], strict=True)]
    events = pd.DataFrame(
        {
            "time": bars_.index[100:140],
            "side": ["long", "short"] * 20,
            "price": bars_["close"].to_numpy()[100:140],
            "notional": np.full(40, 25_000.0),
            "exchange": "bybit",
            "symbol": "BTC/USDT:USDT",
        }
    )
    path = store_location
    with Store(path) as store:
        store.write_bars("bybit", "BTC/USDT:USDT", "5m", ohlcv)
        store.write_open_interest("bybit", "BTC/USDT:USDT", "5m", oi)
        store.write_liquidations(events)
    data = load_source("store", store_path=str(path))
    assert len(data.market) == 600 and data.name == "BTC/USDT"
    assert len(data.liquidations) == 40 and not data.simulated
    assert "bybit" in data.origin
    assert str(path) not in data.origin  # published: the machine's paths stay private
    with pytest.raises(ValueError, match="holds no bars for ETH"):
        load_source("store", store_path=str(path), symbol="ETH/USDT:USDT")


def test_missing_store_file_is_not_created(tmp_path):
    from liqwidget.sources.dataset import load_source

    with pytest.raises(FileNotFoundError, match="no store at"):
        load_source("store", store_path=str(tmp_path / "none.sqlite"))
    assert not (tmp_path / "none.sqlite").exists()


def test_unknown_source_is_named():
    from liqwidget.sources.dataset import load_source

    with pytest.raises(ValueError, match="unknown source 'exchange'"):
        load_source("exchange")


def test_embed_snippet_is_absolute_with_a_site_url():
    from liqwidget.site.pages import snippet

    code = snippet("btc-2026", "BTC map", "https://maps.example.org/")
    assert 'src="https://maps.example.org/embed/btc-2026.html"' in code
    assert 'title="BTC map"' in code and "<iframe" in code
    assert '<script src="https://maps.example.org/embed/frame-height.js" async>' in code
    relative = snippet("btc-2026", "BTC map", "")
    assert 'src="embed/btc-2026.html"' in relative
    assert '<script src="embed/frame-height.js" async>' in relative


def test_numbers_table_calls_near_equal_sides_even():
    assert "about even (longs ahead by 5.3 %)" in numbers_table(kn(100e6, 95e6))
    assert "**shorts** (3.0 × the other side)" in numbers_table(kn(100e6, 300e6))
    assert "neither side" in numbers_table(kn(0.0, 0.0))


def test_a_snapshot_uses_only_data_known_at_its_time(sample):
    from liqwidget.site.snapshot import compute

    t = sample.index[3000]
    spec = SnapshotSpec(t, t - pd.Timedelta("6h"))
    full = compute(Dataset(sample, None, "BTC/USDT", "sample", False), spec)
    cut = Dataset(sample.slice(end=t - sample.timeframe), None, "BTC/USDT", "sample", False)
    known = compute(cut, spec)
    assert full.estimate.market.index[-1] == t - sample.timeframe
    assert full.numbers.to_dict() == known.numbers.to_dict()
    assert full.time_range[1] == t and full.numbers.time == t


def test_prose_says_plainly_when_the_model_loses_to_a_baseline():
    from liqwidget.site.accuracy import Accuracy, SideScore, WhereScore

    weak = SideScore(
        "long", 0.12, 0.14, 0.08, 0.22, "wick × OI", 0.30,
        given=WhereScore(0.05, "distance from open", 0.12),
        forecast=WhereScore(0.08, "reach only", 0.2),
    )  # fmt: skip
    good = SideScore(
        "short", 0.70, 0.60, 0.52, 0.68, "wick × OI", 0.31,
        given=WhereScore(0.4, "uniform", 0.095),
        forecast=WhereScore(0.3, "reach only", 0.2),
    )  # fmt: skip
    acc = Accuracy(sides=(weak, good), bars=1000, events=5000)
    text = prose(kn(100e6, 90e6), acc)["trust"]
    assert "recorded liquidations (5,000 events over 1,000 bars" in text
    assert "0.12 and 0.70 (longs and shorts)" in text
    assert "On the long side it does **not** beat the naive baseline wick × OI (0.30)" in text
    assert "short side it does **not**" not in text
    assert "5.0 % and 40.0 % of the long and short liquidation notional" in text
    assert "best naive rule: distance from open 12.0 % and uniform 9.5 %" in text
    assert "On the long side that is **no better** than distance from open" in text
    assert "On the long side the forecast does **not** beat reach only" in text
    assert "short side the forecast does **not**" not in text
    assert "true book scored the same way sets the ceiling" in text


def test_server_sends_precompressed_copies_like_a_static_host(tmp_path):
    import gzip
    import urllib.request

    import brotli

    from liqwidget.site.serve import serve_in_thread

    body = b"<!DOCTYPE html><title>x</title>" + b"liquidation " * 400
    (tmp_path / "index.html").write_bytes(body)
    (tmp_path / "index.html.gz").write_bytes(gzip.compress(body))
    (tmp_path / "index.html.br").write_bytes(brotli.compress(body))
    (tmp_path / "plain.css").write_bytes(b"a{}")
    server, base = serve_in_thread(tmp_path)
    try:

        def get(path: str, accept: str | None):
            req = urllib.request.Request(base + path)
            if accept:
                req.add_header("Accept-Encoding", accept)
            with urllib.request.urlopen(req) as r:
                return r.headers.get("Content-Encoding"), r.headers["Content-Type"], r.read()

        enc, ctype, data = get("index.html", "gzip, deflate, br")
        assert (enc, ctype) == ("br", "text/html") and brotli.decompress(data) == body
        enc, _, data = get("index.html", "gzip")
        assert enc == "gzip" and gzip.decompress(data) == body
        assert get("index.html", None) == (None, "text/html", body)
        assert get("plain.css", "br")[::2] == (None, b"a{}")
    finally:
        server.shutdown()
        server.server_close()
    plain, base = serve_in_thread(tmp_path, precompressed=False)
    try:
        req = urllib.request.Request(base + "index.html", headers={"Accept-Encoding": "br"})
        with urllib.request.urlopen(req) as r:
            assert r.headers.get("Content-Encoding") is None and r.read() == body
    finally:
        plain.shutdown()
        plain.server_close()


def test_map_document_bytes_do_not_depend_on_the_process_id_counter():
    """Bokeh numbers models from a per-process counter; the published document does not,
    and every reference in it still names a model the document defines."""
    import re

    import liqwidget as lw
    from liqwidget.site.pages import embed_doc_js

    sim = lw.simulate("calm-range", seed=1, days=1)
    est = lw.ClusterModel().estimate(sim.market)
    first = lw.build_figure(est, sim.liquidations, fit=True)  # as the site builds it
    second = lw.build_figure(est, sim.liquidations, fit=True)
    assert first.id != second.id
    doc = embed_doc_js("s", first)
    assert doc == embed_doc_js("s", second)
    refs = set(re.findall(rb'"id":"(p\d+)"', doc))
    defined = set(re.findall(rb'"type":"object","name":"\w+","id":"(p\d+)"', doc))
    assert b"p1" in defined and refs == defined


def test_stable_ids_rename_shared_reference_objects_once():
    from liqwidget.site.pages import stable_ids

    ref = {"id": "p907"}  # Bokeh's serialiser reuses one reference object in several places
    item = {
        "root_id": "p900",
        "doc": {"roots": [{"id": "p900", "attributes": {"a": ref, "b": ref, "c": {"id": "p907"}}}]},
    }
    out = stable_ids(item)
    attrs = out["doc"]["roots"][0]["attributes"]
    assert out["root_id"] == "p1" and attrs["a"] == attrs["b"] == attrs["c"] == {"id": "p2"}
    assert ref == {"id": "p907"}  # the input is left as it was


def test_posts_quote_only_where_scores_the_true_book_validates():
    from liqwidget.site.accuracy import Accuracy, SideScore, WhereScore

    left = SideScore(
        "long", 0.70, 0.60, 0.52, 0.68, "wick × OI", 0.31,
        given=WhereScore(0.30, "distance from open", 0.29, oracle=0.30),  # truth ties
        forecast=WhereScore(0.30, "reach only", 0.20, oracle=0.40),
    )  # fmt: skip
    kept = SideScore(
        "short", 0.70, 0.60, 0.52, 0.68, "wick × OI", 0.31,
        given=WhereScore(0.25, "uniform", 0.10, oracle=0.33),
        forecast=WhereScore(0.30, "reach only", 0.20, oracle=0.41),
    )  # fmt: skip
    assert left.given.validated is False and kept.given.validated is True
    assert WhereScore(0.3, "uniform", 0.1).validated is None  # no true book known
    acc = Accuracy(sides=(left, kept), bars=1000, events=5000)
    text = prose(kn(100e6, 90e6), acc)["trust"]
    assert "held 25.0 % of the short liquidation notional (the true book: 33.0 %;" in text
    assert "30.0 % of the long" not in text
    assert (
        "On the long side even the true book does not beat distance from open on this "
        "stretch, so that score says nothing about the map and is left out."
    ) in text
    assert "the true book: 40.0 % and 41.0 %" in text  # both forecasts validated


def test_measure_carries_the_true_books_scores_on_the_same_bars():
    import liqwidget as lw

    sim = lw.simulate("grind-and-sweep", seed=3, timeframe="5min", days=1.0, warmup_days=0.5)
    cut = sim.market.slice(end=sim.market.index[200])
    est = ClusterModel().estimate(cut)
    events = sim.liquidations[sim.liquidations["time"] < cut.index[-1]]
    acc = measure(est, events, truth=sim.truth_estimate())
    plain = measure(est, events)
    for with_truth, without in zip(acc.sides, plain.sides, strict=True):
        assert with_truth.given.model == without.given.model
        assert with_truth.given.oracle is not None and without.given.oracle is None
        assert with_truth.given.oracle > with_truth.given.model


def test_spans_read_as_words():
    from liqwidget.fmt import span

    spans = ("12h", "1D", "2D", "90min", "45min", "36h", pd.Timedelta(hours=6.93176))
    assert [span(t) for t in spans] == [
        "12 h",
        "1 day",
        "2 days",
        "1.5 h",
        "45 min",
        "36 h",
        "6.9 h",
    ]
