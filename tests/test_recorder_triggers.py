"""Issue 16's triggers, through the real ccxt.pro client against the fake exchange: every
valid event is stored, every invalid one is refused with its reason, recording goes on."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import threading
import time

import pytest
from fake_exchange.guard import no_foreign_hosts  # noqa: F401 (fixture)
from fake_exchange.helpers import FAST, RecorderThread, now_ms, wait_for

from liqwidget.sources.health import FeedStats, read_health_file
from liqwidget.sources.writer import StoreUnwritable
from liqwidget.store import Store

BTC = "BTC/USDT:USDT"

pytestmark = pytest.mark.usefixtures("no_foreign_hosts")


@pytest.fixture
def sqlite_store(tmp_path):
    """An SQLite store, for what is about its file: locks, removal, the health file."""
    with Store(tmp_path / "rec.sqlite") as s:
        yield s


def ev(ts: int, price=60_000, amount=1, side="long") -> dict:
    return {"symbol": "BTCUSDT", "side": side, "price": price, "amount": amount, "ts": ts}


def stored_prices(store, exchange) -> list[float]:
    return sorted(store.load_liquidations(exchange=exchange)["price"])


def test_absurd_values_and_wrong_time_units_are_refused_and_recording_goes_on(fake, store):
    with RecorderThread(store, {"binanceusdm": [BTC], "bybit": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("binanceusdm")
        fake.wait_subscribed("bybit")
        t = now_ms()
        bad = {
            "binanceusdm": [
                ev(t, price="1e308", amount="10"),  # "p" and "ap" 1e308, "q" 10
                ev(t + 1, amount="1e308"),  # price x quantity overflows
                ev((t + 2) * 1000),  # microseconds
                ev((t + 3) // 1000),  # seconds
            ],
            "bybit": [
                ev(t, price="1e308"),
                ev(10**16),  # 1e16 "ms": a year pandas cannot even hold
                ev((t + 4) * 1_000_000),  # nanoseconds
            ],
        }
        for ex in ("binanceusdm", "bybit"):
            good_before = [ev(t + 10, 60_010), ev(t + 11, 60_011, side="short")]
            good_after = [ev(t + 20, 60_020), ev(t + 21, 60_021)]
            fake.push(ex, good_before + bad[ex] + good_after)
        wait_for(lambda: store.count_liquidations() == 8, what="the 8 valid events")
        # The process keeps recording after all of it.
        fake.push("bybit", [ev(t + 30, 60_030)])
        wait_for(lambda: store.count_liquidations() == 9, what="an event after the bad ones")
        stats = rec.stop()
    assert stored_prices(store, "binanceusdm") == [60_010, 60_011, 60_020, 60_021]
    assert stored_prices(store, "bybit") == [60_010, 60_011, 60_020, 60_021, 60_030]
    assert stats["binanceusdm"].refused == 4 and stats["bybit"].refused == 3
    assert all(s.reconnects == 0 and s.malformed == 0 and s.pending == 0 for s in stats.values())
    refused = store.refused()
    reasons = dict(zip(refused["raw"], refused["reason"], strict=True))
    assert len(reasons) == 7
    by_ex = {ex: list(refused[refused.exchange == ex]["reason"]) for ex in ("binanceusdm", "bybit")}
    assert by_ex["binanceusdm"] == [
        "price 1e+308 is above the market's maximum price 4.52976e+06",
        "notional 60000 x 1e+308 is not a finite positive number (inf)",
        by_ex["binanceusdm"][2],
        by_ex["binanceusdm"][3],
    ]
    assert by_ex["binanceusdm"][2].startswith(f"time {(t + 2) * 1000} looks like microseconds")
    assert by_ex["binanceusdm"][3].startswith(f"time {(t + 3) // 1000} looks like seconds")
    assert by_ex["bybit"][0] == "price 1e+308 is above the market's maximum price 2e+06"
    assert by_ex["bybit"][1].startswith("time 10000000000000000 ms (about +3.17e+05 years")
    assert "outside the accepted window" in by_ex["bybit"][1]
    # (ccxt reads integers through floats: the nanosecond value arrives rounded)
    assert abs(int(by_ex["bybit"][2].split()[1]) - (t + 4) * 1_000_000) < 1_000
    assert "looks like nanoseconds, not milliseconds (accepted: " in by_ex["bybit"][2]
    # The raw exchange payload is kept: Binance's order with "p" and "ap" as sent.
    first = json.loads(refused[refused.exchange == "binanceusdm"]["raw"].iloc[0])
    assert first["p"] == first["ap"] == "1e308" and first["l"] == "10"


def test_a_write_lock_held_longer_than_the_timeout_is_waited_out(fake, tmp_path, caplog):
    path = tmp_path / "locked.sqlite"
    settings = dataclasses.replace(FAST, backoff_base=0.05, backoff_cap=0.1, heartbeat=0.1)
    with (
        Store(path, timeout=0.1) as store,
        RecorderThread(store, {"bybit": [BTC]}, api_base=fake.url, settings=settings) as rec,
    ):
        fake.wait_subscribed("bybit")
        t = now_ms()
        fake.push("bybit", [ev(t, 60_000)])
        wait_for(lambda: store.count_liquidations() == 1)
        other = sqlite3.connect(path, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")  # another process takes the write lock ...
        fake.push("bybit", [ev(t + k, 60_000 + k) for k in range(1, 6)])
        health = wait_for(
            lambda: (h := rec.recorder.health()["bybit"]).warning and h,
            what="a warning in the health",
        )
        assert (
            health.warning.startswith("store busy for") and "database is locked" in health.warning
        )
        assert "WARNING: store busy" in health.line()
        time.sleep(1.0)  # ... and keeps it ten times longer than the store's busy timeout
        assert store.count_liquidations() == 1 and rec.stats["bybit"].pending == 5
        other.execute("COMMIT")
        other.close()
        wait_for(lambda: store.count_liquidations() == 6, what="the held events after the lock")
        fake.push("bybit", [ev(t + 10, 60_010)])
        wait_for(lambda: store.count_liquidations() == 7, what="new events after the lock")
        wait_for(lambda: rec.recorder.health()["bybit"].warning is None, what="warning cleared")
    assert "store busy for" in caplog.text and "the store took" in caplog.text


def test_identical_liquidations_in_one_bybit_message_are_all_kept(fake, store):
    with RecorderThread(store, {"bybit": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("bybit")
        t = now_ms()
        message = [ev(t, 60_000, 0.5), ev(t, 60_000, 0.5), ev(t, 60_001, 0.5)]
        assert fake.push("bybit", message, together=True) == 1  # one allLiquidation frame
        wait_for(lambda: store.count_liquidations() == 3, what="all three")
        fake.push("bybit", message, together=True)  # the exchange re-sends the message
        fake.push("bybit", [ev(t, 60_000, 0.5)])  # and the first alone (a replay)
        wait_for(lambda: rec.stats["bybit"].duplicates == 4, what="the repeats")
        stats = rec.stop()
    assert stored_prices(store, "bybit") == [60_000, 60_000, 60_001]
    assert stats["bybit"].received == 7 and stats["bybit"].stored == 3


def test_every_detail_of_an_okx_message_is_recorded(fake, store):
    """ccxt reads only the first of the details an OKX message lists; the rest count too."""
    with RecorderThread(store, {"okx": [BTC]}, api_base=fake.url) as rec:
        fake.wait_subscribed("okx")
        t = now_ms()
        message = [
            {"symbol": "BTC-USDT-SWAP", "side": side, "price": p, "amount": 2, "ts": t}
            for side, p in (("long", 60_000), ("long", 60_000), ("short", 60_100))
        ]
        assert fake.push("okx", message, together=True) == 1
        wait_for(lambda: store.count_liquidations() == 3, what="all three details")
        fake.push("okx", message, together=True)
        wait_for(lambda: rec.stats["okx"].duplicates == 3, what="the repeated message")
    got = store.load_liquidations()
    assert got["side"].tolist() == ["long", "long", "short"]
    assert got["notional"].tolist() == pytest.approx([1_200.0, 1_200.0, 1_202.0])  # 0.01 BTC


def test_bybit_older_liquidation_topic_is_recorded(fake, store):
    options = {"options": {"watchLiquidations": {"method": "liquidation"}}}
    with RecorderThread(store, {"bybit": [BTC]}, api_base=fake.url, config=options):
        fake.wait_subscribed("bybit")
        assert {t for s in fake.subscribers for t in s.topics} == {"liquidation.BTCUSDT"}
        t = now_ms()
        fake.push("bybit", [ev(t, 61_000), ev(t + 1, 61_001, side="short"), ev(t, "1e308")])
        wait_for(lambda: len(store.refused()) == 1 and store.count_liquidations() == 2)
    got = store.load_liquidations()
    assert got["side"].tolist() == ["long", "short"] and got["price"].tolist() == [61_000, 61_001]


def test_a_batch_the_store_refuses_is_split_and_the_bad_event_quarantined(fake, store, caplog):
    real = store.write_liquidations

    def poisoned(frame):  # a row the database itself rejects (the checks let it through)
        if (frame["price"] == 66_666).any():
            raise sqlite3.IntegrityError("CHECK constraint failed: poisoned")
        return real(frame)

    store.write_liquidations = poisoned
    slow = dataclasses.replace(FAST, max_latency=0.5)  # one batch for all nine
    with RecorderThread(store, {"bybit": [BTC]}, api_base=fake.url, settings=slow) as rec:
        fake.wait_subscribed("bybit")
        t = now_ms()
        prices = [60_000 + k for k in range(8)] + [66_666]
        prices[3], prices[8] = prices[8], prices[3]
        fake.push("bybit", [ev(t + k, p) for k, p in enumerate(prices)])
        wait_for(lambda: rec.stats["bybit"].pending == 0 and rec.stats["bybit"].received == 9)
        fake.push("bybit", [ev(t + 20, 60_020)])
        wait_for(lambda: store.count_liquidations() == 9, what="the good events and one more")
        stats = rec.stop()
    assert 66_666 not in stored_prices(store, "bybit")
    assert stats["bybit"].refused == 1 and stats["bybit"].stored == 9
    bad = store.refused()
    assert bad["reason"].tolist() == ["the store refused it: CHECK constraint failed: poisoned"]
    assert json.loads(bad["raw"][0])["price"] == 66_666


def test_an_unwritable_store_stops_loudly_and_keeps_what_was_pending(fake, sqlite_store, tmp_path):
    real = sqlite_store.write_liquidations
    full = threading.Event()

    def disk_full(frame):
        if full.is_set():
            raise sqlite3.OperationalError("database or disk is full")
        return real(frame)

    sqlite_store.write_liquidations = disk_full
    rec = RecorderThread(sqlite_store, {"binanceusdm": [BTC]}, api_base=fake.url).__enter__()
    fake.wait_subscribed("binanceusdm")
    t = now_ms()
    fake.push("binanceusdm", [ev(t, 60_000)])
    wait_for(lambda: sqlite_store.count_liquidations() == 1)
    full.set()
    fake.push("binanceusdm", [ev(t + 1, 60_001), ev(t + 2, 60_002)])
    wait_for(lambda: not rec.thread.is_alive(), what="the recorder to give up")
    with pytest.raises(StoreUnwritable, match=r"cannot be written .*database or disk is full") as e:
        rec.stop()
    assert "2 pending events" in str(e.value)
    rescue = str(e.value).rsplit("saved to ", 1)[1]
    rows = [json.loads(line) for line in open(rescue)]
    assert [(r["kind"], r["price"]) for r in rows] == [("event", 60_001), ("event", 60_002)]
    _, health = read_health_file(tmp_path / "rec.sqlite.health.json")
    assert health["binanceusdm"].warning.startswith("store unwritable")


def test_health_file_and_row_show_every_feed(fake, sqlite_store, tmp_path):
    with RecorderThread(sqlite_store, {"binanceusdm": [BTC], "bybit": [BTC]}, api_base=fake.url):
        fake.wait_subscribed("binanceusdm")
        fake.wait_subscribed("bybit")
        t = now_ms()
        fake.push("binanceusdm", [ev(t), ev(t), ev(t + 1, "1e308")])
        fake.push("bybit", [ev(t + 5)])
        wait_for(lambda: sqlite_store.count_liquidations() == 2)
    written, feeds = read_health_file(tmp_path / "rec.sqlite.health.json")
    assert abs(written - now_ms()) < 60_000
    b = feeds["binanceusdm"]
    assert (b.received, b.stored, b.duplicates, b.refused, b.pending) == (3, 1, 1, 1, 0)
    assert b.warning is None and 0 <= b.last_event_age_s < 60
    assert feeds["bybit"].stored == 1
    assert json.loads(sqlite_store.health()["binanceusdm"])["refused"] == 1


def test_stored_standing_still_while_received_grows_is_a_warning():
    stats = FeedStats(received=10, stored=10)
    assert stats.health("x", now=100.0, stall_after=30).warning is None
    stats.received = 15  # five arrive, none is stored
    assert stats.health("x", now=101.0, stall_after=30).warning is None
    assert stats.health("x", now=129.0, stall_after=30).warning is None
    warning = stats.health("x", now=131.0, stall_after=30).warning  # still nothing stored
    assert warning == "stored has not grown for 31s while 5 received events wait"
    stats.stored = 15
    assert stats.health("x", now=132.0, stall_after=30).warning is None


def test_a_store_that_fails_at_the_final_commit_still_keeps_the_events(fake, sqlite_store):
    real = sqlite_store.write_liquidations
    full = threading.Event()

    def disk_full(frame):
        if full.is_set():
            raise sqlite3.OperationalError("disk I/O error")
        return real(frame)

    sqlite_store.write_liquidations = disk_full
    slow = dataclasses.replace(FAST, batch_size=10_000, max_latency=600)
    rec = RecorderThread(
        sqlite_store, {"bybit": [BTC]}, api_base=fake.url, settings=slow
    ).__enter__()
    fake.wait_subscribed("bybit")
    fake.push("bybit", [ev(now_ms() + k, 60_000 + k) for k in range(3)])
    wait_for(lambda: rec.stats["bybit"].received == 3)
    full.set()
    with pytest.raises(StoreUnwritable, match=r"disk I/O error.*3 pending events") as e:
        rec.stop()  # Ctrl-C: the last commit fails for good
    rows = [json.loads(line) for line in open(str(e.value).rsplit("saved to ", 1)[1])]
    assert [r["price"] for r in rows] == [60_000, 60_001, 60_002]
