"""The recorder against the exchanges' wire formats beyond the everyday message: coin-margined
contracts, several instruments in one message, refused subscriptions and sockets that die
without a close frame (the real ccxt.pro client, the fake exchange on 127.0.0.1)."""

from __future__ import annotations

import time

import pytest
from fake_exchange import INVERSE
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)
from fake_exchange.helpers import RecorderThread, now_ms, wait_for
from fake_exchange.markets import FUTURES

from liqwidget.feeds import feed_info

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
BTC_USD = "BTC/USD:BTC"
INVERSE_IDS = {ex: next(iter(ids)) for ex, ids in INVERSE.items()}

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")


def ev(sid: str, ts: int, price=60_000.0, amount=3, side="long", **extra) -> dict:
    return {"symbol": sid, "side": side, "price": price, "amount": amount, "ts": ts, **extra}


@pytest.mark.parametrize("exchange", ["binancecoinm", "bybit", "okx"])
def test_coin_margined_contracts_are_counted_in_usd_not_in_coins(fake, store, exchange):
    """An inverse contract is worth a fixed number of USD (Binance and OKX: 100, Bybit: 1):
    the notional is contracts x that value."""
    sid, usd = INVERSE_IDS[exchange], INVERSE[exchange][INVERSE_IDS[exchange]][2]
    with RecorderThread(store, {exchange: [BTC_USD]}, api_base=fake.url) as rec:
        fake.wait_subscribed(exchange)
        t = now_ms()
        sent = [ev(sid, t, 60_000.0, 3), ev(sid, t + 1, 50_000.0, 7, side="short")]
        assert fake.push(exchange, sent) == 2
        wait_for(lambda: store.count_liquidations() == 2, what="both inverse liquidations")
        stats = rec.stop()
    got = store.load_liquidations().sort_values("time")
    assert got["symbol"].tolist() == [BTC_USD, BTC_USD]
    assert got["side"].tolist() == ["long", "short"]
    assert got["price"].tolist() == [60_000.0, 50_000.0]
    assert got["notional"].tolist() == [3 * usd, 7 * usd]  # USD, exactly (not x the price)
    assert stats[exchange].stored == 2 and stats[exchange].refused == 0
    if exchange == "binancecoinm":  # a sampled feed, as Binance's USDⓈ-M one
        assert "one liquidation per symbol per second" in feed_info(exchange).note


def test_okx_message_with_several_instruments_and_net_mode_positions(fake, store):
    """One OKX push lists each instrument (``data``) with its details; a position in
    one-way mode says ``posSide: "net"``, and then the order side tells which one it was."""
    with RecorderThread(store, {"okx": [BTC, ETH, BTC_USD]}, api_base=fake.url) as rec:
        fake.wait_subscribed("okx")
        t = now_ms()
        message = [
            ev("BTC-USDT-SWAP", t, 60_000.0, 2),
            ev("ETH-USDT-SWAP", t, 3_000.0, 5, side="short", posSide="net"),
            ev("BTC-USDT-SWAP", t + 1, 60_010.0, 4, side="short"),
            ev("BTC-USD-SWAP", t, 60_000.0, 1, posSide="net"),
            ev("ETH-USDT-SWAP", t + 2, 3_001.0, 6, posSide="net"),
        ]
        assert fake.push("okx", message, together=True) == 1
        wait_for(lambda: store.count_liquidations() == 5, what="every instrument's details")
        stats = rec.stop()
    got = store.load_liquidations().sort_values(["symbol", "time"])
    rows = list(zip(got["symbol"], got["side"], got["notional"], strict=True))
    assert rows == [
        (BTC_USD, "long", 100.0),  # one contract of 100 USD
        (BTC, "long", pytest.approx(1_200.0)),  # 2 x 0.01 BTC x 60 000
        (BTC, "short", pytest.approx(2_400.4)),
        (ETH, "short", pytest.approx(1_500.0)),  # net: a buy closed a short
        (ETH, "long", pytest.approx(1_800.6)),  # net: a sell closed a long
    ]
    assert stats["okx"].malformed == 0 and stats["okx"].refused == 0


@pytest.mark.parametrize("exchange", ["binanceusdm", "bybit"])
def test_a_refused_subscription_is_tried_again_on_a_fresh_connection(fake, store, exchange):
    """The exchange answers the subscription with its error frame and keeps the socket
    open: the recorder must not sit on it as if it were live. It reconnects, subscribes
    again, records what comes next, and the blind stretch is a gap."""
    fake.refuse(exchange, times=1)
    with RecorderThread(store, {exchange: [BTC]}, api_base=fake.url) as rec:
        wait_for(lambda: fake.ws_connections[exchange] == 2, what="a second connection")
        fake.wait_subscribed(exchange)
        fake.push(exchange, [ev("BTCUSDT", now_ms())])
        wait_for(lambda: store.count_liquidations() == 1, what="the event after the refusal")
        stats = rec.stop()
    words = {"binanceusdm": "invalid stream", "bybit": "handler not found"}[exchange]
    assert stats[exchange].reconnects == 1 and words in stats[exchange].last_error
    gaps = store.gaps(exchange=exchange)
    assert len(gaps) == 1 and gaps["reason"][0].startswith("connection lost")


