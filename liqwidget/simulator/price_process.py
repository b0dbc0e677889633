"""The price process: background noise with volatility regimes, an anchor, and forced flow.

Time runs in *steps* (15 s by default), several per bar. At step ``j`` the log price ``x``
moves by

* the trend of the current phase (``drift``; the anchor moves by the same amount),
* a pull ``theta * (anchor - x)`` back towards the anchor,
* background noise ``sigma_j * z_j`` whose ``sigma_j`` follows a hidden regime chain
  (calm / normal / wild) times the phase's volatility scale,
* the impact of the forced orders of the previous step when feedback is on: the net forced
  buying (short liquidations minus long liquidations, quote notional) times
  ``0.01 / depth``. A share ``permanent`` of that impact also moves the anchor, so a cascade
  leaves a lasting move and partly retraces.

Prices are rounded to the tick. All randomness is drawn up front, so the only thing the
step loop adds is the feedback.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..times import utc
from .scenarios import Phase, Scenario


@dataclass(eq=False)
class Clock:
    """The step grid: ``warmup`` steps before the first bar, then ``bars * per_bar`` steps."""

    start: pd.Timestamp
    step: pd.Timedelta
    per_bar: int
    warmup: int
    bars: int

    @property
    def n(self) -> int:
        return self.warmup + self.bars * self.per_bar

    @property
    def per_day(self) -> float:
        return pd.Timedelta("1D") / self.step

    def steps(self, hours: float) -> int:
        return round(pd.Timedelta(hours=hours) / self.step)

    def times(self, j: np.ndarray) -> pd.DatetimeIndex:
        """Start time of global steps ``j`` (step ``warmup`` is the first bar's open)."""
        ns = self.start.value + (np.asarray(j, dtype="int64") - self.warmup) * self.step.value
        return pd.DatetimeIndex(ns.astype("datetime64[ns]")).tz_localize("UTC")

    def bar_of(self, j: np.ndarray) -> np.ndarray:
        """Reported bar of global steps (negative during the warm-up)."""
        return np.floor_divide(np.asarray(j, dtype="int64") - self.warmup, self.per_bar)


def make_clock(sc: Scenario, timeframe: str | pd.Timedelta, step: str | pd.Timedelta) -> Clock:
    tf, st = pd.Timedelta(timeframe), pd.Timedelta(step)
    if st <= pd.Timedelta(0) or tf <= pd.Timedelta(0):
        raise ValueError(f"timeframe and step must be positive, got {tf} and {st}")
    if tf % st:
        raise ValueError(f"timeframe {tf} must be a whole number of simulation steps ({st})")
    bars = int(pd.Timedelta(days=sc.days) // tf)
    if bars < 2:
        raise ValueError(f"days={sc.days} gives fewer than 2 bars of {tf}")
    warmup = round(pd.Timedelta(days=sc.warmup_days) / st)
    start = utc(sc.start, "Scenario.start")
    return Clock(start, st, int(tf // st), warmup, bars)


@dataclass(eq=False)
class Schedule:
    """Per-step inputs that do not depend on the path (all drawn before the loop)."""

    noise: np.ndarray  # background log-return of each step
    anchor_drift: np.ndarray  # log move of the anchor at each step
    long_share: np.ndarray  # share of positions opened at each step that are long
    activity: np.ndarray  # multiplier of the opening rate at each step
    regime: np.ndarray  # index into Scenario.regimes


def phase_arrays(sc: Scenario, clock: Clock) -> dict[str, np.ndarray]:
    """Anchor drift, volatility scale, long share and activity per step from the phases."""
    n = clock.n
    out = {
        "drift": np.zeros(n),
        "vol": np.ones(n),
        "long_share": np.full(n, float(sc.long_share)),
        "activity": np.ones(n),
    }
    phases = list(sc.phases) or [Phase(sc.days * 24)]
    pos = clock.warmup
    for i, ph in enumerate(phases):
        end = n if i == len(phases) - 1 else min(n, pos + clock.steps(ph.hours))
        if end <= pos:
            continue
        if ph.move <= -1:
            raise ValueError(f"phase {i} move {ph.move} would take the price to zero or below")
        out["drift"][pos:end] = math.log1p(ph.move) / max(clock.steps(ph.hours), 1)
        out["vol"][pos:end] = ph.vol
        if ph.long_share is not None:
            out["long_share"][pos:end] = ph.long_share
        out["activity"][pos:end] = ph.activity
        pos = end
    if not ((out["long_share"] >= 0) & (out["long_share"] <= 1)).all():
        raise ValueError("long_share must be within [0, 1] in every phase")
    return out


def regime_path(sc: Scenario, clock: Clock, rng: np.random.Generator) -> np.ndarray:
    """A hidden Markov chain of volatility regimes: exponential stays, uniform hops."""
    k = len(sc.regimes)
    if k == 0:
        raise ValueError("the scenario needs at least one volatility regime")
    mean_steps = np.array([clock.steps(h) for _, h in sc.regimes], dtype="float64")
    # Every stay lasts at least one step, so n stays always cover the run; drawn in one go.
    count = clock.n + 1
    hops = rng.integers(1, max(k, 2), size=count)
    states = (
        np.cumsum(np.concatenate([[min(1, k - 1)], hops[1:]])) % k
        if k > 1
        else np.zeros(count, dtype="int64")
    )
    stay = np.maximum(np.ceil(rng.exponential(1.0, size=count) * mean_steps[states]), 1)
    used = int(np.searchsorted(np.cumsum(stay), clock.n)) + 1  # stays that reach the end
    return np.repeat(states[:used], stay[:used].astype("int64"))[: clock.n]


def make_schedule(sc: Scenario, clock: Clock, rng: np.random.Generator) -> Schedule:
    ph = phase_arrays(sc, clock)
    regime = regime_path(sc, clock, rng)
    mult = np.array([m for m, _ in sc.regimes], dtype="float64")
    sigma = sc.daily_vol / math.sqrt(clock.per_day) * mult[regime] * ph["vol"]
    noise = sigma * rng.standard_normal(clock.n)
    activity = ph["activity"] * np.sqrt(mult[regime])  # busier when volatile
    return Schedule(noise, ph["drift"], ph["long_share"], activity, regime)


@dataclass(eq=False)
class PriceRule:
    """The deterministic part of the step update, shared by the fast engine and the reference."""

    theta: float  # pull towards the anchor per step
    permanent: float
    impact: float  # log move per quote notional of net forced buying (0 without feedback)
    tick: float

    @classmethod
    def from_scenario(cls, sc: Scenario, clock: Clock) -> PriceRule:
        if sc.depth <= 0:
            raise ValueError(f"depth must be positive, got {sc.depth}")
        if sc.tick <= 0 or sc.start_price <= 100 * sc.tick:
            raise ValueError("tick must be positive and far smaller than start_price")
        half = max(clock.steps(sc.reversion_hours), 1)
        impact = 0.01 / sc.depth if sc.feedback else 0.0
        return cls(1.0 - 0.5 ** (1.0 / half), float(sc.permanent), impact, float(sc.tick))

    def next(self, x: float, anchor: float, forced_net: float, noise: float, drift: float):
        """Log price, anchor and price in ticks after one step."""
        imp = self.impact * forced_net
        x = x + self.theta * (anchor - x) + drift + noise + imp
        anchor = anchor + drift + self.permanent * imp
        return x, anchor, round(math.exp(x) / self.tick)
