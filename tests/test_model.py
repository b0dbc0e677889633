"""The cluster model: hand-computed cases, invariants, and agreement with the per-bar reference."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from liqwidget import ClusterModel, MarketData
from liqwidget.leverage import DEFAULT_LEVERAGE
from liqwidget.model_reference import reference_grid, run_reference
from liqwidget.passage import FirstPassage


def frame(rows) -> MarketData:
    """Bars from (open, high, low, close, oi) tuples, one minute apart."""
    df = pd.DataFrame(rows, columns=["open", "high", "low", "close", "open_interest"])
    df.index = pd.date_range("2026-01-01", periods=len(df), freq="1min", tz="UTC")
    return MarketData.from_frame(df)


TINY = frame(
    [
        (100, 100, 100, 100, 1000),
        (100, 100, 100, 100, 1200),  # +200 OI: 100 long (level 90), 100 short (level 110)
        (100, 100, 89, 95, 1100),  # low 89 sweeps the long; OI -100 closes 1/12 of the rest
        (95, 111, 95, 105, 1100),  # high 111 sweeps what is left of the short
    ]
)
PLAIN = dict(
    leverage={10: 1.0},
    mmr=0.0,
    side_split=0.5,
    entry="close",
    seed="none",
    turnover=None,
    leverage_jitter=0.0,
)


def test_hand_computed_create_sweep_close():
    est = ClusterModel(**PLAIN).estimate(TINY)
    book = est.book
    assert book["opened_long"].tolist() == [0, 100, 0, 0]
    assert book["opened_short"].tolist() == [0, 100, 0, 0]
    np.testing.assert_allclose(est.swept["long"], [0, 0, 100, 0])
    np.testing.assert_allclose(est.swept["short"], [0, 0, 0, 100 * 1100 / 1200])
    np.testing.assert_allclose(book["closed_short"], [0, 0, 100 / 12, 0])
    np.testing.assert_allclose(book["outstanding_short"], [0, 100, 100 * 11 / 12, 0])
    np.testing.assert_allclose(book["outstanding_long"], [0, 100, 0, 0])
    lv = est.levels
    assert sorted(lv["price"].round(6)) == [90.0, 110.0]
    assert lv.set_index("side").loc["long", "consumed"] == TINY.index[2]
    assert lv.set_index("side").loc["short", "consumed"] == TINY.index[3]


def test_level_exactly_at_the_low_is_swept():
    bars = frame([(100, 100, 100, 100, 1000), (100, 100, 100, 100, 1100), (100, 100, 90, 95, 1100)])
    est = ClusterModel(**PLAIN).estimate(bars)
    assert est.swept["long"].iloc[2] == pytest.approx(50.0)


def test_seeded_book_carries_the_first_bar_open_interest(sample):
    seeded = ClusterModel().estimate(sample)
    empty = ClusterModel(seed="none").estimate(sample)
    oi0 = sample.column("open_interest")[0]
    b = seeded.book
    start = b[["opened_long", "opened_short"]].iloc[0].sum()
    assert start == pytest.approx(oi0)
    assert empty.book[["opened_long", "opened_short"]].iloc[0].sum() == 0
    seed_levels = seeded.levels[seeded.levels["seeded"]]
    open0 = sample.column("open")[0]
    # Seeded levels sit on the right side of the first open (crossed ones were dropped)...
    assert (seed_levels.query("side == 'long'")["price"] < open0).all()
    assert (seed_levels.query("side == 'short'")["price"] > open0).all()
    # ...and make the early book much larger than an empty start would.
    assert seeded.book["outstanding_long"].iloc[10] > 10 * empty.book["outstanding_long"].iloc[10]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"seed": "none", "decay": "2D"},
        {"side_split": "candle", "formula": "binance", "entry": "ohlc4"},
    ],
)
def test_conservation_at_every_bar(sample, params):
    est = ClusterModel(**params).estimate(sample)
    b = est.book
    for side in ("long", "short"):
        opened = b[f"opened_{side}"].cumsum()
        accounted = (
            b[f"outstanding_{side}"] + b[f"swept_{side}"].cumsum() + b[f"closed_{side}"].cumsum()
        )
        np.testing.assert_allclose(opened, accounted, rtol=1e-9, atol=1e-3)
        assert (b[f"closed_{side}"] >= 0).all() and (b[f"swept_{side}"] >= 0).all()


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"seed": "none", "side_split": 0.3, "decay": "1D", "turnover": None, "entry": "hlc3"},
        {"leverage_jitter": 0.0, "turnover": "2h", "formula": "binance"},
    ],
)
def test_matches_the_plain_per_bar_reference(sample, params):
    model = ClusterModel(**params)
    est = model.estimate(sample)
    ref = run_reference(model, sample)
    np.testing.assert_array_equal(est.raw.death, ref.death)
    np.testing.assert_allclose(est.swept.to_numpy(), ref.swept, rtol=1e-9, atol=1e-3)
    out = est.book[["outstanding_long", "outstanding_short"]].to_numpy()
    np.testing.assert_allclose(out, ref.outstanding, rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(
        est.book[["closed_long", "closed_short"]].to_numpy(), ref.closed, rtol=1e-9, atol=1e-3
    )
    g = est.grid(120, 80)
    gl, gs = reference_grid(model, sample, ref.death, 120, 80)
    np.testing.assert_allclose(g.long, gl, rtol=1e-9, atol=1e-3)
    np.testing.assert_allclose(g.short, gs, rtol=1e-9, atol=1e-3)


def test_grid_and_levels_at_add_up_to_the_book(sample):
    est = ClusterModel().estimate(sample)
    everything = (1.0, 1e6)
    g = est.grid(50, 400, price_range=everything)
    assert g.long.shape == (400, 50)
    t = sample.index[-1] + sample.timeframe
    b = est.book.iloc[-1]
    assert g.long[:, -1].sum() == pytest.approx(b["outstanding_long"], rel=1e-9)
    assert g.short[:, -1].sum() == pytest.approx(b["outstanding_short"], rel=1e-9)
    at = est.levels_at(t, bins=300, price_range=everything)
    assert at["long"].to_numpy().sum() == pytest.approx(b["outstanding_long"], rel=1e-9)
    assert at["short"].to_numpy().sum() == pytest.approx(b["outstanding_short"], rel=1e-9)
    assert list(at["long"].columns) == sorted(float(k) for k in DEFAULT_LEVERAGE)
    # Mid-way: levels_at at a bar's end equals the book after that bar.
    mid = 2000
    at_mid = est.levels_at(sample.index[mid] + sample.timeframe, bins=50, price_range=everything)
    assert at_mid["short"].to_numpy().sum() == pytest.approx(
        est.book["outstanding_short"].iloc[mid], rel=1e-9
    )


def test_open_levels_sit_beyond_the_price_path(sample):
    est = ClusterModel().estimate(sample)
    lv, n = est.raw, len(sample)
    open_ = lv.death > n
    low, high = sample.column("low"), sample.column("high")
    for i in np.flatnonzero(open_)[::97]:
        path = slice(lv.birth[i], n)
        if lv.side[i] == 0:
            assert lv.price[i] < low[path].min()
        else:
            assert lv.price[i] > high[path].max()
    # long clusters below price, short clusters above, at the end
    last = sample.frame.iloc[-1]
    assert (lv.price[open_ & (lv.side == 0)] < last["low"]).all()
    assert (lv.price[open_ & (lv.side == 1)] > last["high"]).all()


def test_side_split_options(sample):
    only_long = ClusterModel(side_split=1.0, seed="none").estimate(sample)
    assert only_long.book["opened_short"].sum() == 0
    assert only_long.book["opened_long"].sum() > 0
    green = frame([(100, 100, 100, 100, 1000), (100, 104, 100, 104, 1100)])
    share = ClusterModel(side_split="candle").long_share(green)
    assert share[1] == pytest.approx(1.0)
    flows = pd.DataFrame(
        {"open": [1.0, 1], "high": [1.0, 1], "low": [1.0, 1], "close": [1.0, 1],
         "open_interest": [1.0, 2], "taker_buy": [3.0, 3], "taker_sell": [1.0, 9]},
        index=pd.date_range("2026-01-01", periods=2, freq="1min", tz="UTC"),
    )  # fmt: skip
    np.testing.assert_allclose(
        ClusterModel().long_share(MarketData.from_frame(flows)), [0.75, 0.25]
    )
    with pytest.raises(ValueError, match="taker"):
        ClusterModel(side_split="taker").long_share(green)


def test_levels_know_their_entry_price(sample):
    """Each level carries the price its position entered at: the bar's entry price as the
    model reads it (here hlc3, not the open), one leverage's fixed distance away; on hourly
    bars walked as a path, a point of the bar's range rather than its open."""
    model = ClusterModel(entry="hlc3", seed="none", leverage_jitter=0.0, path_steps=1)
    raw = model.estimate(sample).raw
    hlc3 = model.entry_price(sample)  # (side, bar)
    np.testing.assert_allclose(raw.entry, hlc3[raw.side, raw.opened_bar()])
    ratio = raw.price / raw.entry
    for s in (0, 1):
        for t in np.unique(raw.tier):
            r = ratio[(raw.side == s) & (raw.tier == t)]
            np.testing.assert_allclose(r, r[0], rtol=1e-12)
    hourly = sample.resample("1h")
    walked = ClusterModel(leverage_jitter=0.0).estimate(hourly).raw
    born = walked.birth >= 1
    bar = walked.opened_bar()[born]
    entry = walked.entry[born]
    assert (entry >= hourly.column("low")[bar] * (1 - 1e-9)).all()
    assert (entry <= hourly.column("high")[bar] * (1 + 1e-9)).all()
    assert not np.allclose(entry, hourly.column("open")[bar])