@pytest.mark.parametrize("exchange", ["binanceusdm", "bybit", "okx"])
def test_a_subscription_refused_every_time_stops_the_recorder_with_the_exchanges_words(
    fake, store, exchange
):
    fake.refuse(exchange, times=100)
    rec = RecorderThread(store, {exchange: [BTC]}, api_base=fake.url).__enter__()
    wait_for(lambda: not rec.thread.is_alive(), what="the recorder to give up")
    words = {"binanceusdm": "invalid stream", "bybit": "handler not found", "okx": "60018"}
    with pytest.raises(Exception, match="liquidation stream was refused") as err:
        rec.stop()
    assert words[exchange] in str(err.value)
    # OKX's code is a bad request at once; the others are given three tries
    assert fake.ws_connections[exchange] == (1 if exchange == "okx" else 3)


@pytest.mark.parametrize("exchange", ["binanceusdm", "okx"])
def test_a_socket_cut_without_a_close_frame_is_reconnected_and_a_gap_recorded(
    fake, store, exchange
):
    sid = {"binanceusdm": "BTCUSDT", "okx": "BTC-USDT-SWAP"}[exchange]
    with RecorderThread(store, {exchange: [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed(exchange)
        t = now_ms()
        fake.push(exchange, [ev(sid, t)])
        wait_for(lambda: store.count_liquidations() == 1)
        assert fake.drop(exchange, abrupt=True) == 1
        wait_for(lambda: fake.ws_connections[exchange] == 2, what="the reconnection")
        fake.wait_subscribed(exchange)
        fake.push(exchange, [ev(sid, t + 5, 60_005.0)])
        wait_for(lambda: store.count_liquidations() == 2, what="the event after the cut")
        stats = rec.stop()
    assert stats[exchange].reconnects == 1
    assert len(store.gaps(exchange=exchange)) == 1


def test_error_frames_on_a_feed_that_was_live_are_reconnected_not_given_up(
    fake, store, monkeypatch
):
    """An error answer long after the subscription was taken is not a refusal of it: the
    recorder reconnects as often as it comes and never stops for it."""
    import liqwidget.sources.recorder as recorder_module

    monkeypatch.setattr(recorder_module, "REFUSAL_WINDOW", 0.2)
    error = '{"success": false, "ret_msg": "error:request timeout", "conn_id": "fake"}'
    with RecorderThread(store, {"bybit": [BTC]}, api_base=fake.url) as rec:
        for k in range(1, 5):
            wait_for(lambda k=k: fake.ws_connections["bybit"] == k, what=f"connection {k}")
            fake.wait_subscribed("bybit")
            wait_for(lambda: rec.stats["bybit"].connected, what="the recorder connected")
            time.sleep(0.3)  # the subscription has been live longer than the window
            assert fake.send_raw("bybit", error) == 1
        wait_for(lambda: fake.ws_connections["bybit"] == 5, what="the fifth connection")
        fake.wait_subscribed("bybit")
        fake.push("bybit", [ev("BTCUSDT", now_ms())])
        wait_for(lambda: store.count_liquidations() == 1, what="the event after four errors")
        stats = rec.stop()
    assert stats["bybit"].reconnects == 4 and rec.thread.is_alive() is False


def test_okx_perpetual_and_dated_future_recorded_together(fake, store):
    """OKX streams liquidations per instrument type: the perpetual comes on the SWAP
    subscription, the quarterly on the FUTURES one; both must be asked for."""
    future_id = next(iter(FUTURES["okx"]))
    future = f"BTC/USDT:USDT-{future_id.rsplit('-', 1)[1]}"
    with RecorderThread(store, {"okx": [BTC, future]}, api_base=fake.url):
        fake.wait_subscribed("okx", 2)
        topics = {t for s in fake.subscribers for t in s.topics}
        assert topics == {"liquidation-orders:SWAP", "liquidation-orders:FUTURES"}
        t = now_ms()
        fake.push("okx", [ev("BTC-USDT-SWAP", t, 60_000.0, 1)])
        fake.push("okx", [ev(future_id, t, 61_000.0, 2, side="short")])
        wait_for(lambda: store.count_liquidations() == 2, what="the swap's and the future's")
    got = store.load_liquidations().sort_values("price")
    assert got["symbol"].tolist() == [BTC, future] and got["side"].tolist() == ["long", "short"]
    assert got["notional"].tolist() == pytest.approx([600.0, 1_220.0])


def test_a_rate_limited_market_load_waits_as_long_as_binance_asks(fake, store, caplog):
    fake.fail_next("binanceusdm", "/fapi/v1/exchangeInfo", "ratelimit", retry_after=1)
    with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url):
        fake.wait_subscribed("binanceusdm")
        fake.push("binanceusdm", [ev("BTCUSDT", now_ms())])
        wait_for(lambda: store.count_liquidations() == 1)
    assert "loading markets failed" in caplog.text and "retrying in 1.00s" in caplog.text


def test_server_pings_are_answered_and_the_feed_stays_up(store):
    """The server pings every second and hangs up on a client whose pong is late (0.5 s:
    aiohttp's rule; tighter fails on a busy machine, not for a missing pong)."""
    from fake_exchange import FakeExchange

    with FakeExchange(heartbeat=1.0) as fake:
        with RecorderThread(store, {"binanceusdm": [BTC]}, api_base=fake.url) as rec:
            fake.wait_subscribed("binanceusdm")
            t = now_ms()
            for k in range(3):
                time.sleep(2.1)  # two pings between two liquidations
                fake.push("binanceusdm", [ev("BTCUSDT", t + k, 60_000.0 + k)])
            wait_for(lambda: store.count_liquidations() == 3, what="three liquidations")
            stats = rec.stop()
        assert stats["binanceusdm"].reconnects == 0 and fake.ws_connections["binanceusdm"] == 1
