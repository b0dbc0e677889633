"""The result of :meth:`ClusterModel.estimate`: the estimated book and its views."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import numpy as np
import pandas as pd

from .book import CHUNK, alive_sum, amount_at
from .heatmap import Heatmap, book_grid, price_profile
from .market import MarketData
from .sides import SIDES


@dataclass(eq=False)
class Levels:
    """Every level the model opened, as parallel arrays.

    ``side`` is 0 for long, 1 for short; ``tier`` indexes ``leverage``; ``birth`` and
    ``death`` are book states (state ``t + 1`` = after bar ``t``; death ``n + 1`` = still
    open at the end). A level born at state ``k`` can first be swept by bar ``k``.
    """

    price: np.ndarray
    weight: np.ndarray
    side: np.ndarray
    tier: np.ndarray
    birth: np.ndarray
    leverage: np.ndarray
    death: np.ndarray = field(default_factory=lambda: np.empty(0, dtype="int64"))

    _ARRAYS = ("price", "weight", "side", "tier", "birth")

    @classmethod
    def empty(cls, leverage: np.ndarray) -> Levels:
        z = np.empty(0)
        return cls(z, z, z.astype("int8"), z.astype("int16"), z.astype("int64"), leverage)

    @classmethod
    def concat(cls, parts: list[Levels], leverage: np.ndarray) -> Levels:
        arrays = {k: np.concatenate([getattr(p, k) for p in parts]) for k in cls._ARRAYS}
        return cls(**arrays, leverage=leverage)

    def subset(self, mask: np.ndarray) -> Levels:
        arrays = {k: getattr(self, k)[mask] for k in self._ARRAYS}
        death = self.death[mask] if self.death.size else self.death
        return Levels(**arrays, leverage=self.leverage, death=death)

    def opened_bar(self) -> np.ndarray:
        """The bar in which each level opened (seeded levels: bar 0)."""
        return np.maximum(self.birth - 1, 0)

    def __len__(self) -> int:
        return self.price.size

    def side_slices(self) -> tuple[slice, slice]:
        """Where the long and the short levels are: the model writes all longs first."""
        n_long = int(np.searchsorted(self.side, 1))
        if not ((self.side[:n_long] == 0).all() and (self.side[n_long:] == 1).all()):
            raise ValueError("levels must come longs first, then shorts")
        return slice(0, n_long), slice(n_long, len(self))


@dataclass(eq=False)
class ClusterEstimate:
    """Estimated liquidation levels over a market; see :class:`~liqwidget.ClusterModel`."""

    market: MarketData
    params: dict[str, Any]
    raw: Levels
    log_level: np.ndarray

    def __repr__(self) -> str:
        return f"ClusterEstimate({self.market!r}, {len(self.raw):,} levels)"

    # ------------------------------------------------------------------ per-bar flows
    @property
    def n_bars(self) -> int:
        return len(self.market)

    @cached_property
    def _sweeps(self) -> tuple[np.ndarray, np.ndarray]:
        """Per level: the bar that swept it (``n`` if never) and the amount it had then.

        A level swept in the bar it opened in (``death == birth``: entered at the open and
        inside that bar's range) never joins the book and is swept at full weight.
        """
        lv = self.raw
        bar = lv.death - 1
        amount = np.empty(bar.size)
        for a in range(0, bar.size, CHUNK):
            part = slice(a, a + CHUNK)
            state = np.minimum(np.maximum(bar[part], lv.birth[part]), self.n_bars)
            amount[part] = amount_at(lv.weight[part], lv.birth[part], state, self.log_level)
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
        outstanding = alive_sum(lv.birth, lv.death, lv.weight, side, 2, states, self.log_level).T
        swept = self.swept.to_numpy()
        # Sweeps of levels that were in the book before their bar (not opened inside it).
        from_book = self._per_bar(side, 2, self._sweeps[1] * (lv.death > lv.birth)).T
        opened = np.bincount(side * n + lv.opened_bar(), weights=lv.weight, minlength=2 * n)
        opened = opened.reshape(2, n)
        keep = np.exp(np.diff(self.log_level))  # fraction kept by proportional closing
        frame = {}
        for s, name in enumerate(SIDES):
            frame[f"opened_{name}"] = opened[s]
            frame[f"swept_{name}"] = swept[:, s]
            frame[f"closed_{name}"] = (1.0 - keep) * np.maximum(
                outstanding[:-1, s] - from_book[:, s], 0.0
            )
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
        lv = self.raw
        return book_grid(
            self.market, lv.price, lv.side, lv.birth, lv.death, lv.weight,
            width, height, price_range, time_range, self.log_level,
        )  # fmt: skip

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
        lv = self.raw
        state = self.n_bars if t is None else self.state_at(t)
        alive = (lv.birth <= state) & (state < lv.death)
        amount = amount_at(lv.weight[alive], lv.birth[alive], state, self.log_level)
        return price_profile(
            self.market, lv.price[alive], lv.side[alive], lv.tier[alive], lv.leverage,
            amount, bins, price_range,
        )  # fmt: skip

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
