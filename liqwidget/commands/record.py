"""``liqwidget record``: record live liquidations from exchange streams into the store."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from pathlib import Path

from ..feeds import feed_info
from ..names import MarketNameError, check_exchange
from ..store import STORE_HELP, Store, StoreError

EXCHANGES = "binanceusdm, bybit, okx"  # tested ones; ccxt is imported only when run

log = logging.getLogger("liqwidget.record")


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "record",
        help="record live liquidations from exchanges into the store (via ccxt.pro)",
        description="Record liquidations from the exchanges' public streams until stopped "
        "with Ctrl-C or SIGTERM. Reconnects on its own; blind stretches are stored as gaps.",
    )
    add_recording_options(p)
    p.set_defaults(func=run)


def add_recording_options(p: argparse.ArgumentParser) -> None:
    """The options of everything that records liquidations (``record`` and ``live``)."""
    p.add_argument(
        "streams",
        nargs="+",
        metavar="EXCHANGE[=SYMBOL,...]",
        help=f"ccxt exchange ids ({EXCHANGES}), optionally with their own symbols",
    )
    p.add_argument(
        "--symbols",
        nargs="+",
        default=["BTC/USDT:USDT"],
        help="symbols for exchanges given without '=' (default BTC/USDT:USDT)",
    )
    p.add_argument("--store", help=STORE_HELP)
    p.add_argument("--batch-size", type=int, default=500, help="events per commit (500)")
    p.add_argument("--max-latency", type=float, default=1.0, help="max s before commit (1)")
    p.add_argument("--backoff", type=float, default=1.0, help="first reconnect wait, s (1)")
    p.add_argument("--backoff-cap", type=float, default=60.0, help="longest wait, s (60)")
    p.add_argument("--status-every", type=float, default=60.0, help="s between status lines")
    p.add_argument(
        "--health-file", help="JSON health file (default: <store>.health.json beside the store)"
    )
    p.add_argument("--no-backfill", action="store_true", help="no REST backfill of gaps")
    p.add_argument("--api-base", help="send API calls to this mirror, e.g. http://127.0.0.1:8080")


def recorder_settings(args: argparse.Namespace):
    """:class:`RecorderSettings` from :func:`add_recording_options`' options."""
    from ..sources.recorder import RecorderSettings

    return RecorderSettings(
        batch_size=args.batch_size,
        max_latency=args.max_latency,
        backoff_base=args.backoff,
        backoff_cap=args.backoff_cap,
        backfill=not args.no_backfill,
        health_file=Path(args.health_file) if args.health_file else None,
    )


def parse_streams(items: list[str], symbols: list[str]) -> dict[str, list[str]]:
    """``["binanceusdm", "okx=BTC/USDT:USDT,ETH/USDT:USDT"]`` → {exchange: [symbols]}."""
    streams: dict[str, list[str]] = {}
    for item in items:
        ex, _, listed = item.partition("=")
        chosen = [s.strip() for s in listed.split(",") if s.strip()] if listed else symbols
        # Symbols are checked against the exchange's own market list when recording starts.
        check_exchange(ex.strip())
        known = streams.setdefault(ex.strip(), [])
        known.extend(s for s in dict.fromkeys(chosen) if s not in known)
    return streams


def run(args: argparse.Namespace) -> int:
    from ..sources.exchanges import ExchangeDataError
    from ..sources.recorder import Recorder

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    settings = recorder_settings(args)
    try:
        streams = parse_streams(args.streams, args.symbols)
    except MarketNameError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    try:
        with Store(args.store) as store:
            recorder = Recorder(store, streams, settings=settings, api_base=args.api_base)
            print(f"recording into {store.location} (Ctrl-C to stop)", flush=True)
            if recorder.health_path is not None:
                print(f"  health: {recorder.health_path}", flush=True)
            for ex, symbols in streams.items():
                info = feed_info(ex)
                print(f"  {ex}: {', '.join(symbols)}", flush=True)
                if info.undercounts:
                    print(f"    note: {info.note}", flush=True)
            asyncio.run(_record(recorder, args.status_every))
    except (ExchangeDataError, StoreError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print("stopped cleanly; everything received is committed", flush=True)
    for ex, health in recorder.health().items():
        print(f"  {ex}: {health.line()}", flush=True)
    return 0


async def _record(recorder, status_every: float):
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, recorder.stop)

    async def status():
        while True:
            await asyncio.sleep(status_every)
            for ex, health in recorder.health().items():
                (log.warning if health.warning else log.info)("%s: %s", ex, health.line())

    reporter = asyncio.create_task(status())
    try:
        return await recorder.run()
    finally:
        reporter.cancel()
