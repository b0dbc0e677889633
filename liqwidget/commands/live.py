"""``liqwidget live``: the long-running process behind an always-current map and site."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

import pandas as pd

from ..feeds import feed_info
from ..store import Store, StoreError
from .record import add_recording_options, parse_streams, recorder_settings


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "live",
        help="record liquidations, keep candles/OI current and publish the live map and site",
        description="One long-running process: records liquidations (as `record` does), "
        "keeps candles and open interest current (polled after each bar closes, with "
        "backfill after a restart), re-estimates the displayed window after each bar and "
        "rewrites the live page's data file in the site folder; optionally rebuilds the site "
        "when a snapshot cadence mark passes. Stop with Ctrl-C or SIGTERM.",
    )
    add_recording_options(p)
    p.add_argument(
        "--out", type=Path, default=Path("public"), help="site folder to publish into (public)"
    )
    p.add_argument("--timeframe", "-t", default="1m", help="bar length (1m)")
    p.add_argument("--window", default="3D", help="time span the live map shows (3D)")
    p.add_argument(
        "--settle", type=float, default=2.0, help="s after a bar's close before asking for it (2)"
    )
    p.add_argument("--page-poll", type=float, default=5.0, help="s between page polls (5)")
    p.add_argument(
        "--events-every", type=float, default=2.0, help="s between liquidation republishes (2)"
    )
    p.add_argument(
        "--cadence", help="post a snapshot (rebuild the site) at every multiple of this, e.g. 6h"
    )
    p.add_argument("--project", type=Path, help="folder with mkdocs.yml, for --cadence builds")
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="learn each map's leverage mix from the liquidations recorded in its window "
        "(the prior mix stands until there are enough); cadence builds calibrate too",
    )
    p.add_argument("--calibrate-every", default="6h", help="how often the mix is refitted (6h)")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from ..live.runner import LiveRunner, LiveSettings
    from ..sources.exchanges import ExchangeDataError

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        every = pd.Timedelta(args.calibrate_every)
    except ValueError:
        every = None
    if every is None or not every > pd.Timedelta(0):
        print(
            f"error: --calibrate-every must be a positive duration such as 6h, got "
            f"{args.calibrate_every!r}",
            file=sys.stderr,
        )
        return 2
    settings = LiveSettings(
        timeframe=args.timeframe,
        window=args.window,
        settle=args.settle,
        poll_seconds=args.page_poll,
        events_every=args.events_every,
        status_every=args.status_every,
        cadence=args.cadence,
        project=args.project,
        calibrate=args.calibrate,
        calibrate_every=args.calibrate_every,
    )
    rec = recorder_settings(args)
    streams = parse_streams(args.streams, args.symbols)
    try:
        with Store(args.store) as store:
            runner = LiveRunner(
                store, streams, args.out, settings, recorder_settings=rec, api_base=args.api_base
            )
            print(f"live: store {store.location}, publishing into {args.out.resolve()}", flush=True)
            for ex, symbols in streams.items():
                print(f"  {ex}: {', '.join(symbols)}", flush=True)
                info = feed_info(ex)
                if info.undercounts:
                    print(f"    note: {info.note}", flush=True)
            print(f"  live page: {args.out.resolve() / 'embed' / 'live.html'}", flush=True)
            asyncio.run(_live(runner))
    except (ExchangeDataError, StoreError, ValueError) as exc:
        print(f"error: {' '.join(str(exc).split())}", file=sys.stderr)
        return 1
    print("stopped cleanly; everything received is committed", flush=True)
    for line in runner.status_lines():
        print(f"  {line}", flush=True)
    return 0


async def _live(runner) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runner.stop)
    await runner.run()
