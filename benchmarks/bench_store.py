"""Benchmark: sustained liquidation ingest into the store while a reader queries it, on
SQLite and on PostgreSQL at the same event rate.

Usage: python benchmarks/bench_store.py [--rate 6000] [--seconds 10] [--reference-seconds 3]
       [--backends sqlite postgresql] [--postgres URL]

PostgreSQL: ``--postgres URL`` (or ``LIQWIDGET_TEST_POSTGRES``) names a server; without one
a throw-away server is started with ``.ci/postgres`` (Debian's ``postgresql``, 127.0.0.1,
a temporary folder, default durability settings). Every run gets a fresh store: a new file,
or a new schema on the server.

Per backend, three runs:

1. **paced** — events arrive at ``--rate`` per second for ``--seconds``; they are committed
   the way ``liqwidget record`` does it (a batch when 500 are waiting or the oldest has waited
   0.25 s) through ``Store.write_liquidations``. Meanwhile a reader in a separate process
   follows the store with ``Store.events_since`` and, every 200 ms, loads the last 2 seconds with
   ``Store.load_liquidations``. Prints achieved events/s, commit latency, reader query times
   and how long an event took from arrival until the reader saw it.
2. **flat out** — the same batches written as fast as possible (the ceiling).
3. **reference** — the plain way: one INSERT and one COMMIT per event through the bare driver
   (sqlite3 defaults; psycopg in autocommit), same table, for ``--reference-seconds``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sqlite3
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

BATCH, LATENCY = 500, 0.25


def make_events(start: int, n: int, t0_ms: int) -> pd.DataFrame:
    i = np.arange(start, start + n)
    return pd.DataFrame(
        {
            "time": pd.to_datetime(t0_ms + i, unit="ms", utc=True),
            "side": np.where(i % 2 == 0, "long", "short"),
            "price": 60_000.0 + (i % 1000) * 0.1,
            "notional": 1_000.0 + (i % 97) * 10.0,
            "exchange": "binanceusdm",
            "symbol": "BTC/USDT:USDT",
        }
    )


def reader(path: str, ready, stop, out) -> None:
    """Follow the store and query the last minute until told to stop."""
    from liqwidget.store import Store

    follow, window, window_rows, lags = [], [], [], []
    seen = 0
    with Store(path) as store:
        store.events_since(0)  # warm up before saying ready
        ready.set()
        cursor = 0
        next_window = time.perf_counter()
        while not stop.is_set():
            t = time.perf_counter()
            frame, cursor = store.events_since(cursor)
            follow.append(time.perf_counter() - t)
            if len(frame):
                seen += len(frame)
                # event time = the ms when the writer generated it (see paced())
                lag = time.time() * 1000 - frame["time"].astype("int64").to_numpy() / 1e6
                lags.extend(lag[:: max(1, len(lag) // 20)].tolist())
            if time.perf_counter() >= next_window:
                t = time.perf_counter()
                end = pd.Timestamp.now(tz="UTC")
                got = store.load_liquidations(start=end - pd.Timedelta(seconds=2), end=end)
                window.append(time.perf_counter() - t)
                window_rows.append(len(got))
                next_window += 0.2
            time.sleep(0.01)
    out.put(
        {"follow": follow, "window": window, "window_rows": window_rows, "lags": lags, "seen": seen}
    )


def paced(path: str, rate: int, seconds: float) -> dict:
    from liqwidget.store import Store

    ctx = mp.get_context("spawn")
    ready, stop, out = ctx.Event(), ctx.Event(), ctx.Queue()
    proc = ctx.Process(target=reader, args=(str(path), ready, stop, out))
    with Store(path) as store:
        proc.start()
        if not ready.wait(120):  # the reader has imported everything and opened the store
            raise RuntimeError("the reader process did not start")
        commits, produced, pending, oldest, backlog = [], 0, [], None, 0
        start = time.perf_counter()
        while True:
            elapsed = time.perf_counter() - start
            if elapsed >= seconds:
                break
            due = int(elapsed * rate) - produced
            if due > 0:
                now_ms = int(time.time() * 1000)
                frame = make_events(produced, due, 0)
                frame["time"] = pd.to_datetime(np.full(due, now_ms), unit="ms", utc=True)
                frame["price"] += np.arange(due) * 1e-3  # keep rows distinct
                frame["notional"] = 1_000.0 + produced + np.arange(due)
                pending.append(frame)
                produced += due
                oldest = oldest or time.perf_counter()
            waiting = sum(len(f) for f in pending)
            backlog = max(backlog, waiting)
            if waiting and (waiting >= BATCH or time.perf_counter() - oldest >= LATENCY):
                t = time.perf_counter()
                store.write_liquidations(pd.concat(pending, ignore_index=True))
                commits.append(time.perf_counter() - t)
                pending, oldest = [], None
            time.sleep(0.002)
        due = int(seconds * rate) - produced  # top up to exactly rate x seconds
        if due > 0:
            frame = make_events(produced, due, 0)
            frame["time"] = pd.Timestamp.now(tz="UTC").floor("ms")
            frame["notional"] = 1_000.0 + produced + np.arange(due)
            pending.append(frame)
            produced += due
        if pending:
            t = time.perf_counter()
            store.write_liquidations(pd.concat(pending, ignore_index=True))
            commits.append(time.perf_counter() - t)
        total_time = time.perf_counter() - start
        stored = store.count_liquidations()
        time.sleep(0.3)
        stop.set()
        result = out.get(timeout=60)
        proc.join(timeout=30)
        integrity = store.integrity_check()
    return {
        "produced": produced,
        "stored": stored,
        "time": total_time,
        "commits": commits,
        "integrity": integrity,
        "backlog": backlog,
        **result,
    }


def flat_out(path: str, n: int) -> tuple[float, list[float]]:
    from liqwidget.store import Store

    frames = [make_events(k, BATCH, 1_780_000_000_000) for k in range(0, n, BATCH)]
    commits = []
    with Store(path) as store:
        start = time.perf_counter()
        for f in frames:
            t = time.perf_counter()
            store.write_liquidations(f)
            commits.append(time.perf_counter() - t)
        total = time.perf_counter() - start
        assert store.count_liquidations() == n
    return n / total, commits


def reference(path: str, seconds: float) -> float:
    """One INSERT + COMMIT per event through the bare driver (sqlite3 defaults with its
    rollback journal; psycopg in autocommit), into the store's own table."""
    from liqwidget.store import Store

    Store(path).close()  # the schema
    frame = make_events(0, 200_000, 1_780_000_000_000)
    rows = list(
        zip(
            frame["exchange"],
            frame["symbol"],
            (frame["time"].astype("int64") // 1_000_000).tolist(),
            frame["side"],
            frame["price"].tolist(),
            (frame["notional"] / frame["price"]).tolist(),
            frame["notional"].tolist(),
            strict=True,
        )
    )
    insert = (
        "INSERT INTO liquidations (exchange, symbol, ts, side, price, amount, notional, "
        "recorded_at) VALUES ({0}, {0}, {0}, {0}, {0}, {0}, {0}, 0) ON CONFLICT DO NOTHING"
    )
    if "://" in path:
        import psycopg
        from sqlalchemy.engine import make_url

        url = make_url(path)
        db = psycopg.connect(
            host=url.host, port=url.port, user=url.username, password=url.password,
            dbname=url.database, autocommit=True, **url.query,
        )  # fmt: skip
        sql, commit = insert.format("%s"), (lambda: None)
    else:
        db = sqlite3.connect(path)
        db.execute("PRAGMA journal_mode=DELETE")
        sql, commit = insert.format("?"), db.commit
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and n < len(rows):
        db.execute(sql, rows[n])
        commit()
        n += 1
    rate = n / (time.perf_counter() - start)
    db.close()
    return rate


@contextmanager
def postgres_server(url: str | None) -> Iterator[str]:
    """``url``, else a throw-away server from .ci/postgres (stopped afterwards)."""
    if url:
        yield url
        return
    script = Path(__file__).resolve().parents[1] / ".ci" / "postgres"
    out = subprocess.run(["bash", str(script), "start"], check=True, capture_output=True, text=True)
    env = dict(line.removeprefix("export ").split("=", 1) for line in out.stdout.splitlines())
    try:
        yield env["LIQWIDGET_TEST_POSTGRES"]
    finally:
        subprocess.run(["bash", str(script), "stop", env["LIQWIDGET_TEST_POSTGRES_DIR"]])


@contextmanager
def fresh_stores(backend: str, server: str | None, tmp: Path) -> Iterator:
    """A function giving a new, empty store location each call; cleaned up afterwards."""
    if backend == "sqlite":
        yield lambda name: str(tmp / f"{name}.sqlite")
        return
    import psycopg

    from liqwidget.store_sql import postgres_schema_url

    schemas: list[str] = []

    def make(name: str) -> str:
        schema = f"bench_{name}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(server, autocommit=True) as admin:
            admin.execute(f"CREATE SCHEMA {schema}")
        schemas.append(schema)
        return postgres_schema_url(server, schema)

    try:
        yield make
    finally:
        with psycopg.connect(server, autocommit=True) as admin:
            for schema in schemas:
                admin.execute(f"DROP SCHEMA {schema} CASCADE")


def ms(values, q) -> str:
    return f"{np.percentile(np.asarray(values) * 1000, q):8.2f} ms" if len(values) else "   n/a"


def report(backend: str, make, args) -> dict:
    print(
        f"== {backend}: paced ingest {args.rate} events/s for {args.seconds:.0f} s, "
        f"batch {BATCH} / {LATENCY} s, a reader process following and querying"
    )
    r = paced(make("paced"), args.rate, args.seconds)
    sustained = r["stored"] / r["time"]
    print(
        f"  stored            {r['stored']:>10,} of {r['produced']:,} events "
        f"(integrity: {r['integrity']})"
    )
    print(
        f"  sustained         {sustained:>10,.0f} events/s "
        f"(largest backlog before a commit: {r['backlog']:,} events)"
    )
    print(
        f"  commits           {len(r['commits']):>10,}   p50 {ms(r['commits'], 50)}   "
        f"p99 {ms(r['commits'], 99)}   max {ms(r['commits'], 100)}"
    )
    print(
        f"  reader follow     {len(r['follow']):>10,}   p50 {ms(r['follow'], 50)}   "
        f"p99 {ms(r['follow'], 99)}   max {ms(r['follow'], 100)}"
    )
    print(
        f"  reader last 2 s   {len(r['window']):>10,}   p50 {ms(r['window'], 50)}   "
        f"p99 {ms(r['window'], 99)}   max {ms(r['window'], 100)}"
    )
    rows = np.mean(r["window_rows"]) if r["window_rows"] else 0
    print(f"  (a 2 s window held {rows:,.0f} events on average)")
    lags = np.asarray(r["lags"]) / 1000
    print(
        f"  arrival → seen by reader       p50 {ms(lags, 50)}   p99 {ms(lags, 99)}   "
        f"(reader saw {r['seen']:,} events)"
    )
    n = 100_000
    rate, commits = flat_out(make("flat"), n)
    print(f"  flat out, {n:,} events in batches of {BATCH}")
    print(
        f"  throughput        {rate:>10,.0f} events/s   commit p50 {ms(commits, 50)}   "
        f"p99 {ms(commits, 99)}"
    )
    ref = reference(make("reference"), args.reference_seconds)
    print(f"  reference (one INSERT + COMMIT per event): {ref:>10,.0f} events/s")
    kept_up = r["stored"] == r["produced"] and sustained >= 0.98 * args.rate
    return {
        "sustained": sustained,
        "flat": rate,
        "reference": ref,
        "follow_p99": np.percentile(np.asarray(r["follow"]) * 1000, 99),
        "window_p99": np.percentile(np.asarray(r["window"]) * 1000, 99),
        "seen_p50": np.percentile(lags * 1000, 50) if len(lags) else float("nan"),
        "kept_up": kept_up,
    }


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=int, default=6000, help="events per second (6000)")
    p.add_argument("--seconds", type=float, default=10.0, help="paced run length (10)")
    p.add_argument("--reference-seconds", type=float, default=3.0)
    p.add_argument("--backends", nargs="+", default=["sqlite", "postgresql"])
    p.add_argument("--postgres", default=os.environ.get("LIQWIDGET_TEST_POSTGRES"))
    args = p.parse_args()
    results = {}
    with (
        tempfile.TemporaryDirectory() as tmp,
        postgres_server(args.postgres if "postgresql" in args.backends else "unused") as server,
    ):
        for backend in args.backends:
            with fresh_stores(backend, server, Path(tmp)) as make:
                results[backend] = report(backend, make, args)
    print()
    print(
        f"{'backend':<12}{'sustained/s':>12}{'kept up':>9}{'flat out/s':>12}{'reference/s':>13}"
        f"{'batched/ref':>12}{'follow p99':>12}{'2 s query p99':>15}{'seen p50':>10}"
    )
    for backend, r in results.items():
        print(
            f"{backend:<12}{r['sustained']:>12,.0f}{'yes' if r['kept_up'] else 'NO':>9}"
            f"{r['flat']:>12,.0f}{r['reference']:>13,.0f}{r['flat'] / r['reference']:>11.1f}x"
            f"{r['follow_p99']:>9.1f} ms{r['window_p99']:>12.1f} ms{r['seen_p50']:>7.0f} ms"
        )


if __name__ == "__main__":
    main()
