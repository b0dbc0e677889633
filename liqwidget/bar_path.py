"""Coarse bars walked as a price path, so positions can open along a bar and not only at its open.

An hourly bar says where price opened, how far it went each way and where it closed, but
not where positions entered in between. The model reads a bar as the usual OHLC path — a
green bar goes open → low → high → close, a red one open → high → low → close, at an even
pace along the way — and cuts it into ``steps`` sub-bars (:func:`walk`). It then runs on
the sub-bars, and :func:`to_bars` puts its book back on the bars it was given: a level born
on a sub-bar joins the book after its bar, a level swept inside its own bar is born and
swept in that bar.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from .book import Book
from .market import VENUE_OI, MarketData

#: Flow columns split evenly over a bar's steps; ``funding_rate`` is copied.
_FLOWS = ("volume", "taker_buy", "taker_sell", "taker_net")
#: Column of walked bars: the :func:`candle` of the bar each step came from (a step is one
#: leg of its bar, so its own candle would say nothing about the bar's buyers and sellers).
BAR_CANDLE = "bar_candle"


def candle(market: MarketData) -> np.ndarray:
    """Body over range per bar, from -1 (closed at the low) to 1 (at the high); 0 if flat."""
    o, h, lo, c = (market.column(k) for k in ("open", "high", "low", "close"))
    rng = h - lo
    return np.divide(c - o, rng, out=np.zeros(o.size), where=rng > 0)


def _vertices(market: MarketData) -> tuple[np.ndarray, np.ndarray]:
    """Each bar's path: its four prices ``(bars, 4)`` and where along it (0..1) each lies."""
    o, h, lo, c = (market.column(k) for k in ("open", "high", "low", "close"))
    green = c >= o
    verts = np.stack([o, np.where(green, lo, h), np.where(green, h, lo), c], axis=1)
    run = np.concatenate([np.zeros((o.size, 1)), np.cumsum(np.abs(np.diff(verts)), axis=1)], 1)
    total = run[:, -1:]
    u = np.divide(run, total, out=np.zeros_like(run), where=total > 0)
    u[total[:, 0] == 0] = np.linspace(0.0, 1.0, 4)  # a flat bar: any pace will do
    return verts, u


def path_prices(market: MarketData, steps: int) -> np.ndarray:
    """Price at ``steps + 1`` even points along each bar's path, shape ``(bars, steps + 1)``."""
    return _points(*_vertices(market), steps)


def _points(verts: np.ndarray, u: np.ndarray, steps: int) -> np.ndarray:
    t = np.linspace(0.0, 1.0, steps + 1)
    # Segment of the path each point lies on (0, 1 or 2), then linear inside it.
    seg = np.clip((u[:, None, 1:3] <= t[None, :, None]).sum(axis=2), 0, 2)
    a, b = np.take_along_axis(u, seg, axis=1), np.take_along_axis(u, seg + 1, axis=1)
    pa, pb = np.take_along_axis(verts, seg, axis=1), np.take_along_axis(verts, seg + 1, axis=1)
    frac = np.divide(t[None, :] - a, b - a, out=np.ones_like(a), where=b > a)
    return pa + np.clip(frac, 0.0, 1.0) * (pb - pa)


def walk(market: MarketData, steps: int) -> MarketData:
    """The bars cut into ``steps`` sub-bars each along their OHLC path (see the module doc).

    Each sub-bar's high and low include the path's turning points inside it; open interest
    moves linearly from the previous bar's to the bar's own value; flows are split evenly.
    """
    if steps < 1:
        raise ValueError(f"steps must be a positive whole number, got {steps}")
    if steps == 1:
        return market
    if market.timeframe.value % steps:
        raise ValueError(
            f"{steps} steps do not divide {market.timeframe} bars evenly; "
            "choose a step count that does (e.g. 2, 3, 4, 5, 6 or 12 for hourly bars)"
        )
    n = len(market)
    verts, u = _vertices(market)
    p = _points(verts, u, steps)
    opens, closes = p[:, :-1], p[:, 1:]
    hi, lo = np.maximum(opens, closes), np.minimum(opens, closes)
    # The sub-bar a turning point (the bar's high and low) falls in reaches it.
    rows = np.arange(n)
    for j in (1, 2):
        step = np.clip((u[:, j] * steps).astype("int64"), 0, steps - 1)
        hi[rows, step] = np.maximum(hi[rows, step], verts[:, j])
        lo[rows, step] = np.minimum(lo[rows, step], verts[:, j])
    frame = {"open": opens, "high": hi, "low": lo, "close": closes}
    ramp = np.arange(1, steps + 1) / steps
    oi_cols = ["open_interest"] + [c for c in market.frame.columns if c.startswith(VENUE_OI)]
    for col in oi_cols:
        v = market.column(col)
        prev = np.concatenate([v[:1], v[:-1]])
        frame[col] = prev[:, None] + ramp[None, :] * (v - prev)[:, None]
    for col in _FLOWS:
        if market.has(col):
            frame[col] = np.repeat(market.column(col)[:, None] / steps, steps, axis=1)
    frame[BAR_CANDLE] = np.repeat(candle(market)[:, None], steps, axis=1)
    if market.has("funding_rate"):
        frame["funding_rate"] = np.repeat(market.column("funding_rate")[:, None], steps, axis=1)
    dt = market.timeframe / steps
    times = market.index.asi8[:, None] + (np.arange(steps) * dt.value)[None, :]
    index = pd.DatetimeIndex(times.ravel(), tz="UTC")
    df = pd.DataFrame({k: v.ravel() for k, v in frame.items()}, index=index)
    return dataclasses.replace(market, frame=df, timeframe=dt)


def to_bars(book: Book, steps: int) -> Book:
    """A book built on :func:`walk`'s sub-bars, put back on the original bars.

    States map ``k → ceil(k / steps)``; a level's weight is carried to where it first shows
    on the original bars (its amount after the sub-bars' proportional closes up to then),
    so its amount at every original state is the sub-bar model's. A level swept in a later
    bar is swept with its amount at that bar's start (the sub-bar model's closes inside the
    sweeping bar, before the sweep, are not taken off): per-bar swept totals can be a few
    per cent higher than the sub-bars' summed.
    """
    if steps == 1:
        return book
    birth = -(-book.birth // steps)
    death = -(-book.death // steps)
    weight = book.weight
    if book.log_level is not None:
        ref = np.where(death == birth, np.maximum(book.death - 1, book.birth), birth * steps)
        ref = np.minimum(ref, book.log_level.size - 1)
        weight = weight * np.exp(book.log_level[ref] - book.log_level[book.birth])
    log_level = None if book.log_level is None else book.log_level[::steps].copy()
    return dataclasses.replace(book, weight=weight, birth=birth, death=death, log_level=log_level)
