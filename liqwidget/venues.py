"""Markets on one exchange or summed over several (the "aggregated" view).

A :class:`Venue` is one symbol on one exchange: whether it is a linear (USDT-margined) or
inverse (coin-margined) contract, and which liquidation formula and brackets that exchange
uses. :func:`aggregate` lines up several single-exchange :class:`MarketData` on one bar
clock and sums their open interest in quote notional (each already converted from the
exchange's own units when loaded); the per-exchange series stay in the result so the model
can place each exchange's share of new positions with that exchange's formula.

An exchange missing for a stretch of bars is never counted as zero: its open interest is
held at its last known value (or its first, before it appears) and the stretch is listed in
:attr:`MarketData.missing` and logged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from .margin import Brackets
from .market import VENUE_OI, MarketData, MarketDataError

log = logging.getLogger(__name__)

#: The liquidation formula each exchange publishes (see :mod:`liqwidget.margin`).
EXCHANGE_FORMULA = {
    "binanceusdm": "binance",
    "binancecoinm": "binance",
    "bybit": "bybit",
    "okx": "okx",
}


def is_inverse(symbol: str | None) -> bool:
    """Whether a ccxt unified symbol is a coin-margined contract: ``BTC/USD:BTC`` (settled
    in its base coin) is, ``BTC/USDT:USDT`` is not."""
    if not symbol or ":" not in symbol or "/" not in symbol:
        return False
    pair, settle = symbol.split(":", 1)
    base = pair.split("/", 1)[0]
    return settle.split("-", 1)[0] == base


@dataclass(frozen=True)
class Venue:
    """One symbol on one exchange and how its positions are liquidated.

    ``formula`` ``None`` means the model's own formula; ``mmr`` ``None`` the model's rate.
    """

    exchange: str
    symbol: str
    formula: str | None = None
    brackets: Brackets | None = None
    mmr: float | None = None

    @property
    def key(self) -> str:
        return f"{self.exchange} {self.symbol}"

    @property
    def inverse(self) -> bool:
        return is_inverse(self.symbol)

    @classmethod
    def of(cls, exchange: str, symbol: str) -> Venue:
        """The venue with the exchange's published formula (``simple`` if unknown)."""
        return cls(exchange, symbol, EXCHANGE_FORMULA.get(exchange, "simple"))


@dataclass(frozen=True)
class Stretch:
    """Bars ``start``..``end`` (inclusive) where ``venue`` had no data."""

    venue: str
    start: pd.Timestamp
    end: pd.Timestamp
    bars: int

    def __str__(self) -> str:
        return f"{self.venue}: no data for {self.bars} bar(s), {self.start} → {self.end}"


def aggregate(parts: Sequence[MarketData], venues: Sequence[Venue] | None = None) -> MarketData:
    """Sum several single-exchange markets into one, bar by bar.

    Bars are aligned on the union of the parts' bar times (all parts must share one
    timeframe). Prices, volume and taker flow come from the first part that has the bar
    (list the reference exchange first); open interest is the sum of every part's quote
    open interest, with each part's own column kept. ``venues`` defaults to each part's
    exchange and symbol with that exchange's formula.
    """
    parts = list(parts)
    if not parts:
        raise MarketDataError("aggregate() needs at least one market")
    if venues is None:
        venues = [_venue_of(p, i) for i, p in enumerate(parts)]
    venues = list(venues)
    if len(venues) != len(parts):
        raise MarketDataError(f"{len(parts)} markets but {len(venues)} venues")
    keys = [v.key for v in venues]
    if len(set(keys)) != len(keys):
        raise MarketDataError(f"the same exchange and symbol twice in {keys}")
    step = parts[0].timeframe
    for v, p in zip(venues, parts, strict=True):
        if p.timeframe != step:
            raise MarketDataError(
                f"{v.key} has {p.timeframe} bars but {venues[0].key} has {step}; resample "
                "them to one timeframe (MarketData.resample) before aggregating"
            )
    index = parts[0].index
    for p in parts[1:]:
        index = index.union(p.index)
    base = parts[0].frame.drop(columns="open_interest").reindex(index)
    for p in parts[1:]:
        base = base.combine_first(p.frame.drop(columns="open_interest").reindex(index))
    base = base[[c for c in parts[0].frame.columns if c != "open_interest"]]
    missing: list[Stretch] = []
    oi = {}
    for v, p in zip(venues, parts, strict=True):
        col = p.frame["open_interest"].reindex(index)
        holes = col.isna().to_numpy()
        missing += _stretches(v.key, index, holes)
        oi[VENUE_OI + v.key] = col.ffill().bfill().to_numpy()
    for s in missing:
        log.warning("%s; its open interest is held at its last known value", s)
    frame = base.copy()
    frame.insert(4, "open_interest", np.sum(list(oi.values()), axis=0))
    for k, col in oi.items():
        frame[k] = col
    for c in ("volume", "taker_buy", "taker_sell", "taker_net"):
        if c in frame.columns and frame[c].isna().any():
            frame[c] = frame[c].fillna(0.0)
    frame.index.name = "time"
    gaps = MarketData.from_frame(
        frame[["open", "high", "low", "close", "open_interest"]],
        timeframe=step,
        allow_gaps=True,
    ).gaps
    symbols = {v.symbol for v in venues}
    return MarketData(
        frame=frame,
        timeframe=step,
        symbol=venues[0].symbol if len(symbols) == 1 else " + ".join(sorted(symbols)),
        exchange=" + ".join(v.exchange for v in venues),
        gaps=gaps,
        venues=tuple(venues),
        missing=tuple(missing),
    )


def _venue_of(part: MarketData, i: int) -> Venue:
    if not part.exchange or not part.symbol:
        raise MarketDataError(
            f"market {i} has no exchange/symbol; pass venues=[Venue(exchange, symbol), ...]"
        )
    return Venue.of(part.exchange, part.symbol)


def _stretches(key: str, index: pd.DatetimeIndex, holes: np.ndarray) -> list[Stretch]:
    """Runs of True in ``holes`` as :class:`Stretch` es."""
    if not holes.any():
        return []
    edges = np.diff(np.concatenate([[0], holes.astype("int8"), [0]]))
    starts, stops = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [
        Stretch(key, index[a], index[b - 1], int(b - a)) for a, b in zip(starts, stops, strict=True)
    ]
