"""The store on both backends (SQLite file, PostgreSQL server): schema, round trips,
de-duplication under concurrent writers, following, gaps, export."""

from __future__ import annotations

import sqlite3
import threading

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from liqwidget import MarketData
from liqwidget.events import LiquidationDataError
from liqwidget.store import SCHEMA_VERSION, Store, StoreError, default_path

T0 = pd.Timestamp("2026-06-01", tz="UTC")
STEP = 300_000


def events(n: int, start: int = 0, exchange: str = "bybit", symbol: str = "BTC/USDT:USDT"):
    i = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "time": T0 + pd.to_timedelta(i * 1000, unit="ms"),
            "side": np.where(i % 2 == 0, "long", "short"),
            "price": 60_000.0 + i,
            "notional": 1_000.0 + 10 * i,
            "exchange": exchange,
            "symbol": symbol,
        }
    )


def bars(n: int, t0: int):
    ts = t0 + STEP * np.arange(n)
    close = 100.0 + np.arange(n)
    return [[int(t), c - 0.5, c + 1, c - 1, c, 5.0] for t, c in zip(ts, close, strict=True)]


def test_new_store_is_versioned_and_healthy(store):
    assert store.schema_version == SCHEMA_VERSION
    assert store.get_meta("schema_version") == str(SCHEMA_VERSION)
    assert store.integrity_check() == "ok"


def test_sqlite_store_is_wal(tmp_path):
    path = tmp_path / "store.sqlite"
    Store(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION


def test_newer_schema_is_refused(store_location):
    with Store(store_location) as s:
        s.set_meta("schema_version", str(SCHEMA_VERSION + 1))  # PostgreSQL keeps it here
    if "://" not in store_location:
        with sqlite3.connect(store_location) as db:  # SQLite in its header
            db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    with pytest.raises(StoreError, match="newer than this liqwidget"):
        Store(store_location)


def test_store_locations_pick_the_backend(tmp_path, monkeypatch):
    with Store(f"sqlite:///{tmp_path}/a.sqlite") as s:
        assert s.dialect == "sqlite" and s.path == tmp_path / "a.sqlite"
    assert (tmp_path / "a.sqlite").is_file()
    monkeypatch.setenv("LIQWIDGET_STORE", "postgresql://someone:secret@127.0.0.1:1/none")
    with pytest.raises(
        StoreError, match="cannot open the store at postgresql://someone:\\*\\*\\*@"
    ):
        Store(timeout=1)
    with pytest.raises(StoreError, match="is for 'mysql'; use a file path"):
        Store("mysql://x@y/z")


def test_default_path_follows_env_var(tmp_path, monkeypatch):
    monkeypatch.setenv("LIQWIDGET_STORE", str(tmp_path / "x" / "env.sqlite"))
    assert default_path() == tmp_path / "x" / "env.sqlite"
    with Store() as s:
        assert s.path == tmp_path / "x" / "env.sqlite"
    monkeypatch.delenv("LIQWIDGET_STORE")
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "data"))
    assert default_path() == tmp_path / "data" / "liqwidget" / "store.sqlite"


def test_liquidations_round_trip_in_the_event_format(store):
    ev = events(10)
    assert store.write_liquidations(ev) == 10
    got = store.load_liquidations()
    assert list(got.columns) == ["time", "side", "price", "notional", "exchange", "symbol"]
    assert str(got["time"].dtype) == "datetime64[ns, UTC]"
    pd.testing.assert_frame_equal(
        got, ev.astype({"side": object, "exchange": object, "symbol": object}), check_dtype=False
    )
    window = store.load_liquidations(
        start=T0 + pd.Timedelta(seconds=3), end=T0 + pd.Timedelta(seconds=5)
    )
    assert list(window["price"]) == [60_003.0, 60_004.0, 60_005.0]


