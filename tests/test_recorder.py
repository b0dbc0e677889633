"""The live recorder with the real ccxt.pro client against the fake exchange's WebSockets."""

from __future__ import annotations

import json
import time

import pandas as pd
import pytest
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)
from fake_exchange.helpers import RecorderThread, now_ms, wait_for

from liqwidget.feeds import FEEDS, feed_info
from liqwidget.sources.exchanges import ExchangeDataError
from liqwidget.sources.recorder import RecorderSettings
from liqwidget.store import Store

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
IDS = {"binanceusdm": "BTCUSDT", "bybit": "BTCUSDT", "okx": "BTC-USDT-SWAP"}

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")


def liqs(n: int, t0: int, sid: str = "BTCUSDT", first: int = 0) -> list[dict]:
    """n distinct liquidations one ms apart, alternating long/short."""
    return [
        {
            "symbol": sid,
            "side": "long" if k % 2 == 0 else "short",
            "price": 60_000 + k,
            "amount": 1 + k,
            "ts": t0 + k,
        }
        for k in range(first, first + n)
    ]


def stored(store, exchange=None) -> list[tuple]:
    frame = store.load_liquidations(exchange=exchange)
    t = frame["time"].astype("int64") // 1_000_000
    return sorted(zip(t, frame["side"], frame["price"], frame["notional"], strict=True))


def expected(events: list[dict], size: float = 1.0) -> list[tuple]:
    return sorted(
        (e["ts"], e["side"], float(e["price"]), e["price"] * e["amount"] * size) for e in events
    )


def test_three_exchanges_recorded_at_once(fake, store):
    streams = {"binanceusdm": [BTC, ETH], "bybit": [BTC, ETH], "okx": [BTC]}
    with RecorderThread(store, streams, api_base=fake.url) as rec:
        fake.wait_subscribed("binanceusdm", 2)
        fake.wait_subscribed("bybit", 2)
        fake.wait_subscribed("okx", 1)
        t0 = now_ms()
        sent = {
            "binanceusdm": liqs(6, t0) + liqs(3, t0, "ETHUSDT"),
            "bybit": liqs(5, t0 + 100) + liqs(2, t0 + 100, "ETHUSDT"),
            "okx": liqs(4, t0 + 200, "BTC-USDT-SWAP"),
        }
        # OKX streams every swap on one channel: other contracts must be left out.
        assert fake.push("okx", liqs(2, t0, "ETH-USDT-SWAP")) == 2
        for ex, events in sent.items():
            assert fake.push(ex, events) == len(events)
        # A second connection (a notebook, the widget) follows the recording live.
        with Store(store.url) as follower:
            followed, cursor = [], 0

            def follow():
                nonlocal cursor
                frame, cursor = follower.events_since(cursor)
                followed.extend(frame.itertuples(index=False))
                return len(followed) == 20

            wait_for(follow, what="the follower to see 20 events")
        stats = rec.stop()
    assert sorted(f.price for f in followed) == sorted(store.load_liquidations()["price"])
    assert stored(store, "binanceusdm") == expected(sent["binanceusdm"])
    assert stored(store, "bybit") == expected(sent["bybit"])
    # OKX sizes are contracts of 0.01 BTC: notional = contracts x 0.01 x price
    got, want = stored(store, "okx"), expected(sent["okx"], size=0.01)
    assert [g[:3] for g in got] == [w[:3] for w in want]
    assert [g[3] for g in got] == pytest.approx([w[3] for w in want])
    eth = store.load_liquidations(exchange="bybit", symbol=ETH)
    assert len(eth) == 2 and set(eth["symbol"]) == {ETH}
    assert {ex: s.stored for ex, s in stats.items()} == {"binanceusdm": 9, "bybit": 7, "okx": 4}
    assert all(s.malformed == 0 and s.reconnects == 0 for s in stats.values())


def test_side_means_the_liquidated_position(fake, store):
    """Binance and OKX send the order side, Bybit the position side: all become long/short."""
    with RecorderThread(
        store, {"binanceusdm": [BTC], "bybit": [BTC], "okx": [BTC]}, api_base=fake.url
    ):
        for ex in ("binanceusdm", "bybit", "okx"):
            fake.wait_subscribed(ex)
        t0 = now_ms()
        for ex in ("binanceusdm", "bybit", "okx"):
            fake.push(
                ex, [{"symbol": IDS[ex], "side": "long", "price": 100, "amount": 1, "ts": t0}]
            )
        wait_for(lambda: store.count_liquidations() == 3)
    assert store.load_liquidations()["side"].tolist() == ["long"] * 3


