"""``liqwidget fetch``: candles and open-interest history from an exchange into the store."""

from __future__ import annotations

import argparse
import logging
import sys

import pandas as pd

from ..names import check_exchange, check_symbol, cli_type
from ..store import STORE_HELP, Store, StoreError
from ..times import utc_flag

EXCHANGES = "binanceusdm, binancecoinm, bybit, okx"  # tested ones; ccxt is imported only when run


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "fetch",
        help="fetch candles and open interest from an exchange into the store (via ccxt)",
        description="Fetch candles and open-interest history through ccxt into the local "
        "store. Only the part of the range not fetched before is requested. Times are UTC.",
    )
    p.add_argument(
        "exchange", type=cli_type(check_exchange), help=f"ccxt exchange id, e.g. {EXCHANGES}"
    )
    p.add_argument(
        "symbol", type=cli_type(check_symbol), help="ccxt unified symbol, e.g. BTC/USDT:USDT"
    )
    p.add_argument("--timeframe", "-t", default="5m", help="bar length (default 5m)")
    p.add_argument(
        "--start",
        help="first bar in UTC, e.g. 2026-06-01 (default: --days before end)",
    )
    p.add_argument("--end", help="last bar in UTC (default: the last closed bar)")
    p.add_argument("--days", type=float, default=7.0, help="length when --start is not given (7)")
    p.add_argument("--no-oi", action="store_true", help="candles only, no open interest")
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--page", type=int, help="rows per request (default: the exchange maximum)")
    p.add_argument("--retries", type=int, default=6, help="tries per request (default 6)")
    p.add_argument("--backoff", type=float, default=1.0, help="first retry wait, s (default 1)")
    p.add_argument("--api-base", help="send API calls to this mirror, e.g. http://127.0.0.1:8080")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..sources.exchanges import ExchangeDataError
    from ..sources.fetch import Retry, fetch_history

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    end = utc_flag(args.end) if args.end else pd.Timestamp.now(tz="UTC")
    start = utc_flag(args.start) if args.start else end - pd.Timedelta(days=args.days)
    try:
        with Store(args.store) as store:
            print(f"fetching {args.exchange} {args.symbol} {args.timeframe} {start} → {end}")
            print(f"store: {store.location}")
            report = fetch_history(
                store,
                args.exchange,
                args.symbol,
                args.timeframe,
                start,
                end if args.end else None,
                open_interest=not args.no_oi,
                page_limit=args.page,
                retry=Retry(attempts=args.retries, base=args.backoff),
                progress=_Progress(),
                api_base=args.api_base,
            )
    except (ExchangeDataError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for note in report.skipped:
        print(f"note: {note}")
    if report.refused:
        print(
            f"refused: {len(report.refused)} malformed row(s), not stored; the next fetch asks "
            f"for them again (first: {report.refused[0]})"
        )
    print(
        f"done: {report.bars} bars and {report.open_interest} open-interest samples stored "
        f"({report.requests} requests, retries included)"
    )
    return 0


class _Progress:
    """Prints ``dataset: done/total pages`` on stderr; in place on a terminal."""

    def __init__(self):
        self.tty = sys.stderr.isatty()
        self.last = -1

    def __call__(self, dataset: str, done: int, total: int) -> None:
        if total == 0:
            print(f"  {dataset}: already in the store", file=sys.stderr)
            return
        pct = 100 * done // total
        if self.tty:
            end = "\n" if done == total else ""
            print(f"\r  {dataset}: {done}/{total} pages ({pct}%)", end=end, file=sys.stderr)
        elif done in (0, total) or pct // 10 != self.last // 10:
            print(f"  {dataset}: {done}/{total} pages ({pct}%)", file=sys.stderr)
        self.last = pct if done < total else -1
