"""Time × price grids of liquidation notional at display resolution."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from .times import utc


@dataclass(frozen=True, eq=False)
class Heatmap:
    """Long and short liquidation notional on a time × price grid.

    ``long`` and ``short`` have shape ``(height, width)``: rows are price bins from low to
    high (``price_edges``), columns are time bins (``time_edges``), the orientation Bokeh's
    ``image`` glyph expects. Each column shows the book at the end of its time bin.
    """

    time_edges: pd.DatetimeIndex
    price_edges: np.ndarray
    long: np.ndarray
    short: np.ndarray

    @property
    def width(self) -> int:
        return self.long.shape[1]

    @property
    def height(self) -> int:
        return self.long.shape[0]

    @property
    def times(self) -> pd.DatetimeIndex:
        """The moment each column shows (end of its time bin)."""
        return self.time_edges[1:]

    @property
    def prices(self) -> np.ndarray:
        """Price-bin centres."""
        return 0.5 * (self.price_edges[:-1] + self.price_edges[1:])

    @property
    def total(self) -> np.ndarray:
        return self.long + self.short

    def to_frame(self, drop_empty: bool = True) -> pd.DataFrame:
        """Tidy form: one row per (time, price) cell with ``long`` and ``short`` notional."""
        t = np.repeat(self.times.to_numpy()[None, :], self.height, axis=0).ravel()
        p = np.repeat(self.prices[:, None], self.width, axis=1).ravel()
        out = pd.DataFrame(
            {
                "time": pd.DatetimeIndex(t, tz="UTC") if self.times.tz is None else t,
                "price": p,
                "long": self.long.ravel(),
                "short": self.short.ravel(),
            }
        )
        if drop_empty:
            out = out[(out["long"] > 0) | (out["short"] > 0)]
        return out.reset_index(drop=True)


def time_columns(
    bar_times: pd.DatetimeIndex,
    timeframe: pd.Timedelta,
    width: int,
    time_range: tuple | None = None,
) -> tuple[pd.DatetimeIndex, np.ndarray]:
    """Equal time bins over the bars and the book state each one shows.

    Returns the ``width + 1`` time edges and, per column, the book state index (state
    ``t + 1`` is the book after bar ``t``; state 0 the book before the first bar) of the last
    bar that ends inside or at the end of the column.
    """
    if width < 1:
        raise ValueError(f"width must be at least 1, got {width}")
    if len(bar_times) == 0:
        raise ValueError("no bars to draw")
    if time_range is None:
        start, end = bar_times[0], bar_times[-1] + timeframe
    else:
        start, end = (utc(x, "time_range") for x in time_range)
        if not end > start:
            raise ValueError(f"time_range end {end} must be after start {start}")
    edges_ns = np.linspace(start.value, end.value, width + 1).round().astype("int64")
    bar_end = bar_times.asi8 + timeframe.value
    states = np.searchsorted(bar_end, edges_ns[1:], side="right")
    return pd.DatetimeIndex(pd.to_datetime(edges_ns, utc=True)), states


def price_bins(
    low: np.ndarray, high: np.ndarray, height: int, price_range: tuple | None = None
) -> np.ndarray:
    """``height + 1`` equal price edges; by default the traded range plus 15 % each side."""
    if height < 1:
        raise ValueError(f"height must be at least 1, got {height}")
    if price_range is None:
        lo, hi = float(np.min(low)), float(np.max(high))
        pad = 0.15 * max(hi - lo, 0.01 * hi)
        lo, hi = max(lo - pad, 0.0), hi + pad
    else:
        lo, hi = (float(x) for x in price_range)
        if not (np.isfinite(lo) and np.isfinite(hi) and hi > lo >= 0):
            raise ValueError(
                f"price_range must be (low, high) with 0 <= low < high, got {price_range}"
            )
    return np.linspace(lo, hi, height + 1)


def bin_index(prices: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Bin of each price for equally spaced ``edges``, ``-1`` outside them."""
    lo, hi, n = float(edges[0]), float(edges[-1]), edges.size - 1
    scaled = np.asarray(prices, dtype="float64") - lo
    scaled *= n / (hi - lo)
    i = np.floor(scaled, out=scaled).astype("int64")
    i[(i < 0) | (i >= n)] = -1
    return i
