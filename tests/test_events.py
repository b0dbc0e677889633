"""The real-liquidation event frame: validation errors and binning onto a grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from liqwidget.events import (
    LiquidationDataError,
    events_in,
    realized_grid,
    undercount_notes,
    validate_events,
)


def events(**overrides) -> pd.DataFrame:
    base = {
        "time": pd.to_datetime(
            ["2026-06-07 00:03", "2026-06-07 00:01", "2026-06-07 00:17", "2026-06-07 00:29"],
            utc=True,
        ),
        "side": ["long", "short", "long", "short"],
        "price": [100.5, 101.5, 100.2, 103.9],
        "notional": [1_000.0, 2_000.0, 500.0, 4_000.0],
    }
    base.update(overrides)
    return pd.DataFrame(base)


EDGES_T = pd.date_range("2026-06-07 00:00", periods=4, freq="10min", tz="UTC")  # 3 columns
EDGES_P = np.array([100.0, 101.0, 102.0, 103.0, 104.0])  # 4 rows


def test_valid_frame_is_sorted_and_typed():
    out = validate_events(events(exchange=["bybit"] * 4))
    assert list(out.columns) == ["time", "side", "price", "notional", "exchange"]
    assert out["time"].is_monotonic_increasing
    assert str(out["time"].dtype) == "datetime64[ns, UTC]"
    assert out["notional"].iloc[0] == 2_000.0  # the 00:01 short came first


def test_iso_strings_with_offset_are_accepted():
    ev = events(
        time=[
            "2026-06-07T00:03Z",
            "2026-06-07T02:01+02:00",
            "2026-06-07T00:17Z",
            "2026-06-07T00:29Z",
        ]
    )
    out = validate_events(ev)
    assert out["time"].iloc[0] == pd.Timestamp("2026-06-07 00:01", tz="UTC")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"side": ["long", "sell", "long", "short"]}, r"column 'side' is 'sell' at row 1"),
        ({"price": [100.5, np.nan, 100.2, 1.0]}, r"column 'price' is NaN or infinite at row 1"),
        ({"price": [100.5, 1.0, 0.0, 1.0]}, r"column 'price' is not positive \(0.0\) at row 2"),
        ({"notional": [1.0, 2.0, 3.0, -4.0]}, r"column 'notional' is negative \(-4.0\) at row 3"),
        ({"notional": [1.0, np.inf, 3.0, 4.0]}, r"column 'notional' is NaN or infinite at row 1"),
        (
            {"time": pd.to_datetime(["2026-06-07"] * 4)},
            r"column 'time' has no time zone.*tz_localize\('UTC'\)",
        ),
        ({"time": ["2026-06-07T00:00"] * 4}, r"column 'time' has no time zone"),
        ({"time": [1.78e9] * 4}, r"column 'time' is 1780000000 at row 0.*looks like seconds"),
        (
            {"time": pd.to_datetime(["2026-06-07", None, "2026-06-07", "2026-06-07"], utc=True)},
            r"column 'time' is missing \(NaT\) at row 1",
        ),
    ],
)
def test_bad_values_name_column_and_row(overrides, message):
    with pytest.raises(LiquidationDataError, match=message):
        validate_events(events(**overrides))


def test_missing_column_is_named():
    with pytest.raises(LiquidationDataError, match=r"missing column\(s\) \['notional'\]"):
        validate_events(events().drop(columns="notional"))


def test_per_bar_totals_given_as_events_say_what_they_are_and_where_they_go():
    t = pd.date_range("2026-06-01", periods=3, freq="1h", tz="UTC")
    totals = pd.DataFrame({"long": [1e6, 0.0, 2e5], "short": [0.0, 3e5, 1e4]}, index=t)
    with pytest.raises(LiquidationDataError, match=r"per-bar totals.*liqwidget\.calibrate"):
        validate_events(totals)


def test_row_label_includes_the_frame_index():
    ev = events(notional=[1.0, 2.0, -3.0, 4.0])
    ev.index = [10, 11, 12, 13]
    with pytest.raises(LiquidationDataError, match=r"at row 2 \(index 12\)"):
        validate_events(ev)


def test_realized_grid_sums_each_side_in_its_cell():
    grid = realized_grid(events(), EDGES_T, EDGES_P)
    assert grid.long.shape == (4, 3) and grid.short.shape == (4, 3)
    # Longs: 1000 at 00:03 / 100.5 -> (row 0, col 0); 500 at 00:17 / 100.2 -> (row 0, col 1).
    expected_long = np.zeros((4, 3))
    expected_long[0, 0] = 1_000.0
    expected_long[0, 1] = 500.0
    expected_short = np.zeros((4, 3))
    expected_short[1, 0] = 2_000.0
    expected_short[3, 2] = 4_000.0
    np.testing.assert_array_equal(grid.long, expected_long)
    np.testing.assert_array_equal(grid.short, expected_short)
    assert grid.long.sum() + grid.short.sum() == events()["notional"].sum()


def test_events_outside_the_grid_are_in_no_cell_and_can_be_counted():
    ev = events(price=[100.5, 101.5, 99.0, 104.0], time=EDGES_T[[0, 3, 1, 2]])
    grid = realized_grid(ev, EDGES_T, EDGES_P)
    inside = events_in(validate_events(ev), EDGES_T, EDGES_P)
    # 99.0 is below the grid, 104.0 is the (exclusive) top edge, EDGES_T[3] the end edge.
    assert inside.tolist() == [True, False, False, False]
    assert grid.long.sum() == 1_000.0 and grid.short.sum() == 0.0


def test_realized_grid_matches_a_plain_loop():
    rng = np.random.default_rng(4)
    n = 500
    ev = pd.DataFrame(
        {
            "time": EDGES_T[0] + pd.to_timedelta(rng.uniform(0, 1800, n), unit="s"),
            "side": rng.choice(["long", "short"], n),
            "price": rng.uniform(99.0, 105.0, n),
            "notional": rng.lognormal(8, 1, n),
        }
    )
    grid = realized_grid(ev, EDGES_T, EDGES_P)
    long = np.zeros((4, 3))
    short = np.zeros((4, 3))
    for row in ev.itertuples():
        c = int((row.time - EDGES_T[0]) // pd.Timedelta("10min"))
        r = int(np.floor(row.price - 100.0))
        if 0 <= c < 3 and 0 <= r < 4:
            (long if row.side == "long" else short)[r, c] += row.notional
    np.testing.assert_allclose(grid.long, long)
    np.testing.assert_allclose(grid.short, short)


def test_empty_frame_gives_an_empty_grid():
    grid = realized_grid(events().iloc[:0], EDGES_T, EDGES_P)
    assert grid.long.sum() == 0 and grid.short.shape == (4, 3)


def test_undercounting_feeds_are_named():
    notes = undercount_notes(
        validate_events(events(exchange=["binanceusdm", "bybit", "bybit", "bybit"]))
    )
    assert len(notes) == 1 and notes[0].startswith("binanceusdm: ") and "per second" in notes[0]
    assert undercount_notes(validate_events(events())) == []
