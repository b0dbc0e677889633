"""Benchmark: from a bar's close to the live data file rewritten, and memory over a long run.

Usage: python benchmarks/bench_live.py [--days 7] [--bars 30] [--long-bars 1500]
                                       [--long-window 1D]

A store is filled with ``--days`` of synthetic 1-minute bars, open interest and a steady
trickle of recorded liquidations. Then, ``--bars`` times, one more bar (and its open
interest and liquidations) is committed to the store — the moment the live process has the
closed bar — and the time until the data file is rewritten is measured two ways, in the
same run, on the same store:

1. **live** — what ``liqwidget live`` does: ``MarketWindow.refresh`` reads only the newest
   bars and the liquidations since the last refresh, then ``LiveMap.publish`` re-estimates
   the window and rewrites the file atomically;
2. **reference** — the plain way: load the whole window and all its liquidations from the
   store again, re-estimate, rewrite the file.

Both files must carry the same numbers (checked). Wall time and the process's CPU time
are printed (on a busy machine the CPU time says what the work itself costs). Then the live path runs for
``--long-bars`` bars over a ``--long-window`` window and prints the resident memory every
tenth of the run: it must stay flat (the window has a fixed length), not grow with the
number of bars processed.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from liqwidget.live.publish import LiveMap, data_path
from liqwidget.live.window import MarketWindow
from liqwidget.store import Store

EX, SYM, TF = "binanceusdm", "BTC/USDT:USDT", "1m"
STEP = 60_000


def synthetic(n: int, start_ms: int, seed: int = 0):
    """``n`` one-minute bars (ccxt OHLCV rows) and OI rows, a random walk with moving OI."""
    rng = np.random.default_rng(seed)
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 7e-4, n)))
    open_ = np.r_[close[0], close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 4e-4, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 4e-4, n)))
    oi = 80_000 * np.exp(np.cumsum(rng.normal(0, 1e-3, n)))  # contracts (BTC)
    ts = start_ms + STEP * np.arange(n)
    bars = [
        [int(t), float(o), float(h), float(lo), float(c), 10.0]
        for t, o, h, lo, c in zip(ts, open_, high, low, close, strict=True)
    ]
    ois = [(int(t), float(a), None, 1.0) for t, a in zip(ts, oi, strict=True)]
    return bars, ois


def events_for(bars: list) -> pd.DataFrame:
    """Two liquidations per bar, at its low (long) and high (short)."""
    rows = []
    for t, _o, h, lo, _c, _v in bars:
        rows.append((t + 20_000, "long", lo, 25_000.0))
        rows.append((t + 40_000, "short", h, 18_000.0))
    frame = pd.DataFrame(rows, columns=["ms", "side", "price", "notional"])
    frame.insert(0, "time", pd.to_datetime(frame.pop("ms"), unit="ms", utc=True))
    frame["exchange"], frame["symbol"] = EX, SYM
    return frame


def add_bar(store: Store, bar: list, oi: tuple) -> None:
    store.write_bars(EX, SYM, TF, [bar])
    store.write_open_interest(EX, SYM, TF, [oi])
    store.write_liquidations(events_for([bar]))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * resource.getpagesize() / 2**20


def reference_publish(store: Store, live: LiveMap, root: Path, now: pd.Timestamp) -> None:
    """The plain way: everything for the window from the store, re-estimated, written."""
    market = store.load_market(EX, SYM, TF, start=now - live.window)
    events = store.load_liquidations(EX, SYM, start=market.index[0])
    live.publish(root, market, events)


def latency_run(days: float, bars: int, tmp: Path) -> None:
    n0 = int(days * 1440)
    all_bars, all_oi = synthetic(n0 + bars, start_ms=1_780_000_000_000 // STEP * STEP)
    store = Store(tmp / "bench.sqlite")
    store.write_bars(EX, SYM, TF, all_bars[:n0])
    store.write_open_interest(EX, SYM, TF, all_oi[:n0])
    store.write_liquidations(events_for(all_bars[:n0]))
    live = LiveMap(EX, SYM, TF, window=pd.Timedelta(days=days))
    window = MarketWindow(store, EX, SYM, TF, live.window)
    now = pd.Timestamp(all_bars[n0 - 1][0] + STEP, unit="ms", tz="UTC")
    window.refresh(now)
    live.publish(tmp / "live", window.market, window.events)  # warm up (imports, caches)
    reference_publish(store, live, tmp / "ref", now)

    t_live, t_ref, c_live, c_ref = [], [], [], []
    for k in range(n0, n0 + bars):
        add_bar(store, all_bars[k], all_oi[k])
        now = pd.Timestamp(all_bars[k][0] + STEP, unit="ms", tz="UTC")
        t, c = time.perf_counter(), time.process_time()
        window.refresh(now)
        live.publish(tmp / "live", window.market, window.events)
        t_live.append(time.perf_counter() - t)
        c_live.append(time.process_time() - c)
        t, c = time.perf_counter(), time.process_time()
        reference_publish(store, live, tmp / "ref", now)
        t_ref.append(time.perf_counter() - t)
        c_ref.append(time.process_time() - c)
        a = json.loads(data_path(tmp / "live", live.slug).read_text())
        b = json.loads(data_path(tmp / "ref", live.slug).read_text())
        for doc in (a, b):
            doc.pop("written")
        assert a == b, f"bar {k}: the live path and the reference wrote different files"
    size = data_path(tmp / "live", live.slug).stat().st_size
    print(
        f"window: {days:g} days of 1-minute bars ({len(window.market):,} bars, "
        f"{len(window.events):,} liquidations); data file {size / 1024:.0f} KiB"
    )
    print(f"  machine load average at the end: {os.getloadavg()[0]:.1f} ({os.cpu_count()} cores)")
    rows = (("live (incremental read)", t_live, c_live), ("reference (full reload)", t_ref, c_ref))
    for name, ts, cs in rows:
        arr = np.array(ts) * 1000
        print(
            f"  {name:<24} bar close → file rewritten: median {np.median(arr):7.1f} ms, "
            f"p90 {np.percentile(arr, 90):7.1f} ms, max {arr.max():7.1f} ms  ({len(arr)} bars); "
            f"CPU time median {1000 * np.median(cs):6.1f} ms"
        )
    print(
        f"  files identical in all {bars} bars; live is "
        f"{np.median(t_ref) / np.median(t_live):.2f}x the reference's speed (median)"
    )
    store.close()


def memory_run(long_bars: int, window: str, tmp: Path) -> None:
    win = pd.Timedelta(window)
    n0 = int(win / pd.Timedelta("1min"))
    all_bars, all_oi = synthetic(n0 + long_bars, start_ms=1_780_000_000_000 // STEP * STEP, seed=1)
    store = Store(tmp / "long.sqlite")
    store.write_bars(EX, SYM, TF, all_bars[:n0])
    store.write_open_interest(EX, SYM, TF, all_oi[:n0])
    store.write_liquidations(events_for(all_bars[:n0]))
    live = LiveMap(EX, SYM, TF, window=win)
    mw = MarketWindow(store, EX, SYM, TF, win)
    marks = []
    every = max(long_bars // 10, 1)
    started = time.perf_counter()
    for i, k in enumerate(range(n0, n0 + long_bars)):
        add_bar(store, all_bars[k], all_oi[k])
        mw.refresh(pd.Timestamp(all_bars[k][0] + STEP, unit="ms", tz="UTC"))
        live.publish(tmp / "long", mw.market, mw.events)
        if i % every == 0 or i == long_bars - 1:
            gc.collect()
            marks.append((i + 1, rss_mb(), len(mw.market), len(mw.events)))
    seconds = time.perf_counter() - started
    print(
        f"memory over {long_bars:,} bars with a {window} window "
        f"({seconds:.0f} s, {1000 * seconds / long_bars:.0f} ms per bar):"
    )
    for i, mb, nb, ne in marks:
        print(f"  after {i:>6,} bars: RSS {mb:7.1f} MiB  (window {nb:,} bars, {ne:,} events)")
    second_half = [mb for i, mb, *_ in marks if i > long_bars // 2]
    growth = max(second_half) - min(second_half)
    print(f"  spread of RSS over the second half: {growth:.1f} MiB")
    store.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--days", type=float, default=7.0)
    p.add_argument("--bars", type=int, default=30)
    p.add_argument("--long-bars", type=int, default=1500)
    p.add_argument("--long-window", default="1D")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as d:
        latency_run(args.days, args.bars, Path(d))
        if args.long_bars:
            memory_run(args.long_bars, args.long_window, Path(d))


if __name__ == "__main__":
    main()
