"""The ``fetch`` and ``record`` sub-commands are registered and parse their arguments."""

from __future__ import annotations

from liqwidget.cli import build_parser
from liqwidget.commands.record import parse_streams


def test_commands_are_registered():
    parser = build_parser()
    args = parser.parse_args(["fetch", "okx", "BTC/USDT:USDT", "-t", "1h", "--days", "2"])
    assert (args.exchange, args.symbol, args.timeframe, args.days) == (
        "okx",
        "BTC/USDT:USDT",
        "1h",
        2.0,
    )
    args = parser.parse_args(["record", "binanceusdm", "bybit=ETH/USDT:USDT"])
    assert args.streams == ["binanceusdm", "bybit=ETH/USDT:USDT"]
    assert args.symbols == ["BTC/USDT:USDT"] and args.max_latency == 1.0


def test_stream_specs():
    streams = parse_streams(
        ["binanceusdm", "okx=BTC/USDT:USDT,ETH/USDT:USDT", "okx=ETH/USDT:USDT,SOL/USDT:USDT"],
        ["BTC/USDT:USDT", "ETH/USDT:USDT"],
    )
    assert streams == {
        "binanceusdm": ["BTC/USDT:USDT", "ETH/USDT:USDT"],
        "okx": ["BTC/USDT:USDT", "ETH/USDT:USDT", "SOL/USDT:USDT"],
    }
