"""The market-data contract: what MarketData accepts, converts and refuses."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqwidget import MarketData, MarketDataError, load_sample


def bars(n: int = 6, start: str = "2026-01-01", freq: str = "5min") -> pd.DataFrame:
    idx = pd.date_range(start, periods=n, freq=freq, tz="UTC")
    close = 100 + np.arange(n, dtype=float)
    return pd.DataFrame(
        {
            "open": close - 0.5,
            "high": close + 1.0,
            "low": close - 1.0,
            "close": close,
            "open_interest": 1000.0 + np.arange(n),
        },
        index=idx,
    )


def test_sample_is_the_real_binance_file():
    m = load_sample()
    assert len(m) == 4406
    assert m.timeframe == pd.Timedelta("5min")
    assert m.index[0] == pd.Timestamp("2026-06-07 04:40", tz="UTC")
    assert m.index[-1] == pd.Timestamp("2026-06-22 11:45", tz="UTC")
    assert m.gaps == ()
    # First row of the shipped CSV, renamed: OI is USD notional, taker_net in BTC.
    first = m.frame.iloc[0]
    assert first["open"] == 61678.4 and first["open_interest"] == pytest.approx(6338566057.91)
    assert m.frame["taker_net"].iloc[1] == pytest.approx(-44.251)
    assert m.frame["taker_net"].iloc[0] == 0.0  # blank first flow: no flow recorded yet
    assert m.exchange == "binanceusdm"


def test_timestamp_column_in_ms_and_datetime_index_agree():
    df = bars()
    a = MarketData.from_frame(df)
    ms = df.reset_index(drop=True).assign(timestamp=df.index.as_unit("ms").asi8)
    b = MarketData.from_frame(ms)
    pd.testing.assert_frame_equal(a.frame, b.frame, check_freq=False)
    assert a.timeframe == pd.Timedelta("5min")


@pytest.mark.parametrize("unit", ["s", "ms", "us", "ns"])
def test_timestamp_column_of_zoned_datetimes_is_read_as_times_not_numbers(unit):
    """A ``timestamp`` column may hold zoned datetimes (pandas 3 makes them in µs), ISO text
    with an offset or epoch ms as text: each is the same bars as the DatetimeIndex."""
    df = bars()
    want = MarketData.from_frame(df).frame
    stamps = df.index.as_unit(unit)
    for column in (
        stamps,
        stamps.tz_convert("Asia/Tokyo"),
        stamps.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
        [str(v) for v in df.index.as_unit("ms").asi8],
    ):
        got = MarketData.from_frame(df.reset_index(drop=True).assign(timestamp=column)).frame
        pd.testing.assert_frame_equal(got, want, check_freq=False)
    naive = df.reset_index(drop=True).assign(timestamp=stamps.tz_localize(None))
    with pytest.raises(MarketDataError, match="column 'timestamp' has no time zone"):
        MarketData.from_frame(naive)


def test_optional_columns_kept_and_unknown_ones_dropped():
    df = bars().assign(volume=5.0, taker_buy=3.0, taker_sell=2.0, funding_rate=1e-4, junk="x")
    m = MarketData.from_frame(df)
    assert list(m.frame.columns) == [
        "open", "high", "low", "close", "open_interest", "volume", "taker_buy", "taker_sell", "funding_rate"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("unit", "size", "factor"),
    [("quote", None, 1.0), ("base", None, "close"), ("contracts", 0.001, "close*0.001")],
)
def test_open_interest_units_are_converted_to_quote(unit, size, factor):
    df = bars()
    m = MarketData.from_frame(df, oi_unit=unit, contract_size=size)
    expect = df["open_interest"].to_numpy()
    if factor == "close":
        expect = expect * df["close"].to_numpy()
    elif factor == "close*0.001":
        expect = expect * df["close"].to_numpy() * 0.001
    np.testing.assert_allclose(m.column("open_interest"), expect)


@pytest.mark.parametrize("unit", ["quote", "base"])
def test_open_interest_beyond_any_market_is_refused_with_its_row_and_units(unit):
    # 1e305 passed every check and overflowed inside the model; 3e13 BTC read as base
    # units is 2e18 USD: wrong units either way.
    df = bars()
    df.iloc[3, df.columns.get_loc("open_interest")] = 1e305 if unit == "quote" else 3e13
    with pytest.raises(MarketDataError, match=r"'open_interest' is .* at row 3.*units"):
        MarketData.from_frame(df, oi_unit=unit)


def test_contracts_without_size_is_refused():
    with pytest.raises(MarketDataError, match="contract_size"):
        MarketData.from_frame(bars(), oi_unit="contracts")
    with pytest.raises(MarketDataError, match="unknown oi_unit"):
        MarketData.from_frame(bars(), oi_unit="lots")


def corrupt(col, row, value):
    df = bars()
    values = df[col].astype(object)
    values.iloc[row] = value
    df[col] = values if isinstance(value, str) else values.astype(float)
    return df


@pytest.mark.parametrize(
    ("df", "pattern"),
    [
        (bars().drop(columns="open_interest"), r"missing column\(s\) \['open_interest'\]"),
        (corrupt("close", 3, np.nan), r"'close' is NaN or infinite at row 3"),
        (corrupt("open_interest", 2, np.inf), r"'open_interest' is NaN or infinite at row 2"),
        (corrupt("low", 4, -1.0), r"'low' is not positive .* row 4"),
        (corrupt("high", 1, 100.0), r"'high' is below open/close at row 1"),
        (corrupt("low", 5, 106.0), r"'low' is above open/close at row 5"),
        (corrupt("open_interest", 2, -5.0), r"'open_interest' is negative .* row 2"),
        (corrupt("close", 1, "abc"), r"'close' is not numeric"),
    ],
)
def test_bad_values_are_named_with_column_and_row(df, pattern):
    with pytest.raises(MarketDataError, match=pattern):
        MarketData.from_frame(df)


def test_unsorted_and_duplicate_timestamps_are_refused():
    df = bars()
    swapped = df.iloc[[0, 1, 3, 2, 4, 5]]
    with pytest.raises(MarketDataError, match=r"not sorted: row 3"):
        MarketData.from_frame(swapped)
    dup = df.iloc[[0, 1, 2, 2, 3, 4]]
    with pytest.raises(MarketDataError, match=r"duplicate timestamp at row 3"):
        MarketData.from_frame(dup)


def test_times_must_be_utc_and_in_ms():
    with pytest.raises(MarketDataError, match="no time zone"):
        MarketData.from_frame(bars().tz_localize(None))
    secs = bars().reset_index(drop=True).assign(timestamp=bars().index.as_unit("s").asi8)
    with pytest.raises(MarketDataError, match="not milliseconds"):
        MarketData.from_frame(secs)
    with pytest.raises(MarketDataError, match="no bar times"):
        MarketData.from_frame(bars().reset_index(drop=True))


def test_gaps_are_reported_and_refused_unless_allowed():
    df = bars(10).drop(index=bars(10).index[[4, 5]])
    with pytest.raises(MarketDataError, match=r"1 gap\(s\).*2 bar\(s\) missing"):
        MarketData.from_frame(df, timeframe="5min")
    m = MarketData.from_frame(df, timeframe="5min", allow_gaps=True)
    assert len(m.gaps) == 1 and m.gaps[0].missing_bars == 2
    assert m.gaps[0].after == df.index[3]


def test_irregular_spacing_is_refused():
    df = bars(6)
    df.index = df.index[:5].append(pd.DatetimeIndex([df.index[4] + pd.Timedelta("7min")]))
    with pytest.raises(MarketDataError, match="irregular"):
        MarketData.from_frame(df)


def test_resample_keeps_ohlc_semantics(sample):
    hourly = sample.resample("1h")
    first_hour = sample.frame.loc["2026-06-07 05:00":"2026-06-07 05:55"]
    row = hourly.frame.loc["2026-06-07 05:00"]
    assert row["high"] == first_hour["high"].max()
    assert row["low"] == first_hour["low"].min()
    assert row["open"] == first_hour["open"].iloc[0]
    assert row["open_interest"] == first_hour["open_interest"].iloc[-1]
    assert row["taker_net"] == pytest.approx(first_hour["taker_net"].sum())
