"""Named built-in data sources used by the command line and the site builder."""

from __future__ import annotations

from .market import MarketData, load_sample

SOURCES = ("sample",)


def load_market(source: str = "sample") -> MarketData:
    """Bars from a named built-in source: ``sample`` is the real Binance BTCUSDT 5m file."""
    if source == "sample":
        return load_sample()
    raise ValueError(f"unknown data source {source!r}; choose one of {SOURCES}")
