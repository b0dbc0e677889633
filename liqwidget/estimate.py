"""The result of :meth:`ClusterModel.estimate`: the estimated book and its views."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .book import CHUNK, Book
from .heatmap import Heatmap
from .market import MarketData
from .sides import SIDES


@dataclass(eq=False)
class ClusterEstimate:
    """A book of liquidation levels over a market and its views (grids, flows, levels).

    Made by :class:`~liqwidget.ClusterModel` (``raw`` then shrinks proportionally,
    ``raw.log_level``, and every death is a sweep) or from a simulation's true book by
    :meth:`~liqwidget.Simulation.truth_estimate` (positions also close normally:
    ``raw.liquidated`` says which deaths were liquidations), so both are scored alike.
    """

    market: MarketData
    params: dict[str, Any]
    raw: Book

    def __repr__(self) -> str:
        return f"ClusterEstimate({self.market!r}, {len(self.raw):,} levels)"

    # ------------------------------------------------------------------ per-bar flows
    @property
    def log_level(self) -> np.ndarray | None:
        """The book's cumulative log shrink factor per state (``None``: no shrinking)."""
        return self.raw.log_level

    @property
    def n_bars(self) -> int:
        return len(self.market)

    @cached_property
    def _sweeps(self) -> tuple[np.ndarray, np.ndarray]:
        """Per level: the bar that swept it (``n`` if never) and the amount it had then.

        A level swept in the bar it opened in (``death == birth``: entered at the open and
        inside that bar's range) never joins the book and is swept at full weight. Levels
        that left the book by an ordinary close (``raw.liquidated`` false) count as never
        swept.
        """
        bar, amount = self._deaths
        if self.raw.liquidated is not None:
            bar = np.where(self.raw.liquidated, bar, self.n_bars)
        return bar, amount

    @cached_property
    def _deaths(self) -> tuple[np.ndarray, np.ndarray]:
        """Per level: the bar it left the book in (``n`` if never) and its amount then."""
        lv = self.raw
        bar = np.minimum(lv.death - 1, self.n_bars)
        amount = np.empty(bar.size)
        for a in range(0, bar.size, CHUNK):
            part = slice(a, a + CHUNK)
            state = np.minimum(np.maximum(bar[part], lv.birth[part]), self.n_bars)
            amount[part] = lv.amount_at(state, part)
        return bar, amount

    def _per_bar(self, key: np.ndarray, groups: int, amount: np.ndarray) -> np.ndarray:
        """Sum ``amount`` per (group, bar of sweep) -> ``(groups, n)``; unswept levels drop out."""
        width = self.n_bars + 1
        bar, _ = self._sweeps
        flat = np.bincount(key * width + bar, weights=amount, minlength=groups * width)
        return flat.reshape(groups, width)[:, : self.n_bars]

    @cached_property
    def swept(self) -> pd.DataFrame:
        """Estimated liquidation notional consumed in each bar, columns ``long`` and ``short``."""
        bar, amount = self._sweeps
        n = self.n_bars
        per = np.stack(  # one plain bincount per side (levels come longs first)
            [
                np.bincount(bar[p], weights=amount[p], minlength=n + 1)[:n]
                for p in self.raw.side_slices()
            ],
            1,
        )
        return pd.DataFrame(per, index=self.market.index, columns=list(SIDES))

    @cached_property
    def swept_by_tier(self) -> pd.DataFrame:
        """Swept notional per bar split by side and leverage tier."""
        lv = self.raw
        n_t = lv.leverage.size
        key = lv.side.astype("int64") * n_t + lv.tier
        per = self._per_bar(key, 2 * n_t, self._sweeps[1])
        cols = pd.MultiIndex.from_product([SIDES, lv.leverage], names=["side", "leverage"])
        return pd.DataFrame(per.T, index=self.market.index, columns=cols)

    @cached_property
    def book(self) -> pd.DataFrame:
        """Per bar and side: notional opened, swept, closed, and outstanding after the bar.

        Bar 0's ``opened`` includes the seeded book. At every bar, cumulative opened equals
        outstanding plus cumulative swept plus cumulative closed (to rounding).
        """
        lv, n = self.raw, self.n_bars
        states = np.arange(n + 1)
        side = lv.side.astype("int64")
        outstanding = lv.outstanding(side, 2, states).T
        swept = self.swept.to_numpy()
        closed = np.zeros((n, 2))
        if lv.log_level is not None:
            # Sweeps of levels that were in the book before their bar (not opened inside it).
            from_book = self._per_bar(side, 2, self._sweeps[1] * (lv.death > lv.birth)).T
            keep = np.exp(np.diff(lv.log_level))  # fraction kept by proportional closing
            closed += (1.0 - keep)[:, None] * np.maximum(outstanding[:-1] - from_book, 0.0)
        if lv.liquidated is not None:  # levels that closed normally, whole
            bar, amount = self._deaths
            closes = np.bincount(
                side * (n + 1) + bar, weights=amount * ~lv.liquidated, minlength=2 * (n + 1)
            )
            closed += closes.reshape(2, n + 1)[:, :n].T
        opened = np.bincount(side * n + lv.opened_bar(), weights=lv.weight, minlength=2 * n)
        opened = opened.reshape(2, n)
        frame = {}
        for s, name in enumerate(SIDES):
            frame[f"opened_{name}"] = opened[s]
            frame[f"swept_{name}"] = swept[:, s]
            frame[f"closed_{name}"] = closed[:, s]
            frame[f"outstanding_{name}"] = outstanding[1:, s]
        return pd.DataFrame(frame, index=self.market.index)

    def to_frame(self) -> pd.DataFrame:
        """The per-bar book (see :attr:`book`) joined with the bars."""
        return self.market.frame.join(self.book)

    # ------------------------------------------------------------------ grids and maps
    def grid(
        self,
        width: int = 800,
        height: int = 400,
        price_range: tuple[float, float] | None = None,
        time_range: tuple | None = None,
    ) -> Heatmap:
        """Outstanding long and short notional on a ``height × width`` price × time grid.

        Each column shows the book at the end of its time bin; levels outside
        ``price_range`` (default: traded range plus a margin) are not drawn.
        """
        return self.raw.grid(
            self.market, width=width, height=height, price_range=price_range, time_range=time_range
        )

    def state_at(self, t) -> int:
        """Book state shown at time ``t``: after the last bar that ended by ``t``."""
        return self.market.state_at(t)

    def levels_at(
        self, t=None, bins: int = 200, price_range: tuple[float, float] | None = None
    ) -> pd.DataFrame:
        """Outstanding notional per price bin at time ``t`` (default: the end), by side and tier.

        Rows are price-bin centres; columns a ``(side, leverage)`` MultiIndex — the
        cumulative "liquidation map" bars.
        """
        state = self.n_bars if t is None else self.state_at(t)
        return self.raw.profile_at(self.market, state, bins=bins, price_range=price_range)

    def price_at(self, t=None) -> float:
        """Close of the last bar shown at time ``t`` (default: the last bar)."""
        state = self.n_bars if t is None else self.state_at(t)
        return float(self.market.column("close")[max(state, 1) - 1])

    def top_clusters(self, t=None, n: int = 3, bin_width: float = 0.0025) -> pd.DataFrame:
        """The ``n`` densest long and short price bands at time ``t`` (default: the end).

        Bands are ``bin_width`` (a fraction of price) wide. Columns: ``side``, ``price``
        (band centre), ``distance`` (fraction of the current price, negative below),
        ``notional``.
        """
        price = self.price_at(t)
        lo, hi = price * 0.5, price * 1.5
        bins = max(round((hi - lo) / (price * bin_width)), 1)
        at = self.levels_at(t, bins=bins, price_range=(lo, hi))
        rows = []
        for side in ("long", "short"):
            total = at[side].sum(axis=1)
            for p, v in total[total > 0].nlargest(n).items():
                rows.append({"side": side, "price": p, "distance": p / price - 1, "notional": v})
        return pd.DataFrame(rows, columns=["side", "price", "distance", "notional"])

    @cached_property
    def levels(self) -> pd.DataFrame:
        """Tidy: one row per level — created, price, side, leverage, notional, consumed."""
        lv, idx, n = self.raw, self.market.index, self.n_bars
        created = lv.opened_bar()
        consumed = pd.Series(pd.NaT, index=range(len(lv)), dtype=idx.dtype)
        hit = lv.death <= n
        consumed[hit] = idx[lv.death[hit] - 1]
        return pd.DataFrame(
            {
                "created": idx[created],
                "seeded": lv.birth == 0,
                "price": lv.price,
                "side": np.array(SIDES)[lv.side],
                "leverage": lv.leverage[lv.tier],
                "notional": lv.weight,
                "consumed": consumed.to_numpy(),
            }
        )
