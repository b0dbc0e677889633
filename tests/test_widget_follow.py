"""The widget follows a store live: events recorded there appear on the open map."""

from __future__ import annotations

import asyncio
import threading

import pandas as pd
import pytest

from liqwidget import ClusterModel, LiquidationMap, Store, simulate
from liqwidget.widget.follow import StoreFollower


@pytest.fixture(scope="module")
def sim():
    return simulate("calm-range", seed=2, days=1)


def events(sim, rows: slice, exchange="bybit", symbol="BTC/USDT:USDT") -> pd.DataFrame:
    ev = sim.liquidations.iloc[rows][["time", "side", "price", "notional"]].copy()
    return ev.assign(exchange=exchange, symbol=symbol).reset_index(drop=True)


def test_follow_appends_new_events_only(tmp_path, sim):
    est = ClusterModel().estimate(sim.market)
    with Store(tmp_path / "s.sqlite") as store:
        store.write_liquidations(events(sim, slice(0, 5)))  # already there: not replayed
        lmap = LiquidationMap(est)
        follower = StoreFollower(lmap, store, exchange="bybit")  # polled by hand here
        assert follower.poll() == 0 and len(lmap.liquidations) == 0
        store.write_liquidations(events(sim, slice(5, 12)))
        store.write_liquidations(events(sim, slice(12, 15), exchange="okx"))
        assert follower.poll() == 7
        assert len(lmap.liquidations) == 7
        assert follower.poll() == 0
        replay = StoreFollower(LiquidationMap(est), store, since_start=True)
        assert replay.poll() == 15


def test_follow_polls_in_the_running_event_loop(tmp_path, sim):
    est = ClusterModel().estimate(sim.market)

    async def scenario():
        with Store(tmp_path / "s.sqlite") as store:
            lmap = LiquidationMap(est)
            follower = lmap.follow(store, every=0.05)
            assert follower.running
            store.write_liquidations(events(sim, slice(0, 4)))
            for _ in range(100):
                if len(lmap.liquidations) == 4:
                    break
                await asyncio.sleep(0.05)
            follower.stop()
            assert not follower.running
            return len(lmap.liquidations)

    # A fresh event loop in its own thread, as the kernel's would be.
    result = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(scenario())))
    thread.start()
    thread.join(timeout=60)
    assert result == [4]


def test_follow_without_a_running_loop_returns_a_follower_to_poll(tmp_path, sim):
    def body():
        with Store(tmp_path / "s.sqlite") as store:
            follower = LiquidationMap(ClusterModel().estimate(sim.market)).follow(store)
            store.write_liquidations(events(sim, slice(0, 3)))
            return follower.running, follower.poll()

    result = []
    thread = threading.Thread(target=lambda: result.append(body()))
    thread.start()
    thread.join(timeout=60)
    assert result == [(False, 3)]


def test_follow_rejects_a_bad_interval(tmp_path, sim):
    with Store(tmp_path / "s.sqlite") as store:
        with pytest.raises(ValueError, match="every"):
            LiquidationMap(ClusterModel().estimate(sim.market)).follow(store, every=0)


def test_follow_appends_new_bars_and_the_clusters_move(tmp_path):
    import numpy as np

    rng = np.random.default_rng(3)
    n, step, t0 = 400, 60_000, 1_780_000_000_000 // 60_000 * 60_000
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 8e-4, n)))
    open_ = np.r_[close[0], close[:-1]]
    rows = [
        [t0 + step * i, o, max(o, c) * 1.0004, min(o, c) * 0.9996, c, 3.0]
        for i, (o, c) in enumerate(zip(open_.tolist(), close.tolist(), strict=True))
    ]
    oi = [(t0 + step * i, 1_000.0 * (1 + 0.2 * np.sin(i / 9)), None, 1.0) for i in range(n)]
    ex, sym = "binanceusdm", "BTC/USDT:USDT"
    with Store(tmp_path / "s.sqlite") as store:
        store.write_bars(ex, sym, "1m", rows[:300])
        store.write_open_interest(ex, sym, "1m", oi[:300])
        lmap = LiquidationMap(store.load_market(ex, sym, "1m"))
        follower = StoreFollower(lmap, store)
        assert follower.poll() == 0 and len(lmap.market) == 300  # nothing new yet
        before = lmap.figure_data.sources["clusters-source"]["image"][0].copy()
        levels_before = len(lmap.estimate.raw)
        seq = lmap._seq
        store.write_bars(ex, sym, "1m", rows[300:])
        store.write_open_interest(ex, sym, "1m", oi[300:])
        follower.poll()
        assert follower.bars_received == 100 and len(lmap.market) == 400
        assert lmap.market.index[-1] == pd.Timestamp(t0 + step * 399, unit="ms", tz="UTC")
        # The model ran over the new bars: new levels, a different cluster image, one redraw.
        assert len(lmap.estimate.raw) > levels_before
        after = lmap.figure_data.sources["clusters-source"]["image"][0]
        assert after.shape != before.shape or (after != before).any()
        assert lmap._seq == seq + 1
        # The same as estimating all 400 bars at once.
        full = ClusterModel().estimate(store.load_market(ex, sym, "1m"))
        assert np.array_equal(full.raw.price, lmap.estimate.raw.price)
        assert follower.poll() == 0 and follower.bars_received == 100
