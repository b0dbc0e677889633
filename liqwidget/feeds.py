"""What each exchange's public liquidation feed can be trusted for.

Some exchanges throttle their public liquidation stream: in a cascade many positions are
closed in the same second but only one order per symbol per second is published, so
recorded totals are a lower bound. The UI reads :data:`FEEDS` (or :func:`feed_info`) to say
so next to the Real layer.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FeedInfo:
    """How complete an exchange's public liquidation feed is, and how to read its fields."""

    exchange: str
    complete: bool
    note: str
    price: str = "fill price"
    #: ccxt ``side`` of a liquidation message that means a *long* position was liquidated.
    long_side: str = "sell"

    @property
    def undercounts(self) -> bool:
        return not self.complete


FEEDS: dict[str, FeedInfo] = {
    "binanceusdm": FeedInfo(
        "binanceusdm",
        complete=False,
        note="Binance publishes at most one liquidation per symbol per second (the latest); "
        "totals in busy seconds are a lower bound.",
        price="average fill price",
        long_side="sell",
    ),
    "binancecoinm": FeedInfo(
        "binancecoinm",
        complete=False,
        note="Binance COIN-M, like USDⓈ-M, publishes at most one liquidation per symbol per "
        "second (the latest); totals in busy seconds are a lower bound.",
        price="average fill price",
        long_side="sell",
    ),
    "bybit": FeedInfo(
        "bybit",
        complete=True,
        note="Bybit's allLiquidation stream publishes every liquidation.",
        price="bankruptcy price",
        long_side="buy",  # Bybit reports the side of the liquidated position
    ),
    "okx": FeedInfo(
        "okx",
        complete=False,
        note="OKX's public liquidation channel is not a complete record (its API notes "
        "describe sampling, at most one order per contract per second); totals in busy "
        "seconds are a lower bound.",
        price="bankruptcy price",
        long_side="sell",
    ),
}


def completeness_line(exchanges) -> str:
    """One sentence on how complete a Real layer summed over these feeds is."""
    infos = [feed_info(e) for e in dict.fromkeys(exchanges)]
    full = [i.exchange for i in infos if i.complete]
    part = [i.exchange for i in infos if not i.complete]
    said = []
    if full:
        said.append(f"complete from {', '.join(full)}")
    if part:
        said.append(f"sampled from {', '.join(part)} (a lower bound there)")
    return f"Real liquidations summed over {len(infos)} feed(s): " + "; ".join(said)


def feed_info(exchange: str) -> FeedInfo:
    """Feed facts for an exchange id; unknown exchanges are reported as not known complete."""
    if exchange in FEEDS:
        return FEEDS[exchange]
    return FeedInfo(
        exchange,
        complete=False,
        note=f"Completeness of {exchange}'s liquidation feed is unknown; treat totals as a "
        "lower bound.",
    )
