"""A plain step-by-step simulator, for tests and benchmarks only.

It keeps a flag per position and, at every step, checks every open position against the
price: obviously right, and slow (steps × positions). It shares with the fast engine only
the pre-drawn traders and the price rule, so matching results check the fast book and the
first-passage resolution. Use :func:`liqwidget.simulator` for real work.
"""

from __future__ import annotations

import math

import numpy as np

from .agents import LONG, SHORT, Traders, level_ticks
from .engine import Outcome, Path, out_of_range, price_bounds
from .price_process import PriceRule, Schedule


def run_reference(
    traders: Traders, schedule: Schedule, rule: PriceRule, start_price: float
) -> tuple[Path, Outcome]:
    n = schedule.noise.size
    tick = rule.tick
    start_tick = round(start_price / tick)
    lo, hi = price_bounds(start_tick)
    n_pos = len(traders)
    is_long = traders.side == LONG
    is_short = traders.side == SHORT
    is_open = np.zeros(n_pos, dtype=bool)
    entry = np.zeros(n_pos, dtype="int64")
    level = np.zeros(n_pos, dtype="int64")
    end = np.full(n_pos, n, dtype="int64")
    liquidated = np.zeros(n_pos, dtype=bool)
    price = np.empty(n, dtype="int64")
    forced = np.zeros((n, 2), dtype="int64")
    x = anchor = math.log(start_tick * tick)
    sold = bought = 0
    noise, drift = schedule.noise.tolist(), schedule.anchor_drift.tolist()
    for j in range(n):
        x, anchor, p = rule.next(x, anchor, bought - sold, noise[j], drift[j])
        if not lo < p < hi:
            raise out_of_range(j, p, lo, hi, tick)
        hit_long = is_open & is_long & (level >= p)
        hit_short = is_open & is_short & (level <= p)
        sold = int(traders.notional[hit_long].sum())
        bought = int(traders.notional[hit_short].sum())
        forced[j] = sold, bought
        hit = hit_long | hit_short
        liquidated[hit] = True
        end[hit] = j
        is_open[hit] = False

        closing = is_open & (traders.close_step == j)
        end[closing] = j
        is_open[closing] = False

        opening = traders.open_step == j
        entry[opening] = p
        level[opening] = level_ticks(p, traders.factor[opening], traders.side[opening])
        is_open[opening] = True
        price[j] = p
    return Path(price, entry, level, forced), Outcome(end, liquidated)
