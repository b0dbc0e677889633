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
