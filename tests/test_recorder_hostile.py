"""The recorder against what a real or hostile stream may send: text that is not JSON, a
batch with one unreadable entry, symbols the exchange does not list, partial fills, an error
frame on a live feed, and a connection that goes quiet before it is found dead."""

from __future__ import annotations

import json
import time
from types import SimpleNamespace

import ccxt
import pytest
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)
from fake_exchange.helpers import RecorderThread, now_ms, wait_for

from liqwidget.sources.recorder import _lost_at

BTC = "BTC/USDT:USDT"

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")


def one(ts: int, side: str = "long", price: float = 60_000.0, amount: float = 1.0, sid="BTCUSDT"):
    return {"symbol": sid, "side": side, "price": price, "amount": amount, "ts": ts}


def binance_frame(ts: int, sid: str = "BTCUSDT", **order) -> str:
    o = {"s": sid, "S": "SELL", "o": "LIMIT", "f": "IOC", "q": "1", "p": "60000"}
    o |= {"ap": "60000", "X": "FILLED", "l": "1", "z": "1", "T": ts} | order
    return json.dumps({"e": "forceOrder", "E": ts + 3, "o": o})


def test_text_that_is_not_json_is_quarantined_and_keep_alives_are_not(fake, store):
    junk = ["hello", "<html><head><title>502 Bad Gateway</title></head></html>", "42", ""]
    with RecorderThread(store, {"okx": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("okx")
        t0 = now_ms()
        for text in [*junk, "pong"]:
            fake.send_raw("okx", text)
        fake.push("okx", [one(t0, sid="BTC-USDT-SWAP")])
        wait_for(lambda: store.count_liquidations() == 1)
        wait_for(lambda: len(store.refused()) == len(junk), what="the junk in quarantine")
        stats = rec.stop()
    assert stats["okx"].malformed == len(junk) and stats["okx"].reconnects == 0
    refused = store.refused()
    assert set(refused["raw"]) == set(junk)  # kept as sent; "pong" is a keep-alive
    assert all("not JSON" in r for r in refused["reason"])


def test_an_entry_ccxt_cannot_read_costs_only_itself_not_the_rest_of_its_message(fake, store):
    t0 = now_ms()
    good = [
        {"T": t0 + k, "s": "BTCUSDT", "S": "Buy", "v": "1", "p": str(60_000 + k)} for k in (1, 2)
    ]
    batch = {"topic": "allLiquidation.BTCUSDT", "type": "snapshot", "ts": t0, "data": [5, *good]}
    with RecorderThread(store, {"bybit": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("bybit")
        fake.send_raw("bybit", json.dumps(batch))
        wait_for(lambda: store.count_liquidations() == 2, what="the two good entries")
        stats = rec.stop()
    assert sorted(store.load_liquidations()["price"]) == [60_001.0, 60_002.0]
    assert stats["bybit"].malformed == 1
    refused = store.refused()
    bad = refused[refused["reason"].str.startswith("malformed")]["raw"]
    assert [json.loads(r)["data"] for r in bad] == [[5]]  # only the bad entry


def test_a_symbol_the_exchange_does_not_list_is_refused_not_dropped(fake, store):
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("binanceusdm")
        t0 = now_ms()
        fake.send_raw("binanceusdm", binance_frame(t0, sid="XYZUSDT"))
        fake.send_raw("binanceusdm", binance_frame(t0 + 1))
        wait_for(lambda: store.count_liquidations() == 1 and len(store.refused()) == 1)
        stats = rec.stop()
    assert stats["binanceusdm"].received == 2 and stats["binanceusdm"].refused == 1
    assert "unknown symbol 'XYZUSDT'" in store.refused()["reason"].iloc[0]


def test_a_binance_liquidation_filled_in_parts_counts_its_whole_fill(fake, store):
    # "l" is the last fill, "z" the whole filled quantity, "ap" the average price of all.
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("binanceusdm")
        fake.send_raw("binanceusdm", binance_frame(now_ms(), q="0.014", l="0.004", z="0.014"))
        wait_for(lambda: store.count_liquidations() == 1)
        rec.stop()
    assert store.load_liquidations()["notional"].tolist() == [pytest.approx(840.0)]  # not 240


def test_an_error_frame_on_a_live_feed_reconnects_instead_of_ending_the_recording(fake, store):
    with RecorderThread(store, {"okx": [BTC], "bybit": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("okx")
        fake.wait_subscribed("bybit")
        t0 = now_ms()
        fake.push("okx", [one(t0, sid="BTC-USDT-SWAP")])
        wait_for(lambda: store.count_liquidations() == 1)
        fake.send_raw(
            "okx", json.dumps({"event": "error", "code": "60012", "msg": "Illegal request"})
        )
        wait_for(lambda: rec.stats["okx"].reconnects == 1, what="the reconnect")

        def resubscribed() -> bool:  # the new connection holds the topic (the old is gone)
            okx = [s for s in fake.subscribers if s.exchange == "okx"]
            return fake.ws_connections["okx"] == 2 and bool(okx) and bool(okx[-1].topics)

        wait_for(resubscribed, what="the new subscription")
        fake.push("okx", [one(t0 + 5, sid="BTC-USDT-SWAP")])
        fake.push("bybit", [one(t0 + 6)])
        wait_for(lambda: store.count_liquidations() == 3, what="events after the error")
        assert rec.thread.is_alive()
        stats = rec.stop()
    assert stats["okx"].gaps == 1 and stats["bybit"].reconnects == 0


def test_a_line_that_went_quiet_is_blind_from_its_last_frame_not_from_when_it_was_noticed(
    fake, store
):
    # A half-open line: open, silent, pings unanswered. ccxt notices by missed pongs only
    # (after 2 keep-alives; 18 s each on OKX, 0.4 s here), and forgets the failed client.
    fast = {"rateLimit": 1, "streaming": {"keepAlive": 400}}
    with RecorderThread(store, {"okx": [BTC]}, api_base=fake.url, config=fast) as rec:
        fake.wait_subscribed("okx")
        fake.push("okx", [one(now_ms(), sid="BTC-USDT-SWAP")])
        wait_for(lambda: store.count_liquidations() == 1)
        time.sleep(1.0)  # a few ping-pong rounds first
        muted_at = now_ms()
        assert fake.mute("okx") == 1
        wait_for(lambda: rec.stats["okx"].reconnects == 1, what="the silent line found dead")
        found_at = now_ms()
        fake.wait_subscribed("okx")
        rec.stop()
    gap = store.gaps(exchange="okx").iloc[0]
    assert gap.start.value // 1_000_000 <= muted_at  # the last frame (a pong) came before
    assert muted_at - gap.start.value // 1_000_000 < 1_500  # pongs came every 0.4 s till then
    assert found_at - muted_at > 500  # noticed that much later: the gap covers the difference
    assert "RequestTimeout" in gap.reason


def test_only_a_timeout_dates_the_gap_back_to_the_last_frame():
    clients = [SimpleNamespace(liqwidget_heard_at=1_000, lastPong=900), SimpleNamespace()]
    assert _lost_at(clients, ccxt.RequestTimeout("ping-pong keepalive missing")) == 1_000
    assert _lost_at(clients, ccxt.NetworkError("closed")) > 1_000  # seen as it happens
    assert _lost_at([], ccxt.RequestTimeout("x")) > 1_000


def test_a_field_ccxt_cannot_read_is_named_as_unreadable_not_as_none(fake, store):
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("binanceusdm")
        fake.send_raw("binanceusdm", binance_frame(now_ms(), T="abc"))
        wait_for(lambda: len(store.refused()) == 1)
        rec.stop()
    refused = store.refused().iloc[0]
    assert refused["reason"].startswith("time is missing or unreadable in the message")
    assert '"T": "abc"' in refused["raw"]  # what came is kept
