"""Benchmark: estimate_many over many synthetic markets — serial vs Dask.

Usage: python benchmarks/bench_many.py [--markets 64] [--bars 525600] [--workers 2]

The same markets (one year of one-minute bars each by default, built from a seed where they
are estimated) are estimated three ways, and the results must be identical:

1. **serial** — the plain reference: one market after another in this process;
2. **LocalCluster** — ``estimate_many`` on a local cluster of ``--workers`` processes;
3. **loopback scheduler** — a ``dask scheduler`` and ``--workers`` ``dask worker``
   processes started on 127.0.0.1, reached by address as a remote cluster would be.

Cluster start-up (with one small warm-up estimate in every worker) is timed apart from the
work. Speed-up = serial time / cluster time.
"""

from __future__ import annotations

import argparse
import os
import time
from functools import partial

import distributed
import pandas as pd

from liqwidget.cluster import dask_client, loopback_cluster
from liqwidget.many import estimate_many
from liqwidget.synthetic import synthetic_market


def warm_up(client) -> None:
    """Import and run the model once in every worker, so that start-up is not timed as work."""
    tiny = {"warm-up": partial(synthetic_market, 2_000)}
    workers = list(client.scheduler_info(n_workers=-1)["workers"])
    client.gather(
        [
            client.submit(estimate_many, tiny, scheduler="serial", workers=[w], pure=False)
            for w in workers
        ]
    )


def run(markets: dict, scheduler) -> tuple[float, object]:
    t = time.perf_counter()
    result = estimate_many(markets, scheduler=scheduler)
    return time.perf_counter() - t, result


def same(a, b) -> bool:
    try:
        pd.testing.assert_frame_equal(a.summary, b.summary)
        pd.testing.assert_frame_equal(a.clusters, b.clusters)
    except AssertionError:
        return False
    return True


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--markets", type=int, default=64)
    ap.add_argument("--bars", type=int, default=525_600, help="one-minute bars per market")
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    markets = {
        f"synthetic-{i:02d}": partial(synthetic_market, args.bars, seed=1000 + i)
        for i in range(args.markets)
    }
    total = args.markets * args.bars
    print(
        f"{args.markets} markets x {args.bars:,} one-minute bars = {total:,} bars; "
        f"{os.cpu_count()} cores; load average {os.getloadavg()[0]:.1f} at start"
    )
    rows = []
    serial_s, serial = run(markets, "serial")
    rows.append(("serial (reference)", 0.0, serial_s, True))

    t = time.perf_counter()
    with dask_client(n_workers=args.workers) as client:
        warm_up(client)
        start = time.perf_counter() - t
        secs, local = run(markets, client)
    rows.append((f"LocalCluster, {args.workers} workers", start, secs, same(serial, local)))

    t = time.perf_counter()
    with loopback_cluster(args.workers) as cluster, distributed.Client(cluster.address) as c:
        warm_up(c)
        start = time.perf_counter() - t
        secs, remote = run(markets, cluster.address)
    rows.append((f"loopback scheduler, {args.workers} workers", start, secs, same(serial, remote)))

    print(f"{'how':<32}{'start-up s':>11}{'work s':>9}{'bars/s':>13}{'speed-up':>10}  identical")
    for name, start, secs, ok in rows:
        print(
            f"{name:<32}{start:>11.1f}{secs:>9.1f}{total / secs:>13,.0f}"
            f"{serial_s / secs:>9.2f}x  {'yes' if ok else 'NO'}"
        )
    print(f"load average {os.getloadavg()[0]:.1f} at the end (other processes share the cores)")
    if not all(ok for *_, ok in rows):
        raise SystemExit("results differ between serial and Dask runs")


if __name__ == "__main__":
    main()