def test_exact_repeats_are_ignored_but_near_repeats_kept(store):
    assert store.write_liquidations(events(5)) == 5
    assert store.write_liquidations(events(5)) == 0
    other = events(5)
    other["price"] += 0.5
    assert store.write_liquidations(other) == 5
    assert store.count_liquidations() == 10
    twice = pd.concat([events(2, start=50)] * 2, ignore_index=True)  # repeats in one batch
    assert store.write_liquidations(twice) == 2
    assert store.count_liquidations() == 12


def test_filters_by_exchange_and_symbol(store):
    store.write_liquidations(events(3, exchange="bybit"))
    store.write_liquidations(events(4, exchange="okx", symbol="ETH/USDT:USDT"))
    assert len(store.load_liquidations(exchange="okx")) == 4
    assert len(store.load_liquidations(symbol="BTC/USDT:USDT")) == 3
    assert store.load_liquidations(exchange="binanceusdm").empty


@pytest.mark.parametrize(
    ("column", "value", "message"),
    [
        ("side", "buy", "column 'side' is 'buy' at row 2"),
        ("price", -1.0, r"column 'price' is not positive \(-1.0\) at row 2"),
        ("notional", np.nan, "column 'notional' is NaN or infinite at row 2"),
    ],
)
def test_bad_events_are_refused_with_row_and_column(store, column, value, message):
    ev = events(4)
    ev.loc[2, column] = value
    with pytest.raises(LiquidationDataError, match=message):
        store.write_liquidations(ev)
    assert store.count_liquidations() == 0  # nothing half-written


def test_missing_event_column_is_named(store):
    with pytest.raises(LiquidationDataError, match=r"missing column\(s\) \['notional'\]"):
        store.write_liquidations(events(2).drop(columns="notional"))
    with pytest.raises(StoreError, match=r"missing column\(s\) \['exchange'\]"):
        store.write_liquidations(events(2).drop(columns="exchange"))


def test_events_since_follows_new_rows(store):
    frame, cursor = store.events_since(0)
    assert frame.empty and cursor == 0
    store.write_liquidations(events(3))
    frame, cursor = store.events_since(cursor)
    assert len(frame) == 3
    frame, cursor2 = store.events_since(cursor)
    assert frame.empty and cursor2 == cursor
    store.write_liquidations(events(2, start=3))
    frame, _ = store.events_since(cursor)
    assert list(frame["price"]) == [60_003.0, 60_004.0]


def test_reader_and_writer_at_once(store_location):
    """A second connection reads consistent snapshots while the first one writes."""
    path = store_location
    seen = []
    with Store(path) as writer, Store(path) as reader:
        done = threading.Event()

        def read():
            cursor = 0
            while not done.is_set() or cursor < 2000:
                frame, cursor = reader.events_since(cursor)
                seen.extend(frame["price"].tolist())

        t = threading.Thread(target=read)
        t.start()
        for k in range(20):
            writer.write_liquidations(events(100, start=100 * k))
        done.set()
        t.join(timeout=30)
    assert seen == [60_000.0 + i for i in range(2000)]  # every row once, in order


def test_readers_are_not_blocked_by_an_open_write(store_location):
    """While a writer holds its transaction open, another store reads at once and sees the
    last committed state."""
    with Store(store_location) as writer, Store(store_location, timeout=2) as reader:
        writer.write_liquidations(events(3))
        with writer._begin(write=True) as conn:
            conn.execute(sa.text("DELETE FROM liquidations"))
            assert reader.count_liquidations() == 3
            assert len(reader.load_liquidations()) == 3
        assert reader.count_liquidations() == 0


