"""One rule for times (liqwidget.times) and one event contract (events.validate_events),
checked where each applies: bars, events, calibration, store, widget, grid, simulator, CLI."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import pandas as pd
import pytest
import traitlets

from liqwidget import ClusterModel
from liqwidget.calibration import calibrate
from liqwidget.events import LiquidationDataError, validate_events
from liqwidget.market import MarketData, MarketDataError
from liqwidget.simulator.price_process import make_clock
from liqwidget.simulator.scenarios import get_scenario
from liqwidget.store import Store, StoreError
from liqwidget.times import TimeError, from_ms, utc, utc_flag, utc_index, utc_ms
from liqwidget.widget import LiquidationMap

NOON = pd.Timestamp("2026-06-10 12:00", tz="UTC")
NOON_MS = 1_781_092_800_000


def test_aware_times_of_any_zone_become_utc():
    assert NOON.value // 1_000_000 == NOON_MS
    for value in (
        NOON,
        NOON.tz_convert("Asia/Tokyo"),
        NOON.to_pydatetime(),
        dt.datetime(2026, 6, 10, 14, tzinfo=dt.timezone(dt.timedelta(hours=2))),
        "2026-06-10T12:00Z",
        "2026-06-10 14:00+02:00",
        NOON_MS,
        float(NOON_MS),
        np.int64(NOON_MS),
    ):
        ts = utc(value)
        assert ts == NOON and str(ts.tz) == "UTC" and ts.unit == "ns", value
    assert utc_ms("2026-06-10T12:00Z") == NOON_MS
    assert utc(NOON_MS + 0.5).value == NOON.value + 500_000  # fractional ms from the front end


@pytest.mark.parametrize(
    "value",
    ["2026-06-10 12:00", pd.Timestamp("2026-06-10 12:00"), dt.datetime(2026, 6, 10, 12)],
)
def test_naive_times_are_refused_with_the_fix(value):
    with pytest.raises(TimeError, match=r"start .* has no time zone.*'2026-06-10T12:00:00Z'"):
        utc(value, "start")


@pytest.mark.parametrize(
    ("value", "unit"), [(NOON_MS // 1000, "seconds"), (NOON_MS * 1000, "microseconds")]
)
def test_numbers_are_milliseconds_and_other_units_are_named(value, unit):
    with pytest.raises(TimeError, match=f"not milliseconds since the epoch.*looks like {unit}"):
        utc(value)
    with pytest.raises(TimeError, match=f"col is {value} at row 1.*looks like {unit}"):
        utc_index([NOON_MS, value], "col")


def test_many_times_follow_the_same_rule():
    want = pd.DatetimeIndex([NOON, NOON + pd.Timedelta("5min")])
    ms = [NOON_MS, NOON_MS + 300_000]
    for values in (want, want.tz_convert("US/Eastern"), pd.Series(want), ms, from_ms(ms)):
        assert utc_index(values).equals(want)
    assert utc_index(["2026-06-10T12:00Z", "2026-06-10T08:05-04:00"]).equals(want)
    with pytest.raises(TimeError, match=r"index has no time zone.*\.tz_localize\('UTC'\)"):
        utc_index(want.tz_localize(None), "index")
    with pytest.raises(TimeError, match=r"col has no time zone.*\.dt\.tz_localize\('UTC'\)"):
        utc_index(pd.Series(want.tz_localize(None)), "col")
    with pytest.raises(TimeError, match="has no time zone"):
        utc_index(["2026-06-10T12:00Z", "2026-06-10 12:05"])  # one naive string is enough
    with pytest.raises(TimeError, match=r"missing \(NaT\) at row 1"):
        utc_index(pd.DatetimeIndex([NOON, None]))
    # Numbers written as text (a CSV or JSON column of strings) are numbers, not dates;
    # zoned datetimes in any unit (pandas 3 makes µs) are times, not numbers.
    for values in ([str(v) for v in ms], pd.Series([str(v) for v in ms], dtype="string")):
        assert utc_index(values).equals(want)
    assert utc_index(want.as_unit("us")).equals(want) and utc_index(want.as_unit("s")).equals(want)
    with pytest.raises(TimeError, match="col is missing or not finite at row 1"):
        utc_index([str(NOON_MS), None], "col")
    with pytest.raises(TimeError, match=f"col is {NOON_MS // 1000} at row 0.*looks like seconds"):
        utc_index([str(NOON_MS // 1000)], "col")


def test_command_line_text_is_read_as_utc():
    assert utc_flag("2026-06-10 12:00") == NOON
    assert utc_flag("2026-06-10 14:00+02:00") == NOON


# ---------------------------------------------------------------- everywhere it applies
@pytest.fixture(scope="module")
def est(sample):
    return ClusterModel().estimate(sample.slice(None, sample.index[300]))


def test_bars(sample):
    frame = sample.frame.iloc[:20]
    with pytest.raises(MarketDataError, match="DatetimeIndex has no time zone"):
        MarketData.from_frame(frame.tz_localize(None))
    ms = frame.reset_index(drop=True).assign(timestamp=frame.index.as_unit("ms").asi8)
    assert MarketData.from_frame(ms).index.equals(frame.index)
    secs = ms.assign(timestamp=ms["timestamp"] // 1000)
    with pytest.raises(MarketDataError, match=r"'timestamp' is .* at row 0.*looks like seconds"):
        MarketData.from_frame(secs)
    m = MarketData.from_frame(frame)
    t = frame.index[5] + pd.Timedelta("5min")
    assert m.state_at(t) == m.state_at(t.tz_convert("Europe/Paris")) == 6
    assert m.state_at(int(t.value // 1_000_000)) == 6
    with pytest.raises(MarketDataError, match=r"t .* has no time zone"):
        m.state_at(t.tz_localize(None))
    with pytest.raises(MarketDataError, match=r"start .* has no time zone"):
        m.slice(str(frame.index[3].tz_localize(None)), None)
    assert len(m.slice(frame.index[3].tz_convert("Asia/Tokyo"), None)) == 17


def test_events_grid_and_widget(est):
    t = est.market.index[10]
    ev = pd.DataFrame(
        {"time": [t], "side": ["long"], "price": [est.market.column("low")[10]], "notional": [1e5]}
    )
    as_ms = validate_events(ev.assign(time=t.value // 1_000_000))
    assert as_ms["time"].iloc[0] == t
    with pytest.raises(LiquidationDataError, match=r"column 'time' is .* looks like seconds"):
        validate_events(ev.assign(time=t.value // 1_000_000_000))
    naive = (t.tz_localize(None), est.market.index[-1].tz_localize(None))
    with pytest.raises(TimeError, match=r"time_range .* has no time zone"):
        est.grid(20, 10, time_range=naive)
    w = LiquidationMap(est, ev, resolution=(60, 30))
    w.cursor = t.tz_convert("Asia/Tokyo")
    assert w.cursor == t
    w.cursor = t.value / 1e6  # epoch ms, as the front end sends it
    assert w.cursor == t
    with pytest.raises(traitlets.TraitError, match=r"cursor: .* has no time zone"):
        w.cursor = "2026-06-07 12:00"
    with pytest.raises(traitlets.TraitError, match="looks like seconds"):
        w.cursor = t.value / 1e9


def test_store_queries(tmp_path):
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(StoreError, match="has no time zone"):
            store.load_liquidations(start="2026-06-10 12:00")
        with pytest.raises(StoreError, match="looks like seconds"):
            store.gaps(start=NOON_MS // 1000)
        store.add_gap("bybit", None, NOON, NOON_MS + 60_000, "test")
        assert store.gaps(start="2026-06-10T12:00:30Z")["start"].tolist() == [NOON]


def test_scenario_start():
    sc = get_scenario("calm-range")
    assert make_clock(sc, "1min", "15s").start == pd.Timestamp(sc.start)
    naive = dataclasses.replace(sc, start="2026-06-01 00:00")
    with pytest.raises(TimeError, match=r"Scenario.start .* has no time zone"):
        make_clock(naive, "1min", "15s")


# ---------------------------------------------------------------- one event contract
BAD = {
    "side": ("sell", "column 'side' is 'sell' at row 2"),
    "notional": (np.nan, "column 'notional' is NaN or infinite at row 2"),
    "price": (-5.0, r"column 'price' is not positive \(-5.0\) at row 2"),
}


@pytest.mark.parametrize("column", sorted(BAD))
def test_the_same_bad_frame_gets_the_same_error_everywhere(est, tmp_path, column):
    idx = est.market.index
    good = pd.DataFrame(
        {
            "time": idx[[10, 20, 30, 40]],
            "side": ["long", "short", "long", "short"],
            "price": est.market.column("close")[[10, 20, 30, 40]],
            "notional": [1e4, 2e4, 3e4, 4e4],
            "exchange": "bybit",
            "symbol": "BTC/USDT:USDT",
        }
    )
    value, message = BAD[column]
    bad = good.copy()
    bad.loc[2, column] = value
    errors = []
    with Store(tmp_path / "s.sqlite") as store:
        for call in (
            lambda: validate_events(bad),
            lambda: calibrate(est, bad),
            lambda: store.write_liquidations(bad),
            lambda: LiquidationMap(est, bad, resolution=(60, 30)),
        ):
            with pytest.raises(LiquidationDataError, match=message) as info:
                call()
            errors.append(str(info.value))
        assert store.count_liquidations() == 0
    assert len(set(errors)) == 1, errors
    naive = good.assign(time=good["time"].dt.tz_localize(None))
    with pytest.raises(LiquidationDataError, match="column 'time' has no time zone"):
        calibrate(est, naive)
    with pytest.raises(LiquidationDataError, match="column 'time' has no time zone"):
        Store(tmp_path / "t.sqlite").write_liquidations(naive)
