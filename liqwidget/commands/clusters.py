"""``liqwidget clusters``: print the largest estimated long and short clusters."""

from __future__ import annotations

import argparse

from ..escape import terminal_text
from ..fmt import money
from ..model import ClusterModel
from ..sources.dataset import SOURCES, load_source
from ..store import STORE_HELP


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clusters",
        help="print the largest estimated liquidation clusters (built-in data by default)",
        description="Estimate liquidation clusters and print the densest long and short bands "
        "with their distance from the last price.",
    )
    p.add_argument(
        "--source", choices=SOURCES, default="sample", help="data to use (default: sample)"
    )
    p.add_argument("--top", type=int, default=5, help="bands per side (default 5)")
    p.add_argument("--band", type=float, default=0.25, help="band width in %% of price (0.25)")
    p.add_argument("--store", default=None, help=STORE_HELP + "; for --source store")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    data = load_source(args.source, store_path=args.store)
    market = data.market
    est = ClusterModel().estimate(market)
    price = est.price_at()
    top = est.top_clusters(n=args.top, bin_width=args.band / 100)
    print(terminal_text(f"{data.name}: {data.origin}"))
    print(terminal_text(f"{market!r}; last price {price:,.2f}"))
    print(
        "Estimated clusters come from a model of where forced closes would trigger "
        "(default ClusterModel); they are not a list of orders."
    )
    for side, where in (("short", "above"), ("long", "below")):
        rows = top[top["side"] == side]
        print(f"\nLargest {side} clusters ({where} price):")
        print(f"  {'price':>12}  {'distance':>9}  {'est. notional':>15}")
        for r in rows.itertuples():
            print(f"  {r.price:12,.0f}  {r.distance:+9.2%}  {money(r.notional):>15}")
        if rows.empty:
            print("  (none)")
    return 0
