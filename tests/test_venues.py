"""Aggregated markets: hand-computed two-exchange sums, bar alignment, a missing exchange,
and each exchange's share of new positions placed with its own formula."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqwidget import ClusterModel, MarketData, liquidation_price
from liqwidget.bar_path import walk
from liqwidget.market import MarketDataError
from liqwidget.venues import Venue, aggregate, is_inverse

T0 = pd.Timestamp("2026-06-01", tz="UTC")


def bars(closes, oi, *, start=0, step="5min", **kw) -> MarketData:
    idx = T0 + pd.Timedelta(step) * (start + np.arange(len(closes)))
    c = np.asarray(closes, dtype="float64")
    df = pd.DataFrame(
        {"open": c, "high": c * 1.001, "low": c * 0.999, "close": c, "open_interest": oi},
        index=idx,
    )
    return MarketData.from_frame(df, allow_gaps=True, **kw)


def test_is_inverse():
    assert is_inverse("BTC/USD:BTC") and is_inverse("ETH/USD:ETH-261225")
    assert not is_inverse("BTC/USDT:USDT") and not is_inverse("BTCUSDT") and not is_inverse(None)


def test_two_exchanges_summed_in_usd_from_their_own_units():
    # OKX linear: OI in contracts of 0.01 BTC; Binance COIN-M inverse: contracts of 100 USD.
    okx = bars([50_000, 51_000], [2_000, 3_000], oi_unit="contracts", contract_size=0.01,
               symbol="BTC/USDT:USDT", exchange="okx")  # fmt: skip
    coinm = bars([49_990, 50_990], [1_500, 1_400], oi_unit="contracts", contract_size=100,
                 inverse=True, symbol="BTC/USD:BTC", exchange="binancecoinm")  # fmt: skip
    m = aggregate([okx, coinm])
    # by hand: 2,000 * 0.01 * 50,000 + 1,500 * 100 = 1,000,000 + 150,000
    #          3,000 * 0.01 * 51,000 + 1,400 * 100 = 1,530,000 + 140,000
    np.testing.assert_allclose(m.column("open_interest"), [1_150_000, 1_670_000])
    np.testing.assert_allclose(m.venue_oi(), [[1_000_000, 1_530_000], [150_000, 140_000]])
    np.testing.assert_allclose(m.column("close"), [50_000, 51_000])  # the first listed
    assert [v.inverse for v in m.venues] == [False, True]
    assert [v.formula for v in m.venues] == ["okx", "binance"]
    assert m.exchange == "okx + binancecoinm" and not m.missing


def test_bars_aligned_on_the_union_and_a_missing_exchange_reported():
    a = bars([100, 101, 102, 103, 104], [10, 11, 12, 13, 14], symbol="X/USDT:USDT",
             exchange="binanceusdm")  # fmt: skip
    # bybit starts one bar later and misses bar 3
    b = pd.concat(
        [bars([200, 201], [5, 6], start=1).frame, bars([203], [8], start=4, timeframe="5min").frame]
    )
    b = MarketData.from_frame(
        b, allow_gaps=True, timeframe="5min", symbol="X/USDT:USDT", exchange="bybit"
    )
    m = aggregate([a, b])
    assert len(m) == 5 and (m.index == a.index).all()
    # bar 0: bybit not yet seen -> held at its first value (5), bar 3: held at 6
    np.testing.assert_allclose(m.column("open_interest"), [15, 16, 18, 19, 22])
    assert [(s.venue, s.bars) for s in m.missing] == [("bybit X/USDT:USDT", 1)] * 2
    assert m.missing[0].start == a.index[0] and m.missing[1].start == a.index[3]
    assert "no data for 1 bar(s)" in str(m.missing[1])
    # the reference exchange (listed first) gives prices; the other fills bars it lacks
    c = aggregate([b, a])
    np.testing.assert_allclose(c.column("close"), [100, 200, 201, 103, 203])
    # slicing and resampling keep the per-exchange columns
    assert m.slice(a.index[1], a.index[3]).venue_oi().shape == (2, 3)
    assert m.resample("10min").venues == m.venues


def test_mismatched_timeframes_and_duplicates_raise():
    a = bars([1, 2], [1, 1], symbol="X/USDT:USDT", exchange="okx")
    b = bars([1, 2], [1, 1], step="1min", symbol="X/USDT:USDT", exchange="bybit")
    with pytest.raises(MarketDataError, match="resample"):
        aggregate([a, b])
    with pytest.raises(MarketDataError, match="twice"):
        aggregate([a, a])
    with pytest.raises(MarketDataError, match="no exchange/symbol"):
        aggregate([bars([1, 2], [1, 1])])


def test_each_exchange_share_placed_with_its_own_formula():
    # Binance USD-M (linear) grows 60 in bar 1, Bybit inverse grows 40 in bar 2; in bar 3
    # Binance +30 and Bybit -10: the total grows 20, all of it Binance's.
    a = bars([100, 100, 120, 110], [100, 160, 160, 190], symbol="BTC/USDT:USDT",
             exchange="binanceusdm")  # fmt: skip
    b = bars([100, 100, 120, 110], [50, 50, 90, 80], symbol="BTC/USD:BTC", exchange="bybit")
    m = aggregate([a, b])
    model = ClusterModel(leverage={10: 1.0}, side_split=0.5, seed="none", turnover=None,
                         leverage_jitter=0.0, entry="close")  # fmt: skip
    lv = model.estimate(m).raw
    got = pd.DataFrame({"price": lv.price, "weight": lv.weight, "side": lv.side,
                        "birth": lv.birth}).sort_values(["birth", "side", "price"])  # fmt: skip
    lin = [float(liquidation_price(1.0, 10, s, "binance", mmr=0.005, quantity=1)) for s in
           ("long", "short")]  # fmt: skip
    inv = [float(liquidation_price(1.0, 10, s, "bybit", mmr=0.005, inverse=True)) for s in
           ("long", "short")]  # fmt: skip
    want = pd.DataFrame(
        {
            "price": [
                100 * lin[0],
                100 * lin[1],
                120 * inv[0],
                120 * inv[1],
                110 * lin[0],
                110 * lin[1],
            ],
            "weight": [30.0, 30.0, 20.0, 20.0, 10.0, 10.0],
            "side": [0, 1, 0, 1, 0, 1],
            "birth": [2, 2, 3, 3, 4, 4],
        }
    )
    np.testing.assert_allclose(got.price, want.price, rtol=1e-12)
    np.testing.assert_allclose(got.weight, want.weight, rtol=1e-12)
    assert list(got.side) == list(want.side) and list(got.birth) == list(want.birth)
    # one parameter apart: the model's own formula everywhere (still inverse where it is)
    same = model.set_params(exchange_formulas=False).estimate(m).raw
    assert np.isclose(np.sort(same.price)[0], 100 * (1 - 0.1 + 0.005))


def test_turnover_split_by_open_interest():
    a = bars([100] * 3, [300, 300, 300], symbol="BTC/USDT:USDT", exchange="binanceusdm")
    b = bars([100] * 3, [100, 100, 100], symbol="BTC/USDT:USDT", exchange="okx")
    m = aggregate([a, b])
    model = ClusterModel(leverage={10: 1.0}, seed="none", turnover="1h", turnover_every="5min",
                         leverage_jitter=0.0)  # fmt: skip
    share = model.venue_share(m, np.zeros(3), np.array([0.0, 4.0, 4.0]), np.array([0, 4, 4.0]))
    np.testing.assert_allclose(share[:, 1:], [[0.75, 0.75], [0.25, 0.25]])


def test_venue_of_unknown_exchange_is_simple():
    assert Venue.of("kraken", "BTC/USD:BTC").formula == "simple"
    assert Venue.of("okx", "BTC/USD:BTC").inverse


def test_store_keeps_exchanges_apart_and_aggregates_on_loading(tmp_path):
    from liqwidget.store import Store

    t = [int((T0 + pd.Timedelta(minutes=5 * i)).timestamp() * 1000) for i in range(3)]
    with Store(tmp_path / "s.sqlite") as st:
        st.write_bars("binanceusdm", "BTC/USDT:USDT", "5m",
                      [(x, 100.0, 101.0, 99.0, 100.0, 1.0) for x in t])  # fmt: skip
        st.write_bars("binancecoinm", "BTC/USD:BTC", "5m",
                      [(x, 99.0, 100.0, 98.0, 99.0, 1.0) for x in t])  # fmt: skip
        # linear: 2 contracts of 1 BTC at close 100 = 200 USD; inverse: 3 contracts of 100 USD
        st.write_open_interest(
            "binanceusdm", "BTC/USDT:USDT", "5m", [(x, 2.0, None, 1.0) for x in t]
        )
        # Binance COIN-M reports its value in coin (3 * 100 / 99): the contract count is used
        st.write_open_interest("binancecoinm", "BTC/USD:BTC", "5m",
                               [(x, 3.0, 300 / 99, 100.0) for x in t])  # fmt: skip
        one = st.load_market("binancecoinm", "BTC/USD:BTC", "5m")
        np.testing.assert_allclose(one.column("open_interest"), [300.0] * 3)
        both = st.load_market(
            [("binanceusdm", "BTC/USDT:USDT"), ("binancecoinm", "BTC/USD:BTC")], None, "5m"
        )
        np.testing.assert_allclose(both.column("open_interest"), [500.0] * 3)
        assert [v.key for v in both.venues] == [
            "binanceusdm BTC/USDT:USDT",
            "binancecoinm BTC/USD:BTC",
        ]
        assert both.venues[1].inverse and not one.venues
        # stored rows are untouched: still one series per exchange
        assert len(st.load_market("binanceusdm", "BTC/USDT:USDT", "5m")) == 3


def test_real_layer_aggregated_with_each_feed_completeness(tmp_path):
    from liqwidget.feeds import completeness_line
    from liqwidget.store import Store

    line = completeness_line(["binanceusdm", "bybit", "okx"])
    assert "complete from bybit" in line and "sampled from binanceusdm, okx" in line
    ev = pd.DataFrame(
        {
            "time": [T0, T0 + pd.Timedelta("1min"), T0 + pd.Timedelta("2min")],
            "side": ["long", "short", "long"],
            "price": [100.0, 101.0, 99.0],
            "notional": [1_000.0, 2_000.0, 3_000.0],
            "exchange": ["bybit", "okx", "bybit"],
            "symbol": ["BTC/USD:BTC", "BTC/USDT:USDT", "BTC/USDT:USDT"],
        }
    )
    with Store(tmp_path / "s.sqlite") as st:
        st.write_liquidations(ev)
        got = st.load_liquidations([("bybit", "BTC/USD:BTC"), ("okx", "BTC/USDT:USDT")])
    assert list(got["notional"]) == [1_000.0, 2_000.0]  # bybit's USDT-margined one is not asked
    assert list(got["exchange"]) == ["bybit", "okx"]


def test_hourly_aggregated_market_walks_each_exchanges_open_interest():
    """On hourly bars the model walks each bar; every exchange's open interest ramps with
    the total, so each one's share of new positions is kept and opened equals the sum."""
    a = bars([100, 101, 103, 102], [100, 160, 160, 190], step="1h", symbol="BTC/USDT:USDT",
             exchange="binanceusdm")  # fmt: skip
    b = bars([100, 101, 103, 102], [50, 50, 90, 80], step="1h", symbol="BTC/USD:BTC",
             exchange="bybit")  # fmt: skip
    m = aggregate([a, b])
    model = ClusterModel(leverage={10: 1.0}, seed="none", turnover=None, leverage_jitter=0.0)
    walked = walk(m, model.steps_for(m))
    assert model.steps_for(m) == 8
    np.testing.assert_allclose(walked.venue_oi().sum(axis=0), walked.column("open_interest"))
    lv = model.estimate(m).raw
    # New positions: +60 (Binance) in bar 1, +40 (Bybit) in bar 2, +20 (net, Binance) in 3.
    assert lv.weight.sum() == pytest.approx(60 + 40 + 20)
    assert lv.weight[lv.birth == 3].sum() == pytest.approx(40)  # bar 2: Bybit's growth
    # Bybit's long levels follow the inverse formula (1 / (1 + 1/10 - mmr) of entry, 0.913),
    # Binance's the linear one (1 - 1/10 + mmr, 0.905); entries lie within 0.1 % of the close.
    bybit = lv.price[(lv.birth == 3) & (lv.side == 0)] / 103.0
    binance = lv.price[(lv.birth == 2) & (lv.side == 0)] / 101.0
    np.testing.assert_allclose(bybit, 1 / 1.095, rtol=2e-3)
    np.testing.assert_allclose(binance, 0.905, rtol=2e-3)