def test_tick_snaps_levels_to_the_price_grid(sample):
    est = ClusterModel(tick=0.5).estimate(sample)
    prices = est.levels["price"].to_numpy()
    np.testing.assert_allclose(prices * 2, np.round(prices * 2), atol=1e-6)
    with pytest.raises(ValueError, match="tick"):
        ClusterModel(tick=0).estimate(sample)


def test_turnover_reopens_at_price_and_is_pooled_on_fine_bars():
    n = 60
    idx = pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC")
    oi = np.full(n, 1e6)
    oi[10] = 1.1e6  # one bar opens positions on its own
    oi[11:] = 1.1e6
    df = pd.DataFrame({"open": 100.0, "high": 100.0, "low": 100.0, "close": 100.0,
                       "open_interest": oi}, index=idx)  # fmt: skip
    m = MarketData.from_frame(df)
    model = ClusterModel(turnover="1h", turnover_every="5min", seed="none", leverage={10: 1})
    opened = model.estimate(m).book[["opened_long", "opened_short"]].sum(axis=1)
    rate = np.log(2) / 60
    churn = -np.expm1(-rate) * np.concatenate([[0.0], oi[:-1]])
    # Everything that turned over reopened, plus the net increase; nothing invented or lost.
    assert opened.sum() == pytest.approx(churn.sum() + 1e5)
    booked = np.flatnonzero(opened.to_numpy() > 0)
    assert 10 in booked and set(booked) <= {10} | set(range(4, n, 5)) | {n - 1}