def test_concurrent_writers_of_one_feed_do_not_double_count(store_location):
    """Two recorders writing the same events at the same time (each its own store object
    and connections, as on two machines) store every event once, and their counts of new
    rows add up to the events, not twice that."""
    n, batch = 1200, 50
    feed = events(n)
    stored = [0, 0]
    barrier = threading.Barrier(2)

    def record(k: int) -> None:
        with Store(store_location) as s:
            order = range(0, n, batch) if k == 0 else reversed(range(0, n, batch))
            barrier.wait()
            for i in order:
                stored[k] += s.write_liquidations(feed.iloc[i : i + batch])

    threads = [threading.Thread(target=record, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    with Store(store_location) as s:
        assert s.count_liquidations() == n
        assert sum(stored) == n
        assert s.load_liquidations()["price"].tolist() == feed["price"].tolist()


def test_follower_sees_every_row_of_concurrent_writers_once(store_location):
    """Ids grow in commit order even with two writers, so following ``id > cursor`` skips
    nothing."""
    per, batch = 600, 20
    done = threading.Event()
    seen: list[float] = []

    def write(k: int) -> None:
        with Store(store_location) as s:
            for i in range(0, per, batch):
                s.write_liquidations(events(batch, start=k * per + i))

    def follow() -> None:
        with Store(store_location) as s:
            cursor = 0
            while True:
                finished = done.is_set()
                frame, cursor = s.events_since(cursor)
                seen.extend(frame["price"].tolist())
                if finished and frame.empty:
                    return

    follower = threading.Thread(target=follow)
    follower.start()
    writers = [threading.Thread(target=write, args=(k,)) for k in range(2)]
    for t in writers:
        t.start()
    for t in writers:
        t.join(timeout=120)
    done.set()
    follower.join(timeout=60)
    assert len(seen) == 2 * per
    assert sorted(seen) == [60_000.0 + i for i in range(2 * per)]


def test_gaps_are_stored_and_filtered(store):
    store.add_gap("binanceusdm", "BTC/USDT:USDT", T0, T0 + pd.Timedelta(minutes=2), "drop")
    store.add_gap("okx", None, T0 + pd.Timedelta(hours=1), T0 + pd.Timedelta(hours=2), "restart")
    g = store.gaps()
    assert list(g.columns) == ["exchange", "symbol", "start", "end", "reason"]
    assert len(g) == 2 and g["start"].iloc[0] == T0
    assert list(store.gaps(exchange="okx", symbol="ETH/USDT:USDT")["reason"]) == ["restart"]
    assert store.gaps(start=T0 + pd.Timedelta(hours=3)).empty


def test_load_market_turns_contracts_into_quote_notional(store):
    t0 = int(T0.value // 1_000_000)
    store.write_bars("okx", "BTC/USDT:USDT", "5m", bars(12, t0))
    oi = [(t0 + STEP * k, 1000.0 + k, None, 0.01) for k in range(12)]
    store.write_open_interest("okx", "BTC/USDT:USDT", "5m", oi)
    m = store.load_market("okx", "BTC/USDT:USDT", "5m")
    assert isinstance(m, MarketData) and len(m) == 12
    assert m.timeframe == pd.Timedelta("5min") and m.exchange == "okx"
    expected = (1000.0 + np.arange(12)) * 0.01 * (100.0 + np.arange(12))
    np.testing.assert_allclose(m.column("open_interest"), expected)
    sub = store.load_market(
        "okx",
        "BTC/USDT:USDT",
        "5m",
        start=T0 + pd.Timedelta("10min"),
        end=T0 + pd.Timedelta("20min"),
    )
    assert len(sub) == 3


def test_load_market_uses_quote_value_when_no_amount(store):
    t0 = int(T0.value // 1_000_000)
    hourly = [[t0 + k * 3_600_000, 100.0, 102.0, 99.0, 101.0, 1.0] for k in range(3)]
    store.write_bars("okx", "BTC/USDT:USDT", "1h", hourly)
    oi = [(t0 + k * 3_600_000, None, 5e6 + k, None) for k in range(3)]
    store.write_open_interest("okx", "BTC/USDT:USDT", "5m", oi)
    m = store.load_market("okx", "BTC/USDT:USDT", "1h")
    np.testing.assert_allclose(m.column("open_interest"), [5e6, 5e6 + 1, 5e6 + 2])


def test_bars_without_oi_are_left_out_with_a_warning(store, caplog):
    t0 = int(T0.value // 1_000_000)
    store.write_bars("okx", "BTC/USDT:USDT", "5m", bars(10, t0))
    store.write_open_interest(
        "okx",
        "BTC/USDT:USDT",
        "5m",
        [(t0 + STEP * k, 10.0, None, 1.0) for k in range(10) if k != 4],
    )
    m = store.load_market("okx", "BTC/USDT:USDT", "5m")
    assert len(m) == 9 and m.gaps and m.gaps[0].missing_bars == 1
    assert "1 of 10 bars have no open interest" in caplog.text


def test_load_market_explains_what_is_missing(store):
    with pytest.raises(StoreError, match="run `liqwidget fetch bybit BTC/USDT:USDT"):
        store.load_market("bybit", "BTC/USDT:USDT", "5m")
    store.write_bars("bybit", "BTC/USDT:USDT", "5m", bars(3, int(T0.value // 1_000_000)))
    with pytest.raises(StoreError, match="no open interest stored"):
        store.load_market("bybit", "BTC/USDT:USDT", "5m")


def test_bad_bar_is_refused(store):
    rows = bars(3, 0)
    rows[1][3] = 0.0
    with pytest.raises(StoreError, match="bar row 1"):
        store.write_bars("okx", "BTC/USDT:USDT", "5m", rows)


def test_coverage_merges_and_reports_holes(store):
    store.mark_covered("okx", "BTC/USDT:USDT", "ohlcv:5m", 0, 100)
    store.mark_covered("okx", "BTC/USDT:USDT", "ohlcv:5m", 200, 300)
    assert store.missing("okx", "BTC/USDT:USDT", "ohlcv:5m", 50, 400) == [(100, 200), (300, 400)]
    store.mark_covered("okx", "BTC/USDT:USDT", "ohlcv:5m", 100, 200)
    assert store.missing("okx", "BTC/USDT:USDT", "ohlcv:5m", 0, 300) == []
    assert store.missing("okx", "BTC/USDT:USDT", "oi:5m", 0, 300) == [(0, 300)]


def test_export_parquet(store, tmp_path):
    store.write_liquidations(events(6))
    store.write_bars("okx", "BTC/USDT:USDT", "5m", bars(4, int(T0.value // 1_000_000)))
    store.write_open_interest(
        "okx", "BTC/USDT:USDT", "5m", [(int(T0.value // 1_000_000), 7.0, None, 0.01)]
    )
    store.add_gap("okx", "BTC/USDT:USDT", T0, T0 + pd.Timedelta(minutes=1), "drop")
    paths = store.export_parquet(tmp_path / "out")
    oi = pd.read_parquet(paths["open_interest"])
    assert oi[["amount", "contract_size"]].values.tolist() == [[7.0, 0.01]]
    assert oi["time"].iloc[0] == T0
    liq = pd.read_parquet(paths["liquidations"])
    pd.testing.assert_frame_equal(liq, store.load_liquidations(), check_dtype=False)
    assert len(pd.read_parquet(paths["bars"])) == 4
    assert pd.read_parquet(paths["gaps"])["reason"].tolist() == ["drop"]
    only_okx = store.export_parquet(tmp_path / "okx", exchange="okx")
    assert pd.read_parquet(only_okx["liquidations"]).empty


def test_loaded_events_pass_the_event_frame_validator(store):
    from liqwidget.events import validate_events

    store.write_liquidations(events(8))
    loaded = store.load_liquidations()
    checked = validate_events(loaded)
    pd.testing.assert_frame_equal(checked, loaded, check_dtype=False)
    followed, _ = store.events_since(0)
    validate_events(followed)
    empty = store.load_liquidations(exchange="none")
    assert list(validate_events(empty).columns) == list(loaded.columns)


def test_postgresql_write_failures_are_told_apart():
    from psycopg import OperationalError, errors
    from sqlalchemy.exc import OperationalError as Wrapped

    from liqwidget.store import write_failure

    assert write_failure(errors.LockNotAvailable("lock timeout")) == "busy"
    assert write_failure(Wrapped("INSERT", {}, OperationalError("server closed"))) == "busy"
    assert write_failure(errors.UniqueViolation("dup")) == "data"
    assert write_failure(errors.CheckViolation("side")) == "data"
    assert write_failure(errors.DiskFull("no space")) == "fatal"


def test_per_bar_open_interest_wins_and_history_fills_the_rest(tmp_path):
    from liqwidget.store import Store as _Store

    with _Store(tmp_path / "oi.sqlite") as s:
        t0 = 1_780_000_200_000 // 300_000 * 300_000
        bars = [[t0 + 60_000 * i, 100.0, 101.0, 99.0, 100.0, 1.0] for i in range(10)]
        s.write_bars("binanceusdm", "BTC/USDT:USDT", "1m", bars)
        s.write_open_interest(
            "binanceusdm",
            "BTC/USDT:USDT",
            "5m",
            [(t0, 10.0, None, 1.0), (t0 + 300_000, 20.0, None, 1.0)],
        )
        s.write_open_interest(
            "binanceusdm",
            "BTC/USDT:USDT",
            "1m",
            [(t0 + 60_000 * i, 30.0 + i, None, 1.0) for i in (2, 3, 7)],
        )
        oi = s.load_market("binanceusdm", "BTC/USDT:USDT", "1m").column("open_interest") / 100.0
    assert oi.tolist() == [10, 10, 32, 33, 10, 20, 20, 37, 20, 20]


def test_postgresql_store_carries_on_after_its_connection_is_dropped():
    """A server restart or a dropped connection fails one write as "busy" (the recorder
    retries those); the next write gets a fresh connection."""
    import psycopg
    from conftest import POSTGRES_URL, postgres_store_url

    from liqwidget.store import write_failure

    with postgres_store_url() as url, Store(url) as store:
        assert store.write_liquidations(events(2)) == 2
        pid = store._query("SELECT pg_backend_pid()")[0][0]  # the pooled connection
        with psycopg.connect(POSTGRES_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        with pytest.raises(Exception) as info:
            store.write_liquidations(events(2, start=2))
        assert write_failure(info.value) == "busy"
        assert store.write_liquidations(events(2, start=2)) == 2
        assert store.count_liquidations() == 4


def test_a_series_whose_names_are_not_utf8_is_left_out_and_named(tmp_path):
    """Another program wrote a series whose symbol is not UTF-8 text (with a terminal
    escape in it): the listing and a site's data loading go on with the good series, and
    the warning shows the bad one safely, with how to delete it."""
    from liqwidget.sources.dataset import _load_store

    path = tmp_path / "store.db"
    t0 = int(T0.value // 1_000_000)
    with Store(path) as st:
        st.write_bars("okx", "BTC/USDT:USDT", "5m", bars(12, t0))
        oi = [(t0 + STEP * k, 1000.0 + k, None, 0.01) for k in range(12)]
        st.write_open_interest("okx", "BTC/USDT:USDT", "5m", oi)
    con = sqlite3.connect(path)
    con.execute(
        "INSERT INTO bars SELECT exchange, CAST(x'425443fffe1b5b3331' AS TEXT), timeframe, "
        "ts, open, high, low, close, volume FROM bars"
    )
    con.commit()
    con.close()
    with Store(path) as st, pytest.warns(UserWarning, match="not UTF-8 text, left out") as said:
        series = st.series()
    assert list(series["symbol"]) == ["BTC/USDT:USDT"] and series["bars"].iloc[0] == 12
    message = str(said[0].message)
    assert "425443fffe1b5b3331" in message and "DELETE FROM bars" in message
    assert "\x1b" not in message  # the escape is shown, not sent to the terminal
    with pytest.warns(UserWarning, match="not UTF-8 text"):
        data = _load_store(str(path), None, None)
    assert len(data.market) == 12 and data.name == "BTC/USDT"
