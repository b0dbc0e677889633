"""The simulated market: mechanics that must hold exactly, determinism, scenarios, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import liqwidget
from liqwidget.events import validate_events
from liqwidget.simulator import SCENARIOS, Phase, Simulation, simulate

SMALL = dict(days=0.5, warmup_days=0.5, opens_per_minute=40.0)
#: A half-day long squeeze: longs crowd into a rise, then a 2 % push down.
SQUEEZE = (
    Phase(5.0, move=0.015, vol=0.7, long_share=0.7),
    Phase(0.25, move=-0.02, vol=1.0, long_share=0.5),
    Phase(6.75),
)


@pytest.fixture(scope="module")
def sim() -> Simulation:
    return simulate("long-squeeze", seed=3, days=0.5, warmup_days=0.5, phases=SQUEEZE)


def bar_ends(market) -> np.ndarray:
    return market.index.asi8 + market.timeframe.value


def times_ns(col: pd.Series) -> np.ndarray:
    """Nanoseconds since the epoch; NaT becomes the largest int (never reached)."""
    idx = pd.DatetimeIndex(col)
    out = idx.asi8.copy()
    out[idx.isna()] = np.iinfo("int64").max
    return out


# ---------------------------------------------------------------------- mechanics
def test_open_interest_is_the_sum_of_open_positions_at_every_bar(sim):
    pos, m = sim.positions, sim.market
    ends = bar_ends(m)
    opened, closed = times_ns(pos["open_time"]), times_ns(pos["close_time"])
    # A position counts after bar t if it opened before the bar ended and had not yet left.
    alive = (opened[None, :] < ends[:, None]) & (closed[None, :] >= ends[:, None])
    expected = alive.astype("float64") @ pos["notional"].to_numpy()
    np.testing.assert_allclose(m.column("open_interest"), expected, rtol=1e-9, atol=1e-3)
    assert expected.min() > 1e8  # a market of realistic size, never empty


def test_open_interest_marked_to_the_close(sim):
    marked = simulate(
        "long-squeeze", seed=3, days=0.5, warmup_days=0.5, phases=SQUEEZE, oi_valuation="mark"
    )
    pd.testing.assert_frame_equal(marked.positions, sim.positions)
    pos, m = marked.positions, marked.market
    ends = bar_ends(m)
    opened, closed = times_ns(pos["open_time"]), times_ns(pos["close_time"])
    alive = (opened[None, :] < ends[:, None]) & (closed[None, :] >= ends[:, None])
    qty = alive.astype("float64") @ pos["quantity"].to_numpy()
    np.testing.assert_allclose(m.column("open_interest"), qty * m.column("close"), rtol=1e-9)


def test_every_liquidation_was_reached_by_its_bar(sim):
    pos, f = sim.positions, sim.market.frame
    liq = pos[pos["outcome"] == "liquidated"]
    assert len(liq) > 1000
    bar = (times_ns(liq["close_time"]) - f.index.asi8[0]) // sim.market.timeframe.value
    is_long = (liq["side"] == "long").to_numpy()
    level = liq["liq_price"].to_numpy()
    low, high = f["low"].to_numpy()[bar], f["high"].to_numpy()[bar]
    assert (low[is_long] <= level[is_long]).all()
    assert (high[~is_long] >= level[~is_long]).all()
    # Forced orders fill at the step's price, at or beyond the level.
    fill = liq["exit_price"].to_numpy()
    assert (fill[is_long] <= level[is_long]).all() and (fill[~is_long] >= level[~is_long]).all()


def test_positions_that_survived_never_saw_their_level(sim):
    """Walk the step path for a sample of closed and open positions, one by one."""
    path = sim.path
    t_ns = path.index.asi8
    price = path.to_numpy()
    pos = sim.positions[sim.positions["outcome"] != "liquidated"]
    rng = np.random.default_rng(0)
    for i in rng.choice(len(pos), size=300, replace=False):
        row = pos.iloc[i]
        start = np.searchsorted(t_ns, pd.Timestamp(row["open_time"]).value, side="right")
        stop = (
            len(t_ns)
            if pd.isna(row["close_time"])
            else np.searchsorted(t_ns, pd.Timestamp(row["close_time"]).value, side="right")
        )
        seen = price[start:stop]
        if row["side"] == "long":
            assert seen.size == 0 or seen.min() > row["liq_price"]
        else:
            assert seen.size == 0 or seen.max() < row["liq_price"]


def test_no_position_is_liquidated_twice_and_events_match_positions(sim):
    pos, ev = sim.positions, sim.liquidations
    liq = pos[pos["outcome"] == "liquidated"]
    assert len(ev) == len(liq)
    np.testing.assert_allclose(ev["notional"].sum(), (liq["quantity"] * liq["exit_price"]).sum())
    # The loop's forced flow per step (what moved price) equals the resolved liquidations.
    step = sim.path.index
    by_step = ev.groupby([pd.DatetimeIndex(ev["time"]), "side"])["notional"].size()
    assert by_step.sum() == len(ev)
    forced = sim.forced.loc[step >= sim.market.index[0]]
    keys = [pd.DatetimeIndex(liq["close_time"]), liq["side"].astype(str)]
    entry_notional = liq.groupby(keys)["notional"].sum()
    loop = forced.stack()
    loop = loop[loop > 0]
    loop.index = loop.index.set_names(entry_notional.index.names)
    pd.testing.assert_series_equal(
        loop.sort_index(), entry_notional.sort_index(), check_names=False, check_freq=False
    )


def test_fast_engine_matches_plain_reference():
    import dataclasses

    from liqwidget.simulator.agents import draw_traders
    from liqwidget.simulator.engine import resolve, run_steps
    from liqwidget.simulator.engine_reference import run_reference
    from liqwidget.simulator.price_process import PriceRule, make_clock, make_schedule
    from liqwidget.simulator.scenarios import get_scenario

    sc = dataclasses.replace(
        get_scenario("long-squeeze"), days=0.2, warmup_days=0.2, phases=SQUEEZE, depth=1.5e7
    )
    rng = np.random.default_rng(11)
    clock = make_clock(sc, "1min", "15s")
    schedule = make_schedule(sc, clock, rng)
    traders = draw_traders(sc, clock, schedule, rng)
    rule = PriceRule.from_scenario(sc, clock)
    fast = run_steps(traders, schedule, rule, sc.start_price)
    outcome = resolve(traders, fast)
    ref, ref_outcome = run_reference(traders, schedule, rule, sc.start_price)
    assert outcome.liquidated.sum() > 500
    np.testing.assert_array_equal(fast.price, ref.price)
    np.testing.assert_array_equal(fast.level, ref.level)
    np.testing.assert_array_equal(fast.forced, ref.forced)
    np.testing.assert_array_equal(outcome.end_step, ref_outcome.end_step)
    np.testing.assert_array_equal(outcome.liquidated, ref_outcome.liquidated)


def test_cascade_feedback_pushes_price_the_forced_way():
    runs = {
        fb: simulate("long-squeeze", seed=0, days=0.5, warmup_days=0.5, phases=SQUEEZE, feedback=fb)
        for fb in (True, False)
    }
    drop = {}
    for fb, s in runs.items():
        f = s.market.frame
        pre = f["close"].iloc[299]  # the push starts at bar 300 (5 h)
        drop[fb] = f["low"].iloc[300:360].min() / pre - 1
    print(f"drop after the push: feedback on {drop[True]:+.2%}, off {drop[False]:+.2%}")
    assert drop[True] < drop[False] - 0.003

    # Step by step: regress the next step's log return on the net forced buying (quote).
    # With feedback the slope is the impact per unit of flow (1 % per `depth`); without it
    # the same kind of steps show a much smaller, noise-driven slope.
    slope = {}
    for fb, s in runs.items():
        net = (s.forced["short"] - s.forced["long"]).to_numpy()[:-1]
        r = np.diff(np.log(s.path.to_numpy()))
        slope[fb] = (r * net).sum() / (net**2).sum() / (0.01 / s.scenario.depth)
    print(
        f"next-step return per unit of forced flow / designed impact: on {slope[True]:.2f}, "
        f"off {slope[False]:.2f}"
    )
    assert slope[True] > 0.7
    assert slope[True] > slope[False] + 0.4


def test_short_squeeze_scenario_mirrors_the_long_squeeze():
    up = tuple(
        Phase(p.hours, -p.move, p.vol, None if p.long_share is None else 1 - p.long_share)
        for p in SQUEEZE
    )
    rise = {}
    for fb in (True, False):
        s = simulate("short-squeeze", seed=1, days=0.5, warmup_days=0.5, phases=up, feedback=fb)
        f = s.market.frame
        rise[fb] = f["high"].iloc[300:360].max() / f["close"].iloc[299] - 1
    assert rise[True] > rise[False] + 0.005


# ---------------------------------------------------------------------- determinism, API
def test_same_seed_same_market_other_seed_other_market():
    a = simulate("calm-range", seed=5, **SMALL)
    b = simulate("calm-range", seed=5, **SMALL)
    c = simulate("calm-range", seed=6, **SMALL)
    pd.testing.assert_frame_equal(a.market.frame, b.market.frame)
    pd.testing.assert_frame_equal(a.liquidations, b.liquidations)
    pd.testing.assert_frame_equal(a.positions, b.positions)
    assert not np.allclose(a.market.column("close"), c.market.column("close"))


def test_coarser_timeframe_aggregates_the_same_path():
    one = simulate("calm-range", seed=2, **SMALL)
    five = simulate("calm-range", seed=2, timeframe="5min", **SMALL)
    assert five.market.timeframe == pd.Timedelta("5min")
    assert len(five.market) == len(one.market) // 5
    agg = one.market.resample("5min").frame
    for col in ("open", "high", "low", "close", "open_interest"):
        np.testing.assert_allclose(five.market.column(col), agg[col].to_numpy(), rtol=1e-12)
    pd.testing.assert_frame_equal(five.liquidations, one.liquidations)


def test_market_frame_is_complete_and_flows_add_up(sim):
    f = sim.market.frame
    assert sim.market.timeframe == pd.Timedelta("1min")
    assert len(f) == 720
    for col in (
        "open",
        "high",
        "low",
        "close",
        "open_interest",
        "volume",
        "taker_buy",
        "taker_sell",
    ):
        assert col in f.columns
    np.testing.assert_allclose(f["volume"], f["taker_buy"] + f["taker_sell"])
    assert (f["taker_buy"] > 0).all() and (f["taker_sell"] > 0).all()
    # Realistic BTC-like prices and open interest (scaled-down market of ~$0.3-1B).
    assert 50_000 < f["close"].median() < 75_000
    assert 1e8 < f["open_interest"].median() < 5e9


def test_liquidations_are_a_valid_event_frame(sim):
    ev = sim.liquidations
    clean = validate_events(ev)
    assert len(clean) == len(ev) > 0
    assert str(ev["time"].dtype) == "datetime64[ns, UTC]"
    assert set(ev["side"]) == {"long", "short"}
    assert ev["time"].is_monotonic_increasing
    assert set(ev["leverage"]) <= set(sim.leverage)


def test_true_mix_and_side_bias_are_reported():
    s = simulate("calm-range", seed=4, leverage={10: 0.5, 50: 0.5}, long_share=0.7, **SMALL)
    assert s.leverage == {10.0: 0.5, 50.0: 0.5}
    assert abs(s.long_share - 0.7) < 0.02
    opened = s.positions[s.positions["open_time"] >= s.market.index[0]]
    share = opened.loc[opened["side"] == "long", "notional"].sum() / opened["notional"].sum()
    assert share == pytest.approx(s.long_share)
    lev_share = opened.groupby("leverage")["notional"].size() / len(opened)
    np.testing.assert_allclose(lev_share.to_numpy(), [0.5, 0.5], atol=0.02)


def test_positions_use_the_liquidation_formula(sim):
    pos = sim.positions
    expected = liqwidget.liquidation_price(
        pos["entry"],
        pos["leverage"],
        pos["side"].to_numpy(dtype=str),
        "simple",
        mmr=sim.scenario.mmr,
    )
    # Levels sit on the tick, rounded away from entry.
    tick = sim.scenario.tick
    long = (pos["side"] == "long").to_numpy()
    diff = pos["liq_price"].to_numpy() - expected
    assert ((diff[long] <= 1e-6) & (diff[long] > -tick - 1e-6)).all()
    assert ((diff[~long] >= -1e-6) & (diff[~long] < tick + 1e-6)).all()
    assert set(pos["outcome"]) == {"liquidated", "closed", "open"}


def test_binance_brackets_follow_the_position_size():
    brackets = liqwidget.load_brackets()
    s = simulate("calm-range", seed=1, formula="binance", brackets=brackets, **SMALL)
    pos = s.positions
    expected = liqwidget.liquidation_price(
        pos["entry"],
        pos["leverage"],
        pos["side"].to_numpy(dtype=str),
        "binance",
        quantity=pos["quantity"],
        brackets=brackets,
    )
    np.testing.assert_allclose(pos["liq_price"], expected, atol=s.scenario.tick + 1e-6, rtol=0)
    # Bigger positions sit in brackets with more maintenance margin: closer to entry.
    longs = pos[(pos["side"] == "long") & (pos["leverage"] == 10)]
    gap = 1 - longs["liq_price"] / longs["entry"]
    small = gap[longs["notional"] < 10_000].mean()
    big = gap[longs["notional"] > 300_000].mean()
    assert big < small


# ---------------------------------------------------------------------- truth views
def test_truth_grid_matches_the_true_book(sim):
    m = sim.market
    wide = (10_000.0, 200_000.0)  # every level inside
    grid = sim.truth_grid(width=m.frame.shape[0], height=50, price_range=wide)
    assert grid.long.shape == (50, len(m))
    np.testing.assert_allclose(grid.long.sum(axis=0), sim.book["long"].to_numpy(), rtol=1e-9)
    np.testing.assert_allclose(grid.short.sum(axis=0), sim.book["short"].to_numpy(), rtol=1e-9)
    # The open interest is the two books together.
    np.testing.assert_allclose(
        sim.book.sum(axis=1).to_numpy(), m.column("open_interest"), rtol=1e-9
    )


def test_truth_grid_has_the_models_shape_and_levels_at_agrees(sim):
    est = liqwidget.ClusterModel().estimate(sim.market)
    g_model, g_true = est.grid(120, 80), sim.truth_grid(120, 80)
    np.testing.assert_array_equal(g_model.price_edges, g_true.price_edges)
    assert g_model.time_edges.equals(g_true.time_edges)
    assert g_true.long.shape == g_model.long.shape == (80, 120)
    # Long levels lie below price, short levels above: the last column shows it.
    close = sim.market.column("close")[-1]
    prices = g_true.prices
    assert g_true.long[prices > close * 1.001, -1].sum() == 0
    assert g_true.short[prices < close * 0.999, -1].sum() == 0
    at_end = sim.truth_levels_at(None, bins=80)
    np.testing.assert_allclose(at_end["long"].sum(axis=1).to_numpy(), g_true.long[:, -1], rtol=1e-9)
    np.testing.assert_allclose(
        at_end["short"].sum(axis=1).to_numpy(), g_true.short[:, -1], rtol=1e-9
    )
    assert list(at_end.columns.levels[1]) == sorted(sim.leverage)


def test_truth_estimate_is_the_true_book_with_its_own_flows(sim):
    """One book type: the truth read as an estimate sweeps only what was liquidated."""
    est = sim.truth_estimate()
    flows = sim.flows
    for side in ("long", "short"):
        np.testing.assert_allclose(est.swept[side], flows[f"liquidated_{side}"], rtol=1e-9)
        np.testing.assert_allclose(est.book[f"closed_{side}"], flows[f"closed_{side}"], rtol=1e-9)
        np.testing.assert_allclose(
            est.book[f"outstanding_{side}"], sim.book[side], rtol=1e-9, atol=1e-6
        )
    assert flows["closed_long"].sum() > 0  # positions also close normally, not only by sweep
    g, t = est.grid(60, 40), sim.truth_grid(60, 40)
    np.testing.assert_allclose(g.long, t.long, rtol=1e-9)
    np.testing.assert_allclose(g.short, t.short, rtol=1e-9)


# ---------------------------------------------------------------------- scenarios
#: Bar at which each scenario's decisive push starts, and the direction of its cascade.
STORY = {
    "long-squeeze": (2640, "long"),
    "short-squeeze": (2640, "short"),
    "grind-and-sweep": (2880, "long"),
}


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_each_scenario_runs_and_tells_its_story(name):
    s = simulate(name, seed=0)
    f = s.market.frame
    assert len(f) == 4320  # three days of 1-minute bars
    assert SCENARIOS[name].description.endswith(".")
    liq = s.liquidated
    ret = f["close"].iloc[-1] / f["open"].iloc[0] - 1
    print(
        f"{name}: {len(s.positions):,} positions, move {ret:+.1%}, liquidated long "
        f"${liq['long'].sum() / 1e6:.0f}M short ${liq['short'].sum() / 1e6:.0f}M"
    )
    if name == "calm-range":
        assert f["high"].max() / f["low"].min() < 1.05
        assert liq.sum(axis=1).max() < 0.03 * f["open_interest"].median()
        return
    start, side = STORY[name]
    other = "short" if side == "long" else "long"
    # In two-hour windows aligned on the push, the push's window liquidates the most of the
    # squeezed side, and far more of it than of the other side.
    windows = liq.iloc[start % 120 :].groupby(np.arange(len(liq) - start % 120) // 120).sum()
    push = windows.iloc[(start - start % 120) // 120]
    assert windows[side].idxmax() == (start - start % 120) // 120
    assert push[side] > 5 * push[other]
    before = f["close"].iloc[start - 1]
    if side == "long":
        assert f["low"].iloc[start : start + 120].min() < 0.96 * before
    else:
        assert f["high"].iloc[start : start + 120].max() > 1.04 * before


# ---------------------------------------------------------------------- bad input
def test_bad_input_gives_clear_errors():
    with pytest.raises(ValueError, match=r"unknown scenario 'crash'.*calm-range"):
        simulate("crash")
    with pytest.raises(ValueError, match=r"unknown simulate\(\) option.*'depht'"):
        simulate("calm-range", depht=1e7)
    with pytest.raises(ValueError, match="whole number of simulation steps"):
        simulate("calm-range", timeframe="10s", **SMALL)
    with pytest.raises(ValueError, match=r"leverage 300 .*wrong side of entry"):
        simulate("calm-range", leverage={300: 1.0}, mmr=0.005, **SMALL)
    with pytest.raises(ValueError, match="oi_valuation"):
        simulate("calm-range", oi_valuation="base", **SMALL)
    with pytest.raises(ValueError, match="long_share must be within"):
        simulate("calm-range", long_share=1.5, **SMALL)
    with pytest.raises(ValueError, match="left the supported range"):
        simulate("calm-range", phases=(Phase(6.0, move=-0.9),), **SMALL)


def test_true_flows_balance_the_book(sim):
    fl, m = sim.flows, sim.market
    for side in ("long", "short"):
        change = np.diff(fl[f"outstanding_{side}"].to_numpy())
        net = (fl[f"opened_{side}"] - fl[f"closed_{side}"] - fl[f"liquidated_{side}"]).to_numpy()
        np.testing.assert_allclose(change, net[1:], atol=1e-3)
    total = fl["outstanding_long"] + fl["outstanding_short"]
    np.testing.assert_allclose(total.to_numpy(), m.column("open_interest"), rtol=1e-9)
    # The liquidated flow is the same events as the event frame, valued at entry.
    pos = sim.positions
    liq = pos[pos["outcome"] == "liquidated"]
    for side in ("long", "short"):
        expected = liq.loc[liq["side"] == side, "notional"].sum()
        assert fl[f"liquidated_{side}"].sum() == pytest.approx(expected)
    assert (
        ((sim.liquidated > 0) == (fl[["liquidated_long", "liquidated_short"]] > 0).to_numpy())
        .all()
        .all()
    )


def test_volatility_regimes_change_the_step_size():
    s = simulate("calm-range", seed=8, feedback=False)
    r = np.diff(np.log(s.path.to_numpy()))
    mult = s.volatility.to_numpy()[1:]
    levels = np.unique(mult)
    assert levels.size >= 2  # the hidden chain visited several regimes
    sd = {m: r[mult == m].std() for m in levels}
    print("step volatility by regime:", {float(m): f"{v:.2e}" for m, v in sd.items()})
    # Realised step volatility rises with the regime's multiplier, roughly in proportion.
    lo, hi = levels[0], levels[-1]
    assert sd[hi] > sd[lo] * (hi / lo) * 0.7
