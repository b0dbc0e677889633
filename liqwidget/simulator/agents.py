"""Traders: who opens which position when, with what leverage, and when they would close.

Everything about a position that does not depend on the price path is drawn up front:
the step it opens at (Poisson arrivals, busier in volatile regimes), its side (long with the
schedule's ``long_share``), its leverage tier (drawn from the scenario's mix), its quote
notional (log-normal, whole units of quote currency so that sums are exact), and the step at
which it would close voluntarily (exponential holding time). The entry price is the market
price at the opening step, known only once the path is simulated; the liquidation level is
``entry * factor`` with a factor from :func:`liqwidget.margin.liquidation_price`
(for a fixed quote notional the exchange formulas scale with the entry price), rounded to
the tick away from the entry (down for longs, up for shorts).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..leverage import normalise_mix
from ..margin import Brackets, liquidation_price
from ..venues import is_inverse
from .price_process import Clock, Schedule
from .scenarios import Scenario

LONG, SHORT = 0, 1


@dataclass(eq=False)
class Traders:
    """Path-independent draws, one entry per position, sorted by opening step."""

    open_step: np.ndarray  # int64
    side: np.ndarray  # int8: 0 long, 1 short
    tier: np.ndarray  # int16 index into ``leverage``
    leverage: np.ndarray  # the tiers (float)
    weights: np.ndarray  # the true mix (sums to 1)
    notional: np.ndarray  # int64 quote notional at entry
    factor: np.ndarray  # liquidation level / entry price
    close_step: np.ndarray  # int64 step of the voluntary close (may lie past the end)

    def __len__(self) -> int:
        return self.open_step.size


def draw_traders(
    sc: Scenario,
    clock: Clock,
    schedule: Schedule,
    rng: np.random.Generator,
    brackets: Brackets | None = None,
) -> Traders:
    lev, weights = normalise_mix(sc.leverage)
    if sc.opens_per_minute < 0 or sc.median_notional < 1 or sc.hold_hours <= 0:
        raise ValueError("opens_per_minute >= 0, median_notional >= 1 and hold_hours > 0 needed")
    rate = sc.opens_per_minute * (clock.step / pd.Timedelta("1min")) * schedule.activity
    counts = rng.poisson(rate)
    open_step = np.repeat(np.arange(clock.n, dtype="int64"), counts)
    n = open_step.size
    side = (rng.random(n) >= schedule.long_share[open_step]).astype("int8")
    tier = rng.choice(lev.size, size=n, p=weights).astype("int16")
    size = sc.median_notional * np.exp(sc.notional_sigma * rng.standard_normal(n))
    notional = np.maximum(np.rint(size), 1.0).astype("int64")
    hold = np.maximum(np.ceil(rng.exponential(clock.steps(sc.hold_hours), size=n)), 1.0)
    close_step = open_step + hold.astype("int64")
    factor = level_factor(
        lev[tier],
        side,
        notional,
        sc.formula,
        sc.mmr,
        brackets,
        is_inverse(sc.symbol),
        sc.start_price,
    )
    return Traders(open_step, side, tier, lev, weights, notional, factor, close_step)


def level_factor(
    leverage: np.ndarray,
    side: np.ndarray,
    notional: np.ndarray,
    formula: str,
    mmr: float,
    brackets: Brackets | None,
    inverse: bool = False,
    price: float = 1.0,
) -> np.ndarray:
    """Liquidation level as a multiple of the entry price, per position.

    Inverse (coin-margined) positions use the inverse formulas; their bracket size is the
    position in coin at ``price`` (a typical entry)."""
    sign = np.where(side == LONG, 1.0, -1.0)
    # At an entry of 1 the quantity equals the quote notional, so bracket lookups and
    # maintenance amounts see the position's real size; the level then scales with entry.
    qty = notional.astype("float64") if brackets is not None else None
    if qty is not None and inverse:
        qty = qty / price
    f = liquidation_price(
        1.0, leverage, sign, formula, mmr=mmr, quantity=qty, brackets=brackets, inverse=inverse
    )
    wrong = np.where(side == LONG, f >= 1.0, f <= 1.0) | ~np.isfinite(f) | (f <= 0)
    if wrong.any():
        i = int(np.flatnonzero(wrong)[0])
        raise ValueError(
            f"leverage {leverage[i]:g} gives a liquidation level on the wrong side of entry "
            f"(factor {f[i]:.4f}) with formula {formula!r}, mmr {mmr}; lower mmr or drop the tier"
        )
    return f


def level_ticks(price_tick: int, factor: np.ndarray, side: np.ndarray) -> np.ndarray:
    """Liquidation levels in ticks for positions opened at ``price_tick``."""
    raw = price_tick * factor
    return np.where(side == LONG, np.floor(raw), np.ceil(raw)).astype("int64")
