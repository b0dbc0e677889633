"""``liqwidget clusters``: print the largest estimated long and short clusters."""

from __future__ import annotations

import argparse

from ..data_sources import SOURCES, load_market
from ..model import ClusterModel


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "clusters",
        help="print the largest estimated liquidation clusters (built-in data by default)",
        description="Estimate liquidation clusters and print the densest long and short bands "
        "with their distance from the last price.",
    )
    p.add_argument("--source", choices=SOURCES, default="sample", help="data (default: sample)")
    p.add_argument("--top", type=int, default=5, help="bands per side (default 5)")
    p.add_argument("--band", type=float, default=0.25, help="band width in %% of price (0.25)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    market = load_market(args.source)
    est = ClusterModel().estimate(market)
    price = est.price_at()
    top = est.top_clusters(n=args.top, bin_width=args.band / 100)
    print(f"{market!r}")
    print(f"model: {ClusterModel()!r} (defaults); last price {price:,.2f}")
    print(
        "Estimated clusters are a model of where liquidations would trigger, not a list of orders."
    )
    for side, where in (("short", "above"), ("long", "below")):
        rows = top[top["side"] == side]
        print(f"\nLargest {side} clusters ({where} price):")
        print(f"  {'price':>12}  {'distance':>9}  {'est. notional':>15}")
        for r in rows.itertuples():
            print(f"  {r.price:12,.0f}  {r.distance:+9.2%}  {r.notional / 1e6:12,.1f} M$")
        if rows.empty:
            print("  (none)")
    return 0
