"""Benchmark: sustained liquidation ingest into the store while a reader queries it.

Usage: python benchmarks/bench_store.py [--rate 5000] [--seconds 10] [--reference-seconds 3]

Three runs, each on a fresh store file in a temporary directory:

1. **paced** — events arrive at ``--rate`` per second for ``--seconds``; they are committed
   the way ``liqwidget record`` does it (a batch when 500 are waiting or the oldest has waited
   0.25 s) through ``Store.write_liquidations``. Meanwhile a reader in a separate process
   follows the store with ``Store.events_since`` and, every 200 ms, loads the last 2 seconds with
   ``Store.load_liquidations``. Prints achieved events/s, commit latency, reader query times
   and how long an event took from arrival until the reader saw it.
2. **flat out** — the same batches written as fast as possible (the ceiling).
3. **reference** — the plain way: one INSERT and one COMMIT per event (sqlite3 defaults,
   same table), for ``--reference-seconds``.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import sqlite3
import tempfile
import time
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


def paced(path: Path, rate: int, seconds: float) -> dict:
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


def flat_out(path: Path, n: int) -> tuple[float, list[float]]:
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


def reference(path: Path, seconds: float) -> float:
    """One INSERT + COMMIT per event with sqlite3 defaults (rollback journal)."""
    from liqwidget.store import _SCHEMA

    db = sqlite3.connect(path)
    db.executescript(_SCHEMA)
    frame = make_events(0, 200_000, 1_780_000_000_000)
    rows = list(
        zip(
            frame["exchange"],
            frame["symbol"],
            frame["time"].astype("int64") // 1_000_000,
            frame["side"],
            frame["price"],
            frame["notional"] / frame["price"],
            frame["notional"],
            strict=True,
        )
    )
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds and n < len(rows):
        db.execute(
            "INSERT OR IGNORE INTO liquidations (exchange, symbol, ts, side, price, amount, "
            "notional, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
            rows[n],
        )
        db.commit()
        n += 1
    rate = n / (time.perf_counter() - start)
    db.close()
    return rate


def ms(values, q) -> str:
    return f"{np.percentile(np.asarray(values) * 1000, q):8.2f} ms" if len(values) else "   n/a"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--rate", type=int, default=6000, help="events per second (6000)")
    p.add_argument("--seconds", type=float, default=10.0, help="paced run length (10)")
    p.add_argument("--reference-seconds", type=float, default=3.0)
    args = p.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        print(
            f"paced ingest: {args.rate} events/s for {args.seconds:.0f} s, "
            f"batch {BATCH} / {LATENCY} s, a reader process following and querying"
        )
        r = paced(tmp / "paced.sqlite", args.rate, args.seconds)
        print(
            f"  stored            {r['stored']:>10,} of {r['produced']:,} events "
            f"(integrity: {r['integrity']})"
        )
        print(
            f"  sustained         {r['stored'] / r['time']:>10,.0f} events/s "
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
        rate, commits = flat_out(tmp / "flat.sqlite", n)
        print(f"flat out: {n:,} events in batches of {BATCH}")
        print(
            f"  throughput        {rate:>10,.0f} events/s   commit p50 {ms(commits, 50)}   "
            f"p99 {ms(commits, 99)}"
        )

        ref = reference(tmp / "reference.sqlite", args.reference_seconds)
        print("reference: one INSERT + COMMIT per event, sqlite3 defaults")
        print(f"  throughput        {ref:>10,.0f} events/s")
        print(
            f"batched store vs reference: {rate / ref:,.1f}x faster flat out; "
            f"paced {args.rate:,}/s with a reader: "
            f"{'kept up' if r['stored'] / r['time'] >= 0.98 * args.rate else 'FELL BEHIND'}"
        )


if __name__ == "__main__":
    main()
