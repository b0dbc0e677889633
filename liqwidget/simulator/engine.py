"""The fast engine: one pass over the steps with a book of liquidation levels per tick.

The loop runs over steps (not positions). Its book holds, per side and per price tick, the
notional of the positions that are open and not yet liquidated with their level at that
tick. Because a long's level always sits below the price it opened at, and every level the
price touches is cleared at once, no long level is ever left at or above the current price
(and no short level at or below it). So when price falls from ``prev`` to ``p`` the long
liquidations of the step are exactly the ticks ``[p, prev)`` of the book: one slice. A
voluntary close subtracts its notional unless its tick was cleared after it opened (the
book remembers when each tick was last cleared). Per step the work is a few numpy calls on
the positions that open or close in it, so the cost grows with steps plus positions, never
with their product.

The loop only needs the book for the feedback (forced orders moving price). Who was
liquidated, and when, is then resolved for every position at once from the finished path
with :class:`~liqwidget.passage.FirstPassage`; the two agree exactly (tested), since
notionals are whole quote units and levels and prices are whole ticks.

Order inside a step: the price moves; levels it reached are liquidated (their forced
orders act on the *next* step's price); scheduled closes of still-open positions happen;
new positions open at the step's price.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..passage import FirstPassage
from .agents import LONG, SHORT, Traders, level_ticks
from .price_process import PriceRule, Schedule

#: The book covers prices from start / RANGE to start * RANGE.
RANGE = 2.5


@dataclass(eq=False)
class Path:
    """What the step loop produced."""

    price: np.ndarray  # int64 ticks, one per step
    entry: np.ndarray  # int64 ticks, one per position
    level: np.ndarray  # int64 ticks, one per position
    forced: np.ndarray  # int64 (steps, 2): long and short liquidation notional per step


@dataclass(eq=False)
class Outcome:
    """How each position ended."""

    end_step: np.ndarray  # step it left the book (n: still open at the end)
    liquidated: np.ndarray  # bool


def price_bounds(start_tick: int) -> tuple[int, int]:
    return int(start_tick / RANGE), int(start_tick * RANGE)


def out_of_range(step: int, tick: int, lo: int, hi: int, scale: float) -> ValueError:
    return ValueError(
        f"the simulated price left the supported range at step {step} "
        f"({tick * scale:,.1f}; range {lo * scale:,.1f}-{hi * scale:,.1f}); "
        "lower the volatility or the phase moves, or raise depth"
    )


def run_steps(traders: Traders, schedule: Schedule, rule: PriceRule, start_price: float) -> Path:
    """Simulate the price path step by step with the feedback of forced orders."""
    n = schedule.noise.size
    tick = rule.tick
    start_tick = round(start_price / tick)
    lo, hi = price_bounds(start_tick)
    nb = hi - lo + 1
    book = np.zeros(2 * nb, dtype="int64")
    cleared = np.full(2 * nb, -1, dtype="int64")  # step each tick was last cleared

    n_pos = len(traders)
    side, factor, notional = traders.side, traders.factor, traders.notional
    open_step = traders.open_step
    cell = np.empty(n_pos, dtype="int64")
    entry = np.empty(n_pos, dtype="int64")
    level = np.empty(n_pos, dtype="int64")
    steps = np.arange(n + 1)
    open_ptr = np.searchsorted(open_step, steps).tolist()
    close_order = np.argsort(traders.close_step, kind="stable")
    close_ptr = np.searchsorted(traders.close_step[close_order], steps).tolist()

    noise, drift = schedule.noise.tolist(), schedule.anchor_drift.tolist()
    price = np.empty(n, dtype="int64")
    forced = np.zeros((n, 2), dtype="int64")
    x = anchor = math.log(start_tick * tick)
    prev, sold, bought = start_tick, 0, 0
    for j in range(n):
        x, anchor, p = rule.next(x, anchor, bought - sold, noise[j], drift[j])
        if not lo < p < hi:
            raise out_of_range(j, p, lo, hi, tick)
        sold = bought = 0
        if p < prev:  # long levels in [p, prev) are reached
            a, b = p - lo, prev - lo
            seg = book[a:b]
            sold = int(seg.sum())
            if sold:
                seg[:] = 0
                cleared[a:b] = j
        elif p > prev:  # short levels in (prev, p] are reached
            a, b = nb + prev + 1 - lo, nb + p + 1 - lo
            seg = book[a:b]
            bought = int(seg.sum())
            if bought:
                seg[:] = 0
                cleared[a:b] = j
        forced[j, 0], forced[j, 1] = sold, bought

        c0, c1 = close_ptr[j], close_ptr[j + 1]
        if c1 > c0:
            idx = close_order[c0:c1]
            c = cell[idx]
            alive = cleared[c] <= open_step[idx]
            np.subtract.at(book, c[alive], notional[idx[alive]])

        o0, o1 = open_ptr[j], open_ptr[j + 1]
        if o1 > o0:
            s = side[o0:o1]
            lv = level_ticks(p, factor[o0:o1], s)
            level[o0:o1] = lv
            entry[o0:o1] = p
            c = s.astype("int64") * nb + np.minimum(np.maximum(lv - lo, 0), nb - 1)
            cell[o0:o1] = c
            np.add.at(book, c, notional[o0:o1])
        price[j] = p
        prev = p
    return Path(price, entry, level, forced)


def resolve(traders: Traders, path: Path) -> Outcome:
    """First step at which each position's level is reached, and whether that beat its close."""
    n = path.price.size
    first = np.empty(len(traders), dtype="int64")
    start = traders.open_step + 1
    lvl = path.level.astype("float64")
    prices = path.price.astype("float64")
    for s, kind in ((LONG, "below"), (SHORT, "above")):
        m = traders.side == s
        first[m] = FirstPassage(prices, kind).find(start[m], lvl[m])
    liquidated = (first < n) & (first <= traders.close_step)
    end = np.where(liquidated, first, np.minimum(traders.close_step, n))
    return Outcome(end, liquidated)