def test_decay_shrinks_the_book(sample):
    plain = ClusterModel(turnover=None).estimate(sample).book["outstanding_long"].iloc[-1]
    decayed = ClusterModel(turnover=None, decay="1D").estimate(sample).book["outstanding_long"]
    decayed = decayed.iloc[-1]
    assert decayed < 0.5 * plain


def test_params_and_errors(sample):
    m = ClusterModel(leverage={20: 1})
    assert m.get_params()["leverage"] == {20: 1}
    assert m.set_params(mmr=0.004) is m and m.mmr == 0.004
    assert "leverage={20: 1}" in repr(m)
    with pytest.raises(ValueError, match="unknown parameter 'lev'"):
        m.set_params(lev=3)
    with pytest.raises(TypeError, match="MarketData"):
        ClusterModel().estimate(sample.frame)
    for bad, msg in [
        ({"side_split": "coin"}, "side_split"),
        ({"side_split": 1.5}, "side_split"),
        ({"leverage": {}}, "empty"),
        ({"leverage": {0.5: 1}}, ">= 1"),
        ({"seed": "random"}, "seed"),
        ({"entry": "vwap"}, "entry"),
    ]:
        with pytest.raises(ValueError, match=msg):
            ClusterModel(**bad).estimate(sample)


def test_swept_matches_real_sample_moves(sample):
    """End to end on real data: big sweeps happen in bars with big ranges."""
    est = ClusterModel().estimate(sample)
    total = est.swept.sum(axis=1)
    rng = (sample.column("high") - sample.column("low")) / sample.column("open")
    top = total.nlargest(20).index
    assert rng[sample.index.get_indexer(top)].mean() > 3 * rng.mean()
    assert est.swept.index.equals(sample.index)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(59_999.0, 60_001.0), min_size=1, max_size=700),
    st.lists(st.tuples(st.integers(0, 90), st.floats(59_998.0, 60_002.0)), min_size=1, max_size=40),
)
def test_first_passage_matches_a_brute_force_scan(lows, queries):
    lows = np.array(lows)
    fp = FirstPassage(lows, "below")
    start = np.array([q[0] for q in queries])
    level = np.array([q[1] for q in queries])
    got = fp.find(start, level)
    for s, lev, g in zip(start, level, got, strict=True):
        hits = [t for t in range(s, lows.size) if lows[t] <= lev]
        assert g == (hits[0] if hits else lows.size)
    highs = FirstPassage(lows, "above").find(start, level)
    for s, lev, g in zip(start, level, highs, strict=True):
        hits = [t for t in range(s, lows.size) if lows[t] >= lev]
        assert g == (hits[0] if hits else lows.size)
