"""The recorder against the exchanges' wire formats beyond the everyday message: coin-margined
contracts, several instruments in one message, refused subscriptions and sockets that die
without a close frame (the real ccxt.pro client, the fake exchange on 127.0.0.1)."""

from __future__ import annotations

import pytest
from fake_exchange import INVERSE
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)
from fake_exchange.helpers import RecorderThread, now_ms, wait_for

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
