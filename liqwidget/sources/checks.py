"""Checks on one live liquidation, as a whole, before the recorder queues it.

A ccxt liquidation becomes an :class:`Event` only when every part is sane on its own and
together: a known symbol and side; a finite, positive price inside the market's price limits;
a finite, positive amount; a notional (price x amount in base units; for a coin-margined
contract, contracts x the contract's quote value) that is finite and below ``max_notional``; and a time in epoch milliseconds inside a window around now. Otherwise the
check returns the reason, in words, and the event goes to quarantine instead of the store.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from ..feeds import feed_info

#: ccxt reads a field it cannot parse ("abc", "") as nothing; the raw message says what came.
_SEE_RAW = " (ccxt read nothing from it; the raw message is kept)"
#: What a time that is not in milliseconds is, by how far it must be scaled to fit the window.
_UNITS = ((1e3, "seconds"), (1e-3, "microseconds"), (1e-6, "nanoseconds"))


@dataclass(frozen=True)
class Bounds:
    """What a sane live liquidation looks like (the recorder's settings fill it in)."""

    max_notional: float = 1e10  # quote currency; the largest liquidations seen are ~1e8
    max_age_ms: int = 30 * 86_400_000  # older events (backfill included) are refused
    max_ahead_ms: int = 5 * 60_000  # clock skew allowed for events "from the future"


@dataclass(frozen=True)
class Market:
    """The facts of one recorded market that its events are checked against."""

    symbol: str
    contract_size: float = 1.0  # base units (linear) or quote, e.g. 100 USD (inverse)
    min_price: float | None = None
    max_price: float | None = None
    inverse: bool = False  # coin-margined: a contract is worth ``contract_size`` quote

    @classmethod
    def of(cls, market: dict) -> Market:
        """From a ccxt market structure."""
        price = (market.get("limits") or {}).get("price") or {}
        return cls(
            symbol=market["symbol"],
            contract_size=float(market.get("contractSize") or 1.0),
            min_price=_positive(price.get("min")),
            max_price=_positive(price.get("max")),
            inverse=bool(market.get("inverse")),
        )

    def size(self, price: float, contracts: float) -> tuple[float, float]:
        """(amount in base units, notional in quote) of ``contracts`` filled at ``price``."""
        if self.inverse:
            notional = contracts * self.contract_size
            return notional / price, notional
        amount = contracts * self.contract_size
        return amount, price * amount


@dataclass(frozen=True)
class Event:
    """One checked liquidation, ready for the store."""

    exchange: str
    symbol: str
    ts: int  # epoch ms
    side: str  # "long" or "short": the liquidated position
    price: float
    amount: float  # base units
    notional: float  # quote currency
    seq: int = 0  # among identical events of one message: 0, 1, ...

    @property
    def identity(self) -> tuple:
        """What makes two events the same liquidation (``seq`` aside)."""
        return (self.exchange, self.symbol, self.ts, self.side, self.price, self.amount)


def check(ex_id: str, liq: dict, market: Market, now_ms: int, bounds: Bounds) -> Event | str:
    """The checked event of a ccxt liquidation of ``market``, or the reason it is refused."""
    ts, price, contracts = liq.get("timestamp"), liq.get("price"), _filled(liq)
    for name, value in (("price", price), ("amount", contracts)):
        if value is None:
            return f"{name} is missing or unreadable in the message{_SEE_RAW}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"{name} is missing or not a number ({value!r})"
        if not math.isfinite(value) or value <= 0:
            return f"{name} is not a finite positive number ({value!r})"
    price = float(price)
    amount, notional = market.size(price, float(contracts))
    if market.max_price is not None and price > market.max_price:
        return f"price {price:g} is above the market's maximum price {market.max_price:g}"
    if market.min_price is not None and price < market.min_price:
        return f"price {price:g} is below the market's minimum price {market.min_price:g}"
    if not all(math.isfinite(v) and v > 0 for v in (amount, notional)):
        return f"notional {price:g} x {amount:g} is not a finite positive number ({notional!r})"
    if notional > bounds.max_notional:
        return f"notional {notional:.4g} is above the sane maximum {bounds.max_notional:.4g}"
    problem = time_problem(ts, now_ms, bounds)
    if problem:
        return problem
    side = _position_side(ex_id, str(liq.get("side") or "").lower(), liq.get("info"))
    if side is None:
        return f"unknown side {liq.get('side')!r}"
    return Event(ex_id, market.symbol, int(ts), side, price, amount, notional)


def _filled(liq: dict):
    """Contracts the liquidation filled. ccxt reads a Binance ``forceOrder``'s last fill
    (``l``); the whole filled quantity is ``z``, the partner of the average price ``ap``
    that ccxt takes as the price (they differ when the order filled in several parts)."""
    order = liq.get("info")  # ccxt keeps the message's order object ("o") as the info
    if isinstance(order, dict) and isinstance(order.get("o"), dict):
        order = order["o"]  # the whole message
    if isinstance(order, dict) and "ap" in order and "z" in order:
        try:
            filled = float(order.get("z"))
        except (TypeError, ValueError):
            filled = math.nan
        if math.isfinite(filled) and filled > 0:
            return filled
    return liq.get("contracts")


def time_problem(ts, now_ms: int, bounds: Bounds) -> str | None:
    """Why ``ts`` is not an event time in epoch ms near ``now_ms``, or None if it is."""
    if ts is None:
        return f"time is missing or unreadable in the message{_SEE_RAW}"
    if isinstance(ts, bool) or not isinstance(ts, int):
        return f"time is missing or not an integer ({ts!r})"
    lo, hi = now_ms - bounds.max_age_ms, now_ms + bounds.max_ahead_ms
    if lo <= ts <= hi:
        return None
    window = f"{_date(lo)} .. {_date(hi)}"
    for scale, unit in _UNITS:
        if lo <= ts * scale <= hi:
            return f"time {ts} looks like {unit}, not milliseconds (accepted: {window})"
    return f"time {ts} ms ({_date(ts)}) is outside the accepted window {window}"


def _date(ms: int) -> str:
    try:
        return pd.Timestamp(ms, unit="ms", tz="UTC").strftime("%Y-%m-%d %H:%M UTC")
    except (OverflowError, ValueError):
        years = ms / 3.15576e10
        return f"about {years:+.3g} years from 1970"


def _position_side(ex_id: str, side: str, info) -> str | None:
    details = info.get("details") if isinstance(info, dict) else None
    if isinstance(details, list) and details and isinstance(details[0], dict):
        pos = str(details[0].get("posSide", "")).lower()  # OKX says it outright
        if pos in ("long", "short"):
            return pos
    if side not in ("buy", "sell"):
        return None
    return "long" if side == feed_info(ex_id).long_side else "short"


def _positive(value) -> float | None:
    try:
        v = float(value)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) and v > 0 else None
