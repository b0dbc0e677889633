"""The result of a simulation: bars, liquidation events, positions and the true book."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from ..book import Book, alive_sum
from ..estimate import ClusterEstimate
from ..heatmap import Heatmap
from ..market import MarketData
from ..sides import SIDES
from ..venues import is_inverse
from .agents import LONG, Traders
from .engine import Outcome, Path
from .price_process import Clock
from .scenarios import Scenario

OUTCOMES = ["liquidated", "closed", "open"]
EXCHANGE = "simulator"


@dataclass(eq=False)
class Simulation:
    """A simulated perpetual-futures market where every position is known.

    Attributes: ``market`` (bars), ``liquidations`` (event frame), ``positions`` (one row
    per position), ``leverage`` (the true leverage mix), ``long_share`` (share of the
    notional opened during the bars that went long), ``path`` (price at every simulation
    step), ``forced`` (long/short liquidation notional per step, as the price loop saw it),
    ``volatility`` (the hidden regime's volatility multiplier at every step) and ``truth``:
    every position open at some point of the bars as a :class:`~liqwidget.book.Book` (price
    = liquidation level, weight = quote notional at entry, ``liquidated`` = how it ended;
    positions open before the first bar have birth 0, still open at the end death
    ``bars + 1``).
    """

    scenario: Scenario
    seed: int
    market: MarketData
    positions: pd.DataFrame
    liquidations: pd.DataFrame
    leverage: dict[float, float]
    long_share: float
    path: pd.Series
    forced: pd.DataFrame
    volatility: pd.Series
    truth: Book = field(repr=False)
    oi_valuation: str = "entry"

    def __repr__(self) -> str:
        return (
            f"Simulation({self.scenario.name!r}, seed={self.seed}, {len(self.market)} bars of "
            f"{self.market.timeframe}, {len(self.positions):,} positions, "
            f"{len(self.liquidations):,} liquidations)"
        )

    # ------------------------------------------------------------------ truth views
    def truth_grid(
        self,
        width: int = 800,
        height: int = 400,
        price_range: tuple[float, float] | None = None,
        time_range: tuple | None = None,
    ) -> Heatmap:
        """True outstanding liquidation notional per price bin and time column.

        Same grid and conventions as :meth:`ClusterEstimate.grid`, so the two can be
        compared cell by cell (notional is the positions' quote notional at entry).
        """
        return self.truth.grid(
            self.market, width=width, height=height, price_range=price_range, time_range=time_range
        )

    def state_at(self, t) -> int:
        """Book state at time ``t``: after the last bar that ended by ``t``."""
        return self.market.state_at(t)

    def truth_levels_at(
        self, t=None, bins: int = 200, price_range: tuple[float, float] | None = None
    ) -> pd.DataFrame:
        """True outstanding notional per price bin at ``t`` (default: the end), by side and tier.

        Shaped like :meth:`ClusterEstimate.levels_at`: rows are price-bin centres, columns a
        ``(side, leverage)`` MultiIndex.
        """
        state = len(self.market) if t is None else self.state_at(t)
        return self.truth.profile_at(self.market, state, bins=bins, price_range=price_range)

    @cached_property
    def book(self) -> pd.DataFrame:
        """True outstanding notional (at entry) after each bar, columns ``long`` and ``short``."""
        states = np.arange(1, len(self.market) + 1)
        out = self.truth.outstanding(self.truth.side.astype("int64"), 2, states)
        return pd.DataFrame(out.T, index=self.market.index, columns=list(SIDES))

    @cached_property
    def liquidated(self) -> pd.DataFrame:
        """Liquidated notional per bar, columns ``long`` and ``short``.

        Counted as in :attr:`liquidations` (quantity times fill price, what an exchange
        feed reports); :attr:`flows` has the same events at entry notional.
        """
        ev, m = self.liquidations, self.market
        bar = (pd.DatetimeIndex(ev["time"]).asi8 - m.index.asi8[0]) // m.timeframe.value
        out = {
            s: np.bincount(bar[ev["side"].to_numpy() == s], ev["notional"][ev["side"] == s], len(m))
            for s in SIDES
        }
        return pd.DataFrame(out, index=m.index)

    @cached_property
    def flows(self) -> pd.DataFrame:
        """True per-bar flows of the book (quote notional at entry), by side.

        Columns ``opened_*``, ``closed_*`` (voluntary), ``liquidated_*`` and
        ``outstanding_*`` (after the bar). Outstanding changes by exactly opened minus
        closed minus liquidated, and the two outstanding columns add up to the open interest.
        """
        tb, n = self.truth, len(self.market)
        out = {}
        ended = tb.death <= n
        for s, name in enumerate(SIDES):
            m = tb.side == s
            born = m & (tb.birth >= 1)
            out[f"opened_{name}"] = np.bincount(tb.birth[born] - 1, tb.weight[born], n)
            for kind, sel in (("closed", ~tb.liquidated), ("liquidated", tb.liquidated)):
                k = m & ended & sel
                out[f"{kind}_{name}"] = np.bincount(tb.death[k] - 1, tb.weight[k], n)
            out[f"outstanding_{name}"] = self.book[name].to_numpy()
        return pd.DataFrame(out, index=self.market.index)

    def truth_estimate(self) -> ClusterEstimate:
        """The true book as a :class:`~liqwidget.ClusterEstimate`: the oracle every score is
        checked against.

        Its levels are the positions' liquidation prices at their entry notional; its
        ``swept`` counts only the positions that were liquidated (the others closed
        normally, and ``book`` counts those as closed). Pass it to
        :func:`~liqwidget.calibrate` or to any score exactly as a model's estimate.
        """
        return ClusterEstimate(market=self.market, params={}, raw=self.truth.longs_first())

    def matched_model(self, **params: Any):
        """A :class:`~liqwidget.ClusterModel` whose assumptions match this market's truth.

        The true leverage tiers (exact, no jitter), the true long share of new positions,
        the same liquidation formula, and a turnover half-life equal to the traders' mean
        holding time times ln 2 (voluntary closes replaced by new positions). ``params``
        override any of them, e.g. ``matched_model(side_split=0.9)``.
        """
        from ..model import ClusterModel

        base = dict(
            leverage=self.leverage,
            side_split=self.long_share,
            formula=self.scenario.formula,
            mmr=self.scenario.mmr,
            leverage_jitter=0.0,
            turnover=pd.Timedelta(hours=float(np.log(2.0)) * self.scenario.hold_hours),
        )
        return ClusterModel(**(base | params))


def build_simulation(
    sc: Scenario,
    seed: int,
    clock: Clock,
    traders: Traders,
    path: Path,
    outcome: Outcome,
    background: np.ndarray,
    oi_valuation: str,
    regime: np.ndarray,
) -> Simulation:
    tick = sc.tick
    n, w, bars, per = clock.n, clock.warmup, clock.bars, clock.per_bar
    keep = outcome.end_step >= w  # open at the first bar or later
    open_step, end = traders.open_step[keep], outcome.end_step[keep]
    side, tier, notional = traders.side[keep], traders.tier[keep], traders.notional[keep]
    entry = path.entry[keep] * tick
    level = path.level[keep] * tick
    liq = outcome.liquidated[keep]
    qty = notional / entry
    ended = end < n
    step_price = path.price * tick
    fill = np.where(ended, step_price[np.minimum(end, n - 1)], np.nan)

    birth = np.maximum(clock.bar_of(open_step) + 1, 0)
    death = clock.bar_of(end) + 1
    lev = traders.leverage
    truth = Book(
        level,
        notional.astype("float64"),
        side,
        tier,
        birth,
        lev,
        death,
        liquidated=liq,
        entry=entry,
    )

    times = clock.start + pd.to_timedelta(np.arange(bars) * clock.step.value * per, unit="ns")
    grid = step_price[w:].reshape(bars, per)
    frame = pd.DataFrame(
        {
            "open": grid[:, 0],
            "high": grid.max(axis=1),
            "low": grid.min(axis=1),
            "close": grid[:, -1],
        },
        index=pd.DatetimeIndex(times, name="time"),
    )
    frame = frame.join(_flows(frame, clock, open_step, end, ended, side, qty, background, sc))
    one_bin, states = np.zeros(birth.size, "int64"), np.arange(1, bars + 1)
    inverse = is_inverse(sc.symbol)
    if oi_valuation == "entry" or inverse:  # an inverse contract is a fixed quote amount
        frame["open_interest"] = truth.outstanding(one_bin, 1, states)[0]
    else:
        alive_qty = alive_sum(birth, death, qty, one_bin, 1, states)[0]
        frame["open_interest"] = alive_qty * frame["close"].to_numpy()
    frame["open_interest"] = frame["open_interest"].clip(lower=0.0)  # float rounding only
    market = MarketData.from_frame(
        frame, timeframe=clock.step * per, symbol=sc.symbol, exchange=EXCHANGE
    )

    end_time = clock.times(np.minimum(end, n - 1)).where(ended)
    outcome_code = np.where(liq, 0, np.where(ended, 1, 2))
    outcome_name = pd.Categorical.from_codes(outcome_code, OUTCOMES)
    positions = pd.DataFrame(
        {
            "open_time": clock.times(open_step),
            "side": pd.Categorical.from_codes(side, list(SIDES)),
            "entry": entry,
            "leverage": lev[tier],
            "notional": notional.astype("float64"),
            "quantity": qty,
            "liq_price": level,
            "close_time": end_time,
            "outcome": outcome_name,
            "exit_price": fill,
        }
    )
    ev = positions.loc[liq, ["close_time", "side", "exit_price", "quantity", "leverage"]]
    liquidations = pd.DataFrame(
        {
            "time": pd.DatetimeIndex(ev["close_time"]),
            "side": ev["side"].to_numpy(dtype=str),
            "price": ev["exit_price"].to_numpy(),
            "notional": (
                positions.loc[liq, "notional"] if inverse else ev["quantity"] * ev["exit_price"]
            ).to_numpy(),
            "leverage": ev["leverage"].to_numpy(),
            "exchange": EXCHANGE,
            "symbol": sc.symbol,
        }
    )
    liquidations = liquidations.sort_values("time", kind="stable").reset_index(drop=True)

    opened = open_step >= w
    total = notional[opened].sum()
    long_share = float(notional[opened & (side == LONG)].sum() / total) if total else 0.5
    path_series = pd.Series(step_price, index=clock.times(np.arange(n)), name="price")
    forced = pd.DataFrame(path.forced, index=path_series.index, columns=list(SIDES)).astype(
        "float64"
    )
    mix = {float(k): float(v) for k, v in zip(lev, traders.weights, strict=True)}
    return Simulation(
        scenario=sc,
        seed=seed,
        market=market,
        positions=positions,
        liquidations=liquidations,
        leverage=mix,
        long_share=long_share,
        path=path_series,
        forced=forced,
        volatility=pd.Series(
            np.array([m for m, _ in sc.regimes])[regime], index=path_series.index, name="regime"
        ),
        truth=truth,
        oi_valuation=oi_valuation,
    )


def _flows(frame, clock, open_step, end, ended, side, qty, background, sc) -> pd.DataFrame:
    """Taker buy/sell volume (base units) per bar: the positions' own trades plus background."""
    bars = len(frame)
    is_long = side == LONG
    o_bar = clock.bar_of(open_step)
    e_bar = clock.bar_of(end)
    in_o = o_bar >= 0
    in_e = ended & (e_bar >= 0) & (e_bar < bars)
    # Opening a long and closing (or liquidating) a short are buys; the rest are sells.
    buy = np.bincount(o_bar[in_o & is_long], qty[in_o & is_long], bars)
    buy += np.bincount(e_bar[in_e & ~is_long], qty[in_e & ~is_long], bars)
    sell = np.bincount(o_bar[in_o & ~is_long], qty[in_o & ~is_long], bars)
    sell += np.bincount(e_bar[in_e & is_long], qty[in_e & is_long], bars)
    ret = np.log(frame["close"].to_numpy() / frame["open"].to_numpy())
    scale = float(np.std(ret)) or 1.0
    share = np.clip(0.5 + 0.25 * np.tanh(ret / scale), 0.05, 0.95)
    extra = sc.background_volume * float(np.mean(buy + sell)) * background
    return pd.DataFrame(
        {
            "volume": buy + sell + extra,
            "taker_buy": buy + extra * share,
            "taker_sell": sell + extra * (1 - share),
        },
        index=frame.index,
    )