def test_malformed_messages_are_logged_skipped_and_counted(fake, store, caplog):
    with RecorderThread(store, {"binanceusdm": [BTC], "bybit": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("binanceusdm")
        fake.wait_subscribed("bybit")
        t0 = now_ms()
        fake.push("binanceusdm", liqs(2, t0))
        fake.send_raw("binanceusdm", "{this is not json")
        broken = {
            "e": "forceOrder",
            "E": t0,
            "o": {"s": "BTCUSDT", "S": "SELL", "ap": "abc", "l": "1", "T": t0},
        }
        fake.send_raw("binanceusdm", json.dumps(broken))
        fake.send_raw("bybit", json.dumps({"topic": "allLiquidation.BTCUSDT", "ts": t0}))
        fake.push("binanceusdm", liqs(3, t0, first=2))
        fake.push("bybit", liqs(2, t0))
        wait_for(lambda: store.count_liquidations() == 7, what="the events after the bad ones")
        stats = rec.stop()
    # not JSON, and a message with no data: malformed; a price of "abc": a refused event
    assert stats["binanceusdm"].malformed == 1 and stats["bybit"].malformed == 1
    assert stats["binanceusdm"].refused == 1
    refused = store.refused()
    assert sorted(refused["exchange"]) == ["binanceusdm", "binanceusdm", "bybit"]
    reasons = " | ".join(refused["reason"])
    assert "price is missing or unreadable in the message" in reasons  # "abc" reads as None
    assert reasons.count("malformed message") == 2 and "this is not json" in " ".join(
        refused["raw"]
    )
    assert stats["binanceusdm"].reconnects == 0 and fake.ws_connections["binanceusdm"] == 1
    assert stored(store, "binanceusdm") == expected(liqs(5, t0))
    assert "skipped a malformed message" in caplog.text and "this is not json" in caplog.text
    assert store.gaps().empty


def test_dropped_connection_reconnects_records_a_gap_without_loss_or_duplicates(fake, store):
    with RecorderThread(store, {"bybit": [BTC, ETH]}, api_base=fake.url) as rec:
        fake.wait_subscribed("bybit", 2)
        t0 = now_ms()
        before = liqs(6, t0)
        fake.push("bybit", before)
        wait_for(lambda: store.count_liquidations() == 6)
        dropped_at = now_ms()
        assert fake.drop("bybit") == 1
        fake.wait_subscribed("bybit", 2)  # the recorder came back by itself
        back_at = now_ms()
        # The exchange replays the last two events after the reconnect, then new ones come.
        after = liqs(5, t0 + 10_000)
        fake.push("bybit", before[-2:] + after)
        wait_for(lambda: rec.stats["bybit"].received == 13, what="all 13 messages")
        wait_for(lambda: store.count_liquidations() == 11)
        stats = rec.stop()
    assert stored(store) == expected(before + after)  # nothing lost, nothing twice
    assert stats["bybit"].duplicates == 2 and stats["bybit"].reconnects == 1
    assert fake.ws_connections["bybit"] == 2
    gaps = store.gaps(exchange="bybit")
    assert sorted(gaps["symbol"]) == [BTC, ETH]  # one gap per recorded symbol
    for gap in gaps.itertuples():
        assert dropped_at <= gap.start.value // 1_000_000 <= gap.end.value // 1_000_000
        assert gap.end.value // 1_000_000 <= back_at
        assert gap.reason.startswith("connection lost")


def reconnect_waits(caplog) -> list[str]:
    return [
        r.getMessage().split("reconnecting in ")[1].split("s")[0]
        for r in caplog.records
        if "reconnecting in" in r.getMessage()
    ]


def test_failed_reconnects_back_off_exponentially(fake, store, caplog):
    settings = RecorderSettings(max_latency=0.05, backoff_base=0.02, backoff_cap=0.05)
    with RecorderThread(store, {"okx": [BTC]}, api_base=fake.url, settings=settings) as rec:
        fake.wait_subscribed("okx")
        fake.fail_next("okx", "ws", times=3)  # the next three connection attempts are refused
        fake.drop("okx")
        fake.wait_subscribed("okx")
        fake.push("okx", liqs(1, now_ms(), "BTC-USDT-SWAP"))
        wait_for(lambda: store.count_liquidations() == 1)
        stats = rec.stop()
    assert reconnect_waits(caplog) == ["0.02", "0.04", "0.05", "0.05"]  # doubled, capped
    assert stats["okx"].reconnects == 4
    gaps = store.gaps(exchange="okx")
    assert len(gaps) == 1  # one blind stretch, from the drop until the connection was back


def test_backoff_starts_again_after_a_good_connection(fake, store, caplog):
    settings = RecorderSettings(max_latency=0.05, backoff_base=0.02, backoff_cap=0.08)
    with RecorderThread(store, {"okx": [BTC]}, api_base=fake.url, settings=settings) as rec:
        for k in range(3):
            fake.wait_subscribed("okx")
            # Drop only once the recorder has seen the connection up (a good connection).
            wait_for(
                lambda k=k: rec.stats["okx"].connected and rec.stats["okx"].reconnects == k,
                what="the recorder to be connected",
            )
            fake.drop("okx")
        fake.wait_subscribed("okx")
        stats = rec.stop()
    assert stats["okx"].reconnects == 3
    assert reconnect_waits(caplog) == ["0.02", "0.02", "0.02"]
    assert len(store.gaps(exchange="okx")) == 3


def test_stop_commits_what_is_pending(fake, store):
    slow = RecorderSettings(batch_size=10_000, max_latency=600, heartbeat=600)
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url, settings=slow) as rec:
        fake.wait_subscribed("binanceusdm")
        fake.push("binanceusdm", liqs(25, now_ms()))
        wait_for(lambda: rec.stats["binanceusdm"].received == 25)
        assert store.count_liquidations() == 0  # still waiting for its batch
    assert store.count_liquidations() == 25


def test_bad_symbol_stops_the_recorder_with_a_clear_error(fake, store):
    rec = RecorderThread(store, {"bybit": ["DOGE/EUR:EUR"]}, api_base=fake.url).__enter__()
    with pytest.raises(ExchangeDataError, match="bybit has no market 'DOGE/EUR:EUR'"):
        wait_for(lambda: not rec.thread.is_alive(), what="the recorder to give up")
        rec.stop()


def test_feed_table_says_which_feeds_undercount():
    assert FEEDS["binanceusdm"].undercounts and "one liquidation per symbol per second" in (
        FEEDS["binanceusdm"].note
    )
    assert not FEEDS["bybit"].undercounts
    assert feed_info("kraken").undercounts  # unknown: never claimed complete


def test_gap_between_runs_is_recorded(fake, store):
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url):
        fake.wait_subscribed("binanceusdm")
    first_end = int(store.get_meta(f"recorder:binanceusdm:{BTC}:alive"))
    time.sleep(0.05)
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url):
        fake.wait_subscribed("binanceusdm")
    gaps = store.gaps()
    assert len(gaps) == 1 and gaps["reason"][0] == "recorder stopped"
    assert gaps["start"][0] == pd.Timestamp(first_end, unit="ms", tz="UTC")


