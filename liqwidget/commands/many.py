"""``liqwidget estimate-many``: every stored market estimated in parallel on Dask."""

from __future__ import annotations

import argparse
import sys

from ..store import STORE_HELP

SCHEDULER_HELP = (
    "Dask scheduler address, e.g. tcp://10.0.0.5:8786 (default: a local cluster with one "
    "worker per core, for this run only)"
)


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "estimate-many",
        help="estimate many stored markets in parallel on Dask and print a summary",
        description="Run the cluster model over every stored market (or those given with "
        "--market) on a Dask cluster; print per-market totals, the densest clusters and, where "
        "liquidations were recorded, the timing scores.",
    )
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument(
        "--market",
        nargs=3,
        action="append",
        metavar=("EXCHANGE", "SYMBOL", "TIMEFRAME"),
        help="one market, e.g. --market bybit BTC/USDT:USDT 5m (repeatable; default: all)",
    )
    p.add_argument("--scheduler", help=SCHEDULER_HELP)
    p.add_argument("--workers", type=int, help="local cluster size (default: one per core)")
    p.add_argument("--top", type=int, default=3, help="clusters per side to list (3)")
    p.add_argument("--out", help="also write the summary to this .csv or .parquet file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    import pandas as pd

    from ..cluster import ClusterError
    from ..many import EstimateManyError, StoredMarket, estimate_many
    from ..store import Store, StoreError

    try:
        if args.market:
            markets = [StoredMarket(*m) for m in args.market]
        else:
            with Store(args.store) as store:
                series = store.series()
            if series.empty:
                raise StoreError("the store holds no bars; run `liqwidget fetch` first")
            markets = [StoredMarket(r.exchange, r.symbol, r.timeframe) for r in series.itertuples()]
        with pd.option_context("display.width", 160, "display.max_columns", 20):
            result = estimate_many(
                markets,
                scheduler=args.scheduler,
                n_workers=args.workers,
                store=args.store,
                top=args.top,
            )
            print(result.summary.drop(columns="digest").to_string())
            print()
            print(result.clusters.to_string(index=False))
            if len(result.scores):
                print()
                print(result.scores.to_string(index=False))
    except (ClusterError, EstimateManyError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.out:
        if args.out.endswith(".parquet"):
            result.summary.to_parquet(args.out)
        else:
            result.summary.to_csv(args.out)
        print(f"summary written to {args.out}")
    return 0
