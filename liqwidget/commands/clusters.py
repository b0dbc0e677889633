"""``liqwidget clusters``: print the largest estimated long and short clusters."""

from __future__ import annotations

import argparse

from ..escape import terminal_text
from ..fmt import money
from ..model import ClusterModel
from ..sources.dataset import DEFAULT_MARKETS, SIM_MARKETS, SOURCES, load_markets
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
    p.add_argument(
        "--markets",
        default=",".join(DEFAULT_MARKETS),
        help=f"simulated markets for --source sim, from {', '.join(SIM_MARKETS)}",
    )
    p.add_argument(
        "--symbol",
        help="store symbols, comma-separated (default: every coin, summed over exchanges)",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    markets = [m.strip() for m in args.markets.split(",") if m.strip()]
    symbols = [s.strip() for s in args.symbol.split(",")] if args.symbol else None
    for i, data in enumerate(
        load_markets(args.source, markets=markets, store_path=args.store, symbols=symbols)
    ):
        if i:
            print()
        _print_market(data, args.top, args.band)
    return 0


def _print_market(data, top_n: int, band: float) -> None:
    market = data.market
    est = ClusterModel().estimate(market)
    price = est.price_at()
    top = est.top_clusters(n=top_n, bin_width=band / 100)
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