def test_gap_is_backfilled_where_the_exchange_has_rest_history(fake, store, monkeypatch):
    """Binance has no public liquidation history; pretend it had one (as gate or htx do)."""
    import liqwidget.sources.recorder as recorder_module

    real_make = recorder_module.make_exchange
    asked, served = [], []

    def with_history(*args, **kwargs):
        ex = real_make(*args, **kwargs)
        ex.has = {**ex.has, "fetchLiquidations": True}

        async def fetch_liquidations(symbol, since=None, limit=None, params=None):
            asked.append((symbol, since))
            # three liquidations inside the gap and one from before it (must be ignored)
            rows = [since - 1_000, since + 1, since + 2, since + 3]
            served.extend(rows)
            return [
                {
                    "symbol": symbol,
                    "timestamp": t,
                    "price": 60_000.0,
                    "contracts": 0.5,
                    "contractSize": 1.0,
                    "side": "sell",
                    "info": {},
                }
                for t in rows
            ]

        ex.fetch_liquidations = fetch_liquidations
        return ex

    monkeypatch.setattr(recorder_module, "make_exchange", with_history)
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url):
        fake.wait_subscribed("binanceusdm")
        fake.drop("binanceusdm")
        fake.wait_subscribed("binanceusdm")
        wait_for(lambda: store.count_liquidations() == 3, what="the backfilled events")
    gap = store.gaps().iloc[0]
    assert asked == [(BTC, gap["start"].value // 1_000_000)]
    got = store.load_liquidations()
    assert (got["time"].astype("int64") // 1_000_000).tolist() == served[1:]
    assert set(got["side"]) == {"long"} and set(got["notional"]) == {30_000.0}
