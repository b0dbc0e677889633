"""What the store keeps for the recorder: the duplicate rule, refused events, feed health."""

from __future__ import annotations

import json
import sqlite3

import pandas as pd
import pytest

from liqwidget.store import SCHEMA_VERSION, Store, write_failure

V1_LIQUIDATIONS = """
CREATE TABLE liquidations (
    id INTEGER PRIMARY KEY,
    exchange TEXT NOT NULL, symbol TEXT NOT NULL, ts INTEGER NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('long', 'short')),
    price REAL NOT NULL, amount REAL NOT NULL, notional REAL NOT NULL,
    recorded_at INTEGER NOT NULL,
    UNIQUE (exchange, symbol, ts, side, price, amount)
);
CREATE INDEX liquidations_time ON liquidations (exchange, symbol, ts);
CREATE INDEX liquidations_ts ON liquidations (ts);
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
PRAGMA user_version=1;
"""


def frame(ts, seq=None, price=60_000.0, amount=0.5):
    out = pd.DataFrame(
        {
            "time": pd.to_datetime(ts, unit="ms", utc=True),
            "side": "long",
            "price": price,
            "notional": price * amount,
            "amount": amount,
            "exchange": "bybit",
            "symbol": "BTC/USDT:USDT",
        }
    )
    if seq is not None:
        out["seq"] = seq
    return out


def test_identical_events_of_one_message_are_kept_exact_repeats_are_not(store_location):
    with Store(store_location) as store:
        t = 1_780_000_000_000
        assert store.write_liquidations(frame([t, t], seq=[0, 1])) == 2  # one message, twice
        assert store.write_liquidations(frame([t, t], seq=[0, 1])) == 0  # the message re-sent
        assert store.write_liquidations(frame([t])) == 0  # backfill overlapping the first
        assert store.write_liquidations(frame([t], price=60_000.5)) == 1  # another price
        assert store.count_liquidations() == 3


def test_a_version_1_store_is_migrated_keeping_ids_and_rows(tmp_path):
    path = tmp_path / "v1.sqlite"
    db = sqlite3.connect(path)
    db.executescript(V1_LIQUIDATIONS)
    db.executemany(
        "INSERT INTO liquidations VALUES (?, 'okx', 'BTC/USDT:USDT', ?, 'short', 100.0, 1.0,"
        " 100.0, 5)",
        [(7, 1_000), (9, 2_000)],
    )
    db.commit()
    db.close()
    with Store(path) as store:
        assert store.schema_version == SCHEMA_VERSION == 2
        frame_, cursor = store.events_since(0)
        assert cursor == 9 and frame_["price"].tolist() == [100.0, 100.0]
        assert store.integrity_check() == "ok"
        # the same event again is a repeat; a second identical one in its message is not
        again = frame_.iloc[[0, 0]].assign(amount=1.0, seq=[0, 1])
        assert store.write_liquidations(again) == 1
    with sqlite3.connect(path) as db:
        names = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    assert {"liquidations_time", "liquidations_ts"} <= names


def test_refused_events_and_health_rows_are_kept(store_location):
    with Store(store_location) as store:
        rows = [
            ("binanceusdm", "BTC/USDT:USDT", 5_000, "notional is not finite", '{"p": "1e308"}'),
            ("bybit", None, 6_000, "not JSON", "{this is"),
        ]
        assert store.quarantine(rows) == 2
        got = store.refused()
        assert got["reason"].tolist() == ["notional is not finite", "not JSON"]
        assert got["raw"][1] == "{this is" and got["symbol"].isna()[1]
        assert got["received"][0] == pd.Timestamp(5_000, unit="ms", tz="UTC")
        assert len(store.refused("bybit")) == 1
        store.write_health({"bybit": json.dumps({"received": 3})})
        store.write_health({"bybit": json.dumps({"received": 4}), "okx": "{}"})
        assert json.loads(store.health()["bybit"]) == {"received": 4}
        assert sorted(store.health()) == ["bybit", "okx"]


def test_write_failures_are_told_apart(tmp_path):
    assert write_failure(sqlite3.OperationalError("database is locked")) == "busy"
    assert write_failure(sqlite3.OperationalError("database or disk is full")) == "fatal"
    assert write_failure(sqlite3.OperationalError("attempt to write a readonly database")) == (
        "fatal"
    )
    assert write_failure(sqlite3.IntegrityError("CHECK constraint failed")) == "data"
    with pytest.raises(ValueError) as info, Store(tmp_path / "s.sqlite") as store:
        store.write_liquidations(frame([10**16]))  # a time pandas cannot hold
    assert write_failure(info.value) == "data"
